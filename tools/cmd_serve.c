/* llamac serve: the OpenAI-compatible HTTP server (src/server/). This file
 * only turns the command line into a srv_config. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "server/server.h"

static const char usage_text[] =
    "usage: llamac serve -m FILE [options]\n"
    "\n"
    "Serves the model over HTTP with the OpenAI API: POST /v1/chat/completions,\n"
    "POST /v1/completions, GET /v1/models, plus GET /health, POST /tokenize,\n"
    "POST /detokenize, GET /slots and (with --metrics) GET /metrics. Requests run\n"
    "in --parallel slots decoded together in one batch per step; more wait in a\n"
    "queue of --max-queue places; beyond that the answer is 503 with Retry-After.\n"
    "SIGINT or SIGTERM stops the server (exit status 0).\n"
    "\n"
    "  -m, --model FILE        GGUF model file (required)\n"
    "      --host ADDR         address to listen on (default 127.0.0.1)\n"
    "      --port N            TCP port; 0 = any free one (default 8080)\n"
    "      --parallel N        slots: requests generated together (default 4, at most 64)\n"
    "      --max-queue N       requests that may wait for a slot (default 64)\n"
    "      --timeout S         close connections idle for S seconds (default 600)\n"
    "      --api-key KEY       require 'Authorization: Bearer KEY' (all routes but /health)\n"
    "      --api-key-file F    the same, with the key read from the first line of F\n"
    "      --alias NAME        model name in responses (default: the file name)\n"
    "      --chat-template NAME  llama3, llama3.1 or llama2 (default: recognized from\n"
    "                          the model's metadata)\n"
    "      --metrics           serve Prometheus metrics at GET /metrics\n"
    "      --cors-origin O     send CORS headers to browsers from origin O ('*': any);\n"
    "                          may be repeated\n"
    "      --max-body BYTES    largest request body; larger is a 413 (default 1048576)\n"
    "      --mmap              map the model file instead of reading it\n"
    "      --no-repack         keep the file's weight layout\n"
    "      --debug-step-delay MS  sleep MS ms after each decode step (for tests)\n"
    "      --debug-load-delay MS  wait MS ms before loading the model (for tests)\n"
    "\n"
    "Engine options (the sampling ones are the defaults for fields a request\n"
    "leaves out; without --seed each request gets a random seed). --ctx is the\n"
    "context of one slot: the KV cache holds --ctx x --parallel tokens.\n"
    CLI_ENGINE_OPTIONS_HELP
    "  -h, --help              show this help\n";

/* The key from the first line of a file, trailing whitespace removed. */
static char *read_key_file(const char *path) {
    size_t len;
    char *text = cli_read_file("serve", path, &len);
    if (!text) return NULL;
    char *nl = strpbrk(text, "\r\n");
    if (nl) *nl = 0;
    len = strlen(text);
    while (len > 0 && (text[len - 1] == ' ' || text[len - 1] == '\t')) text[--len] = 0;
    if (len == 0) {
        free(text);
        cli_error("serve", CLI_USAGE, "%s: the API key file's first line is empty", path);
        return NULL;
    }
    return text;
}

/* Returns CLI_OK, an exit code, or -1 after --help. */
static int parse_args(int argc, char **argv, srv_config *cfg, char **key_owned) {
    const char *key_file = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        int64_t iv;
#define VALUE() do { if (!(v = cli_value("serve", argc, argv, &i))) return CLI_USAGE; } while (0)
#define INT(lo, hi) do { VALUE(); if (!cli_parse_i64("serve", a, v, lo, hi, &iv)) return CLI_USAGE; } while (0)
        if (!strcmp(a, "--seed")) cfg->seed_given = true;
        int engine = cli_engine_option("serve", argc, argv, &i, &cfg->sampling, &cfg->ctx, &cfg->isa);
        if (engine < 0) return CLI_USAGE;
        if (engine > 0) continue;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { fputs(usage_text, stdout); return -1; }
        else if (!strcmp(a, "-m") || !strcmp(a, "--model")) { VALUE(); cfg->model_path = v; }
        else if (!strcmp(a, "--host")) { VALUE(); cfg->host = v; }
        else if (!strcmp(a, "--port")) { INT(0, 65535); cfg->port = (int)iv; }
        else if (!strcmp(a, "--parallel")) { INT(1, LLAMAC_SEQ_MAX); cfg->n_parallel = (int)iv; }
        else if (!strcmp(a, "--max-queue")) { INT(0, 1 << 16); cfg->max_queue = (int)iv; }
        else if (!strcmp(a, "--timeout")) { INT(1, 1 << 24); cfg->timeout_s = (int)iv; }
        else if (!strcmp(a, "--api-key")) { VALUE(); cfg->api_key = v; }
        else if (!strcmp(a, "--api-key-file")) { VALUE(); key_file = v; }
        else if (!strcmp(a, "--alias")) { VALUE(); cfg->alias = v; }
        else if (!strcmp(a, "--chat-template")) { VALUE(); cfg->chat_template = v; }
        else if (!strcmp(a, "--metrics")) cfg->metrics = true;
        else if (!strcmp(a, "--cors-origin")) {
            VALUE();
            if (cfg->n_cors_origins == SRV_MAX_CORS_ORIGINS)
                return cli_error("serve", CLI_USAGE, "at most %d --cors-origin options", SRV_MAX_CORS_ORIGINS);
            cfg->cors_origins[cfg->n_cors_origins++] = v;
        }
        else if (!strcmp(a, "--max-body")) { INT(1024, (int64_t)1 << 30); cfg->max_body_bytes = (size_t)iv; }
        else if (!strcmp(a, "--mmap")) cfg->mmap = true;
        else if (!strcmp(a, "--no-repack")) cfg->no_repack = true;
        else if (!strcmp(a, "--debug-step-delay")) { INT(0, 10000); cfg->step_delay_ms = (int)iv; }
        else if (!strcmp(a, "--debug-load-delay")) { INT(0, 60000); cfg->load_delay_ms = (int)iv; }
        else return cli_error("serve", CLI_USAGE, "unknown option '%s' (see llamac serve --help)", a);
#undef VALUE
#undef INT
    }
    if (!cfg->model_path) return cli_error("serve", CLI_USAGE, "no model given: use -m FILE (see llamac serve --help)");
    if (cfg->api_key && key_file) return cli_error("serve", CLI_USAGE, "give either --api-key or --api-key-file, not both");
    if (key_file) {
        if (!(*key_owned = read_key_file(key_file))) return CLI_USAGE;
        cfg->api_key = *key_owned;
    }
    if (cfg->api_key && !cfg->api_key[0]) return cli_error("serve", CLI_USAGE, "--api-key is empty");
    return CLI_OK;
}

int cmd_serve(int argc, char **argv) {
    srv_config cfg;
    srv_config_defaults(&cfg);
    char *key = NULL;
    int rc = parse_args(argc, argv, &cfg, &key);
    if (rc) {
        free(key);
        return rc < 0 ? CLI_OK : rc;
    }
    rc = srv_run(&cfg) == 0 ? CLI_OK : CLI_FAIL;
    free(key);
    return rc;
}
