/* Grammar-constrained generation with real vocabularies: stories260K (a
 * SentencePiece vocabulary of 512) and tiny-llama3 (random weights, the
 * real Llama 3 vocabulary of 128256 tokens, whose tokens span many
 * characters). For each grammar or schema, 20 seeds at temperature 1 (and
 * one greedy run): every token the sampler returns is accepted by the
 * grammar, the whole text is accepted again by a fresh text-only matcher,
 * an end-of-generation token comes only where the grammar may end, and a
 * finished JSON text parses with cJSON and passes the schema validator.
 * At the first steps of one run per grammar the vocabulary filter is held
 * against checking every token on its own. */
#include <unistd.h>

#include "llamac.h"
#include "schema_validate.h"
#include "test_util.h"

typedef struct spec {
    const char *name;
    const char *gbnf_file; /* under ../grammars, or NULL */
    const char *gbnf;      /* inline GBNF, or NULL */
    const char *schema;    /* JSON schema, or NULL */
    bool json;             /* finished outputs must parse as JSON */
} spec;

static const spec specs[] = {
    {"json.gbnf", "json.gbnf", NULL, NULL, true},
    {"json_string_array.gbnf", "json_string_array.gbnf", NULL, NULL, true},
    {"c_tests.gbnf", "c_tests.gbnf", NULL, NULL, false},
    {"unicode", NULL, "root ::= \"\xc2\xab\" [\xce\xb1-\xcf\x89\xe4\xb8\x80-\xe4\xb8\x8f]{1,6} \"\xc2\xbb\"", NULL, false},
    {"words", NULL, "root ::= word (\" \" word){0,5} \".\"\nword ::= [a-z]{1,8}", NULL, false},
    {"person schema", NULL, NULL,
     "{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\",\"maxLength\":8},"
     "\"age\":{\"type\":\"integer\"},\"tags\":{\"type\":\"array\",\"items\":{\"enum\":[\"a\",\"b\",\"c\"]},"
     "\"maxItems\":3}},\"required\":[\"name\",\"age\"]}", true},
    {"json_object", NULL, NULL, "{\"type\":\"object\"}", true},
    {"int array", NULL, NULL, "{\"type\":\"array\",\"items\":{\"type\":\"integer\"},\"minItems\":1,\"maxItems\":4}", true},
    {"refs", NULL, NULL,
     "{\"$defs\":{\"pt\":{\"type\":\"object\",\"properties\":{\"x\":{\"type\":\"number\"},\"y\":{\"type\":\"number\"}},"
     "\"required\":[\"x\",\"y\"]}},\"type\":\"array\",\"items\":{\"$ref\":\"#/$defs/pt\"},\"maxItems\":2}", true},
    {"formats and enums", NULL, NULL,
     "{\"type\":\"object\",\"properties\":{\"when\":{\"type\":\"string\",\"format\":\"date\"},"
     "\"id\":{\"type\":\"string\",\"format\":\"uuid\"},\"c\":{\"anyOf\":[{\"enum\":[\"red\",1,null]},"
     "{\"type\":[\"boolean\",\"null\"]}]},\"s\":{\"type\":\"string\",\"minLength\":2,\"maxLength\":4}},"
     "\"required\":[\"when\",\"id\",\"c\",\"s\"]}", true},
};
enum { N_SPECS = sizeof specs / sizeof specs[0] };

static char *spec_gbnf(const spec *s) {
    if (s->gbnf) return strdup(s->gbnf);
    if (s->gbnf_file) {
        char path[256];
        snprintf(path, sizeof path, "../grammars/%s", s->gbnf_file);
        return lc_test_read_file(path, NULL);
    }
    llamac_error err = {{0}};
    char *g = llamac_json_schema_to_gbnf(s->schema, &err);
    CHECKF(g != NULL, "%s: %s", s->name, err.msg);
    return g;
}

/* The allowed-token set against asking about each token alone. */
static void check_filter_exact(llamac_grammar *g, int32_t n_vocab, const char *what) {
    const uint64_t *mask = llamac_grammar_allowed(g);
    if (!mask) {
        CHECK(mask != NULL);
        return;
    }
    uint64_t *copy = malloc(((size_t)n_vocab + 63) / 64 * sizeof *copy);
    memcpy(copy, mask, ((size_t)n_vocab + 63) / 64 * sizeof *copy);
    int wrong = 0, allowed = 0;
    for (int32_t t = 0; t < n_vocab; t++) {
        bool in = (copy[t >> 6] >> (t & 63)) & 1;
        allowed += in;
        wrong += in != llamac_grammar_allows(g, t);
    }
    CHECKF(wrong == 0, "%s: the filter and single checks differ on %d tokens", what, wrong);
    CHECKF(allowed > 0, "%s: no token allowed", what);
    free(copy);
}

typedef struct run_stats {
    int runs, finished, tokens;
} run_stats;

/* One generation; returns the text (malloc'd) and whether it finished. */
static char *generate(llamac_model *m, llamac_context *ctx, llamac_grammar *g, const llamac_token *prompt,
                      int32_t n_prompt, float temperature, uint64_t seed, int max_tokens, bool check_exact,
                      const char *what, bool *finished, int *n_tokens) {
    llamac_error err = {{0}};
    llamac_sampler_params p = llamac_sampler_default_params();
    p.temperature = temperature;
    p.top_k = 0;
    p.top_p = 1.0f;
    p.min_p = 0.0f;
    p.seed = seed;
    llamac_sampler *s = llamac_sampler_create(&p, llamac_n_vocab(m));
    llamac_sampler_set_grammar(s, g);
    llamac_grammar_reset(g);
    llamac_kv_truncate(ctx, 0);
    size_t cap = 4096, len = 0;
    char *text = calloc(cap, 1);
    *finished = false;
    *n_tokens = 0;
    int rc = llamac_decode(ctx, prompt, n_prompt, false, &err);
    CHECKF(rc == 0, "%s", err.msg);
    for (int i = 0; rc == 0 && i < max_tokens; i++) {
        if (check_exact && i < 3) check_filter_exact(g, llamac_n_vocab(m), what);
        llamac_token tok = llamac_sampler_sample(s, llamac_logits(ctx, -1));
        CHECKF(tok >= 0, "%s seed %llu: no token at step %d", what, (unsigned long long)seed, i);
        if (tok < 0) break;
        if (llamac_token_is_eog(m, tok)) {
            CHECKF(llamac_grammar_can_end(g), "%s: end of generation where the grammar cannot end", what);
            CHECK(llamac_grammar_accept(g, tok));
            *finished = true;
            break;
        }
        bool ok = llamac_grammar_accept(g, tok);
        CHECKF(ok, "%s seed %llu: sampled token %d refused by the grammar", what, (unsigned long long)seed, tok);
        if (!ok) break;
        char piece[256];
        size_t n = llamac_token_to_piece(m, tok, false, piece, sizeof piece);
        if (n < sizeof piece && len + n + 1 < cap) {
            memcpy(text + len, piece, n);
            len += n;
        }
        (*n_tokens)++;
        rc = llamac_decode(ctx, &tok, 1, false, &err);
        CHECKF(rc == 0, "%s", err.msg);
    }
    llamac_sampler_free(s);
    text[len] = 0;
    return text;
}

static void check_output(const spec *sp, const char *gbnf, const char *text, bool finished) {
    llamac_error err = {{0}};
    llamac_grammar *fresh = llamac_grammar_create(NULL, gbnf, NULL, &err);
    if (!fresh) return;
    CHECKF(llamac_grammar_accept_text(fresh, text, strlen(text)), "%s: a fresh matcher refuses \"%s\"", sp->name, text);
    if (finished) CHECKF(llamac_grammar_can_end(fresh), "%s: finished but incomplete: \"%s\"", sp->name, text);
    llamac_grammar_free(fresh);
    if (!finished || !sp->json) return;
    cJSON *v = cJSON_Parse(text);
    CHECKF(v != NULL, "%s: not JSON: %s", sp->name, text);
    if (v && sp->schema) {
        cJSON *schema = cJSON_Parse(sp->schema);
        CHECKF(sv_valid(schema, schema, v), "%s: breaks the schema: %s", sp->name, text);
        cJSON_Delete(schema);
    }
    cJSON_Delete(v);
}

static void run_model(const char *label, llamac_model *m, const char *prompt_text, int seeds, int max_tokens) {
    llamac_error err = {{0}};
    llamac_context_params cp = llamac_context_default_params();
    cp.n_ctx = 256;
    cp.n_threads = 1;
    llamac_context *ctx = llamac_context_create(m, &cp, &err);
    CHECKF(ctx != NULL, "%s", err.msg);
    if (!ctx) return;
    llamac_token prompt[64];
    int64_t n_prompt = llamac_tokenize(m, prompt_text, strlen(prompt_text), prompt, 64, LLAMAC_TOKENIZE_ADD_SPECIAL, &err);
    CHECK(n_prompt > 0 && n_prompt <= 64);
    int64_t t0 = llamac_time_us();
    for (int i = 0; i < N_SPECS; i++) {
        const spec *sp = &specs[i];
        char *gbnf = spec_gbnf(sp);
        if (!gbnf) continue;
        llamac_grammar *g = llamac_grammar_create(m, gbnf, NULL, &err);
        CHECKF(g != NULL, "%s %s: %s", label, sp->name, err.msg);
        run_stats st = {0};
        for (int seed = 0; g && seed <= seeds; seed++) {
            bool finished;
            int n_tokens;
            char what[128];
            snprintf(what, sizeof what, "%s %s", label, sp->name);
            /* seed 0 is the greedy run, and the one that checks the filter */
            char *text = generate(m, ctx, g, prompt, (int32_t)n_prompt, seed == 0 ? 0.0f : 1.0f, (uint64_t)seed,
                                  max_tokens, seed == 0, what, &finished, &n_tokens);
            check_output(sp, gbnf, text, finished);
            st.runs++;
            st.finished += finished;
            st.tokens += n_tokens;
            if (seed == 1) fprintf(stderr, "  %s %-22s seed 1: %s%s\n", label, sp->name, text, finished ? "" : " ...");
            free(text);
        }
        llamac_grammar_stats gs;
        llamac_grammar_stats_get(g, &gs);
        fprintf(stderr, "%s %-22s %d runs, %d finished, %d tokens; %llu checks, %llu filters (%llu cached), %.1f ms filtering, %u states\n",
                label, sp->name, st.runs, st.finished, st.tokens, (unsigned long long)gs.checks,
                (unsigned long long)gs.filters, (unsigned long long)gs.filter_cached, (double)gs.filter_us / 1e3, gs.states);
        llamac_grammar_free(g);
        free(gbnf);
    }
    fprintf(stderr, "%s: %.2f s\n", label, (double)(llamac_time_us() - t0) / 1e6);
    llamac_context_free(ctx);
}

int main(void) {
    llamac_error err = {{0}};
    llamac_model *m = llamac_model_load("../models/stories260K.gguf", NULL, &err);
    CHECKF(m != NULL, "%s", err.msg);
    if (m) run_model("stories260K", m, "Once upon a time", 20, 48);
    llamac_model_free(m);

    char out[64];
    snprintf(out, sizeof out, "tiny-llama3-grammar-%d.gguf", (int)getpid());
    llamac_convert_params p = llamac_convert_default_params();
    p.type = llamac_convert_type_from_name("q8_0");
    int rc = llamac_convert("data/tiny-llama3", out, &p, &err);
    CHECKF(rc == 0, "convert: %s", err.msg);
    if (rc == 0) {
        m = llamac_model_load(out, NULL, &err);
        CHECKF(m != NULL, "%s", err.msg);
        if (m) run_model("tiny-llama3", m, "Output:", 20, 24);
        llamac_model_free(m);
    }
    remove(out);
    return TEST_SUMMARY("test_grammar_model");
}
