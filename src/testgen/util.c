/* Small helpers for testgen: growable strings, files written by rename,
 * whole-word replacement (renaming a candidate's test functions). */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testgen/testgen.h"

static void buf_reserve(tg_buf *b, size_t extra) {
    if (b->len + extra + 1 <= b->cap) return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1) cap *= 2;
    char *s = realloc(b->s, cap);
    if (!s) abort(); /* out of memory: nothing sensible to do in a CLI loop */
    b->s = s;
    b->cap = cap;
}

void tg_buf_add(tg_buf *b, const char *s, size_t n) {
    buf_reserve(b, n);
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = 0;
}

void tg_buf_puts(tg_buf *b, const char *s) { tg_buf_add(b, s, strlen(s)); }

void tg_buf_printf(tg_buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    buf_reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void tg_buf_free(tg_buf *b) {
    free(b->s);
    memset(b, 0, sizeof *b);
}

char *tg_buf_take(tg_buf *b) {
    if (!b->s) buf_reserve(b, 0), b->s[0] = 0;
    char *s = b->s;
    memset(b, 0, sizeof *b);
    return s;
}

char *tg_strndup(const char *s, size_t n) {
    char *d = malloc(n + 1);
    if (!d) abort();
    memcpy(d, s, n);
    d[n] = 0;
    return d;
}

char *tg_strdup(const char *s) { return tg_strndup(s, strlen(s)); }

char *tg_read_file(const char *path, size_t *len, llamac_error *err) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (err) snprintf(err->msg, sizeof err->msg, "%s: %s", path, strerror(errno));
        return NULL;
    }
    tg_buf b = {0};
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) tg_buf_add(&b, chunk, n);
    bool bad = ferror(f);
    fclose(f);
    if (bad) {
        if (err) snprintf(err->msg, sizeof err->msg, "%s: read error", path);
        tg_buf_free(&b);
        return NULL;
    }
    if (len) *len = b.len;
    return tg_buf_take(&b);
}

int tg_write_file(const char *path, const char *text, llamac_error *err) {
    tg_buf tmp = {0};
    tg_buf_printf(&tmp, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp.s, "wb");
    if (!f) {
        if (err) snprintf(err->msg, sizeof err->msg, "%s: %s", path, strerror(errno));
        tg_buf_free(&tmp);
        return -1;
    }
    size_t n = strlen(text);
    bool ok = fwrite(text, 1, n, f) == n;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp.s, path) != 0) {
        if (err) snprintf(err->msg, sizeof err->msg, "%s: cannot write: %s", path, strerror(errno));
        unlink(tmp.s);
        tg_buf_free(&tmp);
        return -1;
    }
    tg_buf_free(&tmp);
    return 0;
}

static bool is_word(char c) { return isalnum((unsigned char)c) || c == '_'; }

char *tg_replace_word(const char *text, const char *from, const char *to) {
    tg_buf b = {0};
    size_t fl = strlen(from);
    const char *p = text;
    while (*p) {
        const char *hit = strstr(p, from);
        if (!hit) break;
        bool starts = hit == text || !is_word(hit[-1]);
        bool ends = !is_word(hit[fl]);
        tg_buf_add(&b, p, (size_t)(hit - p));
        tg_buf_puts(&b, starts && ends ? to : from);
        p = hit + fl;
    }
    tg_buf_puts(&b, p);
    return tg_buf_take(&b);
}

char *tg_shell_quote(const char *s) {
    bool plain = *s != 0;
    for (const char *p = s; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr("/._-+=:,", *p)) plain = false;
    if (plain) return tg_strdup(s);
    tg_buf b = {0};
    tg_buf_puts(&b, "'");
    for (const char *p = s; *p; p++) {
        if (*p == '\'') tg_buf_puts(&b, "'\\''");
        else tg_buf_add(&b, p, 1);
    }
    tg_buf_puts(&b, "'");
    return tg_buf_take(&b);
}
