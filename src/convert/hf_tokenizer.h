/* Hugging Face tokenizer files (tokenizer.json, tokenizer.model,
 * tokenizer_config.json, generation_config.json) to lc_tokenizer_data.
 * The entry point, lc_tokenizer_data_from_hf_dir, is declared in
 * tokenizer/tokenizer_data.h with the rest of that interface. */
#ifndef LC_HF_TOKENIZER_H
#define LC_HF_TOKENIZER_H

#include "tokenizer/tokenizer_data.h"

#endif
