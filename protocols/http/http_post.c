/*
 * http_post.c - the http module's `post` action: webhooks out.  A route
 * calls it with rendered parameters (loom_bus.h):
 *
 *   url           http://HOST[:PORT]/PATH?Q or https://... (required)
 *   body          the request body ("" when not set)
 *   method        POST (default) or PUT
 *   content_type  default application/json
 *   header        one extra "Name: value" line
 *   timeout       seconds for the whole exchange, 1-300 (default 10)
 *
 * One call is one connection (loom_client.h: TLS verified against the
 * system store or post_ca_file, SNI from the URL's host), one request
 * with Connection: close, and the response head read with the proxy's
 * sans-I/O parser (h1_resp.c).  The status decides: 2xx DONE; 5xx, 408,
 * 429, connect failures, a closed connection, a bad response and the
 * timeout RETRY; other statuses (3xx, 4xx) and bad parameters FAILED.
 *
 * Ownership: the instance's post list holds every call in flight; the
 * connection's data pointer and the timer point at the call's state, and
 * post_end clears the one and disarms the other before freeing it, so no
 * callback can reach freed state.  At instance stop every call still held
 * ends FAILED ("stopping"), its connect cancelled, its connection
 * aborted.  A graceful stop lets posts in flight finish within its grace
 * period (their connections count as open ones); those the grace period
 * cuts off end FAILED ("stopping") too, as do calls made once the stop
 * began (queued messages and retries: no new connection goes out).
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509_vfy.h>

#include "h1_resp.h"
#include "http.h"

#define POST_FIELDS 100           /* response header fields */
#define POST_HEAD_MAX (16 * 1024) /* response head bytes */
#define POST_TIMEOUT_DEFAULT 10   /* seconds */
#define POST_TIMEOUT_MAX 300

typedef struct http_post_s http_post_t;

struct http_post_rt_s {
    http_instance_t *hi;
    http_post_t *list; /* calls in flight */
    unsigned inflight;
    int stopping;
};

struct http_post_s {
    http_post_rt_t *rt;
    loom_action_call_t *call;
    loom_connect_t *lc; /* connect in progress */
    loom_conn_t *c;     /* the connection, once made */
    loom_timer_t timer; /* the whole exchange */
    unsigned timeout;   /* seconds */
    char *req;          /* the request bytes */
    size_t reqlen;
    size_t last_len; /* head parser resume hint */
    http_post_t *next, *prev;
    h1_field_t fields[POST_FIELDS];
};

/* A parsed url parameter. */
typedef struct {
    int tls;
    char host[256]; /* without brackets */
    int port;
    const char *hostport; /* for Host: into the url, HPLEN bytes */
    size_t hplen;
    const char *target; /* path and query, TLEN bytes (may be empty or
                         * start with '?': "/" goes first then) */
    size_t tlen;
} post_url_t;

/* ---- configuration ---------------------------------------------------------
 */

/* Does PATH hold at least one PEM certificate (a directory or an empty
 * file would fail every https post, each at its first connect)? */
static int ca_file_ok(const char *path)
{
    X509_STORE *st = X509_STORE_new();
    int ok = st && X509_STORE_load_file(st, path) == 1;

    X509_STORE_free(st);
    ERR_clear_error();
    return ok;
}

int http_post_conf(cfg_t *sec, http_conf_t *hc)
{
    long n = cfg_getint(sec, "post_concurrency");
    const char *ca = cfg_getstr(sec, "post_ca_file");

    if (n < 1 || n > 100000) {
        loom_conf_error(sec, "post_concurrency",
                        "post_concurrency must be 1-100000, not %ld", n);
        return LOOM_ERROR;
    }
    hc->post_max = (unsigned)n;
    if (ca && ca[0]) {
        hc->post_ca_file = loom_conf_path(sec, "post_ca_file", ca);
        if (access(hc->post_ca_file, R_OK) != 0) {
            loom_conf_error(sec, "post_ca_file", "post_ca_file %s: %s",
                            hc->post_ca_file, strerror(errno));
            return LOOM_ERROR;
        }
        if (!ca_file_ok(hc->post_ca_file)) {
            loom_conf_error(sec, "post_ca_file",
                            "post_ca_file %s: no PEM certificate in it",
                            hc->post_ca_file);
            return LOOM_ERROR;
        }
    }
    return LOOM_OK;
}

void http_post_conf_free(http_conf_t *hc)
{
    free(hc->post_ca_file);
    hc->post_ca_file = NULL;
}

/* ---- parameters ------------------------------------------------------------
 */

/* Parse URL (LEN bytes) into U; 0, or -1 with WHY. */
static int url_parse(const char *url, size_t len, post_url_t *u,
                     const char **why)
{
    const char *p, *end = url + len, *a, *hend;
    size_t i;

    memset(u, 0, sizeof(*u));
    for (i = 0; i < len; i++) {
        if ((unsigned char)url[i] <= ' ' || url[i] == 0x7f) {
            *why = "bad url: a space or control character";
            return -1;
        }
    }
    if (len > 7 && strncasecmp(url, "http://", 7) == 0) {
        p = url + 7;
        u->port = 80;
    } else if (len > 8 && strncasecmp(url, "https://", 8) == 0) {
        p = url + 8;
        u->port = 443;
        u->tls = 1;
    } else {
        *why = "bad url: not http:// or https://";
        return -1;
    }
    for (a = p; a < end && *a != '/' && *a != '?' && *a != '#'; a++)
        ;
    u->hostport = p;
    u->hplen = (size_t)(a - p);
    if (memchr(p, '@', u->hplen)) {
        *why = "bad url: user information is not supported";
        return -1;
    }
    if (u->hplen && *p == '[') {
        hend = memchr(p, ']', u->hplen);
        if (hend == NULL) {
            *why = "bad url: unclosed '['";
            return -1;
        }
        if ((size_t)(hend - p - 1) >= sizeof(u->host)) {
            *why = "bad url: host too long";
            return -1;
        }
        memcpy(u->host, p + 1, (size_t)(hend - p - 1));
        hend++;
    } else {
        hend = memchr(p, ':', u->hplen);
        if (hend == NULL)
            hend = a;
        if ((size_t)(hend - p) >= sizeof(u->host)) {
            *why = "bad url: host too long";
            return -1;
        }
        memcpy(u->host, p, (size_t)(hend - p));
    }
    if (u->host[0] == '\0') {
        *why = "bad url: no host";
        return -1;
    }
    if (hend < a) {
        long port = 0;

        if (*hend != ':' || hend + 1 == a) {
            *why = "bad url: bad port";
            return -1;
        }
        for (p = hend + 1; p < a; p++) {
            if (!isdigit((unsigned char)*p) ||
                (port = port * 10 + *p - '0') > 65535) {
                *why = "bad url: bad port";
                return -1;
            }
        }
        if (port == 0) {
            *why = "bad url: bad port";
            return -1;
        }
        u->port = (int)port;
    }
    /* the target: up to a fragment */
    hend = memchr(a, '#', (size_t)(end - a));
    u->target = a;
    u->tlen = (size_t)((hend ? hend : end) - a);
    return 0;
}

/* A header value: no CR, LF or NUL. */
static int value_ok(const char *v, size_t len)
{
    return memchr(v, '\r', len) == NULL && memchr(v, '\n', len) == NULL &&
           memchr(v, '\0', len) == NULL;
}

/* "Name: value", NAME a token and not one the request frames itself
 * with. */
static int header_ok(const char *h, size_t len)
{
    static const char *const own[] = {"host", "content-length",
                                      "transfer-encoding", "connection",
                                      "content-type"};
    const char *colon = memchr(h, ':', len);
    size_t i, nl;

    if (colon == NULL || colon == h || !value_ok(h, len))
        return 0;
    nl = (size_t)(colon - h);
    for (i = 0; i < nl; i++) {
        unsigned char c = (unsigned char)h[i];

        if (!(isalnum(c) || strchr("!#$%&'*+-.^_`|~", c)))
            return 0;
    }
    for (i = 0; i < LOOM_ARRAY_LEN(own); i++) {
        if (strlen(own[i]) == nl && strncasecmp(own[i], h, nl) == 0)
            return 0;
    }
    return 1;
}

/* Append to a growable buffer. */
static void buf_add(char **b, size_t *len, size_t *cap, const char *p, size_t n)
{
    if (*len + n + 1 > *cap) {
        size_t c = *cap ? *cap : 512;

        while (c < *len + n + 1)
            c *= 2;
        *b = loom_realloc(*b, c);
        *cap = c;
    }
    memcpy(*b + *len, p, n);
    *len += n;
    (*b)[*len] = '\0';
}

#define BUF_LIT(b, l, c, lit) buf_add((b), (l), (c), (lit), sizeof(lit) - 1)

/* Build P's request from CALL's parameters into p->req and U; 0, or -1
 * with WHY. */
static int post_build(http_post_t *p, const loom_action_call_t *call,
                      post_url_t *u, const char **why)
{
    size_t ulen = 0, blen = 0, mlen = 0, clen = 0, hlen = 0, tlen = 0, cap = 0;
    const char *url = loom_action_param(call, "url", &ulen);
    const char *body = loom_action_param(call, "body", &blen);
    const char *method = loom_action_param(call, "method", &mlen);
    const char *ctype = loom_action_param(call, "content_type", &clen);
    const char *header = loom_action_param(call, "header", &hlen);
    const char *tmo = loom_action_param(call, "timeout", &tlen);
    char line[64];
    int n;

    if (url == NULL || url_parse(url, ulen, u, why) != 0) {
        if (url == NULL)
            *why = "no url";
        return -1;
    }
    if (method == NULL || mlen == 0) {
        method = "POST";
    } else if (strcasecmp(method, "POST") == 0) {
        method = "POST";
    } else if (strcasecmp(method, "PUT") == 0) {
        method = "PUT";
    } else {
        *why = "bad method: POST or PUT";
        return -1;
    }
    if (ctype == NULL || clen == 0) {
        ctype = "application/json";
        clen = strlen(ctype);
    } else if (!value_ok(ctype, clen)) {
        *why = "bad content_type";
        return -1;
    }
    if (header && hlen && !header_ok(header, hlen)) {
        *why = "bad header: \"Name: value\", not one of Host, "
               "Content-Length, Transfer-Encoding, Connection, Content-Type";
        return -1;
    }
    p->timeout = POST_TIMEOUT_DEFAULT;
    if (tmo && tlen) {
        char *end;
        long t = strtol(tmo, &end, 10);

        if (*end != '\0' || !isdigit((unsigned char)tmo[0]) || t < 1 ||
            t > POST_TIMEOUT_MAX) {
            *why = "bad timeout: 1-300 seconds";
            return -1;
        }
        p->timeout = (unsigned)t;
    }
    if (body == NULL)
        body = "";
    buf_add(&p->req, &p->reqlen, &cap, method, strlen(method));
    BUF_LIT(&p->req, &p->reqlen, &cap, " ");
    if (u->tlen == 0 || u->target[0] == '?')
        BUF_LIT(&p->req, &p->reqlen, &cap, "/");
    buf_add(&p->req, &p->reqlen, &cap, u->target, u->tlen);
    BUF_LIT(&p->req, &p->reqlen, &cap, " HTTP/1.1\r\nHost: ");
    buf_add(&p->req, &p->reqlen, &cap, u->hostport, u->hplen);
    BUF_LIT(&p->req, &p->reqlen, &cap,
            "\r\nUser-Agent: loom/" LOOM_VERSION_STRING
            "\r\nConnection: close\r\nContent-Type: ");
    buf_add(&p->req, &p->reqlen, &cap, ctype, clen);
    n = snprintf(line, sizeof(line), "\r\nContent-Length: %zu\r\n", blen);
    buf_add(&p->req, &p->reqlen, &cap, line, (size_t)n);
    if (header && hlen) {
        buf_add(&p->req, &p->reqlen, &cap, header, hlen);
        BUF_LIT(&p->req, &p->reqlen, &cap, "\r\n");
    }
    BUF_LIT(&p->req, &p->reqlen, &cap, "\r\n");
    buf_add(&p->req, &p->reqlen, &cap, body, blen);
    return 0;
}

/* ---- one call
 * ----------------------------------------------------------------- */

/* End P's call with RESULT and WHY: detach from the connect, the
 * connection and the timer, free P, then tell the bus. */
static void post_end(http_post_t *p, loom_act_result_t result, const char *why)
{
    http_post_rt_t *rt = p->rt;
    loom_action_call_t *call = p->call;

    if (p->prev)
        p->prev->next = p->next;
    else
        rt->list = p->next;
    if (p->next)
        p->next->prev = p->prev;
    rt->inflight--;
    loom_timer_disarm(&p->timer);
    if (p->lc)
        loom_connect_cancel(p->lc);
    if (p->c) {
        loom_conn_set_data(p->c, NULL);
        loom_conn_abort(p->c); /* its close callback finds no call */
    }
    free(p->req);
    free(p);
    loom_action_done(call, result, why);
}

static void post_timeout(loom_timer_t *t, void *arg)
{
    http_post_t *p = arg;
    char why[64];

    (void)t;
    snprintf(why, sizeof(why), "timed out after %u s", p->timeout);
    post_end(p, LOOM_ACT_RETRY, why);
}

/* The final response head: its status decides. */
static void post_status(http_post_t *p, const h1_resp_head_t *h)
{
    char why[128], reason[64];
    size_t i, n = h->reason.len < sizeof(reason) - 1 ? h->reason.len
                                                     : sizeof(reason) - 1;
    loom_act_result_t res;

    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)h->reason.p[i];

        reason[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    reason[n] = '\0';
    snprintf(why, sizeof(why), "HTTP %d%s%s", h->status, n ? " " : "", reason);
    if (h->status >= 200 && h->status <= 299)
        res = LOOM_ACT_DONE;
    else if (h->status >= 500 || h->status == 408 || h->status == 429)
        res = LOOM_ACT_RETRY;
    else
        res = LOOM_ACT_FAILED;
    post_end(p, res, why);
}

static size_t post_data(loom_conn_t *c, const char *buf, size_t len)
{
    http_post_t *p = loom_conn_data(c);
    size_t used = 0;

    if (p == NULL)
        return len;
    while (used < len) {
        h1_resp_head_t h;
        int n;

        memset(&h, 0, sizeof(h));
        h.fields = p->fields;
        h.max_fields = POST_FIELDS;
        n = h1_resp_parse_head(buf + used, len - used, p->last_len,
                               POST_HEAD_MAX, &h);
        if (n == H1_PARTIAL) {
            p->last_len = len - used;
            return used;
        }
        p->last_len = 0;
        if (n == H1_ERROR) {
            post_end(p, LOOM_ACT_RETRY, "bad response head");
            return len;
        }
        used += (size_t)n;
        if (h.status >= 200 || h.status == 101) {
            post_status(p, &h);
            return len;
        }
        /* 100 Continue, 103 Early Hints: the final head follows */
    }
    return used;
}

static void post_close(loom_conn_t *c)
{
    http_post_t *p = loom_conn_data(c);

    if (p == NULL)
        return;
    p->c = NULL;
    loom_conn_set_data(c, NULL);
    if (p->rt->hi->quiescing) /* the grace period of a stop ran out */
        post_end(p, LOOM_ACT_FAILED, "stopping");
    else
        post_end(p, LOOM_ACT_RETRY, "connection closed before the response");
}

static const loom_handler_t post_handler = {NULL, post_data, NULL, post_close};

static void post_connected(loom_conn_t *c, const loom_connect_result_t *res,
                           void *arg)
{
    http_post_t *p = arg;
    char why[160];

    p->lc = NULL;
    if (c == NULL) {
        int final = res->status == LOOM_CONNECT_EINVAL ||
                    res->status == LOOM_CONNECT_EVERIFY ||
                    (res->status == LOOM_CONNECT_ERESOLVE &&
                     !loom_dns_temporary((loom_dns_status_t)res->dns_status));

        snprintf(why, sizeof(why), "connect: %s",
                 res->err ? res->err : "failed");
        post_end(p, final ? LOOM_ACT_FAILED : LOOM_ACT_RETRY, why);
        return;
    }
    p->c = c;
    loom_conn_set_data(c, p);
    loom_conn_set_max_input(c, POST_HEAD_MAX + 1024);
    if (loom_conn_write(c, p->req, p->reqlen) == LOOM_ERROR)
        post_end(p, LOOM_ACT_RETRY, "connection closed while sending");
}

/* The action's call function. */
static void post_call(loom_instance_t *inst, loom_action_call_t *call)
{
    http_instance_t *hi = loom_instance_data(inst);
    http_post_rt_t *rt = hi ? hi->post_rt : NULL;
    http_conf_t *hc = loom_instance_conf(inst);
    loom_connect_opts_t opts;
    const char *why = NULL;
    http_post_t *p;
    post_url_t u;

    /* a graceful stop lets posts under way finish, but starts none: the
     * messages still waiting are lost with the queues */
    if (rt == NULL || rt->stopping || hi->quiescing) {
        loom_action_done(call, LOOM_ACT_FAILED, "stopping");
        return;
    }
    if (rt->inflight >= hc->post_max) {
        loom_action_done(call, LOOM_ACT_RETRY,
                         "too many posts in flight (post_concurrency)");
        return;
    }
    p = loom_calloc(1, sizeof(*p));
    if (post_build(p, call, &u, &why) != 0) {
        free(p->req);
        free(p);
        loom_action_done(call, LOOM_ACT_FAILED, why);
        return;
    }
    p->rt = rt;
    p->call = call;
    p->next = rt->list;
    if (rt->list)
        rt->list->prev = p;
    rt->list = p;
    rt->inflight++;
    loom_timer_init(&p->timer, inst, post_timeout, p);
    loom_timer_arm(&p->timer, (uint64_t)p->timeout * 1000);
    memset(&opts, 0, sizeof(opts));
    opts.timeout_ms = p->timeout * 1000u;
    opts.tls = u.tls;
    opts.tls_opts.ca_file = hc->post_ca_file;
    p->lc = loom_connect_host(loom_instance_server(inst), u.host, u.port, &opts,
                              &post_handler, post_connected, p);
}

static const loom_action_param_t post_params[] = {
    {"url", 1},    {"body", 0},    {"method", 0}, {"content_type", 0},
    {"header", 0}, {"timeout", 0}, {NULL, 0}};

const loom_action_t http_actions[] = {{"post", post_params, post_call},
                                      {NULL, NULL, NULL}};

/* ---- the instance ----------------------------------------------------------
 */

void http_post_start(http_instance_t *hi)
{
    hi->post_rt = loom_calloc(1, sizeof(*hi->post_rt));
    hi->post_rt->hi = hi;
}

void http_post_stop(http_instance_t *hi)
{
    http_post_rt_t *rt = hi->post_rt;

    if (rt == NULL)
        return;
    rt->stopping = 1;
    while (rt->list)
        post_end(rt->list, LOOM_ACT_FAILED, "stopping");
    free(rt);
    hi->post_rt = NULL;
}
