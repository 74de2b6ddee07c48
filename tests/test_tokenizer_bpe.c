/* Byte-level BPE ("gpt2", Llama 3) tokenizer: llama.cpp's llama-bpe test
 * vectors with the vocabulary loaded from Llama 3.1's tokenizer.json, the
 * same after a GGUF write and read, special tokens, end-of-generation ids,
 * round trips of random and invalid UTF-8 text, the detokenizer.
 * Prints (does not check) encoding throughput. */
#include "test_util.h"
#include "tokenizer_test_util.h"

#include "tokenizer/tokenizer_data.h"

#define LLAMA31_DIR "data/llama3.1"
#define BPE_VECTORS "data/tokenizer-vectors/ggml-vocab-llama-bpe.gguf"

enum { BOT = 128000, EOT_TEXT = 128001, EOM = 128008, EOT = 128009, START_HEADER = 128006 };

static size_t encode_str(const lc_vocab *v, const char *s, int flags, lc_tokens *t) {
    llamac_error err = {{0}};
    if (lc_vocab_encode(v, s, strlen(s), flags, t, &err) < 0) {
        fprintf(stderr, "encode \"%s\": %s\n", s, err.msg);
        return 0;
    }
    return t->n;
}

static bool contains(const lc_tokens *t, int32_t id) {
    for (size_t i = 0; i < t->n; i++) {
        if (t->ids[i] == id) return true;
    }
    return false;
}

static void test_special_tokens(const lc_vocab *v) {
    lc_tokens t = {0}, a = {0}, b = {0};
    CHECK(encode_str(v, "<|eot_id|>", LLAMAC_TOKENIZE_PARSE_SPECIAL, &t) == 1 && t.ids[0] == EOT);
    /* Without parse_special it is plain text: several ordinary tokens. */
    CHECK(encode_str(v, "<|eot_id|>", 0, &t) > 1 && !contains(&t, EOT));
    rstr dec = {0};
    decode_pieces(v, &t, &dec);
    CHECK(dec.len == 10 && memcmp(dec.p, "<|eot_id|>", 10) == 0);
    /* In context, both ways. */
    encode_str(v, "Hi<|eot_id|><|start_header_id|>user", LLAMAC_TOKENIZE_PARSE_SPECIAL, &t);
    encode_str(v, "Hi", 0, &a);
    encode_str(v, "user", 0, &b);
    CHECK(t.n == a.n + 2 + b.n && t.ids[a.n] == EOT && t.ids[a.n + 1] == START_HEADER);
    encode_str(v, "Hi<|eot_id|>", 0, &t);
    CHECK(!contains(&t, EOT));
    /* add_special: <|begin_of_text|> first, no EOS. */
    encode_str(v, "Hello", LLAMAC_TOKENIZE_ADD_SPECIAL, &t);
    encode_str(v, "Hello", 0, &a);
    CHECK(t.n == a.n + 1 && t.ids[0] == BOT && memcmp(t.ids + 1, a.ids, a.n * 4) == 0);
    CHECK(encode_str(v, "", LLAMAC_TOKENIZE_ADD_SPECIAL, &t) == 1 && t.ids[0] == BOT);
    /* Ids, flags and the end-of-generation set. */
    CHECK(lc_vocab_kind(v) == LC_VOCAB_BPE && lc_vocab_n_tokens(v) == 128256);
    CHECK(lc_vocab_bos(v) == BOT && lc_vocab_eos(v) == EOT);
    CHECK(lc_vocab_eot(v) == EOT && lc_vocab_eom(v) == EOM);
    CHECK(lc_vocab_add_bos(v) && !lc_vocab_add_eos(v) && !lc_vocab_add_space_prefix(v));
    CHECK(lc_vocab_is_eog(v, EOT) && lc_vocab_is_eog(v, EOM));
    CHECK(!lc_vocab_is_eog(v, BOT) && !lc_vocab_is_eog(v, START_HEADER) && !lc_vocab_is_eog(v, 13));
    /* <|end_of_text|> is not in llama.cpp's text list; this folder has no
     * generation_config.json to add it (test_tokenizer_hf checks that path). */
    CHECK(!lc_vocab_is_eog(v, EOT_TEXT));
    /* Pieces: byte-level text decoded; control tokens only when asked. */
    size_t n;
    int32_t the = lc_vocab_find(v, "\xC4\xA0the", 5); /* "Ġthe" */
    CHECK(the == 279);
    const char *p = lc_vocab_token_piece(v, the, false, &n);
    CHECK(n == 4 && memcmp(p, " the", 4) == 0);
    p = lc_vocab_token_piece(v, lc_vocab_find(v, "\xC4\x8A", 2), false, &n); /* "Ċ" */
    CHECK(n == 1 && p[0] == '\n');
    lc_vocab_token_piece(v, EOT, false, &n);
    CHECK(n == 0);
    p = lc_vocab_token_piece(v, EOT, true, &n);
    CHECK(n == 10 && memcmp(p, "<|eot_id|>", 10) == 0);
    CHECK(strcmp(lc_vocab_token_text(v, EOT, NULL), "<|eot_id|>") == 0);
    CHECK(lc_vocab_token_type(v, EOT) == LC_TOKEN_CONTROL);
    CHECK(lc_vocab_chat_template(v) && strstr(lc_vocab_chat_template(v), "<|start_header_id|>"));
    free(dec.p);
    lc_tokens_free(&t);
    lc_tokens_free(&a);
    lc_tokens_free(&b);
}

static void test_round_trip(const lc_vocab *v) {
    uint64_t seed = 4321;
    rstr s = {0}, dec = {0}, streamed = {0};
    lc_tokens t = {0};
    int bad = 0, bad_stream = 0, bad_bytes = 0;
    for (int i = 0; i < 10000; i++) {
        random_text(&seed, &s, 40);
        int rc = lc_vocab_encode(v, s.p, s.len, LLAMAC_TOKENIZE_ADD_SPECIAL, &t, NULL);
        decode_pieces(v, &t, &dec);
        if (!(rc == 0 && dec.len == s.len && memcmp(dec.p, s.p, s.len) == 0) && bad++ < 3)
            fprintf(stderr, "bpe round trip %d: \"%s\" -> \"%s\"\n", i, s.p, dec.p);
        rs_detokenize(v, &t, &streamed);
        if (!(streamed.len == s.len && memcmp(streamed.p, s.p, s.len) == 0)) bad_stream++;
    }
    for (int i = 0; i < 3000; i++) {
        random_bytes(&seed, &s, 40);
        int rc = lc_vocab_encode(v, s.p, s.len, 0, &t, NULL);
        decode_pieces(v, &t, &dec);
        if (!(rc == 0 && dec.len == s.len && memcmp(dec.p, s.p, s.len) == 0) && bad_bytes++ < 3) {
            fprintf(stderr, "bpe bytes round trip %d:", i);
            for (size_t k = 0; k < s.len; k++) fprintf(stderr, " %02x", (uint8_t)s.p[k]);
            fputc('\n', stderr);
        }
    }
    CHECKF(bad == 0, "%d of 10000 round trips differ", bad);
    CHECKF(bad_stream == 0, "%d of 10000 detokenizer round trips differ", bad_stream);
    CHECKF(bad_bytes == 0, "%d of 3000 invalid-UTF-8 round trips differ", bad_bytes);
    fprintf(stderr, "llama-bpe: round trips failed: %d/10000 text, %d/10000 streamed, %d/3000 bytes\n",
            bad, bad_stream, bad_bytes);
    free(s.p);
    free(dec.p);
    free(streamed.p);
    lc_tokens_free(&t);
}

/* Specific pre-tokenizer cases: contractions, digit groups, whitespace
 * before newlines, invalid bytes cut out between regex pieces. */
static void test_pretokenizer(const lc_vocab *v) {
    lc_tokens t = {0};
    rstr dec = {0};
    static const char *const cases[] = {
        "I'M sure you'LL see", "1234567", "a  \n\n  b", "x\xFFy", "\xC3", "\xE2\x82",
        "tab\t\tend\t", "\xC2\x85 nel", "ſ's",
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        encode_str(v, cases[i], 0, &t);
        decode_pieces(v, &t, &dec);
        CHECKF(t.n > 0 && dec.len == strlen(cases[i]) && memcmp(dec.p, cases[i], dec.len) == 0,
               "pre-tokenizer case %zu", i);
    }
    /* "1234567" splits into digit groups of at most three. */
    encode_str(v, "1234567", 0, &t);
    CHECK(t.n == 3);
    free(dec.p);
    lc_tokens_free(&t);
}

static void test_gguf_round_trip(const lc_tokenizer_data *d, const tv_set *vec) {
    char path[] = "/tmp/lc_tok_bpe_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd < 0) return;
    close(fd);
    lc_gguf_writer *w = lc_gguf_writer_create();
    llamac_error err = {{0}};
    int rc = lc_tokenizer_data_write_gguf(d, w);
    if (rc == 0) rc = lc_gguf_writer_begin(w, path, &err);
    if (rc == 0) rc = lc_gguf_writer_finish(w, &err);
    CHECKF(rc == 0, "%s", err.msg);
    lc_gguf_writer_free(w);
    lc_vocab *v = rc == 0 ? open_gguf_vocab(path) : NULL;
    CHECK(v != NULL);
    if (v) {
        size_t passed = tv_run(v, vec, "llama-bpe (written gguf)");
        fprintf(stderr, "llama-bpe vectors, vocab from a GGUF we wrote: %zu/%zu passed\n", passed,
                vec->n);
        CHECK(lc_vocab_bos(v) == BOT && lc_vocab_eos(v) == EOT && lc_vocab_is_eog(v, EOM));
    }
    lc_gguf_file *f = NULL;
    lc_tokenizer_data back;
    if (rc == 0 && lc_gguf_open(path, &f, &err) == 0 && lc_tokenizer_data_from_gguf(f, &back, &err) == 0) {
        CHECK(back.n_tokens == d->n_tokens && back.n_merges == d->n_merges && !back.scores);
        CHECK(strcmp(back.model, "gpt2") == 0 && strcmp(back.pre, "llama-bpe") == 0);
        CHECK(back.n_merges > 0 && strcmp(back.merges[0], d->merges[0]) == 0 &&
              strcmp(back.merges[back.n_merges - 1], d->merges[d->n_merges - 1]) == 0);
        CHECK(back.chat_template && strcmp(back.chat_template, d->chat_template) == 0);
        const lc_gguf_kv *kv = lc_gguf_find(f, "tokenizer.ggml.token_type");
        CHECK(kv && kv->elem_type == GGUF_VT_INT32);
        kv = lc_gguf_find(f, "tokenizer.ggml.bos_token_id");
        CHECK(kv && kv->type == GGUF_VT_UINT32);
        lc_tokenizer_data_free(&back);
    }
    lc_gguf_close(f);
    lc_vocab_free(v);
    unlink(path);
}

static void bench(const lc_vocab *v) {
    rstr s = {0};
    throughput_text(&s);
    print_encode_rate(v, &s, 0, "llama-bpe throughput");
    print_encode_rate(v, &s, LLAMAC_TOKENIZE_PARSE_SPECIAL, "llama-bpe throughput with parse_special");
    free(s.p);
}

int main(void) {
    tv_set vec;
    if (tv_load(BPE_VECTORS, &vec) < 0) {
        fprintf(stderr, "cannot load the llama-bpe vectors\n");
        return 1;
    }
    lc_tokenizer_data d;
    lc_vocab *v = NULL;
    llamac_error err = {{0}};
    double t0 = cpu_seconds();
    int rc = lc_tokenizer_data_from_hf_dir(LLAMA31_DIR, 128256, &d, &err);
    double t1 = cpu_seconds();
    if (rc == 0) rc = lc_vocab_create(&d, &v, &err);
    double t2 = cpu_seconds();
    CHECKF(rc == 0, "%s", err.msg);
    if (rc == 0) {
        fprintf(stderr, "llama3.1 tokenizer.json: read in %.2f s CPU, vocabulary built in %.2f s\n",
                t1 - t0, t2 - t1);
        size_t passed = tv_run(v, &vec, "llama-bpe");
        fprintf(stderr, "llama-bpe vectors, vocab from tokenizer.json: %zu/%zu passed\n", passed,
                vec.n);
        CHECK(vec.n == 46);
        test_special_tokens(v);
        test_pretokenizer(v);
        test_round_trip(v);
        test_gguf_round_trip(&d, &vec);
        bench(v);
    }
    lc_vocab_free(v);
    lc_tokenizer_data_free(&d);
    tv_free(&vec);
    return TEST_SUMMARY("test_tokenizer_bpe");
}
