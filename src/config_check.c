/*
 * config_check.c - what can be known about a configuration without
 * binding anything: listen addresses that are addresses, UNIX socket
 * paths that fit, listeners that would get in each other's way, TLS
 * certificates and keys that load and match, access logs that can be
 * opened.
 *
 * loom_config_load runs this on every configuration it reads, so
 * `loomd -t`, the start and each reload check the same things, and a
 * configuration -t accepts fails at start only for what cannot be known
 * beforehand (a port another process holds, a file that changes).
 */
#include "core.h"

#include <errno.h>
#include <libgen.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sockpath.h"
#include "tls.h"

/* One listener of the configuration, with the socket address it binds. */
typedef struct {
    const loom_listen_conf_t *lc;
    const loom_instance_conf_t *ic;
    struct sockaddr_storage ss;
    int dgram; /* udp: its own port space */
} check_ls_t;

/* ---- one listener ------------------------------------------------------- */

/* The directory part of PATH, in OUT (LEN bytes). */
static void check_dirname(const char *path, char *out, size_t len)
{
    char copy[LOOM_EP_VALUE_MAX];

    snprintf(copy, sizeof(copy), "%s", path);
    snprintf(out, len, "%s", dirname(copy));
}

static int check_unix(const loom_listen_conf_t *lc, char *err, size_t errlen)
{
    const char *path = lc->ep.path;
    char dir[LOOM_EP_VALUE_MAX];
    struct stat st;
    char why[160];

    /* A long path is bound through its directory (sockpath.h): only the
     * file name must fit. */
    if (loom_sockpath_check(path, why, sizeof(why)) != 0) {
        snprintf(err, errlen, "%s: endpoint '%s': %s", lc->where, lc->text,
                 why);
        return LOOM_ERROR;
    }
    check_dirname(path, dir, sizeof(dir));
    if (stat(dir, &st) != 0) {
        snprintf(err, errlen,
                 "%s: endpoint '%s': cannot make the socket in %s: %s",
                 lc->where, lc->text, dir, strerror(errno));
        return LOOM_ERROR;
    }
    if (!S_ISDIR(st.st_mode)) {
        snprintf(err, errlen,
                 "%s: endpoint '%s': cannot make the socket: %s is not a "
                 "directory",
                 lc->where, lc->text, dir);
        return LOOM_ERROR;
    }
    /* loomd replaces a stale socket, never anything else. */
    if (lstat(path, &st) == 0 && !S_ISSOCK(st.st_mode)) {
        snprintf(err, errlen,
                 "%s: endpoint '%s': %s exists and is not a socket (loomd "
                 "replaces only a socket left by an earlier run)",
                 lc->where, lc->text, path);
        return LOOM_ERROR;
    }
    return LOOM_OK;
}

static int check_inet(check_ls_t *c, char *err, size_t errlen)
{
    const loom_listen_conf_t *lc = c->lc;
    socklen_t len;

    if (loom_endpoint_sockaddr(&lc->ep, &c->ss, &len) != 0) {
        snprintf(err, errlen,
                 "%s: endpoint '%s': interface '%s' is not an IP address "
                 "(a listener binds an address such as 127.0.0.1 or ::1, "
                 "not a host or interface name)",
                 lc->where, lc->text, lc->ep.host);
        return LOOM_ERROR;
    }
    c->dgram = lc->ep.kind == LOOM_EP_UDP;
    return LOOM_OK;
}

/* ---- listeners in each other's way -------------------------------------- */

static int check_port(const struct sockaddr_storage *ss)
{
    return ss->ss_family == AF_INET
               ? ntohs(((const struct sockaddr_in *)ss)->sin_port)
               : ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
}

/* 0.0.0.0 or ::, the address that binds every address of its family
 * (:: every IPv4 address too: loomd binds it dual-stack). */
static int check_wildcard(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET)
        return ((const struct sockaddr_in *)ss)->sin_addr.s_addr ==
               htonl(INADDR_ANY);
    return IN6_IS_ADDR_UNSPECIFIED(
        &((const struct sockaddr_in6 *)ss)->sin6_addr);
}

static int check_same_addr(const struct sockaddr_storage *a,
                           const struct sockaddr_storage *b)
{
    if (a->ss_family != b->ss_family)
        return 0;
    if (a->ss_family == AF_INET)
        return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
               ((const struct sockaddr_in *)b)->sin_addr.s_addr;
    return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
                  &((const struct sockaddr_in6 *)b)->sin6_addr,
                  sizeof(struct in6_addr)) == 0;
}

/* Would binding B fail once A is bound?  0 no, 1 the same socket, 2 a
 * wildcard and an address it covers. */
static int check_conflict(const check_ls_t *a, const check_ls_t *b)
{
    const loom_endpoint_t *ea = &a->lc->ep, *eb = &b->lc->ep;

    if ((ea->kind == LOOM_EP_UNIX) != (eb->kind == LOOM_EP_UNIX))
        return 0;
    if (ea->kind == LOOM_EP_UNIX)
        return strcmp(ea->path, eb->path) == 0;
    if (a->dgram != b->dgram || check_port(&a->ss) != check_port(&b->ss) ||
        check_port(&a->ss) == 0) /* port 0: each gets a port of its own */
        return 0;
    if (check_same_addr(&a->ss, &b->ss))
        return 1;
    if ((check_wildcard(&a->ss) &&
         (a->ss.ss_family == AF_INET6 || b->ss.ss_family == AF_INET)) ||
        (check_wildcard(&b->ss) &&
         (b->ss.ss_family == AF_INET6 || a->ss.ss_family == AF_INET)))
        return 2;
    return 0;
}

static int check_by_order(const void *x, const void *y)
{
    const check_ls_t *a = x, *b = y;

    return a->lc->order < b->lc->order ? -1 : a->lc->order > b->lc->order;
}

/* Report the first pair in file order at the listener written later,
 * naming the one written first. */
static int check_conflicts(check_ls_t *ls, size_t n, char *err, size_t errlen)
{
    size_t i, j;

    qsort(ls, n, sizeof(*ls), check_by_order);
    for (j = 1; j < n; j++) {
        for (i = 0; i < j; i++) {
            const check_ls_t *first = &ls[i], *later = &ls[j];
            int kind = check_conflict(first, later);

            if (kind == 0)
                continue;
            if (kind == 1)
                snprintf(err, errlen,
                         "%s: endpoint '%s' is already used by %s \"%s\" "
                         "(%s): two listeners cannot share a socket",
                         later->lc->where, later->lc->text,
                         first->ic->module->name, first->ic->name,
                         first->lc->where);
            else
                snprintf(err, errlen,
                         "%s: endpoint '%s' conflicts with '%s' of %s \"%s\" "
                         "(%s): on one port, an address cannot be bound "
                         "beside the wildcard address that covers it; give "
                         "both the same interface or use another port",
                         later->lc->where, later->lc->text, first->lc->text,
                         first->ic->module->name, first->ic->name,
                         first->lc->where);
            return LOOM_ERROR;
        }
    }
    return LOOM_OK;
}

static int check_listeners(loom_config_t *cfg, char *err, size_t errlen)
{
    check_ls_t *ls;
    size_t i, j, n = 0;
    int rc = LOOM_OK;

    for (i = 0; i < cfg->n_inst; i++)
        n += cfg->inst[i].n_listen;
    ls = loom_calloc(n ? n : 1, sizeof(*ls));
    n = 0;
    for (i = 0; i < cfg->n_inst && rc == LOOM_OK; i++) {
        for (j = 0; j < cfg->inst[i].n_listen && rc == LOOM_OK; j++) {
            check_ls_t *c = &ls[n++];

            c->lc = &cfg->inst[i].listen[j];
            c->ic = &cfg->inst[i];
            rc = c->lc->ep.kind == LOOM_EP_UNIX ? check_unix(c->lc, err, errlen)
                                                : check_inet(c, err, errlen);
        }
    }
    if (rc == LOOM_OK)
        rc = check_conflicts(ls, n, err, errlen);
    free(ls);
    return rc;
}

/* ---- TLS ---------------------------------------------------------------- */

/* Build every TLS context as the start would; the profile set is kept in
 * CFG for the server (the listeners' own contexts are thrown away). */
static int check_tls(loom_config_t *cfg, char *err, size_t errlen)
{
    loom_tls_t *tls = loom_tls_new(cfg, err, errlen);
    char msg[512];
    size_t i, j;
    int rc = LOOM_OK;

    if (tls == NULL)
        return LOOM_ERROR;
    for (i = 0; i < cfg->n_inst && rc == LOOM_OK; i++) {
        for (j = 0; j < cfg->inst[i].n_listen && rc == LOOM_OK; j++) {
            const loom_listen_conf_t *lc = &cfg->inst[i].listen[j];
            SSL_CTX *ctx;

            if (lc->ep.kind != LOOM_EP_TLS)
                continue;
            ctx = loom_tls_listener_ctx(tls, &lc->ep, msg, sizeof(msg));
            if (ctx == NULL) {
                snprintf(err, errlen, "%s: endpoint '%s': %s", lc->where,
                         lc->text, msg);
                rc = LOOM_ERROR;
            }
            SSL_CTX_free(ctx);
        }
    }
    if (rc == LOOM_OK)
        cfg->tls_built = tls;
    else
        loom_tls_free(tls);
    return rc;
}

/* ---- access logs -------------------------------------------------------- */

static int check_access_log(const loom_instance_conf_t *ic, char *err,
                            size_t errlen)
{
    const char *path = ic->access_log;
    char copy[4096], *dir;
    struct stat st;

    /* One already open is reused as it is: nothing is opened for it. */
    if (path == NULL || loom_alog_is_open(path))
        return LOOM_OK;
    if (stat(path, &st) == 0) {
        if (S_ISDIR(st.st_mode)) {
            snprintf(err, errlen, "%s: access log %s is a directory",
                     ic->access_log_where, path);
            return LOOM_ERROR;
        }
        if (access(path, W_OK) != 0) {
            snprintf(err, errlen, "%s: cannot write access log %s: %s",
                     ic->access_log_where, path, strerror(errno));
            return LOOM_ERROR;
        }
        return LOOM_OK;
    }
    snprintf(copy, sizeof(copy), "%s", path);
    dir = dirname(copy);
    if (stat(dir, &st) != 0) {
        snprintf(err, errlen, "%s: cannot create access log %s in %s: %s",
                 ic->access_log_where, path, dir, strerror(errno));
        return LOOM_ERROR;
    }
    if (!S_ISDIR(st.st_mode)) {
        snprintf(err, errlen,
                 "%s: cannot create access log %s: %s is not a directory",
                 ic->access_log_where, path, dir);
        return LOOM_ERROR;
    }
    if (access(dir, W_OK) != 0) {
        snprintf(err, errlen, "%s: cannot create access log %s in %s: %s",
                 ic->access_log_where, path, dir, strerror(errno));
        return LOOM_ERROR;
    }
    return LOOM_OK;
}

/* ---- all of it ---------------------------------------------------------- */

int loom_config_check(loom_config_t *cfg, char *err, size_t errlen)
{
    size_t i;

    if (check_listeners(cfg, err, errlen) != LOOM_OK ||
        check_tls(cfg, err, errlen) != LOOM_OK)
        return LOOM_ERROR;
    for (i = 0; i < cfg->n_inst; i++) {
        if (check_access_log(&cfg->inst[i], err, errlen) != LOOM_OK)
            return LOOM_ERROR;
    }
    return LOOM_OK;
}
