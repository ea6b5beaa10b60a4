/*
 * irc_chan.c - channels: JOIN, PART, TOPIC, NAMES, LIST, MODE, KICK,
 * INVITE (helper irc-chan).
 *
 * Placeholder committed by helper irc so that the module links: an empty
 * command table and stubs of the functions irc_int.h declares.  From
 * here on this file belongs to helper irc-chan.
 */
#include <stdio.h>
#include <string.h>

#include "irc_int.h"

const irc_cmd_t irc_chan_cmds[] = {{NULL, 0, 0, 0, NULL}};

void irc_chan_init(irc_inst_t *irc)
{
    (void)irc;
}

void irc_chan_fini(irc_inst_t *irc)
{
    (void)irc;
}

irc_chan_t *irc_chan_find(irc_inst_t *irc, const char *name)
{
    char key[IRC_CHAN_BUF];

    return irc_map_get(&irc->chans, irc_fold(irc, name, key, sizeof(key)));
}

irc_member_t *irc_member_find(irc_chan_t *ch, const irc_client_t *c)
{
    for (irc_member_t *m = ch->members; m; m = m->next)
        if (m->client == c)
            return m;
    return NULL;
}

int irc_chan_join(irc_client_t *c, const char *name, const char *key, int force)
{
    (void)c;
    (void)name;
    (void)key;
    (void)force;
    return 403;
}

int irc_chan_can_send(irc_client_t *c, irc_chan_t *ch)
{
    return irc_member_find(ch, c) ? 0 : 404;
}

void irc_chan_part_all(irc_client_t *c)
{
    (void)c;
}

const char *irc_member_prefix(const irc_member_t *m, int multi, char *buf,
                              size_t len)
{
    size_t n = 0;

    if (len == 0)
        return buf;
    if ((m->modes & IRC_MEMBER_OP) && n + 1 < len)
        buf[n++] = '@';
    if ((m->modes & IRC_MEMBER_VOICE) && (multi || n == 0) && n + 1 < len)
        buf[n++] = '+';
    buf[n] = '\0';
    return buf;
}
