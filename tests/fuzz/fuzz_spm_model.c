/* libFuzzer target for the sentencepiece tokenizer.model reader
 * (src/convert/spm_model.c, a hand-written protobuf parser). The reader
 * takes a path, so each input is written to an anonymous memfd and opened
 * through /proc/self/fd/N. An accepted model is checked against what the
 * loader promises (model "llama", every text its stated length, types
 * 1..6, special ids in range or -1), then handed to lc_vocab_create, the
 * validator every vocabulary goes through, and when that accepts it too a
 * fixed text is encoded and every token rendered.
 * Build with `make fuzz`; run with a scratch corpus first (libFuzzer writes
 * new inputs into the first folder), e.g.
 *   mkdir -p /tmp/spm-corpus
 *   build-fuzz/fuzz_spm_model -max_total_time=600 /tmp/spm-corpus tests/fuzz/corpus_spm_model */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz_util.h"

#include "tokenizer/tokenizer_data.h"
#include "tokenizer/vocab.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile uint8_t sink;

static bool id_ok(int32_t id, int32_t n) { return id == -1 || (id >= 0 && id < n); }

static void check_data(const lc_tokenizer_data *d) {
    if (!d->model || strcmp(d->model, "llama") != 0) abort();
    if (d->n_tokens <= 0 || !d->tokens || !d->token_lens || !d->scores || !d->token_types) abort();
    for (int32_t i = 0; i < d->n_tokens; i++) {
        if (!d->tokens[i] || d->tokens[i][d->token_lens[i]] != 0) abort();
        if (d->token_types[i] < LC_TOKEN_NORMAL || d->token_types[i] > LC_TOKEN_BYTE) abort();
        if (d->token_lens[i]) sink ^= (uint8_t)d->tokens[i][d->token_lens[i] - 1];
    }
    if (!id_ok(d->bos_id, d->n_tokens) || !id_ok(d->eos_id, d->n_tokens) ||
        !id_ok(d->unk_id, d->n_tokens) || !id_ok(d->pad_id, d->n_tokens))
        abort();
}

/* Runs the accepted vocabulary once: any failure must be a clean error. */
static void exercise_vocab(const lc_tokenizer_data *d) {
    lc_vocab *v = NULL;
    llamac_error err = {{0}};
    if (lc_vocab_create(d, &v, &err) < 0) {
        if (v || !err.msg[0] || strchr(err.msg, '\n')) abort();
        return;
    }
    static const char text[] = "Hello world, <s> caf\xC3\xA9 \xF0\x9F\xA6\x99\xFF\n";
    lc_tokens toks = {NULL, 0, 0};
    int flags = LLAMAC_TOKENIZE_ADD_SPECIAL | LLAMAC_TOKENIZE_PARSE_SPECIAL;
    if (lc_vocab_encode(v, text, sizeof text - 1, flags, &toks, &err) == 0) {
        for (size_t i = 0; i < toks.n; i++) {
            if (toks.ids[i] < 0 || toks.ids[i] >= lc_vocab_n_tokens(v)) abort();
            size_t len;
            const char *p = lc_vocab_token_piece(v, toks.ids[i], true, &len);
            if (len) sink ^= (uint8_t)p[len - 1];
        }
    } else if (!err.msg[0] || strchr(err.msg, '\n')) {
        abort();
    }
    lc_tokens_free(&toks);
    lc_vocab_free(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    int fd = fuzz_input_file("fuzz.model", data, size);
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    lc_tokenizer_data d;
    llamac_error err = {{0}};
    if (lc_tokenizer_data_from_spm_model(path, &d, &err) == 0) {
        check_data(&d);
        exercise_vocab(&d);
        lc_tokenizer_data_free(&d);
    } else if (!err.msg[0] || strchr(err.msg, '\n') || !strstr(err.msg, path)) {
        abort(); /* one line naming the file */
    }
    close(fd);
    return 0;
}
