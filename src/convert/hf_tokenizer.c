/* Hugging Face tokenizer files to lc_tokenizer_data, following what
 * convert_hf_to_gguf.py writes (docs/formats.md "Tokenizer keys", "Hugging Face tokenizer files"):
 *   tokenizer.model present -> SentencePiece vocabulary ("llama"), with
 *     added_tokens.json and tokenizer_config.json added_tokens_decoder;
 *   else tokenizer.json     -> byte-level BPE ("gpt2", pre "llama-bpe");
 *   then special ids and flags from tokenizer_config.json (resolved by
 *   content), config.json, and generation_config.json's eos list. */
#include "convert/hf_tokenizer.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "convert/spm_model.h"
#include "runtime/err.h"
#include "runtime/file.h"

#define HF_MAX_JSON ((long)1 << 30)

/* The Llama 3 pre-tokenizer regex exactly as tokenizer.json stores it. */
static const char LLAMA3_REGEX[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "
    "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

typedef struct hf_files {
    const char *dir;
    cJSON *tokenizer;    /* tokenizer.json */
    cJSON *config;       /* tokenizer_config.json */
    cJSON *model_config; /* config.json */
    cJSON *generation;   /* generation_config.json */
    cJSON *added;        /* added_tokens.json */
    char *template_file; /* chat_template.jinja */
} hf_files;

static void path_join(char *buf, size_t size, const char *dir, const char *name) {
    snprintf(buf, size, "%s/%s", dir, name);
}

static bool file_exists(const char *dir, const char *name) {
    char path[4096];
    struct stat sb;
    path_join(path, sizeof path, dir, name);
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* Reads dir/name; returns 0 with *out NULL when the file does not exist. */
static int read_text_file(const char *dir, const char *name, char **out, size_t *size,
                          llamac_error *err) {
    char path[4096];
    path_join(path, sizeof path, dir, name);
    bool missing;
    *out = lc_read_file(path, HF_MAX_JSON, size, &missing, err);
    return *out || missing ? 0 : -1;
}

static int load_json(const char *dir, const char *name, cJSON **out, llamac_error *err) {
    char *text;
    size_t size;
    *out = NULL;
    if (read_text_file(dir, name, &text, &size, err) < 0) return -1;
    if (!text) return 0;
    const char *end = NULL;
    *out = cJSON_ParseWithLengthOpts(text, size, &end, 0);
    size_t at = end ? (size_t)(end - text) : 0;
    free(text);
    if (!*out) return lc_fail(err, "%s/%s: invalid JSON near byte %zu", dir, name, at);
    if (!cJSON_IsObject(*out)) {
        cJSON_Delete(*out);
        *out = NULL;
        return lc_fail(err, "%s/%s: the top level is not a JSON object", dir, name);
    }
    return 0;
}

static void free_files(hf_files *f) {
    cJSON_Delete(f->tokenizer);
    cJSON_Delete(f->config);
    cJSON_Delete(f->model_config);
    cJSON_Delete(f->generation);
    cJSON_Delete(f->added);
    free(f->template_file);
}

static int load_files(hf_files *f, bool need_tokenizer_json, llamac_error *err) {
    size_t size;
    if (need_tokenizer_json && load_json(f->dir, "tokenizer.json", &f->tokenizer, err) < 0)
        return -1;
    if (load_json(f->dir, "tokenizer_config.json", &f->config, err) < 0 ||
        load_json(f->dir, "config.json", &f->model_config, err) < 0 ||
        load_json(f->dir, "generation_config.json", &f->generation, err) < 0 ||
        load_json(f->dir, "added_tokens.json", &f->added, err) < 0)
        return -1;
    return read_text_file(f->dir, "chat_template.jinja", &f->template_file, &size, err);
}

/* ------------------------------------------------------------ JSON values */

/* An integral JSON number that fits int32. */
static bool json_int(const cJSON *item, int64_t *out) {
    if (!cJSON_IsNumber(item)) return false;
    double v = item->valuedouble;
    if (!(v >= -2147483648.0 && v <= 2147483647.0) || floor(v) != v) return false;
    *out = (int64_t)v;
    return true;
}

/* A decimal object key ("128000") as used by added_tokens_decoder. */
static bool key_int(const char *s, int64_t *out) {
    if (!s || !*s) return false;
    int64_t v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9' || v > INT32_MAX / 10) return false;
        v = v * 10 + (*p - '0');
    }
    if (v > INT32_MAX) return false;
    *out = v;
    return true;
}

/* A token given as "text" or {"content": "text", ...}; NULL otherwise. */
static const char *token_content(const cJSON *item) {
    if (cJSON_IsString(item)) return item->valuestring;
    if (cJSON_IsObject(item)) {
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(item, "content");
        if (cJSON_IsString(c)) return c->valuestring;
    }
    return NULL;
}

/* gguf-py's does_token_look_special: texts some models fail to flag. */
static bool looks_special(const char *t) {
    size_t n = strlen(t);
    static const char *const named[] = {"<pad>", "<mask>", "<2mass>", "[@BOS@]"};
    for (size_t i = 0; i < sizeof named / sizeof named[0]; i++) {
        if (strcmp(t, named[i]) == 0) return true;
    }
    if (n >= 4 && strncmp(t, "<|", 2) == 0 && strcmp(t + n - 2, "|>") == 0) return true;
    /* fullwidth bars (DeepSeek): "<｜" ... "｜>" */
    if (n >= 8 && strncmp(t, "<\xEF\xBD\x9C", 4) == 0 && strcmp(t + n - 4, "\xEF\xBD\x9C>") == 0)
        return true;
    return strncmp(t, "<unused", 7) == 0 && t[n - 1] == '>';
}

/* An added token: control if flagged special (or looking special), else
 * user-defined with '▁' pre-normalized to ' ' (convert does the same). */
static int set_added_token(lc_tokenizer_data *d, int32_t id, const char *content, bool special,
                           llamac_error *err) {
    bool control = special || looks_special(content);
    size_t len = strlen(content);
    char *text = malloc(len + 1);
    if (!text) return lc_fail(err, "tokenizer: out of memory");
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        if (!control && len - i >= 3 && memcmp(content + i, "\xE2\x96\x81", 3) == 0) {
            text[o++] = ' ';
            i += 3;
        } else {
            text[o++] = content[i++];
        }
    }
    int rc = lc_tokenizer_data_set_token(d, id, text, o, err);
    free(text);
    if (rc < 0) return -1;
    d->token_types[id] = control ? LC_TOKEN_CONTROL : LC_TOKEN_USER_DEFINED;
    if (d->scores) d->scores[id] = -1000.0f;
    return 0;
}

/* tokenizer_config.json added_tokens_decoder: {"id": {content, special}}.
 * Ids past the vocabulary are skipped, as convert does. */
static int apply_added_tokens_decoder(const hf_files *f, lc_tokenizer_data *d,
                                      llamac_error *err) {
    const cJSON *dec = f->config ? cJSON_GetObjectItemCaseSensitive(f->config, "added_tokens_decoder")
                                 : NULL;
    if (!dec) return 0;
    if (!cJSON_IsObject(dec))
        return lc_fail(err, "%s/tokenizer_config.json: added_tokens_decoder is not an object",
                       f->dir);
    const cJSON *item;
    cJSON_ArrayForEach(item, dec) {
        int64_t id;
        const char *content = token_content(item);
        if (!key_int(item->string, &id) || !content)
            return lc_fail(err, "%s/tokenizer_config.json: added_tokens_decoder[\"%s\"] needs a "
                                "decimal id and a string content", f->dir, item->string);
        if (id >= d->n_tokens) continue;
        const cJSON *sp = cJSON_GetObjectItemCaseSensitive(item, "special");
        if (set_added_token(d, (int32_t)id, content, cJSON_IsTrue(sp), err) < 0) return -1;
    }
    return 0;
}

/* ----------------------------------------------------------- SPM folders */

/* added_tokens.json: {"text": id} -> user-defined tokens, score -1000. */
static int apply_added_tokens_json(const hf_files *f, lc_tokenizer_data *d, llamac_error *err) {
    if (!f->added) return 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, f->added) {
        int64_t id;
        if (!json_int(item, &id) || id < 0)
            return lc_fail(err, "%s/added_tokens.json: \"%s\" is not mapped to a token id", f->dir,
                           item->string);
        if (id >= d->n_tokens) continue;
        if (lc_tokenizer_data_set_token(d, (int32_t)id, item->string, strlen(item->string), err) < 0)
            return -1;
        d->token_types[id] = LC_TOKEN_USER_DEFINED;
        d->scores[id] = -1000.0f;
    }
    return 0;
}

static int build_spm(const hf_files *f, int64_t vocab_size, lc_tokenizer_data *d,
                     llamac_error *err) {
    char path[4096];
    path_join(path, sizeof path, f->dir, "tokenizer.model");
    if (lc_tokenizer_data_from_spm_model(path, d, err) < 0) return -1;
    if (vocab_size > 0 && d->n_tokens > vocab_size)
        return lc_fail(err, "%s: %d pieces but config.json vocab_size is %lld", path,
                       (int)d->n_tokens, (long long)vocab_size);
    if (vocab_size > d->n_tokens && lc_tokenizer_data_pad(d, (int32_t)vocab_size, -10000.0f, err) < 0)
        return -1;
    if (apply_added_tokens_json(f, d, err) < 0) return -1;
    return apply_added_tokens_decoder(f, d, err);
}

/* ----------------------------------------------------------- BPE folders */

static const cJSON *get_path(const cJSON *root, const char *a, const char *b) {
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(root, a);
    return b && x ? cJSON_GetObjectItemCaseSensitive(x, b) : x;
}

static bool is_llama3_split(const cJSON *pt) {
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(pt, "type");
    if (!cJSON_IsString(type)) return false;
    if (strcmp(type->valuestring, "Sequence") == 0) {
        const cJSON *item;
        cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(pt, "pretokenizers")) {
            if (is_llama3_split(item)) return true;
        }
        return false;
    }
    const cJSON *re = get_path(pt, "pattern", "Regex");
    return strcmp(type->valuestring, "Split") == 0 && cJSON_IsString(re) &&
           strcmp(re->valuestring, LLAMA3_REGEX) == 0;
}

static int check_bpe_model(const hf_files *f, const cJSON *model, llamac_error *err) {
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(model, "type");
    if (type && !(cJSON_IsString(type) && strcmp(type->valuestring, "BPE") == 0))
        return lc_fail(err, "%s/tokenizer.json: model.type is not \"BPE\" (only BPE models are "
                            "supported)", f->dir);
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(model, "byte_fallback")))
        return lc_fail(err, "%s/tokenizer.json: model.byte_fallback is true (a SentencePiece-style "
                            "vocabulary); put its tokenizer.model in the folder", f->dir);
    if (!is_llama3_split(cJSON_GetObjectItemCaseSensitive(f->tokenizer, "pre_tokenizer")))
        return lc_fail(err, "%s/tokenizer.json: pre_tokenizer: only the Llama 3 Split regex "
                            "(pre-tokenizer \"llama-bpe\") is supported", f->dir);
    if (!cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(model, "vocab")))
        return lc_fail(err, "%s/tokenizer.json: model.vocab is missing or not an object", f->dir);
    return 0;
}

/* Highest id used by the vocab, added_tokens and added_tokens_decoder. */
static int max_bpe_id(const hf_files *f, const cJSON *vocab, int64_t *max_id, llamac_error *err) {
    const cJSON *item;
    *max_id = -1;
    cJSON_ArrayForEach(item, vocab) {
        int64_t id;
        if (!json_int(item, &id) || id < 0)
            return lc_fail(err, "%s/tokenizer.json: model.vocab[\"%s\"] is not a token id", f->dir,
                           item->string);
        if (id > *max_id) *max_id = id;
    }
    cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(f->tokenizer, "added_tokens")) {
        int64_t id;
        if (!json_int(cJSON_GetObjectItemCaseSensitive(item, "id"), &id) || id < 0 ||
            !token_content(item))
            return lc_fail(err, "%s/tokenizer.json: added_tokens entry without an id and content",
                           f->dir);
        if (id > *max_id) *max_id = id;
    }
    const cJSON *dec = f->config ? cJSON_GetObjectItemCaseSensitive(f->config, "added_tokens_decoder")
                                 : NULL;
    if (!cJSON_IsObject(dec)) dec = NULL;
    cJSON_ArrayForEach(item, dec) {
        int64_t id;
        if (key_int(item->string, &id) && id > *max_id) *max_id = id;
    }
    return 0;
}

static int fill_bpe_tokens(const hf_files *f, const cJSON *vocab, lc_tokenizer_data *d,
                           llamac_error *err) {
    const cJSON *item;
    cJSON_ArrayForEach(item, vocab) {
        int64_t id = 0;
        json_int(item, &id); /* checked in max_bpe_id */
        if (lc_tokenizer_data_set_token(d, (int32_t)id, item->string, strlen(item->string), err) < 0)
            return -1;
    }
    cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(f->tokenizer, "added_tokens")) {
        int64_t id = 0;
        json_int(cJSON_GetObjectItemCaseSensitive(item, "id"), &id); /* checked in max_bpe_id */
        bool special = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(item, "special"));
        if (set_added_token(d, (int32_t)id, token_content(item), special, err) < 0) return -1;
    }
    if (apply_added_tokens_decoder(f, d, err) < 0) return -1;
    for (int32_t i = 0; i < d->n_tokens; i++) {
        if (d->tokens[i]) continue;
        char text[32];
        int len = snprintf(text, sizeof text, "[PAD%d]", (int)i);
        if (lc_tokenizer_data_set_token(d, i, text, (size_t)len, err) < 0) return -1;
        d->token_types[i] = LC_TOKEN_UNUSED;
    }
    return 0;
}

/* One merge half from the pair form, with ' ' written as 'Ġ' (U+0120) so
 * that "left right" stays splittable at its single space. */
static size_t append_merge_part(char *out, const char *part) {
    size_t o = 0;
    for (const char *p = part; *p; p++) {
        if (*p == ' ') {
            out[o++] = '\xC4';
            out[o++] = '\xA0';
        } else {
            out[o++] = *p;
        }
    }
    return o;
}

static int add_pair_merge(const hf_files *f, lc_tokenizer_data *d, const cJSON *pair, int index,
                          llamac_error *err) {
    const cJSON *a = cJSON_GetArrayItem(pair, 0), *b = cJSON_GetArrayItem(pair, 1);
    if (cJSON_GetArraySize(pair) != 2 || !cJSON_IsString(a) || !cJSON_IsString(b))
        return lc_fail(err, "%s/tokenizer.json: model.merges[%d] is not a pair of strings", f->dir,
                       index);
    char *buf = malloc(2 * (strlen(a->valuestring) + strlen(b->valuestring)) + 2);
    if (!buf) return lc_fail(err, "tokenizer: out of memory");
    size_t n = append_merge_part(buf, a->valuestring);
    buf[n++] = ' ';
    n += append_merge_part(buf + n, b->valuestring);
    int rc = lc_tokenizer_data_add_merge(d, buf, n, err);
    free(buf);
    return rc;
}

static int read_merges(const hf_files *f, const cJSON *model, lc_tokenizer_data *d,
                       llamac_error *err) {
    const cJSON *merges = cJSON_GetObjectItemCaseSensitive(model, "merges");
    if (!cJSON_IsArray(merges))
        return lc_fail(err, "%s/tokenizer.json: model.merges is missing or not an array", f->dir);
    int index = 0;
    const cJSON *m;
    cJSON_ArrayForEach(m, merges) {
        int rc;
        if (cJSON_IsString(m))
            rc = lc_tokenizer_data_add_merge(d, m->valuestring, strlen(m->valuestring), err);
        else if (cJSON_IsArray(m))
            rc = add_pair_merge(f, d, m, index, err);
        else
            rc = lc_fail(err, "%s/tokenizer.json: model.merges[%d] is neither \"a b\" nor [a, b]",
                         f->dir, index);
        if (rc < 0) return -1;
        index++;
    }
    return 0;
}

static int build_bpe(const hf_files *f, int64_t vocab_size, lc_tokenizer_data *d,
                     llamac_error *err) {
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(f->tokenizer, "model");
    if (!cJSON_IsObject(model))
        return lc_fail(err, "%s/tokenizer.json: model is missing or not an object", f->dir);
    if (check_bpe_model(f, model, err) < 0) return -1;
    const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(model, "vocab");
    int64_t max_id;
    if (max_bpe_id(f, vocab, &max_id, err) < 0) return -1;
    if (max_id < 0) return lc_fail(err, "%s/tokenizer.json: model.vocab is empty", f->dir);
    if (vocab_size > 0 && max_id >= vocab_size)
        return lc_fail(err, "%s/tokenizer.json: token id %lld is not below config.json "
                            "vocab_size %lld", f->dir, (long long)max_id, (long long)vocab_size);
    int64_t n = vocab_size > max_id ? vocab_size : max_id + 1;
    if (lc_tokenizer_data_alloc_tokens(d, (int32_t)n, 0, err) < 0) return -1;
    if (fill_bpe_tokens(f, vocab, d, err) < 0 || read_merges(f, model, d, err) < 0) return -1;
    if (lc_tokenizer_data_set_string(&d->model, "gpt2", 4, err) < 0) return -1;
    return lc_tokenizer_data_set_string(&d->pre, "llama-bpe", 9, err);
}

/* --------------------------------------------------- special ids, flags */

/* The id of a token text: tokenizer.json added_tokens first (what
 * gguf-py's SpecialVocab uses), then the vocabulary itself. */
static int32_t resolve_content(const hf_files *f, const lc_tokenizer_data *d, const char *text) {
    const cJSON *item;
    const cJSON *added =
        f->tokenizer ? cJSON_GetObjectItemCaseSensitive(f->tokenizer, "added_tokens") : NULL;
    cJSON_ArrayForEach(item, added) {
        const char *c = token_content(item);
        int64_t id;
        if (c && strcmp(c, text) == 0 && json_int(cJSON_GetObjectItemCaseSensitive(item, "id"), &id))
            return id >= 0 && id < d->n_tokens ? (int32_t)id : -1;
    }
    return lc_tokenizer_data_find(d, text);
}

typedef struct special_kind {
    const char *name; /* "bos" -> bos_token, bos_token_id */
    size_t offset;    /* of the id in lc_tokenizer_data */
} special_kind;

static const special_kind SPECIALS[] = {
    {"bos", offsetof(lc_tokenizer_data, bos_id)},
    {"eos", offsetof(lc_tokenizer_data, eos_id)},
    {"unk", offsetof(lc_tokenizer_data, unk_id)},
    {"pad", offsetof(lc_tokenizer_data, pad_id)},
};

static int32_t *special_slot(lc_tokenizer_data *d, const special_kind *k) {
    return (int32_t *)(void *)((char *)d + k->offset);
}

static int read_flag(const hf_files *f, const char *key, int8_t *dst, llamac_error *err) {
    const cJSON *v = f->config ? cJSON_GetObjectItemCaseSensitive(f->config, key) : NULL;
    if (!v || cJSON_IsNull(v)) return 0;
    if (!cJSON_IsBool(v))
        return lc_fail(err, "%s/tokenizer_config.json: %s is not a boolean", f->dir, key);
    *dst = cJSON_IsTrue(v) ? 1 : 0;
    return 0;
}

static int read_chat_template(const hf_files *f, lc_tokenizer_data *d, llamac_error *err) {
    const cJSON *t = f->config ? cJSON_GetObjectItemCaseSensitive(f->config, "chat_template") : NULL;
    if (cJSON_IsString(t))
        return lc_tokenizer_data_set_string(&d->chat_template, t->valuestring,
                                            strlen(t->valuestring), err);
    if (cJSON_IsArray(t)) { /* named templates: [{name, template}]; keep "default" */
        const cJSON *item;
        cJSON_ArrayForEach(item, t) {
            const cJSON *name = cJSON_GetObjectItemCaseSensitive(item, "name");
            const cJSON *tpl = cJSON_GetObjectItemCaseSensitive(item, "template");
            if (cJSON_IsString(name) && strcmp(name->valuestring, "default") == 0 &&
                cJSON_IsString(tpl))
                return lc_tokenizer_data_set_string(&d->chat_template, tpl->valuestring,
                                                    strlen(tpl->valuestring), err);
        }
        return 0;
    }
    if (t && !cJSON_IsNull(t))
        return lc_fail(err, "%s/tokenizer_config.json: chat_template is neither a string nor a "
                            "list of named templates", f->dir);
    if (f->template_file)
        return lc_tokenizer_data_set_string(&d->chat_template, f->template_file,
                                            strlen(f->template_file), err);
    return 0;
}

static int apply_special_vocab(const hf_files *f, lc_tokenizer_data *d, llamac_error *err) {
    for (size_t i = 0; f->config && i < sizeof SPECIALS / sizeof SPECIALS[0]; i++) {
        char key[32];
        snprintf(key, sizeof key, "%s_token", SPECIALS[i].name);
        const char *text = token_content(cJSON_GetObjectItemCaseSensitive(f->config, key));
        int32_t *slot = special_slot(d, &SPECIALS[i]);
        if (text && *slot < 0) *slot = resolve_content(f, d, text);
    }
    /* config.json ids only fill what is still unset, and only plain ints
     * (Llama 3.1's eos list is ignored here). */
    for (size_t i = 0; f->model_config && i < sizeof SPECIALS / sizeof SPECIALS[0]; i++) {
        char key[32];
        int64_t id;
        snprintf(key, sizeof key, "%s_token_id", SPECIALS[i].name);
        int32_t *slot = special_slot(d, &SPECIALS[i]);
        if (*slot < 0 && json_int(cJSON_GetObjectItemCaseSensitive(f->model_config, key), &id) &&
            id >= 0 && id < d->n_tokens)
            *slot = (int32_t)id;
    }
    if (read_flag(f, "add_bos_token", &d->add_bos, err) < 0 ||
        read_flag(f, "add_eos_token", &d->add_eos, err) < 0 ||
        read_flag(f, "add_prefix_space", &d->add_space_prefix, err) < 0)
        return -1;
    return read_chat_template(f, d, err);
}

static int add_generation_eos(const hf_files *f, lc_tokenizer_data *d, const cJSON *item, int index,
                              llamac_error *err) {
    int64_t id;
    if (!json_int(item, &id) || id < 0 || id >= d->n_tokens) {
        if (index < 0)
            return lc_fail(err, "%s/generation_config.json: eos_token_id is not a token id below %d",
                           f->dir, (int)d->n_tokens);
        return lc_fail(err, "%s/generation_config.json: eos_token_id[%d] is not a token id below %d",
                       f->dir, index, (int)d->n_tokens);
    }
    return lc_tokenizer_data_add_eos_id(d, (int32_t)id, err);
}

static int apply_generation_config(const hf_files *f, lc_tokenizer_data *d, llamac_error *err) {
    const cJSON *eos = f->generation ? cJSON_GetObjectItemCaseSensitive(f->generation, "eos_token_id")
                                     : NULL;
    if (!eos || cJSON_IsNull(eos)) return 0;
    if (!cJSON_IsArray(eos)) return add_generation_eos(f, d, eos, -1, err);
    int index = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, eos) {
        if (add_generation_eos(f, d, item, index++, err) < 0) return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------ entry */

static int build(hf_files *f, int64_t vocab_size, lc_tokenizer_data *d, llamac_error *err) {
    bool spm = file_exists(f->dir, "tokenizer.model");
    bool json = file_exists(f->dir, "tokenizer.json");
    if (!spm && !json) return lc_fail(err, "no tokenizer.json or tokenizer.model in %s", f->dir);
    if (vocab_size > INT32_MAX)
        return lc_fail(err, "%s: vocab_size %lld is too large", f->dir, (long long)vocab_size);
    if (load_files(f, json, err) < 0) return -1;
    int32_t spm_ids[4] = {-1, -1, -1, -1};
    if (spm) {
        if (build_spm(f, vocab_size, d, err) < 0) return -1;
        /* The trainer spec's ids are only a fallback for what the JSON files do not say. */
        for (size_t i = 0; i < 4; i++) {
            spm_ids[i] = *special_slot(d, &SPECIALS[i]);
            *special_slot(d, &SPECIALS[i]) = -1;
        }
    } else if (build_bpe(f, vocab_size, d, err) < 0) {
        return -1;
    }
    if (apply_special_vocab(f, d, err) < 0 || apply_generation_config(f, d, err) < 0) return -1;
    for (size_t i = 0; i < 4; i++) {
        int32_t *slot = special_slot(d, &SPECIALS[i]);
        if (*slot < 0) *slot = spm_ids[i];
    }
    return 0;
}

int lc_tokenizer_data_from_hf_dir(const char *dir, int64_t config_vocab_size,
                                  lc_tokenizer_data *out, llamac_error *err) {
    lc_tokenizer_data_init(out);
    hf_files f = {dir, NULL, NULL, NULL, NULL, NULL, NULL};
    int rc = build(&f, config_vocab_size, out, err);
    free_files(&f);
    if (rc < 0) lc_tokenizer_data_free(out);
    return rc;
}
