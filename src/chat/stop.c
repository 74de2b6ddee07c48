/* Stop-string matcher for streamed text.
 *
 * The matcher keeps a small window: the tail of the text that could still
 * grow into a stop string, plus the newest piece. Everything before that
 * tail has been handed out. Why only the window needs searching: a stop
 * string starting in text already handed out would have made a longer tail
 * a prefix of that stop string, and the longest such tail is always held.
 *
 * Since stop strings are UTF-8 text, a held tail starts at a character's
 * lead byte, so what is handed out stays complete UTF-8 when the input is. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "llamac.h"
#include "runtime/err.h"

struct llamac_stop {
    char **stops;
    size_t *stop_lens;
    size_t n_stops;
    size_t max_len;  /* longest stop string */
    char *buf;       /* the window */
    size_t len;      /* bytes in the window */
    size_t cap;
    size_t handed;   /* leading window bytes returned by the last call */
    bool stopped;
};

llamac_stop *llamac_stop_create(const char *const *stops, size_t n, llamac_error *err) {
    if (n > 0 && !stops) {
        lc_fail(err, "stop strings: list is NULL but count is %zu", n);
        return NULL;
    }
    llamac_stop *s = calloc(1, sizeof *s);
    if (!s) goto oom;
    if (n > 0) {
        s->stops = calloc(n, sizeof *s->stops);
        s->stop_lens = calloc(n, sizeof *s->stop_lens);
        if (!s->stops || !s->stop_lens) goto oom;
    }
    for (size_t i = 0; i < n; i++) {
        if (!stops[i]) {
            lc_fail(err, "stop strings: entry %zu is NULL", i);
            llamac_stop_free(s);
            return NULL;
        }
        size_t len = strlen(stops[i]);
        if (len == 0) continue; /* would match before any text */
        char *copy = malloc(len + 1);
        if (!copy) goto oom;
        memcpy(copy, stops[i], len + 1);
        s->stops[s->n_stops] = copy;
        s->stop_lens[s->n_stops] = len;
        s->n_stops++;
        if (len > s->max_len) s->max_len = len;
    }
    return s;
oom:
    lc_fail(err, "stop strings: out of memory");
    llamac_stop_free(s);
    return NULL;
}

void llamac_stop_free(llamac_stop *s) {
    if (!s) return;
    for (size_t i = 0; i < s->n_stops; i++) free(s->stops[i]);
    free(s->stops);
    free(s->stop_lens);
    free(s->buf);
    free(s);
}

void llamac_stop_reset(llamac_stop *s) {
    if (!s) return;
    s->len = 0;
    s->handed = 0;
    s->stopped = false;
}

/* Drops the bytes the previous call handed out (the caller is done with
 * them now). */
static void drop_handed(llamac_stop *s) {
    if (s->handed == 0) return;
    memmove(s->buf, s->buf + s->handed, s->len - s->handed);
    s->len -= s->handed;
    s->handed = 0;
}

static int reserve(llamac_stop *s, size_t need, llamac_error *err) {
    if (need <= s->cap) return 0;
    size_t cap = s->cap ? s->cap : 64;
    while (cap < need) cap *= 2;
    char *p = realloc(s->buf, cap);
    if (!p) return lc_fail(err, "stop strings: out of memory for a %zu-byte window", need);
    s->buf = p;
    s->cap = cap;
    return 0;
}

/* The stop string that appears first in the stream, i.e. whose occurrence
 * ends earliest (on a tie, the longer one, which starts earlier): the
 * answer does not depend on how the text was cut into pieces. Returns its
 * start in the window, or SIZE_MAX when there is none. */
static size_t first_completed_match(const llamac_stop *s) {
    size_t best_end = SIZE_MAX, best_start = SIZE_MAX;
    for (size_t i = 0; i < s->n_stops; i++) {
        const char *m = memmem(s->buf, s->len, s->stops[i], s->stop_lens[i]);
        if (!m) continue;
        size_t start = (size_t)(m - s->buf), end = start + s->stop_lens[i];
        if (end < best_end || (end == best_end && start < best_start)) {
            best_end = end;
            best_start = start;
        }
    }
    return best_start;
}

/* Length of the longest window suffix that is a proper prefix of some stop
 * string: text that a later piece might complete into a match. */
static size_t partial_tail(const llamac_stop *s) {
    size_t h = s->max_len > 0 ? s->max_len - 1 : 0;
    if (h > s->len) h = s->len;
    for (; h > 0; h--) {
        const char *tail = s->buf + s->len - h;
        for (size_t i = 0; i < s->n_stops; i++)
            if (s->stop_lens[i] > h && memcmp(tail, s->stops[i], h) == 0) return h;
    }
    return 0;
}

int llamac_stop_feed(llamac_stop *s, const char *text, size_t len, const char **out,
                     size_t *out_len, llamac_error *err) {
    *out = "";
    *out_len = 0;
    if (s->stopped) return 1;
    drop_handed(s);
    if (reserve(s, s->len + len + 1, err) < 0) return -1;
    if (len > 0) memcpy(s->buf + s->len, text, len);
    s->len += len;
    s->buf[s->len] = '\0';

    size_t match = first_completed_match(s);
    if (match != SIZE_MAX) {
        s->stopped = true;
        s->handed = s->len; /* the stop text and anything after it is dropped */
        s->buf[match] = '\0';
        *out = s->buf;
        *out_len = match;
        return 1;
    }
    s->handed = s->len - partial_tail(s);
    *out = s->buf;
    *out_len = s->handed;
    return 0;
}

const char *llamac_stop_flush(llamac_stop *s, size_t *len) {
    *len = 0;
    if (s->stopped) return "";
    drop_handed(s);
    s->handed = s->len;
    *len = s->len;
    return s->buf ? s->buf : "";
}
