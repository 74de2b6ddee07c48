/* Inline helpers shared by the AVX2 + FMA + F16C attention kernels
 * (attention_avx2.c: one token per item, decode; attention_tile_avx2.c:
 * tiles of tokens, prefill): loads of cached rows widened to floats, the
 * vector exp of the softmax, horizontal sums. Include only from files
 * compiled with -mavx2 -mfma -mf16c. */
#ifndef LC_ATTENTION_AVX2_H
#define LC_ATTENTION_AVX2_H

#include <immintrin.h>
#include <stdint.h>

#include "kernels/avx2_math.h"
#include "kernels/x86_common.h" /* LC_INLINE, LC_UNROLL, LC_KEEP_IN_REGISTER */
#include "quant/types.h"

/* ----------------------------------------------------------- row loads */

/* The scale of the Q8_0 block holding element e, in every lane. */
LC_INLINE __m256 q8_0_scale(const uint8_t *row, int64_t e) {
    return _mm256_set1_ps(_cvtsh_ss(((const block_q8_0 *)row)[e >> 5].d));
}

/* Elements [e, e+8) of a cached row as floats; e % 8 == 0, so for Q8_0 the
 * eight lie in one block of 32, whose scale the caller passes as d (read
 * once per block; unused for F32/F16). `type` is a constant after inlining. */
LC_INLINE __m256 load8(int type, const uint8_t *row, int64_t e, __m256 d) {
    if (type == LC_TYPE_F32) return _mm256_loadu_ps((const float *)row + e);
    if (type == LC_TYPE_F16)
        return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const lc_f16 *)row + e)));
    const block_q8_0 *b = (const block_q8_0 *)row + (e >> 5);
    const __m128i q = _mm_loadl_epi64((const __m128i *)(b->qs + (e & 31)));
    return _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q)), d);
}

/* Elements per step of the row loops: a whole Q8_0 block when head slices
 * are block aligned (its scale is then read once), else one 8-wide chunk. */
LC_INLINE int row_step(int type, int D) {
    return type == LC_TYPE_Q8_0 && D % QK8_0 == 0 ? QK8_0 : 8;
}

LC_INLINE __m256 step_scale(int type, const uint8_t *row, int64_t e) {
    return type == LC_TYPE_Q8_0 ? q8_0_scale(row, e) : _mm256_setzero_ps();
}

/* ------------------------------------------------------------ vector exp */

/* e^x for x <= 0, lane by lane (lc_exp_ps); lanes below -87.3, -inf
 * included, give 0: e^-87.3 is at the bottom of the normal floats and far
 * below any term that matters. */
LC_INLINE __m256 exp_nonpositive(__m256 x) {
    const __m256 in_range = _mm256_cmp_ps(x, _mm256_set1_ps(-87.3f), _CMP_GE_OQ);
    return _mm256_and_ps(lc_exp_ps(x), in_range);
}

/* ----------------------------------------------------- horizontal sums */

/* Lane h of the result = sum of the lanes of acc[h], for h < G; 0 above. */
LC_INLINE __m256 sum_lanes(const __m256 *acc, int G) {
    const __m256 z = _mm256_setzero_ps();
    if (G == 1) {
        __m128 s = _mm_add_ps(_mm256_castps256_ps128(acc[0]), _mm256_extractf128_ps(acc[0], 1));
        s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        s = _mm_add_ss(s, _mm_movehdup_ps(s));
        return _mm256_insertf128_ps(z, _mm_move_ss(_mm_setzero_ps(), s), 0);
    }
    /* pairwise sums within 128-bit halves leave, per half, one partial sum
     * of each input in lane order; adding the two halves finishes them */
    const __m256 a01 = _mm256_hadd_ps(acc[0], acc[1]);
    const __m256 a23 = G > 2 ? _mm256_hadd_ps(acc[2], acc[3]) : z;
    const __m256 a0123 = _mm256_hadd_ps(a01, a23);
    if (G <= 4) {
        const __m128 s = _mm_add_ps(_mm256_castps256_ps128(a0123), _mm256_extractf128_ps(a0123, 1));
        return _mm256_insertf128_ps(z, s, 0);
    }
    const __m256 a4567 = _mm256_hadd_ps(_mm256_hadd_ps(acc[4], acc[5]), _mm256_hadd_ps(acc[6], acc[7]));
    return _mm256_add_ps(_mm256_permute2f128_ps(a0123, a4567, 0x20),
                         _mm256_permute2f128_ps(a0123, a4567, 0x31));
}

#endif
