/*
 * ssh.c - the ssh module: bus actions that deliver over SFTP (libssh2).
 *
 *   put     path (template), body (optional; else the message body):
 *           write to ".NAME.loomtmp.PID.N" beside PATH, then rename it
 *           over PATH, so a reader never sees a partial file
 *   append  path, line: append LINE and "\n" to PATH (created if missing)
 *
 * One SSH session per instance, opened when a call comes, reused by the
 * calls after it and closed after `idle` seconds with nothing to do.
 * Calls queue on the instance and run one at a time, in order.
 *
 * Transport: libssh2 runs in non-blocking mode over a loom connection
 * made by the core's connect (loom_client.h), not over a socket of its
 * own: libssh2's send and recv callbacks are set to write to the
 * connection and read from the bytes its data callback handed over.  The
 * core's libevent loop watches the socket; every arrival (data), drain
 * and timer drives the state machine again, and every libssh2 call that
 * says LIBSSH2_ERROR_EAGAIN is simply asked again on the next drive.  So
 * a module still never touches a socket, and reading and writing are
 * both always covered (which is what libssh2_session_block_directions
 * would otherwise say).
 *
 * The host key is checked against `known_hosts` (read at every connect)
 * before authenticating; an unknown or different key ends the session
 * with one log line saying so.  No trust on first use.
 *
 * Results: connect, handshake, host key, authentication, a lost session,
 * a timeout and SFTP failures such as a full disk are RETRY (the bus
 * backs off); bad parameters and SFTP answers that no retry changes
 * (no such directory, permission denied) are FAILED.
 *
 * Ownership: the instance state (ssh_t) holds the queue, the libssh2
 * session and the connection.  The connection's data pointer is the
 * ssh_t and is cleared before the connection is aborted; the timers are
 * the instance's (disarmed by the core before stop).  Reload ends every
 * held call RETRY and closes the session (the next call connects with
 * the new settings); stop ends them FAILED.  libssh2 is freed with its
 * transport marked dead, so that it never waits for the peer.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libssh2.h>
#include <libssh2_sftp.h>

#include "ssh.h"

#define SSH_PATH_MAX 4096
#define SSH_INPUT_MAX (4u * 1024 * 1024)

typedef enum { OP_PUT, OP_APPEND } ssh_op_t;

/* Steps of a call once the session is ready. */
typedef enum {
    J_OPEN,    /* open the temporary file (put) or the file (append) */
    J_WRITE,   /* write the data */
    J_CLOSE,   /* close the handle */
    J_RENAME,  /* rename the temporary file over the target */
    J_UNLINK,  /* rename refused (target exists, SFTP v3): remove target */
    J_RENAME2, /* and rename again */
    J_CLEANUP  /* a failure after the temporary file was made: remove it */
} ssh_step_t;

typedef enum {
    S_IDLE,       /* no session */
    S_CONNECTING, /* the core's connect runs */
    S_HANDSHAKE,
    S_AUTH,
    S_SFTP,
    S_READY
} ssh_state_t;

typedef struct ssh_job_s ssh_job_t;
struct ssh_job_s {
    loom_action_call_t *call;
    ssh_op_t op;
    char *path, *tmp;
    char *data;
    size_t len, off;
    ssh_step_t step;
    loom_act_result_t fail; /* J_CLEANUP: how the call ends */
    char why[200];
    ssh_job_t *next;
};

typedef struct {
    loom_instance_t *inst;
    ssh_state_t state;
    loom_connect_t *lc;
    loom_conn_t *c;
    LIBSSH2_SESSION *ses;
    LIBSSH2_SFTP *sftp;
    LIBSSH2_SFTP_HANDLE *fh;
    int placeholder; /* the fd libssh2 is handed: /dev/null, see handshake */
    char *in;        /* bytes the connection gave, not yet read by libssh2 */
    size_t inlen, inoff, incap;
    int out_full; /* the connection's output is above its high-water mark */
    int dead;     /* transport gone: send and recv fail */
    int driving, again;
    ssh_job_t *head, *tail;
    loom_timer_t op_timer, idle_timer;
    uint64_t seq;
    /* counters (loom_ssh_* samples): sessions opened and failed, calls
     * ended by action and result, bytes of the calls that succeeded */
    uint64_t sessions, session_failures;
    uint64_t calls[2][3]; /* [ssh_op_t][loom_act_result_t] */
    uint64_t bytes;
    size_t queued;
} ssh_t;

static void ssh_drive(ssh_t *s);

/* ---- libssh2's transport: the loom connection --------------------------- */

static ssize_t ssh_send_cb(libssh2_socket_t fd, const void *buf, size_t len,
                           int flags, void **abstract)
{
    ssh_t *s = *abstract;
    int rc;

    (void)fd;
    (void)flags;
    if (s->dead || s->c == NULL)
        return -ECONNRESET;
    if (s->out_full)
        return -EAGAIN;
    rc = loom_conn_write(s->c, buf, len);
    if (rc == LOOM_ERROR) {
        s->dead = 1;
        return -ECONNRESET;
    }
    if (rc == LOOM_AGAIN)
        s->out_full = 1; /* taken; the next send waits for the drain */
    return (ssize_t)len;
}

static ssize_t ssh_recv_cb(libssh2_socket_t fd, void *buf, size_t len,
                           int flags, void **abstract)
{
    ssh_t *s = *abstract;
    size_t n;

    (void)fd;
    (void)flags;
    if (s->dead)
        return -ECONNRESET;
    n = s->inlen - s->inoff;
    if (n == 0)
        return s->c ? -EAGAIN : -ECONNRESET;
    if (n > len)
        n = len;
    memcpy(buf, s->in + s->inoff, n);
    s->inoff += n;
    if (s->inoff == s->inlen)
        s->inoff = s->inlen = 0;
    return (ssize_t)n;
}

static size_t ssh_conn_data(loom_conn_t *c, const char *buf, size_t len)
{
    ssh_t *s = loom_conn_data(c);

    if (s == NULL)
        return len;
    if (s->inoff > 0) {
        memmove(s->in, s->in + s->inoff, s->inlen - s->inoff);
        s->inlen -= s->inoff;
        s->inoff = 0;
    }
    if (s->inlen + len > SSH_INPUT_MAX) {
        /* the server sends far more than an SFTP writer asks for */
        s->dead = 1;
        ssh_drive(s);
        return len;
    }
    if (s->inlen + len > s->incap) {
        s->incap = s->inlen + len + 16384;
        s->in = loom_realloc(s->in, s->incap);
    }
    memcpy(s->in + s->inlen, buf, len);
    s->inlen += len;
    ssh_drive(s);
    return len;
}

static void ssh_conn_drain(loom_conn_t *c)
{
    ssh_t *s = loom_conn_data(c);

    if (s == NULL)
        return;
    s->out_full = 0;
    ssh_drive(s);
}

static void ssh_conn_close(loom_conn_t *c)
{
    ssh_t *s = loom_conn_data(c);

    if (s == NULL)
        return;
    s->c = NULL; /* gone: recv fails once the buffered bytes are read */
    ssh_drive(s);
}

static const loom_handler_t ssh_handler = {
    .data = ssh_conn_data,
    .drain = ssh_conn_drain,
    .close = ssh_conn_close,
};

/* ---- the session -------------------------------------------------------- */

static ssh_conf_t *ssh_conf(ssh_t *s)
{
    return loom_instance_conf(s->inst);
}

/* libssh2's last error message for the session. */
static const char *ssh_errmsg(ssh_t *s)
{
    char *msg = NULL;

    if (s->ses == NULL)
        return "no session";
    libssh2_session_last_error(s->ses, &msg, NULL, 0);
    return msg && msg[0] ? msg : "unknown error";
}

/* Say goodbye on a healthy, idle session (SSH_MSG_DISCONNECT: one
 * packet, buffered on the connection), then close it after flushing. */
static void ssh_close_idle(ssh_t *s)
{
    loom_conn_t *c = s->c;

    if (s->ses && c && !s->dead && s->state == S_READY && s->fh == NULL) {
        libssh2_session_disconnect(s->ses, "idle");
        loom_conn_set_data(c, NULL);
        s->c = NULL;
        loom_conn_close(c); /* after the goodbye is out */
    }
}

/* Free libssh2's state and the connection; back to S_IDLE.  The
 * transport is marked dead first, so no libssh2 call below can wait. */
static void ssh_teardown(ssh_t *s)
{
    loom_timer_disarm(&s->op_timer);
    loom_timer_disarm(&s->idle_timer);
    if (s->lc) {
        loom_connect_cancel(s->lc);
        s->lc = NULL;
    }
    s->dead = 1;
    if (s->fh) {
        libssh2_sftp_close_handle(s->fh);
        s->fh = NULL;
    }
    if (s->sftp) {
        libssh2_sftp_shutdown(s->sftp);
        s->sftp = NULL;
    }
    if (s->ses) {
        libssh2_session_free(s->ses);
        s->ses = NULL;
    }
    if (s->placeholder >= 0) {
        close(s->placeholder);
        s->placeholder = -1;
    }
    if (s->c) {
        loom_conn_set_data(s->c, NULL);
        loom_conn_abort(s->c);
        s->c = NULL;
    }
    s->inlen = s->inoff = 0;
    s->out_full = 0;
    s->dead = 0;
    s->state = S_IDLE;
}

static void job_free(ssh_job_t *j)
{
    free(j->path);
    free(j->tmp);
    free(j->data);
    free(j);
}

/* End the first queued call with RESULT. */
static void job_end(ssh_t *s, loom_act_result_t result, const char *why)
{
    ssh_job_t *j = s->head;

    s->head = j->next;
    if (s->head == NULL)
        s->tail = NULL;
    s->queued--;
    if ((unsigned)result < 3)
        s->calls[j->op][result]++;
    if (result == LOOM_ACT_DONE)
        s->bytes += j->len;
    loom_timer_disarm(&s->op_timer);
    loom_action_done(j->call, result, why);
    job_free(j);
}

/* End every held call with RESULT and close the session. */
static void ssh_fail_all(ssh_t *s, loom_act_result_t result, const char *why)
{
    char msg[300];

    snprintf(msg, sizeof(msg), "%s", why); /* WHY may be libssh2's */
    ssh_teardown(s);
    while (s->head)
        job_end(s, result, msg);
}

/* The session failed: say why once in the log, end the calls RETRY. */
static void ssh_session_failed(ssh_t *s, const char *what)
{
    ssh_conf_t *sc = ssh_conf(s);
    char why[300];

    snprintf(why, sizeof(why), "%s@%s:%d: %s", sc->user, sc->host, sc->port,
             what);
    s->session_failures++;
    loom_log(LOOM_LOG_WARN, loom_instance_who(s->inst), "%s", why);
    ssh_fail_all(s, LOOM_ACT_RETRY, why);
}

static void ssh_op_timeout(loom_timer_t *t, void *arg)
{
    ssh_t *s = arg;

    (void)t;
    ssh_session_failed(s, "timed out");
}

static void ssh_idle_timeout(loom_timer_t *t, void *arg)
{
    ssh_t *s = arg;

    (void)t;
    if (s->head == NULL && s->state != S_IDLE) {
        loom_log(LOOM_LOG_DEBUG, loom_instance_who(s->inst),
                 "closing the idle session");
        ssh_close_idle(s);
        ssh_teardown(s);
    }
}

static void ssh_connected(loom_conn_t *c, const loom_connect_result_t *res,
                          void *arg)
{
    ssh_t *s = arg;
    char why[300];

    s->lc = NULL;
    if (c == NULL) {
        snprintf(why, sizeof(why), "connect: %s", res->err);
        ssh_session_failed(s, why);
        return;
    }
    s->c = c;
    s->ses = libssh2_session_init_ex(NULL, NULL, NULL, s);
    if (s->ses == NULL) {
        ssh_session_failed(s, "cannot start a libssh2 session");
        return;
    }
    libssh2_session_callback_set(s->ses, LIBSSH2_CALLBACK_SEND,
                                 (void *)ssh_send_cb);
    libssh2_session_callback_set(s->ses, LIBSSH2_CALLBACK_RECV,
                                 (void *)ssh_recv_cb);
    libssh2_session_set_blocking(s->ses, 0);
    s->state = S_HANDSHAKE;
    ssh_drive(s);
}

static void ssh_connect(ssh_t *s)
{
    ssh_conf_t *sc = ssh_conf(s);
    loom_connect_opts_t o;

    memset(&o, 0, sizeof(o));
    o.timeout_ms = sc->timeout * 1000;
    s->state = S_CONNECTING;
    loom_timer_arm(&s->op_timer, (uint64_t)sc->timeout * 1000);
    s->lc = loom_connect_host(loom_instance_server(s->inst), sc->host, sc->port,
                              &o, &ssh_handler, ssh_connected, s);
}

/* The known_hosts key kind of a session host key TYPE (0 when libssh2
 * has none for it), so that a host with keys of several kinds recorded
 * is checked against the one of the kind the server offered. */
static int ssh_key_kind(int type)
{
    static const struct {
        int hostkey, kind;
    } kinds[] = {
        {LIBSSH2_HOSTKEY_TYPE_RSA, LIBSSH2_KNOWNHOST_KEY_SSHRSA},
        {LIBSSH2_HOSTKEY_TYPE_DSS, LIBSSH2_KNOWNHOST_KEY_SSHDSS},
        {LIBSSH2_HOSTKEY_TYPE_ECDSA_256, LIBSSH2_KNOWNHOST_KEY_ECDSA_256},
        {LIBSSH2_HOSTKEY_TYPE_ECDSA_384, LIBSSH2_KNOWNHOST_KEY_ECDSA_384},
        {LIBSSH2_HOSTKEY_TYPE_ECDSA_521, LIBSSH2_KNOWNHOST_KEY_ECDSA_521},
        {LIBSSH2_HOSTKEY_TYPE_ED25519, LIBSSH2_KNOWNHOST_KEY_ED25519}};
    size_t i;

    for (i = 0; i < LOOM_ARRAY_LEN(kinds); i++) {
        if (kinds[i].hostkey == type)
            return kinds[i].kind;
    }
    return 0;
}

/* Is the server's host key the one known_hosts has for host:port?  0, or
 * -1 with WHY filled. */
static int ssh_check_hostkey(ssh_t *s, char *why, size_t wlen)
{
    ssh_conf_t *sc = ssh_conf(s);
    LIBSSH2_KNOWNHOSTS *kh;
    size_t klen = 0;
    int type = 0, rc;
    const char *key = libssh2_session_hostkey(s->ses, &klen, &type);
    const char *fp;
    char hex[100] = "";
    size_t i;

    if (key == NULL) {
        snprintf(why, wlen, "no host key from the server");
        return -1;
    }
    kh = libssh2_knownhost_init(s->ses);
    if (kh == NULL ||
        libssh2_knownhost_readfile(kh, sc->known_hosts,
                                   LIBSSH2_KNOWNHOST_FILE_OPENSSH) < 0) {
        if (kh)
            libssh2_knownhost_free(kh);
        snprintf(why, wlen, "cannot read known_hosts %s", sc->known_hosts);
        return -1;
    }
    rc = libssh2_knownhost_checkp(kh, sc->host, sc->port, key, klen,
                                  LIBSSH2_KNOWNHOST_TYPE_PLAIN |
                                      LIBSSH2_KNOWNHOST_KEYENC_RAW |
                                      ssh_key_kind(type),
                                  NULL);
    libssh2_knownhost_free(kh);
    if (rc == LIBSSH2_KNOWNHOST_CHECK_MATCH)
        return 0;
    fp = libssh2_hostkey_hash(s->ses, LIBSSH2_HOSTKEY_HASH_SHA256);
    for (i = 0; fp && i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", (unsigned char)fp[i]);
    snprintf(why, wlen,
             "host key refused: %s in %s (server's key SHA256 %s); "
             "connection refused",
             rc == LIBSSH2_KNOWNHOST_CHECK_MISMATCH
                 ? "it DIFFERS from the key recorded"
                 : (rc == LIBSSH2_KNOWNHOST_CHECK_NOTFOUND
                        ? "the host is not known"
                        : "it could not be checked"),
             sc->known_hosts, hex);
    return -1;
}

/* ---- one call on a ready session --------------------------------------- */

/* How an SFTP failure ends the call: statuses no retry changes FAILED. */
static loom_act_result_t sftp_result(unsigned long st)
{
    static const unsigned long permanent[] = {
        LIBSSH2_FX_NO_SUCH_FILE,    LIBSSH2_FX_PERMISSION_DENIED,
        LIBSSH2_FX_NO_SUCH_PATH,    LIBSSH2_FX_INVALID_FILENAME,
        LIBSSH2_FX_NOT_A_DIRECTORY, LIBSSH2_FX_WRITE_PROTECT,
        LIBSSH2_FX_OP_UNSUPPORTED};
    size_t i;

    for (i = 0; i < LOOM_ARRAY_LEN(permanent); i++) {
        if (st == permanent[i])
            return LOOM_ACT_FAILED;
    }
    return LOOM_ACT_RETRY;
}

static const char *sftp_status_text(unsigned long st)
{
    static const char *const text[] = {"ok",
                                       "end of file",
                                       "no such file",
                                       "permission denied",
                                       "failure",
                                       "bad message",
                                       "no connection",
                                       "connection lost",
                                       "operation unsupported",
                                       "invalid handle",
                                       "no such path",
                                       "file already exists",
                                       "write protected",
                                       "no media",
                                       "no space on the file system",
                                       "quota exceeded",
                                       "unknown principal",
                                       "lock conflict",
                                       "directory not empty",
                                       "not a directory",
                                       "invalid filename",
                                       "link loop"};

    return st < LOOM_ARRAY_LEN(text) ? text[st] : "sftp error";
}

/* What a libssh2 result RC of a step means: 1 wait, 0 go on, -1 the
 * call or the session ended (already handled). */
static int step_rc(ssh_t *s, ssh_job_t *j, int rc, const char *what)
{
    unsigned long st;

    if (rc == LIBSSH2_ERROR_EAGAIN)
        return 1;
    if (rc >= 0)
        return 0;
    if (rc != LIBSSH2_ERROR_SFTP_PROTOCOL) {
        char why[300];

        snprintf(why, sizeof(why), "%s: %s", what, ssh_errmsg(s));
        ssh_session_failed(s, why);
        return -1;
    }
    st = libssh2_sftp_last_error(s->sftp);
    snprintf(j->why, sizeof(j->why), "%s %s: %s", what,
             j->step == J_CLEANUP || j->step == J_RENAME ||
                     j->step == J_RENAME2 || j->tmp == NULL
                 ? j->path
                 : j->tmp,
             sftp_status_text(st));
    j->fail = sftp_result(st);
    return -2;
}

/* Advance the first call; 1 while it waits, 0 when it ended. */
static int job_run(ssh_t *s)
{
    ssh_job_t *j = s->head;
    int rc;

    for (;;) {
        switch (j->step) {
        case J_OPEN: {
            const char *name = j->op == OP_PUT ? j->tmp : j->path;
            unsigned long fl =
                LIBSSH2_FXF_WRITE | LIBSSH2_FXF_CREAT |
                (j->op == OP_PUT ? LIBSSH2_FXF_TRUNC : LIBSSH2_FXF_APPEND);

            s->fh = libssh2_sftp_open_ex(s->sftp, name, (unsigned)strlen(name),
                                         fl, 0644, LIBSSH2_SFTP_OPENFILE);
            if (s->fh == NULL) {
                rc = step_rc(s, j, libssh2_session_last_errno(s->ses), "open");
                if (rc == 1)
                    return 1;
                if (rc == -1)
                    return 0;
                job_end(s, j->fail, j->why); /* nothing was made */
                return 0;
            }
            j->step = J_WRITE;
            break;
        }
        case J_WRITE:
            while (j->off < j->len) {
                ssize_t n = libssh2_sftp_write(s->fh, j->data + j->off,
                                               j->len - j->off);

                if (n == 0)
                    return 1; /* nothing acknowledged yet */
                if (n < 0) {
                    rc = step_rc(s, j, (int)n, "write");
                    if (rc == 1)
                        return 1;
                    if (rc == -1)
                        return 0;
                    j->step = J_CLOSE; /* then J_CLEANUP, by j->fail */
                    break;
                }
                j->off += (size_t)n;
            }
            if (j->step == J_WRITE) {
                j->step = J_CLOSE;
                j->fail = LOOM_ACT_DONE;
            }
            break;
        case J_CLOSE:
            rc = step_rc(s, j, libssh2_sftp_close_handle(s->fh), "close");
            if (rc == 1)
                return 1;
            if (rc == -1)
                return 0;
            s->fh = NULL;
            if (rc == -2 || j->fail != LOOM_ACT_DONE) {
                if (j->op == OP_APPEND) {
                    job_end(s, j->fail, j->why);
                    return 0;
                }
                j->step = J_CLEANUP;
                break;
            }
            if (j->op == OP_APPEND) {
                job_end(s, LOOM_ACT_DONE, NULL);
                return 0;
            }
            j->step = J_RENAME;
            break;
        case J_RENAME:
        case J_RENAME2:
            rc = libssh2_sftp_rename_ex(
                s->sftp, j->tmp, (unsigned)strlen(j->tmp), j->path,
                (unsigned)strlen(j->path),
                LIBSSH2_SFTP_RENAME_OVERWRITE | LIBSSH2_SFTP_RENAME_ATOMIC |
                    LIBSSH2_SFTP_RENAME_NATIVE);
            rc = step_rc(s, j, rc, "rename to");
            if (rc == 1)
                return 1;
            if (rc == -1)
                return 0;
            if (rc == 0) {
                job_end(s, LOOM_ACT_DONE, NULL);
                return 0;
            }
            /* SFTP v3 servers (OpenSSH) refuse to rename over an existing
             * file: remove it, then rename again. */
            j->step = j->step == J_RENAME ? J_UNLINK : J_CLEANUP;
            break;
        case J_UNLINK:
            rc = step_rc(s, j,
                         libssh2_sftp_unlink_ex(s->sftp, j->path,
                                                (unsigned)strlen(j->path)),
                         "remove");
            if (rc == 1)
                return 1;
            if (rc == -1)
                return 0;
            j->step = rc == 0 ? J_RENAME2 : J_CLEANUP;
            break;
        case J_CLEANUP:
            rc = libssh2_sftp_unlink_ex(s->sftp, j->tmp,
                                        (unsigned)strlen(j->tmp));
            if (rc == LIBSSH2_ERROR_EAGAIN)
                return 1;
            if (rc < 0 && rc != LIBSSH2_ERROR_SFTP_PROTOCOL) {
                ssh_session_failed(s, "remove the temporary file: lost");
                return 0;
            }
            job_end(s, j->fail == LOOM_ACT_DONE ? LOOM_ACT_RETRY : j->fail,
                    j->why);
            return 0;
        }
    }
}

/* ---- the state machine -------------------------------------------------- */

static void ssh_step(ssh_t *s)
{
    ssh_conf_t *sc = ssh_conf(s);
    char why[400];
    int rc;

    for (;;) {
        if (s->state != S_IDLE && s->state != S_CONNECTING && s->dead) {
            ssh_session_failed(s, "connection lost");
            return;
        }
        if (s->state > S_CONNECTING && s->c == NULL && s->head == NULL) {
            /* the server closed an idle session: the next call connects
             * afresh (with a call, libssh2 reports the loss below) */
            loom_log(LOOM_LOG_INFO, loom_instance_who(s->inst),
                     "session closed by the server");
            ssh_teardown(s);
            return;
        }
        switch (s->state) {
        case S_IDLE:
            if (s->head)
                ssh_connect(s);
            return;
        case S_CONNECTING:
            return;
        case S_HANDSHAKE:
            /* The socket is the connection's.  libssh2 wants a valid
             * descriptor all the same (it reads and sets its O_NONBLOCK
             * flag), but passes it only to the send and recv callbacks
             * above, which ignore it: /dev/null stands in. */
            if (s->placeholder < 0 &&
                (s->placeholder = open("/dev/null", O_RDONLY | O_CLOEXEC)) <
                    0) {
                ssh_session_failed(s, "cannot open /dev/null");
                return;
            }
            rc = libssh2_session_handshake(s->ses, s->placeholder);
            if (rc == LIBSSH2_ERROR_EAGAIN)
                return;
            if (rc < 0) {
                snprintf(why, sizeof(why), "handshake: %s", ssh_errmsg(s));
                ssh_session_failed(s, why);
                return;
            }
            if (ssh_check_hostkey(s, why, sizeof(why)) != 0) {
                ssh_session_failed(s, why);
                return;
            }
            s->state = S_AUTH;
            break;
        case S_AUTH:
            rc = libssh2_userauth_publickey_fromfile_ex(
                s->ses, sc->user, (unsigned)strlen(sc->user), NULL, sc->key,
                NULL);
            if (rc == LIBSSH2_ERROR_EAGAIN)
                return;
            if (rc < 0) {
                snprintf(why, sizeof(why),
                         "authentication with key %s refused: %s", sc->key,
                         ssh_errmsg(s));
                ssh_session_failed(s, why);
                return;
            }
            s->state = S_SFTP;
            break;
        case S_SFTP:
            s->sftp = libssh2_sftp_init(s->ses);
            if (s->sftp == NULL) {
                if (libssh2_session_last_errno(s->ses) == LIBSSH2_ERROR_EAGAIN)
                    return;
                snprintf(why, sizeof(why), "sftp: %s", ssh_errmsg(s));
                ssh_session_failed(s, why);
                return;
            }
            loom_log(LOOM_LOG_INFO, loom_instance_who(s->inst),
                     "session open to %s@%s:%d", sc->user, sc->host, sc->port);
            s->sessions++;
            loom_timer_disarm(&s->op_timer);
            s->state = S_READY;
            break;
        case S_READY:
            if (s->head == NULL) {
                loom_timer_arm(&s->idle_timer, (uint64_t)sc->idle * 1000);
                return;
            }
            loom_timer_disarm(&s->idle_timer);
            if (!loom_timer_armed(&s->op_timer))
                loom_timer_arm(&s->op_timer, (uint64_t)sc->timeout * 1000);
            if (job_run(s))
                return;
            break; /* the next call, or the idle timer */
        }
    }
}

/* Run the state machine until it waits; re-entry (an action ended from
 * inside it queues nothing synchronously, but be safe) loops instead. */
static void ssh_drive(ssh_t *s)
{
    if (s->driving) {
        s->again = 1;
        return;
    }
    s->driving = 1;
    do {
        s->again = 0;
        ssh_step(s);
    } while (s->again);
    s->driving = 0;
}

/* ---- actions ----------------------------------------------------------- */

/* Is PATH (LEN bytes) a usable remote file name?  NULL, or why not. */
static const char *path_problem(const char *path, size_t len)
{
    const char *base;

    if (path == NULL || len == 0)
        return "no path";
    if (len > SSH_PATH_MAX)
        return "path too long";
    if (memchr(path, '\0', len) || memchr(path, '\n', len))
        return "path holds a NUL or newline";
    base = strrchr(path, '/');
    base = base ? base + 1 : path;
    if (base[0] == '\0' || strcmp(base, ".") == 0 || strcmp(base, "..") == 0)
        return "path names a directory, not a file";
    return NULL;
}

/* ".NAME.loomtmp.PID.SEQ" in PATH's directory: a heap string. */
static char *tmp_name(const char *path, uint64_t seq)
{
    const char *slash = strrchr(path, '/');
    size_t dlen = slash ? (size_t)(slash - path) + 1 : 0;
    size_t n = strlen(path) + 64;
    char *t = loom_malloc(n);

    snprintf(t, n, "%.*s.%s.loomtmp.%ld.%llu", (int)dlen, path, path + dlen,
             (long)getpid(), (unsigned long long)seq);
    return t;
}

static void ssh_enqueue(loom_instance_t *inst, loom_action_call_t *call,
                        ssh_op_t op)
{
    ssh_t *s = loom_instance_data(inst);
    size_t plen = 0, dlen = 0;
    const char *path = loom_action_param(call, "path", &plen);
    const char *data, *bad;
    ssh_job_t *j;

    if (s == NULL) {
        loom_action_done(call, LOOM_ACT_FAILED, "stopping");
        return;
    }
    if ((bad = path_problem(path, plen)) != NULL) {
        loom_action_done(call, LOOM_ACT_FAILED, bad);
        return;
    }
    if (op == OP_PUT) {
        data = loom_action_param(call, "body", &dlen);
        if (data == NULL) {
            loom_slice_t b = loom_msg_body(loom_action_msg(call));

            data = b.p;
            dlen = b.len;
        }
    } else {
        data = loom_action_param(call, "line", &dlen);
        if (data == NULL || memchr(data, '\n', dlen)) {
            loom_action_done(call, LOOM_ACT_FAILED,
                             "line must be one line of text");
            return;
        }
    }
    j = loom_calloc(1, sizeof(*j));
    j->call = call;
    j->op = op;
    j->path = loom_strdup(path);
    j->data = loom_malloc(dlen + 1);
    if (dlen)
        memcpy(j->data, data, dlen);
    j->len = dlen;
    if (op == OP_APPEND)
        j->data[j->len++] = '\n';
    if (op == OP_PUT)
        j->tmp = tmp_name(j->path, ++s->seq);
    j->step = J_OPEN;
    j->fail = LOOM_ACT_DONE;
    if (s->tail)
        s->tail->next = j;
    else
        s->head = j;
    s->tail = j;
    s->queued++;
    ssh_drive(s);
}

static void ssh_act_put(loom_instance_t *inst, loom_action_call_t *call)
{
    ssh_enqueue(inst, call, OP_PUT);
}

static void ssh_act_append(loom_instance_t *inst, loom_action_call_t *call)
{
    ssh_enqueue(inst, call, OP_APPEND);
}

static const loom_action_param_t ssh_put_params[] = {
    {"path", 1}, {"body", 0}, {NULL, 0}};
static const loom_action_param_t ssh_append_params[] = {
    {"path", 1}, {"line", 1}, {NULL, 0}};
static const loom_action_t ssh_actions[] = {
    {"put", ssh_put_params, ssh_act_put},
    {"append", ssh_append_params, ssh_act_append},
    {NULL, NULL, NULL}};

/* ---- metrics --------------------------------------------------------------
 */

static void ssh_metrics(loom_instance_t *inst, loom_metrics_t *m)
{
    static const char *const ops[] = {"put", "append"};
    static const char *const results[] = {"done", "retry", "failed"};
    ssh_t *s = loom_instance_data(inst);

    if (s == NULL)
        return;
    loom_metric(m, LOOM_METRIC_GAUGE, "loom_ssh_session_up",
                "1 while an SSH session is open and ready.",
                s->state == S_READY ? 1 : 0, NULL);
    loom_metric(m, LOOM_METRIC_GAUGE, "loom_ssh_calls_queued",
                "Bus calls waiting or running.", (double)s->queued, NULL);
    loom_metric(m, LOOM_METRIC_COUNTER, "loom_ssh_sessions_total",
                "SSH sessions opened (authenticated, SFTP ready).",
                (double)s->sessions, NULL);
    loom_metric(m, LOOM_METRIC_COUNTER, "loom_ssh_session_failures_total",
                "SSH sessions that failed or were lost (connect, host key, "
                "authentication, timeout, transport).",
                (double)s->session_failures, NULL);
    for (size_t o = 0; o < LOOM_ARRAY_LEN(ops); o++)
        for (size_t r = 0; r < LOOM_ARRAY_LEN(results); r++)
            loom_metric(m, LOOM_METRIC_COUNTER, "loom_ssh_calls_total",
                        "Bus calls ended, by action and result.",
                        (double)s->calls[o][r], "action", ops[o], "result",
                        results[r], NULL);
    loom_metric(m, LOOM_METRIC_COUNTER, "loom_ssh_written_bytes_total",
                "Bytes written by calls that succeeded.", (double)s->bytes,
                NULL);
}

/* ---- lifecycle ---------------------------------------------------------- */

static void ssh_start(loom_instance_t *inst)
{
    ssh_t *s = loom_calloc(1, sizeof(*s));

    libssh2_init(0);
    s->inst = inst;
    s->placeholder = -1;
    loom_timer_init(&s->op_timer, inst, ssh_op_timeout, s);
    loom_timer_init(&s->idle_timer, inst, ssh_idle_timeout, s);
    loom_instance_set_data(inst, s);
}

/* New settings: the session made with the old ones goes; calls held now
 * are retried by the bus and connect with the new ones. */
static void ssh_reload(loom_instance_t *inst)
{
    ssh_t *s = loom_instance_data(inst);

    if (s && (s->head || s->state != S_IDLE))
        ssh_fail_all(s, LOOM_ACT_RETRY, "reloading");
}

static void ssh_stop(loom_instance_t *inst)
{
    ssh_t *s = loom_instance_data(inst);

    if (s == NULL)
        return;
    ssh_fail_all(s, LOOM_ACT_FAILED, "stopping");
    loom_instance_set_data(inst, NULL);
    free(s->in);
    free(s);
    /* no libssh2_exit(): its clean-up is process-wide, and the OpenSSL
     * it would clean up is the one TLS uses too */
}

#ifdef LOOM_SHARED_MODULE
#define SSH_MODULE loom_module_entry
#else
#define SSH_MODULE loom_ssh_module
#endif

extern const loom_module_t SSH_MODULE;

const loom_module_t SSH_MODULE = {
    .abi = LOOM_MODULE_ABI,
    .name = "ssh",
    .options = ssh_options,
    .configure = ssh_configure,
    .conf_free = ssh_conf_free,
    .start = ssh_start,
    .reload = ssh_reload,
    .stop = ssh_stop,
    .actions = ssh_actions,
    .metrics = ssh_metrics,
};
