/* Internal view of a loaded model shared by the modules that implement the
 * public API (tokenizer API, forward pass). */
#ifndef LC_MODEL_H
#define LC_MODEL_H

#include "llamac.h"

struct lc_vocab;

/* The tokenizer of a loaded model (never NULL for a loaded model). */
const struct lc_vocab *lc_model_vocab(const llamac_model *model);

#endif
