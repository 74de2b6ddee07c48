/* Public entry points of the converter library (include/llamac.h,
 * "conversion"). */
#include <errno.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "convert/convert.h"
#include "quant/types.h"
#include "runtime/err.h"

llamac_convert_params llamac_convert_default_params(void) {
    return lc_conv_default_params();
}

int llamac_convert_type_from_name(const char *name) {
    if (!name) return -1;
    if (!strcasecmp(name, "q4_k_m")) return LLAMAC_CONVERT_Q4_K_M;
    if (!strcasecmp(name, "q4_k_s")) return LLAMAC_CONVERT_Q4_K_S;
    if (!strcasecmp(name, "q5_k_m")) return LLAMAC_CONVERT_Q5_K_M;
    if (!strcasecmp(name, "q5_k_s")) return LLAMAC_CONVERT_Q5_K_S;
    int type = lc_type_from_name(name);
    return type >= 0 && lc_conv_type_supported(type) ? type : -1;
}

const char *llamac_convert_type_name(int type) {
    return lc_conv_type_supported(type) ? lc_conv_type_name(type) : "unknown";
}

int llamac_convert(const char *src, const char *dst, const llamac_convert_params *params,
                   llamac_error *err) {
    llamac_convert_params p = params ? *params : lc_conv_default_params();
    if (!src || !dst) return lc_fail(err, "convert: source and destination are required");
    struct stat sb;
    if (stat(src, &sb) != 0) return lc_fail(err, "%s: %s", src, strerror(errno));
    if (S_ISDIR(sb.st_mode)) {
        if (p.tokenizer)
            return lc_fail(err, "%s: --tokenizer is for llama2.c checkpoints; a Hugging Face "
                                "folder brings its own (see --vocab-from)", src);
        return lc_convert_hf(src, dst, &p, err);
    }
    if (p.vocab_from || p.no_vocab)
        return lc_fail(err, "%s: --vocab-from/--no-vocab are for Hugging Face folders; a llama2.c "
                            "checkpoint takes --tokenizer", src);
    return lc_convert_llama2c(src, dst, &p, err);
}

int llamac_quantize(const char *src, const char *dst, int type, bool allow_requantize,
                    const llamac_convert_params *params, llamac_error *err) {
    if (!src || !dst) return lc_fail(err, "quantize: source and destination are required");
    return lc_quantize_gguf(src, dst, type, allow_requantize, params, err);
}
