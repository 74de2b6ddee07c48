/* Block types: the one place that knows how each ggml tensor type lays out
 * its bytes. One row per type in the table (types.c): block size, bytes per
 * block, dequantize, reference quantize, the activation type its dot product
 * pairs with, and the scalar reference dot product that every SIMD kernel is
 * tested against. Layouts and formulas: docs/formats.md "Block types", "Quantized dot products". */
#ifndef LC_TYPES_H
#define LC_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

enum lc_type {
    LC_TYPE_F32 = 0,
    LC_TYPE_F16 = 1,
    LC_TYPE_Q4_0 = 2,
    LC_TYPE_Q4_1 = 3,
    LC_TYPE_Q5_0 = 6,
    LC_TYPE_Q5_1 = 7,
    LC_TYPE_Q8_0 = 8,
    LC_TYPE_Q8_1 = 9,
    LC_TYPE_Q2_K = 10,
    LC_TYPE_Q3_K = 11,
    LC_TYPE_Q4_K = 12,
    LC_TYPE_Q5_K = 13,
    LC_TYPE_Q6_K = 14,
    LC_TYPE_Q8_K = 15,
    LC_TYPE_BF16 = 30,
    LC_TYPE_COUNT = 39 /* ids below this may appear in files */
};

#define QK4_0 32
#define QK4_1 32
#define QK5_0 32
#define QK5_1 32
#define QK8_0 32
#define QK8_1 32
#define QK_K 256
#define K_SCALE_SIZE 12

typedef uint16_t lc_f16;
typedef uint16_t lc_bf16;

typedef struct { lc_f16 d; uint8_t qs[QK4_0 / 2]; } block_q4_0;
typedef struct { lc_f16 d; lc_f16 m; uint8_t qs[QK4_1 / 2]; } block_q4_1;
typedef struct { lc_f16 d; uint8_t qh[4]; uint8_t qs[QK5_0 / 2]; } block_q5_0;
typedef struct { lc_f16 d; lc_f16 m; uint8_t qh[4]; uint8_t qs[QK5_1 / 2]; } block_q5_1;
typedef struct { lc_f16 d; int8_t qs[QK8_0]; } block_q8_0;
typedef struct { lc_f16 d; lc_f16 s; int8_t qs[QK8_1]; } block_q8_1;
typedef struct { uint8_t scales[QK_K / 16]; uint8_t qs[QK_K / 4]; lc_f16 d; lc_f16 dmin; } block_q2_K;
typedef struct { uint8_t hmask[QK_K / 8]; uint8_t qs[QK_K / 4]; uint8_t scales[12]; lc_f16 d; } block_q3_K;
typedef struct { lc_f16 d; lc_f16 dmin; uint8_t scales[K_SCALE_SIZE]; uint8_t qs[QK_K / 2]; } block_q4_K;
typedef struct { lc_f16 d; lc_f16 dmin; uint8_t scales[K_SCALE_SIZE]; uint8_t qh[QK_K / 8]; uint8_t qs[QK_K / 2]; } block_q5_K;
typedef struct { uint8_t ql[QK_K / 2]; uint8_t qh[QK_K / 4]; int8_t scales[QK_K / 16]; lc_f16 d; } block_q6_K;
typedef struct { float d; int8_t qs[QK_K]; int16_t bsums[QK_K / 16]; } block_q8_K;

_Static_assert(sizeof(block_q4_0) == 18, "q4_0 layout");
_Static_assert(sizeof(block_q4_1) == 20, "q4_1 layout");
_Static_assert(sizeof(block_q5_0) == 22, "q5_0 layout");
_Static_assert(sizeof(block_q5_1) == 24, "q5_1 layout");
_Static_assert(sizeof(block_q8_0) == 34, "q8_0 layout");
_Static_assert(sizeof(block_q8_1) == 36, "q8_1 layout");
_Static_assert(sizeof(block_q2_K) == 84, "q2_K layout");
_Static_assert(sizeof(block_q3_K) == 110, "q3_K layout");
_Static_assert(sizeof(block_q4_K) == 144, "q4_K layout");
_Static_assert(sizeof(block_q5_K) == 176, "q5_K layout");
_Static_assert(sizeof(block_q6_K) == 210, "q6_K layout");
_Static_assert(sizeof(block_q8_K) == 292, "q8_K layout");

/* Row conversions. n is a multiple of the type's block size. */
typedef void (*lc_to_float_fn)(const void *src, float *dst, int64_t n);
typedef void (*lc_from_float_fn)(const float *src, void *dst, int64_t n);
/* *out = dot(weight row w, activation row x); both hold n elements, x in
 * the weight type's vec_dot_type. */
typedef void (*lc_vec_dot_fn)(int64_t n, float *out, const void *w, const void *x);

typedef struct lc_type_traits {
    const char *name;              /* "q4_0" as llama.cpp prints it */
    int64_t block_size;            /* elements per block; 0 for unknown ids */
    size_t type_size;              /* bytes per block */
    bool is_quantized;
    lc_to_float_fn to_float;       /* NULL: cannot be read */
    lc_from_float_fn from_float;   /* reference quantizer; NULL: cannot be written */
    int vec_dot_type;              /* activation type of the dot product */
    lc_vec_dot_fn vec_dot;         /* scalar reference; NULL: no matmul for it */
} lc_type_traits;

/* NULL for ids that are not ggml types. A known type whose kernels are not
 * written has block_size set but to_float == NULL. */
const lc_type_traits *lc_type_traits_get(int type);
const char *lc_type_name(int type);   /* "unknown" for unknown ids */
int lc_type_from_name(const char *name); /* -1 if none; case-insensitive */
/* Bytes of a row of n elements (n a multiple of the block size). */
size_t lc_row_size(int type, int64_t n);

/* ---------------------------------------------------- scalar conversions */

static inline float lc_f32_from_bits(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
static inline uint32_t lc_bits_from_f32(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }

/* IEEE binary16 -> binary32, exact. */
static inline float lc_f16_to_f32(lc_f16 h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t man = h & 0x3ff;
    /* inf, or NaN made quiet as F16C's vcvtph2ps and ggml do */
    if (exp == 0x1f) return lc_f32_from_bits(sign | 0x7f800000u | (man << 13) | (man ? 0x400000u : 0));
    if (exp == 0) {
        if (man == 0) return lc_f32_from_bits(sign);
        /* subnormal: value = man * 2^-24 */
        float v = (float)man * 5.9604644775390625e-8f;
        return sign ? -v : v;
    }
    return lc_f32_from_bits(sign | ((exp + 112) << 23) | (man << 13));
}

/* binary32 -> binary16, round to nearest even (as F16C's _cvtss_sh). */
static inline lc_f16 lc_f32_to_f16(float f) {
    uint32_t x = lc_bits_from_f32(f);
    uint32_t sign = (x >> 16) & 0x8000;
    uint32_t ax = x & 0x7fffffffu;
    if (ax > 0x7f800000u) return (lc_f16)(sign | 0x7e00 | ((ax >> 13) & 0x3ff)); /* NaN */
    if (ax >= 0x477ff000u) return (lc_f16)(sign | 0x7c00); /* rounds to inf */
    if (ax < 0x38800000u) {
        /* result is subnormal or zero: scale so the integer part is the mantissa */
        float a = lc_f32_from_bits(ax) * 16777216.0f; /* 2^24, exact */
        /* round half to even via the float adder */
        float r = (a + 12582912.0f) - 12582912.0f;
        return (lc_f16)(sign | (uint32_t)r);
    }
    uint32_t mant_odd = (ax >> 13) & 1;
    ax += 0x0fff + mant_odd;            /* round to nearest even at bit 13 */
    return (lc_f16)(sign | (((ax - 0x38000000u) >> 13) & 0x7fff));
}

static inline float lc_bf16_to_f32(lc_bf16 h) { return lc_f32_from_bits((uint32_t)h << 16); }

static inline lc_bf16 lc_f32_to_bf16(float f) {
    uint32_t u = lc_bits_from_f32(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (lc_bf16)((u >> 16) | 0x40); /* quiet NaN */
    return (lc_bf16)((u + 0x7fff + ((u >> 16) & 1)) >> 16);
}

/* Round to nearest, ties to even (ggml's nearest_int), for |f| <= 4194303. */
static inline int lc_nearest_int(float f) {
    float val = f + 12582912.0f;
    int32_t i;
    memcpy(&i, &val, 4);
    return (i & 0x007fffff) - 0x00400000;
}

#endif
