/*
 * log.c - the error log: stderr (journald under systemd) or syslog.
 *
 * The settings are process-wide: there is one error log per process.
 */
#include "loom.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

static struct {
    loom_log_level_t level;
    int syslog;
} loom_log_cfg = {LOOM_LOG_INFO, 0};

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

void loom_log(loom_log_level_t level, const char *who, const char *fmt, ...)
{
    static const int prio[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};
    char msg[1024];
    va_list ap;

    if (level > loom_log_cfg.level)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (loom_log_cfg.syslog) {
        syslog(prio[level], "%s: %s", who ? who : "core", msg);
    } else {
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
