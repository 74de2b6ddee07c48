/* quant_bench: nanoseconds per element of the reference quantizers that
 * `llamac convert` and `llamac quantize` write files with (the type
 * table's from_float), on Gaussian-like weights of one 2048 x 2048 matrix
 * (4 Mi elements, what a Llama 3.2 1B attention matrix holds). Prints the
 * median of -r runs per type and a checksum of the output bytes, so two
 * builds can be compared for speed and for identical output.
 *
 * Build (after the core library, e.g. cmake --build build):
 *   gcc -std=c17 -O2 -D_GNU_SOURCE -Iinclude -Isrc bench/quant_bench.c \
 *       build/libllamac_core.a -lpcre2-8 -lpthread -lm -o quant_bench
 * Run:
 *   ./quant_bench [-r runs] [-n elements] [-T type[,type...]]
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "quant/types.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Sum of four uniforms, scaled like trained weights (σ ≈ 0.02), with an
 * occasional outlier as real matrices have. */
static void fill_weights(float *x, int64_t n) {
    uint64_t s = 0x9E3779B97F4A7C15ULL;
    for (int64_t i = 0; i < n; i++) {
        double v = 0;
        for (int k = 0; k < 4; k++) {
            s ^= s >> 12; s ^= s << 25; s ^= s >> 27;
            v += (double)((s * 2685821657736338717ULL) >> 11) / 9007199254740992.0 - 0.5;
        }
        x[i] = (float)(v * 0.035);
        if (i % 4099 == 0) x[i] *= 8.0f;
    }
}

static int cmp_double(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static uint64_t fnv1a(const uint8_t *p, size_t n) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ULL;
    return h;
}

static int bench_type(const char *name, const float *x, int64_t n, int runs) {
    const int type = lc_type_from_name(name);
    const lc_type_traits *t = lc_type_traits_get(type);
    if (!t || !t->from_float) {
        fprintf(stderr, "quant_bench: no quantizer for '%s'\n", name);
        return 1;
    }
    const size_t bytes = lc_row_size(type, n);
    uint8_t *out = malloc(bytes);
    double *ns = malloc(sizeof *ns * (size_t)runs);
    if (!out || !ns) { free(out); free(ns); return 1; }
    for (int r = 0; r < runs; r++) {
        const double t0 = now_s();
        t->from_float(x, out, n);
        ns[r] = (now_s() - t0) * 1e9 / (double)n;
    }
    qsort(ns, (size_t)runs, sizeof *ns, cmp_double);
    printf("%-6s %8.2f ns/element (median of %d, min %.2f)  output fnv1a %016llx\n", name, ns[runs / 2], runs, ns[0],
           (unsigned long long)fnv1a(out, bytes));
    free(out);
    free(ns);
    return 0;
}

int main(int argc, char **argv) {
    int runs = 5;
    int64_t n = 2048 * 2048;
    char types[256] = "q4_K,q5_K,q6_K,q8_0,q4_0";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-r") && i + 1 < argc) runs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "-n") && i + 1 < argc) n = atoll(argv[++i]);
        else if (!strcmp(argv[i], "-T") && i + 1 < argc) snprintf(types, sizeof types, "%s", argv[++i]);
        else {
            fprintf(stderr, "usage: quant_bench [-r runs] [-n elements] [-T type[,type...]]\n");
            return 2;
        }
    }
    if (runs < 1 || n < 256 || n % 256) {
        fprintf(stderr, "quant_bench: -r must be >= 1 and -n a multiple of 256\n");
        return 2;
    }
    float *x = malloc(sizeof *x * (size_t)n);
    if (!x) return 1;
    fill_weights(x, n);
    int rc = 0;
    for (char *name = strtok(types, ","); name; name = strtok(NULL, ",")) rc |= bench_type(name, x, n, runs);
    free(x);
    return rc;
}
