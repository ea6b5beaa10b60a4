/*
 * lifecycle.c - a test-only module for the core's lifecycle: a prepare
 * that fails on demand (`fail_prepare = "why"`), so that tests can show a
 * refused configuration leaves the running one untouched.  Its stream
 * side answers every line with "NAME reloads=N" (N counts reloads since
 * it started), so tests can tell which configuration an instance runs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loom_module.h"

typedef struct {
    char *fail_prepare;
} lc_conf_t;

typedef struct {
    unsigned reloads;
} lc_state_t;

static cfg_opt_t lc_opts[] = {CFG_STR("fail_prepare", NULL, CFGF_NONE),
                              CFG_END()};

static int lc_configure(cfg_t *sec, void **conf)
{
    lc_conf_t *c = loom_calloc(1, sizeof(*c));
    const char *v = cfg_getstr(sec, "fail_prepare");

    c->fail_prepare = v ? loom_strdup(v) : NULL;
    *conf = c;
    return LOOM_OK;
}

static void lc_conf_free(void *conf)
{
    lc_conf_t *c = conf;

    free(c->fail_prepare);
    free(c);
}

static int lc_prepare(loom_instance_t *inst, void *conf, char *err,
                      size_t errlen)
{
    lc_conf_t *c = conf;

    (void)inst;
    if (c->fail_prepare == NULL)
        return LOOM_OK;
    snprintf(err, errlen, "%s", c->fail_prepare);
    return LOOM_ERROR;
}

static void lc_start(loom_instance_t *inst)
{
    loom_instance_set_data(inst, loom_calloc(1, sizeof(lc_state_t)));
}

static void lc_reload(loom_instance_t *inst)
{
    lc_state_t *st = loom_instance_data(inst);

    st->reloads++;
}

static void lc_stop(loom_instance_t *inst)
{
    free(loom_instance_data(inst));
    loom_instance_set_data(inst, NULL);
}

static size_t lc_data(loom_conn_t *c, const char *buf, size_t len)
{
    loom_instance_t *inst = loom_conn_instance(c);
    lc_state_t *st = loom_instance_data(inst);
    const char *nl = memchr(buf, '\n', len);

    if (nl == NULL)
        return 0;
    loom_conn_printf(c, "%s reloads=%u\n", loom_instance_who(inst),
                     st->reloads);
    return (size_t)(nl - buf) + 1;
}

/* Exported for dlsym; no prototype needed elsewhere. */
extern loom_module_t loom_module_entry;

loom_module_t loom_module_entry = {
    .abi = LOOM_MODULE_ABI,
    .name = "lifecycle",
    .options = lc_opts,
    .configure = lc_configure,
    .conf_free = lc_conf_free,
    .prepare = lc_prepare,
    .start = lc_start,
    .reload = lc_reload,
    .stop = lc_stop,
    .stream = {.data = lc_data},
};
