/* SentencePiece-style tokenization as llama.cpp does it (formats.md §6.1):
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

static int emit_symbols(const lc_vocab *v, const lc_merge_session *s, lc_tokens *out,
                        llamac_error *err) {
    for (int32_t i = s->n_sym ? 0 : -1; i >= 0; i = s->sym[i].next) {
        const lc_symbol *sym = &s->sym[i];
        const char *t = s->text + sym->start;
        int32_t id = sym->id >= 0 ? sym->id : lc_vocab_lookup(v, t, sym->n);
        if (id >= 0 && id < v->n_tokens) {
            if (lc_tokens_push(out, id) < 0) return lc_fail(err, "tokenizer: out of memory");
        } else if (emit_bytes(v, t, sym->n, out, err) < 0) {
            return -1;
        }
    }
    return 0;
}

int lc_spm_encode(const lc_vocab *v, lc_merge_session *s, const char *text, size_t len,
                  bool add_prefix, lc_tokens *out, llamac_error *err) {
    size_t n;
    char *buf = escape_spaces(text, len, add_prefix, &n);
    if (!buf) return lc_fail(err, "tokenizer: out of memory for %zu bytes of text", len);
    lc_merge_session_reset(s, buf);
    int rc = 0;
    for (size_t pos = 0; rc == 0 && pos < n;) {
        size_t clen = char_len(buf + pos, n - pos);
        /* id -1: looked up when emitted, unless a merge sets it */
        rc = lc_merge_session_add_symbol(s, (uint32_t)pos, (uint32_t)clen, -1);
        pos += clen;
    }
    if (rc == 0) rc = lc_merge_session_run(s);
    if (rc < 0) rc = lc_fail(err, "tokenizer: out of memory");
    if (rc == 0) rc = emit_symbols(v, s, out, err);
    free(buf);
    return rc;
}
