/* The testgen loop, per function under test:
 *   K candidates sampled together -> code pulled from each reply -> test
 *   functions found by the parser -> built alone (compile / import); on
 *   failure the message goes back to the model, up to R repair rounds ->
 *   run --runs times: failing every run is repaired like a build error,
 *   failing some runs is flaky and dropped -> built together with the tests
 *   kept so far and measured: kept only when it covers a line or branch
 *   outcome they do not.
 * The kept file is rebuilt and run --runs times at the end before it is
 * written (by rename), so the output file always builds and passes. */
#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testgen/harness.h"
#include "testgen/testgen.h"

typedef struct cov_counts {
    int lines, line_total, branches, branch_total;
} cov_counts;

typedef struct fn_report {
    char *name;
    int candidates, built, passed, flaky, failed, no_gain, kept, tests_kept, repair_rounds;
    int replies, replies_parsed; /* replies with at least one test function in them */
    cov_counts before, after;
    char *error; /* when the function could not be tried at all */
} fn_report;

typedef struct run_state {
    const tg_options *o;
    tg_source *srcs;
    int n_srcs;
    tg_lang lang;
    tg_gen *gen;
    char *work;      /* temporary folder for every build */
    int n_attempts;
    tg_unit *kept;
    int n_kept;
    char **taken;    /* function names used in the kept file */
    int n_taken;
    tg_cov kept_cov;
    fn_report *reports;
    int n_reports;
    char *test_name; /* "test_foo.c" / "test_foo.py" */
} run_state;

static void progress(const run_state *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void progress(const run_state *st, const char *fmt, ...) {
    if (st->o->quiet) return;
    va_list ap;
    va_start(ap, fmt);
    fputs("testgen: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static cov_counts counts_of(const tg_cov *c) {
    return (cov_counts){c->n_lines, c->line_total, c->n_branches, c->branch_total};
}

/* ------------------------------------------------------------ building */

typedef struct attempt {
    bool built, passed_all;
    int passes;
    char *output; /* the build error or a failing run's output */
    tg_cov cov;   /* with measure */
} attempt;

static void attempt_free(attempt *a) {
    free(a->output);
    tg_cov_free(&a->cov);
}

static char *new_attempt_dir(run_state *st) {
    tg_buf b = {0};
    tg_buf_printf(&b, "%s/a%03d", st->work, ++st->n_attempts);
    mkdir(b.s, 0777);
    return tg_buf_take(&b);
}

/* Runs cmd in dir; true when it exited 0 in time. *out gets its output. */
static bool run_ok(const run_state *st, const char *cmd, const char *dir, char **out) {
    tg_proc p;
    if (tg_run(cmd, dir, st->o->tools.timeout_s, &p) != 0) {
        if (out) *out = tg_strdup("could not start /bin/sh");
        return false;
    }
    bool ok = !p.timed_out && p.exit_code == 0;
    if (out) *out = p.output, p.output = NULL;
    tg_proc_free(&p);
    return ok;
}

static int read_coverage(const run_state *st, const char *dir, tg_cov *cov, char **out) {
    tg_buf path = {0};
    tg_buf_printf(&path, "%s/testgen-coverage.json", dir);
    llamac_error err = {{0}};
    char *json = tg_read_file(path.s, NULL, &err);
    tg_buf_free(&path);
    memset(cov, 0, sizeof *cov);
    if (!json) {
        *out = tg_strdup(err.msg);
        return -1;
    }
    for (int i = 0; i < st->n_srcs; i++) {
        tg_cov one, merged;
        int rc = st->lang == TG_LANG_C ? tg_cov_parse_gcovr(json, st->srcs[i].path, &one, &err)
                                       : tg_cov_parse_coveragepy(json, st->srcs[i].path, &one, &err);
        if (rc != 0) {
            free(json);
            *out = tg_strdup(err.msg);
            return -1;
        }
        /* keys of different files must not meet */
        for (int k = 0; k < one.n_lines; k++) one.lines[k] |= (uint64_t)i << 56;
        for (int k = 0; k < one.n_branches; k++) one.branches[k] |= (uint64_t)i << 56;
        tg_cov_union(cov, &one, &merged);
        merged.line_total = cov->line_total + one.line_total;
        merged.branch_total = cov->branch_total + one.branch_total;
        tg_cov_free(cov);
        tg_cov_free(&one);
        *cov = merged;
    }
    free(json);
    return 0;
}

/* Writes the file for `units`, builds it, runs it `runs` times, and with
 * `measure` runs it once more for coverage. */
static void try_units(run_state *st, const tg_unit *units, int n_units, int runs, bool measure, attempt *a) {
    memset(a, 0, sizeof *a);
    char *dir = new_attempt_dir(st);
    tg_buf file = {0};
    tg_buf_printf(&file, "%s/%s", dir, st->test_name);
    char *text = tg_render_test_file(st->srcs, st->n_srcs, st->lang, units, n_units);
    llamac_error err = {{0}};
    tg_commands_out c;
    tg_commands(&st->o->tools, st->srcs, st->n_srcs, st->lang, file.s, &c);
    if (tg_write_file(file.s, text, &err) != 0) {
        a->output = tg_strdup(err.msg);
        goto done;
    }
    a->built = run_ok(st, c.build, dir, &a->output);
    if (!a->built) goto done;
    free(a->output), a->output = NULL;
    for (int r = 0; r < runs; r++) {
        char *out = NULL;
        if (run_ok(st, c.run, dir, &out)) {
            a->passes++;
            free(out);
        } else if (!a->output) {
            a->output = out;
        } else {
            free(out);
        }
    }
    a->passed_all = a->passes == runs;
    if (!a->passed_all || !measure) goto done;
    char *out = NULL;
    bool ok;
    if (st->lang == TG_LANG_C) {
        /* counts from the runs above would mix in; measure one fresh run */
        tg_buf clean = {0};
        tg_buf_printf(&clean, "rm -f *.gcda && %s && %s", c.run, c.coverage);
        ok = run_ok(st, clean.s, dir, &out);
        tg_buf_free(&clean);
    } else {
        ok = run_ok(st, c.coverage, dir, &out);
    }
    if (!ok || read_coverage(st, dir, &a->cov, &out) != 0) {
        a->passed_all = false; /* failed when measured: treated as flaky */
        free(a->output);
        a->output = out;
        out = NULL;
    }
    free(out);
done:
    tg_commands_free(&c);
    free(text);
    tg_buf_free(&file);
    free(dir);
}

/* ------------------------------------------------------------ prompts */

static const char *lang_fence(tg_lang l) { return l == TG_LANG_C ? "c" : "python"; }

/* The first request, in three sizes (tier 0 full .. 2 minimal) so that it
 * fits small contexts. */
static char *first_prompt(const run_state *st, const tg_source *src, const tg_function *f, int tier) {
    tg_buf b = {0};
    const char *fence = lang_fence(st->lang);
    if (st->lang == TG_LANG_C)
        tg_buf_printf(&b, "Write cmocka unit tests for the C function `%s` from %s.\n\n", f->name, src->base);
    else
        tg_buf_printf(&b, "Write pytest unit tests for the Python function `%s` from module %s.\n\n", f->name,
                      src->module);
    if (tier == 0 && src->context && *src->context) {
        size_t n = strlen(src->context);
        tg_buf_printf(&b, "What %s declares besides its functions:\n```%s\n%.*s%s```\n\n", src->base, fence,
                      (int)(n > 2000 ? 2000 : n), src->context, n > 2000 ? "\n...\n" : "");
    }
    if (tier <= 1) {
        tg_buf_printf(&b, "The function:\n```%s\n%s\n```\n\n", fence, f->source);
        if (st->lang == TG_LANG_C)
            tg_buf_printf(&b, "Write one to three test functions, each `static void test_NAME(void **state)` "
                              "starting with `(void)state;`, using assert_int_equal, assert_true, assert_false, "
                              "assert_string_equal, assert_float_equal or assert_null. %s is already included: "
                              "call its functions directly. Do not write main(). Reply with one ```c block.",
                          src->base);
        else
            tg_buf_printf(&b, "Write one to three functions `def test_NAME():` with plain assert statements "
                              "(pytest.raises for errors). `%s` is already imported by name: call it directly "
                              "and do not redefine it. Reply with one ```python block.",
                          f->name);
    } else {
        tg_buf_printf(&b, "%s\n", f->signature);
    }
    return tg_buf_take(&b);
}

typedef struct candidate {
    char **replies, **outputs; /* per round: the reply and the tool output it got */
    const char **kinds;        /* "build", "shape" or "failed" */
    int n_rounds;
    bool active, ever_built;
} candidate;

/* Trims a tool's output to `max` bytes: builds keep the start (the first
 * error), failing runs the end (the summary). */
static char *trim_output(const char *s, size_t max, bool keep_end) {
    size_t n = strlen(s);
    if (n <= max) return tg_strdup(s);
    return keep_end ? tg_strdup(s + n - max) : tg_strndup(s, max);
}

static char *feedback_text(const char *kind, const char *output, size_t max, tg_lang lang) {
    tg_buf b = {0};
    bool run_failure = !strcmp(kind, "failed");
    char *o = trim_output(output ? output : "", max, run_failure);
    if (!strcmp(kind, "build"))
        tg_buf_printf(&b, "The tests did not %s:\n```\n%s\n```\n", lang == TG_LANG_C ? "compile" : "import", o);
    else if (!strcmp(kind, "shape"))
        tg_buf_printf(&b, "%s\n", o);
    else
        tg_buf_printf(&b, "The tests failed:\n```\n%s\n```\nThe function is correct; fix what the tests expect.\n", o);
    tg_buf_puts(&b, "Reply with the corrected test functions only.");
    free(o);
    return tg_buf_take(&b);
}

/* ------------------------------------------------------------ one function */

static void rename_unit(run_state *st, tg_unit *u) {
    for (int d = 0; d < u->n_defs; d++) {
        const char *name = u->defs[d];
        bool clash = false;
        for (int i = 0; i < st->n_taken; i++) clash |= !strcmp(st->taken[i], name);
        if (!clash) continue;
        char fresh[256];
        for (int k = 2;; k++) {
            snprintf(fresh, sizeof fresh, "%s_%d", name, k);
            bool used = false;
            for (int i = 0; i < st->n_taken; i++) used |= !strcmp(st->taken[i], fresh);
            for (int i = 0; i < u->n_defs; i++) used |= !strcmp(u->defs[i], fresh);
            if (!used) break;
        }
        char *code = tg_replace_word(u->code, name, fresh);
        free(u->code);
        u->code = code;
        for (int t = 0; t < u->n_tests; t++)
            if (!strcmp(u->tests[t], name)) free(u->tests[t]), u->tests[t] = tg_strdup(fresh);
        free(u->defs[d]);
        u->defs[d] = tg_strdup(fresh);
    }
}

static void keep_unit(run_state *st, tg_unit *u, tg_cov *cov) {
    st->kept = realloc(st->kept, (size_t)(st->n_kept + 1) * sizeof *st->kept);
    st->kept[st->n_kept++] = *u;
    memset(u, 0, sizeof *u);
    tg_unit *k = &st->kept[st->n_kept - 1];
    st->taken = realloc(st->taken, (size_t)(st->n_taken + k->n_defs) * sizeof *st->taken);
    for (int d = 0; d < k->n_defs; d++) st->taken[st->n_taken++] = tg_strdup(k->defs[d]);
    tg_cov_free(&st->kept_cov);
    st->kept_cov = *cov;
    memset(cov, 0, sizeof *cov);
}

static bool covers_more(const tg_cov *now, const tg_cov *kept) {
    tg_cov u;
    tg_cov_union(now, kept, &u);
    bool more = u.n_lines > kept->n_lines || u.n_branches > kept->n_branches;
    tg_cov_free(&u);
    return more;
}

/* Judges one reply. Returns the feedback kind when the candidate should be
 * repaired ("build", "shape", "failed"), NULL when it is finished. */
static const char *judge(run_state *st, fn_report *rep, candidate *c, const char *reply, int k, char **output) {
    char *code = tg_extract_code(reply, st->lang);
    tg_unit u;
    char why[512];
    *output = NULL;
    tg_find_units(&st->o->tools, st->srcs, st->n_srcs, st->lang, code, &u, why, sizeof why);
    free(code);
    rep->replies++;
    rep->replies_parsed += u.n_tests > 0;
    if (u.n_tests == 0) {
        progress(st, "  %s c%d: %s", rep->name, k, why);
        *output = tg_strdup(why);
        tg_unit_free(&u);
        return "shape";
    }
    rename_unit(st, &u);
    attempt a;
    try_units(st, &u, 1, st->o->runs, false, &a);
    const char *verdict = NULL;
    if (a.built && !c->ever_built) {
        c->ever_built = true; /* counted once per candidate, whichever round it built in */
        rep->built++;
    }
    if (!a.built) {
        progress(st, "  %s c%d: does not build", rep->name, k);
        *output = a.output, a.output = NULL;
        verdict = "build";
    } else if (a.passes == 0) {
        progress(st, "  %s c%d: fails", rep->name, k);
        *output = a.output, a.output = NULL;
        verdict = "failed";
    } else if (!a.passed_all) {
        progress(st, "  %s c%d: flaky (%d of %d runs passed), dropped", rep->name, k, a.passes, st->o->runs);
        rep->flaky++;
    } else {
        rep->passed++;
        tg_unit *all = calloc((size_t)st->n_kept + 1, sizeof *all);
        if (st->n_kept) memcpy(all, st->kept, (size_t)st->n_kept * sizeof *all);
        all[st->n_kept] = u;
        attempt m;
        try_units(st, all, st->n_kept + 1, 1, true, &m);
        free(all);
        if (!m.passed_all) {
            progress(st, "  %s c%d: passes alone but not with the kept tests, dropped", rep->name, k);
            rep->flaky++;
        } else if (!covers_more(&m.cov, &st->kept_cov)) {
            progress(st, "  %s c%d: passes, adds no coverage, dropped", rep->name, k);
            rep->no_gain++;
        } else {
            progress(st, "  %s c%d: kept (%d tests; lines %d -> %d, branches %d -> %d)", rep->name, k, u.n_tests,
                     st->kept_cov.n_lines, m.cov.n_lines, st->kept_cov.n_branches, m.cov.n_branches);
            rep->kept++;
            rep->tests_kept += u.n_tests;
            keep_unit(st, &u, &m.cov);
        }
        attempt_free(&m);
    }
    attempt_free(&a);
    tg_unit_free(&u);
    return verdict;
}

static void free_candidates(candidate *c, int n) {
    for (int i = 0; i < n; i++) {
        for (int r = 0; r < c[i].n_rounds; r++) free(c[i].replies[r]), free(c[i].outputs[r]);
        free(c[i].replies);
        free(c[i].outputs);
        free(c[i].kinds);
    }
    free(c);
}

/* The conversation of candidate c at a prompt tier. */
/* Smaller tiers shorten the tool output and, at the last, keep only the
 * latest repair exchange. owned[] receives the strings to free. */
static size_t conversation(const run_state *st, const tg_source *src, const tg_function *f, const candidate *c,
                           int tier, llamac_chat_message *msgs, char **owned, int *n_owned) {
    static const size_t output_max[] = {1500, 400, 120};
    size_t n = 0;
    *n_owned = 0;
    owned[(*n_owned)++] = first_prompt(st, src, f, tier);
    if (tier == 0)
        msgs[n++] = (llamac_chat_message){"system", "You write unit tests. Reply with code in one fenced block."};
    msgs[n++] = (llamac_chat_message){"user", owned[0]};
    for (int r = tier == 2 && c->n_rounds > 0 ? c->n_rounds - 1 : 0; r < c->n_rounds; r++) {
        msgs[n++] = (llamac_chat_message){"assistant", c->replies[r]};
        owned[*n_owned] = feedback_text(c->kinds[r], c->outputs[r], output_max[tier], st->lang);
        msgs[n++] = (llamac_chat_message){"user", owned[(*n_owned)++]};
    }
    return n;
}

static int test_function(run_state *st, const tg_source *src, const tg_function *f, fn_report *rep) {
    const tg_options *o = st->o;
    int K = o->candidates;
    rep->name = tg_strdup(f->name);
    rep->candidates = K;
    rep->before = counts_of(&st->kept_cov);
    candidate *c = calloc((size_t)K, sizeof *c);
    for (int k = 0; k < K; k++) {
        c[k].active = true;
        c[k].replies = calloc((size_t)o->rounds + 1, sizeof(char *));
        c[k].outputs = calloc((size_t)o->rounds + 1, sizeof(char *));
        c[k].kinds = calloc((size_t)o->rounds + 1, sizeof(char *));
    }
    char *gbnf = o->grammar ? tg_grammar_for(st->srcs, st->n_srcs, st->lang, f->name) : NULL;
    if (o->grammar && !gbnf) progress(st, "%s: no literal fits its parameters; sampling without a grammar", f->name);
    int rc = 0;
    for (int round = 1; round <= o->rounds + 1 && rc == 0; round++) {
        int idx[LLAMAC_SEQ_MAX], n = 0;
        for (int k = 0; k < K; k++)
            if (c[k].active) idx[n++] = k;
        if (n == 0) break;
        if (round > 1) rep->repair_rounds++;
        progress(st, "%s: round %d, %d candidate%s", f->name, round, n, n == 1 ? "" : "s");
        llamac_chat_message *msgs[LLAMAC_SEQ_MAX];
        size_t n_msgs[LLAMAC_SEQ_MAX];
        char *owned[LLAMAC_SEQ_MAX][24], *keys[LLAMAC_SEQ_MAX], *replies[LLAMAC_SEQ_MAX];
        int n_owned[LLAMAC_SEQ_MAX];
        llamac_error err = {{0}};
        int grc = -2;
        for (int tier = 0; tier < 3 && grc == -2; tier++) {
            for (int i = 0; i < n; i++) {
                msgs[i] = calloc((size_t)(2 * round + 2), sizeof **msgs);
                n_msgs[i] = conversation(st, src, f, &c[idx[i]], tier, msgs[i], owned[i], &n_owned[i]);
                tg_buf kb = {0};
                tg_buf_printf(&kb, "%s/c%d.r%d", f->name, idx[i] + 1, round);
                keys[i] = tg_buf_take(&kb);
            }
            grc = tg_gen_replies(st->gen, (const llamac_chat_message *const *)msgs, n_msgs, n,
                                 (const char *const *)keys, gbnf, replies, &err);
            for (int i = 0; i < n; i++) {
                for (int j = 0; j < n_owned[i]; j++) free(owned[i][j]);
                free(msgs[i]), free(keys[i]);
            }
        }
        if (grc == -2) { /* even the smallest prompt does not fit: this function only */
            rep->error = tg_strdup(err.msg);
            fprintf(stderr, "llamac testgen: %s: round %d skipped: %s\n", f->name, round, err.msg);
            break;
        }
        if (grc != 0) {
            rep->error = tg_strdup(err.msg);
            fprintf(stderr, "llamac testgen: %s: %s\n", f->name, err.msg);
            rc = -1;
            break;
        }
        for (int i = 0; i < n; i++) {
            candidate *cd = &c[idx[i]];
            char *output = NULL;
            const char *kind = judge(st, rep, cd, replies[i], idx[i] + 1, &output);
            cd->active = kind && round <= o->rounds;
            if (kind && !cd->active && !strcmp(kind, "failed")) rep->failed++;
            if (cd->active) {
                cd->replies[cd->n_rounds] = replies[i];
                cd->outputs[cd->n_rounds] = output;
                cd->kinds[cd->n_rounds] = kind;
                cd->n_rounds++;
                replies[i] = NULL;
                output = NULL;
            }
            free(output);
            free(replies[i]);
        }
    }
    free(gbnf);
    free_candidates(c, K);
    rep->after = counts_of(&st->kept_cov);
    return rc;
}

/* ------------------------------------------------------------ report */

static double pct(int a, int b) { return b > 0 ? 100.0 * a / b : 0.0; }

static void print_table(const run_state *st, const cov_counts *final) {
    printf("%-24s %5s %5s %6s %5s %5s %6s %6s  %-17s %-17s\n", "function", "cand", "built", "passed", "flaky",
           "kept", "tests", "rounds", "lines before>after", "branches bef>aft");
    fn_report t = {0};
    for (int i = 0; i < st->n_reports; i++) {
        const fn_report *r = &st->reports[i];
        char lb[40], bb[40];
        snprintf(lb, sizeof lb, "%d>%d/%d", r->before.lines, r->after.lines, r->after.line_total);
        snprintf(bb, sizeof bb, "%d>%d/%d", r->before.branches, r->after.branches, r->after.branch_total);
        printf("%-24s %5d %5d %6d %5d %5d %6d %6d  %-17s %-17s\n", r->name, r->candidates, r->built, r->passed,
               r->flaky, r->kept, r->tests_kept, r->repair_rounds, lb, bb);
        t.candidates += r->candidates, t.built += r->built, t.passed += r->passed, t.flaky += r->flaky;
        t.kept += r->kept, t.tests_kept += r->tests_kept, t.repair_rounds += r->repair_rounds;
    }
    printf("%-24s %5d %5d %6d %5d %5d %6d %6d  lines %d/%d (%.1f%%), branches %d/%d (%.1f%%)\n", "total", t.candidates,
           t.built, t.passed, t.flaky, t.kept, t.tests_kept, t.repair_rounds, final->lines, final->line_total,
           pct(final->lines, final->line_total), final->branches, final->branch_total,
           pct(final->branches, final->branch_total));
}

static cJSON *cov_json(const cov_counts *c) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "lines_covered", c->lines);
    cJSON_AddNumberToObject(j, "lines_total", c->line_total);
    cJSON_AddNumberToObject(j, "branches_covered", c->branches);
    cJSON_AddNumberToObject(j, "branches_total", c->branch_total);
    return j;
}

static int write_report(const run_state *st, const cov_counts *baseline, const cov_counts *final, const char *output,
                        const tg_commands_out *cmds, const char *out_dir, double seconds) {
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "language", st->lang == TG_LANG_C ? "c" : "python");
    cJSON *srcs = cJSON_AddArrayToObject(root, "sources");
    for (int i = 0; i < st->n_srcs; i++) cJSON_AddItemToArray(srcs, cJSON_CreateString(st->srcs[i].path));
    cJSON_AddStringToObject(root, "model", st->o->replay_dir ? "(replay)" : st->o->model);
    if (st->o->replay_dir) cJSON_AddStringToObject(root, "replay", st->o->replay_dir);
    cJSON_AddStringToObject(root, "framework", st->lang == TG_LANG_C ? "cmocka" : "pytest");
    cJSON_AddBoolToObject(root, "grammar", st->o->grammar);
    cJSON_AddNumberToObject(root, "runs", st->o->runs);
    cJSON_AddNumberToObject(root, "rounds", st->o->rounds);
    cJSON *fns = cJSON_AddArrayToObject(root, "functions");
    fn_report t = {0};
    for (int i = 0; i < st->n_reports; i++) {
        const fn_report *r = &st->reports[i];
        cJSON *f = cJSON_CreateObject();
        cJSON_AddStringToObject(f, "name", r->name);
        cJSON_AddNumberToObject(f, "candidates", r->candidates);
        cJSON_AddNumberToObject(f, "built", r->built);
        cJSON_AddNumberToObject(f, "passed", r->passed);
        cJSON_AddNumberToObject(f, "flaky", r->flaky);
        cJSON_AddNumberToObject(f, "failed", r->failed);
        cJSON_AddNumberToObject(f, "no_coverage_gain", r->no_gain);
        cJSON_AddNumberToObject(f, "kept", r->kept);
        cJSON_AddNumberToObject(f, "tests_kept", r->tests_kept);
        cJSON_AddNumberToObject(f, "repair_rounds", r->repair_rounds);
        cJSON_AddNumberToObject(f, "replies", r->replies);
        cJSON_AddNumberToObject(f, "replies_parsed", r->replies_parsed);
        cJSON_AddItemToObject(f, "coverage_before", cov_json(&r->before));
        cJSON_AddItemToObject(f, "coverage_after", cov_json(&r->after));
        if (r->error) cJSON_AddStringToObject(f, "error", r->error);
        cJSON_AddItemToArray(fns, f);
        t.candidates += r->candidates, t.built += r->built, t.passed += r->passed, t.flaky += r->flaky;
        t.failed += r->failed, t.no_gain += r->no_gain, t.kept += r->kept, t.tests_kept += r->tests_kept;
        t.repair_rounds += r->repair_rounds, t.replies += r->replies, t.replies_parsed += r->replies_parsed;
    }
    cJSON *tot = cJSON_AddObjectToObject(root, "totals");
    cJSON_AddNumberToObject(tot, "candidates", t.candidates);
    cJSON_AddNumberToObject(tot, "built", t.built);
    cJSON_AddNumberToObject(tot, "passed", t.passed);
    cJSON_AddNumberToObject(tot, "flaky", t.flaky);
    cJSON_AddNumberToObject(tot, "failed", t.failed);
    cJSON_AddNumberToObject(tot, "no_coverage_gain", t.no_gain);
    cJSON_AddNumberToObject(tot, "kept", t.kept);
    cJSON_AddNumberToObject(tot, "tests_kept", t.tests_kept);
    cJSON_AddNumberToObject(tot, "repair_rounds", t.repair_rounds);
    cJSON_AddNumberToObject(tot, "replies", t.replies);
    cJSON_AddNumberToObject(tot, "replies_parsed", t.replies_parsed);
    cJSON_AddItemToObject(tot, "coverage_before", cov_json(baseline));
    cJSON_AddItemToObject(tot, "coverage_after", cov_json(final));
    tg_gen_stats gs;
    tg_gen_stats_get(st->gen, &gs);
    cJSON_AddNumberToObject(root, "seconds", seconds);
    cJSON_AddNumberToObject(root, "model_seconds", gs.seconds);
    cJSON_AddNumberToObject(root, "prompt_tokens", (double)gs.prompt_tokens);
    cJSON_AddNumberToObject(root, "generated_tokens", (double)gs.generated_tokens);
    cJSON_AddStringToObject(root, "chat_template", gs.template_name);
    if (output) cJSON_AddStringToObject(root, "output", output);
    else cJSON_AddNullToObject(root, "output");
    cJSON *cmds_j = cJSON_AddArrayToObject(root, "commands");
    if (output) {
        char *qd = tg_shell_quote(out_dir);
        tg_buf b = {0};
        tg_buf_printf(&b, "cd %s", qd);
        cJSON_AddItemToArray(cmds_j, cJSON_CreateString(b.s));
        tg_buf_free(&b);
        free(qd);
        cJSON_AddItemToArray(cmds_j, cJSON_CreateString(cmds->build));
        cJSON_AddItemToArray(cmds_j, cJSON_CreateString(cmds->run));
        cJSON_AddItemToArray(cmds_j, cJSON_CreateString(cmds->coverage));
        cJSON_AddItemToArray(cmds_j, cJSON_CreateString(cmds->coverage_show));
    }
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    tg_buf b = {0};
    tg_buf_printf(&b, "%s\n", text);
    free(text);
    llamac_error err = {{0}};
    int rc = tg_write_file(st->o->report_path, b.s, &err);
    if (rc != 0) fprintf(stderr, "llamac testgen: %s\n", err.msg);
    tg_buf_free(&b);
    return rc;
}

/* ------------------------------------------------------------ the run */

static char *dir_of(const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash) return tg_strdup(".");
    if (slash == path) return tg_strdup("/");
    return tg_strndup(path, (size_t)(slash - path));
}

static int load_sources(run_state *st, llamac_error *err) {
    const tg_options *o = st->o;
    st->srcs = calloc((size_t)o->n_sources, sizeof *st->srcs);
    for (int i = 0; i < o->n_sources; i++) {
        tg_source *s = &st->srcs[i];
        char *abs = realpath(o->sources[i], NULL);
        if (!abs) {
            snprintf(err->msg, sizeof err->msg, "%s: no such file", o->sources[i]);
            return -1;
        }
        s->path = abs;
        s->dir = dir_of(abs);
        s->base = tg_strdup(strrchr(abs, '/') + 1);
        st->n_srcs++;
        int rc = st->lang == TG_LANG_C ? tg_parse_c(abs, s, err) : tg_parse_python(o->tools.python, abs, s, err);
        if (rc != 0) {
            if (strncmp(err->msg, abs, strlen(abs)) != 0) {
                char m[LLAMAC_ERROR_MAX];
                snprintf(m, sizeof m, "%.200s: %.300s", o->sources[i], err->msg);
                memcpy(err->msg, m, sizeof m);
            }
            return -1;
        }
    }
    return 0;
}

/* --functions: every name must exist. */
static bool wanted(const tg_options *o, const char *name) {
    if (!o->functions) return true;
    size_t n = strlen(name);
    for (const char *p = o->functions; *p;) {
        size_t len = strcspn(p, ",");
        if (len == n && !strncmp(p, name, n)) return true;
        p += len + (p[len] == ',');
    }
    return false;
}

static int check_function_names(const run_state *st, llamac_error *err) {
    const char *p = st->o->functions;
    if (!p) return 0;
    while (*p) {
        size_t len = strcspn(p, ",");
        bool found = false;
        for (int s = 0; s < st->n_srcs; s++)
            for (int i = 0; i < st->srcs[s].n_fns; i++)
                found |= strlen(st->srcs[s].fns[i].name) == len && !strncmp(st->srcs[s].fns[i].name, p, len);
        if (!found) {
            tg_buf names = {0};
            for (int s = 0; s < st->n_srcs; s++)
                for (int i = 0; i < st->srcs[s].n_fns; i++)
                    tg_buf_printf(&names, "%s%s", names.len ? ", " : "", st->srcs[s].fns[i].name);
            snprintf(err->msg, sizeof err->msg, "--functions: no function named '%.*s' in %s (it has: %s)", (int)len, p,
                     st->o->sources[0], names.s);
            tg_buf_free(&names);
            return -1;
        }
        p += len + (p[len] == ',');
    }
    return 0;
}

static char *default_test_name(const run_state *st) {
    tg_buf b = {0};
    if (st->lang == TG_LANG_C) {
        const char *base = st->srcs[0].base;
        tg_buf_printf(&b, "test_%.*s.c", (int)strcspn(base, "."), base);
    } else {
        tg_buf_printf(&b, "test_%s.py", st->srcs[0].module);
    }
    return tg_buf_take(&b);
}

static void free_state(run_state *st) {
    for (int i = 0; i < st->n_srcs; i++) tg_source_free(&st->srcs[i]);
    free(st->srcs);
    for (int i = 0; i < st->n_kept; i++) tg_unit_free(&st->kept[i]);
    free(st->kept);
    for (int i = 0; i < st->n_taken; i++) free(st->taken[i]);
    free(st->taken);
    tg_cov_free(&st->kept_cov);
    for (int i = 0; i < st->n_reports; i++) free(st->reports[i].name), free(st->reports[i].error);
    free(st->reports);
    free(st->test_name);
    tg_gen_free(st->gen);
    if (st->work) {
        char *q = tg_shell_quote(st->work);
        tg_buf cmd = {0};
        tg_buf_printf(&cmd, "rm -rf %s", q);
        tg_proc p;
        if (tg_run(cmd.s, NULL, 60, &p) == 0) tg_proc_free(&p);
        tg_buf_free(&cmd);
        free(q);
        free(st->work);
    }
}

int tg_main_run(const tg_options *o) {
    int64_t start = llamac_time_us();
    run_state st = {.o = o, .lang = o->lang};
    llamac_error err = {{0}};
    int rc = 1;
    if (load_sources(&st, &err) != 0 || check_function_names(&st, &err) != 0) {
        fprintf(stderr, "llamac testgen: %s\n", err.msg);
        free_state(&st);
        return 1;
    }
    st.test_name = o->out_path ? tg_strdup(strrchr(o->out_path, '/') ? strrchr(o->out_path, '/') + 1 : o->out_path)
                               : default_test_name(&st);
    char work_template[] = "/tmp/llamac-testgen-XXXXXX";
    if (!mkdtemp(work_template)) {
        fprintf(stderr, "llamac testgen: cannot create a temporary folder\n");
        free_state(&st);
        return 1;
    }
    st.work = tg_strdup(work_template);
    /* The baseline: the harness with one empty test. It checks the
     * toolchain before any model time is spent, and measures what merely
     * loading the file covers (Python runs its top level on import). */
    tg_unit base = {0};
    char why[64];
    const char *empty = st.lang == TG_LANG_C ? "static void test_testgen_baseline(void **state) { (void)state; }\n"
                                             : "def test_testgen_baseline():\n    pass\n";
    tg_find_units(&o->tools, st.srcs, st.n_srcs, st.lang, empty, &base, why, sizeof why);
    attempt a;
    try_units(&st, &base, 1, 1, true, &a);
    tg_unit_free(&base);
    if (!a.passed_all) {
        fprintf(stderr, "llamac testgen: an empty %s test file does not %s (see 'llamac testgen --check'):\n%s\n",
                st.lang == TG_LANG_C ? "cmocka" : "pytest", a.built ? "run" : "build",
                a.output ? a.output : "");
        attempt_free(&a);
        free_state(&st);
        return 1;
    }
    /* keep the totals, start from what loading alone covers */
    st.kept_cov = a.cov;
    memset(&a.cov, 0, sizeof a.cov);
    attempt_free(&a);
    cov_counts baseline = counts_of(&st.kept_cov);
    tg_gen_params gp = {.model_path = o->model, .record_dir = o->record_dir, .replay_dir = o->replay_dir,
                        .chat_template = o->chat_template, .sampling = o->sampling, .n_threads = o->n_threads,
                        .n_predict = o->n_predict, .n_seq = o->candidates};
    st.gen = tg_gen_create(&gp, &err);
    if (!st.gen) {
        fprintf(stderr, "llamac testgen: %s\n", err.msg);
        free_state(&st);
        return 1;
    }
    int total = 0;
    for (int s = 0; s < st.n_srcs; s++)
        for (int i = 0; i < st.srcs[s].n_fns; i++) total += wanted(o, st.srcs[s].fns[i].name);
    st.reports = calloc((size_t)total + 1, sizeof *st.reports);
    bool failed = false;
    for (int s = 0; s < st.n_srcs && !failed; s++)
        for (int i = 0; i < st.srcs[s].n_fns && !failed; i++) {
            if (!wanted(o, st.srcs[s].fns[i].name)) continue;
            progress(&st, "[%d/%d] %s", st.n_reports + 1, total, st.srcs[s].fns[i].name);
            failed = test_function(&st, &st.srcs[s], &st.srcs[s].fns[i], &st.reports[st.n_reports++]) != 0;
        }
    /* the kept file: rebuilt, run --runs times and measured, then written */
    cov_counts final = baseline;
    char *out_path = NULL, *out_dir = NULL;
    tg_commands_out cmds = {0};
    if (!failed && st.n_kept > 0) {
        try_units(&st, st.kept, st.n_kept, o->runs, true, &a);
        if (!a.passed_all) {
            fprintf(stderr, "llamac testgen: the kept tests failed when run together:\n%s\n", a.output ? a.output : "");
            failed = true;
        } else {
            final = counts_of(&a.cov);
            out_path = o->out_path ? tg_strdup(o->out_path) : tg_strdup(st.test_name);
            char *text = tg_render_test_file(st.srcs, st.n_srcs, st.lang, st.kept, st.n_kept);
            if (tg_write_file(out_path, text, &err) != 0) {
                fprintf(stderr, "llamac testgen: %s\n", err.msg);
                failed = true;
            }
            free(text);
            char *abs_dir = dir_of(out_path);
            out_dir = realpath(abs_dir, NULL);
            free(abs_dir);
            tg_commands(&o->tools, st.srcs, st.n_srcs, st.lang, out_path, &cmds);
        }
        attempt_free(&a);
    }
    if (!failed || st.n_reports > 0) {
        print_table(&st, &final);
        int n_tests = 0;
        for (int i = 0; i < st.n_kept; i++) n_tests += st.kept[i].n_tests;
        if (out_path && !failed)
            printf("\nwrote %s (%d test function%s). Build and run:\n  cd %s\n  %s\n  %s\n", out_path, n_tests,
                   n_tests == 1 ? "" : "s", out_dir ? out_dir : ".", cmds.build, cmds.run);
        else if (!failed)
            printf("\nno test was kept; nothing written\n");
    }
    double seconds = (double)(llamac_time_us() - start) / 1e6;
    rc = failed ? 1 : 0;
    if (o->report_path && write_report(&st, &baseline, &final, failed ? NULL : out_path, &cmds,
                                       out_dir ? out_dir : ".", seconds) != 0)
        rc = 1;
    tg_commands_free(&cmds);
    free(out_path);
    free(out_dir);
    free_state(&st);
    return rc;
}
