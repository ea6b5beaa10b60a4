/*
 * smtp_ctl.c - an smtp instance's loomctl commands: `queue` (the relay
 * queue as a table), `flush` (every queued message due now) and `delete
 * ID` (drop a message without a bounce).  They run on the reactor and
 * only read or change the runner's schedule; file work goes to the
 * worker pool (smtp_runner_delete).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "smtp.h"
#include "smtp_ctl.h"
#include "smtp_out.h"

/* ---- commands --------------------------------------------------------------
 */

/* The queue, collected to be sorted by arrival. */
typedef struct {
    smtp_runner_item_t *items;
    char **strs; /* copies of the items' strings, 4 per item */
    size_t n, cap;
} smtp_qlist_t;

static char *smtp_dup_or_null(const char *s)
{
    return s ? loom_strdup(s) : NULL;
}

static void smtp_qlist_add(void *arg, const smtp_runner_item_t *it)
{
    smtp_qlist_t *l = arg;
    smtp_runner_item_t *x;

    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->items = loom_realloc(l->items, l->cap * sizeof(*l->items));
        l->strs = loom_realloc(l->strs, l->cap * 4 * sizeof(char *));
    }
    x = &l->items[l->n];
    *x = *it;
    x->id = l->strs[l->n * 4] = loom_strdup(it->id);
    x->sender = l->strs[l->n * 4 + 1] = smtp_dup_or_null(it->sender);
    x->rcpts = l->strs[l->n * 4 + 2] = smtp_dup_or_null(it->rcpts);
    x->error = l->strs[l->n * 4 + 3] = smtp_dup_or_null(it->error);
    l->n++;
}

static int smtp_qitem_cmp(const void *a, const void *b)
{
    const smtp_runner_item_t *x = a, *y = b;

    if (x->arrival != y->arrival)
        return x->arrival < y->arrival ? -1 : 1;
    return strcmp(x->id, y->id);
}

static void smtp_qlist_free(smtp_qlist_t *l)
{
    for (size_t i = 0; i < l->n * 4; i++)
        free(l->strs[i]);
    free(l->strs);
    free(l->items);
}

/* INST's relay queue runner, or NULL when it has none. */
static smtp_runner_t *smtp_ctl_runner(loom_instance_t *inst)
{
    smtp_inst_t *si = smtp_inst(inst);

    return si ? si->runner : NULL;
}

/* The answer of every queue command on an instance without a queue. */
static int smtp_no_queue(loom_instance_t *inst, loom_ctl_t *out)
{
    return loom_ctl_error(out, "%s has no relay queue (queue_dir is not set)",
                          loom_instance_who(inst));
}

static int smtp_cmd_queue(loom_instance_t *inst, int argc, char **argv,
                          loom_ctl_t *out)
{
    smtp_runner_t *runner = smtp_ctl_runner(inst);
    smtp_runner_stats_t rs;
    smtp_qlist_t l = {NULL, NULL, 0, 0};
    int64_t now = (int64_t)time(NULL);

    (void)argc;
    (void)argv;
    if (runner == NULL)
        return smtp_no_queue(inst, out);
    smtp_runner_stats(runner, &rs);
    smtp_runner_list(runner, smtp_qlist_add, &l);
    if (l.n > 1)
        qsort(l.items, l.n, sizeof(*l.items), smtp_qitem_cmp);
    loom_ctl_columns(out, "id", "sender", "recipients", "size", "age",
                     "attempts", "next", "error", NULL);
    for (size_t i = 0; i < l.n; i++) {
        const smtp_runner_item_t *it = &l.items[i];
        char size[24] = "", age[24] = "", attempts[16], next[24];

        if (it->sender != NULL)
            snprintf(size, sizeof(size), "%llu", (unsigned long long)it->size);
        if (it->arrival > 0)
            snprintf(age, sizeof(age), "%lld",
                     (long long)(now > it->arrival ? now - it->arrival : 0));
        snprintf(attempts, sizeof(attempts), "%u", (unsigned)it->attempts);
        if (it->busy)
            snprintf(next, sizeof(next), "running");
        else if (rs.held)
            snprintf(next, sizeof(next), "held");
        else
            snprintf(next, sizeof(next), "%lld",
                     (long long)(it->due > now ? it->due - now : 0));
        loom_ctl_row(out, it->id,
                     it->sender == NULL ? "?"
                     : it->sender[0]    ? it->sender
                                        : "<>",
                     it->rcpts ? it->rcpts : "", size, age, attempts, next,
                     it->error ? it->error : "", NULL);
    }
    smtp_qlist_free(&l);
    return LOOM_OK;
}

static int smtp_cmd_flush(loom_instance_t *inst, int argc, char **argv,
                          loom_ctl_t *out)
{
    smtp_runner_t *runner = smtp_ctl_runner(inst);
    long n;

    (void)argc;
    (void)argv;
    if (runner == NULL)
        return smtp_no_queue(inst, out);
    n = smtp_runner_flush(runner);
    if (n < 0)
        return loom_ctl_error(out, "relay_hold is set: the queue is kept, "
                                   "nothing is delivered");
    loom_log(LOOM_LOG_INFO, loom_instance_who(inst),
             "queue flushed by the operator: %ld message(s) due now", n);
    loom_ctl_message(out,
                     "%ld message(s) due now; delivery runs in the "
                     "background",
                     n);
    return LOOM_OK;
}

static int smtp_cmd_delete(loom_instance_t *inst, int argc, char **argv,
                           loom_ctl_t *out)
{
    smtp_runner_t *runner = smtp_ctl_runner(inst);
    char err[256];

    (void)argc;
    if (runner == NULL)
        return smtp_no_queue(inst, out);
    if (smtp_runner_delete(runner, argv[0], err, sizeof(err)) != LOOM_OK)
        return loom_ctl_error(out, "%s", err);
    loom_ctl_message(out, "message %s deleted (no bounce sent)", argv[0]);
    return LOOM_OK;
}

const loom_ctl_cmd_t smtp_ctl_commands[] = {
    {"queue", "",
     "list the relay queue: id, sender, recipients, size, age, attempts, "
     "next try, last error",
     0, 0, smtp_cmd_queue},
    {"flush", "", "try every queued message now", 0, 0, smtp_cmd_flush},
    {"delete", "ID", "drop a queued message without a bounce", 1, 1,
     smtp_cmd_delete},
    {NULL, NULL, NULL, 0, 0, NULL},
};
