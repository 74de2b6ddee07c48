/* `llamac convert` and `llamac quantize` (tools/cmd_convert.c,
 * tools/cmd_quantize.c), plus the progress display and notes they share. */
#ifndef LLAMAC_CMD_CONVERT_H
#define LLAMAC_CMD_CONVERT_H

#include <stdbool.h>
#include <stdint.h>

#include "llamac.h"

/* The output types both commands accept, and what each writes. */
#define CONVERT_TYPE_NAMES "f32, f16, bf16, q8_0, q6_k, q5_1, q5_0, q4_1, q4_0, q4_k_m, q4_k_s"
#define CONVERT_TYPES_HELP                                                                      \
    "types (norms, biases and other 1-D tensors stay f32 in all of them):\n"                    \
    "  f32 f16 bf16 q8_0    every weight matrix in that type\n"                                 \
    "  q4_0 q4_1 q5_0 q5_1  that type, except the logits matrix (output.weight, or a tied\n"    \
    "                       token_embd) q6_K and an untied token_embd q8_0 (it is gathered,\n"  \
    "                       not multiplied: more bits cost file size, not speed)\n"             \
    "  q6_k                 every weight matrix q6_K\n"                                         \
    "  q4_k_m               llama.cpp's Q4_K_M: q4_K, except the logits matrix q6_K, attn_v\n"  \
    "                       and ffn_down q6_K in layers i of n where i < n/8, i >= 7n/8 or\n"   \
    "                       (i - n/8) % 3 == 2, and an untied token_embd q8_0 (llama.cpp: q4_K)\n" \
    "  q4_k_s               llama.cpp's Q4_K_S: q4_K, except the logits matrix q6_K, attn_v\n"  \
    "                       of layers 0-3 and ffn_down of layers below n/8 q5_K, and an untied\n" \
    "                       token_embd q8_0 (llama.cpp: q4_K)\n"                                \
    "  q5_k_m               llama.cpp's Q5_K_M: q5_K, with the exceptions of q4_k_m\n"          \
    "  q5_k_s               llama.cpp's Q5_K_S: q5_K, except the logits matrix q6_K and an\n"   \
    "                       untied token_embd q8_0 (llama.cpp: q5_K)\n"                         \
    "  In an 80-layer model with grouped-query attention (70B) the mixes make a q4_K attn_v\n" \
    "  q5_K, as llama.cpp does. Rows that are not a multiple of 256 fall back: q4_K -> q5_0,\n" \
    "  q5_K -> q5_1, q6_K -> q8_0; rows that do not fit 32-blocks either become f16.\n"

/* Shared by both commands: a progress line on stderr when it is a terminal
 * (tensors, bytes, rate, ETA), nothing otherwise; Ctrl-C cancels the run
 * (the library then removes its temporary file). */
typedef struct convert_ui {
    const char *cmd;
    bool tty;
    bool quiet;
    int64_t last_draw_us;
    bool drawn;
    uint64_t bytes_total;
    int64_t tensors_total;
    double elapsed_s;
} convert_ui;

void convert_ui_init(convert_ui *ui, const char *cmd, bool quiet);
/* Installs the SIGINT/SIGTERM handler and fills the progress/note fields. */
void convert_ui_attach(convert_ui *ui, llamac_convert_params *p);
/* Restores the signal handlers, clears the progress line. */
void convert_ui_detach(convert_ui *ui);
/* The one-line summary after success. */
void convert_ui_summary(const convert_ui *ui, const char *dst);

#endif
