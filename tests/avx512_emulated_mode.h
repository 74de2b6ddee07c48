/* The --avx512-emulated mode of test_kernels and test_tiny_llama3: a ctest
 * test of its own (CMakeLists.txt) that runs only the AVX-512 kernels
 * compiled on SIMDe (tests/avx512_emulated.c), so that a machine without
 * SIMDe or AVX2 shows it as skipped instead of passing without them. */
#ifndef LC_TEST_AVX512_EMULATED_MODE_H
#define LC_TEST_AVX512_EMULATED_MODE_H

#include <stdbool.h>
#include <string.h>

#include "kernels/dispatch.h"

static inline bool lc_test_avx512_emulated_mode(int argc, char **argv) {
    return argc > 1 && strcmp(argv[1], "--avx512-emulated") == 0;
}

/* Why the emulated kernels cannot run here, or NULL when they can. */
static inline const char *lc_test_avx512_emulated_missing(void) {
#ifdef LLAMAC_TEST_AVX512_EMULATED
    return lc_isa_available(LC_ISA_AVX2, NULL, 0) ? NULL : "the emulation is built on AVX2, which this CPU lacks";
#else
    return "built without SIMDe (Debian package libsimde-dev; cmake looks for simde/x86/avx512.h)";
#endif
}

#endif
