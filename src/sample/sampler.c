/* Token sampler: repetition penalty, top-k, top-p, min-p, temperature and a
 * seeded draw, in the order of llama.cpp's default chain
 *
 *     penalties -> top_k -> top_p -> min_p -> temperature -> draw
 *
 * so top-p and min-p see the untempered distribution and temperature only
 * shapes the final draw. With temperature <= 0 the pick is the argmax after
 * the penalty (first index wins ties).
 *
 * Cost on a 128k vocabulary: nothing is fully sorted. top-k is one pass
 * with a k-entry heap; top-p without top-k finds its cut from a histogram
 * of the probability mass and sorts only the tokens of the bucket where the
 * cut falls; min-p is a floor on the logit.
 *
 * Reproducibility: the PRNG is our own xoshiro256** seeded through
 * splitmix64, candidate ordering uses a total order (logit, then id), and
 * probabilities are summed in double in a fixed order, so the same seed and
 * the same logits give the same tokens on every run and every machine (a
 * libm difference in exp() could only matter if a uniform draw fell within
 * ~1e-16 of a bucket edge).
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
    double *weight;         /* n_vocab unnormalized probabilities for the draw */
    float *penalized_logits;/* n_vocab: a copy of the logits with the penalty applied */
    uint8_t *penalized;     /* n_vocab flags: dedupes the history window */
    llamac_token *history;  /* ring of the last repeat_last_n accepted tokens */
    int32_t history_cap;
    int32_t history_len;
    int32_t history_head;   /* slot the next accepted token goes into */
    uint64_t rng[4];
    llamac_grammar *grammar; /* borrowed; NULL: unconstrained */
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
    s->weight = malloc((size_t)n_vocab * sizeof *s->weight);
    s->penalized_logits = malloc((size_t)n_vocab * sizeof *s->penalized_logits);
    s->penalized = calloc((size_t)n_vocab, 1);
    if (s->history_cap > 0) s->history = malloc((size_t)s->history_cap * sizeof *s->history);
    if (!s->cand || !s->weight || !s->penalized_logits || !s->penalized ||
        (s->history_cap > 0 && !s->history)) {
        llamac_sampler_free(s);
        return NULL;
    }
    rng_seed(s->rng, s->params.seed);
    return s;
}

void llamac_sampler_free(llamac_sampler *s) {
    if (!s) return;
    free(s->cand);
    free(s->weight);
    free(s->penalized_logits);
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

/* The logits with the CTRL-style penalty applied once per distinct token in
 * the window: a positive logit is divided by the penalty, anything else
 * multiplied, so the token always becomes less likely (for a penalty > 1). */
static const float *apply_repeat_penalty(llamac_sampler *s, const float *logits) {
    float r = s->params.repeat_penalty;
    float *out = s->penalized_logits;
    memcpy(out, logits, (size_t)s->n_vocab * sizeof *out);
    for (int32_t i = 0; i < s->history_len; i++) {
        llamac_token t = s->history[i];
        if (s->penalized[t]) continue;
        s->penalized[t] = 1;
        out[t] = out[t] > 0.0f ? out[t] / r : out[t] * r;
    }
    for (int32_t i = 0; i < s->history_len; i++) s->penalized[s->history[i]] = 0;
    return out;
}

/* First index of the largest logit (NaN never wins); 0 when every logit is
 * -inf or NaN. */
static int32_t argmax_logit(const float *l, int32_t n) {
    int32_t best = 0;
    float best_v = -INFINITY;
    for (int32_t i = 0; i < n; i++) {
        if (l[i] > best_v) {
            best_v = l[i];
            best = i;
        }
    }
    return best;
}

/* Total order on candidates: higher logit first, then lower id. Every
 * selection and sort below uses it, so each has exactly one answer. */
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

/* Restores the heap property below slot i of a heap whose root is the
 * candidate that ranks last. */
static void sift_down(lc_candidate *h, int32_t n, int32_t i) {
    for (;;) {
        int32_t worst = i, l = 2 * i + 1, r = l + 1;
        if (l < n && ranks_before(&h[worst], &h[l])) worst = l;
        if (r < n && ranks_before(&h[worst], &h[r])) worst = r;
        if (worst == i) return;
        lc_candidate t = h[i];
        h[i] = h[worst];
        h[worst] = t;
        i = worst;
    }
}

/* The `limit` best tokens (NaN never counts), sorted best-first, into
 * s->cand; returns how many. One pass with a heap of size limit: scanning
 * ids in increasing order, a token displaces the current worst only when
 * its logit is strictly higher (on a tie the earlier id ranks first). */
static int32_t gather_best(llamac_sampler *s, const float *l, int32_t limit) {
    lc_candidate *h = s->cand;
    int32_t n = 0;
    for (int32_t i = 0; i < s->n_vocab; i++) {
        float v = l[i];
        if (isnan(v)) continue;
        if (n < limit) {
            h[n] = (lc_candidate){i, v};
            /* sift up */
            for (int32_t c = n++; c > 0 && ranks_before(&h[(c - 1) / 2], &h[c]); c = (c - 1) / 2) {
                lc_candidate t = h[c];
                h[c] = h[(c - 1) / 2];
                h[(c - 1) / 2] = t;
            }
        } else if (v > h[0].logit) {
            h[0] = (lc_candidate){i, v};
            sift_down(h, n, 0);
        }
    }
    qsort(h, (size_t)n, sizeof *h, compare_candidates);
    return n;
}

/* Every token with logit >= min_logit, in vocabulary order. */
static int32_t gather_all(llamac_sampler *s, const float *l, float min_logit) {
    int32_t n = 0;
    for (int32_t i = 0; i < s->n_vocab; i++)
        if (l[i] >= min_logit) s->cand[n++] = (lc_candidate){i, l[i]};
    return n;
}

static double candidate_exp_sum(const lc_candidate *c, int32_t n, float max) {
    double z = 0.0;
    for (int32_t i = 0; i < n; i++) z += exp((double)c[i].logit - (double)max);
    return z;
}

/* Length of the shortest best-first prefix of c whose probability mass,
 * normalized by z, reaches top_p; -1 when all n together stay below it. */
static int32_t top_p_prefix(const lc_candidate *c, int32_t n, float max, double z, float top_p) {
    double cum = 0.0;
    for (int32_t i = 0; i < n; i++) {
        cum += exp((double)c[i].logit - (double)max) / z;
        if (cum >= (double)top_p) return i + 1;
    }
    return -1;
}

/* Draws from softmax(logit / T) over s->cand[0..n), walking in array order. */
static llamac_token draw(llamac_sampler *s, int32_t n, float max, double temperature) {
    const lc_candidate *c = s->cand;
    double inv_temp = 1.0 / temperature, z = 0.0;
    for (int32_t i = 0; i < n; i++) {
        s->weight[i] = exp(((double)c[i].logit - (double)max) * inv_temp);
        z += s->weight[i];
    }
    if (!(z > 0.0) || isinf(z)) return c[0].id; /* cannot happen with the max present */
    double target = rng_uniform(s->rng) * z, cum = 0.0;
    for (int32_t i = 0; i < n; i++) {
        cum += s->weight[i];
        if (target < cum) return c[i].id;
    }
    return c[n - 1].id; /* rounding left target just past the last bucket */
}

/* top-p (and min-p) over the whole vocabulary without sorting it. The
 * kept tokens are a best-first prefix, so only where it ends matters: a
 * histogram of the probability mass by distance below the top logit finds
 * the bucket where the cumulative mass reaches top_p; the tokens of the
 * buckets before it are all kept (in vocabulary order), and only that one
 * bucket is sorted to find the exact cut. */
#define TOP_P_BUCKETS 1024
#define TOP_P_BUCKETS_PER_NAT 32.0f

static int32_t top_p_bucket(float max, float v) {
    float d = (max - v) * TOP_P_BUCKETS_PER_NAT;
    return d < (float)(TOP_P_BUCKETS - 1) ? (int32_t)d : TOP_P_BUCKETS - 1;
}

static int32_t gather_top_p(llamac_sampler *s, const float *l, float max, float min_logit,
                            float top_p) {
    double mass[TOP_P_BUCKETS] = {0};
    double z = 0.0;
    for (int32_t i = 0; i < s->n_vocab; i++) {
        if (isnan(l[i])) continue;
        double e = exp((double)l[i] - (double)max);
        z += e;
        mass[top_p_bucket(max, l[i])] += e;
    }
    double target = (double)top_p * z, before = 0.0;
    int32_t edge = TOP_P_BUCKETS - 1;
    for (int32_t b = 0; b < TOP_P_BUCKETS - 1; b++) {
        if (before + mass[b] >= target) {
            edge = b;
            break;
        }
        before += mass[b];
    }
    /* Buckets before the edge, then the edge bucket sorted best-first. */
    int32_t n = 0;
    for (int32_t i = 0; i < s->n_vocab; i++)
        if (l[i] >= min_logit && top_p_bucket(max, l[i]) < edge) s->cand[n++] = (lc_candidate){i, l[i]};
    int32_t first_edge = n;
    for (int32_t i = 0; i < s->n_vocab; i++)
        if (l[i] >= min_logit && top_p_bucket(max, l[i]) == edge) s->cand[n++] = (lc_candidate){i, l[i]};
    qsort(s->cand + first_edge, (size_t)(n - first_edge), sizeof *s->cand, compare_candidates);
    double cum = before;
    for (int32_t i = first_edge; i < n; i++) {
        cum += exp((double)s->cand[i].logit - (double)max);
        if (cum >= target) return i + 1;
    }
    return n;
}

/* The chain on logits that already carry the penalty. */
static llamac_token sample_chain(llamac_sampler *s, const float *l) {
    const llamac_sampler_params *p = &s->params;
    int32_t best = argmax_logit(l, s->n_vocab);
    float max = l[best];
    if (p->temperature <= 0.0f || max == -INFINITY) return best;

    /* top-p and min-p both keep a best-first prefix that includes the top
     * token, so applying them together gives the same set as one after the
     * other; min-p becomes a floor on the logit (p >= min_p * p_max). top-p
     * normalizes over what top-k left, as it runs after it. */
    bool use_top_k = p->top_k > 0 && p->top_k < s->n_vocab;
    bool use_top_p = p->top_p < 1.0f;
    float min_logit = -INFINITY;
    if (p->min_p > 0.0f) min_logit = (float)((double)max + log(p->min_p < 1.0f ? (double)p->min_p : 1.0));
    if (min_logit > max) min_logit = max; /* rounding must not drop the top token */

    int32_t n;
    if (use_top_k) {
        n = gather_best(s, l, p->top_k);
        double z = use_top_p ? candidate_exp_sum(s->cand, n, max) : 0.0;
        int32_t kept = n;
        while (kept > 1 && !(s->cand[kept - 1].logit >= min_logit)) kept--;
        n = kept;
        if (use_top_p) {
            int32_t keep = top_p_prefix(s->cand, n, max, z, p->top_p);
            if (keep > 0) n = keep;
        }
    } else if (use_top_p) {
        n = gather_top_p(s, l, max, min_logit, p->top_p);
    } else {
        n = gather_all(s, l, min_logit);
    }
    return draw(s, n, max, (double)p->temperature);
}

/* ------------------------------------------------------------- grammar */

void llamac_sampler_set_grammar(llamac_sampler *s, llamac_grammar *g) {
    if (s) s->grammar = g;
}

static bool mask_has(const uint64_t *mask, llamac_token t) { return (mask[t >> 6] >> (t & 63)) & 1; }

/* Sampling under a grammar: the token the chain picks is kept when the
 * grammar allows it (the common case with a model that follows the format:
 * a check of a few bytes). Otherwise every refused token's logit becomes
 * -inf and the chain runs again. Keeping an allowed first pick and
 * redrawing from the masked logits after a refusal draws each allowed
 * token with probability p(t) + (1 - P_allowed) p(t) / P_allowed =
 * p(t) / P_allowed, the constrained distribution, when no top-k/top-p/
 * min-p cut is active. */
static llamac_token sample_with_grammar(llamac_sampler *s, const float *l) {
    llamac_token tok = sample_chain(s, l);
    if (llamac_grammar_allows(s->grammar, tok)) return tok;
    const uint64_t *mask = llamac_grammar_allowed(s->grammar);
    if (!mask) return -1;
    float *masked = s->penalized_logits;
    if (l != masked) memcpy(masked, l, (size_t)s->n_vocab * sizeof *masked);
    llamac_token first_allowed = -1;
    for (int32_t i = 0; i < s->n_vocab; i++) {
        if (!mask_has(mask, i)) masked[i] = -INFINITY;
        else if (first_allowed < 0) first_allowed = i;
    }
    if (first_allowed < 0) return -1;
    tok = sample_chain(s, masked);
    /* every allowed logit -inf or NaN: the chain's fallback may be refused */
    return mask_has(mask, tok) ? tok : first_allowed;
}

llamac_token llamac_sampler_sample(llamac_sampler *s, const float *logits) {
    const float *l = penalty_active(s) ? apply_repeat_penalty(s, logits) : logits;
    return s->grammar ? sample_with_grammar(s, l) : sample_chain(s, l);
}
