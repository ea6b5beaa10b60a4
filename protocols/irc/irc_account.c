/*
 * irc_account.c - the accounts file (format in irc_account.h), lookups by
 * name and by certificate fingerprint, and the password check on the
 * worker pool.
 *
 * The crypt_r comparison itself is the smtp module's (smtp_auth_work,
 * constant-time compare, wiped buffers): both modules share it inside
 * libloom until it moves to the core.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "loom.h"
#include "loom_work.h"
#include "irc_account.h"
#include "../smtp/smtp_auth.h"

#define ACCOUNTS_FILE_MAX (16u << 20)

_Static_assert(IRC_ACCOUNT_PASS_MAX == SMTP_AUTH_PASS_MAX,
               "the check job holds IRC_ACCOUNT_PASS_MAX bytes");
_Static_assert(IRC_ACCOUNT_NAME_MAX <= SMTP_AUTH_USER_MAX, "name fits");

/* A setting string crypt_r hashes with, never equal to its result: the
 * check of an unknown account costs as much as that of a known one. */
#define DUMMY_SETTING "$y$j9T$loomIrcDummySalt.0123.$"

typedef struct {
    unsigned char fp[IRC_FP_LEN];
    size_t account; /* index into accounts */
} fp_ent_t;

typedef struct {
    char *folded;   /* the name folded under the case mapping */
    size_t account; /* index into accounts */
} name_ent_t;

struct irc_accounts_s {
    irc_casemap_t cm;
    irc_account_t *accounts;
    name_ent_t *names; /* sorted by folded name once parsed */
    size_t n;
    fp_ent_t *fps; /* sorted by fp */
    size_t nfps;
};

static const char *const hash_prefixes[] = {"$y$", "$6$", "$5$"};

static int hash_ok(const char *h)
{
    size_t n = strlen(h);

    if (strcmp(h, "*") == 0)
        return 1;
    for (size_t i = 0; i < sizeof(hash_prefixes) / sizeof(hash_prefixes[0]);
         i++)
        if (strncmp(h, hash_prefixes[i], 3) == 0)
            return n > 4 && n < 512 && strchr(h + 3, '$') != NULL;
    return 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int irc_fp_parse(const char *hex, size_t len, unsigned char *out)
{
    size_t o = 0, i = 0;

    while (i < len) {
        int hi, lo;

        if (o == IRC_FP_LEN || i + 1 >= len)
            return LOOM_ERROR;
        hi = hexval(hex[i]);
        lo = hexval(hex[i + 1]);
        if (hi < 0 || lo < 0)
            return LOOM_ERROR;
        out[o++] = (unsigned char)(hi << 4 | lo);
        i += 2;
        if (i < len && hex[i] == ':') {
            if (i + 1 == len)
                return LOOM_ERROR;
            i++;
        }
    }
    return o == IRC_FP_LEN ? LOOM_OK : LOOM_ERROR;
}

void irc_fp_format(const unsigned char *fp, char *out)
{
    static const char hx[] = "0123456789abcdef";

    for (size_t i = 0; i < IRC_FP_LEN; i++) {
        out[2 * i] = hx[fp[i] >> 4];
        out[2 * i + 1] = hx[fp[i] & 15];
    }
    out[2 * IRC_FP_LEN] = '\0';
}

int irc_fp_sha256(const unsigned char *der, size_t len, unsigned char *out)
{
    return SHA256(der, len, out) ? LOOM_OK : LOOM_ERROR;
}

void irc_accounts_free(irc_accounts_t *as)
{
    if (as == NULL)
        return;
    for (size_t i = 0; i < as->n; i++) {
        irc_account_t *a = &as->accounts[i];

        free(a->name);
        if (a->hash) {
            OPENSSL_cleanse(a->hash, strlen(a->hash));
            free(a->hash);
        }
        free(a->fps);
        free(as->names[i].folded);
    }
    free(as->accounts);
    free(as->names);
    free(as->fps);
    free(as);
}

/* One account line (NUL-terminated, not blank, not a comment) into AS.
 * NULL or the message of what is wrong. */
static const char *account_line(irc_accounts_t *as, char *line, char *msg,
                                size_t msglen)
{
    char *save = NULL, *name, *hash, *f;
    char folded[IRC_ACCOUNT_NAME_MAX + 1];
    irc_account_t *a;

    name = strtok_r(line, " \t", &save);
    hash = strtok_r(NULL, " \t", &save);
    if (!irc_nick_valid(name, IRC_ACCOUNT_NAME_MAX)) {
        snprintf(msg, msglen,
                 "account \"%.80s\": the name must be a valid nickname of "
                 "1-%d characters",
                 name, IRC_ACCOUNT_NAME_MAX);
        return msg;
    }
    if (hash == NULL || !hash_ok(hash)) {
        snprintf(msg, msglen,
                 "account \"%s\": expected \"NAME HASH [fp=SHA256HEX ...]\" "
                 "with HASH a crypt(3) $y$, $6$ or $5$ hash, or *",
                 name);
        return msg;
    }
    irc_casefold(as->cm, name, folded, sizeof(folded));
    for (size_t i = 0; i < as->n; i++)
        if (strcmp(as->names[i].folded, folded) == 0) {
            snprintf(msg, msglen, "account \"%s\" is listed twice", name);
            return msg;
        }
    as->accounts = loom_realloc(as->accounts, (as->n + 1) * sizeof(*a));
    as->names = loom_realloc(as->names, (as->n + 1) * sizeof(*as->names));
    a = &as->accounts[as->n];
    memset(a, 0, sizeof(*a));
    a->name = loom_strdup(name);
    a->hash = strcmp(hash, "*") == 0 ? NULL : loom_strdup(hash);
    as->names[as->n].folded = loom_strdup(folded);
    as->names[as->n].account = as->n;
    as->n++;
    while ((f = strtok_r(NULL, " \t", &save)) != NULL) {
        unsigned char fp[IRC_FP_LEN];

        if (strncmp(f, "fp=", 3) != 0 ||
            irc_fp_parse(f + 3, strlen(f + 3), fp) != LOOM_OK) {
            snprintf(msg, msglen,
                     "account \"%s\": \"%.80s\" is not fp= and a SHA-256 "
                     "fingerprint (64 hex digits, ':' allowed between bytes)",
                     name, f);
            return msg;
        }
        for (size_t i = 0; i < as->nfps; i++)
            if (memcmp(as->fps[i].fp, fp, IRC_FP_LEN) == 0) {
                snprintf(msg, msglen,
                         "account \"%s\": fingerprint %.20s... already "
                         "belongs to account \"%s\"",
                         name, f + 3, as->accounts[as->fps[i].account].name);
                return msg;
            }
        a->fps = loom_realloc(a->fps, (a->nfps + 1) * sizeof(*a->fps));
        memcpy(a->fps[a->nfps++], fp, IRC_FP_LEN);
        as->fps = loom_realloc(as->fps, (as->nfps + 1) * sizeof(*as->fps));
        memcpy(as->fps[as->nfps].fp, fp, IRC_FP_LEN);
        as->fps[as->nfps++].account = as->n - 1;
    }
    return NULL;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(((const name_ent_t *)a)->folded,
                  ((const name_ent_t *)b)->folded);
}

static int cmp_fp(const void *a, const void *b)
{
    return memcmp(((const fp_ent_t *)a)->fp, ((const fp_ent_t *)b)->fp,
                  IRC_FP_LEN);
}

irc_accounts_t *irc_accounts_parse(const char *text, size_t len,
                                   const char *fname, irc_casemap_t cm,
                                   char *err, size_t errlen)
{
    irc_accounts_t *as = loom_calloc(1, sizeof(*as));
    char *copy = loom_strndup(text, len), *p = copy;
    unsigned line = 0;
    char msg[512];

    as->cm = cm;
    while (p) {
        char *nl = strchr(p, '\n');
        const char *bad;

        if (nl)
            *nl = '\0';
        line++;
        p[strcspn(p, "\r")] = '\0';
        p += strspn(p, " \t");
        if (*p && *p != '#' &&
            (bad = account_line(as, p, msg, sizeof(msg))) != NULL) {
            snprintf(err, errlen, "%s:%u: %s", fname, line, bad);
            OPENSSL_cleanse(copy, len);
            free(copy);
            irc_accounts_free(as);
            return NULL;
        }
        p = nl ? nl + 1 : NULL;
    }
    OPENSSL_cleanse(copy, len);
    free(copy);
    if (as->n)
        qsort(as->names, as->n, sizeof(*as->names), cmp_name);
    if (as->nfps)
        qsort(as->fps, as->nfps, sizeof(*as->fps), cmp_fp);
    return as;
}

irc_accounts_t *irc_accounts_load(const char *path, irc_casemap_t cm, char *err,
                                  size_t errlen)
{
    size_t len;
    char *text = loom_read_file(path, ACCOUNTS_FILE_MAX, &len);
    irc_accounts_t *as;

    if (text == NULL) {
        snprintf(err, errlen, "%s: %s", path,
                 errno == EFBIG ? "larger than 16 MiB" : strerror(errno));
        return NULL;
    }
    as = irc_accounts_parse(text, len, path, cm, err, errlen);
    OPENSSL_cleanse(text, len);
    free(text);
    return as;
}

size_t irc_accounts_count(const irc_accounts_t *as)
{
    return as ? as->n : 0;
}

const irc_account_t *irc_accounts_find(const irc_accounts_t *as,
                                       const char *name)
{
    char folded[IRC_ACCOUNT_NAME_MAX + 1];
    name_ent_t key;
    const name_ent_t *e;

    if (as == NULL || as->n == 0 ||
        irc_casefold(as->cm, name, folded, sizeof(folded)) == (size_t)-1)
        return NULL;
    key.folded = folded;
    e = bsearch(&key, as->names, as->n, sizeof(*as->names), cmp_name);
    return e ? &as->accounts[e->account] : NULL;
}

const irc_account_t *irc_accounts_find_fp(const irc_accounts_t *as,
                                          const unsigned char *fp)
{
    fp_ent_t key;
    const fp_ent_t *e;

    if (as == NULL || as->nfps == 0)
        return NULL;
    memcpy(key.fp, fp, IRC_FP_LEN);
    e = bsearch(&key, as->fps, as->nfps, sizeof(*as->fps), cmp_fp);
    return e ? &as->accounts[e->account] : NULL;
}

/* ---- the check on the worker pool ---------------------------------------- */

typedef struct {
    smtp_auth_job_t *sj; /* owns the copies of hash and password */
    int can_match;       /* 0: a dummy check, the result is 0 anyway */
    void *owner;
    uint64_t id;
    irc_account_done_fn done;
    char name[IRC_ACCOUNT_NAME_MAX + 1];
} check_job_t;

static void check_work(void *arg)
{
    check_job_t *j = arg;

    smtp_auth_work(j->sj);
}

static void check_done(void *arg, int status)
{
    check_job_t *j = arg;
    int ok = status == LOOM_WORK_COMPLETED && j->can_match && j->sj->ok;

    j->done(j->owner, j->id, j->name, ok);
    smtp_auth_job_free(j->sj);
    free(j);
}

void irc_account_check(loom_instance_t *inst, const irc_account_t *acct,
                       const char *account, const char *pass, size_t plen,
                       void *owner, uint64_t id, irc_account_done_fn done)
{
    check_job_t *j = loom_calloc(1, sizeof(*j));
    size_t n;

    j->sj = loom_calloc(1, sizeof(*j->sj));
    j->owner = owner;
    j->id = id;
    j->done = done;
    snprintf(j->name, sizeof(j->name), "%s",
             acct      ? acct->name
             : account ? account
                       : "");
    j->can_match = acct != NULL && acct->hash != NULL &&
                   plen <= IRC_ACCOUNT_PASS_MAX &&
                   memchr(pass, '\0', plen) == NULL;
    j->sj->hash = loom_strdup(j->can_match ? acct->hash : DUMMY_SETTING);
    n = plen < IRC_ACCOUNT_PASS_MAX ? plen : IRC_ACCOUNT_PASS_MAX;
    memcpy(j->sj->pass, pass, n);
    j->sj->pass[n] = '\0';
    loom_work_submit(inst, check_work, check_done, j);
}
