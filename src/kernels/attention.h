/* Causal multi-head attention over the KV cache, fused: scores, an online
 * softmax (running max and sum, the accumulator rescaled when the max
 * grows) and the weighted sum of V in one pass over the cache, so no buffer
 * of context length exists.
 *
 * Query heads that share a KV head (GQA, g = h / (n_head/n_head_kv)) are
 * processed together: each cached K and V row is read and widened once per
 * token per KV head, not once per query head.
 *
 * Decode work is split into items of one token and a range of KV heads,
 * which the pool's threads claim one at a time: the KV heads are spread
 * evenly over the threads (so at most n_head_kv threads work on one
 * token). With two or more tokens (prefill) the SIMD path uses tiles of
 * several tokens and one head unit instead (below), claimed longest (latest
 * tokens) first; the scalar path keeps one item per token. Each query head
 * is computed by one thread with a fixed order of operations, so the output
 * does not depend on the thread count.
 *
 * In a cache shared by several sequences a token reads its sequence's
 * cells through a list in position order (lc_attn_args.cells); the kernels
 * are the same, with row t of the walk at cells[t] instead of t, and a
 * prefill tile spans one run of tokens that read the same list. */
#ifndef LC_ATTENTION_H
#define LC_ATTENTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/compute.h"

/* Largest head dimension handled (the per-item accumulators live on the stack). */
#define LC_ATTN_HEAD_DIM_MAX 1024
/* Query heads processed together per pass over the cache; larger GQA groups
 * are split into sub-groups of this many (each re-reads the K/V rows). */
#define LC_ATTN_SUBGROUP_MAX 8

typedef struct lc_attn_args {
    const float *q;          /* [n_tokens][n_head * head_dim], RoPE already applied */
    const uint8_t *k;        /* this layer's K cache: row t at k + t*row_size */
    const uint8_t *v;        /* this layer's V cache */
    size_t row_size;         /* bytes per cached row (n_head_kv*head_dim elements of kv_type) */
    int kv_type;             /* LC_TYPE_F32, LC_TYPE_F16 or LC_TYPE_Q8_0 (row quantized in blocks of 32 along the row) */
    int n_head, n_head_kv, head_dim;
    uint32_t pos0;           /* without cells: token i attends to cache rows 0..pos0+i */
    int32_t n_tokens;
    float *out;              /* [n_tokens][n_head * head_dim] */
    /* A cache shared by several sequences (model/context.h): which rows each
     * token attends to. cells NULL: rows 0..pos0+i, as above (one sequence
     * whose cell index is its position). Otherwise token i attends to
     * n_seen[i] >= 1 rows, cells[i][0..n_seen[i]) in position order (the
     * causal limit is the count), or rows 0..n_seen[i]-1 when cells[i] is
     * NULL (the contiguous case). Tokens that share a list should be
     * consecutive: a prefill tile covers one run of tokens with the same list. */
    const int32_t *const *cells;
    const int32_t *n_seen;
} lc_attn_args;

/* How many cache rows token t attends to. */
static inline int64_t lc_attn_n_seen(const lc_attn_args *a, int32_t t) {
    return a->cells ? a->n_seen[t] : (int64_t)a->pos0 + t + 1;
}

/* The cell list token t reads (NULL: rows 0, 1, 2, ...). */
static inline const int32_t *lc_attn_cells(const lc_attn_args *a, int32_t t) {
    return a->cells ? a->cells[t] : NULL;
}

/* Byte offset of the j-th row of a cell list in a cache of row_size rows. */
static inline size_t lc_attn_row(const int32_t *cells, int64_t j, size_t row_size) {
    return (size_t)(cells ? cells[j] : j) * row_size;
}

/* Whether lc_attention handles this shape and cache type: F32/F16/Q8_0,
 * 1 <= head_dim <= LC_ATTN_HEAD_DIM_MAX, n_head a multiple of n_head_kv,
 * and for Q8_0 a row length (n_head_kv*head_dim) that is a multiple of 32.
 * For anything else lc_attention writes NaN to out. */
bool lc_attention_supports(int kv_type, int n_head, int n_head_kv, int head_dim);

/* Causal softmax(q.k * 1/sqrt(head_dim)) . v for every token and query head.
 * Uses the compute context's instruction set (LLAMAC_ISA=scalar forces the
 * portable path) and thread pool; allocates nothing. */
void lc_attention(lc_compute *c, const lc_attn_args *a);
/* The scalar reference, single-threaded, for tests: one (token, query head)
 * at a time, the plain definition with an online softmax. */
void lc_attention_ref(const lc_attn_args *a);

/* ---- internal: work items and the per-ISA item kernels (attention.c,
 * attention_avx2.c).
 *
 * A head unit is up to LC_ATTN_SUBGROUP_MAX query heads that share a KV
 * head (a whole GQA group, or a slice of a larger one). Units are numbered
 * KV head by KV head, so a run of consecutive units covers a contiguous
 * segment of every cached row. An item is one token and a run of units:
 * the kernel walks the cache once, reading that segment of each row in
 * order (sequential memory, one TLB entry per page), and serves every unit
 * of the run from it. */

/* Floats of per-item stack storage for scaled queries, and again for the
 * accumulators: bounds (units in a run) x (padded heads per unit) x head_dim. */
#define LC_ATTN_ITEM_FLOATS (LC_ATTN_SUBGROUP_MAX * LC_ATTN_HEAD_DIM_MAX)
/* Most units one item handles. */
#define LC_ATTN_UNITS_MAX 32

typedef struct lc_attn_unit {
    int kv_head;
    int h0;        /* first query head */
    int n_heads;   /* 1..LC_ATTN_SUBGROUP_MAX */
} lc_attn_unit;

/* Units per KV head: the group split into near-equal slices of at most
 * LC_ATTN_SUBGROUP_MAX heads. */
static inline int lc_attn_units_per_kv_head(const lc_attn_args *a) {
    const int group = a->n_head / a->n_head_kv;
    return (group + LC_ATTN_SUBGROUP_MAX - 1) / LC_ATTN_SUBGROUP_MAX;
}

static inline lc_attn_unit lc_attn_unit_at(const lc_attn_args *a, int unit) {
    const int group = a->n_head / a->n_head_kv, n_sub = lc_attn_units_per_kv_head(a);
    const int g = unit / n_sub, s = unit % n_sub;
    const int first = group * s / n_sub, last = group * (s + 1) / n_sub;
    lc_attn_unit u = {g, g * group + first, last - first};
    return u;
}

/* The most heads any unit of this shape has, rounded up to 1, 2, 4 or 8
 * (the SIMD kernels' widths; smaller units are padded with zero queries). */
static inline int lc_attn_unit_width(const lc_attn_args *a) {
    const int group = a->n_head / a->n_head_kv, n_sub = lc_attn_units_per_kv_head(a);
    const int most = (group + n_sub - 1) / n_sub;
    return most <= 1 ? 1 : most <= 2 ? 2 : most <= 4 ? 4 : 8;
}

typedef struct lc_attn_item {
    int32_t token;
    int unit0;
    int n_units;   /* 1..LC_ATTN_UNITS_MAX, and n_units*width*head_dim <= LC_ATTN_ITEM_FLOATS */
} lc_attn_item;

void lc_attention_item_scalar(const lc_attn_args *a, const lc_attn_item *it);
#if defined(__x86_64__)
/* Needs head_dim % 8 == 0 (attention.c checks). */
void lc_attention_item_avx2(const lc_attn_args *a, const lc_attn_item *it);
#endif

/* Prefill tiles. With several query tokens, each cached row is shared by
 * every token as well as every head of a group: a tile is a run of
 * consecutive tokens and one head unit, at most LC_ATTN_TILE_ROWS query
 * rows (tokens x heads) in all. Its kernel converts a block of K and V rows
 * to floats once for all those rows and computes the block as two small
 * matrix products (scores = Q K^T, then P V) with register-blocked
 * accumulators; the causal limit of each row masks the diagonal block. */
#define LC_ATTN_TILE_ROWS 32
/* Largest head dimension of the tile kernel (its blocks live on the stack). */
#define LC_ATTN_TILE_DIM_MAX 256

typedef struct lc_attn_tile {
    int32_t token0;  /* first token */
    int n_tokens;    /* 1..LC_ATTN_TILE_ROWS / unit width, all reading one cell list */
    int unit;
} lc_attn_tile;

/* Most runs of tokens with one cell list that lc_attention tiles; a call
 * with more runs (tokens of many sequences interleaved) uses items. */
#define LC_ATTN_RUNS_MAX 128

/* Tokens per tile: as many as fill LC_ATTN_TILE_ROWS rows at this shape's
 * unit width. */
static inline int lc_attn_tile_tokens(const lc_attn_args *a) {
    return LC_ATTN_TILE_ROWS / lc_attn_unit_width(a);
}

#if defined(__x86_64__)
/* Needs head_dim % 8 == 0 and <= LC_ATTN_TILE_DIM_MAX (attention.c checks). */
void lc_attention_tile_avx2(const lc_attn_args *a, const lc_attn_tile *tile);
#endif

#endif
