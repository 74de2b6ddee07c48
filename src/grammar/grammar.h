/* GBNF grammars inside the engine: the parsed form (parse.c) and the
 * pushdown matcher that advances over UTF-8 bytes (match.c). The public
 * object that ties a grammar to a vocabulary is in grammar.c.
 *
 * Parsed form. Every rule is a list of alternatives; an alternative is a
 * run of elements in one flat array closed by an END element. An element
 * is a character class (a literal character is a one-range class) or a
 * reference to a rule. Groups and repetitions are rewritten into generated
 * rules at parse time, so the matcher knows only classes and references:
 *
 *     x*      ->  R ::= x R |
 *     x{m,n}  ->  x ... x (m times) then S(n-m), S(k) ::= x S(k-1) |
 *
 * The nested optional form keeps x{0,n} unambiguous (one parse per text). */
#ifndef LC_GRAMMAR_H
#define LC_GRAMMAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "llamac.h"

enum { LC_GE_END = 0, LC_GE_CLASS = 1, LC_GE_REF = 2 };

typedef struct lc_gelem {
    uint32_t kind; /* LC_GE_* */
    uint32_t arg;  /* class index or rule index */
} lc_gelem;

typedef struct lc_grange {
    uint32_t lo, hi; /* code points, inclusive */
} lc_grange;

/* Ranges are sorted and merged at parse time; a negated class matches the
 * code points outside them ("." is a negated class with no ranges). */
typedef struct lc_gclass {
    uint32_t first, count; /* into ranges */
    bool negated;
} lc_gclass;

typedef struct lc_grammar_rules {
    lc_gelem *elems;
    uint32_t n_elems;
    uint32_t *alt_start;  /* element index where each alternative begins */
    uint32_t *rule_alts;  /* rule r owns alt_start[rule_alts[r] .. rule_alts[r+1]) */
    uint32_t n_rules;
    lc_grange *ranges;
    lc_gclass *classes;
    uint32_t n_classes;
    uint32_t root;
} lc_grammar_rules;

/* Limits that keep hostile grammars bounded (errors, not crashes). */
#define LC_GRAMMAR_MAX_TEXT (16u << 20)      /* bytes of GBNF text */
#define LC_GRAMMAR_MAX_ELEMS (8u << 20)      /* elements after expansion */
#define LC_GRAMMAR_MAX_NESTING 256           /* parentheses */
#define LC_GRAMMAR_MAX_REPEAT 10000          /* m and n of {m,n} */

/* Parses GBNF text. `root` names the start rule (NULL: "root"). Errors say
 * "line L, column C: ..." and are refused: syntax, bad escapes, undefined
 * rules, left recursion, limits. */
lc_grammar_rules *lc_grammar_parse(const char *text, size_t len, const char *root,
                                   llamac_error *err);
void lc_grammar_rules_free(lc_grammar_rules *g);

bool lc_gclass_matches(const lc_grammar_rules *g, uint32_t cls, uint32_t cp);
/* Whether the class matches some code point in [lo, hi]. */
bool lc_gclass_matches_any(const lc_grammar_rules *g, uint32_t cls, uint32_t lo, uint32_t hi);

/* ------------------------------------------------------------ matcher */

/* The matcher's states are sets of parse stacks plus the bytes of a UTF-8
 * character not yet complete. Stacks are hash-consed linked frames, so two
 * equal stacks are one id and a set of stacks is a sorted id list; equal
 * sets are one state id. Transitions (state, byte) -> state are computed
 * once and kept, so walking the vocabulary repeats no grammar work for a
 * state already seen. */
typedef struct lc_matcher lc_matcher;

#define LC_STATE_DEAD (-1)

lc_matcher *lc_matcher_create(const lc_grammar_rules *g);
void lc_matcher_free(lc_matcher *m);
/* The state before any input; LC_STATE_DEAD if the grammar matches nothing
 * or a limit was hit (lc_matcher_error says which). */
int32_t lc_matcher_start(lc_matcher *m);
/* The state after one more byte, or LC_STATE_DEAD. */
int32_t lc_matcher_step_slow(lc_matcher *m, int32_t state, uint8_t byte);
static inline int32_t lc_matcher_step(lc_matcher *m, int32_t state, uint8_t byte);
/* Whether the text may end in this state (a complete parse, no partial
 * character). */
bool lc_matcher_accepting(const lc_matcher *m, int32_t state);
/* Whether the tables have grown past their limits: the caller should
 * compact at the next token boundary. */
bool lc_matcher_needs_compact(const lc_matcher *m);
/* Drops every state and frame except what states[0..n) (n <= 4) need and
 * rewrites those ids; all other state ids become invalid. */
void lc_matcher_compact(lc_matcher *m, int32_t *states, int n);
/* Non-empty when a limit turned a state dead (e.g. too many stacks). */
const char *lc_matcher_error(const lc_matcher *m);
uint32_t lc_matcher_n_states(const lc_matcher *m);

/* The transition table is read inline in the vocabulary walk. */
struct lc_matcher_trans_view {
    int32_t **trans; /* per state: 256 entries, or NULL until first use */
};
#define LC_TRANS_UNKNOWN (-2)

static inline int32_t lc_matcher_step(lc_matcher *m, int32_t state, uint8_t byte) {
    int32_t **trans = ((struct lc_matcher_trans_view *)m)->trans;
    const int32_t *t = trans[state];
    if (t && t[byte] != LC_TRANS_UNKNOWN) return t[byte];
    return lc_matcher_step_slow(m, state, byte);
}

#endif
