/*
 * dyndns_parse.c - the users file, the update query, host names and
 * answer codes of the dyndns2 handler (see dyndns_parse.h).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dyndns_parse.h"
#include "http_util.h"

/* ---- the users file ------------------------------------------------------ */

static int is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

static int user_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-' ||
           c == '@';
}

/* A crypt(3) hash libcrypt computes with a salt of its own kind: "$id$"
 * then printable characters without ':' or blanks. */
static int hash_ok(const char *h, size_t n)
{
    size_t i;

    if (n < 4 || n > DYNDNS_HASH_MAX || h[0] != '$' ||
        memchr(h + 1, '$', n - 1) == NULL)
        return 0;
    for (i = 0; i < n; i++) {
        if ((unsigned char)h[i] <= ' ' || (unsigned char)h[i] >= 0x7f ||
            h[i] == ':')
            return 0;
    }
    return 1;
}

static char *dup_n(const char *p, size_t n)
{
    char *s = malloc(n + 1);

    if (s == NULL)
        abort();
    memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

/* One pattern P[0..N) into a lowercase copy, or NULL when malformed. */
static char *pattern_dup(const char *p, size_t n)
{
    char *s, *h;

    if (n > DYNDNS_NAME_MAX + 2)
        return NULL;
    s = dup_n(p, n);
    h = s[0] == '*' && s[1] == '.' ? s + 2 : s;
    if (!dyndns_fqdn(h)) {
        free(s);
        return NULL;
    }
    return s;
}

static void user_free(dyndns_user_t *u)
{
    size_t i;

    free(u->name);
    if (u->hash) {
        volatile char *v = u->hash;

        while (*v)
            *v++ = '\0';
        free(u->hash);
    }
    for (i = 0; i < u->npatterns; i++)
        free(u->patterns[i]);
    free(u->patterns);
}

/* Parse line P[0..N) into U; 0, or -1 with ERR set. */
static int parse_line(const char *p, size_t n, dyndns_user_t *u, char *err,
                      size_t errlen)
{
    const char *end = p + n, *s, *colon;

    for (s = p; s < end && !is_blank(*s); s++)
        ;
    colon = memchr(p, ':', (size_t)(s - p));
    if (colon == NULL) {
        snprintf(err, errlen, "expected NAME:HASH");
        return -1;
    }
    if (colon == p || colon - p > DYNDNS_USER_MAX) {
        snprintf(err, errlen, "user name is empty or longer than %d bytes",
                 DYNDNS_USER_MAX);
        return -1;
    }
    for (const char *c = p; c < colon; c++) {
        if (!user_char(*c)) {
            snprintf(err, errlen,
                     "user name may hold only letters, digits "
                     "and . _ @ -");
            return -1;
        }
    }
    if (!hash_ok(colon + 1, (size_t)(s - colon - 1))) {
        snprintf(err, errlen,
                 "user \"%.*s\": the hash is not a crypt(3) \"$id$...\" "
                 "hash (make one with mkpasswd)",
                 (int)(colon - p), p);
        return -1;
    }
    u->name = dup_n(p, (size_t)(colon - p));
    u->hash = dup_n(colon + 1, (size_t)(s - colon - 1));
    while (s < end) {
        const char *w;

        while (s < end && is_blank(*s))
            s++;
        if (s == end)
            break;
        for (w = s; s < end && !is_blank(*s); s++)
            ;
        u->patterns =
            realloc(u->patterns, (u->npatterns + 1) * sizeof(*u->patterns));
        if (u->patterns == NULL)
            abort();
        if ((u->patterns[u->npatterns] = pattern_dup(w, (size_t)(s - w))) ==
            NULL) {
            snprintf(err, errlen,
                     "user \"%s\": \"%.*s\" is not a host name or "
                     "*.suffix",
                     u->name, (int)(s - w) > 80 ? 80 : (int)(s - w), w);
            return -1;
        }
        u->npatterns++;
    }
    if (u->npatterns == 0) {
        snprintf(err, errlen, "user \"%s\" may update no name", u->name);
        return -1;
    }
    return 0;
}

dyndns_users_t *dyndns_users_parse(const char *text, size_t len, unsigned *line,
                                   char *err, size_t errlen)
{
    dyndns_users_t *t = calloc(1, sizeof(*t));
    const char *p = text, *end = text + len;
    unsigned ln = 0;

    if (t == NULL)
        abort();
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *stop = nl ? nl : end, *s = p;
        dyndns_user_t u;

        ln++;
        p = nl ? nl + 1 : end;
        while (s < stop && is_blank(*s))
            s++;
        if (s == stop || *s == '#')
            continue;
        while (stop > s && is_blank(stop[-1]))
            stop--;
        memset(&u, 0, sizeof(u));
        if (memchr(s, '\0', (size_t)(stop - s)) != NULL) {
            snprintf(err, errlen, "a NUL byte");
            user_free(&u);
            goto fail;
        }
        if (parse_line(s, (size_t)(stop - s), &u, err, errlen) != 0) {
            user_free(&u);
            goto fail;
        }
        if (dyndns_user_find(t, u.name, strlen(u.name))) {
            snprintf(err, errlen, "user \"%s\" given twice", u.name);
            user_free(&u);
            goto fail;
        }
        t->users = realloc(t->users, (t->nusers + 1) * sizeof(*t->users));
        if (t->users == NULL)
            abort();
        t->users[t->nusers++] = u;
    }
    return t;
fail:
    *line = ln;
    dyndns_users_free(t);
    return NULL;
}

void dyndns_users_free(dyndns_users_t *t)
{
    size_t i;

    if (t == NULL)
        return;
    for (i = 0; i < t->nusers; i++)
        user_free(&t->users[i]);
    free(t->users);
    free(t);
}

const dyndns_user_t *dyndns_user_find(const dyndns_users_t *t, const char *name,
                                      size_t len)
{
    size_t i;

    for (i = 0; t && i < t->nusers; i++) {
        if (strlen(t->users[i].name) == len &&
            memcmp(t->users[i].name, name, len) == 0)
            return &t->users[i];
    }
    return NULL;
}

int dyndns_user_may(const dyndns_user_t *u, const char *host)
{
    size_t i, hl = strlen(host);

    for (i = 0; u && i < u->npatterns; i++) {
        const char *pat = u->patterns[i];

        if (pat[0] == '*') {
            size_t sl = strlen(pat + 1); /* ".suffix" */

            if (hl > sl && strcmp(host + hl - sl, pat + 1) == 0)
                return 1;
        } else if (strcmp(pat, host) == 0) {
            return 1;
        }
    }
    return 0;
}

/* ---- names --------------------------------------------------------------- */

int dyndns_fqdn(char *host)
{
    size_t n = strlen(host), lab = 0, labels = 0, i;

    if (n == 0 || n > DYNDNS_NAME_MAX)
        return 0;
    for (i = 0; i <= n; i++) {
        char c = host[i];

        if (c == '.' || c == '\0') {
            if (lab == 0 || lab > 63 || host[i - 1] == '-' ||
                host[i - lab] == '-')
                return 0;
            labels++;
            lab = 0;
            continue;
        }
        if (c >= 'A' && c <= 'Z')
            host[i] = (char)(c + 32);
        else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                   c == '-' || c == '_'))
            return 0;
        lab++;
    }
    return labels >= 2;
}

int dyndns_in_zone(const char *host, const char *zone)
{
    size_t hl = strlen(host), zl = strlen(zone);

    if (hl == zl)
        return strcmp(host, zone) == 0;
    return hl > zl && host[hl - zl - 1] == '.' &&
           strcmp(host + hl - zl, zone) == 0;
}

/* ---- the query ----------------------------------------------------------- */

/* Percent-decode P[0..N) ('+' is a space) into OUT (CAP bytes, NUL
 * terminated, cut to fit).  Returns the decoded length, -1 on a bad
 * escape. */
static long decode(const char *p, size_t n, char *out, size_t cap)
{
    size_t i, o = 0;

    for (i = 0; i < n; i++) {
        int c = (unsigned char)p[i];

        if (c == '%') {
            int h, l;

            if (i + 2 >= n)
                return -1;
            h = http_hexval((unsigned char)p[i + 1]);
            l = http_hexval((unsigned char)p[i + 2]);
            if (h < 0 || l < 0)
                return -1;
            c = h << 4 | l;
            i += 2;
        } else if (c == '+') {
            c = ' ';
        }
        if (o + 1 < cap)
            out[o] = (char)c;
        o++;
    }
    if (cap)
        out[o < cap ? o : cap - 1] = '\0';
    return (long)o;
}

/* myip / myipv6 value V: one address or a comma-separated list (V6ONLY:
 * IPv6 addresses only).  A piece that is no address (or an IPv4 one in
 * myipv6) is ignored and noted in bad_ip. */
static void take_ips(dyndns_query_t *q, char *v, int v6only)
{
    char *save = NULL, *a;
    uint8_t b[16];

    for (a = strtok_r(v, ",", &save); a; a = strtok_r(NULL, ",", &save)) {
        if (!v6only && inet_pton(AF_INET, a, b) == 1) {
            memcpy(q->v4, b, 4);
            q->has_v4 = 1;
        } else if (inet_pton(AF_INET6, a, b) == 1) {
            memcpy(q->v6, b, 16);
            q->has_v6 = 1;
        } else {
            q->bad_ip = 1;
        }
    }
}

/* hostname= value V: comma-separated names (an empty piece is a name
 * too, which then fails as not a FQDN). */
static void take_hosts(dyndns_query_t *q, const char *v)
{
    const char *p = v;

    for (;;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);

        if (q->nhosts == DYNDNS_MAX_HOSTS) {
            q->too_many = 1;
            return;
        }
        if (n > DYNDNS_NAME_MAX + 1)
            n = DYNDNS_NAME_MAX + 1;
        memcpy(q->hosts[q->nhosts], p, n);
        q->hosts[q->nhosts][n] = '\0';
        q->nhosts++;
        if (comma == NULL)
            return;
        p = comma + 1;
    }
}

int dyndns_query_parse(const char *qs, size_t len, dyndns_query_t *out)
{
    char val[DYNDNS_MAX_HOSTS * (DYNDNS_NAME_MAX + 2) + 64];
    const char *p = qs, *end = qs + len;
    int seen_host = 0;

    memset(out, 0, sizeof(*out));
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(stop - p));
        size_t klen = eq ? (size_t)(eq - p) : (size_t)(stop - p);
        const char *v = eq ? eq + 1 : stop;
        char *buf = val;
        long n;

        n = decode(v, (size_t)(stop - v), buf, sizeof(val));
        if (n < 0)
            return -1;
        if (klen == 8 && memcmp(p, "hostname", 8) == 0 && !seen_host) {
            seen_host = 1;
            take_hosts(out, buf);
        } else if (klen == 4 && memcmp(p, "myip", 4) == 0) {
            take_ips(out, buf, 0);
        } else if (klen == 6 && memcmp(p, "myipv6", 6) == 0) {
            take_ips(out, buf, 1);
        }
        p = amp ? amp + 1 : end;
    }
    return 0;
}

/* ---- answers ------------------------------------------------------------- */

static const char *const code_names[] = {
    "good", "nochg", "badauth", "notfqdn", "nohost", "numhost", "abuse", "911",
};

const char *dyndns_code_name(dyndns_code_t c)
{
    if ((unsigned)c >= sizeof(code_names) / sizeof(code_names[0]))
        return "911";
    return code_names[c];
}

dyndns_code_t dyndns_host_code(const dyndns_user_t *u, const char *zone,
                               char *host)
{
    if (!dyndns_fqdn(host))
        return DYNDNS_NOTFQDN;
    if (!dyndns_in_zone(host, zone) || !dyndns_user_may(u, host))
        return DYNDNS_NOHOST;
    return DYNDNS_GOOD;
}

/* ---- Basic auth ---------------------------------------------------------- */

static int b64val(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

int dyndns_basic_auth(const char *v, size_t len, char *user, size_t ucap,
                      char *pass, size_t pcap)
{
    char dec[512];
    size_t i, n = 0;
    unsigned long acc = 0;
    unsigned bits = 0;
    char *colon;

    while (len && (*v == ' ' || *v == '\t')) {
        v++;
        len--;
    }
    if (len < 6 || strncasecmp(v, "basic", 5) != 0 ||
        (v[5] != ' ' && v[5] != '\t'))
        return -1;
    v += 6;
    len -= 6;
    while (len && (*v == ' ' || *v == '\t')) {
        v++;
        len--;
    }
    while (len && (v[len - 1] == ' ' || v[len - 1] == '\t'))
        len--;
    while (len && v[len - 1] == '=')
        len--;
    for (i = 0; i < len; i++) {
        int d = b64val(v[i]);

        if (d < 0)
            return -1;
        acc = acc << 6 | (unsigned long)d;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (n + 1 >= sizeof(dec))
                return -1;
            dec[n++] = (char)(acc >> bits);
            acc &= (1ul << bits) - 1;
        }
    }
    if (bits >= 6)
        return -1;
    dec[n] = '\0';
    if (memchr(dec, '\0', n) != NULL)
        return -1;
    colon = memchr(dec, ':', n);
    if (colon == NULL || (size_t)(colon - dec) >= ucap ||
        n - (size_t)(colon - dec) - 1 >= pcap)
        return -1;
    memcpy(user, dec, (size_t)(colon - dec));
    user[colon - dec] = '\0';
    memcpy(pass, colon + 1, n - (size_t)(colon - dec) - 1);
    pass[n - (size_t)(colon - dec) - 1] = '\0';
    return 0;
}
