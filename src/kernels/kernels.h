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
#ifndef LC_TILE_M
#define LC_TILE_M 12
#endif

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
 * writes it: the standard blocks first (what the type table's vec_dot
 * reads), then whatever else the ISA's own kernels want to find there. */
typedef size_t (*lc_act_row_size_fn)(int type, int64_t K);

/* The feed-forward gate: gate[i] = silu(gate[i]) * up[i] for i < n, with
 * silu(g) = g / (1 + e^-g). One exponential per element of the n_ff-wide
 * hidden row, which a scalar expf makes a few percent of prefill. */
typedef void (*lc_swiglu_fn)(float *gate, const float *up, int64_t n);

typedef struct lc_kernel_table {
    const char *name;
    lc_quantize_row_fn quantize_row[LC_TYPE_COUNT]; /* indexed by activation type */
    lc_tile_fn tile[LC_TYPE_COUNT];                 /* indexed by weight type */
    lc_tile_fn tile_x8[LC_TYPE_COUNT];              /* weights in the x8 layout (quant/repack.h):
                                                       nr a multiple of 8, W at a group's start */
    lc_act_row_size_fn act_row_size;                /* NULL: lc_row_size */
    lc_swiglu_fn swiglu;                            /* NULL: lc_swiglu_reference */
    const struct lc_kernel_table *base;             /* entries left NULL above come from this table
                                                       first (an ISA extending another one) */
} lc_kernel_table;

/* kt with every NULL entry filled from its base tables, in order. */
void lc_kernel_table_resolve(const lc_kernel_table *kt, lc_kernel_table *out);

/* scalar.c: the reference tile, one type-table vec_dot per output. */
void lc_tile_reference(int wtype, int64_t K, const void *W, size_t wstride, int64_t nr,
                       const void *A, size_t astride, int mr, float *y, int64_t ldy);

/* The same for weights in the x8 layout: each block is unpacked to the
 * plain layout and dotted with the type table's vec_dot, block by block. */
void lc_tile_reference_x8(int wtype, int64_t K, const void *W, size_t wstride, int64_t nr,
                          const void *A, size_t astride, int mr, float *y, int64_t ldy);

/* scalar.c: SwiGLU with libm's expf, element by element. */
void lc_swiglu_reference(float *gate, const float *up, int64_t n);

extern const lc_kernel_table lc_kernels_scalar;
#if defined(__x86_64__)
extern const lc_kernel_table lc_kernels_avx2;
extern const lc_kernel_table lc_kernels_avx512;
extern const lc_kernel_table lc_kernels_avx512_bf16;
#endif
#if defined(__aarch64__)
extern const lc_kernel_table lc_kernels_neon;
extern const lc_kernel_table lc_kernels_neon_dotprod;
#endif

#endif
