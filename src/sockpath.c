/*
 * sockpath.c - UNIX socket addresses for paths longer than sun_path (see
 * sockpath.h).  Depends on libc only: loomctl links it too.
 */
#include "sockpath.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

loom_sockpath_kind_t loom_sockpath_kind(const char *path, size_t *namelen)
{
    const char *slash = strrchr(path, '/');
    const char *name = slash ? slash + 1 : path;
    size_t len = strlen(name);

    if (namelen)
        *namelen = len;
    if (path[0] == '\0')
        return LOOM_SOCKPATH_BAD;
    if (strlen(path) <= LOOM_SOCK_PATH_MAX)
        return LOOM_SOCKPATH_DIRECT;
    if (len == 0 || len > LOOM_SOCK_NAME_MAX)
        return LOOM_SOCKPATH_BAD;
    return LOOM_SOCKPATH_VIA_DIR;
}

int loom_sockpath_check(const char *path, char *why, size_t len)
{
    size_t namelen;

    if (loom_sockpath_kind(path, &namelen) != LOOM_SOCKPATH_BAD)
        return 0;
    snprintf(why, len,
             "the socket's file name is %zu bytes long; in a path over %zu "
             "bytes it can have at most %zu",
             namelen, (size_t)LOOM_SOCK_PATH_MAX, (size_t)LOOM_SOCK_NAME_MAX);
    return -1;
}

int loom_sockaddr_un(const char *path, loom_sockaddr_un_t *a)
{
    char dir[PATH_MAX];
    const char *slash;
    size_t namelen, dirlen;
    loom_sockpath_kind_t kind = loom_sockpath_kind(path, &namelen);

    memset(a, 0, sizeof(*a));
    a->dirfd = -1;
    a->sun.sun_family = AF_UNIX;
    if (kind == LOOM_SOCKPATH_BAD) {
        errno = namelen ? ENAMETOOLONG : EINVAL;
        return -1;
    }
    if (kind == LOOM_SOCKPATH_DIRECT) {
        memcpy(a->sun.sun_path, path, strlen(path) + 1);
        a->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
                             strlen(path) + 1);
        return 0;
    }
    slash = strrchr(path, '/');
    /* "name" is in ".", "/name" in "/", "a/b/name" in "a/b" */
    dirlen = slash == NULL ? 0 : slash == path ? 1 : (size_t)(slash - path);
    if (dirlen >= sizeof(dir)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    if (dirlen == 0)
        strcpy(dir, ".");
    else {
        memcpy(dir, path, dirlen);
        dir[dirlen] = '\0';
    }
    a->dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (a->dirfd < 0)
        return -1;
    /* fits: LOOM_SOCK_NAME_MAX leaves room for any descriptor number */
    a->len =
        (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
                    (size_t)snprintf(a->sun.sun_path, sizeof(a->sun.sun_path),
                                     "/proc/self/fd/%d/%s", a->dirfd,
                                     path + strlen(path) - namelen) +
                    1);
    return 0;
}

void loom_sockaddr_un_done(loom_sockaddr_un_t *a)
{
    int e = errno;

    if (a->dirfd >= 0)
        close(a->dirfd);
    a->dirfd = -1;
    errno = e;
}
