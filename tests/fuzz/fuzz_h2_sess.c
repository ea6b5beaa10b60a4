/*
 * fuzz_h2_sess.c - libFuzzer target: the HTTP/2 server session (h2_sess.c)
 * alone, sans I/O, with HPACK (hpack.c): no reactor, no http module.
 *
 * Input: byte 0 picks the mode (bit 0: the fuzz bytes follow a valid
 * client preface + SETTINGS; bit 1: the application answers each request
 * as soon as its head is in, else when it ends; bit 2: it defers the
 * body and resumes it after each chunk; bit 3: a graceful shutdown notice
 * after the first chunk; bits 4-5: 1-4 chunks), byte 1 places the cuts;
 * the rest is the client's byte stream.  After each chunk the output is
 * taken with h2s_send.
 *
 * Invariants: the output is a sequence of whole frames (nothing but
 * frames after the first h2s_send, which starts with our SETTINGS), no
 * frame is larger than 16384 bytes, callbacks come for streams that
 * were begun and not yet closed, and a stream's close is its last
 * callback; every stream begun is closed or still open at the end (then
 * freed here).  ASan / UBSan / LSan do the rest.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "h2_sess.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct fz_stream_s {
    int32_t sid;
    int closed;
    int answered;
    size_t body_left; /* response body still to give */
    struct fz_stream_s *next;
} fz_stream_t;

typedef struct {
    h2s_t *ss;
    fz_stream_t *streams;
    int answer_early, defer;
    unsigned begun, closed;
} fz_app_t;

static void *fz_begin(void *ud, int32_t sid)
{
    fz_app_t *a = ud;
    fz_stream_t *s = calloc(1, sizeof(*s));

    assert(s);
    s->sid = sid;
    s->body_left = (size_t)(sid % 7) * 5000;
    s->next = a->streams;
    a->streams = s;
    a->begun++;
    return s;
}

static void fz_field(void *ud, void *sud, unsigned pseudo, const char *name,
                     size_t nl, const char *value, size_t vl)
{
    fz_stream_t *s = sud;

    (void)ud;
    (void)value;
    assert(!s->closed);
    assert(nl > 0 && (pseudo != 0) == (name[0] == ':'));
    (void)vl;
}

static void fz_answer(fz_app_t *a, fz_stream_t *s)
{
    static const h2s_nv_t nv[] = {
        {"content-type", "text/plain", 12, 10, 31, 0},
        {"date", "Mon, 07 Dec 2026 21:04:37 GMT", 4, 29, 33, H2S_NV_LITERAL},
        {"x-fuzz", "1", 6, 1, 0, 0}};

    if (s->answered)
        return;
    s->answered = 1;
    h2s_submit_response(a->ss, s->sid, s->body_left ? 200 : 204, nv, 3,
                        s->body_left != 0);
}

static void fz_head(void *ud, void *sud, int end)
{
    fz_app_t *a = ud;
    fz_stream_t *s = sud;

    assert(!s->closed);
    if (a->answer_early || end)
        fz_answer(a, s);
    if (s->sid % 11 == 0)
        h2s_submit_rst(a->ss, s->sid, 2);
}

static void fz_data(void *ud, void *sud, const uint8_t *p, size_t len)
{
    fz_app_t *a = ud;
    fz_stream_t *s = sud;

    (void)p;
    assert(!s->closed && len > 0);
    h2s_consume(a->ss, s->sid, len);
}

static void fz_end(void *ud, void *sud)
{
    fz_stream_t *s = sud;

    assert(!s->closed);
    fz_answer(ud, s);
}

static ssize_t fz_read(void *ud, void *sud, uint8_t *buf, size_t len, int *eof)
{
    fz_app_t *a = ud;
    fz_stream_t *s = sud;

    assert(!s->closed && s->answered);
    if (a->defer && (s->body_left & 1)) {
        s->body_left &= ~(size_t)1;
        return H2S_DEFERRED;
    }
    if (len > s->body_left)
        len = s->body_left;
    memset(buf, 'x', len);
    s->body_left -= len;
    if (s->body_left == 0)
        *eof = 1;
    return (ssize_t)len;
}

static void fz_answered(void *ud, void *sud)
{
    fz_stream_t *s = sud;

    (void)ud;
    assert(!s->closed && s->answered);
}

static void fz_close(void *ud, void *sud, uint32_t err)
{
    fz_app_t *a = ud;
    fz_stream_t *s = sud;

    (void)err;
    assert(!s->closed);
    s->closed = 1;
    a->closed++;
}

static void fz_ping_ack(void *ud, const uint8_t *opaque)
{
    fz_app_t *a = ud;

    if (memcmp(opaque, "loombye!", 8) == 0)
        h2s_goaway_final(a->ss);
}

static const h2s_callbacks_t fz_cb = {fz_begin,    fz_field, fz_head,
                                      fz_data,     fz_end,   fz_read,
                                      fz_answered, fz_close, fz_ping_ack};

/* Take the output and check it is whole frames. */
static void fz_drain(fz_app_t *a, int first)
{
    const uint8_t *out;
    size_t n = h2s_send(a->ss, &out), pos = 0;

    if (first)
        assert(n >= 9 && out[3] == H2_SETTINGS);
    while (pos < n) {
        h2_fhdr_t fh;

        assert(n - pos >= H2_FRAME_HDR);
        h2_fhdr_get(out + pos, &fh);
        assert(fh.len <= H2_DEFAULT_FRAME && fh.type < H2_NTYPES);
        pos += H2_FRAME_HDR + fh.len;
        assert(pos <= n);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t prefix[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
                                    "\x00\x00\x00\x04\x00\x00\x00\x00\x00";
    h2s_config_t cfg;
    fz_app_t a;
    size_t chunks, cut, pos = 0, i;
    fz_stream_t *s;

    if (size < 2)
        return 0;
    memset(&a, 0, sizeof(a));
    memset(&cfg, 0, sizeof(cfg));
    cfg.max_streams = 4;
    cfg.window = 65535;
    cfg.conn_window = 1 << 20;
    cfg.max_header_list = 4096;
    cfg.max_continuations = 8;
    cfg.reset_burst = 20;
    cfg.reset_rate = 1;
    cfg.ctrl_burst = 50;
    cfg.ctrl_rate = 1;
    a.answer_early = (data[0] & 2) != 0;
    a.defer = (data[0] & 4) != 0;
    chunks = 1 + ((data[0] >> 4) & 3);
    cut = 1 + data[1];
    a.ss = h2s_new(&fz_cb, &a, &cfg);
    assert(a.ss);
    if (data[0] & 1)
        h2s_recv(a.ss, prefix, sizeof(prefix) - 1);
    fz_drain(&a, 1);
    data += 2;
    size -= 2;
    for (i = 0; i < chunks && pos <= size; i++) {
        size_t n = i + 1 == chunks ? size - pos : cut;

        if (n > size - pos)
            n = size - pos;
        h2s_recv(a.ss, data + pos, n);
        pos += n;
        if (i == 0 && (data[-2] & 8))
            h2s_shutdown_notice(a.ss, (const uint8_t *)"loombye!");
        for (s = a.streams; s; s = s->next)
            if (!s->closed)
                h2s_resume_data(a.ss, s->sid);
        fz_drain(&a, 0);
        (void)h2s_alive(a.ss);
    }
    assert(a.closed <= a.begun);
    h2s_free(a.ss);
    while ((s = a.streams) != NULL) {
        a.streams = s->next;
        free(s);
    }
    return 0;
}
