/*
 * test_irc_account.c - the accounts file (irc_account.h): a valid file
 * with comments, CR LF, tabs and fingerprints; lookups by case-folded
 * name and by fingerprint; every load error with its FILE:LINE; and the
 * password check on a real server's worker pool (yescrypt, SHA-512,
 * SHA-256 hashes made here with crypt_r; wrong, unknown, password-less
 * and over-long cases all report 0, exactly once, on the reactor).
 */
#include <crypt.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "core.h"
#include "server.h"
#include "irc_account.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define WAIT_SEC 60 /* bound on any wait: only ever hit by a hang */

#define FP_A                                                                   \
    "AB:CD:EF:01:23:45:67:89:ab:cd:ef:01:23:45:67:89:"                         \
    "ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89"
#define FP_B "0000000000000000000000000000000000000000000000000000000000000001"

/* crypt_r(PASS, SETTING) as a heap string (the hash a file would hold). */
static char *make_hash(const char *pass, const char *setting)
{
    struct crypt_data cd;
    const char *h;

    memset(&cd, 0, sizeof(cd));
    h = crypt_r(pass, setting, &cd);
    assert_non_null(h);
    assert_true(h[0] == '$');
    return strdup(h);
}

static void test_parse_ok(void **state)
{
    char text[2048], err[256] = "";
    irc_accounts_t *as;
    const irc_account_t *a;
    unsigned char fp[IRC_FP_LEN];
    char *h6 = make_hash("pw", "$6$abcdefgh$");

    (void)state;
    snprintf(text, sizeof(text),
             "# accounts\n"
             "\n"
             "alice %s fp=" FP_A "\r\n"
             "   # indented comment\n"
             "\t[Bot]\t*\tfp=" FP_B "\n"
             "carol %s",
             h6, h6);
    as = irc_accounts_parse(text, strlen(text), "acc", IRC_CASEMAP_RFC1459, err,
                            sizeof(err));
    assert_non_null(as);
    assert_int_equal(irc_accounts_count(as), 3);
    a = irc_accounts_find(as, "ALICE");
    assert_non_null(a);
    assert_string_equal(a->name, "alice");
    assert_string_equal(a->hash, h6);
    assert_int_equal(a->nfps, 1);
    a = irc_accounts_find(as, "{bot}"); /* rfc1459: [ ] ~ { } */
    assert_non_null(a);
    assert_string_equal(a->name, "[Bot]");
    assert_null(a->hash);
    assert_non_null(irc_accounts_find(as, "carol"));
    assert_null(irc_accounts_find(as, "dave"));
    assert_null(irc_accounts_find(as, ""));
    assert_null(irc_accounts_find(
        as, "a-name-longer-than-sixty-four-bytes-can-never-be-an-account-name"
            "-xx"));

    assert_int_equal(irc_fp_parse(FP_A, strlen(FP_A), fp), LOOM_OK);
    a = irc_accounts_find_fp(as, fp);
    assert_non_null(a);
    assert_string_equal(a->name, "alice");
    assert_int_equal(irc_fp_parse(FP_B, strlen(FP_B), fp), LOOM_OK);
    a = irc_accounts_find_fp(as, fp);
    assert_non_null(a);
    assert_string_equal(a->name, "[Bot]");
    fp[31] ^= 1;
    assert_null(irc_accounts_find_fp(as, fp));
    irc_accounts_free(as);

    /* ascii: [bot] and {bot} differ */
    snprintf(text, sizeof(text), "[bot] *\n{bot} *\n");
    as = irc_accounts_parse(text, strlen(text), "acc", IRC_CASEMAP_ASCII, err,
                            sizeof(err));
    assert_non_null(as);
    assert_int_equal(irc_accounts_count(as), 2);
    irc_accounts_free(as);
    /* empty file: no accounts */
    as = irc_accounts_parse("", 0, "acc", IRC_CASEMAP_ASCII, err, sizeof(err));
    assert_non_null(as);
    assert_int_equal(irc_accounts_count(as), 0);
    assert_null(irc_accounts_find(as, "x"));
    assert_null(irc_accounts_find_fp(as, fp));
    irc_accounts_free(as);
    irc_accounts_free(NULL);
    assert_int_equal(irc_accounts_count(NULL), 0);
    free(h6);
}

typedef struct {
    const char *text;
    const char *want; /* the whole message */
} bad_case_t;

static const bad_case_t bads[] = {
    {"9lives *\n",
     "f:1: account \"9lives\": the name must be a valid nickname of 1-64 "
     "characters"},
    {"# c\n\nna.me *\n",
     "f:3: account \"na.me\": the name must be a valid nickname of 1-64 "
     "characters"},
    {"a123456789012345678901234567890123456789012345678901234567890123x *",
     "f:1: account "
     "\"a123456789012345678901234567890123456789012345678901234567890123x\": "
     "the name must be a valid nickname of 1-64 characters"},
    {"alice\n",
     "f:1: account \"alice\": expected \"NAME HASH [fp=SHA256HEX ...]\" with "
     "HASH a crypt(3) $y$, $6$ or $5$ hash, or *"},
    {"alice secret\n",
     "f:1: account \"alice\": expected \"NAME HASH [fp=SHA256HEX ...]\" with "
     "HASH a crypt(3) $y$, $6$ or $5$ hash, or *"},
    {"alice $1$salt$hash\n",
     "f:1: account \"alice\": expected \"NAME HASH [fp=SHA256HEX ...]\" with "
     "HASH a crypt(3) $y$, $6$ or $5$ hash, or *"},
    {"alice $6$\n",
     "f:1: account \"alice\": expected \"NAME HASH [fp=SHA256HEX ...]\" with "
     "HASH a crypt(3) $y$, $6$ or $5$ hash, or *"},
    {"alice *\nbob *\nALICE *\n", "f:3: account \"ALICE\" is listed twice"},
    {"alice * " FP_B "\n",
     "f:1: account \"alice\": \"" FP_B "\" is not fp= and a SHA-256 "
     "fingerprint (64 hex digits, ':' allowed between bytes)"},
    {"alice * fp=00\n",
     "f:1: account \"alice\": \"fp=00\" is not fp= and a SHA-256 fingerprint "
     "(64 hex digits, ':' allowed between bytes)"},
    {"alice * fp=" FP_B "00\n",
     "f:1: account \"alice\": \"fp=" FP_B "00\" is not fp= and a SHA-256 "
     "fingerprint (64 hex digits, ':' allowed between bytes)"},
    {"alice * fp=" FP_B "\nbob * fp=" FP_B "\n",
     "f:2: account \"bob\": fingerprint 00000000000000000000... already "
     "belongs to account \"alice\""},
};

static void test_parse_errors(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(bads); i++) {
        char err[512] = "";
        irc_accounts_t *as =
            irc_accounts_parse(bads[i].text, strlen(bads[i].text), "f",
                               IRC_CASEMAP_RFC1459, err, sizeof(err));

        assert_null(as);
        assert_string_equal(err, bads[i].want);
    }
}

static void test_fp(void **state)
{
    static const struct {
        const char *hex;
        int ok;
    } fps[] = {
        {FP_A, 1},
        {FP_B, 1},
        {"00000000000000000000000000000000000000000000000000000000000000", 0},
        {"000000000000000000000000000000000000000000000000000000000000000", 0},
        {"00000000000000000000000000000000000000000000000000000000000000g0", 0},
        {"00:00", 0},
        {"", 0},
        {FP_B ":", 0},
        {":" FP_B, 0},
        {"0:000000000000000000000000000000000000000000000000000000000000000",
         0},
    };
    unsigned char fp[IRC_FP_LEN], sha[IRC_FP_LEN];
    char hex[2 * IRC_FP_LEN + 1];

    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(fps); i++)
        assert_int_equal(irc_fp_parse(fps[i].hex, strlen(fps[i].hex), fp),
                         fps[i].ok ? LOOM_OK : LOOM_ERROR);
    irc_fp_parse(FP_A, strlen(FP_A), fp);
    irc_fp_format(fp, hex);
    assert_string_equal(hex, "abcdef0123456789abcdef0123456789abcdef01234567"
                             "89abcdef0123456789");
    /* FIPS 180-2's "abc" vector */
    assert_int_equal(irc_fp_sha256((const unsigned char *)"abc", 3, sha),
                     LOOM_OK);
    irc_fp_format(sha, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9c"
                             "b410ff61f20015ad");
}

static void test_load(void **state)
{
    char path[] = "/tmp/test_irc_account.XXXXXX", err[512] = "";
    char missing[64];
    const char body[] = "alice *\nbob *\n";
    irc_accounts_t *as;
    int fd = mkstemp(path);

    (void)state;
    assert_true(fd >= 0);
    assert_int_equal(write(fd, body, sizeof(body) - 1), sizeof(body) - 1);
    close(fd);
    as = irc_accounts_load(path, IRC_CASEMAP_RFC1459, err, sizeof(err));
    assert_non_null(as);
    assert_int_equal(irc_accounts_count(as), 2);
    irc_accounts_free(as);
    /* an error names the path */
    fd = open(path, O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "bad\n", 4), 4);
    close(fd);
    assert_null(irc_accounts_load(path, IRC_CASEMAP_RFC1459, err, sizeof(err)));
    assert_true(strncmp(err, path, strlen(path)) == 0);
    assert_string_equal(err + strlen(path),
                        ":3: account \"bad\": expected \"NAME HASH "
                        "[fp=SHA256HEX ...]\" with HASH a crypt(3) $y$, $6$ "
                        "or $5$ hash, or *");
    unlink(path);
    snprintf(missing, sizeof(missing), "%s.gone", path);
    assert_null(
        irc_accounts_load(missing, IRC_CASEMAP_RFC1459, err, sizeof(err)));
    assert_true(strncmp(err, missing, strlen(missing)) == 0);
    assert_string_equal(err + strlen(missing), ": No such file or directory");
}

/* ---- the check on the worker pool ---------------------------------------- */

static const loom_module_t tmod = {
    .abi = LOOM_MODULE_ABI,
    .name = "irctest",
};

typedef struct {
    int calls;
    uint64_t id;
    int ok;
    char account[IRC_ACCOUNT_NAME_MAX + 1];
} result_t;

static result_t results[16];

static void on_checked(void *owner, uint64_t id, const char *account, int ok)
{
    result_t *r = &((result_t *)owner)[id];

    r->calls++;
    r->id = id;
    r->ok = ok;
    snprintf(r->account, sizeof(r->account), "%s", account);
}

static void test_check(void **state)
{
    struct event_base *base = event_base_new();
    loom_server_t *srv = loom_server_new(base);
    loom_instance_t *inst;
    char err[512] = "", text[4096], longpass[400];
    char *hy = make_hash("yes-pass", "$y$j9T$F5Jx5fExrKuPp53xLKQ..1$");
    char *h6 = make_hash("six-pass", "$6$abcdefgh$");
    char *h5 = make_hash("five-pass", "$5$abcdefgh$");
    irc_accounts_t *as;
    time_t end;
    int pending;

    (void)state;
    assert_int_equal(loom_server_start_text(srv,
                                            "workers = 2\n"
                                            "log { level = \"warn\" }\n",
                                            err, sizeof(err)),
                     LOOM_OK);
    /* an instance as a reload would add it (the next apply removes it) */
    inst = calloc(1, sizeof(*inst));
    assert_non_null(inst);
    inst->srv = srv;
    inst->mod = &tmod;
    inst->name = strdup("t");
    snprintf(inst->who, sizeof(inst->who), "irctest/t");
    inst->started = 1;
    inst->mark = 1;
    inst->next = srv->instances;
    srv->instances = inst;

    snprintf(text, sizeof(text), "yes %s\nsix %s\nfive %s\ncert *\n", hy, h6,
             h5);
    as = irc_accounts_parse(text, strlen(text), "acc", IRC_CASEMAP_RFC1459, err,
                            sizeof(err));
    assert_non_null(as);
    memset(results, 0, sizeof(results));
    memset(longpass, 'x', sizeof(longpass));
    {
        static const struct {
            const char *name, *pass;
            int ok;
        } checks[] = {
            {"yes", "yes-pass", 1},  {"YES", "yes-pass", 1},
            {"yes", "yes-Pass", 0},  {"six", "six-pass", 1},
            {"six", "", 0},          {"five", "five-pass", 1},
            {"five", "six-pass", 0}, {"cert", "", 0},
            {"cert", "anything", 0}, {"nobody", "yes-pass", 0},
        };

        for (size_t i = 0; i < ARRAY_LEN(checks); i++)
            irc_account_check(inst, irc_accounts_find(as, checks[i].name),
                              checks[i].name, checks[i].pass,
                              strlen(checks[i].pass), results, i, on_checked);
        /* over IRC_ACCOUNT_PASS_MAX: never matches, even as a prefix */
        irc_account_check(inst, irc_accounts_find(as, "six"), "six", longpass,
                          sizeof(longpass), results, 10, on_checked);
        /* a NUL inside: never matches "six-pass" */
        irc_account_check(inst, irc_accounts_find(as, "six"), "six",
                          "six-pass\0x", 10, results, 11, on_checked);
        /* the account set may go away while the checks run */
        irc_accounts_free(as);
        /* nothing is delivered inside the call */
        for (size_t i = 0; i < 12; i++)
            assert_int_equal(results[i].calls, 0);
        end = time(NULL) + WAIT_SEC;
        do {
            event_base_loop(base, EVLOOP_ONCE);
            pending = 0;
            for (size_t i = 0; i < 12; i++)
                pending += results[i].calls == 0;
        } while (pending && time(NULL) < end);
        assert_int_equal(pending, 0);
        for (size_t i = 0; i < ARRAY_LEN(checks); i++) {
            if (results[i].ok != checks[i].ok)
                print_message("# check %zu (%s): got %d\n", i, checks[i].name,
                              results[i].ok);
            assert_int_equal(results[i].calls, 1);
            assert_int_equal(results[i].id, i);
            assert_int_equal(results[i].ok, checks[i].ok);
        }
        /* the canonical name when found, the given one otherwise */
        assert_string_equal(results[1].account, "yes");
        assert_string_equal(results[9].account, "nobody");
        assert_int_equal(results[10].calls, 1);
        assert_int_equal(results[10].ok, 0);
        assert_int_equal(results[11].calls, 1);
        assert_int_equal(results[11].ok, 0);
    }
    loom_server_free(srv);
    event_base_free(base);
    free(hy);
    free(h6);
    free(h5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_ok), cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_fp),       cmocka_unit_test(test_load),
        cmocka_unit_test(test_check),
    };

    return cmocka_run_group_tests_name("irc_account", tests, NULL, NULL);
}
