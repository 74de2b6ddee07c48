/* The x8 layout (see repack.h): conversion in place and back, one block.
 * Every layout moves quant bytes in 4-byte chunks, chunk c of row r going
 * to chunk slot c * 8 + r of the group's array (chunks_to_x8); scales are
 * gathered per row; only Q4_K re-encodes its 6-bit scales. */
#include "quant/repack.h"

#include <stdlib.h>
#include <string.h>

#include "quant/quant.h"

/* Bytes of qs in one Q4_0/Q8_0/Q4_K block (ql + qh for Q6_K), or 0 if the
 * type has no x8 layout. */
static size_t x8_qs_bytes(int type) {
    switch (type) {
    case LC_TYPE_Q4_0: return QK4_0 / 2;
    case LC_TYPE_Q8_0: return QK8_0;
    case LC_TYPE_Q4_K: return QK_K / 2;
    case LC_TYPE_Q6_K: return QK_K / 2 + QK_K / 4;
    default: return 0;
    }
}

bool lc_x8_supported(int type, int64_t nrows, int64_t K) {
    const size_t qs = x8_qs_bytes(type);
    const int64_t bs = type == LC_TYPE_Q4_K || type == LC_TYPE_Q6_K ? QK_K : 32;
    return qs > 0 && nrows > 0 && nrows % LC_X8_ROWS == 0 && K > 0 && K % bs == 0;
}

/* n_chunks 4-byte chunks of row r: row bytes 4c.. <-> x8 bytes (c*8 + r)*4.. */
static void chunks_to_x8(uint8_t *x8, const uint8_t *row, size_t n_chunks, int r) {
    for (size_t c = 0; c < n_chunks; c++) memcpy(x8 + (c * LC_X8_ROWS + (size_t)r) * 4, row + 4 * c, 4);
}

static void chunks_from_x8(uint8_t *row, const uint8_t *x8, size_t n_chunks, int r) {
    for (size_t c = 0; c < n_chunks; c++) memcpy(row + 4 * c, x8 + (c * LC_X8_ROWS + (size_t)r) * 4, 4);
}

/* ------------------------------------------------------------------ Q4_K */

/* 64 six-bit values <-> the split low-nibble / high-2-bit arrays. */
static void split6(const uint8_t v[64], uint8_t lo[32], uint8_t hi[16]) {
    for (int i = 0; i < 32; i++) lo[i] = (uint8_t)((v[i] & 0x0f) | ((v[i + 32] & 0x0f) << 4));
    for (int i = 0; i < 16; i++)
        hi[i] = (uint8_t)((v[i] >> 4) | ((v[i + 16] >> 4) << 2) | ((v[i + 32] >> 4) << 4) | ((v[i + 48] >> 4) << 6));
}

static int join6(const uint8_t lo[32], const uint8_t hi[16], int i) {
    const int low = i < 32 ? lo[i] & 0x0f : lo[i - 32] >> 4;
    return low | (((hi[i % 16] >> (2 * (i / 16))) & 3) << 4);
}

static void q4_K_to_x8(const block_q4_K *const src[LC_X8_ROWS], block_q4_K_x8 *out) {
    uint8_t sc[64], mn[64];
    for (int r = 0; r < LC_X8_ROWS; r++) {
        uint8_t s8[8], m8[8];
        lc_k4_scales_all(src[r]->scales, s8, m8);
        for (int s = 0; s < 8; s++) {
            sc[s * 8 + r] = s8[s];
            mn[s * 8 + r] = m8[s];
        }
        out->d[r] = src[r]->d;
        out->dmin[r] = src[r]->dmin;
        chunks_to_x8(out->qs, src[r]->qs, QK_K / 8, r);
    }
    split6(sc, out->scales_lo, out->scales_hi);
    split6(mn, out->mins_lo, out->mins_hi);
}

static void q4_K_from_x8(const block_q4_K_x8 *x, int r, block_q4_K *dst) {
    int sc[8], mn[8];
    for (int s = 0; s < 8; s++) {
        sc[s] = join6(x->scales_lo, x->scales_hi, s * 8 + r);
        mn[s] = join6(x->mins_lo, x->mins_hi, s * 8 + r);
    }
    dst->d = x->d[r];
    dst->dmin = x->dmin[r];
    lc_k4_pack_scales(sc, mn, dst->scales);
    chunks_from_x8(dst->qs, x->qs, QK_K / 8, r);
}

/* ------------------------------------------------------------------ Q6_K */

static void q6_K_to_x8(const block_q6_K *const src[LC_X8_ROWS], block_q6_K_x8 *out) {
    for (int r = 0; r < LC_X8_ROWS; r++) {
        out->d[r] = src[r]->d;
        for (int g = 0; g < QK_K / 16; g++) out->scales[g][r] = src[r]->scales[g];
        chunks_to_x8(&out->ql[0][0][0][0], src[r]->ql, QK_K / 8, r);
        chunks_to_x8(&out->qh[0][0][0][0], src[r]->qh, QK_K / 16, r);
    }
}

static void q6_K_from_x8(const block_q6_K_x8 *x, int r, block_q6_K *dst) {
    dst->d = x->d[r];
    for (int g = 0; g < QK_K / 16; g++) dst->scales[g] = x->scales[g][r];
    chunks_from_x8(dst->ql, &x->ql[0][0][0][0], QK_K / 8, r);
    chunks_from_x8(dst->qh, &x->qh[0][0][0][0], QK_K / 16, r);
}

/* ------------------------------------------------- Q4_0 and Q8_0: { f16 d; qs[] } */

static void legacy_to_x8(const uint8_t *const src[LC_X8_ROWS], size_t qs_bytes, uint8_t *out) {
    for (int r = 0; r < LC_X8_ROWS; r++) {
        memcpy(out + 2 * r, src[r], 2);
        chunks_to_x8(out + 2 * LC_X8_ROWS, src[r] + 2, qs_bytes / 4, r);
    }
}

static void legacy_from_x8(const uint8_t *x, size_t qs_bytes, int r, uint8_t *dst) {
    memcpy(dst, x + 2 * r, 2);
    chunks_from_x8(dst + 2, x + 2 * LC_X8_ROWS, qs_bytes / 4, r);
}

/* ----------------------------------------------------------------- entry */

int lc_x8_repack(int type, void *data, int64_t nrows, int64_t K) {
    if (!lc_x8_supported(type, nrows, K)) return -1;
    const size_t row_size = lc_row_size(type, K);
    const size_t block = lc_type_traits_get(type)->type_size;
    const int64_t nb = K / lc_type_traits_get(type)->block_size;
    const size_t group_bytes = row_size * LC_X8_ROWS;
    uint8_t *plain = malloc(group_bytes);
    if (!plain) return -1;
    for (int64_t g = 0; g < nrows / LC_X8_ROWS; g++) {
        uint8_t *group = (uint8_t *)data + (size_t)g * group_bytes;
        memcpy(plain, group, group_bytes);
        for (int64_t b = 0; b < nb; b++) {
            const uint8_t *src[LC_X8_ROWS]; /* block b of each row */
            for (int r = 0; r < LC_X8_ROWS; r++) src[r] = plain + (size_t)r * row_size + (size_t)b * block;
            uint8_t *out = group + (size_t)b * block * LC_X8_ROWS;
            if (type == LC_TYPE_Q4_K) q4_K_to_x8((const block_q4_K *const *)src, (block_q4_K_x8 *)out);
            else if (type == LC_TYPE_Q6_K) q6_K_to_x8((const block_q6_K *const *)src, (block_q6_K_x8 *)out);
            else legacy_to_x8(src, x8_qs_bytes(type), out);
        }
    }
    free(plain);
    return 0;
}

void lc_x8_unpack_block(int type, const void *group, int64_t b, int r, void *out) {
    const size_t block = lc_type_traits_get(type)->type_size;
    const uint8_t *x = (const uint8_t *)group + (size_t)b * block * LC_X8_ROWS;
    if (type == LC_TYPE_Q4_K) q4_K_from_x8((const block_q4_K_x8 *)x, r, out);
    else if (type == LC_TYPE_Q6_K) q6_K_from_x8((const block_q6_K_x8 *)x, r, out);
    else legacy_from_x8(x, x8_qs_bytes(type), r, out);
}

void lc_x8_row_to_float(int type, const void *data, size_t row_size, int64_t row, int64_t K, float *out) {
    const lc_type_traits *t = lc_type_traits_get(type);
    const uint8_t *group = (const uint8_t *)data + (size_t)(row / LC_X8_ROWS * LC_X8_ROWS) * row_size;
    _Alignas(16) uint8_t block[256]; /* one plain block: Q6_K, the largest x8 type, has 210 bytes */
    for (int64_t b = 0; b < K / t->block_size; b++) {
        lc_x8_unpack_block(type, group, b, (int)(row % LC_X8_ROWS), block);
        t->to_float(block, out + b * t->block_size, t->block_size);
    }
}
