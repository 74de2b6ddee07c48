/* Python sources through python3's own `ast` module: the helper script
 * (src/testgen/pyast.py, compiled into the binary as bytes) is written to a
 * temporary file and run; it answers in JSON. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testgen/pyast_script.h"
#include "testgen/testgen.h"

int tg_find_units_c(const tg_source *srcs, int n_srcs, const char *code, tg_unit *u, char *why,
                    size_t why_size);

/* Runs the helper on `path`; the parsed JSON answer, or NULL + err. */
static cJSON *run_helper(const char *python, const char *mode, const char *path, llamac_error *err) {
    char dir_template[] = "/tmp/llamac-testgen-py-XXXXXX";
    char *dir = mkdtemp(dir_template);
    if (!dir) {
        snprintf(err->msg, sizeof err->msg, "cannot create a temporary folder");
        return NULL;
    }
    tg_buf script = {0};
    tg_buf_printf(&script, "%s/pyast.py", dir);
    char *text = tg_strndup((const char *)tg_pyast_py, sizeof tg_pyast_py);
    int wrc = tg_write_file(script.s, text, err);
    free(text);
    cJSON *json = NULL;
    if (wrc == 0) {
        char *qp = tg_shell_quote(python), *qs = tg_shell_quote(script.s), *qf = tg_shell_quote(path);
        tg_buf cmd = {0};
        tg_buf_printf(&cmd, "%s %s %s %s", qp, qs, mode, qf);
        tg_proc pr;
        if (tg_run(cmd.s, NULL, 60, &pr) != 0 || pr.exit_code != 0) {
            char *nl = pr.output ? strrchr(pr.output, '\n') : NULL;
            if (nl && nl[1] == 0) *nl = 0;
            snprintf(err->msg, sizeof err->msg, "%s: python helper failed (%s): %.300s", path, python,
                     pr.output ? pr.output : "could not start");
        } else if (!(json = cJSON_Parse(pr.output))) {
            snprintf(err->msg, sizeof err->msg, "%s: python helper gave no JSON", path);
        }
        tg_proc_free(&pr);
        tg_buf_free(&cmd);
        free(qp), free(qs), free(qf);
        unlink(script.s);
    }
    rmdir(dir);
    tg_buf_free(&script);
    return json;
}

static const char *jstr(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : "";
}

static int jint(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valueint : 0;
}

static char *module_name(const char *base) {
    const char *dot = strrchr(base, '.');
    return tg_strndup(base, dot ? (size_t)(dot - base) : strlen(base));
}

int tg_parse_python(const char *python, const char *path, tg_source *src, llamac_error *err) {
    size_t len = 0;
    char *text = tg_read_file(path, &len, err);
    if (!text) return -1;
    bool empty = len == 0 || strspn(text, " \t\r\n") == len;
    free(text);
    if (empty) {
        snprintf(err->msg, sizeof err->msg, "%s: the file is empty", path);
        return -1;
    }
    cJSON *j = run_helper(python, "functions", path, err);
    if (!j) return -1;
    if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "ok"))) {
        snprintf(err->msg, sizeof err->msg, "does not parse as Python: %s", jstr(j, "error"));
        cJSON_Delete(j);
        return -1;
    }
    src->lang = TG_LANG_PYTHON;
    src->module = module_name(src->base);
    src->context = tg_strdup(jstr(j, "context"));
    const cJSON *fns = cJSON_GetObjectItemCaseSensitive(j, "functions");
    int n = cJSON_GetArraySize(fns);
    src->fns = calloc((size_t)n + 1, sizeof *src->fns);
    const cJSON *fj;
    cJSON_ArrayForEach(fj, fns) {
        tg_function *f = &src->fns[src->n_fns++];
        f->name = tg_strdup(jstr(fj, "name"));
        f->signature = tg_strdup(jstr(fj, "signature"));
        f->source = tg_strdup(jstr(fj, "source"));
        f->result_type = tg_strdup(jstr(fj, "returns"));
        f->line_start = jint(fj, "line_start");
        f->line_end = jint(fj, "line_end");
        const cJSON *ps = cJSON_GetObjectItemCaseSensitive(fj, "params");
        int np = cJSON_GetArraySize(ps);
        f->param_types = calloc((size_t)np + 1, sizeof *f->param_types);
        f->param_names = calloc((size_t)np + 1, sizeof *f->param_names);
        const cJSON *pj;
        cJSON_ArrayForEach(pj, ps) {
            f->param_names[f->n_params] = tg_strdup(jstr(pj, "name"));
            f->param_types[f->n_params++] = tg_strdup(jstr(pj, "annotation"));
        }
    }
    cJSON_Delete(j);
    if (src->n_fns == 0) {
        snprintf(err->msg, sizeof err->msg, "%s: no top-level functions to test", path);
        return -1;
    }
    return 0;
}

static char **names_of(const cJSON *arr, int *n) {
    *n = cJSON_GetArraySize(arr);
    char **out = calloc((size_t)*n + 1, sizeof *out);
    int i = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, arr) out[i++] = tg_strdup(cJSON_IsString(v) ? v->valuestring : "");
    return out;
}

static int find_units_python(const tg_tools *t, const char *code, tg_unit *u, char *why, size_t why_size) {
    memset(u, 0, sizeof *u);
    char dir_template[] = "/tmp/llamac-testgen-unit-XXXXXX";
    char *dir = mkdtemp(dir_template);
    if (!dir) return -1;
    tg_buf path = {0};
    tg_buf_printf(&path, "%s/candidate.py", dir);
    llamac_error err = {{0}};
    cJSON *j = NULL;
    if (tg_write_file(path.s, code, &err) == 0) j = run_helper(t->python, "units", path.s, &err);
    unlink(path.s);
    rmdir(dir);
    tg_buf_free(&path);
    if (!j) {
        snprintf(why, why_size, "%s", err.msg);
        u->code = tg_strdup("");
        u->includes = tg_strdup("");
        return 0;
    }
    if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "ok"))) {
        /* a syntax error: keep the code so the build step reports it */
        const char *e = jstr(j, "error");
        const char *colon = strstr(e, "candidate.py:");
        snprintf(why, why_size, "SyntaxError at test.py:%s", colon ? colon + 13 : e);
        u->code = tg_strdup(code);
        u->includes = tg_strdup("");
        cJSON_Delete(j);
        return 0;
    }
    u->code = tg_strdup(jstr(j, "code"));
    u->includes = tg_strdup(jstr(j, "imports"));
    u->tests = names_of(cJSON_GetObjectItemCaseSensitive(j, "tests"), &u->n_tests);
    u->defs = names_of(cJSON_GetObjectItemCaseSensitive(j, "defs"), &u->n_defs);
    cJSON_Delete(j);
    if (u->n_tests == 0)
        snprintf(why, why_size, "no test function found: write functions of the form "
                                "`def test_NAME():` with assert statements");
    return 0;
}

int tg_find_units(const tg_tools *t, const tg_source *srcs, int n_srcs, tg_lang lang, const char *code,
                  tg_unit *u, char *why, size_t why_size) {
    why[0] = 0;
    if (lang == TG_LANG_C) return tg_find_units_c(srcs, n_srcs, code, u, why, why_size);
    return find_units_python(t, code, u, why, why_size);
}

void tg_unit_free(tg_unit *u) {
    free(u->code);
    free(u->includes);
    for (int i = 0; i < u->n_tests; i++) free(u->tests[i]);
    for (int i = 0; i < u->n_defs; i++) free(u->defs[i]);
    free(u->tests);
    free(u->defs);
    memset(u, 0, sizeof *u);
}

void tg_source_free(tg_source *src) {
    for (int i = 0; i < src->n_fns; i++) {
        tg_function *f = &src->fns[i];
        for (int p = 0; p < f->n_params; p++) free(f->param_types[p]), free(f->param_names[p]);
        free(f->param_types);
        free(f->param_names);
        free(f->name), free(f->signature), free(f->source), free(f->result_type);
    }
    free(src->fns);
    free(src->path), free(src->dir), free(src->base), free(src->module), free(src->context);
    memset(src, 0, sizeof *src);
}
