/* llamac: one command, git-style subcommands. Each subcommand lives in its
 * own file and is written against the public API (include/llamac.h). */
#include <stdio.h>
#include <string.h>

#include "cli.h"

typedef struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    {"run", cmd_run, "generate text from a prompt"},
    {"chat", cmd_chat, "talk with an instruct model (multi-turn, keeps the KV cache)"},
    {"convert", cmd_convert, "convert a Hugging Face folder or llama2.c checkpoint to GGUF"},
    {"quantize", cmd_quantize, "requantize an F32/F16/BF16 GGUF file"},
    {"info", cmd_info, "show a GGUF file's metadata and tensors, or the system (--system)"},
    {"tokenize", cmd_tokenize, "show the tokens a text becomes"},
    {"bench", cmd_bench, "measure prompt and generation speed (llama-bench method)"},
    {"perplexity", cmd_perplexity, "perplexity of a text and KL divergence between models"},
    {"serve", cmd_serve, "OpenAI-compatible HTTP server with continuous batching"},
#ifdef LLAMAC_HAVE_TESTGEN
    {"testgen", cmd_testgen, "write unit tests for a C or Python file with a local model"},
#endif
};

static void usage(FILE *out) {
    fprintf(out, "usage: llamac <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n'llamac <command> --help' shows a command's options. 'llamac --version' the version.\n");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return CLI_USAGE;
    }
    const char *name = argv[1];
    if (!strcmp(name, "--help") || !strcmp(name, "-h") || !strcmp(name, "help")) {
        usage(stdout);
        return CLI_OK;
    }
    if (!strcmp(name, "--version") || !strcmp(name, "version")) {
        printf("llamac %s\n", LLAMAC_VERSION);
        return CLI_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(name, commands[i].name)) return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "llamac: '%s' is not a command. See 'llamac --help'.\n", name);
    return CLI_USAGE;
}
