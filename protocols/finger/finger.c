/*
 * finger.c - RFC 1288 finger server: one query line, one answer, close.
 *
 * Users come from the configuration only; system accounts and ~/.plan are
 * never looked at.  `user@host` queries are refused unless forwarding is
 * on, in which case loomd connects to HOST's finger port and relays the
 * answer, filtered like everything else it sends.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "finger.h"
#include "finger_service.h"
#include "finger_parse.h"
#include "lines.h"
#include "loom_module.h"

/* State of a forwarded query, allocated only for those. */
typedef struct {
    loom_connect_t *connect; /* connect in progress */
    loom_conn_t *out;        /* the connection to the remote finger */
    loom_timer_t timer;      /* deadline of the whole exchange */
    int mid_line;            /* the last relayed byte was not LF */
    char host[FINGER_QUERY_MAX + 1];
    char query[FINGER_QUERY_MAX + 4]; /* what to send to host */
} finger_fwd_t;

typedef struct {
    loom_lines_t lines;
    int answered;
    finger_fwd_t *fwd;
} finger_conn_t;

/* An instance's counters (its data), bumped on the reactor. */
typedef struct {
    uint64_t answers[FINGER_ANS_ERROR + 1]; /* by finger_answer_t */
    uint64_t forwarded, forward_failed;
} finger_stats_t;

static finger_stats_t *finger_stats(loom_conn_t *c)
{
    return loom_instance_data(loom_conn_instance(c));
}

/* ---- output ------------------------------------------------------------- */

/* Where entries, listings and messages go (a connection, or a service
 * caller's function). */
typedef struct {
    finger_out_fn fn;
    void *arg;
} finger_sink_t;

/* TEXT[0..LEN) filtered to printable ASCII, TAB and CRLF, in STACKBUF
 * (CAP bytes) or a malloc'd buffer that the caller frees when it is not
 * STACKBUF; the length in *N. */
static char *finger_filtered(const char *text, size_t len, char *stackbuf,
                             size_t cap, size_t *n)
{
    char *buf = 2 * len > cap ? loom_malloc(2 * len) : stackbuf;

    *n = finger_filter(text, len, buf);
    return buf;
}

/* Write LEN bytes filtered to connection C; returns as loom_conn_write. */
static int finger_send(loom_conn_t *c, const char *text, size_t len)
{
    char stackbuf[2048], *buf;
    size_t n;
    int r;

    buf = finger_filtered(text, len, stackbuf, sizeof(stackbuf), &n);
    r = loom_conn_write(c, buf, n);
    if (buf != stackbuf)
        free(buf);
    return r;
}

static void finger_sends(loom_conn_t *c, const char *text)
{
    finger_send(c, text, strlen(text));
}

/* Write LEN bytes filtered to O. */
static void finger_emit(const finger_sink_t *o, const char *text, size_t len)
{
    char stackbuf[2048], *buf;
    size_t n;

    buf = finger_filtered(text, len, stackbuf, sizeof(stackbuf), &n);
    o->fn(o->arg, buf, n);
    if (buf != stackbuf)
        free(buf);
}

static void finger_emits(const finger_sink_t *o, const char *text)
{
    finger_emit(o, text, strlen(text));
}

/* The sink of a connection: ARG is the loom_conn_t. */
static void finger_conn_out(void *arg, const char *p, size_t len)
{
    loom_conn_write(arg, p, len);
}

/* "LEFT" padded to 40 columns, then "RIGHT" (either may be empty). */
static void finger_two_columns(const finger_sink_t *o, const char *left,
                               const char *right)
{
    char line[1024];

    if (left[0] && right[0])
        snprintf(line, sizeof(line), "%-39s %s\n", left, right);
    else
        snprintf(line, sizeof(line), "%s\n", left[0] ? left : right);
    finger_emits(o, line);
}

static void finger_entry(const finger_sink_t *o, const finger_user_t *u,
                         int verbose)
{
    char left[512], right[512];

    snprintf(left, sizeof(left), "Login: %s", u->login);
    snprintf(right, sizeof(right), "Name: %s", u->name ? u->name : "");
    finger_two_columns(o, left, right);
    if (u->office || u->phone) {
        snprintf(left, sizeof(left), "%s%s", u->office ? "Office: " : "",
                 u->office ? u->office : "");
        snprintf(right, sizeof(right), "%s%s", u->phone ? "Phone: " : "",
                 u->phone ? u->phone : "");
        finger_two_columns(o, left, right);
    }
    if (verbose && u->email) {
        finger_emits(o, "Email: ");
        finger_emits(o, u->email);
        finger_emits(o, "\n");
    }
    if (verbose && u->project) {
        finger_emits(o, "Project: ");
        finger_emits(o, u->project);
        finger_emits(o, "\n");
    }
    if (u->plan && u->plan[0]) {
        size_t n = strlen(u->plan);

        finger_emits(o, "Plan:\n");
        finger_emit(o, u->plan, n);
        if (u->plan[n - 1] != '\n')
            finger_emits(o, "\n");
    } else {
        finger_emits(o, "No Plan.\n");
    }
}

static void finger_list(const finger_sink_t *o, const finger_conf_t *fc)
{
    char line[256];
    size_t i;

    finger_emits(o, "Login      Name                 Office          Phone\n");
    for (i = 0; i < fc->n_users; i++) {
        const finger_user_t *u = &fc->users[i];
        int n = snprintf(line, sizeof(line), "%-10.10s %-20.20s %-15.15s %s",
                         u->login, u->name ? u->name : "",
                         u->office ? u->office : "", u->phone ? u->phone : "");

        while (n > 0 && line[n - 1] == ' ')
            n--;
        line[n] = '\0';
        finger_emits(o, line);
        finger_emits(o, "\n");
    }
}

/* The answer to a parsed query (ST, Q) that is not forwarded, written to
 * O: an entry, the listing, or the line saying why not.  Returns a
 * finger_answer_t. */
static finger_answer_t finger_answer(const finger_conf_t *fc,
                                     finger_q_status_t st,
                                     const finger_query_t *q,
                                     const finger_sink_t *o)
{
    const finger_user_t *u;
    char msg[FINGER_QUERY_MAX + 64];

    if (st != FINGER_Q_OK) {
        snprintf(msg, sizeof(msg), "finger: error: %s\n",
                 finger_q_strerror(st));
        finger_emits(o, msg);
        return FINGER_ANS_ERROR;
    }
    if (q->host.len) {
        finger_emits(o, "finger: forwarding is not allowed on this server.\n");
        return FINGER_ANS_NO_FORWARD;
    }
    if (q->user.len == 0) {
        if (!fc->list_users) {
            finger_emits(o, "finger: listing of users is not available on "
                            "this server.\n");
            return FINGER_ANS_NO_LISTING;
        }
        finger_list(o, fc);
        return FINGER_ANS_OK;
    }
    u = finger_find_user(fc, q->user.p, q->user.len);
    if (u == NULL) {
        snprintf(msg, sizeof(msg), "finger: %.*s: no such user.\n",
                 (int)q->user.len, q->user.p);
        finger_emits(o, msg);
        return FINGER_ANS_UNKNOWN;
    }
    finger_entry(o, u, q->verbose);
    return FINGER_ANS_OK;
}

/* One access-log line: PEER "QUERY" STATUS (the query made printable). */
static void finger_log(loom_conn_t *c, const char *q, size_t len,
                       const char *status)
{
    loom_alog_t *al = loom_instance_alog(loom_conn_instance(c));
    char clean[128];
    size_t i, n = len < sizeof(clean) - 1 ? len : sizeof(clean) - 1;

    if (al == NULL)
        return;
    for (i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)q[i];

        clean[i] = (ch < 0x20 || ch >= 0x7f || ch == '"') ? '?' : (char)ch;
    }
    clean[n] = '\0';
    loom_alog_write(al, "%s \"%s%s\" %s", loom_conn_peer(c), clean,
                    len > n ? "..." : "", status);
}

/* ---- forwarding --------------------------------------------------------- */

static size_t finger_fwd_data(loom_conn_t *out, const char *buf, size_t len)
{
    loom_conn_t *c = loom_conn_data(out);
    finger_conn_t *s;

    if (c == NULL || len == 0)
        return len;
    s = loom_conn_data(c);
    s->fwd->mid_line = buf[len - 1] != '\n';
    if (finger_send(c, buf, len) == LOOM_AGAIN)
        loom_conn_pause(out); /* resumed by finger_drain */
    return len;
}

static void finger_fwd_close(loom_conn_t *out)
{
    loom_conn_t *c = loom_conn_data(out);
    finger_conn_t *s;

    if (c == NULL)
        return;
    s = loom_conn_data(c);
    s->fwd->out = NULL;
    if (s->fwd->mid_line) /* every line we send ends in CRLF */
        finger_sends(c, "\n");
    loom_conn_close(c);
}

static const loom_handler_t finger_fwd_handler = {NULL, finger_fwd_data, NULL,
                                                  finger_fwd_close};

static void finger_fwd_fail(loom_conn_t *c, const char *why)
{
    finger_conn_t *s = loom_conn_data(c);
    char line[FINGER_QUERY_MAX + 128];

    finger_stats(c)->forward_failed++;
    snprintf(line, sizeof(line), "finger: %s: %s\n", s->fwd->host, why);
    finger_sends(c, line);
    loom_conn_close(c);
}

static void finger_fwd_connected(loom_conn_t *out,
                                 const loom_connect_result_t *res, void *arg)
{
    loom_conn_t *c = arg;
    finger_conn_t *s = loom_conn_data(c);

    s->fwd->connect = NULL;
    if (out == NULL) {
        finger_fwd_fail(c, res->err);
        return;
    }
    s->fwd->out = out;
    loom_conn_printf(out, "%s\r\n", s->fwd->query);
}

/* Drop the forward connection (or its connect) without a word. */
static void finger_fwd_stop(finger_fwd_t *f)
{
    if (f->connect) {
        loom_connect_cancel(f->connect);
        f->connect = NULL;
    }
    if (f->out) {
        loom_conn_set_data(f->out, NULL);
        loom_conn_abort(f->out);
        f->out = NULL;
    }
}

static void finger_fwd_timeout(loom_timer_t *t, void *arg)
{
    loom_conn_t *c = arg;
    finger_conn_t *s = loom_conn_data(c);

    (void)t;
    finger_fwd_stop(s->fwd);
    finger_fwd_fail(c, "timed out");
}

static void finger_forward(loom_conn_t *c, const finger_conf_t *fc,
                           const finger_query_t *q)
{
    finger_conn_t *s = loom_conn_data(c);
    loom_instance_t *inst = loom_conn_instance(c);
    loom_connect_opts_t opts;
    finger_fwd_t *f = loom_calloc(1, sizeof(*f));

    s->fwd = f;
    memcpy(f->host, q->host.p, q->host.len);
    f->host[q->host.len] = '\0';
    snprintf(f->query, sizeof(f->query), "%s%.*s", q->verbose ? "/W " : "",
             (int)q->forward.len, q->forward.p);
    memset(&opts, 0, sizeof(opts));
    opts.timeout_ms = (unsigned)fc->forward_timeout * 1000u;
    /* a bad host name is reported through finger_fwd_connected */
    f->connect =
        loom_connect_host(loom_instance_server(inst), f->host, fc->forward_port,
                          &opts, &finger_fwd_handler, finger_fwd_connected, c);
    loom_timer_init_conn(&f->timer, c, finger_fwd_timeout, c);
    loom_timer_arm(&f->timer, (uint64_t)fc->forward_timeout * 1000);
}

/* ---- the session -------------------------------------------------------- */

static int finger_open(loom_conn_t *c)
{
    finger_conn_t *s = loom_conn_data(c);

    loom_lines_init(&s->lines, FINGER_QUERY_MAX);
    return LOOM_OK;
}

/* The access log's word for each finger_answer_t. */
static const char *const finger_log_status[] = {"ok", "unknown", "refused",
                                                "refused", "error"};

static void finger_query(loom_conn_t *c, const char *line, size_t len)
{
    const finger_conf_t *fc = loom_instance_conf(loom_conn_instance(c));
    finger_sink_t o = {finger_conn_out, c};
    finger_query_t q;
    finger_q_status_t st = finger_parse_query(line, len, &q);
    finger_answer_t a;

    if (st == FINGER_Q_OK && q.host.len && fc->forwarding) {
        finger_stats(c)->forwarded++;
        finger_log(c, line, len, "forwarded");
        finger_forward(c, fc, &q);
        return;
    }
    a = finger_answer(fc, st, &q, &o);
    finger_stats(c)->answers[a]++;
    finger_log(c, line, len, finger_log_status[a]);
    loom_conn_close(c);
}

static size_t finger_data(loom_conn_t *c, const char *buf, size_t len)
{
    finger_conn_t *s = loom_conn_data(c);
    loom_slice_t line;
    size_t used;

    if (s->answered)
        return len; /* one query per connection; the rest is ignored */
    switch (loom_lines_next(&s->lines, buf, len, &line, &used)) {
    case LOOM_LINES_MORE:
        return 0;
    case LOOM_LINES_LINE:
        s->answered = 1;
        finger_query(c, line.p, line.len);
        return len;
    case LOOM_LINES_TOO_LONG:
    default:
        s->answered = 1;
        finger_stats(c)->answers[FINGER_ANS_ERROR]++;
        finger_log(c, buf, len, "error");
        finger_sends(c, "finger: error: query too long\n");
        loom_conn_close(c);
        return len;
    }
}

static void finger_drain(loom_conn_t *c)
{
    finger_conn_t *s = loom_conn_data(c);

    if (s->fwd && s->fwd->out)
        loom_conn_resume(s->fwd->out);
}

static void finger_close(loom_conn_t *c)
{
    finger_conn_t *s = loom_conn_data(c);

    if (s->fwd == NULL)
        return;
    finger_fwd_stop(s->fwd);
    loom_timer_disarm(&s->fwd->timer);
    free(s->fwd);
    s->fwd = NULL;
}

/* ---- the user table as a service (finger_service.h) ---------------------
 * SELF is the instance: the table is its current configuration's. */

static const finger_user_t *svc_lookup(void *self, const char *login,
                                       size_t len)
{
    return finger_find_user(loom_instance_conf(self), login, len);
}

static size_t svc_each(void *self, int (*fn)(const finger_user_t *, void *),
                       void *arg)
{
    const finger_conf_t *fc = loom_instance_conf(self);
    size_t i;

    for (i = 0; i < fc->n_users; i++) {
        if (fn(&fc->users[i], arg))
            break;
    }
    return fc->n_users;
}

static int svc_listing(void *self)
{
    const finger_conf_t *fc = loom_instance_conf(self);

    return fc->list_users;
}

static int svc_answer(void *self, const char *line, size_t len,
                      finger_out_fn out, void *arg)
{
    finger_sink_t o = {out, arg};
    finger_query_t q;
    finger_q_status_t st = finger_parse_query(line, len, &q);

    return (int)finger_answer(loom_instance_conf(self), st, &q, &o);
}

const finger_users_service_t finger_users_service = {svc_lookup, svc_each,
                                                     svc_listing, svc_answer};

static void finger_start(loom_instance_t *inst)
{
    loom_instance_set_data(inst, loom_calloc(1, sizeof(finger_stats_t)));
    loom_service_export(inst, FINGER_USERS_SERVICE, &finger_users_service,
                        inst);
}

static void finger_stop(loom_instance_t *inst)
{
    free(loom_instance_data(inst));
    loom_instance_set_data(inst, NULL);
}

/* ---- metrics --------------------------------------------------------------
 */

static void finger_metrics(loom_instance_t *inst, loom_metrics_t *m)
{
    const finger_stats_t *st = loom_instance_data(inst);
    static const char help[] = "Finger queries by result.";

    if (st == NULL)
        return;
    loom_metric(m, LOOM_METRIC_COUNTER, "loom_finger_queries_total", help,
                (double)st->answers[FINGER_ANS_OK], "result", "ok", NULL);
    loom_metric(m, LOOM_METRIC_COUNTER, "loom_finger_queries_total", help,
                (double)st->answers[FINGER_ANS_UNKNOWN], "result", "unknown",
                NULL);
    loom_metric(m, LOOM_METRIC_COUNTER, "loom_finger_queries_total", help,
                (double)(st->answers[FINGER_ANS_NO_LISTING] +
                         st->answers[FINGER_ANS_NO_FORWARD]),
                "result", "refused", NULL);
    loom_metric(m, LOOM_METRIC_COUNTER, "loom_finger_queries_total", help,
                (double)st->forwarded, "result", "forwarded", NULL);
    loom_metric(m, LOOM_METRIC_COUNTER, "loom_finger_queries_total", help,
                (double)st->answers[FINGER_ANS_ERROR], "result", "error", NULL);
    loom_metric(m, LOOM_METRIC_COUNTER, "loom_finger_refusals_total",
                "Finger queries refused, by reason.",
                (double)st->answers[FINGER_ANS_NO_LISTING], "reason", "listing",
                NULL);
    loom_metric(m, LOOM_METRIC_COUNTER, "loom_finger_refusals_total",
                "Finger queries refused, by reason.",
                (double)st->answers[FINGER_ANS_NO_FORWARD], "reason",
                "forwarding", NULL);
    loom_metric(m, LOOM_METRIC_COUNTER, "loom_finger_forward_failures_total",
                "Forwarded queries whose remote server could not be reached "
                "in time.",
                (double)st->forward_failed, NULL);
}

extern const loom_module_t loom_finger_module;

const loom_module_t loom_finger_module = {
    .abi = LOOM_MODULE_ABI,
    .name = "finger",
    .options = finger_options,
    .conn_size = sizeof(finger_conn_t),
    .idle_timeout = 10,
    .configure = finger_configure,
    .conf_free = finger_conf_free,
    .start = finger_start,
    .stop = finger_stop,
    .stream = {finger_open, finger_data, finger_drain, finger_close},
    .metrics = finger_metrics,
};
