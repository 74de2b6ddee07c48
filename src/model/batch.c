/* Batches of (token, position, sequences, wants-logits) entries and the
 * decode call that runs them: checked as a whole, given KV cells, then cut
 * into forward calls of at most n_batch rows, the rows of each sequence
 * together so that prefill tiles span them. */
#include <stdlib.h>
#include <string.h>

#include "model/context.h"
#include "model/kv_cells.h"
#include "runtime/err.h"

struct llamac_batch {
    int32_t n, cap;
    llamac_token *token;
    int32_t *pos;
    bool *logits;
    int32_t *seq_first;     /* [cap] index of the entry's first id in seq_ids */
    int32_t *n_seqs;        /* [cap] */
    llamac_seq_id *seq_ids; /* the entries' ids, one after another */
    int64_t ids_used, ids_cap;
};

llamac_batch *llamac_batch_create(int32_t capacity) {
    if (capacity < 1) return NULL;
    llamac_batch *b = calloc(1, sizeof *b);
    if (!b) return NULL;
    const size_t n = (size_t)capacity;
    b->cap = capacity;
    b->token = malloc(n * sizeof *b->token);
    b->pos = malloc(n * sizeof *b->pos);
    b->logits = malloc(n * sizeof *b->logits);
    b->seq_first = malloc(n * sizeof *b->seq_first);
    b->n_seqs = malloc(n * sizeof *b->n_seqs);
    b->seq_ids = malloc(n * sizeof *b->seq_ids);
    b->ids_cap = capacity;
    if (!b->token || !b->pos || !b->logits || !b->seq_first || !b->n_seqs || !b->seq_ids) {
        llamac_batch_free(b);
        return NULL;
    }
    return b;
}

void llamac_batch_free(llamac_batch *b) {
    if (!b) return;
    free(b->token); free(b->pos); free(b->logits); free(b->seq_first); free(b->n_seqs); free(b->seq_ids);
    free(b);
}

void llamac_batch_clear(llamac_batch *b) {
    b->n = 0;
    b->ids_used = 0;
}

int32_t llamac_batch_size(const llamac_batch *b) { return b->n; }

int32_t llamac_batch_add(llamac_batch *b, llamac_token tok, int32_t pos, const llamac_seq_id *seqs,
                         int32_t n_seqs, bool want_logits) {
    if (b->n >= b->cap || n_seqs < 1 || n_seqs > LLAMAC_SEQ_MAX || !seqs) return -1;
    if (b->ids_used + n_seqs > b->ids_cap) {
        const int64_t cap = (b->ids_cap + n_seqs) * 2;
        llamac_seq_id *ids = realloc(b->seq_ids, (size_t)cap * sizeof *ids);
        if (!ids) return -1;
        b->seq_ids = ids;
        b->ids_cap = cap;
    }
    const int32_t i = b->n++;
    b->token[i] = tok;
    b->pos[i] = pos;
    b->logits[i] = want_logits;
    b->seq_first[i] = (int32_t)b->ids_used;
    b->n_seqs[i] = n_seqs;
    memcpy(b->seq_ids + b->ids_used, seqs, (size_t)n_seqs * sizeof *seqs);
    b->ids_used += n_seqs;
    return i;
}

static const llamac_seq_id *entry_seqs(const llamac_batch *b, int32_t i) { return b->seq_ids + b->seq_first[i]; }

/* ------------------------------------------------------------ checking */

/* Tokens, sequence ids and positions of every entry; next[] (n_seq_max)
 * gets each sequence's next position after the batch. */
static int check_entries(const llamac_context *ctx, const llamac_batch *b, int32_t *next, llamac_error *err) {
    const int32_t n_vocab = ctx->model->hp.n_vocab;
    if (b->n <= 0) return lc_fail(err, "decode: the batch is empty");
    for (llamac_seq_id s = 0; s < ctx->n_seq_max; s++) next[s] = lc_kv_next_position(&ctx->kv, s);
    for (int32_t i = 0; i < b->n; i++) {
        if (b->token[i] < 0 || b->token[i] >= n_vocab)
            return lc_fail(err, "decode: token %d at index %d is outside the vocabulary [0, %d)", b->token[i], i,
                           n_vocab);
        const llamac_seq_id *seqs = entry_seqs(b, i);
        uint64_t seen = 0;
        for (int32_t k = 0; k < b->n_seqs[i]; k++) {
            const llamac_seq_id s = seqs[k];
            if (s < 0 || s >= ctx->n_seq_max)
                return lc_fail(err, "decode: entry %d: sequence id %d is outside [0, %d) (the context's n_seq_max)",
                               i, s, ctx->n_seq_max);
            if (seen & (uint64_t)1 << s)
                return lc_fail(err, "decode: entry %d names sequence %d twice", i, s);
            seen |= (uint64_t)1 << s;
            if (b->pos[i] != next[s])
                return lc_fail(err, "decode: entry %d: position %d of sequence %d %s (the sequence continues at %d)",
                               i, b->pos[i], s, b->pos[i] < next[s] ? "repeats a cached or earlier position"
                                                                      : "skips positions", next[s]);
            next[s]++;
        }
    }
    return 0;
}

/* Grows the per-entry arrays to n entries. */
static int reserve_entries(llamac_context *ctx, int64_t n, llamac_error *err) {
    lc_decode_scratch *d = &ctx->d;
    if (n <= d->entries_cap) return 0;
    int32_t *cells = realloc(d->entry_cell, (size_t)n * sizeof *cells);
    if (cells) d->entry_cell = cells;
    int32_t *rows = cells ? realloc(d->entry_logits, (size_t)n * sizeof *rows) : NULL;
    if (rows) d->entry_logits = rows;
    if (!cells || !rows) return lc_fail(err, "out of memory for a batch of %lld entries", (long long)n);
    d->entries_cap = n;
    return 0;
}

static int reserve_logit_rows(llamac_context *ctx, int64_t rows, llamac_error *err) {
    if (rows <= ctx->logits_cap) return 0;
    float *p = realloc(ctx->logits, (size_t)rows * (size_t)ctx->model->hp.n_vocab * sizeof(float));
    if (!p) return lc_fail(err, "out of memory for the logits of %lld tokens", (long long)rows);
    ctx->logits = p;
    ctx->logits_cap = rows;
    return 0;
}

/* The message for a batch that does not fit: the first entry left without
 * a cell, its sequence and what the batch needs. */
static int fail_full(const llamac_context *ctx, const llamac_batch *b, llamac_error *err) {
    const uint32_t n_free = ctx->kv.n_ctx - ctx->kv.n_used;
    const int32_t i = (int32_t)n_free; /* entries 0..n_free-1 would have fitted */
    return lc_fail(err, "decode: the KV cache is full: sequence %d needs a cell for position %d (entry %d); the "
                   "batch needs %d cells and %u of the context's %u are free (remove sequences or positions, or "
                   "use a larger n_ctx)", entry_seqs(b, i)[0], b->pos[i], i, b->n, n_free, ctx->kv.n_ctx);
}

/* ------------------------------------------------------------ chunks */

/* Rows [r0, r1) all read `list` (one sequence's): when the part of it
 * they see is cells 0, 1, 2, ... they read no list (the contiguous path of
 * the attention kernels). */
static void drop_identity_list(lc_ubatch *ub, int32_t r0, int32_t r1) {
    int32_t seen = 0;
    for (int32_t r = r0; r < r1; r++)
        if (ub->attn_n_seen[r] > seen) seen = ub->attn_n_seen[r];
    const int32_t *list = ub->attn_cells[r0];
    for (int32_t j = seen - 1; j >= 0; j--) /* from the end: a moved cell shows there first */
        if (list[j] != j) return;
    for (int32_t r = r0; r < r1; r++) ub->attn_cells[r] = NULL;
}

/* Fills ctx->ub with entries [begin, begin+n): ordered by first sequence
 * (stable), each row given its cell, its sequence's cell list and its
 * causal count; wanted logits go to consecutive rows from *next_row, and
 * the entries learn their row. */
static void build_chunk(llamac_context *ctx, const llamac_batch *b, int32_t begin, int32_t n, int32_t *next_row) {
    lc_ubatch *ub = &ctx->ub;
    lc_decode_scratch *d = &ctx->d;
    const lc_kv_cache *kv = &ctx->kv;
    int32_t start[LLAMAC_SEQ_MAX + 1] = {0};
    for (int32_t i = begin; i < begin + n; i++) start[entry_seqs(b, i)[0] + 1]++;
    for (int s = 0; s < LLAMAC_SEQ_MAX; s++) start[s + 1] += start[s];
    int32_t fill[LLAMAC_SEQ_MAX];
    memcpy(fill, start, sizeof fill);
    ub->n = n;
    for (int32_t i = begin; i < begin + n; i++) {
        const llamac_seq_id s = entry_seqs(b, i)[0];
        const int32_t r = fill[s]++;
        int32_t list_len;
        const int32_t *list = lc_kv_seq_cells(kv, s, &list_len);
        d->row_entry[r] = i;
        ub->tokens[r] = b->token[i];
        ub->pos[r] = b->pos[i];
        ub->cell[r] = d->entry_cell[i];
        /* the row sees its sequence's cells up to its own position: a prefix
         * of the position-ordered list, its own cell last */
        int32_t lo = 0, hi = list_len;
        while (lo < hi) {
            const int32_t mid = lo + (hi - lo) / 2;
            if (kv->pos[list[mid]] <= b->pos[i]) lo = mid + 1; else hi = mid;
        }
        ub->attn_n_seen[r] = lo;
        ub->attn_cells[r] = list;
    }
    for (int s = 0; s < LLAMAC_SEQ_MAX; s++)
        if (fill[s] > start[s]) drop_identity_list(ub, start[s], fill[s]);

    ub->n_out = 0;
    ub->logits = ctx->logits + (size_t)*next_row * (size_t)ctx->model->hp.n_vocab;
    for (int32_t r = 0; r < n; r++) {
        const int32_t i = d->row_entry[r];
        if (!b->logits[i]) continue;
        d->entry_logits[i] = (*next_row)++;
        ub->out_rows[ub->n_out++] = r;
    }
}

int llamac_decode_batch(llamac_context *ctx, const llamac_batch *b, llamac_error *err) {
    int32_t next[LLAMAC_SEQ_MAX];
    if (!b) return lc_fail(err, "decode: no batch given");
    if (check_entries(ctx, b, next, err) < 0) return -1;
    if (reserve_entries(ctx, b->n, err) < 0) return -1;
    int32_t n_logits = 0;
    for (int32_t i = 0; i < b->n; i++) n_logits += b->logits[i];
    if (reserve_logit_rows(ctx, n_logits > 0 ? n_logits : 1, err) < 0) return -1;
    lc_kv_cache *kv = &ctx->kv;
    if (!lc_kv_find_cells(kv, b->n, ctx->d.entry_cell)) return fail_full(ctx, b, err);

    /* nothing can fail from here on: tag the cells, then compute */
    for (int32_t i = 0; i < b->n; i++) {
        lc_kv_cell_assign(kv, ctx->d.entry_cell[i], b->pos[i], entry_seqs(b, i), b->n_seqs[i]);
        ctx->d.entry_logits[i] = -1;
    }
    ctx->last_n = b->n;
    int32_t next_row = 0;
    for (int32_t done = 0; done < b->n;) {
        const int32_t chunk = b->n - done < ctx->n_batch ? b->n - done : ctx->n_batch;
        build_chunk(ctx, b, done, chunk, &next_row);
        lc_forward(ctx);
        done += chunk;
    }
    return 0;
}

const float *llamac_batch_logits(const llamac_context *ctx, int32_t entry) {
    if (ctx->last_n == 0) return NULL;
    if (entry < 0) entry = ctx->last_n - 1;
    if (entry >= ctx->last_n || ctx->d.entry_logits[entry] < 0) return NULL;
    return ctx->logits + (size_t)ctx->d.entry_logits[entry] * (size_t)ctx->model->hp.n_vocab;
}

const float *llamac_logits(const llamac_context *ctx, int32_t i) { return llamac_batch_logits(ctx, i); }

/* ------------------------------------------------ the single-sequence call */

int llamac_decode(llamac_context *ctx, const llamac_token *tokens, int32_t n, bool all_logits,
                  llamac_error *err) {
    if (n <= 0) return lc_fail(err, "decode: no tokens given");
    lc_decode_scratch *d = &ctx->d;
    if (!d->single || d->single->cap < n) {
        llamac_batch *grown = llamac_batch_create(n);
        if (!grown) return lc_fail(err, "out of memory for a batch of %d tokens", n);
        llamac_batch_free(d->single);
        d->single = grown;
    }
    const int32_t pos0 = llamac_seq_pos_max(ctx, 0) + 1;
    /* one sequence: the message of a cache that is all this sequence's */
    if (ctx->n_seq_max == 1 && (int64_t)ctx->kv.n_used + n > (int64_t)ctx->kv.n_ctx)
        return lc_fail(err, "decode: %u cached + %d new tokens exceed the context of %u tokens", ctx->kv.n_used, n,
                       ctx->kv.n_ctx);
    const llamac_seq_id seq0 = 0;
    llamac_batch_clear(d->single);
    for (int32_t i = 0; i < n; i++)
        llamac_batch_add(d->single, tokens[i], pos0 + i, &seq0, 1, all_logits || i == n - 1);
    return llamac_decode_batch(ctx, d->single, err);
}
