/*
 * irc_chan_mode.c - MODE: channel modes (o v b e I k l i m n s t p) and
 * user modes (i o w).
 *
 * A channel MODE line is parsed by irc-parse's irc_mode_parse_chan (the
 * CHANMODES classes, the MODES limit), then each change is checked and
 * applied here; what really changed is announced to the channel in as
 * few MODE lines as fit (irc_mode_format), so a no-op ("+n" on a +n
 * channel, a ban already set) is not echoed.
 *
 * Choices: the three lists (b, e, I) share one bound, maxlist (ISUPPORT
 * MAXLIST=beI:n), past it 478; "+k" replaces a key that is set; "-k"
 * needs no parameter and is shown as "-k *"; "+l" takes a positive
 * number, anything else is ignored; any member may read the lists of a
 * channel that is not hidden from it.  A line with nothing applicable
 * and a missing parameter gets 461.  User modes: +o only through OPER
 * (a "+o" is ignored), -o drops it; 221 answers a query.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "irc_chan_int.h"

/* The letters without a parameter and their bits. */
static const struct {
    char letter;
    unsigned bit;
} flag_modes[] = {
    {'i', CHAN_MODE_I}, {'m', CHAN_MODE_M}, {'n', CHAN_MODE_N},
    {'p', CHAN_MODE_P}, {'s', CHAN_MODE_S}, {'t', CHAN_MODE_T},
};

static unsigned flag_bit(char letter)
{
    for (size_t i = 0; i < LOOM_ARRAY_LEN(flag_modes); i++)
        if (flag_modes[i].letter == letter)
            return flag_modes[i].bit;
    return 0;
}

/* The list modes, their numerics (entry, end) and names. */
typedef struct {
    char letter;
    int num_entry, num_end;
    const char *end_text;
    size_t off; /* offsetof the list in irc_chan_state_t */
} list_mode_t;

static const list_mode_t list_modes[] = {
    {'b', 367, 368, "End of channel ban list",
     offsetof(irc_chan_state_t, bans)},
    {'e', 348, 349, "End of channel exception list",
     offsetof(irc_chan_state_t, excepts)},
    {'I', 346, 347, "End of channel invite list",
     offsetof(irc_chan_state_t, invex)},
};

static const list_mode_t *list_mode(char letter)
{
    for (size_t i = 0; i < LOOM_ARRAY_LEN(list_modes); i++)
        if (list_modes[i].letter == letter)
            return &list_modes[i];
    return NULL;
}

static chan_list_t *list_of(irc_chan_state_t *st, const list_mode_t *lm)
{
    return (chan_list_t *)((char *)st + lm->off);
}

static void list_free(chan_list_t *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i].mask);
    free(l->v);
    l->v = NULL;
    l->n = l->cap = 0;
}

void chan_lists_free(irc_chan_state_t *st)
{
    list_free(&st->bans);
    list_free(&st->excepts);
    list_free(&st->invex);
    free(st->key);
    free(st->topic);
    st->key = st->topic = NULL;
}

static ssize_t list_find(const irc_chan_t *ch, const chan_list_t *l,
                         const char *mask)
{
    irc_casemap_t cm = irc_conf(ch->inst)->casemap;

    for (size_t i = 0; i < l->n; i++)
        if (irc_casecmp(cm, l->v[i].mask, mask) == 0)
            return (ssize_t)i;
    return -1;
}

static void list_send(irc_client_t *c, irc_chan_t *ch, const list_mode_t *lm)
{
    chan_list_t *l = list_of(chan_state(ch), lm);

    for (size_t i = 0; i < l->n; i++)
        irc_numeric(c, lm->num_entry, "%s %s %s %lld", ch->name, l->v[i].mask,
                    l->v[i].setter, (long long)l->v[i].when);
    irc_numeric(c, lm->num_end, "%s :%s", ch->name, lm->end_text);
}

/* 324 and 329: the modes of CH; the key's value only to members. */
static void mode_show(irc_client_t *c, irc_chan_t *ch)
{
    irc_chan_state_t *st = chan_state(ch);
    int member = chan_member_of(ch, c) != NULL;
    char letters[32] = "+", params[IRC_LINE_MAX] = "";
    size_t n = 1;

    for (size_t i = 0; i < LOOM_ARRAY_LEN(flag_modes); i++)
        if (st->modes & flag_modes[i].bit)
            letters[n++] = flag_modes[i].letter;
    if (st->key) {
        letters[n++] = 'k';
        snprintf(params, sizeof(params), " %s", member ? st->key : "*");
    }
    if (st->limit) {
        size_t used = strlen(params);

        letters[n++] = 'l';
        snprintf(params + used, sizeof(params) - used, " %u", st->limit);
    }
    letters[n] = '\0';
    irc_numeric(c, 324, "%s %s%s", ch->name, letters, params);
    irc_numeric(c, 329, "%s %lld", ch->name, (long long)ch->created);
}

/* The changes applied, with their parameters kept here. */
typedef struct {
    irc_mode_change_t ch[IRC_MODE_CHANGES_MAX];
    char param[IRC_MODE_CHANGES_MAX][CHAN_PREFIX_BUF];
    size_t n;
} applied_t;

static void applied_add(applied_t *ap, char dir, char letter, const char *p)
{
    irc_mode_change_t *x;

    if (ap->n >= IRC_MODE_CHANGES_MAX)
        return;
    x = &ap->ch[ap->n];
    x->dir = dir;
    x->letter = letter;
    x->cls = 0;
    x->param = NULL;
    if (p) {
        snprintf(ap->param[ap->n], sizeof(ap->param[0]), "%s", p);
        x->param = ap->param[ap->n];
    }
    ap->n++;
}

/* Apply a prefix mode change (o v) to the member named by X->param. */
static void apply_prefix(irc_client_t *c, irc_chan_t *ch,
                         const irc_mode_change_t *x, applied_t *ap)
{
    irc_client_t *t = irc_client_by_nick(c->inst, x->param);
    unsigned bit = x->letter == 'o' ? IRC_MEMBER_OP : IRC_MEMBER_VOICE;
    irc_member_t *tm;

    if (t == NULL) {
        irc_err_nosuchnick(c, x->param);
        return;
    }
    tm = chan_member_of(ch, t);
    if (tm == NULL) {
        irc_numeric(c, 441, "%s %s :They aren't on that channel", t->nick,
                    ch->name);
        return;
    }
    if (x->dir == '-' && t->is_service && t != c) {
        irc_numeric(c, 484, "%s %s :Cannot deop a network service", t->nick,
                    ch->name);
        return;
    }
    if (x->dir == '+' ? (tm->modes & bit) != 0 : (tm->modes & bit) == 0)
        return;
    if (x->dir == '+')
        tm->modes |= bit;
    else
        tm->modes &= ~bit;
    applied_add(ap, x->dir, x->letter, t->nick);
}

static size_t lists_total(const irc_chan_state_t *st)
{
    return st->bans.n + st->excepts.n + st->invex.n;
}

/* Add or remove a list entry (b e I). */
static void apply_list(irc_client_t *c, irc_chan_t *ch,
                       const irc_mode_change_t *x, applied_t *ap)
{
    irc_chan_state_t *st = chan_state(ch);
    const list_mode_t *lm = list_mode(x->letter);
    chan_list_t *l = list_of(st, lm);
    char mask[CHAN_PREFIX_BUF];
    ssize_t at;

    if (x->param[0] == ':' ||
        irc_mask_normalize(x->param, mask, sizeof(mask)) == (size_t)-1)
        return;
    at = list_find(ch, l, mask);
    if (x->dir == '-') {
        if (at < 0)
            return;
        applied_add(ap, '-', x->letter, l->v[at].mask);
        free(l->v[at].mask);
        memmove(&l->v[at], &l->v[at + 1],
                (l->n - (size_t)at - 1) * sizeof(l->v[0]));
        l->n--;
        return;
    }
    if (at >= 0)
        return;
    if (lists_total(st) >= irc_conf(c->inst)->maxlist) {
        irc_numeric(c, 478, "%s %s :Channel list is full", ch->name, mask);
        return;
    }
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 4;
        l->v = loom_realloc(l->v, l->cap * sizeof(l->v[0]));
    }
    l->v[l->n].mask = loom_strdup(mask);
    irc_client_prefix(c, l->v[l->n].setter, sizeof(l->v[0].setter));
    l->v[l->n].when = time(NULL);
    l->n++;
    applied_add(ap, '+', x->letter, mask);
}

/* A key is a word without spaces, commas or controls, not starting with
 * ':', of at most 23 bytes (ngircd and others' KEYLEN). */
static int key_valid(const char *k)
{
    if (k[0] == '\0' || k[0] == ':' || strlen(k) > 23)
        return 0;
    for (; *k; k++)
        if ((unsigned char)*k <= ' ' || *k == ',' || *k == 0x7f)
            return 0;
    return 1;
}

static void apply_key(irc_chan_t *ch, const irc_mode_change_t *x, applied_t *ap)
{
    irc_chan_state_t *st = chan_state(ch);

    if (x->dir == '-') {
        if (st->key == NULL)
            return;
        free(st->key);
        st->key = NULL;
        applied_add(ap, '-', 'k', "*");
        return;
    }
    if (x->param == NULL || !key_valid(x->param))
        return;
    if (st->key && strcmp(st->key, x->param) == 0)
        return;
    free(st->key);
    st->key = loom_strdup(x->param);
    applied_add(ap, '+', 'k', st->key);
}

static void apply_limit(irc_chan_t *ch, const irc_mode_change_t *x,
                        applied_t *ap)
{
    irc_chan_state_t *st = chan_state(ch);
    char num[16];
    unsigned long v;
    char *end;

    if (x->dir == '-') {
        if (st->limit == 0)
            return;
        st->limit = 0;
        applied_add(ap, '-', 'l', NULL);
        return;
    }
    v = strtoul(x->param, &end, 10);
    if (end == x->param || *end != '\0' || v == 0 || v > 1000000)
        return;
    if (st->limit == v)
        return;
    st->limit = (unsigned)v;
    snprintf(num, sizeof(num), "%u", st->limit);
    applied_add(ap, '+', 'l', num);
}

static void apply_flag(irc_chan_t *ch, const irc_mode_change_t *x,
                       applied_t *ap)
{
    irc_chan_state_t *st = chan_state(ch);
    unsigned bit = flag_bit(x->letter);

    if (bit == 0 || (x->dir == '+') == ((st->modes & bit) != 0))
        return;
    if (x->dir == '+')
        st->modes |= bit;
    else
        st->modes &= ~bit;
    applied_add(ap, x->dir, x->letter, NULL);
}

/* Announce AP's changes to the channel, as many per line as fit. */
static void mode_announce(irc_client_t *c, irc_chan_t *ch, const applied_t *ap)
{
    size_t done = 0, max = irc_conf(c->inst)->modes;
    size_t room = chan_room(c), fixed = strlen("MODE  ") + strlen(ch->name);
    size_t cap = room > fixed + 1 ? room - fixed + 1 : 1; /* + the NUL */

    while (done < ap->n) {
        char modes[IRC_LINE_MAX], text[IRC_LINE_MAX + IRC_CHAN_BUF + 8];
        size_t k = irc_mode_format(ap->ch + done, ap->n - done, max, modes,
                                   cap < sizeof(modes) ? cap : sizeof(modes));

        if (k == 0)
            break;
        snprintf(text, sizeof(text), "MODE %s %s", ch->name, modes);
        irc_fanout_chan(ch, &(irc_out_t){.from = c, .text = text, .self = 1});
        done += k;
    }
}

static void mode_chan(irc_client_t *c, irc_chan_t *ch, const irc_args_t *a)
{
    irc_chan_inst_t *ci = c->inst->chan_priv;
    irc_member_t *me = chan_member_of(ch, c);
    irc_modes_t pm;
    applied_t *ap;
    int denied = 0;

    irc_mode_parse_chan(&ci->modeset, a->params[1], a->params + 2,
                        a->nparams - 2, irc_conf(c->inst)->modes, &pm);
    for (const char *u = pm.unknown; *u; u++)
        irc_numeric(c, 472, "%c :is unknown mode char to me for %s", *u,
                    ch->name);
    ap = loom_calloc(1, sizeof(*ap));
    for (size_t i = 0; i < pm.n; i++) {
        const irc_mode_change_t *x = &pm.ch[i];

        if (x->cls == IRC_MODE_A && x->param == NULL) {
            if (me == NULL && chan_hidden(ch))
                irc_numeric(c, 442, "%s :You're not on that channel", ch->name);
            else
                list_send(c, ch, list_mode(x->letter));
            continue;
        }
        if (me == NULL || !(me->modes & IRC_MEMBER_OP)) {
            if (!denied)
                irc_numeric(c, 482, "%s :You're not channel operator",
                            ch->name);
            denied = 1;
            continue;
        }
        switch (x->cls) {
        case IRC_MODE_PREFIX:
            apply_prefix(c, ch, x, ap);
            break;
        case IRC_MODE_A:
            apply_list(c, ch, x, ap);
            break;
        case IRC_MODE_B:
            apply_key(ch, x, ap);
            break;
        case IRC_MODE_C:
            apply_limit(ch, x, ap);
            break;
        default:
            apply_flag(ch, x, ap);
            break;
        }
    }
    if (pm.n == 0 && pm.missing > 0 && pm.unknown[0] == '\0')
        irc_err_needmore(c, "MODE");
    mode_announce(c, ch, ap);
    free(ap);
}

/* ---- user modes --------------------------------------------------------- */

static const struct {
    char letter;
    unsigned bit;
} user_modes[] = {
    {'i', IRC_UMODE_INVISIBLE},
    {'o', IRC_UMODE_OPER},
    {'w', IRC_UMODE_WALLOPS},
};

static void mode_user_show(irc_client_t *c)
{
    char letters[8] = "+";
    size_t n = 1;

    for (size_t i = 0; i < LOOM_ARRAY_LEN(user_modes); i++)
        if (c->umodes & user_modes[i].bit)
            letters[n++] = user_modes[i].letter;
    letters[n] = '\0';
    irc_numeric(c, 221, "%s", letters);
}

static void mode_user(irc_client_t *c, const irc_args_t *a)
{
    irc_client_t *t = irc_client_by_nick(c->inst, a->params[0]);
    irc_modes_t pm;
    applied_t *ap;

    if (t == NULL) {
        irc_err_nosuchnick(c, a->params[0]);
        return;
    }
    if (t != c) {
        irc_numeric(c, 502, ":Can't change mode for other users");
        return;
    }
    if (a->nparams < 2) {
        mode_user_show(c);
        return;
    }
    irc_mode_parse_user(IRC_USERMODES, a->params[1], &pm);
    if (pm.unknown[0])
        irc_numeric(c, 501, ":Unknown MODE flag");
    ap = loom_calloc(1, sizeof(*ap));
    for (size_t i = 0; i < pm.n; i++) {
        const irc_mode_change_t *x = &pm.ch[i];
        unsigned bit = 0;

        for (size_t k = 0; k < LOOM_ARRAY_LEN(user_modes); k++)
            if (user_modes[k].letter == x->letter)
                bit = user_modes[k].bit;
        if (bit == 0 || (bit == IRC_UMODE_OPER && x->dir == '+'))
            continue;
        if ((x->dir == '+') == ((c->umodes & bit) != 0))
            continue;
        if (x->dir == '+') {
            c->umodes |= bit;
        } else {
            c->umodes &= ~bit;
            if (bit == IRC_UMODE_OPER && c->inst->nopers)
                c->inst->nopers--;
        }
        applied_add(ap, x->dir, x->letter, NULL);
    }
    if (ap->n) {
        char modes[64];

        if (irc_mode_format(ap->ch, ap->n, 0, modes, sizeof(modes)))
            irc_send(c, ":%s MODE %s :%s", c->nick, c->nick, modes);
    }
    free(ap);
}

void irc_chan_cmd_mode(irc_client_t *c, const irc_args_t *a)
{
    irc_chan_t *ch;

    if (!irc_is_channel(a->params[0], "#&")) {
        mode_user(c, a);
        return;
    }
    ch = irc_chan_find(c->inst, a->params[0]);
    if (ch == NULL) {
        irc_err_nosuchchannel(c, a->params[0]);
        return;
    }
    if (a->nparams < 2) {
        mode_show(c, ch);
        return;
    }
    mode_chan(c, ch, a);
}
