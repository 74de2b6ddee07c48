/* The conversion pipeline: type policy, threaded row conversion, streaming
 * into the GGUF writer with bounded memory. See convert.h. */
#include "convert/convert.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "quant/types.h"
#include "runtime/err.h"

/* Output bytes per chunk. Two chunks are alive at once (one being written
 * while the workers fill the next), plus the source pages of the chunk in
 * flight: for an 8B model that is well under 100 MB of the 2 GB budget. */
#define CHUNK_OUT_BYTES (16u << 20)
/* Source bytes per chunk, so that a chunk of F32 rows quantized to 4 bits
 * does not pin 7x its output in source pages. */
#define CHUNK_SRC_BYTES (48u << 20)

/* ------------------------------------------------------------- type policy */

bool lc_conv_type_supported(int type) {
    switch (type) {
    case LC_TYPE_F32: case LC_TYPE_F16: case LC_TYPE_BF16: case LC_TYPE_Q8_0:
    case LC_TYPE_Q4_0: case LC_TYPE_Q4_1: case LC_TYPE_Q5_0: case LC_TYPE_Q5_1:
    case LC_TYPE_Q6_K: case LLAMAC_CONVERT_Q4_K_S: case LLAMAC_CONVERT_Q4_K_M:
    case LLAMAC_CONVERT_Q5_K_S: case LLAMAC_CONVERT_Q5_K_M:
        return true;
    default:
        return false;
    }
}

int lc_conv_file_type(int type) {
    switch (type) {
    case LC_TYPE_F32: return 0;
    case LC_TYPE_F16: return 1;
    case LC_TYPE_Q4_0: return 2;
    case LC_TYPE_Q4_1: return 3;
    case LC_TYPE_Q8_0: return 7;
    case LC_TYPE_Q5_0: return 8;
    case LC_TYPE_Q5_1: return 9;
    case LLAMAC_CONVERT_Q4_K_S: return 14;
    case LLAMAC_CONVERT_Q4_K_M: return 15;
    case LLAMAC_CONVERT_Q5_K_S: return 16;
    case LLAMAC_CONVERT_Q5_K_M: return 17;
    case LC_TYPE_Q6_K: return 18;
    case LC_TYPE_BF16: return 32;
    default: return -1;
    }
}

const char *lc_conv_type_name(int type) {
    if (type == LLAMAC_CONVERT_Q4_K_S) return "q4_K_S";
    if (type == LLAMAC_CONVERT_Q4_K_M) return "q4_K_M";
    if (type == LLAMAC_CONVERT_Q5_K_S) return "q5_K_S";
    if (type == LLAMAC_CONVERT_Q5_K_M) return "q5_K_M";
    return lc_type_name(type);
}

static bool is_mix(int out_type) {
    return out_type == LLAMAC_CONVERT_Q4_K_S || out_type == LLAMAC_CONVERT_Q4_K_M ||
           out_type == LLAMAC_CONVERT_Q5_K_S || out_type == LLAMAC_CONVERT_Q5_K_M;
}

int lc_conv_base_type(int out_type) {
    if (out_type == LLAMAC_CONVERT_Q5_K_S || out_type == LLAMAC_CONVERT_Q5_K_M) return LC_TYPE_Q5_K;
    return is_mix(out_type) ? LC_TYPE_Q4_K : out_type;
}

bool lc_conv_use_more_bits(int layer, int n_layers) {
    const int i = layer, n = n_layers;
    return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2;
}

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

int lc_conv_layer_of(const char *name) {
    if (strncmp(name, "blk.", 4) != 0) return -1;
    const char *p = name + 4;
    long v = 0;
    int digits = 0;
    for (; *p >= '0' && *p <= '9' && digits < 9; p++, digits++) v = v * 10 + (*p - '0');
    return digits > 0 && *p == '.' ? (int)v : -1;
}

/* As llama.cpp's converter and quantizer: vectors, norms, biases and the
 * generated rope factors are small and precision-sensitive, so F32. */
static bool keep_f32(const char *name, uint32_t n_dims, const int64_t *ne) {
    int64_t rows = 1;
    for (uint32_t d = 1; d < n_dims; d++) rows *= ne[d];
    return n_dims <= 1 || rows == 1 || !ends_with(name, ".weight") ||
           ends_with(name, "_norm.weight") || strcmp(name, "rope_freqs.weight") == 0;
}

static bool fits_block(int type, int64_t ne0) {
    const lc_type_traits *tt = lc_type_traits_get(type);
    return tt && tt->from_float && ne0 % tt->block_size == 0;
}

/* The types below 8 bits, where the logits matrix gets Q6_K. */
static bool is_low_bit(int out_type) {
    switch (out_type) {
    case LC_TYPE_Q4_0: case LC_TYPE_Q4_1: case LC_TYPE_Q5_0: case LC_TYPE_Q5_1:
    case LC_TYPE_Q6_K: case LLAMAC_CONVERT_Q4_K_S: case LLAMAC_CONVERT_Q4_K_M:
    case LLAMAC_CONVERT_Q5_K_S: case LLAMAC_CONVERT_Q5_K_M:
        return true;
    default:
        return false;
    }
}

/* What llama.cpp's Q4_K_M, Q4_K_S, Q5_K_M and Q5_K_S give one layer tensor (docs/formats.md "Type choice for quantized files"). The
 * layer index stands for llama.cpp's running count of attn_v / ffn_down
 * tensors: our importers write layers in order, one of each per layer, so
 * the two are the same. */
static int mix_layer_type(const lc_conv_policy *pol, const char *name) {
    const int layer = lc_conv_layer_of(name), n = pol->n_layers;
    const bool attn_v = ends_with(name, ".attn_v.weight");
    const bool ffn_down = ends_with(name, ".ffn_down.weight");
    int type = lc_conv_base_type(pol->out_type);
    if (layer < 0 || (!attn_v && !ffn_down) || pol->out_type == LLAMAC_CONVERT_Q5_K_S) return type;
    if (pol->out_type == LLAMAC_CONVERT_Q4_K_M || pol->out_type == LLAMAC_CONVERT_Q5_K_M) {
        if (lc_conv_use_more_bits(layer, n)) type = LC_TYPE_Q6_K;
    } else if (attn_v ? layer < 4 : layer < n / 8) {
        type = LC_TYPE_Q5_K;
    }
    /* 8 query heads share each attn_v row there: the tensor is 1/8 of
     * attn_q, so more bits cost next to nothing */
    if (attn_v && pol->llama_70b && type == LC_TYPE_Q4_K) type = LC_TYPE_Q5_K;
    return type;
}

/* Which type a 2-D weight wants before block fitting.
 *
 * The logits matrix is read in full for every generated token and its
 * errors land directly on the logits, so in 4/5/6-bit files it gets Q6_K
 * as llama.cpp does (6.56 bits: near-Q8_0 quality at 77% of its bandwidth).
 *
 * An untied token_embd is only gathered, one row per token, so extra
 * precision there costs file size but no per-token bandwidth; below 6 bits
 * we spend it (Q8_0, close to lossless) rather than keep Q4_0/Q4_K as
 * llama.cpp does, because the embedding error of every prompt token enters
 * the residual stream unattenuated. For Llama 3 8B that is +263 MB on a
 * 4.6 GB file. A q6_K file keeps it Q6_K, already near lossless. */
static int wanted_type(const lc_conv_policy *pol, const char *name, bool is_lm_head) {
    const int out = pol->out_type;
    if (!is_low_bit(out)) return out;
    if (is_lm_head) return LC_TYPE_Q6_K;
    if (strcmp(name, "token_embd.weight") == 0) return out == LC_TYPE_Q6_K ? LC_TYPE_Q6_K : LC_TYPE_Q8_0;
    return is_mix(out) ? mix_layer_type(pol, name) : out;
}

/* The next type to try when rows do not fit a K-quant's 256-blocks (docs/formats.md "Type choice for quantized files"). */
static int k_quant_fallback(int type) {
    switch (type) {
    case LC_TYPE_Q4_K: return LC_TYPE_Q5_0;
    case LC_TYPE_Q5_K: return LC_TYPE_Q5_1;
    case LC_TYPE_Q6_K: return LC_TYPE_Q8_0;
    default: return LC_TYPE_F16;
    }
}

int lc_conv_pick_type(const lc_conv_policy *pol, const char *name, uint32_t n_dims,
                      const int64_t *ne, bool is_lm_head, int *fallback_from) {
    *fallback_from = -1;
    if (keep_f32(name, n_dims, ne)) return LC_TYPE_F32;
    int want = wanted_type(pol, name, is_lm_head);
    if (fits_block(want, ne[0])) return want;
    *fallback_from = want;
    int next = k_quant_fallback(want);
    return fits_block(next, ne[0]) ? next : LC_TYPE_F16;
}

/* ------------------------------------------------------------------- job */

int lc_conv_job_init(lc_conv_job *job, int out_type, const llamac_convert_params *p,
                     llamac_error *err) {
    memset(job, 0, sizeof *job);
    if (!lc_conv_type_supported(out_type))
        return lc_fail(err, "output type %s (%d) is not supported: use " LC_CONV_TYPE_LIST,
                       lc_conv_type_name(out_type), out_type);
    job->out_type = out_type;
    if (p) {
        job->n_threads = p->n_threads;
        job->vocab_only = p->vocab_only;
        job->progress = p->progress;
        job->progress_user = p->progress_user;
        job->note = p->note;
        job->note_user = p->note_user;
    }
    if (job->n_threads <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        job->n_threads = n > 0 ? (int)(n > 256 ? 256 : n) : 1;
    }
    job->w = lc_gguf_writer_create();
    if (!job->w) return lc_fail(err, "out of memory");
    return 0;
}

void lc_conv_job_free(lc_conv_job *job) {
    if (!job) return;
    lc_gguf_writer_free(job->w);
    for (size_t i = 0; i < job->n_tensors; i++) free(job->tensors[i].generated);
    free(job->tensors);
    memset(job, 0, sizeof *job);
}

lc_conv_tensor *lc_conv_job_add(lc_conv_job *job, llamac_error *err) {
    if (job->n_tensors == job->cap_tensors) {
        size_t cap = job->cap_tensors ? job->cap_tensors * 2 : 64;
        lc_conv_tensor *grown = realloc(job->tensors, cap * sizeof *grown);
        if (!grown) {
            lc_fail(err, "out of memory for %zu tensors", cap);
            return NULL;
        }
        job->tensors = grown;
        job->cap_tensors = cap;
    }
    lc_conv_tensor *t = &job->tensors[job->n_tensors++];
    memset(t, 0, sizeof *t);
    t->src_fd = -1;
    t->dst_type = -1;
    for (int d = 0; d < GGUF_MAX_DIMS; d++) t->ne[d] = 1;
    return t;
}

void lc_conv_note(const lc_conv_job *job, const char *fmt, ...) {
    if (!job->note) return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    job->note(line, job->note_user);
}

int lc_conv_add_general(lc_conv_job *job, const char *name) {
    lc_gguf_writer *w = job->w;
    int rc = lc_gguf_writer_add_str(w, "general.architecture", "llama", 5);
    rc |= lc_gguf_writer_add_str(w, "general.type", "model", 5);
    rc |= lc_gguf_writer_add_str(w, "general.name", name, strlen(name));
    rc |= lc_gguf_writer_add_u32(w, "general.file_type", (uint32_t)lc_conv_file_type(job->out_type));
    rc |= lc_gguf_writer_add_u32(w, "general.quantization_version", 2);
    return rc ? -1 : 0;
}

void lc_conv_base_name(const char *path, bool strip_ext, char *out, size_t size) {
    size_t end = strlen(path);
    while (end > 1 && path[end - 1] == '/') end--;
    size_t start = end;
    while (start > 0 && path[start - 1] != '/') start--;
    size_t len = end - start;
    if (strip_ext) {
        for (size_t i = len; i > 1; i--)
            if (path[start + i - 1] == '.') {
                len = i - 1;
                break;
            }
    }
    if (len == 0 || (len == 1 && path[start] == '.')) {
        snprintf(out, size, "model");
        return;
    }
    snprintf(out, size, "%.*s", (int)len, path + start);
}

/* ------------------------------------------------------------- row work */

static int64_t tensor_rows(const lc_conv_tensor *t) { return t->ne[1] * t->ne[2] * t->ne[3]; }

/* HF stores each q/k head with its rotary pairs split into halves; GGUF
 * row h*D + 2j + t holds HF row h*D + t*D/2 + j (docs/formats.md "q/k row permutation"). */
static int64_t source_row(const lc_conv_tensor *t, int64_t r) {
    if (t->unpermute_heads <= 0) return r;
    int64_t d = tensor_rows(t) / t->unpermute_heads;
    int64_t h = r / d, i = r % d;
    return h * d + (i % 2) * (d / 2) + i / 2;
}

typedef struct chunk_work {
    const lc_conv_tensor *t;
    int64_t row_begin, row_end; /* rows of this worker */
    int64_t chunk_first;        /* first row of the chunk (out[0]) */
    uint8_t *out;
    int failed;
} chunk_work;

/* Converts rows [row_begin, row_end) of a tensor into its output type. */
static void convert_rows(chunk_work *cw) {
    const lc_conv_tensor *t = cw->t;
    const int64_t ne0 = t->ne[0];
    const lc_type_traits *src_tt = lc_type_traits_get(t->src_type);
    const lc_type_traits *dst_tt = lc_type_traits_get(t->dst_type);
    const size_t src_row = t->generated ? (size_t)ne0 * 4 : lc_row_size(t->src_type, ne0);
    const size_t dst_row = lc_row_size(t->dst_type, ne0);
    const uint8_t *src = t->generated ? (const uint8_t *)t->generated : t->src;
    /* scratch: the row in F32, and an aligned copy of the source row for
     * files whose tensors are not aligned to their element size */
    float *row = malloc((size_t)ne0 * sizeof(float) + src_row + 16);
    if (!row) {
        cw->failed = 1;
        return;
    }
    uint8_t *aligned = (uint8_t *)(row + ne0);
    for (int64_t r = cw->row_begin; r < cw->row_end; r++) {
        const uint8_t *s = src + (size_t)source_row(t, r) * src_row;
        if ((uintptr_t)s % 4 != 0) {
            memcpy(aligned, s, src_row);
            s = aligned;
        }
        uint8_t *d = cw->out + (size_t)(r - cw->chunk_first) * dst_row;
        if (t->dst_type == LC_TYPE_F32) {
            src_tt->to_float(s, (float *)(void *)d, ne0);
        } else {
            src_tt->to_float(s, row, ne0);
            dst_tt->from_float(row, d, ne0);
        }
    }
    free(row);
}

static void *convert_rows_thread(void *arg) {
    convert_rows(arg);
    return NULL;
}

/* A chunk being converted by up to n workers. */
typedef struct chunk_batch {
    chunk_work work[64];
    pthread_t tid[64];
    bool started[64];
    int n;
} chunk_batch;

static void batch_start(chunk_batch *b, const lc_conv_tensor *t, int64_t first, int64_t rows,
                        uint8_t *out, int n_threads) {
    int n = n_threads < 64 ? n_threads : 64;
    if (n > rows) n = (int)rows;
    if (n < 1) n = 1;
    b->n = n;
    for (int i = 0; i < n; i++) {
        chunk_work *cw = &b->work[i];
        *cw = (chunk_work){t, first + rows * i / n, first + rows * (i + 1) / n, first, out, 0};
        b->started[i] = pthread_create(&b->tid[i], NULL, convert_rows_thread, cw) == 0;
        if (!b->started[i]) convert_rows(cw); /* no thread: do it here */
    }
}

static int batch_join(chunk_batch *b) {
    int failed = 0;
    for (int i = 0; i < b->n; i++) {
        if (b->started[i]) pthread_join(b->tid[i], NULL);
        failed |= b->work[i].failed;
    }
    b->n = 0;
    return failed ? -1 : 0;
}

/* ------------------------------------------------------- source release */

/* Drops the pages of [p, p+n) from this process (they are clean file pages:
 * touching them again would re-read them). `outward` rounds to whole pages
 * around the range; otherwise only pages entirely inside are dropped, which
 * is safe while a neighbouring range is still being read. */
static void release_source(const lc_conv_tensor *t, size_t off, size_t n, bool outward) {
    if (!t->src || n == 0) return;
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t b = (uintptr_t)(t->src + off), e = b + n;
    uintptr_t pb = outward ? b / page * page : (b + page - 1) / page * page;
    uintptr_t pe = outward ? (e + page - 1) / page * page : e / page * page;
    if (pe > pb) madvise((void *)pb, pe - pb, MADV_DONTNEED);
    if (t->src_fd >= 0)
        posix_fadvise(t->src_fd, (off_t)(t->src_file_offset + off), (off_t)n, POSIX_FADV_DONTNEED);
}

/* Asks the kernel to start reading [off, off+n) of a tensor's source now,
 * so the workers find the pages resident instead of faulting them in one
 * readahead window at a time. */
static void prefetch_source(const lc_conv_tensor *t, size_t off, size_t n) {
    if (!t->src || n == 0) return;
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t b = (uintptr_t)(t->src + off) / page * page, e = (uintptr_t)(t->src + off + n);
    madvise((void *)b, e - b, MADV_WILLNEED);
}

/* ------------------------------------------------------------ streaming */

typedef struct stream_state {
    lc_conv_job *job;
    int64_t tensors_done;
    uint64_t bytes_done, bytes_total;
    struct timespec start;
    uint8_t *buf[2];
    size_t buf_size;
} stream_state;

static double seconds_since(const struct timespec *t0) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - t0->tv_sec) + (double)(now.tv_nsec - t0->tv_nsec) / 1e9;
}

static int report(stream_state *s, const char *tensor, llamac_error *err) {
    lc_conv_job *job = s->job;
    if (!job->progress) return 0;
    llamac_convert_progress p = {s->tensors_done, (int64_t)job->n_tensors, s->bytes_done,
                                 s->bytes_total, seconds_since(&s->start), tensor};
    if (!job->progress(&p, job->progress_user)) return lc_fail(err, "cancelled (no output file written)");
    return 0;
}

static int64_t chunk_rows(const lc_conv_tensor *t) {
    size_t src_row = t->generated ? (size_t)t->ne[0] * 4 : lc_row_size(t->src_type, t->ne[0]);
    size_t dst_row = lc_row_size(t->dst_type, t->ne[0]);
    int64_t rows = (int64_t)(CHUNK_OUT_BYTES / (dst_row ? dst_row : 1));
    int64_t by_src = (int64_t)(CHUNK_SRC_BYTES / (src_row ? src_row : 1));
    if (by_src < rows) rows = by_src;
    if (rows < 1) rows = 1;
    if (t->unpermute_heads > 0) {
        /* whole heads per chunk, so a chunk's source rows are its own rows */
        int64_t d = tensor_rows(t) / t->unpermute_heads;
        rows = rows < d ? d : rows / d * d;
    }
    return rows;
}

static int write_chunk(stream_state *s, const lc_conv_tensor *t, const uint8_t *data, size_t n,
                       llamac_error *err) {
    if (lc_gguf_writer_write(s->job->w, data, n, err)) return -1;
    s->bytes_done += n;
    return report(s, t->name, err);
}

/* Same type, same row order: the bytes go from the mapping to the writer. */
static int stream_copy(stream_state *s, const lc_conv_tensor *t, llamac_error *err) {
    const uint8_t *src = t->generated ? (const uint8_t *)t->generated : t->src;
    size_t total = lc_row_size(t->dst_type, t->ne[0]) * (size_t)tensor_rows(t);
    for (size_t off = 0; off < total; off += CHUNK_OUT_BYTES) {
        size_t n = total - off < CHUNK_OUT_BYTES ? total - off : CHUNK_OUT_BYTES;
        if (write_chunk(s, t, src + off, n, err)) return -1;
        release_source(t, off, n, false);
    }
    return 0;
}

/* Converted rows: the workers fill one buffer while this thread writes the
 * other. */
static int stream_convert(stream_state *s, const lc_conv_tensor *t, llamac_error *err) {
    const int64_t rows = tensor_rows(t), per = chunk_rows(t);
    const size_t src_row = t->generated ? 0 : lc_row_size(t->src_type, t->ne[0]);
    const size_t dst_row = lc_row_size(t->dst_type, t->ne[0]);
    chunk_batch batch = {0};
    int rc = 0;
    int64_t prev_first = -1, prev_rows = 0;
    int which = 0;
    for (int64_t first = 0; rc == 0; first += per) {
        int64_t n = first < rows ? (rows - first < per ? rows - first : per) : 0;
        if (n > 0) {
            int64_t next = first + n, n_next = rows - next < per ? rows - next : per;
            if (n_next > 0) prefetch_source(t, (size_t)next * src_row, (size_t)n_next * src_row);
            batch_start(&batch, t, first, n, s->buf[which], s->job->n_threads);
        }
        if (prev_first >= 0) {
            rc = write_chunk(s, t, s->buf[which ^ 1], (size_t)prev_rows * dst_row, err);
            release_source(t, (size_t)prev_first * src_row, (size_t)prev_rows * src_row, false);
        }
        if (batch.n && batch_join(&batch) && rc == 0)
            rc = lc_fail(err, "tensor '%s': out of memory converting rows", t->name);
        prev_first = n > 0 ? first : -1;
        prev_rows = n;
        which ^= 1;
        if (n == 0) break;
    }
    return rc;
}

static int stream_tensor(stream_state *s, const lc_conv_tensor *t, llamac_error *err) {
    bool same = t->dst_type == t->src_type && t->unpermute_heads <= 0 &&
                (t->generated == NULL || t->dst_type == LC_TYPE_F32);
    int rc = same ? stream_copy(s, t, err) : stream_convert(s, t, err);
    if (rc == 0) rc = lc_gguf_writer_end_tensor(s->job->w, err);
    if (rc == 0) release_source(t, 0, lc_row_size(t->src_type, t->ne[0]) * (size_t)tensor_rows(t), true);
    s->tensors_done++;
    if (rc == 0) rc = report(s, t->name, err);
    return rc;
}

/* --------------------------------------------------------------- writing */

static const lc_conv_tensor *job_tensor(const lc_conv_job *job, const char *name) {
    for (size_t i = 0; i < job->n_tensors; i++)
        if (strcmp(job->tensors[i].name, name) == 0) return &job->tensors[i];
    return NULL;
}

/* The model facts the policy needs, taken from the tensor list alone so
 * that requantizing a GGUF file and converting its source agree. */
static lc_conv_policy job_policy(const lc_conv_job *job) {
    lc_conv_policy pol = {.out_type = job->out_type};
    for (size_t i = 0; i < job->n_tensors; i++) {
        int layer = lc_conv_layer_of(job->tensors[i].name);
        if (layer >= pol.n_layers) pol.n_layers = layer + 1;
    }
    const lc_conv_tensor *q = job_tensor(job, "blk.0.attn_q.weight");
    const lc_conv_tensor *k = job_tensor(job, "blk.0.attn_k.weight");
    pol.llama_70b = pol.n_layers == 80 && q && k && k->ne[1] < q->ne[1];
    return pol;
}

/* Tensors that got another type than the file's base type, grouped by
 * (wanted, written) so that 32 layers of the same case make one line. */
typedef struct type_group {
    int from, to;
    size_t count;
    const lc_conv_tensor *example;
} type_group;

static void record_group(type_group *g, size_t *n, int from, const lc_conv_tensor *t) {
    for (size_t i = 0; i < *n; i++)
        if (g[i].from == from && g[i].to == t->dst_type) {
            g[i].count++;
            return;
        }
    /* pairs come from a handful of types, far fewer than the slots */
    g[(*n)++] = (type_group){from, t->dst_type, 1, t};
}

static void note_fallbacks(const lc_conv_job *job, const type_group *g, size_t n) {
    for (size_t i = 0; i < n; i++) {
        const lc_conv_tensor *t = g[i].example;
        if (g[i].count == 1)
            lc_conv_note(job, "%s: rows of %" PRId64 " do not fit %s blocks of %" PRId64 ": written as %s",
                         t->name, t->ne[0], lc_type_name(g[i].from),
                         lc_type_traits_get(g[i].from)->block_size, lc_type_name(g[i].to));
        else
            lc_conv_note(job, "%zu tensors (e.g. %s, rows of %" PRId64 ") do not fit %s blocks of %" PRId64
                              ": written as %s",
                         g[i].count, t->name, t->ne[0], lc_type_name(g[i].from),
                         lc_type_traits_get(g[i].from)->block_size, lc_type_name(g[i].to));
    }
}

static void note_mix_layers(const lc_conv_job *job, const lc_conv_policy *pol, const type_group *g,
                            size_t n) {
    for (size_t i = 0; i < n; i++)
        lc_conv_note(job, "%s: %zu attn_v/ffn_down tensor(s) of the %d layers (e.g. %s) written as "
                          "%s, as llama.cpp's mix does",
                     lc_conv_type_name(job->out_type), g[i].count, pol->n_layers, g[i].example->name,
                     lc_type_name(g[i].to));
}

/* Applies the policy to every tensor without a forced type and tells the
 * caller what was chosen where it departs from the requested type. */
static int assign_types(lc_conv_job *job, llamac_error *err) {
    const bool has_output = job_tensor(job, "output.weight") != NULL;
    const lc_conv_policy pol = job_policy(job);
    const int base = lc_conv_base_type(job->out_type);
    type_group fallbacks[LC_TYPE_COUNT], layers[LC_TYPE_COUNT];
    size_t n_fallbacks = 0, n_layers = 0;
    for (size_t i = 0; i < job->n_tensors; i++) {
        lc_conv_tensor *t = &job->tensors[i];
        const lc_type_traits *src = lc_type_traits_get(t->generated ? LC_TYPE_F32 : t->src_type);
        if (!src || !src->to_float)
            return lc_fail(err, "tensor '%s': source type %s cannot be read", t->name,
                           lc_type_name(t->src_type));
        if (t->generated) t->src_type = LC_TYPE_F32;
        if (t->dst_type >= 0) continue;
        bool lm_head = strcmp(t->name, "output.weight") == 0 ||
                       (!has_output && strcmp(t->name, "token_embd.weight") == 0);
        int from;
        t->dst_type = lc_conv_pick_type(&pol, t->name, t->n_dims, t->ne, lm_head, &from);
        if (from >= 0) {
            record_group(fallbacks, &n_fallbacks, from, t);
        } else if (t->dst_type == base || t->dst_type == LC_TYPE_F32) {
            continue;
        } else if (lc_conv_layer_of(t->name) >= 0) {
            record_group(layers, &n_layers, base, t);
        } else {
            lc_conv_note(job, "%s: %s (higher precision than %s for the %s)", t->name,
                         lc_type_name(t->dst_type), lc_type_name(base),
                         lm_head ? "logits matrix" : "token embeddings");
        }
    }
    note_mix_layers(job, &pol, layers, n_layers);
    note_fallbacks(job, fallbacks, n_fallbacks);
    return 0;
}

static int declare_tensors(lc_conv_job *job, uint64_t *bytes, llamac_error *err) {
    *bytes = 0;
    for (size_t i = 0; i < job->n_tensors; i++) {
        const lc_conv_tensor *t = &job->tensors[i];
        if (lc_gguf_writer_add_tensor(job->w, t->name, (uint32_t)t->dst_type, t->n_dims, t->ne, err))
            return -1;
        *bytes += lc_row_size(t->dst_type, t->ne[0]) * (uint64_t)tensor_rows(t);
    }
    return 0;
}

static int alloc_buffers(stream_state *s, llamac_error *err) {
    size_t need = 0;
    for (size_t i = 0; i < s->job->n_tensors; i++) {
        const lc_conv_tensor *t = &s->job->tensors[i];
        size_t n = lc_row_size(t->dst_type, t->ne[0]) * (size_t)chunk_rows(t);
        if (n > need) need = n;
    }
    if (need == 0) return 0;
    s->buf[0] = malloc(need);
    s->buf[1] = malloc(need);
    s->buf_size = need;
    if (!s->buf[0] || !s->buf[1]) return lc_fail(err, "out of memory for %zu-byte chunk buffers", need);
    return 0;
}

int lc_conv_job_write(lc_conv_job *job, const char *dst, llamac_error *err) {
    stream_state s = {.job = job};
    clock_gettime(CLOCK_MONOTONIC, &s.start);
    int rc = assign_types(job, err);
    if (rc == 0) rc = declare_tensors(job, &s.bytes_total, err);
    if (rc == 0) rc = alloc_buffers(&s, err);
    if (rc == 0) rc = lc_gguf_writer_begin(job->w, dst, err);
    for (size_t i = 0; i < job->n_tensors && rc == 0; i++) {
        /* the next tensor's first chunk loads while this one converts */
        if (i + 1 < job->n_tensors) {
            const lc_conv_tensor *next = &job->tensors[i + 1];
            size_t src_row = lc_row_size(next->src_type, next->ne[0]);
            prefetch_source(next, 0, src_row * (size_t)chunk_rows(next));
        }
        rc = stream_tensor(&s, &job->tensors[i], err);
    }
    if (rc == 0) rc = lc_gguf_writer_finish(job->w, err);
    if (rc != 0) lc_gguf_writer_abort(job->w);
    free(s.buf[0]);
    free(s.buf[1]);
    return rc;
}
