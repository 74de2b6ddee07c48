/* Building raw GGUF bytes by hand in tests: a growable byte buffer and
 * little-endian writers, shared by test_gguf.c and test_gguf_corrupt.c. */
#ifndef LC_GGUF_TEST_UTIL_H
#define LC_GGUF_TEST_UTIL_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define STORIES "../models/stories260K.gguf"
#define VOCAB_SPM "data/tokenizer-vectors/ggml-vocab-llama-spm.gguf"

typedef struct bytes {
    uint8_t *p;
    size_t len, cap;
} bytes;

static inline void put(bytes *b, const void *src, size_t n) {
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        if (!b->p) abort();
    }
    memcpy(b->p + b->len, src, n);
    b->len += n;
}

static inline void put_le(bytes *b, uint64_t v, int n) {
    uint8_t tmp[8];
    for (int i = 0; i < n; i++) tmp[i] = (uint8_t)(v >> (8 * i));
    put(b, tmp, (size_t)n);
}

static inline void put_str(bytes *b, const char *s) {
    put_le(b, strlen(s), 8);
    put(b, s, strlen(s));
}

#endif
