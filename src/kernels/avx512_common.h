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

/* A tile function over a kernel(K, W, ws, A, as, y, ldy, MR, NR) that
 * computes up to 4 x 4 outputs: weight rows 4 at a time (then one at a
 * time), activation rows 4 at a time (the last group may be smaller). Every
 * output sees the same operations in every tile shape, so no result
 * depends on how rows are split between threads. */
#define LC_TILE_4X4_FN(fname, kernel)                                                                      \
    LC_INLINE void fname##_rows(int64_t K, const uint8_t *W, size_t ws, int64_t nr, const uint8_t *A, size_t as, \
                             float *y, int64_t ldy, const int MR) {                                        \
        int64_t n = 0;                                                                                     \
        for (; n + 4 <= nr; n += 4) kernel(K, W + (size_t)n * ws, ws, A, as, y + n, ldy, MR, 4);           \
        for (; n < nr; n++) kernel(K, W + (size_t)n * ws, ws, A, as, y + n, ldy, MR, 1);                   \
    }                                                                                                      \
    static void fname(int64_t K, const void *W, size_t ws, int64_t nr, const void *A, size_t as, int mr,  \
                      float *y, int64_t ldy) {                                                             \
        for (int m0 = 0; m0 < mr; m0 += 4) {                                                               \
            const uint8_t *a = (const uint8_t *)A + (size_t)m0 * as;                                       \
            float *ym = y + (int64_t)m0 * ldy;                                                             \
            switch (mr - m0 < 4 ? mr - m0 : 4) {                                                           \
            case 1: fname##_rows(K, W, ws, nr, a, as, ym, ldy, 1); break;                                  \
            case 2: fname##_rows(K, W, ws, nr, a, as, ym, ldy, 2); break;                                  \
            case 3: fname##_rows(K, W, ws, nr, a, as, ym, ldy, 3); break;                                  \
            default: fname##_rows(K, W, ws, nr, a, as, ym, ldy, 4); break;                                 \
            }                                                                                              \
        }                                                                                                  \
    }

#endif
