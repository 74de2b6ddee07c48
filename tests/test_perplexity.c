/* `llamac perplexity` against a float64 reference computed here from the
 * logits of the same chunks (through the public API): stories260K (F32
 * weights, F32 KV cache) on a bundled public-domain text. The reference
 * restates llama-perplexity's method on its own: chunks of n_ctx tokens,
 * the first replaced by BOS, the logits at positions n_ctx/2 .. n_ctx-2
 * scored against the next token; PPL = exp(mean nll), ± PPL·sqrt(var/(N−1)).
 * The CLI must agree within 1e-4 relative, whatever --batch splits a chunk
 * into, and with --chunks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llamac.h"
#include "test_util.h"

#define MODEL "../models/stories260K.gguf"
#define TEXT "data/texts/kjv-genesis-1-8.txt"

typedef struct reference {
    double ppl, err;
    long long n_scored;
} reference;

/* −log softmax(row)[tok] in double, written out with a two-pass sum. */
static double nll_of(const float *row, int32_t n_vocab, llamac_token tok) {
    double max = row[0];
    for (int32_t i = 1; i < n_vocab; i++)
        if (row[i] > max) max = row[i];
    double sum = 0;
    for (int32_t i = 0; i < n_vocab; i++) sum += exp((double)row[i] - max);
    return -((double)row[tok] - max - log(sum));
}

static int compute_reference(llamac_model *m, const llamac_token *toks, int64_t n_tokens, int n_ctx,
                             int max_chunks, reference *out) {
    llamac_error err = {{0}};
    llamac_context_params cp = llamac_context_default_params();
    cp.n_ctx = (uint32_t)n_ctx;
    cp.n_batch = n_ctx;
    cp.n_threads = 1;
    cp.kv_type = LLAMAC_KV_F32;
    llamac_context *ctx = llamac_context_create(m, &cp, &err);
    if (!ctx) { fprintf(stderr, "context: %s\n", err.msg); return -1; }
    const int32_t n_vocab = llamac_n_vocab(m);
    int64_t n_chunk = n_tokens / n_ctx;
    if (max_chunks > 0 && max_chunks < n_chunk) n_chunk = max_chunks;
    llamac_token *chunk = malloc(sizeof *chunk * (size_t)n_ctx);
    double sum = 0, sum2 = 0;
    long long n = 0;
    for (int64_t c = 0; c < n_chunk && chunk; c++) {
        memcpy(chunk, toks + c * n_ctx, sizeof *chunk * (size_t)n_ctx);
        chunk[0] = llamac_token_bos(m);
        llamac_kv_truncate(ctx, 0);
        if (llamac_decode(ctx, chunk, n_ctx, true, &err) < 0) { fprintf(stderr, "decode: %s\n", err.msg); break; }
        for (int j = n_ctx / 2; j <= n_ctx - 2; j++) {
            const double v = nll_of(llamac_logits(ctx, j), n_vocab, chunk[j + 1]);
            sum += v;
            sum2 += v * v;
            n++;
        }
    }
    free(chunk);
    llamac_context_free(ctx);
    const double mean = sum / (double)n, var = sum2 / (double)n - mean * mean;
    out->ppl = exp(mean);
    out->err = out->ppl * sqrt(var / (double)(n - 1));
    out->n_scored = n;
    return n > 0 ? 0 : -1;
}

/* Runs the CLI and parses its last stdout line. */
static int run_cli(const char *bin, const char *args, double *ppl, double *err) {
    char cmd[1024], line[65536], last[65536] = "";
    snprintf(cmd, sizeof cmd, "%s perplexity -m %s -f %s --kv-type f32 -t 1 %s 2>/dev/null", bin, MODEL, TEXT, args);
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    while (fgets(line, sizeof line, p)) snprintf(last, sizeof last, "%s", line);
    const int rc = pclose(p);
    if (rc != 0) { fprintf(stderr, "'%s' exited %d\n", cmd, rc); return -1; }
    if (sscanf(last, "Final estimate: PPL = %lf +/- %lf", ppl, err) != 2) {
        fprintf(stderr, "last line of '%s' is not the final estimate: %s\n", cmd, last);
        return -1;
    }
    return 0;
}

static double rel(double a, double b) { return fabs(a - b) / fabs(b); }

static void check_cli(const char *bin, const char *args, const reference *ref) {
    double ppl = 0, err = 0;
    const int rc = run_cli(bin, args, &ppl, &err);
    CHECKF(rc == 0, "llamac perplexity %s", args);
    if (rc != 0) return;
    /* the CLI prints 4 and 5 decimals; PPL ≥ 1, so 5e-5 of rounding stays below 1e-4 relative */
    CHECKF(rel(ppl, ref->ppl) < 1e-4, "%s: PPL %.6f, reference %.6f", args, ppl, ref->ppl);
    CHECKF(fabs(err - ref->err) < 1e-4 * ref->err + 1e-5, "%s: ± %.6f, reference %.6f", args, err, ref->err);
}

int main(void) {
    const char *bin = getenv("LLAMAC_BIN");
    if (!bin) { fprintf(stderr, "LLAMAC_BIN is not set (ctest sets it)\n"); return 1; }
    llamac_error e = {{0}};
    llamac_model_params mp = llamac_model_default_params();
    llamac_model *m = llamac_model_load(MODEL, &mp, &e);
    size_t len = 0;
    char *text = lc_test_read_file(TEXT, &len);
    CHECKF(m != NULL, "%s", e.msg);
    CHECK(text != NULL);
    if (!m || !text) return TEST_SUMMARY("test_perplexity");
    CHECK(llamac_add_bos(m));
    const int64_t n_tokens = llamac_tokenize(m, text, len, NULL, 0, LLAMAC_TOKENIZE_ADD_SPECIAL, &e);
    llamac_token *toks = malloc(sizeof *toks * (size_t)n_tokens);
    CHECK(toks && llamac_tokenize(m, text, len, toks, n_tokens, LLAMAC_TOKENIZE_ADD_SPECIAL, &e) == n_tokens);

    reference r128, r64_3;
    CHECK(compute_reference(m, toks, n_tokens, 128, 0, &r128) == 0);
    CHECK(r128.n_scored == (n_tokens / 128) * 63);
    CHECK(compute_reference(m, toks, n_tokens, 64, 3, &r64_3) == 0);
    CHECK(r64_3.n_scored == 3 * 31);
    fprintf(stderr, "reference: ctx 128 PPL %.6f ± %.6f over %lld tokens; ctx 64, 3 chunks PPL %.6f\n", r128.ppl,
            r128.err, r128.n_scored, r64_3.ppl);

    check_cli(bin, "--ctx 128", &r128);
    check_cli(bin, "--ctx 128 --batch 37", &r128); /* a chunk in 4 uneven forward calls */
    check_cli(bin, "--ctx 128 -t 2", &r128);
    check_cli(bin, "--ctx 64 --chunks 3", &r64_3);

    free(toks);
    free(text);
    llamac_model_free(m);
    return TEST_SUMMARY("test_perplexity");
}
