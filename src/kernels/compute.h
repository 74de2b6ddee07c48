/* The compute backend the forward pass calls: matrix products over any
 * weight block type and a parallel-for, both running on the context's
 * persistent thread pool with the kernels chosen for this CPU.
 * Kernels take plain pointers and sizes, never model structs. */
#ifndef LC_COMPUTE_H
#define LC_COMPUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/dispatch.h"
#include "llamac.h"

typedef struct lc_compute lc_compute;

/* max_rows x max_k bounds the activations one lc_matmul call may get
 * (scratch for their quantized copy is allocated once, here). */
lc_compute *lc_compute_create(int n_threads, int64_t max_rows, int64_t max_k, llamac_error *err);
void lc_compute_free(lc_compute *c);
int lc_compute_n_threads(const lc_compute *c);

/* y[m][n] = sum_k W[n][k] * x[m][k] for m < M, n < N.
 * W: N rows of K elements of block type wtype, row r at W + r*row_size.
 * x: M rows of K floats (contiguous). y: M rows of N floats (contiguous).
 * Each x row is converted once to the weight type's activation type. */
void lc_matmul(lc_compute *c, const void *W, int wtype, int64_t N, int64_t K,
               const float *x, int64_t M, float *y);

/* The same for weights in the x8 layout (quant/repack.h, lc_x8_repack):
 * N a multiple of 8. Writes NaN if wtype has no x8 layout. */
void lc_matmul_x8(lc_compute *c, const void *W, int wtype, int64_t N, int64_t K,
                  const float *x, int64_t M, float *y);

/* One product of a group over the same activations (lc_matmul_group). */
typedef struct lc_matmul_out {
    const void *W;   /* N rows of K elements of block type wtype */
    int wtype;
    bool x8;         /* W in the x8 layout, as for lc_matmul_x8 */
    int64_t N;
    float *y;        /* M rows of N floats */
} lc_matmul_out;

/* y = W x for several weights that read the same x (q/k/v, gate/up): x is
 * quantized once for all weights that take the same activation type, and
 * one dispatch runs all their products, so no thread waits between them.
 * Each y gets the bits lc_matmul / lc_matmul_x8 would give it. */
void lc_matmul_group(lc_compute *c, const lc_matmul_out *outs, int n_outs, int64_t K, const float *x, int64_t M);

/* gate[i] = silu(gate[i]) * up[i] for i < n (the feed-forward activation),
 * with the ISA's kernel, split over the threads when n is large. */
void lc_swiglu(lc_compute *c, float *gate, const float *up, int64_t n);

/* Runs fn over [0, n) split into contiguous ranges, one per thread. */
typedef void (*lc_range_fn)(void *arg, int64_t begin, int64_t end, int thread);
void lc_parallel_for(lc_compute *c, int64_t n, lc_range_fn fn, void *arg);

/* ---- additions for the fast backend (kernels/dispatch.h has the ISA list) */

/* Whether lc_matmul can take weights of this type (a reference dot product
 * and an activation quantizer exist). lc_matmul writes NaN for others. */
bool lc_matmul_supports(int wtype);

/* The instruction set the kernels use: chosen at creation from the CPU,
 * lowered by the environment variable LLAMAC_ISA=scalar|avx2|neon|neon-dotprod.
 * lc_compute_set_isa picks another one (a CLI flag, tests); it fails with a
 * message if the name is unknown or this CPU/build cannot run it. */
const char *lc_compute_isa(const lc_compute *c);
int lc_compute_set_isa(lc_compute *c, const char *isa_name, llamac_error *err);
/* The same for an ISA already chosen (a model's, checked when it loaded). */
int lc_compute_use_isa(lc_compute *c, lc_isa isa, llamac_error *err);

/* Runs a given kernel table (tests: one compiled outside the library). */
struct lc_kernel_table;
int lc_compute_set_kernels(lc_compute *c, const struct lc_kernel_table *kt, llamac_error *err);

#endif
