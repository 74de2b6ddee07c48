/* Prompts longer than the batch (issue: the logits pointer of every chunk
 * before the last was computed from a negative offset cast to size_t when
 * only the last logits are wanted; the sanitizer build aborted on it).
 * A prompt decoded in chunks of 1, 3 and 7 tokens with only the last logits
 * kept must give the logits of the same prompt decoded in one chunk, and
 * the context must go on decoding afterwards. */
#include "llamac.h"
#include "test_util.h"

#define MODEL_PATH "../models/stories260K.gguf"
#define N_PROMPT 29

static llamac_context *make_ctx(llamac_model *m, int32_t n_batch) {
    llamac_context_params cp = llamac_context_default_params();
    cp.kv_type = LLAMAC_KV_F32;
    cp.n_ctx = 64;
    cp.n_batch = n_batch;
    cp.n_threads = 1;
    llamac_error err = {{0}};
    llamac_context *ctx = llamac_context_create(m, &cp, &err);
    CHECKF(ctx != NULL, "context: %s", err.msg);
    return ctx;
}

static double max_diff(const float *a, const float *b, int n) {
    double worst = 0.0;
    for (int i = 0; i < n; i++) {
        const double d = fabs((double)a[i] - b[i]);
        if (!(d <= worst)) worst = d;
    }
    return worst;
}

int main(void) {
    llamac_error err = {{0}};
    llamac_model *m = llamac_model_load(MODEL_PATH, NULL, &err);
    if (!m) { fprintf(stderr, "cannot load %s: %s\n", MODEL_PATH, err.msg); return 1; }
    const int n_vocab = llamac_n_vocab(m);
    llamac_token toks[N_PROMPT + 1];
    for (int i = 0; i <= N_PROMPT; i++) toks[i] = (llamac_token)(i == 0 ? 1 : 259 + (i * 53) % 250);

    llamac_context *whole = make_ctx(m, 64);
    CHECK(whole && llamac_decode(whole, toks, N_PROMPT, false, &err) == 0);
    float *want = malloc(sizeof(float) * (size_t)n_vocab * 2);
    if (whole) {
        memcpy(want, llamac_logits(whole, -1), sizeof(float) * (size_t)n_vocab);
        CHECK(llamac_decode(whole, &toks[N_PROMPT], 1, false, &err) == 0);
        memcpy(want + n_vocab, llamac_logits(whole, -1), sizeof(float) * (size_t)n_vocab);
    }
    static const int32_t batches[] = {1, 3, 7};
    for (size_t b = 0; whole && b < sizeof batches / sizeof batches[0]; b++) {
        llamac_context *ctx = make_ctx(m, batches[b]);
        if (!ctx) continue;
        CHECKF(llamac_decode(ctx, toks, N_PROMPT, false, &err) == 0, "%s", err.msg);
        CHECK(llamac_logits(ctx, 0) == NULL && llamac_logits(ctx, N_PROMPT - 2) == NULL);
        const float *last = llamac_logits(ctx, -1);
        CHECK(last != NULL && last == llamac_logits(ctx, N_PROMPT - 1));
        if (last) {
            const double d = max_diff(last, want, n_vocab);
            CHECKF(d < 1e-4, "batch %d: last logits differ from one chunk by %g", batches[b], d);
        }
        CHECKF(llamac_decode(ctx, &toks[N_PROMPT], 1, false, &err) == 0, "%s", err.msg);
        const double d = max_diff(llamac_logits(ctx, -1), want + n_vocab, n_vocab);
        CHECKF(d < 1e-4, "batch %d: next token's logits differ by %g", batches[b], d);
        CHECK(llamac_n_past(ctx) == N_PROMPT + 1);
        llamac_context_free(ctx);
    }
    free(want);
    llamac_context_free(whole);
    llamac_model_free(m);
    return TEST_SUMMARY("test_long_prompt");
}
