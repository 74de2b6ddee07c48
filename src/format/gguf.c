/* GGUF reader: validates the whole header of an mmapped (or caller-owned)
 * buffer up front, so that everything handed out afterwards (keys, values,
 * tensor views) is known to lie inside the buffer. Nothing is copied except
 * the tables of records and the tensor names.
 *
 * Every number is decoded from little-endian bytes explicitly, so the reader
 * does not depend on the host byte order or on alignment. */
#include "format/gguf.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "quant/types.h"
#include "runtime/err.h"

#define GGUF_HEADER_BYTES 24
/* The smallest possible records, used to reject counts that the remaining
 * bytes could never hold before anything is allocated for them. */
#define KV_MIN_BYTES 13          /* key length, value type, one payload byte */
#define TENSOR_INFO_MIN_BYTES 32 /* name length, n_dims, one dim, type, offset */
/* Field names from the file are shown in messages at most this long. */
#define FIELD_MAX 96

/* ------------------------------------------------------------ byte access */

static uint16_t le16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }

static uint32_t le32(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}

static uint64_t le64(const uint8_t *p) { return (uint64_t)le32(p) | ((uint64_t)le32(p + 4) << 32); }

static float le_f32(const uint8_t *p) {
    uint32_t u = le32(p);
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static double le_f64(const uint8_t *p) {
    uint64_t u = le64(p);
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

size_t lc_gguf_vtype_size(uint32_t type) {
    switch (type) {
    case GGUF_VT_UINT8: case GGUF_VT_INT8: case GGUF_VT_BOOL: return 1;
    case GGUF_VT_UINT16: case GGUF_VT_INT16: return 2;
    case GGUF_VT_UINT32: case GGUF_VT_INT32: case GGUF_VT_FLOAT32: return 4;
    case GGUF_VT_UINT64: case GGUF_VT_INT64: case GGUF_VT_FLOAT64: return 8;
    default: return 0;
    }
}

static bool is_integer_type(uint32_t type) {
    switch (type) {
    case GGUF_VT_UINT8: case GGUF_VT_INT8: case GGUF_VT_UINT16: case GGUF_VT_INT16:
    case GGUF_VT_UINT32: case GGUF_VT_INT32: case GGUF_VT_UINT64: case GGUF_VT_INT64:
        return true;
    default:
        return false;
    }
}

static bool is_signed_type(uint32_t type) {
    return type == GGUF_VT_INT8 || type == GGUF_VT_INT16 || type == GGUF_VT_INT32 ||
           type == GGUF_VT_INT64;
}

/* An integer value as sign + magnitude, so every stored integer type is
 * compared against every target range without overflow. */
typedef struct int_value {
    bool negative;
    uint64_t magnitude;
} int_value;

static int_value read_int(uint32_t type, const uint8_t *p) {
    int64_t s = 0;
    uint64_t u = 0;
    switch (type) {
    case GGUF_VT_UINT8: u = p[0]; break;
    case GGUF_VT_UINT16: u = le16(p); break;
    case GGUF_VT_UINT32: u = le32(p); break;
    case GGUF_VT_UINT64: u = le64(p); break;
    case GGUF_VT_INT8: s = (int8_t)p[0]; break;
    case GGUF_VT_INT16: s = (int16_t)le16(p); break;
    case GGUF_VT_INT32: s = (int32_t)le32(p); break;
    case GGUF_VT_INT64: s = (int64_t)le64(p); break;
    default: break;
    }
    if (!is_signed_type(type)) return (int_value){false, u};
    if (s < 0) return (int_value){true, (uint64_t)(-(s + 1)) + 1};
    return (int_value){false, (uint64_t)s};
}

const char *lc_gguf_vtype_name(uint32_t type) {
    static const char *const names[GGUF_VT_COUNT] = {
        "u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "string", "array", "u64", "i64", "f64",
    };
    return type < GGUF_VT_COUNT ? names[type] : "unknown";
}

/* Copies a name from the file into dst for a message: printable ASCII only,
 * so a hostile key cannot break the one-line message format. */
static void printable(char *dst, size_t cap, const char *s, uint64_t len) {
    size_t n = 0;
    size_t keep = cap - 4; /* room for "..." and the NUL */
    for (uint64_t i = 0; i < len && n < keep; i++) {
        unsigned char ch = (unsigned char)s[i];
        dst[n++] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : '?';
    }
    if (len > keep) {
        memcpy(dst + n, "...", 3);
        n += 3;
    }
    dst[n] = 0;
}

/* ----------------------------------------------------------------- cursor */

typedef struct cursor {
    const uint8_t *base;
    size_t size;
    size_t pos;
    const char *path;
    llamac_error *err;
} cursor;

static size_t cur_left(const cursor *c) { return c->size - c->pos; }

/* Claims n bytes at the cursor, or fails naming what was being read. */
static int cur_take(cursor *c, uint64_t n, const char *what, const char *field, const uint8_t **out) {
    if (n > cur_left(c))
        return lc_fail(c->err,
                       "%s: unexpected end of file reading %s: %" PRIu64 " bytes needed, %zu left "
                       "(field '%s', offset %zu)",
                       c->path, what, n, cur_left(c), field, c->pos);
    *out = c->base + c->pos;
    c->pos += (size_t)n;
    return 0;
}

static int cur_u32(cursor *c, const char *what, const char *field, uint32_t *out) {
    const uint8_t *p = NULL;
    if (cur_take(c, 4, what, field, &p)) return -1;
    *out = le32(p);
    return 0;
}

static int cur_u64(cursor *c, const char *what, const char *field, uint64_t *out) {
    const uint8_t *p = NULL;
    if (cur_take(c, 8, what, field, &p)) return -1;
    *out = le64(p);
    return 0;
}

/* A length-prefixed string; the length is checked against the bytes left
 * before it is used. */
static int cur_str(cursor *c, const char *what, const char *field, lc_gguf_str *out) {
    size_t at = c->pos;
    uint64_t len;
    if (cur_u64(c, what, field, &len)) return -1;
    if (len > cur_left(c))
        return lc_fail(c->err,
                       "%s: %s length %" PRIu64 " runs past end of file (%zu bytes left) "
                       "(field '%s', offset %zu)",
                       c->path, what, len, cur_left(c), field, at);
    const uint8_t *p = NULL;
    cur_take(c, len, what, field, &p);
    out->ptr = (const char *)p;
    out->len = len;
    return 0;
}

/* -------------------------------------------------------------- metadata */

/* Skips n values of a non-array type, checking every string length. */
static int skip_values(cursor *c, uint32_t type, uint64_t n, const char *field) {
    if (type != GGUF_VT_STRING) {
        const uint8_t *p = NULL;
        /* n was checked against the bytes left, so this cannot overflow */
        return cur_take(c, n * lc_gguf_vtype_size(type), "value", field, &p);
    }
    for (uint64_t i = 0; i < n; i++) {
        lc_gguf_str s;
        if (cur_str(c, "string value", field, &s)) return -1;
    }
    return 0;
}

static int parse_array_header(cursor *c, lc_gguf_kv *kv, const char *field) {
    size_t at = c->pos;
    if (cur_u32(c, "array element type", field, &kv->elem_type)) return -1;
    if (kv->elem_type == GGUF_VT_ARRAY)
        return lc_fail(c->err, "%s: nested arrays are not supported (field '%s', offset %zu)",
                       c->path, field, at);
    if (kv->elem_type >= GGUF_VT_COUNT)
        return lc_fail(c->err, "%s: unknown array element type %" PRIu32 " (field '%s', offset %zu)",
                       c->path, kv->elem_type, field, at);
    at = c->pos;
    if (cur_u64(c, "array length", field, &kv->n)) return -1;
    size_t min_elem = kv->elem_type == GGUF_VT_STRING ? 8 : lc_gguf_vtype_size(kv->elem_type);
    if (kv->n > cur_left(c) / min_elem)
        return lc_fail(c->err,
                       "%s: array of %" PRIu64 " %s values cannot fit in the %zu bytes left "
                       "(field '%s', offset %zu)",
                       c->path, kv->n, lc_gguf_vtype_name(kv->elem_type), cur_left(c), field, at);
    return 0;
}

static int parse_kv(cursor *c, uint64_t index, lc_gguf_kv *kv) {
    char field[FIELD_MAX];
    snprintf(field, sizeof field, "kv[%" PRIu64 "]", index);
    kv->offset = c->pos;
    if (cur_str(c, "key", field, &kv->key)) return -1;
    if (kv->key.len) printable(field, sizeof field, kv->key.ptr, kv->key.len);

    size_t at = c->pos;
    if (cur_u32(c, "value type", field, &kv->type)) return -1;
    if (kv->type >= GGUF_VT_COUNT)
        return lc_fail(c->err, "%s: unknown value type %" PRIu32 " (field '%s', offset %zu)",
                       c->path, kv->type, field, at);
    uint32_t elem = kv->type;
    kv->n = 1;
    kv->elem_type = 0;
    if (kv->type == GGUF_VT_ARRAY) {
        if (parse_array_header(c, kv, field)) return -1;
        elem = kv->elem_type;
    }
    kv->data = c->base + c->pos;
    return skip_values(c, elem, kv->n, field);
}

static int cmp_kv_key(const void *a, const void *b) {
    const lc_gguf_kv *x = *(const lc_gguf_kv *const *)a;
    const lc_gguf_kv *y = *(const lc_gguf_kv *const *)b;
    uint64_t n = x->key.len < y->key.len ? x->key.len : y->key.len;
    int r = n ? memcmp(x->key.ptr, y->key.ptr, (size_t)n) : 0;
    if (r) return r;
    return (x->key.len > y->key.len) - (x->key.len < y->key.len);
}

/* Sorting pointers keeps the check O(n log n): a file may hold up to
 * size/13 records and a quadratic scan would let a small file stall. The
 * order is kept as the index lc_gguf_find searches. */
static int index_keys(lc_gguf_file *f, llamac_error *err) {
    const lc_gguf_kv **order = malloc(((size_t)f->n_kv + 1) * sizeof *order);
    if (!order) return lc_fail(err, "%s: out of memory checking %" PRIu64 " keys", f->path, f->n_kv);
    for (uint64_t i = 0; i < f->n_kv; i++) order[i] = &f->kv[i];
    qsort(order, (size_t)f->n_kv, sizeof *order, cmp_kv_key);
    f->kv_by_key = order;
    for (uint64_t i = 1; i < f->n_kv; i++) {
        if (cmp_kv_key(&order[i - 1], &order[i]) != 0) continue;
        const lc_gguf_kv *later = order[i]->offset > order[i - 1]->offset ? order[i] : order[i - 1];
        char field[FIELD_MAX];
        printable(field, sizeof field, later->key.ptr, later->key.len);
        return lc_fail(err, "%s: duplicate key (field '%s', offset %" PRIu64 ")", f->path, field,
                       later->offset);
    }
    return 0;
}

/* general.alignment, when present, must be a u32 power of two. */
static int read_alignment(lc_gguf_file *f, llamac_error *err) {
    f->alignment = GGUF_DEFAULT_ALIGNMENT;
    const lc_gguf_kv *kv = lc_gguf_find(f, "general.alignment");
    if (!kv) return 0;
    if (kv->type != GGUF_VT_UINT32)
        return lc_fail(err, "%s: alignment must be u32, not %s (field 'general.alignment', offset %" PRIu64 ")",
                       f->path, lc_gguf_vtype_name(kv->type), kv->offset);
    uint32_t a = le32(kv->data);
    if (a == 0 || (a & (a - 1)) != 0)
        return lc_fail(err,
                       "%s: alignment %" PRIu32 " is not a non-zero power of two "
                       "(field 'general.alignment', offset %" PRIu64 ")",
                       f->path, a, kv->offset);
    f->alignment = a;
    return 0;
}

/* --------------------------------------------------------------- tensors */

static int parse_tensor_name(cursor *c, lc_gguf_tensor *t, char *field) {
    size_t at = c->pos;
    lc_gguf_str name;
    if (cur_str(c, "tensor name", field, &name)) return -1;
    if (name.len >= GGUF_MAX_NAME)
        return lc_fail(c->err,
                       "%s: tensor name is %" PRIu64 " bytes, the limit is %d (field '%s', offset %zu)",
                       c->path, name.len, GGUF_MAX_NAME - 1, field, at);
    if (memchr(name.ptr, 0, (size_t)name.len))
        return lc_fail(c->err, "%s: tensor name contains a NUL byte (field '%s', offset %zu)",
                       c->path, field, at);
    memcpy(t->name, name.ptr, (size_t)name.len);
    t->name[name.len] = 0;
    if (name.len) printable(field, FIELD_MAX, name.ptr, name.len);
    return 0;
}

static int parse_tensor_shape(cursor *c, lc_gguf_tensor *t, const char *field) {
    size_t at = c->pos;
    if (cur_u32(c, "n_dims", field, &t->n_dims)) return -1;
    if (t->n_dims < 1 || t->n_dims > GGUF_MAX_DIMS)
        return lc_fail(c->err, "%s: n_dims %" PRIu32 " is outside 1..%d (field '%s', offset %zu)",
                       c->path, t->n_dims, GGUF_MAX_DIMS, field, at);
    for (uint32_t d = 0; d < GGUF_MAX_DIMS; d++) {
        t->ne[d] = 1;
        if (d >= t->n_dims) continue;
        at = c->pos;
        uint64_t v;
        if (cur_u64(c, "dimension", field, &v)) return -1;
        if (v > (uint64_t)INT64_MAX)
            return lc_fail(c->err, "%s: dimension %" PRIu32 " is negative (%" PRId64 ") (field '%s', offset %zu)",
                           c->path, d, (int64_t)v, field, at);
        t->ne[d] = (int64_t)v;
    }
    return 0;
}

static const lc_type_traits *known_type(uint32_t type) {
    if (type > (uint32_t)INT32_MAX) return NULL;
    const lc_type_traits *tt = lc_type_traits_get((int)type);
    return tt && tt->block_size > 0 ? tt : NULL;
}

/* Element count must fit in int64 (as ggml requires) and the byte size in
 * uint64; both are computed with overflow checks. */
static int tensor_nbytes(cursor *c, lc_gguf_tensor *t, const lc_type_traits *tt, const char *field,
                         size_t at) {
    int64_t count = 1;
    for (int d = 0; d < GGUF_MAX_DIMS; d++) {
        if (__builtin_mul_overflow(count, t->ne[d], &count))
            return lc_fail(c->err, "%s: element count overflows int64 (field '%s', offset %zu)",
                           c->path, field, at);
    }
    if (t->ne[0] % tt->block_size != 0)
        return lc_fail(c->err,
                       "%s: ne[0] = %" PRId64 " is not a multiple of the %s block size %" PRId64
                       " (field '%s', offset %zu)",
                       c->path, t->ne[0], tt->name, tt->block_size, field, at);
    uint64_t nbytes = (uint64_t)(t->ne[0] / tt->block_size);
    bool overflow = __builtin_mul_overflow(nbytes, (uint64_t)tt->type_size, &nbytes);
    for (int d = 1; d < GGUF_MAX_DIMS; d++)
        overflow = overflow || __builtin_mul_overflow(nbytes, (uint64_t)t->ne[d], &nbytes);
    if (overflow)
        return lc_fail(c->err, "%s: tensor byte size overflows (field '%s', offset %zu)", c->path,
                       field, at);
    t->nbytes = nbytes;
    return 0;
}

static int parse_tensor_info(cursor *c, uint64_t index, uint32_t alignment, lc_gguf_tensor *t) {
    char field[FIELD_MAX];
    snprintf(field, sizeof field, "tensor[%" PRIu64 "]", index);
    size_t record = c->pos;
    if (parse_tensor_name(c, t, field)) return -1;
    if (parse_tensor_shape(c, t, field)) return -1;

    size_t at = c->pos;
    if (cur_u32(c, "tensor type", field, &t->type)) return -1;
    const lc_type_traits *tt = known_type(t->type);
    if (!tt)
        return lc_fail(c->err, "%s: unknown tensor type %" PRIu32 " (field '%s', offset %zu)",
                       c->path, t->type, field, at);

    at = c->pos;
    if (cur_u64(c, "tensor offset", field, &t->offset)) return -1;
    if (t->offset % alignment != 0)
        return lc_fail(c->err,
                       "%s: tensor offset %" PRIu64 " is not a multiple of the alignment %" PRIu32
                       " (field '%s', offset %zu)",
                       c->path, t->offset, alignment, field, at);
    return tensor_nbytes(c, t, tt, field, record);
}

static int cmp_tensor_name(const void *a, const void *b) {
    const lc_gguf_tensor *x = *(const lc_gguf_tensor *const *)a;
    const lc_gguf_tensor *y = *(const lc_gguf_tensor *const *)b;
    return strcmp(x->name, y->name);
}

/* Sorted like the keys, for the same two reasons: duplicates, and the
 * index lc_gguf_find_tensor searches. */
static int index_tensors(lc_gguf_file *f, llamac_error *err) {
    const lc_gguf_tensor **order = malloc(((size_t)f->n_tensors + 1) * sizeof *order);
    if (!order)
        return lc_fail(err, "%s: out of memory checking %" PRIu64 " tensor names", f->path, f->n_tensors);
    for (uint64_t i = 0; i < f->n_tensors; i++) order[i] = &f->tensors[i];
    qsort(order, (size_t)f->n_tensors, sizeof *order, cmp_tensor_name);
    f->tensor_by_name = order;
    for (uint64_t i = 1; i < f->n_tensors; i++) {
        if (strcmp(order[i - 1]->name, order[i]->name) != 0) continue;
        const lc_gguf_tensor *later = order[i] > order[i - 1] ? order[i] : order[i - 1];
        char field[FIELD_MAX];
        printable(field, sizeof field, later->name, strlen(later->name));
        return lc_fail(err, "%s: duplicate tensor name (field '%s', offset %" PRIu64 ")", f->path,
                       field, f->data_offset + later->offset);
    }
    return 0;
}

/* Every tensor's bytes must lie inside the file; the sums are arranged so
 * that no addition can wrap. */
static int place_tensors(lc_gguf_file *f, llamac_error *err) {
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        lc_gguf_tensor *t = &f->tensors[i];
        uint64_t size = f->size;
        bool inside = f->data_offset <= size && t->offset <= size - f->data_offset &&
                      t->nbytes <= size - f->data_offset - t->offset;
        if (!inside) {
            char field[FIELD_MAX];
            printable(field, sizeof field, t->name, strlen(t->name));
            return lc_fail(err,
                           "%s: tensor data runs past end of file: data_offset %" PRIu64
                           " + offset %" PRIu64 " + %" PRIu64 " bytes > file size %zu "
                           "(field '%s', offset %" PRIu64 ")",
                           f->path, f->data_offset, t->offset, t->nbytes, f->size, field,
                           f->data_offset + t->offset);
        }
        t->data = f->base + f->data_offset + t->offset;
    }
    return 0;
}

/* ---------------------------------------------------------------- header */

static int parse_header(cursor *c, lc_gguf_file *f) {
    const uint8_t *p = NULL;
    if (cur_take(c, 4, "magic", "magic", &p)) return -1;
    if (memcmp(p, "GGUF", 4) != 0)
        return lc_fail(c->err, "%s: not a GGUF file: bad magic %02x %02x %02x %02x (field 'magic', offset 0)",
                       c->path, p[0], p[1], p[2], p[3]);
    if (cur_u32(c, "version", "version", &f->version)) return -1;
    if (f->version != 2 && f->version != 3) {
        const char *hint = (f->version & 0xffff) == 0 ? " (a big-endian file?)" : "";
        return lc_fail(c->err, "%s: unsupported GGUF version %" PRIu32 "%s; versions 2 and 3 are read "
                       "(field 'version', offset 4)",
                       c->path, f->version, hint);
    }
    uint64_t n_tensors, n_kv;
    if (cur_u64(c, "tensor count", "n_tensors", &n_tensors)) return -1;
    if (cur_u64(c, "metadata count", "n_kv", &n_kv)) return -1;
    if (n_kv > cur_left(c) / KV_MIN_BYTES)
        return lc_fail(c->err,
                       "%s: %" PRIu64 " metadata entries cannot fit in the %zu bytes left "
                       "(field 'n_kv', offset 16)",
                       c->path, n_kv, cur_left(c));
    f->n_tensors = n_tensors; /* checked once the metadata has been read */
    f->n_kv = n_kv;
    return 0;
}

/* Tables grow with the records actually parsed (doubling, capped at the
 * declared count), so a count that is large but still "fits" the file
 * costs memory only as fast as real records back it. */
static void *reserve(void *table, uint64_t *cap, uint64_t need, uint64_t limit, size_t elem) {
    if (need <= *cap) return table;
    uint64_t n = *cap ? *cap * 2 : 64;
    if (n > limit) n = limit;
    void *p = realloc(table, (size_t)n * elem);
    if (p) *cap = n;
    return p; /* NULL: table is still valid and owned by the caller */
}

static int parse_metadata(cursor *c, lc_gguf_file *f) {
    uint64_t cap = 0;
    for (uint64_t i = 0; i < f->n_kv; i++) {
        lc_gguf_kv *grown = reserve(f->kv, &cap, i + 1, f->n_kv, sizeof *f->kv);
        if (!grown)
            return lc_fail(c->err, "%s: out of memory for %" PRIu64 " metadata entries", c->path, f->n_kv);
        f->kv = grown;
        if (parse_kv(c, i, &f->kv[i])) return -1;
    }
    if (index_keys(f, c->err)) return -1;
    return read_alignment(f, c->err);
}

static int parse_tensor_infos(cursor *c, lc_gguf_file *f) {
    if (f->n_tensors > cur_left(c) / TENSOR_INFO_MIN_BYTES)
        return lc_fail(c->err,
                       "%s: %" PRIu64 " tensor infos cannot fit in the %zu bytes left "
                       "(field 'n_tensors', offset 8)",
                       c->path, f->n_tensors, cur_left(c));
    uint64_t cap = 0;
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        lc_gguf_tensor *grown = reserve(f->tensors, &cap, i + 1, f->n_tensors, sizeof *f->tensors);
        if (!grown)
            return lc_fail(c->err, "%s: out of memory for %" PRIu64 " tensor infos", c->path, f->n_tensors);
        f->tensors = grown;
        memset(&f->tensors[i], 0, sizeof f->tensors[i]);
        if (parse_tensor_info(c, i, f->alignment, &f->tensors[i])) return -1;
    }
    /* The blob starts at the next aligned offset. A vocab-only file may end
     * right after its metadata, without the padding (as llama.cpp allows). */
    uint64_t end = c->pos;
    f->data_offset = f->n_tensors ? (end + f->alignment - 1) / f->alignment * f->alignment : end;
    if (index_tensors(f, c->err)) return -1;
    return place_tensors(f, c->err);
}

static int parse_file(lc_gguf_file *f, llamac_error *err) {
    cursor c = {f->base, f->size, 0, f->path, err};
    if (parse_header(&c, f)) return -1;
    if (parse_metadata(&c, f)) return -1;
    return parse_tensor_infos(&c, f);
}

static int open_mapped(const uint8_t *base, size_t size, const char *name, bool owns_map,
                       lc_gguf_file **out, llamac_error *err) {
    lc_gguf_file *f = calloc(1, sizeof *f);
    char *path = strdup(name ? name : "<buffer>");
    if (!f || !path) {
        free(f);
        free(path);
        if (owns_map) munmap((void *)base, size);
        return lc_fail(err, "%s: out of memory", name ? name : "<buffer>");
    }
    f->path = path;
    f->base = base;
    f->size = size;
    f->owns_map = owns_map;
    if (parse_file(f, err)) {
        lc_gguf_close(f);
        return -1;
    }
    *out = f;
    return 0;
}

int lc_gguf_open_buffer(const void *data, size_t size, const char *name, lc_gguf_file **out,
                     llamac_error *err) {
    static const uint8_t empty[1] = {0};
    *out = NULL;
    return open_mapped(size ? data : empty, size, name, false, out, err);
}

/* Note: the mapping is private and read-only; a file truncated by another
 * process after validation would fault on access, as with any mmap reader. */
int lc_gguf_open(const char *path, lc_gguf_file **out, llamac_error *err) {
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return lc_fail(err, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return lc_fail(err, "%s: cannot stat: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return lc_fail(err, "%s: not a regular file", path);
    }
    if ((uint64_t)st.st_size > SIZE_MAX) {
        close(fd);
        return lc_fail(err, "%s: file of %lld bytes is too large to map", path, (long long)st.st_size);
    }
    size_t size = (size_t)st.st_size;
    if (size == 0) {
        close(fd);
        return lc_gguf_open_buffer(NULL, 0, path, out, err);
    }
    void *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd);
    if (map == MAP_FAILED) return lc_fail(err, "%s: cannot map %zu bytes: %s", path, size, strerror(e));
    return open_mapped(map, size, path, true, out, err);
}

void lc_gguf_close(lc_gguf_file *f) {
    if (!f) return;
    if (f->owns_map && f->base) munmap((void *)f->base, f->size);
    free(f->kv_by_key);
    free(f->tensor_by_name);
    free(f->kv);
    free(f->tensors);
    free(f->path);
    free(f);
}

/* ---------------------------------------------------------------- lookups */

/* Same order as cmp_kv_key. */
static int cmp_key_text(lc_gguf_str key, const char *text, size_t n) {
    size_t common = key.len < n ? (size_t)key.len : n;
    int r = common ? memcmp(key.ptr, text, common) : 0;
    if (r) return r;
    return (key.len > n) - (key.len < n);
}

const lc_gguf_kv *lc_gguf_find(const lc_gguf_file *f, const char *key) {
    if (!f->kv_by_key) return NULL; /* only while the keys are being read */
    size_t n = strlen(key), lo = 0, hi = (size_t)f->n_kv;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = cmp_key_text(f->kv_by_key[mid]->key, key, n);
        if (c == 0) return f->kv_by_key[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

const lc_gguf_tensor *lc_gguf_find_tensor(const lc_gguf_file *f, const char *name) {
    if (!f->tensor_by_name) return NULL;
    size_t lo = 0, hi = (size_t)f->n_tensors;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(f->tensor_by_name[mid]->name, name);
        if (c == 0) return f->tensor_by_name[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

/* ---------------------------------------------------------- typed getters */

static int wrong_type(const lc_gguf_file *f, const lc_gguf_kv *kv, const char *key, const char *wanted,
                      llamac_error *err) {
    const char *have = kv->type == GGUF_VT_ARRAY ? "array" : lc_gguf_vtype_name(kv->type);
    return lc_fail(err, "%s: key has type %s, expected %s (field '%s', offset %" PRIu64 ")", f->path,
                   have, wanted, key, kv->offset);
}

static int out_of_range(const lc_gguf_file *f, const lc_gguf_kv *kv, const char *key, int_value v,
                        const char *wanted, llamac_error *err) {
    return lc_fail(err, "%s: value %s%" PRIu64 " (%s) does not fit in %s (field '%s', offset %" PRIu64 ")",
                   f->path, v.negative ? "-" : "", v.magnitude, lc_gguf_vtype_name(kv->type), wanted,
                   key, kv->offset);
}

int lc_gguf_get_u32(const lc_gguf_file *f, const char *key, uint32_t *out, llamac_error *err) {
    const lc_gguf_kv *kv = lc_gguf_find(f, key);
    if (!kv) return 0;
    if (!is_integer_type(kv->type)) return wrong_type(f, kv, key, "u32", err);
    int_value v = read_int(kv->type, kv->data);
    if (v.negative || v.magnitude > UINT32_MAX) return out_of_range(f, kv, key, v, "u32", err);
    *out = (uint32_t)v.magnitude;
    return 1;
}

int lc_gguf_get_i32(const lc_gguf_file *f, const char *key, int32_t *out, llamac_error *err) {
    const lc_gguf_kv *kv = lc_gguf_find(f, key);
    if (!kv) return 0;
    if (!is_integer_type(kv->type)) return wrong_type(f, kv, key, "i32", err);
    int_value v = read_int(kv->type, kv->data);
    uint64_t limit = v.negative ? (uint64_t)INT32_MAX + 1 : (uint64_t)INT32_MAX;
    if (v.magnitude > limit) return out_of_range(f, kv, key, v, "i32", err);
    *out = v.negative ? (int32_t)(-(int64_t)v.magnitude) : (int32_t)v.magnitude;
    return 1;
}

int lc_gguf_get_f32(const lc_gguf_file *f, const char *key, float *out, llamac_error *err) {
    const lc_gguf_kv *kv = lc_gguf_find(f, key);
    if (!kv) return 0;
    if (kv->type == GGUF_VT_FLOAT32) *out = le_f32(kv->data);
    else if (kv->type == GGUF_VT_FLOAT64) *out = (float)le_f64(kv->data);
    else return wrong_type(f, kv, key, "f32", err);
    return 1;
}

int lc_gguf_get_bool(const lc_gguf_file *f, const char *key, bool *out, llamac_error *err) {
    const lc_gguf_kv *kv = lc_gguf_find(f, key);
    if (!kv) return 0;
    if (kv->type != GGUF_VT_BOOL) return wrong_type(f, kv, key, "bool", err);
    *out = kv->data[0] != 0;
    return 1;
}

int lc_gguf_get_str(const lc_gguf_file *f, const char *key, lc_gguf_str *out, llamac_error *err) {
    const lc_gguf_kv *kv = lc_gguf_find(f, key);
    if (!kv) return 0;
    if (kv->type != GGUF_VT_STRING) return wrong_type(f, kv, key, "string", err);
    out->len = le64(kv->data);
    out->ptr = (const char *)kv->data + 8;
    return 1;
}

int lc_gguf_get_arr(const lc_gguf_file *f, const char *key, int elem_type, const lc_gguf_kv **out,
                 llamac_error *err) {
    const lc_gguf_kv *kv = lc_gguf_find(f, key);
    if (!kv) return 0;
    const char *wanted = elem_type < 0 ? "array" : lc_gguf_vtype_name((uint32_t)elem_type);
    if (kv->type != GGUF_VT_ARRAY) {
        if (elem_type < 0) return wrong_type(f, kv, key, "array", err);
        return lc_fail(err, "%s: key has type %s, expected array[%s] (field '%s', offset %" PRIu64 ")",
                       f->path, lc_gguf_vtype_name(kv->type), wanted, key, kv->offset);
    }
    if (elem_type >= 0 && kv->elem_type != (uint32_t)elem_type)
        return lc_fail(err, "%s: key has type array[%s], expected array[%s] (field '%s', offset %" PRIu64 ")",
                       f->path, lc_gguf_vtype_name(kv->elem_type), wanted, key, kv->offset);
    *out = kv;
    return 1;
}

/* ---------------------------------------------------------- array access */

/* Element i of a fixed-size array as a double; 0 for strings or out of range. */
static double arr_number(const lc_gguf_kv *kv, uint64_t i) {
    size_t sz = lc_gguf_vtype_size(kv->elem_type);
    if (kv->type != GGUF_VT_ARRAY || sz == 0 || i >= kv->n) return 0;
    const uint8_t *p = kv->data + i * sz;
    if (kv->elem_type == GGUF_VT_FLOAT32) return le_f32(p);
    if (kv->elem_type == GGUF_VT_FLOAT64) return le_f64(p);
    if (kv->elem_type == GGUF_VT_BOOL) return p[0] != 0;
    int_value v = read_int(kv->elem_type, p);
    return v.negative ? -(double)v.magnitude : (double)v.magnitude;
}

static int_value arr_int(const lc_gguf_kv *kv, uint64_t i) {
    size_t sz = lc_gguf_vtype_size(kv->elem_type);
    if (kv->type != GGUF_VT_ARRAY || !is_integer_type(kv->elem_type) || i >= kv->n)
        return (int_value){false, 0};
    return read_int(kv->elem_type, kv->data + i * sz);
}

float lc_gguf_arr_f32(const lc_gguf_kv *kv, uint64_t i) { return (float)arr_number(kv, i); }

int32_t lc_gguf_arr_i32(const lc_gguf_kv *kv, uint64_t i) {
    int_value v = arr_int(kv, i);
    int64_t m = (int64_t)(v.magnitude & 0xffffffffu);
    return (int32_t)(uint32_t)(v.negative ? -m : m);
}

uint32_t lc_gguf_arr_u32(const lc_gguf_kv *kv, uint64_t i) {
    int_value v = arr_int(kv, i);
    return v.negative ? (uint32_t)(0u - (uint32_t)v.magnitude) : (uint32_t)v.magnitude;
}

void lc_gguf_arr_strings(const lc_gguf_kv *kv, lc_gguf_str *out) {
    if (kv->type != GGUF_VT_ARRAY || kv->elem_type != GGUF_VT_STRING) return;
    const uint8_t *p = kv->data;
    for (uint64_t i = 0; i < kv->n; i++) {
        out[i].len = le64(p);
        out[i].ptr = (const char *)p + 8;
        p += 8 + out[i].len;
    }
}

/* ------------------------------------------------------------- formatting */

/* snprintf-style output: counts every byte, stores what fits. */
typedef struct outbuf {
    char *buf;
    size_t size;
    size_t len;
} outbuf;

static void out_bytes(outbuf *o, const char *s, size_t n) {
    if (o->len < o->size) {
        size_t room = o->size - o->len;
        memcpy(o->buf + o->len, s, n < room ? n : room);
    }
    o->len += n;
}

static void out_text(outbuf *o, const char *s) { out_bytes(o, s, strlen(s)); }

/* Shortest "%g" form that reads back as the same value. */
static void out_float(outbuf *o, double v, bool single) {
    char tmp[64];
    int lo = single ? 6 : 15, hi = single ? 9 : 17;
    for (int prec = lo; prec <= hi; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, v);
        bool same = single ? (float)strtod(tmp, NULL) == (float)v : strtod(tmp, NULL) == v;
        if (same) break;
    }
    out_text(o, tmp);
}

static void out_quoted(outbuf *o, const char *s, uint64_t len) {
    out_bytes(o, "\"", 1);
    for (uint64_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        char esc[8];
        switch (ch) {
        case '"': out_bytes(o, "\\\"", 2); break;
        case '\\': out_bytes(o, "\\\\", 2); break;
        case '\n': out_bytes(o, "\\n", 2); break;
        case '\r': out_bytes(o, "\\r", 2); break;
        case '\t': out_bytes(o, "\\t", 2); break;
        default:
            if (ch < 0x20 || ch == 0x7f) {
                snprintf(esc, sizeof esc, "\\x%02x", ch);
                out_text(o, esc);
            } else {
                out_bytes(o, (const char *)&s[i], 1);
            }
        }
    }
    out_bytes(o, "\"", 1);
}

/* Writes one value of `type` at p and returns the bytes it occupied. */
static size_t out_value(outbuf *o, uint32_t type, const uint8_t *p) {
    char tmp[32];
    if (type == GGUF_VT_STRING) {
        uint64_t len = le64(p);
        out_quoted(o, (const char *)p + 8, len);
        return 8 + (size_t)len;
    }
    if (type == GGUF_VT_FLOAT32 || type == GGUF_VT_FLOAT64) {
        out_float(o, type == GGUF_VT_FLOAT32 ? le_f32(p) : le_f64(p), type == GGUF_VT_FLOAT32);
    } else if (type == GGUF_VT_BOOL) {
        out_text(o, p[0] ? "true" : "false");
    } else {
        int_value v = read_int(type, p);
        snprintf(tmp, sizeof tmp, "%s%" PRIu64, v.negative ? "-" : "", v.magnitude);
        out_text(o, tmp);
    }
    return lc_gguf_vtype_size(type);
}

size_t lc_gguf_kv_format(const lc_gguf_kv *kv, char *buf, size_t size, size_t max_items) {
    outbuf o = {buf, size, 0};
    if (kv->type != GGUF_VT_ARRAY) {
        out_value(&o, kv->type, kv->data);
    } else {
        const uint8_t *p = kv->data;
        uint64_t shown = kv->n < max_items ? kv->n : max_items;
        out_bytes(&o, "[", 1);
        for (uint64_t i = 0; i < shown; i++) {
            if (i) out_bytes(&o, ", ", 2);
            p += out_value(&o, kv->elem_type, p);
        }
        if (shown < kv->n) {
            char tmp[48];
            snprintf(tmp, sizeof tmp, "%s... (%" PRIu64 " items)", shown ? ", " : "", kv->n);
            out_text(&o, tmp);
        }
        out_bytes(&o, "]", 1);
    }
    if (size) buf[o.len < size ? o.len : size - 1] = 0;
    return o.len;
}
