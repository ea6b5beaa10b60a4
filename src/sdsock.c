/*
 * sdsock.c - systemd integration: socket activation (the listening
 * sockets systemd or systemd-socket-activate passes) and the STATUS= line.
 *
 * At start the passed descriptors are collected once into a pool
 * (sd_listen_fds_with_names, which also clears LISTEN_* so no child sees
 * them).  Opening a listener first looks in the pool for a socket of the
 * same type bound to the same address and adopts a duplicate of it; only
 * when there is none does it bind one itself.  The pool keeps its own
 * descriptors for the life of the server, so a listener a reload closes
 * and a later reload opens again adopts the same socket (a bind would fail:
 * systemd still holds the address).  Passed sockets no listener asked for
 * are named in a warning: they stay open (a reload may want them) and
 * their backlog is never accepted.
 */
#include "core.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#endif

struct loom_sdsock_s {
    int fd;
    int type; /* SOCK_STREAM or SOCK_DGRAM */
    struct sockaddr_storage ss;
    socklen_t sslen;
    char name[64]; /* FileDescriptorName=, or "" */
    char addr[300];
    unsigned adopted; /* listeners opened on it so far */
};

static void sd_addr_text(const struct sockaddr_storage *ss, socklen_t len,
                         char *out, size_t outlen)
{
    char host[INET6_ADDRSTRLEN];

    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)ss;

        inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
        snprintf(out, outlen, "%s:%u", host, ntohs(in->sin_port));
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;

        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
        snprintf(out, outlen, "[%s]:%u", host, ntohs(in6->sin6_port));
    } else if (ss->ss_family == AF_UNIX &&
               len > (socklen_t)offsetof(struct sockaddr_un, sun_path)) {
        const struct sockaddr_un *un = (const struct sockaddr_un *)ss;

        snprintf(out, outlen, "unix:%.*s",
                 (int)(len - offsetof(struct sockaddr_un, sun_path)),
                 un->sun_path);
    } else {
        snprintf(out, outlen, "(family %d)", ss->ss_family);
    }
}

/* Same family, address and port (or path). */
static int sd_same_addr(const struct sockaddr_storage *a,
                        const struct sockaddr_storage *b, size_t pathlen)
{
    if (a->ss_family != b->ss_family)
        return 0;
    if (a->ss_family == AF_INET) {
        const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;

        return x->sin_port == y->sin_port &&
               x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    if (a->ss_family == AF_INET6) {
        const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;

        return x->sin6_port == y->sin6_port &&
               memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
    }
    if (a->ss_family == AF_UNIX) {
        const struct sockaddr_un *x = (const void *)a, *y = (const void *)b;

        return strncmp(x->sun_path, y->sun_path, pathlen) == 0 &&
               strlen(x->sun_path) == pathlen;
    }
    return 0;
}

int loom_sdsock_collect(loom_server_t *srv)
{
#ifdef HAVE_LIBSYSTEMD
    char **names = NULL;
    int n, i;

    n = sd_listen_fds_with_names(1, &names);
    if (n < 0)
        loom_log(LOOM_LOG_WARN, NULL,
                 "socket activation: LISTEN_FDS is not usable: %s",
                 strerror(-n));
    if (n <= 0)
        return 0;
    srv->sd = loom_calloc((size_t)n, sizeof(*srv->sd));
    for (i = 0; i < n; i++) {
        loom_sdsock_t *s = &srv->sd[srv->nsd];
        int fd = SD_LISTEN_FDS_START + i;
        socklen_t tl = sizeof(s->type);

        s->sslen = sizeof(s->ss);
        if (getsockname(fd, (struct sockaddr *)&s->ss, &s->sslen) != 0 ||
            getsockopt(fd, SOL_SOCKET, SO_TYPE, &s->type, &tl) != 0) {
            loom_log(LOOM_LOG_WARN, NULL,
                     "socket activation: passed descriptor %d (%s) is not a "
                     "socket: ignored",
                     fd, names && names[i] ? names[i] : "");
            continue;
        }
        s->fd = fd;
        fcntl(fd, F_SETFD, FD_CLOEXEC);
        snprintf(s->name, sizeof(s->name), "%s",
                 names && names[i] ? names[i] : "");
        sd_addr_text(&s->ss, s->sslen, s->addr, sizeof(s->addr));
        srv->nsd++;
    }
    if (names) {
        for (i = 0; i < n; i++)
            free(names[i]);
        free(names);
    }
    loom_log(LOOM_LOG_INFO, NULL, "socket activation: %zu socket(s) passed",
             srv->nsd);
    return (int)srv->nsd;
#else
    (void)srv;
    return 0;
#endif
}

int loom_sdsock_take(loom_server_t *srv, const loom_endpoint_t *ep,
                     const char *text)
{
    struct sockaddr_storage want;
    socklen_t wlen = sizeof(want);
    size_t pathlen = 0, i;
    int type = ep->kind == LOOM_EP_UDP ? SOCK_DGRAM : SOCK_STREAM;

    if (srv->nsd == 0)
        return -1;
    memset(&want, 0, sizeof(want));
    if (ep->kind == LOOM_EP_UNIX) {
        want.ss_family = AF_UNIX;
        pathlen = strlen(ep->path);
        memcpy(((struct sockaddr_un *)&want)->sun_path, ep->path,
               pathlen < sizeof(((struct sockaddr_un *)&want)->sun_path)
                   ? pathlen
                   : 0);
    } else if (loom_endpoint_sockaddr(ep, &want, &wlen) != 0) {
        return -1;
    }
    for (i = 0; i < srv->nsd; i++) {
        loom_sdsock_t *s = &srv->sd[i];
        int fd;

        if (s->type != type || !sd_same_addr(&s->ss, &want, pathlen))
            continue;
        fd = fcntl(s->fd, F_DUPFD_CLOEXEC, 0);
        if (fd < 0)
            return -1;
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        s->adopted++;
        loom_log(LOOM_LOG_INFO, NULL,
                 "socket activation: %s adopted from systemd (fd %d%s%s)", text,
                 s->fd, s->name[0] ? ", " : "", s->name);
        return fd;
    }
    return -1;
}

void loom_sdsock_report(loom_server_t *srv)
{
    size_t i, adopted = 0;

    if (srv->nsd == 0)
        return;
    for (i = 0; i < srv->nsd; i++) {
        if (srv->sd[i].adopted)
            adopted++;
        else
            loom_log(LOOM_LOG_WARN, NULL,
                     "socket activation: %s %s (fd %d%s%s) matches no "
                     "listener: kept open but not served",
                     srv->sd[i].type == SOCK_DGRAM ? "datagram" : "stream",
                     srv->sd[i].addr, srv->sd[i].fd,
                     srv->sd[i].name[0] ? ", " : "", srv->sd[i].name);
    }
    loom_log(LOOM_LOG_INFO, NULL,
             "socket activation: %zu of %zu passed socket(s) adopted", adopted,
             srv->nsd);
}

void loom_sdsock_free(loom_server_t *srv)
{
    size_t i;

    for (i = 0; i < srv->nsd; i++)
        close(srv->sd[i].fd);
    free(srv->sd);
    srv->sd = NULL;
    srv->nsd = 0;
}

void loom_server_summary(loom_server_t *srv, loom_summary_t *prev, char *out,
                         size_t len)
{
    struct timespec ts;
    loom_listener_t *ls;
    unsigned nls = 0;
    double now, dt;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    now = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
    for (ls = srv->listeners; ls; ls = ls->next)
        nls++;
    dt = prev->at > 0 ? now - prev->at : 0;
    if (dt > 0)
        snprintf(out, len,
                 "%u listeners, %u connections, %.1f conn/s, %.1f datagrams/s",
                 nls, srv->nconns,
                 (double)(srv->accepted - prev->accepted) / dt,
                 (double)(srv->datagrams - prev->datagrams) / dt);
    else
        snprintf(out, len, "%u listeners, %u connections", nls, srv->nconns);
    prev->accepted = srv->accepted;
    prev->datagrams = srv->datagrams;
    prev->at = now;
}
