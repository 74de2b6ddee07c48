/* The reference kernels: every product is the type table's scalar vec_dot
 * and every activation row its reference from_float (quant/types.c). This
 * table runs on any CPU and is what the SIMD tables are tested against. */
#include "kernels/kernels.h"

#include <math.h>

#include "quant/repack.h"

void lc_tile_reference(int wtype, int64_t K, const void *W, size_t wstride, int64_t nr,
                       const void *A, size_t astride, int mr, float *y, int64_t ldy) {
    const lc_type_traits *t = lc_type_traits_get(wtype);
    for (int m = 0; m < mr; m++) {
        const uint8_t *a = (const uint8_t *)A + (size_t)m * astride;
        for (int64_t n = 0; n < nr; n++) {
            float *out = &y[(int64_t)m * ldy + n];
            /* The driver only accepts types with a vec_dot; NaN makes a
             * missed check visible instead of crashing. */
            if (!t || !t->vec_dot) { *out = NAN; continue; }
            t->vec_dot(K, out, (const uint8_t *)W + (size_t)n * wstride, a);
        }
    }
}

void lc_tile_reference_x8(int wtype, int64_t K, const void *W, size_t wstride, int64_t nr,
                          const void *A, size_t astride, int mr, float *y, int64_t ldy) {
    const lc_type_traits *t = lc_type_traits_get(wtype);
    const lc_type_traits *at = t ? lc_type_traits_get(t->vec_dot_type) : NULL;
    if (!t || !t->vec_dot || !at) {
        for (int m = 0; m < mr; m++)
            for (int64_t n = 0; n < nr; n++) y[(int64_t)m * ldy + n] = NAN;
        return;
    }
    const int64_t bs = t->block_size, nb = K / bs;
    const size_t a_block = at->type_size * (size_t)(bs / at->block_size);
    _Alignas(16) uint8_t block[256]; /* one plain weight block (the largest x8 type, Q6_K, has 210 bytes) */
    for (int64_t g = 0; g < nr / LC_X8_ROWS; g++) {
        const uint8_t *group = (const uint8_t *)W + (size_t)g * LC_X8_ROWS * wstride;
        for (int m = 0; m < mr; m++) {
            const uint8_t *a = (const uint8_t *)A + (size_t)m * astride;
            for (int r = 0; r < LC_X8_ROWS; r++) {
                float sum = 0.0f, part;
                for (int64_t b = 0; b < nb; b++) {
                    lc_x8_unpack_block(wtype, group, b, r, block);
                    t->vec_dot(bs, &part, block, a + (size_t)b * a_block);
                    sum += part;
                }
                y[(int64_t)m * ldy + g * LC_X8_ROWS + r] = sum;
            }
        }
    }
}

void lc_swiglu_reference(float *gate, const float *up, int64_t n) {
    for (int64_t i = 0; i < n; i++) gate[i] = gate[i] / (1.0f + expf(-gate[i])) * up[i];
}

/* All entries NULL: the driver falls back to the type table for each. */
const lc_kernel_table lc_kernels_scalar = {.name = "scalar"};
