/* The scheduler: one thread that owns the llamac context and runs the
 * slots in steps (continuous batching).
 *
 * Each step builds one batch: first the pending token of every generating
 * slot (one decode row each), then prompt chunks of slots still reading
 * their prompt, oldest admission first, until the batch holds n_batch
 * entries. One llamac_decode_batch call evaluates it, and every slot whose
 * row produced logits samples its next token. So a long prompt is read in
 * chunks between the decode rows of the others instead of stalling them,
 * and a new request joins at the next step instead of waiting for a free
 * moment.
 *
 * Between steps, with the lock held, the scheduler drops tasks whose client
 * left (queued or running: a running one's slot is free at the next step),
 * admits queued tasks into idle slots, and hands what the step produced to
 * the tasks' connection threads.
 *
 * Prefix reuse: each slot remembers the tokens its sequence holds in the KV
 * cache. A new task goes to the idle slot whose tokens share the longest
 * prefix with its prompt (the least recently used one when none does); when
 * another slot, busy or not, shares a longer prefix, those cells are
 * shared into the chosen slot's sequence (llamac_seq_cp tags cells, copying
 * nothing). Only the rest of the prompt is evaluated; the reused count is
 * the usage's cached_tokens. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "server/internal.h"

/* ----------------------------------------------------------------- tasks */

srv_task *srv_task_create(srv *s, srv_request *req, const char *id_prefix) {
    srv_task *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    pthread_mutex_lock(&s->lock);
    s->n_tasks++;
    pthread_mutex_unlock(&s->lock);
    t->req = *req;
    memset(req, 0, sizeof *req); /* the task owns it now */
    srv_random_id(t->id, sizeof t->id, id_prefix);
    t->created = (int64_t)time(NULL);
    t->refs = 1;
    t->n_prompt = t->req.n_prompt;
    pthread_cond_init(&t->changed, NULL);
    return t;
}

void srv_task_release_locked(srv *s, srv_task *t) {
    if (--t->refs > 0) return;
    if (--s->n_tasks == 0) pthread_cond_broadcast(&s->drained);
    srv_request_free(&t->req);
    srv_output_free(&t->out);
    pthread_cond_destroy(&t->changed);
    free(t);
}

void srv_task_cancel_locked(srv *s, srv_task *t) {
    if (t->finished || t->cancelled) return;
    t->cancelled = true;
    pthread_cond_signal(&s->work);
}

static void finish_task_locked(srv_task *t, const char *reason) {
    t->finished = true;
    t->finish_reason = reason;
    pthread_cond_broadcast(&t->changed);
}

static void fail_task_locked(srv *s, srv_task *t, int status, const char *msg) {
    srv_error_set(&t->error, status, NULL, "%s", msg);
    s->metrics.requests_failed++;
    finish_task_locked(t, NULL);
}

bool srv_submit(srv *s, srv_task *t, srv_error *e) {
    pthread_mutex_lock(&s->lock);
    bool ok = false;
    if (s->stopping) {
        srv_error_set(e, 503, NULL, "the server is shutting down");
    } else if (s->n_busy + (int)s->n_queue >= s->n_slots + s->cfg.max_queue) {
        srv_error_set(e, 503, NULL, "the server is busy: all %d slots and %d queue places are taken; retry later",
                      s->n_slots, s->cfg.max_queue);
        s->metrics.requests_rejected++;
    } else {
        t->refs++;
        s->queue[s->n_queue++] = t;
        s->metrics.requests_total++;
        pthread_cond_signal(&s->work);
        ok = true;
    }
    pthread_mutex_unlock(&s->lock);
    return ok;
}

/* ----------------------------------------------------------------- slots */

bool srv_scheduler_init(srv *s, llamac_error *err) {
    s->n_slots = s->cfg.n_parallel;
    s->slots = calloc((size_t)s->n_slots, sizeof *s->slots);
    s->queue = calloc((size_t)(s->n_slots + s->cfg.max_queue + 1), sizeof *s->queue);
    s->batch = llamac_batch_create(s->n_batch + s->n_slots);
    if (!s->slots || !s->queue || !s->batch) goto oom;
    for (int i = 0; i < s->n_slots; i++) {
        srv_slot *sl = &s->slots[i];
        sl->seq = i;
        sl->entry = -1;
        sl->cache = malloc(sizeof *sl->cache * (size_t)s->n_ctx_slot);
        sl->work = malloc(sizeof *sl->work * (size_t)s->n_vocab);
        if (!sl->cache || !sl->work) goto oom;
    }
    return true;
oom:
    snprintf(err->msg, sizeof err->msg, "out of memory for %d slots", s->cfg.n_parallel);
    return false;
}

static void slot_clear_request(srv_slot *sl) {
    llamac_sampler_free(sl->sampler);
    llamac_detokenizer_free(sl->detok);
    llamac_stop_free(sl->stop);
    free(sl->counts);
    sl->sampler = NULL;
    sl->detok = NULL;
    sl->stop = NULL;
    sl->counts = NULL;
    srv_output_clear(&sl->out);
    sl->entry = -1;
    sl->state = SLOT_IDLE;
}

void srv_scheduler_free(srv *s) {
    for (int i = 0; s->slots && i < s->n_slots; i++) {
        srv_slot *sl = &s->slots[i];
        slot_clear_request(sl);
        free(sl->cache);
        free(sl->work);
        srv_output_free(&sl->out);
    }
    free(s->slots);
    free(s->queue);
    llamac_batch_free(s->batch);
    s->slots = NULL;
    s->queue = NULL;
    s->batch = NULL;
}

/* Ends a slot's task (the task is already finished or cancelled) and makes
 * the slot idle. Its KV cells stay for prefix reuse. */
static void release_slot_locked(srv *s, srv_slot *sl) {
    /* the sampler borrows the task's grammar: drop it before the task */
    slot_clear_request(sl);
    if (sl->task) {
        srv_task_release_locked(s, sl->task);
        sl->task = NULL;
        s->n_busy--;
    }
    sl->last_used_us = llamac_time_us();
}

static int32_t common_prefix(const llamac_token *a, int32_t na, const llamac_token *b, int32_t nb) {
    int32_t n = na < nb ? na : nb, i = 0;
    while (i < n && a[i] == b[i]) i++;
    return i;
}

/* The idle slot for a prompt: longest shared prefix, then least recently
 * used. NULL when none is idle. */
static srv_slot *choose_slot(srv *s, const llamac_token *p, int32_t n) {
    srv_slot *best = NULL;
    int32_t best_len = -1;
    for (int i = 0; i < s->n_slots; i++) {
        srv_slot *sl = &s->slots[i];
        if (sl->task) continue;
        int32_t len = common_prefix(sl->cache, sl->n_cache, p, n);
        if (len > best_len || (len == best_len && sl->last_used_us < best->last_used_us)) {
            best = sl;
            best_len = len;
        }
    }
    return best;
}

/* Sets up the slot's KV sequence for the prompt; returns how many prompt
 * tokens it already holds. */
static int32_t reuse_prefix(srv *s, srv_slot *sl, const llamac_token *p, int32_t n) {
    int32_t keep = common_prefix(sl->cache, sl->n_cache, p, n);
    srv_slot *donor = NULL;
    int32_t donor_len = keep;
    for (int i = 0; i < s->n_slots; i++) {
        srv_slot *o = &s->slots[i];
        if (o == sl) continue;
        int32_t len = common_prefix(o->cache, o->n_cache, p, n);
        if (len > donor_len) {
            donor = o;
            donor_len = len;
        }
    }
    if (donor) {
        llamac_seq_rm(s->ctx, sl->seq, -1, -1);
        llamac_seq_cp(s->ctx, donor->seq, sl->seq, 0, donor_len);
        memcpy(sl->cache, donor->cache, sizeof *sl->cache * (size_t)donor_len);
        keep = donor_len;
    }
    /* the last prompt token is evaluated again: its logits are needed */
    if (keep >= n) keep = n - 1;
    llamac_seq_rm(s->ctx, sl->seq, keep, -1);
    sl->n_cache = keep;
    return keep;
}

static bool start_request(srv *s, srv_slot *sl, srv_task *t) {
    const srv_request *r = &t->req;
    sl->sampler = llamac_sampler_create(&r->sampling, s->n_vocab);
    sl->detok = llamac_detokenizer_create(s->model);
    llamac_error err = {{0}};
    sl->stop = llamac_stop_create((const char *const *)r->stops, r->n_stops, &err);
    if (r->presence_penalty != 0 || r->frequency_penalty != 0)
        sl->counts = calloc((size_t)s->n_vocab, sizeof *sl->counts);
    if (!sl->sampler || !sl->detok || !sl->stop ||
        ((r->presence_penalty != 0 || r->frequency_penalty != 0) && !sl->counts))
        return false;
    /* as `llamac run` does: the prompt feeds the repetition penalty, and a
     * reply that starts right after BOS drops its leading space */
    for (int32_t i = 0; i < r->n_prompt; i++) llamac_sampler_accept(sl->sampler, r->prompt[i]);
    /* the task's own grammar: only this slot advances it */
    if (r->grammar) llamac_sampler_set_grammar(sl->sampler, r->grammar);
    if (r->prompt[r->n_prompt - 1] == llamac_token_bos(s->model))
        llamac_detokenizer_push(sl->detok, r->prompt[r->n_prompt - 1], NULL);
    int32_t room = s->n_ctx_slot - r->n_prompt;
    sl->n_max = r->max_tokens >= 0 && r->max_tokens < room ? r->max_tokens : room;
    sl->n_generated = 0;
    sl->n_fed = reuse_prefix(s, sl, r->prompt, r->n_prompt);
    sl->state = SLOT_PROMPT;
    sl->last_used_us = llamac_time_us();
    return true;
}

/* Drops cancelled tasks: queued ones leave the queue, running ones free
 * their slot now. */
static void reap_locked(srv *s) {
    size_t w = 0;
    for (size_t i = 0; i < s->n_queue; i++) {
        srv_task *t = s->queue[i];
        if (t->cancelled) {
            s->metrics.requests_cancelled++;
            srv_task_release_locked(s, t);
        } else {
            s->queue[w++] = t;
        }
    }
    s->n_queue = w;
    for (int i = 0; i < s->n_slots; i++) {
        srv_slot *sl = &s->slots[i];
        if (sl->task && sl->task->cancelled) {
            s->metrics.requests_cancelled++;
            release_slot_locked(s, sl);
        }
    }
}

static void admit_locked(srv *s) {
    while (s->n_queue > 0) {
        srv_task *t = s->queue[0];
        srv_slot *sl = choose_slot(s, t->req.prompt, t->req.n_prompt);
        if (!sl) return;
        memmove(s->queue, s->queue + 1, sizeof *s->queue * (s->n_queue - 1));
        s->n_queue--;
        sl->task = t; /* the queue's reference moves to the slot */
        s->n_busy++;
        if (!start_request(s, sl, t)) {
            fail_task_locked(s, t, 500, "out of memory starting the request");
            release_slot_locked(s, sl);
            continue;
        }
        t->admitted = true;
        t->n_cached = sl->n_fed;
        s->metrics.prompt_tokens += (uint64_t)t->n_prompt;
        s->metrics.prompt_tokens_cached += (uint64_t)t->n_cached;
    }
}

/* ---------------------------------------------------------------- a step */

/* Appends this step's entries; returns the number of prompt entries. */
static int32_t build_batch(srv *s) {
    llamac_batch_clear(s->batch);
    int32_t budget = s->n_batch;
    for (int i = 0; i < s->n_slots; i++) {
        srv_slot *sl = &s->slots[i];
        sl->entry = -1;
        if (sl->state != SLOT_GENERATE) continue;
        sl->entry = llamac_batch_add(s->batch, sl->next, sl->n_cache, &sl->seq, 1, true);
        sl->cache[sl->n_cache++] = sl->next;
        budget--;
    }
    int32_t n_prompt_entries = 0;
    for (;;) {
        /* oldest admission first: it has waited longest for its first token */
        srv_slot *first = NULL;
        for (int i = 0; i < s->n_slots; i++) {
            srv_slot *sl = &s->slots[i];
            if (sl->state == SLOT_PROMPT && sl->entry < 0 && sl->n_fed < sl->task->req.n_prompt &&
                (!first || sl->last_used_us < first->last_used_us))
                first = sl;
        }
        if (!first || budget <= 0) break;
        const srv_request *r = &first->task->req;
        int32_t n = r->n_prompt - first->n_fed;
        if (n > budget) n = budget;
        for (int32_t k = 0; k < n; k++) {
            int32_t pos = first->n_fed;
            bool last = pos == r->n_prompt - 1;
            int32_t entry = llamac_batch_add(s->batch, r->prompt[pos], pos, &first->seq, 1, last);
            first->cache[first->n_cache++] = r->prompt[pos];
            first->n_fed++;
            if (last) first->entry = entry;
        }
        budget -= n;
        n_prompt_entries += n;
        if (first->entry < 0) first->entry = -2; /* fed this step, no logits yet */
    }
    for (int i = 0; i < s->n_slots; i++)
        if (s->slots[i].entry == -2) s->slots[i].entry = -1;
    return n_prompt_entries;
}

/* The logits the sampler sees: the model's, plus logit_bias and the
 * presence/frequency penalties over the tokens generated so far. */
static const float *adjusted_logits(srv *s, srv_slot *sl, const float *logits) {
    const srv_request *r = &sl->task->req;
    if (!r->n_logit_bias && !sl->counts) return logits;
    memcpy(sl->work, logits, sizeof *sl->work * (size_t)s->n_vocab);
    for (size_t i = 0; i < r->n_logit_bias; i++) sl->work[r->logit_bias[i].id] += r->logit_bias[i].bias;
    if (sl->counts) {
        const llamac_token *gen = sl->cache + r->n_prompt;
        int32_t n_gen = sl->n_cache - r->n_prompt;
        /* counts[] is negated once a token is penalized, so a token that
         * appears several times pays the presence penalty once */
        for (int32_t i = 0; i < n_gen; i++) {
            int32_t c = sl->counts[gen[i]];
            if (c <= 0) continue;
            sl->work[gen[i]] -= (float)c * r->frequency_penalty + r->presence_penalty;
            sl->counts[gen[i]] = -c;
        }
        for (int32_t i = 0; i < n_gen; i++)
            if (sl->counts[gen[i]] < 0) sl->counts[gen[i]] = -sl->counts[gen[i]];
    }
    return sl->work;
}

/* The token's log-probability and the best top_logprobs alternatives,
 * from the logits the sampler saw (before temperature). */
static void record_logprobs(srv *s, srv_slot *sl, const float *logits, llamac_token tok) {
    float max = logits[0];
    for (int32_t i = 1; i < s->n_vocab; i++) max = logits[i] > max ? logits[i] : max;
    double sum = 0;
    for (int32_t i = 0; i < s->n_vocab; i++) sum += exp((double)(logits[i] - max));
    float log_z = max + (float)log(sum);
    srv_token_logprob *lp = &sl->lp;
    lp->id = tok;
    lp->logprob = logits[tok] - log_z;
    /* the best n_top tokens by insertion into a short sorted list */
    int n_top = sl->task->req.top_logprobs;
    lp->n_top = 0;
    for (int32_t i = 0; i < s->n_vocab; i++) {
        float v = logits[i] - log_z;
        if (lp->n_top == n_top && (n_top == 0 || v <= lp->top_logprob[n_top - 1])) continue;
        int k = lp->n_top < n_top ? lp->n_top++ : n_top - 1;
        while (k > 0 && lp->top_logprob[k - 1] < v) {
            lp->top_logprob[k] = lp->top_logprob[k - 1];
            lp->top_id[k] = lp->top_id[k - 1];
            k--;
        }
        lp->top_logprob[k] = v;
        lp->top_id[k] = i;
    }
}

static void emit_text(srv_slot *sl, const char *text, size_t len) { srv_output_text(&sl->out, text, len); }

/* The reply ended without a stop string: what was held back is text. */
static void end_reply(srv_slot *sl, const char **finish) {
    if (!*finish) *finish = "stop";
    llamac_error err = {{0}};
    const char *out;
    size_t len, out_len;
    const char *rest = llamac_detokenizer_flush(sl->detok, &len);
    int rc = llamac_stop_feed(sl->stop, rest, len, &out, &out_len, &err);
    if (rc >= 0) emit_text(sl, out, out_len);
    if (rc == 0) {
        out = llamac_stop_flush(sl->stop, &out_len);
        emit_text(sl, out, out_len);
    }
}

/* Samples the slot's next token and turns it into text; sets the slot's
 * finish reason when the reply ended. */
static void sample_slot(srv *s, srv_slot *sl, const char **finish) {
    const float *logits = adjusted_logits(s, sl, llamac_batch_logits(s->ctx, sl->entry));
    llamac_token tok = llamac_sampler_sample(sl->sampler, logits);
    llamac_grammar *g = sl->task->req.grammar;
    if (tok < 0 || (g && !llamac_grammar_accept(g, tok))) {
        /* the grammar allows nothing more: the reply is complete */
        end_reply(sl, finish);
        return;
    }
    llamac_sampler_accept(sl->sampler, tok);
    bool want_lp = sl->task->req.logprobs;
    if (want_lp) record_logprobs(s, sl, logits, tok);
    srv_output_begin_token(&sl->out, want_lp ? &sl->lp : NULL);
    if (sl->counts) sl->counts[tok]++;
    sl->n_generated++;
    llamac_error err = {{0}};
    const char *out;
    size_t len, out_len;
    if (!sl->task->req.ignore_eos && llamac_token_is_eog(s->model, tok)) {
        *finish = "stop";
    } else {
        const char *text = llamac_detokenizer_push(sl->detok, tok, &len);
        int stopped = llamac_stop_feed(sl->stop, text, len, &out, &out_len, &err);
        if (stopped >= 0) emit_text(sl, out, out_len);
        if (stopped != 0) {
            *finish = "stop";
            return;
        }
        if (sl->n_generated >= sl->n_max) *finish = "length";
    }
    if (!*finish) {
        sl->next = tok;
        sl->state = SLOT_GENERATE;
        return;
    }
    end_reply(sl, finish);
}

/* Moves what a slot produced to its task and wakes the connection. */
static void publish_locked(srv *s, srv_slot *sl, const char *finish) {
    srv_task *t = sl->task;
    if (!t) return;
    srv_output_move(&t->out, &sl->out);
    s->metrics.generated_tokens += (uint64_t)(sl->n_generated - t->n_generated);
    t->n_generated = sl->n_generated;
    if (finish) {
        finish_task_locked(t, finish);
        release_slot_locked(s, sl);
    } else {
        pthread_cond_broadcast(&t->changed);
    }
}

/* One batch: build, decode, sample. Runs without the lock (only the
 * scheduler touches slots' sequences and the context). Returns false when
 * the decode failed (message in err). */
static bool step(srv *s, const char **finish, llamac_error *err) {
    int32_t n_prompt_entries = build_batch(s);
    int32_t n_entries = llamac_batch_size(s->batch);
    if (n_entries == 0) return true;
    int64_t t0 = llamac_time_us();
    if (llamac_decode_batch(s->ctx, s->batch, err) < 0) return false;
    for (int i = 0; i < s->n_slots; i++) {
        finish[i] = NULL;
        if (s->slots[i].entry >= 0) sample_slot(s, &s->slots[i], &finish[i]);
    }
    double secs = (double)(llamac_time_us() - t0) / 1e6;
    if (s->cfg.step_delay_ms > 0) usleep((useconds_t)s->cfg.step_delay_ms * 1000u);
    /* the step's time, shared by its prompt and decode rows */
    double prompt_share = (double)n_prompt_entries / (double)n_entries;
    pthread_mutex_lock(&s->lock);
    s->metrics.steps++;
    s->metrics.prompt_seconds += secs * prompt_share;
    s->metrics.generation_seconds += secs * (1.0 - prompt_share);
    pthread_mutex_unlock(&s->lock);
    return true;
}

/* A failed decode fails every task in the batch; their sequences are
 * cleared (what the cache holds for them is no longer known). */
static void fail_batch_locked(srv *s, const char *msg) {
    for (int i = 0; i < s->n_slots; i++) {
        srv_slot *sl = &s->slots[i];
        if (!sl->task || sl->state == SLOT_IDLE) continue;
        fail_task_locked(s, sl->task, 500, msg);
        llamac_seq_rm(s->ctx, sl->seq, -1, -1);
        sl->n_cache = 0;
        release_slot_locked(s, sl);
    }
}

void *srv_scheduler_main(void *arg) {
    srv *s = arg;
    const char **finish = calloc((size_t)s->n_slots, sizeof *finish);
    pthread_mutex_lock(&s->lock);
    while (finish && !s->stopping) {
        reap_locked(s);
        admit_locked(s);
        if (s->n_busy == 0) {
            pthread_cond_wait(&s->work, &s->lock);
            continue;
        }
        pthread_mutex_unlock(&s->lock);
        llamac_error err = {{0}};
        bool ok = step(s, finish, &err);
        pthread_mutex_lock(&s->lock);
        if (!ok) {
            fprintf(stderr, "llamac serve: decode failed: %s\n", err.msg);
            fail_batch_locked(s, err.msg);
            continue;
        }
        for (int i = 0; i < s->n_slots; i++)
            if (s->slots[i].task && s->slots[i].entry >= 0) publish_locked(s, &s->slots[i], finish[i]);
    }
    /* stopping: whatever runs or waits ends now */
    for (size_t i = 0; i < s->n_queue; i++) {
        fail_task_locked(s, s->queue[i], 503, "the server is shutting down");
        srv_task_release_locked(s, s->queue[i]);
    }
    s->n_queue = 0;
    for (int i = 0; i < s->n_slots; i++) {
        srv_slot *sl = &s->slots[i];
        if (!sl->task) continue;
        if (!sl->task->finished) fail_task_locked(s, sl->task, 503, "the server is shutting down");
        release_slot_locked(s, sl);
    }
    pthread_mutex_unlock(&s->lock);
    free(finish);
    return NULL;
}
