/*
 * core.h - the core's internal structures: server, instances, listeners,
 * connections and the transport vtable.  Modules never include this file;
 * they see loom_module.h and loom_conn.h only.
 */
#ifndef LOOM_CORE_H
#define LOOM_CORE_H

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <openssl/ssl.h>

#include "config.h"
#include "endpoint.h"
#include "loom_module.h"
#include "server.h"

typedef struct loom_tls_s loom_tls_t;

/* ---- transports --------------------------------------------------------- */

/* How bytes move for one kind of connection.  read returns >0 bytes, 0 at
 * end of stream, LOOM_AGAIN or LOOM_ERROR; flush writes out what it can of
 * c->out and returns LOOM_OK (all written), LOOM_AGAIN or LOOM_ERROR.
 *
 * A transport without a file descriptor (the in-memory one) has no
 * libevent event to register: `update` is told the directions the
 * connection wants (EV_READ, EV_WRITE) each time a socket would be
 * re-registered, and reports readiness through loom_conn_ready from the
 * reactor.  `starttls`, when set, replaces the real TLS handshake of
 * loom_conn_starttls (returns LOOM_OK once "TLS" is up), and `tls_info`
 * answers loom_conn_tls_info for a connection without an SSL. */
typedef struct {
    const char *name;
    ssize_t (*read)(loom_conn_t *c, char *buf, size_t len);
    int (*flush)(loom_conn_t *c);
    void (*shutdown)(loom_conn_t *c); /* before close: TLS close_notify */
    void (*update)(loom_conn_t *c, short want);
    int (*starttls)(loom_conn_t *c);
    int (*tls_info)(loom_conn_t *c, loom_tls_info_t *info);
} loom_transport_t;

extern const loom_transport_t loom_transport_fd;      /* TCP and UNIX */
extern const loom_transport_t loom_transport_tls;     /* TLS over TCP */
extern const loom_transport_t loom_transport_mem;     /* session tests */
extern const loom_transport_t loom_transport_mem_tls; /* ... after STARTTLS */

/* conn->flags */
#define LOOM_CF_CLOSING 0x0001   /* close once output is flushed */
#define LOOM_CF_DEAD 0x0002      /* finalized; free when callbacks unwind */
#define LOOM_CF_PAUSED 0x0004    /* handler paused reading */
#define LOOM_CF_FULL 0x0008      /* output above high water */
#define LOOM_CF_HANDSHAKE 0x0010 /* TLS handshake in progress */
#define LOOM_CF_TLS_RW 0x0020    /* TLS read wants the socket writable */
#define LOOM_CF_TLS_WR 0x0040    /* TLS write wants the socket readable */
#define LOOM_CF_REDELIVER 0x0080 /* buffered input to hand over again */
#define LOOM_CF_EOF 0x0100       /* peer finished sending */
#define LOOM_CF_STARTTLS 0x0200  /* start TLS once output is flushed */
#define LOOM_CF_OPENED 0x0400    /* open callback ran */
#define LOOM_CF_MEM 0x0800       /* in-memory: keep struct until freed */
#define LOOM_CF_OUTBOUND 0x1000  /* made by loom_connect */
#define LOOM_CF_CLOSED_CB 0x2000 /* close callback ran */
#define LOOM_CF_EVADDED 0x4000   /* c->ev is pending */
#define LOOM_CF_DEFERRED 0x8000  /* on the server's deferred list */
#define LOOM_CF_LINGER 0x10000   /* closed by us: drain input before close(2) */
#define LOOM_CF_ABORT 0x20000    /* finalize when the core next handles it */
#define LOOM_CF_CORK 0x40000     /* a file was queued: cork the next flush */

#define LOOM_OUT_HIGH (256 * 1024) /* pause reading above this */
#define LOOM_OUT_LOW (64 * 1024)   /* drain callback below this */
#define LOOM_OUT_MAX                                                           \
    (16 * 1024 * 1024) /* default output cap (aborted past)                    \
                        */
#define LOOM_IN_MAX_DEFAULT (64 * 1024)

struct loom_conn_s {
    loom_server_t *srv;
    loom_instance_t *inst; /* NULL for outbound connections */
    loom_listener_t *ls;   /* NULL for outbound and in-memory */
    const loom_transport_t *tp;
    const loom_handler_t *h;
    void *data;
    int fd;
    unsigned flags;
    short events;    /* EV_READ / EV_WRITE currently registered */
    unsigned holds;  /* references: core frames, module holds, deferred list */
    unsigned frames; /* core frames on the stack for c (callbacks run) */
    size_t max_output; /* abort when more than this is buffered */
    struct event ev;
    char *in; /* unconsumed input, NULL when there is none */
    uint32_t in_len, in_cap, max_input;
    struct evbuffer *out; /* NULL when nothing is pending */
    SSL *ssl;
    uint64_t last;                /* last activity, loom_now_sec() */
    loom_conn_t *prev, *next;     /* the instance's activity list */
    loom_conn_t *dnext;           /* the server's deferred-work list */
    void *tp_data;                /* transport-private (in-memory output) */
    loom_timer_t *timers;         /* armed timers it owns */
    uint64_t since_ms;            /* opened, loom_now_ms() (control socket) */
    uint64_t bytes_in, bytes_out; /* read from / written to the peer */
};

/* ---- module instances --------------------------------------------------- */

/* Why accept(2) failed, for loom_instance_t.accept_errors. */
enum {
    LOOM_ACCEPT_ERR_ABORTED,   /* ECONNABORTED: the client left first */
    LOOM_ACCEPT_ERR_RESOURCES, /* EMFILE, ENFILE, ENOBUFS, ENOMEM */
    LOOM_ACCEPT_ERR_OTHER,
    LOOM_ACCEPT_ERR_COUNT
};

/* Why a server TLS handshake failed, for loom_instance_t.tls_failures
 * (names in metrics_core.c). */
enum {
    LOOM_TLS_FAIL_EOF,          /* the client closed during it */
    LOOM_TLS_FAIL_TIMEOUT,      /* read timeout during it */
    LOOM_TLS_FAIL_VERSION,      /* no protocol version in common */
    LOOM_TLS_FAIL_CIPHER,       /* no cipher in common */
    LOOM_TLS_FAIL_NOT_TLS,      /* plain text (HTTP) on a TLS port */
    LOOM_TLS_FAIL_CERT,         /* the client rejected our certificate */
    LOOM_TLS_FAIL_CLIENT_ALERT, /* the client sent another fatal alert */
    LOOM_TLS_FAIL_OTHER,
    LOOM_TLS_FAIL_COUNT
};

struct loom_instance_s {
    loom_server_t *srv;
    const loom_module_t *mod;
    char *name;
    char who[128];
    void *conf; /* module conf, owned here */
    loom_alog_t *alog;
    char *alog_path;
    void *data;           /* module-private */
    long max_connections; /* per listener */
    unsigned idle_timeout, read_timeout, write_timeout, min_timeout;
    char **alpn; /* NULL-terminated */
    unsigned nconns;
    int started, removed, mark;
    int stopped;          /* its stop is under way: no more timers */
    loom_timer_t *timers; /* armed timers it owns */
    loom_conn_t *lru_head, *lru_tail; /* oldest activity first */
    unsigned nwork;                   /* pool jobs owed a done (work.c) */
    int work_stopping;                /* new jobs cancelled (work.c) */
    /* counters for the metrics collector (metrics_core.c) */
    uint64_t accepted;                             /* listener.c */
    uint64_t accept_errors[LOOM_ACCEPT_ERR_COUNT]; /* listener.c */
    uint64_t refused;        /* closed at once at max_connections */
    uint64_t tls_handshakes; /* completed server handshakes (tls.c) */
    uint64_t tls_failures[LOOM_TLS_FAIL_COUNT]; /* tls.c, conn.c */
    loom_instance_t *next;
};

/* ---- listeners ---------------------------------------------------------- */

struct loom_listener_s {
    loom_server_t *srv;
    loom_instance_t *inst;
    uint64_t id; /* for loom_dgram_t: unique for the server's life */
    loom_endpoint_t ep;
    char key[320]; /* canonical socket name (endpoint.h) */
    char *text;    /* endpoint as written, for logs */
    int fd;
    struct event *ev;
    SSL_CTX *ssl_ctx; /* tls: listeners (a reference) */
    unsigned nconns;
    int mark;
    int closed;  /* closed, kept until its last connection goes */
    int adopted; /* socket passed by systemd (sdsock.c): never unlinked */
    loom_listener_t *next;
};

/* ---- the server --------------------------------------------------------- */

struct loom_server_s {
    struct event_base *base;
    loom_config_t *cfg;       /* the running configuration */
    loom_config_t *preparing; /* the one being prepared, during prepare */
    char *conf_file;          /* as given to -c: what reloads read */
    char *conf_abs;           /* its absolute path at start, for status */
    loom_instance_t *instances;
    loom_listener_t *listeners;
    loom_tls_t *tls; /* TLS profiles of the running config */
    loom_resolver_t *resolver;
    unsigned nconns;
    long max_connections;
    int accept_paused;
    int reserve_fd;       /* spare fd to shed connections on EMFILE */
    struct event *sweep;  /* 1 s timeout sweep */
    struct event *resume; /* accept pause after EMFILE */
    struct event *grace;  /* shutdown deadline */
    struct event *defer;  /* runs the deferred list */
    loom_conn_t *deferred;
    struct loom_linger_s *lingers; /* closed sockets still draining input */
    int shutting_down;
    void (*shutdown_done)(void *);
    void *shutdown_arg;
    char scratch[64 * 1024]; /* read buffer shared by all connections */
    char peerbuf[128];
    char fpbuf[65];                 /* loom_conn_tls_info's peer_sha256 */
    struct loom_dgram_batch_s *dgb; /* UDP batches, made on first use */
    uint64_t next_listener_id;
    uint64_t dgram_dropped;   /* replies for listeners closed meanwhile */
    struct loom_sdsock_s *sd; /* sockets passed by systemd (sdsock.c) */
    uint64_t accepted;        /* connections accepted, ever (listener.c) */
    uint64_t datagrams;       /* datagrams received, ever (listener.c) */
    size_t nsd;
    /* reactor.c: timers and deferred calls */
    loom_timer_t **theap; /* min-heap by deadline */
    size_t tn, tcap;
    uint64_t tseq;     /* arming counter */
    struct event *tev; /* at the earliest deadline */
    uint64_t tev_when; /* deadline tev is set for, + 1; 0: unset */
    struct loom_defer_s *calls, **calls_tail; /* loom_defer queue */
    struct event *calls_ev;                   /* runs them, next turn */
    /* service.c */
    struct loom_service_s *services;
    uint64_t svc_gen, svc_ids;
    struct loom_work_pool_s *work; /* the worker pool (work.c) */
    struct loom_bus_s *bus;        /* the message bus (bus.c) */
    /* the daemon behind the control socket (ctl.c): its reload and stop */
    const loom_daemon_hooks_t *daemon;
    void *daemon_arg;
    uint64_t started_ms; /* loom_server_new, loom_now_ms() */
};

/* service.c: withdraw INST's offers (NAME NULL: all); free every offer. */
void loom_services_withdraw(loom_instance_t *inst, const char *name);
void loom_services_free(loom_server_t *srv);

/* reactor.c */
void loom_reactor_init(loom_server_t *srv);
/* Run the pending deferred calls, disarm every timer, free the heap. */
void loom_reactor_free(loom_server_t *srv);
/* Run the deferred calls queued so far of INST (all when INST is NULL). */
void loom_defer_run(loom_server_t *srv, loom_instance_t *inst);
/* Whether a deferred call of INST is queued. */
int loom_defer_pending(loom_server_t *srv, loom_instance_t *inst);
/* An owner goes away: disarm every timer on its list. */
void loom_timers_owner_gone(loom_timer_t **list);

/* listener.c: datagrams are read LOOM_DGRAM_BATCH at a time (recvmmsg) and
 * the replies a module gives while handling them are sent together
 * (sendmmsg). */
void loom_dgram_batch_free(loom_server_t *srv);

/* conn.c */
loom_conn_t *loom_conn_new(loom_server_t *srv, loom_instance_t *inst,
                           const loom_handler_t *h, int fd,
                           const loom_transport_t *tp, size_t data_size);
/* Start a connection: TLS handshake (when ssl is set) or the open
 * callback, then reading. */
void loom_conn_start(loom_conn_t *c);
/* Close every socket still lingering (server teardown). */
void loom_linger_free_all(loom_server_t *srv);
/* Abort every connection of INST (or all when INST is NULL). */
void loom_conn_abort_all(loom_server_t *srv, loom_instance_t *inst);
/* Drop connections whose timeouts have passed. */
void loom_conn_sweep(loom_server_t *srv, uint64_t now);
void loom_conn_flush(loom_conn_t *c);
/* C's transport became ready for WHAT (EV_READ, EV_WRITE): what a socket
 * event does, in a core frame of C (callbacks may run, C may be finalized
 * but not freed).  For transports without a descriptor; call it from the
 * reactor or from test code, never from inside a callback. */
void loom_conn_ready(loom_conn_t *c, short what);

/* alog.c */
/* From now on, access log files opened while running as root are
 * handed to UID:GID, the service user loomd switches to. */
void loom_alog_owner(uid_t uid, gid_t gid);
/* Is an access log open under PATH (so applying a config reuses it)? */
int loom_alog_is_open(const char *path);

/* sdsock.c: socket activation.  loom_sdsock_collect takes the sockets
 * passed in LISTEN_FDS into SRV's pool (once, before the first start) and
 * returns how many; loom_sdsock_take returns a new non-blocking descriptor
 * (the caller owns it) for a passed socket of EP's type and address, or -1
 * when there is none; loom_sdsock_report logs what was adopted and warns
 * about sockets no listener took; loom_sdsock_free closes the pool. */
typedef struct loom_sdsock_s loom_sdsock_t;

/* sdsock.c: a one-line summary of SRV for sd_notify's STATUS= (and later
 * a status command): listeners, open connections, and the rates of
 * accepted connections and received datagrams since *PREV, which it
 * updates (zero it before the first call).  Writes a NUL-terminated line
 * of at most LEN bytes to OUT. */
typedef struct {
    uint64_t accepted, datagrams;
    double at; /* monotonic seconds; 0 before the first call */
} loom_summary_t;
void loom_server_summary(loom_server_t *srv, loom_summary_t *prev, char *out,
                         size_t len);
int loom_sdsock_collect(loom_server_t *srv);
int loom_sdsock_take(loom_server_t *srv, const loom_endpoint_t *ep,
                     const char *text);
void loom_sdsock_report(loom_server_t *srv);
void loom_sdsock_free(loom_server_t *srv);

/* listener.c */
loom_listener_t *loom_listener_open(loom_server_t *srv,
                                    const loom_listen_conf_t *lc, char *err,
                                    size_t errlen);
void loom_listener_enable(loom_listener_t *ls);
/* Close the socket; the struct lives until its last connection closes. */
void loom_listener_close(loom_listener_t *ls);
/* A connection accepted on LS has closed. */
void loom_listener_conn_closed(loom_listener_t *ls);
void loom_listeners_pause(loom_server_t *srv, int pause);
void loom_listener_resume_cb(evutil_socket_t fd, short what, void *arg);

/* conn.c: deferred work and the open callback */
void loom_conn_run_deferred(loom_server_t *srv);
void loom_conn_open_handler(loom_conn_t *c);
/* A core frame for C: its callbacks may run inside.  Leaving flushes,
 * delivers waiting input, finishes a requested close or abort, and
 * re-registers; C may be freed by the leave. */
void loom_conn_enter(loom_conn_t *c);
void loom_conn_leave(loom_conn_t *c);
/* Finalize C now (close callback, socket closed); core frames only. */
void loom_conn_finalize(loom_conn_t *c);

/* Read C in the next reactor turn: its TLS layer holds bytes the socket
 * will not signal (read ahead during the handshake). */
void loom_conn_defer_read(loom_conn_t *c);
/* Make sure C has an output buffer (before adding to c->out directly). */
void loom_conn_out_prepare(loom_conn_t *c);
/* Bytes were added to c->out: apply the cap and high-water mark, schedule
 * the flush; returns as loom_conn_write. */
int loom_conn_out_queued(loom_conn_t *c);

/* work.c: the worker pool behind loom_work.h.  A server's pool, with
 * LOOM_WORK_DEFAULT_THREADS until resized; threads start on first use. */
typedef struct loom_work_pool_s loom_work_pool_t;
loom_work_pool_t *loom_work_pool_new(loom_server_t *srv);
/* Set the number of threads (`workers`); extra threads leave when idle. */
void loom_work_pool_resize(loom_work_pool_t *p, unsigned threads);
/* INST is going: cancel its queued jobs and any it submits from now on;
 * returns how many of its jobs are still owed a done (0: it may stop). */
unsigned loom_work_quiesce(loom_instance_t *inst);
/* Before INST's stop: cancel its queued jobs, wait for its running ones
 * and run every done it is owed. */
void loom_work_drain(loom_instance_t *inst);
/* The server is going: cancel every queued job and every job submitted
 * from now on (running ones complete); instance drains deliver them. */
void loom_work_pool_close(loom_work_pool_t *p);
/* Join the threads and free the pool (every instance drained first). */
void loom_work_pool_free(loom_work_pool_t *p);

#endif
