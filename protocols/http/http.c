/*
 * http.c - the HTTP module: instance state, routing, the version-neutral
 * output layer (http_resp_*), bounded file pumping, error pages, counters
 * and the access log.  Codecs (h1.c) call in through http_req_* and get
 * called back through their http_proto_t.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "http.h"
#include "http_proxy.h"

#define HTTP_PUMP_CHUNK (64 * 1024)

/* ---- instance state -------------------------------------------------------
 */

http_conf_t *http_conf(http_instance_t *hi)
{
    return loom_instance_conf(hi->inst);
}

const char *http_date_now(http_instance_t *hi)
{
    time_t now = time(NULL);

    if (now != hi->date_sec) {
        hi->date_sec = now;
        http_date_format(now, hi->date);
    }
    return hi->date;
}

static uint64_t http_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- requests --------------------------------------------------------------
 */

void http_req_init(http_req_t *r, http_instance_t *hi, loom_conn_t *conn,
                   const http_proto_t *proto, void *codec)
{
    char *hdrs = r->resp_headers, *np = r->npath;
    size_t hcap = r->resp_hcap, npcap = r->npath_cap;

    memset(r, 0, offsetof(http_req_t, resp_f)); /* resp_f: see resp_nf */
    r->resp_headers = hdrs;
    r->resp_hcap = hcap;
    r->npath = np;
    r->npath_cap = npcap;
    r->proto = proto;
    r->codec = codec;
    r->conn = conn;
    r->hi = hi;
    r->status = 200;
    r->resp_length = -1;
    r->content_length = -1;
    r->pump.fd = -1;
    r->start_ns = http_now_ns();
}

void http_req_free(http_req_t *r)
{
    if (r->pump.fd >= 0)
        close(r->pump.fd);
    r->pump.fd = -1;
    free(r->resp_headers);
    free(r->npath);
    r->resp_headers = r->npath = NULL;
    r->resp_hcap = r->npath_cap = 0;
}

long http_req_loc_rest(const http_req_t *r, char *out, size_t cap)
{
    const char *p = r->path.p, *end = p + r->path.len;
    const char *pre = r->loc->prefix;
    size_t npre = r->loc->prefix_len, i = 0, o = 0;

    while (p < end) {
        char c = *p++;

        if (c == '%') {
            int h, l;

            if (end - p < 2 || (h = http_hexval(p[0])) < 0 ||
                (l = http_hexval(p[1])) < 0)
                return -1;
            c = (char)(h << 4 | l);
            p += 2;
        }
        if (i < npre) {
            if (c != pre[i++])
                return -1;
        } else {
            if (o < cap)
                out[o] = c;
            o++;
        }
    }
    return i == npre ? (long)o : -1;
}

const http_field_t *http_req_fieldn(const http_req_t *r, const char *name,
                                    size_t nlen)
{
    return h1_field_lookupn(r->fields, r->nfields, name, nlen);
}

static int method_id(loom_slice_t m)
{
    static const struct {
        const char *s;
        int id;
    } tab[] = {{"GET", HTTP_M_GET},        {"HEAD", HTTP_M_HEAD},
               {"POST", HTTP_M_POST},      {"PUT", HTTP_M_PUT},
               {"DELETE", HTTP_M_DELETE},  {"OPTIONS", HTTP_M_OPTIONS},
               {"PATCH", HTTP_M_PATCH},    {"TRACE", HTTP_M_TRACE},
               {"CONNECT", HTTP_M_CONNECT}};
    size_t i;

    for (i = 0; i < LOOM_ARRAY_LEN(tab); i++) {
        if (strlen(tab[i].s) == m.len && memcmp(tab[i].s, m.p, m.len) == 0)
            return tab[i].id;
    }
    return HTTP_M_OTHER;
}

/* Split an origin-form or absolute-form target into path / query (and
 * authority for absolute-form).  0, or -1 when the form is not one loom
 * serves. */
static int split_target(http_req_t *r)
{
    const char *p = r->target.p, *end = p + r->target.len, *q;

    if (r->target.len >= 7 && *p != '/' &&
        (strncasecmp(p, "http://", 7) == 0 ||
         strncasecmp(p, "https://", 8) == 0)) {
        const char *a = p + (p[4] == ':' ? 7 : 8), *slash;

        slash = memchr(a, '/', (size_t)(end - a));
        q = memchr(a, '?', (size_t)(end - a));
        if (q && (!slash || q < slash))
            slash = NULL;
        r->authority.p = a;
        r->authority.len = (size_t)((slash ? slash : (q ? q : end)) - a);
        if (r->authority.len == 0 || memchr(a, '@', r->authority.len))
            return -1;
        p = slash ? slash : (q ? q : end);
        if (p == end || *p == '?') {
            /* "http://host" or "http://host?x": the path is "/" */
            r->path.p = "/";
            r->path.len = 1;
            if (p < end) {
                r->query.p = p + 1;
                r->query.len = (size_t)(end - p - 1);
            }
            return 0;
        }
    } else if (p == end || *p != '/') {
        return -1;
    }
    q = memchr(p, '?', (size_t)(end - p));
    r->path.p = p;
    r->path.len = (size_t)((q ? q : end) - p);
    if (q) {
        r->query.p = q + 1;
        r->query.len = (size_t)(end - q - 1);
    }
    return 0;
}

/* A Host / authority is a reg-name or IP literal with an optional port
 * (RFC 3986 section 3.2): nothing that could change the meaning of a path
 * or a log line. */
static int authority_ok(loom_slice_t a)
{
    static const unsigned char ok[256] = {
        ['-'] = 1, ['.'] = 1,  ['_'] = 1, ['~'] = 1, ['!'] = 1, ['$'] = 1,
        ['&'] = 1, ['\''] = 1, ['('] = 1, [')'] = 1, ['*'] = 1, ['+'] = 1,
        [','] = 1, [';'] = 1,  ['='] = 1, [':'] = 1, ['['] = 1, [']'] = 1,
        ['%'] = 1, ['0'] = 1,  ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1,
        ['5'] = 1, ['6'] = 1,  ['7'] = 1, ['8'] = 1, ['9'] = 1, ['A'] = 1,
        ['B'] = 1, ['C'] = 1,  ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1,
        ['H'] = 1, ['I'] = 1,  ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1,
        ['N'] = 1, ['O'] = 1,  ['P'] = 1, ['Q'] = 1, ['R'] = 1, ['S'] = 1,
        ['T'] = 1, ['U'] = 1,  ['V'] = 1, ['W'] = 1, ['X'] = 1, ['Y'] = 1,
        ['Z'] = 1, ['a'] = 1,  ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1,
        ['f'] = 1, ['g'] = 1,  ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1,
        ['l'] = 1, ['m'] = 1,  ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1,
        ['r'] = 1, ['s'] = 1,  ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1,
        ['x'] = 1, ['y'] = 1,  ['z'] = 1,
    };
    size_t i;

    for (i = 0; i < a.len; i++)
        if (!ok[(unsigned char)a.p[i]])
            return 0;
    return 1;
}

void http_process(http_req_t *r)
{
    http_conf_t *hc = http_conf(r->hi);
    long n;

    r->method_id = method_id(r->method);
    r->vhost = hc->deflt;
    if (r->target.len == 1 && r->target.p[0] == '*') {
        if (r->method_id == HTTP_M_OPTIONS) {
            http_resp_status(r, 204);
            http_resp_header(r, "Allow", "GET, HEAD, POST, OPTIONS");
            http_resp_length(r, 0);
            http_resp_end(r);
        } else {
            http_resp_error(r, 400);
        }
        return;
    }
    if (r->target.len > hc->limits.max_line) { /* HTTP/2 :path (HTTP/1.1's
                                                * line limit came first) */
        http_resp_error(r, 414);
        return;
    }
    if (split_target(r) != 0) {
        http_resp_error(r, 400);
        return;
    }
    if (!authority_ok(r->authority)) {
        http_resp_error(r, 400);
        return;
    }
    r->vhost = http_find_vhost(hc, r->authority);
    if (r->path.len + 1 > r->npath_cap) { /* normalising never lengthens */
        free(r->npath);
        r->npath_cap = r->path.len < 63 ? 64 : r->path.len + 1;
        r->npath = loom_malloc(r->npath_cap);
    }
    n = http_path_normalize(r->path.p, r->path.len, r->npath, r->npath_cap);
    if (n < 0) {
        http_resp_error(r, 400);
        return;
    }
    r->npath_len = (size_t)n;
    r->loc = http_find_location(r->vhost, r->npath, r->npath_len);
    r->conf_gen = r->hi->conf_gen;
    if (r->loc == NULL) {
        http_resp_error(r, 404);
        return;
    }
    if (r->content_length > 0 &&
        (uint64_t)r->content_length > r->loc->max_body) {
        http_resp_error(r, 413);
        return;
    }
    r->max_body = r->loc->max_body;
    r->loc->handler->process(r);
}

void http_req_conf(http_req_t *r)
{
    if (r->conf_gen != r->hi->conf_gen) {
        r->vhost = NULL;
        r->loc = NULL;
    }
}

void http_req_body(http_req_t *r, const char *p, size_t len, int last)
{
    r->bytes_in += len;
    if (r->loc && r->bytes_in > r->max_body) {
        if (!(r->flags & HTTP_RF_HEAD_SENT)) {
            http_req_refuse(r, 413);
        } else {
            r->flags |= HTTP_RF_CLOSE;
            http_req_abort(r);
            r->proto->reset(r);
        }
        return;
    }
    if (last)
        r->flags |= HTTP_RF_BODY_DONE;
    if (r->on_body && !(r->flags & HTTP_RF_ABORTED))
        r->on_body(r, p, len, last);
}

void http_req_refuse(http_req_t *r, int status)
{
    if (r->on_abort) /* the handler is done with this request */
        r->on_abort(r);
    r->on_body = NULL;
    r->on_abort = NULL;
    r->on_writable = NULL;
    r->resp_hlen = 0; /* what it prepared is not for the error page */
    r->resp_nf = 0;
    r->resp_length = -1;
    http_resp_error(r, status);
}

void http_req_abort(http_req_t *r)
{
    if (r->flags & (HTTP_RF_ABORTED | HTTP_RF_DONE))
        return;
    r->flags |= HTTP_RF_ABORTED;
    if (r->pump.fd >= 0) {
        close(r->pump.fd);
        r->pump.fd = -1;
    }
    if (r->on_abort)
        r->on_abort(r);
}

/* ---- the access log and counters ------------------------------------------
 */

/* Copy S into OUT escaping '"', '\\' and bytes outside printable ASCII as
 * \xHH (as nginx does); returns the bytes written. */
static size_t log_escape(char *out, size_t cap, const char *s, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0, i;

    for (i = 0; i < len && o + 4 < cap; i++) {
        unsigned char ch = (unsigned char)s[i];

        if (ch < 0x20 || ch >= 0x7f || ch == '"' || ch == '\\') {
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hex[ch >> 4];
            out[o++] = hex[ch & 15];
        } else {
            out[o++] = (char)ch;
        }
    }
    out[o] = '\0';
    return o;
}

static void access_log(http_req_t *r, loom_alog_t *al)
{
    char reqline[2048], ref[512], ua[512];
    const http_field_t *f;
    uint64_t ns = http_now_ns() - r->start_ns;
    http_instance_t *hi = r->hi;
    time_t now = time(NULL);

    if (now != hi->log_sec) { /* local time, formatted once a second */
        struct tm tm;

        hi->log_sec = now;
        localtime_r(&now, &tm);
        strftime(hi->log_when, sizeof(hi->log_when), "%d/%b/%Y:%H:%M:%S %z",
                 &tm);
    }
    if (r->method.len) {
        size_t o = log_escape(reqline, sizeof(reqline) - 16, r->method.p,
                              r->method.len);

        reqline[o++] = ' ';
        o += log_escape(reqline + o, sizeof(reqline) - 16 - o, r->target.p,
                        r->target.len);
        snprintf(reqline + o, sizeof(reqline) - o, " HTTP/%d.%d",
                 r->version / 10, r->version % 10);
    } else {
        strcpy(reqline, "-");
    }
    f = http_req_field(r, "referer");
    if (f)
        log_escape(ref, sizeof(ref), f->value.p, f->value.len);
    else
        strcpy(ref, "-");
    f = http_req_field(r, "user-agent");
    if (f)
        log_escape(ua, sizeof(ua), f->value.p, f->value.len);
    else
        strcpy(ua, "-");
    loom_alog_write(al, "%s - - [%s] \"%s\" %d %llu \"%s\" \"%s\" %llu.%03llu",
                    loom_conn_peer(r->conn), hi->log_when, reqline, r->status,
                    (unsigned long long)r->bytes_out, ref, ua,
                    (unsigned long long)(ns / 1000000000u),
                    (unsigned long long)(ns / 1000000u % 1000u));
}

void http_req_done(http_req_t *r)
{
    http_counters_t *ctr = &r->hi->ctr;
    loom_alog_t *al = loom_instance_alog(r->hi->inst);
    int cls = r->status / 100;

    ctr->requests++;
    ctr->by_class[cls >= 1 && cls <= 5 ? cls : 0]++;
    ctr->bytes_in += r->bytes_in;
    ctr->bytes_out += r->bytes_out;
    if (al)
        access_log(r, al);
}

/* ---- the output layer
 * -------------------------------------------------------- */

const char *http_reason(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 101:
        return "Switching Protocols";
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 206:
        return "Partial Content";
    case 301:
        return "Moved Permanently";
    case 302:
        return "Found";
    case 303:
        return "See Other";
    case 304:
        return "Not Modified";
    case 307:
        return "Temporary Redirect";
    case 308:
        return "Permanent Redirect";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 411:
        return "Length Required";
    case 412:
        return "Precondition Failed";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 415:
        return "Unsupported Media Type";
    case 416:
        return "Range Not Satisfiable";
    case 417:
        return "Expectation Failed";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    case 505:
        return "HTTP Version Not Supported";
    case 507:
        return "Insufficient Storage";
    default:
        return "";
    }
}

void http_resp_status(http_req_t *r, int status)
{
    r->status = status;
}

/* Make room for LEN more header bytes and copy P there (P NULL: leave
 * them for the caller to fill). */
static void hdr_append(http_req_t *r, const char *p, size_t len)
{
    if (r->resp_hlen + len > r->resp_hcap) {
        size_t cap = r->resp_hcap ? r->resp_hcap * 2 : 512;

        while (cap < r->resp_hlen + len)
            cap *= 2;
        r->resp_headers = loom_realloc(r->resp_headers, cap);
        r->resp_hcap = cap;
    }
    if (p)
        memcpy(r->resp_headers + r->resp_hlen, p, len);
    r->resp_hlen += len;
}

void http_resp_headern(http_req_t *r, const char *name, size_t nl,
                       const char *value, size_t vl)
{
    char *o;

    hdr_append(r, NULL, nl + vl + 4); /* room, then the line in place */
    o = r->resp_headers + r->resp_hlen - (nl + vl + 4);
    memcpy(o, name, nl);
    o[nl] = ':';
    o[nl + 1] = ' ';
    memcpy(o + nl + 2, value, vl);
    o[nl + 2 + vl] = '\r';
    o[nl + 3 + vl] = '\n';
    if (r->resp_nf < HTTP_RESP_FIELDS && nl <= UINT32_MAX && vl <= UINT32_MAX &&
        r->resp_hlen <= UINT32_MAX) {
        r->resp_f[r->resp_nf].off = (uint32_t)(o - r->resp_headers);
        r->resp_f[r->resp_nf].nl = (uint32_t)nl;
        r->resp_f[r->resp_nf].vl = (uint32_t)vl;
        r->resp_nf++;
    } else {
        r->resp_nf = HTTP_RESP_FIELDS + 1; /* the codec parses the text */
    }
}

void http_resp_headerf(http_req_t *r, const char *name, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < sizeof(buf))
        http_resp_header(r, name, buf);
}

void http_resp_length(http_req_t *r, int64_t len)
{
    r->resp_length = len;
}

/* Statuses and methods whose responses carry no body. */
static int no_body(const http_req_t *r)
{
    if (r->status == 101) /* a tunnel: raw bytes follow */
        return 0;
    return r->method_id == HTTP_M_HEAD || r->status < 200 || r->status == 204 ||
           r->status == 304;
}

int http_resp_send_head(http_req_t *r)
{
    if (r->flags & (HTTP_RF_HEAD_SENT | HTTP_RF_ABORTED))
        return (r->flags & HTTP_RF_ABORTED) ? LOOM_ERROR : LOOM_OK;
    r->flags |= HTTP_RF_HEAD_SENT;
    return r->proto->send_head(r);
}

int http_resp_write(http_req_t *r, const void *p, size_t len)
{
    int rc = http_resp_send_head(r);

    if (rc == LOOM_ERROR || len == 0 || no_body(r))
        return rc;
    r->bytes_out += len;
    return r->proto->send_body(r, p, len);
}

static void pump_run(http_req_t *r);

int http_resp_file(http_req_t *r, int fd, off_t off, uint64_t len, int end)
{
    int rc = http_resp_send_head(r);

    if (rc == LOOM_ERROR) {
        close(fd);
        return LOOM_ERROR;
    }
    if (len == 0 || no_body(r)) {
        close(fd);
        if (end)
            http_resp_end(r);
        return LOOM_OK;
    }
    rc = r->proto->send_file(r, fd, off, (size_t)len);
    if (rc != LOOM_DECLINED) {
        if (rc == LOOM_ERROR)
            return LOOM_ERROR;
        r->bytes_out += len;
        if (end)
            http_resp_end(r);
        return LOOM_OK;
    }
    r->pump.fd = fd;
    r->pump.off = off;
    r->pump.left = len;
    r->pump.end = end;
    pump_run(r);
    return LOOM_OK;
}

/* Send the pumped file in bounded pieces until the connection pushes back
 * (resumed from http_req_writable) or the file is out. */
static void pump_run(http_req_t *r)
{
    char buf[HTTP_PUMP_CHUNK];

    while (r->pump.fd >= 0 && r->pump.left > 0) {
        size_t want =
            r->pump.left < sizeof(buf) ? (size_t)r->pump.left : sizeof(buf);
        ssize_t n = pread(r->pump.fd, buf, want, r->pump.off);
        int rc;

        if (n <= 0) { /* the file shrank or failed: the framing is lost */
            loom_log(LOOM_LOG_ERROR, loom_instance_who(r->hi->inst),
                     "reading %s: %s", r->npath ? r->npath : "file",
                     n < 0 ? strerror(errno) : "file shrank");
            r->flags |= HTTP_RF_CLOSE;
            http_req_abort(r);
            r->proto->reset(r);
            return;
        }
        r->pump.off += n;
        r->pump.left -= (uint64_t)n;
        r->bytes_out += (uint64_t)n;
        rc = r->proto->send_body(r, buf, (size_t)n);
        if (rc == LOOM_ERROR)
            return;
        if (rc == LOOM_AGAIN && r->pump.left > 0)
            return;
    }
    if (r->pump.fd >= 0) {
        close(r->pump.fd);
        r->pump.fd = -1;
        if (r->pump.end)
            http_resp_end(r);
    }
}

void http_req_writable(http_req_t *r)
{
    if (r->flags & (HTTP_RF_DONE | HTTP_RF_ABORTED))
        return;
    if (r->pump.fd >= 0)
        pump_run(r);
    else if (r->on_writable)
        r->on_writable(r);
}

int http_resp_write_buf(http_req_t *r, loom_buf_t *b)
{
    int rc = http_resp_send_head(r);
    size_t len = loom_buf_len(b);

    if (rc == LOOM_ERROR || len == 0 || no_body(r))
        return rc;
    r->bytes_out += len;
    if (r->proto->send_buf)
        return r->proto->send_buf(r, b);
    return r->proto->send_body(r, loom_buf_data(b), len);
}

size_t http_resp_pending(http_req_t *r)
{
    return r->proto->pending ? r->proto->pending(r) : 0;
}

void http_resp_end(http_req_t *r)
{
    if (r->flags & (HTTP_RF_DONE | HTTP_RF_ABORTED))
        return;
    if (http_resp_send_head(r) == LOOM_ERROR)
        return;
    r->flags |= HTTP_RF_DONE;
    r->proto->finish(r);
}

void http_resp_simple(http_req_t *r, int status, const char *ctype,
                      const char *body, size_t len)
{
    http_resp_status(r, status);
    if (ctype)
        http_resp_header(r, "Content-Type", ctype);
    http_resp_length(r, (int64_t)len);
    http_resp_write(r, body, len);
    http_resp_end(r);
}

static void refuse_body(http_req_t *r, const char *p, size_t len, int last)
{
    (void)p;
    (void)len;
    if (!last)
        return;
    r->on_body = NULL;
    if (r->refuse_fn)
        r->refuse_fn(r, r->refuse_status, r->refuse_arg);
    else
        http_resp_error(r, r->refuse_status);
}

void http_resp_refuse(http_req_t *r, int status,
                      void (*fn)(http_req_t *r, int status, const void *arg),
                      const void *arg)
{
    r->refuse_status = status;
    r->refuse_fn = fn;
    r->refuse_arg = arg;
    if (r->content_length == 0 || (r->flags & HTTP_RF_BODY_DONE))
        refuse_body(r, NULL, 0, 1);
    else
        r->on_body = refuse_body;
}

void http_resp_error(http_req_t *r, int status)
{
    char body[256];
    size_t i;
    int n;

    if (r->flags & HTTP_RF_HEAD_SENT) { /* too late for a status */
        r->flags |= HTTP_RF_CLOSE;
        http_req_abort(r);
        r->proto->reset(r);
        return;
    }
    switch (status) {
    case 400:
    case 408:
    case 413:
    case 414:
    case 417:
    case 431:
    case 501:
    case 505:
        r->flags |= HTTP_RF_CLOSE;
        break;
    }
    http_req_conf(r);
    for (i = 0; r->vhost && i < r->vhost->nerrpages; i++) {
        const http_errpage_t *e = &r->vhost->errpages[i];

        if (e->status == status) {
            http_resp_simple(r, status, e->ctype, e->body, e->len);
            return;
        }
    }
    n = snprintf(body, sizeof(body),
                 "<html><head><title>%d %s</title></head><body><h1>%d "
                 "%s</h1></body></html>\n",
                 status, http_reason(status), status, http_reason(status));
    http_resp_simple(r, status, "text/html", body, (size_t)n);
}

void http_resp_codec_error(http_req_t *r, int status)
{
    r->vhost = http_conf(r->hi)->deflt;
    r->flags |= HTTP_RF_CLOSE;
    http_resp_error(r, status);
}

/* ---- the module
 * ------------------------------------------------------------------ */

static void http_start(loom_instance_t *inst)
{
    http_instance_t *hi = loom_calloc(1, sizeof(*hi));

    hi->inst = inst;
    hi->started = time(NULL);
    hi->fcache = http_fcache_new();
    loom_instance_set_data(inst, hi);
    http_proxy_start(hi);
    http_post_start(hi);
    http_events_start(hi);
}

static void http_reload(loom_instance_t *inst)
{
    http_instance_t *hi = loom_instance_data(inst);

    /* Roots and limits may have changed: start the file cache afresh. */
    http_fcache_free(hi->fcache);
    hi->fcache = http_fcache_new();
    hi->conf_gen++;
    http_proxy_reload(hi);
    http_events_reload(hi);
    /* HTTP/2 clients are asked to reconnect (settings may have changed) */
    http_conns_quiesce(hi, 0);
}

static void http_quiesce(loom_instance_t *inst)
{
    http_instance_t *hi = loom_instance_data(inst);

    if (hi == NULL)
        return;
    hi->quiescing = 1;
    http_conns_quiesce(hi, 1);
    http_proxy_quiesce(hi);
    http_events_quiesce(hi);
}

static void http_stop(loom_instance_t *inst)
{
    http_instance_t *hi = loom_instance_data(inst);

    if (hi == NULL)
        return;
    http_post_stop(hi);
    http_proxy_stop(hi);
    http_events_stop(hi);
    http_fcache_free(hi->fcache);
    free(hi);
    loom_instance_set_data(inst, NULL);
}

static const char *const http_alpn[] = {"h2", "http/1.1", NULL};

const loom_module_t loom_http_module = {
    .abi = LOOM_MODULE_ABI,
    .name = "http",
    .options = http_options,
    .conn_size = sizeof(http_h1_conn_t),
    .idle_timeout = 75,
    .alpn = http_alpn,
    .configure = http_configure,
    .conf_free = http_conf_free,
    .start = http_start,
    .reload = http_reload,
    .stop = http_stop,
    .quiesce = http_quiesce,
    .stream = {.open = http_h1_open,
               .data = http_h1_data,
               .drain = http_h1_drain,
               .close = http_h1_close},
    .datagram = NULL,
    .actions = http_actions,
    .metrics = http_metrics,
};
