/* libFuzzer target for the GGUF reader: opens the input as a GGUF buffer
 * and, when it is accepted, touches everything the reader hands out (every
 * value formatted, every getter, every string of every string array, the
 * first and last byte of every tensor) so that ASan sees any view that
 * points outside the input. Build with `make fuzz`; run with a scratch
 * corpus first (libFuzzer writes new inputs into the first folder), e.g.
 *   mkdir -p /tmp/gguf-corpus
 *   build-fuzz/fuzz_gguf -max_total_time=600 /tmp/gguf-corpus tests/fuzz/corpus_gguf
 * The seeds are written by `test_gguf --write-corpus tests/fuzz/corpus_gguf`. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "format/gguf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile uint8_t sink;

static void touch_kv(const lc_gguf_file *f, const lc_gguf_kv *kv) {
    char key[128];
    size_t n = kv->key.len < sizeof key - 1 ? (size_t)kv->key.len : sizeof key - 1;
    memcpy(key, kv->key.ptr, n);
    key[n] = 0;

    char buf[512];
    size_t need = lc_gguf_kv_format(kv, buf, sizeof buf, 64);
    if (need < sizeof buf && strlen(buf) != need) abort(); /* the reported length is exact */

    uint32_t u;
    int32_t i;
    float x;
    bool b;
    lc_gguf_str s;
    const lc_gguf_kv *arr;
    lc_gguf_get_u32(f, key, &u, NULL);
    lc_gguf_get_i32(f, key, &i, NULL);
    lc_gguf_get_f32(f, key, &x, NULL);
    lc_gguf_get_bool(f, key, &b, NULL);
    if (lc_gguf_get_str(f, key, &s, NULL) == 1 && s.len) sink ^= (uint8_t)s.ptr[s.len - 1];
    if (lc_gguf_get_arr(f, key, -1, &arr, NULL) != 1) return;
    if (arr->elem_type == GGUF_VT_STRING) {
        lc_gguf_str *items = malloc((arr->n ? (size_t)arr->n : 1) * sizeof *items);
        if (!items) return;
        lc_gguf_arr_strings(arr, items);
        for (uint64_t k = 0; k < arr->n; k++)
            if (items[k].len) sink ^= (uint8_t)items[k].ptr[items[k].len - 1];
        free(items);
    } else if (arr->n) {
        sink ^= (uint8_t)lc_gguf_arr_i32(arr, arr->n - 1);
        sink ^= (uint8_t)lc_gguf_arr_u32(arr, 0);
        float v = lc_gguf_arr_f32(arr, arr->n - 1);
        uint32_t bits;
        memcpy(&bits, &v, sizeof bits);
        sink ^= (uint8_t)bits;
    }
}

static void touch_tensor(const lc_gguf_file *f, const lc_gguf_tensor *t) {
    if (lc_gguf_find_tensor(f, t->name) == NULL) abort();
    if (t->n_dims < 1 || t->n_dims > GGUF_MAX_DIMS) abort();
    for (int d = 0; d < GGUF_MAX_DIMS; d++)
        if (t->ne[d] < 0) abort();
    if (t->offset % f->alignment != 0) abort();
    if (t->nbytes == 0) return;
    const uint8_t *p = t->data;
    sink ^= p[0];
    sink ^= p[t->nbytes - 1];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    lc_gguf_file *f = NULL;
    llamac_error err = {{0}};
    if (lc_gguf_open_buffer(data, size, "fuzz.gguf", &f, &err) != 0) {
        if (!err.msg[0] || strchr(err.msg, '\n')) abort(); /* always a one-line message */
        return 0;
    }
    for (uint64_t i = 0; i < f->n_kv; i++) touch_kv(f, &f->kv[i]);
    for (uint64_t i = 0; i < f->n_tensors; i++) touch_tensor(f, &f->tensors[i]);
    lc_gguf_close(f);
    return 0;
}
