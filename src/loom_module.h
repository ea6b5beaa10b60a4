/*
 * loom_module.h - the whole interface between loomd and a protocol module.
 *
 * A module is one static loom_module_t: its name (the section keyword in
 * loom.conf), the ABI version it was built for, its libconfuse option table,
 * its config glue (configure/conf_free), its lifecycle (start/reload/stop)
 * and its protocol callbacks.  The core owns sockets, TLS, timeouts and
 * buffers; a module sees bytes in, writes bytes out through a loom_conn_t,
 * and never calls socket functions itself.
 *
 * Built-in modules are listed in src/modules.c; the same source built as a
 * shared object exports `loom_module_entry` (a loom_module_t) and is loaded
 * with `load_module("PATH.so")`.
 */
#ifndef LOOM_MODULE_H
#define LOOM_MODULE_H

#include <confuse.h>
#include <sys/socket.h>

#include "loom.h"
#include "loom_bus.h"
#include "loom_client.h"
#include "loom_cmd.h"
#include "loom_conn.h"
#include "loom_ctl.h"
#include "loom_metrics.h"
#include "loom_reactor.h"
#include "loom_service.h"
#include "loom_work.h"

/* Bump when loom_module_t or any function a module may call changes. */
#define LOOM_MODULE_ABI 8

/* loom_module_t.flags: the module's section is written once and without
 * a title (`control { ... }`); its one instance is named after the
 * module.  A second section is a configuration error. */
#define LOOM_MODULE_SINGLE 0x01u

/* loom_module_t.idle_timeout: connections may idle forever by default. */
#define LOOM_TIMEOUT_NONE 0xffffffffu

/* A received datagram and where the reply goes: a plain value holding no
 * pointer into a listener, so a module may copy it and answer later (after
 * a lookup, a forward, worker-pool work).  The reply goes out if the
 * listener it came in on is still open, and is dropped and counted if a
 * reload or a stop closed it meanwhile. */
typedef struct {
    loom_server_t *srv;
    uint64_t listener; /* the listener's id; ids are never reused */
    struct sockaddr_storage peer;
    socklen_t peer_len;
} loom_dgram_t;

struct loom_module_s {
    unsigned abi;          /* LOOM_MODULE_ABI */
    const char *name;      /* section keyword: `echo "main" { ... }` */
    cfg_opt_t *options;    /* module options, CFG_END-terminated; may be NULL */
    size_t conn_size;      /* bytes of per-connection state, zeroed at open */
    unsigned idle_timeout; /* default idle timeout in seconds (0: core's,
                            * LOOM_TIMEOUT_NONE: none) */
    const char *const *alpn; /* ALPN ids offered on TLS listeners, or NULL */
    unsigned flags;          /* LOOM_MODULE_SINGLE */

    /* Config glue: turn a parsed, type-checked section into the module's
     * own struct in *conf.  Report problems with loom_conf_error() and
     * return LOOM_ERROR.  Called at start and on every reload. */
    int (*configure)(cfg_t *sec, void **conf);
    void (*conf_free)(void *conf);

    /* Lifecycle; any may be NULL.  Applying a configuration (at start and
     * on every reload) has two phases.
     *
     * prepare: phase one, for every instance of the new configuration
     * before anything is committed.  CONF is the struct configure() made;
     * INST is the running instance (reload) or a new one that has not
     * started (its loom_instance_conf() is NULL).  Do here whatever can
     * fail -- open files, directories, queues, upstream channels -- and
     * keep what it made in CONF (conf_free releases it when the new
     * configuration is not applied).  Return LOOM_ERROR with a message in
     * ERR (ERRLEN bytes) to refuse the configuration: nothing is applied,
     * the running one keeps serving.  `loomd -t` runs it too, on
     * instances that never start.
     *
     * start runs once when a new instance is committed; reload after a
     * running instance's conf has been replaced by the prepared one (the
     * old one is freed after reload returns); neither can fail.  stop runs
     * when the instance is removed or the daemon exits and its last
     * connection has closed (its timers are disarmed and its deferred
     * calls have run by then). */
    int (*prepare)(loom_instance_t *inst, void *conf, char *err, size_t errlen);
    void (*start)(loom_instance_t *inst);
    void (*reload)(loom_instance_t *inst);
    void (*stop)(loom_instance_t *inst);
    /* The daemon begins a graceful stop (listeners are closed, the grace
     * period runs): ask clients to finish and go (HTTP/2 GOAWAY, closing
     * idle keep-alive connections).  May be NULL. */
    void (*quiesce)(loom_instance_t *inst);

    /* Stream protocol callbacks (TCP, TLS, UNIX). */
    loom_handler_t stream;

    /* Datagram callback (UDP); NULL if the module has no UDP side. */
    void (*datagram)(loom_instance_t *inst, const loom_dgram_t *from,
                     const char *buf, size_t len);

    /* Bus actions the module's instances take (loom_bus.h), ended by an
     * entry whose name is NULL; NULL when none. */
    const loom_action_t *actions;

    /* Add the instance's samples to M with loom_metric (loom_metrics.h):
     * its counters and gauges, labelled with the instance by the core.
     * Runs on the reactor whenever metrics are collected (a scrape, a
     * status page, loomctl status); must be cheap and must not block.
     * NULL when the module has none beyond the core's. */
    void (*metrics)(loom_instance_t *inst, loom_metrics_t *m);

    /* Commands loomctl may run on an instance (loom_ctl.h), ended by an
     * entry whose name is NULL; NULL when none. */
    const loom_ctl_cmd_t *commands;
};

/* Name under which a shared-object module exports its loom_module_t. */
#define LOOM_MODULE_SYMBOL "loom_module_entry"

/* ---- what a module may ask of its instance ------------------------------ */

/* The validated module struct configure() produced (current generation). */
void *loom_instance_conf(loom_instance_t *inst);

/* "module/instance", for log lines. */
const char *loom_instance_who(loom_instance_t *inst);

/* The instance's access log, or NULL if `access_log` is not set. */
loom_alog_t *loom_instance_alog(loom_instance_t *inst);

/* The server (for outbound connects and the resolver). */
loom_server_t *loom_instance_server(loom_instance_t *inst);

/* Facts about one running instance, for status pages. */
typedef struct {
    const char *module, *name;
    unsigned connections; /* open now */
} loom_instance_stat_t;

/* Fill up to MAX entries, one per running instance of SRV in config order;
 * returns how many instances there are (may exceed MAX).  The strings live
 * until the next reload. */
size_t loom_server_instances(loom_server_t *srv, loom_instance_stat_t *out,
                             size_t max);

/* Facts about one open listener, for status pages and loomctl. */
typedef struct {
    const char *module, *instance; /* whose it is */
    const char *endpoint;          /* as written in loom.conf */
    const char *transport;         /* "tcp", "tls", "udp" or "unix" */
    unsigned connections;          /* accepted here and open now */
    int adopted;                   /* passed by systemd */
} loom_listener_stat_t;

/* Fill up to MAX entries, one per open listener of SRV (in the order
 * they were opened); returns how many there are (may exceed MAX).  The
 * strings live until the next reload. */
size_t loom_server_listeners(loom_server_t *srv, loom_listener_stat_t *out,
                             size_t max);

/* Counters of the core, for status pages. */
typedef struct {
    uint64_t dgram_dropped; /* UDP replies whose listener had closed */
} loom_server_counters_t;

/* Fill OUT with SRV's counters. */
void loom_server_counters(loom_server_t *srv, loom_server_counters_t *out);

/* The user and group SRV runs as once started: the configured `user`
 * and `group` when loomd started as root (it drops to them after
 * binding), else the current ones.  For a module's prepare, which runs
 * before the drop, to give what it creates (Maildirs, spools) to the
 * user that will write there.  LOOM_OK, or LOOM_ERROR when the user or
 * group is unknown (*UID and *GID are then the current ones). */
int loom_server_run_as(loom_server_t *srv, uid_t *uid, gid_t *gid);

/* Module-private pointer that survives reloads (start sets it). */
void *loom_instance_data(loom_instance_t *inst);
void loom_instance_set_data(loom_instance_t *inst, void *data);

/* Send one datagram back to FROM's peer through the listener it came in
 * on.  Returns LOOM_OK, LOOM_ERROR (not sent: the socket refused it, as
 * UDP may), or LOOM_DECLINED when that listener is closed now (a reload
 * changed it): the reply is dropped and counted in the server's
 * dgram_dropped counter (see loom_server_counters). */
int loom_dgram_reply(const loom_dgram_t *from, const char *buf, size_t len);

/* From configure(): report an error about option OPT of section SEC as
 * "FILE:LINE: message" (OPT may be NULL for the section itself). */
void loom_conf_error(cfg_t *sec, const char *opt, const char *fmt, ...)
    LOOM_PRINTF(3, 4);

/* From configure(): report an error whose message names its own place,
 * e.g. "zones/x.zone:12: bad A record" for a data file the section
 * points to. */
void loom_conf_error_plain(const char *fmt, ...) LOOM_PRINTF(1, 2);

/* From configure(): read string option OPT of SEC as a size (see
 * loom_parse_size) into *OUT; reports the error and returns LOOM_ERROR
 * when it is not one. */
int loom_conf_size(cfg_t *sec, const char *opt, size_t *out);

/* From configure(): resolve a path option against the directory of the
 * file that set it.  Returns a heap string. */
char *loom_conf_path(cfg_t *sec, const char *opt, const char *value);

/* ---- name resolution for modules (resolver.c) ---------------------------- */

/* Outbound connections, STARTTLS as a client and typed DNS lookups
 * (MX, TXT, SRV, PTR) are in loom_client.h; loom_addr_t is defined there. */

/* Result of loom_resolve_name: N addresses (ADDRS valid only during the
 * call), or N == 0 with ERR ("no address", a c-ares message). */
typedef void (*loom_addrs_cb)(const loom_addr_t *addrs, size_t n,
                              const char *err, void *arg);

/* Resolve HOST (a name or a literal address) for TCP PORT with the
 * server's c-ares channel; CB runs exactly once, always from the reactor
 * (never before this returns). */
void loom_resolve_name(loom_server_t *srv, const char *host, int port,
                       loom_addrs_cb cb, void *arg);

/* ---- raw DNS messages through c-ares (forwarding, NOTIFY) ---------------- */

/* A c-ares channel on SRV's reactor that sends to SERVERS, a comma-separated
 * list of "ADDR", "ADDR:PORT" or "[V6]:PORT", waiting TIMEOUT_MS per try and
 * trying TRIES times over the list.  NULL with ERR set on failure. */
loom_resolver_t *loom_resolver_upstream(loom_server_t *srv, const char *servers,
                                        unsigned timeout_ms, unsigned tries,
                                        char *err, size_t errlen);

/* The answer to a raw query: ANSWER (LEN bytes, whatever its RCODE; its
 * ID is c-ares's, not the query's) or NULL with ERR ("timeout", ...). */
typedef void (*loom_send_cb)(const unsigned char *answer, size_t len,
                             const char *err, void *arg);

/* Send the DNS message QUERY (LEN bytes) over R; CB runs exactly once,
 * from the reactor, or from loom_resolver_free() with an error. */
void loom_resolver_send(loom_resolver_t *r, const unsigned char *query,
                        size_t len, loom_send_cb cb, void *arg);

/* Free a channel; pending sends get their callback with an error first. */
void loom_resolver_free(loom_resolver_t *r);

#endif
