/*
 * relaytest.c - a test-only module around SMTP's outbound side: a queue
 * runner (protocols/smtp/smtp_out.h) fed through a tiny line protocol,
 * so tests/integration/test_smtp_relay_runner.py can drive the relay
 * queue, the client and the bounces without the receiving server.
 *
 * Options: hostname, queue_dir, bounce_dir (bounces are written there
 * as files instead of being delivered), and the relay options of the
 * smtp section (SMTP_RELAY_OPTIONS).
 *
 * One command:
 *   QUEUE SENDER RCPT[,RCPT...] LEN [NOTIFY] [RET]  then LEN bytes of
 *       message; SENDER "-" is the null sender; NOTIFY a number of
 *       SMTP_NOTIFY_* bits (0: not given), RET 0/1/2.  Answer after the
 *       queue file is durable: "QUEUED ID" or "ERR text".
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "loom_module.h"
#include "smtp_out.h"

typedef struct {
    char *hostname, *qdir, *bdir;
    smtp_relay_conf_t rc;
} rt_conf_t;

typedef struct {
    smtp_qmsg_t m;
    smtp_qrcpt_t rcpt[16];
    char *text;  /* the sender */
    char *rcpts; /* the recipients' strings */
    char *body;
    size_t len;
    char qdir[4096];
    int rc;
    char err[256];
    loom_conn_t *c;
} rt_job_t;

typedef struct {
    size_t need; /* body bytes awaited */
    rt_job_t *job;
} rt_conn_t;

static cfg_opt_t rt_opts[] = {CFG_STR("hostname", "loom.test", CFGF_NONE),
                              CFG_STR("queue_dir", NULL, CFGF_NONE),
                              CFG_STR("bounce_dir", NULL, CFGF_NONE),
                              SMTP_RELAY_OPTIONS, CFG_END()};

static int rt_configure(cfg_t *sec, void **conf)
{
    rt_conf_t *c = loom_calloc(1, sizeof(*c));
    const char *s;

    if (smtp_relay_configure(sec, &c->rc) != LOOM_OK) {
        free(c);
        return LOOM_ERROR;
    }
    c->hostname = loom_strdup(cfg_getstr(sec, "hostname"));
    s = cfg_getstr(sec, "queue_dir");
    c->qdir = s ? loom_conf_path(sec, "queue_dir", s) : NULL;
    s = cfg_getstr(sec, "bounce_dir");
    c->bdir = s ? loom_conf_path(sec, "bounce_dir", s) : NULL;
    *conf = c;
    return LOOM_OK;
}

static void rt_conf_free(void *conf)
{
    rt_conf_t *c = conf;

    if (c == NULL)
        return;
    smtp_relay_conf_clear(&c->rc);
    free(c->hostname);
    free(c->qdir);
    free(c->bdir);
    free(c);
}

/* ---- bounces: written to bounce_dir -----------------------------------------
 */

typedef struct {
    char path[4200];
    char *msg;
    size_t len;
    int ok;
    void (*done)(void *arg, int ok);
    void *arg;
} rt_bounce_t;

static unsigned rt_nbounce;

static void rt_bounce_work(void *arg)
{
    rt_bounce_t *b = arg;
    int fd = open(b->path, O_WRONLY | O_CREAT | O_EXCL, 0600);

    b->ok = fd >= 0 && write(fd, b->msg, b->len) == (ssize_t)b->len &&
            fsync(fd) == 0;
    if (fd >= 0)
        close(fd);
}

static void rt_bounce_done(void *arg, int status)
{
    rt_bounce_t *b = arg;

    if (b->done != NULL)
        b->done(b->arg, status == LOOM_WORK_COMPLETED && b->ok);
    free(b->msg);
    free(b);
}

static void *rt_inject(loom_instance_t *inst, const char *rcpt, char *msg,
                       size_t len, int eightbit, void (*done)(void *, int),
                       void *arg)
{
    rt_conf_t *c = loom_instance_conf(inst);
    rt_bounce_t *b;

    (void)eightbit;
    if (c->bdir == NULL) {
        free(msg);
        return NULL;
    }
    b = loom_calloc(1, sizeof(*b));
    snprintf(b->path, sizeof(b->path), "%s/%u-%s.eml", c->bdir, ++rt_nbounce,
             rcpt);
    b->msg = msg;
    b->len = len;
    b->done = done;
    b->arg = arg;
    loom_work_submit(inst, rt_bounce_work, rt_bounce_done, b);
    return b;
}

static void rt_detach(void *h)
{
    ((rt_bounce_t *)h)->done = NULL;
}

static const smtp_runner_ops_t rt_ops = {rt_inject, rt_detach};

/* ---- lifecycle
 * ---------------------------------------------------------------- */

static void rt_start(loom_instance_t *inst)
{
    rt_conf_t *c = loom_instance_conf(inst);

    if (c->bdir != NULL)
        mkdir(c->bdir, 0700);
    loom_instance_set_data(
        inst, smtp_runner_new(inst, c->qdir, c->hostname, &c->rc, &rt_ops));
}

static void rt_reload(loom_instance_t *inst)
{
    rt_conf_t *c = loom_instance_conf(inst);

    smtp_runner_update(loom_instance_data(inst), c->hostname, &c->rc);
}

static void rt_stop(loom_instance_t *inst)
{
    smtp_runner_free(loom_instance_data(inst));
    loom_instance_set_data(inst, NULL);
}

/* ---- the line protocol
 * ----------------------------------------------------------- */

static void rt_job_work(void *arg)
{
    rt_job_t *j = arg;
    struct iovec iov = {j->body, j->len};

    j->rc = smtp_queue_write(j->qdir, &j->m, &iov, 1, j->err, sizeof(j->err));
}

static void rt_job_free(rt_job_t *j);

static void rt_job_done(void *arg, int status)
{
    rt_job_t *j = arg;
    loom_instance_t *inst = loom_conn_instance(j->c);

    if (status == LOOM_WORK_COMPLETED && j->rc == SMTP_QUEUE_OK) {
        loom_conn_printf(j->c, "QUEUED %s\r\n", j->m.id);
        smtp_runner_add(loom_instance_data(inst), j->m.id);
    } else {
        loom_conn_printf(j->c, "ERR %s\r\n", j->err);
    }
    loom_conn_release(j->c);
    rt_job_free(j);
}

/* The whole message is here: write the queue file on the worker pool. */
static void rt_submit(loom_conn_t *c, rt_conn_t *rc)
{
    rt_job_t *j = rc->job;

    rc->job = NULL;
    j->m.body_type =
        smtp_has_8bit(j->body, j->len) ? SMTP_BODY_8BITMIME : SMTP_BODY_UNSET;
    loom_conn_hold(c);
    j->c = c;
    loom_work_submit(loom_conn_instance(c), rt_job_work, rt_job_done, j);
}

static void rt_job_free(rt_job_t *j)
{
    free(j->text);
    free(j->rcpts);
    free(j->body);
    free(j);
}

static int rt_open(loom_conn_t *c)
{
    (void)c;
    return LOOM_OK;
}

static size_t rt_data_one(loom_conn_t *c, const char *buf, size_t len)
{
    rt_conn_t *rc = loom_conn_data(c);
    rt_conf_t *conf = loom_instance_conf(loom_conn_instance(c));
    const char *nl;
    size_t used;
    rt_job_t *j;
    char *sender, *rcpts, *p, *save = NULL;
    unsigned long blen, notify = 0, ret = 0;
    int n;

    if (rc->job != NULL) {
        size_t take = len < rc->need ? len : rc->need;

        j = rc->job;
        memcpy(j->body + j->len, buf, take);
        j->len += take;
        rc->need -= take;
        if (rc->need == 0)
            rt_submit(c, rc);
        return take;
    }
    nl = memchr(buf, '\n', len);
    if (nl == NULL)
        return 0;
    used = (size_t)(nl - buf) + 1;
    j = loom_calloc(1, sizeof(*j));
    j->text = loom_strndup(buf, used);
    sender = loom_calloc(1, used + 1);
    rcpts = loom_calloc(1, used + 1);
    n = sscanf(j->text, "QUEUE %s %s %lu %lu %lu", sender, rcpts, &blen,
               &notify, &ret);
    if (n < 3 || blen > 64u << 20 || conf->qdir == NULL) {
        loom_conn_printf(c, "ERR usage\r\n");
        free(sender);
        free(rcpts);
        free(j->text);
        free(j);
        return used;
    }
    free(j->text);
    j->text = sender;
    j->m.sender = strcmp(sender, "-") == 0 ? (char *)"" : sender;
    j->m.ret = (smtp_ret_t)ret;
    j->m.arrival = (int64_t)time(NULL);
    j->m.client = (char *)"relaytest [127.0.0.1]";
    j->m.rcpt = j->rcpt;
    for (p = strtok_r(rcpts, ",", &save); p && j->m.nrcpt < 16;
         p = strtok_r(NULL, ",", &save)) {
        j->rcpt[j->m.nrcpt].addr = p;
        j->rcpt[j->m.nrcpt].notify = (unsigned)notify;
        j->m.nrcpt++;
    }
    j->rcpts = rcpts; /* the addresses point into it */
    j->body = loom_malloc(blen + 1);
    snprintf(j->qdir, sizeof(j->qdir), "%s", conf->qdir);
    rc->job = j;
    rc->need = blen;
    if (blen == 0)
        rt_submit(c, rc);
    return used;
}

/* Everything in BUF that can be used now (a command line and its body
 * may come in one read). */
static size_t rt_data(loom_conn_t *c, const char *buf, size_t len)
{
    size_t pos = 0, n;

    while (pos < len && (n = rt_data_one(c, buf + pos, len - pos)) > 0)
        pos += n;
    return pos;
}

static void rt_close(loom_conn_t *c)
{
    rt_conn_t *rc = loom_conn_data(c);

    if (rc->job != NULL) {
        rt_job_free(rc->job);
        rc->job = NULL;
    }
}

extern const loom_module_t loom_module_entry;

const loom_module_t loom_module_entry = {
    .abi = LOOM_MODULE_ABI,
    .name = "relaytest",
    .options = rt_opts,
    .conn_size = sizeof(rt_conn_t),
    .configure = rt_configure,
    .conf_free = rt_conf_free,
    .start = rt_start,
    .reload = rt_reload,
    .stop = rt_stop,
    .stream = {rt_open, rt_data, NULL, rt_close},
};
