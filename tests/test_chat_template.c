/* Chat templates: the golden Llama 3.1 renderings (text, and ids through
 * the tokenizer loaded from tokenizer.json), hand-checked Llama 3.0 and
 * Llama 2 / CodeLlama renderings from docs/formats.md "Chat templates", Jinja-style
 * trimming, snprintf-like sizing, error cases, and template detection from
 * the official template strings. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "chat/template.h"
#include "format/gguf.h"
#include "llamac.h"
#include "test_util.h"
#include "tokenizer/tokenizer_data.h"
#include "tokenizer/vocab.h"

/* ------------------------------------------------- a small JSON reader */

typedef enum { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ } json_type;

typedef struct json {
    json_type type;
    double num;           /* J_NUM, J_BOOL (0/1) */
    char *str;            /* J_STR: decoded UTF-8, NUL-terminated */
    size_t len;
    struct json *items;   /* J_ARR / J_OBJ values */
    char **keys;          /* J_OBJ keys */
    size_t n;
} json;

typedef struct json_parser {
    const char *p, *end;
    bool bad;
} json_parser;

static void json_free(json *v) {
    free(v->str);
    for (size_t i = 0; i < v->n; i++) {
        json_free(&v->items[i]);
        if (v->keys) free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
}

static void skip_ws(json_parser *ps) {
    while (ps->p < ps->end && strchr(" \t\r\n", *ps->p) && *ps->p) ps->p++;
}

static void put_utf8(char *out, size_t *n, uint32_t cp) {
    if (cp < 0x80) out[(*n)++] = (char)cp;
    else if (cp < 0x800) {
        out[(*n)++] = (char)(0xC0 | (cp >> 6));
        out[(*n)++] = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out[(*n)++] = (char)(0xE0 | (cp >> 12));
        out[(*n)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[(*n)++] = (char)(0x80 | (cp & 0x3F));
    } else {
        out[(*n)++] = (char)(0xF0 | (cp >> 18));
        out[(*n)++] = (char)(0x80 | ((cp >> 12) & 0x3F));
        out[(*n)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[(*n)++] = (char)(0x80 | (cp & 0x3F));
    }
}

static uint32_t hex4(json_parser *ps) {
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        char c = ps->p < ps->end ? *ps->p++ : 0;
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (uint32_t)(c - 'A' + 10);
        else ps->bad = true;
    }
    return v;
}

/* Parses a string after its opening quote; escapes never grow the text. */
static char *parse_string(json_parser *ps, size_t *len) {
    char *out = malloc((size_t)(ps->end - ps->p) + 1);
    size_t n = 0;
    while (ps->p < ps->end && *ps->p != '"') {
        char c = *ps->p++;
        if (c != '\\') { out[n++] = c; continue; }
        char e = ps->p < ps->end ? *ps->p++ : 0;
        switch (e) {
        case 'n': out[n++] = '\n'; break;
        case 't': out[n++] = '\t'; break;
        case 'r': out[n++] = '\r'; break;
        case 'b': out[n++] = '\b'; break;
        case 'f': out[n++] = '\f'; break;
        case 'u': {
            uint32_t cp = hex4(ps);
            if (cp >= 0xD800 && cp < 0xDC00 && ps->end - ps->p >= 6 && ps->p[0] == '\\') {
                ps->p += 2;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (hex4(ps) - 0xDC00);
            }
            put_utf8(out, &n, cp);
            break;
        }
        default: out[n++] = e; break; /* \" \\ \/ */
        }
    }
    if (ps->p >= ps->end) ps->bad = true;
    else ps->p++;
    out[n] = '\0';
    *len = n;
    return out;
}

static void parse_value(json_parser *ps, json *v, int depth);

static void parse_container(json_parser *ps, json *v, bool is_obj, int depth) {
    char close = is_obj ? '}' : ']';
    size_t cap = 0;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == close) { ps->p++; return; }
    while (!ps->bad) {
        if (v->n == cap) {
            cap = cap ? cap * 2 : 8;
            v->items = realloc(v->items, cap * sizeof *v->items);
            if (is_obj) v->keys = realloc(v->keys, cap * sizeof *v->keys);
        }
        memset(&v->items[v->n], 0, sizeof v->items[v->n]);
        if (is_obj) {
            skip_ws(ps);
            size_t klen;
            if (ps->p >= ps->end || *ps->p++ != '"') { ps->bad = true; return; }
            v->keys[v->n] = parse_string(ps, &klen);
            skip_ws(ps);
            if (ps->p >= ps->end || *ps->p++ != ':') ps->bad = true;
        }
        parse_value(ps, &v->items[v->n], depth + 1);
        v->n++;
        skip_ws(ps);
        char c = ps->p < ps->end ? *ps->p++ : 0;
        if (c == close) return;
        if (c != ',') ps->bad = true;
    }
}

static void parse_value(json_parser *ps, json *v, int depth) {
    skip_ws(ps);
    if (ps->p >= ps->end || depth > 64) { ps->bad = true; return; }
    char c = *ps->p;
    if (c == '"') { ps->p++; v->type = J_STR; v->str = parse_string(ps, &v->len); }
    else if (c == '{' || c == '[') { ps->p++; v->type = c == '{' ? J_OBJ : J_ARR; parse_container(ps, v, c == '{', depth); }
    else if (!strncmp(ps->p, "true", 4)) { ps->p += 4; v->type = J_BOOL; v->num = 1; }
    else if (!strncmp(ps->p, "false", 5)) { ps->p += 5; v->type = J_BOOL; v->num = 0; }
    else if (!strncmp(ps->p, "null", 4)) { ps->p += 4; v->type = J_NULL; }
    else {
        char *endp;
        v->type = J_NUM;
        v->num = strtod(ps->p, &endp);
        if (endp == ps->p) ps->bad = true;
        ps->p = endp;
    }
}

static bool json_parse_file(const char *path, json *out) {
    size_t size;
    char *text = lc_test_read_file(path, &size);
    memset(out, 0, sizeof *out);
    if (!text) return false;
    json_parser ps = {text, text + size, false};
    parse_value(&ps, out, 0);
    free(text);
    return !ps.bad;
}

static const json *json_get(const json *obj, const char *key) {
    if (!obj || obj->type != J_OBJ) return NULL;
    for (size_t i = 0; i < obj->n; i++)
        if (!strcmp(obj->keys[i], key)) return &obj->items[i];
    return NULL;
}

/* ------------------------------------------------------------ helpers */

/* Renders into a fresh buffer sized by a first measuring call. */
static char *render(const char *name, const llamac_chat_message *m, size_t n, bool gen,
                    llamac_error *err) {
    int64_t need = llamac_chat_render(name, m, n, gen, NULL, 0, err);
    if (need < 0) return NULL;
    char *buf = malloc((size_t)need + 1);
    int64_t got = llamac_chat_render(name, m, n, gen, buf, (size_t)need + 1, err);
    if (got != need) { free(buf); return NULL; }
    return buf;
}

static void check_render(const char *name, const llamac_chat_message *m, size_t n, bool gen,
                         const char *want) {
    llamac_error err = {{0}};
    char *got = render(name, m, n, gen, &err);
    CHECKF(got != NULL, "%s: %s", name, err.msg);
    if (got) CHECKF(!strcmp(got, want), "%s:\n got  [%s]\n want [%s]", name, got, want);
    free(got);
}

/* ---------------------------------------------------------------- tests */

/* The Llama 3.1 tokenizer from tokenizer.json (NULL, after a failed
 * CHECK, when it cannot be loaded). */
static lc_vocab *create_vocab(const lc_tokenizer_data *data) {
    llamac_error err = {{0}};
    lc_vocab *v = NULL;
    int rc = lc_vocab_create(data, &v, &err);
    CHECKF(rc == 0, "vocab: %s", err.msg);
    return rc == 0 ? v : NULL;
}

/* The rendered text, tokenized as the header says (special tokens parsed,
 * no BOS added), gives exactly the golden ids. */
static void check_ids(const lc_vocab *v, const char *text, const json *ids, const char *name) {
    lc_tokens toks = {0};
    llamac_error err = {{0}};
    int rc = lc_vocab_encode(v, text, strlen(text), LLAMAC_TOKENIZE_PARSE_SPECIAL, &toks, &err);
    CHECKF(rc == 0, "%s: %s", name, err.msg);
    bool same = rc == 0 && ids && ids->type == J_ARR && toks.n == ids->n;
    for (size_t i = 0; same && i < toks.n; i++) same = toks.ids[i] == (int32_t)ids->items[i].num;
    CHECKF(same, "%s: ids differ (%zu ids, golden %zu)", name, toks.n, ids ? ids->n : 0);
    lc_tokens_free(&toks);
}

static void test_llama31_golden(const lc_tokenizer_data *llama31) {
    lc_vocab *vocab = llama31 ? create_vocab(llama31) : NULL;
    json doc;
    bool ok = json_parse_file("data/llama3.1/chat_template_examples.json", &doc);
    CHECK(ok);
    const json *ex = json_get(&doc, "examples");
    CHECK(ex && ex->type == J_ARR && ex->n >= 3);
    size_t n_checked = 0;
    for (size_t e = 0; ok && ex && e < ex->n; e++) {
        const json *msgs = json_get(&ex->items[e], "messages");
        const json *gen = json_get(&ex->items[e], "add_generation_prompt");
        const json *want = json_get(&ex->items[e], "rendered");
        if (!msgs || !gen || !want || msgs->n > 16) { CHECK(0); continue; }
        llamac_chat_message m[16];
        for (size_t i = 0; i < msgs->n; i++) {
            m[i].role = json_get(&msgs->items[i], "role")->str;
            m[i].content = json_get(&msgs->items[i], "content")->str;
        }
        check_render("llama3.1", m, msgs->n, gen->num != 0, want->str);
        char *got = render("llama3.1", m, msgs->n, gen->num != 0, NULL);
        const json *name = json_get(&ex->items[e], "name");
        if (vocab && got) check_ids(vocab, got, json_get(&ex->items[e], "token_ids"), name ? name->str : "?");
        free(got);
        n_checked++;
    }
    CHECK(n_checked == 3);
    json_free(&doc);
    lc_vocab_free(vocab);
}

static void test_llama31_rules(void) {
    /* Trimming (Jinja trim = Python strip, Unicode whitespace too), a
     * later system message kept in place, tool results untrimmed and
     * written as JSON strings (the template's tojson). */
    const llamac_chat_message m[] = {
        {"system", " \t be brief\n\n"},
        {"user", "\xe3\x80\x80" "hi\xc2\xa0"}, /* ideographic space, no-break space */
        {"assistant", "\n\nhello  \n"},
        {"system", "late"},
        {"ipython", " 42\n"},
        {"tool", "\"q\" \\ \x01\t\xc3\xa9"},
    };
    check_render("llama3.1", m, 6, true,
                 "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
                 "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n"
                 "be brief<|eot_id|>"
                 "<|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>"
                 "<|start_header_id|>assistant<|end_header_id|>\n\nhello<|eot_id|>"
                 "<|start_header_id|>system<|end_header_id|>\n\nlate<|eot_id|>"
                 "<|start_header_id|>ipython<|end_header_id|>\n\n\" 42\\n\"<|eot_id|>"
                 "<|start_header_id|>ipython<|end_header_id|>\n\n"
                 "\"\\\"q\\\" \\\\ \\u0001\\t\xc3\xa9\"<|eot_id|>"
                 "<|start_header_id|>assistant<|end_header_id|>\n\n");
    /* A lone system message still gets its block; an empty conversation is
     * an error (the Jinja template indexes messages[0]). */
    const llamac_chat_message sys_only[] = {{"system", "S"}};
    check_render("llama3.1", sys_only, 1, false,
                 "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
                 "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\nS<|eot_id|>");
    llamac_error err = {{0}};
    CHECK(llamac_chat_render("llama3.1", NULL, 0, true, NULL, 0, &err) == -1);
    CHECKF(strstr(err.msg, "empty"), "%s", err.msg);
}

static void test_llama3(void) {
    const llamac_chat_message m[] = {
        {"system", "You are terse."},
        {"user", "  Hi  "},
        {"assistant", "Hello."},
        {"user", "Bye"},
    };
    check_render("llama3", m, 4, true,
                 "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are terse."
                 "<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
                 "<|start_header_id|>assistant<|end_header_id|>\n\nHello.<|eot_id|>"
                 "<|start_header_id|>user<|end_header_id|>\n\nBye<|eot_id|>"
                 "<|start_header_id|>assistant<|end_header_id|>\n\n");
    check_render("llama3", m + 1, 1, false,
                 "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>");
}

static void test_llama2(void) {
    const llamac_chat_message m[] = {
        {"system", "Answer in French."},
        {"user", " What is cat? "},
        {"assistant", " chat\n"},
        {"user", "And dog?"},
    };
    /* The template strips system + first user text as one string, so the
     * user text's leading space stays. */
    check_render("llama2", m, 4, true,
                 "<s>[INST] <<SYS>>\nAnswer in French.\n<</SYS>>\n\n What is cat? [/INST]"
                 " chat </s><s>[INST] And dog? [/INST]");
    /* Without a system message; the generation flag changes nothing. */
    check_render("llama2", m + 1, 3, false,
                 "<s>[INST] What is cat? [/INST] chat </s><s>[INST] And dog? [/INST]");
    /* The system text is kept as given, and a blank first user turn
     * strips back into the system block. */
    const llamac_chat_message blank[] = {{"system", " sys "}, {"user", " \n"}};
    check_render("llama2", blank, 2, true, "<s>[INST] <<SYS>>\n sys \n<</SYS>> [/INST]");

    /* Roles that do not alternate are refused with a reason. */
    llamac_error err = {{0}};
    const llamac_chat_message twice[] = {{"user", "a"}, {"user", "b"}};
    CHECK(llamac_chat_render("llama2", twice, 2, true, NULL, 0, &err) == -1);
    CHECKF(strstr(err.msg, "message 1") && strstr(err.msg, "alternate"), "%s", err.msg);
    const llamac_chat_message starts_wrong[] = {{"assistant", "a"}};
    CHECK(llamac_chat_render("llama2", starts_wrong, 1, true, NULL, 0, &err) == -1);
    const llamac_chat_message late_sys[] = {{"user", "a"}, {"assistant", "b"}, {"system", "c"}};
    CHECK(llamac_chat_render("llama2", late_sys, 3, true, NULL, 0, &err) == -1);
}

static void test_sizing_and_errors(void) {
    const llamac_chat_message m[] = {{"user", "Hello there"}};
    llamac_error err = {{0}};
    int64_t need = llamac_chat_render("llama3", m, 1, true, NULL, 0, &err);
    char *full = render("llama3", m, 1, true, &err);
    CHECK(full && need == (int64_t)strlen(full));
    /* A short buffer gets a NUL-terminated prefix and the full length. */
    char small[10];
    memset(small, 'Z', sizeof small);
    CHECK(llamac_chat_render("llama3", m, 1, true, small, sizeof small, &err) == need);
    CHECK(small[9] == '\0' && full && !strncmp(small, full, 9));
    free(full);

    CHECK(llamac_chat_render("chatml", m, 1, true, NULL, 0, &err) == -1);
    CHECKF(strstr(err.msg, "chatml") && strstr(err.msg, "llama3.1") && strstr(err.msg, "llama2"),
           "%s", err.msg);
    CHECK(llamac_chat_render(NULL, m, 1, true, NULL, 0, &err) == -1);
    const llamac_chat_message null_content[] = {{"user", NULL}};
    CHECK(llamac_chat_render("llama3.1", null_content, 1, true, NULL, 0, &err) == -1);
    CHECKF(strstr(err.msg, "message 0"), "%s", err.msg);

    size_t n_names = 0;
    const char *const *names = llamac_chat_template_names(&n_names);
    CHECK(n_names == 3);
    for (size_t i = 0; i < n_names; i++)
        CHECK(llamac_chat_render(names[i], m, 1, true, NULL, 0, NULL) > 0);
}

static void test_whitespace(void) {
    CHECK(lc_chat_lead_space(" \t\n\v\f\r\x1c\x1f" "x", 9) == 8);
    CHECK(lc_chat_lead_space("\xc2\x85\xe2\x80\xa8" "x", 6) == 5);  /* NEL, LINE SEPARATOR */
    CHECK(lc_chat_lead_space("\xe2\x80\x8b" "x", 4) == 0);           /* ZERO WIDTH SPACE is not */
    CHECK(lc_chat_trail_space("x\xe2\x80\x83\xe3\x80\x80", 7) == 6); /* EM SPACE, IDEOGRAPHIC */
    CHECK(lc_chat_trail_space("x\x80\x80 ", 4) == 1);                /* stray continuation bytes */
    CHECK(lc_chat_trail_space("   ", 3) == 3);
    CHECK(lc_chat_lead_space("", 0) == 0 && lc_chat_trail_space("", 0) == 0);
}

static const char LLAMA3_TEMPLATE[] =
    "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = "
    "'<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | "
    "trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}"
    "{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}";

static const char LLAMA2_TEMPLATE[] =
    "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}"
    "{% set system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}"
    "{% set system_message = false %}{% endif %}{% for message in loop_messages %}"
    "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}"
    "{% endif %}{% if loop.index0 == 0 and system_message != false %}{% set content = "
    "'<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}{% else %}"
    "{% set content = message['content'] %}{% endif %}{% if message['role'] == 'user' %}"
    "{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}{% elif message['role'] == "
    "'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}";

static const char CHATML_TEMPLATE[] =
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + "
    "message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}";

static void test_detect(void) {
    json cfg;
    const char *paths[] = {"data/llama3.1/tokenizer_config.json",
                           "data/tiny-llama3/tokenizer_config.json"};
    for (size_t i = 0; i < 2; i++) {
        CHECK(json_parse_file(paths[i], &cfg));
        const json *t = json_get(&cfg, "chat_template");
        CHECKF(t && t->type == J_STR, "%s: no chat_template", paths[i]);
        const char *name = t ? lc_chat_template_detect_text(t->str, t->len) : NULL;
        CHECKF(name && !strcmp(name, "llama3.1"), "%s -> %s", paths[i], name ? name : "NULL");
        json_free(&cfg);
    }
    const char *n3 = lc_chat_template_detect_text(LLAMA3_TEMPLATE, strlen(LLAMA3_TEMPLATE));
    CHECK(n3 && !strcmp(n3, "llama3"));
    const char *n2 = lc_chat_template_detect_text(LLAMA2_TEMPLATE, strlen(LLAMA2_TEMPLATE));
    CHECK(n2 && !strcmp(n2, "llama2"));
    CHECK(lc_chat_template_detect_text(CHATML_TEMPLATE, strlen(CHATML_TEMPLATE)) == NULL);
    CHECK(lc_chat_template_detect_text("", 0) == NULL);
    CHECK(lc_chat_template_detect_text(NULL, 0) == NULL);
    /* The CodeLlama config carries no template: nothing to detect. */
    CHECK(json_parse_file("data/codellama/tokenizer_config.json", &cfg));
    CHECK(json_get(&cfg, "chat_template") == NULL);
    json_free(&cfg);
    CHECK(llamac_chat_template_detect(NULL) == NULL);
}

/* Writes a vocabulary-only GGUF with `chat_template` (NULL: none), loads
 * it as a model and returns what llamac_chat_template_detect says. */
static const char *detect_through_gguf(lc_tokenizer_data *data, const char *chat_template,
                                       const char *dir) {
    char path[256];
    snprintf(path, sizeof path, "%s/vocab.gguf", dir);
    char *saved = data->chat_template;
    data->chat_template = (char *)chat_template;
    llamac_error err = {{0}};
    lc_gguf_writer *w = lc_gguf_writer_create();
    bool ok = w && lc_gguf_writer_add_str(w, "general.architecture", "llama", 5) == 0 &&
              lc_tokenizer_data_write_gguf(data, w) == 0 && lc_gguf_writer_begin(w, path, &err) == 0 &&
              lc_gguf_writer_finish(w, &err) == 0;
    lc_gguf_writer_free(w);
    data->chat_template = saved;
    CHECKF(ok, "writing %s: %s", path, err.msg);
    llamac_model_params mp = llamac_model_default_params();
    mp.vocab_only = true;
    llamac_model *model = ok ? llamac_model_load(path, &mp, &err) : NULL;
    CHECKF(!ok || model, "loading %s: %s", path, err.msg);
    const char *name = model ? llamac_chat_template_detect(model) : "(no model)";
    llamac_model_free(model);
    remove(path);
    return name;
}

static bool same_name(const char *got, const char *want) {
    return got == want || (got && want && !strcmp(got, want));
}

static void test_detect_models(lc_tokenizer_data *llama31) {
    char dir[] = "/tmp/llamac_chat_template_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    if (llama31) {
        const char *n = detect_through_gguf(llama31, llama31->chat_template, dir);
        CHECKF(same_name(n, "llama3.1"), "Llama 3.1 GGUF -> %s", n ? n : "NULL");
    }
    lc_tokenizer_data spm;
    lc_tokenizer_data_init(&spm);
    llamac_error err = {{0}};
    int rc = lc_tokenizer_data_from_spm_model("data/llama2/tokenizer.model", &spm, &err);
    CHECKF(rc == 0, "data/llama2/tokenizer.model: %s", err.msg);
    if (rc == 0) {
        const char *n = detect_through_gguf(&spm, LLAMA2_TEMPLATE, dir);
        CHECKF(same_name(n, "llama2"), "Llama 2 GGUF -> %s", n ? n : "NULL");
        n = detect_through_gguf(&spm, CHATML_TEMPLATE, dir);
        CHECKF(same_name(n, NULL), "ChatML GGUF -> %s", n ? n : "NULL");
        n = detect_through_gguf(&spm, NULL, dir);
        CHECKF(same_name(n, NULL), "GGUF without a template -> %s", n ? n : "NULL");
    }
    lc_tokenizer_data_free(&spm);
    rmdir(dir);
}

int main(void) {
    lc_tokenizer_data llama31;
    lc_tokenizer_data_init(&llama31);
    llamac_error err = {{0}};
    bool have31 = lc_tokenizer_data_from_hf_dir("data/llama3.1", 0, &llama31, &err) == 0;
    CHECKF(have31, "data/llama3.1: %s", err.msg);
    test_llama31_golden(have31 ? &llama31 : NULL);
    test_llama31_rules();
    test_llama3();
    test_llama2();
    test_sizing_and_errors();
    test_whitespace();
    test_detect();
    test_detect_models(have31 ? &llama31 : NULL);
    lc_tokenizer_data_free(&llama31);
    return TEST_SUMMARY("test_chat_template");
}
