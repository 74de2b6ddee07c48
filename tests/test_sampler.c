/* Sampler: greedy, determinism, top-k/top-p/min-p exclusion and their
 * order, the distribution at T=1 and T=2 against softmax, the repetition
 * penalty and its window. Seeds are fixed so nothing here can flake. */
#include <stdint.h>

#include "llamac.h"
#include "test_util.h"

static llamac_sampler_params params_off(float temperature, uint64_t seed) {
    llamac_sampler_params p = llamac_sampler_default_params();
    p.temperature = temperature;
    p.top_k = 0;
    p.top_p = 1.0f;
    p.min_p = 0.0f;
    p.repeat_penalty = 1.0f;
    p.repeat_last_n = 64;
    p.seed = seed;
    return p;
}

static int argmax_first(const float *l, int n) {
    int best = 0;
    for (int i = 1; i < n; i++)
        if (l[i] > l[best]) best = i;
    return best;
}

/* Logits whose softmax is exactly `probs` (up to rounding). */
static void logits_from_probs(const double *probs, float *out, int n) {
    for (int i = 0; i < n; i++) out[i] = (float)log(probs[i]);
}

/* Counts draws per token over `draws` samples of the same logits. */
static void count_draws(llamac_sampler *s, const float *logits, int n, int draws, int *counts) {
    memset(counts, 0, (size_t)n * sizeof *counts);
    for (int i = 0; i < draws; i++) {
        llamac_token t = llamac_sampler_sample(s, logits);
        if (t >= 0 && t < n) counts[t]++;
    }
}

static void test_greedy(void) {
    enum { V = 1000 };
    static float logits[V];
    uint64_t rs = 1;
    llamac_sampler_params p = params_off(0.0f, 7);
    llamac_sampler *s = llamac_sampler_create(&p, V);
    CHECK(s != NULL);
    for (int round = 0; round < 50; round++) {
        for (int i = 0; i < V; i++) logits[i] = lc_test_randf(&rs) * 10.0f;
        CHECK(llamac_sampler_sample(s, logits) == argmax_first(logits, V));
    }
    /* Ties: the first index wins. */
    for (int i = 0; i < V; i++) logits[i] = 0.0f;
    logits[17] = 3.0f;
    logits[400] = 3.0f;
    logits[999] = 3.0f;
    CHECK(llamac_sampler_sample(s, logits) == 17);
    /* A negative temperature is greedy too; NaN is never picked. */
    llamac_sampler_free(s);
    p.temperature = -1.0f;
    s = llamac_sampler_create(&p, V);
    logits[0] = NAN;
    CHECK(llamac_sampler_sample(s, logits) == 17);
    llamac_sampler_free(s);
}

static void test_determinism(void) {
    enum { V = 300, STEPS = 2000 };
    static float logits[V];
    llamac_sampler_params p = llamac_sampler_default_params();
    p.temperature = 1.0f;
    p.top_k = 0;
    p.top_p = 0.98f;
    p.min_p = 0.01f;
    p.repeat_penalty = 1.1f;
    p.seed = 12345;
    llamac_sampler *a = llamac_sampler_create(&p, V);
    llamac_sampler *b = llamac_sampler_create(&p, V);
    p.seed = 12346;
    llamac_sampler *c = llamac_sampler_create(&p, V);
    uint64_t rs = 99;
    int same_ab = 1, diff_ac = 0;
    static llamac_token first_run[STEPS];
    for (int i = 0; i < STEPS; i++) {
        for (int j = 0; j < V; j++) logits[j] = lc_test_randf(&rs) * 3.0f;
        llamac_token ta = llamac_sampler_sample(a, logits);
        llamac_token tb = llamac_sampler_sample(b, logits);
        llamac_token tc = llamac_sampler_sample(c, logits);
        same_ab &= ta == tb;
        diff_ac |= ta != tc;
        first_run[i] = ta;
        llamac_sampler_accept(a, ta);
        llamac_sampler_accept(b, tb);
        llamac_sampler_accept(c, tc);
    }
    CHECK(same_ab);
    CHECK(diff_ac);
    /* reset: history and PRNG start over, so the run repeats exactly. */
    llamac_sampler_reset(a);
    rs = 99;
    int same_after_reset = 1;
    for (int i = 0; i < STEPS; i++) {
        for (int j = 0; j < V; j++) logits[j] = lc_test_randf(&rs) * 3.0f;
        llamac_token t = llamac_sampler_sample(a, logits);
        same_after_reset &= t == first_run[i];
        llamac_sampler_accept(a, t);
    }
    CHECK(same_after_reset);
    llamac_sampler_free(a);
    llamac_sampler_free(b);
    llamac_sampler_free(c);
}

static void test_top_k_one_is_greedy(void) {
    enum { V = 5000 };
    static float logits[V];
    llamac_sampler_params p = params_off(1.5f, 3);
    p.top_k = 1;
    llamac_sampler *s = llamac_sampler_create(&p, V);
    uint64_t rs = 5;
    int all_equal = 1;
    for (int round = 0; round < 200; round++) {
        for (int i = 0; i < V; i++) logits[i] = lc_test_randf(&rs);
        all_equal &= llamac_sampler_sample(s, logits) == argmax_first(logits, V);
    }
    CHECK(all_equal);
    llamac_sampler_free(s);
}

/* top-k must pick exactly the k best, ties broken by lower id: with a high
 * temperature all k get drawn and nothing else ever does. */
static void test_top_k_set(void) {
    enum { V = 1000, K = 7, DRAWS = 20000 };
    static float logits[V];
    static int counts[V];
    uint64_t rs = 11;
    /* Few distinct values so ties cross the k-th place. */
    for (int i = 0; i < V; i++) logits[i] = (float)(lc_test_rand(&rs) % 50);
    int expected[K], n_exp = 0;
    for (float v = 49.0f; v >= 0.0f && n_exp < K; v -= 1.0f)
        for (int i = 0; i < V && n_exp < K; i++)
            if (logits[i] == v) expected[n_exp++] = i;
    llamac_sampler_params p = params_off(1000.0f, 21);
    p.top_k = K;
    llamac_sampler *s = llamac_sampler_create(&p, V);
    count_draws(s, logits, V, DRAWS, counts);
    int in_set = 0;
    for (int j = 0; j < K; j++) {
        CHECKF(counts[expected[j]] > 0, "top-k member %d never drawn", expected[j]);
        in_set += counts[expected[j]];
    }
    CHECKF(in_set == DRAWS, "%d of %d draws outside the top %d", DRAWS - in_set, DRAWS, K);
    llamac_sampler_free(s);
}

static void test_top_p_min_p(void) {
    enum { V = 4, DRAWS = 10000 };
    const double probs[V] = {0.5, 0.3, 0.15, 0.05};
    float logits[V];
    int counts[V];
    logits_from_probs(probs, logits, V);

    /* top-p 0.75: 0.5 < 0.75 <= 0.8, so tokens 0 and 1 only. */
    llamac_sampler_params p = params_off(1.0f, 1);
    p.top_p = 0.75f;
    llamac_sampler *s = llamac_sampler_create(&p, V);
    count_draws(s, logits, V, DRAWS, counts);
    CHECK(counts[0] > 0 && counts[1] > 0);
    CHECKF(counts[2] == 0 && counts[3] == 0, "top-p leak: %d %d", counts[2], counts[3]);
    llamac_sampler_free(s);

    /* min-p 0.2: threshold 0.1, so token 3 (0.05) is out, token 2 stays. */
    p = params_off(1.0f, 2);
    p.min_p = 0.2f;
    s = llamac_sampler_create(&p, V);
    count_draws(s, logits, V, DRAWS, counts);
    CHECK(counts[0] > 0 && counts[1] > 0 && counts[2] > 0);
    CHECKF(counts[3] == 0, "min-p leak: %d", counts[3]);
    llamac_sampler_free(s);

    /* min-p at a high temperature: the threshold is on the untempered
     * distribution (temperature runs last), so token 3 is still out. */
    p = params_off(5.0f, 3);
    p.min_p = 0.2f;
    s = llamac_sampler_create(&p, V);
    count_draws(s, logits, V, DRAWS, counts);
    CHECKF(counts[3] == 0, "min-p after temperature: %d", counts[3]);
    CHECK(counts[2] > 0);
    llamac_sampler_free(s);

    /* Both: top-p 0.9 keeps 0,1,2 and min-p 0.4 (threshold 0.2) keeps 0,1. */
    p = params_off(1.0f, 4);
    p.top_p = 0.9f;
    p.min_p = 0.4f;
    s = llamac_sampler_create(&p, V);
    count_draws(s, logits, V, DRAWS, counts);
    CHECK(counts[0] > 0 && counts[1] > 0);
    CHECKF(counts[2] == 0 && counts[3] == 0, "top-p+min-p leak: %d %d", counts[2], counts[3]);
    llamac_sampler_free(s);

    /* top-p after top-k renormalizes over the k kept: with k=2 the top
     * token has 0.5/0.8 = 0.625 >= 0.6, so it is the only one left. */
    p = params_off(1.0f, 5);
    p.top_k = 2;
    p.top_p = 0.6f;
    s = llamac_sampler_create(&p, V);
    count_draws(s, logits, V, DRAWS, counts);
    CHECKF(counts[0] == DRAWS, "top-k then top-p: %d %d %d %d", counts[0], counts[1], counts[2],
           counts[3]);
    llamac_sampler_free(s);
}

static int compare_desc(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x < y) - (x > y);
}

/* top-p over a large vocabulary (the path that avoids a full sort): the
 * tokens drawn are exactly the best-first prefix whose softmax mass first
 * reaches top_p, computed here by sorting. A high temperature makes every
 * member likely to be drawn. */
static void test_top_p_large_vocab(void) {
    enum { V = 5000, DRAWS = 40000 };
    static float logits[V], sorted[V];
    static int counts[V];
    uint64_t rs = 31337;
    for (int i = 0; i < V; i++) logits[i] = lc_test_randf(&rs) * 6.0f + (i % 97 == 0 ? 4.0f : 0.0f);
    const float top_ps[3] = {0.3f, 0.6f, 0.9f};
    for (int t = 0; t < 3; t++) {
        memcpy(sorted, logits, sizeof sorted);
        qsort(sorted, V, sizeof *sorted, compare_desc);
        double z = 0.0, cum = 0.0;
        for (int i = 0; i < V; i++) z += exp((double)sorted[i] - sorted[0]);
        int keep = 0;
        while (keep < V && cum < top_ps[t]) cum += exp((double)sorted[keep++] - sorted[0]) / z;
        float threshold = sorted[keep - 1]; /* logits are distinct here */
        llamac_sampler_params p = params_off(200.0f, 50 + (uint64_t)t);
        p.top_p = top_ps[t];
        llamac_sampler *s = llamac_sampler_create(&p, V);
        count_draws(s, logits, V, DRAWS, counts);
        int outside = 0, members = 0, missed = 0;
        for (int i = 0; i < V; i++) {
            if (logits[i] >= threshold) {
                members++;
                missed += counts[i] == 0;
            } else {
                outside += counts[i];
            }
        }
        CHECKF(members == keep, "top-p %.1f: distinct logits expected", (double)top_ps[t]);
        CHECKF(outside == 0, "top-p %.1f: %d draws outside the %d-token nucleus", (double)top_ps[t],
               outside, keep);
        CHECKF(keep > DRAWS / 20 || missed == 0, "top-p %.1f: %d of %d members never drawn",
               (double)top_ps[t], missed, keep);
        llamac_sampler_free(s);
    }
}

/* Pearson chi-square of observed counts against softmax(logits / T). */
static double chi_square(const int *counts, const float *logits, int n, double t, int draws) {
    double z = 0.0, chi = 0.0;
    for (int i = 0; i < n; i++) z += exp(logits[i] / t);
    for (int i = 0; i < n; i++) {
        double expected = draws * exp(logits[i] / t) / z;
        double d = counts[i] - expected;
        chi += d * d / expected;
    }
    return chi;
}

static void test_distribution(void) {
    enum { V = 8, DRAWS = 100000 };
    const float logits[V] = {1.0f, 0.5f, 0.0f, -0.5f, 2.0f, 1.5f, -1.0f, 0.25f};
    int counts[V];
    /* 7 degrees of freedom: P(chi2 > 30) is about 1e-4. The seeds are
     * fixed, so this either always passes or always fails. */
    const double bound = 30.0;
    for (int ti = 0; ti < 2; ti++) {
        double t = ti == 0 ? 1.0 : 2.0;
        llamac_sampler_params p = params_off((float)t, 777 + (uint64_t)ti);
        llamac_sampler *s = llamac_sampler_create(&p, V);
        count_draws(s, logits, V, DRAWS, counts);
        double chi = chi_square(counts, logits, V, t, DRAWS);
        CHECKF(chi < bound, "T=%.1f chi-square %.2f", t, chi);
        /* And it is not simply uniform or greedy. */
        CHECK(counts[4] > counts[0] && counts[0] > counts[6]);
        llamac_sampler_free(s);
    }
}

static void test_repeat_penalty(void) {
    enum { V = 10 };
    float logits[V];
    for (int i = 0; i < V; i++) logits[i] = -1.0f;
    logits[0] = 2.0f;
    logits[1] = 1.2f;

    llamac_sampler_params p = params_off(0.0f, 1);
    p.repeat_penalty = 1.5f;
    p.repeat_last_n = 3;
    llamac_sampler *s = llamac_sampler_create(&p, V);
    CHECK(llamac_sampler_sample(s, logits) == 0);
    /* Positive logit divided: 2.0 / 1.5 = 1.33 still beats 1.2. Accepting
     * it twice must not compound (2.0 / 2.25 = 0.89 would lose). */
    llamac_sampler_accept(s, 0);
    llamac_sampler_accept(s, 0);
    CHECK(llamac_sampler_sample(s, logits) == 0);
    llamac_sampler_free(s);

    logits[1] = 1.4f; /* now 1.33 < 1.4 */
    s = llamac_sampler_create(&p, V);
    llamac_sampler_accept(s, 0);
    CHECK(llamac_sampler_sample(s, logits) == 1);
    /* The window holds 3 tokens: after three others, 0 is free again. */
    llamac_sampler_accept(s, 5);
    llamac_sampler_accept(s, 6);
    CHECK(llamac_sampler_sample(s, logits) == 1);
    llamac_sampler_accept(s, 7);
    CHECK(llamac_sampler_sample(s, logits) == 0);
    /* Out-of-range ids are ignored, not recorded. */
    llamac_sampler_accept(s, -3);
    llamac_sampler_accept(s, V + 4);
    CHECK(llamac_sampler_sample(s, logits) == 0);
    llamac_sampler_free(s);

    /* Negative logits are multiplied: -0.5 * 1.5 = -0.75 < -0.6. */
    for (int i = 0; i < V; i++) logits[i] = -2.0f;
    logits[3] = -0.5f;
    logits[4] = -0.6f;
    s = llamac_sampler_create(&p, V);
    CHECK(llamac_sampler_sample(s, logits) == 3);
    llamac_sampler_accept(s, 3);
    CHECK(llamac_sampler_sample(s, logits) == 4);
    llamac_sampler_free(s);

    /* In sampling mode the penalty shifts the distribution: token 0 goes
     * from most to least likely of the pair. */
    enum { DRAWS = 20000 };
    float pair[2] = {1.0f, 0.5f};
    int counts[2];
    p = params_off(1.0f, 9);
    p.repeat_penalty = 4.0f;
    s = llamac_sampler_create(&p, 2);
    count_draws(s, pair, 2, DRAWS, counts);
    CHECK(counts[0] > counts[1]);
    llamac_sampler_accept(s, 0); /* 1.0 -> 0.25 */
    count_draws(s, pair, 2, DRAWS, counts);
    CHECK(counts[0] < counts[1]);
    llamac_sampler_free(s);
}

static void test_masked(void) {
    /* Everything -inf but one: that one is drawn at any temperature. */
    enum { V = 16 };
    float logits[V];
    for (int i = 0; i < V; i++) logits[i] = -INFINITY;
    logits[9] = 0.0f;
    llamac_sampler_params p = llamac_sampler_default_params();
    p.temperature = 1.0f;
    llamac_sampler *s = llamac_sampler_create(&p, V);
    int all9 = 1;
    for (int i = 0; i < 100; i++) all9 &= llamac_sampler_sample(s, logits) == 9;
    CHECK(all9);
    logits[3] = NAN;
    all9 = 1;
    for (int i = 0; i < 100; i++) all9 &= llamac_sampler_sample(s, logits) == 9;
    CHECK(all9);
    llamac_sampler_free(s);
    CHECK(llamac_sampler_create(&p, 0) == NULL);
}

int main(void) {
    test_greedy();
    test_determinism();
    test_top_k_one_is_greedy();
    test_top_k_set();
    test_top_p_min_p();
    test_top_p_large_vocab();
    test_distribution();
    test_repeat_penalty();
    test_masked();
    return TEST_SUMMARY("test_sampler");
}
