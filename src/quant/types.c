/* The block-type table: one row per ggml type id that can appear in a GGUF
 * file (docs/formats.md "Block type ids"). Rows for types we cannot compute with still carry
 * name, block size and bytes per block, so that a file reader can size and
 * skip their tensors; their to_float is NULL. */
#include "quant/types.h"

#include <stdint.h>

#include "quant/quant.h"

/* ggml ids that types.h does not name because nothing here computes them. */
enum {
    ID_IQ2_XXS = 16,
    ID_IQ2_XS = 17,
    ID_IQ3_XXS = 18,
    ID_IQ1_S = 19,
    ID_IQ4_NL = 20,
    ID_IQ3_S = 21,
    ID_IQ2_S = 22,
    ID_IQ4_XS = 23,
    ID_I8 = 24,
    ID_I16 = 25,
    ID_I32 = 26,
    ID_I64 = 27,
    ID_F64 = 28,
    ID_IQ1_M = 29,
    ID_TQ1_0 = 34,
    ID_TQ2_0 = 35,
};

/* A type we can only size: no conversion, no dot product. */
#define SIZE_ONLY(nm, bs, ts, quantized, dot_type) \
    { .name = nm, .block_size = bs, .type_size = ts, .is_quantized = quantized, .vec_dot_type = dot_type }

/* Ids 4, 5 (Q4_2, Q4_3), 31-33 and 36-38 (repacked layouts) were removed from
 * ggml; their rows stay zero (block_size 0), which lc_type_traits_get maps to
 * NULL. */
static const lc_type_traits type_table[LC_TYPE_COUNT] = {
    [LC_TYPE_F32] = {"f32", 1, sizeof(float), false, lc_to_float_f32, lc_from_float_f32,
                     LC_TYPE_F32, lc_vec_dot_f32},
    [LC_TYPE_F16] = {"f16", 1, sizeof(lc_f16), false, lc_to_float_f16, lc_from_float_f16,
                     LC_TYPE_F16, lc_vec_dot_f16},
    [LC_TYPE_BF16] = {"bf16", 1, sizeof(lc_bf16), false, lc_to_float_bf16, lc_from_float_bf16,
                      LC_TYPE_BF16, lc_vec_dot_bf16},

    [LC_TYPE_Q4_0] = {"q4_0", QK4_0, sizeof(block_q4_0), true, lc_to_float_q4_0,
                      lc_quantize_q4_0_ref, LC_TYPE_Q8_0, lc_vec_dot_q4_0_q8_0},
    [LC_TYPE_Q4_1] = {"q4_1", QK4_1, sizeof(block_q4_1), true, lc_to_float_q4_1,
                      lc_quantize_q4_1_ref, LC_TYPE_Q8_1, lc_vec_dot_q4_1_q8_1},
    [LC_TYPE_Q5_0] = {"q5_0", QK5_0, sizeof(block_q5_0), true, lc_to_float_q5_0,
                      lc_quantize_q5_0_ref, LC_TYPE_Q8_0, lc_vec_dot_q5_0_q8_0},
    [LC_TYPE_Q5_1] = {"q5_1", QK5_1, sizeof(block_q5_1), true, lc_to_float_q5_1,
                      lc_quantize_q5_1_ref, LC_TYPE_Q8_1, lc_vec_dot_q5_1_q8_1},
    [LC_TYPE_Q8_0] = {"q8_0", QK8_0, sizeof(block_q8_0), true, lc_to_float_q8_0,
                      lc_quantize_q8_0_ref, LC_TYPE_Q8_0, lc_vec_dot_q8_0_q8_0},
    /* activation-only: produced for Q4_1/Q5_1 dot products, never a weight */
    [LC_TYPE_Q8_1] = {"q8_1", QK8_1, sizeof(block_q8_1), true, lc_to_float_q8_1,
                      lc_quantize_q8_1_ref, LC_TYPE_Q8_1, NULL},

    /* Q2_K and Q3_K can be read (no quantizer) */
    [LC_TYPE_Q2_K] = {"q2_K", QK_K, sizeof(block_q2_K), true, lc_to_float_q2_K, NULL,
                      LC_TYPE_Q8_K, lc_vec_dot_q2_K_q8_K},
    [LC_TYPE_Q3_K] = {"q3_K", QK_K, sizeof(block_q3_K), true, lc_to_float_q3_K, NULL,
                      LC_TYPE_Q8_K, lc_vec_dot_q3_K_q8_K},
    [LC_TYPE_Q4_K] = {"q4_K", QK_K, sizeof(block_q4_K), true, lc_to_float_q4_K,
                      lc_quantize_q4_K_ref, LC_TYPE_Q8_K, lc_vec_dot_q4_K_q8_K},
    [LC_TYPE_Q5_K] = {"q5_K", QK_K, sizeof(block_q5_K), true, lc_to_float_q5_K,
                      lc_quantize_q5_K_ref, LC_TYPE_Q8_K, lc_vec_dot_q5_K_q8_K},
    [LC_TYPE_Q6_K] = {"q6_K", QK_K, sizeof(block_q6_K), true, lc_to_float_q6_K,
                      lc_quantize_q6_K_ref, LC_TYPE_Q8_K, lc_vec_dot_q6_K_q8_K},
    /* activation-only: produced for every K-quant dot product */
    [LC_TYPE_Q8_K] = {"q8_K", QK_K, sizeof(block_q8_K), true, lc_to_float_q8_K,
                      lc_quantize_q8_K_ref, LC_TYPE_Q8_K, NULL},

    /* sizes from docs/formats.md "Block type ids"; vec_dot_type as ggml's CPU backend pairs them */
    [ID_IQ2_XXS] = SIZE_ONLY("iq2_xxs", QK_K, 66, true, LC_TYPE_Q8_K),
    [ID_IQ2_XS] = SIZE_ONLY("iq2_xs", QK_K, 74, true, LC_TYPE_Q8_K),
    [ID_IQ3_XXS] = SIZE_ONLY("iq3_xxs", QK_K, 98, true, LC_TYPE_Q8_K),
    [ID_IQ1_S] = SIZE_ONLY("iq1_s", QK_K, 50, true, LC_TYPE_Q8_K),
    [ID_IQ4_NL] = SIZE_ONLY("iq4_nl", 32, 18, true, LC_TYPE_Q8_0),
    [ID_IQ3_S] = SIZE_ONLY("iq3_s", QK_K, 110, true, LC_TYPE_Q8_K),
    [ID_IQ2_S] = SIZE_ONLY("iq2_s", QK_K, 82, true, LC_TYPE_Q8_K),
    [ID_IQ4_XS] = SIZE_ONLY("iq4_xs", QK_K, 136, true, LC_TYPE_Q8_K),
    [ID_I8] = SIZE_ONLY("i8", 1, 1, false, -1),
    [ID_I16] = SIZE_ONLY("i16", 1, 2, false, -1),
    [ID_I32] = SIZE_ONLY("i32", 1, 4, false, -1),
    [ID_I64] = SIZE_ONLY("i64", 1, 8, false, -1),
    [ID_F64] = SIZE_ONLY("f64", 1, 8, false, -1),
    [ID_IQ1_M] = SIZE_ONLY("iq1_m", QK_K, 56, true, LC_TYPE_Q8_K),
    [ID_TQ1_0] = SIZE_ONLY("tq1_0", QK_K, 54, true, LC_TYPE_Q8_K),
    [ID_TQ2_0] = SIZE_ONLY("tq2_0", QK_K, 66, true, LC_TYPE_Q8_K),
};

const lc_type_traits *lc_type_traits_get(int type) {
    if (type < 0 || type >= LC_TYPE_COUNT) return NULL;
    const lc_type_traits *t = &type_table[type];
    return t->block_size > 0 ? t : NULL;
}

const char *lc_type_name(int type) {
    const lc_type_traits *t = lc_type_traits_get(type);
    return t ? t->name : "unknown";
}

static char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c; }

static bool equal_ignoring_case(const char *a, const char *b) {
    for (; *a && *b; a++, b++)
        if (ascii_lower(*a) != ascii_lower(*b)) return false;
    return *a == *b;
}

int lc_type_from_name(const char *name) {
    if (!name) return -1;
    for (int type = 0; type < LC_TYPE_COUNT; type++) {
        const lc_type_traits *t = lc_type_traits_get(type);
        if (t && equal_ignoring_case(t->name, name)) return type;
    }
    return -1;
}

/* 0 for an unknown type, a negative n, an n that is not a whole number of
 * blocks, or a size that does not fit in size_t: callers treat 0 for a
 * non-empty row as invalid. */
size_t lc_row_size(int type, int64_t n) {
    const lc_type_traits *t = lc_type_traits_get(type);
    if (!t || n < 0 || n % t->block_size != 0) return 0;
    const uint64_t blocks = (uint64_t)(n / t->block_size);
    if (blocks > SIZE_MAX / t->type_size) return 0;
    return (size_t)blocks * t->type_size;
}
