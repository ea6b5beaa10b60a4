/* tests/bench/irc_load.c - the load generator of tests/bench/irc.sh: many
 * IRC clients in one epoll loop, one thread, fast enough that the server
 * and not this program is the limit (it prints its own CPU share so the
 * script can say so).  Built by irc.sh with cc -O2; not part of loomd.
 *
 *   irc_load fanout PORT SERVER_PID CLIENTS SENDERS SECONDS [PASS]
 *     CLIENTS clients register (PASS when given, NICK, USER) and join
 *     #bench; then SENDERS of them send PRIVMSG #bench for SECONDS
 *     seconds.  Every client reads everything.  A sender keeps at most
 *     $IRC_LOAD_WINDOW (default 8) of its messages unseen by the last
 *     client to join (the monitor, which sends nothing), so no server
 *     queue grows without bound and no server cuts a slow reader.  Prints
 *       deliveries N seconds S rate R server_ticks T client_ticks C
 *     N is the PRIVMSG lines every client received in the timed window,
 *     T the server's CPU (utime + stime of all its threads, clock ticks),
 *     C this program's.
 *
 *   irc_load idle PORT SERVER_PID CLIENTS [PASS]
 *     CLIENTS clients register (at most 8 at once: ngircd listens with a
 *     short backlog) and stay idle, answering PING; once all got 001 and
 *     the end of the MOTD (376 or 422) and a second passed, prints
 *       clients N rss_before_kib B rss_after_kib A
 *     with the server's VmRSS before the first connect and then.
 *
 * Exits 1 with a message on stderr when a client is refused or cut.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/times.h>
#include <time.h>
#include <unistd.h>

static long long window = 8; /* $IRC_LOAD_WINDOW */

enum { ST_CONNECTING, ST_REGISTERING, ST_READY };

typedef struct {
    int fd;
    int state;
    int sender; /* sender index, -1 for a listener */
    int seen;   /* 1: got 001, 2: got the end of the MOTD */
    size_t rlen;
    char *rbuf;
    char *wbuf; /* pending output (registration, PONG) */
    size_t wlen, wcap;
} client_t;

static client_t *clients;
static int nclients, nsenders, epfd, port;
static const char *pass;
static long long deliveries;
static int timing; /* counting deliveries */
static int joined;
static size_t rbuf_size = 65536;
static long long *sent_seq, *seen_seq; /* per sender */
static int monitor = -1;

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("irc_load: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long long proc_ticks(int pid)
{
    char path[64], buf[2048];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    if (!p)
        return -1;
    long long ut = 0, st = 0;
    /* after ") ": state ppid pgrp session tty tpgid flags minflt cminflt
     * majflt cmajflt utime stime */
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lld %lld",
               &ut, &st) != 2)
        return -1;
    return ut + st;
}

static long rss_kib(int pid)
{
    char path[64], line[256];
    long v = -1;
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld", &v) == 1)
            break;
    fclose(f);
    return v;
}

static void want_write(client_t *c, int on)
{
    struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0),
                             .data.ptr = c};
    if (epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0)
        die("epoll_ctl: %s", strerror(errno));
}

static void flush(client_t *c)
{
    while (c->wlen > 0) {
        ssize_t n = send(c->fd, c->wbuf, c->wlen, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR)
                break;
            die("client %d: send: %s", (int)(c - clients), strerror(errno));
        }
        memmove(c->wbuf, c->wbuf + n, c->wlen - (size_t)n);
        c->wlen -= (size_t)n;
    }
    if (c->state != ST_CONNECTING)
        want_write(c, c->wlen > 0);
}

static void queue(client_t *c, const char *fmt, ...)
{
    char tmp[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (c->wlen + (size_t)n > c->wcap) {
        c->wcap = (c->wlen + (size_t)n) * 2;
        c->wbuf = realloc(c->wbuf, c->wcap);
        if (!c->wbuf)
            die("out of memory");
    }
    memcpy(c->wbuf + c->wlen, tmp, (size_t)n);
    c->wlen += (size_t)n;
}

static void start_connect(client_t *c)
{
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (c->fd < 0)
        die("socket: %s (raise ulimit -n)", strerror(errno));
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(c->fd, (struct sockaddr *)&sa, sizeof sa) < 0 &&
        errno != EINPROGRESS)
        die("connect: %s", strerror(errno));
    c->state = ST_CONNECTING;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0)
        die("epoll_ctl add: %s", strerror(errno));
    int i = (int)(c - clients);
    if (pass)
        queue(c, "PASS %s\r\n", pass);
    queue(c, "NICK b%dx%d\r\nUSER u%d 0 * :bench client %d\r\n", i,
          (int)getpid() % 1000, i, i);
}

/* the command of LINE (after an optional :prefix), its length in *LEN */
static const char *command(const char *line, const char *end, size_t *len)
{
    const char *p = line;
    if (p < end && *p == ':') {
        p = memchr(p, ' ', (size_t)(end - p));
        if (!p)
            return NULL;
        while (p < end && *p == ' ')
            p++;
    }
    const char *q = p;
    while (q < end && *q != ' ')
        q++;
    *len = (size_t)(q - p);
    return p;
}

static void on_line(client_t *c, const char *line, const char *end)
{
    size_t len;
    const char *cmd = command(line, end, &len);
    if (!cmd)
        return;
    if (len == 7 && memcmp(cmd, "PRIVMSG", 7) == 0) {
        if (timing)
            deliveries++;
        if (c == &clients[monitor]) {
            /* ":b1!... PRIVMSG #bench :m SENDER SEQ" */
            const char *m = memmem(cmd, (size_t)(end - cmd), " :m ", 4);
            if (m) {
                int s = atoi(m + 4);
                const char *sp = memchr(m + 4, ' ', (size_t)(end - m - 4));
                if (s >= 0 && s < nsenders && sp)
                    seen_seq[s] = atoll(sp + 1);
            }
        }
        return;
    }
    if (len == 4 && memcmp(cmd, "PING", 4) == 0) {
        const char *arg = cmd + 4;
        queue(c, "PONG%.*s\r\n", (int)(end - arg), arg);
        flush(c);
        return;
    }
    if (len == 5 && memcmp(cmd, "ERROR", 5) == 0)
        die("client %d got %.*s", (int)(c - clients), (int)(end - line), line);
    if (len != 3)
        return;
    int num = atoi(cmd);
    if ((num == 1 || num == 376 || num == 422) && c->state != ST_READY) {
        /* Twisted words sends its MOTD before 001 */
        c->seen |= num == 1 ? 1 : 2;
        if (c->seen == 3) {
            c->state = ST_READY;
            joined++;
        }
    } else if (num == 366) {
        joined++;
    } else if (num == 433 || num == 464 || num == 465 || num == 451 ||
               num == 471 || num == 473 || num == 474 || num == 475) {
        die("client %d got %.*s", (int)(c - clients), (int)(end - line), line);
    }
}

static void on_read(client_t *c)
{
    for (;;) {
        ssize_t n = recv(c->fd, c->rbuf + c->rlen, rbuf_size - c->rlen, 0);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR)
                return;
            die("client %d: recv: %s", (int)(c - clients), strerror(errno));
        }
        if (n == 0)
            die("client %d: the server closed the connection",
                (int)(c - clients));
        c->rlen += (size_t)n;
        char *p = c->rbuf, *end = c->rbuf + c->rlen, *nl;
        while ((nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
            char *e = nl;
            if (e > p && e[-1] == '\r')
                e--;
            on_line(c, p, e);
            p = nl + 1;
        }
        c->rlen = (size_t)(end - p);
        if (c->rlen == rbuf_size)
            die("client %d: line longer than %zu bytes", (int)(c - clients),
                rbuf_size);
        memmove(c->rbuf, p, c->rlen);
        if ((size_t)n < rbuf_size / 2)
            return;
    }
}

static void on_event(struct epoll_event *ev)
{
    client_t *c = ev->data.ptr;
    if (c->state == ST_CONNECTING) {
        int err = 0;
        socklen_t el = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
        if (err)
            die("client %d: connect: %s", (int)(c - clients), strerror(err));
        if (!(ev->events & (EPOLLOUT | EPOLLIN)))
            return;
        c->state = ST_REGISTERING;
        flush(c);
    }
    if (ev->events & EPOLLIN)
        on_read(c);
    if ((ev->events & EPOLLOUT) && c->wlen > 0)
        flush(c);
    if (ev->events & (EPOLLHUP | EPOLLERR))
        die("client %d: connection error", (int)(c - clients));
}

static void poll_once(int ms)
{
    struct epoll_event evs[256];
    int n = epoll_wait(epfd, evs, 256, ms);
    if (n < 0 && errno != EINTR)
        die("epoll_wait: %s", strerror(errno));
    for (int i = 0; i < n; i++)
        on_event(&evs[i]);
}

static void setup(int n)
{
    nclients = n;
    clients = calloc((size_t)n, sizeof *clients);
    if (!clients)
        die("out of memory");
    for (int i = 0; i < n; i++) {
        clients[i].rbuf = malloc(rbuf_size);
        clients[i].sender = -1;
        clients[i].fd = -1;
        if (!clients[i].rbuf)
            die("out of memory");
    }
    epfd = epoll_create1(0);
    if (epfd < 0)
        die("epoll_create1: %s", strerror(errno));
}

/* connect every client, at most INFLIGHT registering at once, until all
 * saw the end of the MOTD */
static void connect_all(int inflight, double deadline)
{
    int next = 0;
    while (joined < nclients) {
        while (next < nclients && next - joined < inflight)
            start_connect(&clients[next++]);
        poll_once(100);
        if (now() > deadline)
            die("only %d of %d clients registered in time", joined, nclients);
    }
}

static long long self_ticks(void)
{
    struct tms t;
    times(&t);
    return (long long)(t.tms_utime + t.tms_stime);
}

static int fanout(int server_pid, int seconds)
{
    double deadline = now() + 120;
    connect_all(8, deadline);
    /* join the channel one client after the other: the last one to join
     * is the monitor */
    int before = joined;
    for (int i = 0; i < nclients; i++) {
        queue(&clients[i], "JOIN #bench\r\n");
        flush(&clients[i]);
        while (joined < before + i + 1) {
            poll_once(100);
            if (now() > deadline)
                die("client %d never joined #bench", i);
        }
    }
    monitor = nclients - 1;
    sent_seq = calloc((size_t)nsenders, sizeof *sent_seq);
    seen_seq = calloc((size_t)nsenders, sizeof *seen_seq);
    for (int s = 0; s < nsenders; s++)
        clients[s].sender = s;
    static const char pad[] = "the quick brown fox jumps over the lazy dog";
    long long t0 = proc_ticks(server_pid), c0 = self_ticks();
    double start = now(), end = start + seconds;
    timing = 1;
    while (now() < end) {
        for (int s = 0; s < nsenders; s++) {
            client_t *c = &clients[s];
            int burst = 0;
            while (sent_seq[s] - seen_seq[s] < window && burst < 8) {
                sent_seq[s]++;
                queue(c, "PRIVMSG #bench :m %d %lld %s\r\n", s, sent_seq[s],
                      pad);
                burst++;
            }
            if (burst)
                flush(c);
        }
        poll_once(10);
    }
    timing = 0;
    double took = now() - start;
    long long t1 = proc_ticks(server_pid), c1 = self_ticks();
    if (t0 < 0 || t1 < 0)
        die("cannot read /proc/%d/stat", server_pid);
    printf("deliveries %lld seconds %.3f rate %.0f server_ticks %lld "
           "client_ticks %lld\n",
           deliveries, took, (double)deliveries / took, t1 - t0, c1 - c0);
    return 0;
}

static int idle(int server_pid)
{
    long before = rss_kib(server_pid);
    connect_all(8, now() + 600);
    double settle = now() + 1;
    while (now() < settle)
        poll_once(100);
    long after = rss_kib(server_pid);
    if (before < 0 || after < 0)
        die("cannot read /proc/%d/status", server_pid);
    printf("clients %d rss_before_kib %ld rss_after_kib %ld\n", nclients,
           before, after);
    return 0;
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    if (getenv("IRC_LOAD_WINDOW"))
        window = atoll(getenv("IRC_LOAD_WINDOW"));
    if (window < 1)
        die("IRC_LOAD_WINDOW must be at least 1");
    if (argc >= 7 && strcmp(argv[1], "fanout") == 0) {
        port = atoi(argv[2]);
        nsenders = atoi(argv[5]);
        pass = argc > 7 ? argv[7] : NULL;
        int n = atoi(argv[4]);
        if (n < 2 || nsenders < 1 || nsenders >= n)
            die("need 1 <= SENDERS < CLIENTS");
        setup(n);
        return fanout(atoi(argv[3]), atoi(argv[6]));
    }
    if (argc >= 5 && strcmp(argv[1], "idle") == 0) {
        port = atoi(argv[2]);
        pass = argc > 5 ? argv[5] : NULL;
        rbuf_size = 4096; /* idle clients read little */
        setup(atoi(argv[4]));
        return idle(atoi(argv[3]));
    }
    fprintf(stderr, "usage: irc_load fanout PORT SERVER_PID CLIENTS SENDERS "
                    "SECONDS [PASS]\n"
                    "       irc_load idle PORT SERVER_PID CLIENTS [PASS]\n");
    return 2;
}
