/*
 * ssh_conf.c - the ssh module's options and their validation.  Files are
 * checked at configure time (readable key, a known_hosts file libssh2 can
 * parse) so that a typo fails the start or the reload, not every delivery.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libssh2.h>

#include "ssh.h"

#define SSH_TIMEOUT_MAX 3600
#define SSH_IDLE_MAX 86400

cfg_opt_t ssh_options[] = {
    CFG_STR("host", NULL, CFGF_NONE),        CFG_INT("port", 22, CFGF_NONE),
    CFG_STR("user", NULL, CFGF_NONE),        CFG_STR("key", NULL, CFGF_NONE),
    CFG_STR("known_hosts", NULL, CFGF_NONE), CFG_INT("timeout", 10, CFGF_NONE),
    CFG_INT("idle", 60, CFGF_NONE),          CFG_END()};

/* Required string option OPT of SEC, or NULL after reporting it. */
static const char *need_str(cfg_t *sec, const char *opt)
{
    const char *v = cfg_getstr(sec, opt);

    if (v == NULL || v[0] == '\0') {
        loom_conf_error(sec, NULL, "ssh \"%s\": %s is required", cfg_title(sec),
                        opt);
        return NULL;
    }
    return v;
}

/* Can libssh2 read PATH as a known_hosts file?  0, or -1 with *WHY. */
static int known_hosts_ok(const char *path, const char **why)
{
    LIBSSH2_SESSION *s = libssh2_session_init();
    LIBSSH2_KNOWNHOSTS *kh = s ? libssh2_knownhost_init(s) : NULL;
    int rc = -1;

    *why = "cannot start libssh2";
    if (kh) {
        rc = libssh2_knownhost_readfile(kh, path,
                                        LIBSSH2_KNOWNHOST_FILE_OPENSSH);
        *why = "not a known_hosts file libssh2 can read";
        libssh2_knownhost_free(kh);
    }
    if (s)
        libssh2_session_free(s);
    return rc < 0 ? -1 : 0;
}

static int ssh_conf_build(cfg_t *sec, ssh_conf_t *sc)
{
    const char *host, *user, *key, *kh, *why;
    long port = cfg_getint(sec, "port");
    long timeout = cfg_getint(sec, "timeout");
    long idle = cfg_getint(sec, "idle");

    if ((host = need_str(sec, "host")) == NULL ||
        (user = need_str(sec, "user")) == NULL ||
        (key = need_str(sec, "key")) == NULL ||
        (kh = need_str(sec, "known_hosts")) == NULL)
        return LOOM_ERROR;
    if (port < 1 || port > 65535) {
        loom_conf_error(sec, "port", "port must be 1-65535, not %ld", port);
        return LOOM_ERROR;
    }
    if (timeout < 1 || timeout > SSH_TIMEOUT_MAX) {
        loom_conf_error(sec, "timeout", "timeout must be 1-%d seconds, not %ld",
                        SSH_TIMEOUT_MAX, timeout);
        return LOOM_ERROR;
    }
    if (idle < 1 || idle > SSH_IDLE_MAX) {
        loom_conf_error(sec, "idle", "idle must be 1-%d seconds, not %ld",
                        SSH_IDLE_MAX, idle);
        return LOOM_ERROR;
    }
    sc->host = loom_strdup(host);
    sc->user = loom_strdup(user);
    sc->port = (int)port;
    sc->timeout = (unsigned)timeout;
    sc->idle = (unsigned)idle;
    sc->key = loom_conf_path(sec, "key", key);
    sc->known_hosts = loom_conf_path(sec, "known_hosts", kh);
    if (access(sc->key, R_OK) != 0) {
        loom_conf_error(sec, "key", "key %s: %s", sc->key, strerror(errno));
        return LOOM_ERROR;
    }
    if (access(sc->known_hosts, R_OK) != 0) {
        loom_conf_error(sec, "known_hosts", "known_hosts %s: %s",
                        sc->known_hosts, strerror(errno));
        return LOOM_ERROR;
    }
    if (known_hosts_ok(sc->known_hosts, &why) != 0) {
        loom_conf_error(sec, "known_hosts", "known_hosts %s: %s",
                        sc->known_hosts, why);
        return LOOM_ERROR;
    }
    return LOOM_OK;
}

int ssh_configure(cfg_t *sec, void **conf)
{
    ssh_conf_t *sc = loom_calloc(1, sizeof(*sc));

    if (ssh_conf_build(sec, sc) != LOOM_OK) {
        ssh_conf_free(sc);
        return LOOM_ERROR;
    }
    *conf = sc;
    return LOOM_OK;
}

void ssh_conf_free(void *conf)
{
    ssh_conf_t *sc = conf;

    if (sc == NULL)
        return;
    free(sc->host);
    free(sc->user);
    free(sc->key);
    free(sc->known_hosts);
    free(sc);
}
