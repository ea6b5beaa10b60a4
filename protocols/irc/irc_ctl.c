/*
 * irc_ctl.c - an irc instance's loomctl commands: `clients` (who is
 * connected: nick, user@host, account, channels, idle seconds,
 * transport) and `kill NICK [REASON]` (the server's own KILL).  Both run
 * on the reactor between client callbacks, so the client pointers they
 * walk are valid for the whole call (irc_int.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "irc.h"

/* One client of the listing, to be sorted by nick. */
typedef struct {
    const irc_client_t *c;
    char folded[IRC_NICK_BUF];
} irc_row_t;

static int irc_row_cmp(const void *a, const void *b)
{
    const irc_row_t *x = a, *y = b;
    int d = strcmp(x->folded, y->folded);

    if (d != 0)
        return d;
    return x->c->id < y->c->id ? -1 : x->c->id > y->c->id;
}

static const char *irc_transport(const irc_client_t *c)
{
    static const char *const names[2][2] = {{"link", "link+tls"},
                                            {"tcp", "tls"}};

    if (c->ops == NULL)
        return "service";
    return names[irc_hc((irc_client_t *)c)->conn != NULL][c->secure != 0];
}

/* C's channels, ","-joined, into a heap string. */
static char *irc_channel_list(const irc_client_t *c)
{
    size_t len = 1, n = 0;
    const irc_member_t *m;
    char *s;

    for (m = c->channels; m != NULL; m = m->cnext)
        len += strlen(m->chan->name) + 1;
    s = loom_malloc(len);
    s[0] = '\0';
    for (m = c->channels; m != NULL; m = m->cnext)
        n += (size_t)snprintf(s + n, len - n, "%s%s", n ? "," : "",
                              m->chan->name);
    return s;
}

static int irc_cmd_clients(loom_instance_t *inst, int argc, char **argv,
                           loom_ctl_t *out)
{
    irc_inst_t *irc = irc_inst(inst);
    irc_map_ent_t *e;
    irc_row_t *rows;
    size_t i = 0, n = 0;
    uint64_t now = loom_now_ms();

    (void)argc;
    (void)argv;
    if (irc == NULL)
        return loom_ctl_error(out, "%s is not running",
                              loom_instance_who(inst));
    rows = loom_calloc(irc->clients_by_id.count + 1, sizeof(*rows));
    for (e = irc_map_next(&irc->clients_by_id, &i, NULL); e != NULL;
         e = irc_map_next(&irc->clients_by_id, &i, e)) {
        const irc_client_t *c = e->value;

        if (c->quitting)
            continue;
        rows[n].c = c;
        irc_fold(irc, c->nick, rows[n].folded, sizeof(rows[n].folded));
        n++;
    }
    if (n > 1)
        qsort(rows, n, sizeof(*rows), irc_row_cmp);
    loom_ctl_columns(out, "nick", "userhost", "account", "channels", "idle",
                     "transport", NULL);
    for (i = 0; i < n; i++) {
        const irc_client_t *c = rows[i].c;
        char uh[IRC_USER_BUF + IRC_HOST_BUF + 2], idle[24];
        char *chans = irc_channel_list(c);

        snprintf(uh, sizeof(uh), "%s@%s", c->user[0] ? c->user : "*", c->host);
        snprintf(idle, sizeof(idle), "%llu",
                 (unsigned long long)(now > c->last_active_ms
                                          ? (now - c->last_active_ms) / 1000
                                          : 0));
        loom_ctl_row(out, c->nick, uh, c->account, chans, idle,
                     irc_transport(c), NULL);
        free(chans);
    }
    free(rows);
    return LOOM_OK;
}

static int irc_cmd_kill_ctl(loom_instance_t *inst, int argc, char **argv,
                            loom_ctl_t *out)
{
    irc_inst_t *irc = irc_inst(inst);
    const char *why = argc > 1 && argv[1][0] ? argv[1]
                                             : "Killed by the "
                                               "operator";
    irc_client_t *victim;
    char reason[IRC_LINE_MAX], nick[IRC_NICK_BUF];

    if (irc == NULL)
        return loom_ctl_error(out, "%s is not running",
                              loom_instance_who(inst));
    victim = irc_client_by_nick(irc, argv[0]);
    if (victim == NULL)
        return loom_ctl_error(out, "no client with nick %s", argv[0]);
    if (victim->is_service)
        return loom_ctl_error(out,
                              "%s is the service user; it cannot be "
                              "killed",
                              victim->nick);
    if (strpbrk(why, "\r\n") != NULL)
        return loom_ctl_error(out, "the reason must be one line");
    snprintf(nick, sizeof(nick), "%s", victim->nick);
    snprintf(reason, sizeof(reason), "Killed (%s (%.300s))",
             irc_conf(irc)->server_name, why);
    irc_send(victim, ":%s KILL %s :%.300s", irc_conf(irc)->server_name,
             victim->nick, why);
    loom_log(LOOM_LOG_INFO, loom_instance_who(inst),
             "the operator killed %s: %s", nick, why);
    irc_client_quit(victim, reason, 1);
    loom_ctl_message(out, "%s killed", nick);
    return LOOM_OK;
}

const loom_ctl_cmd_t irc_ctl_commands[] = {
    {"clients", "",
     "connected clients: nick, user@host, account, channels, idle seconds, "
     "transport",
     0, 0, irc_cmd_clients},
    {"kill", "NICK [REASON]", "disconnect a client with a KILL", 1, 2,
     irc_cmd_kill_ctl},
    {NULL, NULL, NULL, 0, 0, NULL},
};
