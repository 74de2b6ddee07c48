/* llama2.c legacy checkpoints to GGUF. The weights are float32 in Meta's
 * (adjacent-pair RoPE) row order already, so they are copied as they are;
 * only the layout is translated (docs/formats.md "llama2.c checkpoints"). */
#include "convert/llama2c.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "convert/convert.h"
#include "quant/types.h"
#include "runtime/err.h"
#include "tokenizer/tokenizer_data.h"
#include "tokenizer/vocab.h"

#define L2C_HEADER_BYTES 28
#define L2C_V1_MAGIC 0x616b3432u /* "ak42": the v1/v2 exports, not read here */
#define L2C_RMS_EPS 1e-5f        /* fixed in llama2.c's run.c */
#define L2C_ROPE_THETA 10000.0f

static int32_t read_i32(const uint8_t *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}

void lc_llama2c_close(lc_llama2c_model *m) {
    if (!m) return;
    if (m->map) munmap((void *)m->map, m->size);
    if (m->fd >= 0) close(m->fd);
    free(m->path);
    free(m);
}

static int l2c_parse_header(const lc_llama2c_model *m, lc_llama2c_header *h, llamac_error *err) {
    static const char *const names[7] = {"dim", "hidden_dim", "n_layers", "n_heads",
                                         "n_kv_heads", "vocab_size", "seq_len"};
    int32_t v[7];
    for (int i = 0; i < 7; i++) v[i] = read_i32(m->map + 4 * i);
    if ((uint32_t)v[0] == L2C_V1_MAGIC)
        return lc_fail(err, "%s: llama2.c version %d export (magic \"ak42\"); only the legacy "
                            "format (export.py --version 0) is supported", m->path, (int)v[1]);
    for (int i = 0; i < 7; i++) {
        if (i == 5) continue; /* vocab_size carries the sharing flag in its sign */
        if (v[i] <= 0)
            return lc_fail(err, "%s: header field %s at offset %d is %d; it must be positive",
                           m->path, names[i], 4 * i, (int)v[i]);
    }
    if (v[5] == 0 || v[5] == INT32_MIN)
        return lc_fail(err, "%s: header field vocab_size at offset 20 is %d", m->path, (int)v[5]);
    *h = (lc_llama2c_header){v[0], v[1], v[2], v[3], v[4], v[5] < 0 ? -v[5] : v[5], v[6], v[5] > 0};
    if (h->dim % h->n_heads != 0)
        return lc_fail(err, "%s: dim %d is not a multiple of n_heads %d", m->path, (int)h->dim,
                       (int)h->n_heads);
    if (h->n_heads % h->n_kv_heads != 0)
        return lc_fail(err, "%s: n_heads %d is not a multiple of n_kv_heads %d", m->path,
                       (int)h->n_heads, (int)h->n_kv_heads);
    if ((h->dim / h->n_heads) % 2 != 0)
        return lc_fail(err, "%s: head size %d is odd", m->path, (int)(h->dim / h->n_heads));
    return 0;
}

/* *sum += a * b; false when either step would wrap past 2^64. */
static bool l2c_add_product(uint64_t *sum, uint64_t a, uint64_t b) {
    uint64_t p;
    return !__builtin_mul_overflow(a, b, &p) && !__builtin_add_overflow(*sum, p, sum);
}

/* Float count of the whole legacy file body, in the order of the table in
 * docs/formats.md "llama2.c checkpoints". Every product and sum is checked: the header fields are
 * below 2^31 each, but d^2 or h*d near 2^62 times small factors wrap, and
 * a wrapped count could match a small file whose tensors the converter
 * would then read past the mapping. Each offset l2c_add_tensors computes
 * is a partial sum of this count, so it cannot wrap once this one did not. */
static int l2c_expected_floats(const lc_llama2c_header *h, uint64_t *out) {
    uint64_t dim = (uint64_t)h->dim, hid = (uint64_t)h->hidden_dim, L = (uint64_t)h->n_layers;
    uint64_t kv_dim = dim * (uint64_t)h->n_kv_heads / (uint64_t)h->n_heads; /* < 2^62: no wrap */
    uint64_t vocab = (uint64_t)h->vocab_size, head = dim / (uint64_t)h->n_heads;
    uint64_t per_layer = 0, total = 0;
    bool ok = l2c_add_product(&per_layer, 2, dim) &&          /* attention and FFN norms */
              l2c_add_product(&per_layer, 2 * dim, dim) &&    /* wq, wo */
              l2c_add_product(&per_layer, 2 * kv_dim, dim) && /* wk, wv */
              l2c_add_product(&per_layer, 3 * hid, dim) &&    /* w1, w2, w3 */
              l2c_add_product(&total, per_layer, L) &&
              l2c_add_product(&total, vocab * (h->shared_classifier ? 1 : 2), dim) &&
              l2c_add_product(&total, 1, dim) &&              /* final norm */
              l2c_add_product(&total, (uint64_t)h->seq_len, head); /* freq_cis, head/2 twice */
    if (!ok) return -1;
    *out = total;
    return 0;
}

int lc_llama2c_open(const char *path, lc_llama2c_model **out, llamac_error *err) {
    *out = NULL;
    lc_llama2c_model *m = calloc(1, sizeof *m);
    if (!m) return lc_fail(err, "out of memory");
    m->fd = -1;
    m->path = strdup(path);
    int rc = m->path ? 0 : lc_fail(err, "out of memory");
    struct stat sb;
    if (rc == 0 && (m->fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        rc = lc_fail(err, "%s: cannot open: %s", path, strerror(errno));
    if (rc == 0 && fstat(m->fd, &sb) != 0) rc = lc_fail(err, "%s: cannot stat: %s", path, strerror(errno));
    if (rc == 0 && sb.st_size < L2C_HEADER_BYTES)
        rc = lc_fail(err, "%s: %lld bytes is too small for the 28-byte llama2.c header", path,
                     (long long)sb.st_size);
    if (rc == 0) {
        m->size = (size_t)sb.st_size;
        void *p = mmap(NULL, m->size, PROT_READ, MAP_PRIVATE, m->fd, 0);
        if (p == MAP_FAILED) rc = lc_fail(err, "%s: mmap failed: %s", path, strerror(errno));
        else m->map = p;
    }
    if (rc == 0) rc = l2c_parse_header(m, &m->hp, err);
    uint64_t floats = 0;
    if (rc == 0 && l2c_expected_floats(&m->hp, &floats) != 0)
        rc = lc_fail(err, "%s: the tensor sizes of the header (dim %d, hidden_dim %d, n_layers %d, "
                          "n_heads %d, n_kv_heads %d, vocab_size %d, seq_len %d) overflow 64 bits",
                     path, (int)m->hp.dim, (int)m->hp.hidden_dim, (int)m->hp.n_layers, (int)m->hp.n_heads,
                     (int)m->hp.n_kv_heads, (int)m->hp.vocab_size, (int)m->hp.seq_len);
    if (rc == 0 && (floats > (UINT64_MAX - L2C_HEADER_BYTES) / 4 ||
                    L2C_HEADER_BYTES + 4 * floats != (uint64_t)m->size)) {
        const lc_llama2c_header *h = &m->hp;
        rc = lc_fail(err, "%s: file is %zu bytes but its header (dim %d, hidden_dim %d, n_layers %d, "
                          "n_heads %d, n_kv_heads %d, vocab_size %d, seq_len %d, %s classifier) "
                          "implies %" PRIu64 " bytes",
                     path, m->size, (int)h->dim, (int)h->hidden_dim, (int)h->n_layers, (int)h->n_heads,
                     (int)h->n_kv_heads, (int)h->vocab_size, (int)h->seq_len,
                     h->shared_classifier ? "shared" : "separate", L2C_HEADER_BYTES + 4 * floats);
    }
    if (rc) {
        lc_llama2c_close(m);
        return -1;
    }
    madvise((void *)m->map, m->size, MADV_SEQUENTIAL);
    *out = m;
    return 0;
}

/* ------------------------------------------------------------ tokenizer */

typedef struct byte_reader {
    const uint8_t *p;
    size_t size, pos;
    const char *path;
} byte_reader;

static int take(byte_reader *r, void *dst, size_t n, const char *what, int32_t id,
                llamac_error *err) {
    if (n > r->size - r->pos)
        return lc_fail(err, "%s: %s of token %d at offset %zu runs past the end of the file (%zu bytes)",
                       r->path, what, (int)id, r->pos, r->size);
    memcpy(dst, r->p + r->pos, n);
    r->pos += n;
    return 0;
}

static bool is_byte_piece(const char *s, size_t n) {
    static const char hex[] = "0123456789ABCDEF";
    return n == 6 && memcmp(s, "<0x", 3) == 0 && strchr(hex, s[3]) && strchr(hex, s[4]) &&
           s[3] && s[4] && s[5] == '>';
}

/* Stores one tokenizer.bin entry as the SPM piece it came from. */
static int l2c_store_token(lc_tokenizer_data *d, int32_t id, const char *raw, size_t n,
                           llamac_error *err) {
    if (n == 5 && memcmp(raw, "\n<s>\n", 5) == 0) {
        d->token_types[id] = LC_TOKEN_CONTROL;
        return lc_tokenizer_data_set_token(d, id, "<s>", 3, err);
    }
    if (n == 6 && memcmp(raw, "\n</s>\n", 6) == 0) {
        d->token_types[id] = LC_TOKEN_CONTROL;
        return lc_tokenizer_data_set_token(d, id, "</s>", 4, err);
    }
    if (n == 5 && memcmp(raw, "<unk>", 5) == 0) d->token_types[id] = LC_TOKEN_UNKNOWN;
    else if (is_byte_piece(raw, n)) d->token_types[id] = LC_TOKEN_BYTE;
    /* run.c's export replaced U+2581 (3 bytes) with ' ' (1 byte) */
    char *text = malloc(3 * n + 1);
    if (!text) return lc_fail(err, "out of memory");
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        if (raw[i] == ' ') {
            memcpy(text + len, "\xe2\x96\x81", 3);
            len += 3;
        } else {
            text[len++] = raw[i];
        }
    }
    int rc = lc_tokenizer_data_set_token(d, id, text, len, err);
    free(text);
    return rc;
}

static int l2c_read_tokens(byte_reader *r, int32_t n_tokens, lc_tokenizer_data *d,
                           llamac_error *err) {
    uint32_t max_len = 0;
    if (take(r, &max_len, 4, "max_token_length", -1, err)) return -1;
    char *raw = malloc((size_t)max_len + 1);
    if (!raw) return lc_fail(err, "out of memory");
    int rc = lc_tokenizer_data_alloc_tokens(d, n_tokens, 1, err);
    for (int32_t i = 0; i < n_tokens && rc == 0; i++) {
        int32_t len = 0;
        rc = take(r, &d->scores[i], 4, "score", i, err);
        if (rc == 0) rc = take(r, &len, 4, "length", i, err);
        if (rc == 0 && (len < 0 || (uint32_t)len > max_len))
            rc = lc_fail(err, "%s: token %d has length %d at offset %zu (max_token_length %u)",
                         r->path, (int)i, (int)len, r->pos - 4, max_len);
        if (rc == 0) rc = take(r, raw, (size_t)len, "text", i, err);
        if (rc == 0) rc = l2c_store_token(d, i, raw, (size_t)len, err);
    }
    free(raw);
    if (rc == 0 && r->pos != r->size)
        rc = lc_fail(err, "%s: %zu bytes remain after %d tokens: the tokenizer has more tokens than "
                          "the model's vocab_size",
                     r->path, r->size - r->pos, (int)n_tokens);
    return rc;
}

int lc_llama2c_tokenizer_load(const char *path, int32_t n_tokens, lc_tokenizer_data *out,
                              llamac_error *err) {
    lc_tokenizer_data_init(out);
    FILE *fp = fopen(path, "rb");
    if (!fp) return lc_fail(err, "%s: cannot open: %s", path, strerror(errno));
    uint8_t *buf = NULL;
    long size = -1;
    if (fseek(fp, 0, SEEK_END) == 0 && (size = ftell(fp)) >= 0 && fseek(fp, 0, SEEK_SET) == 0) {
        buf = malloc((size_t)size + 1);
        if (buf && fread(buf, 1, (size_t)size, fp) != (size_t)size) {
            free(buf);
            buf = NULL;
        }
    }
    fclose(fp);
    if (!buf) return lc_fail(err, "%s: cannot read", path);
    byte_reader r = {buf, (size_t)size, 0, path};
    int rc = l2c_read_tokens(&r, n_tokens, out, err);
    free(buf);
    if (rc == 0) rc = lc_tokenizer_data_set_string(&out->model, "llama", 5, err);
    if (rc == 0) rc = lc_tokenizer_data_set_string(&out->pre, "default", 7, err);
    if (rc) {
        lc_tokenizer_data_free(out);
        return -1;
    }
    /* llama2.c's fixed ids (run.c: BOS 1, EOS 2) */
    out->unk_id = 0;
    out->bos_id = n_tokens > 1 ? 1 : -1;
    out->eos_id = n_tokens > 2 ? 2 : -1;
    return 0;
}

/* ------------------------------------------------------------ conversion */

static bool has_ext(const char *path, const char *ext) {
    size_t n = strlen(path), m = strlen(ext);
    return n > m && strcmp(path + n - m, ext) == 0;
}

/* tokenizer.model (SentencePiece protobuf) or llama2.c's tokenizer.bin,
 * chosen by extension, else by the first byte: a protobuf model starts with
 * field 1 (pieces), tag 0x0A; tokenizer.bin with a small u32. */
static int l2c_load_vocab(const char *path, int32_t n_vocab, lc_tokenizer_data *tok,
                          llamac_error *err) {
    bool spm = has_ext(path, ".model");
    if (!spm && !has_ext(path, ".bin")) {
        FILE *fp = fopen(path, "rb");
        if (!fp) return lc_fail(err, "%s: cannot open: %s", path, strerror(errno));
        spm = fgetc(fp) == 0x0A;
        fclose(fp);
    }
    if (!spm) return lc_llama2c_tokenizer_load(path, n_vocab, tok, err);
    lc_tokenizer_data_init(tok);
    if (lc_tokenizer_data_from_spm_model(path, tok, err)) return -1;
    if (tok->n_tokens != n_vocab) {
        lc_tokenizer_data_free(tok);
        return lc_fail(err, "%s: tokenizer has %d tokens but the model's vocab_size is %d", path,
                       (int)tok->n_tokens, (int)n_vocab);
    }
    return 0;
}

static int l2c_add_metadata(lc_conv_job *job, const lc_llama2c_model *m, const char *name) {
    const lc_llama2c_header *h = &m->hp;
    lc_gguf_writer *w = job->w;
    int rc = lc_conv_add_general(job, name);
    rc |= lc_gguf_writer_add_u32(w, "llama.vocab_size", (uint32_t)h->vocab_size);
    rc |= lc_gguf_writer_add_u32(w, "llama.context_length", (uint32_t)h->seq_len);
    rc |= lc_gguf_writer_add_u32(w, "llama.embedding_length", (uint32_t)h->dim);
    rc |= lc_gguf_writer_add_u32(w, "llama.block_count", (uint32_t)h->n_layers);
    rc |= lc_gguf_writer_add_u32(w, "llama.feed_forward_length", (uint32_t)h->hidden_dim);
    rc |= lc_gguf_writer_add_u32(w, "llama.attention.head_count", (uint32_t)h->n_heads);
    rc |= lc_gguf_writer_add_u32(w, "llama.attention.head_count_kv", (uint32_t)h->n_kv_heads);
    rc |= lc_gguf_writer_add_f32(w, "llama.attention.layer_norm_rms_epsilon", L2C_RMS_EPS);
    rc |= lc_gguf_writer_add_u32(w, "llama.rope.dimension_count", (uint32_t)(h->dim / h->n_heads));
    rc |= lc_gguf_writer_add_f32(w, "llama.rope.freq_base", L2C_ROPE_THETA);
    return rc ? -1 : 0;
}

static int l2c_add(lc_conv_job *job, const lc_llama2c_model *m, const char *name, uint64_t offset,
                   int64_t ne0, int64_t ne1, llamac_error *err) {
    lc_conv_tensor *t = lc_conv_job_add(job, err);
    if (!t) return -1;
    snprintf(t->name, sizeof t->name, "%s", name);
    t->n_dims = ne1 > 1 ? 2 : 1;
    t->ne[0] = ne0;
    t->ne[1] = ne1;
    t->src_type = LC_TYPE_F32;
    t->src = m->map + offset;
    t->src_fd = m->fd;
    t->src_file_offset = offset;
    return 0;
}

/* One per-layer weight of the legacy file: all layers are stored back to
 * back in one section, so layer l sits at base + l * ne0 * ne1 floats. */
typedef struct l2c_section {
    const char *suffix;
    int64_t ne0, ne1;
    uint64_t base;
} l2c_section;

/* The file is laid out by weight kind; the GGUF is written layer by layer
 * (what the forward pass reads together sits together). */
static int l2c_add_tensors(lc_conv_job *job, const lc_llama2c_model *m, llamac_error *err) {
    const lc_llama2c_header *h = &m->hp;
    const int64_t dim = h->dim, hid = h->hidden_dim, vocab = h->vocab_size;
    const int64_t kv_dim = dim * h->n_kv_heads / h->n_heads, head = dim / h->n_heads;
    l2c_section sec[] = {
        {"attn_norm.weight", dim, 1, 0},    {"attn_q.weight", dim, dim, 0},
        {"attn_k.weight", dim, kv_dim, 0},  {"attn_v.weight", dim, kv_dim, 0},
        {"attn_output.weight", dim, dim, 0}, {"ffn_norm.weight", dim, 1, 0},
        {"ffn_gate.weight", dim, hid, 0},   {"ffn_down.weight", hid, dim, 0},
        {"ffn_up.weight", dim, hid, 0},
    };
    const size_t n_sec = sizeof sec / sizeof sec[0];
    uint64_t offset = L2C_HEADER_BYTES + (uint64_t)(vocab * dim) * 4; /* after token_embd */
    for (size_t s = 0; s < n_sec; s++) {
        sec[s].base = offset;
        offset += (uint64_t)(sec[s].ne0 * sec[s].ne1) * 4 * (uint64_t)h->n_layers;
    }
    const uint64_t final_norm = offset;
    if (l2c_add(job, m, "token_embd.weight", L2C_HEADER_BYTES, dim, vocab, err)) return -1;
    for (int32_t l = 0; l < h->n_layers; l++) {
        for (size_t s = 0; s < n_sec; s++) {
            char name[GGUF_MAX_NAME];
            snprintf(name, sizeof name, "blk.%d.%s", (int)l, sec[s].suffix);
            uint64_t at = sec[s].base + (uint64_t)l * (uint64_t)(sec[s].ne0 * sec[s].ne1) * 4;
            if (l2c_add(job, m, name, at, sec[s].ne0, sec[s].ne1, err)) return -1;
        }
    }
    if (l2c_add(job, m, "output_norm.weight", final_norm, dim, 1, err)) return -1;
    if (h->shared_classifier) return 0;
    /* skip freq_cis_real and freq_cis_imag (seq_len x head/2 each), unused */
    uint64_t wcls = final_norm + (uint64_t)dim * 4 + (uint64_t)h->seq_len * (uint64_t)head * 4;
    return l2c_add(job, m, "output.weight", wcls, dim, vocab, err);
}

int lc_convert_llama2c(const char *bin, const char *dst, const llamac_convert_params *p,
                       llamac_error *err) {
    if (!p->tokenizer)
        return lc_fail(err, "%s: a llama2.c checkpoint has no vocabulary: pass its tokenizer "
                            "(tokenizer.model or tokenizer.bin)", bin);
    lc_llama2c_model *m = NULL;
    if (lc_llama2c_open(bin, &m, err)) return -1;
    lc_conv_job job;
    lc_tokenizer_data tok;
    lc_tokenizer_data_init(&tok);
    char name[256];
    if (p->name) snprintf(name, sizeof name, "%s", p->name);
    else lc_conv_base_name(bin, true, name, sizeof name);
    int rc = lc_conv_job_init(&job, p->type, p, err);
    if (rc == 0) rc = l2c_load_vocab(p->tokenizer, m->hp.vocab_size, &tok, err);
    if (rc == 0) rc = lc_tokenizer_data_check(&tok, p->tokenizer, err);
    if (rc == 0 && l2c_add_metadata(&job, m, name))
        rc = lc_fail(err, "%s: cannot add metadata", dst);
    if (rc == 0 && lc_tokenizer_data_write_gguf(&tok, job.w))
        rc = lc_fail(err, "%s: cannot add the tokenizer metadata", dst);
    if (rc == 0 && !p->vocab_only) rc = l2c_add_tensors(&job, m, err);
    if (rc == 0 && m->hp.shared_classifier)
        lc_conv_note(&job, "shared classifier: no output.weight written (llama.cpp and llamac "
                           "use token_embd.weight for the logits)");
    if (rc == 0) rc = lc_conv_job_write(&job, dst, err);
    lc_conv_job_free(&job);
    lc_tokenizer_data_free(&tok);
    lc_llama2c_close(m);
    return rc;
}
