/* Conversion tests (issue 4): HF and llama2.c stories260K convert to the
 * very tensors of the reference GGUF (which proves the q/k permutation is
 * undone), tiny-llama3 converts to every type with each quantized row equal
 * to the reference quantizer's output, requantize equals direct conversion,
 * sharded == single file, the K-quant types (q4_k_m, q4_k_s, q6_k) pick
 * llama.cpp's per-tensor types, fall back on short rows and load and run,
 * and each kind of bad input fails cleanly with no
 * output and no temporary file left behind. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "convert/convert.h"
#include "convert/hf_config.h"
#include "convert/llama2c.h"
#include "convert/safetensors.h"
#include "format/gguf.h"
#include "llamac.h"
#include "quant/types.h"
#include "logits_test_util.h"
#include "test_util.h"
#include "tokenizer/tokenizer_data.h"

#define STORIES_HF "data/stories260K-hf"
#define STORIES_BIN "data/stories260K/stories260K.bin"
#define TOK512_MODEL "data/stories260K/tok512.model"
#define TOK512_BIN "data/stories260K/tok512.bin"
#define TINY3 "data/tiny-llama3"
#define REFERENCE "../models/stories260K.gguf"

typedef struct scratch {
    char dir[64];  /* inputs */
    char out[64];  /* outputs only: must be empty after a failure */
} scratch;

/* ---------------------------------------------------------------- files */

static int write_file(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = fwrite(data, 1, n, f);
    return fclose(f) == 0 && w == n ? 0 : -1;
}

static int copy_file(const char *from, const char *to, long cut) {
    size_t n = 0;
    char *buf = lc_test_read_file(from, &n);
    if (!buf) return -1;
    if (cut > 0 && (size_t)cut < n) n -= (size_t)cut;
    int rc = write_file(to, buf, n);
    free(buf);
    return rc;
}

static void path2(char *buf, size_t size, const char *dir, const char *name) {
    snprintf(buf, size, "%s/%s", dir, name);
}

static void empty_dir(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char p[512];
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        path2(p, sizeof p, dir, e->d_name);
        unlink(p);
    }
    closedir(d);
}

static int count_entries(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

static int scratch_init(scratch *s) {
    snprintf(s->dir, sizeof s->dir, "/tmp/lc_conv_in_XXXXXX");
    snprintf(s->out, sizeof s->out, "/tmp/lc_conv_out_XXXXXX");
    return mkdtemp(s->dir) && mkdtemp(s->out) ? 0 : -1;
}

static void scratch_free(scratch *s) {
    empty_dir(s->dir);
    empty_dir(s->out);
    rmdir(s->dir);
    rmdir(s->out);
}

static llamac_convert_params params_for(int type) {
    llamac_convert_params p = llamac_convert_default_params();
    p.type = type;
    p.n_threads = 2;
    return p;
}

/* --------------------------------------------------- tensor comparison */

/* Every tensor of `ref` is in `got` with the same shape, type and bytes;
 * a reference output.weight may be absent when got is tied (then it must
 * equal got's token_embd). Returns the number of tensors compared. */
static int compare_to_reference(const char *got_path, const char *ref_path) {
    lc_gguf_file *got = NULL, *ref = NULL;
    llamac_error err = {{0}};
    CHECKF(lc_gguf_open(got_path, &got, &err) == 0, "%s", err.msg);
    CHECKF(lc_gguf_open(ref_path, &ref, &err) == 0, "%s", err.msg);
    int compared = 0;
    for (uint64_t i = 0; got && ref && i < ref->n_tensors; i++) {
        const lc_gguf_tensor *r = &ref->tensors[i];
        const lc_gguf_tensor *g = lc_gguf_find_tensor(got, r->name);
        if (!g && !strcmp(r->name, "output.weight")) g = lc_gguf_find_tensor(got, "token_embd.weight");
        CHECKF(g != NULL, "%s: tensor %s missing", got_path, r->name);
        if (!g) continue;
        bool same = g->type == r->type && g->nbytes == r->nbytes && g->n_dims == r->n_dims;
        for (int d = 0; d < GGUF_MAX_DIMS; d++) same = same && g->ne[d] == r->ne[d];
        same = same && memcmp(g->data, r->data, (size_t)r->nbytes) == 0;
        CHECKF(same, "%s: tensor %s differs from %s", got_path, r->name, ref_path);
        compared++;
    }
    lc_gguf_close(got);
    lc_gguf_close(ref);
    return compared;
}

static void test_stories_hf_equals_reference(scratch *s) {
    char out[128];
    path2(out, sizeof out, s->out, "stories-hf.gguf");
    llamac_convert_params p = params_for(LC_TYPE_F32);
    llamac_error err = {{0}};
    CHECKF(llamac_convert(STORIES_HF, out, &p, &err) == 0, "%s", err.msg);
    CHECK(compare_to_reference(out, REFERENCE) == 48);
    lc_gguf_file *f = NULL;
    if (lc_gguf_open(out, &f, &err) == 0) {
        lc_gguf_str model = {0};
        uint32_t ctx = 0, ftype = 99;
        CHECK(lc_gguf_get_str(f, "tokenizer.ggml.model", &model, NULL) == 1 && model.len == 5 &&
              !memcmp(model.ptr, "llama", 5));
        CHECK(lc_gguf_get_u32(f, "llama.context_length", &ctx, NULL) == 1 && ctx == 512);
        CHECK(lc_gguf_get_u32(f, "general.file_type", &ftype, NULL) == 1 && ftype == 0);
        CHECK(lc_gguf_find_tensor(f, "output.weight") == NULL); /* tied */
        const lc_gguf_kv *tok = NULL;
        CHECK(lc_gguf_get_arr(f, "tokenizer.ggml.tokens", GGUF_VT_STRING, &tok, NULL) == 1 && tok &&
              tok->n == 512);
        lc_gguf_close(f);
    }
    empty_dir(s->out);
}

/* Both tokenizer sources of the llama2.c path give the same vocabulary. */
static void check_same_vocab(const char *a_path, const char *b_path) {
    lc_gguf_file *a = NULL, *b = NULL;
    CHECK(lc_gguf_open(a_path, &a, NULL) == 0);
    CHECK(lc_gguf_open(b_path, &b, NULL) == 0);
    lc_tokenizer_data ta, tb;
    lc_tokenizer_data_init(&ta);
    lc_tokenizer_data_init(&tb);
    llamac_error err = {{0}};
    if (a && b) {
        CHECKF(lc_tokenizer_data_from_gguf(a, &ta, &err) == 0, "%s", err.msg);
        CHECKF(lc_tokenizer_data_from_gguf(b, &tb, &err) == 0, "%s", err.msg);
        CHECK(ta.n_tokens == 512 && tb.n_tokens == 512);
        int diff = 0;
        for (int32_t i = 0; i < ta.n_tokens && i < tb.n_tokens; i++) {
            bool same = ta.token_lens[i] == tb.token_lens[i] &&
                        !memcmp(ta.tokens[i], tb.tokens[i], ta.token_lens[i]) &&
                        ta.scores[i] == tb.scores[i] && ta.token_types[i] == tb.token_types[i];
            if (!same && diff++ < 3)
                fprintf(stderr, "token %d: '%s' %g %d vs '%s' %g %d\n", (int)i, ta.tokens[i],
                        (double)ta.scores[i], (int)ta.token_types[i], tb.tokens[i],
                        (double)tb.scores[i], (int)tb.token_types[i]);
        }
        CHECKF(diff == 0, "%d tokens differ between tok512.bin and tok512.model", diff);
        CHECK(ta.bos_id == 1 && ta.eos_id == 2 && tb.bos_id == 1 && tb.eos_id == 2);
    }
    lc_tokenizer_data_free(&ta);
    lc_tokenizer_data_free(&tb);
    lc_gguf_close(a);
    lc_gguf_close(b);
}

static void test_llama2c_equals_reference(scratch *s) {
    char out_model[128], out_bin[128];
    path2(out_model, sizeof out_model, s->out, "l2c-model.gguf");
    path2(out_bin, sizeof out_bin, s->out, "l2c-bin.gguf");
    llamac_error err = {{0}};
    llamac_convert_params p = params_for(LC_TYPE_F32);
    p.tokenizer = TOK512_MODEL;
    CHECKF(llamac_convert(STORIES_BIN, out_model, &p, &err) == 0, "%s", err.msg);
    CHECK(compare_to_reference(out_model, REFERENCE) == 48);
    p.tokenizer = TOK512_BIN;
    CHECKF(llamac_convert(STORIES_BIN, out_bin, &p, &err) == 0, "%s", err.msg);
    CHECK(compare_to_reference(out_bin, REFERENCE) == 48);
    check_same_vocab(out_bin, out_model);
    empty_dir(s->out);
}

/* ------------------------------------------------------------ tiny-llama3 */

/* Each row of `q` is the reference quantizer applied to the same row of
 * the F32 file: the threaded, chunked pipeline quantized every row. */
static void check_rows_quantized(const lc_gguf_file *f32, const lc_gguf_tensor *q) {
    const lc_gguf_tensor *src = lc_gguf_find_tensor(f32, q->name);
    CHECKF(src && src->type == LC_TYPE_F32, "%s missing in f32 file", q->name);
    if (!src) return;
    const lc_type_traits *tt = lc_type_traits_get((int)q->type);
    const int64_t ne0 = q->ne[0], rows = q->ne[1] * q->ne[2] * q->ne[3];
    const size_t row_size = lc_row_size((int)q->type, ne0);
    uint8_t *expect = malloc(row_size);
    float *row = malloc((size_t)ne0 * sizeof *row);
    int bad = 0;
    for (int64_t r = 0; r < rows && expect && row; r++) {
        memcpy(row, (const float *)src->data + r * ne0, (size_t)ne0 * sizeof *row);
        tt->from_float(row, expect, ne0);
        if (memcmp(expect, (const uint8_t *)q->data + (size_t)r * row_size, row_size)) bad++;
    }
    CHECKF(bad == 0, "%s: %d of %lld %s rows differ from the reference quantizer", q->name, bad,
           (long long)rows, tt->name);
    free(expect);
    free(row);
}

/* tiny-llama3 (2 layers, rows of 32 and 96) in a K-quant type: no row is a
 * multiple of 256, so every tensor takes its fallback. */
static int expected_tiny_k_type(const char *name, int out) {
    if (out == LC_TYPE_Q6_K) return LC_TYPE_Q8_0;              /* Q6_K -> Q8_0 throughout */
    if (!strcmp(name, "token_embd.weight")) return LC_TYPE_Q8_0; /* untied: our Q8_0 */
    if (!strcmp(name, "output.weight")) return LC_TYPE_Q8_0;     /* Q6_K -> Q8_0 */
    bool v = strstr(name, ".attn_v.") != NULL, down = strstr(name, ".ffn_down.") != NULL;
    /* Q4_K_M: use_more_bits(1, 2) holds (1 >= 7*2/8), (0, 2) does not */
    if (out == LLAMAC_CONVERT_Q4_K_M && (v || down) && !strncmp(name, "blk.1.", 6)) return LC_TYPE_Q8_0;
    /* Q4_K_S: attn_v of layers 0-3 Q5_K -> Q5_1; ffn_down below 2/8 = 0: none */
    if (out == LLAMAC_CONVERT_Q4_K_S && v) return LC_TYPE_Q5_1;
    return LC_TYPE_Q5_0;                                         /* Q4_K -> Q5_0 */
}

static int expected_type(const char *name, int out, int64_t ne0) {
    if (strstr(name, "_norm.weight") || !strcmp(name, "rope_freqs.weight")) return LC_TYPE_F32;
    if (out == LC_TYPE_Q6_K || out == LLAMAC_CONVERT_Q4_K_M || out == LLAMAC_CONVERT_Q4_K_S)
        return expected_tiny_k_type(name, out);
    bool low = out == LC_TYPE_Q4_0 || out == LC_TYPE_Q4_1 || out == LC_TYPE_Q5_0 || out == LC_TYPE_Q5_1;
    if (low && !strcmp(name, "output.weight")) return ne0 % 256 == 0 ? LC_TYPE_Q6_K : LC_TYPE_Q8_0;
    if (low && !strcmp(name, "token_embd.weight")) return LC_TYPE_Q8_0;
    return out;
}

static void check_tiny_types(const char *path, int out_type, const lc_gguf_file *f32) {
    lc_gguf_file *f = NULL;
    llamac_error err = {{0}};
    CHECKF(lc_gguf_open(path, &f, &err) == 0, "%s", err.msg);
    if (!f) return;
    CHECK(f->n_tensors == 22); /* embd, rope_freqs, 2 x 9, output_norm, output */
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        const lc_gguf_tensor *t = &f->tensors[i];
        int want = expected_type(t->name, out_type, t->ne[0]);
        CHECKF((int)t->type == want, "%s: %s is %s, expected %s", path, t->name,
               lc_type_name((int)t->type), lc_type_name(want));
        if (f32 && lc_type_traits_get((int)t->type)->is_quantized) check_rows_quantized(f32, t);
    }
    uint32_t ftype = 99;
    CHECK(lc_gguf_get_u32(f, "general.file_type", &ftype, NULL) == 1 &&
          (int)ftype == lc_conv_file_type(out_type));
    lc_gguf_close(f);
}

/* The notes of one conversion, one per line. */
typedef struct note_log {
    char text[4096];
} note_log;

static void collect_note(const char *line, void *user) {
    note_log *log = user;
    size_t n = strlen(log->text);
    snprintf(log->text + n, sizeof log->text - n, "%s\n", line);
}

/* GGUF attn_q row h*D + 2j + t is HF q_proj row h*D + t*D/2 + j. */
static void check_unpermuted_q(const lc_gguf_file *f32) {
    lc_safetensors *st = NULL;
    llamac_error err = {{0}};
    CHECKF(lc_safetensors_open_dir(TINY3, &st, &err) == 0, "%s", err.msg);
    const lc_gguf_tensor *q = lc_gguf_find_tensor(f32, "blk.1.attn_q.weight");
    const lc_st_tensor *hf = st ? lc_safetensors_find(st, "model.layers.1.self_attn.q_proj.weight") : NULL;
    CHECK(q && hf && hf->dtype == LC_ST_BF16);
    if (q && hf) {
        const int64_t E = 32, D = 8, H = 4;
        int bad = 0;
        for (int64_t h = 0; h < H; h++)
            for (int64_t j = 0; j < D / 2; j++)
                for (int64_t t = 0; t < 2; t++)
                    for (int64_t c = 0; c < E; c++) {
                        uint16_t b;
                        memcpy(&b, hf->data + 2 * ((h * D + t * D / 2 + j) * E + c), 2);
                        float want = lc_bf16_to_f32(b);
                        float got = ((const float *)q->data)[(h * D + 2 * j + t) * E + c];
                        bad += got != want;
                    }
        CHECKF(bad == 0, "%d attn_q values are not at their un-permuted place", bad);
    }
    lc_safetensors_close(st);
}

static void check_loads(const char *path) {
    llamac_error err = {{0}};
    llamac_model_params mp = llamac_model_default_params();
    llamac_model *m = llamac_model_load(path, &mp, &err);
    CHECKF(m != NULL, "%s does not load: %s", path, err.msg);
    if (m) {
        llamac_model_desc d;
        llamac_model_describe(m, &d);
        CHECK(d.n_vocab == 128256 && d.n_embd == 32 && d.n_layer == 2 && d.n_head_kv == 2);
        llamac_model_free(m);
    }
}

static void test_tiny_llama3(scratch *s) {
    static const int types[] = {LC_TYPE_F32,  LC_TYPE_F16,  LC_TYPE_BF16,          LC_TYPE_Q8_0,
                                LC_TYPE_Q4_0, LC_TYPE_Q5_1, LLAMAC_CONVERT_Q4_K_M, LLAMAC_CONVERT_Q4_K_S,
                                LC_TYPE_Q6_K};
    char f32_path[128];
    path2(f32_path, sizeof f32_path, s->out, "tiny-f32.gguf");
    lc_gguf_file *f32 = NULL;
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        char out[128];
        snprintf(out, sizeof out, "%s/tiny-%s.gguf", s->out, llamac_convert_type_name(types[i]));
        llamac_convert_params p = params_for(types[i]);
        p.n_threads = 1 + (int)(i % 3); /* thread counts must not change the bytes */
        note_log log = {{0}};
        p.note = collect_note;
        p.note_user = &log;
        llamac_error err = {{0}};
        CHECKF(llamac_convert(TINY3, out, &p, &err) == 0, "%s: %s", out, err.msg);
        if (types[i] == LLAMAC_CONVERT_Q4_K_M) {
            /* the fallbacks are reported, grouped */
            CHECKF(strstr(log.text, "do not fit q4_K blocks of 256: written as q5_0") &&
                       strstr(log.text, "do not fit q6_K blocks of 256: written as q8_0"),
                   "%s", log.text);
        }
        if (i == 0) {
            CHECK(lc_gguf_open(f32_path, &f32, NULL) == 0);
            if (f32) check_unpermuted_q(f32);
        }
        check_tiny_types(out, types[i], f32);
        if (types[i] == LC_TYPE_F32 || types[i] == LC_TYPE_Q4_0 || types[i] == LC_TYPE_Q8_0 ||
            types[i] == LLAMAC_CONVERT_Q4_K_S)
            check_loads(out);
    }
    if (f32) {
        /* rope_freqs for factor 8, low 1, high 4, orig 8192, theta 5e5, D 8:
         * wavelengths 2pi, 167, 4443, 118k -> 1, 1, smooth, 8 */
        const lc_gguf_tensor *rf = lc_gguf_find_tensor(f32, "rope_freqs.weight");
        CHECK(rf && rf->ne[0] == 4);
        if (rf) {
            const float *v = rf->data;
            double wl = 2 * M_PI * pow(500000.0, 0.5);
            double smooth = (8192.0 / wl - 1.0) / 3.0;
            double mid = 1.0 / ((1.0 - smooth) / 8.0 + smooth);
            CHECK(v[0] == 1.0f && v[1] == 1.0f && v[3] == 8.0f);
            CHECKF(fabs(v[2] - mid) < 1e-5, "rope_freqs[2] = %.7f, expected %.7f", (double)v[2], mid);
        }
    }
    lc_gguf_close(f32);
    empty_dir(s->out);
}

/* A tied LM head regrouped for the x8 kernels (when this CPU has one for
 * its type) reads its embedding rows back unpacked: the logits agree with
 * the file's layout (only the kernels' summation order differs). */
static void tied_head_layouts(const char *path) {
    static const llamac_token prompt[] = {1, 403, 407, 261, 378, 308};
    uint64_t repacked[2] = {0, 0};
    const double worst = lc_test_layout_logit_diff(path, prompt, (int)(sizeof prompt / sizeof prompt[0]), 32, 512,
                                                   repacked);
    if (worst < 0) return;
    fprintf(stderr, "tied q8_0 head: %llu bytes regrouped; logits vs the file's layout: max |diff| %.2e\n",
            (unsigned long long)repacked[0], worst);
    CHECKF(worst < 0.05, "regrouped tied head changes logits by %g", worst);
}

/* Requantizing the F32 file gives what converting straight to q8_0 gives,
 * with every metadata key carried over. */
static void test_quantize(scratch *s) {
    char f32[128], direct[128], requant[128], again[128];
    path2(f32, sizeof f32, s->out, "s-f32.gguf");
    path2(direct, sizeof direct, s->out, "s-q4_0.gguf");
    path2(requant, sizeof requant, s->out, "s-f32-q4_0.gguf");
    path2(again, sizeof again, s->out, "s-again.gguf");
    llamac_error err = {{0}};
    llamac_convert_params p = params_for(LC_TYPE_F32);
    CHECKF(llamac_convert(STORIES_HF, f32, &p, &err) == 0, "%s", err.msg);
    p.type = LC_TYPE_Q4_0;
    CHECKF(llamac_convert(STORIES_HF, direct, &p, &err) == 0, "%s", err.msg);
    CHECKF(llamac_quantize(f32, requant, LC_TYPE_Q4_0, false, &p, &err) == 0, "%s", err.msg);
    CHECK(compare_to_reference(requant, direct) == 47);
    lc_gguf_file *a = NULL, *b = NULL;
    CHECK(lc_gguf_open(f32, &a, NULL) == 0 && lc_gguf_open(requant, &b, NULL) == 0);
    if (a && b) {
        CHECK(a->n_kv == b->n_kv);
        for (uint64_t i = 0; i < a->n_kv; i++) {
            char key[128];
            snprintf(key, sizeof key, "%.*s", (int)a->kv[i].key.len, a->kv[i].key.ptr);
            CHECKF(lc_gguf_find(b, key) != NULL, "key %s not copied", key);
        }
        uint32_t ft = 0;
        CHECK(lc_gguf_get_u32(b, "general.file_type", &ft, NULL) == 1 && ft == 2);
        /* ffn_down rows are 172 long: not a multiple of 32, so f16 */
        const lc_gguf_tensor *down = lc_gguf_find_tensor(b, "blk.0.ffn_down.weight");
        CHECK(down && down->type == LC_TYPE_F16);
        const lc_gguf_tensor *embd = lc_gguf_find_tensor(b, "token_embd.weight");
        CHECK(embd && embd->type == LC_TYPE_Q8_0); /* tied: the logits matrix, 64 % 256 != 0 */
    }
    lc_gguf_close(a);
    lc_gguf_close(b);
    tied_head_layouts(direct);
    /* an already quantized source is refused with the reason, unless allowed */
    CHECK(llamac_quantize(direct, again, LC_TYPE_Q8_0, false, &p, &err) == -1);
    CHECKF(strstr(err.msg, "already") && strstr(err.msg, "--allow-requantize"), "%s", err.msg);
    CHECK(access(again, F_OK) != 0);
    CHECKF(llamac_quantize(direct, again, LC_TYPE_Q8_0, true, &p, &err) == 0, "%s", err.msg);
    CHECK(llamac_quantize(f32, again, LC_TYPE_Q4_K, false, &p, &err) == -1); /* pure Q4_K: not offered */
    CHECKF(strstr(err.msg, "q4_k_m") != NULL, "%s", err.msg);
    empty_dir(s->out);
}

/* -------------------------------------------------------- safetensors I/O */

typedef struct st_entry {
    const char *name;
    const lc_st_tensor *t;
} st_entry;

/* Writes tensors of an opened checkpoint into a new safetensors file. */
static int write_safetensors(const char *path, const st_entry *e, size_t n) {
    size_t cap = 1 << 16, len = 0;
    char *hdr = malloc(cap);
    if (!hdr) return -1;
    len += (size_t)snprintf(hdr + len, cap - len, "{\"__metadata__\":{\"format\":\"pt\"}");
    uint64_t off = 0;
    for (size_t i = 0; i < n; i++) {
        const lc_st_tensor *t = e[i].t;
        len += (size_t)snprintf(hdr + len, cap - len, ",\"%s\":{\"dtype\":\"%s\",\"shape\":[", e[i].name,
                                lc_st_dtype_name(t->dtype));
        for (int d = 0; d < t->n_dims; d++)
            len += (size_t)snprintf(hdr + len, cap - len, "%s%lld", d ? "," : "", (long long)t->shape[d]);
        len += (size_t)snprintf(hdr + len, cap - len, "],\"data_offsets\":[%llu,%llu]}",
                                (unsigned long long)off, (unsigned long long)(off + t->nbytes));
        off += t->nbytes;
    }
    len += (size_t)snprintf(hdr + len, cap - len, "}");
    while (len % 8) hdr[len++] = ' ';
    FILE *f = fopen(path, "wb");
    uint64_t hl = len;
    int rc = f && fwrite(&hl, 8, 1, f) == 1 && fwrite(hdr, 1, len, f) == len ? 0 : -1;
    for (size_t i = 0; i < n && rc == 0; i++)
        if (fwrite(e[i].t->data, 1, e[i].t->nbytes, f) != e[i].t->nbytes) rc = -1;
    if (f && fclose(f) != 0) rc = -1;
    free(hdr);
    return rc;
}

static void copy_hf_side_files(const char *dir) {
    static const char *const files[] = {"config.json", "tokenizer.model", "tokenizer_config.json"};
    for (size_t i = 0; i < 3; i++) {
        char from[128], to[128];
        path2(from, sizeof from, STORIES_HF, files[i]);
        path2(to, sizeof to, dir, files[i]);
        CHECK(copy_file(from, to, 0) == 0);
    }
}

/* The same checkpoint split in two shards with an index converts to the
 * same tensors. */
static void test_sharded(scratch *s) {
    lc_safetensors *st = NULL;
    llamac_error err = {{0}};
    CHECKF(lc_safetensors_open_file(STORIES_HF "/model.safetensors", &st, &err) == 0, "%s", err.msg);
    if (!st) return;
    copy_hf_side_files(s->dir);
    st_entry *e = calloc(st->n_tensors, sizeof *e);
    size_t half = st->n_tensors / 2;
    for (size_t i = 0; i < st->n_tensors; i++) e[i] = (st_entry){st->tensors[i].name, &st->tensors[i]};
    char p1[128], p2[128], idx[128];
    path2(p1, sizeof p1, s->dir, "model-00001-of-00002.safetensors");
    path2(p2, sizeof p2, s->dir, "model-00002-of-00002.safetensors");
    path2(idx, sizeof idx, s->dir, "model.safetensors.index.json");
    CHECK(write_safetensors(p1, e, half) == 0);
    CHECK(write_safetensors(p2, e + half, st->n_tensors - half) == 0);
    FILE *f = fopen(idx, "w");
    if (f) {
        fprintf(f, "{\"metadata\":{\"total_size\":1},\"weight_map\":{");
        for (size_t i = 0; i < st->n_tensors; i++)
            fprintf(f, "%s\"%s\":\"model-0000%d-of-00002.safetensors\"", i ? "," : "", e[i].name,
                    i < half ? 1 : 2);
        fprintf(f, "}}");
        fclose(f);
    }
    char out[128];
    path2(out, sizeof out, s->out, "sharded.gguf");
    llamac_convert_params p = params_for(LC_TYPE_F32);
    CHECKF(llamac_convert(s->dir, out, &p, &err) == 0, "%s", err.msg);
    CHECK(compare_to_reference(out, REFERENCE) == 48);
    /* an index naming the wrong shard for a tensor is an error */
    f = fopen(idx, "w");
    if (f) {
        fprintf(f, "{\"weight_map\":{\"%s\":\"model-00002-of-00002.safetensors\"}}", e[0].name);
        fclose(f);
    }
    unlink(out);
    CHECK(llamac_convert(s->dir, out, &p, &err) == -1);
    CHECKF(strstr(err.msg, e[0].name) != NULL, "%s", err.msg);
    CHECK(count_entries(s->out) == 0);
    free(e);
    lc_safetensors_close(st);
    empty_dir(s->dir);
}

/* ------------------------------------------------------------ bad input */

/* Runs a conversion expected to fail with `needle` in the message and
 * leave the output folder empty (no file, no temporary file). */
static void expect_failure(const scratch *s, const char *src, const llamac_convert_params *p,
                           const char *needle, const char *what) {
    char out[128];
    path2(out, sizeof out, s->out, "bad.gguf");
    llamac_error err = {{0}};
    int rc = llamac_convert(src, out, p, &err);
    CHECKF(rc == -1, "%s: conversion succeeded", what);
    CHECKF(strstr(err.msg, needle) != NULL, "%s: message '%s' lacks '%s'", what, err.msg, needle);
    CHECKF(strchr(err.msg, '\n') == NULL, "%s: message is not one line", what);
    CHECKF(count_entries(s->out) == 0, "%s: something was left in the output folder", what);
}

static void write_config(const char *dir, const char *find, const char *replace) {
    size_t n = 0;
    char *cfg = lc_test_read_file(STORIES_HF "/config.json", &n);
    char path[128], out[2048];
    path2(path, sizeof path, dir, "config.json");
    const char *at = cfg ? strstr(cfg, find) : NULL;
    CHECK(at != NULL);
    if (at) {
        snprintf(out, sizeof out, "%.*s%s%s", (int)(at - cfg), cfg, replace, at + strlen(find));
        CHECK(write_file(path, out, strlen(out)) == 0);
    }
    free(cfg);
}

static void write_raw_safetensors(const char *dir, const char *json, uint64_t hlen_override,
                                  size_t data_bytes) {
    char path[128];
    path2(path, sizeof path, dir, "model.safetensors");
    size_t jl = strlen(json);
    uint64_t hl = hlen_override ? hlen_override : jl;
    uint8_t *buf = calloc(1, 8 + jl + data_bytes);
    memcpy(buf, &hl, 8);
    memcpy(buf + 8, json, jl);
    CHECK(write_file(path, buf, 8 + jl + data_bytes) == 0);
    free(buf);
}

/* A model with attention biases: q/k biases are permuted like their
 * weights' rows, v/o biases copied, all kept F32 even in a q8_0 file. */
static void test_biases(scratch *s) {
    lc_safetensors *st = NULL;
    llamac_error err = {{0}};
    CHECKF(lc_safetensors_open_file(STORIES_HF "/model.safetensors", &st, &err) == 0, "%s", err.msg);
    if (!st) return;
    copy_hf_side_files(s->dir);
    write_config(s->dir, "\"hidden_act\"", "\"attention_bias\": true, \"hidden_act\"");
    static const struct { const char *name; int64_t n; } kinds[] = {
        {"q_proj", 64}, {"k_proj", 32}, {"v_proj", 32}, {"o_proj", 64}};
    const size_t n_bias = 5 * 4;
    st_entry *e = calloc(st->n_tensors + n_bias, sizeof *e);
    lc_st_tensor *fake = calloc(n_bias, sizeof *fake);
    char (*names)[64] = calloc(n_bias, sizeof *names);
    float values[64];
    for (int i = 0; i < 64; i++) values[i] = (float)i;
    for (size_t i = 0; i < st->n_tensors; i++) e[i] = (st_entry){st->tensors[i].name, &st->tensors[i]};
    for (size_t b = 0; b < n_bias; b++) {
        snprintf(names[b], sizeof names[b], "model.layers.%zu.self_attn.%s.bias", b / 4, kinds[b % 4].name);
        fake[b] = (lc_st_tensor){.dtype = LC_ST_F32, .n_dims = 1, .shape = {kinds[b % 4].n},
                                 .data = (const uint8_t *)values, .nbytes = (uint64_t)kinds[b % 4].n * 4};
        e[st->n_tensors + b] = (st_entry){names[b], &fake[b]};
    }
    char path[128], out[128];
    path2(path, sizeof path, s->dir, "model.safetensors");
    path2(out, sizeof out, s->out, "bias.gguf");
    CHECK(write_safetensors(path, e, st->n_tensors + n_bias) == 0);
    llamac_convert_params p = params_for(LC_TYPE_Q8_0);
    CHECKF(llamac_convert(s->dir, out, &p, &err) == 0, "%s", err.msg);
    lc_gguf_file *f = NULL;
    CHECK(lc_gguf_open(out, &f, NULL) == 0);
    if (f) {
        const lc_gguf_tensor *q = lc_gguf_find_tensor(f, "blk.3.attn_q.bias");
        const lc_gguf_tensor *k = lc_gguf_find_tensor(f, "blk.3.attn_k.bias");
        const lc_gguf_tensor *v = lc_gguf_find_tensor(f, "blk.3.attn_v.bias");
        CHECK(q && k && v && q->type == LC_TYPE_F32 && k->type == LC_TYPE_F32 && v->type == LC_TYPE_F32);
        if (q && k && v) {
            /* head size 8: GGUF row h*8 + 2j + t holds HF row h*8 + 4t + j */
            const float *qv = q->data, *kv = k->data, *vv = v->data;
            CHECK(qv[0] == 0 && qv[1] == 4 && qv[2] == 1 && qv[3] == 5 && qv[7] == 7 && qv[9] == 12);
            CHECK(kv[30] == 27 && kv[31] == 31);
            CHECK(vv[5] == 5 && vv[31] == 31);
        }
        lc_gguf_close(f);
    }
    /* the config promises biases: leaving one out is an error */
    CHECK(write_safetensors(path, e, st->n_tensors + n_bias - 1) == 0);
    unlink(out);
    expect_failure(s, s->dir, &p, "model.layers.4.self_attn.o_proj.bias", "missing bias");
    free(names);
    free(fake);
    free(e);
    lc_safetensors_close(st);
    empty_dir(s->dir);
}

/* ------------------------------------------------- K-quants, full blocks */

/* A Llama of 8 layers whose rows are all multiples of 256 (hidden 256,
 * 4 heads of 64 with 2 KV heads, FFN 512, untied, the 512-token stories260K
 * vocabulary), with deterministic pseudo-random F32 weights, so that the
 * mixes take the real K-quant path and use_more_bits(i, 8) shows. */
enum { KQ_LAYERS = 8, KQ_EMBD = 256, KQ_KV = 128, KQ_FF = 512, KQ_VOCAB = 512 };
#define KQ_TENSORS (3 + 9 * KQ_LAYERS)

typedef struct kq_model {
    st_entry e[KQ_TENSORS];
    lc_st_tensor t[KQ_TENSORS];
    char names[KQ_TENSORS][64];
    float *data[KQ_TENSORS];
    size_t n;
} kq_model;

static uint32_t kq_next(uint32_t *state) {
    *state ^= *state << 13;
    *state ^= *state >> 17;
    *state ^= *state << 5;
    return *state;
}

/* Norms near 1; matrices uniform with a scale that varies by row, so the
 * K-quant sub-block scales and mins see different ranges. */
static void kq_add(kq_model *m, const char *name, int64_t rows, int64_t cols) {
    size_t i = m->n++;
    int64_t n = rows * cols;
    float *d = malloc((size_t)n * sizeof *d);
    uint32_t state = 0x9E3779B9u ^ (uint32_t)(i * 7919u + 1u);
    for (int64_t r = 0; d && r < rows; r++) {
        float scale = rows == 1 ? 0.1f : 0.02f * (float)(1 + r % 7);
        for (int64_t c = 0; c < cols; c++) {
            float u = (float)(kq_next(&state) >> 8) / 16777216.0f * 2.0f - 1.0f;
            d[r * cols + c] = rows == 1 ? 1.0f + scale * u : scale * u;
        }
    }
    snprintf(m->names[i], sizeof m->names[i], "%s", name);
    m->data[i] = d;
    m->t[i] = (lc_st_tensor){.dtype = LC_ST_F32, .n_dims = rows == 1 ? 1 : 2,
                             .shape = {rows == 1 ? cols : rows, cols},
                             .data = (const uint8_t *)d, .nbytes = (uint64_t)n * 4};
    m->e[i] = (st_entry){m->names[i], &m->t[i]};
}

static void kq_layer(kq_model *m, int l) {
    static const struct { const char *name; int64_t rows, cols; } parts[] = {
        {"input_layernorm", 1, KQ_EMBD},           {"self_attn.q_proj", KQ_EMBD, KQ_EMBD},
        {"self_attn.k_proj", KQ_KV, KQ_EMBD},      {"self_attn.v_proj", KQ_KV, KQ_EMBD},
        {"self_attn.o_proj", KQ_EMBD, KQ_EMBD},    {"post_attention_layernorm", 1, KQ_EMBD},
        {"mlp.gate_proj", KQ_FF, KQ_EMBD},         {"mlp.up_proj", KQ_FF, KQ_EMBD},
        {"mlp.down_proj", KQ_EMBD, KQ_FF}};
    for (size_t p = 0; p < sizeof parts / sizeof parts[0]; p++) {
        char name[64];
        snprintf(name, sizeof name, "model.layers.%d.%s.weight", l, parts[p].name);
        kq_add(m, name, parts[p].rows, parts[p].cols);
    }
}

static int kq_write_folder(const char *dir) {
    kq_model *m = calloc(1, sizeof *m);
    if (!m) return -1;
    kq_add(m, "model.embed_tokens.weight", KQ_VOCAB, KQ_EMBD);
    for (int l = 0; l < KQ_LAYERS; l++) kq_layer(m, l);
    kq_add(m, "model.norm.weight", 1, KQ_EMBD);
    kq_add(m, "lm_head.weight", KQ_VOCAB, KQ_EMBD);
    char path[128];
    path2(path, sizeof path, dir, "model.safetensors");
    int rc = write_safetensors(path, m->e, m->n);
    for (size_t i = 0; i < m->n; i++) free(m->data[i]);
    free(m);
    char cfg[1024];
    snprintf(cfg, sizeof cfg,
             "{\"architectures\":[\"LlamaForCausalLM\"],\"model_type\":\"llama\",\"hidden_size\":%d,"
             "\"intermediate_size\":%d,\"num_hidden_layers\":%d,\"num_attention_heads\":4,"
             "\"num_key_value_heads\":2,\"vocab_size\":%d,\"max_position_embeddings\":256,"
             "\"rms_norm_eps\":1e-05,\"rope_theta\":10000.0,\"tie_word_embeddings\":false,"
             "\"bos_token_id\":1,\"eos_token_id\":2,\"torch_dtype\":\"float32\"}",
             KQ_EMBD, KQ_FF, KQ_LAYERS, KQ_VOCAB);
    path2(path, sizeof path, dir, "config.json");
    return rc == 0 && write_file(path, cfg, strlen(cfg)) == 0 ? 0 : -1;
}

/* What each tensor of the 8-layer model must be, from 5.4 and the layer
 * lists of use_more_bits(i, 8) = {0, 3, 6, 7}, worked out by hand. */
static int expected_kq_type(const char *name, int out) {
    if (strstr(name, "_norm.weight")) return LC_TYPE_F32;
    if (out == LC_TYPE_Q6_K) return LC_TYPE_Q6_K;
    if (!strcmp(name, "output.weight")) return LC_TYPE_Q6_K;
    if (!strcmp(name, "token_embd.weight")) return LC_TYPE_Q8_0;
    int layer = lc_conv_layer_of(name);
    bool v = strstr(name, ".attn_v.") != NULL, down = strstr(name, ".ffn_down.") != NULL;
    if (out == LLAMAC_CONVERT_Q4_K_M && (v || down) &&
        (layer == 0 || layer == 3 || layer == 6 || layer == 7))
        return LC_TYPE_Q6_K;
    /* Q4_K_S: attn_v of layers 0-3, ffn_down below 8/8 = 1 */
    if (out == LLAMAC_CONVERT_Q4_K_S && ((v && layer < 4) || (down && layer < 1))) return LC_TYPE_Q5_K;
    return LC_TYPE_Q4_K;
}

static void check_kq_file(const char *path, int out, const lc_gguf_file *f32) {
    lc_gguf_file *f = NULL;
    llamac_error err = {{0}};
    CHECKF(lc_gguf_open(path, &f, &err) == 0, "%s", err.msg);
    if (!f) return;
    CHECK(f->n_tensors == KQ_TENSORS);
    int counts[LC_TYPE_COUNT] = {0};
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        const lc_gguf_tensor *t = &f->tensors[i];
        int want = expected_kq_type(t->name, out);
        CHECKF((int)t->type == want, "%s: %s is %s, expected %s", path, t->name,
               lc_type_name((int)t->type), lc_type_name(want));
        if (t->type < LC_TYPE_COUNT) counts[t->type]++;
        if (f32 && lc_type_traits_get((int)t->type)->is_quantized) check_rows_quantized(f32, t);
    }
    if (out == LLAMAC_CONVERT_Q4_K_M) /* 4 layers x (attn_v, ffn_down) + output */
        CHECK(counts[LC_TYPE_Q6_K] == 9 && counts[LC_TYPE_Q4_K] == 7 * KQ_LAYERS - 8);
    if (out == LLAMAC_CONVERT_Q4_K_S) CHECK(counts[LC_TYPE_Q5_K] == 5 && counts[LC_TYPE_Q6_K] == 1);
    uint32_t ftype = 99;
    CHECK(lc_gguf_get_u32(f, "general.file_type", &ftype, NULL) == 1 && (int)ftype == lc_conv_file_type(out));
    lc_gguf_close(f);
}

/* The file loads through the public API and a prompt gives finite,
 * non-constant logits. */
static void check_runs(const char *path) {
    llamac_error err = {{0}};
    llamac_model_params mp = llamac_model_default_params();
    llamac_model *m = llamac_model_load(path, &mp, &err);
    CHECKF(m != NULL, "%s does not load: %s", path, err.msg);
    if (!m) return;
    llamac_context_params cp = llamac_context_default_params();
    cp.n_ctx = 64;
    cp.n_threads = 2;
    llamac_context *ctx = llamac_context_create(m, &cp, &err);
    CHECKF(ctx != NULL, "%s: %s", path, err.msg);
    const llamac_token prompt[] = {1, 17, 300, 42, 511};
    const int n = (int)(sizeof prompt / sizeof prompt[0]);
    if (ctx) {
        CHECKF(llamac_decode(ctx, prompt, n, true, &err) == 0, "%s: %s", path, err.msg);
        int bad = 0;
        for (int i = 0; i < n; i++) {
            const float *l = llamac_logits(ctx, i);
            if (!l) {
                bad++;
                continue;
            }
            float lo = l[0], hi = l[0];
            for (int v = 0; v < KQ_VOCAB; v++) {
                if (!isfinite(l[v])) bad++;
                lo = fminf(lo, l[v]);
                hi = fmaxf(hi, l[v]);
            }
            if (!(hi > lo)) bad++;
        }
        CHECKF(bad == 0, "%s: %d bad logits", path, bad);
        llamac_context_free(ctx);
    }
    llamac_model_free(m);
}

static void test_k_quants(scratch *s) {
    copy_hf_side_files(s->dir); /* the tokenizer; config.json is replaced */
    CHECK(kq_write_folder(s->dir) == 0);
    char f32_path[128];
    path2(f32_path, sizeof f32_path, s->out, "kq-f32.gguf");
    llamac_convert_params p = params_for(LC_TYPE_F32);
    llamac_error err = {{0}};
    CHECKF(llamac_convert(s->dir, f32_path, &p, &err) == 0, "%s", err.msg);
    lc_gguf_file *f32 = NULL;
    CHECK(lc_gguf_open(f32_path, &f32, NULL) == 0);
    static const int types[] = {LLAMAC_CONVERT_Q4_K_M, LLAMAC_CONVERT_Q4_K_S, LC_TYPE_Q6_K};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        char out[128];
        snprintf(out, sizeof out, "%s/kq-%s.gguf", s->out, llamac_convert_type_name(types[i]));
        p = params_for(types[i]);
        p.n_threads = 1 + (int)i; /* thread counts must not change the bytes */
        note_log log = {{0}};
        p.note = collect_note;
        p.note_user = &log;
        CHECKF(llamac_convert(s->dir, out, &p, &err) == 0, "%s: %s", out, err.msg);
        CHECKF(!strstr(log.text, "do not fit"), "%s: unexpected fallback: %s", out, log.text);
        if (types[i] == LLAMAC_CONVERT_Q4_K_M)
            CHECKF(strstr(log.text, "q4_K_M: 8 attn_v/ffn_down tensor(s) of the 8 layers") != NULL, "%s",
                   log.text);
        check_kq_file(out, types[i], f32);
        check_runs(out);
    }
    /* quantize from the F32 file: the same bytes as direct conversion */
    char direct[128], requant[128];
    path2(direct, sizeof direct, s->out, "kq-q4_K_M.gguf");
    path2(requant, sizeof requant, s->out, "kq-f32-q4_K_M.gguf");
    p = params_for(LC_TYPE_F32);
    CHECKF(llamac_quantize(f32_path, requant, LLAMAC_CONVERT_Q4_K_M, false, &p, &err) == 0, "%s", err.msg);
    CHECK(compare_to_reference(requant, direct) == KQ_TENSORS);
    lc_gguf_close(f32);
    empty_dir(s->dir);
    empty_dir(s->out);
}

static void test_bad_hf_inputs(scratch *s) {
    llamac_convert_params p = params_for(LC_TYPE_F32);
    char st_path[128];
    path2(st_path, sizeof st_path, s->dir, "model.safetensors");

    expect_failure(s, s->dir, &p, "config.json", "missing config.json");

    copy_hf_side_files(s->dir);
    CHECK(copy_file(STORIES_HF "/model.safetensors", st_path, 0) == 0);
    write_config(s->dir, "LlamaForCausalLM", "MistralForCausalLM");
    expect_failure(s, s->dir, &p, "unsupported architecture MistralForCausalLM", "architecture");
    write_config(s->dir, "\"model_type\": \"llama\"", "\"model_type\": \"gpt2\"");
    expect_failure(s, s->dir, &p, "unsupported architecture gpt2", "model_type");

    write_config(s->dir, "\"intermediate_size\": 172", "\"intermediate_size\": 160");
    expect_failure(s, s->dir, &p, "shape mismatch", "config/tensor shape mismatch");
    write_config(s->dir, "\"num_hidden_layers\": 5", "\"num_hidden_layers\": 6");
    expect_failure(s, s->dir, &p, "model.layers.5", "missing layer");
    write_config(s->dir, "\"num_hidden_layers\": 5", "\"num_hidden_layers\": 4");
    expect_failure(s, s->dir, &p, "unexpected tensor", "extra layer");
    write_config(s->dir, "\"tie_word_embeddings\": true", "\"tie_word_embeddings\": false");
    expect_failure(s, s->dir, &p, "lm_head.weight", "untied without lm_head");
    write_config(s->dir, "\"rope_scaling\": null", "\"rope_scaling\": {\"rope_type\": \"yarn\", \"factor\": 4}");
    expect_failure(s, s->dir, &p, "yarn", "unsupported rope scaling");
    write_config(s->dir, "\"model_type\"", "\"model_type\"");

    CHECK(copy_file(STORIES_HF "/model.safetensors", st_path, 1000) == 0);
    expect_failure(s, s->dir, &p, "model.safetensors", "truncated safetensors");

    write_raw_safetensors(s->dir, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
                          1u << 30, 8);
    expect_failure(s, s->dir, &p, "runs past the end", "header length past EOF");

    write_raw_safetensors(s->dir,
                          "{\"model.norm.weight\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                          "\"model.norm.weight\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}",
                          0, 16);
    expect_failure(s, s->dir, &p, "listed twice", "duplicate tensor names");

    write_raw_safetensors(s->dir,
                          "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                          "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
                          0, 12);
    expect_failure(s, s->dir, &p, "overlaps", "overlapping tensors");

    write_raw_safetensors(s->dir,
                          "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                          "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[12,20]}}",
                          0, 20);
    expect_failure(s, s->dir, &p, "hole", "hole in the buffer");

    write_raw_safetensors(s->dir, "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 0, 8);
    expect_failure(s, s->dir, &p, "needs 3 elements", "shape x dtype != extent");

    write_raw_safetensors(s->dir, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]", 0, 8);
    expect_failure(s, s->dir, &p, "not valid JSON", "broken JSON");

    /* found by fuzz_safetensors: a "\n" in a tensor name made the message two lines */
    write_raw_safetensors(s->dir, "{\"bad\\nname\":1}", 0, 0);
    expect_failure(s, s->dir, &p, "tensor 'bad?name': entry is not an object", "newline in a name");
    empty_dir(s->dir);
}

static void test_bad_llama2c_inputs(scratch *s) {
    llamac_convert_params p = params_for(LC_TYPE_F32);
    char bin[128], tok[128];
    path2(bin, sizeof bin, s->dir, "m.bin");
    path2(tok, sizeof tok, s->dir, "tok.bin");
    expect_failure(s, STORIES_BIN, &p, "tokenizer", "llama2.c without tokenizer");
    p.tokenizer = TOK512_MODEL;
    CHECK(copy_file(STORIES_BIN, bin, 4) == 0);
    expect_failure(s, bin, &p, "implies", "truncated llama2.c checkpoint");
    p.tokenizer = tok;
    CHECK(copy_file(TOK512_BIN, tok, 3) == 0);
    expect_failure(s, STORIES_BIN, &p, "runs past the end", "truncated tokenizer.bin");
    p.tokenizer = "/work/does-not-exist.model";
    expect_failure(s, STORIES_BIN, &p, "does-not-exist", "missing tokenizer");
    empty_dir(s->dir);
}

/* A write that fails half way (RLIMIT_FSIZE stands in for a full disk)
 * is a clean error and removes the temporary file. Run in a child so the
 * limit and the ignored SIGXFSZ do not outlive the case. */
static void test_full_disk(scratch *s) {
    pid_t pid = fork();
    if (pid == 0) {
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl = {200000, 200000};
        setrlimit(RLIMIT_FSIZE, &rl);
        char out[128];
        path2(out, sizeof out, s->out, "full.gguf");
        llamac_convert_params p = params_for(LC_TYPE_F32);
        llamac_error err = {{0}};
        int rc = llamac_convert(STORIES_HF, out, &p, &err);
        bool named = strstr(err.msg, "full.gguf") != NULL;
        _exit(rc == -1 && named ? 0 : 1);
    }
    int status = 0;
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
    CHECKF(WIFEXITED(status) && WEXITSTATUS(status) == 0, "full disk: no clean error (status %d)", status);
    CHECKF(count_entries(s->out) == 0, "full disk: a file was left behind");
}

/* Cancelling from the progress callback removes everything too. */
static bool cancel_at_once(const llamac_convert_progress *p, void *user) {
    (void)p;
    (*(int *)user)++;
    return false;
}

static void test_cancel(scratch *s) {
    int calls = 0;
    llamac_convert_params p = params_for(LC_TYPE_Q8_0);
    p.progress = cancel_at_once;
    p.progress_user = &calls;
    expect_failure(s, STORIES_HF, &p, "cancelled", "cancel");
    CHECK(calls == 1);
}

/* ---------------------------------------------------------------- policy */

static void test_policy(void) {
    int64_t ne_w[4] = {4096, 4096, 1, 1}, ne_v[4] = {4096, 1, 1, 1}, ne_odd[4] = {172, 64, 1, 1};
    int64_t ne_head[4] = {4096, 128256, 1, 1}, ne_small_head[4] = {64, 512, 1, 1};
    int fb;
    lc_conv_policy q40 = {LC_TYPE_Q4_0, 32, false}, q80 = {LC_TYPE_Q8_0, 32, false};
    lc_conv_policy f16 = {LC_TYPE_F16, 32, false}, q51 = {LC_TYPE_Q5_1, 32, false};
    lc_conv_policy q41 = {LC_TYPE_Q4_1, 5, false};
    CHECK(lc_conv_pick_type(&q40, "blk.0.attn_q.weight", 2, ne_w, false, &fb) == LC_TYPE_Q4_0 && fb < 0);
    CHECK(lc_conv_pick_type(&q40, "blk.0.attn_norm.weight", 1, ne_v, false, &fb) == LC_TYPE_F32);
    CHECK(lc_conv_pick_type(&f16, "blk.0.attn_q.bias", 1, ne_v, false, &fb) == LC_TYPE_F32);
    CHECK(lc_conv_pick_type(&q40, "output.weight", 2, ne_head, true, &fb) == LC_TYPE_Q6_K);
    CHECK(lc_conv_pick_type(&q80, "output.weight", 2, ne_head, true, &fb) == LC_TYPE_Q8_0);
    CHECK(lc_conv_pick_type(&f16, "output.weight", 2, ne_head, true, &fb) == LC_TYPE_F16);
    CHECK(lc_conv_pick_type(&q51, "token_embd.weight", 2, ne_head, false, &fb) == LC_TYPE_Q8_0);
    CHECK(lc_conv_pick_type(&q41, "token_embd.weight", 2, ne_small_head, true, &fb) == LC_TYPE_Q8_0 &&
          fb == LC_TYPE_Q6_K);
    CHECK(lc_conv_pick_type(&q80, "blk.0.ffn_down.weight", 2, ne_odd, false, &fb) == LC_TYPE_F16 &&
          fb == LC_TYPE_Q8_0);
    CHECK(lc_conv_type_supported(LC_TYPE_Q5_0) && lc_conv_type_supported(LC_TYPE_Q6_K) &&
          !lc_conv_type_supported(LC_TYPE_Q4_K) && !lc_conv_type_supported(LC_TYPE_Q5_K));
    CHECK(llamac_convert_type_from_name("Q4_0") == LC_TYPE_Q4_0);
    CHECK(llamac_convert_type_from_name("q4_k") == -1 && llamac_convert_type_from_name("q3_k_m") == -1);
    char name[64];
    lc_conv_base_name("/x/Llama-3.1-8B/", false, name, sizeof name);
    CHECK(!strcmp(name, "Llama-3.1-8B"));
    lc_conv_base_name("a/stories260K.bin", true, name, sizeof name);
    CHECK(!strcmp(name, "stories260K"));
}

/* llama.cpp's use_more_bits, against the layer list in docs/formats.md "Type choice for quantized files"
 * (n = 32) and worked out by hand (n = 8: n/8 = 1, 7n/8 = 7). */
static void test_use_more_bits(void) {
    static const int more_32[] = {0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 28, 29, 30, 31};
    static const int more_8[] = {0, 3, 6, 7};
    for (int i = 0; i < 32; i++) {
        bool want = false;
        for (size_t j = 0; j < sizeof more_32 / sizeof more_32[0]; j++) want |= more_32[j] == i;
        CHECKF(lc_conv_use_more_bits(i, 32) == want, "use_more_bits(%d, 32)", i);
    }
    for (int i = 0; i < 8; i++) {
        bool want = false;
        for (size_t j = 0; j < sizeof more_8 / sizeof more_8[0]; j++) want |= more_8[j] == i;
        CHECKF(lc_conv_use_more_bits(i, 8) == want, "use_more_bits(%d, 8)", i);
    }
    CHECK(lc_conv_layer_of("blk.12.attn_v.weight") == 12 && lc_conv_layer_of("blk.0.ffn_down.weight") == 0);
    CHECK(lc_conv_layer_of("token_embd.weight") == -1 && lc_conv_layer_of("blk.x.attn_v.weight") == -1 &&
          lc_conv_layer_of("blk.3") == -1);
}

/* One 2-D tensor through the policy; output.weight is the logits matrix. */
static int pick(const lc_conv_policy *pol, const char *name, int64_t ne0, int64_t ne1, int *fb) {
    int64_t ne[4] = {ne0, ne1, 1, 1};
    return lc_conv_pick_type(pol, name, 2, ne, !strcmp(name, "output.weight"), fb);
}

static void test_k_quant_policy(void) {
    const lc_conv_policy km = {LLAMAC_CONVERT_Q4_K_M, 32, false}, ks = {LLAMAC_CONVERT_Q4_K_S, 32, false};
    const lc_conv_policy q6 = {LC_TYPE_Q6_K, 32, false};
    const lc_conv_policy km70 = {LLAMAC_CONVERT_Q4_K_M, 80, true}, ks70 = {LLAMAC_CONVERT_Q4_K_S, 80, true};
    int fb;
    /* Q4_K_M: Q6_K attn_v/ffn_down where use_more_bits, else Q4_K */
    CHECK(pick(&km, "blk.6.attn_v.weight", 4096, 1024, &fb) == LC_TYPE_Q6_K && fb < 0);
    CHECK(pick(&km, "blk.7.attn_v.weight", 4096, 1024, &fb) == LC_TYPE_Q4_K && fb < 0);
    CHECK(pick(&km, "blk.27.ffn_down.weight", 14336, 4096, &fb) == LC_TYPE_Q6_K);
    CHECK(pick(&km, "blk.26.ffn_down.weight", 14336, 4096, &fb) == LC_TYPE_Q4_K);
    CHECK(pick(&km, "blk.0.attn_q.weight", 4096, 4096, &fb) == LC_TYPE_Q4_K);
    CHECK(pick(&km, "blk.0.ffn_gate.weight", 4096, 14336, &fb) == LC_TYPE_Q4_K);
    CHECK(pick(&km, "output.weight", 4096, 128256, &fb) == LC_TYPE_Q6_K);
    int64_t ne_embd[4] = {4096, 128256, 1, 1};
    CHECK(lc_conv_pick_type(&km, "token_embd.weight", 2, ne_embd, true, &fb) == LC_TYPE_Q6_K); /* tied */
    CHECK(pick(&km, "token_embd.weight", 4096, 128256, &fb) == LC_TYPE_Q8_0); /* untied: our choice */
    /* Q4_K_S: Q5_K for the first 4 attn_v and the first n/8 ffn_down */
    CHECK(pick(&ks, "blk.3.attn_v.weight", 4096, 1024, &fb) == LC_TYPE_Q5_K);
    CHECK(pick(&ks, "blk.4.attn_v.weight", 4096, 1024, &fb) == LC_TYPE_Q4_K);
    CHECK(pick(&ks, "blk.3.ffn_down.weight", 14336, 4096, &fb) == LC_TYPE_Q5_K);
    CHECK(pick(&ks, "blk.4.ffn_down.weight", 14336, 4096, &fb) == LC_TYPE_Q4_K);
    CHECK(pick(&ks, "blk.31.ffn_down.weight", 14336, 4096, &fb) == LC_TYPE_Q4_K);
    CHECK(pick(&ks, "output.weight", 4096, 128256, &fb) == LC_TYPE_Q6_K);
    /* 70B (80 layers, GQA): a Q4_K attn_v becomes Q5_K, other tensors do not */
    CHECK(pick(&km70, "blk.9.attn_v.weight", 8192, 1024, &fb) == LC_TYPE_Q6_K);  /* 9 < 80/8 */
    CHECK(pick(&km70, "blk.11.attn_v.weight", 8192, 1024, &fb) == LC_TYPE_Q5_K);
    CHECK(pick(&km70, "blk.11.ffn_down.weight", 28672, 8192, &fb) == LC_TYPE_Q4_K);
    CHECK(pick(&ks70, "blk.40.attn_v.weight", 8192, 1024, &fb) == LC_TYPE_Q5_K);
    CHECK(pick(&ks70, "blk.40.attn_q.weight", 8192, 8192, &fb) == LC_TYPE_Q4_K);
    /* Q6_K: everything, the untied embedding too */
    CHECK(pick(&q6, "blk.7.attn_v.weight", 4096, 1024, &fb) == LC_TYPE_Q6_K);
    CHECK(pick(&q6, "token_embd.weight", 4096, 128256, &fb) == LC_TYPE_Q6_K);
    /* fallbacks for rows that are not a multiple of 256 (docs/formats.md "Type choice for quantized files") */
    CHECK(pick(&km, "blk.7.attn_v.weight", 96, 32, &fb) == LC_TYPE_Q5_0 && fb == LC_TYPE_Q4_K);
    CHECK(pick(&ks, "blk.0.attn_v.weight", 96, 32, &fb) == LC_TYPE_Q5_1 && fb == LC_TYPE_Q5_K);
    CHECK(pick(&km, "blk.6.attn_v.weight", 96, 32, &fb) == LC_TYPE_Q8_0 && fb == LC_TYPE_Q6_K);
    CHECK(pick(&q6, "blk.0.attn_q.weight", 96, 96, &fb) == LC_TYPE_Q8_0 && fb == LC_TYPE_Q6_K);
    CHECK(pick(&km, "blk.7.attn_v.weight", 172, 32, &fb) == LC_TYPE_F16 && fb == LC_TYPE_Q4_K);
    CHECK(pick(&ks, "blk.0.attn_v.weight", 172, 32, &fb) == LC_TYPE_F16 && fb == LC_TYPE_Q5_K);
    CHECK(pick(&q6, "blk.0.attn_q.weight", 172, 32, &fb) == LC_TYPE_F16 && fb == LC_TYPE_Q6_K);
    /* names, file types */
    CHECK(llamac_convert_type_from_name("q4_k_m") == LLAMAC_CONVERT_Q4_K_M);
    CHECK(llamac_convert_type_from_name("Q4_K_S") == LLAMAC_CONVERT_Q4_K_S);
    CHECK(llamac_convert_type_from_name("q6_k") == LC_TYPE_Q6_K);
    CHECK(!strcmp(llamac_convert_type_name(LLAMAC_CONVERT_Q4_K_M), "q4_K_M") &&
          !strcmp(llamac_convert_type_name(LC_TYPE_Q6_K), "q6_K") &&
          !strcmp(llamac_convert_type_name(LC_TYPE_Q4_K), "unknown"));
    CHECK(lc_conv_file_type(LLAMAC_CONVERT_Q4_K_M) == 15 && lc_conv_file_type(LLAMAC_CONVERT_Q4_K_S) == 14 &&
          lc_conv_file_type(LC_TYPE_Q6_K) == 18);
}

static void test_config_reader(scratch *s) {
    lc_hf_config c;
    llamac_error err = {{0}};
    CHECKF(lc_hf_config_load("data/configs/Llama-3.1-8B-Instruct.json", &c, &err) == 0, "%s", err.msg);
    CHECK(c.n_layer == 32 && c.n_head == 32 && c.n_head_kv == 8 && c.head_dim == 128 &&
          c.vocab_size == 128256 && c.rope_scaling == LC_ROPE_SCALING_LLAMA3 && !c.tie_word_embeddings &&
          c.rope_theta == 500000.0f && c.intermediate_size == 14336);
    CHECKF(lc_hf_config_load("data/configs/Llama-3.2-1B.json", &c, &err) == 0, "%s", err.msg);
    CHECK(c.head_dim == 64 && c.tie_word_embeddings && c.rope_factor == 32.0f);
    CHECKF(lc_hf_config_load("data/configs/CodeLlama-7b-hf.json", &c, &err) == 0, "%s", err.msg);
    CHECK(c.vocab_size == 32016 && c.rope_theta == 1000000.0f && c.n_head_kv == 32 &&
          c.max_position_embeddings == 16384 && c.rope_scaling == LC_ROPE_SCALING_NONE);
    char path[128];
    path2(path, sizeof path, s->dir, "config.json");
    const char *linear = "{\"architectures\":[\"LlamaForCausalLM\"],\"vocab_size\":10,\"hidden_size\":8,"
                         "\"intermediate_size\":16,\"num_hidden_layers\":1,\"num_attention_heads\":2,"
                         "\"rope_scaling\":{\"type\":\"linear\",\"factor\":2.0}}";
    CHECK(write_file(path, linear, strlen(linear)) == 0);
    CHECKF(lc_hf_config_load(path, &c, &err) == 0, "%s", err.msg);
    CHECK(c.rope_scaling == LC_ROPE_SCALING_LINEAR && c.rope_factor == 2.0f && c.n_head_kv == 2 &&
          c.head_dim == 4);
    const char *odd = "{\"model_type\":\"llama\",\"vocab_size\":10,\"hidden_size\":8,"
                      "\"intermediate_size\":16,\"num_hidden_layers\":1,\"num_attention_heads\":3}";
    CHECK(write_file(path, odd, strlen(odd)) == 0);
    CHECK(lc_hf_config_load(path, &c, &err) == -1 && strstr(err.msg, "num_attention_heads"));
    empty_dir(s->dir);
}

int main(void) {
    scratch s;
    if (scratch_init(&s) != 0) {
        fprintf(stderr, "cannot create scratch folders in /tmp\n");
        return 1;
    }
    test_policy();
    test_use_more_bits();
    test_k_quant_policy();
    test_config_reader(&s);
    test_stories_hf_equals_reference(&s);
    test_llama2c_equals_reference(&s);
    test_tiny_llama3(&s);
    test_quantize(&s);
    test_sharded(&s);
    test_biases(&s);
    test_k_quants(&s);
    test_bad_hf_inputs(&s);
    test_bad_llama2c_inputs(&s);
    test_full_disk(&s);
    test_cancel(&s);
    scratch_free(&s);
    return TEST_SUMMARY("test_convert");
}
