/* Which kernel table runs: the best one this build has and this CPU can
 * execute, unless LLAMAC_ISA names a lower available one (for tests, for
 * comparing speed, and for ruling a SIMD path out when hunting a bug).
 * Nothing here is cached: CPUID/getauxval are cheap and read only when a
 * compute context is created. */
#ifndef LC_DISPATCH_H
#define LC_DISPATCH_H

#include <stdbool.h>
#include <stddef.h>

#include "kernels/kernels.h"

typedef enum lc_isa {
    LC_ISA_SCALAR = 0,
    LC_ISA_AVX2,          /* x86-64: AVX2 + FMA + F16C */
    LC_ISA_AVX512,        /* x86-64: the above + AVX-512 F, BW, VL and VNNI */
    LC_ISA_AVX512_BF16,   /* x86-64: the above + AVX-512 BF16 */
    LC_ISA_NEON,          /* aarch64: ASIMD */
    LC_ISA_NEON_DOTPROD,  /* aarch64: ASIMD + SDOT (asimddp) */
    LC_ISA_COUNT
} lc_isa;

const char *lc_isa_name(lc_isa isa);            /* "scalar", "avx2", "avx512", "avx512-bf16", "neon", "neon-dotprod" */
int lc_isa_from_name(const char *name);          /* -1 if unknown */

/* Whether this build has the ISA's kernels and this CPU runs them. If not,
 * writes the reason ("CPU lacks avx2", "not built for x86-64") to why. */
bool lc_isa_available(lc_isa isa, char *why, size_t why_size);

/* The ISA a user named (a flag, an API parameter): 0 and *out, or -1 with
 * a message naming it and listing the known names, or saying what this
 * CPU or build lacks. */
struct llamac_error;
int lc_isa_parse(const char *name, lc_isa *out, struct llamac_error *err);

/* The best available ISA, or the one LLAMAC_ISA names if it is available
 * (an unknown or unavailable name is ignored). */
lc_isa lc_isa_default(void);
bool lc_isa_forced_by_env(void);

/* Whether the ISA has a native kernel for wtype in the x8 layout (the
 * loader repacks weights only for such types; the reference tile would be
 * slower than the plain layout's SIMD kernel). */
bool lc_isa_has_x8_kernel(lc_isa isa, int wtype);

/* The ISA's table, or NULL if it is not available. */
const lc_kernel_table *lc_kernel_table_get(lc_isa isa);

#endif
