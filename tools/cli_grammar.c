/* --grammar / --grammar-file / --json-schema for run and chat. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_grammar.h"

int cli_grammar_option(const char *cmd, int argc, char **argv, int *i, cli_grammar_opts *o) {
    const char *a = argv[*i];
    const char **slot = !strcmp(a, "--grammar") ? &o->text
                      : !strcmp(a, "--grammar-file") ? &o->file
                      : !strcmp(a, "--json-schema") ? &o->schema_file : NULL;
    if (!slot) return 0;
    const char *v = cli_value(cmd, argc, argv, i);
    if (!v) return -1;
    *slot = v;
    if (!!o->text + !!o->file + !!o->schema_file > 1) {
        cli_error(cmd, CLI_USAGE, "give one of --grammar, --grammar-file and --json-schema");
        return -1;
    }
    return 1;
}

int cli_grammar_load(const char *cmd, const llamac_model *model, const cli_grammar_opts *o, llamac_grammar **out) {
    *out = NULL;
    const char *path = o->file ? o->file : o->schema_file;
    if (!o->text && !path) return CLI_OK;
    char *text = NULL;
    if (path) {
        size_t len;
        text = cli_read_file(cmd, path, &len);
        if (!text) return CLI_FAIL;
        if (memchr(text, 0, len)) {
            free(text);
            return cli_error(cmd, CLI_USAGE, "%s: NUL byte in the file", path);
        }
    }
    llamac_error err = {{0}};
    *out = o->schema_file ? llamac_grammar_from_json_schema(model, text, &err)
                          : llamac_grammar_create(model, o->text ? o->text : text, NULL, &err);
    free(text);
    if (!*out) return cli_error(cmd, CLI_USAGE, "%s: %s", path ? path : "--grammar", err.msg);
    return CLI_OK;
}
