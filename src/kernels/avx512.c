/* AVX-512 kernels: F + BW + VL + VNNI (compiled with those flags; chosen at
 * run time only on CPUs that have all four: AMD Zen 4 and later, Intel Ice
 * Lake / Cascade Lake and later). They cover the weights in the x8 layout
 * (quant/repack.h) of Q4_0, Q8_0, Q4_K and Q6_K, and F32/F16/BF16 weights;
 * everything else (the activation quantizers, the plain-layout quantized
 * tiles) comes from the AVX2 table through `base`, so the activation rows are the AVX2 ones
 * (kernels/x86_common.h) and both tables agree on their layout.
 *
 * What AVX-512 changes against the AVX2 x8 kernels:
 *   - one zmm holds two groups of 8 weight rows: lanes 0-7 group a, lanes
 *     8-15 group b. Streaming from DRAM, group g is paired with g + half
 *     of the call's groups, so each thread reads two memory streams; in
 *     prefill neighbours are paired. One activation broadcast then serves
 *     16 rows;
 *   - VNNI's vpdpbusd multiplies unsigned by signed bytes and adds the four
 *     products of each lane straight into int32: one instruction for the
 *     AVX2 maddubs + madd + add, and no int16 intermediate to keep in range;
 *   - 32 vector registers hold taller register tiles (more activation rows
 *     per decoded weight vector).
 * Integer sums are exact, and every output lane sees the same float
 * operations whichever group it is paired with and however many activation
 * rows share the call, so results do not depend on the thread count.
 *
 * The test suite also compiles this file against SIMDe's portable AVX-512
 * (tests/avx512_emulated.c, LC_AVX512_EMULATE), so the kernels are checked
 * against the scalar reference on machines without AVX-512. */
#ifndef LC_AVX512_EMULATE
#include <immintrin.h>
#define LC_AVX512_TABLE lc_kernels_avx512
#define LC_AVX512_NAME "avx512"
#else
#define LC_AVX512_TABLE lc_kernels_avx512_emulated
#define LC_AVX512_NAME "avx512-emulated"
#endif
#include <string.h>

#include "kernels/kernels.h"
#include "kernels/x86_common.h"
#include "kernels/avx512_common.h"
#include "quant/quant.h"
#include "quant/repack.h"

/* Activation rows per register tile (LC_TILE_M = 12 is a multiple of both). */
#ifndef LC_X16_MR
#define LC_X16_MR 6
#endif
#ifndef LC_X16_MR_K
#define LC_X16_MR_K 4
#endif
#define LC_X16_MR_MAX 8

/* --------------------------------------------------------------- helpers */

/* 32 bytes of group a in the low half, the same 32 of group b in the high. */
LC_INLINE __m512i load_2x256(const void *a, const void *b) {
    return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)a)),
                              _mm256_loadu_si256((const __m256i *)b), 1);
}

/* The 8 f16 scales of each group, widened: lanes 0-7 a, 8-15 b. */
LC_INLINE __m512 f16_2x8(const lc_f16 *a, const lc_f16 *b) {
    return _mm512_cvtph_ps(_mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)a)),
                                                   _mm_loadu_si128((const __m128i *)b), 1));
}

/* 8 bytes of group a and 8 of group b as 16 int32 lanes (zero- or sign-extended). */
LC_INLINE __m128i bytes_2x8(const void *a, const void *b) {
    return _mm_unpacklo_epi64(_mm_loadl_epi64((const __m128i *)a), _mm_loadl_epi64((const __m128i *)b));
}

/* Lanes 0-7 to ya, 8-15 to yb (no yb: group b was group a again). */
LC_INLINE void store_2x8(float *ya, float *yb, __m512 v) {
    _mm256_storeu_ps(ya, _mm512_castps512_ps256(v));
    if (yb) _mm256_storeu_ps(yb, _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
}

LC_INLINE __m512i bcast_i32(const void *p) { return _mm512_set1_epi32(load_i32(p)); }

/* Decode prefetches the group after each of its two (see x86_common.h). */
typedef struct pair_prefetch {
    prefetcher a, b;
} pair_prefetch;

LC_INLINE pair_prefetch pair_prefetch_plan(const void *wa, const void *wb, size_t group_bytes, int64_t iters) {
    pair_prefetch p = {prefetch_plan(wa, group_bytes, iters), prefetch_plan(wb, group_bytes, iters)};
    return p;
}

LC_INLINE void pair_prefetch_step(const pair_prefetch *p, int64_t i) {
    prefetch_step(&p->a, i);
    prefetch_step(&p->b, i);
}

/* ------------------------------------------------- Q4_0 x Q8_0, two groups */

/* The MR Q8_0 activation rows' parts, and zeroed accumulators. */
LC_INLINE void q8_0_rows_begin(int64_t nb, const uint8_t *A, size_t as, const int MR, q8_0_act ar[], __m512 acc[]) {
    const q8_0_layout l = q8_0_layout_for(nb * QK8_0);
    LC_UNROLL
    for (int m = 0; m < MR; m++) {
        ar[m] = q8_0_act_row(A + (size_t)m * as, &l);
        acc[m] = _mm512_setzero_ps();
    }
}

/* Vector c of a block holds bytes 4c..4c+3 of every row's quants: low
 * nibbles are elements 4c.., high ones 16+4c.. (quant/repack.h). The
 * nibbles (0..15) go to vpdpbusd as the unsigned operand; the -8 offset
 * comes off as 8 * sum(a) (the row's s8), which starts the low sum. */
LC_INLINE void q4_0_x16_kernel(int64_t nb, const block_q4_0_x8 *wa, const block_q4_0_x8 *wb, const uint8_t *A,
                               size_t as, float *ya, float *yb, int64_t ldy, const int MR) {
    q8_0_act ar[LC_X16_MR_MAX];
    __m512 acc[LC_X16_MR_MAX];
    q8_0_rows_begin(nb, A, as, MR, ar, acc);
    const __m512i low4 = _mm512_set1_epi8(0x0f);
    const pair_prefetch pf = pair_prefetch_plan(wa, wb, (size_t)nb * sizeof *wa, nb);
    for (int64_t b = 0; b < nb; b++) {
        if (MR == 1) pair_prefetch_step(&pf, b);
        __m512i lo_sum[LC_X16_MR_MAX], hi_sum[LC_X16_MR_MAX];
        LC_UNROLL
        for (int m = 0; m < MR; m++) {
            lo_sum[m] = _mm512_set1_epi32(-ar[m].s8[b]);
            hi_sum[m] = _mm512_setzero_si512();
        }
        LC_UNROLL
        for (int c = 0; c < 4; c++) {
            const __m512i raw = load_2x256(wa[b].qs + 32 * c, wb[b].qs + 32 * c);
            const __m512i lo = _mm512_and_si512(raw, low4);
            const __m512i hi = _mm512_and_si512(_mm512_srli_epi16(raw, 4), low4);
            LC_UNROLL
            for (int m = 0; m < MR; m++) {
                const int8_t *aq = ar[m].blocks[b].qs;
                lo_sum[m] = _mm512_dpbusd_epi32(lo_sum[m], lo, bcast_i32(aq + 4 * c));
                hi_sum[m] = _mm512_dpbusd_epi32(hi_sum[m], hi, bcast_i32(aq + 16 + 4 * c));
            }
        }
        const __m512 dw = f16_2x8(wa[b].d, wb[b].d);
        LC_UNROLL
        for (int m = 0; m < MR; m++)
            acc[m] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(lo_sum[m], hi_sum[m])),
                                     _mm512_mul_ps(dw, _mm512_set1_ps(ar[m].d[b])), acc[m]);
    }
    LC_UNROLL
    for (int m = 0; m < MR; m++) store_2x8(ya + m * ldy, yb ? yb + m * ldy : NULL, acc[m]);
}

/* ------------------------------------------------- Q8_0 x Q8_0, two groups */

/* vpdpbusd wants one unsigned operand: w xor 0x80 is w + 128 as a byte,
 * and sum (w + 128) a = sum w a + 128 sum a, so each block's sum starts at
 * -128 sum(a) = -16 s8 (|.| <= 128 * 32 * 127: exact in int32). */
LC_INLINE void q8_0_x16_kernel(int64_t nb, const block_q8_0_x8 *wa, const block_q8_0_x8 *wb, const uint8_t *A,
                               size_t as, float *ya, float *yb, int64_t ldy, const int MR) {
    q8_0_act ar[LC_X16_MR_MAX];
    __m512 acc[LC_X16_MR_MAX];
    q8_0_rows_begin(nb, A, as, MR, ar, acc);
    const __m512i bias = _mm512_set1_epi8((char)0x80);
    const pair_prefetch pf = pair_prefetch_plan(wa, wb, (size_t)nb * sizeof *wa, nb);
    for (int64_t b = 0; b < nb; b++) {
        if (MR == 1) pair_prefetch_step(&pf, b);
        __m512i sum[LC_X16_MR_MAX][2];
        LC_UNROLL
        for (int m = 0; m < MR; m++) {
            sum[m][0] = _mm512_set1_epi32(-16 * ar[m].s8[b]);
            sum[m][1] = _mm512_setzero_si512();
        }
        LC_UNROLL
        for (int c = 0; c < 8; c++) {
            const __m512i u = _mm512_xor_si512(load_2x256(wa[b].qs + 32 * c, wb[b].qs + 32 * c), bias);
            LC_UNROLL
            for (int m = 0; m < MR; m++)
                sum[m][c % 2] = _mm512_dpbusd_epi32(sum[m][c % 2], u, bcast_i32(ar[m].blocks[b].qs + 4 * c));
        }
        const __m512 dw = f16_2x8(wa[b].d, wb[b].d);
        LC_UNROLL
        for (int m = 0; m < MR; m++)
            acc[m] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(sum[m][0], sum[m][1])),
                                     _mm512_mul_ps(dw, _mm512_set1_ps(ar[m].d[b])), acc[m]);
    }
    LC_UNROLL
    for (int m = 0; m < MR; m++) store_2x8(ya + m * ldy, yb ? yb + m * ldy : NULL, acc[m]);
}

/* ------------------------------------------------- Q4_K x Q8_K, two groups */

/* The 64 six-bit values of a split scale (or min) array of one x8 super-
 * block, as bytes: out[s*8 + r] for sub-block s, row r (quant/repack.h). */
LC_INLINE void q4_K_x8_unpack6(const uint8_t lo[32], const uint8_t hi[16], uint8_t out[64]) {
    const __m256i low4 = _mm256_set1_epi8(0x0f), low2 = _mm256_set1_epi8(3);
    const __m256i l = _mm256_loadu_si256((const __m256i *)lo);
    const __m128i h = _mm_loadu_si128((const __m128i *)hi);
    const __m256i h01 = _mm256_and_si256(_mm256_inserti128_si256(_mm256_castsi128_si256(h), _mm_srli_epi16(h, 2), 1), low2);
    const __m256i h23 = _mm256_and_si256(
        _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_srli_epi16(h, 4)), _mm_srli_epi16(h, 6), 1), low2);
    _mm256_storeu_si256((__m256i *)out, _mm256_or_si256(_mm256_and_si256(l, low4), _mm256_slli_epi16(h01, 4)));
    _mm256_storeu_si256((__m256i *)(out + 32),
                        _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l, 4), low4), _mm256_slli_epi16(h23, 4)));
}

/* Per sub-block s (32 elements), the nibbles meet the broadcast activation
 * bytes in vpdpbusd: an exact int32 sum (at most 32 * 15 * 127) per row,
 * which one vpmulld scales by the row's 6-bit scale (8 sub-blocks: at most
 * 8 * 63 * 60960, exact). The mins meet the activation's sub-block sums
 * (the Q8_K row's asum) two sub-blocks at a time in vpdpwssd. */
LC_INLINE void q4_K_x16_kernel(int64_t nb, const block_q4_K_x8 *wa, const block_q4_K_x8 *wb, const uint8_t *A,
                               size_t as, float *ya, float *yb, int64_t ldy, const int MR) {
    const block_q8_K *ab[LC_X16_MR_MAX];
    const int16_t *asum[LC_X16_MR_MAX];
    __m512 acc[LC_X16_MR_MAX];
    LC_UNROLL
    for (int m = 0; m < MR; m++) {
        ab[m] = (const block_q8_K *)(A + (size_t)m * as);
        asum[m] = (const int16_t *)(A + (size_t)m * as + q8_K_asum_offset(nb * QK_K));
        acc[m] = _mm512_setzero_ps();
    }
    const __m512i low4 = _mm512_set1_epi8(0x0f);
    const pair_prefetch pf = pair_prefetch_plan(wa, wb, (size_t)nb * sizeof *wa, nb * 8);
    for (int64_t b = 0; b < nb; b++) {
        uint8_t scales[2][64], mins[2][64];
        q4_K_x8_unpack6(wa[b].scales_lo, wa[b].scales_hi, scales[0]);
        q4_K_x8_unpack6(wb[b].scales_lo, wb[b].scales_hi, scales[1]);
        __m512i isum[LC_X16_MR_MAX];
        LC_UNROLL
        for (int m = 0; m < MR; m++) isum[m] = _mm512_setzero_si512();
        for (int s = 0; s < 8; s++) {
            if (MR == 1) pair_prefetch_step(&pf, b * 8 + s);
            /* sub-block s = 2h + part: low (part 0) or high nibbles of bytes 32h.. */
            const int h = s / 2, part = s % 2;
            __m512i sub[LC_X16_MR_MAX];
            LC_UNROLL
            for (int m = 0; m < MR; m++) sub[m] = _mm512_setzero_si512();
            LC_UNROLL
            for (int c = 0; c < 8; c++) {
                const __m512i raw = load_2x256(wa[b].qs + 256 * h + 32 * c, wb[b].qs + 256 * h + 32 * c);
                const __m512i nib = part ? _mm512_and_si512(_mm512_srli_epi16(raw, 4), low4)
                                         : _mm512_and_si512(raw, low4);
                LC_UNROLL
                for (int m = 0; m < MR; m++)
                    sub[m] = _mm512_dpbusd_epi32(sub[m], nib, bcast_i32(ab[m][b].qs + 32 * s + 4 * c));
            }
            const __m512i sc = _mm512_cvtepu8_epi32(bytes_2x8(scales[0] + 8 * s, scales[1] + 8 * s));
            LC_UNROLL
            for (int m = 0; m < MR; m++) isum[m] = _mm512_add_epi32(isum[m], _mm512_mullo_epi32(sub[m], sc));
        }
        q4_K_x8_unpack6(wa[b].mins_lo, wa[b].mins_hi, mins[0]);
        q4_K_x8_unpack6(wb[b].mins_lo, wb[b].mins_hi, mins[1]);
        __m512i imin[LC_X16_MR_MAX];
        LC_UNROLL
        for (int m = 0; m < MR; m++) imin[m] = _mm512_setzero_si512();
        LC_UNROLL
        for (int p = 0; p < 4; p++) {
            /* lane r: the mins of sub-blocks 2p (low int16) and 2p+1 (high) */
            const __m512i m0 = _mm512_cvtepu8_epi32(bytes_2x8(mins[0] + 16 * p, mins[1] + 16 * p));
            const __m512i m1 = _mm512_cvtepu8_epi32(bytes_2x8(mins[0] + 16 * p + 8, mins[1] + 16 * p + 8));
            const __m512i pair = _mm512_or_si512(m0, _mm512_slli_epi32(m1, 16));
            LC_UNROLL
            for (int m = 0; m < MR; m++) imin[m] = _mm512_dpwssd_epi32(imin[m], pair, bcast_i32(asum[m] + 8 * b + 2 * p));
        }
        const __m512 d = f16_2x8(wa[b].d, wb[b].d), dmin = f16_2x8(wa[b].dmin, wb[b].dmin);
        LC_UNROLL
        for (int m = 0; m < MR; m++) {
            const __m512 da = _mm512_set1_ps(ab[m][b].d);
            acc[m] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[m]), _mm512_mul_ps(d, da), acc[m]);
            acc[m] = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(imin[m]), _mm512_mul_ps(dmin, da), acc[m]);
        }
    }
    LC_UNROLL
    for (int m = 0; m < MR; m++) store_2x8(ya + m * ldy, yb ? yb + m * ldy : NULL, acc[m]);
}

/* ------------------------------------------------- Q6_K x Q8_K, two groups */

/* Vector k of a super-block holds elements 4k..4k+3 of every row as 6-bit
 * values (0..63), from the 4-bit ql and 2-bit qh parts (quant/repack.h);
 * group g (16 elements, one int8 scale per row) is vectors 4g..4g+3. The
 * values go to vpdpbusd unsigned; the -32 offset comes off as
 * 32 * sum_g scale_g * bsum_g, two groups at a time in vpdpwssd. */

/* The 4 vectors (k = 32n + 8j + c for j = 0..3) made from one load each of
 * ql[n][c], ql[n][c + 8] and qh[n][c] of both groups. */
LC_INLINE void q6_K_x16_values(const block_q6_K_x8 *wa, const block_q6_K_x8 *wb, int n, int c, __m512i q[4]) {
    const __m512i low4 = _mm512_set1_epi8(0x0f), bits45 = _mm512_set1_epi8(0x30);
    const __m512i h = load_2x256(wa->qh[n][c], wb->qh[n][c]);
    const __m512i l0 = load_2x256(wa->ql[n][c], wb->ql[n][c]);
    const __m512i l1 = load_2x256(wa->ql[n][c + 8], wb->ql[n][c + 8]);
    q[0] = _mm512_or_si512(_mm512_and_si512(l0, low4), _mm512_and_si512(_mm512_slli_epi16(h, 4), bits45));
    q[1] = _mm512_or_si512(_mm512_and_si512(l1, low4), _mm512_and_si512(_mm512_slli_epi16(h, 2), bits45));
    q[2] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(l0, 4), low4), _mm512_and_si512(h, bits45));
    q[3] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(l1, 4), low4),
                           _mm512_and_si512(_mm512_srli_epi16(h, 2), bits45));
}

/* Group g's scale of every row, sign-extended to int32. */
LC_INLINE __m512i q6_K_x16_scale(const block_q6_K_x8 *wa, const block_q6_K_x8 *wb, int g) {
    return _mm512_cvtepi8_epi32(bytes_2x8(wa->scales[g], wb->scales[g]));
}

/* Lane r of pairs[p]: the scales of groups 2p (low int16) and 2p+1 (high). */
LC_INLINE void q6_K_x16_scale_pairs(const block_q6_K_x8 *wa, const block_q6_K_x8 *wb, __m512i pairs[8]) {
    LC_UNROLL
    for (int p = 0; p < 8; p++) {
        const __m512i s0 = q6_K_x16_scale(wa, wb, 2 * p), s1 = q6_K_x16_scale(wa, wb, 2 * p + 1);
        pairs[p] = _mm512_or_si512(_mm512_and_si512(s0, _mm512_set1_epi32(0xffff)), _mm512_slli_epi32(s1, 16));
    }
}

/* -32 * sum_g scale_g * bsum_g for activation block ab: where a super-
 * block's integer sum starts (|.| <= 32 * 16 * 128 * 2032: exact). */
LC_INLINE __m512i q6_K_x16_offset(const __m512i pairs[8], const block_q8_K *ab) {
    __m512i off = _mm512_setzero_si512();
    LC_UNROLL
    for (int p = 0; p < 8; p++) off = _mm512_dpwssd_epi32(off, pairs[p], bcast_i32(&ab->bsums[2 * p]));
    return _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_slli_epi32(off, 5));
}

/* Decode (one activation row): the values go straight into the products;
 * group sums finish every 4 vectors (c = 3 and c = 7 of each (n, j)). */
LC_INLINE void q6_K_x16_decode(int64_t nb, const block_q6_K_x8 *wa, const block_q6_K_x8 *wb, const uint8_t *A,
                               float *ya, float *yb) {
    const block_q8_K *ab = (const block_q8_K *)A;
    __m512 acc = _mm512_setzero_ps();
    const pair_prefetch pf = pair_prefetch_plan(wa, wb, (size_t)nb * sizeof *wa, nb * 16);
    for (int64_t b = 0; b < nb; b++) {
        __m512i pairs[8];
        q6_K_x16_scale_pairs(&wa[b], &wb[b], pairs);
        __m512i isum = q6_K_x16_offset(pairs, &ab[b]);
        for (int n = 0; n < 2; n++) {
            __m512i gsum[4] = {_mm512_setzero_si512(), _mm512_setzero_si512(), _mm512_setzero_si512(),
                               _mm512_setzero_si512()};
            LC_UNROLL
            for (int c = 0; c < 8; c++) {
                pair_prefetch_step(&pf, b * 16 + n * 8 + c);
                __m512i q[4];
                q6_K_x16_values(&wa[b], &wb[b], n, c, q);
                LC_UNROLL
                for (int j = 0; j < 4; j++)
                    gsum[j] = _mm512_dpbusd_epi32(gsum[j], q[j], bcast_i32(ab[b].qs + 4 * (32 * n + 8 * j + c)));
                if (c % 4 == 3) {
                    LC_UNROLL
                    for (int j = 0; j < 4; j++) {
                        const int g = 8 * n + 2 * j + c / 4;
                        isum = _mm512_add_epi32(isum, _mm512_mullo_epi32(gsum[j], q6_K_x16_scale(&wa[b], &wb[b], g)));
                        gsum[j] = _mm512_setzero_si512();
                    }
                }
            }
        }
        acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_mul_ps(f16_2x8(wa[b].d, wb[b].d), _mm512_set1_ps(ab[b].d)),
                              acc);
    }
    store_2x8(ya, yb, acc);
}

/* Prefill: each super-block's values are decoded once into a buffer (64
 * vectors, 4 KB: L1) and read by the MR activation rows. Same integer sums
 * and float steps per output as q6_K_x16_decode. */
LC_INLINE void q6_K_x16_kernel(int64_t nb, const block_q6_K_x8 *wa, const block_q6_K_x8 *wb, const uint8_t *A,
                               size_t as, float *ya, float *yb, int64_t ldy, const int MR) {
    if (MR == 1) {
        q6_K_x16_decode(nb, wa, wb, A, ya, yb);
        return;
    }
    const block_q8_K *ab[LC_X16_MR_MAX];
    __m512 acc[LC_X16_MR_MAX];
    LC_UNROLL
    for (int m = 0; m < MR; m++) {
        ab[m] = (const block_q8_K *)(A + (size_t)m * as);
        acc[m] = _mm512_setzero_ps();
    }
    __m512i values[64];
    for (int64_t b = 0; b < nb; b++) {
        for (int n = 0; n < 2; n++)
            LC_UNROLL
            for (int c = 0; c < 8; c++) {
                __m512i q[4];
                q6_K_x16_values(&wa[b], &wb[b], n, c, q);
                LC_UNROLL
                for (int j = 0; j < 4; j++) values[32 * n + 8 * j + c] = q[j];
            }
        __m512i pairs[8], isum[LC_X16_MR_MAX];
        q6_K_x16_scale_pairs(&wa[b], &wb[b], pairs);
        LC_UNROLL
        for (int m = 0; m < MR; m++) isum[m] = q6_K_x16_offset(pairs, ab[m] + b);
        for (int g = 0; g < 16; g++) {
            const __m512i sc = q6_K_x16_scale(&wa[b], &wb[b], g);
            LC_UNROLL
            for (int m = 0; m < MR; m++) {
                __m512i gsum = _mm512_setzero_si512();
                LC_UNROLL
                for (int k = 4 * g; k < 4 * g + 4; k++)
                    gsum = _mm512_dpbusd_epi32(gsum, values[k], bcast_i32(ab[m][b].qs + 4 * k));
                isum[m] = _mm512_add_epi32(isum[m], _mm512_mullo_epi32(gsum, sc));
            }
        }
        const __m512 d = f16_2x8(wa[b].d, wb[b].d);
        LC_UNROLL
        for (int m = 0; m < MR; m++)
            acc[m] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[m]), _mm512_mul_ps(d, _mm512_set1_ps(ab[m][b].d)), acc[m]);
    }
    LC_UNROLL
    for (int m = 0; m < MR; m++) store_2x8(ya + m * ldy, yb ? yb + m * ldy : NULL, acc[m]);
}

/* ----------------------------------------------- F32 / F16 / BF16 weights */

/* Weights and activations of the same float type, 16 elements per step;
 * the last K % 16 come in through a masked load (zeros beyond K), so no
 * scalar tail. 32 registers hold a 4 x 4 tile of accumulators with room
 * for the 4 weight vectors: each converted weight vector serves 4
 * activation rows and each activation vector 4 weight rows (AVX2: 4 x 3). */
LC_INLINE __m512 load16_float(const uint8_t *row, int64_t k, __mmask16 mask, const int type) {
    if (type == LC_TYPE_F32) return _mm512_maskz_loadu_ps(mask, (const float *)row + k);
    const __m256i h = _mm256_maskz_loadu_epi16(mask, (const uint16_t *)row + k);
    if (type == LC_TYPE_F16) return _mm512_cvtph_ps(h);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

LC_INLINE void float_kernel(int64_t K, const uint8_t *W, size_t ws, const uint8_t *A, size_t as, float *y,
                            int64_t ldy, const int type, const int MR, const int NR) {
    __m512 acc[4][4];
    LC_UNROLL
    for (int m = 0; m < MR; m++)
        LC_UNROLL
        for (int n = 0; n < NR; n++) acc[m][n] = _mm512_setzero_ps();
    const prefetcher pf = prefetch_plan(W, (size_t)NR * ws, (K + 15) / 16);
    for (int64_t k = 0; k < K; k += 16) {
        if (MR == 1) prefetch_step(&pf, k / 16);
        const __mmask16 mask = K - k >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (K - k)) - 1);
        __m512 w[4];
        LC_UNROLL
        for (int n = 0; n < NR; n++) w[n] = load16_float(W + (size_t)n * ws, k, mask, type);
        LC_UNROLL
        for (int m = 0; m < MR; m++) {
            const __m512 a = load16_float(A + (size_t)m * as, k, mask, type);
            LC_UNROLL
            for (int n = 0; n < NR; n++) acc[m][n] = _mm512_fmadd_ps(w[n], a, acc[m][n]);
        }
    }
    LC_UNROLL
    for (int m = 0; m < MR; m++)
        LC_UNROLL
        for (int n = 0; n < NR; n++) y[m * ldy + n] = hsum512_ps(acc[m][n]);
}

LC_INLINE void f32_kernel(int64_t K, const uint8_t *W, size_t ws, const uint8_t *A, size_t as, float *y, int64_t ldy,
                          const int MR, const int NR) {
    float_kernel(K, W, ws, A, as, y, ldy, LC_TYPE_F32, MR, NR);
}
LC_INLINE void f16_kernel(int64_t K, const uint8_t *W, size_t ws, const uint8_t *A, size_t as, float *y, int64_t ldy,
                          const int MR, const int NR) {
    float_kernel(K, W, ws, A, as, y, ldy, LC_TYPE_F16, MR, NR);
}
LC_INLINE void bf16_kernel(int64_t K, const uint8_t *W, size_t ws, const uint8_t *A, size_t as, float *y,
                           int64_t ldy, const int MR, const int NR) {
    float_kernel(K, W, ws, A, as, y, ldy, LC_TYPE_BF16, MR, NR);
}
LC_TILE_4X4_FN(tile_f32, f32_kernel)
LC_TILE_4X4_FN(tile_f16, f16_kernel)
LC_TILE_4X4_FN(tile_bf16, bf16_kernel)

/* ------------------------------------------------------------ tile calls */

/* The groups of a call in pairs. A call longer than a prefill chunk (32
 * rows, kernels/compute.c) streams from DRAM: decode, or a few sequences
 * decoding together; it pairs group g with g + half, so that a thread reads
 * two memory streams, each running forward through the call's rows. A
 * prefill chunk, already in L2, pairs neighbours (far pairs there cost 3-7%
 * of pp512 on 1B Q4_0). An odd last group runs paired with itself and only
 * its half is stored. The activation rows go MR at a time, the rest in one
 * smaller call. */
#define X16_TILE_FN(fname, kernel, block_type, block_elems, MR)                                                \
    static void fname##_pair(int64_t nb, const block_type *wa, const block_type *wb, const uint8_t *A,           \
                             size_t as, int mr, float *ya, float *yb, int64_t ldy) {                             \
        int m = 0;                                                                                               \
        for (; m + (MR) <= mr; m += (MR))                                                                        \
            kernel(nb, wa, wb, A + (size_t)m * as, as, ya + m * ldy, yb ? yb + m * ldy : NULL, ldy, (MR));      \
        const uint8_t *a = A + (size_t)m * as;                                                                   \
        float *ym = ya + m * ldy, *yn = yb ? yb + m * ldy : NULL;                                                \
        switch (mr - m) {                                                                                        \
        case 7: kernel(nb, wa, wb, a, as, ym, yn, ldy, 7); break;                                                \
        case 6: kernel(nb, wa, wb, a, as, ym, yn, ldy, 6); break;                                                \
        case 5: kernel(nb, wa, wb, a, as, ym, yn, ldy, 5); break;                                                \
        case 4: kernel(nb, wa, wb, a, as, ym, yn, ldy, 4); break;                                                \
        case 3: kernel(nb, wa, wb, a, as, ym, yn, ldy, 3); break;                                                \
        case 2: kernel(nb, wa, wb, a, as, ym, yn, ldy, 2); break;                                                \
        case 1: kernel(nb, wa, wb, a, as, ym, yn, ldy, 1); break;                                                \
        default: break;                                                                                          \
        }                                                                                                        \
    }                                                                                                            \
    static void fname(int64_t K, const void *W, size_t ws, int64_t nr, const void *A, size_t as, int mr,        \
                      float *y, int64_t ldy) {                                                                   \
        const int64_t nb = K / (block_elems), n_groups = nr / LC_X8_ROWS;                                       \
        const size_t group_bytes = (size_t)LC_X8_ROWS * ws;                                                     \
        const uint8_t *w = W;                                                                                    \
        const int64_t n_pairs = n_groups / 2;                                                                    \
        const bool streams = mr == 1 || nr > 32;                                                                 \
        for (int64_t p = 0; p < n_pairs; p++) {                                                                  \
            const int64_t ga = streams ? p : 2 * p, gb = streams ? p + n_pairs : 2 * p + 1;                      \
            fname##_pair(nb, (const block_type *)(w + (size_t)ga * group_bytes),                                 \
                         (const block_type *)(w + (size_t)gb * group_bytes), A, as, mr, y + ga * LC_X8_ROWS,     \
                         y + gb * LC_X8_ROWS, ldy);                                                              \
        }                                                                                                        \
        if (n_groups % 2) {                                                                                      \
            const block_type *last = (const block_type *)(w + (size_t)(n_groups - 1) * group_bytes);             \
            fname##_pair(nb, last, last, A, as, mr, y + (n_groups - 1) * LC_X8_ROWS, NULL, ldy);                 \
        }                                                                                                        \
    }

X16_TILE_FN(tile_q4_0_x8, q4_0_x16_kernel, block_q4_0_x8, QK4_0, LC_X16_MR)
X16_TILE_FN(tile_q8_0_x8, q8_0_x16_kernel, block_q8_0_x8, QK8_0, LC_X16_MR)
X16_TILE_FN(tile_q4_K_x8, q4_K_x16_kernel, block_q4_K_x8, QK_K, LC_X16_MR_K)
X16_TILE_FN(tile_q6_K_x8, q6_K_x16_kernel, block_q6_K_x8, QK_K, LC_X16_MR_K)

const lc_kernel_table LC_AVX512_TABLE = {
    .name = LC_AVX512_NAME,
    .base = &lc_kernels_avx2,
    .tile = {
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
};
