/* Persistent workers driven by a generation counter.
 *
 * Dispatch: the caller stores the job, sets `pending` to the worker count and
 * increments `generation`; each worker notices the new generation, runs its
 * share, decrements `pending`. The caller runs share 0 and then spins until
 * `pending` is 0.
 *
 * Waiting: a worker spins on `generation` for a while (decode issues jobs
 * microseconds apart, and a sleeping thread takes tens of microseconds to
 * wake), then sleeps on a condition variable. It announces itself in
 * `sleepers` before its last check of `generation`; the caller reads
 * `sleepers` after incrementing `generation`. Both are sequentially
 * consistent, so either the worker sees the new generation or the caller
 * sees the sleeper and broadcasts under the mutex: no wake-up is lost, and
 * the caller pays for the mutex only when someone actually sleeps. */
#include "runtime/threadpool.h"

#include <pthread.h>
#include <sched.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runtime/err.h"

/* How long an idle worker spins before it sleeps. */
#define LC_SPIN_US 300

typedef struct lc_worker {
    lc_threadpool *pool;
    int index;
    pthread_t thread;
} lc_worker;

struct lc_threadpool {
    /* Written by the caller per job, read by workers: one cache line. */
    alignas(64) atomic_uint generation;
    lc_job_fn fn;
    void *arg;
    atomic_bool stop;
    /* Written by workers as they finish: its own line, so the finishing
     * stores do not disturb workers still polling `generation`. */
    alignas(64) atomic_int pending;
    alignas(64) atomic_int sleepers;
    pthread_mutex_t mutex;
    pthread_cond_t wake;
    int n_threads;
    int n_started;   /* workers actually created */
    lc_worker *workers;
};

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ volatile("yield");
#endif
}

static int64_t now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Spin-wait bookkeeping: pure spinning for the first LC_YIELD_AFTER_US,
 * then a sched_yield every 256 spins. Yielding at once would hand the core
 * to any other process on a busy machine for a whole time slice; never
 * yielding lets a spinning thread starve the one it waits for when threads
 * outnumber free cores. Returns false once LC_SPIN_US have passed. */
#define LC_YIELD_AFTER_US 20

typedef struct spin_state {
    unsigned spins;
    int64_t start;
} spin_state;

static bool keep_spinning(spin_state *s, int64_t limit_us) {
    cpu_relax();
    if ((++s->spins & 255) != 0) return true;
    int64_t t = now_us();
    if (!s->start) s->start = t;
    if (t - s->start >= LC_YIELD_AFTER_US) sched_yield();
    return limit_us <= 0 || t - s->start < limit_us;
}

/* Returns the first generation different from `seen`. */
static unsigned wait_for_job(lc_threadpool *p, unsigned seen) {
    spin_state s = {0, 0};
    do {
        unsigned g = atomic_load_explicit(&p->generation, memory_order_acquire);
        if (g != seen) return g;
    } while (keep_spinning(&s, LC_SPIN_US));
    pthread_mutex_lock(&p->mutex);
    atomic_fetch_add(&p->sleepers, 1);
    unsigned g;
    while ((g = atomic_load(&p->generation)) == seen) pthread_cond_wait(&p->wake, &p->mutex);
    atomic_fetch_sub(&p->sleepers, 1);
    pthread_mutex_unlock(&p->mutex);
    return g;
}

static void *worker_main(void *arg) {
    lc_worker *w = arg;
    lc_threadpool *p = w->pool;
    unsigned seen = 0;
    for (;;) {
        seen = wait_for_job(p, seen);
        if (atomic_load_explicit(&p->stop, memory_order_acquire)) break;
        p->fn(p->arg, w->index, p->n_threads);
        atomic_fetch_sub_explicit(&p->pending, 1, memory_order_release);
    }
    return NULL;
}

/* Publishes the next generation and wakes sleeping workers. */
static void bump_generation(lc_threadpool *p) {
    atomic_fetch_add(&p->generation, 1);
    if (atomic_load(&p->sleepers) > 0) {
        pthread_mutex_lock(&p->mutex);
        pthread_cond_broadcast(&p->wake);
        pthread_mutex_unlock(&p->mutex);
    }
}

static void stop_workers(lc_threadpool *p) {
    atomic_store_explicit(&p->stop, true, memory_order_release);
    bump_generation(p);
    for (int i = 0; i < p->n_started; i++) pthread_join(p->workers[i].thread, NULL);
    p->n_started = 0;
}

lc_threadpool *lc_threadpool_create(int n_threads, llamac_error *err) {
    if (n_threads < 1) n_threads = 1;
    size_t size = (sizeof(lc_threadpool) + 63) / 64 * 64;
    lc_threadpool *p = aligned_alloc(64, size);
    if (!p) { lc_fail(err, "threadpool: out of memory"); return NULL; }
    memset(p, 0, size);
    atomic_init(&p->generation, 0);
    atomic_init(&p->stop, false);
    atomic_init(&p->pending, 0);
    atomic_init(&p->sleepers, 0);
    p->n_threads = n_threads;
    p->workers = calloc((size_t)n_threads, sizeof *p->workers);
    if (!p->workers) {
        free(p);
        lc_fail(err, "threadpool: out of memory for %d workers", n_threads);
        return NULL;
    }
    pthread_mutex_init(&p->mutex, NULL);
    pthread_cond_init(&p->wake, NULL);
    for (int i = 1; i < n_threads; i++) {
        lc_worker *w = &p->workers[p->n_started];
        w->pool = p;
        w->index = i;
        int rc = pthread_create(&w->thread, NULL, worker_main, w);
        if (rc != 0) {
            lc_fail(err, "threadpool: cannot create worker %d of %d (error %d)", i, n_threads - 1, rc);
            lc_threadpool_free(p);
            return NULL;
        }
        p->n_started++;
    }
    return p;
}

void lc_threadpool_free(lc_threadpool *p) {
    if (!p) return;
    stop_workers(p);
    pthread_mutex_destroy(&p->mutex);
    pthread_cond_destroy(&p->wake);
    free(p->workers);
    free(p);
}

int lc_threadpool_size(const lc_threadpool *p) { return p->n_threads; }

void lc_threadpool_run(lc_threadpool *p, lc_job_fn fn, void *arg) {
    if (p->n_threads == 1) { fn(arg, 0, 1); return; }
    p->fn = fn;
    p->arg = arg;
    atomic_store_explicit(&p->pending, p->n_threads - 1, memory_order_relaxed);
    bump_generation(p);
    fn(arg, 0, p->n_threads);
    /* Workers finish within microseconds of the caller unless the OS
     * preempted one; keep_spinning then yields the core to it. */
    spin_state s = {0, 0};
    while (atomic_load_explicit(&p->pending, memory_order_acquire) != 0) keep_spinning(&s, 0);
}
