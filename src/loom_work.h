/*
 * loom_work.h - the worker pool: blocking work (an fsync before SMTP's
 * 250, a DNS journal append, password hashing, opening a large file) runs
 * on a small pool of threads, never on the reactor.
 *
 * A job is a pair of functions and one argument:
 *
 *   work(arg)         runs on a pool thread, at most once;
 *   done(arg, status) runs on the reactor thread, exactly once, after work
 *                     has returned (LOOM_WORK_COMPLETED) or when the job was
 *                     cancelled before it started (LOOM_WORK_CANCELLED).
 *
 * Rules for work (it runs concurrently with the reactor and other jobs):
 *   - it touches only ARG and what ARG owns (buffers, a file descriptor
 *     handed to it); whatever ARG points to must not be read or written by
 *     anybody else until done runs;
 *   - no loom_* call except the allocation helpers (loom_malloc,
 *     loom_calloc, loom_realloc, loom_strdup, loom_strndup; and free);
 *   - no connection, instance, server or module conf: a close, a reload or
 *     another job may change or free them while work runs (a reload may
 *     replace the instance's conf: copy what work needs into ARG);
 *   - it may block (that is what it is for) but should finish: stopping an
 *     instance waits for its running jobs.
 * done is where results meet the rest of the daemon: it may write to a
 * connection it holds (loom_conn_hold at submit, loom_conn_release in
 * done), submit more work, free ARG.
 *
 * Stopping: when an instance stops (removed by a reload once its last
 * connection has closed, or the daemon exits) its queued jobs are
 * cancelled, its running jobs are waited for, and every done (cancelled or
 * completed) runs before the module's stop callback; none runs after,
 * except for a job stop itself submits: it is cancelled at once and its
 * done runs right after stop returns (before the instance is freed).
 * A reload that keeps the instance keeps its jobs running.
 *
 * All functions below are called from the reactor thread only.
 */
#ifndef LOOM_WORK_H
#define LOOM_WORK_H

#include <stdint.h>

#include "loom.h"

typedef struct loom_work_s loom_work_t;

/* `workers` in loom.conf: pool threads per server. */
#define LOOM_WORK_DEFAULT_THREADS 2
#define LOOM_WORK_MAX_THREADS 64

/* The STATUS done receives. */
#define LOOM_WORK_COMPLETED 0 /* work(arg) ran and returned */
#define LOOM_WORK_CANCELLED 1 /* work(arg) never ran */

typedef void (*loom_work_fn)(void *arg);
typedef void (*loom_work_done_fn)(void *arg, int status);

/* Run WORK(ARG) on a pool thread for instance INST, then DONE(ARG, status)
 * on the reactor (DONE may be NULL).  Jobs start in submission order.
 * Never fails.  The handle is valid until DONE returns; the core frees it
 * then.  ARG stays the caller's. */
loom_work_t *loom_work_submit(loom_instance_t *inst, loom_work_fn work,
                              loom_work_done_fn done, void *arg);

/* Cancel W.  A job not yet started never runs: returns LOOM_OK and its
 * done runs later from the reactor with LOOM_WORK_CANCELLED (never inside
 * this call).  A job already running or finished is left to complete:
 * returns LOOM_DECLINED.  W must not have had its done yet. */
int loom_work_cancel(loom_work_t *w);

/* Pool counters for status pages. */
typedef struct {
    uint64_t submitted;  /* jobs since the server started */
    uint64_t completed;  /* dones delivered with LOOM_WORK_COMPLETED */
    uint64_t cancelled;  /* dones delivered with LOOM_WORK_CANCELLED */
    unsigned queued;     /* waiting for a thread now */
    unsigned running;    /* on a thread now */
    unsigned threads;    /* pool threads alive now */
    unsigned workers;    /* configured size (`workers`) */
    uint64_t started;    /* jobs a thread has taken */
    double wait_seconds; /* time those jobs waited in the queue, in all */
} loom_work_stats_t;

/* Fill *OUT with SRV's pool counters. */
void loom_work_stats(loom_server_t *srv, loom_work_stats_t *out);

#endif
