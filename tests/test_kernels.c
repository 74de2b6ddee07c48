/* The compute backend against the scalar reference (quant/types.c):
 *  - every ISA this CPU runs (the others print why they are skipped):
 *    activation quantizers give the reference bytes exactly, and lc_matmul
 *    agrees with a vec_dot per output within REL_TOL of sum_k |w_k * x_k|
 *    (only the float summation order may differ), for odd sizes;
 *  - lc_matmul gives identical bits with 1, 2 and 3 threads, and
 *    lc_matmul_group the bits of one lc_matmul per weight;
 *  - lc_parallel_for covers every index exactly once, also under many
 *    back-to-back dispatches (the pool's wake-up protocol). */
#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/compute.h"
#include "kernels/dispatch.h"
#include "kernels/kernels.h"
#include "quant/repack.h"
#include "quant/types.h"
#include "avx512_emulated_mode.h"
#include "test_util.h"

/* Float summation order differs (SIMD lanes, FMA, per-block scaling): the
 * worst case grows with K*eps; measured error stays below 1e-6 at K ~ 4k.
 * One wrong 32-element block moves the result by ~1e-3 of the sum. */
#define REL_TOL 2e-5

static const int weight_types[] = {
    LC_TYPE_Q4_0, LC_TYPE_Q8_0, LC_TYPE_Q4_K, LC_TYPE_Q6_K, LC_TYPE_F16, LC_TYPE_BF16, LC_TYPE_F32,
    /* no SIMD kernel: the table falls back to the type table's vec_dot */
    LC_TYPE_Q4_1, LC_TYPE_Q5_0, LC_TYPE_Q5_1, LC_TYPE_Q2_K, LC_TYPE_Q3_K, LC_TYPE_Q5_K,
};
#define N_WEIGHT_TYPES (int)(sizeof weight_types / sizeof weight_types[0])

static const int64_t Ns[] = {1, 3, 7, 33};
static const int64_t Ms[] = {1, 2, 5, 17};

/* K values: 1, 3, 11 (8 + 2 + 1: every Q4_0 decode path) and 129 blocks of 32; 1, 3, 9 and 17
 * super-blocks (4096+256); for f32/f16/bf16 sizes that are not multiples of
 * the 8-wide SIMD step. */
static int64_t k_for(int type, int i) {
    const int64_t bs = lc_type_traits_get(type)->block_size;
    if (bs == 1) { static const int64_t k[] = {29, 95, 289, 4133}; return k[i]; }
    static const int64_t blocks32[] = {1, 3, 11, 129}, blocks256[] = {1, 3, 9, 17};
    return bs * (bs == QK_K ? blocks256[i] : blocks32[i]);
}

/* ------------------------------------------------------------ test data */

static lc_f16 rand_f16_scale(uint64_t *rng) {
    return lc_f32_to_f16(lc_test_randf(rng) * 0.05f);
}

/* A weight row of random bits with finite scale fields, so that every
 * quant value (including -128 in Q8_0 and Q6_K scales) shows up. */
static void random_weight_row(int type, int64_t K, uint8_t *row, uint64_t *rng) {
    const lc_type_traits *t = lc_type_traits_get(type);
    const size_t size = lc_row_size(type, K);
    if (type == LC_TYPE_F32 || type == LC_TYPE_F16 || type == LC_TYPE_BF16) {
        for (int64_t k = 0; k < K; k++) {
            float v = lc_test_randf(rng);
            if (type == LC_TYPE_F32) memcpy(row + 4 * k, &v, 4);
            else {
                uint16_t h = type == LC_TYPE_F16 ? lc_f32_to_f16(v) : lc_f32_to_bf16(v);
                memcpy(row + 2 * k, &h, 2);
            }
        }
        return;
    }
    for (size_t i = 0; i < size; i++) row[i] = (uint8_t)lc_test_rand(rng);
    for (int64_t b = 0; b < K / t->block_size; b++) {
        uint8_t *blk = row + (size_t)b * t->type_size;
        switch (type) {
        case LC_TYPE_Q4_0: ((block_q4_0 *)blk)->d = rand_f16_scale(rng); break;
        case LC_TYPE_Q8_0: ((block_q8_0 *)blk)->d = rand_f16_scale(rng); break;
        case LC_TYPE_Q5_0: ((block_q5_0 *)blk)->d = rand_f16_scale(rng); break;
        case LC_TYPE_Q4_1:
            ((block_q4_1 *)blk)->d = rand_f16_scale(rng);
            ((block_q4_1 *)blk)->m = rand_f16_scale(rng);
            break;
        case LC_TYPE_Q5_1:
            ((block_q5_1 *)blk)->d = rand_f16_scale(rng);
            ((block_q5_1 *)blk)->m = rand_f16_scale(rng);
            break;
        case LC_TYPE_Q2_K:
            ((block_q2_K *)blk)->d = rand_f16_scale(rng);
            ((block_q2_K *)blk)->dmin = rand_f16_scale(rng);
            break;
        case LC_TYPE_Q3_K: ((block_q3_K *)blk)->d = rand_f16_scale(rng); break;
        case LC_TYPE_Q4_K:
            ((block_q4_K *)blk)->d = rand_f16_scale(rng);
            ((block_q4_K *)blk)->dmin = rand_f16_scale(rng);
            break;
        case LC_TYPE_Q5_K:
            ((block_q5_K *)blk)->d = rand_f16_scale(rng);
            ((block_q5_K *)blk)->dmin = rand_f16_scale(rng);
            break;
        case LC_TYPE_Q6_K: ((block_q6_K *)blk)->d = rand_f16_scale(rng); break;
        default: break;
        }
    }
}

/* Activations: random values with a per-row magnitude; one 32-element run
 * of zeros (an all-zero block, a special case of every quantizer). */
static void random_activations(float *x, int64_t M, int64_t K, uint64_t *rng) {
    for (int64_t m = 0; m < M; m++) {
        float scale = 0.1f + 4.0f * fabsf(lc_test_randf(rng));
        for (int64_t k = 0; k < K; k++) x[m * K + k] = scale * lc_test_randf(rng);
    }
    if (K >= 64) memset(x + 32, 0, 32 * sizeof(float));
}

/* ------------------------------------------------------- the reference */

/* y_ref[m][n] by the type table, and S[m][n] = sum |w_k * a_k| over the
 * dequantized operands (the scale of the rounding error). */
static void reference_matmul(int wtype, const uint8_t *W, int64_t N, int64_t K, const float *x, int64_t M,
                             float *y_ref, double *S) {
    const lc_type_traits *wt = lc_type_traits_get(wtype);
    const int at = wt->vec_dot_type;
    const lc_type_traits *att = lc_type_traits_get(at);
    const size_t wrow = lc_row_size(wtype, K), arow = lc_row_size(at, K);
    uint8_t *act = malloc(arow);
    float *wf = malloc((size_t)(N * K) * sizeof(float)), *af = malloc((size_t)K * sizeof(float));
    for (int64_t n = 0; n < N; n++) wt->to_float(W + n * wrow, wf + n * K, K);
    for (int64_t m = 0; m < M; m++) {
        att->from_float(x + m * K, act, K);
        att->to_float(act, af, K);
        for (int64_t n = 0; n < N; n++) {
            wt->vec_dot(K, &y_ref[m * N + n], W + n * wrow, act);
            double s = 0;
            for (int64_t k = 0; k < K; k++) s += fabs((double)wf[n * K + k] * af[k]);
            S[m * N + n] = s;
        }
    }
    free(act);
    free(wf);
    free(af);
}

/* ---------------------------------------------------------------- tests */

/* Rows whose quantization hits ties: with amax = 127 the Q8_0 step is 1 and
 * x = 2.5 must round away from zero; with max = -127 the Q8_K scale is 1
 * and 2.5 must round to even. */
static void fill_quantizer_row(float *x, int64_t K, int variant, uint64_t *rng) {
    for (int64_t k = 0; k < K; k++) x[k] = lc_test_randf(rng) * (variant == 1 ? 1e-3f : 3.0f);
    if (variant == 2)
        for (int64_t k = 0; k < K; k++) x[k] = (float)((k % 255) - 127) + ((k % 3) ? 0.5f : 0.0f);
    if (variant == 3)
        for (int64_t k = 0; k < K; k++) x[k] = k % 256 == 0 ? -127.0f : (float)(k % 200) * 0.5f - 50.0f;
    if (variant == 4) memset(x, 0, (size_t)K * sizeof(float));
}

static void test_quantizers(const lc_kernel_table *table, uint64_t *rng) {
    lc_kernel_table full;
    lc_kernel_table_resolve(table, &full);
    const lc_kernel_table *kt = &full;
    static const int act_types[] = {LC_TYPE_Q8_0, LC_TYPE_Q8_K, LC_TYPE_F16, LC_TYPE_BF16};
    static const int64_t Ks[] = {256, 768, 4352};
    int n_tested = 0;
    for (size_t t = 0; t < sizeof act_types / sizeof act_types[0]; t++) {
        const int type = act_types[t];
        if (!kt->quantize_row[type]) continue;
        for (size_t ki = 0; ki < sizeof Ks / sizeof Ks[0]; ki++) {
            const int64_t K = Ks[ki] + (type == LC_TYPE_F16 || type == LC_TYPE_BF16 ? 7 : 0);
            const size_t size = lc_row_size(type, K);
            const size_t got_size = kt->act_row_size ? kt->act_row_size(type, K) : size;
            float *x = malloc((size_t)K * sizeof(float));
            uint8_t *ref = malloc(size), *got = malloc(got_size);
            for (int variant = 0; variant < 5; variant++) {
                fill_quantizer_row(x, K, variant, rng);
                memset(ref, 0xAA, size);
                memset(got, 0x55, got_size);
                lc_type_traits_get(type)->from_float(x, ref, K);
                kt->quantize_row[type](x, got, K);
                CHECKF(memcmp(ref, got, size) == 0, "%s quantize_row %s K=%lld variant %d differs from reference",
                       kt->name, lc_type_name(type), (long long)K, variant);
            }
            free(x);
            free(ref);
            free(got);
        }
        n_tested++;
    }
    fprintf(stderr, "  %s: %d activation quantizers bit-exact with the reference\n", kt->name, n_tested);
}

static double test_matmul_vs_reference(const lc_kernel_table *kt, uint64_t *rng) {
    llamac_error err = {{0}};
    lc_compute *c = lc_compute_create(1, 17, 4352 + 8, &err);
    CHECKF(c != NULL, "%s", err.msg);
    if (!c) return 0;
    CHECKF(lc_compute_set_kernels(c, kt, &err) == 0, "%s", err.msg);
    double worst = 0;
    for (int ti = 0; ti < N_WEIGHT_TYPES; ti++) {
        const int wtype = weight_types[ti];
        if (!lc_matmul_supports(wtype)) { fprintf(stderr, "  %s: no reference dot\n", lc_type_name(wtype)); continue; }
        for (int ki = 0; ki < 4; ki++) {
            const int64_t K = k_for(wtype, ki);
            const int64_t Nmax = 33, Mmax = 17;
            const size_t wrow = lc_row_size(wtype, K);
            uint8_t *W = malloc(wrow * Nmax);
            float *x = malloc(sizeof(float) * Mmax * K);
            float *y = malloc(sizeof(float) * Mmax * Nmax), *y_ref = malloc(sizeof(float) * Mmax * Nmax);
            double *S = malloc(sizeof(double) * Mmax * Nmax);
            for (int64_t n = 0; n < Nmax; n++) random_weight_row(wtype, K, W + n * wrow, rng);
            for (size_t ni = 0; ni < sizeof Ns / sizeof Ns[0]; ni++) {
                for (size_t mi = 0; mi < sizeof Ms / sizeof Ms[0]; mi++) {
                    const int64_t N = Ns[ni], M = Ms[mi];
                    random_activations(x, M, K, rng);
                    reference_matmul(wtype, W, N, K, x, M, y_ref, S);
                    lc_matmul(c, W, wtype, N, K, x, M, y);
                    int bad = 0;
                    for (int64_t i = 0; i < M * N; i++) {
                        double e = fabs((double)y[i] - y_ref[i]), rel = e / (S[i] + 1e-30);
                        if (S[i] > 0 && rel > worst) worst = rel;
                        if (!(e <= REL_TOL * S[i] + 1e-30)) {
                            if (bad++ < 3)
                                fprintf(stderr, "  %s %s K=%lld N=%lld M=%lld: y[%lld][%lld] = %.9g, reference %.9g (S %.3g)\n",
                                        lc_compute_isa(c), lc_type_name(wtype), (long long)K, (long long)N,
                                        (long long)M, (long long)(i / N), (long long)(i % N), y[i], y_ref[i], S[i]);
                        }
                    }
                    CHECKF(bad == 0, "%s %s K=%lld N=%lld M=%lld: %d outputs off", lc_compute_isa(c),
                           lc_type_name(wtype), (long long)K, (long long)N, (long long)M, bad);
                }
            }
            free(W);
            free(x);
            free(y);
            free(y_ref);
            free(S);
        }
    }
    lc_compute_free(c);
    return worst;
}

/* Weights in the x8 layout (quant/repack.h): unpacking every block gives
 * the original bytes back, and lc_matmul_x8 matches the plain reference
 * within REL_TOL, with the same bits for 1 and 3 threads. */
static void test_x8(const lc_kernel_table *kt, uint64_t *rng) {
    llamac_error err = {{0}};
    lc_compute *c1 = lc_compute_create(1, 17, 4352 + 8, &err), *c3 = lc_compute_create(3, 17, 4352 + 8, &err);
    CHECKF(c1 && c3, "%s", err.msg);
    if (!c1 || !c3) { lc_compute_free(c1); lc_compute_free(c3); return; }
    CHECK(lc_compute_set_kernels(c1, kt, &err) == 0 && lc_compute_set_kernels(c3, kt, &err) == 0);
    lc_kernel_table full;
    lc_kernel_table_resolve(kt, &full);
    CHECK(!lc_x8_supported(LC_TYPE_Q4_0, 12, 64) && !lc_x8_supported(LC_TYPE_Q8_K, 8, 256) &&
          lc_x8_supported(LC_TYPE_Q4_0, 16, 64) && lc_x8_supported(LC_TYPE_Q8_0, 8, 32) &&
          lc_x8_supported(LC_TYPE_Q4_K, 8, 512) && !lc_x8_supported(LC_TYPE_Q4_K, 8, 32));
    /* 1, 5 and 6 groups of 8 rows: odd counts leave a group unpaired (AVX-512 pairs them) */
    static const int64_t Nx[] = {8, 40, 48};
    static const int64_t Mx[] = {1, 2, 5, 11, 17};
    static const int x8_types[] = {LC_TYPE_Q4_0, LC_TYPE_Q8_0, LC_TYPE_Q4_K, LC_TYPE_Q6_K};
    for (size_t ti = 0; ti < sizeof x8_types / sizeof x8_types[0]; ti++) {
        const int wtype = x8_types[ti];
        const char *tname = lc_type_name(wtype);
        const size_t bsize = lc_type_traits_get(wtype)->type_size;
        double worst = 0;
        for (int ki = 0; ki < 4; ki++) {
            const int64_t K = k_for(wtype, ki), nb = K / lc_type_traits_get(wtype)->block_size, Mmax = 17;
            for (size_t ni = 0; ni < sizeof Nx / sizeof Nx[0]; ni++) {
                const int64_t N = Nx[ni];
                const size_t wrow = lc_row_size(wtype, K);
                uint8_t *W = malloc(wrow * (size_t)N), *Wx = malloc(wrow * (size_t)N);
                float *x = malloc(sizeof(float) * (size_t)(Mmax * K));
                float *y = malloc(sizeof(float) * (size_t)(Mmax * N)), *y3 = malloc(sizeof(float) * (size_t)(Mmax * N));
                float *y_ref = malloc(sizeof(float) * (size_t)(Mmax * N));
                double *S = malloc(sizeof(double) * (size_t)(Mmax * N));
                for (int64_t n = 0; n < N; n++) random_weight_row(wtype, K, W + n * wrow, rng);
                memcpy(Wx, W, wrow * (size_t)N);
                CHECK(lc_x8_repack(wtype, Wx, N, K) == 0);
                int unpack_bad = 0;
                for (int64_t n = 0; n < N; n++)
                    for (int64_t b = 0; b < nb; b++) {
                        uint8_t blk[256];
                        lc_x8_unpack_block(wtype, Wx + (size_t)(n / 8 * 8) * wrow, b, (int)(n % 8), blk);
                        unpack_bad += memcmp(blk, W + n * wrow + (size_t)b * bsize, bsize) != 0;
                    }
                CHECKF(unpack_bad == 0, "%s x8 unpack K=%lld N=%lld: %d blocks differ", tname, (long long)K,
                       (long long)N, unpack_bad);
                /* the row read of a tied embedding: the plain row's floats, bit for bit */
                float *row_x8 = malloc(sizeof(float) * (size_t)K), *row_plain = malloc(sizeof(float) * (size_t)K);
                int row_bad = 0;
                for (int64_t n = 0; n < N; n++) {
                    lc_x8_row_to_float(wtype, Wx, wrow, n, K, row_x8);
                    lc_type_traits_get(wtype)->to_float(W + n * wrow, row_plain, K);
                    row_bad += memcmp(row_x8, row_plain, sizeof(float) * (size_t)K) != 0;
                }
                CHECKF(row_bad == 0, "%s x8 row_to_float K=%lld N=%lld: %d rows differ", tname, (long long)K,
                       (long long)N, row_bad);
                free(row_x8);
                free(row_plain);
                for (size_t mi = 0; mi < sizeof Mx / sizeof Mx[0]; mi++) {
                    const int64_t M = Mx[mi];
                    random_activations(x, M, K, rng);
                    reference_matmul(wtype, W, N, K, x, M, y_ref, S);
                    lc_matmul_x8(c1, Wx, wtype, N, K, x, M, y);
                    lc_matmul_x8(c3, Wx, wtype, N, K, x, M, y3);
                    int bad = 0;
                    for (int64_t i = 0; i < M * N; i++) {
                        double e = fabs((double)y[i] - y_ref[i]);
                        if (S[i] > 0 && e / S[i] > worst) worst = e / S[i];
                        if (!(e <= REL_TOL * S[i] + 1e-30) && bad++ < 3)
                            fprintf(stderr, "  %s %s x8 K=%lld N=%lld M=%lld: y[%lld] = %.9g, reference %.9g\n",
                                    kt->name, tname, (long long)K, (long long)N, (long long)M, (long long)i,
                                    y[i], y_ref[i]);
                    }
                    CHECKF(bad == 0, "%s %s x8 K=%lld N=%lld M=%lld: %d outputs off", kt->name, tname,
                           (long long)K, (long long)N, (long long)M, bad);
                    CHECKF(memcmp(y, y3, sizeof(float) * (size_t)(M * N)) == 0, "%s %s x8: 1 and 3 threads differ",
                           kt->name, tname);
                }
                free(W);
                free(Wx);
                free(x);
                free(y);
                free(y3);
                free(y_ref);
                free(S);
            }
        }
        fprintf(stderr, "  %s: %s x8 (%s kernel) vs reference, worst |error| / sum|w*x| = %.2e\n", kt->name,
                tname, full.tile_x8[wtype] ? "native" : "reference", worst);
    }
    lc_compute_free(c1);
    lc_compute_free(c3);
}

/* lc_matmul_group over weights of mixed types and layouts gives each
 * output the bits of its own lc_matmul / lc_matmul_x8 call: Q4_0 and Q8_0
 * share Q8_0 activations, Q6_K and Q4_K take Q8_K ones (a second job),
 * more than LC_MATMUL_GROUP_MAX weights are split, a weight type with no
 * product (Q8_K) gets NaN without touching the others. */
static void test_group(const lc_kernel_table *kt, uint64_t *rng) {
    enum { K = 512, MAXM = 17, NOUT = 6 };
    static const int types[NOUT] = {LC_TYPE_Q4_0, LC_TYPE_Q6_K, LC_TYPE_Q4_0, LC_TYPE_Q8_0, LC_TYPE_Q4_K, LC_TYPE_Q8_K};
    static const bool x8[NOUT] = {false, true, true, false, true, false};
    static const int64_t Nn[NOUT] = {33, 16, 40, 7, 24, 8};
    static const int64_t Mg[] = {1, 5, 17};
    llamac_error err = {{0}};
    lc_compute *c = lc_compute_create(3, MAXM, K, &err);
    CHECKF(c != NULL, "%s", err.msg);
    if (!c) return;
    CHECK(lc_compute_set_kernels(c, kt, &err) == 0);
    uint8_t *W[NOUT];
    float *y[NOUT], *y_one[NOUT];
    float *x = malloc(sizeof(float) * MAXM * K);
    lc_matmul_out outs[NOUT];
    for (int i = 0; i < NOUT; i++) {
        const size_t wrow = lc_row_size(types[i], K);
        W[i] = malloc(wrow * (size_t)Nn[i]);
        y[i] = malloc(sizeof(float) * MAXM * (size_t)Nn[i]);
        y_one[i] = malloc(sizeof(float) * MAXM * (size_t)Nn[i]);
        if (types[i] == LC_TYPE_Q8_K) memset(W[i], 0, wrow * (size_t)Nn[i]);
        else for (int64_t n = 0; n < Nn[i]; n++) random_weight_row(types[i], K, W[i] + n * wrow, rng);
        if (x8[i]) CHECK(lc_x8_repack(types[i], W[i], Nn[i], K) == 0);
        outs[i] = (lc_matmul_out){.W = W[i], .wtype = types[i], .x8 = x8[i], .N = Nn[i], .y = y[i]};
    }
    for (size_t mi = 0; mi < sizeof Mg / sizeof Mg[0]; mi++) {
        const int64_t M = Mg[mi];
        random_activations(x, M, K, rng);
        for (int i = 0; i < NOUT; i++) {
            for (int64_t e = 0; e < M * Nn[i]; e++) y[i][e] = 12345.0f;
            if (x8[i]) lc_matmul_x8(c, W[i], types[i], Nn[i], K, x, M, y_one[i]);
            else lc_matmul(c, W[i], types[i], Nn[i], K, x, M, y_one[i]);
        }
        lc_matmul_group(c, outs, NOUT, K, x, M);
        for (int i = 0; i < NOUT; i++) {
            if (types[i] == LC_TYPE_Q8_K) {
                int nan = 0;
                for (int64_t e = 0; e < M * Nn[i]; e++) nan += isnan(y[i][e]);
                CHECKF(nan == M * Nn[i], "%s group: unsupported Q8_K weight: %d of %lld outputs NaN", kt->name, nan,
                       (long long)(M * Nn[i]));
            } else {
                CHECKF(memcmp(y[i], y_one[i], sizeof(float) * (size_t)(M * Nn[i])) == 0,
                       "%s group M=%lld: weight %d (%s%s) differs from its own matmul", kt->name, (long long)M, i,
                       lc_type_name(types[i]), x8[i] ? " x8" : "");
            }
        }
    }
    for (int i = 0; i < NOUT; i++) {
        free(W[i]);
        free(y[i]);
        free(y_one[i]);
    }
    free(x);
    lc_compute_free(c);
}

/* The same product with 1, 2 and 3 threads: identical bits, because the
 * kernel that computes an output never depends on how rows are split. */
static void test_threads_agree(uint64_t *rng) {
    static const int types[] = {LC_TYPE_Q4_0, LC_TYPE_Q8_0, LC_TYPE_Q4_K, LC_TYPE_Q6_K, LC_TYPE_F16, LC_TYPE_F32};
    static const int64_t Ms_t[] = {1, 5, 17};
    const int64_t N = 203;
    llamac_error err = {{0}};
    lc_compute *ctx[3];
    for (int t = 0; t < 3; t++) {
        ctx[t] = lc_compute_create(t + 1, 17, 4352, &err);
        CHECKF(ctx[t] != NULL, "%s", err.msg);
        if (!ctx[t]) return;
    }
    for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++) {
        const int wtype = types[ti];
        const int64_t K = lc_type_traits_get(wtype)->block_size == QK_K ? 4352 : 4128;
        const size_t wrow = lc_row_size(wtype, K);
        uint8_t *W = malloc(wrow * N);
        float *x = malloc(sizeof(float) * 17 * K);
        float *y[3];
        for (int t = 0; t < 3; t++) y[t] = malloc(sizeof(float) * 17 * N);
        for (int64_t n = 0; n < N; n++) random_weight_row(wtype, K, W + n * wrow, rng);
        for (size_t mi = 0; mi < sizeof Ms_t / sizeof Ms_t[0]; mi++) {
            const int64_t M = Ms_t[mi];
            random_activations(x, M, K, rng);
            for (int t = 0; t < 3; t++) lc_matmul(ctx[t], W, wtype, N, K, x, M, y[t]);
            for (int t = 1; t < 3; t++)
                CHECKF(memcmp(y[0], y[t], sizeof(float) * (size_t)(M * N)) == 0,
                       "%s M=%lld: %d threads differ from 1 thread", lc_type_name(wtype), (long long)M, t + 1);
        }
        free(W);
        free(x);
        for (int t = 0; t < 3; t++) free(y[t]);
    }
    fprintf(stderr, "  threads 1/2/3 agree bit for bit (%s kernels)\n", lc_compute_isa(ctx[0]));
    for (int t = 0; t < 3; t++) lc_compute_free(ctx[t]);
}

/* A context sized for one row of K (as a forward pass sized for decode)
 * must hold that row in every ISA's activation format (a too-small scratch
 * gives NaN), and M > max_rows must be done in passes: both agree with the
 * reference. */
static void test_tight_scratch(const lc_kernel_table *kt, uint64_t *rng) {
    static const int types[] = {LC_TYPE_Q4_0, LC_TYPE_Q8_0, LC_TYPE_Q4_K, LC_TYPE_Q6_K, LC_TYPE_F16, LC_TYPE_BF16};
    const int64_t N = 5, M = 3;
    for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++) {
        const int wtype = types[ti];
        const int64_t K = lc_type_traits_get(wtype)->block_size == QK_K ? 512 : 256;
        llamac_error err = {{0}};
        lc_compute *tight = lc_compute_create(1, 1, K, &err), *roomy = lc_compute_create(1, M, K, &err);
        CHECKF(tight && roomy, "%s", err.msg);
        if (!tight || !roomy) { lc_compute_free(tight); lc_compute_free(roomy); return; }
        CHECK(lc_compute_set_kernels(tight, kt, &err) == 0);
        CHECK(lc_compute_set_kernels(roomy, kt, &err) == 0);
        const size_t wrow = lc_row_size(wtype, K);
        uint8_t *W = malloc(wrow * N);
        float x[3 * 512], y_tight[15], y_roomy[15];
        for (int64_t n = 0; n < N; n++) random_weight_row(wtype, K, W + n * wrow, rng);
        random_activations(x, M, K, rng);
        lc_matmul(tight, W, wtype, N, K, x, M, y_tight);
        lc_matmul(roomy, W, wtype, N, K, x, M, y_roomy);
        float y_ref[15];
        double S[15];
        reference_matmul(wtype, W, N, K, x, M, y_ref, S);
        int bad = 0;
        for (int i = 0; i < M * N; i++) {
            bad += !(fabs((double)y_tight[i] - y_ref[i]) <= REL_TOL * S[i] + 1e-30);
            bad += !(fabs((double)y_roomy[i] - y_ref[i]) <= REL_TOL * S[i] + 1e-30);
        }
        CHECKF(bad == 0, "%s %s: %d outputs off with scratch for one row of K=%lld", kt->name,
               lc_type_name(wtype), bad, (long long)K);
        free(W);
        lc_compute_free(tight);
        lc_compute_free(roomy);
    }
}

typedef struct coverage {
    atomic_int *hits;
    int n_threads;
    atomic_int bad_thread;
} coverage;

static void count_range(void *arg, int64_t begin, int64_t end, int thread) {
    coverage *cv = arg;
    if (thread < 0 || thread >= cv->n_threads || begin >= end) atomic_fetch_add(&cv->bad_thread, 1);
    for (int64_t i = begin; i < end; i++) atomic_fetch_add_explicit(&cv->hits[i], 1, memory_order_relaxed);
}

static void test_parallel_for(void) {
    static const int64_t sizes[] = {0, 1, 2, 3, 7, 1000};
    const int rounds = 300;
    for (int nt = 1; nt <= 3; nt++) {
        llamac_error err = {{0}};
        lc_compute *c = lc_compute_create(nt, 1, 32, &err);
        CHECKF(c != NULL, "%s", err.msg);
        if (!c) continue;
        for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
            const int64_t n = sizes[si];
            coverage cv = {calloc((size_t)n + 1, sizeof(atomic_int)), nt, 0};
            /* many dispatches in a row: a lost wake-up or a job run twice shows as a count != rounds */
            for (int r = 0; r < rounds; r++) lc_parallel_for(c, n, count_range, &cv);
            int wrong = 0;
            for (int64_t i = 0; i < n; i++) wrong += atomic_load(&cv.hits[i]) != rounds;
            CHECKF(wrong == 0, "parallel_for n=%lld threads=%d: %d indices not covered exactly once per call",
                   (long long)n, nt, wrong);
            CHECKF(atomic_load(&cv.bad_thread) == 0, "parallel_for n=%lld threads=%d: bad thread index or empty range",
                   (long long)n, nt);
            free(cv.hits);
        }
        lc_compute_free(c);
    }
}

static void test_api_edges(void) {
    llamac_error err = {{0}};
    lc_compute *c = lc_compute_create(2, 4, 64, &err);
    CHECKF(c != NULL, "%s", err.msg);
    if (!c) return;
    CHECK(lc_compute_set_isa(c, "mmx", &err) == -1);
    CHECKF(strstr(err.msg, "mmx") != NULL, "message names the ISA: %s", err.msg);
    CHECK(lc_compute_set_isa(c, "scalar", &err) == 0);
    CHECK(strcmp(lc_compute_isa(c), "scalar") == 0);
    CHECK(lc_compute_n_threads(c) == 2);
    CHECK(!lc_matmul_supports(LC_TYPE_Q8_K));  /* activation-only type */
    CHECK(!lc_matmul_supports(4));              /* removed id */
    CHECK(lc_matmul_supports(LC_TYPE_Q4_0));
    /* a type without a dot product: NaN outputs, no crash */
    float x[64] = {0}, y[2] = {0, 0};
    uint8_t w[2 * 292] = {0};
    lc_matmul(c, w, LC_TYPE_Q8_K, 2, 64, x, 1, y);
    CHECK(isnan(y[0]) && isnan(y[1]));
    lc_compute_free(c);
    lc_compute_free(NULL);
    char info[1024];
    size_t len = llamac_system_info(info, sizeof info);
    CHECK(len > 0 && strstr(info, "kernels chosen:") != NULL);
    CHECK(llamac_physical_cores() >= 1);
    int64_t t0 = llamac_time_us(), t1 = llamac_time_us();
    CHECK(t0 > 0 && t1 >= t0);
}

#ifdef LLAMAC_TEST_AVX512_EMULATED
extern const lc_kernel_table lc_kernels_avx512_emulated;
extern const lc_kernel_table lc_kernels_avx512_bf16_emulated;
#endif

/* The table's SwiGLU against expf: random gates over the range that
 * matters (|g| < 24) and extremes, odd lengths for the vector tails.
 * A wrong polynomial term or exponent bias moves results by 1e-3 or more. */
static void test_swiglu(const lc_kernel_table *table, uint64_t *rng) {
    lc_kernel_table full;
    lc_kernel_table_resolve(table, &full);
    if (!full.swiglu) return;
    static const float extremes[] = {0.0f, -0.0f, 1e-30f, -1e-30f, 80.0f, -80.0f, 87.0f, -87.0f, 100.0f, -100.0f, 1e6f};
    static const int64_t ns[] = {1, 7, 8, 9, 33, 1000};
    const size_t n_extremes = sizeof extremes / sizeof extremes[0];
    double worst = 0.0;
    for (size_t t = 0; t < sizeof ns / sizeof ns[0]; t++) {
        const int64_t n = ns[t] + (int64_t)n_extremes;
        float *gate = malloc((size_t)n * sizeof(float)), *up = malloc((size_t)n * sizeof(float));
        float *ref = malloc((size_t)n * sizeof(float));
        for (int64_t i = 0; i < n; i++) {
            gate[i] = i < (int64_t)n_extremes ? extremes[i] : 24.0f * lc_test_randf(rng);
            up[i] = 3.0f * lc_test_randf(rng);
        }
        memcpy(ref, gate, (size_t)n * sizeof(float));
        lc_swiglu_reference(ref, up, n);
        full.swiglu(gate, up, n);
        for (int64_t i = 0; i < n; i++) {
            const double err = fabs((double)gate[i] - (double)ref[i]);
            if (fabs((double)ref[i]) > 1e-20 && err / fabs((double)ref[i]) > worst) worst = err / fabs((double)ref[i]);
            CHECKF(err <= 1e-6 * fabs((double)ref[i]) + 1e-30, "%s swiglu n=%lld [%lld]: %.9g, reference %.9g",
                   full.name, (long long)n, (long long)i, gate[i], ref[i]);
        }
        free(gate);
        free(up);
        free(ref);
    }
    fprintf(stderr, "  %s: swiglu vs expf, worst relative error %.2e\n", full.name, worst);
}

static void test_table(const lc_kernel_table *kt, uint64_t *rng) {
    fprintf(stderr, "table %s: testing\n", kt->name);
    test_quantizers(kt, rng);
    test_tight_scratch(kt, rng);
    test_x8(kt, rng);
    test_swiglu(kt, rng);
    test_group(kt, rng);
    double worst = test_matmul_vs_reference(kt, rng);
    fprintf(stderr, "  %s: matmul vs reference, worst |error| / sum|w*x| = %.2e (tolerance %.0e)\n", kt->name, worst,
            REL_TOL);
}

/* The AVX-512 tables compiled on SIMDe, held against the scalar reference
 * like the native ones; their base table is AVX2. */
static int test_avx512_emulated(void) {
    const char *missing = lc_test_avx512_emulated_missing();
    if (missing) {
        fprintf(stderr, "test_kernels --avx512-emulated: skipped: %s\n", missing);
        return TEST_SKIPPED;
    }
#ifdef LLAMAC_TEST_AVX512_EMULATED
    uint64_t rng = 0x9e3779b97f4a7c15ULL;
    test_table(&lc_kernels_avx512_emulated, &rng);
    test_table(&lc_kernels_avx512_bf16_emulated, &rng);
#endif
    return TEST_SUMMARY("test_kernels --avx512-emulated");
}

int main(int argc, char **argv) {
    if (lc_test_avx512_emulated_mode(argc, argv)) return test_avx512_emulated();
    uint64_t rng = 0x9e3779b97f4a7c15ULL;
    char info[1024];
    llamac_system_info(info, sizeof info);
    fprintf(stderr, "%s", info);
    for (int i = 0; i < LC_ISA_COUNT; i++) {
        char why[64] = "";
        if (!lc_isa_available((lc_isa)i, why, sizeof why)) {
            fprintf(stderr, "isa %s: skipped: %s\n", lc_isa_name((lc_isa)i), why);
            continue;
        }
        test_table(lc_kernel_table_get((lc_isa)i), &rng);
    }
    test_threads_agree(&rng);
    test_parallel_for();
    test_api_edges();
    return TEST_SUMMARY("test_kernels");
}
