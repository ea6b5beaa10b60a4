/*
 * loomctl_args.c - loomctl's command line: its options and the request
 * line it makes of the command words (see loomctl.h).
 *
 * Options are parsed here rather than with getopt so that parsing is
 * re-entrant (the unit tests call it many times) and stops at the first
 * command word: `loomctl irc kill bob "-away"` must not read "-away" as an
 * option.
 */
#include "loomctl.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int args_fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int args_fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err && errlen) {
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

void loomctl_usage(FILE *f)
{
    fputs("usage: loomctl [-s SOCKET] [--json] COMMAND [ARGS...]\n"
          "       loomctl -h | -V\n"
          "  -s, --socket SOCKET  the control socket (default $LOOMCTL_SOCKET"
          " or " LOOMCTL_DEFAULT_SOCKET ")\n"
          "      --json           print the daemon's reply as JSON\n"
          "  -h, --help           print this help\n"
          "  -V, --version        print the version\n"
          "commands: status, reload, stop [--grace] [SECONDS], listeners,\n"
          "  connections [INSTANCE], routes, log-level LEVEL, reopen-logs,\n"
          "  help (the daemon's list, with module commands),\n"
          "  MODULE[/INSTANCE] COMMAND [ARGS...]\n",
          f);
}

/* Options without an argument: the long and short spelling and what they
 * set. */
typedef enum { OPT_SOCKET, OPT_JSON, OPT_HELP, OPT_VERSION } opt_id_t;

typedef struct {
    const char *lng;
    char shrt; /* 0: long only */
    int has_arg;
    opt_id_t id;
} opt_t;

static const opt_t opts[] = {
    {"--socket", 's', 1, OPT_SOCKET},
    {"--json", 0, 0, OPT_JSON},
    {"--help", 'h', 0, OPT_HELP},
    {"--version", 'V', 0, OPT_VERSION},
};

#define NOPTS (sizeof(opts) / sizeof(opts[0]))

/* The option ARG names (with "=VALUE" split off into *VALUE for a long
 * one), or NULL. */
static const opt_t *opt_find(const char *arg, const char **value)
{
    size_t i, n;

    *value = NULL;
    if (arg[1] != '-') {
        for (i = 0; i < NOPTS; i++)
            if (opts[i].shrt && arg[1] == opts[i].shrt) {
                if (arg[2])
                    *value = arg + 2; /* -sPATH, or junk after -h */
                return &opts[i];
            }
        return NULL;
    }
    for (i = 0; i < NOPTS; i++) {
        n = strlen(opts[i].lng);
        if (strncmp(arg, opts[i].lng, n) != 0)
            continue;
        if (arg[n] == '\0')
            return &opts[i];
        if (arg[n] == '=') {
            *value = arg + n + 1;
            return &opts[i];
        }
    }
    return NULL;
}

/* The path of a unix endpoint's fields S ("PATH:mode=0660", as loom.conf
 * writes it after "unix:"): up to the first colon not escaped with a
 * backslash, escapes removed, into BUF.  0, or -1 when it is empty or does
 * not fit. */
static int endpoint_path(const char *s, char *buf, size_t size)
{
    size_t n = 0;

    for (; *s && *s != ':'; s++) {
        if (*s == '\\' && s[1])
            s++;
        if (n + 1 >= size)
            return -1;
        buf[n++] = *s;
    }
    buf[n] = '\0';
    return n ? 0 : -1;
}

int loomctl_parse_args(int argc, char **argv, const char *env_socket,
                       loomctl_opts_t *o, char *err, size_t errlen)
{
    const opt_t *opt;
    const char *value;
    int i = 1;

    memset(o, 0, sizeof(*o));
    o->action = LOOMCTL_RUN;
    o->socket = env_socket && *env_socket ? env_socket : LOOMCTL_DEFAULT_SOCKET;
    for (; i < argc; i++) {
        const char *a = argv[i];

        if (strcmp(a, "--") == 0) {
            i++;
            break;
        }
        if (a[0] != '-' || a[1] == '\0')
            break;
        opt = opt_find(a, &value);
        if (!opt)
            return args_fail(err, errlen, "unknown option '%s'", a);
        if (!opt->has_arg && value)
            return args_fail(err, errlen, "option '%s' takes no value", a);
        if (opt->has_arg && !value) {
            if (i + 1 >= argc)
                return args_fail(err, errlen, "option '%s' needs a value", a);
            value = argv[++i];
        }
        switch (opt->id) {
        case OPT_SOCKET:
            if (!*value)
                return args_fail(err, errlen, "empty socket path");
            o->socket = value;
            break;
        case OPT_JSON:
            o->json = 1;
            break;
        case OPT_HELP:
            o->action = LOOMCTL_HELP;
            return 0;
        case OPT_VERSION:
            o->action = LOOMCTL_VERSION;
            return 0;
        }
    }
    if (strncmp(o->socket, "unix:", 5) == 0 &&
        endpoint_path(o->socket + 5, o->sockbuf, sizeof(o->sockbuf)) < 0)
        return args_fail(err, errlen, "bad socket endpoint '%s'", o->socket);
    if (strncmp(o->socket, "unix:", 5) == 0)
        o->socket = o->sockbuf;
    if (i >= argc)
        return args_fail(err, errlen, "no command (try 'loomctl help')");
    o->nwords = argc - i;
    o->words = argv + i;
    return 0;
}

/* True when WORD must be quoted to stay one word. */
static int word_needs_quotes(const char *word)
{
    return !*word || strpbrk(word, " \t\"\\") != NULL;
}

int loomctl_request_line(int nwords, char *const *words, char *buf, size_t size,
                         char *err, size_t errlen)
{
    /* LIMIT: the longest line, its "\n" counted, that fits both the
     * protocol and BUF (which also takes a NUL). */
    size_t len = 0,
           limit = size - 1 < LOOMCTL_LINE_MAX ? size - 1 : LOOMCTL_LINE_MAX;
    int i;

    if (size < 2)
        return args_fail(err, errlen, "no room for the request");
#define PUT(c)                                                                 \
    do {                                                                       \
        if (len + 2 > limit)                                                   \
            return args_fail(err, errlen, "request longer than %d bytes",      \
                             LOOMCTL_LINE_MAX);                                \
        buf[len++] = (c);                                                      \
    } while (0)
    for (i = 0; i < nwords; i++) {
        const char *w = words[i];
        int quote = word_needs_quotes(w);

        if (strpbrk(w, "\r\n"))
            return args_fail(err, errlen,
                             "argument %d holds a line break, which the "
                             "control protocol cannot carry",
                             i + 1);
        if (i > 0)
            PUT(' ');
        if (quote)
            PUT('"');
        for (; *w; w++) {
            if (quote && (*w == '"' || *w == '\\'))
                PUT('\\');
            PUT(*w);
        }
        if (quote)
            PUT('"');
    }
#undef PUT
    buf[len++] = '\n';
    buf[len] = '\0';
    return (int)len;
}
