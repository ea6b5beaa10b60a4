/*
 * endpoint.c - parse Twisted-style endpoint strings (see endpoint.h).
 *
 * The string is split on unescaped colons into a kind, then fields that are
 * either positional (the port or path) or key=value.  Each field is copied
 * with its escapes removed into a bounded buffer; anything unexpected is an
 * error that names the string and the field.
 */
#include "endpoint.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EP_FIELD_MAX 16

typedef struct {
    char buf[LOOM_EP_VALUE_MAX];
} ep_field_t;

static int ep_fail(char *err, size_t errlen, const char *str, const char *fmt,
                   ...) __attribute__((format(printf, 4, 5)));

static int ep_fail(char *err, size_t errlen, const char *str, const char *fmt,
                   ...)
{
    char msg[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (err && errlen)
        snprintf(err, errlen, "endpoint '%s': %s", str, msg);
    return -1;
}

/* Split STR on unescaped ':' into at most EP_FIELD_MAX unescaped fields.
 * Returns the number of fields or -1 (error written). */
static int ep_split(const char *str, ep_field_t *f, char *err, size_t errlen)
{
    int n = 0, bracket = 0;
    size_t len = 0;
    const char *s;

    f[0].buf[0] = '\0';
    for (s = str; *s; s++) {
        char ch = *s;

        if (ch == '\\') {
            if (s[1] == '\0')
                return ep_fail(err, errlen, str, "trailing backslash");
            ch = *++s;
        } else if (ch == '[' && len > 0 && f[n].buf[len - 1] == '=') {
            bracket = 1; /* an IPv6 literal: its colons are not separators */
        } else if (ch == ']') {
            bracket = 0;
        } else if (ch == ':' && !bracket) {
            if (++n == EP_FIELD_MAX)
                return ep_fail(err, errlen, str, "too many fields");
            len = 0;
            f[n].buf[0] = '\0';
            continue;
        }
        if ((unsigned char)ch < 0x20 || ch == 0x7f)
            return ep_fail(err, errlen, str, "control character");
        if (len + 1 >= LOOM_EP_VALUE_MAX)
            return ep_fail(err, errlen, str, "field too long");
        f[n].buf[len++] = ch;
        f[n].buf[len] = '\0';
    }
    return n + 1;
}

/* Parse a decimal integer in [lo, hi]; base 8 when OCTAL.  0 on success. */
static int ep_int(const char *s, int lo, int hi, int octal, int *out)
{
    char *end;
    long v;

    if (*s == '\0' || !isdigit((unsigned char)*s))
        return -1;
    v = strtol(s, &end, octal ? 8 : 10);
    if (*end != '\0' || v < lo || v > hi)
        return -1;
    *out = (int)v;
    return 0;
}

/* Copy an interface/host value, removing IPv6 brackets. */
static int ep_host(const char *v, char *out)
{
    size_t n = strlen(v);

    if (n == 0)
        return -1;
    if (v[0] == '[') {
        if (n < 3 || v[n - 1] != ']' || memchr(v + 1, '[', n - 2) ||
            memchr(v + 1, ']', n - 2))
            return -1;
        memcpy(out, v + 1, n - 2);
        out[n - 2] = '\0';
        return 0;
    }
    if (strchr(v, '[') || strchr(v, ']') || strchr(v, ' '))
        return -1;
    memcpy(out, v, n + 1);
    return 0;
}

/* Was KEY already among fields FROM..UPTO-1 (whose '=' became NUL)? */
static int ep_seen(const ep_field_t *f, int from, int upto, const char *key)
{
    int i;

    for (i = from; i < upto; i++) {
        if (strcmp(f[i].buf, key) == 0)
            return 1;
    }
    return 0;
}

static void ep_defaults(loom_endpoint_t *ep)
{
    memset(ep, 0, sizeof(*ep));
    ep->backlog = 511;
    ep->mode = -1;
    ep->timeout = 0; /* not given: the caller's default applies */
    ep->verify = 1;
}

static int ep_kind(const char *s, loom_ep_kind_t *k)
{
    static const struct {
        const char *name;
        loom_ep_kind_t kind;
    } kinds[] = {{"tcp", LOOM_EP_TCP},
                 {"udp", LOOM_EP_UDP},
                 {"unix", LOOM_EP_UNIX},
                 {"tls", LOOM_EP_TLS},
                 {"ssl", LOOM_EP_TLS}};
    size_t i;

    for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        if (strcmp(s, kinds[i].name) == 0) {
            *k = kinds[i].kind;
            return 0;
        }
    }
    return -1;
}

/* The key=value options, for each side and kind. */
typedef enum { EP_T_HOST, EP_T_INT, EP_T_OCTAL, EP_T_STR, EP_T_BOOL } ep_type_t;

#define EP_K(k) (1u << (k))
#define EP_INET (EP_K(LOOM_EP_TCP) | EP_K(LOOM_EP_TLS))

static const struct {
    const char *key;
    int connect;    /* 0: listen endpoints, 1: connect endpoints */
    unsigned kinds; /* EP_K() of the kinds that take it */
    ep_type_t type;
    size_t off; /* the field of loom_endpoint_t */
    int lo, hi; /* EP_T_INT / EP_T_OCTAL range */
    const char *hint;
} ep_keys[] = {
    {"interface", 0, EP_INET | EP_K(LOOM_EP_UDP), EP_T_HOST,
     offsetof(loom_endpoint_t, host), 0, 0, ""},
    {"backlog", 0, EP_INET | EP_K(LOOM_EP_UNIX), EP_T_INT,
     offsetof(loom_endpoint_t, backlog), 1, 65535, ""},
    {"mode", 0, EP_K(LOOM_EP_UNIX), EP_T_OCTAL, offsetof(loom_endpoint_t, mode),
     0, 0777, " (octal, e.g. 0660)"},
    {"profile", 0, EP_K(LOOM_EP_TLS), EP_T_STR,
     offsetof(loom_endpoint_t, profile), 0, 0, ""},
    {"cert", 0, EP_K(LOOM_EP_TLS), EP_T_STR, offsetof(loom_endpoint_t, cert), 0,
     0, ""},
    {"key", 0, EP_K(LOOM_EP_TLS), EP_T_STR, offsetof(loom_endpoint_t, key), 0,
     0, ""},
    {"host", 1, EP_INET, EP_T_HOST, offsetof(loom_endpoint_t, host), 0, 0, ""},
    {"port", 1, EP_INET, EP_T_INT, offsetof(loom_endpoint_t, port), 1, 65535,
     " (1-65535)"},
    {"path", 1, EP_K(LOOM_EP_UNIX), EP_T_STR, offsetof(loom_endpoint_t, path),
     0, 0, ""},
    {"timeout", 1, EP_INET | EP_K(LOOM_EP_UNIX), EP_T_INT,
     offsetof(loom_endpoint_t, timeout), 1, 3600, " (1-3600 seconds)"},
    {"verify", 1, EP_K(LOOM_EP_TLS), EP_T_BOOL,
     offsetof(loom_endpoint_t, verify), 0, 0, " (yes or no)"},
    {"ca", 1, EP_K(LOOM_EP_TLS), EP_T_STR, offsetof(loom_endpoint_t, ca), 0, 0,
     ""},
};

/* Apply fields F[FROM..N) as key=value options of side CONNECT. */
static int ep_options(const char *str, ep_field_t *f, int from, int n,
                      int connect, loom_endpoint_t *ep, char *err,
                      size_t errlen)
{
    int i;
    size_t k;

    for (i = from; i < n; i++) {
        char *eq = strchr(f[i].buf, '='), *field;
        const char *key = f[i].buf, *val;
        int ok;

        if (eq == NULL)
            return ep_fail(err, errlen, str, "field '%s' is not key=value",
                           f[i].buf);
        *eq = '\0';
        val = eq + 1;
        if (ep_seen(f, from, i, key))
            return ep_fail(err, errlen, str, "'%s' given twice", key);
        for (k = 0; k < sizeof(ep_keys) / sizeof(ep_keys[0]); k++) {
            if (ep_keys[k].connect == connect &&
                (ep_keys[k].kinds & EP_K(ep->kind)) &&
                strcmp(ep_keys[k].key, key) == 0)
                break;
        }
        if (k == sizeof(ep_keys) / sizeof(ep_keys[0]))
            return ep_fail(err, errlen, str, "unknown option '%s' for %s", key,
                           f[0].buf);
        field = (char *)ep + ep_keys[k].off;
        switch (ep_keys[k].type) {
        case EP_T_HOST:
            ok = ep_host(val, field) == 0;
            break;
        case EP_T_INT:
        case EP_T_OCTAL:
            ok = ep_int(val, ep_keys[k].lo, ep_keys[k].hi,
                        ep_keys[k].type == EP_T_OCTAL, (int *)field) == 0;
            break;
        case EP_T_BOOL:
            ok = strcmp(val, "yes") == 0 || strcmp(val, "no") == 0;
            if (ok)
                *(int *)field = strcmp(val, "yes") == 0;
            break;
        case EP_T_STR:
        default:
            if (val[0] == '\0')
                return ep_fail(err, errlen, str, "'%s' is empty", key);
            strcpy(field, val); /* fields are shorter than the buffers */
            ok = 1;
            break;
        }
        if (!ok)
            return ep_fail(err, errlen, str, "bad %s '%s'%s", key, val,
                           ep_keys[k].hint);
    }
    return 0;
}

int loom_endpoint_parse_listen(const char *str, loom_endpoint_t *ep, char *err,
                               size_t errlen)
{
    ep_field_t f[EP_FIELD_MAX];
    int n;

    ep_defaults(ep);
    n = ep_split(str, f, err, errlen);
    if (n < 0)
        return -1;
    if (ep_kind(f[0].buf, &ep->kind) != 0)
        return ep_fail(err, errlen, str,
                       "unknown kind '%s' (expected tcp, udp, unix or tls)",
                       f[0].buf);
    if (n < 2 || f[1].buf[0] == '\0')
        return ep_fail(err, errlen, str, "missing %s",
                       ep->kind == LOOM_EP_UNIX ? "socket path" : "port");
    if (ep->kind == LOOM_EP_UNIX) {
        strcpy(ep->path, f[1].buf);
    } else if (ep_int(f[1].buf, 0, 65535, 0, &ep->port) != 0) {
        return ep_fail(err, errlen, str, "bad port '%s' (0-65535)", f[1].buf);
    }
    if (ep_options(str, f, 2, n, 0, ep, err, errlen) != 0)
        return -1;
    if (ep->kind == LOOM_EP_TLS) {
        if (ep->profile[0] && (ep->cert[0] || ep->key[0]))
            return ep_fail(err, errlen, str,
                           "give either profile= or cert= and key=");
        if (!ep->profile[0] && (!ep->cert[0] || !ep->key[0]))
            return ep_fail(err, errlen, str,
                           "tls needs profile=NAME or cert=FILE:key=FILE");
    }
    return 0;
}

int loom_endpoint_parse_connect(const char *str, loom_endpoint_t *ep, char *err,
                                size_t errlen)
{
    ep_field_t f[EP_FIELD_MAX];
    int n;

    ep_defaults(ep);
    n = ep_split(str, f, err, errlen);
    if (n < 0)
        return -1;
    if (ep_kind(f[0].buf, &ep->kind) != 0 || ep->kind == LOOM_EP_UDP)
        return ep_fail(err, errlen, str,
                       "unknown kind '%s' (expected tcp, tls or unix)",
                       f[0].buf);
    if (ep_options(str, f, 1, n, 1, ep, err, errlen) != 0)
        return -1;
    if (ep->kind == LOOM_EP_UNIX) {
        if (!ep->path[0])
            return ep_fail(err, errlen, str, "unix needs path=PATH");
    } else {
        if (!ep->host[0])
            return ep_fail(err, errlen, str, "missing host=NAME");
        if (ep->port == 0)
            return ep_fail(err, errlen, str, "missing port=N");
    }
    return 0;
}

void loom_endpoint_format(const loom_endpoint_t *ep, char *out, size_t len)
{
    switch (ep->kind) {
    case LOOM_EP_UNIX:
        snprintf(out, len, "unix:%s", ep->path);
        break;
    case LOOM_EP_UDP:
        snprintf(out, len, "udp:[%s]:%d", ep->host[0] ? ep->host : "0.0.0.0",
                 ep->port);
        break;
    case LOOM_EP_TLS:
    case LOOM_EP_TCP:
    default:
        /* TLS and TCP name the same kind of socket: a reload that turns
         * tcp:N into tls:N keeps the socket and changes only the mode. */
        snprintf(out, len, "stream:[%s]:%d", ep->host[0] ? ep->host : "0.0.0.0",
                 ep->port);
        break;
    }
}

int loom_ip_sockaddr(const char *host, int port, struct sockaddr_storage *ss,
                     socklen_t *len)
{
    struct sockaddr_in *sin = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
    char buf[INET6_ADDRSTRLEN + 2];
    size_t n = strlen(host);

    memset(ss, 0, sizeof(*ss));
    if (n >= 2 && host[0] == '[' && host[n - 1] == ']' &&
        n - 2 < sizeof(buf)) { /* brackets: IPv6 only */
        memcpy(buf, host + 1, n - 2);
        buf[n - 2] = '\0';
        if (inet_pton(AF_INET6, buf, &sin6->sin6_addr) != 1)
            return -1;
    } else if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t)port);
        *len = sizeof(*sin);
        return 0;
    } else if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1) {
        return -1;
    }
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons((uint16_t)port);
    *len = sizeof(*sin6);
    return 0;
}

int loom_endpoint_sockaddr(const loom_endpoint_t *ep,
                           struct sockaddr_storage *ss, socklen_t *len)
{
    return loom_ip_sockaddr(ep->host[0] ? ep->host : "0.0.0.0", ep->port, ss,
                            len);
}
