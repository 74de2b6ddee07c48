/* AArch64 NEON kernels: two tables, "neon" (ASIMD, every AArch64 CPU) and
 * "neon-dotprod" (adds SDOT, asimddp in the hwcaps: Cortex-A55/A76 and
 * later, Apple M, Graviton 2+). The dot-product bodies live in
 * neon_impl.h, compiled once per table; the SDOT copy is built with the
 * dotprod target enabled for those functions only, so the file as a whole
 * (and the quantizers) stays baseline ARMv8-A.
 *
 * Activation quantizers give the reference bytes exactly: FCVTAS rounds
 * ties away from zero like roundf (Q8_0), FCVTNS ties to even like
 * nearest_int (Q8_K), FCVTN to f16 rounds to nearest even. */
#include <arm_neon.h>
#include <string.h>

#include "kernels/kernels.h"
#include "quant/quant.h"

#define LC_INLINE static inline __attribute__((always_inline))
/* The MR x NR loops must be unrolled for the accumulators to live in
 * registers; -O2 alone leaves them as arrays on the stack. */
#define LC_UNROLL _Pragma("GCC unroll 8")

LC_INLINE float f16_to_f32(lc_f16 h) {
    return vgetq_lane_f32(vcvt_f32_f16(vreinterpret_f16_u16(vdup_n_u16(h))), 0);
}

/* 8 int32x4 of int8-range values -> 32 int8 in element order. */
LC_INLINE void store_i32_as_i8(int8_t *dst, const int32x4_t q[8]) {
    for (int h = 0; h < 2; h++) {
        int16x8_t a = vcombine_s16(vmovn_s32(q[4 * h]), vmovn_s32(q[4 * h + 1]));
        int16x8_t b = vcombine_s16(vmovn_s32(q[4 * h + 2]), vmovn_s32(q[4 * h + 3]));
        vst1q_s8(dst + 16 * h, vcombine_s8(vmovn_s16(a), vmovn_s16(b)));
    }
}

/* ------------------------------------------------------------ quantizers */

static void quantize_row_q8_0(const float *x, void *dst, int64_t k) {
    block_q8_0 *y = dst;
    for (int64_t b = 0; b < k / QK8_0; b++, x += QK8_0) {
        float32x4_t v[8];
        float32x4_t amax = vdupq_n_f32(0.0f);
        for (int i = 0; i < 8; i++) {
            v[i] = vld1q_f32(x + 4 * i);
            amax = vmaxq_f32(amax, vabsq_f32(v[i]));
        }
        const float d = vmaxvq_f32(amax) / 127;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[b].d = lc_f32_to_f16(d);
        int32x4_t q[8];
        for (int i = 0; i < 8; i++) q[i] = vcvtaq_s32_f32(vmulq_n_f32(v[i], id));
        store_i32_as_i8(y[b].qs, q);
    }
}

/* The signed value of the first element of x[0..255] with |x| == amax (the
 * reference keeps the first of equal maxima). */
static float first_abs_equal(const float *x, float amax) {
    const float32x4_t target = vdupq_n_f32(amax);
    for (int i = 0; i < QK_K; i += 4) {
        if (vmaxvq_u32(vceqq_f32(vabsq_f32(vld1q_f32(x + i)), target)) == 0) continue;
        for (int j = i; j < i + 4; j++)
            if (x[j] == amax || x[j] == -amax) return x[j];
    }
    return x[0];
}

static void quantize_row_q8_K(const float *x, void *dst, int64_t k) {
    block_q8_K *y = dst;
    for (int64_t b = 0; b < k / QK_K; b++, x += QK_K) {
        float32x4_t vmax = vdupq_n_f32(0.0f);
        for (int i = 0; i < QK_K; i += 4) vmax = vmaxq_f32(vmax, vabsq_f32(vld1q_f32(x + i)));
        const float amax = vmaxvq_f32(vmax);
        if (amax == 0) { memset(&y[b], 0, sizeof y[b]); continue; }
        const float iscale = -127.f / first_abs_equal(x, amax);
        for (int i = 0; i < QK_K; i += 32) {
            int32x4_t q[8];
            for (int j = 0; j < 8; j++)
                q[j] = vminq_s32(vcvtnq_s32_f32(vmulq_n_f32(vld1q_f32(x + i + 4 * j), iscale)), vdupq_n_s32(127));
            y[b].bsums[i / 16] = (int16_t)vaddvq_s32(vaddq_s32(vaddq_s32(q[0], q[1]), vaddq_s32(q[2], q[3])));
            y[b].bsums[i / 16 + 1] = (int16_t)vaddvq_s32(vaddq_s32(vaddq_s32(q[4], q[5]), vaddq_s32(q[6], q[7])));
            store_i32_as_i8(y[b].qs + i, q);
        }
        y[b].d = 1 / iscale;
    }
}

static void quantize_row_f16(const float *x, void *dst, int64_t k) {
    lc_f16 *y = dst;
    int64_t i = 0;
    for (; i + 4 <= k; i += 4) vst1_u16(y + i, vreinterpret_u16_f16(vcvt_f16_f32(vld1q_f32(x + i))));
    for (; i < k; i++) y[i] = lc_f32_to_f16(x[i]);
}

/* bf16 = top half of the f32, rounded to nearest even; NaN kept quiet. */
static void quantize_row_bf16(const float *x, void *dst, int64_t k) {
    lc_bf16 *y = dst;
    int64_t i = 0;
    for (; i + 4 <= k; i += 4) {
        uint32x4_t u = vreinterpretq_u32_f32(vld1q_f32(x + i));
        uint32x4_t is_nan = vcgtq_u32(vandq_u32(u, vdupq_n_u32(0x7fffffff)), vdupq_n_u32(0x7f800000));
        uint32x4_t odd = vandq_u32(vshrq_n_u32(u, 16), vdupq_n_u32(1));
        uint32x4_t rounded = vshrq_n_u32(vaddq_u32(vaddq_u32(u, vdupq_n_u32(0x7fff)), odd), 16);
        uint32x4_t quiet = vorrq_u32(vshrq_n_u32(u, 16), vdupq_n_u32(0x40));
        vst1_u16(y + i, vmovn_u32(vbslq_u32(is_nan, quiet, rounded)));
    }
    for (; i < k; i++) y[i] = lc_f32_to_bf16(x[i]);
}

/* ---------------------------------------------------- shared by kernels */

enum kernel_kind { KIND_Q4_0, KIND_Q8_0, KIND_Q4_K, KIND_Q6_K, KIND_F32, KIND_F16, KIND_BF16 };

#define LC_CAT_(a, b) a##b
#define LC_CAT(a, b) LC_CAT_(a, b)

/* ------------------------------------------------ plain ASIMD instance */
#define FN(name) LC_CAT(name, _neon)
#define LC_NEON_DOTPROD 0
#include "kernels/neon_impl.h"
#undef FN
#undef LC_NEON_DOTPROD

/* ------------------------------------------------------ SDOT instance */
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("dotprod"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("arch=armv8.2-a+dotprod")
#endif
#define FN(name) LC_CAT(name, _neon_dot)
#define LC_NEON_DOTPROD 1
#include "kernels/neon_impl.h"
#undef FN
#undef LC_NEON_DOTPROD
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

#define NEON_TABLE(table_name, label, suffix)          \
    const lc_kernel_table table_name = {                \
        .name = label,                                  \
        .quantize_row = {                               \
            [LC_TYPE_Q8_0] = quantize_row_q8_0,         \
            [LC_TYPE_Q8_K] = quantize_row_q8_K,         \
            [LC_TYPE_F16] = quantize_row_f16,           \
            [LC_TYPE_BF16] = quantize_row_bf16,         \
        },                                              \
        .tile = {                                       \
            [LC_TYPE_Q4_0] = tile_q4_0##suffix,         \
            [LC_TYPE_Q8_0] = tile_q8_0##suffix,         \
            [LC_TYPE_Q4_K] = tile_q4_K##suffix,         \
            [LC_TYPE_Q6_K] = tile_q6_K##suffix,         \
            [LC_TYPE_F32] = tile_f32##suffix,           \
            [LC_TYPE_F16] = tile_f16##suffix,           \
            [LC_TYPE_BF16] = tile_bf16##suffix,         \
        },                                              \
    }
NEON_TABLE(lc_kernels_neon, "neon", _neon);
NEON_TABLE(lc_kernels_neon_dotprod, "neon-dotprod", _neon_dot);
