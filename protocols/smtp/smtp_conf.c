/*
 * smtp_conf.c - the smtp module's options and their validation: local
 * domains, the recipient table (in the section or a file), aliases, the
 * catch-all, relay networks, submission listeners, the users file,
 * limits, what is published on the bus and the queue directory.
 *
 * Every problem is one "FILE:LINE: message" (the line of the option, or of
 * the recipients/users file) and the configuration is refused.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "endpoint.h"
#include "smtp.h"
#include "smtp_store.h"
#include "smtp_out.h"

/* Largest recipients or users file read. */
#define SMTP_FILE_MAX (4u * 1024 * 1024)
/* What max_message_size may be at most. */
#define SMTP_SIZE_CAP (1024u * 1024 * 1024)

cfg_opt_t smtp_options[] = {CFG_STR("hostname", NULL, CFGF_NONE),
                            CFG_STR_LIST("local_domains", "{}", CFGF_NONE),
                            CFG_STR_LIST("recipients", "{}", CFGF_NONE),
                            CFG_STR("recipients_file", NULL, CFGF_NONE),
                            CFG_STR_LIST("aliases", "{}", CFGF_NONE),
                            CFG_STR("catch_all", NULL, CFGF_NONE),
                            CFG_STR_LIST("relay_networks", "{}", CFGF_NONE),
                            CFG_STR_LIST("submission", "{}", CFGF_NONE),
                            CFG_STR("users_file", NULL, CFGF_NONE),
                            CFG_STR("starttls", NULL, CFGF_NONE),
                            CFG_STR("max_message_size", "35M", CFGF_NONE),
                            CFG_INT("max_recipients", 100, CFGF_NONE),
                            CFG_INT("max_errors", 10, CFGF_NONE),
                            CFG_INT("max_connections_per_ip", 20, CFGF_NONE),
                            CFG_INT("auth_failure_delay", 1000, CFGF_NONE),
                            CFG_INT("greet_pause", 0, CFGF_NONE),
                            CFG_STR_LIST("publish", "{}", CFGF_NONE),
                            CFG_STR("publish_topic", "mail", CFGF_NONE),
                            CFG_STR("queue_dir", NULL, CFGF_NONE),
                            CFG_STR("sync", "auto", CFGF_NONE),
                            SMTP_RELAY_OPTIONS,
                            CFG_END()};

char *smtp_lower(char *s)
{
    for (char *p = s; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    return s;
}

/* A domain name as the config may give one: 1-255 bytes of letters,
 * digits, '-', '.', no empty label. */
static int smtp_domain_ok(const char *d)
{
    size_t n = strlen(d), label = 0;

    if (n == 0 || n > 255)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = d[i];

        if (ch == '.') {
            if (label == 0)
                return 0;
            label = 0;
            continue;
        }
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
              ch == '-' || (ch >= 'A' && ch <= 'Z')))
            return 0;
        if (++label > 63)
            return 0;
    }
    return label > 0;
}

/* An address as the config may give one: "local@domain" without spaces,
 * brackets or quotes, local part 1-64 bytes, a valid domain. */
static int smtp_addr_ok(const char *a)
{
    const char *at = strrchr(a, '@');
    size_t n = strlen(a);

    if (at == NULL || at == a || n > SMTP_ADDR_MAX || at - a > 64)
        return 0;
    for (const char *p = a; p < at; p++)
        if ((unsigned char)*p <= ' ' || *p == '<' || *p == '>' || *p == '"' ||
            *p == '\\' || *p == ',' || *p == '@' || *p == 0x7f)
            return 0;
    return smtp_domain_ok(at + 1);
}

/* Split S at spaces/tabs (and commas when COMMAS) into up to MAX fields;
 * S is modified.  Returns the count (MAX + 1 when there are more). */
static size_t smtp_split(char *s, int commas, char **f, size_t max)
{
    size_t n = 0;
    char *save = NULL;
    const char *sep = commas ? " \t," : " \t";

    for (char *t = strtok_r(s, sep, &save); t; t = strtok_r(NULL, sep, &save)) {
        if (n == max)
            return max + 1;
        f[n++] = t;
    }
    return n;
}

/* Add mailbox ADDR -> DIR (relative to BASE_FILE's directory). */
static int smtp_add_box(smtp_conf_t *c, const char *addr, const char *dir,
                        const char *base_file, char *err, size_t errlen)
{
    char *lower = smtp_lower(loom_strdup(addr));
    char *path;
    size_t n;

    if (!smtp_addr_ok(lower)) {
        snprintf(err, errlen, "recipient \"%s\" is not an address", addr);
        free(lower);
        return LOOM_ERROR;
    }
    for (size_t i = 0; i < c->nboxes; i++) {
        if (strcmp(c->boxes[i].addr, lower) == 0) {
            snprintf(err, errlen, "recipient %s is listed twice", lower);
            free(lower);
            return LOOM_ERROR;
        }
    }
    path = loom_path_resolve(base_file, dir);
    n = strlen(path);
    if (n == 0 || path[n - 1] != '/') {
        path = loom_realloc(path, n + 2);
        path[n] = '/';
        path[n + 1] = '\0';
    }
    c->boxes = loom_realloc(c->boxes, (c->nboxes + 1) * sizeof(*c->boxes));
    c->boxes[c->nboxes].addr = lower;
    c->boxes[c->nboxes].maildir = path;
    c->nboxes++;
    return LOOM_OK;
}

/* One "ADDRESS MAILDIR" line into C; LOOM_OK or LOOM_ERROR with ERR. */
static int smtp_box_line(smtp_conf_t *c, const char *line,
                         const char *base_file, char *err, size_t errlen)
{
    char *copy = loom_strdup(line), *f[3];
    size_t n = smtp_split(copy, 0, f, 2);
    int r;

    if (n != 2) {
        snprintf(err, errlen,
                 "a recipient is \"ADDRESS MAILDIR\" (two fields), not \"%s\"",
                 line);
        free(copy);
        return LOOM_ERROR;
    }
    r = smtp_add_box(c, f[0], f[1], base_file, err, errlen);
    free(copy);
    return r;
}

static int smtp_conf_boxes(cfg_t *sec, smtp_conf_t *c)
{
    const char *file = cfg_getstr(sec, "recipients_file");
    char err[512];

    for (unsigned i = 0; i < cfg_size(sec, "recipients"); i++) {
        char *base = loom_conf_path(sec, "recipients", "x");

        if (smtp_box_line(c, cfg_getnstr(sec, "recipients", i), base, err,
                          sizeof(err)) != LOOM_OK) {
            free(base);
            loom_conf_error(sec, "recipients", "%s", err);
            return LOOM_ERROR;
        }
        free(base);
    }
    if (file) {
        char *path = loom_conf_path(sec, "recipients_file", file);
        size_t len;
        char *text = loom_read_file(path, SMTP_FILE_MAX, &len);
        unsigned lineno = 0;

        if (text == NULL) {
            loom_conf_error(sec, "recipients_file",
                            "cannot read recipients_file %s: %s", path,
                            strerror(errno));
            free(path);
            return LOOM_ERROR;
        }
        /* strtok_r would skip empty lines: count lines by hand */
        for (char *p = text, *nl; p && *p; p = nl ? nl + 1 : NULL) {
            nl = strchr(p, '\n');
            if (nl)
                *nl = '\0';
            lineno++;
            while (*p == ' ' || *p == '\t')
                p++;
            if (*p == '\0' || *p == '#' || *p == '\r')
                continue;
            p[strcspn(p, "\r")] = '\0';
            if (smtp_box_line(c, p, path, err, sizeof(err)) != LOOM_OK) {
                loom_conf_error_plain("%s:%u: %s", path, lineno, err);
                free(text);
                free(path);
                return LOOM_ERROR;
            }
        }
        free(text);
        free(path);
    }
    return LOOM_OK;
}

static int smtp_conf_aliases(cfg_t *sec, smtp_conf_t *c)
{
    size_t n = cfg_size(sec, "aliases");

    c->aliases = loom_calloc(n ? n : 1, sizeof(*c->aliases));
    for (size_t i = 0; i < n; i++) {
        const char *line = cfg_getnstr(sec, "aliases", (unsigned)i);
        char *copy = smtp_lower(loom_strdup(line)), *f[65];
        size_t nf = smtp_split(copy, 1, f, 64);
        smtp_alias_t *a = &c->aliases[c->naliases];

        if (nf < 2 || nf > 64) {
            loom_conf_error(sec, "aliases",
                            "an alias is \"ADDRESS TARGET[, TARGET...]\" "
                            "(1-63 targets), not \"%s\"",
                            line);
            free(copy);
            return LOOM_ERROR;
        }
        for (size_t j = 0; j < nf; j++) {
            if (!smtp_addr_ok(f[j])) {
                loom_conf_error(sec, "aliases",
                                "alias \"%s\": %s is not an "
                                "address",
                                line, f[j]);
                free(copy);
                return LOOM_ERROR;
            }
        }
        for (size_t j = 0; j < c->naliases; j++) {
            if (strcmp(c->aliases[j].addr, f[0]) == 0) {
                loom_conf_error(sec, "aliases", "alias %s is listed twice",
                                f[0]);
                free(copy);
                return LOOM_ERROR;
            }
        }
        a->addr = loom_strdup(f[0]);
        a->targets = loom_calloc(nf - 1, sizeof(char *));
        for (size_t j = 1; j < nf; j++)
            a->targets[a->ntargets++] = loom_strdup(f[j]);
        c->naliases++;
        free(copy);
    }
    return LOOM_OK;
}

/* "ADDR/PREFIX" or "ADDR" into NET; LOOM_OK or LOOM_ERROR. */
static int smtp_net_parse(const char *s, smtp_net_t *net)
{
    char buf[INET6_ADDRSTRLEN + 8], *slash, *end;
    unsigned max;

    if (strlen(s) >= sizeof(buf))
        return LOOM_ERROR;
    strcpy(buf, s);
    slash = strchr(buf, '/');
    if (slash)
        *slash = '\0';
    memset(net, 0, sizeof(*net));
    if (inet_pton(AF_INET, buf, net->addr) == 1) {
        net->family = AF_INET;
        max = 32;
    } else if (inet_pton(AF_INET6, buf, net->addr) == 1) {
        net->family = AF_INET6;
        max = 128;
    } else {
        return LOOM_ERROR;
    }
    net->prefix = max;
    if (slash) {
        unsigned long p;

        if (slash[1] < '0' || slash[1] > '9')
            return LOOM_ERROR;
        errno = 0;
        p = strtoul(slash + 1, &end, 10);
        if (errno || *end || p > max)
            return LOOM_ERROR;
        net->prefix = (unsigned)p;
    }
    return LOOM_OK;
}

static int smtp_conf_nets(cfg_t *sec, smtp_conf_t *c)
{
    size_t n = cfg_size(sec, "relay_networks");

    c->nets = loom_calloc(n ? n : 1, sizeof(*c->nets));
    for (size_t i = 0; i < n; i++) {
        const char *s = cfg_getnstr(sec, "relay_networks", (unsigned)i);

        if (smtp_net_parse(s, &c->nets[i]) != LOOM_OK) {
            loom_conf_error(sec, "relay_networks",
                            "relay_networks: \"%s\" is not ADDRESS or "
                            "ADDRESS/PREFIX",
                            s);
            return LOOM_ERROR;
        }
        c->nnets++;
    }
    return LOOM_OK;
}

/* Each submission endpoint must be one of the section's listeners. */
static int smtp_conf_subs(cfg_t *sec, smtp_conf_t *c)
{
    size_t n = cfg_size(sec, "submission");

    c->subs = loom_calloc(n ? n : 1, sizeof(*c->subs));
    for (size_t i = 0; i < n; i++) {
        const char *s = cfg_getnstr(sec, "submission", (unsigned)i);
        loom_endpoint_t ep;
        socklen_t len;
        int found = 0;
        char err[512];

        for (unsigned j = 0; j < cfg_size(sec, "listen"); j++)
            found |= strcmp(cfg_getnstr(sec, "listen", j), s) == 0;
        if (!found) {
            loom_conf_error(sec, "submission",
                            "submission endpoint \"%s\" is not one of this "
                            "section's listen endpoints",
                            s);
            return LOOM_ERROR;
        }
        if (loom_endpoint_parse_listen(s, &ep, err, sizeof(err)) != 0 ||
            (ep.kind != LOOM_EP_TCP && ep.kind != LOOM_EP_TLS) ||
            loom_endpoint_sockaddr(&ep, &c->subs[i].ss, &len) != 0) {
            loom_conf_error(sec, "submission",
                            "submission endpoint \"%s\" must be a tcp: or "
                            "tls: endpoint with an IP interface",
                            s);
            return LOOM_ERROR;
        }
        c->subs[i].any = ep.host[0] == '\0' || strcmp(ep.host, "::") == 0 ||
                         strcmp(ep.host, "0.0.0.0") == 0;
        c->nsubs++;
    }
    return LOOM_OK;
}

static int smtp_conf_users(cfg_t *sec, smtp_conf_t *c)
{
    const char *file = cfg_getstr(sec, "users_file");
    char *path, *text, err[256];
    size_t len;
    unsigned line = 0;

    if (file == NULL) {
        if (c->nsubs) {
            loom_conf_error(sec, "submission",
                            "submission listeners need a users_file (AUTH "
                            "is required on them)");
            return LOOM_ERROR;
        }
        return LOOM_OK;
    }
    path = loom_conf_path(sec, "users_file", file);
    text = loom_read_file(path, SMTP_FILE_MAX, &len);
    if (text == NULL) {
        loom_conf_error(sec, "users_file", "cannot read users_file %s: %s",
                        path, strerror(errno));
        free(path);
        return LOOM_ERROR;
    }
    c->users = smtp_users_parse(text, len, &line, err, sizeof(err));
    free(text);
    if (c->users == NULL) {
        loom_conf_error_plain("%s:%u: %s", path, line, err);
        free(path);
        return LOOM_ERROR;
    }
    free(path);
    return LOOM_OK;
}

static int smtp_conf_publish(cfg_t *sec, smtp_conf_t *c)
{
    size_t n = cfg_size(sec, "publish");
    const char *topic = cfg_getstr(sec, "publish_topic");

    c->publish = loom_calloc(n ? n : 1, sizeof(char *));
    for (size_t i = 0; i < n; i++) {
        char *p =
            smtp_lower(loom_strdup(cfg_getnstr(sec, "publish", (unsigned)i)));

        if (!(p[0] == '@' ? smtp_domain_ok(p + 1) : smtp_addr_ok(p))) {
            loom_conf_error(sec, "publish",
                            "publish: \"%s\" is neither an address nor "
                            "\"@domain\"",
                            p);
            free(p);
            return LOOM_ERROR;
        }
        c->publish[c->npublish++] = p;
    }
    if (topic == NULL || topic[0] == '\0') {
        loom_conf_error(sec, "publish_topic", "publish_topic is empty");
        return LOOM_ERROR;
    }
    c->topic = loom_strdup(topic);
    return LOOM_OK;
}

/* Integer option OPT of SEC in [LO, HI] into *OUT. */
static int smtp_conf_int(cfg_t *sec, const char *opt, long lo, long hi,
                         unsigned *out)
{
    long v = cfg_getint(sec, opt);

    if (v < lo || v > hi) {
        loom_conf_error(sec, opt, "%s must be %ld-%ld, not %ld", opt, lo, hi,
                        v);
        return LOOM_ERROR;
    }
    *out = (unsigned)v;
    return LOOM_OK;
}

static int smtp_conf_limits(cfg_t *sec, smtp_conf_t *c)
{
    if (loom_conf_size(sec, "max_message_size", &c->max_size) != LOOM_OK)
        return LOOM_ERROR;
    if (c->max_size < 1024 || c->max_size > SMTP_SIZE_CAP) {
        loom_conf_error(sec, "max_message_size",
                        "max_message_size must be 1K-1G, not %zu bytes",
                        c->max_size);
        return LOOM_ERROR;
    }
    if (smtp_conf_int(sec, "max_recipients", 1, 100000, &c->max_rcpt) ||
        smtp_conf_int(sec, "max_errors", 1, 1000, &c->max_errors) ||
        smtp_conf_int(sec, "max_connections_per_ip", 0, 1000000,
                      &c->max_conn_per_ip) ||
        smtp_conf_int(sec, "auth_failure_delay", 0, 60000, &c->auth_delay_ms) ||
        smtp_conf_int(sec, "greet_pause", 0, 60000, &c->greet_pause_ms))
        return LOOM_ERROR;
    return LOOM_OK;
}

/* Every alias target, the catch-all and every publish address in a local
 * domain must be known, so that a typo is found at start. */
static int smtp_conf_check_refs(cfg_t *sec, smtp_conf_t *c)
{
    smtp_dest_t d[1];
    size_t n;

    for (size_t i = 0; i < c->nboxes; i++) {
        const char *dom = strrchr(c->boxes[i].addr, '@') + 1;

        if (!smtp_is_local_domain(c, dom)) {
            loom_conf_error(sec, "recipients",
                            "recipient %s is not in a local domain "
                            "(local_domains)",
                            c->boxes[i].addr);
            return LOOM_ERROR;
        }
    }
    for (size_t i = 0; i < c->naliases; i++) {
        const smtp_alias_t *a = &c->aliases[i];

        if (!smtp_is_local_domain(c, strrchr(a->addr, '@') + 1)) {
            loom_conf_error(sec, "aliases", "alias %s is not in a local domain",
                            a->addr);
            return LOOM_ERROR;
        }
        for (size_t j = 0; j < a->ntargets; j++) {
            smtp_dest_kind_t k = smtp_resolve_rcpt(c, a->targets[j], d, 1, &n);

            if (k == SMTP_DEST_REMOTE && c->queue_dir == NULL) {
                loom_conf_error(sec, "aliases",
                                "alias %s: target %s is in another domain: "
                                "relaying it needs a queue_dir",
                                a->addr, a->targets[j]);
                return LOOM_ERROR;
            }
            if (k == SMTP_DEST_UNKNOWN || k == SMTP_DEST_LOOP) {
                loom_conf_error(sec, "aliases", "alias %s: target %s is %s",
                                a->addr, a->targets[j],
                                k == SMTP_DEST_LOOP ? "part of an alias loop"
                                                    : "no local recipient");
                return LOOM_ERROR;
            }
        }
    }
    if (c->catch_all &&
        smtp_resolve_rcpt(c, c->catch_all, d, 1, &n) != SMTP_DEST_LOCAL) {
        loom_conf_error(sec, "catch_all",
                        "catch_all %s is not a local recipient", c->catch_all);
        return LOOM_ERROR;
    }
    return LOOM_OK;
}

int smtp_configure(cfg_t *sec, void **conf)
{
    smtp_conf_t *c = loom_calloc(1, sizeof(*c));
    const char *host = cfg_getstr(sec, "hostname");
    const char *catch_all = cfg_getstr(sec, "catch_all");
    const char *queue = cfg_getstr(sec, "queue_dir");
    const char *tls = cfg_getstr(sec, "starttls");
    size_t nd = cfg_size(sec, "local_domains");
    char hbuf[256];

    *conf = c;
    if (host == NULL) {
        if (gethostname(hbuf, sizeof(hbuf) - 1) != 0 || hbuf[0] == '\0')
            strcpy(hbuf, "localhost");
        hbuf[sizeof(hbuf) - 1] = '\0';
        host = hbuf;
    }
    if (!smtp_domain_ok(host)) {
        loom_conf_error(sec, "hostname", "hostname \"%s\" is not a host name",
                        host);
        return LOOM_ERROR;
    }
    c->hostname = loom_strdup(host);
    c->domains = loom_calloc(nd ? nd : 1, sizeof(char *));
    for (size_t i = 0; i < nd; i++) {
        char *d = smtp_lower(
            loom_strdup(cfg_getnstr(sec, "local_domains", (unsigned)i)));

        c->domains[c->ndomains++] = d;
        if (!smtp_domain_ok(d)) {
            loom_conf_error(sec, "local_domains",
                            "local_domains: \"%s\" is not a domain", d);
            return LOOM_ERROR;
        }
    }
    if (smtp_conf_boxes(sec, c) || smtp_conf_aliases(sec, c))
        return LOOM_ERROR;
    if (catch_all) {
        c->catch_all = smtp_lower(loom_strdup(catch_all));
        if (!smtp_addr_ok(c->catch_all)) {
            loom_conf_error(sec, "catch_all",
                            "catch_all \"%s\" is not an address", catch_all);
            return LOOM_ERROR;
        }
    }
    if (queue)
        c->queue_dir = loom_conf_path(sec, "queue_dir", queue);
    if (smtp_conf_check_refs(sec, c) || smtp_conf_nets(sec, c) ||
        smtp_conf_subs(sec, c) || smtp_conf_users(sec, c) ||
        smtp_conf_limits(sec, c) || smtp_conf_publish(sec, c))
        return LOOM_ERROR;
    if (tls) {
        if (tls[0] == '\0') {
            loom_conf_error(sec, "starttls", "starttls names no TLS profile");
            return LOOM_ERROR;
        }
        c->starttls = loom_strdup(tls);
    }
    {
        smtp_sync_t mode;

        if (smtp_sync_parse(cfg_getstr(sec, "sync"), &mode) != 0) {
            loom_conf_error(sec, "sync",
                            "sync must be \"fsync\", \"syncfs\" or \"auto\", "
                            "not \"%s\"",
                            cfg_getstr(sec, "sync"));
            return LOOM_ERROR;
        }
        c->sync_mode = (int)mode;
    }
    c->relay = loom_calloc(1, sizeof(*c->relay));
    if (smtp_relay_configure(sec, c->relay) != LOOM_OK)
        return LOOM_ERROR;
    return LOOM_OK;
}

void smtp_conf_free(void *conf)
{
    smtp_conf_t *c = conf;

    if (c == NULL)
        return;
    free(c->hostname);
    for (size_t i = 0; i < c->ndomains; i++)
        free(c->domains[i]);
    free(c->domains);
    for (size_t i = 0; i < c->nboxes; i++) {
        free(c->boxes[i].addr);
        free(c->boxes[i].maildir);
    }
    free(c->boxes);
    for (size_t i = 0; i < c->naliases; i++) {
        for (size_t j = 0; j < c->aliases[i].ntargets; j++)
            free(c->aliases[i].targets[j]);
        free(c->aliases[i].targets);
        free(c->aliases[i].addr);
    }
    free(c->aliases);
    free(c->catch_all);
    free(c->nets);
    free(c->subs);
    smtp_users_free(c->users);
    free(c->starttls);
    for (size_t i = 0; i < c->npublish; i++)
        free(c->publish[i]);
    free(c->publish);
    free(c->topic);
    free(c->queue_dir);
    if (c->relay != NULL)
        smtp_relay_conf_clear(c->relay);
    free(c->relay);
    free(c);
}
