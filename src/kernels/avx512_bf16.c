/* AVX-512 BF16 kernels (compiled with -mavx512bf16 besides the avx512
 * table's flags; chosen at run time only on CPUs that also report
 * avx512_bf16: AMD Zen 4, Intel Cooper Lake and Sapphire Rapids and later).
 * One kernel: BF16 weights against BF16 activation rows with vdpbf16ps,
 * which multiplies 32 pairs of bf16 and adds each pair's two products into
 * one f32 lane: twice the multiply-adds per instruction of converting to
 * f32 and using FMA. The products of two bf16 are exact in f32; like FMA
 * sums, only the summation order and the instruction's flushing of
 * subnormals differ from the reference. Everything else comes from the
 * avx512 table through `base`. */
#ifndef LC_AVX512_EMULATE
#include <immintrin.h>
#define LC_AVX512_BF16_TABLE lc_kernels_avx512_bf16
#define LC_AVX512_BF16_NAME "avx512-bf16"
#define LC_AVX512_BF16_BASE lc_kernels_avx512
#else
#define LC_AVX512_BF16_TABLE lc_kernels_avx512_bf16_emulated
#define LC_AVX512_BF16_NAME "avx512-bf16-emulated"
#define LC_AVX512_BF16_BASE lc_kernels_avx512_emulated
#endif

#include "kernels/kernels.h"
#include "kernels/x86_common.h"
#include "kernels/avx512_common.h"
#include "quant/types.h"

#ifdef LC_AVX512_EMULATE
extern const lc_kernel_table lc_kernels_avx512_emulated;
#endif

/* 32 bf16 of a row from element k; the last K % 32 through a masked load
 * (zeros beyond K: they add nothing). */
LC_INLINE __m512bh load32_bf16(const uint8_t *row, int64_t k, __mmask32 mask) {
    return (__m512bh)_mm512_maskz_loadu_epi16(mask, (const lc_bf16 *)row + k);
}

/* An MR x NR tile (at most 4 x 4: 16 accumulators, 4 weight vectors). */
LC_INLINE void bf16_kernel(int64_t K, const uint8_t *W, size_t ws, const uint8_t *A, size_t as, float *y,
                           int64_t ldy, const int MR, const int NR) {
    __m512 acc[4][4];
    LC_UNROLL
    for (int m = 0; m < MR; m++)
        LC_UNROLL
        for (int n = 0; n < NR; n++) acc[m][n] = _mm512_setzero_ps();
    const prefetcher pf = prefetch_plan(W, (size_t)NR * ws, (K + 31) / 32);
    for (int64_t k = 0; k < K; k += 32) {
        if (MR == 1) prefetch_step(&pf, k / 32);
        const __mmask32 mask = K - k >= 32 ? (__mmask32)0xffffffffu : (__mmask32)((1u << (K - k)) - 1);
        __m512bh w[4];
        LC_UNROLL
        for (int n = 0; n < NR; n++) w[n] = load32_bf16(W + (size_t)n * ws, k, mask);
        LC_UNROLL
        for (int m = 0; m < MR; m++) {
            const __m512bh a = load32_bf16(A + (size_t)m * as, k, mask);
            LC_UNROLL
            for (int n = 0; n < NR; n++) acc[m][n] = _mm512_dpbf16_ps(acc[m][n], w[n], a);
        }
    }
    LC_UNROLL
    for (int m = 0; m < MR; m++)
        LC_UNROLL
        for (int n = 0; n < NR; n++) y[m * ldy + n] = hsum512_ps(acc[m][n]);
}

LC_TILE_4X4_FN(tile_bf16, bf16_kernel)

const lc_kernel_table LC_AVX512_BF16_TABLE = {
    .name = LC_AVX512_BF16_NAME,
    .base = &LC_AVX512_BF16_BASE,
    .tile = {[LC_TYPE_BF16] = tile_bf16},
};
