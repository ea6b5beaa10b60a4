/*
 * smtp_auth.c - the users of AUTH: the users file, which envelope senders
 * a user may use, the SASL PLAIN/LOGIN decoding (RFC 4616, the LOGIN
 * draft) and the crypt(3) check that runs on the worker pool.
 *
 * The users file: one user per line,
 *
 *     NAME:HASH [SENDER ...]
 *
 * NAME 1-64 bytes of [A-Za-z0-9._@+-], HASH a crypt(3) "$id$..." hash
 * (mkpasswd -m yescrypt, openssl passwd -6), then the envelope senders
 * the user may use: an address, "@domain" (any address there) or "*"
 * (any).  A user without senders may send only with the null sender.
 */
#include <crypt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "smtp.h"
#include "smtp_auth.h"

static int smtp_login_ok(const char *s, size_t n)
{
    if (n == 0 || n > SMTP_AUTH_USER_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];

        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '@' ||
              ch == '+' || ch == '-'))
            return 0;
    }
    return 1;
}

static int smtp_hash_ok(const char *h)
{
    size_t n = strlen(h);

    return n >= 4 && n < 512 && h[0] == '$' && strchr(h + 1, '$') != NULL;
}

static int smtp_user_line(smtp_users_t *u, char *line, char *err, size_t errlen)
{
    char *save = NULL, *f, *colon;
    smtp_user_t *nu;

    f = strtok_r(line, " \t", &save);
    colon = f ? strchr(f, ':') : NULL;
    if (colon == NULL || !smtp_login_ok(f, (size_t)(colon - f))) {
        snprintf(err, errlen,
                 "a user is \"NAME:HASH [SENDER ...]\" with NAME 1-%d "
                 "characters of A-Z a-z 0-9 . _ @ + -",
                 SMTP_AUTH_USER_MAX);
        return LOOM_ERROR;
    }
    *colon = '\0';
    if (!smtp_hash_ok(colon + 1)) {
        snprintf(err, errlen,
                 "user \"%s\": the hash is not a crypt(3) \"$id$...\" hash "
                 "(mkpasswd -m yescrypt)",
                 f);
        return LOOM_ERROR;
    }
    if (smtp_user_find(u, f)) {
        snprintf(err, errlen, "user \"%s\" is listed twice", f);
        return LOOM_ERROR;
    }
    u->users = loom_realloc(u->users, (u->nusers + 1) * sizeof(*u->users));
    nu = &u->users[u->nusers++];
    memset(nu, 0, sizeof(*nu));
    nu->name = loom_strdup(f);
    nu->hash = loom_strdup(colon + 1);
    while ((f = strtok_r(NULL, " \t", &save)) != NULL) {
        smtp_lower(f);
        if (strcmp(f, "*") != 0 && strchr(f, '@') == NULL) {
            snprintf(err, errlen,
                     "user \"%s\": sender \"%s\" is not an address, "
                     "\"@domain\" or \"*\"",
                     nu->name, f);
            return LOOM_ERROR;
        }
        nu->senders =
            loom_realloc(nu->senders, (nu->nsenders + 1) * sizeof(char *));
        nu->senders[nu->nsenders++] = loom_strdup(f);
    }
    return LOOM_OK;
}

smtp_users_t *smtp_users_parse(const char *text, size_t len, unsigned *line,
                               char *err, size_t errlen)
{
    smtp_users_t *u = loom_calloc(1, sizeof(*u));
    char *copy = loom_strndup(text, len);
    char *p = copy;

    *line = 0;
    while (p) {
        char *nl = strchr(p, '\n');

        if (nl)
            *nl = '\0';
        (*line)++;
        p[strcspn(p, "\r")] = '\0';
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p && *p != '#' && smtp_user_line(u, p, err, errlen) != LOOM_OK) {
            OPENSSL_cleanse(copy, len);
            free(copy);
            smtp_users_free(u);
            return NULL;
        }
        p = nl ? nl + 1 : NULL;
    }
    OPENSSL_cleanse(copy, len);
    free(copy);
    return u;
}

void smtp_users_free(smtp_users_t *u)
{
    if (u == NULL)
        return;
    for (size_t i = 0; i < u->nusers; i++) {
        OPENSSL_cleanse(u->users[i].hash, strlen(u->users[i].hash));
        free(u->users[i].hash);
        free(u->users[i].name);
        for (size_t j = 0; j < u->users[i].nsenders; j++)
            free(u->users[i].senders[j]);
        free(u->users[i].senders);
    }
    free(u->users);
    free(u);
}

const smtp_user_t *smtp_user_find(const smtp_users_t *u, const char *name)
{
    for (size_t i = 0; u && i < u->nusers; i++)
        if (strcmp(u->users[i].name, name) == 0)
            return &u->users[i];
    return NULL;
}

int smtp_user_may_send(const smtp_user_t *u, const char *addr)
{
    const char *at = strrchr(addr, '@');

    if (addr[0] == '\0')
        return 1;
    for (size_t i = 0; i < u->nsenders; i++) {
        const char *s = u->senders[i];

        if (strcmp(s, "*") == 0 || strcmp(s, addr) == 0 ||
            (s[0] == '@' && at && strcmp(s, at) == 0))
            return 1;
    }
    return 0;
}

/* ---- SASL ---------------------------------------------------------------- */

static int smtp_b64_val(unsigned char ch)
{
    static const char tab[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const char *p = ch ? strchr(tab, ch) : NULL;

    return p ? (int)(p - tab) : -1;
}

int smtp_b64_decode(const char *in, size_t len, char *out, size_t cap,
                    size_t *outlen)
{
    size_t o = 0, pad = 0;
    uint32_t acc = 0;
    unsigned nacc = 0;

    if (len % 4 != 0)
        return LOOM_ERROR;
    for (size_t i = 0; i < len; i++) {
        int v;

        if (in[i] == '=') {
            if (i < len - 2 || (i == len - 2 && in[len - 1] != '='))
                return LOOM_ERROR;
            pad++;
            v = 0;
        } else if ((v = smtp_b64_val((unsigned char)in[i])) < 0 || pad) {
            return LOOM_ERROR;
        }
        acc = (acc << 6) | (uint32_t)v;
        if (++nacc == 4) {
            unsigned char b[3] = {(unsigned char)(acc >> 16),
                                  (unsigned char)(acc >> 8),
                                  (unsigned char)acc};
            size_t take = 3 - (i == len - 1 ? pad : 0);

            if (o + take > cap)
                return LOOM_ERROR;
            memcpy(out + o, b, take);
            o += take;
            acc = 0;
            nacc = 0;
        }
    }
    *outlen = o;
    return LOOM_OK;
}

int smtp_b64_encode(const char *in, size_t len, char *out, size_t cap)
{
    static const char tab[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;

    if ((len + 2) / 3 * 4 + 1 > cap)
        return LOOM_ERROR;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)(unsigned char)in[i] << 16;

        if (i + 1 < len)
            v |= (uint32_t)(unsigned char)in[i + 1] << 8;
        if (i + 2 < len)
            v |= (uint32_t)(unsigned char)in[i + 2];
        out[o++] = tab[(v >> 18) & 63];
        out[o++] = tab[(v >> 12) & 63];
        out[o++] = i + 1 < len ? tab[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < len ? tab[v & 63] : '=';
    }
    out[o] = '\0';
    return LOOM_OK;
}

int smtp_sasl_plain(const char *b64, size_t len, char *user, size_t ucap,
                    char *pass, size_t pcap)
{
    char dec[SMTP_AUTH_USER_MAX + SMTP_AUTH_PASS_MAX + 2 * 64];
    size_t n;
    const char *z1, *z2;
    size_t authz, authc, pw;
    int r = LOOM_ERROR;

    if (smtp_b64_decode(b64, len, dec, sizeof(dec), &n) != LOOM_OK)
        goto out;
    z1 = memchr(dec, '\0', n);
    if (z1 == NULL)
        goto out;
    z2 = memchr(z1 + 1, '\0', n - (size_t)(z1 + 1 - dec));
    if (z2 == NULL)
        goto out;
    authz = (size_t)(z1 - dec);
    authc = (size_t)(z2 - z1 - 1);
    pw = n - (size_t)(z2 + 1 - dec);
    if (authc == 0 || authc >= ucap || pw >= pcap ||
        memchr(z2 + 1, '\0', pw) != NULL)
        goto out;
    /* an authorization identity other than the user is not supported */
    if (authz && (authz != authc || memcmp(dec, z1 + 1, authc) != 0))
        goto out;
    memcpy(user, z1 + 1, authc);
    user[authc] = '\0';
    memcpy(pass, z2 + 1, pw);
    pass[pw] = '\0';
    r = LOOM_OK;
out:
    OPENSSL_cleanse(dec, sizeof(dec));
    return r;
}

int smtp_sasl_text(const char *b64, size_t len, char *out, size_t cap)
{
    size_t n;

    if (cap == 0 || smtp_b64_decode(b64, len, out, cap - 1, &n) != LOOM_OK ||
        memchr(out, '\0', n) != NULL)
        return LOOM_ERROR;
    out[n] = '\0';
    return LOOM_OK;
}

/* ---- the check on the worker pool -----------------------------------------
 */

void smtp_auth_work(void *arg)
{
    smtp_auth_job_t *j = arg;
    struct crypt_data *cd = loom_calloc(1, sizeof(*cd));
    const char *h;
    size_t n = strlen(j->hash);

    h = crypt_r(j->pass, j->hash, cd);
    j->ok =
        h && h[0] != '*' && strlen(h) == n && CRYPTO_memcmp(h, j->hash, n) == 0;
    OPENSSL_cleanse(cd, sizeof(*cd));
    free(cd);
}

void smtp_auth_job_free(smtp_auth_job_t *j)
{
    if (j == NULL)
        return;
    OPENSSL_cleanse(j->pass, sizeof(j->pass));
    if (j->hash) {
        OPENSSL_cleanse(j->hash, strlen(j->hash));
        free(j->hash);
    }
    free(j);
}
