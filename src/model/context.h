/* The inference context: KV cache, scratch activations, logits and the
 * compute backend (thread pool + kernels), all allocated once at creation
 * so that the per-token loop allocates nothing. */
#ifndef LC_CONTEXT_H
#define LC_CONTEXT_H

#include <stdint.h>

#include "kernels/compute.h"
#include "llamac.h"
#include "model/model.h"

/* The KV cache: n_ctx cells shared by every sequence of the context. Cell c
 * holds one token's K and V rows (per layer) and is tagged with that
 * token's position and the sequences that see it; a sequence's cells need
 * not be contiguous nor in position order. One sequence decoded from an
 * empty cache gets cells 0, 1, 2, ... (cell = position), the contiguous
 * case the attention kernels read without a cell list. */
typedef struct lc_kv_cache {
    int type;            /* LC_TYPE_F32, LC_TYPE_F16 or LC_TYPE_Q8_0 */
    uint32_t n_ctx;
    int64_t row_elems;   /* n_head_kv * head_dim */
    size_t row_size;     /* bytes of one cell's K (or V) row */
    uint8_t *k;          /* [n_layer][n_ctx][row] */
    uint8_t *v;
    int32_t *pos;        /* [n_ctx] position of the cell's token; -1: free */
    uint64_t *seqs;      /* [n_ctx] bit s set: sequence s sees the cell (0: free) */
    uint32_t n_used;     /* cells with some sequence */
    int32_t *seq_cells;  /* [n_seq_max][n_ctx] each sequence's cells in position order */
    int32_t *seq_len;    /* [n_seq_max] */
    int32_t *merge_scratch; /* [n_ctx] for llamac_seq_cp */
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

/* The rows of one forward call (at most n_batch), in the order the decode
 * call chose (tokens of one sequence together). Arrays are [n_batch],
 * owned by the context. */
typedef struct lc_ubatch {
    int32_t n;
    llamac_token *tokens;
    int32_t *pos;               /* RoPE position of each row */
    int32_t *cell;              /* the cell each row's K and V are written to */
    const int32_t **attn_cells; /* the cell list each row attends to (kernels/attention.h) */
    int32_t *attn_n_seen;       /* how many cells of that list it sees */
    int32_t *out_rows;          /* rows whose logits are wanted, ascending */
    int32_t n_out;
    float *logits;              /* [n_out][n_vocab]: where those logits go */
} lc_ubatch;

/* Work space of a decode call, allocated once (or grown with the batch). */
typedef struct lc_decode_scratch {
    int32_t *row_entry;         /* [n_batch] the entry of each row of ctx->ub */
    int32_t *entry_cell;        /* [entries_cap] the cell each batch entry was given */
    int32_t *entry_logits;      /* [entries_cap] its logits row, or -1 */
    int64_t entries_cap;
    llamac_batch *single;       /* llamac_decode's batch (sequence 0) */
} lc_decode_scratch;

struct llamac_context {
    llamac_model *model;
    lc_compute *compute;
    int32_t n_batch;
    int32_t n_threads;
    int32_t n_seq_max;
    lc_kv_cache kv;
    lc_scratch s;
    lc_ubatch ub;
    lc_decode_scratch d;
    float *logits;          /* [logits_rows][n_vocab] */
    int64_t logits_cap;     /* rows allocated */
    int32_t last_n;         /* entries of the last decode call (entry_logits maps them) */
};

/* Evaluates the rows of ctx->ub: writes their K/V to their cells, attends
 * each to its cell list, and writes the logits of the wanted rows. */
void lc_forward(llamac_context *ctx);

#endif
