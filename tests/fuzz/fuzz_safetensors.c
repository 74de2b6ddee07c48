/* libFuzzer target for the safetensors header and extent validation
 * (src/convert/safetensors.c). The reader only opens files (it mmaps them),
 * so each input is written to an anonymous memfd and opened through
 * /proc/self/fd/N. When the file is accepted, every promise the reader makes
 * is checked: each tensor's bytes lie inside the mapping after the header,
 * its size is shape x dtype size, names are unique and findable, and the
 * tensors tile the data buffer exactly; the first and last byte of each
 * tensor are read so that ASan sees a view outside the mapping.
 * Build with `make fuzz`; run with a scratch corpus first (libFuzzer writes
 * new inputs into the first folder), e.g.
 *   mkdir -p /tmp/st-corpus
 *   build-fuzz/fuzz_safetensors -max_total_time=600 /tmp/st-corpus tests/fuzz/corpus_safetensors */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz_util.h"

#include "convert/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile uint8_t sink;

static void check_tensor(const lc_safetensors *st, const lc_st_tensor *t, uint64_t data_start) {
    if (t->file_index != 0 || t->dtype < 0 || t->dtype >= LC_ST_DTYPE_COUNT) abort();
    if (t->n_dims < 0 || t->n_dims > LC_ST_MAX_DIMS) abort();
    uint64_t numel = 1;
    for (int d = 0; d < t->n_dims; d++) {
        if (t->shape[d] < 0) abort();
        numel *= (uint64_t)t->shape[d]; /* the reader rejected overflowing shapes */
    }
    if (numel * lc_st_dtype_size(t->dtype) != t->nbytes) abort();
    const lc_st_file *f = &st->files[0];
    if (t->file_offset < data_start || t->file_offset > f->size) abort();
    if (t->nbytes > f->size - t->file_offset) abort();
    if (t->data != f->map + t->file_offset) abort();
    if (lc_safetensors_find(st, t->name) != t) abort(); /* names are unique */
    if (t->nbytes == 0) return;
    sink ^= t->data[0];
    sink ^= t->data[t->nbytes - 1];
}

static void check_accepted(const lc_safetensors *st) {
    if (st->n_files != 1) abort();
    const lc_st_file *f = &st->files[0];
    uint64_t hlen;
    memcpy(&hlen, f->map, sizeof hlen);
    uint64_t data_start = 8 + hlen, covered = 0;
    if (data_start > f->size) abort();
    for (size_t i = 0; i < st->n_tensors; i++) {
        check_tensor(st, &st->tensors[i], data_start);
        covered += st->tensors[i].nbytes;
    }
    /* No holes and no overlaps: the sizes add up to the whole buffer. */
    if (covered != f->size - data_start) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    int fd = fuzz_input_file("fuzz.safetensors", data, size);
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    lc_safetensors *st = NULL;
    llamac_error err = {{0}};
    if (lc_safetensors_open_file(path, &st, &err) == 0) {
        check_accepted(st);
        lc_safetensors_close(st);
    } else if (st != NULL || !err.msg[0] || strchr(err.msg, '\n') || !strstr(err.msg, path)) {
        abort(); /* a failure hands nothing out and names the file on one line */
    }
    close(fd);
    return 0;
}
