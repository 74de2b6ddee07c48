/* GBNF parser: text -> lc_grammar_rules (grammar.h describes the form).
 *
 * Syntax (the format of llama.cpp's grammars/README.md):
 *   rule      name ::= alternatives         names are [A-Za-z0-9_-]+
 *   alts      seq | seq | ...               a leading empty alternative is allowed
 *   atoms     "literal"  [class]  [^class]  .  name  ( alternatives )
 *   postfix   *  +  ?  {m}  {m,}  {m,n}
 *   escapes   \xHH \uHHHH \UHHHHHHHH \t \r \n \\ \" \[ \]
 *   comments  # to the end of the line
 * A newline ends a rule, except inside parentheses and after '|'; a line
 * that starts with '|' also continues the rule above.
 *
 * Every error is one line "line L, column C: what". Recursion depth is
 * bounded by LC_GRAMMAR_MAX_NESTING, sizes by the other limits in
 * grammar.h, and the checks after parsing (nullable rules, left recursion)
 * are linear-time and iterative, so a hostile grammar gets an error or a
 * bounded amount of work. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grammar/grammar.h"
#include "runtime/err.h"
#include "tokenizer/utf8.h"

#define NO_RULE UINT32_MAX
#define UNBOUNDED UINT32_MAX

typedef struct prule {
    char *name;        /* NULL for rules made from groups and repetitions */
    lc_gelem *elems;   /* alternatives, each closed by END */
    uint32_t n, cap;
    bool defined;
    size_t where;      /* text offset of the definition, or of the first reference */
    uint32_t origin;   /* the named rule whose text produced this one */
} prule;

typedef struct parser {
    const char *s;
    size_t len, pos;
    prule *rules;
    uint32_t n_rules, cap_rules;
    lc_grange *ranges;
    uint32_t n_ranges, cap_ranges;
    lc_gclass *classes;
    uint32_t n_classes, cap_classes;
    uint32_t *map; /* open addressing: name -> rule index */
    size_t map_cap;
    size_t total_elems;
    int depth;
    bool failed;
    llamac_error *err;
} parser;

/* ------------------------------------------------------------ errors */

static void where_to_line_col(const parser *p, size_t off, size_t *line, size_t *col) {
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < off && i < p->len; i++) {
        if (p->s[i] == '\n') {
            (*line)++;
            *col = 1;
        } else if (((unsigned char)p->s[i] & 0xC0) != 0x80) {
            (*col)++;
        }
    }
}

static bool fail_at(parser *p, size_t off, const char *fmt, const char *arg) {
    if (p->failed) return false;
    p->failed = true;
    size_t line, col;
    where_to_line_col(p, off, &line, &col);
    char what[256];
    snprintf(what, sizeof what, fmt, arg ? arg : "");
    lc_fail(p->err, "line %zu, column %zu: %s", line, col, what);
    return false;
}

static bool fail(parser *p, const char *fmt, const char *arg) { return fail_at(p, p->pos, fmt, arg); }

/* --------------------------------------------------------- growing arrays */

static bool grow(parser *p, void **arr, uint32_t *cap, uint32_t need, size_t size) {
    if (need <= *cap) return true;
    uint32_t c = *cap ? *cap : 8;
    while (c < need) {
        if (c > UINT32_MAX / 2) return fail(p, "%sgrammar too large", "");
        c *= 2;
    }
    void *n = realloc(*arr, (size_t)c * size);
    if (!n) return fail(p, "%sout of memory", "");
    *arr = n;
    *cap = c;
    return true;
}

static bool emit(parser *p, uint32_t r, uint32_t kind, uint32_t arg) {
    prule *R = &p->rules[r];
    if (++p->total_elems > LC_GRAMMAR_MAX_ELEMS)
        return fail(p, "%sgrammar too large after expanding repetitions (over 8M elements)", "");
    if (!grow(p, (void **)&R->elems, &R->cap, R->n + 1, sizeof *R->elems)) return false;
    R->elems[R->n++] = (lc_gelem){kind, arg};
    return true;
}

static uint32_t new_rule(parser *p, char *name, size_t where, uint32_t origin) {
    if (!grow(p, (void **)&p->rules, &p->cap_rules, p->n_rules + 1, sizeof *p->rules)) {
        free(name);
        return NO_RULE;
    }
    uint32_t r = p->n_rules++;
    p->rules[r] = (prule){.name = name, .where = where, .origin = origin == NO_RULE ? r : origin};
    return r;
}

/* A class from code point ranges: sorted and merged so that matching and
 * the negated "any in range" test are one ordered walk. */
static int compare_ranges(const void *a, const void *b) {
    const lc_grange *x = a, *y = b;
    return x->lo < y->lo ? -1 : x->lo > y->lo;
}

static uint32_t finish_class(parser *p, uint32_t first, bool negated) {
    uint32_t n = p->n_ranges - first, out = 0;
    lc_grange *r = n ? p->ranges + first : NULL; /* "." has no ranges (and maybe no array yet) */
    if (n) qsort(r, n, sizeof *r, compare_ranges);
    for (uint32_t i = 0; i < n; i++) {
        if (out > 0 && r[i].lo <= r[out - 1].hi + 1) {
            if (r[i].hi > r[out - 1].hi) r[out - 1].hi = r[i].hi;
        } else {
            r[out++] = r[i];
        }
    }
    p->n_ranges = first + out;
    if (!grow(p, (void **)&p->classes, &p->cap_classes, p->n_classes + 1, sizeof *p->classes))
        return NO_RULE;
    p->classes[p->n_classes] = (lc_gclass){first, out, negated};
    return p->n_classes++;
}

static bool add_range(parser *p, uint32_t lo, uint32_t hi) {
    if (!grow(p, (void **)&p->ranges, &p->cap_ranges, p->n_ranges + 1, sizeof *p->ranges)) return false;
    p->ranges[p->n_ranges++] = (lc_grange){lo, hi};
    return true;
}

static bool emit_char(parser *p, uint32_t r, uint32_t cp) {
    uint32_t first = p->n_ranges;
    if (!add_range(p, cp, cp)) return false;
    uint32_t c = finish_class(p, first, false);
    return c != NO_RULE && emit(p, r, LC_GE_CLASS, c);
}

/* ------------------------------------------------------------ names */

static uint64_t hash_name(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
    return h;
}

static bool map_insert(parser *p, uint32_t r);

static bool map_grow(parser *p) {
    size_t old_cap = p->map_cap;
    uint32_t *old = p->map;
    p->map_cap = old_cap ? old_cap * 2 : 64;
    p->map = malloc(p->map_cap * sizeof *p->map);
    if (!p->map) {
        p->map = old;
        p->map_cap = old_cap;
        return fail(p, "%sout of memory", "");
    }
    for (size_t i = 0; i < p->map_cap; i++) p->map[i] = NO_RULE;
    for (size_t i = 0; i < old_cap; i++)
        if (old[i] != NO_RULE) map_insert(p, old[i]);
    free(old);
    return true;
}

static bool map_insert(parser *p, uint32_t r) {
    const char *name = p->rules[r].name;
    size_t i = hash_name(name, strlen(name)) & (p->map_cap - 1);
    while (p->map[i] != NO_RULE) i = (i + 1) & (p->map_cap - 1);
    p->map[i] = r;
    return true;
}

/* The rule called s[0..n), created (undefined, first seen at `where`) if new. */
static uint32_t rule_by_name(parser *p, const char *s, size_t n, size_t where) {
    if (p->map_cap) {
        size_t i = hash_name(s, n) & (p->map_cap - 1);
        for (; p->map[i] != NO_RULE; i = (i + 1) & (p->map_cap - 1)) {
            const char *name = p->rules[p->map[i]].name;
            if (strlen(name) == n && !memcmp(name, s, n)) return p->map[i];
        }
    }
    if ((size_t)(p->n_rules + 1) * 2 > p->map_cap && !map_grow(p)) return NO_RULE;
    char *name = malloc(n + 1);
    if (!name) return fail(p, "%sout of memory", ""), NO_RULE;
    memcpy(name, s, n);
    name[n] = 0;
    uint32_t r = new_rule(p, name, where, NO_RULE);
    if (r != NO_RULE) map_insert(p, r);
    return r;
}

/* ---------------------------------------------------------- characters */

static int peek(const parser *p) { return p->pos < p->len ? (unsigned char)p->s[p->pos] : -1; }
static int peek_at(const parser *p, size_t k) {
    return p->pos + k < p->len ? (unsigned char)p->s[p->pos + k] : -1;
}

static bool is_name_char(int c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

/* Spaces, tabs and comments; newlines too when `newlines` (inside
 * parentheses, after '|', between rules). */
static void skip_space(parser *p, bool newlines) {
    for (;;) {
        int c = peek(p);
        if (c == ' ' || c == '\t' || c == '\r' || (c == '\n' && newlines)) {
            p->pos++;
        } else if (c == '#') {
            while (p->pos < p->len && p->s[p->pos] != '\n') p->pos++;
        } else {
            return;
        }
    }
}

/* One UTF-8 character of the grammar text (the tokenizer's strict decoder:
 * no overlongs, surrogates or code points past U+10FFFF). */
static bool decode_utf8(parser *p, uint32_t *cp) {
    const int n = lc_utf8_decode((const uint8_t *)p->s + p->pos, p->len - p->pos, cp);
    if (n <= 0) return fail(p, "%sinvalid UTF-8 in the grammar text", "");
    p->pos += (size_t)n;
    return true;
}

static int hex_value(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* A character of a literal or class: an escape or one UTF-8 character. */
static bool parse_char(parser *p, uint32_t *cp) {
    if (peek(p) != '\\') return decode_utf8(p, cp);
    size_t at = p->pos;
    int e = peek_at(p, 1);
    p->pos += 2;
    int digits = e == 'x' ? 2 : e == 'u' ? 4 : e == 'U' ? 8 : 0;
    if (digits) {
        uint32_t v = 0;
        for (int i = 0; i < digits; i++) {
            int h = hex_value(peek(p));
            if (h < 0) return fail_at(p, at, "bad escape: \\%s needs hexadecimal digits", e == 'x' ? "x" : e == 'u' ? "u" : "U");
            v = v * 16 + (uint32_t)h;
            p->pos++;
        }
        if (v > 0x10FFFF) return fail_at(p, at, "%sescape beyond U+10FFFF", "");
        *cp = v;
        return true;
    }
    switch (e) {
    case 't': *cp = '\t'; return true;
    case 'r': *cp = '\r'; return true;
    case 'n': *cp = '\n'; return true;
    case '\\': case '"': case '[': case ']': *cp = (uint32_t)e; return true;
    case -1: return fail_at(p, at, "%sunterminated escape at the end of the grammar", "");
    default: {
        char shown[2] = {(char)e, 0};
        return fail_at(p, at, "bad escape '\\%s' (known: \\x \\u \\U \\t \\r \\n \\\\ \\\" \\[ \\])", shown);
    }
    }
}

/* ----------------------------------------------------------- the syntax */

static bool parse_alternatives(parser *p, uint32_t r, bool nested);

static bool parse_literal(parser *p, uint32_t r) {
    size_t open = p->pos++;
    for (;;) {
        int c = peek(p);
        if (c == -1 || c == '\n') return fail_at(p, open, "%sunterminated string literal", "");
        if (c == '"') break;
        uint32_t cp;
        if (!parse_char(p, &cp) || !emit_char(p, r, cp)) return false;
    }
    p->pos++;
    return true;
}

static bool parse_class(parser *p, uint32_t r) {
    size_t open = p->pos++;
    bool negated = peek(p) == '^';
    if (negated) p->pos++;
    uint32_t first = p->n_ranges;
    while (peek(p) != ']') {
        if (peek(p) == -1) return fail_at(p, open, "%sunterminated character class", "");
        uint32_t lo, hi;
        if (!parse_char(p, &lo)) return false;
        hi = lo;
        if (peek(p) == '-' && peek_at(p, 1) != ']' && peek_at(p, 1) != -1) {
            size_t dash = p->pos++;
            if (!parse_char(p, &hi)) return false;
            if (hi < lo) return fail_at(p, dash, "%scharacter range is backwards", "");
        }
        if (!add_range(p, lo, hi)) return false;
    }
    if (p->n_ranges == first) return fail_at(p, open, "%sempty character class", "");
    p->pos++;
    uint32_t c = finish_class(p, first, negated);
    return c != NO_RULE && emit(p, r, LC_GE_CLASS, c);
}

static bool parse_count(parser *p, uint32_t *out) {
    if (peek(p) < '0' || peek(p) > '9') return fail(p, "%sexpected a number in {m,n}", "");
    uint64_t v = 0;
    size_t start = p->pos;
    while (peek(p) >= '0' && peek(p) <= '9') {
        v = v * 10 + (uint64_t)(peek(p) - '0');
        if (v > LC_GRAMMAR_MAX_REPEAT) return fail_at(p, start, "%srepetition count above 10000", "");
        p->pos++;
    }
    *out = (uint32_t)v;
    return true;
}

/* {m}, {m,}, {m,n}, with the position just after '{'. */
static bool parse_braces(parser *p, uint32_t *m, uint32_t *n) {
    skip_space(p, false);
    if (!parse_count(p, m)) return false;
    skip_space(p, false);
    *n = *m;
    if (peek(p) == ',') {
        p->pos++;
        skip_space(p, false);
        *n = UNBOUNDED;
        if (peek(p) != '}' && !parse_count(p, n)) return false;
        skip_space(p, false);
        if (*n < *m) return fail(p, "%s{m,n} with n < m", "");
    }
    if (peek(p) != '}') return fail(p, "%sexpected '}'", "");
    p->pos++;
    return true;
}

/* Replaces the atom elems[atom..n) of rule r by its repetition {m,n}. */
static bool repeat_atom(parser *p, uint32_t r, uint32_t atom, uint32_t m, uint32_t n, size_t where) {
    uint32_t k = p->rules[r].n - atom;
    if (k == 0) return true; /* repeating "" is "" */
    lc_gelem *copy = malloc(k * sizeof *copy);
    if (!copy) return fail(p, "%sout of memory", "");
    memcpy(copy, p->rules[r].elems + atom, k * sizeof *copy);
    p->rules[r].n = atom;
    p->total_elems -= k;
    bool ok = true;
    for (uint32_t i = 0; ok && i < m; i++)
        for (uint32_t j = 0; ok && j < k; j++) ok = emit(p, r, copy[j].kind, copy[j].arg);
    uint32_t origin = p->rules[r].origin;
    if (ok && n == UNBOUNDED) { /* R ::= x R | */
        uint32_t R = new_rule(p, NULL, where, origin);
        ok = R != NO_RULE;
        for (uint32_t j = 0; ok && j < k; j++) ok = emit(p, R, copy[j].kind, copy[j].arg);
        ok = ok && emit(p, R, LC_GE_REF, R) && emit(p, R, LC_GE_END, 0) && emit(p, R, LC_GE_END, 0);
        ok = ok && emit(p, r, LC_GE_REF, R);
    } else if (ok && n > m) { /* S(j) ::= x S(j-1) | */
        uint32_t prev = NO_RULE;
        for (uint32_t i = 0; ok && i < n - m; i++) {
            uint32_t S = new_rule(p, NULL, where, origin);
            ok = S != NO_RULE;
            for (uint32_t j = 0; ok && j < k; j++) ok = emit(p, S, copy[j].kind, copy[j].arg);
            if (ok && prev != NO_RULE) ok = emit(p, S, LC_GE_REF, prev);
            ok = ok && emit(p, S, LC_GE_END, 0) && emit(p, S, LC_GE_END, 0);
            prev = S;
        }
        ok = ok && emit(p, r, LC_GE_REF, prev);
    }
    free(copy);
    return ok;
}

static bool parse_postfix(parser *p, uint32_t r, uint32_t atom) {
    for (;;) {
        size_t where = p->pos;
        int c = peek(p);
        uint32_t m, n;
        if (c == '*') m = 0, n = UNBOUNDED, p->pos++;
        else if (c == '+') m = 1, n = UNBOUNDED, p->pos++;
        else if (c == '?') m = 0, n = 1, p->pos++;
        else if (c == '{') {
            p->pos++;
            if (!parse_braces(p, &m, &n)) return false;
        } else {
            return true;
        }
        if (!repeat_atom(p, r, atom, m, n, where)) return false;
        skip_space(p, false);
    }
}

static bool parse_group(parser *p, uint32_t r) {
    size_t open = p->pos++;
    if (++p->depth > LC_GRAMMAR_MAX_NESTING)
        return fail_at(p, open, "%sparentheses nested more than 256 deep", "");
    uint32_t G = new_rule(p, NULL, open, p->rules[r].origin);
    if (G == NO_RULE) return false;
    skip_space(p, true);
    if (peek(p) == -1) return fail_at(p, open, "%sunbalanced '(': no matching ')'", "");
    if (peek(p) == ')') return fail_at(p, open, "%sempty group '()'", "");
    if (!parse_alternatives(p, G, true)) return false;
    skip_space(p, true);
    if (peek(p) != ')') return fail_at(p, open, "%sunbalanced '(': no matching ')'", "");
    p->pos++;
    p->depth--;
    return emit(p, r, LC_GE_REF, G);
}

/* Atoms with their postfix operators until the end of the alternative;
 * *n_atoms receives how many. */
static bool parse_sequence(parser *p, uint32_t r, bool nested, int *n_atoms) {
    *n_atoms = 0;
    for (;;) {
        skip_space(p, nested);
        uint32_t atom = p->rules[r].n;
        int c = peek(p);
        bool ok;
        if (c == '"') ok = parse_literal(p, r);
        else if (c == '[') ok = parse_class(p, r);
        else if (c == '(') ok = parse_group(p, r);
        else if (c == '.') {
            p->pos++;
            uint32_t cls = finish_class(p, p->n_ranges, true);
            ok = cls != NO_RULE && emit(p, r, LC_GE_CLASS, cls);
        } else if (is_name_char(c)) {
            size_t start = p->pos;
            while (is_name_char(peek(p))) p->pos++;
            uint32_t ref = rule_by_name(p, p->s + start, p->pos - start, start);
            ok = ref != NO_RULE && emit(p, r, LC_GE_REF, ref);
        } else if (c == '<') {
            return fail(p, "%stoken references '<...>' are not supported", "");
        } else if (c == '*' || c == '+' || c == '?' || c == '{') {
            return fail(p, "%srepetition operator with nothing before it", "");
        } else {
            return true;
        }
        if (!ok) return false;
        (*n_atoms)++;
        skip_space(p, nested);
        if (!parse_postfix(p, r, atom)) return false;
    }
}

/* At the top level a newline ends the rule unless the next line (after
 * blank lines and comments) starts with '|'. */
static bool continues_with_bar(parser *p) {
    size_t save = p->pos;
    skip_space(p, true);
    if (peek(p) == '|') return true;
    p->pos = save;
    return false;
}

static bool parse_alternatives(parser *p, uint32_t r, bool nested) {
    int atoms;
    if (!parse_sequence(p, r, nested, &atoms) || !emit(p, r, LC_GE_END, 0)) return false;
    bool first_empty = atoms == 0;
    while (peek(p) == '|' || (!nested && peek(p) == '\n' && continues_with_bar(p))) {
        size_t bar = p->pos++;
        skip_space(p, true);
        if (!parse_sequence(p, r, nested, &atoms) || !emit(p, r, LC_GE_END, 0)) return false;
        if (atoms == 0)
            return fail_at(p, bar, "%sempty alternative after '|' (write \"\" to match the empty string)", "");
        first_empty = false;
    }
    if (first_empty)
        return fail(p, nested ? "%sempty group (write \"\" to match the empty string)"
                              : "%sempty rule body (write \"\" to match the empty string)", "");
    return true;
}

/* Whether the text at the current position is "name ::=", a new rule. */
static bool is_rule_start(parser *p) {
    size_t i = p->pos;
    while (i < p->len && is_name_char((unsigned char)p->s[i])) i++;
    if (i == p->pos) return false;
    while (i < p->len && (p->s[i] == ' ' || p->s[i] == '\t')) i++;
    return i + 3 <= p->len && !memcmp(p->s + i, "::=", 3);
}

static bool parse_rule(parser *p) {
    size_t start = p->pos;
    if (!is_name_char(peek(p))) {
        char shown[8];
        int c = peek(p);
        snprintf(shown, sizeof shown, c >= 0x21 && c < 0x7f ? "'%c'" : "byte", c);
        return fail(p, "expected a rule name, found %s", shown);
    }
    while (is_name_char(peek(p))) p->pos++;
    uint32_t r = rule_by_name(p, p->s + start, p->pos - start, start);
    if (r == NO_RULE) return false;
    skip_space(p, false);
    if (p->pos + 3 > p->len || memcmp(p->s + p->pos, "::=", 3) != 0)
        return fail(p, "expected '::=' after the rule name '%s'", p->rules[r].name);
    if (p->rules[r].defined) return fail_at(p, start, "rule '%s' is defined twice", p->rules[r].name);
    p->rules[r].defined = true;
    p->rules[r].where = start;
    p->pos += 3;
    size_t body = p->pos;
    skip_space(p, true);
    if (p->pos == p->len || is_rule_start(p))
        return fail_at(p, body, "%sempty rule body (write \"\" to match the empty string)", "");
    if (!parse_alternatives(p, r, false)) return false;
    skip_space(p, false);
    if (peek(p) == ')') return fail(p, "%sunbalanced ')'", "");
    if (peek(p) != '\n' && peek(p) != -1) {
        char shown[8];
        snprintf(shown, sizeof shown, peek(p) >= 0x21 && peek(p) < 0x7f ? "'%c'" : "byte", peek(p));
        return fail(p, "unexpected %s", shown);
    }
    return true;
}

/* ------------------------------------------------------- checks, output */

static const char *origin_name(const parser *p, uint32_t r) { return p->rules[p->rules[r].origin].name; }

/* Nullable rules (those that can match ""), by the linear worklist method:
 * each alternative counts its elements not yet known nullable. */
static bool compute_nullable(parser *p, const lc_grammar_rules *g, uint8_t *nullable) {
    uint32_t n_alts = g->rule_alts[g->n_rules];
    uint32_t *remaining = calloc(n_alts ? n_alts : 1, sizeof *remaining);
    uint32_t *alt_rule = malloc((n_alts ? n_alts : 1) * sizeof *alt_rule);
    uint32_t *occ_start = calloc((size_t)g->n_rules + 1, sizeof *occ_start);
    uint32_t *occ = malloc((g->n_elems ? g->n_elems : 1) * sizeof *occ);
    uint32_t *queue = malloc(((size_t)g->n_rules + 1) * sizeof *queue);
    bool ok = remaining && alt_rule && occ_start && occ && queue;
    if (ok) {
        /* occurrences of each rule, as alternative indices */
        for (uint32_t r = 0; r < g->n_rules; r++)
            for (uint32_t a = g->rule_alts[r]; a < g->rule_alts[r + 1]; a++)
                for (uint32_t e = g->alt_start[a]; g->elems[e].kind != LC_GE_END; e++)
                    if (g->elems[e].kind == LC_GE_REF) occ_start[g->elems[e].arg + 1]++;
        for (uint32_t r = 0; r < g->n_rules; r++) occ_start[r + 1] += occ_start[r];
        uint32_t *fill = queue; /* borrowed as a cursor array before the queue is used */
        memcpy(fill, occ_start, (size_t)g->n_rules * sizeof *fill);
        uint32_t head = 0, tail = 0;
        for (uint32_t r = 0; r < g->n_rules; r++)
            for (uint32_t a = g->rule_alts[r]; a < g->rule_alts[r + 1]; a++) {
                alt_rule[a] = r;
                bool has_class = false;
                for (uint32_t e = g->alt_start[a]; g->elems[e].kind != LC_GE_END; e++) {
                    if (g->elems[e].kind == LC_GE_REF) occ[fill[g->elems[e].arg]++] = a, remaining[a]++;
                    else has_class = true;
                }
                /* one count no reference can remove: never nullable */
                remaining[a] += has_class;
            }
        memset(nullable, 0, g->n_rules);
        for (uint32_t a = 0; a < n_alts; a++)
            if (remaining[a] == 0 && !nullable[alt_rule[a]]) nullable[alt_rule[a]] = 1, queue[tail++] = alt_rule[a];
        while (head < tail) {
            uint32_t r = queue[head++];
            for (uint32_t i = occ_start[r]; i < occ_start[r + 1]; i++) {
                uint32_t a = occ[i];
                if (--remaining[a] == 0 && !nullable[alt_rule[a]])
                    nullable[alt_rule[a]] = 1, queue[tail++] = alt_rule[a];
            }
        }
    } else {
        fail(p, "%sout of memory", "");
    }
    free(remaining);
    free(alt_rule);
    free(occ_start);
    free(occ);
    free(queue);
    return ok;
}

/* Left recursion: rule A reaching itself before consuming input makes the
 * stack grow without end. A reference that is the last element of its
 * alternative replaces the frame instead of growing it (x* is R ::= x R),
 * so a cycle is refused only when one of its edges is not such a tail
 * reference. Edges A -> B are "B can come first in A"; a bad cycle is a
 * non-tail edge inside one strongly connected component (Tarjan's
 * algorithm, iterative so deep grammars cannot overflow the C stack). */
typedef struct edge {
    uint32_t to;
    bool tail;
} edge;

static bool check_left_recursion(parser *p, const lc_grammar_rules *g, const uint8_t *nullable) {
    uint32_t n = g->n_rules;
    uint32_t *first = calloc((size_t)n + 1, sizeof *first);
    edge *edges = NULL;
    size_t n_edges = 0, cap = 0;
    bool ok = first != NULL;
    for (uint32_t r = 0; ok && r < n; r++) {
        first[r] = (uint32_t)n_edges;
        for (uint32_t a = g->rule_alts[r]; ok && a < g->rule_alts[r + 1]; a++)
            for (uint32_t e = g->alt_start[a]; g->elems[e].kind == LC_GE_REF; e++) {
                if (n_edges == cap) {
                    cap = cap ? cap * 2 : 64;
                    edge *ne = realloc(edges, cap * sizeof *ne);
                    if (!ne) { ok = false; break; }
                    edges = ne;
                }
                edges[n_edges++] = (edge){g->elems[e].arg, g->elems[e + 1].kind == LC_GE_END};
                if (!nullable[g->elems[e].arg]) break;
            }
    }
    if (ok) first[n] = (uint32_t)n_edges;
    uint32_t *index = malloc(((size_t)n + 1) * sizeof *index), *low = malloc(((size_t)n + 1) * sizeof *low);
    uint32_t *comp = malloc(((size_t)n + 1) * sizeof *comp), *stack = malloc(((size_t)n + 1) * sizeof *stack);
    uint32_t *call = malloc(((size_t)n + 1) * sizeof *call), *next_edge = malloc(((size_t)n + 1) * sizeof *next_edge);
    uint8_t *on_stack = calloc((size_t)n + 1, 1);
    ok = ok && index && low && comp && stack && call && next_edge && on_stack;
    if (!ok) fail(p, "%sout of memory", "");
    uint32_t counter = 0, sp = 0, n_comp = 0;
    for (uint32_t i = 0; ok && i < n; i++) index[i] = UINT32_MAX;
    for (uint32_t root = 0; ok && root < n; root++) {
        if (index[root] != UINT32_MAX) continue;
        uint32_t depth = 0;
        call[depth++] = root;
        index[root] = low[root] = counter++;
        next_edge[root] = first[root];
        stack[sp++] = root;
        on_stack[root] = 1;
        while (depth > 0) {
            uint32_t v = call[depth - 1];
            if (next_edge[v] < first[v + 1]) {
                uint32_t w = edges[next_edge[v]++].to;
                if (index[w] == UINT32_MAX) {
                    index[w] = low[w] = counter++;
                    next_edge[w] = first[w];
                    stack[sp++] = w;
                    on_stack[w] = 1;
                    call[depth++] = w;
                } else if (on_stack[w] && index[w] < low[v]) {
                    low[v] = index[w];
                }
                continue;
            }
            if (low[v] == index[v]) {
                uint32_t w;
                do {
                    w = stack[--sp];
                    on_stack[w] = 0;
                    comp[w] = n_comp;
                } while (w != v);
                n_comp++;
            }
            depth--;
            if (depth > 0 && low[v] < low[call[depth - 1]]) low[call[depth - 1]] = low[v];
        }
    }
    for (uint32_t r = 0; ok && r < n; r++)
        for (uint32_t e = first[r]; e < first[r + 1]; e++)
            if (!edges[e].tail && comp[edges[e].to] == comp[r]) {
                uint32_t o = p->rules[r].origin;
                fail_at(p, p->rules[o].where,
                        "left recursion: rule '%s' can reach itself without consuming any input", origin_name(p, r));
                ok = false;
                break;
            }
    free(first);
    free(edges);
    free(index);
    free(low);
    free(comp);
    free(stack);
    free(call);
    free(next_edge);
    free(on_stack);
    return ok;
}

/* Moves the parser's rules into one flat lc_grammar_rules. */
static lc_grammar_rules *flatten(parser *p) {
    lc_grammar_rules *g = calloc(1, sizeof *g);
    if (!g) return NULL;
    uint32_t n_alts = 0;
    for (uint32_t r = 0; r < p->n_rules; r++)
        for (uint32_t i = 0; i < p->rules[r].n; i++) n_alts += p->rules[r].elems[i].kind == LC_GE_END;
    g->n_elems = (uint32_t)p->total_elems;
    g->n_rules = p->n_rules;
    g->elems = malloc(((size_t)g->n_elems + 1) * sizeof *g->elems);
    g->alt_start = malloc(((size_t)n_alts + 1) * sizeof *g->alt_start);
    g->rule_alts = malloc(((size_t)g->n_rules + 1) * sizeof *g->rule_alts);
    if (!g->elems || !g->alt_start || !g->rule_alts) {
        lc_grammar_rules_free(g);
        return NULL;
    }
    uint32_t e = 0, a = 0;
    for (uint32_t r = 0; r < p->n_rules; r++) {
        g->rule_alts[r] = a;
        bool at_start = true;
        for (uint32_t i = 0; i < p->rules[r].n; i++) {
            if (at_start) g->alt_start[a++] = e;
            g->elems[e++] = p->rules[r].elems[i];
            at_start = p->rules[r].elems[i].kind == LC_GE_END;
        }
    }
    g->rule_alts[p->n_rules] = a;
    g->ranges = p->ranges;
    g->classes = p->classes;
    g->n_classes = p->n_classes;
    p->ranges = NULL;
    p->classes = NULL;
    return g;
}

static void parser_free(parser *p) {
    for (uint32_t r = 0; r < p->n_rules; r++) {
        free(p->rules[r].name);
        free(p->rules[r].elems);
    }
    free(p->rules);
    free(p->ranges);
    free(p->classes);
    free(p->map);
}

lc_grammar_rules *lc_grammar_parse(const char *text, size_t len, const char *root, llamac_error *err) {
    parser p = {.s = text, .len = len, .err = err};
    if (!root) root = "root";
    if (len > LC_GRAMMAR_MAX_TEXT) {
        lc_fail(err, "grammar text of %zu bytes is over the limit of 16 MiB", len);
        return NULL;
    }
    if (memchr(text, 0, len)) {
        fail_at(&p, (size_t)((const char *)memchr(text, 0, len) - text), "%sNUL byte in the grammar text", "");
        return NULL;
    }
    /* always an array, even for a grammar of "." only: classes index into it */
    if (!grow(&p, (void **)&p.ranges, &p.cap_ranges, 1, sizeof *p.ranges)) return NULL;
    skip_space(&p, true);
    while (!p.failed && p.pos < p.len) {
        if (parse_rule(&p)) skip_space(&p, true);
    }
    for (uint32_t r = 0; !p.failed && r < p.n_rules; r++)
        if (p.rules[r].name && !p.rules[r].defined)
            fail_at(&p, p.rules[r].where, "undefined rule '%s'", p.rules[r].name);
    uint32_t root_rule = NO_RULE;
    if (!p.failed) {
        for (uint32_t r = 0; r < p.n_rules; r++)
            if (p.rules[r].name && !strcmp(p.rules[r].name, root)) root_rule = r;
        if (root_rule == NO_RULE) {
            lc_fail(err, "the grammar has no rule named '%s' to start from", root);
            p.failed = true;
        }
    }
    lc_grammar_rules *g = NULL;
    if (!p.failed) {
        g = flatten(&p);
        uint8_t *nullable = g ? malloc((size_t)g->n_rules + 1) : NULL;
        if (!g || !nullable) {
            lc_fail(err, "out of memory");
            p.failed = true;
        } else if (!compute_nullable(&p, g, nullable) || !check_left_recursion(&p, g, nullable)) {
            p.failed = true;
        }
        free(nullable);
        if (p.failed) {
            lc_grammar_rules_free(g);
            g = NULL;
        } else {
            g->root = root_rule;
        }
    }
    parser_free(&p);
    return g;
}

void lc_grammar_rules_free(lc_grammar_rules *g) {
    if (!g) return;
    free(g->elems);
    free(g->alt_start);
    free(g->rule_alts);
    free(g->ranges);
    free(g->classes);
    free(g);
}

bool lc_gclass_matches(const lc_grammar_rules *g, uint32_t cls, uint32_t cp) {
    const lc_gclass *c = &g->classes[cls];
    const lc_grange *r = g->ranges + c->first;
    bool in = false;
    for (uint32_t i = 0; i < c->count && r[i].lo <= cp; i++)
        if (cp <= r[i].hi) {
            in = true;
            break;
        }
    return in != c->negated;
}

bool lc_gclass_matches_any(const lc_grammar_rules *g, uint32_t cls, uint32_t lo, uint32_t hi) {
    const lc_gclass *c = &g->classes[cls];
    const lc_grange *r = g->ranges + c->first;
    if (!c->negated) {
        for (uint32_t i = 0; i < c->count; i++)
            if (r[i].lo <= hi && lo <= r[i].hi) return true;
        return false;
    }
    /* sorted, merged ranges: some point of [lo, hi] falls in a gap */
    uint32_t x = lo;
    for (uint32_t i = 0; i < c->count; i++) {
        if (r[i].hi < x) continue;
        if (r[i].lo > x) return true;
        if (r[i].hi >= hi) return false;
        x = r[i].hi + 1;
    }
    return true;
}
