/* Replies for several conversations at once. The prompts' common prefix
 * (the K first-round prompts of a function are identical) is evaluated once
 * for all sequences; each sequence then gets the rest of its own prompt, and
 * every step decodes one token of each live sequence in a single batch.
 * --record writes every prompt and reply; --replay reads the replies back
 * instead of running a model, so the loop around it runs exactly the same. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "testgen/testgen.h"

struct tg_gen {
    tg_gen_params p;
    llamac_model *model;
    llamac_context *ctx;
    const char *tmpl;
    int64_t prompt_tokens, generated_tokens;
    int64_t busy_us;
    uint64_t calls;
};

static int mkdir_p(const char *path) {
    char *d = tg_strdup(path);
    for (char *p = d + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            if (mkdir(d, 0777) != 0 && errno != EEXIST) return free(d), -1;
            *p = '/';
        }
    int rc = mkdir(d, 0777) != 0 && errno != EEXIST ? -1 : 0;
    free(d);
    return rc;
}

/* DIR/KEY.SUFFIX, creating KEY's folders. */
static char *record_path(const char *dir, const char *key, const char *suffix, bool create) {
    tg_buf b = {0};
    tg_buf_printf(&b, "%s/%s.%s", dir, key, suffix);
    if (create) {
        char *slash = strrchr(b.s, '/');
        *slash = 0;
        mkdir_p(b.s);
        *slash = '/';
    }
    return tg_buf_take(&b);
}

tg_gen *tg_gen_create(const tg_gen_params *p, llamac_error *err) {
    tg_gen *g = calloc(1, sizeof *g);
    if (!g) abort();
    g->p = *p;
    g->tmpl = p->chat_template ? p->chat_template : "llama2";
    if (p->replay_dir) return g;
    llamac_model_params mp = llamac_model_default_params();
    g->model = llamac_model_load(p->model_path, &mp, err);
    if (!g->model) return free(g), NULL;
    if (!p->chat_template) {
        const char *t = llamac_chat_template_detect(g->model);
        g->tmpl = t ? t : "llama2";
    }
    llamac_context_params cp = llamac_context_default_params();
    cp.n_seq_max = p->n_seq < 1 ? 1 : p->n_seq;
    cp.n_threads = p->n_threads;
    g->ctx = llamac_context_create(g->model, &cp, err);
    if (!g->ctx) {
        llamac_model_free(g->model);
        free(g);
        return NULL;
    }
    return g;
}

void tg_gen_free(tg_gen *g) {
    if (!g) return;
    llamac_context_free(g->ctx);
    llamac_model_free(g->model);
    free(g);
}

void tg_gen_stats_get(const tg_gen *g, tg_gen_stats *s) {
    s->prompt_tokens = g->prompt_tokens;
    s->generated_tokens = g->generated_tokens;
    s->seconds = (double)g->busy_us / 1e6;
    s->template_name = g->tmpl;
}

static char *render(const char *tmpl, const llamac_chat_message *msgs, size_t n, llamac_error *err) {
    int64_t need = llamac_chat_render(tmpl, msgs, n, true, NULL, 0, err);
    if (need < 0) return NULL;
    char *text = malloc((size_t)need + 1);
    if (!text) abort();
    llamac_chat_render(tmpl, msgs, n, true, text, (size_t)need + 1, err);
    return text;
}

typedef struct seq_state {
    llamac_token *toks;
    int64_t n_toks;
    llamac_sampler *sampler;
    llamac_grammar *grammar;
    llamac_detokenizer *detok;
    tg_buf text;
    int32_t pos, n_gen, logits_entry;
    bool live;
} seq_state;

static void free_seqs(seq_state *s, int n) {
    for (int i = 0; i < n; i++) {
        free(s[i].toks);
        llamac_sampler_free(s[i].sampler);
        llamac_grammar_free(s[i].grammar);
        llamac_detokenizer_free(s[i].detok);
        tg_buf_free(&s[i].text);
    }
    free(s);
}

/* Tokenizes the prompts and decodes them (shared prefix once). Returns
 * the prefix length, or -1 (err), or -2 when the prompts do not fit. */
static int prefill(tg_gen *g, seq_state *s, int n, char **texts, int *n_predict, llamac_error *err) {
    for (int i = 0; i < n; i++) {
        size_t len = strlen(texts[i]);
        int64_t need = llamac_tokenize(g->model, texts[i], len, NULL, 0, LLAMAC_TOKENIZE_PARSE_SPECIAL, err);
        if (need < 1) return -1;
        s[i].toks = malloc((size_t)need * sizeof *s[i].toks);
        if (!s[i].toks) abort();
        s[i].n_toks = llamac_tokenize(g->model, texts[i], len, s[i].toks, need, LLAMAC_TOKENIZE_PARSE_SPECIAL, err);
    }
    int64_t common = s[0].n_toks - 1;
    for (int i = 1; i < n; i++) {
        int64_t c = 0;
        while (c < common && c < s[i].n_toks - 1 && s[i].toks[c] == s[0].toks[c]) c++;
        common = c;
    }
    int64_t cells = common;
    for (int i = 0; i < n; i++) cells += s[i].n_toks - common;
    int64_t n_ctx = llamac_n_ctx(g->ctx);
    int64_t per_seq = (n_ctx - cells) / n;
    int64_t longest = 0;
    for (int i = 0; i < n; i++) longest = s[i].n_toks > longest ? s[i].n_toks : longest;
    if (per_seq > n_ctx - longest) per_seq = n_ctx - longest;
    if (per_seq < 16) {
        snprintf(err->msg, sizeof err->msg, "the prompts need %lld of the context's %lld cells, leaving %lld per reply",
                 (long long)cells, (long long)n_ctx, (long long)per_seq);
        return -2;
    }
    *n_predict = g->p.n_predict > 0 && g->p.n_predict < per_seq ? g->p.n_predict : (int)per_seq;
    llamac_seq_rm(g->ctx, -1, -1, -1);
    llamac_batch *b = llamac_batch_create((int32_t)cells);
    llamac_seq_id ids[LLAMAC_SEQ_MAX];
    for (int i = 0; i < n; i++) ids[i] = i;
    for (int64_t t = 0; t < common; t++) llamac_batch_add(b, s[0].toks[t], (int32_t)t, ids, n, false);
    for (int i = 0; i < n; i++)
        for (int64_t t = common; t < s[i].n_toks; t++) {
            int32_t e = llamac_batch_add(b, s[i].toks[t], (int32_t)t, &ids[i], 1, t == s[i].n_toks - 1);
            if (t == s[i].n_toks - 1) s[i].logits_entry = e;
        }
    int rc = llamac_decode_batch(g->ctx, b, err);
    llamac_batch_free(b);
    g->prompt_tokens += cells;
    for (int i = 0; i < n; i++) s[i].pos = (int32_t)s[i].n_toks;
    return rc < 0 ? -1 : (int)common;
}

static int generate(tg_gen *g, char **texts, int n, const char *gbnf, char **replies, llamac_error *err) {
    seq_state *s = calloc((size_t)n, sizeof *s);
    if (!s) abort();
    for (int i = 0; i < n; i++) {
        llamac_sampler_params sp = g->p.sampling;
        sp.seed = g->p.sampling.seed + g->calls * 1000003u + (uint64_t)i * 7919u;
        s[i].sampler = llamac_sampler_create(&sp, llamac_n_vocab(g->model));
        s[i].detok = llamac_detokenizer_create(g->model);
        if (gbnf) {
            s[i].grammar = llamac_grammar_create(g->model, gbnf, NULL, err);
            if (!s[i].grammar) return free_seqs(s, n), -1;
            llamac_sampler_set_grammar(s[i].sampler, s[i].grammar);
        }
        s[i].live = true;
    }
    g->calls++;
    int n_predict = 0;
    int rc = prefill(g, s, n, texts, &n_predict, err);
    if (rc < 0) return free_seqs(s, n), rc;
    llamac_batch *b = llamac_batch_create(n);
    for (;;) {
        llamac_batch_clear(b);
        for (int i = 0; i < n; i++) {
            if (!s[i].live) continue;
            const float *logits = llamac_batch_logits(g->ctx, s[i].logits_entry);
            llamac_token t = logits ? llamac_sampler_sample(s[i].sampler, logits) : -1;
            if (t < 0 || llamac_token_is_eog(g->model, t)) {
                s[i].live = false;
                continue;
            }
            llamac_sampler_accept(s[i].sampler, t);
            if (s[i].grammar) llamac_grammar_accept(s[i].grammar, t);
            size_t len = 0;
            const char *piece = llamac_detokenizer_push(s[i].detok, t, &len);
            tg_buf_add(&s[i].text, piece, len);
            s[i].n_gen++;
            g->generated_tokens++;
            if (s[i].n_gen >= n_predict || (s[i].grammar && llamac_grammar_done(s[i].grammar))) {
                s[i].live = false;
                continue;
            }
            llamac_seq_id id = i;
            s[i].logits_entry = llamac_batch_add(b, t, s[i].pos++, &id, 1, true);
        }
        if (llamac_batch_size(b) == 0) break;
        if (llamac_decode_batch(g->ctx, b, err) < 0) {
            llamac_batch_free(b);
            free_seqs(s, n);
            return -1;
        }
    }
    llamac_batch_free(b);
    for (int i = 0; i < n; i++) {
        size_t len = 0;
        const char *rest = llamac_detokenizer_flush(s[i].detok, &len);
        tg_buf_add(&s[i].text, rest, len);
        replies[i] = tg_buf_take(&s[i].text);
    }
    free_seqs(s, n);
    return 0;
}

int tg_gen_replies(tg_gen *g, const llamac_chat_message *const *msgs, const size_t *n_msgs, int n,
                   const char *const *keys, const char *gbnf, char **replies, llamac_error *err) {
    int64_t start = llamac_time_us();
    char **texts = calloc((size_t)n, sizeof *texts);
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        replies[i] = NULL;
        texts[i] = render(g->tmpl, msgs[i], n_msgs[i], err);
        if (!texts[i]) rc = -1;
    }
    if (rc == 0 && g->p.replay_dir) {
        for (int i = 0; i < n && rc == 0; i++) {
            char *path = record_path(g->p.replay_dir, keys[i], "response.txt", false);
            llamac_error e2;
            replies[i] = tg_read_file(path, NULL, &e2);
            if (!replies[i]) {
                snprintf(err->msg, sizeof err->msg, "replay: %.490s", e2.msg);
                rc = -1;
            }
            free(path);
        }
    } else if (rc == 0) {
        rc = generate(g, texts, n, gbnf, replies, err);
    }
    if (rc == 0 && g->p.record_dir) {
        for (int i = 0; i < n; i++) {
            char *pp = record_path(g->p.record_dir, keys[i], "prompt.txt", true);
            char *rp = record_path(g->p.record_dir, keys[i], "response.txt", true);
            if (tg_write_file(pp, texts[i], err) != 0 || tg_write_file(rp, replies[i], err) != 0) rc = -1;
            free(pp);
            free(rp);
        }
    }
    for (int i = 0; i < n; i++) free(texts[i]);
    free(texts);
    if (rc != 0)
        for (int i = 0; i < n; i++) free(replies[i]), replies[i] = NULL;
    g->busy_us += llamac_time_us() - start;
    return rc;
}
