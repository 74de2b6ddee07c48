/* The fused attention kernel (src/kernels/attention.c) against
 *  - a float64 two-pass softmax over the same cached (dequantized) K/V,
 *  - lc_attention_ref, the single-threaded per-head reference,
 * for F32/F16/Q8_0 caches, head_dim 32/64/128 (and odd ones that make the
 * SIMD path fall back or Q8_0 blocks straddle heads), GQA ratios 1/4/8/12,
 * pos0 0 and > 0, 1/7/33 tokens, 1/2/3 threads, scalar and SIMD ISAs.
 * Also: identical bits for every thread count, unsupported shapes give NaN,
 * and the error against the unquantized K/V (what an F16 or Q8_0 cache
 * costs). A cache shared by sequences: tokens reading scattered cell lists
 * up to their causal counts, runs and single tokens mixed. `test_attention --bench` times decode at Llama 3 8B shape,
 * `--bench-prefill` prefill at the target models' shapes. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels/attention.h"
#include "kernels/compute.h"
#include "quant/types.h"
#include "test_util.h"

/* Kernel vs kernel on the same cached values: only float rounding and the
 * order of sums differ (measured max ~1e-6). Outputs are averages of V
 * rows with |v| <= 1, so an absolute bound is a bound relative to V's scale. */
#define KERNEL_TOL 2e-5
/* Against the unquantized K/V: F16 rounding (2^-11 relative) and Q8_0
 * (step max|x|/127 per 32 values) of K and V. */
#define F16_CACHE_TOL 5e-3
#define Q8_0_CACHE_TOL 5e-2

#define N_THREAD_COUNTS 3

typedef struct attn_case {
    int type, head_dim, n_head_kv, ratio;
    uint32_t pos0;
    int32_t n_tokens;
    float q_gain;   /* larger: peakier softmax */
    bool ramp;      /* scores trend upward along the cache: the running max keeps moving */
} attn_case;

typedef struct fixture {
    attn_case c;
    int n_head;
    int64_t n_ctx, row_elems, q_elems;
    size_t row_size;
    float *q;
    float *k_raw, *v_raw;     /* unquantized rows */
    float *k_deq, *v_deq;     /* what the cache holds, as floats */
    uint8_t *k, *v;           /* the cache */
    float *out;
    float *ref;
    float *first;             /* lc_attention with 1 thread, per ISA */
} fixture;

static void fixture_free(fixture *f) {
    free(f->q);
    free(f->k_raw);
    free(f->v_raw);
    free(f->k_deq);
    free(f->v_deq);
    free(f->k);
    free(f->v);
    free(f->out);
    free(f->ref);
    free(f->first);
}

static void *xcalloc(size_t n, size_t size) {
    void *p = calloc(n ? n : 1, size);
    if (!p) { fprintf(stderr, "out of memory\n"); exit(1); }
    return p;
}

static void fixture_init(fixture *f, const attn_case *c, uint64_t seed) {
    memset(f, 0, sizeof *f);
    f->c = *c;
    f->n_head = c->n_head_kv * c->ratio;
    f->n_ctx = (int64_t)c->pos0 + c->n_tokens;
    f->row_elems = (int64_t)c->n_head_kv * c->head_dim;
    f->q_elems = (int64_t)c->n_tokens * f->n_head * c->head_dim;
    f->row_size = lc_row_size(c->type, f->row_elems);
    const size_t cache_elems = (size_t)(f->n_ctx * f->row_elems);
    f->q = xcalloc((size_t)f->q_elems, sizeof(float));
    f->k_raw = xcalloc(cache_elems, sizeof(float));
    f->v_raw = xcalloc(cache_elems, sizeof(float));
    f->k_deq = xcalloc(cache_elems, sizeof(float));
    f->v_deq = xcalloc(cache_elems, sizeof(float));
    f->k = xcalloc((size_t)f->n_ctx, f->row_size);
    f->v = xcalloc((size_t)f->n_ctx, f->row_size);
    f->out = xcalloc((size_t)f->q_elems, sizeof(float));
    f->ref = xcalloc((size_t)f->q_elems, sizeof(float));
    f->first = xcalloc((size_t)f->q_elems, sizeof(float));

    uint64_t rng = seed;
    for (int64_t i = 0; i < f->q_elems; i++) f->q[i] = lc_test_randf(&rng) * c->q_gain + (c->ramp ? 0.5f : 0.0f);
    for (int64_t t = 0; t < f->n_ctx; t++) {
        const float trend = c->ramp ? 2.0f * (float)t / (float)f->n_ctx : 0.0f;
        for (int64_t e = 0; e < f->row_elems; e++) {
            f->k_raw[t * f->row_elems + e] = lc_test_randf(&rng) * 0.8f + trend * 0.2f;
            f->v_raw[t * f->row_elems + e] = lc_test_randf(&rng);
        }
    }
    const lc_type_traits *tt = lc_type_traits_get(c->type);
    for (int64_t t = 0; t < f->n_ctx; t++) {
        const size_t e = (size_t)(t * f->row_elems);
        tt->from_float(f->k_raw + e, f->k + (size_t)t * f->row_size, f->row_elems);
        tt->from_float(f->v_raw + e, f->v + (size_t)t * f->row_size, f->row_elems);
        tt->to_float(f->k + (size_t)t * f->row_size, f->k_deq + e, f->row_elems);
        tt->to_float(f->v + (size_t)t * f->row_size, f->v_deq + e, f->row_elems);
    }
}

static lc_attn_args fixture_args(const fixture *f, float *out) {
    lc_attn_args a = {
        .q = f->q, .k = f->k, .v = f->v, .row_size = f->row_size, .kv_type = f->c.type,
        .n_head = f->n_head, .n_head_kv = f->c.n_head_kv, .head_dim = f->c.head_dim,
        .pos0 = f->c.pos0, .n_tokens = f->c.n_tokens, .out = out,
    };
    return a;
}

/* Float64 two-pass softmax attention over float rows k, v, each token
 * reading the rows the args give it (all of pos0+i+1, or its cell list);
 * the max abs difference from `got`. */
static double max_error_vs_naive_args(const fixture *f, const lc_attn_args *a, const float *k, const float *v,
                                      const float *got) {
    const int D = f->c.head_dim, H = f->n_head, group = f->c.ratio;
    double worst = 0.0;
    double *w = xcalloc((size_t)f->n_ctx, sizeof(double));
    for (int32_t r = 0; r < f->c.n_tokens; r++) {
        const int64_t n_pos = lc_attn_n_seen(a, r);
        const int32_t *cells = lc_attn_cells(a, r);
        for (int h = 0; h < H; h++) {
            const float *q = f->q + ((int64_t)r * H + h) * D;
            const int64_t e0 = (int64_t)(h / group) * D;
            double max_s = -INFINITY, sum = 0.0;
            for (int64_t t = 0; t < n_pos; t++) {
                const int64_t row = cells ? cells[t] : t;
                double s = 0.0;
                for (int i = 0; i < D; i++) s += (double)q[i] * k[row * f->row_elems + e0 + i];
                w[t] = s / sqrt((double)D);
                if (w[t] > max_s) max_s = w[t];
            }
            for (int64_t t = 0; t < n_pos; t++) { w[t] = exp(w[t] - max_s); sum += w[t]; }
            for (int i = 0; i < D; i++) {
                double o = 0.0;
                for (int64_t t = 0; t < n_pos; t++) o += w[t] * v[(cells ? cells[t] : t) * f->row_elems + e0 + i];
                const double err = fabs(o / sum - got[((int64_t)r * H + h) * D + i]);
                if (!(err <= worst)) worst = err; /* NaN sticks */
            }
        }
    }
    free(w);
    return worst;
}

static double max_error_vs_naive(const fixture *f, const float *k, const float *v, const float *got) {
    const lc_attn_args a = fixture_args(f, NULL);
    return max_error_vs_naive_args(f, &a, k, v, got);
}

static double max_abs_diff(const float *a, const float *b, int64_t n) {
    double worst = 0.0;
    for (int64_t i = 0; i < n; i++) {
        const double d = fabs((double)a[i] - b[i]);
        if (!(d <= worst)) worst = d;
    }
    return worst;
}

static const char *case_name(const attn_case *c, char *buf, size_t size) {
    snprintf(buf, size, "%s D=%d kv=%d ratio=%d pos0=%u n=%d gain=%g%s", lc_type_name(c->type), c->head_dim,
             c->n_head_kv, c->ratio, c->pos0, c->n_tokens, c->q_gain, c->ramp ? " ramp" : "");
    return buf;
}

typedef struct error_stats {
    double kernel[3];       /* worst kernel error per cache type index */
    double cache[3];        /* worst error vs unquantized K/V */
} error_stats;

static int type_index(int type) { return type == LC_TYPE_F32 ? 0 : type == LC_TYPE_F16 ? 1 : 2; }

/* Runs one case through the reference and every (ISA, thread count). */
static void check_case(const attn_case *c, lc_compute *const *computes, const char *simd_isa,
                       uint64_t seed, error_stats *stats) {
    char name[160];
    case_name(c, name, sizeof name);
    fixture f;
    fixture_init(&f, c, seed);

    lc_attn_args a = fixture_args(&f, f.ref);
    lc_attention_ref(&a);
    double err = max_error_vs_naive(&f, f.k_deq, f.v_deq, f.ref);
    CHECKF(err <= KERNEL_TOL, "%s: reference vs float64: %g", name, err);
    const int ti = type_index(c->type);
    if (err > stats->kernel[ti]) stats->kernel[ti] = err;
    const double cache_err = max_error_vs_naive(&f, f.k_raw, f.v_raw, f.ref);
    if (cache_err > stats->cache[ti]) stats->cache[ti] = cache_err;
    const double cache_tol = c->type == LC_TYPE_F32 ? KERNEL_TOL : c->type == LC_TYPE_F16 ? F16_CACHE_TOL : Q8_0_CACHE_TOL;
    CHECKF(cache_err <= cache_tol, "%s: vs unquantized K/V: %g", name, cache_err);

    const char *isas[2] = {"scalar", simd_isa};
    const int n_isas = strcmp(simd_isa, "scalar") == 0 ? 1 : 2;
    for (int i = 0; i < n_isas; i++) {
        for (int n = 0; n < N_THREAD_COUNTS; n++) {
            lc_compute *cc = computes[n];
            if (lc_compute_set_isa(cc, isas[i], NULL) != 0) { CHECKF(0, "cannot select %s", isas[i]); continue; }
            for (int64_t e = 0; e < f.q_elems; e++) f.out[e] = -12345.0f; /* every output must be written */
            a = fixture_args(&f, f.out);
            lc_attention(cc, &a);
            const double d = max_abs_diff(f.out, f.ref, f.q_elems);
            CHECKF(d <= KERNEL_TOL, "%s: %s, %d threads: vs reference %g", name, isas[i], n + 1, d);
            if (d > stats->kernel[ti]) stats->kernel[ti] = d;
            if (n == 0) {
                const double e = max_error_vs_naive(&f, f.k_deq, f.v_deq, f.out);
                CHECKF(e <= KERNEL_TOL, "%s: %s: vs float64 %g", name, isas[i], e);
                memcpy(f.first, f.out, (size_t)f.q_elems * sizeof(float));
            } else {
                CHECKF(memcmp(f.first, f.out, (size_t)f.q_elems * sizeof(float)) == 0,
                       "%s: %s: %d threads differ from 1 thread", name, isas[i], n + 1);
            }
        }
    }
    for (int n = 0; n < N_THREAD_COUNTS; n++) lc_compute_set_isa(computes[n], simd_isa, NULL);
    fixture_free(&f);
}

static void check_matrix(lc_compute *const *computes, const char *simd_isa, error_stats *stats) {
    static const int types[] = {LC_TYPE_F32, LC_TYPE_F16, LC_TYPE_Q8_0};
    static const int dims[] = {32, 64, 128};
    static const int ratios[] = {1, 4, 8};
    static const uint32_t pos0s[] = {0, 45};
    static const int32_t n_tokens[] = {1, 7, 33};
    uint64_t seed = 1;
    for (int ti = 0; ti < 3; ti++)
        for (int di = 0; di < 3; di++)
            for (int ri = 0; ri < 3; ri++)
                for (int pi = 0; pi < 2; pi++)
                    for (int ni = 0; ni < 3; ni++) {
                        const attn_case c = {types[ti], dims[di], 2, ratios[ri], pos0s[pi], n_tokens[ni],
                                             (ni + ri) % 2 ? 3.0f : 1.0f, false};
                        check_case(&c, computes, simd_isa, seed++, stats);
                    }
}

/* Shapes off the main grid: long contexts with a moving max, head dims
 * that are not multiples of 8 (SIMD falls back) or of 32 (Q8_0 blocks
 * straddle heads), GQA groups larger than one sub-group, a single KV head,
 * tokens whose heads need several items. */
static void check_edges(lc_compute *const *computes, const char *simd_isa, error_stats *stats) {
    const attn_case cases[] = {
        {LC_TYPE_F32, 64, 2, 4, 300, 3, 1.0f, true},
        {LC_TYPE_F16, 128, 2, 4, 1000, 1, 1.0f, true},
        {LC_TYPE_Q8_0, 128, 2, 8, 700, 2, 4.0f, true},
        {LC_TYPE_F32, 20, 8, 2, 5, 4, 1.0f, false},
        {LC_TYPE_F16, 20, 8, 1, 9, 3, 2.0f, false},
        {LC_TYPE_Q8_0, 20, 8, 2, 9, 3, 1.0f, false},
        {LC_TYPE_Q8_0, 24, 4, 3, 17, 5, 1.0f, false},
        {LC_TYPE_F16, 48, 4, 6, 40, 2, 1.0f, false},
        {LC_TYPE_F32, 64, 2, 12, 50, 3, 2.0f, false},
        {LC_TYPE_Q8_0, 64, 1, 16, 70, 2, 2.0f, false},
        {LC_TYPE_F16, 256, 1, 3, 33, 2, 1.0f, false},
        /* more head units per token than one item's stack holds */
        {LC_TYPE_F16, 256, 16, 4, 20, 2, 1.0f, false},
        {LC_TYPE_F32, 32, 40, 1, 10, 1, 2.0f, false},
        {LC_TYPE_Q8_0, LC_ATTN_HEAD_DIM_MAX, 1, 8, 5, 2, 1.0f, false},
        /* prefill tiles: several cache blocks, partial first tiles, the
         * causal diagonal inside a block and across two */
        {LC_TYPE_F16, 64, 2, 4, 60, 70, 1.0f, true},
        {LC_TYPE_Q8_0, 128, 2, 1, 0, 75, 2.0f, true},
        {LC_TYPE_F32, 40, 3, 2, 29, 37, 3.0f, false},
        {LC_TYPE_F16, 256, 1, 6, 3, 9, 1.0f, true},
    };
    uint64_t seed = 1000;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) check_case(&cases[i], computes, simd_isa, seed++, stats);
}

/* ------------------------------------------- caches shared by sequences */

/* A cache of n_ctx rows shared by three sequences, as the context keeps it
 * (model/context.h): each token reads its sequence's cell list up to its
 * causal limit. Sequence 0 owns rows 0..len0-1 in order (a NULL list, the
 * contiguous case); sequences 1 and 2 own scattered rows, listed in
 * position order, which is not row order. The call's tokens are runs of
 * one sequence (prefill tiles) and single tokens of others (items), in
 * the given order of sequences. */
typedef struct shared_case {
    int type, head_dim, n_head_kv, ratio;
    int32_t n_tokens[3];     /* query tokens per sequence (the last ones of its list) */
    int32_t len[3];          /* list length per sequence */
    int order[6];            /* sequence of each run of the call, -1 ends */
} shared_case;

static void check_shared_case(const shared_case *sc, lc_compute *const *computes, const char *simd_isa,
                              uint64_t seed, error_stats *stats) {
    int32_t total_tokens = 0, n_rows = 0;
    for (int s = 0; s < 3; s++) { total_tokens += sc->n_tokens[s]; n_rows += sc->len[s]; }
    const attn_case c = {sc->type, sc->head_dim, sc->n_head_kv, sc->ratio, (uint32_t)(n_rows - total_tokens),
                         total_tokens, 2.0f, false};
    char name[200];
    snprintf(name, sizeof name, "shared cache %s D=%d kv=%d ratio=%d lens %d/%d/%d tokens %d/%d/%d",
             lc_type_name(sc->type), sc->head_dim, sc->n_head_kv, sc->ratio, sc->len[0], sc->len[1], sc->len[2],
             sc->n_tokens[0], sc->n_tokens[1], sc->n_tokens[2]);
    fixture f;
    fixture_init(&f, &c, seed); /* n_ctx = n_rows cache rows */

    /* rows len0.. are dealt to sequences 1 and 2 at random, then each list
     * is shuffled: position order is not row order */
    int32_t *lists[3] = {NULL, xcalloc((size_t)sc->len[1], sizeof(int32_t)), xcalloc((size_t)sc->len[2], sizeof(int32_t))};
    uint64_t rng = seed * 7 + 3;
    int32_t n1 = 0, n2 = 0;
    for (int32_t row = sc->len[0]; row < n_rows; row++) {
        const bool to1 = n2 == sc->len[2] || (n1 < sc->len[1] && lc_test_rand(&rng) % 2);
        if (to1) lists[1][n1++] = row; else lists[2][n2++] = row;
    }
    for (int s = 1; s < 3; s++)
        for (int32_t i = sc->len[s] - 1; i > 0; i--) {
            const int32_t j = (int32_t)(lc_test_rand(&rng) % (uint64_t)(i + 1));
            const int32_t t = lists[s][i]; lists[s][i] = lists[s][j]; lists[s][j] = t;
        }
    const int32_t **cells = xcalloc((size_t)total_tokens, sizeof *cells);
    int32_t *n_seen = xcalloc((size_t)total_tokens, sizeof(int32_t));
    int32_t token = 0, next[3] = {0, 0, 0};
    for (int o = 0; o < 6 && sc->order[o] >= 0; o++) {
        const int s = sc->order[o];
        /* a run takes all of this sequence's remaining tokens, or one when
         * the sequence comes back later in the order */
        bool again = false;
        for (int o2 = o + 1; o2 < 6 && sc->order[o2] >= 0; o2++) again |= sc->order[o2] == s;
        const int32_t n_run = again ? 1 : sc->n_tokens[s] - next[s];
        for (int32_t i = 0; i < n_run; i++, token++, next[s]++) {
            cells[token] = lists[s];
            n_seen[token] = sc->len[s] - sc->n_tokens[s] + next[s] + 1;
        }
    }
    CHECKF(token == total_tokens, "%s: bad case", name);

    lc_attn_args a = fixture_args(&f, f.ref);
    a.cells = cells;
    a.n_seen = n_seen;
    lc_attention_ref(&a);
    const double err = max_error_vs_naive_args(&f, &a, f.k_deq, f.v_deq, f.ref);
    CHECKF(err <= KERNEL_TOL, "%s: reference vs float64: %g", name, err);
    const int ti = type_index(c.type);
    if (err > stats->kernel[ti]) stats->kernel[ti] = err;
    const char *isas[2] = {"scalar", simd_isa};
    const int n_isas = strcmp(simd_isa, "scalar") == 0 ? 1 : 2;
    for (int i = 0; i < n_isas; i++)
        for (int n = 0; n < N_THREAD_COUNTS; n++) {
            lc_compute *cc = computes[n];
            if (lc_compute_set_isa(cc, isas[i], NULL) != 0) { CHECKF(0, "cannot select %s", isas[i]); continue; }
            for (int64_t e = 0; e < f.q_elems; e++) f.out[e] = -12345.0f;
            a.out = f.out;
            lc_attention(cc, &a);
            const double d = max_abs_diff(f.out, f.ref, f.q_elems);
            CHECKF(d <= KERNEL_TOL, "%s: %s, %d threads: vs reference %g", name, isas[i], n + 1, d);
            if (d > stats->kernel[ti]) stats->kernel[ti] = d;
            if (n == 0) memcpy(f.first, f.out, (size_t)f.q_elems * sizeof(float));
            else
                CHECKF(memcmp(f.first, f.out, (size_t)f.q_elems * sizeof(float)) == 0,
                       "%s: %s: %d threads differ from 1 thread", name, isas[i], n + 1);
        }
    for (int n = 0; n < N_THREAD_COUNTS; n++) lc_compute_set_isa(computes[n], simd_isa, NULL);
    free(lists[1]);
    free(lists[2]);
    free(cells);
    free(n_seen);
    fixture_free(&f);
}

static void check_shared(lc_compute *const *computes, const char *simd_isa, error_stats *stats) {
    const shared_case cases[] = {
        /* decode: one token per sequence (items) */
        {LC_TYPE_F16, 64, 2, 4, {1, 1, 1}, {70, 45, 33}, {0, 1, 2, -1}},
        {LC_TYPE_Q8_0, 128, 2, 2, {1, 1, 1}, {9, 100, 3}, {2, 0, 1, -1}},
        /* a prefill run (tiles across blocks and the diagonal) mixed with
         * decode tokens, a sequence split around another */
        {LC_TYPE_F32, 64, 2, 4, {1, 37, 1}, {50, 80, 20}, {0, 1, 2, -1}},
        {LC_TYPE_F16, 32, 4, 1, {2, 1, 9}, {12, 40, 66}, {0, 2, 1, 0, -1}},
        {LC_TYPE_Q8_0, 64, 1, 8, {5, 33, 2}, {5, 60, 35}, {1, 0, 2, -1}},
        /* odd head dim: no SIMD kernel */
        {LC_TYPE_F32, 20, 2, 2, {3, 1, 2}, {10, 30, 8}, {0, 1, 2, -1}},
    };
    uint64_t seed = 5000;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) check_shared_case(&cases[i], computes, simd_isa, seed++, stats);
}

static void check_unsupported(lc_compute *c) {
    CHECK(lc_attention_supports(LC_TYPE_F16, 32, 8, 128));
    CHECK(lc_attention_supports(LC_TYPE_Q8_0, 8, 8, 4));        /* row of 32 */
    CHECK(!lc_attention_supports(LC_TYPE_Q8_0, 8, 4, 4));       /* row of 16 */
    CHECK(!lc_attention_supports(LC_TYPE_Q4_0, 32, 8, 128));
    CHECK(!lc_attention_supports(LC_TYPE_F32, 6, 4, 64));      /* 6 heads over 4 KV heads */
    CHECK(!lc_attention_supports(LC_TYPE_F32, 4, 4, LC_ATTN_HEAD_DIM_MAX + 8));
    CHECK(!lc_attention_supports(LC_TYPE_F32, 4, 0, 64));

    float q[2 * 6 * 8] = {0}, out[2 * 6 * 8] = {0};
    float kv[8 * 4 * 8] = {0};
    lc_attn_args a = {q, (const uint8_t *)kv, (const uint8_t *)kv, 4 * 8 * sizeof(float), LC_TYPE_F32,
                      6, 4, 8, 3, 2, out, NULL, NULL};
    lc_attention(c, &a);
    int nan_count = 0;
    for (int i = 0; i < 2 * 6 * 8; i++) nan_count += isnan(out[i]) != 0;
    CHECKF(nan_count == 2 * 6 * 8, "unsupported shape: %d NaN outputs", nan_count);
    memset(out, 0, sizeof out);
    lc_attention_ref(&a);
    nan_count = 0;
    for (int i = 0; i < 2 * 6 * 8; i++) nan_count += isnan(out[i]) != 0;
    CHECKF(nan_count == 2 * 6 * 8, "reference, unsupported shape: %d NaN outputs", nan_count);
}

/* ---------------------------------------------------------------- bench */

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Decode (1 token at position ctx-1) at the Llama 3 8B shape: 8 KV heads,
 * 4 query heads each, head_dim 128. Layers rotate through buffers larger
 * than the last-level cache, as in a real forward pass where the weights
 * evict the previous token's cache rows. */
static void bench(void) {
    enum { N_KV = 8, GROUP = 4, D = 128, H = N_KV * GROUP };
    static const int types[] = {LC_TYPE_F32, LC_TYPE_F16, LC_TYPE_Q8_0};
    static const int ctxs[] = {512, 2048, 4096};
    llamac_error err;
    lc_compute *c[2] = {lc_compute_create(1, 64, 4096, &err), lc_compute_create(2, 64, 4096, &err)};
    if (!c[0] || !c[1]) { fprintf(stderr, "compute: %s\n", err.msg); exit(1); }
    const char *simd = lc_compute_isa(c[0]);
    float q[H * D], out[H * D];
    uint64_t rng = 7;
    for (int i = 0; i < H * D; i++) q[i] = lc_test_randf(&rng);
    printf("decode attention, ms per layer (8 kv heads x 4 group x 128 dims)\n");
    char simd_1t[24], simd_2t[24];
    snprintf(simd_1t, sizeof simd_1t, "%s-1t", simd);
    snprintf(simd_2t, sizeof simd_2t, "%s-2t", simd);
    printf("%-5s %5s %8s %10s %10s %10s %10s\n", "cache", "ctx", "ref-1t", "scalar-1t", "scalar-2t", simd_1t,
           simd_2t);
    for (int ti = 0; ti < 3; ti++)
        for (int ci = 0; ci < 3; ci++) {
            const int ctx = ctxs[ci];
            const size_t row_size = lc_row_size(types[ti], N_KV * D);
            const size_t layer_bytes = row_size * (size_t)ctx;
            int n_layers = (int)((128u << 20) / (2 * layer_bytes)) + 1;
            if (n_layers < 2) n_layers = 2;
            if (n_layers > 32) n_layers = 32;
            uint8_t *cache = xcalloc((size_t)n_layers * 2, layer_bytes);
            float row[N_KV * D];
            const lc_type_traits *tt = lc_type_traits_get(types[ti]);
            for (size_t r = 0; r < (size_t)n_layers * 2 * (size_t)ctx; r++) {
                for (int e = 0; e < N_KV * D; e++) row[e] = lc_test_randf(&rng);
                tt->from_float(row, cache + r * row_size, N_KV * D);
            }
            /* best of several rounds: the machine may be shared */
            double ms[5] = {INFINITY, INFINITY, INFINITY, INFINITY, INFINITY};
            for (int round = 0; round < 5; round++)
                for (int variant = 0; variant < 5; variant++) {
                    lc_compute *cc = variant <= 2 ? c[variant == 2] : c[variant == 4];
                    if (variant >= 1) lc_compute_set_isa(cc, variant <= 2 ? "scalar" : simd, NULL);
                    int calls = 0;
                    const double t0 = now_s();
                    double t1 = t0;
                    while (t1 - t0 < 0.05 || calls < n_layers) {
                        const uint8_t *layer = cache + (size_t)(calls % n_layers) * 2 * layer_bytes;
                        lc_attn_args a = {q, layer, layer + layer_bytes, row_size, types[ti], H, N_KV, D,
                                          (uint32_t)ctx - 1, 1, out, NULL, NULL};
                        if (variant == 0) lc_attention_ref(&a);
                        else lc_attention(cc, &a);
                        calls++;
                        t1 = now_s();
                    }
                    const double per_call = (t1 - t0) * 1e3 / calls;
                    if (per_call < ms[variant]) ms[variant] = per_call;
                }
            printf("%-5s %5d %8.3f %10.3f %10.3f %10.3f %10.3f\n", lc_type_name(types[ti]), ctx, ms[0], ms[1],
                   ms[2], ms[3], ms[4]);
            free(cache);
        }
    lc_compute_free(c[0]);
    lc_compute_free(c[1]);
}

/* Prefill (n tokens from position 0, F16 cache) at the shapes of the
 * target models: ms per layer and GFLOP/s, counting 2 flops per
 * multiply-add of scores and of values over the causal triangle. */
static void bench_prefill(void) {
    typedef struct bshape { const char *name; int n_kv, group, D; } bshape;
    static const bshape shapes[] = {
        {"Llama-3.2-1B", 8, 4, 64},
        {"Llama-3.1-8B", 8, 4, 128},
        {"CodeLlama-7B", 32, 1, 128},
    };
    static const int32_t lengths[] = {512, 2048};
    llamac_error err;
    lc_compute *c = lc_compute_create(2, 64, 4096, &err);
    if (!c) { fprintf(stderr, "compute: %s\n", err.msg); exit(1); }
    printf("prefill attention, 2 threads, F16 cache: ms per layer (GFLOP/s)\n");
    printf("%-13s %5s %18s %18s\n", "shape", "n", "scalar", lc_compute_isa(c));
    const char *simd = lc_compute_isa(c);
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++)
        for (size_t li = 0; li < sizeof lengths / sizeof lengths[0]; li++) {
            const bshape *b = &shapes[si];
            const int32_t n = lengths[li];
            const int H = b->n_kv * b->group, row = b->n_kv * b->D;
            const size_t row_size = lc_row_size(LC_TYPE_F16, row);
            float *q = xcalloc((size_t)n * H * b->D, sizeof(float));
            float *out = xcalloc((size_t)n * H * b->D, sizeof(float));
            uint8_t *k = xcalloc((size_t)n, row_size), *v = xcalloc((size_t)n, row_size);
            float *tmp = xcalloc((size_t)row, sizeof(float));
            uint64_t rng = 11;
            for (int64_t i = 0; i < (int64_t)n * H * b->D; i++) q[i] = lc_test_randf(&rng);
            for (int32_t t = 0; t < n; t++) {
                for (int e = 0; e < row; e++) tmp[e] = lc_test_randf(&rng);
                lc_type_traits_get(LC_TYPE_F16)->from_float(tmp, k + (size_t)t * row_size, row);
                for (int e = 0; e < row; e++) tmp[e] = lc_test_randf(&rng);
                lc_type_traits_get(LC_TYPE_F16)->from_float(tmp, v + (size_t)t * row_size, row);
            }
            const lc_attn_args a = {q, k, v, row_size, LC_TYPE_F16, H, b->n_kv, b->D, 0, n, out, NULL, NULL};
            const double flops = 4.0 * H * b->D * ((double)n * (n + 1) / 2);
            double ms[2] = {INFINITY, INFINITY};
            for (int round = 0; round < 3; round++)
                for (int variant = 0; variant < 2; variant++) {
                    if (variant == 0 && n > 512) continue; /* the scalar path is slow */
                    lc_compute_set_isa(c, variant == 0 ? "scalar" : simd, NULL);
                    const double t0 = now_s();
                    lc_attention(c, &a);
                    const double t = (now_s() - t0) * 1e3;
                    if (t < ms[variant]) ms[variant] = t;
                }
            char cols[2][32];
            for (int variant = 0; variant < 2; variant++)
                if (isinf(ms[variant])) snprintf(cols[variant], sizeof cols[variant], "-");
                else snprintf(cols[variant], sizeof cols[variant], "%.2f (%.1f)", ms[variant], flops / ms[variant] * 1e-6);
            printf("%-13s %5d %18s %18s\n", b->name, n, cols[0], cols[1]);
            free(q);
            free(out);
            free(k);
            free(v);
            free(tmp);
        }
    lc_compute_free(c);
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--bench") == 0) { bench(); return 0; }
    if (argc > 1 && strcmp(argv[1], "--bench-prefill") == 0) { bench_prefill(); return 0; }
    llamac_error err;
    lc_compute *computes[N_THREAD_COUNTS];
    for (int n = 0; n < N_THREAD_COUNTS; n++) {
        computes[n] = lc_compute_create(n + 1, 64, 4096, &err);
        if (!computes[n]) { fprintf(stderr, "lc_compute_create: %s\n", err.msg); return 1; }
    }
    /* the best ISA here, or what LLAMAC_ISA forces */
    char simd_isa[32];
    snprintf(simd_isa, sizeof simd_isa, "%s", lc_compute_isa(computes[0]));
    fprintf(stderr, "attention: testing scalar and %s\n", simd_isa);

    error_stats stats = {{0}, {0}};
    check_matrix(computes, simd_isa, &stats);
    check_edges(computes, simd_isa, &stats);
    check_shared(computes, simd_isa, &stats);
    check_unsupported(computes[1]);
    fprintf(stderr, "worst kernel error (f32 f16 q8_0): %.2g %.2g %.2g; vs unquantized K/V: %.2g %.2g %.2g\n",
            stats.kernel[0], stats.kernel[1], stats.kernel[2], stats.cache[0], stats.cache[1], stats.cache[2]);

    for (int n = 0; n < N_THREAD_COUNTS; n++) lc_compute_free(computes[n]);
    return TEST_SUMMARY("test_attention");
}
