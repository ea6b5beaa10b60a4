/*
 * memcache_conf.c - the memcache module's options and their validation.
 */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "memcache.h"

#define MC_MEMORY_DEFAULT "64M"
#define MC_MAX_ITEM_DEFAULT "1M"
#define MC_MAX_ITEM_MIN 1024              /* as memcached's -I floor */
#define MC_MAX_ITEM_MAX ((size_t)1 << 30) /* 1 GiB, memcached's ceiling */

cfg_opt_t mc_conf_opts[] = {
    CFG_STR("memory", MC_MEMORY_DEFAULT, CFGF_NONE),
    CFG_STR("max_item_size", MC_MAX_ITEM_DEFAULT, CFGF_NONE),
    CFG_BOOL("strict_keys", cfg_true, CFGF_NONE),
    CFG_STR_LIST("publish_prefixes", NULL, CFGF_NONE), CFG_END()};

int mc_configure(cfg_t *sec, void **conf)
{
    mc_conf_t *mc;
    size_t memory, max_item, i;

    if (loom_conf_size(sec, "memory", &memory) != 0 ||
        loom_conf_size(sec, "max_item_size", &max_item) != 0)
        return LOOM_ERROR;
    if (memory < ((size_t)1 << 20)) {
        loom_conf_error(sec, "memory", "memory must be at least 1M");
        return LOOM_ERROR;
    }
    if (max_item < MC_MAX_ITEM_MIN || max_item > MC_MAX_ITEM_MAX) {
        loom_conf_error(sec, "max_item_size",
                        "max_item_size must be between 1K and 1G");
        return LOOM_ERROR;
    }
    if (max_item > memory / 2) {
        loom_conf_error(sec, "max_item_size",
                        "max_item_size must be at most half of memory");
        return LOOM_ERROR;
    }
    mc = loom_calloc(1, sizeof(*mc));
    mc->memory = memory;
    mc->max_item = max_item;
    mc->parse_flags = cfg_getbool(sec, "strict_keys") ? 0 : MC_PARSE_LAX_KEYS;
    mc->n_prefixes = cfg_size(sec, "publish_prefixes");
    mc->prefixes = loom_calloc(mc->n_prefixes + 1, sizeof(char *));
    for (i = 0; i < mc->n_prefixes; i++) {
        const char *p = cfg_getnstr(sec, "publish_prefixes", (unsigned)i);

        mc->prefixes[i] = loom_strdup(p);
        if (*p == '\0' || strlen(p) > 250) {
            loom_conf_error(sec, "publish_prefixes",
                            "a prefix in publish_prefixes is 1 to 250 bytes");
            mc_conf_free(mc);
            return LOOM_ERROR;
        }
    }
    *conf = mc;
    return LOOM_OK;
}

void mc_conf_free(void *conf)
{
    mc_conf_t *mc = conf;
    size_t i;

    for (i = 0; mc && i < mc->n_prefixes; i++)
        free(mc->prefixes[i]);
    if (mc)
        free(mc->prefixes);
    free(mc);
}
