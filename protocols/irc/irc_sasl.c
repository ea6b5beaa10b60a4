/*
 * irc_sasl.c - AUTHENTICATE chunk accumulation, and the PLAIN (RFC 4616)
 * and EXTERNAL (RFC 4422 appendix A) responses (see irc_sasl.h).
 *
 * The base64 codec is the smtp module's (smtp_auth.h, strict RFC 4648
 * with padding), which both modules share inside libloom until it moves
 * to the core's utilities.
 */
#include <string.h>

#include <openssl/crypto.h>

#include "loom.h"
#include "irc_sasl.h"
#include "../smtp/smtp_auth.h"

static const struct {
    irc_sasl_res_t res;
    int numeric;
} sasl_numerics[] = {
    {IRC_SASL_ABORT, 906}, /* ERR_SASLABORTED */
    {IRC_SASL_CHUNK, 905}, /* ERR_SASLTOOLONG */
    {IRC_SASL_LONG, 904},  /* ERR_SASLFAIL */
    {IRC_SASL_BAD, 904},
};

int irc_sasl_numeric(irc_sasl_res_t res)
{
    for (size_t i = 0; i < sizeof(sasl_numerics) / sizeof(sasl_numerics[0]);
         i++)
        if (sasl_numerics[i].res == res)
            return sasl_numerics[i].numeric;
    return 0;
}

void irc_sasl_reset(irc_sasl_acc_t *acc)
{
    /* all of it: ACC may be uninitialised (a new client's) */
    irc_sasl_wipe(acc, sizeof(*acc));
    acc->len = 0;
}

static int b64_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (c >= '0' && c <= '9') || c == '+' || c == '/' || c == '=';
}

irc_sasl_res_t irc_sasl_feed(irc_sasl_acc_t *acc, const char *arg, size_t len)
{
    if (len == 1 && arg[0] == '*')
        return IRC_SASL_ABORT;
    if (len > IRC_SASL_CHUNK_LEN)
        return IRC_SASL_CHUNK;
    if (len == 0)
        return IRC_SASL_BAD;
    if (len == 1 && arg[0] == '+')
        return IRC_SASL_DONE; /* empty response, or the end after 400s */
    for (size_t i = 0; i < len; i++)
        if (!b64_char(arg[i]))
            return IRC_SASL_BAD;
    if (acc->len + len > IRC_SASL_B64_MAX)
        return IRC_SASL_LONG;
    memcpy(acc->b64 + acc->len, arg, len);
    acc->len += len;
    acc->b64[acc->len] = '\0';
    return len == IRC_SASL_CHUNK_LEN ? IRC_SASL_MORE : IRC_SASL_DONE;
}

int irc_sasl_decode(const irc_sasl_acc_t *acc, char *out, size_t cap,
                    size_t *outlen)
{
    *outlen = 0;
    if (acc->len > 0 &&
        smtp_b64_decode(acc->b64, acc->len, out, cap, outlen) != LOOM_OK)
        return LOOM_ERROR;
    if (*outlen < cap)
        out[*outlen] = '\0';
    return LOOM_OK;
}

int irc_sasl_encode(const char *in, size_t len, char *out, size_t cap)
{
    return smtp_b64_encode(in, len, out, cap);
}

/* Copy IN[0..N) into OUT (IRC_SASL_FIELD_MAX + 1 bytes) NUL-terminated. */
static int sasl_field(const char *in, size_t n, char *out)
{
    if (n > IRC_SASL_FIELD_MAX)
        return LOOM_ERROR;
    memcpy(out, in, n);
    out[n] = '\0';
    return LOOM_OK;
}

int irc_sasl_plain(const char *in, size_t len, irc_sasl_plain_t *out)
{
    const char *n1 = memchr(in, '\0', len), *n2;

    memset(out, 0, sizeof(*out));
    if (n1 == NULL)
        return LOOM_ERROR;
    n2 = memchr(n1 + 1, '\0', len - (size_t)(n1 + 1 - in));
    if (n2 == NULL || memchr(n2 + 1, '\0', len - (size_t)(n2 + 1 - in)))
        return LOOM_ERROR;
    if (n2 == n1 + 1 || n2 + 1 == in + len)
        return LOOM_ERROR; /* empty authcid or passwd */
    if (sasl_field(in, (size_t)(n1 - in), out->authzid) != LOOM_OK ||
        sasl_field(n1 + 1, (size_t)(n2 - n1 - 1), out->authcid) != LOOM_OK ||
        sasl_field(n2 + 1, (size_t)(in + len - n2 - 1), out->passwd) !=
            LOOM_OK ||
        (out->authzid[0] != '\0' && strcmp(out->authzid, out->authcid) != 0)) {
        irc_sasl_wipe(out, sizeof(*out));
        return LOOM_ERROR;
    }
    return LOOM_OK;
}

int irc_sasl_external(const char *in, size_t len, char *authzid, size_t cap)
{
    if (cap == 0 || len >= cap || memchr(in, '\0', len) != NULL)
        return LOOM_ERROR;
    memcpy(authzid, in, len);
    authzid[len] = '\0';
    return LOOM_OK;
}

void irc_sasl_wipe(void *p, size_t n)
{
    OPENSSL_cleanse(p, n);
}
