/*
 * http_flatten.c - JSON objects and forms to flat fields, media types and
 * webhook signatures (see http_flatten.h).
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "http_flatten.h"
#include "http_util.h"

/* A walk over one document. */
typedef struct {
    http_flat_cb cb;
    void *arg;
    size_t max_fields, nfields;
    unsigned max_depth;
    char name[HTTP_FLAT_MAX_NAME + 1];
    size_t nlen;
    char *err;
    size_t errlen;
} flat_t;

static int flat_fail(flat_t *f, int code, const char *what)
{
    if (f->err && f->errlen)
        snprintf(f->err, f->errlen, "%s", what);
    return code;
}

static void set_err(char *err, size_t errlen, const char *what)
{
    if (err && errlen)
        snprintf(err, errlen, "%s", what);
}

static void limits(const http_flat_limits_t *lim, size_t *fields,
                   unsigned *depth)
{
    *fields = lim && lim->max_fields ? lim->max_fields : HTTP_FLAT_MAX_FIELDS;
    *depth = lim && lim->max_depth ? lim->max_depth : HTTP_FLAT_MAX_DEPTH;
}

/* Give one field under the current name. */
static int flat_emit(flat_t *f, const char *v, size_t vlen)
{
    if (f->nfields >= f->max_fields)
        return flat_fail(f, HTTP_FLAT_TOOMANY, "too many fields");
    f->nfields++;
    f->cb(f->arg, f->name, f->nlen, v, vlen);
    return HTTP_FLAT_OK;
}

/* Append ".SEG" (or SEG at the top) to the name; returns the old length
 * to restore, or (size_t)-1 when the name would be too long. */
static size_t name_push(flat_t *f, const char *seg, size_t slen)
{
    size_t old = f->nlen, dot = old ? 1 : 0;

    if (old + dot + slen > HTTP_FLAT_MAX_NAME)
        return (size_t)-1;
    if (dot)
        f->name[f->nlen++] = '.';
    memcpy(f->name + f->nlen, seg, slen);
    f->nlen += slen;
    f->name[f->nlen] = '\0';
    return old;
}

static void name_pop(flat_t *f, size_t old)
{
    f->nlen = old;
    f->name[old] = '\0';
}

/* The shortest of %.15g, %.16g, %.17g that reads back as D. */
static int real_text(double d, char *out, size_t cap)
{
    int prec, n = 0;

    for (prec = 15; prec <= 17; prec++) {
        n = snprintf(out, cap, "%.*g", prec, d);
        if (strtod(out, NULL) == d)
            break;
    }
    return n;
}

static int flat_value(flat_t *f, json_t *v, unsigned depth);

static int flat_child(flat_t *f, const char *seg, size_t slen, json_t *v,
                      unsigned depth)
{
    size_t old = name_push(f, seg, slen);
    int rc;

    if (old == (size_t)-1)
        return flat_fail(f, HTTP_FLAT_LONGNAME, "field name too long");
    rc = flat_value(f, v, depth);
    name_pop(f, old);
    return rc;
}

static int flat_container(flat_t *f, json_t *v, unsigned depth)
{
    int rc = HTTP_FLAT_OK;

    if (depth > f->max_depth)
        return flat_fail(f, HTTP_FLAT_TOODEEP, "nested too deep");
    if (json_is_object(v)) {
        const char *key;
        json_t *child;

        if (json_object_size(v) == 0)
            return f->nlen ? flat_emit(f, "", 0) : HTTP_FLAT_OK;
        json_object_foreach(v, key, child)
        {
            rc = flat_child(f, key, strlen(key), child, depth + 1);
            if (rc != HTTP_FLAT_OK)
                return rc;
        }
        return HTTP_FLAT_OK;
    }
    if (json_array_size(v) == 0)
        return flat_emit(f, "", 0);
    {
        size_t i;
        json_t *child;
        char idx[24];

        json_array_foreach(v, i, child)
        {
            int n = snprintf(idx, sizeof(idx), "%zu", i);

            rc = flat_child(f, idx, (size_t)n, child, depth + 1);
            if (rc != HTTP_FLAT_OK)
                return rc;
        }
    }
    return rc;
}

static int flat_value(flat_t *f, json_t *v, unsigned depth)
{
    char num[40];
    int n;

    switch (json_typeof(v)) {
    case JSON_OBJECT:
    case JSON_ARRAY:
        return flat_container(f, v, depth);
    case JSON_STRING:
        return flat_emit(f, json_string_value(v), json_string_length(v));
    case JSON_INTEGER:
        n = snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT,
                     json_integer_value(v));
        return flat_emit(f, num, (size_t)n);
    case JSON_REAL:
        n = real_text(json_real_value(v), num, sizeof(num));
        return flat_emit(f, num, (size_t)n);
    case JSON_TRUE:
        return flat_emit(f, "true", 4);
    case JSON_FALSE:
        return flat_emit(f, "false", 5);
    case JSON_NULL:
    default:
        return flat_emit(f, "", 0);
    }
}

int http_flatten_json(const char *buf, size_t len,
                      const http_flat_limits_t *lim, http_flat_cb cb, void *arg,
                      char *err, size_t errlen)
{
    flat_t *f;
    json_error_t je;
    json_t *doc;
    int rc;

    doc = json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    if (doc == NULL) {
        if (err && errlen)
            snprintf(err, errlen, "bad JSON at byte %d: %s", je.position,
                     je.text);
        return HTTP_FLAT_BADJSON;
    }
    if (!json_is_object(doc)) {
        json_decref(doc);
        set_err(err, errlen, "the JSON value is not an object");
        return HTTP_FLAT_NOTOBJECT;
    }
    f = calloc(1, sizeof(*f));
    if (f == NULL) {
        json_decref(doc);
        set_err(err, errlen, "out of memory");
        return HTTP_FLAT_BADJSON;
    }
    f->cb = cb;
    f->arg = arg;
    f->err = err;
    f->errlen = errlen;
    limits(lim, &f->max_fields, &f->max_depth);
    rc = flat_container(f, doc, 1);
    free(f);
    json_decref(doc);
    return rc;
}

/* ---- forms ----------------------------------------------------------------
 */

/* Decode S (LEN bytes) into OUT (room for LEN + 1); returns the length or
 * -1 on a bad escape or a NUL byte (raw or encoded). */
static long form_decode(const char *s, size_t len, char *out)
{
    size_t i, o = 0;

    for (i = 0; i < len; i++) {
        if (s[i] == '+') {
            out[o++] = ' ';
        } else if (s[i] == '%') {
            int hi, lo;

            if (len - i < 3)
                return -1;
            hi = http_hexval(s[i + 1]);
            lo = http_hexval(s[i + 2]);
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
                return -1;
            out[o++] = (char)(hi * 16 + lo);
            i += 2;
        } else if (s[i] == '\0') {
            return -1;
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    return (long)o;
}

int http_flatten_form(const char *buf, size_t len,
                      const http_flat_limits_t *lim, http_flat_cb cb, void *arg,
                      char *err, size_t errlen)
{
    const char *p = buf, *end = buf + len;
    size_t max_fields, nfields = 0;
    unsigned depth;
    char *nbuf, *vbuf;
    int rc = HTTP_FLAT_OK;

    limits(lim, &max_fields, &depth);
    nbuf = malloc(len + 1);
    vbuf = malloc(len + 1);
    if (nbuf == NULL || vbuf == NULL) {
        free(nbuf);
        free(vbuf);
        set_err(err, errlen, "out of memory");
        return HTTP_FLAT_BADFORM;
    }
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *pe = amp ? amp : end, *eq;
        long nl, vl;

        if (pe == p) { /* "&&" */
            p = pe + 1;
            continue;
        }
        eq = memchr(p, '=', (size_t)(pe - p));
        nl = form_decode(p, (size_t)((eq ? eq : pe) - p), nbuf);
        vl = eq ? form_decode(eq + 1, (size_t)(pe - eq - 1), vbuf) : 0;
        if (!eq)
            vbuf[0] = '\0';
        if (nl < 0 || vl < 0) {
            set_err(err, errlen, "bad percent-escape in the form");
            rc = HTTP_FLAT_BADFORM;
            break;
        }
        if ((size_t)nl > HTTP_FLAT_MAX_NAME) {
            set_err(err, errlen, "field name too long");
            rc = HTTP_FLAT_LONGNAME;
            break;
        }
        if (nfields++ >= max_fields) {
            set_err(err, errlen, "too many fields");
            rc = HTTP_FLAT_TOOMANY;
            break;
        }
        cb(arg, nbuf, (size_t)nl, vbuf, (size_t)vl);
        p = amp ? amp + 1 : end;
    }
    free(nbuf);
    free(vbuf);
    return rc;
}

/* ---- media types -----------------------------------------------------------
 */

int http_body_kind(const char *v, size_t len)
{
    static const struct {
        const char *type;
        int kind;
    } tab[] = {{"application/json", HTTP_BODY_JSON},
               {"application/x-www-form-urlencoded", HTTP_BODY_FORM},
               {"text/plain", HTTP_BODY_TEXT}};
    size_t i, n;

    while (len && (*v == ' ' || *v == '\t')) {
        v++;
        len--;
    }
    for (n = 0; n < len && v[n] != ';' && v[n] != ' ' && v[n] != '\t'; n++)
        ;
    for (i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
        if (strlen(tab[i].type) == n && strncasecmp(tab[i].type, v, n) == 0)
            return tab[i].kind;
    }
    /* application/vnd.x+json: a JSON document by its suffix (RFC 6839) */
    if (n > 17 && strncasecmp(v, "application/", 12) == 0 &&
        strncasecmp(v + n - 5, "+json", 5) == 0)
        return HTTP_BODY_JSON;
    return HTTP_BODY_UNKNOWN;
}

/* ---- signatures and secrets ------------------------------------------------
 */

int http_sig_parse(const char *v, size_t len, unsigned char out[32])
{
    size_t i;

    while (len && (v[0] == ' ' || v[0] == '\t')) {
        v++;
        len--;
    }
    while (len && (v[len - 1] == ' ' || v[len - 1] == '\t'))
        len--;
    if (len == 71 && strncasecmp(v, "sha256=", 7) == 0) {
        v += 7;
        len -= 7;
    }
    if (len != 64)
        return -1;
    for (i = 0; i < 32; i++) {
        int hi = http_hexval(v[2 * i]), lo = http_hexval(v[2 * i + 1]);

        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (unsigned char)(hi * 16 + lo);
    }
    return 0;
}

int http_sig_check(const char *key, size_t klen, const char *body, size_t blen,
                   const unsigned char sig[32])
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mlen = 0;

    if (HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)body, blen,
             mac, &mlen) == NULL ||
        mlen != 32)
        return 0;
    return CRYPTO_memcmp(mac, sig, 32) == 0;
}

int http_secret_eq(const char *a, size_t alen, const char *b, size_t blen)
{
    unsigned char ha[32], hb[32];

    if (EVP_Digest(a, alen, ha, NULL, EVP_sha256(), NULL) != 1 ||
        EVP_Digest(b, blen, hb, NULL, EVP_sha256(), NULL) != 1)
        return 0;
    return CRYPTO_memcmp(ha, hb, 32) == 0;
}
