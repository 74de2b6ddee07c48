/* Helpers shared by the tokenizer tests: llama.cpp's .inp/.out test
 * vectors, random test strings, decoding by concatenating pieces, and
 * temporary folders. Include after test_util.h. */
#ifndef LC_TOKENIZER_TEST_UTIL_H
#define LC_TOKENIZER_TEST_UTIL_H

#include <dirent.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "format/gguf.h"
#include "tokenizer/vocab.h"

/* ------------------------------------------------------------ vectors */

typedef struct tv_case {
    const char *text; /* points into tv_set.inp */
    size_t len;
    int32_t *ids;
    size_t n_ids;
} tv_case;

typedef struct tv_set {
    char *inp;
    char *out;
    tv_case *cases;
    size_t n;
} tv_set;

static inline void tv_free(tv_set *s) {
    for (size_t i = 0; i < s->n; i++) free(s->cases[i].ids);
    free(s->cases);
    free(s->inp);
    free(s->out);
    memset(s, 0, sizeof *s);
}

/* The format of tests/data/tokenizer-vectors/README.md: .inp split at
 * "\n__ggml_vocab_test__\n", .out one line of space-separated ids per test. */
static inline int tv_load(const char *base, tv_set *s) {
    static const char SEP[] = "\n__ggml_vocab_test__\n";
    char path[512];
    size_t inp_len, out_len;
    memset(s, 0, sizeof *s);
    snprintf(path, sizeof path, "%s.inp", base);
    s->inp = lc_test_read_file(path, &inp_len);
    snprintf(path, sizeof path, "%s.out", base);
    s->out = lc_test_read_file(path, &out_len);
    if (!s->inp || !s->out) return -1;
    size_t cap = 64;
    s->cases = calloc(cap, sizeof *s->cases);
    for (size_t pos = 0; pos < inp_len;) {
        char *sep = memmem(s->inp + pos, inp_len - pos, SEP, sizeof SEP - 1);
        size_t end = sep ? (size_t)(sep - s->inp) : inp_len;
        if (s->n == cap) s->cases = realloc(s->cases, (cap *= 2) * sizeof *s->cases);
        s->cases[s->n++] = (tv_case){s->inp + pos, end - pos, NULL, 0};
        pos = end + (sep ? sizeof SEP - 1 : 0);
    }
    char *line = s->out;
    for (size_t i = 0; i < s->n; i++) {
        if (!*line && i < s->n) return -1; /* fewer lines than tests */
        char *nl = strchr(line, '\n');
        if (nl) *nl = 0;
        tv_case *c = &s->cases[i];
        c->ids = malloc((strlen(line) / 2 + 1) * sizeof *c->ids);
        for (char *p = line;;) {
            char *end;
            long v = strtol(p, &end, 10);
            if (end == p) break;
            c->ids[c->n_ids++] = (int32_t)v;
            p = end;
        }
        line = nl ? nl + 1 : line + strlen(line);
    }
    return 0;
}

static inline bool ids_equal(const lc_tokens *t, const int32_t *ids, size_t n) {
    return t->n == n && (n == 0 || memcmp(t->ids, ids, n * sizeof *ids) == 0);
}

static inline void print_ids(const char *what, const int32_t *ids, size_t n) {
    fprintf(stderr, "  %s:", what);
    for (size_t i = 0; i < n; i++) fprintf(stderr, " %d", (int)ids[i]);
    fputc('\n', stderr);
}

/* Runs every vector; returns the number that passed. */
static inline size_t tv_run(const lc_vocab *v, const tv_set *s, const char *name) {
    size_t passed = 0;
    lc_tokens t = {0};
    for (size_t i = 0; i < s->n; i++) {
        const tv_case *c = &s->cases[i];
        llamac_error err = {{0}};
        int rc = lc_vocab_encode(v, c->text, c->len, 0, &t, &err);
        bool ok = rc == 0 && ids_equal(&t, c->ids, c->n_ids);
        CHECKF(ok, "%s vector %zu (\"%.*s\") %s", name, i + 1, (int)c->len, c->text, err.msg);
        if (!ok) {
            print_ids("expected", c->ids, c->n_ids);
            print_ids("got", t.ids, t.n);
        }
        passed += ok;
    }
    lc_tokens_free(&t);
    return passed;
}

/* ------------------------------------------------------ random strings */

typedef struct rstr {
    char *p;
    size_t len, cap;
} rstr;

static inline void rs_put(rstr *s, const void *src, size_t n) {
    if (s->len + n + 1 > s->cap) {
        s->cap = (s->len + n + 1) * 2;
        s->p = realloc(s->p, s->cap);
    }
    memcpy(s->p + s->len, src, n);
    s->len += n;
    s->p[s->len] = 0;
}

static inline void rs_put_cp(rstr *s, uint32_t cp) {
    char b[4];
    size_t n;
    if (cp < 0x80) { b[0] = (char)cp; n = 1; }
    else if (cp < 0x800) { b[0] = (char)(0xC0 | cp >> 6); b[1] = (char)(0x80 | (cp & 63)); n = 2; }
    else if (cp < 0x10000) {
        b[0] = (char)(0xE0 | cp >> 12); b[1] = (char)(0x80 | ((cp >> 6) & 63));
        b[2] = (char)(0x80 | (cp & 63)); n = 3;
    } else {
        b[0] = (char)(0xF0 | cp >> 18); b[1] = (char)(0x80 | ((cp >> 12) & 63));
        b[2] = (char)(0x80 | ((cp >> 6) & 63)); b[3] = (char)(0x80 | (cp & 63)); n = 4;
    }
    rs_put(s, b, n);
}

/* The text of `t` as the streaming detokenizer hands it out, push by push
 * and then the flush, into *out (replacing its contents; NUL-terminated). */
static inline void rs_detokenize(const lc_vocab *v, const lc_tokens *t, rstr *out) {
    llamac_detokenizer *d = lc_detokenizer_create(v);
    out->len = 0;
    rs_put(out, "", 0);
    size_t n;
    for (size_t k = 0; k < t->n; k++) {
        const char *p = llamac_detokenizer_push(d, t->ids[k], &n);
        rs_put(out, p, n);
    }
    const char *p = llamac_detokenizer_flush(d, &n);
    rs_put(out, p, n);
    llamac_detokenizer_free(d);
}

/* Code points from many scripts and classes: ASCII words and punctuation,
 * digits, whitespace runs (tabs, newlines, CR, NBSP, U+0085, U+3000),
 * control characters, Latin-1, Greek, Cyrillic, Arabic, Devanagari,
 * Khmer, CJK, Hangul, emoji with ZWJ and variation selectors. */
static inline uint32_t random_cp(uint64_t *rng) {
    static const uint32_t ranges[][2] = {
        {'a', 'z'}, {'A', 'Z'}, {'0', '9'}, {0x21, 0x2F}, {0x3A, 0x40}, {0x01, 0x1F},
        {0xA0, 0xFF}, {0x391, 0x3C9}, {0x410, 0x44F}, {0x621, 0x64A}, {0x905, 0x939},
        {0x1780, 0x17DD}, {0x4E00, 0x4FFF}, {0xAC00, 0xAD00}, {0x1F600, 0x1F64F},
        {0x1F980, 0x1F9AF}, {0x2000, 0x206F}, {0x3040, 0x30FF}, {0xFF01, 0xFF5E},
        {0x10000, 0x1007F},
    };
    static const uint32_t spaces[] = {' ', ' ', ' ', '\n', '\t', '\r', 0xA0, 0x85, 0x3000, 0x200D, 0xFE0F};
    uint64_t r = lc_test_rand(rng);
    unsigned pick = (unsigned)(r % 100);
    if (pick < 25) return spaces[(r >> 8) % (sizeof spaces / sizeof spaces[0])];
    size_t k = (size_t)((r >> 16) % (sizeof ranges / sizeof ranges[0]));
    if (pick < 55) k = (size_t)((r >> 16) % 4); /* mostly ASCII */
    uint32_t lo = ranges[k][0], hi = ranges[k][1];
    return lo + (uint32_t)((r >> 32) % (hi - lo + 1));
}

/* A valid UTF-8 string of up to max_cps code points. When no_space_mark,
 * U+2581 never appears (SPM decodes it as a space). */
static inline void random_text(uint64_t *rng, rstr *s, size_t max_cps) {
    s->len = 0;
    rs_put(s, "", 0);
    size_t n = (size_t)(lc_test_rand(rng) % (max_cps + 1));
    for (size_t i = 0; i < n; i++) {
        uint32_t cp = random_cp(rng);
        if (lc_test_rand(rng) % 8 == 0) { /* runs: "    ", "333", "\n\n" */
            size_t run = 2 + (size_t)(lc_test_rand(rng) % 6);
            for (size_t j = 0; j < run; j++) rs_put_cp(s, cp);
        } else {
            rs_put_cp(s, cp);
        }
    }
}

/* Random bytes biased toward UTF-8 lead/continuation bytes, so most
 * strings hold invalid sequences. */
static inline void random_bytes(uint64_t *rng, rstr *s, size_t max_len) {
    static const uint8_t interesting[] = {0x80, 0xBF, 0xC0, 0xC1, 0xC2, 0xDF, 0xE0, 0xED,
                                          0xEF, 0xF0, 0xF4, 0xF5, 0xFF, 0x00, ' ', 'a', '\n'};
    s->len = 0;
    rs_put(s, "", 0);
    size_t n = (size_t)(lc_test_rand(rng) % (max_len + 1));
    for (size_t i = 0; i < n; i++) {
        uint64_t r = lc_test_rand(rng);
        uint8_t b = r % 2 ? interesting[(r >> 8) % sizeof interesting] : (uint8_t)(r >> 16);
        rs_put(s, &b, 1);
    }
}

/* Concatenated pieces (no special rendering). */
static inline void decode_pieces(const lc_vocab *v, const lc_tokens *t, rstr *out) {
    out->len = 0;
    rs_put(out, "", 0);
    for (size_t i = 0; i < t->n; i++) {
        size_t n;
        const char *p = lc_vocab_token_piece(v, t->ids[i], false, &n);
        rs_put(out, p, n);
    }
}

/* CPU time of this thread: the test machines are shared, so wall time
 * says more about the neighbours than about the tokenizer. */
static inline double cpu_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ~1 MB of English-like text with some other scripts, the same every run:
 * what the throughput lines of the tokenizer tests encode. */
static inline void throughput_text(rstr *s) {
    uint64_t seed = 5;
    rstr word = {0};
    while (s->len < (1u << 20)) {
        random_text(&seed, &word, 12);
        static const char *const words[] = {"the ", "little ", "girl ", "said, ", "\"Hello!\" ",
                                            "and ", "went ", "home.\n", "1984 ", "🦙 "};
        const char *w = words[lc_test_rand(&seed) % 10];
        rs_put(s, w, strlen(w));
        if (lc_test_rand(&seed) % 8 == 0) rs_put(s, word.p, word.len);
    }
    free(word.p);
}

/* Encodes s with flags and prints "<what>: ... MB/s" (CPU time). */
static inline void print_encode_rate(const lc_vocab *v, const rstr *s, int flags, const char *what) {
    lc_tokens t = {0};
    double t0 = cpu_seconds();
    lc_vocab_encode(v, s->p, s->len, flags, &t, NULL);
    double dt = cpu_seconds() - t0;
    fprintf(stderr, "%s: encoded %.2f MB into %zu tokens in %.3f s CPU: %.1f MB/s\n", what, s->len / 1e6, t.n, dt,
            s->len / 1e6 / dt);
    lc_tokens_free(&t);
}

/* ------------------------------------------------------------- files */

static inline int write_file(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = fwrite(data, 1, n, f);
    return fclose(f) == 0 && w == n ? 0 : -1;
}

static inline int copy_file(const char *from, const char *to) {
    size_t n;
    char *data = lc_test_read_file(from, &n);
    if (!data) return -1;
    int rc = write_file(to, data, n);
    free(data);
    return rc;
}

/* Removes a flat folder made by a test. */
static inline void remove_dir(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char path[1024];
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

static inline lc_vocab *open_gguf_vocab(const char *path) {
    lc_gguf_file *f = NULL;
    lc_vocab *v = NULL;
    llamac_error err = {{0}};
    if (lc_gguf_open(path, &f, &err) < 0 || lc_vocab_load_gguf(f, &v, &err) < 0)
        fprintf(stderr, "%s: %s\n", path, err.msg);
    lc_gguf_close(f);
    return v;
}

#endif
