/* Comparing two contexts' logits (tests that run one model two ways:
 * another weight layout, another kernel table). */
#ifndef LC_LOGITS_TEST_UTIL_H
#define LC_LOGITS_TEST_UTIL_H

#include <math.h>

#include "llamac.h"
#include "test_util.h"

/* max |a - b| over every vocabulary entry of positions 0..n_pos-1. */
static inline double lc_test_max_logit_diff(llamac_context *a, llamac_context *b, int n_pos, int n_vocab) {
    double worst = 0;
    for (int pos = 0; pos < n_pos; pos++) {
        const float *la = llamac_logits(a, pos), *lb = llamac_logits(b, pos);
        for (int v = 0; v < n_vocab; v++)
            if (fabs((double)la[v] - lb[v]) > worst) worst = fabs((double)la[v] - lb[v]);
    }
    return worst;
}

/* The model at path loaded twice, regrouped to the x8 layout where the CPU
 * has kernels for it (the default) and in the file's layout (no_repack),
 * each decoding tokens with all logits kept: their largest difference, or
 * -1 after a failed CHECK. repacked_bytes gets what each load regrouped. */
static inline double lc_test_layout_logit_diff(const char *path, const llamac_token *tokens, int n, uint32_t n_ctx,
                                               int32_t n_batch, uint64_t repacked_bytes[2]) {
    llamac_error err = {{0}};
    llamac_model *m[2] = {NULL, NULL};
    llamac_context *ctx[2] = {NULL, NULL};
    double worst = -1;
    for (int i = 0; i < 2; i++) {
        llamac_model_params mp = llamac_model_default_params();
        mp.no_repack = i == 1;
        m[i] = llamac_model_load(path, &mp, &err);
        CHECKF(m[i] != NULL, "%s: %s", path, err.msg);
        if (!m[i]) goto done;
        llamac_context_params cp = llamac_context_default_params();
        cp.n_ctx = n_ctx;
        cp.n_batch = n_batch;
        ctx[i] = llamac_context_create(m[i], &cp, &err);
        CHECKF(ctx[i] && llamac_decode(ctx[i], tokens, n, true, &err) == 0, "%s", err.msg);
        if (!ctx[i]) goto done;
        llamac_model_desc d;
        llamac_model_describe(m[i], &d);
        repacked_bytes[i] = d.repacked_bytes;
    }
    worst = lc_test_max_logit_diff(ctx[0], ctx[1], n, llamac_n_vocab(m[0]));
done:
    for (int i = 0; i < 2; i++) {
        llamac_context_free(ctx[i]);
        llamac_model_free(m[i]);
    }
    return worst;
}

#endif
