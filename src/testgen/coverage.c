/* Coverage as sets: the covered lines and branch outcomes of the file
 * under test, read from gcovr's JSON (C) or coverage.py's JSON (Python).
 * Keeping sets, not percentages, is what lets the loop ask whether a
 * candidate covers anything the kept tests do not. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testgen/testgen.h"

void tg_cov_free(tg_cov *c) {
    free(c->lines);
    free(c->branches);
    memset(c, 0, sizeof *c);
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void push(uint64_t **v, int *n, uint64_t key) {
    uint64_t *p = realloc(*v, (size_t)(*n + 1) * sizeof *p);
    if (!p) abort();
    *v = p;
    p[(*n)++] = key;
}

static void sort_unique(uint64_t *v, int *n) {
    if (*n == 0) return;
    qsort(v, (size_t)*n, sizeof *v, cmp_u64);
    int w = 1;
    for (int i = 1; i < *n; i++)
        if (v[i] != v[w - 1]) v[w++] = v[i];
    *n = w;
}

static void merge(const uint64_t *a, int na, const uint64_t *b, int nb, uint64_t **out, int *n) {
    *out = NULL;
    *n = 0;
    for (int i = 0; i < na; i++) push(out, n, a[i]);
    for (int i = 0; i < nb; i++) push(out, n, b[i]);
    sort_unique(*out, n);
}

void tg_cov_union(const tg_cov *a, const tg_cov *b, tg_cov *out) {
    tg_cov r = {0};
    merge(a->lines, a->n_lines, b->lines, b->n_lines, &r.lines, &r.n_lines);
    merge(a->branches, a->n_branches, b->branches, b->n_branches, &r.branches, &r.n_branches);
    r.line_total = a->line_total > b->line_total ? a->line_total : b->line_total;
    r.branch_total = a->branch_total > b->branch_total ? a->branch_total : b->branch_total;
    *out = r;
}

/* The report entry whose path is the source (gcovr writes paths relative
 * to its root; coverage.py the path it imported). */
static bool same_file(const char *reported, const char *source_path) {
    if (!strcmp(reported, source_path)) return true;
    const char *base = strrchr(source_path, '/');
    base = base ? base + 1 : source_path;
    size_t lr = strlen(reported), lb = strlen(base);
    return lr >= lb && !strcmp(reported + lr - lb, base) && (lr == lb || reported[lr - lb - 1] == '/');
}

int tg_cov_parse_gcovr(const char *json, const char *source_path, tg_cov *out, llamac_error *err) {
    memset(out, 0, sizeof *out);
    cJSON *j = cJSON_Parse(json);
    if (!j) {
        snprintf(err->msg, sizeof err->msg, "gcovr gave no JSON for %s", source_path);
        return -1;
    }
    const cJSON *f;
    cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(j, "files")) {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(f, "file");
        if (!cJSON_IsString(name) || !same_file(name->valuestring, source_path)) continue;
        const cJSON *l;
        cJSON_ArrayForEach(l, cJSON_GetObjectItemCaseSensitive(f, "lines")) {
            if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(l, "gcovr/noncode")) ||
                cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(l, "gcovr/excluded")))
                continue;
            uint64_t line = (uint64_t)cJSON_GetObjectItemCaseSensitive(l, "line_number")->valuedouble;
            out->line_total++;
            if (cJSON_GetObjectItemCaseSensitive(l, "count")->valuedouble > 0) push(&out->lines, &out->n_lines, line);
            uint64_t idx = 0;
            const cJSON *b;
            cJSON_ArrayForEach(b, cJSON_GetObjectItemCaseSensitive(l, "branches")) {
                out->branch_total++;
                if (cJSON_GetObjectItemCaseSensitive(b, "count")->valuedouble > 0)
                    push(&out->branches, &out->n_branches, line << 20 | idx);
                idx++;
            }
        }
    }
    cJSON_Delete(j);
    sort_unique(out->lines, &out->n_lines);
    sort_unique(out->branches, &out->n_branches);
    return 0;
}

static uint64_t arc_key(const cJSON *pair) {
    int64_t from = (int64_t)cJSON_GetArrayItem(pair, 0)->valuedouble;
    int64_t to = (int64_t)cJSON_GetArrayItem(pair, 1)->valuedouble;
    return ((uint64_t)from & 0xffffff) << 24 | ((uint64_t)to & 0xffffff);
}

int tg_cov_parse_coveragepy(const char *json, const char *source_path, tg_cov *out, llamac_error *err) {
    memset(out, 0, sizeof *out);
    cJSON *j = cJSON_Parse(json);
    if (!j) {
        snprintf(err->msg, sizeof err->msg, "coverage.py gave no JSON for %s", source_path);
        return -1;
    }
    const cJSON *f;
    cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(j, "files")) {
        if (!same_file(f->string, source_path)) continue;
        const cJSON *v;
        cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(f, "executed_lines")) {
            push(&out->lines, &out->n_lines, (uint64_t)v->valuedouble);
            out->line_total++;
        }
        out->line_total += cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(f, "missing_lines"));
        cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(f, "executed_branches")) {
            push(&out->branches, &out->n_branches, arc_key(v));
            out->branch_total++;
        }
        out->branch_total += cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(f, "missing_branches"));
    }
    cJSON_Delete(j);
    sort_unique(out->lines, &out->n_lines);
    sort_unique(out->branches, &out->n_branches);
    return 0;
}
