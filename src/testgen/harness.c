/* The test files testgen writes and the commands that build, run and
 * measure them. C: one cmocka program that #includes the source file (so
 * static functions are testable too), built with gcc --coverage and measured
 * with gcovr. Python: a pytest module importing the source's module, run
 * and measured with coverage.py --branch. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testgen/harness.h"

/* Lines of `text` not already in `seen` appended to both. */
static void add_unique_lines(tg_buf *seen, tg_buf *out, const char *text) {
    for (const char *p = text; p && *p;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        char *line = tg_strndup(p, n);
        if (n > 0 && !strstr(seen->s ? seen->s : "", line)) {
            tg_buf_printf(seen, "%s\n", line);
            tg_buf_printf(out, "%s\n", line);
        }
        free(line);
        p += n + (nl ? 1 : 0);
    }
}

static char *render_c(const tg_source *srcs, int n_srcs, const tg_unit *units, int n_units) {
    tg_buf b = {0}, seen = {0};
    tg_buf_puts(&b, "/* Unit tests written by a local model through `llamac testgen`, kept because\n"
                    " * they built, passed every run and added coverage. cmocka wants these four\n"
                    " * headers before its own. */\n"
                    "#include <stdarg.h>\n#include <stddef.h>\n#include <setjmp.h>\n#include <stdint.h>\n"
                    "#include <cmocka.h>\n");
    tg_buf_puts(&seen, "#include <stdarg.h>\n#include <stddef.h>\n#include <setjmp.h>\n#include <stdint.h>\n");
    for (int i = 0; i < n_units; i++) add_unique_lines(&seen, &b, units[i].includes);
    tg_buf_puts(&b, "\n/* the file under test, included so that its static functions are reachable */\n");
    for (int i = 0; i < n_srcs; i++) {
        if (srcs[i].has_main) tg_buf_puts(&b, "#define main testgen_source_main\n");
        tg_buf_printf(&b, "#include \"%s\"\n", srcs[i].base);
        if (srcs[i].has_main) tg_buf_puts(&b, "#undef main\n");
    }
    tg_buf_puts(&b, "\n");
    for (int i = 0; i < n_units; i++) tg_buf_printf(&b, "%s\n", units[i].code);
    tg_buf_puts(&b, "\nint main(void) {\n    const struct CMUnitTest tests[] = {\n");
    for (int i = 0; i < n_units; i++)
        for (int t = 0; t < units[i].n_tests; t++)
            tg_buf_printf(&b, "        cmocka_unit_test(%s),\n", units[i].tests[t]);
    tg_buf_puts(&b, "    };\n    return cmocka_run_group_tests(tests, NULL, NULL);\n}\n");
    tg_buf_free(&seen);
    return tg_buf_take(&b);
}

static char *render_python(const tg_source *srcs, int n_srcs, const tg_unit *units, int n_units) {
    tg_buf b = {0}, seen = {0};
    tg_buf_puts(&b, "# Unit tests written by a local model through `llamac testgen`, kept because\n"
                    "# they passed every run and added coverage.\nimport pytest\n");
    tg_buf_puts(&seen, "import pytest\n");
    for (int i = 0; i < n_srcs; i++) {
        tg_buf_printf(&b, "import %s\n", srcs[i].module);
        tg_buf_printf(&seen, "import %s\n", srcs[i].module);
        tg_buf_printf(&b, "from %s import ", srcs[i].module);
        for (int f = 0; f < srcs[i].n_fns; f++) tg_buf_printf(&b, "%s%s", f ? ", " : "", srcs[i].fns[f].name);
        tg_buf_puts(&b, "\n");
    }
    for (int i = 0; i < n_units; i++) add_unique_lines(&seen, &b, units[i].includes);
    for (int i = 0; i < n_units; i++) tg_buf_printf(&b, "\n\n%s", units[i].code);
    tg_buf_free(&seen);
    return tg_buf_take(&b);
}

char *tg_render_test_file(const tg_source *srcs, int n_srcs, tg_lang lang, const tg_unit *units, int n_units) {
    return lang == TG_LANG_C ? render_c(srcs, n_srcs, units, n_units) : render_python(srcs, n_srcs, units, n_units);
}

/* ------------------------------------------------------------ commands */

static char *src_dirs(const tg_source *srcs, int n_srcs, const char *sep, bool quote) {
    tg_buf b = {0};
    for (int i = 0; i < n_srcs; i++) {
        bool dup = false;
        for (int j = 0; j < i; j++) dup |= !strcmp(srcs[i].dir, srcs[j].dir);
        if (dup) continue;
        char *q = quote ? tg_shell_quote(srcs[i].dir) : tg_strdup(srcs[i].dir);
        tg_buf_printf(&b, "%s%s", b.len ? sep : "", q);
        free(q);
    }
    return tg_buf_take(&b);
}

void tg_commands(const tg_tools *t, const tg_source *srcs, int n_srcs, tg_lang lang, const char *file,
                 tg_commands_out *c) {
    memset(c, 0, sizeof *c);
    char *qfile = tg_shell_quote(file);
    const char *slash = strrchr(file, '/');
    const char *base = slash ? slash + 1 : file;
    tg_buf b = {0};
    if (lang == TG_LANG_C) {
        char *exe = tg_strndup(base, strcspn(base, "."));
        char *qexe = tg_shell_quote(exe);
        tg_buf incs = {0};
        for (int i = 0; i < n_srcs; i++) {
            char *q = tg_shell_quote(srcs[i].dir);
            if (!strstr(incs.s ? incs.s : "", q)) tg_buf_printf(&incs, " -I%s", q);
            free(q);
        }
        tg_buf_printf(&b, "%s -std=c17 -O0 -g --coverage%s -o %s %s -lcmocka", t->cc, incs.s, qexe, qfile);
        c->build = tg_buf_take(&b);
        tg_buf_printf(&b, "./%s", qexe);
        c->run = tg_buf_take(&b);
        char *root = tg_shell_quote(srcs[0].dir);
        tg_buf_printf(&b, "%s -r %s --json testgen-coverage.json .", t->gcovr, root);
        c->coverage = tg_buf_take(&b);
        tg_buf_printf(&b, "%s -r %s -b .", t->gcovr, root);
        c->coverage_show = tg_buf_take(&b);
        free(root);
        tg_buf_free(&incs);
        free(exe);
        free(qexe);
    } else {
        char *dirs = src_dirs(srcs, n_srcs, ":", false);
        char *qdirs = tg_shell_quote(dirs);
        char *qpy = tg_shell_quote(t->python);
        tg_buf include = {0};
        for (int i = 0; i < n_srcs; i++) tg_buf_printf(&include, "%s%s", i ? "," : "", srcs[i].path);
        char *qinc = tg_shell_quote(include.s);
        const char *env = "PYTHONDONTWRITEBYTECODE=1";
        tg_buf_printf(&b, "%s PYTHONPATH=%s %s -m pytest -q --collect-only -p no:cacheprovider %s", env, qdirs,
                      qpy, qfile);
        c->build = tg_buf_take(&b);
        tg_buf_printf(&b, "%s PYTHONPATH=%s %s -m pytest -q -p no:cacheprovider %s", env, qdirs, qpy, qfile);
        c->run = tg_buf_take(&b);
        tg_buf_printf(&b,
                      "%s PYTHONPATH=%s COVERAGE_FILE=.coverage %s -m coverage run --branch --include=%s -m pytest -q "
                      "-p no:cacheprovider %s && %s -m coverage json -q -o testgen-coverage.json",
                      env, qdirs, qpy, qinc, qfile, qpy);
        c->coverage = tg_buf_take(&b);
        tg_buf_printf(&b, "%s -m coverage report -m", qpy);
        c->coverage_show = tg_buf_take(&b);
        free(dirs), free(qdirs), free(qpy), free(qinc);
        tg_buf_free(&include);
    }
    free(qfile);
}

void tg_commands_free(tg_commands_out *c) {
    free(c->build), free(c->run), free(c->coverage), free(c->coverage_show);
    memset(c, 0, sizeof *c);
}
