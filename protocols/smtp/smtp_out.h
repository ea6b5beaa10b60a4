/*
 * smtp_out.h - SMTP's outbound side (helper smtp-out, issue 16): the
 * relay settings of an smtp section, one delivery attempt on the reactor
 * (MX lookup through the core's resolver, every host and address in
 * order, the sans-I/O client of smtp_client.h over a loom connection,
 * STARTTLS as the policy says), and the queue runner that drives them.
 */
#ifndef SMTP_OUT_H
#define SMTP_OUT_H

#include <stddef.h>
#include <stdint.h>

#include "loom_module.h"
#include "smtp_client.h"
#include "smtp_queue.h"

/* ---- the relay settings (smtp_relay_conf.c) ------------------------------ */

/* What the outbound side does, from the options below.  Strings are heap
 * copies owned by the struct (smtp_relay_conf_clear). */
typedef struct smtp_relay_conf_s {
    char *smarthost;    /* "smarthost": one next hop for all mail, NULL:
                         * MX lookups */
    int smarthost_port; /* its port ("host:port"), else relay_port */
    char *auth_user;    /* "smarthost_user", NULL: no AUTH */
    char *auth_pass;    /* "smarthost_password" */
    int port;           /* "relay_port": where next hops listen (25) */
    int tls;            /* "relay_tls": SMTP_TLS_* (may) */
    char **tls_must;    /* "relay_tls_must": domains (lowercase) that
                         * get verified TLS or nothing */
    size_t ntls_must;
    char *tls_ca;            /* "relay_tls_ca": CA file for verification,
                              * NULL: the system store */
    char *dns;               /* "relay_dns": resolver servers, NULL: system */
    unsigned timeout_ms;     /* "relay_timeout": per reply and per connect */
    unsigned concurrency;    /* "relay_concurrency": deliveries at once */
    smtp_retry_conf_t retry; /* "queue_retry", "queue_retry_max",
                              * "queue_lifetime" */
    int hold; /* "relay_hold": keep queued mail, deliver nothing */
} smtp_relay_conf_t;

/* The relay options, to list in the smtp section's option table. */
#define SMTP_RELAY_OPTIONS                                                     \
    CFG_STR("smarthost", NULL, CFGF_NONE),                                     \
        CFG_STR("smarthost_user", NULL, CFGF_NONE),                            \
        CFG_STR("smarthost_password", NULL, CFGF_NONE),                        \
        CFG_INT("relay_port", 25, CFGF_NONE),                                  \
        CFG_STR("relay_tls", "may", CFGF_NONE),                                \
        CFG_STR_LIST("relay_tls_must", "{}", CFGF_NONE),                       \
        CFG_STR("relay_tls_ca", NULL, CFGF_NONE),                              \
        CFG_STR("relay_dns", NULL, CFGF_NONE),                                 \
        CFG_STR("relay_timeout", "300s", CFGF_NONE),                           \
        CFG_INT("relay_concurrency", 10, CFGF_NONE),                           \
        CFG_STR("queue_retry", "5m", CFGF_NONE),                               \
        CFG_STR("queue_retry_max", "4h", CFGF_NONE),                           \
        CFG_STR("queue_lifetime", "5d", CFGF_NONE),                            \
        CFG_BOOL("relay_hold", cfg_false, CFGF_NONE)

/* From configure(): read the relay options of SEC into RC (zeroed
 * first).  Returns LOOM_OK, or LOOM_ERROR after reporting FILE:LINE:
 * message with loom_conf_error (RC then holds nothing). */
int smtp_relay_configure(cfg_t *sec, smtp_relay_conf_t *rc);

/* Free what RC holds and zero it. */
void smtp_relay_conf_clear(smtp_relay_conf_t *rc);

/* Parse a duration "90", "90s", "5m", "4h", "5d" into seconds; LOOM_OK or
 * LOOM_ERROR. */
int smtp_parse_duration(const char *s, uint32_t *out);

/* ---- one delivery attempt (smtp_out.c) ------------------------------------
 */

/* How to deliver, for one attempt: copied by smtp_out_start. */
typedef struct {
    const char *helo;      /* our host name */
    const char *smarthost; /* NULL: MX of the domain */
    int port;              /* where to connect */
    int tls;               /* SMTP_TLS_*; MUST verifies the peer */
    const char *tls_ca;    /* NULL: system store */
    const char *auth_user, *auth_pass;
    unsigned timeout_ms;       /* per reply, per connect (0: 300 s) */
    loom_resolver_t *resolver; /* NULL: the server's; must outlive the
                                * attempt */
} smtp_out_params_t;

typedef struct smtp_out_s smtp_out_t;

/* The attempt is over: every recipient of the transaction has a status
 * (DELIVERED, PERMFAIL, or TEMPFAIL; never PENDING or ACCEPTED) and a
 * reply (code 0 for a local reason).  The callee frees O with
 * smtp_out_free (not from inside a call on O other than this one). */
typedef void (*smtp_out_done_fn)(void *arg, smtp_out_t *o);

/* Deliver the message BODY[0..LEN) (CRLF line ends, not dot-stuffed) for
 * TXN (its sender, flags and recipients, who are all at DOMAIN; for a
 * smarthost DOMAIN only names the attempt) on INST's reactor with P.
 * TXN, BODY and what they point to stay the caller's and must live until
 * DONE runs or smtp_out_cancel.  DONE runs exactly once, from the
 * reactor, never inside this call.  Returns the attempt. */
smtp_out_t *smtp_out_start(loom_instance_t *inst, const smtp_out_params_t *p,
                           const char *domain, smtp_client_txn_t *txn,
                           const char *body, size_t len, smtp_out_done_fn done,
                           void *arg);

/* The host that answered last ("mx.example.net"), "" when none did. */
const char *smtp_out_mta(const smtp_out_t *o);

/* Abandon O (DONE never runs) and free it.  NULL is ignored. */
void smtp_out_cancel(smtp_out_t *o);

/* Free O after its DONE. */
void smtp_out_free(smtp_out_t *o);

/* ---- the queue runner (smtp_runner.c) --------------------------------------
 */

/* How the runner hands a bounce back to the module: deliver MSG (LEN
 * bytes, taken: freed by the callee) from the null sender to RCPT,
 * locally or through the queue, durably, then call DONE(ARG, ok) from
 * the reactor.  Returns a handle for DETACH (after which DONE never
 * runs; the delivery itself goes on), or NULL when it cannot start (DONE
 * never runs then either). */
typedef struct {
    void *(*inject)(loom_instance_t *inst, const char *rcpt, char *msg,
                    size_t len, int eightbit, void (*done)(void *arg, int ok),
                    void *arg);
    void (*detach)(void *handle);
} smtp_runner_ops_t;

typedef struct smtp_runner_s smtp_runner_t;

/* A runner for INST over queue directory QDIR (NULL: none; the runner
 * then does nothing), EHLO/Reporting-MTA name HOSTNAME, settings RC and
 * bounce hooks OPS (copied; OPS may be NULL: bounces are logged and
 * dropped).  It scans QDIR at once (blocking: call it from the
 * instance's start, before the instance serves, as the scan empties
 * QDIR/tmp), then delivers what is due from the reactor.  Free with
 * smtp_runner_free from the instance's stop. */
smtp_runner_t *smtp_runner_new(loom_instance_t *inst, const char *qdir,
                               const char *hostname,
                               const smtp_relay_conf_t *rc,
                               const smtp_runner_ops_t *ops);

/* A reload: take the new settings (the queue directory and the resolver
 * stay those of the start). */
void smtp_runner_update(smtp_runner_t *r, const char *hostname,
                        const smtp_relay_conf_t *rc);

/* The message ID was committed to the queue: deliver it now. */
void smtp_runner_add(smtp_runner_t *r, const char *id);

/* The message ID was committed to the queue (from SENDER to the
 * recipients RCPTS, ", "-joined; SIZE bytes, arrived at ARRIVAL, Unix
 * seconds): deliver it now, and show these in `smtp queue` until it is
 * loaded.  Strings are copied. */
void smtp_runner_add_info(smtp_runner_t *r, const char *id, const char *sender,
                          const char *rcpts, uint64_t size, int64_t arrival);

/* The runner's counters (per recipient and attempt) and gauges. */
typedef struct {
    uint64_t delivered; /* recipients accepted by the next hop */
    uint64_t deferred;  /* attempts that ended 4xx or unreachable */
    uint64_t bounced;   /* recipients given up (5xx or expired) */
    uint64_t dsns;      /* bounce messages handed to the delivery */
    size_t messages;    /* gauge: messages in the queue */
    size_t active;      /* gauge: messages being delivered now */
    int held;           /* relay_hold is set */
} smtp_runner_stats_t;

/* Fill OUT from R (NULL: all zero). */
void smtp_runner_stats(const smtp_runner_t *r, smtp_runner_stats_t *out);

/* One queued message as `smtp queue` shows it; strings borrowed for the
 * callback only, NULL when not known yet (a message found on disk is
 * known at once; one that arrived shows what its session gave). */
typedef struct {
    const char *id;
    const char *sender; /* "" the null sender */
    const char *rcpts;  /* undecided recipients, ", "-joined */
    const char *error;  /* the last attempt's error, or NULL */
    uint64_t size;      /* bytes, Received: included */
    int64_t arrival;    /* Unix seconds, 0: unknown */
    int64_t due;        /* the next attempt, Unix seconds */
    uint32_t attempts;  /* most attempts made for any undecided recipient */
    int busy;           /* an attempt runs now */
} smtp_runner_item_t;

/* Call CB(ARG, item) for every message of R's queue (in no particular
 * order); returns how many.  R may be NULL (none). */
size_t smtp_runner_list(const smtp_runner_t *r,
                        void (*cb)(void *arg, const smtp_runner_item_t *it),
                        void *arg);

/* Make every queued message due now (those being delivered keep their
 * attempt).  Returns how many were made due, or -1 when relay_hold keeps
 * the queue (nothing changed). */
long smtp_runner_flush(smtp_runner_t *r);

/* Drop message ID from R's queue without a bounce: it leaves the schedule
 * at once and its file is removed on the worker pool (a failure there is
 * logged).  Returns LOOM_OK, LOOM_DECLINED (no such message) or
 * LOOM_ERROR (an attempt runs now), with ERR set when not LOOM_OK. */
int smtp_runner_delete(smtp_runner_t *r, const char *id, char *err,
                       size_t errlen);

/* Stop: abandon the attempts in flight (their recipients stay as the
 * queue file says, to be tried after the next start) and free R.  Call
 * after the instance's worker jobs are done (the module's stop). */
void smtp_runner_free(smtp_runner_t *r);

#endif
