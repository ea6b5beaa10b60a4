/*
 * irc_int.h - AGREED INTERFACE (issue 17): the irc module's shared
 * internals.  Owned by helper irc; helpers irc-chan (irc_chan*.c,
 * irc_who*.c) and irc-ws build on it.  From the first commit on only
 * additions: new fields at the end of a struct, new functions, new
 * capability bits.
 *
 * The shape:
 *   irc_inst_t     one per running instance (loom_instance_data): its
 *                  config, the client table (by id), the nick table and
 *                  the channel table (both irc_map_t keyed by case-folded
 *                  names), counters, the service user;
 *   irc_client_t   one per client, whatever its transport: a TCP/TLS
 *                  connection of the instance or a link of "irc.link/1"
 *                  (irc_service.h) -- both reached through irc_link_ops_t,
 *                  so nothing below cares which;
 *   irc_chan_t     a channel, irc_member_t a membership (on the channel's
 *                  list and on the client's list);
 *   irc_cmd_t      a command table entry: the dispatcher (irc_client.c)
 *                  looks a command up in the hub's tables and in
 *                  irc_chan_cmds[] / irc_who_cmds[] (irc-chan's).
 *
 * Output: every line to a client goes through irc_client_write() (a
 * loom_buf_t, handed to loom_conn_write_buf: queued by reference above
 * 512 bytes, copied into the output chain below), so the labeled-response
 * collection, the SendQ bound and closing clients are handled in one place.  A
 * line to many clients is formatted once per variant by the fan-out functions
 * (irc_fanout_chan, irc_fanout_common) and the same buffer is queued to every
 * one.
 *
 * Lifetimes: pointers to clients and channels are valid within one
 * reactor callback.  Anything kept across turns (a worker job, a timer of
 * someone else, paced output) keeps the client's id and looks it up again
 * with irc_client_by_id().  A client that quits is unlinked from every
 * table at once (irc_client_quit) and freed on a later turn.
 */
#ifndef IRC_INT_H
#define IRC_INT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#include "loom_module.h"
#include "irc_account.h"
#include "irc_parse.h"
#include "irc_service.h"
#include "irc_util.h"

/* ---- limits that are not configurable ----------------------------------- */

#define IRC_LINE_MAX 512  /* the non-tag part, with CR LF */
#define IRC_TAGS_MAX 8191 /* the tag section, with '@' and ' ' */
#define IRC_CLIENT_TAGS_MAX 4094
#define IRC_PARAMS_MAX 15
#define IRC_NICK_BUF 64  /* nicklen is at most 63 */
#define IRC_USER_BUF 16  /* USER's username, '~'-prefixed, cut to 10 */
#define IRC_HOST_BUF 64  /* textual address or a cloaked host */
#define IRC_REAL_BUF 256 /* realname (setname), cut to 255 */
#define IRC_CHAN_BUF 64  /* channellen is at most 63 */
#define IRC_ACCOUNT_BUF 64

/* ---- a string-keyed hash table ------------------------------------------
 *
 * Keys are case-folded by the caller (irc_fold) and copied into the
 * table; values are the caller's.  Iteration order is unspecified;
 * irc_map_next reads the entry it is given, so to remove the current
 * entry while iterating, take the next one first. */
typedef struct irc_map_ent_s {
    struct irc_map_ent_s *next;
    void *value;
    uint32_t hash;
    char key[]; /* NUL-terminated */
} irc_map_ent_t;

typedef struct {
    irc_map_ent_t **slots;
    size_t nslots, count;
} irc_map_t;

/* Free the table's entries (not the values) and its slots. */
void irc_map_free(irc_map_t *m);
/* The value under KEY, or NULL. */
void *irc_map_get(const irc_map_t *m, const char *key);
/* Put VALUE under KEY (copied).  Returns LOOM_OK, or LOOM_DECLINED when
 * KEY is there already (nothing changed). */
int irc_map_put(irc_map_t *m, const char *key, void *value);
/* Remove KEY; returns its value or NULL. */
void *irc_map_del(irc_map_t *m, const char *key);
/* Iterate: I starts at 0 and E at NULL; returns the next entry or NULL
 * at the end.  for (e = irc_map_next(m, &i, NULL); e; e = irc_map_next(m,
 * &i, e)) */
irc_map_ent_t *irc_map_next(const irc_map_t *m, size_t *i, irc_map_ent_t *e);

/* ---- configuration (irc_conf.c) ----------------------------------------- */

typedef struct {
    char *name; /* OPER name */
    char *hash; /* crypt(3) hash */
    char *mask; /* nick!user@host mask the client must match ("*") */
} irc_oper_t;

/* irc_casemap_t is irc_util.h's. */

typedef struct {
    char *server_name; /* "irc.example.test" */
    char *network;     /* "loom" */
    char *motd;        /* the MOTD's text (read at configure), or NULL */
    char *password;    /* PASS the server wants, or NULL */
    char *info;        /* INFO / ADMIN text */
    char *admin_email;
    irc_casemap_t casemap;
    unsigned nicklen, channellen, topiclen, kicklen, awaylen;
    unsigned maxchannels; /* channels per user */
    unsigned maxtargets;  /* targets per PRIVMSG/NOTICE/... */
    unsigned maxlist;     /* entries per list mode (b, e, I) */
    unsigned modes;       /* mode changes with a parameter per MODE */
    unsigned max_clients, clients_per_ip;
    size_t sendq;         /* bytes queued to one client before the cut */
    unsigned flood_burst; /* commands a client may send at once */
    unsigned flood_rate;  /* commands per 10 s once the burst is used */
    unsigned flood_queue; /* commands held back before Excess Flood */
    unsigned ping_interval, ping_timeout, register_timeout; /* seconds */
    unsigned whowas; /* WHOWAS entries kept */
    irc_oper_t *opers;
    size_t nopers;
    char *accounts_file;
    void *accounts;     /* irc-parse's loaded accounts, or NULL */
    int reserve_nicks;  /* a nick equal to an account name is reserved */
    char *service_nick; /* the service user's nick, or NULL (none) */
    char **publish;     /* channels published on the bus (case-folded) */
    size_t npublish;
    char **publish_topic; /* the bus topic of publish[i] ("message") */
} irc_conf_t;

/* ---- capabilities --------------------------------------------------------
 * One bit each; irc_cap.c has the table (names, values shown in LS 302). */
enum {
    IRC_CAP_CAP_NOTIFY = 1u << 0,
    IRC_CAP_MULTI_PREFIX = 1u << 1,
    IRC_CAP_USERHOST_IN_NAMES = 1u << 2,
    IRC_CAP_EXTENDED_JOIN = 1u << 3,
    IRC_CAP_AWAY_NOTIFY = 1u << 4,
    IRC_CAP_ACCOUNT_NOTIFY = 1u << 5,
    IRC_CAP_ACCOUNT_TAG = 1u << 6,
    IRC_CAP_CHGHOST = 1u << 7,
    IRC_CAP_INVITE_NOTIFY = 1u << 8,
    IRC_CAP_SETNAME = 1u << 9,
    IRC_CAP_SERVER_TIME = 1u << 10,
    IRC_CAP_MESSAGE_TAGS = 1u << 11,
    IRC_CAP_ECHO_MESSAGE = 1u << 12,
    IRC_CAP_BATCH = 1u << 13,
    IRC_CAP_LABELED_RESPONSE = 1u << 14,
    IRC_CAP_SASL = 1u << 15,
    IRC_CAP_STANDARD_REPLIES = 1u << 16
};

/* ---- clients --------------------------------------------------------------
 */

/* Registration steps seen (irc_client_t.reg). */
enum {
    IRC_REG_NICK = 1u << 0,
    IRC_REG_USER = 1u << 1,
    IRC_REG_CAP = 1u << 2,  /* CAP LS/REQ seen, END not yet: held open */
    IRC_REG_PASS = 1u << 3, /* a correct PASS (when one is wanted) */
    IRC_REG_DONE = 1u << 7  /* welcomed */
};

/* User modes (irc_client_t.umodes). */
enum {
    IRC_UMODE_INVISIBLE = 1u << 0, /* +i */
    IRC_UMODE_OPER = 1u << 1,      /* +o */
    IRC_UMODE_WALLOPS = 1u << 2    /* +w */
};

typedef struct irc_inst_s irc_inst_t;
typedef struct irc_client_s irc_client_t;
typedef struct irc_chan_s irc_chan_t;
typedef struct irc_member_s irc_member_t;

struct irc_client_s {
    irc_inst_t *inst;
    uint64_t id;               /* never 0, never reused */
    const irc_link_ops_t *ops; /* NULL for the service user */
    void *io;
    unsigned reg;            /* IRC_REG_* */
    unsigned caps;           /* IRC_CAP_* enabled */
    unsigned cap_version;    /* 0, or 302 after CAP LS 302 */
    unsigned umodes;         /* IRC_UMODE_* */
    int secure;              /* TLS transport */
    int is_service;          /* the configured service user */
    int quitting;            /* unlinked, freed on a later turn */
    char nick[IRC_NICK_BUF]; /* "*" before NICK */
    char user[IRC_USER_BUF];
    char host[IRC_HOST_BUF];
    char ip[IRC_HOST_BUF]; /* the real address, as text */
    char realname[IRC_REAL_BUF];
    char account[IRC_ACCOUNT_BUF]; /* "" when not logged in */
    char *away;                    /* AWAY text, or NULL */
    char *certfp;                  /* TLS client certificate SHA-256, or NULL */
    time_t signon;                 /* wall clock at registration */
    uint64_t last_active_ms;       /* last PRIVMSG/NOTICE etc. (WHOIS 317) */
    uint64_t last_input_ms;        /* last line of any kind */
    irc_member_t *channels;        /* this client's memberships (m->cnext) */
    unsigned nchannels;
    uint64_t mark; /* fan-out dedup stamp (irc_fanout_common) */
    /* Paced output (WHO, LIST): when set, called once the client's
     * transport drained below its low-water mark; it may set itself
     * again.  FREE (may be NULL) releases STATE when the client goes
     * first.  Set it with irc_client_set_pacer. */
    void (*pacer)(irc_client_t *c, void *state);
    void (*pacer_free)(void *state);
    void *pacer_state;
    void *priv; /* the hub's private per-client state (irc_client.c) */
};

/* ---- channels (irc-chan's code; fields used by the hub's fan-out) ------- */

/* Prefix modes of a membership (irc_member_t.modes). */
enum {
    IRC_MEMBER_VOICE = 1u << 0, /* +v, '+' */
    IRC_MEMBER_OP = 1u << 1     /* +o, '@' */
};

struct irc_member_s {
    irc_chan_t *chan;
    irc_client_t *client;
    unsigned modes;              /* IRC_MEMBER_* */
    irc_member_t *next, *prev;   /* on the channel's list */
    irc_member_t *cnext, *cprev; /* on the client's list */
};

struct irc_chan_s {
    irc_inst_t *inst;
    char name[IRC_CHAN_BUF];   /* as first created */
    char folded[IRC_CHAN_BUF]; /* the key in inst->chans */
    irc_member_t *members;     /* list head */
    unsigned nmembers;
    time_t created;
    void *priv; /* irc-chan's own state: modes, topic, lists ... */
};

/* ---- the instance ---------------------------------------------------------
 */

struct irc_inst_s {
    loom_instance_t *inst;
    irc_map_t clients_by_id; /* key: the id in decimal */
    irc_map_t nicks;         /* key: folded nick -> irc_client_t */
    irc_map_t chans;         /* key: folded name -> irc_chan_t */
    unsigned nclients;       /* registered, service user included */
    unsigned nunknown;       /* connected, not registered yet */
    unsigned nopers;         /* with +o */
    unsigned max_seen;       /* most clients at once (LUSERS 266) */
    uint64_t fanout_mark;    /* irc_fanout_common's last stamp */
    time_t created;          /* for 003 */
    irc_client_t *service;   /* the service user, or NULL */
    int stopping;
    void *chan_priv; /* irc-chan's per-instance state */
    void *who_priv;  /* irc_who's per-instance state (WHOWAS history) */
    void *priv;      /* the hub's */
};

/* The running config of IRC (irc_inst_t). */
const irc_conf_t *irc_conf(const irc_inst_t *irc);

/* The irc_inst_t of a running loom instance of module irc. */
irc_inst_t *irc_inst(loom_instance_t *inst);

/* ---- case mapping (wrappers over irc-parse's, with the instance's map) -- */

/* Fold IN (NUL-terminated) into OUT (OUTLEN bytes, always terminated,
 * cut when longer) with the instance's case mapping; returns OUT. */
char *irc_fold(const irc_inst_t *irc, const char *in, char *out, size_t outlen);
/* 1 when A and B are equal under the instance's case mapping. */
int irc_name_eq(const irc_inst_t *irc, const char *a, const char *b);

/* ---- clients (irc_client.c) ---------------------------------------------- */

/* The client with ID, or NULL (gone, quitting, or never existed). */
irc_client_t *irc_client_by_id(irc_inst_t *irc, uint64_t id);
/* The registered client whose nick is NICK (folded here), or NULL. */
irc_client_t *irc_client_by_nick(irc_inst_t *irc, const char *nick);
/* "nick!user@host" of C into BUF; returns BUF. */
const char *irc_client_prefix(const irc_client_t *c, char *buf, size_t len);
/* 1 when C is registered (welcomed). */
int irc_client_registered(const irc_client_t *c);
/* Queue LINE (a whole line with CR LF) to C: counted against its SendQ
 * (past it: "ERROR :SendQ exceeded" and the client is closed), collected
 * instead while C runs a labeled command.  Returns LOOM_OK, LOOM_AGAIN
 * (above the transport's high-water mark: paced output should wait for
 * the pacer), or LOOM_ERROR (C is quitting; nothing queued). */
int irc_client_write(irc_client_t *c, loom_buf_t *line);
/* Set (or clear with FN NULL) C's pacer; an earlier state is freed with
 * its pacer_free first. */
void irc_client_set_pacer(irc_client_t *c,
                          void (*fn)(irc_client_t *c, void *state),
                          void (*free_fn)(void *state), void *state);
/* C leaves the server: QUIT :REASON to everyone sharing a channel
 * (once each), irc_chan_part_all, WHOWAS remembered, nick and id
 * unlinked, the transport closed after ERROR (when ERROR_LINE is
 * non-zero).  Idempotent; C stays readable until this callback returns. */
void irc_client_quit(irc_client_t *c, const char *reason, int error_line);

/* ---- replies (irc_msg.c) ------------------------------------------------- */

/* Send ":SERVER NUM NICK " + printf(FMT) + CRLF to C (NICK is "*" before
 * registration).  NUM is a numeric, 1..999. */
void irc_numeric(irc_client_t *c, int num, const char *fmt, ...)
    LOOM_PRINTF(3, 4);
/* Send printf(FMT) + CRLF to C as it is (FMT holds its own prefix). */
void irc_send(irc_client_t *c, const char *fmt, ...) LOOM_PRINTF(2, 3);
/* Send ":SERVER " + printf(FMT) + CRLF to C. */
void irc_send_server(irc_client_t *c, const char *fmt, ...) LOOM_PRINTF(2, 3);
/* A standard reply (FAIL / WARN / NOTE; KIND as given) for command CMD
 * with CODE, CONTEXT (may be NULL) and DESCRIPTION; sent as is when the
 * client has standard-replies, else as a NOTICE. */
void irc_std_reply(irc_client_t *c, const char *kind, const char *cmd,
                   const char *code, const char *context,
                   const char *description);
/* 461 ERR_NEEDMOREPARAMS for CMD. */
void irc_err_needmore(irc_client_t *c, const char *cmd);
/* 401 ERR_NOSUCHNICK for NAME (nick or channel). */
void irc_err_nosuchnick(irc_client_t *c, const char *name);
/* 403 ERR_NOSUCHCHANNEL for NAME. */
void irc_err_nosuchchannel(irc_client_t *c, const char *name);

/* ---- fan-out (irc_msg.c) --------------------------------------------------
 *
 * One event to many clients.  The line is ":PREFIX TEXT" (PREFIX the
 * source's nick!user@host, or the server name when FROM is NULL), with,
 * per recipient's capabilities, the tags @time (server-time), @account
 * (account-tag, when FROM is logged in), @msgid and the relayed client
 * tags (message-tags).  Each distinct variant is formatted once and the
 * same buffer queued to every recipient of that variant. */
typedef struct {
    irc_client_t *from;      /* source, or NULL for the server */
    const char *text;        /* "PRIVMSG #chan :hello" (no prefix, no CRLF) */
    const char *client_tags; /* "+a=b;+c" (escaped, no '@'), or NULL */
    unsigned caps_all;       /* only recipients with all of these caps */
    unsigned caps_none;      /* only recipients with none of these caps */
    unsigned min_modes;      /* STATUSMSG: only members with a prefix mode >=
                              * this (IRC_MEMBER_VOICE / IRC_MEMBER_OP); 0 all */
    int echo;                /* also FROM itself when it has echo-message (or
                              * always, for JOIN/PART/... : see self) */
    int self;                /* also FROM itself, whatever its caps */
} irc_out_t;

/* Send O to the members of CH (except O->from unless o->echo / o->self
 * says otherwise).  Returns how many clients it was queued to. */
unsigned irc_fanout_chan(irc_chan_t *ch, const irc_out_t *o);
/* Send O to every client sharing a channel with WHO (once each; WHO
 * itself when o->self), for QUIT, NICK, AWAY, ACCOUNT, CHGHOST,
 * SETNAME. */
unsigned irc_fanout_common(irc_client_t *who, const irc_out_t *o);
/* Send O to client TO alone (a PRIVMSG to a nick, INVITE), with TO's
 * variant of the tags. */
void irc_send_out(irc_client_t *to, const irc_out_t *o);

/* ---- commands -------------------------------------------------------------
 *
 * A parsed line as command handlers see it.  Strings are NUL-terminated
 * and valid during the call. */
typedef struct {
    const char *cmd;                    /* upper-cased */
    const char *params[IRC_PARAMS_MAX]; /* the trailing one included */
    unsigned nparams;
    const char *client_tags; /* "+a=b;+c" as received (escaped), or NULL */
    const char *label;       /* labeled-response label, or NULL */
} irc_args_t;

/* irc_cmd_t.flags */
enum {
    IRC_CMD_PREREG = 1u << 0,  /* allowed before registration */
    IRC_CMD_ONLYPRE = 1u << 1, /* only before (PASS, USER): 462 after */
    IRC_CMD_OPER = 1u << 2,    /* needs +o (481) */
    IRC_CMD_ACTIVE = 1u << 3   /* resets the idle time (WHOIS 317) */
};

typedef struct {
    const char *name;    /* upper case */
    unsigned min_params; /* fewer: 461 (before FN runs) */
    unsigned flags;      /* IRC_CMD_* */
    unsigned cost;       /* flood cost in commands (0: 1) */
    void (*fn)(irc_client_t *c, const irc_args_t *a);
} irc_cmd_t;

/* The tables, each ended by an entry whose name is NULL. */
extern const irc_cmd_t irc_hub_cmds[];  /* irc_client.c, irc_server_cmds.c */
extern const irc_cmd_t irc_chan_cmds[]; /* irc_chan.c: JOIN PART TOPIC NAMES
                                         * LIST MODE KICK INVITE */
extern const irc_cmd_t irc_who_cmds[];  /* irc_who.c: WHO WHOIS WHOWAS */

/* ---- what irc-chan implements (irc_chan.c, irc_who.c) -------------------- */

/* Instance setup and teardown of the channel side (the channel table in
 * irc->chans, irc->chan_priv, irc->who_priv).  fini frees every channel
 * (all clients are gone by then). */
void irc_chan_init(irc_inst_t *irc);
void irc_chan_fini(irc_inst_t *irc);

/* The channel NAME (folded here), or NULL. */
irc_chan_t *irc_chan_find(irc_inst_t *irc, const char *name);
/* C's membership of CH, or NULL. */
irc_member_t *irc_member_find(irc_chan_t *ch, const irc_client_t *c);

/* C joins NAME as a JOIN command would (key KEY, may be NULL), with the
 * JOIN fan-out, topic and NAMES to C.  FORCE skips the checks (bans,
 * keys, limits, invite-only): the service user joining the channels it
 * serves.  Returns 0, or the numeric that refused it (sent to C). */
int irc_chan_join(irc_client_t *c, const char *name, const char *key,
                  int force);
/* Whether C may speak in CH (+n, +m, bans); 0 when it may, else the
 * numeric to send (404 ERR_CANNOTSENDTOCHAN). */
int irc_chan_can_send(irc_client_t *c, irc_chan_t *ch);
/* Remove C from every channel without any message (the caller sent QUIT
 * or KILL); channels left empty are freed. */
void irc_chan_part_all(irc_client_t *c);
/* The prefix characters of M ("@+" with multi-prefix, else the highest:
 * "@"), into BUF; returns BUF. */
const char *irc_member_prefix(const irc_member_t *m, int multi, char *buf,
                              size_t len);

/* WHOWAS: remember C (nick, user, host, realname, server, time) before it
 * quits or changes nick.  Bounded by the config's whowas. */
void irc_who_remember(irc_client_t *c);
/* Instance teardown of the WHOWAS history. */
void irc_who_fini(irc_inst_t *irc);

/* ---- hooks for irc-chan into the hub ------------------------------------- */

/* The ISUPPORT tokens the hub sends in 005 come from the config; these
 * are the channel modes irc-chan implements, for 004 and CHANMODES. */
#define IRC_CHANMODES "beI,k,l,imnpst"
#define IRC_CHANMODES_ALL "beIiklmnopstv"
#define IRC_USERMODES "iow"
#define IRC_PREFIX "(ov)@+"
#define IRC_STATUSMSG "@+"

#endif
