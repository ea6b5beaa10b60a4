/*
 * smtp_dsn.c - RFC 3464 delivery status notifications (see smtp_dsn.h).
 *
 * Plain text on purpose: the report's structure is fixed (three parts
 * under one boundary), its fields are ours, and the returned message is
 * copied as it is; a MIME library would add nothing but the chance to
 * re-encode the original.  Every line written is checked against the 998
 * octet limit as it is built.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "smtp_dsn.h"
#include "smtp_mime.h"

#define DSN_FULL_MAX_DEFAULT 50000
#define DSN_DIAG_MAX 2000
/* Folded fields and wrapped text stay under this many columns where they
 * can (a word longer than the line is split hard). */
#define DSN_FOLD 76

typedef struct {
    char *p;
    size_t len, cap;
} dsn_buf_t;

static void put(dsn_buf_t *b, const char *s, size_t n)
{
    loom_append(&b->p, &b->len, &b->cap, s, n, 0);
}

static void puts_(dsn_buf_t *b, const char *s)
{
    put(b, s, strlen(s));
}

static void putf(dsn_buf_t *b, const char *fmt, ...) LOOM_PRINTF(2, 3);
static void putf(dsn_buf_t *b, const char *fmt, ...)
{
    char tmp[1024];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof(tmp)) {
        put(b, tmp, (size_t)n);
        return;
    }
    {
        char *big = loom_malloc((size_t)n + 1);

        va_start(ap, fmt);
        vsnprintf(big, (size_t)n + 1, fmt, ap);
        va_end(ap);
        put(b, big, (size_t)n);
        free(big);
    }
}

/* A heap copy of S with control characters as spaces, at most MAX bytes
 * (not cutting a UTF-8 sequence). */
static char *clean(const char *s, size_t max)
{
    size_t n = strlen(s);
    char *out;

    if (n > max) {
        n = max;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
    }
    out = loom_strndup(s, n);
    for (char *p = out; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7F)
            *p = ' ';
    return out;
}

/* Write TEXT on the line whose first COL columns are written already,
 * breaking at spaces before DSN_FOLD columns; continuation lines start
 * with INDENT.  A word too long for a line is split after 900 bytes (the
 * only way to keep under 998; unfolding then shows a space there).  Ends
 * the line. */
static void wrap(dsn_buf_t *b, size_t col, const char *text, const char *indent)
{
    const char *p = text;

    while (*p) {
        size_t left = strlen(p), room = col < DSN_FOLD ? DSN_FOLD - col : 1;
        size_t n;

        if (left <= room) {
            puts_(b, p);
            break;
        }
        /* the last space within room, else the first after it, else all */
        n = room;
        while (n > 0 && p[n] != ' ')
            n--;
        if (n == 0) {
            const char *sp = strchr(p + room, ' ');

            n = sp ? (size_t)(sp - p) : left;
            if (n > 900) /* one very long word: split it hard */
                n = 900;
        }
        put(b, p, n);
        p += n;
        while (*p == ' ')
            p++;
        if (*p == '\0')
            break;
        puts_(b, "\r\n");
        puts_(b, indent);
        col = strlen(indent);
    }
    puts_(b, "\r\n");
}

static void field(dsn_buf_t *b, const char *name, const char *value)
{
    size_t col = strlen(name) + 2;

    puts_(b, name);
    puts_(b, ": ");
    wrap(b, col, value, " ");
}

static void date_field(dsn_buf_t *b, const char *name, time_t t)
{
    char d[64];

    field(b, name, smtp_mime_rfc5322_date(t, d, sizeof(d)));
}

static int status_ok(const char *s)
{
    int n1 = 0, n2 = 0, n3 = 0, end = 0;

    if (s == NULL || (s[0] != '2' && s[0] != '4' && s[0] != '5') ||
        sscanf(s, "%1d.%3d.%3d%n", &n1, &n2, &n3, &end) != 3 || s[end] != '\0')
        return 0;
    for (const char *p = s; *p; p++)
        if (*p != '.' && (*p < '0' || *p > '9'))
            return 0;
    return 1;
}

static int has_ctl(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7F)
            return 1;
    return 0;
}

static void random_hex(char *out, size_t nbytes)
{
    unsigned char r[32];
    static const char hex[] = "0123456789abcdef";

    if (nbytes > sizeof(r))
        nbytes = sizeof(r);
    if (getrandom(r, nbytes, 0) != (ssize_t)nbytes) {
        /* no entropy to be had: time, pid and an address still differ */
        unsigned long x = (unsigned long)time(NULL) ^
                          ((unsigned long)getpid() << 16) ^
                          (unsigned long)(uintptr_t)out;

        for (size_t i = 0; i < nbytes; i++) {
            x = x * 6364136223846793005UL + 1442695040888963407UL;
            r[i] = (unsigned char)(x >> 56);
        }
    }
    for (size_t i = 0; i < nbytes; i++) {
        out[2 * i] = hex[r[i] >> 4];
        out[2 * i + 1] = hex[r[i] & 15];
    }
    out[2 * nbytes] = '\0';
}

/* The longest line of P (LEN bytes, line ends LF or CRLF), not counting
 * the line end. */
static size_t longest_line(const char *p, size_t len)
{
    size_t best = 0, cur = 0;

    for (size_t i = 0; i < len; i++) {
        if (p[i] == '\n') {
            if (cur > 0 && p[i - 1] == '\r')
                cur--;
            if (cur > best)
                best = cur;
            cur = 0;
        } else {
            cur++;
        }
    }
    return cur > best ? cur : best;
}

/* The header of the message: up to and including the line end before the
 * first empty line (the whole message when there is none). */
static size_t header_len(const char *p, size_t len)
{
    for (size_t i = 0; i + 1 < len; i++) {
        if (p[i] != '\n')
            continue;
        if (p[i + 1] == '\n')
            return i + 1;
        if (p[i + 1] == '\r' && i + 2 < len && p[i + 2] == '\n')
            return i + 1;
    }
    return len;
}

/* Copy P (LEN bytes) with every line end made CRLF (a lone CR or LF
 * too), ending with CRLF. */
static void put_crlf(dsn_buf_t *b, const char *p, size_t len)
{
    size_t start = 0;

    for (size_t i = 0; i < len; i++) {
        if (p[i] != '\r' && p[i] != '\n')
            continue;
        put(b, p + start, i - start);
        puts_(b, "\r\n");
        if (p[i] == '\r' && i + 1 < len && p[i + 1] == '\n')
            i++;
        start = i + 1;
    }
    if (start < len) {
        put(b, p + start, len - start);
        puts_(b, "\r\n");
    }
}

static const char *action_name(smtp_dsn_action_t a)
{
    static const char *names[] = {
        [SMTP_DSN_FAILED] = "failed",       [SMTP_DSN_DELAYED] = "delayed",
        [SMTP_DSN_DELIVERED] = "delivered", [SMTP_DSN_RELAYED] = "relayed",
        [SMTP_DSN_EXPANDED] = "expanded",
    };

    return (unsigned)a < LOOM_ARRAY_LEN(names) ? names[a] : NULL;
}

static void set_err(char *err, size_t errlen, const char *msg)
{
    if (errlen > 0)
        snprintf(err, errlen, "%s", msg);
}

static const char *check(const smtp_dsn_in_t *in)
{
    if (in->sender == NULL || in->sender[0] == '\0')
        return "the null sender gets no reports";
    if (has_ctl(in->sender))
        return "control characters in the sender";
    if (strlen(in->sender) > 512)
        return "a sender longer than any path";
    if (in->reporting_mta == NULL || in->reporting_mta[0] == '\0' ||
        strlen(in->reporting_mta) > 255 || has_ctl(in->reporting_mta) ||
        strchr(in->reporting_mta, ' ') || strchr(in->reporting_mta, '>'))
        return "no usable reporting MTA name";
    if (in->arrival <= 0)
        return "no arrival date";
    if (in->rcpts == NULL || in->nrcpts == 0)
        return "no recipients to report on";
    for (size_t i = 0; i < in->nrcpts; i++) {
        const smtp_dsn_rcpt_t *r = &in->rcpts[i];

        if (r->final_recipient == NULL || r->final_recipient[0] == '\0')
            return "a recipient without a final recipient address";
        if (!status_ok(r->status))
            return "a status that is not class.subject.detail";
        if (action_name(r->action) == NULL)
            return "an unknown action";
    }
    return NULL;
}

/* The human-readable part. */
static void human_part(dsn_buf_t *b, const smtp_dsn_in_t *in, int any_failed,
                       int any_delayed, const char *returned)
{
    putf(b, "This is the mail system at %s.\r\n\r\n", in->reporting_mta);
    if (any_failed)
        wrap(b, 0,
             "Your message could not be delivered to one or more of its "
             "recipients; this is a permanent error, the mail system will "
             "not try again for them.",
             "");
    else if (any_delayed)
        wrap(b, 0,
             "Your message has not been delivered yet to one or more of "
             "its recipients. The mail system is still trying; you need "
             "not send it again. You will be told if it finally fails.",
             "");
    else
        wrap(b, 0,
             "Your message was delivered as you asked to be told for the "
             "recipients below.",
             "");
    puts_(b, "\r\n");
    for (size_t i = 0; i < in->nrcpts; i++) {
        const smtp_dsn_rcpt_t *r = &in->rcpts[i];
        char *rcpt = clean(r->final_recipient, 512);
        char *line;
        size_t n;

        if (r->diagnostic != NULL) {
            char *d = clean(r->diagnostic, DSN_DIAG_MAX);

            n = strlen(rcpt) + strlen(d) + 512;
            line = loom_malloc(n);
            if (r->remote_mta != NULL) {
                char *h = clean(r->remote_mta, 255);

                snprintf(line, n, "<%s> (%s): host %s said: %s", rcpt,
                         action_name(r->action), h, d);
                free(h);
            } else {
                snprintf(line, n, "<%s> (%s): %s", rcpt, action_name(r->action),
                         d);
            }
            free(d);
        } else {
            n = strlen(rcpt) + 64;
            line = loom_malloc(n);
            snprintf(line, n, "<%s> (%s): status %s", rcpt,
                     action_name(r->action), r->status);
        }
        wrap(b, 0, line, "    ");
        puts_(b, "\r\n");
        free(line);
        free(rcpt);
    }
    if (returned != NULL)
        wrap(b, 0, returned, "");
}

static void status_part(dsn_buf_t *b, const smtp_dsn_in_t *in)
{
    char *s;

    s = clean(in->reporting_mta, 255);
    putf(b, "Reporting-MTA: dns; %s\r\n", s);
    free(s);
    if (in->envid != NULL) {
        s = clean(in->envid, 200);
        field(b, "Original-Envelope-Id", s);
        free(s);
    }
    if (in->received_from != NULL) {
        s = clean(in->received_from, 255);
        putf(b, "Received-From-MTA: dns; %s\r\n", s);
        free(s);
    }
    date_field(b, "Arrival-Date", in->arrival);
    for (size_t i = 0; i < in->nrcpts; i++) {
        const smtp_dsn_rcpt_t *r = &in->rcpts[i];

        puts_(b, "\r\n");
        if (r->orcpt != NULL) {
            s = clean(r->orcpt, 600);
            /* "type;address": the type is there already */
            field(b, "Original-Recipient", s);
            free(s);
        }
        s = clean(r->final_recipient, 600);
        putf(b, "Final-Recipient: rfc822; %s\r\n", s);
        free(s);
        putf(b, "Action: %s\r\n", action_name(r->action));
        putf(b, "Status: %s\r\n", r->status);
        if (r->remote_mta != NULL) {
            s = clean(r->remote_mta, 255);
            putf(b, "Remote-MTA: dns; %s\r\n", s);
            free(s);
        }
        if (r->diagnostic != NULL) {
            char *d = clean(r->diagnostic, DSN_DIAG_MAX);
            size_t n = strlen(d) + 8;

            s = loom_malloc(n);
            snprintf(s, n, "smtp; %s", d);
            field(b, "Diagnostic-Code", s);
            free(s);
            free(d);
        }
        if (r->last_attempt > 0)
            date_field(b, "Last-Attempt-Date", r->last_attempt);
        if (r->action == SMTP_DSN_DELAYED && r->will_retry_until > 0)
            date_field(b, "Will-Retry-Until", r->will_retry_until);
    }
}

int smtp_dsn_compose(const smtp_dsn_in_t *in, smtp_dsn_out_t *out, char *err,
                     size_t errlen)
{
    const char *why = check(in);
    dsn_buf_t b = {0};
    char boundary[64], rnd[40], id[512], date[64];
    size_t full_max = in->full_max ? in->full_max : DSN_FULL_MAX_DEFAULT;
    int any_failed = 0, any_delayed = 0, full = 0, hdrs = 0;
    const char *returned = NULL;
    size_t hlen = 0;

    memset(out, 0, sizeof(*out));
    if (why != NULL) {
        set_err(err, errlen, why);
        return LOOM_ERROR;
    }
    for (size_t i = 0; i < in->nrcpts; i++) {
        any_failed |= in->rcpts[i].action == SMTP_DSN_FAILED;
        any_delayed |= in->rcpts[i].action == SMTP_DSN_DELAYED;
    }

    /* What of the original comes back. */
    if (in->msg != NULL && in->msg_len > 0) {
        hlen = header_len(in->msg, in->msg_len);
        full = in->ret != SMTP_DSN_RET_HDRS && in->msg_len <= full_max &&
               longest_line(in->msg, in->msg_len) <= 998;
        hdrs = !full && longest_line(in->msg, hlen) <= 998;
        if (full)
            returned = "The message is attached below.";
        else if (hdrs && in->ret == SMTP_DSN_RET_HDRS)
            returned = "The header of the message is attached below.";
        else if (hdrs)
            returned = "The message was too large to return whole; its "
                       "header is attached below.";
    }

    /* A boundary the returned bytes do not hold. */
    do {
        random_hex(rnd, 12);
        snprintf(boundary, sizeof(boundary), "=_loom-dsn_%s", rnd);
    } while (in->msg != NULL && in->msg_len > 0 &&
             memmem(in->msg, in->msg_len, boundary, strlen(boundary)));
    random_hex(rnd, 8);
    snprintf(id, sizeof(id), "dsn.%lld.%s@%s", (long long)in->now, rnd,
             in->reporting_mta);

    putf(&b, "From: MAILER-DAEMON@%s (Mail Delivery System)\r\n",
         in->reporting_mta);
    putf(&b, "To: <%s>\r\n", in->sender);
    putf(&b, "Subject: %s\r\n",
         any_failed    ? "Undelivered Mail Returned to Sender"
         : any_delayed ? "Delayed Mail (still being retried)"
                       : "Successful Mail Delivery Report");
    putf(&b, "Date: %s\r\n",
         smtp_mime_rfc5322_date(in->now, date, sizeof(date)));
    putf(&b, "Message-ID: <%s>\r\n", id);
    puts_(&b, "Auto-Submitted: auto-replied\r\n");
    puts_(&b, "MIME-Version: 1.0\r\n");
    putf(&b,
         "Content-Type: multipart/report; report-type=delivery-status;\r\n"
         "\tboundary=\"%s\"\r\n",
         boundary);
    puts_(&b, "\r\nThis is a MIME-encapsulated message.\r\n\r\n");

    putf(&b, "--%s\r\n", boundary);
    puts_(&b, "Content-Description: Notification\r\n");
    puts_(&b, "Content-Type: text/plain; charset=utf-8\r\n");
    {
        dsn_buf_t h = {0};
        int eight = 0;

        human_part(&h, in, any_failed, any_delayed, returned);
        for (size_t i = 0; i < h.len && !eight; i++)
            eight = (unsigned char)h.p[i] >= 0x80;
        if (eight) /* an SMTPUTF8 address */
            puts_(&b, "Content-Transfer-Encoding: 8bit\r\n");
        puts_(&b, "\r\n");
        put(&b, h.p, h.len);
        free(h.p);
    }

    putf(&b, "\r\n--%s\r\n", boundary);
    puts_(&b, "Content-Description: Delivery report\r\n");
    puts_(&b, "Content-Type: message/delivery-status\r\n\r\n");
    status_part(&b, in);

    if (full || hdrs) {
        size_t n = full ? in->msg_len : hlen;
        int eight = 0;

        for (size_t i = 0; i < n && !eight; i++)
            eight = (unsigned char)in->msg[i] >= 0x80;
        putf(&b, "\r\n--%s\r\n", boundary);
        putf(&b, "Content-Description: %s\r\n",
             full ? "Undelivered Message" : "Undelivered Message Headers");
        putf(&b, "Content-Type: %s\r\n",
             full ? "message/rfc822" : "text/rfc822-headers");
        if (eight)
            puts_(&b, "Content-Transfer-Encoding: 8bit\r\n");
        puts_(&b, "\r\n");
        put_crlf(&b, in->msg, n);
    }
    putf(&b, "\r\n--%s--\r\n", boundary);

    for (size_t i = 0; i < b.len; i++)
        out->eightbit |= (unsigned char)b.p[i] >= 0x80;
    out->data = b.p;
    out->len = b.len;
    out->rcpt = loom_strdup(in->sender);
    out->message_id = loom_strdup(id);
    return LOOM_OK;
}

void smtp_dsn_free(smtp_dsn_out_t *out)
{
    if (out == NULL)
        return;
    free(out->data);
    free(out->rcpt);
    free(out->message_id);
    memset(out, 0, sizeof(*out));
}

int smtp_dsn_wanted(int notify, smtp_dsn_action_t action)
{
    if (notify & SMTP_DSN_NOTIFY_NEVER)
        return 0;
    if (notify == SMTP_DSN_NOTIFY_DEFAULT)
        return action == SMTP_DSN_FAILED || action == SMTP_DSN_DELAYED;
    switch (action) {
    case SMTP_DSN_FAILED:
        return (notify & SMTP_DSN_NOTIFY_FAILURE) != 0;
    case SMTP_DSN_DELAYED:
        return (notify & SMTP_DSN_NOTIFY_DELAY) != 0;
    default:
        return (notify & SMTP_DSN_NOTIFY_SUCCESS) != 0;
    }
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

char *smtp_dsn_xtext_decode(const char *in, size_t len)
{
    char *out = loom_malloc(len + 1);
    size_t o = 0;

    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];

        if (c == '+') {
            int hi = i + 2 < len ? hexval(in[i + 1]) : -1;
            int lo = i + 2 < len ? hexval(in[i + 2]) : -1;

            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
                free(out);
                return NULL;
            }
            out[o++] = (char)(hi * 16 + lo);
            i += 2;
        } else if (c < 33 || c > 126 || c == '=') {
            free(out);
            return NULL;
        } else {
            out[o++] = (char)c;
        }
    }
    out[o] = '\0';
    return out;
}
