/*
 * smtp_client.c - the SMTP client protocol, sans I/O (see smtp_client.h).
 *
 * The session walks greeting -> EHLO (HELO when EHLO gets 5xx) ->
 * STARTTLS -> EHLO again -> AUTH -> transactions -> QUIT.  A transaction
 * is a list of commands (RSET when the last one did not end cleanly,
 * MAIL, one RCPT per recipient, DATA); with PIPELINING they all go out
 * at once and the replies are matched in order (RFC 2920), else one at
 * a time, stopping early when MAIL failed or no recipient was accepted.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtp_client.h"

/* ---- replies ------------------------------------------------------------- */

static int reply_digits_ok(const char *p)
{
    return p[0] >= '2' && p[0] <= '5' && p[1] >= '0' && p[1] <= '5' &&
           p[2] >= '0' && p[2] <= '9';
}

/* Take "X.Y.Z" (X the code's class, Y and Z 1-3 digits) followed by SP or
 * the end off the front of S into ESC. */
static void reply_esc(int code, loom_slice_t *s, char *esc, size_t esclen)
{
    const char *p = s->p, *end = s->p + s->len;
    size_t part, n;

    esc[0] = '\0';
    if (s->len < 5 || p[0] != '0' + code / 100 || p[1] != '.')
        return;
    p += 2;
    for (part = 0; part < 2; part++) {
        for (n = 0; p < end && *p >= '0' && *p <= '9' && n < 4; p++)
            n++;
        if (n == 0 || n > 3)
            return;
        if (part == 0) {
            if (p >= end || *p != '.')
                return;
            p++;
        }
    }
    if (p < end && *p != ' ')
        return;
    n = (size_t)(p - s->p);
    if (n >= esclen)
        return;
    memcpy(esc, s->p, n);
    esc[n] = '\0';
    if (p < end)
        p++;
    s->len -= (size_t)(p - s->p);
    s->p = p;
}

int smtp_reply_parse(const char *buf, size_t len, smtp_reply_t *r)
{
    size_t pos = 0;
    int code = 0;

    r->nlines = 0;
    r->esc[0] = '\0';
    for (;;) {
        size_t avail = len - pos, scan, i, end;
        const char *line = buf + pos, *nl;
        int last;

        if (r->nlines == SMTP_REPLY_MAX_LINES)
            return SMTP_REPLY_ERROR;
        scan = avail < SMTP_REPLY_MAX_LINE ? avail : SMTP_REPLY_MAX_LINE;
        nl = memchr(line, '\n', scan);
        /* what of the line is here must look like a reply line */
        for (i = 0; i < scan && i < 3 && line + i != nl; i++)
            if (line[i] < '0' || line[i] > '9')
                return SMTP_REPLY_ERROR;
        if (nl == NULL) {
            if (scan >= 4 && line[3] != ' ' && line[3] != '-' &&
                line[3] != '\r')
                return SMTP_REPLY_ERROR;
            if (avail >= SMTP_REPLY_MAX_LINE ||
                pos + avail >= SMTP_REPLY_MAX_BYTES)
                return SMTP_REPLY_ERROR;
            for (i = 0; i < avail; i++)
                if (line[i] == '\0' || (line[i] == '\r' && i + 1 < avail))
                    return SMTP_REPLY_ERROR;
            return SMTP_REPLY_PARTIAL;
        }
        end = (size_t)(nl - line);
        if (end > 0 && line[end - 1] == '\r')
            end--;
        for (i = 0; i < end; i++)
            if (line[i] == '\0' || line[i] == '\r')
                return SMTP_REPLY_ERROR;
        if (end < 3 || !reply_digits_ok(line) ||
            (end > 3 && line[3] != ' ' && line[3] != '-'))
            return SMTP_REPLY_ERROR;
        if (r->nlines == 0)
            code =
                (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
        else if (memcmp(line, buf, 3) != 0)
            return SMTP_REPLY_ERROR;
        last = end == 3 || line[3] == ' ';
        r->line[r->nlines].p = end > 4 ? line + 4 : line + end;
        r->line[r->nlines].len = end > 4 ? end - 4 : 0;
        r->nlines++;
        pos += (size_t)(nl - line) + 1;
        if (pos > SMTP_REPLY_MAX_BYTES)
            return SMTP_REPLY_ERROR;
        if (last)
            break;
    }
    r->code = code;
    reply_esc(code, &r->line[0], r->esc, sizeof(r->esc));
    return (int)pos;
}

/* ---- the client ---------------------------------------------------------- */

typedef enum {
    ST_GREETING = 0,
    ST_EHLO,
    ST_HELO,
    ST_STARTTLS,
    ST_TLS,       /* the caller is doing the handshake */
    ST_AUTH,      /* AUTH PLAIN / AUTH LOGIN sent */
    ST_AUTH_USER, /* AUTH LOGIN: the user name sent */
    ST_AUTH_PASS, /* AUTH LOGIN: the password sent */
    ST_READY,     /* no transaction running */
    ST_TXN,       /* commands out, replies awaited */
    ST_BODY,      /* the caller sends the body */
    ST_DOT,       /* "." sent */
    ST_QUIT,      /* QUIT sent */
    ST_END,       /* QUIT answered, or the connection gone */
    ST_FAILED
} cl_state_t;

/* A command of a transaction whose reply is awaited. */
enum { CMD_RSET = 0, CMD_MAIL, CMD_RCPT, CMD_DATA };

struct smtp_client_s {
    smtp_client_opts_t opts;
    cl_state_t state;
    smtp_caps_t caps;
    int tls;
    int event; /* an event to report from the next feed, or -1 */
    smtp_client_failure_t fail;

    smtp_client_txn_t *txn;
    int need_rset;   /* the last transaction did not end with "." */
    int mail_failed; /* MAIL got no 2xx: the rest is ignored */
    int dot_ignored; /* "." sent only to end an empty DATA */
    size_t ncmd;     /* commands of the transaction */
    size_t issued;   /* of them sent */
    size_t answered; /* of them answered */
    int has_rset;    /* command 0 is RSET */

    char *out;
    size_t outlen, outcap;
};

static void cl_write(smtp_client_t *cl, const char *s, size_t n)
{
    loom_append(&cl->out, &cl->outlen, &cl->outcap, s, n, 0);
}

static void cl_puts(smtp_client_t *cl, const char *s)
{
    cl_write(cl, s, strlen(s));
}

/* Keep reply R as a recipient's or a failure's: text lines joined by a
 * space, bytes outside printable ASCII as '?'. */
static void keep_reply(smtp_client_reply_t *k, const smtp_reply_t *r)
{
    size_t i, j, n = 0;

    k->code = r->code;
    snprintf(k->esc, sizeof(k->esc), "%s", r->esc);
    for (i = 0; i < r->nlines; i++) {
        if (i > 0 && n + 1 < sizeof(k->text))
            k->text[n++] = ' ';
        for (j = 0; j < r->line[i].len && n + 1 < sizeof(k->text); j++) {
            unsigned char c = (unsigned char)r->line[i].p[j];

            k->text[n++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
        }
    }
    k->text[n] = '\0';
}

static void local_reply(smtp_client_reply_t *k, const char *esc,
                        const char *text)
{
    k->code = 0;
    snprintf(k->esc, sizeof(k->esc), "%s", esc);
    snprintf(k->text, sizeof(k->text), "%s", text);
}

/* Fail the session at STAGE with reply R (or a local ESC + TEXT when R is
 * NULL); QUIT is queued when the server is still talking (QUIT_OK). */
static int cl_fail(smtp_client_t *cl, int stage, const smtp_reply_t *r,
                   int permanent, const char *esc, const char *text,
                   int quit_ok)
{
    cl->fail.stage = stage;
    cl->fail.permanent = permanent;
    if (r != NULL)
        keep_reply(&cl->fail.reply, r);
    else
        local_reply(&cl->fail.reply, esc, text);
    if (quit_ok && (r == NULL || r->code != 421))
        cl_puts(cl, "QUIT\r\n");
    cl->state = ST_FAILED;
    return SMTP_CLI_FAIL;
}

smtp_client_t *smtp_client_new(const smtp_client_opts_t *opts)
{
    smtp_client_t *cl = loom_calloc(1, sizeof(*cl));

    cl->opts = *opts;
    cl->tls = opts->tls_active;
    cl->state = ST_GREETING;
    cl->event = -1;
    return cl;
}

void smtp_client_free(smtp_client_t *cl)
{
    if (cl == NULL)
        return;
    free(cl->out);
    free(cl);
}

const char *smtp_client_out(smtp_client_t *cl, size_t *len)
{
    *len = cl->outlen;
    return cl->out;
}

void smtp_client_out_clear(smtp_client_t *cl)
{
    cl->outlen = 0;
}

const smtp_client_failure_t *smtp_client_failure(const smtp_client_t *cl)
{
    return cl->state == ST_FAILED ? &cl->fail : NULL;
}

const smtp_caps_t *smtp_client_caps(const smtp_client_t *cl)
{
    return &cl->caps;
}

int smtp_client_is_tls(const smtp_client_t *cl)
{
    return cl->tls;
}

/* ---- capabilities -------------------------------------------------------- */

static int word_is(loom_slice_t s, size_t *pos, const char *w)
{
    size_t n = strlen(w), i;

    if (s.len - *pos < n)
        return 0;
    for (i = 0; i < n; i++) {
        char c = s.p[*pos + i];

        if (c >= 'a' && c <= 'z')
            c = (char)(c - 'a' + 'A');
        if (c != w[i])
            return 0;
    }
    if (*pos + n < s.len && s.p[*pos + n] != ' ' && s.p[*pos + n] != '=')
        return 0;
    *pos += n;
    return 1;
}

static void caps_parse(smtp_caps_t *c, const smtp_reply_t *r)
{
    size_t i;

    memset(c, 0, sizeof(*c));
    c->esmtp = 1;
    /* the first line is the server's greeting name, not an extension */
    for (i = 1; i < r->nlines; i++) {
        loom_slice_t s = r->line[i];
        size_t pos = 0;

        if (word_is(s, &pos, "PIPELINING"))
            c->pipelining = 1;
        else if (word_is(s, &pos, "STARTTLS"))
            c->starttls = 1;
        else if (word_is(s, &pos, "8BITMIME"))
            c->eightbit = 1;
        else if (word_is(s, &pos, "SMTPUTF8"))
            c->smtputf8 = 1;
        else if (word_is(s, &pos, "DSN"))
            c->dsn = 1;
        else if (word_is(s, &pos, "ENHANCEDSTATUSCODES"))
            c->enhanced = 1;
        else if (word_is(s, &pos, "CHUNKING"))
            c->chunking = 1;
        else if (word_is(s, &pos, "SIZE")) {
            uint64_t v = 0;

            while (pos < s.len && s.p[pos] == ' ')
                pos++;
            for (; pos < s.len && s.p[pos] >= '0' && s.p[pos] <= '9'; pos++)
                if (v < UINT64_MAX / 10 - 10)
                    v = v * 10 + (uint64_t)(s.p[pos] - '0');
            c->size_ext = 1;
            c->size = v;
        } else if (word_is(s, &pos, "AUTH")) {
            while (pos < s.len) {
                while (pos < s.len && (s.p[pos] == ' ' || s.p[pos] == '='))
                    pos++;
                if (word_is(s, &pos, "PLAIN"))
                    c->auth_plain = 1;
                else if (word_is(s, &pos, "LOGIN"))
                    c->auth_login = 1;
                else
                    while (pos < s.len && s.p[pos] != ' ')
                        pos++;
            }
        }
    }
}

/* ---- the transaction ----------------------------------------------------- */

static void txn_set_all(smtp_client_t *cl, int from, int to,
                        const smtp_client_reply_t *k)
{
    size_t i;

    for (i = 0; i < cl->txn->nrcpt; i++) {
        smtp_client_rcpt_t *rc = &cl->txn->rcpt[i];

        if (rc->status == from) {
            rc->status = to;
            rc->reply = *k;
        }
    }
}

static size_t txn_accepted(const smtp_client_t *cl)
{
    size_t i, n = 0;

    for (i = 0; i < cl->txn->nrcpt; i++)
        n += cl->txn->rcpt[i].status == SMTP_CLI_RCPT_ACCEPTED;
    return n;
}

/* The command at index I of the transaction, and its recipient. */
static int txn_cmd(const smtp_client_t *cl, size_t i, size_t *rcpt)
{
    if (cl->has_rset) {
        if (i == 0)
            return CMD_RSET;
        i--;
    }
    if (i == 0)
        return CMD_MAIL;
    if (i <= cl->txn->nrcpt) {
        *rcpt = i - 1;
        return CMD_RCPT;
    }
    return CMD_DATA;
}

/* Append a parameter " NAME=VALUE" when VALUE is set. */
static void cl_param(smtp_client_t *cl, const char *name, const char *value)
{
    if (value == NULL || value[0] == '\0')
        return;
    cl_puts(cl, " ");
    cl_puts(cl, name);
    cl_puts(cl, "=");
    cl_puts(cl, value);
}

static void txn_issue(smtp_client_t *cl, size_t i)
{
    smtp_client_txn_t *t = cl->txn;
    size_t r = 0;
    char num[32];

    switch (txn_cmd(cl, i, &r)) {
    case CMD_RSET:
        cl_puts(cl, "RSET\r\n");
        break;
    case CMD_MAIL:
        cl_puts(cl, "MAIL FROM:<");
        cl_puts(cl, t->sender);
        cl_puts(cl, ">");
        if (cl->caps.size_ext && t->size > 0) {
            snprintf(num, sizeof(num), "%llu", (unsigned long long)t->size);
            cl_param(cl, "SIZE", num);
        }
        if (t->body_8bit && cl->caps.eightbit)
            cl_puts(cl, " BODY=8BITMIME");
        if (t->smtputf8 && cl->caps.smtputf8)
            cl_puts(cl, " SMTPUTF8");
        if (cl->caps.dsn) {
            cl_param(cl, "RET", t->ret);
            cl_param(cl, "ENVID", t->envid);
        }
        cl_puts(cl, "\r\n");
        break;
    case CMD_RCPT:
        cl_puts(cl, "RCPT TO:<");
        cl_puts(cl, t->rcpt[r].addr);
        cl_puts(cl, ">");
        if (cl->caps.dsn) {
            cl_param(cl, "NOTIFY", t->rcpt[r].notify);
            cl_param(cl, "ORCPT", t->rcpt[r].orcpt);
        }
        cl_puts(cl, "\r\n");
        break;
    default:
        cl_puts(cl, "DATA\r\n");
        break;
    }
    cl->issued = i + 1;
}

/* The transaction ends: DONE, with a RSET before the next one unless it
 * ended with the reply to ".". */
static int txn_done(smtp_client_t *cl, int clean)
{
    smtp_client_reply_t k;

    local_reply(&k, "4.4.2", "the transaction ended without a reply");
    txn_set_all(cl, SMTP_CLI_RCPT_ACCEPTED, SMTP_CLI_RCPT_TEMPFAIL, &k);
    txn_set_all(cl, SMTP_CLI_RCPT_PENDING, SMTP_CLI_RCPT_TEMPFAIL, &k);
    cl->need_rset = !clean;
    cl->txn = NULL;
    cl->state = ST_READY;
    return SMTP_CLI_DONE;
}

/* Refuse the whole transaction here, before any command (what the server
 * announced rules it out). */
static int txn_refuse(smtp_client_t *cl, const char *esc, const char *text)
{
    smtp_client_reply_t k;

    local_reply(&k, esc, text);
    txn_set_all(cl, SMTP_CLI_RCPT_PENDING, SMTP_CLI_RCPT_PERMFAIL, &k);
    cl->txn = NULL;
    cl->state = ST_READY;
    return SMTP_CLI_DONE;
}

/* Start the transaction in CL->txn; returns an event or MORE. */
static int txn_begin(smtp_client_t *cl)
{
    smtp_client_txn_t *t = cl->txn;
    char text[SMTP_CLIENT_TEXT];
    size_t i;

    if (cl->caps.size > 0 && t->size > cl->caps.size) {
        snprintf(text, sizeof(text),
                 "message size %llu exceeds size limit %llu of server",
                 (unsigned long long)t->size,
                 (unsigned long long)cl->caps.size);
        return txn_refuse(cl, "5.3.4", text);
    }
    if (t->body_8bit && !cl->caps.eightbit)
        return txn_refuse(cl, "5.6.3",
                          "8-bit message, but the server does not offer "
                          "8BITMIME (no conversion is done)");
    if (t->smtputf8 && !cl->caps.smtputf8)
        return txn_refuse(cl, "5.6.7",
                          "SMTPUTF8 is required, but was not offered");
    cl->state = ST_TXN;
    cl->mail_failed = 0;
    cl->dot_ignored = 0;
    cl->has_rset = cl->need_rset;
    cl->need_rset = 0;
    cl->ncmd = (cl->has_rset ? 1 : 0) + 1 + t->nrcpt + 1;
    cl->issued = cl->answered = 0;
    if (cl->caps.pipelining) {
        for (i = 0; i < cl->ncmd; i++)
            txn_issue(cl, i);
    } else {
        txn_issue(cl, 0);
    }
    return SMTP_CLI_MORE;
}

/* The reply R to the transaction's next command. */
static int txn_reply(smtp_client_t *cl, const smtp_reply_t *r)
{
    smtp_client_txn_t *t = cl->txn;
    size_t rc = 0, i = cl->answered++;
    int cmd = txn_cmd(cl, i, &rc), cls = r->code / 100;
    smtp_client_reply_t k;

    keep_reply(&k, r);
    if (r->code == 421 && cmd != CMD_DATA) {
        /* the server is going away: decided recipients stay decided */
        return cl_fail(cl, cmd == CMD_RCPT ? SMTP_STAGE_RCPT : SMTP_STAGE_MAIL,
                       r, 0, NULL, NULL, 0);
    }
    switch (cmd) {
    case CMD_RSET:
        break;
    case CMD_MAIL:
        if (cls != 2) {
            cl->mail_failed = 1;
            txn_set_all(
                cl, SMTP_CLI_RCPT_PENDING,
                cls == 5 ? SMTP_CLI_RCPT_PERMFAIL : SMTP_CLI_RCPT_TEMPFAIL, &k);
        }
        break;
    case CMD_RCPT:
        if (cl->mail_failed)
            break;
        t->rcpt[rc].reply = k;
        t->rcpt[rc].status = cls == 2   ? SMTP_CLI_RCPT_ACCEPTED
                             : cls == 5 ? SMTP_CLI_RCPT_PERMFAIL
                                        : SMTP_CLI_RCPT_TEMPFAIL;
        break;
    default: /* DATA */
        if (r->code == 354) {
            if (cl->mail_failed || txn_accepted(cl) == 0) {
                /* RFC 2920 section 3.1: end the empty data at once */
                cl_puts(cl, ".\r\n");
                cl->dot_ignored = 1;
                cl->state = ST_DOT;
                return SMTP_CLI_MORE;
            }
            cl->state = ST_BODY;
            return SMTP_CLI_BODY;
        }
        if (!cl->mail_failed)
            txn_set_all(
                cl, SMTP_CLI_RCPT_ACCEPTED,
                cls == 5 ? SMTP_CLI_RCPT_PERMFAIL : SMTP_CLI_RCPT_TEMPFAIL, &k);
        if (r->code == 421)
            return cl_fail(cl, SMTP_STAGE_DATA, r, 0, NULL, NULL, 0);
        return txn_done(cl, 0);
    }
    if (cl->answered < cl->issued)
        return SMTP_CLI_MORE;
    /* not pipelining: the next command, or the end */
    if (cl->mail_failed)
        return txn_done(cl, 0);
    if (cl->issued == cl->ncmd - 1 && txn_accepted(cl) == 0)
        return txn_done(cl, 0);
    txn_issue(cl, cl->issued);
    return SMTP_CLI_MORE;
}

static int dot_reply(smtp_client_t *cl, const smtp_reply_t *r)
{
    smtp_client_reply_t k;
    int cls = r->code / 100;

    if (cl->dot_ignored)
        return txn_done(cl, 1);
    keep_reply(&k, r);
    txn_set_all(cl, SMTP_CLI_RCPT_ACCEPTED,
                cls == 2   ? SMTP_CLI_RCPT_DELIVERED
                : cls == 5 ? SMTP_CLI_RCPT_PERMFAIL
                           : SMTP_CLI_RCPT_TEMPFAIL,
                &k);
    if (r->code == 421) {
        cl->txn = NULL;
        return cl_fail(cl, SMTP_STAGE_DOT, r, 0, NULL, NULL, 0);
    }
    return txn_done(cl, 1);
}

/* ---- the session --------------------------------------------------------- */

static void send_ehlo(smtp_client_t *cl, const char *verb)
{
    cl_puts(cl, verb);
    cl_puts(cl, " ");
    cl_puts(cl, cl->opts.helo);
    cl_puts(cl, "\r\n");
}

static void send_b64(smtp_client_t *cl, const char *prefix,
                     const unsigned char *in, size_t len)
{
    char b64[1400];

    cl_puts(cl, prefix);
    if (smtp_base64(in, len, b64, sizeof(b64)) > 0 || len == 0)
        cl_puts(cl, len ? b64 : "=");
    cl_puts(cl, "\r\n");
}

/* The session is set up as far as TLS and AUTH go: start the transaction
 * if there is one. */
static int session_ready(smtp_client_t *cl)
{
    cl->state = ST_READY;
    if (cl->txn != NULL)
        return txn_begin(cl);
    return SMTP_CLI_MORE;
}

/* After EHLO/HELO: STARTTLS, AUTH, or ready. */
static int session_after_hello(smtp_client_t *cl)
{
    const smtp_client_opts_t *o = &cl->opts;

    if (!cl->tls && o->tls != SMTP_TLS_NONE) {
        if (cl->caps.starttls) {
            cl_puts(cl, "STARTTLS\r\n");
            cl->state = ST_STARTTLS;
            return SMTP_CLI_MORE;
        }
        if (o->tls == SMTP_TLS_MUST)
            return cl_fail(cl, SMTP_STAGE_STARTTLS, NULL, 0, "4.7.10",
                           "TLS is required, but was not offered", 1);
    }
    if (o->auth_user != NULL) {
        unsigned char plain[600];
        size_t ul = strlen(o->auth_user), pl = strlen(o->auth_pass);

        if (!cl->tls && !o->auth_plaintext)
            return cl_fail(cl, SMTP_STAGE_AUTH, NULL, 0, "4.7.10",
                           "AUTH would send the password in plaintext "
                           "(no TLS)",
                           1);
        if (ul > 255 || pl > 255)
            return cl_fail(cl, SMTP_STAGE_AUTH, NULL, 1, "5.7.8",
                           "AUTH user or password too long", 1);
        if (cl->caps.auth_plain) {
            plain[0] = '\0';
            memcpy(plain + 1, o->auth_user, ul);
            plain[1 + ul] = '\0';
            memcpy(plain + 2 + ul, o->auth_pass, pl);
            send_b64(cl, "AUTH PLAIN ", plain, 2 + ul + pl);
        } else if (cl->caps.auth_login) {
            cl_puts(cl, "AUTH LOGIN\r\n");
        } else {
            return cl_fail(cl, SMTP_STAGE_AUTH, NULL, 0, "4.7.0",
                           "the server offers no AUTH PLAIN or LOGIN", 1);
        }
        cl->state = ST_AUTH;
        return SMTP_CLI_MORE;
    }
    return session_ready(cl);
}

static int on_reply(smtp_client_t *cl, const smtp_reply_t *r)
{
    int cls = r->code / 100;
    const smtp_client_opts_t *o = &cl->opts;

    switch (cl->state) {
    case ST_GREETING:
        if (r->code != 220)
            return cl_fail(cl, SMTP_STAGE_GREETING, r, cls == 5, NULL, NULL, 1);
        send_ehlo(cl, "EHLO");
        cl->state = ST_EHLO;
        return SMTP_CLI_MORE;
    case ST_EHLO:
        if (cls == 2) {
            caps_parse(&cl->caps, r);
            return session_after_hello(cl);
        }
        if (cls == 5 && r->code != 554) {
            /* an old server: HELO, without extensions */
            send_ehlo(cl, "HELO");
            cl->state = ST_HELO;
            return SMTP_CLI_MORE;
        }
        return cl_fail(cl, SMTP_STAGE_EHLO, r, cls == 5, NULL, NULL, 1);
    case ST_HELO:
        if (cls != 2)
            return cl_fail(cl, SMTP_STAGE_EHLO, r, cls == 5, NULL, NULL, 1);
        memset(&cl->caps, 0, sizeof(cl->caps));
        return session_after_hello(cl);
    case ST_STARTTLS:
        if (r->code == 220) {
            cl->state = ST_TLS;
            return SMTP_CLI_STARTTLS;
        }
        if (o->tls == SMTP_TLS_MUST || r->code == 421)
            return cl_fail(cl, SMTP_STAGE_STARTTLS, r, 0, NULL, NULL, 1);
        /* opportunistic: go on in plaintext */
        cl->caps.starttls = 0;
        return session_after_hello(cl);
    case ST_AUTH:
        if (r->code == 334 && !cl->caps.auth_plain) {
            send_b64(cl, "", (const unsigned char *)o->auth_user,
                     strlen(o->auth_user));
            cl->state = ST_AUTH_USER;
            return SMTP_CLI_MORE;
        }
        /* FALLTHROUGH */
    case ST_AUTH_PASS:
        if (r->code == 235)
            return session_ready(cl);
        /* a refused login is deferred, not bounced (the configuration is
         * ours to fix): Postfix's smtp_sasl_auth_soft_bounce */
        return cl_fail(cl, SMTP_STAGE_AUTH, r, 0, NULL, NULL, 1);
    case ST_AUTH_USER:
        if (r->code != 334)
            return cl_fail(cl, SMTP_STAGE_AUTH, r, 0, NULL, NULL, 1);
        send_b64(cl, "", (const unsigned char *)o->auth_pass,
                 strlen(o->auth_pass));
        cl->state = ST_AUTH_PASS;
        return SMTP_CLI_MORE;
    case ST_TXN:
        return txn_reply(cl, r);
    case ST_DOT:
        return dot_reply(cl, r);
    case ST_QUIT:
        cl->state = ST_END;
        return SMTP_CLI_DONE;
    default:
        /* a reply nobody asked for (while idle, sending the body, during
         * the handshake) */
        return cl_fail(cl, SMTP_STAGE_PROTOCOL, r, 0, NULL, NULL, 0);
    }
}

int smtp_client_feed(smtp_client_t *cl, const char *buf, size_t len,
                     size_t *used)
{
    *used = 0;
    if (cl->event >= 0) {
        int ev = cl->event;

        cl->event = -1;
        return ev;
    }
    for (;;) {
        smtp_reply_t r;
        int n, ev;

        if (cl->state == ST_FAILED)
            return SMTP_CLI_FAIL;
        if (cl->state == ST_END)
            return SMTP_CLI_DONE;
        if (cl->state == ST_TLS)
            return SMTP_CLI_MORE;
        if (*used == len)
            return SMTP_CLI_MORE;
        n = smtp_reply_parse(buf + *used, len - *used, &r);
        if (n == SMTP_REPLY_PARTIAL)
            return SMTP_CLI_MORE;
        if (n == SMTP_REPLY_ERROR)
            return cl_fail(cl, SMTP_STAGE_PROTOCOL, NULL, 0, "4.5.0",
                           "malformed reply from the server", 0);
        *used += (size_t)n;
        ev = on_reply(cl, &r);
        if (ev != SMTP_CLI_MORE)
            return ev;
    }
}

int smtp_client_start(smtp_client_t *cl, smtp_client_txn_t *txn)
{
    size_t i;

    if (cl->txn != NULL || txn->nrcpt == 0 || cl->state == ST_FAILED ||
        cl->state >= ST_QUIT)
        return LOOM_ERROR;
    for (i = 0; i < txn->nrcpt; i++) {
        txn->rcpt[i].status = SMTP_CLI_RCPT_PENDING;
        memset(&txn->rcpt[i].reply, 0, sizeof(txn->rcpt[i].reply));
    }
    cl->txn = txn;
    if (cl->state == ST_READY) {
        int ev = txn_begin(cl);

        if (ev != SMTP_CLI_MORE)
            cl->event = ev;
    }
    return LOOM_OK;
}

void smtp_client_tls_ready(smtp_client_t *cl)
{
    if (cl->state != ST_TLS)
        return;
    cl->tls = 1;
    memset(&cl->caps, 0, sizeof(cl->caps));
    send_ehlo(cl, "EHLO");
    cl->state = ST_EHLO;
}

void smtp_client_body_end(smtp_client_t *cl)
{
    if (cl->state != ST_BODY)
        return;
    cl_puts(cl, ".\r\n");
    cl->state = ST_DOT;
}

void smtp_client_quit(smtp_client_t *cl)
{
    if (cl->state == ST_FAILED || cl->state >= ST_QUIT)
        return;
    cl_puts(cl, "QUIT\r\n");
    cl->txn = NULL;
    cl->state = ST_QUIT;
}

int smtp_client_lost(smtp_client_t *cl, const char *text)
{
    static const int stage[] = {
        [ST_GREETING] = SMTP_STAGE_GREETING,
        [ST_EHLO] = SMTP_STAGE_EHLO,
        [ST_HELO] = SMTP_STAGE_EHLO,
        [ST_STARTTLS] = SMTP_STAGE_STARTTLS,
        [ST_TLS] = SMTP_STAGE_STARTTLS,
        [ST_AUTH] = SMTP_STAGE_AUTH,
        [ST_AUTH_USER] = SMTP_STAGE_AUTH,
        [ST_AUTH_PASS] = SMTP_STAGE_AUTH,
        [ST_TXN] = SMTP_STAGE_RCPT,
        [ST_BODY] = SMTP_STAGE_DOT,
        [ST_DOT] = SMTP_STAGE_DOT,
    };

    if (cl->state == ST_FAILED || cl->state >= ST_QUIT ||
        (cl->state == ST_READY && cl->txn == NULL)) {
        if (cl->state != ST_FAILED)
            cl->state = ST_END;
        return 0;
    }
    cl_fail(cl, stage[cl->state] ? stage[cl->state] : SMTP_STAGE_PROTOCOL, NULL,
            0, "4.4.2", text, 0);
    return 1;
}

/* ---- the body ------------------------------------------------------------ */

void smtp_stuff_init(smtp_stuff_t *st)
{
    st->at_bol = 1;
    st->cr = 0;
}

size_t smtp_stuff(smtp_stuff_t *st, const char *in, size_t len, char *out,
                  size_t outcap, size_t *used)
{
    size_t i = 0, o = 0;

    /* one input byte writes at most 4 bytes (a pending CR's "\r\n",
     * then "..") */
    while (i < len && o + 4 <= outcap) {
        char c = in[i++];

        if (st->cr) {
            st->cr = 0;
            out[o++] = '\r';
            out[o++] = '\n';
            st->at_bol = 1;
            if (c == '\n')
                continue;
        }
        if (c == '\r') {
            st->cr = 1;
            continue;
        }
        if (c == '\n') {
            out[o++] = '\r';
            out[o++] = '\n';
            st->at_bol = 1;
            continue;
        }
        if (c == '.' && st->at_bol)
            out[o++] = '.';
        out[o++] = c;
        st->at_bol = 0;
    }
    *used = i;
    return o;
}

size_t smtp_stuff_finish(smtp_stuff_t *st, char *out)
{
    if (st->cr || !st->at_bol) {
        st->cr = 0;
        st->at_bol = 1;
        out[0] = '\r';
        out[1] = '\n';
        return 2;
    }
    return 0;
}

/* ---- helpers ------------------------------------------------------------- */

size_t smtp_base64(const unsigned char *in, size_t len, char *out,
                   size_t outcap)
{
    static const char tab[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t need = (len + 2) / 3 * 4, i, o = 0;

    if (need + 1 > outcap)
        return 0;
    for (i = 0; i + 2 < len; i += 3) {
        unsigned v =
            (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];

        out[o++] = tab[v >> 18];
        out[o++] = tab[(v >> 12) & 63];
        out[o++] = tab[(v >> 6) & 63];
        out[o++] = tab[v & 63];
    }
    if (i < len) {
        unsigned v = (unsigned)in[i] << 16;

        if (i + 1 < len)
            v |= (unsigned)in[i + 1] << 8;
        out[o++] = tab[v >> 18];
        out[o++] = tab[(v >> 12) & 63];
        out[o++] = i + 1 < len ? tab[(v >> 6) & 63] : '=';
        out[o++] = '=';
    }
    out[o] = '\0';
    return o;
}

int smtp_has_8bit(const char *buf, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++)
        if ((unsigned char)buf[i] > 0x7f)
            return 1;
    return 0;
}
