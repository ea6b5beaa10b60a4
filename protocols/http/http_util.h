/*
 * http_util.h - pure helpers of the HTTP module, shared by every HTTP
 * version: request-path normalisation, Range (RFC 9110 section 14),
 * conditional requests (section 13), HTTP dates, entity tags and MIME types.
 * No I/O except http_mime_load(); nothing keeps a pointer to its input.
 */
#ifndef HTTP_UTIL_H
#define HTTP_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "loom.h"

/* The value of hex digit C (either case), or -1. */
int http_hexval(int c);

/* ---- paths -------------------------------------------------------------- */

/* Normalise the path part of a request target (the bytes before '?', as
 * sent: must start with '/') into OUT (room for CAP bytes, NUL added).
 * Percent-escapes are decoded (hex digits of either case), "//" runs are
 * merged, "." segments dropped and ".." segments remove the previous one;
 * a trailing "/" is kept (also after "/." and "/..").
 * Returns the length written, or -1 when the path must be refused with 400:
 * it does not start with '/', has a bad escape ("%", "%4", "%zz"), decodes
 * to NUL or to '/' ("%2f", "%2F": an encoded slash is never a separator),
 * contains a control character or DEL (raw or decoded), has ".." climbing
 * above the root (also when written "%2e%2e", ".%2E", ...), or does not fit
 * in CAP. */
long http_path_normalize(const char *path, size_t len, char *out, size_t cap);

/* ---- ranges ------------------------------------------------------------- */

typedef struct {
    uint64_t first, last; /* inclusive byte positions */
} http_range_t;

enum {
    HTTP_RANGE_NONE = 0,     /* ignore the header: serve the whole file (200) */
    HTTP_RANGE_OK,           /* *OUT is the one range to serve (206) */
    HTTP_RANGE_UNSATISFIABLE /* 416 with Content-Range: bytes * /SIZE */
};

/* Evaluate a Range field value V (LEN bytes) against a representation of
 * SIZE bytes.  "bytes=" (unit case-insensitive) followed by a comma list of
 * "first-last", "first-" and "-suffix" specs, with optional whitespace
 * around commas.  Syntax errors, another unit, or more than 16 specs give
 * HTTP_RANGE_NONE.  Specs are clamped to the size (last beyond the end
 * becomes size-1; a suffix longer than the file means the whole file);
 * specs starting at or after SIZE (or "-0") are unsatisfiable and dropped.
 * If none is left: HTTP_RANGE_UNSATISFIABLE.  The rest are sorted and
 * overlapping or adjacent ones merged; if exactly one range remains it is
 * HTTP_RANGE_OK, otherwise HTTP_RANGE_NONE (loom answers a request for
 * several disjoint ranges with the whole representation, which RFC 9110
 * allows, rather than multipart/byteranges). */
int http_range_parse(const char *v, size_t len, uint64_t size,
                     http_range_t *out);

/* ---- dates and entity tags ---------------------------------------------- */

#define HTTP_DATE_LEN 29 /* "Sun, 06 Nov 1994 08:49:37 GMT" */

/* Format T as an IMF-fixdate into OUT (HTTP_DATE_LEN + 1 bytes). */
void http_date_format(time_t t, char *out);

/* Parse an HTTP date in any of the three formats of RFC 9110 section
 * 5.6.7 (IMF-fixdate, RFC 850, asctime).  Returns the time, or -1 when V
 * is not a valid date. */
time_t http_date_parse(const char *v, size_t len);

#define HTTP_ETAG_MAX 48

/* Write the strong entity tag of a file with modification time MTIME and
 * size SIZE, quotes included ("\"65f1a2b3-d\""), NUL-terminated, into OUT
 * (HTTP_ETAG_MAX bytes).  Returns its length. */
size_t http_etag_make(time_t mtime, uint64_t size, char *out);

/* ---- conditional requests ----------------------------------------------- */

/* The validators of the selected representation and the request's
 * precondition fields (empty slices when absent). */
typedef struct {
    const char *etag; /* strong tag with quotes, NUL-terminated */
    time_t mtime;     /* Last-Modified */
    loom_slice_t if_match, if_none_match, if_modified_since,
        if_unmodified_since, if_range;
} http_cond_t;

/* Evaluate preconditions in RFC 9110 section 13.2.2 order for method
 * METHOD_SAFE (1 for GET/HEAD).  Returns 0 to proceed, 304 (Not Modified:
 * If-None-Match matched for GET/HEAD, or no If-None-Match and
 * If-Modified-Since is a valid date not older than mtime), or 412
 * (If-Match without a strong match, "*" always matches an existing file;
 * If-Unmodified-Since a valid date older than mtime when If-Match is
 * absent; If-None-Match matched for an unsafe method).  If-None-Match
 * uses weak comparison ("W/" prefixes ignored), If-Match strong; both
 * accept comma lists and "*".  Invalid dates make their field ignored. */
int http_cond_eval(const http_cond_t *c, int method_safe);

/* If-Range: 1 when the Range field should be honoured (If-Range absent,
 * or an entity tag that strongly matches, or an HTTP date exactly equal to
 * mtime), 0 when the whole representation must be sent (200). */
int http_cond_if_range(const http_cond_t *c);

/* ---- MIME types ---------------------------------------------------------- */

typedef struct http_mime_s http_mime_t;

/* Load a mime.types file ("type ext ext ..." lines, '#' comments) over the
 * built-in table (html, htm, css, js, mjs, json, txt, xml, svg, png, jpg,
 * jpeg, gif, webp, ico, pdf, wasm, woff, woff2, gz, zip, tar, mp4, webm,
 * mp3, ogg, csv, md).  PATH NULL or unreadable: the built-in table only.
 * Never NULL. */
http_mime_t *http_mime_load(const char *path);

/* The type for file name NAME (extension after the last '.', matched
 * case-insensitively), or DEFLT when unknown.  The string lives as long as
 * the table. */
const char *http_mime_type(const http_mime_t *m, const char *name,
                           const char *deflt);

void http_mime_free(http_mime_t *m);

/* ---- small text helpers -------------------------------------------------- */

/* 1 when the comma-separated list V (LEN bytes) holds TOKEN
 * (case-insensitive, whitespace around members ignored, ";params" after a
 * member ignored, "q=0" excludes the member). */
int http_list_has(const char *v, size_t len, const char *token);

/* The length of the host part of a Host / :authority value A: without
 * ":port", an IPv6 literal kept with its brackets. */
size_t http_host_len(loom_slice_t a);

/* Case-insensitive comparison of slice S with NUL-terminated lowercase
 * LOWER. */
int http_slice_ieq(loom_slice_t s, const char *lower);

#endif
