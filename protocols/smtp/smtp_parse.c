/*
 * smtp_parse.c - SMTP command lines and RFC 5321 paths, sans I/O.
 *
 * Grammar: RFC 5321 4.1.1 (commands), 4.1.2 (Path, Mailbox, Local-part,
 * Domain, address-literal); ESMTP parameters: RFC 1870 (SIZE), 6152
 * (BODY=8BITMIME), 3030 (BODY=BINARYMIME, BDAT), 6531 (SMTPUTF8), 3461
 * (RET, ENVID, NOTIFY, ORCPT), 4954 (AUTH=).  Error replies follow the
 * texts Postfix's smtpd gives, so clients see what they are used to.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "smtp_parse.h"

#define NELEMS(a) (sizeof(a) / sizeof((a)[0]))

void smtp_reply_set(smtp_reply_t *r, int code, const char *enh,
                    const char *text)
{
    r->code = code;
    snprintf(r->enh, sizeof(r->enh), "%s", enh);
    snprintf(r->text, sizeof(r->text), "%s", text);
}

int smtp_reply_format(const smtp_reply_t *r, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%03d %s %s\r\n", r->code, r->enh, r->text);

    return n < 0 || (size_t)n >= cap ? -1 : n;
}

void smtp_reply_line_too_long(smtp_reply_t *r)
{
    smtp_reply_set(r, 500, "5.5.2", "Error: line too long");
}

/* TEXT followed by S[0..LEN) made printable (client bytes echoed back). */
static void reply_with(smtp_reply_t *r, int code, const char *enh,
                       const char *text, const char *s, size_t len)
{
    size_t n, i;

    smtp_reply_set(r, code, enh, text);
    n = strlen(r->text);
    for (i = 0; i < len && n + 1 < sizeof(r->text); i++, n++) {
        unsigned char c = (unsigned char)s[i];

        r->text[n] = c > 0x20 && c < 0x7f ? (char)c : '?';
    }
    r->text[n] = '\0';
}

/* ---- character classes ---------------------------------------------- */

static int is_alpha(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* RFC 5322 atext. */
static int is_atext(unsigned char c)
{
    return is_alpha(c) || is_digit(c) ||
           (c != 0 && strchr("!#$%&'*+-/=?^_`{|}~", c));
}

/* RFC 5321 qtextSMTP: %d32-33 / %d35-91 / %d93-126. */
static int is_qtext(unsigned char c)
{
    return c >= 32 && c <= 126 && c != '"' && c != '\\';
}

/* Length of the well-formed UTF-8 sequence at S[0..LEN) (RFC 3629: no
 * overlong forms, no surrogates, at most U+10FFFF), 0 if malformed. */
static size_t utf8_seq(const unsigned char *s, size_t len)
{
    unsigned char c = s[0];
    size_t n, i;
    unsigned char lo = 0x80, hi = 0xbf;

    if (c >= 0xc2 && c <= 0xdf)
        n = 2;
    else if (c >= 0xe0 && c <= 0xef)
        n = 3;
    else if (c >= 0xf0 && c <= 0xf4)
        n = 4;
    else
        return 0;
    if (c == 0xe0)
        lo = 0xa0;
    else if (c == 0xed)
        hi = 0x9f;
    else if (c == 0xf0)
        lo = 0x90;
    else if (c == 0xf4)
        hi = 0x8f;
    if (len < n || s[1] < lo || s[1] > hi)
        return 0;
    for (i = 2; i < n; i++)
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    return n;
}

/* Whether S[0..LEN) is well-formed UTF-8 (ASCII included). */
static int utf8_valid(const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;

    while (i < len) {
        size_t n = u[i] < 0x80 ? 1 : utf8_seq(u + i, len - i);

        if (n == 0)
            return 0;
        i += n;
    }
    return 1;
}

/* ---- addresses ------------------------------------------------------ */

/* What went wrong with an address: syntax, or UTF-8 without SMTPUTF8. */
enum { ADDR_OK = 0, ADDR_SYNTAX, ADDR_UTF8 };

typedef struct {
    const unsigned char *s;
    size_t len, pos;
    int allow_utf8;
    int saw_utf8;
} scan_t;

/* Consume one well-formed UTF-8 sequence at the cursor; 0 if none. */
static int scan_utf8(scan_t *sc)
{
    size_t n;

    if (sc->pos >= sc->len || sc->s[sc->pos] < 0x80)
        return 0;
    n = utf8_seq(sc->s + sc->pos, sc->len - sc->pos);
    if (n == 0)
        return 0;
    sc->pos += n;
    sc->saw_utf8 = 1;
    return 1;
}

/* Dot-string: Atom *("." Atom), atext plus UTF-8 (checked later). */
static int scan_dot_string(scan_t *sc)
{
    size_t atom = 0;

    for (;;) {
        if (sc->pos < sc->len && is_atext(sc->s[sc->pos])) {
            sc->pos++;
            atom++;
        } else if (scan_utf8(sc)) {
            atom++;
        } else if (sc->pos < sc->len && sc->s[sc->pos] == '.' && atom > 0) {
            sc->pos++;
            atom = 0;
            if (sc->pos >= sc->len || sc->s[sc->pos] == '@')
                return -1; /* trailing dot */
        } else {
            return atom > 0 ? 0 : -1;
        }
    }
}

/* Quoted-string: DQUOTE *(qtextSMTP / quoted-pairSMTP / UTF-8) DQUOTE. */
static int scan_quoted(scan_t *sc)
{
    sc->pos++; /* opening quote */
    while (sc->pos < sc->len) {
        unsigned char c = sc->s[sc->pos];

        if (c == '"') {
            sc->pos++;
            return 0;
        }
        if (c == '\\') {
            if (sc->pos + 1 >= sc->len || sc->s[sc->pos + 1] < 32 ||
                sc->s[sc->pos + 1] > 126)
                return -1;
            sc->pos += 2;
        } else if (is_qtext(c)) {
            sc->pos++;
        } else if (!scan_utf8(sc)) {
            return -1;
        }
    }
    return -1;
}

/* sub-domain *("." sub-domain), sub-domain = Let-dig [Ldh-str]; a UTF-8
 * sequence counts as a letter (U-label).  Stops at the first byte that is
 * none of these; returns 0 when at least one label was read. */
static int scan_domain_name(scan_t *sc)
{
    size_t label = 0;
    int last_hyphen = 0;

    for (;;) {
        unsigned char c = sc->pos < sc->len ? sc->s[sc->pos] : 0;

        if (is_alpha(c) || is_digit(c)) {
            sc->pos++;
            label++;
            last_hyphen = 0;
        } else if (c == '-' && label > 0) {
            sc->pos++;
            label++;
            last_hyphen = 1;
        } else if (scan_utf8(sc)) {
            label++;
            last_hyphen = 0;
        } else if (c == '.' && label > 0 && !last_hyphen) {
            sc->pos++;
            label = 0;
        } else {
            return label > 0 && !last_hyphen ? 0 : -1;
        }
    }
}

/* address-literal: "[" IPv4 "]" or "[IPv6:" IPv6 "]". */
static int scan_literal(scan_t *sc)
{
    const char *p = (const char *)sc->s + sc->pos + 1;
    const char *end = memchr(p, ']', sc->len - sc->pos - 1);
    char buf[INET6_ADDRSTRLEN + 8];
    unsigned char addr[16];
    size_t n, i;
    int ok;

    if (end == NULL)
        return -1;
    n = (size_t)(end - p);
    if (n >= sizeof(buf))
        return -1;
    /* inet_pton stops at a NUL: let only address characters through */
    for (i = 0; i < n; i++)
        if (!is_alpha((unsigned char)p[i]) && !is_digit((unsigned char)p[i]) &&
            p[i] != '.' && p[i] != ':')
            return -1;
    memcpy(buf, p, n);
    buf[n] = '\0';
    if (n > 5 && strncasecmp(buf, "IPv6:", 5) == 0)
        ok = inet_pton(AF_INET6, buf + 5, addr) == 1;
    else
        ok = inet_pton(AF_INET, buf, addr) == 1;
    if (!ok)
        return -1;
    sc->pos += n + 2;
    return 0;
}

/* Domain: a name or an address literal, reaching up to END. */
static int scan_domain(scan_t *sc, int *literal)
{
    *literal = sc->pos < sc->len && sc->s[sc->pos] == '[';
    return *literal ? scan_literal(sc) : scan_domain_name(sc);
}

/* Parse the inside of a path (no brackets) S[0..LEN) into A. */
static int parse_mailbox(const char *s, size_t len, int is_rcpt, int allow_utf8,
                         smtp_addr_t *a)
{
    scan_t sc = {(const unsigned char *)s, len, 0, allow_utf8, 0};
    size_t local_start, at;
    int route_utf8;

    /* A-d-l ":" : each "@domain" checked, then dropped. */
    if (len > 0 && s[0] == '@') {
        for (;;) {
            int lit;

            sc.pos++; /* '@' */
            if (scan_domain(&sc, &lit) != 0 || sc.pos >= len)
                return ADDR_SYNTAX;
            if (s[sc.pos] == ':') {
                sc.pos++;
                break;
            }
            if (s[sc.pos] != ',' || sc.pos + 1 >= len || s[sc.pos + 1] != '@')
                return ADDR_SYNTAX;
            sc.pos++;
        }
    }
    /* UTF-8 in the route needs SMTPUTF8 too, but a->utf8 is about the
     * mailbox only */
    route_utf8 = sc.saw_utf8;
    sc.saw_utf8 = 0;
    local_start = sc.pos;
    if (sc.pos < len && s[sc.pos] == '"') {
        a->quoted = 1;
        if (scan_quoted(&sc) != 0)
            return ADDR_SYNTAX;
    } else if (scan_dot_string(&sc) != 0) {
        return ADDR_SYNTAX;
    }
    at = sc.pos;
    a->local.p = s + local_start;
    a->local.len = at - local_start;
    if (at == len) {
        /* RFC 5321 4.1.1.3: RCPT TO:<Postmaster> needs no domain. */
        if (!is_rcpt || local_start != 0 || a->quoted || a->local.len != 10 ||
            strncasecmp(s, "postmaster", 10) != 0)
            return ADDR_SYNTAX;
        a->domain.p = s + len;
        a->domain.len = 0;
    } else {
        if (s[at] != '@')
            return ADDR_SYNTAX;
        sc.pos++;
        if (scan_domain(&sc, &a->literal) != 0 || sc.pos != len)
            return ADDR_SYNTAX;
        a->domain.p = s + at + 1;
        a->domain.len = len - at - 1;
    }
    if (a->local.len > SMTP_LOCAL_MAX || a->domain.len > SMTP_DOMAIN_MAX)
        return ADDR_SYNTAX;
    a->mailbox.p = s + local_start;
    a->mailbox.len = len - local_start;
    a->utf8 = sc.saw_utf8;
    if ((a->utf8 || route_utf8) && !allow_utf8)
        return ADDR_UTF8;
    return ADDR_OK;
}

/* A whole path: "<...>" or bare; fills A; returns ADDR_*. */
static int parse_path(const char *s, size_t len, int is_rcpt, int allow_utf8,
                      smtp_addr_t *a)
{
    memset(a, 0, sizeof(*a));
    a->local.p = a->domain.p = a->mailbox.p = s;
    if (len > 0 && s[0] == '<') {
        if (len < 2 || s[len - 1] != '>' || len > SMTP_PATH_MAX)
            return ADDR_SYNTAX;
        if (len == 2) {
            if (is_rcpt)
                return ADDR_SYNTAX;
            a->null = 1;
            a->local.p = a->domain.p = a->mailbox.p = s + 1;
            return ADDR_OK;
        }
        return parse_mailbox(s + 1, len - 2, is_rcpt, allow_utf8, a);
    }
    if (len == 0 || len + 2 > SMTP_PATH_MAX)
        return ADDR_SYNTAX;
    return parse_mailbox(s, len, is_rcpt, allow_utf8, a);
}

static void addr_error(smtp_reply_t *err, int is_rcpt, int why)
{
    if (why == ADDR_UTF8)
        smtp_reply_set(err, 553, "5.6.7",
                       "Must declare SMTPUTF8 to send unicode address");
    else if (is_rcpt)
        smtp_reply_set(err, 501, "5.1.3", "Bad recipient address syntax");
    else
        smtp_reply_set(err, 501, "5.1.7", "Bad sender address syntax");
}

int smtp_addr_parse(const char *s, size_t len, int is_rcpt, int allow_utf8,
                    smtp_addr_t *a, smtp_reply_t *err)
{
    int why = parse_path(s, len, is_rcpt, allow_utf8, a);

    if (why == ADDR_OK)
        return 0;
    addr_error(err, is_rcpt, why);
    return -1;
}

int smtp_addr_local_unquote(const smtp_addr_t *a, char *out, size_t cap)
{
    const char *p = a->local.p;
    size_t len = a->local.len, i, n = 0;

    if (a->quoted && len >= 2) {
        p++;
        len -= 2;
    }
    for (i = 0; i < len; i++) {
        if (a->quoted && p[i] == '\\' && i + 1 < len)
            i++;
        if (n + 1 >= cap)
            return -1;
        out[n++] = p[i];
    }
    if (cap == 0)
        return -1;
    out[n] = '\0';
    return (int)n;
}

int smtp_addr_canon(const smtp_addr_t *a, char *out, size_t cap)
{
    int n;
    size_t i;

    if (cap == 0)
        return -1;
    out[0] = '\0';
    if (a->null)
        return 0;
    n = smtp_addr_local_unquote(a, out, cap);
    if (n < 0)
        return -1;
    if (a->domain.len == 0)
        return n;
    if ((size_t)n + 1 + a->domain.len + 1 > cap)
        return -1;
    out[n++] = '@';
    for (i = 0; i < a->domain.len; i++) {
        char c = a->domain.p[i];

        out[n++] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
    }
    out[n] = '\0';
    return n;
}

/* ---- xtext ---------------------------------------------------------- */

static int hexval(unsigned char c)
{
    if (is_digit(c))
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int smtp_xtext_decode(const char *in, size_t len, char *out, size_t cap)
{
    size_t i, n = 0;

    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];

        if (c == '+') {
            int h, l;

            if (i + 2 >= len)
                return -1;
            h = hexval((unsigned char)in[i + 1]);
            l = hexval((unsigned char)in[i + 2]);
            if (h < 0 || l < 0)
                return -1;
            c = (unsigned char)(h * 16 + l);
            i += 2;
        } else if (c < 33 || c > 126 || c == '=') {
            return -1;
        }
        if (out != NULL) {
            if (n + 1 >= cap)
                return -1;
            out[n] = (char)c;
        }
        n++;
    }
    if (out != NULL) {
        if (cap == 0)
            return -1;
        out[n] = '\0';
    }
    return (int)n;
}

static int xtext_ok(const char *s, size_t len)
{
    return smtp_xtext_decode(s, len, NULL, 0) >= 0;
}

/* ---- ESMTP parameters ----------------------------------------------- */

/* Parse 1..20 decimal digits S[0..LEN) into *V without overflow. */
static int parse_u64(const char *s, size_t len, uint64_t *v)
{
    size_t i;

    *v = 0;
    if (len == 0 || len > 20)
        return -1;
    for (i = 0; i < len; i++) {
        unsigned d;

        if (!is_digit((unsigned char)s[i]))
            return -1;
        d = (unsigned)(s[i] - '0');
        if (*v > (UINT64_MAX - d) / 10)
            return -1;
        *v = *v * 10 + d;
    }
    return 0;
}

static int slice_is(loom_slice_t s, const char *word)
{
    return s.len == strlen(word) && strncasecmp(s.p, word, s.len) == 0;
}

/* One parameter's value (VAL.p == NULL when there was no "="). */
typedef int (*param_fn)(loom_slice_t val, const smtp_parse_opts_t *opts,
                        smtp_params_t *pa, smtp_reply_t *err);

static int param_size(loom_slice_t val, const smtp_parse_opts_t *opts,
                      smtp_params_t *pa, smtp_reply_t *err)
{
    if (parse_u64(val.p, val.len, &pa->size) != 0) {
        smtp_reply_set(err, 501, "5.5.4", "Bad message size syntax");
        return -1;
    }
    if (opts->max_size != 0 && pa->size > opts->max_size) {
        smtp_reply_set(err, 552, "5.3.4", "Message size exceeds fixed limit");
        return -1;
    }
    pa->has_size = 1;
    return 0;
}

static int param_body(loom_slice_t val, const smtp_parse_opts_t *opts,
                      smtp_params_t *pa, smtp_reply_t *err)
{
    if (slice_is(val, "7BIT")) {
        pa->body = SMTP_BODY_7BIT;
    } else if (slice_is(val, "8BITMIME")) {
        pa->body = SMTP_BODY_8BITMIME;
    } else if (slice_is(val, "BINARYMIME")) {
        if (!(opts->ext & SMTP_EXT_BINARYMIME)) {
            smtp_reply_set(err, 555, "5.5.4",
                           "Unsupported option: BODY=BINARYMIME");
            return -1;
        }
        pa->body = SMTP_BODY_BINARYMIME;
    } else {
        reply_with(err, 501, "5.5.4", "Bad BODY keyword: ", val.p, val.len);
        return -1;
    }
    return 0;
}

static int param_smtputf8(loom_slice_t val, const smtp_parse_opts_t *opts,
                          smtp_params_t *pa, smtp_reply_t *err)
{
    (void)opts;
    if (val.p != NULL) {
        smtp_reply_set(err, 501, "5.5.4", "Bad SMTPUTF8 parameter syntax");
        return -1;
    }
    pa->smtputf8 = 1;
    return 0;
}

static int param_ret(loom_slice_t val, const smtp_parse_opts_t *opts,
                     smtp_params_t *pa, smtp_reply_t *err)
{
    (void)opts;
    if (slice_is(val, "FULL")) {
        pa->ret = SMTP_RET_FULL;
    } else if (slice_is(val, "HDRS")) {
        pa->ret = SMTP_RET_HDRS;
    } else {
        smtp_reply_set(err, 501, "5.5.4", "Bad RET parameter syntax");
        return -1;
    }
    return 0;
}

static int param_envid(loom_slice_t val, const smtp_parse_opts_t *opts,
                       smtp_params_t *pa, smtp_reply_t *err)
{
    (void)opts;
    if (val.len == 0 || val.len > SMTP_ENVID_MAX || !xtext_ok(val.p, val.len)) {
        smtp_reply_set(err, 501, "5.5.4", "Bad ENVID parameter syntax");
        return -1;
    }
    pa->envid = val;
    return 0;
}

static int param_auth(loom_slice_t val, const smtp_parse_opts_t *opts,
                      smtp_params_t *pa, smtp_reply_t *err)
{
    (void)opts;
    if (val.len == 0 || (!slice_is(val, "<>") && !xtext_ok(val.p, val.len))) {
        smtp_reply_set(err, 501, "5.5.4", "Bad AUTH parameter syntax");
        return -1;
    }
    pa->has_auth = 1;
    pa->auth = val;
    return 0;
}

static const struct {
    const char *name;
    unsigned bit;
} notify_words[] = {
    {"NEVER", SMTP_NOTIFY_NEVER},
    {"SUCCESS", SMTP_NOTIFY_SUCCESS},
    {"FAILURE", SMTP_NOTIFY_FAILURE},
    {"DELAY", SMTP_NOTIFY_DELAY},
};

static int param_notify(loom_slice_t val, const smtp_parse_opts_t *opts,
                        smtp_params_t *pa, smtp_reply_t *err)
{
    size_t i = 0;
    unsigned bits = 0;

    (void)opts;
    while (val.p != NULL && i <= val.len) {
        const char *comma = memchr(val.p + i, ',', val.len - i);
        loom_slice_t w = {val.p + i,
                          (comma ? (size_t)(comma - val.p) : val.len) - i};
        size_t k;

        for (k = 0; k < NELEMS(notify_words); k++)
            if (slice_is(w, notify_words[k].name))
                break;
        if (k == NELEMS(notify_words) || (bits & notify_words[k].bit))
            goto bad;
        bits |= notify_words[k].bit;
        i += w.len + 1;
    }
    /* RFC 3461 4.1: NEVER stands alone. */
    if (bits == 0 || ((bits & SMTP_NOTIFY_NEVER) && bits != SMTP_NOTIFY_NEVER))
        goto bad;
    pa->notify = bits;
    return 0;
bad:
    smtp_reply_set(err, 501, "5.5.4", "Error: Bad NOTIFY parameter syntax");
    return -1;
}

static int param_orcpt(loom_slice_t val, const smtp_parse_opts_t *opts,
                       smtp_params_t *pa, smtp_reply_t *err)
{
    const char *semi = val.p ? memchr(val.p, ';', val.len) : NULL;
    size_t tlen, i;

    (void)opts;
    if (semi == NULL || val.len > SMTP_ORCPT_MAX)
        goto bad;
    tlen = (size_t)(semi - val.p);
    if (tlen == 0 || tlen + 1 >= val.len)
        goto bad;
    for (i = 0; i < tlen; i++) {
        unsigned char c = (unsigned char)val.p[i];

        if (!is_alpha(c) && !is_digit(c) && c != '-')
            goto bad;
    }
    if (!xtext_ok(semi + 1, val.len - tlen - 1))
        goto bad;
    pa->orcpt_type.p = val.p;
    pa->orcpt_type.len = tlen;
    pa->orcpt.p = semi + 1;
    pa->orcpt.len = val.len - tlen - 1;
    return 0;
bad:
    smtp_reply_set(err, 501, "5.5.4", "Error: Bad ORCPT parameter syntax");
    return -1;
}

/* Which parameter goes with which command and extension. */
static const struct {
    const char *name;
    smtp_verb_t verb;
    unsigned ext;
    int needs_value;
    param_fn fn;
} param_defs[] = {
    {"SIZE", SMTP_VERB_MAIL, SMTP_EXT_SIZE, 1, param_size},
    {"BODY", SMTP_VERB_MAIL, SMTP_EXT_8BITMIME, 1, param_body},
    {"SMTPUTF8", SMTP_VERB_MAIL, SMTP_EXT_SMTPUTF8, 0, param_smtputf8},
    {"RET", SMTP_VERB_MAIL, SMTP_EXT_DSN, 1, param_ret},
    {"ENVID", SMTP_VERB_MAIL, SMTP_EXT_DSN, 1, param_envid},
    {"AUTH", SMTP_VERB_MAIL, SMTP_EXT_AUTH, 1, param_auth},
    {"NOTIFY", SMTP_VERB_RCPT, SMTP_EXT_DSN, 1, param_notify},
    {"ORCPT", SMTP_VERB_RCPT, SMTP_EXT_DSN, 1, param_orcpt},
};

/* esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-");
 * esmtp-value = 1*(%d33-60 / %d62-126), UTF-8 allowed (RFC 6531). */
static int param_token_ok(loom_slice_t key, loom_slice_t val)
{
    size_t i;

    if (key.len == 0 || key.p[0] == '-')
        return 0;
    for (i = 0; i < key.len; i++) {
        unsigned char c = (unsigned char)key.p[i];

        if (!is_alpha(c) && !is_digit(c) && c != '-')
            return 0;
    }
    if (val.p == NULL)
        return 1;
    if (val.len == 0)
        return 0;
    for (i = 0; i < val.len; i++) {
        unsigned char c = (unsigned char)val.p[i];

        if (c == '=' || c <= 32 || c == 127)
            return 0;
    }
    return 1;
}

/* Parse the space-separated parameters S[0..LEN) of VERB into PA. */
static int parse_params(smtp_verb_t verb, const char *s, size_t len,
                        const smtp_parse_opts_t *opts, smtp_params_t *pa,
                        smtp_reply_t *err)
{
    size_t i = 0;
    unsigned seen = 0;

    while (i < len) {
        const char *sp, *eq;
        loom_slice_t tok, key, val = {NULL, 0};
        size_t k;

        if (s[i] == ' ') {
            i++;
            continue;
        }
        sp = memchr(s + i, ' ', len - i);
        tok.p = s + i;
        tok.len = (sp ? (size_t)(sp - s) : len) - i;
        i += tok.len;
        eq = memchr(tok.p, '=', tok.len);
        key.p = tok.p;
        key.len = eq ? (size_t)(eq - tok.p) : tok.len;
        if (eq != NULL) {
            val.p = eq + 1;
            val.len = tok.len - key.len - 1;
        }
        if (!param_token_ok(key, val)) {
            smtp_reply_set(err, 501, "5.5.4",
                           verb == SMTP_VERB_MAIL
                               ? "Syntax: MAIL FROM:<address>"
                               : "Syntax: RCPT TO:<address>");
            return -1;
        }
        for (k = 0; k < NELEMS(param_defs); k++)
            if (param_defs[k].verb == verb && slice_is(key, param_defs[k].name))
                break;
        if (k == NELEMS(param_defs) || !(opts->ext & param_defs[k].ext)) {
            reply_with(err, 555, "5.5.4", "Unsupported option: ", tok.p,
                       tok.len);
            return -1;
        }
        if (seen & (1u << k)) {
            char text[64];

            snprintf(text, sizeof(text), "Duplicate %s parameter",
                     param_defs[k].name);
            smtp_reply_set(err, 501, "5.5.4", text);
            return -1;
        }
        seen |= 1u << k;
        if (param_defs[k].needs_value && val.p == NULL) {
            char text[64];

            snprintf(text, sizeof(text), "Bad %s parameter syntax",
                     param_defs[k].name);
            smtp_reply_set(err, 501, "5.5.4", text);
            return -1;
        }
        if (param_defs[k].fn(val, opts, pa, err) != 0)
            return -1;
    }
    return 0;
}

/* ---- commands ------------------------------------------------------- */

/* End of the path at S[0..LEN): after the '>' that closes a bracketed
 * path (quotes respected), else the first space. */
static size_t path_end(const char *s, size_t len)
{
    size_t i;
    int quoted = 0;

    if (len > 0 && s[0] == '<') {
        for (i = 1; i < len; i++) {
            if (quoted && s[i] == '\\')
                i++;
            else if (s[i] == '"')
                quoted = !quoted;
            else if (!quoted && s[i] == '>')
                return i + 1;
        }
        return len;
    }
    for (i = 0; i < len && s[i] != ' '; i++)
        ;
    return i;
}

/* MAIL FROM:<path> [params] and RCPT TO:<path> [params]. */
static int parse_mail_rcpt(smtp_cmd_t *cmd, const smtp_parse_opts_t *opts,
                           smtp_reply_t *err)
{
    int is_rcpt = cmd->verb == SMTP_VERB_RCPT;
    const char *word = is_rcpt ? "TO:" : "FROM:";
    size_t wlen = strlen(word), i, pe;
    const char *s = cmd->arg.p;
    size_t len = cmd->arg.len;
    int why;

    if (len < wlen || strncasecmp(s, word, wlen) != 0)
        goto syntax;
    i = wlen;
    while (i < len && s[i] == ' ')
        i++;
    if (i == len)
        goto syntax;
    pe = i + path_end(s + i, len - i);
    if (pe < len && s[pe] != ' ') {
        addr_error(err, is_rcpt, ADDR_SYNTAX);
        return -1;
    }
    if (parse_params(cmd->verb, s + pe, len - pe, opts, &cmd->params, err) != 0)
        return -1;
    why =
        parse_path(s + i, pe - i, is_rcpt,
                   is_rcpt ? opts->utf8_txn : cmd->params.smtputf8, &cmd->path);
    if (why != ADDR_OK) {
        addr_error(err, is_rcpt, why);
        return -1;
    }
    return 0;
syntax:
    smtp_reply_set(err, 501, "5.5.4",
                   is_rcpt ? "Syntax: RCPT TO:<address>"
                           : "Syntax: MAIL FROM:<address>");
    return -1;
}

/* BDAT chunk-size [SP "LAST"] */
static int parse_bdat(smtp_cmd_t *cmd, const smtp_parse_opts_t *opts,
                      smtp_reply_t *err)
{
    const char *s = cmd->arg.p;
    size_t len = cmd->arg.len, n = 0, i;

    (void)opts;
    while (n < len && s[n] != ' ')
        n++;
    if (parse_u64(s, n, &cmd->bdat_size) != 0)
        goto syntax;
    for (i = n; i < len && s[i] == ' '; i++)
        ;
    if (i < len) {
        loom_slice_t w = {s + i, len - i};

        if (i == n || !slice_is(w, "LAST"))
            goto syntax;
        cmd->bdat_last = 1;
    }
    return 0;
syntax:
    smtp_reply_set(err, 501, "5.5.4", "Syntax: BDAT count [LAST]");
    return -1;
}

/* AUTH mechanism [initial-response] (RFC 4954 4). */
static int parse_auth(smtp_cmd_t *cmd, const smtp_parse_opts_t *opts,
                      smtp_reply_t *err)
{
    const char *s = cmd->arg.p;
    size_t len = cmd->arg.len, n = 0, i;

    (void)opts;
    while (n < len && s[n] != ' ') {
        unsigned char c = (unsigned char)s[n];

        if (!is_alpha(c) && !is_digit(c) && c != '-' && c != '_')
            goto syntax;
        n++;
    }
    if (n == 0 || n > 20)
        goto syntax;
    cmd->auth_mech.p = s;
    cmd->auth_mech.len = n;
    for (i = n; i < len && s[i] == ' '; i++)
        ;
    cmd->auth_initial.p = s + i;
    cmd->auth_initial.len = len - i;
    for (; i < len; i++) {
        unsigned char c = (unsigned char)s[i];

        if (!is_alpha(c) && !is_digit(c) && c != '+' && c != '/' && c != '=')
            goto syntax;
    }
    return 0;
syntax:
    smtp_reply_set(err, 501, "5.5.4", "Syntax: AUTH mechanism");
    return -1;
}

typedef int (*arg_fn)(smtp_cmd_t *cmd, const smtp_parse_opts_t *opts,
                      smtp_reply_t *err);

enum { ARG_NONE, ARG_OPTIONAL, ARG_REQUIRED };

/* The command table: name, verb, what argument it takes, the 501 text
 * when that is wrong, and the parser of a structured argument. */
static const struct {
    const char *name;
    smtp_verb_t verb;
    int arg;
    const char *syntax;
    arg_fn fn;
} verb_defs[] = {
    {"EHLO", SMTP_VERB_EHLO, ARG_REQUIRED, "Syntax: EHLO hostname", NULL},
    {"HELO", SMTP_VERB_HELO, ARG_REQUIRED, "Syntax: HELO hostname", NULL},
    {"MAIL", SMTP_VERB_MAIL, ARG_REQUIRED, "Syntax: MAIL FROM:<address>",
     parse_mail_rcpt},
    {"RCPT", SMTP_VERB_RCPT, ARG_REQUIRED, "Syntax: RCPT TO:<address>",
     parse_mail_rcpt},
    {"DATA", SMTP_VERB_DATA, ARG_NONE, "Syntax: DATA", NULL},
    {"BDAT", SMTP_VERB_BDAT, ARG_REQUIRED, "Syntax: BDAT count [LAST]",
     parse_bdat},
    {"RSET", SMTP_VERB_RSET, ARG_NONE, "Syntax: RSET", NULL},
    {"NOOP", SMTP_VERB_NOOP, ARG_OPTIONAL, NULL, NULL},
    {"QUIT", SMTP_VERB_QUIT, ARG_OPTIONAL, NULL, NULL},
    {"VRFY", SMTP_VERB_VRFY, ARG_REQUIRED, "Syntax: VRFY address", NULL},
    {"HELP", SMTP_VERB_HELP, ARG_OPTIONAL, NULL, NULL},
    {"STARTTLS", SMTP_VERB_STARTTLS, ARG_NONE, "Syntax: STARTTLS", NULL},
    {"AUTH", SMTP_VERB_AUTH, ARG_REQUIRED, "Syntax: AUTH mechanism",
     parse_auth},
};

const char *smtp_verb_name(smtp_verb_t verb)
{
    size_t i;

    for (i = 0; i < NELEMS(verb_defs); i++)
        if (verb_defs[i].verb == verb)
            return verb_defs[i].name;
    return "UNKNOWN";
}

/* Octets each extension adds to the longest MAIL / RCPT line: RFC 1870
 * 3 (SIZE 26), RFC 3461 4 (DSN: MAIL 100, RCPT 500), RFC 4954 5 (AUTH
 * 500). */
static const struct {
    unsigned ext;
    size_t mail, rcpt;
} line_extra[] = {
    {SMTP_EXT_SIZE, 26, 0},
    {SMTP_EXT_DSN, 100, 500},
    {SMTP_EXT_AUTH, 500, 0},
};

static size_t line_limit(const smtp_parse_opts_t *opts, smtp_verb_t verb)
{
    size_t limit = opts->max_line ? opts->max_line : SMTP_CMD_LINE_MAX;
    size_t i;

    for (i = 0; i < NELEMS(line_extra); i++) {
        if (!(opts->ext & line_extra[i].ext))
            continue;
        if (verb == SMTP_VERB_MAIL)
            limit += line_extra[i].mail;
        else if (verb == SMTP_VERB_RCPT)
            limit += line_extra[i].rcpt;
    }
    return limit;
}

size_t smtp_cmd_line_limit(const smtp_parse_opts_t *opts)
{
    static const smtp_parse_opts_t none;
    size_t m, r;

    if (opts == NULL)
        opts = &none;
    m = line_limit(opts, SMTP_VERB_MAIL);
    r = line_limit(opts, SMTP_VERB_RCPT);
    return m > r ? m : r;
}

int smtp_cmd_parse(const char *line, size_t len, const smtp_parse_opts_t *opts,
                   smtp_cmd_t *out, smtp_reply_t *err)
{
    static const smtp_parse_opts_t none;
    size_t vlen = 0, i, k;

    memset(out, 0, sizeof(*out));
    memset(err, 0, sizeof(*err));
    out->arg.p = line;
    out->arg.len = len;
    if (opts == NULL)
        opts = &none;
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)line[i];

        if (c < 0x20 || c == 0x7f) {
            smtp_reply_set(err, 500, "5.5.2", "Error: bad syntax");
            return -1;
        }
    }
    /* As Postfix with SMTPUTF8 on: a line that is not UTF-8 is refused
     * as a whole before anything looks at its words. */
    if ((opts->ext & SMTP_EXT_SMTPUTF8) && !utf8_valid(line, len)) {
        smtp_reply_set(err, 500, "5.5.2", "Error: bad UTF-8 syntax");
        return -1;
    }
    while (vlen < len && line[vlen] != ' ')
        vlen++;
    for (k = 0; k < NELEMS(verb_defs); k++)
        if (vlen == strlen(verb_defs[k].name) &&
            strncasecmp(line, verb_defs[k].name, vlen) == 0)
            break;
    if (len + 2 > line_limit(opts, k < NELEMS(verb_defs) ? verb_defs[k].verb
                                                         : SMTP_VERB_UNKNOWN)) {
        smtp_reply_line_too_long(err);
        return -1;
    }
    if (len == 0) {
        smtp_reply_set(err, 500, "5.5.2", "Error: bad syntax");
        return -1;
    }
    if (k == NELEMS(verb_defs)) {
        smtp_reply_set(err, 500, "5.5.2", "Error: command not recognized");
        return -1;
    }
    out->verb = verb_defs[k].verb;
    for (i = vlen; i < len && line[i] == ' '; i++)
        ;
    while (len > i && line[len - 1] == ' ')
        len--;
    out->arg.p = line + i;
    out->arg.len = len - i;
    if ((verb_defs[k].arg == ARG_NONE && out->arg.len > 0) ||
        (verb_defs[k].arg == ARG_REQUIRED && out->arg.len == 0)) {
        smtp_reply_set(err, 501, "5.5.4", verb_defs[k].syntax);
        return -1;
    }
    if (verb_defs[k].fn != NULL)
        return verb_defs[k].fn(out, opts, err);
    return 0;
}
