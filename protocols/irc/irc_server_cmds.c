/*
 * irc_server_cmds.c - the server's own commands: MOTD, LUSERS, VERSION,
 * TIME, ADMIN, INFO, AWAY, ISON, USERHOST, SETNAME, OPER (the password
 * checked on the worker pool), KILL.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "irc.h"

void irc_cmd_motd(irc_client_t *c, const irc_args_t *a)
{
    const irc_conf_t *conf = irc_conf(c->inst);
    const char *p;

    (void)a;
    if (conf->motd == NULL) {
        irc_numeric(c, 422, ":MOTD File is missing");
        return;
    }
    irc_numeric(c, 375, ":- %s Message of the day - ", conf->server_name);
    for (p = conf->motd; *p;) {
        size_t n = strcspn(p, "\n");
        size_t k = n && p[n - 1] == '\r' ? n - 1 : n;

        irc_numeric(c, 372, ":- %.*s", (int)irc_utf8_cut(p, k, 400), p);
        p += n;
        if (*p == '\n')
            p++;
    }
    irc_numeric(c, 376, ":End of /MOTD command.");
}

void irc_cmd_lusers(irc_client_t *c, const irc_args_t *a)
{
    irc_inst_t *irc = c->inst;
    unsigned invisible = 0, total = irc->nclients;
    size_t i = 0;

    (void)a;
    for (irc_map_ent_t *e = irc_map_next(&irc->nicks, &i, NULL); e;
         e = irc_map_next(&irc->nicks, &i, e)) {
        irc_client_t *u = e->value;

        if (irc_client_registered(u) && (u->umodes & IRC_UMODE_INVISIBLE))
            invisible++;
    }
    irc_numeric(c, 251, ":There are %u users and %u invisible on 1 servers",
                total - invisible, invisible);
    if (irc->nopers)
        irc_numeric(c, 252, "%u :IRC Operators online", irc->nopers);
    if (irc->nunknown)
        irc_numeric(c, 253, "%u :unknown connection(s)", irc->nunknown);
    irc_numeric(c, 254, "%zu :channels formed", irc->chans.count);
    irc_numeric(c, 255, ":I have %u clients and 0 servers", total);
    irc_numeric(c, 265, "%u %u :Current local users %u, max %u", total,
                irc->max_seen, total, irc->max_seen);
    irc_numeric(c, 266, "%u %u :Current global users %u, max %u", total,
                irc->max_seen, total, irc->max_seen);
}

/* A server-name parameter other than ours: 402. */
static int irc_other_server(irc_client_t *c, const irc_args_t *a)
{
    const irc_conf_t *conf = irc_conf(c->inst);

    if (a->nparams && a->params[0][0] &&
        !irc_mask_match(conf->casemap, a->params[0], conf->server_name) &&
        irc_client_by_nick(c->inst, a->params[0]) == NULL) {
        irc_numeric(c, 402, "%s :No such server", a->params[0]);
        return 1;
    }
    return 0;
}

void irc_cmd_version(irc_client_t *c, const irc_args_t *a)
{
    const irc_conf_t *conf = irc_conf(c->inst);

    if (irc_other_server(c, a))
        return;
    irc_numeric(c, 351, "loom-%s. %s :libevent reactor, %s",
                LOOM_VERSION_STRING, conf->server_name, loom_reactor_version());
    irc_send_isupport(c);
}

void irc_cmd_time(irc_client_t *c, const irc_args_t *a)
{
    char buf[64];
    time_t now = time(NULL);
    struct tm tm;

    if (irc_other_server(c, a))
        return;
    gmtime_r(&now, &tm);
    strftime(buf, sizeof(buf), "%A %B %d %Y -- %H:%M:%S +00:00", &tm);
    irc_numeric(c, 391, "%s :%s", irc_conf(c->inst)->server_name, buf);
}

void irc_cmd_admin(irc_client_t *c, const irc_args_t *a)
{
    const irc_conf_t *conf = irc_conf(c->inst);

    if (irc_other_server(c, a))
        return;
    irc_numeric(c, 256, "%s :Administrative info", conf->server_name);
    irc_numeric(c, 257, ":%s", conf->info);
    irc_numeric(c, 258, ":%s network", conf->network);
    irc_numeric(c, 259, ":%s",
                conf->admin_email ? conf->admin_email : "(no address set)");
}

void irc_cmd_info(irc_client_t *c, const irc_args_t *a)
{
    const irc_conf_t *conf = irc_conf(c->inst);

    if (irc_other_server(c, a))
        return;
    irc_numeric(c, 371, ":loom %s -- %s", LOOM_VERSION_STRING, conf->info);
    irc_numeric(c, 371, ":An IRC server module of loomd (RFC 2812, IRCv3)");
    irc_numeric(c, 374, ":End of INFO list");
}

void irc_cmd_away(irc_client_t *c, const irc_args_t *a)
{
    const irc_conf_t *conf = irc_conf(c->inst);
    char text[IRC_LINE_MAX];
    irc_out_t o = {0};

    free(c->away);
    c->away = NULL;
    if (a->nparams && a->params[0][0]) {
        const char *msg = a->params[0];

        c->away =
            loom_strndup(msg, irc_utf8_cut(msg, strlen(msg), conf->awaylen));
        irc_numeric(c, 306, ":You have been marked as being away");
        snprintf(text, sizeof(text), "AWAY :%s", c->away);
    } else {
        irc_numeric(c, 305, ":You are no longer marked as being away");
        snprintf(text, sizeof(text), "AWAY");
    }
    o.from = c;
    o.text = text;
    o.caps_all = IRC_CAP_AWAY_NOTIFY;
    irc_fanout_common(c, &o);
}

void irc_cmd_ison(irc_client_t *c, const irc_args_t *a)
{
    char out[IRC_LINE_MAX] = "";
    size_t n = 0;

    for (unsigned i = 0; i < a->nparams; i++) {
        char buf[IRC_LINE_MAX], *save = NULL, *t;

        snprintf(buf, sizeof(buf), "%s", a->params[i]);
        for (t = strtok_r(buf, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
            irc_client_t *u = irc_client_by_nick(c->inst, t);
            int k;

            if (u == NULL)
                continue;
            k = snprintf(out + n, sizeof(out) - n, "%s%s", n ? " " : "",
                         u->nick);
            if (k < 0 || (size_t)k >= sizeof(out) - n)
                break;
            n += (size_t)k;
        }
    }
    irc_numeric(c, 303, ":%s", out);
}

void irc_cmd_userhost(irc_client_t *c, const irc_args_t *a)
{
    char out[IRC_LINE_MAX] = "";
    size_t n = 0;

    for (unsigned i = 0; i < a->nparams && i < 5; i++) {
        irc_client_t *u = irc_client_by_nick(c->inst, a->params[i]);
        int k;

        if (u == NULL)
            continue;
        /* the real host only to the user itself or an operator: loom has
         * no cloaks, so both are the same */
        k = snprintf(out + n, sizeof(out) - n, "%s%s%s=%c%s@%s", n ? " " : "",
                     u->nick, (u->umodes & IRC_UMODE_OPER) ? "*" : "",
                     u->away ? '-' : '+', u->user, u->host);
        if (k < 0 || (size_t)k >= sizeof(out) - n)
            break;
        n += (size_t)k;
    }
    irc_numeric(c, 302, ":%s", out);
}

void irc_cmd_setname(irc_client_t *c, const irc_args_t *a)
{
    const char *name = a->params[0];
    char text[IRC_LINE_MAX];
    irc_out_t o = {0};

    if (name[0] == '\0' || strlen(name) >= sizeof(c->realname)) {
        irc_std_reply(c, "FAIL", "SETNAME", "INVALID_REALNAME", NULL,
                      "Realname is not valid");
        return;
    }
    snprintf(c->realname, sizeof(c->realname), "%s", name);
    snprintf(text, sizeof(text), "SETNAME :%s", c->realname);
    o.from = c;
    o.text = text;
    o.caps_all = IRC_CAP_SETNAME;
    o.self = 1;
    irc_fanout_common(c, &o);
}

/* ---- OPER
 * ------------------------------------------------------------------------ */

static const irc_oper_t *irc_oper_find(const irc_conf_t *conf, const char *name)
{
    for (size_t i = 0; i < conf->nopers; i++)
        if (strcmp(conf->opers[i].name, name) == 0)
            return &conf->opers[i];
    return NULL;
}

/* Whether C matches MASK ("nick!user@host", "user@host" or "host"). */
static int irc_oper_mask_ok(irc_client_t *c, const char *mask)
{
    const irc_conf_t *conf = irc_conf(c->inst);
    char norm[512], subject[256];

    if (irc_mask_normalize(mask, norm, sizeof(norm)) == (size_t)-1)
        return 0;
    irc_client_prefix(c, subject, sizeof(subject));
    if (irc_mask_match(conf->casemap, norm, subject))
        return 1;
    /* the address too, should the host ever be a name */
    snprintf(subject, sizeof(subject), "%s!%s@%s", c->nick, c->user, c->ip);
    return irc_mask_match(conf->casemap, norm, subject);
}

static void irc_oper_done(void *owner, uint64_t id, const char *account, int ok)
{
    irc_inst_t *irc = owner;
    irc_client_t *c = irc_client_by_id(irc, id);
    irc_hclient_t *hc;
    char text[IRC_NICK_BUF + 16];

    if (c == NULL)
        return;
    hc = irc_hc(c);
    hc->oper_busy = 0;
    irc_label_begin(c, hc->async_label[0] ? hc->async_label : NULL);
    hc->async_label[0] = '\0';
    if (!ok || irc_oper_find(irc_conf(irc), account) == NULL) {
        irc_numeric(c, 464, ":Password incorrect");
    } else if (!(c->umodes & IRC_UMODE_OPER)) {
        c->umodes |= IRC_UMODE_OPER;
        irc->nopers++;
        irc_numeric(c, 381, ":You are now an IRC operator");
        snprintf(text, sizeof(text), "MODE %s :+o", c->nick);
        irc_send(c, ":%s %s", c->nick, text);
        loom_log(LOOM_LOG_INFO, loom_instance_who(irc->inst),
                 "%s!%s@%s is now an operator (%s)", c->nick, c->user, c->ip,
                 account);
    } else {
        irc_numeric(c, 381, ":You are now an IRC operator");
    }
    irc_label_end(c);
}

void irc_cmd_oper(irc_client_t *c, const irc_args_t *a)
{
    const irc_conf_t *conf = irc_conf(c->inst);
    const irc_oper_t *op = irc_oper_find(conf, a->params[0]);
    irc_hclient_t *hc = irc_hc(c);
    irc_account_t acct = {0};

    if (hc->oper_busy)
        return;
    if (op == NULL || !irc_oper_mask_ok(c, op->mask)) {
        irc_numeric(c, 491, ":No O-lines for your host");
        return;
    }
    acct.name = op->name;
    acct.hash = op->hash;
    hc->oper_busy = 1;
    snprintf(hc->async_label, sizeof(hc->async_label), "%s",
             a->label ? a->label : "");
    irc_account_check(c->inst->inst, &acct, op->name, a->params[1],
                      strlen(a->params[1]), c->inst, c->id, irc_oper_done);
}

void irc_cmd_kill(irc_client_t *c, const irc_args_t *a)
{
    irc_client_t *victim = irc_client_by_nick(c->inst, a->params[0]);
    char reason[IRC_LINE_MAX];

    if (victim == NULL) {
        irc_err_nosuchnick(c, a->params[0]);
        return;
    }
    if (victim->is_service) {
        irc_numeric(c, 483, ":You can't kill a service");
        return;
    }
    snprintf(reason, sizeof(reason), "Killed (%s (%.300s))", c->nick,
             a->params[1]);
    irc_send(victim, ":%s!%s@%s KILL %s :%.300s", c->nick, c->user, c->host,
             victim->nick, a->params[1]);
    loom_log(LOOM_LOG_INFO, loom_instance_who(c->inst->inst),
             "%s killed %s: %s", c->nick, victim->nick, a->params[1]);
    irc_client_quit(victim, reason, 1);
}
