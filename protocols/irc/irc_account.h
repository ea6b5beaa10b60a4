/*
 * irc_account.h - the accounts file of an irc instance (SASL PLAIN and
 * EXTERNAL, nick reservation) and the password check on the worker pool.
 *
 * AGREED INTERFACE (issue 17, helper irc-parse): other helpers build on
 * this header; it only grows from here, nothing is removed or changed.
 *
 * The file: one account per line, fields separated by spaces or tabs,
 * '#' starts a comment line, blank lines are ignored:
 *
 *     NAME HASH [fp=SHA256HEX ...]
 *
 *   NAME  1-IRC_ACCOUNT_NAME_MAX bytes, a valid nickname (irc_nick_valid:
 *         so a nick equal to the account name can be reserved for it);
 *         unique under the instance's case mapping;
 *   HASH  a crypt(3) hash "$y$..." (yescrypt, `mkpasswd -m yescrypt`),
 *         "$6$..." (SHA-512) or "$5$..." (SHA-256), or "*": no password,
 *         the account logs in only with SASL EXTERNAL;
 *   fp=   the SHA-256 fingerprint of a TLS client certificate bound to
 *         the account (SASL EXTERNAL): 64 hex digits, upper or lower
 *         case, optionally with ':' between bytes (as `openssl x509
 *         -fingerprint -sha256` prints it).  A fingerprint belongs to
 *         one account only.
 * Errors: "FILE:LINE: message".
 */
#ifndef IRC_ACCOUNT_H
#define IRC_ACCOUNT_H

#include <stddef.h>
#include <stdint.h>

#include "loom.h"
#include "irc_util.h"

#define IRC_ACCOUNT_NAME_MAX 64
#define IRC_ACCOUNT_PASS_MAX 256 /* longer passwords never match */
#define IRC_FP_LEN 32            /* SHA-256 */

typedef struct {
    char *name; /* as written in the file */
    char *hash; /* crypt(3) hash; NULL for "*" */
    unsigned char (*fps)[IRC_FP_LEN];
    size_t nfps;
} irc_account_t;

typedef struct irc_accounts_s irc_accounts_t;

/* Parse the accounts file TEXT[0..LEN) (FNAME only for messages), names
 * compared under CM.  Returns a new set (free with irc_accounts_free) or
 * NULL with "FNAME:LINE: message" in ERR (ERRLEN bytes). */
irc_accounts_t *irc_accounts_parse(const char *text, size_t len,
                                   const char *fname, irc_casemap_t cm,
                                   char *err, size_t errlen);

/* Read and parse the file PATH (at most 16 MiB), like irc_accounts_parse;
 * a file that cannot be read is "PATH: reason". */
irc_accounts_t *irc_accounts_load(const char *path, irc_casemap_t cm, char *err,
                                  size_t errlen);

/* Free AS (NULL is fine), wiping the hashes. */
void irc_accounts_free(irc_accounts_t *as);

/* Number of accounts in AS. */
size_t irc_accounts_count(const irc_accounts_t *as);

/* The account named NAME under AS's case mapping, or NULL.  The pointer
 * is valid while AS lives (a reload may free AS: do not keep it across
 * an event; keep the name). */
const irc_account_t *irc_accounts_find(const irc_accounts_t *as,
                                       const char *name);

/* The account a certificate fingerprint FP is bound to, or NULL. */
const irc_account_t *irc_accounts_find_fp(const irc_accounts_t *as,
                                          const unsigned char *fp);

/* Parse a fingerprint HEX[0..LEN) (64 hex digits, ':' allowed between
 * bytes) into OUT (IRC_FP_LEN bytes).  LOOM_OK or LOOM_ERROR. */
int irc_fp_parse(const char *hex, size_t len, unsigned char *out);

/* FP as 64 lower-case hex digits into OUT (65 bytes, NUL-terminated). */
void irc_fp_format(const unsigned char *fp, char *out);

/* The SHA-256 of a certificate's DER bytes into OUT (IRC_FP_LEN bytes).
 * LOOM_OK or LOOM_ERROR. */
int irc_fp_sha256(const unsigned char *der, size_t len, unsigned char *out);

/* What irc_account_check reports, on the reactor thread: OWNER and ID as
 * given, ACCOUNT the account name (valid during the call only), OK 1 when
 * the password matched, 0 otherwise (also when the job was cancelled). */
typedef void (*irc_account_done_fn)(void *owner, uint64_t id,
                                    const char *account, int ok);

/* Check PASS[0..PLEN) against ACCT's hash with crypt_r on INST's worker
 * pool; DONE(OWNER, ID, ...) runs later on the reactor, exactly once,
 * with ACCT's name (or ACCOUNT, the name the client gave, when ACCT is
 * NULL).
 * The job copies the name, hash and password (wiped when done), so ACCT
 * may go away meanwhile; OWNER must stay valid until DONE runs (the
 * instance's state is: a stopping instance runs every done first) and
 * ID lets DONE find the client again, or find it gone.  ACCT NULL (an
 * unknown name), an account without password, or a password over
 * IRC_ACCOUNT_PASS_MAX still goes through the pool (so unknown names cost
 * as much as wrong passwords) and reports OK 0. */
void irc_account_check(loom_instance_t *inst, const irc_account_t *acct,
                       const char *account, const char *pass, size_t plen,
                       void *owner, uint64_t id, irc_account_done_fn done);

#endif
