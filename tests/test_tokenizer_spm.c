/* SentencePiece-style ("llama") tokenizer: llama.cpp's test vectors, the
 * same vocabulary read from tokenizer.model and from GGUF giving the same
 * ids, stories260K prompts, round trips through decoding, invalid UTF-8,
 * special tokens, the streaming detokenizer, GGUF write/read of the
 * tokenizer keys, and bad metadata rejected with clear errors.
 * Prints (does not check) encoding throughput. */
#include "test_util.h"
#include "tokenizer_test_util.h"

#include <cjson/cJSON.h>
#include <math.h>

#include "convert/llama2c.h"
#include "tokenizer/tokenizer_data.h"

#define SPM_GGUF "data/tokenizer-vectors/ggml-vocab-llama-spm.gguf"
#define LLAMA2_MODEL "data/llama2/tokenizer.model"
#define TOK512_MODEL "data/stories260K/tok512.model"
#define TOK512_BIN "data/stories260K/tok512.bin"
#define STORIES_GGUF "../models/stories260K.gguf"
#define PROMPTS_JSON "data/stories260K/stories260K.prompts.expected.json"

static lc_vocab *vocab_from_spm_model(const char *path, lc_tokenizer_data *keep) {
    lc_tokenizer_data d;
    lc_vocab *v = NULL;
    llamac_error err = {{0}};
    if (lc_tokenizer_data_from_spm_model(path, &d, &err) < 0 || lc_vocab_create(&d, &v, &err) < 0)
        fprintf(stderr, "%s: %s\n", path, err.msg);
    if (keep) *keep = d;
    else lc_tokenizer_data_free(&d);
    return v;
}

static bool data_from_gguf(const char *path, lc_tokenizer_data *d) {
    lc_gguf_file *f = NULL;
    llamac_error err = {{0}};
    bool ok = lc_gguf_open(path, &f, &err) == 0 && lc_tokenizer_data_from_gguf(f, d, &err) == 0;
    if (!ok) fprintf(stderr, "%s: %s\n", path, err.msg);
    lc_gguf_close(f);
    return ok;
}

/* Same texts, scores and types token by token. */
static void check_same_vocab(const lc_tokenizer_data *a, const lc_tokenizer_data *b,
                             const char *what) {
    CHECKF(a->n_tokens == b->n_tokens, "%s: %d vs %d tokens", what, a->n_tokens, b->n_tokens);
    if (a->n_tokens != b->n_tokens) return;
    int32_t bad = 0;
    for (int32_t i = 0; i < a->n_tokens; i++) {
        bool same = a->token_lens[i] == b->token_lens[i] &&
                    memcmp(a->tokens[i], b->tokens[i], a->token_lens[i]) == 0 &&
                    a->token_types[i] == b->token_types[i] &&
                    (!a->scores || !b->scores || a->scores[i] == b->scores[i]);
        if (!same && bad++ < 5) fprintf(stderr, "%s: token %d differs\n", what, (int)i);
    }
    CHECKF(bad == 0, "%s: %d tokens differ", what, (int)bad);
}

/* Both vocabularies give the same ids on n random strings (and on the vectors). */
static void check_same_ids(const lc_vocab *a, const lc_vocab *b, const tv_set *vec, int n,
                           uint64_t seed, const char *what) {
    lc_tokens ta = {0}, tb = {0};
    rstr s = {0};
    int mismatches = 0;
    for (int i = 0; i < n + (int)vec->n; i++) {
        const char *text;
        size_t len;
        if (i < (int)vec->n) {
            text = vec->cases[i].text;
            len = vec->cases[i].len;
        } else {
            if (i % 4 == 0) random_bytes(&seed, &s, 40);
            else random_text(&seed, &s, 60);
            text = s.p;
            len = s.len;
        }
        int flags = i % 2 ? LLAMAC_TOKENIZE_ADD_SPECIAL : 0;
        int ra = lc_vocab_encode(a, text, len, flags, &ta, NULL);
        int rb = lc_vocab_encode(b, text, len, flags, &tb, NULL);
        bool same = ra == 0 && rb == 0 && ids_equal(&ta, tb.ids, tb.n);
        if (!same && mismatches++ < 3) fprintf(stderr, "%s: string %d differs\n", what, i);
    }
    CHECKF(mismatches == 0, "%s: %d of %d strings differ", what, mismatches, n + (int)vec->n);
    fprintf(stderr, "%s: %d strings, %d differ\n", what, n + (int)vec->n, mismatches);
    free(s.p);
    lc_tokens_free(&ta);
    lc_tokens_free(&tb);
}

static void test_vectors(const lc_vocab *gguf_vocab, const lc_vocab *model_vocab,
                         const tv_set *vec) {
    size_t passed = tv_run(gguf_vocab, vec, "llama-spm (gguf)");
    fprintf(stderr, "llama-spm vectors, vocab from GGUF: %zu/%zu passed\n", passed, vec->n);
    CHECK(vec->n == 46);
    passed = tv_run(model_vocab, vec, "llama-spm (tokenizer.model)");
    fprintf(stderr, "llama-spm vectors, vocab from tokenizer.model: %zu/%zu passed\n", passed,
            vec->n);
}

static void test_llama2_model_matches_gguf(const lc_vocab *gguf_vocab, const lc_vocab *model_vocab,
                                           const lc_tokenizer_data *model_data,
                                           const tv_set *vec) {
    lc_tokenizer_data g;
    if (!data_from_gguf(SPM_GGUF, &g)) {
        CHECK(!"spm gguf data");
        return;
    }
    check_same_vocab(&g, model_data, "llama2 tokenizer.model vs llama-spm gguf");
    CHECK(model_data->bos_id == 1 && model_data->eos_id == 2 && model_data->unk_id == 0);
    CHECK(model_data->pad_id == -1);
    CHECK(strcmp(model_data->model, "llama") == 0 && strcmp(model_data->pre, "default") == 0);
    lc_tokenizer_data_free(&g);
    check_same_ids(gguf_vocab, model_vocab, vec, 3000, 42, "llama2 tokenizer.model vs gguf ids");
}

static void test_tok512(const tv_set *vec) {
    lc_tokenizer_data md, gd;
    lc_vocab *mv = vocab_from_spm_model(TOK512_MODEL, &md);
    lc_vocab *gv = open_gguf_vocab(STORIES_GGUF);
    CHECK(mv && gv);
    if (mv && gv && data_from_gguf(STORIES_GGUF, &gd)) {
        check_same_vocab(&md, &gd, "tok512.model vs stories260K.gguf");
        /* The file stores "none" as 0xFFFFFFFF: read as absent. */
        CHECK(gd.pad_id == -1 && gd.bos_id == 1 && gd.eos_id == 2 && gd.unk_id == 0);
        lc_tokenizer_data_free(&gd);
        check_same_ids(mv, gv, vec, 3000, 7, "tok512.model vs stories260K.gguf ids");
    }
    /* llama2.c's tokenizer.bin export of the same vocabulary (read by the
     * llama2.c importer) describes the same tokens. */
    lc_tokenizer_data bd;
    llamac_error err = {{0}};
    CHECKF(lc_llama2c_tokenizer_load(TOK512_BIN, 512, &bd, &err) == 0, "%s", err.msg);
    if (bd.n_tokens == 512) check_same_vocab(&md, &bd, "tok512.model vs tok512.bin");
    lc_tokenizer_data_free(&bd);
    lc_tokenizer_data_free(&md);
    lc_vocab_free(mv);
    lc_vocab_free(gv);
}

static void test_stories_prompts(void) {
    lc_vocab *v = open_gguf_vocab(STORIES_GGUF);
    char *json = lc_test_read_file(PROMPTS_JSON, NULL);
    cJSON *root = json ? cJSON_Parse(json) : NULL;
    CHECK(v && root);
    int n = 0, ok = 0;
    const cJSON *c;
    lc_tokens t = {0};
    const cJSON *cases = root ? cJSON_GetObjectItem(root, "cases") : NULL;
    cJSON_ArrayForEach(c, cases) {
        const cJSON *prompt = cJSON_GetObjectItem(c, "prompt");
        const cJSON *ids = cJSON_GetObjectItem(c, "prompt_ids");
        if (!v || !cJSON_IsString(prompt) || !cJSON_IsArray(ids)) continue;
        lc_vocab_encode(v, prompt->valuestring, strlen(prompt->valuestring),
                        LLAMAC_TOKENIZE_ADD_SPECIAL, &t, NULL);
        bool same = t.n == (size_t)cJSON_GetArraySize(ids);
        for (size_t i = 0; same && i < t.n; i++)
            same = t.ids[i] == cJSON_GetArrayItem(ids, (int)i)->valueint;
        CHECKF(same, "stories260K prompt \"%s\"", prompt->valuestring);
        n++;
        ok += same;
    }
    CHECK(n > 0);
    fprintf(stderr, "stories260K prompts: %d/%d match\n", ok, n);
    lc_tokens_free(&t);
    cJSON_Delete(root);
    free(json);
    lc_vocab_free(v);
}

/* decode(encode(s)) == s: pieces carry the dummy-prefix space, which the
 * detokenizer drops after BOS. */
static void test_round_trip(const lc_vocab *v, const char *what) {
    uint64_t seed = 1234;
    rstr s = {0}, dec = {0}, want = {0}, streamed = {0};
    lc_tokens t = {0};
    int bad = 0, bad_stream = 0, bad_bytes = 0;
    for (int i = 0; i < 10000; i++) {
        random_text(&seed, &s, 40);
        lc_vocab_encode(v, s.p, s.len, 0, &t, NULL);
        decode_pieces(v, &t, &dec);
        want.len = 0;
        if (s.len) rs_put(&want, " ", 1);
        rs_put(&want, s.p, s.len);
        if (!(dec.len == want.len && memcmp(dec.p, want.p, want.len) == 0) && bad++ < 3)
            fprintf(stderr, "%s: round trip %d: \"%s\" -> \"%s\"\n", what, i, s.p, dec.p);
        /* BOS + text through the streaming detokenizer gives the text back. */
        lc_vocab_encode(v, s.p, s.len, LLAMAC_TOKENIZE_ADD_SPECIAL, &t, NULL);
        rs_detokenize(v, &t, &streamed);
        if (!(streamed.len == s.len && memcmp(streamed.p, s.p, s.len) == 0) && bad_stream++ < 3)
            fprintf(stderr, "%s: detokenizer %d: \"%s\" -> \"%s\"\n", what, i, s.p, streamed.p);
    }
    /* Invalid UTF-8 goes through byte tokens and comes back byte for byte. */
    for (int i = 0; i < 3000; i++) {
        random_bytes(&seed, &s, 40);
        int rc = lc_vocab_encode(v, s.p, s.len, 0, &t, NULL);
        decode_pieces(v, &t, &dec);
        want.len = 0;
        if (s.len) rs_put(&want, " ", 1);
        rs_put(&want, s.p, s.len);
        if (!(rc == 0 && dec.len == want.len && memcmp(dec.p, want.p, want.len) == 0) &&
            bad_bytes++ < 3) {
            fprintf(stderr, "%s: bytes round trip %d:", what, i);
            for (size_t k = 0; k < s.len; k++) fprintf(stderr, " %02x", (uint8_t)s.p[k]);
            fprintf(stderr, " ->");
            for (size_t k = 0; k < dec.len; k++) fprintf(stderr, " %02x", (uint8_t)dec.p[k]);
            fputc('\n', stderr);
        }
    }
    CHECKF(bad == 0, "%s: %d of 10000 round trips differ", what, bad);
    CHECKF(bad_stream == 0, "%s: %d of 10000 detokenizer round trips differ", what, bad_stream);
    CHECKF(bad_bytes == 0, "%s: %d of 3000 invalid-UTF-8 round trips differ", what, bad_bytes);
    fprintf(stderr, "%s: round trips failed: %d/10000 text, %d/10000 streamed, %d/3000 bytes\n",
            what, bad, bad_stream, bad_bytes);
    free(s.p);
    free(dec.p);
    free(want.p);
    free(streamed.p);
    lc_tokens_free(&t);
}

static size_t encode_str(const lc_vocab *v, const char *s, int flags, lc_tokens *t) {
    llamac_error err = {{0}};
    if (lc_vocab_encode(v, s, strlen(s), flags, t, &err) < 0) {
        fprintf(stderr, "encode \"%s\": %s\n", s, err.msg);
        return 0;
    }
    return t->n;
}

static void test_special_tokens(const lc_vocab *v) {
    lc_tokens t = {0}, a = {0}, b = {0};
    /* add_special: BOS first, no EOS (add_eos is false for Llama 2). */
    encode_str(v, "Hello", LLAMAC_TOKENIZE_ADD_SPECIAL, &t);
    encode_str(v, "Hello", 0, &a);
    CHECK(t.n == a.n + 1 && t.ids[0] == 1 && memcmp(t.ids + 1, a.ids, a.n * 4) == 0);
    CHECK(lc_vocab_add_bos(v) && !lc_vocab_add_eos(v) && lc_vocab_add_space_prefix(v));
    /* Empty text: nothing, or just BOS. */
    CHECK(encode_str(v, "", 0, &t) == 0);
    CHECK(encode_str(v, "", LLAMAC_TOKENIZE_ADD_SPECIAL, &t) == 1 && t.ids[0] == 1);
    /* "<s>" is plain text unless parse_special; then a fresh dummy prefix follows it. */
    encode_str(v, "a<s>b", 0, &t);
    bool has_bos = false;
    for (size_t i = 0; i < t.n; i++) has_bos |= t.ids[i] == 1;
    CHECK(!has_bos && t.n > 3);
    encode_str(v, "a<s>b", LLAMAC_TOKENIZE_PARSE_SPECIAL, &t);
    encode_str(v, "a", 0, &a);
    encode_str(v, "b", 0, &b);
    CHECK(t.n == a.n + 1 + b.n && t.ids[a.n] == 1);
    CHECK(t.n == a.n + 1 + b.n && memcmp(t.ids, a.ids, a.n * 4) == 0 &&
          memcmp(t.ids + a.n + 1, b.ids, b.n * 4) == 0);
    /* Token text / piece / eog. */
    size_t n;
    CHECK(strcmp(lc_vocab_token_text(v, 29871, &n), "\xE2\x96\x81") == 0 && n == 3);
    const char *p = lc_vocab_token_piece(v, 29871, false, &n);
    CHECK(n == 1 && p[0] == ' ');
    p = lc_vocab_token_piece(v, 3 + 0x0A, false, &n); /* <0x0A> */
    CHECK(n == 1 && p[0] == '\n');
    lc_vocab_token_piece(v, 1, false, &n);
    CHECK(n == 0);
    p = lc_vocab_token_piece(v, 1, true, &n);
    CHECK(n == 3 && memcmp(p, "<s>", 3) == 0);
    lc_vocab_token_piece(v, 32000, false, &n);
    CHECK(n == 0 && lc_vocab_token_text(v, -1, NULL) == NULL);
    CHECK(lc_vocab_is_eog(v, 2) && !lc_vocab_is_eog(v, 1) && !lc_vocab_is_eog(v, 32000));
    CHECK(lc_vocab_bos(v) == 1 && lc_vocab_eos(v) == 2 && lc_vocab_eot(v) == -1);
    CHECK(lc_vocab_find(v, "\xE2\x96\x81the", 6) == 278);
    lc_tokens_free(&t);
    lc_tokens_free(&a);
    lc_tokens_free(&b);
}

static void test_detokenizer(const lc_vocab *v) {
    llamac_detokenizer *d = lc_detokenizer_create(v);
    size_t n;
    /* 🦙 = F0 9F A6 99 arrives as four byte tokens: held back until complete. */
    const int32_t llama[] = {3 + 0xF0, 3 + 0x9F, 3 + 0xA6, 3 + 0x99};
    for (int i = 0; i < 3; i++) {
        const char *p = llamac_detokenizer_push(d, llama[i], &n);
        CHECK(n == 0 && p[0] == 0);
    }
    const char *p = llamac_detokenizer_push(d, llama[3], &n);
    CHECK(n == 4 && memcmp(p, "\xF0\x9F\xA6\x99", 4) == 0);
    /* An invalid byte becomes U+FFFD; an unfinished tail is replaced at flush. */
    p = llamac_detokenizer_push(d, 3 + 0xFF, &n);
    CHECK(n == 3 && memcmp(p, "\xEF\xBF\xBD", 3) == 0);
    p = llamac_detokenizer_push(d, 3 + 0xE2, &n);
    CHECK(n == 0);
    p = llamac_detokenizer_push(d, 3 + 'A', &n); /* E2 then 'A': E2 is invalid, 'A' is kept */
    CHECK(n == 4 && memcmp(p, "\xEF\xBF\xBD" "A", 4) == 0);
    p = llamac_detokenizer_push(d, 3 + 0xE2, &n);
    p = llamac_detokenizer_push(d, 3 + 0x96, &n);
    CHECK(n == 0);
    p = llamac_detokenizer_flush(d, &n);
    CHECK(n == 3 && memcmp(p, "\xEF\xBF\xBD", 3) == 0);
    p = llamac_detokenizer_flush(d, &n);
    CHECK(n == 0);
    /* Leading space: dropped once after BOS, kept otherwise. */
    p = llamac_detokenizer_push(d, 1, &n);
    CHECK(n == 0);
    p = llamac_detokenizer_push(d, 15043, &n); /* "▁Hello" */
    CHECK(n == 5 && memcmp(p, "Hello", 5) == 0);
    p = llamac_detokenizer_push(d, 15043, &n);
    CHECK(n == 6 && memcmp(p, " Hello", 6) == 0);
    p = llamac_detokenizer_push(d, 2, &n); /* EOS renders nothing */
    CHECK(n == 0);
    llamac_detokenizer_free(d);
    d = lc_detokenizer_create(v);
    p = llamac_detokenizer_push(d, 15043, &n); /* no BOS: the space stays */
    CHECK(n == 6 && memcmp(p, " Hello", 6) == 0);
    llamac_detokenizer_free(d);
    CHECK(lc_detokenizer_create(NULL) == NULL);
    llamac_detokenizer_free(NULL);
}

/* The tokenizer keys survive a GGUF write and read. */
static void test_gguf_write(const lc_tokenizer_data *d, const lc_vocab *v) {
    char path[] = "/tmp/lc_tok_spm_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd < 0) return;
    close(fd);
    lc_tokenizer_data src = *d; /* shallow: a chat template and flags to write */
    src.chat_template = "{{ bos_token }}";
    src.add_eos = 0;
    src.add_space_prefix = 1;
    src.eot_id = 5;
    lc_gguf_writer *w = lc_gguf_writer_create();
    llamac_error err = {{0}};
    int rc = lc_tokenizer_data_write_gguf(&src, w);
    CHECK(rc == 0);
    if (rc == 0) rc = lc_gguf_writer_begin(w, path, &err);
    if (rc == 0) rc = lc_gguf_writer_finish(w, &err);
    CHECKF(rc == 0, "%s", err.msg);
    lc_gguf_writer_free(w);
    lc_tokenizer_data back;
    if (rc == 0 && data_from_gguf(path, &back)) {
        check_same_vocab(d, &back, "written gguf");
        CHECK(back.bos_id == 1 && back.eos_id == 2 && back.unk_id == 0 && back.eot_id == 5);
        CHECK(back.add_bos == -1 && back.add_eos == 0 && back.add_space_prefix == 1);
        CHECK(back.chat_template && strcmp(back.chat_template, "{{ bos_token }}") == 0);
        CHECK(back.n_merges == 0 && strcmp(back.pre, "default") == 0);
        lc_vocab *bv = NULL;
        CHECK(lc_vocab_create(&back, &bv, &err) == 0);
        lc_tokens a = {0}, b = {0};
        const char *text = "The quick brown 🦊 jumps over 13 lazy dogs.\n";
        if (bv) {
            lc_vocab_encode(v, text, strlen(text), 1, &a, NULL);
            lc_vocab_encode(bv, text, strlen(text), 1, &b, NULL);
            CHECK(ids_equal(&a, b.ids, b.n) && a.n > 5);
        }
        CHECK(bv && strcmp(lc_vocab_chat_template(bv), "{{ bos_token }}") == 0);
        CHECK(bv && lc_vocab_eot(bv) == 5 && lc_vocab_is_eog(bv, 5));
        lc_tokens_free(&a);
        lc_tokens_free(&b);
        lc_vocab_free(bv);
        lc_tokenizer_data_free(&back);
    }
    unlink(path);
}

/* A tiny vocabulary made by hand, for the error paths. */
static void tiny_vocab(lc_tokenizer_data *d) {
    static const char *const texts[] = {"<unk>", "<s>", "</s>", "<0x41>", "\xE2\x96\x81", "a"};
    lc_tokenizer_data_init(d);
    lc_tokenizer_data_alloc_tokens(d, 6, 1, NULL);
    for (int i = 0; i < 6; i++) lc_tokenizer_data_set_token(d, i, texts[i], strlen(texts[i]), NULL);
    d->token_types[0] = LC_TOKEN_UNKNOWN;
    d->token_types[1] = d->token_types[2] = LC_TOKEN_CONTROL;
    d->token_types[3] = LC_TOKEN_BYTE;
    lc_tokenizer_data_set_string(&d->model, "llama", 5, NULL);
}

static void expect_error(lc_tokenizer_data *d, const char *needle) {
    lc_vocab *v = NULL;
    llamac_error err = {{0}};
    int rc = lc_vocab_create(d, &v, &err);
    CHECKF(rc < 0 && !v && strstr(err.msg, needle), "want error with '%s', got '%s'", needle,
           err.msg);
    lc_vocab_free(v);
    lc_tokenizer_data_free(d);
}

static void test_bad_metadata(void) {
    lc_tokenizer_data d;
    lc_vocab *v = NULL;
    llamac_error err = {{0}};
    tiny_vocab(&d);
    CHECKF(lc_vocab_create(&d, &v, &err) == 0, "%s", err.msg);
    if (v) {
        lc_tokens t = {0};
        /* "b" has no token and no byte token: a clear error, not a crash. */
        CHECK(lc_vocab_encode(v, "ab", 2, 0, &t, &err) < 0 && strstr(err.msg, "<0x62>"));
        CHECK(lc_vocab_encode(v, "a A", 3, 0, &t, &err) == 0 && t.n == 4 && t.ids[3] == 3);
        lc_tokens_free(&t);
        lc_vocab_free(v);
    }
    lc_tokenizer_data_free(&d);

    tiny_vocab(&d);
    d.token_types[5] = 9;
    expect_error(&d, "token 5 has type 9");
    tiny_vocab(&d);
    d.bos_id = 6;
    expect_error(&d, "bos_token_id");
    tiny_vocab(&d);
    d.token_types[5] = LC_TOKEN_BYTE;
    expect_error(&d, "token 5 has type BYTE");
    tiny_vocab(&d);
    d.scores[2] = NAN;
    expect_error(&d, "score");
    tiny_vocab(&d);
    lc_tokenizer_data_set_string(&d.model, "bert", 4, NULL);
    expect_error(&d, "'bert' is not supported");
    tiny_vocab(&d);
    lc_tokenizer_data_set_string(&d.model, "gpt2", 4, NULL);
    lc_tokenizer_data_set_string(&d.pre, "default", 7, NULL);
    expect_error(&d, "pre-tokenizer 'default'");
    tiny_vocab(&d);
    lc_tokenizer_data_add_eos_id(&d, 77, NULL);
    expect_error(&d, "eos_token_id list");
    tiny_vocab(&d);
    free(d.model);
    d.model = NULL;
    expect_error(&d, "tokenizer.ggml.model");

    /* An empty control token and duplicate texts must not hang or crash. */
    tiny_vocab(&d);
    lc_tokenizer_data_set_token(&d, 2, "", 0, NULL);
    lc_tokenizer_data_set_token(&d, 1, "a", 1, NULL);
    CHECK(lc_vocab_create(&d, &v, &err) == 0);
    if (v) {
        lc_tokens t = {0};
        CHECK(lc_vocab_encode(v, "aa", 2, LLAMAC_TOKENIZE_PARSE_SPECIAL, &t, NULL) == 0);
        CHECK(t.n == 2 && t.ids[0] == 1 && t.ids[1] == 1); /* "a" is a control token now */
        lc_tokens_free(&t);
        lc_vocab_free(v);
    }
    lc_tokenizer_data_free(&d);

    /* A truncated tokenizer.model is an error naming the file. */
    size_t size;
    char *buf = lc_test_read_file(TOK512_MODEL, &size);
    char path[] = "/tmp/lc_tok_trunc_XXXXXX";
    int fd = mkstemp(path);
    if (buf && fd >= 0) {
        close(fd);
        write_file(path, buf, size / 2);
        CHECK(lc_tokenizer_data_from_spm_model(path, &d, &err) < 0 && strstr(err.msg, path));
        uint64_t seed = 99;
        int survived = 0;
        for (int i = 0; i < 300; i++) { /* random corruption: errors or data, never a crash */
            char *copy = malloc(size);
            memcpy(copy, buf, size);
            for (int k = 0; k < 4; k++) copy[lc_test_rand(&seed) % size] = (char)lc_test_rand(&seed);
            write_file(path, copy, size);
            free(copy);
            if (lc_tokenizer_data_from_spm_model(path, &d, &err) == 0) {
                if (lc_vocab_create(&d, &v, &err) == 0) {
                    lc_tokens t = {0};
                    lc_vocab_encode(v, "Once upon a time", 16, 1, &t, NULL);
                    lc_tokens_free(&t);
                    lc_vocab_free(v);
                }
                lc_tokenizer_data_free(&d);
            }
            survived++;
        }
        CHECK(survived == 300);
        unlink(path);
    }
    free(buf);
    CHECK(lc_tokenizer_data_from_spm_model("data/no-such-file.model", &d, &err) < 0 &&
          strstr(err.msg, "no-such-file"));
}

/* The public tokenizer API over a vocabulary-only model. */
static void test_public_api(void) {
    llamac_model_params mp = llamac_model_default_params();
    mp.vocab_only = true;
    llamac_error err = {{0}};
    llamac_model *m = llamac_model_load(SPM_GGUF, &mp, &err);
    CHECKF(m != NULL, "%s", err.msg);
    if (!m) return;
    const char *text = "Hello world";
    llamac_token ids[4];
    int64_t n = llamac_tokenize(m, text, strlen(text), ids, 4,
                                LLAMAC_TOKENIZE_ADD_SPECIAL | LLAMAC_TOKENIZE_PARSE_SPECIAL, &err);
    CHECK(n == 3 && ids[0] == 1 && ids[1] == 15043 && ids[2] == 3186);
    CHECK(llamac_tokenize(m, text, strlen(text), ids, 1, LLAMAC_TOKENIZE_ADD_SPECIAL, &err) == 3);
    CHECK(llamac_tokenize(m, text, strlen(text), NULL, 0, 0, &err) == 2);
    CHECK(llamac_tokenize(m, text, strlen(text), NULL, 5, 0, &err) == -1 && err.msg[0]);
    char buf[16];
    CHECK(llamac_token_to_piece(m, 15043, false, buf, sizeof buf) == 6 && strcmp(buf, " Hello") == 0);
    CHECK(llamac_token_to_piece(m, 15043, false, buf, 3) == 6 && memcmp(buf, " He", 3) == 0);
    CHECK(llamac_token_to_piece(m, 2, false, buf, sizeof buf) == 0);
    CHECK(llamac_token_to_piece(m, 2, true, buf, sizeof buf) == 4 && strcmp(buf, "</s>") == 0);
    CHECK(strcmp(llamac_token_text(m, 15043), "\xE2\x96\x81Hello") == 0);
    CHECK(llamac_token_text(m, 32000) == NULL);
    CHECK(llamac_n_vocab(m) == 32000 && llamac_token_bos(m) == 1 && llamac_token_eos(m) == 2);
    CHECK(llamac_token_is_eog(m, 2) && !llamac_token_is_eog(m, 1) && llamac_add_bos(m));
    llamac_detokenizer *d = llamac_detokenizer_create(m);
    size_t len;
    llamac_detokenizer_push(d, 1, &len);
    const char *p = llamac_detokenizer_push(d, 15043, &len);
    CHECK(d && len == 5 && strcmp(p, "Hello") == 0);
    llamac_detokenizer_free(d);
    llamac_model_free(m);
}

/* Tokenizer keys with wrong shapes or values in a GGUF file. */
static void write_bad_gguf(const char *path, int variant) {
    static const char *const texts[] = {"<unk>", "<s>", "</s>", "a"};
    lc_gguf_str strs[4];
    for (int i = 0; i < 4; i++) strs[i] = (lc_gguf_str){texts[i], strlen(texts[i])};
    int32_t types[4] = {2, 3, 3, 1};
    float scores[4] = {0, 0, 0, -1};
    lc_gguf_writer *w = lc_gguf_writer_create();
    lc_gguf_writer_add_str(w, "tokenizer.ggml.model", "llama", 5);
    lc_gguf_writer_add_arr_str(w, "tokenizer.ggml.tokens", strs, 4);
    if (variant == 0) types[3] = 99;
    lc_gguf_writer_add_arr_i32(w, "tokenizer.ggml.token_type", types, variant == 1 ? 3 : 4);
    if (variant == 2) lc_gguf_writer_add_str(w, "tokenizer.ggml.scores", "x", 1);
    else lc_gguf_writer_add_arr_f32(w, "tokenizer.ggml.scores", scores, 4);
    lc_gguf_writer_add_u32(w, "tokenizer.ggml.padding_token_id", variant == 3 ? 4 : 0xFFFFFFFFu);
    if (variant == 4) lc_gguf_writer_add_u32(w, "tokenizer.ggml.bos_token_id", 70000);
    if (variant == 5) lc_gguf_writer_add_u32(w, "tokenizer.ggml.fim_mid_token_id", 5);
    lc_gguf_writer_begin(w, path, NULL);
    lc_gguf_writer_finish(w, NULL);
    lc_gguf_writer_free(w);
}

static void test_bad_gguf(void) {
    /* Special ids outside the vocabulary are refused with the key and the
     * value (issue 18, finding 10); 0xFFFFFFFF (-1 as u32) means "none". */
    static const char *const needles[] = {"type 99", "token_type has 3 entries", "tokenizer.ggml.scores",
                                          "tokenizer.ggml.padding_token_id = 4 is outside the vocabulary of 4",
                                          "tokenizer.ggml.bos_token_id = 70000 is outside",
                                          "tokenizer.ggml.fim_mid_token_id = 5 is outside", NULL};
    char path[] = "/tmp/lc_tok_badgguf_XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) return;
    close(fd);
    for (int variant = 0; variant < 7; variant++) {
        write_bad_gguf(path, variant);
        lc_gguf_file *f = NULL;
        lc_vocab *v = NULL;
        llamac_error err = {{0}};
        int rc = lc_gguf_open(path, &f, &err);
        CHECKF(rc == 0, "%s", err.msg);
        if (rc == 0) rc = lc_vocab_load_gguf(f, &v, &err);
        if (needles[variant]) {
            CHECKF(rc < 0 && !v && strstr(err.msg, needles[variant]) && strstr(err.msg, path),
                   "variant %d: '%s'", variant, err.msg);
        } else { /* a pad id of 0xFFFFFFFF means "none" */
            CHECKF(rc == 0 && v && lc_vocab_pad(v) == -1, "variant %d: %s", variant, err.msg);
        }
        lc_vocab_free(v);
        lc_gguf_close(f);
    }
    unlink(path);
}

static void bench(const lc_vocab *v, const char *what) {
    rstr s = {0};
    throughput_text(&s);
    print_encode_rate(v, &s, 0, what);
    free(s.p);
}

int main(void) {
    tv_set vec;
    if (tv_load(SPM_GGUF, &vec) < 0) {
        fprintf(stderr, "cannot load the llama-spm vectors\n");
        return 1;
    }
    lc_tokenizer_data llama2;
    lc_vocab *gv = open_gguf_vocab(SPM_GGUF);
    lc_vocab *mv = vocab_from_spm_model(LLAMA2_MODEL, &llama2);
    CHECK(gv && mv);
    if (gv && mv) {
        test_vectors(gv, mv, &vec);
        test_llama2_model_matches_gguf(gv, mv, &llama2, &vec);
        test_special_tokens(gv);
        test_detokenizer(gv);
        test_round_trip(gv, "llama-spm");
        test_gguf_write(&llama2, mv);
        bench(gv, "llama-spm throughput");
    }
    test_tok512(&vec);
    test_stories_prompts();
    test_bad_metadata();
    test_bad_gguf();
    test_public_api();
    lc_tokenizer_data_free(&llama2);
    lc_vocab_free(gv);
    lc_vocab_free(mv);
    tv_free(&vec);
    return TEST_SUMMARY("test_tokenizer_spm");
}
