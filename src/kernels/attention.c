/* Fused causal attention: the portable kernels and the threaded driver.
 *
 *   lc_attention_ref          one (token, query head) at a time, element by
 *                             element: the definition, for tests;
 *   lc_attention_item_scalar  one (token, KV head sub-group): each cached
 *                             row is widened once and serves every query
 *                             head of the group (the LLAMAC_ISA=scalar path);
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
        const int64_t n_pos = (int64_t)a->pos0 + r + 1;
        for (int h = 0; h < H; h++) {
            const float *q = a->q + ((int64_t)r * H + h) * D;
            const int64_t e0 = (int64_t)(h / group) * D;
            float max_score = -INFINITY, sum = 0.0f;
            for (int i = 0; i < D; i++) acc[i] = 0.0f;
            for (int64_t t = 0; t < n_pos; t++) {
                const uint8_t *krow = a->k + (size_t)t * a->row_size;
                const uint8_t *vrow = a->v + (size_t)t * a->row_size;
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

void lc_attention_item_scalar(const lc_attn_args *a, const lc_attn_item *it) {
    const int D = a->head_dim, H = a->n_head, G = it->n_heads;
    const int group = H / a->n_head_kv;
    const int64_t e0 = (int64_t)(it->h0 / group) * D;
    const int64_t n_pos = (int64_t)a->pos0 + it->token + 1;
    const float scale = 1.0f / sqrtf((float)D);
    const float *q = a->q + ((int64_t)it->token * H + it->h0) * D;
    float acc[LC_ATTN_SUBGROUP_MAX * LC_ATTN_HEAD_DIM_MAX];
    float kf[LC_ATTN_HEAD_DIM_MAX], vf[LC_ATTN_HEAD_DIM_MAX];
    float max_score[LC_ATTN_SUBGROUP_MAX], sum[LC_ATTN_SUBGROUP_MAX], p[LC_ATTN_SUBGROUP_MAX];

    for (int h = 0; h < G; h++) { max_score[h] = -INFINITY; sum[h] = 0.0f; }
    for (int i = 0; i < G * D; i++) acc[i] = 0.0f;

    for (int64_t t = 0; t < n_pos; t++) {
        widen_row(a->kv_type, a->k + (size_t)t * a->row_size, e0, D, kf);
        for (int h = 0; h < G; h++) {
            const float *qh = q + (int64_t)h * D;
            float *acc_h = acc + (int64_t)h * D;
            float s = 0.0f;
            for (int i = 0; i < D; i++) s += qh[i] * kf[i];
            s *= scale;
            if (s > max_score[h]) {
                const float shrink = expf(max_score[h] - s);
                sum[h] *= shrink;
                for (int i = 0; i < D; i++) acc_h[i] *= shrink;
                max_score[h] = s;
            }
            p[h] = expf(s - max_score[h]);
            sum[h] += p[h];
        }
        widen_row(a->kv_type, a->v + (size_t)t * a->row_size, e0, D, vf);
        for (int h = 0; h < G; h++) {
            float *acc_h = acc + (int64_t)h * D;
            for (int i = 0; i < D; i++) acc_h[i] += p[h] * vf[i];
        }
    }
    float *out = a->out + ((int64_t)it->token * H + it->h0) * D;
    for (int h = 0; h < G; h++) {
        const float inv = 1.0f / sum[h];
        for (int i = 0; i < D; i++) out[(int64_t)h * D + i] = acc[(int64_t)h * D + i] * inv;
    }
}

/* --------------------------------------------------------------- driver */

typedef void (*item_kernel)(const lc_attn_args *a, const lc_attn_item *it);

typedef struct attention_job {
    const lc_attn_args *a;
    item_kernel kernel;
    int group;               /* query heads per KV head */
    int n_sub;               /* sub-groups per KV head */
    int64_t items_per_token; /* n_head_kv * n_sub */
    int64_t n_items;
    atomic_int_fast64_t next_item;
} attention_job;

/* Item k, ordered so the latest tokens (the longest rows of the causal
 * triangle) are claimed first and the short ones fill in at the end. */
static lc_attn_item item_at(const attention_job *j, int64_t k) {
    const int64_t rem = k % j->items_per_token;
    const int g = (int)(rem / j->n_sub), s = (int)(rem % j->n_sub);
    const int first = j->group * s / j->n_sub, last = j->group * (s + 1) / j->n_sub;
    lc_attn_item it = {
        .token = j->a->n_tokens - 1 - (int32_t)(k / j->items_per_token),
        .h0 = g * j->group + first,
        .n_heads = last - first,
    };
    return it;
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

static item_kernel kernel_for(const lc_compute *c, const lc_attn_args *a) {
    const int isa = lc_isa_from_name(lc_compute_isa(c));
#if defined(__x86_64__)
    /* every x86 SIMD level this build selects includes AVX2+FMA+F16C */
    if (isa > LC_ISA_SCALAR && a->head_dim % 8 == 0) return lc_attention_item_avx2;
#else
    (void)isa;
    (void)a;
#endif
    return lc_attention_item_scalar;
}

void lc_attention(lc_compute *c, const lc_attn_args *a) {
    if (a->n_tokens <= 0) return;
    if (!args_supported(a)) {
        fill_nan(a->out, (int64_t)a->n_tokens * a->n_head * a->head_dim);
        return;
    }
    attention_job job = {
        .a = a,
        .kernel = kernel_for(c, a),
        .group = a->n_head / a->n_head_kv,
    };
    job.n_sub = (job.group + LC_ATTN_SUBGROUP_MAX - 1) / LC_ATTN_SUBGROUP_MAX;
    job.items_per_token = (int64_t)a->n_head_kv * job.n_sub;
    job.n_items = job.items_per_token * a->n_tokens;
    atomic_init(&job.next_item, 0);
    int64_t n_slots = lc_compute_n_threads(c);
    if (n_slots > job.n_items) n_slots = job.n_items;
    lc_parallel_for(c, n_slots, attention_worker, &job);
}
