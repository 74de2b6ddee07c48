/*
 * llamac: an on-device inference engine for Llama-family models.
 *
 * The public C API. The `llamac` command-line tool is written only against
 * this header; anything it can do, an embedding program can do too.
 *
 * Conventions
 *   - Fallible calls take a `llamac_error *` (may be NULL) and return a
 *     negative value or NULL on failure; the message names the file and the
 *     field or byte offset that was wrong. Nothing in the library exits.
 *   - Every `*_load` / `*_create` pairs with a `*_free`; a context must not
 *     outlive its model.
 */
#ifndef LLAMAC_H
#define LLAMAC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LLAMAC_VERSION "0.1.0"

/* ------------------------------------------------------------------ errors */

#define LLAMAC_ERROR_MAX 512

typedef struct llamac_error {
    char msg[LLAMAC_ERROR_MAX];
} llamac_error;

typedef int32_t llamac_token;

typedef struct llamac_model llamac_model;
typedef struct llamac_context llamac_context;
typedef struct llamac_sampler llamac_sampler;
typedef struct llamac_gguf llamac_gguf;

/* --------------------------------------------------------- GGUF inspection */

/* Opens a GGUF file read-only (mmap) for inspection: the `info` view. */
llamac_gguf *llamac_gguf_open(const char *path, llamac_error *err);
void llamac_gguf_free(llamac_gguf *g);

uint32_t llamac_gguf_version(const llamac_gguf *g);
uint32_t llamac_gguf_alignment(const llamac_gguf *g);
uint64_t llamac_gguf_data_offset(const llamac_gguf *g);
int64_t llamac_gguf_n_kv(const llamac_gguf *g);
/* Key of the i-th metadata entry (NUL-terminated copy owned by `g`). */
const char *llamac_gguf_kv_key(const llamac_gguf *g, int64_t i);
/* Value type name ("u32", "string", "array[string]", ...). */
const char *llamac_gguf_kv_type(const llamac_gguf *g, int64_t i);
/* Writes a printable rendering of the value (arrays shortened to
 * `max_items` entries) into buf; returns the length it needed. */
size_t llamac_gguf_kv_format(const llamac_gguf *g, int64_t i, char *buf, size_t size,
                             size_t max_items);

typedef struct llamac_tensor_info {
    const char *name;
    const char *type_name;  /* "q4_0", "f32", ... */
    int type;               /* ggml type id */
    int n_dims;
    int64_t ne[4];          /* ggml order: ne[0] is the contiguous dimension */
    uint64_t offset;        /* absolute file offset of the data */
    uint64_t nbytes;
} llamac_tensor_info;

int64_t llamac_gguf_n_tensors(const llamac_gguf *g);
int llamac_gguf_tensor(const llamac_gguf *g, int64_t i, llamac_tensor_info *out);

/* ------------------------------------------------------------------ model */

typedef void (*llamac_progress_fn)(double fraction, void *user);

typedef struct llamac_model_params {
    bool vocab_only;             /* load the tokenizer only (no tensors needed) */
    bool use_mmap;               /* map the file (page cache, 4 KiB pages) instead of
                                    reading it into huge-page memory (the default,
                                    faster decode); mapping saves RAM when the file
                                    is also in the page cache */
    llamac_progress_fn progress; /* called while weights are checked/loaded */
    void *progress_user;
    bool no_repack;              /* keep the file's weight layout; by default, when
                                    not mapped, Q4_0, Q8_0, Q4_K and Q6_K matrices are
                                    regrouped in place (8 rows interleaved) for the
                                    faster SIMD kernels where this CPU has them: no
                                    extra memory */
    const char *isa;             /* kernel table ("avx512-bf16", "avx512", "avx2",
                                    "neon-dotprod", "neon", "scalar"); NULL: the best
                                    this CPU runs, or the one the LLAMAC_ISA
                                    environment variable names. The load fails if the
                                    name is unknown or this CPU cannot run it.
                                    Contexts of the model use the same table. */
    bool f16_as_bf16;            /* convert F16 weight matrices to BF16 in place at
                                    load (same size; not with use_mmap): on CPUs with
                                    AVX-512 BF16, vdpbf16ps runs them faster in
                                    prefill. Costs precision: BF16 keeps 8 bits of
                                    mantissa where F16 keeps 11 (README, "F16 as
                                    BF16", gives the measured logit difference) */
} llamac_model_params;

llamac_model_params llamac_model_default_params(void);
llamac_model *llamac_model_load(const char *path, const llamac_model_params *params,
                                llamac_error *err);
void llamac_model_free(llamac_model *model);

typedef struct llamac_model_desc {
    const char *name;      /* general.name or "" */
    const char *arch;      /* "llama" */
    int32_t n_vocab;
    int32_t n_embd;
    int32_t n_layer;
    int32_t n_head;
    int32_t n_head_kv;
    int32_t head_dim;
    int32_t n_ff;
    int32_t n_ctx_train;
    float rope_theta;
    float rms_eps;
    uint64_t n_params;
    uint64_t weight_bytes; /* bytes of tensor data */
    const char *file_type; /* "q4_0", "f32", "mixed", ... */
    uint64_t repacked_bytes; /* weight bytes regrouped at load (no_repack off) */
    int64_t repack_us;       /* time that took */
} llamac_model_desc;

void llamac_model_describe(const llamac_model *model, llamac_model_desc *out);

/* -------------------------------------------------------------- tokenizer */

enum {
    LLAMAC_TOKENIZE_ADD_SPECIAL = 1,   /* add BOS/EOS as the model's metadata asks */
    LLAMAC_TOKENIZE_PARSE_SPECIAL = 2, /* "<|eot_id|>" in the text becomes that token */
};

/* Tokenizes `len` bytes of `text`. Writes at most `n_max` ids and returns
 * the number of ids the text needs (which may exceed n_max), or -1 on
 * error. */
int64_t llamac_tokenize(const llamac_model *model, const char *text, size_t len,
                        llamac_token *out, int64_t n_max, int flags, llamac_error *err);
/* llamac_tokenize where special-token text inside the byte ranges
 * plain[2k] .. plain[2k+1] (k < n_plain; sorted, not overlapping) stays
 * plain text even with LLAMAC_TOKENIZE_PARSE_SPECIAL. A chat prompt passes
 * its message contents here, so that typing "<|eot_id|>" cannot end a turn:
 * only the template's own text becomes special tokens. */
int64_t llamac_tokenize_plain_ranges(const llamac_model *model, const char *text, size_t len,
                                     const size_t *plain, size_t n_plain, llamac_token *out,
                                     int64_t n_max, int flags, llamac_error *err);

/* The bytes one token stands for (possibly part of a UTF-8 character).
 * Control tokens give "" unless `special` is set. Returns the byte count
 * needed (may exceed size; nothing past size is written). */
size_t llamac_token_to_piece(const llamac_model *model, llamac_token tok, bool special,
                             char *buf, size_t size);
/* The raw vocabulary text of a token ("▁the", "<0x0A>", "<|eot_id|>"). */
const char *llamac_token_text(const llamac_model *model, llamac_token tok);

int32_t llamac_n_vocab(const llamac_model *model);
llamac_token llamac_token_bos(const llamac_model *model); /* -1 if none */
llamac_token llamac_token_eos(const llamac_model *model); /* -1 if none */
bool llamac_token_is_eog(const llamac_model *model, llamac_token tok);
bool llamac_add_bos(const llamac_model *model);

/* Streaming detokenizer: turns tokens into text and only ever hands out
 * complete UTF-8 characters (a character split across byte tokens is held
 * back until it is complete; an invalid sequence becomes U+FFFD). */
typedef struct llamac_detokenizer llamac_detokenizer;
llamac_detokenizer *llamac_detokenizer_create(const llamac_model *model);
void llamac_detokenizer_free(llamac_detokenizer *d);
/* Appends the text of `tok`; returns a NUL-terminated string of the bytes
 * that became complete (valid until the next call), *len set to its size. */
const char *llamac_detokenizer_push(llamac_detokenizer *d, llamac_token tok, size_t *len);
/* Returns whatever is still held back (incomplete bytes become U+FFFD). */
const char *llamac_detokenizer_flush(llamac_detokenizer *d, size_t *len);

/* ---------------------------------------------------------------- context */

enum llamac_kv_type {
    LLAMAC_KV_F32 = 0, /* ggml type ids */
    LLAMAC_KV_F16 = 1,
    LLAMAC_KV_Q8_0 = 8,
};

/* Most sequences one context holds (sequence ids are 0..n_seq_max-1). */
#define LLAMAC_SEQ_MAX 64

typedef struct llamac_context_params {
    uint32_t n_ctx;      /* KV cells, shared by all sequences; 0: the model's
                            training context, capped at 4096 */
    int32_t n_batch;     /* most tokens evaluated in one forward call (prefill tile) */
    int32_t n_threads;   /* 0: physical cores */
    int kv_type;         /* enum llamac_kv_type */
    int32_t n_seq_max;   /* sequences the context holds, 1..LLAMAC_SEQ_MAX; 0: 1 */
} llamac_context_params;

llamac_context_params llamac_context_default_params(void);
llamac_context *llamac_context_create(llamac_model *model, const llamac_context_params *params,
                                      llamac_error *err);
void llamac_context_free(llamac_context *ctx);

uint32_t llamac_n_ctx(const llamac_context *ctx);
/* The kernel table the context computes with ("avx2", "avx512", ...). */
const char *llamac_context_kernels(const llamac_context *ctx);

/* Single-sequence calls: thin wrappers over sequence 0 (the batch calls
 * below). */
/* Number of positions of sequence 0 in the KV cache (its last position + 1). */
uint32_t llamac_n_past(const llamac_context *ctx);
/* Drops sequence 0's positions >= n_keep (0 clears it). */
void llamac_kv_truncate(llamac_context *ctx, uint32_t n_keep);
/* Runs the forward pass over `n` tokens of sequence 0 placed after its
 * cached ones (prefill when n > 1, decode when n == 1). Logits are kept for
 * the last token, or for every token when `all_logits` is set. Fails cleanly
 * when the tokens do not fit in the context or an id is out of range. */
int llamac_decode(llamac_context *ctx, const llamac_token *tokens, int32_t n, bool all_logits,
                  llamac_error *err);
/* Logits (n_vocab floats) of the i-th token (batch entry) of the last
 * decode call; i = -1 means the last one. NULL if that row was not
 * computed. Valid until the next decode call. */
const float *llamac_logits(const llamac_context *ctx, int32_t i);

/* ------------------------------------------------- batches and sequences */

/* Several sequences in one context. The KV cache is n_ctx cells shared by
 * all sequences; each cell holds one token's K and V and is tagged with the
 * sequences that see it. A query attends to the cells of its sequence whose
 * position is <= its own (causal). Copying a sequence tags the same cells
 * with another id (no data is copied): a prompt prefix evaluated once then
 * serves every sequence that starts with it.
 *
 * A batch is a list of entries (token, position, sequence ids, whether its
 * logits are wanted) decoded in one call: prefill chunks of some sequences
 * and single decode tokens of others, in any mix. Every weight matrix runs
 * as one product over all entries (each weight is read once per forward
 * call, not once per sequence). */
typedef int32_t llamac_seq_id;
typedef struct llamac_batch llamac_batch;

/* A batch of at most `capacity` entries (>= 1); NULL when out of memory. */
llamac_batch *llamac_batch_create(int32_t capacity);
void llamac_batch_free(llamac_batch *b);
/* Removes every entry (the capacity stays). */
void llamac_batch_clear(llamac_batch *b);
int32_t llamac_batch_size(const llamac_batch *b);
/* Appends an entry: token `tok` at position `pos` of the sequences
 * seqs[0..n_seqs) (1 <= n_seqs <= LLAMAC_SEQ_MAX). Its K/V cell is tagged
 * with all of them, and it attends to the cells of seqs[0]: give several
 * ids only to a token that all of them share (a common prefix). Returns the
 * entry's index, or -1 when the batch is full or n_seqs is out of range
 * (ids are checked by llamac_decode_batch). */
int32_t llamac_batch_add(llamac_batch *b, llamac_token tok, int32_t pos, const llamac_seq_id *seqs,
                         int32_t n_seqs, bool want_logits);

/* Decodes a whole batch (split internally into forward calls of at most
 * n_batch entries, in entry order). The batch is checked as a whole before
 * anything is written, so a failed call leaves the context as it was:
 *   - at least one entry; tokens inside the vocabulary;
 *   - sequence ids in [0, n_seq_max), none repeated within an entry;
 *   - each sequence's entries, in batch order, at consecutive positions
 *     starting right after its last cached position (0 when it is empty);
 *   - a free cell for every entry: a full cache fails with a message naming
 *     the sequence and the cells it needs (nothing is overwritten).
 * Returns 0, or -1 with the reason in err. */
int llamac_decode_batch(llamac_context *ctx, const llamac_batch *b, llamac_error *err);
/* Logits (n_vocab floats) of entry `entry` of the last decode call (-1: the
 * last entry); NULL when that entry did not ask for them. Valid until the
 * next decode call. Same as llamac_logits. */
const float *llamac_batch_logits(const llamac_context *ctx, int32_t entry);

/* Sequence operations. A position range is [p0, p1): p0 < 0 means 0, p1 < 0
 * means no upper end. */
/* Removes the positions [p0, p1) of sequence `seq` (seq -1: of every
 * sequence); cells no sequence sees any more become free. Later tokens of
 * the sequence must continue after its last remaining position, so remove
 * a tail to re-decode it. false if seq is out of range. */
bool llamac_seq_rm(llamac_context *ctx, llamac_seq_id seq, int32_t p0, int32_t p1);
/* Makes sequence dst see src's cells in [p0, p1) (dst's own cells in that
 * range are removed first). No K/V data is copied. false if an id is out of
 * range. */
bool llamac_seq_cp(llamac_context *ctx, llamac_seq_id src, llamac_seq_id dst, int32_t p0, int32_t p1);
/* Removes every sequence but `seq` (nothing when seq is out of range). */
void llamac_seq_keep(llamac_context *ctx, llamac_seq_id seq);
/* First / last cached position of a sequence; -1 when it is empty (or the
 * id is out of range). */
int32_t llamac_seq_pos_min(const llamac_context *ctx, llamac_seq_id seq);
int32_t llamac_seq_pos_max(const llamac_context *ctx, llamac_seq_id seq);
/* Cells that hold a token of some sequence (of n_ctx). */
uint32_t llamac_kv_cells_used(const llamac_context *ctx);
/* The number of sequences the context holds (n_seq_max). */
int32_t llamac_n_seq_max(const llamac_context *ctx);

/* ---------------------------------------------------------------- sampler */

typedef struct llamac_sampler_params {
    float temperature;    /* <= 0: greedy (argmax) */
    int32_t top_k;        /* <= 0: off */
    float top_p;          /* >= 1: off */
    float min_p;          /* <= 0: off */
    float repeat_penalty; /* 1: off */
    int32_t repeat_last_n;/* how many recent tokens the penalty looks at */
    uint64_t seed;
} llamac_sampler_params;

llamac_sampler_params llamac_sampler_default_params(void);
llamac_sampler *llamac_sampler_create(const llamac_sampler_params *params, int32_t n_vocab);
void llamac_sampler_free(llamac_sampler *s);
/* Picks the next token from `logits` (not modified). Returns -1 when there
 * is nothing to draw from: every logit NaN, or one +inf (a broken model;
 * see llamac_logits_check). NaN logits are never drawn; -inf ones are
 * masked out. */
llamac_token llamac_sampler_sample(llamac_sampler *s, const float *logits);
/* Index of the first NaN or +inf logit, or -1 when there is none. A model
 * whose weights are corrupt (a NaN norm, garbage block scales) produces
 * such logits; callers check before sampling to report where it happened.
 * -inf is allowed: it is how a logit is masked. */
int32_t llamac_logits_check(const float *logits, int32_t n_vocab);
/* Records a token (prompt or generated) for the repetition penalty. */
void llamac_sampler_accept(llamac_sampler *s, llamac_token tok);
void llamac_sampler_reset(llamac_sampler *s);

/* ---------------------------------------------------------------- grammar */

/* Constrained decoding with GBNF grammars (the format of llama.cpp's
 * grammars/README.md: rules `name ::= ...`, alternatives, groups, * + ?
 * {m} {m,} {m,n}, "literals" with escapes, [classes], [^negated], `.`,
 * # comments). See docs and grammars/ in the repository for examples.
 *
 * A grammar object holds the parsed grammar, the matcher's position in it,
 * and (when made for a model) an index of the vocabulary's token texts.
 * Attach it to a sampler with llamac_sampler_set_grammar: the sampler then
 * only returns tokens whose text can continue the grammar (a token may span
 * several grammar elements or end inside a UTF-8 character), and an
 * end-of-generation token only where the grammar may end. The sampler does
 * not advance the grammar: after each sampled token call
 * llamac_grammar_accept (prompt tokens are never given to the grammar).
 *
 * Cost: the sampled token is checked first (a few bytes through a cached
 * transition table); only when the model picked a token the grammar
 * refuses is the whole vocabulary filtered, by walking the token texts in
 * sorted order so shared prefixes are matched once, and the allowed set is
 * cached per grammar state. llamac_grammar_stats reports the time spent. */
typedef struct llamac_grammar llamac_grammar;

/* Parses `gbnf` (NUL-terminated) starting from rule `root` (NULL: "root").
 * `model` may be NULL for text-only matching (llamac_grammar_accept_text);
 * the sampler needs a grammar made for its model. Errors give the line and
 * column ("line 3, column 14: undefined rule 'value'"); left recursion,
 * undefined rules and over-large grammars are refused. */
llamac_grammar *llamac_grammar_create(const llamac_model *model, const char *gbnf, const char *root,
                                      llamac_error *err);
void llamac_grammar_free(llamac_grammar *g);
/* Back to the start of the grammar (a new reply). */
void llamac_grammar_reset(llamac_grammar *g);
/* Whether `tok` may come next (end-of-generation tokens: only where the
 * grammar may end; tokens with no text, never). */
bool llamac_grammar_allows(llamac_grammar *g, llamac_token tok);
/* Advances over `tok`. Returns false, and changes nothing, if the grammar
 * does not allow it. After an end-of-generation token the grammar is done
 * and allows nothing until reset. */
bool llamac_grammar_accept(llamac_grammar *g, llamac_token tok);
/* Advances over `len` bytes of text; false (and no change) if they cannot
 * continue the grammar. For checking text without a model. */
bool llamac_grammar_accept_text(llamac_grammar *g, const char *text, size_t len);
/* Whether the text so far is a complete match (the grammar may end here). */
bool llamac_grammar_can_end(const llamac_grammar *g);
/* Whether an end-of-generation token has been accepted. */
bool llamac_grammar_done(const llamac_grammar *g);
/* The allowed tokens as a bit set: bit (t % 64) of word t / 64 for token t,
 * n_vocab bits. Valid until the next call on `g`; NULL without a model or
 * when out of memory. */
const uint64_t *llamac_grammar_allowed(llamac_grammar *g);

typedef struct llamac_grammar_stats {
    uint64_t checks;        /* single-token checks (the sampled token first) */
    uint64_t filters;       /* whole-vocabulary filters asked for */
    uint64_t filter_cached; /* ...answered from the per-state cache */
    int64_t filter_us;      /* time in whole-vocabulary filters */
    uint32_t states;        /* matcher states built so far */
} llamac_grammar_stats;
void llamac_grammar_stats_get(const llamac_grammar *g, llamac_grammar_stats *out);

/* Attaches a grammar (borrowed; must outlive its use; NULL detaches). With
 * a grammar, llamac_sampler_sample samples as usual, keeps the token if the
 * grammar allows it, and otherwise samples again from the logits with every
 * refused token removed (at temperature 1 with top-k/top-p/min-p off this
 * is exactly sampling from the constrained distribution; greedy gives the
 * best allowed token). Returns -1 when the grammar allows no token at all
 * (it is done). */
void llamac_sampler_set_grammar(llamac_sampler *s, llamac_grammar *g);

/* JSON Schema to GBNF (in the conversion library, which reads JSON): type
 * (object, array, string, number, integer, boolean, null, lists of types),
 * properties, required, additionalProperties (false by default; true or a
 * schema allow other keys), items, minItems, maxItems, enum, const, anyOf,
 * oneOf, $ref to #/$defs/... or #/definitions/..., minLength, maxLength,
 * format date / time / date-time / uuid, and the annotations title,
 * description, $schema, $id, $comment, default, examples. Any other keyword
 * is an error that names it. {"type": "object"} alone is any JSON object.
 * Returns malloc'd GBNF text whose start rule is "root", or NULL. */
char *llamac_json_schema_to_gbnf(const char *schema_json, llamac_error *err);
/* llamac_json_schema_to_gbnf + llamac_grammar_create. */
llamac_grammar *llamac_grammar_from_json_schema(const llamac_model *model, const char *schema_json,
                                                llamac_error *err);

/* ------------------------------------------------------------------- chat */

/* Chat templates, written out in C for the formats llamac knows (no Jinja
 * engine). Names: "llama3" (Llama 3.0 Instruct), "llama3.1" (Llama 3.1 /
 * 3.2 / 3.3 Instruct without tools: always a system block with the
 * "Cutting Knowledge Date" / "Today Date: 26 Jul 2024" header), "llama2"
 * (Llama 2 Chat and CodeLlama Instruct 7B/13B/34B: [INST], <<SYS>>).
 *
 * The rendered text is exactly what the model's Hugging Face template
 * produces, including the BOS text ("<|begin_of_text|>" or "<s>") and, for
 * llama2, "</s>" after each answer. So tokenize it with
 * LLAMAC_TOKENIZE_PARSE_SPECIAL and WITHOUT LLAMAC_TOKENIZE_ADD_SPECIAL:
 * adding another BOS would put two at the start. */
typedef struct llamac_chat_message {
    const char *role;    /* "system", "user", "assistant" ("ipython"/"tool" for llama3.1) */
    const char *content; /* UTF-8, NUL-terminated */
} llamac_chat_message;

/* The template name that the model's `tokenizer.chat_template` metadata
 * matches, recognized by distinctive substrings; NULL when the key is
 * absent or the template is not one llamac knows. */
const char *llamac_chat_template_detect(const llamac_model *model);
/* The known names (static strings); *n receives the count. */
const char *const *llamac_chat_template_names(size_t *n);
/* Renders a conversation. Writes at most `size` bytes including the NUL
 * and returns the length the whole text needs (like snprintf), or -1 for an
 * unknown name (the message lists the known ones) or a conversation the
 * template cannot express (llama2: roles must alternate user/assistant after
 * an optional first system message). With add_generation_prompt the
 * assistant header follows, ready for the reply; llama2 has none (its
 * prompt already ends with "[/INST]"), so the flag changes nothing there. */
int64_t llamac_chat_render(const char *name, const llamac_chat_message *msgs, size_t n,
                           bool add_generation_prompt, char *buf, size_t size,
                           llamac_error *err);

/* Stop strings for streamed text: feed each piece as it is produced; the
 * matcher finds a stop string even when it spans pieces, and hands back
 * only text that is safe to print now, holding back a tail that could be
 * the start of a stop string, so the stop text itself is never shown. */
typedef struct llamac_stop llamac_stop;
/* Copies the strings; empty ones are ignored (n may be 0). */
llamac_stop *llamac_stop_create(const char *const *stops, size_t n, llamac_error *err);
void llamac_stop_free(llamac_stop *s);
/* Forgets held text and a previous match (start of a new reply). */
void llamac_stop_reset(llamac_stop *s);
/* Feeds `len` bytes. *out / *out_len receive the text safe to print (valid
 * until the next call on `s`). Returns 1 when a stop string has appeared
 * (*out is then the text before the first one to complete, and later feeds
 * give nothing), 0 when not yet, -1 when out of memory. The result does not
 * depend on how the text is cut into pieces. */
int llamac_stop_feed(llamac_stop *s, const char *text, size_t len, const char **out,
                     size_t *out_len, llamac_error *err);
/* At the end of a reply that did not hit a stop string: the held-back tail,
 * which turned out to be ordinary text. Returns it (valid until the next
 * call), *len set to its size. */
const char *llamac_stop_flush(llamac_stop *s, size_t *len);

/* ----------------------------------------------------------------- system */

/* One line per fact: CPU features found, kernels chosen, threads. */
size_t llamac_system_info(char *buf, size_t size);
/* Physical cores (best effort), at least 1. */
int llamac_physical_cores(void);
/* Monotonic clock in microseconds. */
int64_t llamac_time_us(void);

/* ------------------------------------------------------------- conversion */

/* Importers that write GGUF files: Hugging Face LlamaForCausalLM folders
 * (config.json + *.safetensors + tokenizer files), llama2.c legacy .bin
 * checkpoints, and requantization of F32/F16/BF16 GGUF files. Output goes
 * to a temporary file beside `dst` that is synced and renamed only when
 * complete; on any failure (or cancel) nothing is left at `dst`.
 *
 * Type policy (the requested type is a ggml id: 0 f32, 1 f16, 30 bf16,
 * 8 q8_0, 2 q4_0, 3 q4_1, 6 q5_0, 7 q5_1, 14 q6_K; or one of the mixes
 * LLAMAC_CONVERT_Q4_K_M / _Q4_K_S / _Q5_K_M / _Q5_K_S below): 1-D tensors, norms
 * and biases stay F32; for the 4/5/6-bit types the logits matrix
 * (output.weight, or the tied token_embd.weight) becomes Q6_K, and an untied
 * token_embd.weight becomes Q8_0 (Q6_K in a q6_K file). The mixes are
 * llama.cpp's: Q4_K everywhere else, except that Q4_K_M makes attn_v and
 * ffn_down Q6_K in the layers i of n where i < n/8 || i >= 7n/8 ||
 * (i - n/8) % 3 == 2, and Q4_K_S makes attn_v of layers 0-3 and ffn_down of
 * layers below n/8 Q5_K; in an 80-layer model with grouped-query attention
 * (llama.cpp's "70B") a Q4_K attn_v becomes Q5_K. A row length that does not
 * fit the block falls back: Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0, and
 * any type to F16 when that does not fit either. */
/* Output types that mix block types per tensor. They are not ggml ids, so
 * they sit above all of those: 1000 + their general.file_type. */
enum {
    LLAMAC_CONVERT_Q4_K_S = 1014,
    LLAMAC_CONVERT_Q4_K_M = 1015,
    /* Q5_K everywhere else; Q5_K_M makes attn_v and ffn_down Q6_K in the same
     * layers as Q4_K_M; Q5_K_S has no per-layer exceptions */
    LLAMAC_CONVERT_Q5_K_S = 1016,
    LLAMAC_CONVERT_Q5_K_M = 1017,
};

typedef struct llamac_convert_progress {
    int64_t tensors_done;
    int64_t tensors_total;
    uint64_t bytes_done;    /* tensor bytes written so far */
    uint64_t bytes_total;   /* tensor bytes of the whole output */
    double elapsed_s;
    const char *tensor;     /* the tensor being written */
} llamac_convert_progress;

/* Called after every chunk written; return false to cancel the run. */
typedef bool (*llamac_convert_progress_fn)(const llamac_convert_progress *p, void *user);
/* One informational line (what was chosen, what was missing and how it was
 * handled), no trailing newline. */
typedef void (*llamac_convert_note_fn)(const char *line, void *user);

typedef struct llamac_convert_params {
    int type;                /* requested output type; default F16 */
    int n_threads;           /* 0: every online CPU */
    bool vocab_only;         /* write metadata + tokenizer, no tensors */
    /* llama2.c checkpoints: tokenizer.model (SentencePiece) or tokenizer.bin */
    const char *tokenizer;
    /* Hugging Face folders without tokenizer files: take the vocabulary from
     * this folder or tokenizer.model instead... */
    const char *vocab_from;
    /* ...or write no vocabulary at all (tokenizer.ggml.model "none"). */
    bool no_vocab;
    const char *name;        /* general.name; NULL: the source's folder/file name */
    llamac_convert_progress_fn progress;
    void *progress_user;
    llamac_convert_note_fn note;
    void *note_user;
} llamac_convert_params;

llamac_convert_params llamac_convert_default_params(void);
/* Converts `src` (a Hugging Face folder, or a llama2.c .bin file which needs
 * params->tokenizer) to the GGUF file `dst`. */
int llamac_convert(const char *src, const char *dst, const llamac_convert_params *params,
                   llamac_error *err);
/* Rewrites a GGUF file with its weights in `type`, copying every metadata
 * key (general.file_type updated). A source that already holds quantized
 * weights is refused unless allow_requantize (quality loss compounds).
 * params may be NULL; only n_threads, progress and note are used. */
int llamac_quantize(const char *src, const char *dst, int type, bool allow_requantize,
                    const llamac_convert_params *params, llamac_error *err);
/* Parses a type name for the converter ("q4_0", "f16", "q4_k_m", ...;
 * case-insensitive); -1 if it is not one convert/quantize can write. */
int llamac_convert_type_from_name(const char *name);
/* The name of an output type ("q4_K_M", "q8_0"); "unknown" if none. */
const char *llamac_convert_type_name(int type);

#ifdef __cplusplus
}
#endif
#endif /* LLAMAC_H */
