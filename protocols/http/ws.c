/*
 * ws.c - the WebSocket protocol (RFC 6455), sans I/O: handshake check,
 * frame decoder and encoder, UTF-8 checks (see ws.h for the contracts).
 *
 * The decoder is a byte-level state machine that may be fed any split of
 * the input: a frame header is gathered in a small array, payload bytes
 * are unmasked into the message being assembled (or, for control frames,
 * which may arrive between the fragments of a message, into a separate
 * 125-byte buffer).  A message is handed out whole, once its last
 * fragment is in; its buffer grows up to the decoder's max_message and is
 * reused for the next message.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "ws.h"

enum {
    WS_D_HEAD = 0, /* gathering a frame header */
    WS_D_PAYLOAD,  /* reading a frame's payload */
    WS_D_DONE      /* closed or failed: the final event repeats */
};

/* ---- small helpers --------------------------------------------------------
 */

static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

static int slice_ieq(loom_slice_t s, const char *lit)
{
    size_t i, n = strlen(lit);

    if (s.len != n)
        return 0;
    for (i = 0; i < n; i++)
        if (lower((unsigned char)s.p[i]) != lower((unsigned char)lit[i]))
            return 0;
    return 1;
}

/* RFC 9110 tchar. */
static int is_tchar(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || (c != 0 && strchr("!#$%&'*+-.^_`|~", c));
}

static int is_ows(int c)
{
    return c == ' ' || c == '\t';
}

/* The next element of the comma list *P..END (spaces trimmed; empty
 * elements skipped, as RFC 9110 5.6.1 asks of a recipient) into *OUT;
 * 0 when the list is done. */
static int list_next(const char **p, const char *end, loom_slice_t *out)
{
    while (*p < end) {
        const char *s = *p, *e;

        while (s < end && *s != ',')
            s++;
        e = s;
        out->p = *p;
        *p = s < end ? s + 1 : end;
        while (out->p < e && is_ows((unsigned char)*out->p))
            out->p++;
        while (e > out->p && is_ows((unsigned char)e[-1]))
            e--;
        out->len = (size_t)(e - out->p);
        if (out->len)
            return 1;
    }
    return 0;
}

/* Whether some field NAME has the token TOKEN in its comma list. */
static int fields_have_token(const h1_field_t *f, size_t n, const char *name,
                             const char *token)
{
    size_t i;

    for (i = 0; i < n; i++) {
        const char *p = f[i].value.p, *end = p + f[i].value.len;
        loom_slice_t el;

        if (!slice_ieq(f[i].name, name))
            continue;
        while (list_next(&p, end, &el))
            if (slice_ieq(el, token))
                return 1;
    }
    return 0;
}

/* How many fields are named NAME; *LAST the last of them. */
static size_t fields_count(const h1_field_t *f, size_t n, const char *name,
                           const h1_field_t **last)
{
    size_t i, k = 0;

    for (i = 0; i < n; i++) {
        if (slice_ieq(f[i].name, name)) {
            k++;
            *last = &f[i];
        }
    }
    return k;
}

static int is_b64(int c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (c >= '0' && c <= '9') || c == '+' || c == '/';
}

/* A key is 16 bytes in base64: 22 characters, the last of which carries
 * only two bits (A, Q, g or w), then "==". */
static int key_valid(loom_slice_t k)
{
    size_t i;

    if (k.len != 24 || k.p[22] != '=' || k.p[23] != '=')
        return 0;
    for (i = 0; i < 22; i++)
        if (!is_b64((unsigned char)k.p[i]))
            return 0;
    return strchr("AQgw", k.p[21]) != NULL;
}

/* ---- the handshake --------------------------------------------------------
 */

void ws_accept_key(const char *key, size_t len, char *out)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();

    if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) != 1 ||
        EVP_DigestUpdate(ctx, key, len) != 1 ||
        EVP_DigestUpdate(ctx, WS_GUID, sizeof(WS_GUID) - 1) != 1 ||
        EVP_DigestFinal_ex(ctx, md, &mdlen) != 1 || mdlen != 20) {
        /* out of memory inside OpenSSL: loom does not try to survive it */
        loom_log(LOOM_LOG_ERROR, NULL, "SHA-1 failed");
        abort();
    }
    EVP_MD_CTX_free(ctx);
    EVP_EncodeBlock((unsigned char *)out, md, 20);
    out[WS_ACCEPT_LEN] = '\0';
}

static int hs_fail(ws_handshake_t *out, int status, const char *why)
{
    out->status = status;
    out->why = why;
    return status;
}

/* Choose from the Sec-WebSocket-Protocol fields; LOOM_ERROR when one is
 * not a list of tokens. */
static int hs_protocol(const h1_field_t *f, size_t n,
                       const char *const *protocols, ws_handshake_t *out)
{
    size_t i, j;

    for (i = 0; i < n; i++) {
        const char *p = f[i].value.p, *end = p + f[i].value.len;
        loom_slice_t el;

        if (!slice_ieq(f[i].name, "sec-websocket-protocol"))
            continue;
        while (list_next(&p, end, &el)) {
            out->offered = 1;
            for (j = 0; j < el.len; j++)
                if (!is_tchar((unsigned char)el.p[j]))
                    return LOOM_ERROR;
            for (j = 0; out->protocol < 0 && protocols && protocols[j]; j++)
                if (strlen(protocols[j]) == el.len &&
                    memcmp(protocols[j], el.p, el.len) == 0)
                    out->protocol = (int)j;
        }
    }
    return LOOM_OK;
}

int ws_handshake_check(loom_slice_t method, int version,
                       const h1_field_t *fields, size_t nfields,
                       const char *const *protocols, ws_handshake_t *out)
{
    const h1_field_t *key = NULL, *ver = NULL, *host = NULL;

    memset(out, 0, sizeof(*out));
    out->protocol = -1;
    if (method.len != 3 || memcmp(method.p, "GET", 3) != 0)
        return hs_fail(out, 405, "a WebSocket handshake is a GET");
    if (version >= 20)
        return hs_fail(out, 426, "WebSocket needs HTTP/1.1");
    if (!fields_have_token(fields, nfields, "upgrade", "websocket"))
        return hs_fail(out, 426, "no Upgrade: websocket");
    if (version < 11)
        return hs_fail(out, 400, "WebSocket needs HTTP/1.1");
    if (!fields_have_token(fields, nfields, "connection", "upgrade"))
        return hs_fail(out, 400, "no Connection: upgrade");
    if (fields_count(fields, nfields, "host", &host) != 1)
        return hs_fail(out, 400, "no Host");
    switch (fields_count(fields, nfields, "sec-websocket-version", &ver)) {
    case 0:
        return hs_fail(out, 400, "no Sec-WebSocket-Version");
    case 1:
        if (ver->value.len == 2 && memcmp(ver->value.p, "13", 2) == 0)
            break;
        /* fall through */
    default:
        return hs_fail(out, 426, "Sec-WebSocket-Version is not 13");
    }
    if (fields_count(fields, nfields, "sec-websocket-key", &key) != 1 ||
        !key_valid(key->value))
        return hs_fail(out, 400, "bad Sec-WebSocket-Key");
    if (hs_protocol(fields, nfields, protocols, out) != LOOM_OK) {
        out->protocol = -1;
        return hs_fail(out, 400, "bad Sec-WebSocket-Protocol");
    }
    ws_accept_key(key->value.p, key->value.len, out->accept);
    out->status = 101;
    out->why = "ok";
    return 101;
}

/* ---- UTF-8 ----------------------------------------------------------------
 */

/* The length of the well-formed sequence at P (LEN bytes left), or 0. */
static size_t utf8_seq(const uint8_t *p, size_t len)
{
    uint8_t c = p[0], lo = 0x80, hi = 0xBF;
    size_t n, i;

    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0)
            lo = 0xA0; /* overlong */
        else if (c == 0xED)
            hi = 0x9F; /* surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0)
            lo = 0x90; /* overlong */
        else if (c == 0xF4)
            hi = 0x8F; /* above U+10FFFF */
    } else {
        return 0;
    }
    if (len < n || p[1] < lo || p[1] > hi)
        return 0;
    for (i = 2; i < n; i++)
        if ((p[i] & 0xC0) != 0x80)
            return 0;
    return n;
}

int ws_utf8_valid(const uint8_t *p, size_t len)
{
    size_t i = 0;

    while (i < len) {
        size_t n;

        if (p[i] < 0x80) { /* the common case, without a call */
            i++;
            continue;
        }
        n = utf8_seq(p + i, len - i);
        if (n == 0)
            return 0;
        i += n;
    }
    return 1;
}

size_t ws_utf8_repair(const uint8_t *p, size_t len, uint8_t *out)
{
    size_t i = 0, o = 0;

    while (i < len) {
        size_t n = p[i] < 0x80 ? 1 : utf8_seq(p + i, len - i);

        if (n == 0) { /* one U+FFFD for each byte that fits nowhere */
            out[o++] = 0xEF;
            out[o++] = 0xBF;
            out[o++] = 0xBD;
            i++;
            continue;
        }
        memcpy(out + o, p + i, n);
        o += n;
        i += n;
    }
    return o;
}

/* ---- encoding -------------------------------------------------------------
 */

size_t ws_frame_head(uint8_t *out, int fin, int opcode, uint64_t len,
                     const uint8_t *mask)
{
    size_t n = 2, i;

    out[0] = (uint8_t)((fin ? 0x80 : 0) | (opcode & 0x0F));
    if (len < 126) {
        out[1] = (uint8_t)len;
    } else if (len <= 0xFFFF) {
        out[1] = 126;
        out[2] = (uint8_t)(len >> 8);
        out[3] = (uint8_t)len;
        n = 4;
    } else {
        out[1] = 127;
        for (i = 0; i < 8; i++)
            out[2 + i] = (uint8_t)(len >> (56 - 8 * i));
        n = 10;
    }
    if (mask) {
        out[1] |= 0x80;
        memcpy(out + n, mask, 4);
        n += 4;
    }
    return n;
}

void ws_mask(uint8_t *p, size_t len, const uint8_t mask[4], uint64_t offset)
{
    size_t i;

    for (i = 0; i < len; i++)
        p[i] ^= mask[(offset + i) & 3];
}

size_t ws_close_payload(uint8_t *out, unsigned code, const char *reason)
{
    size_t n = reason ? strlen(reason) : 0;

    if (n > WS_CONTROL_MAX - 2) {
        n = WS_CONTROL_MAX - 2;
        while (n > 0 && ((unsigned char)reason[n] & 0xC0) == 0x80)
            n--; /* do not cut a character in two */
    }
    out[0] = (uint8_t)(code >> 8);
    out[1] = (uint8_t)code;
    if (n)
        memcpy(out + 2, reason, n);
    return n + 2;
}

int ws_close_code_valid(unsigned code)
{
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
           (code >= 3000 && code <= 4999);
}

/* ---- decoding -------------------------------------------------------------
 */

void ws_decoder_init(ws_decoder_t *d, size_t max_message, int expect_mask)
{
    memset(d, 0, sizeof(*d));
    d->max_message = max_message;
    d->expect_mask = expect_mask;
    d->head_need = 2;
}

void ws_decoder_free(ws_decoder_t *d)
{
    free(d->msg);
    d->msg = NULL;
    d->msg_len = d->msg_cap = 0;
}

/* The final event: remembered in the decoder, repeated from then on. */
static void d_final(ws_decoder_t *d, ws_event_t *ev, ws_event_type_t type,
                    unsigned code, const char *why)
{
    d->state = WS_D_DONE;
    d->final_type = (int)type;
    d->final_code = code;
    d->final_why = why;
    if (type == WS_EV_ERROR)
        d->ctl_len = 0;
    ev->type = type;
    ev->code = code;
    ev->why = why;
    ev->data = d->ctl_len > 2 ? d->ctl + 2 : NULL; /* a close's reason */
    ev->len = d->ctl_len > 2 ? d->ctl_len - 2 : 0;
}

static void d_error(ws_decoder_t *d, ws_event_t *ev, unsigned code,
                    const char *why)
{
    d_final(d, ev, WS_EV_ERROR, code, why);
}

/* The first two header bytes are in: check what they say and how long
 * the header is.  Returns LOOM_ERROR after d_error. */
static int d_head2(ws_decoder_t *d, ws_event_t *ev)
{
    uint8_t b0 = d->head[0], b1 = d->head[1];
    unsigned len7 = b1 & 0x7F;
    int control;

    d->fin = (b0 & 0x80) != 0;
    d->opcode = b0 & 0x0F;
    d->masked = (b1 & 0x80) != 0;
    control = (d->opcode & 0x08) != 0;
    if (b0 & 0x70) {
        d_error(d, ev, WS_CLOSE_PROTOCOL, "reserved bits set");
        return LOOM_ERROR;
    }
    if (d->opcode != WS_OP_CONT && d->opcode != WS_OP_TEXT &&
        d->opcode != WS_OP_BINARY && d->opcode != WS_OP_CLOSE &&
        d->opcode != WS_OP_PING && d->opcode != WS_OP_PONG) {
        d_error(d, ev, WS_CLOSE_PROTOCOL, "unknown opcode");
        return LOOM_ERROR;
    }
    if (d->masked != (d->expect_mask != 0)) {
        d_error(d, ev, WS_CLOSE_PROTOCOL,
                d->masked ? "masked frame" : "unmasked frame");
        return LOOM_ERROR;
    }
    if (control && (!d->fin || len7 > WS_CONTROL_MAX)) {
        d_error(d, ev, WS_CLOSE_PROTOCOL,
                d->fin ? "control frame too long" : "fragmented control frame");
        return LOOM_ERROR;
    }
    if (d->opcode == WS_OP_CONT && d->msg_op == 0) {
        d_error(d, ev, WS_CLOSE_PROTOCOL, "continuation of nothing");
        return LOOM_ERROR;
    }
    if (!control && d->opcode != WS_OP_CONT && d->msg_op != 0) {
        d_error(d, ev, WS_CLOSE_PROTOCOL, "new message inside a message");
        return LOOM_ERROR;
    }
    d->head_need = 2 +
                   (len7 == 126   ? 2
                    : len7 == 127 ? 8
                                  : 0) +
                   (d->masked ? 4 : 0);
    return LOOM_OK;
}

/* The whole header is in: the payload length, its checks, the mask. */
static int d_head_done(ws_decoder_t *d, ws_event_t *ev)
{
    unsigned len7 = d->head[1] & 0x7F;
    uint64_t len = len7;
    size_t i, at = 2;

    if (len7 == 126) {
        len = ((uint64_t)d->head[2] << 8) | d->head[3];
        at = 4;
        if (len < 126) {
            d_error(d, ev, WS_CLOSE_PROTOCOL, "length not in shortest form");
            return LOOM_ERROR;
        }
    } else if (len7 == 127) {
        len = 0;
        for (i = 0; i < 8; i++)
            len = (len << 8) | d->head[2 + i];
        at = 10;
        if (len >> 63) {
            d_error(d, ev, WS_CLOSE_PROTOCOL, "length with the high bit set");
            return LOOM_ERROR;
        }
        if (len <= 0xFFFF) {
            d_error(d, ev, WS_CLOSE_PROTOCOL, "length not in shortest form");
            return LOOM_ERROR;
        }
    }
    if (d->masked)
        memcpy(d->mask, d->head + at, 4);
    if (!(d->opcode & 0x08)) {
        if (len > d->max_message || d->msg_len > d->max_message - len) {
            d_error(d, ev, WS_CLOSE_TOO_BIG, "message too big");
            return LOOM_ERROR;
        }
        if (d->opcode != WS_OP_CONT)
            d->msg_op = d->opcode;
        if (d->msg_len + len > d->msg_cap) {
            size_t cap = d->msg_cap ? d->msg_cap : 256;

            while (cap < d->msg_len + len)
                cap *= 2;
            if (cap > d->max_message)
                cap = d->max_message;
            d->msg = loom_realloc(d->msg, cap);
            d->msg_cap = cap;
        }
    } else {
        d->ctl_len = 0;
    }
    d->left = len;
    d->mask_pos = 0;
    d->state = WS_D_PAYLOAD;
    return LOOM_OK;
}

/* A close frame's payload (in ctl) is complete. */
static void d_close(ws_decoder_t *d, ws_event_t *ev)
{
    unsigned code;

    if (d->ctl_len == 0) {
        d_final(d, ev, WS_EV_CLOSE, WS_CLOSE_NO_STATUS, NULL);
        return;
    }
    if (d->ctl_len == 1) {
        d_error(d, ev, WS_CLOSE_PROTOCOL, "close payload of one byte");
        return;
    }
    code = ((unsigned)d->ctl[0] << 8) | d->ctl[1];
    if (!ws_close_code_valid(code)) {
        d_error(d, ev, WS_CLOSE_PROTOCOL, "invalid close code");
        return;
    }
    if (!ws_utf8_valid(d->ctl + 2, d->ctl_len - 2)) {
        d_error(d, ev, WS_CLOSE_BAD_DATA, "close reason not UTF-8");
        return;
    }
    d_final(d, ev, WS_EV_CLOSE, code, NULL);
}

/* The current frame's payload is complete: 1 when it made an event. */
static int d_frame_done(ws_decoder_t *d, ws_event_t *ev)
{
    d->state = WS_D_HEAD;
    d->head_len = 0;
    d->head_need = 2;
    switch (d->opcode) {
    case WS_OP_PING:
    case WS_OP_PONG:
        ev->type = d->opcode == WS_OP_PING ? WS_EV_PING : WS_EV_PONG;
        ev->data = d->ctl;
        ev->len = d->ctl_len;
        return 1;
    case WS_OP_CLOSE:
        d_close(d, ev);
        return 1;
    default:
        break;
    }
    if (!d->fin)
        return 0;
    if (d->msg_op == WS_OP_TEXT && !ws_utf8_valid(d->msg, d->msg_len)) {
        d_error(d, ev, WS_CLOSE_BAD_DATA, "text message not UTF-8");
        return 1;
    }
    ev->type = d->msg_op == WS_OP_TEXT ? WS_EV_TEXT : WS_EV_BINARY;
    ev->data = d->msg;
    ev->len = d->msg_len;
    d->msg_op = 0; /* msg_len is reset by the next call */
    return 1;
}

size_t ws_decode(ws_decoder_t *d, const uint8_t *in, size_t len, ws_event_t *ev)
{
    size_t used = 0;

    memset(ev, 0, sizeof(*ev));
    if (d->state == WS_D_DONE) {
        ev->type = (ws_event_type_t)d->final_type;
        ev->code = d->final_code;
        ev->why = d->final_why;
        ev->data = d->ctl_len > 2 ? d->ctl + 2 : NULL;
        ev->len = d->ctl_len > 2 ? d->ctl_len - 2 : 0;
        return 0;
    }
    if (d->msg_op == 0)
        d->msg_len = 0; /* the last message was handed out */
    while (used < len || (d->state == WS_D_PAYLOAD && d->left == 0)) {
        if (d->state == WS_D_HEAD) {
            size_t take = d->head_need - d->head_len;

            if (take > len - used)
                take = len - used;
            memcpy(d->head + d->head_len, in + used, take);
            d->head_len += take;
            used += take;
            if (d->head_len == 2 && d->head_need == 2 &&
                d_head2(d, ev) != LOOM_OK)
                return used;
            if (d->head_len < d->head_need)
                continue;
            if (d_head_done(d, ev) != LOOM_OK)
                return used;
            continue;
        }
        if (d->left > 0) {
            size_t take = len - used;
            uint8_t *dst;

            if (take > d->left)
                take = (size_t)d->left;
            if (d->opcode & 0x08) {
                dst = d->ctl + d->ctl_len;
                d->ctl_len += take;
            } else {
                dst = d->msg + d->msg_len;
                d->msg_len += take;
            }
            memcpy(dst, in + used, take);
            if (d->masked)
                ws_mask(dst, take, d->mask, d->mask_pos);
            d->mask_pos += take;
            d->left -= take;
            used += take;
        }
        if (d->left == 0 && d_frame_done(d, ev))
            return used;
    }
    ev->type = WS_EV_NONE;
    return used;
}
