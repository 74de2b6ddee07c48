/* Context creation, the KV cache and the public decode entry point. */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "kernels/attention.h"

#include "model/context.h"
#include "kernels/dispatch.h"
#include "quant/types.h"
#include "runtime/err.h"

#define LC_DEFAULT_CTX_CAP 4096

llamac_context_params llamac_context_default_params(void) {
    llamac_context_params p = {0};
    p.n_ctx = 0;
    p.n_batch = 512;
    p.n_threads = 0;
    p.kv_type = LLAMAC_KV_F16;
    return p;
}

static void *alloc_floats(int64_t count, bool *ok) {
    void *p = calloc((size_t)(count > 0 ? count : 1), sizeof(float));
    if (!p) *ok = false;
    return p;
}

static int alloc_scratch(llamac_context *ctx, llamac_error *err) {
    const lc_hparams *hp = &ctx->model->hp;
    const int64_t B = ctx->n_batch, E = hp->n_embd, D = hp->head_dim;
    const int64_t q_dim = (int64_t)hp->n_head * D, kv_dim = (int64_t)hp->n_head_kv * D;
    const int64_t wide = E > q_dim ? E : q_dim;
    lc_scratch *s = &ctx->s;
    bool ok = true;
    s->x = alloc_floats(B * E, &ok);
    s->xn = alloc_floats(B * wide, &ok);
    s->q = alloc_floats(B * q_dim, &ok);
    s->k = alloc_floats(B * kv_dim, &ok);
    s->v = alloc_floats(B * kv_dim, &ok);
    s->proj = alloc_floats(B * E, &ok);
    s->gate = alloc_floats(B * hp->n_ff, &ok);
    s->up = alloc_floats(B * hp->n_ff, &ok);
    s->rope_cos = alloc_floats(B * D / 2, &ok);
    s->rope_sin = alloc_floats(B * D / 2, &ok);
    ctx->logits_cap = 1;
    ctx->logits = alloc_floats(hp->n_vocab, &ok);
    if (!ok) return lc_fail(err, "out of memory allocating activations for a batch of %lld", (long long)B);
    return 0;
}

static void free_scratch(lc_scratch *s) {
    free(s->x); free(s->xn); free(s->q); free(s->k); free(s->v); free(s->proj);
    free(s->gate); free(s->up); free(s->rope_cos); free(s->rope_sin);
}

/* The KV cache is read end to end for every token: back it with huge pages
 * where the kernel offers them, because TLB misses dominate long contexts. */
static void *alloc_pages(size_t bytes) {
    const size_t huge = (size_t)2 << 20;
    size_t rounded = (bytes + huge - 1) / huge * huge;
    void *p = NULL;
    if (posix_memalign(&p, huge, rounded ? rounded : huge) != 0) return NULL;
    madvise(p, rounded, MADV_HUGEPAGE);
    return p;
}

static int alloc_kv(llamac_context *ctx, int kv_type, uint32_t n_ctx, llamac_error *err) {
    const lc_hparams *hp = &ctx->model->hp;
    lc_kv_cache *kv = &ctx->kv;
    if (kv_type != LLAMAC_KV_F32 && kv_type != LLAMAC_KV_F16 && kv_type != LLAMAC_KV_Q8_0)
        return lc_fail(err, "unsupported KV cache type %d (f16, f32 or q8_0)", kv_type);
    if (!lc_attention_supports(kv_type, hp->n_head, hp->n_head_kv, hp->head_dim))
        return lc_fail(err, "a %s KV cache needs rows of a multiple of 32 values; this model's rows have %d "
                       "(use f16 or f32)", lc_type_name(kv_type), hp->n_head_kv * hp->head_dim);
    kv->type = kv_type;
    kv->n_ctx = n_ctx;
    kv->row_elems = (int64_t)hp->n_head_kv * hp->head_dim;
    kv->row_size = lc_row_size(kv_type, kv->row_elems);
    const size_t bytes = (size_t)hp->n_layer * n_ctx * kv->row_size;
    kv->k = alloc_pages(bytes);
    kv->v = alloc_pages(bytes);
    if (!kv->k || !kv->v)
        return lc_fail(err, "out of memory: the KV cache for %u positions needs %.1f MiB", n_ctx,
                       2.0 * (double)bytes / 1048576.0);
    return 0;
}

llamac_context *llamac_context_create(llamac_model *model, const llamac_context_params *params,
                                      llamac_error *err) {
    llamac_context_params p = params ? *params : llamac_context_default_params();
    if (!model->layers) {
        lc_fail(err, "the model was loaded vocab-only and cannot run");
        return NULL;
    }
    llamac_context *ctx = calloc(1, sizeof *ctx);
    if (!ctx) { lc_fail(err, "out of memory"); return NULL; }
    ctx->model = model;
    const uint32_t train = (uint32_t)model->hp.n_ctx_train;
    uint32_t n_ctx = p.n_ctx ? p.n_ctx : (train < LC_DEFAULT_CTX_CAP ? train : LC_DEFAULT_CTX_CAP);
    if (n_ctx > train) n_ctx = train;
    ctx->n_batch = p.n_batch > 0 ? p.n_batch : 512;
    if ((uint32_t)ctx->n_batch > n_ctx) ctx->n_batch = (int32_t)n_ctx;
    ctx->n_threads = p.n_threads > 0 ? p.n_threads : llamac_physical_cores();
    const lc_hparams *hp = &model->hp;
    int64_t max_k = hp->n_embd;
    if (hp->n_ff > max_k) max_k = hp->n_ff;
    if ((int64_t)hp->n_head * hp->head_dim > max_k) max_k = (int64_t)hp->n_head * hp->head_dim;
    if (alloc_kv(ctx, p.kv_type, n_ctx, err) < 0 || alloc_scratch(ctx, err) < 0) goto fail;
    ctx->compute = lc_compute_create(ctx->n_threads, ctx->n_batch, max_k, err);
    if (!ctx->compute) goto fail;
    if (lc_compute_set_isa(ctx->compute, lc_isa_name((lc_isa)model->isa), err) < 0) goto fail;
    return ctx;
fail:
    llamac_context_free(ctx);
    return NULL;
}

void llamac_context_free(llamac_context *ctx) {
    if (!ctx) return;
    lc_compute_free(ctx->compute);
    free_scratch(&ctx->s);
    free(ctx->kv.k);
    free(ctx->kv.v);
    free(ctx->logits);
    free(ctx);
}

uint32_t llamac_n_ctx(const llamac_context *ctx) { return ctx->kv.n_ctx; }
const char *llamac_context_kernels(const llamac_context *ctx) { return lc_compute_isa(ctx->compute); }
uint32_t llamac_n_past(const llamac_context *ctx) { return ctx->n_past; }

void llamac_kv_truncate(llamac_context *ctx, uint32_t n_keep) {
    if (n_keep < ctx->n_past) ctx->n_past = n_keep;
}

static int ensure_logit_rows(llamac_context *ctx, int64_t rows, llamac_error *err) {
    if (rows <= ctx->logits_cap) return 0;
    float *p = realloc(ctx->logits, (size_t)rows * (size_t)ctx->model->hp.n_vocab * sizeof(float));
    if (!p) return lc_fail(err, "out of memory for the logits of %lld tokens", (long long)rows);
    ctx->logits = p;
    ctx->logits_cap = rows;
    return 0;
}

int llamac_decode(llamac_context *ctx, const llamac_token *tokens, int32_t n, bool all_logits,
                  llamac_error *err) {
    const int32_t n_vocab = ctx->model->hp.n_vocab;
    if (n <= 0) return lc_fail(err, "decode: no tokens given");
    if ((uint64_t)ctx->n_past + (uint64_t)n > ctx->kv.n_ctx)
        return lc_fail(err, "decode: %u cached + %d new tokens exceed the context of %u tokens",
                       ctx->n_past, n, ctx->kv.n_ctx);
    for (int32_t i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= n_vocab)
            return lc_fail(err, "decode: token %d at index %d is outside the vocabulary [0, %d)",
                           tokens[i], i, n_vocab);
    if (ensure_logit_rows(ctx, all_logits ? n : 1, err) < 0) return -1;

    ctx->last_n = n;
    ctx->logits_first = all_logits ? 0 : n - 1;
    ctx->logits_rows = all_logits ? n : 1;
    for (int32_t done = 0; done < n;) {
        const int32_t chunk = n - done < ctx->n_batch ? n - done : ctx->n_batch;
        /* rows of this chunk whose logits are wanted */
        int32_t first = all_logits ? 0 : (done + chunk == n ? chunk - 1 : chunk);
        /* a chunk with no wanted row has no output row: its offset from
         * logits_first would be negative */
        float *out = first < chunk ? ctx->logits + (size_t)(done + first - ctx->logits_first) * (size_t)n_vocab
                                   : NULL;
        lc_forward(ctx, tokens + done, chunk, first, out);
        done += chunk;
    }
    return 0;
}

const float *llamac_logits(const llamac_context *ctx, int32_t i) {
    if (ctx->last_n == 0) return NULL;
    if (i < 0) i = ctx->last_n - 1;
    if (i < ctx->logits_first || i >= ctx->logits_first + ctx->logits_rows) return NULL;
    return ctx->logits + (size_t)(i - ctx->logits_first) * (size_t)ctx->model->hp.n_vocab;
}
