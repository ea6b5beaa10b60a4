/*
 * loomctl.h - the parts of the loomctl client that do no I/O: its command
 * line (options and the request line it sends) and the rendering of the
 * daemon's JSON reply.  loomctl.c holds main() and the socket; the unit
 * tests call these directly.  The protocol is described in loomctl(8).
 */
#ifndef LOOMCTL_H
#define LOOMCTL_H

#include <stddef.h>
#include <stdio.h>

/* Exit codes of loomctl (loomctl(8), EXIT STATUS). */
enum {
    LOOMCTL_EXIT_OK = 0,      /* the daemon answered ok */
    LOOMCTL_EXIT_ERROR = 1,   /* the daemon answered an error */
    LOOMCTL_EXIT_USAGE = 2,   /* bad command line */
    LOOMCTL_EXIT_CONNECT = 3, /* no daemon, or an unreadable reply */
};

/* The default control socket when neither -s nor LOOMCTL_SOCKET names one. */
#define LOOMCTL_DEFAULT_SOCKET "/run/loom/control.sock"

/* A request line is at most this long, its "\n" included (the server's
 * limit). */
#define LOOMCTL_LINE_MAX 4096

/* What the command line asks for. */
typedef enum {
    LOOMCTL_RUN,     /* send WORDS to the daemon */
    LOOMCTL_HELP,    /* -h: print the usage and exit 0 */
    LOOMCTL_VERSION, /* -V: print the version and exit 0 */
} loomctl_action_t;

typedef struct {
    loomctl_action_t action;
    const char *socket; /* socket path (points into argv, env or a literal) */
    int json;           /* --json: print the reply as JSON */
    int nwords;         /* the command and its arguments */
    char **words;       /* points into argv */
    char sockbuf[256];  /* the path of a "unix:PATH:OPTIONS" socket */
} loomctl_opts_t;

/* Parse loomctl's ARGC/ARGV (ARGV[0] is the program name).  ENV_SOCKET is
 * $LOOMCTL_SOCKET or NULL.  Options come before the command; the first word
 * that is not an option (or every word after "--") starts it.  A socket
 * given as loom.conf's endpoint "unix:PATH[:OPTIONS]" (backslash escapes
 * a colon) means PATH.  Fills *O (pointers into ARGV, ENV_SOCKET, a static
 * string or O->sockbuf) and returns 0; on a usage error writes a one-line
 * message into ERR and returns -1. */
int loomctl_parse_args(int argc, char **argv, const char *env_socket,
                       loomctl_opts_t *o, char *err, size_t errlen);

/* Build the request line for the NWORDS WORDS into BUF (SIZE bytes): words
 * joined by single spaces, a word with a space, tab, quote or backslash (or
 * an empty one) double-quoted with \" and \\ escapes, then "\n".  Returns the
 * line's length (without a terminating NUL, which is also written), or -1
 * with a message in ERR when a word holds a line break or the line would
 * exceed LOOMCTL_LINE_MAX or SIZE. */
int loomctl_request_line(int nwords, char *const *words, char *buf, size_t size,
                         char *err, size_t errlen);

/* Render the daemon's reply (LEN bytes of JSON) onto OUT: with JSON set the
 * reply object itself (indented), else tables, messages and the status
 * object as text.  A daemon error goes to ERR as its message alone (without
 * JSON set); a reply that is not the protocol's goes to ERR as
 * "loomctl: ...".  Returns the exit code: LOOMCTL_EXIT_OK, _ERROR or
 * _CONNECT (protocol error). */
int loomctl_render_reply(const char *reply, size_t len, int json, FILE *out,
                         FILE *err);

/* Write the usage text onto F. */
void loomctl_usage(FILE *f);

#endif
