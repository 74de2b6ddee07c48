/* Response bodies in the shapes of the OpenAI API: chat.completion,
 * chat.completion.chunk and text_completion objects, error bodies, the
 * model list, and the Prometheus text of /metrics. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/internal.h"

char *srv_format_error(const srv_error *e) {
    cJSON *root = cJSON_CreateObject();
    cJSON *err = cJSON_AddObjectToObject(root, "error");
    cJSON_AddStringToObject(err, "message", e->message);
    cJSON_AddStringToObject(err, "type", e->type ? e->type : "invalid_request_error");
    if (e->param[0]) cJSON_AddStringToObject(err, "param", e->param);
    else cJSON_AddNullToObject(err, "param");
    if (e->code) cJSON_AddStringToObject(err, "code", e->code);
    else cJSON_AddNullToObject(err, "code");
    char *s = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return s;
}

/* ----------------------------------------------------------- log-probs */

/* The token's bytes as text (ill-formed bytes as U+FFFD) and as a list. */
static void add_token_fields(cJSON *o, const llamac_model *model, llamac_token id, bool with_bytes) {
    char piece[256];
    size_t n = llamac_token_to_piece(model, id, true, piece, sizeof piece);
    if (n > sizeof piece) n = sizeof piece;
    char *text = srv_utf8_sanitize(piece, n);
    cJSON_AddStringToObject(o, "token", text ? text : "");
    free(text);
    if (!with_bytes) return;
    cJSON *bytes = cJSON_AddArrayToObject(o, "bytes");
    for (size_t i = 0; i < n; i++) cJSON_AddItemToArray(bytes, cJSON_CreateNumber((unsigned char)piece[i]));
}

/* chat: {"content":[{token, logprob, bytes, top_logprobs:[...]}], "refusal":null} */
static cJSON *chat_logprobs(const srv *s, const srv_token_logprob *lps, size_t n) {
    cJSON *root = cJSON_CreateObject();
    cJSON *content = cJSON_AddArrayToObject(root, "content");
    for (size_t i = 0; i < n; i++) {
        cJSON *item = cJSON_CreateObject();
        add_token_fields(item, s->model, lps[i].id, true);
        cJSON_AddNumberToObject(item, "logprob", lps[i].logprob);
        cJSON *top = cJSON_AddArrayToObject(item, "top_logprobs");
        for (int k = 0; k < lps[i].n_top; k++) {
            cJSON *t = cJSON_CreateObject();
            add_token_fields(t, s->model, lps[i].top_id[k], true);
            cJSON_AddNumberToObject(t, "logprob", lps[i].top_logprob[k]);
            cJSON_AddItemToArray(top, t);
        }
        cJSON_AddItemToArray(content, item);
    }
    cJSON_AddNullToObject(root, "refusal");
    return root;
}

/* legacy completions: parallel arrays; text_offset counts bytes of the
 * generated text (continued across stream chunks through *offset) */
static cJSON *completion_logprobs(const srv *s, const srv_token_logprob *lps, size_t n, size_t *offset) {
    cJSON *root = cJSON_CreateObject();
    cJSON *tokens = cJSON_AddArrayToObject(root, "tokens");
    cJSON *token_lps = cJSON_AddArrayToObject(root, "token_logprobs");
    cJSON *top = cJSON_AddArrayToObject(root, "top_logprobs");
    cJSON *offsets = cJSON_AddArrayToObject(root, "text_offset");
    for (size_t i = 0; i < n; i++) {
        cJSON *tmp = cJSON_CreateObject();
        add_token_fields(tmp, s->model, lps[i].id, false);
        const char *tok = cJSON_GetObjectItem(tmp, "token")->valuestring;
        cJSON_AddItemToArray(tokens, cJSON_CreateString(tok));
        cJSON_AddItemToArray(offsets, cJSON_CreateNumber((double)*offset));
        *offset += strlen(tok);
        cJSON_Delete(tmp);
        cJSON_AddItemToArray(token_lps, cJSON_CreateNumber(lps[i].logprob));
        cJSON *alts = cJSON_CreateObject();
        for (int k = 0; k < lps[i].n_top; k++) {
            cJSON *t = cJSON_CreateObject();
            add_token_fields(t, s->model, lps[i].top_id[k], false);
            const char *name = cJSON_GetObjectItem(t, "token")->valuestring;
            if (!cJSON_GetObjectItemCaseSensitive(alts, name))
                cJSON_AddNumberToObject(alts, name, lps[i].top_logprob[k]);
            cJSON_Delete(t);
        }
        cJSON_AddItemToArray(top, alts);
    }
    return root;
}

static cJSON *logprobs_object(const srv *s, const srv_task *t, const srv_token_logprob *lps, size_t n,
                              size_t *offset) {
    if (!t->req.logprobs) return cJSON_CreateNull();
    return t->req.kind == SRV_CHAT ? chat_logprobs(s, lps, n) : completion_logprobs(s, lps, n, offset);
}

/* ------------------------------------------------------------ responses */

static cJSON *usage_object(const srv_task *t) {
    cJSON *u = cJSON_CreateObject();
    cJSON_AddNumberToObject(u, "prompt_tokens", t->n_prompt);
    cJSON_AddNumberToObject(u, "completion_tokens", t->n_generated);
    cJSON_AddNumberToObject(u, "total_tokens", t->n_prompt + t->n_generated);
    cJSON *details = cJSON_AddObjectToObject(u, "prompt_tokens_details");
    cJSON_AddNumberToObject(details, "cached_tokens", t->n_cached);
    return u;
}

static cJSON *envelope(const srv *s, const srv_task *t, const char *object) {
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "id", t->id);
    cJSON_AddStringToObject(root, "object", object);
    cJSON_AddNumberToObject(root, "created", (double)t->created);
    cJSON_AddStringToObject(root, "model", s->alias);
    cJSON_AddStringToObject(root, "system_fingerprint", "llamac-" LLAMAC_VERSION);
    return root;
}

static cJSON *string_or_null(const char *s) { return s ? cJSON_CreateString(s) : cJSON_CreateNull(); }

char *srv_format_final(const srv *s, const srv_task *t, const srv_output *o) {
    const char *text = o->text.data ? o->text.data : "";
    size_t text_len = o->text.len;
    bool chat = t->req.kind == SRV_CHAT;
    cJSON *root = envelope(s, t, chat ? "chat.completion" : "text_completion");
    cJSON *choices = cJSON_AddArrayToObject(root, "choices");
    cJSON *choice = cJSON_CreateObject();
    cJSON_AddItemToArray(choices, choice);
    cJSON_AddNumberToObject(choice, "index", 0);
    char *copy = malloc(text_len + 1);
    if (copy) {
        memcpy(copy, text, text_len);
        copy[text_len] = 0;
    }
    if (chat) {
        cJSON *msg = cJSON_AddObjectToObject(choice, "message");
        cJSON_AddStringToObject(msg, "role", "assistant");
        cJSON_AddStringToObject(msg, "content", copy ? copy : "");
        cJSON_AddNullToObject(msg, "refusal");
    } else {
        cJSON_AddStringToObject(choice, "text", copy ? copy : "");
    }
    free(copy);
    size_t offset = 0;
    cJSON_AddItemToObject(choice, "logprobs", logprobs_object(s, t, o->lps, o->n_lps, &offset));
    cJSON_AddItemToObject(choice, "finish_reason", string_or_null(t->finish_reason));
    cJSON_AddItemToObject(root, "usage", usage_object(t));
    char *out = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return out;
}

static bool append_event(srv_buf *out, cJSON *root) {
    char *json = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (!json) return false;
    bool ok = srv_buf_append(out, "data: ", 6) && srv_buf_append(out, json, strlen(json)) &&
              srv_buf_append(out, "\n\n", 2);
    free(json);
    return ok;
}

bool srv_format_chunk(const srv *s, const srv_task *t, bool first, const char *text,
                      size_t text_len, const srv_token_logprob *lps, size_t n_lps,
                      const char *finish_reason, size_t *text_offset, srv_buf *out) {
    bool chat = t->req.kind == SRV_CHAT;
    cJSON *root = envelope(s, t, chat ? "chat.completion.chunk" : "text_completion");
    cJSON *choices = cJSON_AddArrayToObject(root, "choices");
    cJSON *choice = cJSON_CreateObject();
    cJSON_AddItemToArray(choices, choice);
    cJSON_AddNumberToObject(choice, "index", 0);
    char *copy = malloc(text_len + 1);
    if (!copy) {
        cJSON_Delete(root);
        return false;
    }
    memcpy(copy, text, text_len);
    copy[text_len] = 0;
    if (chat) {
        cJSON *delta = cJSON_AddObjectToObject(choice, "delta");
        if (first) cJSON_AddStringToObject(delta, "role", "assistant");
        if (first || text_len > 0) cJSON_AddStringToObject(delta, "content", copy);
    } else {
        cJSON_AddStringToObject(choice, "text", copy);
    }
    free(copy);
    cJSON_AddItemToObject(choice, "logprobs",
                          n_lps ? logprobs_object(s, t, lps, n_lps, text_offset) : cJSON_CreateNull());
    cJSON_AddItemToObject(choice, "finish_reason", string_or_null(finish_reason));
    /* with include_usage every chunk but the last carries "usage": null */
    if (t->req.include_usage) cJSON_AddNullToObject(root, "usage");
    return append_event(out, root);
}

bool srv_format_usage_chunk(const srv *s, const srv_task *t, srv_buf *out) {
    cJSON *root = envelope(s, t, t->req.kind == SRV_CHAT ? "chat.completion.chunk" : "text_completion");
    cJSON_AddArrayToObject(root, "choices");
    cJSON_AddItemToObject(root, "usage", usage_object(t));
    return append_event(out, root);
}

char *srv_format_models(const srv *s) {
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "object", "list");
    cJSON *data = cJSON_AddArrayToObject(root, "data");
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "id", s->alias);
    cJSON_AddStringToObject(m, "object", "model");
    cJSON_AddNumberToObject(m, "created", (double)s->started);
    cJSON_AddStringToObject(m, "owned_by", "llamac");
    cJSON_AddItemToArray(data, m);
    char *out = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return out;
}

/* -------------------------------------------------------------- metrics */

static void metric(srv_buf *b, const char *name, const char *type, const char *help, double value) {
    srv_buf_appendf(b, "# HELP llamac_%s %s\n# TYPE llamac_%s %s\nllamac_%s %.17g\n", name, help, name,
                    type, name, value);
}

char *srv_format_metrics(srv *s) {
    pthread_mutex_lock(&s->lock);
    srv_metrics m = s->metrics;
    size_t queued = s->n_queue;
    int busy = s->n_busy;
    pthread_mutex_unlock(&s->lock);
    srv_buf b = {0};
    metric(&b, "requests_total", "counter", "completion requests accepted", (double)m.requests_total);
    metric(&b, "requests_rejected_total", "counter", "completion requests refused because the queue was full",
           (double)m.requests_rejected);
    metric(&b, "requests_cancelled_total", "counter", "requests whose client left before the end",
           (double)m.requests_cancelled);
    metric(&b, "requests_failed_total", "counter", "requests that ended with a server error",
           (double)m.requests_failed);
    metric(&b, "prompt_tokens_total", "counter", "prompt tokens of finished and running requests",
           (double)m.prompt_tokens);
    metric(&b, "prompt_tokens_cached_total", "counter", "prompt tokens reused from the KV cache",
           (double)m.prompt_tokens_cached);
    metric(&b, "generated_tokens_total", "counter", "tokens generated", (double)m.generated_tokens);
    metric(&b, "decode_steps_total", "counter", "batches decoded", (double)m.steps);
    metric(&b, "prompt_seconds_total", "counter", "decode time attributed to prompt tokens", m.prompt_seconds);
    metric(&b, "generation_seconds_total", "counter", "decode time attributed to generated tokens",
           m.generation_seconds);
    metric(&b, "prompt_tokens_per_second", "gauge", "prompt throughput since start",
           m.prompt_seconds > 0 ? (double)(m.prompt_tokens - m.prompt_tokens_cached) / m.prompt_seconds : 0);
    metric(&b, "generation_tokens_per_second", "gauge", "generation throughput since start",
           m.generation_seconds > 0 ? (double)m.generated_tokens / m.generation_seconds : 0);
    metric(&b, "queue_length", "gauge", "requests waiting for a slot", (double)queued);
    metric(&b, "slots_busy", "gauge", "slots running a request", busy);
    metric(&b, "slots_total", "gauge", "slots (--parallel)", s->n_slots);
    return b.data;
}

char *srv_format_slots(srv *s) {
    cJSON *root = cJSON_CreateArray();
    pthread_mutex_lock(&s->lock);
    for (int i = 0; i < s->n_slots; i++) {
        const srv_slot *sl = &s->slots[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "id", i);
        cJSON_AddBoolToObject(o, "is_processing", sl->task != NULL);
        cJSON_AddNumberToObject(o, "n_ctx", s->n_ctx_slot);
        if (sl->task) {
            cJSON_AddStringToObject(o, "id_task", sl->task->id);
            cJSON_AddNumberToObject(o, "n_decoded", sl->task->n_generated);
        }
        cJSON_AddItemToArray(root, o);
    }
    pthread_mutex_unlock(&s->lock);
    char *out = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return out;
}
