/*
 * dns_tsig.c - TSIG (RFC 8945): the record's parser, the MAC over a
 * message and its TSIG variables, and the signed or unsigned records a
 * reply carries.
 */
#include <string.h>
#include <strings.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "dns_tsig.h"

static const struct {
    const char *text;
    const uint8_t *wire; /* lower-case wire name */
    const char *digest;  /* OpenSSL's digest name */
    size_t mac_size;
} algs[] = {
    [DNS_TSIG_SHA1] = {"hmac-sha1", (const uint8_t *)"\x09hmac-sha1", "SHA1",
                       20},
    [DNS_TSIG_SHA256] = {"hmac-sha256", (const uint8_t *)"\x0bhmac-sha256",
                         "SHA256", 32},
    [DNS_TSIG_SHA512] = {"hmac-sha512", (const uint8_t *)"\x0bhmac-sha512",
                         "SHA512", 64},
};

#define NALGS (sizeof(algs) / sizeof(algs[0]))

int dns_tsig_alg_parse(const char *text)
{
    size_t n = strlen(text);

    if (n && text[n - 1] == '.')
        n--;
    for (size_t i = 0; i < NALGS; i++)
        if (strlen(algs[i].text) == n &&
            strncasecmp(algs[i].text, text, n) == 0)
            return (int)i;
    return -1;
}

const char *dns_tsig_alg_text(int alg)
{
    return algs[alg].text;
}

size_t dns_tsig_mac_size(int alg)
{
    return algs[alg].mac_size;
}

/* Wire length of algorithm ALG's name (the string literal omits the root
 * label's zero, which its terminating NUL supplies). */
static size_t alg_wire_len(int alg)
{
    return (size_t)algs[alg].wire[0] + 2;
}

/* Decode padded base64 IN into OUT (CAP bytes): the length, or -1. */
static long b64_decode(const char *in, uint8_t *out, size_t cap)
{
    static const char abc[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t n = strlen(in), len = 0;
    uint32_t acc = 0;
    unsigned bits = 0, pad = 0;

    if (n == 0 || n % 4 != 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        const char *c;

        if (in[i] == '=') {
            if (i < n - 2)
                return -1;
            pad++;
            continue;
        }
        if (pad || (c = strchr(abc, in[i])) == NULL || in[i] == '\0')
            return -1;
        acc = (acc << 6) | (uint32_t)(c - abc);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (len >= cap)
                return -1;
            out[len++] = (uint8_t)(acc >> bits);
        }
    }
    if ((acc & ((1u << bits) - 1)) != 0) /* non-zero leftover bits */
        return -1;
    return (long)len;
}

int dns_tsig_key_init(dns_tsig_key_t *k, const char *name, const char *alg,
                      const char *secret, const char **err)
{
    long n;

    memset(k, 0, sizeof(*k));
    if (dns_name_from_text(k->name, name, NULL) == 0) {
        *err = "not a domain name";
        return -1;
    }
    k->name_len = dns_name_lower(k->name, k->name);
    if ((k->alg = dns_tsig_alg_parse(alg)) < 0) {
        *err = "algorithm must be hmac-sha1, hmac-sha256 or hmac-sha512";
        return -1;
    }
    n = b64_decode(secret, k->secret, sizeof(k->secret));
    if (n <= 0) {
        *err = "secret is not base64 of 1 to 128 bytes";
        return -1;
    }
    k->secret_len = (size_t)n;
    return 0;
}

int dns_tsig_find(const uint8_t *msg, size_t len, dns_tsig_rr_t *t)
{
    unsigned qd, total, i;
    size_t off = DNS_HDR_LEN;

    memset(t, 0, sizeof(*t));
    if (len < DNS_HDR_LEN)
        return -1;
    qd = dns_get16(msg + 4);
    total =
        (unsigned)dns_get16(msg + 6) + dns_get16(msg + 8) + dns_get16(msg + 10);
    for (i = 0; i < qd; i++) {
        off = dns_wire_skip_name(msg, len, off);
        if (off == 0 || off + 4 > len)
            return -1;
        off += 4;
    }
    for (i = 0; i < total; i++) {
        size_t start = off, n, rd, end;
        uint16_t rdlen;

        off = dns_wire_skip_name(msg, len, off);
        if (off == 0 || off + 10 > len)
            return -1;
        rdlen = dns_get16(msg + off + 8);
        if (off + 10 + rdlen > len)
            return -1;
        if (dns_get16(msg + off) != DNS_T_TSIG) {
            off += 10 + (size_t)rdlen;
            continue;
        }
        /* the last record, in the additional section, names uncompressed,
         * class ANY, TTL 0 */
        if (i != total - 1 || dns_get16(msg + 10) == 0)
            return -1;
        n = dns_name_len(msg + start, off - start);
        if (n == 0 || start + n != off ||
            dns_get16(msg + off + 2) != DNS_C_ANY ||
            dns_get32(msg + off + 4) != 0)
            return -1;
        t->start = start;
        t->name = msg + start;
        rd = off + 10;
        end = rd + rdlen;
        n = dns_name_len(msg + rd, rdlen);
        if (n == 0 || rd + n + 10 > end)
            return -1;
        t->alg = msg + rd;
        rd += n;
        t->time_signed =
            ((uint64_t)dns_get16(msg + rd) << 32) | dns_get32(msg + rd + 2);
        t->fudge = dns_get16(msg + rd + 6);
        t->mac_len = dns_get16(msg + rd + 8);
        rd += 10;
        if (rd + t->mac_len + 6 > end)
            return -1;
        t->mac = msg + rd;
        rd += t->mac_len;
        t->orig_id = dns_get16(msg + rd);
        t->error = dns_get16(msg + rd + 2);
        t->other_len = dns_get16(msg + rd + 4);
        rd += 6;
        if (rd + t->other_len != end)
            return -1;
        t->other = msg + rd;
        return 1;
    }
    return 0;
}

const dns_tsig_key_t *dns_tsig_key_find(const dns_tsig_key_t *keys, size_t n,
                                        const dns_tsig_rr_t *t)
{
    for (size_t i = 0; i < n; i++)
        if (dns_name_equal(keys[i].name, t->name) &&
            dns_name_equal(algs[keys[i].alg].wire, t->alg))
            return &keys[i];
    return NULL;
}

/* ---- the MAC ---------------------------------------------------------- */

static EVP_MAC_CTX *mac_begin(const dns_tsig_key_t *k)
{
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
    OSSL_PARAM params[2];

    EVP_MAC_free(mac);
    if (ctx == NULL)
        return NULL;
    params[0] = OSSL_PARAM_construct_utf8_string(
        OSSL_MAC_PARAM_DIGEST, (char *)algs[k->alg].digest, 0);
    params[1] = OSSL_PARAM_construct_end();
    if (!EVP_MAC_init(ctx, k->secret, k->secret_len, params)) {
        EVP_MAC_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

static void mac_u16(EVP_MAC_CTX *ctx, uint16_t v)
{
    uint8_t b[2];

    dns_put16(b, v);
    EVP_MAC_update(ctx, b, 2);
}

static void mac_time(EVP_MAC_CTX *ctx, uint64_t t, uint16_t fudge)
{
    uint8_t b[8];

    dns_put16(b, (uint16_t)(t >> 32));
    dns_put32(b + 2, (uint32_t)t);
    dns_put16(b + 6, fudge);
    EVP_MAC_update(ctx, b, 8);
}

/* The TSIG variables (RFC 8945 4.3.3) but for the time, which the caller
 * feeds between: key name, class, TTL, then algorithm. */
static void mac_vars(EVP_MAC_CTX *ctx, const dns_tsig_key_t *k, uint64_t t,
                     uint16_t fudge, uint16_t error, const uint8_t *other,
                     uint16_t other_len)
{
    static const uint8_t class_ttl[6] = {0, DNS_C_ANY, 0, 0, 0, 0};

    EVP_MAC_update(ctx, k->name, k->name_len);
    EVP_MAC_update(ctx, class_ttl, sizeof(class_ttl));
    EVP_MAC_update(ctx, algs[k->alg].wire, alg_wire_len(k->alg));
    mac_time(ctx, t, fudge);
    mac_u16(ctx, error);
    mac_u16(ctx, other_len);
    if (other_len)
        EVP_MAC_update(ctx, other, other_len);
}

static size_t mac_end(EVP_MAC_CTX *ctx, uint8_t *out)
{
    size_t n = 0;

    if (!EVP_MAC_final(ctx, out, &n, DNS_TSIG_MAC_MAX))
        n = 0;
    EVP_MAC_CTX_free(ctx);
    return n;
}

int dns_tsig_verify(const uint8_t *msg, size_t len, const dns_tsig_rr_t *t,
                    const dns_tsig_key_t *key, uint64_t now)
{
    size_t full = algs[key->alg].mac_size, min = full / 2 > 10 ? full / 2 : 10;
    uint8_t hdr[DNS_HDR_LEN], mac[DNS_TSIG_MAC_MAX];
    EVP_MAC_CTX *ctx;
    uint64_t skew;

    if (t->mac_len > full || t->mac_len < min || t->start > len)
        return -1;
    if ((ctx = mac_begin(key)) == NULL)
        return DNS_TSIG_BADSIG;
    /* the message as it was before the TSIG was added: original ID, one
     * record fewer */
    memcpy(hdr, msg, DNS_HDR_LEN);
    dns_put16(hdr, t->orig_id);
    dns_put16(hdr + 10, (uint16_t)(dns_get16(hdr + 10) - 1));
    EVP_MAC_update(ctx, hdr, DNS_HDR_LEN);
    EVP_MAC_update(ctx, msg + DNS_HDR_LEN, t->start - DNS_HDR_LEN);
    mac_vars(ctx, key, t->time_signed, t->fudge, t->error, t->other,
             t->other_len);
    if (mac_end(ctx, mac) != full || CRYPTO_memcmp(mac, t->mac, t->mac_len))
        return DNS_TSIG_BADSIG;
    skew = now > t->time_signed ? now - t->time_signed : t->time_signed - now;
    if (skew > t->fudge)
        return DNS_TSIG_BADTIME;
    return DNS_TSIG_OK;
}

size_t dns_tsig_space(const dns_tsig_key_t *key)
{
    return key->name_len + 10 + alg_wire_len(key->alg) + 10 +
           algs[key->alg].mac_size + 6 + 6;
}

/* Append the TSIG record: NAME, ALG (wire), times, MAC, error, other. */
static int put_rr(dns_pkt_t *p, const uint8_t *name, size_t name_len,
                  const uint8_t *alg, size_t alg_len, uint64_t t,
                  uint16_t fudge, const uint8_t *mac, size_t mac_len,
                  uint16_t error, const uint8_t *other, uint16_t other_len)
{
    dns_pkt_mark_t m = dns_pkt_mark(p);
    size_t rdlen = alg_len + 10 + mac_len + 6 + other_len;
    int rc = 0;

    rc |= dns_pkt_bytes(p, name, name_len);
    rc |= dns_pkt_u16(p, DNS_T_TSIG);
    rc |= dns_pkt_u16(p, DNS_C_ANY);
    rc |= dns_pkt_u32(p, 0);
    rc |= dns_pkt_u16(p, (uint16_t)rdlen);
    rc |= dns_pkt_bytes(p, alg, alg_len);
    rc |= dns_pkt_u16(p, (uint16_t)(t >> 32));
    rc |= dns_pkt_u32(p, (uint32_t)t);
    rc |= dns_pkt_u16(p, fudge);
    rc |= dns_pkt_u16(p, (uint16_t)mac_len);
    if (mac_len)
        rc |= dns_pkt_bytes(p, mac, mac_len);
    rc |= dns_pkt_u16(p, dns_get16(p->buf));
    rc |= dns_pkt_u16(p, error);
    rc |= dns_pkt_u16(p, other_len);
    if (other_len)
        rc |= dns_pkt_bytes(p, other, other_len);
    if (rc != 0) {
        dns_pkt_rollback(p, m);
        return -1;
    }
    dns_put16(p->buf + 10, (uint16_t)(dns_get16(p->buf + 10) + 1));
    return 0;
}

int dns_tsig_sign(dns_pkt_t *p, const dns_tsig_key_t *key, const uint8_t *prior,
                  size_t prior_len, int timers_only, uint64_t time_signed,
                  uint16_t error, const uint8_t *other, uint16_t other_len,
                  uint8_t *mac_out)
{
    EVP_MAC_CTX *ctx = mac_begin(key);
    size_t n;

    if (ctx == NULL)
        return -1;
    if (prior) {
        mac_u16(ctx, (uint16_t)prior_len);
        EVP_MAC_update(ctx, prior, prior_len);
    }
    EVP_MAC_update(ctx, p->buf, p->len);
    if (timers_only)
        mac_time(ctx, time_signed, DNS_TSIG_FUDGE);
    else
        mac_vars(ctx, key, time_signed, DNS_TSIG_FUDGE, error, other,
                 other_len);
    n = mac_end(ctx, mac_out);
    if (n == 0 || put_rr(p, key->name, key->name_len, algs[key->alg].wire,
                         alg_wire_len(key->alg), time_signed, DNS_TSIG_FUDGE,
                         mac_out, n, error, other, other_len) != 0)
        return -1;
    return (int)n;
}

int dns_tsig_append_unsigned(dns_pkt_t *p, const dns_tsig_rr_t *t, uint64_t now,
                             uint16_t error)
{
    return put_rr(p, t->name, dns_name_len(t->name, DNS_NAME_MAX), t->alg,
                  dns_name_len(t->alg, DNS_NAME_MAX), now, t->fudge, NULL, 0,
                  error, NULL, 0);
}
