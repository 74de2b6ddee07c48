/* Fused causal attention: the portable kernels and the threaded driver.
 *
 *   lc_attention_ref          one (token, query head) at a time, element by
 *                             element: the definition, for tests;
 *   lc_attention_item_scalar  one token and a run of head units (attention.h):
 *                             each KV head slice of a cached row is widened
 *                             once and serves all its query heads (the
 *                             LLAMAC_ISA=scalar path);
 *   lc_attention              claims items on the thread pool and runs the
 *                             compute context's ISA kernel on each.
 * Formula: formats.md section 9 step 5. */
#include "kernels/attention.h"

#include <math.h>
#include <stdatomic.h>

#include "kernels/dispatch.h"
#include "quant/types.h"

bool lc_attention_supports(int kv_type, int n_head, int n_head_kv, int head_dim) {
    if (head_dim < 1 || head_dim > LC_ATTN_HEAD_DIM_MAX) return false;
    if (n_head_kv < 1 || n_head < n_head_kv || n_head % n_head_kv != 0) return false;
    switch (kv_type) {
    case LC_TYPE_F32:
    case LC_TYPE_F16:
        return true;
    case LC_TYPE_Q8_0:
        return ((int64_t)n_head_kv * head_dim) % QK8_0 == 0;
    default:
        return false;
    }
}

/* Element e of a cached row, whatever its type (supported types only). */
static float row_elem(int type, const uint8_t *row, int64_t e) {
    switch (type) {
    case LC_TYPE_F32:
        return ((const float *)row)[e];
    case LC_TYPE_F16:
        return lc_f16_to_f32(((const lc_f16 *)row)[e]);
    default: {
        const block_q8_0 *b = (const block_q8_0 *)row + e / QK8_0;
        return lc_f16_to_f32(b->d) * (float)b->qs[e % QK8_0];
    }
    }
}

/* Elements [e0, e0+n) of a cached row as floats. A Q8_0 block scale is
 * converted once per block, not once per element. */
static void widen_row(int type, const uint8_t *row, int64_t e0, int n, float *dst) {
    if (type == LC_TYPE_F32) {
        const float *src = (const float *)row + e0;
        for (int i = 0; i < n; i++) dst[i] = src[i];
    } else if (type == LC_TYPE_F16) {
        const lc_f16 *src = (const lc_f16 *)row + e0;
        for (int i = 0; i < n; i++) dst[i] = lc_f16_to_f32(src[i]);
    } else {
        const block_q8_0 *blocks = (const block_q8_0 *)row;
        for (int i = 0; i < n;) {
            const int64_t e = e0 + i;
            const block_q8_0 *b = blocks + e / QK8_0;
            const float d = lc_f16_to_f32(b->d);
            for (int j = (int)(e % QK8_0); j < QK8_0 && i < n; j++, i++) dst[i] = d * (float)b->qs[j];
        }
    }
}

static void fill_nan(float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) x[i] = NAN;
}

static bool args_supported(const lc_attn_args *a) {
    return lc_attention_supports(a->kv_type, a->n_head, a->n_head_kv, a->head_dim);
}

/* ------------------------------------------------------------ reference */

void lc_attention_ref(const lc_attn_args *a) {
    const int D = a->head_dim, H = a->n_head;
    if (a->n_tokens <= 0) return;
    if (!args_supported(a)) { fill_nan(a->out, (int64_t)a->n_tokens * H * D); return; }
    const int group = H / a->n_head_kv;
    const float scale = 1.0f / sqrtf((float)D);
    float acc[LC_ATTN_HEAD_DIM_MAX];

    for (int32_t r = 0; r < a->n_tokens; r++) {
        const int64_t n_pos = lc_attn_n_seen(a, r);
        const int32_t *cells = lc_attn_cells(a, r);
        for (int h = 0; h < H; h++) {
            const float *q = a->q + ((int64_t)r * H + h) * D;
            const int64_t e0 = (int64_t)(h / group) * D;
            float max_score = -INFINITY, sum = 0.0f;
            for (int i = 0; i < D; i++) acc[i] = 0.0f;
            for (int64_t t = 0; t < n_pos; t++) {
                const uint8_t *krow = a->k + lc_attn_row(cells, t, a->row_size);
                const uint8_t *vrow = a->v + lc_attn_row(cells, t, a->row_size);
                float s = 0.0f;
                for (int i = 0; i < D; i++) s += q[i] * row_elem(a->kv_type, krow, e0 + i);
                s *= scale;
                if (s > max_score) {
                    const float shrink = expf(max_score - s);
                    sum *= shrink;
                    for (int i = 0; i < D; i++) acc[i] *= shrink;
                    max_score = s;
                }
                const float p = expf(s - max_score);
                sum += p;
                for (int i = 0; i < D; i++) acc[i] += p * row_elem(a->kv_type, vrow, e0 + i);
            }
            float *out = a->out + ((int64_t)r * H + h) * D;
            for (int i = 0; i < D; i++) out[i] = acc[i] / sum;
        }
    }
}

/* ----------------------------------------------------- scalar item kernel */

/* Online softmax step for one head: folds score s in, returning the weight
 * of the new row; the accumulator is rescaled when the max grows. */
static float online_step(float s, float *max_score, float *sum, float *acc, int D) {
    if (s > *max_score) {
        const float shrink = expf(*max_score - s);
        *sum *= shrink;
        for (int i = 0; i < D; i++) acc[i] *= shrink;
        *max_score = s;
    }
    const float p = expf(s - *max_score);
    *sum += p;
    return p;
}

void lc_attention_item_scalar(const lc_attn_args *a, const lc_attn_item *it) {
    enum { HEADS_MAX = LC_ATTN_UNITS_MAX * LC_ATTN_SUBGROUP_MAX };
    const int D = a->head_dim, H = a->n_head, W = lc_attn_unit_width(a);
    const int64_t n_pos = lc_attn_n_seen(a, it->token);
    const int32_t *cells = lc_attn_cells(a, it->token);
    const float scale = 1.0f / sqrtf((float)D);
    const float *q = a->q + (int64_t)it->token * H * D;
    lc_attn_unit units[LC_ATTN_UNITS_MAX];
    float acc[LC_ATTN_ITEM_FLOATS];   /* unit j, head h at (j*W + h)*D */
    float kf[LC_ATTN_HEAD_DIM_MAX], vf[LC_ATTN_HEAD_DIM_MAX];
    float max_score[HEADS_MAX], sum[HEADS_MAX], p[HEADS_MAX];

    for (int j = 0; j < it->n_units; j++) units[j] = lc_attn_unit_at(a, it->unit0 + j);
    for (int x = 0; x < it->n_units * W; x++) { max_score[x] = -INFINITY; sum[x] = 0.0f; }
    for (int64_t i = 0; i < (int64_t)it->n_units * W * D; i++) acc[i] = 0.0f;

    for (int64_t t = 0; t < n_pos; t++) {
        const size_t row = lc_attn_row(cells, t, a->row_size);
        const uint8_t *krow = a->k + row, *vrow = a->v + row;
        int widened = -1; /* consecutive units share a KV head: widen its slice once */
        for (int j = 0; j < it->n_units; j++) {
            const lc_attn_unit *u = &units[j];
            if (u->kv_head != widened) widen_row(a->kv_type, krow, (int64_t)u->kv_head * D, D, kf);
            widened = u->kv_head;
            for (int h = 0; h < u->n_heads; h++) {
                const float *qh = q + (int64_t)(u->h0 + h) * D;
                float s = 0.0f;
                for (int i = 0; i < D; i++) s += qh[i] * kf[i];
                const int x = j * W + h;
                p[x] = online_step(s * scale, &max_score[x], &sum[x], acc + (int64_t)x * D, D);
            }
        }
        widened = -1;
        for (int j = 0; j < it->n_units; j++) {
            const lc_attn_unit *u = &units[j];
            if (u->kv_head != widened) widen_row(a->kv_type, vrow, (int64_t)u->kv_head * D, D, vf);
            widened = u->kv_head;
            for (int h = 0; h < u->n_heads; h++) {
                const int x = j * W + h;
                float *acc_x = acc + (int64_t)x * D;
                for (int i = 0; i < D; i++) acc_x[i] += p[x] * vf[i];
            }
        }
    }
    for (int j = 0; j < it->n_units; j++)
        for (int h = 0; h < units[j].n_heads; h++) {
            const int x = j * W + h;
            const float inv = 1.0f / sum[x];
            float *out = a->out + ((int64_t)it->token * H + units[j].h0 + h) * D;
            for (int i = 0; i < D; i++) out[i] = acc[(int64_t)x * D + i] * inv;
        }
}

/* --------------------------------------------------------------- driver */

typedef void (*item_kernel)(const lc_attn_args *a, const lc_attn_item *it);

typedef struct attention_job {
    const lc_attn_args *a;
    item_kernel kernel;
    int units_per_token;
    int runs_per_token;      /* items per token, each a run of units */
    int64_t n_items;
    atomic_int_fast64_t next_item;
} attention_job;

/* Item k, ordered so the latest tokens (the longest rows of the causal
 * triangle) are claimed first and the short ones fill in at the end. */
static lc_attn_item item_at(const attention_job *j, int64_t k) {
    const int run = (int)(k % j->runs_per_token);
    const int first = j->units_per_token * run / j->runs_per_token;
    const int last = j->units_per_token * (run + 1) / j->runs_per_token;
    lc_attn_item it = {
        .token = j->a->n_tokens - 1 - (int32_t)(k / j->runs_per_token),
        .unit0 = first,
        .n_units = last - first,
    };
    return it;
}

/* Runs per token: as few as the stack bounds allow (each run reads the
 * cache once), but enough that every thread has work when there are fewer
 * tokens than threads (decode). */
static int runs_per_token(const lc_attn_args *a, int units_per_token, int n_threads) {
    int max_units = LC_ATTN_ITEM_FLOATS / (lc_attn_unit_width(a) * a->head_dim);
    if (max_units > LC_ATTN_UNITS_MAX) max_units = LC_ATTN_UNITS_MAX;
    const int fewest = (units_per_token + max_units - 1) / max_units;
    int wanted = (n_threads + a->n_tokens - 1) / a->n_tokens;
    if (wanted > units_per_token) wanted = units_per_token;
    return wanted > fewest ? wanted : fewest;
}

/* Each pool slot claims items until none are left, so a preempted thread
 * on a shared machine simply does fewer. */
static void attention_worker(void *arg, int64_t begin, int64_t end, int thread) {
    (void)begin;
    (void)end;
    (void)thread;
    attention_job *j = arg;
    for (;;) {
        const int64_t k = atomic_fetch_add_explicit(&j->next_item, 1, memory_order_relaxed);
        if (k >= j->n_items) break;
        const lc_attn_item it = item_at(j, k);
        j->kernel(j->a, &it);
    }
}

/* Whether the AVX2 kernels (items and tiles) serve this context and shape:
 * every x86 SIMD level this build selects includes AVX2+FMA+F16C, and the
 * kernels walk the head dimension 8 floats at a time. */
#if defined(__x86_64__)
static bool avx2_applies(const lc_compute *c, const lc_attn_args *a) {
    return lc_isa_from_name(lc_compute_isa(c)) > LC_ISA_SCALAR && a->head_dim % 8 == 0;
}
#endif

static item_kernel kernel_for(const lc_compute *c, const lc_attn_args *a) {
#if defined(__x86_64__)
    if (avx2_applies(c, a)) return lc_attention_item_avx2;
#else
    (void)c;
    (void)a;
#endif
    return lc_attention_item_scalar;
}

/* ---------------------------------------------------------------- tiles */

typedef void (*tile_kernel)(const lc_attn_args *a, const lc_attn_tile *tile);

/* A run of consecutive tokens that read the same cell list. */
typedef struct token_run {
    int32_t token0, n_tokens;
    int64_t tiles_before;    /* token tiles of the runs before this one */
} token_run;

typedef struct tile_job {
    const lc_attn_args *a;
    tile_kernel kernel;
    int n_units;
    int tokens_per_tile;
    const token_run *runs;
    int n_runs;
    int64_t n_tiles;
    atomic_int_fast64_t next_tile;
} tile_job;

/* Splits the call's tokens into runs that share a cell list; returns their
 * count, or -1 when there are more than `max`. Without cell lists every
 * token reads the same rows: one run. */
static int find_runs(const lc_attn_args *a, token_run *runs, int max) {
    int n = 0;
    for (int32_t t = 0; t < a->n_tokens; t++) {
        if (n > 0 && lc_attn_cells(a, t) == lc_attn_cells(a, runs[n - 1].token0)) {
            runs[n - 1].n_tokens++;
            continue;
        }
        if (n == max) return -1;
        runs[n++] = (token_run){.token0 = t, .n_tokens = 1};
    }
    return n;
}

/* Tile k: the runs in order; within one, token tiles from the last
 * (longest causal rows) back to the first, which holds the remainder, and
 * within one token tile, unit by unit. */
static lc_attn_tile tile_at(const tile_job *j, int64_t k) {
    const int64_t token_tile = k / j->n_units;
    int r = 0;
    while (r + 1 < j->n_runs && j->runs[r + 1].tiles_before <= token_tile) r++;
    const token_run *run = &j->runs[r];
    const int32_t from_end = (int32_t)(token_tile - run->tiles_before);
    const int32_t end = run->n_tokens - from_end * j->tokens_per_tile;
    const int32_t begin = end > j->tokens_per_tile ? end - j->tokens_per_tile : 0;
    lc_attn_tile t = {.token0 = run->token0 + begin, .n_tokens = end - begin, .unit = (int)(k % j->n_units)};
    return t;
}

static void tile_worker(void *arg, int64_t begin, int64_t end, int thread) {
    (void)begin;
    (void)end;
    (void)thread;
    tile_job *j = arg;
    for (;;) {
        const int64_t k = atomic_fetch_add_explicit(&j->next_tile, 1, memory_order_relaxed);
        if (k >= j->n_tiles) break;
        const lc_attn_tile t = tile_at(j, k);
        j->kernel(j->a, &t);
    }
}

/* The tile kernel for this context and shape, or NULL: tiles pay off from
 * two query tokens of one run up (decode keeps the per-token items, which
 * split one token's heads over the threads). */
static tile_kernel tile_kernel_for(const lc_compute *c, const lc_attn_args *a, const token_run *runs,
                                   int n_runs) {
    bool several = false;
    for (int r = 0; r < n_runs; r++) several |= runs[r].n_tokens >= 2;
    if (!several) return NULL;
#if defined(__x86_64__)
    if (avx2_applies(c, a) && a->head_dim <= LC_ATTN_TILE_DIM_MAX) return lc_attention_tile_avx2;
#else
    (void)c;
#endif
    return NULL;
}

static void run_tiles(lc_compute *c, const lc_attn_args *a, tile_kernel kernel, token_run *runs, int n_runs) {
    tile_job job = {
        .a = a,
        .kernel = kernel,
        .n_units = a->n_head_kv * lc_attn_units_per_kv_head(a),
        .tokens_per_tile = lc_attn_tile_tokens(a),
        .runs = runs,
        .n_runs = n_runs,
    };
    int64_t token_tiles = 0;
    for (int r = 0; r < n_runs; r++) {
        runs[r].tiles_before = token_tiles;
        token_tiles += (runs[r].n_tokens + job.tokens_per_tile - 1) / job.tokens_per_tile;
    }
    job.n_tiles = token_tiles * job.n_units;
    atomic_init(&job.next_tile, 0);
    const int n_threads = lc_compute_n_threads(c);
    lc_parallel_for(c, n_threads < job.n_tiles ? n_threads : job.n_tiles, tile_worker, &job);
}

/* --------------------------------------------------------------- entry */

void lc_attention(lc_compute *c, const lc_attn_args *a) {
    if (a->n_tokens <= 0) return;
    if (!args_supported(a)) {
        fill_nan(a->out, (int64_t)a->n_tokens * a->n_head * a->head_dim);
        return;
    }
    token_run runs[LC_ATTN_RUNS_MAX];
    const int n_runs = find_runs(a, runs, LC_ATTN_RUNS_MAX);
    const tile_kernel tiles = n_runs > 0 ? tile_kernel_for(c, a, runs, n_runs) : NULL;
    if (tiles) {
        run_tiles(c, a, tiles, runs, n_runs);
        return;
    }
    const int n_threads = lc_compute_n_threads(c);
    attention_job job = {
        .a = a,
        .kernel = kernel_for(c, a),
        .units_per_token = a->n_head_kv * lc_attn_units_per_kv_head(a),
    };
    job.runs_per_token = runs_per_token(a, job.units_per_token, n_threads);
    job.n_items = (int64_t)job.runs_per_token * a->n_tokens;
    atomic_init(&job.next_item, 0);
    lc_parallel_for(c, n_threads < job.n_items ? n_threads : job.n_items, attention_worker, &job);
}
