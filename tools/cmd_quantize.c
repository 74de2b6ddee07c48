/* llamac quantize: rewrite an F32/F16/BF16 GGUF file in another type or mix. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cmd_convert.h"

static const char quantize_usage[] =
    "usage: llamac quantize IN.gguf OUT.gguf TYPE [options]\n"
    "\n"
    "Rewrites the weights of IN.gguf as TYPE with the same type policy as convert\n"
    "(below). Every metadata key is copied; general.file_type is updated. OUT.gguf\n"
    "appears only when complete.\n"
    "\n"
    "  --allow-requantize  accept a source that is already quantized (each rounding adds\n"
    "                      error: converting from the original weights is better)\n"
    "  --threads N         threads (default: all CPUs)\n"
    "  -q, --quiet         no notes and no summary\n"
    "  -h, --help          show this help\n"
    "\n"
    CONVERT_TYPES_HELP;

int cmd_quantize(int argc, char **argv) {
    const char *pos[3] = {0};
    int n_pos = 0;
    bool allow = false, quiet = false;
    llamac_convert_params params = llamac_convert_default_params();
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *v;
        if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
            fputs(quantize_usage, stdout);
            return CLI_OK;
        } else if (!strcmp(arg, "--allow-requantize")) {
            allow = true;
        } else if (!strcmp(arg, "-q") || !strcmp(arg, "--quiet")) {
            quiet = true;
        } else if (!strcmp(arg, "--threads")) {
            int64_t n;
            if (!(v = cli_value("quantize", argc, argv, &i))) return CLI_USAGE;
            if (!cli_parse_i64("quantize", arg, v, 1, 1024, &n)) return CLI_USAGE;
            params.n_threads = (int)n;
        } else if (arg[0] == '-' && arg[1]) {
            return cli_error("quantize", CLI_USAGE, "unknown option '%s' (see --help)", arg);
        } else if (n_pos < 3) {
            pos[n_pos++] = arg;
        } else {
            return cli_error("quantize", CLI_USAGE, "unexpected argument '%s'", arg);
        }
    }
    if (n_pos != 3) return cli_error("quantize", CLI_USAGE, "expected IN.gguf OUT.gguf TYPE (see --help)");
    int type = llamac_convert_type_from_name(pos[2]);
    if (type < 0)
        return cli_error("quantize", CLI_USAGE, "unknown type '%s' (" CONVERT_TYPE_NAMES ")", pos[2]);
    convert_ui ui;
    convert_ui_init(&ui, "quantize", quiet);
    convert_ui_attach(&ui, &params);
    llamac_error err = {{0}};
    int rc = llamac_quantize(pos[0], pos[1], type, allow, &params, &err);
    convert_ui_detach(&ui);
    if (rc != 0) return cli_error("quantize", CLI_FAIL, "%s", err.msg);
    convert_ui_summary(&ui, pos[1]);
    return CLI_OK;
}
