/*
 * irc_client.c - clients (placeholder of the first commit: the interface
 * links, connections are refused until the session lands).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "irc.h"

int irc_conf_accounts(irc_conf_t *c)
{
    (void)c;
    return LOOM_OK;
}

void irc_conf_accounts_free(irc_conf_t *c)
{
    (void)c;
}

int irc_conn_open(loom_conn_t *c)
{
    loom_conn_printf(c, "ERROR :Closing Link: not yet\r\n");
    loom_conn_close(c);
    return LOOM_OK;
}

size_t irc_conn_data(loom_conn_t *c, const char *buf, size_t len)
{
    (void)c;
    (void)buf;
    return len;
}

void irc_conn_drain(loom_conn_t *c)
{
    (void)c;
}

void irc_conn_close(loom_conn_t *c)
{
    (void)c;
}

irc_client_t *irc_client_by_id(irc_inst_t *irc, uint64_t id)
{
    char key[24];

    snprintf(key, sizeof(key), "%llu", (unsigned long long)id);
    return irc_map_get(&irc->clients_by_id, key);
}

irc_client_t *irc_client_by_nick(irc_inst_t *irc, const char *nick)
{
    char key[IRC_NICK_BUF];

    return irc_map_get(&irc->nicks, irc_fold(irc, nick, key, sizeof(key)));
}

const char *irc_client_prefix(const irc_client_t *c, char *buf, size_t len)
{
    snprintf(buf, len, "%s!%s@%s", c->nick, c->user, c->host);
    return buf;
}

int irc_client_registered(const irc_client_t *c)
{
    return (c->reg & IRC_REG_DONE) != 0;
}

int irc_client_write(irc_client_t *c, loom_buf_t *line)
{
    if (c->quitting || c->ops == NULL)
        return LOOM_ERROR;
    return c->ops->write(c->io, line);
}

void irc_client_set_pacer(irc_client_t *c,
                          void (*fn)(irc_client_t *c, void *state),
                          void (*free_fn)(void *state), void *state)
{
    if (c->pacer_free && c->pacer_state)
        c->pacer_free(c->pacer_state);
    c->pacer = fn;
    c->pacer_free = free_fn;
    c->pacer_state = state;
}

void irc_client_quit(irc_client_t *c, const char *reason, int error_line)
{
    (void)reason;
    (void)error_line;
    c->quitting = 1;
}

void irc_numeric(irc_client_t *c, int num, const char *fmt, ...)
{
    (void)c;
    (void)num;
    (void)fmt;
}

void irc_send(irc_client_t *c, const char *fmt, ...)
{
    (void)c;
    (void)fmt;
}

void irc_send_server(irc_client_t *c, const char *fmt, ...)
{
    (void)c;
    (void)fmt;
}

void irc_std_reply(irc_client_t *c, const char *kind, const char *cmd,
                   const char *code, const char *context,
                   const char *description)
{
    (void)c;
    (void)kind;
    (void)cmd;
    (void)code;
    (void)context;
    (void)description;
}

void irc_err_needmore(irc_client_t *c, const char *cmd)
{
    irc_numeric(c, 461, "%s :Not enough parameters", cmd);
}

void irc_err_nosuchnick(irc_client_t *c, const char *name)
{
    irc_numeric(c, 401, "%s :No such nick/channel", name);
}

void irc_err_nosuchchannel(irc_client_t *c, const char *name)
{
    irc_numeric(c, 403, "%s :No such channel", name);
}

unsigned irc_fanout_chan(irc_chan_t *ch, const irc_out_t *o)
{
    (void)ch;
    (void)o;
    return 0;
}

unsigned irc_fanout_common(irc_client_t *who, const irc_out_t *o)
{
    (void)who;
    (void)o;
    return 0;
}

void irc_send_out(irc_client_t *to, const irc_out_t *o)
{
    (void)to;
    (void)o;
}

const irc_cmd_t irc_hub_cmds[] = {{NULL, 0, 0, 0, NULL}};
