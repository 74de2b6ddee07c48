/* Size limits shared by the model loader (GGUF metadata) and the
 * converters (config.json): far above any real Llama, low enough that
 * sizes computed from them cannot overflow 64-bit arithmetic. A converter
 * refuses what the loader would refuse, before it pads a vocabulary or
 * builds a table from a size. */
#ifndef LC_MODEL_LIMITS_H
#define LC_MODEL_LIMITS_H

#include "kernels/attention.h"

#define LC_MAX_EMBD (1 << 16)
#define LC_MAX_LAYERS 1024
#define LC_MAX_HEADS 1024
#define LC_MAX_HEAD_DIM LC_ATTN_HEAD_DIM_MAX /* what the attention kernel handles */
#define LC_MAX_FF (1 << 20)
#define LC_MAX_VOCAB (1 << 22)

#endif
