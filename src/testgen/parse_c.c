/* C sources through libclang: each function definition of the main file
 * (name, signature, parameter and result types, body text, lines), and the
 * rest of the file's top level (includes, types, globals) as the context a
 * prompt needs. Also finds the test functions in a candidate. */
#include <clang-c/Index.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testgen/testgen.h"

static char *take_string(CXString s) {
    const char *c = clang_getCString(s);
    char *d = tg_strdup(c ? c : "");
    clang_disposeString(s);
    return d;
}

static void extent_offsets(CXCursor c, unsigned *begin, unsigned *end) {
    CXSourceRange r = clang_getCursorExtent(c);
    clang_getSpellingLocation(clang_getRangeStart(r), NULL, NULL, NULL, begin);
    clang_getSpellingLocation(clang_getRangeEnd(r), NULL, NULL, NULL, end);
}

static unsigned cursor_line(CXSourceLocation loc) {
    unsigned line = 0;
    clang_getSpellingLocation(loc, NULL, &line, NULL, NULL);
    return line;
}

typedef struct visit_state {
    const char *text;
    size_t len;
    tg_source *src;
    tg_buf context;
    int cap;
} visit_state;

static void add_function(visit_state *st, CXCursor c) {
    char *name = take_string(clang_getCursorSpelling(c));
    if (!strcmp(name, "main")) {
        st->src->has_main = true;
        free(name);
        return;
    }
    if (st->src->n_fns == st->cap) {
        st->cap = st->cap ? st->cap * 2 : 16;
        st->src->fns = realloc(st->src->fns, (size_t)st->cap * sizeof *st->src->fns);
        if (!st->src->fns) abort();
    }
    tg_function *f = &st->src->fns[st->src->n_fns++];
    memset(f, 0, sizeof *f);
    f->name = name;
    f->result_type = take_string(clang_getTypeSpelling(clang_getCursorResultType(c)));
    int n = clang_Cursor_getNumArguments(c);
    f->n_params = n > 0 ? n : 0;
    f->param_types = calloc((size_t)f->n_params + 1, sizeof *f->param_types);
    f->param_names = calloc((size_t)f->n_params + 1, sizeof *f->param_names);
    tg_buf sig = {0};
    tg_buf_printf(&sig, "%s %s(", f->result_type, name);
    for (int i = 0; i < f->n_params; i++) {
        CXCursor a = clang_Cursor_getArgument(c, (unsigned)i);
        f->param_types[i] = take_string(clang_getTypeSpelling(clang_getCursorType(a)));
        f->param_names[i] = take_string(clang_getCursorSpelling(a));
        tg_buf_printf(&sig, "%s%s%s%s", i ? ", " : "", f->param_types[i], *f->param_names[i] ? " " : "",
                      f->param_names[i]);
    }
    tg_buf_puts(&sig, n == 0 ? "void)" : ")");
    f->signature = tg_buf_take(&sig);
    unsigned b = 0, e = 0;
    extent_offsets(c, &b, &e);
    if (e > st->len) e = (unsigned)st->len;
    f->source = tg_strndup(st->text + b, e > b ? e - b : 0);
    CXSourceRange r = clang_getCursorExtent(c);
    f->line_start = (int)cursor_line(clang_getRangeStart(r));
    f->line_end = (int)cursor_line(clang_getRangeEnd(r));
}

static enum CXChildVisitResult visit_top(CXCursor c, CXCursor parent, CXClientData data) {
    (void)parent;
    visit_state *st = data;
    if (!clang_Location_isFromMainFile(clang_getCursorLocation(c))) return CXChildVisit_Continue;
    enum CXCursorKind k = clang_getCursorKind(c);
    if (k == CXCursor_FunctionDecl && clang_isCursorDefinition(c)) {
        add_function(st, c);
        return CXChildVisit_Continue;
    }
    if (k == CXCursor_MacroExpansion) return CXChildVisit_Continue;
    /* includes, types, globals, prototypes, macros: the context */
    unsigned b = 0, e = 0;
    extent_offsets(c, &b, &e);
    if (e > st->len || e <= b) return CXChildVisit_Continue;
    if (k == CXCursor_InclusionDirective || k == CXCursor_MacroDefinition) tg_buf_puts(&st->context, "#");
    if (k == CXCursor_MacroDefinition) tg_buf_puts(&st->context, "define ");
    tg_buf_add(&st->context, st->text + b, e - b);
    bool needs_semicolon = k != CXCursor_InclusionDirective && k != CXCursor_MacroDefinition;
    tg_buf_puts(&st->context, needs_semicolon ? ";\n" : "\n");
    return CXChildVisit_Continue;
}

/* Errors (not warnings) as "file:line:col: message" lines; count returned. */
static int collect_errors(CXTranslationUnit tu, tg_buf *out) {
    int errors = 0;
    unsigned n = clang_getNumDiagnostics(tu);
    for (unsigned i = 0; i < n; i++) {
        CXDiagnostic d = clang_getDiagnostic(tu, i);
        if (clang_getDiagnosticSeverity(d) >= CXDiagnostic_Error) {
            errors++;
            if (out && errors <= 5) {
                char *s = take_string(clang_formatDiagnostic(d, CXDiagnostic_DisplaySourceLocation |
                                                                   CXDiagnostic_DisplayColumn));
                tg_buf_printf(out, "%s\n", s);
                free(s);
            }
        }
        clang_disposeDiagnostic(d);
    }
    return errors;
}

int tg_parse_c(const char *path, tg_source *src, llamac_error *err) {
    size_t len = 0;
    char *text = tg_read_file(path, &len, err);
    if (!text) return -1;
    if (len == 0 || strspn(text, " \t\r\n") == len) {
        free(text);
        snprintf(err->msg, sizeof err->msg, "%s: the file is empty", path);
        return -1;
    }
    CXIndex index = clang_createIndex(0, 0);
    const char *args[] = {"-std=c17", "-D_GNU_SOURCE", "-I."};
    CXTranslationUnit tu = NULL;
    enum CXErrorCode rc = clang_parseTranslationUnit2(index, path, args, 3, NULL, 0,
                                                      CXTranslationUnit_DetailedPreprocessingRecord, &tu);
    if (rc != CXError_Success || !tu) {
        snprintf(err->msg, sizeof err->msg, "%s: libclang could not parse the file (error %d)", path, (int)rc);
        clang_disposeIndex(index);
        free(text);
        return -1;
    }
    tg_buf errs = {0};
    if (collect_errors(tu, &errs) > 0) {
        char *nl = strchr(errs.s, '\n');
        if (nl) *nl = 0;
        snprintf(err->msg, sizeof err->msg, "does not parse as C: %s", errs.s);
        tg_buf_free(&errs);
        clang_disposeTranslationUnit(tu);
        clang_disposeIndex(index);
        free(text);
        return -1;
    }
    tg_buf_free(&errs);
    visit_state st = {.text = text, .len = len, .src = src};
    clang_visitChildren(clang_getTranslationUnitCursor(tu), visit_top, &st);
    src->context = tg_buf_take(&st.context);
    clang_disposeTranslationUnit(tu);
    clang_disposeIndex(index);
    free(text);
    src->lang = TG_LANG_C;
    if (src->n_fns == 0) {
        snprintf(err->msg, sizeof err->msg, "%s: no function definitions to test", path);
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------- candidate units */

typedef struct unit_state {
    const char *text;
    size_t len;
    unsigned region_begin; /* the candidate's bytes in the parsed file */
    tg_unit *u;
    tg_buf code;
    int cap_tests, cap_defs;
} unit_state;

static void push_name(char ***list, int *n, int *cap, const char *name) {
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 8;
        *list = realloc(*list, (size_t)*cap * sizeof **list);
        if (!*list) abort();
    }
    (*list)[(*n)++] = tg_strdup(name);
}

/* A cmocka test: void NAME(void **). */
static bool is_test_signature(CXCursor c) {
    CXType t = clang_getCursorType(c);
    if (clang_getResultType(t).kind != CXType_Void || clang_getNumArgTypes(t) != 1) return false;
    char *a = take_string(clang_getTypeSpelling(clang_getArgType(t, 0)));
    bool ok = !strcmp(a, "void **");
    free(a);
    return ok;
}

static enum CXChildVisitResult visit_unit(CXCursor c, CXCursor parent, CXClientData data) {
    (void)parent;
    unit_state *st = data;
    if (!clang_Location_isFromMainFile(clang_getCursorLocation(c))) return CXChildVisit_Continue;
    unsigned b = 0, e = 0;
    extent_offsets(c, &b, &e);
    if (b < st->region_begin || e > st->len || e <= b) return CXChildVisit_Continue;
    enum CXCursorKind k = clang_getCursorKind(c);
    if (k == CXCursor_FunctionDecl && clang_isCursorDefinition(c)) {
        char *name = take_string(clang_getCursorSpelling(c));
        if (strcmp(name, "main") != 0) {
            push_name(&st->u->defs, &st->u->n_defs, &st->cap_defs, name);
            if (is_test_signature(c)) push_name(&st->u->tests, &st->u->n_tests, &st->cap_tests, name);
            tg_buf_add(&st->code, st->text + b, e - b);
            tg_buf_puts(&st->code, "\n\n");
        }
        free(name);
    } else if (k == CXCursor_VarDecl || k == CXCursor_StructDecl || k == CXCursor_TypedefDecl ||
               k == CXCursor_EnumDecl) {
        tg_buf_add(&st->code, st->text + b, e - b);
        tg_buf_puts(&st->code, ";\n\n");
    }
    return CXChildVisit_Continue;
}

/* #include lines of the candidate (the harness adds the framework's). */
static char *candidate_includes(const char *code) {
    tg_buf b = {0};
    for (const char *p = code; *p;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        const char *q = p + strspn(p, " \t");
        if (!strncmp(q, "#include", 8) && !memmem(p, n, "cmocka", 6) && !memmem(p, n, "\"", 1)) {
            tg_buf_add(&b, q, n - (size_t)(q - p));
            tg_buf_puts(&b, "\n");
        }
        p += n + (nl ? 1 : 0);
    }
    return tg_buf_take(&b);
}

int tg_find_units_c(const tg_source *srcs, int n_srcs, const char *code, tg_unit *u, char *why,
                    size_t why_size) {
    memset(u, 0, sizeof *u);
    u->includes = candidate_includes(code);
    /* The candidate is parsed where it will be compiled: after the
     * framework's and the sources' includes. */
    tg_unit none = {0};
    char *head = tg_render_test_file(srcs, n_srcs, TG_LANG_C, &none, 0);
    /* cut the runner off the empty file: everything from "int main" */
    char *runner = strstr(head, "\nint main(void)");
    if (runner) runner[1] = 0;
    tg_buf file = {0};
    tg_buf_puts(&file, head);
    tg_buf_puts(&file, u->includes);
    unsigned region = (unsigned)file.len;
    tg_buf_puts(&file, code);
    free(head);
    char dir_template[] = "/tmp/llamac-testgen-parse-XXXXXX";
    char *dir = mkdtemp(dir_template);
    if (!dir) {
        tg_buf_free(&file);
        return -1;
    }
    tg_buf path = {0};
    tg_buf_printf(&path, "%s/candidate.c", dir);
    llamac_error err;
    if (tg_write_file(path.s, file.s, &err) != 0) {
        tg_buf_free(&file);
        tg_buf_free(&path);
        rmdir(dir);
        return -1;
    }
    tg_buf inc = {0};
    tg_buf_printf(&inc, "-I%s", n_srcs > 0 ? srcs[0].dir : ".");
    const char *args[] = {"-std=c17", "-D_GNU_SOURCE", inc.s};
    CXIndex index = clang_createIndex(0, 0);
    CXTranslationUnit tu = NULL;
    clang_parseTranslationUnit2(index, path.s, args, 3, NULL, 0, CXTranslationUnit_None, &tu);
    unlink(path.s);
    rmdir(dir);
    tg_buf_free(&path);
    tg_buf_free(&inc);
    if (tu) {
        unit_state st = {.text = file.s, .len = file.len, .region_begin = region, .u = u};
        clang_visitChildren(clang_getTranslationUnitCursor(tu), visit_unit, &st);
        u->code = tg_buf_take(&st.code);
        clang_disposeTranslationUnit(tu);
    } else {
        u->code = tg_strdup("");
    }
    clang_disposeIndex(index);
    tg_buf_free(&file);
    if (u->n_tests == 0)
        snprintf(why, why_size, "no test function found: write functions of the form "
                                "`static void test_NAME(void **state) { ... }`");
    return 0;
}
