/* llamac chat: a multi-turn conversation that keeps the KV cache between
 * turns.
 *
 * Each turn renders the whole conversation with the chat template,
 * tokenizes it, and evaluates only what differs from the tokens already in
 * the cache (normally just the new user turn and the assistant header; a
 * reply whose text tokenizes differently from how it was generated costs a
 * few extra tokens). When the conversation no longer fits, the oldest
 * user/assistant exchanges are dropped (the system message stays) and the
 * rest is evaluated again. */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cli_grammar.h"

static const char usage_text[] =
    "usage: llamac chat -m FILE [options]\n"
    "\n"
    "Talks with an instruct model, one turn at a time, keeping the conversation\n"
    "(and its KV cache) between turns. Replies stream to stdout.\n"
    "\n"
    "On a terminal: type a message and press Enter (end a line with '\\' to\n"
    "continue the message on the next line). Ctrl-C stops the current reply;\n"
    "/reset starts a new conversation; /exit or Ctrl-D quits.\n"
    "When stdin is not a terminal: each line of stdin is one user message (empty\n"
    "lines are skipped, /reset and /exit work as above), each reply is printed\n"
    "followed by a newline, and the program ends at the end of stdin.\n"
    "\n"
    "Messages are plain text: special-token text typed in a message (such as\n"
    "<|eot_id|> or </s>) stays text and cannot end a turn; only the chat\n"
    "template's own markup becomes special tokens. --system is plain text too.\n"
    "\n"
    "When the conversation outgrows the context, the oldest exchanges (a user\n"
    "message and its reply) are dropped, with a note on stderr; the system message\n"
    "is kept. A message that does not fit even alone is refused.\n"
    "\n"
    "  -m, --model FILE        GGUF model file (required)\n"
    "      --system TEXT       system message\n"
    "      --chat-template NAME  llama3, llama3.1 or llama2 (default: recognized\n"
    "                          from the model's tokenizer.chat_template)\n"
    "      --stop TEXT         end a reply when TEXT appears (not printed); may be\n"
    "                          given up to 16 times. Replies also end at the\n"
    "                          model's end-of-generation tokens.\n"
    "  -n, --n-predict N       most tokens per reply; -1 = no limit (default -1)\n"
    CLI_ENGINE_OPTIONS_HELP
    CLI_LOAD_OPTIONS_HELP
    CLI_GRAMMAR_OPTIONS_HELP
    "                          (each reply follows it from its start)\n"
    "  -v, --verbose           after each prompt, tell on stderr how many tokens the\n"
    "                          conversation has and how many came from the cache\n"
    "  -h, --help              show this help\n";

#define MAX_STOPS 16

typedef struct chat_options {
    const char *model;
    const char *isa;
    const char *system;
    const char *template_name;
    const char *stops[MAX_STOPS];
    size_t n_stops;
    int64_t n_predict;
    bool verbose, mmap, no_repack, f16_as_bf16;
    llamac_sampler_params sampling;
    llamac_context_params ctx;
    cli_grammar_opts grammar;
} chat_options;

/* Set by the SIGINT handler, read and cleared by the generation loop. A
 * signal handler can only talk to the program through such a flag. */
static volatile sig_atomic_t interrupted;

static void on_sigint(int sig) {
    (void)sig;
    interrupted = 1;
}

/* ------------------------------------------------------------- options */

/* Returns CLI_OK, or an exit code (-1 meaning "help printed, exit 0"). */
static int parse_args(int argc, char **argv, chat_options *o) {
    o->n_predict = -1;
    o->sampling = llamac_sampler_default_params();
    o->ctx = llamac_context_default_params();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        int64_t iv;
#define VALUE() do { if (!(v = cli_value("chat", argc, argv, &i))) return CLI_USAGE; } while (0)
#define INT(lo, hi) do { VALUE(); if (!cli_parse_i64("chat", a, v, lo, hi, &iv)) return CLI_USAGE; } while (0)
        int engine = cli_engine_option("chat", argc, argv, &i, &o->sampling, &o->ctx, &o->isa);
        if (engine < 0) return CLI_USAGE;
        if (engine > 0) continue;
        int grammar = cli_grammar_option("chat", argc, argv, &i, &o->grammar);
        if (grammar < 0) return CLI_USAGE;
        if (grammar > 0) continue;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { fputs(usage_text, stdout); return -1; }
        else if (!strcmp(a, "-m") || !strcmp(a, "--model")) { VALUE(); o->model = v; }
        else if (!strcmp(a, "--system")) { VALUE(); o->system = v; }
        else if (!strcmp(a, "--mmap")) o->mmap = true;
        else if (!strcmp(a, "--no-repack")) o->no_repack = true;
        else if (!strcmp(a, "--f16-as-bf16")) o->f16_as_bf16 = true;
        else if (!strcmp(a, "--chat-template")) { VALUE(); o->template_name = v; }
        else if (!strcmp(a, "--stop")) {
            VALUE();
            if (o->n_stops == MAX_STOPS)
                return cli_error("chat", CLI_USAGE, "at most %d --stop strings", MAX_STOPS);
            if (!*v) return cli_error("chat", CLI_USAGE, "--stop needs a non-empty text");
            o->stops[o->n_stops++] = v;
        }
        else if (!strcmp(a, "-n") || !strcmp(a, "--n-predict")) { INT(-1, INT32_MAX); o->n_predict = iv; }
        else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) o->verbose = true;
        else return cli_error("chat", CLI_USAGE, "unknown option '%s' (see llamac chat --help)", a);
#undef VALUE
#undef INT
    }
    if (!o->model) return cli_error("chat", CLI_USAGE, "no model given: use -m FILE (see llamac chat --help)");
    return CLI_OK;
}

/* -------------------------------------------------------- conversation */

typedef struct conversation {
    llamac_chat_message *msgs; /* roles are static strings, contents owned */
    size_t n, cap;
    size_t first_turn;         /* 1 when msgs[0] is the system message */
} conversation;

static int conv_push(conversation *c, const char *role, const char *text, size_t len) {
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 16;
        llamac_chat_message *m = realloc(c->msgs, cap * sizeof *m);
        if (!m) return -1;
        c->msgs = m;
        c->cap = cap;
    }
    char *copy = malloc(len + 1);
    if (!copy) return -1;
    memcpy(copy, text, len);
    copy[len] = '\0';
    c->msgs[c->n].role = role;
    c->msgs[c->n].content = copy;
    c->n++;
    return 0;
}

static void conv_pop(conversation *c) {
    if (c->n > 0) free((char *)c->msgs[--c->n].content);
}

/* Keeps only the system message. */
static void conv_reset(conversation *c) {
    while (c->n > c->first_turn) conv_pop(c);
}

/* Drops the oldest user message and its reply, if anything besides the
 * newest user message is left to drop. Returns whether it dropped. */
static bool conv_drop_oldest_exchange(conversation *c) {
    size_t f = c->first_turn;
    if (c->n < f + 3) return false;
    free((char *)c->msgs[f].content);
    free((char *)c->msgs[f + 1].content);
    memmove(&c->msgs[f], &c->msgs[f + 2], (c->n - f - 2) * sizeof *c->msgs);
    c->n -= 2;
    return true;
}

static void conv_free(conversation *c) {
    while (c->n > 0) conv_pop(c);
    free(c->msgs);
}

/* -------------------------------------------------------------- session */

typedef struct chat_session {
    chat_options opt;
    const char *template_name;
    llamac_model *model;
    llamac_context *ctx;
    llamac_sampler *sampler;
    llamac_grammar *grammar;
    llamac_stop *stop;
    conversation conv;
    uint32_t n_ctx;
    llamac_token *cached;  /* the tokens in the KV cache, in order (n_ctx slots) */
    uint32_t n_cached;
    llamac_token *prompt;  /* the tokenized conversation */
    size_t prompt_cap;
    char *text;            /* the rendered conversation */
    size_t text_cap;
    size_t *plain;         /* byte ranges of the message contents in text (begin, end pairs) */
    size_t plain_cap, n_plain;
    char *reply;           /* the reply being generated, as printed */
    size_t reply_len, reply_cap;
    bool reply_started;    /* something other than leading whitespace printed */
    bool interactive;
    /* statistics for the closing line */
    int64_t n_replies, n_prompt_tokens, n_gen_tokens, prompt_us, gen_us;
} chat_session;

static void session_free(chat_session *s) {
    llamac_stop_free(s->stop);
    llamac_sampler_free(s->sampler);
    llamac_grammar_free(s->grammar);
    llamac_context_free(s->ctx);
    llamac_model_free(s->model);
    conv_free(&s->conv);
    free(s->cached);
    free(s->prompt);
    free(s->text);
    free(s->plain);
    free(s->reply);
}

static int out_of_memory(llamac_error *err) {
    if (err) snprintf(err->msg, sizeof err->msg, "out of memory");
    return -1;
}

static int grow(void **buf, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return 0;
    size_t cap2 = *cap ? *cap : 256;
    while (cap2 < need) cap2 *= 2;
    void *p = realloc(*buf, cap2 * elem);
    if (!p) return -1;
    *buf = p;
    *cap = cap2;
    return 0;
}

/* Renders the conversation (with the assistant header) into s->text. */
/* ------------------------------------------------- plain message text */

/* Message contents are plain text: a user who types "<|eot_id|>" must not
 * end the turn and forge the assistant's. The conversation is rendered
 * with each content between two marker bytes that occur in no content;
 * the markers are then cut out of the text, and where they stood gives the
 * byte ranges that are tokenized without special-token parsing, while the
 * template's own text around them still is. A content starts and ends
 * with a marker, so the templates' strip() would no longer reach it: it is
 * stripped here first (Python's str.strip(), which the templates apply;
 * the llama2 template's system text and the leading space of its first
 * user text, which it keeps, are stripped too). */

/* Length of the Python whitespace character at s[0..n) (UTF-8), or 0. */
static size_t space_at(const unsigned char *s, size_t n) {
    if ((s[0] >= 0x09 && s[0] <= 0x0D) || (s[0] >= 0x1C && s[0] <= 0x20)) return 1;
    if (n >= 2 && s[0] == 0xC2 && (s[1] == 0x85 || s[1] == 0xA0)) return 2;
    if (n < 3) return 0;
    uint32_t cp = (uint32_t)(s[0] & 0x0F) << 12 | (uint32_t)(s[1] & 0x3F) << 6 | (s[2] & 0x3F);
    bool three = (s[0] & 0xF0) == 0xE0 && (s[1] & 0xC0) == 0x80 && (s[2] & 0xC0) == 0x80;
    bool space = cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 ||
                 cp == 0x202F || cp == 0x205F || cp == 0x3000;
    return three && space ? 3 : 0;
}

/* The span of s left after str.strip(). */
static void strip_span(const char *s, size_t *begin, size_t *end) {
    const unsigned char *u = (const unsigned char *)s;
    size_t n = strlen(s), b = 0, e = n, k;
    while (b < n && (k = space_at(u + b, n - b)) > 0) b += k;
    while (e > b) { /* the last character that is not whitespace */
        size_t last = e - 1;
        while (last > b && (u[last] & 0xC0) == 0x80) last--;
        if (space_at(u + last, e - last) != e - last) break;
        e = last;
    }
    *begin = b;
    *end = e;
}

/* Two bytes that occur in no message content (nor in any template). */
static bool pick_markers(const conversation *c, char *open, char *close) {
    static const char candidates[] = "\x01\x02\x03\x04\x05\x06\x07\x08\x0e\x0f\x10\x11\x12\x13\x14\x15"
                                     "\x16\x17\x18\x19\x1a\x1b";
    int found = 0;
    for (const char *m = candidates; *m && found < 2; m++) {
        bool used = false;
        for (size_t i = 0; i < c->n && !used; i++) used = strchr(c->msgs[i].content, *m) != NULL;
        if (used) continue;
        if (found++ == 0) *open = *m;
        else *close = *m;
    }
    return found == 2;
}

/* Renders the conversation with marked contents into s->text, then cuts
 * the markers out, recording the content ranges in s->plain. Returns the
 * text length or -1. */
static int64_t render_conversation(chat_session *s, llamac_error *err) {
    const conversation *c = &s->conv;
    char open = 0, close = 0;
    if (!pick_markers(c, &open, &close)) {
        snprintf(err->msg, sizeof err->msg, "the messages use every marker byte (0x01-0x08, 0x0e-0x1b)");
        return -1;
    }
    llamac_chat_message *marked = calloc(c->n ? c->n : 1, sizeof *marked);
    int64_t need = marked ? 0 : -1;
    for (size_t i = 0; i < c->n && need == 0; i++) {
        size_t b, e;
        strip_span(c->msgs[i].content, &b, &e);
        char *m = malloc(e - b + 3);
        if (!m) { need = -1; break; }
        m[0] = open;
        memcpy(m + 1, c->msgs[i].content + b, e - b);
        m[e - b + 1] = close;
        m[e - b + 2] = '\0';
        marked[i] = (llamac_chat_message){c->msgs[i].role, m};
    }
    if (need < 0) err->msg[0] = '\0';
    if (need == 0) need = llamac_chat_render(s->template_name, marked, c->n, true, NULL, 0, err);
    if (need >= 0 && grow((void **)&s->text, &s->text_cap, (size_t)need + 1, 1) < 0) need = -1;
    if (need >= 0 && grow((void **)&s->plain, &s->plain_cap, 2 * c->n + 2, sizeof *s->plain) < 0) need = -1;
    if (need >= 0) need = llamac_chat_render(s->template_name, marked, c->n, true, s->text, s->text_cap, err);
    for (size_t i = 0; marked && i < c->n; i++) free((char *)marked[i].content);
    free(marked);
    if (need < 0) {
        if (!err->msg[0]) out_of_memory(err);
        return -1;
    }
    size_t len = 0, n_bounds = 0;
    bool inside = false, ok = true;
    for (int64_t i = 0; i < need && ok; i++) {
        char ch = s->text[i];
        if (ch == open || ch == close) {
            ok = (ch == open) != inside && n_bounds < 2 * c->n;
            if (ok) s->plain[n_bounds++] = len;
            inside = ch == open;
            continue;
        }
        s->text[len++] = ch;
    }
    if (!ok || inside || n_bounds != 2 * c->n) {
        snprintf(err->msg, sizeof err->msg, "the %s template did not keep each message whole", s->template_name);
        return -1;
    }
    s->text[len] = '\0';
    s->n_plain = c->n;
    return (int64_t)len;
}

/* Tokenizes s->text into s->prompt. The rendered text already holds the
 * BOS text, so special tokens are parsed (outside the message contents)
 * and none is added. */
static int64_t tokenize_conversation(chat_session *s, size_t len, llamac_error *err) {
    const int flags = LLAMAC_TOKENIZE_PARSE_SPECIAL;
    int64_t n = llamac_tokenize_plain_ranges(s->model, s->text, len, s->plain, s->n_plain, NULL, 0, flags, err);
    if (n < 0) return -1;
    if (grow((void **)&s->prompt, &s->prompt_cap, (size_t)n + 1, sizeof *s->prompt) < 0)
        return out_of_memory(err);
    return llamac_tokenize_plain_ranges(s->model, s->text, len, s->plain, s->n_plain, s->prompt, n, flags, err);
}

/* Room a reply should have: older exchanges are dropped to keep it free. */
static uint32_t reply_reserve(const chat_session *s) {
    uint32_t quarter = s->n_ctx / 4;
    if (s->opt.n_predict > 0 && (uint64_t)s->opt.n_predict < quarter) return (uint32_t)s->opt.n_predict;
    return quarter;
}

/* Renders and tokenizes the conversation, dropping the oldest exchanges
 * while it leaves too little room for a reply. Returns the token count, 0
 * when the newest message cannot fit even alone (it is taken back out and
 * the user told), -1 on error. */
static int64_t build_prompt(chat_session *s, llamac_error *err) {
    const uint32_t reserve = reply_reserve(s);
    for (;;) {
        int64_t len = render_conversation(s, err);
        if (len < 0) return -1;
        int64_t n = tokenize_conversation(s, (size_t)len, err);
        if (n < 0) return -1;
        if (n == 0) {
            snprintf(err->msg, sizeof err->msg, "the %s template rendered text with no tokens", s->template_name);
            return -1;
        }
        if ((uint64_t)n + reserve <= s->n_ctx) return n;
        if (conv_drop_oldest_exchange(&s->conv)) {
            fprintf(stderr, "[the conversation outgrew the context of %u tokens: dropped the oldest exchange]\n",
                    s->n_ctx);
            continue;
        }
        if ((uint64_t)n < s->n_ctx) return n; /* fits, with less room for the reply */
        fprintf(stderr,
                "llamac chat: with this message the conversation is %lld tokens, more than the context of "
                "%u tokens; the message was not sent (use a shorter message or a larger --ctx)\n",
                (long long)n, s->n_ctx);
        conv_pop(&s->conv);
        return 0;
    }
}

/* Makes the KV cache hold prompt[0..n): keeps the longest common prefix
 * with what is cached and evaluates the rest (at least the last token,
 * whose logits start the reply). */
static int sync_cache(chat_session *s, int64_t n, llamac_error *err) {
    uint32_t keep = 0;
    while (keep < s->n_cached && keep < n && s->cached[keep] == s->prompt[keep]) keep++;
    if (keep == n) keep--;
    llamac_kv_truncate(s->ctx, keep);
    s->n_cached = keep;
    int64_t t0 = llamac_time_us();
    if (llamac_decode(s->ctx, s->prompt + keep, (int32_t)(n - keep), false, err) < 0) return -1;
    s->prompt_us += llamac_time_us() - t0;
    s->n_prompt_tokens += n - keep;
    memcpy(s->cached + keep, s->prompt + keep, (size_t)(n - keep) * sizeof *s->cached);
    s->n_cached = (uint32_t)n;
    for (int64_t i = keep; i < n; i++) llamac_sampler_accept(s->sampler, s->prompt[i]);
    if (s->opt.verbose)
        fprintf(stderr, "[prompt: %lld tokens, %u from the cache, %lld evaluated]\n", (long long)n, keep,
                (long long)(n - keep));
    return 0;
}

/* Prints reply text and keeps it for the conversation. Whitespace before
 * the first visible character is skipped: the templates strip it anyway,
 * and Llama 2 style models start their answer with a space. */
static int emit(chat_session *s, const char *text, size_t len, llamac_error *err) {
    if (!s->reply_started) {
        while (len > 0 && (*text == ' ' || *text == '\n' || *text == '\t' || *text == '\r')) {
            text++;
            len--;
        }
        if (len == 0) return 0;
        s->reply_started = true;
    }
    fwrite(text, 1, len, stdout);
    fflush(stdout);
    if (grow((void **)&s->reply, &s->reply_cap, s->reply_len + len + 1, 1) < 0) return out_of_memory(err);
    memcpy(s->reply + s->reply_len, text, len);
    s->reply_len += len;
    s->reply[s->reply_len] = '\0';
    return 0;
}

/* Passes text through the stop-string matcher. Returns 1 when a stop
 * string appeared, 0 when not, -1 on error. */
static int emit_filtered(chat_session *s, const char *text, size_t len, llamac_error *err) {
    const char *out;
    size_t out_len;
    int st = llamac_stop_feed(s->stop, text, len, &out, &out_len, err);
    if (st < 0 || emit(s, out, out_len, err) < 0) return -1;
    return st;
}

typedef enum reply_end { END_EOG, END_STOP, END_LIMIT, END_INTERRUPT, END_CONTEXT } reply_end;

/* Samples and streams one reply, from the logits the prompt left. Tokens
 * are decoded into the cache as they come, except the last (an
 * end-of-generation token, or one after which the reply ends anyway). */
static int generate_reply(chat_session *s, llamac_error *err) {
    llamac_detokenizer *detok = llamac_detokenizer_create(s->model);
    if (!detok) return out_of_memory(err);
    llamac_stop_reset(s->stop);
    s->reply_len = 0;
    s->reply_started = false;
    llamac_grammar_reset(s->grammar);
    reply_end end = END_EOG;
    int rc = 0;
    int64_t n_gen = 0, t0 = llamac_time_us();
    for (;;) {
        if (interrupted) { end = END_INTERRUPT; break; }
        if (s->opt.n_predict >= 0 && n_gen >= s->opt.n_predict) { end = END_LIMIT; break; }
        const float *logits = llamac_logits(s->ctx, -1);
        int32_t bad = llamac_logits_check(logits, llamac_n_vocab(s->model));
        llamac_token tok = bad < 0 ? llamac_sampler_sample(s->sampler, logits) : -1;
        if (tok < 0 && bad < 0 && s->grammar) { end = END_EOG; break; } /* the grammar allows nothing more */
        if (tok < 0) {
            snprintf(err->msg, sizeof err->msg,
                     "the model produced %s logits at position %u (token %d); its weights are probably corrupt",
                     bad >= 0 && isnan(logits[bad]) ? "NaN" : "infinite", s->n_cached - 1, (int)(bad >= 0 ? bad : 0));
            rc = -1;
            break;
        }
        if (s->grammar) llamac_grammar_accept(s->grammar, tok);
        llamac_sampler_accept(s->sampler, tok);
        n_gen++;
        if (llamac_token_is_eog(s->model, tok)) { end = END_EOG; break; }
        size_t len;
        const char *piece = llamac_detokenizer_push(detok, tok, &len);
        int st = emit_filtered(s, piece, len, err);
        if (st < 0) { rc = -1; break; }
        if (st == 1) { end = END_STOP; break; }
        if (s->n_cached >= s->n_ctx) { end = END_CONTEXT; break; }
        if (llamac_decode(s->ctx, &tok, 1, false, err) < 0) { rc = -1; break; }
        s->cached[s->n_cached++] = tok;
    }
    s->gen_us += llamac_time_us() - t0;
    s->n_gen_tokens += n_gen;
    if (rc == 0 && end != END_STOP) {
        /* Bytes the detokenizer held (an unfinished character), then what
         * the stop matcher held: it was not a stop string after all. */
        size_t len;
        const char *rest = llamac_detokenizer_flush(detok, &len);
        int st = emit_filtered(s, rest, len, err);
        if (st < 0) rc = -1;
        else if (st == 0) {
            const char *tail = llamac_stop_flush(s->stop, &len);
            if (emit(s, tail, len, err) < 0) rc = -1;
        }
    }
    llamac_detokenizer_free(detok);
    fputc('\n', stdout);
    fflush(stdout);
    if (end == END_INTERRUPT) fprintf(stderr, "[reply stopped]\n");
    if (end == END_CONTEXT)
        fprintf(stderr, "[the context of %u tokens is full: reply cut short; the oldest exchanges will be "
                        "dropped next turn]\n", s->n_ctx);
    return rc;
}

static int user_turn(chat_session *s, const char *msg, size_t len) {
    llamac_error err = {{0}};
    if (conv_push(&s->conv, "user", msg, len) < 0) return cli_error("chat", CLI_FAIL, "out of memory");
    interrupted = 0;
    int64_t n = build_prompt(s, &err);
    if (n < 0) return cli_error("chat", CLI_FAIL, "%s", err.msg);
    if (n == 0) return CLI_OK;
    if (sync_cache(s, n, &err) < 0 || generate_reply(s, &err) < 0)
        return cli_error("chat", CLI_FAIL, "%s", err.msg);
    if (conv_push(&s->conv, "assistant", s->reply ? s->reply : "", s->reply_len) < 0)
        return cli_error("chat", CLI_FAIL, "out of memory");
    s->n_replies++;
    return CLI_OK;
}

static void reset_conversation(chat_session *s) {
    conv_reset(&s->conv);
    llamac_kv_truncate(s->ctx, 0);
    s->n_cached = 0;
    llamac_sampler_reset(s->sampler);
    fprintf(stderr, "[new conversation]\n");
}

/* ---------------------------------------------------------------- input */

typedef struct line_reader {
    char *line;    /* getline's buffer */
    size_t line_cap;
    char *msg;     /* the message being assembled */
    size_t msg_len, msg_cap;
} line_reader;

static void line_reader_free(line_reader *r) {
    free(r->line);
    free(r->msg);
}

typedef enum read_status { READ_OK, READ_EOF, READ_INTERRUPTED, READ_NOMEM } read_status;

/* Reads one message: a line, or on a terminal several lines joined while
 * each ends with a backslash. The trailing newline is not included. */
static read_status read_message(chat_session *s, line_reader *r) {
    r->msg_len = 0;
    if (s->interactive) { fputs("> ", stdout); fflush(stdout); }
    for (;;) {
        errno = 0;
        ssize_t got = getline(&r->line, &r->line_cap, stdin);
        if (got < 0) {
            bool eintr = errno == EINTR;
            clearerr(stdin);
            if (eintr && s->interactive) return READ_INTERRUPTED;
            if (r->msg_len > 0) break; /* end of input after a continued line */
            return READ_EOF;
        }
        size_t len = (size_t)got;
        while (len > 0 && (r->line[len - 1] == '\n' || r->line[len - 1] == '\r')) len--;
        bool more = s->interactive && len > 0 && r->line[len - 1] == '\\';
        if (more) r->line[len - 1] = '\n'; /* the backslash becomes the line break */
        if (grow((void **)&r->msg, &r->msg_cap, r->msg_len + len + 1, 1) < 0) return READ_NOMEM;
        memcpy(r->msg + r->msg_len, r->line, len);
        r->msg_len += len;
        if (!more) break;
        fputs("... ", stdout);
        fflush(stdout);
    }
    r->msg[r->msg_len] = '\0';
    return READ_OK;
}

static bool is_command(const char *msg, size_t len, const char *cmd) {
    size_t lead = 0;
    while (lead < len && (msg[lead] == ' ' || msg[lead] == '\t')) lead++;
    size_t end = len;
    while (end > lead && (msg[end - 1] == ' ' || msg[end - 1] == '\t')) end--;
    return end - lead == strlen(cmd) && !memcmp(msg + lead, cmd, end - lead);
}

static bool is_blank(const char *msg, size_t len) {
    for (size_t i = 0; i < len; i++)
        if (msg[i] != ' ' && msg[i] != '\t' && msg[i] != '\n' && msg[i] != '\r') return false;
    return true;
}

static int chat_loop(chat_session *s) {
    line_reader r = {0};
    int rc = CLI_OK;
    while (rc == CLI_OK) {
        read_status st = read_message(s, &r);
        if (st == READ_EOF) break;
        if (st == READ_NOMEM) { rc = cli_error("chat", CLI_FAIL, "out of memory"); break; }
        if (st == READ_INTERRUPTED) {
            fprintf(stderr, "\n[Ctrl-C stops a reply; /exit or Ctrl-D quits]\n");
            interrupted = 0;
            continue;
        }
        if (is_blank(r.msg, r.msg_len)) continue;
        if (is_command(r.msg, r.msg_len, "/exit") || is_command(r.msg, r.msg_len, "/quit")) break;
        if (is_command(r.msg, r.msg_len, "/reset")) { reset_conversation(s); continue; }
        rc = user_turn(s, r.msg, r.msg_len);
    }
    if (s->interactive && rc == CLI_OK) fputc('\n', stdout);
    line_reader_free(&r);
    return rc;
}

/* ---------------------------------------------------------------- setup */

static void known_templates(char *buf, size_t size) {
    size_t n, used = 0;
    const char *const *names = llamac_chat_template_names(&n);
    buf[0] = '\0';
    for (size_t i = 0; i < n && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, "%s%s", i ? ", " : "", names[i]);
}

/* Checks a template name by rendering a one-message conversation. */
static int check_template(const char *name) {
    llamac_error err = {{0}};
    const llamac_chat_message probe = {"user", "hi"};
    if (llamac_chat_render(name, &probe, 1, true, NULL, 0, &err) < 0)
        return cli_error("chat", CLI_USAGE, "%s", err.msg);
    return CLI_OK;
}

static int session_open(chat_session *s) {
    llamac_error err = {{0}};
    if (s->opt.template_name && check_template(s->opt.template_name) != CLI_OK) return CLI_USAGE;
    const cli_model_opts load = {.isa = s->opt.isa, .mmap = s->opt.mmap, .no_repack = s->opt.no_repack, .f16_as_bf16 = s->opt.f16_as_bf16};
    s->model = cli_load_model("chat", s->opt.model, &load);
    if (!s->model) return CLI_FAIL;

    s->template_name = s->opt.template_name ? s->opt.template_name : llamac_chat_template_detect(s->model);
    if (!s->template_name) {
        char known[128];
        known_templates(known, sizeof known);
        return cli_error("chat", CLI_USAGE,
                         "%s has no chat template that llamac recognizes; choose one with "
                         "--chat-template NAME (known: %s)", s->opt.model, known);
    }
    s->ctx = llamac_context_create(s->model, &s->opt.ctx, &err);
    if (!s->ctx) return cli_error("chat", CLI_FAIL, "%s", err.msg);
    s->n_ctx = llamac_n_ctx(s->ctx);
    s->cached = malloc((size_t)s->n_ctx * sizeof *s->cached);
    s->sampler = llamac_sampler_create(&s->opt.sampling, llamac_n_vocab(s->model));
    s->stop = llamac_stop_create(s->opt.stops, s->opt.n_stops, &err);
    if (!s->cached || !s->sampler || !s->stop) return cli_error("chat", CLI_FAIL, "out of memory");
    int grammar_rc = cli_grammar_load("chat", s->model, &s->opt.grammar, &s->grammar);
    if (grammar_rc != CLI_OK) return grammar_rc;
    llamac_sampler_set_grammar(s->sampler, s->grammar);
    if (s->opt.system && conv_push(&s->conv, "system", s->opt.system, strlen(s->opt.system)) < 0)
        return cli_error("chat", CLI_FAIL, "out of memory");
    s->conv.first_turn = s->conv.n;
    return CLI_OK;
}

/* Ctrl-C sets the flag instead of ending the program. No SA_RESTART, so a
 * read waiting at the prompt returns (EINTR) and the prompt can say how to
 * quit. */
static void install_sigint(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
}

static void print_stats(const chat_session *s) {
    fprintf(stderr, "llamac chat: %lld replies | prompt %lld tokens evaluated, %.1f tok/s | generated %lld tokens, "
                    "%.1f tok/s\n",
            (long long)s->n_replies, (long long)s->n_prompt_tokens,
            s->prompt_us > 0 ? (double)s->n_prompt_tokens * 1e6 / (double)s->prompt_us : 0.0,
            (long long)s->n_gen_tokens,
            s->gen_us > 0 ? (double)s->n_gen_tokens * 1e6 / (double)s->gen_us : 0.0);
}

int cmd_chat(int argc, char **argv) {
    chat_session s = {0};
    int rc = parse_args(argc, argv, &s.opt);
    if (rc) return rc < 0 ? CLI_OK : rc;
    s.interactive = isatty(STDIN_FILENO);
    rc = session_open(&s);
    if (rc == CLI_OK) {
        if (s.interactive)
            fprintf(stderr, "llamac chat: template %s, context %u tokens. /reset starts over, /exit quits, "
                            "Ctrl-C stops a reply; end a line with \\ to continue it.\n",
                    s.template_name, s.n_ctx);
        install_sigint();
        rc = chat_loop(&s);
        print_stats(&s);
    }
    session_free(&s);
    return rc;
}
