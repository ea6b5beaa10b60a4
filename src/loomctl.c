/*
 * loomctl.c - talk to loomd's control socket: send one command line, read
 * the JSON reply until the daemon closes, print it.  The command line and
 * the rendering are in loomctl_args.c and loomctl_fmt.c; this file holds
 * the socket and main().  Usage and exit codes: loomctl(8).
 */
#include "loomctl.h"
#include "loom.h"
#include "sockpath.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* How long to wait for the reply: long enough for a reload that loads
 * large zones or many certificates; it only bounds a hung daemon. */
#define REPLY_TIMEOUT_MS (120 * 1000)

/* Largest reply accepted (a `connections` table of a busy daemon is a few
 * megabytes). */
#define REPLY_MAX (64u * 1024 * 1024)

/* Connect to the unix socket PATH; a descriptor, or -1 with a message on
 * stderr. */
static int ctl_connect(const char *path)
{
    loom_sockaddr_un_t sa;
    int fd = -1, rc = -1;

    /* a path longer than sun_path goes through its directory */
    if (loom_sockpath_kind(path, NULL) == LOOM_SOCKPATH_BAD) {
        fprintf(stderr,
                "loomctl: socket path %s: its file name can have at most %zu "
                "bytes\n",
                path, (size_t)LOOM_SOCK_NAME_MAX);
        return -1;
    }
    if (loom_sockaddr_un(path, &sa) == 0) {
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            loom_sockaddr_un_done(&sa);
            fprintf(stderr, "loomctl: socket: %s\n", strerror(errno));
            return -1;
        }
        while ((rc = connect(fd, (struct sockaddr *)&sa.sun, sa.len)) < 0 &&
               errno == EINTR)
            ;
        loom_sockaddr_un_done(&sa);
    }
    if (rc < 0) { /* the directory, or the socket in it */
        fprintf(stderr, "loomctl: cannot connect to %s: %s%s\n", path,
                strerror(errno),
                errno == ENOENT || errno == ECONNREFUSED
                    ? " (is loomd running, with a control section?)"
                    : "");
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

/* Send LEN bytes of BUF on FD (a daemon that closed early gives EPIPE, not
 * SIGPIPE).  0, or -1 with errno set. */
static int write_all(int fd, const char *buf, size_t len)
{
    ssize_t n;

    while (len > 0) {
        n = send(fd, buf, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Milliseconds on the monotonic clock. */
static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Read from FD until the daemon closes; the bytes (NUL-terminated, *LEN
 * without the NUL) in a new buffer the caller frees, or NULL with a message
 * on stderr. */
static char *read_reply(int fd, size_t *len)
{
    long long deadline = now_ms() + REPLY_TIMEOUT_MS;
    size_t cap = 4096, used = 0;
    char *buf = malloc(cap), *p;
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    ssize_t n;
    int left, r;

    if (!buf)
        abort();
    for (;;) {
        left = (int)(deadline - now_ms());
        if (left <= 0) {
            fprintf(stderr, "loomctl: no reply within %d s\n",
                    REPLY_TIMEOUT_MS / 1000);
            break;
        }
        r = poll(&pfd, 1, left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            fprintf(stderr, "loomctl: poll: %s\n", strerror(errno));
            break;
        }
        if (r == 0)
            continue;
        if (used + 1 >= cap) {
            if (cap >= REPLY_MAX) {
                fprintf(stderr, "loomctl: reply longer than %u bytes\n",
                        REPLY_MAX);
                break;
            }
            cap *= 2;
            p = realloc(buf, cap);
            if (!p)
                abort();
            buf = p;
        }
        n = read(fd, buf + used, cap - used - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            /* a daemon that refuses us may reset the connection after its
             * error reply: what arrived is still the answer */
            if (errno == ECONNRESET && used > 0)
                n = 0;
            else {
                fprintf(stderr, "loomctl: reading the reply: %s\n",
                        strerror(errno));
                break;
            }
        }
        if (n == 0) {
            if (used == 0) {
                fprintf(stderr, "loomctl: the daemon closed the connection "
                                "without a reply\n");
                break;
            }
            buf[used] = '\0';
            *len = used;
            return buf;
        }
        used += (size_t)n;
    }
    free(buf);
    return NULL;
}

int main(int argc, char **argv)
{
    loomctl_opts_t o;
    char err[256], line[LOOMCTL_LINE_MAX + 1], *reply;
    size_t reply_len;
    int fd, len, rc, werr = 0;

    if (loomctl_parse_args(argc, argv, getenv("LOOMCTL_SOCKET"), &o, err,
                           sizeof(err)) < 0) {
        fprintf(stderr,
                "loomctl: %s\nusage: loomctl [-s SOCKET] [--json] COMMAND "
                "[ARGS...] (loomctl -h for more)\n",
                err);
        return LOOMCTL_EXIT_USAGE;
    }
    if (o.action == LOOMCTL_HELP) {
        loomctl_usage(stdout);
        return LOOMCTL_EXIT_OK;
    }
    if (o.action == LOOMCTL_VERSION) {
        printf("loomctl %s\n", LOOM_VERSION_STRING);
        return LOOMCTL_EXIT_OK;
    }
    len = loomctl_request_line(o.nwords, o.words, line, sizeof(line), err,
                               sizeof(err));
    if (len < 0) {
        fprintf(stderr, "loomctl: %s\n", err);
        return LOOMCTL_EXIT_USAGE;
    }
    fd = ctl_connect(o.socket);
    if (fd < 0)
        return LOOMCTL_EXIT_CONNECT;
    if (write_all(fd, line, (size_t)len) < 0)
        werr = errno; /* a refusal may still be waiting to be read */
    reply = read_reply(fd, &reply_len);
    close(fd);
    if (!reply) {
        if (werr)
            fprintf(stderr, "loomctl: sending the command: %s\n",
                    strerror(werr));
        return LOOMCTL_EXIT_CONNECT;
    }
    rc = loomctl_render_reply(reply, reply_len, o.json, stdout, stderr);
    free(reply);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "loomctl: writing the output: %s\n", strerror(errno));
        return LOOMCTL_EXIT_CONNECT;
    }
    return rc;
}
