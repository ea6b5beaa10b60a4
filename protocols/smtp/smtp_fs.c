/*
 * smtp_fs.c - blocking file helpers for the SMTP storage (smtp_fs.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loom.h"
#include "smtp_fs.h"

char *smtp_fs_join(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *s = loom_malloc(la + lb + 2);

    memcpy(s, a, la);
    s[la] = '/';
    memcpy(s + la + 1, b, lb + 1);
    return s;
}

/* A directory just made must survive a crash: fsync its parent. */
static int sync_parent(const char *path, char *err, size_t errlen)
{
    const char *slash = strrchr(path, '/');
    char *parent;
    int rc;

    if (slash == path)
        parent = loom_strdup("/");
    else if (slash == NULL)
        parent = loom_strdup(".");
    else
        parent = loom_strndup(path, (size_t)(slash - path));
    rc = smtp_fs_sync_dir(parent, err, errlen);
    free(parent);
    return rc;
}

int smtp_fs_mkdirs(const char *path, mode_t mode, char *err, size_t errlen)
{
    char *p = loom_strdup(path);
    size_t len = strlen(p);
    int rc = 0;

    while (len > 1 && p[len - 1] == '/')
        p[--len] = '\0';
    for (size_t i = 1; i <= len && rc == 0; i++) {
        if (p[i] != '/' && p[i] != '\0')
            continue;
        p[i] = '\0';
        if (mkdir(p, mode) == 0) {
            rc = sync_parent(p, err, errlen);
        } else if (errno != EEXIST) {
            snprintf(err, errlen, "mkdir %s: %s", p, strerror(errno));
            rc = -1;
        }
        if (rc == 0 && i == len) {
            struct stat st;

            if (stat(p, &st) != 0 || !S_ISDIR(st.st_mode)) {
                snprintf(err, errlen, "%s: not a directory", p);
                rc = -1;
            }
        }
        if (i < len)
            p[i] = '/';
    }
    free(p);
    return rc;
}

int smtp_fs_write_new(const char *path, const struct iovec *iov, int iovcnt,
                      int then, int *fdp, char *err, size_t errlen)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    int i = 0;
    size_t off = 0; /* into iov[i] */

    if (fd < 0) {
        snprintf(err, errlen, "create %s: %s", path, strerror(errno));
        return -1;
    }
    while (i < iovcnt) {
        struct iovec v[64];
        int n = 0;
        ssize_t w;

        for (int k = i; k < iovcnt && n < 64; k++) {
            v[n].iov_base = (char *)iov[k].iov_base + (k == i ? off : 0);
            v[n].iov_len = iov[k].iov_len - (k == i ? off : 0);
            n++;
        }
        w = writev(fd, v, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            snprintf(err, errlen, "write %s: %s", path,
                     w < 0 ? strerror(errno) : "short write");
            goto fail;
        }
        while (w > 0 && i < iovcnt) {
            size_t left = iov[i].iov_len - off;

            if ((size_t)w >= left) {
                w -= (ssize_t)left;
                i++;
                off = 0;
            } else {
                off += (size_t)w;
                w = 0;
            }
        }
        while (i < iovcnt && iov[i].iov_len == 0)
            i++;
    }
    if (then == SMTP_FS_KEEP) {
        /* writeback of every file of a batch starts before the first
         * fsync: the filesystem can commit them together */
        (void)sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
        *fdp = fd;
        return 0;
    }
    if (then == SMTP_FS_FSYNC && fsync(fd) != 0) {
        snprintf(err, errlen, "fsync %s: %s", path, strerror(errno));
        goto fail;
    }
    if (close(fd) != 0) {
        fd = -1;
        snprintf(err, errlen, "close %s: %s", path, strerror(errno));
        goto fail;
    }
    return 0;
fail:
    if (fd >= 0)
        close(fd);
    unlink(path);
    return -1;
}

int smtp_fs_sync_dir(const char *dir, char *err, size_t errlen)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    if (fd < 0 || fsync(fd) != 0) {
        snprintf(err, errlen, "fsync %s: %s", dir, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

int smtp_fs_syncfs(const char *path, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0 || syncfs(fd) != 0) {
        snprintf(err, errlen, "syncfs %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

unsigned char *smtp_fs_read(const char *path, size_t *len, char *err,
                            size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    unsigned char *buf;
    size_t off = 0;

    if (fd < 0 || fstat(fd, &st) != 0) {
        snprintf(err, errlen, "open %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: not a regular file", path);
        close(fd);
        return NULL;
    }
    buf = loom_malloc((size_t)st.st_size + 1);
    while (off < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + off, (size_t)st.st_size - off);

        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            snprintf(err, errlen, "read %s: %s", path, strerror(errno));
            close(fd);
            free(buf);
            return NULL;
        }
        if (r == 0)
            break; /* shrank meanwhile: what we have */
        off += (size_t)r;
    }
    close(fd);
    buf[off] = '\0';
    *len = off;
    return buf;
}
