/*
 * fuzz_smtp_cmd.c - libFuzzer target: the SMTP command parser.
 * The first byte picks the options (extensions, the transaction's
 * SMTPUTF8, a size limit), the rest is one command line.  Invariants: a
 * refusal is a 5xx reply with an enhanced code and printable text; a
 * parsed command's slices lie inside the line, paths respect RFC 5321's
 * limits, UTF-8 appears only where SMTPUTF8 allows it, xtext values
 * decode, parameters of extensions not offered never get through.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void in_line(loom_slice_t s, const char *in, size_t len)
{
    assert(s.len <= len);
    if (s.len > 0)
        assert(s.p >= in && s.p + s.len <= in + len);
}

static int has_high(loom_slice_t s)
{
    size_t i;

    for (i = 0; i < s.len; i++)
        if ((unsigned char)s.p[i] >= 0x80)
            return 1;
    return 0;
}

static void check_reply(const smtp_reply_t *r)
{
    size_t i;

    assert(r->code >= 500 && r->code <= 559);
    assert(r->enh[0] == '5' && r->enh[1] == '.');
    assert(r->text[0] != '\0');
    {
        char line[SMTP_REPLY_TEXT_MAX + 24];
        int n = smtp_reply_format(r, line, sizeof(line));

        assert(n > 0 && line[n - 2] == '\r' && line[n - 1] == '\n');
    }
    for (i = 0; r->text[i] != '\0'; i++)
        assert(r->text[i] >= 0x20 && r->text[i] < 0x7f);
}

static void check_addr(const smtp_addr_t *a, const char *in, size_t len,
                       int allow_utf8)
{
    char buf[SMTP_LOCAL_MAX + 1];

    in_line(a->local, in, len);
    in_line(a->domain, in, len);
    in_line(a->mailbox, in, len);
    assert(a->local.len <= SMTP_LOCAL_MAX);
    assert(a->domain.len <= SMTP_DOMAIN_MAX);
    assert(a->mailbox.len + 2 <= SMTP_PATH_MAX);
    if (a->null) {
        assert(a->mailbox.len == 0);
        return;
    }
    assert(a->local.len > 0);
    assert(a->utf8 == (has_high(a->mailbox) != 0));
    if (a->utf8)
        assert(allow_utf8);
    assert(smtp_addr_local_unquote(a, buf, sizeof(buf)) >= 0);
    {
        char key[SMTP_PATH_MAX + 1];
        int n = smtp_addr_canon(a, key, sizeof(key));

        /* no NUL can get into a path; '@' only before the domain unless
         * quoted */
        assert(n > 0 && (size_t)n == strlen(key));
        if (!a->quoted)
            assert((a->domain.len == 0) ==
                   (memchr(key, '@', (size_t)n) == NULL));
    }
    if (a->literal)
        assert(a->domain.p[0] == '[' && a->domain.p[a->domain.len - 1] == ']');
}

static void check_xtext(loom_slice_t s)
{
    char buf[1024];

    if (s.len > 0)
        assert(smtp_xtext_decode(s.p, s.len, buf, sizeof(buf)) >= 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    smtp_parse_opts_t o;
    smtp_cmd_t c;
    smtp_reply_t err;
    smtp_addr_t a;
    const char *in;
    size_t len;
    int rc;

    if (size < 1)
        return 0;
    memset(&o, 0, sizeof(o));
    o.ext = data[0] & 0x3f;
    o.utf8_txn = (data[0] >> 6) & 1;
    o.max_size = (data[0] & 0x80) ? 1000 : 0;
    in = (const char *)data + 1;
    len = size - 1;

    rc = smtp_cmd_parse(in, len, &o, &c, &err);
    assert(rc == 0 || rc == -1);
    assert(c.verb >= SMTP_VERB_UNKNOWN && c.verb < SMTP_VERB_COUNT);
    assert(smtp_verb_name(c.verb) != NULL);
    if (rc != 0) {
        check_reply(&err);
        assert(len + 2 <= smtp_cmd_line_limit(&o) || err.code == 500);
    } else {
        assert(c.verb != SMTP_VERB_UNKNOWN);
        assert(len + 2 <= smtp_cmd_line_limit(&o));
        in_line(c.arg, in, len);
        in_line(c.auth_mech, in, len);
        in_line(c.auth_initial, in, len);
        if (c.verb == SMTP_VERB_MAIL || c.verb == SMTP_VERB_RCPT) {
            int is_rcpt = c.verb == SMTP_VERB_RCPT;

            check_addr(&c.path, in, len,
                       is_rcpt ? o.utf8_txn : c.params.smtputf8);
            if (is_rcpt)
                assert(!c.path.null);
            check_xtext(c.params.envid);
            check_xtext(c.params.orcpt);
            in_line(c.params.orcpt_type, in, len);
            in_line(c.params.auth, in, len);
            assert(c.params.envid.len <= SMTP_ENVID_MAX);
            if (c.params.has_size) {
                assert(o.ext & SMTP_EXT_SIZE);
                assert(o.max_size == 0 || c.params.size <= o.max_size);
            }
            if (c.params.body != SMTP_BODY_NONE)
                assert(o.ext & SMTP_EXT_8BITMIME);
            if (c.params.body == SMTP_BODY_BINARYMIME)
                assert(o.ext & SMTP_EXT_BINARYMIME);
            if (c.params.smtputf8)
                assert(o.ext & SMTP_EXT_SMTPUTF8);
            if (c.params.ret || c.params.envid.len || c.params.notify ||
                c.params.orcpt.len)
                assert(o.ext & SMTP_EXT_DSN);
            if (c.params.notify & SMTP_NOTIFY_NEVER)
                assert(c.params.notify == SMTP_NOTIFY_NEVER);
        }
    }

    /* the same bytes as a bare path, both ways */
    if (smtp_addr_parse(in, len, 0, 1, &a, &err) == 0)
        check_addr(&a, in, len, 1);
    else
        check_reply(&err);
    if (smtp_addr_parse(in, len, 1, 0, &a, &err) == 0) {
        check_addr(&a, in, len, 0);
        assert(!a.null);
    } else {
        check_reply(&err);
    }
    return 0;
}
