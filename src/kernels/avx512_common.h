/* Helpers of the AVX-512 kernel files (avx512.c, avx512_bf16.c), which are
 * compiled with AVX-512 enabled (or on SIMDe in the tests); include after
 * kernels/x86_common.h. */
#ifndef LC_AVX512_COMMON_H
#define LC_AVX512_COMMON_H

/* The sum of the 16 lanes: the two 256-bit halves added, then 8 lanes. */
LC_INLINE float hsum512_ps(__m512 v) {
    const __m256 s8 = _mm256_add_ps(_mm512_castps512_ps256(v), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

#endif
