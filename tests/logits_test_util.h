/* Comparing two contexts' logits (tests that run one model two ways:
 * another weight layout, another kernel table). */
#ifndef LC_LOGITS_TEST_UTIL_H
#define LC_LOGITS_TEST_UTIL_H

#include <math.h>

#include "llamac.h"

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

#endif
