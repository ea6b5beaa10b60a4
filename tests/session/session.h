/*
 * session.h - the harness every session test shares (and the h2 fuzz
 * target): a loom server started from a config text over a temporary
 * directory of files, modules driven over the in-memory transport
 * (src/conn_mem.c), and the checks they all make.
 *
 *   environment  ses_start / ses_stop (or ses_setup / ses_teardown as a
 *                cmocka group fixture), ses_instance
 *   the reactor  ses_run (one turn), ses_settle (until nothing is left)
 *   input        ses_conn, ses_feed, ses_feed_pieces, ses_shutdown
 *   output       ses_output, ses_expect_output, ses_expect_closed,
 *                ses_expect_ended, ses_show
 *   scripts      ses_talk (one connection, input cut as asked),
 *                ses_same_splits / ses_expect_splits (the same output
 *                whole, split in two at every byte, 7 and 1 bytes at a
 *                time)
 *   back-pressure, pairs  ses_window, ses_consume, ses_pair
 *
 * Header-only (static inline functions: each program uses what it needs).
 * Failures go through cmocka's fail_msg when cmocka.h is included first,
 * else to stderr and abort() (the fuzz target).
 */
#ifndef LOOM_TEST_SESSION_H
#define LOOM_TEST_SESSION_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#include "loom_conn.h"
#include "loom_metrics.h"
#include "server.h"

#ifdef fail_msg
#define SES_FAIL(...) fail_msg(__VA_ARGS__)
#define SES_PRINT(...) print_message(__VA_ARGS__)
#else
#define SES_FAIL(...)                                                          \
    do {                                                                       \
        fprintf(stderr, __VA_ARGS__);                                          \
        fprintf(stderr, "\n");                                                 \
        abort();                                                               \
    } while (0)
#define SES_PRINT(...) fprintf(stderr, __VA_ARGS__)
#endif

/* A string literal and its length, for (buf, len) arguments. */
#define SES_S(lit) (lit), sizeof(lit) - 1

/* ---- the environment ----------------------------------------------------- */

/* A file made in the temporary directory: NAME relative to it (its
 * directories are made as needed). */
typedef struct {
    const char *name;
    const void *data;
    size_t len;
} ses_file_t;

/* A ses_file_t holding the string literal TEXT. */
#define SES_TEXT(name, text)                                                   \
    {                                                                          \
        name, text, sizeof(text) - 1                                           \
    }

/* What to start.  CONF is the config text; every "@DIR@" in it becomes the
 * temporary directory.  TMPL ("/tmp/name.XXXXXX") asks for that directory,
 * holding the NFILES FILES (kept by pointer until ses_stop); NULL: none.
 * MODULE and NAME, when set, name the instance ses_env_t.inst points to. */
typedef struct {
    const char *conf;
    const char *module, *name;
    const char *tmpl;
    const ses_file_t *files;
    size_t nfiles;
} ses_spec_t;

typedef struct {
    struct event_base *base;
    loom_server_t *srv;
    loom_instance_t *inst; /* the spec's MODULE NAME, if given */
    char dir[64];          /* the temporary directory, "" if none */
    const ses_file_t *files;
    size_t nfiles;
} ses_env_t;

/* Make every directory above DIR/NAME. */
static inline int ses_mkdirs(const char *dir, const char *name)
{
    char path[512];
    const char *p;

    for (p = strchr(name, '/'); p; p = strchr(p + 1, '/')) {
        snprintf(path, sizeof(path), "%s/%.*s", dir, (int)(p - name), name);
        if (mkdir(path, 0755) != 0 && access(path, F_OK) != 0)
            return -1;
    }
    return 0;
}

static inline int ses_write_file(const char *dir, const ses_file_t *f)
{
    char path[512];
    FILE *fp;

    if (ses_mkdirs(dir, f->name) != 0)
        return -1;
    snprintf(path, sizeof(path), "%s/%s", dir, f->name);
    fp = fopen(path, "wb");
    if (fp == NULL)
        return -1;
    if (f->len && fwrite(f->data, 1, f->len, fp) != f->len) {
        fclose(fp);
        return -1;
    }
    return fclose(fp) == 0 ? 0 : -1;
}

/* SRC with every "@DIR@" replaced by DIR (caller frees). */
static inline char *ses_conf_text(const char *src, const char *dir)
{
    size_t n = 0, dl = strlen(dir);
    const char *p;
    char *out, *o;

    for (p = src; (p = strstr(p, "@DIR@")) != NULL; p += 5)
        n++;
    out = malloc(strlen(src) + n * dl + 1);
    if (out == NULL)
        return NULL;
    for (o = out, p = src; *p;) {
        if (strncmp(p, "@DIR@", 5) == 0) {
            memcpy(o, dir, dl);
            o += dl;
            p += 5;
        } else {
            *o++ = *p++;
        }
    }
    *o = '\0';
    return out;
}

/* Free the server and remove the directory with its files. */
static inline void ses_stop(ses_env_t *e)
{
    char path[512];
    size_t i;

    if (e->srv)
        loom_server_free(e->srv);
    if (e->base)
        event_base_free(e->base);
    e->srv = NULL;
    e->base = NULL;
    e->inst = NULL;
    if (e->dir[0] == '\0')
        return;
    for (i = e->nfiles; i-- > 0;) {
        const char *name = e->files[i].name, *p;

        snprintf(path, sizeof(path), "%s/%s", e->dir, name);
        unlink(path);
        /* its directories, deepest first; fails while one holds files */
        for (p = name + strlen(name); p > name; p--) {
            if (*p != '/')
                continue;
            snprintf(path, sizeof(path), "%s/%.*s", e->dir, (int)(p - name),
                     name);
            rmdir(path);
        }
    }
    rmdir(e->dir);
    e->dir[0] = '\0';
}

/* Start SPEC into E (zeroed here).  Returns 0, or -1 with the reason
 * printed (everything made so far is undone). */
static inline int ses_start(ses_env_t *e, const ses_spec_t *spec)
{
    char err[512] = "", *conf;
    size_t i;

    memset(e, 0, sizeof(*e));
    if (spec->tmpl) {
        snprintf(e->dir, sizeof(e->dir), "%s", spec->tmpl);
        if (mkdtemp(e->dir) == NULL) {
            SES_PRINT("# mkdtemp %s failed\n", spec->tmpl);
            e->dir[0] = '\0';
            return -1;
        }
        e->files = spec->files;
        e->nfiles = spec->nfiles;
        for (i = 0; i < spec->nfiles; i++) {
            if (ses_write_file(e->dir, &spec->files[i]) != 0) {
                SES_PRINT("# writing %s failed\n", spec->files[i].name);
                ses_stop(e);
                return -1;
            }
        }
    }
    conf = ses_conf_text(spec->conf, e->dir);
    e->base = event_base_new();
    e->srv = loom_server_new(e->base);
    if (conf == NULL ||
        loom_server_start_text(e->srv, conf, err, sizeof(err)) != LOOM_OK) {
        SES_PRINT("# start failed: %s\n", err);
        free(conf);
        ses_stop(e);
        return -1;
    }
    free(conf);
    if (spec->module) {
        e->inst = loom_server_instance(e->srv, spec->module, spec->name);
        if (e->inst == NULL) {
            SES_PRINT("# no %s \"%s\" instance\n", spec->module, spec->name);
            ses_stop(e);
            return -1;
        }
    }
    return 0;
}

/* The instance NAME of MODULE; fails the test when there is none. */
static inline loom_instance_t *ses_instance(ses_env_t *e, const char *module,
                                            const char *name)
{
    loom_instance_t *inst = loom_server_instance(e->srv, module, name);

    if (inst == NULL)
        SES_FAIL("no %s \"%s\" instance", module, name);
    return inst;
}

#ifdef fail_msg
/* A cmocka group fixture: *STATE becomes a zeroed struct of SIZE bytes
 * whose first member is a ses_env_t, started from SPEC (a test's own
 * env_t, with its instances and whatever else it keeps). */
static inline int ses_setup_size(void **state, const ses_spec_t *spec,
                                 size_t size)
{
    ses_env_t *e = calloc(1, size);

    if (e == NULL || ses_start(e, spec) != 0) {
        free(e);
        return -1;
    }
    *state = e;
    return 0;
}

/* The same, *STATE a ses_env_t. */
static inline int ses_setup(void **state, const ses_spec_t *spec)
{
    return ses_setup_size(state, spec, sizeof(ses_env_t));
}

/* Stop and free what ses_setup or ses_setup_size made. */
static inline int ses_teardown(void **state)
{
    ses_env_t *e = *state;

    ses_stop(e);
    free(e);
    return 0;
}
#endif

/* ---- the reactor --------------------------------------------------------- */

/* One non-blocking turn of the event loop. */
static inline void ses_run(ses_env_t *e)
{
    event_base_loop(e->base, EVLOOP_NONBLOCK);
}

/* Run the loop until it is quiet: three turns in a row that leave no
 * event active (deferred work, readiness of in-memory connections,
 * loom_defer calls, timers already due).  Timers not yet due do not
 * count.  A loop that never quiets fails the test. */
static inline void ses_settle(ses_env_t *e)
{
    int quiet = 0, i;

    for (i = 0; i < 1000000 && quiet < 3; i++) {
        event_base_loop(e->base, EVLOOP_NONBLOCK);
        if (event_base_get_num_events(e->base, EVENT_BASE_COUNT_ACTIVE) == 0)
            quiet++;
        else
            quiet = 0;
    }
    if (quiet < 3)
        SES_FAIL("the event loop never quiets down");
}

/* ---- metrics ------------------------------------------------------------ */

/* The value of the sample written SERIES ("name{labels}", exactly as the
 * Prometheus text has it) in a fresh collection of SRV's metrics, or -1
 * when there is no such sample. */
static inline double ses_metric(loom_server_t *srv, const char *series)
{
    loom_metrics_t *m = loom_metrics_collect(srv);
    char *text = loom_metrics_prometheus(m, NULL);
    size_t n = strlen(series);
    double v = -1;

    for (const char *p = text; p && *p;) {
        const char *nl = strchr(p, '\n');

        if (strncmp(p, series, n) == 0 && p[n] == ' ') {
            v = strtod(p + n + 1, NULL);
            break;
        }
        p = nl ? nl + 1 : NULL;
    }
    free(text);
    loom_metrics_free(m);
    return v;
}

/* ---- input and output ---------------------------------------------------- */

/* Print P with CR, LF and other control bytes visible (at most 1500). */
static inline void ses_show(const char *what, const void *vp, size_t len)
{
    const unsigned char *p = vp;
    size_t i;

    SES_PRINT("# %s (%zu bytes): ", what, len);
    for (i = 0; i < len && i < 1500; i++) {
        if (p[i] == '\r')
            SES_PRINT("\\r");
        else if (p[i] == '\n')
            SES_PRINT("\\n");
        else if (p[i] < 0x20 || p[i] >= 0x7f || p[i] == '\\')
            SES_PRINT("\\x%02x", p[i]);
        else
            SES_PRINT("%c", p[i]);
    }
    SES_PRINT("%s\n", len > 1500 ? "..." : "");
}

/* A fresh in-memory connection of INST (E's own when NULL), settled. */
static inline loom_conn_t *ses_conn(ses_env_t *e, loom_instance_t *inst)
{
    loom_conn_t *c = loom_mem_conn_new(inst ? inst : e->inst);

    if (c == NULL)
        SES_FAIL("no in-memory connection");
    ses_settle(e);
    return c;
}

/* Feed LEN bytes (which must be accepted) and settle. */
static inline void ses_feed(ses_env_t *e, loom_conn_t *c, const void *p,
                            size_t len)
{
    if (loom_mem_feed(c, p, len) != LOOM_OK)
        SES_FAIL("feeding %zu bytes: the connection is closed", len);
    ses_settle(e);
}

/* Feed IN cut at SPLIT (if non-zero), else in pieces of PIECE bytes (0:
 * at once), settling after each; stops, as a client would, once C is
 * closed.  Returns the number of bytes left unfed. */
static inline size_t ses_feed_pieces(ses_env_t *e, loom_conn_t *c,
                                     const void *in, size_t len, size_t piece,
                                     size_t split)
{
    const char *p = in;
    size_t off = 0;

    while (off < len) {
        size_t n = len - off;

        if (split)
            n = off < split ? split - off : len - off;
        else if (piece && n > piece)
            n = piece;
        if (loom_mem_closed(c))
            break;
        ses_feed(e, c, p + off, n);
        off += n;
    }
    return len - off;
}

/* The peer finishes sending; settle. */
static inline void ses_shutdown(ses_env_t *e, loom_conn_t *c)
{
    if (loom_mem_shutdown(c) != LOOM_OK)
        SES_FAIL("shutdown of a finalized connection");
    ses_settle(e);
}

/* C's output so far. */
static inline const char *ses_output(loom_conn_t *c, size_t *len)
{
    return loom_mem_output(c, len);
}

/* C's output is exactly WANT (N bytes). */
static inline void ses_expect_output(loom_conn_t *c, const void *want, size_t n)
{
    size_t len = 0;
    const char *out = loom_mem_output(c, &len);

    if (len != n || (n && memcmp(out, want, n) != 0)) {
        ses_show("got", out, len);
        ses_show("want", want, n);
        SES_FAIL("output differs (%zu bytes, want %zu)", len, n);
    }
}

/* C is closed (or closing), or not. */
static inline void ses_expect_closed(loom_conn_t *c, int closed)
{
    if (!loom_mem_closed(c) != !closed)
        SES_FAIL("connection %s, want %s", closed ? "open" : "closed",
                 closed ? "closed" : "open");
}

/* C is finalized (its output complete, the peer reads end of file), or
 * not. */
static inline void ses_expect_ended(loom_conn_t *c, int ended)
{
    if (!loom_mem_ended(c) != !ended)
        SES_FAIL("connection %s, want %s", ended ? "live" : "finalized",
                 ended ? "finalized" : "live");
}

/* ---- scripts ------------------------------------------------------------- */

/* What one connection answered: its whole output (NUL-terminated copy)
 * and whether it was closed. */
typedef struct {
    char *p;
    size_t len;
    int closed;
} ses_reply_t;

/* Talk to INST (E's own when NULL) over a fresh connection: IN fed as
 * ses_feed_pieces does, then the output.  Caller frees .p. */
static inline ses_reply_t ses_talk(ses_env_t *e, loom_instance_t *inst,
                                   const void *in, size_t len, size_t piece,
                                   size_t split)
{
    loom_conn_t *c = ses_conn(e, inst);
    ses_reply_t r = {NULL, 0, 0};
    const char *out;

    ses_feed_pieces(e, c, in, len, piece, split);
    ses_settle(e);
    out = loom_mem_output(c, &r.len);
    r.p = malloc(r.len + 1);
    if (r.p == NULL)
        SES_FAIL("out of memory");
    if (r.len)
        memcpy(r.p, out, r.len);
    r.p[r.len] = '\0';
    r.closed = loom_mem_closed(c);
    loom_mem_conn_free(c);
    return r;
}

/* Rewrites a reply in place before replies are compared (blanks values
 * that change between runs, such as dates). */
typedef void (*ses_filter_t)(ses_reply_t *r);

static inline ses_reply_t ses_talk_f(ses_env_t *e, loom_instance_t *inst,
                                     const void *in, size_t len, size_t piece,
                                     size_t split, ses_filter_t filter)
{
    ses_reply_t r = ses_talk(e, inst, in, len, piece, split);

    if (filter)
        filter(&r);
    return r;
}

/* In R, replace what follows each occurrence of KEY with WITH: the bytes
 * up to the next CR, or (DIGITS set) the run of decimal digits.  For
 * filters that make values which change between talks comparable
 * (ses_blank(r, "\r\nDate: ", "<date>", 0)). */
static inline void ses_blank(ses_reply_t *r, const char *key, const char *with,
                             int digits)
{
    size_t nk = strlen(key), nw = strlen(with), i, o, hits = 0;
    char *p;

    for (i = 0; i + nk < r->len; i++)
        hits += memcmp(r->p + i, key, nk) == 0;
    p = malloc(r->len + hits * nw + 1);
    if (p == NULL)
        SES_FAIL("out of memory");
    for (i = 0, o = 0; i < r->len;) {
        if (r->len - i > nk && memcmp(r->p + i, key, nk) == 0) {
            memcpy(p + o, key, nk);
            memcpy(p + o + nk, with, nw);
            o += nk + nw;
            i += nk;
            while (i < r->len && (digits ? r->p[i] >= '0' && r->p[i] <= '9'
                                         : r->p[i] != '\r'))
                i++;
            continue;
        }
        p[o++] = r->p[i++];
    }
    free(r->p);
    r->p = p;
    r->len = o;
    r->p[o] = '\0';
}

/* Expected output, built up with ses_want_add. */
typedef struct {
    char p[16384];
    size_t len;
} ses_want_t;

static inline void ses_want_add(ses_want_t *w, const char *fmt, ...)
    LOOM_PRINTF(2, 3);
static inline void ses_want_add(ses_want_t *w, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(w->p + w->len, sizeof(w->p) - w->len, fmt, ap);
    va_end(ap);
    if (n <= 0 || (size_t)n >= sizeof(w->p) - w->len)
        SES_FAIL("expected output does not fit");
    w->len += (size_t)n;
}

static inline int ses_same_reply(const ses_reply_t *a, const ses_reply_t *b)
{
    return a->len == b->len && memcmp(a->p, b->p, a->len) == 0 &&
           a->closed == b->closed;
}

/* R (fed as HOW) must equal WHOLE; R is freed. */
static inline void ses_check_same(const ses_reply_t *whole, ses_reply_t *r,
                                  const void *in, size_t len, const char *how)
{
    if (!ses_same_reply(r, whole)) {
        ses_show("input", in, len);
        ses_show("whole", whole->p, whole->len);
        ses_show(how, r->p, r->len);
        SES_FAIL("%s: different output (closed %d, whole %d)", how, r->closed,
                 whole->closed);
    }
    free(r->p);
}

/* IN must give the same output (FILTER applied) and the same closed state
 * however it is fed: at once, split in two at every byte, seven bytes at
 * a time, one byte at a time.  Returns the reply to the single feed
 * (caller frees .p). */
static inline ses_reply_t ses_same_splits(ses_env_t *e, loom_instance_t *inst,
                                          const void *in, size_t len,
                                          ses_filter_t filter)
{
    ses_reply_t whole = ses_talk_f(e, inst, in, len, 0, 0, filter), r;
    char how[64];
    size_t k;

    for (k = 1; k < len; k++) {
        r = ses_talk_f(e, inst, in, len, 0, k, filter);
        snprintf(how, sizeof(how), "split at byte %zu", k);
        ses_check_same(&whole, &r, in, len, how);
    }
    r = ses_talk_f(e, inst, in, len, 7, 0, filter);
    ses_check_same(&whole, &r, in, len, "seven bytes at a time");
    r = ses_talk_f(e, inst, in, len, 1, 0, filter);
    ses_check_same(&whole, &r, in, len, "one byte at a time");
    return whole;
}

/* IN must give exactly WANT (WLEN bytes) and leave the connection closed
 * or not (CLOSED), fed in every way ses_same_splits feeds it. */
static inline void ses_expect_splits(ses_env_t *e, loom_instance_t *inst,
                                     const void *in, size_t len,
                                     const void *want, size_t wlen, int closed)
{
    ses_reply_t r = ses_same_splits(e, inst, in, len, NULL);

    if (r.len != wlen || memcmp(r.p, want, wlen) != 0 || r.closed != closed) {
        ses_show("input", in, len);
        ses_show("got", r.p, r.len);
        ses_show("want", want, wlen);
        free(r.p);
        SES_FAIL("wrong reply (closed %d, want %d)", r.closed, closed);
    }
    free(r.p);
}

/* ---- back-pressure and pairs --------------------------------------------- */

/* The peer accepts BYTES more of C's output from now on; settle. */
static inline void ses_window(ses_env_t *e, loom_conn_t *c, size_t bytes)
{
    loom_mem_set_window(c, bytes);
    ses_settle(e);
}

/* The peer reads N more bytes of C's output; settle. */
static inline void ses_consume(ses_env_t *e, loom_conn_t *c, size_t n)
{
    loom_mem_consume(c, n);
    ses_settle(e);
}

/* A client connection driven by H (data DATA) joined back to back with a
 * fresh server connection of INST (E's own when NULL), stored in *SERVER;
 * settled.  Free both with loom_mem_conn_free. */
static inline loom_conn_t *ses_pair(ses_env_t *e, loom_instance_t *inst,
                                    const loom_handler_t *h, void *data,
                                    loom_conn_t **server)
{
    loom_conn_t *s = loom_mem_conn_new(inst ? inst : e->inst);
    loom_conn_t *c = loom_mem_conn_new_handler(e->srv, h, data);

    if (s == NULL || c == NULL || loom_mem_join(c, s) != LOOM_OK)
        SES_FAIL("cannot join a pair");
    *server = s;
    ses_settle(e);
    return c;
}

#endif
