/*
 * irc_conf.c - the irc module's options and their validation: names,
 * the MOTD file, the server password, the case mapping, limits, flood
 * control, timeouts, operators, accounts, the service user and what is
 * published on the bus.
 *
 * Every problem is one "FILE:LINE: message" and the configuration is
 * refused.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "irc.h"

/* Largest MOTD file read. */
#define IRC_MOTD_MAX (64u * 1024)

static cfg_opt_t irc_oper_opts[] = {CFG_STR("password", NULL, CFGF_NONE),
                                    CFG_STR("mask", "*", CFGF_NONE), CFG_END()};

cfg_opt_t irc_options[] = {
    CFG_STR("server_name", "irc.example.test", CFGF_NONE),
    CFG_STR("network", "loom", CFGF_NONE),
    CFG_STR("motd", NULL, CFGF_NONE),
    CFG_STR("password", NULL, CFGF_NONE),
    CFG_STR("info", "loom IRC server", CFGF_NONE),
    CFG_STR("admin_email", NULL, CFGF_NONE),
    CFG_STR("casemapping", "rfc1459", CFGF_NONE),
    CFG_INT("nicklen", 30, CFGF_NONE),
    CFG_INT("channellen", 50, CFGF_NONE),
    CFG_INT("topiclen", 390, CFGF_NONE),
    CFG_INT("kicklen", 255, CFGF_NONE),
    CFG_INT("awaylen", 200, CFGF_NONE),
    CFG_INT("maxchannels", 50, CFGF_NONE),
    CFG_INT("maxtargets", 4, CFGF_NONE),
    CFG_INT("maxlist", 100, CFGF_NONE),
    CFG_INT("modes", 4, CFGF_NONE),
    CFG_INT("max_clients", 100000, CFGF_NONE),
    CFG_INT("clients_per_ip", 50, CFGF_NONE),
    CFG_STR("sendq", "1M", CFGF_NONE),
    CFG_INT("flood_burst", 10, CFGF_NONE),
    CFG_INT("flood_rate", 10, CFGF_NONE),
    CFG_INT("flood_queue", 30, CFGF_NONE),
    CFG_INT("ping_interval", 120, CFGF_NONE),
    CFG_INT("ping_timeout", 60, CFGF_NONE),
    CFG_INT("register_timeout", 60, CFGF_NONE),
    CFG_INT("whowas", 1000, CFGF_NONE),
    CFG_SEC("oper", irc_oper_opts,
            CFGF_MULTI | CFGF_TITLE | CFGF_NO_TITLE_DUPES),
    CFG_STR("accounts_file", NULL, CFGF_NONE),
    CFG_BOOL("reserve_nicks", cfg_true, CFGF_NONE),
    CFG_STR("service_nick", NULL, CFGF_NONE),
    CFG_STR_LIST("publish", "{}", CFGF_NONE),
    CFG_END()};

/* The integer limits: option, field, smallest and largest value. */
typedef struct {
    const char *opt;
    size_t off;
    long min, max;
} irc_limit_t;

#define IRC_LIM(name, lo, hi)                                                  \
    {                                                                          \
#name, offsetof(irc_conf_t, name), lo, hi                              \
    }

static const irc_limit_t irc_limits[] = {
    IRC_LIM(nicklen, 1, IRC_NICK_BUF - 1),
    IRC_LIM(channellen, 2, IRC_CHAN_BUF - 1),
    IRC_LIM(topiclen, 1, 400),
    IRC_LIM(kicklen, 1, 400),
    IRC_LIM(awaylen, 1, 400),
    IRC_LIM(maxchannels, 1, 10000),
    IRC_LIM(maxtargets, 1, 100),
    IRC_LIM(maxlist, 1, 10000),
    IRC_LIM(modes, 1, 100),
    IRC_LIM(max_clients, 1, 10000000),
    IRC_LIM(clients_per_ip, 1, 10000000),
    IRC_LIM(flood_burst, 1, 10000),
    IRC_LIM(flood_rate, 1, 100000),
    IRC_LIM(flood_queue, 0, 10000),
    IRC_LIM(ping_interval, 1, 86400),
    IRC_LIM(ping_timeout, 1, 86400),
    IRC_LIM(register_timeout, 1, 86400),
    IRC_LIM(whowas, 0, 1000000),
};

static const struct {
    const char *name;
    irc_casemap_t map;
} irc_casemaps[] = {{"rfc1459", IRC_CASEMAP_RFC1459},
                    {"ascii", IRC_CASEMAP_ASCII},
                    {"strict-rfc1459", IRC_CASEMAP_STRICT_RFC1459}};

/* A server name: letters, digits, '-', '.', at least one '.', <= 63. */
static int irc_server_name_ok(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > 63 || strchr(s, '.') == NULL || s[0] == '.')
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
              (*s >= '0' && *s <= '9') || *s == '-' || *s == '.'))
            return 0;
    return 1;
}

/* A word usable in a reply: printable, no space, not empty. */
static int irc_word_ok(const char *s, size_t max)
{
    size_t n = strlen(s);

    if (n == 0 || n > max)
        return 0;
    for (; *s; s++)
        if ((unsigned char)*s <= ' ' || *s == 0x7f)
            return 0;
    return 1;
}

/* Text that may go after a ':' in a reply: no CR, LF, NUL. */
static int irc_text_ok(const char *s)
{
    return strpbrk(s, "\r\n") == NULL;
}

static int irc_conf_limits(cfg_t *sec, irc_conf_t *c)
{
    for (size_t i = 0; i < LOOM_ARRAY_LEN(irc_limits); i++) {
        const irc_limit_t *l = &irc_limits[i];
        long v = cfg_getint(sec, l->opt);

        if (v < l->min || v > l->max) {
            loom_conf_error(sec, l->opt, "%s must be %ld..%ld, not %ld", l->opt,
                            l->min, l->max, v);
            return LOOM_ERROR;
        }
        *(unsigned *)(void *)((char *)c + l->off) = (unsigned)v;
    }
    if (loom_conf_size(sec, "sendq", &c->sendq) != LOOM_OK)
        return LOOM_ERROR;
    if (c->sendq < 4096) {
        loom_conf_error(sec, "sendq", "sendq must be at least 4096 bytes");
        return LOOM_ERROR;
    }
    return LOOM_OK;
}

static int irc_conf_motd(cfg_t *sec, irc_conf_t *c)
{
    const char *motd = cfg_getstr(sec, "motd");
    char *path;
    size_t len;

    if (motd == NULL)
        return LOOM_OK;
    path = loom_conf_path(sec, "motd", motd);
    c->motd = loom_read_file(path, IRC_MOTD_MAX, &len);
    if (c->motd == NULL) {
        loom_conf_error(sec, "motd", "motd %s: %s", path,
                        errno == EFBIG ? "larger than 64 KiB"
                                       : strerror(errno));
        free(path);
        return LOOM_ERROR;
    }
    free(path);
    if (memchr(c->motd, '\0', len)) {
        loom_conf_error(sec, "motd", "motd %s holds a NUL byte", motd);
        return LOOM_ERROR;
    }
    return LOOM_OK;
}

static int irc_conf_opers(cfg_t *sec, irc_conf_t *c)
{
    unsigned n = cfg_size(sec, "oper");

    c->opers = loom_calloc(n ? n : 1, sizeof(*c->opers));
    for (unsigned i = 0; i < n; i++) {
        cfg_t *o = cfg_getnsec(sec, "oper", i);
        const char *name = cfg_title(o), *pw = cfg_getstr(o, "password");
        const char *mask = cfg_getstr(o, "mask");

        if (!irc_word_ok(name, 63)) {
            loom_conf_error(o, NULL, "oper \"%s\": not a valid name", name);
            return LOOM_ERROR;
        }
        if (pw == NULL || pw[0] != '$' || strlen(pw) < 8) {
            loom_conf_error(o, "password",
                            "oper \"%s\": password must be a crypt(3) hash "
                            "($y$, $6$ or $5$; see mkpasswd(1))",
                            name);
            return LOOM_ERROR;
        }
        if (!irc_word_ok(mask, 255)) {
            loom_conf_error(o, "mask", "oper \"%s\": bad mask \"%s\"", name,
                            mask);
            return LOOM_ERROR;
        }
        c->opers[i].name = loom_strdup(name);
        c->opers[i].hash = loom_strdup(pw);
        c->opers[i].mask = loom_strdup(mask);
        c->nopers++;
    }
    return LOOM_OK;
}

/* publish = {"CHANNEL", "CHANNEL TOPIC"}: topic "message" by default. */
static int irc_conf_publish(cfg_t *sec, irc_conf_t *c)
{
    unsigned n = cfg_size(sec, "publish");

    c->publish = loom_calloc(n ? n : 1, sizeof(char *));
    c->publish_topic = loom_calloc(n ? n : 1, sizeof(char *));
    for (unsigned i = 0; i < n; i++) {
        const char *v = cfg_getnstr(sec, "publish", i), *topic = "message";
        char ch[IRC_CHAN_BUF], buf[IRC_CHAN_BUF];
        size_t cl = strcspn(v, " ");

        if (cl >= sizeof(ch)) {
            loom_conf_error(sec, "publish", "publish: \"%s\" is not a channel",
                            v);
            return LOOM_ERROR;
        }
        memcpy(ch, v, cl);
        ch[cl] = '\0';
        if (v[cl] == ' ') {
            topic = v + cl;
            while (*topic == ' ')
                topic++;
        }
        if (!irc_chan_name_ok(c, ch)) {
            loom_conf_error(sec, "publish", "publish: \"%s\" is not a channel",
                            ch);
            return LOOM_ERROR;
        }
        if (!irc_word_ok(topic, 63) || strchr(topic, ':')) {
            loom_conf_error(sec, "publish",
                            "publish: \"%s\": the topic must be one word "
                            "without ':'",
                            v);
            return LOOM_ERROR;
        }
        c->publish[c->npublish] =
            loom_strdup(irc_fold_map(c->casemap, ch, buf, sizeof(buf)));
        c->publish_topic[c->npublish++] = loom_strdup(topic);
    }
    return LOOM_OK;
}

int irc_configure(cfg_t *sec, void **conf)
{
    irc_conf_t *c = loom_calloc(1, sizeof(*c));
    const char *s;
    size_t i;

    *conf = c;
    s = cfg_getstr(sec, "server_name");
    if (!irc_server_name_ok(s)) {
        loom_conf_error(sec, "server_name",
                        "server_name \"%s\" is not a host name with a dot", s);
        return LOOM_ERROR;
    }
    c->server_name = loom_strdup(s);
    s = cfg_getstr(sec, "network");
    if (!irc_word_ok(s, 63)) {
        loom_conf_error(sec, "network", "network \"%s\" is not one word", s);
        return LOOM_ERROR;
    }
    c->network = loom_strdup(s);
    s = cfg_getstr(sec, "info");
    if (!irc_text_ok(s)) {
        loom_conf_error(sec, "info", "info holds a line break");
        return LOOM_ERROR;
    }
    c->info = loom_strdup(s);
    if ((s = cfg_getstr(sec, "admin_email")) != NULL) {
        if (!irc_word_ok(s, 255)) {
            loom_conf_error(sec, "admin_email", "bad admin_email \"%s\"", s);
            return LOOM_ERROR;
        }
        c->admin_email = loom_strdup(s);
    }
    if ((s = cfg_getstr(sec, "password")) != NULL) {
        if (!irc_word_ok(s, 255)) {
            loom_conf_error(sec, "password",
                            "password must be one word without spaces");
            return LOOM_ERROR;
        }
        c->password = loom_strdup(s);
    }
    s = cfg_getstr(sec, "casemapping");
    for (i = 0; i < LOOM_ARRAY_LEN(irc_casemaps); i++)
        if (strcmp(s, irc_casemaps[i].name) == 0)
            break;
    if (i == LOOM_ARRAY_LEN(irc_casemaps)) {
        loom_conf_error(sec, "casemapping",
                        "casemapping must be rfc1459, ascii or "
                        "strict-rfc1459, not \"%s\"",
                        s);
        return LOOM_ERROR;
    }
    c->casemap = irc_casemaps[i].map;
    if (irc_conf_limits(sec, c) || irc_conf_motd(sec, c) ||
        irc_conf_opers(sec, c) || irc_conf_publish(sec, c))
        return LOOM_ERROR;
    c->reserve_nicks = cfg_getbool(sec, "reserve_nicks") ? 1 : 0;
    if ((s = cfg_getstr(sec, "service_nick")) != NULL) {
        if (!irc_nick_ok(c, s)) {
            loom_conf_error(sec, "service_nick",
                            "service_nick \"%s\" is not a valid nick", s);
            return LOOM_ERROR;
        }
        c->service_nick = loom_strdup(s);
    }
    if ((s = cfg_getstr(sec, "accounts_file")) != NULL) {
        c->accounts_file = loom_conf_path(sec, "accounts_file", s);
        if (irc_conf_accounts(c) != LOOM_OK)
            return LOOM_ERROR;
    }
    return LOOM_OK;
}

void irc_conf_free(void *conf)
{
    irc_conf_t *c = conf;

    if (c == NULL)
        return;
    free(c->server_name);
    free(c->network);
    free(c->motd);
    free(c->password);
    free(c->info);
    free(c->admin_email);
    for (size_t i = 0; i < c->nopers; i++) {
        free(c->opers[i].name);
        free(c->opers[i].hash);
        free(c->opers[i].mask);
    }
    free(c->opers);
    irc_conf_accounts_free(c);
    free(c->accounts_file);
    free(c->service_nick);
    for (size_t i = 0; i < c->npublish; i++) {
        free(c->publish[i]);
        free(c->publish_topic[i]);
    }
    free(c->publish);
    free(c->publish_topic);
    free(c);
}
