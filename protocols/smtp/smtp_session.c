/*
 * smtp_session.c - the ESMTP server session on the core's transport.
 *
 *   open --(greet_pause: input before the greeting -> 554, close)--> 220
 *   command lines (smtp_parse.h) --> a handler per verb (table below):
 *     EHLO/HELO, STARTTLS (the rest of the input is dropped: nothing
 *     read before the handshake is taken as a command), AUTH PLAIN/LOGIN
 *     (crypt_r on the worker pool, failures answered after a delay),
 *     MAIL (submission: AUTH first; allowed senders), RCPT (local table,
 *     aliases, catch-all; relay only for AUTH users and relay networks),
 *     DATA (the smuggling-proof decoder of smtp_data.h) or BDAT chunks,
 *     RSET, NOOP, VRFY (252), HELP, QUIT
 *   end of data --> Received: prepended --> smtp_deliver_submit (group
 *     commit on the worker pool) --> 250 only once it is durable.
 *
 * PIPELINING: every complete command in the input is answered in order;
 * the replies go out together when the callback returns (the client is
 * then waiting).  While an answer depends on the worker pool (AUTH, the
 * commit) input is paused and the commands behind it wait unread.
 *
 * Lifetimes: the session is allocated at open and freed at close.  A
 * delivery in flight is detached at close (it still completes: durable
 * without a 250 is a duplicate at worst); an AUTH job is cancelled, or
 * detached when already running (its done then only frees it).
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "lines.h"
#include "smtp.h"
#include "smtp_auth.h"
#include "smtp_data.h"
#include "smtp_mime.h"
#include "smtp_parse.h"

typedef enum {
    SS_GREET = 0, /* greet_pause: waiting to send the greeting */
    SS_CMD,       /* reading command lines */
    SS_SKIP,      /* discarding the rest of a too long line */
    SS_DATA,      /* reading DATA */
    SS_BDAT,      /* reading a BDAT chunk */
    SS_AUTH,      /* reading a SASL response line */
    SS_WAIT,      /* waiting for the worker pool (commit, AUTH) */
    SS_TLS,       /* STARTTLS answered: input is dropped until TLS */
    SS_DONE       /* closing */
} smtp_state_t;

typedef enum {
    AUTH_NONE = 0,
    AUTH_PLAIN,      /* waiting for the PLAIN response */
    AUTH_LOGIN_USER, /* waiting for the LOGIN user name */
    AUTH_LOGIN_PASS  /* waiting for the LOGIN password */
} smtp_authstep_t;

typedef struct {
    loom_conn_t *c;
    loom_instance_t *inst;
    smtp_state_t state;
    loom_lines_t lines;
    loom_timer_t timer; /* greet pause, AUTH failure delay */
    char peer[48];
    struct sockaddr_storage peer_ss;
    int have_peer, counted, submission, loopback, tls;
    char tls_version[40];
    char tls_cipher[64];
    int esmtp; /* 0 none yet, 1 HELO, 2 EHLO */
    char helo[128];
    unsigned errors;
    char auth_user[SMTP_AUTH_USER_MAX + 1];
    /* AUTH in progress */
    smtp_authstep_t auth_step;
    char login_user[SMTP_AUTH_USER_MAX + 1];
    smtp_auth_job_t *auth_job;
    loom_work_t *auth_work;
    uint64_t auth_start_ms;
    /* the transaction */
    int in_mail, use_bdat, bdat_error;
    smtp_reply_t bdat_reply; /* the answer to a chunk read for nothing */
    size_t nrcpt;            /* accepted recipients */
    smtp_envelope_t env;
    smtp_data_t data;
    smtp_bdat_t bdat;
    char *msg;
    size_t msg_len, msg_cap;
    smtp_deliv_t *deliv;
    char msgid[SMTP_ID_MAX];
    size_t commit_size; /* the message being committed, Received: included */
} smtp_sess_t;

static smtp_sess_t *sess_of(loom_conn_t *c)
{
    return *(smtp_sess_t **)loom_conn_data(c);
}

static const smtp_conf_t *sess_conf(const smtp_sess_t *s)
{
    return loom_instance_conf(s->inst);
}

/* ---- replies --------------------------------------------------------------
 */

static void sess_close(smtp_sess_t *s)
{
    s->state = SS_DONE;
    loom_conn_close(s->c);
}

/* Write "CODE ENH TEXT\r\n"; 4xx/5xx count as errors and max_errors of
 * them end the session with 421. */
static void sess_reply(smtp_sess_t *s, int code, const char *enh,
                       const char *fmt, ...) LOOM_PRINTF(4, 5);

static void sess_reply(smtp_sess_t *s, int code, const char *enh,
                       const char *fmt, ...)
{
    char text[600];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    loom_conn_printf(s->c, "%d %s %s\r\n", code, enh, text);
    if (code >= 200 && code < 600)
        smtp_inst(s->inst)->stats.replies[code / 100]++;
    if (code >= 400 && code != 421 && s->state != SS_DONE &&
        ++s->errors >= sess_conf(s)->max_errors) {
        loom_conn_printf(s->c, "421 4.7.0 %s Error: too many errors\r\n",
                         sess_conf(s)->hostname);
        sess_close(s);
    }
}

/* Count a refusal of WHY (loom_smtp_rejected_total). */
static void sess_rejected(smtp_sess_t *s, smtp_reject_t why)
{
    smtp_inst(s->inst)->stats.rejected[why]++;
}

static void sess_reply_r(smtp_sess_t *s, const smtp_reply_t *r)
{
    sess_reply(s, r->code, r->enh, "%s", r->text);
}

/* A path for a reply or a header: printable ASCII, others as '?'. */
static void sess_printable(char *out, size_t cap, const char *p, size_t n)
{
    size_t i;

    if (cap == 0)
        return;
    for (i = 0; i < n && i + 1 < cap; i++) {
        unsigned char ch = (unsigned char)p[i];

        out[i] = (ch < 0x21 || ch >= 0x7f || ch == '(' || ch == ')') ? '?'
                                                                     : (char)ch;
    }
    out[i] = '\0';
}

/* ---- the transaction --------------------------------------------------------
 */

static void sess_txn_reset(smtp_sess_t *s)
{
    smtp_envelope_clear(&s->env);
    free(s->msg);
    s->msg = NULL;
    s->msg_len = s->msg_cap = 0;
    s->in_mail = s->use_bdat = s->bdat_error = 0;
    s->nrcpt = 0;
}

static int sess_auth_offered(const smtp_sess_t *s)
{
    const smtp_conf_t *c = sess_conf(s);

    return c->users && (s->tls || (s->submission && s->loopback));
}

static int sess_tls_offered(const smtp_sess_t *s)
{
    return sess_conf(s)->starttls && !s->tls;
}

static unsigned sess_ext(const smtp_sess_t *s)
{
    unsigned ext;

    if (s->esmtp != 2)
        return 0;
    ext = SMTP_EXT_SIZE | SMTP_EXT_8BITMIME | SMTP_EXT_SMTPUTF8 | SMTP_EXT_DSN;
    if (sess_auth_offered(s))
        ext |= SMTP_EXT_AUTH;
    return ext;
}

static void sess_parse_opts(const smtp_sess_t *s, smtp_parse_opts_t *o)
{
    memset(o, 0, sizeof(*o));
    o->ext = sess_ext(s);
    o->max_size = sess_conf(s)->max_size;
    o->utf8_txn = s->env.smtputf8;
}

/* Command lines as long as the advertised extensions allow (RFC 3461 4.1:
 * DSN parameters lengthen MAIL and RCPT; RFC 4954: AUTH= too). */
static size_t sess_line_max(const smtp_sess_t *s)
{
    smtp_parse_opts_t o;

    sess_parse_opts(s, &o);
    return smtp_cmd_line_limit(&o);
}

static void sess_lines_reset(smtp_sess_t *s)
{
    loom_lines_init(&s->lines, sess_line_max(s));
}

/* ---- the greeting
 * ------------------------------------------------------------ */

static void sess_greet(smtp_sess_t *s)
{
    loom_conn_printf(s->c, "220 %s ESMTP loom\r\n", sess_conf(s)->hostname);
    s->state = SS_CMD;
}

static void sess_greet_timer(loom_timer_t *t, void *arg)
{
    smtp_sess_t *s = arg;

    (void)t;
    if (s->state == SS_GREET)
        sess_greet(s);
}

static int sess_is_loopback(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr) >>
                24) == 127;
    if (ss->ss_family == AF_INET6) {
        const struct in6_addr *a =
            &((const struct sockaddr_in6 *)ss)->sin6_addr;

        return IN6_IS_ADDR_LOOPBACK(a) ||
               (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
    }
    return 0;
}

static int sess_port(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)ss)->sin_port);
    if (ss->ss_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
    return -1;
}

/* Whether the connection came in on a submission listener. */
static int sess_is_submission(loom_conn_t *c, const smtp_conf_t *conf)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);

    if (conf->nsubs == 0 || loom_conn_local_addr(c, &ss, &len) != LOOM_OK)
        return 0;
    for (size_t i = 0; i < conf->nsubs; i++) {
        const struct sockaddr_storage *sub = &conf->subs[i].ss;

        if (sess_port(sub) != sess_port(&ss))
            continue;
        if (conf->subs[i].any)
            return 1;
        if (sub->ss_family == AF_INET && ss.ss_family == AF_INET &&
            memcmp(&((const struct sockaddr_in *)sub)->sin_addr,
                   &((const struct sockaddr_in *)&ss)->sin_addr, 4) == 0)
            return 1;
        if (sub->ss_family == AF_INET6 && ss.ss_family == AF_INET6 &&
            memcmp(&((const struct sockaddr_in6 *)sub)->sin6_addr,
                   &((const struct sockaddr_in6 *)&ss)->sin6_addr, 16) == 0)
            return 1;
    }
    return 0;
}

static void sess_tls_facts(smtp_sess_t *s)
{
    loom_tls_info_t info;

    if (loom_conn_tls_info(s->c, &info) == 0) {
        s->tls = 1;
        snprintf(s->tls_version, sizeof(s->tls_version), "%s",
                 info.version ? info.version : "TLS");
        snprintf(s->tls_cipher, sizeof(s->tls_cipher), "%s",
                 info.cipher ? info.cipher : "");
    }
}

int smtp_session_open(loom_conn_t *c)
{
    smtp_sess_t **slot = loom_conn_data(c);
    smtp_sess_t *s = *slot;
    const smtp_conf_t *conf;
    socklen_t len = sizeof(struct sockaddr_storage);

    if (s) { /* STARTTLS done: RFC 3207 4.2, forget what was said before */
        sess_txn_reset(s);
        s->esmtp = 0;
        s->helo[0] = '\0';
        s->auth_user[0] = '\0';
        sess_tls_facts(s);
        sess_lines_reset(s);
        s->state = SS_CMD;
        return LOOM_OK;
    }
    s = loom_calloc(1, sizeof(*s));
    *slot = s;
    s->c = c;
    s->inst = loom_conn_instance(c);
    smtp_inst(s->inst)->stats.sessions++;
    conf = sess_conf(s);
    snprintf(s->peer, sizeof(s->peer), "%s", loom_conn_peer(c));
    s->have_peer = loom_conn_peer_addr(c, &s->peer_ss, &len) == LOOM_OK;
    s->loopback = s->have_peer && sess_is_loopback(&s->peer_ss);
    s->submission = sess_is_submission(c, conf);
    sess_tls_facts(s);
    sess_lines_reset(s);
    loom_timer_init_conn(&s->timer, c, sess_greet_timer, s);
    s->counted = 1;
    if (conf->max_conn_per_ip &&
        smtp_ip_open(smtp_inst(s->inst), s->peer) > conf->max_conn_per_ip) {
        sess_rejected(s, SMTP_REJ_CONN_LIMIT);
        loom_conn_printf(c,
                         "421 4.7.0 %s Error: too many connections from %s\r\n",
                         conf->hostname, s->peer);
        sess_close(s);
        return LOOM_OK;
    }
    if (conf->greet_pause_ms) {
        s->state = SS_GREET;
        loom_timer_arm(&s->timer, conf->greet_pause_ms);
    } else {
        sess_greet(s);
    }
    return LOOM_OK;
}

void smtp_session_close(loom_conn_t *c)
{
    smtp_sess_t **slot = loom_conn_data(c);
    smtp_sess_t *s = *slot;

    if (s == NULL)
        return;
    loom_timer_disarm(&s->timer);
    if (s->deliv)
        smtp_deliver_detach(s->deliv);
    if (s->auth_job) {
        /* cancelled or running, its done still comes: it frees the job */
        loom_work_cancel(s->auth_work);
        s->auth_job->owner = NULL;
    }
    if (s->counted && smtp_inst(s->inst))
        smtp_ip_close(smtp_inst(s->inst), s->peer);
    sess_txn_reset(s);
    OPENSSL_cleanse(s->login_user, sizeof(s->login_user));
    free(s);
    *slot = NULL;
}

/* ---- commands
 * ------------------------------------------------------------------ */

typedef void (*sess_cmd_fn)(smtp_sess_t *s, const smtp_cmd_t *cmd);

static void cmd_helo(smtp_sess_t *s, const smtp_cmd_t *cmd)
{
    const smtp_conf_t *c = sess_conf(s);
    int ehlo = cmd->verb == SMTP_VERB_EHLO;

    if (cmd->arg.len == 0) {
        sess_reply(s, 501, "5.5.4", "Syntax: %s hostname",
                   ehlo ? "EHLO" : "HELO");
        return;
    }
    sess_txn_reset(s);
    sess_printable(s->helo, sizeof(s->helo), cmd->arg.p, cmd->arg.len);
    s->esmtp = ehlo ? 2 : 1;
    if (!ehlo) {
        loom_conn_printf(s->c, "250 %s\r\n", c->hostname);
        return;
    }
    loom_conn_printf(s->c, "250-%s\r\n250-PIPELINING\r\n250-SIZE %zu\r\n",
                     c->hostname, c->max_size);
    if (sess_tls_offered(s))
        loom_conn_printf(s->c, "250-STARTTLS\r\n");
    if (sess_auth_offered(s) && !s->auth_user[0])
        loom_conn_printf(s->c, "250-AUTH PLAIN LOGIN\r\n");
    loom_conn_printf(s->c, "250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n"
                           "250-DSN\r\n250-SMTPUTF8\r\n250 CHUNKING\r\n");
}

static char *sess_slice_dup(loom_slice_t sl)
{
    return loom_strndup(sl.p, sl.len);
}

static void cmd_mail(smtp_sess_t *s, const smtp_cmd_t *cmd)
{
    const smtp_conf_t *c = sess_conf(s);
    char *sender;

    if (!s->esmtp) {
        sess_reply(s, 503, "5.5.1", "Error: send HELO/EHLO first");
        return;
    }
    if (s->in_mail) {
        sess_reply(s, 503, "5.5.1", "Error: nested MAIL command");
        return;
    }
    if (s->submission && !s->auth_user[0]) {
        sess_rejected(s, sess_auth_offered(s) ? SMTP_REJ_AUTH_REQUIRED
                                              : SMTP_REJ_TLS_REQUIRED);
        if (!sess_auth_offered(s))
            sess_reply(s, 530, "5.7.0", "Must issue a STARTTLS command first");
        else
            sess_reply(s, 530, "5.7.0", "Authentication required");
        return;
    }
    sender =
        cmd->path.null ? loom_strdup("") : sess_slice_dup(cmd->path.mailbox);
    if (s->auth_user[0]) {
        const smtp_user_t *u = smtp_user_find(c->users, s->auth_user);
        char *lower = smtp_lower(loom_strdup(sender));
        int ok = u && smtp_user_may_send(u, lower);

        free(lower);
        if (!ok) {
            char shown[SMTP_ADDR_MAX + 1];

            sess_printable(shown, sizeof(shown), sender, strlen(sender));
            sess_rejected(s, SMTP_REJ_SENDER);
            sess_reply(s, 553, "5.7.1",
                       "<%s>: Sender address rejected: not owned by user %s",
                       shown, s->auth_user);
            free(sender);
            return;
        }
    }
    s->in_mail = 1;
    s->env.sender = sender;
    s->env.envid =
        cmd->params.envid.len ? sess_slice_dup(cmd->params.envid) : NULL;
    s->env.ret = (int)cmd->params.ret;
    s->env.body = (int)cmd->params.body;
    s->env.smtputf8 = cmd->params.smtputf8;
    if (s->auth_user[0])
        s->env.auth_user = loom_strdup(s->auth_user);
    {
        char client[256];

        snprintf(client, sizeof(client), "%s [%s]",
                 s->helo[0] ? s->helo : "unknown", s->peer);
        s->env.client = loom_strdup(client);
    }
    sess_reply(s, 250, "2.1.0", "Ok");
}

/* Add Maildir DIR (with Delivered-To TO) to the envelope unless there. */
static void sess_add_maildir(smtp_sess_t *s, const char *dir, const char *to)
{
    smtp_envelope_t *e = &s->env;

    for (size_t i = 0; i < e->nmaildirs; i++)
        if (strcmp(e->maildirs[i], dir) == 0)
            return;
    e->maildirs =
        loom_realloc(e->maildirs, (e->nmaildirs + 1) * sizeof(char *));
    e->delivered_to =
        loom_realloc(e->delivered_to, (e->nmaildirs + 1) * sizeof(char *));
    e->maildirs[e->nmaildirs] = loom_strdup(dir);
    e->delivered_to[e->nmaildirs] = loom_strdup(to);
    e->nmaildirs++;
}

static void sess_add_rcpt(smtp_sess_t *s, const char *addr, const char *orcpt,
                          unsigned notify, int remote)
{
    smtp_envelope_t *e = &s->env;
    smtp_env_rcpt_t *r;

    for (size_t i = 0; i < e->nrcpts; i++)
        if (e->rcpts[i].remote == remote && strcmp(e->rcpts[i].addr, addr) == 0)
            return;
    e->rcpts = loom_realloc(e->rcpts, (e->nrcpts + 1) * sizeof(*e->rcpts));
    r = &e->rcpts[e->nrcpts++];
    r->addr = loom_strdup(addr);
    r->orcpt = orcpt ? loom_strdup(orcpt) : NULL;
    r->notify = notify;
    r->remote = remote;
}

static void cmd_rcpt(smtp_sess_t *s, const smtp_cmd_t *cmd)
{
    const smtp_conf_t *c = sess_conf(s);
    smtp_dest_t dests[64];
    size_t n = 0;
    char addr[SMTP_ADDR_MAX + 1], shown[SMTP_ADDR_MAX + 1];
    char *orcpt = NULL;
    smtp_dest_kind_t kind;

    if (!s->in_mail) {
        sess_reply(s, 503, "5.5.1", "Error: need MAIL command");
        return;
    }
    if (s->nrcpt >= c->max_rcpt) {
        sess_rejected(s, SMTP_REJ_TOO_MANY_RCPTS);
        sess_reply(s, 452, "4.5.3", "Error: too many recipients");
        return;
    }
    if (cmd->path.domain.len == 0) { /* <postmaster> */
        if (c->ndomains == 0) {
            sess_rejected(s, SMTP_REJ_UNKNOWN_RCPT);
            sess_reply(s, 550, "5.1.1",
                       "<postmaster>: Recipient address rejected: no "
                       "local domain");
            return;
        }
        snprintf(addr, sizeof(addr), "postmaster@%s", c->domains[0]);
    } else {
        size_t len = cmd->path.mailbox.len;

        if (len > SMTP_ADDR_MAX)
            len = SMTP_ADDR_MAX;
        memcpy(addr, cmd->path.mailbox.p, len);
        addr[len] = '\0';
    }
    smtp_lower(addr);
    sess_printable(shown, sizeof(shown), addr, strlen(addr));
    kind = smtp_resolve_rcpt(c, addr, dests, LOOM_ARRAY_LEN(dests), &n);
    if (kind == SMTP_DEST_REMOTE &&
        (cmd->path.literal || !c->queue_dir ||
         !(s->auth_user[0] ||
           (s->have_peer && smtp_peer_may_relay(c, &s->peer_ss))))) {
        sess_rejected(s, SMTP_REJ_RELAY);
        sess_reply(s, 554, "5.7.1", "<%s>: Relay access denied", shown);
        return;
    }
    if (kind == SMTP_DEST_UNKNOWN) {
        sess_rejected(s, SMTP_REJ_UNKNOWN_RCPT);
        sess_reply(s, 550, "5.1.1",
                   "<%s>: Recipient address rejected: User unknown in local "
                   "recipient table",
                   shown);
        return;
    }
    if (kind == SMTP_DEST_LOOP) {
        sess_rejected(s, SMTP_REJ_LOOP);
        sess_reply(s, 550, "5.4.6",
                   "<%s>: Recipient address rejected: alias "
                   "loop",
                   shown);
        return;
    }
    if (cmd->params.orcpt_type.len) {
        size_t olen = cmd->params.orcpt_type.len + 1 + cmd->params.orcpt.len;

        orcpt = loom_malloc(olen + 1);
        snprintf(orcpt, olen + 1, "%.*s;%.*s", (int)cmd->params.orcpt_type.len,
                 cmd->params.orcpt_type.p, (int)cmd->params.orcpt.len,
                 cmd->params.orcpt.p);
    }
    if (kind == SMTP_DEST_REMOTE) {
        char raw[SMTP_ADDR_MAX + 1];
        size_t len = cmd->path.mailbox.len < SMTP_ADDR_MAX
                         ? cmd->path.mailbox.len
                         : SMTP_ADDR_MAX;

        memcpy(raw, cmd->path.mailbox.p, len);
        raw[len] = '\0';
        sess_add_rcpt(s, raw, orcpt, cmd->params.notify, 1);
    } else {
        sess_add_rcpt(s, addr, orcpt, cmd->params.notify, 0);
        for (size_t i = 0; i < n; i++) {
            if (dests[i].maildir)
                sess_add_maildir(s, dests[i].maildir, addr);
            else /* an alias to another domain */
                sess_add_rcpt(s, dests[i].addr, NULL, cmd->params.notify, 1);
        }
    }
    free(orcpt);
    s->nrcpt++;
    sess_reply(s, 250, "2.1.5", "Ok");
}

static void sess_sink(void *ctx, const char *p, size_t n)
{
    smtp_sess_t *s = ctx;

    loom_append(&s->msg, &s->msg_len, &s->msg_cap, p, n,
                sess_conf(s)->max_size);
}

static void cmd_data(smtp_sess_t *s, const smtp_cmd_t *cmd)
{
    if (cmd->arg.len) {
        sess_reply(s, 501, "5.5.4", "Syntax: DATA");
        return;
    }
    if (!s->in_mail) {
        sess_reply(s, 503, "5.5.1", "Error: need MAIL command");
        return;
    }
    if (s->use_bdat) {
        sess_reply(s, 503, "5.5.1", "Error: DATA after BDAT");
        return;
    }
    if (s->nrcpt == 0) {
        sess_rejected(s, SMTP_REJ_NO_RCPTS);
        sess_reply(s, 554, "5.5.1", "Error: no valid recipients");
        return;
    }
    loom_conn_printf(s->c, "354 End data with <CR><LF>.<CR><LF>\r\n");
    smtp_data_init(&s->data, SMTP_TEXT_LINE_MAX, sess_conf(s)->max_size);
    s->state = SS_DATA;
}

static void sess_bdat_end(smtp_sess_t *s);

static void cmd_bdat(smtp_sess_t *s, const smtp_cmd_t *cmd)
{
    s->bdat_error = 0;
    if (!s->in_mail || s->nrcpt == 0) {
        /* the chunk follows anyway: read it for nothing, then answer */
        s->bdat_error = 1;
        if (!s->in_mail)
            smtp_reply_set(&s->bdat_reply, 503, "5.5.1",
                           "Error: need MAIL command");
        else {
            sess_rejected(s, SMTP_REJ_NO_RCPTS);
            smtp_reply_set(&s->bdat_reply, 554, "5.5.1",
                           "Error: no valid recipients");
        }
        smtp_bdat_init(&s->bdat, 0);
    } else if (!s->use_bdat) {
        s->use_bdat = 1;
        smtp_bdat_init(&s->bdat, sess_conf(s)->max_size);
    }
    smtp_bdat_chunk(&s->bdat, cmd->bdat_size, cmd->bdat_last);
    s->state = SS_BDAT;
    if (s->bdat.remaining == 0) /* BDAT 0 [LAST]: no octets to wait for */
        sess_bdat_end(s);
}

static void cmd_rset(smtp_sess_t *s, const smtp_cmd_t *cmd)
{
    (void)cmd;
    sess_txn_reset(s);
    sess_reply(s, 250, "2.0.0", "Ok");
}

static void cmd_noop(smtp_sess_t *s, const smtp_cmd_t *cmd)
{
    (void)cmd;
    sess_reply(s, 250, "2.0.0", "Ok");
}

static void cmd_quit(smtp_sess_t *s, const smtp_cmd_t *cmd)
{
    (void)cmd;
    sess_reply(s, 221, "2.0.0", "Bye");
    sess_close(s);
}

static void cmd_vrfy(smtp_sess_t *s, const smtp_cmd_t *cmd)
{
    if (cmd->arg.len == 0) {
        sess_reply(s, 501, "5.5.4", "Syntax: VRFY address");
        return;
    }
    sess_reply(s, 252, "2.0.0",
               "Cannot VRFY user, but will accept message and attempt "
               "delivery");
}

static void cmd_help(smtp_sess_t *s, const smtp_cmd_t *cmd)
{
    (void)cmd;
    sess_reply(s, 214, "2.0.0",
               "Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY "
               "HELP STARTTLS AUTH");
}

static void cmd_starttls(smtp_sess_t *s, const smtp_cmd_t *cmd)
{
    const smtp_conf_t *c = sess_conf(s);

    if (s->tls) {
        sess_reply(s, 554, "5.5.1", "Error: TLS already active");
        return;
    }
    if (!c->starttls) {
        /* no TLS profile: not offered in EHLO, and refused with the
         * reply Postfix gives then (RFC 5321 4.2.4: 502 for a command
         * this server does not take) */
        sess_reply(s, 502, "5.5.1", "Error: command not implemented");
        return;
    }
    if (cmd->arg.len) {
        sess_reply(s, 501, "5.5.4", "Syntax: STARTTLS");
        return;
    }
    if (loom_conn_starttls(s->c, c->starttls) != LOOM_OK) {
        sess_reply(s, 454, "4.7.0", "TLS not available due to local problem");
        return;
    }
    loom_conn_printf(s->c, "220 2.0.0 Ready to start TLS\r\n");
    s->state = SS_TLS;
}

/* ---- AUTH
 * ------------------------------------------------------------------------ */

static void sess_resume(smtp_sess_t *s)
{
    s->state = SS_CMD;
    loom_conn_resume(s->c);
}

static void sess_auth_fail_now(loom_timer_t *t, void *arg)
{
    smtp_sess_t *s = arg;

    (void)t;
    loom_timer_init_conn(&s->timer, s->c, sess_greet_timer, s);
    sess_resume(s);
    sess_reply(s, 535, "5.7.8",
               "Error: authentication failed: "
               "authentication failure");
}

/* Wrong credentials: count, answer auth_failure_delay ms after AUTH began
 * (whatever the check cost: a known and an unknown user look alike). */
static void sess_auth_failed(smtp_sess_t *s)
{
    const smtp_conf_t *c = sess_conf(s);
    uint64_t spent = loom_now_ms() - s->auth_start_ms;
    unsigned n = smtp_ip_auth_failed(smtp_inst(s->inst), s->peer);

    smtp_inst(s->inst)->stats.auth_failed++;

    loom_log_peer(LOOM_LOG_INFO, loom_instance_who(s->inst), s->peer,
                  "AUTH failed for %s from %s (%u failures)", s->login_user,
                  s->peer, n);
    s->state = SS_WAIT;
    loom_conn_pause(s->c);
    loom_timer_init_conn(&s->timer, s->c, sess_auth_fail_now, s);
    loom_timer_arm(&s->timer,
                   spent < c->auth_delay_ms ? c->auth_delay_ms - spent : 0);
}

static void sess_auth_done(void *arg, int status)
{
    smtp_auth_job_t *j = arg;
    smtp_sess_t *s = j->owner;
    int ok = status == LOOM_WORK_COMPLETED && j->ok;

    smtp_auth_job_free(j);
    if (s == NULL)
        return; /* the session went away */
    s->auth_job = NULL;
    s->auth_work = NULL;
    if (!ok) {
        sess_auth_failed(s);
        return;
    }
    snprintf(s->auth_user, sizeof(s->auth_user), "%s", s->login_user);
    smtp_inst(s->inst)->stats.auth_ok++;
    sess_resume(s);
    sess_reply(s, 235, "2.7.0", "Authentication successful");
}

/* Check USER / PASS on the worker pool (or fail after the delay when
 * the user is unknown). */
static void sess_auth_check(smtp_sess_t *s, const char *user, const char *pass)
{
    const smtp_user_t *u = smtp_user_find(sess_conf(s)->users, user);
    smtp_auth_job_t *j;

    snprintf(s->login_user, sizeof(s->login_user), "%s", user);
    s->auth_step = AUTH_NONE;
    if (u == NULL) {
        sess_auth_failed(s);
        return;
    }
    j = loom_calloc(1, sizeof(*j));
    j->owner = s;
    snprintf(j->user, sizeof(j->user), "%s", user);
    snprintf(j->pass, sizeof(j->pass), "%s", pass);
    j->hash = loom_strdup(u->hash);
    s->auth_job = j;
    s->state = SS_WAIT;
    loom_conn_pause(s->c);
    s->auth_work = loom_work_submit(s->inst, smtp_auth_work, sess_auth_done, j);
}

/* One SASL response (initial or on its own line) for the current step. */
static void sess_auth_response(smtp_sess_t *s, const char *p, size_t n)
{
    char user[SMTP_AUTH_USER_MAX + 1], pass[SMTP_AUTH_PASS_MAX + 1];

    s->state = SS_CMD;
    if (n == 1 && p[0] == '*') {
        s->auth_step = AUTH_NONE;
        sess_reply(s, 501, "5.7.0", "Authentication aborted");
        return;
    }
    if (s->auth_step == AUTH_PLAIN) {
        if (smtp_sasl_plain(p, n, user, sizeof(user), pass, sizeof(pass)) !=
            LOOM_OK) {
            s->auth_step = AUTH_NONE;
            sess_reply(s, 501, "5.5.2", "Cannot decode response");
            return;
        }
        sess_auth_check(s, user, pass);
        OPENSSL_cleanse(pass, sizeof(pass));
        return;
    }
    if (s->auth_step == AUTH_LOGIN_USER) {
        if (smtp_sasl_text(p, n, s->login_user, sizeof(s->login_user)) !=
            LOOM_OK) {
            s->auth_step = AUTH_NONE;
            sess_reply(s, 501, "5.5.2", "Cannot decode response");
            return;
        }
        s->auth_step = AUTH_LOGIN_PASS;
        s->state = SS_AUTH;
        loom_conn_printf(s->c, "334 UGFzc3dvcmQ6\r\n");
        return;
    }
    if (smtp_sasl_text(p, n, pass, sizeof(pass)) != LOOM_OK) {
        s->auth_step = AUTH_NONE;
        sess_reply(s, 501, "5.5.2", "Cannot decode response");
        return;
    }
    snprintf(user, sizeof(user), "%s", s->login_user);
    sess_auth_check(s, user, pass);
    OPENSSL_cleanse(pass, sizeof(pass));
}

static int sess_mech_is(loom_slice_t m, const char *name)
{
    return m.len == strlen(name) && strncasecmp(m.p, name, m.len) == 0;
}

static void cmd_auth(smtp_sess_t *s, const smtp_cmd_t *cmd)
{
    if (!sess_auth_offered(s) || !s->esmtp) {
        sess_reply(s, 503, "5.5.1", "Error: authentication not enabled");
        return;
    }
    if (s->auth_user[0]) {
        sess_reply(s, 503, "5.5.1", "Error: already authenticated");
        return;
    }
    if (s->in_mail) {
        sess_reply(s, 503, "5.5.1", "Error: MAIL transaction in progress");
        return;
    }
    s->auth_start_ms = loom_now_ms();
    if (sess_mech_is(cmd->auth_mech, "PLAIN")) {
        s->auth_step = AUTH_PLAIN;
        if (cmd->auth_initial.len == 1 && cmd->auth_initial.p[0] == '=') {
            sess_auth_response(s, "", 0);
        } else if (cmd->auth_initial.len) {
            sess_auth_response(s, cmd->auth_initial.p, cmd->auth_initial.len);
        } else {
            s->state = SS_AUTH;
            loom_conn_printf(s->c, "334 \r\n");
        }
        return;
    }
    if (sess_mech_is(cmd->auth_mech, "LOGIN")) {
        s->auth_step = AUTH_LOGIN_USER;
        if (cmd->auth_initial.len) {
            sess_auth_response(s, cmd->auth_initial.p, cmd->auth_initial.len);
        } else {
            s->state = SS_AUTH;
            loom_conn_printf(s->c, "334 VXNlcm5hbWU6\r\n");
        }
        return;
    }
    sess_reply(s, 504, "5.5.4", "Unsupported authentication mechanism");
}

/* The command table: one handler per verb. */
static const sess_cmd_fn sess_cmds[SMTP_VERB_COUNT] = {
    [SMTP_VERB_EHLO] = cmd_helo, [SMTP_VERB_HELO] = cmd_helo,
    [SMTP_VERB_MAIL] = cmd_mail, [SMTP_VERB_RCPT] = cmd_rcpt,
    [SMTP_VERB_DATA] = cmd_data, [SMTP_VERB_BDAT] = cmd_bdat,
    [SMTP_VERB_RSET] = cmd_rset, [SMTP_VERB_NOOP] = cmd_noop,
    [SMTP_VERB_QUIT] = cmd_quit, [SMTP_VERB_VRFY] = cmd_vrfy,
    [SMTP_VERB_HELP] = cmd_help, [SMTP_VERB_STARTTLS] = cmd_starttls,
    [SMTP_VERB_AUTH] = cmd_auth,
};

static void sess_line(smtp_sess_t *s, const char *line, size_t len)
{
    smtp_parse_opts_t opts;
    smtp_cmd_t cmd;
    smtp_reply_t err;

    if (s->state == SS_AUTH) {
        sess_auth_response(s, line, len);
        return;
    }
    sess_parse_opts(s, &opts);
    if (smtp_cmd_parse(line, len, &opts, &cmd, &err) != 0) {
        /* a BDAT that cannot be parsed has no size: nothing to skip */
        if (err.code == 552) /* MAIL SIZE= past max_message_size */
            sess_rejected(s, SMTP_REJ_SIZE);
        sess_reply_r(s, &err);
        return;
    }
    if (cmd.verb <= SMTP_VERB_UNKNOWN || cmd.verb >= SMTP_VERB_COUNT ||
        sess_cmds[cmd.verb] == NULL) {
        sess_reply(s, 500, "5.5.2", "Error: command not recognized");
        return;
    }
    sess_cmds[cmd.verb](s, &cmd);
}

/* ---- end of the message: Received:, the commit
 * ----------------------------------- */

/* One access-log line per message: PEER HELO id=ID from=<S> to=N
 * size=N [auth=USER] [tls] [queue=QID] STATUS. */
static void sess_alog(smtp_sess_t *s, const char *status, const char *qid)
{
    loom_alog_t *al = loom_instance_alog(s->inst);
    char from[SMTP_ADDR_MAX + 1];

    if (al == NULL)
        return;
    sess_printable(from, sizeof(from), s->env.sender ? s->env.sender : "",
                   s->env.sender ? strlen(s->env.sender) : 0);
    loom_alog_write(
        al, "%s %s id=%s from=<%s> to=%zu size=%zu%s%s%s%s%s %s", s->peer,
        s->helo[0] ? s->helo : "-", s->msgid[0] ? s->msgid : "-", from,
        s->nrcpt, s->commit_size, s->auth_user[0] ? " auth=" : "", s->auth_user,
        s->tls ? " tls" : "", qid ? " queue=" : "", qid ? qid : "", status);
}

static void sess_committed(void *arg, int ok, const char *qid, const char *err)
{
    smtp_sess_t *s = arg;

    s->deliv = NULL;
    sess_alog(s, ok ? "stored" : "failed", qid);
    if (ok) {
        smtp_inst(s->inst)->stats.accepted++;
        smtp_inst(s->inst)->stats.accepted_bytes += s->commit_size;
    } else {
        sess_rejected(s, SMTP_REJ_STORE);
        loom_log(LOOM_LOG_ERROR, loom_instance_who(s->inst),
                 "message %s from %s not stored: %s", s->msgid, s->peer,
                 err ? err : "?");
    }
    sess_txn_reset(s);
    sess_resume(s);
    if (ok)
        sess_reply(s, 250, "2.0.0", "Ok: queued as %s", s->msgid);
    else
        sess_reply(s, 451, "4.3.0", "Error: queue file write error");
}

/* "with" of Received: (RFC 3848, RFC 6531). */
static const char *sess_with(const smtp_sess_t *s)
{
    static const char *const with[2][2][2] = {
        {{"ESMTP", "ESMTPA"}, {"ESMTPS", "ESMTPSA"}},
        {{"UTF8SMTP", "UTF8SMTPA"}, {"UTF8SMTPS", "UTF8SMTPSA"}}};

    if (s->esmtp != 2)
        return "SMTP";
    return with[s->env.smtputf8 != 0][s->tls][s->auth_user[0] != '\0'];
}

static char *sess_received(const smtp_sess_t *s, const char *id, size_t *len)
{
    const smtp_conf_t *c = sess_conf(s);
    char date[64], tls[160] = "", auth[128] = "", rcpt[SMTP_ADDR_MAX + 16] = "";
    char *h;
    int n;

    smtp_mime_rfc5322_date(time(NULL), date, sizeof(date));
    if (s->tls)
        snprintf(tls, sizeof(tls), "\r\n\t(using %s%s%s)", s->tls_version,
                 s->tls_cipher[0] ? " with cipher " : "", s->tls_cipher);
    if (s->auth_user[0])
        snprintf(auth, sizeof(auth), "\r\n\t(Authenticated sender: %s)",
                 s->auth_user);
    if (s->env.nrcpts == 1) {
        char shown[SMTP_ADDR_MAX + 1];

        sess_printable(shown, sizeof(shown), s->env.rcpts[0].addr,
                       strlen(s->env.rcpts[0].addr));
        snprintf(rcpt, sizeof(rcpt), "\r\n\tfor <%s>", shown);
    }
    n = asprintf(&h,
                 "Received: from %s ([%s])%s%s\r\n\tby %s (loom) with %s id "
                 "%s%s;\r\n\t%s\r\n",
                 s->helo[0] ? s->helo : "unknown", s->peer, tls, auth,
                 c->hostname, sess_with(s), id, rcpt, date);
    if (n < 0) {
        *len = 0;
        return NULL;
    }
    *len = (size_t)n;
    return h;
}

/* The message is whole and acceptable: make it durable, answer later. */
static void sess_commit(smtp_sess_t *s)
{
    const smtp_conf_t *c = sess_conf(s);
    smtp_pub_t pub, *pubp = NULL;
    size_t hlen;
    char *head;

    smtp_new_id(s->msgid);
    head = sess_received(s, s->msgid, &hlen);
    memset(&pub, 0, sizeof(pub));
    if (smtp_bus_wants(s->inst, c, &s->env)) {
        smtp_bus_pub_init(c, &s->env, &pub);
        pub.len = hlen + s->msg_len;
        pub.msg = loom_malloc(pub.len + 1);
        memcpy(pub.msg, head, hlen);
        if (s->msg_len)
            memcpy(pub.msg + hlen, s->msg, s->msg_len);
        pubp = &pub;
    }
    s->state = SS_WAIT;
    s->commit_size = hlen + s->msg_len;
    loom_conn_pause(s->c);
    s->deliv =
        smtp_deliver_submit(smtp_inst(s->inst), &s->env, c->queue_dir, head,
                            hlen, s->msg, s->msg_len, pubp, sess_committed, s);
    s->msg = NULL; /* taken */
    s->msg_len = s->msg_cap = 0;
    free(head);
}

static void sess_data_end(smtp_sess_t *s)
{
    smtp_reply_t r;

    s->state = SS_CMD;
    if (smtp_data_result(&s->data, &r) != 0) {
        s->msgid[0] = '\0';
        s->commit_size = (size_t)s->data.size;
        sess_alog(s, "refused", NULL);
        sess_txn_reset(s);
        sess_rejected(s, r.code == 552 ? SMTP_REJ_SIZE : SMTP_REJ_CONTENT);
        sess_reply_r(s, &r);
        return;
    }
    sess_commit(s);
}

static void sess_bdat_end(smtp_sess_t *s)
{
    s->state = SS_CMD;
    if (s->bdat_error) {
        s->bdat_error = 0;
        sess_reply_r(s, &s->bdat_reply);
        return;
    }
    if (s->bdat.too_big) {
        sess_rejected(s, SMTP_REJ_SIZE);
        sess_txn_reset(s);
        sess_reply(s, 552, "5.3.4", "Message size exceeds fixed limit");
        return;
    }
    if (!s->bdat.last) {
        sess_reply(s, 250, "2.0.0", "Ok: %llu octets",
                   (unsigned long long)s->bdat.total);
        return;
    }
    sess_commit(s);
}

/* ---- input
 * ------------------------------------------------------------------------- */

size_t smtp_session_data(loom_conn_t *c, const char *buf, size_t len)
{
    smtp_sess_t *s = sess_of(c);
    size_t used = 0;

    while (used < len) {
        const char *p = buf + used;
        size_t n = len - used, take = 0;
        loom_slice_t line;

        switch (s->state) {
        case SS_GREET:
            loom_timer_disarm(&s->timer);
            loom_conn_printf(c,
                             "554 5.5.1 %s Error: talked before the "
                             "greeting\r\n",
                             sess_conf(s)->hostname);
            sess_close(s);
            return len;
        case SS_WAIT:
            return used; /* paused: the rest waits for the worker pool */
        case SS_TLS:
        case SS_DONE:
            /* nothing sent before the TLS handshake is a command (RFC
             * 3207 5: command injection), nor after QUIT */
            return len;
        case SS_DATA:
            take = smtp_data_feed(&s->data, p, n, sess_sink, s);
            used += take;
            smtp_inst(s->inst)->stats.data_bytes += take;
            if (s->data.done)
                sess_data_end(s);
            continue;
        case SS_BDAT:
            take = smtp_bdat_feed(&s->bdat, p, n,
                                  s->bdat_error ? NULL : sess_sink, s);
            used += take;
            smtp_inst(s->inst)->stats.data_bytes += take;
            if (s->bdat.remaining == 0)
                sess_bdat_end(s);
            continue;
        case SS_SKIP: {
            const char *lf = memchr(p, '\n', n);

            if (lf == NULL)
                return len;
            used += (size_t)(lf - p) + 1;
            s->state = SS_CMD;
            sess_lines_reset(s);
            continue;
        }
        case SS_CMD:
        case SS_AUTH:
            break;
        }
        /* EHLO and MAIL change what the next line may hold */
        s->lines.max_line = sess_line_max(s);
        switch (loom_lines_next(&s->lines, p, n, &line, &take)) {
        case LOOM_LINES_MORE:
            return used;
        case LOOM_LINES_LINE:
            used += take;
            sess_line(s, line.p, line.len);
            break;
        case LOOM_LINES_RAW:
            used += take; /* never in raw mode */
            break;
        case LOOM_LINES_TOO_LONG:
            s->state = SS_SKIP;
            sess_reply(s, 500, "5.5.2", "Error: line too long");
            if (s->state == SS_DONE)
                return len;
            break;
        }
    }
    return used;
}
