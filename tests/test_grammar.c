/* GBNF grammars without a model: the parser on valid grammars (bundled
 * ones and one per construct) and broken ones (each refused with its line
 * and column), the matcher on tables of strings fed one byte at a time
 * (must match / must not), partial UTF-8, and hostile grammars that must
 * give an error or finish in bounded work. */
#include <stdint.h>

#include "llamac.h"
#include "test_util.h"

static llamac_grammar *make(const char *text) {
    llamac_error err = {{0}};
    llamac_grammar *g = llamac_grammar_create(NULL, text, NULL, &err);
    CHECKF(g != NULL, "grammar refused: %s\n%.200s", err.msg, text);
    return g;
}

/* Feeds s one byte at a time; true when every byte is accepted and the
 * grammar may end after the last. */
static bool matches_bytewise(llamac_grammar *g, const char *s, size_t len) {
    llamac_grammar_reset(g);
    for (size_t i = 0; i < len; i++)
        if (!llamac_grammar_accept_text(g, s + i, 1)) return false;
    return llamac_grammar_can_end(g);
}

typedef struct table {
    const char *name;
    const char *grammar;
    const char *pass[8];
    const char *fail[8];
} table;

static const table tables[] = {
    {"optional", "root ::= \"a\"?", {"", "a"}, {"b", "ab", "aa", "ba"}},
    {"bounded repeat", "root ::= [a-z]{2,4}", {"ab", "abc", "abcd"}, {"", "a", "abcde", "aB"}},
    {"exact repeat", "root ::= \"x\"{3}", {"xxx"}, {"xx", "xxxx", ""}},
    {"at least", "root ::= \"ab\"{2,}", {"abab", "ababab"}, {"ab", "aba", "abba"}},
    {"plus and star", "root ::= \"a\"+ \"b\"*", {"a", "aab", "abbb"}, {"", "b", "aba"}},
    {"negated class", "root ::= [^abc]+", {"xyz", "\xc3\xa9", "d\xe6\x97\xa5"}, {"a", "xa", ""}},
    {"dot", "root ::= . . .", {"abc", "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", "a\xf0\x9f\x98\x80z"}, {"ab", "abcd"}},
    {"unicode literal", "root ::= \"\xe6\x97\xa5\xe6\x9c\xac\" [\xe8\xaa\x9e]",
     {"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e"}, {"\xe6\x97\xa5\xe6\x9c\xac\xe4\xba\xba", "\xe6\x97\xa5"}},
    {"escapes", "root ::= \"\\x41\\u00e9\\U0001F600\\t\\n\\r\\\\\\\"\\[\\]\"",
     {"A\xc3\xa9\xf0\x9f\x98\x80\t\n\r\\\"[]"}, {"A", "a\xc3\xa9"}},
    {"class with escapes and ranges", "root ::= [\\x30-\\x39a-c\\]-]+  # digits, a-c, ']' and '-'",
     {"09abc", "-", "]"}, {"d", "[", ""}},
    {"dash last is literal", "root ::= [a-]", {"a", "-"}, {"b"}},
    {"groups", "root ::= (\"ab\" | \"cd\")* \"e\"", {"e", "abcde", "cdcde"}, {"abc", "ace", "abe e"}},
    {"arithmetic",
     "root ::= expr   # a comment\n"
     "expr ::= term ((\"+\" | \"-\") term)*\n"
     "term ::= factor ((\"*\" | \"/\") factor)*\n"
     "factor ::= [0-9]+\n"
     "         | \"(\" expr \")\"\n",
     {"1+2*3", "(1+2)*3", "((4))", "10/5-3"}, {"1+", "(1", "1)", "+1", "()"}},
    {"multi-line group",
     "root ::= \"{\" (\n  \"a\" |\n  \"b\"\n) \"}\"", {"{a}", "{b}"}, {"{}", "{ab}"}},
    {"leading empty alternative", "root ::= | \"x\" | \"yy\"", {"", "x", "yy"}, {"y", "xx"}},
    {"empty literal", "root ::= \"\" \"a\" \"\"", {"a"}, {""}},
    {"nullable repetition", "root ::= (\"a\"?)* \"b\"", {"b", "ab", "aaab"}, {"", "a", "ba"}},
    {"empty string repeated", "root ::= (\"\")* \"x\" (\"\"){5}", {"x"}, {"", "xx"}},
    {"cycle of tail references", "root ::= a\na ::= b | \"x\"\nb ::= a | \"y\" a", {"x", "yx", "yyx"}, {"y", ""}},
    {"right recursion", "root ::= item\nitem ::= \"a\" item | \"b\"", {"b", "ab", "aaab"}, {"a", "abb"}},
    {"custom names", "root ::= my-rule_2\nmy-rule_2 ::= \"ok\"", {"ok"}, {"o"}},
};

static void test_tables(void) {
    for (size_t t = 0; t < sizeof tables / sizeof tables[0]; t++) {
        llamac_grammar *g = make(tables[t].grammar);
        if (!g) continue;
        for (int i = 0; i < 8 && tables[t].pass[i]; i++)
            CHECKF(matches_bytewise(g, tables[t].pass[i], strlen(tables[t].pass[i])), "%s: should match \"%s\"",
                   tables[t].name, tables[t].pass[i]);
        for (int i = 0; i < 8 && tables[t].fail[i]; i++)
            CHECKF(!matches_bytewise(g, tables[t].fail[i], strlen(tables[t].fail[i])), "%s: should not match \"%s\"",
                   tables[t].name, tables[t].fail[i]);
        llamac_grammar_free(g);
    }
}

static char *read_grammar(const char *name) {
    char path[256];
    snprintf(path, sizeof path, "../grammars/%s", name);
    char *text = lc_test_read_file(path, NULL);
    CHECKF(text != NULL, "cannot read %s", path);
    return text;
}

static void check_file_table(const char *file, const char *const *pass, const char *const *fail) {
    char *text = read_grammar(file);
    if (!text) return;
    llamac_grammar *g = make(text);
    free(text);
    if (!g) return;
    for (int i = 0; pass[i]; i++)
        CHECKF(matches_bytewise(g, pass[i], strlen(pass[i])), "%s: should match %s", file, pass[i]);
    for (int i = 0; fail[i]; i++)
        CHECKF(!matches_bytewise(g, fail[i], strlen(fail[i])), "%s: should not match %s", file, fail[i]);
    llamac_grammar_free(g);
}

static void test_bundled(void) {
    const char *json_pass[] = {"{\"a\": [1, 2.5e3, true, null, \"x\\n\"]}", "[]", "{}", "\"\\u00e9\"", "-0.5",
                               "{\"k\":{\"n\":[[],{}]}}", "\"\xc3\xa9t\xc3\xa9\"", "0", NULL};
    const char *json_fail[] = {"{\"a\" 1}", "[1,]", "01", "{\"a\":1,}", "\"\\x\"", "\"tab\there\"", "tru",
                               "[1 2]", NULL};
    check_file_table("json.gbnf", json_pass, json_fail);
    const char *arr_pass[] = {"[]", "[\"a\"]", "[\"apple\", \"pear\"]", "[ \"x\\\"y\" ]", NULL};
    const char *arr_fail[] = {"[1]", "[\"a\",]", "\"a\"", "[\"a\" \"b\"]", NULL};
    check_file_table("json_string_array.gbnf", arr_pass, arr_fail);
    const char *c_pass[] = {"void test_sum(void) {\n    int n = sum(xs, 3);\n    assert(n == 6);\n}\n",
                            "void test_a(void) {\n    assert(f() != -1);\n}\n\nvoid test_b(void) {\n"
                            "    const char * s = name(\"x\");\n    assert(s[0] == 'x' && strlen(s) > 0);\n}\n",
                            NULL};
    const char *c_fail[] = {"void test_sum(void) {\n}\n", "int main(void) {\n    return 0;\n}\n",
                            "void test_x(void) {\n    assert(n == 6)\n}\n", NULL};
    check_file_table("c_tests.gbnf", c_pass, c_fail);
}

/* Each broken grammar and the start of the message it must give. */
static void test_errors(void) {
    static const struct {
        const char *grammar, *root, *message;
    } cases[] = {
        {"root ::= ( \"a\"", NULL, "line 1, column 10: unbalanced '('"},
        {"root ::= \"a\" (", NULL, "line 1, column 14: unbalanced '('"},
        {"root ::= ( | \"a\" | )", NULL, "line 1, column 18: empty alternative"},
        {"root ::= \"a\" )", NULL, "line 1, column 14: unbalanced ')'"},
        {"root ::= \"a\"\n\nother ::= foo", NULL, "line 3, column 11: undefined rule 'foo'"},
        {"root ::= \"\\q\"", NULL, "line 1, column 11: bad escape '\\q'"},
        {"root ::= \"\\x4\"", NULL, "line 1, column 11: bad escape: \\x needs"},
        {"root ::= \"a\" | | \"b\"", NULL, "line 1, column 14: empty alternative"},
        {"root ::= \"a\" |", NULL, "line 1, column 14: empty alternative"},
        {"root ::=\n", NULL, "line 1, column 9: empty rule body"},
        {"root ::= ()", NULL, "line 1, column 10: empty group"},
        {"root ::= expr\nexpr ::= expr \"+\" \"1\" | \"1\"", NULL,
         "line 2, column 1: left recursion: rule 'expr'"},
        {"root ::= a\na ::= b \"x\"\nb ::= a | \"y\"", NULL, "line 2, column 1: left recursion: rule 'a'"},
        {"root ::= a\na ::= n a \"x\" | \"y\"\nn ::= \"z\"?", NULL, "line 2, column 1: left recursion: rule 'a'"},
        {"root ::= ( root \"x\" )? \"y\"", NULL, "line 1, column 1: left recursion: rule 'root'"},
        {"root ::= [z-a]", NULL, "line 1, column 12: character range is backwards"},
        {"root ::= \"abc", NULL, "line 1, column 10: unterminated string literal"},
        {"root ::= [abc", NULL, "line 1, column 10: unterminated character class"},
        {"root ::= []", NULL, "line 1, column 10: empty character class"},
        {"root = \"a\"", NULL, "line 1, column 6: expected '::='"},
        {"foo ::= \"a\"", NULL, "the grammar has no rule named 'root'"},
        {"root ::= \"a\"", "start", "the grammar has no rule named 'start'"},
        {"root ::= \"a\"{3,2}", NULL, "line 1, column 17: {m,n} with n < m"},
        {"root ::= \"a\"{20000}", NULL, "line 1, column 14: repetition count above 10000"},
        {"root ::= \"a\"\nroot ::= \"b\"", NULL, "line 2, column 1: rule 'root' is defined twice"},
        {"root ::= <think>", NULL, "line 1, column 10: token references"},
        {"root ::= * \"a\"", NULL, "line 1, column 10: repetition operator with nothing before it"},
        {"root ::= \"a\" \"b\" junk ::=", NULL, "line 1, column 23: unexpected ':'"},
        {"root ::= x\nx ::= x", NULL, "matches no text"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        llamac_error err = {{0}};
        llamac_grammar *g = llamac_grammar_create(NULL, cases[i].grammar, cases[i].root, &err);
        CHECKF(g == NULL, "accepted: %s", cases[i].grammar);
        CHECKF(strstr(err.msg, cases[i].message) != NULL, "for %s\n  got      '%s'\n  expected '%s'",
               cases[i].grammar, err.msg, cases[i].message);
        llamac_grammar_free(g);
    }
    /* a custom start rule that exists */
    llamac_error err = {{0}};
    llamac_grammar *g = llamac_grammar_create(NULL, "root ::= \"a\"\nstart ::= \"b\"", "start", &err);
    CHECK(g && matches_bytewise(g, "b", 1) && !matches_bytewise(g, "a", 1));
    llamac_grammar_free(g);
}

/* A character split across inputs: each byte is accepted only while some
 * class can still match; invalid UTF-8 is refused at the first bad byte. */
static void test_partial_utf8(void) {
    llamac_grammar *g = make("root ::= \"\xc3\xa9\" [a-z]*");
    if (g) {
        CHECK(llamac_grammar_accept_text(g, "\xc3", 1));
        CHECK(!llamac_grammar_can_end(g));
        CHECK(!llamac_grammar_accept_text(g, "\xa8", 1)); /* U+00E8: refused, state kept */
        CHECK(llamac_grammar_accept_text(g, "\xa9", 1));
        CHECK(llamac_grammar_can_end(g));
        CHECK(!llamac_grammar_accept_text(g, "\xc3", 1)); /* [a-z] has no 2-byte characters */
        llamac_grammar_free(g);
    }
    g = make("root ::= [^a]*");
    if (g) {
        CHECK(!llamac_grammar_accept_text(g, "\xff", 1));
        CHECK(!llamac_grammar_accept_text(g, "\xc0", 1));           /* overlong lead */
        CHECK(!llamac_grammar_accept_text(g, "\xe0\x80\x80", 3));   /* overlong */
        CHECK(!llamac_grammar_accept_text(g, "\xed\xa0\x80", 3));   /* surrogate */
        CHECK(!llamac_grammar_accept_text(g, "\xf4\x90\x80\x80", 4)); /* above U+10FFFF */
        CHECK(!llamac_grammar_accept_text(g, "\x80", 1));           /* stray continuation */
        CHECK(llamac_grammar_accept_text(g, "\xf0\x9f", 2));
        CHECK(!llamac_grammar_can_end(g));
        CHECK(llamac_grammar_accept_text(g, "\x98\x80", 2));
        CHECK(llamac_grammar_can_end(g));
        llamac_grammar_free(g);
    }
    /* the range test inside a partial character: only U+4E00..U+4E0F allowed */
    g = make("root ::= [\\u4e00-\\u4e0f]");
    if (g) {
        CHECK(llamac_grammar_accept_text(g, "\xe4\xb8", 2));
        CHECK(!llamac_grammar_accept_text(g, "\x90", 1)); /* U+4E10 */
        CHECK(llamac_grammar_accept_text(g, "\x8f", 1));  /* U+4E0F */
        CHECK(llamac_grammar_can_end(g));
        llamac_grammar_reset(g);
        CHECK(!llamac_grammar_accept_text(g, "\xe4\xb9", 2)); /* U+4E40.. cannot match */
        llamac_grammar_free(g);
    }
}

/* Hostile inputs: each must give a clean error or finish quickly with the
 * right answer (ctest's timeout would catch a stall). */
static void test_hostile(void) {
    llamac_error err = {{0}};
    /* deep nesting: refused at the limit, not a stack overflow */
    size_t n = 100000;
    char *deep = malloc(2 * n + 32);
    strcpy(deep, "root ::= ");
    size_t at = strlen(deep);
    for (size_t i = 0; i < n; i++) deep[at++] = '(';
    deep[at++] = '"';
    deep[at++] = 'a';
    deep[at++] = '"';
    for (size_t i = 0; i < n; i++) deep[at++] = ')';
    deep[at] = 0;
    llamac_grammar *g = llamac_grammar_create(NULL, deep, NULL, &err);
    CHECKF(!g && strstr(err.msg, "nested more than 256"), "deep nesting: %s", err.msg);
    llamac_grammar_free(g);
    /* ...and 200 levels is fine */
    at = strlen("root ::= ");
    for (size_t i = 0; i < 200; i++) deep[at++] = '(';
    memcpy(deep + at, "\"a\"", 3);
    at += 3;
    for (size_t i = 0; i < 200; i++) deep[at++] = ')';
    deep[at] = 0;
    g = make(deep);
    if (g) CHECK(matches_bytewise(g, "a", 1));
    llamac_grammar_free(g);
    free(deep);

    /* rules that repeat the empty string */
    g = make("root ::= ((\"\")* (\"a\"?)*)* \"b\"\n");
    if (g) {
        CHECK(matches_bytewise(g, "aaaab", 5));
        CHECK(!matches_bytewise(g, "aaaa", 4));
    }
    llamac_grammar_free(g);

    /* 10k alternatives */
    size_t cap = 10000 * 16 + 64;
    char *alts = malloc(cap);
    at = (size_t)snprintf(alts, cap, "root ::= \"w0\"");
    for (int i = 1; i < 10000; i++) at += (size_t)snprintf(alts + at, cap - at, " | \"w%d\"", i);
    g = make(alts);
    if (g) {
        CHECK(matches_bytewise(g, "w9999", 5));
        CHECK(matches_bytewise(g, "w1234", 5));
        CHECK(!matches_bytewise(g, "w10000", 6));
    }
    llamac_grammar_free(g);
    free(alts);

    /* a 1 MB grammar: a chain of 40k rules */
    cap = 1 << 21;
    char *big = malloc(cap);
    at = (size_t)snprintf(big, cap, "root ::= r0\n");
    int n_rules = 0;
    while (at < (1u << 20)) {
        at += (size_t)snprintf(big + at, cap - at, "r%d ::= \"x\" r%d | \"y\" # filler text\n", n_rules, n_rules + 1);
        n_rules++;
    }
    at += (size_t)snprintf(big + at, cap - at, "r%d ::= \"end\"\n", n_rules);
    g = make(big);
    if (g) {
        CHECK(matches_bytewise(g, "xxxy", 4));
        CHECK(!matches_bytewise(g, "xxxz", 4));
    }
    llamac_grammar_free(g);
    /* ...and a 1 MB literal */
    memcpy(big, "root ::= \"", 10);
    memset(big + 10, 'q', 1 << 20);
    memcpy(big + 10 + (1 << 20), "\"", 2);
    g = make(big);
    if (g) {
        CHECK(llamac_grammar_accept_text(g, big + 10, 1 << 20));
        CHECK(llamac_grammar_can_end(g));
    }
    llamac_grammar_free(g);
    free(big);

    /* nested repetitions: groups keep them small... */
    g = make("root ::= ((\"abcdefghij\"{1000}){1000}){1000}");
    if (g) CHECK(llamac_grammar_accept_text(g, "abcdefghijabcdefghij", 20) && !llamac_grammar_can_end(g));
    llamac_grammar_free(g);
    /* ...repeating a repetition of a literal copies it: past the element limit */
    err.msg[0] = 0;
    g = llamac_grammar_create(NULL, "root ::= \"abcdefghij\"{10000}{10000}", NULL, &err);
    CHECKF(!g && strstr(err.msg, "too large"), "huge expansion: %s", err.msg);
    llamac_grammar_free(g);

    /* ambiguity: stacks are deduplicated, so this stays small */
    g = make("root ::= ([a]* [a]* | \"a\" | \"a\")*");
    if (g) {
        char as[2000];
        memset(as, 'a', sizeof as);
        CHECK(matches_bytewise(g, as, sizeof as));
    }
    llamac_grammar_free(g);

    /* a grammar with more than 65536 parse stacks at once: an error state */
    cap = 70000 * 40 + 64;
    char *wide = malloc(cap);
    at = (size_t)snprintf(wide, cap, "root ::= \"a\" x0");
    for (int i = 1; i < 70000; i++) at += (size_t)snprintf(wide + at, cap - at, " | \"a\" x%d", i);
    at += (size_t)snprintf(wide + at, cap - at, "\n");
    for (int i = 0; i < 70000; i++) at += (size_t)snprintf(wide + at, cap - at, "x%d ::= \"b\"\n", i);
    g = llamac_grammar_create(NULL, wide, NULL, &err);
    CHECKF(!g && strstr(err.msg, "too ambiguous"), "70000 stacks: %s", err.msg);
    llamac_grammar_free(g);
    free(wide);

    /* over the text limit */
    size_t huge = (16u << 20) + 1;
    char *too_big = malloc(huge + 1);
    memset(too_big, ' ', huge);
    too_big[huge] = 0;
    g = llamac_grammar_create(NULL, too_big, NULL, &err);
    CHECKF(!g && strstr(err.msg, "over the limit"), "16 MiB: %s", err.msg);
    free(too_big);
}

int main(void) {
    test_tables();
    test_bundled();
    test_errors();
    test_partial_utf8();
    test_hostile();
    return TEST_SUMMARY("test_grammar");
}
