#include "tokenizer/tokenizer_data.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/err.h"

void lc_tokenizer_data_init(lc_tokenizer_data *d) {
    memset(d, 0, sizeof *d);
    d->bos_id = d->eos_id = d->unk_id = d->pad_id = d->eot_id = d->eom_id = -1;
    d->add_bos = d->add_eos = d->add_space_prefix = -1;
}

static void free_tokens(lc_tokenizer_data *d) {
    if (d->tokens) {
        for (int32_t i = 0; i < d->n_tokens; i++) free(d->tokens[i]);
    }
    free(d->tokens);
    free(d->token_lens);
    free(d->scores);
    free(d->token_types);
    d->tokens = NULL;
    d->token_lens = NULL;
    d->scores = NULL;
    d->token_types = NULL;
    d->n_tokens = 0;
}

void lc_tokenizer_data_free(lc_tokenizer_data *d) {
    if (!d) return;
    free_tokens(d);
    for (int32_t i = 0; i < d->n_merges; i++) free(d->merges[i]);
    free(d->merges);
    free(d->model);
    free(d->pre);
    free(d->chat_template);
    free(d->eos_ids);
    lc_tokenizer_data_init(d);
}

int lc_tokenizer_data_alloc_tokens(lc_tokenizer_data *d, int32_t n, int with_scores,
                                   llamac_error *err) {
    free_tokens(d);
    if (n <= 0) return lc_fail(err, "tokenizer: vocabulary size %d is not positive", (int)n);
    size_t count = (size_t)n;
    d->tokens = calloc(count, sizeof *d->tokens);
    d->token_lens = calloc(count, sizeof *d->token_lens);
    d->token_types = malloc(count * sizeof *d->token_types);
    d->scores = with_scores ? calloc(count, sizeof *d->scores) : NULL;
    if (!d->tokens || !d->token_lens || !d->token_types || (with_scores && !d->scores)) {
        free(d->tokens);
        free(d->token_lens);
        free(d->token_types);
        free(d->scores);
        d->tokens = NULL;
        d->token_lens = NULL;
        d->token_types = NULL;
        d->scores = NULL;
        return lc_fail(err, "tokenizer: out of memory for %d tokens", (int)n);
    }
    d->n_tokens = n;
    for (size_t i = 0; i < count; i++) d->token_types[i] = LC_TOKEN_NORMAL;
    return 0;
}

static char *copy_bytes(const char *s, size_t len) {
    char *p = malloc(len + 1);
    if (!p) return NULL;
    if (len) memcpy(p, s, len);
    p[len] = 0;
    return p;
}

int lc_tokenizer_data_set_token(lc_tokenizer_data *d, int32_t i, const char *text, size_t len,
                                llamac_error *err) {
    if (i < 0 || i >= d->n_tokens)
        return lc_fail(err, "tokenizer: token id %d out of range [0, %d)", (int)i, (int)d->n_tokens);
    if (len > UINT32_MAX) return lc_fail(err, "tokenizer: token %d text too long", (int)i);
    char *p = copy_bytes(text, len);
    if (!p) return lc_fail(err, "tokenizer: out of memory for token %d", (int)i);
    free(d->tokens[i]);
    d->tokens[i] = p;
    d->token_lens[i] = (uint32_t)len;
    return 0;
}

int lc_tokenizer_data_add_merge(lc_tokenizer_data *d, const char *text, size_t len,
                                llamac_error *err) {
    if (d->n_merges == d->merges_cap) {
        if (d->merges_cap > INT32_MAX / 2) return lc_fail(err, "tokenizer: too many merges");
        int32_t cap = d->merges_cap ? d->merges_cap * 2 : 1024;
        char **m = realloc(d->merges, (size_t)cap * sizeof *m);
        if (!m) return lc_fail(err, "tokenizer: out of memory for %d merges", (int)cap);
        d->merges = m;
        d->merges_cap = cap;
    }
    char *p = copy_bytes(text, len);
    if (!p) return lc_fail(err, "tokenizer: out of memory for merge %d", (int)d->n_merges);
    d->merges[d->n_merges++] = p;
    return 0;
}

int lc_tokenizer_data_set_string(char **dst, const char *s, size_t len, llamac_error *err) {
    char *p = copy_bytes(s, len);
    if (!p) return lc_fail(err, "tokenizer: out of memory for a %zu-byte string", len);
    free(*dst);
    *dst = p;
    return 0;
}

int lc_tokenizer_data_add_eos_id(lc_tokenizer_data *d, int32_t id, llamac_error *err) {
    int32_t *p = realloc(d->eos_ids, ((size_t)d->n_eos_ids + 1) * sizeof *p);
    if (!p) return lc_fail(err, "tokenizer: out of memory for the eos list");
    d->eos_ids = p;
    d->eos_ids[d->n_eos_ids++] = id;
    return 0;
}

static int grow_array(void **p, size_t n, size_t elem) {
    void *q = realloc(*p, n * elem);
    if (!q) return -1;
    *p = q;
    return 0;
}

int lc_tokenizer_data_pad(lc_tokenizer_data *d, int32_t n, float score, llamac_error *err) {
    int32_t old = d->n_tokens;
    if (n <= old) return 0;
    size_t count = (size_t)n;
    bool had_types = d->token_types != NULL;
    if (grow_array((void **)&d->tokens, count, sizeof *d->tokens) < 0 ||
        grow_array((void **)&d->token_lens, count, sizeof *d->token_lens) < 0 ||
        grow_array((void **)&d->token_types, count, sizeof *d->token_types) < 0 ||
        (d->scores && grow_array((void **)&d->scores, count, sizeof *d->scores) < 0))
        return lc_fail(err, "tokenizer: out of memory padding to %d tokens", (int)n);
    for (int32_t i = 0; !had_types && i < old; i++) d->token_types[i] = LC_TOKEN_NORMAL;
    for (int32_t i = old; i < n; i++) {
        d->tokens[i] = NULL;
        d->token_lens[i] = 0;
    }
    d->n_tokens = n;
    for (int32_t i = old; i < n; i++) {
        char text[32];
        int len = snprintf(text, sizeof text, "[PAD%d]", (int)i);
        if (lc_tokenizer_data_set_token(d, i, text, (size_t)len, err) < 0) return -1;
        d->token_types[i] = LC_TOKEN_UNUSED;
        if (d->scores) d->scores[i] = score;
    }
    return 0;
}

int32_t lc_tokenizer_data_find(const lc_tokenizer_data *d, const char *text) {
    size_t len = strlen(text);
    for (int32_t i = 0; i < d->n_tokens; i++) {
        if (d->tokens[i] && d->token_lens[i] == len && memcmp(d->tokens[i], text, len) == 0)
            return i;
    }
    return -1;
}

/* ------------------------------------------------------------ GGUF reader */

static int read_gguf_string(const lc_gguf_file *f, const char *key, char **dst, llamac_error *err) {
    lc_gguf_str s;
    int r = lc_gguf_get_str(f, key, &s, err);
    if (r <= 0) return r;
    if (lc_tokenizer_data_set_string(dst, s.ptr, (size_t)s.len, err) < 0) return -1;
    return 1;
}

static int read_gguf_tokens(const lc_gguf_file *f, lc_tokenizer_data *d, llamac_error *err) {
    const lc_gguf_kv *kv;
    int r = lc_gguf_get_arr(f, "tokenizer.ggml.tokens", GGUF_VT_STRING, &kv, err);
    if (r < 0) return -1;
    if (r == 0) return lc_fail(err, "%s: tokenizer.ggml.tokens is missing", f->path);
    if (kv->n == 0 || kv->n > INT32_MAX)
        return lc_fail(err, "%s: tokenizer.ggml.tokens has %llu entries (need 1..%d)", f->path,
                       (unsigned long long)kv->n, INT32_MAX);
    lc_gguf_str *strs = malloc((size_t)kv->n * sizeof *strs);
    if (!strs) return lc_fail(err, "%s: out of memory for %llu tokens", f->path,
                              (unsigned long long)kv->n);
    lc_gguf_arr_strings(kv, strs);
    int rc = lc_tokenizer_data_alloc_tokens(d, (int32_t)kv->n, 0, err);
    for (int32_t i = 0; rc == 0 && i < d->n_tokens; i++)
        rc = lc_tokenizer_data_set_token(d, i, strs[i].ptr, (size_t)strs[i].len, err);
    free(strs);
    return rc;
}

/* An optional per-token array must have exactly one entry per token. */
static int check_per_token(const lc_gguf_file *f, const lc_gguf_kv *kv, const char *key,
                           const lc_tokenizer_data *d, llamac_error *err) {
    if (kv->n != (uint64_t)d->n_tokens)
        return lc_fail(err, "%s: %s has %llu entries but tokenizer.ggml.tokens has %d", f->path,
                       key, (unsigned long long)kv->n, (int)d->n_tokens);
    return 0;
}

static int read_gguf_scores(const lc_gguf_file *f, lc_tokenizer_data *d, llamac_error *err) {
    const char *key = "tokenizer.ggml.scores";
    const lc_gguf_kv *kv;
    int r = lc_gguf_get_arr(f, key, GGUF_VT_FLOAT32, &kv, err);
    if (r <= 0) return r;
    if (check_per_token(f, kv, key, d, err) < 0) return -1;
    d->scores = malloc((size_t)d->n_tokens * sizeof *d->scores);
    if (!d->scores) return lc_fail(err, "%s: out of memory for %s", f->path, key);
    for (int32_t i = 0; i < d->n_tokens; i++) d->scores[i] = lc_gguf_arr_f32(kv, (uint64_t)i);
    return 0;
}

/* llama.cpp reads the token types as raw 32-bit ints, so a u32 array works too. */
static int read_gguf_token_types(const lc_gguf_file *f, lc_tokenizer_data *d, llamac_error *err) {
    const char *key = "tokenizer.ggml.token_type";
    const lc_gguf_kv *kv;
    int r = lc_gguf_get_arr(f, key, -1, &kv, err);
    if (r <= 0) return r;
    if (kv->elem_type != GGUF_VT_INT32 && kv->elem_type != GGUF_VT_UINT32)
        return lc_fail(err, "%s: %s is an array of %s, expected i32", f->path, key,
                       lc_gguf_vtype_name(kv->elem_type));
    if (check_per_token(f, kv, key, d, err) < 0) return -1;
    for (int32_t i = 0; i < d->n_tokens; i++) d->token_types[i] = lc_gguf_arr_i32(kv, (uint64_t)i);
    return 0;
}

static int read_gguf_merges(const lc_gguf_file *f, lc_tokenizer_data *d, llamac_error *err) {
    const lc_gguf_kv *kv;
    int r = lc_gguf_get_arr(f, "tokenizer.ggml.merges", GGUF_VT_STRING, &kv, err);
    if (r <= 0) return r;
    if (kv->n > INT32_MAX)
        return lc_fail(err, "%s: tokenizer.ggml.merges has %llu entries", f->path,
                       (unsigned long long)kv->n);
    lc_gguf_str *strs = malloc(((size_t)kv->n + 1) * sizeof *strs);
    if (!strs) return lc_fail(err, "%s: out of memory for merges", f->path);
    lc_gguf_arr_strings(kv, strs);
    int rc = 0;
    for (uint64_t i = 0; rc == 0 && i < kv->n; i++)
        rc = lc_tokenizer_data_add_merge(d, strs[i].ptr, (size_t)strs[i].len, err);
    free(strs);
    return rc;
}

/* A special token id must name a token: llama.cpp ignores one outside the
 * vocabulary, but such a file is broken (its BOS or EOS would silently be
 * missing), so it is refused with the key and the value. The one exception
 * is 0xFFFFFFFF, -1 written as a u32, which converters use for "none"
 * (stories260K's padding id). dst may be NULL for ids llamac only checks. */
static int read_gguf_id(const lc_gguf_file *f, const char *key, int32_t n_tokens, int32_t *dst,
                        llamac_error *err) {
    uint32_t v;
    int r = lc_gguf_get_u32(f, key, &v, err);
    if (r < 0) return -1;
    if (r == 0 || v == UINT32_MAX) return 0;
    if (v >= (uint32_t)n_tokens)
        return lc_fail(err, "%s: %s = %" PRIu32 " is outside the vocabulary of %" PRId32 " tokens", f->path,
                       key, v, n_tokens);
    if (dst) *dst = (int32_t)v;
    return 0;
}

/* Special ids llamac does not use (infill, classifier tokens), checked all
 * the same: a file that names a token it does not have is corrupt. */
static int check_gguf_other_ids(const lc_gguf_file *f, int32_t n_tokens, llamac_error *err) {
    static const char *const keys[] = {
        "tokenizer.ggml.fim_pre_token_id", "tokenizer.ggml.fim_suf_token_id",
        "tokenizer.ggml.fim_mid_token_id", "tokenizer.ggml.fim_pad_token_id",
        "tokenizer.ggml.fim_rep_token_id", "tokenizer.ggml.fim_sep_token_id",
        "tokenizer.ggml.prefix_token_id",  "tokenizer.ggml.suffix_token_id",
        "tokenizer.ggml.middle_token_id",  "tokenizer.ggml.cls_token_id",
        "tokenizer.ggml.seperator_token_id", "tokenizer.ggml.mask_token_id",
    };
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (read_gguf_id(f, keys[i], n_tokens, NULL, err) < 0) return -1;
    return 0;
}

static int read_gguf_flag(const lc_gguf_file *f, const char *key, int8_t *dst, llamac_error *err) {
    bool v;
    int r = lc_gguf_get_bool(f, key, &v, err);
    if (r < 0) return -1;
    if (r == 1) *dst = v ? 1 : 0;
    return 0;
}

static int read_gguf_specials(const lc_gguf_file *f, lc_tokenizer_data *d, llamac_error *err) {
    static const struct {
        const char *key;
        size_t offset;
    } ids[] = {
        {"tokenizer.ggml.bos_token_id", offsetof(lc_tokenizer_data, bos_id)},
        {"tokenizer.ggml.eos_token_id", offsetof(lc_tokenizer_data, eos_id)},
        {"tokenizer.ggml.unknown_token_id", offsetof(lc_tokenizer_data, unk_id)},
        {"tokenizer.ggml.padding_token_id", offsetof(lc_tokenizer_data, pad_id)},
        {"tokenizer.ggml.eot_token_id", offsetof(lc_tokenizer_data, eot_id)},
        {"tokenizer.ggml.eom_token_id", offsetof(lc_tokenizer_data, eom_id)},
    };
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        int32_t *dst = (int32_t *)(void *)((char *)d + ids[i].offset);
        if (read_gguf_id(f, ids[i].key, d->n_tokens, dst, err) < 0) return -1;
    }
    if (check_gguf_other_ids(f, d->n_tokens, err) < 0) return -1;
    if (read_gguf_flag(f, "tokenizer.ggml.add_bos_token", &d->add_bos, err) < 0) return -1;
    if (read_gguf_flag(f, "tokenizer.ggml.add_eos_token", &d->add_eos, err) < 0) return -1;
    if (read_gguf_flag(f, "tokenizer.ggml.add_space_prefix", &d->add_space_prefix, err) < 0)
        return -1;
    return 0;
}

static int read_gguf_all(const lc_gguf_file *f, lc_tokenizer_data *d, llamac_error *err) {
    int r = read_gguf_string(f, "tokenizer.ggml.model", &d->model, err);
    if (r < 0) return -1;
    if (r == 0) return lc_fail(err, "%s: tokenizer.ggml.model is missing (no vocabulary)", f->path);
    if (read_gguf_string(f, "tokenizer.ggml.pre", &d->pre, err) < 0) return -1;
    if (read_gguf_tokens(f, d, err) < 0) return -1;
    if (read_gguf_scores(f, d, err) < 0) return -1;
    if (read_gguf_token_types(f, d, err) < 0) return -1;
    if (read_gguf_merges(f, d, err) < 0) return -1;
    if (read_gguf_specials(f, d, err) < 0) return -1;
    if (read_gguf_string(f, "tokenizer.chat_template", &d->chat_template, err) < 0) return -1;
    return 0;
}

int lc_tokenizer_data_from_gguf(const lc_gguf_file *f, lc_tokenizer_data *out, llamac_error *err) {
    lc_tokenizer_data_init(out);
    if (read_gguf_all(f, out, err) < 0) {
        lc_tokenizer_data_free(out);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------ GGUF writer */

static int write_string_array(lc_gguf_writer *w, const char *key, char *const *items,
                              const uint32_t *lens, int32_t n) {
    lc_gguf_str *strs = malloc(((size_t)n + 1) * sizeof *strs);
    if (!strs) return -1;
    for (int32_t i = 0; i < n; i++) {
        strs[i].ptr = items[i] ? items[i] : "";
        strs[i].len = !items[i] ? 0 : lens ? lens[i] : strlen(items[i]);
    }
    int rc = lc_gguf_writer_add_arr_str(w, key, strs, (uint64_t)n);
    free(strs);
    return rc;
}

static int write_id(lc_gguf_writer *w, const char *key, int32_t id) {
    return id < 0 ? 0 : lc_gguf_writer_add_u32(w, key, (uint32_t)id);
}

static int write_flag(lc_gguf_writer *w, const char *key, int8_t v) {
    return v < 0 ? 0 : lc_gguf_writer_add_bool(w, key, v != 0);
}

int lc_tokenizer_data_write_gguf(const lc_tokenizer_data *d, lc_gguf_writer *w) {
    if (!d->model || d->n_tokens <= 0) return -1;
    if (lc_gguf_writer_add_str(w, "tokenizer.ggml.model", d->model, strlen(d->model)) < 0) return -1;
    if (d->pre && lc_gguf_writer_add_str(w, "tokenizer.ggml.pre", d->pre, strlen(d->pre)) < 0)
        return -1;
    if (write_string_array(w, "tokenizer.ggml.tokens", d->tokens, d->token_lens, d->n_tokens) < 0)
        return -1;
    if (d->scores &&
        lc_gguf_writer_add_arr_f32(w, "tokenizer.ggml.scores", d->scores, (uint64_t)d->n_tokens) < 0)
        return -1;
    if (d->token_types && lc_gguf_writer_add_arr_i32(w, "tokenizer.ggml.token_type", d->token_types,
                                                  (uint64_t)d->n_tokens) < 0)
        return -1;
    if (d->n_merges > 0 &&
        write_string_array(w, "tokenizer.ggml.merges", d->merges, NULL, d->n_merges) < 0)
        return -1;
    if (write_id(w, "tokenizer.ggml.bos_token_id", d->bos_id) < 0 ||
        write_id(w, "tokenizer.ggml.eos_token_id", d->eos_id) < 0 ||
        write_id(w, "tokenizer.ggml.unknown_token_id", d->unk_id) < 0 ||
        write_id(w, "tokenizer.ggml.padding_token_id", d->pad_id) < 0 ||
        write_id(w, "tokenizer.ggml.eot_token_id", d->eot_id) < 0 ||
        write_id(w, "tokenizer.ggml.eom_token_id", d->eom_id) < 0)
        return -1;
    if (write_flag(w, "tokenizer.ggml.add_bos_token", d->add_bos) < 0 ||
        write_flag(w, "tokenizer.ggml.add_eos_token", d->add_eos) < 0 ||
        write_flag(w, "tokenizer.ggml.add_space_prefix", d->add_space_prefix) < 0)
        return -1;
    if (d->chat_template && lc_gguf_writer_add_str(w, "tokenizer.chat_template", d->chat_template,
                                                strlen(d->chat_template)) < 0)
        return -1;
    return 0;
}
