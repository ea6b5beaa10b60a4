/*
 * smtp.h - types shared by the SMTP module's own files: the validated
 * configuration (smtp_conf.c), where recipients go (smtp_local.c), the
 * users of AUTH (smtp_auth.c), the bus glue (smtp_bus.c), the session
 * (smtp_session.c) and the module (smtp.c).
 */
#ifndef SMTP_H
#define SMTP_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "loom_module.h"

#define SMTP_ADDR_MAX 256 /* an RFC 5321 path, without the brackets */
#define SMTP_ALIAS_DEPTH 8
#define SMTP_DEFAULT_MAX_SIZE (35u * 1024 * 1024)

/* A local mailbox: an address (lowercase) and the Maildir it goes to. */
typedef struct {
    char *addr;
    char *maildir; /* absolute, ends in '/' */
} smtp_mailbox_t;

/* An alias: an address (lowercase) and the addresses it expands to. */
typedef struct {
    char *addr;
    char **targets;
    size_t ntargets;
} smtp_alias_t;

/* A network allowed to relay: ADDR/PREFIX of FAMILY. */
typedef struct {
    int family;
    uint8_t addr[16];
    unsigned prefix;
} smtp_net_t;

/* A user of AUTH: login, crypt(3) hash, the envelope senders allowed
 * ("alice@example.test", "@example.test" for a whole domain, "*" any). */
typedef struct {
    char *name;
    char *hash;
    char **senders;
    size_t nsenders;
} smtp_user_t;

typedef struct {
    smtp_user_t *users;
    size_t nusers;
} smtp_users_t;

/* A submission listener: where it binds (port and address; the wildcard
 * address matches any). */
typedef struct {
    struct sockaddr_storage ss;
    int any; /* bound to 0.0.0.0 or :: */
} smtp_sub_t;

/* The validated section (configure() output). */
typedef struct {
    char *hostname;
    char **domains; /* local domains, lowercase */
    size_t ndomains;
    smtp_mailbox_t *boxes;
    size_t nboxes;
    smtp_alias_t *aliases;
    size_t naliases;
    char *catch_all; /* an address (lowercase) or NULL */
    smtp_net_t *nets;
    size_t nnets;
    smtp_sub_t *subs;
    size_t nsubs;
    smtp_users_t *users; /* NULL: no AUTH */
    char *starttls;      /* TLS profile for STARTTLS, or NULL: none */
    size_t max_size;
    unsigned max_rcpt, max_errors, max_conn_per_ip;
    unsigned auth_delay_ms, greet_pause_ms;
    unsigned data_timeout; /* seconds, while DATA/BDAT is read */
    char **publish;        /* addresses or "@domain"s, lowercase */
    size_t npublish;
    char *topic;     /* bus topic of published mail */
    char *queue_dir; /* absolute */
    int sync_mode;   /* smtp_sync_t (smtp_store.h): how batches are synced */
    /* the outbound options (smtp_out.h, helper smtp-out) */
    struct smtp_relay_conf_s *relay;
} smtp_conf_t;

/* The option table of an smtp section (CFG_END-terminated). */
extern cfg_opt_t smtp_options[];

/* Build an smtp_conf_t from a parsed section into *CONF; LOOM_OK or
 * LOOM_ERROR (reported with loom_conf_error as FILE:LINE: message). */
int smtp_configure(cfg_t *sec, void **conf);

/* Free what smtp_configure built (NULL is fine). */
void smtp_conf_free(void *conf);

/* ---- users (smtp_auth.c) ------------------------------------------------ */

/* Parse a users file TEXT[0..LEN): lines "NAME:HASH [SENDER ...]", '#'
 * comments.  Returns the table (free with smtp_users_free), or NULL with
 * *LINE the 1-based line at fault and ERR a message without a place. */
smtp_users_t *smtp_users_parse(const char *text, size_t len, unsigned *line,
                               char *err, size_t errlen);

/* Free U (NULL is fine); hashes are wiped first. */
void smtp_users_free(smtp_users_t *u);

/* The user NAME (exact) of U, or NULL. */
const smtp_user_t *smtp_user_find(const smtp_users_t *u, const char *name);

/* Whether user U may send as envelope sender ADDR (lowercase; "" for the
 * null sender, always allowed). */
int smtp_user_may_send(const smtp_user_t *u, const char *addr);

/* ---- where recipients go (smtp_local.c) ---------------------------------- */

/* Whether DOMAIN (lowercase) is one of the local domains. */
int smtp_is_local_domain(const smtp_conf_t *c, const char *domain);

/* Whether the peer address SS may relay (in one of the relay networks). */
int smtp_peer_may_relay(const smtp_conf_t *c,
                        const struct sockaddr_storage *ss);

/* A resolved recipient: a Maildir (local) or an address to queue. */
typedef struct {
    const char *maildir;          /* borrowed from the conf, or NULL */
    char addr[SMTP_ADDR_MAX + 1]; /* remote: the address to relay to */
} smtp_dest_t;

/* Results of smtp_resolve_rcpt. */
typedef enum {
    SMTP_DEST_LOCAL = 0, /* local recipient: destinations filled */
    SMTP_DEST_REMOTE,    /* another domain: relay (if allowed) */
    SMTP_DEST_UNKNOWN,   /* a local domain without that user */
    SMTP_DEST_LOOP       /* aliases too deep or expanding to nothing */
} smtp_dest_kind_t;

/* Resolve ADDR (lowercase "local@domain") through aliases, mailboxes and
 * the catch-all into up to MAX destinations in OUT (*N filled; remote
 * targets of aliases become queue destinations).  Returns the kind. */
smtp_dest_kind_t smtp_resolve_rcpt(const smtp_conf_t *c, const char *addr,
                                   smtp_dest_t *out, size_t max, size_t *n);

/* Whether mail to ADDR (lowercase) is published on the bus. */
int smtp_publishes(const smtp_conf_t *c, const char *addr);

/* Lowercase S in place (ASCII only); returns S. */
char *smtp_lower(char *s);

/* ---- the instance's running state (smtp.c) -------------------------------
 *
 * Kept across reloads (loom_instance_data): the group committer, the
 * per-address connection counts, and the failed-AUTH counts. */

typedef struct smtp_commit_s smtp_commit_t; /* smtp_store.h */
typedef struct smtp_txn_s smtp_txn_t;       /* smtp_store.h */

typedef struct smtp_ipcount_s {
    struct smtp_ipcount_s *next;
    unsigned conns, auth_failures;
    char addr[48];
} smtp_ipcount_t;

#define SMTP_IP_BUCKETS 1024

/* Why a step of a session was refused, for loom_smtp_rejected_total
 * (smtp_ctl.c has the labels, in this order). */
typedef enum {
    SMTP_REJ_CONN_LIMIT = 0, /* connect: max_connections_per_ip */
    SMTP_REJ_TLS_REQUIRED,   /* MAIL on submission before STARTTLS */
    SMTP_REJ_AUTH_REQUIRED,  /* MAIL on submission before AUTH */
    SMTP_REJ_SENDER,         /* MAIL: sender not owned by the user */
    SMTP_REJ_TOO_MANY_RCPTS, /* RCPT: past max_recipients */
    SMTP_REJ_UNKNOWN_RCPT,   /* RCPT: no such local user */
    SMTP_REJ_RELAY,          /* RCPT: relay access denied */
    SMTP_REJ_LOOP,           /* RCPT: alias loop */
    SMTP_REJ_NO_RCPTS,       /* DATA/BDAT without a valid recipient */
    SMTP_REJ_SIZE,           /* message: past max_message_size */
    SMTP_REJ_CONTENT,        /* message: bare CR/LF, a line too long */
    SMTP_REJ_STORE,          /* message: could not be made durable */
    SMTP_REJ_COUNT
} smtp_reject_t;

/* The instance's counters (loom_smtp_* samples, smtp_ctl.c): plain
 * increments on the reactor. */
typedef struct {
    uint64_t sessions;       /* connections opened */
    uint64_t accepted;       /* messages made durable (250) */
    uint64_t accepted_bytes; /* their size, Received: included */
    uint64_t data_bytes;     /* bytes read as DATA or BDAT content */
    uint64_t published;      /* messages published on the bus */
    uint64_t auth_ok, auth_failed;
    uint64_t replies[6]; /* by class: [2] 2xx ... [5] 5xx */
    uint64_t rejected[SMTP_REJ_COUNT];
} smtp_stats_t;

typedef struct {
    loom_instance_t *inst;
    smtp_commit_t *commit;
    smtp_ipcount_t *ips[SMTP_IP_BUCKETS];
    void *runner; /* the queue runner (smtp-out), or NULL */
    smtp_stats_t stats;
} smtp_inst_t;

/* The instance state of INST (set by the module's start). */
smtp_inst_t *smtp_inst(loom_instance_t *inst);

/* Count one more connection from ADDR; returns the count now. */
unsigned smtp_ip_open(smtp_inst_t *si, const char *addr);

/* One connection from ADDR went away. */
void smtp_ip_close(smtp_inst_t *si, const char *addr);

/* Count a failed AUTH from ADDR; returns the failures so far. */
unsigned smtp_ip_auth_failed(smtp_inst_t *si, const char *addr);

/* ---- the queue runner's hooks (helper smtp-out implements them; weak
 * defaults in smtp.c do nothing, so the module runs without a runner) ---- */

/* The instance starts (or reloads: RUNNER non-NULL) with conf C: start or
 * update the runner, return its handle (NULL: none). */
void *smtp_runner_start(loom_instance_t *inst, const smtp_conf_t *c,
                        void *runner);

/* What the session knew of a message committed to the queue: its
 * sender, remote recipients (", "-joined), size and arrival time. */
typedef struct {
    const char *sender, *rcpts;
    uint64_t size;
    int64_t arrival;
} smtp_queued_t;

/* A message was committed to the queue directory under ID (Q: what is
 * shown of it in `smtp queue` until the runner loads it). */
void smtp_runner_queued(void *runner, const char *id, const smtp_queued_t *q);

/* The instance stops: end the runner (its worker jobs are done). */
void smtp_runner_stop(void *runner);

/* ---- durable delivery (smtp_deliver.c) ------------------------------------
 */

/* A recipient of the envelope, as the session kept it. */
typedef struct {
    char *addr;      /* forward-path without <>, as received */
    char *orcpt;     /* ORCPT "type;xtext" as received, or NULL */
    unsigned notify; /* NOTIFY bits (smtp_parse.h / smtp_queue.h agree) */
    int remote;      /* 1: goes to the relay queue */
} smtp_env_rcpt_t;

/* The envelope of one message.  The delivery code only reads it. */
typedef struct {
    char *sender;            /* reverse-path without <>; "" the null sender */
    char *envid;             /* ENVID xtext or NULL */
    int ret, body, smtputf8; /* RET, BODY values as both headers number
                              * them (0 none, 1 FULL/7BIT, 2 HDRS/8BIT) */
    char *auth_user;         /* or NULL */
    char *client;            /* "helo [addr]" */
    smtp_env_rcpt_t *rcpts;
    size_t nrcpts;
    char **maildirs; /* distinct local Maildirs, with one Delivered-To */
    char **delivered_to;
    size_t nmaildirs;
} smtp_envelope_t;

/* Free what ENV holds (not ENV) and zero it. */
void smtp_envelope_clear(smtp_envelope_t *env);

/* A fresh message id (SMTP_ID_MAX bytes with the NUL), for Received:
 * and the 250 reply. */
#define SMTP_ID_MAX 64
void smtp_new_id(char *out);

/* Called when a submitted delivery is durable (OK 1) or failed (OK 0,
 * ERR why); QID is the queue id when the message was queued, else NULL. */
typedef void (*smtp_deliver_done_fn)(void *arg, int ok, const char *qid,
                                     const char *err);

typedef struct smtp_deliv_s smtp_deliv_t;

/* What is published once the message is durable (smtp_bus_publish). */
typedef struct {
    char *topic;  /* NULL: nothing is published */
    char *sender; /* envelope sender */
    char *rcpts;  /* the recipients that publish, ", "-joined */
    char *msg;    /* the message as delivered (Received: included) */
    size_t len;
} smtp_pub_t;

/* Free what P holds and zero it. */
void smtp_pub_clear(smtp_pub_t *p);

/* Make the message durable for ENV: HEAD[0..HLEN) (the Received: header,
 * copied) then BODY[0..BLEN) (taken: freed by the delivery) into every
 * Maildir of ENV (each with its Return-Path and Delivered-To) and, if ENV
 * has remote recipients, one queue file in QDIR.  DONE(ARG, ...) runs
 * later on the reactor unless detached; once durable, PUB (taken; may be
 * NULL) is published even if the session is gone.  Returns a handle for
 * smtp_deliver_detach. */
smtp_deliv_t *smtp_deliver_submit(smtp_inst_t *si, const smtp_envelope_t *env,
                                  const char *qdir, const char *head,
                                  size_t hlen, char *body, size_t blen,
                                  smtp_pub_t *pub, smtp_deliver_done_fn done,
                                  void *arg);

/* The submitter went away: DONE will not run for D (the delivery itself
 * goes on: a message may be durable without its 250, never the reverse). */
void smtp_deliver_detach(smtp_deliv_t *d);

/* ---- the bus (smtp_bus.c) -------------------------------------------------
 */

/* Whether mail for ENV is published: some recipient is in the conf's
 * publish list and a route or subscriber takes the topic. */
int smtp_bus_wants(loom_instance_t *inst, const smtp_conf_t *c,
                   const smtp_envelope_t *env);

/* Fill P for ENV (topic, sender, the publishing recipients); the caller
 * sets P->msg and P->len. */
void smtp_bus_pub_init(const smtp_conf_t *c, const smtp_envelope_t *env,
                       smtp_pub_t *p);

/* Publish P (taken) from INST: summarised on the worker pool (GMime),
 * published from the reactor when done. */
void smtp_bus_publish(loom_instance_t *inst, smtp_pub_t *p);

/* The module's bus actions (send). */
extern const loom_action_t smtp_actions[];

/* ---- the session (smtp_session.c) ------------------------------------------
 */

/* The stream callbacks; the connection's data holds a pointer to the
 * session, allocated at open. */
int smtp_session_open(loom_conn_t *c);
size_t smtp_session_data(loom_conn_t *c, const char *buf, size_t len);
void smtp_session_close(loom_conn_t *c);

#endif
