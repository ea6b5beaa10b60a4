/*
 * fuzz_ws.c - libFuzzer target: the WebSocket frame decoder and UTF-8
 * repair (ws.h).  The first input byte picks the decoder's side (masked
 * or not) and a split step; the rest is fed whole and in pieces of that
 * step, and both runs must give the same events.  Invariants: every call
 * consumes at most what it was given and WS_EV_NONE only with all of it;
 * messages fit max_message, control payloads 125 bytes; text messages
 * and close reasons are valid UTF-8; error codes are 1002, 1007 or 1009;
 * a close code is one an endpoint may send (or 1005); the repair of any
 * bytes is valid UTF-8 within three times the length.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ws.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_MSG 600
#define MAX_EVENTS 64

typedef struct {
    int type;
    unsigned code;
    size_t len;
    uint32_t sum; /* of the payload */
} rec_t;

static uint32_t sum(const uint8_t *p, size_t len)
{
    uint32_t h = 2166136261u;
    size_t i;

    for (i = 0; i < len; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

static void check(const ws_event_t *ev)
{
    switch (ev->type) {
    case WS_EV_TEXT:
        assert(ws_utf8_valid(ev->data, ev->len));
        /* fall through */
    case WS_EV_BINARY:
        assert(ev->len <= MAX_MSG);
        break;
    case WS_EV_PING:
    case WS_EV_PONG:
        assert(ev->len <= WS_CONTROL_MAX);
        break;
    case WS_EV_CLOSE:
        assert(ev->code == WS_CLOSE_NO_STATUS || ws_close_code_valid(ev->code));
        assert(ev->len <= WS_CONTROL_MAX - 2);
        assert(ws_utf8_valid(ev->data, ev->len));
        break;
    case WS_EV_ERROR:
        assert(ev->code == 1002 || ev->code == 1007 || ev->code == 1009);
        assert(ev->why != NULL);
        break;
    default:
        assert(0);
    }
}

/* Decode IN in pieces of STEP (0: whole); returns the events recorded. */
static size_t run(const uint8_t *in, size_t len, int masked, size_t step,
                  rec_t *recs)
{
    ws_decoder_t d;
    size_t at = 0, n = 0;
    int done = 0;

    ws_decoder_init(&d, MAX_MSG, masked);
    while (at < len && !done) {
        size_t piece = step && len - at > step ? step : len - at, used = 0;

        for (;;) {
            ws_event_t ev;
            size_t k = ws_decode(&d, in + at + used, piece - used, &ev);

            assert(k <= piece - used);
            used += k;
            if (ev.type == WS_EV_NONE) {
                assert(used == piece);
                break;
            }
            check(&ev);
            if (n < MAX_EVENTS) {
                recs[n].type = ev.type;
                recs[n].code = ev.code;
                recs[n].len = ev.len;
                recs[n].sum = sum(ev.data, ev.len);
                n++;
            }
            if (ev.type == WS_EV_CLOSE || ev.type == WS_EV_ERROR) {
                assert(ws_decode(&d, in + at + used, piece - used, &ev) == 0);
                done = 1;
                break;
            }
        }
        at += piece;
    }
    ws_decoder_free(&d);
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rec_t a[MAX_EVENTS], b[MAX_EVENTS];
    size_t na, nb, i, n;
    uint8_t *out;

    if (size < 1)
        return 0;
    na = run(data + 1, size - 1, data[0] & 1, 0, a);
    nb = run(data + 1, size - 1, data[0] & 1, (size_t)(data[0] >> 1) + 1, b);
    assert(na == nb);
    for (i = 0; i < na; i++) {
        assert(a[i].type == b[i].type && a[i].code == b[i].code);
        assert(a[i].len == b[i].len && a[i].sum == b[i].sum);
    }

    out = malloc(3 * size + 1);
    if (out == NULL)
        return 0;
    n = ws_utf8_repair(data, size, out);
    assert(n <= 3 * size);
    assert(ws_utf8_valid(out, n));
    if (ws_utf8_valid(data, size))
        assert(n == size && memcmp(out, data, size) == 0);
    free(out);
    return 0;
}
