/* The cells of the KV cache shared by the sequences of a context
 * (model/context.h): which cells are free, which sequences see each one,
 * and the public sequence operations. Only tags change here; K/V data is
 * written by the forward pass. */
#include <stdlib.h>

#include "model/context.h"
#include "model/kv_cells.h"

static bool seq_valid(const llamac_context *ctx, llamac_seq_id seq) {
    return seq >= 0 && seq < ctx->n_seq_max;
}

/* [p0, p1) with the API's open ends. */
static bool in_range(int32_t pos, int32_t p0, int32_t p1) {
    return pos >= (p0 < 0 ? 0 : p0) && (p1 < 0 || pos < p1);
}

static void cell_untag(lc_kv_cache *kv, uint32_t c, uint64_t mask) {
    if (!(kv->seqs[c] & mask)) return;
    kv->seqs[c] &= ~mask;
    if (kv->seqs[c] == 0) {
        kv->pos[c] = -1;
        kv->n_used--;
    }
}

void lc_kv_cells_clear(lc_kv_cache *kv) {
    for (uint32_t c = 0; c < kv->n_ctx; c++) {
        kv->pos[c] = -1;
        kv->seqs[c] = 0;
    }
    kv->n_used = 0;
}

void lc_kv_next_positions(const llamac_context *ctx, int32_t *next) {
    const lc_kv_cache *kv = &ctx->kv;
    for (int32_t s = 0; s < ctx->n_seq_max; s++) next[s] = 0;
    for (uint32_t c = 0; c < kv->n_ctx; c++)
        for (uint64_t m = kv->seqs[c]; m; m &= m - 1) {
            const int s = __builtin_ctzll(m);
            if (kv->pos[c] + 1 > next[s]) next[s] = kv->pos[c] + 1;
        }
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

static int compare_keys(const void *a, const void *b) {
    const int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

int32_t lc_kv_seq_cells(const lc_kv_cache *kv, llamac_seq_id seq, int32_t *cells, int64_t *keys) {
    const uint64_t bit = (uint64_t)1 << seq;
    int32_t n = 0;
    bool ordered = true;
    for (uint32_t c = 0; c < kv->n_ctx; c++) {
        if (!(kv->seqs[c] & bit)) continue;
        if (n > 0 && kv->pos[cells[n - 1]] > kv->pos[c]) ordered = false;
        cells[n++] = (int32_t)c;
    }
    if (ordered) return n;
    /* cells reused after removals: order by position (unique in a sequence) */
    for (int32_t i = 0; i < n; i++) keys[i] = (int64_t)kv->pos[cells[i]] << 32 | (uint32_t)cells[i];
    qsort(keys, (size_t)n, sizeof *keys, compare_keys);
    for (int32_t i = 0; i < n; i++) cells[i] = (int32_t)(keys[i] & 0xffffffff);
    return n;
}

/* ------------------------------------------------------------ public ops */

bool llamac_seq_rm(llamac_context *ctx, llamac_seq_id seq, int32_t p0, int32_t p1) {
    if (seq != -1 && !seq_valid(ctx, seq)) return false;
    lc_kv_cache *kv = &ctx->kv;
    const uint64_t mask = seq == -1 ? ~(uint64_t)0 : (uint64_t)1 << seq;
    for (uint32_t c = 0; c < kv->n_ctx; c++)
        if (kv->seqs[c] && in_range(kv->pos[c], p0, p1)) cell_untag(kv, c, mask);
    return true;
}

bool llamac_seq_cp(llamac_context *ctx, llamac_seq_id src, llamac_seq_id dst, int32_t p0, int32_t p1) {
    if (!seq_valid(ctx, src) || !seq_valid(ctx, dst)) return false;
    if (src == dst) return true;
    llamac_seq_rm(ctx, dst, p0, p1);
    lc_kv_cache *kv = &ctx->kv;
    const uint64_t src_bit = (uint64_t)1 << src, dst_bit = (uint64_t)1 << dst;
    for (uint32_t c = 0; c < kv->n_ctx; c++)
        if ((kv->seqs[c] & src_bit) && in_range(kv->pos[c], p0, p1)) kv->seqs[c] |= dst_bit;
    return true;
}

void llamac_seq_keep(llamac_context *ctx, llamac_seq_id seq) {
    if (!seq_valid(ctx, seq)) return;
    lc_kv_cache *kv = &ctx->kv;
    for (uint32_t c = 0; c < kv->n_ctx; c++)
        if (kv->seqs[c]) cell_untag(kv, c, ~((uint64_t)1 << seq));
}

static int32_t seq_pos_extreme(const llamac_context *ctx, llamac_seq_id seq, bool want_max) {
    if (!seq_valid(ctx, seq)) return -1;
    const lc_kv_cache *kv = &ctx->kv;
    const uint64_t bit = (uint64_t)1 << seq;
    int32_t best = -1;
    for (uint32_t c = 0; c < kv->n_ctx; c++) {
        if (!(kv->seqs[c] & bit)) continue;
        if (best < 0 || (want_max ? kv->pos[c] > best : kv->pos[c] < best)) best = kv->pos[c];
    }
    return best;
}

int32_t llamac_seq_pos_min(const llamac_context *ctx, llamac_seq_id seq) { return seq_pos_extreme(ctx, seq, false); }
int32_t llamac_seq_pos_max(const llamac_context *ctx, llamac_seq_id seq) { return seq_pos_extreme(ctx, seq, true); }
uint32_t llamac_kv_cells_used(const llamac_context *ctx) { return ctx->kv.n_used; }
int32_t llamac_n_seq_max(const llamac_context *ctx) { return ctx->n_seq_max; }

uint32_t llamac_n_past(const llamac_context *ctx) { return (uint32_t)(llamac_seq_pos_max(ctx, 0) + 1); }

void llamac_kv_truncate(llamac_context *ctx, uint32_t n_keep) {
    llamac_seq_rm(ctx, 0, n_keep > INT32_MAX ? INT32_MAX : (int32_t)n_keep, -1);
}
