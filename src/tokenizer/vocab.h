/* The runtime tokenizer: built once from lc_tokenizer_data, then read-only,
 * so one lc_vocab may be used from several threads at once.
 *
 *   SPM ("llama"): SentencePiece-style merges by score with byte fallback,
 *                  as llama.cpp does it (docs/formats.md "SPM tokenizer").
 *   BPE ("gpt2"):  byte-level BPE with the Llama 3 pre-tokenizer regex
 *                  (PCRE2) and merge ranks (docs/formats.md "Byte-level BPE tokenizer").
 * Both cut the text at special tokens first (docs/formats.md "Special-token partition"). */
#ifndef LC_VOCAB_H
#define LC_VOCAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "format/gguf.h"
#include "llamac.h"
#include "tokenizer/tokenizer_data.h"

typedef struct lc_vocab lc_vocab;

enum lc_vocab_kind {
    LC_VOCAB_SPM = 1,
    LC_VOCAB_BPE = 2,
};

/* Validates the data (model/pre supported, token types 0..6, special ids in
 * range, byte tokens well formed, scores finite, ...) and builds the lookup
 * tables. Every problem is an error naming the token or field; the data is
 * not referenced afterwards. */
int lc_vocab_create(const lc_tokenizer_data *d, lc_vocab **out, llamac_error *err);
/* Fails, with the message lc_vocab_create would give prefixed by `source`,
 * when the loader would refuse this vocabulary: converters call it before
 * writing, so they never write a vocabulary that does not load. */
int lc_tokenizer_data_check(const lc_tokenizer_data *d, const char *source, llamac_error *err);
/* The byte of a BYTE token's text "<0xXX>", or -1 when it is not of that form. */
int lc_vocab_byte_token_value(const char *text, size_t len);
/* lc_tokenizer_data_from_gguf + lc_vocab_create; messages name the file. */
int lc_vocab_load_gguf(const lc_gguf_file *f, lc_vocab **out, llamac_error *err);
void lc_vocab_free(lc_vocab *v);

/* A growable list of token ids. */
typedef struct lc_tokens {
    int32_t *ids;
    size_t n;
    size_t cap;
} lc_tokens;

int lc_tokens_push(lc_tokens *t, int32_t id);
void lc_tokens_free(lc_tokens *t);

/* Tokenizes len bytes of text (any bytes: invalid UTF-8 and NUL included)
 * into out, replacing its contents. flags: LLAMAC_TOKENIZE_ADD_SPECIAL adds
 * BOS/EOS as the vocabulary asks; LLAMAC_TOKENIZE_PARSE_SPECIAL lets the
 * texts of control tokens in the input become those tokens (user-defined
 * tokens are always matched). Fails only on out-of-memory, text over 1 GiB,
 * or a text byte the SPM vocabulary has no byte token for. */
/* Byte ranges of a text where special-token texts stay plain text even with
 * LLAMAC_TOKENIZE_PARSE_SPECIAL: bounds[2k] .. bounds[2k+1], sorted and
 * not overlapping. */
typedef struct lc_plain_ranges {
    const size_t *bounds;
    size_t n;
} lc_plain_ranges;

/* lc_vocab_encode with plain ranges (NULL: none). */
int lc_vocab_encode_ranges(const lc_vocab *v, const char *text, size_t len, int flags,
                           const lc_plain_ranges *plain, lc_tokens *out, llamac_error *err);
int lc_vocab_encode(const lc_vocab *v, const char *text, size_t len, int flags, lc_tokens *out,
                    llamac_error *err);

int lc_vocab_kind(const lc_vocab *v);
int32_t lc_vocab_n_tokens(const lc_vocab *v);
/* Special ids after llama.cpp's defaults and text detection; -1 if none. */
int32_t lc_vocab_bos(const lc_vocab *v);
int32_t lc_vocab_eos(const lc_vocab *v);
int32_t lc_vocab_eot(const lc_vocab *v);
int32_t lc_vocab_eom(const lc_vocab *v);
int32_t lc_vocab_unk(const lc_vocab *v);
int32_t lc_vocab_pad(const lc_vocab *v);
bool lc_vocab_add_bos(const lc_vocab *v);
bool lc_vocab_add_eos(const lc_vocab *v);
bool lc_vocab_add_space_prefix(const lc_vocab *v);
/* End of generation: eos, eot, eom, the generation_config eos list, and the
 * tokens whose text is a well-known end marker ("<|eot_id|>", ...). */
bool lc_vocab_is_eog(const lc_vocab *v, int32_t id);
/* enum lc_token_type after load-time fix-ups; -1 when out of range. */
int lc_vocab_token_type(const lc_vocab *v, int32_t id);
/* The vocabulary text ("▁the", "Ġthe", "<0x0A>", "<|eot_id|>"), NUL
 * terminated; NULL when id is out of range. */
const char *lc_vocab_token_text(const lc_vocab *v, int32_t id, size_t *len);
/* The bytes a token stands for. Control and unknown tokens give "" unless
 * special is set (then their raw text); out-of-range ids give "". */
const char *lc_vocab_token_piece(const lc_vocab *v, int32_t id, bool special, size_t *len);
/* Exact text -> token id, -1 if no token has that text. */
int32_t lc_vocab_find(const lc_vocab *v, const char *text, size_t len);
/* tokenizer.chat_template, or NULL. */
const char *lc_vocab_chat_template(const lc_vocab *v);

/* Streaming detokenizer over a vocabulary (the public llamac_detokenizer_*
 * functions; llamac_detokenizer_create needs a model and lives in api.c).
 *
 * Pieces are rendered without special tokens. Only complete UTF-8
 * characters are handed out; bytes that cannot start or continue a valid
 * character become U+FFFD, one per maximal invalid subsequence.
 * Leading space: with an SPM vocabulary that adds a space prefix, the first
 * non-empty piece after a BOS token loses one leading ' ' (the dummy prefix
 * the encoder added), as llama2.c's run.c does; so feeding BOS + prompt +
 * generated tokens prints the text without a leading space, while feeding
 * only generated tokens (no BOS) keeps their spaces. */
llamac_detokenizer *lc_detokenizer_create(const lc_vocab *v);

#endif
