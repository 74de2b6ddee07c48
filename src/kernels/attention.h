/* Causal multi-head attention over the KV cache, fused: scores, an online
 * softmax (running max and sum, the accumulator rescaled when the max
 * grows) and the weighted sum of V in one pass over the cache, so no buffer
 * of context length exists.
 *
 * Query heads that share a KV head (GQA, g = h / (n_head/n_head_kv)) are
 * processed together: each cached K and V row is read and widened once per
 * token per KV head, not once per query head.
 *
 * Work is split into (kv head, token) items that the pool's threads claim
 * one at a time, longest (latest token) first. Every item is computed by
 * one thread with a fixed order of operations, so the output does not
 * depend on the thread count. Decode (one token) therefore uses at most
 * n_head_kv threads. */
#ifndef LC_ATTENTION_H
#define LC_ATTENTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/compute.h"

/* Largest head dimension handled (the per-item accumulators live on the stack). */
#define LC_ATTN_HEAD_DIM_MAX 1024
/* Query heads processed together per pass over the cache; larger GQA groups
 * are split into sub-groups of this many (each re-reads the K/V rows). */
#define LC_ATTN_SUBGROUP_MAX 8

typedef struct lc_attn_args {
    const float *q;          /* [n_tokens][n_head * head_dim], RoPE already applied */
    const uint8_t *k;        /* this layer's K cache: row t at k + t*row_size */
    const uint8_t *v;        /* this layer's V cache */
    size_t row_size;         /* bytes per cached row (n_head_kv*head_dim elements of kv_type) */
    int kv_type;             /* LC_TYPE_F32, LC_TYPE_F16 or LC_TYPE_Q8_0 (row quantized in blocks of 32 along the row) */
    int n_head, n_head_kv, head_dim;
    uint32_t pos0;           /* position of token 0; token i attends to cache rows 0..pos0+i */
    int32_t n_tokens;
    float *out;              /* [n_tokens][n_head * head_dim] */
} lc_attn_args;

/* Whether lc_attention handles this shape and cache type: F32/F16/Q8_0,
 * 1 <= head_dim <= LC_ATTN_HEAD_DIM_MAX, n_head a multiple of n_head_kv,
 * and for Q8_0 a row length (n_head_kv*head_dim) that is a multiple of 32.
 * For anything else lc_attention writes NaN to out. */
bool lc_attention_supports(int kv_type, int n_head, int n_head_kv, int head_dim);

/* Causal softmax(q.k * 1/sqrt(head_dim)) . v for every token and query head.
 * Uses the compute context's instruction set (LLAMAC_ISA=scalar forces the
 * portable path) and thread pool; allocates nothing. */
void lc_attention(lc_compute *c, const lc_attn_args *a);
/* The scalar reference, single-threaded, for tests: one (token, query head)
 * at a time, the plain definition with an online softmax. */
void lc_attention_ref(const lc_attn_args *a);

/* ---- internal: the per-ISA item kernels (attention.c, attention_avx2.c) */

/* One work item: query heads [h0, h0+n_heads) of token `token`, all
 * sharing KV head h0 / group, over cache rows 0..pos0+token. */
typedef struct lc_attn_item {
    int32_t token;
    int h0;
    int n_heads;             /* 1..LC_ATTN_SUBGROUP_MAX */
} lc_attn_item;

void lc_attention_item_scalar(const lc_attn_args *a, const lc_attn_item *it);
#if defined(__x86_64__)
/* Needs head_dim % 8 == 0; falls back to the scalar item otherwise. */
void lc_attention_item_avx2(const lc_attn_args *a, const lc_attn_item *it);
#endif

#endif
