/*
 * irc_cap.c - IRCv3 capability negotiation (CAP LS [302], LIST, REQ,
 * END; ACK/NAK; cap-notify) and SASL (AUTHENTICATE with PLAIN, the
 * password checked on the worker pool, and EXTERNAL with a TLS client
 * certificate fingerprint bound to an account).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "irc.h"

typedef struct {
    const char *name;
    unsigned bit;
} irc_cap_t;

/* Every capability loom offers, in the order LS lists them. */
static const irc_cap_t irc_caps[] = {
    {"account-notify", IRC_CAP_ACCOUNT_NOTIFY},
    {"account-tag", IRC_CAP_ACCOUNT_TAG},
    {"away-notify", IRC_CAP_AWAY_NOTIFY},
    {"batch", IRC_CAP_BATCH},
    {"cap-notify", IRC_CAP_CAP_NOTIFY},
    {"chghost", IRC_CAP_CHGHOST},
    {"echo-message", IRC_CAP_ECHO_MESSAGE},
    {"extended-join", IRC_CAP_EXTENDED_JOIN},
    {"invite-notify", IRC_CAP_INVITE_NOTIFY},
    {"labeled-response", IRC_CAP_LABELED_RESPONSE},
    {"message-tags", IRC_CAP_MESSAGE_TAGS},
    {"multi-prefix", IRC_CAP_MULTI_PREFIX},
    {"sasl", IRC_CAP_SASL},
    {"server-time", IRC_CAP_SERVER_TIME},
    {"setname", IRC_CAP_SETNAME},
    {"standard-replies", IRC_CAP_STANDARD_REPLIES},
    {"userhost-in-names", IRC_CAP_USERHOST_IN_NAMES},
};

/* Whether the instance offers CAP now (sasl only with accounts). */
static int irc_cap_offered(const irc_conf_t *conf, const irc_cap_t *cap)
{
    return cap->bit != IRC_CAP_SASL || conf->accounts != NULL;
}

static const irc_cap_t *irc_cap_find(const char *name, size_t len)
{
    for (size_t i = 0; i < LOOM_ARRAY_LEN(irc_caps); i++)
        if (strlen(irc_caps[i].name) == len &&
            strncmp(irc_caps[i].name, name, len) == 0)
            return &irc_caps[i];
    return NULL;
}

/* Send the caps (all offered when ENABLED is 0, else those in C->caps)
 * in "CAP nick SUB [*] :list" lines of at most ~400 bytes. */
static void irc_cap_list(irc_client_t *c, const char *sub, int enabled)
{
    const irc_conf_t *conf = irc_conf(c->inst);
    char line[420];
    size_t n = 0;

    for (size_t i = 0; i < LOOM_ARRAY_LEN(irc_caps); i++) {
        const irc_cap_t *cap = &irc_caps[i];
        char item[64];
        int k;

        if (!irc_cap_offered(conf, cap) || (enabled && !(c->caps & cap->bit)))
            continue;
        if (!enabled && cap->bit == IRC_CAP_SASL && c->cap_version >= 302)
            k = snprintf(item, sizeof(item), "%s=%s", cap->name,
                         IRC_SASL_MECHS);
        else
            k = snprintf(item, sizeof(item), "%s", cap->name);
        if (n + (size_t)k + 1 > 380 && c->cap_version >= 302) {
            irc_send_server(c, "CAP %s %s * :%s", c->nick, sub, line);
            n = 0;
        }
        n += (size_t)snprintf(line + n, sizeof(line) - n, "%s%s", n ? " " : "",
                              item);
    }
    line[n] = '\0';
    irc_send_server(c, "CAP %s %s :%s", c->nick, sub, n ? line : "");
}

/* CAP REQ: all or nothing. */
static void irc_cap_req(irc_client_t *c, const char *list)
{
    const irc_conf_t *conf = irc_conf(c->inst);
    unsigned add = 0, del = 0;
    const char *p = list;

    while (*p) {
        size_t len;
        int minus = 0;
        const irc_cap_t *cap;

        while (*p == ' ')
            p++;
        if (*p == '\0')
            break;
        if (*p == '-') {
            minus = 1;
            p++;
        }
        len = strcspn(p, " ");
        cap = irc_cap_find(p, len);
        if (cap == NULL || !irc_cap_offered(conf, cap) ||
            (minus && cap->bit == IRC_CAP_CAP_NOTIFY &&
             c->cap_version >= 302)) {
            irc_send_server(c, "CAP %s NAK :%.400s", c->nick, list);
            return;
        }
        if (minus)
            del |= cap->bit;
        else
            add |= cap->bit;
        p += len;
    }
    c->caps = (c->caps | add) & ~del;
    irc_send_server(c, "CAP %s ACK :%.400s", c->nick, list);
}

void irc_cap_cmd(irc_client_t *c, const irc_args_t *a)
{
    const char *sub = a->params[0];

    if (strcasecmp(sub, "LS") == 0) {
        if (!irc_client_registered(c))
            c->reg |= IRC_REG_CAP;
        if (a->nparams > 1 && atoi(a->params[1]) >= 302) {
            c->cap_version = 302;
            c->caps |= IRC_CAP_CAP_NOTIFY; /* implied by 302 */
        }
        irc_cap_list(c, "LS", 0);
    } else if (strcasecmp(sub, "LIST") == 0) {
        irc_cap_list(c, "LIST", 1);
    } else if (strcasecmp(sub, "REQ") == 0) {
        if (!irc_client_registered(c))
            c->reg |= IRC_REG_CAP;
        irc_cap_req(c, a->nparams > 1 ? a->params[1] : "");
    } else if (strcasecmp(sub, "END") == 0) {
        if (!irc_client_registered(c)) {
            c->reg &= ~(unsigned)IRC_REG_CAP;
            irc_register_try(c);
        }
    } else {
        irc_numeric(c, 410, "%.32s :Invalid CAP command", sub);
    }
}

/* ---- SASL
 * ------------------------------------------------------------------------- */

enum { IRC_SASL_NONE = 0, IRC_SASL_PLAIN = 1, IRC_SASL_EXTERNAL = 2 };

/* The accumulator lives only while an exchange runs (an idle client does
 * not carry its 1.6 KB). */
static void irc_sasl_end(irc_hclient_t *hc)
{
    if (hc->sasl) {
        irc_sasl_wipe(hc->sasl, sizeof(*hc->sasl));
        free(hc->sasl);
        hc->sasl = NULL;
    }
}

/* Log C in as ACCOUNT: 900 and 903, account-notify. */
static void irc_sasl_success(irc_client_t *c, const char *account)
{
    char prefix[160];

    snprintf(c->account, sizeof(c->account), "%s", account);
    irc_numeric(c, 900, "%s %s :You are now logged in as %s",
                irc_client_prefix(c, prefix, sizeof(prefix)), c->account,
                c->account);
    irc_numeric(c, 903, ":SASL authentication successful");
    if (irc_client_registered(c)) {
        char text[IRC_ACCOUNT_BUF + 16];
        irc_out_t o = {0};

        snprintf(text, sizeof(text), "ACCOUNT %s", c->account);
        o.from = c;
        o.text = text;
        o.caps_all = IRC_CAP_ACCOUNT_NOTIFY;
        irc_fanout_common(c, &o);
    }
}

static void irc_sasl_fail(irc_client_t *c)
{
    irc_hclient_t *hc = irc_hc(c);

    hc->sasl_mech = IRC_SASL_NONE;
    irc_sasl_end(hc);
    irc_numeric(c, 904, ":SASL authentication failed");
    /* a client trying passwords in a loop is cut */
    if (++hc->sasl_failures >= 10)
        irc_client_quit(c, "Too many SASL failures", 1);
}

static void irc_sasl_done(void *owner, uint64_t id, const char *account, int ok)
{
    irc_client_t *c = irc_client_by_id(owner, id);
    irc_hclient_t *hc;

    if (c == NULL)
        return;
    hc = irc_hc(c);
    hc->sasl_busy = 0;
    hc->sasl_mech = IRC_SASL_NONE;
    irc_label_begin(c, hc->async_label[0] ? hc->async_label : NULL);
    hc->async_label[0] = '\0';
    if (ok)
        irc_sasl_success(c, account);
    else
        irc_sasl_fail(c);
    irc_label_end(c);
    irc_register_try(c);
}

/* The whole response is in: check it. */
static void irc_sasl_finish(irc_client_t *c, const irc_args_t *a)
{
    irc_hclient_t *hc = irc_hc(c);
    const irc_conf_t *conf = irc_conf(c->inst);
    char raw[IRC_SASL_B64_MAX];
    size_t len;

    if (irc_sasl_decode(hc->sasl, raw, sizeof(raw), &len) != LOOM_OK) {
        irc_sasl_fail(c);
        return;
    }
    irc_sasl_end(hc);
    if (hc->sasl_mech == IRC_SASL_PLAIN) {
        irc_sasl_plain_t pl;

        if (irc_sasl_plain(raw, len, &pl) != LOOM_OK) {
            irc_sasl_wipe(raw, sizeof(raw));
            irc_sasl_fail(c);
            return;
        }
        hc->sasl_busy = 1;
        snprintf(hc->async_label, sizeof(hc->async_label), "%s",
                 a->label ? a->label : "");
        irc_account_check(c->inst->inst,
                          irc_accounts_find(conf->accounts, pl.authcid),
                          pl.authcid, pl.passwd, strlen(pl.passwd), c->inst,
                          c->id, irc_sasl_done);
        irc_sasl_wipe(&pl, sizeof(pl));
        irc_sasl_wipe(raw, sizeof(raw));
        return;
    }
    {
        char authzid[IRC_ACCOUNT_BUF];
        unsigned char fp[IRC_FP_LEN];
        const irc_account_t *acct = NULL;

        if (irc_sasl_external(raw, len, authzid, sizeof(authzid)) == LOOM_OK &&
            c->certfp &&
            irc_fp_parse(c->certfp, strlen(c->certfp), fp) == LOOM_OK)
            acct = irc_accounts_find_fp(conf->accounts, fp);
        if (acct == NULL ||
            (authzid[0] && !irc_name_eq(c->inst, authzid, acct->name))) {
            irc_sasl_fail(c);
            return;
        }
        hc->sasl_mech = IRC_SASL_NONE;
        irc_sasl_success(c, acct->name);
    }
}

void irc_authenticate_cmd(irc_client_t *c, const irc_args_t *a)
{
    irc_hclient_t *hc = irc_hc(c);
    const irc_conf_t *conf = irc_conf(c->inst);
    const char *arg = a->params[0];
    irc_sasl_res_t res;

    if (!(c->caps & IRC_CAP_SASL) || conf->accounts == NULL) {
        irc_numeric(c, 904, ":SASL authentication failed");
        return;
    }
    if (hc->sasl_busy)
        return;
    if (c->account[0]) {
        irc_numeric(c, 907, ":You have already authenticated using SASL");
        return;
    }
    if (hc->sasl_mech == IRC_SASL_NONE) {
        if (strcasecmp(arg, "PLAIN") == 0) {
            hc->sasl_mech = IRC_SASL_PLAIN;
        } else if (strcasecmp(arg, "EXTERNAL") == 0) {
            if (c->certfp == NULL) {
                irc_sasl_fail(c);
                return;
            }
            hc->sasl_mech = IRC_SASL_EXTERNAL;
        } else {
            irc_numeric(c, 908, "%s :are available SASL mechanisms",
                        IRC_SASL_MECHS);
            irc_sasl_fail(c);
            return;
        }
        irc_sasl_end(hc);
        hc->sasl = loom_calloc(1, sizeof(*hc->sasl));
        irc_sasl_reset(hc->sasl);
        irc_send(c, "AUTHENTICATE +");
        return;
    }
    if (hc->sasl == NULL) {
        irc_sasl_fail(c);
        return;
    }
    res = irc_sasl_feed(hc->sasl, arg, strlen(arg));
    switch (res) {
    case IRC_SASL_MORE:
        return;
    case IRC_SASL_DONE:
        irc_sasl_finish(c, a);
        return;
    case IRC_SASL_ABORT:
        hc->sasl_mech = IRC_SASL_NONE;
        irc_sasl_end(hc);
        irc_numeric(c, 906, ":SASL authentication aborted");
        return;
    default:
        if (irc_sasl_numeric(res) == 905) {
            hc->sasl_mech = IRC_SASL_NONE;
            irc_sasl_end(hc);
            irc_numeric(c, 905, ":SASL message too long");
            return;
        }
        irc_sasl_fail(c);
    }
}
