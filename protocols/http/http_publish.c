/*
 * http_publish.c - the `publish` handler: webhooks in.  A POST whose body
 * is a JSON object, a form or text becomes one bus message on the
 * location's topic (loom_bus.h): selected request headers first, then
 * the body's fields (http_flatten.c), the raw body as the message body.
 *
 *   POST --auth (bearer / HMAC header present)--> buffer the body (up to
 *   max_body) --HMAC check--> flatten --> loom_bus_publish --> 202 {id}
 *
 * Every answer is a small JSON object: {"id":N,"matched":M,"queued":Q}
 * with 202, {"error":"..."} otherwise.  Nothing here looks at the
 * location after the handler started: a reload may free it while the body
 * is still arriving, so what the rest needs (topic, secret) is copied.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "http.h"
#include "http_flatten.h"

#define PUB_SECRET_MAX 4096 /* bytes of a secret file */
#define PUB_RETRY_AFTER "1" /* seconds, with 429 */

struct http_publish_loc_s {
    char *topic;
    char **headers; /* lowercase names */
    size_t nheaders;
    char *bearer; /* or NULL */
    size_t bearer_len;
    char *hmac; /* or NULL */
    size_t hmac_len;
    char *hmac_header;
};

/* One request's state (r->hdata). */
typedef struct {
    loom_msg_t *msg; /* being built: the header fields are in */
    int kind;        /* HTTP_BODY_* */
    char *body;
    size_t len, cap;
    char *hmac; /* a copy of the secret, or NULL */
    size_t hmac_len;
    unsigned char sig[32];
} pub_req_t;

/* ---- configuration --------------------------------------------------------
 */

/* Wipe and free a secret. */
static void secret_free(char *s, size_t len)
{
    if (s == NULL)
        return;
    OPENSSL_cleanse(s, len);
    free(s);
}

/* A secret given inline (OPT) or in a file (OPT_file, trailing newline
 * and spaces dropped); *OUT NULL when neither is set. */
static int conf_secret(cfg_t *ls, const char *opt, char **out, size_t *len)
{
    char fopt[64];
    const char *inl = cfg_getstr(ls, opt), *file;

    snprintf(fopt, sizeof(fopt), "%s_file", opt);
    file = cfg_getstr(ls, fopt);
    *out = NULL;
    *len = 0;
    if (inl && file) {
        loom_conf_error(ls, fopt, "give %s or %s, not both", opt, fopt);
        return LOOM_ERROR;
    }
    if (file) {
        char *path = loom_conf_path(ls, fopt, file);
        size_t n = 0;
        char *s = loom_read_file(path, PUB_SECRET_MAX, &n);

        if (s == NULL) {
            loom_conf_error(ls, fopt, "%s %s: %s", fopt, path,
                            errno ? strerror(errno) : "unreadable");
            free(path);
            return LOOM_ERROR;
        }
        free(path);
        while (n && strchr("\r\n \t", s[n - 1]))
            s[--n] = '\0';
        *out = s;
        *len = n;
    } else if (inl) {
        *out = loom_strdup(inl);
        *len = strlen(inl);
    } else {
        return LOOM_OK;
    }
    if (*len == 0 || memchr(*out, '\0', *len)) {
        loom_conf_error(ls, file ? fopt : opt, "%s is empty",
                        file ? fopt : opt);
        return LOOM_ERROR;
    }
    return LOOM_OK;
}

/* A header name: an HTTP token of at most 256 bytes. */
static int is_token(const char *s)
{
    if (*s == '\0' || strlen(s) > 256)
        return 0;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;

        if (!(isalnum(c) || strchr("!#$%&'*+-.^_`|~", c)))
            return 0;
    }
    return 1;
}

static char *lower_dup(const char *s)
{
    char *d = loom_strdup(s), *p;

    for (p = d; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return d;
}

/* A topic names a stream of messages, not data: a short word. */
#define HTTP_PUBLISH_TOPIC_MAX 255

int http_publish_location(cfg_t *ls, http_location_t *l)
{
    http_publish_loc_t *pl = loom_calloc(1, sizeof(*pl));
    const char *topic = cfg_getstr(ls, "topic"), *hh;
    size_t i, n = cfg_size(ls, "publish_headers");

    l->publish = pl;
    if (topic == NULL || topic[0] == '\0') {
        loom_conf_error(ls, NULL,
                        "location \"%s\": the publish handler needs a topic",
                        cfg_title(ls));
        return LOOM_ERROR;
    }
    if (strlen(topic) > HTTP_PUBLISH_TOPIC_MAX) {
        loom_conf_error(ls, "topic", "topic is longer than %d bytes",
                        HTTP_PUBLISH_TOPIC_MAX);
        return LOOM_ERROR;
    }
    for (i = 0; topic[i]; i++) {
        if ((unsigned char)topic[i] <= ' ' || topic[i] == ':' ||
            topic[i] == 0x7f) {
            loom_conf_error(ls, "topic",
                            "topic \"%s\" may not hold spaces, control "
                            "characters or ':'",
                            topic);
            return LOOM_ERROR;
        }
    }
    pl->topic = loom_strdup(topic);
    pl->headers = loom_calloc(n ? n : 1, sizeof(char *));
    for (i = 0; i < n; i++) {
        const char *h = cfg_getnstr(ls, "publish_headers", (unsigned)i);

        if (!is_token(h)) {
            loom_conf_error(ls, "publish_headers",
                            "publish_headers: \"%s\" is not a header name", h);
            return LOOM_ERROR;
        }
        pl->headers[pl->nheaders++] = lower_dup(h);
    }
    if (conf_secret(ls, "bearer_token", &pl->bearer, &pl->bearer_len) ||
        conf_secret(ls, "hmac_secret", &pl->hmac, &pl->hmac_len))
        return LOOM_ERROR;
    hh = cfg_getstr(ls, "hmac_header");
    if (!is_token(hh)) {
        loom_conf_error(ls, "hmac_header",
                        "hmac_header \"%s\" is not a header name", hh);
        return LOOM_ERROR;
    }
    pl->hmac_header = lower_dup(hh);
    return LOOM_OK;
}

void http_publish_location_free(http_location_t *l)
{
    http_publish_loc_t *pl = l->publish;
    size_t i;

    if (pl == NULL)
        return;
    free(pl->topic);
    for (i = 0; i < pl->nheaders; i++)
        free(pl->headers[i]);
    free(pl->headers);
    secret_free(pl->bearer, pl->bearer_len);
    secret_free(pl->hmac, pl->hmac_len);
    free(pl->hmac_header);
    free(pl);
    l->publish = NULL;
}

/* ---- answers --------------------------------------------------------------
 */

/* A JSON answer {"error":"WHY"} with STATUS (WHY holds no byte JSON must
 * escape but '"' and '\\', which are escaped). */
static void pub_error(http_req_t *r, int status, const char *why)
{
    char body[512];
    size_t o = 0;

    o += (size_t)snprintf(body, sizeof(body), "{\"error\":\"");
    for (; *why && o < sizeof(body) - 8; why++) {
        unsigned char c = (unsigned char)*why;

        if (c == '"' || c == '\\')
            body[o++] = '\\';
        body[o++] = c < 0x20 ? ' ' : (char)c;
    }
    o += (size_t)snprintf(body + o, sizeof(body) - o, "\"}\n");
    http_resp_header(r, "Cache-Control", "no-store");
    http_resp_simple(r, status, "application/json", body, o);
}

static void pub_free(pub_req_t *pb)
{
    if (pb == NULL)
        return;
    if (pb->msg)
        loom_msg_unref(pb->msg);
    free(pb->body);
    secret_free(pb->hmac, pb->hmac_len);
    free(pb);
}

/* Detach and free R's state. */
static void pub_done(http_req_t *r)
{
    pub_req_t *pb = r->hdata;

    r->hdata = NULL;
    r->on_body = NULL;
    r->on_abort = NULL;
    pub_free(pb);
}

static void pub_abort(http_req_t *r)
{
    pub_done(r);
}

/* http_resp_refuse's answer: WHY is a string literal. */
static void pub_refused(http_req_t *r, int status, const void *why)
{
    pub_error(r, status, why);
}

/* Refuse R with STATUS and WHY (a literal) once its body is in. */
static void pub_refuse(http_req_t *r, int status, const char *why)
{
    http_resp_refuse(r, status, pub_refused, why);
}

static void pub_field(void *arg, const char *name, size_t nlen,
                      const char *value, size_t vlen)
{
    loom_msg_add(arg, name, nlen, value, vlen);
}

/* The whole body is in: check, flatten, publish, answer. */
static void pub_finish(http_req_t *r)
{
    pub_req_t *pb = r->hdata;
    loom_publish_result_t res;
    loom_msg_t *m;
    char err[160], body[160];
    int rc = HTTP_FLAT_OK, n;

    if (pb->hmac &&
        !http_sig_check(pb->hmac, pb->hmac_len, pb->body ? pb->body : "",
                        pb->len, pb->sig)) {
        pub_done(r);
        pub_error(r, 403, "bad signature");
        return;
    }
    err[0] = '\0';
    if (pb->kind == HTTP_BODY_JSON)
        rc = http_flatten_json(pb->body ? pb->body : "", pb->len, NULL,
                               pub_field, pb->msg, err, sizeof(err));
    else if (pb->kind == HTTP_BODY_FORM)
        rc = http_flatten_form(pb->body ? pb->body : "", pb->len, NULL,
                               pub_field, pb->msg, err, sizeof(err));
    else
        loom_msg_add(pb->msg, "text", 4, pb->body ? pb->body : "", pb->len);
    if (rc != HTTP_FLAT_OK) {
        pub_done(r);
        pub_error(r, 400, err);
        return;
    }
    m = pb->msg;
    pb->msg = NULL;
    loom_msg_set_body(m, pb->body ? pb->body : "", pb->len);
    pub_done(r);
    memset(&res, 0, sizeof(res));
    loom_msg_ref(m); /* for its id after publishing */
    rc = loom_bus_publish(r->hi->inst, m, &res);
    if (rc != LOOM_OK) {
        loom_msg_unref(m);
        pub_error(r, 503, "not published (the server is stopping)");
        return;
    }
    if (res.matched > 0 && res.queued == 0 && res.dropped > 0) {
        loom_msg_unref(m);
        http_resp_header(r, "Retry-After", PUB_RETRY_AFTER);
        pub_error(r, 429, "every route that takes it is full");
        return;
    }
    n = snprintf(body, sizeof(body),
                 "{\"id\":%llu,\"matched\":%u,\"queued\":%u}\n",
                 (unsigned long long)loom_msg_id(m), res.matched, res.queued);
    loom_msg_unref(m);
    http_resp_header(r, "Cache-Control", "no-store");
    http_resp_simple(r, 202, "application/json", body, (size_t)n);
}

static void pub_body(http_req_t *r, const char *p, size_t len, int last)
{
    pub_req_t *pb = r->hdata;

    /* http_req_body keeps the total within max_body */
    loom_append(&pb->body, &pb->len, &pb->cap, p, len, r->max_body);
    if (last)
        pub_finish(r);
}

/* ---- the handler ----------------------------------------------------------
 */

/* Authorization: Bearer TOKEN, compared with the configured one. */
static int bearer_ok(const http_req_t *r, const http_publish_loc_t *pl)
{
    const http_field_t *f = http_req_field(r, "authorization");
    const char *v;
    size_t len;

    if (f == NULL || f->value.len < 7 ||
        strncasecmp(f->value.p, "bearer ", 7) != 0)
        return 0;
    v = f->value.p + 7;
    len = f->value.len - 7;
    while (len && *v == ' ') {
        v++;
        len--;
    }
    return http_secret_eq(v, len, pl->bearer, pl->bearer_len);
}

/* Does R carry the field NAME more than once?  For the fields that
 * authenticate and type a webhook, two copies are refused: a proxy in
 * front might read the other one than loom does. */
static int field_twice(const http_req_t *r, const char *name)
{
    size_t i, n = 0;

    for (i = 0; i < r->nfields && n < 2; i++)
        n += http_slice_ieq(r->fields[i].name, name);
    return n > 1;
}

static void publish_process(http_req_t *r)
{
    const http_publish_loc_t *pl = r->loc->publish;
    const http_field_t *ct, *sig = NULL;
    pub_req_t *pb;
    size_t i, j;
    int kind;

    if (r->method_id != HTTP_M_POST) {
        http_resp_header(r, "Allow", "POST");
        pub_refuse(r, 405, "only POST publishes");
        return;
    }
    if (field_twice(r, "content-type") || field_twice(r, "authorization") ||
        (pl->hmac && field_twice(r, pl->hmac_header))) {
        pub_refuse(r, 400,
                   "Content-Type, Authorization or the signature field sent "
                   "twice");
        return;
    }
    if (pl->bearer && !bearer_ok(r, pl)) {
        http_resp_header(r, "WWW-Authenticate",
                         http_req_field(r, "authorization")
                             ? "Bearer realm=\"loom\", error=\"invalid_token\""
                             : "Bearer realm=\"loom\"");
        pub_refuse(r, 401, "missing or bad bearer token");
        return;
    }
    if (pl->hmac) {
        sig = http_req_field(r, pl->hmac_header);
        if (sig == NULL) {
            pub_refuse(r, 401, "missing signature");
            return;
        }
    }
    ct = http_req_field(r, "content-type");
    kind = ct ? http_body_kind(ct->value.p, ct->value.len) : HTTP_BODY_UNKNOWN;
    if (kind == HTTP_BODY_UNKNOWN) {
        pub_refuse(r, 415,
                   "Content-Type must be application/json, "
                   "application/x-www-form-urlencoded or text/plain");
        return;
    }
    pb = loom_calloc(1, sizeof(*pb));
    if (sig && http_sig_parse(sig->value.p, sig->value.len, pb->sig) != 0) {
        free(pb);
        pub_refuse(r, 403, "bad signature");
        return;
    }
    pb->kind = kind;
    if (pl->hmac) {
        pb->hmac = loom_malloc(pl->hmac_len);
        memcpy(pb->hmac, pl->hmac, pl->hmac_len);
        pb->hmac_len = pl->hmac_len;
    }
    /* headers first, each configured one present (empty when the request
     * lacks it): a body field of the same name can never stand in for a
     * header, as loom_msg_get finds the first */
    pb->msg = loom_msg_new(pl->topic);
    for (i = 0; i < pl->nheaders; i++) {
        char name[300];
        int nl = snprintf(name, sizeof(name), "header.%s", pl->headers[i]);
        int found = 0;

        for (j = 0; j < r->nfields && nl > 0 && (size_t)nl < sizeof(name);
             j++) {
            if (http_slice_ieq(r->fields[j].name, pl->headers[i])) {
                loom_msg_add(pb->msg, name, (size_t)nl, r->fields[j].value.p,
                             r->fields[j].value.len);
                found = 1;
            }
        }
        if (!found && nl > 0 && (size_t)nl < sizeof(name))
            loom_msg_add(pb->msg, name, (size_t)nl, "", 0);
    }
    r->hdata = pb;
    r->on_body = pub_body;
    r->on_abort = pub_abort;
}

const http_handler_t http_handler_publish = {"publish", publish_process};
