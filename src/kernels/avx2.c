/* AVX2 + FMA + F16C kernels (compiled with -mavx2 -mfma -mf16c; chosen at
 * run time only on CPUs that have them).
 *
 * Activation quantizers give the same bytes as the reference ones in
 * quant/ (Q8_0: roundf of x*(1/d), ties away from zero; Q8_K: ties to even;
 * f16/bf16: nearest even), so every ISA sees the same activations and only
 * the float summation order differs from the scalar path.
 *
 * Dot products: integer products of one block are exact (maddubs pairs
 * unsigned by signed bytes into int16, madd widens to int32); each block's
 * int32 lanes are scaled and accumulated in float with FMA. One kernel body
 * per type computes an MR x NR tile (MR activation rows, NR weight rows),
 * MR and NR being compile-time constants at every call: a weight block is
 * decoded once per tile and used for MR rows, an activation block loaded
 * once and used for NR rows. Each output has its own accumulator and sees
 * the same operations in every tile shape, so no result depends on how
 * rows are split between threads. (Q4_0 has a decode kernel and a prefill
 * kernel with different lane layouts; which one runs depends on M only.)
 *
 * Prefetch and tile shapes were chosen with bench/kernel_bench.c. */
#include <immintrin.h>
#include <string.h>

#include "kernels/avx2_math.h"
#include "kernels/kernels.h"
#include "kernels/x86_common.h"
#include "quant/quant.h"
#include "quant/repack.h"


/* Tile shapes: decode (M = 1) takes DEC_NR weight rows at a time, which
 * gives the memory system several independent streams; prefill covers the
 * activation rows in groups of PRE_MR, each against PRE_NR weight rows at a
 * time (MR*NR accumulators plus the decoded weights must fit in the 16
 * ymm registers). Chosen by measurement (bench/kernel_bench.c; float
 * weights: 4 x 3, twelve FMA chains, beat 4 x 2 by x1.07 (bf16) to x1.39
 * (f32) at K=2048, N=8192, 2 threads). */
#ifndef LC_PRE_MR_LEGACY
#define LC_PRE_MR_LEGACY 4
#endif
#ifndef LC_PRE_NR_LEGACY
#define LC_PRE_NR_LEGACY 2
#endif
#ifndef LC_DEC_NR_K
#define LC_DEC_NR_K 1
#endif
#ifndef LC_PRE_MR_K
#define LC_PRE_MR_K 4
#endif
#ifndef LC_PRE_NR_K
#define LC_PRE_NR_K 1
#endif
#ifndef LC_PRE_MR_F
#define LC_PRE_MR_F 4
#endif
#ifndef LC_PRE_NR_F
#define LC_PRE_NR_F 3
#endif
enum {
    DEC_NR_LEGACY = 4, PRE_MR_LEGACY = LC_PRE_MR_LEGACY, PRE_NR_LEGACY = LC_PRE_NR_LEGACY,
    DEC_NR_K = LC_DEC_NR_K, PRE_MR_K = LC_PRE_MR_K, PRE_NR_K = LC_PRE_NR_K,
    DEC_NR_F = 4, PRE_MR_F = LC_PRE_MR_F, PRE_NR_F = LC_PRE_NR_F,
};

/* --------------------------------------------------------------- helpers */


LC_INLINE int hsum_epi32(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_unpackhi_epi64(s, s));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    return _mm_cvtsi128_si32(s);
}

LC_INLINE __m256 abs_ps(__m256 v) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), v); }

LC_INLINE float f16_to_f32(lc_f16 h) { return _cvtsh_ss(h); }

/* An f16 scale widened straight into all 8 lanes (broadcast, then one
 * conversion: cheaper than converting a scalar and broadcasting it). */
LC_INLINE __m256 f16_bcast(const lc_f16 *h) {
    return _mm256_cvtph_ps(_mm_set1_epi16((short)*h));
}

/* 4 x 8 int32 (each within int8 range) -> 32 int8 in element order. */
LC_INLINE __m256i pack_i32_to_i8(__m256i a, __m256i b, __m256i c, __m256i d) {
    __m256i ab = _mm256_packs_epi32(a, b);     /* a0-3 b0-3 | a4-7 b4-7 */
    __m256i cd = _mm256_packs_epi32(c, d);
    __m256i abcd = _mm256_packs_epi16(ab, cd); /* dwords: a0 b0 c0 d0 | a1 b1 c1 d1 */
    return _mm256_permutevar8x32_epi32(abcd, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

/* roundf: to nearest, ties away from zero (the Q8_0 reference rounding). */
LC_INLINE __m256 round_half_away(__m256 v) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 t = _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    __m256 frac = _mm256_andnot_ps(sign, _mm256_sub_ps(v, t)); /* exact */
    __m256 step = _mm256_or_ps(_mm256_and_ps(v, sign), _mm256_set1_ps(1.0f));
    __m256 up = _mm256_cmp_ps(frac, _mm256_set1_ps(0.5f), _CMP_GE_OQ);
    return _mm256_add_ps(t, _mm256_and_ps(up, step));
}

/* silu(g) * u = g * u / (1 + e^-g), 8 lanes. */
LC_INLINE __m256 swiglu8(__m256 g, __m256 u) {
    const __m256 e = lc_exp_ps(_mm256_sub_ps(_mm256_setzero_ps(), g));
    return _mm256_div_ps(_mm256_mul_ps(g, u), _mm256_add_ps(_mm256_set1_ps(1.0f), e));
}

static void swiglu(float *gate, const float *up, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(gate + i, swiglu8(_mm256_loadu_ps(gate + i), _mm256_loadu_ps(up + i)));
    if (i < n) {
        float g[8] = {0}, u[8] = {0};
        memcpy(g, gate + i, (size_t)(n - i) * sizeof(float));
        memcpy(u, up + i, (size_t)(n - i) * sizeof(float));
        _mm256_storeu_ps(g, swiglu8(_mm256_loadu_ps(g), _mm256_loadu_ps(u)));
        memcpy(gate + i, g, (size_t)(n - i) * sizeof(float));
    }
}

/* ------------------------------------------------------------ quantizers */


/* 16 bytes of each of two blocks, interleaved 4 bytes at a time. */
LC_INLINE __m256i interleave4(__m128i x0, __m128i x1) {
    return _mm256_set_m128i(_mm_unpackhi_epi32(x0, x1), _mm_unpacklo_epi32(x0, x1));
}

static void quantize_row_q8_0(const float *x, void *dst, int64_t k) {
    const q8_0_layout l = q8_0_layout_for(k);
    const int64_t nb = k / QK8_0;
    uint8_t *row = dst;
    block_q8_0 *y = dst;
    float *d_f32 = (float *)(row + l.d);
    int32_t *s2 = (int32_t *)(row + l.s2);
    int32_t *s8 = (int32_t *)(row + l.s8);
    for (int64_t b = 0; b < nb; b++, x += QK8_0) {
        __m256 v[4];
        __m256 amax = _mm256_setzero_ps();
        LC_UNROLL
        for (int i = 0; i < 4; i++) {
            v[i] = _mm256_loadu_ps(x + 8 * i);
            amax = _mm256_max_ps(amax, abs_ps(v[i]));
        }
        const float d = lc_hmax_ps(amax) / 127;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[b].d = lc_f32_to_f16(d);
        __m256i q[4];
        LC_UNROLL
        for (int i = 0; i < 4; i++)
            q[i] = _mm256_cvtps_epi32(round_half_away(_mm256_mul_ps(v[i], _mm256_set1_ps(id))));
        _mm256_storeu_si256((__m256i *)y[b].qs, pack_i32_to_i8(q[0], q[1], q[2], q[3]));
        d_f32[b] = f16_to_f32(y[b].d);
        const int32_t sum = hsum_epi32(_mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3])));
        s2[b] = 2 * sum;
        s8[b] = 8 * sum;
    }
    for (int64_t p = 0; p < nb / 2; p++) {
        const int8_t *q0 = y[2 * p].qs, *q1 = y[2 * p + 1].qs;
        __m256i lo = interleave4(_mm_loadu_si128((const __m128i *)q0), _mm_loadu_si128((const __m128i *)q1));
        __m256i hi = interleave4(_mm_loadu_si128((const __m128i *)(q0 + 16)), _mm_loadu_si128((const __m128i *)(q1 + 16)));
        _mm256_storeu_si256((__m256i *)(row + l.pairs + 64 * p), lo);
        _mm256_storeu_si256((__m256i *)(row + l.pairs + 64 * p + 32), hi);
    }
}


static size_t act_row_size(int type, int64_t K) {
    if (type == LC_TYPE_Q8_K) return q8_K_asum_offset(K) + (size_t)(K / QK_K) * 8 * sizeof(int16_t);
    return type == LC_TYPE_Q8_0 ? q8_0_layout_for(K).size : lc_row_size(type, K);
}

/* Index of the first element of x[0..255] whose magnitude equals amax: the
 * reference keeps the first of equal maxima (strict > while scanning). */
static int first_abs_equal(const float *x, float amax) {
    const __m256 target = _mm256_set1_ps(amax);
    for (int i = 0; i < QK_K; i += 8) {
        int mask = _mm256_movemask_ps(_mm256_cmp_ps(abs_ps(_mm256_loadu_ps(x + i)), target, _CMP_EQ_OQ));
        if (mask) return i + __builtin_ctz((unsigned)mask);
    }
    return 0;
}

static void quantize_row_q8_K(const float *x, void *dst, int64_t k) {
    block_q8_K *y = dst;
    int16_t *asum = (int16_t *)((uint8_t *)dst + q8_K_asum_offset(k));
    for (int64_t b = 0; b < k / QK_K; b++, x += QK_K) {
        __m256 vmax = _mm256_setzero_ps();
        for (int i = 0; i < QK_K; i += 8) vmax = _mm256_max_ps(vmax, abs_ps(_mm256_loadu_ps(x + i)));
        const float amax = lc_hmax_ps(vmax);
        if (amax == 0) { memset(&y[b], 0, sizeof y[b]); continue; }
        const float iscale = -127.f / x[first_abs_equal(x, amax)];
        const __m256 is = _mm256_set1_ps(iscale);
        const __m256i q_max = _mm256_set1_epi32(127);
        for (int i = 0; i < QK_K; i += 32) {
            __m256i q[4];
            LC_UNROLL
            for (int j = 0; j < 4; j++) {
                __m256 r = _mm256_round_ps(_mm256_mul_ps(_mm256_loadu_ps(x + i + 8 * j), is),
                                           _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
                q[j] = _mm256_min_epi32(_mm256_cvtps_epi32(r), q_max);
            }
            y[b].bsums[i / 16] = (int16_t)hsum_epi32(_mm256_add_epi32(q[0], q[1]));
            y[b].bsums[i / 16 + 1] = (int16_t)hsum_epi32(_mm256_add_epi32(q[2], q[3]));
            _mm256_storeu_si256((__m256i *)(y[b].qs + i), pack_i32_to_i8(q[0], q[1], q[2], q[3]));
        }
        y[b].d = 1 / iscale;
    }
    for (int64_t b = 0; b < k / QK_K; b++)
        for (int s = 0; s < 8; s++) asum[8 * b + s] = (int16_t)(y[b].bsums[2 * s] + y[b].bsums[2 * s + 1]);
}

static void quantize_row_f16(const float *x, void *dst, int64_t k) {
    lc_f16 *y = dst;
    int64_t i = 0;
    for (; i + 8 <= k; i += 8)
        _mm_storeu_si128((__m128i *)(y + i), _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
    for (; i < k; i++) y[i] = lc_f32_to_f16(x[i]);
}

/* bf16 = top half of the f32, rounded to nearest even; NaN kept quiet. */
LC_INLINE __m256i f32_to_bf16_bits(__m256 v) {
    __m256i u = _mm256_castps_si256(v);
    __m256i is_nan = _mm256_cmpgt_epi32(_mm256_and_si256(u, _mm256_set1_epi32(0x7fffffff)),
                                        _mm256_set1_epi32(0x7f800000));
    __m256i odd = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
    __m256i rounded = _mm256_srli_epi32(_mm256_add_epi32(_mm256_add_epi32(u, _mm256_set1_epi32(0x7fff)), odd), 16);
    __m256i quiet = _mm256_or_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(0x40));
    return _mm256_blendv_epi8(rounded, quiet, is_nan);
}

static void quantize_row_bf16(const float *x, void *dst, int64_t k) {
    lc_bf16 *y = dst;
    int64_t i = 0;
    for (; i + 16 <= k; i += 16) {
        __m256i lo = f32_to_bf16_bits(_mm256_loadu_ps(x + i));
        __m256i hi = f32_to_bf16_bits(_mm256_loadu_ps(x + i + 8));
        __m256i packed = _mm256_permute4x64_epi64(_mm256_packus_epi32(lo, hi), 0xd8);
        _mm256_storeu_si256((__m256i *)(y + i), packed);
    }
    for (; i < k; i++) y[i] = lc_f32_to_bf16(x[i]);
}

/* ------------------------------------------ Q4_0 / Q8_0 x Q8_0 (32 per block) */


LC_INLINE uint64_t load_u64(const void *p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

LC_INLINE __m256i load_2x128(const void *lo, const void *hi) {
    return _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)lo)),
                                   _mm_loadu_si128((const __m128i *)hi), 1);
}

/* Q4_0 nibbles q (0..15) go to maddubs unsigned as they are, and
 * sum (q - 8) a = sum q a - 8 sum a with sum a from the activation row:
 * exact in int32. Byte j of qs holds element j (low nibble) and j + 16.
 * Two blocks share each 256-bit vector, so that one add, madd, convert and
 * FMA serve both; a block has 4 of the 8 int32 lanes and each lane takes
 * 2 sum a, i.e. s2. An odd last block takes all 8 lanes (s2 / 2 each). */

/* The last block of an odd count, for MR rows x NR weight rows. */
LC_INLINE void q4_0_last_block(int64_t b, const uint8_t *W, size_t ws, const q8_0_act *ar,
                               __m256 acc[4][4], const int MR, const int NR) {
    const __m256i low4 = _mm256_set1_epi8(0x0f), ones = _mm256_set1_epi16(1);
    __m256i q[4];
    __m256 dw[4];
    LC_UNROLL
    for (int n = 0; n < NR; n++) {
        const block_q4_0 *blk = (const block_q4_0 *)(W + (size_t)n * ws) + b;
        __m128i raw = _mm_loadu_si128((const __m128i *)blk->qs);
        q[n] = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(raw, 4), raw), low4);
        dw[n] = f16_bcast(&blk->d);
    }
    LC_UNROLL
    for (int m = 0; m < MR; m++) {
        const __m256i a = _mm256_loadu_si256((const __m256i *)ar[m].blocks[b].qs);
        const __m256 da = _mm256_broadcast_ss(&ar[m].d[b]);
        const __m256i sa = _mm256_set1_epi32(ar[m].s2[b] / 2);
        LC_UNROLL
        for (int n = 0; n < NR; n++) {
            __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(q[n], a), ones);
            __m256 s = _mm256_cvtepi32_ps(_mm256_sub_epi32(p, sa));
            acc[m][n] = _mm256_fmadd_ps(s, _mm256_mul_ps(dw[n], da), acc[m][n]);
        }
    }
}

/* Decode (one activation row) works on groups of 8 blocks, as 4 pairs:
 * in pair k, block 2k sits in the low and block 2k+1 in the high 128-bit
 * half, which is the cheapest unpacking of the weights. The 4 pairs' int16
 * products are summed to one int32 lane per block (q4_0_group_sums), in
 * the order 0 2 4 6 | 1 3 5 7; then one subtract, one convert and one FMA
 * serve all 8 blocks. The 8 weight scales are gathered in that order with
 * scalar loads (integer ports, idle otherwise) into one 128-bit vector and
 * widened by a single cvtph. Activation-side vectors (scales, sums, the
 * quants themselves) are loaded once per group and shared by the NR rows. */
static const int32_t q4_0_group_order[8] = {0, 2, 4, 6, 1, 3, 5, 7};

/* int16 lanes of sum (q a) for a pair of blocks, 8 lanes per block. Each
 * maddubs lane is at most 2 * 15 * 127 = 3810 in magnitude, so their sum
 * here is at most 7620. */
LC_INLINE __m256i q4_0_pair_dot16(const block_q4_0 *blk, __m256i a_lo, __m256i a_hi) {
    const __m256i low4 = _mm256_set1_epi8(0x0f);
    __m256i raw = load_2x128(blk[0].qs, blk[1].qs);
    __m256i lo = _mm256_and_si256(raw, low4);
    __m256i hi = _mm256_and_si256(_mm256_srli_epi16(raw, 4), low4);
    return _mm256_add_epi16(_mm256_maddubs_epi16(lo, a_lo), _mm256_maddubs_epi16(hi, a_hi));
}

/* Per-block totals of four pairs' int16 lanes: lane i of half h of the
 * result is the sum of half h of pair i. The first two steps add in int16
 * (4 lanes of at most 7620: <= 30480, exact), keeping a block's partial
 * sums adjacent so that one madd finishes all 8 blocks in int32. */
LC_INLINE __m256i q4_0_group_sums(__m256i p0, __m256i p1, __m256i p2, __m256i p3) {
    __m256i t01 = _mm256_add_epi16(_mm256_unpacklo_epi32(p0, p1), _mm256_unpackhi_epi32(p0, p1));
    __m256i t23 = _mm256_add_epi16(_mm256_unpacklo_epi32(p2, p3), _mm256_unpackhi_epi32(p2, p3));
    __m256i u = _mm256_add_epi16(_mm256_unpacklo_epi64(t01, t23), _mm256_unpackhi_epi64(t01, t23));
    return _mm256_madd_epi16(u, _mm256_set1_epi16(1));
}

/* Four f16 scales, of blk[0], blk[2], blk[4], blk[6], packed into 64 bits
 * in general-purpose registers. The empty asm keeps the value there: left
 * alone, the compiler vectorizes these shifts into a longer chain of
 * shuffles on the vector ports that the dot products need. */
LC_INLINE uint64_t q4_0_scales_stride2(const block_q4_0 *blk) {
    uint64_t v = blk[0].d;
    __asm__("" : "+r"(v));
    v |= (uint64_t)blk[2].d << 16;
    __asm__("" : "+r"(v));
    v |= (uint64_t)blk[4].d << 32;
    __asm__("" : "+r"(v));
    return v | (uint64_t)blk[6].d << 48;
}

/* The f16 scales of blocks 0..7 at blk, in the group order, as 8 floats. */
LC_INLINE __m256 q4_0_group_scales(const block_q4_0 *blk) {
    const uint64_t even = q4_0_scales_stride2(blk), odd = q4_0_scales_stride2(blk + 1);
    return _mm256_cvtph_ps(_mm_set_epi64x((long long)odd, (long long)even));
}

LC_INLINE void q4_0_decode_kernel(int64_t nb, const uint8_t *W, size_t ws, const uint8_t *A, float *y,
                                  const int NR) {
    const q8_0_layout l = q8_0_layout_for(nb * QK8_0);
    const q8_0_act ar = q8_0_act_row(A, &l);
    const __m256i order = _mm256_loadu_si256((const __m256i *)q4_0_group_order);
    __m256 acc[4];
    LC_UNROLL
    for (int n = 0; n < NR; n++) acc[n] = _mm256_setzero_ps();
    const prefetcher pf = prefetch_plan(W, (size_t)NR * ws, nb / 8);
    int64_t b = 0;
    for (; b + 8 <= nb; b += 8) {
        prefetch_step(&pf, b / 8);
        __m256i a_lo[4], a_hi[4];
        LC_UNROLL
        for (int k = 0; k < 4; k++) {
            a_lo[k] = load_2x128(ar.blocks[b + 2 * k].qs, ar.blocks[b + 2 * k + 1].qs);
            a_hi[k] = load_2x128(ar.blocks[b + 2 * k].qs + 16, ar.blocks[b + 2 * k + 1].qs + 16);
        }
        /* sum (q - 8) a = sum q a - 4 s2 per block */
        const __m256 da = _mm256_permutevar8x32_ps(_mm256_loadu_ps(&ar.d[b]), order);
        const __m256i sa = _mm256_slli_epi32(
            _mm256_permutevar8x32_epi32(_mm256_loadu_si256((const __m256i *)&ar.s2[b]), order), 2);
        LC_UNROLL
        for (int n = 0; n < NR; n++) {
            const block_q4_0 *blk = (const block_q4_0 *)(W + (size_t)n * ws) + b;
            __m256i sums = q4_0_group_sums(
                q4_0_pair_dot16(blk, a_lo[0], a_hi[0]), q4_0_pair_dot16(blk + 2, a_lo[1], a_hi[1]),
                q4_0_pair_dot16(blk + 4, a_lo[2], a_hi[2]), q4_0_pair_dot16(blk + 6, a_lo[3], a_hi[3]));
            __m256 s = _mm256_cvtepi32_ps(_mm256_sub_epi32(sums, sa));
            acc[n] = _mm256_fmadd_ps(s, _mm256_mul_ps(q4_0_group_scales(blk), da), acc[n]);
        }
    }
    /* the last 0..7 blocks: pairs as in the group, then an odd one */
    __m256 acc4[4][4];
    LC_UNROLL
    for (int n = 0; n < NR; n++) acc4[0][n] = acc[n];
    for (; b + 2 <= nb; b += 2) {
        const __m256i a_lo = load_2x128(ar.blocks[b].qs, ar.blocks[b + 1].qs);
        const __m256i a_hi = load_2x128(ar.blocks[b].qs + 16, ar.blocks[b + 1].qs + 16);
        const __m256 da = _mm256_set_m128(_mm_broadcast_ss(&ar.d[b + 1]), _mm_broadcast_ss(&ar.d[b]));
        const __m256i sa = _mm256_set_m128i(_mm_set1_epi32(ar.s2[b + 1]), _mm_set1_epi32(ar.s2[b]));
        LC_UNROLL
        for (int n = 0; n < NR; n++) {
            const block_q4_0 *blk = (const block_q4_0 *)(W + (size_t)n * ws) + b;
            __m256 dw = _mm256_cvtph_ps(_mm_unpacklo_epi64(_mm_set1_epi16((short)blk[0].d),
                                                           _mm_set1_epi16((short)blk[1].d)));
            __m256i p = _mm256_madd_epi16(q4_0_pair_dot16(blk, a_lo, a_hi), _mm256_set1_epi16(1));
            __m256 s = _mm256_cvtepi32_ps(_mm256_sub_epi32(p, sa));
            acc4[0][n] = _mm256_fmadd_ps(s, _mm256_mul_ps(dw, da), acc4[0][n]);
        }
    }
    if (b < nb) q4_0_last_block(b, W, ws, &ar, acc4, 1, NR);
    LC_UNROLL
    for (int n = 0; n < NR; n++) y[n] = lc_hsum_ps(acc4[0][n]);
}

/* Prefill: blocks b and b+1 interleaved 4 bytes at a time (lanes
 * alternate between them), matching the activation row's `pairs`, so the
 * activations' scales and sums are one 64-bit broadcast each and every
 * activation byte is a plain load. */
LC_INLINE void q4_0_prefill_kernel(int64_t nb, const uint8_t *W, size_t ws, const uint8_t *A, size_t as,
                                   float *y, int64_t ldy, const int MR, const int NR) {
    const q8_0_layout l = q8_0_layout_for(nb * QK8_0);
    q8_0_act ar[4];
    LC_UNROLL
    for (int m = 0; m < MR; m++) ar[m] = q8_0_act_row(A + (size_t)m * as, &l);
    const __m256i low4 = _mm256_set1_epi8(0x0f), ones = _mm256_set1_epi16(1);
    __m256 acc[4][4];
    LC_UNROLL
    for (int m = 0; m < MR; m++)
        LC_UNROLL
        for (int n = 0; n < NR; n++) acc[m][n] = _mm256_setzero_ps();
    int64_t b = 0;
    for (; b + 2 <= nb; b += 2) {
        __m256i lo[4], hi[4];
        __m256 dw[4];
        LC_UNROLL
        for (int n = 0; n < NR; n++) {
            const block_q4_0 *blk = (const block_q4_0 *)(W + (size_t)n * ws) + b;
            __m256i raw = interleave4(_mm_loadu_si128((const __m128i *)blk[0].qs),
                                      _mm_loadu_si128((const __m128i *)blk[1].qs));
            lo[n] = _mm256_and_si256(raw, low4);
            hi[n] = _mm256_and_si256(_mm256_srli_epi16(raw, 4), low4);
            dw[n] = _mm256_cvtph_ps(_mm_set1_epi32((int)((uint32_t)blk[0].d | ((uint32_t)blk[1].d << 16))));
        }
        LC_UNROLL
        for (int m = 0; m < MR; m++) {
            const uint8_t *pair = ar[m].pairs + 32 * b;
            const __m256i a_lo = _mm256_loadu_si256((const __m256i *)pair);
            const __m256i a_hi = _mm256_loadu_si256((const __m256i *)(pair + 32));
            const __m256 da = _mm256_castsi256_ps(_mm256_set1_epi64x((long long)load_u64(&ar[m].d[b])));
            const __m256i sa = _mm256_set1_epi64x((long long)load_u64(&ar[m].s2[b]));
            LC_UNROLL
            for (int n = 0; n < NR; n++) {
                __m256i p16 = _mm256_add_epi16(_mm256_maddubs_epi16(lo[n], a_lo), _mm256_maddubs_epi16(hi[n], a_hi));
                __m256 s = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_madd_epi16(p16, ones), sa));
                acc[m][n] = _mm256_fmadd_ps(s, _mm256_mul_ps(dw[n], da), acc[m][n]);
            }
        }
    }
    if (b < nb) q4_0_last_block(b, W, ws, ar, acc, MR, NR);
    LC_UNROLL
    for (int m = 0; m < MR; m++)
        LC_UNROLL
        for (int n = 0; n < NR; n++) y[m * ldy + n] = lc_hsum_ps(acc[m][n]);
}

/* Q4_0 in the x8 layout (quant/repack.h): lane r of every vector belongs
 * to weight row r of the group, so one pass over a block gives 8 rows'
 * dot products at once. Vector c holds 4 quant bytes of each row, i.e.
 * elements 4c..4c+3 (low nibbles) and 16+4c.. (high nibbles), which meet
 * the activation's 4 bytes at the same offsets, broadcast to all lanes.
 * The 8 maddubs of a block (each int16 lane at most 2 * 15 * 127 = 3810)
 * sum to at most 30480 in int16, exactly; one madd widens them, and the
 * -8 offset of the nibbles comes off as 8 * sum(a) (s8), exact in int32.
 * The 8 rows' scales are one f16 vector, shared by all MR activation rows.
 * Decode (MR == 1) prefetches the next group as the plain kernels do. */

LC_INLINE void q4_0_x8_kernel(int64_t nb, const block_q4_0_x8 *w, const uint8_t *A, size_t as, float *y,
                              int64_t ldy, const int MR) {
    const q8_0_layout l = q8_0_layout_for(nb * QK8_0);
    q8_0_act ar[6];
    LC_UNROLL
    for (int m = 0; m < MR; m++) ar[m] = q8_0_act_row(A + (size_t)m * as, &l);
    const __m256i low4 = _mm256_set1_epi8(0x0f), ones = _mm256_set1_epi16(1);
    __m256 acc[6];
    LC_UNROLL
    for (int m = 0; m < MR; m++) acc[m] = _mm256_setzero_ps();
    const prefetcher pf = prefetch_plan((const uint8_t *)w, (size_t)nb * sizeof *w, nb);
    for (int64_t b = 0; b < nb; b++) {
        if (MR == 1) prefetch_step(&pf, b);
        __m256i s16[6];
        LC_UNROLL
        for (int m = 0; m < MR; m++) s16[m] = _mm256_setzero_si256();
        LC_UNROLL
        for (int c = 0; c < 4; c++) {
            const __m256i raw = _mm256_loadu_si256((const __m256i *)(w[b].qs + 32 * c));
            const __m256i lo = _mm256_and_si256(raw, low4);
            const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(raw, 4), low4);
            LC_UNROLL
            for (int m = 0; m < MR; m++) {
                const int8_t *aq = ar[m].blocks[b].qs;
                const __m256i a_lo = _mm256_set1_epi32(load_i32(aq + 4 * c));
                const __m256i a_hi = _mm256_set1_epi32(load_i32(aq + 16 + 4 * c));
                s16[m] = _mm256_add_epi16(s16[m], _mm256_add_epi16(_mm256_maddubs_epi16(lo, a_lo),
                                                                   _mm256_maddubs_epi16(hi, a_hi)));
                LC_KEEP_IN_REGISTER(s16[m]);
            }
        }
        const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)w[b].d));
        LC_UNROLL
        for (int m = 0; m < MR; m++) {
            const __m256i dot = _mm256_sub_epi32(_mm256_madd_epi16(s16[m], ones), _mm256_set1_epi32(ar[m].s8[b]));
            acc[m] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), _mm256_mul_ps(dw, _mm256_broadcast_ss(&ar[m].d[b])),
                                     acc[m]);
        }
    }
    LC_UNROLL
    for (int m = 0; m < MR; m++) _mm256_storeu_ps(y + m * ldy, acc[m]);
}

/* Decode of two groups far apart in one pass: two independent memory
 * streams per thread keep more of the hardware prefetchers and line fill
 * buffers busy than one (bench/membw -j), and the activation broadcasts
 * are shared. Each output sees the same operations as in q4_0_x8_kernel
 * with MR == 1, so results do not depend on how groups are paired. */
LC_INLINE void q4_0_x8_decode2(int64_t nb, const block_q4_0_x8 *w0, const block_q4_0_x8 *w1, const uint8_t *A,
                               float *y0, float *y1) {
    const q8_0_layout l = q8_0_layout_for(nb * QK8_0);
    const q8_0_act ar = q8_0_act_row(A, &l);
    const __m256i low4 = _mm256_set1_epi8(0x0f), ones = _mm256_set1_epi16(1);
    const block_q4_0_x8 *w[2] = {w0, w1};
    __m256 acc[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
    const prefetcher pf0 = prefetch_plan((const uint8_t *)w0, (size_t)nb * sizeof *w0, nb);
    const prefetcher pf1 = prefetch_plan((const uint8_t *)w1, (size_t)nb * sizeof *w1, nb);
    for (int64_t b = 0; b < nb; b++) {
        prefetch_step(&pf0, b);
        prefetch_step(&pf1, b);
        __m256i s16[2] = {_mm256_setzero_si256(), _mm256_setzero_si256()};
        LC_UNROLL
        for (int c = 0; c < 4; c++) {
            const int8_t *aq = ar.blocks[b].qs;
            const __m256i a_lo = _mm256_set1_epi32(load_i32(aq + 4 * c));
            const __m256i a_hi = _mm256_set1_epi32(load_i32(aq + 16 + 4 * c));
            LC_UNROLL
            for (int g = 0; g < 2; g++) {
                const __m256i raw = _mm256_loadu_si256((const __m256i *)(w[g][b].qs + 32 * c));
                const __m256i lo = _mm256_and_si256(raw, low4);
                const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(raw, 4), low4);
                s16[g] = _mm256_add_epi16(s16[g], _mm256_add_epi16(_mm256_maddubs_epi16(lo, a_lo),
                                                                   _mm256_maddubs_epi16(hi, a_hi)));
            }
        }
        const __m256 da = _mm256_broadcast_ss(&ar.d[b]);
        const __m256i sa = _mm256_set1_epi32(ar.s8[b]);
        LC_UNROLL
        for (int g = 0; g < 2; g++) {
            const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)w[g][b].d));
            const __m256i dot = _mm256_sub_epi32(_mm256_madd_epi16(s16[g], ones), sa);
            acc[g] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), _mm256_mul_ps(dw, da), acc[g]);
        }
    }
    _mm256_storeu_ps(y0, acc[0]);
    _mm256_storeu_ps(y1, acc[1]);
}

/* Q8_0 in the x8 layout: as Q4_0 x8, with 8 vectors of signed quants per
 * block. maddubs wants one unsigned operand: |w| is taken once per vector
 * and shared by the MR rows, the sign of w moves onto each row's
 * broadcast activation bytes. One pair sums to at most 2 * 128 * 127 in
 * magnitude (a is never -128), so each maddubs is widened by its own madd. */
LC_INLINE void q8_0_x8_kernel(int64_t nb, const block_q8_0_x8 *w, const uint8_t *A, size_t as, float *y,
                              int64_t ldy, const int MR) {
    const q8_0_layout l = q8_0_layout_for(nb * QK8_0);
    q8_0_act ar[6];
    LC_UNROLL
    for (int m = 0; m < MR; m++) ar[m] = q8_0_act_row(A + (size_t)m * as, &l);
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 acc[6];
    LC_UNROLL
    for (int m = 0; m < MR; m++) acc[m] = _mm256_setzero_ps();
    const prefetcher pf = prefetch_plan((const uint8_t *)w, (size_t)nb * sizeof *w, nb);
    for (int64_t b = 0; b < nb; b++) {
        if (MR == 1) prefetch_step(&pf, b);
        __m256i s32[6];
        LC_UNROLL
        for (int m = 0; m < MR; m++) s32[m] = _mm256_setzero_si256();
        LC_UNROLL
        for (int c = 0; c < 8; c++) {
            const __m256i q = _mm256_loadu_si256((const __m256i *)(w[b].qs + 32 * c));
            const __m256i qabs = _mm256_sign_epi8(q, q);
            LC_UNROLL
            for (int m = 0; m < MR; m++) {
                const __m256i a = _mm256_set1_epi32(load_i32(ar[m].blocks[b].qs + 4 * c));
                const __m256i p = _mm256_maddubs_epi16(qabs, _mm256_sign_epi8(a, q));
                s32[m] = _mm256_add_epi32(s32[m], _mm256_madd_epi16(p, ones));
                LC_KEEP_IN_REGISTER(s32[m]);
            }
        }
        const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)w[b].d));
        LC_UNROLL
        for (int m = 0; m < MR; m++)
            acc[m] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s32[m]), _mm256_mul_ps(dw, _mm256_broadcast_ss(&ar[m].d[b])),
                                     acc[m]);
    }
    LC_UNROLL
    for (int m = 0; m < MR; m++) _mm256_storeu_ps(y + m * ldy, acc[m]);
}

/* Two groups far apart in one pass, as q4_0_x8_decode2. */
LC_INLINE void q8_0_x8_decode2(int64_t nb, const block_q8_0_x8 *w0, const block_q8_0_x8 *w1, const uint8_t *A,
                               float *y0, float *y1) {
    const q8_0_layout l = q8_0_layout_for(nb * QK8_0);
    const q8_0_act ar = q8_0_act_row(A, &l);
    const __m256i ones = _mm256_set1_epi16(1);
    const block_q8_0_x8 *w[2] = {w0, w1};
    __m256 acc[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
    const prefetcher pf0 = prefetch_plan((const uint8_t *)w0, (size_t)nb * sizeof *w0, nb);
    const prefetcher pf1 = prefetch_plan((const uint8_t *)w1, (size_t)nb * sizeof *w1, nb);
    for (int64_t b = 0; b < nb; b++) {
        prefetch_step(&pf0, b);
        prefetch_step(&pf1, b);
        __m256i s32[2] = {_mm256_setzero_si256(), _mm256_setzero_si256()};
        LC_UNROLL
        for (int c = 0; c < 8; c++) {
            const __m256i a = _mm256_set1_epi32(load_i32(ar.blocks[b].qs + 4 * c));
            LC_UNROLL
            for (int g = 0; g < 2; g++) {
                const __m256i q = _mm256_loadu_si256((const __m256i *)(w[g][b].qs + 32 * c));
                const __m256i p = _mm256_maddubs_epi16(_mm256_sign_epi8(q, q), _mm256_sign_epi8(a, q));
                s32[g] = _mm256_add_epi32(s32[g], _mm256_madd_epi16(p, ones));
            }
        }
        const __m256 da = _mm256_broadcast_ss(&ar.d[b]);
        LC_UNROLL
        for (int g = 0; g < 2; g++) {
            const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)w[g][b].d));
            acc[g] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s32[g]), _mm256_mul_ps(dw, da), acc[g]);
        }
    }
    _mm256_storeu_ps(y0, acc[0]);
    _mm256_storeu_ps(y1, acc[1]);
}

#ifndef LC_PRE_MR_X8
#define LC_PRE_MR_X8 4
#endif

/* Groups of 8 weight rows, each against the activation rows MR at a time
 * (and the rest in one smaller call). */
#define X8_TILE_FN(fname, kernel, block_type, block_elems, MR)                                          \
    static void fname(int64_t K, const void *W, size_t ws, int64_t nr, const void *A, size_t as, int mr,  \
                      float *y, int64_t ldy) {                                                             \
        const int64_t nb = K / (block_elems);                                                              \
        for (int64_t g = 0; g < nr; g += LC_X8_ROWS) {                                                     \
            const block_type *w = (const block_type *)((const uint8_t *)W + (size_t)g * ws);               \
            int m = 0;                                                                                     \
            for (; m + (MR) <= mr; m += (MR))                                                              \
                kernel(nb, w, (const uint8_t *)A + (size_t)m * as, as, y + m * ldy + g, ldy, (MR));        \
            const uint8_t *a = (const uint8_t *)A + (size_t)m * as;                                        \
            float *ym = y + m * ldy + g;                                                                   \
            switch (mr - m) {                                                                              \
            case 5: kernel(nb, w, a, as, ym, ldy, 5); break;                                               \
            case 4: kernel(nb, w, a, as, ym, ldy, 4); break;                                               \
            case 3: kernel(nb, w, a, as, ym, ldy, 3); break;                                               \
            case 2: kernel(nb, w, a, as, ym, ldy, 2); break;                                               \
            case 1: kernel(nb, w, a, as, ym, ldy, 1); break;                                               \
            default: break;                                                                                \
            }                                                                                              \
        }                                                                                                  \
    }
X8_TILE_FN(tile_q4_0_x8_rows, q4_0_x8_kernel, block_q4_0_x8, QK4_0, LC_PRE_MR_X8)
X8_TILE_FN(tile_q8_0_x8_rows, q8_0_x8_kernel, block_q8_0_x8, QK8_0, LC_PRE_MR_X8)

#ifndef LC_X8_DECODE_STREAMS
#define LC_X8_DECODE_STREAMS 2
#endif

/* Decode pairs group i with group i + half of the call's groups (two
 * memory streams per thread: measured +14-15% single-thread decode on the
 * 1B Q4_0 file, bench/results/2026-11-25-x8.md); prefill and odd groups go
 * through the one-group tiles. */
#define X8_DECODE2_TILE_FN(fname, rows_fn, decode2, block_type, block_elems)                               \
    static void fname(int64_t K, const void *W, size_t ws, int64_t nr, const void *A, size_t as, int mr,  \
                      float *y, int64_t ldy) {                                                             \
        const int64_t n_groups = nr / LC_X8_ROWS, half = n_groups / 2;                                    \
        if (mr != 1 || LC_X8_DECODE_STREAMS < 2 || half == 0) {                                            \
            rows_fn(K, W, ws, nr, A, as, mr, y, ldy);                                                      \
            return;                                                                                        \
        }                                                                                                  \
        const size_t group_bytes = (size_t)LC_X8_ROWS * ws;                                                \
        for (int64_t g = 0; g < half; g++)                                                                 \
            decode2(K / (block_elems), (const block_type *)((const uint8_t *)W + (size_t)g * group_bytes),  \
                    (const block_type *)((const uint8_t *)W + (size_t)(g + half) * group_bytes), A,         \
                    y + g * LC_X8_ROWS, y + (g + half) * LC_X8_ROWS);                                      \
        if (n_groups % 2)                                                                                  \
            rows_fn(K, (const uint8_t *)W + (size_t)(n_groups - 1) * group_bytes, ws, LC_X8_ROWS, A, as, 1, \
                    y + (n_groups - 1) * LC_X8_ROWS, ldy);                                                 \
    }
X8_DECODE2_TILE_FN(tile_q4_0_x8, tile_q4_0_x8_rows, q4_0_x8_decode2, block_q4_0_x8, QK4_0)
X8_DECODE2_TILE_FN(tile_q8_0_x8, tile_q8_0_x8_rows, q8_0_x8_decode2, block_q8_0_x8, QK8_0)

/* Q8_0: maddubs wants an unsigned operand, so |w| goes there and the sign
 * of w moves onto a. |pairs| <= 2*128*127 fits int16 (a is never -128). */
LC_INLINE void q8_0_kernel(int64_t nb, const uint8_t *W, size_t ws, const uint8_t *A, size_t as,
                           float *y, int64_t ldy, const int MR, const int NR) {
    const q8_0_layout l = q8_0_layout_for(nb * QK8_0);
    q8_0_act ar[4];
    LC_UNROLL
    for (int m = 0; m < MR; m++) ar[m] = q8_0_act_row(A + (size_t)m * as, &l);
    __m256 acc[4][4];
    LC_UNROLL
    for (int m = 0; m < MR; m++)
        LC_UNROLL
        for (int n = 0; n < NR; n++) acc[m][n] = _mm256_setzero_ps();
    const prefetcher pf = prefetch_plan(W, (size_t)NR * ws, nb);
    for (int64_t b = 0; b < nb; b++) {
        if (MR == 1) prefetch_step(&pf, b);
        __m256i w[4], wabs[4];
        __m256 dw[4];
        LC_UNROLL
        for (int n = 0; n < NR; n++) {
            const block_q8_0 *blk = (const block_q8_0 *)(W + (size_t)n * ws) + b;
            w[n] = _mm256_loadu_si256((const __m256i *)blk->qs);
            wabs[n] = _mm256_sign_epi8(w[n], w[n]);
            dw[n] = f16_bcast(&blk->d);
        }
        LC_UNROLL
        for (int m = 0; m < MR; m++) {
            const __m256i a = _mm256_loadu_si256((const __m256i *)ar[m].blocks[b].qs);
            const __m256 da = _mm256_broadcast_ss(&ar[m].d[b]);
            LC_UNROLL
            for (int n = 0; n < NR; n++) {
                __m256i p16 = _mm256_maddubs_epi16(wabs[n], _mm256_sign_epi8(a, w[n]));
                __m256 s = _mm256_cvtepi32_ps(_mm256_madd_epi16(p16, _mm256_set1_epi16(1)));
                acc[m][n] = _mm256_fmadd_ps(s, _mm256_mul_ps(dw[n], da), acc[m][n]);
            }
        }
    }
    LC_UNROLL
    for (int m = 0; m < MR; m++)
        LC_UNROLL
        for (int n = 0; n < NR; n++) y[m * ldy + n] = lc_hsum_ps(acc[m][n]);
}

/* ------------------------------------------------------ Q4_K x Q8_K */

/* int16 lane j of a 128-bit lane broadcast to all 8 lanes (pshufb mask). */
LC_INLINE __m256i bcast16_mask(int j) {
    return _mm256_set1_epi16((short)((2 * j) | ((2 * j + 1) << 8)));
}

LC_INLINE void q4_K_kernel(int64_t nb, const uint8_t *W, size_t ws, const uint8_t *A, size_t as,
                           float *y, int64_t ldy, const int MR, const int NR) {
    const __m256i low4 = _mm256_set1_epi8(0x0f);
    __m256 acc[4][4];
    LC_UNROLL
    for (int m = 0; m < MR; m++)
        LC_UNROLL
        for (int n = 0; n < NR; n++) acc[m][n] = _mm256_setzero_ps();
    const prefetcher pf = prefetch_plan(W, (size_t)NR * ws, nb);
    for (int64_t b = 0; b < nb; b++) {
        if (MR == 1) prefetch_step(&pf, b);
        const block_q4_K *wb[4];
        __m256i scales[4], mins[4];
        LC_UNROLL
        for (int n = 0; n < NR; n++) {
            wb[n] = (const block_q4_K *)(W + (size_t)n * ws) + b;
            uint8_t sc[8], mn[8];
            lc_k4_scales_all(wb[n]->scales, sc, mn);
            __m128i sc16 = _mm_cvtepu8_epi16(_mm_loadl_epi64((const __m128i *)sc));
            __m128i m16 = _mm_cvtepu8_epi16(_mm_loadl_epi64((const __m128i *)mn));
            scales[n] = _mm256_broadcastsi128_si256(sc16);
            /* m[i] twice, to pair with bsums[2i] and bsums[2i+1] */
            mins[n] = _mm256_set_m128i(_mm_unpackhi_epi16(m16, m16), _mm_unpacklo_epi16(m16, m16));
        }
        __m256i isum[4][4];
        LC_UNROLL
        for (int m = 0; m < MR; m++)
            LC_UNROLL
            for (int n = 0; n < NR; n++) isum[m][n] = _mm256_setzero_si256();
        /* 32 bytes of qs: low nibbles are sub-block 2c, high ones 2c+1 */
        LC_UNROLL
        for (int c = 0; c < 4; c++) {
            __m256i lo[4], hi[4], s_lo[4], s_hi[4];
            LC_UNROLL
            for (int n = 0; n < NR; n++) {
                __m256i q = _mm256_loadu_si256((const __m256i *)(wb[n]->qs + 32 * c));
                lo[n] = _mm256_and_si256(q, low4);
                hi[n] = _mm256_and_si256(_mm256_srli_epi16(q, 4), low4);
                s_lo[n] = _mm256_shuffle_epi8(scales[n], bcast16_mask(2 * c));
                s_hi[n] = _mm256_shuffle_epi8(scales[n], bcast16_mask(2 * c + 1));
            }
            LC_UNROLL
            for (int m = 0; m < MR; m++) {
                const block_q8_K *ab = (const block_q8_K *)(A + (size_t)m * as) + b;
                __m256i a_lo = _mm256_loadu_si256((const __m256i *)(ab->qs + 64 * c));
                __m256i a_hi = _mm256_loadu_si256((const __m256i *)(ab->qs + 64 * c + 32));
                LC_UNROLL
                for (int n = 0; n < NR; n++) {
                    __m256i p_lo = _mm256_madd_epi16(_mm256_maddubs_epi16(lo[n], a_lo), s_lo[n]);
                    __m256i p_hi = _mm256_madd_epi16(_mm256_maddubs_epi16(hi[n], a_hi), s_hi[n]);
                    isum[m][n] = _mm256_add_epi32(isum[m][n], _mm256_add_epi32(p_lo, p_hi));
                }
            }
        }
        LC_UNROLL
        for (int m = 0; m < MR; m++) {
            const block_q8_K *ab = (const block_q8_K *)(A + (size_t)m * as) + b;
            __m256i bsums = _mm256_loadu_si256((const __m256i *)ab->bsums);
            LC_UNROLL
            for (int n = 0; n < NR; n++) {
                __m256 s = _mm256_cvtepi32_ps(isum[m][n]);
                __m256 ms = _mm256_cvtepi32_ps(_mm256_madd_epi16(bsums, mins[n]));
                acc[m][n] = _mm256_fmadd_ps(s, _mm256_set1_ps(f16_to_f32(wb[n]->d) * ab->d), acc[m][n]);
                acc[m][n] = _mm256_fnmadd_ps(ms, _mm256_set1_ps(f16_to_f32(wb[n]->dmin) * ab->d), acc[m][n]);
            }
        }
    }
    LC_UNROLL
    for (int m = 0; m < MR; m++)
        LC_UNROLL
        for (int n = 0; n < NR; n++) y[m * ldy + n] = lc_hsum_ps(acc[m][n]);
}

/* Q4_K in the x8 layout (quant/repack.h): lanes are the 8 weight rows.
 * Per sub-block, 8 maddubs of low (or high) nibbles against broadcast
 * activation bytes sum to at most 8 * 3810 in int16; one madd with the 8
 * rows' scales (each as a pair of equal int16) widens and scales them
 * (at most 63 * 30480 * 2 per sub-block, 8 sub-blocks: fits int32). The
 * mins meet the activation's sub-block sums two sub-blocks per madd. */

/* The 64 six-bit values of a split array (index s*8 + r), as bytes: v[0]
 * holds indices 0..31 (sub-blocks 0..3), v[1] 32..63. */
LC_INLINE void q4_K_x8_unpack6(const uint8_t lo[32], const uint8_t hi[16], __m256i v[2]) {
    const __m256i low4 = _mm256_set1_epi8(0x0f), low2 = _mm256_set1_epi8(3);
    const __m256i l = _mm256_loadu_si256((const __m256i *)lo);
    const __m128i h = _mm_loadu_si128((const __m128i *)hi);
    const __m256i h01 = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(h, 2), h), low2);
    const __m256i h23 = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(h, 6), _mm_srli_epi16(h, 4)), low2);
    v[0] = _mm256_or_si256(_mm256_and_si256(l, low4), _mm256_slli_epi16(h01, 4));
    v[1] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l, 4), low4), _mm256_slli_epi16(h23, 4));
}

/* Per int32 lane r, bytes (lo_byte, hi_byte) of row r as two int16: the
 * source bytes 8 apart in each 128-bit half, which `half` holds twice. */
LC_INLINE __m256i q4_K_x8_pairs(__m256i half, int lo_byte, int hi_byte) {
    const __m256i r = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i mask = _mm256_or_si256(
        _mm256_or_si256(_mm256_add_epi32(r, _mm256_set1_epi32(lo_byte)),
                        _mm256_slli_epi32(_mm256_add_epi32(r, _mm256_set1_epi32(hi_byte)), 16)),
        _mm256_set1_epi32((int)0x80008000u));
    return _mm256_shuffle_epi8(half, mask);
}

/* The low (upper == 0) or high 128-bit half of v, in both halves. */
LC_INLINE __m256i dup_half(__m256i v, int upper) {
    return upper ? _mm256_permute2x128_si256(v, v, 0x11) : _mm256_permute2x128_si256(v, v, 0x00);
}

#ifndef LC_PRE_MR_X8_K
#define LC_PRE_MR_X8_K 4
#endif

LC_INLINE void q4_K_x8_kernel(int64_t nb, const block_q4_K_x8 *w, const uint8_t *A, size_t as, float *y,
                              int64_t ldy, const int MR) {
    const __m256i low4 = _mm256_set1_epi8(0x0f);
    const int16_t *asum[6];
    const block_q8_K *ab[6];
    LC_UNROLL
    for (int m = 0; m < MR; m++) {
        ab[m] = (const block_q8_K *)(A + (size_t)m * as);
        asum[m] = (const int16_t *)(A + (size_t)m * as + q8_K_asum_offset(nb * QK_K));
    }
    __m256 acc[6];
    LC_UNROLL
    for (int m = 0; m < MR; m++) acc[m] = _mm256_setzero_ps();
    const prefetcher pf = prefetch_plan((const uint8_t *)w, (size_t)nb * sizeof *w, nb * 4);
    for (int64_t b = 0; b < nb; b++) {
        __m256i sc6[2];
        q4_K_x8_unpack6(w[b].scales_lo, w[b].scales_hi, sc6);
        __m256i isum[6];
        LC_UNROLL
        for (int m = 0; m < MR; m++) isum[m] = _mm256_setzero_si256();
        LC_UNROLL
        for (int h = 0; h < 4; h++) {
            if (MR == 1) prefetch_step(&pf, b * 4 + h);
            /* sub-blocks 2h (low nibbles) and 2h+1 (high): bytes 16h.. and 16h+8.. of the scales */
            const __m256i half = dup_half(sc6[h / 2], h % 2);
            const __m256i sc_lo = q4_K_x8_pairs(half, 0, 0), sc_hi = q4_K_x8_pairs(half, 8, 8);
            const uint8_t *q = w[b].qs + h * 8 * 32;
            LC_UNROLL
            for (int part = 0; part < 2; part++) {
                __m256i s16[6];
                LC_UNROLL
                for (int m = 0; m < MR; m++) s16[m] = _mm256_setzero_si256();
                LC_UNROLL
                for (int c = 0; c < 8; c++) {
                    const __m256i raw = _mm256_loadu_si256((const __m256i *)(q + 32 * c));
                    const __m256i nib = part ? _mm256_and_si256(_mm256_srli_epi16(raw, 4), low4)
                                             : _mm256_and_si256(raw, low4);
                    LC_UNROLL
                    for (int m = 0; m < MR; m++) {
                        const __m256i a = _mm256_set1_epi32(load_i32(ab[m][b].qs + 64 * h + 32 * part + 4 * c));
                        s16[m] = _mm256_add_epi16(s16[m], _mm256_maddubs_epi16(nib, a));
                        LC_KEEP_IN_REGISTER(s16[m]);
                    }
                }
                LC_UNROLL
                for (int m = 0; m < MR; m++) {
                    isum[m] = _mm256_add_epi32(isum[m], _mm256_madd_epi16(s16[m], part ? sc_hi : sc_lo));
                    LC_KEEP_IN_REGISTER(isum[m]);
                }
            }
        }
        /* mins of sub-blocks (2p, 2p+1) for p = 0..3, unpacked only now
         * (the registers are free again) */
        __m256i mn6[2];
        q4_K_x8_unpack6(w[b].mins_lo, w[b].mins_hi, mn6);
        __m256i mpair[4];
        LC_UNROLL
        for (int p = 0; p < 4; p++) {
            const __m256i half = dup_half(mn6[p / 2], p % 2);
            mpair[p] = q4_K_x8_pairs(half, 0, 8);
        }
        const __m256 d = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)w[b].d));
        const __m256 dmin = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)w[b].dmin));
        LC_UNROLL
        for (int m = 0; m < MR; m++) {
            __m256i imin = _mm256_madd_epi16(mpair[0], _mm256_set1_epi32(load_i32(asum[m] + 8 * b)));
            LC_UNROLL
            for (int p = 1; p < 4; p++)
                imin = _mm256_add_epi32(imin, _mm256_madd_epi16(mpair[p], _mm256_set1_epi32(load_i32(asum[m] + 8 * b + 2 * p))));
            const __m256 da = _mm256_broadcast_ss(&ab[m][b].d);
            acc[m] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[m]), _mm256_mul_ps(d, da), acc[m]);
            acc[m] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(imin), _mm256_mul_ps(dmin, da), acc[m]);
        }
    }
    LC_UNROLL
    for (int m = 0; m < MR; m++) _mm256_storeu_ps(y + m * ldy, acc[m]);
}

X8_TILE_FN(tile_q4_K_x8_rows, q4_K_x8_kernel, block_q4_K_x8, QK_K, LC_PRE_MR_X8_K)

/* Decode of two groups far apart in one pass (see q4_0_x8_decode2): the
 * per-output operations of q4_K_x8_kernel with MR == 1, for two groups in
 * lock step sharing the activation broadcasts. */
LC_INLINE void q4_K_x8_decode2(int64_t nb, const block_q4_K_x8 *w0, const block_q4_K_x8 *w1, const uint8_t *A,
                               float *y0, float *y1) {
    const __m256i low4 = _mm256_set1_epi8(0x0f);
    const block_q8_K *ab = (const block_q8_K *)A;
    const int16_t *asum = (const int16_t *)(A + q8_K_asum_offset(nb * QK_K));
    const block_q4_K_x8 *w[2] = {w0, w1};
    __m256 acc[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
    const prefetcher pf0 = prefetch_plan((const uint8_t *)w0, (size_t)nb * sizeof *w0, nb * 4);
    const prefetcher pf1 = prefetch_plan((const uint8_t *)w1, (size_t)nb * sizeof *w1, nb * 4);
    for (int64_t b = 0; b < nb; b++) {
        __m256i sc6[2][2];
        LC_UNROLL
        for (int g = 0; g < 2; g++) q4_K_x8_unpack6(w[g][b].scales_lo, w[g][b].scales_hi, sc6[g]);
        __m256i isum[2] = {_mm256_setzero_si256(), _mm256_setzero_si256()};
        LC_UNROLL
        for (int h = 0; h < 4; h++) {
            prefetch_step(&pf0, b * 4 + h);
            prefetch_step(&pf1, b * 4 + h);
            LC_UNROLL
            for (int part = 0; part < 2; part++) {
                __m256i s16[2] = {_mm256_setzero_si256(), _mm256_setzero_si256()};
                LC_UNROLL
                for (int c = 0; c < 8; c++) {
                    const __m256i a = _mm256_set1_epi32(load_i32(ab[b].qs + 64 * h + 32 * part + 4 * c));
                    LC_UNROLL
                    for (int g = 0; g < 2; g++) {
                        const __m256i raw = _mm256_loadu_si256((const __m256i *)(w[g][b].qs + h * 8 * 32 + 32 * c));
                        const __m256i nib = part ? _mm256_and_si256(_mm256_srli_epi16(raw, 4), low4)
                                                 : _mm256_and_si256(raw, low4);
                        s16[g] = _mm256_add_epi16(s16[g], _mm256_maddubs_epi16(nib, a));
                    }
                }
                LC_UNROLL
                for (int g = 0; g < 2; g++) {
                    const __m256i sc = q4_K_x8_pairs(dup_half(sc6[g][h / 2], h % 2), 8 * part, 8 * part);
                    isum[g] = _mm256_add_epi32(isum[g], _mm256_madd_epi16(s16[g], sc));
                }
            }
        }
        const __m256 da = _mm256_broadcast_ss(&ab[b].d);
        LC_UNROLL
        for (int g = 0; g < 2; g++) {
            __m256i mn6[2];
            q4_K_x8_unpack6(w[g][b].mins_lo, w[g][b].mins_hi, mn6);
            __m256i imin = _mm256_madd_epi16(q4_K_x8_pairs(dup_half(mn6[0], 0), 0, 8), _mm256_set1_epi32(load_i32(asum + 8 * b)));
            LC_UNROLL
            for (int p = 1; p < 4; p++)
                imin = _mm256_add_epi32(imin, _mm256_madd_epi16(q4_K_x8_pairs(dup_half(mn6[p / 2], p % 2), 0, 8),
                                                                _mm256_set1_epi32(load_i32(asum + 8 * b + 2 * p))));
            const __m256 d = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)w[g][b].d));
            const __m256 dmin = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)w[g][b].dmin));
            acc[g] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[g]), _mm256_mul_ps(d, da), acc[g]);
            acc[g] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(imin), _mm256_mul_ps(dmin, da), acc[g]);
        }
    }
    _mm256_storeu_ps(y0, acc[0]);
    _mm256_storeu_ps(y1, acc[1]);
}

X8_DECODE2_TILE_FN(tile_q4_K_x8, tile_q4_K_x8_rows, q4_K_x8_decode2, block_q4_K_x8, QK_K)

/* ------------------------------------------------------ Q6_K x Q8_K */

/* Q6_K in the x8 layout (quant/repack.h). Each super-block is first
 * decoded, once for all MR activation rows, into 64 vectors of 6-bit
 * values (vector k: elements 4k..4k+3 of the 8 rows) and the scales into
 * int16 pairs; then per activation row two maddubs (each int16 lane at most
 * 2 * 63 * 127, so two sum to 32004: exact) meet one madd with the scale
 * of their 16-element group. The -32 offset of the quants comes off as
 * 32 * sum_g scale_g * bsum_g (the Q8_K block sums), in int32. */
typedef struct q6_K_x8_decoded {
    __m256i q[64];        /* 6-bit values, vector k = elements 4k..4k+3 */
    __m256i scale[16];    /* group g's scale of row r, twice as int16, in lane r */
    __m256i scale2[8];    /* groups 2p and 2p+1's scales of row r as int16 in lane r */
} q6_K_x8_decoded;

/* The scales of one x8 super-block as madd operands: scale[g] holds group
 * g's scale of row r in lane r, twice as int16; scale2[p] the scales of
 * groups 2p and 2p+1 (for the -32 offset against the block sums). */
LC_INLINE void q6_K_x8_scales(const block_q6_K_x8 *w, __m256i scale[16], __m256i scale2[8]) {
    LC_UNROLL
    for (int p = 0; p < 8; p++) {
        const __m256i s0 = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)w->scales[2 * p]));
        const __m256i s1 = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)w->scales[2 * p + 1]));
        const __m256i s1_hi = _mm256_slli_epi32(s1, 16);
        scale[2 * p] = _mm256_blend_epi16(s0, _mm256_slli_epi32(s0, 16), 0xaa);
        scale[2 * p + 1] = _mm256_blend_epi16(s1, s1_hi, 0xaa);
        scale2[p] = _mm256_blend_epi16(s0, s1_hi, 0xaa);
    }
}

LC_INLINE void q6_K_x8_decode(const block_q6_K_x8 *w, q6_K_x8_decoded *out) {
    const __m256i low4 = _mm256_set1_epi8(0x0f), bits45 = _mm256_set1_epi8(0x30);
    for (int n = 0; n < 2; n++)
        LC_UNROLL
        for (int c = 0; c < 8; c++) {
            const __m256i h = _mm256_loadu_si256((const __m256i *)w->qh[n][c]);
            const __m256i l0 = _mm256_loadu_si256((const __m256i *)w->ql[n][c]);
            const __m256i l1 = _mm256_loadu_si256((const __m256i *)w->ql[n][c + 8]);
            __m256i *q = out->q + 32 * n + c;
            q[0] = _mm256_or_si256(_mm256_and_si256(l0, low4), _mm256_and_si256(_mm256_slli_epi16(h, 4), bits45));
            q[8] = _mm256_or_si256(_mm256_and_si256(l1, low4), _mm256_and_si256(_mm256_slli_epi16(h, 2), bits45));
            q[16] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), low4), _mm256_and_si256(h, bits45));
            q[24] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), low4),
                                    _mm256_and_si256(_mm256_srli_epi16(h, 2), bits45));
        }
    q6_K_x8_scales(w, out->scale, out->scale2);
}

/* Decode (one activation row): the decoded vectors go straight into the
 * products instead of through the buffer, whose stores would cost more
 * than the single row's arithmetic. The integer sums are exact, so the
 * result has the same bits as q6_K_x8_kernel's for that row. */
LC_INLINE void q6_K_x8_decode_kernel(int64_t nb, const block_q6_K_x8 *w, const uint8_t *A, float *y) {
    const __m256i low4 = _mm256_set1_epi8(0x0f), bits45 = _mm256_set1_epi8(0x30);
    const block_q8_K *ab = (const block_q8_K *)A;
    __m256 acc = _mm256_setzero_ps();
    const prefetcher pf = prefetch_plan((const uint8_t *)w, (size_t)nb * sizeof *w, nb * 8);
    for (int64_t b = 0; b < nb; b++) {
        __m256i scale[16], scale2[8];
        q6_K_x8_scales(&w[b], scale, scale2);
        __m256i sum[4] = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(),
                          _mm256_setzero_si256()};
        for (int n = 0; n < 2; n++)
            LC_UNROLL
            for (int c = 0; c < 8; c += 2) {
                prefetch_step(&pf, b * 8 + n * 4 + c / 2);
                __m256i q[2][4];
                LC_UNROLL
                for (int i = 0; i < 2; i++) {
                    const __m256i h = _mm256_loadu_si256((const __m256i *)w[b].qh[n][c + i]);
                    const __m256i l0 = _mm256_loadu_si256((const __m256i *)w[b].ql[n][c + i]);
                    const __m256i l1 = _mm256_loadu_si256((const __m256i *)w[b].ql[n][c + i + 8]);
                    q[i][0] = _mm256_or_si256(_mm256_and_si256(l0, low4), _mm256_and_si256(_mm256_slli_epi16(h, 4), bits45));
                    q[i][1] = _mm256_or_si256(_mm256_and_si256(l1, low4), _mm256_and_si256(_mm256_slli_epi16(h, 2), bits45));
                    q[i][2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), low4), _mm256_and_si256(h, bits45));
                    q[i][3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), low4),
                                              _mm256_and_si256(_mm256_srli_epi16(h, 2), bits45));
                }
                /* stream j holds elements 128n + 32j + 4c.., i.e. vector k = 32n + 8j + c of the group 8n + 2j + c/4 */
                LC_UNROLL
                for (int j = 0; j < 4; j++) {
                    const int k = 32 * n + 8 * j + c;
                    const int8_t *aq = ab[b].qs + 4 * k;
                    const __m256i s16 = _mm256_add_epi16(_mm256_maddubs_epi16(q[0][j], _mm256_set1_epi32(load_i32(aq))),
                                                         _mm256_maddubs_epi16(q[1][j], _mm256_set1_epi32(load_i32(aq + 4))));
                    sum[j] = _mm256_add_epi32(sum[j], _mm256_madd_epi16(s16, scale[k / 4]));
                }
            }
        const __m256i isum = _mm256_add_epi32(_mm256_add_epi32(sum[0], sum[1]), _mm256_add_epi32(sum[2], sum[3]));
        __m256i off = _mm256_setzero_si256();
        LC_UNROLL
        for (int p = 0; p < 8; p++)
            off = _mm256_add_epi32(off, _mm256_madd_epi16(scale2[p], _mm256_set1_epi32(load_i32(&ab[b].bsums[2 * p]))));
        const __m256i dot = _mm256_sub_epi32(isum, _mm256_slli_epi32(off, 5));
        const __m256 d = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)w[b].d));
        acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), _mm256_mul_ps(d, _mm256_broadcast_ss(&ab[b].d)), acc);
    }
    _mm256_storeu_ps(y, acc);
}

LC_INLINE void q6_K_x8_kernel(int64_t nb, const block_q6_K_x8 *w, const uint8_t *A, size_t as, float *y,
                              int64_t ldy, const int MR) {
    if (MR == 1) {
        q6_K_x8_decode_kernel(nb, w, A, y);
        return;
    }
    const block_q8_K *ab[6];
    LC_UNROLL
    for (int m = 0; m < MR; m++) ab[m] = (const block_q8_K *)(A + (size_t)m * as);
    __m256 acc[6];
    LC_UNROLL
    for (int m = 0; m < MR; m++) acc[m] = _mm256_setzero_ps();
    const prefetcher pf = prefetch_plan((const uint8_t *)w, (size_t)nb * sizeof *w, nb * 4);
    q6_K_x8_decoded dec;
    for (int64_t b = 0; b < nb; b++) {
        q6_K_x8_decode(&w[b], &dec);
        __m256i isum[6];
        LC_UNROLL
        for (int m = 0; m < MR; m++) isum[m] = _mm256_setzero_si256();
        for (int k = 0; k < 64; k += 2) {
            if (MR == 1 && k % 16 == 0) prefetch_step(&pf, b * 4 + k / 16);
            LC_UNROLL
            for (int m = 0; m < MR; m++) {
                const int8_t *aq = ab[m][b].qs + 4 * k;
                const __m256i s16 = _mm256_add_epi16(_mm256_maddubs_epi16(dec.q[k], _mm256_set1_epi32(load_i32(aq))),
                                                     _mm256_maddubs_epi16(dec.q[k + 1], _mm256_set1_epi32(load_i32(aq + 4))));
                isum[m] = _mm256_add_epi32(isum[m], _mm256_madd_epi16(s16, dec.scale[k / 4]));
                LC_KEEP_IN_REGISTER(isum[m]);
            }
        }
        const __m256 d = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)w[b].d));
        LC_UNROLL
        for (int m = 0; m < MR; m++) {
            __m256i off = _mm256_madd_epi16(dec.scale2[0], _mm256_set1_epi32(load_i32(&ab[m][b].bsums[0])));
            LC_UNROLL
            for (int p = 1; p < 8; p++)
                off = _mm256_add_epi32(off, _mm256_madd_epi16(dec.scale2[p], _mm256_set1_epi32(load_i32(&ab[m][b].bsums[2 * p]))));
            const __m256i dot = _mm256_sub_epi32(isum[m], _mm256_slli_epi32(off, 5));
            acc[m] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), _mm256_mul_ps(d, _mm256_broadcast_ss(&ab[m][b].d)), acc[m]);
        }
    }
    LC_UNROLL
    for (int m = 0; m < MR; m++) _mm256_storeu_ps(y + m * ldy, acc[m]);
}

X8_TILE_FN(tile_q6_K_x8, q6_K_x8_kernel, block_q6_K_x8, QK_K, LC_PRE_MR_X8_K)


/* A block's 16 int8 scales widened once to int16 and split by half: half
 * h (elements 128h..128h+127) uses scales 8h..8h+7, and each 32-element
 * chunk j of it takes scale 8h+2j in the low 128-bit lane and 8h+2j+1 in
 * the high one, which one in-lane shuffle of [scales 8h..8h+7 | same]
 * gives (q6_K_chunk_scales). */
LC_INLINE void q6_K_half_scales(__m256i sc16, __m256i half[2]) {
    half[0] = _mm256_permute2x128_si256(sc16, sc16, 0x00);
    half[1] = _mm256_permute2x128_si256(sc16, sc16, 0x11);
}

LC_INLINE __m256i q6_K_chunk_scales(__m256i half, int j) {
    const __m256i idx = _mm256_set_m128i(_mm_set1_epi16((short)((4 * j + 2) | ((4 * j + 3) << 8))),
                                         _mm_set1_epi16((short)((4 * j) | ((4 * j + 1) << 8))));
    return _mm256_shuffle_epi8(half, idx);
}

LC_INLINE void q6_K_kernel(int64_t nb, const uint8_t *W, size_t ws, const uint8_t *A, size_t as,
                           float *y, int64_t ldy, const int MR, const int NR) {
    const __m256i low4 = _mm256_set1_epi8(0x0f), bits45 = _mm256_set1_epi8(0x30);
    __m256 acc[4][4];
    LC_UNROLL
    for (int m = 0; m < MR; m++)
        LC_UNROLL
        for (int n = 0; n < NR; n++) acc[m][n] = _mm256_setzero_ps();
    const prefetcher pf = prefetch_plan(W, (size_t)NR * ws, nb);
    for (int64_t b = 0; b < nb; b++) {
        if (MR == 1) prefetch_step(&pf, b);
        const block_q6_K *wb[4];
        __m256i sc16[4], half_sc[4][2];
        LC_UNROLL
        for (int n = 0; n < NR; n++) {
            wb[n] = (const block_q6_K *)(W + (size_t)n * ws) + b;
            sc16[n] = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)wb[n]->scales));
            q6_K_half_scales(sc16[n], half_sc[n]);
        }
        __m256i isum[4][4];
        LC_UNROLL
        for (int m = 0; m < MR; m++)
            LC_UNROLL
            for (int n = 0; n < NR; n++) isum[m][n] = _mm256_setzero_si256();
        /* Half h holds elements 128h..128h+127: chunk j (32 elements) takes
         * its low 4 bits from ql and its high 2 bits from bit pair j of qh. */
        LC_UNROLL
        for (int h = 0; h < 2; h++) {
            LC_UNROLL
            for (int j = 0; j < 4; j++) {
                __m256i q[4], s[4];
                LC_UNROLL
                for (int n = 0; n < NR; n++) {
                    const uint8_t *ql = wb[n]->ql + 64 * h, *qh = wb[n]->qh + 32 * h;
                    __m256i L = _mm256_loadu_si256((const __m256i *)(ql + 32 * (j & 1)));
                    __m256i H = _mm256_loadu_si256((const __m256i *)qh);
                    __m256i lo = j < 2 ? _mm256_and_si256(L, low4) : _mm256_and_si256(_mm256_srli_epi16(L, 4), low4);
                    __m256i hi = j == 0 ? _mm256_slli_epi16(H, 4)
                               : j == 1 ? _mm256_slli_epi16(H, 2)
                               : j == 2 ? H
                                        : _mm256_srli_epi16(H, 2);
                    q[n] = _mm256_or_si256(lo, _mm256_and_si256(hi, bits45));
                    s[n] = q6_K_chunk_scales(half_sc[n][h], j);
                }
                LC_UNROLL
                for (int m = 0; m < MR; m++) {
                    const block_q8_K *ab = (const block_q8_K *)(A + (size_t)m * as) + b;
                    __m256i a = _mm256_loadu_si256((const __m256i *)(ab->qs + 128 * h + 32 * j));
                    LC_UNROLL
                    for (int n = 0; n < NR; n++) {
                        isum[m][n] = _mm256_add_epi32(isum[m][n],
                                                      _mm256_madd_epi16(_mm256_maddubs_epi16(q[n], a), s[n]));
                        LC_KEEP_IN_REGISTER(isum[m][n]);
                    }
                }
            }
        }
        /* q is stored +32: subtract 32 * sum_g scale_g * bsum_g */
        LC_UNROLL
        for (int m = 0; m < MR; m++) {
            const block_q8_K *ab = (const block_q8_K *)(A + (size_t)m * as) + b;
            __m256i bsums = _mm256_loadu_si256((const __m256i *)ab->bsums);
            LC_UNROLL
            for (int n = 0; n < NR; n++) {
                __m256i corr = _mm256_madd_epi16(bsums, sc16[n]);
                __m256i total = _mm256_sub_epi32(isum[m][n], _mm256_slli_epi32(corr, 5));
                acc[m][n] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(total),
                                            _mm256_set1_ps(f16_to_f32(wb[n]->d) * ab->d), acc[m][n]);
            }
        }
    }
    LC_UNROLL
    for (int m = 0; m < MR; m++)
        LC_UNROLL
        for (int n = 0; n < NR; n++) y[m * ldy + n] = lc_hsum_ps(acc[m][n]);
}

/* ------------------------------------------------ F32 / F16 / BF16 */

LC_INLINE __m256 load8_float(const uint8_t *row, int64_t k, const int type) {
    if (type == LC_TYPE_F32) return _mm256_loadu_ps((const float *)row + k);
    if (type == LC_TYPE_F16) return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const lc_f16 *)row + k)));
    __m256i wide = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)((const lc_bf16 *)row + k)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(wide, 16));
}

LC_INLINE float load1_float(const uint8_t *row, int64_t k, const int type) {
    if (type == LC_TYPE_F32) return ((const float *)row)[k];
    if (type == LC_TYPE_F16) return f16_to_f32(((const lc_f16 *)row)[k]);
    return lc_bf16_to_f32(((const lc_bf16 *)row)[k]);
}

/* Weights and activations have the same type (f32, f16 or bf16). K need
 * not be a multiple of 8: the tail is summed separately in float. */
LC_INLINE void float_kernel(int64_t K, const uint8_t *W, size_t ws, const uint8_t *A, size_t as,
                            float *y, int64_t ldy, const int type, const int MR, const int NR) {
    __m256 acc[4][4];
    LC_UNROLL
    for (int m = 0; m < MR; m++)
        LC_UNROLL
        for (int n = 0; n < NR; n++) acc[m][n] = _mm256_setzero_ps();
    const prefetcher pf = prefetch_plan(W, (size_t)NR * ws, K / 8);
    int64_t k = 0;
    for (; k + 8 <= K; k += 8) {
        if (MR == 1) prefetch_step(&pf, k / 8);
        __m256 w[4];
        LC_UNROLL
        for (int n = 0; n < NR; n++) w[n] = load8_float(W + (size_t)n * ws, k, type);
        LC_UNROLL
        for (int m = 0; m < MR; m++) {
            __m256 a = load8_float(A + (size_t)m * as, k, type);
            LC_UNROLL
            for (int n = 0; n < NR; n++) acc[m][n] = _mm256_fmadd_ps(w[n], a, acc[m][n]);
        }
    }
    LC_UNROLL
    for (int m = 0; m < MR; m++)
        LC_UNROLL
        for (int n = 0; n < NR; n++) {
            float tail = 0.0f;
            for (int64_t t = k; t < K; t++)
                tail += load1_float(W + (size_t)n * ws, t, type) * load1_float(A + (size_t)m * as, t, type);
            y[m * ldy + n] = lc_hsum_ps(acc[m][n]) + tail;
        }
}

/* ------------------------------------------------------------ tile shapes */

enum kernel_kind { KIND_Q4_0, KIND_Q8_0, KIND_Q4_K, KIND_Q6_K, KIND_F32, KIND_F16, KIND_BF16 };

/* decode: the one activation row of an M = 1 product (a kernel may lay
 * out its work differently then; the choice depends on M only). */
LC_INLINE void run_kernel(const int kind, int64_t K, const uint8_t *W, size_t ws, const uint8_t *A,
                          size_t as, float *y, int64_t ldy, const int MR, const int NR, const int decode) {
    switch (kind) {
    case KIND_Q4_0:
        if (decode) q4_0_decode_kernel(K / QK4_0, W, ws, A, y, NR);
        else q4_0_prefill_kernel(K / QK4_0, W, ws, A, as, y, ldy, MR, NR);
        break;
    case KIND_Q8_0: q8_0_kernel(K / QK8_0, W, ws, A, as, y, ldy, MR, NR); break;
    case KIND_Q4_K: q4_K_kernel(K / QK_K, W, ws, A, as, y, ldy, MR, NR); break;
    case KIND_Q6_K: q6_K_kernel(K / QK_K, W, ws, A, as, y, ldy, MR, NR); break;
    case KIND_F32: float_kernel(K, W, ws, A, as, y, ldy, LC_TYPE_F32, MR, NR); break;
    case KIND_F16: float_kernel(K, W, ws, A, as, y, ldy, LC_TYPE_F16, MR, NR); break;
    default: float_kernel(K, W, ws, A, as, y, ldy, LC_TYPE_BF16, MR, NR); break;
    }
}

/* Covers nr weight rows with MR x NR tiles, then one row at a time. */
LC_INLINE void rows_in_groups(const int kind, int64_t K, const uint8_t *W, size_t ws, int64_t nr,
                              const uint8_t *A, size_t as, float *y, int64_t ldy, const int MR,
                              const int NR, const int decode) {
    int64_t n = 0;
    for (; n + NR <= nr; n += NR)
        run_kernel(kind, K, W + (size_t)n * ws, ws, A, as, y + n, ldy, MR, NR, decode);
    for (; n < nr; n++) run_kernel(kind, K, W + (size_t)n * ws, ws, A, as, y + n, ldy, MR, 1, decode);
}

/* Decode: all nr rows against the one activation row. Prefill: the mr
 * activation rows in groups of PRE_MR (the last group may be smaller). */
LC_INLINE void tile_shapes(const int kind, int64_t K, const void *W, size_t ws, int64_t nr, const void *A,
                           size_t as, int mr, float *y, int64_t ldy, const int DEC_NR, const int PRE_MR,
                           const int PRE_NR) {
    if (mr == 1) { rows_in_groups(kind, K, W, ws, nr, A, as, y, ldy, 1, DEC_NR, 1); return; }
    for (int m0 = 0; m0 < mr; m0 += PRE_MR) {
        const int r = mr - m0 < PRE_MR ? mr - m0 : PRE_MR;
        const uint8_t *a = (const uint8_t *)A + (size_t)m0 * as;
        float *ym = y + (int64_t)m0 * ldy;
        if (r == 1) rows_in_groups(kind, K, W, ws, nr, a, as, ym, ldy, 1, PRE_NR, 0);
        else if (r == 2 || PRE_MR == 2) rows_in_groups(kind, K, W, ws, nr, a, as, ym, ldy, 2, PRE_NR, 0);
        else if (r == 3 || PRE_MR == 3) rows_in_groups(kind, K, W, ws, nr, a, as, ym, ldy, 3, PRE_NR, 0);
        else rows_in_groups(kind, K, W, ws, nr, a, as, ym, ldy, 4, PRE_NR, 0);
    }
}

#define TILE_FN(fname, kind, shapes)                                                       \
    static void fname(int64_t K, const void *W, size_t ws, int64_t nr, const void *A, size_t as, \
                      int mr, float *y, int64_t ldy) {                                             \
        tile_shapes(kind, K, W, ws, nr, A, as, mr, y, ldy, DEC_NR_##shapes, PRE_MR_##shapes,        \
                    PRE_NR_##shapes);                                                             \
    }
TILE_FN(tile_q4_0, KIND_Q4_0, LEGACY)
TILE_FN(tile_q8_0, KIND_Q8_0, LEGACY)
TILE_FN(tile_q4_K, KIND_Q4_K, K)
TILE_FN(tile_q6_K, KIND_Q6_K, K)
TILE_FN(tile_f32, KIND_F32, F)
TILE_FN(tile_f16, KIND_F16, F)
TILE_FN(tile_bf16, KIND_BF16, F)

const lc_kernel_table lc_kernels_avx2 = {
    .name = "avx2",
    .quantize_row = {
        [LC_TYPE_Q8_0] = quantize_row_q8_0,
        [LC_TYPE_Q8_K] = quantize_row_q8_K,
        [LC_TYPE_F16] = quantize_row_f16,
        [LC_TYPE_BF16] = quantize_row_bf16,
    },
    .tile = {
        [LC_TYPE_Q4_0] = tile_q4_0,
        [LC_TYPE_Q8_0] = tile_q8_0,
        [LC_TYPE_Q4_K] = tile_q4_K,
        [LC_TYPE_Q6_K] = tile_q6_K,
        [LC_TYPE_F32] = tile_f32,
        [LC_TYPE_F16] = tile_f16,
        [LC_TYPE_BF16] = tile_bf16,
    },
    .tile_x8 = {
        [LC_TYPE_Q4_0] = tile_q4_0_x8,
        [LC_TYPE_Q8_0] = tile_q8_0_x8,
        [LC_TYPE_Q4_K] = tile_q4_K_x8,
        [LC_TYPE_Q6_K] = tile_q6_K_x8,
    },
    .act_row_size = act_row_size,
    .swiglu = swiglu,
};
