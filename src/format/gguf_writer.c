/* GGUF writer. Metadata and tensor infos are collected in memory first, so
 * the header (which holds every tensor's offset) can be written before any
 * tensor data; the data is then streamed one tensor at a time. The file is
 * built under a temporary name in the destination folder and renamed over
 * the final path only once complete and synced, so a reader never sees a
 * partial model. Any error after begin removes the temporary file: the
 * writer cannot resume a half-written stream.
 *
 * Layout written (what llama.cpp requires): GGUF v3, the header, zero
 * padding to the alignment, then tensors in info order with
 * offset_0 = 0 and offset_{i+1} = offset_i + PAD(nbytes_i, alignment). */
#include "format/gguf.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "quant/types.h"
#include "runtime/err.h"

#define GGUF_VERSION_WRITTEN 3
#define WRITE_BUFFER_BYTES (1u << 20)

/* One metadata record: key plus the serialized bytes after the type field
 * (for arrays: element type, count, elements). */
typedef struct wkv {
    char *key;
    size_t key_len;
    uint32_t type;
    uint8_t *val;
    size_t val_len;
} wkv;

typedef struct wtensor {
    char name[GGUF_MAX_NAME];
    size_t name_len;
    uint32_t n_dims;
    int64_t ne[GGUF_MAX_DIMS];
    uint32_t type;
    uint64_t nbytes;
} wtensor;

enum writer_state { W_COLLECTING, W_WRITING, W_DONE };

struct lc_gguf_writer {
    wkv *kv;
    size_t n_kv, cap_kv;
    wtensor *tensors;
    size_t n_tensors, cap_tensors;
    /* add_* calls have no error parameter: the first failure is kept here
     * and reported by begin, so an unchecked failure cannot yield a file
     * that silently lacks a key. */
    char add_error[LLAMAC_ERROR_MAX];

    enum writer_state state;
    int fd;
    char *path;
    char *tmp_path;
    uint32_t alignment;
    uint64_t pos;         /* bytes handed to the file so far (incl. buffer) */
    uint64_t file_pos;    /* bytes the kernel has accepted */
    uint64_t total;       /* size the file must end with */
    size_t cur;           /* tensor being written */
    uint64_t cur_written; /* its bytes so far */
    uint8_t *buf;
    size_t buf_len;
};

static const uint8_t zeros[4096];

static uint64_t pad_to(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

/* Every tensor and the whole file stay below 2^62 bytes (no disk holds
 * that much), so that padding a size to an alignment (< 2^32) and adding a
 * padded size to a running total below 2^62 can never wrap. */
#define W_MAX_BYTES ((uint64_t)1 << 62)

static void put_le32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static void put_le64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_le32(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static uint64_t get_le64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

lc_gguf_writer *lc_gguf_writer_create(void) {
    lc_gguf_writer *w = calloc(1, sizeof *w);
    if (w) w->fd = -1;
    return w;
}

/* -------------------------------------------------------------- metadata */

static int note_add_error(lc_gguf_writer *w, const char *fmt, ...) LC_PRINTF(2, 3);

static int note_add_error(lc_gguf_writer *w, const char *fmt, ...) {
    if (!w->add_error[0]) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(w->add_error, sizeof w->add_error, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static wkv *find_kv(lc_gguf_writer *w, const char *key) {
    size_t n = strlen(key);
    for (size_t i = 0; i < w->n_kv; i++)
        if (w->kv[i].key_len == n && memcmp(w->kv[i].key, key, n) == 0) return &w->kv[i];
    return NULL;
}

static bool valid_alignment(uint32_t a) { return a != 0 && (a & (a - 1)) == 0; }

/* Takes ownership of val (freed on failure). */
static int add_record(lc_gguf_writer *w, const char *key, uint32_t type, uint8_t *val, size_t val_len) {
    if (!val) return note_add_error(w, "out of memory adding key '%.200s'", key);
    if (w->state != W_COLLECTING) {
        free(val);
        return note_add_error(w, "key '%.200s' added after the header was written", key);
    }
    if (find_kv(w, key)) {
        free(val);
        return note_add_error(w, "key '%.200s' added twice", key);
    }
    if (w->n_kv == w->cap_kv) {
        size_t cap = w->cap_kv ? w->cap_kv * 2 : 16;
        wkv *grown = realloc(w->kv, cap * sizeof *grown);
        if (!grown) {
            free(val);
            return note_add_error(w, "out of memory adding key '%.200s'", key);
        }
        w->kv = grown;
        w->cap_kv = cap;
    }
    char *k = strdup(key);
    if (!k) {
        free(val);
        return note_add_error(w, "out of memory adding key '%.200s'", key);
    }
    w->kv[w->n_kv++] = (wkv){k, strlen(key), type, val, val_len};
    return 0;
}

static uint8_t *u32_bytes(uint32_t v) {
    uint8_t *p = malloc(4);
    if (p) put_le32(p, v);
    return p;
}

static int check_alignment_key(lc_gguf_writer *w, const char *key, uint32_t v) {
    if (strcmp(key, "general.alignment") == 0 && !valid_alignment(v))
        return note_add_error(w, "key '%.200s' must be a non-zero power of two", key);
    return 0;
}

int lc_gguf_writer_add_u32(lc_gguf_writer *w, const char *key, uint32_t v) {
    if (check_alignment_key(w, key, v)) return -1;
    return add_record(w, key, GGUF_VT_UINT32, u32_bytes(v), 4);
}

int lc_gguf_writer_add_i32(lc_gguf_writer *w, const char *key, int32_t v) {
    return add_record(w, key, GGUF_VT_INT32, u32_bytes((uint32_t)v), 4);
}

int lc_gguf_writer_add_f32(lc_gguf_writer *w, const char *key, float v) {
    uint32_t bits;
    memcpy(&bits, &v, 4);
    return add_record(w, key, GGUF_VT_FLOAT32, u32_bytes(bits), 4);
}

int lc_gguf_writer_add_bool(lc_gguf_writer *w, const char *key, bool v) {
    uint8_t *p = malloc(1);
    if (p) p[0] = v ? 1 : 0;
    return add_record(w, key, GGUF_VT_BOOL, p, 1);
}

int lc_gguf_writer_add_str(lc_gguf_writer *w, const char *key, const char *s, size_t len) {
    if (len > SIZE_MAX - 8) return note_add_error(w, "string for key '%.200s' is too large", key);
    uint8_t *p = malloc(8 + len);
    if (p) {
        put_le64(p, len);
        if (len) memcpy(p + 8, s, len);
    }
    return add_record(w, key, GGUF_VT_STRING, p, 8 + len);
}

/* Array payload: element type, count, then `body` bytes of elements. */
static uint8_t *array_bytes(uint32_t elem_type, uint64_t n, size_t body) {
    uint8_t *p = malloc(12 + body);
    if (p) {
        put_le32(p, elem_type);
        put_le64(p + 4, n);
    }
    return p;
}

int lc_gguf_writer_add_arr_str(lc_gguf_writer *w, const char *key, const lc_gguf_str *items, uint64_t n) {
    size_t body = 0;
    for (uint64_t i = 0; i < n; i++)
        if (items[i].len > SIZE_MAX - 8 || __builtin_add_overflow(body, 8 + (size_t)items[i].len, &body) ||
            body > SIZE_MAX - 12)
            return note_add_error(w, "string array for key '%.200s' is too large", key);
    uint8_t *p = array_bytes(GGUF_VT_STRING, n, body);
    if (p) {
        uint8_t *q = p + 12;
        for (uint64_t i = 0; i < n; i++) {
            put_le64(q, items[i].len);
            if (items[i].len) memcpy(q + 8, items[i].ptr, (size_t)items[i].len);
            q += 8 + items[i].len;
        }
    }
    return add_record(w, key, GGUF_VT_ARRAY, p, 12 + body);
}

/* Arrays of 4-byte numbers, already in host representation. */
static int add_arr_4byte(lc_gguf_writer *w, const char *key, uint32_t elem_type, const void *items,
                         uint64_t n) {
    if (n > (SIZE_MAX - 12) / 4) return note_add_error(w, "array for key '%.200s' is too large", key);
    uint8_t *p = array_bytes(elem_type, n, (size_t)n * 4);
    if (p) {
        for (uint64_t i = 0; i < n; i++) {
            uint32_t bits;
            memcpy(&bits, (const uint8_t *)items + i * 4, 4);
            put_le32(p + 12 + i * 4, bits);
        }
    }
    return add_record(w, key, GGUF_VT_ARRAY, p, 12 + (size_t)n * 4);
}

int lc_gguf_writer_add_arr_f32(lc_gguf_writer *w, const char *key, const float *items, uint64_t n) {
    return add_arr_4byte(w, key, GGUF_VT_FLOAT32, items, n);
}

int lc_gguf_writer_add_arr_i32(lc_gguf_writer *w, const char *key, const int32_t *items, uint64_t n) {
    return add_arr_4byte(w, key, GGUF_VT_INT32, items, n);
}

/* Bytes of n values starting at p (strings are walked; the reader has
 * already checked that they lie inside the file). */
static size_t values_size(uint32_t type, const uint8_t *p, uint64_t n) {
    if (type != GGUF_VT_STRING) return (size_t)n * lc_gguf_vtype_size(type);
    size_t total = 0;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t len = get_le64(p + total);
        total += 8 + (size_t)len;
    }
    return total;
}

static int add_kv_copy_named(lc_gguf_writer *w, const char *key, const lc_gguf_kv *kv) {
    if (kv->type >= GGUF_VT_COUNT) return note_add_error(w, "key '%.200s' has an unknown type", key);
    size_t len;
    uint8_t *p;
    if (kv->type == GGUF_VT_ARRAY) {
        size_t body = values_size(kv->elem_type, kv->data, kv->n);
        p = array_bytes(kv->elem_type, kv->n, body);
        if (p) memcpy(p + 12, kv->data, body);
        len = 12 + body;
    } else {
        len = values_size(kv->type, kv->data, 1);
        p = malloc(len);
        if (p) memcpy(p, kv->data, len);
    }
    if (p && kv->type == GGUF_VT_UINT32 && check_alignment_key(w, key, get_le32(p))) {
        free(p);
        return -1;
    }
    return add_record(w, key, kv->type, p, len);
}

int lc_gguf_writer_add_kv_copy(lc_gguf_writer *w, const lc_gguf_kv *kv) {
    size_t klen = (size_t)kv->key.len;
    char *key = malloc(klen + 1);
    if (!key) return note_add_error(w, "out of memory copying a key of %zu bytes", klen);
    memcpy(key, kv->key.ptr, klen);
    key[klen] = 0;
    int rc = memchr(key, 0, klen) ? note_add_error(w, "key '%.200s' contains a NUL byte", key)
                                  : add_kv_copy_named(w, key, kv);
    free(key);
    return rc;
}

int lc_gguf_writer_set_u32(lc_gguf_writer *w, const char *key, uint32_t v) {
    wkv *kv = find_kv(w, key);
    if (!kv) return lc_gguf_writer_add_u32(w, key, v);
    if (w->state != W_COLLECTING) return note_add_error(w, "key '%.200s' changed after the header was written", key);
    if (check_alignment_key(w, key, v)) return -1;
    uint8_t *p = u32_bytes(v);
    if (!p) return note_add_error(w, "out of memory setting key '%.200s'", key);
    free(kv->val);
    kv->type = GGUF_VT_UINT32;
    kv->val = p;
    kv->val_len = 4;
    return 0;
}

/* --------------------------------------------------------------- tensors */

static int tensor_nbytes(const char *name, const lc_type_traits *tt, const int64_t *ne,
                         uint64_t *out, llamac_error *err) {
    if (ne[0] % tt->block_size != 0)
        return lc_fail(err, "gguf writer: tensor '%s': ne[0] = %" PRId64 " is not a multiple of the %s block size %" PRId64,
                       name, ne[0], tt->name, tt->block_size);
    int64_t count = 1;
    uint64_t nbytes = (uint64_t)(ne[0] / tt->block_size);
    bool overflow = __builtin_mul_overflow(nbytes, (uint64_t)tt->type_size, &nbytes);
    for (int d = 0; d < GGUF_MAX_DIMS; d++) {
        overflow = overflow || __builtin_mul_overflow(count, ne[d], &count);
        if (d > 0) overflow = overflow || __builtin_mul_overflow(nbytes, (uint64_t)ne[d], &nbytes);
    }
    if (overflow || nbytes >= W_MAX_BYTES)
        return lc_fail(err, "gguf writer: tensor '%s': size overflows (shape %" PRId64 " x %" PRId64 " x %" PRId64
                            " x %" PRId64 " of %s)",
                       name, ne[0], ne[1], ne[2], ne[3], tt->name);
    *out = nbytes;
    return 0;
}

static int check_tensor_info(const lc_gguf_writer *w, const char *name, uint32_t type, uint32_t n_dims,
                             const int64_t *ne, llamac_error *err) {
    if (w->state != W_COLLECTING)
        return lc_fail(err, "gguf writer: tensor '%s' added after the header was written", name);
    size_t len = strlen(name);
    if (len == 0 || len >= GGUF_MAX_NAME)
        return lc_fail(err, "gguf writer: tensor name '%s' must be 1..%d bytes", name, GGUF_MAX_NAME - 1);
    if (n_dims < 1 || n_dims > GGUF_MAX_DIMS)
        return lc_fail(err, "gguf writer: tensor '%s': n_dims %" PRIu32 " is outside 1..%d", name, n_dims,
                       GGUF_MAX_DIMS);
    for (uint32_t d = 0; d < n_dims; d++)
        if (ne[d] < 0)
            return lc_fail(err, "gguf writer: tensor '%s': ne[%" PRIu32 "] = %" PRId64 " is negative", name, d,
                           ne[d]);
    const lc_type_traits *tt = type <= (uint32_t)INT32_MAX ? lc_type_traits_get((int)type) : NULL;
    if (!tt || tt->block_size <= 0)
        return lc_fail(err, "gguf writer: tensor '%s': unknown type %" PRIu32, name, type);
    for (size_t i = 0; i < w->n_tensors; i++)
        if (strcmp(w->tensors[i].name, name) == 0)
            return lc_fail(err, "gguf writer: tensor '%s' added twice", name);
    return 0;
}

int lc_gguf_writer_add_tensor(lc_gguf_writer *w, const char *name, uint32_t type, uint32_t n_dims,
                           const int64_t *ne, llamac_error *err) {
    if (check_tensor_info(w, name, type, n_dims, ne, err)) return -1;
    wtensor t = {.n_dims = n_dims, .type = type, .name_len = strlen(name)};
    memcpy(t.name, name, t.name_len + 1);
    for (uint32_t d = 0; d < GGUF_MAX_DIMS; d++) t.ne[d] = d < n_dims ? ne[d] : 1;
    if (tensor_nbytes(name, lc_type_traits_get((int)type), t.ne, &t.nbytes, err)) return -1;
    if (w->n_tensors == w->cap_tensors) {
        size_t cap = w->cap_tensors ? w->cap_tensors * 2 : 64;
        wtensor *grown = realloc(w->tensors, cap * sizeof *grown);
        if (!grown) return lc_fail(err, "gguf writer: out of memory adding tensor '%s'", name);
        w->tensors = grown;
        w->cap_tensors = cap;
    }
    w->tensors[w->n_tensors++] = t;
    return 0;
}

/* ----------------------------------------------------------------- sizes */

/* The alignment the file will use; invalid values are refused at add time
 * and again by begin, so this only falls back for total_size's sake. */
static uint32_t current_alignment(const lc_gguf_writer *w) {
    for (size_t i = 0; i < w->n_kv; i++) {
        const wkv *kv = &w->kv[i];
        if (kv->type == GGUF_VT_UINT32 && strcmp(kv->key, "general.alignment") == 0) {
            uint32_t a = get_le32(kv->val);
            if (valid_alignment(a)) return a;
        }
    }
    return GGUF_DEFAULT_ALIGNMENT;
}

/* Adds x to *n unless that would reach W_MAX_BYTES; false when it would. */
static bool add_size(uint64_t *n, uint64_t x) {
    if (x >= W_MAX_BYTES || *n >= W_MAX_BYTES - x) return false;
    *n += x;
    return true;
}

/* Header bytes (records are in memory, so each size is below SIZE_MAX). */
static bool header_size(const lc_gguf_writer *w, uint64_t *out) {
    uint64_t n = 4 + 4 + 8 + 8;
    bool ok = true;
    for (size_t i = 0; i < w->n_kv; i++)
        ok = ok && add_size(&n, 8 + 4 + (uint64_t)w->kv[i].key_len) && add_size(&n, w->kv[i].val_len);
    for (size_t i = 0; i < w->n_tensors; i++)
        ok = ok && add_size(&n, 8 + w->tensors[i].name_len + 4 + 8ull * w->tensors[i].n_dims + 4 + 8);
    *out = n;
    return ok;
}

/* UINT64_MAX when the file would reach W_MAX_BYTES (begin refuses it). */
uint64_t lc_gguf_writer_total_size(const lc_gguf_writer *w) {
    uint32_t a = current_alignment(w);
    uint64_t header, n = 0;
    if (!header_size(w, &header) || !add_size(&n, pad_to(header, a))) return UINT64_MAX;
    for (size_t i = 0; i < w->n_tensors; i++)
        if (!add_size(&n, pad_to(w->tensors[i].nbytes, a))) return UINT64_MAX;
    return n;
}

/* ---------------------------------------------------------------- output */

/* Closes and removes the temporary file and returns to the collecting
 * state; safe to call in any state. */
void lc_gguf_writer_abort(lc_gguf_writer *w) {
    if (!w) return;
    if (w->fd >= 0) close(w->fd);
    w->fd = -1;
    if (w->tmp_path && w->state == W_WRITING) unlink(w->tmp_path);
    free(w->tmp_path);
    free(w->path);
    free(w->buf);
    w->tmp_path = w->path = NULL;
    w->buf = NULL;
    w->buf_len = 0;
    w->state = W_COLLECTING;
}

/* Reports an I/O error naming the output file, then gives the file up. */
static int fail_io(lc_gguf_writer *w, llamac_error *err, const char *what, int e) {
    lc_fail(err, "%s: %s at byte %" PRIu64 ": %s (temporary file %s removed)", w->path, what, w->file_pos,
            strerror(e), w->tmp_path);
    lc_gguf_writer_abort(w);
    return -1;
}

static int write_all(lc_gguf_writer *w, const uint8_t *p, size_t n, llamac_error *err) {
    while (n > 0) {
        ssize_t k = write(w->fd, p, n);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) return fail_io(w, err, "write failed", errno);
        if (k == 0) return fail_io(w, err, "write failed", EIO);
        p += k;
        n -= (size_t)k;
        w->file_pos += (uint64_t)k;
    }
    return 0;
}

static int flush_buffer(lc_gguf_writer *w, llamac_error *err) {
    if (w->buf_len == 0) return 0;
    size_t n = w->buf_len;
    w->buf_len = 0;
    return write_all(w, w->buf, n, err);
}

/* Buffered output: small pieces (header fields, padding) are gathered,
 * large tensor chunks go straight to the file. */
static int emit(lc_gguf_writer *w, const void *data, size_t n, llamac_error *err) {
    if (n == 0) return 0;
    if (w->buf_len + n > WRITE_BUFFER_BYTES && flush_buffer(w, err)) return -1;
    if (n >= WRITE_BUFFER_BYTES) {
        if (write_all(w, data, n, err)) return -1;
    } else {
        memcpy(w->buf + w->buf_len, data, n);
        w->buf_len += n;
    }
    w->pos += n;
    return 0;
}

static int emit_zeros(lc_gguf_writer *w, uint64_t n, llamac_error *err) {
    while (n > 0) {
        size_t k = n < sizeof zeros ? (size_t)n : sizeof zeros;
        if (emit(w, zeros, k, err)) return -1;
        n -= k;
    }
    return 0;
}

static int emit_u32(lc_gguf_writer *w, uint32_t v, llamac_error *err) {
    uint8_t b[4];
    put_le32(b, v);
    return emit(w, b, 4, err);
}

static int emit_u64(lc_gguf_writer *w, uint64_t v, llamac_error *err) {
    uint8_t b[8];
    put_le64(b, v);
    return emit(w, b, 8, err);
}

static int emit_header(lc_gguf_writer *w, llamac_error *err) {
    if (emit(w, "GGUF", 4, err) || emit_u32(w, GGUF_VERSION_WRITTEN, err) ||
        emit_u64(w, w->n_tensors, err) || emit_u64(w, w->n_kv, err))
        return -1;
    for (size_t i = 0; i < w->n_kv; i++) {
        const wkv *kv = &w->kv[i];
        if (emit_u64(w, kv->key_len, err) || emit(w, kv->key, kv->key_len, err) ||
            emit_u32(w, kv->type, err) || emit(w, kv->val, kv->val_len, err))
            return -1;
    }
    uint64_t offset = 0;
    for (size_t i = 0; i < w->n_tensors; i++) {
        const wtensor *t = &w->tensors[i];
        if (emit_u64(w, t->name_len, err) || emit(w, t->name, t->name_len, err) ||
            emit_u32(w, t->n_dims, err))
            return -1;
        for (uint32_t d = 0; d < t->n_dims; d++)
            if (emit_u64(w, (uint64_t)t->ne[d], err)) return -1;
        if (emit_u32(w, t->type, err) || emit_u64(w, offset, err)) return -1;
        offset += pad_to(t->nbytes, w->alignment);
    }
    return emit_zeros(w, pad_to(w->pos, w->alignment) - w->pos, err);
}

/* "dir/name" -> "dir" and "name" (dir "." without a slash). */
static int split_path(const char *path, char **dir, const char **base) {
    const char *slash = strrchr(path, '/');
    *base = slash ? slash + 1 : path;
    size_t dlen = slash ? (size_t)(slash - path) : 1;
    if (slash && dlen == 0) dlen = 1; /* "/name" */
    *dir = malloc(dlen + 1);
    if (!*dir) return -1;
    memcpy(*dir, slash ? path : ".", dlen);
    (*dir)[dlen] = 0;
    return 0;
}

static int check_before_begin(lc_gguf_writer *w, const char *path, llamac_error *err) {
    if (w->state != W_COLLECTING) return lc_fail(err, "%s: gguf writer already started", path);
    if (w->add_error[0]) return lc_fail(err, "%s: %s", path, w->add_error);
    wkv *a = find_kv(w, "general.alignment");
    if (a && a->type != GGUF_VT_UINT32)
        return lc_fail(err, "%s: key 'general.alignment' must be u32, not %s", path, lc_gguf_vtype_name(a->type));
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) return lc_fail(err, "%s: is a directory", path);
    return 0;
}

static int check_free_space(const char *path, const char *dir, uint64_t need, llamac_error *err) {
    struct statvfs vfs;
    if (statvfs(dir, &vfs) != 0)
        return lc_fail(err, "%s: cannot write in directory '%s': %s", path, dir, strerror(errno));
    uint64_t avail;
    if (__builtin_mul_overflow((uint64_t)vfs.f_bavail, (uint64_t)vfs.f_frsize, &avail)) avail = UINT64_MAX;
    if (need > avail)
        return lc_fail(err, "%s: not enough free disk space: the file needs %" PRIu64 " bytes, '%s' has %" PRIu64
                       " available", path, need, dir, avail);
    return 0;
}

static int create_temp(lc_gguf_writer *w, const char *dir, const char *base, llamac_error *err) {
    size_t n = strlen(dir) + strlen(base) + 16;
    w->tmp_path = malloc(n);
    if (!w->tmp_path) return lc_fail(err, "%s: out of memory", w->path);
    snprintf(w->tmp_path, n, "%s/.%s.tmp.XXXXXX", dir, base);
    w->fd = mkstemp(w->tmp_path);
    if (w->fd < 0) return lc_fail(err, "%s: cannot create temporary file %s: %s", w->path, w->tmp_path, strerror(errno));
    /* mkstemp creates 0600; a model file is meant to be readable. */
    if (fchmod(w->fd, 0644) != 0) {
        int e = errno;
        close(w->fd);
        w->fd = -1;
        unlink(w->tmp_path);
        return lc_fail(err, "%s: cannot set permissions on %s: %s", w->path, w->tmp_path, strerror(e));
    }
    return 0;
}

int lc_gguf_writer_begin(lc_gguf_writer *w, const char *path, llamac_error *err) {
    if (check_before_begin(w, path, err)) return -1;
    char *dir;
    const char *base;
    if (split_path(path, &dir, &base)) return lc_fail(err, "%s: out of memory", path);
    int rc = -1;
    w->alignment = current_alignment(w);
    w->total = lc_gguf_writer_total_size(w);
    if (*base == 0) {
        lc_fail(err, "%s: not a file name", path);
    } else if (w->total == UINT64_MAX) {
        lc_fail(err, "%s: the tensors would make a file of 2^62 bytes or more", path);
    } else if (check_free_space(path, dir, w->total, err) == 0) {
        w->path = strdup(path);
        w->buf = malloc(WRITE_BUFFER_BYTES);
        if (!w->path || !w->buf) lc_fail(err, "%s: out of memory", path);
        else if (create_temp(w, dir, base, err) == 0) rc = 0;
    }
    free(dir);
    if (rc != 0) {
        lc_gguf_writer_abort(w);
        return -1;
    }
    w->state = W_WRITING;
    w->pos = 0;
    w->file_pos = 0;
    w->cur = 0;
    w->cur_written = 0;
    return emit_header(w, err);
}

static int check_writing(lc_gguf_writer *w, llamac_error *err) {
    if (w->state != W_WRITING) return lc_fail(err, "gguf writer: no file is being written");
    if (w->cur >= w->n_tensors) {
        lc_fail(err, "%s: more tensor data than the %zu tensors declared", w->path, w->n_tensors);
        lc_gguf_writer_abort(w);
        return -1;
    }
    return 0;
}

int lc_gguf_writer_write(lc_gguf_writer *w, const void *data, size_t n, llamac_error *err) {
    if (check_writing(w, err)) return -1;
    const wtensor *t = &w->tensors[w->cur];
    if (n > t->nbytes - w->cur_written) {
        lc_fail(err, "%s: tensor '%s': writing %zu more bytes would exceed its %" PRIu64 " bytes (%" PRIu64
                " written)", w->path, t->name, n, t->nbytes, w->cur_written);
        lc_gguf_writer_abort(w);
        return -1;
    }
    if (emit(w, data, n, err)) return -1;
    w->cur_written += n;
    return 0;
}

int lc_gguf_writer_end_tensor(lc_gguf_writer *w, llamac_error *err) {
    if (check_writing(w, err)) return -1;
    const wtensor *t = &w->tensors[w->cur];
    if (w->cur_written != t->nbytes) {
        lc_fail(err, "%s: tensor '%s': %" PRIu64 " of its %" PRIu64 " bytes were written", w->path, t->name,
                w->cur_written, t->nbytes);
        lc_gguf_writer_abort(w);
        return -1;
    }
    if (emit_zeros(w, pad_to(t->nbytes, w->alignment) - t->nbytes, err)) return -1;
    w->cur++;
    w->cur_written = 0;
    return 0;
}

/* Makes the rename durable; file systems that cannot sync a directory
 * (EINVAL) are accepted. */
static int sync_dir(const char *path, llamac_error *err) {
    char *dir;
    const char *base;
    if (split_path(path, &dir, &base)) return lc_fail(err, "%s: out of memory", path);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = 0;
    if (fd < 0 || (fsync(fd) != 0 && errno != EINVAL))
        rc = lc_fail(err, "%s: written, but syncing directory '%s' failed: %s", path, dir, strerror(errno));
    if (fd >= 0) close(fd);
    free(dir);
    return rc;
}

int lc_gguf_writer_finish(lc_gguf_writer *w, llamac_error *err) {
    if (w->state != W_WRITING) return lc_fail(err, "gguf writer: no file is being written");
    if (w->cur < w->n_tensors) {
        lc_fail(err, "%s: tensor '%s' (%zu of %zu) was not written", w->path, w->tensors[w->cur].name,
                w->cur + 1, w->n_tensors);
        lc_gguf_writer_abort(w);
        return -1;
    }
    if (flush_buffer(w, err)) return -1;
    if (w->pos != w->total) {
        lc_fail(err, "%s: wrote %" PRIu64 " bytes but the layout needs %" PRIu64, w->path, w->pos, w->total);
        lc_gguf_writer_abort(w);
        return -1;
    }
    if (fsync(w->fd) != 0) return fail_io(w, err, "fsync failed", errno);
    int fd = w->fd;
    w->fd = -1;
    if (close(fd) != 0) return fail_io(w, err, "close failed", errno);
    if (rename(w->tmp_path, w->path) != 0) return fail_io(w, err, "rename failed", errno);
    w->state = W_DONE; /* the temporary name no longer exists */
    int rc = sync_dir(w->path, err);
    lc_gguf_writer_abort(w);
    w->state = W_DONE;
    return rc;
}

void lc_gguf_writer_free(lc_gguf_writer *w) {
    if (!w) return;
    lc_gguf_writer_abort(w);
    for (size_t i = 0; i < w->n_kv; i++) {
        free(w->kv[i].key);
        free(w->kv[i].val);
    }
    free(w->kv);
    free(w->tensors);
    free(w);
}
