/* Context creation: the KV cache and its cells, activations, the work
 * space of decode calls (model/batch.c) and the compute backend. */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "kernels/attention.h"

#include "model/context.h"
#include "model/kv_cells.h"
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
    p.n_seq_max = 1;
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

/* The rows of one forward call and the decode call's per-sequence lists. */
static int alloc_decode_scratch(llamac_context *ctx, llamac_error *err) {
    const size_t B = (size_t)ctx->n_batch;
    lc_ubatch *ub = &ctx->ub;
    lc_decode_scratch *d = &ctx->d;
    ub->tokens = malloc(B * sizeof *ub->tokens);
    ub->pos = malloc(B * sizeof *ub->pos);
    ub->cell = malloc(B * sizeof *ub->cell);
    ub->attn_cells = malloc(B * sizeof *ub->attn_cells);
    ub->attn_n_seen = malloc(B * sizeof *ub->attn_n_seen);
    ub->out_rows = malloc(B * sizeof *ub->out_rows);
    d->row_entry = malloc(B * sizeof *d->row_entry);
    if (!ub->tokens || !ub->pos || !ub->cell || !ub->attn_cells || !ub->attn_n_seen || !ub->out_rows ||
        !d->row_entry)
        return lc_fail(err, "out of memory allocating activations for a batch of %zu", B);
    return 0;
}

static void free_decode_scratch(lc_ubatch *ub, lc_decode_scratch *d) {
    free(ub->tokens); free(ub->pos); free(ub->cell); free(ub->attn_cells); free(ub->attn_n_seen);
    free(ub->out_rows);
    free(d->row_entry);
    free(d->entry_cell); free(d->entry_logits);
    llamac_batch_free(d->single);
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
    kv->pos = malloc((size_t)n_ctx * sizeof *kv->pos);
    kv->seqs = malloc((size_t)n_ctx * sizeof *kv->seqs);
    kv->seq_cells = malloc((size_t)ctx->n_seq_max * n_ctx * sizeof *kv->seq_cells);
    kv->seq_len = malloc((size_t)ctx->n_seq_max * sizeof *kv->seq_len);
    kv->merge_scratch = malloc((size_t)n_ctx * sizeof *kv->merge_scratch);
    if (!kv->k || !kv->v || !kv->pos || !kv->seqs || !kv->seq_cells || !kv->seq_len || !kv->merge_scratch)
        return lc_fail(err, "out of memory: the KV cache for %u cells and %d sequences needs %.1f MiB", n_ctx,
                       ctx->n_seq_max, 2.0 * (double)bytes / 1048576.0);
    lc_kv_cells_clear(kv, ctx->n_seq_max);
    return 0;
}

llamac_context *llamac_context_create(llamac_model *model, const llamac_context_params *params,
                                      llamac_error *err) {
    llamac_context_params p = params ? *params : llamac_context_default_params();
    if (!model->layers) {
        lc_fail(err, "the model was loaded vocab-only and cannot run");
        return NULL;
    }
    if (p.n_seq_max < 0 || p.n_seq_max > LLAMAC_SEQ_MAX) {
        lc_fail(err, "n_seq_max %d is outside 1..%d", p.n_seq_max, LLAMAC_SEQ_MAX);
        return NULL;
    }
    llamac_context *ctx = calloc(1, sizeof *ctx);
    if (!ctx) { lc_fail(err, "out of memory"); return NULL; }
    ctx->n_seq_max = p.n_seq_max > 0 ? p.n_seq_max : 1;
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
    if (alloc_kv(ctx, p.kv_type, n_ctx, err) < 0 || alloc_scratch(ctx, err) < 0 ||
        alloc_decode_scratch(ctx, err) < 0)
        goto fail;
    ctx->compute = lc_compute_create(ctx->n_threads, ctx->n_batch, max_k, err);
    if (!ctx->compute) goto fail;
    if (lc_compute_use_isa(ctx->compute, model->isa, err) < 0) goto fail;
    return ctx;
fail:
    llamac_context_free(ctx);
    return NULL;
}

void llamac_context_free(llamac_context *ctx) {
    if (!ctx) return;
    lc_compute_free(ctx->compute);
    free_scratch(&ctx->s);
    free_decode_scratch(&ctx->ub, &ctx->d);
    free(ctx->kv.k);
    free(ctx->kv.v);
    free(ctx->kv.pos);
    free(ctx->kv.seqs);
    free(ctx->kv.seq_cells);
    free(ctx->kv.seq_len);
    free(ctx->kv.merge_scratch);
    free(ctx->logits);
    free(ctx);
}

uint32_t llamac_n_ctx(const llamac_context *ctx) { return ctx->kv.n_ctx; }
const char *llamac_context_kernels(const llamac_context *ctx) { return lc_compute_isa(ctx->compute); }
