/*
 * smtp_relay_conf.c - the outbound options of an smtp section
 * (SMTP_RELAY_OPTIONS in smtp_out.h): smarthost and its AUTH, the next
 * hops' port, the TLS policy, the resolver, timeouts and the retry
 * schedule, checked once at configure time.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtp_out.h"

int smtp_parse_duration(const char *s, uint32_t *out)
{
    static const struct {
        char unit;
        uint32_t mult;
    } units[] = {{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}};
    unsigned long long v = 0;
    size_t i = 0, u;

    if (s == NULL || !isdigit((unsigned char)s[0]))
        return LOOM_ERROR;
    for (; isdigit((unsigned char)s[i]); i++) {
        v = v * 10 + (unsigned)(s[i] - '0');
        if (v > UINT32_MAX)
            return LOOM_ERROR;
    }
    if (s[i] == '\0') {
        *out = (uint32_t)v;
        return LOOM_OK;
    }
    if (s[i + 1] != '\0')
        return LOOM_ERROR;
    for (u = 0; u < LOOM_ARRAY_LEN(units); u++) {
        if (s[i] == units[u].unit) {
            if (v * units[u].mult > UINT32_MAX)
                return LOOM_ERROR;
            *out = (uint32_t)(v * units[u].mult);
            return LOOM_OK;
        }
    }
    return LOOM_ERROR;
}

static int relay_duration(cfg_t *sec, const char *opt, uint32_t min,
                          uint32_t *out)
{
    const char *s = cfg_getstr(sec, opt);

    if (smtp_parse_duration(s, out) != LOOM_OK || *out < min) {
        loom_conf_error(sec, opt,
                        "%s: \"%s\" is not a duration of at least %us "
                        "(\"90s\", \"5m\", \"4h\", \"5d\")",
                        opt, s ? s : "", (unsigned)min);
        return LOOM_ERROR;
    }
    return LOOM_OK;
}

static const struct {
    const char *name;
    int tls;
} relay_tls_names[] = {
    {"none", SMTP_TLS_NONE},
    {"may", SMTP_TLS_MAY},
    {"must", SMTP_TLS_MUST},
};

/* "host", "host:port", "[v6]:port" or "[v6]" into RC's smarthost. */
static int relay_smarthost(cfg_t *sec, const char *s, smtp_relay_conf_t *rc)
{
    const char *colon, *host = s;
    size_t hl;
    char *end;
    long port = rc->port;

    if (s[0] == '[') {
        const char *rb = strchr(s, ']');

        if (rb == NULL || rb == s + 1)
            goto bad;
        host = s + 1;
        hl = (size_t)(rb - host);
        colon = rb[1] == ':' ? rb + 1 : NULL;
        if (rb[1] != '\0' && colon == NULL)
            goto bad;
    } else {
        colon = strrchr(s, ':');
        hl = colon ? (size_t)(colon - s) : strlen(s);
        if (colon != NULL && memchr(s, ':', hl) != NULL)
            goto bad; /* a bare IPv6 address: brackets needed */
    }
    if (hl == 0 || hl > 253)
        goto bad;
    if (colon != NULL) {
        port = strtol(colon + 1, &end, 10);
        if (colon[1] == '\0' || *end != '\0' || port < 1 || port > 65535)
            goto bad;
    }
    rc->smarthost = loom_strndup(host, hl);
    rc->smarthost_port = (int)port;
    return LOOM_OK;
bad:
    loom_conf_error(sec, "smarthost",
                    "smarthost: \"%s\" is not HOST, HOST:PORT or [ADDR]:PORT",
                    s);
    return LOOM_ERROR;
}

int smtp_relay_configure(cfg_t *sec, smtp_relay_conf_t *rc)
{
    const char *s;
    long v;
    size_t i, n;
    uint32_t t;

    memset(rc, 0, sizeof(*rc));
    v = cfg_getint(sec, "relay_port");
    if (v < 1 || v > 65535) {
        loom_conf_error(sec, "relay_port", "relay_port: %ld is not a port", v);
        goto fail;
    }
    rc->port = (int)v;
    s = cfg_getstr(sec, "smarthost");
    if (s != NULL && relay_smarthost(sec, s, rc) != LOOM_OK)
        goto fail;
    s = cfg_getstr(sec, "smarthost_user");
    if (s != NULL) {
        const char *pw = cfg_getstr(sec, "smarthost_password");

        if (rc->smarthost == NULL) {
            loom_conf_error(sec, "smarthost_user",
                            "smarthost_user needs a smarthost");
            goto fail;
        }
        if (pw == NULL || strlen(s) > 255 || strlen(pw) > 255 || !*s) {
            loom_conf_error(sec, "smarthost_user",
                            "smarthost_user needs smarthost_password "
                            "(each 1-255 bytes)");
            goto fail;
        }
        rc->auth_user = loom_strdup(s);
        rc->auth_pass = loom_strdup(pw);
    } else if (cfg_getstr(sec, "smarthost_password") != NULL) {
        loom_conf_error(sec, "smarthost_password",
                        "smarthost_password without smarthost_user");
        goto fail;
    }
    s = cfg_getstr(sec, "relay_tls");
    rc->tls = -1;
    for (i = 0; s && i < LOOM_ARRAY_LEN(relay_tls_names); i++)
        if (strcmp(s, relay_tls_names[i].name) == 0)
            rc->tls = relay_tls_names[i].tls;
    if (rc->tls < 0) {
        loom_conf_error(sec, "relay_tls",
                        "relay_tls: \"%s\" is not none, may or must",
                        s ? s : "");
        goto fail;
    }
    n = cfg_size(sec, "relay_tls_must");
    rc->tls_must = loom_calloc(n + 1, sizeof(char *));
    for (i = 0; i < n; i++) {
        char *d = loom_strdup(cfg_getnstr(sec, "relay_tls_must", (unsigned)i));
        char *p;

        for (p = d; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        rc->tls_must[rc->ntls_must++] = d;
        if (d[0] == '\0' || strchr(d, '@') != NULL) {
            loom_conf_error(sec, "relay_tls_must",
                            "relay_tls_must: \"%s\" is not a domain", d);
            goto fail;
        }
    }
    s = cfg_getstr(sec, "relay_tls_ca");
    if (s != NULL)
        rc->tls_ca = loom_conf_path(sec, "relay_tls_ca", s);
    s = cfg_getstr(sec, "relay_dns");
    if (s != NULL)
        rc->dns = loom_strdup(s);
    if (relay_duration(sec, "relay_timeout", 1, &t) != LOOM_OK)
        goto fail;
    rc->timeout_ms = t > 3600 ? 3600000u : t * 1000u;
    v = cfg_getint(sec, "relay_concurrency");
    if (v < 1 || v > 1000) {
        loom_conf_error(sec, "relay_concurrency",
                        "relay_concurrency: %ld is not 1-1000", v);
        goto fail;
    }
    rc->concurrency = (unsigned)v;
    rc->retry.initial = SMTP_RETRY_DEFAULT_INITIAL;
    rc->retry.max = SMTP_RETRY_DEFAULT_MAX;
    rc->retry.give_up = SMTP_RETRY_DEFAULT_GIVE_UP;
    if (relay_duration(sec, "queue_retry", 1, &rc->retry.initial) != LOOM_OK ||
        relay_duration(sec, "queue_retry_max", 1, &rc->retry.max) != LOOM_OK ||
        relay_duration(sec, "queue_lifetime", 0, &rc->retry.give_up) != LOOM_OK)
        goto fail;
    rc->hold = cfg_getbool(sec, "relay_hold") ? 1 : 0;
    if (rc->retry.max < rc->retry.initial) {
        loom_conf_error(sec, "queue_retry_max",
                        "queue_retry_max is shorter than queue_retry");
        goto fail;
    }
    return LOOM_OK;
fail:
    smtp_relay_conf_clear(rc);
    return LOOM_ERROR;
}

void smtp_relay_conf_clear(smtp_relay_conf_t *rc)
{
    size_t i;

    free(rc->smarthost);
    if (rc->auth_pass != NULL)
        memset(rc->auth_pass, 0, strlen(rc->auth_pass));
    free(rc->auth_user);
    free(rc->auth_pass);
    for (i = 0; i < rc->ntls_must; i++)
        free(rc->tls_must[i]);
    free(rc->tls_must);
    free(rc->tls_ca);
    free(rc->dns);
    memset(rc, 0, sizeof(*rc));
}
