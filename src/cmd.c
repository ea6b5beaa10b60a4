/*
 * cmd.c - command tables for line protocols (see loom_cmd.h).
 *
 * Tables are small (a few dozen verbs at most), so a lookup is a linear
 * scan that compares lengths first: no index to build or keep in step,
 * and the hot verbs go first in their table.
 */
#include "loom_cmd.h"

#include <string.h>

static size_t skip_spaces(const char *p, size_t i, size_t len)
{
    while (i < len && p[i] == ' ')
        i++;
    return i;
}

size_t loom_cmd_split(const char *line, size_t len, unsigned opts,
                      loom_slice_t *tok, size_t max)
{
    size_t i = skip_spaces(line, 0, len), n = 0;

    while (i < len && n < max) {
        size_t start = i;

        if ((opts & LOOM_CMD_TRAILING) && n > 0 && line[i] == ':') {
            tok[n].p = line + i + 1;
            tok[n].len = len - i - 1;
            return n + 1;
        }
        if (n == max - 1) {
            size_t end = len;

            while (end > start && line[end - 1] == ' ')
                end--;
            tok[n].p = line + start;
            tok[n].len = end - start;
            return n + 1;
        }
        while (i < len && line[i] != ' ')
            i++;
        tok[n].p = line + start;
        tok[n].len = i - start;
        n++;
        i = skip_spaces(line, i, len);
    }
    return n;
}

static int same_icase(const char *a, const char *b, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++) {
        unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];

        if (x >= 'A' && x <= 'Z')
            x = (unsigned char)(x + ('a' - 'A'));
        if (y >= 'A' && y <= 'Z')
            y = (unsigned char)(y + ('a' - 'A'));
        if (x != y)
            return 0;
    }
    return 1;
}

const loom_cmd_t *loom_cmd_find(const loom_cmd_table_t *t, const char *name,
                                size_t len)
{
    size_t i;

    for (i = 0; i < t->n; i++) {
        const loom_cmd_t *c = &t->cmds[i];

        if (strlen(c->name) != len)
            continue;
        if ((t->opts & LOOM_CMD_ICASE) ? same_icase(c->name, name, len)
                                       : memcmp(c->name, name, len) == 0)
            return c;
    }
    return NULL;
}

int loom_cmd_arity(const loom_cmd_t *cmd, size_t nargs)
{
    if (nargs < cmd->min_args)
        return LOOM_DECLINED;
    if (cmd->max_args != LOOM_CMD_ANY && nargs > cmd->max_args)
        return LOOM_DECLINED;
    return LOOM_OK;
}

int loom_cmd_match(const loom_cmd_table_t *t, const loom_slice_t *tok,
                   size_t ntok, const loom_cmd_t **out)
{
    *out = ntok ? loom_cmd_find(t, tok[0].p, tok[0].len) : NULL;
    if (*out == NULL)
        return LOOM_ERROR;
    return loom_cmd_arity(*out, ntok - 1);
}

int loom_cmd_call(const loom_cmd_t *cmd, void *ctx, void *arg)
{
    if (cmd->handler == NULL)
        return LOOM_DECLINED;
    return cmd->handler(cmd, ctx, arg);
}
