/* Hugging Face LlamaForCausalLM folders to GGUF: config.json to metadata,
 * safetensors names to GGUF names with every shape checked against the
 * config, HF's q/k rotary permutation undone, rope_freqs for llama3 RoPE
 * scaling, and the tokenizer (docs/formats.md "Converting Hugging Face checkpoints", "safetensors"). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "convert/convert.h"
#include "convert/hf_config.h"
#include "convert/safetensors.h"
#include "quant/types.h"
#include "runtime/err.h"
#include "tokenizer/vocab.h"
#include "tokenizer/tokenizer_data.h"

typedef struct hf_import {
    const char *dir;
    lc_hf_config cfg;
    lc_safetensors *st;
    bool *used;              /* per safetensors tensor: mapped to an output */
    lc_conv_job job;
    lc_tokenizer_data tok;
    bool has_vocab;
} hf_import;

static bool path_exists(const char *dir, const char *name) {
    char path[4096];
    struct stat sb;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return stat(path, &sb) == 0;
}

static bool is_dir(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

/* ------------------------------------------------------------ tokenizer */

static int load_vocab_from(hf_import *im, const char *src, llamac_error *err) {
    int32_t n = im->cfg.vocab_size;
    if (is_dir(src)) return lc_tokenizer_data_from_hf_dir(src, n, &im->tok, err);
    if (lc_tokenizer_data_from_spm_model(src, &im->tok, err)) return -1;
    if (im->tok.n_tokens < n) {
        lc_conv_note(&im->job, "vocabulary from %s: %d tokens, padded to vocab_size %d with [PAD<i>]",
                     src, (int)im->tok.n_tokens, (int)n);
        /* as the reference converter fills ids its tokenizer lacks */
        return lc_tokenizer_data_pad(&im->tok, n, -10000.0f, err);
    }
    return 0;
}

static int load_vocab(hf_import *im, const llamac_convert_params *p, llamac_error *err) {
    lc_tokenizer_data_init(&im->tok);
    if (p->no_vocab) {
        lc_conv_note(&im->job, "--no-vocab: no tokenizer written (tokenizer.ggml.model \"none\"); "
                               "the file cannot tokenize text");
        return 0;
    }
    int rc;
    if (p->vocab_from) {
        rc = load_vocab_from(im, p->vocab_from, err);
        if (rc == 0)
            lc_conv_note(&im->job, "vocabulary taken from %s", p->vocab_from);
    } else if (!path_exists(im->dir, "tokenizer.json") && !path_exists(im->dir, "tokenizer.model")) {
        return lc_fail(err, "%s: no tokenizer.json or tokenizer.model, so the vocabulary is missing%s; "
                            "pass --vocab-from DIR|tokenizer.model to take it from elsewhere, or "
                            "--no-vocab to write the weights without one",
                       im->dir, path_exists(im->dir, "tokenizer_config.json")
                                    ? " (tokenizer_config.json alone does not define one)" : "");
    } else {
        rc = lc_tokenizer_data_from_hf_dir(im->dir, im->cfg.vocab_size, &im->tok, err);
    }
    if (rc == 0) rc = lc_tokenizer_data_check(&im->tok, p->vocab_from ? p->vocab_from : im->dir, err);
    if (rc) return -1;
    im->has_vocab = true;
    if (im->tok.n_tokens != im->cfg.vocab_size)
        return lc_fail(err, "%s: the tokenizer has %d tokens but config.json vocab_size is %d",
                       p->vocab_from ? p->vocab_from : im->dir, (int)im->tok.n_tokens,
                       (int)im->cfg.vocab_size);
    return 0;
}

/* ------------------------------------------------------------- metadata */

static int add_metadata(hf_import *im, const char *name) {
    const lc_hf_config *c = &im->cfg;
    lc_gguf_writer *w = im->job.w;
    int rc = lc_conv_add_general(&im->job, name);
    rc |= lc_gguf_writer_add_u32(w, "llama.vocab_size", (uint32_t)c->vocab_size);
    rc |= lc_gguf_writer_add_u32(w, "llama.context_length", (uint32_t)c->max_position_embeddings);
    rc |= lc_gguf_writer_add_u32(w, "llama.embedding_length", (uint32_t)c->hidden_size);
    rc |= lc_gguf_writer_add_u32(w, "llama.block_count", (uint32_t)c->n_layer);
    rc |= lc_gguf_writer_add_u32(w, "llama.feed_forward_length", (uint32_t)c->intermediate_size);
    rc |= lc_gguf_writer_add_u32(w, "llama.attention.head_count", (uint32_t)c->n_head);
    rc |= lc_gguf_writer_add_u32(w, "llama.attention.head_count_kv", (uint32_t)c->n_head_kv);
    rc |= lc_gguf_writer_add_f32(w, "llama.attention.layer_norm_rms_epsilon", c->rms_norm_eps);
    if (c->head_dim_explicit) {
        rc |= lc_gguf_writer_add_u32(w, "llama.attention.key_length", (uint32_t)c->head_dim);
        rc |= lc_gguf_writer_add_u32(w, "llama.attention.value_length", (uint32_t)c->head_dim);
    }
    rc |= lc_gguf_writer_add_u32(w, "llama.rope.dimension_count", (uint32_t)c->head_dim);
    rc |= lc_gguf_writer_add_f32(w, "llama.rope.freq_base", c->rope_theta);
    if (c->rope_scaling == LC_ROPE_SCALING_LINEAR) {
        rc |= lc_gguf_writer_add_str(w, "llama.rope.scaling.type", "linear", 6);
        rc |= lc_gguf_writer_add_f32(w, "llama.rope.scaling.factor", c->rope_factor);
    }
    if (im->has_vocab) rc |= lc_tokenizer_data_write_gguf(&im->tok, w);
    else rc |= lc_gguf_writer_add_str(w, "tokenizer.ggml.model", "none", 4);
    return rc ? -1 : 0;
}

/* -------------------------------------------------------------- tensors */

/* One expected HF tensor: its GGUF name and PyTorch shape from the config. */
typedef struct hf_expect {
    const char *hf_suffix;   /* after "model.layers.N." or the full name */
    const char *gguf_suffix; /* after "blk.N." or the full name */
    int64_t rows, cols;      /* cols 0: 1-D of `rows` */
    int32_t unpermute_heads;
    bool optional;
} hf_expect;

static void format_shape(char *buf, size_t size, const lc_st_tensor *t) {
    size_t n = (size_t)snprintf(buf, size, "[");
    for (int d = 0; d < t->n_dims && n < size; d++)
        n += (size_t)snprintf(buf + n, size - n, "%s%" PRId64, d ? ", " : "", t->shape[d]);
    if (n < size) snprintf(buf + n, size - n, "]");
}

static int check_shape(const hf_import *im, const lc_st_tensor *t, const hf_expect *e,
                       llamac_error *err) {
    bool ok = e->cols ? (t->n_dims == 2 && t->shape[0] == e->rows && t->shape[1] == e->cols)
                      : (t->n_dims == 1 && t->shape[0] == e->rows);
    if (ok) return 0;
    char got[96], want[64];
    format_shape(got, sizeof got, t);
    if (e->cols) snprintf(want, sizeof want, "[%" PRId64 ", %" PRId64 "]", e->rows, e->cols);
    else snprintf(want, sizeof want, "[%" PRId64 "]", e->rows);
    return lc_fail(err, "%s: config/tensor shape mismatch: tensor '%s' has shape %s, config.json implies %s",
                   im->st->files[t->file_index].path, t->name, got, want);
}

/* A permuted 1-D tensor (a q/k bias) is reordered here, as F32. */
static int unpermute_vector(lc_conv_tensor *ct, const lc_st_tensor *t, int32_t heads,
                            llamac_error *err) {
    int64_t n = ct->ne[0], d = n / heads;
    float *src = malloc((size_t)n * sizeof *src);
    ct->generated = malloc((size_t)n * sizeof *ct->generated);
    if (!src || !ct->generated) {
        free(src);
        return lc_fail(err, "out of memory");
    }
    const lc_type_traits *tt = lc_type_traits_get(ct->src_type);
    uint8_t *copy = malloc(t->nbytes + 1); /* the mapping may not be aligned */
    if (!copy) {
        free(src);
        return lc_fail(err, "out of memory");
    }
    memcpy(copy, t->data, t->nbytes);
    tt->to_float(copy, src, n);
    free(copy);
    for (int64_t r = 0; r < n; r++) {
        int64_t h = r / d, i = r % d;
        ct->generated[r] = src[h * d + (i % 2) * (d / 2) + i / 2];
    }
    free(src);
    ct->src = NULL;
    ct->src_type = LC_TYPE_F32;
    return 0;
}

static int add_mapped(hf_import *im, const char *hf_name, const char *gguf_name,
                      const hf_expect *e, llamac_error *err) {
    const lc_st_tensor *t = lc_safetensors_find(im->st, hf_name);
    if (!t) {
        if (e->optional) return 0;
        return lc_fail(err, "%s: tensor '%s' is missing from the checkpoint", im->dir, hf_name);
    }
    im->used[t - im->st->tensors] = true;
    if (check_shape(im, t, e, err)) return -1;
    int type = lc_st_dtype_to_ggml(t->dtype);
    if (type < 0)
        return lc_fail(err, "%s: tensor '%s' has dtype %s; only F32, F16 and BF16 can be converted",
                       im->st->files[t->file_index].path, t->name, lc_st_dtype_name(t->dtype));
    lc_conv_tensor *ct = lc_conv_job_add(&im->job, err);
    if (!ct) return -1;
    snprintf(ct->name, sizeof ct->name, "%s", gguf_name);
    ct->n_dims = e->cols ? 2 : 1;
    ct->ne[0] = e->cols ? e->cols : e->rows; /* ggml order is the reverse */
    ct->ne[1] = e->cols ? e->rows : 1;
    ct->src_type = type;
    ct->src = t->data;
    ct->src_fd = im->st->files[t->file_index].fd;
    ct->src_file_offset = t->file_offset;
    if (e->unpermute_heads > 0 && !e->cols) return unpermute_vector(ct, t, e->unpermute_heads, err);
    ct->unpermute_heads = e->unpermute_heads;
    return 0;
}

static int add_layer(hf_import *im, int32_t l, llamac_error *err) {
    const lc_hf_config *c = &im->cfg;
    const int64_t E = c->hidden_size, F = c->intermediate_size, D = c->head_dim;
    const int64_t q = c->n_head * D, kv = c->n_head_kv * D;
    /* biases are required when the config says the model has them */
    const bool ab = !c->attention_bias, mb = !c->mlp_bias;
    const hf_expect table[] = {
        {"input_layernorm.weight", "attn_norm.weight", E, 0, 0, false},
        {"self_attn.q_proj.weight", "attn_q.weight", q, E, c->n_head, false},
        {"self_attn.k_proj.weight", "attn_k.weight", kv, E, c->n_head_kv, false},
        {"self_attn.v_proj.weight", "attn_v.weight", kv, E, 0, false},
        {"self_attn.o_proj.weight", "attn_output.weight", E, q, 0, false},
        {"self_attn.q_proj.bias", "attn_q.bias", q, 0, c->n_head, ab},
        {"self_attn.k_proj.bias", "attn_k.bias", kv, 0, c->n_head_kv, ab},
        {"self_attn.v_proj.bias", "attn_v.bias", kv, 0, 0, ab},
        {"self_attn.o_proj.bias", "attn_output.bias", E, 0, 0, ab},
        {"post_attention_layernorm.weight", "ffn_norm.weight", E, 0, 0, false},
        {"mlp.gate_proj.weight", "ffn_gate.weight", F, E, 0, false},
        {"mlp.up_proj.weight", "ffn_up.weight", F, E, 0, false},
        {"mlp.down_proj.weight", "ffn_down.weight", E, F, 0, false},
        {"mlp.gate_proj.bias", "ffn_gate.bias", F, 0, 0, mb},
        {"mlp.up_proj.bias", "ffn_up.bias", F, 0, 0, mb},
        {"mlp.down_proj.bias", "ffn_down.bias", E, 0, 0, mb},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        char hf[160], gg[GGUF_MAX_NAME];
        snprintf(hf, sizeof hf, "model.layers.%d.%s", (int)l, table[i].hf_suffix);
        snprintf(gg, sizeof gg, "blk.%d.%s", (int)l, table[i].gguf_suffix);
        if (add_mapped(im, hf, gg, &table[i], err)) return -1;
    }
    return 0;
}

static int add_rope_freqs(hf_import *im, llamac_error *err) {
    lc_conv_tensor *ct = lc_conv_job_add(&im->job, err);
    if (!ct) return -1;
    const int64_t n = im->cfg.head_dim / 2;
    snprintf(ct->name, sizeof ct->name, "rope_freqs.weight");
    ct->n_dims = 1;
    ct->ne[0] = n;
    ct->src_type = LC_TYPE_F32;
    ct->generated = malloc((size_t)n * sizeof(float));
    if (!ct->generated) return lc_fail(err, "out of memory");
    lc_rope_llama3_factors(&im->cfg, ct->generated);
    lc_conv_note(&im->job, "llama3 rope scaling (factor %g, low %g, high %g, original context %d): "
                           "wrote rope_freqs.weight",
                 (double)im->cfg.rope_factor, (double)im->cfg.rope_low_freq_factor,
                 (double)im->cfg.rope_high_freq_factor, (int)im->cfg.rope_original_context);
    return 0;
}

/* Tensors the reference converter drops (recomputed at run time). */
static bool is_ignored(const char *name) {
    size_t n = strlen(name);
    const char *suffix = ".rotary_emb.inv_freq";
    size_t m = strlen(suffix);
    return n >= m && strcmp(name + n - m, suffix) == 0;
}

static int check_all_used(const hf_import *im, llamac_error *err) {
    for (size_t i = 0; i < im->st->n_tensors; i++) {
        const lc_st_tensor *t = &im->st->tensors[i];
        if (!im->used[i] && !is_ignored(t->name))
            return lc_fail(err, "%s: unexpected tensor '%s' (not part of a %d-layer LlamaForCausalLM)",
                           im->st->files[t->file_index].path, t->name, (int)im->cfg.n_layer);
    }
    return 0;
}

static int add_tensors(hf_import *im, llamac_error *err) {
    const lc_hf_config *c = &im->cfg;
    const int64_t V = c->vocab_size, E = c->hidden_size;
    const hf_expect embd = {NULL, NULL, V, E, 0, false};
    const hf_expect norm = {NULL, NULL, E, 0, 0, false};
    const hf_expect head = {NULL, NULL, V, E, 0, c->tie_word_embeddings};
    im->used = calloc(im->st->n_tensors + 1, sizeof *im->used);
    if (!im->used) return lc_fail(err, "out of memory");
    if (add_mapped(im, "model.embed_tokens.weight", "token_embd.weight", &embd, err)) return -1;
    if (c->rope_scaling == LC_ROPE_SCALING_LLAMA3 && add_rope_freqs(im, err)) return -1;
    for (int32_t l = 0; l < c->n_layer; l++)
        if (add_layer(im, l, err)) return -1;
    if (add_mapped(im, "model.norm.weight", "output_norm.weight", &norm, err)) return -1;
    if (!lc_safetensors_find(im->st, "lm_head.weight") && !c->tie_word_embeddings)
        return lc_fail(err, "%s: tensor 'lm_head.weight' is missing and config.json does not set "
                            "tie_word_embeddings", im->dir);
    if (add_mapped(im, "lm_head.weight", "output.weight", &head, err)) return -1;
    if (!lc_safetensors_find(im->st, "lm_head.weight"))
        lc_conv_note(&im->job, "tied embeddings: no output.weight written (token_embd.weight is "
                               "used for the logits)");
    return check_all_used(im, err);
}

/* --------------------------------------------------------------- driver */

static int hf_run(hf_import *im, const char *dst, const llamac_convert_params *p,
                  llamac_error *err) {
    char cfg_path[4096];
    snprintf(cfg_path, sizeof cfg_path, "%s/config.json", im->dir);
    if (!path_exists(im->dir, "config.json"))
        return lc_fail(err, "%s: no config.json (not a Hugging Face model folder?)", im->dir);
    if (lc_hf_config_load(cfg_path, &im->cfg, err)) return -1;
    if (lc_conv_job_init(&im->job, p->type, p, err)) return -1;
    if (load_vocab(im, p, err)) return -1;
    char name[256];
    if (p->name) snprintf(name, sizeof name, "%s", p->name);
    else lc_conv_base_name(im->dir, false, name, sizeof name);
    if (add_metadata(im, name)) return lc_fail(err, "%s: cannot add metadata", dst);
    if (!p->vocab_only) {
        if (lc_safetensors_open_dir(im->dir, &im->st, err)) return -1;
        if (add_tensors(im, err)) return -1;
    }
    return lc_conv_job_write(&im->job, dst, err);
}

int lc_convert_hf(const char *dir, const char *dst, const llamac_convert_params *p,
                  llamac_error *err) {
    hf_import im;
    memset(&im, 0, sizeof im);
    im.dir = dir;
    lc_tokenizer_data_init(&im.tok);
    int rc = hf_run(&im, dst, p, err);
    lc_conv_job_free(&im.job);
    lc_tokenizer_data_free(&im.tok);
    free(im.used);
    lc_safetensors_close(im.st);
    return rc;
}
