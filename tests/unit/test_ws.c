/*
 * test_ws.c - the WebSocket codec (ws.h): the accept key of RFC 6455's
 * example, the handshake check (a table of good and bad requests and the
 * status each gets), the frame examples of RFC 6455 section 5.7 decoded
 * whole, split at every byte boundary and byte by byte, round trips of
 * every length class through the encoder, control frames between
 * fragments, every protocol error with its close code, the close frame,
 * and the UTF-8 check and repair.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ws.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---- the handshake ------------------------------------------------------- */

static void test_accept_key(void **state)
{
    char out[WS_ACCEPT_LEN + 1];

    (void)state;
    /* RFC 6455 section 1.3 */
    ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", 24, out);
    assert_string_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    /* another key, its value computed with
     * `printf %s KEY GUID | openssl sha1 -binary | base64` */
    ws_accept_key("x3JJHMbDL1EzLkh9GBhXDw==", 24, out);
    assert_string_equal(out, "HSmrc0sMlYUkAGmm5OPpG2HaGWk=");
}

/* Split "Name: value\n..." into fields (pointing into TEXT). */
static size_t parse_fields(const char *text, h1_field_t *f, size_t max)
{
    size_t n = 0;
    const char *p = text;

    while (*p && n < max) {
        const char *nl = strchr(p, '\n'), *colon = strchr(p, ':');
        const char *v;

        if (nl == NULL)
            nl = p + strlen(p);
        assert_non_null(colon);
        f[n].name.p = p;
        f[n].name.len = (size_t)(colon - p);
        v = colon + 1;
        while (*v == ' ')
            v++;
        f[n].value.p = v;
        f[n].value.len = (size_t)(nl - v);
        n++;
        p = *nl ? nl + 1 : nl;
    }
    return n;
}

#define KEY "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\n"
#define BASE                                                                   \
    "Host: example.test\nUpgrade: websocket\nConnection: Upgrade\n" KEY        \
    "Sec-WebSocket-Version: 13"

static void test_handshake(void **state)
{
    static const char *const protos[] = {"binary.ircv3.net", "text.ircv3.net",
                                         NULL};
    static const struct {
        const char *method;
        int version;
        const char *fields;
        int status;
        int protocol; /* chosen index; -1 none */
        int offered;
    } cases[] = {
        {"GET", 11, BASE, 101, -1, 0},
        {"GET", 11,
         "host: a\nupgrade: WebSocket\nconnection: keep-alive, upgrade\n"
         "sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\n"
         "sec-websocket-version: 13",
         101, -1, 0},
        {"GET", 11, BASE "\nSec-WebSocket-Protocol: text.ircv3.net", 101, 1, 1},
        {"GET", 11,
         BASE "\nSec-WebSocket-Protocol: text.ircv3.net, binary.ircv3.net", 101,
         1, 1},
        {"GET", 11,
         BASE "\nSec-WebSocket-Protocol: chat\n"
              "Sec-WebSocket-Protocol: , binary.ircv3.net",
         101, 0, 1},
        /* offered, none supported: go on without one */
        {"GET", 11, BASE "\nSec-WebSocket-Protocol: chat, superchat", 101, -1,
         1},
        /* names are case-sensitive */
        {"GET", 11, BASE "\nSec-WebSocket-Protocol: Text.IRCv3.net", 101, -1,
         1},
        {"GET", 11, BASE "\nConnection: close", 101, -1, 0},
        {"POST", 11, BASE, 405, -1, 0},
        {"get", 11, BASE, 405, -1, 0},
        {"GET", 20, BASE, 426, -1, 0},
        {"GET", 11,
         "Host: a\nConnection: Upgrade\n" KEY "Sec-WebSocket-Version: 13", 426,
         -1, 0},
        {"GET", 11, "Host: a\nUpgrade: h2c\nConnection: Upgrade\n" KEY, 426, -1,
         0},
        {"GET", 10, BASE, 400, -1, 0},
        {"GET", 11,
         "Host: a\nUpgrade: websocket\nConnection: keep-alive\n" KEY
         "Sec-WebSocket-Version: 13",
         400, -1, 0},
        {"GET", 11,
         "Upgrade: websocket\nConnection: Upgrade\n" KEY
         "Sec-WebSocket-Version: 13",
         400, -1, 0},
        {"GET", 11, "Host: a\nUpgrade: websocket\nConnection: Upgrade\n" KEY,
         400, -1, 0},
        {"GET", 11,
         "Host: a\nUpgrade: websocket\nConnection: Upgrade\n" KEY
         "Sec-WebSocket-Version: 8",
         426, -1, 0},
        {"GET", 11, BASE "\nSec-WebSocket-Version: 13", 426, -1, 0},
        {"GET", 11,
         "Host: a\nUpgrade: websocket\nConnection: Upgrade\n"
         "Sec-WebSocket-Version: 13",
         400, -1, 0},
        {"GET", 11, BASE "\n" KEY, 400, -1, 0},
        {"GET", 11,
         "Host: a\nUpgrade: websocket\nConnection: Upgrade\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=\n"
         "Sec-WebSocket-Version: 13",
         400, -1, 0},
        {"GET", 11,
         "Host: a\nUpgrade: websocket\nConnection: Upgrade\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZR==\n"
         "Sec-WebSocket-Version: 13",
         400, -1, 0},
        {"GET", 11,
         "Host: a\nUpgrade: websocket\nConnection: Upgrade\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25j*Q==\n"
         "Sec-WebSocket-Version: 13",
         400, -1, 0},
        {"GET", 11, BASE "\nSec-WebSocket-Protocol: text ircv3", 400, -1, 1},
        {"GET", 11, BASE "\nSec-WebSocket-Protocol: \"text.ircv3.net\"", 400,
         -1, 1},
    };
    size_t i;

    (void)state;
    for (i = 0; i < ARRAY_LEN(cases); i++) {
        h1_field_t f[16];
        size_t n = parse_fields(cases[i].fields, f, ARRAY_LEN(f));
        loom_slice_t m = {cases[i].method, strlen(cases[i].method)};
        ws_handshake_t hs;
        int st = ws_handshake_check(m, cases[i].version, f, n, protos, &hs);

        if (st != cases[i].status)
            fail_msg("case %zu: %d, not %d (%s)", i, st, cases[i].status,
                     hs.why);
        assert_int_equal(hs.status, st);
        assert_non_null(hs.why);
        if (st != 101)
            continue;
        assert_string_equal(hs.accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        assert_int_equal(hs.protocol, cases[i].protocol);
        assert_int_equal(hs.offered, cases[i].offered);
    }
}

/* ---- feeding the decoder ------------------------------------------------- */

typedef struct {
    ws_event_type_t type;
    unsigned code;
    uint8_t data[70000];
    size_t len;
} event_t;

/* Feed IN[0..LEN) in pieces of at most STEP bytes (0: all at once),
 * collecting up to MAX events into EVS; stops after a final event.
 * Returns the number of events. */
static size_t feed(ws_decoder_t *d, const uint8_t *in, size_t len, size_t step,
                   event_t *evs, size_t max)
{
    size_t at = 0, n = 0;

    while (at < len && n < max) {
        size_t piece = step && len - at > step ? step : len - at;
        size_t used = 0;

        for (;;) {
            ws_event_t ev;
            size_t k = ws_decode(d, in + at + used, piece - used, &ev);

            assert_true(k <= piece - used);
            used += k;
            if (ev.type == WS_EV_NONE) {
                assert_int_equal(used, piece);
                break;
            }
            assert_true(n < max);
            evs[n].type = ev.type;
            evs[n].code = ev.code;
            evs[n].len = ev.len;
            assert_true(ev.len <= sizeof(evs[n].data));
            if (ev.len)
                memcpy(evs[n].data, ev.data, ev.len);
            n++;
            if (ev.type == WS_EV_CLOSE || ev.type == WS_EV_ERROR) {
                /* final: repeated, nothing consumed */
                ws_event_t again;

                assert_int_equal(
                    ws_decode(d, in + at + used, piece - used, &again), 0);
                assert_int_equal(again.type, ev.type);
                assert_int_equal(again.code, ev.code);
                return n;
            }
        }
        at += piece;
    }
    return n;
}

/* Decode IN whole, byte by byte and split at every boundary; the events
 * must be the same each time.  Returns them (the whole run's) in EVS. */
static size_t feed_all_ways(const uint8_t *in, size_t len, int expect_mask,
                            size_t max_msg, event_t *evs, size_t max)
{
    static event_t other[8];
    ws_decoder_t d;
    size_t n, m, i, cut;

    ws_decoder_init(&d, max_msg, expect_mask);
    n = feed(&d, in, len, 0, evs, max);
    ws_decoder_free(&d);
    for (cut = 1; cut <= len; cut = cut < 20 ? cut + 1 : cut * 3) {
        ws_decoder_init(&d, max_msg, expect_mask);
        m = feed(&d, in, len, cut, other, ARRAY_LEN(other));
        ws_decoder_free(&d);
        assert_int_equal(m, n);
        for (i = 0; i < n; i++) {
            assert_int_equal(other[i].type, evs[i].type);
            assert_int_equal(other[i].code, evs[i].code);
            assert_int_equal(other[i].len, evs[i].len);
            assert_memory_equal(other[i].data, evs[i].data, evs[i].len);
        }
    }
    return n;
}

static event_t evs[8];

/* RFC 6455 section 5.7. */
static void test_rfc_examples(void **state)
{
    static const uint8_t text_unmasked[] = {0x81, 0x05, 0x48, 0x65,
                                            0x6c, 0x6c, 0x6f};
    static const uint8_t text_masked[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d,
                                          0x7f, 0x9f, 0x4d, 0x51, 0x58};
    static const uint8_t fragmented[] = {0x01, 0x03, 0x48, 0x65, 0x6c,
                                         0x80, 0x02, 0x6c, 0x6f};
    static const uint8_t ping[] = {0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f};
    static const uint8_t pong_masked[] = {0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d,
                                          0x7f, 0x9f, 0x4d, 0x51, 0x58};
    uint8_t big[4 + 256], huge[10 + 65536];
    size_t n, i;

    (void)state;
    n = feed_all_ways(text_unmasked, sizeof(text_unmasked), 0, 1024, evs, 8);
    assert_int_equal(n, 1);
    assert_int_equal(evs[0].type, WS_EV_TEXT);
    assert_int_equal(evs[0].len, 5);
    assert_memory_equal(evs[0].data, "Hello", 5);

    n = feed_all_ways(text_masked, sizeof(text_masked), 1, 1024, evs, 8);
    assert_int_equal(n, 1);
    assert_int_equal(evs[0].type, WS_EV_TEXT);
    assert_memory_equal(evs[0].data, "Hello", 5);

    n = feed_all_ways(fragmented, sizeof(fragmented), 0, 1024, evs, 8);
    assert_int_equal(n, 1);
    assert_int_equal(evs[0].type, WS_EV_TEXT);
    assert_int_equal(evs[0].len, 5);
    assert_memory_equal(evs[0].data, "Hello", 5);

    n = feed_all_ways(ping, sizeof(ping), 0, 1024, evs, 8);
    assert_int_equal(n, 1);
    assert_int_equal(evs[0].type, WS_EV_PING);
    assert_memory_equal(evs[0].data, "Hello", 5);

    n = feed_all_ways(pong_masked, sizeof(pong_masked), 1, 1024, evs, 8);
    assert_int_equal(n, 1);
    assert_int_equal(evs[0].type, WS_EV_PONG);
    assert_memory_equal(evs[0].data, "Hello", 5);

    /* 256 bytes binary in a single unmasked frame: 0x82 0x7E 0x0100 */
    big[0] = 0x82;
    big[1] = 0x7E;
    big[2] = 0x01;
    big[3] = 0x00;
    for (i = 0; i < 256; i++)
        big[4 + i] = (uint8_t)i;
    n = feed_all_ways(big, sizeof(big), 0, 1024, evs, 8);
    assert_int_equal(n, 1);
    assert_int_equal(evs[0].type, WS_EV_BINARY);
    assert_int_equal(evs[0].len, 256);
    assert_memory_equal(evs[0].data, big + 4, 256);

    /* 64 KiB: 0x82 0x7F 0x0000000000010000 */
    memset(huge, 0, 10);
    huge[0] = 0x82;
    huge[1] = 0x7F;
    huge[7] = 0x01;
    for (i = 0; i < 65536; i++)
        huge[10 + i] = (uint8_t)(i * 7);
    n = feed_all_ways(huge, sizeof(huge), 0, 65536, evs, 8);
    assert_int_equal(n, 1);
    assert_int_equal(evs[0].type, WS_EV_BINARY);
    assert_int_equal(evs[0].len, 65536);
    assert_memory_equal(evs[0].data, huge + 10, 65536);
}

/* Append a client frame (masked with MASK, or unmasked if NULL). */
static size_t frame(uint8_t *out, int fin, int op, const void *p, size_t len,
                    const uint8_t *mask)
{
    size_t h = ws_frame_head(out, fin, op, len, mask);

    if (len)
        memcpy(out + h, p, len);
    if (mask)
        ws_mask(out + h, len, mask, 0);
    return h + len;
}

static void test_round_trip(void **state)
{
    static const size_t lens[] = {0, 1, 125, 126, 127, 65535, 65536, 69000};
    static const uint8_t mask[4] = {0xde, 0xad, 0xbe, 0xef};
    static uint8_t in[70000], wire[70100];
    size_t i, j, n;

    (void)state;
    for (i = 0; i < 70000; i++)
        in[i] = (uint8_t)(i * 31 + 7);
    for (i = 0; i < ARRAY_LEN(lens); i++) {
        for (j = 0; j < 2; j++) {
            ws_decoder_t d;
            size_t w =
                frame(wire, 1, WS_OP_BINARY, in, lens[i], j ? mask : NULL);

            /* the header's length field in its shortest form */
            assert_int_equal(w - lens[i], (lens[i] < 126     ? 2
                                           : lens[i] < 65536 ? 4
                                                             : 10) +
                                              (j ? 4 : 0));
            ws_decoder_init(&d, 70000, (int)j);
            n = feed(&d, wire, w, lens[i] > 1000 ? 4096 : 1, evs, 8);
            ws_decoder_free(&d);
            assert_int_equal(n, 1);
            assert_int_equal(evs[0].type, WS_EV_BINARY);
            assert_int_equal(evs[0].len, lens[i]);
            assert_memory_equal(evs[0].data, in, lens[i]);
        }
    }
}

/* Several messages, pings between fragments, empty frames, a close. */
static void test_stream(void **state)
{
    static const uint8_t m[4] = {1, 2, 3, 4};
    uint8_t wire[512], close[WS_CONTROL_MAX];
    size_t w = 0, n, cl;

    (void)state;
    w += frame(wire + w, 1, WS_OP_TEXT, "NICK a", 6, m);
    w += frame(wire + w, 0, WS_OP_TEXT, "PRIV", 4, m);
    w += frame(wire + w, 1, WS_OP_PING, "p1", 2, m);
    w += frame(wire + w, 0, WS_OP_CONT, "", 0, m);
    w += frame(wire + w, 1, WS_OP_PONG, "", 0, m);
    w += frame(wire + w, 1, WS_OP_CONT, "MSG #c :h\xc3\xa9", 11, m);
    w += frame(wire + w, 1, WS_OP_BINARY, "", 0, m);
    w += frame(wire + w, 0, WS_OP_TEXT, "\xe2\x82", 2, m); /* split char */
    w += frame(wire + w, 1, WS_OP_CONT, "\xac", 1, m);
    cl = ws_close_payload(close, 1001, "bye");
    w += frame(wire + w, 1, WS_OP_CLOSE, close, cl, m);
    w += frame(wire + w, 1, WS_OP_TEXT, "after", 5, m); /* never seen */
    n = feed_all_ways(wire, w, 1, 64, evs, 8);
    assert_int_equal(n, 7);
    assert_int_equal(evs[0].type, WS_EV_TEXT);
    assert_memory_equal(evs[0].data, "NICK a", 6);
    assert_int_equal(evs[1].type, WS_EV_PING);
    assert_int_equal(evs[1].len, 2);
    assert_memory_equal(evs[1].data, "p1", 2);
    assert_int_equal(evs[2].type, WS_EV_PONG);
    assert_int_equal(evs[2].len, 0);
    assert_int_equal(evs[3].type, WS_EV_TEXT);
    assert_int_equal(evs[3].len, 15);
    assert_memory_equal(evs[3].data, "PRIVMSG #c :h\xc3\xa9", 15);
    assert_int_equal(evs[4].type, WS_EV_BINARY);
    assert_int_equal(evs[4].len, 0);
    assert_int_equal(evs[5].type, WS_EV_TEXT);
    assert_int_equal(evs[5].len, 3);
    assert_memory_equal(evs[5].data, "\xe2\x82\xac", 3);
    assert_int_equal(evs[6].type, WS_EV_CLOSE);
    assert_int_equal(evs[6].code, 1001);
    assert_int_equal(evs[6].len, 3);
    assert_memory_equal(evs[6].data, "bye", 3);
}

static void test_close(void **state)
{
    static const uint8_t m[4] = {9, 8, 7, 6};
    static const unsigned good[] = {1000, 1001, 1002, 1003, 1007, 1008,
                                    1009, 1010, 1011, 1014, 3000, 4999};
    uint8_t wire[200], pl[WS_CONTROL_MAX];
    size_t w, n, i;

    (void)state;
    /* no payload: no status */
    w = frame(wire, 1, WS_OP_CLOSE, "", 0, m);
    n = feed_all_ways(wire, w, 1, 64, evs, 8);
    assert_int_equal(n, 1);
    assert_int_equal(evs[0].type, WS_EV_CLOSE);
    assert_int_equal(evs[0].code, WS_CLOSE_NO_STATUS);
    assert_int_equal(evs[0].len, 0);
    for (i = 0; i < ARRAY_LEN(good); i++) {
        w = frame(wire, 1, WS_OP_CLOSE, pl, ws_close_payload(pl, good[i], ""),
                  m);
        n = feed_all_ways(wire, w, 1, 64, evs, 8);
        assert_int_equal(n, 1);
        assert_int_equal(evs[0].type, WS_EV_CLOSE);
        assert_int_equal(evs[0].code, good[i]);
        assert_true(ws_close_code_valid(good[i]));
    }
    /* the reason is cut at 123 bytes, not inside a character */
    {
        char reason[200];

        memset(reason, 'a', 122);
        strcpy(reason + 122, "\xc3\xa9zzzz"); /* é straddles byte 123 */
        n = ws_close_payload(pl, 1000, reason);
        assert_int_equal(n, 2 + 122);
        assert_true(ws_utf8_valid(pl + 2, n - 2));
        memset(reason, 'b', 150);
        reason[150] = '\0';
        assert_int_equal(ws_close_payload(pl, 1000, reason), WS_CONTROL_MAX);
        assert_int_equal(ws_close_payload(pl, 1000, NULL), 2);
        assert_int_equal(pl[0], 0x03);
        assert_int_equal(pl[1], 0xE8);
    }
}

/* Every way a peer breaks the protocol, and the close code it earns. */
static void test_errors(void **state)
{
    static const struct {
        const char *name;
        uint8_t wire[24];
        size_t len;
        int masked; /* decoder expects masked frames */
        unsigned code;
    } cases[] = {
        {"rsv1", {0xC1, 0x80, 0, 0, 0, 0}, 6, 1, 1002},
        {"rsv3", {0x91, 0x80, 0, 0, 0, 0}, 6, 1, 1002},
        {"opcode 3", {0x83, 0x80, 0, 0, 0, 0}, 6, 1, 1002},
        {"opcode 0xB", {0x8B, 0x80, 0, 0, 0, 0}, 6, 1, 1002},
        {"unmasked to a server", {0x81, 0x01, 'a'}, 3, 1, 1002},
        {"masked to a client", {0x81, 0x81, 0, 0, 0, 0, 'a'}, 7, 0, 1002},
        {"fragmented ping", {0x09, 0x80, 0, 0, 0, 0}, 6, 1, 1002},
        {"ping of 126", {0x89, 0xFE, 0, 126}, 4, 1, 1002},
        {"continuation first", {0x80, 0x80, 0, 0, 0, 0}, 6, 1, 1002},
        {"text inside text",
         {0x01, 0x80, 0, 0, 0, 0, 0x81, 0x80, 0, 0, 0, 0},
         12,
         1,
         1002},
        {"64-bit high bit",
         {0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
         14,
         1,
         1002},
        {"16-bit length 5", {0x82, 0xFE, 0, 5, 0, 0, 0, 0}, 8, 1, 1002},
        {"64-bit length 1000",
         {0x82, 0xFF, 0, 0, 0, 0, 0, 0, 0x03, 0xE8, 0, 0, 0, 0},
         14,
         1,
         1002},
        {"close of one byte", {0x88, 0x81, 0, 0, 0, 0, 3}, 7, 1, 1002},
        {"close 1005", {0x88, 0x82, 0, 0, 0, 0, 0x03, 0xED}, 8, 1, 1002},
        {"close 1006", {0x88, 0x82, 0, 0, 0, 0, 0x03, 0xEE}, 8, 1, 1002},
        {"close 999", {0x88, 0x82, 0, 0, 0, 0, 0x03, 0xE7}, 8, 1, 1002},
        {"close 2000", {0x88, 0x82, 0, 0, 0, 0, 0x07, 0xD0}, 8, 1, 1002},
        {"close 5000", {0x88, 0x82, 0, 0, 0, 0, 0x13, 0x88}, 8, 1, 1002},
        {"close reason not UTF-8",
         {0x88, 0x83, 0, 0, 0, 0, 0x03, 0xE8, 0xFF},
         9,
         1,
         1007},
        {"text not UTF-8", {0x81, 0x82, 0, 0, 0, 0, 0xC0, 0x80}, 8, 1, 1007},
        {"text surrogate",
         {0x81, 0x83, 0, 0, 0, 0, 0xED, 0xA0, 0x80},
         9,
         1,
         1007},
        {"text cut short",
         {0x01, 0x82, 0, 0, 0, 0, 0xE2, 0x82, 0x80, 0x80, 0, 0, 0, 0},
         14,
         1,
         1007},
        {"too big at once", {0x82, 0xFE, 0x01, 0x00, 1, 2, 3, 4}, 8, 1, 1009},
    };
    size_t i;

    (void)state;
    for (i = 0; i < ARRAY_LEN(cases); i++) {
        size_t n = feed_all_ways(cases[i].wire, cases[i].len, cases[i].masked,
                                 250, evs, 8);
        if (n != 1 || evs[0].type != WS_EV_ERROR ||
            evs[0].code != cases[i].code)
            fail_msg("%s: %zu events, type %d code %u", cases[i].name, n,
                     n ? (int)evs[0].type : -1, n ? evs[0].code : 0);
    }
    {
        /* 200 + 200 bytes of one message with a limit of 250: 1009 once
         * the second fragment's header is in */
        static const uint8_t m[4] = {0, 0, 0, 0};
        static uint8_t wire[600], zero[200];
        size_t w = 0, n;

        w += frame(wire + w, 0, WS_OP_BINARY, zero, 200, m);
        w += frame(wire + w, 1, WS_OP_CONT, zero, 200, m);
        n = feed_all_ways(wire, w, 1, 250, evs, 8);
        assert_int_equal(n, 1);
        assert_int_equal(evs[0].type, WS_EV_ERROR);
        assert_int_equal(evs[0].code, 1009);
        /* exactly at the limit is fine */
        w = 0;
        w += frame(wire + w, 0, WS_OP_BINARY, zero, 200, m);
        w += frame(wire + w, 1, WS_OP_CONT, zero, 50, m);
        n = feed_all_ways(wire, w, 1, 250, evs, 8);
        assert_int_equal(n, 1);
        assert_int_equal(evs[0].type, WS_EV_BINARY);
        assert_int_equal(evs[0].len, 250);
    }
}

/* ---- UTF-8 -----------------------------------------------------------------
 */

static void test_utf8(void **state)
{
    static const struct {
        const char *in;
        int valid;
        const char *repaired;
    } cases[] = {
        {"", 1, ""},
        {"plain ascii", 1, "plain ascii"},
        {"caf\xc3\xa9", 1, "caf\xc3\xa9"},
        {"\xe2\x82\xac \xf0\x9f\x98\x80", 1, "\xe2\x82\xac \xf0\x9f\x98\x80"},
        {"\xef\xbf\xbf", 1, "\xef\xbf\xbf"},
        {"\xf4\x8f\xbf\xbf", 1, "\xf4\x8f\xbf\xbf"}, /* U+10FFFF */
        {"caf\xe9", 0, "caf\xef\xbf\xbd"},           /* latin-1 */
        {"\xc0\xaf", 0, "\xef\xbf\xbd\xef\xbf\xbd"}, /* overlong / */
        {"\xe0\x80\xaf", 0, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
        {"\xed\xa0\x80", 0, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
        {"\xf4\x90\x80\x80", 0,
         "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
        {"\xf5\x80", 0, "\xef\xbf\xbd\xef\xbf\xbd"},
        {"a\xe2\x82", 0, "a\xef\xbf\xbd\xef\xbf\xbd"}, /* cut short */
        {"\xe2\x82z", 0, "\xef\xbf\xbd\xef\xbf\xbdz"},
        {"\xff", 0, "\xef\xbf\xbd"},
    };
    uint8_t out[64];
    size_t i, n;

    (void)state;
    for (i = 0; i < ARRAY_LEN(cases); i++) {
        const uint8_t *in = (const uint8_t *)cases[i].in;
        size_t len = strlen(cases[i].in);

        assert_int_equal(ws_utf8_valid(in, len), cases[i].valid);
        n = ws_utf8_repair(in, len, out);
        assert_true(n <= 3 * len);
        assert_int_equal(n, strlen(cases[i].repaired));
        assert_memory_equal(out, cases[i].repaired, n);
        assert_true(ws_utf8_valid(out, n));
    }
    /* a NUL is a valid character */
    assert_true(ws_utf8_valid((const uint8_t *)"a\0b", 3));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accept_key),   cmocka_unit_test(test_handshake),
        cmocka_unit_test(test_rfc_examples), cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_stream),       cmocka_unit_test(test_close),
        cmocka_unit_test(test_errors),       cmocka_unit_test(test_utf8),
    };

    return cmocka_run_group_tests_name("ws", tests, NULL, NULL);
}
