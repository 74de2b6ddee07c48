/* The reference kernels: every product is the type table's scalar vec_dot
 * and every activation row its reference from_float (quant/types.c). This
 * table runs on any CPU and is what the SIMD tables are tested against. */
#include "kernels/kernels.h"

#include <math.h>

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

/* All entries NULL: the driver falls back to the type table for each. */
const lc_kernel_table lc_kernels_scalar = {.name = "scalar"};
