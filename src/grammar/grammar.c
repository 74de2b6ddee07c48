/* The public grammar object: a parsed grammar, the matcher's current state,
 * and the model's token texts sorted so that a walk over them matches each
 * shared prefix once.
 *
 * Filtering the vocabulary from state s: tokens in byte order, each
 * starting from the state reached after the prefix it shares with the one
 * before it (lcp[i]). When a token's byte k leads nowhere, every following
 * token that shares bytes 0..k with it is refused without work. So the
 * work is one transition per trie edge reached, and a transition is a
 * table lookup once the matcher has seen that state and byte. Results are
 * cached per state: generation revisits the same few states (inside a
 * string, after a comma), and those filters then cost a lookup. */
#include <stdlib.h>
#include <string.h>

#include "grammar/grammar.h"
#include "runtime/err.h"

#define MASK_SLOTS 32

struct llamac_grammar {
    lc_grammar_rules *rules;
    lc_matcher *m;
    int32_t state;
    bool done;
    /* vocabulary (n_vocab 0 without a model) */
    int32_t n_vocab;
    uint8_t *is_eog;
    char *bytes;          /* every token's text, concatenated */
    uint32_t *offset;     /* by token id: text at bytes[offset[t] .. offset[t+1]) */
    int32_t *sorted;      /* tokens with text, in byte order */
    uint32_t *lcp;        /* common prefix length with the token before in sorted */
    char *sorted_bytes;   /* their texts in that order, so the walk reads memory in order */
    uint32_t *sorted_off; /* n_sorted + 1 offsets into sorted_bytes */
    int32_t n_sorted;
    uint32_t max_len;
    int32_t *depth_state; /* walk scratch: state after k bytes */
    /* allowed-token masks cached by state */
    uint64_t *masks;      /* MASK_SLOTS * words */
    int32_t slot_state[MASK_SLOTS];
    int next_slot;
    size_t words;
    llamac_grammar_stats stats;
};

static const char *piece_of(const llamac_grammar *g, llamac_token t, uint32_t *len) {
    *len = g->offset[t + 1] - g->offset[t];
    return g->bytes + g->offset[t];
}

/* ---------------------------------------------------- vocabulary index */

typedef struct sort_entry {
    const char *text;
    uint32_t len;
    int32_t id;
} sort_entry;

static int compare_pieces(const void *a, const void *b) {
    const sort_entry *x = a, *y = b;
    int c = memcmp(x->text, y->text, x->len < y->len ? x->len : y->len);
    if (c) return c;
    if (x->len != y->len) return x->len < y->len ? -1 : 1;
    return x->id < y->id ? -1 : 1;
}

/* Orders g->sorted by token text (ties by id, so the order is total). */
static int sort_by_text(llamac_grammar *g) {
    sort_entry *e = malloc(((size_t)g->n_sorted + 1) * sizeof *e);
    if (!e) return -1;
    for (int32_t i = 0; i < g->n_sorted; i++) {
        e[i].id = g->sorted[i];
        e[i].text = piece_of(g, e[i].id, &e[i].len);
    }
    qsort(e, (size_t)g->n_sorted, sizeof *e, compare_pieces);
    for (int32_t i = 0; i < g->n_sorted; i++) g->sorted[i] = e[i].id;
    free(e);
    return 0;
}

static int index_vocabulary(llamac_grammar *g, const llamac_model *model, llamac_error *err) {
    int32_t n = llamac_n_vocab(model);
    g->n_vocab = n;
    g->words = ((size_t)n + 63) / 64;
    g->is_eog = calloc((size_t)n, 1);
    g->offset = malloc(((size_t)n + 1) * sizeof *g->offset);
    g->sorted = malloc((size_t)n * sizeof *g->sorted);
    g->lcp = malloc((size_t)n * sizeof *g->lcp);
    g->masks = malloc(MASK_SLOTS * g->words * sizeof *g->masks);
    if (!g->is_eog || !g->offset || !g->sorted || !g->lcp || !g->masks) return lc_fail(err, "out of memory");
    size_t total = 0, cap = (size_t)n * 8 + 64;
    g->bytes = malloc(cap);
    if (!g->bytes) return lc_fail(err, "out of memory");
    for (int32_t t = 0; t < n; t++) {
        g->offset[t] = (uint32_t)total;
        g->is_eog[t] = llamac_token_is_eog(model, t);
        if (g->is_eog[t]) continue; /* allowed by the grammar's end, not by text */
        size_t need = llamac_token_to_piece(model, t, false, NULL, 0);
        if (total + need > cap) {
            while (total + need > cap) cap *= 2;
            char *nb = realloc(g->bytes, cap);
            if (!nb) return lc_fail(err, "out of memory");
            g->bytes = nb;
        }
        llamac_token_to_piece(model, t, false, g->bytes + total, need);
        total += need;
        if (total > UINT32_MAX) return lc_fail(err, "vocabulary text too large");
        if (need > g->max_len) g->max_len = (uint32_t)need;
        if (need > 0) g->sorted[g->n_sorted++] = t;
    }
    g->offset[n] = (uint32_t)total;
    if (sort_by_text(g) < 0) return lc_fail(err, "out of memory");
    for (int32_t i = 0; i < g->n_sorted; i++) {
        uint32_t la = 0, lb, k = 0;
        const char *a = i ? piece_of(g, g->sorted[i - 1], &la) : NULL;
        const char *b = piece_of(g, g->sorted[i], &lb);
        while (k < la && k < lb && a[k] == b[k]) k++;
        g->lcp[i] = k;
    }
    g->sorted_bytes = malloc(total ? total : 1);
    g->sorted_off = malloc(((size_t)g->n_sorted + 1) * sizeof *g->sorted_off);
    if (!g->sorted_bytes || !g->sorted_off) return lc_fail(err, "out of memory");
    uint32_t at = 0;
    for (int32_t i = 0; i < g->n_sorted; i++) {
        uint32_t len;
        const char *text = piece_of(g, g->sorted[i], &len);
        g->sorted_off[i] = at;
        memcpy(g->sorted_bytes + at, text, len);
        at += len;
    }
    g->sorted_off[g->n_sorted] = at;
    g->depth_state = malloc(((size_t)g->max_len + 1) * sizeof *g->depth_state);
    if (!g->depth_state) return lc_fail(err, "out of memory");
    return 0;
}

/* ----------------------------------------------------------- life */

static void forget_masks(llamac_grammar *g) {
    for (int i = 0; i < MASK_SLOTS; i++) g->slot_state[i] = LC_STATE_DEAD;
}

llamac_grammar *llamac_grammar_create(const llamac_model *model, const char *gbnf, const char *root,
                                      llamac_error *err) {
    if (!gbnf) {
        lc_fail(err, "no grammar text");
        return NULL;
    }
    llamac_grammar *g = calloc(1, sizeof *g);
    if (!g) {
        lc_fail(err, "out of memory");
        return NULL;
    }
    forget_masks(g);
    g->rules = lc_grammar_parse(gbnf, strlen(gbnf), root, err);
    if (!g->rules) goto fail;
    g->m = lc_matcher_create(g->rules);
    if (!g->m) {
        lc_fail(err, "out of memory");
        goto fail;
    }
    g->state = lc_matcher_start(g->m);
    if (g->state == LC_STATE_DEAD) {
        const char *why = lc_matcher_error(g->m);
        lc_fail(err, "%s", why[0] ? why : "the grammar matches no text at all (every rule needs itself)");
        goto fail;
    }
    if (model && index_vocabulary(g, model, err) < 0) goto fail;
    return g;
fail:
    llamac_grammar_free(g);
    return NULL;
}

void llamac_grammar_free(llamac_grammar *g) {
    if (!g) return;
    lc_matcher_free(g->m);
    lc_grammar_rules_free(g->rules);
    free(g->is_eog);
    free(g->bytes);
    free(g->offset);
    free(g->sorted);
    free(g->lcp);
    free(g->sorted_bytes);
    free(g->sorted_off);
    free(g->depth_state);
    free(g->masks);
    free(g);
}

/* Between tokens: shrink the matcher's tables if they have grown large. */
static void maybe_compact(llamac_grammar *g) {
    if (!lc_matcher_needs_compact(g->m)) return;
    lc_matcher_compact(g->m, &g->state, 1);
    forget_masks(g);
}

void llamac_grammar_reset(llamac_grammar *g) {
    if (!g) return;
    g->done = false;
    maybe_compact(g);
    g->state = lc_matcher_start(g->m);
}

/* ------------------------------------------------------------ matching */

static int32_t walk_text(llamac_grammar *g, int32_t s, const char *text, size_t len) {
    for (size_t i = 0; i < len && s >= 0; i++) s = lc_matcher_step(g->m, s, (uint8_t)text[i]);
    return s;
}

bool llamac_grammar_accept_text(llamac_grammar *g, const char *text, size_t len) {
    if (!g || g->done || g->state < 0) return false;
    /* long texts in chunks, compacting between them (keeping the state to
     * return to if the text is refused) */
    int32_t keep[2] = {g->state, g->state};
    for (size_t at = 0; at < len;) {
        size_t n = len - at < 4096 ? len - at : 4096;
        keep[1] = walk_text(g, keep[1], text + at, n);
        if (keep[1] < 0) return false;
        at += n;
        if (lc_matcher_needs_compact(g->m)) {
            lc_matcher_compact(g->m, keep, 2);
            forget_masks(g);
            g->state = keep[0];
        }
    }
    g->state = keep[1];
    return true;
}

bool llamac_grammar_can_end(const llamac_grammar *g) {
    return g && !g->done && lc_matcher_accepting(g->m, g->state);
}

bool llamac_grammar_done(const llamac_grammar *g) { return g && g->done; }

static int32_t state_after_token(llamac_grammar *g, llamac_token tok) {
    if (g->done || g->state < 0 || tok < 0 || tok >= g->n_vocab || g->is_eog[tok]) return LC_STATE_DEAD;
    uint32_t len;
    const char *text = piece_of(g, tok, &len);
    if (len == 0) return LC_STATE_DEAD;
    return walk_text(g, g->state, text, len);
}

bool llamac_grammar_allows(llamac_grammar *g, llamac_token tok) {
    if (!g || tok < 0 || tok >= g->n_vocab) return false;
    g->stats.checks++;
    if (g->is_eog[tok]) return llamac_grammar_can_end(g);
    return state_after_token(g, tok) >= 0;
}

bool llamac_grammar_accept(llamac_grammar *g, llamac_token tok) {
    if (!g || tok < 0 || tok >= g->n_vocab) return false;
    if (g->is_eog[tok]) {
        if (!llamac_grammar_can_end(g)) return false;
        g->done = true;
        return true;
    }
    int32_t s = state_after_token(g, tok);
    if (s < 0) return false;
    g->state = s;
    maybe_compact(g);
    return true;
}

/* Fills `mask` with the tokens allowed from state s (see the top). */
static void filter_vocabulary(llamac_grammar *g, int32_t s, uint64_t *mask) {
    memset(mask, 0, g->words * sizeof *mask);
    int32_t *depth_state = g->depth_state;
    depth_state[0] = s;
    uint32_t valid = 0; /* depth_state[0..valid] hold for the previous token's prefix */
    const uint32_t *lcp = g->lcp, *off = g->sorted_off;
    for (int32_t i = 0; i < g->n_sorted; i++) {
        uint32_t d = lcp[i];
        if (d > valid) continue; /* shares the byte that failed the token before */
        llamac_token t = g->sorted[i];
        uint32_t len = off[i + 1] - off[i];
        const char *text = g->sorted_bytes + off[i];
        int32_t st = depth_state[d];
        uint32_t k = d;
        for (; k < len; k++) {
            st = lc_matcher_step(g->m, st, (uint8_t)text[k]);
            if (st < 0) break;
            depth_state[k + 1] = st;
        }
        valid = k;
        if (k == len) mask[t >> 6] |= 1ULL << (t & 63);
    }
    if (lc_matcher_accepting(g->m, s))
        for (int32_t t = 0; t < g->n_vocab; t++)
            if (g->is_eog[t]) mask[t >> 6] |= 1ULL << (t & 63);
}

const uint64_t *llamac_grammar_allowed(llamac_grammar *g) {
    if (!g || !g->n_vocab) return NULL;
    g->stats.filters++;
    int32_t s = g->done ? LC_STATE_DEAD : g->state;
    for (int i = 0; i < MASK_SLOTS; i++)
        if (g->slot_state[i] == s && s >= 0) {
            g->stats.filter_cached++;
            return g->masks + (size_t)i * g->words;
        }
    int64_t t0 = llamac_time_us();
    int slot = g->next_slot;
    g->next_slot = (g->next_slot + 1) % MASK_SLOTS;
    uint64_t *mask = g->masks + (size_t)slot * g->words;
    if (s < 0) {
        memset(mask, 0, g->words * sizeof *mask);
        g->slot_state[slot] = LC_STATE_DEAD;
    } else {
        filter_vocabulary(g, s, mask);
        g->slot_state[slot] = s;
    }
    g->stats.filter_us += llamac_time_us() - t0;
    return mask;
}

void llamac_grammar_stats_get(const llamac_grammar *g, llamac_grammar_stats *out) {
    memset(out, 0, sizeof *out);
    if (!g) return;
    *out = g->stats;
    out->states = lc_matcher_n_states(g->m);
}
