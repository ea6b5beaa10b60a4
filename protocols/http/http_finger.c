/*
 * http_finger.c - the finger handler: GET and HEAD on <prefix> (the
 * listing) and <prefix><user> (one entry) over the user table of a finger
 * instance, reached through its service (finger_service.h).
 *
 * The text is the finger protocol's own: the path becomes a query line
 * ("alice", or "/W alice" with ?long) that the service answers with the
 * finger module's renderer, so both front ends say the same bytes (CRLF
 * lines, filtered as the protocol filters them).  With an Accept that
 * prefers application/json, a user is an object of the fields that text
 * shows and the listing an array of them.  Refusals are the protocol's:
 * a listing the instance does not give and any user@host query are 403,
 * an unknown user 404, a malformed name 400, all with the protocol's line
 * as a text/plain body.  The service is asked for again on every request
 * and nothing of it is kept: a reload that removes the finger instance
 * turns the next request into a 503.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

#include "../finger/finger_parse.h"
#include "../finger/finger_service.h"

#define FINGER_ALLOW "GET, HEAD"
#define FINGER_TEXT "text/plain; charset=utf-8"

/* A finger location: the instance's name and the reference to its
 * service (made on first use; it goes with the config). */
struct http_finger_loc_s {
    char *instance;
    int ready;
    loom_service_ref_t ref;
};

/* ---- configuration ------------------------------------------------------- */

int http_finger_location(cfg_t *ls, http_location_t *l)
{
    const char *name = cfg_getstr(ls, "finger");

    if (name == NULL || name[0] == '\0') {
        loom_conf_error(ls, NULL,
                        "location \"%s\": the finger handler needs "
                        "finger = \"INSTANCE\"",
                        cfg_title(ls));
        return LOOM_ERROR;
    }
    if (strlen(name) >= sizeof(((loom_service_ref_t *)0)->instance)) {
        loom_conf_error(ls, "finger", "finger \"%s\": name too long", name);
        return LOOM_ERROR;
    }
    l->finger = loom_calloc(1, sizeof(*l->finger));
    l->finger->instance = loom_strdup(name);
    return LOOM_OK;
}

void http_finger_location_free(http_location_t *l)
{
    if (l->finger == NULL)
        return;
    free(l->finger->instance);
    free(l->finger);
    l->finger = NULL;
}

/* ---- requests ------------------------------------------------------------ */

/* Whether the query string has the parameter NAME (any value). */
static int finger_param(const http_req_t *r, const char *name)
{
    const char *p = r->query.p, *end = p ? p + r->query.len : NULL;
    size_t n = strlen(name);

    while (p && p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp ? amp : end;

        if ((size_t)(stop - p) >= n && memcmp(p, name, n) == 0 &&
            ((size_t)(stop - p) == n || p[n] == '='))
            return 1;
        p = amp ? amp + 1 : end;
    }
    return 0;
}

/* How well the media range RANGE[0..LEN) matches TYPE ("a/b"): 3 exact,
 * 2 "a/ *", 1 "* / *", 0 not at all. */
static int finger_range_match(const char *range, size_t len, const char *type)
{
    size_t i, n = strlen(type);

    for (i = 0; i < len && i < n; i++) {
        char c = range[i] >= 'A' && range[i] <= 'Z' ? range[i] + 32 : range[i];

        if (c != type[i])
            break;
    }
    if (i == len && i == n)
        return 3;
    if (i > 0 && type[i - 1] == '/' && len == i + 1 && range[i] == '*')
        return 2;
    if (len == 3 && memcmp(range, "*/*", 3) == 0)
        return 1;
    return 0;
}

/* The q of TYPE in Accept A[0..LEN) (RFC 9110 §12.5.1: the most specific
 * range that matches decides), in thousandths; 0 when none matches. */
static int finger_accept_q(const char *a, size_t len, const char *type)
{
    const char *p = a, *end = a + len;
    int best = 0, q = 0;

    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *stop = comma ? comma : end, *r = p, *re, *s;
        int m, v = 1000;

        while (r < stop && (*r == ' ' || *r == '\t'))
            r++;
        for (re = r; re < stop && *re != ';' && *re != ' ' && *re != '\t';)
            re++;
        m = finger_range_match(r, (size_t)(re - r), type);
        for (s = re; m > best && s < stop; s++) {
            if (*s != ';')
                continue;
            s++;
            while (s < stop && (*s == ' ' || *s == '\t'))
                s++;
            if (stop - s >= 2 && (*s == 'q' || *s == 'Q') && s[1] == '=') {
                const char *d = s + 2;
                int scale = 1000;

                v = 0;
                if (d < stop && *d == '1')
                    v = 1000;
                if (d < stop && d[0] == '0' && d + 1 < stop && d[1] == '.') {
                    for (d += 2; d < stop && *d >= '0' && *d <= '9' && scale;
                         d++)
                        v += (*d - '0') * (scale /= 10);
                }
            }
        }
        if (m > best) {
            best = m;
            q = v;
        }
        p = comma ? comma + 1 : end;
    }
    return q;
}

/* Whether R's Accept prefers application/json to text/plain (a tie, or
 * no Accept, is text). */
static int finger_wants_json(const http_req_t *r)
{
    const http_field_t *f = http_req_field(r, "accept");

    if (f == NULL)
        return 0;
    return finger_accept_q(f->value.p, f->value.len, "application/json") >
           finger_accept_q(f->value.p, f->value.len, "text/plain");
}

/* ---- the body being built ------------------------------------------------ */

typedef struct {
    char *p;
    size_t len, cap;
} finger_body_t;

static void finger_add(finger_body_t *b, const char *p, size_t len)
{
    if (b->len + len > b->cap) {
        b->cap = b->cap ? 2 * b->cap : 1024;
        if (b->cap < b->len + len)
            b->cap = b->len + len;
        b->p = loom_realloc(b->p, b->cap);
    }
    memcpy(b->p + b->len, p, len);
    b->len += len;
}

/* The service's output function: ARG is a finger_body_t. */
static void finger_text_out(void *arg, const char *p, size_t len)
{
    finger_add(arg, p, len);
}

/* Answer R with STATUS, CTYPE and the body B (freed). */
static void finger_send_body(http_req_t *r, int status, const char *ctype,
                             finger_body_t *b)
{
    http_resp_header(r, "Vary", "Accept");
    http_resp_simple(r, status, ctype, b->p ? b->p : "", b->len);
    free(b->p);
}

/* ---- text ---------------------------------------------------------------- */

/* The status for each finger_answer_t. */
static const int finger_status[] = {200, 404, 403, 403, 400};

static void finger_text(http_req_t *r, const finger_users_service_t *svc,
                        void *self, const char *user, size_t len, int verbose)
{
    char line[FINGER_QUERY_MAX + 4]; /* "/W " and the user */
    finger_body_t b = {NULL, 0, 0};
    size_t n = verbose ? 3 : 0;
    int a;

    /* (memcpy, not "%s": a decoded %00 must reach the parser, which
     * refuses it as the protocol does) */
    memcpy(line, "/W ", n);
    memcpy(line + n, user, len);
    a = svc->answer(self, line, n + len, finger_text_out, &b);
    if (a < 0 || a >= (int)LOOM_ARRAY_LEN(finger_status))
        a = FINGER_ANS_ERROR;
    finger_send_body(r, finger_status[a], FINGER_TEXT, &b);
}

/* ---- JSON ---------------------------------------------------------------- */

/* S as a JSON string, with the protocol's filter: printable ASCII kept,
 * LF and TAB escaped, CR dropped, every other byte '?'. */
static void finger_json_str(finger_body_t *b, const char *s)
{
    finger_add(b, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;

        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};

            finger_add(b, e, 2);
        } else if (c == '\n') {
            finger_add(b, "\\n", 2);
        } else if (c == '\t') {
            finger_add(b, "\\t", 2);
        } else if (c == '\r') {
            continue;
        } else if (c >= 0x20 && c < 0x7f) {
            finger_add(b, s, 1);
        } else {
            finger_add(b, "?", 1);
        }
    }
    finger_add(b, "\"", 1);
}

/* One "name": value member (null for NULL), after a comma unless FIRST. */
static void finger_json_member(finger_body_t *b, const char *name,
                               const char *v, int first)
{
    if (!first)
        finger_add(b, ",", 1);
    finger_json_str(b, name);
    finger_add(b, ":", 1);
    if (v)
        finger_json_str(b, v);
    else
        finger_add(b, "null", 4);
}

/* Which fields the object of a user carries: those the text shows. */
enum { FJ_LIST = 0, FJ_ENTRY = 1, FJ_VERBOSE = 2 };

static void finger_json_user(finger_body_t *b, const finger_user_t *u, int what)
{
    finger_add(b, "{", 1);
    finger_json_member(b, "login", u->login, 1);
    finger_json_member(b, "name", u->name, 0);
    finger_json_member(b, "office", u->office, 0);
    finger_json_member(b, "phone", u->phone, 0);
    if (what == FJ_VERBOSE) {
        finger_json_member(b, "email", u->email, 0);
        finger_json_member(b, "project", u->project, 0);
    }
    if (what != FJ_LIST)
        finger_json_member(b, "plan", u->plan && u->plan[0] ? u->plan : NULL,
                           0);
    finger_add(b, "}", 1);
}

typedef struct {
    finger_body_t *b;
    int first;
} finger_list_t;

static int finger_json_each(const finger_user_t *u, void *arg)
{
    finger_list_t *l = arg;

    if (!l->first)
        finger_add(l->b, ",", 1);
    l->first = 0;
    finger_json_user(l->b, u, FJ_LIST);
    return 0;
}

/* Returns 0 when answered, -1 when the query is not one JSON answers (an
 * error, a refusal, an unknown user): the text path says why. */
static int finger_json(http_req_t *r, const finger_users_service_t *svc,
                       void *self, const char *user, size_t len, int verbose)
{
    finger_body_t b = {NULL, 0, 0};
    const finger_user_t *u = NULL;
    finger_list_t l;
    size_t i;

    for (i = 0; i < len; i++) {
        if (user[i] == '@' || user[i] == ' ' || user[i] == '\t')
            return -1;
    }
    if (len == 0 && !svc->listing(self))
        return -1;
    if (len > 0 && (u = svc->lookup(self, user, len)) == NULL)
        return -1;
    if (u) {
        finger_json_user(&b, u, verbose ? FJ_VERBOSE : FJ_ENTRY);
    } else {
        l.b = &b;
        l.first = 1;
        finger_add(&b, "[", 1);
        svc->each(self, finger_json_each, &l);
        finger_add(&b, "]", 1);
    }
    finger_add(&b, "\n", 1);
    finger_send_body(r, 200, "application/json", &b);
    return 0;
}

/* ---- the handler --------------------------------------------------------- */

static void finger_process(http_req_t *r)
{
    http_finger_loc_t *fl = r->loc->finger;
    const finger_users_service_t *svc;
    char user[FINGER_QUERY_MAX + 1];
    long n;
    int verbose;
    void *self;

    if (r->method_id != HTTP_M_GET && r->method_id != HTTP_M_HEAD) {
        http_resp_header(r, "Allow", FINGER_ALLOW);
        http_resp_refuse(r, 405, NULL, NULL);
        return;
    }
    if (!fl->ready) {
        loom_service_ref_init(&fl->ref, loom_instance_server(r->hi->inst),
                              "finger", fl->instance, FINGER_USERS_SERVICE);
        fl->ready = 1;
    }
    svc = loom_service_get(&fl->ref, &self, NULL);
    if (svc == NULL) {
        http_resp_refuse(r, 503, NULL, NULL);
        return;
    }
    /* a longer name is cut just past the limit: still too long for the
     * query parser, which says so as the protocol does */
    n = http_req_loc_rest(r, user, FINGER_QUERY_MAX + 1);
    if (n > FINGER_QUERY_MAX + 1)
        n = FINGER_QUERY_MAX + 1;
    /* a name may not smuggle the protocol's "/W" in */
    if (n < 0 || (n > 0 && user[0] == '/')) {
        http_resp_refuse(r, 400, NULL, NULL);
        return;
    }
    verbose = finger_param(r, "long");
    if (finger_wants_json(r) &&
        finger_json(r, svc, self, user, (size_t)n, verbose) == 0)
        return;
    finger_text(r, svc, self, user, (size_t)n, verbose);
}

const http_handler_t http_handler_finger = {"finger", finger_process};
