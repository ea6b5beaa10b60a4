/*
 * irc_names.c - case mapping and name checks with the instance's limits,
 * over irc-parse's irc_util, and the accounts file glue of the config.
 */
#include <stdio.h>
#include <string.h>

#include "irc.h"

char *irc_fold_map(irc_casemap_t map, const char *in, char *out, size_t outlen)
{
    irc_casefold(map, in, out, outlen);
    return out;
}

int irc_nick_ok(const irc_conf_t *c, const char *s)
{
    return irc_nick_valid(s, c->nicklen);
}

int irc_chan_name_ok(const irc_conf_t *c, const char *s)
{
    return irc_chan_valid(s, "#&", c->channellen);
}

int irc_conf_accounts(irc_conf_t *c)
{
    char err[512];

    c->accounts =
        irc_accounts_load(c->accounts_file, c->casemap, err, sizeof(err));
    if (c->accounts == NULL) {
        loom_conf_error_plain("%s", err);
        return LOOM_ERROR;
    }
    return LOOM_OK;
}

void irc_conf_accounts_free(irc_conf_t *c)
{
    irc_accounts_free(c->accounts);
    c->accounts = NULL;
}
