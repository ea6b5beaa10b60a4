/*
 * h2_frame.h - HTTP/2 frame constants and the 9-byte frame header (RFC
 * 9113 4.1, 6, 7, 11.2), shared by the session (h2_sess.c) and its tests.
 */
#ifndef LOOM_H2_FRAME_H
#define LOOM_H2_FRAME_H

#include <stddef.h>
#include <stdint.h>

/* frame types (RFC 9113 6) */
enum {
    H2_DATA = 0x0,
    H2_HEADERS = 0x1,
    H2_PRIORITY = 0x2,
    H2_RST_STREAM = 0x3,
    H2_SETTINGS = 0x4,
    H2_PUSH_PROMISE = 0x5,
    H2_PING = 0x6,
    H2_GOAWAY = 0x7,
    H2_WINDOW_UPDATE = 0x8,
    H2_CONTINUATION = 0x9,
    H2_NTYPES = 10
};

/* flags */
#define H2_F_END_STREAM 0x1
#define H2_F_ACK 0x1
#define H2_F_END_HEADERS 0x4
#define H2_F_PADDED 0x8
#define H2_F_PRIORITY 0x20

/* error codes (RFC 9113 7) */
enum {
    H2_NO_ERROR = 0x0,
    H2_PROTOCOL_ERROR = 0x1,
    H2_INTERNAL_ERROR = 0x2,
    H2_FLOW_CONTROL_ERROR = 0x3,
    H2_SETTINGS_TIMEOUT = 0x4,
    H2_STREAM_CLOSED = 0x5,
    H2_FRAME_SIZE_ERROR = 0x6,
    H2_REFUSED_STREAM = 0x7,
    H2_CANCEL = 0x8,
    H2_COMPRESSION_ERROR = 0x9,
    H2_CONNECT_ERROR = 0xa,
    H2_ENHANCE_YOUR_CALM = 0xb,
    H2_INADEQUATE_SECURITY = 0xc,
    H2_HTTP_1_1_REQUIRED = 0xd
};

/* settings (RFC 9113 6.5.2) */
enum {
    H2_SET_HEADER_TABLE_SIZE = 0x1,
    H2_SET_ENABLE_PUSH = 0x2,
    H2_SET_MAX_CONCURRENT_STREAMS = 0x3,
    H2_SET_INITIAL_WINDOW_SIZE = 0x4,
    H2_SET_MAX_FRAME_SIZE = 0x5,
    H2_SET_MAX_HEADER_LIST_SIZE = 0x6
};

#define H2_FRAME_HDR 9
#define H2_DEFAULT_FRAME 16384u
#define H2_MAX_FRAME 16777215u
#define H2_DEFAULT_WINDOW 65535
#define H2_MAX_WINDOW 0x7fffffff

/* A frame header, decoded. */
typedef struct {
    uint32_t len;
    uint8_t type, flags;
    int32_t sid; /* the reserved bit cleared */
} h2_fhdr_t;

static inline uint32_t h2_get32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
           ((uint32_t)p[2] << 8) | p[3];
}

static inline void h2_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Decode the 9 bytes at P into *F. */
static inline void h2_fhdr_get(const uint8_t *p, h2_fhdr_t *f)
{
    f->len = ((uint32_t)p[0] << 16) | ((uint32_t)p[1] << 8) | p[2];
    f->type = p[3];
    f->flags = p[4];
    f->sid = (int32_t)(h2_get32(p + 5) & 0x7fffffffu);
}

/* Write a frame header into the 9 bytes at P. */
static inline void h2_fhdr_put(uint8_t *p, uint32_t len, uint8_t type,
                               uint8_t flags, int32_t sid)
{
    p[0] = (uint8_t)(len >> 16);
    p[1] = (uint8_t)(len >> 8);
    p[2] = (uint8_t)len;
    p[3] = type;
    p[4] = flags;
    h2_put32(p + 5, (uint32_t)sid & 0x7fffffffu);
}

#endif
