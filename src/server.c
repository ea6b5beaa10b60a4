/*
 * server.c - the server: applying a configuration (start and reload are
 * one code path), module instances, and graceful shutdown.
 *
 * Applying a config happens in two phases.  Everything that can fail
 * (TLS profiles, binding new sockets, opening access logs) is prepared
 * first and rolled back on error, leaving the running state untouched;
 * then the new state is committed, which cannot fail: instances get their
 * new settings, unchanged listeners keep their sockets, removed ones close.
 */
#include "core.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bus_int.h"
#include "resolver.h"
#include "tls.h"

/* ---- the instance API modules see ---------------------------------------- */

void *loom_instance_conf(loom_instance_t *inst)
{
    return inst->conf;
}

const char *loom_instance_who(loom_instance_t *inst)
{
    return inst->who;
}

loom_alog_t *loom_instance_alog(loom_instance_t *inst)
{
    return inst->alog;
}

loom_server_t *loom_instance_server(loom_instance_t *inst)
{
    return inst->srv;
}

size_t loom_server_instances(loom_server_t *srv, loom_instance_stat_t *out,
                             size_t max)
{
    loom_instance_t *inst;
    size_t n = 0;

    for (inst = srv->instances; inst; inst = inst->next) {
        if (inst->removed)
            continue;
        if (n < max) {
            out[n].module = inst->mod->name;
            out[n].name = inst->name;
            out[n].connections = inst->nconns;
        }
        n++;
    }
    return n;
}

static const char *const listener_transports[] = {
    [LOOM_EP_TCP] = "tcp",
    [LOOM_EP_UDP] = "udp",
    [LOOM_EP_UNIX] = "unix",
    [LOOM_EP_TLS] = "tls",
};

size_t loom_server_listeners(loom_server_t *srv, loom_listener_stat_t *out,
                             size_t max)
{
    loom_listener_t *ls;
    size_t n = 0;

    for (ls = srv->listeners; ls; ls = ls->next) {
        if (ls->closed || ls->inst == NULL)
            continue;
        if (n < max) {
            out[n].module = ls->inst->mod->name;
            out[n].instance = ls->inst->name;
            out[n].endpoint = ls->text;
            out[n].transport =
                (unsigned)ls->ep.kind < LOOM_ARRAY_LEN(listener_transports) &&
                        listener_transports[ls->ep.kind]
                    ? listener_transports[ls->ep.kind]
                    : "?";
            out[n].connections = ls->nconns;
            out[n].adopted = ls->adopted;
        }
        n++;
    }
    return n;
}

void loom_server_counters(loom_server_t *srv, loom_server_counters_t *out)
{
    memset(out, 0, sizeof(*out));
    out->dgram_dropped = srv->dgram_dropped;
}

void *loom_instance_data(loom_instance_t *inst)
{
    return inst->data;
}

void loom_instance_set_data(loom_instance_t *inst, void *data)
{
    inst->data = data;
}

/* ---- instances ---------------------------------------------------------- */

static void inst_free_settings(loom_instance_t *inst)
{
    char **a;

    for (a = inst->alpn; a && *a; a++)
        free(*a);
    free(inst->alpn);
    inst->alpn = NULL;
}

/* Take the settings of IC (and ownership of its module conf and ALOG). */
static void inst_take(loom_instance_t *inst, loom_instance_conf_t *ic,
                      loom_alog_t *alog)
{
    unsigned t[3];
    size_t i;

    inst_free_settings(inst);
    inst->conf = ic->mod_conf;
    ic->mod_conf = NULL;
    if (inst->alog)
        loom_alog_close(inst->alog);
    inst->alog = alog;
    inst->max_connections = ic->max_connections;
    inst->idle_timeout = (unsigned)ic->idle_timeout;
    inst->read_timeout = (unsigned)ic->read_timeout;
    inst->write_timeout = (unsigned)ic->write_timeout;
    t[0] = inst->idle_timeout;
    t[1] = inst->read_timeout;
    t[2] = inst->write_timeout;
    inst->min_timeout = (unsigned)-1;
    for (i = 0; i < 3; i++) {
        if (t[i] && t[i] < inst->min_timeout)
            inst->min_timeout = t[i];
    }
    if (ic->n_alpn) {
        inst->alpn = loom_calloc(ic->n_alpn + 1, sizeof(char *));
        for (i = 0; i < ic->n_alpn; i++)
            inst->alpn[i] = loom_strdup(ic->alpn[i]);
    }
}

/* Deliver everything owed to INST: worker dones and deferred calls, which
 * may ask for more of each (while it stops, new jobs are cancelled at
 * once, so this ends). */
static void inst_settle(loom_server_t *srv, loom_instance_t *inst)
{
    do {
        loom_work_drain(inst);
        loom_defer_run(srv, inst);
    } while (inst->nwork > 0 || loom_defer_pending(srv, inst));
}

static void inst_free(loom_server_t *srv, loom_instance_t *inst)
{
    loom_instance_t **pp;

    for (pp = &srv->instances; *pp; pp = &(*pp)->next) {
        if (*pp == inst) {
            *pp = inst->next;
            break;
        }
    }
    /* Before stop: every done and deferred call owed (none comes after
     * stop but what stop itself asks for), no service, no timer. */
    inst->stopped = 1; /* no timer is armed for it from now on */
    inst_settle(srv, inst);
    loom_services_withdraw(inst, NULL);
    loom_timers_owner_gone(&inst->timers);
    if (inst->started && inst->mod->stop)
        inst->mod->stop(inst);
    /* What stop asked for (a last job is cancelled, a call runs) happens
     * now, while the instance still exists. */
    inst_settle(srv, inst);
    loom_services_withdraw(inst, NULL);
    /* Its subscriptions end after stop, which may still unsubscribe them
     * (and those made meanwhile end too); no delivery runs in between. */
    loom_bus_instance_gone(srv->bus, inst);
    if (inst->conf && inst->mod->conf_free)
        inst->mod->conf_free(inst->conf);
    if (inst->alog)
        loom_alog_close(inst->alog);
    inst_free_settings(inst);
    free(inst->name);
    free(inst);
}

static void server_reap(loom_server_t *srv)
{
    loom_instance_t *inst = srv->instances, *next;

    for (; inst; inst = next) {
        next = inst->next;
        if (inst->removed && inst->nconns == 0 && loom_work_quiesce(inst) == 0)
            inst_free(srv, inst);
    }
}

loom_instance_t *loom_server_instance(loom_server_t *srv, const char *module,
                                      const char *name)
{
    loom_instance_t *inst;

    for (inst = srv->instances; inst; inst = inst->next) {
        if (!inst->removed && strcmp(inst->mod->name, module) == 0 &&
            strcmp(inst->name, name) == 0)
            return inst;
    }
    return NULL;
}

/* ---- reactor callbacks -------------------------------------------------- */

static void server_on_sweep(evutil_socket_t fd, short what, void *arg)
{
    loom_server_t *srv = arg;

    (void)fd;
    (void)what;
    loom_conn_sweep(srv, loom_now_sec());
    server_reap(srv);
}

static void server_on_defer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    loom_conn_run_deferred(arg);
}

loom_server_t *loom_server_new(struct event_base *base)
{
    loom_server_t *srv = loom_calloc(1, sizeof(*srv));
    struct timeval one = {1, 0};
    char err[256];

    srv->base = base;
    srv->started_ms = loom_now_ms();
    srv->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    srv->sweep = event_new(base, -1, EV_PERSIST, server_on_sweep, srv);
    event_add(srv->sweep, &one);
    srv->resume = evtimer_new(base, loom_listener_resume_cb, srv);
    srv->defer = event_new(base, -1, 0, server_on_defer, srv);
    loom_reactor_init(srv);
    srv->work = loom_work_pool_new(srv);
    srv->bus = loom_bus_new(srv);
    srv->resolver = loom_resolver_new(base, err, sizeof(err));
    if (srv->resolver == NULL)
        loom_log(LOOM_LOG_WARN, NULL, "resolver unavailable: %s", err);
    return srv;
}

void loom_server_set_daemon(loom_server_t *srv,
                            const loom_daemon_hooks_t *hooks, void *arg)
{
    srv->daemon = hooks;
    srv->daemon_arg = arg;
}

/* ---- applying a configuration ------------------------------------------- */

typedef struct {
    loom_listener_t *ls;
    loom_instance_conf_t *ic;
    SSL_CTX *ctx;
    int fresh; /* bound by this apply */
} apply_listener_t;

/* A new instance, not linked into the server until the commit. */
static loom_instance_t *inst_new(loom_server_t *srv, loom_instance_conf_t *ic)
{
    loom_instance_t *inst = loom_calloc(1, sizeof(*inst));

    inst->srv = srv;
    inst->mod = ic->module;
    inst->name = loom_strdup(ic->name);
    snprintf(inst->who, sizeof(inst->who), "%s/%s", inst->mod->name,
             inst->name);
    return inst;
}

/* Phase one for every instance of CFG: find the running instance or make
 * a new one into INSTS[i] (FRESH[i] set), and let its module prepare its
 * new settings.  Returns LOOM_OK, or LOOM_ERROR with ERR set, the new
 * instances freed and INSTS cleared. */
static int server_prepare(loom_server_t *srv, loom_config_t *cfg,
                          loom_instance_t **insts, char *fresh, char *err,
                          size_t errlen)
{
    char msg[768];
    size_t i;

    srv->preparing = cfg; /* for loom_server_run_as */
    for (i = 0; i < cfg->n_inst; i++) {
        loom_instance_conf_t *ic = &cfg->inst[i];
        loom_instance_t *inst =
            loom_server_instance(srv, ic->module->name, ic->name);

        if (inst == NULL || inst->mod != ic->module) {
            inst = inst_new(srv, ic);
            fresh[i] = 1;
        }
        insts[i] = inst;
        msg[0] = '\0';
        if (ic->module->prepare &&
            ic->module->prepare(inst, ic->mod_conf, msg, sizeof(msg)) !=
                LOOM_OK) {
            snprintf(err, errlen, "%s: %s: %s", ic->where, inst->who,
                     msg[0] ? msg : "cannot apply this configuration");
            srv->preparing = NULL;
            for (i = 0; i < cfg->n_inst; i++) {
                if (fresh[i] && insts[i]) {
                    free(insts[i]->name);
                    free(insts[i]);
                }
                insts[i] = NULL;
                fresh[i] = 0;
            }
            return LOOM_ERROR;
        }
    }
    srv->preparing = NULL;
    return LOOM_OK;
}

int loom_server_run_as(loom_server_t *srv, uid_t *uid, gid_t *gid)
{
    const loom_config_t *cfg = srv->preparing ? srv->preparing : srv->cfg;
    struct passwd *pw;
    struct group *gr;

    *uid = geteuid();
    *gid = getegid();
    if (*uid != 0 || cfg == NULL || !cfg->user_set)
        return LOOM_OK;
    pw = getpwnam(cfg->user);
    if (pw == NULL)
        return LOOM_ERROR;
    *uid = pw->pw_uid;
    *gid = pw->pw_gid;
    if (cfg->group) {
        gr = getgrnam(cfg->group);
        if (gr == NULL)
            return LOOM_ERROR;
        *gid = gr->gr_gid;
    }
    return LOOM_OK;
}

int loom_server_check(loom_server_t *srv, loom_config_t *cfg, char *err,
                      size_t errlen)
{
    size_t n = cfg->n_inst ? cfg->n_inst : 1, i;
    loom_instance_t **insts = loom_calloc(n, sizeof(*insts));
    char *fresh = loom_calloc(n, 1);
    int rc = server_prepare(srv, cfg, insts, fresh, err, errlen);

    for (i = 0; rc == LOOM_OK && i < cfg->n_inst; i++) {
        if (fresh[i]) {
            free(insts[i]->name);
            free(insts[i]);
        }
    }
    free(insts);
    free(fresh);
    return rc;
}

static loom_listener_t *server_find_listener(loom_server_t *srv,
                                             const loom_listen_conf_t *lc)
{
    loom_listener_t *ls;
    char key[320];

    loom_endpoint_format(&lc->ep, key, sizeof(key));
    for (ls = srv->listeners; ls; ls = ls->next) {
        if (!ls->mark && strcmp(ls->key, key) == 0 &&
            (ls->ep.kind == LOOM_EP_UDP) == (lc->ep.kind == LOOM_EP_UDP))
            return ls;
    }
    return NULL;
}

static int server_apply(loom_server_t *srv, loom_config_t *cfg, int bind,
                        char *err, size_t errlen)
{
    apply_listener_t *al = NULL;
    loom_alog_t **alogs;
    loom_instance_t **insts;
    char *fresh;
    loom_tls_t *tls;
    loom_listener_t *ls, *next, *kept = NULL;
    loom_instance_t *inst;
    size_t n_al = 0, total = 0, i, j;
    char msg[512];

    /* loom_config_load's check built the profiles already */
    tls = cfg->tls_built ? cfg->tls_built : loom_tls_new(cfg, err, errlen);
    cfg->tls_built = NULL;
    if (tls == NULL)
        return LOOM_ERROR;
    for (i = 0; i < cfg->n_inst; i++)
        total += cfg->inst[i].n_listen;
    al = loom_calloc(total ? total : 1, sizeof(*al));
    alogs = loom_calloc(cfg->n_inst ? cfg->n_inst : 1, sizeof(*alogs));
    insts = loom_calloc(cfg->n_inst ? cfg->n_inst : 1, sizeof(*insts));
    fresh = loom_calloc(cfg->n_inst ? cfg->n_inst : 1, 1);
    for (ls = srv->listeners; ls; ls = ls->next)
        ls->mark = 0;

    /* Phase 1: everything that can fail. */
    for (i = 0; bind && i < cfg->n_inst; i++) {
        loom_instance_conf_t *ic = &cfg->inst[i];

        for (j = 0; j < ic->n_listen; j++) {
            loom_listen_conf_t *lc = &ic->listen[j];
            apply_listener_t *a = &al[n_al];

            a->ic = ic;
            a->ls = server_find_listener(srv, lc);
            if (a->ls == NULL) {
                a->ls = loom_listener_open(srv, lc, msg, sizeof(msg));
                if (a->ls == NULL) {
                    snprintf(err, errlen, "%s: %s", lc->where, msg);
                    goto rollback;
                }
                a->fresh = 1;
            }
            a->ls->mark = 1;
            a->ls->ep = lc->ep;
            n_al++;
            if (lc->ep.kind == LOOM_EP_TLS) {
                a->ctx = loom_tls_listener_ctx(tls, &lc->ep, msg, sizeof(msg));
                if (a->ctx == NULL) {
                    snprintf(err, errlen, "%s: endpoint '%s': %s", lc->where,
                             lc->text, msg);
                    goto rollback;
                }
            }
        }
    }
    for (i = 0; i < cfg->n_inst; i++) {
        if (cfg->inst[i].access_log == NULL)
            continue;
        alogs[i] = loom_alog_open(cfg->inst[i].access_log);
        if (alogs[i] == NULL) {
            snprintf(err, errlen, "%s: cannot open access log %s: %s",
                     cfg->inst[i].where, cfg->inst[i].access_log,
                     strerror(errno));
            goto rollback;
        }
    }
    if (server_prepare(srv, cfg, insts, fresh, err, errlen) != LOOM_OK)
        goto rollback;

    /* Phase 2: commit. */
    loom_log_setup((loom_log_level_t)cfg->log_level, cfg->log_syslog);
    for (inst = srv->instances; inst; inst = inst->next)
        inst->mark = 0;
    for (i = 0; i < cfg->n_inst; i++) {
        loom_instance_conf_t *ic = &cfg->inst[i];
        void *old_conf = NULL;

        inst = insts[i];
        if (!fresh[i]) {
            old_conf = inst->conf;
            inst_take(inst, ic, alogs[i]);
            if (inst->mod->reload)
                inst->mod->reload(inst);
            if (old_conf && inst->mod->conf_free)
                inst->mod->conf_free(old_conf);
        } else {
            loom_instance_t *old =
                loom_server_instance(srv, ic->module->name, ic->name);

            if (old) { /* the same name under a module loaded since */
                old->removed = 1;
                loom_services_withdraw(old, NULL);
            }
            inst_take(inst, ic, alogs[i]);
            inst->next = srv->instances;
            srv->instances = inst;
        }
        alogs[i] = NULL;
        inst->mark = 1;
    }
    for (inst = srv->instances; inst; inst = inst->next) {
        if (!inst->mark && !inst->removed) {
            inst->removed = 1;
            loom_services_withdraw(inst, NULL);
            loom_log(LOOM_LOG_INFO, NULL, "%s removed", inst->who);
        }
    }
    for (i = 0; i < n_al; i++) {
        ls = al[i].ls;
        ls->inst =
            loom_server_instance(srv, al[i].ic->module->name, al[i].ic->name);
        if (ls->ssl_ctx)
            SSL_CTX_free(ls->ssl_ctx);
        ls->ssl_ctx = al[i].ctx;
        /* Quiet on the first start, so a start-up error stays the only
         * line on stderr; a reload says what it opened. */
        if (al[i].fresh)
            loom_log(srv->cfg ? LOOM_LOG_INFO : LOOM_LOG_DEBUG, ls->inst->who,
                     "listening on %s", ls->text);
    }
    for (ls = srv->listeners; ls; ls = next) {
        next = ls->next;
        if (ls->mark) {
            ls->next = kept;
            kept = ls;
        } else {
            loom_log(LOOM_LOG_INFO, NULL, "closing listener %s", ls->text);
            loom_listener_close(ls);
        }
    }
    srv->listeners = kept;
    for (i = 0; i < n_al; i++) {
        if (al[i].fresh) {
            al[i].ls->next = srv->listeners;
            srv->listeners = al[i].ls;
        }
    }
    for (ls = srv->listeners; ls; ls = ls->next)
        loom_listener_enable(ls);
    loom_tls_free(srv->tls);
    srv->tls = tls;
    loom_bus_apply(srv->bus, cfg->routes);
    cfg->routes = NULL;
    loom_config_free(srv->cfg);
    srv->cfg = cfg;
    srv->max_connections = cfg->max_connections;
    loom_work_pool_resize(srv->work, (unsigned)cfg->workers);
    free(al);
    free(alogs);
    free(insts);
    free(fresh);

    for (inst = srv->instances; inst; inst = inst->next) {
        if (inst->started || inst->removed)
            continue;
        inst->started = 1;
        if (inst->mod->start)
            inst->mod->start(inst);
    }
    server_reap(srv);
    return LOOM_OK;

rollback:
    for (i = 0; i < n_al; i++) {
        if (al[i].ctx)
            SSL_CTX_free(al[i].ctx);
        if (al[i].fresh)
            loom_listener_close(al[i].ls);
    }
    for (i = 0; i < cfg->n_inst; i++) {
        if (alogs[i])
            loom_alog_close(alogs[i]);
    }
    for (ls = srv->listeners; ls; ls = ls->next)
        ls->mark = 0;
    free(al);
    free(alogs);
    free(insts);
    free(fresh);
    loom_tls_free(tls);
    return LOOM_ERROR;
}

/* Apply CFG (taking it) or free it and keep what runs. */
static int server_take(loom_server_t *srv, loom_config_t *cfg, int bind,
                       char *err, size_t errlen)
{
    if (cfg == NULL)
        return LOOM_ERROR;
    if (server_apply(srv, cfg, bind, err, errlen) != LOOM_OK) {
        if (srv->cfg != cfg)
            loom_config_free(cfg);
        return LOOM_ERROR;
    }
    return LOOM_OK;
}

int loom_server_start(loom_server_t *srv, loom_config_t *cfg, char *err,
                      size_t errlen)
{
    char *abs = realpath(cfg->file, NULL);

    free(srv->conf_file);
    free(srv->conf_abs);
    srv->conf_file = loom_strdup(cfg->file);
    /* reloads read the file as given (its relative paths resolve as at
     * start); status shows where it is, whatever loomctl's directory */
    srv->conf_abs = abs ? abs : loom_strdup(cfg->file);
    return server_take(srv, cfg, 1, err, errlen);
}

int loom_server_start_text(loom_server_t *srv, const char *text, char *err,
                           size_t errlen)
{
    return server_take(srv, loom_config_load("[text]", text, err, errlen), 0,
                       err, errlen);
}

int loom_server_reload(loom_server_t *srv, char *err, size_t errlen)
{
    if (server_take(srv, loom_config_load(srv->conf_file, NULL, err, errlen), 1,
                    err, errlen) != LOOM_OK)
        return LOOM_ERROR;
    loom_alog_reopen_all();
    return LOOM_OK;
}

/* ---- stopping ----------------------------------------------------------- */

static void server_on_grace(evutil_socket_t fd, short what, void *arg)
{
    loom_server_t *srv = arg;

    (void)fd;
    (void)what;
    loom_log(LOOM_LOG_INFO, NULL, "grace period over: closing %u connection(s)",
             srv->nconns);
    loom_conn_abort_all(srv, NULL);
    if (srv->shutdown_done) {
        /* Outbound connections belong to inbound ones and are gone with
         * them; whatever is left must not hold the exit. */
        void (*done)(void *) = srv->shutdown_done;

        srv->shutdown_done = NULL;
        done(srv->shutdown_arg);
    }
}

void loom_server_shutdown(loom_server_t *srv, unsigned grace,
                          void (*done)(void *arg), void *arg)
{
    loom_listener_t *ls;
    loom_instance_t *inst;
    struct timeval tv = {(time_t)grace, 0};

    srv->shutting_down = 1;
    for (ls = srv->listeners; ls; ls = srv->listeners) {
        srv->listeners = ls->next;
        loom_listener_close(ls);
    }
    for (inst = srv->instances; inst; inst = inst->next)
        if (inst->started && inst->mod->quiesce)
            inst->mod->quiesce(inst);
    if (srv->nconns == 0 && srv->lingers == NULL) {
        done(arg);
        return;
    }
    srv->shutdown_done = done;
    srv->shutdown_arg = arg;
    srv->grace = evtimer_new(srv->base, server_on_grace, srv);
    evtimer_add(srv->grace, &tv);
}

void loom_server_free(loom_server_t *srv)
{
    loom_listener_t *ls;
    int i;

    srv->shutdown_done = NULL;
    loom_conn_abort_all(srv, NULL);
    loom_conn_run_deferred(srv);
    loom_linger_free_all(srv);
    while ((ls = srv->listeners) != NULL) {
        srv->listeners = ls->next;
        loom_listener_close(ls);
    }
    loom_sdsock_free(srv);
    loom_work_pool_close(srv->work);
    while (srv->instances)
        inst_free(srv, srv->instances);
    /* Outbound connections that stop callbacks aborted (pooled upstream
     * connections) are finalized now, not leaked. */
    for (i = 0; srv->deferred && i < 64; i++)
        loom_conn_run_deferred(srv);
    while (srv->calls)
        loom_defer_run(srv, NULL);
    loom_bus_free(srv->bus);
    loom_work_pool_free(srv->work);
    loom_reactor_free(srv);
    loom_services_free(srv);
    loom_tls_free(srv->tls);
    loom_config_free(srv->cfg);
    loom_resolver_free(srv->resolver);
    loom_dgram_batch_free(srv);
    event_free(srv->sweep);
    event_free(srv->resume);
    event_free(srv->defer);
    if (srv->grace)
        event_free(srv->grace);
    if (srv->reserve_fd >= 0)
        close(srv->reserve_fd);
    free(srv->conf_file);
    free(srv->conf_abs);
    free(srv);
}
