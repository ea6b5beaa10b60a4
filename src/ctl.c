/*
 * ctl.c - the built-in module `control`: the control socket loomctl talks
 * to.  One request line per connection (ctl_proto.h), one JSON reply
 * (ctl.h), then the server closes.
 *
 *   control {
 *       listen = "unix:/run/loom/control.sock:mode=0660"
 *       group = "adm"
 *   }
 *
 * Who may ask: the peer's credentials (SO_PEERCRED) must be root's,
 * loomd's own user's, or, with `group`, those of a member of that group;
 * anyone else gets an error reply and the connection is closed.  A reload
 * or a stop is not run inside the connection's callback: it is deferred
 * to a later reactor turn, the connection held across it.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core.h"
#include "ctl.h"

typedef struct {
    char *group; /* NULL: root and loomd's user only */
    gid_t gid;
    char **members; /* the group's member names, NULL-terminated */
} ctl_conf_t;

typedef struct {
    int answered; /* the one request was read; ignore the rest */
} ctl_conn_t;

/* A reload or stop waiting for the next reactor turn. */
typedef struct {
    loom_instance_t *inst; /* its deferred calls run before its stop */
    loom_conn_t *c;        /* held; NULL for a stop (answered already) */
    loom_ctl_later_t what;
    long grace;
} ctl_later_t;

static cfg_opt_t ctl_opts[] = {CFG_STR("group", NULL, CFGF_NONE), CFG_END()};

/* ---- configuration ------------------------------------------------------ */

static void ctl_conf_free(void *p)
{
    ctl_conf_t *cc = p;
    char **m;

    if (cc == NULL)
        return;
    for (m = cc->members; m && *m; m++)
        free(*m);
    free(cc->members);
    free(cc->group);
    free(cc);
}

static int ctl_configure(cfg_t *sec, void **conf)
{
    unsigned i, n = cfg_size(sec, "listen");
    const char *g = cfg_getstr(sec, "group");
    ctl_conf_t *cc;
    struct group *gr;
    size_t k;

    if (n == 0) {
        loom_conf_error(sec, NULL,
                        "control needs a listen = \"unix:PATH\" endpoint");
        return LOOM_ERROR;
    }
    for (i = 0; i < n; i++) {
        const char *text = cfg_getnstr(sec, "listen", i);

        if (strncmp(text, "unix:", 5) != 0) {
            loom_conf_error(sec, "listen",
                            "control listens on unix sockets only, not '%s'",
                            text);
            return LOOM_ERROR;
        }
    }
    cc = loom_calloc(1, sizeof(*cc));
    if (g) {
        errno = 0;
        gr = getgrnam(g);
        if (gr == NULL) {
            loom_conf_error(sec, "group", "unknown group '%s'", g);
            ctl_conf_free(cc);
            return LOOM_ERROR;
        }
        cc->group = loom_strdup(g);
        cc->gid = gr->gr_gid;
        for (k = 0; gr->gr_mem && gr->gr_mem[k]; k++)
            ;
        cc->members = loom_calloc(k + 1, sizeof(char *));
        for (k = 0; gr->gr_mem && gr->gr_mem[k]; k++)
            cc->members[k] = loom_strdup(gr->gr_mem[k]);
    }
    *conf = cc;
    return LOOM_OK;
}

/* With `group`, hand the socket files to that group so that its members
 * can connect (mode 0660); as root at start this always works, later
 * only when loomd's user is a member. */
static void ctl_socket_group(loom_instance_t *inst)
{
    ctl_conf_t *cc = loom_instance_conf(inst);
    loom_listener_t *ls;

    if (cc == NULL || cc->group == NULL)
        return;
    for (ls = inst->srv->listeners; ls; ls = ls->next) {
        if (ls->inst != inst || ls->ep.kind != LOOM_EP_UNIX || ls->adopted ||
            ls->closed)
            continue;
        if (chown(ls->ep.path, (uid_t)-1, cc->gid) != 0)
            loom_log(LOOM_LOG_WARN, inst->who, "cannot give %s to group %s: %s",
                     ls->ep.path, cc->group, strerror(errno));
    }
}

/* ---- who may ask -------------------------------------------------------- */

int loom_ctl_peer_allowed(uid_t uid, gid_t gid, const gid_t *groups, size_t n,
                          uid_t self, int has_group, gid_t group,
                          char *const *members, const char *user)
{
    size_t i;

    if (uid == 0 || uid == self)
        return 1;
    if (!has_group)
        return 0;
    if (gid == group)
        return 1;
    for (i = 0; i < n; i++) {
        if (groups[i] == group)
            return 1;
    }
    for (i = 0; user && members && members[i]; i++) {
        if (strcmp(members[i], user) == 0)
            return 1;
    }
    return 0;
}

/* Check C's peer; LOOM_OK, or LOOM_ERROR with the reason in WHY. */
static int ctl_check_peer(loom_conn_t *c, const ctl_conf_t *cc, char *why,
                          size_t len)
{
    struct ucred cred;
    socklen_t cl = sizeof(cred);
    gid_t groups[256];
    socklen_t gl = sizeof(groups);
    size_t ng = 0;
    struct passwd pw, *pwp = NULL;
    char pwbuf[1024];

    if (c->fd < 0)
        return LOOM_OK; /* in-memory: a test driving the module */
    if (getsockopt(c->fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) != 0) {
        snprintf(why, len, "permission denied: peer credentials unknown (%s)",
                 strerror(errno));
        return LOOM_ERROR;
    }
#ifdef SO_PEERGROUPS
    if (getsockopt(c->fd, SOL_SOCKET, SO_PEERGROUPS, groups, &gl) == 0)
        ng = gl / sizeof(gid_t);
#else
    (void)gl;
#endif
    if (cc->group && cred.uid != 0 && cred.uid != geteuid())
        (void)getpwuid_r(cred.uid, &pw, pwbuf, sizeof(pwbuf), &pwp);
    if (loom_ctl_peer_allowed(cred.uid, cred.gid, groups, ng, geteuid(),
                              cc->group != NULL, cc->gid, cc->members,
                              pwp ? pwp->pw_name : NULL))
        return LOOM_OK;
    if (cc->group)
        snprintf(why, len,
                 "permission denied: uid %u is not root, loomd's user or a "
                 "member of group %s",
                 (unsigned)cred.uid, cc->group);
    else
        snprintf(why, len,
                 "permission denied: uid %u is not root or loomd's user",
                 (unsigned)cred.uid);
    return LOOM_ERROR;
}

/* ---- the connection ----------------------------------------------------- */

static void ctl_send(loom_conn_t *c, char *reply, size_t len)
{
    loom_conn_write(c, reply, len);
    free(reply);
    loom_conn_close(c);
}

static int ctl_open(loom_conn_t *c)
{
    ctl_conf_t *cc = loom_instance_conf(c->inst);
    ctl_conn_t *st = loom_conn_data(c);
    char why[256];
    size_t len;
    char *reply;

    if (ctl_check_peer(c, cc, why, sizeof(why)) == LOOM_OK)
        return LOOM_OK;
    loom_log(LOOM_LOG_WARN, c->inst->who, "refused: %s", why);
    st->answered = 1;
    reply = loom_ctl_render_error(why, &len);
    ctl_send(c, reply, len);
    return LOOM_OK;
}

static void ctl_later_run(void *arg)
{
    ctl_later_t *p = arg;
    loom_server_t *srv = p->inst->srv;
    loom_ctl_t *out;
    size_t len;
    char *reply;

    if (p->what == LOOM_CTL_STOP) {
        if (!p->inst->stopped && !srv->shutting_down)
            loom_ctl_stop(srv, p->grace);
        free(p);
        return;
    }
    out = loom_ctl_new();
    if (p->inst->stopped || srv->shutting_down)
        loom_ctl_error(out, "loomd is stopping; not reloaded");
    else
        loom_ctl_reload(srv, out);
    reply = loom_ctl_render(out, &len);
    loom_ctl_free(out);
    /* a client gone meanwhile: the write fails, nothing else happens */
    ctl_send(p->c, reply, len);
    loom_conn_release(p->c);
    free(p);
}

static size_t ctl_data(loom_conn_t *c, const char *buf, size_t len)
{
    ctl_conn_t *st = loom_conn_data(c);
    loom_ctl_req_t req;
    loom_ctl_later_t what;
    loom_ctl_t *out;
    ctl_later_t *p;
    char err[256], *reply;
    long rc, grace;
    size_t n;

    if (st->answered)
        return len; /* one request per connection */
    rc = loom_ctl_parse(buf, len, &req, err, sizeof(err));
    if (rc == LOOM_AGAIN)
        return 0;
    st->answered = 1;
    if (rc < 0) {
        loom_log(LOOM_LOG_DEBUG, c->inst->who, "malformed request: %s", err);
        reply = loom_ctl_render_error(err, &n);
        ctl_send(c, reply, n);
        return len;
    }
    loom_log(LOOM_LOG_DEBUG, c->inst->who, "request: %s", req.argv[0]);
    out = loom_ctl_new();
    what = loom_ctl_dispatch(c->srv, req.argc, req.argv, out, &grace);
    loom_ctl_req_free(&req);
    if (what == LOOM_CTL_RELOAD) {
        loom_ctl_free(out);
        p = loom_calloc(1, sizeof(*p));
        p->inst = c->inst;
        p->c = c;
        p->what = what;
        loom_conn_hold(c);
        loom_defer(c->inst, ctl_later_run, p);
        return len;
    }
    reply = loom_ctl_render(out, &n);
    loom_ctl_free(out);
    ctl_send(c, reply, n);
    if (what == LOOM_CTL_STOP) {
        p = loom_calloc(1, sizeof(*p));
        p->inst = c->inst;
        p->what = what;
        p->grace = grace;
        loom_defer(c->inst, ctl_later_run, p);
    }
    return len;
}

static void ctl_start(loom_instance_t *inst)
{
    ctl_socket_group(inst);
}

const loom_module_t loom_control_module = {
    .abi = LOOM_MODULE_ABI,
    .name = "control",
    .options = ctl_opts,
    .conn_size = sizeof(ctl_conn_t),
    .idle_timeout = 30,
    .flags = LOOM_MODULE_SINGLE,
    .configure = ctl_configure,
    .conf_free = ctl_conf_free,
    .start = ctl_start,
    .reload = ctl_start,
    .stream = {.open = ctl_open, .data = ctl_data},
};
