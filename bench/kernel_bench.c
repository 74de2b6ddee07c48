/* kernel_bench: speed of lc_matmul on the shapes that dominate Llama
 * inference, to compare against the roofline (bench/membw for decode,
 * arithmetic peak for prefill).
 *
 *   decode  (M = 1):   GB/s of weight bytes streamed. "hot" repeats one
 *                      matrix (it may sit in the last-level cache); "cold"
 *                      rotates through copies filling -c MiB, so every call
 *                      reads DRAM as a real model (>> L3) does. Each cold
 *                      pass alternates with a plain read of the same bytes
 *                      on the same threads, and the percentage is decode
 *                      speed over read speed (the roofline, measured under
 *                      the same conditions; bench/membw gives the best case).
 *   prefill (M = 512): GFLOP/s, counting 2*M*N*K.
 * Every figure is the best of -r runs (the machine may be shared).
 *
 * Build (after the core library, e.g. cmake --build build):
 *   gcc -std=c17 -O2 -D_GNU_SOURCE -Iinclude -Isrc bench/kernel_bench.c \
 *       build/libllamac_core.a -lpcre2-8 -lpthread -lm -o kernel_bench
 * Run:
 *   ./kernel_bench [-t threads] [-i isa] [-r runs] [-c cold MiB] [-T type[,type]] [-s KxN] [-m M] [-p|-d]
 * -m M runs the decode measurement with M activation rows instead of one:
 * several sequences decoded together, where each weight byte read from
 * DRAM should serve M rows for little more than the cost of one.
 * -s replaces the built-in shapes with one K x N matrix (e.g. -s 2048x128256,
 * the Llama 3.2 1B output matrix, which is Q6_K in Q4_0 files; prefill then
 * needs M*N floats of output, so use -d for very large N).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/compute.h"
#include "quant/repack.h"
#include "quant/types.h"

typedef struct shape { int64_t K, N; } shape;

static const shape default_shapes[] = {
    {2048, 8192},   /* Llama 3.2 1B ffn_gate/ffn_up: n_embd x n_ff */
    {4096, 14336},  /* Llama 3.1 8B ffn_gate/ffn_up */
};

static uint64_t rng_state = 0x243f6a8885a308d3ULL;
static uint64_t next_rand(void) {
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ULL;
}
static float rand_unit(void) { return (float)((next_rand() >> 40) * (1.0 / 8388608.0)) - 1.0f; }

/* Random quant bytes with small finite f16 scales in every block. */
static void fill_weights(int type, uint8_t *w, int64_t N, int64_t K) {
    const lc_type_traits *t = lc_type_traits_get(type);
    const size_t size = lc_row_size(type, K) * (size_t)N;
    for (size_t i = 0; i + 8 <= size; i += 8) {
        uint64_t r = next_rand();
        memcpy(w + i, &r, 8);
    }
    if (type != LC_TYPE_Q4_0 && type != LC_TYPE_Q8_0) return;
    for (size_t off = 0; off < size; off += t->type_size) {
        lc_f16 d = lc_f32_to_f16(rand_unit() * 0.05f);
        memcpy(w + off, &d, 2);
    }
}

/* Plain reads of the same bytes on the same threads: the roofline that
 * decode is measured against, taken in the same run because on a shared
 * machine the bandwidth available changes from minute to minute. */
typedef struct read_job {
    const uint8_t *buf;
    size_t bytes;
    uint64_t sums[64];
} read_job;

static void read_range(void *arg, int64_t begin, int64_t end, int thread) {
    read_job *j = arg;
    const uint64_t *p = (const uint64_t *)(j->buf + (size_t)begin * 4096);
    const size_t n = (size_t)(end - begin) * 4096 / 8;
    uint64_t a = 0, b = 0, c = 0, d = 0;
    for (size_t i = 0; i + 4 <= n; i += 4) {
        a += p[i];
        b += p[i + 1];
        c += p[i + 2];
        d += p[i + 3];
    }
    j->sums[thread & 63] += a + b + c + d;
}

static double time_read(lc_compute *c, const uint8_t *buf, size_t bytes) {
    read_job j = {buf, bytes, {0}};
    int64_t t0 = llamac_time_us();
    lc_parallel_for(c, (int64_t)(bytes / 4096), read_range, &j);
    return (double)(llamac_time_us() - t0);
}

/* Best decode and best read time over `runs` alternating passes through
 * all copies, per copy. */
typedef void (*matmul_fn)(lc_compute *c, const void *W, int wtype, int64_t N, int64_t K, const float *x,
                          int64_t M, float *y);

static void bench_decode(lc_compute *c, matmul_fn matmul, int type, shape s, uint8_t *pool, size_t copies, int runs,
                         int64_t rows, float *x, float *y, double *decode_us, double *read_us) {
    const size_t bytes = lc_row_size(type, s.K) * (size_t)s.N;
    *decode_us = *read_us = 1e30;
    for (int r = 0; r < runs; r++) {
        double rd = time_read(c, pool, bytes * copies) / (double)copies;
        int64_t t0 = llamac_time_us();
        for (size_t i = 0; i < copies; i++) matmul(c, pool + i * bytes, type, s.N, s.K, x, rows, y);
        double us = (double)(llamac_time_us() - t0) / (double)copies;
        if (us < *decode_us) *decode_us = us;
        if (rd < *read_us) *read_us = rd;
    }
}

int main(int argc, char **argv) {
    int n_threads = 1, runs = 5, only_prefill = 0, only_decode = 0;
    int64_t decode_rows = 1;
    size_t cold_mib = 1024;
    const char *isa = NULL, *types_arg = "q4_0,q8_0";
    const shape *shapes = default_shapes;
    size_t n_shapes = sizeof default_shapes / sizeof default_shapes[0];
    shape custom = {0, 0};
    for (int i = 1; i < argc; i++) {
        if (i + 1 < argc && !strcmp(argv[i], "-t")) n_threads = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "-i")) isa = argv[++i];
        else if (i + 1 < argc && !strcmp(argv[i], "-r")) runs = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "-c")) cold_mib = (size_t)atol(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "-T")) types_arg = argv[++i];
        else if (i + 1 < argc && !strcmp(argv[i], "-m")) decode_rows = atol(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "-s")) {
            long long k = 0, n = 0;
            if (sscanf(argv[++i], "%lldx%lld", &k, &n) != 2 || k <= 0 || n <= 0) {
                fprintf(stderr, "kernel_bench: -s wants KxN, got %s\n", argv[i]);
                return 2;
            }
            custom = (shape){k, n};
            shapes = &custom;
            n_shapes = 1;
        } else if (!strcmp(argv[i], "-p")) only_prefill = 1;
        else if (!strcmp(argv[i], "-d")) only_decode = 1;
        else {
            fprintf(stderr, "usage: kernel_bench [-t threads] [-i isa] [-r runs] [-c cold MiB] [-T q4_0,q8_0] [-s KxN] [-m M] [-p|-d]\n");
            return 2;
        }
    }
    int64_t max_k = 14336, max_n = 14336;
    for (size_t si = 0; si < n_shapes; si++) {
        if (shapes[si].K > max_k) max_k = shapes[si].K;
        if (shapes[si].N > max_n) max_n = shapes[si].N;
    }
    if (decode_rows < 1 || decode_rows > 512) {
        fprintf(stderr, "kernel_bench: -m wants 1..512 rows\n");
        return 2;
    }
    const int64_t M = only_decode ? decode_rows : 512;
    llamac_error err = {{0}};
    lc_compute *c = lc_compute_create(n_threads, M, max_k, &err);
    if (!c || (isa && lc_compute_set_isa(c, isa, &err) != 0)) {
        fprintf(stderr, "kernel_bench: %s\n", err.msg);
        return 1;
    }
    printf("kernel_bench: %d thread(s), %s kernels, best of %d\n", n_threads, lc_compute_isa(c), runs);
    float *x = malloc(sizeof(float) * (size_t)(M * max_k));
    float *y = malloc(sizeof(float) * (size_t)(M * max_n));
    for (int64_t i = 0; i < M * max_k; i++) x[i] = rand_unit();

    char types_buf[128];
    snprintf(types_buf, sizeof types_buf, "%s", types_arg);
    for (char *name = strtok(types_buf, ","); name; name = strtok(NULL, ",")) {
        /* "q4_0_x8": the weights repacked into the x8 layout (quant/repack.h) */
        const size_t len = strlen(name);
        const int x8 = len > 3 && !strcmp(name + len - 3, "_x8");
        if (x8) name[len - 3] = '\0';
        const matmul_fn matmul = x8 ? lc_matmul_x8 : lc_matmul;
        const int type = lc_type_from_name(name);
        if (type < 0 || !lc_matmul_supports(type)) { fprintf(stderr, "kernel_bench: bad type %s\n", name); return 1; }
        for (size_t si = 0; si < n_shapes; si++) {
            const shape s = shapes[si];
            const size_t bytes = lc_row_size(type, s.K) * (size_t)s.N;
            size_t copies = cold_mib * 1024 * 1024 / bytes;
            if (copies < 1) copies = 1;
            uint8_t *pool = malloc(bytes * copies);
            if (!pool) { fprintf(stderr, "kernel_bench: out of memory\n"); return 1; }
            for (size_t i = 0; i < copies; i++) {
                fill_weights(type, pool + i * bytes, s.N, s.K);
                if (x8 && lc_x8_repack(type, pool + i * bytes, s.N, s.K) != 0) {
                    fprintf(stderr, "kernel_bench: %s has no x8 layout\n", name);
                    return 1;
                }
            }
            if (x8) name[len - 3] = '_';
            if (!only_prefill) {
                double hot, hot_read, cold, cold_read;
                bench_decode(c, matmul, type, s, pool, 1, runs * 20, decode_rows, x, y, &hot, &hot_read);
                bench_decode(c, matmul, type, s, pool, copies, runs, decode_rows, x, y, &cold, &cold_read);
                printf("decode  %-7s K=%-5lld N=%-5lld M=%-3lld %5.1f MB: hot %6.1f us %5.1f GB/s | cold %6.1f us "
                       "%5.1f GB/s, plain read %5.1f GB/s: %3.0f%%\n",
                       name, (long long)s.K, (long long)s.N, (long long)decode_rows, bytes / 1e6, hot, bytes / hot * 1e-3, cold,
                       bytes / cold * 1e-3, bytes / cold_read * 1e-3, 100.0 * cold_read / cold);
            }
            if (!only_decode) {
                double best = 1e30;
                for (int r = 0; r < runs; r++) {
                    int64_t t0 = llamac_time_us();
                    matmul(c, pool, type, s.N, s.K, x, M, y);
                    double us = (double)(llamac_time_us() - t0);
                    if (us < best) best = us;
                }
                printf("prefill %-7s K=%-5lld N=%-5lld M=%lld: %8.1f ms %7.1f GFLOP/s\n", name, (long long)s.K,
                       (long long)s.N, (long long)M, best / 1e3, 2.0 * M * s.N * s.K / best * 1e-3);
            }
            fflush(stdout);
            free(pool);
        }
    }
    free(x);
    free(y);
    lc_compute_free(c);
    return 0;
}
