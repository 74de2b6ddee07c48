/* The NEON dot-product kernels, included twice by neon.c: once for plain
 * ASIMD (LC_NEON_DOTPROD 0: int8 products through vmull/vpadal) and once
 * with SDOT (LC_NEON_DOTPROD 1, compiled for +dotprod). FN(name) gives
 * each instantiation its own names. Structure as in avx2.c: one body per
 * type computes an MR x NR tile with MR, NR compile-time constants, each
 * output with its own accumulator and the same operations in every shape.
 * Needs from neon.c: LC_INLINE, f16_to_f32; quant/quant.h. */

/* acc + the int8 dot product of 16 lanes, as 4 int32 partial sums. Without
 * SDOT, two products share an int16 lane: |w*a| <= 128*127 each, so the
 * pair fits (activations never hold -128). */
LC_INLINE int32x4_t FN(dot16)(int32x4_t acc, int8x16_t w, int8x16_t a) {
#if LC_NEON_DOTPROD && defined(__clang__) && !defined(__ARM_FEATURE_DOTPROD)
    /* clang's arm_neon.h (before 16) declares vdotq_s32 only when the whole
     * file targets dotprod; the instruction itself is fine in this function */
    __asm__("sdot %0.4s, %1.16b, %2.16b" : "+w"(acc) : "w"(w), "w"(a));
    return acc;
#elif LC_NEON_DOTPROD
    return vdotq_s32(acc, w, a);
#else
    int16x8_t p = vmull_s8(vget_low_s8(w), vget_low_s8(a));
    p = vmlal_high_s8(p, w, a);
    return vpadalq_s16(acc, p);
#endif
}

/* ------------------------------------------ Q4_0 / Q8_0 x Q8_0 (32 per block) */

LC_INLINE void FN(legacy_kernel)(int64_t nb, const uint8_t *W, size_t ws, const uint8_t *A, size_t as,
                                 float *y, int64_t ldy, const int wtype, const int MR, const int NR) {
    float32x4_t acc[4][4];
    LC_UNROLL
    for (int m = 0; m < MR; m++)
        LC_UNROLL
        for (int n = 0; n < NR; n++) acc[m][n] = vdupq_n_f32(0.0f);
    for (int64_t b = 0; b < nb; b++) {
        int8x16_t w0[4], w1[4];
        float dw[4];
        LC_UNROLL
        for (int n = 0; n < NR; n++) {
            if (wtype == LC_TYPE_Q4_0) {
                /* byte j: element j in the low nibble, j+16 in the high one */
                const block_q4_0 *blk = (const block_q4_0 *)(W + (size_t)n * ws) + b;
                uint8x16_t raw = vld1q_u8(blk->qs);
                w0[n] = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(raw, vdupq_n_u8(0x0f))), vdupq_n_s8(8));
                w1[n] = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(raw, 4)), vdupq_n_s8(8));
                dw[n] = f16_to_f32(blk->d);
            } else {
                const block_q8_0 *blk = (const block_q8_0 *)(W + (size_t)n * ws) + b;
                w0[n] = vld1q_s8(blk->qs);
                w1[n] = vld1q_s8(blk->qs + 16);
                dw[n] = f16_to_f32(blk->d);
            }
        }
        LC_UNROLL
        for (int m = 0; m < MR; m++) {
            const block_q8_0 *ab = (const block_q8_0 *)(A + (size_t)m * as) + b;
            const int8x16_t a0 = vld1q_s8(ab->qs), a1 = vld1q_s8(ab->qs + 16);
            const float da = f16_to_f32(ab->d);
            LC_UNROLL
            for (int n = 0; n < NR; n++) {
                int32x4_t p = FN(dot16)(FN(dot16)(vdupq_n_s32(0), w0[n], a0), w1[n], a1);
                acc[m][n] = vfmaq_n_f32(acc[m][n], vcvtq_f32_s32(p), dw[n] * da);
            }
        }
    }
    LC_UNROLL
    for (int m = 0; m < MR; m++)
        LC_UNROLL
        for (int n = 0; n < NR; n++) y[m * ldy + n] = vaddvq_f32(acc[m][n]);
}

/* ------------------------------------------------------ Q4_K x Q8_K */

LC_INLINE void FN(q4_K_kernel)(int64_t nb, const uint8_t *W, size_t ws, const uint8_t *A, size_t as,
                               float *y, int64_t ldy, const int MR, const int NR) {
    const uint8x16_t low4 = vdupq_n_u8(0x0f);
    float32x4_t acc[4][4];
    LC_UNROLL
    for (int m = 0; m < MR; m++)
        LC_UNROLL
        for (int n = 0; n < NR; n++) acc[m][n] = vdupq_n_f32(0.0f);
    for (int64_t b = 0; b < nb; b++) {
        const block_q4_K *wb[4];
        uint8_t sc[4][8], mn[4][8];
        LC_UNROLL
        for (int n = 0; n < NR; n++) {
            wb[n] = (const block_q4_K *)(W + (size_t)n * ws) + b;
            lc_k4_scales_all(wb[n]->scales, sc[n], mn[n]);
        }
        int32x4_t isum[4][4];
        LC_UNROLL
        for (int m = 0; m < MR; m++)
            LC_UNROLL
            for (int n = 0; n < NR; n++) isum[m][n] = vdupq_n_s32(0);
        /* 32 bytes of qs: low nibbles are sub-block 2c, high ones 2c+1 */
        LC_UNROLL
        for (int c = 0; c < 4; c++) {
            int8x16_t lo0[4], lo1[4], hi0[4], hi1[4];
            LC_UNROLL
            for (int n = 0; n < NR; n++) {
                uint8x16_t q0 = vld1q_u8(wb[n]->qs + 32 * c), q1 = vld1q_u8(wb[n]->qs + 32 * c + 16);
                lo0[n] = vreinterpretq_s8_u8(vandq_u8(q0, low4));
                lo1[n] = vreinterpretq_s8_u8(vandq_u8(q1, low4));
                hi0[n] = vreinterpretq_s8_u8(vshrq_n_u8(q0, 4));
                hi1[n] = vreinterpretq_s8_u8(vshrq_n_u8(q1, 4));
            }
            LC_UNROLL
            for (int m = 0; m < MR; m++) {
                const int8_t *aq = ((const block_q8_K *)(A + (size_t)m * as) + b)->qs + 64 * c;
                const int8x16_t a0 = vld1q_s8(aq), a1 = vld1q_s8(aq + 16);
                const int8x16_t a2 = vld1q_s8(aq + 32), a3 = vld1q_s8(aq + 48);
                LC_UNROLL
                for (int n = 0; n < NR; n++) {
                    int32x4_t p_lo = FN(dot16)(FN(dot16)(vdupq_n_s32(0), lo0[n], a0), lo1[n], a1);
                    int32x4_t p_hi = FN(dot16)(FN(dot16)(vdupq_n_s32(0), hi0[n], a2), hi1[n], a3);
                    isum[m][n] = vmlaq_n_s32(isum[m][n], p_lo, sc[n][2 * c]);
                    isum[m][n] = vmlaq_n_s32(isum[m][n], p_hi, sc[n][2 * c + 1]);
                }
            }
        }
        LC_UNROLL
        for (int m = 0; m < MR; m++) {
            const block_q8_K *ab = (const block_q8_K *)(A + (size_t)m * as) + b;
            /* bsums of the 32-element sub-blocks: pairs of 16-element sums */
            int16x8_t sub = vpaddq_s16(vld1q_s16(ab->bsums), vld1q_s16(ab->bsums + 8));
            LC_UNROLL
            for (int n = 0; n < NR; n++) {
                int16x8_t m16 = vreinterpretq_s16_u16(vmovl_u8(vld1_u8(mn[n])));
                int32x4_t ms = vmull_s16(vget_low_s16(sub), vget_low_s16(m16));
                ms = vmlal_high_s16(ms, sub, m16);
                acc[m][n] = vfmaq_n_f32(acc[m][n], vcvtq_f32_s32(isum[m][n]), f16_to_f32(wb[n]->d) * ab->d);
                acc[m][n] = vfmsq_f32(acc[m][n], vcvtq_f32_s32(ms), vdupq_n_f32(f16_to_f32(wb[n]->dmin) * ab->d));
            }
        }
    }
    LC_UNROLL
    for (int m = 0; m < MR; m++)
        LC_UNROLL
        for (int n = 0; n < NR; n++) y[m * ldy + n] = vaddvq_f32(acc[m][n]);
}

/* ------------------------------------------------------ Q6_K x Q8_K */

LC_INLINE void FN(q6_K_kernel)(int64_t nb, const uint8_t *W, size_t ws, const uint8_t *A, size_t as,
                               float *y, int64_t ldy, const int MR, const int NR) {
    const uint8x16_t low4 = vdupq_n_u8(0x0f), bits45 = vdupq_n_u8(0x30);
    float32x4_t acc[4][4];
    LC_UNROLL
    for (int m = 0; m < MR; m++)
        LC_UNROLL
        for (int n = 0; n < NR; n++) acc[m][n] = vdupq_n_f32(0.0f);
    for (int64_t b = 0; b < nb; b++) {
        const block_q6_K *wb[4];
        LC_UNROLL
        for (int n = 0; n < NR; n++) wb[n] = (const block_q6_K *)(W + (size_t)n * ws) + b;
        int32x4_t isum[4][4];
        LC_UNROLL
        for (int m = 0; m < MR; m++)
            LC_UNROLL
            for (int n = 0; n < NR; n++) isum[m][n] = vdupq_n_s32(0);
        /* element 128h + 32j + 16k + i: low 4 bits from ql[64h + 32(j&1) + 16k + i]
         * (low nibble for j < 2), high 2 bits are bit pair j of qh[32h + 16k + i] */
        LC_UNROLL
        for (int h = 0; h < 2; h++) {
            LC_UNROLL
            for (int j = 0; j < 4; j++) {
                LC_UNROLL
                for (int k = 0; k < 2; k++) {
                    const int g = 8 * h + 2 * j + k; /* 16-element group */
                    int8x16_t q[4];
                    LC_UNROLL
                    for (int n = 0; n < NR; n++) {
                        uint8x16_t L = vld1q_u8(wb[n]->ql + 64 * h + 32 * (j & 1) + 16 * k);
                        uint8x16_t H = vld1q_u8(wb[n]->qh + 32 * h + 16 * k);
                        uint8x16_t lo = j < 2 ? vandq_u8(L, low4) : vshrq_n_u8(L, 4);
                        uint8x16_t hi = j == 0 ? vshlq_n_u8(H, 4)
                                      : j == 1 ? vshlq_n_u8(H, 2)
                                      : j == 2 ? H
                                               : vshrq_n_u8(H, 2);
                        uint8x16_t u = vorrq_u8(lo, vandq_u8(hi, bits45));
                        q[n] = vsubq_s8(vreinterpretq_s8_u8(u), vdupq_n_s8(32));
                    }
                    LC_UNROLL
                    for (int m = 0; m < MR; m++) {
                        const int8_t *aq = ((const block_q8_K *)(A + (size_t)m * as) + b)->qs + 16 * g;
                        const int8x16_t a = vld1q_s8(aq);
                        LC_UNROLL
                        for (int n = 0; n < NR; n++)
                            isum[m][n] = vmlaq_n_s32(isum[m][n], FN(dot16)(vdupq_n_s32(0), q[n], a),
                                                     wb[n]->scales[g]);
                    }
                }
            }
        }
        LC_UNROLL
        for (int m = 0; m < MR; m++) {
            const block_q8_K *ab = (const block_q8_K *)(A + (size_t)m * as) + b;
            LC_UNROLL
            for (int n = 0; n < NR; n++)
                acc[m][n] = vfmaq_n_f32(acc[m][n], vcvtq_f32_s32(isum[m][n]), f16_to_f32(wb[n]->d) * ab->d);
        }
    }
    LC_UNROLL
    for (int m = 0; m < MR; m++)
        LC_UNROLL
        for (int n = 0; n < NR; n++) y[m * ldy + n] = vaddvq_f32(acc[m][n]);
}

/* ------------------------------------------------ F32 / F16 / BF16 */

LC_INLINE float32x4_t FN(load4_float)(const uint8_t *row, int64_t k, const int type) {
    if (type == LC_TYPE_F32) return vld1q_f32((const float *)row + k);
    uint16x4_t h = vld1_u16((const uint16_t *)row + k);
    if (type == LC_TYPE_F16) return vcvt_f32_f16(vreinterpret_f16_u16(h));
    return vreinterpretq_f32_u32(vshll_n_u16(h, 16));
}

LC_INLINE float FN(load1_float)(const uint8_t *row, int64_t k, const int type) {
    if (type == LC_TYPE_F32) return ((const float *)row)[k];
    if (type == LC_TYPE_F16) return f16_to_f32(((const lc_f16 *)row)[k]);
    return lc_bf16_to_f32(((const lc_bf16 *)row)[k]);
}

/* K need not be a multiple of 4: the tail is summed separately in float. */
LC_INLINE void FN(float_kernel)(int64_t K, const uint8_t *W, size_t ws, const uint8_t *A, size_t as,
                                float *y, int64_t ldy, const int type, const int MR, const int NR) {
    float32x4_t acc[4][4];
    LC_UNROLL
    for (int m = 0; m < MR; m++)
        LC_UNROLL
        for (int n = 0; n < NR; n++) acc[m][n] = vdupq_n_f32(0.0f);
    int64_t k = 0;
    for (; k + 4 <= K; k += 4) {
        float32x4_t w[4];
        LC_UNROLL
        for (int n = 0; n < NR; n++) w[n] = FN(load4_float)(W + (size_t)n * ws, k, type);
        LC_UNROLL
        for (int m = 0; m < MR; m++) {
            float32x4_t a = FN(load4_float)(A + (size_t)m * as, k, type);
            LC_UNROLL
            for (int n = 0; n < NR; n++) acc[m][n] = vfmaq_f32(acc[m][n], w[n], a);
        }
    }
    LC_UNROLL
    for (int m = 0; m < MR; m++)
        LC_UNROLL
        for (int n = 0; n < NR; n++) {
            float tail = 0.0f;
            for (int64_t t = k; t < K; t++)
                tail += FN(load1_float)(W + (size_t)n * ws, t, type) * FN(load1_float)(A + (size_t)m * as, t, type);
            y[m * ldy + n] = vaddvq_f32(acc[m][n]) + tail;
        }
}

/* ------------------------------------------------------------ tile shapes */

LC_INLINE void FN(run_kernel)(const int kind, int64_t K, const uint8_t *W, size_t ws, const uint8_t *A,
                              size_t as, float *y, int64_t ldy, const int MR, const int NR) {
    switch (kind) {
    case KIND_Q4_0: FN(legacy_kernel)(K / QK4_0, W, ws, A, as, y, ldy, LC_TYPE_Q4_0, MR, NR); break;
    case KIND_Q8_0: FN(legacy_kernel)(K / QK8_0, W, ws, A, as, y, ldy, LC_TYPE_Q8_0, MR, NR); break;
    case KIND_Q4_K: FN(q4_K_kernel)(K / QK_K, W, ws, A, as, y, ldy, MR, NR); break;
    case KIND_Q6_K: FN(q6_K_kernel)(K / QK_K, W, ws, A, as, y, ldy, MR, NR); break;
    case KIND_F32: FN(float_kernel)(K, W, ws, A, as, y, ldy, LC_TYPE_F32, MR, NR); break;
    case KIND_F16: FN(float_kernel)(K, W, ws, A, as, y, ldy, LC_TYPE_F16, MR, NR); break;
    default: FN(float_kernel)(K, W, ws, A, as, y, ldy, LC_TYPE_BF16, MR, NR); break;
    }
}

LC_INLINE void FN(rows_in_groups)(const int kind, int64_t K, const uint8_t *W, size_t ws, int64_t nr,
                                  const uint8_t *A, size_t as, float *y, int64_t ldy, const int MR,
                                  const int NR) {
    int64_t n = 0;
    for (; n + NR <= nr; n += NR) FN(run_kernel)(kind, K, W + (size_t)n * ws, ws, A, as, y + n, ldy, MR, NR);
    for (; n < nr; n++) FN(run_kernel)(kind, K, W + (size_t)n * ws, ws, A, as, y + n, ldy, MR, 1);
}

/* Decode: all nr rows against the one activation row, 4 at a time.
 * Prefill: the mr activation rows in groups of 4 (the last may be smaller),
 * each against 4 weight rows at a time: 16 accumulators of the 32 vector
 * registers. */
LC_INLINE void FN(tile_shapes)(const int kind, int64_t K, const void *W, size_t ws, int64_t nr,
                               const void *A, size_t as, int mr, float *y, int64_t ldy) {
    for (int m0 = 0; m0 < mr; m0 += 4) {
        const uint8_t *a = (const uint8_t *)A + (size_t)m0 * as;
        float *ym = y + (int64_t)m0 * ldy;
        switch (mr - m0) {
        case 1: FN(rows_in_groups)(kind, K, W, ws, nr, a, as, ym, ldy, 1, 4); break;
        case 2: FN(rows_in_groups)(kind, K, W, ws, nr, a, as, ym, ldy, 2, 4); break;
        case 3: FN(rows_in_groups)(kind, K, W, ws, nr, a, as, ym, ldy, 3, 4); break;
        default: FN(rows_in_groups)(kind, K, W, ws, nr, a, as, ym, ldy, 4, 4); break;
        }
    }
}

#define NEON_TILE_FN(name, kind)                                                                 \
    static void FN(name)(int64_t K, const void *W, size_t ws, int64_t nr, const void *A, size_t as, \
                         int mr, float *y, int64_t ldy) {                                       \
        FN(tile_shapes)(kind, K, W, ws, nr, A, as, mr, y, ldy);                                 \
    }
NEON_TILE_FN(tile_q4_0, KIND_Q4_0)
NEON_TILE_FN(tile_q8_0, KIND_Q8_0)
NEON_TILE_FN(tile_q4_K, KIND_Q4_K)
NEON_TILE_FN(tile_q6_K, KIND_Q6_K)
NEON_TILE_FN(tile_f32, KIND_F32)
NEON_TILE_FN(tile_f16, KIND_F16)
NEON_TILE_FN(tile_bf16, KIND_BF16)
#undef NEON_TILE_FN
