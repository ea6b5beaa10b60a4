/*
 * smtp_mime.c - the bus summary of a received message and the send
 * action's composer, on GMime 3 (see smtp_mime.h for the contracts).
 *
 * Threads: GMime's documentation (FAQ "How do I use GMime with threads?")
 * says the charset, iconv and utils functions are thread-safe and GObjects
 * are not; every call here builds its own objects and drops them before
 * returning, so calls may run on several worker threads at once.  Only
 * g_mime_init() (global tables) must come first, from one thread.
 * tests/unit/test_smtp_mime's thread test built with -fsanitize=thread
 * reports only glibc's iconv loading and unloading gconv modules inside
 * the dynamic loader (under ld.so's own lock, which TSan does not see);
 * GMime and GLib themselves are not instrumented.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gmime/gmime.h>

#include "loom_bus.h"
#include "smtp_mime.h"

#define FIELD_MAX SMTP_MIME_FIELD_MAX
/* Decoded bytes read from the text part: enough for any charset to fill
 * SMTP_MIME_TEXT_MAX bytes of UTF-8 (UTF-32 takes 4 bytes a character). */
#define TEXT_READ_MAX (4 * SMTP_MIME_TEXT_MAX)
/* Multipart nesting walked when looking for the text part. */
#define WALK_DEPTH 32

static int mime_initialised;

/* No g_mime_shutdown() at exit: GMime's globals (charset tables, the iconv
 * cache) stay reachable through its static pointers, so LeakSanitizer
 * does not report them (checked: a program that parses a message and
 * exits without the shutdown reports nothing), while freeing them from an
 * atexit handler could pull them from under a worker thread still inside
 * GMime when something calls exit() before the pool is joined. */
int smtp_mime_init(void)
{
    if (mime_initialised)
        return LOOM_OK;
    mime_initialised = 1;
    g_mime_init();
    return LOOM_OK;
}

char *smtp_mime_rfc5322_date(time_t t, char *buf, size_t size)
{
    struct tm tm;

    gmtime_r(&t, &tm);
    if (strftime(buf, size, "%a, %d %b %Y %H:%M:%S +0000", &tm) == 0 &&
        size > 0)
        buf[0] = '\0';
    return buf;
}

/* ---- UTF-8 helpers ------------------------------------------------------ */

/* Length of the longest prefix of P (LEN bytes, valid UTF-8) that is at
 * most MAX bytes and does not end inside a sequence. */
static size_t utf8_cut(const char *p, size_t len, size_t max)
{
    size_t n;

    if (len <= max)
        return len;
    n = max;
    while (n > 0 && ((unsigned char)p[n] & 0xC0) == 0x80)
        n--;
    return n;
}

/* A heap copy of S (LEN bytes): invalid UTF-8 becomes U+FFFD, control
 * characters (folding CR/LF, tabs, NULs) become spaces, runs of spaces
 * collapse, leading/trailing spaces go; at most FIELD_MAX bytes. */
static char *field_clean(const char *s, size_t len)
{
    gchar *valid = g_utf8_make_valid(s, (gssize)len);
    size_t n = strlen(valid), o = 0;
    char *out = loom_malloc(n + 1);

    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)valid[i];

        if (c < 0x20 || c == 0x7F)
            c = ' ';
        if (c == ' ' && (o == 0 || out[o - 1] == ' '))
            continue;
        out[o++] = (char)c;
    }
    while (o > 0 && out[o - 1] == ' ')
        o--;
    o = utf8_cut(out, o, FIELD_MAX);
    out[o] = '\0';
    g_free(valid);
    return out;
}

static char *field_from(const char *s)
{
    return s == NULL ? loom_strdup("") : field_clean(s, strlen(s));
}

/* ---- summary ------------------------------------------------------------ */

/* A GMime stream over IOV without copying the bytes: one memory stream per
 * piece (not owning its array), joined by a cat stream when there are
 * several.  ARRAYS receives the GByteArray wrappers to free afterwards. */
static GMimeStream *stream_over(const struct iovec *iov, int iovcnt,
                                GPtrArray *arrays)
{
    GMimeStream *cat = NULL, *one = NULL;
    static char empty[1];

    for (int i = 0; i < iovcnt; i++) {
        guint8 *p = iov[i].iov_len ? iov[i].iov_base : (guint8 *)empty;
        GByteArray *ba = g_byte_array_new_take(p, iov[i].iov_len);
        GMimeStream *m = g_mime_stream_mem_new_with_byte_array(ba);

        g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(m), FALSE);
        g_ptr_array_add(arrays, ba);
        if (iovcnt == 1) {
            one = m;
            break;
        }
        if (cat == NULL)
            cat = g_mime_stream_cat_new();
        g_mime_stream_cat_add_source(GMIME_STREAM_CAT(cat), m);
        g_object_unref(m);
    }
    if (one == NULL && cat == NULL) {
        GByteArray *ba = g_byte_array_new_take((guint8 *)empty, 0);

        one = g_mime_stream_mem_new_with_byte_array(ba);
        g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(one), FALSE);
        g_ptr_array_add(arrays, ba);
    }
    return one ? one : cat;
}

static void arrays_free(GPtrArray *arrays)
{
    for (guint i = 0; i < arrays->len; i++)
        g_byte_array_free(g_ptr_array_index(arrays, i), FALSE);
    g_ptr_array_free(arrays, TRUE);
}

static char *address_field(GMimeMessage *msg, GMimeAddressType type,
                           const char *name)
{
    InternetAddressList *l = g_mime_message_get_addresses(msg, type);
    char *s, *out;

    if (l != NULL && internet_address_list_length(l) > 0) {
        s = internet_address_list_to_string(l, NULL, FALSE);
        out = field_from(s);
        g_free(s);
        if (out[0] != '\0')
            return out;
        free(out);
    }
    /* Nothing GMime could read as addresses: the header as written. */
    return field_from(g_mime_object_get_header(GMIME_OBJECT(msg), name));
}

static char *date_field(GMimeMessage *msg)
{
    GDateTime *dt = g_mime_message_get_date(msg);

    if (dt != NULL) {
        gchar *s = g_date_time_format(dt, "%Y-%m-%dT%H:%M:%S%:z");

        if (s != NULL) {
            char *out = field_from(s);

            g_free(s);
            return out;
        }
    }
    return field_from(g_mime_object_get_header(GMIME_OBJECT(msg), "Date"));
}

static int is_attachment(GMimeObject *o)
{
    GMimeContentDisposition *d = g_mime_object_get_content_disposition(o);

    return d != NULL && g_mime_content_disposition_is_attachment(d);
}

/* The first text/plain leaf under O that is not an attachment (multipart
 * children in order; attached messages are not entered). */
static GMimePart *find_text(GMimeObject *o, int depth)
{
    if (GMIME_IS_MULTIPART(o)) {
        GMimeMultipart *mp = GMIME_MULTIPART(o);
        int n = g_mime_multipart_get_count(mp);

        if (depth >= WALK_DEPTH)
            return NULL;
        for (int i = 0; i < n; i++) {
            GMimePart *p =
                find_text(g_mime_multipart_get_part(mp, i), depth + 1);

            if (p != NULL)
                return p;
        }
        return NULL;
    }
    if (GMIME_IS_PART(o)) {
        GMimeContentType *ct = g_mime_object_get_content_type(o);

        if ((ct == NULL || g_mime_content_type_is_type(ct, "text", "plain")) &&
            !is_attachment(o))
            return GMIME_PART(o);
    }
    return NULL;
}

/* Read PART's content with its transfer encoding undone: at most
 * TEXT_READ_MAX bytes into *BUF (heap), *MORE set when there was more. */
static size_t read_decoded(GMimePart *part, char **buf, int *more)
{
    GMimeDataWrapper *w = g_mime_part_get_content(part);
    GMimeStream *src, *fs;
    GMimeContentEncoding enc;
    size_t len = 0, cap = TEXT_READ_MAX + 1;
    char *out = loom_malloc(cap + 1);

    *more = 0;
    *buf = out;
    out[0] = '\0';
    if (w == NULL || (src = g_mime_data_wrapper_get_stream(w)) == NULL)
        return 0;
    g_mime_stream_reset(src);
    fs = g_mime_stream_filter_new(src);
    enc = g_mime_data_wrapper_get_encoding(w);
    if (enc == GMIME_CONTENT_ENCODING_BASE64 ||
        enc == GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE ||
        enc == GMIME_CONTENT_ENCODING_UUENCODE) {
        GMimeFilter *f = g_mime_filter_basic_new(enc, FALSE);

        g_mime_stream_filter_add(GMIME_STREAM_FILTER(fs), f);
        g_object_unref(f);
    }
    while (len < cap) {
        ssize_t n = g_mime_stream_read(fs, out + len, cap - len);

        if (n <= 0)
            break;
        len += (size_t)n;
    }
    g_object_unref(fs);
    if (len > TEXT_READ_MAX) {
        len = TEXT_READ_MAX;
        *more = 1;
    }
    out[len] = '\0';
    return len;
}

/* Convert IN (LEN bytes in charset FROM) to UTF-8 into the growable
 * buffer; a byte iconv cannot take becomes U+FFFD, a sequence cut at the
 * end of IN is dropped.  Returns -1 when FROM is unknown to iconv. */
static int to_utf8(const char *from, const char *in, size_t len, char **out,
                   size_t *olen)
{
    iconv_t cd = g_mime_iconv_open("UTF-8", from);
    size_t cap = len * 2 + 16, used = 0;
    char *buf, *ip = (char *)in;
    size_t ileft = len;

    if (cd == (iconv_t)-1)
        return -1;
    buf = loom_malloc(cap + 1);
    while (ileft > 0) {
        char *op;
        size_t oleft, r;

        if (cap - used < 16) {
            cap *= 2;
            buf = loom_realloc(buf, cap + 1);
        }
        op = buf + used;
        oleft = cap - used;
        r = iconv(cd, &ip, &ileft, &op, &oleft);
        used = (size_t)(op - buf);
        if (r != (size_t)-1)
            break;
        if (errno == E2BIG) {
            cap *= 2;
            buf = loom_realloc(buf, cap + 1);
            continue;
        }
        if (errno == EINVAL) /* incomplete sequence at the end */
            break;
        /* EILSEQ: one byte the charset does not have */
        if (cap - used < 3) {
            cap *= 2;
            buf = loom_realloc(buf, cap + 1);
        }
        memcpy(buf + used, "\xEF\xBF\xBD", 3);
        used += 3;
        ip++;
        ileft--;
    }
    g_mime_iconv_close(cd);
    buf[used] = '\0';
    *out = buf;
    *olen = used;
    return 0;
}

static int is_utf8_name(const char *cs)
{
    return g_ascii_strcasecmp(cs, "utf-8") == 0 ||
           g_ascii_strcasecmp(cs, "utf8") == 0;
}

/* The text field from RAW (RLEN bytes in charset CS, NULL: unknown):
 * UTF-8, LF line ends, no NULs, bounded.  Takes RAW. */
static void text_from(char *raw, size_t rlen, const char *cs, int more,
                      smtp_mime_summary_t *out)
{
    char *u = NULL;
    size_t ulen = 0, o = 0;

    if (cs == NULL || is_utf8_name(cs) ||
        to_utf8(cs, raw, rlen, &u, &ulen) < 0) {
        /* No charset, UTF-8, or one iconv does not know: UTF-8 if it is,
         * else the usual suspect. */
        const char *from =
            g_utf8_validate(raw, (gssize)rlen, NULL) ? "UTF-8" : "WINDOWS-1252";

        if (to_utf8(from, raw, rlen, &u, &ulen) < 0 &&
            to_utf8("ISO-8859-1", raw, rlen, &u, &ulen) < 0) {
            u = loom_strdup("");
            ulen = 0;
        }
    }
    free(raw);
    for (size_t i = 0; i < ulen; i++) {
        if (u[i] == '\0')
            continue;
        if (u[i] == '\r' && i + 1 < ulen && u[i + 1] == '\n')
            continue;
        u[o++] = u[i];
    }
    ulen = utf8_cut(u, o, SMTP_MIME_TEXT_MAX);
    out->text_truncated = more || ulen < o;
    u[ulen] = '\0';
    out->text = u;
    out->text_len = ulen;
}

/* Does PART's content run to the end of the bytes GMime was given (WLEN)?
 * Then the window may have cut it. */
static int runs_to_end(GMimePart *part, size_t wlen)
{
    GMimeDataWrapper *w = g_mime_part_get_content(part);
    GMimeStream *st = w ? g_mime_data_wrapper_get_stream(w) : NULL;

    if (st == NULL)
        return 0;
    return st->bound_end < 0 || (size_t)st->bound_end + 2 >= wlen;
}

/* Bytes GMime could not read as a message: the fields stay empty, the
 * bytes are the text. */
static void summary_raw(const struct iovec *iov, int iovcnt,
                        smtp_mime_summary_t *out)
{
    size_t len = 0, cap = TEXT_READ_MAX;
    char *raw = loom_malloc(cap + 1);
    int more = 0;

    for (int i = 0; i < iovcnt && !more; i++) {
        size_t n = iov[i].iov_len;

        if (n > cap - len) {
            n = cap - len;
            more = 1;
        }
        memcpy(raw + len, iov[i].iov_base, n);
        len += n;
    }
    raw[len] = '\0';
    out->from = loom_strdup("");
    out->to = loom_strdup("");
    out->subject = loom_strdup("");
    out->message_id = loom_strdup("");
    out->date = loom_strdup("");
    text_from(raw, len, NULL, more, out);
}

int smtp_mime_summarize_iov(const struct iovec *iov, int iovcnt,
                            smtp_mime_summary_t *out)
{
    GPtrArray *arrays = g_ptr_array_new();
    struct iovec win[8];
    int nwin = 0;
    GMimeStream *stream;
    GMimeParser *parser;
    GMimeMessage *msg;
    GMimePart *text;
    size_t size = 0, wlen = 0;

    memset(out, 0, sizeof(*out));
    for (int i = 0; i < iovcnt; i++) {
        size_t n = iov[i].iov_len;

        size += n;
        if (wlen + n > SMTP_MIME_PARSE_MAX)
            n = SMTP_MIME_PARSE_MAX - wlen;
        if (n == 0)
            continue;
        if (nwin == (int)LOOM_ARRAY_LEN(win) - 1) {
            /* More pieces than a window takes: the first ones hold
             * the header and (nearly always) the text. */
            break;
        }
        win[nwin].iov_base = iov[i].iov_base;
        win[nwin].iov_len = n;
        nwin++;
        wlen += n;
    }
    stream = stream_over(win, nwin, arrays);
    parser = g_mime_parser_new_with_stream(stream);
    g_mime_parser_set_format(parser, GMIME_FORMAT_MESSAGE);
    msg = g_mime_parser_construct_message(parser, NULL);
    if (msg == NULL) {
        g_object_unref(parser);
        g_object_unref(stream);
        arrays_free(arrays);
        summary_raw(iov, iovcnt, out);
        out->size = size;
        return LOOM_OK;
    }
    out->size = size;
    out->from = address_field(msg, GMIME_ADDRESS_TYPE_FROM, "From");
    out->to = address_field(msg, GMIME_ADDRESS_TYPE_TO, "To");
    out->subject = field_from(g_mime_message_get_subject(msg));
    out->message_id = field_from(g_mime_message_get_message_id(msg));
    out->date = date_field(msg);
    text = NULL;
    if (g_mime_message_get_mime_part(msg) != NULL)
        text = find_text(g_mime_message_get_mime_part(msg), 0);
    if (text != NULL) {
        char *raw;
        int more;
        size_t rlen = read_decoded(text, &raw, &more);

        if (size > wlen && runs_to_end(text, wlen))
            more = 1;
        text_from(raw, rlen,
                  g_mime_object_get_content_type_parameter(GMIME_OBJECT(text),
                                                           "charset"),
                  more, out);
    } else {
        out->text = loom_strdup("");
        out->text_len = 0;
    }
    g_object_unref(msg);
    g_object_unref(parser);
    g_object_unref(stream);
    arrays_free(arrays);
    return LOOM_OK;
}

int smtp_mime_summarize(const char *msg, size_t len, smtp_mime_summary_t *out)
{
    struct iovec iov = {(void *)msg, len};

    return smtp_mime_summarize_iov(&iov, 1, out);
}

void smtp_mime_summary_free(smtp_mime_summary_t *s)
{
    if (s == NULL)
        return;
    free(s->from);
    free(s->to);
    free(s->subject);
    free(s->message_id);
    free(s->date);
    free(s->text);
    memset(s, 0, sizeof(*s));
}

void smtp_mime_summary_fields(const smtp_mime_summary_t *s, loom_msg_t *m)
{
    static const char *const names[] = {"from", "to", "subject", "message_id",
                                        "date"};
    const char *values[] = {s->from, s->to, s->subject, s->message_id, s->date};

    for (size_t i = 0; i < LOOM_ARRAY_LEN(names); i++)
        loom_msg_add(m, names[i], strlen(names[i]), values[i] ? values[i] : "",
                     values[i] ? strlen(values[i]) : 0);
    loom_msg_addf(m, "size", "%zu", s->size);
    loom_msg_add(m, "text", 4, s->text ? s->text : "",
                 s->text ? s->text_len : 0);
}

/* ---- composing ---------------------------------------------------------- */

static void set_err(char *err, size_t errlen, const char *msg)
{
    if (errlen > 0)
        snprintf(err, errlen, "%s", msg);
}

/* An addr-spec we are willing to put in an envelope: printable ASCII
 * without spaces or angle brackets, one local part and a domain. */
static int addr_ok(const char *a)
{
    const char *at = a ? strrchr(a, '@') : NULL;

    if (at == NULL || at == a || at[1] == '\0' || strlen(a) > 256)
        return 0;
    for (const char *p = a; *p; p++)
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7F ||
            *p == '<' || *p == '>' || *p == ',')
            return 0;
    return 1;
}

/* Append the mailboxes of L (members of groups included) to V, as their
 * ASCII (IDN-encoded) addr-specs, and have their names encoded as UTF-8
 * when they are not ASCII.  Returns -1 on one we cannot use. */
static int collect(InternetAddressList *l, GPtrArray *v, int depth)
{
    int n = internet_address_list_length(l);

    for (int i = 0; i < n; i++) {
        InternetAddress *ia = internet_address_list_get_address(l, i);

        internet_address_set_charset(ia, "utf-8");
        if (INTERNET_ADDRESS_IS_GROUP(ia)) {
            if (depth > 0 || collect(internet_address_group_get_members(
                                         INTERNET_ADDRESS_GROUP(ia)),
                                     v, depth + 1) < 0)
                return -1;
        } else {
            const char *a = internet_address_mailbox_get_idn_addr(
                INTERNET_ADDRESS_MAILBOX(ia));

            if (!addr_ok(a))
                return -1;
            g_ptr_array_add(v, loom_strdup(a));
        }
    }
    return 0;
}

static int hostname_ok(const char *h)
{
    if (h == NULL || h[0] == '\0' || strlen(h) > 255)
        return 0;
    for (const char *p = h; *p; p++)
        if (!g_ascii_isalnum(*p) && *p != '.' && *p != '-' && *p != '_')
            return 0;
    return 1;
}

/* The body as LF-terminated lines (CRLF and a lone CR become LF), plus
 * whether it needs quoted-printable: 8-bit bytes, NULs, a line over 998
 * octets, or a line starting "From " / "." is fine in 7bit (SMTP stuffs
 * dots) so only the first three count. */
static char *body_lf(const char *b, size_t len, size_t *olen, int *needs_qp)
{
    char *out = loom_malloc(len + 2);
    size_t o = 0, line = 0;

    *needs_qp = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)b[i];

        if (c == '\r') {
            if (i + 1 < len && b[i + 1] == '\n')
                continue;
            c = '\n';
        }
        if (c == '\n') {
            line = 0;
        } else if (++line > 998 || c >= 0x80 || c == 0) {
            *needs_qp = 1;
        }
        out[o++] = (char)c;
    }
    if (o > 0 && out[o - 1] != '\n')
        out[o++] = '\n';
    out[o] = '\0';
    *olen = o;
    return out;
}

/* Subject with control characters as spaces (no header injection). */
static char *subject_clean(const char *s)
{
    char *out = loom_strdup(s ? s : "");

    for (char *p = out; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7F)
            *p = ' ';
    return out;
}

/* Check what GMime wrote: CRLF lines of at most 998 octets, 7-bit. */
static int wire_ok(const char *p, size_t len)
{
    size_t line = 0;

    if (len < 2 || p[len - 2] != '\r' || p[len - 1] != '\n')
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)p[i];

        if (c == 0 || c >= 0x80)
            return 0;
        if (c == '\r') {
            if (i + 1 >= len || p[i + 1] != '\n')
                return 0;
            i++;
            line = 0;
            continue;
        }
        if (c == '\n' || ++line > 998)
            return 0;
    }
    return 1;
}

static GMimePart *text_part(const smtp_compose_in_t *in)
{
    GMimePart *part = g_mime_part_new_with_type("text", "plain");
    GMimeStream *st;
    GMimeDataWrapper *w;
    size_t blen;
    int qp;
    char *b = body_lf(in->body ? in->body : "", in->body ? in->body_len : 0,
                      &blen, &qp);

    st = g_mime_stream_mem_new_with_buffer(b, blen);
    free(b);
    w = g_mime_data_wrapper_new_with_stream(st, GMIME_CONTENT_ENCODING_DEFAULT);
    g_mime_part_set_content(part, w);
    g_object_unref(w);
    g_object_unref(st);
    g_mime_object_set_content_type_parameter(GMIME_OBJECT(part), "charset",
                                             "utf-8");
    g_mime_part_set_content_encoding(part,
                                     qp ? GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE
                                        : GMIME_CONTENT_ENCODING_7BIT);
    return part;
}

int smtp_mime_compose(const smtp_compose_in_t *in, smtp_compose_out_t *out,
                      char *err, size_t errlen)
{
    InternetAddressList *fl = NULL, *tl = NULL;
    GPtrArray *from = NULL, *to = NULL;
    GMimeMessage *msg = NULL;
    GMimePart *part;
    GMimeFormatOptions *fo;
    GMimeStream *mem;
    GByteArray *ba;
    GDateTime *dt;
    char *subject, *id;
    int rc = LOOM_ERROR;

    memset(out, 0, sizeof(*out));
    if (in->from == NULL || in->to == NULL || !hostname_ok(in->hostname)) {
        set_err(err, errlen,
                in->from == NULL ? "no From address"
                : in->to == NULL ? "no To address"
                                 : "bad hostname for the Message-ID");
        return LOOM_ERROR;
    }
    if ((in->subject && !g_utf8_validate(in->subject, -1, NULL)) ||
        (in->body && !g_utf8_validate_len(in->body, in->body_len, NULL))) {
        set_err(err, errlen, "subject or body is not UTF-8");
        return LOOM_ERROR;
    }
    from = g_ptr_array_new_with_free_func(free);
    to = g_ptr_array_new_with_free_func(free);
    fl = internet_address_list_parse(NULL, in->from);
    tl = internet_address_list_parse(NULL, in->to);
    if (fl == NULL || collect(fl, from, 0) < 0 || from->len != 1 ||
        internet_address_list_length(fl) != 1) {
        set_err(err, errlen, "From must be one address (a@b or Name <a@b>)");
        goto done;
    }
    if (tl == NULL || collect(tl, to, 0) < 0 || to->len == 0) {
        set_err(err, errlen, "To must be one or more addresses");
        goto done;
    }
    msg = g_mime_message_new(TRUE);
    internet_address_list_append(
        g_mime_message_get_addresses(msg, GMIME_ADDRESS_TYPE_FROM), fl);
    internet_address_list_append(
        g_mime_message_get_addresses(msg, GMIME_ADDRESS_TYPE_TO), tl);
    subject = subject_clean(in->subject);
    if (subject[0] != '\0')
        g_mime_message_set_subject(msg, subject, "utf-8");
    free(subject);
    dt = g_date_time_new_from_unix_utc((gint64)in->now);
    g_mime_message_set_date(msg, dt);
    g_date_time_unref(dt);
    id = g_mime_utils_generate_message_id(in->hostname);
    g_mime_message_set_message_id(msg, id);
    out->message_id = loom_strdup(id);
    g_free(id);
    part = text_part(in);
    g_mime_message_set_mime_part(msg, GMIME_OBJECT(part));
    g_object_unref(part);

    fo = g_mime_format_options_new();
    g_mime_format_options_set_newline_format(fo, GMIME_NEWLINE_FORMAT_DOS);
    mem = g_mime_stream_mem_new();
    g_mime_object_write_to_stream(GMIME_OBJECT(msg), fo, mem);
    g_mime_format_options_free(fo);
    ba = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
    if (!wire_ok((const char *)ba->data, ba->len)) {
        g_object_unref(mem);
        set_err(err, errlen,
                "a header cannot be written in lines of 998 "
                "octets");
        goto done;
    }
    out->data = loom_malloc(ba->len + 1);
    memcpy(out->data, ba->data, ba->len);
    out->data[ba->len] = '\0';
    out->len = ba->len;
    g_object_unref(mem);
    out->sender = loom_strdup(g_ptr_array_index(from, 0));
    out->nrcpts = to->len;
    out->rcpts = loom_calloc(to->len, sizeof(char *));
    for (guint i = 0; i < to->len; i++)
        out->rcpts[i] = loom_strdup(g_ptr_array_index(to, i));
    rc = LOOM_OK;
done:
    if (rc != LOOM_OK) {
        free(out->message_id);
        memset(out, 0, sizeof(*out));
    }
    if (msg != NULL)
        g_object_unref(msg);
    if (fl != NULL)
        g_object_unref(fl);
    if (tl != NULL)
        g_object_unref(tl);
    g_ptr_array_free(from, TRUE);
    g_ptr_array_free(to, TRUE);
    return rc;
}

void smtp_mime_compose_free(smtp_compose_out_t *out)
{
    if (out == NULL)
        return;
    free(out->data);
    free(out->sender);
    for (size_t i = 0; i < out->nrcpts; i++)
        free(out->rcpts[i]);
    free(out->rcpts);
    free(out->message_id);
    memset(out, 0, sizeof(*out));
}
