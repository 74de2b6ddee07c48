/* Building the runtime vocabulary from lc_tokenizer_data: validation,
 * llama.cpp's defaults and fix-ups (docs/formats.md "Tokenizer keys"), precomputed
 * pieces; plus the encode driver and the accessors. The text table and token
 * lists it builds on are in symbols.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "runtime/err.h"
#include "tokenizer/vocab_internal.h"

/* ------------------------------------------------------------- validation */

static int check_kind(lc_vocab *v, const lc_tokenizer_data *d, llamac_error *err) {
    if (!d->model) return lc_fail(err, "tokenizer.ggml.model: missing");
    if (strcmp(d->model, "llama") == 0) {
        v->kind = LC_VOCAB_SPM;
        return 0;
    }
    if (strcmp(d->model, "gpt2") == 0) {
        if (!lc_bpe_pre_supported(d->pre))
            return lc_fail(err,
                           "tokenizer.ggml.pre: pre-tokenizer '%s' is not supported for gpt2 "
                           "vocabularies (supported: llama-bpe, llama3, llama-v3, falcon3)",
                           d->pre ? d->pre : "(missing)");
        v->kind = LC_VOCAB_BPE;
        v->ignore_merges = true; /* what llama.cpp sets for the Llama 3 pre-tokenizer */
        return 0;
    }
    return lc_fail(err, "tokenizer.ggml.model: '%s' is not supported (only 'llama' and 'gpt2')",
                   d->model);
}

static int check_tokens(const lc_tokenizer_data *d, llamac_error *err) {
    if (d->n_tokens <= 0 || !d->tokens || !d->token_lens)
        return lc_fail(err, "tokenizer.ggml.tokens: empty vocabulary");
    for (int32_t i = 0; i < d->n_tokens; i++) {
        if (!d->tokens[i]) return lc_fail(err, "tokenizer.ggml.tokens: token %d has no text", (int)i);
        if (d->token_types && (d->token_types[i] < 0 || d->token_types[i] > LC_TOKEN_BYTE))
            return lc_fail(err, "tokenizer.ggml.token_type: token %d has type %d (valid: 0..6)",
                           (int)i, (int)d->token_types[i]);
        if (d->scores && !isfinite(d->scores[i]))
            return lc_fail(err, "tokenizer.ggml.scores: token %d has a non-finite score", (int)i);
    }
    return 0;
}

static int copy_tokens(lc_vocab *v, const lc_tokenizer_data *d, llamac_error *err) {
    size_t n = (size_t)d->n_tokens, total = 0;
    for (size_t i = 0; i < n; i++) total += (size_t)d->token_lens[i] + 1;
    v->n_tokens = v->n_symbols = v->cap_symbols = d->n_tokens;
    v->text = malloc(n * sizeof *v->text);
    v->text_len = malloc(n * sizeof *v->text_len);
    v->text_blob = malloc(total);
    v->scores = calloc(n, sizeof *v->scores);
    v->types = malloc(n);
    v->eog = calloc(n, 1);
    lc_text_table_seed(&v->lookup);
    uint32_t size = 16;
    while (size < 2 * n) size *= 2;
    if (!v->text || !v->text_len || !v->text_blob || !v->scores || !v->types || !v->eog ||
        lc_text_table_alloc(&v->lookup, size) < 0)
        return lc_fail(err, "tokenizer: out of memory for %zu tokens", n);
    char *p = v->text_blob;
    for (size_t i = 0; i < n; i++) {
        memcpy(p, d->tokens[i], d->token_lens[i]);
        p[d->token_lens[i]] = 0;
        v->text[i] = p;
        v->text_len[i] = d->token_lens[i];
        p += d->token_lens[i] + 1;
        v->types[i] = d->token_types ? (uint8_t)d->token_types[i] : LC_TOKEN_NORMAL;
        if (d->scores) v->scores[i] = d->scores[i];
        lc_vocab_table_put(v, (int32_t)i);
    }
    return 0;
}

/* An id from the data: -1 or in range; anything else is an error. */
static int check_id(const lc_vocab *v, const char *what, int32_t id, llamac_error *err) {
    if (id < -1 || id >= v->n_tokens)
        return lc_fail(err, "tokenizer.ggml.%s: token id %d out of range [0, %d)", what, (int)id,
                       (int)v->n_tokens);
    return 0;
}

/* llama.cpp's defaults when a key is absent: SPM bos 1, eos 2, unk 0,
 * add_bos, add_space_prefix; the Llama 3 pre-tokenizer adds BOS too. */
static int set_specials(lc_vocab *v, const lc_tokenizer_data *d, llamac_error *err) {
    if (check_id(v, "bos_token_id", d->bos_id, err) < 0 ||
        check_id(v, "eos_token_id", d->eos_id, err) < 0 ||
        check_id(v, "unknown_token_id", d->unk_id, err) < 0 ||
        check_id(v, "padding_token_id", d->pad_id, err) < 0 ||
        check_id(v, "eot_token_id", d->eot_id, err) < 0 ||
        check_id(v, "eom_token_id", d->eom_id, err) < 0)
        return -1;
    bool spm = v->kind == LC_VOCAB_SPM;
    v->bos = d->bos_id;
    v->eos = d->eos_id;
    v->unk = d->unk_id;
    v->pad = d->pad_id;
    v->eot = d->eot_id;
    v->eom = d->eom_id;
    if (spm) {
        if (v->bos < 0 && v->n_tokens > 1) v->bos = 1;
        if (v->eos < 0 && v->n_tokens > 2) v->eos = 2;
        if (v->unk < 0) v->unk = 0;
    }
    v->add_bos = d->add_bos >= 0 ? d->add_bos != 0 : true;
    v->add_eos = d->add_eos >= 0 ? d->add_eos != 0 : false;
    v->add_space_prefix = d->add_space_prefix >= 0 ? d->add_space_prefix != 0 : spm;
    return 0;
}

/* Texts llama.cpp treats as end of turn / end of generation (docs/formats.md "Tokenizer keys"). */
static const char *const EOT_TEXTS[] = {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>",
                                        "<|endoftext|>", "<EOT>", "_<EOT>"};
static const char *const EOG_TEXTS[] = {"<|eot_id|>", "<|im_end|>", "<|end|>",
                                        "<end_of_turn>", "<|endoftext|>", "<|eom_id|>",
                                        "<EOT>", "_<EOT>"};

static int32_t find_token(const lc_vocab *v, const char *text) {
    int32_t id = lc_vocab_lookup(v, text, strlen(text));
    return id < v->n_tokens ? id : -1;
}

static void mark_eog(lc_vocab *v, int32_t id) {
    if (id >= 0 && id < v->n_tokens) v->eog[id] = 1;
}

/* Finds EOT/EOM by text when the data has no id, and builds the
 * end-of-generation set; tokens found by text become control tokens, as in
 * llama.cpp, so that plain text never produces them. */
static int detect_end_tokens(lc_vocab *v, const lc_tokenizer_data *d, llamac_error *err) {
    for (size_t i = 0; v->eot < 0 && i < sizeof EOT_TEXTS / sizeof EOT_TEXTS[0]; i++) {
        v->eot = find_token(v, EOT_TEXTS[i]);
        if (v->eot >= 0) v->types[v->eot] = LC_TOKEN_CONTROL;
    }
    if (v->eom < 0) {
        v->eom = find_token(v, "<|eom_id|>");
        if (v->eom >= 0) v->types[v->eom] = LC_TOKEN_CONTROL;
    }
    for (size_t i = 0; i < sizeof EOG_TEXTS / sizeof EOG_TEXTS[0]; i++) {
        int32_t id = find_token(v, EOG_TEXTS[i]);
        if (id < 0) continue;
        mark_eog(v, id);
        v->types[id] = LC_TOKEN_CONTROL;
    }
    mark_eog(v, v->eos);
    mark_eog(v, v->eot);
    mark_eog(v, v->eom);
    for (int32_t i = 0; i < d->n_eos_ids; i++) {
        if (check_id(v, "eos_token_id list", d->eos_ids[i], err) < 0) return -1;
        mark_eog(v, d->eos_ids[i]);
    }
    return 0;
}

static int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

int lc_vocab_byte_token_value(const char *t, size_t len) {
    if (len != 6 || memcmp(t, "<0x", 3) != 0 || t[5] != '>') return -1;
    int hi = hex_digit(t[3]), lo = hex_digit(t[4]);
    return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

static int spm_byte_tokens(lc_vocab *v, llamac_error *err) {
    for (int32_t i = 0; i < v->n_tokens; i++) {
        if (v->types[i] == LC_TOKEN_BYTE && lc_vocab_byte_token_value(v->text[i], v->text_len[i]) < 0)
            return lc_fail(err, "tokenizer.ggml.tokens: token %d has type BYTE but its text is "
                                "not of the form <0xXX>", (int)i);
    }
    for (int b = 0; b < 256; b++) {
        char name[8];
        snprintf(name, sizeof name, "<0x%02X>", b);
        int32_t id = find_token(v, name);
        if (id < 0) {
            char c = (char)b; /* llama.cpp's fallback: the one-byte text */
            id = lc_vocab_lookup(v, &c, 1);
        }
        v->byte_token[b] = id < v->n_tokens ? id : -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- pieces */

/* SPM normal token: '▁' back to ' '. */
static size_t spm_unescape(const char *t, size_t len, char *out) {
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        if (len - i >= 3 && memcmp(t + i, "\xE2\x96\x81", 3) == 0) {
            out[o++] = ' ';
            i += 3;
        } else {
            out[o++] = t[i++];
        }
    }
    return o;
}

/* The bytes a token renders to without special rendering (never longer
 * than its text). */
static size_t render_piece(const lc_vocab *v, int32_t id, char *out) {
    const char *t = v->text[id];
    size_t len = v->text_len[id];
    switch (v->types[id]) {
    case LC_TOKEN_USER_DEFINED:
        memcpy(out, t, len);
        return len;
    case LC_TOKEN_NORMAL:
        if (v->kind == LC_VOCAB_SPM) return spm_unescape(t, len, out);
        return lc_bpe_decode_text(v, t, len, out);
    case LC_TOKEN_BYTE:
        if (v->kind != LC_VOCAB_SPM) return 0; /* llama.cpp renders nothing for these */
        out[0] = (char)lc_vocab_byte_token_value(t, len);
        return 1;
    default: /* control, unknown (raw only when asked), unused, undefined */
        return 0;
    }
}

static int build_pieces(lc_vocab *v, llamac_error *err) {
    size_t n = (size_t)v->n_tokens, total = 0;
    for (size_t i = 0; i < n; i++) total += v->text_len[i];
    v->piece_blob = malloc(total + 1);
    v->piece_off = malloc(n * sizeof *v->piece_off);
    v->piece_len = malloc(n * sizeof *v->piece_len);
    if (!v->piece_blob || !v->piece_off || !v->piece_len)
        return lc_fail(err, "tokenizer: out of memory for token pieces");
    if (total > UINT32_MAX) return lc_fail(err, "tokenizer: token texts exceed 4 GiB");
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len = render_piece(v, (int32_t)i, v->piece_blob + off);
        v->piece_off[i] = (uint32_t)off;
        v->piece_len[i] = (uint32_t)len;
        off += len;
    }
    return 0;
}

/* ------------------------------------------------------- special tokens */

typedef struct special_key {
    uint32_t len;
    int32_t id;
} special_key;

static int longest_first(const void *a, const void *b) {
    const special_key *x = a, *y = b;
    if (x->len != y->len) return x->len > y->len ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

static int build_special_list(lc_vocab *v, llamac_error *err) {
    size_t n = 0;
    for (int32_t i = 0; i < v->n_tokens; i++) {
        int t = v->types[i];
        bool candidate = t == LC_TOKEN_CONTROL || t == LC_TOKEN_USER_DEFINED || t == LC_TOKEN_UNKNOWN;
        n += candidate && v->text_len[i] > 0;
    }
    special_key *keys = malloc((n + 1) * sizeof *keys);
    v->specials = malloc((n + 1) * sizeof *v->specials);
    if (!keys || !v->specials) {
        free(keys);
        return lc_fail(err, "tokenizer: out of memory for the special token list");
    }
    size_t k = 0;
    for (int32_t i = 0; i < v->n_tokens; i++) {
        int t = v->types[i];
        bool candidate = t == LC_TOKEN_CONTROL || t == LC_TOKEN_USER_DEFINED || t == LC_TOKEN_UNKNOWN;
        if (candidate && v->text_len[i] > 0) keys[k++] = (special_key){v->text_len[i], i};
    }
    qsort(keys, n, sizeof *keys, longest_first);
    for (size_t i = 0; i < n; i++) v->specials[i] = keys[i].id;
    v->n_specials = (int32_t)n;
    free(keys);
    return 0;
}

/* ---------------------------------------------------------------- create */

static int build(lc_vocab *v, const lc_tokenizer_data *d, llamac_error *err) {
    if (check_kind(v, d, err) < 0 || check_tokens(d, err) < 0) return -1;
    if (copy_tokens(v, d, err) < 0 || set_specials(v, d, err) < 0) return -1;
    if (detect_end_tokens(v, d, err) < 0) return -1;
    if (v->kind == LC_VOCAB_SPM) {
        if (spm_byte_tokens(v, err) < 0) return -1;
        lc_spm_init(v);
    } else if (lc_bpe_init(v, d, err) < 0) {
        return -1;
    }
    if (build_pieces(v, err) < 0 || build_special_list(v, err) < 0) return -1;
    if (d->chat_template &&
        lc_tokenizer_data_set_string(&v->chat_template, d->chat_template,
                                     strlen(d->chat_template), err) < 0)
        return -1;
    return 0;
}

int lc_vocab_create(const lc_tokenizer_data *d, lc_vocab **out, llamac_error *err) {
    *out = NULL;
    lc_vocab *v = calloc(1, sizeof *v);
    if (!v) return lc_fail(err, "tokenizer: out of memory");
    if (build(v, d, err) < 0) {
        lc_vocab_free(v);
        return -1;
    }
    *out = v;
    return 0;
}

int lc_vocab_load_gguf(const lc_gguf_file *f, lc_vocab **out, llamac_error *err) {
    lc_tokenizer_data d;
    *out = NULL;
    if (lc_tokenizer_data_from_gguf(f, &d, err) < 0) return -1;
    int rc = lc_vocab_create(&d, out, err);
    lc_tokenizer_data_free(&d);
    if (rc < 0) return lc_fail_prefix(err, "%s", f->path);
    return 0;
}

void lc_vocab_free(lc_vocab *v) {
    if (!v) return;
    if (v->text) {
        for (int32_t i = v->n_tokens; i < v->n_symbols; i++) free((char *)v->text[i]);
    }
    free(v->text);
    free(v->text_len);
    free(v->text_blob);
    free(v->lookup.slots);
    free(v->scores);
    free(v->types);
    free(v->eog);
    free(v->piece_blob);
    free(v->piece_off);
    free(v->piece_len);
    free(v->specials);
    free(v->chat_template);
    lc_bpe_release(v);
    free(v);
}

/* ---------------------------------------------------------------- encode */

static int encode_fragments(const lc_vocab *v, const char *text, const lc_fragments *frags,
                            lc_merge_session *s, lc_bpe_state *st, lc_tokens *out,
                            llamac_error *err) {
    bool prev_special = true; /* the start of the text counts as after a special token */
    for (int32_t i = frags->head; i >= 0; i = frags->items[i].next) {
        const lc_fragment *fr = &frags->items[i];
        if (fr->token >= 0) {
            if (lc_tokens_push(out, fr->token) < 0) return lc_fail(err, "tokenizer: out of memory");
            prev_special = true;
            continue;
        }
        if (fr->len == 0) continue;
        int rc = v->kind == LC_VOCAB_SPM
                     ? lc_spm_encode(v, s, text + fr->start, fr->len,
                                     v->add_space_prefix && prev_special, out, err)
                     : lc_bpe_encode(v, st, s, text + fr->start, fr->len, out, err);
        if (rc < 0) return -1;
        prev_special = false;
    }
    return 0;
}

int lc_vocab_encode(const lc_vocab *v, const char *text, size_t len, int flags, lc_tokens *out,
                    llamac_error *err) {
    return lc_vocab_encode_ranges(v, text, len, flags, NULL, out, err);
}

int lc_vocab_encode_ranges(const lc_vocab *v, const char *text, size_t len, int flags,
                           const lc_plain_ranges *plain, lc_tokens *out, llamac_error *err) {
    out->n = 0;
    for (size_t k = 0; plain && k < plain->n; k++)
        if (plain->bounds[2 * k] > plain->bounds[2 * k + 1] || plain->bounds[2 * k + 1] > len ||
            (k > 0 && plain->bounds[2 * k] < plain->bounds[2 * k - 1]))
            return lc_fail(err, "tokenizer: plain range %zu is out of order or past the text", k);
    if (len > LC_VOCAB_MAX_TEXT)
        return lc_fail(err, "tokenizer: text of %zu bytes is too long (at most %zu)", len,
                       LC_VOCAB_MAX_TEXT);
    if (!text && len) return lc_fail(err, "tokenizer: NULL text");
    bool add_special = (flags & LLAMAC_TOKENIZE_ADD_SPECIAL) != 0;
    bool parse_special = (flags & LLAMAC_TOKENIZE_PARSE_SPECIAL) != 0;
    if (add_special && v->add_bos && v->bos >= 0 && lc_tokens_push(out, v->bos) < 0)
        return lc_fail(err, "tokenizer: out of memory");

    lc_fragments frags = {NULL, 0, 0, -1};
    lc_merge_session s;
    lc_merge_session_init(&s, v);
    lc_bpe_state *st = NULL;
    int rc = lc_partition_special(v, text, len, parse_special, plain, &frags);
    if (rc < 0) rc = lc_fail(err, "tokenizer: out of memory");
    if (rc == 0 && v->kind == LC_VOCAB_BPE) rc = lc_bpe_state_create(v, &st, err);
    if (rc == 0) rc = encode_fragments(v, text, &frags, &s, st, out, err);
    if (rc == 0 && add_special && v->add_eos && v->eos >= 0 && lc_tokens_push(out, v->eos) < 0)
        rc = lc_fail(err, "tokenizer: out of memory");
    lc_bpe_state_free(st);
    lc_merge_session_free(&s);
    lc_fragments_free(&frags);
    return rc;
}

/* -------------------------------------------------------------- accessors */

int lc_vocab_kind(const lc_vocab *v) { return v->kind; }
int32_t lc_vocab_n_tokens(const lc_vocab *v) { return v->n_tokens; }
int32_t lc_vocab_bos(const lc_vocab *v) { return v->bos; }
int32_t lc_vocab_eos(const lc_vocab *v) { return v->eos; }
int32_t lc_vocab_eot(const lc_vocab *v) { return v->eot; }
int32_t lc_vocab_eom(const lc_vocab *v) { return v->eom; }
int32_t lc_vocab_unk(const lc_vocab *v) { return v->unk; }
int32_t lc_vocab_pad(const lc_vocab *v) { return v->pad; }
bool lc_vocab_add_bos(const lc_vocab *v) { return v->add_bos; }
bool lc_vocab_add_eos(const lc_vocab *v) { return v->add_eos; }
bool lc_vocab_add_space_prefix(const lc_vocab *v) { return v->add_space_prefix; }
const char *lc_vocab_chat_template(const lc_vocab *v) { return v->chat_template; }

bool lc_vocab_is_eog(const lc_vocab *v, int32_t id) {
    return id >= 0 && id < v->n_tokens && v->eog[id];
}

int lc_vocab_token_type(const lc_vocab *v, int32_t id) {
    return id >= 0 && id < v->n_tokens ? v->types[id] : -1;
}

const char *lc_vocab_token_text(const lc_vocab *v, int32_t id, size_t *len) {
    if (id < 0 || id >= v->n_tokens) {
        if (len) *len = 0;
        return NULL;
    }
    if (len) *len = v->text_len[id];
    return v->text[id];
}

const char *lc_vocab_token_piece(const lc_vocab *v, int32_t id, bool special, size_t *len) {
    *len = 0;
    if (id < 0 || id >= v->n_tokens) return "";
    int t = v->types[id];
    if (t == LC_TOKEN_CONTROL || t == LC_TOKEN_UNKNOWN) {
        if (!special) return "";
        *len = v->text_len[id];
        return v->text[id];
    }
    *len = v->piece_len[id];
    return v->piece_blob + v->piece_off[id];
}

int32_t lc_vocab_find(const lc_vocab *v, const char *text, size_t len) {
    int32_t id = lc_vocab_lookup(v, text, len);
    return id < v->n_tokens ? id : -1;
}

int lc_tokenizer_data_check(const lc_tokenizer_data *d, const char *source, llamac_error *err) {
    lc_vocab *v = NULL;
    llamac_error why = {{0}};
    if (lc_vocab_create(d, &v, &why) == 0) {
        lc_vocab_free(v);
        return 0;
    }
    return lc_fail(err, "%s: the vocabulary would not load: %s", source, why.msg);
}
