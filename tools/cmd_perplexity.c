/* llamac perplexity: perplexity of a model on a text, and the KL divergence
 * of one model's token distributions from another's, with the method of
 * llama.cpp's llama-perplexity so that the numbers compare:
 *   - the whole file is tokenized once (BOS first when the model adds one)
 *     and cut into chunks of --ctx tokens; the KV cache starts empty for
 *     each chunk, whose first token is replaced by BOS when the model adds
 *     BOS;
 *   - only the second half of each chunk is scored: the logits at positions
 *     ctx/2 .. ctx-2 predict the tokens ctx/2+1 .. ctx-1;
 *   - PPL = exp(mean nll) over all scored tokens, ± PPL·σ with
 *     σ = sqrt((mean(nll²) − mean(nll)²) / (N − 1)).
 * Log-softmax is computed in double.
 *
 * --kl-divergence-base FILE also stores the base model's distributions
 * (docs/kld-format.md); --kl-divergence FILE scores another model against
 * them: KLD, ln(PPL ratio), Δp, same top token. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static const char usage_text[] =
    "usage: llamac perplexity -m FILE -f TEXT [options]\n"
    "       llamac perplexity -m FILE -f TEXT --kl-divergence-base BASE   (store the distributions)\n"
    "       llamac perplexity -m FILE [-f TEXT] --kl-divergence BASE      (compare with them)\n"
    "\n"
    "Perplexity of a model on a text, computed as llama.cpp's llama-perplexity does:\n"
    "chunks of --ctx tokens, the second half of each chunk scored. The last line is\n"
    "'Final estimate: PPL = X +/- Y'.\n"
    "\n"
    "  -m, --model FILE            GGUF model (required)\n"
    "  -f, --file TEXT             text file (required, except with --kl-divergence)\n"
    "      --ctx N                 tokens per chunk (default 512)\n"
    "      --batch N               tokens per forward call (default: --ctx)\n"
    "      --chunks N              score at most N chunks (default: all)\n"
    "  -t, --threads N             threads (default: physical cores)\n"
    "      --kv-type TYPE          KV cache type: f16 (default), f32 or q8_0\n"
    "      --isa NAME              kernels: avx512-bf16, avx512, avx2, neon-dotprod, neon\n"
    "                              or scalar (default: the best this CPU runs)\n"
    "      --f16-as-bf16           convert F16 weights to BF16 at load (see llamac run --help)\n"
    "      --kl-divergence-base F  also write the model's log-probabilities of the scored\n"
    "                              positions to F (format: docs/kld-format.md)\n"
    "      --kl-divergence F       compare this model with the base file F: KL divergence,\n"
    "                              ln(PPL ratio), token probability changes, same top token\n"
    "  -h, --help                  show this help\n";

#define CMD "perplexity"

/* ------------------------------------------------------------ base file */

#define KLD_MAGIC "LCKLBASE"
#define KLD_VERSION 1u
#define KLD_HEADER_BYTES 152
#define KLD_RECORD_FIXED 24
#define KLD_RANGE 30.0 /* nats below the top log-probability that are stored */
#define KLD_LEVELS 65535.0

typedef struct kld_header {
    uint32_t n_ctx, n_vocab, n_chunk, n_scored, flags;
    uint64_t vocab_hash, text_hash, text_bytes;
    uint32_t n_embd, n_layer;
    char model_name[64];
    char file_type[24];
} kld_header;

static void put_u32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static void put_u64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static uint32_t get_u32(const uint8_t *p) {
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) v |= (uint32_t)p[i] << (8 * i);
    return v;
}
static uint64_t get_u64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}
static void put_f32(uint8_t *p, float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    put_u32(p, u);
}
static float get_f32(const uint8_t *p) {
    uint32_t u = get_u32(p);
    float f;
    memcpy(&f, &u, 4);
    return f;
}
static void put_f64(uint8_t *p, double d) {
    uint64_t u;
    memcpy(&u, &d, 8);
    put_u64(p, u);
}
static double get_f64(const uint8_t *p) {
    uint64_t u = get_u64(p);
    double d;
    memcpy(&d, &u, 8);
    return d;
}

#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL

static uint64_t fnv1a(uint64_t h, const void *data, size_t n) {
    const uint8_t *p = data;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * FNV_PRIME;
    return h;
}

/* Identifies the tokenizer: a quantized copy of a model hashes the same. */
static uint64_t vocab_hash(const llamac_model *m) {
    uint64_t h = FNV_OFFSET;
    const int32_t n = llamac_n_vocab(m);
    for (int32_t t = 0; t < n; t++) {
        const char *s = llamac_token_text(m, t);
        if (!s) s = "";
        h = fnv1a(h, s, strlen(s) + 1);
    }
    return h;
}

static size_t kld_record_bytes(uint32_t n_vocab) { return KLD_RECORD_FIXED + 2 * (size_t)n_vocab; }

static uint64_t kld_file_bytes(const kld_header *h) {
    return KLD_HEADER_BYTES + 4ull * h->n_chunk * h->n_ctx +
           (uint64_t)h->n_chunk * h->n_scored * kld_record_bytes(h->n_vocab);
}

static void kld_header_encode(const kld_header *h, uint8_t out[KLD_HEADER_BYTES]) {
    memset(out, 0, KLD_HEADER_BYTES);
    memcpy(out, KLD_MAGIC, 8);
    put_u32(out + 8, KLD_VERSION);
    put_u32(out + 12, h->n_ctx);
    put_u32(out + 16, h->n_vocab);
    put_u32(out + 20, h->n_chunk);
    put_u32(out + 24, h->n_scored);
    put_u32(out + 28, h->flags);
    put_u64(out + 32, h->vocab_hash);
    put_u64(out + 40, h->text_hash);
    put_u64(out + 48, h->text_bytes);
    put_u32(out + 56, h->n_embd);
    put_u32(out + 60, h->n_layer);
    memcpy(out + 64, h->model_name, sizeof h->model_name);
    memcpy(out + 128, h->file_type, sizeof h->file_type);
}

/* Fills the fields; the caller checks them against the model and text. */
static int kld_header_decode(const char *path, const uint8_t in[KLD_HEADER_BYTES], kld_header *h) {
    if (memcmp(in, KLD_MAGIC, 8) != 0)
        return cli_error(CMD, CLI_FAIL, "%s: not a llamac KL-divergence base file (bad magic at offset 0)", path);
    if (get_u32(in + 8) != KLD_VERSION)
        return cli_error(CMD, CLI_FAIL, "%s: version %u at offset 8, this llamac reads version %u", path,
                         get_u32(in + 8), KLD_VERSION);
    h->n_ctx = get_u32(in + 12);
    h->n_vocab = get_u32(in + 16);
    h->n_chunk = get_u32(in + 20);
    h->n_scored = get_u32(in + 24);
    h->flags = get_u32(in + 28);
    h->vocab_hash = get_u64(in + 32);
    h->text_hash = get_u64(in + 40);
    h->text_bytes = get_u64(in + 48);
    h->n_embd = get_u32(in + 56);
    h->n_layer = get_u32(in + 60);
    memcpy(h->model_name, in + 64, sizeof h->model_name);
    memcpy(h->file_type, in + 128, sizeof h->file_type);
    h->model_name[sizeof h->model_name - 1] = h->file_type[sizeof h->file_type - 1] = '\0';
    if (h->n_ctx < 4 || h->n_ctx > (1u << 24) || h->n_chunk < 1 || h->n_chunk > (1u << 24) || h->n_vocab < 1 ||
        h->n_vocab > (1u << 24) || h->n_scored != h->n_ctx - 1 - h->n_ctx / 2)
        return cli_error(CMD, CLI_FAIL, "%s: inconsistent header (n_ctx %u, n_vocab %u, n_chunk %u, n_scored %u)",
                         path, h->n_ctx, h->n_vocab, h->n_chunk, h->n_scored);
    return CLI_OK;
}

/* ------------------------------------------------------------ options */

typedef struct ppl_options {
    const char *model, *text;
    int64_t n_ctx, n_batch, max_chunks;
    bool ctx_given;
    llamac_context_params cp;
    const char *isa;
    bool f16_as_bf16;
    const char *kld_base_out; /* --kl-divergence-base */
    const char *kld_base_in;  /* --kl-divergence */
} ppl_options;

static int parse(int argc, char **argv, ppl_options *o) {
    o->n_ctx = 512;
    o->max_chunks = -1;
    o->cp = llamac_context_default_params();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        int64_t iv;
#define VALUE(dst) do { if (!((dst) = cli_value(CMD, argc, argv, &i))) return CLI_USAGE; } while (0)
#define INT(lo, hi) do { if (!(v = cli_value(CMD, argc, argv, &i)) || !cli_parse_i64(CMD, a, v, lo, hi, &iv)) return CLI_USAGE; } while (0)
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { fputs(usage_text, stdout); return -1; }
        else if (!strcmp(a, "-m") || !strcmp(a, "--model")) VALUE(o->model);
        else if (!strcmp(a, "-f") || !strcmp(a, "--file")) VALUE(o->text);
        else if (!strcmp(a, "--ctx") || !strcmp(a, "-c")) { INT(8, 1 << 20); o->n_ctx = iv; o->ctx_given = true; }
        else if (!strcmp(a, "--batch") || !strcmp(a, "-b")) { INT(1, 1 << 20); o->n_batch = iv; }
        else if (!strcmp(a, "--chunks")) { INT(1, 1 << 24); o->max_chunks = iv; }
        else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) { INT(1, 1024); o->cp.n_threads = (int32_t)iv; }
        else if (!strcmp(a, "--kv-type")) { VALUE(v); if (!cli_parse_kv_type(CMD, v, &o->cp.kv_type)) return CLI_USAGE; }
        else if (!strcmp(a, "--isa")) VALUE(o->isa);
        else if (!strcmp(a, "--f16-as-bf16")) o->f16_as_bf16 = true;
        else if (!strcmp(a, "--kl-divergence-base")) VALUE(o->kld_base_out);
        else if (!strcmp(a, "--kl-divergence")) VALUE(o->kld_base_in);
        else return cli_error(CMD, CLI_USAGE, "unknown option '%s' (see llamac perplexity --help)", a);
#undef INT
#undef VALUE
    }
    if (!o->model) return cli_error(CMD, CLI_USAGE, "no model given: use -m FILE");
    if (o->kld_base_out && o->kld_base_in)
        return cli_error(CMD, CLI_USAGE, "--kl-divergence-base writes a base file and --kl-divergence reads one: give one of them");
    if (!o->text && !o->kld_base_in) return cli_error(CMD, CLI_USAGE, "no text given: use -f TEXT");
    return CLI_OK;
}

/* ------------------------------------------------------------ scoring */

/* log-softmax of one logit row in double. Returns log Σ exp(l − max) + max,
 * so lp_i = l_i − lse; *top receives the argmax (lowest id on a tie). */
static double log_sum_exp(const float *logits, int32_t n, int32_t *top) {
    int32_t best = 0;
    for (int32_t i = 1; i < n; i++)
        if (logits[i] > logits[best]) best = i;
    const double max = logits[best];
    double sum = 0;
    for (int32_t i = 0; i < n; i++) sum += exp((double)logits[i] - max);
    if (top) *top = best;
    return max + log(sum);
}

/* Running sums for a mean and the standard error of that mean. */
typedef struct moments {
    double sum, sum2;
    int64_t n;
} moments;

static void moments_add(moments *m, double v) {
    m->sum += v;
    m->sum2 += v * v;
    m->n++;
}
static double moments_mean(const moments *m) { return m->n ? m->sum / (double)m->n : 0.0; }
/* σ of the mean: sqrt((mean(v²) − mean(v)²) / (N − 1)), llama.cpp's rule. */
static double moments_err(const moments *m) {
    if (m->n < 2) return 0.0;
    const double mean = moments_mean(m), var = m->sum2 / (double)m->n - mean * mean;
    return var > 0 ? sqrt(var / (double)(m->n - 1)) : 0.0;
}

/* Per-token values the --kl-divergence statistics need. */
typedef struct kld_stats {
    moments nll_q, nll_base, diff, kld, dp, dp2;
    double sum_q_base; /* Σ nll_q·nll_base, for the correlation */
    int64_t same_top;
    double *kld_all, *dp_all; /* one per scored token, for percentiles */
    int64_t cap;
} kld_stats;

/* The distribution stored in one record, against this model's logits. */
typedef struct record_view {
    double logp_next;
    int32_t top;
    float floor, step;
    const uint8_t *levels;
} record_view;

static void record_read(const uint8_t *rec, record_view *r) {
    r->logp_next = get_f64(rec);
    r->top = (int32_t)get_u32(rec + 8);
    r->floor = get_f32(rec + 12);
    r->step = get_f32(rec + 16);
    r->levels = rec + KLD_RECORD_FIXED;
}

static uint16_t level_at(const record_view *r, int32_t i) {
    return (uint16_t)(r->levels[2 * i] | (r->levels[2 * i + 1] << 8));
}

/* Encodes one position's log-probabilities (docs/kld-format.md). */
static void record_write(uint8_t *rec, const float *logits, int32_t n_vocab, double lse, int32_t top,
                         double logp_next) {
    double lo = (double)logits[0];
    for (int32_t i = 1; i < n_vocab; i++)
        if (logits[i] < lo) lo = logits[i];
    const double hi_lp = (double)logits[top] - lse;
    double floor_lp = lo - lse;
    if (floor_lp < hi_lp - KLD_RANGE) floor_lp = hi_lp - KLD_RANGE;
    const float floor_f = (float)floor_lp;
    const float step_f = (float)((hi_lp - floor_lp) / KLD_LEVELS);
    memset(rec, 0, KLD_RECORD_FIXED);
    put_f64(rec, logp_next);
    put_u32(rec + 8, (uint32_t)top);
    put_f32(rec + 12, floor_f);
    put_f32(rec + 16, step_f);
    uint8_t *lv = rec + KLD_RECORD_FIXED;
    for (int32_t i = 0; i < n_vocab; i++) {
        long q = 0;
        if (step_f > 0) {
            const double lp = (double)logits[i] - lse;
            if (lp > (double)floor_f) q = lround((lp - (double)floor_f) / (double)step_f);
            if (q < 0) q = 0;
            if (q > (long)KLD_LEVELS) q = (long)KLD_LEVELS;
        }
        lv[2 * i] = (uint8_t)(q & 0xFF);
        lv[2 * i + 1] = (uint8_t)(q >> 8);
    }
}

/* KL(base ‖ this) at one position over the stored tokens above the cut
 * (docs/kld-format.md, "How the statistics use it"). */
static double record_kld(const record_view *r, const float *logits, int32_t n_vocab, double lse) {
    const bool all = !(r->step > 0);
    double max_d = -INFINITY;
    for (int32_t i = 0; i < n_vocab; i++) {
        if (!all && level_at(r, i) == 0) continue;
        const double d = (double)r->floor + (double)r->step * level_at(r, i);
        if (d > max_d) max_d = d;
    }
    double sum = 0;
    for (int32_t i = 0; i < n_vocab; i++) {
        if (!all && level_at(r, i) == 0) continue;
        sum += exp((double)r->floor + (double)r->step * level_at(r, i) - max_d);
    }
    const double lse_p = max_d + log(sum);
    double kld = 0;
    for (int32_t i = 0; i < n_vocab; i++) {
        if (!all && level_at(r, i) == 0) continue;
        const double lp = (double)r->floor + (double)r->step * level_at(r, i) - lse_p;
        kld += exp(lp) * (lp - ((double)logits[i] - lse));
    }
    return kld;
}

static int kld_stats_add(kld_stats *s, const record_view *r, const float *logits, int32_t n_vocab,
                         llamac_token next, double *nll_out) {
    int32_t top;
    const double lse = log_sum_exp(logits, n_vocab, &top);
    const double nll_q = lse - (double)logits[next], nll_b = -r->logp_next;
    const double kld = record_kld(r, logits, n_vocab, lse);
    const double dp = exp(-nll_q) - exp(-nll_b);
    *nll_out = nll_q;
    if (s->nll_q.n == s->cap) {
        const int64_t cap = s->cap ? 2 * s->cap : 4096;
        double *k = realloc(s->kld_all, sizeof *k * (size_t)cap);
        if (!k) return cli_error(CMD, CLI_FAIL, "out of memory");
        s->kld_all = k;
        double *d = realloc(s->dp_all, sizeof *d * (size_t)cap);
        if (!d) return cli_error(CMD, CLI_FAIL, "out of memory");
        s->dp_all = d;
        s->cap = cap;
    }
    s->kld_all[s->nll_q.n] = kld;
    s->dp_all[s->nll_q.n] = dp;
    moments_add(&s->nll_q, nll_q);
    moments_add(&s->nll_base, nll_b);
    moments_add(&s->diff, nll_q - nll_b);
    moments_add(&s->kld, kld);
    moments_add(&s->dp, dp);
    moments_add(&s->dp2, dp * dp);
    s->sum_q_base += nll_q * nll_b;
    if (top == r->top) s->same_top++;
    return CLI_OK;
}

/* ------------------------------------------------------------ the run */

typedef struct ppl_run {
    const ppl_options *o;
    llamac_model *model;
    llamac_context *ctx;
    int32_t n_vocab;
    llamac_token *tokens; /* n_chunk·n_ctx tokens scored, in text order */
    int64_t n_tokens;     /* of the whole text */
    int64_t n_ctx, n_chunk, n_scored;
    bool add_bos;
    kld_header hdr;
    FILE *base_out;        /* --kl-divergence-base: the temporary file */
    char *base_out_tmp;
    FILE *base_in;         /* --kl-divergence */
    uint8_t *records;      /* one chunk of records */
    moments nll;
    kld_stats ks;
} ppl_run;

/* Scores one logit row: updates the PPL and writes or compares a record. */
static int score_position(ppl_run *r, int64_t c, int64_t j, const float *logits, llamac_token next) {
    const size_t rec_bytes = kld_record_bytes((uint32_t)r->n_vocab);
    uint8_t *rec = r->records ? r->records + (size_t)(j - r->n_ctx / 2) * rec_bytes : NULL;
    if (r->base_in) {
        record_view view;
        record_read(rec, &view);
        if (!isfinite(view.floor) || !isfinite(view.step) || view.step < 0 || !isfinite(view.logp_next))
            return cli_error(CMD, CLI_FAIL, "%s: corrupt record %lld of chunk %lld", r->o->kld_base_in,
                             (long long)(j - r->n_ctx / 2), (long long)c + 1);
        double nll_q;
        if (kld_stats_add(&r->ks, &view, logits, r->n_vocab, next, &nll_q) != CLI_OK) return CLI_FAIL;
        moments_add(&r->nll, nll_q);
        return CLI_OK;
    }
    int32_t top;
    const double lse = log_sum_exp(logits, r->n_vocab, &top);
    const double logp = (double)logits[next] - lse;
    moments_add(&r->nll, -logp);
    if (rec) record_write(rec, logits, r->n_vocab, lse, top, logp);
    return CLI_OK;
}

/* Scores one chunk: decode it from an empty cache, --batch tokens per call
 * (logits kept only for the calls that reach the scored second half), then
 * every scored position updates the PPL (and writes or compares a record). */
static int score_chunk(ppl_run *r, int64_t c) {
    llamac_error err = {{0}};
    const int64_t n = r->n_ctx, first = n / 2;
    const int64_t batch = r->o->n_batch > 0 && r->o->n_batch < n ? r->o->n_batch : n;
    llamac_token *chunk = r->tokens + c * n;
    const size_t rec_bytes = kld_record_bytes((uint32_t)r->n_vocab);
    if (r->base_in && fread(r->records, rec_bytes, (size_t)r->n_scored, r->base_in) != (size_t)r->n_scored)
        return cli_error(CMD, CLI_FAIL, "%s: read error in the records of chunk %lld", r->o->kld_base_in,
                         (long long)c + 1);
    const llamac_token saved = chunk[0];
    if (r->add_bos) chunk[0] = llamac_token_bos(r->model);
    llamac_kv_truncate(r->ctx, 0);
    int rc = CLI_OK;
    for (int64_t start = 0; start < n - 1 && rc == CLI_OK; start += batch) {
        const int64_t len = start + batch < n ? batch : n - start;
        const bool scored = start + len > first;
        if (llamac_decode(r->ctx, chunk + start, (int32_t)len, scored, &err) < 0) {
            rc = cli_error(CMD, CLI_FAIL, "chunk %lld: %s", (long long)c + 1, err.msg);
            break;
        }
        for (int64_t j = start > first ? start : first; scored && j < start + len && j < n - 1 && rc == CLI_OK; j++) {
            const float *logits = llamac_logits(r->ctx, (int32_t)(j - start));
            rc = logits ? score_position(r, c, j, logits, chunk[j + 1])
                        : cli_error(CMD, CLI_FAIL, "chunk %lld: no logits for position %lld", (long long)c + 1,
                                    (long long)j);
        }
    }
    chunk[0] = saved;
    if (rc == CLI_OK && r->base_out &&
        fwrite(r->records, rec_bytes, (size_t)r->n_scored, r->base_out) != (size_t)r->n_scored)
        return cli_error(CMD, CLI_FAIL, "%s: write error: %s", r->base_out_tmp, strerror(errno));
    return rc;
}

/* ------------------------------------------------------------ setup */

static void describe_model(const llamac_model *m, kld_header *h) {
    llamac_model_desc d;
    llamac_model_describe(m, &d);
    h->n_vocab = (uint32_t)d.n_vocab;
    h->n_embd = (uint32_t)d.n_embd;
    h->n_layer = (uint32_t)d.n_layer;
    snprintf(h->model_name, sizeof h->model_name, "%s", d.name ? d.name : "");
    snprintf(h->file_type, sizeof h->file_type, "%s", d.file_type ? d.file_type : "");
    h->vocab_hash = vocab_hash(m);
}

/* Tokenizes the text and keeps the tokens of the chunks that will be scored. */
static int tokenize_text(ppl_run *r, const char *text, size_t len) {
    llamac_error err = {{0}};
    const int64_t need = llamac_tokenize(r->model, text, len, NULL, 0, LLAMAC_TOKENIZE_ADD_SPECIAL, &err);
    if (need < 0) return cli_error(CMD, CLI_FAIL, "%s: %s", r->o->text, err.msg);
    r->n_tokens = need;
    if (need < 2 * r->n_ctx)
        return cli_error(CMD, CLI_FAIL, "%s: %lld tokens, but --ctx %lld needs at least %lld (two chunks)",
                         r->o->text, (long long)need, (long long)r->n_ctx, (long long)(2 * r->n_ctx));
    r->tokens = malloc(sizeof *r->tokens * (size_t)need);
    if (!r->tokens) return cli_error(CMD, CLI_FAIL, "out of memory for %lld tokens", (long long)need);
    if (llamac_tokenize(r->model, text, len, r->tokens, need, LLAMAC_TOKENIZE_ADD_SPECIAL, &err) != need)
        return cli_error(CMD, CLI_FAIL, "%s: %s", r->o->text, err.msg[0] ? err.msg : "tokenizer gave a different count");
    r->n_chunk = need / r->n_ctx;
    if (r->o->max_chunks > 0 && r->o->max_chunks < r->n_chunk) r->n_chunk = r->o->max_chunks;
    r->hdr.text_hash = fnv1a(FNV_OFFSET, text, len);
    r->hdr.text_bytes = len;
    return CLI_OK;
}

/* Opens the temporary file beside FILE and writes the header and tokens. */
static int open_base_out(ppl_run *r) {
    const char *path = r->o->kld_base_out;
    const size_t n = strlen(path) + 16;
    r->base_out_tmp = malloc(n);
    if (!r->base_out_tmp) return cli_error(CMD, CLI_FAIL, "out of memory");
    snprintf(r->base_out_tmp, n, "%s.tmp.XXXXXX", path);
    const int fd = mkstemp(r->base_out_tmp);
    if (fd < 0) {
        const int e = errno;
        free(r->base_out_tmp);
        r->base_out_tmp = NULL;
        return cli_error(CMD, CLI_FAIL, "%s: cannot create a temporary file beside it: %s", path, strerror(e));
    }
    r->base_out = fdopen(fd, "wb");
    if (!r->base_out) {
        close(fd);
        return cli_error(CMD, CLI_FAIL, "%s: %s", r->base_out_tmp, strerror(errno));
    }
    uint8_t head[KLD_HEADER_BYTES];
    kld_header_encode(&r->hdr, head);
    bool ok = fwrite(head, sizeof head, 1, r->base_out) == 1;
    for (int64_t i = 0; ok && i < r->n_chunk * r->n_ctx; i++) {
        uint8_t t[4];
        put_u32(t, (uint32_t)r->tokens[i]);
        ok = fwrite(t, 4, 1, r->base_out) == 1;
    }
    if (!ok) return cli_error(CMD, CLI_FAIL, "%s: write error: %s", r->base_out_tmp, strerror(errno));
    return CLI_OK;
}

/* Flushes, syncs and renames the finished base file into place. */
static int close_base_out(ppl_run *r) {
    bool ok = fflush(r->base_out) == 0 && fsync(fileno(r->base_out)) == 0;
    ok = fclose(r->base_out) == 0 && ok;
    r->base_out = NULL;
    if (!ok || rename(r->base_out_tmp, r->o->kld_base_out) != 0) {
        const int e = errno;
        return cli_error(CMD, CLI_FAIL, "%s: %s", r->o->kld_base_out, strerror(e));
    }
    free(r->base_out_tmp);
    r->base_out_tmp = NULL;
    return CLI_OK;
}

/* Reads and checks the base file's header against this model, --ctx and
 * the text (when given), then loads its tokens. */
static int open_base_in(ppl_run *r, const char *text, size_t len) {
    const char *path = r->o->kld_base_in;
    r->base_in = fopen(path, "rb");
    if (!r->base_in) return cli_error(CMD, CLI_FAIL, "%s: %s", path, strerror(errno));
    uint8_t head[KLD_HEADER_BYTES];
    if (fread(head, sizeof head, 1, r->base_in) != 1)
        return cli_error(CMD, CLI_FAIL, "%s: shorter than the %d-byte header", path, KLD_HEADER_BYTES);
    kld_header b;
    if (kld_header_decode(path, head, &b) != CLI_OK) return CLI_FAIL;
    if (fseeko(r->base_in, 0, SEEK_END) != 0)
        return cli_error(CMD, CLI_FAIL, "%s: %s", path, strerror(errno));
    const uint64_t size = (uint64_t)ftello(r->base_in);
    if (size != kld_file_bytes(&b))
        return cli_error(CMD, CLI_FAIL, "%s: %llu bytes, the header describes %llu (truncated or corrupt)", path,
                         (unsigned long long)size, (unsigned long long)kld_file_bytes(&b));
    if (b.n_vocab != r->hdr.n_vocab || b.vocab_hash != r->hdr.vocab_hash)
        return cli_error(CMD, CLI_FAIL,
                         "%s was made with another vocabulary (model '%s', %u tokens) than %s (%u tokens): "
                         "compare models that share a tokenizer",
                         path, b.model_name, b.n_vocab, r->o->model, r->hdr.n_vocab);
    if (r->o->ctx_given && (uint64_t)r->o->n_ctx != b.n_ctx)
        return cli_error(CMD, CLI_FAIL, "%s was made with --ctx %u, not %lld", path, b.n_ctx, (long long)r->o->n_ctx);
    if (text && (b.text_hash != fnv1a(FNV_OFFSET, text, len) || b.text_bytes != len))
        return cli_error(CMD, CLI_FAIL, "%s was made from another text than %s (%llu bytes, text hash differs)", path,
                         r->o->text, (unsigned long long)b.text_bytes);
    r->n_ctx = b.n_ctx;
    r->n_chunk = b.n_chunk;
    r->n_tokens = (int64_t)b.n_chunk * b.n_ctx;
    r->tokens = malloc(sizeof *r->tokens * (size_t)r->n_tokens);
    uint8_t *raw = malloc(4 * (size_t)r->n_tokens);
    bool ok = r->tokens && raw && fseeko(r->base_in, KLD_HEADER_BYTES, SEEK_SET) == 0 &&
              fread(raw, 4, (size_t)r->n_tokens, r->base_in) == (size_t)r->n_tokens;
    for (int64_t i = 0; ok && i < r->n_tokens; i++) {
        const uint32_t t = get_u32(raw + 4 * i);
        if (t >= b.n_vocab) {
            free(raw);
            return cli_error(CMD, CLI_FAIL, "%s: token %lld (offset %lld) is %u, outside the vocabulary", path,
                             (long long)i, (long long)(KLD_HEADER_BYTES + 4 * i), t);
        }
        r->tokens[i] = (llamac_token)t;
    }
    free(raw);
    if (!ok) return cli_error(CMD, CLI_FAIL, "%s: cannot read the tokens", path);
    if (r->o->max_chunks > 0 && r->o->max_chunks < r->n_chunk) r->n_chunk = r->o->max_chunks;
    fprintf(stderr, "%s: base '%s' (%s, %u layers), %u chunks of %u tokens\n", path, b.model_name, b.file_type,
            b.n_layer, b.n_chunk, b.n_ctx);
    return CLI_OK;
}

static int load_model(ppl_run *r) {
    const cli_model_opts load = {.isa = r->o->isa, .f16_as_bf16 = r->o->f16_as_bf16};
    r->model = cli_load_model(CMD, r->o->model, &load);
    if (!r->model) return CLI_FAIL;
    r->n_vocab = llamac_n_vocab(r->model);
    r->add_bos = llamac_add_bos(r->model) && llamac_token_bos(r->model) >= 0;
    describe_model(r->model, &r->hdr);
    return CLI_OK;
}

static int create_context(ppl_run *r) {
    llamac_error err = {{0}};
    llamac_context_params cp = r->o->cp;
    cp.n_ctx = (uint32_t)r->n_ctx;
    cp.n_batch = (int32_t)(r->o->n_batch > 0 && r->o->n_batch < r->n_ctx ? r->o->n_batch : r->n_ctx);
    r->ctx = llamac_context_create(r->model, &cp, &err);
    if (!r->ctx) return cli_error(CMD, CLI_FAIL, "%s", err.msg);
    if ((int64_t)llamac_n_ctx(r->ctx) < r->n_ctx)
        return cli_error(CMD, CLI_USAGE, "--ctx %lld is longer than the model's context of %u", (long long)r->n_ctx,
                         llamac_n_ctx(r->ctx));
    return CLI_OK;
}

/* ------------------------------------------------------------ output */

static double ppl_err(const moments *nll) { return exp(moments_mean(nll)) * moments_err(nll); }

/* Linear interpolation at fraction·(n−1) of sorted values. */
static double percentile(const double *sorted, int64_t n, double fraction) {
    const double pos = fraction * (double)(n - 1);
    const int64_t i = (int64_t)pos;
    if (i + 1 >= n) return sorted[n - 1];
    return sorted[i] + (pos - (double)i) * (sorted[i + 1] - sorted[i]);
}

static int cmp_double(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static const struct {
    const char *label;
    double fraction;
} quantiles[] = {{"Maximum", 1.0}, {"99.9%  ", 0.999}, {"99.0%  ", 0.99}, {"95.0%  ", 0.95}, {"90.0%  ", 0.90},
                 {"Median ", 0.5}, {"10.0%  ", 0.10},  {"5.0%   ", 0.05}, {"1.0%   ", 0.01}, {"0.1%   ", 0.001},
                 {"Minimum", 0.0}};

static void print_kld_stats(kld_stats *s) {
    const int64_t n = s->nll_q.n;
    const double mq = moments_mean(&s->nll_q), mb = moments_mean(&s->nll_base);
    const double eq = moments_err(&s->nll_q), eb = moments_err(&s->nll_base);
    /* covariance of the two means, with the same N − 1 as their errors */
    const double cov = n > 1 ? (s->sum_q_base / (double)n - mq * mb) / (double)(n - 1) : 0.0;
    const double ppl_q = exp(mq), ppl_b = exp(mb);
    const double diff = moments_mean(&s->diff), ediff = moments_err(&s->diff);
    double var_pd = ppl_q * ppl_q * eq * eq + ppl_b * ppl_b * eb * eb - 2 * ppl_q * ppl_b * cov;
    printf("\n====== Perplexity statistics ======\n");
    printf("Mean PPL(Q)                   : %10.6f ± %10.6f\n", ppl_q, ppl_q * eq);
    printf("Mean PPL(base)                : %10.6f ± %10.6f\n", ppl_b, ppl_b * eb);
    printf("Cor(ln(PPL(Q)), ln(PPL(base))): %6.2f%%\n", eq > 0 && eb > 0 ? 100.0 * cov / (eq * eb) : 100.0);
    printf("Mean ln(PPL(Q)/PPL(base))     : %10.6f ± %10.6f\n", diff, ediff);
    printf("Mean PPL(Q)/PPL(base)         : %10.6f ± %10.6f\n", exp(diff), exp(diff) * ediff);
    printf("Mean PPL(Q)-PPL(base)         : %10.6f ± %10.6f\n", ppl_q - ppl_b, var_pd > 0 ? sqrt(var_pd) : 0.0);

    qsort(s->kld_all, (size_t)n, sizeof *s->kld_all, cmp_double);
    printf("\n====== KL divergence statistics ======\n");
    printf("Mean    KLD: %10.6f ± %10.6f\n", moments_mean(&s->kld), moments_err(&s->kld));
    for (size_t i = 0; i < sizeof quantiles / sizeof quantiles[0]; i++)
        printf("%s KLD: %10.6f\n", quantiles[i].label, percentile(s->kld_all, n, quantiles[i].fraction));

    qsort(s->dp_all, (size_t)n, sizeof *s->dp_all, cmp_double);
    const double rms = sqrt(moments_mean(&s->dp2));
    printf("\n====== Token probability statistics ======\n");
    printf("Mean    Δp: %8.3f ± %6.3f %%\n", 100.0 * moments_mean(&s->dp), 100.0 * moments_err(&s->dp));
    for (size_t i = 0; i < sizeof quantiles / sizeof quantiles[0]; i++)
        printf("%s Δp: %8.3f%%\n", quantiles[i].label, 100.0 * percentile(s->dp_all, n, quantiles[i].fraction));
    printf("RMS Δp    : %8.3f ± %6.3f %%\n", 100.0 * rms, rms > 0 ? 100.0 * 0.5 / rms * moments_err(&s->dp2) : 0.0);
    const double same = (double)s->same_top / (double)n;
    printf("Same top p: %8.3f ± %6.3f %%\n", 100.0 * same, n > 1 ? 100.0 * sqrt(same * (1 - same) / (double)(n - 1)) : 0.0);
}

/* ------------------------------------------------------------ main */

static int run_chunks(ppl_run *r) {
    const size_t rec_bytes = kld_record_bytes((uint32_t)r->n_vocab);
    r->n_scored = r->n_ctx - 1 - r->n_ctx / 2;
    if (r->base_in || r->base_out) {
        r->records = malloc(rec_bytes * (size_t)r->n_scored);
        if (!r->records) return cli_error(CMD, CLI_FAIL, "out of memory for %lld records", (long long)r->n_scored);
    }
    fprintf(stderr, "%s: %lld tokens, %lld chunks of %lld, %lld scored per chunk, kernels %s\n", CMD,
            (long long)r->n_tokens, (long long)r->n_chunk, (long long)r->n_ctx, (long long)r->n_scored,
            llamac_context_kernels(r->ctx));
    const int64_t t0 = llamac_time_us();
    for (int64_t c = 0; c < r->n_chunk; c++) {
        if (score_chunk(r, c) != CLI_OK) return CLI_FAIL;
        if (c == 0) {
            const double s = (double)(llamac_time_us() - t0) / 1e6;
            fprintf(stderr, "%s: %.2f seconds per pass - ETA %.1f minutes\n", CMD, s, s * (double)r->n_chunk / 60.0);
        }
        if (r->base_in)
            printf("[%lld] PPL %.4f, ln ratio %.6f, KLD %.6f, RMS Δp %.3f%%, same top %.3f%%\n", (long long)c + 1,
                   exp(moments_mean(&r->nll)), moments_mean(&r->ks.diff), moments_mean(&r->ks.kld),
                   100.0 * sqrt(moments_mean(&r->ks.dp2)), 100.0 * (double)r->ks.same_top / (double)r->ks.nll_q.n);
        else
            printf("[%lld]%.4f,", (long long)c + 1, exp(moments_mean(&r->nll)));
        fflush(stdout);
    }
    if (!r->base_in) printf("\n");
    const double secs = (double)(llamac_time_us() - t0) / 1e6;
    fprintf(stderr, "%s: %.2f s for %lld chunks (%.2f s per pass)\n", CMD, secs, (long long)r->n_chunk,
            secs / (double)r->n_chunk);
    if (r->base_in) print_kld_stats(&r->ks);
    else printf("Final estimate: PPL = %.4f +/- %.5f\n", exp(moments_mean(&r->nll)), ppl_err(&r->nll));
    return CLI_OK;
}

static void run_free(ppl_run *r) {
    if (r->base_out) fclose(r->base_out);
    if (r->base_out_tmp) unlink(r->base_out_tmp); /* only set while the file is not complete */
    free(r->base_out_tmp);
    if (r->base_in) fclose(r->base_in);
    free(r->records);
    free(r->tokens);
    free(r->ks.kld_all);
    free(r->ks.dp_all);
    llamac_context_free(r->ctx);
    llamac_model_free(r->model);
}

int cmd_perplexity(int argc, char **argv) {
    ppl_options o = {0};
    int rc = parse(argc, argv, &o);
    if (rc) return rc < 0 ? CLI_OK : rc;
    ppl_run r = {.o = &o, .n_ctx = o.n_ctx};
    size_t len = 0;
    char *text = NULL;
    if (o.text && !(text = cli_read_file(CMD, o.text, &len))) return CLI_FAIL;
    rc = load_model(&r);
    if (rc == CLI_OK) rc = o.kld_base_in ? open_base_in(&r, text, len) : tokenize_text(&r, text, len);
    free(text);
    if (rc == CLI_OK) rc = create_context(&r);
    if (rc == CLI_OK && o.kld_base_out) {
        r.hdr.n_ctx = (uint32_t)r.n_ctx;
        r.hdr.n_chunk = (uint32_t)r.n_chunk;
        r.hdr.n_scored = (uint32_t)(r.n_ctx - 1 - r.n_ctx / 2);
        r.hdr.flags = r.add_bos ? 1u : 0u;
        rc = open_base_out(&r);
    }
    if (rc == CLI_OK) rc = run_chunks(&r);
    if (rc == CLI_OK && r.base_out) rc = close_base_out(&r);
    run_free(&r);
    return rc;
}
