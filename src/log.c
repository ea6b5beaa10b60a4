/*
 * log.c - the error log: stderr, the journal, or syslog.
 *
 * When stderr is the journal's stream (systemd sets JOURNAL_STREAM to its
 * device and inode), each line goes to journald as a structured entry
 * instead (sd_journal_sendv): MESSAGE, PRIORITY, MODULE and INSTANCE (from
 * WHO, "module/instance"), PEER when the caller knows the client, and
 * SYSLOG_IDENTIFIER=loomd; `journalctl -u loomd MODULE=dns` selects by
 * them.  Anything else (a terminal, a file, a pipe, a loomd without
 * libsystemd) gets the plain lines.
 *
 * The settings are process-wide: there is one error log per process.
 */
#include "loom.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-journal.h>
#endif

static struct {
    loom_log_level_t level;
    int syslog;
    int journal; /* -1: not looked at yet */
} loom_log_cfg = {LOOM_LOG_INFO, 0, -1};

int loom_log_stderr_is_journal(void)
{
#ifdef HAVE_LIBSYSTEMD
    const char *e = getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    struct stat st;
    char tail;

    if (e == NULL || sscanf(e, "%llu:%llu%c", &dev, &ino, &tail) != 2)
        return 0;
    if (fstat(STDERR_FILENO, &st) != 0)
        return 0;
    return (unsigned long long)st.st_dev == dev &&
           (unsigned long long)st.st_ino == ino;
#else
    return 0;
#endif
}

static const char *const loom_level_names[] = {"error", "warn", "info",
                                               "debug"};

void loom_log_setup(loom_log_level_t level, int use_syslog)
{
    if (use_syslog && !loom_log_cfg.syslog)
        openlog("loomd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
    else if (!use_syslog && loom_log_cfg.syslog)
        closelog();
    loom_log_cfg.level = level;
    loom_log_cfg.syslog = use_syslog;
    loom_log_cfg.journal = loom_log_stderr_is_journal();
}

void loom_log_set_level(loom_log_level_t level)
{
    loom_log_cfg.level = level;
}

int loom_log_level_parse(const char *s)
{
    size_t i;

    for (i = 0; i < LOOM_ARRAY_LEN(loom_level_names); i++) {
        if (strcmp(s, loom_level_names[i]) == 0)
            return (int)i;
    }
    return -1;
}

#ifdef HAVE_LIBSYSTEMD
/* One entry for journald; returns 0, or -1 (then the caller prints). */
static int log_journal(int prio, const char *who, const char *peer,
                       const char *msg)
{
    char f_msg[1200], f_prio[16], f_mod[80], f_inst[160], f_peer[160];
    const char *slash = who ? strchr(who, '/') : NULL;
    struct iovec iov[6];
    int n = 0;

#define LOG_IOV(buf, ...)                                                      \
    do {                                                                       \
        int len_ = snprintf(buf, sizeof(buf), __VA_ARGS__);                    \
        iov[n].iov_base = buf;                                                 \
        iov[n].iov_len =                                                       \
            len_ < (int)sizeof(buf) ? (size_t)len_ : sizeof(buf) - 1;          \
        n++;                                                                   \
    } while (0)
    LOG_IOV(f_msg, "MESSAGE=%s: %s", who ? who : "core", msg);
    LOG_IOV(f_prio, "PRIORITY=%d", prio);
    if (slash) {
        LOG_IOV(f_mod, "MODULE=%.*s", (int)(slash - who), who);
        LOG_IOV(f_inst, "INSTANCE=%s", slash + 1);
    } else {
        LOG_IOV(f_mod, "MODULE=%s", who ? who : "core");
    }
    if (peer)
        LOG_IOV(f_peer, "PEER=%s", peer);
#undef LOG_IOV
    iov[n].iov_base = (void *)"SYSLOG_IDENTIFIER=loomd";
    iov[n].iov_len = strlen("SYSLOG_IDENTIFIER=loomd");
    n++;
    return sd_journal_sendv(iov, n) == 0 ? 0 : -1;
}
#endif

/* PEER is for the journal only: plain lines are the message, which names
 * the client where it matters. */
static void log_emit(loom_log_level_t level, const char *who, const char *peer,
                     const char *fmt, va_list ap)
{
    static const int prio[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};
    char msg[1024];

    if (level > loom_log_cfg.level)
        return;
    vsnprintf(msg, sizeof(msg), fmt, ap);
    if (loom_log_cfg.syslog) {
        syslog(prio[level], "%s: %s", who ? who : "core", msg);
        return;
    }
    if (loom_log_cfg.journal < 0)
        loom_log_cfg.journal = loom_log_stderr_is_journal();
#ifdef HAVE_LIBSYSTEMD
    if (loom_log_cfg.journal && log_journal(prio[level], who, peer, msg) == 0)
        return;
#else
    (void)peer;
#endif
    {
        char ts[32];
        time_t now = time(NULL);
        struct tm tm;

        localtime_r(&now, &tm);
        strftime(ts, sizeof(ts), "%Y-%m-%d %H:%M:%S", &tm);
        fprintf(stderr, "%s [%s] %s: %s\n", ts, loom_level_names[level],
                who ? who : "core", msg);
        fflush(stderr);
    }
}

void loom_log(loom_log_level_t level, const char *who, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_emit(level, who, NULL, fmt, ap);
    va_end(ap);
}

void loom_log_peer(loom_log_level_t level, const char *who, const char *peer,
                   const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_emit(level, who, peer, fmt, ap);
    va_end(ap);
}
