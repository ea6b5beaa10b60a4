/*
 * worktest.c - a test-only loadable module that uses the worker pool from
 * a real loomd (tests/integration/test_workers.py).
 *
 * A line protocol (LF or CRLF):
 *   sleep MS  a job sleeps MS milliseconds (0..60000) on a pool thread;
 *             its done answers "done MS LABEL", LABEL being the
 *             instance's `label` option as it is when the done runs (a
 *             reload may have changed it meanwhile), or "cancelled"
 *   ping      "pong", at once: the reactor is free while jobs sleep
 *   stats     "submitted N completed N cancelled N queued N running N
 *             threads N workers N" (loom_work_stats)
 *   quit      close
 * Anything else: "error unknown command"; a bad MS: "error bad duration".
 *
 * Each job holds its connection (loom_conn_hold) until its done runs, and
 * a connection that closes cancels its jobs (those already sleeping
 * finish).  Every done and the stop callback log a line, so a test can
 * check that every done ran before stop:
 *   "job N completed|cancelled[, client gone]"
 *   "stop: N job(s) outstanding"
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "loom_module.h"

#define WT_MAX_LINE 256
#define WT_MAX_JOBS 64 /* per connection */

typedef struct {
    char *label;
} wt_conf_t;

typedef struct {
    unsigned outstanding; /* jobs whose done has not run */
    unsigned next_id;
} wt_inst_t;

typedef struct wt_job_s wt_job_t;

typedef struct {
    wt_job_t *jobs; /* jobs of this connection owed a done */
    unsigned n_jobs;
} wt_conn_t;

struct wt_job_s {
    unsigned ms; /* the only field the pool thread reads */
    unsigned id;
    loom_conn_t *c; /* held until done */
    loom_instance_t *inst;
    loom_work_t *w;
    wt_job_t *prev, *next;
};

/* ---- config ----------------------------------------------------------------
 */

static cfg_opt_t wt_opts[] = {CFG_STR("label", "-", CFGF_NONE), CFG_END()};

static int wt_configure(cfg_t *sec, void **conf)
{
    wt_conf_t *c = loom_calloc(1, sizeof(*c));

    c->label = loom_strdup(cfg_getstr(sec, "label"));
    *conf = c;
    return LOOM_OK;
}

static void wt_conf_free(void *conf)
{
    wt_conf_t *c = conf;

    free(c->label);
    free(c);
}

/* ---- lifecycle
 * --------------------------------------------------------------- */

static void wt_start(loom_instance_t *inst)
{
    loom_instance_set_data(inst, loom_calloc(1, sizeof(wt_inst_t)));
}

static void wt_stop(loom_instance_t *inst)
{
    wt_inst_t *wi = loom_instance_data(inst);

    loom_log(LOOM_LOG_INFO, loom_instance_who(inst),
             "stop: %u job(s) outstanding", wi->outstanding);
    free(wi);
    loom_instance_set_data(inst, NULL);
}

/* ---- jobs ------------------------------------------------------------------
 */

/* On a pool thread: touches only J->ms. */
static void wt_sleep(void *arg)
{
    const wt_job_t *j = arg;
    struct timespec ts = {(time_t)(j->ms / 1000),
                          (long)(j->ms % 1000) * 1000 * 1000};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* On the reactor: the connection is still ours (held), though it may have
 * closed meanwhile; then the write fails and nobody is told. */
static void wt_done(void *arg, int status)
{
    wt_job_t *j = arg;
    wt_conn_t *wc = loom_conn_data(j->c);
    wt_inst_t *wi = loom_instance_data(j->inst);
    const wt_conf_t *conf = loom_instance_conf(j->inst);
    int r;

    if (j->prev)
        j->prev->next = j->next;
    else
        wc->jobs = j->next;
    if (j->next)
        j->next->prev = j->prev;
    wc->n_jobs--;
    if (status == LOOM_WORK_COMPLETED)
        r = loom_conn_printf(j->c, "done %u %s\r\n", j->ms, conf->label);
    else
        r = loom_conn_printf(j->c, "cancelled\r\n");
    loom_log(LOOM_LOG_INFO, loom_instance_who(j->inst), "job %u %s%s", j->id,
             status == LOOM_WORK_COMPLETED ? "completed" : "cancelled",
             r == LOOM_ERROR ? ", client gone" : "");
    wi->outstanding--;
    loom_conn_release(j->c);
    free(j);
}

/* ---- commands -------------------------------------------------------------
 */

static void wt_cmd_sleep(loom_conn_t *c, const char *arg)
{
    loom_instance_t *inst = loom_conn_instance(c);
    wt_inst_t *wi = loom_instance_data(inst);
    wt_conn_t *wc = loom_conn_data(c);
    wt_job_t *j;
    char *end;
    unsigned long ms;

    errno = 0;
    ms = strtoul(arg, &end, 10);
    if (*arg < '0' || *arg > '9' || *end != '\0' || errno || ms > 60000) {
        loom_conn_printf(c, "error bad duration\r\n");
        return;
    }
    if (wc->n_jobs >= WT_MAX_JOBS) {
        loom_conn_printf(c, "error busy\r\n");
        return;
    }
    j = loom_calloc(1, sizeof(*j));
    j->ms = (unsigned)ms;
    j->id = ++wi->next_id;
    j->c = c;
    j->inst = inst;
    j->next = wc->jobs;
    if (wc->jobs)
        wc->jobs->prev = j;
    wc->jobs = j;
    wc->n_jobs++;
    wi->outstanding++;
    loom_conn_hold(c);
    j->w = loom_work_submit(inst, wt_sleep, wt_done, j);
}

static void wt_cmd_ping(loom_conn_t *c, const char *arg)
{
    (void)arg;
    loom_conn_printf(c, "pong\r\n");
}

static void wt_cmd_stats(loom_conn_t *c, const char *arg)
{
    loom_work_stats_t st;

    (void)arg;
    loom_work_stats(loom_instance_server(loom_conn_instance(c)), &st);
    loom_conn_printf(c,
                     "submitted %llu completed %llu cancelled %llu queued %u "
                     "running %u threads %u workers %u\r\n",
                     (unsigned long long)st.submitted,
                     (unsigned long long)st.completed,
                     (unsigned long long)st.cancelled, st.queued, st.running,
                     st.threads, st.workers);
}

static void wt_cmd_quit(loom_conn_t *c, const char *arg)
{
    (void)arg;
    loom_conn_close(c);
}

static const struct {
    const char *name;
    int has_arg;
    void (*run)(loom_conn_t *c, const char *arg);
} wt_cmds[] = {
    {"sleep", 1, wt_cmd_sleep},
    {"ping", 0, wt_cmd_ping},
    {"stats", 0, wt_cmd_stats},
    {"quit", 0, wt_cmd_quit},
};

/* Run one command line; returns 1 when the connection is closing. */
static int wt_line(loom_conn_t *c, char *line)
{
    char *arg = strchr(line, ' ');
    size_t i;

    if (arg)
        *arg++ = '\0';
    for (i = 0; i < LOOM_ARRAY_LEN(wt_cmds); i++) {
        if (strcmp(line, wt_cmds[i].name) == 0 &&
            (arg != NULL) == wt_cmds[i].has_arg) {
            wt_cmds[i].run(c, arg ? arg : "");
            return wt_cmds[i].run == wt_cmd_quit;
        }
    }
    loom_conn_printf(c, "error unknown command\r\n");
    return 0;
}

static size_t wt_data(loom_conn_t *c, const char *buf, size_t len)
{
    size_t used = 0;

    while (used < len) {
        const char *nl = memchr(buf + used, '\n', len - used);
        char line[WT_MAX_LINE];
        size_t n;

        if (nl == NULL) {
            if (len - used >= WT_MAX_LINE) {
                loom_conn_printf(c, "error line too long\r\n");
                loom_conn_close(c);
                return len;
            }
            break;
        }
        n = (size_t)(nl - (buf + used));
        if (n >= WT_MAX_LINE) {
            loom_conn_printf(c, "error line too long\r\n");
            loom_conn_close(c);
            return len;
        }
        memcpy(line, buf + used, n);
        if (n && line[n - 1] == '\r')
            n--;
        line[n] = '\0';
        used = (size_t)(nl - buf) + 1;
        if (wt_line(c, line))
            return len;
    }
    return used;
}

/* The connection is going: jobs not yet started never will.  Their dones
 * still run (from the reactor, later) and release the connection. */
static void wt_close(loom_conn_t *c)
{
    wt_conn_t *wc = loom_conn_data(c);
    wt_job_t *j;

    for (j = wc->jobs; j; j = j->next)
        loom_work_cancel(j->w);
}

/* Exported for dlsym; no prototype needed elsewhere. */
extern loom_module_t loom_module_entry;

loom_module_t loom_module_entry = {
    .abi = LOOM_MODULE_ABI,
    .name = "worktest",
    .options = wt_opts,
    .conn_size = sizeof(wt_conn_t),
    .configure = wt_configure,
    .conf_free = wt_conf_free,
    .start = wt_start,
    .stop = wt_stop,
    .stream = {.data = wt_data, .close = wt_close},
};
