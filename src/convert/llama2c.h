/* llama2.c checkpoints (docs/formats.md "llama2.c checkpoints"): the legacy "v0" .bin model file
 * and llama2.c's tokenizer.bin vocabulary. */
#ifndef LC_LLAMA2C_H
#define LC_LLAMA2C_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "llamac.h"
#include "tokenizer/tokenizer_data.h"

typedef struct lc_llama2c_header {
    int32_t dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len;
    bool shared_classifier; /* header vocab_size > 0: wcls is the embedding */
} lc_llama2c_header;

/* A mapped legacy checkpoint whose size has been checked against its
 * header, so every tensor offset below lies inside the mapping. */
typedef struct lc_llama2c_model {
    char *path;
    int fd;
    const uint8_t *map;
    size_t size;
    lc_llama2c_header hp;
} lc_llama2c_model;

int lc_llama2c_open(const char *path, lc_llama2c_model **out, llamac_error *err);
void lc_llama2c_close(lc_llama2c_model *m);

/* Reads llama2.c's tokenizer.bin for a model with n_tokens tokens into an
 * SPM ("llama") vocabulary: ' ' back to U+2581, "\n<s>\n"/"\n</s>\n" to the
 * control tokens <s>/</s>, <unk> unknown, <0xXX> byte tokens. */
int lc_llama2c_tokenizer_load(const char *path, int32_t n_tokens, lc_tokenizer_data *out,
                              llamac_error *err);

#endif
