/* `llamac serve`: an OpenAI-compatible HTTP server over the llamac engine.
 *
 * This is the whole interface the command-line tool sees: fill a
 * srv_config and call srv_run, which returns when SIGINT or SIGTERM asks
 * it to stop. The server is its own library (llamac_server) so that the
 * engine core does not depend on libmicrohttpd or cJSON. */
#ifndef LLAMAC_SERVER_H
#define LLAMAC_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "llamac.h"

#define SRV_MAX_CORS_ORIGINS 16

typedef struct srv_config {
    const char *model_path;
    const char *host;            /* address to bind; "127.0.0.1" by default */
    int port;                    /* 0: any free port (printed at start) */
    int n_parallel;              /* slots: sequences decoded together */
    int max_queue;               /* requests that may wait for a slot */
    int timeout_s;               /* idle connection timeout */
    const char *api_key;         /* NULL: no authentication */
    const char *alias;           /* model name in responses; NULL: the file's name */
    const char *chat_template;   /* NULL: recognized from the model */
    bool metrics;                /* serve GET /metrics */
    const char *cors_origins[SRV_MAX_CORS_ORIGINS];
    size_t n_cors_origins;
    size_t max_body_bytes;       /* larger request bodies are a 413 */
    int step_delay_ms;           /* testing: sleep after each decode step */
    int load_delay_ms;           /* testing: sleep before loading the model (503 meanwhile) */
    const char *isa;             /* kernel table, as for run */
    bool mmap, no_repack;
    llamac_context_params ctx;   /* n_ctx is the context of one slot */
    llamac_sampler_params sampling; /* defaults for fields a request leaves out */
    bool seed_given;             /* --seed: requests without a seed use it */
} srv_config;

void srv_config_defaults(srv_config *cfg);
/* Runs until SIGINT/SIGTERM. Returns 0 after a clean stop, 1 when the
 * server could not start (message printed to stderr). */
int srv_run(const srv_config *cfg);

#endif
