/* Row kernels behind the type table (types.c). Everything here is the
 * scalar reference: dequantize, the quantizer that llama.cpp uses to write
 * files (`quantize_row_*_ref`), and the dot product of a weight row with an
 * activation row in the weight type's vec_dot_type. Other modules reach
 * these through lc_type_traits_get(); the declarations are here so that the
 * table and the tests can name them. Formulas: docs/formats.md "Block types" and "Quantized dot products". */
#ifndef LC_QUANT_H
#define LC_QUANT_H

#include "quant/types.h"

/* ------------------------------------------------------------ F32/F16/BF16 */
void lc_to_float_f32(const void *src, float *dst, int64_t n);
void lc_from_float_f32(const float *src, void *dst, int64_t n);
void lc_to_float_f16(const void *src, float *dst, int64_t n);
void lc_from_float_f16(const float *src, void *dst, int64_t n);
void lc_to_float_bf16(const void *src, float *dst, int64_t n);
void lc_from_float_bf16(const float *src, void *dst, int64_t n);

/* Products of widened values summed in double, as ggml's scalar path does. */
void lc_vec_dot_f32(int64_t n, float *out, const void *w, const void *x);
void lc_vec_dot_f16(int64_t n, float *out, const void *w, const void *x);
void lc_vec_dot_bf16(int64_t n, float *out, const void *w, const void *x);

/* ------------------------------------------------- legacy 32-element blocks */
void lc_to_float_q4_0(const void *src, float *dst, int64_t n);
void lc_to_float_q4_1(const void *src, float *dst, int64_t n);
void lc_to_float_q5_0(const void *src, float *dst, int64_t n);
void lc_to_float_q5_1(const void *src, float *dst, int64_t n);
void lc_to_float_q8_0(const void *src, float *dst, int64_t n);
void lc_to_float_q8_1(const void *src, float *dst, int64_t n);

void lc_quantize_q4_0_ref(const float *src, void *dst, int64_t n);
void lc_quantize_q4_1_ref(const float *src, void *dst, int64_t n);
void lc_quantize_q5_0_ref(const float *src, void *dst, int64_t n);
void lc_quantize_q5_1_ref(const float *src, void *dst, int64_t n);
void lc_quantize_q8_0_ref(const float *src, void *dst, int64_t n);
void lc_quantize_q8_1_ref(const float *src, void *dst, int64_t n);

/* Per block: exact int32 sum of products, then (dw*dx)*sum (+ mw*s_x for
 * the _1 types), accumulated over blocks in float. */
void lc_vec_dot_q4_0_q8_0(int64_t n, float *out, const void *w, const void *x);
void lc_vec_dot_q4_1_q8_1(int64_t n, float *out, const void *w, const void *x);
void lc_vec_dot_q5_0_q8_0(int64_t n, float *out, const void *w, const void *x);
void lc_vec_dot_q5_1_q8_1(int64_t n, float *out, const void *w, const void *x);
void lc_vec_dot_q8_0_q8_0(int64_t n, float *out, const void *w, const void *x);

/* ---------------------------------------------- K-quants (256-element blocks) */
void lc_to_float_q2_K(const void *src, float *dst, int64_t n);
void lc_to_float_q3_K(const void *src, float *dst, int64_t n);
void lc_to_float_q4_K(const void *src, float *dst, int64_t n);
void lc_to_float_q5_K(const void *src, float *dst, int64_t n);
void lc_to_float_q6_K(const void *src, float *dst, int64_t n);
void lc_to_float_q8_K(const void *src, float *dst, int64_t n);

void lc_quantize_q4_K_ref(const float *src, void *dst, int64_t n);
void lc_quantize_q5_K_ref(const float *src, void *dst, int64_t n);
void lc_quantize_q6_K_ref(const float *src, void *dst, int64_t n);
void lc_quantize_q8_K_ref(const float *src, void *dst, int64_t n);
/* The same Q4_K/Q5_K/Q6_K bytes from ggml's scale searches restated one
 * trial after another (slow); the tests hold the _ref quantizers above,
 * which run trials or sub-blocks side by side, against these. */
void lc_quantize_q4_K_seq(const float *src, void *dst, int64_t n);
void lc_quantize_q5_K_seq(const float *src, void *dst, int64_t n);
void lc_quantize_q6_K_seq(const float *src, void *dst, int64_t n);

/* Per super-block: exact int32 sums for the scale and min parts, combined as
 * (f16(d)*d_x)*sum_scaled - (f16(dmin)*d_x)*sum_mins, accumulated in float. */
void lc_vec_dot_q2_K_q8_K(int64_t n, float *out, const void *w, const void *x);
void lc_vec_dot_q3_K_q8_K(int64_t n, float *out, const void *w, const void *x);
void lc_vec_dot_q4_K_q8_K(int64_t n, float *out, const void *w, const void *x);
void lc_vec_dot_q5_K_q8_K(int64_t n, float *out, const void *w, const void *x);
void lc_vec_dot_q6_K_q8_K(int64_t n, float *out, const void *w, const void *x);

/* The 6-bit scale and min of sub-block j (0..7) of a Q4_K/Q5_K block. */
static inline void lc_k4_scale_min(const uint8_t scales[K_SCALE_SIZE], int j, int *sc, int *m) {
    if (j < 4) {
        *sc = scales[j] & 63;
        *m = scales[j + 4] & 63;
    } else {
        *sc = (scales[j + 4] & 0xF) | ((scales[j - 4] >> 6) << 4);
        *m = (scales[j + 4] >> 4) | ((scales[j] >> 6) << 4);
    }
}

/* All 8 scales and mins of a Q4_K/Q5_K block at once, word-wise (what the
 * SIMD kernels use): bytes 0..3 hold sc[0..3] and the top bits of sc[4..7],
 * 4..7 the same for m, 8..11 the low nibbles of sc[4..7] and m[4..7]. */
static inline void lc_k4_scales_all(const uint8_t s[K_SCALE_SIZE], uint8_t sc[8], uint8_t mn[8]) {
    uint32_t a0, a1, a2;
    memcpy(&a0, s, 4);
    memcpy(&a1, s + 4, 4);
    memcpy(&a2, s + 8, 4);
    uint32_t sc_lo = a0 & 0x3f3f3f3f, m_lo = a1 & 0x3f3f3f3f;
    uint32_t sc_hi = (a2 & 0x0f0f0f0f) | (((a0 >> 6) & 0x03030303) << 4);
    uint32_t m_hi = ((a2 >> 4) & 0x0f0f0f0f) | (((a1 >> 6) & 0x03030303) << 4);
    memcpy(sc, &sc_lo, 4);
    memcpy(sc + 4, &sc_hi, 4);
    memcpy(mn, &m_lo, 4);
    memcpy(mn + 4, &m_hi, 4);
}

/* Packs eight 6-bit scales and mins into the 12-byte layout of docs/formats.md
 * "K-quants" (the inverse of lc_k4_scale_min). */
static inline void lc_k4_pack_scales(const int ls[8], const int lm[8], uint8_t out[K_SCALE_SIZE]) {
    for (int j = 0; j < 4; j++) {
        out[j] = (uint8_t)(ls[j] | ((ls[j + 4] >> 4) << 6));
        out[j + 4] = (uint8_t)(lm[j] | ((lm[j + 4] >> 4) << 6));
        out[j + 8] = (uint8_t)((ls[j + 4] & 0xF) | ((lm[j + 4] & 0xF) << 4));
    }
}

/* The signed 6-bit scale of group g (0..15) of a Q3_K block: low 4 bits in
 * the nibbles of bytes 0..7, high 2 bits in bytes 8..11. */
static inline int lc_q3_K_scale(const uint8_t scales[12], int g) {
    int low = g < 8 ? scales[g] & 0xF : scales[g - 8] >> 4;
    int high = (scales[8 + g % 4] >> (2 * (g / 4))) & 3;
    return (low | (high << 4)) - 32;
}

#endif
