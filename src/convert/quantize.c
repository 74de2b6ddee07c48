/* Requantization of a GGUF file: every metadata key is copied, the weights
 * go through the same type policy and streaming pipeline as conversion. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "convert/convert.h"
#include "quant/types.h"
#include "runtime/err.h"

/* The source's first quantized tensor, or NULL when all are F32/F16/BF16. */
static const lc_gguf_tensor *first_quantized(const lc_gguf_file *f) {
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        const lc_type_traits *tt = lc_type_traits_get((int)f->tensors[i].type);
        if (tt && tt->is_quantized) return &f->tensors[i];
    }
    return NULL;
}

static bool key_is(const lc_gguf_kv *kv, const char *key) {
    return kv->key.len == strlen(key) && memcmp(kv->key.ptr, key, kv->key.len) == 0;
}

static int copy_metadata(lc_conv_job *job, const lc_gguf_file *f, const char *src,
                         llamac_error *err) {
    for (uint64_t i = 0; i < f->n_kv; i++) {
        const lc_gguf_kv *kv = &f->kv[i];
        /* rewritten below with the new values */
        if (key_is(kv, "general.file_type") || key_is(kv, "general.quantization_version")) continue;
        if (lc_gguf_writer_add_kv_copy(job->w, kv))
            return lc_fail(err, "%s: cannot copy metadata key '%.*s'", src, (int)kv->key.len,
                           kv->key.ptr);
    }
    if (lc_gguf_writer_add_u32(job->w, "general.file_type", (uint32_t)lc_conv_file_type(job->out_type)) ||
        lc_gguf_writer_add_u32(job->w, "general.quantization_version", 2))
        return lc_fail(err, "%s: cannot set general.file_type", src);
    return 0;
}

static int add_tensors(lc_conv_job *job, const lc_gguf_file *f, int fd, llamac_error *err) {
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        const lc_gguf_tensor *g = &f->tensors[i];
        const lc_type_traits *tt = lc_type_traits_get((int)g->type);
        if (!tt || !tt->to_float)
            return lc_fail(err, "%s: tensor '%s' has type %s, which cannot be read", f->path, g->name,
                           lc_type_name((int)g->type));
        lc_conv_tensor *t = lc_conv_job_add(job, err);
        if (!t) return -1;
        memcpy(t->name, g->name, sizeof t->name);
        t->n_dims = g->n_dims;
        for (int d = 0; d < GGUF_MAX_DIMS; d++) t->ne[d] = g->ne[d];
        t->src_type = (int)g->type;
        t->src = g->data;
        t->src_fd = fd;
        t->src_file_offset = f->data_offset + g->offset;
    }
    return 0;
}

static int quantize_file(const lc_gguf_file *f, int fd, const char *src, const char *dst, int type,
                         bool allow_requantize, const llamac_convert_params *p, llamac_error *err) {
    const lc_gguf_tensor *q = first_quantized(f);
    if (q && !allow_requantize)
        return lc_fail(err, "%s: tensor '%s' is already %s; requantizing compounds the rounding "
                            "error of both quantizations, so convert from the F32/F16/BF16 "
                            "original instead (or pass --allow-requantize)",
                       src, q->name, lc_type_name((int)q->type));
    llamac_convert_params params = p ? *p : lc_conv_default_params();
    params.vocab_only = false;
    lc_conv_job job;
    int rc = lc_conv_job_init(&job, type, &params, err);
    if (rc == 0 && q)
        lc_conv_note(&job, "requantizing: '%s' and other tensors were %s; quality is below a "
                           "conversion from the original", q->name, lc_type_name((int)q->type));
    if (rc == 0) rc = copy_metadata(&job, f, src, err);
    if (rc == 0) rc = add_tensors(&job, f, fd, err);
    if (rc == 0) rc = lc_conv_job_write(&job, dst, err);
    lc_conv_job_free(&job);
    return rc;
}

int lc_quantize_gguf(const char *src, const char *dst, int type, bool allow_requantize,
                     const llamac_convert_params *p, llamac_error *err) {
    if (!lc_conv_type_supported(type))
        return lc_fail(err, "type %s (%d) is not one quantize can write: use " LC_CONV_TYPE_LIST,
                       lc_conv_type_name(type), type);
    lc_gguf_file *f = NULL;
    if (lc_gguf_open(src, &f, err)) return -1;
    /* a second descriptor only to tell the kernel which pages are done */
    int fd = open(src, O_RDONLY | O_CLOEXEC);
    int rc = quantize_file(f, fd, src, dst, type, allow_requantize, p, err);
    if (fd >= 0) close(fd);
    lc_gguf_close(f);
    return rc;
}
