/*
 * http_fixture.h - what the HTTP session tests and the h2 fuzz target
 * share: a loom server started from a config text whose http instance
 * "web" serves a document tree made in a temporary directory, and a way to
 * let the reactor finish deferred work on an in-memory connection.
 *
 * Header-only (static functions): each test program includes it once.
 */
#ifndef HTTP_FIXTURE_H
#define HTTP_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#include "loom_conn.h"
#include "server.h"

/* A file of the tree: NAME under www/ (at most one directory level). */
typedef struct {
    const char *name;
    const void *data;
    size_t len;
} hfx_file_t;

/* An hfx_file_t holding the string literal TEXT. */
#define HFX_TEXT(name, text)                                                   \
    {                                                                          \
        name, text, sizeof(text) - 1                                           \
    }

typedef struct {
    struct event_base *base;
    loom_server_t *srv;
    loom_instance_t *web; /* http "web" */
    char dir[64];         /* the temporary directory; www/ below it */
    const hfx_file_t *files;
    size_t nfiles;
} hfx_t;

static void hfx_path(const hfx_t *x, char *buf, size_t cap, const char *name,
                     size_t namelen)
{
    snprintf(buf, cap, "%s/www/%.*s", x->dir, (int)namelen, name);
}

/* Write F under X's www/, making its directory first. */
static int hfx_write(const hfx_t *x, const hfx_file_t *f)
{
    const char *slash = strchr(f->name, '/');
    char path[256];
    FILE *fp;

    if (slash) {
        hfx_path(x, path, sizeof(path), f->name, (size_t)(slash - f->name));
        mkdir(path, 0755);
    }
    hfx_path(x, path, sizeof(path), f->name, strlen(f->name));
    fp = fopen(path, "wb");
    if (fp == NULL)
        return -1;
    if (f->len && fwrite(f->data, 1, f->len, fp) != f->len) {
        fclose(fp);
        return -1;
    }
    return fclose(fp) == 0 ? 0 : -1;
}

/* Make a directory from TEMPLATE ("/tmp/name.XXXXXX") holding www/ with
 * the N FILES (kept by pointer until hfx_stop), start a server on CONF_FMT
 * (its one "%s" becomes the directory) and find its http "web" instance.
 * Returns 0, or -1 with a reason in ERR. */
static int hfx_start(hfx_t *x, const char *tmpl, const hfx_file_t *files,
                     size_t n, const char *conf_fmt, char *err, size_t errlen)
{
    char www[128], conf[4096];
    size_t i;

    memset(x, 0, sizeof(*x));
    x->files = files;
    x->nfiles = n;
    snprintf(x->dir, sizeof(x->dir), "%s", tmpl);
    if (mkdtemp(x->dir) == NULL) {
        snprintf(err, errlen, "mkdtemp %s failed", tmpl);
        return -1;
    }
    snprintf(www, sizeof(www), "%s/www", x->dir);
    if (mkdir(www, 0755) != 0) {
        snprintf(err, errlen, "mkdir %s failed", www);
        return -1;
    }
    for (i = 0; i < n; i++) {
        if (hfx_write(x, &files[i]) != 0) {
            snprintf(err, errlen, "writing %s failed", files[i].name);
            return -1;
        }
    }
    snprintf(conf, sizeof(conf), conf_fmt, x->dir);
    x->base = event_base_new();
    x->srv = loom_server_new(x->base);
    if (loom_server_start_text(x->srv, conf, err, errlen) != LOOM_OK)
        return -1;
    x->web = loom_server_instance(x->srv, "http", "web");
    if (x->web == NULL) {
        snprintf(err, errlen, "no http \"web\" instance");
        return -1;
    }
    return 0;
}

/* Free the server and remove the tree. */
static void hfx_stop(hfx_t *x)
{
    char path[256];
    size_t i;

    if (x->srv)
        loom_server_free(x->srv);
    if (x->base)
        event_base_free(x->base);
    x->srv = NULL;
    x->base = NULL;
    for (i = x->nfiles; i-- > 0;) {
        const char *name = x->files[i].name, *slash = strchr(name, '/');

        hfx_path(x, path, sizeof(path), name, strlen(name));
        unlink(path);
        if (slash) { /* fails while the directory still holds files */
            hfx_path(x, path, sizeof(path), name, (size_t)(slash - name));
            rmdir(path);
        }
    }
    hfx_path(x, path, sizeof(path), "", 0);
    rmdir(path);
    rmdir(x->dir);
}

/* Let the reactor run deferred work until C's output stops growing. */
static void hfx_settle(hfx_t *x, loom_conn_t *c)
{
    size_t len = 0, before;
    int quiet = 0, i;

    loom_mem_output(c, &len);
    for (i = 0; i < 100000 && quiet < 3; i++) {
        before = len;
        event_base_loop(x->base, EVLOOP_NONBLOCK);
        loom_mem_output(c, &len);
        quiet = len == before ? quiet + 1 : 0;
    }
}

#endif
