/* llamac bench: prompt processing (ppN) and text generation (tgN) speed,
 * measured the way llama.cpp's llama-bench does so numbers compare:
 *   ppN: N random tokens decoded from an empty cache in batches of --batch;
 *   tgN: N tokens decoded one at a time from an empty cache;
 * one warm-up run per test, then -r repetitions; t/s is the mean of
 * N / time over the repetitions, with its standard deviation. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char usage_text[] =
    "usage: llamac bench -m FILE [-p N] [-n N] [-r N] [-t N] [--batch N] [--kv-type T] [--json]\n"
    "\n"
    "Measures prompt processing (ppN) and generation (tgN) in tokens per second,\n"
    "with the same method as llama.cpp's llama-bench.\n"
    "\n"
    "  -m, --model FILE  GGUF model (required)\n"
    "  -p, --n-prompt N  prompt tokens for the pp test; 0 skips it (default 512)\n"
    "  -n, --n-gen N     generated tokens for the tg test; 0 skips it (default 128)\n"
    "  -r, --reps N      repetitions per test (default 5)\n"
    "  -t, --threads N   threads (default: physical cores)\n"
    "      --batch N     prefill batch size (default 512)\n"
    "      --kv-type T   KV cache type f16 (default), f32 or q8_0\n"
    "      --mmap        map the file instead of loading it into huge-page memory\n"
    "      --no-repack   keep the file's weight layout (no 8-row regrouping at load)\n"
    "      --isa NAME    kernels: avx512-bf16, avx512, avx2, neon-dotprod, neon or\n"
    "                    scalar (default: the best this CPU runs, unless the\n"
    "                    LLAMAC_ISA environment variable names another)\n"
    "      --json        print a JSON array (llama-bench's field names) instead of a table\n"
    "  -h, --help        show this help\n";

typedef struct bench_options {
    const char *model;
    int64_t n_prompt, n_gen, reps;
    llamac_context_params cp;
    bool json;
    bool mmap, no_repack;
    const char *isa;
} bench_options;

typedef struct bench_result {
    const char *test_kind; /* "pp" or "tg" */
    int64_t n_prompt, n_gen;
    double avg_ts, stddev_ts, avg_ns, stddev_ns;
} bench_result;

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
        else if (!strcmp(a, "-r") || !strcmp(a, "--reps")) { INT(1, 1000); o->reps = iv; }
        else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) { INT(1, 1024); o->cp.n_threads = (int32_t)iv; }
        else if (!strcmp(a, "--batch")) { INT(1, 1 << 16); o->cp.n_batch = (int32_t)iv; }
        else if (!strcmp(a, "--kv-type")) {
            if (!(v = cli_value("bench", argc, argv, &i))) return CLI_USAGE;
            if (!cli_parse_kv_type("bench", v, &o->cp.kv_type)) return CLI_USAGE;
        }
        else if (!strcmp(a, "--json")) o->json = true;
        else if (!strcmp(a, "--mmap")) o->mmap = true;
        else if (!strcmp(a, "--no-repack")) o->no_repack = true;
        else if (!strcmp(a, "--isa")) { if (!(o->isa = cli_value("bench", argc, argv, &i))) return CLI_USAGE; }
        else return cli_error("bench", CLI_USAGE, "unknown option '%s' (see llamac bench --help)", a);
#undef INT
    }
    if (!o->model) return cli_error("bench", CLI_USAGE, "no model given: use -m FILE");
    return CLI_OK;
}

/* One timed run: n tokens either as one prompt (batched) or one by one. */
static int run_once(llamac_context *ctx, const llamac_model *m, int64_t n, bool prompt, uint64_t *seed,
                    llamac_token *toks, int64_t *elapsed_us) {
    llamac_error err = {{0}};
    const int32_t n_vocab = llamac_n_vocab(m);
    llamac_token bos = llamac_token_bos(m);
    for (int64_t i = 0; i < n; i++) {
        *seed = *seed * 6364136223846793005ULL + 1442695040888963407ULL;
        toks[i] = (llamac_token)((*seed >> 33) % (uint64_t)n_vocab);
    }
    if (bos >= 0) toks[0] = bos;
    llamac_kv_truncate(ctx, 0);
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

static int run_test(llamac_context *ctx, const llamac_model *m, const bench_options *o, bool prompt,
                    bench_result *r) {
    const int64_t n = prompt ? o->n_prompt : o->n_gen;
    llamac_token *toks = malloc(sizeof *toks * (size_t)n);
    double *ts = malloc(sizeof *ts * (size_t)o->reps), *ns = malloc(sizeof *ns * (size_t)o->reps);
    if (!toks || !ts || !ns) { free(toks); free(ts); free(ns); return cli_error("bench", CLI_FAIL, "out of memory"); }
    uint64_t seed = 1234;
    int64_t us;
    int rc = run_once(ctx, m, prompt ? n : 1, prompt, &seed, toks, &us); /* warm-up */
    for (int64_t i = 0; i < o->reps && rc == CLI_OK; i++) {
        rc = run_once(ctx, m, n, prompt, &seed, toks, &us);
        ns[i] = (double)us * 1e3;
        ts[i] = (double)n * 1e9 / (ns[i] > 0 ? ns[i] : 1);
    }
    if (rc == CLI_OK) {
        double sum_ts = 0, sum_ns = 0, var_ts = 0, var_ns = 0;
        for (int64_t i = 0; i < o->reps; i++) { sum_ts += ts[i]; sum_ns += ns[i]; }
        r->avg_ts = sum_ts / (double)o->reps;
        r->avg_ns = sum_ns / (double)o->reps;
        for (int64_t i = 0; i < o->reps; i++) {
            var_ts += (ts[i] - r->avg_ts) * (ts[i] - r->avg_ts);
            var_ns += (ns[i] - r->avg_ns) * (ns[i] - r->avg_ns);
        }
        r->stddev_ts = o->reps > 1 ? sqrt(var_ts / (double)(o->reps - 1)) : 0.0;
        r->stddev_ns = o->reps > 1 ? sqrt(var_ns / (double)(o->reps - 1)) : 0.0;
        r->test_kind = prompt ? "pp" : "tg";
        r->n_prompt = prompt ? n : 0;
        r->n_gen = prompt ? 0 : n;
    }
    free(toks); free(ts); free(ns);
    return rc;
}

static void print_table(const bench_options *o, const llamac_model_desc *d, const bench_result *r, int n, int threads,
                        const char *kernels) {
    printf("| model | size | params | backend | threads | test | t/s |\n");
    printf("| --- | ---: | ---: | --- | ---: | ---: | ---: |\n");
    for (int i = 0; i < n; i++) {
        printf("| %s %s | %.2f MiB | %.2f M | CPU (%s) | %d | %s%lld | %.2f ± %.2f |\n", d->arch, d->file_type,
               (double)d->weight_bytes / 1048576.0, (double)d->n_params / 1e6, kernels, threads, r[i].test_kind,
               (long long)(r[i].n_prompt + r[i].n_gen), r[i].avg_ts, r[i].stddev_ts);
    }
    (void)o;
}

static void print_json(const bench_options *o, const llamac_model_desc *d, const bench_result *r, int n, int threads,
                       int n_batch, const char *kernels) {
    printf("[\n");
    for (int i = 0; i < n; i++) {
        printf("  {\"build\": \"llamac %s\", \"backends\": \"CPU\", \"kernels\": \"%s\", "
               "\"model_filename\": \"%s\", \"model_type\": \"%s %s\", "
               "\"model_size\": %llu, \"model_n_params\": %llu, \"n_batch\": %d, \"n_threads\": %d, "
               "\"type_k\": \"%s\", \"test\": \"%s%lld\", \"n_prompt\": %lld, \"n_gen\": %lld, "
               "\"avg_ns\": %.0f, \"stddev_ns\": %.0f, \"avg_ts\": %.6f, \"stddev_ts\": %.6f}%s\n",
               LLAMAC_VERSION, kernels, o->model, d->arch, d->file_type, (unsigned long long)d->weight_bytes,
               (unsigned long long)d->n_params, n_batch, threads, o->cp.kv_type == LLAMAC_KV_F32 ? "f32" : o->cp.kv_type == LLAMAC_KV_Q8_0 ? "q8_0" : "f16",
               r[i].test_kind, (long long)(r[i].n_prompt + r[i].n_gen), (long long)r[i].n_prompt,
               (long long)r[i].n_gen, r[i].avg_ns, r[i].stddev_ns, r[i].avg_ts, r[i].stddev_ts, i + 1 < n ? "," : "");
    }
    printf("]\n");
}

int cmd_bench(int argc, char **argv) {
    bench_options o = {0};
    int rc = parse(argc, argv, &o);
    if (rc) return rc < 0 ? CLI_OK : rc;
    llamac_error err = {{0}};
    cli_progress bar;
    cli_progress_init(&bar, "loading");
    llamac_model_params mp = llamac_model_default_params();
    mp.progress = cli_progress_update;
    mp.progress_user = &bar;
    mp.use_mmap = o.mmap;
    mp.no_repack = o.no_repack;
    mp.isa = o.isa;
    llamac_model *m = llamac_model_load(o.model, &mp, &err);
    cli_progress_done(&bar);
    if (!m) return cli_error("bench", CLI_FAIL, "%s", err.msg);
    llamac_model_desc d;
    llamac_model_describe(m, &d);
    int64_t need = (o.n_prompt > o.n_gen ? o.n_prompt : o.n_gen) + 1;
    if (need > d.n_ctx_train) {
        llamac_model_free(m);
        return cli_error("bench", CLI_USAGE, "%lld tokens do not fit the model's context of %d", (long long)need,
                         d.n_ctx_train);
    }
    o.cp.n_ctx = (uint32_t)need;
    llamac_context *ctx = llamac_context_create(m, &o.cp, &err);
    if (!ctx) { llamac_model_free(m); return cli_error("bench", CLI_FAIL, "%s", err.msg); }
    const int threads = o.cp.n_threads > 0 ? o.cp.n_threads : llamac_physical_cores();
    bench_result results[2];
    int n = 0;
    if (o.n_prompt > 0 && (rc = run_test(ctx, m, &o, true, &results[n])) == CLI_OK) n++;
    if (rc == CLI_OK && o.n_gen > 0 && (rc = run_test(ctx, m, &o, false, &results[n])) == CLI_OK) n++;
    if (rc == CLI_OK) {
        int n_batch = o.cp.n_batch > 0 ? o.cp.n_batch : 512;
        if (o.json) print_json(&o, &d, results, n, threads, n_batch, llamac_context_kernels(ctx));
        else print_table(&o, &d, results, n, threads, llamac_context_kernels(ctx));
    }
    llamac_context_free(ctx);
    llamac_model_free(m);
    return rc;
}
