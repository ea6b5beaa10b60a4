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

static void irc_start(loom_instance_t *inst)
{
    irc_inst_t *irc = loom_calloc(1, sizeof(*irc));

    irc->inst = inst;
    irc->created = time(NULL);
    loom_instance_set_data(inst, irc);
    irc_chan_init(irc);
}

static void irc_stop(loom_instance_t *inst)
{
    irc_inst_t *irc = irc_inst(inst);

    if (irc == NULL)
        return;
    irc->stopping = 1;
    irc_chan_fini(irc);
    irc_who_fini(irc);
    irc_map_free(&irc->clients_by_id);
    irc_map_free(&irc->nicks);
    irc_map_free(&irc->chans);
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
    .start = irc_start,
    .stop = irc_stop,
    .stream = {irc_conn_open, irc_conn_data, irc_conn_drain, irc_conn_close},
};
