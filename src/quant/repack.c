/* The x8 layout (see repack.h): conversion in place and back, one block.
 * Q4_0 and Q8_0 blocks are both { f16 d; qs[] }: only the qs length
 * differs. Q4_K has its own group layout. */
#include "quant/repack.h"

#include <stdlib.h>
#include <string.h>

/* Bytes of qs in one block, or 0 if the type has no x8 layout. */
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

/* ------------------------------------------------------------------ Q4_K */

/* The 8 six-bit scales and mins of a Q4_K block (the formats notes, Q4_K:
 * j < 4 in the low 6 bits of bytes j and j+4; j >= 4 split between a
 * nibble of byte j+4 and the top 2 bits of bytes j-4 and j). */
static void q4_K_get_scales(const uint8_t q[12], uint8_t sc[8], uint8_t mn[8]) {
    for (int j = 0; j < 8; j++) {
        if (j < 4) {
            sc[j] = q[j] & 63;
            mn[j] = q[j + 4] & 63;
        } else {
            sc[j] = (uint8_t)((q[j + 4] & 0x0f) | ((q[j - 4] >> 6) << 4));
            mn[j] = (uint8_t)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
        }
    }
}

static void q4_K_put_scales(const uint8_t sc[8], const uint8_t mn[8], uint8_t q[12]) {
    for (int j = 0; j < 4; j++) {
        q[j] = (uint8_t)(sc[j] | ((sc[j + 4] >> 4) << 6));
        q[j + 4] = (uint8_t)(mn[j] | ((mn[j + 4] >> 4) << 6));
        q[j + 8] = (uint8_t)((sc[j + 4] & 0x0f) | ((mn[j + 4] & 0x0f) << 4));
    }
}

/* 64 six-bit values <-> the split low-nibble / high-2-bit arrays. */
static void split6(const uint8_t v[64], uint8_t lo[32], uint8_t hi[16]) {
    for (int i = 0; i < 32; i++) lo[i] = (uint8_t)((v[i] & 0x0f) | ((v[i + 32] & 0x0f) << 4));
    for (int i = 0; i < 16; i++)
        hi[i] = (uint8_t)((v[i] >> 4) | ((v[i + 16] >> 4) << 2) | ((v[i + 32] >> 4) << 4) | ((v[i + 48] >> 4) << 6));
}

static uint8_t join6(const uint8_t lo[32], const uint8_t hi[16], int i) {
    const uint8_t low = i < 32 ? lo[i] & 0x0f : lo[i - 32] >> 4;
    return (uint8_t)(low | (((hi[i % 16] >> (2 * (i / 16))) & 3) << 4));
}

static void q4_K_group_to_x8(const uint8_t *rows, size_t row_size, int64_t nb, block_q4_K_x8 *out) {
    for (int64_t b = 0; b < nb; b++) {
        uint8_t sc[64], mn[64];
        for (int r = 0; r < LC_X8_ROWS; r++) {
            const block_q4_K *src = (const block_q4_K *)(rows + (size_t)r * row_size) + b;
            uint8_t s8[8], m8[8];
            q4_K_get_scales(src->scales, s8, m8);
            for (int s = 0; s < 8; s++) {
                sc[s * 8 + r] = s8[s];
                mn[s * 8 + r] = m8[s];
            }
            out[b].d[r] = src->d;
            out[b].dmin[r] = src->dmin;
            for (int h = 0; h < 4; h++)
                for (int c = 0; c < 8; c++)
                    memcpy(&out[b].qs[((h * 8 + c) * LC_X8_ROWS + r) * 4], &src->qs[32 * h + 4 * c], 4);
        }
        split6(sc, out[b].scales_lo, out[b].scales_hi);
        split6(mn, out[b].mins_lo, out[b].mins_hi);
    }
}

static void q4_K_unpack_block(const block_q4_K_x8 *x, int r, block_q4_K *dst) {
    uint8_t sc[8], mn[8];
    for (int s = 0; s < 8; s++) {
        sc[s] = join6(x->scales_lo, x->scales_hi, s * 8 + r);
        mn[s] = join6(x->mins_lo, x->mins_hi, s * 8 + r);
    }
    dst->d = x->d[r];
    dst->dmin = x->dmin[r];
    q4_K_put_scales(sc, mn, dst->scales);
    for (int h = 0; h < 4; h++)
        for (int c = 0; c < 8; c++) memcpy(&dst->qs[32 * h + 4 * c], &x->qs[((h * 8 + c) * LC_X8_ROWS + r) * 4], 4);
}

/* ------------------------------------------------------------------ Q6_K */

/* Moves one row's block between the plain and the x8 layout (to_x8 picks
 * the direction): the byte positions are the same both ways. */
static void q6_K_block_move(block_q6_K *plain, block_q6_K_x8 *x, int r, bool to_x8) {
#define Q6_MOVE(xp, pp, n) (to_x8 ? memcpy((xp), (pp), (n)) : memcpy((pp), (xp), (n)))
    Q6_MOVE(&x->d[r], &plain->d, 2);
    for (int g = 0; g < QK_K / 16; g++) Q6_MOVE(&x->scales[g][r], &plain->scales[g], 1);
    for (int n = 0; n < 2; n++) {
        for (int c = 0; c < 16; c++) Q6_MOVE(x->ql[n][c][r], &plain->ql[64 * n + 4 * c], 4);
        for (int c = 0; c < 8; c++) Q6_MOVE(x->qh[n][c][r], &plain->qh[32 * n + 4 * c], 4);
    }
#undef Q6_MOVE
}

static void q6_K_group_to_x8(const uint8_t *rows, size_t row_size, int64_t nb, block_q6_K_x8 *out) {
    for (int64_t b = 0; b < nb; b++)
        for (int r = 0; r < LC_X8_ROWS; r++)
            q6_K_block_move((block_q6_K *)(rows + (size_t)r * row_size) + b, &out[b], r, true);
}

/* ------------------------------------------------------- Q4_0 and Q8_0 */

/* One group: 8 plain rows in `rows` -> x8 blocks at `out`. */
static void group_to_x8(const uint8_t *rows, size_t row_size, int64_t nb, size_t qs_bytes, uint8_t *out) {
    const size_t block = 2 + qs_bytes;
    for (int64_t b = 0; b < nb; b++, out += block * LC_X8_ROWS) {
        uint8_t *qs = out + 2 * LC_X8_ROWS;
        for (int r = 0; r < LC_X8_ROWS; r++) {
            const uint8_t *src = rows + (size_t)r * row_size + (size_t)b * block;
            memcpy(out + 2 * r, src, 2);
            for (size_t c = 0; c < qs_bytes / 4; c++) memcpy(qs + (c * LC_X8_ROWS + (size_t)r) * 4, src + 2 + 4 * c, 4);
        }
    }
}

int lc_x8_repack(int type, void *data, int64_t nrows, int64_t K) {
    if (!lc_x8_supported(type, nrows, K)) return -1;
    const size_t row_size = lc_row_size(type, K);
    const size_t group_bytes = row_size * LC_X8_ROWS;
    uint8_t *plain = malloc(group_bytes);
    if (!plain) return -1;
    for (int64_t g = 0; g < nrows / LC_X8_ROWS; g++) {
        uint8_t *group = (uint8_t *)data + (size_t)g * group_bytes;
        memcpy(plain, group, group_bytes);
        if (type == LC_TYPE_Q4_K) q4_K_group_to_x8(plain, row_size, K / QK_K, (block_q4_K_x8 *)group);
        else if (type == LC_TYPE_Q6_K) q6_K_group_to_x8(plain, row_size, K / QK_K, (block_q6_K_x8 *)group);
        else group_to_x8(plain, row_size, K / 32, x8_qs_bytes(type), group);
    }
    free(plain);
    return 0;
}

void lc_x8_unpack_block(int type, const void *group, int64_t b, int r, void *out) {
    if (type == LC_TYPE_Q4_K) {
        q4_K_unpack_block((const block_q4_K_x8 *)group + b, r, out);
        return;
    }
    if (type == LC_TYPE_Q6_K) {
        q6_K_block_move(out, (block_q6_K_x8 *)group + b, r, false);
        return;
    }
    const size_t qs_bytes = x8_qs_bytes(type), block = 2 + qs_bytes;
    const uint8_t *x = (const uint8_t *)group + (size_t)b * block * LC_X8_ROWS;
    uint8_t *dst = out;
    memcpy(dst, x + 2 * r, 2);
    for (size_t c = 0; c < qs_bytes / 4; c++) memcpy(dst + 2 + 4 * c, x + 2 * LC_X8_ROWS + (c * LC_X8_ROWS + (size_t)r) * 4, 4);
}
