/*
 * http_dyndns.c - the dyndns handler: the dyndns2 protocol that routers,
 * ddclient and inadyn speak, GET <location>?hostname=a,b&myip=IP, turned
 * into A/AAAA SETs on a dns instance's dynamic zone through its update
 * service (dns_update.h).
 *
 *   GET --Basic auth--> crypt_r on the worker pool --wrong: badauth after
 *   the constant delay (a timer), failure counted per address--> per host:
 *   notfqdn / nohost, or one batch (SET A and/or AAAA) submitted -->
 *   callback DONE: "good IP" + a bus message; unchanged: "nochg IP";
 *   FAILED / UNAVAILABLE / refused: "911" --> one text/plain line per host
 *
 * Answers are 200 text/plain with the protocol's codes, but for a request
 * without credentials (401 with WWW-Authenticate, body "badauth"), a
 * malformed query string (400) and methods other than GET (405).
 * "nochg" is decided at commit time by the batch's own check, against the
 * zone as every earlier batch left it: a record that already holds the
 * address is not written again (the batch is refused and nothing reaches
 * the journal).
 *
 * Lifetimes: the request state copies what it needs of the location at
 * the start (a reload may free it); the failure table lives in the
 * location (a reload starts it afresh) and is touched only while the
 * request's config is current (http_req_conf).  A client that goes away
 * cancels the crypt job (or, when it is running, detaches from it: its
 * done frees it), the timer and every batch (one already being written
 * still goes through, without its answer or bus message).
 */
#include <arpa/inet.h>
#include <crypt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "dyndns_parse.h"
#include "http.h"
#include "loom_bus.h"
#include "loom_reactor.h"
#include "loom_work.h"

#include "../dns/dns_update.h"

#define DD_TYPE "text/plain; charset=utf-8"
#define DD_PASS_MAX 256
#define DD_FAIL_SLOTS 256
#define DD_IP_TEXT (INET_ADDRSTRLEN + INET6_ADDRSTRLEN + 2)

typedef struct {
    char addr[INET6_ADDRSTRLEN];
    unsigned count;
    time_t first; /* start of the window */
} dd_fail_t;

struct http_dyndns_loc_s {
    char *zone; /* lowercase, no final dot */
    char *topic;
    dyndns_users_t *users;
    unsigned ttl, delay_ms, max_failures, window;
    dd_fail_t fails[DD_FAIL_SLOTS];
};

typedef struct dd_req_s dd_req_t;

/* One host of a request. */
typedef struct {
    dd_req_t *d;
    dyndns_code_t code;
    dns_update_handle_t *h; /* in flight */
    int unchanged;          /* the check found the address there */
} dd_host_t;

/* The crypt job: its own memory, so that it can outlive the request. */
typedef struct {
    dd_req_t *d; /* NULL once the request went away */
    loom_work_t *w;
    char *hash;
    char pass[DD_PASS_MAX];
    int ok;
} dd_job_t;

struct dd_req_s {
    http_req_t *r;
    dd_job_t *job;
    loom_timer_t timer;
    loom_service_ref_t ref;
    const dns_update_service_t *svc; /* static: for cancel */
    char *zone, *topic;
    uint32_t ttl;
    char user[DYNDNS_USER_MAX + 1];
    char peer[INET6_ADDRSTRLEN];
    char ip4[INET_ADDRSTRLEN], ip6[INET6_ADDRSTRLEN];
    char iptext[DD_IP_TEXT]; /* "IP" of the answers */
    dyndns_query_t q;
    dd_host_t hosts[DYNDNS_MAX_HOSTS];
    size_t pending;
};

/* ---- configuration ------------------------------------------------------- */

int http_dyndns_location(cfg_t *ls, http_location_t *l)
{
    const char *dns = cfg_getstr(ls, "dns"), *zone = cfg_getstr(ls, "zone");
    const char *file = cfg_getstr(ls, "users_file");
    const char *topic = cfg_getstr(ls, "topic");
    long ttl = cfg_getint(ls, "ttl"), delay = cfg_getint(ls, "fail_delay");
    long maxf = cfg_getint(ls, "max_failures");
    long win = cfg_getint(ls, "failure_window");
    http_dyndns_loc_t *dl;
    char zbuf[DYNDNS_NAME_MAX + 2], err[256], *path, *text;
    size_t n = 0;
    unsigned line = 0;

    if (dns == NULL || dns[0] == '\0' || zone == NULL || file == NULL) {
        loom_conf_error(ls, NULL,
                        "location \"%s\": the dyndns handler needs dns = "
                        "\"INSTANCE\", zone = \"NAME\" and users_file",
                        cfg_title(ls));
        return LOOM_ERROR;
    }
    if (strlen(dns) >= sizeof(((loom_service_ref_t *)0)->instance)) {
        loom_conf_error(ls, "dns", "dns \"%s\": name too long", dns);
        return LOOM_ERROR;
    }
    snprintf(zbuf, sizeof(zbuf), "%s", zone);
    if (strlen(zone) > DYNDNS_NAME_MAX + 1)
        zbuf[0] = '\0';
    if (zbuf[0] && zbuf[strlen(zbuf) - 1] == '.')
        zbuf[strlen(zbuf) - 1] = '\0';
    if (!dyndns_fqdn(zbuf)) {
        loom_conf_error(ls, "zone", "zone \"%s\" is not a domain name", zone);
        return LOOM_ERROR;
    }
    if (ttl < 0 || ttl > 0x7fffffff || delay < 0 || delay > 60000 || maxf < 1 ||
        win < 1 || win > 86400) {
        loom_conf_error(ls, NULL,
                        "location \"%s\": ttl 0..2147483647, fail_delay "
                        "0..60000 ms, max_failures >= 1, failure_window "
                        "1..86400 s",
                        cfg_title(ls));
        return LOOM_ERROR;
    }
    if (topic && (topic[0] == '\0' || strchr(topic, ':'))) {
        loom_conf_error(ls, "topic",
                        "topic \"%s\" may not be empty or hold "
                        "':'",
                        topic);
        return LOOM_ERROR;
    }
    path = loom_conf_path(ls, "users_file", file);
    text = loom_read_file(path, 1 << 20, &n);
    if (text == NULL) {
        loom_conf_error(ls, "users_file", "users_file %s: cannot read it",
                        path);
        free(path);
        return LOOM_ERROR;
    }
    dl = loom_calloc(1, sizeof(*dl));
    dl->users = dyndns_users_parse(text, n, &line, err, sizeof(err));
    OPENSSL_cleanse(text, n);
    free(text);
    if (dl->users == NULL) {
        loom_conf_error_plain("%s:%u: %s", path, line, err);
        free(path);
        free(dl);
        return LOOM_ERROR;
    }
    free(path);
    dl->zone = loom_strdup(zbuf);
    dl->topic = loom_strdup(topic ? topic : "dyndns");
    dl->ttl = (unsigned)ttl;
    dl->delay_ms = (unsigned)delay;
    dl->max_failures = (unsigned)maxf;
    dl->window = (unsigned)win;
    l->dyndns = dl;
    l->doh_dns = loom_strdup(dns);
    return LOOM_OK;
}

void http_dyndns_location_free(http_location_t *l)
{
    if (l->dyndns == NULL)
        return;
    dyndns_users_free(l->dyndns->users);
    free(l->dyndns->zone);
    free(l->dyndns->topic);
    free(l->dyndns);
    l->dyndns = NULL;
}

/* ---- failures per address ------------------------------------------------ */

/* The slot of ADDR (when CREATE and none: a free one, else the one
 * whose window began first), or NULL. */
static dd_fail_t *fail_slot(http_dyndns_loc_t *dl, const char *addr, int create)
{
    dd_fail_t *free_slot = NULL, *oldest = NULL, *v;
    size_t i;

    for (i = 0; i < DD_FAIL_SLOTS; i++) {
        dd_fail_t *f = &dl->fails[i];

        if (f->count && strcmp(f->addr, addr) == 0)
            return f;
        if (f->count == 0) {
            if (free_slot == NULL)
                free_slot = f;
        } else if (oldest == NULL || f->first < oldest->first) {
            oldest = f;
        }
    }
    if (!create)
        return NULL;
    v = free_slot ? free_slot : oldest;
    memset(v, 0, sizeof(*v));
    snprintf(v->addr, sizeof(v->addr), "%s", addr);
    return v;
}

/* Whether ADDR is over its failures now. */
static int fail_blocked(http_dyndns_loc_t *dl, const char *addr)
{
    dd_fail_t *f = fail_slot(dl, addr, 0);
    time_t now = time(NULL);

    if (f == NULL)
        return 0;
    if (now - f->first >= (time_t)dl->window) {
        f->count = 0;
        return 0;
    }
    return f->count >= dl->max_failures;
}

/* Count a failure of ADDR (logged as WHO when it reaches the limit). */
static void fail_count(http_dyndns_loc_t *dl, const char *addr, const char *who)
{
    dd_fail_t *f = fail_slot(dl, addr, 1);
    time_t now = time(NULL);

    if (f->count == 0 || now - f->first >= (time_t)dl->window) {
        f->count = 0;
        f->first = now;
    }
    if (++f->count == dl->max_failures)
        loom_log(LOOM_LOG_WARN, who,
                 "dyndns: %s: %u failed logins, answered abuse for the "
                 "next %lld s",
                 addr, f->count,
                 (long long)(f->first + (time_t)dl->window - now));
}

static void fail_clear(http_dyndns_loc_t *dl, const char *addr)
{
    dd_fail_t *f = fail_slot(dl, addr, 0);

    if (f)
        f->count = 0;
}

/* ---- the request's end --------------------------------------------------- */

static void dd_free(dd_req_t *d)
{
    free(d->zone);
    free(d->topic);
    free(d);
}

/* Detach D from its request and free it (the job, if running, and the
 * batches are let go first). */
static void dd_drop(dd_req_t *d)
{
    size_t i;

    d->r->hdata = NULL;
    d->r->on_abort = NULL;
    loom_timer_disarm(&d->timer);
    if (d->job) {
        d->job->d = NULL;
        loom_work_cancel(d->job->w); /* its done frees it either way */
        d->job = NULL;
    }
    for (i = 0; i < d->q.nhosts; i++) {
        if (d->hosts[i].h) {
            d->svc->cancel(d->hosts[i].h);
            d->hosts[i].h = NULL;
        }
    }
    dd_free(d);
}

static void dd_abort(http_req_t *r)
{
    if (r->hdata)
        dd_drop(r->hdata);
}

/* Answer with one line: CODE alone. */
static void dd_answer_one(http_req_t *r, int status, dyndns_code_t code)
{
    char line[32];
    int n = snprintf(line, sizeof(line), "%s\n", dyndns_code_name(code));

    http_resp_simple(r, status, DD_TYPE, line, (size_t)n);
}

/* Every host has its code: answer one line per host, end D. */
static void dd_finish(dd_req_t *d)
{
    http_req_t *r = d->r;
    char *body = NULL;
    size_t len = 0, cap = 0, i;

    for (i = 0; i < d->q.nhosts; i++) {
        dyndns_code_t c = d->hosts[i].code;
        char line[DD_IP_TEXT + 16];
        int n;

        if (c == DYNDNS_GOOD || c == DYNDNS_NOCHG)
            n = snprintf(line, sizeof(line), "%s %s\n", dyndns_code_name(c),
                         d->iptext);
        else
            n = snprintf(line, sizeof(line), "%s\n", dyndns_code_name(c));
        loom_append(&body, &len, &cap, line, (size_t)n, SIZE_MAX);
    }
    dd_drop(d);
    http_resp_simple(r, 200, DD_TYPE, body ? body : "", len);
    free(body);
}

/* ---- updates ------------------------------------------------------------- */

/* Whether the RRset of TYPE at NODE is exactly the one record ADDR. */
static int set_is(const dns_node_t *node, uint16_t type, const uint8_t *addr,
                  size_t alen)
{
    const dns_rrset_t *s = node ? dns_node_rrset(node, type) : NULL;

    return s && s->count == 1 && s->size == alen + 2 &&
           dns_get16(s->data) == alen && memcmp(s->data + 2, addr, alen) == 0;
}

/* The batch's check: refuse (writing nothing) when the zone holds the
 * addresses already; the callback then says nochg. */
static unsigned dd_check(void *arg, const dns_zone_t *z, char *why,
                         size_t whylen)
{
    dd_host_t *h = arg;
    dd_req_t *d = h->d;
    uint8_t name[DNS_NAME_MAX];
    const dns_node_t *node;
    size_t i = (size_t)(h - d->hosts);

    if (dns_name_from_text(name, d->q.hosts[i], NULL) == 0)
        return 0;
    node = dns_zone_find(z, name);
    if ((!d->q.has_v4 || set_is(node, 1, d->q.v4, 4)) &&
        (!d->q.has_v6 || set_is(node, 28, d->q.v6, 16))) {
        h->unchanged = 1;
        snprintf(why, whylen, "unchanged");
        return 7; /* YXRRSET: nothing to write */
    }
    return 0;
}

static void dd_publish(dd_req_t *d, const char *host)
{
    http_req_t *r = d->r;
    loom_msg_t *m;

    if (!loom_bus_wanted(r->hi->inst, d->topic))
        return;
    m = loom_msg_new(d->topic);
    loom_msg_add(m, "hostname", 8, host, strlen(host));
    loom_msg_add(m, "ip", 2, d->iptext, strlen(d->iptext));
    if (d->ip4[0])
        loom_msg_add(m, "ipv4", 4, d->ip4, strlen(d->ip4));
    if (d->ip6[0])
        loom_msg_add(m, "ipv6", 4, d->ip6, strlen(d->ip6));
    loom_msg_add(m, "user", 4, d->user, strlen(d->user));
    loom_msg_add(m, "zone", 4, d->zone, strlen(d->zone));
    loom_bus_publish(r->hi->inst, m, NULL);
}

static void dd_updated(void *arg, dns_update_status_t status, unsigned rcode,
                       const char *why, uint32_t serial)
{
    dd_host_t *h = arg;
    dd_req_t *d = h->d;
    size_t i = (size_t)(h - d->hosts);

    (void)serial;
    h->h = NULL;
    if (status == DNS_UPDATE_DONE) {
        h->code = DYNDNS_GOOD;
        dd_publish(d, d->q.hosts[i]);
    } else if (status == DNS_UPDATE_REFUSED && h->unchanged) {
        h->code = DYNDNS_NOCHG;
    } else {
        h->code = DYNDNS_911;
        loom_log(LOOM_LOG_WARN, loom_instance_who(d->r->hi->inst),
                 "dyndns: %s: update failed (%u, rcode %u): %s", d->q.hosts[i],
                 (unsigned)status, rcode, why ? why : "");
    }
    if (--d->pending == 0)
        dd_finish(d);
}

/* Submit the batch of host I; its code stays GOOD while in flight. */
static void dd_submit(dd_req_t *d, const dns_update_service_t *svc, void *self,
                      size_t i)
{
    dd_host_t *h = &d->hosts[i];
    char why[256];
    dns_update_t *u = svc->begin(self, d->zone, why, sizeof(why));

    if (u == NULL ||
        (d->ip4[0] && svc->add_text(u, DNS_CH_SET, d->q.hosts[i], "A", d->ttl,
                                    d->ip4, why, sizeof(why)) != 0) ||
        (d->ip6[0] && svc->add_text(u, DNS_CH_SET, d->q.hosts[i], "AAAA",
                                    d->ttl, d->ip6, why, sizeof(why)) != 0)) {
        loom_log(LOOM_LOG_WARN, loom_instance_who(d->r->hi->inst),
                 "dyndns: %s: %s", d->q.hosts[i], why);
        if (u)
            svc->abort(u);
        h->code = DYNDNS_911;
        return;
    }
    svc->set_check(u, dd_check, h);
    d->pending++;
    h->h = svc->submit(u, dd_updated, h);
}

/* The address to set: the query's, else the client's own. */
static void dd_addresses(dd_req_t *d)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);

    if (!d->q.has_v4 && !d->q.has_v6 &&
        loom_conn_peer_addr(d->r->conn, &ss, &sl) == LOOM_OK) {
        if (ss.ss_family == AF_INET) {
            memcpy(d->q.v4, &((struct sockaddr_in *)&ss)->sin_addr, 4);
            d->q.has_v4 = 1;
        } else if (ss.ss_family == AF_INET6) {
            const uint8_t *a = ((struct sockaddr_in6 *)&ss)->sin6_addr.s6_addr;
            static const uint8_t mapped[12] = {0, 0, 0, 0, 0,    0,
                                               0, 0, 0, 0, 0xff, 0xff};

            if (memcmp(a, mapped, 12) == 0) {
                memcpy(d->q.v4, a + 12, 4);
                d->q.has_v4 = 1;
            } else {
                memcpy(d->q.v6, a, 16);
                d->q.has_v6 = 1;
            }
        }
    }
    if (d->q.has_v4)
        inet_ntop(AF_INET, d->q.v4, d->ip4, sizeof(d->ip4));
    if (d->q.has_v6)
        inet_ntop(AF_INET6, d->q.v6, d->ip6, sizeof(d->ip6));
    snprintf(d->iptext, sizeof(d->iptext), "%s%s%s", d->ip4,
             d->ip4[0] && d->ip6[0] ? "," : "", d->ip6);
}

/* Authenticated as U: the codes of the names, then the batches. */
static void dd_run(dd_req_t *d, const dyndns_user_t *u)
{
    const dns_update_service_t *svc;
    void *self = NULL;
    size_t i;
    int any = 0;

    if (d->q.too_many) {
        http_req_t *r = d->r;

        dd_drop(d);
        dd_answer_one(r, 200, DYNDNS_NUMHOST);
        return;
    }
    if (d->q.nhosts == 0) {
        http_req_t *r = d->r;

        dd_drop(d);
        dd_answer_one(r, 200, DYNDNS_NOTFQDN);
        return;
    }
    dd_addresses(d);
    for (i = 0; i < d->q.nhosts; i++) {
        d->hosts[i].d = d;
        d->hosts[i].code = dyndns_host_code(u, d->zone, d->q.hosts[i]);
        any |= d->hosts[i].code == DYNDNS_GOOD;
    }
    svc = any ? loom_service_get(&d->ref, &self, NULL) : NULL;
    for (i = 0; i < d->q.nhosts; i++) {
        if (d->hosts[i].code != DYNDNS_GOOD)
            continue;
        if (svc == NULL || !d->iptext[0]) {
            d->hosts[i].code = DYNDNS_911;
            continue;
        }
        d->svc = svc;
        dd_submit(d, svc, self, i);
    }
    if (d->pending == 0)
        dd_finish(d);
}

/* ---- authentication ------------------------------------------------------ */

/* The constant delay is over: badauth. */
static void dd_badauth_now(loom_timer_t *t, void *arg)
{
    dd_req_t *d = arg;
    http_req_t *r = d->r;

    (void)t;
    dd_drop(d);
    dd_answer_one(r, 200, DYNDNS_BADAUTH);
}

/* Wrong credentials: count, then answer DELAY ms after the request came
 * (or at once if the hash took longer). */
static void dd_badauth(dd_req_t *d, unsigned delay_ms)
{
    http_req_t *r = d->r;
    struct timespec ts;
    uint64_t now, spent;

    http_req_conf(r);
    if (r->loc && r->loc->dyndns)
        fail_count(r->loc->dyndns, d->peer, loom_instance_who(r->hi->inst));
    clock_gettime(CLOCK_MONOTONIC, &ts);
    now = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    spent = now > r->start_ns ? (now - r->start_ns) / 1000000u : 0;
    loom_timer_init_conn(&d->timer, r->conn, dd_badauth_now, d);
    loom_timer_arm(&d->timer, spent < delay_ms ? delay_ms - spent : 0);
}

static void dd_crypt_work(void *arg)
{
    dd_job_t *j = arg;
    struct crypt_data *cd = loom_calloc(1, sizeof(*cd));
    const char *h = crypt_r(j->pass, j->hash, cd);
    size_t n = strlen(j->hash);

    j->ok =
        h && h[0] != '*' && strlen(h) == n && CRYPTO_memcmp(h, j->hash, n) == 0;
    OPENSSL_cleanse(cd, sizeof(*cd));
    free(cd);
}

static void dd_job_free(dd_job_t *j)
{
    OPENSSL_cleanse(j->pass, sizeof(j->pass));
    free(j->hash);
    free(j);
}

static void dd_crypt_done(void *arg, int status)
{
    dd_job_t *j = arg;
    dd_req_t *d = j->d;
    int ok = status == LOOM_WORK_COMPLETED && j->ok;
    http_req_t *r;
    const dyndns_user_t *u;

    dd_job_free(j);
    if (d == NULL)
        return; /* the request went away */
    d->job = NULL;
    r = d->r;
    if (status != LOOM_WORK_COMPLETED) {
        dd_drop(d);
        dd_answer_one(r, 200, DYNDNS_911);
        return;
    }
    http_req_conf(r);
    if (r->loc == NULL || r->loc->dyndns == NULL ||
        (u = dyndns_user_find(r->loc->dyndns->users, d->user,
                              strlen(d->user))) == NULL) {
        /* a reload replaced the users: judge with the users it left */
        if (!ok) {
            dd_badauth(d, 0);
            return;
        }
        dd_drop(d);
        dd_answer_one(r, 200, DYNDNS_911);
        return;
    }
    if (!ok) {
        dd_badauth(d, r->loc->dyndns->delay_ms);
        return;
    }
    fail_clear(r->loc->dyndns, d->peer);
    dd_run(d, u);
}

/* ---- the handler --------------------------------------------------------- */

static void dyndns_process(http_req_t *r)
{
    http_dyndns_loc_t *dl = r->loc->dyndns;
    const http_field_t *auth = http_req_field(r, "authorization");
    char pass[DD_PASS_MAX];
    const dyndns_user_t *u;
    dd_req_t *d;
    dd_job_t *j;

    if (r->method_id != HTTP_M_GET) {
        http_resp_header(r, "Allow", "GET");
        http_resp_refuse(r, 405, NULL, NULL);
        return;
    }
    d = loom_calloc(1, sizeof(*d));
    d->r = r;
    snprintf(d->peer, sizeof(d->peer), "%s", loom_conn_peer(r->conn));
    if (dyndns_query_parse(r->query.p, r->query.len, &d->q) != 0) {
        dd_free(d);
        http_resp_refuse(r, 400, NULL, NULL);
        return;
    }
    if (fail_blocked(dl, d->peer)) {
        dd_free(d);
        dd_answer_one(r, 200, DYNDNS_ABUSE);
        return;
    }
    if (auth == NULL ||
        dyndns_basic_auth(auth->value.p, auth->value.len, d->user,
                          sizeof(d->user), pass, sizeof(pass)) != 0) {
        dd_free(d);
        http_resp_header(r, "WWW-Authenticate",
                         "Basic realm=\"dyndns\", charset=\"UTF-8\"");
        dd_answer_one(r, 401, DYNDNS_BADAUTH);
        return;
    }
    d->zone = loom_strdup(dl->zone);
    d->topic = loom_strdup(dl->topic);
    d->ttl = dl->ttl;
    loom_service_ref_init(&d->ref, loom_instance_server(r->hi->inst), "dns",
                          r->loc->doh_dns, DNS_UPDATE_SERVICE);
    r->hdata = d;
    r->on_abort = dd_abort;
    u = dyndns_user_find(dl->users, d->user, strlen(d->user));
    if (u == NULL) { /* no hash to check: the same delay all the same */
        OPENSSL_cleanse(pass, sizeof(pass));
        dd_badauth(d, dl->delay_ms);
        return;
    }
    j = loom_calloc(1, sizeof(*j));
    j->d = d;
    j->hash = loom_strdup(u->hash);
    memcpy(j->pass, pass, sizeof(j->pass));
    OPENSSL_cleanse(pass, sizeof(pass));
    d->job = j;
    j->w = loom_work_submit(r->hi->inst, dd_crypt_work, dd_crypt_done, j);
}

const http_handler_t http_handler_dyndns = {"dyndns", dyndns_process};
