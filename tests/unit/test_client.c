/*
 * test_client.c - the outbound client API (loom_client.h) against an
 * in-process loom server on real loopback sockets: echo over TCP and TLS
 * (a certificate made here, trusted through ca_file), the test-only probe
 * module (tests/modules/probe.so) as the server side of STARTTLS, and the
 * dns module serving a small zone for connecting by name.
 *
 * What is checked: results and their status, address and count; that
 * every callback runs exactly once and never inside the call that started
 * the work (a flag set around each call); that a cancelled request's
 * callback never runs (and, under ASan, that nothing leaks or is used
 * after free); that STARTTLS drops what came with the peer's go-ahead;
 * that client TLS contexts are built once per profile.  The loop is driven
 * until a condition holds; a watchdog only bounds a hang.  No timing is
 * asserted: short timeouts exist only to reach the timeout paths.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <signal.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>

#include "config.h"
#include "loom_module.h"
#include "server.h"
#include "tls.h"

#define WATCHDOG_MS 20000

typedef struct {
    struct event_base *base;
    loom_server_t *srv;
    loom_resolver_t *r;    /* at the in-process dns instance */
    loom_resolver_t *dead; /* at a UDP socket that never answers */
    char dir[64], cert[128], key[128];
    int p_echo, p_tls, p_probe, p_dns;
    int silent_udp;
} env_t;

/* ---- fixtures ----------------------------------------------------------- */

static int free_port(void)
{
    struct sockaddr_in sin;
    socklen_t len = sizeof(sin);
    int fd = socket(AF_INET, SOCK_STREAM, 0), port;

    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
        getsockname(fd, (struct sockaddr *)&sin, &len) != 0)
        return -1;
    port = ntohs(sin.sin_port);
    close(fd);
    return port;
}

/* A listening loopback socket (BACKLOG) on a fresh port, into *PORT. */
static int listen_socket(int backlog, int *port)
{
    struct sockaddr_in sin;
    socklen_t len = sizeof(sin);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    assert_int_equal(listen(fd, backlog), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
    *port = ntohs(sin.sin_port);
    return fd;
}

/* A self-signed certificate for localhost and 127.0.0.1, PEM files. */
static int make_cert(const char *cert, const char *key)
{
    EVP_PKEY *pkey = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    X509_NAME *name;
    X509_EXTENSION *ext;
    X509V3_CTX v3;
    FILE *f;
    int ok = 0;

    if (pkey == NULL || x == NULL)
        goto out;
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 42);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_set_pubkey(x, pkey);
    name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               (const unsigned char *)"localhost", -1, -1, 0);
    X509_set_issuer_name(x, name);
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
    ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name,
                              "DNS:localhost,IP:127.0.0.1");
    if (ext == NULL)
        goto out;
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    ext = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints, "CA:TRUE");
    if (ext == NULL)
        goto out;
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    if (X509_sign(x, pkey, EVP_sha256()) == 0)
        goto out;
    if ((f = fopen(cert, "w")) == NULL)
        goto out;
    ok = PEM_write_X509(f, x);
    fclose(f);
    if ((f = fopen(key, "w")) == NULL)
        goto out;
    ok = ok && PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL);
    fclose(f);
out:
    X509_free(x);
    EVP_PKEY_free(pkey);
    return ok ? 0 : -1;
}

static const char zone_text[] =
    "$ORIGIN client.test.\n"
    "$TTL 300\n"
    "@ IN SOA ns1 hostmaster 1 7200 900 1209600 60\n"
    "@ IN NS ns1\n"
    "ns1 IN A 127.0.0.1\n"
    "echo IN A 127.0.0.1\n"
    "v6only IN AAAA ::1\n"
    "mxonly IN MX 10 echo\n";

static int env_setup(void **state)
{
    env_t *e = calloc(1, sizeof(*e));
    const char *builddir = getenv("LOOM_BUILDDIR");
    char err[512] = "", zone[128], text[4096];
    struct sockaddr_in sin;
    socklen_t len = sizeof(sin);
    loom_config_t *cfg;
    FILE *f;

    if (e == NULL)
        return -1;
    snprintf(e->dir, sizeof(e->dir), "/tmp/loom-test-client.XXXXXX");
    if (mkdtemp(e->dir) == NULL)
        return -1;
    snprintf(e->cert, sizeof(e->cert), "%s/cert.pem", e->dir);
    snprintf(e->key, sizeof(e->key), "%s/key.pem", e->dir);
    snprintf(zone, sizeof(zone), "%s/client.test.zone", e->dir);
    if (make_cert(e->cert, e->key) != 0 || (f = fopen(zone, "w")) == NULL)
        return -1;
    fputs(zone_text, f);
    fclose(f);
    e->p_echo = free_port();
    e->p_tls = free_port();
    e->p_probe = free_port();
    e->p_dns = free_port();
    snprintf(text, sizeof(text),
             "load_module(\"%s/tests/modules/.libs/probe.so\")\n"
             "tls \"file\" {\n  cert = \"%s\"\n  key = \"%s\"\n}\n"
             "echo \"plain\" {\n"
             "  listen = {\"tcp:%d:interface=127.0.0.1\"}\n}\n"
             "echo \"tls\" {\n"
             "  listen = {\"tls:%d:interface=127.0.0.1:profile=file\"}\n"
             "  alpn = {\"x-loom-test\"}\n}\n"
             "probe \"peer\" {\n"
             "  listen = {\"tcp:%d:interface=127.0.0.1\"}\n"
             "  tls_profile = \"file\"\n}\n"
             "dns \"auth\" {\n"
             "  listen = {\"udp:%d:interface=127.0.0.1\", "
             "\"tcp:%d:interface=127.0.0.1\"}\n"
             "  zone \"client.test\" { file = \"%s\" }\n}\n",
             builddir ? builddir : ".", e->cert, e->key, e->p_echo, e->p_tls,
             e->p_probe, e->p_dns, e->p_dns, zone);
    e->base = event_base_new();
    e->srv = loom_server_new(e->base);
    cfg = loom_config_load("[test]", text, err, sizeof(err));
    if (cfg == NULL ||
        loom_server_start(e->srv, cfg, err, sizeof(err)) != LOOM_OK) {
        print_message("# start failed: %s\n", err);
        return -1;
    }
    snprintf(text, sizeof(text), "127.0.0.1:%d", e->p_dns);
    e->r = loom_resolver_new_lookup(e->srv, text, 2000, 2, err, sizeof(err));
    e->silent_udp = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (e->r == NULL || e->silent_udp < 0 ||
        bind(e->silent_udp, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
        getsockname(e->silent_udp, (struct sockaddr *)&sin, &len) != 0)
        return -1;
    snprintf(text, sizeof(text), "127.0.0.1:%d", ntohs(sin.sin_port));
    e->dead = loom_resolver_new_lookup(e->srv, text, 200, 1, err, sizeof(err));
    if (e->dead == NULL)
        return -1;
    *state = e;
    return 0;
}

static int env_teardown(void **state)
{
    env_t *e = *state;
    char path[160];

    loom_resolver_free(e->r);
    loom_resolver_free(e->dead);
    loom_server_free(e->srv);
    event_base_free(e->base);
    close(e->silent_udp);
    unlink(e->cert);
    unlink(e->key);
    snprintf(path, sizeof(path), "%s/client.test.zone", e->dir);
    unlink(path);
    rmdir(e->dir);
    free(e);
    return 0;
}

/* ---- driving the loop ------------------------------------------------------
 */

static void on_watchdog(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    *(int *)arg = 1;
}

/* Run the loop until *FLAG >= WANT (bounded by the watchdog). */
static void run_until(env_t *e, const int *flag, int want)
{
    int fired = 0;
    struct timeval tv = {WATCHDOG_MS / 1000, 0};
    struct event *wd = evtimer_new(e->base, on_watchdog, &fired);

    evtimer_add(wd, &tv);
    while (*flag < want && !fired)
        event_base_loop(e->base, EVLOOP_ONCE);
    event_free(wd);
    if (*flag < want)
        fail_msg("condition not reached before the watchdog");
}

/* Run the loop for about MS milliseconds (to reach a state, never to
 * measure one). */
static void run_for(env_t *e, unsigned ms)
{
    int fired = 0;
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
    struct event *t = evtimer_new(e->base, on_watchdog, &fired);

    evtimer_add(t, &tv);
    while (!fired)
        event_base_loop(e->base, EVLOOP_ONCE);
    event_free(t);
}

/* ---- a client -------------------------------------------------------------
 */

typedef struct {
    int in_call;    /* set around the API call */
    int calls;      /* connect callbacks */
    int early;      /* a callback ran inside the call */
    loom_conn_t *c; /* the connection, while open */
    loom_connect_status_t status;
    char err[400];
    loom_addr_t addr;
    int have_addr;
    size_t tried;
    int dns_status;
    char in[8192];
    size_t in_len;
    int closed;
    int seq, close_seq;
    /* STARTTLS */
    int starttls_at_220; /* call loom_conn_starttls_client on "220" */
    loom_tls_client_t tls;
    unsigned tls_timeout;
    int starttls_rc;
    int done_calls, done_seq;
    loom_connect_status_t done_st;
    char done_err[400];
    size_t in_at_done; /* bytes received when TLS was up */
} client_t;

static void client_done_tls(loom_conn_t *c, loom_connect_status_t st,
                            const char *err, void *arg)
{
    client_t *cl = arg;

    assert_ptr_equal(c, cl->c);
    if (cl->in_call)
        cl->early = 1;
    cl->done_calls++;
    cl->done_seq = ++cl->seq;
    cl->done_st = st;
    cl->in_at_done = cl->in_len;
    snprintf(cl->done_err, sizeof(cl->done_err), "%s", err ? err : "");
    if (st == LOOM_CONNECT_OK)
        assert_null(err);
    else
        assert_non_null(err);
}

static size_t client_data(loom_conn_t *c, const char *buf, size_t len)
{
    client_t *cl = loom_conn_data(c);
    size_t take = len;
    const char *nl;

    if (cl->starttls_at_220 && (nl = memchr(buf, '\n', len)) != NULL) {
        take = (size_t)(nl - buf) + 1; /* the line only: the rest must go */
        cl->starttls_at_220 = 0;
        if (take >= 3 && memcmp(buf, "220", 3) == 0) {
            cl->in_call = 1;
            cl->starttls_rc = loom_conn_starttls_client(
                c, &cl->tls, cl->tls_timeout, client_done_tls, cl);
            cl->in_call = 0;
        }
    }
    assert_true(cl->in_len + take <= sizeof(cl->in));
    memcpy(cl->in + cl->in_len, buf, take);
    cl->in_len += take;
    return take;
}

static void client_close(loom_conn_t *c)
{
    client_t *cl = loom_conn_data(c);

    cl->closed++;
    cl->close_seq = ++cl->seq;
    cl->c = NULL;
}

static const loom_handler_t client_handler = {NULL, client_data, NULL,
                                              client_close};

static void client_connected(loom_conn_t *c, const loom_connect_result_t *res,
                             void *arg)
{
    client_t *cl = arg;

    if (cl->in_call)
        cl->early = 1;
    cl->calls++;
    cl->c = c;
    cl->status = res->status;
    cl->tried = res->tried;
    cl->dns_status = res->dns_status;
    snprintf(cl->err, sizeof(cl->err), "%s", res->err ? res->err : "");
    cl->have_addr = res->addr != NULL;
    if (res->addr)
        cl->addr = *res->addr;
    if (c) {
        assert_int_equal(res->status, LOOM_CONNECT_OK);
        assert_null(res->err);
        assert_ptr_equal(loom_conn_data(c), cl);
    } else {
        assert_int_not_equal(res->status, LOOM_CONNECT_OK);
        assert_non_null(res->err);
    }
}

static loom_addr_t addr4(int port)
{
    loom_addr_t a;

    assert_int_equal(loom_addr_parse("127.0.0.1", port, &a), LOOM_OK);
    return a;
}

static int addr_port(const loom_addr_t *a)
{
    return ntohs(((const struct sockaddr_in *)&a->addr)->sin_port);
}

/* Connect CL to HOST:PORT with OPTS and wait for the callback. */
static void connect_host_wait(env_t *e, client_t *cl, const char *host,
                              int port, const loom_connect_opts_t *opts)
{
    loom_connect_t *cr;

    cl->in_call = 1;
    cr = loom_connect_host(e->srv, host, port, opts, &client_handler,
                           client_connected, cl);
    cl->in_call = 0;
    assert_non_null(cr);
    run_until(e, &cl->calls, 1);
    assert_int_equal(cl->calls, 1);
    assert_int_equal(cl->early, 0);
}

static void connect_addrs_wait(env_t *e, client_t *cl, const loom_addr_t *a,
                               size_t n, const loom_connect_opts_t *opts)
{
    loom_connect_t *cr;

    cl->in_call = 1;
    cr = loom_connect_addrs(e->srv, a, n, opts, &client_handler,
                            client_connected, cl);
    cl->in_call = 0;
    assert_non_null(cr);
    run_until(e, &cl->calls, 1);
    assert_int_equal(cl->calls, 1);
    assert_int_equal(cl->early, 0);
}

/* Write TEXT on CL's connection and wait until WANT came back. */
static void exchange(env_t *e, client_t *cl, const char *text, const char *want)
{
    size_t start = cl->in_len, wl = strlen(want);
    int fired = 0;
    struct timeval tv = {WATCHDOG_MS / 1000, 0};
    struct event *wd = evtimer_new(e->base, on_watchdog, &fired);

    assert_non_null(cl->c);
    assert_int_equal(loom_conn_write(cl->c, text, strlen(text)), LOOM_OK);
    evtimer_add(wd, &tv);
    while (cl->in_len - start < wl && cl->c && !fired)
        event_base_loop(e->base, EVLOOP_ONCE);
    event_free(wd);
    assert_int_equal(cl->in_len - start, wl);
    assert_memory_equal(cl->in + start, want, wl);
}

static void client_finish(env_t *e, client_t *cl)
{
    if (cl->c) {
        loom_conn_close(cl->c);
        run_until(e, &cl->closed, 1);
    }
}

/* ---- connecting ------------------------------------------------------------
 */

static void test_connect_address_echo(void **state)
{
    env_t *e = *state;
    client_t cl = {0};
    loom_addr_t a = addr4(e->p_echo);

    connect_addrs_wait(e, &cl, &a, 1, NULL);
    assert_int_equal(cl.status, LOOM_CONNECT_OK);
    assert_int_equal(cl.tried, 1);
    assert_true(cl.have_addr);
    assert_int_equal(addr_port(&cl.addr), e->p_echo);
    exchange(e, &cl, "hello\r\n", "hello\r\n");
    client_finish(e, &cl);
}

static void test_connect_localhost_every_address(void **state)
{
    env_t *e = *state;
    client_t cl = {0};
    char buf[80], want[80];

    /* localhost may give ::1 first, where nothing listens: refused, then
     * 127.0.0.1 */
    connect_host_wait(e, &cl, "localhost", e->p_echo, NULL);
    assert_int_equal(cl.status, LOOM_CONNECT_OK);
    snprintf(want, sizeof(want), "127.0.0.1:%d", e->p_echo);
    assert_string_equal(loom_addr_format(&cl.addr, buf, sizeof(buf)), want);
    assert_true(cl.tried >= 1 && cl.tried <= 2);
    exchange(e, &cl, "x", "x");
    client_finish(e, &cl);
}

static void test_connect_refused(void **state)
{
    env_t *e = *state;
    client_t cl = {0};
    loom_addr_t a = addr4(free_port());

    connect_addrs_wait(e, &cl, &a, 1, NULL);
    assert_int_equal(cl.status, LOOM_CONNECT_EREFUSED);
    assert_string_equal(cl.err, "connection refused");
    assert_int_equal(cl.tried, 1);
    assert_true(cl.have_addr);
    assert_int_equal(addr_port(&cl.addr), addr_port(&a));
    assert_null(cl.c);
}

static void test_connect_second_address(void **state)
{
    env_t *e = *state;
    client_t cl = {0};
    loom_addr_t a[2];

    a[0] = addr4(free_port());
    a[1] = addr4(e->p_echo);
    connect_addrs_wait(e, &cl, a, 2, NULL);
    assert_int_equal(cl.status, LOOM_CONNECT_OK);
    assert_int_equal(cl.tried, 2);
    assert_int_equal(addr_port(&cl.addr), e->p_echo);
    exchange(e, &cl, "two", "two");
    client_finish(e, &cl);
}

/* A listener with a full accept queue: further connects get no answer. */
static int blackhole(int *port, int *filler)
{
    struct sockaddr_in sin;
    int fd = listen_socket(0, port);

    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sin.sin_port = htons((uint16_t)*port);
    *filler = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    connect(*filler, (struct sockaddr *)&sin, sizeof(sin));
    return fd;
}

static void test_attempt_timeout_moves_on(void **state)
{
    env_t *e = *state;
    client_t cl = {0};
    loom_connect_opts_t o = {0};
    loom_addr_t a[2];
    int port, filler, fd = blackhole(&port, &filler);

    a[0] = addr4(port);
    a[1] = addr4(e->p_echo);
    o.attempt_timeout_ms = 200;
    o.timeout_ms = WATCHDOG_MS;
    connect_addrs_wait(e, &cl, a, 2, &o);
    assert_int_equal(cl.status, LOOM_CONNECT_OK);
    assert_int_equal(cl.tried, 2);
    assert_int_equal(addr_port(&cl.addr), e->p_echo);
    client_finish(e, &cl);
    close(filler);
    close(fd);
}

static void test_whole_timeout(void **state)
{
    env_t *e = *state;
    client_t cl = {0};
    loom_connect_opts_t o = {0};
    loom_addr_t a;
    int port, filler, fd = blackhole(&port, &filler);

    a = addr4(port);
    o.timeout_ms = 200;
    connect_addrs_wait(e, &cl, &a, 1, &o);
    assert_int_equal(cl.status, LOOM_CONNECT_ETIMEOUT);
    assert_string_equal(cl.err, "timed out");
    assert_int_equal(cl.tried, 1);
    close(filler);
    close(fd);
}

static void test_tls_handshake_timeout(void **state)
{
    env_t *e = *state;
    client_t cl = {0};
    loom_connect_opts_t o = {0};
    int port, fd = listen_socket(8, &port); /* accepts, never speaks */
    loom_addr_t a = addr4(port);

    o.timeout_ms = 200;
    o.tls = 1;
    connect_addrs_wait(e, &cl, &a, 1, &o);
    assert_int_equal(cl.status, LOOM_CONNECT_ETIMEOUT);
    assert_int_equal(cl.tried, 1);
    close(fd);
}

static void test_bad_arguments(void **state)
{
    env_t *e = *state;
    loom_addr_t good = addr4(e->p_echo), bad;
    loom_connect_opts_t fam = {0}, tls_alpn = {0}, tls_ca = {0};
    static const loom_handler_t no_data = {NULL, NULL, NULL, NULL};
    struct {
        const char *what;
        const char *host; /* NULL: connect by addresses */
        int port;
        const loom_addr_t *addrs;
        size_t n;
        const loom_connect_opts_t *opts;
        const loom_handler_t *h;
    } cases[] = {
        {"no address", NULL, 0, NULL, 0, NULL, &client_handler},
        {"zero addresses", NULL, 0, &good, 0, NULL, &client_handler},
        {"bad address", NULL, 0, &bad, 1, NULL, &client_handler},
        {"no handler", NULL, 0, &good, 1, NULL, NULL},
        {"no data callback", NULL, 0, &good, 1, NULL, &no_data},
        {"bad family", "localhost", 80, NULL, 0, &fam, &client_handler},
        {"port 0", "localhost", 0, NULL, 0, NULL, &client_handler},
        {"port 65536", "localhost", 65536, NULL, 0, NULL, &client_handler},
        {"NULL host", NULL, 80, NULL, 0, NULL, &client_handler},
        {"empty host", "", 80, NULL, 0, NULL, &client_handler},
        {"space in host", "a b", 80, NULL, 0, NULL, &client_handler},
        {"empty label", "a..b", 80, NULL, 0, NULL, &client_handler},
        {"bad ALPN", "127.0.0.1", 0, NULL, 0, &tls_alpn, &client_handler},
        {"unreadable CA", "127.0.0.1", 0, NULL, 0, &tls_ca, &client_handler},
    };
    size_t i;

    memset(&bad, 0, sizeof(bad));
    fam.family = 12345;
    tls_alpn.tls = tls_ca.tls = 1;
    tls_alpn.tls_opts.alpn = "h2,,x";
    tls_ca.tls_opts.ca_file = "/nonexistent/ca.pem";
    for (i = 0; i < LOOM_ARRAY_LEN(cases); i++) {
        client_t cl = {0};
        loom_connect_t *cr;

        print_message("# %s\n", cases[i].what);
        cl.in_call = 1;
        if (cases[i].opts && cases[i].opts->tls)
            cr = loom_connect_host(e->srv, cases[i].host, e->p_tls,
                                   cases[i].opts, cases[i].h, client_connected,
                                   &cl);
        else if (cases[i].host || cases[i].port)
            cr = loom_connect_host(e->srv, cases[i].host, cases[i].port,
                                   cases[i].opts, cases[i].h, client_connected,
                                   &cl);
        else
            cr = loom_connect_addrs(e->srv, cases[i].addrs, cases[i].n,
                                    cases[i].opts, cases[i].h, client_connected,
                                    &cl);
        cl.in_call = 0;
        assert_non_null(cr);
        assert_int_equal(cl.calls, 0);
        run_until(e, &cl.calls, 1);
        run_for(e, 20); /* and never again */
        assert_int_equal(cl.calls, 1);
        assert_int_equal(cl.early, 0);
        assert_int_equal(cl.status, LOOM_CONNECT_EINVAL);
        assert_null(cl.c);
    }
}

static void test_bad_endpoint_string(void **state)
{
    env_t *e = *state;
    client_t cl = {0};

    cl.in_call = 1;
    assert_non_null(loom_connect(e->srv, "tcp:host=x", &client_handler,
                                 client_connected, &cl));
    cl.in_call = 0;
    run_until(e, &cl.calls, 1);
    assert_int_equal(cl.early, 0);
    assert_int_equal(cl.status, LOOM_CONNECT_EINVAL);
    assert_non_null(strstr(cl.err, "missing port"));
}

static void test_endpoint_string(void **state)
{
    env_t *e = *state;
    client_t cl = {0};
    char ep[64];

    snprintf(ep, sizeof(ep), "tcp:host=127.0.0.1:port=%d:timeout=5", e->p_echo);
    cl.in_call = 1;
    assert_non_null(
        loom_connect(e->srv, ep, &client_handler, client_connected, &cl));
    cl.in_call = 0;
    run_until(e, &cl.calls, 1);
    assert_int_equal(cl.early, 0);
    assert_int_equal(cl.status, LOOM_CONNECT_OK);
    exchange(e, &cl, "ep", "ep");
    client_finish(e, &cl);
}

static void test_connect_by_name_failures(void **state)
{
    env_t *e = *state;
    loom_connect_opts_t o = {0};
    client_t a = {0}, b = {0}, c = {0}, d = {0};

    o.resolver = e->r;
    connect_host_wait(e, &a, "echo.client.test", e->p_echo, &o);
    assert_int_equal(a.status, LOOM_CONNECT_OK);
    exchange(e, &a, "by name", "by name");
    client_finish(e, &a);

    connect_host_wait(e, &b, "nosuch.client.test", e->p_echo, &o);
    assert_int_equal(b.status, LOOM_CONNECT_ERESOLVE);
    assert_int_equal(b.dns_status, LOOM_DNS_NXDOMAIN);
    assert_false(b.have_addr);
    assert_int_equal(b.tried, 0);

    connect_host_wait(e, &c, "mxonly.client.test", e->p_echo, &o);
    assert_int_equal(c.status, LOOM_CONNECT_ENOADDR);

    o.family = AF_INET;
    connect_host_wait(e, &d, "v6only.client.test", e->p_echo, &o);
    assert_int_equal(d.status, LOOM_CONNECT_ENOADDR);
}

static void test_resolution_timeout(void **state)
{
    env_t *e = *state;
    loom_connect_opts_t o = {0};
    client_t cl = {0};

    o.resolver = e->dead;
    o.timeout_ms = WATCHDOG_MS;
    connect_host_wait(e, &cl, "echo.client.test", e->p_echo, &o);
    assert_int_equal(cl.status, LOOM_CONNECT_ERESOLVE);
    assert_int_equal(cl.dns_status, LOOM_DNS_TIMEOUT);
}

/* ---- TLS -------------------------------------------------------------------
 */

static void test_tls_verify_fails_against_system_store(void **state)
{
    env_t *e = *state;
    loom_connect_opts_t o = {0};
    client_t cl = {0};

    o.tls = 1;
    connect_host_wait(e, &cl, "localhost", e->p_tls, &o);
    assert_int_equal(cl.status, LOOM_CONNECT_EVERIFY);
    assert_non_null(strstr(cl.err, "certificate verification failed"));
}

static void test_tls_verified_with_ca_and_alpn(void **state)
{
    env_t *e = *state;
    loom_connect_opts_t o = {0};
    client_t cl = {0};
    loom_tls_info_t ti;

    o.tls = 1;
    o.tls_opts.ca_file = e->cert;
    o.tls_opts.alpn = "h2,x-loom-test";
    connect_host_wait(e, &cl, "localhost", e->p_tls, &o);
    assert_int_equal(cl.status, LOOM_CONNECT_OK);
    assert_int_equal(loom_conn_tls_info(cl.c, &ti), LOOM_OK);
    assert_string_equal(ti.alpn, "x-loom-test");
    exchange(e, &cl, "over tls\n", "over tls\n");
    client_finish(e, &cl);
}

static void test_tls_ip_address_verified(void **state)
{
    env_t *e = *state;
    loom_connect_opts_t o = {0};
    client_t cl = {0};
    loom_addr_t a = addr4(e->p_tls);

    /* no name: the certificate must name 127.0.0.1 (it does) */
    o.tls = 1;
    o.tls_opts.ca_file = e->cert;
    connect_addrs_wait(e, &cl, &a, 1, &o);
    assert_int_equal(cl.status, LOOM_CONNECT_OK);
    client_finish(e, &cl);
}

static void test_tls_wrong_name(void **state)
{
    env_t *e = *state;
    loom_connect_opts_t o = {0};
    client_t cl = {0};

    o.tls = 1;
    o.tls_opts.ca_file = e->cert;
    o.tls_opts.name = "mail.example.org";
    connect_host_wait(e, &cl, "127.0.0.1", e->p_tls, &o);
    assert_int_equal(cl.status, LOOM_CONNECT_EVERIFY);
}

static void test_tls_no_verify(void **state)
{
    env_t *e = *state;
    loom_connect_opts_t o = {0};
    client_t cl = {0};

    o.tls = 1;
    o.tls_opts.no_verify = 1;
    connect_host_wait(e, &cl, "127.0.0.1", e->p_tls, &o);
    assert_int_equal(cl.status, LOOM_CONNECT_OK);
    exchange(e, &cl, "insecure", "insecure");
    client_finish(e, &cl);
}

static void test_tls_to_plain_server(void **state)
{
    env_t *e = *state;
    loom_connect_opts_t o = {0};
    client_t cl = {0};

    o.tls = 1;
    o.tls_opts.no_verify = 1;
    connect_host_wait(e, &cl, "127.0.0.1", e->p_echo, &o);
    assert_int_equal(cl.status, LOOM_CONNECT_ETLS);
    assert_non_null(strstr(cl.err, "TLS handshake failed"));
}

static void test_client_contexts_cached(void **state)
{
    env_t *e = *state;
    size_t base = loom_tls_client_contexts(e->srv), i;
    loom_connect_opts_t o = {0};

    o.tls = 1;
    o.tls_opts.ca_file = e->cert;
    for (i = 0; i < 8; i++) {
        client_t cl = {0};

        connect_host_wait(e, &cl, "localhost", e->p_tls, &o);
        assert_int_equal(cl.status, LOOM_CONNECT_OK);
        client_finish(e, &cl);
    }
    /* none, or one if no earlier test used this profile */
    assert_true(loom_tls_client_contexts(e->srv) - base <= 1);
    base = loom_tls_client_contexts(e->srv);
    o.tls_opts.alpn = "x-other";
    for (i = 0; i < 8; i++) {
        client_t cl = {0};

        connect_host_wait(e, &cl, "localhost", e->p_tls, &o);
        assert_int_equal(cl.status, LOOM_CONNECT_OK);
        client_finish(e, &cl);
    }
    assert_int_equal(loom_tls_client_contexts(e->srv) - base, 1);
    o.tls_opts.alpn = NULL;
    for (i = 0; i < 4; i++) {
        client_t cl = {0};

        connect_host_wait(e, &cl, "localhost", e->p_tls, &o);
        client_finish(e, &cl);
    }
    assert_int_equal(loom_tls_client_contexts(e->srv) - base, 1);
}

/* ---- cancel ----------------------------------------------------------------
 */

/* Start a request with MAKE, run the loop until STAGE says so, cancel,
 * and check the callback never runs (a sentinel connect finishing later
 * proves the loop went on). */
static void test_cancel_before_start(void **state)
{
    env_t *e = *state;
    client_t cl = {0}, sentinel = {0};
    loom_addr_t a = addr4(e->p_echo);
    loom_connect_t *cr;

    cr = loom_connect_addrs(e->srv, &a, 1, NULL, &client_handler,
                            client_connected, &cl);
    loom_connect_cancel(cr);
    cr = loom_connect_host(e->srv, "bad name", 1, NULL, &client_handler,
                           client_connected, &cl);
    loom_connect_cancel(cr);
    connect_addrs_wait(e, &sentinel, &a, 1, NULL);
    run_for(e, 50);
    assert_int_equal(cl.calls, 0);
    client_finish(e, &sentinel);
}

static void test_cancel_during_resolution(void **state)
{
    env_t *e = *state;
    client_t cl = {0}, sentinel = {0};
    loom_connect_opts_t o = {0};
    loom_connect_t *cr;

    /* the dead channel never answers: the lookup is with c-ares until its
     * own timeout, which the sentinel (same channel) waits out */
    o.resolver = e->dead;
    o.timeout_ms = WATCHDOG_MS;
    cr = loom_connect_host(e->srv, "echo.client.test", e->p_echo, &o,
                           &client_handler, client_connected, &cl);
    run_for(e, 20);
    loom_connect_cancel(cr);
    connect_host_wait(e, &sentinel, "echo.client.test", e->p_echo, &o);
    assert_int_equal(sentinel.status, LOOM_CONNECT_ERESOLVE);
    run_for(e, 50);
    assert_int_equal(cl.calls, 0);
}

static void test_cancel_during_connect(void **state)
{
    env_t *e = *state;
    client_t cl = {0};
    loom_connect_t *cr;
    int port, filler, fd = blackhole(&port, &filler);
    loom_addr_t a = addr4(port);

    cr = loom_connect_addrs(e->srv, &a, 1, NULL, &client_handler,
                            client_connected, &cl);
    run_for(e, 50);
    loom_connect_cancel(cr);
    run_for(e, 50);
    assert_int_equal(cl.calls, 0);
    close(filler);
    close(fd);
}

static void test_cancel_during_tls_handshake(void **state)
{
    env_t *e = *state;
    client_t cl = {0};
    loom_connect_opts_t o = {0};
    loom_connect_t *cr;
    int port, lfd = listen_socket(8, &port), afd = -1, turns;
    loom_addr_t a = addr4(port);
    char buf[4096];
    ssize_t n = -1;

    o.tls = 1;
    cr = loom_connect_addrs(e->srv, &a, 1, &o, &client_handler,
                            client_connected, &cl);
    fcntl(lfd, F_SETFL, O_NONBLOCK);
    /* wait for the ClientHello: the handshake is under way */
    for (turns = 0; turns < 2000 && n <= 0; turns++) {
        event_base_loop(e->base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
        if (afd < 0)
            afd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
        if (afd >= 0)
            n = read(afd, buf, sizeof(buf));
        if (n <= 0)
            usleep(1000);
    }
    assert_true(n > 0);
    loom_connect_cancel(cr);
    /* the connection is dropped: the listener's side sees the end */
    for (turns = 0, n = 1; turns < 2000 && n != 0; turns++) {
        event_base_loop(e->base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
        n = read(afd, buf, sizeof(buf));
        if (n < 0 && errno == ECONNRESET)
            n = 0;
        if (n != 0)
            usleep(1000);
    }
    assert_int_equal(n, 0);
    run_for(e, 20);
    assert_int_equal(cl.calls, 0);
    close(afd);
    close(lfd);
}

/* ---- STARTTLS --------------------------------------------------------------
 */

/* Connect to the probe, send COMMAND, switch at its "220" with TLS. */
static void starttls_run(env_t *e, client_t *cl, const char *command,
                         const loom_tls_client_t *tls, unsigned timeout)
{
    loom_addr_t a = addr4(e->p_probe);

    connect_addrs_wait(e, cl, &a, 1, NULL);
    assert_int_equal(cl->status, LOOM_CONNECT_OK);
    cl->starttls_at_220 = 1;
    cl->starttls_rc = 99;
    if (tls)
        cl->tls = *tls;
    cl->tls_timeout = timeout;
    assert_int_equal(loom_conn_printf(cl->c, "%s\r\n", command), LOOM_OK);
    run_until(e, &cl->done_calls, 1);
    assert_int_equal(cl->starttls_rc, LOOM_OK);
    assert_int_equal(cl->done_calls, 1);
    assert_int_equal(cl->early, 0);
    assert_int_equal(cl->in_at_done, strlen("220 go\r\n"));
    assert_memory_equal(cl->in, "220 go\r\n", cl->in_at_done);
}

static void test_starttls_ok(void **state)
{
    env_t *e = *state;
    client_t cl = {0};
    loom_tls_client_t tls = {0, NULL, "localhost", NULL};
    loom_tls_info_t ti;

    tls.ca_file = e->cert;
    starttls_run(e, &cl, "STARTTLS", &tls, 0);
    assert_int_equal(cl.done_st, LOOM_CONNECT_OK);
    assert_int_equal(loom_conn_tls_info(cl.c, &ti), LOOM_OK);
    assert_int_equal(cl.closed, 0);
    exchange(e, &cl, "PING 1\r\n", "PONG 1 tls=TLSv1.3\r\n");
    exchange(e, &cl, "PING 2\r\n", "PONG 2 tls=TLSv1.3\r\n");
    /* once TLS is up, again is refused and changes nothing */
    assert_int_equal(
        loom_conn_starttls_client(cl.c, &tls, 0, client_done_tls, &cl),
        LOOM_ERROR);
    exchange(e, &cl, "PING 3\r\n", "PONG 3 tls=TLSv1.3\r\n");
    assert_int_equal(cl.done_calls, 1);
    client_finish(e, &cl);
}

static void test_starttls_drops_injected_bytes(void **state)
{
    env_t *e = *state;
    client_t cl = {0};
    loom_tls_client_t tls = {0, NULL, "localhost", NULL};

    tls.ca_file = e->cert;
    /* "220 go\r\nINJECTED\r\n" arrive together; the client takes the line
     * only and switches: INJECTED must never reach it, neither as
     * plaintext nor as if it had come over TLS */
    starttls_run(e, &cl, "STARTTLS-INJECT", &tls, 0);
    assert_int_equal(cl.done_st, LOOM_CONNECT_OK);
    exchange(e, &cl, "PING x\r\n", "PONG x tls=TLSv1.3\r\n");
    assert_int_equal(cl.in_len, strlen("220 go\r\nPONG x tls=TLSv1.3\r\n"));
    assert_null(memmem(cl.in, cl.in_len, "INJECTED", 8));
    client_finish(e, &cl);
}

static void test_starttls_verify_fails(void **state)
{
    env_t *e = *state;
    client_t cl = {0};

    starttls_run(e, &cl, "STARTTLS", NULL, 0); /* system store */
    assert_int_equal(cl.done_st, LOOM_CONNECT_EVERIFY);
    assert_non_null(strstr(cl.done_err, "certificate verification failed"));
    /* then the connection's close callback, once */
    run_until(e, &cl.closed, 1);
    assert_int_equal(cl.closed, 1);
    assert_true(cl.close_seq > cl.done_seq);
}

static void test_starttls_peer_stays_plaintext(void **state)
{
    env_t *e = *state;
    client_t cl = {0};
    loom_tls_client_t tls = {1, NULL, NULL, NULL};

    starttls_run(e, &cl, "FAKETLS", &tls, 0);
    assert_int_equal(cl.done_st, LOOM_CONNECT_ETLS);
    assert_non_null(strstr(cl.done_err, "TLS handshake failed"));
    run_until(e, &cl.closed, 1);
    assert_true(cl.close_seq > cl.done_seq);
    assert_null(memmem(cl.in, cl.in_len, "500", 3));
}

static void test_starttls_peer_never_answers(void **state)
{
    env_t *e = *state;
    client_t cl = {0};
    loom_tls_client_t tls = {1, NULL, NULL, NULL};

    starttls_run(e, &cl, "SILENT", &tls, 200);
    assert_int_equal(cl.done_st, LOOM_CONNECT_ETIMEOUT);
    run_until(e, &cl.closed, 1);
    assert_true(cl.close_seq > cl.done_seq);
}

static void test_starttls_bad_options(void **state)
{
    env_t *e = *state;
    client_t cl = {0};
    loom_tls_client_t tls = {0, "/nonexistent/ca.pem", NULL, NULL};

    starttls_run(e, &cl, "STARTTLS", &tls, 0);
    assert_int_equal(cl.done_st, LOOM_CONNECT_EINVAL);
    run_until(e, &cl.closed, 1);
    assert_true(cl.close_seq > cl.done_seq);
}

static void test_starttls_closed_by_owner(void **state)
{
    env_t *e = *state;
    client_t cl = {0};
    loom_tls_client_t tls = {1, NULL, NULL, NULL};
    loom_addr_t a = addr4(e->p_probe);

    /* the owner gives up (closes) while the peer stays silent */
    connect_addrs_wait(e, &cl, &a, 1, NULL);
    cl.starttls_at_220 = 1;
    cl.tls = tls;
    loom_conn_printf(cl.c, "SILENT\r\n");
    while (cl.starttls_at_220 && cl.c)
        event_base_loop(e->base, EVLOOP_ONCE);
    assert_int_equal(cl.starttls_rc, LOOM_OK);
    run_for(e, 20);
    loom_conn_close(cl.c);
    run_until(e, &cl.closed, 1);
    assert_int_equal(cl.done_calls, 1);
    assert_int_equal(cl.done_st, LOOM_CONNECT_ECLOSED);
    assert_true(cl.close_seq > cl.done_seq);
}

/* ---- DNS lookups ------------------------------------------------------------
 */

typedef struct {
    int in_call, calls, early;
    loom_dns_status_t st;
    size_t n;
    char first[256];
} lk_t;

static void lk_done(const loom_dns_result_t *res, void *arg)
{
    lk_t *l = arg;

    if (l->in_call)
        l->early = 1;
    l->calls++;
    l->st = res->status;
    l->n = res->n;
    if (res->n && res->rr[0].name)
        snprintf(l->first, sizeof(l->first), "%s", res->rr[0].name);
}

static void test_lookup_from_reactor_and_cancel(void **state)
{
    env_t *e = *state;
    lk_t ok = {0}, bad = {0}, cancelled = {0};
    loom_dns_query_t *q;

    ok.in_call = 1;
    assert_non_null(loom_dns_lookup(e->srv, e->r, LOOM_DNS_MX,
                                    "mxonly.client.test", lk_done, &ok));
    ok.in_call = 0;
    bad.in_call = 1;
    assert_non_null(
        loom_dns_lookup(e->srv, e->r, LOOM_DNS_MX, "a..b", lk_done, &bad));
    bad.in_call = 0;
    q = loom_dns_lookup(e->srv, e->r, LOOM_DNS_MX, "mxonly.client.test",
                        lk_done, &cancelled);
    loom_dns_cancel(q);
    q = loom_dns_lookup(e->srv, e->r, LOOM_DNS_TXT, "a..b", lk_done,
                        &cancelled); /* an early answer, also cancelled */
    loom_dns_cancel(q);
    run_until(e, &ok.calls, 1);
    run_until(e, &bad.calls, 1);
    run_for(e, 50);
    assert_int_equal(ok.early + bad.early, 0);
    assert_int_equal(ok.calls, 1);
    assert_int_equal(ok.st, LOOM_DNS_OK);
    assert_int_equal(ok.n, 1);
    assert_string_equal(ok.first, "echo.client.test");
    assert_int_equal(bad.calls, 1);
    assert_int_equal(bad.st, LOOM_DNS_BADNAME);
    assert_int_equal(cancelled.calls, 0);
}

static void test_lookup_cancel_in_flight(void **state)
{
    env_t *e = *state;
    lk_t cancelled = {0}, sentinel = {0};
    loom_dns_query_t *q;

    q = loom_dns_lookup(e->srv, e->dead, LOOM_DNS_SRV, "_x._tcp.client.test",
                        lk_done, &cancelled);
    run_for(e, 20);
    loom_dns_cancel(q);
    assert_non_null(loom_dns_lookup(e->srv, e->dead, LOOM_DNS_SRV,
                                    "_y._tcp.client.test", lk_done, &sentinel));
    run_until(e, &sentinel.calls, 1);
    assert_int_equal(sentinel.st, LOOM_DNS_TIMEOUT);
    assert_true(loom_dns_temporary(sentinel.st));
    run_for(e, 50);
    assert_int_equal(cancelled.calls, 0);
}

static void test_lookup_channel_freed(void **state)
{
    env_t *e = *state;
    lk_t l = {0};
    char err[256], servers[64];
    loom_resolver_t *r;

    snprintf(servers, sizeof(servers), "127.0.0.1:%d", free_port());
    r = loom_resolver_new_lookup(e->srv, servers, 5000, 1, err, sizeof(err));
    assert_non_null(r);
    assert_non_null(
        loom_dns_lookup(e->srv, r, LOOM_DNS_A, "x.test", lk_done, &l));
    loom_resolver_free(r); /* pending lookups hear of it, once */
    assert_int_equal(l.calls, 1);
    assert_int_equal(l.st, LOOM_DNS_ERROR);
    run_for(e, 20);
    assert_int_equal(l.calls, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_connect_address_echo),
        cmocka_unit_test(test_connect_localhost_every_address),
        cmocka_unit_test(test_connect_refused),
        cmocka_unit_test(test_connect_second_address),
        cmocka_unit_test(test_attempt_timeout_moves_on),
        cmocka_unit_test(test_whole_timeout),
        cmocka_unit_test(test_tls_handshake_timeout),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_bad_endpoint_string),
        cmocka_unit_test(test_endpoint_string),
        cmocka_unit_test(test_connect_by_name_failures),
        cmocka_unit_test(test_resolution_timeout),
        cmocka_unit_test(test_tls_verify_fails_against_system_store),
        cmocka_unit_test(test_tls_verified_with_ca_and_alpn),
        cmocka_unit_test(test_tls_ip_address_verified),
        cmocka_unit_test(test_tls_wrong_name),
        cmocka_unit_test(test_tls_no_verify),
        cmocka_unit_test(test_tls_to_plain_server),
        cmocka_unit_test(test_client_contexts_cached),
        cmocka_unit_test(test_cancel_before_start),
        cmocka_unit_test(test_cancel_during_resolution),
        cmocka_unit_test(test_cancel_during_connect),
        cmocka_unit_test(test_cancel_during_tls_handshake),
        cmocka_unit_test(test_starttls_ok),
        cmocka_unit_test(test_starttls_drops_injected_bytes),
        cmocka_unit_test(test_starttls_verify_fails),
        cmocka_unit_test(test_starttls_peer_stays_plaintext),
        cmocka_unit_test(test_starttls_peer_never_answers),
        cmocka_unit_test(test_starttls_bad_options),
        cmocka_unit_test(test_starttls_closed_by_owner),
        cmocka_unit_test(test_lookup_from_reactor_and_cancel),
        cmocka_unit_test(test_lookup_cancel_in_flight),
        cmocka_unit_test(test_lookup_channel_freed),
    };

    signal(SIGPIPE, SIG_IGN); /* as loomd: a peer gone is an error return */
    return cmocka_run_group_tests(tests, env_setup, env_teardown);
}
