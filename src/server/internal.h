/* Shared structures of the server. Three kinds of thread touch them:
 *
 *   - libmicrohttpd's connection threads (one per connection) parse and
 *     validate requests, tokenize prompts, queue tasks, and turn the
 *     task's output into HTTP responses;
 *   - the scheduler thread owns the llamac context and the slots: each step
 *     it builds one batch (a decode token for every generating slot plus
 *     prompt chunks of newly admitted ones), decodes it and samples;
 *   - the main thread starts and stops both.
 *
 * Everything a connection thread and the scheduler both see (the queue, a
 * task's output, the metrics) is guarded by srv.lock. A task's request is
 * immutable once queued, so the scheduler reads it without the lock. */
#ifndef LLAMAC_SERVER_INTERNAL_H
#define LLAMAC_SERVER_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "llamac.h"
#include "server/server.h"

/* ------------------------------------------------------------- utilities */

/* A growable byte string, always NUL-terminated once anything was added. */
typedef struct srv_buf {
    char *data;
    size_t len, cap;
} srv_buf;

bool srv_buf_append(srv_buf *b, const char *s, size_t n);
bool srv_buf_appendf(srv_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void srv_buf_free(srv_buf *b);

/* Whether s[0..n) is well-formed UTF-8 (no overlongs, surrogates, or code
 * points past U+10FFFF). */
bool srv_utf8_valid(const char *s, size_t n);
/* Copies s[0..n) replacing ill-formed sequences with U+FFFD; malloc'd. */
char *srv_utf8_sanitize(const char *s, size_t n);
/* Compares a secret with a candidate in time that depends only on the
 * secret's length (never returns early at the first differing byte). */
bool srv_secret_equal(const char *secret, const char *candidate);
/* `prefix` followed by 24 random alphanumerics. */
void srv_random_id(char *out, size_t size, const char *prefix);
uint64_t srv_random_u64(void);

/* --------------------------------------------------------------- request */

typedef enum srv_kind { SRV_CHAT, SRV_COMPLETION } srv_kind;

#define SRV_MAX_STOPS 16
#define SRV_MAX_TOP_LOGPROBS 20
#define SRV_MAX_LOGIT_BIAS 300

typedef struct srv_logit_bias {
    llamac_token id;
    float bias;
} srv_logit_bias;

/* A chat message after validation; content parts already joined. */
typedef struct srv_message {
    char *role;
    char *content;
} srv_message;

/* A validated request; everything the scheduler needs, owned here. */
typedef struct srv_request {
    srv_kind kind;
    bool stream;
    bool include_usage;          /* stream_options.include_usage */
    int32_t max_tokens;          /* -1: until the context is full */
    llamac_sampler_params sampling;
    float presence_penalty, frequency_penalty;
    srv_logit_bias *logit_bias;
    size_t n_logit_bias;
    char *stops[SRV_MAX_STOPS];
    size_t n_stops;
    bool logprobs;
    int top_logprobs;
    bool ignore_eos;             /* llama.cpp's extension: generate past end-of-text */
    /* chat: the conversation; completion: the prompt text or ids */
    srv_message *messages;
    size_t n_messages;
    char *prompt_text;
    llamac_token *prompt_ids;    /* given as ids (completion) */
    int32_t n_prompt_ids;
    /* the reply's constraint (at most one of the two texts): GBNF from
     * `grammar`, or a JSON Schema from response_format */
    char *gbnf;
    char *json_schema;
    /* filled by srv_request_tokenize */
    llamac_grammar *grammar;     /* NULL: unconstrained; advanced by the scheduler only */
    llamac_token *prompt;
    int32_t n_prompt;
} srv_request;

/* An OpenAI-style error: HTTP status, message, the offending field. */
typedef struct srv_error {
    int status;
    const char *type;    /* "invalid_request_error", "server_error", ... */
    const char *code;    /* NULL or e.g. "context_length_exceeded" */
    char param[96];      /* "" when no single field is at fault */
    char message[512];
} srv_error;

void srv_error_set(srv_error *e, int status, const char *param, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Parses a request body already known to be a JSON object. `defaults`
 * supply the sampling fields a request leaves out (the seed, unless
 * seed_fixed, is a fresh random one). Returns false with *e filled. */
bool srv_request_parse(srv_request *r, srv_kind kind, const cJSON *body,
                       const llamac_sampler_params *defaults, bool seed_fixed, int32_t n_vocab,
                       srv_error *e);
/* Renders (chat) and tokenizes the prompt into r->prompt. */
bool srv_request_tokenize(srv_request *r, const llamac_model *model, const char *chat_template,
                          srv_error *e);
void srv_request_free(srv_request *r);

/* ------------------------------------------------------------------ task */

/* One generated token's log-probabilities, for `logprobs`. */
typedef struct srv_token_logprob {
    llamac_token id;
    float logprob;
    int n_top;
    llamac_token top_id[SRV_MAX_TOP_LOGPROBS];
    float top_logprob[SRV_MAX_TOP_LOGPROBS];
} srv_token_logprob;

/* Generated output on its way from the scheduler to a connection: the
 * text, how many of its bytes each token produced (so a stream sends one
 * event per token even when it fell behind), and with `logprobs` one entry
 * per token. */
typedef struct srv_output {
    srv_buf text;
    uint32_t *seg;
    size_t n_seg, cap_seg;
    srv_token_logprob *lps;
    size_t n_lps, cap_lps;
} srv_output;

/* Starts a token's segment (lp may be NULL). false when out of memory. */
bool srv_output_begin_token(srv_output *o, const srv_token_logprob *lp);
/* Appends text to the current token's segment. */
bool srv_output_text(srv_output *o, const char *text, size_t len);
/* Moves all of src to the end of dst (src is left empty). */
bool srv_output_move(srv_output *dst, srv_output *src);
void srv_output_clear(srv_output *o);
void srv_output_free(srv_output *o);

/* A request in flight, shared by its connection thread and the scheduler;
 * freed when both have let go (refs). */
typedef struct srv_task {
    srv_request req;
    char id[48];
    int64_t created;         /* Unix seconds */
    int refs;
    pthread_cond_t changed;  /* signalled when output arrives or it ends */
    /* guarded by srv.lock: */
    bool cancelled;          /* the client left, or the server is stopping */
    bool admitted;           /* holds a slot */
    bool finished;
    const char *finish_reason;
    srv_error error;         /* status != 0 when it failed */
    srv_output out;          /* output not yet taken by the connection */
    int32_t n_prompt, n_cached, n_generated;
} srv_task;

/* ---------------------------------------------------------------- server */

typedef enum srv_slot_state { SLOT_IDLE, SLOT_PROMPT, SLOT_GENERATE } srv_slot_state;

/* One sequence of the shared KV cache. `cache` mirrors the tokens the
 * context holds for the sequence, which is what prefix reuse compares. */
typedef struct srv_slot {
    llamac_seq_id seq;
    srv_slot_state state;
    srv_task *task;
    llamac_token *cache;
    int32_t n_cache;
    int32_t n_fed;           /* prompt tokens of the task already in the batch */
    int32_t n_generated, n_max;
    llamac_token next;       /* sampled, to be decoded in the next step */
    int32_t entry;           /* batch entry with this slot's logits, or -1 */
    llamac_sampler *sampler;
    llamac_detokenizer *detok;
    llamac_stop *stop;
    int32_t *counts;         /* per-token counts for presence/frequency penalties */
    float *work;             /* n_vocab scratch: adjusted logits */
    srv_output out;          /* produced this step, moved to the task */
    srv_token_logprob lp;    /* scratch for the token being sampled */
    int64_t last_used_us;
} srv_slot;

typedef struct srv_metrics {
    uint64_t requests_total, requests_rejected, requests_cancelled, requests_failed;
    uint64_t prompt_tokens, prompt_tokens_cached, generated_tokens;
    uint64_t steps;
    double prompt_seconds, generation_seconds;
} srv_metrics;

typedef struct srv {
    srv_config cfg;
    llamac_model *model;
    llamac_context *ctx;
    llamac_batch *batch;
    const char *chat_template;   /* NULL when none is known */
    char alias[256];
    int32_t n_vocab, n_ctx_slot, n_batch;
    int64_t started;             /* Unix seconds */
    atomic_bool ready;           /* the model is loaded */

    pthread_mutex_t lock;
    pthread_cond_t work;         /* wakes the scheduler */
    bool stopping;               /* no new tasks; the scheduler cancels and exits */
    srv_task **queue;            /* waiting tasks, FIFO */
    size_t n_queue;
    srv_slot *slots;
    int n_slots;
    int n_busy;
    int n_tasks;                 /* tasks alive (queued, running, or being sent) */
    pthread_cond_t drained;      /* signalled when n_tasks drops to 0 */
    srv_metrics metrics;

    pthread_t scheduler;
    bool scheduler_started;
    struct MHD_Daemon *daemon;
    int port;
} srv;

/* scheduler.c */
bool srv_scheduler_init(srv *s, llamac_error *err);
void srv_scheduler_free(srv *s);
void *srv_scheduler_main(void *arg);
/* Queues a task (the queue takes a reference). false: queue full (503). */
bool srv_submit(srv *s, srv_task *t, srv_error *e);
srv_task *srv_task_create(srv *s, srv_request *req, const char *id_prefix);
/* Drops one reference; call with s->lock held. */
void srv_task_release_locked(srv *s, srv_task *t);
void srv_task_cancel_locked(srv *s, srv_task *t);

/* format.c: JSON bodies (all malloc'd strings) */
char *srv_format_error(const srv_error *e);
char *srv_format_final(const srv *s, const srv_task *t, const srv_output *o);
/* One SSE event with some text and the logprobs of its tokens; first: the
 * chat role delta; finish_reason: NULL until the end. Appends to out. */
bool srv_format_chunk(const srv *s, const srv_task *t, bool first, const char *text,
                      size_t text_len, const srv_token_logprob *lps, size_t n_lps,
                      const char *finish_reason, size_t *text_offset, srv_buf *out);
bool srv_format_usage_chunk(const srv *s, const srv_task *t, srv_buf *out);
char *srv_format_models(const srv *s);
char *srv_format_metrics(srv *s);
char *srv_format_slots(srv *s);

/* http.c */
bool srv_http_start(srv *s, llamac_error *err);
void srv_http_quiesce(srv *s);
void srv_http_stop(srv *s);

#endif
