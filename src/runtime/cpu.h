/* What the CPU we run on can do, read once from CPUID (x86, with the OS's
 * XSAVE support checked through XGETBV) or from the ELF hwcaps (aarch64).
 * Kernel dispatch (kernels/dispatch.c, which also holds llamac_system_info) uses it. */
#ifndef LC_CPU_H
#define LC_CPU_H

#include <stdbool.h>
#include <stddef.h>

typedef struct lc_cpu_features {
    char brand[64];  /* "AMD EPYC 9R14 96-Core Processor", or the architecture */
    /* x86: an instruction set counts only if the OS saves its registers. */
    bool sse3, ssse3, sse41, avx, avx2, fma, f16c;
    bool avx512f, avx512bw, avx512vl, avx512vnni, avx512bf16, avx_vnni;
    /* aarch64 */
    bool neon, dotprod, fphp, i8mm, bf16, sve;
} lc_cpu_features;

void lc_cpu_detect(lc_cpu_features *f);

/* Space-separated names of the features present ("avx2 fma f16c"). */
size_t lc_cpu_feature_string(const lc_cpu_features *f, char *buf, size_t size);

#endif
