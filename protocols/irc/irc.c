/*
 * irc.c - the irc module: its lifecycle (the instance's tables, the
 * service user, the "irc.link/1" export), the case-mapping glue and the
 * module struct.
 *
 * Clients and the dispatcher are in irc_client.c, CAP in irc_cap.c,
 * replies, fan-out and messaging in irc_msg.c, the server's own commands
 * in irc_server_cmds.c, the bus in irc_bus.c, the options in irc_conf.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "irc.h"

irc_inst_t *irc_inst(loom_instance_t *inst)
{
    return loom_instance_data(inst);
}

const irc_conf_t *irc_conf(const irc_inst_t *irc)
{
    return loom_instance_conf(irc->inst);
}

char *irc_fold(const irc_inst_t *irc, const char *in, char *out, size_t outlen)
{
    return irc_fold_map(irc_conf(irc)->casemap, in, out, outlen);
}

int irc_name_eq(const irc_inst_t *irc, const char *a, const char *b)
{
    char fa[256], fb[256];

    irc_fold(irc, a, fa, sizeof(fa));
    irc_fold(irc, b, fb, sizeof(fb));
    return strcmp(fa, fb) == 0;
}

irc_hub_t *irc_hub(irc_inst_t *irc)
{
    return irc->priv;
}

/* Make the service user the config asks for (or drop it). */
static void irc_service_sync(irc_inst_t *irc)
{
    const irc_conf_t *conf = irc_conf(irc);
    irc_hub_t *hub = irc_hub(irc);
    const char *want = conf->service_nick;

    if (irc->service && (want == NULL || hub->service_nick == NULL ||
                         strcmp(want, hub->service_nick) != 0)) {
        irc_client_quit(irc->service, "Service user leaving", 0);
        irc->service = NULL;
    }
    free(hub->service_nick);
    hub->service_nick = want ? loom_strdup(want) : NULL;
    if (want && irc->service == NULL) {
        irc->service = irc_service_user_new(irc, want);
        if (irc->service == NULL)
            loom_log(LOOM_LOG_WARN, loom_instance_who(irc->inst),
                     "service_nick %s is in use by a client: no service user",
                     want);
    }
}

/* Once a second: a reload that removed the instance leaves its clients
 * connected (the core stops it only when they have gone): tell them. */
static void irc_housekeeping(loom_timer_t *t, void *arg)
{
    irc_inst_t *irc = arg;
    loom_instance_t *now = loom_instance_find(
        loom_instance_server(irc->inst), "irc", loom_instance_name(irc->inst));

    if (now != irc->inst) {
        irc->stopping = 1;
        irc_clients_close_all(irc, "Server configuration changed");
        return;
    }
    loom_timer_arm(t, 1000);
}

/* A reload may change anything but the case mapping: the nick and
 * channel tables are keyed by names folded with it. */
static int irc_prepare(loom_instance_t *inst, void *conf, char *err,
                       size_t errlen)
{
    const irc_conf_t *old = loom_instance_conf(inst), *c = conf;

    if (old && old->casemap != c->casemap) {
        snprintf(err, errlen,
                 "casemapping cannot change on reload (restart loomd)");
        return LOOM_ERROR;
    }
    return LOOM_OK;
}

static void irc_start(loom_instance_t *inst)
{
    irc_inst_t *irc = loom_calloc(1, sizeof(*irc));
    irc_hub_t *hub = loom_calloc(1, sizeof(*hub));

    irc->inst = inst;
    irc->priv = hub;
    irc->created = time(NULL);
    loom_instance_set_data(inst, irc);
    irc_chan_init(irc);
    irc_service_sync(irc);
    loom_timer_init(&hub->housekeeping, inst, irc_housekeeping, irc);
    loom_timer_arm(&hub->housekeeping, 1000);
    loom_service_export(inst, IRC_LINK_SERVICE, &irc_link_service, irc);
}

static void irc_reload(loom_instance_t *inst)
{
    irc_service_sync(irc_inst(inst));
}

/* A graceful stop began: every client gets ERROR and is closed. */
static void irc_quiesce(loom_instance_t *inst)
{
    irc_inst_t *irc = irc_inst(inst);

    if (irc == NULL)
        return;
    irc->stopping = 1;
    irc_clients_close_all(irc, "Server shutting down");
}

static void irc_stop(loom_instance_t *inst)
{
    irc_inst_t *irc = irc_inst(inst);
    irc_hub_t *hub;

    if (irc == NULL)
        return;
    hub = irc_hub(irc);
    irc->stopping = 1;
    loom_timer_disarm(&hub->housekeeping);
    /* links and the service user are still here: TCP clients are gone */
    irc_clients_close_all(irc, "Server shutting down");
    irc->service = NULL;
    irc_chan_fini(irc);
    irc_who_fini(irc);
    irc_map_free(&irc->clients_by_id);
    irc_map_free(&irc->nicks);
    irc_map_free(&irc->chans);
    irc_map_free(&hub->ips);
    free(hub->service_nick);
    free(hub);
    free(irc);
    loom_instance_set_data(inst, NULL);
}

extern const loom_module_t loom_irc_module;

const loom_module_t loom_irc_module = {
    .abi = LOOM_MODULE_ABI,
    .name = "irc",
    .options = irc_options,
    .conn_size = sizeof(void *),       /* the client, allocated at open */
    .idle_timeout = LOOM_TIMEOUT_NONE, /* the module PINGs idle clients */
    .configure = irc_configure,
    .conf_free = irc_conf_free,
    .prepare = irc_prepare,
    .start = irc_start,
    .reload = irc_reload,
    .stop = irc_stop,
    .quiesce = irc_quiesce,
    .stream = {irc_conn_open, irc_conn_data, irc_conn_drain, irc_conn_close},
    .actions = irc_actions,
    .metrics = irc_metrics,
    .commands = irc_ctl_commands,
};
