/* Public GGUF inspection API (llamac.h): a thin view over the internal
 * reader that adds NUL-terminated copies of the keys, since keys in the
 * file are length-prefixed and not terminated. */
#include <stdlib.h>
#include <string.h>

#include "format/gguf.h"
#include "llamac.h"
#include "quant/types.h"
#include "runtime/err.h"

struct llamac_gguf {
    lc_gguf_file *file;
    char **keys;    /* keys[i] points into key_text */
    char *key_text; /* every key followed by a NUL */
};

static int copy_keys(llamac_gguf *g) {
    const lc_gguf_file *f = g->file;
    size_t total = 0;
    for (uint64_t i = 0; i < f->n_kv; i++) total += (size_t)f->kv[i].key.len + 1;
    g->keys = malloc((f->n_kv ? (size_t)f->n_kv : 1) * sizeof *g->keys);
    g->key_text = malloc(total ? total : 1);
    if (!g->keys || !g->key_text) return -1;
    char *p = g->key_text;
    for (uint64_t i = 0; i < f->n_kv; i++) {
        size_t n = (size_t)f->kv[i].key.len;
        memcpy(p, f->kv[i].key.ptr, n);
        p[n] = 0;
        g->keys[i] = p;
        p += n + 1;
    }
    return 0;
}

llamac_gguf *llamac_gguf_open(const char *path, llamac_error *err) {
    llamac_gguf *g = calloc(1, sizeof *g);
    if (!g) {
        lc_fail(err, "%s: out of memory", path);
        return NULL;
    }
    if (lc_gguf_open(path, &g->file, err) != 0) {
        free(g);
        return NULL;
    }
    if (copy_keys(g) != 0) {
        lc_fail(err, "%s: out of memory copying keys", path);
        llamac_gguf_free(g);
        return NULL;
    }
    return g;
}

void llamac_gguf_free(llamac_gguf *g) {
    if (!g) return;
    lc_gguf_close(g->file);
    free(g->keys);
    free(g->key_text);
    free(g);
}

uint32_t llamac_gguf_version(const llamac_gguf *g) { return g->file->version; }
uint32_t llamac_gguf_alignment(const llamac_gguf *g) { return g->file->alignment; }
uint64_t llamac_gguf_data_offset(const llamac_gguf *g) { return g->file->data_offset; }
int64_t llamac_gguf_n_kv(const llamac_gguf *g) { return (int64_t)g->file->n_kv; }
int64_t llamac_gguf_n_tensors(const llamac_gguf *g) { return (int64_t)g->file->n_tensors; }

static bool kv_index_ok(const llamac_gguf *g, int64_t i) {
    return i >= 0 && (uint64_t)i < g->file->n_kv;
}

const char *llamac_gguf_kv_key(const llamac_gguf *g, int64_t i) {
    return kv_index_ok(g, i) ? g->keys[i] : NULL;
}

const char *llamac_gguf_kv_type(const llamac_gguf *g, int64_t i) {
    static const char *const array_names[GGUF_VT_COUNT] = {
        "array[u8]", "array[i8]", "array[u16]", "array[i16]", "array[u32]", "array[i32]", "array[f32]",
        "array[bool]", "array[string]", "array[array]", "array[u64]", "array[i64]", "array[f64]",
    };
    if (!kv_index_ok(g, i)) return NULL;
    const lc_gguf_kv *kv = &g->file->kv[i];
    if (kv->type == GGUF_VT_ARRAY && kv->elem_type < GGUF_VT_COUNT) return array_names[kv->elem_type];
    return lc_gguf_vtype_name(kv->type);
}

size_t llamac_gguf_kv_format(const llamac_gguf *g, int64_t i, char *buf, size_t size,
                             size_t max_items) {
    if (!kv_index_ok(g, i)) {
        if (size) buf[0] = 0;
        return 0;
    }
    return lc_gguf_kv_format(&g->file->kv[i], buf, size, max_items);
}

int llamac_gguf_tensor(const llamac_gguf *g, int64_t i, llamac_tensor_info *out) {
    if (i < 0 || (uint64_t)i >= g->file->n_tensors) return -1;
    const lc_gguf_tensor *t = &g->file->tensors[i];
    out->name = t->name;
    out->type_name = lc_type_name((int)t->type);
    out->type = (int)t->type;
    out->n_dims = (int)t->n_dims;
    memcpy(out->ne, t->ne, sizeof out->ne);
    out->offset = g->file->data_offset + t->offset;
    out->nbytes = t->nbytes;
    return 0;
}
