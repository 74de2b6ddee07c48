/* The pushdown matcher for parsed grammars (grammar.h).
 *
 * A parse stack is a chain of frames (pos, next): `pos` is the element to
 * match next in some alternative, `next` the frame to return to when that
 * alternative ends (NIL: the text may end). Frames are hash-consed, so a
 * stack is one frame id and equal stacks share it. A stack whose top
 * element is a character class is "ready"; expanding a stack replaces a
 * top reference by its alternatives and pops finished alternatives until
 * every result is ready or empty (empty = the whole grammar matched).
 *
 * A reference that ends its alternative does not push a return frame (the
 * caller's frame is reused), so `x*` written as R ::= x R runs in constant
 * stack depth. Expansion marks the frames it visits, so rules that can
 * match "" and cycles of tail references terminate; the parser has refused
 * the left recursion that would grow stacks forever.
 *
 * A state is the sorted set of ready stack ids, whether an empty stack was
 * among them, and the bytes of a UTF-8 character seen only in part (a
 * partial character is kept only while some stack's class can still match
 * a character that starts with those bytes). States are interned and each
 * keeps a 256-entry transition table filled on first use. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grammar/grammar.h"

#define NIL UINT32_MAX
#define MAX_READY_STACKS (1u << 16) /* per state; more is an error, not a stall */
#define COMPACT_NODES (1u << 21)
#define COMPACT_STATES (1u << 14)

typedef struct frame {
    uint32_t pos, next;
} frame;

typedef struct mstate {
    uint32_t first, count; /* ready stack ids in pool[] */
    uint32_t partial;      /* 0, or a partial UTF-8 character (encode_partial) */
    bool accepting;        /* an empty stack is in the set */
    bool stepped;          /* a transition was computed once: the next makes a table */
} mstate;

struct lc_matcher {
    struct lc_matcher_trans_view view; /* first: lc_matcher_step reads it */
    const lc_grammar_rules *g;
    frame *frames;
    uint32_t n_frames, cap_frames;
    uint32_t *frame_map; /* open addressing: frame -> id */
    uint32_t frame_map_cap;
    mstate *states;
    uint32_t n_states, cap_states;
    uint32_t *state_map;
    uint32_t state_map_cap;
    uint32_t *pool;
    size_t n_pool, cap_pool;
    /* expansion scratch */
    uint32_t *visited; /* by frame id: == epoch when seen this expansion */
    uint32_t cap_visited, epoch;
    uint32_t *work, *ready;
    size_t n_work, cap_work, n_ready, cap_ready;
    bool ready_accepting, oom;
    char error[160];
};

/* ------------------------------------------------------------ helpers */

static bool grow_array(void **arr, size_t *cap, size_t need, size_t size) {
    if (need <= *cap) return true;
    size_t c = *cap ? *cap : 64;
    while (c < need) c *= 2;
    void *n = realloc(*arr, c * size);
    if (!n) return false;
    *arr = n;
    *cap = c;
    return true;
}

static uint32_t mix32(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return (uint32_t)x;
}

static void set_error(lc_matcher *m, const char *msg) {
    if (!m->error[0]) snprintf(m->error, sizeof m->error, "%s", msg);
}

/* ------------------------------------------------------------- frames */

static bool rehash_frames(lc_matcher *m) {
    uint32_t cap = m->frame_map_cap ? m->frame_map_cap * 2 : 1024;
    uint32_t *map = malloc((size_t)cap * sizeof *map);
    if (!map) return false;
    memset(map, 0xff, (size_t)cap * sizeof *map);
    for (uint32_t id = 0; id < m->n_frames; id++) {
        uint32_t i = mix32(((uint64_t)m->frames[id].pos << 32) | m->frames[id].next) & (cap - 1);
        while (map[i] != NIL) i = (i + 1) & (cap - 1);
        map[i] = id;
    }
    free(m->frame_map);
    m->frame_map = map;
    m->frame_map_cap = cap;
    return true;
}

/* The id of frame (pos, next), made if new; NIL when out of memory. */
static uint32_t intern_frame(lc_matcher *m, uint32_t pos, uint32_t next) {
    if ((size_t)(m->n_frames + 1) * 2 > m->frame_map_cap && !rehash_frames(m)) return m->oom = true, NIL;
    uint32_t i = mix32(((uint64_t)pos << 32) | next) & (m->frame_map_cap - 1);
    for (; m->frame_map[i] != NIL; i = (i + 1) & (m->frame_map_cap - 1)) {
        const frame *f = &m->frames[m->frame_map[i]];
        if (f->pos == pos && f->next == next) return m->frame_map[i];
    }
    size_t cap = m->cap_frames;
    if (!grow_array((void **)&m->frames, &cap, (size_t)m->n_frames + 1, sizeof *m->frames)) return m->oom = true, NIL;
    m->cap_frames = (uint32_t)cap;
    m->frames[m->n_frames] = (frame){pos, next};
    m->frame_map[i] = m->n_frames;
    return m->n_frames++;
}

/* ---------------------------------------------------------- expansion */

static void push_work(lc_matcher *m, uint32_t id) {
    if (!grow_array((void **)&m->work, &m->cap_work, m->n_work + 1, sizeof *m->work)) {
        m->oom = true;
        return;
    }
    m->work[m->n_work++] = id;
}

/* Continue at element `pos` with return frame `next`: an alternative that
 * is already over returns at once, without making a frame. */
static void push_continuation(lc_matcher *m, uint32_t pos, uint32_t next) {
    if (m->g->elems[pos].kind == LC_GE_END) {
        if (next == NIL) m->ready_accepting = true;
        else push_work(m, next);
        return;
    }
    uint32_t id = intern_frame(m, pos, next);
    if (id != NIL) push_work(m, id);
}

static void begin_expansion(lc_matcher *m) {
    m->n_work = 0;
    m->n_ready = 0;
    m->ready_accepting = false;
    if (++m->epoch == 0) { /* wrapped: forget all marks */
        memset(m->visited, 0, (size_t)m->cap_visited * sizeof *m->visited);
        m->epoch = 1;
    }
}

/* Expands everything on the work list into m->ready. */
static void run_expansion(lc_matcher *m) {
    const lc_grammar_rules *g = m->g;
    while (m->n_work > 0 && !m->oom) {
        uint32_t id = m->work[--m->n_work];
        if (id >= m->cap_visited) {
            size_t cap = m->cap_visited;
            size_t old = cap;
            if (!grow_array((void **)&m->visited, &cap, (size_t)m->n_frames + 1, sizeof *m->visited)) {
                m->oom = true;
                return;
            }
            memset(m->visited + old, 0, (cap - old) * sizeof *m->visited);
            m->cap_visited = (uint32_t)cap;
        }
        if (m->visited[id] == m->epoch) continue;
        m->visited[id] = m->epoch;
        frame f = m->frames[id];
        lc_gelem e = g->elems[f.pos];
        if (e.kind == LC_GE_CLASS) {
            if (!grow_array((void **)&m->ready, &m->cap_ready, m->n_ready + 1, sizeof *m->ready)) {
                m->oom = true;
                return;
            }
            m->ready[m->n_ready++] = id;
        } else if (e.kind == LC_GE_REF) {
            uint32_t cont = f.next;
            if (g->elems[f.pos + 1].kind != LC_GE_END) {
                cont = intern_frame(m, f.pos + 1, f.next);
                if (cont == NIL) return;
            }
            for (uint32_t a = g->rule_alts[e.arg]; a < g->rule_alts[e.arg + 1]; a++)
                push_continuation(m, g->alt_start[a], cont);
        } else if (f.next == NIL) {
            m->ready_accepting = true;
        } else {
            push_work(m, f.next);
        }
    }
}

/* ------------------------------------------------------------- states */

static uint32_t hash_state(const uint32_t *ids, uint32_t n, uint32_t partial, bool accepting) {
    uint64_t h = ((uint64_t)partial << 1) ^ accepting ^ ((uint64_t)n << 40);
    for (uint32_t i = 0; i < n; i++) h = (h ^ ids[i]) * 0x100000001b3ULL;
    return mix32(h);
}

static bool state_equals(const lc_matcher *m, const mstate *s, const uint32_t *ids, uint32_t n,
                         uint32_t partial, bool accepting) {
    return s->count == n && s->partial == partial && s->accepting == accepting &&
           !memcmp(m->pool + s->first, ids, (size_t)n * sizeof *ids);
}

static bool rehash_states(lc_matcher *m) {
    uint32_t cap = m->state_map_cap ? m->state_map_cap * 2 : 256;
    uint32_t *map = malloc((size_t)cap * sizeof *map);
    if (!map) return false;
    memset(map, 0xff, (size_t)cap * sizeof *map);
    for (uint32_t id = 0; id < m->n_states; id++) {
        const mstate *s = &m->states[id];
        uint32_t i = hash_state(m->pool + s->first, s->count, s->partial, s->accepting) & (cap - 1);
        while (map[i] != NIL) i = (i + 1) & (cap - 1);
        map[i] = id;
    }
    free(m->state_map);
    m->state_map = map;
    m->state_map_cap = cap;
    return true;
}

static int compare_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* The state id for a sorted id list; `ids` must not point into pool. */
static int32_t intern_state(lc_matcher *m, const uint32_t *ids, uint32_t n, uint32_t partial, bool accepting) {
    if (n == 0 && !accepting) return LC_STATE_DEAD;
    if ((size_t)(m->n_states + 1) * 2 > m->state_map_cap && !rehash_states(m)) return m->oom = true, LC_STATE_DEAD;
    uint32_t i = hash_state(ids, n, partial, accepting) & (m->state_map_cap - 1);
    for (; m->state_map[i] != NIL; i = (i + 1) & (m->state_map_cap - 1))
        if (state_equals(m, &m->states[m->state_map[i]], ids, n, partial, accepting)) return (int32_t)m->state_map[i];
    if (m->n_states >= INT32_MAX - 1) return m->oom = true, LC_STATE_DEAD;
    size_t cap = m->cap_states;
    if (!grow_array((void **)&m->states, &cap, (size_t)m->n_states + 1, sizeof *m->states)) return m->oom = true, LC_STATE_DEAD;
    size_t tcap = m->cap_states;
    if (!grow_array((void **)&m->view.trans, &tcap, (size_t)m->n_states + 1, sizeof *m->view.trans))
        return m->oom = true, LC_STATE_DEAD;
    m->cap_states = (uint32_t)cap;
    if (!grow_array((void **)&m->pool, &m->cap_pool, m->n_pool + n, sizeof *m->pool)) return m->oom = true, LC_STATE_DEAD;
    memcpy(m->pool + m->n_pool, ids, (size_t)n * sizeof *ids);
    m->states[m->n_states] = (mstate){(uint32_t)m->n_pool, n, partial, accepting, false};
    m->view.trans[m->n_states] = NULL;
    m->n_pool += n;
    m->state_map[i] = m->n_states;
    return (int32_t)m->n_states++;
}

/* Interns the result of an expansion (m->ready, m->ready_accepting). */
static int32_t finish_expansion(lc_matcher *m) {
    if (m->oom) {
        set_error(m, "out of memory while matching the grammar");
        return LC_STATE_DEAD;
    }
    if (m->n_ready > MAX_READY_STACKS) {
        set_error(m, "the grammar is too ambiguous: more than 65536 parse stacks at once");
        return LC_STATE_DEAD;
    }
    qsort(m->ready, m->n_ready, sizeof *m->ready, compare_u32);
    return intern_state(m, m->ready, (uint32_t)m->n_ready, 0, m->ready_accepting);
}

/* The state after the complete character `cp` from the ready stacks of `s`. */
static int32_t advance_char(lc_matcher *m, int32_t s, uint32_t cp) {
    begin_expansion(m);
    const mstate st = m->states[s];
    for (uint32_t i = 0; i < st.count; i++) {
        frame f = m->frames[m->pool[st.first + i]];
        if (lc_gclass_matches(m->g, m->g->elems[f.pos].arg, cp)) push_continuation(m, f.pos + 1, f.next);
    }
    run_expansion(m);
    return finish_expansion(m);
}

/* ------------------------------------------------------------- UTF-8 */

/* partial = bits | need << 24 | len << 28, where `bits` are the payload of
 * the bytes seen, `need` the continuation bytes still to come and `len`
 * the character's full length (2..4). */
static uint32_t encode_partial(uint32_t bits, uint32_t need, uint32_t len) {
    return bits | need << 24 | len << 28;
}

static const uint32_t utf8_min[5] = {0, 0, 0x80, 0x800, 0x10000};
static const uint32_t utf8_max[5] = {0, 0x7F, 0x7FF, 0xFFFF, 0x10FFFF};

/* A state for a character begun but not finished: alive only if some
 * ready stack can match a character in the range those bytes still allow. */
static int32_t partial_state(lc_matcher *m, int32_t s, uint32_t bits, uint32_t need, uint32_t len) {
    uint32_t lo = bits << (6 * need), hi = lo | ((1u << (6 * need)) - 1);
    if (lo < utf8_min[len]) lo = utf8_min[len];
    if (hi > utf8_max[len]) hi = utf8_max[len];
    if (lo > hi) return LC_STATE_DEAD;
    const mstate st = m->states[s];
    bool alive = false;
    for (uint32_t i = 0; i < st.count && !alive; i++)
        alive = lc_gclass_matches_any(m->g, m->g->elems[m->frames[m->pool[st.first + i]].pos].arg, lo, hi);
    if (!alive) return LC_STATE_DEAD;
    /* copy out of the pool: interning may move it */
    if (!grow_array((void **)&m->ready, &m->cap_ready, st.count, sizeof *m->ready)) return LC_STATE_DEAD;
    memcpy(m->ready, m->pool + st.first, (size_t)st.count * sizeof *m->ready);
    return intern_state(m, m->ready, st.count, encode_partial(bits, need, len), false);
}

static int32_t compute_step(lc_matcher *m, int32_t s, uint8_t b) {
    uint32_t partial = m->states[s].partial;
    if (partial == 0) {
        if (b < 0x80) return advance_char(m, s, b);
        if (b >= 0xC2 && b <= 0xDF) return partial_state(m, s, b & 0x1Fu, 1, 2);
        if (b >= 0xE0 && b <= 0xEF) return partial_state(m, s, b & 0x0Fu, 2, 3);
        if (b >= 0xF0 && b <= 0xF4) return partial_state(m, s, b & 0x07u, 3, 4);
        return LC_STATE_DEAD;
    }
    if ((b & 0xC0) != 0x80) return LC_STATE_DEAD;
    uint32_t bits = ((partial & 0xFFFFFFu) << 6) | (b & 0x3Fu);
    uint32_t need = ((partial >> 24) & 0xF) - 1, len = partial >> 28;
    if (need > 0) return partial_state(m, s, bits, need, len);
    if (bits < utf8_min[len] || bits > 0x10FFFF || (bits >= 0xD800 && bits <= 0xDFFF)) return LC_STATE_DEAD;
    return advance_char(m, s, bits);
}

int32_t lc_matcher_step_slow(lc_matcher *m, int32_t s, uint8_t b) {
    if (s < 0) return LC_STATE_DEAD;
    /* A state left after one step (a long literal fed as text) gets no
     * table: 1 KiB each would add up. A second step makes one. */
    if (!m->view.trans[s] && !m->states[s].stepped) {
        m->states[s].stepped = true;
        int32_t next = compute_step(m, s, b);
        if (m->oom) set_error(m, "out of memory while matching the grammar");
        return next;
    }
    if (!m->view.trans[s]) {
        int32_t *t = malloc(256 * sizeof *t);
        if (!t) {
            set_error(m, "out of memory while matching the grammar");
            return LC_STATE_DEAD;
        }
        for (int i = 0; i < 256; i++) t[i] = LC_TRANS_UNKNOWN;
        m->view.trans[s] = t;
    }
    int32_t next = compute_step(m, s, b);
    if (m->oom) set_error(m, "out of memory while matching the grammar");
    m->view.trans[s][b] = next; /* re-read: interning may have moved the table */
    return next;
}

/* ------------------------------------------------------------- public */

lc_matcher *lc_matcher_create(const lc_grammar_rules *g) {
    lc_matcher *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    m->g = g;
    return m;
}

static void free_tables(lc_matcher *m) {
    for (uint32_t i = 0; i < m->n_states; i++) free(m->view.trans[i]);
    free(m->view.trans);
    free(m->frames);
    free(m->frame_map);
    free(m->states);
    free(m->state_map);
    free(m->pool);
    free(m->visited);
    m->view.trans = NULL;
    m->frames = NULL;
    m->frame_map = NULL;
    m->states = NULL;
    m->state_map = NULL;
    m->pool = NULL;
    m->visited = NULL;
    m->n_frames = m->cap_frames = m->frame_map_cap = 0;
    m->n_states = m->cap_states = m->state_map_cap = 0;
    m->n_pool = m->cap_pool = 0;
    m->cap_visited = m->epoch = 0;
}

void lc_matcher_free(lc_matcher *m) {
    if (!m) return;
    free_tables(m);
    free(m->work);
    free(m->ready);
    free(m);
}

int32_t lc_matcher_start(lc_matcher *m) {
    const lc_grammar_rules *g = m->g;
    begin_expansion(m);
    for (uint32_t a = g->rule_alts[g->root]; a < g->rule_alts[g->root + 1]; a++)
        push_continuation(m, g->alt_start[a], NIL);
    run_expansion(m);
    return finish_expansion(m);
}

bool lc_matcher_accepting(const lc_matcher *m, int32_t s) {
    return s >= 0 && m->states[s].accepting && m->states[s].partial == 0;
}

bool lc_matcher_needs_compact(const lc_matcher *m) {
    return m->n_frames > COMPACT_NODES || m->n_states > COMPACT_STATES;
}

/* The ready stacks of `s` as position lists, top first, each closed by
 * NIL, appended to *chains. */
static bool export_stacks(const lc_matcher *m, int32_t s, uint32_t **chains, size_t *n, size_t *cap) {
    const mstate st = m->states[s];
    for (uint32_t i = 0; i < st.count; i++) {
        for (uint32_t id = m->pool[st.first + i];; id = m->frames[id].next) {
            if (!grow_array((void **)chains, cap, *n + 1, sizeof **chains)) return false;
            if (id == NIL) break;
            (*chains)[(*n)++] = m->frames[id].pos;
        }
        (*chains)[(*n)++] = NIL;
    }
    return true;
}

/* Rebuilds a state from its exported stacks at chains[*at...]. */
static int32_t import_state(lc_matcher *m, const uint32_t *chains, size_t *at, uint32_t count, uint32_t partial,
                            bool accepting) {
    m->n_ready = 0;
    for (uint32_t k = 0; k < count; k++) {
        size_t end = *at;
        while (chains[end] != NIL) end++;
        uint32_t id = NIL;
        for (size_t j = end; j > *at; j--) id = intern_frame(m, chains[j - 1], id);
        if (grow_array((void **)&m->ready, &m->cap_ready, m->n_ready + 1, sizeof *m->ready))
            m->ready[m->n_ready++] = id;
        else
            m->oom = true;
        *at = end + 1;
    }
    if (m->oom) return LC_STATE_DEAD;
    qsort(m->ready, m->n_ready, sizeof *m->ready, compare_u32);
    return intern_state(m, m->ready, (uint32_t)m->n_ready, partial, accepting);
}

void lc_matcher_compact(lc_matcher *m, int32_t *states, int n) {
    uint32_t *chains = NULL;
    size_t len = 0, cap = 0;
    mstate kept[4];
    if (n > 4) return;
    for (int i = 0; i < n; i++) {
        if (states[i] < 0) continue;
        kept[i] = m->states[states[i]];
        if (!export_stacks(m, states[i], &chains, &len, &cap)) {
            free(chains);
            return; /* keep the big tables rather than lose a state */
        }
    }
    free_tables(m);
    m->oom = false;
    size_t at = 0;
    for (int i = 0; i < n; i++)
        if (states[i] >= 0)
            states[i] = import_state(m, chains, &at, kept[i].count, kept[i].partial, kept[i].accepting);
    free(chains);
}

const char *lc_matcher_error(const lc_matcher *m) { return m->error; }
uint32_t lc_matcher_n_states(const lc_matcher *m) { return m->n_states; }
