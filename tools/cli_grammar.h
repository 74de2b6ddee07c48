/* The grammar options of run and chat: --grammar TEXT, --grammar-file F,
 * --json-schema F (one of them). */
#ifndef LLAMAC_CLI_GRAMMAR_H
#define LLAMAC_CLI_GRAMMAR_H

#include "llamac.h"

typedef struct cli_grammar_opts {
    const char *text, *file, *schema_file;
} cli_grammar_opts;

/* 1 when argv[*i] was a grammar option (value consumed), 0 when not, -1
 * after a usage error. */
int cli_grammar_option(const char *cmd, int argc, char **argv, int *i, cli_grammar_opts *o);
/* Makes the grammar the options ask for (NULL in *out when none), for
 * `model`. Returns CLI_OK, or the exit code after printing the error
 * (naming the file): CLI_FAIL when the file cannot be read, CLI_USAGE when
 * the grammar or schema is refused. */
int cli_grammar_load(const char *cmd, const llamac_model *model, const cli_grammar_opts *o, llamac_grammar **out);

#define CLI_GRAMMAR_OPTIONS_HELP                                                             \
    "      --grammar TEXT      constrain the output to a GBNF grammar (start rule: root)\n"  \
    "      --grammar-file F    ...read from a file (see grammars/)\n"                         \
    "      --json-schema F     ...or to JSON that a JSON Schema file describes\n"
#endif
