/* Streaming detokenizer (the contract is in vocab.h): token pieces are
 * concatenated as bytes; complete, valid UTF-8 characters are handed out
 * at once, an incomplete tail (at most 3 bytes) waits for the next piece,
 * and invalid sequences become U+FFFD. */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/utf8.h"
#include "tokenizer/vocab_internal.h"

struct llamac_detokenizer {
    const lc_vocab *v;
    uint8_t pending[4]; /* an incomplete character held back */
    size_t n_pending;
    bool strip_space;   /* drop one ' ' from the next non-empty piece */
    char *in;           /* pending bytes + the new piece */
    size_t in_cap;
    char *out;          /* what the last call returned */
    size_t out_cap;
};

static const char REPLACEMENT[3] = {'\xEF', '\xBF', '\xBD'}; /* U+FFFD */

llamac_detokenizer *lc_detokenizer_create(const lc_vocab *v) {
    if (!v) return NULL;
    llamac_detokenizer *d = calloc(1, sizeof *d);
    if (!d) return NULL;
    d->v = v;
    return d;
}

void llamac_detokenizer_free(llamac_detokenizer *d) {
    if (!d) return;
    free(d->in);
    free(d->out);
    free(d);
}

static int reserve(char **buf, size_t *cap, size_t need) {
    if (need <= *cap && *buf) return 0;
    size_t n = need < 256 ? 256 : need * 2;
    char *p = realloc(*buf, n);
    if (!p) return -1;
    *buf = p;
    *cap = n;
    return 0;
}

/* Decodes in[0..n) into d->out; keeps an incomplete tail unless flushing. */
static const char *drain(llamac_detokenizer *d, size_t n, bool flush, size_t *len) {
    *len = 0;
    if (reserve(&d->out, &d->out_cap, 3 * n + 1) < 0) return "";
    const uint8_t *in = (const uint8_t *)d->in;
    size_t o = 0, i = 0;
    d->n_pending = 0;
    while (i < n) {
        uint32_t cp;
        int k = lc_utf8_decode(in + i, n - i, &cp);
        if (k > 0) {
            memcpy(d->out + o, in + i, (size_t)k);
            o += (size_t)k;
            i += (size_t)k;
        } else if (k == 0 && !flush) {
            d->n_pending = n - i; /* a valid prefix: at most 3 bytes */
            memcpy(d->pending, in + i, d->n_pending);
            break;
        } else {
            memcpy(d->out + o, REPLACEMENT, 3);
            o += 3;
            i += k < 0 ? (size_t)-k : n - i;
        }
    }
    d->out[o] = 0;
    *len = o;
    return d->out;
}

const char *llamac_detokenizer_push(llamac_detokenizer *d, llamac_token tok, size_t *len) {
    size_t dummy;
    if (!len) len = &dummy;
    *len = 0;
    if (!d) return "";
    const lc_vocab *v = d->v;
    size_t n;
    const char *piece = lc_vocab_token_piece(v, tok, false, &n);
    if (tok == v->bos && tok >= 0 && v->kind == LC_VOCAB_SPM && v->add_space_prefix)
        d->strip_space = true;
    if (n > 0 && d->strip_space) {
        if (piece[0] == ' ') {
            piece++;
            n--;
        }
        d->strip_space = false;
    }
    if (reserve(&d->in, &d->in_cap, d->n_pending + n) < 0) return "";
    memcpy(d->in, d->pending, d->n_pending);
    memcpy(d->in + d->n_pending, piece, n);
    return drain(d, d->n_pending + n, false, len);
}

const char *llamac_detokenizer_flush(llamac_detokenizer *d, size_t *len) {
    size_t dummy;
    if (!len) len = &dummy;
    *len = 0;
    if (!d) return "";
    if (reserve(&d->in, &d->in_cap, d->n_pending + 1) < 0) return "";
    memcpy(d->in, d->pending, d->n_pending);
    return drain(d, d->n_pending, true, len);
}
