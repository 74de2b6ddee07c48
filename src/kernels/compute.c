/* Reference compute backend: single-threaded, scalar kernels from the type
 * table. The fast backend keeps this interface. */
#include "kernels/compute.h"

#include <stdlib.h>

#include "quant/types.h"
#include "runtime/err.h"

struct lc_compute {
    int n_threads;
    int64_t max_rows, max_k;
    void *act;        /* quantized activations, max_rows rows */
    size_t act_size;
};

lc_compute *lc_compute_create(int n_threads, int64_t max_rows, int64_t max_k, llamac_error *err) {
    lc_compute *c = calloc(1, sizeof *c);
    if (!c) { lc_fail(err, "out of memory creating compute backend"); return NULL; }
    c->n_threads = n_threads > 0 ? n_threads : 1;
    c->max_rows = max_rows;
    c->max_k = max_k;
    /* widest activation row: f32 */
    c->act_size = (size_t)max_rows * (size_t)max_k * sizeof(float) + 64;
    c->act = malloc(c->act_size);
    if (!c->act) {
        free(c);
        lc_fail(err, "out of memory: %zu bytes of activation scratch", (size_t)max_rows * (size_t)max_k * 4);
        return NULL;
    }
    return c;
}

void lc_compute_free(lc_compute *c) {
    if (!c) return;
    free(c->act);
    free(c);
}

int lc_compute_n_threads(const lc_compute *c) { return c->n_threads; }

void lc_matmul(lc_compute *c, const void *W, int wtype, int64_t N, int64_t K,
               const float *x, int64_t M, float *y) {
    const lc_type_traits *wt = lc_type_traits_get(wtype);
    const int at = wt->vec_dot_type;
    const lc_type_traits *att = lc_type_traits_get(at);
    const size_t wrow = lc_row_size(wtype, K);
    const size_t arow = lc_row_size(at, K);
    const uint8_t *act = (const uint8_t *)x;
    if (at != LC_TYPE_F32) {
        for (int64_t m = 0; m < M; m++) att->from_float(x + m * K, (uint8_t *)c->act + m * arow, K);
        act = c->act;
    }
    for (int64_t m = 0; m < M; m++)
        for (int64_t n = 0; n < N; n++)
            wt->vec_dot(K, &y[m * N + n], (const uint8_t *)W + n * wrow, act + m * arow);
}

void lc_parallel_for(lc_compute *c, int64_t n, lc_range_fn fn, void *arg) {
    (void)c;
    fn(arg, 0, n, 0);
}
