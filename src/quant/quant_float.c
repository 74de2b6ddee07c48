/* F32, F16 and BF16 rows: conversions and the scalar dot products. The
 * conversions are exact in the widening direction and round to nearest even
 * in the narrowing one (types.h), as ggml does. */
#include "quant/quant.h"

void lc_to_float_f32(const void *src, float *dst, int64_t n) {
    memcpy(dst, src, (size_t)n * sizeof(float));
}

void lc_from_float_f32(const float *src, void *dst, int64_t n) {
    memcpy(dst, src, (size_t)n * sizeof(float));
}

void lc_to_float_f16(const void *src, float *dst, int64_t n) {
    const lc_f16 *h = src;
    for (int64_t i = 0; i < n; i++) dst[i] = lc_f16_to_f32(h[i]);
}

void lc_from_float_f16(const float *src, void *dst, int64_t n) {
    lc_f16 *h = dst;
    for (int64_t i = 0; i < n; i++) h[i] = lc_f32_to_f16(src[i]);
}

void lc_to_float_bf16(const void *src, float *dst, int64_t n) {
    const lc_bf16 *h = src;
    for (int64_t i = 0; i < n; i++) dst[i] = lc_bf16_to_f32(h[i]);
}

void lc_from_float_bf16(const float *src, void *dst, int64_t n) {
    lc_bf16 *h = dst;
    for (int64_t i = 0; i < n; i++) h[i] = lc_f32_to_bf16(src[i]);
}

/* Each product is rounded to float (exact for f16*f16 and bf16*bf16 unless
 * it over- or underflows), then summed in double: ggml's scalar vec_dot. */
void lc_vec_dot_f32(int64_t n, float *out, const void *w, const void *x) {
    const float *a = w, *b = x;
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++) sum += (double)(a[i] * b[i]);
    *out = (float)sum;
}

void lc_vec_dot_f16(int64_t n, float *out, const void *w, const void *x) {
    const lc_f16 *a = w, *b = x;
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++) sum += (double)(lc_f16_to_f32(a[i]) * lc_f16_to_f32(b[i]));
    *out = (float)sum;
}

void lc_vec_dot_bf16(int64_t n, float *out, const void *w, const void *x) {
    const lc_bf16 *a = w, *b = x;
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++) sum += (double)(lc_bf16_to_f32(a[i]) * lc_bf16_to_f32(b[i]));
    *out = (float)sum;
}
