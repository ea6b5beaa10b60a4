/*
 * h2.c - the HTTP/2 codec (RFC 9113) on loom's sans-I/O session (h2_sess.c):
 * bytes from the connection go in through h2s_recv, frames come out of
 * h2s_send into loom_conn_write.  Each request
 * stream is an http_req_t answered by the same routing, handlers and output
 * API as HTTP/1.1; this file is the http_proto_t that turns the output API
 * into HEADERS and DATA frames under flow control.
 *
 * Buffering is bounded everywhere:
 *   - response bytes wait in a per-stream buffer until the session pulls them
 *     through the data source (as the peer's window allows); above
 *     H2_OUT_HIWAT send_body answers LOOM_AGAIN and the handler (or the
 *     file pump) waits for on_writable;
 *   - nothing is pulled from the session while the connection's output is above
 *     its high-water mark (the drain callback resumes);
 *   - request bytes for a handler that paused its body wait in a per-stream
 *     buffer bounded by the stream window, because the window is only
 *     reopened (h2s_consume) for bytes a handler has taken.
 *
 * Abuse limits (enforced by the session, set here): the stream reset rate
 * limit, the CONTINUATION limit, a control-frame budget (PING, SETTINGS,
 * PRIORITY, empty DATA); header lists bounded by max_header_size /
 * max_headers here.
 *
 * Streams closed by the session are freed only when no handler frame can be
 * on the stack: at the end of the outermost codec entry (h->busy), or in
 * the deferred "later" event used when a handler writes from outside the
 * codec (an upstream's callback, a timer).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "h2_sess.h"
#include "hpack.h"
#include "http.h"

#define H2_OUT_HIWAT (32 * 1024) /* stream buffer: send_body says AGAIN */
#define H2_CTRL_BURST 1000.0     /* control frames allowed at once */
#define H2_CTRL_RATE 100.0       /* ... refilled per second */
#define H2_RESET_BURST 1000      /* RST_STREAM from the client */
#define H2_RESET_RATE 33
#define H2_MAX_CONTINUATIONS 8
#define H2_NOTICE_WAIT 1000 /* ms: final GOAWAY if the PING is not acked */
/* the PING that follows the shutdown notice; its ACK sends the final GOAWAY */
static const uint8_t h2_notice_ping[8] = {'l', 'o', 'o', 'm',
                                          'b', 'y', 'e', '!'};
#define H2_SPARE_MAX 16   /* closed streams kept for reuse */
#define H2_SPARE_BUF 4096 /* larger buffers are freed, not kept */

typedef struct h2_stream_s h2_stream_t;

/* A header as offsets into the stream's hbuf while the block arrives. */
typedef struct {
    uint32_t no, nl, vo, vl;
} h2_hoff_t;

struct h2_stream_s {
    http_req_t req; /* first: the output API's view */
    http_h1_conn_t *h;
    int32_t id;
    h2_stream_t *next, *prev; /* h2->streams or h2->dead */

    /* the request head, while it arrives */
    char *hbuf;
    size_t hlen, hcap;
    h2_hoff_t *hoff;
    size_t nh, hoffcap;
    http_field_t *fields; /* req.fields points here once started */
    size_t fcap;
    h2_hoff_t pseudo[4];  /* :method :path :scheme :authority */
    unsigned have_pseudo; /* bit per pseudo */
    int hdr_status;       /* 431 when the list broke a limit */
    int started;          /* http_process ran */

    /* the request body */
    char *in;
    size_t in_len, in_cap;
    int paused;      /* the handler paused its body */
    int end_pending; /* END_STREAM seen, buffered bytes first */
    int body_done;   /* END_STREAM seen (remote closed) */

    /* the response */
    char *out;
    size_t out_off, out_len, out_cap;
    int submitted, has_body, eof, deferred, want_writable, notify;
    int closed;     /* the session closed the stream */
    size_t discard; /* body bytes nobody takes (the answer came first) */
    int answered;   /* END_STREAM of the answer went out */
    int stopped;    /* RST_STREAM NO_ERROR asked the upload to stop */
};

struct http_h2_conn_s {
    h2s_t *ss;
    h2_stream_t *streams, *dead;
    h2_stream_t *spare; /* freed streams with their buffers, for reuse */
    int nspare;
    int dirty;          /* output waits for a flush */
    int blocked;        /* the connection said LOOM_AGAIN */
    int notify;         /* some stream wants on_writable */
    int goaway;         /* 1: shutdown notice sent, 2: the final GOAWAY too */
    loom_timer_t final; /* the final GOAWAY when the notice's PING is late */
    int depth;          /* h2 frames on the stack */
    loom_timer_t later; /* flush + reap from outside the codec (0 ms) */
};

static int h2_send_head(http_req_t *r);
static int h2_send_body(http_req_t *r, const void *p, size_t len);
static int h2_send_file(http_req_t *r, int fd, off_t off, size_t len);
static void h2_finish(http_req_t *r);
static void h2_pause_body(http_req_t *r, int pause);
static void h2_reset(http_req_t *r);
static size_t h2_pending(http_req_t *r);

/* No send_buf: DATA frames are cut from the stream's buffer, so a shared
 * buffer would be copied there anyway (the output layer copies once). */
static const http_proto_t h2_proto = {"HTTP/2",     h2_send_head, h2_send_body,
                                      h2_send_file, h2_finish,    h2_pause_body,
                                      h2_reset,     NULL,         h2_pending};

static void h2_flush(http_h1_conn_t *h);

/* ---- entering and leaving -------------------------------------------------
 */

static void h2_enter(http_h1_conn_t *h)
{
    h->busy++;
    h->h2->depth++;
}

static void h2_stream_free(h2_stream_t *s)
{
    http_req_free(&s->req);
    free(s->fields);
    free(s->hbuf);
    free(s->hoff);
    free(s->in);
    free(s->out);
    free(s);
}

/* Free *P (capacity *CAP) when it is above H2_SPARE_BUF. */
static void h2_trim(char **p, size_t *cap)
{
    if (*cap > H2_SPARE_BUF) {
        free(*p);
        *p = NULL;
        *cap = 0;
    }
}

/* A closed stream that no frame can see: kept with its (small) buffers for
 * the next stream of the connection, or freed.  Saves the half dozen
 * allocations a stream's head, fields and answer make. */
static void h2_stream_retire(http_h2_conn_t *h2, h2_stream_t *s)
{
    if (h2->nspare >= H2_SPARE_MAX) {
        h2_stream_free(s);
        return;
    }
    if (s->req.pump.fd >= 0)
        close(s->req.pump.fd);
    s->req.pump.fd = -1;
    h2_trim(&s->hbuf, &s->hcap);
    h2_trim(&s->out, &s->out_cap);
    h2_trim(&s->req.resp_headers, &s->req.resp_hcap);
    h2_trim(&s->req.npath, &s->req.npath_cap);
    free(s->in);
    s->in = NULL;
    s->in_cap = 0;
    s->next = h2->spare;
    h2->spare = s;
    h2->nspare++;
}

static void h2_reap(http_h2_conn_t *h2)
{
    h2_stream_t *s;

    while ((s = h2->dead) != NULL) {
        h2->dead = s->next;
        h2_stream_retire(h2, s);
    }
}

/* Flush and free closed streams when leaving the outermost HTTP/2 frame
 * (an HTTP/1.1 frame may still be below it after Upgrade: h2c); free the
 * connection when it closed and nothing is on the stack.  Returns 1 when
 * the connection is gone. */
static int h2_leave(http_h1_conn_t *h)
{
    http_h2_conn_t *h2 = h->h2;

    if (h2->depth == 1 && !h->closed && h2->dirty)
        h2_flush(h); /* may close: still counted busy here */
    h2->depth--;
    if (--h->busy == 0 && h->closed) {
        http_conn_free(h);
        return 1;
    }
    if (h->closed)
        return 1;
    if (h2->depth == 0)
        h2_reap(h2);
    return 0;
}

/* The connection is held around the call (loom_timer_cb). */
static void h2_on_later(loom_timer_t *t, void *arg)
{
    http_h1_conn_t *h = arg;

    (void)t;
    h2_enter(h);
    h->h2->dirty = 1;
    h2_leave(h);
}

static void h2_goaway_final(http_h1_conn_t *h);

/* The client did not ACK the notice's PING in time (held, as above). */
static void h2_on_final(loom_timer_t *t, void *arg)
{
    http_h1_conn_t *h = arg;

    (void)t;
    h2_enter(h);
    h2_goaway_final(h);
    h2_leave(h);
}

/* Output is waiting: flush at the end of the codec frame on the stack, or
 * soon when a handler writes from outside the codec. */
static void h2_want_flush(http_h1_conn_t *h)
{
    http_h2_conn_t *h2 = h->h2;

    if (h->closed)
        return;
    h2->dirty = 1;
    if (h2->depth == 0 && !loom_timer_armed(&h2->later))
        loom_timer_arm(&h2->later, 0);
}

/* ---- output
 * ------------------------------------------------------------------ */

/* Let streams whose buffers drained produce more. */
static void h2_notify(http_h1_conn_t *h)
{
    http_h2_conn_t *h2 = h->h2;
    h2_stream_t *s;
    int again = 1;

    if (!h2->notify)
        return;
    h2->notify = 0;
    while (again && !h->closed) {
        again = 0;
        for (s = h2->streams; s && !h->closed; s = s->next) {
            if (!s->notify)
                continue;
            s->notify = 0;
            again = 1;
            http_req_writable(&s->req);
            break; /* the list may have changed: rescan */
        }
    }
}

static void h2_flush(http_h1_conn_t *h)
{
    http_h2_conn_t *h2 = h->h2;

    h2->dirty = 0;
    for (;;) {
        const uint8_t *data;
        ssize_t n;
        int rc;

        if (h->closed)
            return;
        if (h2->blocked)
            break;
        n = (ssize_t)h2s_send(h2->ss, &data);
        if (n == 0) {
            if (!h2->notify)
                break;
            h2_notify(h);
            continue;
        }
        rc = loom_conn_write(h->c, data, (size_t)n);
        if (rc == LOOM_ERROR)
            return;
        if (rc == LOOM_AGAIN)
            h2->blocked = 1; /* the drain callback goes on */
    }
    if (!h->closed && !h2->blocked && !h2s_alive(h2->ss))
        loom_conn_close(h->c);
}

static ssize_t h2_read_body(void *ud, void *sud, uint8_t *buf, size_t length,
                            int *eof)
{
    h2_stream_t *s = sud;
    size_t have = s->out_len - s->out_off;
    http_h1_conn_t *h = ud;

    if (have == 0) {
        if (s->eof) {
            *eof = 1;
            return 0;
        }
        s->deferred = 1;
        return H2S_DEFERRED;
    }
    if (length > have)
        length = have;
    memcpy(buf, s->out + s->out_off, length);
    s->out_off += length;
    if (s->out_off == s->out_len) {
        s->out_off = s->out_len = 0;
        if (s->eof)
            *eof = 1;
    }
    if (s->want_writable && s->out_len - s->out_off < H2_OUT_HIWAT / 2) {
        s->want_writable = 0;
        s->notify = 1;
        h->h2->notify = 1;
    }
    return (ssize_t)length;
}

/* Is the lowercase NAME[NL] connection-specific (not sent in HTTP/2)? */
static int h2_hop_field(const char *name, size_t nl)
{
    switch (nl) {
    case 7:
        return memcmp(name, "upgrade", 7) == 0;
    case 10:
        return memcmp(name, "connection", 10) == 0 ||
               memcmp(name, "keep-alive", 10) == 0;
    case 16:
        return memcmp(name, "proxy-connection", 16) == 0;
    case 17:
        return memcmp(name, "transfer-encoding", 17) == 0;
    default:
        return 0;
    }
}

/* Lowercase the eight bytes at SRC into DST: a byte below 0x80 whose low
 * seven bits reach 'A' but not past 'Z' gains 0x20. */
static inline void h2_lower8(char *dst, const char *src)
{
    const uint64_t highs = 0x8080808080808080ull;
    uint64_t x, h, up;

    memcpy(&x, src, 8);
    h = x & ~highs;
    up =
        (h + 0x3f3f3f3f3f3f3f3full) & ~(h + 0x2525252525252525ull) & ~x & highs;
    x |= up >> 2;
    memcpy(dst, &x, 8);
}

/* The same for four bytes. */
static inline void h2_lower4(char *dst, const char *src)
{
    const uint32_t highs = 0x80808080u;
    uint32_t x, h, up;

    memcpy(&x, src, 4);
    h = x & ~highs;
    up = (h + 0x3f3f3f3fu) & ~(h + 0x25252525u) & ~x & highs;
    x |= up >> 2;
    memcpy(dst, &x, 4);
}

/* Lowercase SRC[N] into DST, a word at a time; the last word overlaps the
 * one before (lowercasing twice changes nothing). */
static inline void h2_lower(char *dst, const char *src, size_t n)
{
    size_t i;

    if (n >= 8) {
        for (i = 0; i + 8 <= n; i += 8)
            h2_lower8(dst + i, src + i);
        if (i < n)
            h2_lower8(dst + n - 8, src + n - 8);
    } else if (n >= 4) {
        h2_lower4(dst, src);
        h2_lower4(dst + n - 4, src + n - 4);
    } else {
        for (i = 0; i < n; i++) /* branch-free */
            dst[i] = (char)(src[i] | ((unsigned char)(src[i] - 'A') < 26) << 5);
    }
}

/* One field of name P[NL] (lowercased into BUF) and value V[VL] into NV;
 * returns 0 for a connection-specific field, which is dropped. */
static int h2_resp_field(char *buf, const char *p, size_t nl, const char *v,
                         size_t vl, h2s_nv_t *nv)
{
    h2_lower(buf, p, nl);
    if (h2_hop_field(buf, nl))
        return 0;
    while (vl && (*v == ' ' || *v == '\t')) {
        v++;
        vl--;
    }
    while (vl && (v[vl - 1] == '\r' || v[vl - 1] == ' ' || v[vl - 1] == '\t'))
        vl--;
    nv->name = buf;
    nv->nl = nl;
    nv->value = v;
    nv->vl = vl;
    nv->sidx = hpack_static_name_index(buf, nl);
    nv->flags = hpack_name_volatile(nv->sidx) ? H2S_NV_LITERAL : 0;
    return 1;
}

/* The fields of R's lines from the index http_resp_header() kept, into NV
 * backed by BUF; returns the count, or -1 when the index does not cover
 * the text (too many lines), which the caller then parses. */
static long h2_resp_indexed(http_req_t *r, char *buf, h2s_nv_t *nv, size_t max)
{
    size_t n = 0, i, nf = r->resp_nf;

    if (nf > HTTP_RESP_FIELDS || nf > max)
        return -1;
    if (nf == 0)
        return r->resp_hlen ? -1 : 0;
    if ((size_t)r->resp_f[nf - 1].off + r->resp_f[nf - 1].nl +
            r->resp_f[nf - 1].vl + 4 !=
        r->resp_hlen)
        return -1; /* the text changed behind the index */
    for (i = 0; i < nf; i++) {
        const char *p = r->resp_headers + r->resp_f[i].off;
        size_t nl = r->resp_f[i].nl;

        if (h2_resp_field(buf, p, nl, p + nl + 2, r->resp_f[i].vl, nv + n)) {
            buf += nl;
            n++;
        }
    }
    return (long)n;
}

static size_t h2_resp_fields(http_req_t *r, char *buf, h2s_nv_t *nv, size_t max)
{
    const char *p = r->resp_headers, *end = p ? p + r->resp_hlen : NULL;
    size_t n = 0;
    long ni = h2_resp_indexed(r, buf, nv, max);

    if (ni >= 0)
        return (size_t)ni;

    while (p < end && n < max) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *v, *colon;
        size_t nl;

        if (eol == NULL)
            eol = end;
        colon = memchr(p, ':', (size_t)(eol - p));
        if (colon == NULL) {
            p = eol + 1;
            continue;
        }
        nl = (size_t)(colon - p);
        v = p + nl + 1;
        if (h2_resp_field(buf, p, nl, v, (size_t)(eol - v), nv + n)) {
            n++;
            buf += nl;
        }
        p = eol + 1;
    }
    return n;
}

#define NV(N_, V_, VL_, SIDX_)                                                 \
    do {                                                                       \
        nv[k].name = (N_);                                                     \
        nv[k].nl = sizeof(N_) - 1;                                             \
        nv[k].value = (V_);                                                    \
        nv[k].vl = (VL_);                                                      \
        nv[k].sidx = (SIDX_);                                                  \
        nv[k].flags = hpack_name_volatile(SIDX_) ? H2S_NV_LITERAL : 0;         \
        k++;                                                                   \
    } while (0)

/* V in decimal at the end of BUF[24]; returns where it starts. */
static char *h2_u64(char *buf, uint64_t v)
{
    char *p = buf + 24;

    do {
        *--p = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return p;
}

static int h2_send_head(http_req_t *r)
{
    h2_stream_t *s = (h2_stream_t *)r;
    http_h1_conn_t *h = s->h;
    http_conf_t *hc = http_conf(h->hi);
    size_t nlines = 0, k = 0;
    char clen[24], *cl;
    static const char server_long[] = "loom/" LOOM_VERSION_STRING;
    const char *server = hc->server_tokens ? server_long : "loom";
    size_t server_len = hc->server_tokens ? sizeof(server_long) - 1 : 4;
    const char *date = http_date_now(h->hi);
    h2s_nv_t nvbuf[64], *nv = nvbuf;
    char namebuf[2048], *names = namebuf;
    int rc, bodyless;

    if (h->closed || s->closed)
        return LOOM_ERROR;
    if (r->status < 200 || r->status > 999) { /* no 1xx / tunnels in h2 */
        h2_reset(r);
        return LOOM_ERROR;
    }
    if (r->resp_hlen / 3 + 5 > sizeof(nvbuf) / sizeof(nvbuf[0])) {
        /* a line takes 3 bytes at least ("x:\n"): count them */
        const char *p = r->resp_headers, *end = p + r->resp_hlen;

        while ((p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
            nlines++;
            p++;
        }
    } else {
        nlines = r->resp_hlen / 3 + 1;
    }
    if (nlines + 4 > sizeof(nvbuf) / sizeof(nvbuf[0])) /* rare */
        nv = loom_malloc((nlines + 4) * sizeof(*nv));
    if (r->resp_hlen + 1 > sizeof(namebuf))
        names = loom_malloc(r->resp_hlen + 1);
    NV("server", server, server_len, HPACK_IDX_SERVER);
    NV("date", date, HTTP_DATE_LEN, HPACK_IDX_DATE);
    bodyless = r->method_id == HTTP_M_HEAD || r->status == 204 ||
               r->status == 304 || r->resp_length == 0;
    if (r->resp_length >= 0 && r->status != 204 && r->status != 304) {
        cl = h2_u64(clen, (uint64_t)r->resp_length);
        NV("content-length", cl, (size_t)(clen + sizeof(clen) - cl),
           HPACK_IDX_CONTENT_LENGTH);
    }
    k += h2_resp_fields(r, names, nv + k, nlines);
    s->has_body = !bodyless;
    s->submitted = 1;
    rc = h2s_submit_response(h->h2->ss, s->id, (unsigned)r->status, nv, k,
                             !bodyless);
    if (nv != nvbuf)
        free(nv);
    if (names != namebuf)
        free(names);
    if (rc != 0)
        return LOOM_ERROR;
    h2_want_flush(h);
    return LOOM_OK;
}

static int h2_send_body(http_req_t *r, const void *p, size_t len)
{
    h2_stream_t *s = (h2_stream_t *)r;
    http_h1_conn_t *h = s->h;

    if (h->closed || s->closed)
        return LOOM_ERROR;
    if (!s->has_body || len == 0)
        return LOOM_OK;
    if (s->out_len + len > s->out_cap) {
        if (s->out_off) {
            memmove(s->out, s->out + s->out_off, s->out_len - s->out_off);
            s->out_len -= s->out_off;
            s->out_off = 0;
        }
        if (s->out_len + len > s->out_cap) {
            s->out_cap = s->out_len + len;
            s->out = loom_realloc(s->out, s->out_cap);
        }
    }
    memcpy(s->out + s->out_len, p, len);
    s->out_len += len;
    if (s->deferred) {
        s->deferred = 0;
        h2s_resume_data(h->h2->ss, s->id);
    }
    h2_want_flush(h);
    if (s->out_len - s->out_off >= H2_OUT_HIWAT) {
        s->want_writable = 1;
        return LOOM_AGAIN;
    }
    return LOOM_OK;
}

static size_t h2_pending(http_req_t *r)
{
    h2_stream_t *s = (h2_stream_t *)r;

    return s->out_len - s->out_off;
}

static int h2_send_file(http_req_t *r, int fd, off_t off, size_t len)
{
    (void)r;
    (void)fd;
    (void)off;
    (void)len;
    return LOOM_DECLINED; /* the output layer pumps it through send_body */
}

static void h2_finish(http_req_t *r)
{
    h2_stream_t *s = (h2_stream_t *)r;
    http_h1_conn_t *h = s->h;

    http_req_done(r);
    s->eof = 1;
    if (h->closed || s->closed)
        return;
    if (s->deferred) {
        s->deferred = 0;
        h2s_resume_data(h->h2->ss, s->id);
    }
    h2_want_flush(h);
}

static void h2_reset(http_req_t *r)
{
    h2_stream_t *s = (h2_stream_t *)r;
    http_h1_conn_t *h = s->h;

    if (h->closed || s->closed)
        return;
    h2s_submit_rst(h->h2->ss, s->id, H2_INTERNAL_ERROR);
    h2_want_flush(h);
}

/* ---- request bodies
 * ------------------------------------------------------------ */

/* Hand buffered body bytes (and the end) to the handler. */
static void h2_body_deliver(http_h1_conn_t *h, h2_stream_t *s)
{
    http_req_t *r = &s->req;

    while (!s->paused && !s->closed && !h->closed) {
        if (s->in_len) {
            size_t n = s->in_len;

            s->in_len = 0;
            http_req_body(r, s->in, n, 0);
            if (!h->closed)
                h2s_consume(h->h2->ss, s->id, n);
            h2_want_flush(h);
            continue;
        }
        if (s->end_pending) {
            s->end_pending = 0;
            http_req_body(r, "", 0, 1);
        }
        break;
    }
}

static void h2_pause_body(http_req_t *r, int pause)
{
    h2_stream_t *s = (h2_stream_t *)r;

    s->paused = pause;
    if (!pause)
        h2_body_deliver(s->h, s);
}

/* Does anybody take body bytes for this stream? */
static int h2_body_wanted(h2_stream_t *s)
{
    return s->started && !(s->req.flags & (HTTP_RF_DONE | HTTP_RF_ABORTED));
}

/* ---- session callbacks
 * ------------------------------------------------------------ */

static h2_stream_t *h2_stream_new(http_h1_conn_t *h, int32_t id)
{
    http_h2_conn_t *h2 = h->h2;
    h2_stream_t *s = h2->spare;

    if (s) { /* clear it but for the buffers */
        char *hbuf = s->hbuf, *out = s->out, *rh = s->req.resp_headers;
        char *np = s->req.npath;
        size_t npcap = s->req.npath_cap;
        size_t hcap = s->hcap, hoffcap = s->hoffcap, fcap = s->fcap;
        size_t out_cap = s->out_cap, rhcap = s->req.resp_hcap;
        h2_hoff_t *hoff = s->hoff;
        http_field_t *fields = s->fields;

        h2->spare = s->next;
        h2->nspare--;
        memset(s, 0, sizeof(*s));
        s->hbuf = hbuf;
        s->hcap = hcap;
        s->hoff = hoff;
        s->hoffcap = hoffcap;
        s->fields = fields;
        s->fcap = fcap;
        s->out = out;
        s->out_cap = out_cap;
        s->req.resp_headers = rh;
        s->req.resp_hcap = rhcap;
        s->req.npath = np;
        s->req.npath_cap = npcap;
    } else {
        s = loom_calloc(1, sizeof(*s));
    }

    s->h = h;
    s->id = id;
    s->req.pump.fd = -1;
    s->next = h2->streams;
    if (s->next)
        s->next->prev = s;
    h2->streams = s;
    return s;
}

static void h2_on_field(void *ud, void *sud, unsigned pseudo, const char *name,
                        size_t nlen, const char *value, size_t vlen)
{
    http_h1_conn_t *h = ud;
    http_conf_t *hc = http_conf(h->hi);
    h2_stream_t *s = sud;
    h2_hoff_t o;

    if (s->hdr_status)
        return;
    if (s->hlen + nlen + vlen + 32 > hc->limits.max_head ||
        s->nh >= hc->limits.max_fields) {
        s->hdr_status = 431;
        return;
    }
    if (s->hlen + nlen + vlen > s->hcap) {
        s->hcap = s->hcap ? s->hcap * 2 : 512;
        while (s->hcap < s->hlen + nlen + vlen)
            s->hcap *= 2;
        s->hbuf = loom_realloc(s->hbuf, s->hcap);
    }
    o.no = (uint32_t)s->hlen;
    o.nl = (uint32_t)nlen;
    memcpy(s->hbuf + s->hlen, name, nlen);
    s->hlen += nlen;
    o.vo = (uint32_t)s->hlen;
    o.vl = (uint32_t)vlen;
    if (vlen)
        memcpy(s->hbuf + s->hlen, value, vlen);
    s->hlen += vlen;
    if (pseudo) { /* H2S_PSEUDO_*: the bit of s->pseudo[] */
        s->pseudo[__builtin_ctz(pseudo)] = o;
        s->have_pseudo |= pseudo;
        return;
    }
    if (s->nh == s->hoffcap) {
        s->hoffcap = s->hoffcap ? s->hoffcap * 2 : 16;
        s->hoff = loom_realloc(s->hoff, s->hoffcap * sizeof(*s->hoff));
    }
    s->hoff[s->nh++] = o;
}

static loom_slice_t h2_slice(const h2_stream_t *s, uint32_t off, uint32_t len)
{
    loom_slice_t sl;

    sl.p = s->hbuf + off;
    sl.len = len;
    return sl;
}

/* Room for N fields in S (kept across reuse). */
static http_field_t *h2_fields(h2_stream_t *s, size_t n)
{
    if (n > s->fcap) {
        free(s->fields);
        s->fields = loom_malloc(n * sizeof(*s->fields));
        s->fcap = n;
    }
    return s->fields;
}

/* The head is complete: fill the request and run it. */
static void h2_start_req(http_h1_conn_t *h, h2_stream_t *s, int end)
{
    http_req_t *r = &s->req;
    size_t i;

    http_req_init(r, h->hi, h->c, &h2_proto, s);
    r->version = 20;
    if (h->secure)
        r->flags |= HTTP_RF_SECURE;
    r->fields = h2_fields(s, s->nh + 1);
    for (i = 0; i < s->nh; i++) {
        r->fields[i].name = h2_slice(s, s->hoff[i].no, s->hoff[i].nl);
        r->fields[i].value = h2_slice(s, s->hoff[i].vo, s->hoff[i].vl);
    }
    r->nfields = s->nh;
    r->method = h2_slice(s, s->pseudo[0].vo, s->pseudo[0].vl);
    r->target = h2_slice(s, s->pseudo[1].vo, s->pseudo[1].vl);
    r->scheme = h2_slice(s, s->pseudo[2].vo, s->pseudo[2].vl);
    if (s->have_pseudo & 8) {
        r->authority = h2_slice(s, s->pseudo[3].vo, s->pseudo[3].vl);
    } else {
        const http_field_t *host = http_req_field(r, "host");

        if (host)
            r->authority = host->value;
    }
    r->content_length = end ? 0 : -1;
    if (!end) {
        const http_field_t *cl = http_req_field(r, "content-length");
        int64_t v;

        /* the session checked that it is digits and matches the DATA */
        if (cl && h1_digits(cl->value, &v) == 0)
            r->content_length = v;
    }
    s->started = 1;
    if (s->hdr_status) {
        http_resp_codec_error(r, s->hdr_status);
        return;
    }
    http_process(r);
}

/* Step two of a graceful GOAWAY: the last stream the client got in
 * before its ACK of the notice's PING (or before H2_NOTICE_WAIT). */
static void h2_goaway_final(http_h1_conn_t *h)
{
    http_h2_conn_t *h2 = h->h2;

    if (h2->goaway != 1)
        return;
    h2->goaway = 2;
    loom_timer_disarm(&h2->final);
    h2s_goaway_final(h2->ss);
    h2_want_flush(h);
}

static void *h2_on_begin(void *ud, int32_t sid)
{
    return h2_stream_new(ud, sid);
}

static void h2_on_head(void *ud, void *sud, int end)
{
    h2_stream_t *s = sud;

    if (!s->started)
        h2_start_req(ud, s, end);
}

/* The request ended (END_STREAM, checked by the session). */
static void h2_on_end(void *ud, void *sud)
{
    h2_stream_t *s = sud;

    if (s->body_done)
        return;
    s->body_done = 1;
    if (h2_body_wanted(s)) {
        s->end_pending = 1;
        h2_body_deliver(ud, s);
    } else if (s->started && !(s->req.flags & HTTP_RF_ABORTED)) {
        s->req.flags |= HTTP_RF_BODY_DONE;
    }
}

static void h2_on_ping_ack(void *ud, const uint8_t *opaque)
{
    if (memcmp(opaque, h2_notice_ping, 8) == 0)
        h2_goaway_final(ud);
}

/* A stream answered before its request body ended keeps reading that
 * body, dropping it, so that the session still checks what follows
 * (padding, content-length, trailers, windows: RFC 9113 6.1, 8.1); only
 * past a stream window of dropped bytes is the client asked to stop
 * (RST_STREAM NO_ERROR after the complete answer, 8.1). */
static void h2_discard_check(http_h1_conn_t *h, h2_stream_t *s)
{
    if (s->answered && !s->body_done && !s->closed && !s->stopped &&
        s->discard > http_conf(h->hi)->h2_window) {
        s->stopped = 1;
        h2s_submit_rst(h->h2->ss, s->id, H2_NO_ERROR);
    }
}

static void h2_on_data(void *ud, void *sud, const uint8_t *data, size_t len)
{
    http_h1_conn_t *h = ud;
    h2_stream_t *s = sud;

    if (!h2_body_wanted(s)) {
        h2s_consume(h->h2->ss, s->id, len);
        s->req.bytes_in += len;
        s->discard += len;
        h2_discard_check(h, s);
        return;
    }
    if (s->paused || s->in_len) {
        if (s->in_len + len > s->in_cap) { /* at most the stream window */
            s->in_cap = s->in_cap ? s->in_cap * 2 : 16384;
            while (s->in_cap < s->in_len + len)
                s->in_cap *= 2;
            s->in = loom_realloc(s->in, s->in_cap);
        }
        memcpy(s->in + s->in_len, data, len);
        s->in_len += len;
        return;
    }
    http_req_body(&s->req, (const char *)data, len, 0);
    if (!h->closed)
        h2s_consume(h->h2->ss, s->id, len);
}

static void h2_on_answered(void *ud, void *sud)
{
    h2_stream_t *s = sud;

    s->answered = 1;
    h2_discard_check(ud, s);
}

static void h2_on_close(void *ud, void *sud, uint32_t err)
{
    http_h1_conn_t *h = ud;
    http_h2_conn_t *h2 = h->h2;
    h2_stream_t *s = sud;

    (void)err;
    s->closed = 1;
    s->in_len = 0; /* the session gave its window back */
    if (s->started && !(s->req.flags & HTTP_RF_DONE))
        http_req_abort(&s->req);
    /* unlink from the live list, keep until no handler frame can see it */
    if (s->prev)
        s->prev->next = s->next;
    else
        h2->streams = s->next;
    if (s->next)
        s->next->prev = s->prev;
    s->prev = NULL;
    s->next = h2->dead;
    h2->dead = s;
}

static const h2s_callbacks_t h2_callbacks = {
    h2_on_begin,  h2_on_field,    h2_on_head,  h2_on_data,    h2_on_end,
    h2_read_body, h2_on_answered, h2_on_close, h2_on_ping_ack};

/* ---- starting
 * ----------------------------------------------------------------------- */

/* base64url (RFC 4648 5), padding optional; returns the length or -1. */
static long h2_b64url(loom_slice_t in, unsigned char *out, size_t cap)
{
    unsigned acc = 0, bits = 0;
    size_t i, n = 0;

    for (i = 0; i < in.len; i++) {
        int c = (unsigned char)in.p[i], v;

        if (c >= 'A' && c <= 'Z')
            v = c - 'A';
        else if (c >= 'a' && c <= 'z')
            v = c - 'a' + 26;
        else if (c >= '0' && c <= '9')
            v = c - '0' + 52;
        else if (c == '-')
            v = 62;
        else if (c == '_')
            v = 63;
        else if (c == '=' && i + 2 >= in.len)
            break;
        else
            return -1;
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (n == cap)
                return -1;
            out[n++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    return (long)n;
}

/* Stream 1 from the HTTP/1.1 request that asked for Upgrade: h2c. */
static void h2_upgraded_req(http_h1_conn_t *h, h2_stream_t *s,
                            const http_req_t *up)
{
    http_req_t *r = &s->req;

    http_req_init(r, h->hi, h->c, &h2_proto, s);
    r->version = 20;
    r->method = up->method;
    r->target = up->target;
    r->scheme = up->scheme;
    r->authority = up->authority;
    r->fields = h2_fields(s, up->nfields + 1);
    memcpy(r->fields, up->fields, up->nfields * sizeof(http_field_t));
    r->nfields = up->nfields;
    r->content_length = 0;
    s->started = 1;
    s->body_done = 1;
    http_process(r);
    if (h2_body_wanted(s)) {
        s->end_pending = 1;
        h2_body_deliver(h, s);
    }
}

int http_h2_start(http_h1_conn_t *h, http_req_t *upgrade, loom_slice_t settings)
{
    http_conf_t *hc = http_conf(h->hi);
    http_h2_conn_t *h2;
    h2s_config_t cfg;
    unsigned char sbuf[256];
    long slen = 0;

    if (upgrade) {
        slen = h2_b64url(settings, sbuf, sizeof(sbuf));
        if (slen < 0 || slen % 6 != 0)
            return LOOM_ERROR;
    }
    memset(&cfg, 0, sizeof(cfg));
    cfg.max_streams = hc->h2_max_streams;
    cfg.window = (uint32_t)hc->h2_window;
    cfg.conn_window = (uint32_t)hc->h2_conn_window;
    cfg.max_header_list = (uint32_t)hc->limits.max_head;
    cfg.max_continuations = H2_MAX_CONTINUATIONS;
    cfg.reset_burst = H2_RESET_BURST;
    cfg.reset_rate = H2_RESET_RATE;
    cfg.ctrl_burst = H2_CTRL_BURST;
    cfg.ctrl_rate = H2_CTRL_RATE;
    h2 = loom_calloc(1, sizeof(*h2));
    h2->ss = h2s_new(&h2_callbacks, h, &cfg);
    h->h2 = h2;
    loom_timer_init_conn(&h2->later, h->c, h2_on_later, h);
    loom_timer_init_conn(&h2->final, h->c, h2_on_final, h);
    loom_conn_set_max_input(h->c, 64 * 1024);
    h2_enter(h);
    if (upgrade) {
        h2_stream_t *s = h2_stream_new(h, 1);

        loom_conn_write(h->c,
                        "HTTP/1.1 101 Switching Protocols\r\n"
                        "Connection: Upgrade\r\nUpgrade: h2c\r\n\r\n",
                        71);
        if (h2s_upgrade(h2->ss, sbuf, (size_t)slen, s) != 0)
            loom_conn_abort(h->c);
        else
            h2_upgraded_req(h, s, upgrade);
    }
    h2->dirty = 1;
    h2_leave(h);
    return LOOM_OK;
}

/* ---- the stream callbacks
 * ---------------------------------------------------------- */

size_t http_h2_data(http_h1_conn_t *h, const char *buf, size_t len)
{
    http_h2_conn_t *h2 = h->h2;

    if (h->closed)
        return len;
    h2_enter(h);
    if (h2s_recv(h2->ss, (const uint8_t *)buf, len) < 0 && !h->closed)
        loom_log(LOOM_LOG_DEBUG, loom_instance_who(h->hi->inst), "%s: h2: %s",
                 loom_conn_peer(h->c), h2s_error(h2->ss));
    h2->dirty = 1;
    h2_leave(h);
    return len;
}

void http_h2_drain(http_h1_conn_t *h)
{
    if (h->closed)
        return;
    h2_enter(h);
    h->h2->blocked = 0;
    h->h2->dirty = 1;
    h2_leave(h);
}

void http_h2_close(http_h1_conn_t *h)
{
    http_h2_conn_t *h2 = h->h2;
    h2_stream_t *s;

    loom_timer_disarm(&h2->later);
    loom_timer_disarm(&h2->final);
    h->busy++;
    h2->depth++;
    for (s = h2->streams; s; s = s->next) {
        s->closed = 1;
        if (s->started && !(s->req.flags & HTTP_RF_DONE))
            http_req_abort(&s->req);
    }
    h2->depth--;
    h->busy--;
}

void http_h2_free(http_h1_conn_t *h)
{
    http_h2_conn_t *h2 = h->h2;
    h2_stream_t *s;

    if (h2 == NULL)
        return;
    loom_timer_disarm(&h2->later);
    loom_timer_disarm(&h2->final);
    while ((s = h2->streams) != NULL) {
        h2->streams = s->next;
        h2_stream_free(s);
    }
    h2_reap(h2);
    while ((s = h2->spare) != NULL) {
        h2->spare = s->next;
        h2_stream_free(s);
    }
    h2s_free(h2->ss);
    free(h2);
    h->h2 = NULL;
}

void http_h2_goaway(http_h1_conn_t *h)
{
    http_h2_conn_t *h2 = h->h2;
    loom_conn_t *c = h->c;

    if (h->closed || h2->goaway)
        return;
    h2->goaway = 1;
    loom_conn_hold(c);
    h2_enter(h);
    /* Step one (RFC 9113 6.8): GOAWAY naming 2^31-1, so that the streams
     * already on their way are still served, and after it a PING: its
     * ACK comes after them. */
    h2s_shutdown_notice(h2->ss, h2_notice_ping);
    loom_timer_arm(&h2->final, H2_NOTICE_WAIT);
    h2->dirty = 1;
    h2_leave(h);
    loom_conn_release(c);
}
