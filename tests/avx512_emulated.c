/* The AVX-512 kernels (src/kernels/avx512.c) compiled a second time, on
 * SIMDe (tests/avx512_emulate.h), as the table lc_kernels_avx512_emulated.
 * test_kernels holds it against the scalar reference and test_tiny_llama3
 * runs whole forward passes on it, so the kernels' arithmetic is tested on
 * machines without AVX-512 too (the native table is tested as well
 * wherever the CPU has it). */
#include "avx512_emulate.h"

#include "kernels/avx512.c"
