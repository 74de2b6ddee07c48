/* SIMDe's portable AVX-512 (Debian's libsimde-dev, headers only) in place
 * of the compiler's intrinsics, for compiling the AVX-512 kernel files on
 * machines without AVX-512 (tests/avx512_emulated.c,
 * tests/avx512_bf16_emulated.c). SIMDe maps every _mm512_*, VNNI and BF16
 * intrinsic the kernels use to its own implementation, built here on AVX2,
 * except the few below, which are written from 256-bit halves. */
#ifndef LC_TEST_AVX512_EMULATE_H
#define LC_TEST_AVX512_EMULATE_H

#define SIMDE_ENABLE_NATIVE_ALIASES
#include <simde/x86/avx512.h>
#include <stdint.h>
#include <string.h>

/* What SIMDe 0.7.4 does not map. */
static inline simde__m512 lc_emu_halves_ps(__m256 lo, __m256 hi) {
    simde__m512_private r;
    r.m256[0] = lo;
    r.m256[1] = hi;
    return simde__m512_from_private(r);
}
static inline simde__m512 lc_emu_cvtph_ps(__m256i h) {
    return lc_emu_halves_ps(_mm256_cvtph_ps(_mm256_castsi256_si128(h)), _mm256_cvtph_ps(_mm256_extracti128_si256(h, 1)));
}
static inline simde__m512 lc_emu_cvtepi32_ps(simde__m512i v) {
    simde__m512i_private p = simde__m512i_to_private(v);
    return lc_emu_halves_ps(_mm256_cvtepi32_ps(p.m256i[0]), _mm256_cvtepi32_ps(p.m256i[1]));
}
static inline simde__m512i lc_emu_halves_si(__m256i lo, __m256i hi) {
    simde__m512i_private r;
    r.m256i[0] = lo;
    r.m256i[1] = hi;
    return simde__m512i_from_private(r);
}
static inline simde__m512i lc_emu_cvtepu8_epi32(__m128i v) {
    return lc_emu_halves_si(_mm256_cvtepu8_epi32(v), _mm256_cvtepu8_epi32(_mm_srli_si128(v, 8)));
}
static inline simde__m512i lc_emu_cvtepi8_epi32(__m128i v) {
    return lc_emu_halves_si(_mm256_cvtepi8_epi32(v), _mm256_cvtepi8_epi32(_mm_srli_si128(v, 8)));
}
static inline simde__m512i lc_emu_cvtepu16_epi32(__m256i v) {
    return lc_emu_halves_si(_mm256_cvtepu16_epi32(_mm256_castsi256_si128(v)),
                            _mm256_cvtepu16_epi32(_mm256_extracti128_si256(v, 1)));
}
/* Masked loads read only the selected elements (the rest may lie past
 * the end of a buffer) and give zeros elsewhere. */
static inline simde__m512 lc_emu_maskz_loadu_ps(unsigned mask, const void *p) {
    float v[16] = {0};
    for (int i = 0; i < 16; i++)
        if (mask >> i & 1) memcpy(&v[i], (const float *)p + i, sizeof v[i]);
    return simde_mm512_loadu_ps(v);
}
static inline __m256i lc_emu_maskz_loadu_epi16(unsigned mask, const void *p) {
    uint16_t v[16] = {0};
    for (int i = 0; i < 16; i++)
        if (mask >> i & 1) memcpy(&v[i], (const uint16_t *)p + i, sizeof v[i]);
    return _mm256_loadu_si256((const __m256i *)v);
}
#undef _mm512_cvtepu16_epi32
#define _mm512_cvtepu16_epi32(v) lc_emu_cvtepu16_epi32(v)
#undef _mm512_maskz_loadu_ps
#define _mm512_maskz_loadu_ps(m, p) lc_emu_maskz_loadu_ps(m, p)
static inline simde__m512i lc_emu_maskz_loadu_epi16_512(uint32_t mask, const void *p) {
    uint16_t v[32] = {0};
    for (int i = 0; i < 32; i++)
        if (mask >> i & 1) memcpy(&v[i], (const uint16_t *)p + i, sizeof v[i]);
    return simde_mm512_loadu_si512(v);
}
#undef _mm512_maskz_loadu_epi16
#define _mm512_maskz_loadu_epi16(m, p) lc_emu_maskz_loadu_epi16_512(m, p)
#undef _mm256_maskz_loadu_epi16
#define _mm256_maskz_loadu_epi16(m, p) lc_emu_maskz_loadu_epi16(m, p)
#undef _mm512_cvtepu8_epi32
#define _mm512_cvtepu8_epi32(v) lc_emu_cvtepu8_epi32(v)
#undef _mm512_cvtepi8_epi32
#define _mm512_cvtepi8_epi32(v) lc_emu_cvtepi8_epi32(v)
#undef _mm512_cvtph_ps
#define _mm512_cvtph_ps(h) lc_emu_cvtph_ps(h)
#undef _mm512_cvtepi32_ps
#define _mm512_cvtepi32_ps(v) lc_emu_cvtepi32_ps(v)

#define LC_AVX512_EMULATE 1

#endif
