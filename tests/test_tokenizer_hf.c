/* Loading tokenizers from Hugging Face folders: Llama 3.1's tokenizer.json
 * and tokenizer_config.json, generation_config.json's eos list, both forms
 * of BPE merges, a SentencePiece folder (stories260K-hf), padding to
 * config vocab_size, added tokens, and clear errors for missing files and
 * bad JSON fields. */
#include "test_util.h"
#include "tokenizer_test_util.h"

#include <cjson/cJSON.h>
#include <sys/stat.h>

#include "tokenizer/tokenizer_data.h"

#define LLAMA31_DIR "data/llama3.1"
#define TINY_LLAMA3_DIR "data/tiny-llama3"
#define STORIES_HF_DIR "data/stories260K-hf"
#define TOK512_MODEL "data/stories260K/tok512.model"

static char scratch[256];

static void scratch_path(char *buf, size_t size, const char *name) {
    snprintf(buf, size, "%s/%s", scratch, name);
}

static void put_scratch(const char *name, const char *text) {
    char path[512];
    scratch_path(path, sizeof path, name);
    if (write_file(path, text, strlen(text)) < 0) fprintf(stderr, "cannot write %s\n", path);
}

static void clear_scratch(void) {
    remove_dir(scratch);
    mkdir(scratch, 0700);
}

static int load(const char *dir, int64_t vocab_size, lc_tokenizer_data *d, llamac_error *err) {
    int rc = lc_tokenizer_data_from_hf_dir(dir, vocab_size, d, err);
    if (rc < 0) lc_tokenizer_data_init(d);
    return rc;
}

static void test_llama31(lc_tokenizer_data *d) {
    CHECK(d->n_tokens == 128256 && strcmp(d->model, "gpt2") == 0);
    CHECK(strcmp(d->pre, "llama-bpe") == 0 && d->scores == NULL);
    CHECK(d->n_merges == 280147 && strcmp(d->merges[0], "\xC4\xA0 \xC4\xA0") == 0);
    CHECK(d->bos_id == 128000 && d->eos_id == 128009 && d->unk_id == -1 && d->pad_id == -1);
    CHECK(d->add_bos == -1 && d->add_eos == -1 && d->add_space_prefix == -1);
    CHECK(d->eot_id == -1 && d->eom_id == -1 && d->n_eos_ids == 0);
    int normal = 0, control = 0;
    for (int32_t i = 0; i < d->n_tokens; i++) {
        normal += i < 128000 && d->token_types[i] == LC_TOKEN_NORMAL;
        control += i >= 128000 && d->token_types[i] == LC_TOKEN_CONTROL;
    }
    CHECK(normal == 128000 && control == 256);
    CHECK(strcmp(d->tokens[128009], "<|eot_id|>") == 0 && d->token_lens[128009] == 10);
    CHECK(strcmp(d->tokens[279], "\xC4\xA0the") == 0);
    /* The chat template is copied verbatim. */
    char *cfg_text = lc_test_read_file(LLAMA31_DIR "/tokenizer_config.json", NULL);
    cJSON *cfg = cfg_text ? cJSON_Parse(cfg_text) : NULL;
    const cJSON *tpl = cJSON_GetObjectItem(cfg, "chat_template");
    CHECK(cJSON_IsString(tpl) && d->chat_template && strcmp(tpl->valuestring, d->chat_template) == 0);
    cJSON_Delete(cfg);
    free(cfg_text);
}

/* tiny-llama3: generation_config.json's eos list, padding past the vocabulary. */
static void test_tiny_llama3(void) {
    lc_tokenizer_data d;
    llamac_error err = {{0}};
    CHECKF(load(TINY_LLAMA3_DIR, 128300, &d, &err) == 0, "%s", err.msg);
    CHECK(d.n_tokens == 128300 && d.n_eos_ids == 3);
    CHECK(d.n_eos_ids == 3 && d.eos_ids[0] == 128001 && d.eos_ids[1] == 128008 &&
          d.eos_ids[2] == 128009);
    CHECK(strcmp(d.tokens[128299], "[PAD128299]") == 0 && d.token_types[128299] == LC_TOKEN_UNUSED);
    lc_vocab *v = NULL;
    CHECKF(lc_vocab_create(&d, &v, &err) == 0, "%s", err.msg);
    CHECK(v && lc_vocab_is_eog(v, 128001) && lc_vocab_is_eog(v, 128008) && lc_vocab_is_eog(v, 128009));
    CHECK(v && !lc_vocab_is_eog(v, 128000) && !lc_vocab_is_eog(v, 128299));
    lc_vocab_free(v);
    lc_tokenizer_data_free(&d);
    /* A vocabulary larger than config vocab_size is an error naming both. */
    CHECK(load(TINY_LLAMA3_DIR, 1000, &d, &err) < 0 && strstr(err.msg, "vocab_size 1000"));
}

/* The [a, b] merge form (tokenizers >= 0.20) gives the same vocabulary;
 * a space inside a part is stored as 'Ġ'. */
static void test_merge_pairs(const lc_tokenizer_data *ref) {
    clear_scratch();
    char *text = lc_test_read_file(LLAMA31_DIR "/tokenizer.json", NULL);
    cJSON *root = text ? cJSON_Parse(text) : NULL;
    free(text);
    cJSON *model = cJSON_GetObjectItem(root, "model");
    cJSON *merges = cJSON_GetObjectItem(model, "merges");
    CHECK(cJSON_IsArray(merges));
    if (!cJSON_IsArray(merges)) {
        cJSON_Delete(root);
        return;
    }
    cJSON *pairs = cJSON_CreateArray();
    const cJSON *m;
    int index = 0;
    cJSON_ArrayForEach(m, merges) {
        const char *s = m->valuestring, *sp = strchr(s + 1, ' ');
        char left[256];
        snprintf(left, sizeof left, "%.*s", (int)(sp - s), s);
        cJSON *pair = cJSON_CreateArray();
        /* the first merge is "Ġ Ġ": write it with real spaces */
        cJSON_AddItemToArray(pair, cJSON_CreateString(index == 0 ? " " : left));
        cJSON_AddItemToArray(pair, cJSON_CreateString(index == 0 ? " " : sp + 1));
        cJSON_AddItemToArray(pairs, pair);
        index++;
    }
    cJSON_ReplaceItemInObject(model, "merges", pairs);
    char *out = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    put_scratch("tokenizer.json", out);
    free(out);
    char cfg[512];
    scratch_path(cfg, sizeof cfg, "tokenizer_config.json");
    copy_file(LLAMA31_DIR "/tokenizer_config.json", cfg);
    lc_tokenizer_data d;
    llamac_error err = {{0}};
    CHECKF(load(scratch, 0, &d, &err) == 0, "%s", err.msg);
    CHECK(d.n_merges == ref->n_merges && d.n_tokens == ref->n_tokens);
    int differ = 0;
    for (int32_t i = 0; i < d.n_merges && i < ref->n_merges; i++)
        differ += strcmp(d.merges[i], ref->merges[i]) != 0;
    CHECKF(differ == 0, "%d merges differ between the two forms", differ);
    for (int32_t i = 0; i < d.n_tokens && i < ref->n_tokens; i++)
        differ += strcmp(d.tokens[i], ref->tokens[i]) != 0 || d.token_types[i] != ref->token_types[i];
    CHECKF(differ == 0, "%d tokens differ between the two forms", differ);
    lc_tokenizer_data_free(&d);
}

static void check_same_tokens(const lc_tokenizer_data *a, const lc_tokenizer_data *b,
                              int32_t n, const char *what) {
    int differ = 0;
    for (int32_t i = 0; i < n; i++) {
        differ += a->token_lens[i] != b->token_lens[i] ||
                  memcmp(a->tokens[i], b->tokens[i], a->token_lens[i]) != 0 ||
                  a->token_types[i] != b->token_types[i] || a->scores[i] != b->scores[i];
    }
    CHECKF(differ == 0, "%s: %d tokens differ", what, differ);
}

/* stories260K-hf: tokenizer.model + tokenizer_config.json + config.json. */
static void test_stories_hf(void) {
    lc_tokenizer_data d, ref;
    llamac_error err = {{0}};
    CHECKF(lc_tokenizer_data_from_spm_model(TOK512_MODEL, &ref, &err) == 0, "%s", err.msg);
    CHECKF(load(STORIES_HF_DIR, 512, &d, &err) == 0, "%s", err.msg);
    CHECK(d.n_tokens == 512 && ref.n_tokens == 512 && strcmp(d.model, "llama") == 0);
    if (d.n_tokens == 512 && ref.n_tokens == 512) check_same_tokens(&d, &ref, 512, "stories260K-hf");
    CHECK(d.bos_id == 1 && d.eos_id == 2 && d.unk_id == 0 && d.pad_id == -1);
    CHECK(d.add_bos == 1 && d.add_eos == 0 && d.chat_template == NULL);
    lc_tokenizer_data_free(&d);
    /* Padding to a larger config vocab_size: "[PAD<i>]", UNUSED, score -10000. */
    CHECKF(load(STORIES_HF_DIR, 520, &d, &err) == 0, "%s", err.msg);
    CHECK(d.n_tokens == 520 && strcmp(d.tokens[512], "[PAD512]") == 0 &&
          strcmp(d.tokens[519], "[PAD519]") == 0);
    CHECK(d.n_tokens == 520 && d.token_types[519] == LC_TOKEN_UNUSED && d.scores[519] == -10000.0f);
    if (d.n_tokens == 520) check_same_tokens(&d, &ref, 512, "stories260K-hf padded");
    lc_tokenizer_data_free(&d);
    CHECK(load(STORIES_HF_DIR, 500, &d, &err) < 0 && strstr(err.msg, "vocab_size is 500"));
    lc_tokenizer_data_free(&ref);
}

/* A SentencePiece folder with CodeLlama's tokenizer_config ({content}
 * special tokens) and added tokens from both files. */
static void test_spm_added_tokens(void) {
    clear_scratch();
    char path[512];
    scratch_path(path, sizeof path, "tokenizer.model");
    copy_file(TOK512_MODEL, path);
    scratch_path(path, sizeof path, "tokenizer_config.json");
    copy_file("data/codellama/tokenizer_config.json", path);
    lc_tokenizer_data d;
    llamac_error err = {{0}};
    CHECKF(load(scratch, 0, &d, &err) == 0, "%s", err.msg);
    CHECK(d.bos_id == 1 && d.eos_id == 2 && d.unk_id == 0 && d.add_bos == 1 && d.add_eos == 0);
    lc_tokenizer_data_free(&d);

    put_scratch("tokenizer_config.json",
                "{\"bos_token\": \"<s>\", \"add_prefix_space\": false,"
                " \"added_tokens_decoder\": {"
                "  \"5\": {\"content\": \"<tool>\", \"special\": false},"
                "  \"6\": {\"content\": \"x\xE2\x96\x81y\", \"special\": false},"
                "  \"7\": {\"content\": \"<|call|>\", \"special\": false},"
                "  \"9999\": {\"content\": \"<skip>\", \"special\": true}}}");
    put_scratch("added_tokens.json", "{\"<extra>\": 8}");
    put_scratch("generation_config.json", "{\"eos_token_id\": 2}");
    CHECKF(load(scratch, 0, &d, &err) == 0, "%s", err.msg);
    CHECK(strcmp(d.tokens[5], "<tool>") == 0 && d.token_types[5] == LC_TOKEN_USER_DEFINED);
    CHECK(strcmp(d.tokens[6], "x y") == 0 && d.token_types[6] == LC_TOKEN_USER_DEFINED);
    CHECK(d.token_types[7] == LC_TOKEN_CONTROL); /* looks special */
    CHECK(strcmp(d.tokens[8], "<extra>") == 0 && d.token_types[8] == LC_TOKEN_USER_DEFINED);
    CHECK(d.scores[5] == -1000.0f && d.scores[8] == -1000.0f);
    CHECK(d.add_space_prefix == 0 && d.n_eos_ids == 1 && d.eos_ids[0] == 2);
    lc_vocab *v = NULL;
    CHECKF(lc_vocab_create(&d, &v, &err) == 0, "%s", err.msg);
    if (v) {
        /* User-defined tokens are matched even without parse_special. */
        lc_tokens t = {0};
        lc_vocab_encode(v, "a<tool>b", 8, 0, &t, NULL);
        bool found = false;
        for (size_t i = 0; i < t.n; i++) found |= t.ids[i] == 5;
        CHECK(found);
        lc_tokens_free(&t);
    }
    lc_vocab_free(v);
    lc_tokenizer_data_free(&d);
}

/* A minimal byte-level tokenizer.json; model_fields replaces "type": "BPE". */
static void put_tiny_tokenizer(const char *model_fields, const char *vocab, const char *pre_regex) {
    char buf[4096];
    snprintf(buf, sizeof buf,
             "{\"added_tokens\": [{\"id\": 3, \"content\": \"<|eot_id|>\", \"special\": true}],"
             " \"pre_tokenizer\": {\"type\": \"Sequence\", \"pretokenizers\": ["
             "   {\"type\": \"Split\", \"pattern\": {\"Regex\": \"%s\"}, \"behavior\": \"Isolated\"},"
             "   {\"type\": \"ByteLevel\"}]},"
             " \"model\": {%s, \"vocab\": %s, \"merges\": [\"a b\"]}}",
             pre_regex, model_fields ? model_fields : "\"type\": \"BPE\"", vocab);
    put_scratch("tokenizer.json", buf);
}

static const char LLAMA3_REGEX_JSON[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\\\r\\\\n\\\\p{L}\\\\p{N}]?\\\\p{L}+|\\\\p{N}{1,3}| "
    "?[^\\\\s\\\\p{L}\\\\p{N}]+[\\\\r\\\\n]*|\\\\s*[\\\\r\\\\n]+|\\\\s+(?!\\\\S)|\\\\s+";

static void expect_load_error(const char *needle1, const char *needle2) {
    lc_tokenizer_data d;
    llamac_error err = {{0}};
    int rc = load(scratch, 0, &d, &err);
    CHECKF(rc < 0 && strstr(err.msg, needle1) && strstr(err.msg, needle2),
           "want an error with '%s' and '%s', got '%s'", needle1, needle2, err.msg);
    if (rc == 0) lc_tokenizer_data_free(&d);
}

static void test_tiny_bpe_and_errors(void) {
    clear_scratch();
    char want[512];
    lc_tokenizer_data d;
    llamac_error err = {{0}};
    snprintf(want, sizeof want, "no tokenizer.json or tokenizer.model in %s", scratch);
    CHECK(load(scratch, 0, &d, &err) < 0 && strcmp(err.msg, want) == 0);

    put_tiny_tokenizer(NULL, "{\"a\": 0, \"b\": 1, \"ab\": 2}", LLAMA3_REGEX_JSON);
    CHECKF(load(scratch, 0, &d, &err) == 0, "%s", err.msg);
    CHECK(d.n_tokens == 4 && d.n_merges == 1 && d.token_types[3] == LC_TOKEN_CONTROL);
    lc_vocab *v = NULL;
    CHECKF(lc_vocab_create(&d, &v, &err) == 0, "%s", err.msg);
    if (v) {
        lc_tokens t = {0};
        lc_vocab_encode(v, "abab", 4, 0, &t, NULL);
        CHECK(t.n == 2 && t.ids[0] == 2 && t.ids[1] == 2);
        lc_vocab_encode(v, "a<|eot_id|>", 11, LLAMAC_TOKENIZE_PARSE_SPECIAL, &t, NULL);
        CHECK(t.n == 2 && t.ids[0] == 0 && t.ids[1] == 3);
        CHECK(lc_vocab_eot(v) == 3 && lc_vocab_is_eog(v, 3) && lc_vocab_bos(v) == -1);
        lc_tokens_free(&t);
    }
    lc_vocab_free(v);
    lc_tokenizer_data_free(&d);

    put_scratch("tokenizer.json", "{\"model\": [");
    expect_load_error("tokenizer.json", "invalid JSON near byte");
    put_tiny_tokenizer(NULL, "[1, 2]", LLAMA3_REGEX_JSON);
    expect_load_error("tokenizer.json", "model.vocab");
    put_tiny_tokenizer(NULL, "{\"a\": -4}", LLAMA3_REGEX_JSON);
    expect_load_error("tokenizer.json", "model.vocab[\"a\"]");
    put_tiny_tokenizer(NULL, "{\"a\": 0}", "\\\\w+");
    expect_load_error("tokenizer.json", "pre_tokenizer");
    put_tiny_tokenizer("\"byte_fallback\": true", "{\"a\": 0}", LLAMA3_REGEX_JSON);
    expect_load_error("tokenizer.json", "byte_fallback");
    put_tiny_tokenizer("\"type\": \"WordPiece\"", "{\"a\": 0}", LLAMA3_REGEX_JSON);
    expect_load_error("tokenizer.json", "model.type");
    put_tiny_tokenizer(NULL, "{\"a\": 0, \"b\": 1, \"ab\": 2}", LLAMA3_REGEX_JSON);
    put_scratch("generation_config.json", "{\"eos_token_id\": [3, 77]}");
    expect_load_error("generation_config.json", "eos_token_id[1]");
    put_scratch("generation_config.json", "{\"eos_token_id\": 3}");
    put_scratch("tokenizer_config.json", "{\"add_bos_token\": \"yes\"}");
    expect_load_error("tokenizer_config.json", "add_bos_token");
    put_scratch("tokenizer_config.json", "{\"added_tokens_decoder\": {\"x\": {\"content\": \"a\"}}}");
    expect_load_error("tokenizer_config.json", "added_tokens_decoder[\"x\"]");
    put_scratch("tokenizer_config.json", "{\"chat_template\": 5}");
    expect_load_error("tokenizer_config.json", "chat_template");
    put_scratch("tokenizer_config.json",
                "{\"chat_template\": [{\"name\": \"tool_use\", \"template\": \"T\"},"
                " {\"name\": \"default\", \"template\": \"D\"}], \"eos_token\": {\"content\": \"<|eot_id|>\"}}");
    CHECKF(load(scratch, 0, &d, &err) == 0, "%s", err.msg);
    CHECK(d.chat_template && strcmp(d.chat_template, "D") == 0 && d.eos_id == 3);
    CHECK(d.n_eos_ids == 1 && d.eos_ids[0] == 3);
    lc_tokenizer_data_free(&d);
    put_scratch("tokenizer_config.json", "{}");
    put_scratch("chat_template.jinja", "{{ messages }}");
    CHECKF(load(scratch, 0, &d, &err) == 0, "%s", err.msg);
    CHECK(d.chat_template && strcmp(d.chat_template, "{{ messages }}") == 0);
    lc_tokenizer_data_free(&d);
    put_scratch("tokenizer.model", "\x0a\x05garbage");
    expect_load_error("tokenizer.model", "byte");
}

int main(void) {
    const char *base = getenv("TMPDIR");
    snprintf(scratch, sizeof scratch, "%s/lc_tok_hf_XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(scratch)) {
        fprintf(stderr, "cannot create a scratch folder\n");
        return 1;
    }
    lc_tokenizer_data d;
    llamac_error err = {{0}};
    CHECKF(load(LLAMA31_DIR, 128256, &d, &err) == 0, "%s", err.msg);
    if (d.n_tokens > 0) {
        test_llama31(&d);
        test_merge_pairs(&d);
    }
    lc_tokenizer_data_free(&d);
    test_tiny_llama3();
    test_stories_hf();
    test_spm_added_tokens();
    test_tiny_bpe_and_errors();
    remove_dir(scratch);
    return TEST_SUMMARY("test_tokenizer_hf");
}
