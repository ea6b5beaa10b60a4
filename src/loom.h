/*
 * loom.h - types and conventions shared by the whole daemon.
 *
 * Every exported name starts with loom_; every type ends in _t.  Functions
 * that can fail return one of the LOOM_* codes below unless their comment
 * says otherwise.
 */
#ifndef LOOM_H
#define LOOM_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define LOOM_OK 0
#define LOOM_ERROR (-1)
#define LOOM_AGAIN (-2)
#define LOOM_DECLINED (-3)

#define LOOM_VERSION_STRING "0.1.0"

/* A borrowed run of bytes; never NUL-terminated by contract. */
typedef struct {
    const char *p;
    size_t len;
} loom_slice_t;

typedef struct loom_server_s loom_server_t;
typedef struct loom_module_s loom_module_t;
typedef struct loom_instance_s loom_instance_t;
typedef struct loom_conn_s loom_conn_t;
typedef struct loom_listener_s loom_listener_t;
typedef struct loom_alog_s loom_alog_t;
typedef struct loom_resolver_s loom_resolver_t;

#if defined(__GNUC__)
#define LOOM_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define LOOM_UNUSED __attribute__((unused))
#define LOOM_SENTINEL __attribute__((sentinel))
#else
#define LOOM_PRINTF(f, a)
#define LOOM_UNUSED
#define LOOM_SENTINEL
#endif

#define LOOM_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---- logging (log.c) ---------------------------------------------------- */

typedef enum {
    LOOM_LOG_ERROR = 0,
    LOOM_LOG_WARN = 1,
    LOOM_LOG_INFO = 2,
    LOOM_LOG_DEBUG = 3
} loom_log_level_t;

/* Configure the error log: level and target (stderr when syslog is 0). */
void loom_log_setup(loom_log_level_t level, int syslog);

/* Change the level alone, keeping the target (the control socket's
 * log-level; the next reload sets the configured one again). */
void loom_log_set_level(loom_log_level_t level);

/* Log one line at LEVEL.  WHO names the module and instance ("finger/users")
 * or the core ("core"); it may be NULL for the core. */
void loom_log(loom_log_level_t level, const char *who, const char *fmt, ...)
    LOOM_PRINTF(3, 4);

/* loom_log for a line about one client: PEER (its address, as
 * loom_conn_peer gives it; NULL when unknown) becomes the journal field
 * PEER (plain lines and syslog get the message alone). */
void loom_log_peer(loom_log_level_t level, const char *who, const char *peer,
                   const char *fmt, ...) LOOM_PRINTF(4, 5);

/* Whether stderr is the journal's stream (JOURNAL_STREAM names its device
 * and inode, and loomd has libsystemd): loom_log then sends structured
 * entries to journald instead of plain lines. */
int loom_log_stderr_is_journal(void);

/* Parse "error|warn|info|debug"; returns the level or -1. */
int loom_log_level_parse(const char *s);

/* ---- access logs (alog.c) ----------------------------------------------- */

/* Open (append, create 0640) an access log at PATH; NULL and errno on
 * failure.  Every open log is reopened by loom_alog_reopen_all(). */
loom_alog_t *loom_alog_open(const char *path);

/* Append one formatted line (a newline is added).  Never blocks the caller
 * for long: a single write(2) to a local file. */
void loom_alog_write(loom_alog_t *al, const char *fmt, ...) LOOM_PRINTF(2, 3);

/* Drop a reference; the file is closed with the last one. */
void loom_alog_close(loom_alog_t *al);

/* Reopen every open access log under its path (logrotate: SIGUSR1/SIGHUP).
 * A log that cannot be reopened is logged by name and keeps writing to
 * the file it had.  Returns how many could not be reopened. */
int loom_alog_reopen_all(void);

/* ---- small utilities (util.c) ------------------------------------------- */

/* Allocation that aborts the process on failure: out of memory is not a
 * condition loom tries to survive. */
void *loom_malloc(size_t n);
void *loom_calloc(size_t n, size_t size);
void *loom_realloc(void *p, size_t n);
char *loom_strdup(const char *s);
char *loom_strndup(const char *s, size_t n);

/* Append N bytes at P to the growable buffer *BUF (*LEN bytes used,
 * *CAP allocated; all three zero/NULL to start) and keep a NUL after them.
 * It grows by doubling from 1 KiB, but not past MAX + 1 bytes unless the
 * data needs more (MAX 0: no bound), so a buffer for a body limited to
 * MAX is never allocated larger than it can be. */
void loom_append(char **buf, size_t *len, size_t *cap, const void *p, size_t n,
                 size_t max);

/* Parse a size "64M", "512k", "1G", "1048576" (an optional B after the
 * unit) into *OUT; returns LOOM_OK or LOOM_ERROR. */
int loom_parse_size(const char *s, size_t *out);

/* Seconds since an arbitrary start, from CLOCK_MONOTONIC. */
uint64_t loom_now_sec(void);

/* Read a whole file into a NUL-terminated heap buffer, at most MAX bytes.
 * Returns NULL with errno set (EFBIG when it is larger than MAX). */
char *loom_read_file(const char *path, size_t max, size_t *len_out);

/* Resolve PATH against the directory of the file BASE_FILE names unless it
 * is absolute.  Returns a heap string. */
char *loom_path_resolve(const char *base_file, const char *path);

#endif
