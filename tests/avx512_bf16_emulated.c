/* The AVX-512 BF16 kernels (src/kernels/avx512_bf16.c) on SIMDe, as the
 * table lc_kernels_avx512_bf16_emulated (base: lc_kernels_avx512_emulated),
 * for test_kernels on machines without AVX-512 BF16. */
#include "avx512_emulate.h"

#include "kernels/avx512_bf16.c"
