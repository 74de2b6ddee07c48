/* The lc_vocab structure and the pieces the tokenizer files share:
 * the text -> id table, the symbol/bigram merge engine used by both SPM
 * and BPE, the special-token partition, and each algorithm's entry point. */
#ifndef LC_VOCAB_INTERNAL_H
#define LC_VOCAB_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tokenizer/vocab.h"

/* Longest input accepted by one encode call; keeps every offset in 32 bits
 * even after SPM's ' ' -> "▁" expansion (x3). */
#define LC_VOCAB_MAX_TEXT ((size_t)1 << 30)

/* Open-addressing hash table: symbol text -> symbol id. The hash is keyed
 * with a random seed per vocabulary, so texts cannot be crafted to collide
 * (vocab.c); each slot keeps the upper half of its text's hash, so that a
 * probe only compares texts when the halves match. */
typedef struct lc_text_slot {
    int32_t id;   /* -1 = empty */
    uint32_t tag; /* hash >> 32 */
} lc_text_slot;

typedef struct lc_text_table {
    lc_text_slot *slots;
    uint32_t mask;
    uint32_t count;
    uint64_t seed[2];
} lc_text_table;

/* BPE merge table: (left symbol, right symbol) -> (rank, merged symbol). */
typedef struct lc_merge_entry {
    uint64_t key; /* left << 32 | right; UINT64_MAX = empty */
    int32_t rank;
    int32_t result; /* symbol id of the merged text, -1 if it is no symbol */
} lc_merge_entry;

typedef struct lc_merge_table {
    lc_merge_entry *slots;
    uint32_t mask;
} lc_merge_table;

struct lc_vocab {
    int kind; /* enum lc_vocab_kind */
    int32_t n_tokens;
    /* Symbols: ids 0..n_tokens-1 are the tokens; BPE adds, after them, the
     * merge halves that are not tokens themselves (so every merge can be
     * looked up by ids, even in odd vocabularies). */
    int32_t n_symbols;
    int32_t cap_symbols;
    const char **text; /* NUL-terminated; tokens point into text_blob */
    uint32_t *text_len;
    char *text_blob;
    lc_text_table lookup;

    float *scores;  /* n_tokens, 0 when the source had none */
    uint8_t *types; /* n_tokens, enum lc_token_type (after fix-ups) */
    uint8_t *eog;   /* n_tokens flags */

    /* Non-special rendering of each token, precomputed. */
    char *piece_blob;
    uint32_t *piece_off;
    uint32_t *piece_len;

    /* SPM: token for each byte value (<0xXX>, else the one-byte text), -1 if none.
     * BPE: symbol of the byte-level character each byte maps to. */
    int32_t byte_token[256];
    /* SPM: bytes that occur in no token of two or more characters. A
     * character holding one can never be part of a merge, so the merge
     * loop runs separately on the text between such characters (same
     * result, much smaller queues). */
    uint8_t spm_isolated[256];

    int32_t bos, eos, unk, pad, eot, eom;
    bool add_bos, add_eos, add_space_prefix, ignore_merges;
    char *chat_template;

    /* Special-partition candidates (control, user-defined, unknown tokens
     * with non-empty text), longest text first. */
    int32_t *specials;
    int32_t n_specials;

    /* BPE only. */
    char byte_map[256][2]; /* UTF-8 of the byte-level character of each byte */
    uint8_t byte_map_len[256];
    int16_t byte_unmap[0x144]; /* code point -> byte, -1 if not a byte-level character */
    lc_merge_table merges;
    void *regex; /* pcre2_code_8 */
};

/* ---- text table (symbols.c) */
/* The text table's setup for vocab.c's build (symbols.c): a fresh key,
 * the slots, and the insertion of a token already in v->tokens. */
void lc_text_table_seed(lc_text_table *t);
int lc_text_table_alloc(lc_text_table *t, uint32_t size);
void lc_vocab_table_put(lc_vocab *v, int32_t id);
int32_t lc_vocab_lookup(const lc_vocab *v, const char *s, size_t len);
/* Slots visited to look up every symbol once: n_symbols with no collision.
 * Tests hold the table to a bound with it (a count, not a time). */
uint64_t lc_vocab_lookup_probes(const lc_vocab *v);
/* Adds a symbol that is not a token (BPE merge halves). Returns its id or -1. */
int32_t lc_vocab_add_symbol(lc_vocab *v, const char *s, size_t len);

/* ---- merge engine (merge.c) */
typedef struct lc_symbol {
    uint32_t start; /* byte offset in the session text */
    uint32_t n;     /* byte length; 0 once merged into its left neighbour */
    int32_t prev, next;
    int32_t id; /* symbol id, or -1 when the text is no symbol */
} lc_symbol;

typedef struct lc_bigram {
    float priority; /* higher first: SPM score, BPE -rank */
    int32_t left, right;
    uint32_t size;  /* byte length of the merged text when queued */
    int32_t result; /* symbol id of the merged text */
} lc_bigram;

typedef struct lc_merge_session {
    const lc_vocab *v;
    const char *text;
    lc_symbol *sym;
    size_t n_sym, cap_sym;
    lc_bigram *heap;
    size_t n_heap, cap_heap;
} lc_merge_session;

void lc_merge_session_init(lc_merge_session *s, const lc_vocab *v);
void lc_merge_session_free(lc_merge_session *s);
/* Resets the symbol list for a new text. */
void lc_merge_session_reset(lc_merge_session *s, const char *text);
int lc_merge_session_add_symbol(lc_merge_session *s, uint32_t start, uint32_t n, int32_t id);
/* Merges the best adjacent pair until none is left (SPM: pairs whose text
 * is a token, by score; BPE: pairs in the merge table, by rank). */
int lc_merge_session_run(lc_merge_session *s);

/* ---- special-token partition (partition.c) */
typedef struct lc_fragment {
    size_t start, len; /* raw text span, when token < 0 */
    int32_t token;     /* special token id, or -1 for raw text */
    int32_t next;      /* next fragment index, -1 at the end */
} lc_fragment;

typedef struct lc_fragments {
    lc_fragment *items;
    size_t n, cap;
    int32_t head;
} lc_fragments;

int lc_partition_special(const lc_vocab *v, const char *text, size_t len, bool parse_special,
                         const lc_plain_ranges *plain, lc_fragments *out);
void lc_fragments_free(lc_fragments *f);

/* ---- algorithms (spm.c, bpe.c) */
void lc_spm_init(lc_vocab *v);
int lc_spm_encode(const lc_vocab *v, lc_merge_session *s, const char *text, size_t len,
                  bool add_prefix, lc_tokens *out, llamac_error *err);

typedef struct lc_bpe_state lc_bpe_state; /* per-call scratch (regex match data, buffers) */
int lc_bpe_state_create(const lc_vocab *v, lc_bpe_state **out, llamac_error *err);
void lc_bpe_state_free(lc_bpe_state *st);
int lc_bpe_encode(const lc_vocab *v, lc_bpe_state *st, lc_merge_session *s, const char *text,
                  size_t len, lc_tokens *out, llamac_error *err);

/* BPE setup, called by lc_vocab_create (bpe.c). */
int lc_bpe_init(lc_vocab *v, const lc_tokenizer_data *d, llamac_error *err);
void lc_bpe_release(lc_vocab *v);
/* Pre-tokenizer names that mean the Llama 3 rule. */
bool lc_bpe_pre_supported(const char *pre);
/* Byte-level text -> raw bytes (appends to out, which needs len bytes). */
size_t lc_bpe_decode_text(const lc_vocab *v, const char *text, size_t len, char *out);

#endif
