/*
 * test_ops_session.c - the metrics of the finger, memcache and dns modules
 * over the in-memory transport: each sample read from the collector's
 * Prometheus text (loom_metrics_collect) before and after real sessions,
 * so every counter is seen to move by exactly what the traffic did, and
 * the gauges (items, bytes, zones, serials) to say what is there.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <jansson.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core.h"
#include "ctl.h"
#include "dns_service.h"
#include "session.h"

typedef struct {
    ses_env_t ses; /* first: ses_setup_size */
    loom_instance_t *finger, *mc, *dns;
    int secondary; /* a UDP socket that takes the NOTIFYs of n.test */
} env_t;

static const ses_file_t files[] = {
    SES_TEXT("ops.test.zone",
             "$ORIGIN ops.test.\n$TTL 600\n"
             "@ IN SOA ns hostmaster 2024010203 3600 600 86400 120\n"
             "  IN NS ns\nns IN A 192.0.2.1\nwww IN A 192.0.2.2\n"
             "www IN AAAA 2001:db8::2\nmail IN MX 10 www\n"),
    SES_TEXT("two.test.zone", "$ORIGIN two.test.\n$TTL 600\n"
                              "@ IN SOA ns hostmaster 7 3600 600 86400 120\n"
                              "  IN NS ns\nns IN A 192.0.2.9\n"),
    SES_TEXT("n.test.zone", "$ORIGIN n.test.\n$TTL 600\n"
                            "@ IN SOA ns hostmaster 5 3600 600 86400 120\n"
                            "  IN NS ns\nns IN A 192.0.2.10\n"),
};

/* The configuration; %u is the port of the secondary NOTIFYs go to. */
static const char conf_fmt[] =
    "finger \"f\" {\n"
    "    listen = {\"tcp:7979:interface=127.0.0.1\"}\n"
    "    list_users = no\n"
    "    user \"alice\" { name = \"Alice\" }\n"
    "}\n"
    "memcache \"mc\" {\n"
    "    listen = {\"tcp:11311:interface=127.0.0.1\"}\n"
    "    memory = 4194304\n"
    "}\n"
    "dns \"auth\" {\n"
    "    listen = {\"udp:15353:interface=127.0.0.1\"}\n"
    "    zone \"ops.test\" { file = \"@DIR@/ops.test.zone\" }\n"
    "    zone \"two.test\" { file = \"@DIR@/two.test.zone\" }\n"
    "    zone \"n.test\" {\n"
    "        file = \"@DIR@/n.test.zone\"\n"
    "        notify = {\"127.0.0.1:%u\"}\n"
    "    }\n"
    "    rrl { rate = 1 slip = 2 exempt = {} }\n"
    "}\n";

static char conf_text[sizeof(conf_fmt) + 16];

static ses_spec_t spec = {
    .conf = conf_text,
    .tmpl = "/tmp/loom-test-ops.XXXXXX",
    .files = files,
    .nfiles = sizeof(files) / sizeof(files[0]),
};

static int env_setup(void **state)
{
    struct sockaddr_in sin;
    socklen_t slen = sizeof(sin);
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    env_t *e;

    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
        getsockname(fd, (struct sockaddr *)&sin, &slen) != 0)
        return -1;
    snprintf(conf_text, sizeof(conf_text), conf_fmt,
             (unsigned)ntohs(sin.sin_port));
    if (ses_setup_size(state, &spec, sizeof(env_t)) != 0) {
        close(fd);
        return -1;
    }
    e = *state;
    e->secondary = fd;
    e->finger = ses_instance(&e->ses, "finger", "f");
    e->mc = ses_instance(&e->ses, "memcache", "mc");
    e->dns = ses_instance(&e->ses, "dns", "auth");
    return 0;
}

/* ---- reading samples ------------------------------------------------------
 */

static double sample(env_t *e, const char *series)
{
    return ses_metric(e->ses.srv, series);
}

/* Whether the Prometheus text has a "# TYPE NAME TYPE" line. */
static int has_type(env_t *e, const char *name, const char *type)
{
    loom_metrics_t *m = loom_metrics_collect(e->ses.srv);
    size_t len;
    char *text = loom_metrics_prometheus(m, &len), want[256];
    int found;

    loom_metrics_free(m);
    snprintf(want, sizeof(want), "# TYPE %s %s\n", name, type);
    found = strstr(text, want) != NULL;
    free(text);
    return found;
}

static void assert_sample_at(env_t *e, const char *series, double want,
                             int line)
{
    double got = sample(e, series);

    if (got != want)
        fail_msg("line %d: %s is %g, want %g", line, series, got, want);
}

#define assert_sample(e, series, want)                                         \
    assert_sample_at((e), (series), (double)(want), __LINE__)

/* ---- finger ---------------------------------------------------------------
 */

static void finger_ask(env_t *e, const char *line)
{
    ses_reply_t r = ses_talk(&e->ses, e->finger, line, strlen(line), 0, 0);

    assert_true(r.closed);
    free(r.p);
}

#define FINGER_LONG 600 /* a query line over FINGER_QUERY_MAX */
#define FQ(result)                                                             \
    "loom_finger_queries_total{instance=\"f\",result=\"" result "\"}"
#define FR(reason)                                                             \
    "loom_finger_refusals_total{instance=\"f\",reason=\"" reason "\"}"

static void test_finger(void **state)
{
    env_t *e = *state;
    double ok = sample(e, FQ("ok")), unknown = sample(e, FQ("unknown")),
           refused = sample(e, FQ("refused")), error = sample(e, FQ("error")),
           listing = sample(e, FR("listing")),
           forwarding = sample(e, FR("forwarding"));
    char longq[FINGER_LONG];

    assert_true(ok >= 0 && unknown >= 0 && refused >= 0 && error >= 0);
    assert_true(has_type(e, "loom_finger_queries_total", "counter"));
    finger_ask(e, "alice\r\n");
    finger_ask(e, "/W alice\r\n");
    finger_ask(e, "mallory\r\n");
    finger_ask(e, "\r\n");                /* listing: refused */
    finger_ask(e, "alice@elsewhere\r\n"); /* forwarding: refused */
    finger_ask(e, "alice@\r\n");          /* an empty host name */
    finger_ask(e, "/X alice\r\n");
    memset(longq, 'x', sizeof(longq) - 3);
    memcpy(longq + sizeof(longq) - 3, "\r\n", 3);
    finger_ask(e, longq);
    assert_sample(e, FQ("ok"), ok + 2);
    assert_sample(e, FQ("unknown"), unknown + 1);
    assert_sample(e, FQ("refused"), refused + 2);
    assert_sample(e, FR("listing"), listing + 1);
    assert_sample(e, FR("forwarding"), forwarding + 1);
    assert_sample(e, FQ("forwarded"), 0);
    assert_sample(e, FQ("error"), error + 3);
}

/* ---- memcache -------------------------------------------------------------
 */

#define MC(cmd, status)                                                        \
    "loom_memcache_commands_total{instance=\"mc\",command=\"" cmd              \
    "\",status=\"" status "\"}"
#define MCG(name) "loom_memcache_" name "{instance=\"mc\"}"

static void test_memcache(void **state)
{
    env_t *e = *state;
    static const char script[] = "set k 0 0 5\r\nhello\r\n"
                                 "set n 0 0 1\r\n7\r\n"
                                 "get k\r\nget nope\r\nget k n nope2\r\n"
                                 "delete n\r\ndelete n\r\n"
                                 "incr k 1\r\nincr gone 1\r\n"
                                 "touch k 100\r\ntouch gone 100\r\n"
                                 "cas nope 0 0 1 99\r\nx\r\n"
                                 "mn\r\n";
    double get_hit = sample(e, MC("get", "hit")),
           get_miss = sample(e, MC("get", "miss")),
           set = sample(e, MC("set", "hit")),
           del_hit = sample(e, MC("delete", "hit")),
           cas_miss = sample(e, MC("cas", "miss")),
           del_miss = sample(e, MC("delete", "miss")),
           incr_miss = sample(e, MC("incr", "miss")),
           touch_hit = sample(e, MC("touch", "hit")),
           touch_miss = sample(e, MC("touch", "miss")),
           conns = sample(e, MCG("connections_total")),
           read = sample(e, MCG("read_bytes_total")),
           meta = sample(e, MCG("meta_commands_total"));
    ses_reply_t r;

    assert_true(get_hit >= 0 && set >= 0 && conns >= 0 && read >= 0);
    assert_true(has_type(e, "loom_memcache_items", "gauge"));
    assert_true(has_type(e, "loom_memcache_evictions_total", "counter"));
    assert_sample(e, MCG("limit_bytes"), 4194304);
    r = ses_talk(&e->ses, e->mc, script, sizeof(script) - 1, 0, 0);
    assert_non_null(strstr(r.p, "VALUE k 0 5\r\nhello\r\nEND\r\n"));
    assert_non_null(strstr(r.p, "CLIENT_ERROR cannot increment"));
    free(r.p);
    assert_sample(e, MC("get", "hit"), get_hit + 3);
    assert_sample(e, MC("get", "miss"), get_miss + 2);
    /* the cas is counted as a cas, not as a set too */
    assert_sample(e, MC("set", "hit"), set + 2);
    assert_sample(e, MC("cas", "miss"), cas_miss + 1);
    assert_sample(e, MC("delete", "hit"), del_hit + 1);
    assert_sample(e, MC("delete", "miss"), del_miss + 1);
    /* "hello" is no number: incr k is neither a hit nor a miss */
    assert_sample(e, MC("incr", "miss"), incr_miss + 1);
    assert_sample(e, MC("touch", "hit"), touch_hit + 1);
    assert_sample(e, MC("touch", "miss"), touch_miss + 1);
    assert_sample(e, MCG("meta_commands_total"), meta + 1);
    assert_sample(e, MCG("items"), 1);
    assert_true(sample(e, MCG("bytes")) > 5);
    assert_sample(e, MCG("connections_total"), conns + 1);
    assert_sample(e, MCG("connections"), 0);
    assert_sample(e, MCG("read_bytes_total"), read + sizeof(script) - 1);
    assert_sample(e, MCG("evictions_total"), 0);
}

/* ---- dns ------------------------------------------------------------------
 */

/* A query for NAME (presentation form, no final dot) of QTYPE, class IN,
 * into OUT after 2 bytes of TCP length prefix; returns the whole length,
 * prefix included. */
static size_t dns_q(uint8_t *out, uint16_t id, const char *name, uint16_t qtype)
{
    uint8_t *p = out + 2;
    const char *s = name;

    memset(p, 0, 12);
    p[0] = (uint8_t)(id >> 8);
    p[1] = (uint8_t)id;
    p[5] = 1; /* QDCOUNT */
    p += 12;
    while (*s) {
        const char *dot = strchr(s, '.');
        size_t n = dot ? (size_t)(dot - s) : strlen(s);

        *p++ = (uint8_t)n;
        memcpy(p, s, n);
        p += n;
        s += n + (dot != NULL);
    }
    *p++ = 0;
    *p++ = (uint8_t)(qtype >> 8);
    *p++ = (uint8_t)qtype;
    *p++ = 0;
    *p++ = 1;
    out[0] = (uint8_t)((p - out - 2) >> 8);
    out[1] = (uint8_t)(p - out - 2);
    return (size_t)(p - out);
}

#define DS(series) "loom_dns_" series
#define QT(t) DS("query_types_total{instance=\"auth\",qtype=\"" t "\"}")
#define RC(c) DS("responses_total{instance=\"auth\",rcode=\"" c "\"}")
#define TR(t) DS("queries_total{instance=\"auth\",transport=\"" t "\"}")

/* A sample that may be absent yet (a QTYPE never asked for): 0. */
static double count(env_t *e, const char *series)
{
    double v = sample(e, series);

    return v < 0 ? 0 : v;
}

static void doh_cb(void *arg, int status, const uint8_t *ans, size_t len)
{
    (void)ans;
    (void)len;
    *(int *)arg = status;
}

static void test_dns(void **state)
{
    env_t *e = *state;
    uint8_t in[1024], msg[300];
    size_t len = 0, n;
    double a = count(e, QT("A")), aaaa = count(e, QT("AAAA")),
           mx = count(e, QT("MX")), axfr = count(e, QT("AXFR")),
           other = count(e, QT("other")), t100 = count(e, QT("TYPE100")),
           noerror = sample(e, RC("NOERROR")),
           nxdomain = sample(e, RC("NXDOMAIN")),
           refused = sample(e, RC("REFUSED")), tcp = sample(e, TR("tcp")),
           udp = sample(e, TR("udp")), https = sample(e, TR("https")),
           ax_refused = sample(
               e, DS("axfr_total{instance=\"auth\",result=\"refused\"}")),
           drop = sample(e, DS("rrl_actions_total{instance=\"auth\",action="
                               "\"drop\"}")),
           slip = sample(e, DS("rrl_actions_total{instance=\"auth\",action="
                               "\"slip\"}"));
    ses_reply_t r;
    loom_dgram_t from;
    struct sockaddr_in *sin = (struct sockaddr_in *)&from.peer;
    loom_service_ref_t ref;
    const dns_query_service_t *svc;
    void *self;
    int status = -1;

    assert_true(noerror >= 0 && tcp >= 0 && udp >= 0 && drop >= 0);
    assert_true(has_type(e, "loom_dns_zone_serial", "gauge"));

    /* four queries over one TCP connection */
    len += dns_q(in + len, 1, "www.ops.test", 1);
    len += dns_q(in + len, 2, "www.ops.test", 28);
    len += dns_q(in + len, 3, "nope.ops.test", 1);
    len += dns_q(in + len, 4, "mail.ops.test", 15);
    len += dns_q(in + len, 5, "www.ops.test", 100);
    len += dns_q(in + len, 6, "www.ops.test", 4000);
    r = ses_talk(&e->ses, e->dns, in, len, 0, 0);
    assert_true(r.len > 6 * 14);
    free(r.p);
    assert_sample(e, QT("A"), a + 2);
    assert_sample(e, QT("AAAA"), aaaa + 1);
    assert_sample(e, QT("MX"), mx + 1);
    assert_sample(e, QT("TYPE100"), t100 + 1);
    assert_sample(e, QT("other"), other + 1);
    assert_sample(e, RC("NOERROR"), noerror + 5);
    assert_sample(e, RC("NXDOMAIN"), nxdomain + 1);
    assert_sample(e, TR("tcp"), tcp + 6);

    /* a zone transfer nobody is allowed */
    len = dns_q(in, 7, "ops.test", 252);
    r = ses_talk(&e->ses, e->dns, in, len, 0, 0);
    free(r.p);
    assert_sample(e, QT("AXFR"), axfr + 1);
    assert_sample(e, RC("REFUSED"), refused + 1);
    assert_sample(e, DS("axfr_total{instance=\"auth\",result=\"refused\"}"),
                  ax_refused + 1);
    assert_sample(e, TR("tcp"), tcp + 7);

    /* 20 datagrams from one address, limited to 1 answer a second (the
     * replies go nowhere: the listener id is no open listener's) */
    memset(&from, 0, sizeof(from));
    from.srv = e->ses.srv;
    from.listener = UINT64_MAX;
    sin->sin_family = AF_INET;
    sin->sin_port = htons(5353);
    inet_pton(AF_INET, "192.0.2.77", &sin->sin_addr);
    from.peer_len = sizeof(*sin);
    n = dns_q(msg, 8, "www.ops.test", 1);
    for (int i = 0; i < 20; i++)
        e->dns->mod->datagram(e->dns, &from, (const char *)msg + 2, n - 2);
    assert_sample(e, TR("udp"), udp + 20);
    assert_sample(e, QT("A"), a + 22);
    {
        double d = sample(e, DS("rrl_actions_total{instance=\"auth\","
                                "action=\"drop\"}")) -
                   drop,
               s = sample(e, DS("rrl_actions_total{instance=\"auth\","
                                "action=\"slip\"}")) -
                   slip;

        /* rate 1, slip 2: of every two limited answers one is dropped and
         * one sent truncated; at most one answer a second passes */
        assert_true(d >= 1 && s >= 1 && d + s <= 19);
        assert_true(d - s <= 1 && s - d <= 1);
    }

    /* a query through the query service (DNS over HTTPS) */
    assert_int_equal(loom_service_ref_init(&ref, e->ses.srv, "dns", "auth",
                                           DNS_QUERY_SERVICE),
                     LOOM_OK);
    svc = loom_service_get(&ref, &self, NULL);
    assert_non_null(svc);
    assert_null(svc->query(self, msg + 2, n - 2, (struct sockaddr *)&from.peer,
                           doh_cb, &status));
    assert_int_equal(status, DNS_QUERY_ANSWER);
    assert_sample(e, TR("https"), https + 1);
}

static void test_dns_zones(void **state)
{
    env_t *e = *state;

    assert_sample(e, DS("zones{instance=\"auth\"}"), 3);
    assert_sample(e, DS("zone_serial{instance=\"auth\",zone=\"ops.test\"}"),
                  2024010203u);
    assert_sample(e, DS("zone_serial{instance=\"auth\",zone=\"two.test\"}"), 7);
    assert_sample(e, DS("zone_records{instance=\"auth\",zone=\"ops.test\"}"),
                  6);
    assert_sample(e, DS("zone_records{instance=\"auth\",zone=\"two.test\"}"),
                  3);
}

/* ---- loomctl commands -----------------------------------------------------
 */

/* The control reply to LINE, parsed; the caller json_decrefs it. */
static json_t *ctl(env_t *e, const char *line)
{
    char *text = loom_ctl_run_line(e->ses.srv, line);
    json_error_t err;
    json_t *j;

    assert_non_null(text);
    j = json_loads(text, 0, &err);
    if (j == NULL)
        fail_msg("reply to %s is no JSON: %s", line, text);
    free(text);
    return j;
}

/* The error message of a reply that must be an error. */
static const char *ctl_error(json_t *j)
{
    assert_true(json_is_false(json_object_get(j, "ok")));
    assert_true(json_is_string(json_object_get(j, "error")));
    return json_string_value(json_object_get(j, "error"));
}

/* The result of a reply that must be ok. */
static json_t *ctl_result(json_t *j)
{
    if (!json_is_true(json_object_get(j, "ok")))
        fail_msg("not ok: %s", json_string_value(json_object_get(j, "error")));
    return json_object_get(j, "result");
}

/* The cell in column COL of the table row whose first cell is KEY, or
 * NULL. */
static const char *cell(json_t *result, const char *key, const char *col)
{
    json_t *cols = json_object_get(result, "columns"), *row;
    size_t i, k = 0, ci = SIZE_MAX;

    for (i = 0; i < json_array_size(cols); i++)
        if (strcmp(json_string_value(json_array_get(cols, i)), col) == 0)
            ci = i;
    if (ci == SIZE_MAX)
        return NULL;
    json_array_foreach(json_object_get(result, "rows"), k, row)
    {
        if (strcmp(json_string_value(json_array_get(row, 0)), key) == 0)
            return json_string_value(json_array_get(row, ci));
    }
    return NULL;
}

static void test_dns_zones_command(void **state)
{
    env_t *e = *state;
    json_t *j = ctl(e, "dns zones"), *r = ctl_result(j), *cols;
    char path[128];

    cols = json_object_get(r, "columns");
    assert_int_equal(json_array_size(cols), 5);
    assert_string_equal(json_string_value(json_array_get(cols, 0)), "name");
    assert_int_equal(json_array_size(json_object_get(r, "rows")), 3);
    assert_string_equal(cell(r, "ops.test", "serial"), "2024010203");
    assert_string_equal(cell(r, "ops.test", "records"), "6");
    assert_string_equal(cell(r, "ops.test", "dynamic"), "no");
    snprintf(path, sizeof(path), "%s/ops.test.zone", e->ses.dir);
    assert_string_equal(cell(r, "ops.test", "source"), path);
    assert_string_equal(cell(r, "two.test", "serial"), "7");
    assert_string_equal(cell(r, "n.test", "records"), "3");
    json_decref(j);

    j = ctl(e, "dns/auth zones extra");
    assert_non_null(strstr(ctl_error(j), "usage: dns/auth zones"));
    json_decref(j);
}

static void test_dns_notify_errors(void **state)
{
    env_t *e = *state;
    double sent = sample(e, DS("notify_sent_total{instance=\"auth\"}"));
    json_t *j;

    j = ctl(e, "dns notify nosuch.test");
    assert_string_equal(ctl_error(j), "no zone nosuch.test is served here");
    json_decref(j);
    j = ctl(e, "dns notify TWO.test.");
    assert_string_equal(ctl_error(j), "zone TWO.test. has no notify targets");
    json_decref(j);
    j = ctl(e, "dns notify");
    assert_non_null(strstr(ctl_error(j), "usage: dns notify ZONE"));
    json_decref(j);
    assert_sample(e, DS("notify_sent_total{instance=\"auth\"}"), sent);
}

/* `dns notify n.test` sends the secondary a NOTIFY for n.test (opcode 4,
 * AA, the zone's SOA asked), which it acknowledges. */
static void test_dns_notify(void **state)
{
    env_t *e = *state;
    double sent = sample(e, DS("notify_sent_total{instance=\"auth\"}")),
           failed = sample(e, DS("notify_failed_total{instance=\"auth\"}")),
           acked = sample(e, DS("notify_acked_total{instance=\"auth\"}"));
    json_t *j = ctl(e, "dns notify N.test."), *r = ctl_result(j);
    static const uint8_t qname[] = "\001n\004test";
    struct pollfd pfd = {e->secondary, POLLIN, 0};
    struct sockaddr_storage from;
    socklen_t flen = sizeof(from);
    uint8_t buf[512];
    ssize_t n;
    int i;

    assert_string_equal(json_string_value(json_object_get(r, "message")),
                        "zone N.test. serial 5: NOTIFY sent to 1 secondary; "
                        "answers are logged");
    json_decref(j);
    assert_sample(e, DS("notify_sent_total{instance=\"auth\"}"), sent + 1);
    for (i = 0; i < 1000 && poll(&pfd, 1, 0) == 0; i++) {
        ses_run(&e->ses);
        poll(NULL, 0, 10);
    }
    n = recvfrom(e->secondary, buf, sizeof(buf), MSG_DONTWAIT,
                 (struct sockaddr *)&from, &flen);
    assert_true(n >= 12 + (ssize_t)sizeof(qname) + 4);
    assert_int_equal((buf[2] >> 3) & 0xf, 4); /* NOTIFY */
    assert_true(buf[2] & 0x04);               /* AA */
    assert_int_equal(buf[2] & 0x80, 0);       /* a request */
    assert_memory_equal(buf + 12, qname, sizeof(qname));
    assert_int_equal(buf[12 + sizeof(qname) + 1], 6); /* SOA */
    /* acknowledge: the same message as a response */
    buf[2] |= 0x80;
    assert_int_equal(
        sendto(e->secondary, buf, (size_t)n, 0, (struct sockaddr *)&from, flen),
        n);
    for (i = 0; i < 1000 &&
                sample(e, DS("notify_acked_total{instance=\"auth\"}")) == acked;
         i++) {
        ses_run(&e->ses);
        poll(NULL, 0, 10);
    }
    assert_sample(e, DS("notify_acked_total{instance=\"auth\"}"), acked + 1);
    assert_sample(e, DS("notify_failed_total{instance=\"auth\"}"), failed);
}

static void test_memcache_commands(void **state)
{
    env_t *e = *state;
    static const char set[] = "set cmdkey 0 0 3\r\nabc\r\n";
    static const char get[] = "get cmdkey\r\n";
    ses_reply_t rep = ses_talk(&e->ses, e->mc, set, sizeof(set) - 1, 0, 0);
    json_t *j, *r;
    char items[32], want[64];
    double flushes = sample(e, MC("flush", "hit"));

    assert_string_equal(rep.p, "STORED\r\n");
    free(rep.p);
    j = ctl(e, "memcache stats");
    r = ctl_result(j);
    snprintf(items, sizeof(items), "%.0f", sample(e, MCG("items")));
    assert_string_equal(cell(r, "curr_items", "value"), items);
    assert_string_equal(cell(r, "limit_maxbytes", "value"), "4194304");
    assert_string_equal(cell(r, "version", "value"), "1.6.18");
    assert_non_null(cell(r, "get_hits", "value"));
    json_decref(j);

    j = ctl(e, "memcache/mc flush");
    r = ctl_result(j);
    snprintf(want, sizeof(want), "flushed %s items", items);
    assert_string_equal(json_string_value(json_object_get(r, "message")), want);
    json_decref(j);
    rep = ses_talk(&e->ses, e->mc, get, sizeof(get) - 1, 0, 0);
    assert_string_equal(rep.p, "END\r\n");
    free(rep.p);
    assert_sample(e, MCG("get_flushed_total"), 1);
    assert_sample(e, MC("flush", "hit"), flushes + 1);

    j = ctl(e, "memcache stats now");
    assert_non_null(strstr(ctl_error(j), "usage: memcache stats"));
    json_decref(j);
    j = ctl(e, "memcache nosuch");
    assert_non_null(strstr(ctl_error(j), "flush"));
    json_decref(j);
}

static int env_teardown(void **state)
{
    env_t *e = *state;

    close(e->secondary);
    return ses_teardown(state);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_finger),
        cmocka_unit_test(test_memcache),
        cmocka_unit_test(test_dns),
        cmocka_unit_test(test_dns_zones),
        cmocka_unit_test(test_dns_zones_command),
        cmocka_unit_test(test_dns_notify_errors),
        cmocka_unit_test(test_dns_notify),
        cmocka_unit_test(test_memcache_commands),
    };

    return cmocka_run_group_tests(tests, env_setup, env_teardown);
}
