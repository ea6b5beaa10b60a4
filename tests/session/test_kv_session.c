/*
 * test_kv_session.c - the http kv handler over the in-memory transport:
 * HTTP/1.1 requests on /kv/<key> against a memcache instance's store,
 * with the memcache protocol on another in-memory connection to the same
 * store.  Scripts that leave the store as they found it are fed whole,
 * split at every byte, seven bytes and one byte at a time, and must give
 * the same bytes (Date and ETag values blanked); the ETag is then checked
 * against the CAS unique `gets` reports, and If-Match / If-None-Match
 * with it, the ttl, 413 (from Content-Length, and from a chunked body as
 * soon as it passes the item limit), 400 for keys memcache refuses, 405
 * and 503 for a memcache instance that does not run.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <event2/event.h>

#include "http.h"
#include "session.h"

typedef struct {
    ses_env_t e; /* first: the harness's */
    loom_instance_t *mc;
} env_t;

/* max_item_size 1024 (memcache's floor): a value of about 950 bytes is
 * the most a short key holds. */
static const ses_spec_t spec = {
    .conf = "memcache \"cache\" {\n"
            "    listen = {\"tcp:11411:interface=127.0.0.1\"}\n"
            "    max_item_size = 1024\n"
            "}\n"
            "memcache \"big\" {\n"
            "    listen = {\"tcp:11412:interface=127.0.0.1\"}\n"
            "    max_item_size = 4M\n"
            "}\n"
            "http \"web\" {\n"
            "    listen = {\"tcp:18091:interface=127.0.0.1\"}\n"
            "    server \"main\" {\n"
            "        location \"/kv/\" {\n"
            "            handler = \"kv\"\n"
            "            memcache = \"cache\"\n"
            "        }\n"
            "        location \"/txt/\" {\n"
            "            handler = \"kv\"\n"
            "            memcache = \"cache\"\n"
            "            kv_type = \"text/plain\"\n"
            "        }\n"
            "        location \"/big/\" {\n"
            "            handler = \"kv\"\n"
            "            memcache = \"big\"\n"
            "            max_body = 4M\n"
            "        }\n"
            "        location \"/none/\" {\n"
            "            handler = \"kv\"\n"
            "            memcache = \"nosuch\"\n"
            "        }\n"
            "    }\n"
            "}\n",
    .module = "http",
    .name = "web",
};

static int env_setup(void **state)
{
    env_t *t;

    if (ses_setup_size(state, &spec, sizeof(env_t)) != 0)
        return -1;
    t = *state;
    t->mc = ses_instance(&t->e, "memcache", "cache");
    return 0;
}

/* Every Date value becomes "<date>" and every ETag "\"#\"". */
static void blank(ses_reply_t *r)
{
    ses_blank(r, "\r\nDate: ", "<date>", 0);
    ses_blank(r, "\r\nETag: \"", "#", 1);
}

/* The memcache protocol's answer to CMD over a fresh connection. */
static char *mc_talk(env_t *t, const char *cmd)
{
    ses_reply_t r = ses_talk(&t->e, t->mc, cmd, strlen(cmd), 0, 0);

    return r.p;
}

/* One HTTP exchange over a fresh connection, fed whole or byte by byte,
 * Dates blanked (ETags kept). */
static char *http_talk(env_t *t, const char *req, size_t piece)
{
    ses_reply_t r = ses_talk(&t->e, NULL, req, strlen(req), piece, 0);
    char *p = r.p;
    size_t i, o;

    for (i = 0, o = 0; i < r.len;) {
        if (r.len - i > 8 && memcmp(p + i, "\r\nDate: ", 8) == 0) {
            memcpy(p + o, "\r\nDate: -", 9);
            o += 9;
            i += 8;
            while (i < r.len && p[i] != '\r')
                i++;
            continue;
        }
        p[o++] = p[i++];
    }
    p[o] = '\0';
    return p;
}

/* Status line, Server and a blanked Date. */
static void head(ses_want_t *w, int status)
{
    ses_want_add(w, "HTTP/1.1 %d %s\r\nServer: loom/%s\r\nDate: <date>\r\n",
                 status, http_reason(status), LOOM_VERSION_STRING);
}

/* loom's built-in error page for STATUS, with EXTRA header lines. */
static void error_page(ses_want_t *w, int status, const char *extra)
{
    char body[256];
    int n = snprintf(body, sizeof(body),
                     "<html><head><title>%d %s</title></head><body><h1>%d "
                     "%s</h1></body></html>\n",
                     status, http_reason(status), status, http_reason(status));

    head(w, status);
    ses_want_add(w, "Content-Length: %d\r\n%sContent-Type: text/html\r\n\r\n%s",
                 n, extra, body);
}

/* 200 with a value of type CTYPE (an empty BODY for HEAD, LEN its
 * length). */
static void value(ses_want_t *w, const char *ctype, const char *body,
                  size_t len)
{
    head(w, 200);
    ses_want_add(
        w, "Content-Length: %zu\r\nETag: \"#\"\r\nContent-Type: %s\r\n\r\n%s",
        len, ctype, body);
}

/* The store's round trip, leaving the key absent: the same bytes however
 * the requests are cut. */
static void test_script_same_splits(void **state)
{
    env_t *t = *state;
    static const char in[] =
        "GET /kv/k HTTP/1.1\r\nHost: x\r\n\r\n"
        "PUT /kv/k HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
        "GET /kv/k HTTP/1.1\r\nHost: x\r\n\r\n"
        "PUT /kv/k HTTP/1.1\r\nHost: x\r\nIf-None-Match: *\r\n"
        "Content-Length: 1\r\n\r\nx"
        "PUT /kv/k HTTP/1.1\r\nHost: x\r\nIf-Match: \"0\"\r\n"
        "Content-Length: 1\r\n\r\nx"
        "PUT /kv/k HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        "3\r\nwor\r\n3\r\nld!\r\n0\r\n\r\n"
        "HEAD /kv/k HTTP/1.1\r\nHost: x\r\n\r\n"
        "GET /txt/k HTTP/1.1\r\nHost: x\r\n\r\n"
        "DELETE /kv/k HTTP/1.1\r\nHost: x\r\nIf-Match: \"0\"\r\n\r\n"
        "DELETE /kv/k HTTP/1.1\r\nHost: x\r\n\r\n"
        "DELETE /kv/k HTTP/1.1\r\nHost: x\r\n\r\n"
        "DELETE /kv/k HTTP/1.1\r\nHost: x\r\nIf-Match: *\r\n\r\n"
        "PUT /kv/k?ttl=-1 HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nx"
        "GET /kv/k HTTP/1.1\r\nHost: x\r\n\r\n"
        "PUT /kv/k HTTP/1.1\r\nHost: x\r\nIf-Match: *\r\n"
        "Content-Length: 1\r\n\r\nx"
        "POST /kv/k HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"
        "POST /kv/k HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
        "GET /none/k HTTP/1.1\r\nHost: x\r\n\r\n"
        "PUT /none/k HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
        "PUT /kv/k?ttl=z HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
        "GET /kv/k HTTP/1.1\r\nHost: x\r\n\r\n";
    static ses_want_t w;
    ses_reply_t r;

    w.len = 0;
    error_page(&w, 404, "");
    head(&w, 201);
    ses_want_add(&w, "Content-Length: 0\r\nETag: \"#\"\r\n\r\n");
    value(&w, "application/octet-stream", "hello", 5);
    error_page(&w, 412, "");
    error_page(&w, 412, "");
    head(&w, 204);
    ses_want_add(&w, "ETag: \"#\"\r\n\r\n");
    value(&w, "application/octet-stream", "", 6); /* HEAD */
    value(&w, "text/plain", "world!", 6);
    error_page(&w, 412, "");
    head(&w, 204);
    ses_want_add(&w, "\r\n");
    error_page(&w, 404, "");
    error_page(&w, 412, ""); /* If-Match: * on an absent key */
    head(&w, 201);           /* stored already expired (memcached's rule) */
    ses_want_add(&w, "Content-Length: 0\r\nETag: \"#\"\r\n\r\n");
    error_page(&w, 404, "");
    error_page(&w, 412, "");
    error_page(&w, 405, "Allow: GET, HEAD, PUT, DELETE\r\n");
    /* refusals of a request with a body come after it (read and dropped):
     * the connection goes on */
    error_page(&w, 405, "Allow: GET, HEAD, PUT, DELETE\r\n");
    error_page(&w, 503, "");
    error_page(&w, 503, "");
    /* a 400 closes the connection, as every 400 of loom's does: the GET
     * after it is never read */
    error_page(&w, 400, "Connection: close\r\n");
    r = ses_same_splits(&t->e, NULL, in, sizeof(in) - 1, blank);
    if (r.len != w.len || memcmp(r.p, w.p, r.len) != 0) {
        ses_show("got", r.p, r.len);
        ses_show("want", w.p, w.len);
        free(r.p);
        fail_msg("kv script: wrong reply");
    }
    assert_true(r.closed);
    free(r.p);
}

/* The CAS unique `gets KEY` reports (0: absent). */
static unsigned long long mc_cas(env_t *t, const char *key)
{
    char cmd[300], *out, *p;
    unsigned long long cas = 0;

    snprintf(cmd, sizeof(cmd), "gets %s\r\n", key);
    out = mc_talk(t, cmd);
    p = strncmp(out, "VALUE ", 6) == 0 ? strchr(out, '\r') : NULL;
    if (p) { /* VALUE key flags bytes cas */
        while (p > out && p[-1] != ' ')
            p--;
        cas = strtoull(p, NULL, 10);
    }
    free(out);
    return cas;
}

/* The ETag of a reply (0: none). */
static unsigned long long etag_of(const char *reply)
{
    const char *p = strstr(reply, "\r\nETag: \"");

    return p ? strtoull(p + 9, NULL, 10) : 0;
}

/* Conditionals with the real ETag, fed whole and one byte at a time:
 * it is the CAS unique memcache's gets shows. */
static void test_etag_is_cas(void **state)
{
    env_t *t = *state;
    size_t pieces[] = {0, 1};
    size_t i;

    for (i = 0; i < LOOM_ARRAY_LEN(pieces); i++) {
        size_t piece = pieces[i];
        char req[512], *out;
        unsigned long long cas, cas2;

        free(mc_talk(t, "set e 7 0 3\r\nabc\r\n"));
        cas = mc_cas(t, "e");
        assert_true(cas > 0);
        out = http_talk(t, "GET /kv/e HTTP/1.1\r\nHost: x\r\n\r\n", piece);
        assert_non_null(strstr(out, "\r\n\r\nabc"));
        assert_int_equal(etag_of(out), cas);
        free(out);
        /* If-None-Match: the current tag gives 304, another 200 */
        snprintf(req, sizeof(req),
                 "GET /kv/e HTTP/1.1\r\nHost: x\r\nIf-None-Match: \"%llu\""
                 "\r\n\r\n",
                 cas);
        out = http_talk(t, req, piece);
        assert_true(strncmp(out, "HTTP/1.1 304 ", 13) == 0);
        assert_int_equal(etag_of(out), cas);
        assert_null(strstr(out, "abc"));
        free(out);
        snprintf(req, sizeof(req),
                 "GET /kv/e HTTP/1.1\r\nHost: x\r\nIf-None-Match: \"%llu\", "
                 "W/\"%llu\"\r\n\r\n",
                 cas + 1000, cas);
        out = http_talk(t, req, piece);
        assert_true(strncmp(out, "HTTP/1.1 304 ", 13) == 0);
        free(out);
        snprintf(req, sizeof(req),
                 "GET /kv/e HTTP/1.1\r\nHost: x\r\nIf-None-Match: \"%llu\""
                 "\r\n\r\n",
                 cas + 1000);
        out = http_talk(t, req, piece);
        assert_true(strncmp(out, "HTTP/1.1 200 ", 13) == 0);
        free(out);
        /* If-Match: a stale tag is refused, the current one swaps */
        snprintf(req, sizeof(req),
                 "PUT /kv/e HTTP/1.1\r\nHost: x\r\nIf-Match: \"%llu\"\r\n"
                 "Content-Length: 3\r\n\r\nxyz",
                 cas + 1000);
        out = http_talk(t, req, piece);
        assert_true(strncmp(out, "HTTP/1.1 412 ", 13) == 0);
        free(out);
        assert_int_equal(mc_cas(t, "e"), cas);
        snprintf(req, sizeof(req),
                 "PUT /kv/e HTTP/1.1\r\nHost: x\r\nIf-Match: \"1\", \"%llu\""
                 "\r\nContent-Length: 3\r\n\r\nxyz",
                 cas);
        out = http_talk(t, req, piece);
        assert_true(strncmp(out, "HTTP/1.1 204 ", 13) == 0);
        cas2 = etag_of(out);
        free(out);
        assert_true(cas2 > cas);
        assert_int_equal(mc_cas(t, "e"), cas2);
        out = mc_talk(t, "get e\r\n");
        assert_string_equal(out, "VALUE e 0 3\r\nxyz\r\nEND\r\n");
        free(out);
        /* DELETE with the old tag: 412; with the new: gone */
        snprintf(req, sizeof(req),
                 "DELETE /kv/e HTTP/1.1\r\nHost: x\r\nIf-Match: \"%llu\"\r\n"
                 "\r\n",
                 cas);
        out = http_talk(t, req, piece);
        assert_true(strncmp(out, "HTTP/1.1 412 ", 13) == 0);
        free(out);
        snprintf(req, sizeof(req),
                 "DELETE /kv/e HTTP/1.1\r\nHost: x\r\nIf-Match: \"%llu\"\r\n"
                 "\r\n",
                 cas2);
        out = http_talk(t, req, piece);
        assert_true(strncmp(out, "HTTP/1.1 204 ", 13) == 0);
        free(out);
        assert_int_equal(mc_cas(t, "e"), 0);
        /* If-None-Match: * adds */
        out = http_talk(t,
                        "PUT /kv/e HTTP/1.1\r\nHost: x\r\nIf-None-Match: *\r\n"
                        "Content-Length: 2\r\n\r\nhi",
                        piece);
        assert_true(strncmp(out, "HTTP/1.1 201 ", 13) == 0);
        assert_int_equal(etag_of(out), mc_cas(t, "e"));
        free(out);
        free(mc_talk(t, "delete e\r\n"));
    }
}

/* The expiry: ttl=N and Cache-Control: max-age=N are memcached's exptime
 * (relative seconds here); a bad number is 400. */
static void test_ttl(void **state)
{
    env_t *t = *state;
    char *out;

    out = http_talk(t,
                    "PUT /kv/t?a=b&ttl=100 HTTP/1.1\r\nHost: x\r\n"
                    "Content-Length: 1\r\n\r\n1",
                    1);
    assert_true(strncmp(out, "HTTP/1.1 201 ", 13) == 0);
    free(out);
    out = mc_talk(t, "mg t t\r\n");
    assert_true(strncmp(out, "HD t", 4) == 0);
    assert_true(strtol(out + 4, NULL, 10) > 90);
    free(out);
    out = http_talk(t,
                    "PUT /kv/t HTTP/1.1\r\nHost: x\r\n"
                    "Cache-Control: no-transform, max-age=50\r\n"
                    "Content-Length: 1\r\n\r\n1",
                    0);
    assert_true(strncmp(out, "HTTP/1.1 204 ", 13) == 0);
    free(out);
    out = mc_talk(t, "mg t t\r\n");
    assert_true(strtol(out + 4, NULL, 10) <= 50);
    assert_true(strtol(out + 4, NULL, 10) > 40);
    free(out);
    out = http_talk(t, "PUT /kv/t HTTP/1.1\r\nHost: x\r\n\r\n", 0);
    assert_true(strncmp(out, "HTTP/1.1 204 ", 13) == 0); /* empty value */
    free(out);
    out = mc_talk(t, "mg t t v\r\n");
    assert_string_equal(out, "VA 0 t-1\r\n\r\n");
    free(out);
    out = http_talk(t,
                    "PUT /kv/t?ttl=x1 HTTP/1.1\r\nHost: x\r\n"
                    "Content-Length: 1\r\n\r\n1",
                    0);
    assert_true(strncmp(out, "HTTP/1.1 400 ", 13) == 0);
    free(out);
    out = http_talk(t,
                    "PUT /kv/t HTTP/1.1\r\nHost: x\r\nCache-Control: "
                    "max-age=ten\r\nContent-Length: 1\r\n\r\n1",
                    0);
    assert_true(strncmp(out, "HTTP/1.1 400 ", 13) == 0);
    free(out);
    free(mc_talk(t, "delete t\r\n"));
}

/* Past the item limit: 413 from Content-Length before any body byte, and
 * from a chunked body as soon as it passes the limit; what was stored
 * stays. */
static void test_too_large(void **state)
{
    env_t *t = *state;
    static char body[3000];
    char req[4096], *out;
    size_t n, piece;

    for (piece = 0; piece < 2; piece++) {
        free(mc_talk(t, "set big 0 0 3\r\nold\r\n"));
        out = http_talk(t,
                        "PUT /kv/big HTTP/1.1\r\nHost: x\r\n"
                        "Content-Length: 2000\r\n\r\n",
                        piece);
        assert_true(strncmp(out, "HTTP/1.1 413 ", 13) == 0);
        assert_non_null(strstr(out, "Connection: close"));
        free(out);
        memset(body, 'z', sizeof(body));
        n = (size_t)snprintf(req, sizeof(req),
                             "PUT /kv/big HTTP/1.1\r\nHost: x\r\n"
                             "Transfer-Encoding: chunked\r\n\r\n"
                             "400\r\n%.1024s\r\n400\r\n%.1024s\r\n0\r\n\r\n",
                             body, body);
        {
            ses_reply_t r = ses_talk(&t->e, NULL, req, n, piece, 0);

            assert_true(strncmp(r.p, "HTTP/1.1 413 ", 13) == 0);
            assert_true(r.closed);
            free(r.p);
        }
        out = mc_talk(t, "get big\r\n");
        assert_string_equal(out, "VALUE big 0 3\r\nold\r\nEND\r\n");
        free(out);
    }
    /* just under the limit fits */
    n = (size_t)snprintf(req, sizeof(req),
                         "PUT /kv/big HTTP/1.1\r\nHost: x\r\n"
                         "Content-Length: 900\r\n\r\n%.900s",
                         body);
    out = http_talk(t, req, 0);
    assert_true(strncmp(out, "HTTP/1.1 204 ", 13) == 0);
    free(out);
    free(mc_talk(t, "delete big\r\n"));
}

/* Keys memcache refuses are 400 (after percent-decoding); a decoded key
 * memcache takes works from both sides. */
static void test_keys(void **state)
{
    env_t *t = *state;
    static const char *const bad[] = {
        "GET /kv/ HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /kv/a%20b HTTP/1.1\r\nHost: x\r\n\r\n",
        "PUT /kv/a%20b HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\n1",
        "DELETE /kv/%09 HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /kv/a%7fb HTTP/1.1\r\nHost: x\r\n\r\n",
        "DELETE /kv/k HTTP/1.1\r\nHost: x\r\nIf-None-Match: *\r\n\r\n",
        "PUT /kv/k HTTP/1.1\r\nHost: x\r\nIf-None-Match: \"1\"\r\n\r\n",
    };
    char req[1024], key[300], *out;
    size_t i, piece;

    for (piece = 0; piece < 2; piece++) {
        for (i = 0; i < LOOM_ARRAY_LEN(bad); i++) {
            out = http_talk(t, bad[i], piece);
            if (strncmp(out, "HTTP/1.1 400 ", 13) != 0)
                fail_msg("%s: %.40s", bad[i], out);
            free(out);
        }
    }
    /* 250 bytes is the longest key, 251 too long */
    memset(key, 'k', sizeof(key));
    snprintf(req, sizeof(req), "GET /kv/%.251s HTTP/1.1\r\nHost: x\r\n\r\n",
             key);
    out = http_talk(t, req, 0);
    assert_true(strncmp(out, "HTTP/1.1 400 ", 13) == 0);
    free(out);
    snprintf(req, sizeof(req),
             "PUT /kv/%.250s HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\n1",
             key);
    out = http_talk(t, req, 0);
    assert_true(strncmp(out, "HTTP/1.1 201 ", 13) == 0);
    free(out);
    snprintf(req, sizeof(req), "delete %.250s\r\n", key);
    out = mc_talk(t, req);
    assert_string_equal(out, "DELETED\r\n");
    free(out);
    /* percent-decoded, and "/" inside a key is a byte of it */
    free(mc_talk(t, "set d/\xc3\xa9 0 0 2\r\nok\r\n"));
    out = http_talk(t, "GET /kv/d/%C3%A9 HTTP/1.1\r\nHost: x\r\n\r\n", 1);
    assert_non_null(strstr(out, "\r\n\r\nok"));
    free(out);
    free(mc_talk(t, "delete d/\xc3\xa9\r\n"));
}

/* A value larger than what is written at once goes out as the client
 * reads, the output held near the high-water mark, the bytes intact; then
 * the connection serves the next request. */
static void test_large_value_pumped(void **state)
{
    env_t *t = *state;
    enum { N = 3 * 1024 * 1024 };
    static const char get[] = "GET /big/v HTTP/1.1\r\nHost: x\r\n\r\n"
                              "HEAD /big/v HTTP/1.1\r\nHost: x\r\n\r\n";
    char *body = malloc(N), head[256], *p;
    loom_conn_t *c = ses_conn(&t->e, NULL);
    size_t len, off, rounds = 0, i;
    const char *out;

    assert_non_null(body);
    for (i = 0; i < N; i++)
        body[i] = (char)(i * 7 + i / 253);
    len = (size_t)snprintf(head, sizeof(head),
                           "PUT /big/v HTTP/1.1\r\nHost: x\r\n"
                           "Content-Length: %d\r\n\r\n",
                           N);
    ses_feed(&t->e, c, head, len);
    for (off = 0; off < N; off += 100000)
        ses_feed(&t->e, c, body + off, N - off < 100000 ? N - off : 100000);
    out = loom_mem_output(c, &len);
    assert_true(strncmp(out, "HTTP/1.1 201 ", 13) == 0);
    loom_mem_consume(c, len);
    ses_window(&t->e, c, 0);
    ses_feed(&t->e, c, SES_S(get));
    assert_true(loom_conn_pending(c) < N);
    do {
        ses_consume(&t->e, c, 200000);
        assert_true(++rounds < 200);
    } while (loom_conn_pending(c) > 0);
    out = loom_mem_output(c, &len);
    p = strstr(out, "\r\n\r\n");
    assert_non_null(p);
    off = (size_t)(p + 4 - out);
    assert_true(strncmp(out, "HTTP/1.1 201 ", 13) == 0);
    out = strstr(out, "HTTP/1.1 200 ");
    assert_non_null(out);
    p = strstr(out, "\r\n\r\n");
    off = (size_t)(p + 4 - loom_mem_output(c, &len));
    assert_true(len >= off + N);
    assert_memory_equal(loom_mem_output(c, &len) + off, body, N);
    /* and the HEAD after it */
    out = loom_mem_output(c, &len) + off + N;
    assert_true(strncmp(out, "HTTP/1.1 200 ", 13) == 0);
    assert_non_null(strstr(out, "Content-Length: 3145728\r\n"));
    ses_expect_closed(c, 0);
    loom_mem_conn_free(c);
    free(body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_script_same_splits),
        cmocka_unit_test(test_etag_is_cas),
        cmocka_unit_test(test_ttl),
        cmocka_unit_test(test_too_large),
        cmocka_unit_test(test_keys),
        cmocka_unit_test(test_large_value_pumped),
    };

    return cmocka_run_group_tests(tests, env_setup, ses_teardown);
}
