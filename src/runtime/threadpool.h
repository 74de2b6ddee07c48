/* A persistent thread pool for many short parallel jobs (hundreds of
 * matmuls per decoded token): workers are created once, wait for a job by
 * spinning briefly on an atomic generation counter and then sleep on a
 * condition variable; dispatching a job allocates nothing and creates no
 * thread. The calling thread runs share 0 of every job itself.
 *
 * One caller at a time: lc_threadpool_run must not be called concurrently
 * on the same pool, nor from inside a job. */
#ifndef LC_THREADPOOL_H
#define LC_THREADPOOL_H

#include "llamac.h"

typedef struct lc_threadpool lc_threadpool;

/* A job: called once on every thread, ith in [0, nth). */
typedef void (*lc_job_fn)(void *arg, int ith, int nth);

/* n_threads counts the caller: 1 creates no worker. */
lc_threadpool *lc_threadpool_create(int n_threads, llamac_error *err);
void lc_threadpool_free(lc_threadpool *p);
int lc_threadpool_size(const lc_threadpool *p);

/* Runs fn on all threads and returns when every one has finished. */
void lc_threadpool_run(lc_threadpool *p, lc_job_fn fn, void *arg);

#endif
