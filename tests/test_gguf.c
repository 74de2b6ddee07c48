/* GGUF reader and writer: every value type through the reader, the writer
 * and back; the writer's layout rules and error paths (nothing may be left
 * behind on failure); the two real files in the repository; the public
 * inspection API.
 *
 * `test_gguf --write-corpus DIR` writes the fuzzing seed files (the same
 * files the round-trip tests check) into DIR. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "format/gguf.h"
#include "llamac.h"
#include "quant/types.h"
#include "gguf_test_util.h"
#include "test_util.h"


static void put_key(bytes *b, const char *key, uint32_t type) {
    put_str(b, key);
    put_le(b, type, 4);
}

static uint64_t f32_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static uint64_t f64_bits(double d) { uint64_t u; memcpy(&u, &d, 8); return u; }

/* One key of every scalar type and one array of every element type, with
 * the text lc_gguf_kv_format must produce for each. */
typedef struct expected_kv {
    const char *key;
    uint32_t type;
    const char *text;
} expected_kv;

static const expected_kv all_kinds[] = {
    {"t.u8", GGUF_VT_UINT8, "200"},
    {"t.i8", GGUF_VT_INT8, "-100"},
    {"t.u16", GGUF_VT_UINT16, "60000"},
    {"t.i16", GGUF_VT_INT16, "-30000"},
    {"t.u32", GGUF_VT_UINT32, "4000000000"},
    {"t.i32", GGUF_VT_INT32, "-2000000000"},
    {"t.f32", GGUF_VT_FLOAT32, "1.5"},
    {"t.bool", GGUF_VT_BOOL, "true"},
    {"t.str", GGUF_VT_STRING, "\"he said \\\"hi\\\"\\n\\x01\\\\\""},
    {"t.u64", GGUF_VT_UINT64, "9223372036854775813"},
    {"t.i64", GGUF_VT_INT64, "-1099511627776"},
    {"t.f64", GGUF_VT_FLOAT64, "3.141592653589793"},
    {"a.u8", GGUF_VT_UINT8, "[1, 2, 255]"},
    {"a.i8", GGUF_VT_INT8, "[-1, 0, 127]"},
    {"a.u16", GGUF_VT_UINT16, "[1, 2, 65535]"},
    {"a.i16", GGUF_VT_INT16, "[-32768, 0, 32767]"},
    {"a.u32", GGUF_VT_UINT32, "[0, 1, 4294967295]"},
    {"a.i32", GGUF_VT_INT32, "[-2147483648, 0, 2147483647]"},
    {"a.f32", GGUF_VT_FLOAT32, "[0.1, -2, 1e+30]"},
    {"a.bool", GGUF_VT_BOOL, "[true, false, true]"},
    {"a.str", GGUF_VT_STRING, "[\"a\", \"\", \"tab\\t\"]"},
    {"a.u64", GGUF_VT_UINT64, "[0, 18446744073709551615, 7]"},
    {"a.i64", GGUF_VT_INT64, "[-9223372036854775808, 0, 9223372036854775807]"},
    {"a.f64", GGUF_VT_FLOAT64, "[0.5, -0.25, 1e-300]"},
};
#define N_ALL_KINDS (sizeof all_kinds / sizeof all_kinds[0])

static void put_scalar(bytes *b, uint32_t type, int which) {
    switch (type) {
    case GGUF_VT_UINT8: put_le(b, (uint8_t[]){200, 1, 2, 255}[which], 1); break;
    case GGUF_VT_INT8: put_le(b, (uint8_t)(int8_t[]){-100, -1, 0, 127}[which], 1); break;
    case GGUF_VT_UINT16: put_le(b, (uint16_t[]){60000, 1, 2, 65535}[which], 2); break;
    case GGUF_VT_INT16: put_le(b, (uint16_t)(int16_t[]){-30000, -32768, 0, 32767}[which], 2); break;
    case GGUF_VT_UINT32: put_le(b, (uint32_t[]){4000000000u, 0, 1, 4294967295u}[which], 4); break;
    case GGUF_VT_INT32: put_le(b, (uint32_t)(int32_t[]){-2000000000, INT32_MIN, 0, INT32_MAX}[which], 4); break;
    case GGUF_VT_FLOAT32: put_le(b, f32_bits((float[]){1.5f, 0.1f, -2.0f, 1e30f}[which]), 4); break;
    case GGUF_VT_BOOL: put_le(b, (uint8_t[]){1, 1, 0, 7}[which], 1); break;
    case GGUF_VT_STRING: put_str(b, (const char *[]){"he said \"hi\"\n\x01\\", "a", "", "tab\t"}[which]); break;
    case GGUF_VT_UINT64: put_le(b, (uint64_t[]){(1ull << 63) + 5, 0, UINT64_MAX, 7}[which], 8); break;
    case GGUF_VT_INT64: put_le(b, (uint64_t)(int64_t[]){-(1ll << 40), INT64_MIN, 0, INT64_MAX}[which], 8); break;
    case GGUF_VT_FLOAT64: put_le(b, f64_bits((double[]){3.141592653589793, 0.5, -0.25, 1e-300}[which]), 8); break;
    default: abort();
    }
}

/* A vocab-style file (no tensors) holding all_kinds, built byte by byte
 * independently of the writer. */
static bytes build_all_kinds(void) {
    bytes b = {0};
    put(&b, "GGUF", 4);
    put_le(&b, 3, 4);
    put_le(&b, 0, 8);
    put_le(&b, N_ALL_KINDS, 8);
    for (size_t i = 0; i < N_ALL_KINDS; i++) {
        bool array = all_kinds[i].key[0] == 'a';
        put_key(&b, all_kinds[i].key, array ? GGUF_VT_ARRAY : all_kinds[i].type);
        if (!array) {
            put_scalar(&b, all_kinds[i].type, 0);
            continue;
        }
        put_le(&b, all_kinds[i].type, 4);
        put_le(&b, 3, 8);
        for (int k = 1; k <= 3; k++) put_scalar(&b, all_kinds[i].type, k);
    }
    return b;
}

/* ----------------------------------------------------------- temp folder */

static char tmp_dir[256];

static void make_tmp_dir(void) {
    const char *base = getenv("TMPDIR");
    snprintf(tmp_dir, sizeof tmp_dir, "%s/llamac-gguf-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tmp_dir)) {
        perror("mkdtemp");
        exit(1);
    }
}

static void tmp_path(char *out, size_t size, const char *name) { snprintf(out, size, "%s/%s", tmp_dir, name); }

/* Number of entries in the temp folder: failed writes must leave none. */
static int tmp_entries(void) {
    DIR *d = opendir(tmp_dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    if (d) closedir(d);
    return n;
}

static void clear_tmp_dir(void) {
    DIR *d = opendir(tmp_dir);
    struct dirent *e;
    char p[512];
    while (d && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(p, sizeof p, "%s/%s", tmp_dir, e->d_name);
        unlink(p);
    }
    if (d) closedir(d);
}

static bool contains(const char *s, const char *part) { return strstr(s, part) != NULL; }

/* ------------------------------------------------------- all value types */

static void check_all_kinds_values(const lc_gguf_file *f) {
    CHECK(f->n_kv == N_ALL_KINDS);
    CHECK(f->n_tensors == 0);
    for (size_t i = 0; i < N_ALL_KINDS && i < f->n_kv; i++) {
        const lc_gguf_kv *kv = lc_gguf_find(f, all_kinds[i].key);
        CHECKF(kv == &f->kv[i], "%s", all_kinds[i].key);
        if (!kv) continue;
        bool array = all_kinds[i].key[0] == 'a';
        CHECK(kv->type == (array ? GGUF_VT_ARRAY : all_kinds[i].type));
        if (array) CHECK(kv->elem_type == all_kinds[i].type && kv->n == 3);
        char buf[256];
        size_t n = lc_gguf_kv_format(kv, buf, sizeof buf, 10);
        CHECKF(strcmp(buf, all_kinds[i].text) == 0 && n == strlen(buf), "%s: got %s want %s",
               all_kinds[i].key, buf, all_kinds[i].text);
    }
}

static void test_getters(const lc_gguf_file *f) {
    llamac_error err = {{0}};
    uint32_t u = 77;
    int32_t s = 77;
    float x = 0;
    bool b = false;
    lc_gguf_str str;

    CHECK(lc_gguf_get_u32(f, "t.u8", &u, &err) == 1 && u == 200);
    CHECK(lc_gguf_get_u32(f, "t.u16", &u, &err) == 1 && u == 60000);
    CHECK(lc_gguf_get_u32(f, "t.u32", &u, &err) == 1 && u == 4000000000u);
    CHECK(lc_gguf_get_i32(f, "t.i8", &s, &err) == 1 && s == -100);
    CHECK(lc_gguf_get_i32(f, "t.i16", &s, &err) == 1 && s == -30000);
    CHECK(lc_gguf_get_i32(f, "t.i32", &s, &err) == 1 && s == -2000000000);
    CHECK(lc_gguf_get_i32(f, "t.u16", &s, &err) == 1 && s == 60000);
    u = 77;
    CHECK(lc_gguf_get_u32(f, "no.such.key", &u, &err) == 0 && u == 77);

    /* values that do not fit are refused, naming the key and both types */
    const char *misfits[][2] = {{"t.i8", "u32"}, {"t.i32", "u32"}, {"t.u64", "u32"}, {"t.i64", "u32"}};
    for (size_t i = 0; i < 4; i++) {
        err.msg[0] = 0;
        CHECK(lc_gguf_get_u32(f, misfits[i][0], &u, &err) == -1);
        CHECKF(contains(err.msg, misfits[i][0]) && contains(err.msg, "u32") && contains(err.msg, "test.gguf"),
               "%s", err.msg);
    }
    err.msg[0] = 0;
    CHECK(lc_gguf_get_i32(f, "t.u32", &s, &err) == -1 && contains(err.msg, "4000000000"));
    CHECK(lc_gguf_get_i32(f, "t.i64", &s, &err) == -1);
    CHECK(lc_gguf_get_i32(f, "t.f32", &s, &err) == -1 && contains(err.msg, "f32") && contains(err.msg, "i32"));
    CHECK(lc_gguf_get_u32(f, "t.bool", &u, &err) == -1);
    CHECK(lc_gguf_get_u32(f, "a.u32", &u, &err) == -1 && contains(err.msg, "array"));

    CHECK(lc_gguf_get_f32(f, "t.f32", &x, &err) == 1 && x == 1.5f);
    CHECK(lc_gguf_get_f32(f, "t.f64", &x, &err) == 1 && x == 3.14159274f);
    err.msg[0] = 0;
    CHECK(lc_gguf_get_f32(f, "t.u32", &x, &err) == -1 && contains(err.msg, "t.u32"));
    CHECK(lc_gguf_get_bool(f, "t.bool", &b, &err) == 1 && b);
    CHECK(lc_gguf_get_bool(f, "t.u8", &b, &err) == -1);
    CHECK(lc_gguf_get_str(f, "t.str", &str, &err) == 1 && str.len == 15 && memcmp(str.ptr, "he said", 7) == 0);
    err.msg[0] = 0;
    CHECK(lc_gguf_get_str(f, "t.u32", &str, &err) == -1);
    CHECKF(contains(err.msg, "'t.u32'") && contains(err.msg, "string") && contains(err.msg, "u32"), "%s", err.msg);

    const lc_gguf_kv *arr = NULL;
    CHECK(lc_gguf_get_arr(f, "a.i32", GGUF_VT_INT32, &arr, &err) == 1 && arr && arr->n == 3);
    if (arr) {
        CHECK(lc_gguf_arr_i32(arr, 0) == INT32_MIN && lc_gguf_arr_i32(arr, 2) == INT32_MAX);
        CHECK(lc_gguf_arr_i32(arr, 3) == 0); /* out of range reads as 0 */
    }
    CHECK(lc_gguf_get_arr(f, "a.i32", -1, &arr, &err) == 1);
    err.msg[0] = 0;
    CHECK(lc_gguf_get_arr(f, "a.i32", GGUF_VT_FLOAT32, &arr, &err) == -1);
    CHECKF(contains(err.msg, "array[i32]") && contains(err.msg, "array[f32]"), "%s", err.msg);
    CHECK(lc_gguf_get_arr(f, "t.i32", -1, &arr, &err) == -1);
    CHECK(lc_gguf_get_arr(f, "nope", -1, &arr, &err) == 0);
    if (lc_gguf_get_arr(f, "a.u32", GGUF_VT_UINT32, &arr, &err) == 1) CHECK(lc_gguf_arr_u32(arr, 2) == UINT32_MAX);
    if (lc_gguf_get_arr(f, "a.f32", GGUF_VT_FLOAT32, &arr, &err) == 1)
        CHECK(lc_gguf_arr_f32(arr, 0) == 0.1f && lc_gguf_arr_f32(arr, 1) == -2.0f);
    if (lc_gguf_get_arr(f, "a.str", GGUF_VT_STRING, &arr, &err) == 1) {
        lc_gguf_str items[3];
        lc_gguf_arr_strings(arr, items);
        CHECK(items[0].len == 1 && items[0].ptr[0] == 'a');
        CHECK(items[1].len == 0);
        CHECK(items[2].len == 4 && memcmp(items[2].ptr, "tab\t", 4) == 0);
    }
}

static void test_format_limits(const lc_gguf_file *f) {
    const lc_gguf_kv *kv = lc_gguf_find(f, "a.u32");
    char buf[64];
    CHECK(lc_gguf_kv_format(kv, buf, sizeof buf, 2) == strlen("[0, 1, ... (3 items)]"));
    CHECKF(strcmp(buf, "[0, 1, ... (3 items)]") == 0, "%s", buf);
    lc_gguf_kv_format(kv, buf, sizeof buf, 0);
    CHECKF(strcmp(buf, "[... (3 items)]") == 0, "%s", buf);
    /* snprintf semantics: truncated but terminated, full length returned */
    memset(buf, 'x', sizeof buf);
    CHECK(lc_gguf_kv_format(kv, buf, 5, 10) == strlen("[0, 1, 4294967295]"));
    CHECK(strcmp(buf, "[0, ") == 0 && buf[5] == 'x');
    CHECK(lc_gguf_kv_format(kv, NULL, 0, 10) == strlen("[0, 1, 4294967295]"));
}

/* The writer copies every record byte for byte: with no tensors the file
 * is the hand-built one plus padding to 32. */
static int write_copy(const lc_gguf_file *src, const char *path, llamac_error *err) {
    lc_gguf_writer *w = lc_gguf_writer_create();
    int rc = w ? 0 : -1;
    for (uint64_t i = 0; rc == 0 && i < src->n_kv; i++) rc = lc_gguf_writer_add_kv_copy(w, &src->kv[i]);
    if (rc == 0) rc = lc_gguf_writer_begin(w, path, err);
    if (rc == 0) rc = lc_gguf_writer_finish(w, err);
    lc_gguf_writer_free(w);
    return rc;
}

static void test_all_kinds(void) {
    bytes raw = build_all_kinds();
    lc_gguf_file *f = NULL;
    llamac_error err = {{0}};
    CHECKF(lc_gguf_open_buffer(raw.p, raw.len, "test.gguf", &f, &err) == 0, "%s", err.msg);
    if (!f) {
        free(raw.p);
        return;
    }
    CHECK(f->version == 3 && f->alignment == 32 && f->data_offset == raw.len);
    check_all_kinds_values(f);
    test_getters(f);
    test_format_limits(f);

    char path[512];
    tmp_path(path, sizeof path, "all_kinds.gguf");
    CHECKF(write_copy(f, path, &err) == 0, "%s", err.msg);
    lc_gguf_close(f);

    size_t size = 0;
    char *written = lc_test_read_file(path, &size);
    CHECK(written && size == (raw.len + 31) / 32 * 32);
    if (written && size >= raw.len) {
        CHECK(memcmp(written, raw.p, raw.len) == 0);
        bool zero_pad = true;
        for (size_t i = raw.len; i < size; i++) zero_pad = zero_pad && written[i] == 0;
        CHECK(zero_pad);
    }
    free(written);
    f = NULL;
    CHECKF(lc_gguf_open(path, &f, &err) == 0, "%s", err.msg);
    if (f) check_all_kinds_values(f);
    lc_gguf_close(f);
    free(raw.p);
    clear_tmp_dir();
}

/* ---------------------------------------------------- tensors round trip */

typedef struct tensor_spec {
    const char *name;
    uint32_t type;
    uint32_t n_dims;
    int64_t ne[4];
} tensor_spec;

static const tensor_spec specs[] = {
    {"a", LC_TYPE_F32, 2, {5, 3}},       /* 60 bytes: padded */
    {"b", LC_TYPE_F16, 1, {7}},          /* 14 bytes */
    {"blk.0.c", LC_TYPE_Q4_0, 2, {64, 2}},
    {"d", LC_TYPE_Q8_0, 1, {32}},
    {"e", LC_TYPE_Q4_K, 3, {256, 1, 2}},
    {"empty", LC_TYPE_F32, 2, {0, 4}},   /* 0 bytes */
    {"last", LC_TYPE_BF16, 4, {3, 1, 1, 2}},
};
#define N_SPECS (sizeof specs / sizeof specs[0])

static uint64_t spec_nbytes(const tensor_spec *s) {
    const lc_type_traits *tt = lc_type_traits_get((int)s->type);
    uint64_t n = (uint64_t)(s->ne[0] / tt->block_size) * tt->type_size;
    for (uint32_t d = 1; d < s->n_dims; d++) n *= (uint64_t)s->ne[d];
    return n;
}

/* Deterministic content for tensor i. */
static void fill_tensor(uint8_t *p, uint64_t n, size_t i) {
    uint64_t seed = 0x9e3779b97f4a7c15ull * (i + 1);
    for (uint64_t k = 0; k < n; k++) p[k] = (uint8_t)(lc_test_rand(&seed) >> 56);
}

static void add_metadata(lc_gguf_writer *w) {
    lc_gguf_str tokens[3] = {{"<unk>", 5}, {"\xe2\x96\x81the", 6}, {"<0x0A>", 6}};
    float scores[3] = {0.0f, -1.5f, -2.25f};
    int32_t types[3] = {2, 1, 6};
    lc_gguf_writer_add_str(w, "general.architecture", "llama", 5);
    lc_gguf_writer_add_u32(w, "llama.block_count", 2);
    lc_gguf_writer_add_i32(w, "x.i32", -5);
    lc_gguf_writer_add_f32(w, "llama.attention.layer_norm_rms_epsilon", 1e-5f);
    lc_gguf_writer_add_bool(w, "x.bool", false);
    lc_gguf_writer_add_arr_str(w, "tokenizer.ggml.tokens", tokens, 3);
    lc_gguf_writer_add_arr_f32(w, "tokenizer.ggml.scores", scores, 3);
    lc_gguf_writer_add_arr_i32(w, "tokenizer.ggml.token_type", types, 3);
    lc_gguf_writer_set_u32(w, "llama.block_count", 7); /* replaces */
    lc_gguf_writer_set_u32(w, "x.new", 9);             /* adds */
}

/* Writes specs[] (each tensor in chunks of `chunk` bytes). alignment 0
 * keeps the default. */
static int write_tensor_file(const char *path, uint32_t alignment, size_t chunk, uint64_t *total,
                             llamac_error *err) {
    lc_gguf_writer *w = lc_gguf_writer_create();
    if (!w) return -1;
    add_metadata(w);
    if (alignment) lc_gguf_writer_add_u32(w, "general.alignment", alignment);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < N_SPECS; i++)
        rc = lc_gguf_writer_add_tensor(w, specs[i].name, specs[i].type, specs[i].n_dims, specs[i].ne, err);
    if (total) *total = lc_gguf_writer_total_size(w);
    if (rc == 0) rc = lc_gguf_writer_begin(w, path, err);
    for (size_t i = 0; rc == 0 && i < N_SPECS; i++) {
        uint64_t n = spec_nbytes(&specs[i]);
        uint8_t *data = malloc(n + 1);
        fill_tensor(data, n, i);
        for (uint64_t at = 0; rc == 0 && at < n; at += chunk)
            rc = lc_gguf_writer_write(w, data + at, (size_t)(n - at < chunk ? n - at : chunk), err);
        free(data);
        if (rc == 0) rc = lc_gguf_writer_end_tensor(w, err);
    }
    if (rc == 0) rc = lc_gguf_writer_finish(w, err);
    lc_gguf_writer_free(w);
    return rc;
}

static void check_tensor_file(const lc_gguf_file *f, uint32_t alignment) {
    llamac_error err = {{0}};
    CHECK(f->version == 3);
    CHECK(f->alignment == alignment);
    CHECK(f->data_offset % alignment == 0);
    CHECK(f->n_tensors == N_SPECS);
    uint64_t expect_offset = 0;
    for (size_t i = 0; i < N_SPECS && i < f->n_tensors; i++) {
        const lc_gguf_tensor *t = &f->tensors[i];
        uint64_t n = spec_nbytes(&specs[i]);
        CHECK(strcmp(t->name, specs[i].name) == 0);
        CHECK(lc_gguf_find_tensor(f, specs[i].name) == t);
        CHECK(t->type == specs[i].type && t->n_dims == specs[i].n_dims);
        for (uint32_t d = 0; d < 4; d++) CHECK(t->ne[d] == (d < specs[i].n_dims ? specs[i].ne[d] : 1));
        CHECK(t->nbytes == n);
        CHECKF(t->offset == expect_offset, "%s: offset %llu, want %llu", t->name, (unsigned long long)t->offset,
               (unsigned long long)expect_offset);
        expect_offset += (n + alignment - 1) / alignment * alignment;
        uint8_t *want = malloc(n + 1);
        fill_tensor(want, n, i);
        CHECK(t->data == f->base + f->data_offset + t->offset);
        CHECKF(memcmp(t->data, want, n) == 0, "%s data", t->name);
        free(want);
    }
    CHECK(f->size == f->data_offset + expect_offset);
    CHECK(lc_gguf_find_tensor(f, "missing") == NULL);

    uint32_t u = 0;
    int32_t s = 0;
    float x = 0;
    bool b = true;
    lc_gguf_str str = {0};
    CHECK(lc_gguf_get_str(f, "general.architecture", &str, &err) == 1 && str.len == 5 && !memcmp(str.ptr, "llama", 5));
    CHECK(lc_gguf_get_u32(f, "llama.block_count", &u, &err) == 1 && u == 7);
    CHECK(lc_gguf_get_u32(f, "x.new", &u, &err) == 1 && u == 9);
    CHECK(lc_gguf_get_i32(f, "x.i32", &s, &err) == 1 && s == -5);
    CHECK(lc_gguf_get_f32(f, "llama.attention.layer_norm_rms_epsilon", &x, &err) == 1 && x == 1e-5f);
    CHECK(lc_gguf_get_bool(f, "x.bool", &b, &err) == 1 && !b);
    const lc_gguf_kv *arr = NULL;
    if (lc_gguf_get_arr(f, "tokenizer.ggml.tokens", GGUF_VT_STRING, &arr, &err) == 1) {
        char buf[128];
        lc_gguf_kv_format(arr, buf, sizeof buf, 8);
        CHECKF(strcmp(buf, "[\"<unk>\", \"\xe2\x96\x81the\", \"<0x0A>\"]") == 0, "%s", buf);
    } else {
        CHECK(!"tokens missing");
    }
    if (lc_gguf_get_arr(f, "tokenizer.ggml.scores", GGUF_VT_FLOAT32, &arr, &err) == 1)
        CHECK(lc_gguf_arr_f32(arr, 2) == -2.25f);
    if (lc_gguf_get_arr(f, "tokenizer.ggml.token_type", GGUF_VT_INT32, &arr, &err) == 1)
        CHECK(lc_gguf_arr_i32(arr, 2) == 6);
}

static void test_tensor_round_trip(uint32_t alignment, size_t chunk) {
    char path[512];
    tmp_path(path, sizeof path, "model.gguf");
    llamac_error err = {{0}};
    uint64_t total = 0;
    CHECKF(write_tensor_file(path, alignment, chunk, &total, &err) == 0, "%s", err.msg);
    CHECK(tmp_entries() == 1); /* no temporary file left beside it */
    struct stat st;
    CHECK(stat(path, &st) == 0 && (uint64_t)st.st_size == total && (st.st_mode & 0777) == 0644);
    lc_gguf_file *f = NULL;
    CHECKF(lc_gguf_open(path, &f, &err) == 0, "%s", err.msg);
    if (f) check_tensor_file(f, alignment ? alignment : 32);
    lc_gguf_close(f);
    clear_tmp_dir();
}

/* Writing over an existing file replaces it whole. */
static void test_replace_existing(void) {
    char path[512];
    tmp_path(path, sizeof path, "model.gguf");
    FILE *old = fopen(path, "wb");
    if (old) {
        fputs("old contents", old);
        fclose(old);
    }
    llamac_error err = {{0}};
    CHECKF(write_tensor_file(path, 0, 1 << 20, NULL, &err) == 0, "%s", err.msg);
    lc_gguf_file *f = NULL;
    CHECKF(lc_gguf_open(path, &f, &err) == 0, "%s", err.msg);
    lc_gguf_close(f);
    CHECK(tmp_entries() == 1);
    clear_tmp_dir();
}

/* ----------------------------------------------------------- writer errors */

static void test_add_errors(void) {
    llamac_error err = {{0}};
    lc_gguf_writer *w = lc_gguf_writer_create();
    int64_t ne[4] = {32, 2, 1, 1};
    const char *long_name = "0123456789012345678901234567890123456789012345678901234567890123"; /* 64 */
    CHECK(lc_gguf_writer_add_tensor(w, long_name, LC_TYPE_F32, 1, ne, &err) == -1 && err.msg[0]);
    CHECK(lc_gguf_writer_add_tensor(w, long_name + 1, LC_TYPE_F32, 1, ne, &err) == 0); /* 63 is fine */
    CHECK(lc_gguf_writer_add_tensor(w, "", LC_TYPE_F32, 1, ne, &err) == -1);
    CHECK(lc_gguf_writer_add_tensor(w, "t", LC_TYPE_F32, 0, ne, &err) == -1);
    CHECK(lc_gguf_writer_add_tensor(w, "t", LC_TYPE_F32, 5, ne, &err) == -1);
    uint32_t bad_types[] = {4, 5, 31, 39, 200, 0xffffffffu};
    for (size_t i = 0; i < 6; i++) {
        err.msg[0] = 0;
        CHECK(lc_gguf_writer_add_tensor(w, "t", bad_types[i], 2, ne, &err) == -1 && contains(err.msg, "unknown type"));
    }
    int64_t odd[2] = {33, 1};
    CHECK(lc_gguf_writer_add_tensor(w, "t", LC_TYPE_Q4_0, 2, odd, &err) == -1 && contains(err.msg, "block size"));
    int64_t neg[2] = {4, -1};
    CHECK(lc_gguf_writer_add_tensor(w, "t", LC_TYPE_F32, 2, neg, &err) == -1 && contains(err.msg, "negative"));
    int64_t huge[2] = {INT64_C(1) << 62, INT64_C(1) << 62};
    CHECK(lc_gguf_writer_add_tensor(w, "t", LC_TYPE_F32, 2, huge, &err) == -1 && contains(err.msg, "overflow"));
    CHECK(lc_gguf_writer_add_tensor(w, "t", LC_TYPE_Q4_0, 2, ne, &err) == 0);
    CHECK(lc_gguf_writer_add_tensor(w, "t", LC_TYPE_Q4_0, 2, ne, &err) == -1 && contains(err.msg, "twice"));
    lc_gguf_writer_free(w);
}

/* A failed add poisons begin, so a file never silently lacks a key. */
static void test_begin_refuses(const char *what, void (*setup)(lc_gguf_writer *), const char *expect) {
    char path[512];
    tmp_path(path, sizeof path, "bad.gguf");
    llamac_error err = {{0}};
    lc_gguf_writer *w = lc_gguf_writer_create();
    setup(w);
    CHECKF(lc_gguf_writer_begin(w, path, &err) == -1, "%s", what);
    CHECKF(contains(err.msg, path) && contains(err.msg, expect), "%s: %s", what, err.msg);
    CHECK(tmp_entries() == 0);
    lc_gguf_writer_free(w);
}

static void setup_dup_key(lc_gguf_writer *w) {
    CHECK(lc_gguf_writer_add_u32(w, "k", 1) == 0);
    CHECK(lc_gguf_writer_add_i32(w, "k", 2) == -1);
}
static void setup_bad_alignment(lc_gguf_writer *w) { CHECK(lc_gguf_writer_add_u32(w, "general.alignment", 48) == -1); }
static void setup_zero_alignment(lc_gguf_writer *w) { CHECK(lc_gguf_writer_set_u32(w, "general.alignment", 0) == -1); }
static void setup_i32_alignment(lc_gguf_writer *w) { CHECK(lc_gguf_writer_add_i32(w, "general.alignment", 32) == 0); }
static void setup_huge_tensor(lc_gguf_writer *w) {
    int64_t ne[2] = {INT64_C(1) << 40, INT64_C(1) << 10}; /* 4 PiB of f32 */
    CHECK(lc_gguf_writer_add_tensor(w, "huge", LC_TYPE_F32, 2, ne, NULL) == 0);
}

/* Starts a file with one 16-byte f32 tensor "t". */
static lc_gguf_writer *begin_small(const char *path, llamac_error *err) {
    lc_gguf_writer *w = lc_gguf_writer_create();
    int64_t ne[1] = {4};
    lc_gguf_writer_add_u32(w, "x", 1);
    lc_gguf_writer_add_tensor(w, "t", LC_TYPE_F32, 1, ne, err);
    CHECKF(lc_gguf_writer_begin(w, path, err) == 0, "%s", err->msg);
    return w;
}

static void test_stream_errors(void) {
    char path[512];
    tmp_path(path, sizeof path, "out.gguf");
    llamac_error err = {{0}};
    uint8_t data[32] = {0};

    lc_gguf_writer *w = begin_small(path, &err);
    CHECK(tmp_entries() == 1); /* the temporary file */
    CHECK(lc_gguf_writer_write(w, data, 20, &err) == -1);
    CHECKF(contains(err.msg, path) && contains(err.msg, "'t'"), "%s", err.msg);
    CHECK(tmp_entries() == 0);
    CHECK(lc_gguf_writer_write(w, data, 4, &err) == -1); /* the stream is gone */

    /* the writer can begin again after a failure */
    CHECKF(lc_gguf_writer_begin(w, path, &err) == 0, "%s", err.msg);
    CHECK(lc_gguf_writer_write(w, data, 8, &err) == 0);
    CHECK(lc_gguf_writer_end_tensor(w, &err) == -1 && contains(err.msg, "8 of its 16"));
    CHECK(tmp_entries() == 0);
    lc_gguf_writer_free(w);

    w = begin_small(path, &err);
    CHECK(lc_gguf_writer_finish(w, &err) == -1 && contains(err.msg, "'t'") && contains(err.msg, path));
    CHECK(tmp_entries() == 0);
    lc_gguf_writer_free(w);

    w = begin_small(path, &err);
    CHECK(lc_gguf_writer_write(w, data, 16, &err) == 0 && lc_gguf_writer_end_tensor(w, &err) == 0);
    CHECK(lc_gguf_writer_write(w, data, 1, &err) == -1); /* past the last tensor */
    CHECK(tmp_entries() == 0);
    lc_gguf_writer_free(w);

    w = begin_small(path, &err);
    lc_gguf_writer_abort(w);
    CHECK(tmp_entries() == 0);
    lc_gguf_writer_free(w);

    w = begin_small(path, &err);
    lc_gguf_writer_free(w); /* free without finish removes the temporary file */
    CHECK(tmp_entries() == 0);

    w = lc_gguf_writer_create();
    CHECK(lc_gguf_writer_write(w, data, 1, &err) == -1);
    CHECK(lc_gguf_writer_finish(w, &err) == -1);
    char nodir[600];
    snprintf(nodir, sizeof nodir, "%s/no/such/dir/x.gguf", tmp_dir);
    err.msg[0] = 0;
    CHECK(lc_gguf_writer_begin(w, nodir, &err) == -1 && contains(err.msg, nodir));
    err.msg[0] = 0;
    CHECK(lc_gguf_writer_begin(w, tmp_dir, &err) == -1 && contains(err.msg, tmp_dir));
    lc_gguf_writer_free(w);
    CHECK(tmp_entries() == 0);
}

/* A write that the kernel refuses (here: the file size limit, which makes
 * write() fail with EFBIG once SIGXFSZ is ignored) is a clean error naming
 * the output file, and nothing is left behind. */
static void test_write_failure(void) {
    char path[512];
    tmp_path(path, sizeof path, "full.gguf");
    llamac_error err = {{0}};
    lc_gguf_writer *w = lc_gguf_writer_create();
    int64_t ne[1] = {1 << 18}; /* 1 MiB of f32 */
    lc_gguf_writer_add_tensor(w, "big", LC_TYPE_F32, 1, ne, &err);
    CHECKF(lc_gguf_writer_begin(w, path, &err) == 0, "%s", err.msg);

    struct rlimit old;
    getrlimit(RLIMIT_FSIZE, &old);
    struct rlimit small = {64 << 10, old.rlim_max};
    void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
    bool limited = old.rlim_max == RLIM_INFINITY || old.rlim_max >= small.rlim_cur;
    if (limited) limited = setrlimit(RLIMIT_FSIZE, &small) == 0;
    if (limited) {
        uint8_t *data = calloc(1, (size_t)4 << 18);
        int rc = lc_gguf_writer_write(w, data, (size_t)4 << 18, &err);
        if (rc == 0) rc = lc_gguf_writer_end_tensor(w, &err);
        if (rc == 0) rc = lc_gguf_writer_finish(w, &err);
        setrlimit(RLIMIT_FSIZE, &old);
        CHECK(rc == -1);
        CHECKF(contains(err.msg, path) && contains(err.msg, strerror(EFBIG)), "%s", err.msg);
        free(data);
    } else {
        fprintf(stderr, "test_gguf: cannot lower RLIMIT_FSIZE, write-failure test skipped\n");
    }
    signal(SIGXFSZ, old_handler);
    lc_gguf_writer_free(w);
    CHECK(tmp_entries() == 0);
    CHECK(access(path, F_OK) != 0);
}

/* ------------------------------------------------------------ real files */

static void test_stories(void) {
    lc_gguf_file *f = NULL;
    llamac_error err = {{0}};
    CHECKF(lc_gguf_open(STORIES, &f, &err) == 0, "%s", err.msg);
    if (!f) return;
    CHECK(f->version == 3 && f->n_tensors == 48 && f->n_kv == 19);
    CHECK(f->alignment == 32 && f->data_offset == 14176 && f->size == 1185376);
    uint32_t u = 0;
    int32_t s = 0;
    float x = 0;
    lc_gguf_str str = {0};
    CHECK(lc_gguf_get_u32(f, "llama.embedding_length", &u, &err) == 1 && u == 64);
    CHECK(lc_gguf_get_i32(f, "llama.block_count", &s, &err) == 1 && s == 5);
    CHECK(lc_gguf_get_u32(f, "llama.feed_forward_length", &u, &err) == 1 && u == 172);
    CHECK(lc_gguf_get_u32(f, "tokenizer.ggml.seperator_token_id", &u, &err) == 1 && u == UINT32_MAX);
    CHECK(lc_gguf_get_i32(f, "tokenizer.ggml.seperator_token_id", &s, &err) == -1);
    CHECK(lc_gguf_get_f32(f, "llama.attention.layer_norm_rms_epsilon", &x, &err) == 1 && fabsf(x - 1e-5f) < 1e-9f);
    CHECK(lc_gguf_get_str(f, "general.architecture", &str, &err) == 1 && str.len == 5 && !memcmp(str.ptr, "llama", 5));
    err.msg[0] = 0;
    CHECK(lc_gguf_get_u32(f, "general.architecture", &u, &err) == -1);
    CHECKF(contains(err.msg, STORIES) && contains(err.msg, "general.architecture"), "%s", err.msg);

    const lc_gguf_kv *tokens = NULL;
    CHECK(lc_gguf_get_arr(f, "tokenizer.ggml.tokens", GGUF_VT_STRING, &tokens, &err) == 1);
    if (tokens) {
        CHECK(tokens->n == 512);
        lc_gguf_str *items = malloc(512 * sizeof *items);
        lc_gguf_arr_strings(tokens, items);
        CHECK(items[1].len == 3 && !memcmp(items[1].ptr, "<s>", 3));
        free(items);
        char buf[128];
        lc_gguf_kv_format(tokens, buf, sizeof buf, 3);
        CHECKF(strcmp(buf, "[\"<unk>\", \"<s>\", \"</s>\", ... (512 items)]") == 0, "%s", buf);
    }

    const lc_gguf_tensor *t = lc_gguf_find_tensor(f, "token_embd.weight");
    CHECK(t && t->type == LC_TYPE_F32 && t->n_dims == 2 && t->ne[0] == 64 && t->ne[1] == 512);
    CHECK(t && t->offset == 0 && t->nbytes == 131072);
    if (t) {
        float v[64];
        memcpy(v, t->data, sizeof v);
        bool finite = true;
        for (int i = 0; i < 64; i++) finite = finite && isfinite(v[i]) && fabsf(v[i]) < 100;
        CHECK(finite);
    }
    const lc_gguf_tensor *last = &f->tensors[47];
    CHECK(strcmp(last->name, "blk.4.ffn_norm.weight") == 0 && last->offset == 1170944 && last->nbytes == 256);
    CHECK(f->data_offset + last->offset + last->nbytes == f->size);
    lc_gguf_close(f);
}

static void test_vocab_only(void) {
    lc_gguf_file *f = NULL;
    llamac_error err = {{0}};
    CHECKF(lc_gguf_open(VOCAB_SPM, &f, &err) == 0, "%s", err.msg);
    if (!f) return;
    CHECK(f->n_tensors == 0 && f->n_kv == 22 && f->data_offset == f->size);
    const lc_gguf_kv *kv = lc_gguf_find(f, "tokenizer.ggml.tokens");
    CHECK(kv && kv->type == GGUF_VT_ARRAY && kv->elem_type == GGUF_VT_STRING && kv->n == 32000);
    char buf[128];
    if (kv) {
        lc_gguf_kv_format(kv, buf, sizeof buf, 3);
        CHECKF(strcmp(buf, "[\"<unk>\", \"<s>\", \"</s>\", ... (32000 items)]") == 0, "%s", buf);
    }
    bool add_bos = false, add_eos = true;
    CHECK(lc_gguf_get_bool(f, "tokenizer.ggml.add_bos_token", &add_bos, &err) == 1 && add_bos);
    CHECK(lc_gguf_get_bool(f, "tokenizer.ggml.add_eos_token", &add_eos, &err) == 1 && !add_eos);
    kv = lc_gguf_find(f, "tokenizer.ggml.pre");
    if (kv) lc_gguf_kv_format(kv, buf, sizeof buf, 3);
    CHECK(kv && strcmp(buf, "\"default\"") == 0);
    lc_gguf_close(f);
}

static void test_public_api(void) {
    llamac_error err = {{0}};
    llamac_gguf *g = llamac_gguf_open(STORIES, &err);
    CHECKF(g != NULL, "%s", err.msg);
    if (g) {
        CHECK(llamac_gguf_version(g) == 3 && llamac_gguf_alignment(g) == 32);
        CHECK(llamac_gguf_data_offset(g) == 14176);
        CHECK(llamac_gguf_n_kv(g) == 19 && llamac_gguf_n_tensors(g) == 48);
        CHECK(strcmp(llamac_gguf_kv_key(g, 0), "tokenizer.ggml.tokens") == 0);
        CHECK(strcmp(llamac_gguf_kv_type(g, 0), "array[string]") == 0);
        CHECK(strcmp(llamac_gguf_kv_type(g, 1), "array[f32]") == 0);
        CHECK(strcmp(llamac_gguf_kv_type(g, 3), "string") == 0);
        CHECK(strcmp(llamac_gguf_kv_key(g, 18), "llama.attention.layer_norm_rms_epsilon") == 0);
        CHECK(strcmp(llamac_gguf_kv_type(g, 18), "f32") == 0);
        CHECK(llamac_gguf_kv_key(g, 19) == NULL && llamac_gguf_kv_key(g, -1) == NULL);
        char buf[64];
        CHECK(llamac_gguf_kv_format(g, 11, buf, sizeof buf, 4) == 4 && strcmp(buf, "2048") == 0);
        CHECK(strcmp(llamac_gguf_kv_key(g, 11), "llama.context_length") == 0);
        llamac_tensor_info ti;
        CHECK(llamac_gguf_tensor(g, 1, &ti) == 0);
        CHECK(strcmp(ti.name, "output_norm.weight") == 0 && strcmp(ti.type_name, "f32") == 0 && ti.type == 0);
        CHECK(ti.n_dims == 1 && ti.ne[0] == 64 && ti.ne[1] == 1 && ti.offset == 14176 + 131072 && ti.nbytes == 256);
        CHECK(llamac_gguf_tensor(g, 48, &ti) == -1 && llamac_gguf_tensor(g, -1, &ti) == -1);
        llamac_gguf_free(g);
    }
    err.msg[0] = 0;
    CHECK(llamac_gguf_open("data/no-such-file.gguf", &err) == NULL && contains(err.msg, "data/no-such-file.gguf"));
    err.msg[0] = 0;
    CHECK(llamac_gguf_open("data", &err) == NULL && contains(err.msg, "data"));
    CHECK(llamac_gguf_open("data/stories260K/tok512.bin", NULL) == NULL); /* NULL err is allowed */
}

/* ----------------------------------------------------------------- corpus */

/* The committed fuzzing seeds must stay valid files. */
static void test_seed_corpus(void) {
    const char *seeds[] = {"fuzz/corpus_gguf/all_value_types.gguf", "fuzz/corpus_gguf/tensors_align32.gguf",
                           "fuzz/corpus_gguf/tensors_align64.gguf"};
    for (size_t i = 0; i < 3; i++) {
        lc_gguf_file *f = NULL;
        llamac_error err = {{0}};
        CHECKF(lc_gguf_open(seeds[i], &f, &err) == 0, "%s", err.msg);
        if (f && i > 0) check_tensor_file(f, i == 1 ? 32 : 64);
        lc_gguf_close(f);
    }
}

static int write_corpus(const char *dir) {
    llamac_error err = {{0}};
    char path[512];
    snprintf(path, sizeof path, "%s/tensors_align32.gguf", dir);
    int rc = write_tensor_file(path, 0, 7, NULL, &err);
    snprintf(path, sizeof path, "%s/tensors_align64.gguf", dir);
    if (rc == 0) rc = write_tensor_file(path, 64, 1 << 20, NULL, &err);
    bytes raw = build_all_kinds();
    lc_gguf_file *f = NULL;
    if (rc == 0) rc = lc_gguf_open_buffer(raw.p, raw.len, "all_kinds", &f, &err);
    snprintf(path, sizeof path, "%s/all_value_types.gguf", dir);
    if (rc == 0) rc = write_copy(f, path, &err);
    lc_gguf_close(f);
    free(raw.p);
    if (rc) fprintf(stderr, "write-corpus: %s\n", err.msg);
    return rc ? 1 : 0;
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "--write-corpus") == 0) return write_corpus(argv[2]);
    make_tmp_dir();
    test_all_kinds();
    test_tensor_round_trip(0, 1 << 20);
    test_tensor_round_trip(0, 7);
    test_tensor_round_trip(64, 5);
    test_replace_existing();
    test_add_errors();
    test_begin_refuses("duplicate key", setup_dup_key, "added twice");
    test_begin_refuses("alignment 48", setup_bad_alignment, "power of two");
    test_begin_refuses("alignment 0", setup_zero_alignment, "power of two");
    test_begin_refuses("i32 alignment", setup_i32_alignment, "must be u32");
    test_begin_refuses("no disk space", setup_huge_tensor, "not enough free disk space");
    test_stream_errors();
    test_write_failure();
    test_stories();
    test_vocab_only();
    test_public_api();
    test_seed_corpus();
    clear_tmp_dir();
    rmdir(tmp_dir);
    return TEST_SUMMARY("test_gguf");
}
