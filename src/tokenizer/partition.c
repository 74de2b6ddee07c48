/* Special-token partition (docs/formats.md "Special-token partition"): before SPM/BPE see the text,
 * every occurrence of a special token's text is cut out as that token.
 * Candidates are tried longest text first; each one splits every raw
 * fragment left so far at all its non-overlapping occurrences (leftmost
 * first). Without parse_special only user-defined tokens are candidates,
 * and the same holds inside plain ranges (chat message contents). */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/vocab_internal.h"

void lc_fragments_free(lc_fragments *f) {
    free(f->items);
    f->items = NULL;
    f->n = f->cap = 0;
    f->head = -1;
}

static int32_t add_fragment(lc_fragments *f, size_t start, size_t len, int32_t token,
                            int32_t next) {
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 16;
        lc_fragment *p = realloc(f->items, cap * sizeof *p);
        if (!p) return -1;
        f->items = p;
        f->cap = cap;
    }
    lc_fragment *fr = &f->items[f->n];
    fr->start = start;
    fr->len = len;
    fr->token = token;
    fr->next = next;
    return (int32_t)f->n++;
}

static bool is_candidate(const lc_vocab *v, int32_t id, bool parse_special) {
    int type = v->types[id];
    if (type == LC_TOKEN_USER_DEFINED) return true;
    return parse_special && (type == LC_TOKEN_CONTROL || type == LC_TOKEN_UNKNOWN);
}

/* Whether [at, at + n) overlaps one of the plain ranges (sorted pairs of
 * begin, end offsets), where only user-defined tokens are cut. */
static bool in_plain_range(const lc_plain_ranges *plain, size_t at, size_t n) {
    size_t lo = 0, hi = plain ? plain->n : 0;
    while (lo < hi) { /* the first range that ends after `at` */
        size_t mid = lo + (hi - lo) / 2;
        if (plain->bounds[2 * mid + 1] <= at) lo = mid + 1;
        else hi = mid;
    }
    return plain && lo < plain->n && plain->bounds[2 * lo] < at + n;
}

/* Cuts fragment `index` (raw text) at every occurrence of token `id`.
 * The fragment keeps the text before the first occurrence; new fragments
 * are linked in after it. */
static int split_fragment(const lc_vocab *v, const char *text, lc_fragments *f, int32_t index,
                          int32_t id, const lc_plain_ranges *plain) {
    const char *needle = v->text[id];
    size_t nlen = v->text_len[id];
    size_t start = f->items[index].start, end = start + f->items[index].len;
    int32_t tail = index; /* the fragment after which the next piece goes */
    size_t pos = start, from = start;
    bool cut = false;
    bool user_defined = v->types[id] == LC_TOKEN_USER_DEFINED;
    while (end - from >= nlen) {
        const char *hit = memmem(text + from, end - from, needle, nlen);
        if (!hit) break;
        size_t at = (size_t)(hit - text);
        if (!user_defined && in_plain_range(plain, at, nlen)) {
            from = at + 1; /* plain text here: look further on */
            continue;
        }
        if (!cut) {
            f->items[index].len = at - start; /* may become 0: dropped when walking */
            cut = true;
        } else if (at > pos) {
            int32_t raw = add_fragment(f, pos, at - pos, -1, f->items[tail].next);
            if (raw < 0) return -1;
            f->items[tail].next = raw;
            tail = raw;
        }
        int32_t tok = add_fragment(f, at, nlen, id, f->items[tail].next);
        if (tok < 0) return -1;
        f->items[tail].next = tok;
        tail = tok;
        pos = from = at + nlen;
    }
    if (cut && pos < end) {
        int32_t raw = add_fragment(f, pos, end - pos, -1, f->items[tail].next);
        if (raw < 0) return -1;
        f->items[tail].next = raw;
    }
    return 0;
}

int lc_partition_special(const lc_vocab *v, const char *text, size_t len, bool parse_special,
                         const lc_plain_ranges *plain, lc_fragments *out) {
    out->n = 0;
    out->head = -1;
    if (len == 0) return 0;
    out->head = add_fragment(out, 0, len, -1, -1);
    if (out->head < 0) return -1;
    for (int32_t c = 0; c < v->n_specials; c++) {
        int32_t id = v->specials[c];
        if (!is_candidate(v, id, parse_special)) continue;
        for (int32_t i = out->head; i >= 0; i = out->items[i].next) {
            lc_fragment *fr = &out->items[i];
            if (fr->token >= 0 || fr->len < v->text_len[id]) continue;
            int32_t next = fr->next;
            if (split_fragment(v, text, out, i, id, plain) < 0) return -1;
            /* Skip the pieces just added: they are either this token or text
             * that has already been searched for it. */
            while (out->items[i].next != next) i = out->items[i].next;
        }
    }
    return 0;
}
