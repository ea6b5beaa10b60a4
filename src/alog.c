/*
 * alog.c - access logs: one file per module instance, appended a line at
 * a time, reopened for logrotate.  Logs with the same path share one fd.
 *
 * loomd opens the logs as root and then runs as its service user, who
 * reopens them on SIGUSR1 and SIGHUP.  So a log root creates is handed to
 * the service user (as nginx does for its workers), and a reopen that
 * fails keeps writing the file it had and says so.
 */
#include "core.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct loom_alog_s {
    char *path;
    int fd;
    unsigned refs;
    loom_alog_t *next;
};

/* Every open access log, for reopen (process-wide, like the files). */
static loom_alog_t *loom_alogs;

/* The service user that gets the files root opens (see loom_alog_owner). */
static int alog_chown;
static uid_t alog_uid;
static gid_t alog_gid;

void loom_alog_owner(uid_t uid, gid_t gid)
{
    alog_chown = 1;
    alog_uid = uid;
    alog_gid = gid;
}

/* Open PATH for appending, creating it 0640; when running as root for a
 * service user, a regular file becomes the service user's.  An fd or -1
 * with errno. */
static int alog_open_fd(const char *path)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    struct stat st;

    if (fd < 0)
        return -1;
    /* Only regular files: a log sent to /dev/stdout or a FIFO is not the
     * service user's to own. */
    if (alog_chown && geteuid() == 0 && fstat(fd, &st) == 0 &&
        S_ISREG(st.st_mode) &&
        (st.st_uid != alog_uid || st.st_gid != alog_gid) &&
        fchown(fd, alog_uid, alog_gid) != 0) {
        int e = errno;

        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

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
    fd = alog_open_fd(path);
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

int loom_alog_is_open(const char *path)
{
    const loom_alog_t *al;

    for (al = loom_alogs; al; al = al->next) {
        if (strcmp(al->path, path) == 0)
            return 1;
    }
    return 0;
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

int loom_alog_reopen_all(void)
{
    loom_alog_t *al;
    int failed = 0;

    for (al = loom_alogs; al; al = al->next) {
        int fd = alog_open_fd(al->path);

        if (fd < 0 || dup3(fd, al->fd, O_CLOEXEC) < 0) {
            loom_log(LOOM_LOG_ERROR, NULL,
                     "cannot reopen access log %s: %s; still writing to the "
                     "file it had open",
                     al->path, strerror(errno));
            if (fd >= 0)
                close(fd);
            failed++;
            continue;
        }
        close(fd);
    }
    return failed;
}
