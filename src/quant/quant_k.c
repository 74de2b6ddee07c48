/* K-quants: 256-element super-blocks (docs/formats.md "K-quants") and their dot
 * products with the Q8_K activation type (3).
 *
 * Q4_K, Q5_K, Q6_K and Q8_K have reference quantizers that reproduce ggml's
 * quantize_row_*_ref byte for byte: the scale searches (make_qkx2_quants,
 * make_qx_quants) are restated here operation by operation, because any
 * change in the order of float operations can flip a rounding and so a
 * stored byte. Q2_K and Q3_K are read-only (dequantize and dot product). */
#include <math.h>

#include "quant/quant.h"

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF /* GCC does not contract in ISO C mode */
#endif

#define GROUP_MAX_EPS 1e-15f /* ggml: a group whose max |x| is below this is zero */

static int min_int(int a, int b) { return a < b ? a : b; }
static int clamp_int(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

/* An int that fits in int8_t, or its low byte read as int8_t (what a
 * conversion does on every compiler we support), without relying on
 * implementation-defined behaviour. */
static int8_t wrap_int8(int v) {
    int b = v & 0xFF;
    return (int8_t)(b > 127 ? b - 256 : b);
}

/* ------------------------------------------------------------ scale search */

/* Weighted least-squares fit x ≈ scale·L − min with L in 0..nmax and min ≥ 0
 * (ggml's make_qkx2_quants with squared error). Tries nstep+1 trial inverse
 * scales around nmax/(max−min) and keeps the one with the smallest weighted
 * error. Writes L and *min_out, returns scale. */
static float fit_scale_min(int n, int nmax, const float *x, const float *w, uint8_t *L,
                           float *min_out, float rmin, float rdelta, int nstep) {
    float min = x[0], max = x[0];
    float sum_w = w[0];
    float sum_x = sum_w * x[0];
    for (int i = 1; i < n; i++) {
        if (x[i] < min) min = x[i];
        if (x[i] > max) max = x[i];
        sum_w += w[i];
        sum_x += w[i] * x[i];
    }
    if (min > 0) min = 0;
    if (max == min) {
        memset(L, 0, (size_t)n);
        *min_out = -min;
        return 0.0f;
    }
    float iscale = (float)nmax / (max - min);
    float scale = 1 / iscale;
    float best_error = 0;
    for (int i = 0; i < n; i++) {
        L[i] = (uint8_t)clamp_int(lc_nearest_int(iscale * (x[i] - min)), 0, nmax);
        const float diff = scale * (float)L[i] + min - x[i];
        best_error += w[i] * (diff * diff);
    }
    uint8_t trial[QK_K];
    for (int step = 0; step <= nstep; step++) {
        iscale = (rmin + rdelta * (float)step + (float)nmax) / (max - min);
        float sum_l = 0, sum_l2 = 0, sum_xl = 0;
        for (int i = 0; i < n; i++) {
            const int l = clamp_int(lc_nearest_int(iscale * (x[i] - min)), 0, nmax);
            trial[i] = (uint8_t)l;
            sum_l += w[i] * (float)l;
            sum_l2 += w[i] * (float)l * (float)l;
            sum_xl += w[i] * (float)l * x[i];
        }
        const float D = sum_w * sum_l2 - sum_l * sum_l;
        if (!(D > 0)) continue;
        float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
        float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
        if (this_min > 0) { /* the fit wants a positive offset: pin it to 0 */
            this_min = 0;
            this_scale = sum_xl / sum_l2;
        }
        float error = 0;
        for (int i = 0; i < n; i++) {
            const float diff = this_scale * (float)trial[i] + this_min - x[i];
            error += w[i] * (diff * diff);
        }
        if (error < best_error) {
            memcpy(L, trial, (size_t)n);
            best_error = error;
            scale = this_scale;
            min = this_min;
        }
    }
    *min_out = -min;
    return scale;
}

static int symmetric_level(float iscale, float x, int nmax) {
    return clamp_int(lc_nearest_int(iscale * x), -nmax, nmax - 1);
}

/* Symmetric fit x ≈ scale·l with l in −nmax..nmax−1, weights x² (ggml's
 * make_qx_quants with rmse_type 1): 19 trial scales around −nmax/max, keeping
 * the one that maximises (Σwxl)²/Σwl². Stores L = l + nmax, returns scale. */
static float fit_scale_symmetric(int n, int nmax, const float *x, int8_t *L) {
    float max = 0, amax = 0;
    for (int i = 0; i < n; i++) {
        if (fabsf(x[i]) > amax) {
            amax = fabsf(x[i]);
            max = x[i];
        }
    }
    if (amax < GROUP_MAX_EPS) {
        memset(L, 0, (size_t)n);
        return 0.0f;
    }
    float iscale = (float)(-nmax) / max;
    float sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; i++) {
        const int l = symmetric_level(iscale, x[i], nmax);
        L[i] = (int8_t)(l + nmax);
        const float w = x[i] * x[i];
        sumlx += w * x[i] * (float)l;
        suml2 += w * (float)l * (float)l;
    }
    float scale = suml2 != 0 ? sumlx / suml2 : 0.0f;
    float best = scale * sumlx;
    for (int step = -9; step <= 9; step++) {
        if (step == 0) continue;
        iscale = -((float)nmax + 0.1f * (float)step) / max;
        sumlx = suml2 = 0;
        for (int i = 0; i < n; i++) {
            const int l = symmetric_level(iscale, x[i], nmax);
            const float w = x[i] * x[i];
            sumlx += w * x[i] * (float)l;
            suml2 += w * (float)l * (float)l;
        }
        if (suml2 > 0 && sumlx * sumlx > best * suml2) {
            for (int i = 0; i < n; i++) L[i] = (int8_t)(nmax + symmetric_level(iscale, x[i], nmax));
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    return scale;
}

/* ------------------------------------------------------ Q4_K / Q5_K common */

/* Steps 1-3 of the Q4_K/Q5_K reference (docs/formats.md "K-quants") for one super-block:
 * fit each 32-element sub-block, quantize the scales and mins to 6 bits
 * against their maxima, store d/dmin as f16, then requantize every element
 * with the stored values. L receives levels 0..nmax. */
static void quantize_k4_superblock(const float *x, int nmax, float rmin, int nstep, lc_f16 *d_out,
                                   lc_f16 *dmin_out, uint8_t scales_out[K_SCALE_SIZE],
                                   uint8_t L[QK_K]) {
    float scales[QK_K / 32], mins[QK_K / 32];
    float max_scale = 0, max_min = 0;
    for (int j = 0; j < QK_K / 32; j++) {
        const float *xs = x + 32 * j;
        /* weights favour large elements over a floor of the sub-block rms */
        float sum_x2 = 0;
        for (int l = 0; l < 32; l++) sum_x2 += xs[l] * xs[l];
        const float av_x = sqrtf(sum_x2 / 32);
        float weights[32];
        for (int l = 0; l < 32; l++) weights[l] = av_x + fabsf(xs[l]);
        scales[j] = fit_scale_min(32, nmax, xs, weights, L + 32 * j, &mins[j], rmin, 0.1f, nstep);
        if (scales[j] > max_scale) max_scale = scales[j];
        if (mins[j] > max_min) max_min = mins[j];
    }
    const float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
    const float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
    int ls[8], lm[8];
    for (int j = 0; j < QK_K / 32; j++) {
        /* ggml stores nearest_int into a uint8_t before the min */
        ls[j] = min_int(63, (uint8_t)lc_nearest_int(inv_scale * scales[j]));
        lm[j] = min_int(63, (uint8_t)lc_nearest_int(inv_min * mins[j]));
    }
    lc_k4_pack_scales(ls, lm, scales_out);
    *d_out = lc_f32_to_f16(max_scale / 63.f);
    *dmin_out = lc_f32_to_f16(max_min / 63.f);

    const float d = lc_f16_to_f32(*d_out), dmin = lc_f16_to_f32(*dmin_out);
    for (int j = 0; j < QK_K / 32; j++) {
        int sc, m;
        lc_k4_scale_min(scales_out, j, &sc, &m);
        const float ds = d * (float)sc;
        if (ds == 0) continue; /* keep the levels of the fit */
        const float dm = dmin * (float)m;
        for (int l = 0; l < 32; l++)
            L[32 * j + l] = (uint8_t)clamp_int(lc_nearest_int((x[32 * j + l] + dm) / ds), 0, nmax);
    }
}

/* ------------------------------------------------------------------ Q4_K */

void lc_quantize_q4_K_ref(const float *src, void *dst, int64_t n) {
    block_q4_K *y = dst;
    for (int64_t b = 0; b < n / QK_K; b++) {
        uint8_t L[QK_K];
        quantize_k4_superblock(src + b * QK_K, 15, -1.0f, 20, &y[b].d, &y[b].dmin, y[b].scales, L);
        /* chunk c: low nibbles are elements 64c.., high nibbles 64c+32.. */
        for (int c = 0; c < 4; c++)
            for (int l = 0; l < 32; l++)
                y[b].qs[32 * c + l] = (uint8_t)(L[64 * c + l] | (L[64 * c + 32 + l] << 4));
    }
}

static void unpack_q4_K(const block_q4_K *x, int q[QK_K]) {
    for (int c = 0; c < 4; c++) {
        for (int l = 0; l < 32; l++) {
            q[64 * c + l] = x->qs[32 * c + l] & 0xF;
            q[64 * c + 32 + l] = x->qs[32 * c + l] >> 4;
        }
    }
}

/* x = (d·sc)·q − dmin·m per 32-element sub-block, shared by Q4_K and Q5_K. */
static void dequantize_k4_levels(const int q[QK_K], lc_f16 d16, lc_f16 dmin16,
                                 const uint8_t scales[K_SCALE_SIZE], float *y) {
    const float d = lc_f16_to_f32(d16), dmin = lc_f16_to_f32(dmin16);
    for (int j = 0; j < QK_K / 32; j++) {
        int sc, m;
        lc_k4_scale_min(scales, j, &sc, &m);
        const float ds = d * (float)sc, dm = dmin * (float)m;
        for (int l = 0; l < 32; l++) y[32 * j + l] = ds * (float)q[32 * j + l] - dm;
    }
}

void lc_to_float_q4_K(const void *src, float *dst, int64_t n) {
    const block_q4_K *x = src;
    for (int64_t b = 0; b < n / QK_K; b++) {
        int q[QK_K];
        unpack_q4_K(&x[b], q);
        dequantize_k4_levels(q, x[b].d, x[b].dmin, x[b].scales, dst + b * QK_K);
    }
}

/* ------------------------------------------------------------------ Q5_K */

void lc_quantize_q5_K_ref(const float *src, void *dst, int64_t n) {
    block_q5_K *y = dst;
    for (int64_t b = 0; b < n / QK_K; b++) {
        uint8_t L[QK_K];
        quantize_k4_superblock(src + b * QK_K, 31, -0.5f, 15, &y[b].d, &y[b].dmin, y[b].scales, L);
        memset(y[b].qh, 0, sizeof y[b].qh);
        for (int c = 0; c < 4; c++) {
            for (int l = 0; l < 32; l++) {
                const int lo = L[64 * c + l], hi = L[64 * c + 32 + l];
                y[b].qs[32 * c + l] = (uint8_t)((lo & 0xF) | ((hi & 0xF) << 4));
                y[b].qh[l] |= (uint8_t)(((lo >> 4) << (2 * c)) | ((hi >> 4) << (2 * c + 1)));
            }
        }
    }
}

static void unpack_q5_K(const block_q5_K *x, int q[QK_K]) {
    for (int c = 0; c < 4; c++) {
        for (int l = 0; l < 32; l++) {
            q[64 * c + l] = (x->qs[32 * c + l] & 0xF) | (((x->qh[l] >> (2 * c)) & 1) << 4);
            q[64 * c + 32 + l] = (x->qs[32 * c + l] >> 4) | (((x->qh[l] >> (2 * c + 1)) & 1) << 4);
        }
    }
}

void lc_to_float_q5_K(const void *src, float *dst, int64_t n) {
    const block_q5_K *x = src;
    for (int64_t b = 0; b < n / QK_K; b++) {
        int q[QK_K];
        unpack_q5_K(&x[b], q);
        dequantize_k4_levels(q, x[b].d, x[b].dmin, x[b].scales, dst + b * QK_K);
    }
}

/* ------------------------------------------------------------------ Q6_K */

/* Element placement of Q6_K in docs/formats.md "K-quants": half h, l = 0..31, four elements
 * 128h + l + 32k share ql/qh bytes. */
static void pack_q6_K(const int8_t L[QK_K], block_q6_K *y) {
    for (int h = 0; h < 2; h++) {
        const int8_t *Lh = L + 128 * h;
        uint8_t *ql = y->ql + 64 * h, *qh = y->qh + 32 * h;
        for (int l = 0; l < 32; l++) {
            ql[l] = (uint8_t)((Lh[l] & 0xF) | ((Lh[l + 64] & 0xF) << 4));
            ql[l + 32] = (uint8_t)((Lh[l + 32] & 0xF) | ((Lh[l + 96] & 0xF) << 4));
            qh[l] = (uint8_t)((Lh[l] >> 4) | ((Lh[l + 32] >> 4) << 2) | ((Lh[l + 64] >> 4) << 4) |
                              ((Lh[l + 96] >> 4) << 6));
        }
    }
}

/* Levels q − 32 in −32..31. */
static void unpack_q6_K(const block_q6_K *x, int q[QK_K]) {
    for (int h = 0; h < 2; h++) {
        const uint8_t *ql = x->ql + 64 * h, *qh = x->qh + 32 * h;
        int *qo = q + 128 * h;
        for (int l = 0; l < 32; l++) {
            qo[l] = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
            qo[l + 32] = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
            qo[l + 64] = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
            qo[l + 96] = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        }
    }
}

void lc_quantize_q6_K_ref(const float *src, void *dst, int64_t n) {
    block_q6_K *y = dst;
    for (int64_t b = 0; b < n / QK_K; b++) {
        const float *x = src + b * QK_K;
        int8_t L[QK_K];
        float scales[QK_K / 16];
        float max_scale = 0, max_abs_scale = 0;
        for (int g = 0; g < QK_K / 16; g++) {
            scales[g] = fit_scale_symmetric(16, 32, x + 16 * g, L + 16 * g);
            if (fabsf(scales[g]) > max_abs_scale) {
                max_abs_scale = fabsf(scales[g]);
                max_scale = scales[g];
            }
        }
        if (max_abs_scale < GROUP_MAX_EPS) {
            memset(&y[b], 0, sizeof y[b]);
            continue;
        }
        /* the largest group scale becomes −128 */
        const float iscale = -128.f / max_scale;
        y[b].d = lc_f32_to_f16(1 / iscale);
        for (int g = 0; g < QK_K / 16; g++)
            y[b].scales[g] = wrap_int8(min_int(127, lc_nearest_int(iscale * scales[g])));
        const float d = lc_f16_to_f32(y[b].d);
        for (int g = 0; g < QK_K / 16; g++) {
            const float dg = d * (float)y[b].scales[g];
            if (dg == 0) continue; /* keep the levels of the fit */
            for (int i = 0; i < 16; i++)
                L[16 * g + i] = (int8_t)(clamp_int(lc_nearest_int(x[16 * g + i] / dg), -32, 31) + 32);
        }
        pack_q6_K(L, &y[b]);
    }
}

void lc_to_float_q6_K(const void *src, float *dst, int64_t n) {
    const block_q6_K *x = src;
    for (int64_t b = 0; b < n / QK_K; b++) {
        int q[QK_K];
        unpack_q6_K(&x[b], q);
        const float d = lc_f16_to_f32(x[b].d);
        for (int e = 0; e < QK_K; e++) dst[b * QK_K + e] = d * (float)x[b].scales[e / 16] * (float)q[e];
    }
}

/* ------------------------------------------------------------------ Q8_K */

void lc_quantize_q8_K_ref(const float *src, void *dst, int64_t n) {
    block_q8_K *y = dst;
    for (int64_t b = 0; b < n / QK_K; b++) {
        const float *x = src + b * QK_K;
        float max = 0, amax = 0;
        for (int j = 0; j < QK_K; j++) {
            if (fabsf(x[j]) > amax) {
                amax = fabsf(x[j]);
                max = x[j];
            }
        }
        if (amax == 0) {
            /* ggml leaves bsums untouched here; zero is the only sensible value */
            memset(&y[b], 0, sizeof y[b]);
            continue;
        }
        const float iscale = -127.f / max;
        for (int j = 0; j < QK_K; j++) y[b].qs[j] = wrap_int8(min_int(127, lc_nearest_int(iscale * x[j])));
        for (int g = 0; g < QK_K / 16; g++) {
            int sum = 0;
            for (int i = 0; i < 16; i++) sum += y[b].qs[16 * g + i];
            y[b].bsums[g] = (int16_t)sum;
        }
        y[b].d = 1 / iscale; /* f32, not f16 */
    }
}

void lc_to_float_q8_K(const void *src, float *dst, int64_t n) {
    const block_q8_K *x = src;
    for (int64_t b = 0; b < n / QK_K; b++)
        for (int j = 0; j < QK_K; j++) dst[b * QK_K + j] = x[b].d * (float)x[b].qs[j];
}

/* ------------------------------------------------------- Q2_K / Q3_K (read) */

/* Element e: 2 bits at shift 2·((e%128)/32) of qs[32·(e/128) + e%32]. */
static int q2_bits(const uint8_t qs[QK_K / 4], int e) {
    return (qs[32 * (e / 128) + e % 32] >> (2 * ((e % 128) / 32))) & 3;
}

/* Levels 0..3; the scale and min of element e are the nibbles of scales[e/16]. */
static void unpack_q2_K(const block_q2_K *x, int q[QK_K]) {
    for (int e = 0; e < QK_K; e++) q[e] = q2_bits(x->qs, e);
}

/* Levels −4..3: the 2 low bits as in Q2_K, minus 4 unless the element's bit
 * in hmask (bit (e/32) of hmask[e%32]) is set. */
static void unpack_q3_K(const block_q3_K *x, int q[QK_K]) {
    for (int e = 0; e < QK_K; e++) {
        const int high = (x->hmask[e % 32] >> (e / 32)) & 1;
        q[e] = q2_bits(x->qs, e) - (high ? 0 : 4);
    }
}

void lc_to_float_q2_K(const void *src, float *dst, int64_t n) {
    const block_q2_K *x = src;
    for (int64_t b = 0; b < n / QK_K; b++) {
        int q[QK_K];
        unpack_q2_K(&x[b], q);
        const float d = lc_f16_to_f32(x[b].d), dmin = lc_f16_to_f32(x[b].dmin);
        for (int e = 0; e < QK_K; e++) {
            const uint8_t sc = x[b].scales[e / 16];
            const float dl = d * (float)(sc & 0xF), ml = dmin * (float)(sc >> 4);
            dst[b * QK_K + e] = dl * (float)q[e] - ml;
        }
    }
}

void lc_to_float_q3_K(const void *src, float *dst, int64_t n) {
    const block_q3_K *x = src;
    for (int64_t b = 0; b < n / QK_K; b++) {
        int q[QK_K];
        unpack_q3_K(&x[b], q);
        const float d = lc_f16_to_f32(x[b].d);
        for (int e = 0; e < QK_K; e++) {
            const float dl = d * (float)lc_q3_K_scale(x[b].scales, e / 16);
            dst[b * QK_K + e] = dl * (float)q[e];
        }
    }
}

/* ------------------------------------------------------------ dot products */

/* Σ_{e in [start, start+len)} q_e·a_e, exact in int32 (|q| ≤ 32, |a| ≤ 128). */
static int32_t int_dot(const int *q, const int8_t *a, int start, int len) {
    int32_t sum = 0;
    for (int e = start; e < start + len; e++) sum += q[e] * a[e];
    return sum;
}

/* Σ_i sc_i · Σ_{e in sub-block i} q_e·a_e for 8 sub-blocks of 32 and
 * Σ_g m_{g/2}·bsums_g, for Q4_K and Q5_K. */
static float dot_k4_superblock(const int q[QK_K], lc_f16 d16, lc_f16 dmin16,
                               const uint8_t scales[K_SCALE_SIZE], const block_q8_K *a) {
    int32_t sum_scaled = 0, sum_mins = 0;
    for (int j = 0; j < QK_K / 32; j++) {
        int sc, m;
        lc_k4_scale_min(scales, j, &sc, &m);
        sum_scaled += sc * int_dot(q, a->qs, 32 * j, 32);
        sum_mins += m * (a->bsums[2 * j] + a->bsums[2 * j + 1]);
    }
    const float d = lc_f16_to_f32(d16) * a->d, dmin = lc_f16_to_f32(dmin16) * a->d;
    return d * (float)sum_scaled - dmin * (float)sum_mins;
}

void lc_vec_dot_q4_K_q8_K(int64_t n, float *out, const void *w, const void *x) {
    const block_q4_K *bw = w;
    const block_q8_K *bx = x;
    float sum = 0.0f;
    for (int64_t b = 0; b < n / QK_K; b++) {
        int q[QK_K];
        unpack_q4_K(&bw[b], q);
        sum += dot_k4_superblock(q, bw[b].d, bw[b].dmin, bw[b].scales, &bx[b]);
    }
    *out = sum;
}

void lc_vec_dot_q5_K_q8_K(int64_t n, float *out, const void *w, const void *x) {
    const block_q5_K *bw = w;
    const block_q8_K *bx = x;
    float sum = 0.0f;
    for (int64_t b = 0; b < n / QK_K; b++) {
        int q[QK_K];
        unpack_q5_K(&bw[b], q);
        sum += dot_k4_superblock(q, bw[b].d, bw[b].dmin, bw[b].scales, &bx[b]);
    }
    *out = sum;
}

void lc_vec_dot_q6_K_q8_K(int64_t n, float *out, const void *w, const void *x) {
    const block_q6_K *bw = w;
    const block_q8_K *bx = x;
    float sum = 0.0f;
    for (int64_t b = 0; b < n / QK_K; b++) {
        int q[QK_K];
        unpack_q6_K(&bw[b], q);
        int32_t isum = 0;
        for (int g = 0; g < QK_K / 16; g++) isum += bw[b].scales[g] * int_dot(q, bx[b].qs, 16 * g, 16);
        sum += (lc_f16_to_f32(bw[b].d) * bx[b].d) * (float)isum;
    }
    *out = sum;
}

void lc_vec_dot_q2_K_q8_K(int64_t n, float *out, const void *w, const void *x) {
    const block_q2_K *bw = w;
    const block_q8_K *bx = x;
    float sum = 0.0f;
    for (int64_t b = 0; b < n / QK_K; b++) {
        int q[QK_K];
        unpack_q2_K(&bw[b], q);
        int32_t sum_scaled = 0, sum_mins = 0;
        for (int g = 0; g < QK_K / 16; g++) {
            sum_scaled += (bw[b].scales[g] & 0xF) * int_dot(q, bx[b].qs, 16 * g, 16);
            sum_mins += (bw[b].scales[g] >> 4) * bx[b].bsums[g];
        }
        const float d = lc_f16_to_f32(bw[b].d) * bx[b].d, dmin = lc_f16_to_f32(bw[b].dmin) * bx[b].d;
        sum += d * (float)sum_scaled - dmin * (float)sum_mins;
    }
    *out = sum;
}

void lc_vec_dot_q3_K_q8_K(int64_t n, float *out, const void *w, const void *x) {
    const block_q3_K *bw = w;
    const block_q8_K *bx = x;
    float sum = 0.0f;
    for (int64_t b = 0; b < n / QK_K; b++) {
        int q[QK_K];
        unpack_q3_K(&bw[b], q);
        int32_t isum = 0;
        for (int g = 0; g < QK_K / 16; g++)
            isum += lc_q3_K_scale(bw[b].scales, g) * int_dot(q, bx[b].qs, 16 * g, 16);
        sum += (lc_f16_to_f32(bw[b].d) * bx[b].d) * (float)isum;
    }
    *out = sum;
}
