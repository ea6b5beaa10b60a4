/*
 * http.h - the HTTP module's request model, shared by every HTTP version.
 *
 * A codec (h1.c for HTTP/1.1; HTTP/2 adds another) turns bytes into an
 * http_req_t and calls http_process().  Routing picks the virtual host and
 * location, and the location's handler answers through the output API
 * below (http_resp_*), which ends in the codec's finalizer: an
 * http_proto_t vtable that knows how to put a status line, a header block,
 * body bytes or a file region on the wire and what to do when the response
 * is complete.  No handler knows which HTTP version it serves.
 *
 *   codec --fills--> http_req_t --http_process()--> route --> handler
 *   handler --http_resp_*()--> output layer --http_proto_t--> codec
 *
 * Request bodies flow the other way: the codec calls http_req_body() with
 * each piece it decodes; a handler that wants the body sets r->on_body.
 */
#ifndef HTTP_H
#define HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>

#include "h1_parse.h"
#include "http_util.h"

#include "loom_module.h"
#include "loom_service.h"

typedef struct http_req_s http_req_t;
typedef struct http_conf_s http_conf_t;
typedef struct http_location_s http_location_t;
typedef struct http_vhost_s http_vhost_t;
typedef struct http_instance_s http_instance_t;

/* ---- the finalizer a codec provides ------------------------------------- */

typedef struct {
    const char *name; /* "HTTP/1.1", "HTTP/2" */
    /* Put the status line / HEADERS frame on the wire: r->status,
     * r->resp_headers (already formatted "Name: value\r\n" lines), and
     * r->resp_length (-1: unknown, the codec delimits the body itself).
     * The codec adds Date, Server and its own framing fields.  Returns
     * LOOM_OK / LOOM_AGAIN / LOOM_ERROR as loom_conn_write. */
    int (*send_head)(http_req_t *r);
    /* Body bytes (never called for HEAD or bodiless statuses). */
    int (*send_body)(http_req_t *r, const void *p, size_t len);
    /* A file region with zero copy, taking ownership of FD; LOOM_DECLINED
     * (FD untouched) when the transport cannot (TLS, HTTP/2): the output
     * layer then reads the file in bounded pieces through send_body. */
    int (*send_file)(http_req_t *r, int fd, off_t off, size_t len);
    /* The response is complete (the codec writes its terminator, logs
     * nothing, and goes on to the next request or closes). */
    void (*finish)(http_req_t *r);
    /* Stop / restart delivery of request body bytes (back-pressure from a
     * handler that forwards the body elsewhere). */
    void (*pause_body)(http_req_t *r, int pause);
    /* Abandon a response that cannot be completed (HTTP/1.1 drops the
     * connection, HTTP/2 resets the stream).  R stays valid until the
     * caller returns to the codec. */
    void (*reset)(http_req_t *r);
    /* Body bytes by reference (NULL: through send_body, one copy): the
     * codec keeps a reference to B until the bytes are out. */
    int (*send_buf)(http_req_t *r, loom_buf_t *b);
    /* Response bytes this request has queued and not yet sent (HTTP/1.1:
     * the connection's output; HTTP/2: the stream's buffer). */
    size_t (*pending)(http_req_t *r);
} http_proto_t;

/* ---- the request -------------------------------------------------------- */

enum {
    HTTP_M_OTHER = 0,
    HTTP_M_GET,
    HTTP_M_HEAD,
    HTTP_M_POST,
    HTTP_M_PUT,
    HTTP_M_DELETE,
    HTTP_M_OPTIONS,
    HTTP_M_PATCH,
    HTTP_M_TRACE,
    HTTP_M_CONNECT
};

/* r->flags */
#define HTTP_RF_HEAD_SENT 0x01 /* send_head done */
#define HTTP_RF_DONE 0x02      /* http_resp_end called */
#define HTTP_RF_BODY_DONE 0x04 /* the whole request body was delivered */
#define HTTP_RF_CLOSE 0x08     /* close the connection after this one */
#define HTTP_RF_SECURE 0x10    /* came over TLS */
#define HTTP_RF_ABORTED 0x20   /* the connection went away */

#define HTTP_RESP_FIELDS 16 /* response lines http_req_t indexes */

/* A request header as the codec delivered it (names lowercase for HTTP/2,
 * as sent for HTTP/1.1: compare case-insensitively). */
typedef h1_field_t http_field_t;

/* State of a file being sent in bounded pieces (TLS, HTTP/2). */
typedef struct {
    int fd; /* -1 when idle */
    off_t off;
    uint64_t left;
    int end; /* end the response when the file is out */
} http_pump_t;

struct http_req_s {
    /* -- filled by the codec before http_process() -- */
    const http_proto_t *proto;
    void *codec;            /* the codec's per-stream state */
    loom_conn_t *conn;      /* the client connection */
    http_instance_t *hi;    /* module instance state (conf, counters) */
    loom_slice_t method;    /* as sent */
    int method_id;          /* HTTP_M_* */
    loom_slice_t target;    /* request-target as sent */
    loom_slice_t path;      /* path part of target, raw (not decoded) */
    loom_slice_t query;     /* after '?', without it; empty if none */
    loom_slice_t authority; /* Host / :authority (may include :port) */
    loom_slice_t scheme;    /* "http" / "https" */
    int version;            /* 10, 11, 20 */
    http_field_t *fields;
    size_t nfields;
    int64_t content_length; /* -1 unknown (chunked / HTTP/2 stream) */
    unsigned flags;         /* HTTP_RF_* */
    uint64_t start_ns;      /* CLOCK_MONOTONIC at request start */

    /* -- set by routing -- */
    const http_vhost_t *vhost;
    const http_location_t *loc;
    char *npath; /* normalised, decoded path (NUL-terminated) */
    size_t npath_len;
    size_t npath_cap;  /* bytes at npath (kept across requests) */
    size_t max_body;   /* the location's, kept past a reload */
    unsigned conf_gen; /* hi->conf_gen when routed: vhost and loc
                        * point into a config that a reload frees
                        * (http_req_conf checks) */

    /* -- the handler's hooks -- */
    /* Request body bytes; LAST is set on the final call (LEN may be 0).
     * Without a hook the body is read and discarded. */
    void (*on_body)(http_req_t *r, const char *p, size_t len, int last);
    /* The connection can take more output after a LOOM_AGAIN. */
    void (*on_writable)(http_req_t *r);
    /* The request is being torn down before http_resp_end (client gone);
     * release what the handler holds.  No output is possible. */
    void (*on_abort)(http_req_t *r);
    void *hdata; /* handler's private pointer */
    /* a refusal waiting for the request body (http_resp_refuse) */
    int refuse_status;
    void (*refuse_fn)(http_req_t *r, int status, const void *arg);
    const void *refuse_arg;

    /* -- the response, built through http_resp_* -- */
    int status;
    int64_t resp_length; /* -1 unknown */
    char *resp_headers;  /* formatted extra header lines */
    size_t resp_hlen, resp_hcap;
    uint32_t resp_nf;   /* lines in resp_f; past HTTP_RESP_FIELDS: more */
    uint64_t bytes_out; /* body bytes handed to the codec */
    uint64_t bytes_in;  /* body bytes received */
    http_pump_t pump;
    /* where http_resp_header() put each line, so that a codec that encodes
     * fields (HTTP/2) need not parse the text again: name at OFF in
     * resp_headers, value at OFF + NL + 2.  Only the first resp_nf are
     * set: last, so that http_req_init need not clear them. */
    struct {
        uint32_t off, nl, vl;
    } resp_f[HTTP_RESP_FIELDS];
};

/* ---- what codecs call ------------------------------------------------------
 */

/* Reset R for a new request on CONN (keeping its buffers); PROTO/CODEC are
 * the codec's.  Called before filling the request fields. */
void http_req_init(http_req_t *r, http_instance_t *hi, loom_conn_t *conn,
                   const http_proto_t *proto, void *codec);

/* Free R's buffers (R itself belongs to the codec). */
void http_req_free(http_req_t *r);

/* Route and run the request whose fields are filled.  Returns when the
 * handler has returned; the response may be finished (HTTP_RF_DONE) or
 * still going (the handler continues from its hooks). */
void http_process(http_req_t *r);

/* Deliver body bytes to the handler (or discard them); LAST marks the end.
 * Counts r->bytes_in. */
void http_req_body(http_req_t *r, const char *p, size_t len, int last);

/* The connection can take more output: continue a file pump, then call
 * the handler's on_writable. */
void http_req_writable(http_req_t *r);

/* The connection is gone before the response ended: run on_abort, close a
 * pumped file, mark HTTP_RF_ABORTED.  Idempotent. */
void http_req_abort(http_req_t *r);

/* Take the request away from its handler before its response started
 * (the body broke a rule, a timeout) and answer STATUS with an error page
 * instead: on_abort runs, the handler's hooks and prepared header lines
 * are dropped. */
void http_req_refuse(http_req_t *r, int status);

/* Log the finished request (access log) and count it.  The codec calls
 * this from its finish. */
void http_req_done(http_req_t *r);

/* Forget R's vhost and location when a reload freed the config they
 * point into (requests that outlive a reload: bodies, proxied answers).
 * Called by the output layer before it looks at them. */
void http_req_conf(http_req_t *r);

/* The raw request path after R's location prefix, percent-decoded, taken
 * as written (no "." or "//" folding: the kv key, the finger user).  At
 * most CAP bytes go to OUT; returns the whole decoded length (more than
 * CAP when it did not fit), or -1 when a %-escape is bad or the decoded
 * path does not begin with the prefix as written (it reached the
 * location only through "." or ".." segments). */
long http_req_loc_rest(const http_req_t *r, char *out, size_t cap);

/* The field named NAME[NLEN] (lowercase) or NULL. */
const http_field_t *http_req_fieldn(const http_req_t *r, const char *name,
                                    size_t nlen);

/* The field named NAME (lowercase, NUL-terminated) or NULL; inline so that
 * the length of a literal NAME is known at compile time. */
static inline const http_field_t *http_req_field(const http_req_t *r,
                                                 const char *name)
{
    return http_req_fieldn(r, name, strlen(name));
}

/* Answer a request the codec could not even parse (400, 414, 431, 505):
 * the codec fills what it has (possibly nothing) and calls this; the
 * response carries Connection: close. */
void http_resp_codec_error(http_req_t *r, int status);

/* ---- the output API handlers use
 * --------------------------------------------- */

/* Set the status (default 200). */
void http_resp_status(http_req_t *r, int status);

/* Add a header line NAME[NL]: VALUE[VL] (copied). */
void http_resp_headern(http_req_t *r, const char *name, size_t nl,
                       const char *value, size_t vl);

/* Add a header line NAME: VALUE (NUL-terminated, copied); inline so that
 * the length of a literal NAME is known at compile time. */
static inline void http_resp_header(http_req_t *r, const char *name,
                                    const char *value)
{
    http_resp_headern(r, name, strlen(name), value, strlen(value));
}
void http_resp_headerf(http_req_t *r, const char *name, const char *fmt, ...)
    LOOM_PRINTF(3, 4);

/* Declare the body length (-1: unknown, the default). */
void http_resp_length(http_req_t *r, int64_t len);

/* Status 101 (only for an HTTP/1.1 request that carried Upgrade; never
 * over HTTP/2) turns the connection into a tunnel once the head is sent:
 * every later client byte goes to r->on_body (LAST is never set again;
 * the client going away is r->on_abort), http_resp_write sends raw bytes
 * and http_resp_end closes the connection. */

/* Send the head now if not sent yet.  Returns as loom_conn_write. */
int http_resp_send_head(http_req_t *r);

/* Body bytes (the head goes first if needed; dropped for HEAD and
 * bodiless statuses).  Returns LOOM_OK, LOOM_AGAIN (wait for on_writable
 * before sending more) or LOOM_ERROR (connection gone: stop). */
int http_resp_write(http_req_t *r, const void *p, size_t len);

/* Body from file FD (ownership passes) at OFF for LEN bytes: zero copy on
 * plain HTTP/1.1, otherwise pumped in bounded pieces as the connection
 * drains.  When the file is out, the response ends by itself if END is
 * set.  Returns LOOM_OK or LOOM_ERROR. */
int http_resp_file(http_req_t *r, int fd, off_t off, uint64_t len, int end);

/* Body bytes by reference: as http_resp_write with B's bytes, without
 * copying them where the codec can (HTTP/1.1 queues B itself; the caller
 * keeps its reference). */
int http_resp_write_buf(http_req_t *r, loom_buf_t *b);

/* Response bytes queued for R and not yet sent (see http_proto_t). */
size_t http_resp_pending(http_req_t *r);

/* The response is complete. */
void http_resp_end(http_req_t *r);

/* A whole error response for STATUS: the location's / vhost's configured
 * page or a small built-in HTML body.  Ends the response. */
void http_resp_error(http_req_t *r, int status);

/* Refuse R with STATUS once its request body is in, read and dropped
 * within max_body (at once when it has none or it is in already):
 * FN(R, STATUS, ARG) answers then, or http_resp_error when FN is NULL;
 * header lines prepared are kept.  An answer before the body is complete
 * would be valid too, but HTTP/2 then resets the upload, and clients such
 * as curl 7.88 drop the response that came with the reset.  The body
 * hook is taken over: the handler keeps nothing of R after this. */
void http_resp_refuse(http_req_t *r, int status,
                      void (*fn)(http_req_t *r, int status, const void *arg),
                      const void *arg);

/* A whole small response with body BODY (LEN bytes) and type CTYPE. */
void http_resp_simple(http_req_t *r, int status, const char *ctype,
                      const char *body, size_t len);

/* The reason phrase for STATUS ("Not Found"); "" when unknown. */
const char *http_reason(int status);

/* The metrics hook (http_metrics.c): HI's counters and events locations. */
void http_metrics(loom_instance_t *inst, loom_metrics_t *m);

/* ---- configuration (http_conf.c) ----------------------------------------- */

/* A handler: what a location runs. */
typedef struct {
    const char *name;
    void (*process)(http_req_t *r);
} http_handler_t;

extern const http_handler_t http_handler_static, http_handler_return,
    http_handler_status, http_handler_echo, http_handler_proxy,
    http_handler_events, http_handler_kv, http_handler_publish,
    http_handler_doh, http_handler_finger, http_handler_dyndns,
    http_handler_irc;

/* A kv location's reference to its memcache store (http_kv.c fills it on
 * first use; it goes with the config). */
typedef struct {
    int ready;
    loom_service_ref_t ref;
} http_kv_ref_t;

typedef struct http_publish_loc_s http_publish_loc_t;

enum { HTTP_STATUS_JSON, HTTP_STATUS_PROMETHEUS };

struct http_location_s {
    char *prefix; /* path as written ("= " removed) */
    size_t prefix_len;
    int exact; /* "= /path" */
    const http_handler_t *handler;
    size_t max_body; /* bytes; 413 above */
    /* static */
    char *root;   /* absolute, no trailing slash */
    int root_fd;  /* O_PATH directory */
    char **index; /* NULL-terminated */
    int autoindex, gzip_static, follow_symlinks;
    /* return */
    int ret_status;
    char *ret_location; /* template, or NULL */
    char *ret_body;     /* or NULL */
    char *ret_type;
    /* status */
    int status_format;
    /* kv */
    char *kv_memcache;     /* the memcache instance's name */
    char *kv_type;         /* Content-Type of the values */
    http_kv_ref_t *kv_ref; /* mutable through the const location */
    /* doh (http_doh.c) */
    char *doh_dns; /* the dns instance's name */
    /* proxy (http_proxy.c owns it) */
    struct http_proxy_loc_s *proxy;
    /* publish (http_publish.c owns it) */
    http_publish_loc_t *publish;
    /* events (http_events.c owns it) */
    struct http_events_loc_s *events;
    /* finger (http_finger.c owns it) */
    struct http_finger_loc_s *finger;
    /* dyndns (http_dyndns.c owns it; the dns instance is doh_dns) */
    struct http_dyndns_loc_s *dyndns;
    /* irc over WebSocket (http_ws_irc.c owns it) */
    struct http_irc_loc_s *irc;
};

typedef struct {
    int status;
    char *body;
    size_t len;
    const char *ctype;
} http_errpage_t;

struct http_vhost_s {
    char *label;
    char **names; /* lowercase; "*.suffix" wildcards */
    size_t nnames;
    int is_default;
    http_location_t *locs; /* in config order */
    size_t nlocs;
    http_errpage_t *errpages;
    size_t nerrpages;
};

struct http_conf_s {
    http_vhost_t *vhosts;
    size_t nvhosts;
    const http_vhost_t *deflt;
    h1_limits_t limits;
    unsigned header_timeout, body_timeout; /* seconds */
    unsigned keepalive_requests;
    int server_tokens;
    char *default_type;
    char *charset;             /* "" for none */
    size_t file_cache_max;     /* bytes per cached file; 0: no cache */
    unsigned file_cache_valid; /* seconds */
    http_mime_t *mime;
    /* HTTP/2 */
    unsigned h2_max_streams;            /* SETTINGS_MAX_CONCURRENT_STREAMS */
    size_t h2_window;                   /* SETTINGS_INITIAL_WINDOW_SIZE */
    size_t h2_conn_window;              /* the connection's receive window */
    struct http_upstreams_s *upstreams; /* `upstream` sections (proxy) */
    /* the post action (http_post.c) */
    unsigned post_max;  /* post_concurrency: calls in flight */
    char *post_ca_file; /* or NULL: the system store */
};

extern cfg_opt_t http_options[];
int http_configure(cfg_t *sec, void **conf);
void http_conf_free(void *conf);

/* The vhost for Host value HOST (port and trailing dot ignored, case
 * insensitive): exact name, then the longest matching "*.suffix", then
 * the default. */
const http_vhost_t *http_find_vhost(const http_conf_t *hc, loom_slice_t host);

/* The location for normalised PATH: an exact match, else the longest
 * prefix; NULL when none. */
const http_location_t *http_find_location(const http_vhost_t *vh,
                                          const char *path, size_t len);

/* ---- the publish handler (http_publish.c) ---------------------------------
 */

/* Build the publish settings of location L from its section LS (topic,
 * publish_headers, bearer_token[_file], hmac_secret[_file], hmac_header)
 * into l->publish; LOOM_ERROR after loom_conf_error. */
int http_publish_location(cfg_t *ls, http_location_t *l);

/* Free l->publish (NULL is fine). */
void http_publish_location_free(http_location_t *l);

/* ---- the post action (http_post.c) ----------------------------------------
 */

typedef struct http_post_rt_s http_post_rt_t;

/* The module's bus actions: "post" (loom_module_t.actions). */
extern const loom_action_t http_actions[];

/* Read the instance options post_concurrency and post_ca_file of SEC
 * into HC; LOOM_ERROR after loom_conf_error. */
int http_post_conf(cfg_t *sec, http_conf_t *hc);
void http_post_conf_free(http_conf_t *hc);

/* Make HI's post state (start); end every call still in flight as
 * LOOM_ACT_FAILED ("stopping"), closing its connection, and free the
 * state (stop). */
void http_post_start(http_instance_t *hi);
void http_post_stop(http_instance_t *hi);

/* ---- per-instance state (http.c) ------------------------------------------
 */

typedef struct {
    uint64_t requests, by_class[6]; /* [1]..[5]: 1xx..5xx, [0]: other */
    uint64_t bytes_in, bytes_out;
    uint64_t conns_total, conns_active;
} http_counters_t;

typedef struct http_fcache_s http_fcache_t;

struct http_instance_s {
    loom_instance_t *inst;
    http_counters_t ctr;
    time_t started;
    time_t date_sec; /* second the cached Date is for */
    char date[HTTP_DATE_LEN + 1];
    time_t log_sec;                   /* second log_when is for */
    char log_when[40];                /* access-log time, local */
    http_fcache_t *fcache;            /* small-file cache (http_static.c) */
    int no_openat2;                   /* the kernel lacks openat2(2) */
    struct http_h1_conn_s *conns;     /* every open connection */
    int quiescing;                    /* graceful stop under way */
    unsigned conf_gen;                /* bumped by every reload */
    struct http_proxy_rt_s *proxy_rt; /* upstream pools (http_proxy.c) */
    struct http_post_rt_s *post_rt;   /* posts in flight (http_post.c) */
    /* event rings (http_events.c) */
    struct http_events_rt_s *events_rt;
};

/* The current conf of HI's instance. */
http_conf_t *http_conf(http_instance_t *hi);

/* The cached "Date" value for now. */
const char *http_date_now(http_instance_t *hi);

/* ---- static files (http_static.c) -----------------------------------------
 */

http_fcache_t *http_fcache_new(void);
void http_fcache_free(http_fcache_t *fc);

/* A finger location's options (finger = "INSTANCE") into L->finger;
 * LOOM_OK, or LOOM_ERROR reported at FILE:LINE.  The free undoes it. */
typedef struct http_finger_loc_s http_finger_loc_t;
int http_finger_location(cfg_t *ls, http_location_t *l);
void http_finger_location_free(http_location_t *l);

/* A dyndns location's options (dns, zone, users_file, ttl, topic,
 * fail_delay, max_failures, failure_window) into L->dyndns and
 * L->doh_dns; LOOM_OK, or LOOM_ERROR reported at FILE:LINE (a fault in
 * the users file at its own FILE:LINE).  The free undoes it. */
typedef struct http_dyndns_loc_s http_dyndns_loc_t;
int http_dyndns_location(cfg_t *ls, http_location_t *l);
void http_dyndns_location_free(http_location_t *l);

/* An irc location's options (irc = "INSTANCE") into L->irc; LOOM_OK, or
 * LOOM_ERROR reported at FILE:LINE.  The free undoes it. */
typedef struct http_irc_loc_s http_irc_loc_t;
int http_irc_location(cfg_t *ls, http_location_t *l);
void http_irc_location_free(http_location_t *l);

/* ---- live event streams (http_events.c) -----------------------------------
 */

/* Build / free the events settings of location L from section LS (config
 * check and start alike; no instance). */
int http_events_location(cfg_t *ls, http_location_t *l);
void http_events_location_free(http_location_t *l);

/* The instance's rings: made for every events location at start, kept
 * across a reload for the locations that stay (dropped, their streams
 * ended, for those that go), streams ended at a graceful stop, all freed
 * at stop. */
void http_events_start(http_instance_t *hi);
void http_events_reload(http_instance_t *hi);
void http_events_quiesce(http_instance_t *hi);
void http_events_stop(http_instance_t *hi);

/* One events location's counters (kept across reloads with its ring). */
typedef struct {
    const char *server, *location, *topic; /* the ring's own strings */
    unsigned streams;                      /* open now */
    uint64_t delivered;                    /* messages written to streams */
    uint64_t dropped;                      /* streams dropped: too slow */
    uint64_t refused;                      /* requests past max_streams */
} http_events_stat_t;

/* The counters of HI's events locations, in config order, into OUT (room
 * for MAX); returns how many locations there are, which may exceed MAX.
 * The strings stay valid until the next reload. */
size_t http_events_stats(http_instance_t *hi, http_events_stat_t *out,
                         size_t max);

/* ---- the HTTP/1.1 codec (h1.c) ----------------------------------------------
 */

typedef struct http_h2_conn_s http_h2_conn_t;

/* Per-connection state of the HTTP module (its conn_size): the HTTP/1.1
 * codec's, and the HTTP/2 session once the connection has switched
 * (ALPN h2, the h2c preface, or Upgrade: h2c). */
typedef struct http_h1_conn_s {
    loom_conn_t *c;
    http_h2_conn_t *h2; /* non-NULL: the connection speaks HTTP/2 */
    struct http_h1_conn_s *next, *prev; /* hi->conns */
    http_instance_t *hi;
    http_req_t *req;    /* made on the first request, reused */
    h1_field_t *fields; /* max_fields + 1 */
    size_t nfields_cap;
    char *head; /* copy of the current request head */
    size_t head_cap;
    size_t last_len; /* parser resume hint */
    int state;       /* H1_S_* (h1.c) */
    int in_data;     /* inside the data callback */
    int busy;        /* h1 frames on the stack (data, drain, timer) */
    int closed;      /* the close callback ran; free when idle */
    int keep_alive;
    int resp_chunked; /* the response body uses chunked coding */
    int secure;
    h1_chunked_t ck;
    int body_chunked;
    uint64_t body_left; /* Content-Length bytes still to read */
    unsigned nreq;
    loom_timer_t timer; /* header / body timeout */
} http_h1_conn_t;

/* The module's stream callbacks (h1.c): HTTP/1.1, handing the connection
 * to HTTP/2 when it asks for it. */
int http_h1_open(loom_conn_t *c);
size_t http_h1_data(loom_conn_t *c, const char *buf, size_t len);
void http_h1_drain(loom_conn_t *c);
void http_h1_close(loom_conn_t *c);

/* Free connection H's state (HTTP/1.1 and HTTP/2) once its close callback
 * ran and no codec frame is on the stack (h->busy == 0). */
void http_conn_free(http_h1_conn_t *h);

/* Graceful stop or reload: HTTP/1.1 connections close when idle (now, or
 * after the response in flight); HTTP/2 ones get GOAWAY. */
void http_conns_quiesce(http_instance_t *hi, int h1_too);

/* ---- the HTTP/2 codec (h2.c) ------------------------------------------------
 */

/* The bytes every HTTP/2 connection starts with (RFC 9113 3.4). */
#define HTTP_H2_PREFACE "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define HTTP_H2_PREFACE_LEN 24

/* Switch connection H to HTTP/2.  UPGRADE is NULL for ALPN h2 and for the
 * h2c preface; for Upgrade: h2c it is the HTTP/1.1 request (whose head
 * stays valid until this returns) and SETTINGS its HTTP2-Settings value:
 * the 101 is written, and the request becomes stream 1 and runs.  Returns
 * LOOM_OK, or LOOM_ERROR when the session cannot start (bad settings):
 * the caller then answers 400 as HTTP/1.1. */
int http_h2_start(http_h1_conn_t *h, http_req_t *upgrade,
                  loom_slice_t settings);

/* The stream callbacks, once H->h2 is set.  HTTP/2 code enters and leaves
 * with h->busy like h1.c; http_h2_close runs from the close callback (it
 * aborts the streams) and the state is freed by http_conn_free. */
size_t http_h2_data(http_h1_conn_t *h, const char *buf, size_t len);
void http_h2_drain(http_h1_conn_t *h);
void http_h2_close(http_h1_conn_t *h);

/* Free H's HTTP/2 state (from http_conn_free). */
void http_h2_free(http_h1_conn_t *h);

/* Send GOAWAY (no new streams); the connection closes when the streams
 * in flight are done. */
void http_h2_goaway(http_h1_conn_t *h);

#endif
