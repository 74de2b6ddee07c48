/* The matmul driver: quantizes activation rows once, then splits the output
 * rows (N) into chunks that the pool's threads claim one at a time, and
 * runs the ISA's tile kernel on each chunk:
 *   decode  (M == 1): a matrix-vector product, weight rows streamed once;
 *   prefill (M > 1):  for each chunk of weight rows, tiles of LC_TILE_M
 *                     activation rows that the kernel covers in register
 *                     tiles (e.g. 4 rows x 2 weight rows), so every decoded
 *                     weight block serves several rows and the chunk stays
 *                     in L1/L2 while all activation tiles pass over it.
 * Chunks are claimed dynamically because the machine may be shared: a
 * thread that gets preempted simply claims fewer chunks. Which kernel
 * computes an output never depends on the chunking, so results are the
 * same for any thread count. */
#include "kernels/compute.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "kernels/dispatch.h"
#include "kernels/kernels.h"
#include "quant/repack.h"
#include "quant/types.h"
#include "runtime/err.h"
#include "runtime/threadpool.h"

struct lc_compute {
    lc_threadpool *pool;
    int n_threads;
    lc_isa isa;
    lc_kernel_table kernels;   /* the ISA's table, NULL quantizers filled from the type table */
    void *act;                 /* quantized activation rows */
    size_t act_cap;
    int64_t max_rows, max_k;   /* what the scratch was sized for */
};

/* --------------------------------------------------------------- create */

static size_t act_row_bytes(const lc_kernel_table *kt, int type, int64_t K) {
    return kt->act_row_size ? kt->act_row_size(type, K) : lc_row_size(type, K);
}

/* Scratch for max_rows activation rows of up to max_k elements in the
 * widest format the table writes (K rounded up to whole blocks of 256). */
static size_t act_scratch_bytes(const lc_kernel_table *kt, int64_t max_rows, int64_t max_k) {
    static const int act_types[] = {LC_TYPE_Q8_0, LC_TYPE_Q8_1, LC_TYPE_Q8_K, LC_TYPE_F16, LC_TYPE_BF16};
    const int64_t K = (max_k + QK_K - 1) / QK_K * QK_K;
    size_t widest = 0;
    for (size_t i = 0; i < sizeof act_types / sizeof act_types[0]; i++) {
        size_t r = act_row_bytes(kt, act_types[i], K);
        if (r > widest) widest = r;
    }
    return (size_t)max_rows * widest;
}

/* Switches to a kernel table (resolved against its bases), growing the
 * scratch if its rows are wider. */
static int select_kernels(lc_compute *c, const lc_kernel_table *kt, lc_isa isa, llamac_error *err) {
    lc_kernel_table full;
    lc_kernel_table_resolve(kt, &full);
    size_t need = act_scratch_bytes(&full, c->max_rows, c->max_k);
    if (need > c->act_cap) {
        void *p = realloc(c->act, need);
        if (!p) return lc_fail(err, "compute: out of memory for %zu bytes of activation scratch", need);
        c->act = p;
        c->act_cap = need;
    }
    c->isa = isa;
    c->kernels = full;
    for (int t = 0; t < LC_TYPE_COUNT; t++) {
        const lc_type_traits *tt = lc_type_traits_get(t);
        if (!c->kernels.quantize_row[t] && tt) c->kernels.quantize_row[t] = tt->from_float;
    }
    if (!c->kernels.swiglu) c->kernels.swiglu = lc_swiglu_reference;
    return 0;
}

int lc_compute_set_kernels(lc_compute *c, const lc_kernel_table *kt, llamac_error *err) {
    return select_kernels(c, kt, c->isa, err);
}

lc_compute *lc_compute_create(int n_threads, int64_t max_rows, int64_t max_k, llamac_error *err) {
    lc_compute *c = calloc(1, sizeof *c);
    if (!c) { lc_fail(err, "compute: out of memory"); return NULL; }
    c->n_threads = n_threads > 0 ? n_threads : 1;
    c->max_rows = max_rows > 0 ? max_rows : 1;
    c->max_k = max_k > 0 ? max_k : 1;
    const lc_isa isa = lc_isa_default();
    if (select_kernels(c, lc_kernel_table_get(isa), isa, err) != 0) { free(c); return NULL; }
    c->pool = lc_threadpool_create(c->n_threads, err);
    if (!c->pool) { free(c->act); free(c); return NULL; }
    return c;
}

void lc_compute_free(lc_compute *c) {
    if (!c) return;
    lc_threadpool_free(c->pool);
    free(c->act);
    free(c);
}

int lc_compute_n_threads(const lc_compute *c) { return c->n_threads; }

const char *lc_compute_isa(const lc_compute *c) { return c->kernels.name; }

int lc_compute_set_isa(lc_compute *c, const char *isa_name, llamac_error *err) {
    lc_isa isa;
    if (lc_isa_parse(isa_name, &isa, err) < 0) return -1;
    return select_kernels(c, lc_kernel_table_get(isa), isa, err);
}

int lc_compute_use_isa(lc_compute *c, lc_isa isa, llamac_error *err) {
    char why[64] = "";
    if (!lc_isa_available(isa, why, sizeof why)) return lc_fail(err, "kernel table '%s': %s", lc_isa_name(isa), why);
    return select_kernels(c, lc_kernel_table_get(isa), isa, err);
}

bool lc_matmul_supports(int wtype) {
    const lc_type_traits *t = lc_type_traits_get(wtype);
    if (!t || !t->vec_dot) return false;
    const lc_type_traits *a = lc_type_traits_get(t->vec_dot_type);
    return a && (t->vec_dot_type == LC_TYPE_F32 || a->from_float);
}

/* ------------------------------------------------------- parallel jobs */

typedef struct quantize_job {
    lc_quantize_row_fn quantize;
    const float *x;
    int64_t K, M;
    uint8_t *dst;
    size_t arow;
} quantize_job;

static void quantize_rows(void *arg, int ith, int nth) {
    const quantize_job *j = arg;
    int64_t m0 = j->M * ith / nth, m1 = j->M * (ith + 1) / nth;
    for (int64_t m = m0; m < m1; m++) j->quantize(j->x + m * j->K, j->dst + (size_t)m * j->arow, j->K);
}

/* One weight matrix of a matmul job, and the range of the job's chunks
 * that cover its rows. */
typedef struct matmul_part {
    lc_tile_fn tile;            /* NULL: the reference tile for wtype */
    bool x8;                    /* weights in the x8 layout (quant/repack.h) */
    int wtype;
    const uint8_t *W;
    size_t wrow;
    int64_t N;
    float *y;                   /* the pass's first row of outputs */
    int64_t chunk_rows;
    int64_t chunk_end;          /* this part's chunks end here (job-wide count) */
} matmul_part;

/* Up to LC_MATMUL_GROUP_MAX weights over the same quantized activations,
 * one dispatch for all: a thread that finishes one product goes on with
 * the next instead of waiting for the others. */
#define LC_MATMUL_GROUP_MAX 4

typedef struct matmul_job {
    matmul_part part[LC_MATMUL_GROUP_MAX];
    int64_t K;
    const uint8_t *A;
    size_t arow;
    int64_t M;
    int64_t n_chunks;
    atomic_int_fast64_t next_chunk;
} matmul_job;

static void run_tile(const matmul_job *j, const matmul_part *p, int64_t n0, int64_t nr, int64_t m0, int mr) {
    const uint8_t *w = p->W + (size_t)n0 * p->wrow;
    const uint8_t *a = j->A + (size_t)m0 * j->arow;
    float *y = p->y + m0 * p->N + n0;
    if (p->tile) p->tile(j->K, w, p->wrow, nr, a, j->arow, mr, y, p->N);
    else if (p->x8) lc_tile_reference_x8(p->wtype, j->K, w, p->wrow, nr, a, j->arow, mr, y, p->N);
    else lc_tile_reference(p->wtype, j->K, w, p->wrow, nr, a, j->arow, mr, y, p->N);
}

static void matmul_chunks(void *arg, int ith, int nth) {
    (void)ith;
    (void)nth;
    matmul_job *j = arg;
    int pi = 0;   /* chunks are claimed in increasing order: the part never goes back */
    for (;;) {
        int64_t c = atomic_fetch_add_explicit(&j->next_chunk, 1, memory_order_relaxed);
        if (c >= j->n_chunks) break;
        while (c >= j->part[pi].chunk_end) pi++;
        const matmul_part *p = &j->part[pi];
        int64_t n0 = (c - (pi > 0 ? j->part[pi - 1].chunk_end : 0)) * p->chunk_rows;
        int64_t nr = p->N - n0 < p->chunk_rows ? p->N - n0 : p->chunk_rows;
        for (int64_t m0 = 0; m0 < j->M; m0 += LC_TILE_M) {
            int mr = j->M - m0 < LC_TILE_M ? (int)(j->M - m0) : LC_TILE_M;
            run_tile(j, p, n0, nr, m0, mr);
        }
    }
}

/* Rows per chunk: decode wants enough chunks per thread to even out a
 * preempted thread; prefill wants a chunk of weights that stays in L2
 * while all activation tiles pass over it. A few rows (several sequences
 * decoding together, M <= LC_TILE_M) are one tile call per chunk, so each
 * weight byte is read once as in decode, and they take decode's long
 * chunks: with prefill's 32-row chunks the two threads hop between short
 * stretches of the matrix and the hardware prefetchers never get going
 * (1B Q4_0 2048 x 8192, 2 threads, from DRAM: 4 rows 558 -> 285 us, 8 rows
 * 717 -> 479 us; bench/kernel_bench -m, bench/results/2026-12-03-small-m.md). Multiples of 8 keep the
 * kernels' row groups (and x8 groups) whole. Float weights take 24: the
 * AVX2 float tiles cover 3 weight rows at a time (4 on AVX-512), and a
 * chunk of 32 left 2 rows per chunk to the slow one-row kernel (1B F16
 * pp512: 24 rows x1.10 over 48, 48 x1.06 over 32, bench/ab.sh); the
 * quantized x8 tiles measured best at 32. */
static int64_t chunk_rows_for(int64_t N, int64_t M, int wtype, int n_threads) {
#ifndef LC_PREFILL_CHUNK
#define LC_PREFILL_CHUNK 32
#endif
#ifndef LC_PREFILL_CHUNK_FLOAT
#define LC_PREFILL_CHUNK_FLOAT 24
#endif
    const bool is_float = wtype == LC_TYPE_F32 || wtype == LC_TYPE_F16 || wtype == LC_TYPE_BF16;
    const bool streams = M <= LC_TILE_M && !is_float; /* float tiles pass over a chunk per 4 rows */
    int64_t target = streams ? N / ((int64_t)n_threads * 8) : is_float ? LC_PREFILL_CHUNK_FLOAT : LC_PREFILL_CHUNK;
    if (target < 16) target = 16;
    if (target > 512) target = 512;
    return (target + 7) / 8 * 8;
}

/* --------------------------------------------------------------- matmul */

static void fill_nan(float *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = NAN;
}

/* The products outs[0..n) whose weights all take activation type at:
 * x quantized once per pass of rows, then one dispatch for all of them. */
static void matmul_same_activation(lc_compute *c, const lc_matmul_out *const *outs, int n, int at, int64_t K,
                                   const float *x, int64_t M) {
    const size_t arow = act_row_bytes(&c->kernels, at, K);
    /* f32 activations are used in place; others go through the scratch,
     * as many rows per pass as it holds. */
    int64_t rows_per_pass = at == LC_TYPE_F32 ? M : (int64_t)(c->act_cap / arow);
    if (rows_per_pass < 1) {
        for (int i = 0; i < n; i++) fill_nan(outs[i]->y, M * outs[i]->N);
        return;
    }
    matmul_job job = {.K = K, .arow = arow};
    for (int i = 0; i < n; i++) {
        const lc_matmul_out *o = outs[i];
        job.part[i] = (matmul_part){
            .tile = o->x8 ? c->kernels.tile_x8[o->wtype] : c->kernels.tile[o->wtype],
            .x8 = o->x8,
            .wtype = o->wtype,
            .W = o->W,
            .wrow = lc_row_size(o->wtype, K),
            .N = o->N,
        };
    }
    for (int64_t m0 = 0; m0 < M; m0 += rows_per_pass) {
        int64_t mp = M - m0 < rows_per_pass ? M - m0 : rows_per_pass;
        if (at == LC_TYPE_F32) {
            job.A = (const uint8_t *)(x + m0 * K);
        } else {
            quantize_job q = {c->kernels.quantize_row[at], x + m0 * K, K, mp, c->act, arow};
            /* One decode row is quantized faster than a dispatch takes. */
            if (mp == 1) quantize_rows(&q, 0, 1);
            else lc_threadpool_run(c->pool, quantize_rows, &q);
            job.A = c->act;
        }
        job.M = mp;
        job.n_chunks = 0;
        for (int i = 0; i < n; i++) {
            matmul_part *p = &job.part[i];
            p->y = outs[i]->y + m0 * p->N;
            p->chunk_rows = chunk_rows_for(p->N, mp, p->wtype, c->n_threads);
            job.n_chunks += (p->N + p->chunk_rows - 1) / p->chunk_rows;
            p->chunk_end = job.n_chunks;
        }
        atomic_init(&job.next_chunk, 0);
        lc_threadpool_run(c->pool, matmul_chunks, &job);
    }
}

void lc_matmul_group(lc_compute *c, const lc_matmul_out *outs, int n_outs, int64_t K, const float *x, int64_t M) {
    if (M <= 0) return;
    /* what is left to do: unsupported weights get NaN, empty ones nothing */
    const lc_matmul_out *todo[LC_MATMUL_GROUP_MAX];
    for (int first = 0; first < n_outs; first += LC_MATMUL_GROUP_MAX) {
        int n_todo = 0;
        for (int i = first; i < n_outs && i < first + LC_MATMUL_GROUP_MAX; i++) {
            const lc_matmul_out *o = &outs[i];
            if (o->N <= 0) continue;
            if (!lc_matmul_supports(o->wtype) || (o->x8 && !lc_x8_supported(o->wtype, o->N, K)))
                fill_nan(o->y, M * o->N);
            else todo[n_todo++] = o;
        }
        /* one job per activation type (q/k/v of one file usually share one) */
        while (n_todo > 0) {
            const int at = lc_type_traits_get(todo[0]->wtype)->vec_dot_type;
            const lc_matmul_out *same[LC_MATMUL_GROUP_MAX];
            int n_same = 0, n_rest = 0;
            for (int i = 0; i < n_todo; i++) {
                if (lc_type_traits_get(todo[i]->wtype)->vec_dot_type == at) same[n_same++] = todo[i];
                else todo[n_rest++] = todo[i];
            }
            matmul_same_activation(c, same, n_same, at, K, x, M);
            n_todo = n_rest;
        }
    }
}

void lc_matmul(lc_compute *c, const void *W, int wtype, int64_t N, int64_t K,
               const float *x, int64_t M, float *y) {
    const lc_matmul_out out = {.W = W, .wtype = wtype, .x8 = false, .N = N, .y = y};
    lc_matmul_group(c, &out, 1, K, x, M);
}

void lc_matmul_x8(lc_compute *c, const void *W, int wtype, int64_t N, int64_t K,
                  const float *x, int64_t M, float *y) {
    const lc_matmul_out out = {.W = W, .wtype = wtype, .x8 = true, .N = N, .y = y};
    lc_matmul_group(c, &out, 1, K, x, M);
}

/* --------------------------------------------------------- parallel for */

typedef struct range_job {
    lc_range_fn fn;
    void *arg;
    int64_t n;
} range_job;

static void run_range(void *arg, int ith, int nth) {
    const range_job *r = arg;
    int64_t begin = r->n * ith / nth, end = r->n * (ith + 1) / nth;
    if (begin < end) r->fn(r->arg, begin, end, ith);
}

void lc_parallel_for(lc_compute *c, int64_t n, lc_range_fn fn, void *arg) {
    if (n <= 0) return;
    range_job r = {fn, arg, n};
    if (n == 1) run_range(&r, 0, 1);
    else lc_threadpool_run(c->pool, run_range, &r);
}

/* --------------------------------------------------------------- swiglu */

typedef struct swiglu_job {
    lc_swiglu_fn fn;
    float *gate;
    const float *up;
    int64_t n;
} swiglu_job;

/* Vectors [begin, end) of 8 floats (the last one may be partial). */
static void swiglu_range(void *arg, int64_t begin, int64_t end, int thread) {
    (void)thread;
    const swiglu_job *j = arg;
    const int64_t stop = end * 8 < j->n ? end * 8 : j->n;
    j->fn(j->gate + begin * 8, j->up + begin * 8, stop - begin * 8);
}

void lc_swiglu(lc_compute *c, float *gate, const float *up, int64_t n) {
    if (n <= 0) return;
    swiglu_job j = {c->kernels.swiglu, gate, up, n};
    const int64_t vectors = (n + 7) / 8;
    /* a decode row (n_ff elements) is done faster than a dispatch takes */
    if (n <= 16384) swiglu_range(&j, 0, vectors, 0);
    else lc_parallel_for(c, vectors, swiglu_range, &j);
}
