/*
 * alog.c - access logs: one file per module instance, appended a line at
 * a time, reopened for logrotate.  Logs with the same path share one fd.
 */
#include "loom.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct loom_alog_s {
    char *path;
    int fd;
    unsigned refs;
    loom_alog_t *next;
};

/* Every open access log, for reopen (process-wide, like the files). */
static loom_alog_t *loom_alogs;

loom_alog_t *loom_alog_open(const char *path)
{
    loom_alog_t *al;
    int fd;

    for (al = loom_alogs; al; al = al->next) {
        if (strcmp(al->path, path) == 0) {
            al->refs++;
            return al;
        }
    }
    fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0)
        return NULL;
    al = loom_calloc(1, sizeof(*al));
    al->path = loom_strdup(path);
    al->fd = fd;
    al->refs = 1;
    al->next = loom_alogs;
    loom_alogs = al;
    return al;
}

void loom_alog_write(loom_alog_t *al, const char *fmt, ...)
{
    char line[2048];
    va_list ap;
    int n;

    if (al == NULL || al->fd < 0)
        return;
    va_start(ap, fmt);
    n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n > sizeof(line) - 2)
        n = sizeof(line) - 2;
    line[n++] = '\n';
    if (write(al->fd, line, (size_t)n) < 0)
        loom_log(LOOM_LOG_WARN, NULL, "access log %s: %s", al->path,
                 strerror(errno));
}

void loom_alog_close(loom_alog_t *al)
{
    loom_alog_t **pp;

    if (al == NULL || --al->refs > 0)
        return;
    for (pp = &loom_alogs; *pp; pp = &(*pp)->next) {
        if (*pp == al) {
            *pp = al->next;
            break;
        }
    }
    if (al->fd >= 0)
        close(al->fd);
    free(al->path);
    free(al);
}

void loom_alog_reopen_all(void)
{
    loom_alog_t *al;

    for (al = loom_alogs; al; al = al->next) {
        int fd =
            open(al->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);

        if (fd < 0) {
            loom_log(LOOM_LOG_ERROR, NULL, "cannot reopen access log %s: %s",
                     al->path, strerror(errno));
            continue;
        }
        dup3(fd, al->fd, O_CLOEXEC);
        close(fd);
    }
}
