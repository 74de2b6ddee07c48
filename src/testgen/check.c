/* --check: which compilers, frameworks and coverage tools testgen can use,
 * and the apt-get line for whatever is missing (Debian package names). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testgen/testgen.h"

static bool ok_cmd(const char *cmd) {
    tg_proc p;
    if (tg_run(cmd, NULL, 30, &p) != 0) return false;
    bool ok = !p.timed_out && p.exit_code == 0;
    tg_proc_free(&p);
    return ok;
}

const char *tg_find_python(void) {
    const char *env = getenv("LLAMAC_PYTHON");
    if (env && *env) return env;
    static const char *candidates[] = {"python3", "/usr/bin/python3"};
    for (size_t i = 0; i < 2; i++) {
        tg_buf cmd = {0};
        tg_buf_printf(&cmd, "%s -c 'import pytest, coverage' >/dev/null 2>&1", candidates[i]);
        bool ok = ok_cmd(cmd.s);
        tg_buf_free(&cmd);
        if (ok) return candidates[i];
    }
    return "python3";
}

typedef struct tool_check {
    const char *what, *package;
    char *cmd;
    bool needed;
} tool_check;

int tg_check_tools(const tg_options *o) {
    const tg_tools *t = &o->tools;
    char *qcc = tg_shell_quote(t->cc), *qpy = tg_shell_quote(t->python), *qgcovr = tg_shell_quote(t->gcovr);
    tg_buf cmocka = {0}, cc = {0}, py = {0}, pytest = {0}, cov = {0}, gcovr = {0};
    tg_buf_printf(&cc, "%s --version >/dev/null 2>&1", qcc);
    tg_buf_printf(&cmocka,
                  "d=$(mktemp -d) && printf '#include <stdarg.h>\\n#include <stddef.h>\\n#include <setjmp.h>\\n"
                  "#include <stdint.h>\\n#include <cmocka.h>\\nint main(void){return 0;}\\n' > $d/t.c && "
                  "%s -o $d/t $d/t.c -lcmocka >/dev/null 2>&1; r=$?; rm -rf $d; exit $r",
                  qcc);
    tg_buf_printf(&gcovr, "%s --version >/dev/null 2>&1", qgcovr);
    tg_buf_printf(&py, "%s --version >/dev/null 2>&1", qpy);
    tg_buf_printf(&pytest, "%s -m pytest --version >/dev/null 2>&1", qpy);
    tg_buf_printf(&cov, "%s -m coverage --version >/dev/null 2>&1", qpy);
    bool want_c = !o->lang_set || o->lang == TG_LANG_C, want_py = !o->lang_set || o->lang == TG_LANG_PYTHON;
    tool_check checks[] = {
        {"C compiler (cc)", "gcc", cc.s, want_c},
        {"cmocka (C test framework)", "libcmocka-dev", cmocka.s, want_c},
        {"gcovr (C coverage)", "gcovr", gcovr.s, want_c},
        {"libclang (C parser)", "libclang-dev", NULL, want_c},
        {"python3", "python3", py.s, want_py},
        {"pytest", "python3-pytest", pytest.s, want_py},
        {"coverage.py", "python3-coverage", cov.s, want_py},
    };
    tg_buf missing = {0};
    printf("testgen tools (C: %s, python: %s, gcovr: %s)\n", t->cc, t->python, t->gcovr);
    for (size_t i = 0; i < sizeof checks / sizeof *checks; i++) {
        /* libclang is linked into this binary: present by construction */
        bool ok = !checks[i].cmd || ok_cmd(checks[i].cmd);
        printf("  %-28s %s%s\n", checks[i].what, ok ? "present" : "MISSING",
               !ok && !checks[i].needed ? " (not needed for this --lang)" : "");
        if (!ok && checks[i].needed) tg_buf_printf(&missing, " %s", checks[i].package);
    }
    int rc = 0;
    if (missing.len) {
        printf("missing: install with\n  sudo apt-get install -y%s\n", missing.s);
        rc = 1;
    } else {
        printf("everything testgen needs is present\n");
    }
    tg_buf_free(&missing);
    tg_buf_free(&cmocka), tg_buf_free(&cc), tg_buf_free(&py), tg_buf_free(&pytest), tg_buf_free(&cov);
    tg_buf_free(&gcovr);
    free(qcc), free(qpy), free(qgcovr);
    return rc;
}
