/*
 * irc_names.c - case mapping and name checks with the instance's limits.
 * Temporary glue until irc-parse's irc_util lands; then these wrap it.
 */
#include <string.h>

#include "irc.h"

static char irc_fold_char(irc_casemap_t map, char ch)
{
    if (ch >= 'A' && ch <= 'Z')
        return (char)(ch - 'A' + 'a');
    if (map == IRC_CASEMAP_ASCII)
        return ch;
    if (ch == '[' || ch == ']' || ch == '\\')
        return (char)(ch + 32);
    if (ch == '~' && map == IRC_CASEMAP_RFC1459)
        return '^';
    return ch;
}

char *irc_fold_map(irc_casemap_t map, const char *in, char *out, size_t outlen)
{
    size_t i = 0;

    if (outlen == 0)
        return out;
    for (; in[i] && i + 1 < outlen; i++)
        out[i] = irc_fold_char(map, in[i]);
    out[i] = '\0';
    return out;
}

int irc_nick_ok(const irc_conf_t *c, const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > c->nicklen)
        return 0;
    if ((s[0] >= '0' && s[0] <= '9') || s[0] == '-')
        return 0;
    for (; *s; s++) {
        char ch = *s;

        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (ch >= '0' && ch <= '9') || strchr("[]\\`_^{|}-", ch)))
            return 0;
    }
    return 1;
}

int irc_chan_name_ok(const irc_conf_t *c, const char *s)
{
    size_t n = strlen(s);

    if (n < 2 || n > c->channellen || (s[0] != '#' && s[0] != '&'))
        return 0;
    return strpbrk(s, " ,\a\r\n:") == NULL;
}
