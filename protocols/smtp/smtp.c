/*
 * smtp.c - the smtp module: its lifecycle (Maildirs and the queue
 * directory made at prepare, the group committer and the queue runner
 * started with the instance), the per-address connection and AUTH
 * failure counts, and the module struct.
 *
 * The session is in smtp_session.c, durable delivery in smtp_deliver.c,
 * the bus glue in smtp_bus.c, the options in smtp_conf.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "smtp.h"
#include "smtp_ctl.h"
#include "smtp_mime.h"
#include "smtp_store.h"

smtp_inst_t *smtp_inst(loom_instance_t *inst)
{
    return loom_instance_data(inst);
}

/* ---- per-address counts ---------------------------------------------------
 */

static unsigned smtp_ip_hash(const char *addr)
{
    unsigned h = 2166136261u;

    for (; *addr; addr++)
        h = (h ^ (unsigned char)*addr) * 16777619u;
    return h % SMTP_IP_BUCKETS;
}

static smtp_ipcount_t *smtp_ip_get(smtp_inst_t *si, const char *addr,
                                   int create)
{
    smtp_ipcount_t **head = &si->ips[smtp_ip_hash(addr)], *e;

    for (e = *head; e; e = e->next)
        if (strcmp(e->addr, addr) == 0)
            return e;
    if (!create)
        return NULL;
    e = loom_calloc(1, sizeof(*e));
    snprintf(e->addr, sizeof(e->addr), "%s", addr);
    e->next = *head;
    *head = e;
    return e;
}

/* Drop E when it counts nothing any more. */
static void smtp_ip_gc(smtp_inst_t *si, smtp_ipcount_t *e)
{
    smtp_ipcount_t **pp = &si->ips[smtp_ip_hash(e->addr)];

    if (e->conns || e->auth_failures)
        return;
    for (; *pp; pp = &(*pp)->next) {
        if (*pp == e) {
            *pp = e->next;
            free(e);
            return;
        }
    }
}

unsigned smtp_ip_open(smtp_inst_t *si, const char *addr)
{
    return ++smtp_ip_get(si, addr, 1)->conns;
}

void smtp_ip_close(smtp_inst_t *si, const char *addr)
{
    smtp_ipcount_t *e = smtp_ip_get(si, addr, 0);

    if (e == NULL)
        return;
    if (e->conns)
        e->conns--;
    /* failures are forgotten with the address's last connection */
    if (e->conns == 0)
        e->auth_failures = 0;
    smtp_ip_gc(si, e);
}

unsigned smtp_ip_auth_failed(smtp_inst_t *si, const char *addr)
{
    return ++smtp_ip_get(si, addr, 1)->auth_failures;
}

/* ---- the runner's hooks: weak defaults (no runner) ------------------------
 */

__attribute__((weak)) void *
smtp_runner_start(loom_instance_t *inst, const smtp_conf_t *c, void *runner)
{
    (void)inst;
    (void)c;
    return runner;
}

__attribute__((weak)) void smtp_runner_queued(void *runner, const char *id,
                                              const smtp_queued_t *q)
{
    (void)runner;
    (void)id;
    (void)q;
}

__attribute__((weak)) void smtp_runner_stop(void *runner)
{
    (void)runner;
}

/* ---- lifecycle -------------------------------------------------------------
 */

/* mkdir -p PATH (mode 0700 for what it creates); 0 or -1 with errno. */
static int smtp_mkdirs(const char *path)
{
    char buf[4096];
    size_t n = strlen(path);

    if (n == 0 || n >= sizeof(buf)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        buf[i] = '\0';
        if (mkdir(buf, 0700) != 0 && errno != EEXIST)
            return -1;
        buf[i] = i == n ? '\0' : '/';
    }
    return 0;
}

static int smtp_mkdirs_sub(const char *dir, const char *sub)
{
    char buf[4096];

    if ((size_t)snprintf(buf, sizeof(buf), "%s/%s", dir, sub) >= sizeof(buf)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return smtp_mkdirs(buf);
}

/* Directories prepare is about to create, to give them to the user the
 * daemon runs as when it started as root. */
typedef struct {
    char **paths;
    size_t n;
} smtp_made_t;

static void smtp_made_add(smtp_made_t *m, const char *path)
{
    m->paths = loom_realloc(m->paths, (m->n + 1) * sizeof(char *));
    m->paths[m->n++] = loom_strdup(path);
}

/* Note each of PATH's ancestors, PATH and PATH/SUBS[i] that is missing. */
static void smtp_made_note(smtp_made_t *m, const char *path,
                           const char *const *subs)
{
    char buf[4096], sub[4200];
    struct stat st;
    size_t n = strlen(path);

    if (n == 0 || n >= sizeof(buf))
        return;
    memcpy(buf, path, n + 1);
    while (n > 1 && buf[n - 1] == '/')
        buf[--n] = '\0';
    for (size_t i = 1; i <= n; i++) {
        char save = buf[i];

        if (save != '/' && save != '\0')
            continue;
        buf[i] = '\0';
        if (stat(buf, &st) != 0)
            smtp_made_add(m, buf);
        buf[i] = save;
    }
    for (; subs && *subs; subs++) {
        snprintf(sub, sizeof(sub), "%s/%s", buf, *subs);
        if (stat(sub, &st) != 0)
            smtp_made_add(m, sub);
    }
}

static int smtp_made_find(const smtp_made_t *m, const char *path)
{
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->paths[i], path) == 0)
            return 1;
    return 0;
}

static void smtp_made_free(smtp_made_t *m)
{
    for (size_t i = 0; i < m->n; i++)
        free(m->paths[i]);
    free(m->paths);
    m->paths = NULL;
    m->n = 0;
}

/* Create the Maildirs and the queue directory that are missing (at start
 * and on reload: a few mkdir calls, before anything is served with the
 * new configuration).  Started as root, loomd drops to its `user` after
 * binding: what is made here is given to that user, who writes there. */
static int smtp_prepare(loom_instance_t *inst, void *conf, char *err,
                        size_t errlen)
{
    static const char *const maildir_subs[] = {"tmp", "new", "cur", NULL};
    static const char *const queue_subs[] = {"tmp", NULL};
    smtp_conf_t *c = conf;
    smtp_made_t made = {NULL, 0};
    char why[512];
    uid_t uid;
    gid_t gid;
    int rc = LOOM_OK;

    if (loom_server_run_as(loom_instance_server(inst), &uid, &gid) != LOOM_OK) {
        snprintf(err, errlen, "the user or group to run as is unknown");
        return LOOM_ERROR;
    }
    for (size_t i = 0; i < c->nboxes && rc == LOOM_OK; i++) {
        smtp_made_note(&made, c->boxes[i].maildir, maildir_subs);
        if (smtp_maildir_make(c->boxes[i].maildir, why, sizeof(why)) != 0) {
            snprintf(err, errlen, "recipient %s: Maildir %s: %s",
                     c->boxes[i].addr, c->boxes[i].maildir, why);
            rc = LOOM_ERROR;
        }
    }
    if (rc == LOOM_OK && c->queue_dir) {
        smtp_made_note(&made, c->queue_dir, queue_subs);
        if (smtp_mkdirs(c->queue_dir) != 0 ||
            smtp_mkdirs_sub(c->queue_dir, "tmp") != 0) {
            snprintf(err, errlen, "queue_dir %s: %s", c->queue_dir,
                     strerror(errno));
            rc = LOOM_ERROR;
        }
    }
    for (size_t i = 0;
         rc == LOOM_OK && geteuid() == 0 && uid != 0 && i < c->nboxes; i++) {
        struct stat st;
        char path[4200];

        snprintf(path, sizeof(path), "%snew", c->boxes[i].maildir);
        if (stat(path, &st) == 0 && st.st_uid != uid &&
            smtp_made_find(&made, path) == 0)
            loom_log(LOOM_LOG_WARN, loom_instance_who(inst),
                     "Maildir %s belongs to uid %u, not to uid %u that "
                     "loomd runs as: deliveries there may fail",
                     c->boxes[i].maildir, (unsigned)st.st_uid, (unsigned)uid);
    }
    for (size_t i = 0; rc == LOOM_OK && i < made.n; i++) {
        if (geteuid() == 0 && uid != 0 && chown(made.paths[i], uid, gid) != 0) {
            snprintf(err, errlen, "cannot give %s to uid %u: %s", made.paths[i],
                     (unsigned)uid, strerror(errno));
            rc = LOOM_ERROR;
        }
    }
    smtp_made_free(&made);
    return rc;
}

static void smtp_start(loom_instance_t *inst)
{
    smtp_inst_t *si = loom_calloc(1, sizeof(*si));

    smtp_mime_init();
    si->inst = inst;
    si->commit = smtp_commit_new(
        inst,
        (smtp_sync_t)((smtp_conf_t *)loom_instance_conf(inst))->sync_mode);
    loom_instance_set_data(inst, si);
    si->runner = smtp_runner_start(inst, loom_instance_conf(inst), NULL);
}

static void smtp_reload(loom_instance_t *inst)
{
    smtp_inst_t *si = smtp_inst(inst);

    smtp_commit_set_mode(
        si->commit,
        (smtp_sync_t)((smtp_conf_t *)loom_instance_conf(inst))->sync_mode);
    si->runner = smtp_runner_start(inst, loom_instance_conf(inst), si->runner);
}

static void smtp_stop(loom_instance_t *inst)
{
    smtp_inst_t *si = smtp_inst(inst);

    if (si == NULL)
        return;
    smtp_runner_stop(si->runner);
    smtp_commit_free(si->commit);
    for (size_t i = 0; i < SMTP_IP_BUCKETS; i++) {
        while (si->ips[i]) {
            smtp_ipcount_t *e = si->ips[i];

            si->ips[i] = e->next;
            free(e);
        }
    }
    free(si);
    loom_instance_set_data(inst, NULL);
}

extern const loom_module_t loom_smtp_module;

const loom_module_t loom_smtp_module = {
    .abi = LOOM_MODULE_ABI,
    .name = "smtp",
    .options = smtp_options,
    .conn_size = sizeof(void *), /* the session, allocated at open */
    .idle_timeout = 300,         /* RFC 5321 4.5.3.2: 5 minutes */
    .configure = smtp_configure,
    .conf_free = smtp_conf_free,
    .prepare = smtp_prepare,
    .start = smtp_start,
    .reload = smtp_reload,
    .stop = smtp_stop,
    .stream = {smtp_session_open, smtp_session_data, NULL, smtp_session_close},
    .actions = smtp_actions,
    .metrics = smtp_metrics,
    .commands = smtp_ctl_commands,
};
