/* llamac run: tokenize a prompt, prefill it in one batch, then sample and
 * stream tokens to stdout; statistics go to stderr. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_grammar.h"

static const char usage_text[] =
    "usage: llamac run -m FILE [-p PROMPT | -f FILE] [options]\n"
    "\n"
    "Echoes the prompt, then generates text and streams it to stdout. Statistics\n"
    "(load time, prompt and generation speed) are printed to stderr.\n"
    "\n"
    "  -m, --model FILE        GGUF model file (required)\n"
    "  -p, --prompt TEXT       prompt text (default: empty, i.e. start from BOS)\n"
    "  -f, --file FILE         read the prompt from FILE (exact bytes)\n"
    "  -n, --n-predict N       tokens to generate; -1 = until end of text or full\n"
    "                          context (default -1)\n"
    CLI_ENGINE_OPTIONS_HELP
    "      --special           parse special-token text (e.g. <|eot_id|>) in the prompt\n"
    "      --chat              wrap the prompt in the model's chat template as one user\n"
    "                          turn and print only the reply (instruct models)\n"
    "      --system TEXT       system message for --chat\n"
    "      --chat-template NAME  template for --chat: llama3, llama3.1 or llama2\n"
    "                          (default: recognized from the model's metadata)\n"
    "      --stop TEXT         stop when TEXT appears in the output (not printed);\n"
    "                          may be repeated\n"
    CLI_GRAMMAR_OPTIONS_HELP
    "      --ignore-eos        keep generating past end-of-generation tokens\n"
    "      --no-display-prompt do not echo the prompt before the generated text\n"
    CLI_LOAD_OPTIONS_HELP
    "      --print-ids         after generating, print all token ids to stderr\n"
    "  -h, --help              show this help\n";

typedef struct run_options {
    const char *model;
    const char *isa;
    const char *prompt;
    const char *prompt_file;
    int64_t n_predict;
    llamac_sampler_params sampling;
    llamac_context_params ctx;
    bool special, ignore_eos, print_ids, display_prompt, chat, mmap, no_repack, f16_as_bf16;
    const char *system;
    const char *chat_template;
    const char *stops[16];
    size_t n_stops;
    cli_grammar_opts grammar;
} run_options;

/* Returns CLI_OK, or an exit code (-1 meaning "help printed, exit 0"). */
static int parse_args(int argc, char **argv, run_options *o) {
    o->n_predict = -1;
    o->display_prompt = true;
    o->sampling = llamac_sampler_default_params();
    o->ctx = llamac_context_default_params();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        int64_t iv;
#define VALUE() do { if (!(v = cli_value("run", argc, argv, &i))) return CLI_USAGE; } while (0)
#define INT(lo, hi) do { VALUE(); if (!cli_parse_i64("run", a, v, lo, hi, &iv)) return CLI_USAGE; } while (0)
        int engine = cli_engine_option("run", argc, argv, &i, &o->sampling, &o->ctx, &o->isa);
        if (engine < 0) return CLI_USAGE;
        if (engine > 0) continue;
        int grammar = cli_grammar_option("run", argc, argv, &i, &o->grammar);
        if (grammar < 0) return CLI_USAGE;
        if (grammar > 0) continue;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { fputs(usage_text, stdout); return -1; }
        else if (!strcmp(a, "-m") || !strcmp(a, "--model")) { VALUE(); o->model = v; }
        else if (!strcmp(a, "-p") || !strcmp(a, "--prompt")) { VALUE(); o->prompt = v; }
        else if (!strcmp(a, "-f") || !strcmp(a, "--file")) { VALUE(); o->prompt_file = v; }
        else if (!strcmp(a, "-n") || !strcmp(a, "--n-predict")) { INT(-1, INT32_MAX); o->n_predict = iv; }
        else if (!strcmp(a, "--special")) o->special = true;
        else if (!strcmp(a, "--chat")) o->chat = true;
        else if (!strcmp(a, "--system")) { VALUE(); o->system = v; }
        else if (!strcmp(a, "--chat-template")) { VALUE(); o->chat_template = v; }
        else if (!strcmp(a, "--stop")) {
            VALUE();
            if (o->n_stops == sizeof o->stops / sizeof o->stops[0])
                return cli_error("run", CLI_USAGE, "at most %zu --stop strings", o->n_stops);
            o->stops[o->n_stops++] = v;
        }
        else if (!strcmp(a, "--ignore-eos")) o->ignore_eos = true;
        else if (!strcmp(a, "--print-ids")) o->print_ids = true;
        else if (!strcmp(a, "--no-display-prompt")) o->display_prompt = false;
        else if (!strcmp(a, "--mmap")) o->mmap = true;
        else if (!strcmp(a, "--no-repack")) o->no_repack = true;
        else if (!strcmp(a, "--f16-as-bf16")) o->f16_as_bf16 = true;
        else return cli_error("run", CLI_USAGE, "unknown option '%s' (see llamac run --help)", a);
#undef VALUE
#undef INT
    }
    if (!o->model) return cli_error("run", CLI_USAGE, "no model given: use -m FILE (see llamac run --help)");
    if (o->prompt && o->prompt_file) return cli_error("run", CLI_USAGE, "give either -p or -f, not both");
    if ((o->system || o->chat_template) && !o->chat)
        return cli_error("run", CLI_USAGE, "--system and --chat-template need --chat");
    if (o->chat) o->display_prompt = false;
    return CLI_OK;
}

/* Renders the prompt as one user turn (after an optional system message)
 * of the model's chat template. Returns a malloc'd string or NULL. */
static char *render_chat(const run_options *o, const llamac_model *model, const char *prompt, size_t *len) {
    const char *name = o->chat_template ? o->chat_template : llamac_chat_template_detect(model);
    if (!name) {
        size_t n_names;
        const char *const *names = llamac_chat_template_names(&n_names);
        char list[256] = "";
        for (size_t i = 0; i < n_names; i++)
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", names[i]);
        cli_error("run", CLI_USAGE, "the model has no chat template llamac recognizes; choose one with "
                  "--chat-template (%s)", list);
        return NULL;
    }
    llamac_chat_message msgs[2];
    size_t n = 0;
    if (o->system) msgs[n++] = (llamac_chat_message){"system", o->system};
    msgs[n++] = (llamac_chat_message){"user", prompt};
    llamac_error err = {{0}};
    int64_t need = llamac_chat_render(name, msgs, n, true, NULL, 0, &err);
    char *buf = need >= 0 ? malloc((size_t)need + 1) : NULL;
    if (need < 0) { cli_error("run", CLI_USAGE, "%s", err.msg); return NULL; }
    if (!buf) { cli_error("run", CLI_FAIL, "out of memory"); return NULL; }
    llamac_chat_render(name, msgs, n, true, buf, (size_t)need + 1, &err);
    *len = (size_t)need;
    return buf;
}

/* Tokenizes the prompt into a malloc'd array. */
static llamac_token *tokenize_prompt(const llamac_model *model, const char *text, size_t len, int flags,
                                     int64_t *n_out) {
    llamac_error err = {{0}};
    int64_t n = llamac_tokenize(model, text, len, NULL, 0, flags, &err);
    if (n < 0) { cli_error("run", CLI_FAIL, "tokenizing the prompt: %s", err.msg); return NULL; }
    llamac_token *toks = malloc(sizeof *toks * (size_t)(n > 0 ? n : 1));
    if (!toks) { cli_error("run", CLI_FAIL, "out of memory"); return NULL; }
    llamac_tokenize(model, text, len, toks, n, flags, &err);
    *n_out = n;
    return toks;
}

static void print_ids(const char *label, const llamac_token *ids, int64_t n) {
    fprintf(stderr, "%s:", label);
    for (int64_t i = 0; i < n; i++) fprintf(stderr, " %d", ids[i]);
    fputc('\n', stderr);
}

typedef struct run_state {
    llamac_model *model;
    llamac_context *ctx;
    llamac_sampler *sampler;
    llamac_detokenizer *detok;
    llamac_stop *stop;
    llamac_grammar *grammar;
    llamac_token *prompt;
    llamac_token *generated;
    char *prompt_text;
} run_state;

static void run_state_free(run_state *s) {
    llamac_detokenizer_free(s->detok);
    llamac_stop_free(s->stop);
    llamac_sampler_free(s->sampler);
    llamac_grammar_free(s->grammar);
    llamac_context_free(s->ctx);
    llamac_model_free(s->model);
    free(s->prompt);
    free(s->generated);
    free(s->prompt_text);
}

static int generate(const run_options *o, run_state *s, int64_t n_prompt, int64_t t_load_us) {
    llamac_error err = {{0}};
    const int64_t n_ctx = llamac_n_ctx(s->ctx);
    int64_t n_max = o->n_predict < 0 ? n_ctx - n_prompt : o->n_predict;
    if (n_max > n_ctx - n_prompt) n_max = n_ctx - n_prompt;
    s->generated = malloc(sizeof(llamac_token) * (size_t)(n_max > 0 ? n_max : 1));
    if (!s->generated) return cli_error("run", CLI_FAIL, "out of memory");

    /* echo the prompt as the tokenizer sees it; this also primes the
     * detokenizer (a leading space after BOS is dropped, not after text) */
    for (int64_t i = 0; i < n_prompt; i++) {
        llamac_sampler_accept(s->sampler, s->prompt[i]);
        size_t len;
        const char *text = llamac_detokenizer_push(s->detok, s->prompt[i], &len);
        if (o->display_prompt) fwrite(text, 1, len, stdout);
    }
    int64_t t0 = llamac_time_us();
    if (llamac_decode(s->ctx, s->prompt, (int32_t)n_prompt, false, &err) < 0)
        return cli_error("run", CLI_FAIL, "%s", err.msg);
    int64_t t_prompt_us = llamac_time_us() - t0;

    int64_t n_gen = 0;
    t0 = llamac_time_us();
    while (n_gen < n_max) {
        const float *logits = llamac_logits(s->ctx, -1);
        int32_t bad = llamac_logits_check(logits, llamac_n_vocab(s->model));
        llamac_token tok = bad < 0 ? llamac_sampler_sample(s->sampler, logits) : -1;
        if (tok < 0 && bad < 0 && s->grammar) break; /* the grammar is complete and allows nothing more */
        if (tok < 0) {
            fputc('\n', stdout);
            fflush(stdout);
            return cli_error("run", CLI_FAIL, "the model produced %s logits at position %lld (token %d); "
                             "its weights are probably corrupt",
                             bad >= 0 && isnan(logits[bad]) ? "NaN" : "infinite", (long long)(n_prompt + n_gen - 1),
                             (int)(bad >= 0 ? bad : 0));
        }
        if (s->grammar) llamac_grammar_accept(s->grammar, tok);
        s->generated[n_gen++] = tok;
        llamac_sampler_accept(s->sampler, tok);
        if (!o->ignore_eos && llamac_token_is_eog(s->model, tok)) break;
        size_t len, out_len;
        const char *text = llamac_detokenizer_push(s->detok, tok, &len), *out;
        int stopped = llamac_stop_feed(s->stop, text, len, &out, &out_len, &err);
        if (stopped < 0) return cli_error("run", CLI_FAIL, "%s", err.msg);
        fwrite(out, 1, out_len, stdout);
        fflush(stdout);
        if (stopped || n_gen == n_max) break;
        if (llamac_decode(s->ctx, &tok, 1, false, &err) < 0)
            return cli_error("run", CLI_FAIL, "%s", err.msg);
    }
    int64_t t_gen_us = llamac_time_us() - t0;
    size_t len, out_len;
    const char *rest = llamac_detokenizer_flush(s->detok, &len), *out;
    if (llamac_stop_feed(s->stop, rest, len, &out, &out_len, &err) < 0)
        return cli_error("run", CLI_FAIL, "%s", err.msg);
    fwrite(out, 1, out_len, stdout);
    out = llamac_stop_flush(s->stop, &out_len);
    fwrite(out, 1, out_len, stdout);
    fputc('\n', stdout);
    fflush(stdout);

    if (o->print_ids) {
        print_ids("prompt ids", s->prompt, n_prompt);
        print_ids("generated ids", s->generated, n_gen);
    }
    llamac_model_desc desc;
    llamac_model_describe(s->model, &desc);
    char repacked[80] = "";
    if (desc.repacked_bytes > 0)
        snprintf(repacked, sizeof repacked, " (%.0f MiB regrouped for the x8 kernels in %.1f ms)",
                 (double)desc.repacked_bytes / (1 << 20), (double)desc.repack_us / 1e3);
    fprintf(stderr, "llamac: load %.1f ms%s | %s kernels | prompt %lld tokens, %.1f tok/s | generated %lld tokens, %.1f tok/s\n",
            (double)t_load_us / 1e3, repacked, llamac_context_kernels(s->ctx), (long long)n_prompt,
            t_prompt_us > 0 ? (double)n_prompt * 1e6 / (double)t_prompt_us : 0.0, (long long)n_gen,
            t_gen_us > 0 ? (double)n_gen * 1e6 / (double)t_gen_us : 0.0);
    if (s->grammar) {
        llamac_grammar_stats gs;
        llamac_grammar_stats_get(s->grammar, &gs);
        fprintf(stderr, "llamac: grammar: %llu token checks, %llu vocabulary filters (%llu from the cache), "
                "%.2f ms filtering = %.1f us per generated token\n", (unsigned long long)gs.checks,
                (unsigned long long)gs.filters, (unsigned long long)gs.filter_cached, (double)gs.filter_us / 1e3,
                n_gen > 0 ? (double)gs.filter_us / (double)n_gen : 0.0);
    }
    if (n_gen == n_max && o->n_predict < 0)
        fprintf(stderr, "llamac: stopped: the context of %lld tokens is full\n", (long long)n_ctx);
    return CLI_OK;
}

int cmd_run(int argc, char **argv) {
    run_options o = {0};
    int rc = parse_args(argc, argv, &o);
    if (rc) return rc < 0 ? CLI_OK : rc;

    run_state s = {0};
    size_t prompt_len = 0;
    if (o.prompt_file) {
        s.prompt_text = cli_read_file("run", o.prompt_file, &prompt_len);
        if (!s.prompt_text) return CLI_FAIL;
    } else if (o.prompt) {
        prompt_len = strlen(o.prompt);
    }
    const char *prompt = o.prompt_file ? s.prompt_text : (o.prompt ? o.prompt : "");
    if (o.chat && memchr(prompt, 0, prompt_len)) {
        free(s.prompt_text);
        return cli_error("run", CLI_USAGE, "--chat prompts cannot contain NUL bytes");
    }

    llamac_error err = {{0}};
    int64_t t0 = llamac_time_us();
    const cli_model_opts load = {.isa = o.isa, .mmap = o.mmap, .no_repack = o.no_repack, .f16_as_bf16 = o.f16_as_bf16};
    s.model = cli_load_model("run", o.model, &load);
    if (!s.model) { run_state_free(&s); return CLI_FAIL; }
    s.ctx = llamac_context_create(s.model, &o.ctx, &err);
    if (!s.ctx) { run_state_free(&s); return cli_error("run", CLI_FAIL, "%s", err.msg); }
    int64_t t_load_us = llamac_time_us() - t0;

    int64_t n_prompt = 0;
    int flags = LLAMAC_TOKENIZE_ADD_SPECIAL | (o.special ? LLAMAC_TOKENIZE_PARSE_SPECIAL : 0);
    if (o.chat) {
        /* the rendered template carries its own BOS text */
        char *rendered = render_chat(&o, s.model, prompt, &prompt_len);
        if (!rendered) { run_state_free(&s); return CLI_USAGE; }
        free(s.prompt_text);
        s.prompt_text = rendered;
        prompt = rendered;
        flags = LLAMAC_TOKENIZE_PARSE_SPECIAL;
    }
    s.prompt = tokenize_prompt(s.model, prompt, prompt_len, flags, &n_prompt);
    if (!s.prompt) { run_state_free(&s); return CLI_FAIL; }
    if (n_prompt == 0) {
        /* a model that adds no BOS still needs one token to start from */
        llamac_token bos = llamac_token_bos(s.model);
        if (bos < 0) { run_state_free(&s); return cli_error("run", CLI_USAGE, "empty prompt and the model has no BOS token"); }
        s.prompt[0] = bos;
        n_prompt = 1;
    }
    if (n_prompt >= (int64_t)llamac_n_ctx(s.ctx)) {
        rc = cli_error("run", CLI_USAGE, "the prompt is %lld tokens, which does not fit the context of %u tokens "
                       "(use --ctx to enlarge it, up to the model's limit)", (long long)n_prompt, llamac_n_ctx(s.ctx));
        run_state_free(&s);
        return rc;
    }
    s.sampler = llamac_sampler_create(&o.sampling, llamac_n_vocab(s.model));
    s.detok = llamac_detokenizer_create(s.model);
    s.stop = llamac_stop_create(o.stops, o.n_stops, &err);
    if (!s.sampler || !s.detok || !s.stop) { run_state_free(&s); return cli_error("run", CLI_FAIL, "out of memory"); }
    rc = cli_grammar_load("run", s.model, &o.grammar, &s.grammar);
    if (rc != CLI_OK) { run_state_free(&s); return rc; }
    llamac_sampler_set_grammar(s.sampler, s.grammar);
    rc = generate(&o, &s, n_prompt, t_load_us);
    run_state_free(&s);
    return rc;
}
