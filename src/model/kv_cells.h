/* Cell bookkeeping of the shared KV cache (kv_cells.c). */
#ifndef LC_KV_CELLS_H
#define LC_KV_CELLS_H

#include <stdbool.h>
#include <stdint.h>

#include "model/context.h"

/* Every cell free, every sequence empty. */
void lc_kv_cells_clear(lc_kv_cache *kv, int32_t n_seq_max);
/* The position sequence seq continues at: its last + 1, 0 when empty. */
int32_t lc_kv_next_position(const lc_kv_cache *kv, llamac_seq_id seq);
/* n free cells into cells[]: the first contiguous run of n if there is
 * one, else the first n free cells. false if fewer than n are free. */
bool lc_kv_find_cells(const lc_kv_cache *kv, int32_t n, int32_t *cells);
/* Gives free cell `cell` to a token at `pos` of sequences seqs[0..n_seqs),
 * appended to their lists: pos must follow each one's last position. */
void lc_kv_cell_assign(lc_kv_cache *kv, int32_t cell, int32_t pos, const llamac_seq_id *seqs, int32_t n_seqs);
/* The cells sequence seq sees, in position order (*n of them). */
const int32_t *lc_kv_seq_cells(const lc_kv_cache *kv, llamac_seq_id seq, int32_t *n);

#endif
