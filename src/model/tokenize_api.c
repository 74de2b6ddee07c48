/* The tokenizer half of the public API, with the model it takes: thin
 * wrappers over the model's lc_vocab (tokenizer/vocab.h has the behaviour),
 * and chat template detection from the model's metadata. */
#include <string.h>

#include "chat/template.h"
#include "format/gguf.h"
#include "model/model.h"
#include "runtime/err.h"
#include "tokenizer/vocab.h"

int64_t llamac_tokenize(const llamac_model *model, const char *text, size_t len,
                        llamac_token *out, int64_t n_max, int flags, llamac_error *err) {
    return llamac_tokenize_plain_ranges(model, text, len, NULL, 0, out, n_max, flags, err);
}

int64_t llamac_tokenize_plain_ranges(const llamac_model *model, const char *text, size_t len,
                                     const size_t *plain, size_t n_plain, llamac_token *out,
                                     int64_t n_max, int flags, llamac_error *err) {
    if (!model) return lc_fail(err, "llamac_tokenize: no model");
    if (n_max > 0 && !out) return lc_fail(err, "llamac_tokenize: NULL output with n_max %lld",
                                          (long long)n_max);
    if (n_plain > 0 && !plain) return lc_fail(err, "llamac_tokenize: NULL plain ranges");
    lc_plain_ranges ranges = {plain, n_plain};
    lc_tokens toks = {NULL, 0, 0};
    if (lc_vocab_encode_ranges(lc_model_vocab(model), text, len, flags, &ranges, &toks, err) < 0) {
        lc_tokens_free(&toks);
        return -1;
    }
    size_t n_copy = 0;
    if (n_max > 0) n_copy = (uint64_t)n_max < toks.n ? (size_t)n_max : toks.n;
    if (n_copy) memcpy(out, toks.ids, n_copy * sizeof *out);
    int64_t n = (int64_t)toks.n;
    lc_tokens_free(&toks);
    return n;
}

size_t llamac_token_to_piece(const llamac_model *model, llamac_token tok, bool special, char *buf,
                             size_t size) {
    if (!model) return 0;
    size_t len;
    const char *piece = lc_vocab_token_piece(lc_model_vocab(model), tok, special, &len);
    if (buf && size > 0) {
        memcpy(buf, piece, len < size ? len : size);
        if (len < size) buf[len] = 0; /* a terminator when it fits */
    }
    return len;
}

const char *llamac_token_text(const llamac_model *model, llamac_token tok) {
    return model ? lc_vocab_token_text(lc_model_vocab(model), tok, NULL) : NULL;
}

int32_t llamac_n_vocab(const llamac_model *model) {
    return model ? lc_vocab_n_tokens(lc_model_vocab(model)) : 0;
}

llamac_token llamac_token_bos(const llamac_model *model) {
    return model ? lc_vocab_bos(lc_model_vocab(model)) : -1;
}

llamac_token llamac_token_eos(const llamac_model *model) {
    return model ? lc_vocab_eos(lc_model_vocab(model)) : -1;
}

bool llamac_token_is_eog(const llamac_model *model, llamac_token tok) {
    return model && lc_vocab_is_eog(lc_model_vocab(model), tok);
}

bool llamac_add_bos(const llamac_model *model) {
    return model && lc_vocab_add_bos(lc_model_vocab(model));
}

llamac_detokenizer *llamac_detokenizer_create(const llamac_model *model) {
    return model ? lc_detokenizer_create(lc_model_vocab(model)) : NULL;
}

const char *llamac_chat_template_detect(const llamac_model *model) {
    if (!model) return NULL;
    const lc_gguf_file *g = lc_model_gguf(model);
    lc_gguf_str s;
    if (!g || lc_gguf_get_str(g, "tokenizer.chat_template", &s, NULL) != 1) return NULL;
    return lc_chat_template_detect_text(s.ptr, (size_t)s.len);
}
