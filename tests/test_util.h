/* A minimal test harness: CHECK records a failure with file:line and keeps
 * going, so one run shows every difference; TEST_MAIN_END prints a summary
 * and sets the exit code that ctest reads. Tests run from tests/. */
#ifndef LC_TEST_UTIL_H
#define LC_TEST_UTIL_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int lc_test_failures;
static int lc_test_checks;

#define CHECK(cond)                                                                \
    do {                                                                           \
        lc_test_checks++;                                                          \
        if (!(cond)) {                                                             \
            lc_test_failures++;                                                    \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                          \
    } while (0)

#define CHECKF(cond, ...)                                                          \
    do {                                                                           \
        lc_test_checks++;                                                          \
        if (!(cond)) {                                                             \
            lc_test_failures++;                                                    \
            fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                          \
            fputc('\n', stderr);                                                   \
        }                                                                          \
    } while (0)

#define TEST_SUMMARY(name)                                                         \
    (fprintf(stderr, "%s: %d checks, %d failed\n", name, lc_test_checks,           \
             lc_test_failures),                                                    \
     lc_test_failures ? 1 : 0)

/* Exit code of a test that cannot run here (a tool, library or CPU feature
 * is missing): ctest reports it as skipped, not passed (SKIP_RETURN_CODE in
 * CMakeLists.txt). Print the reason on stderr before returning it. */
#define TEST_SKIPPED 77

/* Reads a whole file; returns NULL (and prints why) on failure. */
static inline char *lc_test_read_file(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) { fprintf(stderr, "cannot open %s\n", path); return NULL; }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) { free(buf); buf = NULL; }
    fclose(f);
    if (buf) { buf[n] = 0; if (size) *size = (size_t)n; }
    return buf;
}

/* Deterministic PRNG for test data (xorshift64*). */
static inline uint64_t lc_test_rand(uint64_t *s) {
    *s ^= *s >> 12; *s ^= *s << 25; *s ^= *s >> 27;
    return *s * 2685821657736338717ULL;
}
static inline float lc_test_randf(uint64_t *s) { /* uniform in [-1, 1) */
    return (float)((lc_test_rand(s) >> 40) * (1.0 / 8388608.0)) - 1.0f;
}

#endif
