/*
 * ctl.h - the control socket inside the core: the answer a command builds
 * (loom_ctl_t, whose module-facing half is loom_ctl.h), the dispatcher of
 * core and module commands, and the JSON reply.
 *
 * Reply: {"ok":true,"result":R} or {"ok":false,"error":"message"}, where R
 * is {"columns":[..],"rows":[[..],..]} for a table (with "messages":[..]
 * when lines were added too), {"message":"line\nline"} for text, or an
 * object of its own (status).
 */
#ifndef LOOM_CTL_INT_H
#define LOOM_CTL_INT_H

#include <jansson.h>

#include "ctl_proto.h"
#include "loom_ctl.h"

/* What a command leaves to be done outside the control connection's
 * callback, on a later reactor turn. */
typedef enum {
    LOOM_CTL_NOW = 0,    /* answered */
    LOOM_CTL_RELOAD = 1, /* re-read the configuration, then answer */
    LOOM_CTL_STOP = 2    /* answer, then stop with grace GRACE */
} loom_ctl_later_t;

/* An empty answer; free it with loom_ctl_free. */
loom_ctl_t *loom_ctl_new(void);
void loom_ctl_free(loom_ctl_t *out);

/* Whether OUT is an error, and its message (NULL when it is not). */
const char *loom_ctl_error_text(const loom_ctl_t *out);

/* Make OBJ (a JSON object; OUT takes the reference) the whole result,
 * in place of a table or messages. */
void loom_ctl_set_result(loom_ctl_t *out, json_t *obj);

/* The reply for OUT: one JSON object and "\n", heap-allocated (the
 * caller frees it), its length in *LEN when LEN is not NULL. */
char *loom_ctl_render(const loom_ctl_t *out, size_t *len);

/* The reply for an error MESSAGE alone (a malformed request, a refused
 * peer): as loom_ctl_render. */
char *loom_ctl_render_error(const char *message, size_t *len);

/* Run the request of ARGC words ARGV against SRV (core commands, then
 * `MODULE[/NAME] COMMAND ARGS`) and answer into OUT.  Returns
 * LOOM_CTL_NOW, or what the caller must do next (a reload, a stop with
 * *GRACE seconds, -1 for the configured shutdown_grace) from a later
 * reactor turn, then finish with loom_ctl_reload_done / the stop. */
loom_ctl_later_t loom_ctl_dispatch(loom_server_t *srv, int argc, char **argv,
                                   loom_ctl_t *out, long *grace);

/* Reload SRV's configuration now (through the daemon's hook when one is
 * set, see loom_server_set_daemon) and answer into OUT: "configuration
 * reloaded", or the error and "old configuration kept".  Never from
 * inside a connection's callback. */
void loom_ctl_reload(loom_server_t *srv, loom_ctl_t *out);

/* Start stopping SRV with GRACE seconds (-1: the configured grace)
 * through the daemon's hook.  Never from inside a connection's callback.
 * Returns LOOM_OK, or LOOM_ERROR when no daemon hook is set. */
int loom_ctl_stop(loom_server_t *srv, long grace);

/* For tests and callers without a socket: parse LINE (one request, its
 * "\n" optional), run it -- a reload or stop at once -- and return the
 * reply (heap; the caller frees it).  From the reactor, never from inside
 * a connection's callback. */
char *loom_ctl_run_line(loom_server_t *srv, const char *line);

/* The access rule for a peer of uid UID, gid GID and supplementary
 * groups GROUPS (N of them): root, loomd's own user SELF, or, when
 * HAS_GROUP, a member of group GROUP -- its gid, one of GROUPS, or a
 * name in MEMBERS (NULL-terminated, may be NULL) matching the user
 * name USER (may be NULL).  Returns 1 to allow. */
int loom_ctl_peer_allowed(uid_t uid, gid_t gid, const gid_t *groups, size_t n,
                          uid_t self, int has_group, gid_t group,
                          char *const *members, const char *user);

#endif
