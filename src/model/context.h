/* The inference context: KV cache, scratch activations, logits and the
 * compute backend (thread pool + kernels), all allocated once at creation
 * so that the per-token loop allocates nothing. */
#ifndef LC_CONTEXT_H
#define LC_CONTEXT_H

#include <stdint.h>

#include "kernels/compute.h"
#include "llamac.h"
#include "model/model.h"

typedef struct lc_kv_cache {
    int type;            /* LC_TYPE_F32, LC_TYPE_F16 or LC_TYPE_Q8_0 */
    uint32_t n_ctx;
    int64_t row_elems;   /* n_head_kv * head_dim */
    size_t row_size;     /* bytes of one position's K (or V) row */
    uint8_t *k;          /* [n_layer][n_ctx][row] */
    uint8_t *v;
} lc_kv_cache;

/* Activations for one chunk of at most n_batch tokens. */
typedef struct lc_scratch {
    float *x;        /* [n_batch][n_embd] residual stream */
    float *xn;       /* [n_batch][max(n_embd, q_dim)] normalized input / attention output */
    float *q;        /* [n_batch][q_dim] */
    float *k;        /* [n_batch][kv_dim] */
    float *v;        /* [n_batch][kv_dim] */
    float *proj;     /* [n_batch][n_embd] output of wo / w_down */
    float *gate;     /* [n_batch][n_ff] */
    float *up;       /* [n_batch][n_ff] */
    float *rope_cos; /* [n_batch][head_dim/2] */
    float *rope_sin;
} lc_scratch;

struct llamac_context {
    llamac_model *model;
    lc_compute *compute;
    int32_t n_batch;
    int32_t n_threads;
    uint32_t n_past;
    lc_kv_cache kv;
    lc_scratch s;
    float *logits;          /* [logits_rows][n_vocab] */
    int64_t logits_cap;     /* rows allocated */
    int32_t logits_first;   /* token index (in the last decode call) of row 0 */
    int32_t logits_rows;
    int32_t last_n;
};

/* Evaluates tokens[0..n) at positions n_past.. (n <= n_batch), writing the
 * logits of tokens [first_logit, n) to `logits` rows. Advances n_past. */
void lc_forward(llamac_context *ctx, const llamac_token *tokens, int32_t n, int32_t first_logit,
                float *logits);

#endif
