/*
 * server.h - the server: one reactor, the running configuration, its
 * module instances, listeners and connections.  Everything the daemon
 * holds hangs off one loom_server_t; there are no other globals (except
 * the log settings and the access-log list, which are process-wide).
 */
#ifndef LOOM_SERVER_H
#define LOOM_SERVER_H

#include <event2/event.h>

#include "config.h"
#include "loom.h"

/* A server on reactor BASE (the caller keeps owning BASE). */
loom_server_t *loom_server_new(struct event_base *base);

/* Take CFG (from loom_config_load; the server owns it from now on, also
 * on error), open its access logs and TLS profiles, bind its listeners and
 * start its instances.  SIGHUP re-reads CFG's file.  Returns LOOM_OK or
 * LOOM_ERROR with "FILE:LINE: message" in ERR. */
int loom_server_start(loom_server_t *srv, loom_config_t *cfg, char *err,
                      size_t errlen);

/* Like loom_server_start but from config TEXT and without binding any
 * listener: for session tests over the in-memory transport. */
int loom_server_start_text(loom_server_t *srv, const char *text, char *err,
                           size_t errlen);

/* Run every module's prepare for CFG on instances that never start
 * (`loomd -t`): LOOM_OK, or LOOM_ERROR with "FILE:LINE: module/name:
 * message" in ERR.  CFG stays the caller's. */
int loom_server_check(loom_server_t *srv, loom_config_t *cfg, char *err,
                      size_t errlen);

/* Re-read the config file; on error keep the running one and return
 * LOOM_ERROR with the message in ERR. */
int loom_server_reload(loom_server_t *srv, char *err, size_t errlen);

/* Stop accepting; close every connection once it is idle or GRACE
 * seconds have passed; DONE runs from the reactor when all are closed. */
void loom_server_shutdown(loom_server_t *srv, unsigned grace,
                          void (*done)(void *arg), void *arg);

/* Free everything (connections are aborted). */
void loom_server_free(loom_server_t *srv);

/* What the daemon (main.c) does for the control socket: reload the
 * configuration as SIGHUP does (LOOM_OK, or LOOM_ERROR with "FILE:LINE:
 * message" in ERR), and stop as SIGTERM does but with GRACE seconds.
 * Both run from the reactor, never inside a connection's callback. */
typedef struct {
    int (*reload)(void *arg, char *err, size_t errlen);
    void (*stop)(void *arg, long grace);
} loom_daemon_hooks_t;

/* Make HOOKS (static, or outliving SRV) and ARG the daemon's; NULL
 * HOOKS: none (a reload then re-reads the file directly, a stop is
 * refused). */
void loom_server_set_daemon(loom_server_t *srv,
                            const loom_daemon_hooks_t *hooks, void *arg);

/* Find a running instance by module and instance name, or NULL. */
loom_instance_t *loom_server_instance(loom_server_t *srv, const char *module,
                                      const char *name);

#endif
