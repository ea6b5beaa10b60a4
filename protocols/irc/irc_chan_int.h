/*
 * irc_chan_int.h - what irc-chan's files share (irc_chan.c, irc_chan_mode.c,
 * irc_who.c): a channel's own state behind irc_chan_t.priv (modes, key,
 * limit, topic, the b/e/I lists, pending invites) and the checks and
 * replies more than one command needs.  Private to those files.
 */
#ifndef IRC_CHAN_INT_H
#define IRC_CHAN_INT_H

#include "irc_int.h"
#include "irc_mode.h"

/* Channel modes without a parameter (irc_chan_state_t.modes). */
enum {
    CHAN_MODE_I = 1u << 0, /* +i invite only */
    CHAN_MODE_M = 1u << 1, /* +m moderated */
    CHAN_MODE_N = 1u << 2, /* +n no messages from outside */
    CHAN_MODE_P = 1u << 3, /* +p private */
    CHAN_MODE_S = 1u << 4, /* +s secret */
    CHAN_MODE_T = 1u << 5  /* +t only operators set the topic */
};

/* The modes a new channel starts with: +nt, as most ircds. */
#define CHAN_MODES_NEW (CHAN_MODE_N | CHAN_MODE_T)

/* Pending invites kept per channel (the oldest is forgotten first). */
#define CHAN_INVITES_MAX 64

/* Room for "nick!user@host". */
#define CHAN_PREFIX_BUF (IRC_NICK_BUF + IRC_USER_BUF + IRC_HOST_BUF + 2)

/* One entry of a list mode (+b, +e, +I). */
typedef struct {
    char *mask; /* normalized nick!user@host (irc_mask_normalize) */
    char setter[CHAN_PREFIX_BUF];
    time_t when;
} chan_entry_t;

typedef struct {
    chan_entry_t *v;
    size_t n, cap;
} chan_list_t;

typedef struct {
    unsigned modes; /* CHAN_MODE_* */
    char *key;      /* +k, or NULL */
    unsigned limit; /* +l, 0 when unset */
    char *topic;    /* NULL when unset */
    char topic_by[CHAN_PREFIX_BUF];
    time_t topic_time;
    chan_list_t bans, excepts, invex;
    uint64_t invited[CHAN_INVITES_MAX]; /* client ids; 0: free slot */
    size_t invite_next;
} irc_chan_state_t;

/* irc_inst_t.chan_priv */
typedef struct {
    irc_modeset_t modeset; /* IRC_CHANMODES / IRC_PREFIX */
} irc_chan_inst_t;

static inline irc_chan_state_t *chan_state(const irc_chan_t *ch)
{
    return ch->priv;
}

/* C's membership of CH through C's own (short) list, or NULL. */
irc_member_t *chan_member_of(irc_chan_t *ch, const irc_client_t *c);

/* 1 when CH is hidden from non-members (+s or +p). */
int chan_hidden(const irc_chan_t *ch);

/* 1 when C matches an entry of LIST (by nick!user@host and by
 * nick!user@ip). */
int chan_list_match(const irc_chan_t *ch, const chan_list_t *list,
                    const irc_client_t *c);

/* 1 when C is banned from CH: matches +b and no +e. */
int chan_banned(const irc_chan_t *ch, const irc_client_t *c);

/* The symbol of 353 for CH: '@' secret, '*' private, '=' public. */
char chan_symbol(const irc_chan_t *ch);

/* Send CH's member list to C (353 lines, then 366), as NAMES and JOIN do;
 * members with +i are left out for a C that is not on CH. */
void chan_send_names(irc_client_t *c, irc_chan_t *ch);

/* Room for the text of a line from FROM: what follows ":PREFIX " so
 * that the line with CR LF stays within 512 bytes. */
size_t chan_room(const irc_client_t *from);

/* Cut TEXT (NUL-terminated, on a UTF-8 boundary) to chan_room(FROM). */
void chan_fit(const irc_client_t *from, char *text);

/* Take M off its channel and its client; CH is freed when left empty
 * (returns 1 then, else 0). */
int chan_member_remove(irc_member_t *m);

/* A numeric line to C formatted here, returning irc_client_write's
 * status (LOOM_AGAIN: pace the rest).  For paced output (LIST, WHO). */
int chan_numeric_paced(irc_client_t *c, int num, const char *fmt, ...)
    LOOM_PRINTF(3, 4);

/* Paced output: a job that emits items one at a time while the client's
 * transport takes them and resumes from the pacer when it drains. */
typedef struct chan_pace_s chan_pace_t;
struct chan_pace_s {
    size_t n, i; /* items, next item */
    /* Emit item I; returns irc_client_write's status (LOOM_OK also when
     * the item is skipped). */
    int (*emit)(irc_client_t *c, chan_pace_t *job, size_t i);
    /* The closing numeric, after the last item. */
    void (*end)(irc_client_t *c, chan_pace_t *job);
    void (*free)(chan_pace_t *job);
};

/* Run JOB for C now; what the transport cannot take now continues from
 * C's pacer.  JOB is freed (with job->free) when done or when C goes. */
void chan_pace_start(irc_client_t *c, chan_pace_t *job);

/* MODE (channel and user modes), irc_chan_mode.c. */
void irc_chan_cmd_mode(irc_client_t *c, const irc_args_t *a);

/* Free the lists, key and topic of a channel state (irc_chan_mode.c). */
void chan_lists_free(irc_chan_state_t *st);

#endif
