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
#include <event2/event.h>
#include <sys/socket.h>

#include "loom.h"
#include "loom_cmd.h"
#include "loom_conn.h"

/* Bump when loom_module_t or any function a module may call changes. */
#define LOOM_MODULE_ABI 2

/* loom_module_t.idle_timeout: connections may idle forever by default. */
#define LOOM_TIMEOUT_NONE 0xffffffffu

/* A received datagram and where the reply goes. */
typedef struct {
    loom_listener_t *listener;
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

    /* Config glue: turn a parsed, type-checked section into the module's
     * own struct in *conf.  Report problems with loom_conf_error() and
     * return LOOM_ERROR.  Called at start and on every reload. */
    int (*configure)(cfg_t *sec, void **conf);
    void (*conf_free)(void *conf);

    /* Lifecycle; any may be NULL.  start runs once when the instance first
     * appears, reload after inst's conf has been replaced by a new one
     * (the old one is freed after reload returns), stop when the instance is
     * removed or the daemon exits and its last connection has closed. */
    int (*start)(loom_instance_t *inst);
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

/* The reactor every module shares. */
struct event_base *loom_instance_base(loom_instance_t *inst);

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

/* Module-private pointer that survives reloads (start sets it). */
void *loom_instance_data(loom_instance_t *inst);
void loom_instance_set_data(loom_instance_t *inst, void *data);

/* Send one datagram back to FROM's peer through the listener it came in
 * on.  Returns LOOM_OK or LOOM_ERROR (dropped, as UDP does). */
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

/* One address HOST resolved to, with the TTL its record carried. */
typedef struct {
    struct sockaddr_storage addr;
    socklen_t len;
    unsigned ttl; /* seconds; 0 when unknown (files, literals) */
} loom_addr_t;

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

/* A c-ares channel on BASE that sends to SERVERS, a comma-separated list of
 * "ADDR", "ADDR:PORT" or "[V6]:PORT", waiting TIMEOUT_MS per try and
 * trying TRIES times over the list.  NULL with ERR set on failure. */
loom_resolver_t *loom_resolver_upstream(struct event_base *base,
                                        const char *servers,
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
