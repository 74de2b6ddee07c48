/* membw: the machine's memory read bandwidth, the roofline for decode
 * (every weight byte is read once per token).
 *
 *   membw [-t threads] [-s MiB] [-p passes] [-j streams]
 *
 * Each thread first touches its own slice of a buffer far larger than the
 * last-level cache (so pages sit near the thread that reads them), then
 * every pass all threads read their slices at once with 256-bit loads into
 * eight independent accumulators, split into `streams` regions read in
 * lock step (more concurrent streams keep more hardware prefetchers busy).
 * A pass is timed from a barrier before to a barrier after; best and
 * median over the passes are reported in GB/s (10^9 bytes/s). */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#if defined(__AVX2__)
#include <immintrin.h>
#endif

typedef struct bench {
    uint8_t *buf;
    size_t slice;          /* bytes per thread, a multiple of 256 * streams */
    int n_threads, passes, streams;
    pthread_barrier_t start, stop;
    double *seconds;       /* per pass */
} bench;

typedef struct worker {
    bench *b;
    int index;
    uint64_t sink;
} worker;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Reads [p, p + n) in `streams` equal regions, 256 bytes of each per step. */
static uint64_t read_region(const uint8_t *p, size_t n, int streams) {
    const size_t part = n / (size_t)streams;
#if defined(__AVX2__)
    __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
    for (size_t off = 0; off < part; off += 256) {
        for (int s = 0; s < streams; s++) {
            const __m256i *q = (const __m256i *)(p + (size_t)s * part + off);
            a0 = _mm256_add_epi64(a0, _mm256_load_si256(q + 0));
            a1 = _mm256_add_epi64(a1, _mm256_load_si256(q + 1));
            a2 = _mm256_add_epi64(a2, _mm256_load_si256(q + 2));
            a3 = _mm256_add_epi64(a3, _mm256_load_si256(q + 3));
            a4 = _mm256_add_epi64(a4, _mm256_load_si256(q + 4));
            a5 = _mm256_add_epi64(a5, _mm256_load_si256(q + 5));
            a6 = _mm256_add_epi64(a6, _mm256_load_si256(q + 6));
            a7 = _mm256_add_epi64(a7, _mm256_load_si256(q + 7));
        }
    }
    __m256i s = _mm256_add_epi64(_mm256_add_epi64(_mm256_add_epi64(a0, a1), _mm256_add_epi64(a2, a3)),
                                 _mm256_add_epi64(_mm256_add_epi64(a4, a5), _mm256_add_epi64(a6, a7)));
    uint64_t out[4];
    _mm256_storeu_si256((__m256i *)out, s);
    return out[0] + out[1] + out[2] + out[3];
#else
    uint64_t acc[8] = {0};
    for (size_t off = 0; off < part; off += 64)
        for (int s = 0; s < streams; s++) {
            const uint64_t *q = (const uint64_t *)(p + (size_t)s * part + off);
            for (int i = 0; i < 8; i++) acc[i] += q[i];
        }
    return acc[0] + acc[1] + acc[2] + acc[3] + acc[4] + acc[5] + acc[6] + acc[7];
#endif
}

static void *worker_main(void *arg) {
    worker *w = arg;
    bench *b = w->b;
    uint8_t *mine = b->buf + (size_t)w->index * b->slice;
    memset(mine, w->index + 1, b->slice); /* first touch: the pages become this thread's */
    for (int pass = 0; pass < b->passes; pass++) {
        pthread_barrier_wait(&b->start);
        double t0 = now_s();
        w->sink += read_region(mine, b->slice, b->streams);
        pthread_barrier_wait(&b->stop);
        if (w->index == 0) b->seconds[pass] = now_s() - t0;
    }
    return NULL;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void usage(void) {
    fprintf(stderr, "usage: membw [-t threads] [-s MiB] [-p passes] [-j streams per thread]\n");
}

int main(int argc, char **argv) {
    int n_threads = 1, passes = 10, streams = 2;
    size_t mib = 1024;
    for (int i = 1; i < argc; i++) {
        if (i + 1 < argc && strcmp(argv[i], "-t") == 0) n_threads = atoi(argv[++i]);
        else if (i + 1 < argc && strcmp(argv[i], "-s") == 0) mib = (size_t)atol(argv[++i]);
        else if (i + 1 < argc && strcmp(argv[i], "-p") == 0) passes = atoi(argv[++i]);
        else if (i + 1 < argc && strcmp(argv[i], "-j") == 0) streams = atoi(argv[++i]);
        else { usage(); return 2; }
    }
    if (n_threads < 1 || passes < 1 || streams < 1 || streams > 64 || mib < 1) { usage(); return 2; }
    bench b = {.n_threads = n_threads, .passes = passes, .streams = streams};
    const size_t unit = 256 * (size_t)streams;
    b.slice = mib * 1024 * 1024 / (size_t)n_threads / unit * unit;
    size_t total = b.slice * (size_t)n_threads;
    const size_t huge = 2u << 20;
    b.buf = aligned_alloc(huge, (total + huge - 1) / huge * huge);
    b.seconds = calloc((size_t)passes, sizeof(double));
    worker *w = calloc((size_t)n_threads, sizeof *w);
    pthread_t *tid = calloc((size_t)n_threads, sizeof *tid);
    if (!b.buf || !b.seconds || !w || !tid || b.slice == 0) {
        fprintf(stderr, "membw: cannot allocate %zu MiB\n", mib);
        return 1;
    }
#ifdef MADV_HUGEPAGE
    madvise(b.buf, (total + huge - 1) / huge * huge, MADV_HUGEPAGE); /* fewer TLB misses; advice only */
#endif
    pthread_barrier_init(&b.start, NULL, (unsigned)n_threads);
    pthread_barrier_init(&b.stop, NULL, (unsigned)n_threads);
    for (int i = 0; i < n_threads; i++) {
        w[i].b = &b;
        w[i].index = i;
        if (i > 0 && pthread_create(&tid[i], NULL, worker_main, &w[i]) != 0) {
            fprintf(stderr, "membw: cannot create thread %d\n", i);
            return 1;
        }
    }
    worker_main(&w[0]);
    uint64_t sink = w[0].sink;
    for (int i = 1; i < n_threads; i++) {
        pthread_join(tid[i], NULL);
        sink += w[i].sink;
    }
    printf("membw: %d thread(s), %zu MiB, %d streams/thread, %d passes (checksum %llx)\n", n_threads,
           total >> 20, streams, passes, (unsigned long long)sink);
    for (int p = 0; p < passes; p++) printf("  pass %d: %.2f GB/s\n", p, total / b.seconds[p] * 1e-9);
    qsort(b.seconds, (size_t)passes, sizeof(double), cmp_double);
    double best = total / b.seconds[0] * 1e-9, median = total / b.seconds[passes / 2] * 1e-9;
    printf("best %.2f GB/s, median %.2f GB/s\n", best, median);
    pthread_barrier_destroy(&b.start);
    pthread_barrier_destroy(&b.stop);
    free(tid);
    free(w);
    free(b.seconds);
    free(b.buf);
    return 0;
}
