/* The kernel table: what one instruction set offers the matmul driver
 * (compute.c). Per activation type a row quantizer, per weight type a tile
 * kernel; a NULL entry means "use the scalar reference from the type table"
 * (scalar.c), so an ISA file only lists the types it speeds up.
 *
 * Every table uses the standard ggml block layouts for activations
 * (block_q8_0, block_q8_K, f16, bf16, f32), so a row quantized by one ISA
 * can be read by any kernel, and the SIMD quantizers are held bit-exact to
 * the reference ones (tests/test_kernels.c checks that). */
#ifndef LC_KERNELS_H
#define LC_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "quant/types.h"

/* Most activation rows one tile call handles. A kernel covers them in its
 * own register tiles (3 or 4 rows, say) while the chunk of weight rows it
 * was given stays in L1/L2; 12 is a multiple of every such height. */
#define LC_TILE_M 12

/* Converts one row of k floats to an activation type (k a multiple of its
 * block size). Same signature as the type table's from_float. */
typedef void (*lc_quantize_row_fn)(const float *x, void *dst, int64_t k);

/* The product of nr weight rows with mr activation rows:
 *   y[m*ldy + n] = dot(W row n, A row m)   for m < mr, n < nr
 * W row n starts at W + n*wstride, A row m at A + m*astride; both hold K
 * elements, A in the weight type's activation format. 1 <= mr <= LC_TILE_M.
 * mr == 1 is decode (a matrix-vector product); it must not depend on how
 * the caller splits nr, so results do not depend on the thread count. */
typedef void (*lc_tile_fn)(int64_t K, const void *W, size_t wstride, int64_t nr,
                           const void *A, size_t astride, int mr, float *y, int64_t ldy);

/* Bytes of one activation row of K elements as this table's quantizer
 * writes it: the standard blocks, possibly followed by extra per-block data
 * its kernels want (see lc_q8_0_summary). */
typedef size_t (*lc_act_row_size_fn)(int type, int64_t K);

typedef struct lc_kernel_table {
    const char *name;
    lc_quantize_row_fn quantize_row[LC_TYPE_COUNT]; /* indexed by activation type */
    lc_tile_fn tile[LC_TYPE_COUNT];                 /* indexed by weight type */
    lc_act_row_size_fn act_row_size;                /* NULL: lc_row_size */
} lc_kernel_table;

/* What a SIMD Q8_0 quantizer may append to a row: for each block its scale
 * as f32 and the sum of its 32 quants, so that a kernel broadcasts them
 * from memory instead of converting the f16 scale (and summing) once per
 * weight row. Placed after the row's blocks at the next multiple of 8
 * bytes; lc_q8_0_summary_offset gives where. Readers that know only the
 * standard layout (the type table's vec_dot) never look past the blocks. */
typedef struct lc_q8_0_summary {
    float d;
    int32_t sum;
} lc_q8_0_summary;

static inline size_t lc_q8_0_summary_offset(int64_t K) {
    return ((size_t)(K / QK8_0) * sizeof(block_q8_0) + 7) / 8 * 8;
}
static inline size_t lc_q8_0_row_with_summary(int64_t K) {
    return lc_q8_0_summary_offset(K) + (size_t)(K / QK8_0) * sizeof(lc_q8_0_summary);
}

/* scalar.c: the reference tile, one type-table vec_dot per output. */
void lc_tile_reference(int wtype, int64_t K, const void *W, size_t wstride, int64_t nr,
                       const void *A, size_t astride, int mr, float *y, int64_t ldy);

extern const lc_kernel_table lc_kernels_scalar;
#if defined(__x86_64__)
extern const lc_kernel_table lc_kernels_avx2;
#endif
#if defined(__aarch64__)
extern const lc_kernel_table lc_kernels_neon;
extern const lc_kernel_table lc_kernels_neon_dotprod;
#endif

#endif
