/*
 * irc_mode.h - MODE strings: parsing "+o-v+l nick nick 10" into a list of
 * changes by the CHANMODES classes, user modes, and formatting applied
 * changes back into MODE lines (sans I/O).
 *
 * AGREED INTERFACE (issue 17, helper irc-parse): other helpers build on
 * this header; it only grows from here, nothing is removed or changed.
 *
 * Classes (ISUPPORT CHANMODES=A,B,C,D and PREFIX):
 *   A list modes (b e I): a param in both directions; without one it is a
 *     list request (param NULL, e.g. "MODE #c b" or "+b");
 *   B (k): a param to set; "-k" with no param is accepted (param NULL), as
 *     most ircds do;
 *   C (l): a param to set only;
 *   D (i m n s t p): never a param;
 *   P prefix modes (o v): a param (a nick) in both directions.
 * Missing params: a change that needs a param with none left is skipped
 * and counted in `missing` (ircds ignore it; the session may answer 461
 * ERR_NEEDMOREPARAMS when the line yields no change at all).  Unknown
 * letters consume no param and are collected in `unknown` (each once) for
 * 472 ERR_UNKNOWNMODE (channel) / 501 ERR_UMODEUNKNOWNFLAG (user).
 * The MODES limit: at most MAX_PARAM changes that carry a param (list
 * requests do not count) are kept per line; the rest are dropped and
 * counted in `dropped` (ircds silently ignore them).
 */
#ifndef IRC_MODE_H
#define IRC_MODE_H

#include <stddef.h>

#define IRC_MODE_CHANGES_MAX 64 /* changes kept per MODE line */

typedef enum {
    IRC_MODE_NONE = 0, /* unknown letter */
    IRC_MODE_A,        /* list: b e I */
    IRC_MODE_B,        /* always a param: k */
    IRC_MODE_C,        /* param on set: l */
    IRC_MODE_D,        /* no param: i m n s t p (and user modes) */
    IRC_MODE_PREFIX    /* membership prefix: o v */
} irc_mode_class_t;

/* Which letter is in which class: built from the CHANMODES and PREFIX
 * ISUPPORT values. */
typedef struct {
    unsigned char cls[128]; /* irc_mode_class_t per ASCII letter */
    char prefix_modes[16];  /* "ov", rank order (highest first) */
    char prefix_chars[16];  /* "@+", same order */
} irc_modeset_t;

/* The CHANMODES / PREFIX loom advertises and implements. */
#define IRC_CHANMODES_DEFAULT "beI,k,l,imnpst"
#define IRC_PREFIX_DEFAULT "(ov)@+"
#define IRC_USERMODES_DEFAULT "iow"

/* Fill *MS from CHANMODES ("beI,k,l,imnpst") and PREFIX ("(ov)@+").
 * LOOM_OK or LOOM_ERROR when a value is malformed or a letter appears
 * twice. */
int irc_modeset_init(irc_modeset_t *ms, const char *chanmodes,
                     const char *prefix);

/* The class of LETTER in MS (IRC_MODE_NONE when unknown). */
irc_mode_class_t irc_modeset_class(const irc_modeset_t *ms, char letter);

/* The prefix char of prefix mode LETTER ('o' -> '@'), or 0. */
char irc_modeset_prefix_char(const irc_modeset_t *ms, char letter);

typedef struct {
    char dir;          /* '+' or '-' */
    char letter;       /* the mode letter */
    unsigned char cls; /* irc_mode_class_t */
    const char *param; /* points into the caller's params; or NULL */
} irc_mode_change_t;

typedef struct {
    irc_mode_change_t ch[IRC_MODE_CHANGES_MAX];
    size_t n;           /* changes kept */
    char unknown[64];   /* unknown letters, each once, NUL-terminated */
    size_t missing;     /* changes skipped for want of a param */
    size_t dropped;     /* changes over MAX_PARAM or IRC_MODE_CHANGES_MAX */
    size_t used_params; /* how many of PARAMS were consumed */
} irc_modes_t;

/* Parse a channel MODESTR ("+o-v", a leading '+' is implied) with its
 * PARAMS[0..NPARAMS) (the MODE params after the mode string) into *OUT by
 * the classes of MS, keeping at most MAX_PARAM param-carrying changes
 * (the ISUPPORT MODES value; 0 = no limit).  Params are not validated
 * (nick existence, "+l" being a number, mask form: the caller's job).
 * Returns the number of changes kept (OUT->n). */
size_t irc_mode_parse_chan(const irc_modeset_t *ms, const char *modestr,
                           const char *const *params, size_t nparams,
                           size_t max_param, irc_modes_t *out);

/* Parse a user MODESTR ("+i-w") by the letters of KNOWN ("iow"), none of
 * which take a param, into *OUT (cls IRC_MODE_D).  Unknown letters go to
 * OUT->unknown (501).  Returns OUT->n. */
size_t irc_mode_parse_user(const char *known, const char *modestr,
                           irc_modes_t *out);

/* Format changes CH[0..N) into one MODE argument string in OUT (CAP
 * bytes, NUL-terminated): "+ov-k nick nick key" -- letters with merged
 * signs, then their params separated by spaces (a change with param NULL
 * writes none).  At most MAX_PARAM param-carrying changes (0 = no limit)
 * and as many as fit in CAP.  Returns how many changes were written
 * (0 when N is 0 or even one does not fit); the caller calls again with
 * the rest. */
size_t irc_mode_format(const irc_mode_change_t *ch, size_t n, size_t max_param,
                       char *out, size_t cap);

#endif
