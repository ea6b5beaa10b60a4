/*
 * irc_bus.c - the irc module on the bus.
 *
 * Source irc:INSTANCE:TOPIC: a PRIVMSG or NOTICE to a channel listed in
 * `publish` ("CHANNEL" on topic "message", "CHANNEL TOPIC" on a topic of
 * its own) with the fields channel, nick, account, text, tags (the
 * client-only tags as received, escaped), time (server-time format) and
 * oper ("yes" when the sender is an IRC operator).  A text of the form
 * "!WORD ARG REST" adds command (WORD), command_arg (ARG) and
 * command_text (REST), so that a route can act on bot-style commands.
 *
 * Action irc:INSTANCE:say (channel, text): the service user
 * (`service_nick`) joins CHANNEL if it is not there and says TEXT in
 * PRIVMSGs of at most 400 bytes each, cut on UTF-8 boundaries, with
 * control bytes removed (CR, LF and TAB become spaces).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "irc.h"

/* Most bytes of text per PRIVMSG the service user sends. */
#define IRC_SAY_CHUNK 400

/* The topic CH is published on, or NULL. */
static const char *irc_bus_topic(const irc_conf_t *conf, const irc_chan_t *ch)
{
    char folded[IRC_CHAN_BUF];

    irc_fold_map(conf->casemap, ch->name, folded, sizeof(folded));
    for (size_t i = 0; i < conf->npublish; i++)
        if (strcmp(conf->publish[i], folded) == 0)
            return conf->publish_topic[i];
    return NULL;
}

/* Add the command fields of a "!WORD ARG REST" text. */
static void irc_bus_command(loom_msg_t *m, const char *text)
{
    const char *w = text + 1, *arg, *rest;
    size_t wl = strcspn(w, " "), al;

    if (wl == 0)
        return;
    loom_msg_add(m, "command", 7, w, wl);
    arg = w + wl;
    while (*arg == ' ')
        arg++;
    al = strcspn(arg, " ");
    loom_msg_add(m, "command_arg", 11, arg, al);
    rest = arg + al;
    while (*rest == ' ')
        rest++;
    loom_msg_add(m, "command_text", 12, rest, strlen(rest));
}

void irc_bus_message(irc_client_t *from, irc_chan_t *ch, const char *text,
                     const char *client_tags)
{
    irc_inst_t *irc = from->inst;
    const irc_conf_t *conf = irc_conf(irc);
    const char *topic = irc_bus_topic(conf, ch);
    char when[32];
    loom_msg_t *m;

    if (topic == NULL || !loom_bus_wanted(irc->inst, topic))
        return;
    m = loom_msg_new(topic);
    loom_msg_add(m, "channel", 7, ch->name, strlen(ch->name));
    loom_msg_add(m, "nick", 4, from->nick, strlen(from->nick));
    loom_msg_add(m, "account", 7, from->account, strlen(from->account));
    loom_msg_add(m, "text", 4, text, strlen(text));
    loom_msg_add(m, "tags", 4, client_tags ? client_tags : "",
                 client_tags ? strlen(client_tags) : 0);
    irc_time_tag(when, sizeof(when));
    loom_msg_add(m, "time", 4, when, strlen(when));
    loom_msg_addf(m, "oper", "%s",
                  (from->umodes & IRC_UMODE_OPER) ? "yes" : "no");
    if (text[0] == '!')
        irc_bus_command(m, text);
    loom_bus_publish(irc->inst, m, NULL);
}

/* TEXT with control bytes removed (CR, LF, TAB as spaces), a heap copy. */
static char *irc_say_clean(const char *text, size_t len)
{
    char *out = loom_malloc(len + 1);
    size_t n = 0;

    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)text[i];

        if (ch == '\r' || ch == '\n' || ch == '\t')
            ch = ' ';
        else if (ch < 0x20 || ch == 0x7f)
            continue;
        out[n++] = (char)ch;
    }
    out[n] = '\0';
    return out;
}

static void irc_act_say(loom_instance_t *inst, loom_action_call_t *call)
{
    irc_inst_t *irc = irc_inst(inst);
    const char *chan = loom_action_param(call, "channel", NULL);
    size_t tlen = 0;
    const char *text = loom_action_param(call, "text", &tlen);
    irc_client_t *svc = irc ? irc->service : NULL;
    irc_chan_t *ch;
    char *clean, line[IRC_SAY_CHUNK + 80];
    size_t off, len;

    if (svc == NULL) {
        loom_action_done(call, LOOM_ACT_FAILED,
                         "the irc instance has no service_nick");
        return;
    }
    if (chan == NULL || !irc_chan_name_ok(irc_conf(irc), chan)) {
        loom_action_done(call, LOOM_ACT_FAILED, "channel is not a channel");
        return;
    }
    ch = irc_chan_find(irc, chan);
    if (ch == NULL || irc_member_find(ch, svc) == NULL) {
        if (irc_chan_join(svc, chan, NULL, 1) != 0 ||
            (ch = irc_chan_find(irc, chan)) == NULL) {
            loom_action_done(call, LOOM_ACT_FAILED,
                             "the service user cannot join the channel");
            return;
        }
    }
    clean = irc_say_clean(text ? text : "", tlen);
    len = strlen(clean);
    for (off = 0; off < len;) {
        size_t n = irc_utf8_cut(clean + off, len - off, IRC_SAY_CHUNK);
        irc_out_t o = {0};
        char piece[IRC_SAY_CHUNK + 1];

        if (n == 0) /* a sequence longer than the chunk: take one byte */
            n = 1;
        memcpy(piece, clean + off, n);
        piece[n] = '\0';
        off += n;
        while (off < len && clean[off] == ' ' && n == IRC_SAY_CHUNK)
            off++;
        if (piece[0] == '\0')
            continue;
        snprintf(line, sizeof(line), "PRIVMSG %s :%s", ch->name, piece);
        o.from = svc;
        o.text = line;
        irc_fanout_chan(ch, &o);
        irc_bus_message(svc, ch, piece, NULL);
    }
    free(clean);
    loom_action_done(call, LOOM_ACT_DONE, NULL);
}

static const loom_action_param_t irc_say_params[] = {
    {"channel", 1}, {"text", 1}, {NULL, 0}};

const loom_action_t irc_actions[] = {
    {"say", irc_say_params, irc_act_say},
    {NULL, NULL, NULL},
};
