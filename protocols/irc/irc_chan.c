/*
 * irc_chan.c - channels: the table, membership, JOIN, PART, TOPIC, NAMES,
 * LIST, KICK, INVITE; the checks the hub asks for (may C speak here?) and
 * paced output.  MODE is in irc_chan_mode.c, WHO/WHOIS/WHOWAS in
 * irc_who.c.
 *
 * A channel exists while it has members: created by the first JOIN (its
 * creator gets +o, modes +nt), freed when the last member leaves.
 * Memberships sit on two lists (the channel's, the client's), so a
 * membership test walks the client's few channels, not a big channel.
 *
 * Choices where the documents leave room (also in the report):
 *   - JOIN of a name that does not start with a channel type: 403; one
 *     that does but is not valid (too long, bad bytes): 476.
 *   - An INVITE lets the invited client past +i, +k, +l and bans once.
 *   - LIST and NAMES hide +s and +p channels from non-members.
 *   - KICK and -o of the service user: 484.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "irc_chan_int.h"

static const char *const chantypes = "#&";

/* ---- the table ------------------------------------------------------------
 */

void irc_chan_init(irc_inst_t *irc)
{
    irc_chan_inst_t *ci = loom_calloc(1, sizeof(*ci));

    if (irc_modeset_init(&ci->modeset, IRC_CHANMODES, IRC_PREFIX) != LOOM_OK)
        loom_log(LOOM_LOG_ERROR, loom_instance_who(irc->inst),
                 "bad built-in channel modes");
    irc->chan_priv = ci;
}

static void chan_free(irc_chan_t *ch)
{
    irc_chan_state_t *st = chan_state(ch);

    chan_lists_free(st);
    free(st);
    free(ch);
}

void irc_chan_fini(irc_inst_t *irc)
{
    size_t i = 0;
    irc_map_ent_t *e, *next;

    for (e = irc_map_next(&irc->chans, &i, NULL); e; e = next) {
        irc_chan_t *ch = e->value;

        next = irc_map_next(&irc->chans, &i, e);
        while (ch->members) {
            irc_member_t *m = ch->members;
            irc_client_t *c = m->client;

            ch->members = m->next;
            if (m->cprev)
                m->cprev->cnext = m->cnext;
            else
                c->channels = m->cnext;
            if (m->cnext)
                m->cnext->cprev = m->cprev;
            c->nchannels--;
            free(m);
        }
        chan_free(ch);
    }
    irc_map_free(&irc->chans);
    free(irc->chan_priv);
    irc->chan_priv = NULL;
}

irc_chan_t *irc_chan_find(irc_inst_t *irc, const char *name)
{
    char key[IRC_CHAN_BUF];

    if (strlen(name) >= IRC_CHAN_BUF)
        return NULL;
    return irc_map_get(&irc->chans, irc_fold(irc, name, key, sizeof(key)));
}

irc_member_t *chan_member_of(irc_chan_t *ch, const irc_client_t *c)
{
    for (irc_member_t *m = c->channels; m; m = m->cnext)
        if (m->chan == ch)
            return m;
    return NULL;
}

irc_member_t *irc_member_find(irc_chan_t *ch, const irc_client_t *c)
{
    return chan_member_of(ch, c);
}

static irc_chan_t *chan_create(irc_inst_t *irc, const char *name)
{
    irc_chan_t *ch = loom_calloc(1, sizeof(*ch));
    irc_chan_state_t *st = loom_calloc(1, sizeof(*st));

    ch->inst = irc;
    snprintf(ch->name, sizeof(ch->name), "%s", name);
    irc_fold(irc, name, ch->folded, sizeof(ch->folded));
    ch->created = time(NULL);
    ch->priv = st;
    st->modes = CHAN_MODES_NEW;
    if (irc_map_put(&irc->chans, ch->folded, ch) != LOOM_OK) {
        chan_free(ch);
        return NULL;
    }
    return ch;
}

static irc_member_t *chan_member_add(irc_chan_t *ch, irc_client_t *c,
                                     unsigned modes)
{
    irc_member_t *m = loom_calloc(1, sizeof(*m));

    m->chan = ch;
    m->client = c;
    m->modes = modes;
    m->next = ch->members;
    if (ch->members)
        ch->members->prev = m;
    ch->members = m;
    ch->nmembers++;
    m->cnext = c->channels;
    if (c->channels)
        c->channels->cprev = m;
    c->channels = m;
    c->nchannels++;
    return m;
}

int chan_member_remove(irc_member_t *m)
{
    irc_chan_t *ch = m->chan;
    irc_client_t *c = m->client;

    if (m->prev)
        m->prev->next = m->next;
    else
        ch->members = m->next;
    if (m->next)
        m->next->prev = m->prev;
    if (m->cprev)
        m->cprev->cnext = m->cnext;
    else
        c->channels = m->cnext;
    if (m->cnext)
        m->cnext->cprev = m->cprev;
    ch->nmembers--;
    c->nchannels--;
    free(m);
    if (ch->members != NULL)
        return 0;
    irc_map_del(&ch->inst->chans, ch->folded);
    chan_free(ch);
    return 1;
}

void irc_chan_part_all(irc_client_t *c)
{
    while (c->channels)
        chan_member_remove(c->channels);
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

size_t chan_room(const irc_client_t *from)
{
    char prefix[CHAN_PREFIX_BUF];
    size_t used = strlen(irc_client_prefix(from, prefix, sizeof(prefix))) + 2;

    return used + 2 < IRC_LINE_MAX ? IRC_LINE_MAX - 2 - used : 0;
}

void chan_fit(const irc_client_t *from, char *text)
{
    size_t len = strlen(text), room = chan_room(from);

    if (len > room)
        text[irc_utf8_cut(text, len, room)] = '\0';
}

/* ---- checks ------------------------------------------------------------- */

int chan_hidden(const irc_chan_t *ch)
{
    return (chan_state(ch)->modes & (CHAN_MODE_S | CHAN_MODE_P)) != 0;
}

char chan_symbol(const irc_chan_t *ch)
{
    unsigned modes = chan_state(ch)->modes;

    if (modes & CHAN_MODE_S)
        return '@';
    return (modes & CHAN_MODE_P) ? '*' : '=';
}

int chan_list_match(const irc_chan_t *ch, const chan_list_t *list,
                    const irc_client_t *c)
{
    irc_casemap_t cm = irc_conf(ch->inst)->casemap;
    char byhost[CHAN_PREFIX_BUF], byip[CHAN_PREFIX_BUF];

    if (list->n == 0)
        return 0;
    snprintf(byhost, sizeof(byhost), "%s!%s@%s", c->nick, c->user, c->host);
    snprintf(byip, sizeof(byip), "%s!%s@%s", c->nick, c->user, c->ip);
    for (size_t i = 0; i < list->n; i++)
        if (irc_mask_match(cm, list->v[i].mask, byhost) ||
            irc_mask_match(cm, list->v[i].mask, byip))
            return 1;
    return 0;
}

int chan_banned(const irc_chan_t *ch, const irc_client_t *c)
{
    const irc_chan_state_t *st = chan_state(ch);

    return chan_list_match(ch, &st->bans, c) &&
           !chan_list_match(ch, &st->excepts, c);
}

int irc_chan_can_send(irc_client_t *c, irc_chan_t *ch)
{
    irc_chan_state_t *st = chan_state(ch);
    irc_member_t *m = chan_member_of(ch, c);

    if (c->is_service)
        return 0;
    if (m == NULL && (st->modes & CHAN_MODE_N))
        return 404;
    if (m && (m->modes & (IRC_MEMBER_OP | IRC_MEMBER_VOICE)))
        return 0;
    if (st->modes & CHAN_MODE_M)
        return 404;
    return chan_banned(ch, c) ? 404 : 0;
}

static int chan_invited(irc_chan_state_t *st, uint64_t id, int consume)
{
    for (size_t i = 0; i < CHAN_INVITES_MAX; i++) {
        if (st->invited[i] == id) {
            if (consume)
                st->invited[i] = 0;
            return 1;
        }
    }
    return 0;
}

static void chan_invite_add(irc_chan_state_t *st, uint64_t id)
{
    if (chan_invited(st, id, 0))
        return;
    st->invited[st->invite_next] = id;
    st->invite_next = (st->invite_next + 1) % CHAN_INVITES_MAX;
}

/* ---- NAMES -------------------------------------------------------------- */

void chan_send_names(irc_client_t *c, irc_chan_t *ch)
{
    const irc_conf_t *conf = irc_conf(c->inst);
    int member = chan_member_of(ch, c) != NULL;
    int multi = (c->caps & IRC_CAP_MULTI_PREFIX) != 0;
    int uhnames = (c->caps & IRC_CAP_USERHOST_IN_NAMES) != 0;
    char sym = chan_symbol(ch);
    char line[IRC_LINE_MAX];
    size_t used = 0, room;
    size_t head = 1 + strlen(conf->server_name) + 5 + strlen(c->nick) + 3 +
                  strlen(ch->name) + 2;

    room = head + 2 < IRC_LINE_MAX ? IRC_LINE_MAX - 2 - head : 0;
    if (room > sizeof(line) - 1)
        room = sizeof(line) - 1;
    for (irc_member_t *m = ch->members; m; m = m->next) {
        irc_client_t *who = m->client;
        char item[CHAN_PREFIX_BUF + 4], pfx[4];
        int n;

        if (!member && (who->umodes & IRC_UMODE_INVISIBLE))
            continue;
        irc_member_prefix(m, multi, pfx, sizeof(pfx));
        if (uhnames)
            n = snprintf(item, sizeof(item), "%s%s!%s@%s", pfx, who->nick,
                         who->user, who->host);
        else
            n = snprintf(item, sizeof(item), "%s%s", pfx, who->nick);
        if (n < 0 || (size_t)n >= sizeof(item))
            continue;
        if (used && used + 1 + (size_t)n > room) {
            line[used] = '\0';
            irc_numeric(c, 353, "%c %s :%s", sym, ch->name, line);
            used = 0;
        }
        if (used)
            line[used++] = ' ';
        if ((size_t)n > room - used)
            n = (int)(room - used);
        memcpy(line + used, item, (size_t)n);
        used += (size_t)n;
    }
    if (used) {
        line[used] = '\0';
        irc_numeric(c, 353, "%c %s :%s", sym, ch->name, line);
    }
    irc_numeric(c, 366, "%s :End of /NAMES list", ch->name);
}

static void cmd_names(irc_client_t *c, const irc_args_t *a)
{
    char list[IRC_LINE_MAX], *save = NULL, *name;
    unsigned n = 0, max = irc_conf(c->inst)->maxtargets;

    if (a->nparams == 0 || a->params[0][0] == '\0') {
        irc_numeric(c, 366, "* :End of /NAMES list");
        return;
    }
    snprintf(list, sizeof(list), "%s", a->params[0]);
    for (name = strtok_r(list, ",", &save); name && (!max || n < max);
         name = strtok_r(NULL, ",", &save), n++) {
        irc_chan_t *ch = irc_chan_find(c->inst, name);

        if (ch && (!chan_hidden(ch) || chan_member_of(ch, c)))
            chan_send_names(c, ch);
        else
            irc_numeric(c, 366, "%s :End of /NAMES list", name);
    }
}

/* ---- JOIN and PART ------------------------------------------------------ */

static void chan_send_topic(irc_client_t *c, irc_chan_t *ch, int none_too)
{
    irc_chan_state_t *st = chan_state(ch);

    if (st->topic == NULL) {
        if (none_too)
            irc_numeric(c, 331, "%s :No topic is set", ch->name);
        return;
    }
    irc_numeric(c, 332, "%s :%s", ch->name, st->topic);
    irc_numeric(c, 333, "%s %s %lld", ch->name, st->topic_by,
                (long long)st->topic_time);
}

/* The JOIN line to the members, each with its variant: with account and
 * realname for extended-join; then AWAY for away-notify when C is away. */
static void chan_announce_join(irc_client_t *c, irc_chan_t *ch)
{
    char text[IRC_LINE_MAX];
    irc_out_t o = {.from = c, .self = 1, .echo = 1};

    snprintf(text, sizeof(text), "JOIN %s %s :%s", ch->name,
             c->account[0] ? c->account : "*", c->realname);
    chan_fit(c, text);
    o.text = text;
    o.caps_all = IRC_CAP_EXTENDED_JOIN;
    irc_fanout_chan(ch, &o);
    snprintf(text, sizeof(text), "JOIN %s", ch->name);
    o.caps_all = 0;
    o.caps_none = IRC_CAP_EXTENDED_JOIN;
    irc_fanout_chan(ch, &o);
    if (c->away) {
        irc_out_t aw = {.from = c, .caps_all = IRC_CAP_AWAY_NOTIFY};

        snprintf(text, sizeof(text), "AWAY :%s", c->away);
        chan_fit(c, text);
        aw.text = text;
        irc_fanout_chan(ch, &aw);
    }
}

/* Whether C may enter CH (key KEY); 0 or the refusing numeric. */
static int chan_join_check(irc_client_t *c, irc_chan_t *ch, const char *key)
{
    irc_chan_state_t *st = chan_state(ch);

    if (chan_invited(st, c->id, 1))
        return 0;
    if (chan_banned(ch, c))
        return 474;
    if ((st->modes & CHAN_MODE_I) && !chan_list_match(ch, &st->invex, c))
        return 473;
    if (st->key && (key == NULL || strcmp(key, st->key) != 0))
        return 475;
    if (st->limit && ch->nmembers >= st->limit)
        return 471;
    return 0;
}

static const struct {
    int num;
    const char *text;
} join_errors[] = {
    {471, "Cannot join channel (+l)"},
    {473, "Cannot join channel (+i)"},
    {474, "Cannot join channel (+b)"},
    {475, "Cannot join channel (+k)"},
    {476, "Bad Channel Mask"},
    {403, "No such channel"},
    {405, "You have joined too many channels"},
};

static void join_error(irc_client_t *c, int num, const char *name)
{
    for (size_t i = 0; i < LOOM_ARRAY_LEN(join_errors); i++)
        if (join_errors[i].num == num)
            irc_numeric(c, num, "%s :%s", name, join_errors[i].text);
}

int irc_chan_join(irc_client_t *c, const char *name, const char *key, int force)
{
    irc_inst_t *irc = c->inst;
    const irc_conf_t *conf = irc_conf(irc);
    irc_chan_t *ch;
    unsigned modes = 0;
    int num = 0;

    if (!irc_is_channel(name, chantypes))
        num = 403;
    else if (!irc_chan_valid(name, chantypes, conf->channellen) ||
             strlen(name) >= IRC_CHAN_BUF)
        num = 476;
    if (num) {
        join_error(c, num, name);
        return num;
    }
    ch = irc_chan_find(irc, name);
    if (ch && chan_member_of(ch, c))
        return 0;
    if (!force && conf->maxchannels && c->nchannels >= conf->maxchannels)
        num = 405;
    else if (!force && ch)
        num = chan_join_check(c, ch, key);
    if (num) {
        join_error(c, num, ch ? ch->name : name);
        return num;
    }
    if (ch == NULL) {
        ch = chan_create(irc, name);
        if (ch == NULL)
            return 403;
        modes = IRC_MEMBER_OP;
    }
    chan_member_add(ch, c, modes);
    chan_announce_join(c, ch);
    chan_send_topic(c, ch, 0);
    chan_send_names(c, ch);
    return 0;
}

static void chan_part(irc_member_t *m, const char *reason)
{
    char text[IRC_LINE_MAX];
    irc_out_t o = {.from = m->client, .self = 1, .echo = 1, .text = text};

    if (reason && reason[0])
        snprintf(text, sizeof(text), "PART %s :%s", m->chan->name, reason);
    else
        snprintf(text, sizeof(text), "PART %s", m->chan->name);
    chan_fit(m->client, text);
    irc_fanout_chan(m->chan, &o);
    chan_member_remove(m);
}

static void cmd_join(irc_client_t *c, const irc_args_t *a)
{
    char names[IRC_LINE_MAX], keys[IRC_LINE_MAX];
    char *ns = NULL, *ks = NULL, *name, *key;
    unsigned n = 0, max = irc_conf(c->inst)->maxtargets;

    if (strcmp(a->params[0], "0") == 0) {
        while (c->channels)
            chan_part(c->channels, NULL);
        return;
    }
    snprintf(names, sizeof(names), "%s", a->params[0]);
    snprintf(keys, sizeof(keys), "%s", a->nparams > 1 ? a->params[1] : "");
    key = strtok_r(keys, ",", &ks);
    for (name = strtok_r(names, ",", &ns); name;
         name = strtok_r(NULL, ",", &ns), n++) {
        if (max && n >= max) {
            irc_numeric(c, 407, "%s :Too many targets", name);
            break;
        }
        irc_chan_join(c, name, key, 0);
        if (c->quitting)
            return;
        if (key)
            key = strtok_r(NULL, ",", &ks);
    }
}

static void cmd_part(irc_client_t *c, const irc_args_t *a)
{
    char names[IRC_LINE_MAX], *save = NULL, *name;
    const char *reason = a->nparams > 1 ? a->params[1] : NULL;
    unsigned n = 0, max = irc_conf(c->inst)->maxtargets;

    snprintf(names, sizeof(names), "%s", a->params[0]);
    for (name = strtok_r(names, ",", &save); name;
         name = strtok_r(NULL, ",", &save), n++) {
        irc_chan_t *ch = irc_chan_find(c->inst, name);
        irc_member_t *m;

        if (max && n >= max) {
            irc_numeric(c, 407, "%s :Too many targets", name);
            break;
        }
        if (ch == NULL) {
            irc_err_nosuchchannel(c, name);
            continue;
        }
        m = chan_member_of(ch, c);
        if (m == NULL) {
            irc_numeric(c, 442, "%s :You're not on that channel", ch->name);
            continue;
        }
        chan_part(m, reason);
    }
}

/* ---- TOPIC -------------------------------------------------------------- */

static void cmd_topic(irc_client_t *c, const irc_args_t *a)
{
    irc_chan_t *ch = irc_chan_find(c->inst, a->params[0]);
    const irc_conf_t *conf = irc_conf(c->inst);
    irc_chan_state_t *st;
    irc_member_t *m;
    char text[IRC_LINE_MAX];
    size_t len, room;

    if (ch == NULL) {
        irc_err_nosuchchannel(c, a->params[0]);
        return;
    }
    st = chan_state(ch);
    m = chan_member_of(ch, c);
    if (a->nparams < 2) {
        if (m == NULL && chan_hidden(ch))
            irc_numeric(c, 442, "%s :You're not on that channel", ch->name);
        else
            chan_send_topic(c, ch, 1);
        return;
    }
    if (m == NULL) {
        irc_numeric(c, 442, "%s :You're not on that channel", ch->name);
        return;
    }
    if ((st->modes & CHAN_MODE_T) && !(m->modes & IRC_MEMBER_OP)) {
        irc_numeric(c, 482, "%s :You're not channel operator", ch->name);
        return;
    }
    room = chan_room(c) - strlen("TOPIC  :") - strlen(ch->name);
    len = irc_utf8_cut(a->params[1], strlen(a->params[1]),
                       conf->topiclen < room ? conf->topiclen : room);
    free(st->topic);
    st->topic = len ? loom_strndup(a->params[1], len) : NULL;
    irc_client_prefix(c, st->topic_by, sizeof(st->topic_by));
    st->topic_time = time(NULL);
    snprintf(text, sizeof(text), "TOPIC %s :%.*s", ch->name, (int)len,
             a->params[1]);
    irc_fanout_chan(ch, &(irc_out_t){.from = c, .text = text, .self = 1});
}

/* ---- KICK --------------------------------------------------------------- */

static void cmd_kick(irc_client_t *c, const irc_args_t *a)
{
    irc_chan_t *ch = irc_chan_find(c->inst, a->params[0]);
    const irc_conf_t *conf = irc_conf(c->inst);
    const char *reason =
        a->nparams > 2 && a->params[2][0] ? a->params[2] : c->nick;
    size_t rlen = irc_utf8_cut(reason, strlen(reason), conf->kicklen);
    char nicks[IRC_LINE_MAX], *save = NULL, *nick, text[IRC_LINE_MAX];
    irc_member_t *me;
    unsigned n = 0, max = conf->maxtargets;

    if (ch == NULL) {
        irc_err_nosuchchannel(c, a->params[0]);
        return;
    }
    me = chan_member_of(ch, c);
    if (me == NULL) {
        irc_numeric(c, 442, "%s :You're not on that channel", ch->name);
        return;
    }
    if (!(me->modes & IRC_MEMBER_OP)) {
        irc_numeric(c, 482, "%s :You're not channel operator", ch->name);
        return;
    }
    snprintf(nicks, sizeof(nicks), "%s", a->params[1]);
    for (nick = strtok_r(nicks, ",", &save); nick;
         nick = strtok_r(NULL, ",", &save), n++) {
        irc_client_t *t = irc_client_by_nick(c->inst, nick);
        irc_member_t *tm;
        int gone;

        if (max && n >= max) {
            irc_numeric(c, 407, "%s :Too many targets", nick);
            break;
        }
        if (t == NULL) {
            irc_err_nosuchnick(c, nick);
            continue;
        }
        tm = chan_member_of(ch, t);
        if (tm == NULL) {
            irc_numeric(c, 441, "%s %s :They aren't on that channel", t->nick,
                        ch->name);
            continue;
        }
        if (t->is_service && t != c) {
            irc_numeric(c, 484, "%s %s :Cannot kick a network service", t->nick,
                        ch->name);
            continue;
        }
        snprintf(text, sizeof(text), "KICK %s %s :%.*s", ch->name, t->nick,
                 (int)rlen, reason);
        chan_fit(c, text);
        irc_fanout_chan(ch, &(irc_out_t){.from = c, .text = text, .self = 1});
        gone = chan_member_remove(tm);
        if (gone || tm == me)
            return;
    }
}

/* ---- INVITE ------------------------------------------------------------- */

static void cmd_invite(irc_client_t *c, const irc_args_t *a)
{
    irc_client_t *t = irc_client_by_nick(c->inst, a->params[0]);
    irc_chan_t *ch = irc_chan_find(c->inst, a->params[1]);
    irc_member_t *me;
    char text[IRC_LINE_MAX];

    if (t == NULL) {
        irc_err_nosuchnick(c, a->params[0]);
        return;
    }
    if (ch == NULL) {
        irc_err_nosuchchannel(c, a->params[1]);
        return;
    }
    me = chan_member_of(ch, c);
    if (me == NULL) {
        irc_numeric(c, 442, "%s :You're not on that channel", ch->name);
        return;
    }
    if (chan_member_of(ch, t)) {
        irc_numeric(c, 443, "%s %s :is already on channel", t->nick, ch->name);
        return;
    }
    if ((chan_state(ch)->modes & CHAN_MODE_I) && !(me->modes & IRC_MEMBER_OP)) {
        irc_numeric(c, 482, "%s :You're not channel operator", ch->name);
        return;
    }
    chan_invite_add(chan_state(ch), t->id);
    irc_numeric(c, 341, "%s %s", t->nick, ch->name);
    snprintf(text, sizeof(text), "INVITE %s %s", t->nick, ch->name);
    irc_send_out(t, &(irc_out_t){.from = c, .text = text});
    irc_fanout_chan(ch, &(irc_out_t){.from = c,
                                     .text = text,
                                     .caps_all = IRC_CAP_INVITE_NOTIFY,
                                     .min_modes = IRC_MEMBER_OP});
    if (t->away)
        irc_numeric(c, 301, "%s :%s", t->nick, t->away);
}

/* ---- paced output ------------------------------------------------------- */

int chan_numeric_paced(irc_client_t *c, int num, const char *fmt, ...)
{
    char line[IRC_LINE_MAX];
    const irc_conf_t *conf = irc_conf(c->inst);
    va_list ap;
    int n, rc;
    size_t len;
    loom_buf_t *b;

    n = snprintf(line, sizeof(line), ":%s %03d %s ", conf->server_name, num,
                 c->nick);
    if (n < 0 || (size_t)n >= sizeof(line) - 2)
        return LOOM_OK;
    len = (size_t)n;
    va_start(ap, fmt);
    n = vsnprintf(line + len, sizeof(line) - len, fmt, ap);
    va_end(ap);
    if (n < 0)
        return LOOM_OK;
    len += (size_t)n;
    if (len > sizeof(line) - 2) /* vsnprintf cut it: 510 bytes at most */
        len = irc_utf8_cut(line, sizeof(line) - 1, sizeof(line) - 2);
    memcpy(line + len, "\r\n", 2);
    b = loom_buf_new(line, len + 2);
    rc = irc_client_write(c, b);
    loom_buf_unref(b);
    return rc;
}

static void pace_free(void *state)
{
    chan_pace_t *job = state;

    job->free(job);
}

/* Emit what the transport takes; 1 when JOB is finished (and freed or
 * handed back to the caller to free), 0 when it waits for the pacer. */
static int pace_run(irc_client_t *c, chan_pace_t *job)
{
    while (job->i < job->n) {
        int rc = job->emit(c, job, job->i++);

        if (rc == LOOM_ERROR)
            return 1;
        if (rc == LOOM_AGAIN && job->i < job->n)
            return 0;
    }
    job->end(c, job);
    return 1;
}

static void pace_resume(irc_client_t *c, void *state)
{
    chan_pace_t *job = state;

    if (!pace_run(c, job)) {
        /* more to come: (re)arm; the hub clears the pacer before it
         * calls it */
        irc_client_set_pacer(c, pace_resume, pace_free, job);
        return;
    }
    if (c->pacer_state == job)
        irc_client_set_pacer(c, NULL, NULL, NULL);
    else
        job->free(job);
}

void chan_pace_start(irc_client_t *c, chan_pace_t *job)
{
    if (pace_run(c, job))
        job->free(job);
    else
        irc_client_set_pacer(c, pace_resume, pace_free, job);
}

/* ---- LIST --------------------------------------------------------------- */

typedef struct {
    chan_pace_t job;
    char (*names)[IRC_CHAN_BUF];
} list_job_t;

static int list_emit(irc_client_t *c, chan_pace_t *job, size_t i)
{
    list_job_t *lj = (list_job_t *)job;
    irc_chan_t *ch = irc_chan_find(c->inst, lj->names[i]);
    const char *topic;

    if (ch == NULL)
        return LOOM_OK;
    topic = chan_state(ch)->topic;
    return chan_numeric_paced(c, 322, "%s %u :%s", ch->name, ch->nmembers,
                              topic ? topic : "");
}

static void list_end(irc_client_t *c, chan_pace_t *job)
{
    (void)job;
    irc_numeric(c, 323, ":End of /LIST");
}

static void list_free(chan_pace_t *job)
{
    list_job_t *lj = (list_job_t *)job;

    free(lj->names);
    free(lj);
}

/* ELIST "U" filters: ">N" more than N users, "<N" fewer than N. */
typedef struct {
    unsigned long min, max; /* nmembers > min, nmembers < max */
} list_filter_t;

static int list_filter_parse(const char *tok, list_filter_t *f)
{
    char *end;
    unsigned long v;

    if (tok[0] != '>' && tok[0] != '<')
        return 0;
    v = strtoul(tok + 1, &end, 10);
    if (end == tok + 1 || *end != '\0')
        return 1; /* a filter, but not one understood: ignored */
    if (tok[0] == '>')
        f->min = v;
    else
        f->max = v;
    return 1;
}

static int list_wanted(irc_client_t *c, irc_chan_t *ch, const list_filter_t *f)
{
    if (chan_hidden(ch) && !chan_member_of(ch, c))
        return 0;
    return ch->nmembers > f->min && ch->nmembers < f->max;
}

static void cmd_list(irc_client_t *c, const irc_args_t *a)
{
    irc_inst_t *irc = c->inst;
    list_filter_t f = {0, (unsigned long)-1};
    list_job_t *lj = loom_calloc(1, sizeof(*lj));
    size_t cap = 0, named = 0;
    char toks[IRC_LINE_MAX], *save = NULL, *tok;

    irc_numeric(c, 321, "Channel :Users  Name");
    if (a->nparams > 0) {
        snprintf(toks, sizeof(toks), "%s", a->params[0]);
        for (tok = strtok_r(toks, ",", &save); tok;
             tok = strtok_r(NULL, ",", &save)) {
            irc_chan_t *ch;

            if (list_filter_parse(tok, &f))
                continue;
            named = 1;
            ch = irc_chan_find(irc, tok);
            if (ch == NULL || lj->job.n >= 64)
                continue;
            if (lj->job.n == cap) {
                cap = cap ? cap * 2 : 8;
                lj->names = loom_realloc(lj->names, cap * sizeof(*lj->names));
            }
            memcpy(lj->names[lj->job.n++], ch->name, IRC_CHAN_BUF);
        }
    }
    if (!named) {
        size_t i = 0;
        irc_map_ent_t *e;

        cap = irc->chans.count ? irc->chans.count : 1;
        lj->names = loom_calloc(cap, sizeof(*lj->names));
        for (e = irc_map_next(&irc->chans, &i, NULL); e;
             e = irc_map_next(&irc->chans, &i, e))
            if (lj->job.n < cap && list_wanted(c, e->value, &f))
                memcpy(lj->names[lj->job.n++], ((irc_chan_t *)e->value)->name,
                       IRC_CHAN_BUF);
    } else {
        size_t keep = 0;

        for (size_t i = 0; i < lj->job.n; i++) {
            irc_chan_t *ch = irc_chan_find(irc, lj->names[i]);

            if (ch && list_wanted(c, ch, &f))
                memmove(lj->names[keep++], lj->names[i], IRC_CHAN_BUF);
        }
        lj->job.n = keep;
    }
    lj->job.emit = list_emit;
    lj->job.end = list_end;
    lj->job.free = list_free;
    chan_pace_start(c, &lj->job);
}

/* ---- the table ---------------------------------------------------------- */

const irc_cmd_t irc_chan_cmds[] = {
    {"JOIN", 1, IRC_CMD_ACTIVE, 0, cmd_join},
    {"PART", 1, IRC_CMD_ACTIVE, 0, cmd_part},
    {"TOPIC", 1, 0, 0, cmd_topic},
    {"NAMES", 0, 0, 0, cmd_names},
    {"LIST", 0, 0, 2, cmd_list},
    {"MODE", 1, 0, 0, irc_chan_cmd_mode},
    {"KICK", 2, 0, 0, cmd_kick},
    {"INVITE", 2, 0, 0, cmd_invite},
    {NULL, 0, 0, 0, NULL},
};
