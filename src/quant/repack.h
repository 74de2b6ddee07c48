/* Row-interleaved weights ("x8"): a matrix whose rows are regrouped, 8 at a
 * time, so that one 256-bit vector holds the same few quant bytes of 8
 * consecutive rows. A SIMD dot product then yields 8 rows' partial sums in
 * the 8 int32 lanes of one register: no horizontal sums, one scale vector
 * per block for 8 rows, and a quarter of the activation loads per weight
 * byte. Repacking happens once, at load, in place.
 *
 * Both types have blocks of { f16 d; qs[Q] } (Q = 16 bytes for Q4_0, 32 for
 * Q8_0). A group of 8 rows (rows 8g .. 8g+7) is stored block by block:
 *   x8 block b = { f16 d[8];            d of row r's block b
 *                  uint8 qs[Q/4][8][4]; [c][r] = bytes 4c..4c+3 of row r's qs }
 * Q8_0: lane r of vector c holds elements 4c..4c+3 of row r. Q4_0: byte j
 * holds element j (low nibble) and j + 16 (high), so lane r of vector c
 * holds elements 4c..4c+3 (low nibbles) and 16+4c..16+4c+3 (high) of row r.
 *
 * Q4_K: per super-block of 8 rows (8 x 144 bytes), block_q4_K_x8 below: the
 * rows' d and dmin, the 64 six-bit scales and 64 mins (index s*8 + r for
 * sub-block s of row r) split into low nibbles and high 2-bit parts so that
 * SIMD code unpacks them with a few shifts, and the quants as
 * qs[h][c][r][4] = bytes 32h + 4c .. +3 of row r's qs: low nibbles are
 * elements 64h + 4c.. (sub-block 2h), high ones 64h + 32 + 4c.. (2h + 1).
 *
 * Q6_K: per super-block of 8 rows, block_q6_K_x8 below: the rows' d, the
 * 16 int8 scales as scales[g][r], and ql / qh regrouped 4 bytes at a time
 * like the other types (ql[n][c][r] = bytes 64n + 4c.. of row r's ql,
 * qh[n][c][r] = bytes 32n + 4c.. of its qh), so that one load of each gives
 * 8 rows' bits of the same elements.
 *
 * A group keeps the size of 8 plain rows (8 x 18 bytes per block), so the
 * group holding rows 8g.. still starts at 8g * row_size and the matmul
 * driver addresses repacked and plain matrices alike. Only whole groups
 * exist: a matrix is repacked only if its row count is a multiple of 8. */
#ifndef LC_REPACK_H
#define LC_REPACK_H

#include <stdbool.h>
#include <stdint.h>

#include "quant/types.h"

#define LC_X8_ROWS 8

typedef struct {
    lc_f16 d[LC_X8_ROWS];
    uint8_t qs[QK4_0 / 2 * LC_X8_ROWS];
} block_q4_0_x8;
_Static_assert(sizeof(block_q4_0_x8) == 8 * sizeof(block_q4_0), "q4_0 x8 group keeps 8 rows' size");

typedef struct {
    lc_f16 d[LC_X8_ROWS];
    int8_t qs[QK8_0 * LC_X8_ROWS];
} block_q8_0_x8;
_Static_assert(sizeof(block_q8_0_x8) == 8 * sizeof(block_q8_0), "q8_0 x8 group keeps 8 rows' size");

typedef struct {
    lc_f16 d[LC_X8_ROWS];
    lc_f16 dmin[LC_X8_ROWS];
    uint8_t scales_lo[32]; /* byte i: low 4 bits of scale i (low nibble) and of scale i + 32 */
    uint8_t mins_lo[32];   /* the same for the mins */
    uint8_t scales_hi[16]; /* byte i: top 2 bits of scales i, i+16, i+32, i+48 at bits 0, 2, 4, 6 */
    uint8_t mins_hi[16];
    uint8_t qs[QK_K / 2 * LC_X8_ROWS];
} block_q4_K_x8;
_Static_assert(sizeof(block_q4_K_x8) == 8 * sizeof(block_q4_K), "q4_K x8 group keeps 8 rows' size");

typedef struct {
    lc_f16 d[LC_X8_ROWS];
    int8_t scales[QK_K / 16][LC_X8_ROWS];
    uint8_t ql[2][16][LC_X8_ROWS][4];
    uint8_t qh[2][8][LC_X8_ROWS][4];
} block_q6_K_x8;
_Static_assert(sizeof(block_q6_K_x8) == 8 * sizeof(block_q6_K), "q6_K x8 group keeps 8 rows' size");

/* Whether a weight type has an x8 layout and an nrows x K matrix can take it. */
bool lc_x8_supported(int type, int64_t nrows, int64_t K);

/* Regroups nrows x K weights of `type` at data into the x8 layout, in
 * place. Returns 0, or -1 if out of memory (the matrix is then unchanged)
 * or the layout is not supported. */
int lc_x8_repack(int type, void *data, int64_t nrows, int64_t K);

/* Block b of row r (0..7) of a repacked group, written back in the plain
 * block layout to *out (the reference kernels and tests read it so). */
void lc_x8_unpack_block(int type, const void *group, int64_t b, int r, void *out);

/* Row `row` (K elements) of a repacked matrix whose plain rows are
 * row_size bytes, as floats: the embedding lookup of a tied LM head. */
void lc_x8_row_to_float(int type, const void *data, size_t row_size, int64_t row, int64_t K, float *out);

#endif
