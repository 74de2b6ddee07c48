/* llamac tokenize: show how a model's tokenizer splits a text, for users
 * debugging prompts. Works on vocab-only GGUF files too. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char usage_text[] =
    "usage: llamac tokenize -m FILE [--special] [--no-bos] [--ids] (-f TEXTFILE | [--] TEXT)\n"
    "\n"
    "Prints one line per token: its id and the text it stands for.\n"
    "\n"
    "  -m, --model FILE  GGUF model or vocab-only GGUF file (required)\n"
    "  -f, --file FILE   tokenize the exact bytes of FILE\n"
    "      --special     recognize special-token text such as <|eot_id|> in the input\n"
    "      --no-bos      do not add BOS/EOS even where the model's metadata asks for it\n"
    "      --ids         print only a JSON array of the ids\n"
    "  -h, --help        show this help\n";

/* Prints a token's text with control characters escaped. */
static void print_piece(const char *s, size_t n) {
    putchar('\'');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n') fputs("\\n", stdout);
        else if (c == '\t') fputs("\\t", stdout);
        else if (c == '\'') fputs("\\'", stdout);
        else if (c < 0x20 || c == 0x7f) printf("\\x%02x", c);
        else putchar(c);
    }
    putchar('\'');
}

static int print_tokens(const llamac_model *m, const llamac_token *ids, int64_t n, bool ids_only) {
    if (ids_only) {
        putchar('[');
        for (int64_t i = 0; i < n; i++) printf(i ? ", %d" : "%d", ids[i]);
        puts("]");
        return CLI_OK;
    }
    char piece[256];
    for (int64_t i = 0; i < n; i++) {
        size_t len = llamac_token_to_piece(m, ids[i], true, piece, sizeof piece);
        printf("%8d -> ", ids[i]);
        print_piece(piece, len < sizeof piece ? len : sizeof piece);
        printf("  (%s)\n", llamac_token_text(m, ids[i]));
    }
    return CLI_OK;
}

int cmd_tokenize(int argc, char **argv) {
    const char *model_path = NULL, *file = NULL, *text = NULL;
    bool special = false, no_bos = false, ids_only = false, rest_is_text = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!rest_is_text && (!strcmp(a, "-h") || !strcmp(a, "--help"))) { fputs(usage_text, stdout); return CLI_OK; }
        else if (!rest_is_text && (!strcmp(a, "-m") || !strcmp(a, "--model"))) {
            if (!(model_path = cli_value("tokenize", argc, argv, &i))) return CLI_USAGE;
        } else if (!rest_is_text && (!strcmp(a, "-f") || !strcmp(a, "--file"))) {
            if (!(file = cli_value("tokenize", argc, argv, &i))) return CLI_USAGE;
        } else if (!rest_is_text && !strcmp(a, "--special")) special = true;
        else if (!rest_is_text && !strcmp(a, "--no-bos")) no_bos = true;
        else if (!rest_is_text && !strcmp(a, "--ids")) ids_only = true;
        else if (!rest_is_text && !strcmp(a, "--")) rest_is_text = true;
        else if (!rest_is_text && a[0] == '-' && a[1])
            return cli_error("tokenize", CLI_USAGE, "unknown option '%s' (see llamac tokenize --help)", a);
        else if (!text) text = a;
        else return cli_error("tokenize", CLI_USAGE, "give the text as one argument (quote it)");
    }
    if (!model_path) return cli_error("tokenize", CLI_USAGE, "no model given: use -m FILE");
    if (!!file == !!text) return cli_error("tokenize", CLI_USAGE, "give either -f FILE or a TEXT argument");

    size_t len = 0;
    char *buf = NULL;
    if (file) {
        if (!(buf = cli_read_file("tokenize", file, &len))) return CLI_FAIL;
    } else {
        len = strlen(text);
    }
    llamac_error err = {{0}};
    llamac_model_params mp = llamac_model_default_params();
    mp.vocab_only = true;
    llamac_model *m = llamac_model_load(model_path, &mp, &err);
    if (!m) { free(buf); return cli_error("tokenize", CLI_FAIL, "%s", err.msg); }
    const char *input = file ? buf : text;
    int flags = (no_bos ? 0 : LLAMAC_TOKENIZE_ADD_SPECIAL) | (special ? LLAMAC_TOKENIZE_PARSE_SPECIAL : 0);
    int rc = CLI_FAIL;
    int64_t n = llamac_tokenize(m, input, len, NULL, 0, flags, &err);
    llamac_token *ids = n >= 0 ? malloc(sizeof *ids * (size_t)(n + 1)) : NULL;
    if (n < 0) rc = cli_error("tokenize", CLI_FAIL, "%s", err.msg);
    else if (!ids) rc = cli_error("tokenize", CLI_FAIL, "out of memory");
    else {
        llamac_tokenize(m, input, len, ids, n, flags, &err);
        rc = print_tokens(m, ids, n, ids_only);
    }
    free(ids);
    free(buf);
    llamac_model_free(m);
    return rc;
}
