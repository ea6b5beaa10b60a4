/*
 * config.h - config glue: read loom.conf with libconfuse into a validated
 * loom_config_t.  Runtime code only ever sees the typed structs built here.
 */
#ifndef LOOM_CONFIG_H
#define LOOM_CONFIG_H

#include <confuse.h>

#include "endpoint.h"
#include "loom.h"

/* loom_config_t.ktls: kernel TLS (SSL_OP_ENABLE_KTLS) for server TLS */
#define LOOM_KTLS_OFF 0
#define LOOM_KTLS_ON 1
#define LOOM_KTLS_AUTO 2 /* on when the kernel lists the "tls" ULP */

typedef struct loom_tls_profile_conf_s {
    char *name;
    char *cert, *key, *chain; /* resolved paths or NULL */
    int self_signed;
    char **server_names;
    size_t n_server_names;
    char *min_version;
    char *ciphers;
    int client_certs; /* ask clients for a certificate (not verified) */
    char *where;      /* "FILE:LINE" of the section */
    char *cert_where, *key_where, *chain_where; /* of each file, or NULL */
} loom_tls_profile_conf_t;

typedef struct loom_listen_conf_s {
    loom_endpoint_t ep;
    char *text;   /* the string as written */
    char *where;  /* "FILE:LINE" */
    size_t order; /* where it comes in the files as read: smaller first */
} loom_listen_conf_t;

/* One module instance section, already configured by its module. */
typedef struct loom_instance_conf_s {
    const loom_module_t *module;
    char *name;
    char *where;
    loom_listen_conf_t *listen;
    size_t n_listen;
    char *access_log;       /* resolved path or NULL */
    char *access_log_where; /* "FILE:LINE" of access_log, or NULL */
    long max_connections;
    long idle_timeout, read_timeout, write_timeout;
    char **alpn;
    size_t n_alpn;
    void *mod_conf; /* what module->configure produced */
} loom_instance_conf_t;

typedef struct loom_config_s {
    char *file;
    char *user, *group, *pidfile;
    int user_set;
    long shutdown_grace;
    int ktls; /* LOOM_KTLS_*: kernel TLS for server connections */
    int log_level;
    int log_syslog;
    long max_connections;
    long workers; /* worker pool threads */
    loom_tls_profile_conf_t *tls;
    size_t n_tls;
    loom_instance_conf_t *inst;
    size_t n_inst;
    /* The TLS profiles the check built (loom_tls_new), for the server to
     * take instead of building them again; freed with the config. */
    struct loom_tls_s *tls_built;
    /* The bus's route table (bus_conf.c), handed to the bus when the
     * config is applied; freed with the config otherwise. */
    struct bus_table_s *routes;
} loom_config_t;

/* Read FILE (or, when TEXT is non-NULL, TEXT with FILE naming it in
 * messages).  Loads modules named by load_module().  Returns NULL with
 * "FILE:LINE: message" in ERR on any error.  Runs loom_config_check on
 * what it read, so loomd -t, the start and a reload check alike. */
loom_config_t *loom_config_load(const char *file, const char *text, char *err,
                                size_t errlen);

/* Check what can be checked without binding (config_check.c): listen
 * addresses, UNIX socket paths, listeners that would conflict, TLS
 * certificates and keys, access logs.  Returns LOOM_OK, or LOOM_ERROR
 * with "FILE:LINE: message" in ERR.  CFG is not changed. */
int loom_config_check(loom_config_t *cfg, char *err, size_t errlen);

/* Free a config, calling each module's conf_free on its instance confs. */
void loom_config_free(loom_config_t *cfg);

/* Find a TLS profile by name, or NULL. */
loom_tls_profile_conf_t *loom_config_tls(loom_config_t *cfg, const char *name);

/* ---- module registry (modules.c) ---------------------------------------- */

/* Find a module by name (built-in or loaded), or NULL. */
const loom_module_t *loom_module_find(const char *name);

/* dlopen PATH and register its module (replacing a built-in one of the
 * same name).  Returns LOOM_OK when a module was registered, LOOM_DECLINED
 * when PATH was loaded before, or LOOM_ERROR with a message in ERR (not a
 * loom module, ABI mismatch...).  The registry is process-wide. */
int loom_module_load(const char *path, char *err, size_t errlen);

/* The built-in modules, NULL-terminated. */
const loom_module_t *const *loom_module_builtins(void);

/* Every module known now (loaded ones replacing built-ins of the same
 * name): fills OUT with up to MAX and returns the count. */
size_t loom_module_all(const loom_module_t **out, size_t max);

#endif
