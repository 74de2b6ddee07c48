/* libFuzzer target for the tokenizers: the input is arbitrary bytes (any
 * UTF-8, invalid sequences, NULs), encoded with a real SentencePiece
 * vocabulary (Llama 2, "llama") and a real byte-level BPE vocabulary
 * (Llama 3.1, "gpt2"), each with and without parse_special and with and
 * without add_special. Checked on every input:
 *   - encoding never fails (these vocabularies have every byte token) and
 *     every id is in range;
 *   - add_special only adds BOS/EOS around the same tokens;
 *   - the round trip: the pieces (special texts included) give back the
 *     input exactly. BPE: byte for byte. SPM: the same, except that one
 *     ' ' is added at the start and after each special token cut from the
 *     text (the space prefix); inputs holding a literal U+2581 are not
 *     checked, since SentencePiece renders that marker as a space;
 *   - parsing special tokens inside a plain range (a chat message) gives
 *     the tokens of not parsing them;
 *   - the streaming detokenizer hands out valid UTF-8 only, and exactly the
 *     concatenated pieces when they are valid UTF-8 (minus the one space
 *     it strips after each SPM BOS).
 * The vocabularies are loaded once, from paths relative to the repository
 * root, so the fuzzer MUST be run from the repository root:
 *   make fuzz && mkdir -p /tmp/tok-corpus
 *   build-fuzz/fuzz_tokenize -max_total_time=600 /tmp/tok-corpus tests/fuzz/corpus_tokenize */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format/gguf.h"
#include "tokenizer/tokenizer_data.h"
#include "tokenizer/vocab.h"

#define SPM_VOCAB "tests/data/tokenizer-vectors/ggml-vocab-llama-spm.gguf"
#define BPE_DIR "tests/data/llama3.1"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Loaded once and only read afterwards (lc_vocab is immutable). */
static struct {
    lc_vocab *spm;
    lc_vocab *bpe;
} vocabs;

static void die(const char *what, const llamac_error *err) {
    fprintf(stderr, "fuzz_tokenize: %s: %s (run from the repository root)\n", what, err->msg);
    exit(1);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    llamac_error err = {{0}};
    lc_gguf_file *f = NULL;
    if (lc_gguf_open(SPM_VOCAB, &f, &err) < 0) die(SPM_VOCAB, &err);
    if (lc_vocab_load_gguf(f, &vocabs.spm, &err) < 0) die(SPM_VOCAB, &err);
    lc_gguf_close(f);
    lc_tokenizer_data d;
    if (lc_tokenizer_data_from_hf_dir(BPE_DIR, 0, &d, &err) < 0) die(BPE_DIR, &err);
    int rc = lc_vocab_create(&d, &vocabs.bpe, &err);
    lc_tokenizer_data_free(&d);
    if (rc < 0) die(BPE_DIR, &err);
    if (lc_vocab_kind(vocabs.spm) != LC_VOCAB_SPM || lc_vocab_kind(vocabs.bpe) != LC_VOCAB_BPE) {
        fprintf(stderr, "fuzz_tokenize: unexpected vocabulary kinds\n");
        exit(1);
    }
    return 0;
}

/* ------------------------------------------------------------- helpers */

typedef struct bytes {
    char *p;
    size_t n, cap;
} bytes;

static void bytes_add(bytes *b, const char *s, size_t n) {
    if (b->n + n > b->cap) {
        size_t cap = 2 * (b->n + n) + 64;
        char *p = realloc(b->p, cap);
        if (!p) abort();
        b->p = p;
        b->cap = cap;
    }
    if (n) memcpy(b->p + b->n, s, n);
    b->n += n;
}

/* Strict UTF-8 (Unicode table 3-7), written here independently of the
 * library's decoder so that the two check each other. */
static bool utf8_valid(const uint8_t *s, size_t n) {
    for (size_t i = 0; i < n;) {
        uint8_t c = s[i];
        size_t k;
        uint8_t lo = 0x80, hi = 0xBF;
        if (c < 0x80) { i++; continue; }
        if (c >= 0xC2 && c <= 0xDF) k = 2;
        else if (c >= 0xE0 && c <= 0xEF) k = 3;
        else if (c >= 0xF0 && c <= 0xF4) k = 4;
        else return false;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
        if (n - i < k || s[i + 1] < lo || s[i + 1] > hi) return false;
        for (size_t j = 2; j < k; j++)
            if ((s[i + j] & 0xC0) != 0x80) return false;
        i += k;
    }
    return true;
}

static void encode(const lc_vocab *v, const uint8_t *data, size_t size, int flags, lc_tokens *out) {
    llamac_error err = {{0}};
    if (lc_vocab_encode(v, (const char *)data, size, flags, out, &err) < 0) {
        fprintf(stderr, "encode failed (flags %d): %s\n", flags, err.msg);
        abort();
    }
    for (size_t i = 0; i < out->n; i++)
        if (out->ids[i] < 0 || out->ids[i] >= lc_vocab_n_tokens(v)) abort();
}

/* A token cut out of the text by the special-token partition. */
static bool is_cut(const lc_vocab *v, int32_t id, bool parse_special) {
    int t = lc_vocab_token_type(v, id);
    return t == LC_TOKEN_USER_DEFINED ||
           (parse_special && (t == LC_TOKEN_CONTROL || t == LC_TOKEN_UNKNOWN));
}

/* Walks the tokens over the input: each piece must be the next input
 * bytes, after one added ' ' where the SPM space prefix goes. */
static void check_round_trip(const lc_vocab *v, const lc_tokens *t, const uint8_t *data,
                             size_t size, bool parse_special) {
    bool spm_prefix = lc_vocab_kind(v) == LC_VOCAB_SPM && lc_vocab_add_space_prefix(v);
    bool expect_prefix = spm_prefix; /* the start counts as after a special token */
    size_t pos = 0;
    for (size_t i = 0; i < t->n; i++) {
        size_t len;
        const char *p = lc_vocab_token_piece(v, t->ids[i], true, &len);
        bool cut = is_cut(v, t->ids[i], parse_special);
        if (!cut && expect_prefix) {
            if (len == 0 || p[0] != ' ') abort(); /* the space prefix is missing */
            p++;
            len--;
        }
        if (len > size - pos || memcmp(p, data + pos, len) != 0) abort();
        pos += len;
        expect_prefix = cut && spm_prefix;
    }
    if (pos != size) abort(); /* text left over */
}

/* tokens(flags | ADD_SPECIAL) == [BOS] + tokens(flags) + [EOS], each as
 * the vocabulary asks. */
static void check_add_special(const lc_vocab *v, const lc_tokens *plain, const lc_tokens *with) {
    size_t head = lc_vocab_add_bos(v) && lc_vocab_bos(v) >= 0;
    size_t tail = lc_vocab_add_eos(v) && lc_vocab_eos(v) >= 0;
    if (with->n != head + plain->n + tail) abort();
    if (head && with->ids[0] != lc_vocab_bos(v)) abort();
    if (tail && with->ids[with->n - 1] != lc_vocab_eos(v)) abort();
    if (plain->n && memcmp(with->ids + head, plain->ids, plain->n * sizeof *plain->ids) != 0)
        abort();
}

/* The detokenizer's output against the plain (non-special) pieces. The
 * expected text follows the contract in vocab.h: with an SPM vocabulary
 * that adds a space prefix, the first non-empty piece after any BOS loses
 * one leading ' '. */
static void check_detokenizer(const lc_vocab *v, const lc_tokens *t) {
    llamac_detokenizer *d = lc_detokenizer_create(v);
    if (!d) abort();
    bool strips = lc_vocab_kind(v) == LC_VOCAB_SPM && lc_vocab_add_space_prefix(v);
    bytes out = {0}, pieces = {0};
    bool strip = false;
    for (size_t i = 0; i < t->n; i++) {
        size_t n;
        const char *s = llamac_detokenizer_push(d, t->ids[i], &n);
        bytes_add(&out, s, n);
        s = lc_vocab_token_piece(v, t->ids[i], false, &n);
        if (strips && t->ids[i] == lc_vocab_bos(v)) strip = true;
        if (n && strip) {
            if (s[0] == ' ') {
                s++;
                n--;
            }
            strip = false;
        }
        bytes_add(&pieces, s, n);
    }
    size_t n;
    const char *s = llamac_detokenizer_flush(d, &n);
    bytes_add(&out, s, n);
    llamac_detokenizer_free(d);
    if (!utf8_valid((const uint8_t *)out.p, out.n)) abort();
    if (utf8_valid((const uint8_t *)pieces.p, pieces.n) &&
        (out.n != pieces.n || (out.n && memcmp(out.p, pieces.p, out.n) != 0)))
        abort();
    free(out.p);
    free(pieces.p);
}

/* Inside plain ranges special-token text stays text: parsing specials
 * with the whole input one plain range gives the tokens of not parsing
 * them. A range over the second half only must encode cleanly too. */
static void check_plain_ranges(const lc_vocab *v, const uint8_t *data, size_t size, const lc_tokens *plain) {
    llamac_error err = {{0}};
    size_t whole[2] = {0, size}, half[2] = {size / 2, size};
    lc_plain_ranges all = {whole, 1}, back = {half, 1};
    lc_tokens t = {NULL, 0, 0};
    if (lc_vocab_encode_ranges(v, (const char *)data, size, LLAMAC_TOKENIZE_PARSE_SPECIAL, &all, &t, &err) < 0)
        abort();
    if (t.n != plain->n || (t.n && memcmp(t.ids, plain->ids, t.n * sizeof *t.ids) != 0)) abort();
    if (lc_vocab_encode_ranges(v, (const char *)data, size, LLAMAC_TOKENIZE_PARSE_SPECIAL, &back, &t, &err) < 0)
        abort();
    for (size_t i = 0; i < t.n; i++)
        if (t.ids[i] < 0 || t.ids[i] >= lc_vocab_n_tokens(v)) abort();
    lc_tokens_free(&t);
}

static void run_vocab(const lc_vocab *v, const uint8_t *data, size_t size, bool round_trip) {
    for (int parse = 0; parse < 2; parse++) {
        int flags = parse ? LLAMAC_TOKENIZE_PARSE_SPECIAL : 0;
        lc_tokens plain = {NULL, 0, 0}, with = {NULL, 0, 0};
        encode(v, data, size, flags, &plain);
        encode(v, data, size, flags | LLAMAC_TOKENIZE_ADD_SPECIAL, &with);
        if (round_trip) check_round_trip(v, &plain, data, size, parse);
        if (!parse) check_plain_ranges(v, data, size, &plain);
        check_add_special(v, &plain, &with);
        check_detokenizer(v, &plain);
        check_detokenizer(v, &with);
        lc_tokens_free(&plain);
        lc_tokens_free(&with);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    bool has_space_mark = memmem(data, size, "\xE2\x96\x81", 3) != NULL;
    run_vocab(vocabs.spm, data, size, !has_space_mark);
    run_vocab(vocabs.bpe, data, size, true);
    return 0;
}
