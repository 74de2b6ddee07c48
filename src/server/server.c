/* Server life cycle: listen first (so /health answers 503 while the model
 * loads), load the model and the multi-sequence context, start the
 * scheduler, then wait for SIGINT/SIGTERM; on either, stop accepting,
 * end what runs or waits, and free everything. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "server/internal.h"

void srv_config_defaults(srv_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->host = "127.0.0.1";
    cfg->port = 8080;
    cfg->n_parallel = 4;
    cfg->max_queue = 64;
    cfg->timeout_s = 600;
    cfg->max_body_bytes = (size_t)1 << 20;
    cfg->ctx = llamac_context_default_params();
    cfg->sampling = llamac_sampler_default_params();
}

/* The model's name in responses: --alias, else the file name without
 * directory and .gguf. */
static void set_alias(srv *s) {
    if (s->cfg.alias) {
        snprintf(s->alias, sizeof s->alias, "%s", s->cfg.alias);
        return;
    }
    const char *base = strrchr(s->cfg.model_path, '/');
    base = base ? base + 1 : s->cfg.model_path;
    snprintf(s->alias, sizeof s->alias, "%s", base);
    size_t n = strlen(s->alias);
    if (n > 5 && !strcmp(s->alias + n - 5, ".gguf")) s->alias[n - 5] = 0;
}

static bool known_template(const char *name) {
    size_t n;
    const char *const *names = llamac_chat_template_names(&n);
    for (size_t i = 0; i < n; i++)
        if (!strcmp(names[i], name)) return true;
    return false;
}

static bool load(srv *s, llamac_error *err) {
    llamac_model_params mp = llamac_model_default_params();
    mp.use_mmap = s->cfg.mmap;
    mp.no_repack = s->cfg.no_repack;
    mp.isa = s->cfg.isa;
    s->model = llamac_model_load(s->cfg.model_path, &mp, err);
    if (!s->model) return false;
    if (s->cfg.chat_template && !known_template(s->cfg.chat_template)) {
        snprintf(err->msg, sizeof err->msg, "--chat-template '%s' is not a template llamac knows "
                 "(llama3, llama3.1, llama2)", s->cfg.chat_template);
        return false;
    }
    s->chat_template = s->cfg.chat_template ? s->cfg.chat_template : llamac_chat_template_detect(s->model);
    llamac_model_desc desc;
    llamac_model_describe(s->model, &desc);
    uint32_t per_slot = s->cfg.ctx.n_ctx;
    if (per_slot == 0) per_slot = desc.n_ctx_train > 0 && desc.n_ctx_train < 4096 ? (uint32_t)desc.n_ctx_train : 4096;
    if (desc.n_ctx_train > 0 && per_slot > (uint32_t)desc.n_ctx_train) per_slot = (uint32_t)desc.n_ctx_train;
    /* every slot can fill its whole context: the cache has room for all */
    llamac_context_params cp = s->cfg.ctx;
    cp.n_ctx = per_slot * (uint32_t)s->cfg.n_parallel;
    cp.n_seq_max = s->cfg.n_parallel;
    s->ctx = llamac_context_create(s->model, &cp, err);
    if (!s->ctx) return false;
    s->n_ctx_slot = (int32_t)per_slot;
    s->n_vocab = llamac_n_vocab(s->model);
    s->n_batch = cp.n_batch > 0 ? cp.n_batch : 512;
    set_alias(s);
    return srv_scheduler_init(s, err);
}

static void destroy(srv *s) {
    srv_http_stop(s);
    srv_scheduler_free(s);
    llamac_context_free(s->ctx);
    llamac_model_free(s->model);
    pthread_cond_destroy(&s->work);
    pthread_cond_destroy(&s->drained);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

/* After the scheduler ended every task, lets the connections send their
 * last bytes (a stream's error event) before the daemon closes them;
 * bounded, so a client that stopped reading cannot hold the exit. */
static void wait_drained(srv *s) {
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 5;
    pthread_mutex_lock(&s->lock);
    while (s->n_tasks > 0)
        if (pthread_cond_timedwait(&s->drained, &s->lock, &deadline) != 0) break;
    pthread_mutex_unlock(&s->lock);
}

int srv_run(const srv_config *cfg) {
    srv *s = calloc(1, sizeof *s);
    if (!s) {
        fprintf(stderr, "llamac serve: out of memory\n");
        return 1;
    }
    s->cfg = *cfg;
    s->started = (int64_t)time(NULL);
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->work, NULL);
    pthread_cond_init(&s->drained, NULL);

    /* the signals are taken by sigwait below; every thread started from
     * here on inherits the mask */
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    signal(SIGPIPE, SIG_IGN);

    llamac_error err = {{0}};
    if (!srv_http_start(s, &err)) {
        fprintf(stderr, "llamac serve: %s\n", err.msg);
        destroy(s);
        return 1;
    }
    fprintf(stderr, "llamac serve: listening on http://%s:%d\n", s->cfg.host, s->port);
    int64_t t0 = llamac_time_us();
    if (s->cfg.load_delay_ms > 0) usleep((useconds_t)s->cfg.load_delay_ms * 1000u);
    if (!load(s, &err) || pthread_create(&s->scheduler, NULL, srv_scheduler_main, s) != 0) {
        fprintf(stderr, "llamac serve: %s\n", err.msg[0] ? err.msg : "cannot start the scheduler thread");
        destroy(s);
        return 1;
    }
    s->scheduler_started = true;
    atomic_store(&s->ready, true);
    fprintf(stderr, "llamac serve: %s ready in %.0f ms: %d slots of %d tokens, %s kernels, chat template %s\n",
            s->alias, (double)(llamac_time_us() - t0) / 1e3, s->n_slots, s->n_ctx_slot,
            llamac_context_kernels(s->ctx), s->chat_template ? s->chat_template : "none");

    int sig = 0;
    sigwait(&stop_signals, &sig);
    fprintf(stderr, "llamac serve: %s: stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    srv_http_quiesce(s);
    pthread_mutex_lock(&s->lock);
    s->stopping = true;
    pthread_cond_signal(&s->work);
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->scheduler, NULL);
    wait_drained(s);
    destroy(s);
    return 0;
}
