#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int cli_error(const char *cmd, int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "llamac %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return code;
}

bool cli_parse_i64(const char *cmd, const char *opt, const char *s, int64_t lo, int64_t hi, int64_t *out) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        cli_error(cmd, CLI_USAGE, "%s expects an integer in [%lld, %lld], got '%s'", opt, (long long)lo,
                  (long long)hi, s);
        return false;
    }
    *out = v;
    return true;
}

bool cli_parse_f32(const char *cmd, const char *opt, const char *s, float lo, float hi, float *out) {
    char *end;
    errno = 0;
    float v = strtof(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v < lo || v > hi) {
        cli_error(cmd, CLI_USAGE, "%s expects a number in [%g, %g], got '%s'", opt, (double)lo, (double)hi, s);
        return false;
    }
    *out = v;
    return true;
}

const char *cli_value(const char *cmd, int argc, char **argv, int *i) {
    if (*i + 1 >= argc) {
        cli_error(cmd, CLI_USAGE, "option %s needs a value", argv[*i]);
        return NULL;
    }
    return argv[++*i];
}

char *cli_read_file(const char *cmd, const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        cli_error(cmd, CLI_FAIL, "%s: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        if (n == cap) {
            char *nb = realloc(buf, cap * 2 + 1);
            if (!nb) { free(buf); buf = NULL; break; }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) break;
    }
    bool failed = ferror(f) || !buf;
    fclose(f);
    if (failed) {
        free(buf);
        cli_error(cmd, CLI_FAIL, "%s: read error", path);
        return NULL;
    }
    buf[n] = 0;
    *len = n;
    return buf;
}

void cli_progress_init(cli_progress *p, const char *label) {
    p->label = label;
    p->start_us = llamac_time_us();
    p->last_permille = -1;
    p->enabled = isatty(STDERR_FILENO) != 0;
}

void cli_progress_update(double fraction, void *user) {
    cli_progress *p = user;
    if (!p->enabled) return;
    int permille = (int)(fraction * 1000.0);
    if (permille == p->last_permille) return;
    p->last_permille = permille;
    const int width = 30;
    int fill = (int)(fraction * width);
    char bar[64];
    for (int i = 0; i < width; i++) bar[i] = i < fill ? '#' : '.';
    bar[width] = 0;
    double secs = (double)(llamac_time_us() - p->start_us) / 1e6;
    double eta = fraction > 0.001 ? secs / fraction - secs : 0.0;
    fprintf(stderr, "\r%s [%s] %5.1f%% %5.1fs elapsed, ETA %5.1fs", p->label, bar, fraction * 100.0, secs, eta);
    fflush(stderr);
}

void cli_progress_done(cli_progress *p) {
    if (p->enabled && p->last_permille >= 0) fprintf(stderr, "\r\033[K");
}

llamac_model *cli_load_model(const char *cmd, const char *path, const cli_model_opts *o) {
    llamac_error err = {{0}};
    cli_progress bar;
    cli_progress_init(&bar, "loading");
    llamac_model_params mp = llamac_model_default_params();
    mp.progress = cli_progress_update;
    mp.progress_user = &bar;
    mp.use_mmap = o->mmap;
    mp.no_repack = o->no_repack;
    mp.f16_as_bf16 = o->f16_as_bf16;
    mp.isa = o->isa;
    llamac_model *m = llamac_model_load(path, &mp, &err);
    cli_progress_done(&bar);
    if (!m) cli_error(cmd, CLI_FAIL, "%s", err.msg);
    return m;
}

bool cli_parse_kv_type(const char *cmd, const char *s, int *out) {
    if (!strcmp(s, "f16")) *out = LLAMAC_KV_F16;
    else if (!strcmp(s, "f32")) *out = LLAMAC_KV_F32;
    else if (!strcmp(s, "q8_0")) *out = LLAMAC_KV_Q8_0;
    else {
        cli_error(cmd, CLI_USAGE, "--kv-type must be f16, f32 or q8_0, got '%s'", s);
        return false;
    }
    return true;
}

int cli_engine_option(const char *cmd, int argc, char **argv, int *i, llamac_sampler_params *sp,
                      llamac_context_params *cp, const char **isa) {
    const char *a = argv[*i], *v;
    int64_t iv;
    float fv;
    bool ok;
#define VALUE() (v = cli_value(cmd, argc, argv, i)) != NULL
#define INT(lo, hi) (VALUE() && cli_parse_i64(cmd, a, v, lo, hi, &iv))
#define FLT(lo, hi) (VALUE() && cli_parse_f32(cmd, a, v, lo, hi, &fv))
    if (!strcmp(a, "--temp")) { if ((ok = FLT(0.0f, 100.0f))) sp->temperature = fv; }
    else if (!strcmp(a, "--top-k")) { if ((ok = INT(0, INT32_MAX))) sp->top_k = (int32_t)iv; }
    else if (!strcmp(a, "--top-p")) { if ((ok = FLT(0.0f, 1.0f))) sp->top_p = fv; }
    else if (!strcmp(a, "--min-p")) { if ((ok = FLT(0.0f, 1.0f))) sp->min_p = fv; }
    else if (!strcmp(a, "--repeat-penalty")) { if ((ok = FLT(0.0f, 100.0f))) sp->repeat_penalty = fv; }
    else if (!strcmp(a, "--repeat-last-n")) { if ((ok = INT(0, 1 << 20))) sp->repeat_last_n = (int32_t)iv; }
    else if (!strcmp(a, "--seed")) { if ((ok = INT(0, INT64_MAX))) sp->seed = (uint64_t)iv; }
    else if (!strcmp(a, "--ctx")) { if ((ok = INT(1, INT32_MAX))) cp->n_ctx = (uint32_t)iv; }
    else if (!strcmp(a, "--batch")) { if ((ok = INT(1, 1 << 16))) cp->n_batch = (int32_t)iv; }
    else if (!strcmp(a, "--kv-type")) ok = VALUE() && cli_parse_kv_type(cmd, v, &cp->kv_type);
    else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) { if ((ok = INT(1, 1024))) cp->n_threads = (int32_t)iv; }
    else if (!strcmp(a, "--isa")) { if ((ok = VALUE())) *isa = v; }
    else return 0;
#undef VALUE
#undef INT
#undef FLT
    return ok ? 1 : -1;
}
