/* What the x86 kernel files share (avx2.c, avx512.c; the attention kernels
 * take its macros): the layout of the activation rows the AVX2 quantizers
 * write, which the AVX-512 kernels read too (their table takes the AVX2
 * quantizers), and a few helpers that need nothing beyond SSE. Included
 * only by files compiled for x86-64. */
#ifndef LC_X86_COMMON_H
#define LC_X86_COMMON_H

#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "quant/quant.h"

#define LC_INLINE static inline __attribute__((always_inline))
/* The MR x NR loops must be unrolled for the accumulators to live in
 * registers; -O2 alone leaves them as arrays on the stack. */
#define LC_UNROLL _Pragma("GCC unroll 8")
/* Makes the compiler treat a vector as recomputed here, so the adds
 * before and after it are not merged. Without it gcc reassociates a
 * register tile's integer accumulations into trees: all of a block's
 * products are formed first, more live vectors than there are registers,
 * and the accumulators spill to the stack. On a freshly loaded vector it
 * also stops the load being folded into every FMA that uses it (one reload
 * per use, which makes a register-blocked float product load-bound). */
#define LC_KEEP_IN_REGISTER(v) __asm__("" : "+x"(v))

/* Decode reads each group of NR weight rows once. Rows are a few KB, too
 * short for the hardware prefetcher to ramp up on every new group, so the
 * kernel prefetches the next group (the bytes right after this one) spread
 * evenly over its loop: iteration i of `iters` fetches its share of lines.
 * (Measured: single-thread Q4_0 decode from DRAM went from ~50% to ~85% of
 * a plain read of the same bytes.) */
typedef struct prefetcher {
    uintptr_t next;  /* an address, not a pointer: it may lie past the matrix (prefetches never fault) */
    int64_t lines_per_iter;
} prefetcher;

LC_INLINE prefetcher prefetch_plan(const uint8_t *group, size_t group_bytes, int64_t iters) {
    prefetcher p = {(uintptr_t)group + group_bytes, 0};
    if (iters > 0) p.lines_per_iter = ((int64_t)group_bytes / 64 + iters - 1) / iters;
    return p;
}

LC_INLINE void prefetch_step(const prefetcher *p, int64_t i) {
    for (int64_t j = 0; j < p->lines_per_iter; j++)
        _mm_prefetch((const char *)(p->next + (uintptr_t)((i * p->lines_per_iter + j) * 64)), _MM_HINT_T0);
}

/* The x86 Q8_0 activation row (written by the AVX2 quantizer): the standard blocks, then, each at a
 * 32-byte aligned offset,
 *   float  d[nb]            every block's scale as f32;
 *   int32  s2[nb]           twice the sum of every block's quants;
 *   int32  s8[nb]           8 times that sum (the Q4_0 x8 kernel's offset);
 *   uint8  pairs[nb/2][64]  blocks 2p and 2p+1 for the Q4_0 prefill kernel:
 *                           elements 0..15 of both, then 16..31 of both,
 *                           each interleaved 4 bytes at a time, so that the
 *                           int32 lanes of a product alternate between the
 *                           two blocks.
 * Kernels then broadcast scales and sums from memory instead of converting
 * them once per weight row. */
typedef struct q8_0_layout {
    size_t d, s2, s8, pairs, size;
} q8_0_layout;

LC_INLINE size_t align32(size_t x) { return (x + 31) & ~(size_t)31; }

LC_INLINE q8_0_layout q8_0_layout_for(int64_t K) {
    const size_t nb = (size_t)(K / QK8_0);
    q8_0_layout l;
    l.d = align32(nb * sizeof(block_q8_0));
    l.s2 = align32(l.d + nb * sizeof(float));
    l.s8 = align32(l.s2 + nb * sizeof(int32_t));
    l.pairs = align32(l.s8 + nb * sizeof(int32_t));
    l.size = l.pairs + nb / 2 * 64;
    return l;
}

/* The x86 Q8_K activation row: the standard blocks, then at a 32-byte
 * aligned offset int16 asum[nb][8], the sums of each 32-element sub-block
 * (|sum| <= 32 * 127 fits int16), which the Q4_K x8 kernel pairs with the
 * mins of two sub-blocks at a time. */
LC_INLINE size_t q8_K_asum_offset(int64_t K) { return align32((size_t)(K / QK_K) * sizeof(block_q8_K)); }

/* Where one activation row's parts are (see q8_0_layout). */
typedef struct q8_0_act {
    const block_q8_0 *blocks;
    const float *d;
    const int32_t *s2, *s8;
    const uint8_t *pairs;
} q8_0_act;

LC_INLINE q8_0_act q8_0_act_row(const uint8_t *row, const q8_0_layout *l) {
    q8_0_act a = {(const block_q8_0 *)row, (const float *)(row + l->d), (const int32_t *)(row + l->s2),
                  (const int32_t *)(row + l->s8), row + l->pairs};
    return a;
}

LC_INLINE int32_t load_i32(const void *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}

#endif
