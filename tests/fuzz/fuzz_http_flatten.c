/*
 * fuzz_http_flatten.c - libFuzzer target: request bodies to bus fields
 * (protocols/http/http_flatten.h), what the publish handler runs on every
 * webhook body.
 *
 * The first byte picks the input kind (bits 0-1) and the limits (bits
 * 2-7: small ones, so that every limit is hit, or the defaults); the rest
 * is the body.
 *   0 json: every field name and value is NUL-terminated at its length,
 *           names are at most HTTP_FLAT_MAX_NAME bytes, no more fields
 *           than the limit are given; a document that flattens to N
 *           fields flattens again to the same fields with a limit of N,
 *           and is refused as too many with N - 1.
 *   1 form: the same, and an accepted form gives at most one field per
 *           '&'-separated piece, names and values free of NUL.
 *   2 kind: http_body_kind and http_sig_parse: a parsed signature,
 *           printed as hex (with and without "sha256="), parses back to
 *           the same bytes.
 */
#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_flatten.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct {
    size_t n;
    uint64_t sum; /* a checksum of names and values in order */
    int nul_free;
} fz_out_t;

static void fz_field(void *arg, const char *name, size_t nlen,
                     const char *value, size_t vlen)
{
    fz_out_t *o = arg;
    size_t i;

    assert(name[nlen] == '\0' && value[vlen] == '\0');
    assert(nlen <= HTTP_FLAT_MAX_NAME);
    if (strlen(name) != nlen || strlen(value) != vlen)
        o->nul_free = 0;
    for (i = 0; i < nlen; i++)
        o->sum = o->sum * 131 + (unsigned char)name[i];
    o->sum = o->sum * 131 + 0x100;
    for (i = 0; i < vlen; i++)
        o->sum = o->sum * 131 + (unsigned char)value[i];
    o->sum = o->sum * 131 + 0x101;
    o->n++;
}

typedef int (*fz_flat_fn)(const char *, size_t, const http_flat_limits_t *,
                          http_flat_cb, void *, char *, size_t);

static void fz_flatten(fz_flat_fn fn, const char *p, size_t len,
                       const http_flat_limits_t *lim, int form)
{
    fz_out_t a = {0, 0, 1}, b = {0, 0, 1};
    http_flat_limits_t again;
    size_t max = lim->max_fields ? lim->max_fields : HTTP_FLAT_MAX_FIELDS;
    char err[128];
    int rc = fn(p, len, lim, fz_field, &a, err, sizeof(err));

    assert(a.n <= max);
    if (rc != HTTP_FLAT_OK)
        return;
    if (form) {
        size_t pieces = 1, i;

        for (i = 0; i < len; i++)
            pieces += p[i] == '&';
        assert(a.n <= pieces);
        assert(a.nul_free);
    }
    again = *lim;
    again.max_fields = a.n ? a.n : 1;
    assert(fn(p, len, &again, fz_field, &b, NULL, 0) == HTTP_FLAT_OK);
    assert(b.n == a.n && b.sum == a.sum);
    if (a.n > 1) {
        b.n = 0;
        again.max_fields = a.n - 1;
        assert(fn(p, len, &again, fz_field, &b, NULL, 0) == HTTP_FLAT_TOOMANY);
    }
}

static void fz_kind(const char *p, size_t len)
{
    unsigned char sig[32], back[32];
    char hex[72];
    size_t i;
    int k = http_body_kind(p, len);

    assert(k >= HTTP_BODY_UNKNOWN && k <= HTTP_BODY_TEXT);
    if (http_sig_parse(p, len, sig) != 0)
        return;
    memcpy(hex, "sha256=", 7);
    for (i = 0; i < 32; i++)
        snprintf(hex + 7 + 2 * i, 3, "%02x", sig[i]);
    assert(http_sig_parse(hex, 71, back) == 0 && memcmp(sig, back, 32) == 0);
    assert(http_sig_parse(hex + 7, 64, back) == 0 &&
           memcmp(sig, back, 32) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    http_flat_limits_t lim = {0, 0};
    const char *p;
    char *copy;
    size_t len;

    if (size < 1)
        return 0;
    if (data[0] & 0x80) { /* small limits */
        lim.max_fields = 1 + ((data[0] >> 2) & 7);
        lim.max_depth = 1 + ((data[0] >> 5) & 3);
    }
    len = size - 1;
    copy = malloc(len ? len : 1); /* nothing after the input: ASan sees */
    memcpy(copy, data + 1, len);
    p = copy;
    switch (data[0] & 3) {
    case 0:
        fz_flatten(http_flatten_json, p, len, &lim, 0);
        break;
    case 1:
        fz_flatten(http_flatten_form, p, len, &lim, 1);
        break;
    default:
        fz_kind(p, len);
        break;
    }
    free(copy);
    return 0;
}
