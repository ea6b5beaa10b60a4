/*
 * irc_register.c - registration and the connection's own commands: PASS,
 * NICK, USER, the welcome burst (001-005, LUSERS, MOTD), QUIT, PING,
 * PONG, ERROR.
 *
 * Registration completes when NICK and USER have been given, no CAP
 * negotiation holds it open (CAP LS/REQ until CAP END) and no SASL
 * check is running; then the server password and the nick reservation
 * are checked.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "irc.h"

void irc_cmd_pass(irc_client_t *c, const irc_args_t *a)
{
    irc_hclient_t *hc = irc_hc(c);

    free(hc->pass);
    hc->pass = loom_strdup(a->params[0]);
}

/* The account NICK is reserved for, or NULL. */
static const irc_account_t *irc_nick_reserved(irc_client_t *c, const char *nick)
{
    const irc_conf_t *conf = irc_conf(c->inst);
    const irc_account_t *acct;

    if (!conf->reserve_nicks || conf->accounts == NULL)
        return NULL;
    acct = irc_accounts_find(conf->accounts, nick);
    if (acct == NULL || irc_name_eq(c->inst, acct->name, c->account))
        return NULL;
    return acct;
}

void irc_cmd_nick(irc_client_t *c, const irc_args_t *a)
{
    irc_inst_t *irc = c->inst;
    const irc_conf_t *conf = irc_conf(irc);
    const char *nick = a->nparams ? a->params[0] : "";
    char key[IRC_NICK_BUF], old[IRC_NICK_BUF], text[IRC_NICK_BUF + 16];
    irc_client_t *other;

    if (nick[0] == '\0') {
        irc_numeric(c, 431, ":No nickname given");
        return;
    }
    if (!irc_nick_ok(conf, nick)) {
        irc_numeric(c, 432, "%.64s :Erroneous nickname", nick);
        return;
    }
    irc_fold(irc, nick, key, sizeof(key));
    other = irc_map_get(&irc->nicks, key);
    if (other == c && strcmp(c->nick, nick) == 0)
        return; /* the same nick: nothing happens */
    if (other && other != c) {
        irc_numeric(c, 433, "%s :Nickname is already in use", nick);
        return;
    }
    if (irc_client_registered(c) && irc_nick_reserved(c, nick)) {
        irc_numeric(c, 433, "%s :Nickname is reserved by a different account",
                    nick);
        return;
    }
    snprintf(old, sizeof(old), "%s", c->nick);
    if (irc_client_registered(c)) {
        irc_out_t o = {0};

        snprintf(text, sizeof(text), "NICK :%s", nick);
        o.from = c;
        o.text = text;
        o.self = 1;
        irc_fanout_common(c, &o); /* from the old prefix */
        irc_who_remember(c);
    }
    if (old[0] != '*') {
        char okey[IRC_NICK_BUF];

        if (irc_map_get(&irc->nicks, irc_fold(irc, old, okey, sizeof(okey))) ==
            c)
            irc_map_del(&irc->nicks, okey);
    }
    irc_map_put(&irc->nicks, key, c);
    snprintf(c->nick, sizeof(c->nick), "%s", nick);
    c->reg |= IRC_REG_NICK;
    irc_register_try(c);
}

/* A username from USER: what an ident reply could be, cut to 9 bytes,
 * with '~' (no ident lookup is done). */
static void irc_user_sanitize(const char *in, char *out, size_t len)
{
    size_t n = 0;

    out[n++] = '~';
    for (; *in && n + 1 < len && n < 10; in++) {
        unsigned char ch = (unsigned char)*in;

        if (ch <= ' ' || ch == '@' || ch == '!' || ch == ':' || ch >= 0x7f)
            continue;
        out[n++] = (char)ch;
    }
    if (n == 1)
        out[n++] = 'u';
    out[n] = '\0';
}

void irc_cmd_user(irc_client_t *c, const irc_args_t *a)
{
    if (c->reg & IRC_REG_USER) {
        irc_numeric(c, 462, ":You may not reregister");
        return;
    }
    irc_user_sanitize(a->params[0], c->user, sizeof(c->user));
    snprintf(c->realname, sizeof(c->realname), "%s", a->params[3]);
    c->reg |= IRC_REG_USER;
    irc_register_try(c);
}

/* ---- the welcome
 * --------------------------------------------------------------- */

void irc_send_isupport(irc_client_t *c)
{
    const irc_conf_t *conf = irc_conf(c->inst);
    irc_isupport_t is = {0};
    irc_isupport_lines_t out;

    is.network = conf->network;
    is.casemap = conf->casemap;
    is.chantypes = "#&";
    is.chanmodes = IRC_CHANMODES;
    is.prefix = IRC_PREFIX;
    is.statusmsg = IRC_STATUSMSG;
    is.nicklen = conf->nicklen;
    is.channellen = conf->channellen;
    is.topiclen = conf->topiclen;
    is.kicklen = conf->kicklen;
    is.awaylen = conf->awaylen;
    is.userlen = 10;
    is.hostlen = IRC_HOST_BUF - 1;
    is.modes = conf->modes;
    is.maxtargets = conf->maxtargets;
    is.chanlimit = conf->maxchannels;
    is.maxlist = conf->maxlist;
    is.linelen = IRC_LINE_MAX;
    is.excepts = 1;
    is.invex = 1;
    is.whox = 1;
    is.elist = "U";
    is.extra = "SAFELIST UTF8ONLY";
    irc_isupport_build(&is, &out);
    for (size_t i = 0; i < out.n; i++)
        irc_numeric(c, 5, "%s :are supported by this server", out.line[i]);
}

static void irc_welcome(irc_client_t *c)
{
    irc_inst_t *irc = c->inst;
    const irc_conf_t *conf = irc_conf(irc);
    char prefix[160], created[64];
    struct tm tm;
    irc_args_t none = {0};

    gmtime_r(&irc->created, &tm);
    strftime(created, sizeof(created), "%a %b %d %Y at %H:%M:%S UTC", &tm);
    irc_numeric(c, 1, ":Welcome to the %s IRC Network %s", conf->network,
                irc_client_prefix(c, prefix, sizeof(prefix)));
    irc_numeric(c, 2, ":Your host is %s, running version loom-%s",
                conf->server_name, LOOM_VERSION_STRING);
    irc_numeric(c, 3, ":This server was created %s", created);
    irc_numeric(c, 4, "%s loom-%s %s %s %s", conf->server_name,
                LOOM_VERSION_STRING, IRC_USERMODES, IRC_CHANMODES_ALL,
                "beIklov");
    irc_send_isupport(c);
    none.cmd = "LUSERS";
    irc_cmd_lusers(c, &none);
    none.cmd = "MOTD";
    irc_cmd_motd(c, &none);
}

void irc_register_try(irc_client_t *c)
{
    irc_hclient_t *hc = irc_hc(c);
    irc_inst_t *irc = c->inst;
    const irc_conf_t *conf = irc_conf(irc);
    const irc_account_t *acct;

    if (irc_client_registered(c) || c->quitting)
        return;
    if ((c->reg & (IRC_REG_NICK | IRC_REG_USER)) !=
            (IRC_REG_NICK | IRC_REG_USER) ||
        (c->reg & IRC_REG_CAP) || hc->sasl_busy)
        return;
    if (conf->password &&
        (hc->pass == NULL || strcmp(hc->pass, conf->password) != 0)) {
        irc_numeric(c, 464, ":Password incorrect");
        irc_client_quit(c, "Bad password", 1);
        return;
    }
    if ((acct = irc_nick_reserved(c, c->nick)) != NULL) {
        char key[IRC_NICK_BUF];

        irc_numeric(c, 433, "%s :Nickname is reserved by a different account",
                    c->nick);
        if (irc_map_get(&irc->nicks,
                        irc_fold(irc, c->nick, key, sizeof(key))) == c)
            irc_map_del(&irc->nicks, key);
        snprintf(c->nick, sizeof(c->nick), "*");
        c->reg &= ~(unsigned)IRC_REG_NICK;
        return;
    }
    free(hc->pass);
    hc->pass = NULL;
    c->reg |= IRC_REG_DONE;
    c->signon = time(NULL);
    irc->nunknown--;
    irc->nclients++;
    irc_hub(irc)->stats.registrations++;
    if (irc->nclients > irc->max_seen)
        irc->max_seen = irc->nclients;
    /* from now on the tick PINGs an idle client */
    loom_timer_arm(&hc->tick, (uint64_t)conf->ping_interval * 1000);
    irc_welcome(c);
}

/* ---- QUIT, PING, PONG, ERROR
 * ---------------------------------------------------- */

void irc_cmd_quit(irc_client_t *c, const irc_args_t *a)
{
    char reason[IRC_LINE_MAX];

    if (a->nparams && a->params[0][0])
        snprintf(reason, sizeof(reason), "Quit: %.300s", a->params[0]);
    else
        snprintf(reason, sizeof(reason), "Client Quit");
    irc_client_quit(c, reason, 1);
}

void irc_cmd_ping(irc_client_t *c, const irc_args_t *a)
{
    const irc_conf_t *conf = irc_conf(c->inst);

    if (a->nparams < 1 || a->params[0][0] == '\0') {
        irc_numeric(c, 409, ":No origin specified");
        return;
    }
    irc_send_server(c, "PONG %s :%s", conf->server_name, a->params[0]);
}

void irc_cmd_pong(irc_client_t *c, const irc_args_t *a)
{
    (void)a;
    irc_hc(c)->last_pong_ms = loom_now_ms();
}

void irc_cmd_error(irc_client_t *c, const irc_args_t *a)
{
    (void)a;
    irc_client_quit(c, "Client sent ERROR", 0);
}
