/* The Llama forward pass over a batch of tokens, as llama.cpp computes it
 * (the shared formats notes (shared/docs/formats.md) section 9). Prefill is this same function with
 * n > 1: every matrix product sees all n rows at once. */
#include <math.h>
#include <string.h>

#include "kernels/attention.h"
#include "model/context.h"
#include "quant/repack.h"
#include "quant/types.h"

/* out = x / sqrt(mean(x^2) + eps) * w, row by row. The mean is accumulated
 * in double, as ggml does. */
static void rmsnorm_rows(float *out, const float *x, const float *w, int32_t n, int64_t dim, float eps) {
    for (int32_t r = 0; r < n; r++) {
        const float *xr = x + r * dim;
        float *o = out + r * dim;
        double ss = 0.0;
        for (int64_t i = 0; i < dim; i++) ss += (double)xr[i] * xr[i];
        const float scale = 1.0f / sqrtf((float)(ss / (double)dim) + eps);
        for (int64_t i = 0; i < dim; i++) o[i] = xr[i] * scale * w[i];
    }
}

/* cos/sin for every (row, pair), each row at its own position.
 * theta_i = pos * base^(-2i/d) / ff_i, with the base power iterated as a
 * float product like ggml's rope cache. */
static void rope_tables(const llamac_model *m, const int32_t *pos, int32_t n, float *cos_out, float *sin_out) {
    const lc_hparams *hp = &m->hp;
    const int half = hp->head_dim / 2;
    const float theta_scale = powf(hp->rope_theta, -2.0f / (float)hp->head_dim);
    for (int32_t r = 0; r < n; r++) {
        float theta = (float)pos[r];
        for (int i = 0; i < half; i++) {
            float ff = m->rope_freqs ? m->rope_freqs[i] : 1.0f;
            float t = hp->rope_freq_scale * theta / ff;
            cos_out[r * half + i] = cosf(t);
            sin_out[r * half + i] = sinf(t);
            theta *= theta_scale;
        }
    }
}

/* Rotates adjacent pairs (2i, 2i+1) of every head of every row (RoPE mode
 * "norm", the Meta layout GGUF stores). */
static void rope_apply(float *x, int32_t n, int n_heads, int head_dim, const float *cos_t, const float *sin_t) {
    const int half = head_dim / 2;
    for (int32_t r = 0; r < n; r++) {
        const float *c = cos_t + r * half, *s = sin_t + r * half;
        for (int h = 0; h < n_heads; h++) {
            float *v = x + ((int64_t)r * n_heads + h) * head_dim;
            for (int i = 0; i < half; i++) {
                float a = v[2 * i], b = v[2 * i + 1];
                v[2 * i] = a * c[i] - b * s[i];
                v[2 * i + 1] = a * s[i] + b * c[i];
            }
        }
    }
}

/* Writes one position's K or V row into the cache in the cache's type. */
static void kv_store_row(const lc_kv_cache *kv, uint8_t *dst, const float *src) {
    if (kv->type == LC_TYPE_F32) memcpy(dst, src, (size_t)kv->row_elems * sizeof(float));
    else lc_type_traits_get(kv->type)->from_float(src, dst, kv->row_elems);
}

static void add_rows(float *x, const float *y, int64_t count) {
    for (int64_t i = 0; i < count; i++) x[i] += y[i];
}

/* The product of one weight matrix, writing y (compute.h). */
static lc_matmul_out product(const lc_weight *w, float *y) {
    return (lc_matmul_out){.W = w->data, .wtype = w->type, .x8 = w->x8, .N = w->ne1, .y = y};
}

/* y = w x for the n rows of x (w->ne0 wide). Weights that read the same
 * rows go to lc_matmul_group together instead: one quantization of x and
 * one dispatch for all of them. */
static void matmul(llamac_context *ctx, const lc_weight *w, const float *x, int32_t n, float *y) {
    const lc_matmul_out out = product(w, y);
    lc_matmul_group(ctx->compute, &out, 1, w->ne0, x, n);
}

void lc_forward(llamac_context *ctx) {
    const llamac_model *m = ctx->model;
    const lc_hparams *hp = &m->hp;
    lc_scratch *s = &ctx->s;
    lc_kv_cache *kv = &ctx->kv;
    const lc_ubatch *ub = &ctx->ub;
    const int32_t n = ub->n;
    const llamac_token *tokens = ub->tokens;
    const int64_t E = hp->n_embd, F = hp->n_ff;
    const lc_type_traits *embd_type = lc_type_traits_get(m->tok_embd.type);

    /* token embeddings (a tied LM head may have been regrouped for its product) */
    for (int32_t r = 0; r < n; r++) {
        if (m->tok_embd.x8)
            lc_x8_row_to_float(m->tok_embd.type, m->tok_embd.data, m->tok_embd.row_size, tokens[r], E, s->x + r * E);
        else
            embd_type->to_float((const uint8_t *)m->tok_embd.data + (size_t)tokens[r] * m->tok_embd.row_size,
                                s->x + r * E, E);
    }
    rope_tables(m, ub->pos, n, s->rope_cos, s->rope_sin);

    for (int il = 0; il < hp->n_layer; il++) {
        const lc_layer *L = &m->layers[il];

        /* attention block: norm, q/k/v projections, RoPE, cache, attention */
        rmsnorm_rows(s->xn, s->x, L->attn_norm, n, E, hp->rms_eps);
        const lc_matmul_out qkv[] = {product(&L->wq, s->q), product(&L->wk, s->k), product(&L->wv, s->v)};
        lc_matmul_group(ctx->compute, qkv, 3, E, s->xn, n);
        rope_apply(s->q, n, hp->n_head, hp->head_dim, s->rope_cos, s->rope_sin);
        rope_apply(s->k, n, hp->n_head_kv, hp->head_dim, s->rope_cos, s->rope_sin);
        const size_t layer_off = (size_t)il * kv->n_ctx * kv->row_size;
        for (int32_t r = 0; r < n; r++) {
            const size_t cell = (size_t)ub->cell[r] * kv->row_size;
            kv_store_row(kv, kv->k + layer_off + cell, s->k + r * kv->row_elems);
            kv_store_row(kv, kv->v + layer_off + cell, s->v + r * kv->row_elems);
        }
        const lc_attn_args attn = {
            .q = s->q, .k = kv->k + layer_off, .v = kv->v + layer_off, .row_size = kv->row_size,
            .kv_type = kv->type, .n_head = hp->n_head, .n_head_kv = hp->n_head_kv, .head_dim = hp->head_dim,
            .pos0 = 0, .n_tokens = n, .out = s->xn, .cells = ub->attn_cells, .n_seen = ub->attn_n_seen,
        };
        lc_attention(ctx->compute, &attn);

        /* output projection and residual */
        matmul(ctx, &L->wo, s->xn, n, s->proj);
        add_rows(s->x, s->proj, n * E);

        /* feed-forward block: norm, SwiGLU, down projection, residual */
        rmsnorm_rows(s->xn, s->x, L->ffn_norm, n, E, hp->rms_eps);
        const lc_matmul_out gate_up[] = {product(&L->w_gate, s->gate), product(&L->w_up, s->up)};
        lc_matmul_group(ctx->compute, gate_up, 2, E, s->xn, n);
        lc_swiglu(ctx->compute, s->gate, s->up, n * F);
        matmul(ctx, &L->w_down, s->gate, n, s->proj);
        add_rows(s->x, s->proj, n * E);
    }

    /* final norm and LM head, only for the rows whose logits are wanted */
    for (int32_t i = 0; i < ub->n_out; i++)
        rmsnorm_rows(s->xn + i * E, s->x + ub->out_rows[i] * E, m->output_norm, 1, E, hp->rms_eps);
    if (ub->n_out > 0) matmul(ctx, &m->output, s->xn, ub->n_out, ub->logits);
}
