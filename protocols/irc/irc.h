/*
 * irc.h - the hub's private declarations (helper irc): the module's
 * option table and config glue, name checks over irc-parse, the
 * per-client state of the hub, the command dispatcher and the bus glue.
 * Shared internals for every irc file are in irc_int.h.
 */
#ifndef IRC_H
#define IRC_H

#include "irc_int.h"

extern cfg_opt_t irc_options[];

/* configure / conf_free of the module (irc_conf.c). */
int irc_configure(cfg_t *sec, void **conf);
void irc_conf_free(void *conf);
/* Load c->accounts_file into c->accounts (reports errors as FILE:LINE);
 * LOOM_OK or LOOM_ERROR.  And free what it loaded. */
int irc_conf_accounts(irc_conf_t *c);
void irc_conf_accounts_free(irc_conf_t *c);

/* Fold IN with case mapping MAP into OUT (OUTLEN bytes); returns OUT. */
char *irc_fold_map(irc_casemap_t map, const char *in, char *out, size_t outlen);
/* Whether S is a valid nick / channel name under C's limits. */
int irc_nick_ok(const irc_conf_t *c, const char *s);
int irc_chan_name_ok(const irc_conf_t *c, const char *s);

/* The stream handler of the instance's own connections (irc_client.c). */
int irc_conn_open(loom_conn_t *c);
size_t irc_conn_data(loom_conn_t *c, const char *buf, size_t len);
void irc_conn_drain(loom_conn_t *c);
void irc_conn_close(loom_conn_t *c);
#endif
