/* Model loading: read the llama hyperparameters from GGUF metadata, check
 * them against every tensor before any arithmetic depends on them, and set
 * up weight views into the mapping. Key names, types and defaults:
 * docs/formats.md "Llama metadata keys". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "format/gguf.h"
#include "kernels/attention.h"
#include "kernels/dispatch.h"
#include "model/context.h"
#include "model/limits.h"
#include "quant/repack.h"
#include "quant/types.h"
#include "runtime/err.h"
#include "tokenizer/vocab.h"


llamac_model_params llamac_model_default_params(void) {
    llamac_model_params p = {0};
    p.use_mmap = false;
    return p;
}

const struct lc_vocab *lc_model_vocab(const llamac_model *model) { return model->vocab; }
const struct lc_gguf_file *lc_model_gguf(const llamac_model *model) { return model->gguf; }

/* Reads a required or optional u32 key into an int32 with a range check.
 * Returns 1 read, 0 absent (out untouched), -1 error. */
static int read_dim(const lc_gguf_file *f, const char *key, bool required, int64_t lo, int64_t hi,
                    int32_t *out, llamac_error *err) {
    uint32_t v;
    int rc = lc_gguf_get_u32(f, key, &v, err);
    if (rc < 0) return -1;
    if (rc == 0) {
        if (required) return lc_fail(err, "%s: required key '%s' is missing", f->path, key);
        return 0;
    }
    if ((int64_t)v < lo || (int64_t)v > hi)
        return lc_fail(err, "%s: key '%s' = %u is out of range [%lld, %lld]", f->path, key, v,
                       (long long)lo, (long long)hi);
    *out = (int32_t)v;
    return 1;
}

/* feed_forward_length may be a u32 or a per-layer INT32 array; llamac
 * supports uniform layers only. */
static int read_n_ff(const lc_gguf_file *f, int32_t *out, llamac_error *err) {
    const char *key = "llama.feed_forward_length";
    const lc_gguf_kv *kv = lc_gguf_find(f, key);
    if (kv && kv->type == GGUF_VT_ARRAY) {
        if (kv->elem_type != GGUF_VT_INT32 || kv->n == 0)
            return lc_fail(err, "%s: key '%s' must be a u32 or a non-empty int32 array", f->path, key);
        int32_t first = lc_gguf_arr_i32(kv, 0);
        for (uint64_t i = 1; i < kv->n; i++)
            if (lc_gguf_arr_i32(kv, i) != first)
                return lc_fail(err, "%s: key '%s': layers with different FFN sizes are not supported",
                               f->path, key);
        if (first < 1 || first > LC_MAX_FF)
            return lc_fail(err, "%s: key '%s' = %d is out of range", f->path, key, first);
        *out = first;
        return 0;
    }
    return read_dim(f, key, true, 1, LC_MAX_FF, out, err) < 0 ? -1 : 0;
}

static int read_hparams(const lc_gguf_file *f, lc_hparams *hp, llamac_error *err) {
    lc_gguf_str arch;
    int rc = lc_gguf_get_str(f, "general.architecture", &arch, err);
    if (rc < 0) return -1;
    if (rc == 0) return lc_fail(err, "%s: key 'general.architecture' is missing", f->path);
    if (arch.len != 5 || memcmp(arch.ptr, "llama", 5) != 0)
        return lc_fail(err, "%s: unsupported architecture '%.*s' (llamac runs 'llama')", f->path,
                       (int)(arch.len > 64 ? 64 : arch.len), arch.ptr);

    memset(hp, 0, sizeof *hp);
    if (read_dim(f, "llama.context_length", true, 1, INT32_MAX, &hp->n_ctx_train, err) < 0) return -1;
    if (read_dim(f, "llama.embedding_length", true, 1, LC_MAX_EMBD, &hp->n_embd, err) < 0) return -1;
    if (read_dim(f, "llama.block_count", true, 1, LC_MAX_LAYERS, &hp->n_layer, err) < 0) return -1;
    if (read_n_ff(f, &hp->n_ff, err) < 0) return -1;
    if (read_dim(f, "llama.attention.head_count", true, 1, LC_MAX_HEADS, &hp->n_head, err) < 0) return -1;
    hp->n_head_kv = hp->n_head;
    if (read_dim(f, "llama.attention.head_count_kv", false, 1, LC_MAX_HEADS, &hp->n_head_kv, err) < 0)
        return -1;
    if (hp->n_head % hp->n_head_kv != 0)
        return lc_fail(err, "%s: head_count %d is not a multiple of head_count_kv %d", f->path,
                       hp->n_head, hp->n_head_kv);
    if (hp->n_embd % hp->n_head != 0 && !lc_gguf_find(f, "llama.attention.key_length"))
        return lc_fail(err, "%s: embedding_length %d is not a multiple of head_count %d", f->path,
                       hp->n_embd, hp->n_head);
    hp->head_dim = hp->n_embd / hp->n_head;
    if (read_dim(f, "llama.attention.key_length", false, 2, LC_MAX_HEAD_DIM, &hp->head_dim, err) < 0)
        return -1;
    int32_t v_len = hp->head_dim, n_rot = hp->head_dim;
    if (read_dim(f, "llama.attention.value_length", false, 2, LC_MAX_HEAD_DIM, &v_len, err) < 0) return -1;
    if (read_dim(f, "llama.rope.dimension_count", false, 2, LC_MAX_HEAD_DIM, &n_rot, err) < 0) return -1;
    if (v_len != hp->head_dim || n_rot != hp->head_dim)
        return lc_fail(err, "%s: key_length %d, value_length %d and rope.dimension_count %d must be equal",
                       f->path, hp->head_dim, v_len, n_rot);
    if (hp->head_dim > LC_MAX_HEAD_DIM)
        return lc_fail(err, "%s: head dimension %d is larger than %d", f->path, hp->head_dim, LC_MAX_HEAD_DIM);
    if (hp->head_dim % 2 != 0)
        return lc_fail(err, "%s: head dimension %d must be even for RoPE", f->path, hp->head_dim);

    rc = lc_gguf_get_f32(f, "llama.attention.layer_norm_rms_epsilon", &hp->rms_eps, err);
    if (rc < 0) return -1;
    if (rc == 0)
        return lc_fail(err, "%s: required key 'llama.attention.layer_norm_rms_epsilon' is missing", f->path);
    if (!(hp->rms_eps > 0.0f && hp->rms_eps < 1.0f))
        return lc_fail(err, "%s: layer_norm_rms_epsilon %g is out of range", f->path, (double)hp->rms_eps);
    hp->rope_theta = 10000.0f;
    if (lc_gguf_get_f32(f, "llama.rope.freq_base", &hp->rope_theta, err) < 0) return -1;
    if (!(hp->rope_theta > 1.0f && hp->rope_theta < 1e12f))
        return lc_fail(err, "%s: rope.freq_base %g is out of range", f->path, (double)hp->rope_theta);

    hp->rope_freq_scale = 1.0f;
    lc_gguf_str stype = {"linear", 6};
    if (lc_gguf_get_str(f, "llama.rope.scaling.type", &stype, err) < 0) return -1;
    float factor = 0.0f;
    if (lc_gguf_get_f32(f, "llama.rope.scaling.factor", &factor, err) < 0) return -1;
    if (factor == 0.0f && lc_gguf_get_f32(f, "llama.rope.scale_linear", &factor, err) < 0) return -1;
    bool is_none = stype.len == 4 && memcmp(stype.ptr, "none", 4) == 0;
    bool is_linear = stype.len == 6 && memcmp(stype.ptr, "linear", 6) == 0;
    if (!is_none && !is_linear)
        return lc_fail(err, "%s: rope scaling type '%.*s' is not supported (none, linear)", f->path,
                       (int)(stype.len > 32 ? 32 : stype.len), stype.ptr);
    if (is_linear && factor != 0.0f) {
        if (!(factor > 0.0f && factor < 1e6f))
            return lc_fail(err, "%s: rope.scaling.factor %g is out of range", f->path, (double)factor);
        hp->rope_freq_scale = 1.0f / factor;
    }
    uint32_t experts = 0;
    if (lc_gguf_get_u32(f, "llama.expert_count", &experts, err) < 0) return -1;
    if (experts > 0)
        return lc_fail(err, "%s: mixture-of-experts models (llama.expert_count = %u) are not supported",
                       f->path, experts);
    return 0;
}

/* What bind_tensor requires of a tensor. */
typedef enum bind_flags {
    BIND_ANY = 0,
    BIND_F32_ONLY = 1 << 0, /* a vector the forward pass reads as floats */
    BIND_NEED_DOT = 1 << 1, /* a matrix the forward pass multiplies with */
    BIND_OPTIONAL = 1 << 2, /* absent is fine: returns 0 instead of failing */
} bind_flags;

/* Looks a tensor up and checks its shape and that it can be used (see
 * bind_flags). Returns 1 when bound, 0 when optional and absent, -1 on error. */
static int bind_tensor(const lc_gguf_file *f, const char *name, int64_t ne0, int64_t ne1, unsigned flags,
                       lc_weight *w, llamac_error *err) {
    const bool f32_only = flags & BIND_F32_ONLY, need_dot = flags & BIND_NEED_DOT;
    const bool optional = flags & BIND_OPTIONAL;
    const lc_gguf_tensor *t = lc_gguf_find_tensor(f, name);
    memset(w, 0, sizeof *w);
    if (!t) {
        if (optional) return 0;
        return lc_fail(err, "%s: tensor '%s' is missing", f->path, name);
    }
    bool shape_ok = t->ne[0] == ne0 && t->ne[1] == ne1 && t->ne[2] == 1 && t->ne[3] == 1;
    if (!shape_ok)
        return lc_fail(err, "%s: tensor '%s' has shape [%lld, %lld, %lld, %lld], expected [%lld, %lld]",
                       f->path, name, (long long)t->ne[0], (long long)t->ne[1], (long long)t->ne[2],
                       (long long)t->ne[3], (long long)ne0, (long long)ne1);
    const lc_type_traits *tt = lc_type_traits_get((int)t->type);
    if (f32_only && t->type != LC_TYPE_F32)
        return lc_fail(err, "%s: tensor '%s' has type %s, expected f32", f->path, name, lc_type_name((int)t->type));
    if (!tt || !tt->to_float || (need_dot && !tt->vec_dot))
        return lc_fail(err, "%s: tensor '%s' has type %s, which llamac cannot compute with", f->path, name,
                       lc_type_name((int)t->type));
    w->data = t->data;
    w->type = (int)t->type;
    w->ne0 = ne0;
    w->ne1 = ne1;
    w->row_size = lc_row_size(w->type, ne0);
    return 1;
}

static int bind_vector(const lc_gguf_file *f, const char *name, int64_t n, const float **out,
                       llamac_error *err) {
    lc_weight w;
    if (bind_tensor(f, name, n, 1, BIND_F32_ONLY, &w, err) < 0) return -1;
    *out = w.data;
    return 0;
}

static int bind_layer(const lc_gguf_file *f, const lc_hparams *hp, int il, lc_layer *L, llamac_error *err) {
    const int64_t E = hp->n_embd, D = hp->head_dim, F = hp->n_ff;
    const int64_t q_dim = (int64_t)hp->n_head * D, kv_dim = (int64_t)hp->n_head_kv * D;
    char name[GGUF_MAX_NAME];
#define LAYER_NAME(suffix) (snprintf(name, sizeof name, "blk.%d." suffix, il), name)
    if (bind_vector(f, LAYER_NAME("attn_norm.weight"), E, &L->attn_norm, err) < 0) return -1;
    if (bind_vector(f, LAYER_NAME("ffn_norm.weight"), E, &L->ffn_norm, err) < 0) return -1;
    struct { const char *suffix; lc_weight *w; int64_t ne0, ne1; } mats[] = {
        {"attn_q.weight", &L->wq, E, q_dim},       {"attn_k.weight", &L->wk, E, kv_dim},
        {"attn_v.weight", &L->wv, E, kv_dim},      {"attn_output.weight", &L->wo, q_dim, E},
        {"ffn_gate.weight", &L->w_gate, E, F},     {"ffn_up.weight", &L->w_up, E, F},
        {"ffn_down.weight", &L->w_down, F, E},
    };
    for (size_t i = 0; i < sizeof mats / sizeof mats[0]; i++) {
        snprintf(name, sizeof name, "blk.%d.%s", il, mats[i].suffix);
        if (bind_tensor(f, name, mats[i].ne0, mats[i].ne1, BIND_NEED_DOT, mats[i].w, err) < 0) return -1;
    }
    static const char *const biases[] = {"attn_q.bias", "attn_k.bias", "attn_v.bias", "attn_output.bias",
                                         "ffn_gate.bias", "ffn_up.bias", "ffn_down.bias"};
    for (size_t i = 0; i < sizeof biases / sizeof biases[0]; i++) {
        snprintf(name, sizeof name, "blk.%d.%s", il, biases[i]);
        if (lc_gguf_find_tensor(f, name))
            return lc_fail(err, "%s: tensor '%s': bias tensors are not supported", f->path, name);
    }
#undef LAYER_NAME
    return 0;
}

static const char *describe_file_type(const llamac_model *m) {
    /* The type of the bulk of the weights (the FFN matrices) names the file. */
    return lc_type_name(m->layers[0].w_gate.type);
}

static int bind_weights(llamac_model *m, llamac_error *err) {
    const lc_gguf_file *f = m->gguf;
    const lc_hparams *hp = &m->hp;
    if (bind_tensor(f, "token_embd.weight", hp->n_embd, hp->n_vocab, BIND_ANY, &m->tok_embd, err) < 0)
        return -1;
    if (bind_vector(f, "output_norm.weight", hp->n_embd, &m->output_norm, err) < 0) return -1;
    int rc = bind_tensor(f, "output.weight", hp->n_embd, hp->n_vocab, BIND_NEED_DOT | BIND_OPTIONAL, &m->output, err);
    if (rc < 0) return -1;
    if (rc == 0) {
        /* tied embeddings: the LM head is the embedding matrix */
        if (!lc_type_traits_get(m->tok_embd.type)->vec_dot)
            return lc_fail(err, "%s: tied 'token_embd.weight' has type %s, which cannot be the output matrix",
                           f->path, lc_type_name(m->tok_embd.type));
        m->output = m->tok_embd;
    }
    lc_weight rf;
    rc = bind_tensor(f, "rope_freqs.weight", hp->head_dim / 2, 1, BIND_F32_ONLY | BIND_OPTIONAL, &rf, err);
    if (rc < 0) return -1;
    m->rope_freqs = rc ? rf.data : NULL;
    if (m->rope_freqs)
        for (int i = 0; i < hp->head_dim / 2; i++)
            if (!(m->rope_freqs[i] > 0.0f && m->rope_freqs[i] < 1e9f))
                return lc_fail(err, "%s: tensor 'rope_freqs.weight' element %d = %g is not a valid divisor",
                               f->path, i, (double)m->rope_freqs[i]);

    m->layers = calloc((size_t)hp->n_layer, sizeof *m->layers);
    if (!m->layers) return lc_fail(err, "out of memory");
    for (int il = 0; il < hp->n_layer; il++)
        if (bind_layer(f, hp, il, &m->layers[il], err) < 0) return -1;

    for (uint64_t i = 0; i < f->n_tensors; i++) {
        const lc_gguf_tensor *t = &f->tensors[i];
        m->weight_bytes += t->nbytes;
        m->n_params += (uint64_t)(t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3]);
    }
    m->file_type = describe_file_type(m);
    return 0;
}

/* Touches every page of the weights so the first token does not pay for
 * the disk reads, reporting progress as it goes. */
static void prefault_weights(const llamac_model *m, const llamac_model_params *p) {
    const lc_gguf_file *f = m->gguf;
    if (!p->progress || f->size <= f->data_offset) return;
    const uint8_t *base = f->base + f->data_offset;
    size_t total = f->size - f->data_offset, chunk = (size_t)64 << 20;
    volatile uint8_t sink = 0;
    for (size_t off = 0; off < total; off += chunk) {
        size_t n = total - off < chunk ? total - off : chunk;
        madvise((void *)((uintptr_t)(base + off) & ~(uintptr_t)4095), n, MADV_WILLNEED);
        for (size_t i = 0; i < n; i += 4096) sink ^= base[off + i];
        p->progress((double)(off + n) / (double)total, p->progress_user);
    }
    (void)sink;
}

/* Reads the whole file into anonymous memory backed by transparent huge
 * pages. Decode streams every weight once per token, and with the 4 KiB
 * pages of a file mapping the TLB misses cost a good part of the memory
 * bandwidth; the copy costs one read of the file at load time. */
static int read_into_huge_pages(const char *path, llamac_model *m, const llamac_model_params *p,
                                size_t *file_size, llamac_error *err) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return lc_fail(err, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size <= 0) {
        close(fd);
        return lc_fail(err, "%s: not a regular, non-empty file", path);
    }
    const size_t huge = (size_t)2 << 20, size = (size_t)st.st_size;
    const size_t mapped = (size + huge - 1) / huge * huge;
    void *buf = mmap(NULL, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (buf == MAP_FAILED) {
        close(fd);
        return lc_fail(err, "%s: cannot allocate %zu bytes to load the model (try --mmap)", path, size);
    }
    madvise(buf, mapped, MADV_HUGEPAGE);
    const size_t chunk = (size_t)64 << 20;
    for (size_t done = 0; done < size;) {
        size_t want = size - done < chunk ? size - done : chunk;
        ssize_t got = read(fd, (uint8_t *)buf + done, want);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) {
            int e = got < 0 ? errno : 0;
            close(fd);
            munmap(buf, mapped);
            return lc_fail(err, "%s: read failed at offset %zu: %s", path, done, e ? strerror(e) : "unexpected end of file");
        }
        done += (size_t)got;
        if (p->progress) p->progress((double)done / (double)size, p->progress_user);
    }
    close(fd);
    m->owned = buf;
    m->owned_size = mapped;
    *file_size = size;
    return 0;
}

/* Regroups, in place, the matrices the CPU's kernels read faster in the
 * x8 layout (quant/repack.h). The embedding table is only read by row, so
 * it is regrouped only when it is also the LM head (tied), and the lookup
 * then unpacks its row (lc_x8_row_to_float). Needs writable weights, i.e.
 * the file read into memory, not mapped. */
static void repack_one(llamac_model *m, lc_weight *w, lc_isa isa) {
    if (!lc_x8_supported(w->type, w->ne1, w->ne0) || !lc_isa_has_x8_kernel(isa, w->type)) return;
    /* out of memory for the 8-row scratch: the matrix keeps its layout */
    if (lc_x8_repack(w->type, (void *)w->data, w->ne1, w->ne0) != 0) return;
    w->x8 = true;
    m->repacked_bytes += (uint64_t)w->row_size * (uint64_t)w->ne1;
}

/* The LM head is a matrix-vector product in prefill and single-sequence
 * decode (only the last position's logits are needed), and a product of a
 * few rows when several sequences decode together, so it is regrouped only
 * where the x8 kernel is at least as fast as the plain one for one row. For
 * Q6_K that is AVX-512 (two threads, Zen 5, from DRAM, share of a plain
 * read of the same bytes: x8 95-114%, plain 84-88%; 8 rows: equal), not
 * AVX2 (bench/kernel_bench -T q6_K,q6_K_x8 -s 2048x128256 -d: 29.1 vs
 * 31.5 GB/s), whose plain kernel already reads 4 rows at a time. */
static bool x8_pays_for_lm_head(int type, lc_isa isa) {
    return type != LC_TYPE_Q6_K || isa == LC_ISA_AVX512 || isa == LC_ISA_AVX512_BF16;
}

/* F16 -> BF16 in place, element by element (round to nearest even; every
 * F16 value is in BF16's range, so only mantissa bits are lost). */
static void f16_matrix_to_bf16(lc_weight *w) {
    uint16_t *v = (uint16_t *)w->data; /* writable: the file was read into memory */
    const size_t n = (size_t)w->ne0 * (size_t)w->ne1;
    for (size_t i = 0; i < n; i++) v[i] = lc_f32_to_bf16(lc_f16_to_f32(v[i]));
    w->type = LC_TYPE_BF16;
}

/* llamac_model_params.f16_as_bf16: every F16 matrix becomes BF16. A tied
 * LM head shares the embedding's bytes, which are converted once. */
static void convert_f16_to_bf16(llamac_model *m) {
    for (int il = 0; il < m->hp.n_layer; il++) {
        lc_layer *L = &m->layers[il];
        lc_weight *mats[] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->w_gate, &L->w_up, &L->w_down};
        for (size_t i = 0; i < sizeof mats / sizeof mats[0]; i++)
            if (mats[i]->type == LC_TYPE_F16) f16_matrix_to_bf16(mats[i]);
    }
    const bool tied = m->output.data == m->tok_embd.data;
    if (m->tok_embd.type == LC_TYPE_F16) f16_matrix_to_bf16(&m->tok_embd);
    if (tied) m->output.type = m->tok_embd.type;
    else if (m->output.type == LC_TYPE_F16) f16_matrix_to_bf16(&m->output);
}

static void repack_weights(llamac_model *m) {
    const int64_t t0 = llamac_time_us();
    const lc_isa isa = m->isa;
    for (int il = 0; il < m->hp.n_layer; il++) {
        lc_layer *L = &m->layers[il];
        lc_weight *mats[] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->w_gate, &L->w_up, &L->w_down};
        for (size_t i = 0; i < sizeof mats / sizeof mats[0]; i++) repack_one(m, mats[i], isa);
    }
    if (x8_pays_for_lm_head(m->output.type, isa)) {
        if (m->output.data != m->tok_embd.data) {
            repack_one(m, &m->output, isa);
        } else { /* tied: the embedding lookup then unpacks its rows */
            repack_one(m, &m->tok_embd, isa);
            m->output = m->tok_embd;
        }
    }
    m->repack_us = llamac_time_us() - t0;
}

llamac_model *llamac_model_load(const char *path, const llamac_model_params *params, llamac_error *err) {
    llamac_model_params defaults = llamac_model_default_params();
    if (!params) params = &defaults;
    llamac_model *m = calloc(1, sizeof *m);
    if (!m) { lc_fail(err, "out of memory"); return NULL; }
    lc_isa isa = lc_isa_default();
    if (params->isa && lc_isa_parse(params->isa, &isa, err) < 0) goto fail;
    if (params->f16_as_bf16 && params->use_mmap) {
        lc_fail(err, "%s: converting F16 weights to BF16 needs the model read into memory, not mapped", path);
        goto fail;
    }
    m->isa = isa;
    if (params->use_mmap || params->vocab_only) {
        if (lc_gguf_open(path, &m->gguf, err) < 0) goto fail;
    } else {
        size_t size = 0;
        if (read_into_huge_pages(path, m, params, &size, err) < 0) goto fail;
        /* the header is validated against the bytes read, as for a mapping */
        if (lc_gguf_open_buffer(m->owned, size, path, &m->gguf, err) < 0) goto fail;
    }
    if (lc_vocab_load_gguf(m->gguf, &m->vocab, err) < 0) goto fail;
    lc_gguf_str name = {"", 0};
    if (lc_gguf_get_str(m->gguf, "general.name", &name, err) < 0) goto fail;
    m->name = strndup(name.ptr, name.len);
    if (!m->name) { lc_fail(err, "out of memory"); goto fail; }
    if (params->vocab_only) return m;

    if (read_hparams(m->gguf, &m->hp, err) < 0) goto fail;
    m->hp.n_vocab = lc_vocab_n_tokens(m->vocab);
    if (m->hp.n_vocab < 1 || m->hp.n_vocab > LC_MAX_VOCAB) {
        lc_fail(err, "%s: vocabulary of %d tokens is out of range", path, m->hp.n_vocab);
        goto fail;
    }
    if (bind_weights(m, err) < 0) goto fail;
    if (params->use_mmap) prefault_weights(m, params);
    if (params->f16_as_bf16 && !params->vocab_only) convert_f16_to_bf16(m);
    if (!params->use_mmap && !params->no_repack) repack_weights(m);
    return m;
fail:
    llamac_model_free(m);
    return NULL;
}

void llamac_model_free(llamac_model *m) {
    if (!m) return;
    free(m->layers);
    free(m->name);
    if (m->vocab) lc_vocab_free(m->vocab);
    if (m->gguf) lc_gguf_close(m->gguf);
    if (m->owned) munmap(m->owned, m->owned_size);
    free(m);
}

void llamac_model_describe(const llamac_model *m, llamac_model_desc *out) {
    memset(out, 0, sizeof *out);
    out->name = m->name;
    out->arch = "llama";
    out->n_vocab = m->hp.n_vocab;
    out->n_embd = m->hp.n_embd;
    out->n_layer = m->hp.n_layer;
    out->n_head = m->hp.n_head;
    out->n_head_kv = m->hp.n_head_kv;
    out->head_dim = m->hp.head_dim;
    out->n_ff = m->hp.n_ff;
    out->n_ctx_train = m->hp.n_ctx_train;
    out->rope_theta = m->hp.rope_theta;
    out->rms_eps = m->hp.rms_eps;
    out->n_params = m->n_params;
    out->weight_bytes = m->weight_bytes;
    out->file_type = m->file_type ? m->file_type : "";
    out->repacked_bytes = m->repacked_bytes;
    out->repack_us = m->repack_us;
}
