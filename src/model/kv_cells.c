/* The cells of the KV cache shared by the sequences of a context
 * (model/context.h): which cells are free, which sequences see each one,
 * each sequence's list of cells in position order, and the public
 * sequence operations. Only tags and lists change here; K/V data is
 * written by the forward pass.
 *
 * A sequence's list stays sorted without ever sorting: new tokens of a
 * sequence come after its last position (llamac_decode_batch checks), so
 * they are appended; removals keep the order; a copy of [p0, p1) lands
 * between the destination's cells before p0 and after p1. */
#include <string.h>

#include "model/context.h"
#include "model/kv_cells.h"

static bool seq_valid(const llamac_context *ctx, llamac_seq_id seq) {
    return seq >= 0 && seq < ctx->n_seq_max;
}

/* [p0, p1) with the API's open ends. */
static bool in_range(int32_t pos, int32_t p0, int32_t p1) {
    return pos >= (p0 < 0 ? 0 : p0) && (p1 < 0 || pos < p1);
}

static int32_t *seq_list(const lc_kv_cache *kv, llamac_seq_id seq) {
    return kv->seq_cells + (size_t)seq * kv->n_ctx;
}

/* Takes sequence seq off cell c; a cell no sequence sees becomes free. */
static void cell_untag(lc_kv_cache *kv, int32_t c, llamac_seq_id seq) {
    kv->seqs[c] &= ~((uint64_t)1 << seq);
    if (kv->seqs[c] == 0) {
        kv->pos[c] = -1;
        kv->n_used--;
    }
}

void lc_kv_cells_clear(lc_kv_cache *kv, int32_t n_seq_max) {
    for (uint32_t c = 0; c < kv->n_ctx; c++) {
        kv->pos[c] = -1;
        kv->seqs[c] = 0;
    }
    for (int32_t s = 0; s < n_seq_max; s++) kv->seq_len[s] = 0;
    kv->n_used = 0;
}

int32_t lc_kv_next_position(const lc_kv_cache *kv, llamac_seq_id seq) {
    const int32_t n = kv->seq_len[seq];
    return n > 0 ? kv->pos[seq_list(kv, seq)[n - 1]] + 1 : 0;
}

bool lc_kv_find_cells(const lc_kv_cache *kv, int32_t n, int32_t *cells) {
    if ((int64_t)kv->n_ctx - kv->n_used < n) return false;
    /* first fit of a contiguous run keeps one sequence's cells in position
     * order (cell = position from an empty cache) */
    int32_t run = 0;
    for (uint32_t c = 0; c < kv->n_ctx; c++) {
        run = kv->seqs[c] ? 0 : run + 1;
        if (run == n) {
            for (int32_t i = 0; i < n; i++) cells[i] = (int32_t)c - n + 1 + i;
            return true;
        }
    }
    int32_t k = 0;
    for (uint32_t c = 0; c < kv->n_ctx && k < n; c++)
        if (!kv->seqs[c]) cells[k++] = (int32_t)c;
    return k == n;
}

void lc_kv_cell_assign(lc_kv_cache *kv, int32_t cell, int32_t pos, const llamac_seq_id *seqs, int32_t n_seqs) {
    kv->pos[cell] = pos;
    kv->seqs[cell] = 0;
    for (int32_t k = 0; k < n_seqs; k++) {
        kv->seqs[cell] |= (uint64_t)1 << seqs[k];
        seq_list(kv, seqs[k])[kv->seq_len[seqs[k]]++] = cell;
    }
    kv->n_used++;
}

const int32_t *lc_kv_seq_cells(const lc_kv_cache *kv, llamac_seq_id seq, int32_t *n) {
    *n = kv->seq_len[seq];
    return seq_list(kv, seq);
}

/* Removes [p0, p1) from one sequence: its list keeps the other cells, in order. */
static void seq_remove(lc_kv_cache *kv, llamac_seq_id seq, int32_t p0, int32_t p1) {
    int32_t *list = seq_list(kv, seq);
    int32_t kept = 0;
    for (int32_t i = 0; i < kv->seq_len[seq]; i++) {
        const int32_t c = list[i];
        if (in_range(kv->pos[c], p0, p1)) cell_untag(kv, c, seq);
        else list[kept++] = c;
    }
    kv->seq_len[seq] = kept;
}

/* ------------------------------------------------------------ public ops */

bool llamac_seq_rm(llamac_context *ctx, llamac_seq_id seq, int32_t p0, int32_t p1) {
    if (seq != -1 && !seq_valid(ctx, seq)) return false;
    for (llamac_seq_id s = seq == -1 ? 0 : seq; s <= (seq == -1 ? ctx->n_seq_max - 1 : seq); s++)
        seq_remove(&ctx->kv, s, p0, p1);
    return true;
}

bool llamac_seq_cp(llamac_context *ctx, llamac_seq_id src, llamac_seq_id dst, int32_t p0, int32_t p1) {
    if (!seq_valid(ctx, src) || !seq_valid(ctx, dst)) return false;
    if (src == dst) return true;
    lc_kv_cache *kv = &ctx->kv;
    seq_remove(kv, dst, p0, p1);
    /* dst's cells before p0, src's cells in [p0, p1), dst's cells from p1 */
    int32_t *merged = kv->merge_scratch, n = 0;
    const int32_t *d = seq_list(kv, dst), *s = seq_list(kv, src);
    int32_t di = 0;
    while (di < kv->seq_len[dst] && kv->pos[d[di]] < (p0 < 0 ? 0 : p0)) merged[n++] = d[di++];
    for (int32_t i = 0; i < kv->seq_len[src]; i++)
        if (in_range(kv->pos[s[i]], p0, p1)) {
            kv->seqs[s[i]] |= (uint64_t)1 << dst;
            merged[n++] = s[i];
        }
    while (di < kv->seq_len[dst]) merged[n++] = d[di++];
    memcpy(seq_list(kv, dst), merged, (size_t)n * sizeof *merged);
    kv->seq_len[dst] = n;
    return true;
}

void llamac_seq_keep(llamac_context *ctx, llamac_seq_id seq) {
    if (!seq_valid(ctx, seq)) return;
    for (llamac_seq_id s = 0; s < ctx->n_seq_max; s++)
        if (s != seq) seq_remove(&ctx->kv, s, -1, -1);
}

int32_t llamac_seq_pos_min(const llamac_context *ctx, llamac_seq_id seq) {
    if (!seq_valid(ctx, seq) || ctx->kv.seq_len[seq] == 0) return -1;
    return ctx->kv.pos[seq_list(&ctx->kv, seq)[0]];
}

int32_t llamac_seq_pos_max(const llamac_context *ctx, llamac_seq_id seq) {
    if (!seq_valid(ctx, seq)) return -1;
    return lc_kv_next_position(&ctx->kv, seq) - 1;
}

uint32_t llamac_kv_cells_used(const llamac_context *ctx) { return ctx->kv.n_used; }
int32_t llamac_n_seq_max(const llamac_context *ctx) { return ctx->n_seq_max; }

uint32_t llamac_n_past(const llamac_context *ctx) { return (uint32_t)(llamac_seq_pos_max(ctx, 0) + 1); }

void llamac_kv_truncate(llamac_context *ctx, uint32_t n_keep) {
    llamac_seq_rm(ctx, 0, n_keep > INT32_MAX ? INT32_MAX : (int32_t)n_keep, -1);
}
