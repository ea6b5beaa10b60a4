/*
 * fuzz_smtp_reply.c - libFuzzer target: the SMTP reply parser and the
 * client state machine that reads replies (protocols/smtp/smtp_client.h),
 * i.e. everything loom reads from a next-hop SMTP server.
 *
 * The first input byte picks the client's options (TLS policy, AUTH,
 * the transaction's flags and size); the rest is what the server says.
 * Invariants: a parsed reply lies within the input, has 1..MAX_LINES
 * lines whose slices lie inside it, a code of 200-559 shared by every
 * line, and an enhanced code of its class or none; every prefix of a
 * reply is PARTIAL; the client fed the bytes whole and in pieces (two
 * piece sizes) reports the same events and writes the same commands, and
 * never consumes past what it was given; recipient statuses stay in
 * range and a failure has a stage.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp_client.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fz_reply(const char *buf, size_t len)
{
    smtp_reply_t r, r2;
    int n = smtp_reply_parse(buf, len, &r);
    size_t i, k;

    if (n == SMTP_REPLY_PARTIAL || n == SMTP_REPLY_ERROR)
        return;
    assert(n > 0 && (size_t)n <= len);
    assert(r.code >= 200 && r.code <= 559);
    assert(r.nlines >= 1 && r.nlines <= SMTP_REPLY_MAX_LINES);
    for (i = 0; i < r.nlines; i++) {
        if (r.line[i].len)
            assert(r.line[i].p >= buf &&
                   r.line[i].p + r.line[i].len <= buf + n);
    }
    assert((buf[0] - '0') * 100 + (buf[1] - '0') * 10 + (buf[2] - '0') ==
           r.code);
    if (r.esc[0])
        assert(r.esc[0] == '0' + r.code / 100 && r.esc[1] == '.');
    for (k = 0; k < (size_t)n; k += 1 + (size_t)n / 64) {
        int p = smtp_reply_parse(buf, k, &r2);

        assert(p == SMTP_REPLY_PARTIAL);
    }
}

typedef struct {
    char ev[64];
    size_t nev;
    char *out;
    size_t outlen;
} fz_run_t;

static void fz_take(smtp_client_t *cl, fz_run_t *o)
{
    size_t len;
    const char *p = smtp_client_out(cl, &len);

    o->out = realloc(o->out, o->outlen + len + 1);
    assert(o->out != NULL);
    if (len)
        memcpy(o->out + o->outlen, p, len);
    o->outlen += len;
    smtp_client_out_clear(cl);
}

static void fz_client(unsigned sel, const char *buf, size_t len, size_t piece,
                      fz_run_t *o)
{
    smtp_client_opts_t opts;
    smtp_client_rcpt_t rc[3];
    smtp_client_txn_t t;
    smtp_client_t *cl;
    size_t pos = 0, avail = 0, i;
    int over = 0;

    memset(&opts, 0, sizeof(opts));
    memset(&t, 0, sizeof(t));
    memset(rc, 0, sizeof(rc));
    memset(o, 0, sizeof(*o));
    opts.helo = "fuzz.test";
    opts.tls = (int)(sel & 3) % 3;
    if (sel & 4) {
        opts.auth_user = "u";
        opts.auth_pass = "p";
        opts.auth_plaintext = (sel & 8) != 0;
    }
    t.sender = sel & 16 ? "" : "s@fuzz.test";
    t.size = sel & 32 ? 1000 : 0;
    t.body_8bit = (sel & 64) != 0;
    t.smtputf8 = (sel & 128) != 0;
    t.ret = "FULL";
    rc[0].addr = "a@x";
    rc[1].addr = "b@x";
    rc[1].notify = "NEVER";
    rc[2].addr = "c@x";
    t.rcpt = rc;
    t.nrcpt = 1 + sel % 3;
    cl = smtp_client_new(&opts);
    assert(smtp_client_start(cl, &t) == LOOM_OK);
    while (!over && (avail < len || pos < avail)) {
        size_t used;
        int e;

        if (avail < len)
            avail = piece && len - avail > piece ? avail + piece : len;
        for (;;) {
            e = smtp_client_feed(cl, buf + pos, avail - pos, &used);
            assert(used <= avail - pos);
            pos += used;
            fz_take(cl, o);
            if (e == SMTP_CLI_MORE)
                break;
            if (o->nev + 1 < sizeof(o->ev))
                o->ev[o->nev++] = (char)('0' + e);
            if (e == SMTP_CLI_STARTTLS) {
                /* what followed the 220 is dropped */
                pos = avail = len;
                smtp_client_tls_ready(cl);
            } else if (e == SMTP_CLI_BODY) {
                smtp_client_body_end(cl);
            } else if (e == SMTP_CLI_DONE) {
                if (used == 0)
                    over = 1;
                else
                    smtp_client_quit(cl);
            } else {
                assert(smtp_client_failure(cl) != NULL);
                assert(smtp_client_failure(cl)->stage >= SMTP_STAGE_GREETING);
                over = 1;
            }
            if (over)
                break;
        }
        if (avail == len && pos < len && e == SMTP_CLI_MORE)
            break; /* an unfinished reply at the end */
    }
    for (i = 0; i < t.nrcpt; i++)
        assert(rc[i].status >= SMTP_CLI_RCPT_PENDING &&
               rc[i].status <= SMTP_CLI_RCPT_PERMFAIL);
    smtp_client_lost(cl, "eof");
    smtp_client_free(cl);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_run_t whole, bytes, odd;
    const char *buf;
    size_t len;
    unsigned sel;

    if (size < 1)
        return 0;
    sel = data[0];
    buf = (const char *)data + 1;
    len = size - 1;
    fz_reply(buf, len);

    fz_client(sel, buf, len, 0, &whole);
    fz_client(sel, buf, len, 1, &bytes);
    fz_client(sel, buf, len, 7, &odd);
    assert(whole.nev == bytes.nev &&
           memcmp(whole.ev, bytes.ev, whole.nev) == 0);
    assert(whole.nev == odd.nev && memcmp(whole.ev, odd.ev, whole.nev) == 0);
    assert(whole.outlen == bytes.outlen && whole.outlen == odd.outlen);
    if (whole.outlen)
        assert(memcmp(whole.out, bytes.out, whole.outlen) == 0 &&
               memcmp(whole.out, odd.out, whole.outlen) == 0);
    free(whole.out);
    free(bytes.out);
    free(odd.out);
    return 0;
}
