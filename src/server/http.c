/* The HTTP side, on libmicrohttpd with one thread per connection.
 *
 * A connection thread reads the body (refusing more than max_body_bytes
 * with a 413), checks the API key and the route, validates and tokenizes
 * the request, and queues a task. It then waits for the task's output: a
 * non-streaming request until the end, a streaming one until the first
 * text (so an early failure is still a plain JSON error with its status),
 * after which a callback response sends server-sent events as output
 * arrives.
 *
 * While it waits, the thread polls its socket: a client that closed the
 * connection (POLLRDHUP) cancels its task, whether it is still queued,
 * reading its prompt or generating, and the scheduler frees the slot at
 * its next step. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "server/internal.h"

/* How often a waiting connection thread looks at its socket. */
#define POLL_INTERVAL_MS 50

/* Per-connection state of one request. */
typedef struct srv_conn {
    srv_buf body;
    bool too_large;
} srv_conn;

/* ------------------------------------------------------------ responses */

/* The Origin header when it is one --cors-origin allows, else NULL. */
static const char *allowed_origin(const srv *s, struct MHD_Connection *c) {
    const char *origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
    if (!origin) return NULL;
    for (size_t i = 0; i < s->cfg.n_cors_origins; i++)
        if (!strcmp(s->cfg.cors_origins[i], "*") || !strcmp(s->cfg.cors_origins[i], origin)) return origin;
    return NULL;
}

static void add_cors(const srv *s, struct MHD_Connection *c, struct MHD_Response *r) {
    const char *origin = allowed_origin(s, c);
    if (!origin) return;
    MHD_add_response_header(r, "Access-Control-Allow-Origin", origin);
    MHD_add_response_header(r, "Vary", "Origin");
}

/* Sends a malloc'd body (taken over; NULL means out of memory). */
static enum MHD_Result send_body(srv *s, struct MHD_Connection *c, unsigned status, const char *type,
                                 char *body) {
    if (!body) {
        static const char oom[] = "{\"error\":{\"message\":\"out of memory\",\"type\":\"server_error\","
                                  "\"param\":null,\"code\":null}}";
        body = strdup(oom);
        status = 500;
        if (!body) return MHD_NO;
    }
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", type);
    add_cors(s, c, r);
    if (status == 503) MHD_add_response_header(r, "Retry-After", "1");
    if (status == 401) MHD_add_response_header(r, "WWW-Authenticate", "Bearer");
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result send_json(srv *s, struct MHD_Connection *c, unsigned status, char *body) {
    return send_body(s, c, status, "application/json", body);
}

static enum MHD_Result send_error(srv *s, struct MHD_Connection *c, const srv_error *e) {
    return send_json(s, c, (unsigned)e->status, srv_format_error(e));
}

static enum MHD_Result send_new_error(srv *s, struct MHD_Connection *c, int status, const char *type,
                                      const char *code, const char *message) {
    srv_error e;
    srv_error_set(&e, status, NULL, "%s", message);
    if (type) e.type = type;
    e.code = code;
    return send_error(s, c, &e);
}

/* ----------------------------------------------------------- the client */

/* True when the peer closed its end (or the socket failed). Pipelined
 * request bytes (plain POLLIN) are not a hang-up. */
static bool client_gone(struct MHD_Connection *c) {
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!ci) return false;
    struct pollfd p = {.fd = ci->connect_fd, .events = POLLRDHUP};
    return poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL));
}

static void deadline_after_ms(struct timespec *ts, int ms) {
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_nsec += (long)ms * 1000000L;
    ts->tv_sec += ts->tv_nsec / 1000000000L;
    ts->tv_nsec %= 1000000000L;
}

static bool has_output(const srv_task *t) { return t->finished || t->out.n_seg > 0; }
static bool is_finished(const srv_task *t) { return t->finished; }

/* Waits (lock held) until ready(t), or cancels the task and returns false
 * when the client left first. */
static bool wait_task_locked(srv *s, srv_task *t, struct MHD_Connection *c, bool (*ready)(const srv_task *)) {
    while (!ready(t)) {
        struct timespec ts;
        deadline_after_ms(&ts, POLL_INTERVAL_MS);
        pthread_cond_timedwait(&t->changed, &s->lock, &ts);
        if (!ready(t) && client_gone(c)) {
            srv_task_cancel_locked(s, t);
            return false;
        }
    }
    return true;
}

/* ------------------------------------------------------------ streaming */

typedef struct srv_stream {
    srv *s;
    srv_task *t;
    struct MHD_Connection *c;
    srv_buf out;        /* formatted events not yet handed to MHD */
    size_t sent;
    bool first;         /* the next chunk is the first (carries the role) */
    bool ended;         /* nothing follows what is in out */
    size_t text_offset; /* completions logprobs: bytes of text so far */
} srv_stream;

/* Formats the next events, one per generated token; false when the
 * client left. */
static bool stream_fill(srv_stream *st) {
    srv *s = st->s;
    srv_task *t = st->t;
    srv_output got = {0};
    pthread_mutex_lock(&s->lock);
    if (!wait_task_locked(s, t, st->c, has_output)) {
        pthread_mutex_unlock(&s->lock);
        return false;
    }
    srv_output_move(&got, &t->out);
    bool finished = t->finished;
    pthread_mutex_unlock(&s->lock);

    st->out.len = st->sent = 0;
    size_t off = 0, lp = 0;
    for (size_t k = 0; k < got.n_seg; k++) {
        size_t n_lp = lp < got.n_lps ? 1 : 0;
        if (got.seg[k] || n_lp || st->first) {
            srv_format_chunk(s, t, st->first, got.text.data ? got.text.data + off : "", got.seg[k],
                             n_lp ? got.lps + lp : NULL, n_lp, NULL,
                             &st->text_offset, &st->out);
            st->first = false;
        }
        off += got.seg[k];
        lp += n_lp;
    }
    if (finished) {
        /* t's end state no longer changes once finished; read without lock */
        if (t->error.status) {
            char *err = srv_format_error(&t->error);
            srv_buf_appendf(&st->out, "data: %s\n\n", err ? err : "{\"error\":{}}");
            free(err);
        } else {
            srv_format_chunk(s, t, st->first, "", 0, NULL, 0, t->finish_reason, &st->text_offset, &st->out);
            if (t->req.include_usage) srv_format_usage_chunk(s, t, &st->out);
            srv_buf_append(&st->out, "data: [DONE]\n\n", 14);
        }
        st->ended = true;
    }
    srv_output_free(&got);
    return true;
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max) {
    (void)pos;
    srv_stream *st = cls;
    while (st->sent == st->out.len) {
        if (st->ended) return MHD_CONTENT_READER_END_OF_STREAM;
        if (!stream_fill(st)) return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    size_t n = st->out.len - st->sent;
    if (n > max) n = max;
    memcpy(buf, st->out.data + st->sent, n);
    st->sent += n;
    return (ssize_t)n;
}

static void stream_free(void *cls) {
    srv_stream *st = cls;
    pthread_mutex_lock(&st->s->lock);
    srv_task_cancel_locked(st->s, st->t); /* no-op when it finished */
    srv_task_release_locked(st->s, st->t);
    pthread_mutex_unlock(&st->s->lock);
    srv_buf_free(&st->out);
    free(st);
}

static enum MHD_Result start_stream(srv *s, struct MHD_Connection *c, srv_task *t) {
    srv_stream *st = calloc(1, sizeof *st);
    if (!st) return MHD_NO;
    *st = (srv_stream){.s = s, .t = t, .c = c, .first = true};
    struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, stream_read,
                                                               st, stream_free);
    if (!r) {
        free(st);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", "text/event-stream");
    MHD_add_response_header(r, "Cache-Control", "no-cache");
    MHD_add_response_header(r, "X-Accel-Buffering", "no"); /* tells nginx not to buffer */
    add_cors(s, c, r);
    enum MHD_Result ret = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r); /* the task reference now belongs to st (stream_free) */
    return ret;
}

/* ---------------------------------------------------------- completions */

static enum MHD_Result handle_completion(srv *s, struct MHD_Connection *c, srv_kind kind, srv_conn *conn) {
    srv_error e = {0};
    cJSON *body = cJSON_ParseWithLength(conn->body.data ? conn->body.data : "", conn->body.len);
    if (!body) {
        srv_error_set(&e, 400, NULL, "the request body is not valid JSON");
        return send_error(s, c, &e);
    }
    srv_request req;
    bool ok = srv_request_parse(&req, kind, body, &s->cfg.sampling, s->cfg.seed_given, s->n_vocab, &e) &&
              srv_request_tokenize(&req, s->model, s->chat_template, &e);
    cJSON_Delete(body);
    if (ok && req.n_prompt >= s->n_ctx_slot) {
        srv_error_set(&e, 400, kind == SRV_CHAT ? "messages" : "prompt",
                      "the prompt is %d tokens; this server's context is %d tokens per request, which "
                      "must hold the prompt and at least one generated token",
                      req.n_prompt, s->n_ctx_slot);
        e.code = "context_length_exceeded";
        ok = false;
    }
    if (!ok) {
        srv_request_free(&req);
        return send_error(s, c, &e);
    }
    bool stream = req.stream;
    srv_task *t = srv_task_create(s, &req, kind == SRV_CHAT ? "chatcmpl-" : "cmpl-");
    if (!t) {
        srv_request_free(&req);
        return send_new_error(s, c, 500, NULL, NULL, "out of memory");
    }
    if (!srv_submit(s, t, &e)) {
        pthread_mutex_lock(&s->lock);
        srv_task_release_locked(s, t);
        pthread_mutex_unlock(&s->lock);
        return send_error(s, c, &e);
    }
    pthread_mutex_lock(&s->lock);
    if (!wait_task_locked(s, t, c, stream ? has_output : is_finished)) {
        srv_task_release_locked(s, t);
        pthread_mutex_unlock(&s->lock);
        return MHD_NO; /* the client is gone: close */
    }
    if (t->finished && t->error.status) {
        srv_error err = t->error;
        srv_task_release_locked(s, t);
        pthread_mutex_unlock(&s->lock);
        return send_error(s, c, &err);
    }
    if (stream) {
        pthread_mutex_unlock(&s->lock);
        return start_stream(s, c, t);
    }
    pthread_mutex_unlock(&s->lock);
    /* finished: the scheduler no longer writes to t */
    char *json = srv_format_final(s, t, &t->out);
    pthread_mutex_lock(&s->lock);
    srv_task_release_locked(s, t);
    pthread_mutex_unlock(&s->lock);
    return send_json(s, c, 200, json);
}

/* ---------------------------------------------------- tokenize & co */

static cJSON *parse_object_body(srv_conn *conn, srv_error *e) {
    cJSON *body = cJSON_ParseWithLength(conn->body.data ? conn->body.data : "", conn->body.len);
    if (!body) srv_error_set(e, 400, NULL, "the request body is not valid JSON");
    else if (!cJSON_IsObject(body)) {
        srv_error_set(e, 400, NULL, "the request body must be a JSON object");
        cJSON_Delete(body);
        body = NULL;
    }
    return body;
}

static bool bool_field(const cJSON *o, const char *name, bool def, srv_error *e, bool *ok) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    if (!v || cJSON_IsNull(v)) return def;
    if (!cJSON_IsBool(v)) {
        srv_error_set(e, 400, name, "'%s' must be a boolean", name);
        *ok = false;
        return def;
    }
    return cJSON_IsTrue(v);
}

static cJSON *piece_value(const llamac_model *model, llamac_token id) {
    char piece[256];
    size_t n = llamac_token_to_piece(model, id, true, piece, sizeof piece);
    if (n > sizeof piece) n = sizeof piece;
    if (srv_utf8_valid(piece, n)) {
        piece[n < sizeof piece ? n : sizeof piece - 1] = 0;
        return cJSON_CreateString(piece);
    }
    cJSON *bytes = cJSON_CreateArray();
    for (size_t i = 0; i < n; i++) cJSON_AddItemToArray(bytes, cJSON_CreateNumber((unsigned char)piece[i]));
    return bytes;
}

static enum MHD_Result handle_tokenize(srv *s, struct MHD_Connection *c, srv_conn *conn) {
    srv_error e = {0};
    cJSON *body = parse_object_body(conn, &e);
    if (!body) return send_error(s, c, &e);
    bool ok = true;
    const cJSON *content = cJSON_GetObjectItemCaseSensitive(body, "content");
    bool add_special = bool_field(body, "add_special", false, &e, &ok);
    bool parse_special = bool_field(body, "parse_special", true, &e, &ok);
    bool with_pieces = bool_field(body, "with_pieces", false, &e, &ok);
    if (ok && !cJSON_IsString(content)) {
        srv_error_set(&e, 400, "content", "'content' is required and must be a string");
        ok = false;
    }
    if (ok && !srv_utf8_valid(content->valuestring, strlen(content->valuestring))) {
        srv_error_set(&e, 400, "content", "'content' is not valid UTF-8");
        ok = false;
    }
    llamac_token *toks = NULL;
    int64_t n = 0;
    if (ok) {
        int flags = (add_special ? LLAMAC_TOKENIZE_ADD_SPECIAL : 0) | (parse_special ? LLAMAC_TOKENIZE_PARSE_SPECIAL : 0);
        size_t len = strlen(content->valuestring);
        llamac_error err = {{0}};
        n = llamac_tokenize(s->model, content->valuestring, len, NULL, 0, flags, &err);
        toks = n >= 0 ? malloc(sizeof *toks * (size_t)(n + 1)) : NULL;
        if (n < 0) srv_error_set(&e, 400, "content", "tokenizing: %s", err.msg);
        else if (!toks) srv_error_set(&e, 500, NULL, "out of memory");
        else llamac_tokenize(s->model, content->valuestring, len, toks, n, flags, &err);
        ok = toks != NULL;
    }
    cJSON_Delete(body);
    if (!ok) return send_error(s, c, &e);
    cJSON *root = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(root, "tokens");
    for (int64_t i = 0; i < n; i++) {
        if (!with_pieces) {
            cJSON_AddItemToArray(arr, cJSON_CreateNumber(toks[i]));
            continue;
        }
        cJSON *item = cJSON_CreateObject();
        cJSON_AddNumberToObject(item, "id", toks[i]);
        cJSON_AddItemToObject(item, "piece", piece_value(s->model, toks[i]));
        cJSON_AddItemToArray(arr, item);
    }
    free(toks);
    char *json = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return send_json(s, c, 200, json);
}

static enum MHD_Result handle_detokenize(srv *s, struct MHD_Connection *c, srv_conn *conn) {
    srv_error e = {0};
    cJSON *body = parse_object_body(conn, &e);
    if (!body) return send_error(s, c, &e);
    const cJSON *tokens = cJSON_GetObjectItemCaseSensitive(body, "tokens");
    if (!cJSON_IsArray(tokens)) {
        cJSON_Delete(body);
        srv_error_set(&e, 400, "tokens", "'tokens' is required and must be an array of token ids");
        return send_error(s, c, &e);
    }
    llamac_detokenizer *d = llamac_detokenizer_create(s->model);
    srv_buf text = {0};
    bool ok = d != NULL;
    int i = 0;
    const cJSON *t;
    cJSON_ArrayForEach(t, tokens) {
        if (!ok) break;
        if (!cJSON_IsNumber(t) || t->valuedouble < 0 || t->valuedouble >= s->n_vocab ||
            t->valuedouble != (double)(int32_t)t->valuedouble) {
            srv_error_set(&e, 400, "tokens", "'tokens[%d]' is not a token id in [0, %d)", i, s->n_vocab);
            ok = false;
            break;
        }
        size_t len;
        const char *piece = llamac_detokenizer_push(d, (llamac_token)t->valuedouble, &len);
        srv_buf_append(&text, piece, len);
        i++;
    }
    if (ok) {
        size_t len;
        const char *rest = llamac_detokenizer_flush(d, &len);
        srv_buf_append(&text, rest, len);
    } else if (!d) {
        srv_error_set(&e, 500, NULL, "out of memory");
    }
    llamac_detokenizer_free(d);
    cJSON_Delete(body);
    if (!ok) {
        srv_buf_free(&text);
        return send_error(s, c, &e);
    }
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "content", text.data ? text.data : "");
    srv_buf_free(&text);
    char *json = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return send_json(s, c, 200, json);
}

/* --------------------------------------------------------------- routes */

typedef enum route_id {
    ROUTE_HEALTH, ROUTE_MODELS, ROUTE_CHAT, ROUTE_COMPLETIONS, ROUTE_TOKENIZE, ROUTE_DETOKENIZE,
    ROUTE_METRICS, ROUTE_SLOTS
} route_id;

typedef struct route {
    const char *path;
    const char *method;
    route_id id;
} route;

static const route routes[] = {
    {"/health", "GET", ROUTE_HEALTH},
    {"/v1/health", "GET", ROUTE_HEALTH},
    {"/v1/models", "GET", ROUTE_MODELS},
    {"/models", "GET", ROUTE_MODELS},
    {"/v1/chat/completions", "POST", ROUTE_CHAT},
    {"/chat/completions", "POST", ROUTE_CHAT},
    {"/v1/completions", "POST", ROUTE_COMPLETIONS},
    {"/completions", "POST", ROUTE_COMPLETIONS},
    {"/tokenize", "POST", ROUTE_TOKENIZE},
    {"/detokenize", "POST", ROUTE_DETOKENIZE},
    {"/metrics", "GET", ROUTE_METRICS},
    {"/slots", "GET", ROUTE_SLOTS},
};

static const route *find_route(const char *url) {
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        if (!strcmp(routes[i].path, url)) return &routes[i];
    return NULL;
}

static bool authorized(const srv *s, struct MHD_Connection *c) {
    if (!s->cfg.api_key) return true;
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    if (!h || strncmp(h, "Bearer ", 7) != 0) return false;
    return srv_secret_equal(s->cfg.api_key, h + 7);
}

static enum MHD_Result preflight(srv *s, struct MHD_Connection *c) {
    struct MHD_Response *r = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    if (!r) return MHD_NO;
    if (allowed_origin(s, c)) {
        add_cors(s, c, r);
        MHD_add_response_header(r, "Access-Control-Allow-Methods", "GET, POST, OPTIONS");
        MHD_add_response_header(r, "Access-Control-Allow-Headers", "Authorization, Content-Type");
        MHD_add_response_header(r, "Access-Control-Max-Age", "600");
    }
    enum MHD_Result ret = MHD_queue_response(c, 204, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result dispatch(srv *s, struct MHD_Connection *c, const char *url, const char *method,
                                srv_conn *conn) {
    if (!strcmp(method, "OPTIONS")) return preflight(s, c);
    const route *rt = find_route(url);
    bool ready = atomic_load(&s->ready);
    if (rt && rt->id == ROUTE_HEALTH) {
        if (!ready) return send_new_error(s, c, 503, "unavailable_error", NULL, "loading the model");
        return send_json(s, c, 200, strdup("{\"status\":\"ok\"}"));
    }
    if (!authorized(s, c))
        return send_new_error(s, c, 401, "invalid_request_error", "invalid_api_key",
                              "missing or incorrect API key: send 'Authorization: Bearer KEY'");
    if (!rt || (rt->id == ROUTE_METRICS && !s->cfg.metrics)) {
        char msg[160];
        snprintf(msg, sizeof msg, "no route for %.10s %.100s", method, url);
        return send_new_error(s, c, 404, "invalid_request_error", "not_found", msg);
    }
    if (strcmp(method, rt->method) != 0) {
        char msg[160];
        snprintf(msg, sizeof msg, "%.100s accepts %s, not %.10s", url, rt->method, method);
        return send_new_error(s, c, 405, "invalid_request_error", "method_not_allowed", msg);
    }
    if (!ready) return send_new_error(s, c, 503, "unavailable_error", NULL, "loading the model");
    switch (rt->id) {
    case ROUTE_MODELS: return send_json(s, c, 200, srv_format_models(s));
    case ROUTE_CHAT: return handle_completion(s, c, SRV_CHAT, conn);
    case ROUTE_COMPLETIONS: return handle_completion(s, c, SRV_COMPLETION, conn);
    case ROUTE_TOKENIZE: return handle_tokenize(s, c, conn);
    case ROUTE_DETOKENIZE: return handle_detokenize(s, c, conn);
    case ROUTE_METRICS: return send_body(s, c, 200, "text/plain; version=0.0.4", srv_format_metrics(s));
    case ROUTE_SLOTS: return send_json(s, c, 200, srv_format_slots(s));
    case ROUTE_HEALTH: break;
    }
    return MHD_NO;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls) {
    (void)version;
    srv *s = cls;
    srv_conn *conn = *con_cls;
    if (!conn) {
        /* first call: headers only */
        conn = calloc(1, sizeof *conn);
        if (!conn) return MHD_NO;
        *con_cls = conn;
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        if (cl && strtoull(cl, NULL, 10) > s->cfg.max_body_bytes) conn->too_large = true;
        if (!conn->too_large) return MHD_YES;
    }
    if (*upload_data_size > 0 && !conn->too_large) {
        if (conn->body.len + *upload_data_size > s->cfg.max_body_bytes) {
            conn->too_large = true;
            srv_buf_free(&conn->body);
        } else if (!srv_buf_append(&conn->body, upload_data, *upload_data_size)) {
            return MHD_NO;
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (conn->too_large) {
        /* answered at once; the rest of the body is not read (the connection
         * is closed after the response) */
        *upload_data_size = 0;
        char msg[128];
        snprintf(msg, sizeof msg, "the request body is larger than %zu bytes", s->cfg.max_body_bytes);
        return send_new_error(s, c, 413, "invalid_request_error", "request_too_large", msg);
    }
    return dispatch(s, c, url, method, conn);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
    (void)cls;
    (void)c;
    (void)toe;
    srv_conn *conn = *con_cls;
    if (!conn) return;
    srv_buf_free(&conn->body);
    free(conn);
    *con_cls = NULL;
}

/* ------------------------------------------------------------ the daemon */

bool srv_http_start(srv *s, llamac_error *err) {
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
    struct addrinfo *ai = NULL;
    int rc = getaddrinfo(s->cfg.host, NULL, &hints, &ai);
    if (rc != 0 || !ai) {
        snprintf(err->msg, sizeof err->msg, "--host %s: %s", s->cfg.host, gai_strerror(rc));
        return false;
    }
    struct sockaddr_storage addr;
    memcpy(&addr, ai->ai_addr, ai->ai_addrlen);
    bool v6 = ai->ai_family == AF_INET6;
    freeaddrinfo(ai);
    if (v6) ((struct sockaddr_in6 *)&addr)->sin6_port = htons((uint16_t)s->cfg.port);
    else ((struct sockaddr_in *)&addr)->sin_port = htons((uint16_t)s->cfg.port);

    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC;
    if (v6) flags |= MHD_USE_IPv6;
    /* a thread per connection: room for every slot and queue place, plus
     * health checks and metrics scrapes */
    unsigned limit = (unsigned)(s->cfg.n_parallel + s->cfg.max_queue + 64);
    s->daemon = MHD_start_daemon(flags, (uint16_t)s->cfg.port, NULL, NULL, on_request, s,
                                 MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
                                 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)s->cfg.timeout_s,
                                 MHD_OPTION_CONNECTION_LIMIT, limit,
                                 MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)64 * 1024,
                                 MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                                 MHD_OPTION_END);
    if (!s->daemon) {
        snprintf(err->msg, sizeof err->msg, "cannot listen on %s port %d (in use, or not an address of this machine)",
                 s->cfg.host, s->cfg.port);
        return false;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : s->cfg.port;
    return true;
}

void srv_http_stop(srv *s) {
    if (!s->daemon) return;
    MHD_stop_daemon(s->daemon);
    s->daemon = NULL;
}

/* Stops accepting connections; those open are served until srv_http_stop. */
void srv_http_quiesce(srv *s) {
    if (!s->daemon) return;
    MHD_socket fd = MHD_quiesce_daemon(s->daemon);
    if (fd != MHD_INVALID_SOCKET) close(fd);
}
