/* sentencepiece tokenizer.model (a proto2 ModelProto, docs/formats.md "sentencepiece tokenizer.model")
 * to lc_tokenizer_data. The entry point, lc_tokenizer_data_from_spm_model,
 * is declared in tokenizer/tokenizer_data.h. */
#ifndef LC_SPM_MODEL_H
#define LC_SPM_MODEL_H

#include "tokenizer/tokenizer_data.h"

#endif
