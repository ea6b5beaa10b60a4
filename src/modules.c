/*
 * modules.c - the module registry: built-in modules in one table, and
 * modules loaded from shared objects with load_module().
 *
 * The registry is process-wide, as the code it refers to is: a loaded
 * module stays loaded for the life of the process.
 */
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "loom_module.h"

extern const loom_module_t loom_echo_module;
extern const loom_module_t loom_finger_module;
extern const loom_module_t loom_memcache_module;
extern const loom_module_t loom_dns_module;
extern const loom_module_t loom_http_module;
extern const loom_module_t loom_ssh_module;
extern const loom_module_t loom_smtp_module;
extern const loom_module_t loom_irc_module;
extern const loom_module_t loom_metrics_module;

/* Adding a built-in module: one line here (and its folder). */
static const loom_module_t *const loom_builtin_modules[] = {
    &loom_echo_module,     &loom_finger_module,
    &loom_memcache_module, &loom_dns_module,
    &loom_http_module,     &loom_ssh_module,
    &loom_smtp_module,     &loom_irc_module,
    &loom_metrics_module,  NULL,
};

#define LOOM_MAX_LOADED 32

static struct {
    const loom_module_t *mod;
    char *path;
} loom_loaded[LOOM_MAX_LOADED];
static size_t loom_n_loaded;

/* Words of the top level of loom.conf that a module cannot be named. */
static const char *const loom_reserved[] = {
    "user", "group",   "pidfile",     "shutdown_grace", "log", "limits",
    "tls",  "include", "load_module", "workers",        NULL};

const loom_module_t *const *loom_module_builtins(void)
{
    return loom_builtin_modules;
}

const loom_module_t *loom_module_find(const char *name)
{
    size_t i;

    for (i = 0; i < loom_n_loaded; i++) {
        if (strcmp(loom_loaded[i].mod->name, name) == 0)
            return loom_loaded[i].mod;
    }
    for (i = 0; loom_builtin_modules[i]; i++) {
        if (strcmp(loom_builtin_modules[i]->name, name) == 0)
            return loom_builtin_modules[i];
    }
    return NULL;
}

size_t loom_module_all(const loom_module_t **out, size_t max)
{
    size_t n = 0, i;

    for (i = 0; loom_builtin_modules[i] && n < max; i++)
        out[n++] = loom_module_find(loom_builtin_modules[i]->name);
    for (i = 0; i < loom_n_loaded && n < max; i++) {
        size_t j;
        int dup = 0;

        for (j = 0; j < n; j++)
            dup |= out[j] == loom_loaded[i].mod;
        if (!dup)
            out[n++] = loom_loaded[i].mod;
    }
    return n;
}

int loom_module_load(const char *path, char *err, size_t errlen)
{
    char real[PATH_MAX];
    const loom_module_t *mod;
    void *dl;
    size_t i;

    if (realpath(path, real) == NULL) {
        snprintf(err, errlen, "cannot load module %s: %m", path);
        return LOOM_ERROR;
    }
    for (i = 0; i < loom_n_loaded; i++) {
        if (strcmp(loom_loaded[i].path, real) == 0)
            return LOOM_DECLINED;
    }
    if (loom_n_loaded == LOOM_MAX_LOADED) {
        snprintf(err, errlen, "cannot load module %s: too many modules", path);
        return LOOM_ERROR;
    }
    dl = dlopen(real, RTLD_NOW | RTLD_LOCAL);
    if (dl == NULL) {
        snprintf(err, errlen, "cannot load module %s: %s", path, dlerror());
        return LOOM_ERROR;
    }
    mod = dlsym(dl, LOOM_MODULE_SYMBOL);
    if (mod == NULL) {
        snprintf(err, errlen, "%s is not a loom module (no %s symbol)", path,
                 LOOM_MODULE_SYMBOL);
        dlclose(dl);
        return LOOM_ERROR;
    }
    if (mod->abi != LOOM_MODULE_ABI) {
        snprintf(err, errlen,
                 "module %s was built for module ABI %u, this loomd has ABI %u",
                 path, mod->abi, LOOM_MODULE_ABI);
        dlclose(dl);
        return LOOM_ERROR;
    }
    for (i = 0; loom_reserved[i]; i++) {
        if (mod->name == NULL || strcmp(mod->name, loom_reserved[i]) == 0) {
            snprintf(err, errlen, "module %s has a reserved name '%s'", path,
                     mod->name ? mod->name : "(null)");
            dlclose(dl);
            return LOOM_ERROR;
        }
    }
    for (i = 0; i < loom_n_loaded; i++) {
        if (strcmp(loom_loaded[i].mod->name, mod->name) == 0) {
            snprintf(err, errlen,
                     "module %s: a module named %s is already loaded from %s",
                     path, mod->name, loom_loaded[i].path);
            dlclose(dl);
            return LOOM_ERROR;
        }
    }
    loom_loaded[loom_n_loaded].mod = mod;
    loom_loaded[loom_n_loaded].path = strdup(real);
    loom_n_loaded++;
    loom_log(LOOM_LOG_INFO, NULL, "module %s loaded from %s", mod->name, path);
    return LOOM_OK;
}
