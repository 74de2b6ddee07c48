/* Request validation: OpenAI chat and text completion bodies become a
 * srv_request, or a 400 whose message and `param` name the field at fault.
 * Fields the server does not know are ignored, as the API allows; fields it
 * knows but cannot honour (n > 1, echo, tools, ...) are refused, so a
 * client never gets a silently different answer. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/internal.h"

void srv_error_set(srv_error *e, int status, const char *param, const char *fmt, ...) {
    e->status = status;
    e->type = status >= 500 ? "server_error" : "invalid_request_error";
    e->code = NULL;
    snprintf(e->param, sizeof e->param, "%s", param ? param : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
}

/* Each getter returns 0 when the field is absent or null, 1 when it was
 * read, -1 (with *e set) when it has the wrong type or range. */
static int get_number(const cJSON *o, const char *name, double lo, double hi, double *out,
                      srv_error *e) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    if (!v || cJSON_IsNull(v)) return 0;
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)) {
        srv_error_set(e, 400, name, "'%s' must be a number", name);
        return -1;
    }
    if (v->valuedouble < lo || v->valuedouble > hi) {
        srv_error_set(e, 400, name, "'%s' must be between %g and %g, got %g", name, lo, hi,
                      v->valuedouble);
        return -1;
    }
    *out = v->valuedouble;
    return 1;
}

static int get_int(const cJSON *o, const char *name, double lo, double hi, int64_t *out,
                   srv_error *e) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    if (!v || cJSON_IsNull(v)) return 0;
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || !isfinite(v->valuedouble)) {
        srv_error_set(e, 400, name, "'%s' must be an integer", name);
        return -1;
    }
    if (v->valuedouble < lo || v->valuedouble > hi) {
        srv_error_set(e, 400, name, "'%s' must be between %.0f and %.0f, got %.0f", name, lo, hi,
                      v->valuedouble);
        return -1;
    }
    *out = (int64_t)v->valuedouble;
    return 1;
}

static int get_bool(const cJSON *o, const char *name, bool *out, srv_error *e) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    if (!v || cJSON_IsNull(v)) return 0;
    if (!cJSON_IsBool(v)) {
        srv_error_set(e, 400, name, "'%s' must be a boolean", name);
        return -1;
    }
    *out = cJSON_IsTrue(v);
    return 1;
}

/* A copy of a JSON string that must be valid UTF-8. */
static char *dup_text(const cJSON *v, const char *param, srv_error *e) {
    size_t n = strlen(v->valuestring);
    if (!srv_utf8_valid(v->valuestring, n)) {
        srv_error_set(e, 400, param, "'%s' is not valid UTF-8", param);
        return NULL;
    }
    char *s = malloc(n + 1);
    if (!s) {
        srv_error_set(e, 500, NULL, "out of memory");
        return NULL;
    }
    memcpy(s, v->valuestring, n + 1);
    return s;
}

/* -------------------------------------------------------------- sampling */

static bool parse_sampling(srv_request *r, const cJSON *b, const llamac_sampler_params *defaults,
                           bool seed_fixed, srv_error *e) {
    double d;
    int64_t i;
    int rc;
    r->sampling = *defaults;
    if (!seed_fixed) r->sampling.seed = srv_random_u64();
    if ((rc = get_number(b, "temperature", 0, 2, &d, e)) < 0) return false;
    if (rc) r->sampling.temperature = (float)d;
    if ((rc = get_number(b, "top_p", 0, 1, &d, e)) < 0) return false;
    if (rc) r->sampling.top_p = (float)d;
    if ((rc = get_int(b, "top_k", 0, 1 << 30, &i, e)) < 0) return false;
    if (rc) r->sampling.top_k = (int32_t)i;
    if ((rc = get_number(b, "min_p", 0, 1, &d, e)) < 0) return false;
    if (rc) r->sampling.min_p = (float)d;
    if ((rc = get_number(b, "repeat_penalty", 0, 100, &d, e)) < 0) return false;
    if (rc) r->sampling.repeat_penalty = (float)d;
    /* seeds are int64 in the API; negative ones are kept as their bits */
    if ((rc = get_int(b, "seed", -9.2e18, 9.2e18, &i, e)) < 0) return false;
    if (rc) r->sampling.seed = (uint64_t)i;
    if ((rc = get_number(b, "presence_penalty", -2, 2, &d, e)) < 0) return false;
    if (rc) r->presence_penalty = (float)d;
    if ((rc = get_number(b, "frequency_penalty", -2, 2, &d, e)) < 0) return false;
    if (rc) r->frequency_penalty = (float)d;
    return true;
}

static bool parse_logit_bias(srv_request *r, const cJSON *b, int32_t n_vocab, srv_error *e) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(b, "logit_bias");
    if (!v || cJSON_IsNull(v)) return true;
    if (!cJSON_IsObject(v)) {
        srv_error_set(e, 400, "logit_bias", "'logit_bias' must be an object of token id -> bias");
        return false;
    }
    int n = cJSON_GetArraySize(v);
    if (n > SRV_MAX_LOGIT_BIAS) {
        srv_error_set(e, 400, "logit_bias", "'logit_bias' has %d entries; at most %d are allowed", n,
                      SRV_MAX_LOGIT_BIAS);
        return false;
    }
    r->logit_bias = calloc((size_t)(n > 0 ? n : 1), sizeof *r->logit_bias);
    if (!r->logit_bias) {
        srv_error_set(e, 500, NULL, "out of memory");
        return false;
    }
    const cJSON *item;
    cJSON_ArrayForEach(item, v) {
        char *end;
        long id = strtol(item->string, &end, 10);
        if (end == item->string || *end || id < 0 || id >= n_vocab) {
            srv_error_set(e, 400, "logit_bias", "'logit_bias' key '%.40s' is not a token id below %d",
                          item->string, n_vocab);
            return false;
        }
        if (!cJSON_IsNumber(item) || item->valuedouble < -100 || item->valuedouble > 100) {
            srv_error_set(e, 400, "logit_bias", "'logit_bias' values must be numbers in [-100, 100]");
            return false;
        }
        r->logit_bias[r->n_logit_bias++] = (srv_logit_bias){(llamac_token)id, (float)item->valuedouble};
    }
    return true;
}

static bool parse_stop(srv_request *r, const cJSON *b, srv_error *e) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(b, "stop");
    if (!v || cJSON_IsNull(v)) return true;
    if (cJSON_IsString(v)) {
        if (!(r->stops[0] = dup_text(v, "stop", e))) return false;
        r->n_stops = 1;
        return true;
    }
    if (!cJSON_IsArray(v)) {
        srv_error_set(e, 400, "stop", "'stop' must be a string or an array of strings");
        return false;
    }
    if (cJSON_GetArraySize(v) > SRV_MAX_STOPS) {
        srv_error_set(e, 400, "stop", "'stop' may hold at most %d strings", SRV_MAX_STOPS);
        return false;
    }
    const cJSON *s;
    cJSON_ArrayForEach(s, v) {
        if (!cJSON_IsString(s)) {
            srv_error_set(e, 400, "stop", "'stop' must be a string or an array of strings");
            return false;
        }
        if (!(r->stops[r->n_stops] = dup_text(s, "stop", e))) return false;
        r->n_stops++;
    }
    return true;
}

/* ------------------------------------------------------------ constraint */

/* A copy of a JSON value printed compactly; *e set on failure. */
static char *print_json(const cJSON *v, srv_error *e) {
    char *text = cJSON_PrintUnformatted(v);
    if (!text) srv_error_set(e, 500, NULL, "out of memory");
    return text;
}

/* response_format: "text" (no constraint), "json_object" (any JSON object)
 * or "json_schema" (JSON that json_schema.schema describes). Only the text
 * is kept here; the grammar is built from it in srv_request_tokenize. */
static bool parse_response_format(srv_request *r, const cJSON *rf, srv_error *e) {
    const cJSON *type = cJSON_IsObject(rf) ? cJSON_GetObjectItemCaseSensitive(rf, "type") : NULL;
    if (!cJSON_IsString(type)) {
        srv_error_set(e, 400, "response_format", "'response_format' must be an object with a string 'type'");
        return false;
    }
    if (!strcmp(type->valuestring, "text")) return true;
    if (!strcmp(type->valuestring, "json_object")) {
        r->json_schema = strdup("{\"type\":\"object\"}");
        if (!r->json_schema) srv_error_set(e, 500, NULL, "out of memory");
        return r->json_schema != NULL;
    }
    if (strcmp(type->valuestring, "json_schema") != 0) {
        srv_error_set(e, 400, "response_format.type",
                      "'response_format.type' '%.40s' is not supported (text, json_object or json_schema)",
                      type->valuestring);
        return false;
    }
    const cJSON *js = cJSON_GetObjectItemCaseSensitive(rf, "json_schema");
    if (!cJSON_IsObject(js)) {
        srv_error_set(e, 400, "response_format.json_schema",
                      "'response_format.json_schema' must be an object with a 'schema'");
        return false;
    }
    const cJSON *schema = cJSON_GetObjectItemCaseSensitive(js, "schema");
    if (!cJSON_IsObject(schema) && !cJSON_IsBool(schema)) {
        srv_error_set(e, 400, "response_format.json_schema.schema",
                      "'response_format.json_schema.schema' must be a JSON Schema object");
        return false;
    }
    return (r->json_schema = print_json(schema, e)) != NULL;
}

/* A constraint on the reply: llama.cpp's `grammar` (GBNF text) or
 * response_format; not both, since one reply cannot follow two. */
static bool parse_constraint(srv_request *r, const cJSON *b, srv_error *e) {
    const cJSON *rf = cJSON_GetObjectItemCaseSensitive(b, "response_format");
    const cJSON *g = cJSON_GetObjectItemCaseSensitive(b, "grammar");
    if (g && !cJSON_IsNull(g)) {
        if (!cJSON_IsString(g)) {
            srv_error_set(e, 400, "grammar", "'grammar' must be a string of GBNF rules");
            return false;
        }
        if (rf && !cJSON_IsNull(rf)) {
            srv_error_set(e, 400, "grammar", "'grammar' and 'response_format' cannot both be given");
            return false;
        }
        /* an empty grammar is no grammar, as in llama.cpp */
        if (!g->valuestring[0]) return true;
        return (r->gbnf = dup_text(g, "grammar", e)) != NULL;
    }
    if (rf && !cJSON_IsNull(rf)) return parse_response_format(r, rf, e);
    return true;
}

/* Fields every kind of completion shares. */
static bool parse_common(srv_request *r, const cJSON *b, const llamac_sampler_params *defaults,
                         bool seed_fixed, int32_t n_vocab, srv_error *e) {
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(b, "model");
    if (model && !cJSON_IsString(model) && !cJSON_IsNull(model)) {
        srv_error_set(e, 400, "model", "'model' must be a string");
        return false;
    }
    int64_t i;
    int rc;
    if ((rc = get_int(b, "n", 1, 128, &i, e)) < 0) return false;
    if (rc && i != 1) {
        srv_error_set(e, 400, "n", "'n' must be 1: one choice per request is supported");
        return false;
    }
    if (get_bool(b, "stream", &r->stream, e) < 0) return false;
    if (get_bool(b, "ignore_eos", &r->ignore_eos, e) < 0) return false;
    const cJSON *so = cJSON_GetObjectItemCaseSensitive(b, "stream_options");
    if (so && !cJSON_IsNull(so)) {
        if (!cJSON_IsObject(so)) {
            srv_error_set(e, 400, "stream_options", "'stream_options' must be an object");
            return false;
        }
        if (get_bool(so, "include_usage", &r->include_usage, e) < 0) {
            snprintf(e->param, sizeof e->param, "stream_options.include_usage");
            return false;
        }
    }
    /* the two names of the generation limit; the newer one wins */
    r->max_tokens = -1;
    if ((rc = get_int(b, "max_tokens", 1, INT32_MAX, &i, e)) < 0) return false;
    if (rc) r->max_tokens = (int32_t)i;
    if ((rc = get_int(b, "max_completion_tokens", 1, INT32_MAX, &i, e)) < 0) return false;
    if (rc) r->max_tokens = (int32_t)i;
    if (!parse_constraint(r, b, e)) return false;
    const cJSON *tools = cJSON_GetObjectItemCaseSensitive(b, "tools");
    if (tools && !cJSON_IsNull(tools) && !(cJSON_IsArray(tools) && cJSON_GetArraySize(tools) == 0)) {
        srv_error_set(e, 400, "tools", "'tools' (function calling) is not supported");
        return false;
    }
    return parse_sampling(r, b, defaults, seed_fixed, e) && parse_logit_bias(r, b, n_vocab, e) &&
           parse_stop(r, b, e);
}

/* ------------------------------------------------------------------ chat */

static bool known_role(const char *role) {
    static const char *const roles[] = {"system", "developer", "user", "assistant"};
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++)
        if (!strcmp(role, roles[i])) return true;
    return false;
}

/* A message's content: a string, or an array of {"type":"text"} parts
 * joined with newlines. */
static char *parse_content(const cJSON *c, size_t idx, bool may_be_null, srv_error *e) {
    char param[64];
    snprintf(param, sizeof param, "messages[%zu].content", idx);
    if ((!c || cJSON_IsNull(c)) && may_be_null) {
        char *s = calloc(1, 1);
        if (!s) srv_error_set(e, 500, NULL, "out of memory");
        return s;
    }
    if (cJSON_IsString(c)) return dup_text(c, param, e);
    if (!cJSON_IsArray(c) || cJSON_GetArraySize(c) == 0) {
        srv_error_set(e, 400, param, "'%s' must be a string or a non-empty array of text parts", param);
        return NULL;
    }
    srv_buf joined = {0};
    size_t j = 0;
    const cJSON *part;
    cJSON_ArrayForEach(part, c) {
        char pparam[96];
        snprintf(pparam, sizeof pparam, "%s[%zu]", param, j);
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(part, "type");
        const cJSON *text = cJSON_GetObjectItemCaseSensitive(part, "text");
        if (!cJSON_IsObject(part) || !cJSON_IsString(type)) {
            srv_error_set(e, 400, pparam, "'%s' must be an object with a string 'type'", pparam);
            goto fail;
        }
        if (strcmp(type->valuestring, "text") != 0) {
            srv_error_set(e, 400, pparam, "'%s': content parts of type '%.40s' are not supported (only 'text')",
                          pparam, type->valuestring);
            goto fail;
        }
        if (!cJSON_IsString(text)) {
            srv_error_set(e, 400, pparam, "'%s.text' must be a string", pparam);
            goto fail;
        }
        if (!srv_utf8_valid(text->valuestring, strlen(text->valuestring))) {
            srv_error_set(e, 400, pparam, "'%s.text' is not valid UTF-8", pparam);
            goto fail;
        }
        if ((j > 0 && !srv_buf_append(&joined, "\n", 1)) ||
            !srv_buf_append(&joined, text->valuestring, strlen(text->valuestring))) {
            srv_error_set(e, 500, NULL, "out of memory");
            goto fail;
        }
        j++;
    }
    return joined.data;
fail:
    srv_buf_free(&joined);
    return NULL;
}

static bool parse_messages(srv_request *r, const cJSON *b, srv_error *e) {
    const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(b, "messages");
    if (!msgs) {
        srv_error_set(e, 400, "messages", "'messages' is required");
        return false;
    }
    if (!cJSON_IsArray(msgs)) {
        srv_error_set(e, 400, "messages", "'messages' must be an array");
        return false;
    }
    int n = cJSON_GetArraySize(msgs);
    if (n == 0) {
        srv_error_set(e, 400, "messages", "'messages' must hold at least one message");
        return false;
    }
    r->messages = calloc((size_t)n, sizeof *r->messages);
    if (!r->messages) {
        srv_error_set(e, 500, NULL, "out of memory");
        return false;
    }
    const cJSON *m;
    cJSON_ArrayForEach(m, msgs) {
        size_t idx = r->n_messages;
        char param[64];
        snprintf(param, sizeof param, "messages[%zu]", idx);
        if (!cJSON_IsObject(m)) {
            srv_error_set(e, 400, param, "'%s' must be an object", param);
            return false;
        }
        const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
        snprintf(param, sizeof param, "messages[%zu].role", idx);
        if (!cJSON_IsString(role)) {
            srv_error_set(e, 400, param, "'%s' must be a string", param);
            return false;
        }
        if (!known_role(role->valuestring)) {
            srv_error_set(e, 400, param, "'%s' is '%.40s'; expected system, developer, user or assistant",
                          param, role->valuestring);
            return false;
        }
        bool assistant = !strcmp(role->valuestring, "assistant");
        char *content = parse_content(cJSON_GetObjectItemCaseSensitive(m, "content"), idx, assistant, e);
        if (!content) return false;
        /* the templates know "system"; OpenAI's newer name for it is "developer" */
        const char *as = !strcmp(role->valuestring, "developer") ? "system" : role->valuestring;
        r->messages[idx].content = content;
        r->messages[idx].role = strdup(as);
        r->n_messages++;
        if (!r->messages[idx].role) {
            srv_error_set(e, 500, NULL, "out of memory");
            return false;
        }
    }
    return true;
}

static bool parse_chat(srv_request *r, const cJSON *b, srv_error *e) {
    if (!parse_messages(r, b, e)) return false;
    int64_t i;
    int rc;
    if (get_bool(b, "logprobs", &r->logprobs, e) < 0) return false;
    if ((rc = get_int(b, "top_logprobs", 0, SRV_MAX_TOP_LOGPROBS, &i, e)) < 0) return false;
    if (rc) {
        if (!r->logprobs) {
            srv_error_set(e, 400, "top_logprobs", "'top_logprobs' needs 'logprobs': true");
            return false;
        }
        r->top_logprobs = (int)i;
    }
    return true;
}

/* ------------------------------------------------------------ completion */

static bool parse_prompt_ids(srv_request *r, const cJSON *arr, int32_t n_vocab, srv_error *e) {
    int n = cJSON_GetArraySize(arr);
    r->prompt_ids = malloc(sizeof *r->prompt_ids * (size_t)(n > 0 ? n : 1));
    if (!r->prompt_ids) {
        srv_error_set(e, 500, NULL, "out of memory");
        return false;
    }
    const cJSON *t;
    cJSON_ArrayForEach(t, arr) {
        if (!cJSON_IsNumber(t) || t->valuedouble != floor(t->valuedouble) || t->valuedouble < 0 ||
            t->valuedouble >= n_vocab) {
            srv_error_set(e, 400, "prompt", "'prompt[%d]' is not a token id in [0, %d)", r->n_prompt_ids,
                          n_vocab);
            return false;
        }
        r->prompt_ids[r->n_prompt_ids++] = (llamac_token)t->valuedouble;
    }
    return true;
}

static bool parse_prompt(srv_request *r, const cJSON *b, int32_t n_vocab, srv_error *e) {
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(b, "prompt");
    if (!p) {
        srv_error_set(e, 400, "prompt", "'prompt' is required");
        return false;
    }
    /* a one-element array of a string or of token ids is the same prompt */
    if (cJSON_IsArray(p) && cJSON_GetArraySize(p) == 1 &&
        (cJSON_IsString(p->child) || cJSON_IsArray(p->child)))
        p = p->child;
    if (cJSON_IsString(p)) return (r->prompt_text = dup_text(p, "prompt", e)) != NULL;
    if (cJSON_IsArray(p)) {
        if (cJSON_GetArraySize(p) == 0) {
            srv_error_set(e, 400, "prompt", "'prompt' is empty");
            return false;
        }
        if (cJSON_IsString(p->child) || cJSON_IsArray(p->child)) {
            srv_error_set(e, 400, "prompt", "'prompt' holds several prompts; send one per request");
            return false;
        }
        return parse_prompt_ids(r, p, n_vocab, e);
    }
    srv_error_set(e, 400, "prompt", "'prompt' must be a string or an array of token ids");
    return false;
}

static bool parse_completion(srv_request *r, const cJSON *b, int32_t n_vocab, srv_error *e) {
    if (!parse_prompt(r, b, n_vocab, e)) return false;
    int64_t i;
    int rc;
    bool echo = false;
    if (get_bool(b, "echo", &echo, e) < 0) return false;
    if (echo) {
        srv_error_set(e, 400, "echo", "'echo' is not supported");
        return false;
    }
    const cJSON *suffix = cJSON_GetObjectItemCaseSensitive(b, "suffix");
    if (suffix && !cJSON_IsNull(suffix) && !(cJSON_IsString(suffix) && !suffix->valuestring[0])) {
        srv_error_set(e, 400, "suffix", "'suffix' is not supported");
        return false;
    }
    if ((rc = get_int(b, "best_of", 0, 20, &i, e)) < 0) return false;
    if (rc && i > 1) {
        srv_error_set(e, 400, "best_of", "'best_of' must be 1");
        return false;
    }
    /* legacy completions: `logprobs` is the number of alternatives */
    if ((rc = get_int(b, "logprobs", 0, 5, &i, e)) < 0) return false;
    if (rc) {
        r->logprobs = true;
        r->top_logprobs = (int)i;
    }
    /* the API's default for this endpoint */
    if (r->max_tokens < 0) r->max_tokens = 16;
    return true;
}

bool srv_request_parse(srv_request *r, srv_kind kind, const cJSON *body,
                       const llamac_sampler_params *defaults, bool seed_fixed, int32_t n_vocab,
                       srv_error *e) {
    memset(r, 0, sizeof *r);
    r->kind = kind;
    if (!cJSON_IsObject(body)) {
        srv_error_set(e, 400, NULL, "the request body must be a JSON object");
        return false;
    }
    if (!parse_common(r, body, defaults, seed_fixed, n_vocab, e)) return false;
    return kind == SRV_CHAT ? parse_chat(r, body, e) : parse_completion(r, body, n_vocab, e);
}

/* ------------------------------------------------------------ tokenizing */

static bool tokenize(srv_request *r, const llamac_model *model, const char *text, size_t len,
                     int flags, srv_error *e) {
    llamac_error err = {{0}};
    int64_t n = llamac_tokenize(model, text, len, NULL, 0, flags, &err);
    if (n < 0) {
        srv_error_set(e, 400, r->kind == SRV_CHAT ? "messages" : "prompt", "tokenizing: %s", err.msg);
        return false;
    }
    if (n > INT32_MAX - 1) {
        srv_error_set(e, 400, r->kind == SRV_CHAT ? "messages" : "prompt", "the prompt is too long");
        return false;
    }
    r->prompt = malloc(sizeof *r->prompt * (size_t)(n + 1));
    if (!r->prompt) {
        srv_error_set(e, 500, NULL, "out of memory");
        return false;
    }
    llamac_tokenize(model, text, len, r->prompt, n, flags, &err);
    r->n_prompt = (int32_t)n;
    return true;
}

static bool render_chat(srv_request *r, const llamac_model *model, const char *tmpl, srv_error *e) {
    if (!tmpl) {
        srv_error_set(e, 400, "messages", "the model has no chat template llamac knows; start the server "
                      "with --chat-template, or use /v1/completions");
        return false;
    }
    llamac_chat_message *msgs = malloc(sizeof *msgs * r->n_messages);
    if (!msgs) {
        srv_error_set(e, 500, NULL, "out of memory");
        return false;
    }
    for (size_t i = 0; i < r->n_messages; i++) msgs[i] = (llamac_chat_message){r->messages[i].role, r->messages[i].content};
    llamac_error err = {{0}};
    int64_t need = llamac_chat_render(tmpl, msgs, r->n_messages, true, NULL, 0, &err);
    char *text = need >= 0 ? malloc((size_t)need + 1) : NULL;
    bool ok = false;
    if (need < 0) srv_error_set(e, 400, "messages", "%s", err.msg);
    else if (!text) srv_error_set(e, 500, NULL, "out of memory");
    else {
        llamac_chat_render(tmpl, msgs, r->n_messages, true, text, (size_t)need + 1, &err);
        /* the rendered text carries its own BOS text */
        ok = tokenize(r, model, text, (size_t)need, LLAMAC_TOKENIZE_PARSE_SPECIAL, e);
    }
    free(text);
    free(msgs);
    return ok;
}

/* Builds the request's grammar. This sorts the vocabulary (tens of ms for
 * a large one), so it happens here on the connection's thread rather than
 * in the scheduler's step loop. */
static bool build_grammar(srv_request *r, const llamac_model *model, srv_error *e) {
    if (!r->gbnf && !r->json_schema) return true;
    llamac_error err = {{0}};
    if (r->gbnf) r->grammar = llamac_grammar_create(model, r->gbnf, NULL, &err);
    else r->grammar = llamac_grammar_from_json_schema(model, r->json_schema, &err);
    if (!r->grammar) {
        srv_error_set(e, 400, r->gbnf ? "grammar" : "response_format", "%s: %s",
                      r->gbnf ? "grammar" : "response_format", err.msg[0] ? err.msg : "invalid");
        return false;
    }
    return true;
}

bool srv_request_tokenize(srv_request *r, const llamac_model *model, const char *chat_template,
                          srv_error *e) {
    if (!build_grammar(r, model, e)) return false;
    bool ok;
    if (r->kind == SRV_CHAT) {
        ok = render_chat(r, model, chat_template, e);
    } else if (r->prompt_ids) {
        r->prompt = malloc(sizeof *r->prompt * (size_t)(r->n_prompt_ids + 1));
        if (!r->prompt) {
            srv_error_set(e, 500, NULL, "out of memory");
            return false;
        }
        memcpy(r->prompt, r->prompt_ids, sizeof *r->prompt * (size_t)r->n_prompt_ids);
        r->n_prompt = r->n_prompt_ids;
        ok = true;
    } else {
        /* as `llamac run` does: BOS as the model asks, special-token text
         * stays text */
        ok = tokenize(r, model, r->prompt_text, strlen(r->prompt_text), LLAMAC_TOKENIZE_ADD_SPECIAL, e);
    }
    if (ok && r->n_prompt == 0) {
        /* generation needs one token to start from */
        llamac_token bos = llamac_token_bos(model);
        if (bos < 0) {
            srv_error_set(e, 400, r->kind == SRV_CHAT ? "messages" : "prompt",
                          "the prompt is empty and the model has no BOS token to start from");
            return false;
        }
        r->prompt[0] = bos;
        r->n_prompt = 1;
    }
    return ok;
}

void srv_request_free(srv_request *r) {
    for (size_t i = 0; i < r->n_messages; i++) {
        free(r->messages[i].role);
        free(r->messages[i].content);
    }
    free(r->messages);
    for (size_t i = 0; i < r->n_stops; i++) free(r->stops[i]);
    free(r->logit_bias);
    free(r->prompt_text);
    free(r->prompt_ids);
    free(r->prompt);
    free(r->gbnf);
    free(r->json_schema);
    llamac_grammar_free(r->grammar);
    memset(r, 0, sizeof *r);
}
