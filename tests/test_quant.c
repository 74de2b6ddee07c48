/* Block types (src/quant): the type table, f16/bf16 rounding, the reference
 * quantizers, the dequantizers and the scalar dot products.
 *
 * Hand-worked blocks derive their expected bytes from the formulas in
 * docs/formats.md "Block types"; golden hashes pin the bytes that ggml's own
 * quantize_row_*_ref writes for a fixed input; the rest checks error bounds
 * and that every dot product is the float64 dot product of the dequantized
 * rows up to float rounding. */
#include <float.h>
#include <math.h>
#include <stdint.h>

#include <stdio.h>
#include <unistd.h>

#include "gguf_test_util.h"
#include "llamac.h"
#include "quant/quant.h"
#include "quant/types.h"
#include "test_util.h"

/* ================================================================ table */

struct expected_type {
    int id;
    const char *name;
    int64_t block_size;
    size_t type_size;
    int vec_dot_type;
    bool computes; /* to_float present */
};

/* docs/formats.md "Block type ids" */
static const struct expected_type expected_types[] = {
    {0, "f32", 1, 4, LC_TYPE_F32, true},        {1, "f16", 1, 2, LC_TYPE_F16, true},
    {2, "q4_0", 32, 18, LC_TYPE_Q8_0, true},    {3, "q4_1", 32, 20, LC_TYPE_Q8_1, true},
    {6, "q5_0", 32, 22, LC_TYPE_Q8_0, true},    {7, "q5_1", 32, 24, LC_TYPE_Q8_1, true},
    {8, "q8_0", 32, 34, LC_TYPE_Q8_0, true},    {9, "q8_1", 32, 36, LC_TYPE_Q8_1, true},
    {10, "q2_K", 256, 84, LC_TYPE_Q8_K, true},  {11, "q3_K", 256, 110, LC_TYPE_Q8_K, true},
    {12, "q4_K", 256, 144, LC_TYPE_Q8_K, true}, {13, "q5_K", 256, 176, LC_TYPE_Q8_K, true},
    {14, "q6_K", 256, 210, LC_TYPE_Q8_K, true}, {15, "q8_K", 256, 292, LC_TYPE_Q8_K, true},
    {16, "iq2_xxs", 256, 66, LC_TYPE_Q8_K, false}, {17, "iq2_xs", 256, 74, LC_TYPE_Q8_K, false},
    {18, "iq3_xxs", 256, 98, LC_TYPE_Q8_K, false}, {19, "iq1_s", 256, 50, LC_TYPE_Q8_K, false},
    {20, "iq4_nl", 32, 18, LC_TYPE_Q8_0, false},   {21, "iq3_s", 256, 110, LC_TYPE_Q8_K, false},
    {22, "iq2_s", 256, 82, LC_TYPE_Q8_K, false},   {23, "iq4_xs", 256, 136, LC_TYPE_Q8_K, false},
    {24, "i8", 1, 1, -1, false},  {25, "i16", 1, 2, -1, false}, {26, "i32", 1, 4, -1, false},
    {27, "i64", 1, 8, -1, false}, {28, "f64", 1, 8, -1, false},
    {29, "iq1_m", 256, 56, LC_TYPE_Q8_K, false},   {30, "bf16", 1, 2, LC_TYPE_BF16, true},
    {34, "tq1_0", 256, 54, LC_TYPE_Q8_K, false},   {35, "tq2_0", 256, 66, LC_TYPE_Q8_K, false},
};
#define N_EXPECTED_TYPES (int)(sizeof expected_types / sizeof expected_types[0])

static const struct expected_type *find_expected(int id) {
    for (int i = 0; i < N_EXPECTED_TYPES; i++)
        if (expected_types[i].id == id) return &expected_types[i];
    return NULL;
}

static void upper_case(const char *s, char *out) {
    for (; *s; s++, out++) *out = (*s >= 'a' && *s <= 'z') ? (char)(*s - 'a' + 'A') : *s;
    *out = 0;
}

static void test_table(void) {
    for (int id = -2; id < LC_TYPE_COUNT + 3; id++) {
        const lc_type_traits *t = lc_type_traits_get(id);
        const struct expected_type *e = find_expected(id);
        if (!e) {
            CHECKF(t == NULL, "id %d should be unknown", id);
            CHECK(strcmp(lc_type_name(id), "unknown") == 0);
            continue;
        }
        CHECKF(t != NULL, "id %d missing", id);
        if (!t) continue;
        CHECKF(strcmp(t->name, e->name) == 0, "id %d name %s", id, t->name);
        CHECKF(t->block_size == e->block_size && t->type_size == e->type_size, "id %d sizes", id);
        CHECKF(t->vec_dot_type == e->vec_dot_type, "id %d vec_dot_type %d", id, t->vec_dot_type);
        CHECKF((t->to_float != NULL) == e->computes, "id %d to_float", id);
        CHECKF(t->is_quantized == (e->block_size > 1), "id %d is_quantized", id);
        CHECK(strcmp(lc_type_name(id), e->name) == 0);
        char upper[16];
        upper_case(e->name, upper);
        CHECKF(lc_type_from_name(e->name) == id && lc_type_from_name(upper) == id, "from_name %s", upper);
        /* a type we can dot must be able to produce its activations */
        if (t->vec_dot) {
            const lc_type_traits *a = lc_type_traits_get(t->vec_dot_type);
            CHECKF(a && a->from_float && a->block_size == t->block_size, "id %d activation type", id);
        }
    }
    const int need_quantizer[] = {LC_TYPE_F32, LC_TYPE_F16, LC_TYPE_BF16, LC_TYPE_Q4_0, LC_TYPE_Q4_1,
                                  LC_TYPE_Q5_0, LC_TYPE_Q5_1, LC_TYPE_Q8_0, LC_TYPE_Q8_1, LC_TYPE_Q4_K,
                                  LC_TYPE_Q5_K, LC_TYPE_Q6_K, LC_TYPE_Q8_K};
    for (size_t i = 0; i < sizeof need_quantizer / sizeof need_quantizer[0]; i++)
        CHECKF(lc_type_traits_get(need_quantizer[i])->from_float != NULL, "quantizer for %d", need_quantizer[i]);
    const int need_dot[] = {LC_TYPE_F32, LC_TYPE_F16, LC_TYPE_BF16, LC_TYPE_Q4_0, LC_TYPE_Q4_1, LC_TYPE_Q5_0,
                            LC_TYPE_Q5_1, LC_TYPE_Q8_0, LC_TYPE_Q4_K, LC_TYPE_Q5_K, LC_TYPE_Q6_K};
    for (size_t i = 0; i < sizeof need_dot / sizeof need_dot[0]; i++)
        CHECKF(lc_type_traits_get(need_dot[i])->vec_dot != NULL, "vec_dot for %d", need_dot[i]);

    CHECK(lc_type_from_name("Q4_k") == LC_TYPE_Q4_K);
    CHECK(lc_type_from_name("q4") == -1);
    CHECK(lc_type_from_name("q4_0x") == -1);
    CHECK(lc_type_from_name("") == -1);
    CHECK(lc_type_from_name(NULL) == -1);

    CHECK(lc_row_size(LC_TYPE_Q4_0, 4096) == 128 * 18);
    CHECK(lc_row_size(LC_TYPE_Q6_K, 2816) == 11 * 210);
    CHECK(lc_row_size(LC_TYPE_F16, 7) == 14);
    CHECK(lc_row_size(LC_TYPE_Q4_0, 0) == 0);
    CHECK(lc_row_size(LC_TYPE_Q4_0, 33) == 0);  /* not a whole block */
    CHECK(lc_row_size(LC_TYPE_Q4_0, -32) == 0);
    CHECK(lc_row_size(4, 32) == 0);             /* removed id */
    CHECK(lc_row_size(28, 3) == 24);            /* f64: sized but not computed */
    CHECK(lc_row_size(LC_TYPE_F32, INT64_MAX) == 0); /* overflows size_t */
}

/* ================================================================ f16 / bf16 */

/* The value of a finite f16 bit pattern from its definition; 0x7c00 is taken
 * as 65536, the value the exponent would give, so that rounding to nearest
 * even towards it is the same search as between two finite values. */
static double f16_value(uint16_t h) {
    const int e = (h >> 10) & 0x1f, m = h & 0x3ff;
    const double v = e == 0 ? ldexp(m, -24) : ldexp(1024 + m, e - 25);
    return (h & 0x8000) ? -v : v;
}

/* binary32 -> binary16 the slow way: binary search for the neighbours,
 * compare distances, even on ties. */
static uint16_t f16_slow(float f) {
    const uint16_t sign = signbit(f) ? 0x8000 : 0;
    const double a = fabs((double)f);
    if (a >= 65536.0) return sign | 0x7c00;
    uint16_t lo = 0, hi = 0x7c00; /* value(lo) <= a < value(hi) */
    while (hi - lo > 1) {
        const uint16_t mid = (uint16_t)((lo + hi) / 2);
        if (f16_value(mid) <= a) lo = mid; else hi = mid;
    }
    const double below = a - f16_value(lo), above = f16_value(hi) - a;
    if (below < above) return sign | lo;
    if (above < below) return sign | hi;
    return sign | ((lo & 1) ? hi : lo);
}

static bool f16_is_nan(uint16_t h) { return (h & 0x7c00) == 0x7c00 && (h & 0x3ff) != 0; }

static void test_f16_exhaustive(void) {
    int bad_value = 0, bad_roundtrip = 0;
    for (uint32_t u = 0; u < 65536; u++) {
        const uint16_t h = (uint16_t)u;
        const float f = lc_f16_to_f32(h);
        if (f16_is_nan(h)) {
            /* NaN stays NaN with its sign and is quiet (F16C does the same) */
            if (!isnan(f) || (signbit(f) != 0) != ((h & 0x8000) != 0) || !(lc_bits_from_f32(f) & 0x400000))
                bad_value++;
            continue;
        }
        const double want = (h & 0x7fff) == 0x7c00 ? ((h & 0x8000) ? -INFINITY : INFINITY) : f16_value(h);
        if ((double)f != want || !signbit(f) != !signbit(want)) bad_value++;
        if (lc_f32_to_f16(lc_f16_to_f32(lc_f32_to_f16(f))) != h) bad_roundtrip++;
    }
    CHECKF(bad_value == 0, "%d f16 values widen wrongly", bad_value);
    CHECKF(bad_roundtrip == 0, "%d f16 values do not round-trip", bad_roundtrip);
}

static float float_from_parts(uint32_t sign, uint32_t exp, uint32_t mant) {
    return lc_f32_from_bits((sign << 31) | (exp << 23) | (mant & 0x7fffff));
}

static void test_f16_random(void) {
    uint64_t s = 0x2545F4914F6CDD1DULL;
    int bad = 0, checked = 0;
    for (int i = 0; i < 1000000; i++) {
        const uint64_t r = lc_test_rand(&s);
        float f;
        switch (i % 4) {
        case 0: f = lc_f32_from_bits((uint32_t)r); break; /* any bit pattern */
        case 1: /* exponents from below the smallest subnormal to past 65504 */
            f = float_from_parts((uint32_t)(r >> 63), 95 + (uint32_t)((r >> 32) % 56), (uint32_t)r);
            break;
        case 2: { /* exact midpoints between two f16 values: ties */
            const uint16_t h = (uint16_t)((r >> 20) % 0x7c00);
            f = (float)((f16_value(h) + f16_value((uint16_t)(h + 1))) / 2);
            if (r & 1) f = -f;
            break;
        }
        default: { /* one float ulp either side of a midpoint */
            const uint16_t h = (uint16_t)((r >> 20) % 0x7c00);
            const float mid = (float)((f16_value(h) + f16_value((uint16_t)(h + 1))) / 2);
            f = nextafterf(mid, (r & 1) ? INFINITY : 0.0f);
            break;
        }
        }
        const uint16_t got = lc_f32_to_f16(f);
        checked++;
        if (isnan(f)) {
            /* quiet NaN, sign kept, top of the payload kept (as _cvtss_sh) */
            const uint32_t u = lc_bits_from_f32(f);
            if (got != (uint16_t)(((u >> 16) & 0x8000) | 0x7e00 | ((u >> 13) & 0x3ff))) bad++;
            continue;
        }
        if (got != f16_slow(f)) {
            if (bad < 5) fprintf(stderr, "f16(%a): got %04x want %04x\n", (double)f, got, f16_slow(f));
            bad++;
        }
    }
    CHECKF(bad == 0, "%d of %d f32->f16 conversions differ from the slow reference", bad, checked);
}

/* Each entry: input bits, expected f16 bits, and why. */
static void test_f16_hand(void) {
    const struct { float x; uint16_t want; } cases[] = {
        {1.0f, 0x3c00},
        {65504.0f, 0x7bff},                 /* largest finite */
        {65519.99f, 0x7bff},                /* just below the midpoint to 65536 */
        {65520.0f, 0x7c00},                 /* midpoint, 0x7bff is odd: up, to inf */
        {1.0f + 0x1p-11f, 0x3c00},          /* halfway 0x3c00/0x3c01: even */
        {1.0f + 3 * 0x1p-11f, 0x3c02},      /* halfway 0x3c01/0x3c02: even */
        {0x1p-24f, 0x0001},                 /* smallest subnormal */
        {0x1p-25f, 0x0000},                 /* halfway 0/1: even */
        {3 * 0x1p-25f, 0x0002},             /* halfway 1/2: even */
        {0x1p-14f - 0x1p-25f, 0x0400},      /* halfway 0x3ff/0x400: even, normal */
        {-0.0f, 0x8000},
        {-INFINITY, 0xfc00},
        {1e-8f, 0x0000},                    /* below half the smallest subnormal */
        {6e-8f, 0x0001},
        {-2.5f, 0xc100},
    };
    const int n = (int)(sizeof cases / sizeof cases[0]);
    float x[16];
    lc_f16 got[16];
    for (int i = 0; i < n; i++) x[i] = cases[i].x;
    lc_type_traits_get(LC_TYPE_F16)->from_float(x, got, n);
    for (int i = 0; i < n; i++) CHECKF(got[i] == cases[i].want, "f16(%a) = %04x, want %04x", (double)x[i], got[i], cases[i].want);
    CHECK(f16_is_nan(lc_f32_to_f16(NAN)));
}

static void test_bf16_hand(void) {
    const struct { uint32_t in; uint16_t want; } cases[] = {
        {0x3f800000, 0x3f80}, /* 1.0 */
        {0x3f808000, 0x3f80}, /* halfway 0x3f80/0x3f81: even */
        {0x3f818000, 0x3f82}, /* halfway 0x3f81/0x3f82: even */
        {0x3f808001, 0x3f81}, /* just above halfway */
        {0xbf80ffff, 0xbf81}, /* negative rounds by magnitude */
        {0x7fc00001, 0x7fc0}, /* quiet NaN: top half kept */
        {0x7f800001, 0x7fc0}, /* signalling NaN: (u >> 16) | 0x40 */
        {0xff810000, 0xffc1}, /* NaN payload in the top half survives */
        {0x7f800000, 0x7f80}, /* inf */
        {0x7f7fffff, 0x7f80}, /* FLT_MAX rounds to inf */
        {0x00008000, 0x0000}, /* subnormal halfway: even */
        {0x00018000, 0x0002}, /* subnormal halfway: even */
        {0x80000000, 0x8000}, /* -0 */
    };
    const int n = (int)(sizeof cases / sizeof cases[0]);
    float x[16];
    lc_bf16 got[16];
    for (int i = 0; i < n; i++) x[i] = lc_f32_from_bits(cases[i].in);
    lc_type_traits_get(LC_TYPE_BF16)->from_float(x, got, n);
    for (int i = 0; i < n; i++) CHECKF(got[i] == cases[i].want, "bf16(%08x) = %04x, want %04x", cases[i].in, got[i], cases[i].want);
    float back[16];
    lc_type_traits_get(LC_TYPE_BF16)->to_float(got, back, n);
    CHECK(lc_bits_from_f32(back[0]) == 0x3f800000 && lc_bits_from_f32(back[3]) == 0x3f810000);
}

/* ================================================================ hand-worked blocks */

static void quantize_as(int type, const float *x, void *out, int64_t n) {
    lc_type_traits_get(type)->from_float(x, out, n);
}

static bool check_bytes(const char *what, const void *got, const void *want, size_t n) {
    const uint8_t *g = got, *w = want;
    for (size_t i = 0; i < n; i++) {
        if (g[i] != w[i]) {
            fprintf(stderr, "%s: byte %zu is %02x, want %02x\n", what, i, g[i], w[i]);
            return false;
        }
    }
    return true;
}

/* Packs 32 levels (0..15) in the Q4 nibble order: element j low, j+16 high. */
static void pack_nibbles(const int q[32], uint8_t qs[16]) {
    for (int j = 0; j < 16; j++) qs[j] = (uint8_t)(q[j] | (q[j + 16] << 4));
}

/* Q8_0: d = amax/127, q = roundf(x/d), ties away from zero. */
static void test_q8_0_hand(void) {
    float x[96] = {0};
    /* block 0: amax 127 -> d = 1 (f16 0x3c00), id = 1, q = roundf(x):
     * 2.5 -> 3, -2.5 -> -3, 0.5 -> 1, -0.5 -> -1 (nearest-even would give
     * 2, -2, 0, 0), 1.49 -> 1, 126.5 -> 127, -126.5 -> -127. */
    const float head[8] = {-127, 2.5f, -2.5f, 0.5f, -0.5f, 1.49f, 126.5f, -126.5f};
    const int8_t head_q[8] = {-127, 3, -3, 1, -1, 1, 127, -127};
    block_q8_0 want[3];
    memset(want, 0, sizeof want);
    want[0].d = 0x3c00;
    for (int j = 0; j < 32; j++) {
        x[j] = j < 8 ? head[j] : (float)(j - 20); /* integers stay themselves */
        want[0].qs[j] = j < 8 ? head_q[j] : (int8_t)(j - 20);
    }
    /* block 1: amax 254 -> d = 2 (0x4000), id = 0.5: 3 -> 1.5 -> 2,
     * 5 -> 2.5 -> 3, -1 -> -0.5 -> -1, 1 -> 0.5 -> 1, 0.9 -> 0.45 -> 0 */
    const float b1[5] = {3, 5, -1, 1, 0.9f};
    const int8_t b1_q[5] = {2, 3, -1, 1, 0};
    want[1].d = 0x4000;
    for (int j = 0; j < 5; j++) {
        x[32 + j] = b1[j];
        want[1].qs[j] = b1_q[j];
    }
    x[63] = 254;
    want[1].qs[31] = 127;
    /* block 2: all zero -> d = 0, id = 0, q = 0 */
    block_q8_0 got[3];
    quantize_as(LC_TYPE_Q8_0, x, got, 96);
    CHECK(check_bytes("q8_0 hand", got, want, sizeof want));
}

/* Q4_0: d = max/-8 with max the signed largest-|x| element (first wins),
 * q = min(15, trunc(x/d + 8.5)). */
static void test_q4_0_hand(void) {
    float x[96] = {0};
    int q[3][32];
    block_q4_0 want[3];
    /* block 0: x = -8..7 then 7..-8. max = -8 -> d = 1 (0x3c00), id = 1,
     * q = trunc(x + 8.5) = x + 8: -8 -> 0.5 -> 0, 7 -> 15.5 -> 15 */
    for (int j = 0; j < 16; j++) {
        x[j] = (float)(j - 8);
        x[16 + j] = (float)(7 - j);
        q[0][j] = j;
        q[0][16 + j] = 15 - j;
    }
    want[0].d = 0x3c00;
    /* block 1: x[0] = 8 comes before x[1] = -8 (same |x|), so max = 8 and
     * d = -1 (0xbc00), id = -1, q = trunc(8.5 - x):
     *   8 -> 0.5 -> 0;  -8 -> 16.5 -> 16 -> clipped to 15 (reads back -7)
     *   0.5 -> 8 (exact tie goes up);  -0.5 -> 9;  1.5 -> 7
     *   -7.5 -> 16 -> 15 (clipped);  -6.5 -> 15;  3.25 -> 5.25 -> 5;  0 -> 8 */
    const float b1[9] = {8, -8, 0.5f, -0.5f, 1.5f, -7.5f, -6.5f, 3.25f, 0};
    const int b1_q[9] = {0, 15, 8, 9, 7, 15, 15, 5, 8};
    for (int j = 0; j < 32; j++) {
        x[32 + j] = j < 9 ? b1[j] : 0.0f;
        q[1][j] = j < 9 ? b1_q[j] : 8;
    }
    want[1].d = 0xbc00;
    /* block 2: all zero -> max = 0, d = 0/-8 = -0 (f16 0x8000), id = 0,
     * q = trunc(8.5) = 8 */
    for (int j = 0; j < 32; j++) q[2][j] = 8;
    want[2].d = 0x8000;
    for (int b = 0; b < 3; b++) pack_nibbles(q[b], want[b].qs);
    block_q4_0 got[3];
    quantize_as(LC_TYPE_Q4_0, x, got, 96);
    CHECK(check_bytes("q4_0 hand", got, want, sizeof want));
    /* and back: d * (q - 8) */
    float y[96];
    lc_type_traits_get(LC_TYPE_Q4_0)->to_float(got, y, 96);
    CHECK(y[0] == -8 && y[31] == -8 && y[15] == 7);
    CHECK(y[32] == 8 && y[33] == -7 && y[34] == 0 && y[35] == -1 && y[39] == 3 && y[64] == 0);
}

/* Q4_1: d = (max-min)/15, m = min, q = min(15, trunc((x-min)/d + 0.5)). */
static void test_q4_1_hand(void) {
    float x[64];
    int q[2][32];
    block_q4_1 want[2];
    /* block 0: min -1, max 14 -> d = 1 (0x3c00), m = -1 (0xbc00),
     * q = trunc(x + 1.5): -1 -> 0, 14 -> 15, 0.5 -> 2.0 -> 2 (tie up),
     * 1.4 -> 2.9 -> 2, -0.5 -> 1.0 -> 1; others x = j%15 - 1 -> q = j%15 */
    const float b0[5] = {-1, 14, 0.5f, 1.4f, -0.5f};
    const int b0_q[5] = {0, 15, 2, 2, 1};
    for (int j = 0; j < 32; j++) {
        x[j] = j < 5 ? b0[j] : (float)(j % 15 - 1);
        q[0][j] = j < 5 ? b0_q[j] : j % 15;
    }
    want[0].d = 0x3c00;
    want[0].m = 0xbc00;
    /* block 1: x = 2 + 2k for k = 0..15, then 3 and 4.9: min 2, max 32 ->
     * d = 2 (0x4000), m = 2 (0x4000), id = 0.5: 2 + 2k -> k;
     * 3 -> 0.5 + 0.5 = 1.0 -> 1; 4.9 -> 1.45 + 0.5 -> 1 */
    for (int j = 0; j < 32; j++) {
        const int k = j % 16;
        x[32 + j] = (float)(2 + 2 * k);
        q[1][j] = k;
    }
    x[32 + 20] = 3;
    q[1][20] = 1;
    x[32 + 21] = 4.9f;
    q[1][21] = 1;
    want[1].d = 0x4000;
    want[1].m = 0x4000;
    for (int b = 0; b < 2; b++) pack_nibbles(q[b], want[b].qs);
    block_q4_1 got[2];
    quantize_as(LC_TYPE_Q4_1, x, got, 64);
    CHECK(check_bytes("q4_1 hand", got, want, sizeof want));
}

static void pack_q5_levels(const int q[32], uint8_t qs[16], uint8_t qh[4]) {
    uint32_t bits = 0;
    for (int j = 0; j < 32; j++)
        if (q[j] & 16) bits |= 1u << j;
    for (int j = 0; j < 16; j++) qs[j] = (uint8_t)((q[j] & 15) | ((q[j + 16] & 15) << 4));
    for (int i = 0; i < 4; i++) qh[i] = (uint8_t)(bits >> (8 * i));
}

/* Q5_0: d = max/-16, q = min(31, trunc(x/d + 16.5)). */
static void test_q5_0_hand(void) {
    float x[64];
    block_q5_0 want[2];
    /* block 0: x = j - 16, max = -16 -> d = 1 (0x3c00), q = j. Elements
     * 16..31 have bit 4 set: qh = 00 00 ff ff; qs[j] = j | j << 4. */
    for (int j = 0; j < 32; j++) x[j] = (float)(j - 16);
    want[0].d = 0x3c00;
    const uint8_t qh0[4] = {0x00, 0x00, 0xff, 0xff};
    memcpy(want[0].qh, qh0, 4);
    for (int j = 0; j < 16; j++) want[0].qs[j] = (uint8_t)(j | (j << 4));
    /* block 1: max = 16 (first) -> d = -1 (0xbc00), q = trunc(16.5 - x):
     * 16 -> 0, -16 -> 32 -> clipped 31, 0.5 -> 16 (tie up), -0.5 -> 17,
     * -15.5 -> 32 -> 31, 0 -> 16 */
    const float b1[5] = {16, -16, 0.5f, -0.5f, -15.5f};
    const int b1_q[5] = {0, 31, 16, 17, 31};
    int q1[32];
    for (int j = 0; j < 32; j++) {
        x[32 + j] = j < 5 ? b1[j] : 0.0f;
        q1[j] = j < 5 ? b1_q[j] : 16;
    }
    want[1].d = 0xbc00;
    pack_q5_levels(q1, want[1].qs, want[1].qh);
    block_q5_0 got[2];
    quantize_as(LC_TYPE_Q5_0, x, got, 64);
    CHECK(check_bytes("q5_0 hand", got, want, sizeof want));
    float y[64];
    lc_type_traits_get(LC_TYPE_Q5_0)->to_float(got, y, 64);
    CHECK(y[0] == -16 && y[31] == 15 && y[32] == 16 && y[33] == -15 && y[35] == -1);
}

/* Q5_1: d = (max-min)/31, q = trunc((x-min)/d + 0.5), no clamp. */
static void test_q5_1_hand(void) {
    float x[32];
    block_q5_1 want;
    /* x = 31 - j, but x[5] = 25.5: min 0, max 31 -> d = 1 (0x3c00), m = 0;
     * q = trunc(x + 0.5) = 31 - j, and 25.5 -> 26.0 -> 26 (tie up).
     * Elements 0..15 have q >= 16: qh = ff ff 00 00,
     * qs[j] = (31-j)&15 | ((15-j) << 4) = (15-j) * 0x11. */
    for (int j = 0; j < 32; j++) x[j] = (float)(31 - j);
    x[5] = 25.5f;
    want.d = 0x3c00;
    want.m = 0x0000;
    const uint8_t qh[4] = {0xff, 0xff, 0x00, 0x00};
    memcpy(want.qh, qh, 4);
    for (int j = 0; j < 16; j++) want.qs[j] = (uint8_t)((15 - j) * 0x11);
    block_q5_1 got;
    quantize_as(LC_TYPE_Q5_1, x, &got, 32);
    CHECK(check_bytes("q5_1 hand", &got, &want, sizeof want));
}

/* Q8_1: as Q8_0, plus s = fp16(d * Σq). */
static void test_q8_1_hand(void) {
    float x[32];
    block_q8_1 want;
    /* x = j - 16 with x[0] = -127: d = 1, q = x,
     * Σq = -127 + Σ_{j=1..31} (j - 16) = -127 + 496 - 496 = -127,
     * s = fp16(-127) = -(1 + 1008/1024) * 2^6 -> 0xd7f0 */
    for (int j = 0; j < 32; j++) {
        x[j] = j == 0 ? -127.0f : (float)(j - 16);
        want.qs[j] = (int8_t)x[j];
    }
    want.d = 0x3c00;
    want.s = 0xd7f0;
    block_q8_1 got;
    quantize_as(LC_TYPE_Q8_1, x, &got, 32);
    CHECK(check_bytes("q8_1 hand", &got, &want, sizeof want));
}

/* Q8_K: iscale = -127/max, q = min(127, nearest_int(iscale x)) with ties to
 * even, d = 1/iscale as f32, bsums per 16. */
static void test_q8_K_hand(void) {
    float x[256];
    int q[256];
    /* max = -127 -> iscale = 1, d = 1.0f: 2.5 -> 2, 3.5 -> 4, -2.5 -> -2,
     * 0.5 -> 0, 1.5 -> 2 (ties to even), others (j % 7) - 3 */
    const float head[7] = {-127, 2.5f, 3.5f, -2.5f, 127, 0.5f, 1.5f};
    const int head_q[7] = {-127, 2, 4, -2, 127, 0, 2};
    for (int j = 0; j < 256; j++) {
        x[j] = j < 7 ? head[j] : (float)(j % 7 - 3);
        q[j] = j < 7 ? head_q[j] : j % 7 - 3;
    }
    block_q8_K got;
    quantize_as(LC_TYPE_Q8_K, x, &got, 256);
    CHECK(got.d == 1.0f);
    bool same = true;
    for (int j = 0; j < 256; j++) same = same && got.qs[j] == q[j];
    CHECK(same);
    /* group 0: -127 + 2 + 4 - 2 + 127 + 0 + 2 + (-3-2-1+0+1+2+3-3-2) = 1 */
    CHECK(got.bsums[0] == 1);
    for (int g = 1; g < 16; g++) {
        int sum = 0;
        for (int i = 0; i < 16; i++) sum += q[16 * g + i];
        CHECKF(got.bsums[g] == sum, "q8_K bsums[%d] = %d, want %d", g, got.bsums[g], sum);
    }
    /* a positive max flips the sign of d */
    for (int j = 0; j < 256; j++) x[j] = -x[j];
    x[0] = 127.5f;
    quantize_as(LC_TYPE_Q8_K, x, &got, 256);
    CHECK(got.d == 1 / (-127.f / 127.5f) && got.qs[0] == -127);
}

/* All-zero input gives all-zero blocks for the types whose zero encoding
 * is zero bytes. */
static void test_zero_blocks(void) {
    const int types[] = {LC_TYPE_Q8_0, LC_TYPE_Q8_1, LC_TYPE_Q4_1, LC_TYPE_Q5_1, LC_TYPE_Q4_K,
                         LC_TYPE_Q5_K, LC_TYPE_Q6_K, LC_TYPE_Q8_K, LC_TYPE_F16, LC_TYPE_BF16};
    float x[512] = {0};
    uint8_t out[512 * 4];
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        memset(out, 0x5a, sizeof out);
        quantize_as(types[i], x, out, 512);
        const size_t size = lc_row_size(types[i], 512);
        bool zero = true;
        for (size_t k = 0; k < size; k++) zero = zero && out[k] == 0;
        CHECKF(zero, "%s of zeros is not zero bytes", lc_type_name(types[i]));
    }
}

/* ================================================================ golden bytes from ggml */

/* A fixed row mixing the shapes that steer the scale searches; block b of
 * 256 uses shape b % 8. Built only from exact IEEE operations so that every
 * platform gets the same floats. */
static void golden_input(float *x, int n) {
    uint64_t s = 0x9E3779B97F4A7C15ULL;
    for (int i = 0; i < n; i++) {
        const float u = lc_test_randf(&s);
        switch ((i / 256) % 8) {
        case 0: x[i] = u; break;                                      /* uniform */
        case 1: x[i] = u * u * u * 4.0f; break;                       /* peaked */
        case 2: x[i] = u * 1e-3f; break;                              /* small */
        case 3: x[i] = (float)(int)(u * 16.0f); break;                /* integers: ties */
        case 4: x[i] = u > 0.5f ? u * 8.0f : u * 0.1f; break;         /* outliers */
        case 5: x[i] = (i / 16) % 3 == 0 ? 0.0f : u; break;           /* zero groups */
        case 6: x[i] = fabsf(u) + 0.5f; break;                        /* all positive */
        default: x[i] = (i % 256) < 128 ? 0.0f : u * 100.0f; break;   /* half zero */
        }
    }
}

static uint64_t fnv1a64(const void *p, size_t n) {
    const uint8_t *b = p;
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

/* FNV-1a 64 of the bytes that ggml's quantize_row_<type>_ref writes for
 * golden_input(4096). Produced by calling those functions in ggml's
 * libggml-base.so (the x86-64 build shipped in npm @node-llama-cpp/linux-x64
 * 3.22.1, which has no FMA in them), not by this code. */
static const struct { int type; uint64_t hash; } ggml_golden[] = {
    {LC_TYPE_Q4_0, 0xc70e9e38434c5f95ULL}, {LC_TYPE_Q4_1, 0xdabd6d33dceedc0eULL},
    {LC_TYPE_Q5_0, 0xc36f51af6ea2e0faULL}, {LC_TYPE_Q5_1, 0x78c50f64c9283adcULL},
    {LC_TYPE_Q8_0, 0x305bf314e9152722ULL}, {LC_TYPE_Q8_1, 0x077f4fd87eb036dbULL},
    {LC_TYPE_Q4_K, 0xa0bab95243a6f012ULL}, {LC_TYPE_Q5_K, 0xcf39d6d257b4bdd7ULL},
    {LC_TYPE_Q6_K, 0x2d2634c50972dd4eULL}, {LC_TYPE_Q8_K, 0x82332e55ec38a146ULL},
};

static void test_ggml_golden(void) {
    enum { N = 4096 };
    float *x = malloc(N * sizeof *x);
    uint8_t *out = malloc(lc_row_size(LC_TYPE_Q8_K, N));
    golden_input(x, N);
    for (size_t i = 0; i < sizeof ggml_golden / sizeof ggml_golden[0]; i++) {
        const int type = ggml_golden[i].type;
        const size_t size = lc_row_size(type, N);
        memset(out, 0, size);
        quantize_as(type, x, out, N);
        const uint64_t h = fnv1a64(out, size);
        CHECKF(h == ggml_golden[i].hash, "%s: bytes hash to %016llx, ggml's to %016llx", lc_type_name(type),
               (unsigned long long)h, (unsigned long long)ggml_golden[i].hash);
    }
    free(x);
    free(out);
}

/* ================================================================ random rows */

/* A random row of one of four shapes at a random scale in 0.1..1000. */
static int random_row(float *x, int64_t n, uint64_t *s) {
    const int shape = (int)(lc_test_rand(s) % 4);
    const float scale = powf(10.0f, (float)(lc_test_rand(s) % 5) - 1.0f);
    for (int64_t i = 0; i < n; i++) {
        const float u = lc_test_randf(s);
        float v;
        switch (shape) {
        case 0: v = u; break;
        case 1: v = (u + lc_test_randf(s) + lc_test_randf(s) + lc_test_randf(s)) * 0.5f; break; /* ~normal */
        case 2: v = u * u * u; break;
        default: v = (lc_test_rand(s) % 64 == 0) ? u * 20.0f : u * 0.5f; break; /* outliers */
        }
        x[i] = v * scale;
    }
    return shape;
}

static const float F16_EPS = 0x1p-11f;  /* relative rounding of f16 */
static const float F16_ABS = 0x1p-25f;  /* absolute rounding of f16 subnormals */

static float block_abs_max(const float *x, int n) {
    float a = 0;
    for (int j = 0; j < n; j++) a = fmaxf(a, fabsf(x[j]));
    return a;
}

static float signed_max(const float *x, int n) {
    float a = 0, m = 0;
    for (int j = 0; j < n; j++)
        if (fabsf(x[j]) > a) {
            a = fabsf(x[j]);
            m = x[j];
        }
    return m;
}

/* Largest |dequantized - x| allowed for element j of a 32-block (legacy
 * types and the float types), from the quantizer's formulas: rounding to
 * the nearest level costs at most d/2, clipping (Q4_0/Q5_0 on the side
 * opposite the extreme element) at most d, and storing d (and m) as f16
 * adds levels * (d * 2^-11 + 2^-25). */
static float legacy_error_bound(int type, const float *blk, int j) {
    const float x = blk[j];
    switch (type) {
    case LC_TYPE_F32: return 0;
    case LC_TYPE_F16: return fabsf(x) * F16_EPS + F16_ABS;
    case LC_TYPE_BF16: return fabsf(x) * 0x1p-8f;
    case LC_TYPE_Q8_0:
    case LC_TYPE_Q8_1: {
        const float d = block_abs_max(blk, 32) / 127;
        return d / 2 + 127 * (d * F16_EPS + F16_ABS);
    }
    case LC_TYPE_Q4_0:
    case LC_TYPE_Q5_0: {
        const int half = type == LC_TYPE_Q4_0 ? 8 : 16;
        const float d = signed_max(blk, 32) / (float)-half;
        const bool clipped = d != 0 && x / d + (float)half > (float)(2 * half) - 0.5f;
        return fabsf(d) * (clipped ? 1.0f : 0.5f) + (float)half * (fabsf(d) * F16_EPS + F16_ABS);
    }
    case LC_TYPE_Q4_1:
    case LC_TYPE_Q5_1: {
        float lo = blk[0], hi = blk[0];
        for (int k = 1; k < 32; k++) {
            lo = fminf(lo, blk[k]);
            hi = fmaxf(hi, blk[k]);
        }
        const int levels = type == LC_TYPE_Q4_1 ? 15 : 31;
        const float d = (hi - lo) / (float)levels;
        return d / 2 + (float)levels * (d * F16_EPS + F16_ABS) + fabsf(lo) * F16_EPS + F16_ABS;
    }
    default: return -1;
    }
}

static double rms(const float *x, int64_t n) {
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += (double)x[i] * x[i];
    return sqrt(s / (double)n);
}

enum { N_SHAPES = 4 };
static const char *const shape_names[N_SHAPES] = {"uniform", "normal", "cubed", "outliers"};

/* Bounds on rms(dequantize(quantize(x)) - x) / rms(x) per row shape of
 * random_row, about 1.25x the worst measured over the rows below (set
 * LC_TEST_VERBOSE=1 to print them). Outlier rows are worse by design: a few
 * large elements set the step for the whole (sub-)block. */
static const struct { int type; double bound[N_SHAPES]; } k_rms_bounds[] = {
    {LC_TYPE_Q4_K, {0.07, 0.09, 0.09, 0.12}}, /* measured 0.055 0.070 0.073 0.096 */
    {LC_TYPE_Q5_K, {0.035, 0.045, 0.048, 0.07}}, /* 0.028 0.036 0.038 0.056 */
    {LC_TYPE_Q6_K, {0.017, 0.022, 0.023, 0.045}}, /* 0.014 0.017 0.018 0.036 */
    {LC_TYPE_Q8_K, {0.005, 0.008, 0.0075, 0.033}}, /* 0.0040 0.0064 0.0058 0.026 */
};

static void test_legacy_roundtrip(void) {
    const int types[] = {LC_TYPE_F32, LC_TYPE_F16, LC_TYPE_BF16, LC_TYPE_Q8_0, LC_TYPE_Q8_1,
                         LC_TYPE_Q4_0, LC_TYPE_Q4_1, LC_TYPE_Q5_0, LC_TYPE_Q5_1};
    enum { N = 4096, ROWS = 48 };
    float *x = malloc(N * sizeof *x), *y = malloc(N * sizeof *y);
    void *q = malloc(N * sizeof(float));
    uint64_t s = 42;
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
        const lc_type_traits *tr = lc_type_traits_get(types[t]);
        double worst = 0;
        int over = 0;
        for (int r = 0; r < ROWS; r++) {
            random_row(x, N, &s);
            tr->from_float(x, q, N);
            tr->to_float(q, y, N);
            for (int i = 0; i < N; i++) {
                const float bound = legacy_error_bound(types[t], x + (i / 32) * 32, i % 32) * 1.0001f;
                const float err = fabsf(y[i] - x[i]);
                if (err > bound) {
                    if (over < 3) fprintf(stderr, "%s: x=%g y=%g bound %g\n", tr->name, (double)x[i], (double)y[i], (double)bound);
                    over++;
                }
                if (bound > 0 && err / bound > worst) worst = err / bound;
            }
        }
        CHECKF(over == 0, "%s: %d elements over the error bound", tr->name, over);
        if (getenv("LC_TEST_VERBOSE")) fprintf(stderr, "%-5s worst err/bound %.4f\n", tr->name, worst);
    }
    free(x);
    free(y);
    free(q);
}

static void test_k_roundtrip(void) {
    enum { N = 4096, ROWS = 64 };
    float *x = malloc(N * sizeof *x), *y = malloc(N * sizeof *y), *err = malloc(N * sizeof *err);
    void *q = malloc(N * sizeof(float));
    uint64_t s = 43;
    for (size_t t = 0; t < sizeof k_rms_bounds / sizeof k_rms_bounds[0]; t++) {
        const int type = k_rms_bounds[t].type;
        const lc_type_traits *tr = lc_type_traits_get(type);
        double worst[N_SHAPES] = {0};
        int over_d2 = 0;
        for (int r = 0; r < ROWS; r++) {
            const int shape = random_row(x, N, &s);
            tr->from_float(x, q, N);
            tr->to_float(q, y, N);
            for (int i = 0; i < N; i++) err[i] = y[i] - x[i];
            const double rel = rms(err, N) / rms(x, N);
            if (rel > worst[shape]) worst[shape] = rel;
            if (type != LC_TYPE_Q8_K) continue;
            /* Q8_K rounds to the nearest level: within d/2 per element */
            for (int b = 0; b < N / QK_K; b++) {
                const float d = block_abs_max(x + b * QK_K, QK_K) / 127;
                for (int j = 0; j < QK_K; j++)
                    if (fabsf(err[b * QK_K + j]) > d * 0.5f * 1.0001f) over_d2++;
            }
        }
        for (int sh = 0; sh < N_SHAPES; sh++) {
            CHECKF(worst[sh] <= k_rms_bounds[t].bound[sh], "%s %s rows: rms err / rms x = %.4f > %.4f", tr->name,
                   shape_names[sh], worst[sh], k_rms_bounds[t].bound[sh]);
            if (getenv("LC_TEST_VERBOSE"))
                fprintf(stderr, "%-5s %-8s worst rms err/rms x %.4f\n", tr->name, shape_names[sh], worst[sh]);
        }
        CHECKF(over_d2 == 0, "%s: %d elements off by more than d/2", tr->name, over_d2);
    }
    free(x);
    free(y);
    free(err);
    free(q);
}

/* Q8_K bsums are the sums of the stored int8s of each 16-group. */
static void test_q8_K_bsums(void) {
    enum { N = 2816 };
    float x[N];
    block_q8_K q[N / QK_K];
    uint64_t s = 7;
    int bad = 0;
    for (int r = 0; r < 20; r++) {
        random_row(x, N, &s);
        quantize_as(LC_TYPE_Q8_K, x, q, N);
        for (int b = 0; b < N / QK_K; b++)
            for (int g = 0; g < 16; g++) {
                int sum = 0;
                for (int i = 0; i < 16; i++) sum += q[b].qs[16 * g + i];
                if (q[b].bsums[g] != sum) bad++;
            }
    }
    CHECKF(bad == 0, "%d Q8_K bsums wrong", bad);
}

/* ================================================================ Q2_K / Q3_K layouts */

/* Element e = 128h + 32k + l keeps its 2 low bits at bit 2k of qs[32h + l]
 * and uses scale group e/16 (the layout of ggml's dequantize_row_q2_K and
 * _q3_K); Q3_K's third bit is bit e/32 of hmask[e % 32], and "clear" means
 * subtract 4. */
static void put_2bits(uint8_t qs[64], int e, int v) {
    qs[32 * (e / 128) + e % 32] |= (uint8_t)(v << (2 * ((e % 128) / 32)));
}

static lc_f16 random_scale_f16(uint64_t *s) { return lc_f32_to_f16(0.01f + fabsf(lc_test_randf(s))); }

static void make_q2_K(block_q2_K *b, int level[256], int sc[16], int mn[16], uint64_t *s) {
    memset(b, 0, sizeof *b);
    for (int g = 0; g < 16; g++) {
        sc[g] = (int)(lc_test_rand(s) % 16);
        mn[g] = (int)(lc_test_rand(s) % 16);
        b->scales[g] = (uint8_t)(sc[g] | (mn[g] << 4));
    }
    for (int e = 0; e < 256; e++) {
        level[e] = (int)(lc_test_rand(s) % 4);
        put_2bits(b->qs, e, level[e]);
    }
    b->d = random_scale_f16(s);
    b->dmin = random_scale_f16(s);
}

static void make_q3_K(block_q3_K *b, int level[256], int sc[16], uint64_t *s) {
    memset(b, 0, sizeof *b);
    for (int g = 0; g < 16; g++) {
        sc[g] = (int)(lc_test_rand(s) % 64) - 32;
        const int u = sc[g] + 32;
        if (g < 8) b->scales[g] |= (uint8_t)(u & 15);
        else b->scales[g - 8] |= (uint8_t)((u & 15) << 4);
        b->scales[8 + g % 4] |= (uint8_t)((u >> 4) << (2 * (g / 4)));
    }
    for (int e = 0; e < 256; e++) {
        level[e] = (int)(lc_test_rand(s) % 8) - 4;
        put_2bits(b->qs, e, level[e] & 3);
        if (level[e] >= 0) b->hmask[e % 32] |= (uint8_t)(1u << (e / 32));
    }
    b->d = random_scale_f16(s);
}

static void test_q2_K_q3_K_layout(void) {
    uint64_t s = 99;
    int bad2 = 0, bad3 = 0;
    for (int r = 0; r < 50; r++) {
        block_q2_K b2;
        block_q3_K b3;
        int level[256], sc[16], mn[16];
        float y[256];
        make_q2_K(&b2, level, sc, mn, &s);
        lc_type_traits_get(LC_TYPE_Q2_K)->to_float(&b2, y, 256);
        for (int e = 0; e < 256; e++) {
            const float dl = lc_f16_to_f32(b2.d) * (float)sc[e / 16];
            const float ml = lc_f16_to_f32(b2.dmin) * (float)mn[e / 16];
            if (y[e] != dl * (float)level[e] - ml) bad2++;
        }
        make_q3_K(&b3, level, sc, &s);
        lc_type_traits_get(LC_TYPE_Q3_K)->to_float(&b3, y, 256);
        for (int e = 0; e < 256; e++)
            if (y[e] != lc_f16_to_f32(b3.d) * (float)sc[e / 16] * (float)level[e]) bad3++;
    }
    CHECKF(bad2 == 0, "%d q2_K elements dequantized wrongly", bad2);
    CHECKF(bad3 == 0, "%d q3_K elements dequantized wrongly", bad3);
}

/* ================================================================ dot products */

/* Fills a weight row of `type`: the reference quantizer where there is one,
 * otherwise (Q2_K, Q3_K) blocks built from random levels. */
static void make_weight_row(int type, const float *x, void *out, int64_t n, uint64_t *s) {
    const lc_type_traits *t = lc_type_traits_get(type);
    if (t->from_float) {
        t->from_float(x, out, n);
        return;
    }
    int level[256], sc[16], mn[16];
    for (int64_t b = 0; b < n / QK_K; b++) {
        if (type == LC_TYPE_Q2_K) make_q2_K((block_q2_K *)out + b, level, sc, mn, s);
        else make_q3_K((block_q3_K *)out + b, level, sc, s);
    }
}

/* vec_dot uses the Q8_1 field s = fp16(d·Σq) where the dequantized
 * activations sum to f16(d)·Σq; both roundings are within 2^-11 relative,
 * so each block may differ from the float64 reference by |m|·|s|·2^-10. */
static double q8_1_sum_slack(int wtype, const void *w, const void *a, int64_t n) {
    double slack = 0;
    for (int64_t b = 0; b < n / 32; b++) {
        const lc_f16 m = wtype == LC_TYPE_Q4_1 ? ((const block_q4_1 *)w)[b].m : ((const block_q5_1 *)w)[b].m;
        const double s = lc_f16_to_f32(((const block_q8_1 *)a)[b].s);
        slack += fabs((double)lc_f16_to_f32(m)) * (fabs(s) * 0x1p-10 + 0x1p-24);
    }
    return slack;
}

/* Relative tolerance against Σ|w_i·x_i|: the per-block float products and
 * the float accumulation over at most 128 blocks. Measured worst: 5e-8. */
static const double DOT_TOLERANCE = 2e-6;

static void check_dot(int wtype, int64_t n, uint64_t *s, double *worst) {
    const lc_type_traits *wt = lc_type_traits_get(wtype);
    const int atype = wt->vec_dot_type;
    const lc_type_traits *at = lc_type_traits_get(atype);
    float *w = malloc((size_t)n * sizeof *w), *x = malloc((size_t)n * sizeof *x);
    float *wd = malloc((size_t)n * sizeof *wd), *xd = malloc((size_t)n * sizeof *xd);
    void *wq = malloc(lc_row_size(wtype, n)), *xq = malloc(lc_row_size(atype, n));
    random_row(w, n, s);
    random_row(x, n, s);
    make_weight_row(wtype, w, wq, n, s);
    at->from_float(x, xq, n);
    float got;
    wt->vec_dot(n, &got, wq, xq);
    wt->to_float(wq, wd, n);
    at->to_float(xq, xd, n);
    double exact = 0, magnitude = 0;
    for (int64_t i = 0; i < n; i++) {
        exact += (double)wd[i] * (double)xd[i];
        magnitude += fabs((double)wd[i] * (double)xd[i]);
    }
    double slack = 0;
    if (atype == LC_TYPE_Q8_1) slack = q8_1_sum_slack(wtype, wq, xq, n);
    const double err = fabs((double)got - exact);
    const double ratio = magnitude > 0 ? (err - slack) / magnitude : err;
    if (ratio > *worst) *worst = ratio;
    CHECKF(err <= DOT_TOLERANCE * magnitude + slack, "%s n=%lld: dot %.9g, float64 %.9g (|w·x| sum %.3g)",
           wt->name, (long long)n, (double)got, exact, magnitude);
    free(w);
    free(x);
    free(wd);
    free(xd);
    free(wq);
    free(xq);
}

static void test_dots(void) {
    const int float_types[] = {LC_TYPE_F32, LC_TYPE_F16, LC_TYPE_BF16};
    const int legacy_types[] = {LC_TYPE_Q4_0, LC_TYPE_Q4_1, LC_TYPE_Q5_0, LC_TYPE_Q5_1, LC_TYPE_Q8_0};
    const int k_types[] = {LC_TYPE_Q2_K, LC_TYPE_Q3_K, LC_TYPE_Q4_K, LC_TYPE_Q5_K, LC_TYPE_Q6_K};
    const int64_t float_lengths[] = {1, 7, 32, 4096};
    const int64_t legacy_lengths[] = {32, 64, 96, 4096};
    const int64_t k_lengths[] = {256, 512, 2816};
    uint64_t s = 2024;
    struct { const int *types; int ntypes; const int64_t *lengths; int nlengths; } groups[] = {
        {float_types, 3, float_lengths, 4},
        {legacy_types, 5, legacy_lengths, 4},
        {k_types, 5, k_lengths, 3},
    };
    for (int gi = 0; gi < 3; gi++) {
        for (int t = 0; t < groups[gi].ntypes; t++) {
            double worst = 0;
            for (int li = 0; li < groups[gi].nlengths; li++)
                for (int rep = 0; rep < 8; rep++) check_dot(groups[gi].types[t], groups[gi].lengths[li], &s, &worst);
            if (getenv("LC_TEST_VERBOSE"))
                fprintf(stderr, "%-5s dot: worst |err - slack| / sum|w x| = %.3g\n", lc_type_name(groups[gi].types[t]), worst);
        }
    }
}

/* The integer part of a block is exact: with every scale a power of two,
 * the dot product of a Q8_0 row with itself is exact in float. */
static void test_dot_exact_integers(void) {
    float x[64];
    for (int j = 0; j < 64; j++) x[j] = (float)((j * 37) % 255 - 127);
    x[0] = 127; /* d = 1 in both blocks */
    x[32] = -127;
    block_q8_0 q[2];
    quantize_as(LC_TYPE_Q8_0, x, q, 64);
    long long want = 0;
    for (int j = 0; j < 64; j++) want += (long long)x[j] * (long long)x[j];
    float got;
    lc_type_traits_get(LC_TYPE_Q8_0)->vec_dot(64, &got, q, q);
    CHECKF((long long)got == want, "q8_0 self dot %g, want %lld", (double)got, want);
}

/* The K-quant writers run ggml's scale searches side by side (trials or
 * sub-blocks in vector lanes); they must write exactly the bytes of the
 * one-trial-at-a-time restatement, on random rows of every shape and scale
 * and on the corner cases of the search: constant and zero sub-blocks,
 * all-positive and all-negative sub-blocks, one outlier, tiny values. */
static void fill_k_corner_case(float *x, int n, int kind, uint64_t *s) {
    for (int i = 0; i < n; i++) {
        const float u = lc_test_randf(s);
        switch (kind) {
        case 0: x[i] = (i / 32) % 2 ? 0.25f : u; break;              /* constant sub-blocks */
        case 1: x[i] = (i / 32) % 3 ? 0.0f : u; break;               /* zero sub-blocks */
        case 2: x[i] = fabsf(u) + 0.5f; break;                       /* all positive */
        case 3: x[i] = -fabsf(u) * 3.0f; break;                      /* all negative */
        case 4: x[i] = i % 97 == 0 ? 50.0f * u : 0.01f * u; break;   /* outliers */
        case 5: x[i] = u * 1e-20f; break;                            /* tiny */
        default: x[i] = (float)(i % 7) - 3.0f; break;                /* few distinct values */
        }
    }
}

static void test_k_fast_equals_sequential(void) {
    typedef void (*quant_fn)(const float *, void *, int64_t);
    const struct { int type; quant_fn fast, seq; } kinds[] = {
        {LC_TYPE_Q4_K, lc_quantize_q4_K_ref, lc_quantize_q4_K_seq},
        {LC_TYPE_Q5_K, lc_quantize_q5_K_ref, lc_quantize_q5_K_seq},
        {LC_TYPE_Q6_K, lc_quantize_q6_K_ref, lc_quantize_q6_K_seq},
    };
    enum { N = 1024, ROWS = 48 };
    float *x = malloc(N * sizeof *x);
    uint8_t *a = malloc(lc_row_size(LC_TYPE_Q8_K, N)), *b = malloc(lc_row_size(LC_TYPE_Q8_K, N));
    uint64_t s = 0x51ab1e;
    for (int r = 0; r < ROWS; r++) {
        if (r < 7) fill_k_corner_case(x, N, r, &s);
        else random_row(x, N, &s);
        for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
            const size_t size = lc_row_size(kinds[k].type, N);
            memset(a, 0xAA, size);
            memset(b, 0x55, size);
            kinds[k].fast(x, a, N);
            kinds[k].seq(x, b, N);
            CHECKF(memcmp(a, b, size) == 0, "%s row %d: fast and sequential quantizers differ",
                   lc_type_name(kinds[k].type), r);
        }
    }
    free(x);
    free(a);
    free(b);
}

/* ============================================================ Q5_K mixes */

/* A small F32 GGUF with the tensors the mixes single out, rows of 256 so
 * that every K-quant fits: 8 layers of attn_q, attn_v and ffn_down, and
 * output.weight. */
static int write_mix_source(const char *path) {
    enum { LAYERS = 8, NE0 = 256, ROWS = 4, ALIGN = 32 };
    const char *kinds[] = {"attn_q", "attn_v", "ffn_down"};
    char names[LAYERS * 3 + 1][48];
    int64_t rows[LAYERS * 3 + 1];
    int nt = 0;
    for (int l = 0; l < LAYERS; l++)
        for (int k = 0; k < 3; k++) {
            snprintf(names[nt], sizeof names[nt], "blk.%d.%s.weight", l, kinds[k]);
            rows[nt++] = ROWS;
        }
    snprintf(names[nt], sizeof names[nt], "output.weight");
    rows[nt++] = 8;
    bytes b = {0};
    put(&b, "GGUF", 4);
    put_le(&b, 3, 4);
    put_le(&b, (uint64_t)nt, 8);
    put_le(&b, 1, 8);
    put_str(&b, "general.architecture");
    put_le(&b, 8, 4); /* string */
    put_str(&b, "llama");
    uint64_t offset = 0;
    for (int t = 0; t < nt; t++) {
        put_str(&b, names[t]);
        put_le(&b, 2, 4);
        put_le(&b, NE0, 8);
        put_le(&b, (uint64_t)rows[t], 8);
        put_le(&b, 0, 4); /* f32 */
        put_le(&b, offset, 8);
        offset += (uint64_t)(NE0 * rows[t] * 4);
    }
    while (b.len % ALIGN) put_le(&b, 0, 1);
    uint64_t s = 77;
    for (int t = 0; t < nt; t++)
        for (int64_t i = 0; i < NE0 * rows[t]; i++) {
            const float v = lc_test_randf(&s);
            put(&b, &v, 4);
        }
    FILE *f = fopen(path, "wb");
    const int ok = f && fwrite(b.p, 1, b.len, f) == b.len;
    if (f) fclose(f);
    free(b.p);
    return ok ? 0 : -1;
}

/* llama.cpp's Q5_K_M: attn_v and ffn_down Q6_K where use_more_bits(i, 8)
 * (i = 0, 3, 6, 7), else Q5_K; Q5_K_S: Q5_K throughout; both: output Q6_K. */
static int expected_mix_type(const char *name, int mix) {
    if (!strcmp(name, "output.weight")) return LC_TYPE_Q6_K;
    int layer = -1;
    sscanf(name, "blk.%d.", &layer);
    const bool more = layer == 0 || layer == 3 || layer == 6 || layer == 7;
    const bool special = strstr(name, ".attn_v.") || strstr(name, ".ffn_down.");
    return mix == LLAMAC_CONVERT_Q5_K_M && special && more ? LC_TYPE_Q6_K : LC_TYPE_Q5_K;
}

static void test_q5_k_mixes(void) {
    char dir[] = "/tmp/lc_q5mix_XXXXXX", src[64], dst[64];
    if (!mkdtemp(dir)) { CHECK(!"mkdtemp"); return; }
    snprintf(src, sizeof src, "%s/f32.gguf", dir);
    CHECK(write_mix_source(src) == 0);
    const int mixes[] = {LLAMAC_CONVERT_Q5_K_M, LLAMAC_CONVERT_Q5_K_S};
    CHECK(llamac_convert_type_from_name("q5_k_m") == LLAMAC_CONVERT_Q5_K_M);
    CHECK(llamac_convert_type_from_name("Q5_K_S") == LLAMAC_CONVERT_Q5_K_S);
    for (size_t m = 0; m < 2; m++) {
        snprintf(dst, sizeof dst, "%s/%s.gguf", dir, llamac_convert_type_name(mixes[m]));
        llamac_error err = {{0}};
        CHECKF(llamac_quantize(src, dst, mixes[m], false, NULL, &err) == 0, "%s", err.msg);
        llamac_gguf *g = llamac_gguf_open(dst, &err);
        CHECKF(g != NULL, "%s", err.msg);
        if (!g) continue;
        int64_t n_q6 = 0;
        bool file_type_seen = false;
        for (int64_t i = 0; i < llamac_gguf_n_tensors(g); i++) {
            llamac_tensor_info ti;
            CHECK(llamac_gguf_tensor(g, i, &ti) == 0);
            const int want = expected_mix_type(ti.name, mixes[m]);
            n_q6 += ti.type == LC_TYPE_Q6_K;
            CHECKF(ti.type == want, "%s %s: %s, expected %s", llamac_convert_type_name(mixes[m]), ti.name,
                   ti.type_name, lc_type_name(want));
        }
        CHECK(n_q6 == (mixes[m] == LLAMAC_CONVERT_Q5_K_M ? 9 : 1));
        for (int64_t k = 0; k < llamac_gguf_n_kv(g); k++) {
            if (strcmp(llamac_gguf_kv_key(g, k), "general.file_type") != 0) continue;
            char buf[32];
            llamac_gguf_kv_format(g, k, buf, sizeof buf, 4);
            file_type_seen = true;
            CHECKF(atoi(buf) == (mixes[m] == LLAMAC_CONVERT_Q5_K_M ? 17 : 16), "general.file_type %s", buf);
        }
        CHECK(file_type_seen);
        llamac_gguf_free(g);
        remove(dst);
    }
    remove(src);
    rmdir(dir);
}

int main(void) {
    test_table();
    test_f16_hand();
    test_f16_exhaustive();
    test_f16_random();
    test_bf16_hand();
    test_q8_0_hand();
    test_q4_0_hand();
    test_q4_1_hand();
    test_q5_0_hand();
    test_q5_1_hand();
    test_q8_1_hand();
    test_q8_K_hand();
    test_zero_blocks();
    test_ggml_golden();
    test_k_fast_equals_sequential();
    test_q5_k_mixes();
    test_legacy_roundtrip();
    test_k_roundtrip();
    test_q8_K_bsums();
    test_q2_K_q3_K_layout();
    test_dots();
    test_dot_exact_integers();
    return TEST_SUMMARY("test_quant");
}
