/*
 * irc_who.c - WHO (with WHOX), WHOIS, WHOWAS.
 *
 * WHO: a channel lists its members (not the +i ones to a non-member); a
 * mask lists the visible users whose nick, user, host, realname or
 * server matches it ("o" as second parameter: operators only), and a
 * plain nick names that user even when +i.  Visible means: not +i, or
 * sharing a channel with the asker, or the asker itself.  The matching
 * clients are taken as ids up front and written paced (chan_pace_start),
 * each looked up again when its line is due.
 *
 * WHOX ("WHO mask %fields[,token]"): 354 with the requested fields in
 * the fixed order t c u i h s n f d l a o r.  The IP ("i") is shown to
 * the user itself and to operators, else 255.255.255.255.
 *
 * WHOWAS: a bounded history (the config's whowas) of clients that quit
 * or changed nick, newest first.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "irc_chan_int.h"

/* ---- WHOWAS history ---------------------------------------------------------
 */

typedef struct {
    char nick[IRC_NICK_BUF];
    char folded[IRC_NICK_BUF];
    char user[IRC_USER_BUF];
    char host[IRC_HOST_BUF];
    char *realname;
    time_t when;
} whowas_t;

/* A ring of pointers, grown up to the config's whowas. */
typedef struct {
    whowas_t **v;
    size_t cap, n, head; /* head: where the next entry goes */
} whowas_ring_t;

static void whowas_free_entry(whowas_t *w)
{
    if (w) {
        free(w->realname);
        free(w);
    }
}

void irc_who_fini(irc_inst_t *irc)
{
    whowas_ring_t *r = irc->who_priv;

    if (r == NULL)
        return;
    for (size_t i = 0; i < r->cap; i++)
        whowas_free_entry(r->v[i]);
    free(r->v);
    free(r);
    irc->who_priv = NULL;
}

/* The I-th newest entry (0: newest), or NULL. */
static whowas_t *whowas_at(const whowas_ring_t *r, size_t i)
{
    if (i >= r->n)
        return NULL;
    return r->v[(r->head + r->cap - 1 - i) % r->cap];
}

/* Resize R to hold MAX entries, keeping the newest. */
static void whowas_resize(whowas_ring_t *r, size_t max)
{
    size_t keep = r->n < max ? r->n : max;
    whowas_t **v = max ? loom_calloc(max, sizeof(*v)) : NULL;

    for (size_t i = 0; i < keep; i++)
        v[keep - 1 - i] = whowas_at(r, i);
    for (size_t i = keep; i < r->n; i++)
        whowas_free_entry(whowas_at(r, i));
    free(r->v);
    r->v = v;
    r->cap = max;
    r->n = keep;
    r->head = max ? keep % max : 0;
}

void irc_who_remember(irc_client_t *c)
{
    irc_inst_t *irc = c->inst;
    size_t max = irc_conf(irc)->whowas;
    whowas_ring_t *r = irc->who_priv;
    whowas_t *w;

    if (c->nick[0] == '\0' || strcmp(c->nick, "*") == 0)
        return;
    if (r == NULL) {
        if (max == 0)
            return;
        r = irc->who_priv = loom_calloc(1, sizeof(*r));
    }
    if (r->cap > max) {
        whowas_resize(r, max);
    } else if (r->n == r->cap && r->cap < max) {
        /* grow in steps: a big bound costs nothing until it is used */
        size_t want = r->cap ? r->cap * 2 : 64;

        whowas_resize(r, want > max ? max : want);
    }
    if (r->cap == 0)
        return;
    w = loom_calloc(1, sizeof(*w));
    snprintf(w->nick, sizeof(w->nick), "%s", c->nick);
    irc_fold(irc, c->nick, w->folded, sizeof(w->folded));
    snprintf(w->user, sizeof(w->user), "%s", c->user);
    snprintf(w->host, sizeof(w->host), "%s", c->host);
    w->realname = loom_strdup(c->realname);
    w->when = time(NULL);
    whowas_free_entry(r->v[r->head]);
    r->v[r->head] = w;
    r->head = (r->head + 1) % r->cap;
    if (r->n < r->cap)
        r->n++;
}

static void cmd_whowas(irc_client_t *c, const irc_args_t *a)
{
    irc_inst_t *irc = c->inst;
    whowas_ring_t *r = irc->who_priv;
    const irc_conf_t *conf = irc_conf(irc);
    char nick[IRC_NICK_BUF], folded[IRC_NICK_BUF];
    long count = a->nparams > 1 ? strtol(a->params[1], NULL, 10) : 0;
    long found = 0;

    snprintf(nick, sizeof(nick), "%.*s", (int)strcspn(a->params[0], ","),
             a->params[0]);
    irc_fold(irc, nick, folded, sizeof(folded));
    for (size_t i = 0; r && i < r->n && (count <= 0 || found < count); i++) {
        whowas_t *w = whowas_at(r, i);
        char when[64];
        struct tm tm;

        if (strcmp(w->folded, folded) != 0)
            continue;
        found++;
        gmtime_r(&w->when, &tm);
        strftime(when, sizeof(when), "%a %b %d %H:%M:%S %Y UTC", &tm);
        irc_numeric(c, 314, "%s %s %s * :%s", w->nick, w->user, w->host,
                    w->realname);
        irc_numeric(c, 312, "%s %s :%s", w->nick, conf->server_name, when);
    }
    if (found == 0)
        irc_numeric(c, 406, "%s :There was no such nickname", nick);
    irc_numeric(c, 369, "%s :End of WHOWAS", nick);
}

/* Seconds T has been idle (no PRIVMSG and the like). */
static unsigned long long who_idle(const irc_client_t *t)
{
    uint64_t now = loom_now_ms();

    if (t->last_active_ms == 0 || t->last_active_ms > now)
        return 0;
    return (unsigned long long)((now - t->last_active_ms) / 1000);
}

/* ---- WHOIS -------------------------------------------------------------- */

/* 319: the channels of T that C may see, as many lines as needed. */
static void whois_channels(irc_client_t *c, irc_client_t *t)
{
    const irc_conf_t *conf = irc_conf(c->inst);
    int multi = (c->caps & IRC_CAP_MULTI_PREFIX) != 0;
    char line[IRC_LINE_MAX];
    size_t used = 0, room;
    size_t head = 1 + strlen(conf->server_name) + 5 + strlen(c->nick) + 1 +
                  strlen(t->nick) + 2;

    room = head + 2 < IRC_LINE_MAX ? IRC_LINE_MAX - 2 - head : 0;
    for (irc_member_t *m = t->channels; m; m = m->cnext) {
        char item[IRC_CHAN_BUF + 4], pfx[4];
        int n;

        if (c != t && chan_hidden(m->chan) && !chan_member_of(m->chan, c))
            continue;
        n = snprintf(item, sizeof(item), "%s%s",
                     irc_member_prefix(m, multi, pfx, sizeof(pfx)),
                     m->chan->name);
        if (n < 0 || (size_t)n > room)
            continue;
        if (used && used + 1 + (size_t)n > room) {
            line[used] = '\0';
            irc_numeric(c, 319, "%s :%s", t->nick, line);
            used = 0;
        }
        if (used)
            line[used++] = ' ';
        memcpy(line + used, item, (size_t)n);
        used += (size_t)n;
    }
    if (used) {
        line[used] = '\0';
        irc_numeric(c, 319, "%s :%s", t->nick, line);
    }
}

static void cmd_whois(irc_client_t *c, const irc_args_t *a)
{
    const irc_conf_t *conf = irc_conf(c->inst);
    const char *arg = a->params[a->nparams > 1 ? 1 : 0];
    char nick[IRC_NICK_BUF];
    irc_client_t *t;

    snprintf(nick, sizeof(nick), "%.*s", (int)strcspn(arg, ","), arg);
    t = irc_client_by_nick(c->inst, nick);
    if (t == NULL) {
        irc_err_nosuchnick(c, nick);
        irc_numeric(c, 318, "%s :End of /WHOIS list", nick);
        return;
    }
    irc_numeric(c, 311, "%s %s %s * :%s", t->nick, t->user, t->host,
                t->realname);
    whois_channels(c, t);
    irc_numeric(c, 312, "%s %s :%s", t->nick, conf->server_name,
                conf->info ? conf->info : conf->network);
    if (t->away)
        irc_numeric(c, 301, "%s :%s", t->nick, t->away);
    if (t->umodes & IRC_UMODE_OPER)
        irc_numeric(c, 313, "%s :is an IRC operator", t->nick);
    if (t->secure)
        irc_numeric(c, 671, "%s :is using a secure connection", t->nick);
    if (t->account[0])
        irc_numeric(c, 330, "%s %s :is logged in as", t->nick, t->account);
    irc_numeric(c, 317, "%s %llu %lld :seconds idle, signon time", t->nick,
                who_idle(t), (long long)t->signon);
    irc_numeric(c, 318, "%s :End of /WHOIS list", t->nick);
}

/* ---- WHO ---------------------------------------------------------------- */

/* WHOX fields in reply order. */
static const char whox_order[] = "tcuihsnfdlaor";

typedef struct {
    chan_pace_t job;
    uint64_t *ids;
    char mask[IRC_LINE_MAX];
    char chan[IRC_CHAN_BUF];         /* "" unless a channel WHO */
    char fields[sizeof(whox_order)]; /* WHOX fields, "" for plain WHO */
    char token[4];
} who_job_t;

static void who_free(chan_pace_t *job)
{
    who_job_t *wj = (who_job_t *)job;

    free(wj->ids);
    free(wj);
}

static void who_end(irc_client_t *c, chan_pace_t *job)
{
    who_job_t *wj = (who_job_t *)job;

    irc_numeric(c, 315, "%s :End of /WHO list", wj->mask);
}

/* The flags column: H or G, '*' for an operator, the channel prefix. */
static void who_flags(irc_client_t *c, irc_client_t *t, irc_member_t *m,
                      char *out, size_t cap)
{
    char pfx[4] = "";

    if (m)
        irc_member_prefix(m, (c->caps & IRC_CAP_MULTI_PREFIX) != 0, pfx,
                          sizeof(pfx));
    snprintf(out, cap, "%c%s%s", t->away ? 'G' : 'H',
             (t->umodes & IRC_UMODE_OPER) ? "*" : "", pfx);
}

static int who_emit_x(irc_client_t *c, who_job_t *wj, irc_client_t *t,
                      const char *chan, const char *flags)
{
    const irc_conf_t *conf = irc_conf(c->inst);
    char out[IRC_LINE_MAX];
    size_t used = 0;

    out[0] = '\0';
    for (const char *f = whox_order; *f; f++) {
        char v[IRC_LINE_MAX];

        if (strchr(wj->fields, *f) == NULL)
            continue;
        switch (*f) {
        case 't':
            snprintf(v, sizeof(v), "%s", wj->token[0] ? wj->token : "0");
            break;
        case 'c':
            snprintf(v, sizeof(v), "%s", chan);
            break;
        case 'u':
            snprintf(v, sizeof(v), "%s", t->user);
            break;
        case 'i':
            snprintf(v, sizeof(v), "%s",
                     t == c || (c->umodes & IRC_UMODE_OPER)
                         ? t->ip
                         : "255.255.255.255");
            break;
        case 'h':
            snprintf(v, sizeof(v), "%s", t->host);
            break;
        case 's':
            snprintf(v, sizeof(v), "%s", conf->server_name);
            break;
        case 'n':
            snprintf(v, sizeof(v), "%s", t->nick);
            break;
        case 'f':
            snprintf(v, sizeof(v), "%s", flags);
            break;
        case 'd':
            snprintf(v, sizeof(v), "0");
            break;
        case 'l':
            snprintf(v, sizeof(v), "%llu", who_idle(t));
            break;
        case 'a':
            snprintf(v, sizeof(v), "%s", t->account[0] ? t->account : "0");
            break;
        case 'o':
            snprintf(v, sizeof(v), "n/a");
            break;
        default: /* 'r', always last */
            snprintf(v, sizeof(v), ":%s", t->realname);
            break;
        }
        used += (size_t)snprintf(out + used, sizeof(out) - used, "%s%s",
                                 used ? " " : "", v);
        if (used >= sizeof(out))
            break;
    }
    return chan_numeric_paced(c, 354, "%s", out);
}

static int who_emit(irc_client_t *c, chan_pace_t *job, size_t i)
{
    who_job_t *wj = (who_job_t *)job;
    irc_client_t *t = irc_client_by_id(c->inst, wj->ids[i]);
    irc_member_t *m = NULL;
    const char *chan = "*";
    char flags[8];

    if (t == NULL)
        return LOOM_OK;
    if (wj->chan[0]) {
        irc_chan_t *ch = irc_chan_find(c->inst, wj->chan);

        m = ch ? chan_member_of(ch, t) : NULL;
        if (m == NULL)
            return LOOM_OK;
        chan = ch->name;
    }
    who_flags(c, t, m, flags, sizeof(flags));
    if (wj->fields[0])
        return who_emit_x(c, wj, t, chan, flags);
    return chan_numeric_paced(c, 352, "%s %s %s %s %s %s :0 %s", chan, t->user,
                              t->host, irc_conf(c->inst)->server_name, t->nick,
                              flags, t->realname);
}

/* 1 when C shares a channel with T. */
static int who_shares(irc_client_t *c, irc_client_t *t)
{
    for (irc_member_t *m = c->channels; m; m = m->cnext)
        if (chan_member_of(m->chan, t))
            return 1;
    return 0;
}

static int who_matches(irc_client_t *c, irc_client_t *t, const char *mask,
                       int opers_only)
{
    irc_casemap_t cm = irc_conf(c->inst)->casemap;

    if (!irc_client_registered(t) || t->quitting)
        return 0;
    if (opers_only && !(t->umodes & IRC_UMODE_OPER))
        return 0;
    if (t != c && (t->umodes & IRC_UMODE_INVISIBLE) && !who_shares(c, t))
        return 0;
    return irc_mask_match(cm, mask, t->nick) ||
           irc_mask_match(cm, mask, t->user) ||
           irc_mask_match(cm, mask, t->host) ||
           irc_mask_match(cm, mask, t->realname) ||
           irc_mask_match(cm, mask, irc_conf(c->inst)->server_name);
}

static void who_add(who_job_t *wj, size_t *cap, uint64_t id)
{
    if (wj->job.n == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        wj->ids = loom_realloc(wj->ids, *cap * sizeof(*wj->ids));
    }
    wj->ids[wj->job.n++] = id;
}

/* Parse WHO's second parameter: "o", or WHOX "%fields[,token]". */
static void who_options(who_job_t *wj, const char *opt, int *opers_only)
{
    const char *comma;
    size_t nf = 0;

    if (opt[0] != '%') {
        *opers_only = strchr(opt, 'o') != NULL;
        return;
    }
    comma = strchr(opt, ',');
    for (const char *p = opt + 1; *p && p != comma; p++)
        if (strchr(whox_order, *p) && !strchr(wj->fields, *p) &&
            nf + 1 < sizeof(wj->fields))
            wj->fields[nf++] = *p;
    wj->fields[nf] = '\0';
    if (comma && strlen(comma + 1) <= 3 &&
        strspn(comma + 1, "0123456789") == strlen(comma + 1))
        snprintf(wj->token, sizeof(wj->token), "%s", comma + 1);
    if (nf == 0) /* "%" alone: WHOX with no field is still 354 */
        snprintf(wj->fields, sizeof(wj->fields), "n");
}

static void cmd_who(irc_client_t *c, const irc_args_t *a)
{
    irc_inst_t *irc = c->inst;
    who_job_t *wj = loom_calloc(1, sizeof(*wj));
    const char *mask = a->nparams > 0 && a->params[0][0] ? a->params[0] : "*";
    const char *match = strcmp(mask, "0") == 0 ? "*" : mask; /* RFC 1459 */
    int opers_only = 0;
    size_t cap = 0;
    irc_client_t *t;

    snprintf(wj->mask, sizeof(wj->mask), "%s", mask);
    if (a->nparams > 1)
        who_options(wj, a->params[1], &opers_only);
    if (irc_is_channel(mask, "#&")) {
        irc_chan_t *ch = irc_chan_find(irc, mask);

        if (ch && (chan_member_of(ch, c) || !chan_hidden(ch))) {
            int member = chan_member_of(ch, c) != NULL;

            snprintf(wj->chan, sizeof(wj->chan), "%s", ch->name);
            for (irc_member_t *m = ch->members; m; m = m->next)
                if ((member || !(m->client->umodes & IRC_UMODE_INVISIBLE)) &&
                    (!opers_only || (m->client->umodes & IRC_UMODE_OPER)))
                    who_add(wj, &cap, m->client->id);
        }
    } else if (strpbrk(mask, "*?") == NULL &&
               (t = irc_client_by_nick(irc, mask)) != NULL) {
        if (!opers_only || (t->umodes & IRC_UMODE_OPER))
            who_add(wj, &cap, t->id);
    } else {
        size_t i = 0;
        irc_map_ent_t *e;

        for (e = irc_map_next(&irc->nicks, &i, NULL); e;
             e = irc_map_next(&irc->nicks, &i, e))
            if (who_matches(c, e->value, match, opers_only))
                who_add(wj, &cap, ((irc_client_t *)e->value)->id);
    }
    wj->job.emit = who_emit;
    wj->job.end = who_end;
    wj->job.free = who_free;
    chan_pace_start(c, &wj->job);
}

const irc_cmd_t irc_who_cmds[] = {
    {"WHO", 0, 0, 2, cmd_who},
    {"WHOIS", 1, 0, 0, cmd_whois},
    {"WHOWAS", 1, 0, 0, cmd_whowas},
    {NULL, 0, 0, 0, NULL},
};
