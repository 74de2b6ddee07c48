/* Small helpers of the server: byte buffers, UTF-8 checks, the API-key
 * comparison and random ids. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "server/internal.h"
#include "tokenizer/utf8.h"

bool srv_buf_append(srv_buf *b, const char *s, size_t n) {
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1) cap *= 2;
        char *p = realloc(b->data, cap);
        if (!p) return false;
        b->data = p;
        b->cap = cap;
    }
    if (n) memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = 0;
    return true;
}

bool srv_buf_appendf(srv_buf *b, const char *fmt, ...) {
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) return false;
    if ((size_t)n < sizeof small) return srv_buf_append(b, small, (size_t)n);
    char *big = malloc((size_t)n + 1);
    if (!big) return false;
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    bool ok = srv_buf_append(b, big, (size_t)n);
    free(big);
    return ok;
}

void srv_buf_free(srv_buf *b) {
    free(b->data);
    *b = (srv_buf){0};
}

/* Length of the well-formed UTF-8 sequence at s[0..n), 0 if ill-formed or
 * cut short (the tokenizer's strict decoder). */
static size_t utf8_seq(const unsigned char *s, size_t n) {
    uint32_t cp;
    const int k = lc_utf8_decode(s, n, &cp);
    return k > 0 ? (size_t)k : 0;
}

bool srv_utf8_valid(const char *s, size_t n) {
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        size_t k = utf8_seq(p + i, n - i);
        if (!k) return false;
        i += k;
    }
    return true;
}

char *srv_utf8_sanitize(const char *s, size_t n) {
    char *out = malloc(3 * n + 1);
    if (!out) return NULL;
    const unsigned char *p = (const unsigned char *)s;
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        size_t k = utf8_seq(p + i, n - i);
        if (k) {
            memcpy(out + o, s + i, k);
            o += k;
            i += k;
        } else {
            memcpy(out + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i++;
        }
    }
    out[o] = 0;
    return out;
}

bool srv_secret_equal(const char *secret, const char *candidate) {
    size_t n = strlen(secret), m = strlen(candidate);
    /* every byte of the secret is looked at whatever the candidate is, so
     * the time tells nothing about how much of it was right */
    unsigned diff = (unsigned)(n != m);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = i < m ? (unsigned char)candidate[i] : 0;
        diff |= (unsigned)((unsigned char)secret[i] ^ c);
    }
    return diff == 0;
}

uint64_t srv_random_u64(void) {
    uint64_t v = 0;
    if (getrandom(&v, sizeof v, 0) != (ssize_t)sizeof v) {
        /* no entropy source: mix the clock (ids and seeds need not be secret) */
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        v = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ULL ^ (uint64_t)ts.tv_sec;
    }
    return v;
}

void srv_random_id(char *out, size_t size, const char *prefix) {
    static const char alnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    size_t n = (size_t)snprintf(out, size, "%s", prefix);
    uint64_t r = 0;
    for (int i = 0; i < 24 && n + 1 < size; i++) {
        if (i % 8 == 0) r = srv_random_u64();
        out[n++] = alnum[r % 62];
        r /= 62;
    }
    out[n < size ? n : size - 1] = 0;
}

/* ---------------------------------------------------------------- output */

static bool grow(void **p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return true;
    size_t n = *cap ? *cap : 16;
    while (n < need) n *= 2;
    void *q = realloc(*p, n * elem);
    if (!q) return false;
    *p = q;
    *cap = n;
    return true;
}

bool srv_output_begin_token(srv_output *o, const srv_token_logprob *lp) {
    if (!grow((void **)&o->seg, &o->cap_seg, o->n_seg + 1, sizeof *o->seg)) return false;
    o->seg[o->n_seg++] = 0;
    if (!lp) return true;
    if (!grow((void **)&o->lps, &o->cap_lps, o->n_lps + 1, sizeof *o->lps)) return false;
    o->lps[o->n_lps++] = *lp;
    return true;
}

bool srv_output_text(srv_output *o, const char *text, size_t len) {
    if (!len) return true;
    if (o->n_seg == 0 && !srv_output_begin_token(o, NULL)) return false;
    if (!srv_buf_append(&o->text, text, len)) return false;
    o->seg[o->n_seg - 1] += (uint32_t)len;
    return true;
}

bool srv_output_move(srv_output *dst, srv_output *src) {
    bool ok = grow((void **)&dst->seg, &dst->cap_seg, dst->n_seg + src->n_seg, sizeof *dst->seg) &&
              grow((void **)&dst->lps, &dst->cap_lps, dst->n_lps + src->n_lps, sizeof *dst->lps) &&
              srv_buf_append(&dst->text, src->text.data ? src->text.data : "", src->text.len);
    if (ok) {
        if (src->n_seg) memcpy(dst->seg + dst->n_seg, src->seg, sizeof *src->seg * src->n_seg);
        if (src->n_lps) memcpy(dst->lps + dst->n_lps, src->lps, sizeof *src->lps * src->n_lps);
        dst->n_seg += src->n_seg;
        dst->n_lps += src->n_lps;
    }
    srv_output_clear(src);
    return ok;
}

void srv_output_clear(srv_output *o) {
    o->text.len = 0;
    if (o->text.data) o->text.data[0] = 0;
    o->n_seg = 0;
    o->n_lps = 0;
}

void srv_output_free(srv_output *o) {
    srv_buf_free(&o->text);
    free(o->seg);
    free(o->lps);
    *o = (srv_output){0};
}
