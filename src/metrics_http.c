/*
 * metrics_http.c - the built-in `metrics` module: a listener that answers
 * Prometheus scrapes without an http instance,
 *
 *     metrics { listen = "127.0.0.1:9180" }
 *
 * GET (or HEAD) /metrics gets every instance's and the core's samples in
 * the text format 0.0.4; any other path 404, any other method 405, a
 * malformed or oversized request 400.  One request per connection: the
 * answer says Connection: close and the connection closes after it.
 * Parsing is metrics_req.c's (sans I/O, fuzzed).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loom_module.h"
#include "metrics_req.h"

#define METRICS_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Write a whole response: status line, the headers every answer has,
 * EXTRA (header lines or ""), then BODY unless HEAD; then close. */
static void metrics_reply(loom_conn_t *c, int head, const char *status,
                          const char *type, const char *extra, const char *body,
                          size_t len)
{
    loom_conn_printf(c,
                     "HTTP/1.1 %s\r\nServer: loom/%s\r\n"
                     "Content-Type: %s\r\nContent-Length: %zu\r\n"
                     "Cache-Control: no-store\r\n%sConnection: close\r\n\r\n",
                     status, LOOM_VERSION_STRING, type, len, extra);
    if (!head && len)
        loom_conn_write(c, body, len);
    loom_conn_close(c);
}

static void metrics_error(loom_conn_t *c, int head, const char *status,
                          const char *extra)
{
    char body[128];
    int n = snprintf(body, sizeof(body), "%s\n", status);

    metrics_reply(c, head, status, "text/plain; charset=utf-8", extra, body,
                  (size_t)n);
}

static size_t metrics_data(loom_conn_t *c, const char *buf, size_t len)
{
    static const char path[] = "/metrics";
    loom_mreq_t req;
    loom_mreq_status_t st = loom_mreq_parse(buf, len, &req);
    loom_metrics_t *m;
    char *text;
    size_t n;
    int head = req.method == LOOM_MREQ_HEAD;

    if (st == LOOM_MREQ_AGAIN)
        return 0;
    if (st != LOOM_MREQ_OK) {
        metrics_error(c, 0, "400 Bad Request", "");
        return len;
    }
    if (req.method == LOOM_MREQ_OTHER) {
        metrics_error(c, 0, "405 Method Not Allowed", "Allow: GET, HEAD\r\n");
        return len;
    }
    if (req.path_len != sizeof(path) - 1 ||
        memcmp(req.path, path, req.path_len) != 0) {
        metrics_error(c, head, "404 Not Found", "");
        return len;
    }
    m = loom_metrics_collect(loom_instance_server(loom_conn_instance(c)));
    text = loom_metrics_prometheus(m, &n);
    loom_metrics_free(m);
    metrics_reply(c, head, "200 OK", METRICS_TYPE, "", text, n);
    free(text);
    return len;
}

const loom_module_t loom_metrics_module = {
    .abi = LOOM_MODULE_ABI,
    .name = "metrics",
    .flags = LOOM_MODULE_SINGLE,
    .idle_timeout = 30,
    .stream = {.data = metrics_data},
};
