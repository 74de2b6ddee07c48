/* Token sampler: repetition penalty, top-k, top-p, min-p, temperature and a
 * seeded draw, in the order of llama.cpp's default chain
 *
 *     penalties -> top_k -> top_p -> min_p -> temperature -> draw
 *
 * so top-p and min-p see the untempered distribution and temperature only
 * shapes the final draw. With temperature <= 0 the pick is the argmax after
 * the penalty (first index wins ties).
 *
 * Reproducibility: the PRNG is our own xoshiro256** seeded through
 * splitmix64, candidate ordering uses a total order (logit, then id), and
 * probabilities are summed in double, so the same seed and the same logits
 * give the same tokens on every run and every machine (a libm difference
 * in exp() could only matter if a uniform draw fell within ~1e-16 of a
 * bucket edge).
 *
 * All buffers are allocated at create; sampling allocates nothing. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "llamac.h"

typedef struct lc_candidate {
    llamac_token id;
    float logit;
} lc_candidate;

struct llamac_sampler {
    llamac_sampler_params params;
    int32_t n_vocab;
    lc_candidate *cand;     /* n_vocab working entries */
    uint8_t *penalized;     /* n_vocab flags: dedupes the history window */
    llamac_token *history;  /* ring of the last repeat_last_n accepted tokens */
    int32_t history_cap;
    int32_t history_len;
    int32_t history_head;   /* slot the next accepted token goes into */
    uint64_t rng[4];
};

/* ----------------------------------------------------------------- PRNG */

static uint64_t splitmix64_next(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t rotl64(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t xoshiro_next(uint64_t s[4]) {
    uint64_t result = rotl64(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl64(s[3], 45);
    return result;
}

/* Uniform in [0, 1) with 53 random bits. */
static double rng_uniform(uint64_t s[4]) {
    return (double)(xoshiro_next(s) >> 11) * (1.0 / 9007199254740992.0);
}

static void rng_seed(uint64_t s[4], uint64_t seed) {
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) s[i] = splitmix64_next(&x);
}

/* ------------------------------------------------------- parameters, life */

llamac_sampler_params llamac_sampler_default_params(void) {
    /* llama.cpp's defaults; the repetition penalty is off unless asked for. */
    llamac_sampler_params p = {
        .temperature = 0.8f,
        .top_k = 40,
        .top_p = 0.95f,
        .min_p = 0.05f,
        .repeat_penalty = 1.0f,
        .repeat_last_n = 64,
        .seed = 42,
    };
    return p;
}

llamac_sampler *llamac_sampler_create(const llamac_sampler_params *params, int32_t n_vocab) {
    if (n_vocab <= 0) return NULL;
    llamac_sampler *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->params = params ? *params : llamac_sampler_default_params();
    if (isnan(s->params.temperature)) s->params.temperature = 0.0f;
    s->n_vocab = n_vocab;
    s->history_cap = s->params.repeat_last_n > 0 ? s->params.repeat_last_n : 0;
    s->cand = malloc((size_t)n_vocab * sizeof *s->cand);
    s->penalized = calloc((size_t)n_vocab, 1);
    if (s->history_cap > 0) s->history = malloc((size_t)s->history_cap * sizeof *s->history);
    if (!s->cand || !s->penalized || (s->history_cap > 0 && !s->history)) {
        llamac_sampler_free(s);
        return NULL;
    }
    rng_seed(s->rng, s->params.seed);
    return s;
}

void llamac_sampler_free(llamac_sampler *s) {
    if (!s) return;
    free(s->cand);
    free(s->penalized);
    free(s->history);
    free(s);
}

void llamac_sampler_reset(llamac_sampler *s) {
    if (!s) return;
    s->history_len = 0;
    s->history_head = 0;
    rng_seed(s->rng, s->params.seed);
}

void llamac_sampler_accept(llamac_sampler *s, llamac_token tok) {
    if (!s || s->history_cap == 0 || tok < 0 || tok >= s->n_vocab) return;
    s->history[s->history_head] = tok;
    s->history_head = (s->history_head + 1) % s->history_cap;
    if (s->history_len < s->history_cap) s->history_len++;
}

/* ------------------------------------------------------------- the chain */

static bool penalty_active(const llamac_sampler *s) {
    float r = s->params.repeat_penalty;
    return s->history_len > 0 && r > 0.0f && r != 1.0f && !isnan(r);
}

/* Candidates in vocabulary order, NaN treated as -inf so it is never drawn. */
static void load_candidates(llamac_sampler *s, const float *logits) {
    for (int32_t i = 0; i < s->n_vocab; i++) {
        float l = logits[i];
        s->cand[i].id = i;
        s->cand[i].logit = isnan(l) ? -INFINITY : l;
    }
}

/* CTRL-style penalty, once per distinct token in the window: a positive
 * logit is divided by the penalty, anything else multiplied, so the token
 * always becomes less likely. Candidates are still in vocabulary order. */
static void apply_repeat_penalty(llamac_sampler *s) {
    float r = s->params.repeat_penalty;
    for (int32_t i = 0; i < s->history_len; i++) {
        llamac_token t = s->history[i];
        if (s->penalized[t]) continue;
        s->penalized[t] = 1;
        float *l = &s->cand[t].logit;
        *l = *l > 0.0f ? *l / r : *l * r;
    }
    for (int32_t i = 0; i < s->history_len; i++) s->penalized[s->history[i]] = 0;
}

/* Total order: higher logit first, then lower id, so every selection and
 * sort below has exactly one answer whatever the algorithm's pivots. */
static bool ranks_before(const lc_candidate *a, const lc_candidate *b) {
    if (a->logit != b->logit) return a->logit > b->logit;
    return a->id < b->id;
}

static int compare_candidates(const void *pa, const void *pb) {
    const lc_candidate *a = pa, *b = pb;
    if (ranks_before(a, b)) return -1;
    if (ranks_before(b, a)) return 1;
    return 0;
}

static void swap_candidates(lc_candidate *a, lc_candidate *b) {
    lc_candidate t = *a;
    *a = *b;
    *b = t;
}

/* Moves the k best candidates (under ranks_before) into c[0..k), in no
 * particular order: quickselect with a median-of-three pivot, O(n) on
 * average and without any allocation. */
static void select_top_k(lc_candidate *c, int32_t n, int32_t k) {
    int32_t lo = 0, hi = n - 1;
    while (lo < hi) {
        int32_t mid = lo + (hi - lo) / 2;
        if (ranks_before(&c[mid], &c[lo])) swap_candidates(&c[mid], &c[lo]);
        if (ranks_before(&c[hi], &c[lo])) swap_candidates(&c[hi], &c[lo]);
        if (ranks_before(&c[hi], &c[mid])) swap_candidates(&c[hi], &c[mid]);
        lc_candidate pivot = c[mid];
        int32_t i = lo, j = hi;
        while (i <= j) {
            while (ranks_before(&c[i], &pivot)) i++;
            while (ranks_before(&pivot, &c[j])) j--;
            if (i <= j) {
                swap_candidates(&c[i], &c[j]);
                i++;
                j--;
            }
        }
        /* c[lo..j] rank before or equal the pivot, c[i..hi] after or equal. */
        if (k - 1 <= j) hi = j;
        else if (k - 1 >= i) lo = i;
        else return;
    }
}

static float max_logit(const lc_candidate *c, int32_t n) {
    float m = -INFINITY;
    for (int32_t i = 0; i < n; i++)
        if (c[i].logit > m) m = c[i].logit;
    return m;
}

static int32_t argmax_candidate(const lc_candidate *c, int32_t n) {
    int32_t best = 0;
    for (int32_t i = 1; i < n; i++)
        if (ranks_before(&c[i], &c[best])) best = i;
    return best;
}

/* min-p keeps tokens whose probability is at least min_p times the top
 * one's, i.e. logit >= max + ln(min_p); the top token always stays. */
static int32_t filter_min_p(lc_candidate *c, int32_t n, float max, float min_p) {
    if (min_p > 1.0f) min_p = 1.0f;
    double threshold = (double)max + log((double)min_p);
    int32_t kept = 0;
    for (int32_t i = 0; i < n; i++)
        if ((double)c[i].logit >= threshold) c[kept++] = c[i];
    return kept;
}

/* top-p over probabilities normalized by `z` (the softmax sum of the set
 * top-k left, which may be larger than c[0..n) when min-p already ran):
 * keeps the smallest best-first prefix whose mass reaches top_p. */
static int32_t filter_top_p(lc_candidate *c, int32_t n, float max, double z, float top_p) {
    qsort(c, (size_t)n, sizeof *c, compare_candidates);
    double cum = 0.0;
    for (int32_t i = 0; i < n; i++) {
        cum += exp((double)c[i].logit - (double)max) / z;
        if (cum >= (double)top_p) return i + 1;
    }
    return n;
}

static double softmax_sum(const lc_candidate *c, int32_t n, float max, double inv_temp) {
    double z = 0.0;
    for (int32_t i = 0; i < n; i++) z += exp(((double)c[i].logit - (double)max) * inv_temp);
    return z;
}

/* Draws from softmax(logit / T) over c[0..n), walking in array order. */
static llamac_token draw(llamac_sampler *s, const lc_candidate *c, int32_t n, float max,
                         double temperature) {
    double inv_temp = 1.0 / temperature;
    double z = softmax_sum(c, n, max, inv_temp);
    if (!(z > 0.0) || isinf(z)) return c[argmax_candidate(c, n)].id;
    double target = rng_uniform(s->rng) * z;
    double cum = 0.0;
    for (int32_t i = 0; i < n; i++) {
        cum += exp(((double)c[i].logit - (double)max) * inv_temp);
        if (target < cum) return c[i].id;
    }
    return c[n - 1].id; /* rounding left target just past the last bucket */
}

llamac_token llamac_sampler_sample(llamac_sampler *s, const float *logits) {
    const llamac_sampler_params *p = &s->params;
    lc_candidate *c = s->cand;
    int32_t n = s->n_vocab;

    load_candidates(s, logits);
    if (penalty_active(s)) apply_repeat_penalty(s);
    if (p->temperature <= 0.0f) return c[argmax_candidate(c, n)].id;

    if (p->top_k > 0 && p->top_k < n) {
        select_top_k(c, n, p->top_k);
        n = p->top_k;
    }
    float max = max_logit(c, n);
    if (max == -INFINITY) return c[argmax_candidate(c, n)].id; /* everything masked */

    /* top-p and min-p both keep a best-first prefix and the top token, so
     * their intersection does not depend on the order they run in: min-p
     * first shrinks what top-p has to sort. top-p still normalizes over the
     * whole set top-k left, as it would have run first. */
    double z_top_k = (p->top_p < 1.0f) ? softmax_sum(c, n, max, 1.0) : 0.0;
    if (p->min_p > 0.0f) n = filter_min_p(c, n, max, p->min_p);
    if (p->top_p < 1.0f) n = filter_top_p(c, n, max, z_top_k, p->top_p);

    return draw(s, c, n, max, (double)p->temperature);
}
