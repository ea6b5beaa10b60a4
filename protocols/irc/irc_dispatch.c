/*
 * irc_dispatch.c - from a received line to a command: flood control (the
 * classic ircd "fake lag" clock: each command moves the client's clock
 * one interval ahead of now, commands past BURST intervals ahead wait in
 * a bounded queue, a full queue is Excess Flood), parsing with
 * irc-parse's parser, the command tables (the hub's below, irc-chan's
 * irc_chan_cmds and irc_who_cmds) and the checks every command shares.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "irc.h"

/* ---- the hub's commands ----------------------------------------------------
 */

const irc_cmd_t irc_hub_cmds[] = {
    {"PASS", 1, IRC_CMD_PREREG | IRC_CMD_ONLYPRE, 0, irc_cmd_pass},
    {"NICK", 0, IRC_CMD_PREREG, 2, irc_cmd_nick},
    {"USER", 4, IRC_CMD_PREREG | IRC_CMD_ONLYPRE, 0, irc_cmd_user},
    {"CAP", 1, IRC_CMD_PREREG, 0, irc_cap_cmd},
    {"AUTHENTICATE", 1, IRC_CMD_PREREG, 2, irc_authenticate_cmd},
    {"QUIT", 0, IRC_CMD_PREREG, 0, irc_cmd_quit},
    {"PING", 0, IRC_CMD_PREREG, 0, irc_cmd_ping},
    {"PONG", 0, IRC_CMD_PREREG, 0, irc_cmd_pong},
    {"ERROR", 0, IRC_CMD_PREREG, 0, irc_cmd_error},
    {"PRIVMSG", 0, IRC_CMD_ACTIVE, 0, irc_cmd_privmsg},
    {"NOTICE", 0, IRC_CMD_ACTIVE, 0, irc_cmd_notice},
    {"TAGMSG", 0, IRC_CMD_ACTIVE, 0, irc_cmd_tagmsg},
    {"MOTD", 0, 0, 2, irc_cmd_motd},
    {"LUSERS", 0, 0, 2, irc_cmd_lusers},
    {"VERSION", 0, 0, 2, irc_cmd_version},
    {"TIME", 0, 0, 0, irc_cmd_time},
    {"ADMIN", 0, 0, 0, irc_cmd_admin},
    {"INFO", 0, 0, 2, irc_cmd_info},
    {"AWAY", 0, 0, 0, irc_cmd_away},
    {"ISON", 1, 0, 0, irc_cmd_ison},
    {"USERHOST", 1, 0, 0, irc_cmd_userhost},
    {"SETNAME", 1, 0, 0, irc_cmd_setname},
    {"OPER", 2, 0, 2, irc_cmd_oper},
    {"KILL", 2, IRC_CMD_OPER, 0, irc_cmd_kill},
    {NULL, 0, 0, 0, NULL}};

/* Every command by name, built once from the tables. */
static irc_map_t irc_cmd_map;

static const irc_cmd_t *irc_cmd_find(const char *name)
{
    static const irc_cmd_t *const tables[] = {irc_hub_cmds, irc_chan_cmds,
                                              irc_who_cmds};

    if (irc_cmd_map.count == 0) {
        for (size_t t = 0; t < LOOM_ARRAY_LEN(tables); t++)
            for (const irc_cmd_t *e = tables[t]; e->name; e++)
                irc_map_put(&irc_cmd_map, e->name, (void *)(uintptr_t)e);
    }
    return irc_map_get(&irc_cmd_map, name);
}

/* ---- flood control ----------------------------------------------------------
 */

static uint64_t irc_flood_interval(const irc_conf_t *conf)
{
    return 10000 / conf->flood_rate ? 10000 / conf->flood_rate : 1;
}

static void irc_flood_push(irc_hclient_t *hc, const char *line, size_t len)
{
    irc_qline_t *q = loom_malloc(sizeof(*q) + len + 1);

    q->next = NULL;
    q->len = len;
    memcpy(q->line, line, len);
    q->line[len] = '\0';
    if (hc->qtail)
        hc->qtail->next = q;
    else
        hc->qhead = q;
    hc->qtail = q;
    hc->qlen++;
}

void irc_flood_clear(irc_hclient_t *hc)
{
    while (hc->qhead) {
        irc_qline_t *q = hc->qhead;

        hc->qhead = q->next;
        free(q);
    }
    hc->qtail = NULL;
    hc->qlen = 0;
}

/* Whether HC's clock leaves room for one more command now. */
static int irc_flood_room(irc_hclient_t *hc, const irc_conf_t *conf,
                          uint64_t now)
{
    uint64_t iv = irc_flood_interval(conf);

    if (hc->flood_ms < now)
        hc->flood_ms = now;
    return hc->flood_ms - now < (uint64_t)conf->flood_burst * iv;
}

static void irc_flood_arm(irc_hclient_t *hc, const irc_conf_t *conf,
                          uint64_t now)
{
    uint64_t iv = irc_flood_interval(conf),
             window = (uint64_t)conf->flood_burst * iv;
    uint64_t wait =
        hc->flood_ms - now >= window ? hc->flood_ms - now - window : 0;

    loom_timer_arm(&hc->flood_timer, wait + 1);
}

int irc_flood_admit(irc_hclient_t *hc, const char *line, size_t len)
{
    const irc_conf_t *conf = irc_conf(hc->c.inst);
    uint64_t now = loom_now_ms();

    if (hc->qhead == NULL && irc_flood_room(hc, conf, now)) {
        hc->flood_ms += irc_flood_interval(conf);
        return 1;
    }
    if (hc->qlen >= conf->flood_queue) {
        irc_client_quit(&hc->c, "Excess Flood", 1);
        return 0;
    }
    irc_flood_push(hc, line, len);
    if (!loom_timer_armed(&hc->flood_timer))
        irc_flood_arm(hc, conf, now);
    return 0;
}

void irc_flood_release(loom_timer_t *t, void *arg)
{
    irc_hclient_t *hc = arg;
    const irc_conf_t *conf = irc_conf(hc->c.inst);
    uint64_t now = loom_now_ms();

    (void)t;
    while (hc->qhead && !hc->c.quitting && irc_flood_room(hc, conf, now)) {
        irc_qline_t *q = hc->qhead;

        hc->qhead = q->next;
        if (hc->qhead == NULL)
            hc->qtail = NULL;
        hc->qlen--;
        hc->flood_ms += irc_flood_interval(conf);
        irc_dispatch(&hc->c, q->line, q->len);
        free(q);
    }
    if (hc->qhead && !hc->c.quitting)
        irc_flood_arm(hc, conf, now);
}

/* ---- dispatch
 * ---------------------------------------------------------------- */

void irc_dispatch(irc_client_t *c, const char *line, size_t len)
{
    irc_hclient_t *hc = irc_hc(c);
    const irc_conf_t *conf = irc_conf(c->inst);
    char buf[IRC_INPUT_MAX + 1], ctags[IRC_CLIENT_TAGS_MAX + 1];
    irc_msg_t m;
    irc_args_t a;
    const irc_cmd_t *cmd;
    irc_perr_t err;
    int num;

    if (c->quitting || hc->dead)
        return;
    if (len > IRC_INPUT_MAX) {
        irc_numeric(c, 417, ":Input line was too long");
        return;
    }
    memcpy(buf, line, len);
    err = irc_parse(buf, len, &m);
    if (err != IRC_PARSE_OK) {
        num = irc_perr_numeric(err);
        if (num == 417)
            irc_numeric(c, 417, ":Input line was too long");
        else if (num == 421)
            irc_numeric(c, 421, "%.32s :Unknown command",
                        m.command ? m.command : "*");
        return;
    }
    memset(&a, 0, sizeof(a));
    a.cmd = m.command;
    a.nparams = (unsigned)m.nparams;
    for (size_t i = 0; i < m.nparams; i++)
        a.params[i] = m.params[i];
    a.label =
        (c->caps & IRC_CAP_LABELED_RESPONSE) ? irc_msg_tag(&m, "label") : NULL;
    if (a.label && (a.label[0] == '\0' || strlen(a.label) > IRC_LABEL_MAX))
        a.label = NULL;
    if ((c->caps & IRC_CAP_MESSAGE_TAGS) &&
        irc_msg_client_tags(&m, ctags, sizeof(ctags)) + 1 > 1)
        a.client_tags = ctags;
    cmd = irc_cmd_find(m.command);
    irc_label_begin(c, a.label);
    if (cmd == NULL) {
        irc_numeric(c, 421, "%.32s :Unknown command", m.command);
    } else if (!irc_client_registered(c) && !(cmd->flags & IRC_CMD_PREREG)) {
        irc_numeric(c, 451, ":You have not registered");
    } else if (irc_client_registered(c) && (cmd->flags & IRC_CMD_ONLYPRE)) {
        irc_numeric(c, 462, ":You may not reregister");
    } else if (a.nparams < cmd->min_params) {
        irc_err_needmore(c, cmd->name);
    } else if ((cmd->flags & IRC_CMD_OPER) && !(c->umodes & IRC_UMODE_OPER)) {
        irc_numeric(c, 481, ":Permission Denied- You're not an IRC operator");
    } else {
        if (cmd->flags & IRC_CMD_ACTIVE)
            c->last_active_ms = loom_now_ms();
        cmd->fn(c, &a);
        if (cmd->cost > 1)
            hc->flood_ms +=
                (uint64_t)(cmd->cost - 1) * irc_flood_interval(conf);
    }
    irc_label_end(c);
}
