/* The AVX2 + FMA + F16C attention item kernel (compiled with those flags
 * only; attention.c calls it when the compute context's ISA allows).
 *
 * An item is a token and a run of head units (attention.h), each unit up
 * to 8 query heads sharing a KV head. The cache is walked in blocks of
 * ATTN_BLOCK positions:
 *   1. scores: each unit's segment of a K row is loaded once (8 elements at
 *      a time, widened in registers from F16 or Q8_0) and multiplied into
 *      one accumulator per head; the per-head sums land in the lanes of one
 *      vector (lane = head);
 *   2. softmax: the block's max per head, the rescale factor of the running
 *      sum and accumulator, and the probabilities, all with lanes = heads
 *      and a vector exp, so the accumulator is rescaled once per block, not
 *      once per position;
 *   3. V: rows taken four at a time, each widened chunk serving every head.
 * Rows are visited in order and each row's segments unit after unit, so
 * the cache streams through memory sequentially.
 * Item kernels are specialised per cache type and per number of heads
 * (1, 2, 4, 8; 3, 5-7 run with zero-query padding heads) so that the
 * accumulators stay in registers. */
#if defined(__x86_64__)

#include <immintrin.h>
#include <math.h>

#include "kernels/attention.h"
#include "kernels/attention_avx2.h"

#define ATTN_BLOCK 32
#define ATTN_LANES 8

/* --------------------------------------------------------- block steps */

/* One head unit inside an item. */
typedef struct unit_state {
    int64_t e0;             /* first element of its KV head in a row */
    const float *qs;        /* [G][D] queries times 1/sqrt(D), zero for padding heads */
    float *acc;             /* [G][D] unnormalised outputs */
    float *p;               /* [ATTN_BLOCK][ATTN_LANES] this block's scores, then weights */
    __m256 max, sum;        /* running max and sum, lane = head */
} unit_state;

typedef struct item_state {
    const uint8_t *k, *v;   /* cache rows of this layer */
    const int32_t *cells;   /* the rows the token reads, in order (NULL: 0, 1, 2, ...) */
    size_t row_size;
    int D;
    int n_units;
    unit_state *units;
} item_state;

/* acc[h] += q_h[i..i+8) * K row[i..i+8) for every head of the unit. */
LC_INLINE void score_chunk(int type, int G, int D, const unit_state *u, const uint8_t *krow, int i,
                           __m256 d, __m256 *acc) {
    const __m256 k8 = load8(type, krow, u->e0 + i, d);
    LC_UNROLL
    for (int h = 0; h < G; h++) acc[h] = _mm256_fmadd_ps(_mm256_loadu_ps(u->qs + h * D + i), k8, acc[h]);
}

/* Row t's score for every head of the unit, into lanes of u->p[t]. Chunks
 * alternate between two sets of accumulators (when there are few heads)
 * so that enough independent FMA chains are in flight. */
LC_INLINE void unit_scores(int type, int G, int D, const unit_state *u, const uint8_t *krow, int t) {
    const int two_sets = G <= 4, step = row_step(type, D);
    __m256 acc[ATTN_LANES], acc2[ATTN_LANES];
    LC_UNROLL
    for (int h = 0; h < G; h++) acc[h] = acc2[h] = _mm256_setzero_ps();
    for (int i = 0; i < D; i += step) {
        const __m256 d = step_scale(type, krow, u->e0 + i);
        LC_UNROLL
        for (int c = 0; c < step; c += 8)
            score_chunk(type, G, D, u, krow, i + c, d, two_sets && (c & 8) ? acc2 : acc);
    }
    if (two_sets) {
        LC_UNROLL
        for (int h = 0; h < G; h++) acc[h] = _mm256_add_ps(acc[h], acc2[h]);
    }
    _mm256_store_ps(u->p + t * ATTN_LANES, sum_lanes(acc, G));
}

/* Multiplies head h's accumulator by lane h of factor, unless all are 1
 * (the usual case once the running max has settled). */
LC_INLINE void rescale(int G, int D, const unit_state *u, __m256 factor) {
    if (_mm256_movemask_ps(_mm256_cmp_ps(factor, _mm256_set1_ps(1.0f), _CMP_NEQ_UQ)) == 0) return;
    float f[ATTN_LANES];
    _mm256_storeu_ps(f, factor);
    LC_UNROLL
    for (int h = 0; h < G; h++) {
        const __m256 fh = _mm256_set1_ps(f[h]);
        float *a = u->acc + h * D;
        for (int i = 0; i < D; i += 8) _mm256_storeu_ps(a + i, _mm256_mul_ps(_mm256_loadu_ps(a + i), fh));
    }
}

/* The block's scores become weights exp(s - max) under the updated
 * running max; the running sum and the accumulator follow the max. */
LC_INLINE void unit_softmax(int G, int D, unit_state *u, int nb) {
    __m256 block_max = _mm256_load_ps(u->p);
    for (int t = 1; t < nb; t++) block_max = _mm256_max_ps(block_max, _mm256_load_ps(u->p + t * ATTN_LANES));
    const __m256 new_max = _mm256_max_ps(u->max, block_max);
    const __m256 shrink = exp_nonpositive(_mm256_sub_ps(u->max, new_max));
    u->max = new_max;
    rescale(G, D, u, shrink);
    __m256 block_sum = _mm256_setzero_ps();
    for (int t = 0; t < nb; t++) {
        float *pt = u->p + t * ATTN_LANES;
        const __m256 p = exp_nonpositive(_mm256_sub_ps(_mm256_load_ps(pt), new_max));
        _mm256_store_ps(pt, p);
        block_sum = _mm256_add_ps(block_sum, p);
    }
    u->sum = _mm256_fmadd_ps(u->sum, shrink, block_sum);
}

/* acc_h += sum over NR rows of p[t][h] * V row, for rows[0..NR) = block
 * positions t..t+NR. */
LC_INLINE void unit_values(int type, int G, int NR, int D, const unit_state *u, const uint8_t *const *rows,
                           int t) {
    const float *p = u->p + t * ATTN_LANES;
    const int step = row_step(type, D);
    for (int i = 0; i < D; i += step) {
        __m256 d[4];
        LC_UNROLL
        for (int j = 0; j < NR; j++) d[j] = step_scale(type, rows[j], u->e0 + i);
        LC_UNROLL
        for (int c = i; c < i + step; c += 8) {
            __m256 v8[4];
            LC_UNROLL
            for (int j = 0; j < NR; j++) v8[j] = load8(type, rows[j], u->e0 + c, d[j]);
            LC_UNROLL
            for (int h = 0; h < G; h++) {
                float *a = u->acc + h * D + c;
                __m256 sum = _mm256_loadu_ps(a);
                LC_UNROLL
                for (int j = 0; j < NR; j++)
                    sum = _mm256_fmadd_ps(_mm256_broadcast_ss(p + j * ATTN_LANES + h), v8[j], sum);
                _mm256_storeu_ps(a, sum);
            }
        }
    }
}

/* Positions [t0, t0+nb): every K row once (each unit reads its segment,
 * in row order), the softmax update, then the V rows four at a time. */
LC_INLINE void item_block(int type, int G, const item_state *st, int64_t t0, int nb) {
    const int D = st->D;
    for (int t = 0; t < nb; t++) {
        const uint8_t *krow = st->k + lc_attn_row(st->cells, t0 + t, st->row_size);
        for (int j = 0; j < st->n_units; j++) unit_scores(type, G, D, &st->units[j], krow, t);
    }
    for (int j = 0; j < st->n_units; j++) unit_softmax(G, D, &st->units[j], nb);
    int t = 0;
    for (; t + 4 <= nb; t += 4) {
        const uint8_t *rows[4];
        for (int r = 0; r < 4; r++) rows[r] = st->v + lc_attn_row(st->cells, t0 + t + r, st->row_size);
        for (int j = 0; j < st->n_units; j++) unit_values(type, G, 4, D, &st->units[j], rows, t);
    }
    for (; t < nb; t++) {
        const uint8_t *row = st->v + lc_attn_row(st->cells, t0 + t, st->row_size);
        for (int j = 0; j < st->n_units; j++) unit_values(type, G, 1, D, &st->units[j], &row, t);
    }
}

/* --------------------------------------------------------------- items */

LC_INLINE void run_item(int type, int G, const lc_attn_args *a, const lc_attn_item *it) {
    const int D = a->head_dim, H = a->n_head;
    const int64_t n_pos = lc_attn_n_seen(a, it->token);
    const float scale = 1.0f / sqrtf((float)D);
    _Alignas(32) float qs[LC_ATTN_ITEM_FLOATS];
    _Alignas(32) float acc[LC_ATTN_ITEM_FLOATS];
    _Alignas(32) float weights[LC_ATTN_UNITS_MAX * ATTN_BLOCK * ATTN_LANES];
    unit_state units[LC_ATTN_UNITS_MAX];
    lc_attn_unit heads[LC_ATTN_UNITS_MAX];

    const float *q = a->q + (int64_t)it->token * H * D;
    for (int j = 0; j < it->n_units; j++) {
        heads[j] = lc_attn_unit_at(a, it->unit0 + j);
        unit_state *u = &units[j];
        float *qu = qs + (int64_t)j * G * D;
        u->e0 = (int64_t)heads[j].kv_head * D;
        u->qs = qu;
        u->acc = acc + (int64_t)j * G * D;
        u->p = weights + j * ATTN_BLOCK * ATTN_LANES;
        u->max = _mm256_set1_ps(-INFINITY);
        u->sum = _mm256_setzero_ps();
        const float *qh = q + (int64_t)heads[j].h0 * D;
        for (int i = 0; i < G * D; i++) {
            qu[i] = i < heads[j].n_heads * D ? qh[i] * scale : 0.0f;
            u->acc[i] = 0.0f;
        }
    }
    const item_state st = {a->k, a->v, lc_attn_cells(a, it->token), a->row_size, D, it->n_units, units};
    for (int64_t t0 = 0; t0 < n_pos; t0 += ATTN_BLOCK)
        item_block(type, G, &st, t0, n_pos - t0 < ATTN_BLOCK ? (int)(n_pos - t0) : ATTN_BLOCK);

    for (int j = 0; j < it->n_units; j++) {
        float sums[ATTN_LANES];
        _mm256_storeu_ps(sums, units[j].sum);
        float *out = a->out + ((int64_t)it->token * H + heads[j].h0) * D;
        for (int h = 0; h < heads[j].n_heads; h++) {
            const __m256 inv = _mm256_set1_ps(1.0f / sums[h]);
            for (int i = 0; i < D; i += 8)
                _mm256_storeu_ps(out + h * D + i, _mm256_mul_ps(_mm256_loadu_ps(units[j].acc + h * D + i), inv));
        }
    }
}

#define ITEM_KERNEL(name, type, G) \
    static void name(const lc_attn_args *a, const lc_attn_item *it) { run_item(type, G, a, it); }

ITEM_KERNEL(item_f32_1, LC_TYPE_F32, 1)
ITEM_KERNEL(item_f32_2, LC_TYPE_F32, 2)
ITEM_KERNEL(item_f32_4, LC_TYPE_F32, 4)
ITEM_KERNEL(item_f32_8, LC_TYPE_F32, 8)
ITEM_KERNEL(item_f16_1, LC_TYPE_F16, 1)
ITEM_KERNEL(item_f16_2, LC_TYPE_F16, 2)
ITEM_KERNEL(item_f16_4, LC_TYPE_F16, 4)
ITEM_KERNEL(item_f16_8, LC_TYPE_F16, 8)
ITEM_KERNEL(item_q8_0_1, LC_TYPE_Q8_0, 1)
ITEM_KERNEL(item_q8_0_2, LC_TYPE_Q8_0, 2)
ITEM_KERNEL(item_q8_0_4, LC_TYPE_Q8_0, 4)
ITEM_KERNEL(item_q8_0_8, LC_TYPE_Q8_0, 8)

typedef void (*item_fn)(const lc_attn_args *a, const lc_attn_item *it);

/* [type][unit width: 1, 2, 4, 8 heads] */
static const item_fn item_kernels[3][4] = {
    {item_f32_1, item_f32_2, item_f32_4, item_f32_8},
    {item_f16_1, item_f16_2, item_f16_4, item_f16_8},
    {item_q8_0_1, item_q8_0_2, item_q8_0_4, item_q8_0_8},
};

void lc_attention_item_avx2(const lc_attn_args *a, const lc_attn_item *it) {
    const int type_index = a->kv_type == LC_TYPE_F32 ? 0 : a->kv_type == LC_TYPE_F16 ? 1 : 2;
    const int width = lc_attn_unit_width(a);
    const int width_index = width == 1 ? 0 : width == 2 ? 1 : width == 4 ? 2 : 3;
    item_kernels[type_index][width_index](a, it);
}

#endif
