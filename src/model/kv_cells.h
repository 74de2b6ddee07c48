/* Cell bookkeeping of the shared KV cache (kv_cells.c). */
#ifndef LC_KV_CELLS_H
#define LC_KV_CELLS_H

#include <stdbool.h>
#include <stdint.h>

#include "model/context.h"

/* Every cell free. */
void lc_kv_cells_clear(lc_kv_cache *kv);
/* next[s] = the position sequence s continues at (its last + 1, 0 when
 * empty) for s < n_seq_max. */
void lc_kv_next_positions(const llamac_context *ctx, int32_t *next);
/* n free cells into cells[]: the first contiguous run of n if there is
 * one, else the first n free cells. false if fewer than n are free. */
bool lc_kv_find_cells(const lc_kv_cache *kv, int32_t n, int32_t *cells);
/* The cells sequence seq sees, in position order, into cells[] (n_ctx
 * entries; keys: n_ctx scratch). Returns their count. */
int32_t lc_kv_seq_cells(const lc_kv_cache *kv, llamac_seq_id seq, int32_t *cells, int64_t *keys);

#endif
