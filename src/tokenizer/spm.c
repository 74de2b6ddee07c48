/* SentencePiece-style tokenization as llama.cpp does it (docs/formats.md "SPM tokenizer"):
 * escape spaces to '▁', split into UTF-8 characters, merge the adjacent
 * pair whose text is the highest-scoring token until none is left, then
 * emit each symbol's token or, failing that, one byte token per byte. */
#include <stdlib.h>
#include <string.h>

#include "runtime/err.h"
#include "tokenizer/utf8.h"
#include "tokenizer/vocab_internal.h"

static const char SPACE_MARK[3] = {'\xE2', '\x96', '\x81'}; /* U+2581 '▁' */

/* The text with an optional leading space and every ' ' turned into '▁'. */
static char *escape_spaces(const char *text, size_t len, bool add_prefix, size_t *out_len) {
    size_t spaces = add_prefix ? 1 : 0;
    for (size_t i = 0; i < len; i++) spaces += text[i] == ' ';
    size_t n = len + (add_prefix ? 1 : 0) + 2 * spaces;
    char *buf = malloc(n + 1);
    if (!buf) return NULL;
    size_t o = 0;
    if (add_prefix) {
        memcpy(buf, SPACE_MARK, 3);
        o = 3;
    }
    for (size_t i = 0; i < len; i++) {
        if (text[i] == ' ') {
            memcpy(buf + o, SPACE_MARK, 3);
            o += 3;
        } else {
            buf[o++] = text[i];
        }
    }
    buf[o] = 0;
    *out_len = o;
    return buf;
}

/* One symbol per UTF-8 character. llama.cpp takes the length from the lead
 * byte alone, which on invalid input lets a stray lead byte swallow the
 * following bytes (even half of a '▁', which then decodes as raw bytes
 * instead of a space). Taking each byte of an invalid or truncated
 * sequence as its own symbol gives the same tokens on valid UTF-8 and
 * makes invalid input round-trip through byte tokens. */
static size_t char_len(const char *s, size_t n) {
    uint32_t cp;
    int k = lc_utf8_decode((const uint8_t *)s, n, &cp);
    return k > 0 ? (size_t)k : 1;
}

void lc_spm_init(lc_vocab *v) {
    bool in_merged[256] = {false};
    for (int32_t i = 0; i < v->n_tokens; i++) {
        const char *t = v->text[i];
        size_t len = v->text_len[i];
        if (len == 0 || char_len(t, len) == len) continue; /* one character */
        for (size_t k = 0; k < len; k++) in_merged[(uint8_t)t[k]] = true;
    }
    for (int b = 0; b < 256; b++) v->spm_isolated[b] = !in_merged[b];
}

static bool is_isolated(const lc_vocab *v, const char *c, size_t len) {
    for (size_t k = 0; k < len; k++) {
        if (v->spm_isolated[(uint8_t)c[k]]) return true;
    }
    return false;
}

static int emit_bytes(const lc_vocab *v, const char *s, size_t n, lc_tokens *out,
                      llamac_error *err) {
    for (size_t i = 0; i < n; i++) {
        uint8_t b = (uint8_t)s[i];
        if (v->byte_token[b] < 0)
            return lc_fail(err, "tokenizer: the vocabulary has no byte token <0x%02X> for byte %u",
                           b, b);
        if (lc_tokens_push(out, v->byte_token[b]) < 0)
            return lc_fail(err, "tokenizer: out of memory");
    }
    return 0;
}

/* The token of one final symbol, else its bytes as byte tokens. */
static int emit_symbol(const lc_vocab *v, const char *t, size_t n, int32_t id, lc_tokens *out,
                       llamac_error *err) {
    if (id < 0) id = lc_vocab_lookup(v, t, n);
    if (id >= 0 && id < v->n_tokens) {
        if (lc_tokens_push(out, id) < 0) return lc_fail(err, "tokenizer: out of memory");
        return 0;
    }
    return emit_bytes(v, t, n, out, err);
}

static int merge_and_emit(const lc_vocab *v, lc_merge_session *s, lc_tokens *out,
                          llamac_error *err) {
    if (s->n_sym == 0) return 0;
    if (lc_merge_session_run(s) < 0) return lc_fail(err, "tokenizer: out of memory");
    for (int32_t i = 0; i >= 0; i = s->sym[i].next) {
        const lc_symbol *sym = &s->sym[i];
        if (emit_symbol(v, s->text + sym->start, sym->n, sym->id, out, err) < 0) return -1;
    }
    return 0;
}

int lc_spm_encode(const lc_vocab *v, lc_merge_session *s, const char *text, size_t len,
                  bool add_prefix, lc_tokens *out, llamac_error *err) {
    size_t n;
    char *buf = escape_spaces(text, len, add_prefix, &n);
    if (!buf) return lc_fail(err, "tokenizer: out of memory for %zu bytes of text", len);
    int rc = 0;
    for (size_t pos = 0; rc == 0 && pos < n;) {
        /* Symbols up to the next character that can never merge... */
        lc_merge_session_reset(s, buf);
        size_t clen = 0;
        for (; pos < n; pos += clen) {
            clen = char_len(buf + pos, n - pos);
            if (is_isolated(v, buf + pos, clen)) break;
            /* id -1: looked up when emitted, unless a merge sets it */
            if (lc_merge_session_add_symbol(s, (uint32_t)pos, (uint32_t)clen, -1) < 0) {
                rc = lc_fail(err, "tokenizer: out of memory");
                break;
            }
        }
        if (rc == 0) rc = merge_and_emit(v, s, out, err);
        /* ...then that character on its own. */
        if (rc == 0 && pos < n) {
            rc = emit_symbol(v, buf + pos, clen, -1, out, err);
            pos += clen;
        }
    }
    free(buf);
    return rc;
}
