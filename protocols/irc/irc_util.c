/*
 * irc_util.c - case mapping, nick and channel validation, mask matching
 * and normalisation, and the RPL_ISUPPORT token lines (see irc_util.h).
 */
#include <stdio.h>
#include <string.h>

#include "loom.h"
#include "irc_util.h"

/* ---- case mapping ----------------------------------------------------------
 * Three constant 256-byte tables, so folding is one load per byte and the
 * reactor and worker threads may share them without initialisation. */

/* arithmetic, not ?:, so no branch holds an out-of-range constant */
#define FOLD_ASCII(c) ((c) + 32 * ((c) >= 'A' && (c) <= 'Z'))
/* A-Z and [ \ ] (0x41-0x5d) -> a-z { | } (0x61-0x7d) */
#define FOLD_STRICT(c) ((c) + 32 * ((c) >= 'A' && (c) <= ']'))
/* and ~ (0x7e) -> ^ (0x5e) */
#define FOLD_RFC(c) (FOLD_STRICT(c) - 32 * ((c) == '~'))

#define T4(F, b) F(b), F((b) + 1), F((b) + 2), F((b) + 3)
#define T16(F, b) T4(F, b), T4(F, (b) + 4), T4(F, (b) + 8), T4(F, (b) + 12)
#define T64(F, b)                                                              \
    T16(F, b), T16(F, (b) + 16), T16(F, (b) + 32), T16(F, (b) + 48)
#define T256(F) T64(F, 0), T64(F, 64), T64(F, 128), T64(F, 192)

static const unsigned char fold_rfc1459[256] = {T256(FOLD_RFC)};
static const unsigned char fold_ascii[256] = {T256(FOLD_ASCII)};
static const unsigned char fold_strict[256] = {T256(FOLD_STRICT)};

static const struct {
    const char *name;
    irc_casemap_t cm;
    const unsigned char *table;
} casemaps[] = {
    {"rfc1459", IRC_CASEMAP_RFC1459, fold_rfc1459},
    {"ascii", IRC_CASEMAP_ASCII, fold_ascii},
    {"strict-rfc1459", IRC_CASEMAP_STRICT_RFC1459, fold_strict},
};

#define NCASEMAPS (sizeof(casemaps) / sizeof(casemaps[0]))

int irc_casemap_parse(const char *name, irc_casemap_t *out)
{
    for (size_t i = 0; i < NCASEMAPS; i++)
        if (strcmp(name, casemaps[i].name) == 0) {
            *out = casemaps[i].cm;
            return LOOM_OK;
        }
    return LOOM_ERROR;
}

const char *irc_casemap_name(irc_casemap_t cm)
{
    for (size_t i = 0; i < NCASEMAPS; i++)
        if (casemaps[i].cm == cm)
            return casemaps[i].name;
    return casemaps[0].name;
}

const unsigned char *irc_casemap_table(irc_casemap_t cm)
{
    for (size_t i = 0; i < NCASEMAPS; i++)
        if (casemaps[i].cm == cm)
            return casemaps[i].table;
    return fold_rfc1459;
}

size_t irc_casefold(irc_casemap_t cm, const char *in, char *out, size_t cap)
{
    const unsigned char *t = irc_casemap_table(cm);
    size_t i;

    if (cap == 0)
        return (size_t)-1;
    for (i = 0; in[i] != '\0'; i++) {
        if (i + 1 >= cap) {
            out[i] = '\0';
            return (size_t)-1;
        }
        out[i] = (char)t[(unsigned char)in[i]];
    }
    out[i] = '\0';
    return i;
}

int irc_casecmp(irc_casemap_t cm, const char *a, const char *b)
{
    const unsigned char *t = irc_casemap_table(cm);
    const unsigned char *x = (const unsigned char *)a;
    const unsigned char *y = (const unsigned char *)b;

    while (*x != '\0' && t[*x] == t[*y]) {
        x++;
        y++;
    }
    return (int)t[*x] - (int)t[*y];
}

uint64_t irc_casehash(irc_casemap_t cm, const char *s)
{
    const unsigned char *t = irc_casemap_table(cm);
    uint64_t h = 0xcbf29ce484222325ULL;

    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        h ^= t[*p];
        h *= 0x100000001b3ULL;
    }
    return h;
}

/* ---- names -------------------------------------------------------------- */

/* RFC 2812 2.3.1: special = [ ] \ ` _ ^ { | } */
static int nick_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '-' ||
           (c != '\0' && strchr("[]\\`_^{|}", c) != NULL);
}

int irc_nick_valid(const char *nick, size_t nicklen)
{
    size_t n = 0;

    if (nick[0] == '\0' || nick[0] == '-' || (nick[0] >= '0' && nick[0] <= '9'))
        return 0;
    for (const unsigned char *p = (const unsigned char *)nick; *p; p++, n++)
        if (!nick_char(*p) || n >= nicklen)
            return 0;
    return 1;
}

int irc_is_channel(const char *name, const char *chantypes)
{
    return name[0] != '\0' && strchr(chantypes, name[0]) != NULL;
}

int irc_chan_valid(const char *name, const char *chantypes, size_t channellen)
{
    size_t n;

    if (!irc_is_channel(name, chantypes))
        return 0;
    n = strcspn(name, " ,\a\r\n");
    return name[n] == '\0' && n >= 2 && n <= channellen;
}

/* ---- masks -------------------------------------------------------------- */

int irc_mask_match(irc_casemap_t cm, const char *mask, const char *subject)
{
    const unsigned char *t = irc_casemap_table(cm);
    const char *m = mask, *s = subject;
    const char *star_m = NULL, *star_s = NULL;

    while (*s != '\0') {
        if (*m == '*') {
            while (*m == '*')
                m++;
            star_m = m;
            star_s = s;
            continue;
        }
        if (*m == '?') {
            m++;
            s++;
            continue;
        }
        {
            unsigned char c = (unsigned char)*m;
            size_t adv = 1;

            if (c == '\\' && m[1] != '\0') {
                c = (unsigned char)m[1];
                adv = 2;
            }
            if (c != '\0' && t[c] == t[(unsigned char)*s]) {
                m += adv;
                s++;
                continue;
            }
        }
        if (star_m == NULL)
            return 0;
        /* let the last '*' swallow one more byte and retry from there */
        m = star_m;
        s = ++star_s;
    }
    while (*m == '*')
        m++;
    return *m == '\0';
}

/* Append IN[0..N) or "*" when N is 0 to OUT at *O; 0 when it overflows. */
static int mask_part(char *out, size_t cap, size_t *o, const char *in, size_t n)
{
    if (n == 0) {
        in = "*";
        n = 1;
    }
    if (*o + n >= cap)
        return 0;
    memcpy(out + *o, in, n);
    *o += n;
    return 1;
}

size_t irc_mask_normalize(const char *in, char *out, size_t cap)
{
    const char *bang, *at, *nick, *user, *host;
    size_t nn, un, hn, o = 0, len = strlen(in);

    if (len == 0 || cap == 0)
        return (size_t)-1;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)in[i] <= ' ' || in[i] == ',' || in[i] == 0x7f)
            return (size_t)-1;
    bang = strchr(in, '!');
    at = strchr(bang ? bang + 1 : in, '@');
    if (at == NULL && bang != NULL && strchr(in, '@') != NULL) {
        /* "user@host!x": the '!' is not a nick separator */
        at = strchr(in, '@');
        bang = NULL;
    }
    if (bang == NULL && at == NULL) {
        if (strpbrk(in, ".:") != NULL) { /* a host */
            nick = user = "";
            nn = un = 0;
            host = in;
            hn = len;
        } else { /* a nick */
            nick = in;
            nn = len;
            user = host = "";
            un = hn = 0;
        }
    } else if (bang != NULL && at == NULL) {
        nick = in;
        nn = (size_t)(bang - in);
        user = bang + 1;
        un = len - nn - 1;
        host = "";
        hn = 0;
    } else if (bang == NULL) {
        nick = "";
        nn = 0;
        user = in;
        un = (size_t)(at - in);
        host = at + 1;
        hn = len - un - 1;
    } else {
        nick = in;
        nn = (size_t)(bang - in);
        user = bang + 1;
        un = (size_t)(at - user);
        host = at + 1;
        hn = len - (size_t)(host - in);
    }
    if (!mask_part(out, cap, &o, nick, nn) ||
        !mask_part(out, cap, &o, "!", 1) ||
        !mask_part(out, cap, &o, user, un) ||
        !mask_part(out, cap, &o, "@", 1) || !mask_part(out, cap, &o, host, hn))
        return (size_t)-1;
    out[o] = '\0';
    return o;
}

/* ---- ISUPPORT ----------------------------------------------------------- */

/* Token bytes per 005 line: ":server 005 nick " (up to ~100 bytes with a
 * 63-byte server name and a long nick) and " :are supported by this
 * server" must fit 512 with the tokens. */
#define ISUPPORT_LINE_BUDGET 340

typedef struct {
    irc_isupport_lines_t *out;
    size_t ntok; /* tokens on the current line */
    int err;
} isup_ctx_t;

static void isup_add(isup_ctx_t *c, const char *tok)
{
    irc_isupport_lines_t *o = c->out;
    size_t tl = strlen(tok), cur;

    if (tl == 0)
        return;
    if (tl > ISUPPORT_LINE_BUDGET) {
        c->err = 1;
        return;
    }
    cur = o->n ? strlen(o->line[o->n - 1]) : 0;
    if (o->n == 0 || c->ntok >= IRC_ISUPPORT_TOKENS_PER_LINE ||
        cur + 1 + tl > ISUPPORT_LINE_BUDGET) {
        if (o->n == IRC_ISUPPORT_LINES_MAX) {
            c->err = 1;
            return;
        }
        o->line[o->n++][0] = '\0';
        c->ntok = 0;
        cur = 0;
    }
    if (cur)
        o->line[o->n - 1][cur++] = ' ';
    memcpy(o->line[o->n - 1] + cur, tok, tl + 1);
    c->ntok++;
}

static void isup_num(isup_ctx_t *c, const char *name, unsigned v)
{
    char tok[64];

    if (v) {
        snprintf(tok, sizeof(tok), "%s=%u", name, v);
        isup_add(c, tok);
    }
}

static void isup_str(isup_ctx_t *c, const char *name, const char *v)
{
    char tok[ISUPPORT_LINE_BUDGET + 2];

    if (v != NULL && *v != '\0') {
        if ((size_t)snprintf(tok, sizeof(tok), "%s=%s", name, v) >=
            sizeof(tok)) {
            c->err = 1;
            return;
        }
        isup_add(c, tok);
    }
}

int irc_isupport_build(const irc_isupport_t *is, irc_isupport_lines_t *out)
{
    isup_ctx_t c = {out, 0, 0};
    char tok[ISUPPORT_LINE_BUDGET + 2];

    out->n = 0;
    isup_num(&c, "AWAYLEN", is->awaylen);
    isup_str(&c, "CASEMAPPING", irc_casemap_name(is->casemap));
    if (is->chanlimit && is->chantypes && *is->chantypes) {
        snprintf(tok, sizeof(tok), "%.100s:%u", is->chantypes, is->chanlimit);
        isup_str(&c, "CHANLIMIT", tok);
    }
    isup_str(&c, "CHANMODES", is->chanmodes);
    isup_num(&c, "CHANNELLEN", is->channellen);
    isup_str(&c, "CHANTYPES", is->chantypes);
    isup_str(&c, "ELIST", is->elist);
    if (is->excepts)
        isup_add(&c, "EXCEPTS=e");
    isup_num(&c, "HOSTLEN", is->hostlen);
    if (is->invex)
        isup_add(&c, "INVEX=I");
    isup_num(&c, "KICKLEN", is->kicklen);
    isup_num(&c, "LINELEN", is->linelen);
    if (is->maxlist) {
        snprintf(tok, sizeof(tok), "b%s%s:%u", is->excepts ? "e" : "",
                 is->invex ? "I" : "", is->maxlist);
        isup_str(&c, "MAXLIST", tok);
    }
    isup_num(&c, "MAXTARGETS", is->maxtargets);
    isup_num(&c, "MODES", is->modes);
    isup_str(&c, "NETWORK", is->network);
    isup_num(&c, "NICKLEN", is->nicklen);
    isup_str(&c, "PREFIX", is->prefix);
    isup_str(&c, "STATUSMSG", is->statusmsg);
    if (is->maxtargets) {
        snprintf(tok, sizeof(tok),
                 "JOIN:,KICK:1,LIST:1,NAMES:1,NOTICE:%u,PART:,PRIVMSG:%u,"
                 "TAGMSG:%u,WHOIS:1",
                 is->maxtargets, is->maxtargets, is->maxtargets);
        isup_str(&c, "TARGMAX", tok);
    }
    isup_num(&c, "TOPICLEN", is->topiclen);
    isup_num(&c, "USERLEN", is->userlen);
    if (is->whox)
        isup_add(&c, "WHOX");
    if (is->extra) {
        const char *p = is->extra;

        while (*p) {
            size_t n;

            p += strspn(p, " ");
            n = strcspn(p, " ");
            if (n == 0)
                break;
            if (n > ISUPPORT_LINE_BUDGET) {
                c.err = 1;
                break;
            }
            memcpy(tok, p, n);
            tok[n] = '\0';
            isup_add(&c, tok);
            p += n;
        }
    }
    return c.err ? LOOM_ERROR : LOOM_OK;
}
