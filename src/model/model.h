/* Internal view of a loaded model: hyperparameters from the GGUF metadata and
 * weight views into the mapped file (never copied). Shared by the loader, the
 * forward pass and the modules implementing the public API. */
#ifndef LC_MODEL_H
#define LC_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "kernels/dispatch.h"
#include "llamac.h"

struct lc_vocab;
struct lc_gguf_file;

typedef struct lc_hparams {
    int32_t n_vocab;
    int32_t n_embd;
    int32_t n_layer;
    int32_t n_head;
    int32_t n_head_kv;
    int32_t head_dim;
    int32_t n_ff;
    int32_t n_ctx_train;
    float rms_eps;
    float rope_theta;
    float rope_freq_scale; /* 1/factor for linear scaling, else 1 */
} lc_hparams;

/* A 2-D weight: ne1 rows of ne0 elements of block type `type`, in the
 * file's layout or, if x8, regrouped 8 rows at a time (quant/repack.h). */
typedef struct lc_weight {
    const void *data;
    int type;
    int64_t ne0, ne1;
    size_t row_size;
    bool x8;
} lc_weight;

typedef struct lc_layer {
    const float *attn_norm; /* [n_embd] */
    lc_weight wq, wk, wv, wo;
    const float *ffn_norm;  /* [n_embd] */
    lc_weight w_gate, w_up, w_down;
} lc_layer;

struct llamac_model {
    struct lc_gguf_file *gguf;
    lc_isa isa;                /* the kernel table its contexts use (and the repacking followed) */
    void *owned;               /* the file's bytes when loaded without mmap */
    size_t owned_size;
    struct lc_vocab *vocab;
    lc_hparams hp;
    lc_weight tok_embd;
    const float *output_norm;
    lc_weight output;          /* == tok_embd when tied */
    const float *rope_freqs;   /* [head_dim/2] frequency divisors, or NULL */
    lc_layer *layers;
    char *name;
    const char *file_type;
    uint64_t n_params;
    uint64_t weight_bytes;
    uint64_t repacked_bytes;   /* regrouped into the x8 layout at load */
    int64_t repack_us;
};

/* The tokenizer of a loaded model (never NULL for a loaded model). */
const struct lc_vocab *lc_model_vocab(const llamac_model *model);
/* The parsed GGUF file a model was loaded from (metadata access). */
const struct lc_gguf_file *lc_model_gguf(const llamac_model *model);

#endif
