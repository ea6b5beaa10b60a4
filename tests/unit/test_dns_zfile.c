/*
 * test_dns_zfile.c - the master-file reader (protocols/dns/dns_zfile.h):
 * a table of zone texts and the exact records (owner, type, TTL, wire
 * rdata, FILE:LINE) each must give, for every served type and each piece
 * of syntax; a table of bad texts and the exact error each must give;
 * then $INCLUDE in a temporary directory, callback stops and limits.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "dns_zfile.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static const uint8_t origin[] = "\7example\4test";

/* ---- rendering records -------------------------------------------------- */

/* Records as text, one per line: "OWNER TYPE TTL RDATAHEX FILE:LINE", the
 * owner with its case, '.' inside a label as "\." and bytes other than
 * letters, digits, '-', '_', '*' as \DDD; empty rdata as "-". */
typedef struct {
    char *buf;
    size_t len, cap;
    int count;
    int stop_at;          /* stop at this record (1-based); 0: never */
    const char *stop_msg; /* what the callback writes when it stops */
} render_t;

static void put(render_t *r, const char *fmt, ...)
{
    va_list ap;
    char tmp[256];
    int n;

    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    assert_true(n >= 0 && (size_t)n < sizeof tmp);
    if (r->len + (size_t)n + 1 > r->cap) {
        r->cap = (r->len + (size_t)n + 1) * 2;
        r->buf = realloc(r->buf, r->cap);
        assert_non_null(r->buf);
    }
    memcpy(r->buf + r->len, tmp, (size_t)n + 1);
    r->len += (size_t)n;
}

static int render_cb(void *arg, const dns_zrr_t *rr, char *err, size_t errlen)
{
    render_t *r = arg;
    size_t i = 0;

    r->count++;
    if (r->stop_at == r->count) {
        if (r->stop_msg != NULL)
            snprintf(err, errlen, "%s:%u: %s", rr->file, rr->line, r->stop_msg);
        return -1;
    }
    assert_int_equal(rr->rclass, 1);
    while (i < rr->owner_len && rr->owner[i] != 0) {
        size_t l = rr->owner[i++], end = i + l;

        assert_true(end < rr->owner_len);
        for (; i < end; i++) {
            uint8_t c = rr->owner[i];

            if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '*')
                put(r, "%c", c);
            else if (c == '.')
                put(r, "\\.");
            else
                put(r, "\\%03u", c);
        }
        put(r, ".");
    }
    assert_int_equal(i + 1, rr->owner_len); /* the root label ends it */
    if (rr->owner_len == 1)
        put(r, ".");
    put(r, " %u %u ", rr->type, rr->ttl);
    if (rr->rdlen == 0)
        put(r, "-");
    for (i = 0; i < rr->rdlen; i++)
        put(r, "%02x", rr->rdata[i]);
    put(r, " %s:%u\n", rr->file, rr->line);
    return 0;
}

static int read_text(const char *text, size_t len, render_t *r, char *err,
                     size_t errlen)
{
    memset(err, 0, errlen);
    r->len = 0;
    r->count = 0;
    if (r->buf != NULL)
        r->buf[0] = '\0';
    return dns_zfile_read_mem("mem", text, len, origin, render_cb, r, err,
                              errlen);
}

/* ---- valid texts ------------------------------------------------------------
 */

typedef struct {
    const char *what;
    const char *text;
    const char *want; /* the records, rendered */
} ok_case_t;

static const ok_case_t ok_cases[] = {
    /* every served type; expected wire data from dnspython */
    {"A", "www A 192.0.2.1\n", "www.example.test. 1 3600 c0000201 mem:1\n"},
    {"AAAA", "www AAAA 2001:db8::1\n",
     "www.example.test. 28 3600 20010db8000000000000000000000001 mem:1\n"},
    {"NS", "@ NS ns1\n",
     "example.test. 2 3600 036e7331076578616d706c65047465737400 mem:1\n"},
    {"CNAME", "www CNAME Host.other.test.\n",
     "www.example.test. 5 3600 04486f7374056f74686572047465737400 mem:1\n"},
    {"DNAME", "d DNAME other.test.\n",
     "d.example.test. 39 3600 056f74686572047465737400 mem:1\n"},
    {"MX", "@ MX 10 mail\n",
     "example.test. 15 3600 000a046d61696c076578616d706c65047465737400 "
     "mem:1\n"},
    {"TXT",
     "t TXT \"hello world\" \"semi;colon\" \"q\\\"uote\" plain \\065\\066\n",
     "t.example.test. 16 3600 "
     "0b68656c6c6f20776f726c640a73656d693b636f6c6f6e067122756f746505706c61696e0"
     "24142 mem:1\n"},
    {"TXT", "t TXT \"\"\n", "t.example.test. 16 3600 00 mem:1\n"},
    {"PTR", "1 PTR host.example.test.\n",
     "1.example.test. 12 3600 04686f7374076578616d706c65047465737400 mem:1\n"},
    {"SRV", "_sip._tcp SRV 0 5 5060 sip\n",
     "_sip._tcp.example.test. 33 3600 "
     "0000000513c403736970076578616d706c65047465737400 mem:1\n"},
    {"CAA", "@ CAA 0 issue \"letsencrypt.org\"\n",
     "example.test. 257 3600 000569737375656c657473656e63727970742e6f7267 "
     "mem:1\n"},
    {"NAPTR",
     "n NAPTR 100 10 \"S\" \"SIP+D2U\" \"!^.*$!sip:info@example.test!\" "
     "_sip._udp\n",
     "n.example.test. 35 3600 "
     "0064000a0153075349502b4432551c215e2e2a24217369703a696e666f406578616d706c6"
     "52e7465737421045f736970045f756470076578616d706c65047465737400 mem:1\n"},
    {"SSHFP", "h SSHFP 1 1 0123456789abcdef0123456789abcdef01234567\n",
     "h.example.test. 44 3600 01010123456789abcdef0123456789abcdef01234567 "
     "mem:1\n"},
    {"TLSA", "_443._tcp TLSA 3 1 1 0011223344556677\n",
     "_443._tcp.example.test. 52 3600 0301010011223344556677 mem:1\n"},
    {"DS", "s DS 60485 5 1 2BB183AF5F22588179A53B0A98631FAD1A292118\n",
     "s.example.test. 43 3600 ec4505012bb183af5f22588179a53b0a98631fad1a292118 "
     "mem:1\n"},
    {"DNSKEY", "@ DNSKEY 257 3 8 AwEAAbOFAxl+Lkt0UMglZizKEC1AxUu8zlj6\n",
     "example.test. 48 3600 "
     "0101030803010001b38503197e2e4b7450c825662cca102d40c54bbcce58fa mem:1\n"},
    {"RRSIG",
     "@ RRSIG A 8 2 300 20250101000000 20240101000000 12345 example.test. "
     "AwEAAQ==\n",
     "example.test. 46 3600 "
     "000108020000012c67748580659200803039076578616d706c6504746573740003010001 "
     "mem:1\n"},
    {"NSEC", "@ NSEC next A NS SOA MX RRSIG NSEC DNSKEY TYPE65000\n",
     "example.test. 47 3600 "
     "046e657874076578616d706c65047465737400000762010000000380fd1e0000000000000"
     "00000000000000000000000000000000000000000000080 mem:1\n"},
    {"NSEC3",
     "h NSEC3 1 1 12 aabbccdd 2vptu5timamqttgl4luu9kg21e0aor3s A RRSIG\n",
     "h.example.test. 50 3600 "
     "0101000c04aabbccdd1417f3df17b2b2adaef615257de4d2020b80ac6c7c0006400000000"
     "002 mem:1\n"},
    {"NSEC3", "h NSEC3 1 0 0 - 2vptu5timamqttgl4luu9kg21e0aor3s\n",
     "h.example.test. 50 3600 "
     "01000000001417f3df17b2b2adaef615257de4d2020b80ac6c7c mem:1\n"},
    {"NSEC3PARAM", "@ NSEC3PARAM 1 0 12 aabbccdd\n",
     "example.test. 51 3600 0100000c04aabbccdd mem:1\n"},
    {"NSEC3PARAM", "@ NSEC3PARAM 1 0 0 -\n",
     "example.test. 51 3600 0100000000 mem:1\n"},
    {"HINFO", "h HINFO \"PC\" \"Linux 6\"\n",
     "h.example.test. 13 3600 025043074c696e75782036 mem:1\n"},
    {"SOA",
     "@ SOA ns1 hostmaster.Example.TEST. 2024010101 7200 1800 1209600 300\n",
     "example.test. 6 3600 "
     "036e7331076578616d706c650474657374000a686f73746d6173746572074578616d706c6"
     "504544553540078a3f17500001c2000000708001275000000012c mem:1\n"},

    /* more per-type details */
    {"TYPE1 text form", "x TYPE1 10.0.0.3\n",
     "x.example.test. 1 3600 0a000003 mem:1\n"},
    {"type and class any case", "x in a 10.0.0.3\ny Txt X\n",
     "x.example.test. 1 3600 0a000003 mem:1\n"
     "y.example.test. 16 3600 0158 mem:2\n"},
    {"SOA times with units across lines",
     "@ SOA ns hm ( 1 ; serial\n 1h 30m\n 1w\n 5m )\n",
     "example.test. 6 3600 026e73076578616d706c6504746573740002686d0765"
     "78616d706c650474657374000000000100000e100000070800093a800000012c "
     "mem:1\n"},
    {"RRSIG relative signer, DNSKEY key split",
     "@ RRSIG NS 8 2 300 20250101000000 20240101000000 1 @ AwEA AQ==\n",
     "example.test. 46 3600 000208020000012c6774858065920080"
     "0001076578616d706c6504746573740003010001 mem:1\n"},
    {"TXT quotes keep ( and ;", "t TXT ( \"a ( ; b\"\n \"c\" )\n",
     "t.example.test. 16 3600 07612028203b20620163 mem:1\n"},
    {"TXT escaped space and semicolon", "t TXT a\\ b\\;c\n",
     "t.example.test. 16 3600 056120623b63 mem:1\n"},

    /* RFC 3597 generic form */
    {"generic unknown type", "u TYPE65280 \\# 4 0A000001\n",
     "u.example.test. 65280 3600 0a000001 mem:1\n"},
    {"generic empty", "u TYPE65281 \\# 0\n",
     "u.example.test. 65281 3600 - mem:1\n"},
    {"generic known type, hex split", "w A \\# 4 0a 00 0 002\n",
     "w.example.test. 1 3600 0a000002 mem:1\n"},
    {"generic MX, name case kept", "m MX \\# 5 000A014100\n",
     "m.example.test. 15 3600 000a014100 mem:1\n"},
    {"generic for a type read only so", "l LOC \\# 2 00ff\n",
     "l.example.test. 29 3600 00ff mem:1\n"},
    {"generic across lines", "u TYPE300 \\# 3 (\n aa\n bb cc )\n",
     "u.example.test. 300 3600 aabbcc mem:1\n"},

    /* names */
    {"@, absolute, relative, root",
     "@ A 1.1.1.1\nabs.other. A 1.1.1.1\nrel.sub A 1.1.1.1\n. A 1.1.1.1\n",
     "example.test. 1 3600 01010101 mem:1\n"
     "abs.other. 1 3600 01010101 mem:2\n"
     "rel.sub.example.test. 1 3600 01010101 mem:3\n"
     ". 1 3600 01010101 mem:4\n"},
    {"owner case kept", "MiXeD.Example.TEST. A 1.1.1.1\nuP A 1.1.1.1\n",
     "MiXeD.Example.TEST. 1 3600 01010101 mem:1\n"
     "uP.example.test. 1 3600 01010101 mem:2\n"},
    {"escapes in owner", "a\\.b\\065\\255\\ x A 1.1.1.1\n",
     "a\\.bA\\255\\032x.example.test. 1 3600 01010101 mem:1\n"},
    {"escaped dot ends no label", "a\\..x. A 1.1.1.1\n",
     "a\\..x. 1 3600 01010101 mem:1\n"},
    {"wildcard", "* A 1.1.1.1\n", "*.example.test. 1 3600 01010101 mem:1\n"},
    {"label of 63",
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa."
     " A 1.1.1.1\n",
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa."
     " 1 3600 01010101 mem:1\n"},
    {"escapes in rdata names", "p PTR a\\.b\\065.x.\n",
     "p.example.test. 12 3600 04612e6241017800 mem:1\n"},

    /* $ORIGIN */
    {"$ORIGIN relative then absolute",
     "$ORIGIN sub\na A 1.1.1.1\n$ORIGIN Other.Test.\nb A 1.1.1.1\n"
     "c CNAME @\nd NS e\n",
     "a.sub.example.test. 1 3600 01010101 mem:2\n"
     "b.Other.Test. 1 3600 01010101 mem:4\n"
     "c.Other.Test. 5 3600 054f74686572045465737400 mem:5\n"
     "d.Other.Test. 2 3600 0165054f74686572045465737400 mem:6\n"},
    {"$origin any case", "$origin x.\n@ A 1.1.1.1\n",
     "x. 1 3600 01010101 mem:2\n"},

    /* TTLs */
    {"default TTL 3600", "a A 1.1.1.1\n",
     "a.example.test. 1 3600 01010101 mem:1\n"},
    {"previous record's TTL",
     "a 60 A 1.1.1.1\nb A 1.1.1.1\nc 0 A 1.1.1.1\n"
     "d A 1.1.1.1\n",
     "a.example.test. 1 60 01010101 mem:1\n"
     "b.example.test. 1 60 01010101 mem:2\n"
     "c.example.test. 1 0 01010101 mem:3\n"
     "d.example.test. 1 0 01010101 mem:4\n"},
    {"$TTL with units wins over previous",
     "$TTL 1h30m\na A 1.1.1.1\nb 2d A 1.1.1.1\nc A 1.1.1.1\n"
     "d 1W A 1.1.1.1\ne 10S A 1.1.1.1\nf 1h1 A 1.1.1.1\n",
     "a.example.test. 1 5400 01010101 mem:2\n"
     "b.example.test. 1 172800 01010101 mem:3\n"
     "c.example.test. 1 5400 01010101 mem:4\n"
     "d.example.test. 1 604800 01010101 mem:5\n"
     "e.example.test. 1 10 01010101 mem:6\n"
     "f.example.test. 1 3601 01010101 mem:7\n"},
    {"largest TTL", "a 2147483647 A 1.1.1.1\n",
     "a.example.test. 1 2147483647 01010101 mem:1\n"},
    {"TTL and class either order",
     "a IN 60 A 1.1.1.1\nb 70 IN A 1.1.1.1\nc CLASS1 A 1.1.1.1\n",
     "a.example.test. 1 60 01010101 mem:1\n"
     "b.example.test. 1 70 01010101 mem:2\n"
     "c.example.test. 1 70 01010101 mem:3\n"},

    /* owners, lines, comments, parentheses */
    {"owner inherited", "a A 1.1.1.1\n\tA 2.2.2.2\n  ; comment\n  TXT x\n",
     "a.example.test. 1 3600 01010101 mem:1\n"
     "a.example.test. 1 3600 02020202 mem:2\n"
     "a.example.test. 16 3600 0178 mem:4\n"},
    {"owner inherited after $ORIGIN", "a A 1.1.1.1\n$ORIGIN x.\n A 2.2.2.2\n",
     "a.example.test. 1 3600 01010101 mem:1\n"
     "a.example.test. 1 3600 02020202 mem:3\n"},
    {"parentheses and comments",
     "; head\n\na 300 IN MX ( 10 ; pref\n  mx ) ; tail\nb A 10.0.0.1\n",
     "a.example.test. 15 300 000a026d78076578616d706c65047465737400 mem:3\n"
     "b.example.test. 1 300 0a000001 mem:5\n"},
    {"record starting with (", "a (\nA 1.1.1.1 )\n",
     "a.example.test. 1 3600 01010101 mem:1\n"},
    {"CRLF lines", "a A 1.1.1.1\r\n\r\nb TXT \"x y\"\r\n  A 2.2.2.2\r\n",
     "a.example.test. 1 3600 01010101 mem:1\n"
     "b.example.test. 16 3600 03782079 mem:3\n"
     "b.example.test. 1 3600 02020202 mem:4\n"},
    {"parentheses around nothing", "()\n( )\n  ( ; x\n )\na A 1.1.1.1\n()",
     "a.example.test. 1 3600 01010101 mem:5\n"},
    {"no final newline", "a A 1.1.1.1",
     "a.example.test. 1 3600 01010101 mem:1\n"},
    {"empty", "", ""},
    {"only comments and blanks", "; x\n\n   \n\t; y\n", ""},
};

static void test_ok_cases(void **state)
{
    render_t r = {0};
    char err[512];
    size_t i;
    int failed = 0;

    (void)state;
    for (i = 0; i < ARRAY_LEN(ok_cases); i++) {
        const ok_case_t *c = &ok_cases[i];
        int rc = read_text(c->text, strlen(c->text), &r, err, sizeof err);
        const char *got = r.buf ? r.buf : "";

        if (rc != 0 || strcmp(got, c->want) != 0) {
            printf("case %zu (%s): rc %d err \"%s\"\n got:\n%s want:\n%s\n", i,
                   c->what, rc, err, got, c->want);
            failed++;
        }
    }
    free(r.buf);
    assert_int_equal(failed, 0);
}

/* ---- invalid texts
 * ----------------------------------------------------------- */

typedef struct {
    const char *text;
    const char *err; /* the whole message */
} bad_case_t;

static const bad_case_t bad_cases[] = {
    /* rdata ldns rejects, on line 7 of 9 */
    {"a A 1.1.1.1\nb A 1.1.1.1\n\n; c\nc A 1.1.1.1\n  A 1.1.1.2\n"
     "d A 1.2.3\ne A 1.1.1.1\nf A 1.1.1.1\n",
     "mem:7: bad A record: Conversion error, ip4 addr expected"},
    {"a AAAA 1::x\n", "mem:1: bad AAAA record: Conversion error, ip6 addr "
                      "expected"},
    {"a MX x y\n", "mem:1: bad MX record: Conversion error, integer expected"},
    {"a MX 10\n", "mem:1: bad MX record: Syntax error, value expected"},
    {"a A\n", "mem:1: bad A record: Syntax error, value expected"},
    {"a A 1.1.1.1 2.2.2.2\n",
     "mem:1: bad A record: Syntax error, superfluous text present"},
    {"a SOA a b 1 2 3 4 5x\n",
     "mem:1: bad SOA record: field 7 '5x' is malformed"},
    {"a DS 1 2 3 zz\n", "mem:1: bad DS record: field 4 'zz' is malformed"},
    {"a MX 10 a..b\n", "mem:1: bad MX record: Empty label"},
    {"a MX 10 \"x\"\n",
     "mem:1: bad MX record: field 2: unexpected quoted string"},
    {"a NAPTR 100 10 \"S\" \"SIP+D2U\" \"\" \"x\"\n",
     "mem:1: bad NAPTR record: field 6: unexpected quoted string"},
    {"a NSEC a. A FOO\n",
     "mem:1: bad NSEC record: unknown type 'FOO' in the bitmap"},
    {"a NSEC3 1 1 12 aa 2vptu5timamqttgl4luu9kg21e0aor3s A bar\n",
     "mem:1: bad NSEC3 record: unknown type 'bar' in the bitmap"},
    {"a SSHFP 1 1 xyz\n", "mem:1: bad SSHFP record: field 3 'xyz' is "
                          "malformed"},
    {"a SRV 0 5 80 \\# 4 0A000001\n",
     "mem:1: bad SRV record: field 4: \\# only as the whole rdata"},
    {"a TXT a \\# 1 41\n",
     "mem:1: bad TXT record: field 2: \\# only as the whole rdata"},
    {"a HINFO a\n", "mem:1: bad HINFO record: Syntax error, value expected"},
    {"a TXT \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"\n",
     "mem:1: bad TXT record: Syntax error, could not parse the RR's rdata"},

    /* class, TTL, type */
    {"a CH A 1.1.1.1\n", "mem:1: only class IN is supported"},
    {"a 60 hs A 1.1.1.1\n", "mem:1: only class IN is supported"},
    {"a CLASS3 A 1.1.1.1\n", "mem:1: only class IN is supported"},
    {"a IN IN A 1.1.1.1\n", "mem:1: class given twice"},
    {"a 1 2 A 1.1.1.1\n", "mem:1: bad TTL '2'"},
    {"a 1x A 1.1.1.1\n", "mem:1: bad TTL '1x'"},
    {"a 2147483648 A 1.1.1.1\n", "mem:1: bad TTL '2147483648'"},
    {"a 1.2.3.4\n", "mem:1: bad TTL '1.2.3.4'"},
    {"a FOO 1.1.1.1\n", "mem:1: unknown type 'FOO'"},
    {"a TYPE65536 \\# 0\n", "mem:1: unknown type 'TYPE65536'"},
    {"a \"A\" 1.1.1.1\n", "mem:1: unknown type '\"A\"'"},
    {"a\n", "mem:1: missing type"},
    {"a 60 IN\n", "mem:1: missing type"},
    {"a LOC 52 22 23.000 N 4 53 32.000 E -2.00m 0.00m 10000m 10m\n",
     "mem:1: type TYPE29 is read only in RFC 3597 form (\\# LEN HEX)"},
    {"a TYPE0 \\# 0\n", "mem:1: type TYPE0 cannot appear in a zone"},
    {"a OPT \\# 0\n", "mem:1: type TYPE41 cannot appear in a zone"},
    {"a TYPE255 \\# 0\n", "mem:1: type TYPE255 cannot appear in a zone"},
    {"a AXFR \\# 0\n", "mem:1: type TYPE252 cannot appear in a zone"},
    {"a ANY A 1.1.1.1\n", "mem:1: only class IN is supported"},

    /* RFC 3597 */
    {"a TYPE300 \\#\n", "mem:1: bad TYPE300 record: \\# needs a length"},
    {"a TYPE300 \\# x\n", "mem:1: bad TYPE300 record: bad \\# length 'x'"},
    {"a TYPE300 \\# 65536\n",
     "mem:1: bad TYPE300 record: \\# length over 65535"},
    {"a TYPE300 \\# 2 0a0g\n", "mem:1: bad TYPE300 record: bad hex '0a0g'"},
    {"a TYPE300 \\# 1 0a0b\n",
     "mem:1: bad TYPE300 record: more data than the \\# length 1"},
    {"a TYPE300 \\# 2 0a\n",
     "mem:1: bad TYPE300 record: data does not match the \\# length 2"},
    {"a TYPE300 \\# 1 0a0\n",
     "mem:1: bad TYPE300 record: data does not match the \\# length 1"},
    {"a TYPE300 \\# 2 0a0\n",
     "mem:1: bad TYPE300 record: data does not match the \\# length 2"},
    {"a A \\# 0\n", "mem:1: bad A record: empty rdata"},
    {"a A \\# 3 010203\n", "mem:1: bad A record: Packet size overflow"},
    {"a A \\# 5 0102030405\n",
     "mem:1: bad A record: \\# data does not fit the type"},
    {"a NS \\# 2 c000\n", "mem:1: bad NS record: Invalid compression pointer"},
    {"a MX \\# 2 000a\n",
     "mem:1: bad MX record: \\# data does not fit the type"},

    /* names */
    {"a..b A 1.1.1.1\n", "mem:1: owner: empty label in name 'a..b'"},
    {".a A 1.1.1.1\n", "mem:1: owner: empty label in name '.a'"},
    {"a\\25 A 1.1.1.1\n", "mem:1: owner: bad \\DDD escape in name 'a\\25'"},
    {"a\\256 A 1.1.1.1\n", "mem:1: owner: bad \\DDD escape in name 'a\\256'"},
    {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     " A 1.1.1.1\n",
     "mem:1: owner: label longer than 63 "
     "'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...'"},
    {"\"a\" A 1.1.1.1\n", "mem:1: owner: bad name '\"a\"'"},
    {" A 1.1.1.1\n", "mem:1: no owner name to inherit"},
    {"a..b A 1.1.1.1\n A 1.1.1.1\n",
     "mem:1: owner: empty label in name 'a..b'"},

    /* file structure */
    {"a A 1.1.1.1\nb TXT ( x\ny\nz\n", "mem:2: '(' is never closed"},
    {"a A 1.1.1.1\nb TXT ( x ( y )\n", "mem:2: nested '('"},
    {"a A 1.1.1.1\nb A 1.1.1.1 )\nc A 1.1.1.1\n", "mem:2: ')' without '('"},
    {"a A 1.1.1.1\n\nb TXT \"abc\nc A 1.1.1.1\n",
     "mem:3: quoted string is never closed"},
    {"a TXT ( x\n\"abc", "mem:2: quoted string is never closed"},
    {"a TXT \"abc\\", "mem:1: quoted string is never closed"},
    {"a A 1.1.1.1\nb TXT x\\\n", "mem:2: '\\' at end of line"},
    {"b TXT x\\", "mem:1: '\\' at end of line"},
    {"b TXT x\\\r\n", "mem:1: '\\' at end of line"},

    /* directives */
    {"$TTL\n", "mem:1: $TTL needs one TTL"},
    {"$TTL 1x\n", "mem:1: $TTL needs one TTL"},
    {"$TTL 1 2\n", "mem:1: $TTL needs one TTL"},
    {"a A 1.1.1.1\n$ORIGIN\n", "mem:2: $ORIGIN needs one name"},
    {"$ORIGIN a..b\n", "mem:1: $ORIGIN: empty label in name 'a..b'"},
    {"$GENERATE 1-2 a A 1.1.1.1\n", "mem:1: unsupported directive '$GENERATE'"},
    {"$INCLUDE\n", "mem:1: $INCLUDE needs a file and optionally an origin"},
    {"$INCLUDE a b c\n",
     "mem:1: $INCLUDE needs a file and optionally an origin"},
    {"$INCLUDE a b..c\n", "mem:1: $INCLUDE origin: empty label in name"},
    {"$INCLUDE a\\010b\n", "mem:1: $INCLUDE: bad file name"},
    {"$INCLUDE \"\"\n", "mem:1: $INCLUDE: bad file name"},
};

static void test_bad_cases(void **state)
{
    render_t r = {0};
    char err[512];
    size_t i;
    int failed = 0;

    (void)state;
    for (i = 0; i < ARRAY_LEN(bad_cases); i++) {
        const bad_case_t *c = &bad_cases[i];
        int rc = read_text(c->text, strlen(c->text), &r, err, sizeof err);

        if (rc != -1 || strcmp(err, c->err) != 0) {
            printf("bad case %zu: rc %d\n got:  %s\n want: %s\n", i, rc, err,
                   c->err);
            failed++;
        }
    }
    free(r.buf);
    assert_int_equal(failed, 0);
}

/* ---- other inputs
 * ------------------------------------------------------------ */

static void test_nul_byte(void **state)
{
    static const char text[] =
        "a A 1.1.1.1\nb A 1.1.1.1\n; x\0y\nc A 1.1.1.1\n";
    render_t r = {0};
    char err[128];

    (void)state;
    assert_int_equal(read_text(text, sizeof text - 1, &r, err, sizeof err), -1);
    assert_string_equal(err, "mem:3: NUL byte");
    assert_int_equal(r.count, 0); /* nothing is handed over */
    /* LEN bounds the text: the same without the NUL is fine */
    assert_int_equal(read_text(text, 24, &r, err, sizeof err), 0);
    assert_int_equal(r.count, 2);
    free(r.buf);
}

/* TXT of N strings of 255 'x', one record. */
static size_t long_txt(char *text, size_t n)
{
    size_t i, len = (size_t)sprintf(text, "t TXT");

    for (i = 0; i < n; i++) {
        text[len++] = ' ';
        memset(text + len, 'x', 255);
        len += 255;
    }
    text[len++] = '\n';
    return len;
}

static void test_long_rdata(void **state)
{
    render_t r = {0};
    char err[128];
    char *text = malloc(300 * 256 + 16);
    size_t len;

    (void)state;
    assert_non_null(text);
    /* ldns would cut the text at 64 KiB without a word */
    len = long_txt(text, 300);
    assert_int_equal(read_text(text, len, &r, err, sizeof err), -1);
    assert_string_equal(
        err, "mem:1: bad TXT record: rdata text longer than 65000 characters");
    len = long_txt(text, 250); /* 64000 bytes of rdata */
    assert_int_equal(read_text(text, len, &r, err, sizeof err), 0);
    assert_int_equal(r.count, 1);
    assert_non_null(strstr(r.buf, " 16 3600 ff7878"));
    assert_int_equal(strlen(r.buf), strlen("t.example.test. 16 3600 ") +
                                        2 * 64000 + strlen(" mem:1\n"));
    /* one string of 256 */
    len = long_txt(text, 1);
    memmove(text + 7, text + 6, len - 6);
    text[6] = 'x';
    assert_int_equal(read_text(text, len + 1, &r, err, sizeof err), -1);
    assert_string_equal(
        err, "mem:1: bad TXT record: Syntax error, could not parse the RR's "
             "rdata");
    /* and of 255 */
    len = long_txt(text, 1);
    assert_int_equal(read_text(text, len, &r, err, sizeof err), 0);
    assert_non_null(strstr(r.buf, " 16 3600 ff7878"));
    free(text);
    free(r.buf);
}

static void test_callback_stops(void **state)
{
    static const char text[] = "a A 1.1.1.1\n\nb A 1.1.1.1\nc A 1.1.1.1\n";
    render_t r = {0};
    char err[128];

    (void)state;
    r.stop_at = 2;
    r.stop_msg = "duplicate record";
    assert_int_equal(read_text(text, strlen(text), &r, err, sizeof err), -1);
    assert_string_equal(err, "mem:3: duplicate record");
    assert_int_equal(r.count, 2);
    /* a callback that says nothing gets a message all the same */
    r.stop_msg = NULL;
    assert_int_equal(read_text(text, strlen(text), &r, err, sizeof err), -1);
    assert_string_equal(err, "mem:3: record refused");
    free(r.buf);
}

static void test_small_err_buffer(void **state)
{
    render_t r = {0};
    char err[8];

    (void)state;
    memset(err, 'Z', sizeof err);
    assert_int_equal(read_text("a CH A 1.1.1.1\n", 15, &r, err, sizeof err),
                     -1);
    assert_string_equal(err, "mem:1: ");
    /* no buffer at all */
    assert_int_equal(dns_zfile_read_mem("mem", "a CH A 1.1.1.1\n", 15, origin,
                                        render_cb, &r, NULL, 0),
                     -1);
    free(r.buf);
}

static void test_bad_origin(void **state)
{
    static const uint8_t bad[] = "\100aaaa"; /* label of 64 */
    render_t r = {0};
    char err[128];

    (void)state;
    assert_int_equal(dns_zfile_read_mem("mem", "a A 1.1.1.1\n", 12, bad,
                                        render_cb, &r, err, sizeof err),
                     -1);
    assert_string_equal(err, "mem:1: bad origin");
    assert_int_equal(dns_zfile_read_mem("mem", "@ A 1.1.1.1\n", 12,
                                        (const uint8_t *)"", render_cb, &r, err,
                                        sizeof err),
                     0);
    assert_string_equal(r.buf, ". 1 3600 01010101 mem:1\n");
    free(r.buf);
}

/* ---- files and $INCLUDE
 * ------------------------------------------------------ */

static char tmpdir[64];
static char oldcwd[4096];

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

/* A temporary directory, made the current one, with:
 *   main.zone      includes sub/a.inc, then sub/a.inc again with an origin
 *   sub/a.inc      includes b.inc (relative to sub/)
 *   sub/b.inc      changes the origin and the TTL
 *   sub/bad.inc    an error on line 3
 *   sub/c.inc      a record with no owner of its own
 *   loop.inc       includes itself */
static int files_setup(void **state)
{
    (void)state;
    if (getcwd(oldcwd, sizeof oldcwd) == NULL)
        return -1;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_dns_zfile.XXXXXX");
    if (mkdtemp(tmpdir) == NULL || chdir(tmpdir) != 0 ||
        mkdir("sub", 0700) != 0)
        return -1;
    write_file("main.zone", "$TTL 100\n"
                            "@ SOA ns hm 1 2 3 4 5\n"
                            "$INCLUDE sub/a.inc ; comment\n"
                            "  TXT back\n"
                            "$INCLUDE \"sub/a.inc\" Child\n"
                            "z A 9.9.9.9\n");
    write_file("sub/a.inc", "x A 2.2.2.2\n"
                            "$INCLUDE b.inc\n"
                            "  TXT after\n");
    write_file("sub/b.inc", "$ORIGIN deeper\n"
                            "\n"
                            "y 7 A 3.3.3.3\n"
                            "$TTL 8\n");
    write_file("sub/bad.inc", "ok A 1.1.1.1\n\nbad A 300.1.1.1\n");
    write_file("sub/c.inc", "  TXT inherited\n");
    write_file("loop.inc", "a A 1.1.1.1\n$INCLUDE loop.inc\n");
    write_file("inc_bad.zone", "a A 1.1.1.1\n$INCLUDE sub/bad.inc\n");
    write_file("inc_missing.zone", "a A 1.1.1.1\n\n$INCLUDE sub/none.inc\n");
    write_file("inc_dir.zone", "$INCLUDE sub\n");
    return 0;
}

static int files_teardown(void **state)
{
    static const char *const files[] = {
        "main.zone",    "sub/a.inc",        "sub/b.inc",
        "sub/bad.inc",  "sub/c.inc",        "loop.inc",
        "inc_bad.zone", "inc_missing.zone", "inc_dir.zone",
    };
    size_t i;

    (void)state;
    for (i = 0; i < ARRAY_LEN(files); i++)
        unlink(files[i]);
    rmdir("sub");
    if (chdir(oldcwd) != 0)
        return -1;
    return rmdir(tmpdir);
}

static void test_include(void **state)
{
    render_t r = {0};
    char err[256] = "";

    (void)state;
    assert_int_equal(
        dns_zfile_read("main.zone", origin, render_cb, &r, err, sizeof err), 0);
    assert_string_equal(
        r.buf,
        "example.test. 6 100 026e73076578616d706c6504746573740002686d07657861"
        "6d706c65047465737400000000010000000200000003000000040000000"
        "5 main.zone:2\n"
        "x.example.test. 1 100 02020202 sub/a.inc:1\n"
        "y.deeper.example.test. 1 7 03030303 sub/b.inc:3\n"
        /* back in a.inc: its origin and owner again, $TTL 8 carried */
        "x.example.test. 16 8 056166746572 sub/a.inc:3\n"
        /* back in main.zone: owner @ again */
        "example.test. 16 8 046261636b main.zone:4\n"
        "x.Child.example.test. 1 8 02020202 sub/a.inc:1\n"
        "y.deeper.Child.example.test. 1 7 03030303 sub/b.inc:3\n"
        "x.Child.example.test. 16 8 056166746572 sub/a.inc:3\n"
        "z.example.test. 1 8 09090909 main.zone:6\n");
    free(r.buf);
}

static void test_include_errors(void **state)
{
    static const struct {
        const char *file, *err;
    } c[] = {
        {"inc_bad.zone",
         "sub/bad.inc:3: bad A record: Conversion error, ip4 addr expected"},
        {"inc_missing.zone",
         "inc_missing.zone:3: $INCLUDE sub/none.inc: No such file or "
         "directory"},
        {"inc_dir.zone", "inc_dir.zone:1: $INCLUDE sub: Is a directory"},
        {"loop.inc", "loop.inc:2: $INCLUDE nested deeper than 10"},
        {"none.zone", "none.zone: No such file or directory"},
        {"sub", "sub: Is a directory"},
    };
    render_t r = {0};
    char err[256];
    size_t i;

    (void)state;
    for (i = 0; i < ARRAY_LEN(c); i++) {
        r.len = 0;
        r.count = 0;
        assert_int_equal(
            dns_zfile_read(c[i].file, origin, render_cb, &r, err, sizeof err),
            -1);
        assert_string_equal(err, c[i].err);
        if (strcmp(c[i].file, "loop.inc") == 0)
            assert_int_equal(r.count, 11); /* "a" at depths 0-10 */
    }
    free(r.buf);
}

static void test_include_from_mem(void **state)
{
    static const char text[] = "$INCLUDE sub/b.inc o\n  TXT q\n";
    render_t r = {0};
    char err[256];

    (void)state;
    /* relative to the current directory; b.inc's $TTL stays */
    r.count = 0;
    r.buf = NULL;
    assert_int_equal(dns_zfile_read_mem("mem", text, strlen(text), origin,
                                        render_cb, &r, err, sizeof err),
                     -1);
    assert_string_equal(err, "mem:2: no owner name to inherit");
    assert_string_equal(r.buf,
                        "y.deeper.o.example.test. 1 7 03030303 sub/b.inc:3\n");
    /* an included file starts with the includer's owner */
    r.len = 0;
    assert_int_equal(
        dns_zfile_read_mem("mem", "Ab A 1.1.1.1\n$INCLUDE sub/c.inc\n", 32,
                           origin, render_cb, &r, err, sizeof err),
        0);
    assert_string_equal(r.buf, "Ab.example.test. 1 3600 01010101 mem:1\n"
                               "Ab.example.test. 16 3600 09696e686572697465"
                               "64 sub/c.inc:1\n");
    free(r.buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ok_cases),
        cmocka_unit_test(test_bad_cases),
        cmocka_unit_test(test_nul_byte),
        cmocka_unit_test(test_long_rdata),
        cmocka_unit_test(test_callback_stops),
        cmocka_unit_test(test_small_err_buffer),
        cmocka_unit_test(test_bad_origin),
        cmocka_unit_test_setup_teardown(test_include, files_setup,
                                        files_teardown),
        cmocka_unit_test_setup_teardown(test_include_errors, files_setup,
                                        files_teardown),
        cmocka_unit_test_setup_teardown(test_include_from_mem, files_setup,
                                        files_teardown),
    };

    return cmocka_run_group_tests_name("dns_zfile", tests, NULL, NULL);
}
