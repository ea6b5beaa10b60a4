/*
 * probe.c - a test-only module that exposes the outbound client API
 * (loom_client.h) through a tiny line protocol, and plays the server side
 * of STARTTLS for the client tests.  Loaded with load_module() by the
 * integration tests (a real loomd) and by tests/unit/test_client.c (an
 * in-process server).
 *
 * Options: dns_servers ("ADDR:PORT,..."; unset: the server's channel),
 * dns_timeout_ms, dns_tries, tls_profile (for STARTTLS).
 *
 * One command per line, answers end with "END" (lookups) or are one line:
 *   A|AAAA|MX|TXT|SRV|PTR NAME  lookup; "OK n cname=C|-" then one line per
 *                               record, or "ERR status temporary=0|1
 *                               neg_ttl=N err=TEXT"; then "END"
 *       A/AAAA: "ADDR ttl"; MX: "pref name ttl"; SRV: "prio weight port
 *       target ttl"; PTR: "name ttl"; TXT: "ttl joinedhex s1hex s2hex..."
 *   CONNECT HOST PORT           connect (by name through the channel):
 *                               "CONNECTED ADDR tried=N" or "FAIL status
 *                               tried=N err=TEXT"
 *   STARTTLS                    "220 go", then TLS (server side)
 *   STARTTLS-INJECT             "220 go" and "INJECTED" in one write, TLS
 *   FAKETLS                     "220 go", then stays plaintext and answers
 *                               anything with "500 plaintext" and closes
 *   SILENT                      "220 go", then never answers again
 *   PING X                      "PONG X tls=VERSION|none"
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loom_module.h"

typedef struct {
    char *dns_servers;
    long dns_timeout_ms, dns_tries;
    char *tls_profile;
    loom_resolver_t *r; /* made by prepare; NULL: the server's channel */
} probe_conf_t;

enum { PROBE_NORMAL = 0, PROBE_FAKETLS, PROBE_SILENT };

typedef struct {
    int mode;
    loom_dns_query_t *q;
    loom_connect_t *cr;
} probe_conn_t;

static cfg_opt_t probe_opts[] = {CFG_STR("dns_servers", NULL, CFGF_NONE),
                                 CFG_INT("dns_timeout_ms", 1000, CFGF_NONE),
                                 CFG_INT("dns_tries", 1, CFGF_NONE),
                                 CFG_STR("tls_profile", NULL, CFGF_NONE),
                                 CFG_END()};

static int probe_configure(cfg_t *sec, void **conf)
{
    probe_conf_t *pc = loom_calloc(1, sizeof(*pc));
    const char *s;

    if ((s = cfg_getstr(sec, "dns_servers")) != NULL)
        pc->dns_servers = loom_strdup(s);
    if ((s = cfg_getstr(sec, "tls_profile")) != NULL)
        pc->tls_profile = loom_strdup(s);
    pc->dns_timeout_ms = cfg_getint(sec, "dns_timeout_ms");
    pc->dns_tries = cfg_getint(sec, "dns_tries");
    *conf = pc;
    return LOOM_OK;
}

static void probe_conf_free(void *conf)
{
    probe_conf_t *pc = conf;

    loom_resolver_free(pc->r); /* lookups still on it hear of it */
    free(pc->dns_servers);
    free(pc->tls_profile);
    free(pc);
}

/* The lookup channel: made here, where failing is allowed. */
static int probe_prepare(loom_instance_t *inst, void *conf, char *err,
                         size_t errlen)
{
    probe_conf_t *pc = conf;

    if (pc->dns_servers == NULL)
        return LOOM_OK;
    pc->r = loom_resolver_new_lookup(
        loom_instance_server(inst), pc->dns_servers,
        (unsigned)pc->dns_timeout_ms, (unsigned)pc->dns_tries, err, errlen);
    return pc->r ? LOOM_OK : LOOM_ERROR;
}

/* ---- lookups --------------------------------------------------------------
 */

static void probe_hex(loom_conn_t *c, const char *p, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    char buf[2 * 256 + 1];
    size_t i, n = 0;

    if (len == 0) {
        loom_conn_write(c, "-", 1);
        return;
    }
    for (i = 0; i < len; i++) {
        buf[n++] = hex[(unsigned char)p[i] >> 4];
        buf[n++] = hex[(unsigned char)p[i] & 15];
        if (n == sizeof(buf) - 1) {
            loom_conn_write(c, buf, n);
            n = 0;
        }
    }
    loom_conn_write(c, buf, n);
}

static void probe_rr(loom_conn_t *c, loom_dns_type_t type,
                     const loom_dns_rr_t *rr)
{
    char addr[80];
    size_t i;

    switch (type) {
    case LOOM_DNS_A:
        inet_ntop(AF_INET,
                  &((const struct sockaddr_in *)&rr->addr.addr)->sin_addr, addr,
                  sizeof(addr));
        loom_conn_printf(c, "%s %u\r\n", addr, rr->ttl);
        break;
    case LOOM_DNS_AAAA:
        inet_ntop(AF_INET6,
                  &((const struct sockaddr_in6 *)&rr->addr.addr)->sin6_addr,
                  addr, sizeof(addr));
        loom_conn_printf(c, "%s %u\r\n", addr, rr->ttl);
        break;
    case LOOM_DNS_MX:
        loom_conn_printf(c, "%u %s %u\r\n", rr->pref, rr->name, rr->ttl);
        break;
    case LOOM_DNS_SRV:
        loom_conn_printf(c, "%u %u %u %s %u\r\n", rr->pref, rr->weight,
                         rr->port, rr->name, rr->ttl);
        break;
    case LOOM_DNS_PTR:
        loom_conn_printf(c, "%s %u\r\n", rr->name, rr->ttl);
        break;
    case LOOM_DNS_TXT:
        loom_conn_printf(c, "%u ", rr->ttl);
        probe_hex(c, rr->text, rr->text_len);
        for (i = 0; i < rr->nstrings; i++) {
            loom_conn_write(c, " ", 1);
            probe_hex(c, rr->strings[i].p, rr->strings[i].len);
        }
        loom_conn_write(c, "\r\n", 2);
        break;
    }
}

static void probe_dns_done(const loom_dns_result_t *res, void *arg)
{
    loom_conn_t *c = arg;
    probe_conn_t *pcn = loom_conn_data(c);
    size_t i;

    pcn->q = NULL;
    if (res->status != LOOM_DNS_OK) {
        loom_conn_printf(c, "ERR %s temporary=%d neg_ttl=%u err=%s\r\nEND\r\n",
                         loom_dns_strstatus(res->status),
                         loom_dns_temporary(res->status), res->neg_ttl,
                         res->err);
        return;
    }
    loom_conn_printf(c, "OK %zu cname=%s\r\n", res->n,
                     res->cname ? res->cname : "-");
    for (i = 0; i < res->n; i++)
        probe_rr(c, res->type, &res->rr[i]);
    loom_conn_printf(c, "END\r\n");
}

/* ---- connect --------------------------------------------------------------
 */

static const char *const probe_connect_status[] = {
    "ok",       "einval", "eresolve", "enoaddr", "erefused",
    "etimeout", "enet",   "etls",     "everify", "eclosed"};

static size_t probe_out_data(loom_conn_t *c, const char *buf, size_t len)
{
    (void)c;
    (void)buf;
    return len;
}

static const loom_handler_t probe_out_handler = {NULL, probe_out_data, NULL,
                                                 NULL};

static void probe_connected(loom_conn_t *out, const loom_connect_result_t *res,
                            void *arg)
{
    loom_conn_t *c = arg;
    probe_conn_t *pcn = loom_conn_data(c);
    char addr[80] = "-";

    pcn->cr = NULL;
    if (res->addr)
        loom_addr_format(res->addr, addr, sizeof(addr));
    if (out) {
        loom_conn_printf(c, "CONNECTED %s tried=%zu\r\n", addr, res->tried);
        loom_conn_close(out);
        return;
    }
    loom_conn_printf(c, "FAIL %s tried=%zu addr=%s err=%s\r\n",
                     probe_connect_status[res->status], res->tried, addr,
                     res->err);
}

/* ---- commands -------------------------------------------------------------
 */

static const struct {
    const char *name;
    loom_dns_type_t type;
} probe_lookups[] = {{"A", LOOM_DNS_A},     {"AAAA", LOOM_DNS_AAAA},
                     {"MX", LOOM_DNS_MX},   {"TXT", LOOM_DNS_TXT},
                     {"SRV", LOOM_DNS_SRV}, {"PTR", LOOM_DNS_PTR}};

static void probe_starttls(loom_conn_t *c, int inject)
{
    const probe_conf_t *pc = loom_instance_conf(loom_conn_instance(c));

    if (inject)
        loom_conn_printf(c, "220 go\r\nINJECTED\r\n");
    else
        loom_conn_printf(c, "220 go\r\n");
    if (loom_conn_starttls(c, pc->tls_profile) != LOOM_OK)
        loom_conn_close(c);
}

static void probe_command(loom_conn_t *c, char *line)
{
    probe_conn_t *pcn = loom_conn_data(c);
    loom_instance_t *inst = loom_conn_instance(c);
    const probe_conf_t *pc = loom_instance_conf(inst);
    char *arg = strchr(line, ' ');
    loom_tls_info_t ti;
    size_t i;

    if (arg)
        *arg++ = '\0';
    for (i = 0; i < LOOM_ARRAY_LEN(probe_lookups); i++) {
        if (strcmp(line, probe_lookups[i].name) == 0 && arg && pcn->q == NULL) {
            pcn->q =
                loom_dns_lookup(loom_instance_server(inst), pc->r,
                                probe_lookups[i].type, arg, probe_dns_done, c);
            return;
        }
    }
    if (strcmp(line, "CONNECT") == 0 && arg && pcn->cr == NULL) {
        char *port = strchr(arg, ' ');
        loom_connect_opts_t opts;

        if (port == NULL) {
            loom_conn_printf(c, "500 CONNECT HOST PORT\r\n");
            return;
        }
        *port++ = '\0';
        memset(&opts, 0, sizeof(opts));
        opts.resolver = pc->r;
        opts.timeout_ms = 5000;
        pcn->cr =
            loom_connect_host(loom_instance_server(inst), arg, atoi(port),
                              &opts, &probe_out_handler, probe_connected, c);
    } else if (strcmp(line, "STARTTLS") == 0) {
        probe_starttls(c, 0);
    } else if (strcmp(line, "STARTTLS-INJECT") == 0) {
        probe_starttls(c, 1);
    } else if (strcmp(line, "FAKETLS") == 0) {
        pcn->mode = PROBE_FAKETLS;
        loom_conn_printf(c, "220 go\r\n");
    } else if (strcmp(line, "SILENT") == 0) {
        pcn->mode = PROBE_SILENT;
        loom_conn_printf(c, "220 go\r\n");
    } else if (strcmp(line, "PING") == 0) {
        loom_conn_printf(c, "PONG %s tls=%s\r\n", arg ? arg : "",
                         loom_conn_tls_info(c, &ti) == LOOM_OK ? ti.version
                                                               : "none");
    } else {
        loom_conn_printf(c, "500 unknown command\r\n");
    }
}

static int probe_open(loom_conn_t *c)
{
    probe_conn_t *pcn = loom_conn_data(c);

    pcn->mode = PROBE_NORMAL; /* also after STARTTLS: opened again */
    return LOOM_OK;
}

static size_t probe_data(loom_conn_t *c, const char *buf, size_t len)
{
    probe_conn_t *pcn = loom_conn_data(c);
    size_t used = 0;

    while (used < len) {
        const char *nl;
        char line[1024];
        size_t n;

        if (pcn->mode == PROBE_SILENT)
            return len;
        if (pcn->mode == PROBE_FAKETLS) {
            loom_conn_printf(c, "500 plaintext\r\n");
            loom_conn_close(c);
            return len;
        }
        nl = memchr(buf + used, '\n', len - used);
        if (nl == NULL)
            break;
        n = (size_t)(nl - (buf + used));
        if (n && buf[used + n - 1] == '\r')
            n--;
        if (n >= sizeof(line))
            n = sizeof(line) - 1;
        memcpy(line, buf + used, n);
        line[n] = '\0';
        used = (size_t)(nl - buf) + 1;
        probe_command(c, line);
        if (strncmp(line, "STARTTLS", 8) == 0)
            return len; /* the rest is dropped by the switch anyway */
    }
    return used;
}

static void probe_close(loom_conn_t *c)
{
    probe_conn_t *pcn = loom_conn_data(c);

    loom_dns_cancel(pcn->q);
    pcn->q = NULL;
    loom_connect_cancel(pcn->cr);
    pcn->cr = NULL;
}

extern const loom_module_t loom_module_entry;

const loom_module_t loom_module_entry = {
    .abi = LOOM_MODULE_ABI,
    .name = "probe",
    .options = probe_opts,
    .conn_size = sizeof(probe_conn_t),
    .idle_timeout = 60,
    .configure = probe_configure,
    .conf_free = probe_conf_free,
    .prepare = probe_prepare,
    .stream = {probe_open, probe_data, NULL, probe_close},
};
