/*
 * memcache.h - types shared by the memcache module's files: the validated
 * config (memcache_conf.c), the command executor (mc_proto.c) and the
 * session glue (memcache.c).
 */
#ifndef MEMCACHE_H
#define MEMCACHE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "loom_module.h"
#include "mc_parse.h"
#include "mc_store.h"

#define MC_VERSION "1.6.18" /* the memcached protocol level loom speaks */

/* The validated section (configure() output). */
typedef struct {
    size_t memory;        /* `memory`: bytes for items */
    size_t max_item;      /* `max_item_size` */
    unsigned parse_flags; /* MC_PARSE_LAX_KEYS unless `strict_keys` */
} mc_conf_t;

/* Counters the store does not keep. */
typedef struct {
    uint64_t curr_conns, total_conns, bytes_read, bytes_written;
    uint64_t cmd_meta;
} mc_counters_t;

/* Where replies go: a coalescing buffer flushed into a connection (TCP)
 * or kept whole (UDP, tests). */
typedef struct {
    char *buf;
    size_t len, cap;
    loom_conn_t *conn; /* NULL: keep everything in buf */
    int full;          /* the connection asked us to stop (back-pressure) */
    uint64_t written;
} mc_out_t;

/* Everything a command may use: the store, counters, and facts for
 * `stats`. */
typedef struct {
    mc_store_t *store;
    mc_counters_t *ctr;
    time_t started;
    unsigned verbosity;
} mc_ctx_t;

/* What a command asks of its caller. */
enum { MC_EXEC_DONE, MC_EXEC_SUSPEND, MC_EXEC_CLOSE };

/* ---- output (mc_proto.c) ---- */

/* Append LEN bytes; large writes go straight to the connection. */
void mc_out_mem(mc_out_t *o, const void *p, size_t len);

/* Append a NUL-terminated string. */
void mc_out_str(mc_out_t *o, const char *s);

/* Move buffered bytes to the connection (no-op without one). */
void mc_out_flush(mc_out_t *o);

/* Reply LINE plus CRLF unless REQ is noreply (an error line honours
 * noreply too, as in memcached, unless REQ->force). */
void mc_out_line(mc_out_t *o, const mc_req_t *req, const char *line);

/* ---- execution (mc_proto.c) ---- */

/* Run REQ (parsed without error).  For storage commands DATA holds the
 * data block (req->bytes + 2 bytes).  A multi-key get stops early when
 * the output is full: it returns MC_EXEC_SUSPEND with *RESUME the number
 * of keys answered so far (pass it back when the same line runs again).
 * MC_EXEC_CLOSE asks the caller to close the connection (quit). */
int mc_exec(mc_ctx_t *x, mc_req_t *req, const char *data, mc_out_t *o,
            uint32_t *resume);

/* ---- config (memcache_conf.c) ---- */

extern cfg_opt_t mc_conf_opts[];
int mc_configure(cfg_t *sec, void **conf);
void mc_conf_free(void *conf);

#endif
