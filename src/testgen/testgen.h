/* llamac testgen: unit tests for a C or Python source file, written by a
 * local model, built, run, repaired, and kept only when they pass every run
 * and add coverage.
 *
 * This library is its own link target (llamac_testgen): it needs libclang
 * (C parsing) and cJSON (coverage reports), which the engine core must not
 * depend on. The CLI (tools/cmd_testgen.c) only parses options and calls
 * tg_main_run. */
#ifndef LLAMAC_TESTGEN_H
#define LLAMAC_TESTGEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "llamac.h"

/* ------------------------------------------------------------ strings */

/* A growable NUL-terminated byte string. */
typedef struct tg_buf {
    char *s;
    size_t len, cap;
} tg_buf;

void tg_buf_add(tg_buf *b, const char *s, size_t n);
void tg_buf_puts(tg_buf *b, const char *s);
void tg_buf_printf(tg_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void tg_buf_free(tg_buf *b);
/* The string (never NULL; "" when empty), ownership passes to the caller. */
char *tg_buf_take(tg_buf *b);
char *tg_strdup(const char *s);
char *tg_strndup(const char *s, size_t n);
/* Whole file, NUL-terminated; NULL with a message in err. */
char *tg_read_file(const char *path, size_t *len, llamac_error *err);
/* Writes to PATH.tmp.PID then renames, so a reader never sees half a file. */
int tg_write_file(const char *path, const char *text, llamac_error *err);
/* Every whole-word occurrence of `from` in `text` replaced by `to`. */
char *tg_replace_word(const char *text, const char *from, const char *to);
/* `s` quoted for /bin/sh (single quotes). */
char *tg_shell_quote(const char *s);

/* ------------------------------------------------------------ processes */

typedef struct tg_proc {
    int exit_code;    /* exit status, or 128 + signal */
    bool timed_out;   /* killed (with its whole process group) at the limit */
    char *output;     /* stdout and stderr together, at most TG_OUTPUT_MAX bytes */
    double seconds;
} tg_proc;
#define TG_OUTPUT_MAX (64 * 1024)

/* Runs `/bin/sh -c cmd` in directory `cwd` (NULL: the current one) in its
 * own process group; after timeout_s the group is killed. Returns 0 when it
 * ran (whatever its exit code), -1 when it could not start. */
int tg_run(const char *cmd, const char *cwd, double timeout_s, tg_proc *out);
void tg_proc_free(tg_proc *p);

/* ------------------------------------------------------------ sources */

typedef enum { TG_LANG_C = 0, TG_LANG_PYTHON = 1 } tg_lang;

typedef struct tg_function {
    char *name;
    char *signature;    /* "int clamp(int v, int lo, int hi)" or "def f(a, b=2)" */
    char *source;       /* the whole definition */
    char *result_type;  /* C type, or the Python annotation ("" when none) */
    char **param_types; /* C types or Python annotations ("" when none) */
    char **param_names;
    int n_params;
    int line_start, line_end;
} tg_function;

typedef struct tg_source {
    char *path;      /* absolute */
    char *dir;       /* its folder */
    char *base;      /* file name */
    char *module;    /* Python module name (file name without .py) */
    char *context;   /* what the functions need: includes, types, globals, imports */
    tg_lang lang;
    tg_function *fns;
    int n_fns;
    bool has_main;   /* C: the file defines main (renamed when included) */
} tg_source;

/* Fills `src` from the file. Errors name the file and line. */
int tg_parse_c(const char *path, tg_source *src, llamac_error *err);
int tg_parse_python(const char *python, const char *path, tg_source *src, llamac_error *err);
void tg_source_free(tg_source *src);

/* The test functions a candidate defines, found with the same parsers. */
typedef struct tg_unit {
    char *code;       /* the candidate's definitions, without includes/imports */
    char *includes;   /* its #include / import lines (kept, deduplicated later) */
    char **tests;     /* names of its test functions, in order */
    int n_tests;
    char **defs;      /* every top-level function it defines (tests and helpers) */
    int n_defs;
} tg_unit;
void tg_unit_free(tg_unit *u);

/* --------------------------------------------------------- the harness */

typedef struct tg_tools {
    const char *cc;       /* C compiler command (default "cc") */
    const char *python;   /* python with pytest + coverage */
    const char *gcovr;
    double timeout_s;     /* every build and run */
} tg_tools;

/* The line and branch coverage of the file under test: sets of covered
 * lines and branch outcomes (sorted keys) and the totals. */
typedef struct tg_cov {
    uint64_t *lines, *branches;
    int n_lines, n_branches;
    int line_total, branch_total;
} tg_cov;
void tg_cov_free(tg_cov *c);
/* a ∪ b into out (totals from whichever has them). */
void tg_cov_union(const tg_cov *a, const tg_cov *b, tg_cov *out);
int tg_cov_parse_gcovr(const char *json, const char *source_path, tg_cov *out, llamac_error *err);
int tg_cov_parse_coveragepy(const char *json, const char *source_path, tg_cov *out, llamac_error *err);

/* Writes the kind of test file the framework runs: header, units, runner. */
char *tg_render_test_file(const tg_source *srcs, int n_srcs, tg_lang lang, const tg_unit *units,
                          int n_units);
/* Finds the test functions of a candidate's code (libclang for C, the ast
 * helper for Python). Returns 0; -1 only for internal failures. When the
 * code has no test function, u->n_tests is 0 and `why` says so. */
int tg_find_units(const tg_tools *t, const tg_source *srcs, int n_srcs, tg_lang lang,
                  const char *code, tg_unit *u, char *why, size_t why_size);

/* ------------------------------------------------------------ the model */

/* Pulls the code out of a reply: the first fenced block (``` or ```c /
 * ```python), else everything from the first line that looks like code. */
char *tg_extract_code(const char *reply, tg_lang lang);

/* A GBNF grammar for the replies: test functions of the framework, calls to
 * the file's functions with literals of their parameter types. */
char *tg_grammar_for(const tg_source *srcs, int n_srcs, tg_lang lang, const char *only_fn);

/* Generates replies for several prompts at once, as parallel sequences of
 * one context (common prompt prefix evaluated once), or plays them back. */
typedef struct tg_gen tg_gen;
typedef struct tg_gen_params {
    const char *model_path;       /* NULL with replay_dir */
    const char *record_dir, *replay_dir;
    const char *chat_template;    /* NULL: from the model, else llama2 */
    llamac_sampler_params sampling;
    int n_threads;
    int n_predict;                /* most tokens per reply */
    int n_seq;                    /* most prompts per call (K) */
} tg_gen_params;
tg_gen *tg_gen_create(const tg_gen_params *p, llamac_error *err);
void tg_gen_free(tg_gen *g);
/* One conversation per slot: msgs[i][0..n_msgs[i]) rendered in the chat
 * template; replies[i] receives the reply (malloc'd). `keys[i]` names the
 * recording ("FUNC/cK.rR"). `gbnf` (may be NULL) constrains every reply. */
int tg_gen_replies(tg_gen *g, const llamac_chat_message *const *msgs, const size_t *n_msgs, int n,
                   const char *const *keys, const char *gbnf, char **replies, llamac_error *err);
typedef struct tg_gen_stats {
    int64_t prompt_tokens, generated_tokens;
    double seconds;
    const char *template_name;
} tg_gen_stats;
void tg_gen_stats_get(const tg_gen *g, tg_gen_stats *s);

/* ------------------------------------------------------------ the run */

typedef struct tg_options {
    const char *model, *out_path, *report_path, *record_dir, *replay_dir, *chat_template;
    const char **sources;
    int n_sources;
    tg_lang lang;
    bool lang_set;
    const char *functions;   /* "a,b" or NULL */
    int candidates, rounds, runs, n_predict, n_threads;
    llamac_sampler_params sampling;
    bool grammar;
    tg_tools tools;
    bool quiet;
} tg_options;

/* The whole loop; prints the table to stdout, progress to stderr. Returns
 * an exit code (0 ok, 1 failure). */
int tg_main_run(const tg_options *o);
/* --check: which tools are present, the apt-get line for the missing. */
int tg_check_tools(const tg_options *o);
/* The python that has pytest and coverage (LLAMAC_PYTHON, python3,
 * /usr/bin/python3), or "python3" when none has both. */
const char *tg_find_python(void);

#endif
