/* Legacy 32-element blocks: Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 and the activation
 * type Q8_1 (docs/formats.md "32-element blocks"), and their dot products with Q8_0/Q8_1 ("Quantized dot products").
 *
 * The quantizers must reproduce ggml's quantize_row_*_ref byte for byte, so
 * they keep its exact sequence of float operations: the product x*id is
 * rounded before the +8.5 (never fused into an FMA), conversions truncate
 * toward zero, and d is rounded to f16 only when stored. */
#include <float.h>
#include <math.h>

#include "quant/quant.h"

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF /* GCC does not contract in ISO C mode */
#endif

/* ------------------------------------------------------------- helpers */

static int min_int(int a, int b) { return a < b ? a : b; }

/* ggml converts with (int8_t)v and (uint8_t)v. On x86 that is cvttss2si:
 * truncate toward zero to int32, INT32_MIN for NaN or out-of-range values,
 * and keep the low byte. In a normal block v lies in 0..32 and this is just
 * (int)v; the emulation makes degenerate blocks (inf/NaN inputs, a
 * subnormal scale whose inverse overflows) give the same bytes as ggml on
 * x86 instead of undefined behaviour. */
static uint8_t trunc_low_byte(float v) {
    int32_t i = (v >= -2147483648.0f && v < 2147483648.0f) ? (int32_t)v : INT32_MIN;
    return (uint8_t)((uint32_t)i & 0xFFu);
}

/* The low byte read as int8_t, without implementation-defined conversions. */
static int trunc_to_int8(float v) {
    int b = trunc_low_byte(v);
    return b > 127 ? b - 256 : b;
}

/* The signed value of the element with the largest magnitude; the first one
 * wins ties (strict comparison), and 0 for an all-zero block. */
static float signed_abs_max(const float *x, int n) {
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < n; j++) {
        if (amax < fabsf(x[j])) {
            amax = fabsf(x[j]);
            max = x[j];
        }
    }
    return max;
}

static void block_min_max(const float *x, int n, float *min, float *max) {
    *min = FLT_MAX;
    *max = -FLT_MAX;
    for (int j = 0; j < n; j++) {
        if (x[j] < *min) *min = x[j];
        if (x[j] > *max) *max = x[j];
    }
}

/* max |x|, with the comparison ggml's MAX macro makes (so NaN inputs give
 * the same, meaningless, bytes). */
static float abs_max(const float *x, int n) {
    float amax = 0.0f;
    for (int j = 0; j < n; j++) {
        float a = fabsf(x[j]);
        amax = amax > a ? amax : a;
    }
    return amax;
}

static float inverse_or_zero(float d) { return d != 0.0f ? 1.0f / d : 0.0f; }

static uint32_t load_u32_le(const uint8_t b[4]) {
    return (uint32_t)b[0] | ((uint32_t)b[1] << 8) | ((uint32_t)b[2] << 16) | ((uint32_t)b[3] << 24);
}

static void store_u32_le(uint8_t b[4], uint32_t v) {
    for (int i = 0; i < 4; i++) b[i] = (uint8_t)(v >> (8 * i));
}

/* 5-bit values of a Q5 block: low nibbles in qs (element j low, j+16 high),
 * bit 4 of element e is bit e of qh. */
static void unpack_q5(const uint8_t qs[16], const uint8_t qh_bytes[4], int q[32]) {
    uint32_t qh = load_u32_le(qh_bytes);
    for (int j = 0; j < 16; j++) {
        q[j] = (qs[j] & 0xF) | (int)(((qh >> j) & 1u) << 4);
        q[j + 16] = (qs[j] >> 4) | (int)(((qh >> (j + 16)) & 1u) << 4);
    }
}

static void pack_q5(const int q[32], uint8_t qs[16], uint8_t qh_bytes[4]) {
    uint32_t qh = 0;
    for (int j = 0; j < 16; j++) {
        qs[j] = (uint8_t)((q[j] & 0x0F) | ((q[j + 16] & 0x0F) << 4));
        qh |= (uint32_t)((q[j] & 0x10) >> 4) << j;
        qh |= (uint32_t)((q[j + 16] & 0x10) >> 4) << (j + 16);
    }
    store_u32_le(qh_bytes, qh);
}

/* ------------------------------------------------------------- Q4_0 */

void lc_quantize_q4_0_ref(const float *src, void *dst, int64_t n) {
    block_q4_0 *y = dst;
    for (int64_t b = 0; b < n / QK4_0; b++) {
        const float *x = src + b * QK4_0;
        /* d has the opposite sign of the extreme element so that it maps to
         * q = 0 exactly; the other side reaches only +7 and clips at 15. */
        const float d = signed_abs_max(x, QK4_0) / -8;
        const float id = inverse_or_zero(d);
        y[b].d = lc_f32_to_f16(d);
        for (int j = 0; j < QK4_0 / 2; j++) {
            const float v0 = x[j] * id;
            const float v1 = x[j + QK4_0 / 2] * id;
            const uint8_t q0 = (uint8_t)min_int(15, trunc_to_int8(v0 + 8.5f));
            const uint8_t q1 = (uint8_t)min_int(15, trunc_to_int8(v1 + 8.5f));
            y[b].qs[j] = (uint8_t)(q0 | (q1 << 4));
        }
    }
}

void lc_to_float_q4_0(const void *src, float *dst, int64_t n) {
    const block_q4_0 *x = src;
    for (int64_t b = 0; b < n / QK4_0; b++) {
        const float d = lc_f16_to_f32(x[b].d);
        float *y = dst + b * QK4_0;
        for (int j = 0; j < QK4_0 / 2; j++) {
            y[j] = (float)((x[b].qs[j] & 0xF) - 8) * d;
            y[j + QK4_0 / 2] = (float)((x[b].qs[j] >> 4) - 8) * d;
        }
    }
}

/* ------------------------------------------------------------- Q4_1 */

void lc_quantize_q4_1_ref(const float *src, void *dst, int64_t n) {
    block_q4_1 *y = dst;
    for (int64_t b = 0; b < n / QK4_1; b++) {
        const float *x = src + b * QK4_1;
        float min, max;
        block_min_max(x, QK4_1, &min, &max);
        const float d = (max - min) / 15;
        const float id = inverse_or_zero(d);
        y[b].d = lc_f32_to_f16(d);
        y[b].m = lc_f32_to_f16(min);
        for (int j = 0; j < QK4_1 / 2; j++) {
            const float v0 = (x[j] - min) * id;
            const float v1 = (x[j + QK4_1 / 2] - min) * id;
            const uint8_t q0 = (uint8_t)min_int(15, trunc_to_int8(v0 + 0.5f));
            const uint8_t q1 = (uint8_t)min_int(15, trunc_to_int8(v1 + 0.5f));
            y[b].qs[j] = (uint8_t)(q0 | (q1 << 4));
        }
    }
}

void lc_to_float_q4_1(const void *src, float *dst, int64_t n) {
    const block_q4_1 *x = src;
    for (int64_t b = 0; b < n / QK4_1; b++) {
        const float d = lc_f16_to_f32(x[b].d);
        const float m = lc_f16_to_f32(x[b].m);
        float *y = dst + b * QK4_1;
        for (int j = 0; j < QK4_1 / 2; j++) {
            y[j] = (float)(x[b].qs[j] & 0xF) * d + m;
            y[j + QK4_1 / 2] = (float)(x[b].qs[j] >> 4) * d + m;
        }
    }
}

/* ------------------------------------------------------------- Q5_0 */

void lc_quantize_q5_0_ref(const float *src, void *dst, int64_t n) {
    block_q5_0 *y = dst;
    for (int64_t b = 0; b < n / QK5_0; b++) {
        const float *x = src + b * QK5_0;
        const float d = signed_abs_max(x, QK5_0) / -16;
        const float id = inverse_or_zero(d);
        y[b].d = lc_f32_to_f16(d);
        int q[QK5_0];
        for (int j = 0; j < QK5_0; j++) {
            const float v = x[j] * id;
            q[j] = (uint8_t)min_int(31, trunc_to_int8(v + 16.5f));
        }
        pack_q5(q, y[b].qs, y[b].qh);
    }
}

void lc_to_float_q5_0(const void *src, float *dst, int64_t n) {
    const block_q5_0 *x = src;
    for (int64_t b = 0; b < n / QK5_0; b++) {
        const float d = lc_f16_to_f32(x[b].d);
        int q[QK5_0];
        unpack_q5(x[b].qs, x[b].qh, q);
        for (int j = 0; j < QK5_0; j++) dst[b * QK5_0 + j] = (float)(q[j] - 16) * d;
    }
}

/* ------------------------------------------------------------- Q5_1 */

void lc_quantize_q5_1_ref(const float *src, void *dst, int64_t n) {
    block_q5_1 *y = dst;
    for (int64_t b = 0; b < n / QK5_1; b++) {
        const float *x = src + b * QK5_1;
        float min, max;
        block_min_max(x, QK5_1, &min, &max);
        const float d = (max - min) / 31;
        const float id = inverse_or_zero(d);
        y[b].d = lc_f32_to_f16(d);
        y[b].m = lc_f32_to_f16(min);
        int q[QK5_1];
        for (int j = 0; j < QK5_1; j++) {
            const float v = (x[j] - min) * id;
            q[j] = trunc_low_byte(v + 0.5f); /* no clamp in ggml: at most 31 */
        }
        pack_q5(q, y[b].qs, y[b].qh);
    }
}

void lc_to_float_q5_1(const void *src, float *dst, int64_t n) {
    const block_q5_1 *x = src;
    for (int64_t b = 0; b < n / QK5_1; b++) {
        const float d = lc_f16_to_f32(x[b].d);
        const float m = lc_f16_to_f32(x[b].m);
        int q[QK5_1];
        unpack_q5(x[b].qs, x[b].qh, q);
        for (int j = 0; j < QK5_1; j++) dst[b * QK5_1 + j] = (float)q[j] * d + m;
    }
}

/* ------------------------------------------------------------- Q8_0 / Q8_1 */

/* q = roundf(x/d) (ties away from zero) with d = amax/127; returns the float
 * d that ggml keeps before rounding it to f16. */
static float quantize_block_q8(const float *x, int8_t *qs, int n) {
    const float d = abs_max(x, n) / 127;
    const float id = inverse_or_zero(d);
    for (int j = 0; j < n; j++) {
        const float v = x[j] * id;
        qs[j] = (int8_t)trunc_to_int8(roundf(v));
    }
    return d;
}

void lc_quantize_q8_0_ref(const float *src, void *dst, int64_t n) {
    block_q8_0 *y = dst;
    for (int64_t b = 0; b < n / QK8_0; b++) {
        const float d = quantize_block_q8(src + b * QK8_0, y[b].qs, QK8_0);
        y[b].d = lc_f32_to_f16(d);
    }
}

void lc_quantize_q8_1_ref(const float *src, void *dst, int64_t n) {
    block_q8_1 *y = dst;
    for (int64_t b = 0; b < n / QK8_1; b++) {
        const float d = quantize_block_q8(src + b * QK8_1, y[b].qs, QK8_1);
        int sum = 0;
        for (int j = 0; j < QK8_1; j++) sum += y[b].qs[j];
        y[b].d = lc_f32_to_f16(d);
        /* s uses the unrounded float d, like ggml */
        y[b].s = lc_f32_to_f16((float)sum * d);
    }
}

void lc_to_float_q8_0(const void *src, float *dst, int64_t n) {
    const block_q8_0 *x = src;
    for (int64_t b = 0; b < n / QK8_0; b++) {
        const float d = lc_f16_to_f32(x[b].d);
        for (int j = 0; j < QK8_0; j++) dst[b * QK8_0 + j] = (float)x[b].qs[j] * d;
    }
}

void lc_to_float_q8_1(const void *src, float *dst, int64_t n) {
    const block_q8_1 *x = src;
    for (int64_t b = 0; b < n / QK8_1; b++) {
        const float d = lc_f16_to_f32(x[b].d);
        for (int j = 0; j < QK8_1; j++) dst[b * QK8_1 + j] = (float)x[b].qs[j] * d;
    }
}

/* ------------------------------------------------------------- dot products */

/* Σ_j (q_j - offset) * a_j, exact: at most 32 * 31 * 128 in magnitude. */
static int32_t int_dot_32(const int q[32], int offset, const int8_t a[32]) {
    int32_t sum = 0;
    for (int j = 0; j < 32; j++) sum += (q[j] - offset) * a[j];
    return sum;
}

static void unpack_q4(const uint8_t qs[16], int q[32]) {
    for (int j = 0; j < 16; j++) {
        q[j] = qs[j] & 0xF;
        q[j + 16] = qs[j] >> 4;
    }
}

void lc_vec_dot_q4_0_q8_0(int64_t n, float *out, const void *w, const void *x) {
    const block_q4_0 *bw = w;
    const block_q8_0 *bx = x;
    float sum = 0.0f;
    for (int64_t b = 0; b < n / QK8_0; b++) {
        int q[32];
        unpack_q4(bw[b].qs, q);
        const int32_t isum = int_dot_32(q, 8, bx[b].qs);
        sum += (lc_f16_to_f32(bw[b].d) * lc_f16_to_f32(bx[b].d)) * (float)isum;
    }
    *out = sum;
}

void lc_vec_dot_q4_1_q8_1(int64_t n, float *out, const void *w, const void *x) {
    const block_q4_1 *bw = w;
    const block_q8_1 *bx = x;
    float sum = 0.0f;
    for (int64_t b = 0; b < n / QK8_1; b++) {
        int q[32];
        unpack_q4(bw[b].qs, q);
        const int32_t isum = int_dot_32(q, 0, bx[b].qs);
        /* the min term: m_w * Σ x = m_w * s_x, with s_x stored in the block */
        sum += (lc_f16_to_f32(bw[b].d) * lc_f16_to_f32(bx[b].d)) * (float)isum +
               lc_f16_to_f32(bw[b].m) * lc_f16_to_f32(bx[b].s);
    }
    *out = sum;
}

void lc_vec_dot_q5_0_q8_0(int64_t n, float *out, const void *w, const void *x) {
    const block_q5_0 *bw = w;
    const block_q8_0 *bx = x;
    float sum = 0.0f;
    for (int64_t b = 0; b < n / QK8_0; b++) {
        int q[32];
        unpack_q5(bw[b].qs, bw[b].qh, q);
        const int32_t isum = int_dot_32(q, 16, bx[b].qs);
        sum += (lc_f16_to_f32(bw[b].d) * lc_f16_to_f32(bx[b].d)) * (float)isum;
    }
    *out = sum;
}

void lc_vec_dot_q5_1_q8_1(int64_t n, float *out, const void *w, const void *x) {
    const block_q5_1 *bw = w;
    const block_q8_1 *bx = x;
    float sum = 0.0f;
    for (int64_t b = 0; b < n / QK8_1; b++) {
        int q[32];
        unpack_q5(bw[b].qs, bw[b].qh, q);
        const int32_t isum = int_dot_32(q, 0, bx[b].qs);
        sum += (lc_f16_to_f32(bw[b].d) * lc_f16_to_f32(bx[b].d)) * (float)isum +
               lc_f16_to_f32(bw[b].m) * lc_f16_to_f32(bx[b].s);
    }
    *out = sum;
}

void lc_vec_dot_q8_0_q8_0(int64_t n, float *out, const void *w, const void *x) {
    const block_q8_0 *bw = w;
    const block_q8_0 *bx = x;
    float sum = 0.0f;
    for (int64_t b = 0; b < n / QK8_0; b++) {
        int32_t isum = 0;
        for (int j = 0; j < QK8_0; j++) isum += bw[b].qs[j] * bx[b].qs[j];
        sum += (lc_f16_to_f32(bw[b].d) * lc_f16_to_f32(bx[b].d)) * (float)isum;
    }
    *out = sum;
}
