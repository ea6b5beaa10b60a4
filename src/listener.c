/*
 * listener.c - listening sockets: bind (TCP, TLS, UNIX, UDP), accept with
 * connection limits, and shedding load without spinning when file
 * descriptors run out.
 */
#include "core.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "sockpath.h"
#include "tls.h"

static int ls_bind_unix(const loom_endpoint_t *ep, char *err, size_t errlen)
{
    loom_sockaddr_un_t sa;
    struct stat st;
    int fd = -1;

    if (loom_sockaddr_un(ep->path, &sa) != 0) {
        snprintf(err, errlen, "cannot bind unix:%s: %s", ep->path,
                 strerror(errno));
        return -1;
    }
    /* A stale socket from an earlier run is removed; anything else is not
     * ours to delete.  The full path: unlink has no sun_path limit. */
    if (lstat(ep->path, &st) == 0 && S_ISSOCK(st.st_mode))
        unlink(ep->path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa.sun, sa.len) != 0 ||
        (ep->mode >= 0 && chmod(ep->path, (mode_t)ep->mode) != 0) ||
        listen(fd, ep->backlog) != 0) {
        /* the directory is open: a missing entry is /proc's */
        int noproc = sa.dirfd >= 0 && errno == ENOENT;

        loom_sockaddr_un_done(&sa);
        snprintf(
            err, errlen, "cannot bind unix:%s: %s%s", ep->path, strerror(errno),
            noproc ? " (a path over 107 bytes is bound through /proc)" : "");
        if (fd >= 0)
            close(fd);
        return -1;
    }
    loom_sockaddr_un_done(&sa);
    return fd;
}

static int ls_bind_inet(const loom_endpoint_t *ep, const char *text, char *err,
                        size_t errlen)
{
    struct sockaddr_storage ss;
    socklen_t sslen;
    int fd, one = 1, zero = 0;
    int udp = ep->kind == LOOM_EP_UDP;

    if (loom_endpoint_sockaddr(ep, &ss, &sslen) != 0) {
        snprintf(err, errlen, "cannot bind %s: '%s' is not an IP address", text,
                 ep->host);
        return -1;
    }
    fd = socket(ss.ss_family,
                (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK | SOCK_CLOEXEC,
                0);
    if (fd < 0)
        goto fail;
    if (!udp)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (ss.ss_family == AF_INET6) {
        /* "::" is dual-stack; a specific IPv6 address is IPv6 only. */
        int v6only =
            IN6_IS_ADDR_UNSPECIFIED(&((struct sockaddr_in6 *)&ss)->sin6_addr)
                ? zero
                : one;

        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only));
    }
    if (bind(fd, (struct sockaddr *)&ss, sslen) != 0)
        goto fail;
    if (!udp && listen(fd, ep->backlog) != 0)
        goto fail;
    return fd;
fail:
    snprintf(err, errlen, "cannot bind %s: %s", text, strerror(errno));
    if (fd >= 0)
        close(fd);
    return -1;
}

loom_listener_t *loom_listener_open(loom_server_t *srv,
                                    const loom_listen_conf_t *lc, char *err,
                                    size_t errlen)
{
    loom_listener_t *ls;
    int fd, adopted = 0;

    fd = loom_sdsock_take(srv, &lc->ep, lc->text);
    if (fd >= 0)
        adopted = 1;
    else if (lc->ep.kind == LOOM_EP_UNIX)
        fd = ls_bind_unix(&lc->ep, err, errlen);
    else
        fd = ls_bind_inet(&lc->ep, lc->text, err, errlen);
    if (fd < 0)
        return NULL;
    ls = loom_calloc(1, sizeof(*ls));
    ls->srv = srv;
    ls->id = ++srv->next_listener_id;
    ls->fd = fd;
    ls->adopted = adopted;
    ls->ep = lc->ep;
    ls->text = loom_strdup(lc->text);
    loom_endpoint_format(&lc->ep, ls->key, sizeof(ls->key));
    return ls;
}

/* ---- accepting ---------------------------------------------------------- */

/* Timer callback that ends an accept pause (see ls_shed). */
void loom_listener_resume_cb(evutil_socket_t fd, short what, void *arg)
{
    loom_server_t *srv = arg;

    (void)fd;
    (void)what;
    loom_listeners_pause(srv, 0);
}

/* Out of descriptors: shed one pending connection with the reserve fd so
 * the client gets a clean close instead of waiting; if that is not
 * possible, stop accepting for a moment. */
static int ls_shed(loom_listener_t *ls)
{
    loom_server_t *srv = ls->srv;
    int cfd;

    if (srv->reserve_fd >= 0) {
        close(srv->reserve_fd);
        srv->reserve_fd = -1;
        cfd = accept(ls->fd, NULL, NULL);
        if (cfd >= 0)
            close(cfd);
        srv->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (cfd >= 0)
            return 0;
    }
    if (!srv->accept_paused) {
        struct timeval tv = {0, 100 * 1000};

        loom_log(LOOM_LOG_WARN, NULL,
                 "out of file descriptors: accepting paused");
        loom_listeners_pause(srv, 1);
        event_add(srv->resume, &tv);
    }
    return -1;
}

static void ls_on_accept(evutil_socket_t lfd, short what, void *arg)
{
    loom_listener_t *ls = arg;
    loom_server_t *srv = ls->srv;
    loom_instance_t *inst = ls->inst;
    int i;

    (void)what;
    for (i = 0; i < 64 && ls->inst && !srv->accept_paused; i++) {
        loom_conn_t *c;
        int cfd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

        if (cfd < 0) {
            if (errno == EINTR)
                continue;
            if (errno == ECONNABORTED) {
                inst->accept_errors[LOOM_ACCEPT_ERR_ABORTED]++;
                continue;
            }
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
                errno == ENOMEM) {
                inst->accept_errors[LOOM_ACCEPT_ERR_RESOURCES]++;
                if (ls_shed(ls) != 0)
                    return;
                continue;
            }
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                inst->accept_errors[LOOM_ACCEPT_ERR_OTHER]++;
                loom_log(LOOM_LOG_ERROR, inst->who, "accept on %s: %s",
                         ls->text, strerror(errno));
            }
            return;
        }
        srv->accepted++;
        inst->accepted++;
        if ((srv->max_connections > 0 &&
             srv->nconns >= (unsigned)srv->max_connections) ||
            (inst->max_connections > 0 &&
             ls->nconns >= (unsigned)inst->max_connections)) {
            /* At a limit: refuse at once rather than let it queue. */
            inst->refused++;
            close(cfd);
            continue;
        }
        if (ls->ep.kind != LOOM_EP_UNIX) {
            int one = 1;

            setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        }
        c = loom_conn_new(srv, inst, &inst->mod->stream, cfd,
                          &loom_transport_fd, inst->mod->conn_size);
        c->ls = ls;
        ls->nconns++;
        if (ls->ssl_ctx) {
            c->ssl = loom_tls_server_ssl(c, NULL);
            if (c->ssl == NULL) {
                loom_conn_finalize(c);
                continue;
            }
        }
        loom_conn_start(c);
    }
}

/* ---- datagrams ---------------------------------------------------------- */

#define LOOM_DGRAM_BATCH 32
#define LOOM_DGRAM_MAX 65536                /* one datagram, in or out */
#define LOOM_DGRAM_OUT (4 * LOOM_DGRAM_MAX) /* queued replies */

struct loom_dgram_batch_s {
    struct mmsghdr in[LOOM_DGRAM_BATCH];
    struct iovec in_iov[LOOM_DGRAM_BATCH];
    struct sockaddr_storage in_peer[LOOM_DGRAM_BATCH];
    struct mmsghdr out[LOOM_DGRAM_BATCH];
    struct iovec out_iov[LOOM_DGRAM_BATCH];
    struct sockaddr_storage out_peer[LOOM_DGRAM_BATCH];
    unsigned nout;
    size_t out_used;
    loom_listener_t *active; /* the listener whose batch is being handled */
    char out_buf[LOOM_DGRAM_OUT];
    char in_buf[LOOM_DGRAM_BATCH][LOOM_DGRAM_MAX]; /* touched as used */
};

void loom_dgram_batch_free(loom_server_t *srv)
{
    free(srv->dgb);
    srv->dgb = NULL;
}

static void dgram_flush(struct loom_dgram_batch_s *b, int fd)
{
    unsigned sent = 0;

    while (sent < b->nout) {
        int n = sendmmsg(fd, b->out + sent, b->nout - sent, MSG_DONTWAIT);

        if (n <= 0) {
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
                sent++; /* skip the datagram the error is about */
            else
                break; /* socket buffer full: the rest is dropped */
        } else {
            sent += (unsigned)n;
        }
    }
    b->nout = 0;
    b->out_used = 0;
}

static void ls_on_datagram(evutil_socket_t fd, short what, void *arg)
{
    loom_listener_t *ls = arg;
    loom_instance_t *inst = ls->inst;
    struct loom_dgram_batch_s *b = ls->srv->dgb;
    int round;

    (void)what;
    if (b == NULL) {
        b = ls->srv->dgb = loom_calloc(1, sizeof(*b));
        for (int i = 0; i < LOOM_DGRAM_BATCH; i++) {
            b->in_iov[i].iov_base = b->in_buf[i];
            b->in_iov[i].iov_len = LOOM_DGRAM_MAX;
            b->in[i].msg_hdr.msg_iov = &b->in_iov[i];
            b->in[i].msg_hdr.msg_iovlen = 1;
            b->in[i].msg_hdr.msg_name = &b->in_peer[i];
            b->in[i].msg_hdr.msg_namelen = sizeof(b->in_peer[i]);
        }
    }
    for (round = 0; round < 4 && ls->inst; round++) {
        int n, i;

        n = recvmmsg(fd, b->in, LOOM_DGRAM_BATCH, MSG_DONTWAIT, NULL);
        if (n <= 0)
            return;
        ls->srv->datagrams += (uint64_t)n;
        b->active = ls;
        for (i = 0; i < n && ls->inst; i++) {
            loom_dgram_t dg;

            dg.srv = ls->srv;
            dg.listener = ls->id;
            dg.peer_len = b->in[i].msg_hdr.msg_namelen;
            memcpy(&dg.peer, &b->in_peer[i], dg.peer_len);
            /* recvmmsg() shrinks it to the address it stored */
            b->in[i].msg_hdr.msg_namelen = sizeof(b->in_peer[i]);
            if (inst->mod->datagram)
                inst->mod->datagram(inst, &dg, b->in_buf[i], b->in[i].msg_len);
        }
        b->active = NULL;
        dgram_flush(b, fd);
        if (n < LOOM_DGRAM_BATCH)
            return;
    }
}

/* The open UDP listener with id ID, or NULL. */
static loom_listener_t *dgram_listener(loom_server_t *srv, uint64_t id)
{
    loom_listener_t *ls;

    for (ls = srv->listeners; ls; ls = ls->next) {
        if (ls->id == id)
            return ls->fd >= 0 && ls->ep.kind == LOOM_EP_UDP ? ls : NULL;
    }
    return NULL;
}

int loom_dgram_reply(const loom_dgram_t *from, const char *buf, size_t len)
{
    loom_server_t *srv = from->srv;
    struct loom_dgram_batch_s *b = srv->dgb;
    loom_listener_t *ls;
    ssize_t n;

    if (b && b->active && b->active->id == from->listener) {
        ls = b->active;
        if (len <= LOOM_DGRAM_MAX) {
            struct msghdr *h;

            if (b->nout == LOOM_DGRAM_BATCH ||
                b->out_used + len > LOOM_DGRAM_OUT)
                dgram_flush(b, ls->fd);
            h = &b->out[b->nout].msg_hdr;
            memcpy(b->out_buf + b->out_used, buf, len);
            memcpy(&b->out_peer[b->nout], &from->peer, from->peer_len);
            b->out_iov[b->nout].iov_base = b->out_buf + b->out_used;
            b->out_iov[b->nout].iov_len = len;
            memset(h, 0, sizeof(*h));
            h->msg_iov = &b->out_iov[b->nout];
            h->msg_iovlen = 1;
            h->msg_name = &b->out_peer[b->nout];
            h->msg_namelen = from->peer_len;
            b->out_used += len;
            b->nout++;
            return LOOM_OK;
        }
    } else if ((ls = dgram_listener(srv, from->listener)) == NULL) {
        srv->dgram_dropped++;
        loom_log(LOOM_LOG_DEBUG, NULL,
                 "UDP reply dropped: its listener was closed meanwhile");
        return LOOM_DECLINED;
    }
    n = sendto(ls->fd, buf, len, MSG_DONTWAIT,
               (const struct sockaddr *)&from->peer, from->peer_len);
    return n == (ssize_t)len ? LOOM_OK : LOOM_ERROR;
}

/* ---- enable, pause, close ----------------------------------------------- */

void loom_listener_enable(loom_listener_t *ls)
{
    if (ls->ev)
        return;
    ls->ev = event_new(
        ls->srv->base, ls->fd, EV_READ | EV_PERSIST,
        ls->ep.kind == LOOM_EP_UDP ? ls_on_datagram : ls_on_accept, ls);
    if (!ls->srv->accept_paused || ls->ep.kind == LOOM_EP_UDP)
        event_add(ls->ev, NULL);
}

void loom_listeners_pause(loom_server_t *srv, int pause)
{
    loom_listener_t *ls;

    if (srv->accept_paused == pause)
        return;
    srv->accept_paused = pause;
    for (ls = srv->listeners; ls; ls = ls->next) {
        if (ls->ev == NULL || ls->ep.kind == LOOM_EP_UDP)
            continue;
        if (pause)
            event_del(ls->ev);
        else
            event_add(ls->ev, NULL);
    }
}

void loom_listener_close(loom_listener_t *ls)
{
    if (ls->ev) {
        event_free(ls->ev);
        ls->ev = NULL;
    }
    if (ls->fd >= 0) {
        close(ls->fd);
        ls->fd = -1;
        if (ls->ep.kind == LOOM_EP_UNIX && !ls->adopted)
            unlink(ls->ep.path);
    }
    ls->closed = 1;
    ls->inst = NULL;
    /* Connections accepted here still point at it: the last one frees it
     * (loom_listener_conn_closed). */
    if (ls->nconns == 0) {
        if (ls->ssl_ctx)
            SSL_CTX_free(ls->ssl_ctx);
        free(ls->text);
        free(ls);
    }
}

void loom_listener_conn_closed(loom_listener_t *ls)
{
    if (--ls->nconns == 0 && ls->closed) {
        ls->nconns = 0;
        loom_listener_close(ls);
    }
}
