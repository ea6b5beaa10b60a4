/*
 * smtp_fs.h - small blocking file helpers shared by smtp_store.c and
 * smtp_queue.c (private to the SMTP module's storage; worker side: no
 * loom_* except allocation).
 */
#ifndef SMTP_FS_H
#define SMTP_FS_H

#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

/* Create PATH and its missing parents with MODE.  Returns 0, or -1 with a
 * reason naming the directory in ERR. */
int smtp_fs_mkdirs(const char *path, mode_t mode, char *err, size_t errlen);

/* What smtp_fs_write_new does after the write. */
#define SMTP_FS_CLOSE 0 /* close, no sync */
#define SMTP_FS_FSYNC 1 /* fsync, close */
#define SMTP_FS_KEEP 2  /* start writeback (sync_file_range), keep it open */

/* Create PATH (it must not exist, mode 0600) and write IOV/IOVCNT to it
 * in full, then do THEN (above; SMTP_FS_KEEP stores the descriptor in
 * *FD, the caller fsyncs and closes it).  Returns 0, or -1 with ERR (PATH
 * removed again, nothing left open). */
int smtp_fs_write_new(const char *path, const struct iovec *iov, int iovcnt,
                      int then, int *fd, char *err, size_t errlen);

/* fsync the directory DIR.  Returns 0, or -1 with ERR. */
int smtp_fs_sync_dir(const char *dir, char *err, size_t errlen);

/* syncfs(2) the filesystem holding PATH.  Returns 0, or -1 with ERR. */
int smtp_fs_syncfs(const char *path, char *err, size_t errlen);

/* Read the whole regular file PATH into a malloc'd buffer (*LEN bytes;
 * a NUL follows them).  Returns the buffer or NULL with ERR. */
unsigned char *smtp_fs_read(const char *path, size_t *len, char *err,
                            size_t errlen);

/* "A/B" in a malloc'd string (loom_malloc). */
char *smtp_fs_join(const char *a, const char *b);

#endif
