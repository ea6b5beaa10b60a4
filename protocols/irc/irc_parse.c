/*
 * irc_parse.c - the IRC line parser (in place, no allocation) and the
 * output line serializer (see irc_parse.h).
 */
#include <string.h>

#include "loom.h"
#include "irc_parse.h"

static const struct {
    int numeric;
    const char *str;
} perr_info[] = {
    [IRC_PARSE_OK] = {0, "ok"},
    [IRC_PERR_EMPTY] = {0, "empty line"},
    [IRC_PERR_TOO_LONG] = {417, "Input line was too long"},
    [IRC_PERR_TAGS_LONG] = {417, "Input line was too long"},
    [IRC_PERR_TAGS] = {0, "empty tag section"},
    [IRC_PERR_NO_COMMAND] = {0, "no command"},
    [IRC_PERR_COMMAND] = {421, "Unknown command"},
    [IRC_PERR_BYTE] = {0, "NUL, CR or LF inside the line"},
};

#define NPERR (sizeof(perr_info) / sizeof(perr_info[0]))

int irc_perr_numeric(irc_perr_t err)
{
    return (size_t)err < NPERR ? perr_info[err].numeric : 0;
}

const char *irc_perr_str(irc_perr_t err)
{
    return (size_t)err < NPERR ? perr_info[err].str : "unknown error";
}

/* ---- tags ---------------------------------------------------------------- */

/* message-tags escapes: a backslash and X in esc_from stands for the byte
 * at the same place in esc_to; a backslash and any other X stands for X. */
static const char esc_from[] = ":s\\rn";
static const char esc_to[] = "; \\\r\n";

size_t irc_tag_unescape(const char *in, size_t len, char *out)
{
    size_t o = 0;

    for (size_t i = 0; i < len; i++) {
        if (in[i] != '\\') {
            out[o++] = in[i];
        } else if (i + 1 < len) { /* a lone trailing '\' is dropped */
            const char *e = in[++i] ? strchr(esc_from, in[i]) : NULL;

            out[o++] = e ? esc_to[e - esc_from] : in[i];
        }
    }
    out[o] = '\0';
    return o;
}

size_t irc_tag_escape(const char *value, char *out, size_t cap)
{
    size_t o = 0;

    for (const char *p = value; *p; p++) {
        const char *e = strchr(esc_to, *p);

        if (o + (e ? 2 : 1) >= cap)
            return (size_t)-1;
        if (e) {
            out[o++] = '\\';
            out[o++] = esc_from[e - esc_to];
        } else {
            out[o++] = *p;
        }
    }
    if (o >= cap)
        return (size_t)-1;
    out[o] = '\0';
    return o;
}

static int key_name_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '-';
}

int irc_tag_key_valid(const char *key, size_t len)
{
    size_t i = 0, slash = (size_t)-1;

    if (len > 0 && key[0] == '+')
        i = 1;
    for (size_t j = i; j < len; j++)
        if (key[j] == '/') {
            slash = j;
            break;
        }
    if (slash != (size_t)-1) {
        if (slash == i)
            return 0;
        for (size_t j = i; j < slash; j++)
            if (!key_name_char((unsigned char)key[j]) && key[j] != '.')
                return 0;
        i = slash + 1;
    }
    if (i >= len)
        return 0;
    for (; i < len; i++)
        if (!key_name_char((unsigned char)key[i]))
            return 0;
    return 1;
}

/* Split the tag data S[0..N) (no '@', no ' '; S[N] is writable) into
 * MSG's tags, NUL-terminating keys and values and unescaping in place. */
static void parse_tags(char *s, size_t n, irc_msg_t *msg)
{
    char *end = s + n;

    *end = '\0';
    while (s < end) {
        char *semi = memchr(s, ';', (size_t)(end - s));
        char *stop = semi ? semi : end;
        char *eq = memchr(s, '=', (size_t)(stop - s));
        char *kend = eq ? eq : stop;

        *stop = '\0';
        if (kend > s) { /* an empty entry or key is skipped */
            irc_tag_t *t;

            if (msg->ntags == IRC_TAGS_COUNT_MAX) {
                msg->tags_ignored++;
            } else {
                t = &msg->tags[msg->ntags++];
                *kend = '\0';
                t->key = s;
                t->client = s[0] == '+';
                t->has_value = eq != NULL;
                if (eq) {
                    irc_tag_unescape(eq + 1, (size_t)(stop - eq - 1), eq + 1);
                    t->value = eq + 1;
                } else {
                    t->value = "";
                }
            }
        }
        s = stop + 1;
    }
}

const char *irc_msg_tag(const irc_msg_t *msg, const char *key)
{
    for (size_t i = msg->ntags; i-- > 0;)
        if (strcmp(msg->tags[i].key, key) == 0)
            return msg->tags[i].value;
    return NULL;
}

size_t irc_msg_client_tags(const irc_msg_t *msg, char *out, size_t cap)
{
    size_t o = 0;

    if (cap == 0)
        return (size_t)-1;
    out[0] = '\0';
    for (size_t i = 0; i < msg->ntags; i++) {
        const irc_tag_t *t = &msg->tags[i];
        size_t kl = strlen(t->key), vl;
        int later = 0;

        if (!t->client || !irc_tag_key_valid(t->key, kl))
            continue;
        for (size_t j = i + 1; j < msg->ntags && !later; j++)
            later = strcmp(msg->tags[j].key, t->key) == 0;
        if (later)
            continue;
        if (o + (o ? 1 : 0) + kl >= cap)
            return (size_t)-1;
        if (o)
            out[o++] = ';';
        memcpy(out + o, t->key, kl);
        o += kl;
        out[o] = '\0';
        if (t->value[0] != '\0') {
            if (o + 1 >= cap)
                return (size_t)-1;
            out[o++] = '=';
            vl = irc_tag_escape(t->value, out + o, cap - o);
            if (vl == (size_t)-1)
                return (size_t)-1;
            o += vl;
        }
    }
    return o;
}

/* ---- lines --------------------------------------------------------------- */

static char *skip_spaces(char *p)
{
    while (*p == ' ')
        p++;
    return p;
}

/* 1 when the command word W is letters only or exactly three digits;
 * letters are upper-cased in place. */
static int command_ok(char *w)
{
    size_t n = strlen(w);

    if (n == 3 && w[0] >= '0' && w[0] <= '9' && w[1] >= '0' && w[1] <= '9' &&
        w[2] >= '0' && w[2] <= '9')
        return 1;
    for (size_t i = 0; i < n; i++) {
        if (w[i] >= 'a' && w[i] <= 'z')
            w[i] = (char)(w[i] - 32);
        else if (!(w[i] >= 'A' && w[i] <= 'Z'))
            return 0;
    }
    return n > 0;
}

irc_perr_t irc_parse(char *line, size_t len, irc_msg_t *msg)
{
    char *p = line, *end = line + len;

    msg->ntags = 0;
    msg->tags_len = 0;
    msg->tags_ignored = 0;
    msg->prefix = NULL;
    msg->command = NULL;
    msg->nparams = 0;
    msg->trailing = 0;
    line[len] = '\0';
    if (len == 0)
        return IRC_PERR_EMPTY;
    if (memchr(line, '\0', len) || memchr(line, '\r', len) ||
        memchr(line, '\n', len))
        return IRC_PERR_BYTE;
    if (*p == '@') {
        char *sp = memchr(p, ' ', len);
        size_t tl = (size_t)((sp ? sp : end) - p - 1);

        if (tl > IRC_CLIENT_TAGS_MAX)
            return IRC_PERR_TAGS_LONG;
        if (sp == NULL)
            return IRC_PERR_NO_COMMAND;
        if (tl == 0)
            return IRC_PERR_TAGS;
        msg->tags_len = tl;
        parse_tags(p + 1, tl, msg);
        p = sp + 1;
    }
    if ((size_t)(end - p) > IRC_LINE_MAX - 2)
        return IRC_PERR_TOO_LONG;
    p = skip_spaces(p);
    if (*p == ':') {
        char *sp = strchr(p, ' ');

        if (sp == NULL)
            return IRC_PERR_NO_COMMAND;
        *sp = '\0';
        msg->prefix = p + 1;
        p = skip_spaces(sp + 1);
    }
    if (*p == '\0')
        return IRC_PERR_NO_COMMAND;
    msg->command = p;
    p += strcspn(p, " ");
    if (*p != '\0')
        *p++ = '\0';
    if (!command_ok((char *)msg->command))
        return IRC_PERR_COMMAND;
    for (;;) {
        p = skip_spaces(p);
        if (*p == '\0')
            break;
        if (*p == ':' || msg->nparams == IRC_PARAMS_MAX - 1) {
            /* the trailing parameter, or RFC 2812's 15th: rest of line */
            msg->trailing = *p == ':';
            msg->params[msg->nparams++] = p + (*p == ':');
            break;
        }
        msg->params[msg->nparams++] = p;
        p += strcspn(p, " ");
        if (*p != '\0')
            *p++ = '\0';
    }
    return IRC_PARSE_OK;
}

/* ---- output -------------------------------------------------------------- */

size_t irc_utf8_cut(const char *s, size_t len, size_t max)
{
    size_t n;

    if (len <= max)
        return len;
    n = max;
    /* S[N] is the first byte cut: if it continues a sequence, cut the
     * sequence's lead byte too */
    while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
        n--;
    return n;
}

static int word_ok(const char *s)
{
    return *s != '\0' && s[strcspn(s, " \r\n")] == '\0';
}

static void put(char *out, size_t *o, const char *s, size_t n)
{
    memcpy(out + *o, s, n);
    *o += n;
}

size_t irc_format(char *out, size_t cap, const char *tags, const char *prefix,
                  const char *command, const char *const *params,
                  size_t nparams, int flags)
{
    size_t tl = tags ? strlen(tags) : 0, body = 0, lastlen = 0, o = 0;
    int colon = 0;

    if (tl > 0 && (tl + 2 > IRC_TAGS_SECTION_MAX || !word_ok(tags)))
        return (size_t)-1;
    if (prefix) {
        if (!word_ok(prefix))
            return (size_t)-1;
        body += 2 + strlen(prefix);
    }
    if (!word_ok(command))
        return (size_t)-1;
    body += strlen(command);
    for (size_t i = 0; i < nparams; i++) {
        size_t pl = strlen(params[i]);

        if (i + 1 < nparams) {
            if (!word_ok(params[i]) || params[i][0] == ':')
                return (size_t)-1;
            body += 1 + pl;
        } else {
            if (params[i][strcspn(params[i], "\r\n")] != '\0')
                return (size_t)-1;
            colon = (flags & IRC_FMT_COLON) || pl == 0 || params[i][0] == ':' ||
                    strchr(params[i], ' ') != NULL;
            body += 1 + (size_t)colon;
            lastlen = pl;
        }
    }
    if (body + lastlen + 2 > IRC_LINE_MAX) {
        size_t room;

        if (!(flags & IRC_FMT_TRUNCATE) || nparams == 0 ||
            body + 2 > IRC_LINE_MAX)
            return (size_t)-1;
        if (!colon) { /* a cut may leave it empty: it needs the ':' */
            colon = 1;
            body++;
            if (body + 2 > IRC_LINE_MAX)
                return (size_t)-1;
        }
        room = IRC_LINE_MAX - 2 - body;
        lastlen = irc_utf8_cut(params[nparams - 1], lastlen, room);
    }
    if ((tl ? tl + 2 : 0) + body + lastlen + 2 + 1 > cap)
        return (size_t)-1;
    if (tl) {
        out[o++] = '@';
        put(out, &o, tags, tl);
        out[o++] = ' ';
    }
    if (prefix) {
        out[o++] = ':';
        put(out, &o, prefix, strlen(prefix));
        out[o++] = ' ';
    }
    put(out, &o, command, strlen(command));
    for (size_t i = 0; i < nparams; i++) {
        out[o++] = ' ';
        if (i + 1 < nparams) {
            put(out, &o, params[i], strlen(params[i]));
        } else {
            if (colon)
                out[o++] = ':';
            put(out, &o, params[i], lastlen);
        }
    }
    out[o++] = '\r';
    out[o++] = '\n';
    out[o] = '\0';
    return o;
}
