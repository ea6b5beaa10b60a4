/*
 * http_proxy_conf.c - the proxy's config glue: `upstream` sections and the
 * proxy options of a location, validated into http_ups_conf_t /
 * http_proxy_loc_t (http_upstream.h).  Runtime state lives elsewhere
 * (http_upstream.c) and is brought in line at start and reload.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_proxy.h"
#include "http_upstream.h"

cfg_opt_t http_upstream_opts[] = {CFG_STR_LIST("server", "{}", CFGF_NONE),
                                  CFG_STR("balance", "round_robin", CFGF_NONE),
                                  CFG_INT("keepalive", 32, CFGF_NONE),
                                  CFG_INT("keepalive_timeout", 60, CFGF_NONE),
                                  CFG_INT("max_fails", 1, CFGF_NONE),
                                  CFG_INT("fail_timeout", 10, CFGF_NONE),
                                  CFG_INT("connect_timeout", 5, CFGF_NONE),
                                  CFG_INT("read_timeout", 60, CFGF_NONE),
                                  CFG_INT("write_timeout", 60, CFGF_NONE),
                                  CFG_INT("resolve_ttl", 60, CFGF_NONE),
                                  CFG_END()};

/* The numeric options of an upstream: name, range, field. */
static const struct {
    const char *name;
    long lo, hi;
    size_t off;
} ups_numbers[] = {
    {"keepalive", 0, 65536, offsetof(http_ups_settings_t, keepalive)},
    {"keepalive_timeout", 1, 3600,
     offsetof(http_ups_settings_t, keepalive_timeout)},
    {"max_fails", 0, 1000, offsetof(http_ups_settings_t, max_fails)},
    {"fail_timeout", 1, 3600, offsetof(http_ups_settings_t, fail_timeout)},
    {"connect_timeout", 1, 3600,
     offsetof(http_ups_settings_t, connect_timeout)},
    {"read_timeout", 1, 86400, offsetof(http_ups_settings_t, read_timeout)},
    {"write_timeout", 1, 86400, offsetof(http_ups_settings_t, write_timeout)},
    {"resolve_ttl", 1, 86400, offsetof(http_ups_settings_t, resolve_ttl)},
};

static void ups_conf_free(http_ups_conf_t *uc)
{
    size_t i;

    for (i = 0; i < uc->nservers; i++)
        free(uc->servers[i]);
    free(uc->servers);
    free(uc->specs);
    free(uc->name);
    free(uc);
}

/* Append UC to HC's list (config order). */
static void ups_conf_add(http_conf_t *hc, http_ups_conf_t *uc)
{
    http_ups_conf_t **pp = &hc->upstreams->list;

    while (*pp)
        pp = &(*pp)->next;
    *pp = uc;
}

static int ups_conf_build(cfg_t *us, http_ups_conf_t *uc)
{
    const char *bal = cfg_getstr(us, "balance");
    size_t i, n = cfg_size(us, "server");
    char err[320];

    http_ups_settings_default(&uc->set);
    if (n == 0) {
        loom_conf_error(us, NULL, "upstream \"%s\" has no server",
                        cfg_title(us));
        return LOOM_ERROR;
    }
    uc->servers = loom_calloc(n, sizeof(char *));
    uc->specs = loom_calloc(n, sizeof(*uc->specs));
    for (i = 0; i < n; i++) {
        const char *s = cfg_getnstr(us, "server", (unsigned)i);

        if (loom_connect_parse(s, &uc->specs[i], err, sizeof(err)) != 0) {
            loom_conf_error(us, "server", "upstream \"%s\": %s", cfg_title(us),
                            err);
            return LOOM_ERROR;
        }
        uc->servers[uc->nservers++] = loom_strdup(s);
    }
    if (strcmp(bal, "round_robin") == 0) {
        uc->set.balance = HTTP_UPS_ROUND_ROBIN;
    } else if (strcmp(bal, "least_conn") == 0) {
        uc->set.balance = HTTP_UPS_LEAST_CONN;
    } else {
        loom_conf_error(us, "balance",
                        "balance must be \"round_robin\" or "
                        "\"least_conn\", not \"%s\"",
                        bal);
        return LOOM_ERROR;
    }
    for (i = 0; i < LOOM_ARRAY_LEN(ups_numbers); i++) {
        long v = cfg_getint(us, ups_numbers[i].name);

        if (v < ups_numbers[i].lo || v > ups_numbers[i].hi) {
            loom_conf_error(us, ups_numbers[i].name,
                            "%s must be %ld-%ld, "
                            "not %ld",
                            ups_numbers[i].name, ups_numbers[i].lo,
                            ups_numbers[i].hi, v);
            return LOOM_ERROR;
        }
        *(unsigned *)((char *)&uc->set + ups_numbers[i].off) = (unsigned)v;
    }
    return LOOM_OK;
}

int http_proxy_conf(cfg_t *sec, http_conf_t *hc)
{
    size_t i, n = cfg_size(sec, "upstream");

    hc->upstreams = loom_calloc(1, sizeof(*hc->upstreams));
    for (i = 0; i < n; i++) {
        cfg_t *us = cfg_getnsec(sec, "upstream", (unsigned)i);
        http_ups_conf_t *uc = loom_calloc(1, sizeof(*uc));

        uc->name = loom_strdup(cfg_title(us));
        ups_conf_add(hc, uc);
        if (uc->name[0] == '\0') {
            loom_conf_error(us, NULL, "an upstream needs a name");
            return LOOM_ERROR;
        }
        if (ups_conf_build(us, uc) != LOOM_OK)
            return LOOM_ERROR;
    }
    return LOOM_OK;
}

/* A Host value to send: printable ASCII without spaces. */
static int host_value_ok(const char *s)
{
    if (*s == '\0')
        return 0;
    for (; *s; s++)
        if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
            return 0;
    return 1;
}

int http_proxy_location(cfg_t *ls, http_location_t *l, http_conf_t *hc)
{
    const char *pass = cfg_getstr(ls, "proxy_pass");
    const char *prefix = cfg_getstr(ls, "proxy_prefix");
    const char *host = cfg_getstr(ls, "proxy_host");
    http_ups_conf_t *uc = NULL;
    struct http_proxy_loc_s *pl;
    char err[320];

    if (pass == NULL || pass[0] == '\0') {
        loom_conf_error(ls, "proxy_pass",
                        "location \"%s\": the proxy "
                        "handler needs proxy_pass (an upstream's name or a "
                        "connect endpoint)",
                        cfg_title(ls));
        return LOOM_ERROR;
    }
    if (prefix && prefix[0] != '/') {
        loom_conf_error(ls, "proxy_prefix",
                        "proxy_prefix \"%s\" must start "
                        "with \"/\"",
                        prefix);
        return LOOM_ERROR;
    }
    if (host && !host_value_ok(host)) {
        loom_conf_error(ls, "proxy_host",
                        "proxy_host \"%s\" must be a host "
                        "name (printable, no spaces)",
                        host);
        return LOOM_ERROR;
    }
    if (hc->upstreams == NULL)
        hc->upstreams = loom_calloc(1, sizeof(*hc->upstreams));
    for (uc = hc->upstreams->list; uc; uc = uc->next)
        if (!uc->anon && strcmp(uc->name, pass) == 0)
            break;
    if (uc == NULL) { /* an endpoint: one anonymous upstream per string */
        loom_connect_spec_t spec;

        if (loom_connect_parse(pass, &spec, err, sizeof(err)) != 0) {
            loom_conf_error(ls, "proxy_pass",
                            "proxy_pass \"%s\" is neither "
                            "an upstream of this instance nor a connect "
                            "endpoint (%s)",
                            pass, err);
            return LOOM_ERROR;
        }
        for (uc = hc->upstreams->list; uc; uc = uc->next)
            if (uc->anon && strcmp(uc->name, pass) == 0)
                break;
        if (uc == NULL) {
            uc = loom_calloc(1, sizeof(*uc));
            uc->anon = 1;
            uc->name = loom_strdup(pass);
            http_ups_settings_default(&uc->set);
            uc->servers = loom_calloc(1, sizeof(char *));
            uc->servers[0] = loom_strdup(pass);
            uc->specs = loom_calloc(1, sizeof(*uc->specs));
            uc->specs[0] = spec;
            uc->nservers = 1;
            ups_conf_add(hc, uc);
        }
    }
    pl = loom_calloc(1, sizeof(*pl));
    pl->ups = uc;
    pl->prefix = prefix ? loom_strdup(prefix) : NULL;
    pl->host = host ? loom_strdup(host) : NULL;
    l->proxy = pl;
    return LOOM_OK;
}

void http_proxy_location_free(http_location_t *l)
{
    if (l == NULL || l->proxy == NULL)
        return;
    free(l->proxy->prefix);
    free(l->proxy->host);
    free(l->proxy);
    l->proxy = NULL;
}

void http_proxy_conf_free(http_conf_t *hc)
{
    http_ups_conf_t *uc, *next;

    if (hc == NULL || hc->upstreams == NULL)
        return;
    for (uc = hc->upstreams->list; uc; uc = next) {
        next = uc->next;
        ups_conf_free(uc);
    }
    free(hc->upstreams);
    hc->upstreams = NULL;
}
