/*
 * irc_sasl.h - the AUTHENTICATE exchange of IRCv3 SASL (sans I/O):
 * accumulating 400-byte base64 chunks, decoding, and splitting the PLAIN
 * and EXTERNAL responses.
 *
 * AGREED INTERFACE (issue 17, helper irc-parse): other helpers build on
 * this header; it only grows from here, nothing is removed or changed.
 *
 * The client sends its response in AUTHENTICATE lines of exactly 400
 * bytes while more follows; a shorter line ends it, and a response whose
 * length is a multiple of 400 ends with "AUTHENTICATE +".  A lone "+"
 * is an empty response, "*" aborts.
 */
#ifndef IRC_SASL_H
#define IRC_SASL_H

#include <stddef.h>

#define IRC_SASL_CHUNK_LEN 400 /* bytes of base64 per AUTHENTICATE */
#define IRC_SASL_B64_MAX 1600  /* base64 bytes of one response (4 chunks) */
#define IRC_SASL_FIELD_MAX 300 /* authzid / authcid / passwd bytes */

#define IRC_SASL_MECHS "PLAIN,EXTERNAL" /* for CAP LS 302 sasl= and 908 */

/* What irc_sasl_feed says.  The numerics the session sends:
 *   MORE     nothing: wait for the next AUTHENTICATE;
 *   DONE     the response is complete: irc_sasl_decode it;
 *   ABORT    906 ERR_SASLABORTED ("*");
 *   CHUNK    905 ERR_SASLTOOLONG (one line over 400 bytes);
 *   LONG     904 ERR_SASLFAIL (the response over IRC_SASL_B64_MAX);
 *   BAD      904 ERR_SASLFAIL (not base64 characters, empty line). */
typedef enum {
    IRC_SASL_MORE = 0,
    IRC_SASL_DONE,
    IRC_SASL_ABORT,
    IRC_SASL_CHUNK,
    IRC_SASL_LONG,
    IRC_SASL_BAD
} irc_sasl_res_t;

/* The base64 of one response, being accumulated. */
typedef struct {
    char b64[IRC_SASL_B64_MAX + 1];
    size_t len;
} irc_sasl_acc_t;

/* Empty *ACC (also uninitialised memory) for a new response, wiping what
 * it held; also after DONE or an error. */
void irc_sasl_reset(irc_sasl_acc_t *acc);

/* Feed the parameter of one AUTHENTICATE line, ARG[0..LEN).  After
 * anything but MORE the caller resets ACC (irc_sasl_decode first on
 * DONE). */
irc_sasl_res_t irc_sasl_feed(irc_sasl_acc_t *acc, const char *arg, size_t len);

/* The numeric for RES (904, 905, 906), 0 for MORE / DONE. */
int irc_sasl_numeric(irc_sasl_res_t res);

/* Decode the complete response in ACC into OUT (CAP bytes; *OUTLEN the
 * decoded length, OUT is NUL-terminated when there is room).  An empty
 * response ("+") decodes to length 0.  LOOM_OK or LOOM_ERROR (bad base64:
 * 904). */
int irc_sasl_decode(const irc_sasl_acc_t *acc, char *out, size_t cap,
                    size_t *outlen);

/* Base64 of IN[0..LEN) into OUT (CAP bytes, NUL-terminated), for the
 * server's challenge ("+" is sent for an empty one).  LOOM_OK or
 * LOOM_ERROR when it does not fit. */
int irc_sasl_encode(const char *in, size_t len, char *out, size_t cap);

/* A PLAIN response (RFC 4616): authzid NUL authcid NUL passwd. */
typedef struct {
    char authzid[IRC_SASL_FIELD_MAX + 1]; /* "" when absent */
    char authcid[IRC_SASL_FIELD_MAX + 1];
    char passwd[IRC_SASL_FIELD_MAX + 1];
} irc_sasl_plain_t;

/* Split the decoded PLAIN response IN[0..LEN) into *OUT.  LOOM_OK, or
 * LOOM_ERROR when there are not exactly two NULs, authcid or passwd is
 * empty, a field is over IRC_SASL_FIELD_MAX, or the authzid is neither
 * empty nor equal to the authcid (loom has no proxy authorization).
 * Wipe *OUT (irc_sasl_wipe) when done. */
int irc_sasl_plain(const char *in, size_t len, irc_sasl_plain_t *out);

/* An EXTERNAL response IN[0..LEN): empty, or the authzid (the account the
 * client wants; it must be the one its certificate is bound to) into
 * AUTHZID (CAP bytes, NUL-terminated, "" when empty).  LOOM_OK or
 * LOOM_ERROR (a NUL inside, too long). */
int irc_sasl_external(const char *in, size_t len, char *authzid, size_t cap);

/* Overwrite N bytes at P with zeros in a way the compiler keeps (for
 * passwords). */
void irc_sasl_wipe(void *p, size_t n);

#endif
