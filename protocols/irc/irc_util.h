/*
 * irc_util.h - IRC case mapping, nick and channel name validation, and
 * nick!user@host mask matching (sans I/O).
 *
 * AGREED INTERFACE (issue 17, helper irc-parse): other helpers build on
 * this header; it only grows from here, nothing is removed or changed.
 *
 * Case mappings (ISUPPORT CASEMAPPING):
 *   ascii           A-Z -> a-z;
 *   rfc1459         ascii plus [ ] \ ~ -> { } | ^  (the default of most
 *                   ircds and of loom);
 *   strict-rfc1459  ascii plus [ ] \ -> { } |  (no ~ -> ^).
 * Names compare equal when their case-folded forms are equal; hash tables
 * hash the folded form (irc_casehash).
 */
#ifndef IRC_UTIL_H
#define IRC_UTIL_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    IRC_CASEMAP_RFC1459 = 0,
    IRC_CASEMAP_ASCII,
    IRC_CASEMAP_STRICT_RFC1459
} irc_casemap_t;

/* NAME ("rfc1459", "ascii", "strict-rfc1459") into *OUT.  LOOM_OK or
 * LOOM_ERROR for an unknown name. */
int irc_casemap_parse(const char *name, irc_casemap_t *out);

/* The ISUPPORT name of CM (static string). */
const char *irc_casemap_name(irc_casemap_t cm);

/* The 256-entry lower-casing table of CM (static). */
const unsigned char *irc_casemap_table(irc_casemap_t cm);

/* C lower-cased under CM. */
static inline unsigned char irc_tolower(irc_casemap_t cm, unsigned char c)
{
    return irc_casemap_table(cm)[c];
}

/* Fold IN (NUL-terminated) under CM into OUT (CAP bytes, NUL-terminated).
 * Returns the length, or (size_t)-1 when IN does not fit (OUT then holds
 * a cut, NUL-terminated prefix when CAP > 0).  OUT may equal IN. */
size_t irc_casefold(irc_casemap_t cm, const char *in, char *out, size_t cap);

/* Compare A and B under CM like strcmp: <0, 0, >0. */
int irc_casecmp(irc_casemap_t cm, const char *a, const char *b);

/* A 64-bit hash (FNV-1a) of S folded under CM: equal under CM -> equal
 * hash. */
uint64_t irc_casehash(irc_casemap_t cm, const char *s);

/* 1 when NICK is a valid nickname of at most NICKLEN bytes: RFC 2812
 * characters (letters, digits, [ ] \ ` _ ^ { | } and '-'), not starting
 * with a digit or '-'; 0 otherwise (-> 432 ERR_ERRONEUSNICKNAME). */
int irc_nick_valid(const char *nick, size_t nicklen);

/* 1 when NAME is a valid channel name: its first byte is in CHANTYPES
 * (e.g. "#&"), it is 2 to CHANNELLEN bytes long, and has no space, comma,
 * BEL (^G), NUL, CR or LF; 0 otherwise (-> 403 / 476). */
int irc_chan_valid(const char *name, const char *chantypes, size_t channellen);

/* 1 when the first byte of NAME is in CHANTYPES (a channel target). */
int irc_is_channel(const char *name, const char *chantypes);

/* 1 when SUBJECT (e.g. "nick!user@host") matches MASK under CM: '*' any
 * run of bytes (also empty), '?' exactly one byte, '\' makes the next
 * byte literal ("\*", "\?", "\\").  Both are case-folded under CM.  Runs
 * in O(len(mask) * len(subject)) at worst, no recursion. */
int irc_mask_match(irc_casemap_t cm, const char *mask, const char *subject);

/* Normalize a ban/exception/invex mask IN into "nick!user@host" form in
 * OUT (CAP bytes, NUL-terminated), the way ircds do:
 *   "nick" -> "nick!*@*"          "user@host" -> "*!user@host"
 *   "nick!user" -> "nick!user@*"  "host.name" / "::1" -> "*!*@host.name"
 *   empty parts become "*"         ("!@" -> "*!*@*")
 * Spaces, commas and control bytes are refused.  Returns the length, or
 * (size_t)-1 when IN is empty/invalid or OUT is too small. */
size_t irc_mask_normalize(const char *in, char *out, size_t cap);

/* RPL_ISUPPORT (005): the values loom advertises, filled by the module
 * from its config.  Zero numbers / NULL strings leave a token out. */
typedef struct {
    const char *network;   /* NETWORK= */
    irc_casemap_t casemap; /* CASEMAPPING= */
    const char *chantypes; /* CHANTYPES=, e.g. "#&" */
    const char *chanmodes; /* CHANMODES=, e.g. IRC_CHANMODES_DEFAULT */
    const char *prefix;    /* PREFIX=, e.g. "(ov)@+" */
    const char *statusmsg; /* STATUSMSG=, e.g. "@+" */
    unsigned nicklen, channellen, topiclen, kicklen, awaylen, userlen, hostlen;
    unsigned modes;      /* MODES= (param modes per MODE line) */
    unsigned maxtargets; /* MAXTARGETS= and TARGMAX= for PRIVMSG, NOTICE,
                            TAGMSG, JOIN, PART, NAMES, WHOIS (1) */
    unsigned chanlimit;  /* CHANLIMIT=<chantypes>:n */
    unsigned maxlist;    /* MAXLIST=beI:n (bans+excepts+invex together) */
    unsigned linelen;    /* LINELEN= (512) */
    int excepts;         /* EXCEPTS=e */
    int invex;           /* INVEX=I */
    int whox;            /* WHOX */
    const char *elist;   /* ELIST=, e.g. "U" (user-count filters) */
    const char *extra;   /* more tokens, space-separated, as they are */
} irc_isupport_t;

#define IRC_ISUPPORT_TOKENS_PER_LINE 13
#define IRC_ISUPPORT_LINES_MAX 8
#define IRC_ISUPPORT_LINE_MAX 400

/* The 005 token lists: each line is up to 13 space-separated tokens
 * ("AWAYLEN=200 CASEMAPPING=rfc1459 ..."), to be sent as
 * "005 <nick> <line> :are supported by this server". */
typedef struct {
    char line[IRC_ISUPPORT_LINES_MAX][IRC_ISUPPORT_LINE_MAX];
    size_t n;
} irc_isupport_lines_t;

/* Build the token lines of IS into *OUT (tokens in a fixed order: the
 * standard ones alphabetically, then EXTRA's).  LOOM_OK, or LOOM_ERROR
 * when a token does not fit (a value over ~300 bytes or too many extra
 * tokens); *OUT then holds what fitted. */
int irc_isupport_build(const irc_isupport_t *is, irc_isupport_lines_t *out);

#endif
