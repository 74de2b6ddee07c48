/* The conversion pipeline shared by every importer (Hugging Face folders,
 * llama2.c checkpoints, GGUF requantization):
 *
 *   source rows (mmap) -> per-tensor type policy -> row conversion on worker
 *   threads -> GGUF writer (temp file, fsync, rename)
 *
 * An importer fills a job: metadata straight into job->w, and one
 * lc_conv_tensor per output tensor pointing at its source rows. The job
 * then streams tensor after tensor in chunks of rows, so memory holds two
 * chunk buffers, never a whole model; consumed source pages are dropped
 * (madvise/fadvise) so the mapping does not accumulate in RSS. */
#ifndef LC_CONVERT_H
#define LC_CONVERT_H

#include <stdbool.h>
#include <stdint.h>

#include "format/gguf.h"
#include "llamac.h"
#include "quant/types.h"

typedef struct lc_conv_tensor {
    char name[GGUF_MAX_NAME];
    uint32_t n_dims;
    int64_t ne[GGUF_MAX_DIMS];  /* ggml order; unused dims are 1 */
    int src_type;               /* ggml type of the source rows */
    const uint8_t *src;         /* ne[1]*ne[2]*ne[3] contiguous rows of ne[0] */
    float *generated;           /* owned F32 data instead of src (rope_freqs) */
    int src_fd;                 /* source file for posix_fadvise, -1: none */
    uint64_t src_file_offset;   /* offset of src in that file */
    int32_t unpermute_heads;    /* > 0: rows are in HF q/k order, this many heads */
    int dst_type;               /* -1: chosen by the policy when the job runs */
} lc_conv_tensor;

typedef struct lc_conv_job {
    lc_gguf_writer *w;
    lc_conv_tensor *tensors;
    size_t n_tensors, cap_tensors;
    int out_type;               /* the requested type: ggml id or LLAMAC_CONVERT_Q4_K_M/_S, Q5_K_M/_S */
    bool vocab_only;            /* metadata and tokenizer only */
    int n_threads;
    llamac_convert_progress_fn progress;
    void *progress_user;
    llamac_convert_note_fn note;
    void *note_user;
} lc_conv_job;

/* The output types convert/quantize accept, for messages. */
#define LC_CONV_TYPE_LIST "f32, f16, bf16, q8_0, q6_k, q5_1, q5_0, q4_1, q4_0, q5_k_m, q5_k_s, q4_k_m or q4_k_s"

/* The defaults behind llamac_convert_default_params (F16 output), for the
 * converters themselves so they need not call back into the public API. */
static inline llamac_convert_params lc_conv_default_params(void) {
    return (llamac_convert_params){.type = LC_TYPE_F16};
}

/* Prepares a job for the requested output type (see LC_CONV_TYPE_LIST: a
 * ggml id, or LLAMAC_CONVERT_Q4_K_M/_S) with the caller's threads,
 * progress and notes. */
int lc_conv_job_init(lc_conv_job *job, int out_type, const llamac_convert_params *p,
                     llamac_error *err);
void lc_conv_job_free(lc_conv_job *job);

/* Returns a zeroed tensor entry (src_fd -1, dst_type -1) appended to the
 * job, or NULL when out of memory. */
lc_conv_tensor *lc_conv_job_add(lc_conv_job *job, llamac_error *err);

/* Adds general.architecture, general.type, general.name, general.file_type
 * and general.quantization_version (the keys every output starts with). */
int lc_conv_add_general(lc_conv_job *job, const char *name);

/* Decides each tensor's type, declares the tensors, then writes the file. */
int lc_conv_job_write(lc_conv_job *job, const char *dst, llamac_error *err);

/* Passes an informational line to the caller's note callback, if any. */
void lc_conv_note(const lc_conv_job *job, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The general.file_type (llama_ftype) of an output type, -1 if none. */
int lc_conv_file_type(int type);
/* True for the types `convert --type` and `quantize` accept. */
bool lc_conv_type_supported(int type);
/* "q4_K_M", "q4_K_S", else the ggml type name. */
const char *lc_conv_type_name(int type);
/* The type most weights of an output type get: Q4_K for the mixes, else
 * the type itself. */
int lc_conv_base_type(int out_type);

/* What the type policy knows about the model beyond the tensor at hand. */
typedef struct lc_conv_policy {
    int out_type;    /* the requested output type */
    int n_layers;    /* highest blk.N index + 1 (0: no layers) */
    bool llama_70b;  /* 80 layers with fewer KV heads than query heads:
                        llama.cpp's 70B class, where Q4_K attn_v is Q5_K */
} lc_conv_policy;

/* llama.cpp's use_more_bits(i, n): the layers where Q4_K_M spends Q6_K on
 * attn_v and ffn_down (the first and last eighth and every third between). */
bool lc_conv_use_more_bits(int layer, int n_layers);
/* N of a "blk.N." tensor name, -1 for other names. */
int lc_conv_layer_of(const char *name);

/* The type policy: what a tensor becomes. is_lm_head marks the tensor the
 * logits are computed from (output.weight, or token_embd.weight when
 * embeddings are tied). When the row length does not fit the chosen block,
 * *fallback_from receives the type that was wanted (else -1). */
int lc_conv_pick_type(const lc_conv_policy *pol, const char *name, uint32_t n_dims,
                      const int64_t *ne, bool is_lm_head, int *fallback_from);

/* Name of the last path component without a trailing ".ext" and slashes:
 * "/x/Llama-3.1-8B/" -> "Llama-3.1-8B", "a/stories260K.bin" -> "stories260K".
 * Writes at most size bytes including the NUL. */
void lc_conv_base_name(const char *path, bool strip_ext, char *out, size_t size);

/* Importers, each filling and writing a job. */
int lc_convert_hf(const char *dir, const char *dst, const llamac_convert_params *p,
                  llamac_error *err);
int lc_convert_llama2c(const char *bin, const char *dst, const llamac_convert_params *p,
                       llamac_error *err);
int lc_quantize_gguf(const char *src, const char *dst, int type, bool allow_requantize,
                     const llamac_convert_params *p, llamac_error *err);

#endif
