/* llamac bench: prompt processing (ppN) and text generation (tgN) speed,
 * measured the way llama.cpp's llama-bench does so numbers compare:
 *   ppN: N random tokens decoded from an empty cache in batches of --batch;
 *   tgN: N tokens decoded one at a time from an empty cache;
 * one warm-up run per test, then -r repetitions; t/s is the mean of
 * N / time over the repetitions, with its standard deviation.
 * With --parallel P (llama-batched-bench's PP / TG for P sequences): P
 * sequences each get a prompt of -p random tokens, all decoded in one batch
 * (ppN: P*N tokens / time), then -n tokens each, one step of P tokens at a
 * time after the prompts (tgN: aggregate P*N tokens / time, and per
 * sequence).
 * With -d N (llama-bench's --n-depth): each test runs after N tokens are
 * already in the cache, as in a long chat or a large source file. The N
 * tokens are decoded once per test, untimed; before every repetition the
 * cache is cut back to them, so each run starts from the same N cells. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char usage_text[] =
    "usage: llamac bench -m FILE [-p N] [-n N] [-d N] [-r N] [-t N] [--batch N] [--kv-type T] [--json]\n"
    "\n"
    "Measures prompt processing (ppN) and generation (tgN) in tokens per second,\n"
    "with the same method as llama.cpp's llama-bench.\n"
    "\n"
    "  -m, --model FILE  GGUF model (required)\n"
    "  -p, --n-prompt N  prompt tokens for the pp test; 0 skips it (default 512)\n"
    "  -n, --n-gen N     generated tokens for the tg test; 0 skips it (default 128)\n"
    "  -d, --n-depth N   tokens already in the cache when each test starts (default 0);\n"
    "                    the test is named e.g. pp512 @ d4096 (JSON: \"n_depth\")\n"
    "  -r, --reps N      repetitions per test (default 5)\n"
    "  -t, --threads N   threads (default: physical cores)\n"
    "      --batch N     prefill batch size (default 512)\n"
    "      --kv-type T   KV cache type f16 (default), f32 or q8_0\n"
    "      --mmap        map the file instead of loading it into huge-page memory\n"
    "      --no-repack   keep the file's weight layout (no 8-row regrouping at load)\n"
    "      --f16-as-bf16 convert F16 weights to BF16 at load (faster prefill with AVX-512\n"
    "                    BF16; 3 fewer mantissa bits)\n"
    "      --isa NAME    kernels: avx512-bf16, avx512, avx2, neon-dotprod, neon or\n"
    "                    scalar (default: the best this CPU runs, unless the\n"
    "                    LLAMAC_ISA environment variable names another)\n"
    "      --json        print a JSON array (llama-bench's field names) instead of a table\n"
    "  -np, --parallel LIST  decode LIST sequences together (e.g. 8 or 1,2,4,8,16; at most\n"
    "                    64): each gets its own -p token prompt (all prompts in one batch),\n"
    "                    then -n tokens each, one token of every sequence per step;\n"
    "                    t/s is the aggregate over the sequences (JSON: \"n_parallel\")\n"
    "  -h, --help        show this help\n";

#define BENCH_PARALLEL_MAX 16 /* entries of a --parallel list */

typedef struct bench_options {
    const char *model;
    int64_t n_prompt, n_gen, n_depth, reps;
    int32_t parallel[BENCH_PARALLEL_MAX]; /* --parallel: sequence counts to run */
    int n_parallel_runs;
    llamac_context_params cp;
    bool json;
    bool mmap, no_repack, f16_as_bf16;
    const char *isa;
} bench_options;

typedef struct bench_result {
    const char *test_kind; /* "pp" or "tg" */
    int64_t n_prompt, n_gen, n_depth;
    double avg_ts, stddev_ts, avg_ns, stddev_ns;
    int32_t n_parallel;    /* 0: a plain test; else sequences decoded together (ts aggregate) */
} bench_result;

/* "8" or "1,2,4,8,16" into o->parallel. */
static int parse_parallel(const char *opt, const char *v, bench_options *o) {
    o->n_parallel_runs = 0;
    for (const char *p = v; *p;) {
        char item[24];
        size_t len = strcspn(p, ",");
        if (len == 0 || len >= sizeof item || o->n_parallel_runs == BENCH_PARALLEL_MAX)
            return cli_error("bench", CLI_USAGE, "%s: expected up to %d counts separated by commas, got '%s'", opt,
                             BENCH_PARALLEL_MAX, v);
        memcpy(item, p, len);
        item[len] = 0;
        int64_t n;
        if (!cli_parse_i64("bench", opt, item, 1, LLAMAC_SEQ_MAX, &n)) return CLI_USAGE;
        o->parallel[o->n_parallel_runs++] = (int32_t)n;
        p += len;
        if (*p == ',') p++;
    }
    return o->n_parallel_runs > 0 ? CLI_OK : cli_error("bench", CLI_USAGE, "%s: no count given", opt);
}

static int parse(int argc, char **argv, bench_options *o) {
    o->n_prompt = 512;
    o->n_gen = 128;
    o->reps = 5;
    o->cp = llamac_context_default_params();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        int64_t iv;
#define INT(lo, hi) do { if (!(v = cli_value("bench", argc, argv, &i)) || !cli_parse_i64("bench", a, v, lo, hi, &iv)) return CLI_USAGE; } while (0)
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { fputs(usage_text, stdout); return -1; }
        else if (!strcmp(a, "-m") || !strcmp(a, "--model")) { if (!(o->model = cli_value("bench", argc, argv, &i))) return CLI_USAGE; }
        else if (!strcmp(a, "-p") || !strcmp(a, "--n-prompt")) { INT(0, 1 << 20); o->n_prompt = iv; }
        else if (!strcmp(a, "-n") || !strcmp(a, "--n-gen")) { INT(0, 1 << 20); o->n_gen = iv; }
        else if (!strcmp(a, "-d") || !strcmp(a, "--n-depth")) { INT(0, 1 << 20); o->n_depth = iv; }
        else if (!strcmp(a, "-r") || !strcmp(a, "--reps")) { INT(1, 1000); o->reps = iv; }
        else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) { INT(1, 1024); o->cp.n_threads = (int32_t)iv; }
        else if (!strcmp(a, "--batch")) { INT(1, 1 << 16); o->cp.n_batch = (int32_t)iv; }
        else if (!strcmp(a, "--kv-type")) {
            if (!(v = cli_value("bench", argc, argv, &i))) return CLI_USAGE;
            if (!cli_parse_kv_type("bench", v, &o->cp.kv_type)) return CLI_USAGE;
        }
        else if (!strcmp(a, "--json")) o->json = true;
        else if (!strcmp(a, "-np") || !strcmp(a, "--parallel")) {
            if (!(v = cli_value("bench", argc, argv, &i))) return CLI_USAGE;
            if (parse_parallel(a, v, o) != CLI_OK) return CLI_USAGE;
        }
        else if (!strcmp(a, "--mmap")) o->mmap = true;
        else if (!strcmp(a, "--no-repack")) o->no_repack = true;
        else if (!strcmp(a, "--f16-as-bf16")) o->f16_as_bf16 = true;
        else if (!strcmp(a, "--isa")) { if (!(o->isa = cli_value("bench", argc, argv, &i))) return CLI_USAGE; }
        else return cli_error("bench", CLI_USAGE, "unknown option '%s' (see llamac bench --help)", a);
#undef INT
    }
    if (!o->model) return cli_error("bench", CLI_USAGE, "no model given: use -m FILE");
    if (o->n_depth > 0 && o->n_parallel_runs > 0)
        return cli_error("bench", CLI_USAGE, "--n-depth and --parallel cannot be combined");
    return CLI_OK;
}

static void random_tokens(const llamac_model *m, uint64_t *seed, llamac_token *toks, int64_t n) {
    const int32_t n_vocab = llamac_n_vocab(m);
    for (int64_t i = 0; i < n; i++) {
        *seed = *seed * 6364136223846793005ULL + 1442695040888963407ULL;
        toks[i] = (llamac_token)((*seed >> 33) % (uint64_t)n_vocab);
    }
}

/* The -d tokens every repetition of a test starts after (BOS first),
 * decoded once, untimed. */
static int fill_depth(llamac_context *ctx, const llamac_model *m, int64_t depth, uint64_t *seed) {
    llamac_kv_truncate(ctx, 0);
    if (depth == 0) return CLI_OK;
    llamac_token *toks = malloc(sizeof *toks * (size_t)depth);
    if (!toks) return cli_error("bench", CLI_FAIL, "out of memory");
    random_tokens(m, seed, toks, depth);
    if (llamac_token_bos(m) >= 0) toks[0] = llamac_token_bos(m);
    llamac_error err = {{0}};
    int rc = llamac_decode(ctx, toks, (int32_t)depth, false, &err) < 0 ? cli_error("bench", CLI_FAIL, "%s", err.msg)
                                                                      : CLI_OK;
    free(toks);
    return rc;
}

/* One timed run after `depth` cached tokens: n tokens either as one
 * prompt (batched) or one by one. */
static int run_once(llamac_context *ctx, const llamac_model *m, int64_t depth, int64_t n, bool prompt,
                    uint64_t *seed, llamac_token *toks, int64_t *elapsed_us) {
    llamac_error err = {{0}};
    random_tokens(m, seed, toks, n);
    llamac_token bos = llamac_token_bos(m);
    if (bos >= 0 && depth == 0) toks[0] = bos;
    llamac_kv_truncate(ctx, (int32_t)depth);
    int64_t t0 = llamac_time_us();
    if (prompt) {
        if (llamac_decode(ctx, toks, (int32_t)n, false, &err) < 0) return cli_error("bench", CLI_FAIL, "%s", err.msg);
    } else {
        for (int64_t i = 0; i < n; i++)
            if (llamac_decode(ctx, &toks[i], 1, false, &err) < 0) return cli_error("bench", CLI_FAIL, "%s", err.msg);
    }
    *elapsed_us = llamac_time_us() - t0;
    return CLI_OK;
}

/* Mean and sample standard deviation of tok/s and ns over the reps. */
static void summarize(bench_result *r, const double *ts, const double *ns, int64_t reps) {
    double sum_ts = 0, sum_ns = 0, var_ts = 0, var_ns = 0;
    for (int64_t i = 0; i < reps; i++) { sum_ts += ts[i]; sum_ns += ns[i]; }
    r->avg_ts = sum_ts / (double)reps;
    r->avg_ns = sum_ns / (double)reps;
    for (int64_t i = 0; i < reps; i++) {
        var_ts += (ts[i] - r->avg_ts) * (ts[i] - r->avg_ts);
        var_ns += (ns[i] - r->avg_ns) * (ns[i] - r->avg_ns);
    }
    r->stddev_ts = reps > 1 ? sqrt(var_ts / (double)(reps - 1)) : 0.0;
    r->stddev_ns = reps > 1 ? sqrt(var_ns / (double)(reps - 1)) : 0.0;
}

static int run_test(llamac_context *ctx, const llamac_model *m, const bench_options *o, bool prompt,
                    bench_result *r) {
    const int64_t n = prompt ? o->n_prompt : o->n_gen;
    llamac_token *toks = malloc(sizeof *toks * (size_t)n);
    double *ts = malloc(sizeof *ts * (size_t)o->reps), *ns = malloc(sizeof *ns * (size_t)o->reps);
    if (!toks || !ts || !ns) { free(toks); free(ts); free(ns); return cli_error("bench", CLI_FAIL, "out of memory"); }
    uint64_t seed = 1234;
    int64_t us;
    int rc = fill_depth(ctx, m, o->n_depth, &seed);
    if (rc == CLI_OK) rc = run_once(ctx, m, o->n_depth, prompt ? n : 1, prompt, &seed, toks, &us); /* warm-up */
    for (int64_t i = 0; i < o->reps && rc == CLI_OK; i++) {
        rc = run_once(ctx, m, o->n_depth, n, prompt, &seed, toks, &us);
        ns[i] = (double)us * 1e3;
        ts[i] = (double)n * 1e9 / (ns[i] > 0 ? ns[i] : 1);
    }
    if (rc == CLI_OK) {
        summarize(r, ts, ns, o->reps);
        r->test_kind = prompt ? "pp" : "tg";
        r->n_prompt = prompt ? n : 0;
        r->n_gen = prompt ? 0 : n;
        r->n_depth = o->n_depth;
        r->n_parallel = 0;
    }
    free(toks); free(ts); free(ns);
    return rc;
}

/* ------------------------------------------------------------ --parallel */

static llamac_token random_token(uint64_t *seed, int32_t n_vocab) {
    *seed = *seed * 6364136223846793005ULL + 1442695040888963407ULL;
    return (llamac_token)((*seed >> 33) % (uint64_t)n_vocab);
}

/* One run with P sequences from an empty cache: their prompts of n_prompt
 * tokens in one batch, then n_gen steps of one token per sequence. The
 * times of the two phases go to *pp_us and *tg_us. */
static int run_parallel_once(llamac_context *ctx, const llamac_model *m, llamac_batch *b, int32_t P,
                             int64_t n_prompt, int64_t n_gen, uint64_t *seed, int64_t *pp_us, int64_t *tg_us) {
    llamac_error err = {{0}};
    const int32_t n_vocab = llamac_n_vocab(m);
    const llamac_token bos = llamac_token_bos(m);
    llamac_seq_rm(ctx, -1, -1, -1);
    *pp_us = *tg_us = 0;
    if (n_prompt > 0) {
        llamac_batch_clear(b);
        for (llamac_seq_id s = 0; s < P; s++)
            for (int64_t i = 0; i < n_prompt; i++) {
                const llamac_token t = i == 0 && bos >= 0 ? bos : random_token(seed, n_vocab);
                llamac_batch_add(b, t, (int32_t)i, &s, 1, i == n_prompt - 1);
            }
        const int64_t t0 = llamac_time_us();
        if (llamac_decode_batch(ctx, b, &err) < 0) return cli_error("bench", CLI_FAIL, "%s", err.msg);
        *pp_us = llamac_time_us() - t0;
    }
    const int64_t t0 = llamac_time_us();
    for (int64_t step = 0; step < n_gen; step++) {
        llamac_batch_clear(b);
        for (llamac_seq_id s = 0; s < P; s++)
            llamac_batch_add(b, random_token(seed, n_vocab), (int32_t)(n_prompt + step), &s, 1, true);
        if (llamac_decode_batch(ctx, b, &err) < 0) return cli_error("bench", CLI_FAIL, "%s", err.msg);
    }
    *tg_us = llamac_time_us() - t0;
    return CLI_OK;
}

/* The pp and tg results of P sequences (results[0..*n_results)). */
static int run_parallel(llamac_model *m, const bench_options *o, int32_t P, bench_result *results, int *n_results,
                        const char **kernels, llamac_context **ctx_out) {
    llamac_context_params cp = o->cp;
    cp.n_ctx = (uint32_t)((int64_t)P * (o->n_prompt + o->n_gen));
    cp.n_seq_max = P;
    llamac_error err = {{0}};
    llamac_context *ctx = llamac_context_create(m, &cp, &err);
    if (!ctx) return cli_error("bench", CLI_FAIL, "%s", err.msg);
    const uint32_t n_ctx = llamac_n_ctx(ctx);
    if (n_ctx < cp.n_ctx) {
        llamac_context_free(ctx);
        return cli_error("bench", CLI_USAGE, "%d sequences of %lld tokens need %u cells; the model's context is %u",
                         P, (long long)(o->n_prompt + o->n_gen), cp.n_ctx, n_ctx);
    }
    const int64_t cap = (int64_t)P * (o->n_prompt > 1 ? o->n_prompt : 1);
    llamac_batch *b = llamac_batch_create((int32_t)cap);
    double *ts = calloc((size_t)o->reps * 4, sizeof *ts);
    if (!b || !ts) { llamac_batch_free(b); free(ts); llamac_context_free(ctx); return cli_error("bench", CLI_FAIL, "out of memory"); }
    double *pp_ts = ts, *pp_ns = ts + o->reps, *tg_ts = ts + 2 * o->reps, *tg_ns = ts + 3 * o->reps;
    uint64_t seed = 1234;
    int64_t pp_us, tg_us;
    /* warm-up: a short prompt and one step */
    int rc = run_parallel_once(ctx, m, b, P, o->n_prompt < 16 ? o->n_prompt : 16, o->n_gen > 0, &seed, &pp_us, &tg_us);
    for (int64_t i = 0; i < o->reps && rc == CLI_OK; i++) {
        rc = run_parallel_once(ctx, m, b, P, o->n_prompt, o->n_gen, &seed, &pp_us, &tg_us);
        pp_ns[i] = (double)pp_us * 1e3;
        tg_ns[i] = (double)tg_us * 1e3;
        pp_ts[i] = (double)(P * o->n_prompt) * 1e9 / (pp_ns[i] > 0 ? pp_ns[i] : 1);
        tg_ts[i] = (double)(P * o->n_gen) * 1e9 / (tg_ns[i] > 0 ? tg_ns[i] : 1);
    }
    *n_results = 0;
    if (rc == CLI_OK && o->n_prompt > 0) {
        bench_result *r = &results[(*n_results)++];
        summarize(r, pp_ts, pp_ns, o->reps);
        *r = (bench_result){.test_kind = "pp", .n_prompt = o->n_prompt, .avg_ts = r->avg_ts, .stddev_ts = r->stddev_ts,
                            .avg_ns = r->avg_ns, .stddev_ns = r->stddev_ns, .n_parallel = P};
    }
    if (rc == CLI_OK && o->n_gen > 0) {
        bench_result *r = &results[(*n_results)++];
        summarize(r, tg_ts, tg_ns, o->reps);
        *r = (bench_result){.test_kind = "tg", .n_gen = o->n_gen, .avg_ts = r->avg_ts, .stddev_ts = r->stddev_ts,
                            .avg_ns = r->avg_ns, .stddev_ns = r->stddev_ns, .n_parallel = P};
    }
    *kernels = llamac_context_kernels(ctx);
    free(ts);
    llamac_batch_free(b);
    *ctx_out = ctx;
    return rc;
}

static void print_table(const llamac_model_desc *d, const bench_result *r, int n, int threads, const char *kernels) {
    bool parallel = false;
    for (int i = 0; i < n; i++) parallel |= r[i].n_parallel > 0;
    printf("| model | size | params | backend | threads |%s test | t/s |%s\n", parallel ? " n_parallel |" : "",
           parallel ? " t/s per sequence |" : "");
    printf("| --- | ---: | ---: | --- | ---: |%s ---: | ---: |%s\n", parallel ? " ---: |" : "", parallel ? " ---: |" : "");
    for (int i = 0; i < n; i++) {
        char par[32] = "", per_seq[48] = "";
        if (parallel) snprintf(par, sizeof par, " %d |", r[i].n_parallel);
        if (parallel && r[i].n_gen > 0)
            snprintf(per_seq, sizeof per_seq, " %.2f |", r[i].avg_ts / (r[i].n_parallel > 0 ? r[i].n_parallel : 1));
        else if (parallel)
            snprintf(per_seq, sizeof per_seq, " - |");
        char depth[32] = "";
        if (r[i].n_depth > 0) snprintf(depth, sizeof depth, " @ d%lld", (long long)r[i].n_depth);
        printf("| %s %s | %.2f MiB | %.2f M | CPU (%s) | %d |%s %s%lld%s | %.2f ± %.2f |%s\n", d->arch, d->file_type,
               (double)d->weight_bytes / 1048576.0, (double)d->n_params / 1e6, kernels, threads, par,
               r[i].test_kind, (long long)(r[i].n_prompt + r[i].n_gen), depth, r[i].avg_ts, r[i].stddev_ts, per_seq);
    }
}

static void print_json(const bench_options *o, const llamac_model_desc *d, const bench_result *r, int n, int threads,
                       int n_batch, const char *kernels) {
    printf("[\n");
    for (int i = 0; i < n; i++) {
        char par[96] = "";
        if (r[i].n_parallel > 0)
            snprintf(par, sizeof par, ", \"n_parallel\": %d, \"avg_ts_per_seq\": %.6f", r[i].n_parallel,
                     r[i].avg_ts / r[i].n_parallel);
        printf("  {\"build\": \"llamac %s\", \"backends\": \"CPU\", \"kernels\": \"%s\", "
               "\"model_filename\": \"%s\", \"model_type\": \"%s %s\", "
               "\"model_size\": %llu, \"model_n_params\": %llu, \"n_batch\": %d, \"n_threads\": %d, "
               "\"type_k\": \"%s\", \"test\": \"%s%lld\", \"n_prompt\": %lld, \"n_gen\": %lld, \"n_depth\": %lld, "
               "\"avg_ns\": %.0f, \"stddev_ns\": %.0f, \"avg_ts\": %.6f, \"stddev_ts\": %.6f%s}%s\n",
               LLAMAC_VERSION, kernels, o->model, d->arch, d->file_type, (unsigned long long)d->weight_bytes,
               (unsigned long long)d->n_params, n_batch, threads, o->cp.kv_type == LLAMAC_KV_F32 ? "f32" : o->cp.kv_type == LLAMAC_KV_Q8_0 ? "q8_0" : "f16",
               r[i].test_kind, (long long)(r[i].n_prompt + r[i].n_gen), (long long)r[i].n_prompt,
               (long long)r[i].n_gen, (long long)r[i].n_depth, r[i].avg_ns, r[i].stddev_ns, r[i].avg_ts, r[i].stddev_ts, par, i + 1 < n ? "," : "");
    }
    printf("]\n");
}

int cmd_bench(int argc, char **argv) {
    bench_options o = {0};
    int rc = parse(argc, argv, &o);
    if (rc) return rc < 0 ? CLI_OK : rc;
    llamac_error err = {{0}};
    const cli_model_opts load = {.isa = o.isa, .mmap = o.mmap, .no_repack = o.no_repack, .f16_as_bf16 = o.f16_as_bf16};
    llamac_model *m = cli_load_model("bench", o.model, &load);
    if (!m) return CLI_FAIL;
    llamac_model_desc d;
    llamac_model_describe(m, &d);
    const int threads = o.cp.n_threads > 0 ? o.cp.n_threads : llamac_physical_cores();
    const int n_batch = o.cp.n_batch > 0 ? o.cp.n_batch : 512;
    bench_result results[2 * BENCH_PARALLEL_MAX];
    int n = 0;
    const char *kernels = "";
    llamac_context *ctx = NULL;
    if (o.n_parallel_runs > 0) {
        for (int p = 0; p < o.n_parallel_runs && rc == CLI_OK; p++) {
            int got = 0;
            llamac_context_free(ctx);
            ctx = NULL;
            rc = run_parallel(m, &o, o.parallel[p], results + n, &got, &kernels, &ctx);
            n += got;
        }
    } else {
        int64_t need = o.n_depth + (o.n_prompt > o.n_gen ? o.n_prompt : o.n_gen) + 1;
        if (need > d.n_ctx_train) {
            llamac_model_free(m);
            return cli_error("bench", CLI_USAGE, "%lld tokens do not fit the model's context of %d", (long long)need,
                             d.n_ctx_train);
        }
        o.cp.n_ctx = (uint32_t)need;
        ctx = llamac_context_create(m, &o.cp, &err);
        if (!ctx) { llamac_model_free(m); return cli_error("bench", CLI_FAIL, "%s", err.msg); }
        kernels = llamac_context_kernels(ctx);
        if (o.n_prompt > 0 && (rc = run_test(ctx, m, &o, true, &results[n])) == CLI_OK) n++;
        if (rc == CLI_OK && o.n_gen > 0 && (rc = run_test(ctx, m, &o, false, &results[n])) == CLI_OK) n++;
    }
    if (rc == CLI_OK) {
        if (o.json) print_json(&o, &d, results, n, threads, n_batch, kernels);
        else print_table(&d, results, n, threads, kernels);
    }
    llamac_context_free(ctx);
    llamac_model_free(m);
    return rc;
}
