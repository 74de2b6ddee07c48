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
static float fit_scale_min_seq(int n, int nmax, const float *x, const float *w, uint8_t *L,
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

/* The first trial of the symmetric fit below (ggml's make_qx_quants with
 * rmse_type 1), shared by its two forms: finds the element of largest
 * magnitude (*max), stores the levels of scale -nmax/max as L = l + nmax and
 * returns that trial's (Σwxl, Σwl²), w = x². False (L zeroed) when every
 * element is below GROUP_MAX_EPS. */
static bool symmetric_first_trial(int n, int nmax, const float *x, int8_t *L, float *max_out, float *sumlx_out,
                                  float *suml2_out) {
    float max = 0, amax = 0;
    for (int i = 0; i < n; i++) {
        if (fabsf(x[i]) > amax) {
            amax = fabsf(x[i]);
            max = x[i];
        }
    }
    if (amax < GROUP_MAX_EPS) {
        memset(L, 0, (size_t)n);
        return false;
    }
    const float iscale = (float)(-nmax) / max;
    float sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; i++) {
        const int l = symmetric_level(iscale, x[i], nmax);
        L[i] = (int8_t)(l + nmax);
        const float w = x[i] * x[i];
        sumlx += w * x[i] * (float)l;
        suml2 += w * (float)l * (float)l;
    }
    *max_out = max;
    *sumlx_out = sumlx;
    *suml2_out = suml2;
    return true;
}

/* Symmetric fit x ≈ scale·l with l in −nmax..nmax−1, weights x² (ggml's
 * make_qx_quants with rmse_type 1): 19 trial scales around −nmax/max, keeping
 * the one that maximises (Σwxl)²/Σwl². Stores L = l + nmax, returns scale. */
static float fit_scale_symmetric_seq(int n, int nmax, const float *x, int8_t *L) {
    float max, sumlx, suml2;
    if (!symmetric_first_trial(n, nmax, x, L, &max, &sumlx, &suml2)) return 0.0f;
    float scale = suml2 != 0 ? sumlx / suml2 : 0.0f;
    float best = scale * sumlx;
    for (int step = -9; step <= 9; step++) {
        if (step == 0) continue;
        const float iscale = -((float)nmax + 0.1f * (float)step) / max;
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

/* The scale searches below try many candidate scales on the same few
 * elements. ggml runs the trials one after another, each a chain of
 * dependent float additions over the elements, so the CPU waits on every
 * add. Here TRIAL_LANES trials run side by side in the lanes of generic
 * 4-float vectors (GCC/Clang vector extensions: plain element-wise IEEE
 * single operations, 16 bytes so that every target, SSE2 and NEON
 * included, has them natively; no ISA-specific code), while every trial
 * still sums its elements in ggml's order with ggml's expressions, so each
 * sum, and so each stored byte, is bit-identical to the
 * one-trial-at-a-time code. Vectors go through pointers, never by value. */
#define TRIAL_LANES 4
typedef float lanes_f __attribute__((vector_size(TRIAL_LANES * sizeof(float))));
typedef int32_t lanes_i __attribute__((vector_size(TRIAL_LANES * sizeof(int32_t))));

/* Per lane: nearest_int(iscale·v) (lc_nearest_int's float trick) clamped
 * to lo..hi, as a float (the clamp on the float value of a small integer is
 * exact). */
static inline void lanes_level(lanes_f *out, const lanes_f *iscale, float v, const lanes_f *lo,
                               const lanes_f *hi) {
    const lanes_f val = *iscale * v + 12582912.0f;
    lanes_i bits;
    memcpy(&bits, &val, sizeof bits);
    const lanes_f l = __builtin_convertvector((bits & 0x007fffff) - 0x00400000, lanes_f);
    const lanes_i below = l < *lo, above = l > *hi;
    lanes_i li, lob, hib;
    memcpy(&li, &l, sizeof li);
    memcpy(&lob, lo, sizeof lob);
    memcpy(&hib, hi, sizeof hib);
    const lanes_i r = (~(below | above) & li) | (below & lob) | (above & hib);
    memcpy(out, &r, sizeof r);
}

/* Selects a where the mask is set, b elsewhere. */
static inline lanes_f lanes_select(lanes_i mask, lanes_f a, lanes_f b) {
    return (lanes_f)((mask & (lanes_i)a) | (~mask & (lanes_i)b));
}

/* fit_scale_min_seq for four sub-blocks of 32 at once, one per lane: every
 * lane runs exactly the sequential search (the same trials in the same
 * order, its own min moving when a trial wins), so the outputs equal four
 * calls of fit_scale_min_seq bit for bit. x and w hold the four sub-blocks
 * one after another; L receives their levels the same way. */
static void fit_scale_min_x4(int nmax, const float *x, const float *w, uint8_t *L, float scale_out[4],
                             float min_out[4], float rmin, float rdelta, int nstep) {
    lanes_f xt[32], wt[32], best_l[32];
    for (int i = 0; i < 32; i++)
        for (int j = 0; j < TRIAL_LANES; j++) {
            xt[i][j] = x[32 * j + i];
            wt[i][j] = w[32 * j + i];
        }
    lanes_f min = xt[0], max = xt[0], sum_w = wt[0];
    lanes_f sum_x = sum_w * xt[0];
    for (int i = 1; i < 32; i++) {
        min = lanes_select(xt[i] < min, xt[i], min);
        max = lanes_select(xt[i] > max, xt[i], max);
        sum_w += wt[i];
        sum_x += wt[i] * xt[i];
    }
    const lanes_f zero = {0}, one = zero + 1.0f, lo = zero, hi = zero + (float)nmax;
    min = lanes_select(min > zero, zero, min);
    const lanes_i active = max != min; /* a constant sub-block keeps L = 0, scale 0 */
    lanes_f iscale = (zero + (float)nmax) / lanes_select(active, max - min, one);
    lanes_f scale = 1 / iscale, best_error = zero;
    for (int i = 0; i < 32; i++) {
        const lanes_f v = iscale * (xt[i] - min) + 12582912.0f;
        const lanes_f l0 = __builtin_convertvector(((lanes_i)v & 0x007fffff) - 0x00400000, lanes_f);
        best_l[i] = lanes_select(l0 < lo, lo, lanes_select(l0 > hi, hi, l0));
        const lanes_f diff = scale * best_l[i] + min - xt[i];
        best_error += wt[i] * (diff * diff);
    }
    lanes_f levels[32];
    for (int step = 0; step <= nstep; step++) {
        iscale = (zero + (rmin + rdelta * (float)step + (float)nmax)) / lanes_select(active, max - min, one);
        lanes_f sum_l = zero, sum_l2 = zero, sum_xl = zero;
        for (int i = 0; i < 32; i++) {
            const lanes_f v = iscale * (xt[i] - min) + 12582912.0f;
            const lanes_f l0 = __builtin_convertvector(((lanes_i)v & 0x007fffff) - 0x00400000, lanes_f);
            const lanes_f l = lanes_select(l0 < lo, lo, lanes_select(l0 > hi, hi, l0));
            levels[i] = l;
            sum_l += wt[i] * l;
            sum_l2 += wt[i] * l * l;
            sum_xl += wt[i] * l * xt[i];
        }
        const lanes_f D = sum_w * sum_l2 - sum_l * sum_l;
        const lanes_i fitted = active & (D > zero);
        const lanes_f D_safe = lanes_select(fitted, D, one);
        lanes_f this_scale = (sum_w * sum_xl - sum_x * sum_l) / D_safe;
        lanes_f this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D_safe;
        /* the fit wants a positive offset: pin it to 0 */
        const lanes_i pin = fitted & (this_min > zero);
        this_min = lanes_select(pin, zero, this_min);
        this_scale = lanes_select(pin, sum_xl / lanes_select(pin, sum_l2, one), this_scale);
        lanes_f error = zero;
        for (int i = 0; i < 32; i++) {
            const lanes_f diff = this_scale * levels[i] + this_min - xt[i];
            error += wt[i] * (diff * diff);
        }
        const lanes_i better = fitted & (error < best_error);
        for (int i = 0; i < 32; i++) best_l[i] = lanes_select(better, levels[i], best_l[i]);
        best_error = lanes_select(better, error, best_error);
        scale = lanes_select(better, this_scale, scale);
        min = lanes_select(better, this_min, min);
    }
    for (int j = 0; j < TRIAL_LANES; j++) {
        const bool on = active[j] != 0;
        for (int i = 0; i < 32; i++) L[32 * j + i] = on ? (uint8_t)best_l[i][j] : 0;
        scale_out[j] = on ? scale[j] : 0.0f;
        min_out[j] = -min[j];
    }
}

/* Symmetric fit x ≈ scale·l with l in −nmax..nmax−1, weights x² (ggml's
 * make_qx_quants with rmse_type 1): 19 trial scales around −nmax/max, keeping
 * the one that maximises (Σwxl)²/Σwl². Stores L = l + nmax, returns scale.
 * The 18 trials after the first do not depend on each other (only on which
 * one is best so far), so they are evaluated side by side. */
#define SYM_TRIALS 18
#define SYM_TRIALS_PADDED 20 /* a whole number of TRIAL_LANES groups */
static float fit_scale_symmetric(int n, int nmax, const float *x, int8_t *L) {
    float max, sumlx, suml2;
    if (!symmetric_first_trial(n, nmax, x, L, &max, &sumlx, &suml2)) return 0.0f;
    float scale = suml2 != 0 ? sumlx / suml2 : 0.0f;
    float best = scale * sumlx;
    /* trial t is ggml's step −9..−1, 1..9; none depends on another */
    float t_iscale[SYM_TRIALS_PADDED], t_sumlx[SYM_TRIALS_PADDED], t_suml2[SYM_TRIALS_PADDED];
    for (int t = 0; t < SYM_TRIALS_PADDED; t++) {
        const int step = t < 9 ? t - 9 : t - 8;
        t_iscale[t] = t < SYM_TRIALS ? -((float)nmax + 0.1f * (float)step) / max : 0.0f;
    }
    const lanes_f lo = (lanes_f){0} + (float)-nmax, hi = (lanes_f){0} + (float)(nmax - 1);
    for (int g = 0; g < SYM_TRIALS_PADDED; g += TRIAL_LANES) {
        lanes_f iscale_g, sx = {0}, s2 = {0};
        memcpy(&iscale_g, t_iscale + g, sizeof iscale_g);
        for (int i = 0; i < n; i++) {
            const float xi = x[i], w = x[i] * x[i];
            lanes_f l;
            lanes_level(&l, &iscale_g, xi, &lo, &hi);
            sx += w * xi * l;
            s2 += w * l * l;
        }
        memcpy(t_sumlx + g, &sx, sizeof sx);
        memcpy(t_suml2 + g, &s2, sizeof s2);
    }
    for (int t = 0; t < SYM_TRIALS; t++) {
        if (t_suml2[t] > 0 && t_sumlx[t] * t_sumlx[t] > best * t_suml2[t]) {
            for (int i = 0; i < n; i++) L[i] = (int8_t)(nmax + symmetric_level(t_iscale[t], x[i], nmax));
            scale = t_sumlx[t] / t_suml2[t];
            best = scale * t_sumlx[t];
        }
    }
    return scale;
}

/* ------------------------------------------------------ Q4_K / Q5_K common */

/* Steps 1-3 of the Q4_K/Q5_K reference (docs/formats.md "K-quants") for one super-block:
 * fit each 32-element sub-block, quantize the scales and mins to 6 bits
 * against their maxima, store d/dmin as f16, then requantize every element
 * with the stored values. L receives levels 0..nmax. */
static void quantize_k4_superblock(const float *x, int nmax, float rmin, int nstep, bool sequential,
                                   lc_f16 *d_out, lc_f16 *dmin_out, uint8_t scales_out[K_SCALE_SIZE],
                                   uint8_t L[QK_K]) {
    float scales[QK_K / 32], mins[QK_K / 32];
    float weights[QK_K];
    for (int j = 0; j < QK_K / 32; j++) {
        const float *xs = x + 32 * j;
        /* weights favour large elements over a floor of the sub-block rms */
        float sum_x2 = 0;
        for (int l = 0; l < 32; l++) sum_x2 += xs[l] * xs[l];
        const float av_x = sqrtf(sum_x2 / 32);
        for (int l = 0; l < 32; l++) weights[32 * j + l] = av_x + fabsf(xs[l]);
    }
    for (int j = 0; j < QK_K / 32; j += 4) {
        if (!sequential) {
            fit_scale_min_x4(nmax, x + 32 * j, weights + 32 * j, L + 32 * j, scales + j, mins + j, rmin, 0.1f,
                             nstep);
            continue;
        }
        for (int k = j; k < j + 4; k++)
            scales[k] = fit_scale_min_seq(32, nmax, x + 32 * k, weights + 32 * k, L + 32 * k, &mins[k], rmin,
                                          0.1f, nstep);
    }
    float max_scale = 0, max_min = 0;
    for (int j = 0; j < QK_K / 32; j++) {
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

static void quantize_q4_K(const float *src, void *dst, int64_t n, bool sequential) {
    block_q4_K *y = dst;
    for (int64_t b = 0; b < n / QK_K; b++) {
        uint8_t L[QK_K];
        quantize_k4_superblock(src + b * QK_K, 15, -1.0f, 20, sequential, &y[b].d, &y[b].dmin, y[b].scales, L);
        /* chunk c: low nibbles are elements 64c.., high nibbles 64c+32.. */
        for (int c = 0; c < 4; c++)
            for (int l = 0; l < 32; l++)
                y[b].qs[32 * c + l] = (uint8_t)(L[64 * c + l] | (L[64 * c + 32 + l] << 4));
    }
}

void lc_quantize_q4_K_ref(const float *src, void *dst, int64_t n) { quantize_q4_K(src, dst, n, false); }
void lc_quantize_q4_K_seq(const float *src, void *dst, int64_t n) { quantize_q4_K(src, dst, n, true); }

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

static void quantize_q5_K(const float *src, void *dst, int64_t n, bool sequential) {
    block_q5_K *y = dst;
    for (int64_t b = 0; b < n / QK_K; b++) {
        uint8_t L[QK_K];
        quantize_k4_superblock(src + b * QK_K, 31, -0.5f, 15, sequential, &y[b].d, &y[b].dmin, y[b].scales, L);
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

void lc_quantize_q5_K_ref(const float *src, void *dst, int64_t n) { quantize_q5_K(src, dst, n, false); }
void lc_quantize_q5_K_seq(const float *src, void *dst, int64_t n) { quantize_q5_K(src, dst, n, true); }

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

static void quantize_q6_K(const float *src, void *dst, int64_t n, bool sequential) {
    block_q6_K *y = dst;
    for (int64_t b = 0; b < n / QK_K; b++) {
        const float *x = src + b * QK_K;
        int8_t L[QK_K];
        float scales[QK_K / 16];
        float max_scale = 0, max_abs_scale = 0;
        for (int g = 0; g < QK_K / 16; g++) {
            scales[g] = sequential ? fit_scale_symmetric_seq(16, 32, x + 16 * g, L + 16 * g)
                                  : fit_scale_symmetric(16, 32, x + 16 * g, L + 16 * g);
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

void lc_quantize_q6_K_ref(const float *src, void *dst, int64_t n) { quantize_q6_K(src, dst, n, false); }
void lc_quantize_q6_K_seq(const float *src, void *dst, int64_t n) { quantize_q6_K(src, dst, n, true); }

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
