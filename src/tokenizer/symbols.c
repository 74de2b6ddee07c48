/* The tokenizer's shared floor: token lists and the keyed text table that
 * maps token texts to ids (lookup, insertion of symbols). vocab.c builds a
 * vocabulary on it; the encoders use lookups and token lists. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "runtime/err.h"
#include "tokenizer/vocab_internal.h"

/* ------------------------------------------------------------ token lists */

int lc_tokens_push(lc_tokens *t, int32_t id) {
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        int32_t *p = realloc(t->ids, cap * sizeof *p);
        if (!p) return -1;
        t->ids = p;
        t->cap = cap;
    }
    t->ids[t->n++] = id;
    return 0;
}

void lc_tokens_free(lc_tokens *t) {
    free(t->ids);
    t->ids = NULL;
    t->n = t->cap = 0;
}

/* ------------------------------------------------------------- text table */

/* SipHash-1-3 (Aumasson and Bernstein): a keyed hash with full mixing, so
 * that without the key nobody can compute texts that share a slot. Token
 * texts come from model files, which are untrusted: an unkeyed hash let a
 * crafted vocabulary put every token in one slot and make loading and
 * tokenizing quadratic. */
static uint64_t rotl64(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

#define SIP_ROUND(v0, v1, v2, v3)                                                               \
    do {                                                                                         \
        v0 += v1; v1 = rotl64(v1, 13); v1 ^= v0; v0 = rotl64(v0, 32);                           \
        v2 += v3; v3 = rotl64(v3, 16); v3 ^= v2;                                                 \
        v0 += v3; v3 = rotl64(v3, 21); v3 ^= v0;                                                 \
        v2 += v1; v1 = rotl64(v1, 17); v1 ^= v2; v2 = rotl64(v2, 32);                           \
    } while (0)

static uint64_t hash_text(const uint64_t key[2], const char *s, size_t n) {
    uint64_t v0 = key[0] ^ 0x736f6d6570736575ull, v1 = key[1] ^ 0x646f72616e646f6dull;
    uint64_t v2 = key[0] ^ 0x6c7967656e657261ull, v3 = key[1] ^ 0x7465646279746573ull;
    uint64_t last = (uint64_t)n << 56;
    for (; n >= 8; s += 8, n -= 8) {
        uint64_t m;
        memcpy(&m, s, 8); /* host byte order: other values on a big-endian host, same lookups */
        v3 ^= m;
        SIP_ROUND(v0, v1, v2, v3);
        v0 ^= m;
    }
    for (size_t i = 0; i < n; i++) last |= (uint64_t)(unsigned char)s[i] << (8 * i);
    v3 ^= last;
    SIP_ROUND(v0, v1, v2, v3);
    v0 ^= last;
    v2 ^= 0xff;
    SIP_ROUND(v0, v1, v2, v3);
    SIP_ROUND(v0, v1, v2, v3);
    SIP_ROUND(v0, v1, v2, v3);
    return v0 ^ v1 ^ v2 ^ v3;
}

/* A fresh key for each vocabulary from the kernel's random source; if that
 * is unavailable, the clock and an address mixed through splitmix64 (still
 * unknown to whoever wrote the model file). */
void lc_text_table_seed(lc_text_table *t) {
    if (getrandom(t->seed, sizeof t->seed, GRND_NONBLOCK) == (ssize_t)sizeof t->seed) return;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t x = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^ (uint64_t)(uintptr_t)t;
    for (int i = 0; i < 2; i++) {
        uint64_t z = (x += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        t->seed[i] = z ^ (z >> 31);
    }
}

static bool text_equals(const lc_vocab *v, int32_t id, const char *s, size_t len) {
    return v->text_len[id] == len && memcmp(v->text[id], s, len) == 0;
}

/* Keeps t->seed: a grown table rehashes with the same key. */
int lc_text_table_alloc(lc_text_table *t, uint32_t size) {
    t->slots = malloc((size_t)size * sizeof *t->slots);
    if (!t->slots) return -1;
    for (uint32_t i = 0; i < size; i++) t->slots[i] = (lc_text_slot){-1, 0};
    t->mask = size - 1;
    t->count = 0;
    return 0;
}

/* Returns the slot holding this text, or the empty slot where it belongs;
 * *probes (when not NULL) counts the slots visited. */
static uint32_t table_slot(const lc_vocab *v, const char *s, size_t len, uint32_t *tag, uint64_t *probes) {
    const lc_text_table *t = &v->lookup;
    uint64_t h = hash_text(t->seed, s, len);
    *tag = (uint32_t)(h >> 32);
    for (uint32_t i = (uint32_t)h & t->mask;; i = (i + 1) & t->mask) {
        if (probes) ++*probes;
        const lc_text_slot *slot = &t->slots[i];
        if (slot->id < 0 || (slot->tag == *tag && text_equals(v, slot->id, s, len))) return i;
    }
}

/* Inserts symbol id; an existing symbol with the same text is replaced
 * (llama.cpp keeps the last token of duplicate texts). */
void lc_vocab_table_put(lc_vocab *v, int32_t id) {
    uint32_t tag;
    uint32_t i = table_slot(v, v->text[id], v->text_len[id], &tag, NULL);
    if (v->lookup.slots[i].id < 0) v->lookup.count++;
    v->lookup.slots[i] = (lc_text_slot){id, tag};
}

static int table_grow(lc_vocab *v) {
    lc_text_table old = v->lookup;
    if (lc_text_table_alloc(&v->lookup, (old.mask + 1) * 2) < 0) {
        v->lookup = old;
        return -1;
    }
    for (uint32_t i = 0; i <= old.mask; i++) {
        if (old.slots[i].id >= 0) lc_vocab_table_put(v, old.slots[i].id);
    }
    free(old.slots);
    return 0;
}

uint64_t lc_vocab_lookup_probes(const lc_vocab *v) {
    uint64_t probes = 0;
    uint32_t tag;
    for (int32_t id = 0; id < v->n_symbols; id++) table_slot(v, v->text[id], v->text_len[id], &tag, &probes);
    return probes;
}

int32_t lc_vocab_lookup(const lc_vocab *v, const char *s, size_t len) {
    uint32_t tag;
    return v->lookup.slots[table_slot(v, s, len, &tag, NULL)].id;
}

int32_t lc_vocab_add_symbol(lc_vocab *v, const char *s, size_t len) {
    int32_t id = lc_vocab_lookup(v, s, len);
    if (id >= 0) return id;
    if (v->n_symbols == INT32_MAX) return -1;
    if ((v->lookup.count + 1) * 2 > v->lookup.mask + 1 && table_grow(v) < 0) return -1;
    if (v->n_symbols == v->cap_symbols) {
        int32_t cap = v->cap_symbols < INT32_MAX / 2 ? v->cap_symbols * 2 : INT32_MAX;
        const char **t = realloc(v->text, (size_t)cap * sizeof *t);
        if (!t) return -1;
        v->text = t;
        uint32_t *l = realloc(v->text_len, (size_t)cap * sizeof *l);
        if (!l) return -1;
        v->text_len = l;
        v->cap_symbols = cap;
    }
    char *copy = malloc(len + 1);
    if (!copy) return -1;
    memcpy(copy, s, len);
    copy[len] = 0;
    id = v->n_symbols++;
    v->text[id] = copy;
    v->text_len[id] = (uint32_t)len;
    lc_vocab_table_put(v, id);
    return id;
}
