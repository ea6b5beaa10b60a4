/*
 * http_kv.c - the kv handler: GET, HEAD, PUT and DELETE on
 * <location prefix><key> over the store of a memcache instance, reached
 * through its service (mc_service.h) -- the very items memcache clients
 * see, the ETag being the item's CAS unique.
 *
 * The service is asked for again in every callback that uses it (process,
 * the end of a PUT body) and nothing of it is kept in between: a reload
 * that removes the memcache instance turns the next use into a 503.  A
 * GET writes the value to the output inside the store's value callback
 * (the one copy HTTP output needs); a value above KV_DIRECT_MAX is copied
 * once and sent in pieces as the connection drains, so that the output
 * stays bounded.  A PUT body is buffered up to the store's item limit
 * (r->max_body lowered to it: the output layer refuses with 413 the
 * moment it is passed) and stored when complete.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

#include "../memcache/mc_service.h"

#define KV_KEY_MAX 250              /* memcache's key limit */
#define KV_DIRECT_MAX (1024 * 1024) /* larger values are pumped */
#define KV_PIECE (64 * 1024)        /* one write of a pumped value */
#define KV_TAGS_MAX 16              /* entity tags kept from If-Match */
#define KV_ALLOW "GET, HEAD, PUT, DELETE"

/* If-Match / If-None-Match as the unsafe methods read them. */
typedef struct {
    int any;      /* If-Match: * */
    int has_list; /* If-Match with entity tags (maybe none usable) */
    uint64_t cas[KV_TAGS_MAX];
    size_t ncas;
    int add; /* If-None-Match: * */
} kv_cond_t;

/* A PUT waiting for its body. */
typedef struct {
    loom_service_ref_t ref; /* the store, looked up again at the end */
    char key[KV_KEY_MAX];
    size_t nkey;
    int64_t exptime;
    kv_cond_t cond;
    char *buf;
    size_t len, cap;
} kv_put_t;

/* A large value being sent as the connection drains. */
typedef struct {
    char *buf;
    size_t len, off;
} kv_pump_t;

/* ---- requests ---------------------------------------------------------- */

static loom_slice_t field(const http_req_t *r, const char *name)
{
    const http_field_t *f = http_req_field(r, name);
    loom_slice_t none = {NULL, 0};

    return f ? f->value : none;
}

/* A decimal ttl, optionally negative (memcached: already expired).
 * Returns 0, or -1 when V is not one. */
static int kv_number(const char *v, size_t len, int64_t *out)
{
    int neg = len > 0 && v[0] == '-';
    int64_t n = 0;
    size_t i;

    if (len == (size_t)neg || len - (size_t)neg > 18)
        return -1;
    for (i = (size_t)neg; i < len; i++) {
        if (v[i] < '0' || v[i] > '9')
            return -1;
        n = n * 10 + (v[i] - '0');
    }
    *out = neg ? -n : n;
    return 0;
}

/* The expiry of a PUT: `ttl=N` in the query, else Cache-Control's
 * max-age=N, else 0 (never), all with memcached's meaning.  Returns 0, or
 * -1 for a value that is not a number. */
static int kv_exptime(const http_req_t *r, int64_t *out)
{
    /* (a slice that is absent has a NULL pointer: no arithmetic on it) */
    const char *p = r->query.p, *end = p ? p + r->query.len : NULL;
    loom_slice_t cc = field(r, "cache-control");

    *out = 0;
    while (p && p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp ? amp : end;

        if (stop - p >= 4 && memcmp(p, "ttl=", 4) == 0)
            return kv_number(p + 4, (size_t)(stop - p - 4), out);
        p = amp ? amp + 1 : end;
    }
    for (p = cc.p, end = p ? p + cc.len : NULL; p && p < end;) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *stop = comma ? comma : end, *v;

        while (p < stop && (*p == ' ' || *p == '\t'))
            p++;
        if (stop - p >= 8 && strncasecmp(p, "max-age=", 8) == 0) {
            v = p + 8;
            while (stop > v && (stop[-1] == ' ' || stop[-1] == '\t'))
                stop--;
            if (stop - v >= 2 && *v == '"' && stop[-1] == '"') {
                v++;
                stop--;
            }
            return kv_number(v, (size_t)(stop - v), out);
        }
        p = comma ? comma + 1 : end;
    }
    return 0;
}

/* Read If-Match and If-None-Match for PUT or DELETE into C.  Returns 0,
 * or -1 for If-None-Match other than "*" (this handler compares only
 * through the store's cas, which cannot say "unless it matches"). */
static int kv_conditions(const http_req_t *r, kv_cond_t *c)
{
    loom_slice_t im = field(r, "if-match"), inm = field(r, "if-none-match");
    const char *p = im.p, *end = p ? p + im.len : NULL;

    memset(c, 0, sizeof(*c));
    if (inm.p) {
        while (inm.len && (inm.p[0] == ' ' || inm.p[0] == '\t')) {
            inm.p++;
            inm.len--;
        }
        while (inm.len &&
               (inm.p[inm.len - 1] == ' ' || inm.p[inm.len - 1] == '\t'))
            inm.len--;
        if (inm.len != 1 || inm.p[0] != '*')
            return -1;
        c->add = 1;
    }
    if (im.p == NULL)
        return 0;
    c->has_list = 1;
    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *stop = comma ? comma : end;
        uint64_t v = 0;
        const char *q;

        while (p < stop && (*p == ' ' || *p == '\t'))
            p++;
        while (stop > p && (stop[-1] == ' ' || stop[-1] == '\t'))
            stop--;
        if (stop - p == 1 && *p == '*') {
            c->any = 1;
        } else if (stop - p >= 3 && stop - p <= 22 && *p == '"' &&
                   stop[-1] == '"') {
            /* a strong tag of decimal digits; anything else (weak tags
             * too) can never match strongly and is skipped */
            for (q = p + 1; q < stop - 1 && *q >= '0' && *q <= '9'; q++) {
                if (v > (UINT64_MAX - (uint64_t)(*q - '0')) / 10)
                    break;
                v = v * 10 + (uint64_t)(*q - '0');
            }
            if (q == stop - 1 && c->ncas < KV_TAGS_MAX)
                c->cas[c->ncas++] = v;
        }
        p = comma ? comma + 1 : end;
    }
    return 0;
}

/* The store, or NULL after refusing with 503.  Valid until the callback
 * returns. */
static const mc_store_service_t *kv_store(http_req_t *r,
                                          loom_service_ref_t *ref, void **self)
{
    const mc_store_service_t *st = loom_service_get(ref, self, NULL);

    if (st == NULL)
        http_resp_refuse(r, 503, NULL, NULL);
    return st;
}

/* The location's reference to its store (made on first use). */
static loom_service_ref_t *kv_ref(http_req_t *r)
{
    http_kv_ref_t *k = r->loc->kv_ref;

    if (!k->ready) {
        loom_service_ref_init(&k->ref, loom_instance_server(r->hi->inst),
                              "memcache", r->loc->kv_memcache,
                              MC_STORE_SERVICE);
        k->ready = 1;
    }
    return &k->ref;
}

/* Answer a successful store or delete: STATUS with the new ETag (CAS 0:
 * none). */
static void kv_done(http_req_t *r, int status, uint64_t cas)
{
    http_resp_status(r, status);
    if (cas)
        http_resp_headerf(r, "ETag", "\"%llu\"", (unsigned long long)cas);
    http_resp_length(r, 0);
    http_resp_end(r);
}

/* The status for a store's LOOM_ERROR reason. */
static int kv_error_status(const char *err)
{
    if (err && strcmp(err, "value too large") == 0)
        return 413;
    if (err && strcmp(err, "out of memory") == 0)
        return 507;
    return 400;
}

/* ---- GET and HEAD -------------------------------------------------------- */

typedef struct {
    http_req_t *r;
    int status; /* what was answered inside the callback; 0: nothing */
    kv_pump_t *pump;
} kv_get_t;

static void kv_pump_free(http_req_t *r)
{
    kv_pump_t *k = r->hdata;

    if (k) {
        free(k->buf);
        free(k);
    }
    r->hdata = NULL;
    r->on_abort = NULL;
    r->on_writable = NULL;
}

static void kv_pump_run(http_req_t *r)
{
    kv_pump_t *k = r->hdata;

    while (k->off < k->len) {
        size_t n = k->len - k->off < KV_PIECE ? k->len - k->off : KV_PIECE;
        int rc = http_resp_write(r, k->buf + k->off, n);

        k->off += n;
        if (rc == LOOM_ERROR) /* gone: on_abort frees */
            return;
        if (rc == LOOM_AGAIN && k->off < k->len) {
            r->on_writable = kv_pump_run;
            return;
        }
    }
    kv_pump_free(r);
    http_resp_end(r);
}

/* The value found: answer within the call (VALUE lives only now). */
static void kv_got(const char *value, size_t len, uint32_t flags, uint64_t cas,
                   void *arg)
{
    kv_get_t *g = arg;
    http_req_t *r = g->r;
    char etag[32];
    http_cond_t c;

    (void)flags;
    snprintf(etag, sizeof(etag), "\"%llu\"", (unsigned long long)cas);
    memset(&c, 0, sizeof(c));
    c.etag = etag;
    c.if_match = field(r, "if-match");
    c.if_none_match = field(r, "if-none-match");
    g->status = c.if_match.p || c.if_none_match.p ? http_cond_eval(&c, 1) : 0;
    if (g->status == 412)
        return; /* answered after the call */
    http_resp_header(r, "ETag", etag);
    if (g->status == 304)
        return;
    g->status = 200;
    http_resp_header(r, "Content-Type", r->loc->kv_type);
    http_resp_length(r, (int64_t)len);
    if (len <= KV_DIRECT_MAX || r->method_id == HTTP_M_HEAD) {
        http_resp_write(r, value, len);
        return;
    }
    g->pump = loom_calloc(1, sizeof(*g->pump));
    g->pump->buf = loom_malloc(len);
    memcpy(g->pump->buf, value, len);
    g->pump->len = len;
}

static void kv_get(http_req_t *r, const mc_store_service_t *st, void *self,
                   const char *key, size_t nkey)
{
    kv_get_t g = {r, 0, NULL};

    switch (st->get(self, key, nkey, kv_got, &g)) {
    case LOOM_OK:
        break;
    case LOOM_DECLINED:
        http_resp_error(r, 404);
        return;
    default:
        http_resp_error(r, 400);
        return;
    }
    if (g.status == 412) {
        http_resp_error(r, 412);
    } else if (g.status == 304) {
        http_resp_status(r, 304);
        http_resp_end(r);
    } else if (g.pump) {
        r->hdata = g.pump;
        r->on_abort = kv_pump_free;
        kv_pump_run(r);
    } else {
        http_resp_end(r);
    }
}

/* ---- PUT ----------------------------------------------------------------- */

static void kv_put_free(http_req_t *r)
{
    kv_put_t *k = r->hdata;

    if (k) {
        free(k->buf);
        free(k);
    }
    r->hdata = NULL;
    r->on_body = NULL;
    r->on_abort = NULL;
}

/* The whole body is in: store it as the conditions say. */
static void kv_put_store(http_req_t *r)
{
    kv_put_t *k = r->hdata;
    const kv_cond_t *c = &k->cond;
    const mc_store_service_t *st;
    const char *err = NULL;
    uint64_t cas = 0;
    int replaced = 0, rc = LOOM_AGAIN, status;
    size_t i;
    void *self;

    /* the request is answered below whatever happens: drop the hooks,
     * keep K until the end */
    r->hdata = NULL;
    r->on_body = NULL;
    r->on_abort = NULL;
    st = kv_store(r, &k->ref, &self);
    if (st == NULL)
        goto out;
    if (c->has_list && c->add) {
        /* If-Match passes only when the item is there, If-None-Match: *
         * only when it is not */
        http_resp_error(r, 412);
        goto out;
    }
    if (c->any) {
        rc = st->replace(self, k->key, k->nkey, k->buf, k->len, 0, k->exptime,
                         &cas, &err);
    } else if (c->has_list) {
        /* each tag a cas, until one matches or the item is found absent */
        for (i = 0; i < c->ncas && rc == LOOM_AGAIN; i++)
            rc = st->cas(self, k->key, k->nkey, k->buf, k->len, 0, k->exptime,
                         c->cas[i], &cas, &err);
    } else if (c->add) {
        rc = st->add(self, k->key, k->nkey, k->buf, k->len, 0, k->exptime, &cas,
                     &err);
    } else {
        rc = st->put(self, k->key, k->nkey, k->buf, k->len, 0, k->exptime, &cas,
                     &replaced, &err);
    }
    switch (rc) {
    case LOOM_OK:
        status = c->add || (!c->has_list && !replaced) ? 201 : 204;
        kv_done(r, status, cas);
        break;
    case LOOM_ERROR:
        http_resp_error(r, kv_error_status(err));
        break;
    default: /* absent with If-Match, or no tag matched, or present */
        http_resp_error(r, 412);
        break;
    }
out:
    free(k->buf);
    free(k);
}

static void kv_put_body(http_req_t *r, const char *p, size_t len, int last)
{
    kv_put_t *k = r->hdata;

    /* r->max_body (at most the item limit) bounds what arrives here */
    loom_append(&k->buf, &k->len, &k->cap, p, len, r->max_body);
    if (last)
        kv_put_store(r);
}

static void kv_put(http_req_t *r, const mc_store_service_t *st, void *self,
                   const char *key, size_t nkey)
{
    size_t max = st->max_value(self, key, nkey);
    int64_t exptime;
    kv_cond_t cond;
    kv_put_t *k;

    if (max == 0 || kv_exptime(r, &exptime) != 0 ||
        kv_conditions(r, &cond) != 0) {
        http_resp_refuse(r, 400, NULL, NULL);
        return;
    }
    if (r->content_length >= 0 && (uint64_t)r->content_length > max) {
        http_resp_error(r, 413);
        return;
    }
    if (max < r->max_body)
        r->max_body = max;
    k = loom_calloc(1, sizeof(*k));
    memcpy(k->key, key, nkey);
    k->nkey = nkey;
    k->exptime = exptime;
    k->cond = cond;
    loom_service_ref_init(&k->ref, loom_instance_server(r->hi->inst),
                          "memcache", r->loc->kv_memcache, MC_STORE_SERVICE);
    if (r->content_length > 0) {
        k->cap = (size_t)r->content_length + 1;
        k->buf = loom_malloc(k->cap);
    }
    r->hdata = k;
    r->on_body = kv_put_body;
    r->on_abort = kv_put_free;
}

/* ---- DELETE -------------------------------------------------------------- */

static void kv_delete(http_req_t *r, const mc_store_service_t *st, void *self,
                      const char *key, size_t nkey)
{
    kv_cond_t c;
    int rc = LOOM_AGAIN;
    size_t i;

    if (kv_conditions(r, &c) != 0 || c.add) {
        http_resp_refuse(r, 400, NULL, NULL);
        return;
    }
    if (c.any || !c.has_list) {
        rc = st->del(self, key, nkey);
        if (rc == LOOM_DECLINED && !c.any) {
            http_resp_error(r, 404);
            return;
        }
    } else {
        for (i = 0; i < c.ncas && rc == LOOM_AGAIN; i++)
            rc = st->del_cas(self, key, nkey, c.cas[i]);
    }
    if (rc == LOOM_OK)
        kv_done(r, 204, 0);
    else
        http_resp_error(r, rc == LOOM_ERROR ? 400 : 412);
}

/* ---- the handler --------------------------------------------------------- */

typedef void (*kv_method_fn)(http_req_t *r, const mc_store_service_t *st,
                             void *self, const char *key, size_t nkey);

static const struct {
    int method;
    kv_method_fn fn;
} kv_methods[] = {{HTTP_M_GET, kv_get},
                  {HTTP_M_HEAD, kv_get},
                  {HTTP_M_PUT, kv_put},
                  {HTTP_M_DELETE, kv_delete}};

static void kv_process(http_req_t *r)
{
    const mc_store_service_t *st;
    char key[KV_KEY_MAX];
    long nkey;
    void *self;
    size_t i;

    for (i = 0; i < LOOM_ARRAY_LEN(kv_methods); i++) {
        if (kv_methods[i].method == r->method_id)
            break;
    }
    if (i == LOOM_ARRAY_LEN(kv_methods)) {
        http_resp_header(r, "Allow", KV_ALLOW);
        http_resp_refuse(r, 405, NULL, NULL);
        return;
    }
    st = kv_store(r, kv_ref(r), &self);
    if (st == NULL)
        return;
    /* the key: the path after the prefix, percent-decoded, taken as
     * written (no "." or "//" folding); whether memcache takes its bytes
     * is the store's check */
    nkey = http_req_loc_rest(r, key, KV_KEY_MAX);
    if (nkey <= 0 || nkey > KV_KEY_MAX) {
        http_resp_refuse(r, 400, NULL, NULL);
        return;
    }
    kv_methods[i].fn(r, st, self, key, (size_t)nkey);
}

const http_handler_t http_handler_kv = {"kv", kv_process};
