/*
 * irc.h - the hub's private declarations (helper irc): the module's
 * option table and config glue, name checks over irc-parse, the
 * per-client state of the hub, the command dispatcher and the bus glue.
 * Shared internals for every irc file are in irc_int.h.
 */
#ifndef IRC_H
#define IRC_H

#include "irc_int.h"
#include "irc_sasl.h"

extern cfg_opt_t irc_options[];

/* configure / conf_free of the module (irc_conf.c). */
int irc_configure(cfg_t *sec, void **conf);
void irc_conf_free(void *conf);
/* Load c->accounts_file into c->accounts (reports errors as FILE:LINE);
 * LOOM_OK or LOOM_ERROR.  And free what it loaded. */
int irc_conf_accounts(irc_conf_t *c);
void irc_conf_accounts_free(irc_conf_t *c);

/* Fold IN with case mapping MAP into OUT (OUTLEN bytes); returns OUT. */
char *irc_fold_map(irc_casemap_t map, const char *in, char *out, size_t outlen);
/* Whether S is a valid nick / channel name under C's limits. */
int irc_nick_ok(const irc_conf_t *c, const char *s);
int irc_chan_name_ok(const irc_conf_t *c, const char *s);

/* The stream handler of the instance's own connections (irc_client.c). */
int irc_conn_open(loom_conn_t *c);
size_t irc_conn_data(loom_conn_t *c, const char *buf, size_t len);
void irc_conn_drain(loom_conn_t *c);
void irc_conn_close(loom_conn_t *c);

/* ---- the hub's per-instance and per-client state ----------------------- */

#define IRC_LABEL_MAX 64

/* Why a client left, for loom_irc_disconnects_total (irc_metrics.c
 * has the labels and the quit reasons that map to them). */
typedef enum {
    IRC_GONE_QUIT = 0, /* QUIT */
    IRC_GONE_CLOSED,   /* the connection closed without QUIT */
    IRC_GONE_PING,     /* ping timeout */
    IRC_GONE_REGISTER, /* registration timed out */
    IRC_GONE_FLOOD,    /* excess flood */
    IRC_GONE_SENDQ,    /* SendQ exceeded */
    IRC_GONE_KILLED,   /* KILL by an operator or loomctl */
    IRC_GONE_ERROR,    /* write error, ERROR from the client */
    IRC_GONE_AUTH,     /* bad password, too many SASL failures */
    IRC_GONE_SERVER,   /* shutdown, reload, the instance went away */
    IRC_GONE_COUNT
} irc_gone_t;

/* Message kinds counted (PRIVMSG, NOTICE, TAGMSG, in irc_msg.c's order). */
#define IRC_MSGKINDS 3

/* The instance's counters (loom_irc_* samples): plain increments. */
typedef struct {
    uint64_t registrations;
    uint64_t refused; /* connections refused before a client existed */
    uint64_t received[IRC_MSGKINDS];  /* commands from clients */
    uint64_t delivered[IRC_MSGKINDS]; /* lines queued to recipients */
    uint64_t gone[IRC_GONE_COUNT];
} irc_stats_t;

/* irc_inst_t.priv */
typedef struct {
    irc_map_t ips;      /* address -> open clients (uintptr_t) */
    uint64_t batch_seq; /* batch ids */
    uint64_t msg_seq;   /* msgid */
    loom_timer_t housekeeping;
    char *service_nick; /* the service user's nick as configured */
    irc_stats_t stats;
} irc_hub_t;

/* The disconnect class of a quit REASON (as irc_client_quit got it). */
irc_gone_t irc_gone_class(const char *reason);

/* The module's metrics hook and command table (irc_metrics.c,
 * irc_ctl.c). */
void irc_metrics(loom_instance_t *inst, loom_metrics_t *m);
extern const loom_ctl_cmd_t irc_ctl_commands[];

/* One held-back line (flood control). */
typedef struct irc_qline_s {
    struct irc_qline_s *next;
    size_t len;
    char line[];
} irc_qline_t;

/* A client as the hub holds it: the shared part first. */
typedef struct {
    irc_client_t c;
    loom_conn_t *conn;       /* the instance's own connection, or NULL (link) */
    int link_gone;           /* the transport is done: no ops call any more */
    int dead;                /* cut (SendQ): output refused, quit pending */
    const char *dead_reason; /* why (a static string), for the QUIT */
    int discarding;          /* dropping an over-long line up to its LF */
    loom_timer_t tick;       /* registration timeout, idle PING, ping timeout */
    uint64_t ping_sent_ms, last_pong_ms;
    /* flood control: the classic "fake lag" clock */
    uint64_t flood_ms;
    irc_qline_t *qhead, *qtail;
    unsigned qlen;
    loom_timer_t flood_timer;
    /* labeled-response */
    int collecting;
    char label[IRC_LABEL_MAX + 1];
    loom_buf_t **collected;
    size_t ncollected, capcollected;
    /* registration */
    char *pass; /* PASS given */
    /* SASL */
    irc_sasl_acc_t *sasl; /* while an AUTHENTICATE exchange runs */
    int sasl_mech;        /* 0 none, 1 PLAIN, 2 EXTERNAL */
    int sasl_busy;        /* a password check is on the pool */
    unsigned sasl_failures;
    int oper_busy;
    char async_label[IRC_LABEL_MAX + 1]; /* of the OPER / SASL on the pool */
} irc_hclient_t;

irc_hclient_t *irc_hc(irc_client_t *c);
/* The hub state of IRC. */
irc_hub_t *irc_hub(irc_inst_t *irc);

/* Collect what is written to C until irc_label_end (labeled-response;
 * nothing happens without the cap or LABEL). */
void irc_label_begin(irc_client_t *c, const char *label);
void irc_label_end(irc_client_t *c);

/* Cut C at once (output refused, transport closed, ERROR first when
 * ERROR_LINE) and quit it on the next turn: for code that may run under
 * a fan-out walk.  REASON (a static string) is the QUIT reason others
 * see, also when the transport's close comes first. */
void irc_client_kill_later(irc_client_t *c, const char *reason, int error_line);

/* Flood control (irc_dispatch.c): 1 when LINE may run now, 0 when it
 * was held back (or the client was cut for Excess Flood). */
int irc_flood_admit(irc_hclient_t *hc, const char *line, size_t len);
void irc_flood_release(loom_timer_t *t, void *arg);
void irc_flood_clear(irc_hclient_t *hc);

/* Parse and run one line of C (irc_dispatch.c). */
void irc_dispatch(irc_client_t *c, const char *line, size_t len);

/* 005 lines to C (irc_register.c). */
void irc_send_isupport(irc_client_t *c);

/* Registration (irc_register.c): finish it when everything is there. */
void irc_register_try(irc_client_t *c);

/* The service user (a registered client without transport) named NICK,
 * or NULL when the nick is taken. */
irc_client_t *irc_service_user_new(irc_inst_t *irc, const char *nick);

/* Quit every client (the instance stops or was removed). */
void irc_clients_close_all(irc_inst_t *irc, const char *reason);

/* "irc.link/1" */
extern const irc_link_service_t irc_link_service;

/* Server-time of now into BUF ("2026-01-02T03:04:05.678Z"). */
const char *irc_time_tag(char *buf, size_t len);

/* Bus (irc_bus.c): publish a channel message when CH is published. */
void irc_bus_message(irc_client_t *from, irc_chan_t *ch, const char *text,
                     const char *client_tags);
extern const loom_action_t irc_actions[];

/* The hub's commands (irc_register.c, irc_msg.c, irc_server_cmds.c). */
void irc_cmd_pass(irc_client_t *c, const irc_args_t *a);
void irc_cmd_nick(irc_client_t *c, const irc_args_t *a);
void irc_cmd_user(irc_client_t *c, const irc_args_t *a);
void irc_cmd_quit(irc_client_t *c, const irc_args_t *a);
void irc_cmd_ping(irc_client_t *c, const irc_args_t *a);
void irc_cmd_pong(irc_client_t *c, const irc_args_t *a);
void irc_cmd_privmsg(irc_client_t *c, const irc_args_t *a);
void irc_cmd_notice(irc_client_t *c, const irc_args_t *a);
void irc_cmd_tagmsg(irc_client_t *c, const irc_args_t *a);
void irc_cmd_motd(irc_client_t *c, const irc_args_t *a);
void irc_cmd_lusers(irc_client_t *c, const irc_args_t *a);
void irc_cmd_version(irc_client_t *c, const irc_args_t *a);
void irc_cmd_time(irc_client_t *c, const irc_args_t *a);
void irc_cmd_admin(irc_client_t *c, const irc_args_t *a);
void irc_cmd_info(irc_client_t *c, const irc_args_t *a);
void irc_cmd_away(irc_client_t *c, const irc_args_t *a);
void irc_cmd_ison(irc_client_t *c, const irc_args_t *a);
void irc_cmd_userhost(irc_client_t *c, const irc_args_t *a);
void irc_cmd_setname(irc_client_t *c, const irc_args_t *a);
void irc_cmd_oper(irc_client_t *c, const irc_args_t *a);
void irc_cmd_kill(irc_client_t *c, const irc_args_t *a);
void irc_cmd_error(irc_client_t *c, const irc_args_t *a);

/* CAP (irc_cap.c). */
void irc_cap_cmd(irc_client_t *c, const irc_args_t *a);
void irc_authenticate_cmd(irc_client_t *c, const irc_args_t *a);

#endif
