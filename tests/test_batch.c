/* The batch API (several sequences in one context) against each sequence
 * decoded alone, on stories260K and on tiny-llama3 converted to F32, with
 * an F32 KV cache, for every kernel table this machine runs:
 *   - a batch of sequences A, B, C at different positions, prefill chunks
 *     mixed with decode tokens, entries of different sequences interleaved,
 *     batches larger than n_batch: every entry's logits within 1e-4 of the
 *     same position decoded alone;
 *   - prefix sharing: a 40-token prefix decoded once and copied to three
 *     more sequences (no cells copied), each continued differently, equals
 *     each whole prompt alone; so does one entry naming all four sequences;
 *     removing a tail and re-decoding it restores the logits; keep, pos
 *     min/max and the cells in use follow;
 *   - a full cache, an id out of range, a repeated id, positions that skip
 *     or repeat, an empty batch: clear errors, nothing changed, and the
 *     context decodes correctly afterwards.
 * The last two run on every table for stories260K, on the default one for
 * tiny-llama3 (its 128k-entry LM head is slow in the sanitizer build). */
#include <unistd.h>

#include "llamac.h"
#include "kernels/dispatch.h"
#include "test_util.h"

#define STORIES_PATH "../models/stories260K.gguf"
#define TOL 1e-4
#define N_MAX 64

typedef struct fixture {
    llamac_model *m;
    const char *name;
    int32_t n_vocab;
    int32_t n_batch;
} fixture;

static void make_tokens(const fixture *f, uint64_t seed, llamac_token *out, int n) {
    uint64_t s = seed * 2654435761u + 1;
    for (int i = 0; i < n; i++) out[i] = (llamac_token)(lc_test_rand(&s) % (uint64_t)f->n_vocab);
}

static llamac_context *make_ctx(const fixture *f, uint32_t n_ctx, int32_t n_seq_max) {
    llamac_context_params cp = llamac_context_default_params();
    cp.kv_type = LLAMAC_KV_F32;
    cp.n_ctx = n_ctx;
    cp.n_batch = f->n_batch;
    cp.n_threads = 2;
    cp.n_seq_max = n_seq_max;
    llamac_error err = {{0}};
    llamac_context *ctx = llamac_context_create(f->m, &cp, &err);
    CHECKF(ctx != NULL, "%s: context: %s", f->name, err.msg);
    return ctx;
}

/* The logits of positions from..n-1 of toks decoded alone: [n][n_vocab]
 * (rows below `from` stay zero; the LM head of a 128k vocabulary is most
 * of the sanitizer build's time). */
static float *logits_alone(const fixture *f, const llamac_token *toks, int n, int from) {
    llamac_context *ctx = make_ctx(f, N_MAX * 2, 1);
    float *out = calloc((size_t)n * (size_t)f->n_vocab, sizeof(float));
    llamac_error err = {{0}};
    if (ctx && (from == 0 || llamac_decode(ctx, toks, from, false, &err) == 0) &&
        llamac_decode(ctx, toks + from, n - from, true, &err) == 0)
        for (int i = from; i < n; i++)
            memcpy(out + (size_t)i * f->n_vocab, llamac_logits(ctx, i - from), sizeof(float) * (size_t)f->n_vocab);
    else
        CHECKF(0, "%s: decode alone: %s", f->name, err.msg);
    llamac_context_free(ctx);
    return out;
}

static double diff(const float *a, const float *b, int n) {
    double worst = a && b ? 0.0 : INFINITY;
    for (int i = 0; a && b && i < n; i++) {
        const double d = fabs((double)a[i] - b[i]);
        if (!(d <= worst)) worst = d;
    }
    return worst;
}

/* Each entry of the last decode against the logits alone of its sequence
 * at its position; returns the worst difference. */
typedef struct entry_ref { int seq, pos; } entry_ref;

static double check_entries(const fixture *f, llamac_context *ctx, const entry_ref *refs, int n,
                            float *const *alone) {
    double worst = 0.0;
    for (int i = 0; i < n; i++) {
        const float *got = llamac_batch_logits(ctx, i);
        const double d = diff(got, alone[refs[i].seq] + (size_t)refs[i].pos * f->n_vocab, f->n_vocab);
        if (!(d <= worst)) worst = d;
    }
    return worst;
}

/* ---------------------------------------------------------- mixed batches */

static void test_mixed(const fixture *f) {
    enum { N_SEQ = 3 };
    static const int lens[N_SEQ] = {37, 22, 30};
    llamac_token toks[N_SEQ][N_MAX];
    float *alone[N_SEQ];
    for (int s = 0; s < N_SEQ; s++) {
        make_tokens(f, 100 + (uint64_t)s, toks[s], lens[s]);
        alone[s] = logits_alone(f, toks[s], lens[s], 0);
    }
    llamac_context *ctx = make_ctx(f, 128, 4);
    llamac_batch *b = llamac_batch_create(64);
    if (!ctx || !b) { CHECK(ctx && b); goto done; }
    /* three steps: each a list of (sequence, tokens) runs in entry order;
     * interleave: a run of n entries becomes n single entries alternating
     * with the next run's */
    typedef struct run { int seq, n; } run;
    static const run steps[3][4] = {
        {{0, 20}, {1, 1}, {2, 5}, {-1, 0}},        /* prefill beyond n_batch, a decode token, a chunk */
        {{1, 9}, {0, 1}, {2, 1}, {-1, 0}},         /* a chunk between decode tokens */
        {{2, 24}, {0, 16}, {1, 12}, {-1, 0}},      /* interleaved below */
    };
    int next[N_SEQ] = {0, 0, 0};
    llamac_error err = {{0}};
    for (int step = 0; step < 3; step++) {
        llamac_batch_clear(b);
        entry_ref refs[64];
        int n = 0;
        if (step < 2) {
            for (int r = 0; r < 4 && steps[step][r].seq >= 0; r++)
                for (int k = 0; k < steps[step][r].n; k++, n++) {
                    const int s = steps[step][r].seq;
                    refs[n] = (entry_ref){s, next[s]};
                    CHECK(llamac_batch_add(b, toks[s][next[s]], next[s], &s, 1, true) == n);
                    next[s]++;
                }
        } else {
            /* the rest of every sequence, entries of the three alternating */
            for (bool more = true; more;) {
                more = false;
                for (int s = 0; s < N_SEQ; s++)
                    if (next[s] < lens[s]) {
                        refs[n] = (entry_ref){s, next[s]};
                        CHECK(llamac_batch_add(b, toks[s][next[s]], next[s], &s, 1, n % 3 != 1) == n);
                        next[s]++;
                        n++;
                        more = true;
                    }
            }
        }
        CHECK(llamac_batch_size(b) == n);
        CHECKF(llamac_decode_batch(ctx, b, &err) == 0, "%s: step %d: %s", f->name, step, err.msg);
        double worst = 0.0;
        for (int i = 0; i < n; i++) {
            const float *got = llamac_batch_logits(ctx, i);
            if (step == 2 && i % 3 == 1) { CHECK(got == NULL); continue; }
            const double d = diff(got, alone[refs[i].seq] + (size_t)refs[i].pos * f->n_vocab, f->n_vocab);
            if (!(d <= worst)) worst = d;
        }
        CHECKF(worst < TOL, "%s (%s): mixed batch step %d: max logit difference %g", f->name,
               llamac_context_kernels(ctx), step, worst);
    }
    for (int s = 0; s < N_SEQ; s++) {
        CHECK(llamac_seq_pos_min(ctx, s) == 0);
        CHECK(llamac_seq_pos_max(ctx, s) == lens[s] - 1);
    }
    CHECK(llamac_kv_cells_used(ctx) == (uint32_t)(lens[0] + lens[1] + lens[2]));
    CHECK(llamac_n_past(ctx) == (uint32_t)lens[0]);
done:
    llamac_batch_free(b);
    llamac_context_free(ctx);
    for (int s = 0; s < N_SEQ; s++) free(alone[s]);
}

/* ------------------------------------------------------- prefix sharing */

static void test_prefix(const fixture *f) {
    enum { N_SEQ = 4, PREFIX = 40, SUFFIX = 6, LEN = PREFIX + SUFFIX };
    llamac_token toks[N_SEQ][LEN + 1];
    float *alone[N_SEQ];
    make_tokens(f, 7, toks[0], PREFIX);
    for (int s = 0; s < N_SEQ; s++) {
        memcpy(toks[s], toks[0], sizeof(llamac_token) * PREFIX);
        make_tokens(f, 200 + (uint64_t)s, toks[s] + PREFIX, SUFFIX + 1);
        alone[s] = logits_alone(f, toks[s], LEN + 1, PREFIX - 1);
    }
    llamac_error err = {{0}};
    llamac_batch *b = llamac_batch_create(LEN);
    for (int way = 0; way < 2 && b; way++) {
        llamac_context *ctx = make_ctx(f, 128, N_SEQ);
        if (!ctx) continue;
        /* way 0: prefix in sequence 0 then copied; way 1: one entry per
         * prefix token naming all four sequences */
        static const llamac_seq_id all[N_SEQ] = {0, 1, 2, 3};
        llamac_batch_clear(b);
        for (int i = 0; i < PREFIX; i++) llamac_batch_add(b, toks[0][i], i, all, way ? N_SEQ : 1, i == PREFIX - 1);
        CHECKF(llamac_decode_batch(ctx, b, &err) == 0, "%s", err.msg);
        const double dp = diff(llamac_batch_logits(ctx, PREFIX - 1), alone[0] + (size_t)(PREFIX - 1) * f->n_vocab, f->n_vocab);
        CHECKF(dp < TOL, "%s: prefix logits differ by %g", f->name, dp);
        if (way == 0)
            for (int s = 1; s < N_SEQ; s++) CHECK(llamac_seq_cp(ctx, 0, s, -1, -1));
        CHECK(llamac_kv_cells_used(ctx) == PREFIX);
        for (int s = 0; s < N_SEQ; s++) CHECK(llamac_seq_pos_max(ctx, s) == PREFIX - 1);

        /* every sequence continues differently, in one batch */
        llamac_batch_clear(b);
        entry_ref refs[N_SEQ * SUFFIX];
        int n = 0;
        for (int i = 0; i < SUFFIX; i++)
            for (int s = 0; s < N_SEQ; s++, n++) {
                refs[n] = (entry_ref){s, PREFIX + i};
                llamac_batch_add(b, toks[s][PREFIX + i], PREFIX + i, &all[s], 1, true);
            }
        CHECKF(llamac_decode_batch(ctx, b, &err) == 0, "%s", err.msg);
        double worst = check_entries(f, ctx, refs, n, alone);
        CHECKF(worst < TOL, "%s (%s): shared prefix (%s): max logit difference %g", f->name,
               llamac_context_kernels(ctx), way ? "one entry, four sequences" : "copied", worst);
        CHECK(llamac_kv_cells_used(ctx) == PREFIX + N_SEQ * SUFFIX);

        /* remove sequence 2's last four positions and decode them again */
        CHECK(llamac_seq_rm(ctx, 2, PREFIX + 2, -1));
        CHECK(llamac_seq_pos_max(ctx, 2) == PREFIX + 1);
        CHECK(llamac_kv_cells_used(ctx) == PREFIX + N_SEQ * SUFFIX - 4);
        llamac_batch_clear(b);
        n = 0;
        for (int i = 2; i < SUFFIX; i++, n++) {
            refs[n] = (entry_ref){2, PREFIX + i};
            llamac_batch_add(b, toks[2][PREFIX + i], PREFIX + i, &all[2], 1, true);
        }
        CHECKF(llamac_decode_batch(ctx, b, &err) == 0, "%s", err.msg);
        worst = check_entries(f, ctx, refs, n, alone);
        CHECKF(worst < TOL, "%s: re-decoded tail: max logit difference %g", f->name, worst);

        /* removing the shared prefix from one sequence keeps it for the
         * others; copying it back from another puts it before the
         * sequence's own cells, and the sequence goes on as before */
        CHECK(llamac_seq_rm(ctx, 3, 0, PREFIX));
        CHECK(llamac_seq_pos_min(ctx, 3) == PREFIX && llamac_seq_pos_max(ctx, 3) == LEN - 1);
        CHECK(llamac_kv_cells_used(ctx) == PREFIX + N_SEQ * SUFFIX);
        CHECK(llamac_seq_cp(ctx, 1, 3, 10, 25) && llamac_seq_cp(ctx, 1, 3, -1, 10) && llamac_seq_cp(ctx, 1, 3, 25, PREFIX));
        CHECK(llamac_seq_pos_min(ctx, 3) == 0 && llamac_kv_cells_used(ctx) == PREFIX + N_SEQ * SUFFIX);
        llamac_batch_clear(b);
        llamac_batch_add(b, toks[3][LEN], LEN, &all[3], 1, true);
        CHECKF(llamac_decode_batch(ctx, b, &err) == 0, "%s", err.msg);
        worst = diff(llamac_batch_logits(ctx, 0), alone[3] + (size_t)LEN * f->n_vocab, f->n_vocab);
        CHECKF(worst < TOL, "%s: prefix copied back in three ranges: max logit difference %g", f->name, worst);
        llamac_seq_keep(ctx, 1);
        CHECK(llamac_kv_cells_used(ctx) == LEN);
        CHECK(llamac_seq_pos_max(ctx, 0) == -1 && llamac_seq_pos_max(ctx, 3) == -1);
        CHECK(llamac_seq_pos_min(ctx, 1) == 0 && llamac_seq_pos_max(ctx, 1) == LEN - 1);
        CHECK(!llamac_seq_rm(ctx, N_SEQ, 0, -1) && !llamac_seq_cp(ctx, 0, N_SEQ, 0, -1));
        CHECK(llamac_seq_rm(ctx, -1, -1, -1) && llamac_kv_cells_used(ctx) == 0);
        llamac_context_free(ctx);
    }
    llamac_batch_free(b);
    for (int s = 0; s < N_SEQ; s++) free(alone[s]);
}

/* --------------------------------------------------------------- errors */

/* A failed decode must leave the cache as it was. */
static void expect_failure(llamac_context *ctx, const llamac_batch *b, const char *want, const char *what) {
    const uint32_t used = llamac_kv_cells_used(ctx);
    const int32_t max0 = llamac_seq_pos_max(ctx, 0), max1 = llamac_seq_pos_max(ctx, 1);
    llamac_error err = {{0}};
    CHECKF(llamac_decode_batch(ctx, b, &err) < 0 && strstr(err.msg, want), "%s: got '%s'", what, err.msg);
    CHECKF(llamac_kv_cells_used(ctx) == used && llamac_seq_pos_max(ctx, 0) == max0 &&
           llamac_seq_pos_max(ctx, 1) == max1, "%s changed the cache", what);
}

static void test_errors(const fixture *f) {
    enum { N_CTX = 32 };
    llamac_token toks[2][N_CTX];
    float *alone[2];
    for (int s = 0; s < 2; s++) {
        make_tokens(f, 300 + (uint64_t)s, toks[s], N_CTX);
        alone[s] = logits_alone(f, toks[s], 17, 12);
    }
    llamac_context *ctx = make_ctx(f, N_CTX, 2);
    llamac_batch *b = llamac_batch_create(N_CTX);
    llamac_error err = {{0}};
    if (!ctx || !b) { CHECK(ctx && b); goto done; }
    const llamac_seq_id s0 = 0, s1 = 1, s2 = 2, twice[2] = {1, 1};
    llamac_batch_clear(b);
    for (int i = 0; i < 12; i++) {
        llamac_batch_add(b, toks[0][i], i, &s0, 1, i == 11);
        llamac_batch_add(b, toks[1][i], i, &s1, 1, i == 11);
    }
    CHECKF(llamac_decode_batch(ctx, b, &err) == 0, "%s", err.msg);

    llamac_batch_clear(b);
    expect_failure(ctx, b, "empty", "an empty batch");
    llamac_batch_add(b, toks[0][12], 12, &s2, 1, true);
    expect_failure(ctx, b, "sequence id 2", "an id out of range");
    llamac_batch_clear(b);
    llamac_batch_add(b, toks[1][12], 12, twice, 2, true);
    expect_failure(ctx, b, "twice", "a repeated id");
    llamac_batch_clear(b);
    llamac_batch_add(b, toks[0][12], 12, &s0, 1, true);
    llamac_batch_add(b, toks[1][13], 13, &s1, 1, true);
    expect_failure(ctx, b, "skips", "a position that skips");
    llamac_batch_clear(b);
    llamac_batch_add(b, toks[0][12], 12, &s0, 1, true);
    llamac_batch_add(b, toks[0][12], 12, &s0, 1, true);
    expect_failure(ctx, b, "repeats", "a position that repeats");
    llamac_batch_clear(b);
    llamac_batch_add(b, f->n_vocab, 12, &s0, 1, true);
    expect_failure(ctx, b, "vocabulary", "a token outside the vocabulary");
    /* 8 cells are free: sequence 0's fifth token (entry 8) finds none */
    llamac_batch_clear(b);
    for (int i = 12; i < 17; i++) {
        llamac_batch_add(b, toks[0][i], i, &s0, 1, true);
        llamac_batch_add(b, toks[1][i], i, &s1, 1, true);
    }
    expect_failure(ctx, b, "full: sequence 0 needs a cell for position 16", "a full cache");
    CHECK(llamac_batch_add(b, 0, 0, &s0, 0, true) == -1);
    while (llamac_batch_size(b) < N_CTX) llamac_batch_add(b, 0, 0, &s0, 1, true);
    CHECK(llamac_batch_add(b, 0, 0, &s0, 1, true) == -1);

    /* still usable: both sequences go on to fill the cache exactly */
    entry_ref refs[8];
    llamac_batch_clear(b);
    for (int i = 12; i < 16; i++) {
        refs[llamac_batch_add(b, toks[0][i], i, &s0, 1, true)] = (entry_ref){0, i};
        refs[llamac_batch_add(b, toks[1][i], i, &s1, 1, true)] = (entry_ref){1, i};
    }
    CHECKF(llamac_decode_batch(ctx, b, &err) == 0, "%s", err.msg);
    const double worst = check_entries(f, ctx, refs, 8, alone);
    CHECKF(worst < TOL, "%s: after the errors: max logit difference %g", f->name, worst);
    CHECK(llamac_kv_cells_used(ctx) == N_CTX);
    /* the single-sequence call fails the same way on a full cache */
    CHECK(llamac_decode(ctx, toks[0], 1, false, &err) < 0 && strstr(err.msg, "full"));
    llamac_seq_rm(ctx, 1, -1, -1);
    CHECKF(llamac_decode(ctx, &toks[0][16], 1, false, &err) == 0, "%s", err.msg);
    CHECK(diff(llamac_logits(ctx, -1), alone[0] + (size_t)16 * f->n_vocab, f->n_vocab) < TOL);
    CHECK(llamac_n_past(ctx) == 17);
done:
    llamac_batch_free(b);
    llamac_context_free(ctx);
    for (int s = 0; s < 2; s++) free(alone[s]);
}

/* ------------------------------------------------------------------ main */

/* The mixed batches on every kernel table; the sequence operations and
 * errors, which do not depend on the kernels, on every table only when
 * the model is small (all_tables). */
static void run_model(const char *path, const char *name, bool all_tables) {
    llamac_error err = {{0}};
    int tested = 0;
    for (int isa = 0; isa < LC_ISA_COUNT; isa++) {
        if (!lc_isa_available((lc_isa)isa, NULL, 0)) continue;
        llamac_model_params mp = llamac_model_default_params();
        mp.isa = lc_isa_name((lc_isa)isa);
        fixture f = {.name = name, .n_batch = 16};
        f.m = llamac_model_load(path, &mp, &err);
        CHECKF(f.m != NULL, "%s (%s): %s", name, mp.isa, err.msg);
        if (!f.m) continue;
        f.n_vocab = llamac_n_vocab(f.m);
        test_mixed(&f);
        if (all_tables || isa == (int)lc_isa_default()) {
            test_prefix(&f);
            test_errors(&f);
        }
        llamac_model_free(f.m);
        tested++;
    }
    fprintf(stderr, "%s: %d kernel tables\n", name, tested);
}

int main(void) {
    run_model(STORIES_PATH, "stories260K", true);
    char path[64];
    snprintf(path, sizeof path, "tiny-llama3-batch-%d.f32.gguf", (int)getpid());
    llamac_convert_params p = llamac_convert_default_params();
    p.type = llamac_convert_type_from_name("f32");
    p.n_threads = 2;
    llamac_error err = {{0}};
    if (llamac_convert("data/tiny-llama3", path, &p, &err) == 0) run_model(path, "tiny-llama3 f32", false);
    else CHECKF(0, "convert tiny-llama3: %s", err.msg);
    unlink(path);
    return TEST_SUMMARY("test_batch");
}
