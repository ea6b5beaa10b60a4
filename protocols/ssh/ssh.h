/*
 * ssh.h - the ssh module: delivery over SFTP (libssh2), client only.
 * Shared between its config glue (ssh_conf.c) and its runtime (ssh.c).
 */
#ifndef LOOM_SSH_H
#define LOOM_SSH_H

#include "loom_module.h"

/* One instance's validated options (paths absolute, resolved against the
 * file that set them). */
typedef struct {
    char *host;
    int port;
    char *user;
    char *key;         /* private key file; the public half is derived */
    char *known_hosts; /* OpenSSH known_hosts file, read at every connect */
    unsigned timeout;  /* seconds: a connect and its handshake, one call */
    unsigned idle;     /* seconds a session stays open with nothing to do */
} ssh_conf_t;

extern cfg_opt_t ssh_options[];

/* configure / conf_free of the module (loom_module_t contract). */
int ssh_configure(cfg_t *sec, void **conf);
void ssh_conf_free(void *conf);

#endif
