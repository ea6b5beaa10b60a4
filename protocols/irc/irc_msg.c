/*
 * irc_msg.c - replies, the fan-out, and PRIVMSG / NOTICE / TAGMSG.
 *
 * The fan-out formats a line once per variant -- which tags a recipient
 * takes: server-time, account-tag (when the source is logged in),
 * message-tags (msgid and the relayed client tags) -- and queues the
 * same reference-counted buffer to every recipient of that variant.  A
 * channel of N members costs at most 8 formatted lines, whatever N.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "irc.h"

/* ---- single replies
 * ----------------------------------------------------------- */

static void irc_vsend(irc_client_t *c, const char *head, const char *fmt,
                      va_list ap)
{
    char line[IRC_LINE_MAX + 64];
    int n = snprintf(line, sizeof(line), "%s", head), m;
    loom_buf_t *b;

    if (n < 0 || (size_t)n >= sizeof(line))
        return;
    m = vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    if (m < 0)
        return;
    n += m;
    /* a reply is one line: cut at 510 bytes on a UTF-8 boundary */
    if (n > IRC_LINE_MAX - 2)
        n = (int)irc_utf8_cut(line, (size_t)n, IRC_LINE_MAX - 2);
    memcpy(line + n, "\r\n", 3);
    b = loom_buf_new(line, (size_t)n + 2);
    irc_client_write(c, b);
    loom_buf_unref(b);
}

void irc_send(irc_client_t *c, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    irc_vsend(c, "", fmt, ap);
    va_end(ap);
}

void irc_send_server(irc_client_t *c, const char *fmt, ...)
{
    char head[80];
    va_list ap;

    snprintf(head, sizeof(head), ":%s ", irc_conf(c->inst)->server_name);
    va_start(ap, fmt);
    irc_vsend(c, head, fmt, ap);
    va_end(ap);
}

void irc_numeric(irc_client_t *c, int num, const char *fmt, ...)
{
    char head[160];
    va_list ap;

    snprintf(head, sizeof(head), ":%s %03d %s ", irc_conf(c->inst)->server_name,
             num, c->nick);
    va_start(ap, fmt);
    irc_vsend(c, head, fmt, ap);
    va_end(ap);
}

void irc_std_reply(irc_client_t *c, const char *kind, const char *cmd,
                   const char *code, const char *context,
                   const char *description)
{
    if (c->caps & IRC_CAP_STANDARD_REPLIES)
        irc_send_server(c, "%s %s %s %s%s:%s", kind, cmd, code,
                        context ? context : "", context ? " " : "",
                        description);
    else
        irc_send_server(c, "NOTICE %s :%s %s: %s", c->nick, cmd, code,
                        description);
}

void irc_err_needmore(irc_client_t *c, const char *cmd)
{
    irc_numeric(c, 461, "%s :Not enough parameters", cmd);
}

void irc_err_nosuchnick(irc_client_t *c, const char *name)
{
    irc_numeric(c, 401, "%s :No such nick/channel", name);
}

void irc_err_nosuchchannel(irc_client_t *c, const char *name)
{
    irc_numeric(c, 403, "%s :No such channel", name);
}

const char *irc_time_tag(char *buf, size_t len)
{
    struct timeval tv;
    struct tm tm;

    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
             (int)(tv.tv_usec / 1000));
    return buf;
}

/* ---- the fan-out
 * ---------------------------------------------------------------- */

enum {
    IRC_V_TIME = 1,    /* server-time */
    IRC_V_ACCOUNT = 2, /* account-tag, source logged in */
    IRC_V_TAGS = 4,    /* message-tags: msgid, client tags */
    IRC_V_COUNT = 8
};

typedef struct {
    const irc_out_t *o;
    irc_inst_t *irc;
    loom_buf_t *buf[IRC_V_COUNT];
    char prefix[IRC_NICK_BUF + IRC_USER_BUF + IRC_HOST_BUF + 4];
    char time[32];  /* "" until a variant with server-time is formatted */
    char msgid[32]; /* "" until a variant with message-tags is formatted */
    unsigned count;
} irc_fan_t;

static void irc_fan_init(irc_fan_t *f, irc_inst_t *irc, const irc_out_t *o)
{
    memset(f, 0, sizeof(*f));
    f->o = o;
    f->irc = irc;
    if (o->from)
        irc_client_prefix(o->from, f->prefix, sizeof(f->prefix));
    else
        snprintf(f->prefix, sizeof(f->prefix), "%s",
                 irc_conf(irc)->server_name);
}

/* The time and msgid tags of F, made when a variant first needs them (a
 * channel where no one asked for tags formats neither: about 4,000
 * instructions a message, mostly gmtime and printf). */
static const char *irc_fan_time(irc_fan_t *f)
{
    if (f->time[0] == '\0')
        irc_time_tag(f->time, sizeof(f->time));
    return f->time;
}

static const char *irc_fan_msgid(irc_fan_t *f)
{
    if (f->msgid[0] == '\0')
        snprintf(f->msgid, sizeof(f->msgid), "%llx-%llx",
                 (unsigned long long)f->irc->created,
                 (unsigned long long)++irc_hub(f->irc)->msg_seq);
    return f->msgid;
}

static unsigned irc_fan_variant(const irc_fan_t *f, const irc_client_t *to)
{
    unsigned v = 0;

    if (to->caps & IRC_CAP_SERVER_TIME)
        v |= IRC_V_TIME;
    if ((to->caps & IRC_CAP_ACCOUNT_TAG) && f->o->from &&
        f->o->from->account[0])
        v |= IRC_V_ACCOUNT;
    if (to->caps & IRC_CAP_MESSAGE_TAGS)
        v |= IRC_V_TAGS;
    return v;
}

static loom_buf_t *irc_fan_format(irc_fan_t *f, unsigned v)
{
    char tags[IRC_TAGS_SECTION_MAX + 1];
    size_t n = 0;
    const irc_out_t *o = f->o;

#define IRC_TAG_ADD(...)                                                       \
    do {                                                                       \
        int k_ = snprintf(tags + n, sizeof(tags) - n, __VA_ARGS__);            \
        if (k_ > 0 && (size_t)k_ < sizeof(tags) - n)                           \
            n += (size_t)k_;                                                   \
    } while (0)
    if (v & IRC_V_TIME)
        IRC_TAG_ADD("%stime=%s", n ? ";" : "", irc_fan_time(f));
    if (v & IRC_V_ACCOUNT)
        IRC_TAG_ADD("%saccount=%s", n ? ";" : "", o->from->account);
    if (v & IRC_V_TAGS) {
        IRC_TAG_ADD("%smsgid=%s", n ? ";" : "", irc_fan_msgid(f));
        if (o->client_tags && o->client_tags[0])
            IRC_TAG_ADD(";%s", o->client_tags);
    }
#undef IRC_TAG_ADD
    if (n)
        return loom_buf_printf("@%s :%s %s\r\n", tags, f->prefix, o->text);
    return loom_buf_printf(":%s %s\r\n", f->prefix, o->text);
}

/* Queue F's line to TO in TO's variant. */
static void irc_fan_to(irc_fan_t *f, irc_client_t *to)
{
    unsigned v;

    if (to->quitting)
        return;
    if ((to->caps & f->o->caps_all) != f->o->caps_all ||
        (to->caps & f->o->caps_none))
        return;
    v = irc_fan_variant(f, to);
    if (f->buf[v] == NULL)
        f->buf[v] = irc_fan_format(f, v);
    irc_client_write(to, f->buf[v]);
    f->count++;
}

static void irc_fan_done(irc_fan_t *f)
{
    for (unsigned v = 0; v < IRC_V_COUNT; v++)
        if (f->buf[v])
            loom_buf_unref(f->buf[v]);
}

/* Whether FROM gets its own line back. */
static int irc_fan_self(const irc_out_t *o)
{
    return o->from &&
           (o->self || (o->echo && (o->from->caps & IRC_CAP_ECHO_MESSAGE)));
}

unsigned irc_fanout_chan(irc_chan_t *ch, const irc_out_t *o)
{
    irc_fan_t f;

    irc_fan_init(&f, ch->inst, o);
    for (irc_member_t *m = ch->members; m; m = m->next) {
        if (m->client == o->from)
            continue;
        if (o->min_modes && m->modes < o->min_modes)
            continue;
        irc_fan_to(&f, m->client);
    }
    if (irc_fan_self(o))
        irc_fan_to(&f, o->from);
    irc_fan_done(&f);
    return f.count;
}

unsigned irc_fanout_common(irc_client_t *who, const irc_out_t *o)
{
    irc_inst_t *irc = who->inst;
    uint64_t mark = ++irc->fanout_mark;
    irc_fan_t f;

    irc_fan_init(&f, irc, o);
    who->mark = mark;
    for (irc_member_t *cm = who->channels; cm; cm = cm->cnext) {
        for (irc_member_t *m = cm->chan->members; m; m = m->next) {
            if (m->client->mark == mark)
                continue;
            m->client->mark = mark;
            irc_fan_to(&f, m->client);
        }
    }
    if (o->self)
        irc_fan_to(&f, who);
    irc_fan_done(&f);
    return f.count;
}

void irc_send_out(irc_client_t *to, const irc_out_t *o)
{
    irc_fan_t f;

    irc_fan_init(&f, to->inst, o);
    irc_fan_to(&f, to);
    irc_fan_done(&f);
}

/* ---- PRIVMSG, NOTICE, TAGMSG
 * -------------------------------------------------------- */

typedef enum { IRC_PRIVMSG, IRC_NOTICE, IRC_TAGMSG } irc_msgkind_t;

static const char *const irc_msgkind_name[] = {"PRIVMSG", "NOTICE", "TAGMSG"};

/* Deliver one message of KIND from C to TARGET. */
static void irc_msg_one(irc_client_t *c, irc_msgkind_t kind, const char *target,
                        const char *text, const irc_args_t *a)
{
    irc_inst_t *irc = c->inst;
    const char *cmd = irc_msgkind_name[kind];
    unsigned min_modes = 0;
    const char *name = target;
    char line[IRC_LINE_MAX], prefix[160];
    irc_out_t o = {0};
    size_t room;
    int quiet = kind != IRC_PRIVMSG; /* no error replies to NOTICE */

    /* STATUSMSG: "@#chan" to its ops, "+#chan" to voiced and ops */
    while (name[0] == '@' || name[0] == '+') {
        unsigned need = name[0] == '@' ? IRC_MEMBER_OP : IRC_MEMBER_VOICE;

        if (need > min_modes)
            min_modes = need;
        name++;
    }
    o.from = c;
    o.client_tags = a->client_tags;
    o.echo = 1;
    o.min_modes = min_modes;
    if (kind == IRC_TAGMSG)
        o.caps_all = IRC_CAP_MESSAGE_TAGS;
    /* the relayed line must fit 512 bytes with our prefix */
    irc_client_prefix(c, prefix, sizeof(prefix));
    room = IRC_LINE_MAX - 2 - (strlen(prefix) + 2) - strlen(cmd) -
           strlen(target) - 3;
    if (kind == IRC_TAGMSG)
        snprintf(line, sizeof(line), "TAGMSG %s", target);
    else
        snprintf(line, sizeof(line), "%s %s :%.*s", cmd, target,
                 (int)irc_utf8_cut(text, strlen(text), room), text);
    o.text = line;
    if (irc_is_channel(name, "#&")) {
        irc_chan_t *ch = irc_chan_find(irc, name);
        int num;

        if (ch == NULL) {
            if (!quiet)
                irc_err_nosuchchannel(c, name);
            return;
        }
        if ((num = irc_chan_can_send(c, ch)) != 0) {
            if (!quiet)
                irc_numeric(c, num, "%s :Cannot send to channel", ch->name);
            return;
        }
        irc_hub(irc)->stats.delivered[kind] += irc_fanout_chan(ch, &o);
        if (kind != IRC_TAGMSG && min_modes == 0)
            irc_bus_message(c, ch, text, a->client_tags);
        return;
    }
    if (min_modes) {
        if (!quiet)
            irc_err_nosuchnick(c, target);
        return;
    }
    {
        irc_client_t *to = irc_client_by_nick(irc, name);

        if (to == NULL) {
            if (!quiet)
                irc_err_nosuchnick(c, name);
            return;
        }
        o.echo = 0;
        irc_send_out(to, &o);
        irc_hub(irc)->stats.delivered[kind]++;
        if (c->caps & IRC_CAP_ECHO_MESSAGE) {
            irc_send_out(c, &o);
            irc_hub(irc)->stats.delivered[kind]++;
        }
        if (kind == IRC_PRIVMSG && to->away)
            irc_numeric(c, 301, "%s :%s", to->nick, to->away);
    }
}

static void irc_msg_cmd(irc_client_t *c, const irc_args_t *a,
                        irc_msgkind_t kind)
{
    const irc_conf_t *conf = irc_conf(c->inst);
    const char *cmd = irc_msgkind_name[kind];
    char targets[IRC_LINE_MAX], *save = NULL, *t;
    unsigned n = 0;

    if (a->nparams < 1 || a->params[0][0] == '\0') {
        if (kind != IRC_NOTICE)
            irc_numeric(c, 411, ":No recipient given (%s)", cmd);
        return;
    }
    if (kind != IRC_TAGMSG && (a->nparams < 2 || a->params[1][0] == '\0')) {
        if (kind != IRC_NOTICE)
            irc_numeric(c, 412, ":No text to send");
        return;
    }
    if (kind == IRC_TAGMSG && !(c->caps & IRC_CAP_MESSAGE_TAGS))
        return;
    irc_hub(c->inst)->stats.received[kind]++;
    snprintf(targets, sizeof(targets), "%s", a->params[0]);
    for (t = strtok_r(targets, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (++n > conf->maxtargets) {
            if (kind != IRC_NOTICE)
                irc_numeric(c, 407,
                            "%s :Too many recipients. Only %u "
                            "processed",
                            t, conf->maxtargets);
            break;
        }
        irc_msg_one(c, kind, t, kind == IRC_TAGMSG ? "" : a->params[1], a);
        if (c->quitting)
            return;
    }
}

void irc_cmd_privmsg(irc_client_t *c, const irc_args_t *a)
{
    irc_msg_cmd(c, a, IRC_PRIVMSG);
}

void irc_cmd_notice(irc_client_t *c, const irc_args_t *a)
{
    irc_msg_cmd(c, a, IRC_NOTICE);
}

void irc_cmd_tagmsg(irc_client_t *c, const irc_args_t *a)
{
    irc_msg_cmd(c, a, IRC_TAGMSG);
}
