/*
 * smtp_auth.h - SASL PLAIN/LOGIN decoding and the crypt(3) check of the
 * smtp module (smtp_auth.c); the users file is in smtp.h.
 */
#ifndef SMTP_AUTH_H
#define SMTP_AUTH_H

#include <stddef.h>

#define SMTP_AUTH_USER_MAX 64
#define SMTP_AUTH_PASS_MAX 256

/* Strict base64 (RFC 4648, padding required) of IN[0..LEN) into OUT (CAP
 * bytes), *OUTLEN the decoded length.  LOOM_OK or LOOM_ERROR. */
int smtp_b64_decode(const char *in, size_t len, char *out, size_t cap,
                    size_t *outlen);

/* Base64 of IN[0..LEN) into OUT (CAP bytes, NUL-terminated).  LOOM_OK or
 * LOOM_ERROR when it does not fit. */
int smtp_b64_encode(const char *in, size_t len, char *out, size_t cap);

/* A PLAIN response (base64 of authzid NUL authcid NUL passwd) into USER
 * and PASS (NUL-terminated).  An authzid other than empty or the authcid
 * is refused.  LOOM_OK or LOOM_ERROR. */
int smtp_sasl_plain(const char *b64, size_t len, char *user, size_t ucap,
                    char *pass, size_t pcap);

/* One LOGIN response (base64 text without NUL) into OUT (NUL-terminated).
 * LOOM_OK or LOOM_ERROR. */
int smtp_sasl_text(const char *b64, size_t len, char *out, size_t cap);

/* A crypt check for the worker pool: smtp_auth_work fills OK; the job owns
 * HASH (a copy) and wipes PASS when freed. */
typedef struct smtp_auth_job_s {
    void *owner; /* the session, or NULL when it went away */
    char user[SMTP_AUTH_USER_MAX + 1];
    char pass[SMTP_AUTH_PASS_MAX + 1];
    char *hash;
    int ok;
} smtp_auth_job_t;

/* Worker-pool body: compare crypt_r(pass, hash) with hash. */
void smtp_auth_work(void *arg);

/* Free J (NULL is fine), wiping the password and hash. */
void smtp_auth_job_free(smtp_auth_job_t *j);

#endif
