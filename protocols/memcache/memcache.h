/*
 * memcache.h - types shared by the memcache module's files: the validated
 * config (memcache_conf.c), the command executor and table (mc_proto.c),
 * the statistics and listing commands (mc_stats.c) and the session glue
 * (memcache.c).
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
    char **prefixes;      /* `publish_prefixes` */
    size_t n_prefixes;
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

typedef struct mc_detail_s mc_detail_t; /* `stats detail` (mc_stats.c) */

/* Everything a command may use: the store, counters, and facts for
 * `stats`.  One per instance. */
typedef struct {
    mc_store_t *store;
    mc_counters_t *ctr;
    time_t started;
    unsigned verbosity;
    unsigned slab_automove; /* `slabs automove` (reported, nothing moves) */
    int detail_on;          /* `stats detail on` */
    mc_detail_t *detail;    /* per-prefix counters; NULL until first used */
} mc_ctx_t;

/* What a command asks of its caller. */
enum {
    MC_EXEC_DONE,
    MC_EXEC_CLOSE, /* close the connection (quit) */
    MC_EXEC_DUMP   /* a listing was started: run mc_dump_step to its end */
};

/* A get key list being answered, possibly across many calls (a long line
 * answered as it arrives, or output back-pressure).  Holds no pointer
 * into the store. */
typedef struct {
    const loom_cmd_t *cmd; /* get, gets, gat, gats; NULL: none under way */
    uint32_t exptime;      /* gat/gats: the new expiry, absolute */
    int check;             /* the keys still have to be checked */
} mc_get_t;

/* `lru_crawler metadump` under way: a position in the store's scan. */
typedef struct {
    uint64_t cursor;
    int active;
} mc_dump_t;

/* The ARG of a command handler (loom_cmd_fn; its CTX is the mc_ctx_t). */
typedef struct {
    mc_req_t *req;
    const char *data; /* storage commands: the data block (bytes + 2) */
    mc_out_t *out;
    mc_dump_t *dump; /* where a listing keeps its place; NULL where none
                      * can be streamed (UDP) */
} mc_call_t;

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

/* Append V in decimal. */
void mc_out_u64(mc_out_t *o, uint64_t v);

/* ---- execution (mc_proto.c) ---- */

/* Run REQ (parsed without error) through its command's handler.  For
 * storage commands DATA holds the data block (req->bytes + 2 bytes); a
 * get answers its whole key list.  DUMP (may be NULL: no listing
 * possible) is where a listing keeps its place.  Returns MC_EXEC_*. */
int mc_exec(mc_ctx_t *x, mc_req_t *req, const char *data, mc_out_t *o,
            mc_dump_t *dump);

/* Start answering the key list of REQ (a get-like command parsed without
 * error) into *G, which then takes keys one at a time with mc_get_key
 * (REQ is not needed any more); "END" is the caller's to send. */
void mc_get_begin(mc_ctx_t *x, const mc_req_t *req, mc_get_t *g);

/* Answer one KEY of the key list G (a VALUE, or nothing on a miss). */
void mc_get_key(mc_ctx_t *x, const mc_get_t *g, loom_slice_t key, mc_out_t *o);

/* ---- statistics and listings (mc_stats.c) ---- */

/* The STAT lines of a plain `stats` (no END) appended to O. */
void mc_stats_general(mc_ctx_t *x, mc_out_t *o);

/* The handlers of stats, slabs and lru_crawler (mc_commands entries). */
int mc_do_stats(const loom_cmd_t *cmd, void *ctx, void *arg);
int mc_do_slabs(const loom_cmd_t *cmd, void *ctx, void *arg);
int mc_do_lru_crawler(const loom_cmd_t *cmd, void *ctx, void *arg);

/* Continue the metadump D into O until O is full or the listing is done
 * ("END" sent, D no longer active); returns 1 when done. */
int mc_dump_step(mc_ctx_t *x, mc_dump_t *d, mc_out_t *o);

/* Count, when `stats detail` is on, a key of a get (HIT: found), of a
 * storage command or of a delete under the key's prefix (the bytes before
 * the first ':'; keys without one are not counted). */
void mc_detail_get(mc_ctx_t *x, loom_slice_t key, int hit);
void mc_detail_set(mc_ctx_t *x, loom_slice_t key);
void mc_detail_del(mc_ctx_t *x, loom_slice_t key);

/* Forget every prefix counter (stats reset; instance stop). */
void mc_detail_free(mc_ctx_t *x);

/* ---- config (memcache_conf.c) ---- */

extern cfg_opt_t mc_conf_opts[];
int mc_configure(cfg_t *sec, void **conf);
void mc_conf_free(void *conf);

#endif
