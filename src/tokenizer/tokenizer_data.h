/* A vocabulary as plain data, independent of where it came from (a GGUF
 * file, tokenizer.json, a sentencepiece tokenizer.model, a llama2.c
 * tokenizer.bin) and of how it will be used (the runtime tokenizer in
 * vocab.h, or the GGUF writer of the converters).
 *
 * Texts are stored as the GGUF file stores them: SPM pieces keep the '▁'
 * (U+2581) space marker, byte-level BPE tokens are in GPT-2's byte-to-unicode
 * form ("Ġthe"), added/special tokens are raw text. Facts: docs/formats.md "Tokenizer keys". */
#ifndef LC_TOKENIZER_DATA_H
#define LC_TOKENIZER_DATA_H

#include <stdint.h>

#include "format/gguf.h"
#include "llamac.h"

/* tokenizer.ggml.token_type values (same numbers as sentencepiece's enum). */
enum lc_token_type {
    LC_TOKEN_UNDEFINED = 0,
    LC_TOKEN_NORMAL = 1,
    LC_TOKEN_UNKNOWN = 2,
    LC_TOKEN_CONTROL = 3,
    LC_TOKEN_USER_DEFINED = 4,
    LC_TOKEN_UNUSED = 5,
    LC_TOKEN_BYTE = 6,
};

typedef struct lc_tokenizer_data {
    char *model;           /* "llama" (SentencePiece-style) or "gpt2" (byte-level BPE) */
    char *pre;             /* pre-tokenizer: "default", "llama-bpe", ...; NULL = absent */
    int32_t n_tokens;
    char **tokens;         /* n_tokens NUL-terminated texts, each malloc'd */
    uint32_t *token_lens;  /* their byte lengths (a hostile file may embed NUL bytes) */
    float *scores;         /* n_tokens scores, or NULL when the source has none */
    int32_t *token_types;  /* n_tokens enum lc_token_type values, or NULL (all NORMAL) */
    int32_t n_merges;
    char **merges;         /* "left right" strings; rank = index */
    int32_t merges_cap;    /* allocated merge slots */
    /* Special token ids, -1 when absent. */
    int32_t bos_id, eos_id, unk_id, pad_id, eot_id, eom_id;
    /* -1 when the source does not say, else 0 or 1. */
    int8_t add_bos, add_eos, add_space_prefix;
    char *chat_template;   /* NULL when absent */
    /* generation_config.json eos_token_id (an int or a list); not stored in GGUF. */
    int32_t n_eos_ids;
    int32_t *eos_ids;
} lc_tokenizer_data;

/* Empty data: no tokens, every id -1, every flag -1. */
void lc_tokenizer_data_init(lc_tokenizer_data *d);
void lc_tokenizer_data_free(lc_tokenizer_data *d);

/* Allocates n token slots (texts NULL, types NORMAL, scores 0 when
 * with_scores). Any previous tokens are freed. */
int lc_tokenizer_data_alloc_tokens(lc_tokenizer_data *d, int32_t n, int with_scores,
                                   llamac_error *err);
/* Replaces the text of token i with a copy of len bytes. */
int lc_tokenizer_data_set_token(lc_tokenizer_data *d, int32_t i, const char *text, size_t len,
                                llamac_error *err);
/* Appends a copy of a "left right" merge string. */
int lc_tokenizer_data_add_merge(lc_tokenizer_data *d, const char *text, size_t len,
                                llamac_error *err);
/* Replaces *dst with a NUL-terminated copy of len bytes of s. */
int lc_tokenizer_data_set_string(char **dst, const char *s, size_t len, llamac_error *err);
/* Appends one id to the generation eos list. */
int lc_tokenizer_data_add_eos_id(lc_tokenizer_data *d, int32_t id, llamac_error *err);
/* Grows the vocabulary to n tokens; the new ids get "[PAD<i>]" texts, type
 * UNUSED and (when scores exist) the given score, as convert_hf_to_gguf
 * fills ids the tokenizer does not define. No-op when n <= n_tokens. */
int lc_tokenizer_data_pad(lc_tokenizer_data *d, int32_t n, float score, llamac_error *err);
/* Text -> id by linear search (first match), -1 if none. For loaders only. */
int32_t lc_tokenizer_data_find(const lc_tokenizer_data *d, const char *text);

/* Reads every tokenizer.* key of a GGUF file. Special ids >= n_tokens
 * (e.g. 0xFFFFFFFF written for "none" by some converters) are treated as
 * absent, as llama.cpp does; wrong types and mismatched array lengths are
 * errors naming the key. */
int lc_tokenizer_data_from_gguf(const lc_gguf_file *f, lc_tokenizer_data *out, llamac_error *err);

/* Adds every tokenizer.* key to a GGUF writer with the types llama.cpp
 * reads: strings, array[string] tokens/merges, array[f32] scores,
 * array[i32] token types, u32 ids, bool flags. Absent fields are not
 * written. Returns 0, or -1 when the writer refuses a key. */
int lc_tokenizer_data_write_gguf(const lc_tokenizer_data *d, lc_gguf_writer *w);

/* Loaders from Hugging Face and sentencepiece files. They are implemented
 * in the converter library (src/convert/hf_tokenizer.c, spm_model.c; they
 * need cJSON) and declared here so that converters see the whole
 * lc_tokenizer_data interface in one header. */

/* A Hugging Face model folder, the way convert_hf_to_gguf.py reads it:
 * tokenizer.model (SentencePiece, "llama") when present, else
 * tokenizer.json (byte-level BPE with the Llama 3 pre-tokenizer, "gpt2");
 * plus tokenizer_config.json (special tokens, add_bos/eos, chat template,
 * added tokens), config.json (bos/eos ids when still unset),
 * generation_config.json (the eos list) and added_tokens.json (SPM).
 * Ids missing below config_vocab_size become "[PAD<i>]" UNUSED tokens
 * (config_vocab_size <= 0: no padding). Errors name the file and the JSON
 * field; a folder with neither tokenizer file gives
 * "no tokenizer.json or tokenizer.model in DIR". */
int lc_tokenizer_data_from_hf_dir(const char *dir, int64_t config_vocab_size,
                                  lc_tokenizer_data *out, llamac_error *err);
/* A sentencepiece tokenizer.model alone: model "llama", pre "default",
 * piece texts, scores and types (as convert does: user-defined pieces
 * become NORMAL), unk/bos/eos ids from the trainer spec. */
int lc_tokenizer_data_from_spm_model(const char *path, lc_tokenizer_data *out,
                                     llamac_error *err);

#endif
