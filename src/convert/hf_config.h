/* Hugging Face config.json for LlamaForCausalLM (docs/formats.md "Llama metadata keys", "Llama 3.1 RoPE scaling"):
 * the hyperparameters the GGUF metadata and the tensor shapes come from. */
#ifndef LC_HF_CONFIG_H
#define LC_HF_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "llamac.h"

enum lc_rope_scaling {
    LC_ROPE_SCALING_NONE,
    LC_ROPE_SCALING_LINEAR, /* llama.rope.scaling.type/factor keys */
    LC_ROPE_SCALING_LLAMA3, /* rope_freqs.weight tensor */
};

typedef struct lc_hf_config {
    int32_t vocab_size;
    int32_t hidden_size;
    int32_t intermediate_size;
    int32_t n_layer;
    int32_t n_head;
    int32_t n_head_kv;
    int32_t head_dim;
    bool head_dim_explicit;   /* config.json states head_dim */
    int32_t max_position_embeddings;
    float rms_norm_eps;
    float rope_theta;
    bool tie_word_embeddings;
    int rope_scaling;         /* enum lc_rope_scaling */
    float rope_factor;
    float rope_low_freq_factor;
    float rope_high_freq_factor;
    int32_t rope_original_context;
    bool attention_bias;
    bool mlp_bias;
} lc_hf_config;

/* Reads and checks config.json (architecture, positive sizes, head
 * divisibility). Fails with "unsupported architecture X" for non-Llama. */
int lc_hf_config_load(const char *path, lc_hf_config *cfg, llamac_error *err);

/* The llama3 rope frequency divisors, head_dim/2 floats, computed in
 * float32 as the reference converter does (docs/formats.md "Llama 3.1 RoPE scaling"). */
void lc_rope_llama3_factors(const lc_hf_config *cfg, float *out);

#endif
