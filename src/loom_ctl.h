/*
 * loom_ctl.h - commands a module offers to loomctl.  `loomctl MODULE[/NAME]
 * COMMAND [ARGS]` runs the command of that name in the module's table
 * (loom_module_t.commands) for the instance NAME (which may be left out
 * when the module has one instance).  A command answers with a table, a
 * message or an error; the control socket renders it as JSON, and loomctl
 * prints JSON (--json) or a human-readable table.  Commands run on the
 * reactor and must not block; one that starts something longer (a NOTIFY,
 * a queue run) says so in its message and returns at once.
 */
#ifndef LOOM_CTL_H
#define LOOM_CTL_H

#include "loom.h"

typedef struct loom_ctl_s loom_ctl_t;

typedef struct {
    const char *name;  /* the command word: "zones", "flush" */
    const char *usage; /* its arguments, for help: "ZONE", "" */
    const char *help;  /* one line */
    unsigned min_args, max_args;
    /* Run the command for INST with the ARGC words after the command
     * name (ARGV[0] is the first argument; the strings live during the
     * call).  Answer into OUT; return LOOM_OK, or the value of
     * loom_ctl_error. */
    int (*run)(loom_instance_t *inst, int argc, char **argv, loom_ctl_t *out);
} loom_ctl_cmd_t;

/* Start a table with the given column names (NULL-terminated).  One table
 * per answer; column names are short lower-case words. */
void loom_ctl_columns(loom_ctl_t *out, const char *col, ...) LOOM_SENTINEL;

/* Add a row to the table: one string per column, NULL-terminated (a
 * missing trailing cell is empty).  Strings are copied. */
void loom_ctl_row(loom_ctl_t *out, const char *cell, ...) LOOM_SENTINEL;

/* Add a line of text to the answer ("flushed 12 items", "NOTIFY sent to 2
 * secondaries"). */
void loom_ctl_message(loom_ctl_t *out, const char *fmt, ...) LOOM_PRINTF(2, 3);

/* Make the answer an error with this message (loomctl exits 1); returns
 * LOOM_ERROR for `return loom_ctl_error(out, ...)`. */
int loom_ctl_error(loom_ctl_t *out, const char *fmt, ...) LOOM_PRINTF(2, 3);

#endif
