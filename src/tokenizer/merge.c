/* The merge loop shared by SPM and BPE: a doubly linked list of symbols
 * over the text and a max-heap of candidate adjacent pairs. A queued pair
 * goes stale when either side has changed since it was queued; symbols
 * only ever grow to the right, so "both alive and the combined length is
 * still the queued length" is exactly "both texts unchanged". */
#include <stdlib.h>

#include "tokenizer/vocab_internal.h"

void lc_merge_session_init(lc_merge_session *s, const lc_vocab *v) {
    s->v = v;
    s->text = NULL;
    s->sym = NULL;
    s->n_sym = s->cap_sym = 0;
    s->heap = NULL;
    s->n_heap = s->cap_heap = 0;
}

void lc_merge_session_free(lc_merge_session *s) {
    free(s->sym);
    free(s->heap);
    lc_merge_session_init(s, s->v);
}

void lc_merge_session_reset(lc_merge_session *s, const char *text) {
    s->text = text;
    s->n_sym = 0;
    s->n_heap = 0;
}

int lc_merge_session_add_symbol(lc_merge_session *s, uint32_t start, uint32_t n, int32_t id) {
    if (s->n_sym == s->cap_sym) {
        size_t cap = s->cap_sym ? s->cap_sym * 2 : 64;
        lc_symbol *p = realloc(s->sym, cap * sizeof *p);
        if (!p) return -1;
        s->sym = p;
        s->cap_sym = cap;
    }
    int32_t index = (int32_t)s->n_sym;
    lc_symbol *sym = &s->sym[s->n_sym++];
    sym->start = start;
    sym->n = n;
    sym->prev = index - 1;
    sym->next = -1;
    sym->id = id;
    if (index > 0) s->sym[index - 1].next = index;
    return 0;
}

/* Heap order: higher priority first; equal priority -> leftmost first. */
static bool bigram_before(const lc_bigram *a, const lc_bigram *b) {
    if (a->priority != b->priority) return a->priority > b->priority;
    return a->left < b->left;
}

static int heap_push(lc_merge_session *s, const lc_bigram *b) {
    if (s->n_heap == s->cap_heap) {
        size_t cap = s->cap_heap ? s->cap_heap * 2 : 64;
        lc_bigram *p = realloc(s->heap, cap * sizeof *p);
        if (!p) return -1;
        s->heap = p;
        s->cap_heap = cap;
    }
    size_t i = s->n_heap++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!bigram_before(b, &s->heap[parent])) break;
        s->heap[i] = s->heap[parent];
        i = parent;
    }
    s->heap[i] = *b;
    return 0;
}

static lc_bigram heap_pop(lc_merge_session *s) {
    lc_bigram top = s->heap[0];
    lc_bigram last = s->heap[--s->n_heap];
    size_t n = s->n_heap, i = 0;
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= n) break;
        if (child + 1 < n && bigram_before(&s->heap[child + 1], &s->heap[child])) child++;
        if (!bigram_before(&s->heap[child], &last)) break;
        s->heap[i] = s->heap[child];
        i = child;
    }
    if (n > 0) s->heap[i] = last;
    return top;
}

static const lc_merge_entry *find_merge(const lc_merge_table *t, int32_t left, int32_t right) {
    if (!t->slots) return NULL;
    uint64_t key = (uint64_t)(uint32_t)left << 32 | (uint32_t)right;
    uint64_t h = key * 0x9E3779B97F4A7C15ull;
    for (uint32_t i = (uint32_t)(h >> 32) & t->mask;; i = (i + 1) & t->mask) {
        const lc_merge_entry *e = &t->slots[i];
        if (e->key == key) return e;
        if (e->key == UINT64_MAX) return NULL;
    }
}

/* SPM: the pair is a candidate when its concatenated text is a token. */
static bool spm_pair(const lc_merge_session *s, const lc_symbol *l, const lc_symbol *r,
                     lc_bigram *b) {
    const lc_vocab *v = s->v;
    int32_t id = lc_vocab_lookup(v, s->text + l->start, (size_t)l->n + r->n);
    if (id < 0 || id >= v->n_tokens) return false;
    b->priority = v->scores[id];
    b->result = id;
    return true;
}

/* BPE: the pair is a candidate when the merge table has it. */
static bool bpe_pair(const lc_merge_session *s, const lc_symbol *l, const lc_symbol *r,
                     lc_bigram *b) {
    if (l->id < 0 || r->id < 0) return false;
    const lc_merge_entry *e = find_merge(&s->v->merges, l->id, r->id);
    if (!e) return false;
    b->priority = -(float)e->rank; /* exact: ranks are capped at 2^24 */
    b->result = e->result;
    return true;
}

static int try_pair(lc_merge_session *s, int32_t left, int32_t right) {
    if (left < 0 || right < 0) return 0;
    const lc_symbol *l = &s->sym[left], *r = &s->sym[right];
    lc_bigram b;
    bool ok = s->v->kind == LC_VOCAB_SPM ? spm_pair(s, l, r, &b) : bpe_pair(s, l, r, &b);
    if (!ok) return 0;
    b.left = left;
    b.right = right;
    b.size = l->n + r->n;
    return heap_push(s, &b);
}

int lc_merge_session_run(lc_merge_session *s) {
    for (size_t i = 1; i < s->n_sym; i++) {
        if (try_pair(s, (int32_t)i - 1, (int32_t)i) < 0) return -1;
    }
    while (s->n_heap > 0) {
        lc_bigram b = heap_pop(s);
        lc_symbol *l = &s->sym[b.left], *r = &s->sym[b.right];
        if (l->n == 0 || r->n == 0 || l->n + r->n != b.size) continue;
        l->n += r->n;
        l->id = b.result;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0) s->sym[r->next].prev = b.left;
        if (try_pair(s, l->prev, b.left) < 0 || try_pair(s, b.left, l->next) < 0) return -1;
    }
    return 0;
}
