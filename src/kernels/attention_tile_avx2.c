/* The AVX2 + FMA + F16C prefill attention kernel: one tile (attention.h),
 * a run of consecutive query tokens times the query heads of one head unit,
 * all reading the same KV head.
 *
 * The per-token kernel (attention_avx2.c) reloads and re-widens every
 * cached row for each token and streams its scores and outputs through
 * memory for every position; at prefill that makes attention several times
 * slower per multiply-add than it has to be. Here the cache is walked in
 * blocks of TILE_BLOCK positions, and for each block:
 *   1. the unit's segments of the K and V rows are widened to floats once,
 *      into kb and vb, for all of the tile's rows (up to 32);
 *   2. scores S = Q K^T, three query rows by four positions at a time:
 *      twelve independent accumulators along the head dimension, 7 loads
 *      per 12 FMAs, reduced by horizontal-add networks;
 *   3. per row: the causal mask (only where the block crosses the row's own
 *      position), the block max, the running max and sum, and S turned into
 *      weights exp(S - max) in place;
 *   4. O = O * shrink + P V, three rows by 32 output elements at a time:
 *      the accumulators stay in registers across the whole block, each V
 *      load serves the three rows, each broadcast weight four vectors.
 * K and V blocks are prefetched one block ahead: their rows lie a whole
 * cache row apart, a stride the hardware prefetchers follow poorly.
 * The order of operations per output depends only on the tile, so results
 * do not depend on the thread count. */
#if defined(__x86_64__)

#include <immintrin.h>
#include <math.h>

#include "kernels/attention.h"
#include "kernels/attention_avx2.h"

#define TILE_BLOCK 32
#define TILE_ROWS LC_ATTN_TILE_ROWS
#define TILE_DIM_MAX LC_ATTN_TILE_DIM_MAX

typedef struct tile_state {
    int D;
    const int32_t *cells;          /* the rows the tile's tokens read (NULL: 0, 1, 2, ...) */
    int rows;                      /* query rows: tokens x heads */
    int64_t limit[TILE_ROWS];      /* last entry of the cell list each row attends */
    float max[TILE_ROWS], sum[TILE_ROWS], shrink[TILE_ROWS];
    float *qs;                     /* [rows][D] queries times 1/sqrt(D) */
    float *acc;                    /* [rows][D] unnormalised outputs */
    float *kb, *vb;                /* [TILE_BLOCK][D] this block's K and V segments */
    float *s;                      /* [rows][TILE_BLOCK] scores, then weights */
} tile_state;

/* ------------------------------------------------------------ widening */

/* Rows t0..t0+nb of a cell list of one cache, elements [e0, e0+D), as
 * floats in dst; rows nb..n_padded are zero (their scores are masked). */
LC_INLINE void widen_block(int type, const uint8_t *cache, const int32_t *cells, size_t row_size, int64_t e0,
                           int D, int64_t t0, int nb, int n_padded, float *dst) {
    for (int j = 0; j < nb; j++) {
        const uint8_t *row = cache + lc_attn_row(cells, t0 + j, row_size);
        float *out = dst + (int64_t)j * D;
        for (int i = 0; i < D; i += 8)
            _mm256_store_ps(out + i, load8(type, row, e0 + i, step_scale(type, row, e0 + i)));
    }
    for (int j = nb; j < n_padded; j++)
        for (int i = 0; i < D; i += 8) _mm256_store_ps(dst + (int64_t)j * D + i, _mm256_setzero_ps());
}

/* Asks for rows t0..t0+nb of both caches, the bytes of elements
 * [e0, e0+D) (the cache's bytes per element taken as row_size / row_elems,
 * exact for F32/F16, within a block for Q8_0), ahead of their use: the
 * rows are a row_size stride apart, and the block being computed meanwhile
 * hides their latency. */
static void prefetch_block(const lc_attn_args *a, const int32_t *cells, int64_t e0, int64_t t0, int nb) {
    const int64_t row_elems = (int64_t)a->n_head_kv * a->head_dim;
    const size_t begin = (size_t)(e0 * (int64_t)a->row_size / row_elems);
    const size_t end = (size_t)(((e0 + a->head_dim) * (int64_t)a->row_size + row_elems - 1) / row_elems);
    for (int j = 0; j < nb; j++) {
        const size_t row = lc_attn_row(cells, t0 + j, a->row_size);
        for (size_t b = begin & ~(size_t)63; b < end; b += 64) {
            _mm_prefetch((const char *)(a->k + row + b), _MM_HINT_T0);
            _mm_prefetch((const char *)(a->v + row + b), _MM_HINT_T0);
        }
    }
}

/* -------------------------------------------------------------- scores */

/* s[r+m][c..c+4) for m < R (1..3): R rows of Q times K rows c..c+4.
 * Twelve independent accumulators at R = 3 (FMA latency x throughput needs
 * at least eight), 7 loads per 12 FMAs. */
LC_INLINE void scores_Rx4(const tile_state *st, int R, int r, int c) {
    const int D = st->D;
    const float *q = st->qs + (int64_t)r * D;
    const float *k = st->kb + (int64_t)c * D;
    __m256 acc[12];
    LC_UNROLL
    for (int j = 0; j < 4 * R; j++) acc[j] = _mm256_setzero_ps();
    for (int i = 0; i < D; i += 8) {
        __m256 qm[3];
        LC_UNROLL
        for (int m = 0; m < R; m++) qm[m] = _mm256_load_ps(q + m * D + i);
        LC_UNROLL
        for (int j = 0; j < 4; j++) {
            __m256 kj = _mm256_load_ps(k + j * D + i);
            LC_KEEP_IN_REGISTER(kj);
            LC_UNROLL
            for (int m = 0; m < R; m++) acc[4 * m + j] = _mm256_fmadd_ps(qm[m], kj, acc[4 * m + j]);
        }
    }
    float *s = st->s + (int64_t)r * TILE_BLOCK + c;
    if (R == 1) {
        _mm_storeu_ps(s, _mm256_castps256_ps128(sum_lanes(acc, 4)));
        return;
    }
    const __m256 sums = sum_lanes(acc, 8); /* lanes: row r c..c+3, row r+1 c..c+3 */
    _mm_storeu_ps(s, _mm256_castps256_ps128(sums));
    _mm_storeu_ps(s + TILE_BLOCK, _mm256_extractf128_ps(sums, 1));
    if (R == 3) _mm_storeu_ps(s + 2 * TILE_BLOCK, _mm256_castps256_ps128(sum_lanes(acc + 8, 4)));
}

/* ------------------------------------------------------------- softmax */

/* Row r's scores for positions t0..t0+n8 (n8 a multiple of 8) become
 * weights under the updated running max; positions past the row's causal
 * limit get weight 0. Sets shrink[r], the factor for the row's accumulator. */
static void row_softmax(tile_state *st, int r, int64_t t0, int n8) {
    float *s = st->s + (int64_t)r * TILE_BLOCK;
    const int64_t limit = st->limit[r];
    if (t0 + n8 - 1 > limit) {
        /* positions are below 2^31: the context length is an int32 */
        const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        const __m256i last = _mm256_set1_epi32((int32_t)(limit - t0));
        for (int j = 0; j < n8; j += 8) {
            const __m256i past = _mm256_cmpgt_epi32(_mm256_add_epi32(lanes, _mm256_set1_epi32(j)), last);
            const __m256 v = _mm256_load_ps(s + j);
            _mm256_store_ps(s + j, _mm256_blendv_ps(v, _mm256_set1_ps(-INFINITY), _mm256_castsi256_ps(past)));
        }
    }
    __m256 m = _mm256_load_ps(s);
    for (int j = 8; j < n8; j += 8) m = _mm256_max_ps(m, _mm256_load_ps(s + j));
    const float block_max = lc_hmax_ps(m);
    const float old_max = st->max[r];
    const float new_max = block_max > old_max ? block_max : old_max;
    /* block 0 always holds position 0, so new_max is finite from there on */
    const float shrink = new_max == old_max ? 1.0f : expf(old_max - new_max);
    const __m256 max8 = _mm256_set1_ps(new_max);
    __m256 total = _mm256_setzero_ps();
    for (int j = 0; j < n8; j += 8) {
        const __m256 p = exp_nonpositive(_mm256_sub_ps(_mm256_load_ps(s + j), max8));
        _mm256_store_ps(s + j, p);
        total = _mm256_add_ps(total, p);
    }
    st->max[r] = new_max;
    st->sum[r] = st->sum[r] * shrink + lc_hsum_ps(total);
    st->shrink[r] = shrink;
}

/* -------------------------------------------------------------- values */

/* Rows r..r+R (R 1..3) of acc, elements [i, i+8*NV) (NV 1 or 4): rescaled
 * by the rows' shrink factors, then the block's nb V rows added with the
 * rows' weights. At R = 3, NV = 4: twelve accumulators in registers for the
 * whole block, 7 loads per 12 FMAs. */
LC_INLINE void values_RxN(const tile_state *st, int R, int NV, int r, int i, int nb) {
    const int D = st->D;
    __m256 o[3][4];
    LC_UNROLL
    for (int m = 0; m < R; m++) {
        const __m256 f = _mm256_set1_ps(st->shrink[r + m]);
        LC_UNROLL
        for (int j = 0; j < NV; j++) o[m][j] = _mm256_mul_ps(_mm256_load_ps(st->acc + (int64_t)(r + m) * D + i + 8 * j), f);
    }
    const float *w = st->s + (int64_t)r * TILE_BLOCK;
    const float *v = st->vb + i;
    for (int t = 0; t < nb; t++, v += D) {
        __m256 p[3];
        LC_UNROLL
        for (int m = 0; m < R; m++) p[m] = _mm256_broadcast_ss(w + m * TILE_BLOCK + t);
        LC_UNROLL
        for (int j = 0; j < NV; j++) {
            __m256 vj = _mm256_load_ps(v + 8 * j);
            LC_KEEP_IN_REGISTER(vj);
            LC_UNROLL
            for (int m = 0; m < R; m++) o[m][j] = _mm256_fmadd_ps(p[m], vj, o[m][j]);
        }
    }
    LC_UNROLL
    for (int m = 0; m < R; m++)
        LC_UNROLL
        for (int j = 0; j < NV; j++) _mm256_store_ps(st->acc + (int64_t)(r + m) * D + i + 8 * j, o[m][j]);
}

/* Every row of the tile, three at a time, against the block: R is a
 * constant in each call so the kernels' loops unroll. */
LC_INLINE void block_scores(const tile_state *st, int n8) {
    int r = 0;
    for (; r + 3 <= st->rows; r += 3)
        for (int c = 0; c < n8; c += 4) scores_Rx4(st, 3, r, c);
    if (st->rows - r == 2)
        for (int c = 0; c < n8; c += 4) scores_Rx4(st, 2, r, c);
    else if (st->rows - r == 1)
        for (int c = 0; c < n8; c += 4) scores_Rx4(st, 1, r, c);
}

LC_INLINE void rows_values(const tile_state *st, int R, int r, int nb) {
    int i = 0;
    for (; i + 32 <= st->D; i += 32) values_RxN(st, R, 4, r, i, nb);
    for (; i < st->D; i += 8) values_RxN(st, R, 1, r, i, nb);
}

LC_INLINE void block_values(const tile_state *st, int nb) {
    int r = 0;
    for (; r + 3 <= st->rows; r += 3) rows_values(st, 3, r, nb);
    if (st->rows - r == 2) rows_values(st, 2, r, nb);
    else if (st->rows - r == 1) rows_values(st, 1, r, nb);
}

/* ---------------------------------------------------------------- tile */

/* Positions [t0, t0+nb) for every row of the tile; the next block's rows,
 * up to n_pos, are prefetched first. */
static void tile_block(tile_state *st, int type, const lc_attn_args *a, int64_t e0, int64_t t0, int nb,
                       int64_t n_pos) {
    const int D = st->D, n8 = (nb + 7) & ~7;
    widen_block(type, a->k, st->cells, a->row_size, e0, D, t0, nb, n8, st->kb);
    widen_block(type, a->v, st->cells, a->row_size, e0, D, t0, nb, nb, st->vb);
    const int64_t next = t0 + nb;
    if (next < n_pos) prefetch_block(a, st->cells, e0, next, n_pos - next < TILE_BLOCK ? (int)(n_pos - next) : TILE_BLOCK);
    block_scores(st, n8);
    for (int r = 0; r < st->rows; r++) row_softmax(st, r, t0, n8);
    block_values(st, nb);
}

/* Where tile row r (token-in-tile * n_heads + head) starts in q and out. */
LC_INLINE int64_t row_offset(const lc_attn_args *a, const lc_attn_tile *tile, const lc_attn_unit *unit, int r) {
    const int64_t token = tile->token0 + r / unit->n_heads;
    return (token * a->n_head + unit->h0 + r % unit->n_heads) * a->head_dim;
}

LC_INLINE void run_tile(int type, const lc_attn_args *a, const lc_attn_tile *tile) {
    const int D = a->head_dim;
    const lc_attn_unit unit = lc_attn_unit_at(a, tile->unit);
    const float scale = 1.0f / sqrtf((float)D);
    _Alignas(32) float qs[TILE_ROWS * TILE_DIM_MAX];
    _Alignas(32) float acc[TILE_ROWS * TILE_DIM_MAX];
    _Alignas(32) float kb[TILE_BLOCK * TILE_DIM_MAX];
    _Alignas(32) float vb[TILE_BLOCK * TILE_DIM_MAX];
    _Alignas(32) float s[TILE_ROWS * TILE_BLOCK];
    tile_state st = {.D = D, .cells = lc_attn_cells(a, tile->token0), .qs = qs, .acc = acc, .kb = kb, .vb = vb, .s = s};

    st.rows = tile->n_tokens * unit.n_heads;
    for (int r = 0; r < st.rows; r++) {
        const float *q = a->q + row_offset(a, tile, &unit, r);
        for (int i = 0; i < D; i++) {
            qs[(int64_t)r * D + i] = q[i] * scale;
            acc[(int64_t)r * D + i] = 0.0f;
        }
        st.limit[r] = lc_attn_n_seen(a, tile->token0 + r / unit.n_heads) - 1;
        st.max[r] = -INFINITY;
        st.sum[r] = 0.0f;
    }

    const int64_t e0 = (int64_t)unit.kv_head * D;
    int64_t n_pos = 0; /* the longest row's count */
    for (int r = 0; r < st.rows; r++)
        if (st.limit[r] + 1 > n_pos) n_pos = st.limit[r] + 1;
    for (int64_t t0 = 0; t0 < n_pos; t0 += TILE_BLOCK)
        tile_block(&st, type, a, e0, t0, n_pos - t0 < TILE_BLOCK ? (int)(n_pos - t0) : TILE_BLOCK, n_pos);

    for (int r = 0; r < st.rows; r++) {
        float *out = a->out + row_offset(a, tile, &unit, r);
        const __m256 inv = _mm256_set1_ps(1.0f / st.sum[r]);
        for (int i = 0; i < D; i += 8)
            _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_load_ps(acc + (int64_t)r * D + i), inv));
    }
}

static void tile_f32(const lc_attn_args *a, const lc_attn_tile *t) { run_tile(LC_TYPE_F32, a, t); }
static void tile_f16(const lc_attn_args *a, const lc_attn_tile *t) { run_tile(LC_TYPE_F16, a, t); }
static void tile_q8_0(const lc_attn_args *a, const lc_attn_tile *t) { run_tile(LC_TYPE_Q8_0, a, t); }

void lc_attention_tile_avx2(const lc_attn_args *a, const lc_attn_tile *tile) {
    if (a->kv_type == LC_TYPE_F32) tile_f32(a, tile);
    else if (a->kv_type == LC_TYPE_F16) tile_f16(a, tile);
    else tile_q8_0(a, tile);
}

#endif
