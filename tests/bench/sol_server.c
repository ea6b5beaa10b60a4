/*
 * sol_server.c - the "speed of light" HTTP/1.1 server of tests/bench/http1.sh:
 * the least work a single-threaded epoll server can do per request, as a
 * ceiling for the real servers it is compared with.  It parses nothing: it
 * reads whatever arrives and answers with one canned 13-byte response for
 * every "\r\n\r\n" in the bytes read (a request head's end; a terminator
 * split across two reads is still counted once).  Bodies, methods and
 * paths are ignored; the connection is kept open until the client closes.
 *
 *     sol_server PORT [ADDR]        (default address 127.0.0.1)
 *
 * Level-triggered epoll, non-blocking sockets, accept4 in a loop.  If a
 * reply cannot be written whole, the rest is kept and sent when the
 * socket is writable (never happens with wrk's one request at a time, but
 * the server stays correct under pipelining).  SIGTERM / SIGINT stop it.
 * Not part of loom: built by the benchmark script with cc -O2.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

static const char reply[] = "HTTP/1.1 200 OK\r\n"
                            "Server: sol\r\n"
                            "Content-Type: text/plain\r\n"
                            "Content-Length: 13\r\n"
                            "\r\n"
                            "Hello, world\n";
#define REPLY_LEN (sizeof(reply) - 1)

typedef struct {
    int fd;
    int match;  /* bytes of "\r\n\r\n" matched at the end of the last read */
    char *pend; /* unsent output */
    size_t plen, pcap;
} conn_t;

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static void conn_close(int ep, conn_t *c)
{
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c->pend);
    free(c);
}

/* Count request-head terminators in BUF, carrying a partial match. */
static size_t count_heads(conn_t *c, const char *buf, size_t len)
{
    static const char term[] = "\r\n\r\n";
    size_t i, n = 0;

    for (i = 0; i < len; i++) {
        if (buf[i] == term[c->match]) {
            if (++c->match == 4) {
                n++;
                c->match = 0;
            }
        } else {
            c->match = buf[i] == '\r' ? 1 : 0;
        }
    }
    return n;
}

/* Write PEND; returns -1 on a dead socket. */
static int flush_pending(int ep, conn_t *c)
{
    struct epoll_event ev;
    size_t off = 0;

    while (off < c->plen) {
        ssize_t w = write(c->fd, c->pend + off, c->plen - off);

        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN)
                break;
            return -1;
        }
        off += (size_t)w;
    }
    memmove(c->pend, c->pend + off, c->plen - off);
    c->plen -= off;
    ev.events = EPOLLIN | (c->plen ? EPOLLOUT : 0);
    ev.data.ptr = c;
    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
    return 0;
}

static int queue_replies(conn_t *c, size_t n)
{
    size_t need = c->plen + n * REPLY_LEN;

    if (need > c->pcap) {
        char *p = realloc(c->pend, need);

        if (p == NULL)
            return -1;
        c->pend = p;
        c->pcap = need;
    }
    while (n--) {
        memcpy(c->pend + c->plen, reply, REPLY_LEN);
        c->plen += REPLY_LEN;
    }
    return 0;
}

static void on_readable(int ep, conn_t *c)
{
    char buf[16384];

    for (;;) {
        ssize_t r = read(c->fd, buf, sizeof(buf));
        size_t n;

        if (r == 0) {
            conn_close(ep, c);
            return;
        }
        if (r < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN)
                return;
            conn_close(ep, c);
            return;
        }
        n = count_heads(c, buf, (size_t)r);
        if (n == 1 && c->plen == 0) {
            /* the common case: one request, one write, nothing kept */
            ssize_t w = write(c->fd, reply, REPLY_LEN);

            if (w == (ssize_t)REPLY_LEN)
                n = 0;
            else if (w < 0 && errno != EAGAIN) {
                conn_close(ep, c);
                return;
            } else if (w > 0) {
                /* keep the rest */
                if (queue_replies(c, 1) < 0) {
                    conn_close(ep, c);
                    return;
                }
                memmove(c->pend, c->pend + w, REPLY_LEN - (size_t)w);
                c->plen = REPLY_LEN - (size_t)w;
                n = 0;
            }
        }
        if (n > 0 && queue_replies(c, n) < 0) {
            conn_close(ep, c);
            return;
        }
        if (c->plen && flush_pending(ep, c) < 0) {
            conn_close(ep, c);
            return;
        }
        if ((size_t)r < sizeof(buf))
            return; /* drained (level-triggered: more wakes us again) */
    }
}

int main(int argc, char **argv)
{
    struct sockaddr_in sa;
    struct epoll_event ev, evs[256];
    struct sigaction sig;
    int lfd, ep, one = 1;

    if (argc < 2) {
        fprintf(stderr, "usage: sol_server PORT [ADDR]\n");
        return 2;
    }
    memset(&sig, 0, sizeof(sig));
    sig.sa_handler = on_signal;
    sigaction(SIGTERM, &sig, NULL);
    sigaction(SIGINT, &sig, NULL);
    signal(SIGPIPE, SIG_IGN);

    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((unsigned short)atoi(argv[1]));
    if (inet_pton(AF_INET, argc > 2 ? argv[2] : "127.0.0.1", &sa.sin_addr) !=
        1) {
        fprintf(stderr, "sol_server: bad address\n");
        return 2;
    }
    lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (lfd < 0 ||
        setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        listen(lfd, 1024) < 0) {
        perror("sol_server: listen");
        return 1;
    }
    ep = epoll_create1(EPOLL_CLOEXEC);
    ev.events = EPOLLIN;
    ev.data.ptr = NULL; /* the listener */
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
    fprintf(stderr, "sol_server: listening on port %s\n", argv[1]);

    while (!stop) {
        int i, n = epoll_wait(ep, evs, 256, 1000);

        for (i = 0; i < n; i++) {
            conn_t *c = evs[i].data.ptr;

            if (c == NULL) {
                for (;;) {
                    int fd =
                        accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

                    if (fd < 0)
                        break;
                    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
                    c = calloc(1, sizeof(*c));
                    if (c == NULL) {
                        close(fd);
                        continue;
                    }
                    c->fd = fd;
                    ev.events = EPOLLIN;
                    ev.data.ptr = c;
                    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
                }
                continue;
            }
            if (evs[i].events & (EPOLLERR | EPOLLHUP) &&
                !(evs[i].events & EPOLLIN)) {
                conn_close(ep, c);
                continue;
            }
            if (evs[i].events & EPOLLOUT) {
                if (flush_pending(ep, c) < 0) {
                    conn_close(ep, c);
                    continue;
                }
            }
            if (evs[i].events & EPOLLIN)
                on_readable(ep, c);
        }
    }
    close(ep);
    close(lfd);
    return 0;
}
