/*
 * loom_cmd.h - command tables for line protocols (memcache, SMTP, IRC), in
 * the spirit of OpenSMTPD's commands[] and Redis's command table: one
 * entry per command holds its name, how many arguments it takes, the
 * owner's flags, its handler and a pointer of the owner's.  Sans I/O: the
 * helper splits a line into tokens, finds the entry for the first one
 * (exactly or ignoring ASCII case, per table) and checks the argument
 * count; replies, including the one for a wrong count, stay the owner's.
 */
#ifndef LOOM_CMD_H
#define LOOM_CMD_H

#include <stddef.h>

#include "loom.h"

/* loom_cmd_table_t.opts: names compare ignoring ASCII case (SMTP, IRC). */
#define LOOM_CMD_ICASE 0x01u
/* loom_cmd_split opts: an argument that starts with ':' is the rest of the
 * line, spaces and all, without the ':' (IRC's trailing parameter). */
#define LOOM_CMD_TRAILING 0x02u

/* loom_cmd_t.max_args: no upper bound. */
#define LOOM_CMD_ANY 0xffffu

typedef struct loom_cmd_s loom_cmd_t;

/* A command handler.  What CTX and ARG point to is the table owner's
 * business (a session, a parsed request); so is the return value. */
typedef int (*loom_cmd_fn)(const loom_cmd_t *cmd, void *ctx, void *arg);

struct loom_cmd_s {
    const char *name;        /* the verb, NUL-terminated */
    unsigned short min_args; /* arguments after the verb */
    unsigned short max_args; /* LOOM_CMD_ANY: no limit */
    unsigned flags;          /* the owner's bits */
    loom_cmd_fn handler;     /* may be NULL */
    const void *data;        /* the owner's pointer, per command */
};

typedef struct {
    const loom_cmd_t *cmds;
    size_t n;
    unsigned opts; /* LOOM_CMD_ICASE */
} loom_cmd_table_t;

/* A table over a static array of loom_cmd_t. */
#define LOOM_CMD_TABLE(array, opts)                                            \
    {                                                                          \
        (array), LOOM_ARRAY_LEN(array), (opts)                                 \
    }

/* Split LINE (LEN bytes, no line end) into at most MAX tokens (MAX >= 1)
 * separated by runs of spaces; leading and trailing spaces are skipped.
 * When more would follow, the last token is the rest of the line, its
 * trailing spaces trimmed; with LOOM_CMD_TRAILING an argument starting
 * with ':' ends the split as described there.  The tokens point into LINE.
 * Returns the number of tokens (0 for a blank line). */
size_t loom_cmd_split(const char *line, size_t len, unsigned opts,
                      loom_slice_t *tok, size_t max);

/* The entry of T whose name is NAME (LEN bytes, no NUL needed), or NULL. */
const loom_cmd_t *loom_cmd_find(const loom_cmd_table_t *t, const char *name,
                                size_t len);

/* LOOM_OK when NARGS arguments are within CMD's min_args..max_args, else
 * LOOM_DECLINED. */
int loom_cmd_arity(const loom_cmd_t *cmd, size_t nargs);

/* Look up TOK[0] in T and check the NTOK - 1 arguments after it.  Returns
 * LOOM_OK with *OUT set, LOOM_DECLINED with *OUT set when the count is
 * wrong, LOOM_ERROR with *OUT NULL for an unknown verb or NTOK == 0. */
int loom_cmd_match(const loom_cmd_table_t *t, const loom_slice_t *tok,
                   size_t ntok, const loom_cmd_t **out);

/* Run CMD's handler with CTX and ARG; LOOM_DECLINED if it has none. */
int loom_cmd_call(const loom_cmd_t *cmd, void *ctx, void *arg);

#endif
