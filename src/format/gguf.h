/* GGUF container: a bounds-checked reader over an mmapped file and a
 * streaming writer that only ever publishes a complete file (temp + rename).
 * Layout facts: docs/formats.md "GGUF container". */
#ifndef LC_GGUF_H
#define LC_GGUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "llamac.h"

enum gguf_vtype {
    GGUF_VT_UINT8 = 0,
    GGUF_VT_INT8 = 1,
    GGUF_VT_UINT16 = 2,
    GGUF_VT_INT16 = 3,
    GGUF_VT_UINT32 = 4,
    GGUF_VT_INT32 = 5,
    GGUF_VT_FLOAT32 = 6,
    GGUF_VT_BOOL = 7,
    GGUF_VT_STRING = 8,
    GGUF_VT_ARRAY = 9,
    GGUF_VT_UINT64 = 10,
    GGUF_VT_INT64 = 11,
    GGUF_VT_FLOAT64 = 12,
    GGUF_VT_COUNT
};

#define GGUF_DEFAULT_ALIGNMENT 32
#define GGUF_MAX_DIMS 4
#define GGUF_MAX_NAME 64 /* names are at most 63 bytes, as in ggml */

/* A string inside the mapped file: not NUL-terminated. */
typedef struct lc_gguf_str {
    const char *ptr;
    uint64_t len;
} lc_gguf_str;

typedef struct lc_gguf_kv {
    lc_gguf_str key;
    uint32_t type;        /* enum gguf_vtype */
    uint32_t elem_type;   /* element type when type == GGUF_VT_ARRAY */
    uint64_t n;           /* element count for arrays, 1 for scalars */
    const uint8_t *data;  /* payload (for arrays: the first element); unaligned */
    uint64_t offset;      /* file offset of the record, for messages */
} lc_gguf_kv;

typedef struct lc_gguf_tensor {
    char name[GGUF_MAX_NAME];
    uint32_t n_dims;
    int64_t ne[GGUF_MAX_DIMS]; /* dims past n_dims are 1 */
    uint32_t type;             /* ggml type id */
    uint64_t offset;           /* relative to data_offset */
    uint64_t nbytes;
    const void *data;          /* points into the mapping */
} lc_gguf_tensor;

typedef struct lc_gguf_file {
    char *path;               /* owned copy, used in messages */
    const uint8_t *base;      /* mapping (or caller's buffer) */
    size_t size;
    bool owns_map;
    uint32_t version;
    uint32_t alignment;
    uint64_t n_kv;
    lc_gguf_kv *kv;
    uint64_t n_tensors;
    lc_gguf_tensor *tensors;
    uint64_t data_offset;     /* absolute offset of the tensor data blob */
    /* Sorted once at open (the duplicate checks need the order anyway):
     * lookups by name are binary searches, so a file with many records
     * cannot make each of the loader's lookups scan them all. */
    const lc_gguf_kv **kv_by_key;
    const lc_gguf_tensor **tensor_by_name;
} lc_gguf_file;

/* Opens and validates a file (mmap, read-only). Every count, length, offset
 * and tensor extent is checked against the file size; on failure the
 * message names the file, the field and the byte offset. */
int lc_gguf_open(const char *path, lc_gguf_file **out, llamac_error *err);
/* Same over a caller-owned buffer that must outlive the result (fuzzing). */
int lc_gguf_open_buffer(const void *data, size_t size, const char *name, lc_gguf_file **out,
                     llamac_error *err);
void lc_gguf_close(lc_gguf_file *f);

const lc_gguf_kv *lc_gguf_find(const lc_gguf_file *f, const char *key);
const lc_gguf_tensor *lc_gguf_find_tensor(const lc_gguf_file *f, const char *name);
const char *lc_gguf_vtype_name(uint32_t type);
/* Payload bytes of a fixed-size value type; 0 for STRING and ARRAY. */
size_t lc_gguf_vtype_size(uint32_t type);

/* Typed getters. Return 1 when the key is present and read, 0 when absent
 * (out untouched), -1 with a message naming the key and both types when it
 * is present with an incompatible type. Integers are accepted from any
 * integer type whose value fits; floats from FLOAT32/FLOAT64. */
int lc_gguf_get_u32(const lc_gguf_file *f, const char *key, uint32_t *out, llamac_error *err);
int lc_gguf_get_i32(const lc_gguf_file *f, const char *key, int32_t *out, llamac_error *err);
int lc_gguf_get_f32(const lc_gguf_file *f, const char *key, float *out, llamac_error *err);
int lc_gguf_get_bool(const lc_gguf_file *f, const char *key, bool *out, llamac_error *err);
int lc_gguf_get_str(const lc_gguf_file *f, const char *key, lc_gguf_str *out, llamac_error *err);
/* An array whose element type is elem_type (-1: any). */
int lc_gguf_get_arr(const lc_gguf_file *f, const char *key, int elem_type, const lc_gguf_kv **out,
                 llamac_error *err);

/* Array element access (elements are unaligned in the file). */
float lc_gguf_arr_f32(const lc_gguf_kv *kv, uint64_t i);
int32_t lc_gguf_arr_i32(const lc_gguf_kv *kv, uint64_t i);
uint32_t lc_gguf_arr_u32(const lc_gguf_kv *kv, uint64_t i);
/* Fills out[0..kv->n) with the strings of a string array (validated at open). */
void lc_gguf_arr_strings(const lc_gguf_kv *kv, lc_gguf_str *out);

/* Printable rendering of a value; arrays show at most max_items elements.
 * Returns the length needed (like snprintf). */
size_t lc_gguf_kv_format(const lc_gguf_kv *kv, char *buf, size_t size, size_t max_items);

/* ----------------------------------------------------------------- writer
 * Usage: create; add KVs and tensor infos (in data order); begin (opens a
 * temp file beside `path`, checks free space, writes the header); for each
 * tensor in order write its bytes (in one or several chunks) then
 * end_tensor (pads to alignment and checks the size); finish (fsync, rename)
 * or abort (removes the temp file). free releases everything, aborting an
 * unfinished file. */
typedef struct lc_gguf_writer lc_gguf_writer;

lc_gguf_writer *lc_gguf_writer_create(void);
void lc_gguf_writer_free(lc_gguf_writer *w);

int lc_gguf_writer_add_str(lc_gguf_writer *w, const char *key, const char *s, size_t len);
int lc_gguf_writer_add_u32(lc_gguf_writer *w, const char *key, uint32_t v);
int lc_gguf_writer_add_i32(lc_gguf_writer *w, const char *key, int32_t v);
int lc_gguf_writer_add_f32(lc_gguf_writer *w, const char *key, float v);
int lc_gguf_writer_add_bool(lc_gguf_writer *w, const char *key, bool v);
int lc_gguf_writer_add_arr_str(lc_gguf_writer *w, const char *key, const lc_gguf_str *items, uint64_t n);
int lc_gguf_writer_add_arr_f32(lc_gguf_writer *w, const char *key, const float *items, uint64_t n);
int lc_gguf_writer_add_arr_i32(lc_gguf_writer *w, const char *key, const int32_t *items, uint64_t n);
/* Copies a key/value record from a reader verbatim (requantize keeps all KVs). */
int lc_gguf_writer_add_kv_copy(lc_gguf_writer *w, const lc_gguf_kv *kv);
/* Replaces the value of a key already added (no-op + add when absent). */
int lc_gguf_writer_set_u32(lc_gguf_writer *w, const char *key, uint32_t v);
/* Adds a tensor info; its offset follows the previous tensor's, padded. */
int lc_gguf_writer_add_tensor(lc_gguf_writer *w, const char *name, uint32_t type, uint32_t n_dims,
                           const int64_t *ne, llamac_error *err);
/* Total bytes the file will have (header + padded data); UINT64_MAX when
 * that would be 2^62 or more (begin then refuses the file). */
uint64_t lc_gguf_writer_total_size(const lc_gguf_writer *w);

int lc_gguf_writer_begin(lc_gguf_writer *w, const char *path, llamac_error *err);
int lc_gguf_writer_write(lc_gguf_writer *w, const void *data, size_t n, llamac_error *err);
int lc_gguf_writer_end_tensor(lc_gguf_writer *w, llamac_error *err);
int lc_gguf_writer_finish(lc_gguf_writer *w, llamac_error *err);
void lc_gguf_writer_abort(lc_gguf_writer *w);

#endif
