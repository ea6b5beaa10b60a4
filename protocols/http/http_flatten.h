/*
 * http_flatten.h - request bodies turned into flat name/value fields for
 * bus messages (the `publish` handler): a JSON object flattened to dotted
 * names, an application/x-www-form-urlencoded form decoded, and the
 * helpers around them (media types, webhook signatures).
 *
 * Sans-I/O: bytes in, fields out through a callback; nothing here keeps a
 * pointer to its input or touches the reactor, so it is table-tested and
 * fuzzed on its own (tests/unit/test_http_flatten.c,
 * tests/fuzz/fuzz_http_flatten.c).
 *
 * JSON flattening (libjansson parses; loom walks the tree):
 *   {"a": {"b": "x"}}       a.b = x
 *   {"c": [{"id": 1}, 2]}   c.0.id = 1, c.1 = 2
 *   strings                 as they are (UTF-8, escapes decoded)
 *   integers                their decimal text ("-12")
 *   reals                   the shortest text that reads back the same
 *                           ("0.1", "1e+300"; "1.0" becomes "1")
 *   true / false            "true" / "false"
 *   null                    "" (the field exists, empty)
 *   {} and []               one field, empty, named by the path
 * Object members keep their order; a key holding '.' is used as written.
 * Refused: text that is not JSON (also trailing bytes, a "\u0000" escape,
 * an integer outside int64), a JSON value that is not an object, nesting
 * deeper than the depth limit (the top object is depth 1), more fields
 * than the field limit, and field names longer than HTTP_FLAT_MAX_NAME.
 */
#ifndef HTTP_FLATTEN_H
#define HTTP_FLATTEN_H

#include <stddef.h>

/* Defaults of the limits (the publish handler's, documented in
 * loom.conf(5)). */
#define HTTP_FLAT_MAX_FIELDS 1000
#define HTTP_FLAT_MAX_DEPTH 32
/* A flattened name longer than this is refused. */
#define HTTP_FLAT_MAX_NAME 1024

enum {
    HTTP_FLAT_OK = 0,
    HTTP_FLAT_BADJSON,   /* not JSON */
    HTTP_FLAT_NOTOBJECT, /* JSON, but not an object */
    HTTP_FLAT_TOODEEP,   /* nested deeper than max_depth */
    HTTP_FLAT_TOOMANY,   /* more than max_fields fields */
    HTTP_FLAT_LONGNAME,  /* a name longer than HTTP_FLAT_MAX_NAME */
    HTTP_FLAT_BADFORM    /* a form with a bad percent-escape */
};

typedef struct {
    size_t max_fields;  /* 0: HTTP_FLAT_MAX_FIELDS */
    unsigned max_depth; /* 0: HTTP_FLAT_MAX_DEPTH */
} http_flat_limits_t;

/* One field: NAME (NLEN bytes) and VALUE (VLEN bytes), both also
 * NUL-terminated, valid only during the call. */
typedef void (*http_flat_cb)(void *arg, const char *name, size_t nlen,
                             const char *value, size_t vlen);

/* Flatten the JSON text BUF (LEN bytes; need not be NUL-terminated) as
 * above, calling CB for every field in document order.  LIM may be NULL
 * (the defaults).  Returns HTTP_FLAT_OK or an HTTP_FLAT_* error, with a
 * short reason in ERR (ERRLEN bytes; may be NULL).  Fields may have been
 * given to CB before an error: a caller drops them. */
int http_flatten_json(const char *buf, size_t len,
                      const http_flat_limits_t *lim, http_flat_cb cb, void *arg,
                      char *err, size_t errlen);

/* Decode the application/x-www-form-urlencoded text BUF (LEN bytes):
 * "name=value" pairs split at '&', '+' as a space, %XX escapes (either
 * case) decoded; a pair without '=' has an empty value, empty pairs are
 * skipped.  Returns HTTP_FLAT_OK, HTTP_FLAT_BADFORM (a '%' not followed
 * by two hex digits, a NUL byte raw or as "%00"), HTTP_FLAT_TOOMANY or
 * HTTP_FLAT_LONGNAME, as http_flatten_json. */
int http_flatten_form(const char *buf, size_t len,
                      const http_flat_limits_t *lim, http_flat_cb cb, void *arg,
                      char *err, size_t errlen);

/* The kinds of body the publish handler takes. */
enum {
    HTTP_BODY_UNKNOWN = 0,
    HTTP_BODY_JSON, /* application/json, application/ANY+json */
    HTTP_BODY_FORM, /* application/x-www-form-urlencoded */
    HTTP_BODY_TEXT  /* text/plain */
};

/* The kind of a Content-Type value V (LEN bytes): the media type compared
 * case-insensitively, parameters (";charset=utf-8") and whitespace
 * ignored.  HTTP_BODY_UNKNOWN for anything else. */
int http_body_kind(const char *v, size_t len);

/* Read a signature header value V (LEN bytes): "sha256=HEX" (GitHub's
 * form; the "sha256=" case-insensitive) or bare HEX, with 64 hex digits
 * of either case, surrounding whitespace ignored.  Fills OUT (32 bytes)
 * and returns 0, or -1 when V is neither. */
int http_sig_parse(const char *v, size_t len, unsigned char out[32]);

/* Does SIG (32 bytes) equal HMAC-SHA256 of BODY (BLEN bytes) under KEY
 * (KLEN bytes)?  Compared in constant time.  1 or 0. */
int http_sig_check(const char *key, size_t klen, const char *body, size_t blen,
                   const unsigned char sig[32]);

/* Are A (ALEN bytes) and B (BLEN bytes) equal?  In time that depends on
 * neither their contents nor where they differ (both are hashed first).
 * 1 or 0. */
int http_secret_eq(const char *a, size_t alen, const char *b, size_t blen);

#endif
