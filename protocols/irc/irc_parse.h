/*
 * irc_parse.h - the IRC line parser and serializer (sans I/O).
 *
 * AGREED INTERFACE (issue 17, helper irc-parse): other helpers build on
 * this header; it only grows from here, nothing is removed or changed.
 *
 * A line is `[@tags ][:prefix ]COMMAND[ params...][ :trailing]`, given
 * WITHOUT its CR LF.  Limits (message-tags and RFC 1459/2812):
 *   - the non-tag part is at most 510 bytes (512 with CR LF);
 *   - the tag data a client sends (between '@' and the space) is at most
 *     4094 bytes; the tag section a server sends is at most 8191 bytes
 *     including '@' and the space (IRC_TAGS_SECTION_MAX);
 *   - at most 15 parameters: as RFC 2812's grammar says, the 15th takes
 *     the rest of the line, spaces included, ':' or not.
 * A reader should therefore accept lines of up to IRC_INPUT_MAX bytes
 * before it cuts the connection; longer ones are refused with 417.
 *
 * Tag values are unescaped per message-tags: `\:` -> ';', `\s` -> ' ',
 * `\\` -> '\', `\r` -> CR, `\n` -> LF, any other `\x` -> 'x', a lone
 * trailing '\' is dropped.  Duplicate keys: the last one counts
 * (irc_msg_tag).  Client-only tags (`+name`, `+vendor/name`) are kept with
 * client = 1 so the session can relay them.
 */
#ifndef IRC_PARSE_H
#define IRC_PARSE_H

#include <stddef.h>

#define IRC_LINE_MAX 512          /* non-tag part, CR LF included */
#define IRC_CLIENT_TAGS_MAX 4094  /* tag data from a client, no '@' / ' ' */
#define IRC_TAGS_SECTION_MAX 8191 /* whole tag section incl '@' and ' ' */
#define IRC_INPUT_MAX (IRC_CLIENT_TAGS_MAX + 2 + IRC_LINE_MAX - 2)
#define IRC_PARAMS_MAX 15
#define IRC_TAGS_COUNT_MAX 64 /* tags kept per line; more are ignored */
#define IRC_OUT_MAX (IRC_TAGS_SECTION_MAX + IRC_LINE_MAX) /* output line */

/* Parse results.  What the session does with each (irc_perr_numeric):
 *   EMPTY       nothing (an empty line is ignored);
 *   TOO_LONG    417 ERR_INPUTTOOLONG (non-tag part over 510 bytes);
 *   TAGS_LONG   417 (client tag data over 4094 bytes);
 *   TAGS        dropped silently: the tag section is empty ("@ ...").
 *               Tag keys are opaque (message-tags: no validation may
 *               reject a line); empty entries ("@a;;b") are skipped and
 *               tags past IRC_TAGS_COUNT_MAX are ignored (counted in
 *               tags_ignored);
 *   NO_COMMAND  dropped silently (tags/prefix and nothing else);
 *   COMMAND     421 ERR_UNKNOWNCOMMAND (not letters, not 3 digits);
 *   BYTE        dropped silently (a NUL, CR or LF inside the line). */
typedef enum {
    IRC_PARSE_OK = 0,
    IRC_PERR_EMPTY,
    IRC_PERR_TOO_LONG,
    IRC_PERR_TAGS_LONG,
    IRC_PERR_TAGS,
    IRC_PERR_NO_COMMAND,
    IRC_PERR_COMMAND,
    IRC_PERR_BYTE
} irc_perr_t;

typedef struct {
    const char *key;   /* NUL-terminated, '+' kept for client tags */
    const char *value; /* unescaped, NUL-terminated; "" when absent */
    int has_value;     /* 1 when the key had '=' */
    int client;        /* 1 for a client-only tag (key starts with '+') */
} irc_tag_t;

/* One parsed line.  All pointers point into the buffer given to
 * irc_parse, which must outlive the message. */
typedef struct {
    irc_tag_t tags[IRC_TAGS_COUNT_MAX];
    size_t ntags;
    size_t tags_len;     /* bytes of tag data (no '@' / ' '), 0 if none */
    size_t tags_ignored; /* tags past IRC_TAGS_COUNT_MAX (not kept) */
    const char *prefix;  /* without ':'; NULL when the line had none */
    const char *command; /* upper-cased; letters or 3 digits */
    const char *params[IRC_PARAMS_MAX];
    size_t nparams;
    int trailing; /* 1 when the last parameter came after " :" */
} irc_msg_t;

/* Parse LINE[0..LEN) (no CR LF) into *MSG, in place: LINE is modified
 * (NULs written, tag values unescaped, the command upper-cased) and MSG's
 * pointers point into it.  LINE needs LEN + 1 writable bytes (a NUL is
 * stored at LINE[LEN]).  Returns IRC_PARSE_OK or an irc_perr_t; on error
 * MSG->command may still be set (COMMAND: the bad word, for 421). */
irc_perr_t irc_parse(char *line, size_t len, irc_msg_t *msg);

/* The numeric the session sends for ERR (417, 421), or 0 when the line
 * is just dropped (and for IRC_PARSE_OK). */
int irc_perr_numeric(irc_perr_t err);

/* A short English description of ERR (static string). */
const char *irc_perr_str(irc_perr_t err);

/* The value of the LAST tag named KEY in MSG (exact, case-sensitive key
 * match, '+' included), or NULL when absent.  "" for a key without value. */
const char *irc_msg_tag(const irc_msg_t *msg, const char *key);

/* Escape VALUE (NUL-terminated) as a tag value into OUT (CAP bytes,
 * NUL-terminated); returns the escaped length, or (size_t)-1 when it
 * does not fit (OUT is then unspecified). */
size_t irc_tag_escape(const char *value, char *out, size_t cap);

/* Unescape the tag value IN[0..LEN) into OUT (at least LEN + 1 bytes,
 * NUL-terminated; OUT may equal IN).  Returns the unescaped length. */
size_t irc_tag_unescape(const char *in, size_t len, char *out);

/* 1 when KEY[0..LEN) is a valid tag key: ['+'] [vendor '/'] name, vendor
 * a host name (letters, digits, '-', '.'), name 1+ of letters, digits,
 * '-'.  0 otherwise. */
int irc_tag_key_valid(const char *key, size_t len);

/* Serialize MSG's client-only tags (escaped, ';'-separated, no '@' and no
 * trailing space) into OUT (CAP bytes, NUL-terminated) for relaying; a key
 * present twice is written once, with its last value; keys that are not
 * valid (irc_tag_key_valid) are not relayed.  Returns the length, 0 when
 * there are none, or (size_t)-1 when they do not fit in CAP. */
size_t irc_msg_client_tags(const irc_msg_t *msg, char *out, size_t cap);

/* Flags for irc_format. */
#define IRC_FMT_COLON 1 /* always write ':' before the last param */
#define IRC_FMT_TRUNCATE                                                       \
    2 /* cut the last param (on a UTF-8 boundary) to                           \
         fit 512 bytes instead of failing */

/* Build one output line into OUT (CAP bytes, NUL-terminated, ending with
 * CR LF): "@TAGS " when TAGS is non-NULL and non-empty (TAGS is already
 * escaped tag data, "k=v;+k2=v2", see irc_tag_escape), ":PREFIX " when
 * PREFIX is non-NULL, COMMAND, then PARAMS[0..NPARAMS): middle params as
 * they are, the last one after ':' when it is empty, has a space, starts
 * with ':', or FLAGS has IRC_FMT_COLON.  Params must not contain CR, LF
 * or NUL; only the last may contain spaces.  The non-tag part must fit
 * 512 bytes with CR LF (or is cut with IRC_FMT_TRUNCATE) and the tag
 * section IRC_TAGS_SECTION_MAX.  Returns the length (CR LF included), or
 * (size_t)-1 when it does not fit in CAP or the limits, or a param is
 * invalid. */
size_t irc_format(char *out, size_t cap, const char *tags, const char *prefix,
                  const char *command, const char *const *params,
                  size_t nparams, int flags);

/* Truncate S[0..LEN) to at most MAX bytes without splitting a UTF-8
 * sequence; returns the new length. */
size_t irc_utf8_cut(const char *s, size_t len, size_t max);

#endif
