/* Byte-level BPE with the Llama 3 pre-tokenizer (docs/formats.md "Byte-level BPE tokenizer").
 *
 * The text is split by the Llama 3 regex (PCRE2, Unicode properties); each
 * piece's bytes are mapped to GPT-2's byte-level characters; a piece that is
 * a whole token is emitted as is (ignore_merges); otherwise its characters
 * are merged pair by pair, lowest merge rank first.
 *
 * Invalid UTF-8: the regex is compiled with PCRE2_MATCH_INVALID_UTF, so
 * invalid bytes never take part in a match; each run of them between
 * matches becomes a piece of its own. Every byte has a byte-level
 * character, so such text still round-trips (llama.cpp would turn those
 * bytes into U+FFFD instead; Hugging Face cannot take them at all). */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/err.h"
#include "tokenizer/utf8.h"
#include "tokenizer/vocab_internal.h"

/* tokenizer.json's pattern, with \s widened to Unicode White_Space: the
 * Hugging Face tokenizer (Oniguruma) counts U+0085 as \s, PCRE2 does not. */
#define WS "\\s\\x{85}"
static const char LLAMA3_PATTERN[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)"
    "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+"
    "|\\p{N}{1,3}"
    "| ?[^" WS "\\p{L}\\p{N}]+[\\r\\n]*"
    "|[" WS "]*[\\r\\n]+"
    "|[" WS "]+(?![^" WS "])"
    "|[" WS "]+";

bool lc_bpe_pre_supported(const char *pre) {
    static const char *const names[] = {"llama-bpe", "llama3", "llama-v3", "falcon3"};
    if (!pre) return false;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(pre, names[i]) == 0) return true;
    }
    return false;
}

/* GPT-2's bytes_to_unicode: printable Latin-1 bytes map to themselves, the
 * other 68 bytes, in order, to U+0100.. U+0143. */
static void build_byte_map(lc_vocab *v) {
    uint32_t next = 0x100;
    for (int i = 0; i < 0x144; i++) v->byte_unmap[i] = -1;
    for (int b = 0; b < 256; b++) {
        bool self = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
        uint32_t cp = self ? (uint32_t)b : next++;
        char buf[4];
        size_t n = lc_utf8_encode(cp, buf);
        memcpy(v->byte_map[b], buf, n);
        v->byte_map_len[b] = (uint8_t)n;
        v->byte_unmap[cp] = (int16_t)b;
    }
}

static int compile_regex(lc_vocab *v, llamac_error *err) {
    int code;
    PCRE2_SIZE offset;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)LLAMA3_PATTERN, PCRE2_ZERO_TERMINATED,
                                   PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &code,
                                   &offset, NULL);
    if (!re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(code, msg, sizeof msg);
        return lc_fail(err, "tokenizer: cannot compile the Llama 3 pre-tokenizer regex at %zu: %s",
                       (size_t)offset, (const char *)msg);
    }
    /* JIT is an optimization; the interpreter gives the same matches. */
    (void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
    v->regex = re;
    return 0;
}

/* ------------------------------------------------------------ merge table */

static uint32_t table_size_for(size_t n) {
    uint32_t size = 16;
    while (size < 2 * n) size *= 2;
    return size;
}

static void merge_table_insert(lc_merge_table *t, int32_t left, int32_t right, int32_t rank,
                               int32_t result) {
    uint64_t key = (uint64_t)(uint32_t)left << 32 | (uint32_t)right;
    uint64_t h = key * 0x9E3779B97F4A7C15ull;
    for (uint32_t i = (uint32_t)(h >> 32) & t->mask;; i = (i + 1) & t->mask) {
        lc_merge_entry *e = &t->slots[i];
        if (e->key == key) return; /* the first (lowest-rank) entry wins */
        if (e->key == UINT64_MAX) {
            e->key = key;
            e->rank = rank;
            e->result = result;
            return;
        }
    }
}

/* "left right": split at the first space after the first byte, as llama.cpp
 * does (so a left part may start with a space). Returns false if none. */
static bool split_merge(const char *m, size_t *left_len) {
    if (!m[0]) return false;
    const char *sp = strchr(m + 1, ' ');
    if (!sp) return false;
    *left_len = (size_t)(sp - m);
    return true;
}

/* Pass 1: every merge half gets a symbol id (tokens keep theirs). */
static int add_merge_halves(lc_vocab *v, const lc_tokenizer_data *d, llamac_error *err) {
    for (int32_t i = 0; i < d->n_merges; i++) {
        const char *m = d->merges[i];
        size_t ll;
        if (!split_merge(m, &ll)) continue;
        size_t rl = strlen(m + ll + 1);
        if (lc_vocab_add_symbol(v, m, ll) < 0 || lc_vocab_add_symbol(v, m + ll + 1, rl) < 0)
            return lc_fail(err, "tokenizer: out of memory for merge %d", (int)i);
    }
    return 0;
}

/* Pass 2: (left, right) -> (rank, symbol of the concatenation). */
static int fill_merge_table(lc_vocab *v, const lc_tokenizer_data *d, llamac_error *err) {
    lc_merge_table *t = &v->merges;
    uint32_t size = table_size_for((size_t)d->n_merges);
    t->slots = malloc((size_t)size * sizeof *t->slots);
    if (!t->slots) return lc_fail(err, "tokenizer: out of memory for %d merges", (int)d->n_merges);
    t->mask = size - 1;
    for (uint32_t i = 0; i < size; i++) t->slots[i].key = UINT64_MAX;
    char *joined = NULL;
    size_t joined_cap = 0;
    for (int32_t i = 0; i < d->n_merges; i++) {
        const char *m = d->merges[i];
        size_t ll;
        if (!split_merge(m, &ll)) continue;
        size_t rl = strlen(m + ll + 1);
        if (ll + rl > joined_cap) {
            joined_cap = 2 * (ll + rl);
            free(joined);
            joined = malloc(joined_cap);
            if (!joined) return lc_fail(err, "tokenizer: out of memory");
        }
        memcpy(joined, m, ll);
        memcpy(joined + ll, m + ll + 1, rl);
        int32_t left = lc_vocab_lookup(v, m, ll), right = lc_vocab_lookup(v, m + ll + 1, rl);
        merge_table_insert(t, left, right, i, lc_vocab_lookup(v, joined, ll + rl));
    }
    free(joined);
    return 0;
}

int lc_bpe_init(lc_vocab *v, const lc_tokenizer_data *d, llamac_error *err) {
    if (d->n_merges > (1 << 24))
        return lc_fail(err, "tokenizer: %d merges (at most %d supported)", (int)d->n_merges,
                       1 << 24);
    build_byte_map(v);
    if (compile_regex(v, err) < 0) return -1;
    if (add_merge_halves(v, d, err) < 0 || fill_merge_table(v, d, err) < 0) return -1;
    for (int b = 0; b < 256; b++)
        v->byte_token[b] = lc_vocab_lookup(v, v->byte_map[b], v->byte_map_len[b]);
    return 0;
}

void lc_bpe_release(lc_vocab *v) {
    pcre2_code_free((pcre2_code *)v->regex);
    v->regex = NULL;
    free(v->merges.slots);
    v->merges.slots = NULL;
}

size_t lc_bpe_decode_text(const lc_vocab *v, const char *text, size_t len, char *out) {
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        int k = lc_utf8_decode((const uint8_t *)text + i, len - i, &cp);
        if (k > 0 && cp < 0x144 && v->byte_unmap[cp] >= 0) {
            out[o++] = (char)v->byte_unmap[cp];
            i += (size_t)k;
            continue;
        }
        /* Not a byte-level character: keep the bytes as they are. */
        size_t n = k > 0 ? (size_t)k : k < 0 ? (size_t)-k : len - i;
        memcpy(out + o, text + i, n);
        o += n;
        i += n;
    }
    return o;
}

/* ----------------------------------------------------------------- encode */

struct lc_bpe_state {
    pcre2_match_data *md;
    char *word; /* the current piece in byte-level form */
    size_t word_cap;
};

int lc_bpe_state_create(const lc_vocab *v, lc_bpe_state **out, llamac_error *err) {
    lc_bpe_state *st = calloc(1, sizeof *st);
    if (st) st->md = pcre2_match_data_create_from_pattern((const pcre2_code *)v->regex, NULL);
    if (!st || !st->md) {
        free(st);
        return lc_fail(err, "tokenizer: out of memory");
    }
    *out = st;
    return 0;
}

void lc_bpe_state_free(lc_bpe_state *st) {
    if (!st) return;
    pcre2_match_data_free(st->md);
    free(st->word);
    free(st);
}

static int emit_symbol(const lc_vocab *v, const char *t, const lc_symbol *sym, lc_tokens *out) {
    if (sym->id >= 0 && sym->id < v->n_tokens) return lc_tokens_push(out, sym->id);
    /* Not a token: llama.cpp looks each byte up as a one-byte text and
     * drops what it cannot find (never happens with a full byte alphabet). */
    for (uint32_t i = 0; i < sym->n; i++) {
        int32_t id = lc_vocab_lookup(v, t + sym->start + i, 1);
        if (id >= 0 && id < v->n_tokens && lc_tokens_push(out, id) < 0) return -1;
    }
    return 0;
}

/* One regex piece: map to byte-level form, then whole-token or merges. */
static int encode_word(const lc_vocab *v, lc_bpe_state *st, lc_merge_session *s,
                       const uint8_t *bytes, size_t n, lc_tokens *out) {
    if (2 * n > st->word_cap) {
        size_t cap = 4 * n + 64;
        char *p = realloc(st->word, cap);
        if (!p) return -1;
        st->word = p;
        st->word_cap = cap;
    }
    lc_merge_session_reset(s, st->word);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t b = bytes[i];
        memcpy(st->word + o, v->byte_map[b], v->byte_map_len[b]);
        if (lc_merge_session_add_symbol(s, (uint32_t)o, v->byte_map_len[b], v->byte_token[b]) < 0)
            return -1;
        o += v->byte_map_len[b];
    }
    if (v->ignore_merges) {
        int32_t id = lc_vocab_lookup(v, st->word, o);
        if (id >= 0 && id < v->n_tokens) return lc_tokens_push(out, id);
    }
    if (lc_merge_session_run(s) < 0) return -1;
    for (int32_t i = 0; i >= 0; i = s->sym[i].next) {
        if (emit_symbol(v, st->word, &s->sym[i], out) < 0) return -1;
    }
    return 0;
}

int lc_bpe_encode(const lc_vocab *v, lc_bpe_state *st, lc_merge_session *s, const char *text,
                  size_t len, lc_tokens *out, llamac_error *err) {
    const uint8_t *u = (const uint8_t *)text;
    size_t pos = 0;
    while (pos < len) {
        int rc = pcre2_match((const pcre2_code *)v->regex, u, len, pos, 0, st->md, NULL);
        size_t start = len, end = len;
        if (rc >= 0) {
            PCRE2_SIZE *ov = pcre2_get_ovector_pointer(st->md);
            start = ov[0];
            end = ov[1] > ov[0] ? ov[1] : ov[0] + 1; /* no empty pieces */
            if (end > len) end = len;
        } else if (rc != PCRE2_ERROR_NOMATCH) {
            return lc_fail(err, "tokenizer: regex match failed at byte %zu (pcre2 error %d)", pos,
                           rc);
        }
        /* Bytes the regex skipped are invalid UTF-8: a piece of their own. */
        if (start > pos && encode_word(v, st, s, u + pos, start - pos, out) < 0)
            return lc_fail(err, "tokenizer: out of memory");
        if (start < len && encode_word(v, st, s, u + start, end - start, out) < 0)
            return lc_fail(err, "tokenizer: out of memory");
        pos = end;
    }
    return 0;
}
