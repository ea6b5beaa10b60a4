/*
 * ws.h - the WebSocket protocol (RFC 6455), sans I/O: the server's check
 * of an opening handshake and its Sec-WebSocket-Accept, the choice of a
 * subprotocol, a frame decoder (masking, fragmentation, control frames
 * between fragments, limits, close codes, UTF-8 of text messages) and a
 * frame encoder.  Nothing here touches a socket: bytes in, events out,
 * bytes to send.  No extension (permessage-deflate) is negotiated, so
 * every RSV bit set is a protocol error.
 */
#ifndef WS_H
#define WS_H

#include <stddef.h>
#include <stdint.h>

#include "h1_parse.h"
#include "loom.h"

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define WS_ACCEPT_LEN 28   /* base64 of a SHA-1 digest */
#define WS_CONTROL_MAX 125 /* payload bytes of a control frame */
#define WS_HEAD_MAX 14     /* 2 + 8 (length) + 4 (mask) */
#define WS_PROTOCOL_MAX 64 /* bytes of a chosen subprotocol name */

/* Opcodes (RFC 6455 section 5.2). */
enum {
    WS_OP_CONT = 0x0,
    WS_OP_TEXT = 0x1,
    WS_OP_BINARY = 0x2,
    WS_OP_CLOSE = 0x8,
    WS_OP_PING = 0x9,
    WS_OP_PONG = 0xA
};

/* Close codes (section 7.4.1) loom sends. */
enum {
    WS_CLOSE_NORMAL = 1000,
    WS_CLOSE_GOING_AWAY = 1001,
    WS_CLOSE_PROTOCOL = 1002,
    WS_CLOSE_UNSUPPORTED = 1003,
    WS_CLOSE_NO_STATUS = 1005, /* reported only: no code was in the frame */
    WS_CLOSE_BAD_DATA = 1007,  /* text that is not UTF-8 */
    WS_CLOSE_POLICY = 1008,
    WS_CLOSE_TOO_BIG = 1009,
    WS_CLOSE_INTERNAL = 1011
};

/* ---- the opening handshake (section 4.2) ----------------------------------
 */

/* What ws_handshake_check() makes of a request. */
typedef struct {
    /* 101 when the request is a valid WebSocket opening handshake;
     * otherwise the status to answer: 405 (not GET: answer with "Allow:
     * GET"), 426 (no "Upgrade: websocket", HTTP/2, or a
     * Sec-WebSocket-Version other than 13: answer with "Upgrade:
     * websocket" and "Sec-WebSocket-Version: 13"), 400 (anything else
     * malformed: HTTP/1.0, no Host, no "Connection: upgrade", no
     * version, a key that is not 16 bytes in base64 or given twice, a
     * subprotocol list that is not a list of tokens). */
    int status;
    const char *why; /* a short static text saying what was wrong */
    /* valid when status is 101: the Sec-WebSocket-Accept value
     * (NUL-terminated) and the index into the caller's PROTOCOLS of the
     * chosen subprotocol, -1 when none was chosen (none offered, or none
     * the caller supports: the handshake goes on without one) */
    char accept[WS_ACCEPT_LEN + 1];
    int protocol;
    int offered; /* 1 when the client offered any subprotocol */
} ws_handshake_t;

/* Check the opening handshake of a request: METHOD as sent, VERSION its
 * HTTP version as 10, 11 or 20 (HTTP/2 is refused with 426: no RFC 8441
 * extended CONNECT), FIELDS its NFIELDS header fields (names compared
 * case-insensitively; a field may repeat).  PROTOCOLS is the
 * caller's NULL-terminated list of supported subprotocols (may be NULL):
 * the first name in the client's order that is in it is chosen.  Fills
 * *OUT; returns OUT->status.  Nothing is kept. */
int ws_handshake_check(loom_slice_t method, int version,
                       const h1_field_t *fields, size_t nfields,
                       const char *const *protocols, ws_handshake_t *out);

/* The Sec-WebSocket-Accept value for KEY (LEN bytes, as sent, without
 * surrounding spaces) into OUT (WS_ACCEPT_LEN + 1 bytes, NUL-terminated):
 * base64(SHA-1(KEY GUID)). */
void ws_accept_key(const char *key, size_t len, char *out);

/* ---- frames ----------------------------------------------------------------
 */

/* What ws_decode() found. */
typedef enum {
    WS_EV_NONE = 0, /* all input consumed, no event complete yet */
    WS_EV_TEXT,     /* a whole text message (valid UTF-8) */
    WS_EV_BINARY,   /* a whole binary message */
    WS_EV_PING,     /* answer with a pong carrying the same payload */
    WS_EV_PONG,
    WS_EV_CLOSE, /* the peer's close: code (WS_CLOSE_NO_STATUS when the
                  * frame had none) and reason; no more events follow */
    WS_EV_ERROR  /* fail the connection: send a close with CODE (1002,
                  * 1007, 1009) and stop reading; no more events follow */
} ws_event_type_t;

typedef struct {
    ws_event_type_t type;
    /* payload (message, ping/pong data, close reason without the code):
     * points into the decoder, valid until the next ws_decode() or
     * ws_decoder_free() */
    const uint8_t *data;
    size_t len;
    unsigned code;   /* WS_EV_CLOSE, WS_EV_ERROR */
    const char *why; /* WS_EV_ERROR: a short static text */
} ws_event_t;

/* The decoder's state; fill the limits, zero the rest (ws_decoder_init). */
typedef struct {
    size_t max_message; /* payload bytes of one whole message: 1009 above */
    int expect_mask;    /* 1: frames must be masked (a server reading a
                         * client); 0: they must not be (a client) */
    /* -- private -- */
    int state; /* WS_D_* (ws.c) */
    uint8_t head[WS_HEAD_MAX];
    size_t head_len, head_need;
    int fin, opcode, masked;
    uint8_t mask[4];
    uint64_t left;   /* payload bytes of the current frame to read */
    size_t mask_pos; /* payload bytes of this frame read so far */
    int msg_op;      /* opcode of the message being assembled; 0 none */
    uint8_t *msg;    /* its payload */
    size_t msg_len, msg_cap;
    uint8_t ctl[WS_CONTROL_MAX];
    size_t ctl_len;
    int final_type; /* WS_EV_CLOSE / WS_EV_ERROR once done */
    unsigned final_code;
    const char *final_why;
} ws_decoder_t;

/* Start decoder D for one connection: MAX_MESSAGE payload bytes per
 * message, EXPECT_MASK as above. */
void ws_decoder_init(ws_decoder_t *d, size_t max_message, int expect_mask);

/* Free D's message buffer (D itself is the caller's). */
void ws_decoder_free(ws_decoder_t *d);

/* Decode bytes IN[0..LEN): returns how many were consumed (0..LEN) and
 * sets *EV.  The caller repeats with the bytes that are left until the
 * call returns WS_EV_NONE (every byte consumed, no event yet) -- each
 * call yields at most one event.  After WS_EV_CLOSE or WS_EV_ERROR the
 * decoder yields the same event again without consuming anything.
 * Errors: RSV bits, an unknown opcode, an unmasked frame from a client
 * (or a masked one to it), a fragmented or over-long control frame, a
 * continuation with no message begun or a new message inside one, a
 * 64-bit length with its high bit set or a length not in its shortest
 * form, a close payload of one byte or with a code no endpoint may send:
 * 1002; text (or a close reason) that is not UTF-8: 1007; a message
 * longer than max_message: 1009 (as soon as the frame header says so). */
size_t ws_decode(ws_decoder_t *d, const uint8_t *in, size_t len,
                 ws_event_t *ev);

/* Write the header of a frame with FIN, OPCODE and a payload of LEN
 * bytes into OUT (WS_HEAD_MAX bytes); with MASK non-NULL the frame is
 * masked with those 4 bytes (a client's frame: the caller masks the
 * payload with ws_mask()).  Returns the header's length. */
size_t ws_frame_head(uint8_t *out, int fin, int opcode, uint64_t len,
                     const uint8_t *mask);

/* XOR P[0..LEN) with MASK, as if the payload started OFFSET bytes in. */
void ws_mask(uint8_t *p, size_t len, const uint8_t mask[4], uint64_t offset);

/* The payload of a close frame with CODE and REASON (cut to fit in 123
 * bytes, on a UTF-8 boundary) into OUT (WS_CONTROL_MAX bytes); returns
 * its length. */
size_t ws_close_payload(uint8_t *out, unsigned code, const char *reason);

/* Whether CODE may be sent in a close frame (1000-1003, 1007-1014,
 * 3000-4999). */
int ws_close_code_valid(unsigned code);

/* ---- UTF-8 ------------------------------------------------------------------
 */

/* Whether P[0..LEN) is well-formed UTF-8 (no overlong forms, no
 * surrogates, nothing above U+10FFFF). */
int ws_utf8_valid(const uint8_t *p, size_t len);

/* Copy P[0..LEN) into OUT (room for 3 * LEN bytes always suffices) with
 * every byte that does not belong to a well-formed UTF-8 sequence
 * replaced by U+FFFD (EF BF BD); returns the bytes written. */
size_t ws_utf8_repair(const uint8_t *p, size_t len, uint8_t *out);

#endif
