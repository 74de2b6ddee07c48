/* Corrupt GGUF files must fail cleanly: return -1 with a one-line message
 * that names the file, never crash, read out of bounds, leak or allocate
 * what a hostile count asks for. Cases are made from a small valid file
 * built here byte by byte (so every field's offset is known) and from the
 * real files in the repository. Each buffer is allocated at exactly its
 * size so that AddressSanitizer catches any read past the end. */
#include <errno.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "format/gguf.h"
#include "quant/types.h"
#include "gguf_test_util.h"
#include "test_util.h"


/* Where each field of the base file lives. */
typedef struct layout {
    size_t version, n_tensors, n_kv;
    size_t key0_len;          /* length of the first key */
    size_t arch_len;          /* length of the general.architecture value */
    size_t align_type, align_value;
    size_t kbbb_key;          /* the text "bbb" of key "k.bbb" */
    size_t kaaa_type;         /* value type of key "k.aaa" */
    size_t arr_elem, arr_n;   /* tokenizer.ggml.tokens */
    size_t name_len[3], name[3], n_dims[3], ne[3][2], type[3], offset[3];
    size_t data_offset;
} layout;

static const char *const tensor_names[3] = {"tok_a", "tok_b", "tok_c"};

static size_t here(const bytes *b) { return b->len; }

static void put_tensor_info(bytes *b, layout *l, int i, uint32_t n_dims, const uint64_t *ne, uint32_t type,
                            uint64_t offset) {
    l->name_len[i] = here(b);
    l->name[i] = here(b) + 8;
    put_str(b, tensor_names[i]);
    l->n_dims[i] = here(b);
    put_le(b, n_dims, 4);
    for (uint32_t d = 0; d < n_dims; d++) {
        l->ne[i][d] = here(b);
        put_le(b, ne[d], 8);
    }
    l->type[i] = here(b);
    put_le(b, type, 4);
    l->offset[i] = here(b);
    put_le(b, offset, 8);
}

/* Six KVs and three tensors (f32 [8,2] = 64 B, q8_0 [32,2] = 68 B, f16 [16]
 * = 32 B at offsets 0, 64, 160); the file ends where the last tensor ends. */
static bytes build_base(layout *l) {
    bytes b = {0};
    put(&b, "GGUF", 4);
    l->version = here(&b);
    put_le(&b, 3, 4);
    l->n_tensors = here(&b);
    put_le(&b, 3, 8);
    l->n_kv = here(&b);
    put_le(&b, 6, 8);

    l->key0_len = here(&b);
    put_str(&b, "general.architecture");
    put_le(&b, GGUF_VT_STRING, 4);
    l->arch_len = here(&b);
    put_str(&b, "llama");

    put_str(&b, "general.alignment");
    l->align_type = here(&b);
    put_le(&b, GGUF_VT_UINT32, 4);
    l->align_value = here(&b);
    put_le(&b, 32, 4);

    put_str(&b, "k.aaa");
    l->kaaa_type = here(&b);
    put_le(&b, GGUF_VT_UINT32, 4);
    put_le(&b, 1, 4);
    l->kbbb_key = here(&b) + 8 + 2;
    put_str(&b, "k.bbb");
    put_le(&b, GGUF_VT_UINT32, 4);
    put_le(&b, 2, 4);

    put_str(&b, "tokenizer.ggml.tokens");
    put_le(&b, GGUF_VT_ARRAY, 4);
    l->arr_elem = here(&b);
    put_le(&b, GGUF_VT_STRING, 4);
    l->arr_n = here(&b);
    put_le(&b, 3, 8);
    put_str(&b, "a");
    put_str(&b, "bc");
    put_str(&b, "def");

    put_str(&b, "f.val");
    put_le(&b, GGUF_VT_FLOAT32, 4);
    put_le(&b, 0x3f000000, 4);

    put_tensor_info(&b, l, 0, 2, (uint64_t[]){8, 2}, LC_TYPE_F32, 0);
    put_tensor_info(&b, l, 1, 2, (uint64_t[]){32, 2}, LC_TYPE_Q8_0, 64);
    put_tensor_info(&b, l, 2, 1, (uint64_t[]){16}, LC_TYPE_F16, 160);
    while (b.len % 32) put_le(&b, 0, 1);
    l->data_offset = b.len;
    for (size_t i = 0; i < 160 + 32; i++) put_le(&b, (uint8_t)(i * 7 + 1), 1);
    return b;
}

/* ------------------------------------------------------------- checking */

static uint8_t *exact_copy(const uint8_t *src, size_t n) {
    uint8_t *p = malloc(n ? n : 1);
    if (!p) abort();
    if (n) memcpy(p, src, n);
    return p;
}

static bool verbose;

/* Opens the bytes and requires a clean failure; returns whether it failed
 * as required. */
static bool expect_failure(const uint8_t *data, size_t n, const char *name, const char *expect) {
    uint8_t *copy = exact_copy(data, n);
    lc_gguf_file *f = (lc_gguf_file *)&f; /* must be reset to NULL */
    llamac_error err = {{0}};
    int rc = lc_gguf_open_buffer(copy, n, name, &f, &err);
    bool ok = rc == -1 && f == NULL && err.msg[0] && strstr(err.msg, name) && !strchr(err.msg, '\n') &&
              (!expect || strstr(err.msg, expect));
    if (!ok)
        fprintf(stderr, "%s (%zu bytes): rc %d, message \"%s\", expected \"%s\"\n", name, n, rc, err.msg,
                expect ? expect : "");
    else if (verbose)
        fprintf(stderr, "  %s\n", err.msg);
    if (rc == 0) lc_gguf_close(f);
    free(copy);
    return ok;
}

static bool expect_success(const uint8_t *data, size_t n, const char *name) {
    uint8_t *copy = exact_copy(data, n);
    lc_gguf_file *f = NULL;
    llamac_error err = {{0}};
    int rc = lc_gguf_open_buffer(copy, n, name, &f, &err);
    if (rc) fprintf(stderr, "%s: unexpected failure: %s\n", name, err.msg);
    lc_gguf_close(f);
    free(copy);
    return rc == 0;
}

static void patch(uint8_t *p, size_t at, uint64_t v, int n) {
    for (int i = 0; i < n; i++) p[at + (size_t)i] = (uint8_t)(v >> (8 * i));
}

/* One corruption: up to two fields overwritten. */
typedef struct corruption {
    const char *name;
    const char *expect; /* substring the message must contain */
    size_t at[2];
    uint64_t value[2];
    int width[2];       /* 0: unused */
} corruption;

static void test_corruptions(void) {
    layout l;
    bytes base = build_base(&l);
    CHECK(expect_success(base.p, base.len, "base.gguf"));
    const uint64_t big = UINT64_C(1) << 62;
    const corruption cases[] = {
        {"magic.gguf", "magic", {0}, {'X'}, {1}},
        {"version1.gguf", "version 1", {l.version}, {1}, {4}},
        {"version4.gguf", "version 4", {l.version}, {4}, {4}},
        {"version-be.gguf", "big-endian", {l.version}, {0x03000000}, {4}},
        {"n_kv-huge.gguf", "n_kv", {l.n_kv}, {big}, {8}},
        {"n_kv-max.gguf", "n_kv", {l.n_kv}, {UINT64_MAX}, {8}},
        {"n_kv-plus1.gguf", NULL, {l.n_kv}, {7}, {8}},
        {"n_tensors-huge.gguf", "n_tensors", {l.n_tensors}, {big}, {8}},
        {"n_tensors-plus1.gguf", NULL, {l.n_tensors}, {4}, {8}},
        {"key-len-huge.gguf", "key length", {l.key0_len}, {big}, {8}},
        {"key-len-max.gguf", "key length", {l.key0_len}, {UINT64_MAX}, {8}},
        {"str-len-huge.gguf", "general.architecture", {l.arch_len}, {big}, {8}},
        {"arr-n-huge.gguf", "cannot fit", {l.arr_n}, {big}, {8}},
        {"arr-n-plus1.gguf", NULL, {l.arr_n}, {4}, {8}},
        {"nested-array.gguf", "nested", {l.arr_elem}, {GGUF_VT_ARRAY}, {4}},
        {"arr-elem-unknown.gguf", "unknown array element type 13", {l.arr_elem}, {13}, {4}},
        {"kv-type-unknown.gguf", "unknown value type 13", {l.kaaa_type}, {13}, {4}},
        {"kv-type-huge.gguf", "unknown value type", {l.kaaa_type}, {0xffffffffu}, {4}},
        {"dup-key.gguf", "duplicate key", {l.kbbb_key}, {0x616161}, {3}},
        {"align-0.gguf", "power of two", {l.align_value}, {0}, {4}},
        {"align-48.gguf", "power of two", {l.align_value}, {48}, {4}},
        {"align-3.gguf", "power of two", {l.align_value}, {3}, {4}},
        {"align-i32.gguf", "must be u32", {l.align_type}, {GGUF_VT_INT32}, {4}},
        {"align-64.gguf", "not a multiple of the alignment 64", {l.align_value}, {64}, {4}},
        {"name-len-64.gguf", "limit is 63", {l.name_len[1]}, {64}, {8}},
        {"name-len-huge.gguf", "tensor name", {l.name_len[1]}, {big}, {8}},
        {"name-nul.gguf", "NUL", {l.name[1] + 2}, {0}, {1}},
        {"dup-tensor.gguf", "duplicate tensor name", {l.name[2] + 4}, {'a'}, {1}},
        {"n_dims-0.gguf", "n_dims 0", {l.n_dims[0]}, {0}, {4}},
        {"n_dims-5.gguf", "n_dims 5", {l.n_dims[0]}, {5}, {4}},
        {"ne-negative.gguf", "negative", {l.ne[0][1]}, {UINT64_MAX}, {8}},
        {"ne-overflow.gguf", "overflows", {l.ne[0][0], l.ne[0][1]}, {big, big}, {8, 8}},
        {"bytes-overflow.gguf", "overflows", {l.ne[0][0], l.ne[0][1]}, {INT64_MAX, 1}, {8, 8}},
        {"ne0-block.gguf", "not a multiple of the q8_0 block size 32", {l.ne[1][0]}, {33}, {8}},
        {"type-4.gguf", "unknown tensor type 4", {l.type[1]}, {4}, {4}},
        {"type-5.gguf", "unknown tensor type 5", {l.type[1]}, {5}, {4}},
        {"type-31.gguf", "unknown tensor type 31", {l.type[1]}, {31}, {4}},
        {"type-39.gguf", "unknown tensor type 39", {l.type[1]}, {39}, {4}},
        {"type-200.gguf", "unknown tensor type 200", {l.type[1]}, {200}, {4}},
        {"type-max.gguf", "unknown tensor type 4294967295", {l.type[1]}, {0xffffffffu}, {4}},
        {"offset-misaligned.gguf", "tok_b", {l.offset[1]}, {72}, {8}},
        {"past-eof.gguf", "tok_c", {l.offset[2]}, {192}, {8}},
        {"past-eof-far.gguf", "tok_c", {l.offset[2]}, {UINT64_C(1) << 63}, {8}},
        {"past-eof-size.gguf", "tok_c", {l.ne[2][0]}, {32}, {8}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const corruption *c = &cases[i];
        uint8_t *p = exact_copy(base.p, base.len);
        for (int k = 0; k < 2; k++)
            if (c->width[k]) patch(p, c->at[k], c->value[k], c->width[k]);
        CHECKF(expect_failure(p, base.len, c->name, c->expect), "%s", c->name);
        free(p);
    }
    /* a tensor running one byte past the end, named with its offsets */
    CHECK(expect_failure(base.p, base.len - 1, "short-by-one.gguf", "tok_c"));

    /* still valid: version 2, extra bytes after the data, alignment 16 */
    uint8_t *p = exact_copy(base.p, base.len);
    patch(p, l.version, 2, 4);
    CHECK(expect_success(p, base.len, "version2.gguf"));
    patch(p, l.version, 3, 4);
    patch(p, l.align_value, 16, 4);
    CHECK(expect_success(p, base.len, "align16.gguf"));
    free(p);
    bytes longer = {0};
    put(&longer, base.p, base.len);
    put(&longer, "trailing", 8);
    CHECK(expect_success(longer.p, longer.len, "trailing.gguf"));
    free(longer.p);
    free(base.p);
}

/* Every proper prefix of a file whose last tensor ends at EOF must fail. */
static void check_prefixes(const uint8_t *data, size_t size, size_t dense_until, size_t stride,
                           const char *name) {
    int failures = 0;
    for (size_t n = 0; n < size; n = n < dense_until ? n + 1 : n + stride)
        if (!expect_failure(data, n, name, NULL) && ++failures > 5) break;
    CHECKF(failures == 0, "%s: %d truncations accepted or unclean", name, failures);
}

static void test_truncations(void) {
    layout l;
    bytes base = build_base(&l);
    check_prefixes(base.p, base.len, base.len, 1, "truncated.gguf");
    free(base.p);

    size_t size = 0;
    char *stories = lc_test_read_file(STORIES, &size);
    CHECK(stories && size == 1185376);
    /* every offset through the header and into the first tensor, then a
     * sample across the data */
    if (stories) check_prefixes((uint8_t *)stories, size, 14176 + 64, 4099, STORIES);
    free(stories);

    char *vocab = lc_test_read_file(VOCAB_SPM, &size);
    CHECK(vocab != NULL);
    if (vocab) check_prefixes((uint8_t *)vocab, size, 4096, 7919, VOCAB_SPM);
    free(vocab);
}

/* Random overwrites of the base file: whatever the reader accepts must be
 * self-consistent, whatever it refuses must be refused cleanly. */
static void test_random_mutations(void) {
    layout l;
    bytes base = build_base(&l);
    uint64_t seed = 12345;
    int accepted = 0, unclean = 0;
    for (int iter = 0; iter < 20000; iter++) {
        uint8_t *p = exact_copy(base.p, base.len);
        int edits = 1 + (int)(lc_test_rand(&seed) % 4);
        for (int e = 0; e < edits; e++) {
            size_t at = (size_t)(lc_test_rand(&seed) % base.len);
            uint64_t r = lc_test_rand(&seed);
            p[at] = (r & 3) == 0 ? 0xff : (r & 3) == 1 ? 0 : (uint8_t)(r >> 32);
        }
        size_t n = (lc_test_rand(&seed) & 7) == 0 ? (size_t)(lc_test_rand(&seed) % base.len) : base.len;
        lc_gguf_file *f = NULL;
        llamac_error err = {{0}};
        if (lc_gguf_open_buffer(p, n, "mutated.gguf", &f, &err) == 0) {
            accepted++;
            for (uint64_t i = 0; i < f->n_tensors; i++) {
                const lc_gguf_tensor *t = &f->tensors[i];
                const uint8_t *d = t->data;
                if (d < p || d + t->nbytes > p + n) unclean++;
            }
            char buf[256];
            for (uint64_t i = 0; i < f->n_kv; i++) lc_gguf_kv_format(&f->kv[i], buf, sizeof buf, 16);
            lc_gguf_close(f);
        } else if (!err.msg[0] || !strstr(err.msg, "mutated.gguf") || strchr(err.msg, '\n') || f) {
            unclean++;
        }
        free(p);
    }
    CHECKF(unclean == 0, "%d mutations handled uncleanly", unclean);
    CHECK(accepted > 0); /* e.g. edits inside tensor data */
    free(base.p);
}

/* The same checks through the file path (mmap) route. */
static void test_files(void) {
    char dir[] = "/tmp/llamac-gguf-corrupt-XXXXXX";
    if (!mkdtemp(dir)) {
        CHECK(!"mkdtemp");
        return;
    }
    char path[128];
    llamac_error err = {{0}};
    lc_gguf_file *f = NULL;

    snprintf(path, sizeof path, "%s/empty.gguf", dir);
    FILE *out = fopen(path, "wb");
    if (out) fclose(out);
    CHECK(lc_gguf_open(path, &f, &err) == -1 && f == NULL && strstr(err.msg, path));

    layout l;
    bytes base = build_base(&l);
    snprintf(path, sizeof path, "%s/short.gguf", dir);
    out = fopen(path, "wb");
    if (out) {
        fwrite(base.p, 1, base.len - 10, out);
        fclose(out);
    }
    err.msg[0] = 0;
    CHECK(lc_gguf_open(path, &f, &err) == -1 && strstr(err.msg, path) && strstr(err.msg, "tok_c"));
    patch(base.p, l.version, 1, 4);
    out = fopen(path, "wb");
    if (out) {
        fwrite(base.p, 1, base.len, out);
        fclose(out);
    }
    err.msg[0] = 0;
    CHECK(lc_gguf_open(path, &f, &err) == -1 && strstr(err.msg, path) && strstr(err.msg, "version 1"));
    free(base.p);
    unlink(path);
    snprintf(path, sizeof path, "%s/empty.gguf", dir);
    unlink(path);

    err.msg[0] = 0;
    CHECK(lc_gguf_open(dir, &f, &err) == -1 && strstr(err.msg, dir));
    rmdir(dir);
    err.msg[0] = 0;
    CHECK(lc_gguf_open(dir, &f, &err) == -1 && strstr(err.msg, dir) && strstr(err.msg, strerror(ENOENT)));
    CHECK(lc_gguf_open(dir, &f, NULL) == -1); /* a NULL error is allowed */
}

int main(void) {
    verbose = getenv("LLAMAC_TEST_VERBOSE") != NULL;
    test_corruptions();
    test_truncations();
    test_random_mutations();
    test_files();
    return TEST_SUMMARY("test_gguf_corrupt");
}
