/* Picks the kernel table from what the CPU reports (runtime/cpu.c). */
#include "kernels/dispatch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "runtime/cpu.h"
#include "runtime/err.h"

static const char *const isa_names[LC_ISA_COUNT] = {
    [LC_ISA_SCALAR] = "scalar",
    [LC_ISA_AVX2] = "avx2",
    [LC_ISA_AVX512] = "avx512",
    [LC_ISA_AVX512_BF16] = "avx512-bf16",
    [LC_ISA_NEON] = "neon",
    [LC_ISA_NEON_DOTPROD] = "neon-dotprod",
};

const char *lc_isa_name(lc_isa isa) {
    return (unsigned)isa < LC_ISA_COUNT ? isa_names[isa] : "unknown";
}

int lc_isa_from_name(const char *name) {
    if (!name) return -1;
    for (int i = 0; i < LC_ISA_COUNT; i++)
        if (strcasecmp(name, isa_names[i]) == 0) return i;
    return -1;
}

int lc_isa_parse(const char *name, lc_isa *out, llamac_error *err) {
    const int isa = lc_isa_from_name(name);
    if (isa < 0) {
        char known[128] = "";
        for (int i = LC_ISA_COUNT - 1; i >= 0; i--)
            snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s", isa_names[i], i ? ", " : "");
        return lc_fail(err, "unknown kernel table '%s' (%s)", name ? name : "(null)", known);
    }
    char why[64] = "";
    if (!lc_isa_available((lc_isa)isa, why, sizeof why)) return lc_fail(err, "kernel table '%s': %s", name, why);
    *out = (lc_isa)isa;
    return 0;
}

static void set_why(char *why, size_t size, const char *msg) {
    if (why && size) snprintf(why, size, "%s", msg);
}

bool lc_isa_available(lc_isa isa, char *why, size_t why_size) {
    lc_cpu_features f;
    lc_cpu_detect(&f);
    switch (isa) {
    case LC_ISA_SCALAR:
        return true;
    case LC_ISA_AVX2:
#if defined(__x86_64__)
        if (f.avx2 && f.fma && f.f16c) return true;
        set_why(why, why_size, !f.avx2 ? "CPU lacks avx2" : !f.fma ? "CPU lacks fma" : "CPU lacks f16c");
        return false;
#else
        set_why(why, why_size, "not built for x86-64");
        return false;
#endif
    case LC_ISA_AVX512:
#if defined(__x86_64__)
        if (!lc_isa_available(LC_ISA_AVX2, why, why_size)) return false;
        if (f.avx512f && f.avx512bw && f.avx512vl && f.avx512vnni) return true;
        set_why(why, why_size, !f.avx512f ? "CPU lacks avx512f" : !f.avx512bw ? "CPU lacks avx512bw"
                               : !f.avx512vl ? "CPU lacks avx512vl" : "CPU lacks avx512_vnni");
        return false;
#else
        set_why(why, why_size, "not built for x86-64");
        return false;
#endif
    case LC_ISA_AVX512_BF16:
        if (!lc_isa_available(LC_ISA_AVX512, why, why_size)) return false;
        if (f.avx512bf16) return true;
        set_why(why, why_size, "CPU lacks avx512_bf16");
        return false;
    case LC_ISA_NEON:
    case LC_ISA_NEON_DOTPROD:
#if defined(__aarch64__)
        if (!f.neon) { set_why(why, why_size, "CPU lacks asimd"); return false; }
        if (isa == LC_ISA_NEON_DOTPROD && !f.dotprod) {
            set_why(why, why_size, "CPU lacks asimddp (dotprod)");
            return false;
        }
        return true;
#else
        set_why(why, why_size, "not built for aarch64");
        return false;
#endif
    default:
        set_why(why, why_size, "unknown instruction set");
        return false;
    }
}

static lc_isa best_available(void) {
    for (int i = LC_ISA_COUNT - 1; i > 0; i--)
        if (lc_isa_available((lc_isa)i, NULL, 0)) return (lc_isa)i;
    return LC_ISA_SCALAR;
}

bool lc_isa_forced_by_env(void) {
    int isa = lc_isa_from_name(getenv("LLAMAC_ISA"));
    return isa >= 0 && lc_isa_available((lc_isa)isa, NULL, 0);
}

lc_isa lc_isa_default(void) {
    int isa = lc_isa_from_name(getenv("LLAMAC_ISA"));
    if (isa >= 0 && lc_isa_available((lc_isa)isa, NULL, 0)) return (lc_isa)isa;
    return best_available();
}

const lc_kernel_table *lc_kernel_table_get(lc_isa isa) {
    if (!lc_isa_available(isa, NULL, 0)) return NULL;
    switch (isa) {
#if defined(__x86_64__)
    case LC_ISA_AVX2: return &lc_kernels_avx2;
    case LC_ISA_AVX512: return &lc_kernels_avx512;
    case LC_ISA_AVX512_BF16: return &lc_kernels_avx512_bf16;
#endif
#if defined(__aarch64__)
    case LC_ISA_NEON: return &lc_kernels_neon;
    case LC_ISA_NEON_DOTPROD: return &lc_kernels_neon_dotprod;
#endif
    default: return &lc_kernels_scalar;
    }
}

bool lc_isa_has_x8_kernel(lc_isa isa, int wtype) {
    const lc_kernel_table *kt = lc_kernel_table_get(isa);
    if (!kt || wtype < 0 || wtype >= LC_TYPE_COUNT) return false;
    lc_kernel_table full;
    lc_kernel_table_resolve(kt, &full);
    return full.tile_x8[wtype] != NULL;
}

void lc_kernel_table_resolve(const lc_kernel_table *kt, lc_kernel_table *out) {
    *out = *kt;
    for (const lc_kernel_table *b = kt->base; b; b = b->base) {
        for (int t = 0; t < LC_TYPE_COUNT; t++) {
            if (!out->quantize_row[t]) out->quantize_row[t] = b->quantize_row[t];
            if (!out->tile[t]) out->tile[t] = b->tile[t];
            if (!out->tile_x8[t]) out->tile_x8[t] = b->tile_x8[t];
        }
        if (!out->act_row_size) out->act_row_size = b->act_row_size;
        if (!out->swiglu) out->swiglu = b->swiglu;
    }
    out->base = NULL;
}

/* Lives here rather than in runtime/cpu.c so that runtime/ knows nothing of the kernels. */
size_t llamac_system_info(char *buf, size_t size) {
    lc_cpu_features f;
    lc_cpu_detect(&f);
    char feats[256];
    lc_cpu_feature_string(&f, feats, sizeof feats);
    char isas[128] = "";
    size_t il = 0;
    for (int i = 0; i < LC_ISA_COUNT; i++) {
        if (!lc_isa_available((lc_isa)i, NULL, 0)) continue;
        int w = snprintf(isas + il, sizeof isas - il, "%s%s", il ? " " : "", lc_isa_name((lc_isa)i));
        if (w > 0 && (size_t)w < sizeof isas - il) il += (size_t)w;
    }
    int n = snprintf(buf, size,
                     "cpu: %s\n"
                     "features: %s\n"
                     "kernels available: %s\n"
                     "kernels chosen: %s%s\n"
                     "physical cores: %d\n",
                     f.brand, feats[0] ? feats : "(none)", isas, lc_isa_name(lc_isa_default()),
                     lc_isa_forced_by_env() ? " (LLAMAC_ISA)" : "", llamac_physical_cores());
    return n > 0 ? (size_t)n : 0;
}
