/*
 * main.c - loomd: command line, start-up, privileges, signals.
 *
 * Exit codes: 0 clean stop, 1 configuration or start-up error, 2 usage.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <malloc.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/ssl.h>

#include "config.h"
#include "core.h"

#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#endif

#ifndef LOOM_DEFAULT_CONF
#define LOOM_DEFAULT_CONF "/etc/loom/loom.conf"
#endif
#ifndef LOOM_MODULE_DIR
#define LOOM_MODULE_DIR "/usr/lib/loom"
#endif

typedef struct {
    struct event_base *base;
    loom_server_t *srv;
    const char *conf_file;
    char *pidfile;
    int pid_written;
    int stopping;
    struct event *status_ev; /* STATUS= every few seconds under systemd */
    loom_summary_t summary;
} loomd_t;

static void loomd_notify(const char *state)
{
#ifdef HAVE_LIBSYSTEMD
    sd_notify(0, state);
#else
    (void)state;
#endif
}

/* STATE (READY=1, RELOADING=1, ...) together with STATUS=: WHAT and the
 * server's one-line summary, as `systemctl status` shows it. */
static void loomd_notify_status(loomd_t *d, const char *state, const char *what)
{
    char line[256], msg[400];

    if (getenv("NOTIFY_SOCKET") == NULL || d->srv == NULL)
        return;
    loom_server_summary(d->srv, &d->summary, line, sizeof(line));
    snprintf(msg, sizeof(msg), "%s%sSTATUS=%s%s%s", state ? state : "",
             state ? "\n" : "", what ? what : "", what ? ": " : "", line);
    loomd_notify(msg);
}

static void on_status_timer(evutil_socket_t fd, short what, void *arg)
{
    loomd_t *d = arg;

    (void)fd;
    (void)what;
    if (!d->stopping)
        loomd_notify_status(d, NULL, "serving");
}

static void usage(FILE *f)
{
    fprintf(
        f,
        "usage: loomd [-c FILE] [-t] [-V] [-h] [--daemon]\n"
        "  -c, --config FILE  configuration file (default %s)\n"
        "  -t, --test         check the configuration and exit\n"
        "  -V, --version      print version and modules, then exit\n"
        "  -h, --help         print this help\n"
        "      --daemon       fork into the background, write the pidfile\n",
        LOOM_DEFAULT_CONF);
}

static void print_version(void)
{
    const loom_module_t *const *b = loom_module_builtins();
    DIR *d;
    struct dirent *de;

    printf("loomd %s\n", LOOM_VERSION_STRING);
    printf("built-in modules:");
    for (; *b; b++)
        printf(" %s", (*b)->name);
    printf("\nloadable modules (%s):", LOOM_MODULE_DIR);
    d = opendir(LOOM_MODULE_DIR);
    while (d && (de = readdir(d)) != NULL) {
        size_t n = strlen(de->d_name);

        if (n > 3 && strcmp(de->d_name + n - 3, ".so") == 0)
            printf(" %s", de->d_name);
    }
    if (d)
        closedir(d);
    printf("\nmodule ABI %d, %s, libevent %s\n", LOOM_MODULE_ABI,
           OpenSSL_version(OPENSSL_VERSION), event_get_version());
}

/* Check, before anything is bound, that the user and group settings can
 * be honoured.  Fills *UID and *GID; returns 0 or -1 with a message on
 * stderr. */
static int check_privileges(const loom_config_t *cfg, uid_t *uid, gid_t *gid)
{
    struct passwd *pw;
    struct group *gr;

    if (geteuid() != 0)
        return 0;
    if (!cfg->user_set) {
        fprintf(stderr,
                "loomd: refusing to run as root: set `user` in %s "
                "(user = \"root\" to insist)\n",
                cfg->file);
        return -1;
    }
    pw = getpwnam(cfg->user);
    if (pw == NULL) {
        fprintf(stderr, "loomd: unknown user '%s'\n", cfg->user);
        return -1;
    }
    *uid = pw->pw_uid;
    *gid = pw->pw_gid;
    if (cfg->group) {
        gr = getgrnam(cfg->group);
        if (gr == NULL) {
            fprintf(stderr, "loomd: unknown group '%s'\n", cfg->group);
            return -1;
        }
        *gid = gr->gr_gid;
    }
    return 0;
}

/* Drop root for the configured user and group (see check_privileges);
 * verified.  Returns 0 or -1 with a message on stderr. */
static int drop_privileges(const loom_config_t *cfg, uid_t uid, gid_t gid)
{
    if (geteuid() != 0) {
        if (cfg->user_set)
            loom_log(LOOM_LOG_DEBUG, NULL,
                     "not started as root: user \"%s\" ignored", cfg->user);
        return 0;
    }
    if (uid == 0 && cfg->group == NULL)
        return 0;
    if (setgroups(1, &gid) != 0 || setgid(gid) != 0 || setuid(uid) != 0) {
        fprintf(stderr, "loomd: cannot switch to user %s: %s\n", cfg->user,
                strerror(errno));
        return -1;
    }
    if (uid != 0 && (setuid(0) == 0 || geteuid() == 0)) {
        fprintf(stderr, "loomd: privileges could not be dropped\n");
        return -1;
    }
    loom_log(LOOM_LOG_INFO, NULL, "running as user %s", cfg->user);
    return 0;
}

static int write_pidfile(const char *path)
{
    FILE *f = fopen(path, "w");

    if (f == NULL) {
        fprintf(stderr, "loomd: cannot write pidfile %s: %s\n", path,
                strerror(errno));
        return -1;
    }
    fprintf(f, "%ld\n", (long)getpid());
    fclose(f);
    return 0;
}

/* ---- signals ------------------------------------------------------------ */

static void on_stopped(void *arg)
{
    loomd_t *d = arg;

    event_base_loopbreak(d->base);
}

/* Stop as SIGTERM does, connections getting GRACE seconds (-1: the
 * configured shutdown_grace).  A second request changes nothing. */
static void loomd_stop(void *arg, long grace)
{
    loomd_t *d = arg;

    if (d->stopping)
        return;
    if (grace < 0)
        grace = d->srv->cfg->shutdown_grace;
    d->stopping = 1;
    loomd_notify_status(d, "STOPPING=1", "stopping");
    loom_log(LOOM_LOG_INFO, NULL, "shutting down");
    loom_server_shutdown(d->srv, (unsigned)grace, on_stopped, d);
}

/* Re-read the configuration as SIGHUP does: LOOM_OK, or LOOM_ERROR with
 * the reason ("FILE:LINE: message") in ERR; the old one keeps serving. */
static int loomd_reload(void *arg, char *err, size_t errlen)
{
    loomd_t *d = arg;

    if (d->stopping) {
        snprintf(err, errlen, "loomd is stopping");
        return LOOM_ERROR;
    }
    loomd_notify("RELOADING=1");
    if (loom_server_reload(d->srv, err, errlen) == LOOM_OK) {
        loom_log(LOOM_LOG_INFO, NULL, "configuration reloaded");
        loomd_notify_status(d, "READY=1", "reloaded");
        return LOOM_OK;
    }
    loom_log(LOOM_LOG_ERROR, NULL, "reload failed: %s", err);
    loomd_notify_status(d, "READY=1", "reload failed, old configuration kept");
    return LOOM_ERROR;
}

/* What the control socket asks of the daemon (src/ctl.c). */
static const loom_daemon_hooks_t loomd_hooks = {.reload = loomd_reload,
                                                .stop = loomd_stop};

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    loomd_t *d = arg;
    char err[1024];
    int n;

    (void)what;
    switch (sig) {
    case SIGTERM:
    case SIGINT:
        loomd_stop(d, -1);
        break;
    case SIGHUP:
        if (!d->stopping)
            loomd_reload(d, err, sizeof(err));
        break;
    case SIGUSR1:
        /* Each log that failed has been named; the summary must not
         * claim otherwise. */
        n = loom_alog_reopen_all();
        if (n == 0)
            loom_log(LOOM_LOG_INFO, NULL, "access logs reopened");
        else
            loom_log(LOOM_LOG_ERROR, NULL,
                     "%d access log(s) could not be reopened", n);
        break;
    default:
        break;
    }
}

/* -t: what can be checked without binding -- every module's prepare, on
 * instances that never start.  Returns 0, or -1 with ERR set. */
static int loomd_check(loom_config_t *cfg, char *err, size_t errlen)
{
    struct event_base *base = event_base_new();
    loom_server_t *srv;
    int rc;

    if (base == NULL) {
        snprintf(err, errlen, "loomd: cannot create the event loop");
        return -1;
    }
    srv = loom_server_new(base);
    rc = loom_server_check(srv, cfg, err, errlen) == LOOM_OK ? 0 : -1;
    loom_server_free(srv);
    event_base_free(base);
    return rc;
}

/* Start serving and run the reactor until stopped; returns the exit code.
 * main() frees what it leaves in D. */
static int loomd_serve(loomd_t *d, int daemonize)
{
    static const int sigs[] = {SIGTERM, SIGINT, SIGHUP, SIGUSR1};
    struct event *sigev[LOOM_ARRAY_LEN(sigs)];
    char err[1024];
    uid_t uid = 0;
    gid_t gid = 0;
    loom_config_t *cfg;
    size_t i;

    d->base = event_base_new();
    if (d->base == NULL) {
        fprintf(stderr, "loomd: cannot create the event loop\n");
        return 1;
    }
    cfg = loom_config_load(d->conf_file, NULL, err, sizeof(err));
    if (cfg == NULL) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    /* Settings that must hold before binding anything. */
    if (check_privileges(cfg, &uid, &gid) != 0) {
        loom_config_free(cfg);
        return 1;
    }
    /* Access logs are opened now, as root, and reopened later as the
     * service user: they must be the service user's files. */
    if (geteuid() == 0 && (uid != 0 || cfg->group))
        loom_alog_owner(uid, gid);
    d->srv = loom_server_new(d->base);
    loom_server_set_daemon(d->srv, &loomd_hooks, d);
    /* Sockets passed by systemd (socket activation) are adopted by the
     * listeners whose address they have; the rest are bound. */
    loom_sdsock_collect(d->srv);
    if (loom_server_start(d->srv, cfg, err, sizeof(err)) != LOOM_OK) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    loom_sdsock_report(d->srv);
    if (daemonize) {
        pid_t pid = fork();

        if (pid < 0) {
            fprintf(stderr, "loomd: fork: %s\n", strerror(errno));
            return 1;
        }
        if (pid > 0)
            _exit(0);
        setsid();
        if (event_reinit(d->base) != 0) {
            fprintf(stderr, "loomd: event_reinit failed\n");
            return 1;
        }
    }
    d->pidfile = d->srv->cfg->pidfile
                     ? loom_strdup(d->srv->cfg->pidfile)
                     : (daemonize ? loom_strdup("/run/loomd.pid") : NULL);
    if (d->pidfile) {
        if (write_pidfile(d->pidfile) != 0)
            return 1;
        d->pid_written = 1;
    }
    if (drop_privileges(d->srv->cfg, uid, gid) != 0)
        return 1;
    for (i = 0; i < LOOM_ARRAY_LEN(sigs); i++) {
        sigev[i] = evsignal_new(d->base, sigs[i], on_signal, d);
        event_add(sigev[i], NULL);
    }
    {
        unsigned n = 0;
        loom_listener_t *ls;

        for (ls = d->srv->listeners; ls; ls = ls->next)
            n++;
        loom_log(LOOM_LOG_INFO, NULL, "ready (loomd %s, pid %ld, %u listeners)",
                 LOOM_VERSION_STRING, (long)getpid(), n);
    }
    loomd_notify_status(d, "READY=1", "ready");
    if (getenv("NOTIFY_SOCKET")) {
        struct timeval every = {5, 0};

        d->status_ev = event_new(d->base, -1, EV_PERSIST, on_status_timer, d);
        event_add(d->status_ev, &every);
    }

    event_base_dispatch(d->base);

    if (d->status_ev)
        event_free(d->status_ev);
    for (i = 0; i < LOOM_ARRAY_LEN(sigs); i++)
        event_free(sigev[i]);
    return 0;
}

/* glibc trims the heap top back to the kernel once more than 128 KiB of
 * it is free, and grows it again on the next allocation.  A reactor turn
 * that writes to many connections allocates an output chain for each
 * (about 1 KiB, 200 KiB for a channel of 200) and frees them all once
 * sent: with the default every such turn cost brk calls both ways (in the
 * irc fan-out benchmark, one brk per 73 deliveries, a third of loomd's
 * system time).  Keep up to 4 MiB of free heap top and grow it 1 MiB at
 * a time; allocations above 4 MiB still get their own mapping. */
static void tune_malloc(void)
{
#ifdef M_TRIM_THRESHOLD
    mallopt(M_TRIM_THRESHOLD, 4 << 20);
    mallopt(M_TOP_PAD, 1 << 20);
    mallopt(M_MMAP_THRESHOLD, 4 << 20);
#endif
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"test", no_argument, NULL, 't'},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {"daemon", no_argument, NULL, 'd'},
        {NULL, 0, NULL, 0}};
    loomd_t d;
    char err[1024];
    int opt, test = 0, daemonize = 0, rc;

    tune_malloc();
    memset(&d, 0, sizeof(d));
    d.conf_file = LOOM_DEFAULT_CONF;
    while ((opt = getopt_long(argc, argv, "c:tVh", longopts, NULL)) != -1) {
        switch (opt) {
        case 'c':
            d.conf_file = optarg;
            break;
        case 't':
            test = 1;
            break;
        case 'V':
            print_version();
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        case 'd':
            daemonize = 1;
            break;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "loomd: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);

    if (test) {
        /* What the start checks before binding, -t checks too (the load
         * runs loom_config_check). */
        loom_config_t *cfg =
            loom_config_load(d.conf_file, NULL, err, sizeof(err));
        uid_t uid;
        gid_t gid;

        if (cfg == NULL) {
            fprintf(stderr, "%s\n", err);
            return 1;
        }
        if (check_privileges(cfg, &uid, &gid) != 0) {
            loom_config_free(cfg);
            return 1;
        }
        rc = loomd_check(cfg, err, sizeof(err));
        loom_config_free(cfg);
        if (rc != 0) {
            fprintf(stderr, "%s\n", err);
            return 1;
        }
        printf("configuration %s is ok\n", d.conf_file);
        return 0;
    }

    rc = loomd_serve(&d, daemonize);
    if (d.srv)
        loom_server_free(d.srv);
    if (d.pidfile) {
        if (d.pid_written)
            unlink(d.pidfile);
        free(d.pidfile);
    }
    if (d.base)
        event_base_free(d.base);
    if (rc == 0)
        loom_log(LOOM_LOG_INFO, NULL, "stopped");
    return rc;
}
