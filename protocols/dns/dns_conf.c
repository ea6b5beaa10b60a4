/*
 * dns_conf.c - the dns module's options, their validation, and the zone
 * files they name (a broken zone fails the start or the reload).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dns.h"

#define LOOPBACK "{\"127.0.0.0/8\", \"::1\"}"

static cfg_opt_t zone_opts[] = {CFG_STR("file", NULL, CFGF_NONE),
                                CFG_STR_LIST("allow_transfer", "{}", CFGF_NONE),
                                CFG_STR_LIST("allow_update", "{}", CFGF_NONE),
                                CFG_STR_LIST("notify", "{}", CFGF_NONE),
                                CFG_BOOL("dynamic", cfg_false, CFGF_NONE),
                                CFG_STR("journal", NULL, CFGF_NONE),
                                CFG_INT("journal_max", 1048576, CFGF_NONE),
                                CFG_END()};

static cfg_opt_t key_opts[] = {CFG_STR("algorithm", "hmac-sha256", CFGF_NONE),
                               CFG_STR("secret", NULL, CFGF_NONE), CFG_END()};

static cfg_opt_t forward_opts[] = {CFG_STR_LIST("servers", "{}", CFGF_NONE),
                                   CFG_STR_LIST("allow", LOOPBACK, CFGF_NONE),
                                   CFG_INT("timeout", 2, CFGF_NONE), CFG_END()};

static cfg_opt_t rrl_opts[] = {CFG_INT("rate", 200, CFGF_NONE),
                               CFG_INT("slip", 2, CFGF_NONE),
                               CFG_INT("ipv4_prefix", 24, CFGF_NONE),
                               CFG_INT("ipv6_prefix", 56, CFGF_NONE),
                               CFG_STR_LIST("exempt", LOOPBACK, CFGF_NONE),
                               CFG_END()};

cfg_opt_t dns_conf_opts[] = {
    CFG_INT("edns_size", 1232, CFGF_NONE),
    CFG_INT("tcp_per_client", 16, CFGF_NONE),
    CFG_STR("version", NULL, CFGF_NONE),
    CFG_STR("identity", NULL, CFGF_NONE),
    CFG_STR_LIST("stats_allow", LOOPBACK, CFGF_NONE),
    CFG_SEC("key", key_opts, CFGF_MULTI | CFGF_TITLE | CFGF_NO_TITLE_DUPES),
    CFG_STR("state_dir", NULL, CFGF_NONE),
    CFG_SEC("zone", zone_opts, CFGF_MULTI | CFGF_TITLE | CFGF_NO_TITLE_DUPES),
    CFG_SEC("forward", forward_opts, CFGF_NONE),
    CFG_SEC("rrl", rrl_opts, CFGF_NONE),
    CFG_END()};

int dns_net_parse(const char *s, dns_net_t *n)
{
    char buf[64], *slash, *end;
    unsigned long bits;

    if (strlen(s) >= sizeof(buf))
        return -1;
    strcpy(buf, s);
    memset(n, 0, sizeof(*n));
    if ((slash = strchr(buf, '/')) != NULL)
        *slash++ = '\0';
    if (inet_pton(AF_INET, buf, n->addr) == 1) {
        n->family = AF_INET;
        n->prefix = 32;
    } else if (inet_pton(AF_INET6, buf, n->addr) == 1) {
        n->family = AF_INET6;
        n->prefix = 128;
    } else {
        return -1;
    }
    if (slash) {
        if (*slash < '0' || *slash > '9')
            return -1;
        bits = strtoul(slash, &end, 10);
        if (*end || bits > n->prefix)
            return -1;
        n->prefix = (unsigned)bits;
    }
    return 0;
}

static int prefix_match(const uint8_t *a, const uint8_t *b, unsigned bits)
{
    unsigned bytes = bits / 8, rest = bits % 8;

    if (memcmp(a, b, bytes) != 0)
        return 0;
    if (rest) {
        uint8_t mask = (uint8_t)(0xff << (8 - rest));

        return (a[bytes] & mask) == (b[bytes] & mask);
    }
    return 1;
}

const uint8_t *dns_addr_bytes(const struct sockaddr *sa, int *family)
{
    const uint8_t *addr;

    *family = sa->sa_family;
    if (sa->sa_family == AF_INET)
        return (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr;
    if (sa->sa_family != AF_INET6)
        return NULL;
    addr = (const uint8_t *)&((const struct sockaddr_in6 *)sa)->sin6_addr;
    if (IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)addr)) {
        *family = AF_INET;
        return addr + 12;
    }
    return addr;
}

int dns_acl_match(const dns_acl_t *acl, const struct sockaddr *sa)
{
    int family;
    const uint8_t *addr = dns_addr_bytes(sa, &family);

    if (addr == NULL)
        return 0;
    for (size_t i = 0; i < acl->n; i++)
        if (acl->v[i].family == family &&
            prefix_match(acl->v[i].addr, addr, acl->v[i].prefix))
            return 1;
    return 0;
}

int dns_allow_match(const dns_conf_t *c, const dns_allow_t *allow,
                    const struct sockaddr *sa, const dns_tsig_key_t *key)
{
    if (dns_acl_match(&allow->addrs, sa))
        return 1;
    for (size_t i = 0; key && i < allow->nkeys; i++)
        if (&c->keys[allow->keys[i]] == key)
            return 1;
    return 0;
}

int dns_server_parse(const char *s, char *out, size_t outlen)
{
    char host[64], *end;
    const char *port = "53";
    unsigned char tmp[16];
    size_t n;

    if (s[0] == '[') {
        const char *close = strchr(s, ']');

        if (close == NULL || (size_t)(close - s - 1) >= sizeof(host))
            return -1;
        n = (size_t)(close - s - 1);
        memcpy(host, s + 1, n);
        host[n] = '\0';
        if (close[1] == ':')
            port = close + 2;
        else if (close[1] != '\0')
            return -1;
        if (inet_pton(AF_INET6, host, tmp) != 1)
            return -1;
    } else if (inet_pton(AF_INET6, s, tmp) == 1) {
        snprintf(host, sizeof(host), "%s", s);
    } else {
        const char *colon = strchr(s, ':');

        n = colon ? (size_t)(colon - s) : strlen(s);
        if (n >= sizeof(host))
            return -1;
        memcpy(host, s, n);
        host[n] = '\0';
        if (colon)
            port = colon + 1;
        if (inet_pton(AF_INET, host, tmp) != 1)
            return -1;
    }
    {
        unsigned long p = strtoul(port, &end, 10);

        if (*port < '0' || *port > '9' || *end || p == 0 || p > 65535)
            return -1;
        if (strchr(host, ':'))
            snprintf(out, outlen, "[%s]:%lu", host, p);
        else
            snprintf(out, outlen, "%s:%lu", host, p);
    }
    return 0;
}

static int conf_acl(cfg_t *sec, const char *opt, dns_acl_t *acl)
{
    unsigned n = cfg_size(sec, opt);

    acl->v = n ? loom_calloc(n, sizeof(*acl->v)) : NULL;
    acl->n = 0;
    for (unsigned i = 0; i < n; i++) {
        const char *s = cfg_getnstr(sec, opt, i);

        if (dns_net_parse(s, &acl->v[acl->n]) != 0) {
            loom_conf_error(sec, opt,
                            "%s: \"%s\" is not an address or "
                            "ADDRESS/PREFIX",
                            opt, s);
            return -1;
        }
        acl->n++;
    }
    return 0;
}

/* An allow list of addresses, prefixes and "key:NAME" entries naming
 * keys of C. */
static int conf_allow(cfg_t *sec, const char *opt, const dns_conf_t *c,
                      dns_allow_t *al)
{
    unsigned n = cfg_size(sec, opt);

    al->addrs.v = n ? loom_calloc(n, sizeof(*al->addrs.v)) : NULL;
    al->keys = n ? loom_calloc(n, sizeof(*al->keys)) : NULL;
    for (unsigned i = 0; i < n; i++) {
        const char *s = cfg_getnstr(sec, opt, i);
        uint8_t name[DNS_NAME_MAX];
        size_t k;

        if (strncmp(s, "key:", 4) != 0) {
            if (dns_net_parse(s, &al->addrs.v[al->addrs.n]) != 0) {
                loom_conf_error(sec, opt,
                                "%s: \"%s\" is not an address, "
                                "ADDRESS/PREFIX or key:NAME",
                                opt, s);
                return -1;
            }
            al->addrs.n++;
            continue;
        }
        if (dns_name_from_text(name, s + 4, NULL) == 0) {
            loom_conf_error(sec, opt, "%s: \"%s\": not a key name", opt, s);
            return -1;
        }
        for (k = 0; k < c->nkeys; k++)
            if (dns_name_equal(c->keys[k].name, name))
                break;
        if (k == c->nkeys) {
            loom_conf_error(sec, opt, "%s: no key \"%s\" is configured", opt,
                            s + 4);
            return -1;
        }
        al->keys[al->nkeys++] = (unsigned)k;
    }
    return 0;
}

static int conf_keys(cfg_t *sec, dns_conf_t *c)
{
    unsigned n = cfg_size(sec, "key");

    c->keys = n ? loom_calloc(n, sizeof(*c->keys)) : NULL;
    for (unsigned i = 0; i < n; i++) {
        cfg_t *ks = cfg_getnsec(sec, "key", i);
        const char *secret = cfg_getstr(ks, "secret"), *err;

        if (secret == NULL) {
            loom_conf_error(ks, NULL, "key \"%s\" needs a secret",
                            cfg_title(ks));
            return -1;
        }
        if (dns_tsig_key_init(&c->keys[i], cfg_title(ks),
                              cfg_getstr(ks, "algorithm"), secret, &err) != 0) {
            loom_conf_error(ks, NULL, "key \"%s\": %s", cfg_title(ks), err);
            return -1;
        }
        for (unsigned k = 0; k < i; k++)
            if (dns_name_equal(c->keys[k].name, c->keys[i].name)) {
                loom_conf_error(ks, NULL, "key \"%s\" is configured twice",
                                cfg_title(ks));
                return -1;
            }
        c->nkeys = i + 1;
    }
    return 0;
}

/* A comma-separated c-ares server list from list option OPT, or NULL. */
static int conf_servers(cfg_t *sec, const char *opt, char **out)
{
    unsigned n = cfg_size(sec, opt);
    size_t len = 0;
    char *list = NULL;

    *out = NULL;
    for (unsigned i = 0; i < n; i++) {
        const char *s = cfg_getnstr(sec, opt, i);
        char one[80];

        if (dns_server_parse(s, one, sizeof(one)) != 0) {
            loom_conf_error(sec, opt,
                            "%s: \"%s\" is not ADDRESS, "
                            "ADDRESS:PORT or [IPV6]:PORT",
                            opt, s);
            free(list);
            return -1;
        }
        list = loom_realloc(list, len + strlen(one) + 2);
        len += (size_t)sprintf(list + len, "%s%s", len ? "," : "", one);
    }
    *out = list;
    return 0;
}

/* The key of C named by "key:NAME" text S: its index, or -1. */
static int key_index(const dns_conf_t *c, const char *s)
{
    uint8_t name[DNS_NAME_MAX];

    if (strncmp(s, "key:", 4) != 0 ||
        dns_name_from_text(name, s + 4, NULL) == 0)
        return -1;
    for (size_t k = 0; k < c->nkeys; k++)
        if (dns_name_equal(c->keys[k].name, name))
            return (int)k;
    return -1;
}

/* notify: servers as for conf_servers(), each optionally followed by a
 * space and "key:NAME" to sign the NOTIFY with. */
static int conf_notify(cfg_t *zsec, const dns_conf_t *c, dns_zconf_t *zc)
{
    unsigned n = cfg_size(zsec, "notify");
    size_t len = 0;
    char *list = NULL;

    zc->notify_keys = n ? loom_calloc(n, sizeof(*zc->notify_keys)) : NULL;
    for (unsigned i = 0; i < n; i++) {
        const char *s = cfg_getnstr(zsec, "notify", i), *sp = strchr(s, ' ');
        char host[80], one[80];

        zc->notify_keys[i] = -1;
        if ((sp ? (size_t)(sp - s) : strlen(s)) >= sizeof(host) ||
            (snprintf(host, sizeof(host), "%.*s",
                      (int)(sp ? (size_t)(sp - s) : strlen(s)), s),
             dns_server_parse(host, one, sizeof(one)) != 0)) {
            loom_conf_error(zsec, "notify",
                            "notify: \"%s\" is not ADDRESS, ADDRESS:PORT or "
                            "[IPV6]:PORT, optionally followed by key:NAME",
                            s);
            free(list);
            return -1;
        }
        if (sp && (zc->notify_keys[i] = key_index(c, sp + 1)) < 0) {
            loom_conf_error(zsec, "notify",
                            "notify: \"%s\": no key \"%s\" is configured", s,
                            strncmp(sp + 1, "key:", 4) == 0 ? sp + 5 : sp + 1);
            free(list);
            return -1;
        }
        list = loom_realloc(list, len + strlen(one) + 2);
        len += (size_t)sprintf(list + len, "%s%s", len ? "," : "", one);
    }
    zc->notify = list;
    return 0;
}

static int conf_int(cfg_t *sec, const char *opt, long min, long max,
                    unsigned *out)
{
    long v = cfg_getint(sec, opt);

    if (v < min || v > max) {
        loom_conf_error(sec, opt, "%s must be between %ld and %ld", opt, min,
                        max);
        return -1;
    }
    *out = (unsigned)v;
    return 0;
}

/* A dynamic zone's journal: `journal`, else STATE_DIR/ZONE.journal, else
 * the zone file's path + ".journal". */
static int conf_dynamic(cfg_t *zsec, const char *state_dir, dns_zconf_t *zc)
{
    const char *j = cfg_getstr(zsec, "journal");
    long max = cfg_getint(zsec, "journal_max");
    char *dir, *slash;
    struct stat st;

    zc->jfd = -1;
    if (!cfg_getbool(zsec, "dynamic")) {
        if (j)
            loom_conf_error(zsec, "journal",
                            "zone \"%s\": journal needs dynamic = yes",
                            cfg_title(zsec));
        return j ? -1 : 0;
    }
    zc->dynamic = 1;
    if (max < 4096 || max > (1L << 30)) {
        loom_conf_error(zsec, "journal_max",
                        "journal_max must be between 4096 and 1073741824");
        return -1;
    }
    zc->journal_max = (size_t)max;
    if (j) {
        zc->journal = loom_conf_path(zsec, "journal", j);
    } else if (state_dir) {
        zc->journal =
            loom_malloc(strlen(state_dir) + strlen(cfg_title(zsec)) + 16);
        sprintf(zc->journal, "%s/%s.journal", state_dir, cfg_title(zsec));
    } else {
        zc->journal = loom_malloc(strlen(zc->path) + 16);
        sprintf(zc->journal, "%s.journal", zc->path);
    }
    dir = loom_strdup(zc->journal);
    slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    if (stat(slash ? (dir[0] ? dir : "/") : ".", &st) != 0 ||
        !S_ISDIR(st.st_mode) ||
        access(slash ? (dir[0] ? dir : "/") : ".", W_OK) != 0) {
        loom_conf_error(zsec, j ? "journal" : NULL,
                        "zone \"%s\": the journal's directory %s is not a "
                        "writable directory",
                        cfg_title(zsec), slash ? dir : ".");
        free(dir);
        return -1;
    }
    free(dir);
    return 0;
}

static int conf_zone(cfg_t *zsec, const char *who, const char *state_dir,
                     const dns_conf_t *c, dns_zconf_t *zc)
{
    const char *file = cfg_getstr(zsec, "file");
    uint8_t apex[DNS_NAME_MAX];
    char err[1024], *path;

    if (dns_name_from_text(apex, cfg_title(zsec), NULL) == 0) {
        loom_conf_error(zsec, NULL, "zone \"%s\": not a domain name",
                        cfg_title(zsec));
        return -1;
    }

    if (file == NULL) {
        loom_conf_error(zsec, NULL, "zone \"%s\" needs a file",
                        cfg_title(zsec));
        return -1;
    }
    if (conf_allow(zsec, "allow_transfer", c, &zc->allow_transfer) != 0 ||
        conf_notify(zsec, c, zc) != 0)
        return -1;
    path = loom_conf_path(zsec, "file", file);
    zc->path = path;
    if (access(path, R_OK) != 0) {
        loom_conf_error(zsec, "file", "zone \"%s\": cannot read %s: %s",
                        cfg_title(zsec), path, strerror(errno));
        return -1;
    }
    if (conf_dynamic(zsec, state_dir, zc) != 0)
        return -1;
    if (conf_allow(zsec, "allow_update", c, &zc->allow_update) != 0)
        return -1;
    if (!zc->dynamic && cfg_size(zsec, "allow_update") > 0) {
        loom_conf_error(zsec, "allow_update",
                        "zone \"%s\": allow_update needs dynamic = yes",
                        cfg_title(zsec));
        return -1;
    }
    zc->zone = dns_zone_load(cfg_title(zsec), path, who, err, sizeof(err));
    if (zc->zone == NULL) {
        /* A fault no line of the zone file shows is the file's. */
        if (strncmp(err, "zone \"", 6) == 0)
            loom_conf_error(zsec, "file", "%s", err);
        else
            loom_conf_error_plain("%s", err);
        return -1;
    }
    return 0;
}

int dns_configure(cfg_t *sec, void **out)
{
    dns_conf_t *c = loom_calloc(1, sizeof(*c));
    cfg_t *fwd = cfg_getsec(sec, "forward"), *rrl = cfg_getsec(sec, "rrl");
    char who[300], *state_dir = NULL;
    unsigned n = cfg_size(sec, "zone");

    *out = c;
    snprintf(who, sizeof(who), "dns/%s", cfg_title(sec) ? cfg_title(sec) : "");
    if (conf_int(sec, "edns_size", 512, 4096, &c->edns_size) != 0 ||
        conf_int(sec, "tcp_per_client", 0, 1000000, &c->tcp_per_client) != 0 ||
        conf_acl(sec, "stats_allow", &c->stats_allow) != 0)
        return LOOM_ERROR;
    if (cfg_getstr(sec, "version"))
        c->version = loom_strdup(cfg_getstr(sec, "version"));
    if (cfg_getstr(sec, "identity"))
        c->identity = loom_strdup(cfg_getstr(sec, "identity"));
    if (c->version && strlen(c->version) > 255) {
        loom_conf_error(sec, "version", "version is longer than 255 bytes");
        return LOOM_ERROR;
    }
    if (c->identity && strlen(c->identity) > 255) {
        loom_conf_error(sec, "identity", "identity is longer than 255 bytes");
        return LOOM_ERROR;
    }
    if (conf_servers(fwd, "servers", &c->forward) != 0 ||
        conf_acl(fwd, "allow", &c->forward_allow) != 0 ||
        conf_int(fwd, "timeout", 1, 60, &c->forward_timeout) != 0)
        return LOOM_ERROR;
    if (conf_int(rrl, "rate", 0, 1000000, &c->rrl_rate) != 0 ||
        conf_int(rrl, "slip", 0, 100, &c->rrl_slip) != 0 ||
        conf_int(rrl, "ipv4_prefix", 8, 32, &c->rrl_v4) != 0 ||
        conf_int(rrl, "ipv6_prefix", 16, 128, &c->rrl_v6) != 0 ||
        conf_acl(rrl, "exempt", &c->rrl_exempt) != 0)
        return LOOM_ERROR;
    if (conf_keys(sec, c) != 0)
        return LOOM_ERROR;
    if (cfg_getstr(sec, "state_dir")) {
        struct stat st;

        state_dir =
            loom_conf_path(sec, "state_dir", cfg_getstr(sec, "state_dir"));
        if (stat(state_dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
            loom_conf_error(sec, "state_dir", "state_dir %s is not a directory",
                            state_dir);
            free(state_dir);
            return LOOM_ERROR;
        }
    }
    c->zones = n ? loom_calloc(n, sizeof(*c->zones)) : NULL;
    for (unsigned i = 0; i < n; i++)
        c->zones[i].jfd = -1;
    for (unsigned i = 0; i < n; i++) {
        cfg_t *zsec = cfg_getnsec(sec, "zone", i);

        if (conf_zone(zsec, who, state_dir, c, &c->zones[i]) != 0) {
            c->nzones = i + 1;
            free(state_dir);
            return LOOM_ERROR;
        }
        c->nzones = i + 1;
        for (unsigned k = 0; k < i; k++)
            if (dns_name_equal(c->zones[k].zone->apex,
                               c->zones[i].zone->apex)) {
                loom_conf_error(zsec, NULL, "zone \"%s\" is configured twice",
                                cfg_title(zsec));
                free(state_dir);
                return LOOM_ERROR;
            }
    }
    free(state_dir);
    return LOOM_OK;
}

void dns_conf_free(void *conf)
{
    dns_conf_t *c = conf;

    if (c == NULL)
        return;
    for (size_t i = 0; i < c->nzones; i++) {
        dns_zone_unref(c->zones[i].zone);
        free(c->zones[i].allow_transfer.addrs.v);
        free(c->zones[i].allow_transfer.keys);
        free(c->zones[i].allow_update.addrs.v);
        free(c->zones[i].allow_update.keys);
        free(c->zones[i].notify);
        free(c->zones[i].notify_keys);
        free(c->zones[i].path);
        free(c->zones[i].journal);
        if (c->zones[i].jfd >= 0)
            close(c->zones[i].jfd);
    }
    free(c->zones);
    free(c->version);
    free(c->identity);
    free(c->stats_allow.v);
    free(c->forward);
    free(c->forward_allow.v);
    if (c->fwd)
        loom_resolver_free(c->fwd);
    free(c->rrl_exempt.v);
    if (c->keys)
        OPENSSL_cleanse(c->keys, c->nkeys * sizeof(*c->keys));
    free(c->keys);
    free(c);
}
