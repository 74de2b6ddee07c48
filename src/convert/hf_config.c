#include "convert/hf_config.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/limits.h"
#include "runtime/err.h"
#include "runtime/file.h"


/* Reads an integer field in [min, max]. Returns 1 if present, 0 if absent
 * or null, -1 if present but not such an integer. */
static int get_int(const char *path, const cJSON *root, const char *key, int32_t min, int32_t max,
                   int32_t *out, llamac_error *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!v || cJSON_IsNull(v)) return 0;
    double d = cJSON_IsNumber(v) ? v->valuedouble : NAN;
    if (d != floor(d))
        return lc_fail(err, "%s: \"%s\" must be an integer in [%d, %d]", path, key, (int)min, (int)max);
    if (!(d >= (double)min && d <= (double)max))
        return lc_fail(err, "%s: \"%s\" = %.0f is outside [%d, %d], the sizes llamac can load", path, key,
                       d, (int)min, (int)max);
    *out = (int32_t)d;
    return 1;
}

static int require_int(const char *path, const cJSON *root, const char *key, int32_t max, int32_t *out,
                       llamac_error *err) {
    int rc = get_int(path, root, key, 1, max, out, err);
    if (rc == 0) return lc_fail(err, "%s: required field \"%s\" is missing", path, key);
    return rc < 0 ? -1 : 0;
}

/* A positive finite float field; absent or null keeps *out. */
static int get_float(const char *path, const cJSON *root, const char *key, float *out,
                     llamac_error *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!v || cJSON_IsNull(v)) return 0;
    if (!cJSON_IsNumber(v) || !(v->valuedouble > 0.0) || !isfinite(v->valuedouble))
        return lc_fail(err, "%s: \"%s\" must be a positive number", path, key);
    *out = (float)v->valuedouble;
    return 1;
}

static int get_bool(const char *path, const cJSON *root, const char *key, bool *out,
                    llamac_error *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!v || cJSON_IsNull(v)) return 0;
    if (!cJSON_IsBool(v)) return lc_fail(err, "%s: \"%s\" must be true or false", path, key);
    *out = cJSON_IsTrue(v);
    return 1;
}

static int check_architecture(const char *path, const cJSON *root, llamac_error *err) {
    const cJSON *archs = cJSON_GetObjectItemCaseSensitive(root, "architectures");
    const cJSON *mtype = cJSON_GetObjectItemCaseSensitive(root, "model_type");
    if (cJSON_IsArray(archs) && cJSON_GetArraySize(archs) > 0) {
        const cJSON *a = cJSON_GetArrayItem(archs, 0);
        if (!cJSON_IsString(a)) return lc_fail(err, "%s: \"architectures\"[0] is not a string", path);
        if (strcmp(a->valuestring, "LlamaForCausalLM") != 0)
            return lc_fail(err, "%s: unsupported architecture %s (only LlamaForCausalLM)", path,
                           a->valuestring);
    } else if (!cJSON_IsString(mtype)) {
        return lc_fail(err, "%s: neither \"architectures\" nor \"model_type\" says what model this is",
                       path);
    }
    if (cJSON_IsString(mtype) && strcmp(mtype->valuestring, "llama") != 0)
        return lc_fail(err, "%s: unsupported architecture %s (model_type must be \"llama\")", path,
                       mtype->valuestring);
    const cJSON *act = cJSON_GetObjectItemCaseSensitive(root, "hidden_act");
    if (cJSON_IsString(act) && strcmp(act->valuestring, "silu") != 0)
        return lc_fail(err, "%s: unsupported hidden_act \"%s\" (Llama uses silu)", path,
                       act->valuestring);
    return 0;
}

static int parse_rope_scaling(const char *path, const cJSON *root, lc_hf_config *c,
                              llamac_error *err) {
    const cJSON *rs = cJSON_GetObjectItemCaseSensitive(root, "rope_scaling");
    c->rope_scaling = LC_ROPE_SCALING_NONE;
    if (!rs || cJSON_IsNull(rs)) return 0;
    if (!cJSON_IsObject(rs)) return lc_fail(err, "%s: \"rope_scaling\" is not an object", path);
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(rs, "rope_type");
    if (!type) type = cJSON_GetObjectItemCaseSensitive(rs, "type");
    if (!cJSON_IsString(type))
        return lc_fail(err, "%s: rope_scaling has no \"rope_type\" string", path);
    const char *t = type->valuestring;
    if (strcmp(t, "default") == 0) return 0;
    if (strcmp(t, "linear") == 0) {
        c->rope_scaling = LC_ROPE_SCALING_LINEAR;
        if (get_float(path, rs, "factor", &c->rope_factor, err) <= 0)
            return lc_fail(err, "%s: linear rope_scaling needs a positive \"factor\"", path);
        return 0;
    }
    if (strcmp(t, "llama3") != 0)
        return lc_fail(err, "%s: unsupported rope_scaling type \"%s\" (supported: linear, llama3)",
                       path, t);
    /* defaults as the reference converter uses when a field is missing */
    c->rope_scaling = LC_ROPE_SCALING_LLAMA3;
    c->rope_factor = 8.0f;
    c->rope_low_freq_factor = 1.0f;
    c->rope_high_freq_factor = 4.0f;
    c->rope_original_context = 8192;
    if (get_float(path, rs, "factor", &c->rope_factor, err) < 0 ||
        get_float(path, rs, "low_freq_factor", &c->rope_low_freq_factor, err) < 0 ||
        get_float(path, rs, "high_freq_factor", &c->rope_high_freq_factor, err) < 0 ||
        get_int(path, rs, "original_max_position_embeddings", 1, INT32_MAX, &c->rope_original_context, err) < 0)
        return -1;
    if (c->rope_low_freq_factor == c->rope_high_freq_factor)
        return lc_fail(err, "%s: rope_scaling low_freq_factor equals high_freq_factor", path);
    return 0;
}

static int parse_sizes(const char *path, const cJSON *root, lc_hf_config *c, llamac_error *err) {
    /* The loader's limits (model/limits.h): a vocab_size of 2^31-1 would
     * otherwise pad the vocabulary until memory ran out, and a head_dim of
     * 2^31-2 size the llama3 rope-frequency table. The context lengths are
     * only written out, so any positive int32 is kept. */
    if (require_int(path, root, "vocab_size", LC_MAX_VOCAB, &c->vocab_size, err) ||
        require_int(path, root, "hidden_size", LC_MAX_EMBD, &c->hidden_size, err) ||
        require_int(path, root, "intermediate_size", LC_MAX_FF, &c->intermediate_size, err) ||
        require_int(path, root, "num_hidden_layers", LC_MAX_LAYERS, &c->n_layer, err) ||
        require_int(path, root, "num_attention_heads", LC_MAX_HEADS, &c->n_head, err))
        return -1;
    c->n_head_kv = c->n_head;
    c->max_position_embeddings = 2048; /* transformers' LlamaConfig default */
    if (get_int(path, root, "num_key_value_heads", 1, LC_MAX_HEADS, &c->n_head_kv, err) < 0 ||
        get_int(path, root, "max_position_embeddings", 1, INT32_MAX, &c->max_position_embeddings, err) < 0)
        return -1;
    int rc = get_int(path, root, "head_dim", 1, LC_MAX_HEAD_DIM, &c->head_dim, err);
    if (rc < 0) return -1;
    c->head_dim_explicit = rc == 1;
    if (!c->head_dim_explicit) {
        if (c->hidden_size % c->n_head != 0)
            return lc_fail(err, "%s: hidden_size %d is not a multiple of num_attention_heads %d",
                           path, (int)c->hidden_size, (int)c->n_head);
        c->head_dim = c->hidden_size / c->n_head;
        if (c->head_dim > LC_MAX_HEAD_DIM)
            return lc_fail(err, "%s: head dimension %d (hidden_size / num_attention_heads) is larger than %d",
                           path, (int)c->head_dim, LC_MAX_HEAD_DIM);
    }
    if (c->n_head % c->n_head_kv != 0)
        return lc_fail(err, "%s: num_attention_heads %d is not a multiple of num_key_value_heads %d",
                       path, (int)c->n_head, (int)c->n_head_kv);
    if (c->head_dim % 2 != 0)
        return lc_fail(err, "%s: head_dim %d is odd (RoPE rotates pairs)", path, (int)c->head_dim);
    return 0;
}

static int parse_config(const char *path, const cJSON *root, lc_hf_config *c, llamac_error *err) {
    if (!cJSON_IsObject(root)) return lc_fail(err, "%s: not a JSON object", path);
    if (check_architecture(path, root, err) || parse_sizes(path, root, c, err)) return -1;
    c->rms_norm_eps = 1e-6f; /* transformers' default */
    c->rope_theta = 10000.0f;
    c->tie_word_embeddings = false;
    if (get_float(path, root, "rms_norm_eps", &c->rms_norm_eps, err) < 0 ||
        get_float(path, root, "rope_theta", &c->rope_theta, err) < 0 ||
        get_bool(path, root, "tie_word_embeddings", &c->tie_word_embeddings, err) < 0 ||
        get_bool(path, root, "attention_bias", &c->attention_bias, err) < 0 ||
        get_bool(path, root, "mlp_bias", &c->mlp_bias, err) < 0)
        return -1;
    return parse_rope_scaling(path, root, c, err);
}

int lc_hf_config_load(const char *path, lc_hf_config *cfg, llamac_error *err) {
    memset(cfg, 0, sizeof *cfg);
    char *text = lc_read_file(path, (size_t)16 << 20, NULL, NULL, err); /* a config is a few KB */
    if (!text) return -1;
    cJSON *root = cJSON_Parse(text);
    free(text);
    if (!root) return lc_fail(err, "%s: not valid JSON", path);
    int rc = parse_config(path, root, cfg, err);
    cJSON_Delete(root);
    return rc;
}

/* Mirrors the reference's torch float32 arithmetic step by step, including
 * that torch evaluates `scalar / t` as `reciprocal(t) * scalar`. */
void lc_rope_llama3_factors(const lc_hf_config *c, float *out) {
    const int d = c->head_dim;
    const float two_pi = (float)(2.0 * M_PI);
    const float old_ctx = (float)c->rope_original_context;
    const float low_wavelen = (float)((double)c->rope_original_context / c->rope_low_freq_factor);
    const float high_wavelen = (float)((double)c->rope_original_context / c->rope_high_freq_factor);
    const float freq_span = (float)((double)c->rope_high_freq_factor - c->rope_low_freq_factor);
    for (int i = 0; i < d / 2; i++) {
        float exponent = (float)(2 * i) / (float)d;
        float freq = 1.0f / powf(c->rope_theta, exponent);
        float wavelen = (1.0f / freq) * two_pi;
        if (wavelen < high_wavelen) {
            out[i] = 1.0f;
        } else if (wavelen > low_wavelen) {
            out[i] = c->rope_factor;
        } else {
            float smooth = ((1.0f / wavelen) * old_ctx - c->rope_low_freq_factor) / freq_span;
            out[i] = 1.0f / ((1.0f - smooth) / c->rope_factor + smooth);
        }
    }
}
