/* The grammar a reply must follow (GBNF, see the grammar section of
 * include/llamac.h). It fixes the framework's shape and what calls are
 * possible, so that even a weak model writes something that parses:
 *
 * C (cmocka): one function `static void test_NAME(void **state) {`,
 *   `(void)state;`, then 1-3 statements, each one of
 *     assert_int_equal(F(args), INT);        F returns an integer type
 *     assert_float_equal(F(args), REAL, 1e-6); F returns float/double
 *     assert_string_equal(F(args), "TEXT");  F returns a char pointer
 *     assert_true(F(args)); assert_false(F(args));  F returns a value
 *     F(args);                               any F (a smoke call)
 *   where F is the function under test and each argument is a literal of
 *   its parameter's type: integers (no sign for unsigned), reals, string
 *   literals for char pointers, true/false, NULL for other pointers.
 *   Functions taking structs by value are not callable in this grammar.
 * Python (pytest): one function `def test_NAME():` with 1-3 statements:
 *     assert F(args) == LITERAL / assert F(args) / assert not F(args)
 *     with pytest.raises(ValueError|TypeError|...): F(args)
 *     F(args)
 *   with literals chosen by the parameter annotation (int, float, str,
 *   bool, list) or any literal when there is none.
 * It is deliberately small: it suits a tiny model and keeps replies short.
 * Use --grammar off to let a capable model write ordinary test code. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testgen/testgen.h"

static bool has_word(const char *type, const char *w) {
    const char *p = type;
    size_t n = strlen(w);
    while ((p = strstr(p, w))) {
        bool start = p == type || !(isalnum((unsigned char)p[-1]) || p[-1] == '_');
        bool end = !(isalnum((unsigned char)p[n]) || p[n] == '_');
        if (start && end) return true;
        p += n;
    }
    return false;
}

typedef enum { K_INT, K_UINT, K_REAL, K_STRING, K_BOOL, K_PTR, K_VOID, K_NONE } c_kind;

static c_kind c_type_kind(const char *t) {
    if (!strcmp(t, "void")) return K_VOID;
    if (strchr(t, '*')) {
        if (has_word(t, "char") && !strstr(t, "**")) return K_STRING;
        return K_PTR;
    }
    if (has_word(t, "struct") || has_word(t, "union")) return K_NONE;
    if (has_word(t, "float") || has_word(t, "double")) return K_REAL;
    if (has_word(t, "bool") || has_word(t, "_Bool")) return K_BOOL;
    if (has_word(t, "unsigned") || has_word(t, "size_t") || has_word(t, "uint8_t") || has_word(t, "uint16_t") ||
        has_word(t, "uint32_t") || has_word(t, "uint64_t"))
        return K_UINT;
    if (has_word(t, "int") || has_word(t, "long") || has_word(t, "short") || has_word(t, "char") ||
        has_word(t, "int8_t") || has_word(t, "int16_t") || has_word(t, "int32_t") || has_word(t, "int64_t") ||
        has_word(t, "ssize_t") || has_word(t, "ptrdiff_t") || has_word(t, "enum"))
        return K_INT;
    return K_NONE; /* a typedef we cannot see through */
}

static const char *c_literal_rule(c_kind k) {
    switch (k) {
    case K_INT: return "int";
    case K_UINT: return "uint";
    case K_REAL: return "real";
    case K_STRING: return "string";
    case K_BOOL: return "bool";
    case K_PTR: return "\"NULL\"";
    default: return NULL;
    }
}

/* fn-NAME ::= "NAME(" args ")"; false when a parameter has no literal. */
static bool c_call_rule(tg_buf *g, const tg_function *f) {
    tg_buf rule = {0};
    tg_buf_printf(&rule, "fn-%s ::= \"%s(\"", f->name, f->name);
    for (int i = 0; i < f->n_params; i++) {
        const char *lit = c_literal_rule(c_type_kind(f->param_types[i]));
        if (!lit) {
            tg_buf_free(&rule);
            return false;
        }
        tg_buf_printf(&rule, "%s %s", i ? " \", \"" : "", lit);
    }
    tg_buf_puts(&rule, " \")\"\n");
    tg_buf_puts(g, rule.s);
    tg_buf_free(&rule);
    return true;
}

static char *grammar_c(const tg_source *srcs, int n_srcs, const char *only_fn) {
    tg_buf g = {0}, calls = {0}, stmts = {0};
    for (int s = 0; s < n_srcs; s++)
        for (int i = 0; i < srcs[s].n_fns; i++) {
            const tg_function *f = &srcs[s].fns[i];
            if (only_fn && strcmp(f->name, only_fn) != 0) continue;
            if (!c_call_rule(&calls, f)) continue;
            c_kind r = c_type_kind(f->result_type);
            const char *n = f->name;
            tg_buf_printf(&stmts, "  | fn-%s \";\"\n", n);
            if (r == K_INT || r == K_UINT)
                tg_buf_printf(&stmts, "  | \"assert_int_equal(\" fn-%s \", \" int \");\"\n", n);
            if (r == K_REAL)
                tg_buf_printf(&stmts, "  | \"assert_float_equal(\" fn-%s \", \" real \", 1e-6);\"\n", n);
            if (r == K_STRING)
                tg_buf_printf(&stmts, "  | \"assert_string_equal(\" fn-%s \", \" string \");\"\n", n);
            if (r != K_VOID && r != K_NONE && r != K_REAL)
                tg_buf_printf(&stmts, "  | (\"assert_true(\" | \"assert_false(\") fn-%s \");\"\n", n);
        }
    if (!stmts.len) {
        tg_buf_free(&g), tg_buf_free(&calls), tg_buf_free(&stmts);
        return NULL;
    }
    tg_buf_puts(&g, "root ::= test\n"
                    "test ::= \"static void test_\" name \"(void **state) {\\n    (void)state;\\n\" stmt stmt? stmt? \"}\\n\"\n"
                    "name ::= [a-z] [a-z0-9_]{0,11}\n"
                    "stmt ::= \"    \" call-stmt \"\\n\"\n"
                    "call-stmt ::= ");
    tg_buf_puts(&g, stmts.s + 4); /* drop the first "  | " */
    tg_buf_puts(&g, calls.s);
    tg_buf_puts(&g, "int ::= \"-\"? uint\n"
                    "uint ::= [0-9] | [1-9] [0-9]{1,2}\n"
                    "real ::= \"-\"? uint \".\" [0-9]{1,3}\n"
                    "string ::= \"\\\"\" [a-zA-Z0-9 ,.!?_-]{0,12} \"\\\"\"\n"
                    "bool ::= \"true\" | \"false\"\n");
    tg_buf_free(&calls), tg_buf_free(&stmts);
    return tg_buf_take(&g);
}

static const char *py_literal_rule(const char *annotation) {
    if (!strcmp(annotation, "int")) return "int";
    if (!strcmp(annotation, "float")) return "(real | int)";
    if (!strcmp(annotation, "str")) return "string";
    if (!strcmp(annotation, "bool")) return "bool";
    if (!strncmp(annotation, "list", 4) || !strncmp(annotation, "List", 4)) return "list";
    return "literal";
}

static char *grammar_python(const tg_source *srcs, int n_srcs, const char *only_fn) {
    tg_buf g = {0}, calls = {0}, alts = {0};
    for (int s = 0; s < n_srcs; s++)
        for (int i = 0; i < srcs[s].n_fns; i++) {
            const tg_function *f = &srcs[s].fns[i];
            if (only_fn && strcmp(f->name, only_fn) != 0) continue;
            tg_buf_printf(&calls, "fn-%s ::= \"%s(\"", f->name, f->name);
            for (int p = 0; p < f->n_params; p++)
                tg_buf_printf(&calls, "%s %s", p ? " \", \"" : "", py_literal_rule(f->param_types[p]));
            tg_buf_puts(&calls, " \")\"\n");
            tg_buf_printf(&alts, "%sfn-%s", alts.len ? " | " : "", f->name);
        }
    if (!alts.len) {
        tg_buf_free(&g), tg_buf_free(&calls), tg_buf_free(&alts);
        return NULL;
    }
    tg_buf_puts(&g, "root ::= test\n"
                    "test ::= \"def test_\" name \"():\\n\" stmt stmt? stmt?\n"
                    "name ::= [a-z] [a-z0-9_]{0,11}\n"
                    "stmt ::= \"    \" (check | raises | call) \"\\n\"\n"
                    "check ::= \"assert \" (\"not \")? call (\" == \" literal)?\n"
                    "raises ::= \"with pytest.raises(\" exc \"):\\n        \" call\n"
                    "exc ::= \"ValueError\" | \"TypeError\" | \"ZeroDivisionError\" | \"KeyError\" | \"IndexError\"\n");
    tg_buf_printf(&g, "call ::= %s\n", alts.s);
    tg_buf_puts(&g, calls.s);
    tg_buf_puts(&g, "literal ::= int | real | string | bool | \"None\" | list\n"
                    "list ::= \"[\" (int (\", \" int){0,4})? \"]\"\n"
                    "int ::= \"-\"? uint\n"
                    "uint ::= [0-9] | [1-9] [0-9]{1,2}\n"
                    "real ::= \"-\"? uint \".\" [0-9]{1,3}\n"
                    "string ::= \"\\\"\" [a-zA-Z0-9 ,.!?_-]{0,12} \"\\\"\"\n"
                    "bool ::= \"True\" | \"False\"\n");
    tg_buf_free(&calls), tg_buf_free(&alts);
    return tg_buf_take(&g);
}

char *tg_grammar_for(const tg_source *srcs, int n_srcs, tg_lang lang, const char *only_fn) {
    return lang == TG_LANG_C ? grammar_c(srcs, n_srcs, only_fn) : grammar_python(srcs, n_srcs, only_fn);
}
