/*
 * sockpath.h - UNIX socket addresses for paths of any length (Linux).
 *
 * sun_path holds 107 bytes and a NUL.  A longer path is reached through
 * its directory: the directory is opened (O_PATH) and the address names
 * "/proc/self/fd/N/BASENAME", which the kernel resolves at bind or connect
 * time; the descriptor is closed right after.  Only the file name must
 * then fit, and the directory may be of any length.  Everything else
 * (chmod, lstat, unlink) uses the full path, which has no such limit.
 * Used by the listener, outbound connects, the configuration check and
 * loomctl, so all four accept the same paths.
 */
#ifndef LOOM_SOCKPATH_H
#define LOOM_SOCKPATH_H

#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>

/* The longest file name a long path may end in: sun_path less its NUL and
 * "/proc/self/fd/" with the largest descriptor number and a slash. */
#define LOOM_SOCK_NAME_MAX                                                     \
    (sizeof(((struct sockaddr_un *)0)->sun_path) - 1 -                         \
     (sizeof("/proc/self/fd/2147483647/") - 1))

/* The longest path that goes into sun_path as it is. */
#define LOOM_SOCK_PATH_MAX (sizeof(((struct sockaddr_un *)0)->sun_path) - 1)

/* How a path is put into a socket address (loom_sockpath_kind). */
typedef enum {
    LOOM_SOCKPATH_DIRECT = 0, /* fits sun_path as it is */
    LOOM_SOCKPATH_VIA_DIR,    /* too long; its directory is opened */
    LOOM_SOCKPATH_BAD         /* empty, or its file name is over the limit */
} loom_sockpath_kind_t;

/* A socket address ready for bind or connect; see loom_sockaddr_un. */
typedef struct {
    struct sockaddr_un sun;
    socklen_t len; /* the length to pass with &sun */
    int dirfd;     /* the open directory, -1 when the path is direct */
} loom_sockaddr_un_t;

/* How PATH (NUL-terminated) would be addressed: DIRECT when it is at most
 * LOOM_SOCK_PATH_MAX bytes; else VIA_DIR when its file name (after the
 * last slash) is 1 to LOOM_SOCK_NAME_MAX bytes; else BAD.  Pure; *NAMELEN
 * (may be NULL) gets the file name's length. */
loom_sockpath_kind_t loom_sockpath_kind(const char *path, size_t *namelen);

/* Why PATH is BAD, into WHY[LEN] ("the socket's file name is N bytes
 * long; ..."), for a caller that adds where it was given.  Returns 0 when
 * PATH is usable (WHY untouched), -1 when it is BAD. */
int loom_sockpath_check(const char *path, char *why, size_t len);

/* Fill *A with the address of the UNIX socket PATH.  A direct path is
 * copied into sun_path; a longer one gets its directory opened
 * (O_PATH|O_DIRECTORY|O_CLOEXEC) and sun_path "/proc/self/fd/N/NAME".
 * Returns 0, or -1 with errno: ENAMETOOLONG or EINVAL for a BAD path, or
 * open's error for the directory.  After bind or connect the caller calls
 * loom_sockaddr_un_done(A), on success and on failure. */
int loom_sockaddr_un(const char *path, loom_sockaddr_un_t *a);

/* Close the directory *A holds, if any; errno is kept.  Idempotent. */
void loom_sockaddr_un_done(loom_sockaddr_un_t *a);

#endif
