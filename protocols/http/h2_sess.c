/*
 * h2_sess.c - the HTTP/2 server session (see h2_sess.h): the receive side
 * is a byte-level state machine (preface, frame header, payload) whose
 * complete frames go through a table of handlers; the send side appends
 * frames to one output buffer, DATA being cut at h2s_send time from the
 * streams whose bodies are ready, round robin, as the windows allow.
 *
 * Streams live in a small hash by id while open or half-closed.  A stream
 * that closes leaves the hash at once (so that later frames see it
 * closed) and is remembered in a ring of recently closed ids with how it
 * closed, which decides what a late frame gets (RFC 9113 5.1): after a
 * normal close, DATA or HEADERS are a connection error STREAM_CLOSED;
 * after the peer's RST_STREAM a stream error STREAM_CLOSED; after our
 * own RST_STREAM they are ignored (they may have been in flight).  A bit
 * map of the last 64 stream ids the peer opened catches HEADERS on a
 * lower id that was never opened (5.1.1).  Callbacks for a closed stream
 * (and "answered") run from a notify list drained at the end of h2s_recv
 * and in h2s_send, never from inside a submit call.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "h2_sess.h"
#include "hpack.h"
#include "loom.h"

#define H2S_HASH 64             /* stream hash buckets (power of two) */
#define H2S_CLOSED_RING 64      /* closed streams remembered */
#define H2S_SEND_CHUNK 65536    /* h2s_send stops adding DATA past this */
#define H2S_MAX_BLOCK (1 << 20) /* a header block across CONTINUATIONs */
#define H2S_SPARE_MAX 16
#define H2S_OUT_KEEP (128 * 1024) /* larger output buffers are not kept */

enum { H2S_C_DONE = 1, H2S_C_PEER_RST, H2S_C_OURS };

typedef struct h2s_stream_s h2s_stream_t;
struct h2s_stream_s {
    int32_t sid;
    uint8_t remote_end, local_end, body, deferred, active, closing;
    uint8_t notify_answered, on_notify;
    uint32_t rst_code;
    int64_t send_window;
    int64_t recv_avail;    /* the peer may send this much more */
    uint32_t recv_unacked; /* consumed, not yet given back */
    uint64_t unconsumed;   /* delivered, not yet consumed */
    int64_t clen, rlen;    /* content-length (-1: none), DATA received */
    void *sud;
    h2s_stream_t *hnext;         /* hash chain */
    h2s_stream_t *anext, *aprev; /* active (DATA to send) list */
    h2s_stream_t *nnext;         /* notify list */
};

typedef struct {
    int32_t sid;
    uint8_t how;
} h2s_closed_t;

struct h2s_s {
    h2s_callbacks_t cb;
    void *ud;
    h2s_config_t cfg;
    hpack_decoder_t dec;
    hpack_encoder_t enc;

    h2s_stream_t *hash[H2S_HASH];
    h2s_stream_t *active, *active_tail;
    h2s_stream_t *notify, *notify_tail;
    h2s_stream_t *spare;
    unsigned nspare;
    unsigned nlive; /* streams in the hash */

    /* receiving */
    uint8_t preface_left;  /* client preface bytes still expected */
    uint8_t want_settings; /* the first frame must be SETTINGS */
    uint8_t hlen;          /* frame header bytes gathered */
    uint8_t have_hdr;      /* fh is the current frame's header */
    uint8_t hdr[H2_FRAME_HDR];
    h2_fhdr_t fh;
    uint8_t *rbuf; /* a frame payload split across reads */
    uint32_t rlen;
    int32_t max_sid;   /* the highest stream the peer opened */
    uint64_t opened;   /* bit i: stream max_sid - 2i was opened */
    int32_t last_proc; /* the highest stream accepted */
    h2s_closed_t closed[H2S_CLOSED_RING];
    unsigned nclosed;
    /* a header block across CONTINUATION frames */
    uint8_t *block;
    size_t blen, bcap;
    int32_t cont_sid; /* non-zero: CONTINUATION expected */
    uint8_t cont_flags, cont_bad_prio;
    unsigned ncont;

    /* flow control */
    int64_t conn_send; /* the peer's window for our DATA */
    int64_t conn_recv; /* our window for the peer's DATA */
    uint32_t conn_unacked;
    int64_t peer_window; /* the peer's SETTINGS_INITIAL_WINDOW_SIZE */
    uint32_t peer_frame; /* the peer's SETTINGS_MAX_FRAME_SIZE */
    uint8_t settings_acked;

    /* abuse budgets */
    double ctrl_tokens, rst_tokens;
    uint64_t ctrl_ns, rst_ns;

    /* the end */
    uint8_t goaway; /* 1: shutdown notice, 2: final GOAWAY sent */
    uint8_t goaway_recv;
    uint8_t terminated;
    const char *error;

    /* sending */
    uint8_t *out;
    size_t olen, ocap;
    int taken; /* h2s_send handed out[0..olen): start over */
};

/* ---- small things ---------------------------------------------------------
 */

static uint64_t h2s_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Take one token of a bucket (BURST, RATE per second); 0 when empty. */
static int h2s_bucket(double *tokens, uint64_t *last, double burst, double rate)
{
    uint64_t now = h2s_now_ns();

    *tokens += (double)(now - *last) / 1e9 * rate;
    if (*tokens > burst)
        *tokens = burst;
    *last = now;
    if (*tokens < 1.0)
        return 0;
    *tokens -= 1.0;
    return 1;
}

/* Room for N more output bytes; returns where they go. */
static uint8_t *h2s_reserve(h2s_t *ss, size_t n)
{
    if (ss->taken) {
        ss->taken = 0;
        ss->olen = 0;
        if (ss->ocap > H2S_OUT_KEEP) { /* a burst is over: give it back */
            free(ss->out);
            ss->out = NULL;
            ss->ocap = 0;
        }
    }
    if (ss->olen + n > ss->ocap) {
        size_t cap = ss->ocap ? ss->ocap : 16384;

        while (cap < ss->olen + n)
            cap *= 2;
        ss->out = loom_realloc(ss->out, cap);
        ss->ocap = cap;
    }
    return ss->out + ss->olen;
}

/* Append a frame of LEN payload bytes P (may be NULL when LEN is 0). */
static void h2s_frame(h2s_t *ss, uint8_t type, uint8_t flags, int32_t sid,
                      const void *p, size_t len)
{
    uint8_t *o = h2s_reserve(ss, H2_FRAME_HDR + len);

    h2_fhdr_put(o, (uint32_t)len, type, flags, sid);
    if (len)
        memcpy(o + H2_FRAME_HDR, p, len);
    ss->olen += H2_FRAME_HDR + len;
}

static void h2s_frame32(h2s_t *ss, uint8_t type, int32_t sid, uint32_t v)
{
    uint8_t b[4];

    h2_put32(b, v);
    h2s_frame(ss, type, 0, sid, b, 4);
}

static void h2s_goaway_frame(h2s_t *ss, int32_t last, uint32_t code)
{
    uint8_t b[8];

    h2_put32(b, (uint32_t)last);
    h2_put32(b + 4, code);
    h2s_frame(ss, H2_GOAWAY, 0, 0, b, 8);
}

/* ---- streams ----------------------------------------------------------------
 */

static h2s_stream_t *h2s_find(const h2s_t *ss, int32_t sid)
{
    h2s_stream_t *s = ss->hash[(uint32_t)sid / 2 % H2S_HASH];

    while (s && s->sid != sid)
        s = s->hnext;
    return s;
}

static h2s_stream_t *h2s_stream_new(h2s_t *ss, int32_t sid)
{
    h2s_stream_t *s = ss->spare, **b;

    if (s) {
        ss->spare = s->hnext;
        ss->nspare--;
        memset(s, 0, sizeof(*s));
    } else {
        s = loom_calloc(1, sizeof(*s));
    }
    s->sid = sid;
    s->clen = -1;
    s->send_window = ss->peer_window;
    s->recv_avail = ss->cfg.window;
    if (!ss->settings_acked && s->recv_avail < H2_DEFAULT_WINDOW)
        s->recv_avail = H2_DEFAULT_WINDOW;
    b = &ss->hash[(uint32_t)sid / 2 % H2S_HASH];
    s->hnext = *b;
    *b = s;
    ss->nlive++;
    return s;
}

static void h2s_active_del(h2s_t *ss, h2s_stream_t *s)
{
    if (!s->active)
        return;
    s->active = 0;
    if (s->aprev)
        s->aprev->anext = s->anext;
    else
        ss->active = s->anext;
    if (s->anext)
        s->anext->aprev = s->aprev;
    else
        ss->active_tail = s->aprev;
    s->anext = s->aprev = NULL;
}

static void h2s_active_add(h2s_t *ss, h2s_stream_t *s)
{
    if (s->active || s->closing || s->local_end || !s->body || s->deferred)
        return;
    s->active = 1;
    s->anext = NULL;
    s->aprev = ss->active_tail;
    if (ss->active_tail)
        ss->active_tail->anext = s;
    else
        ss->active = s;
    ss->active_tail = s;
}

static void h2s_notify_add(h2s_t *ss, h2s_stream_t *s)
{
    if (s->on_notify)
        return;
    s->on_notify = 1;
    s->nnext = NULL;
    if (ss->notify_tail)
        ss->notify_tail->nnext = s;
    else
        ss->notify = s;
    ss->notify_tail = s;
}

static void h2s_closed_add(h2s_t *ss, int32_t sid, uint8_t how)
{
    h2s_closed_t *c = &ss->closed[ss->nclosed++ % H2S_CLOSED_RING];

    c->sid = sid;
    c->how = how;
}

/* How stream SID closed, if it is remembered (0 if not). */
static uint8_t h2s_closed_how(const h2s_t *ss, int32_t sid)
{
    unsigned i,
        n = ss->nclosed < H2S_CLOSED_RING ? ss->nclosed : H2S_CLOSED_RING;

    for (i = 0; i < n; i++)
        if (ss->closed[i].sid == sid)
            return ss->closed[i].how;
    return 0;
}

static void h2s_conn_consume(h2s_t *ss, size_t n);

/* Close S (HOW: H2S_C_*, CODE the reset code): out of the hash now, its
 * close callback from the notify list. */
static void h2s_close(h2s_t *ss, h2s_stream_t *s, uint8_t how, uint32_t code)
{
    h2s_stream_t **b;

    if (s->closing)
        return;
    s->closing = 1;
    s->rst_code = code;
    h2s_active_del(ss, s);
    for (b = &ss->hash[(uint32_t)s->sid / 2 % H2S_HASH]; *b; b = &(*b)->hnext)
        if (*b == s) {
            *b = s->hnext;
            break;
        }
    ss->nlive--;
    h2s_closed_add(ss, s->sid, how);
    if (s->unconsumed) { /* bytes nobody will take: the connection's */
        h2s_conn_consume(ss, (size_t)s->unconsumed);
        s->unconsumed = 0;
    }
    h2s_notify_add(ss, s);
}

/* Both sides ended S? */
static void h2s_maybe_done(h2s_t *ss, h2s_stream_t *s)
{
    if (s->remote_end && s->local_end)
        h2s_close(ss, s, H2S_C_DONE, 0);
}

/* Run the deferred callbacks: "answered", then "closed" (and free). */
static void h2s_notify_run(h2s_t *ss)
{
    h2s_stream_t *s;

    while ((s = ss->notify) != NULL) {
        ss->notify = s->nnext;
        if (ss->notify == NULL)
            ss->notify_tail = NULL;
        s->on_notify = 0;
        if (s->notify_answered) {
            s->notify_answered = 0;
            if (ss->cb.answered && s->sud)
                ss->cb.answered(ss->ud, s->sud);
        }
        if (!s->closing || s->on_notify)
            continue; /* answered only, or queued again meanwhile */
        if (ss->cb.close && s->sud)
            ss->cb.close(ss->ud, s->sud, s->rst_code);
        if (ss->nspare < H2S_SPARE_MAX) {
            s->hnext = ss->spare;
            ss->spare = s;
            ss->nspare++;
        } else {
            free(s);
        }
    }
}

/* ---- errors
 * -------------------------------------------------------------------
 */

void h2s_terminate(h2s_t *ss, uint32_t code, const char *why)
{
    if (ss->terminated)
        return;
    ss->terminated = 1;
    ss->error = why;
    h2s_goaway_frame(ss, ss->last_proc, code);
}

/* A stream error on SID (S if it is live): RST_STREAM CODE. */
static void h2s_stream_error(h2s_t *ss, h2s_stream_t *s, int32_t sid,
                             uint32_t code)
{
    h2s_frame32(ss, H2_RST_STREAM, sid, code);
    if (s)
        h2s_close(ss, s, H2S_C_OURS, code);
    else
        h2s_closed_add(ss, sid, H2S_C_OURS);
}

/* ---- windows
 * ------------------------------------------------------------------
 */

static void h2s_conn_consume(h2s_t *ss, size_t n)
{
    ss->conn_unacked += (uint32_t)n;
    if (ss->conn_unacked >= ss->cfg.conn_window / 2 && !ss->terminated) {
        h2s_frame32(ss, H2_WINDOW_UPDATE, 0, ss->conn_unacked);
        ss->conn_recv += ss->conn_unacked;
        ss->conn_unacked = 0;
    }
}

static void h2s_stream_consume(h2s_t *ss, h2s_stream_t *s, size_t n)
{
    if (s->remote_end || s->closing)
        return;
    s->recv_unacked += (uint32_t)n;
    if (s->recv_unacked >= ss->cfg.window / 2 && !ss->terminated) {
        h2s_frame32(ss, H2_WINDOW_UPDATE, s->sid, s->recv_unacked);
        s->recv_avail += s->recv_unacked;
        s->recv_unacked = 0;
    }
}

void h2s_consume(h2s_t *ss, int32_t sid, size_t len)
{
    h2s_stream_t *s = h2s_find(ss, sid);

    if (s == NULL)
        return; /* closed: its bytes went back to the connection */
    if (len > s->unconsumed)
        len = (size_t)s->unconsumed;
    s->unconsumed -= len;
    h2s_conn_consume(ss, len);
    h2s_stream_consume(ss, s, len);
}

/* ---- header blocks
 * --------------------------------------------------------------
 */

/* What a header block is checked and delivered as. */
enum { H2S_B_IGNORE, H2S_B_REQUEST, H2S_B_TRAILERS };

#define H2S_P_METHOD H2S_PSEUDO_METHOD
#define H2S_P_PATH H2S_PSEUDO_PATH
#define H2S_P_SCHEME H2S_PSEUDO_SCHEME
#define H2S_P_AUTHORITY H2S_PSEUDO_AUTHORITY

typedef struct {
    h2s_t *ss;
    h2s_stream_t *s;
    int kind;
    int bad;     /* the block breaks a request rule: stream error */
    int regular; /* a regular field was seen */
    unsigned pseudo;
    int host;
    int connect, options, path_ok, path_star;
    int64_t clen;
} h2s_block_t;

static int h2s_streq(const char *a, size_t al, const char *b, size_t bl)
{
    return al == bl && memcmp(a, b, bl) == 0;
}

/* A pseudo-field (by its static index: hpack tells us the name's):
 * returns its H2S_P_* bit and records what the request rules need, or -1
 * when it is malformed (unknown, repeated, after a regular field, empty). */
static int h2s_pseudo(h2s_block_t *b, const hpack_field_t *f)
{
    unsigned bit;

    if (b->kind != H2S_B_REQUEST || b->regular)
        return -1;
    switch (f->name_index) {
    case HPACK_IDX_METHOD:
        bit = H2S_P_METHOD;
        if (f->value_len == 0)
            return -1;
        b->connect = h2s_streq(f->value, f->value_len, "CONNECT", 7);
        b->options = h2s_streq(f->value, f->value_len, "OPTIONS", 7);
        break;
    case HPACK_IDX_PATH:
        bit = H2S_P_PATH;
        if (f->value_len == 0)
            return -1;
        b->path_ok = f->value[0] == '/';
        b->path_star = f->value_len == 1 && f->value[0] == '*';
        break;
    case HPACK_IDX_SCHEME:
        bit = H2S_P_SCHEME;
        break;
    case HPACK_IDX_AUTHORITY:
        bit = H2S_P_AUTHORITY;
        break;
    default:
        return -1; /* unknown, or a response pseudo-field */
    }
    if (b->pseudo & bit)
        return -1; /* twice */
    b->pseudo |= bit;
    return (int)bit;
}

/* Is the field NAME[NL] (not in the static table) connection-specific
 * (RFC 9113 8.2.2), or a TE other than "trailers"? */
static int h2s_conn_specific(const hpack_field_t *f)
{
    const char *n = f->name;

    switch (f->name_len) {
    case 2:
        return n[0] == 't' && n[1] == 'e' &&
               !(f->value_len == 8 &&
                 strncasecmp(f->value, "trailers", 8) == 0);
    case 7:
        return memcmp(n, "upgrade", 7) == 0;
    case 10:
        return memcmp(n, "connection", 10) == 0 ||
               memcmp(n, "keep-alive", 10) == 0;
    case 16:
        return memcmp(n, "proxy-connection", 16) == 0;
    default:
        return 0;
    }
}

/* A regular field: 0 fine, -1 malformed. */
static int h2s_regular(h2s_block_t *b, const hpack_field_t *f)
{
    size_t i;

    b->regular = 1;
    if (f->name_index == 0)
        return h2s_conn_specific(f) ? -1 : 0;
    if (f->name_index == HPACK_IDX_TRANSFER_ENCODING)
        return -1;
    if (b->kind != H2S_B_REQUEST)
        return 0;
    if (f->name_index == HPACK_IDX_CONTENT_LENGTH) {
        int64_t v = 0;

        if (b->clen >= 0 || f->value_len == 0 || f->value_len > 18)
            return -1;
        for (i = 0; i < f->value_len; i++) {
            if (f->value[i] < '0' || f->value[i] > '9')
                return -1;
            v = v * 10 + (f->value[i] - '0');
        }
        b->clen = v;
    } else if (f->name_index == HPACK_IDX_HOST) {
        b->host = 1;
    }
    return 0;
}

static int h2s_on_field(void *ud, const hpack_field_t *f)
{
    h2s_block_t *b = ud;
    int rc;

    if (b->kind == H2S_B_IGNORE || b->bad)
        return 0;
    if (f->flags & HPACK_FIELD_BAD) {
        b->bad = 1;
        return 0;
    }
    rc = f->name[0] == ':' ? h2s_pseudo(b, f) : h2s_regular(b, f);
    if (rc < 0) {
        b->bad = 1;
        return 0;
    }
    if (b->kind == H2S_B_REQUEST && b->ss->cb.field)
        b->ss->cb.field(b->ss->ud, b->s->sud, (unsigned)rc, f->name,
                        f->name_len, f->value, f->value_len);
    return 0;
}

/* After a request block: are the pseudo-fields complete (8.3.1)? */
static int h2s_request_ok(const h2s_block_t *b)
{
    if (!(b->pseudo & H2S_P_METHOD))
        return 0;
    if (b->connect)
        return (b->pseudo & H2S_P_AUTHORITY) &&
               !(b->pseudo & (H2S_P_PATH | H2S_P_SCHEME));
    if ((b->pseudo & (H2S_P_PATH | H2S_P_SCHEME)) !=
        (H2S_P_PATH | H2S_P_SCHEME))
        return 0;
    if (!(b->pseudo & H2S_P_AUTHORITY) && !b->host)
        return 0;
    return b->path_ok || (b->path_star && b->options);
}

/* Decode BLOCK[LEN] as KIND for S; returns 0, or -1 after a connection
 * error. */
static int h2s_decode(h2s_t *ss, h2s_block_t *b, const uint8_t *block,
                      size_t len)
{
    int rc = hpack_decode(&ss->dec, block, len, h2s_on_field, b);

    if (HPACK_CONNECTION_ERROR(rc)) {
        h2s_terminate(ss, H2_COMPRESSION_ERROR, "HPACK: bad header block");
        return -1;
    }
    if (rc == HPACK_ERR_LIST_SIZE)
        b->bad = 1;
    return 0;
}

/* A new request stream SID with the block BLOCK[LEN]; FLAGS of HEADERS. */
static void h2s_new_request(h2s_t *ss, int32_t sid, uint8_t flags,
                            const uint8_t *block, size_t len, int bad_prio)
{
    h2s_block_t b;
    h2s_stream_t *s;
    int end = (flags & H2_F_END_STREAM) != 0;

    memset(&b, 0, sizeof(b));
    b.ss = ss;
    b.clen = -1;
    {
        uint32_t d = (uint32_t)(sid - ss->max_sid) / 2;

        ss->opened = (d >= 64 ? 0 : ss->opened << d) | 1;
        ss->max_sid = sid;
    }
    if (ss->goaway == 2) { /* past our last stream */
        b.kind = H2S_B_IGNORE;
        h2s_decode(ss, &b, block, len);
        return;
    }
    if (ss->nlive >= ss->cfg.max_streams) {
        b.kind = H2S_B_IGNORE;
        if (h2s_decode(ss, &b, block, len) == 0)
            h2s_stream_error(ss, NULL, sid, H2_REFUSED_STREAM);
        return;
    }
    s = h2s_stream_new(ss, sid);
    s->sud = ss->cb.begin ? ss->cb.begin(ss->ud, sid) : NULL;
    b.kind = H2S_B_REQUEST;
    b.s = s;
    if (h2s_decode(ss, &b, block, len) < 0)
        return;
    ss->last_proc = sid;
    if (b.bad || bad_prio || !h2s_request_ok(&b) || (end && b.clen > 0)) {
        h2s_stream_error(ss, s, sid, H2_PROTOCOL_ERROR);
        return;
    }
    s->clen = b.clen;
    if (ss->cb.head)
        ss->cb.head(ss->ud, s->sud, end);
    if (end && !s->closing) {
        s->remote_end = 1;
        if (ss->cb.end)
            ss->cb.end(ss->ud, s->sud);
        if (!s->closing)
            h2s_maybe_done(ss, s);
    }
}

/* A complete header block for SID. */
static void h2s_block(h2s_t *ss, int32_t sid, uint8_t flags,
                      const uint8_t *block, size_t len, int bad_prio)
{
    h2s_stream_t *s;
    h2s_block_t b;
    uint8_t how;

    if (sid > ss->max_sid) {
        h2s_new_request(ss, sid, flags, block, len, bad_prio);
        return;
    }
    memset(&b, 0, sizeof(b));
    b.ss = ss;
    b.clen = -1;
    s = h2s_find(ss, sid);
    b.kind = s && !s->remote_end ? H2S_B_TRAILERS : H2S_B_IGNORE;
    b.s = s;
    if (h2s_decode(ss, &b, block, len) < 0)
        return;
    if (s && s->remote_end) { /* half-closed (remote): 5.1 */
        h2s_terminate(ss, H2_STREAM_CLOSED, "HEADERS after END_STREAM");
        return;
    }
    if (s) { /* trailers: END_STREAM, no pseudo-fields (8.1) */
        if (b.bad || bad_prio || !(flags & H2_F_END_STREAM) ||
            (s->clen >= 0 && s->clen != s->rlen)) {
            h2s_stream_error(ss, s, sid, H2_PROTOCOL_ERROR);
            return;
        }
        s->remote_end = 1;
        if (ss->cb.end)
            ss->cb.end(ss->ud, s->sud);
        if (!s->closing)
            h2s_maybe_done(ss, s);
        return;
    }
    {
        uint32_t d = (uint32_t)(ss->max_sid - sid) / 2;

        if (d < 64 && !((ss->opened >> d) & 1)) {
            h2s_terminate(ss, H2_PROTOCOL_ERROR,
                          "HEADERS on a lower, unopened stream id");
            return;
        }
    }
    how = h2s_closed_how(ss, sid);
    if (how == H2S_C_OURS)
        return;
    h2s_terminate(ss, H2_STREAM_CLOSED, "HEADERS on a closed stream");
}

/* ---- frame handlers
 * -------------------------------------------------------------
 */

typedef void (*h2s_handler_t)(h2s_t *ss, const h2_fhdr_t *fh, const uint8_t *p);

/* Strip the padding of P[*LEN] (PADDED in FLAGS): returns the start of
 * the content and sets *LEN, *PAD (bytes of padding incl. the length
 * byte), or NULL after a connection error. */
static const uint8_t *h2s_unpad(h2s_t *ss, uint8_t flags, const uint8_t *p,
                                uint32_t *len, uint32_t *pad)
{
    *pad = 0;
    if (!(flags & H2_F_PADDED))
        return p;
    if (*len < 1 || p[0] >= *len) {
        h2s_terminate(ss, H2_PROTOCOL_ERROR, "bad padding");
        return NULL;
    }
    *pad = (uint32_t)p[0] + 1;
    *len -= *pad;
    return p + 1;
}

static int h2s_ctrl_budget(h2s_t *ss)
{
    if (h2s_bucket(&ss->ctrl_tokens, &ss->ctrl_ns, ss->cfg.ctrl_burst,
                   ss->cfg.ctrl_rate))
        return 1;
    h2s_terminate(ss, H2_ENHANCE_YOUR_CALM, "control frame flood");
    return 0;
}

/* Is SID idle (never opened by the peer)?  We open no streams. */
static int h2s_idle(const h2s_t *ss, int32_t sid)
{
    return (sid & 1) == 0 || sid > ss->max_sid;
}

static void h2s_on_data(h2s_t *ss, const h2_fhdr_t *fh, const uint8_t *p)
{
    uint32_t len = fh->len, pad;
    h2s_stream_t *s;
    int end = (fh->flags & H2_F_END_STREAM) != 0;

    if (fh->sid == 0 || h2s_idle(ss, fh->sid)) {
        h2s_terminate(ss, H2_PROTOCOL_ERROR, "DATA on an idle stream");
        return;
    }
    p = h2s_unpad(ss, fh->flags, p, &len, &pad);
    if (p == NULL)
        return;
    if (fh->len > ss->conn_recv) {
        h2s_terminate(ss, H2_FLOW_CONTROL_ERROR, "connection window overrun");
        return;
    }
    ss->conn_recv -= fh->len;
    if (fh->len == 0 && !end && !h2s_ctrl_budget(ss))
        return;
    s = h2s_find(ss, fh->sid);
    if (s && s->remote_end) { /* half-closed (remote): 5.1 */
        h2s_terminate(ss, H2_STREAM_CLOSED, "DATA after END_STREAM");
        return;
    }
    if (s == NULL) { /* closed: ignored only after our own RST_STREAM */
        uint8_t how = h2s_closed_how(ss, fh->sid);

        h2s_conn_consume(ss, fh->len);
        if (how == H2S_C_DONE || how == H2S_C_PEER_RST)
            h2s_terminate(ss, H2_STREAM_CLOSED, "DATA on a closed stream");
        return;
    }
    if (fh->len > s->recv_avail) {
        h2s_terminate(ss, H2_FLOW_CONTROL_ERROR, "stream window overrun");
        return;
    }
    s->recv_avail -= fh->len;
    if (pad) {
        h2s_conn_consume(ss, pad);
        h2s_stream_consume(ss, s, pad);
    }
    s->rlen += len;
    if (s->clen >= 0 && (s->rlen > s->clen || (end && s->rlen != s->clen))) {
        h2s_conn_consume(ss, len);
        h2s_stream_error(ss, s, fh->sid, H2_PROTOCOL_ERROR);
        return;
    }
    if (len) {
        s->unconsumed += len;
        if (ss->cb.data)
            ss->cb.data(ss->ud, s->sud, p, len);
    }
    if (end && !s->closing) {
        s->remote_end = 1;
        if (ss->cb.end)
            ss->cb.end(ss->ud, s->sud);
        if (!s->closing)
            h2s_maybe_done(ss, s);
    }
}

static void h2s_on_headers(h2s_t *ss, const h2_fhdr_t *fh, const uint8_t *p)
{
    uint32_t len = fh->len, pad;
    int bad_prio = 0;

    if (fh->sid == 0 || (fh->sid & 1) == 0) {
        h2s_terminate(ss, H2_PROTOCOL_ERROR, "HEADERS on a bad stream id");
        return;
    }
    p = h2s_unpad(ss, fh->flags, p, &len, &pad);
    if (p == NULL)
        return;
    if (fh->flags & H2_F_PRIORITY) {
        if (len < 5) {
            h2s_terminate(ss, H2_FRAME_SIZE_ERROR, "short HEADERS");
            return;
        }
        bad_prio = (int32_t)(h2_get32(p) & 0x7fffffffu) == fh->sid;
        p += 5;
        len -= 5;
    }
    if (fh->flags & H2_F_END_HEADERS) {
        h2s_block(ss, fh->sid, fh->flags, p, len, bad_prio);
        return;
    }
    ss->cont_sid = fh->sid;
    ss->cont_flags = fh->flags;
    ss->cont_bad_prio = (uint8_t)bad_prio;
    ss->ncont = 0;
    ss->blen = 0;
    if (len > ss->bcap || ss->bcap == 0) {
        ss->bcap = len < 16384 ? 16384 : len;
        ss->block = loom_realloc(ss->block, ss->bcap);
    }
    memcpy(ss->block, p, len);
    ss->blen = len;
}

static void h2s_on_continuation(h2s_t *ss, const h2_fhdr_t *fh,
                                const uint8_t *p)
{
    if (ss->cont_sid == 0) {
        h2s_terminate(ss, H2_PROTOCOL_ERROR, "CONTINUATION without HEADERS");
        return;
    }
    if (++ss->ncont > ss->cfg.max_continuations) {
        h2s_terminate(ss, H2_ENHANCE_YOUR_CALM, "too many CONTINUATION frames");
        return;
    }
    if (ss->blen + fh->len > H2S_MAX_BLOCK) {
        h2s_terminate(ss, H2_ENHANCE_YOUR_CALM, "header block too large");
        return;
    }
    if (ss->blen + fh->len > ss->bcap) {
        while (ss->bcap < ss->blen + fh->len)
            ss->bcap *= 2;
        ss->block = loom_realloc(ss->block, ss->bcap);
    }
    memcpy(ss->block + ss->blen, p, fh->len);
    ss->blen += fh->len;
    if (fh->flags & H2_F_END_HEADERS) {
        int32_t sid = ss->cont_sid;

        ss->cont_sid = 0;
        h2s_block(ss, sid, ss->cont_flags, ss->block, ss->blen,
                  ss->cont_bad_prio);
        if (ss->bcap > 65536) { /* do not keep a big one */
            free(ss->block);
            ss->block = NULL;
            ss->bcap = 0;
        }
    }
}

static void h2s_on_priority(h2s_t *ss, const h2_fhdr_t *fh, const uint8_t *p)
{
    if (fh->sid == 0) {
        h2s_terminate(ss, H2_PROTOCOL_ERROR, "PRIORITY on stream 0");
        return;
    }
    if (fh->len != 5) {
        h2s_terminate(ss, H2_FRAME_SIZE_ERROR, "PRIORITY of a bad length");
        return;
    }
    if (!h2s_ctrl_budget(ss))
        return;
    if ((int32_t)(h2_get32(p) & 0x7fffffffu) == fh->sid)
        h2s_stream_error(ss, h2s_find(ss, fh->sid), fh->sid, H2_PROTOCOL_ERROR);
    /* otherwise ignored: we do not prioritise (RFC 9113 5.3.2) */
}

static void h2s_on_rst(h2s_t *ss, const h2_fhdr_t *fh, const uint8_t *p)
{
    h2s_stream_t *s;

    if (fh->len != 4) {
        h2s_terminate(ss, H2_FRAME_SIZE_ERROR, "RST_STREAM of a bad length");
        return;
    }
    if (fh->sid == 0 || h2s_idle(ss, fh->sid)) {
        h2s_terminate(ss, H2_PROTOCOL_ERROR, "RST_STREAM on an idle stream");
        return;
    }
    s = h2s_find(ss, fh->sid);
    if (s == NULL)
        return;
    if (!h2s_bucket(&ss->rst_tokens, &ss->rst_ns, ss->cfg.reset_burst,
                    ss->cfg.reset_rate)) {
        h2s_terminate(ss, H2_ENHANCE_YOUR_CALM, "stream reset flood");
        return;
    }
    h2s_close(ss, s, H2S_C_PEER_RST, h2_get32(p));
}

/* Apply the settings P[LEN]; returns 0 or -1 after a connection error. */
static int h2s_settings(h2s_t *ss, const uint8_t *p, size_t len)
{
    size_t i;

    for (i = 0; i + 6 <= len; i += 6) {
        uint16_t id = (uint16_t)((p[i] << 8) | p[i + 1]);
        uint32_t v = h2_get32(p + i + 2);

        if (id == H2_SET_HEADER_TABLE_SIZE) {
            hpack_encoder_set_peer_max(&ss->enc, v);
        } else if (id == H2_SET_ENABLE_PUSH && v > 1) {
            h2s_terminate(ss, H2_PROTOCOL_ERROR, "bad ENABLE_PUSH");
            return -1;
        } else if (id == H2_SET_INITIAL_WINDOW_SIZE) {
            int64_t delta = (int64_t)v - ss->peer_window;
            h2s_stream_t *s;
            unsigned b;

            if (v > H2_MAX_WINDOW) {
                h2s_terminate(ss, H2_FLOW_CONTROL_ERROR, "window too large");
                return -1;
            }
            ss->peer_window = v;
            for (b = 0; b < H2S_HASH; b++)
                for (s = ss->hash[b]; s; s = s->hnext) {
                    s->send_window += delta;
                    if (s->send_window > H2_MAX_WINDOW) {
                        h2s_terminate(ss, H2_FLOW_CONTROL_ERROR,
                                      "window overflow");
                        return -1;
                    }
                }
        } else if (id == H2_SET_MAX_FRAME_SIZE) {
            if (v < H2_DEFAULT_FRAME || v > H2_MAX_FRAME) {
                h2s_terminate(ss, H2_PROTOCOL_ERROR, "bad MAX_FRAME_SIZE");
                return -1;
            }
            ss->peer_frame = v;
        }
    }
    return 0;
}

static void h2s_on_settings(h2s_t *ss, const h2_fhdr_t *fh, const uint8_t *p)
{
    if (fh->sid != 0) {
        h2s_terminate(ss, H2_PROTOCOL_ERROR, "SETTINGS on a stream");
        return;
    }
    if (fh->flags & H2_F_ACK) {
        if (fh->len != 0)
            h2s_terminate(ss, H2_FRAME_SIZE_ERROR, "SETTINGS ACK with data");
        else
            ss->settings_acked = 1;
        return;
    }
    if (fh->len % 6) {
        h2s_terminate(ss, H2_FRAME_SIZE_ERROR, "SETTINGS of a bad length");
        return;
    }
    if (!h2s_ctrl_budget(ss) || h2s_settings(ss, p, fh->len) < 0)
        return;
    h2s_frame(ss, H2_SETTINGS, H2_F_ACK, 0, NULL, 0);
}

static void h2s_on_push_promise(h2s_t *ss, const h2_fhdr_t *fh,
                                const uint8_t *p)
{
    (void)fh;
    (void)p;
    h2s_terminate(ss, H2_PROTOCOL_ERROR, "PUSH_PROMISE from a client");
}

static void h2s_on_ping(h2s_t *ss, const h2_fhdr_t *fh, const uint8_t *p)
{
    if (fh->sid != 0) {
        h2s_terminate(ss, H2_PROTOCOL_ERROR, "PING on a stream");
        return;
    }
    if (fh->len != 8) {
        h2s_terminate(ss, H2_FRAME_SIZE_ERROR, "PING of a bad length");
        return;
    }
    if (fh->flags & H2_F_ACK) {
        if (ss->cb.ping_ack)
            ss->cb.ping_ack(ss->ud, p);
        return;
    }
    if (h2s_ctrl_budget(ss))
        h2s_frame(ss, H2_PING, H2_F_ACK, 0, p, 8);
}

static void h2s_on_goaway(h2s_t *ss, const h2_fhdr_t *fh, const uint8_t *p)
{
    (void)p;
    if (fh->sid != 0) {
        h2s_terminate(ss, H2_PROTOCOL_ERROR, "GOAWAY on a stream");
        return;
    }
    if (fh->len < 8) {
        h2s_terminate(ss, H2_FRAME_SIZE_ERROR, "short GOAWAY");
        return;
    }
    ss->goaway_recv = 1;
}

static void h2s_on_window_update(h2s_t *ss, const h2_fhdr_t *fh,
                                 const uint8_t *p)
{
    uint32_t inc;
    h2s_stream_t *s;

    if (fh->len != 4) {
        h2s_terminate(ss, H2_FRAME_SIZE_ERROR, "WINDOW_UPDATE of a bad length");
        return;
    }
    inc = h2_get32(p) & 0x7fffffffu;
    if (fh->sid == 0) {
        if (inc == 0) {
            h2s_terminate(ss, H2_PROTOCOL_ERROR, "WINDOW_UPDATE of 0");
            return;
        }
        ss->conn_send += inc;
        if (ss->conn_send > H2_MAX_WINDOW)
            h2s_terminate(ss, H2_FLOW_CONTROL_ERROR, "window overflow");
        return;
    }
    if (h2s_idle(ss, fh->sid)) {
        h2s_terminate(ss, H2_PROTOCOL_ERROR, "WINDOW_UPDATE on an idle stream");
        return;
    }
    s = h2s_find(ss, fh->sid);
    if (s == NULL)
        return;
    if (inc == 0) {
        h2s_stream_error(ss, s, fh->sid, H2_PROTOCOL_ERROR);
        return;
    }
    s->send_window += inc;
    if (s->send_window > H2_MAX_WINDOW)
        h2s_stream_error(ss, s, fh->sid, H2_FLOW_CONTROL_ERROR);
}

static const h2s_handler_t h2s_handlers[H2_NTYPES] = {
    [H2_DATA] = h2s_on_data,
    [H2_HEADERS] = h2s_on_headers,
    [H2_PRIORITY] = h2s_on_priority,
    [H2_RST_STREAM] = h2s_on_rst,
    [H2_SETTINGS] = h2s_on_settings,
    [H2_PUSH_PROMISE] = h2s_on_push_promise,
    [H2_PING] = h2s_on_ping,
    [H2_GOAWAY] = h2s_on_goaway,
    [H2_WINDOW_UPDATE] = h2s_on_window_update,
    [H2_CONTINUATION] = h2s_on_continuation,
};

/* ---- receiving
 * ----------------------------------------------------------------------
 */

/* The frame header is in: checks that need no payload.  Returns 0, or -1
 * after a connection error. */
static int h2s_check_header(h2s_t *ss, const h2_fhdr_t *fh)
{
    if (fh->len > H2_DEFAULT_FRAME) {
        h2s_terminate(ss, H2_FRAME_SIZE_ERROR, "frame too large");
        return -1;
    }
    if (ss->cont_sid &&
        (fh->type != H2_CONTINUATION || fh->sid != ss->cont_sid)) {
        h2s_terminate(ss, H2_PROTOCOL_ERROR, "frame inside a header block");
        return -1;
    }
    if (ss->want_settings) {
        if (fh->type != H2_SETTINGS || (fh->flags & H2_F_ACK)) {
            h2s_terminate(ss, H2_PROTOCOL_ERROR, "no SETTINGS after preface");
            return -1;
        }
        ss->want_settings = 0;
    }
    return 0;
}

static void h2s_dispatch(h2s_t *ss, const uint8_t *p)
{
    const h2_fhdr_t *fh = &ss->fh;

    if (fh->type < H2_NTYPES && h2s_handlers[fh->type])
        h2s_handlers[fh->type](ss, fh, p);
    /* unknown types are ignored (RFC 9113 4.1) */
}

int h2s_recv(h2s_t *ss, const uint8_t *p, size_t len)
{
    static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    size_t pos = 0;

    while (pos < len && !ss->terminated) {
        size_t n = len - pos;

        if (ss->preface_left) {
            size_t off = sizeof(preface) - 1 - ss->preface_left;

            if (n > ss->preface_left)
                n = ss->preface_left;
            if (memcmp(p + pos, preface + off, n) != 0) {
                h2s_terminate(ss, H2_PROTOCOL_ERROR, "bad client preface");
                break;
            }
            ss->preface_left = (uint8_t)(ss->preface_left - n);
            pos += n;
            continue;
        }
        if (!ss->have_hdr) {
            if (ss->hlen == 0 && n >= H2_FRAME_HDR) {
                h2_fhdr_get(p + pos, &ss->fh);
                pos += H2_FRAME_HDR;
            } else {
                if (n > (size_t)(H2_FRAME_HDR - ss->hlen))
                    n = H2_FRAME_HDR - ss->hlen;
                memcpy(ss->hdr + ss->hlen, p + pos, n);
                ss->hlen = (uint8_t)(ss->hlen + n);
                pos += n;
                if (ss->hlen < H2_FRAME_HDR)
                    break;
                ss->hlen = 0;
                h2_fhdr_get(ss->hdr, &ss->fh);
            }
            if (h2s_check_header(ss, &ss->fh) < 0)
                break;
            ss->have_hdr = 1;
            ss->rlen = 0;
            n = len - pos;
        }
        if (ss->rlen == 0 && n >= ss->fh.len) { /* all here: in place */
            ss->have_hdr = 0;
            h2s_dispatch(ss, p + pos);
            pos += ss->fh.len;
            continue;
        }
        if (ss->rbuf == NULL)
            ss->rbuf = loom_malloc(H2_DEFAULT_FRAME);
        if (n > ss->fh.len - ss->rlen)
            n = ss->fh.len - ss->rlen;
        memcpy(ss->rbuf + ss->rlen, p + pos, n);
        ss->rlen += (uint32_t)n;
        pos += n;
        if (ss->rlen == ss->fh.len) {
            ss->have_hdr = 0;
            ss->rlen = 0;
            h2s_dispatch(ss, ss->rbuf);
        }
    }
    h2s_notify_run(ss);
    return ss->terminated ? -1 : 0;
}

/* ---- sending
 * ----------------------------------------------------------------------------
 */

int h2s_submit_response(h2s_t *ss, int32_t sid, unsigned status,
                        const h2s_nv_t *nv, size_t n, int body)
{
    h2s_stream_t *s = h2s_find(ss, sid);
    size_t bound = HPACK_BEGIN_BOUND + HPACK_FIELD_BOUND(7, 3), i, blen;
    size_t max = ss->peer_frame, start;
    uint8_t *o, *e;

    if (s == NULL || s->local_end || s->body || ss->terminated)
        return -1;
    for (i = 0; i < n; i++)
        bound += HPACK_FIELD_BOUND(nv[i].nl, nv[i].vl);
    o = h2s_reserve(ss, H2_FRAME_HDR + bound);
    start = ss->olen;
    e = hpack_encode_begin(&ss->enc, o + H2_FRAME_HDR);
    e = hpack_encode_status(&ss->enc, e, status);
    for (i = 0; i < n; i++) {
        if ((nv[i].flags & H2S_NV_LITERAL) && nv[i].sidx) {
            /* literal without indexing, indexed name: the static index
             * (< 15 + 128) and a short length fit a byte or two inline */
            if (nv[i].sidx < 15) {
                *e++ = (uint8_t)nv[i].sidx;
            } else if (nv[i].sidx < 15 + 128) {
                *e++ = 0x0f;
                *e++ = (uint8_t)(nv[i].sidx - 15);
            } else {
                e = hpack_int_encode(e, 4, 0x00, nv[i].sidx);
            }
            if (nv[i].vl < 127)
                *e++ = (uint8_t)nv[i].vl;
            else
                e = hpack_int_encode(e, 7, 0x00, (uint32_t)nv[i].vl);
            memcpy(e, nv[i].value, nv[i].vl);
            e += nv[i].vl;
            continue;
        }
        e = hpack_encode_field_idx(&ss->enc, e, nv[i].name, nv[i].nl,
                                   nv[i].sidx, nv[i].value, nv[i].vl, 0);
    }
    blen = (size_t)(e - (o + H2_FRAME_HDR));
    if (blen <= max) {
        h2_fhdr_put(o, (uint32_t)blen, H2_HEADERS,
                    (uint8_t)(H2_F_END_HEADERS | (body ? 0 : H2_F_END_STREAM)),
                    sid);
        ss->olen += H2_FRAME_HDR + blen;
    } else { /* HEADERS + CONTINUATION: make room for their headers */
        size_t nfr = (blen + max - 1) / max, k;
        uint8_t *base;

        h2s_reserve(ss, H2_FRAME_HDR * nfr + blen);
        base = ss->out + start;
        for (k = nfr; k-- > 0;) {
            size_t off = k * max, l = blen - off < max ? blen - off : max;
            uint8_t *dst = base + k * (H2_FRAME_HDR + max);
            uint8_t fl = 0;

            memmove(dst + H2_FRAME_HDR, base + H2_FRAME_HDR + off, l);
            if (k == nfr - 1)
                fl |= H2_F_END_HEADERS;
            if (k == 0 && !body)
                fl |= H2_F_END_STREAM;
            h2_fhdr_put(dst, (uint32_t)l, k ? H2_CONTINUATION : H2_HEADERS, fl,
                        sid);
        }
        ss->olen = start + H2_FRAME_HDR * nfr + blen;
    }
    if (!body) {
        s->local_end = 1;
        s->notify_answered = 1;
        h2s_notify_add(ss, s);
        h2s_maybe_done(ss, s);
        return 0;
    }
    s->body = 1;
    h2s_active_add(ss, s);
    return 0;
}

void h2s_resume_data(h2s_t *ss, int32_t sid)
{
    h2s_stream_t *s = h2s_find(ss, sid);

    if (s && s->deferred) {
        s->deferred = 0;
        h2s_active_add(ss, s);
    }
}

void h2s_submit_rst(h2s_t *ss, int32_t sid, uint32_t code)
{
    h2s_stream_t *s = h2s_find(ss, sid);

    if (s == NULL || ss->terminated)
        return;
    h2s_frame32(ss, H2_RST_STREAM, sid, code);
    h2s_close(ss, s, H2S_C_OURS, code);
}

/* One DATA frame of S, if its body and the windows allow.  Returns 1 if
 * something was made. */
static int h2s_data_frame(h2s_t *ss, h2s_stream_t *s)
{
    int64_t max = s->send_window;
    uint8_t *o;
    ssize_t n;
    int eof = 0;

    if (max > ss->conn_send)
        max = ss->conn_send;
    if (max > H2_DEFAULT_FRAME) /* whatever the peer allows: no bigger */
        max = H2_DEFAULT_FRAME;
    if (max < 0)
        max = 0;
    o = h2s_reserve(ss, H2_FRAME_HDR + (size_t)max);
    n = ss->cb.read_data(ss->ud, s->sud, o + H2_FRAME_HDR, (size_t)max, &eof);
    if (n == H2S_DEFERRED) {
        s->deferred = 1;
        h2s_active_del(ss, s);
        return 0;
    }
    if (n < 0 || (n == 0 && !eof))
        return 0; /* no window */
    h2_fhdr_put(o, (uint32_t)n, H2_DATA, eof ? H2_F_END_STREAM : 0, s->sid);
    ss->olen += H2_FRAME_HDR + (size_t)n;
    s->send_window -= n;
    ss->conn_send -= n;
    if (eof) {
        s->local_end = 1;
        h2s_active_del(ss, s);
        s->notify_answered = 1;
        h2s_notify_add(ss, s);
        h2s_maybe_done(ss, s);
    }
    return 1;
}

size_t h2s_send(h2s_t *ss, const uint8_t **data)
{
    int more = 1;

    h2s_reserve(ss, 0); /* forget what was taken */
    h2s_notify_run(ss);
    while (more && !ss->terminated && ss->olen < H2S_SEND_CHUNK) {
        h2s_stream_t *s, *next;

        more = 0;
        for (s = ss->active; s && ss->olen < H2S_SEND_CHUNK; s = next) {
            next = s->anext;
            more |= h2s_data_frame(ss, s);
        }
        if (ss->notify) {
            h2s_notify_run(ss);
            more = 1;
        }
    }
    *data = ss->out;
    ss->taken = ss->olen > 0;
    return ss->olen;
}

/* ---- the session
 * ------------------------------------------------------------------------
 */

h2s_t *h2s_new(const h2s_callbacks_t *cb, void *ud, const h2s_config_t *cfg)
{
    h2s_t *ss = loom_calloc(1, sizeof(*ss));
    uint8_t set[4 * 6], *q = set;
    static const uint16_t ids[4] = {
        H2_SET_MAX_CONCURRENT_STREAMS, H2_SET_INITIAL_WINDOW_SIZE,
        H2_SET_MAX_HEADER_LIST_SIZE, H2_SET_ENABLE_PUSH};
    uint32_t vals[4];
    int i;

    ss->cb = *cb;
    ss->ud = ud;
    ss->cfg = *cfg;
    /* twice the advertised list size: past that the decoder stops handing
     * out fields (a block of one-byte references to a big table entry
     * decodes to megabytes) and the stream is reset; below it h2.c
     * answers 431 by its own limits */
    hpack_decoder_init(&ss->dec, 4096,
                       cfg->max_header_list > UINT32_MAX / 2
                           ? UINT32_MAX
                           : 2 * cfg->max_header_list);
    hpack_encoder_init(&ss->enc, 4096, 0);
    ss->preface_left = 24;
    ss->want_settings = 1;
    ss->conn_send = H2_DEFAULT_WINDOW;
    ss->conn_recv = H2_DEFAULT_WINDOW;
    ss->peer_window = H2_DEFAULT_WINDOW;
    ss->peer_frame = H2_DEFAULT_FRAME;
    ss->ctrl_tokens = cfg->ctrl_burst;
    ss->rst_tokens = cfg->reset_burst;
    ss->ctrl_ns = ss->rst_ns = h2s_now_ns();
    vals[0] = cfg->max_streams;
    vals[1] = cfg->window;
    vals[2] = cfg->max_header_list;
    vals[3] = 0;
    for (i = 0; i < 4; i++) {
        q[0] = (uint8_t)(ids[i] >> 8);
        q[1] = (uint8_t)ids[i];
        h2_put32(q + 2, vals[i]);
        q += 6;
    }
    h2s_frame(ss, H2_SETTINGS, 0, 0, set, sizeof(set));
    if (cfg->conn_window > H2_DEFAULT_WINDOW) {
        h2s_frame32(ss, H2_WINDOW_UPDATE, 0,
                    cfg->conn_window - H2_DEFAULT_WINDOW);
        ss->conn_recv = cfg->conn_window;
    }
    return ss;
}

void h2s_free(h2s_t *ss)
{
    h2s_stream_t *s;
    unsigned b;

    if (ss == NULL)
        return;
    for (b = 0; b < H2S_HASH; b++)
        while ((s = ss->hash[b]) != NULL) {
            ss->hash[b] = s->hnext;
            if (s->on_notify)
                continue; /* freed from the notify list */
            free(s);
        }
    while ((s = ss->notify) != NULL) {
        ss->notify = s->nnext;
        free(s);
    }
    while ((s = ss->spare) != NULL) {
        ss->spare = s->hnext;
        free(s);
    }
    hpack_decoder_free(&ss->dec);
    hpack_encoder_free(&ss->enc);
    free(ss->rbuf);
    free(ss->block);
    free(ss->out);
    free(ss);
}

int h2s_upgrade(h2s_t *ss, const uint8_t *settings, size_t len, void *sud)
{
    h2s_stream_t *s;

    if (len % 6 || h2s_settings(ss, settings, len) < 0)
        return -1;
    ss->max_sid = 1;
    ss->opened = 1;
    ss->last_proc = 1;
    s = h2s_stream_new(ss, 1);
    s->sud = sud;
    s->remote_end = 1;
    return 0;
}

int h2s_alive(const h2s_t *ss)
{
    if (ss->terminated)
        return 0;
    if ((ss->goaway == 2 || ss->goaway_recv) && ss->nlive == 0 &&
        ss->notify == NULL)
        return 0;
    return 1;
}

void h2s_shutdown_notice(h2s_t *ss, const uint8_t *opaque)
{
    if (ss->goaway || ss->terminated)
        return;
    ss->goaway = 1;
    h2s_goaway_frame(ss, 0x7fffffff, H2_NO_ERROR);
    h2s_frame(ss, H2_PING, 0, 0, opaque, 8);
}

void h2s_goaway_final(h2s_t *ss)
{
    if (ss->goaway == 2 || ss->terminated)
        return;
    ss->goaway = 2;
    h2s_goaway_frame(ss, ss->last_proc, H2_NO_ERROR);
}

const char *h2s_error(const h2s_t *ss)
{
    return ss->error;
}

int32_t h2s_last_stream(const h2s_t *ss)
{
    return ss->last_proc;
}
