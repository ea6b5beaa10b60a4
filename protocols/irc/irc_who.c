/*
 * irc_who.c - WHO (and WHOX), WHOIS, WHOWAS (helper irc-chan).
 *
 * Placeholder committed by helper irc so that the module links: an empty
 * command table and stubs of the functions irc_int.h declares.  From
 * here on this file belongs to helper irc-chan.
 */
#include "irc_int.h"

const irc_cmd_t irc_who_cmds[] = {{NULL, 0, 0, 0, NULL}};

void irc_who_remember(irc_client_t *c)
{
    (void)c;
}

void irc_who_fini(irc_inst_t *irc)
{
    (void)irc;
}
