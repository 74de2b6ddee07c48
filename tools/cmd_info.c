/* llamac info FILE: metadata and tensor table of a GGUF file.
 * llamac info --system: CPU features and the kernels chosen. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char usage_text[] =
    "usage: llamac info [options] FILE.gguf\n"
    "       llamac info --system\n"
    "\n"
    "Prints the GGUF header, every metadata key with its type and value, and the\n"
    "tensor table (name, type, shape in ggml order, bytes, offset).\n"
    "\n"
    "  --system       print the CPU features found and the kernels chosen\n"
    "  --max-items N  array values show at most N items (default 8)\n"
    "  -h, --help     show this help\n";

static int print_system(void) {
    char buf[4096];
    llamac_system_info(buf, sizeof buf);
    fputs(buf, stdout);
    return CLI_OK;
}

static void format_shape(const llamac_tensor_info *t, char *buf, size_t size) {
    int n = snprintf(buf, size, "[");
    for (int d = 0; d < t->n_dims && n > 0 && (size_t)n < size; d++)
        n += snprintf(buf + n, size - (size_t)n, d ? ", %lld" : "%lld", (long long)t->ne[d]);
    if (n > 0 && (size_t)n < size) snprintf(buf + n, size - (size_t)n, "]");
}

static int print_file(const char *path, size_t max_items) {
    llamac_error err = {{0}};
    llamac_gguf *g = llamac_gguf_open(path, &err);
    if (!g) return cli_error("info", CLI_FAIL, "%s", err.msg);
    printf("file: %s\nGGUF version %u, alignment %u, tensor data at offset %llu\n", path,
           llamac_gguf_version(g), llamac_gguf_alignment(g), (unsigned long long)llamac_gguf_data_offset(g));
    int64_t n_kv = llamac_gguf_n_kv(g);
    printf("\nmetadata (%lld keys):\n", (long long)n_kv);
    size_t cap = 1 << 16;
    char *val = malloc(cap);
    if (!val) { llamac_gguf_free(g); return cli_error("info", CLI_FAIL, "out of memory"); }
    for (int64_t i = 0; i < n_kv; i++) {
        size_t need = llamac_gguf_kv_format(g, i, val, cap, max_items);
        printf("  %-44s %-14s %s%s\n", llamac_gguf_kv_key(g, i), llamac_gguf_kv_type(g, i), val,
               need >= cap ? "..." : "");
    }
    free(val);
    int64_t n_t = llamac_gguf_n_tensors(g);
    uint64_t total = 0;
    printf("\ntensors (%lld):\n  %-32s %-6s %-22s %14s %14s\n", (long long)n_t, "name", "type", "shape", "bytes",
           "offset");
    for (int64_t i = 0; i < n_t; i++) {
        llamac_tensor_info t;
        if (llamac_gguf_tensor(g, i, &t) < 0) continue;
        char shape[96];
        format_shape(&t, shape, sizeof shape);
        printf("  %-32s %-6s %-22s %14llu %14llu\n", t.name, t.type_name, shape, (unsigned long long)t.nbytes,
               (unsigned long long)t.offset);
        total += t.nbytes;
    }
    printf("\ntotal tensor data: %llu bytes (%.2f MiB)\n", (unsigned long long)total, (double)total / 1048576.0);
    llamac_gguf_free(g);
    return CLI_OK;
}

int cmd_info(int argc, char **argv) {
    const char *path = NULL;
    int64_t max_items = 8;
    bool system = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(usage_text, stdout);
            return CLI_OK;
        } else if (!strcmp(a, "--system")) {
            system = true;
        } else if (!strcmp(a, "--max-items")) {
            const char *v = cli_value("info", argc, argv, &i);
            if (!v || !cli_parse_i64("info", a, v, 0, 1 << 20, &max_items)) return CLI_USAGE;
        } else if (a[0] == '-' && a[1]) {
            return cli_error("info", CLI_USAGE, "unknown option '%s' (see llamac info --help)", a);
        } else if (!path) {
            path = a;
        } else {
            return cli_error("info", CLI_USAGE, "more than one file given");
        }
    }
    if (system) return print_system();
    if (!path) return cli_error("info", CLI_USAGE, "no file given (see llamac info --help)");
    return print_file(path, (size_t)max_items);
}
