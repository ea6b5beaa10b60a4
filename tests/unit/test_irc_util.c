/*
 * test_irc_util.c - case mapping (rfc1459, strict-rfc1459, ascii) byte
 * by byte, folding, comparing and hashing; nick and channel validation;
 * mask matching with wildcards and escapes, case folded; mask
 * normalisation; the ISUPPORT token lines.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "loom.h"
#include "irc_mode.h"
#include "irc_util.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---- case mapping -------------------------------------------------------- */

/* Every byte under every mapping against the definition, written
 * independently of the tables. */
static unsigned char expect_fold(irc_casemap_t cm, unsigned c)
{
    if (c >= 'A' && c <= 'Z')
        return (unsigned char)(c + 32);
    if (cm == IRC_CASEMAP_ASCII)
        return (unsigned char)c;
    if (c == '[')
        return '{';
    if (c == ']')
        return '}';
    if (c == '\\')
        return '|';
    if (c == '~' && cm == IRC_CASEMAP_RFC1459)
        return '^';
    return (unsigned char)c;
}

static void test_casemap_bytes(void **state)
{
    static const irc_casemap_t cms[] = {IRC_CASEMAP_RFC1459, IRC_CASEMAP_ASCII,
                                        IRC_CASEMAP_STRICT_RFC1459};

    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(cms); i++)
        for (unsigned c = 0; c < 256; c++)
            assert_int_equal(irc_tolower(cms[i], (unsigned char)c),
                             expect_fold(cms[i], c));
}

static void test_casemap_names(void **state)
{
    irc_casemap_t cm;

    (void)state;
    assert_int_equal(irc_casemap_parse("rfc1459", &cm), LOOM_OK);
    assert_int_equal(cm, IRC_CASEMAP_RFC1459);
    assert_int_equal(irc_casemap_parse("ascii", &cm), LOOM_OK);
    assert_int_equal(cm, IRC_CASEMAP_ASCII);
    assert_int_equal(irc_casemap_parse("strict-rfc1459", &cm), LOOM_OK);
    assert_int_equal(cm, IRC_CASEMAP_STRICT_RFC1459);
    assert_int_equal(irc_casemap_parse("RFC1459", &cm), LOOM_ERROR);
    assert_int_equal(irc_casemap_parse("rfc7613", &cm), LOOM_ERROR);
    assert_int_equal(irc_casemap_parse("", &cm), LOOM_ERROR);
    assert_string_equal(irc_casemap_name(IRC_CASEMAP_ASCII), "ascii");
    assert_string_equal(irc_casemap_name(IRC_CASEMAP_STRICT_RFC1459),
                        "strict-rfc1459");
    assert_string_equal(irc_casemap_name(IRC_CASEMAP_RFC1459), "rfc1459");
}

typedef struct {
    irc_casemap_t cm;
    const char *a, *b;
    int equal;
} cmp_case_t;

static const cmp_case_t cmps[] = {
    {IRC_CASEMAP_RFC1459, "Nick", "nICK", 1},
    {IRC_CASEMAP_RFC1459, "[foo]\\~", "{FOO}|^", 1},
    {IRC_CASEMAP_STRICT_RFC1459, "[foo]\\", "{FOO}|", 1},
    {IRC_CASEMAP_STRICT_RFC1459, "a~", "a^", 0},
    {IRC_CASEMAP_ASCII, "[x]", "{x}", 0},
    {IRC_CASEMAP_ASCII, "ABC", "abc", 1},
    {IRC_CASEMAP_RFC1459, "abc", "abcd", 0},
    {IRC_CASEMAP_RFC1459, "", "", 1},
    {IRC_CASEMAP_RFC1459, "#Chan\xc3\x89", "#chan\xc3\x89", 1},
    {IRC_CASEMAP_RFC1459, "\xc3\x89", "\xc3\xa9", 0}, /* ASCII only */
};

static void test_casecmp(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(cmps); i++) {
        const cmp_case_t *c = &cmps[i];
        char fa[64], fb[64];
        int r = irc_casecmp(c->cm, c->a, c->b);

        assert_int_equal(r == 0, c->equal);
        assert_int_equal(irc_casecmp(c->cm, c->b, c->a) == 0, c->equal);
        if (!c->equal) /* antisymmetric */
            assert_true((r < 0) == (irc_casecmp(c->cm, c->b, c->a) > 0));
        assert_int_equal(irc_casefold(c->cm, c->a, fa, sizeof(fa)),
                         strlen(c->a));
        irc_casefold(c->cm, c->b, fb, sizeof(fb));
        assert_int_equal(strcmp(fa, fb) == 0, c->equal);
        if (c->equal)
            assert_true(irc_casehash(c->cm, c->a) == irc_casehash(c->cm, c->b));
    }
    assert_true(irc_casehash(IRC_CASEMAP_RFC1459, "alice") !=
                irc_casehash(IRC_CASEMAP_RFC1459, "bob"));
}

static void test_casefold_bounds(void **state)
{
    char out[6];

    (void)state;
    assert_int_equal(irc_casefold(IRC_CASEMAP_RFC1459, "ABCDE", out, 6), 5);
    assert_string_equal(out, "abcde");
    assert_int_equal(irc_casefold(IRC_CASEMAP_RFC1459, "ABCDEF", out, 6),
                     (size_t)-1);
    assert_string_equal(out, "abcde"); /* cut, NUL-terminated */
    assert_int_equal(irc_casefold(IRC_CASEMAP_RFC1459, "A", out, 0),
                     (size_t)-1);
    /* in place */
    strcpy(out, "A[B]");
    assert_int_equal(irc_casefold(IRC_CASEMAP_RFC1459, out, out, 6), 4);
    assert_string_equal(out, "a{b}");
}

/* ---- names --------------------------------------------------------------- */

static void test_nick_valid(void **state)
{
    static const struct {
        const char *nick;
        size_t len;
        int ok;
    } nicks[] = {
        {"alice", 30, 1},    {"Alice_", 30, 1},    {"[away]", 30, 1},
        {"a-b", 30, 1},      {"`x^{|}\\", 30, 1},  {"x9", 30, 1},
        {"nine45678", 9, 1}, {"ten4567890", 9, 0}, {"", 30, 0},
        {"9lives", 30, 0},   {"-dash", 30, 0},     {"a b", 30, 0},
        {"a,b", 30, 0},      {"a!b", 30, 0},       {"a@b", 30, 0},
        {"a*", 30, 0},       {"a?", 30, 0},        {"#chan", 30, 0},
        {":colon", 30, 0},   {"a.b", 30, 0},       {"caf\xc3\xa9", 30, 0},
        {"a\x01", 30, 0},
    };

    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(nicks); i++)
        assert_int_equal(irc_nick_valid(nicks[i].nick, nicks[i].len),
                         nicks[i].ok);
}

static void test_chan_valid(void **state)
{
    static const struct {
        const char *name;
        int ok;
    } chans[] = {
        {"#loom", 1},
        {"&local", 1},
        {"#a", 1},
        {"#", 0},
        {"", 0},
        {"loom", 0},
        {"+modeless", 0},
        {"!12345", 0},
        {"#a b", 0},
        {"#a,b", 0},
        {"#a\ab", 0},
        {"#caf\xc3\xa9", 1},
        {"#with:colon", 1},
        {"##double", 1},
        {"#0123456789012345678901234567890123456789012345678", 1},  /* 50 */
        {"#01234567890123456789012345678901234567890123456789", 0}, /* 51 */
    };

    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(chans); i++)
        assert_int_equal(irc_chan_valid(chans[i].name, "#&", 50), chans[i].ok);
    assert_true(irc_is_channel("#x", "#&"));
    assert_true(irc_is_channel("&x", "#&"));
    assert_false(irc_is_channel("x", "#&"));
    assert_false(irc_is_channel("", "#&"));
    assert_false(irc_is_channel("&x", "#"));
}

/* ---- masks --------------------------------------------------------------- */

typedef struct {
    const char *mask, *subject;
    int match;
} mask_case_t;

static const mask_case_t masks[] = {
    {"*!*@*", "nick!user@host", 1},
    {"*", "", 1},
    {"", "", 1},
    {"", "x", 0},
    {"nick!*@*", "NICK!u@h", 1},
    {"nick!*@*", "nick2!u@h", 0},
    {"*!*@*.example.com", "a!b@c.example.com", 1},
    {"*!*@*.example.com", "a!b@example.com", 0},
    {"*!*@192.0.2.?", "n!u@192.0.2.7", 1},
    {"*!*@192.0.2.?", "n!u@192.0.2.77", 0},
    {"?", "", 0},
    {"??", "ab", 1},
    {"a*b*c", "aXbYc", 1},
    {"a*b*c", "aXbYcZ", 0},
    {"a*b*c*", "aXbYcZ", 1},
    {"*a", "aaaa", 1},
    {"*aab", "aaaaab", 1},
    {"*a*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 0},
    {"***", "x", 1},
    /* case folded under rfc1459 */
    {"[Away]!*@*", "{away}!u@h", 1},
    {"x~!*@*", "X^!u@h", 1},
    /* escapes: \* \? \\ are literal */
    {"a\\*b", "a*b", 1},
    {"a\\*b", "aXb", 0},
    {"a\\?b", "a?b", 1},
    {"a\\?b", "aXb", 0},
    {"a\\\\b", "a\\b", 1},
    {"a\\", "a\\", 1}, /* a lone trailing backslash is itself */
    {"*\\*", "x*", 1},
    {"*\\*", "x", 0},
};

static void test_mask_match(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(masks); i++) {
        int r = irc_mask_match(IRC_CASEMAP_RFC1459, masks[i].mask,
                               masks[i].subject);

        if (r != masks[i].match)
            print_message("# mask \"%s\" subject \"%s\": got %d\n",
                          masks[i].mask, masks[i].subject, r);
        assert_int_equal(r, masks[i].match);
    }
    /* ascii: [ and { differ */
    assert_false(irc_mask_match(IRC_CASEMAP_ASCII, "[a]", "{a}"));
    assert_true(irc_mask_match(IRC_CASEMAP_ASCII, "[A]", "[a]"));
}

/* A long pathological pattern finishes (the matcher backtracks only to the
 * last '*'). */
static void test_mask_long(void **state)
{
    static char mask[1100], subject[1100];

    (void)state;
    for (int i = 0; i < 500; i++) {
        mask[2 * i] = '*';
        mask[2 * i + 1] = 'a';
    }
    strcpy(mask + 1000, "b");
    memset(subject, 'a', 1000);
    assert_false(irc_mask_match(IRC_CASEMAP_RFC1459, mask, subject));
    subject[999] = 'b';
    assert_true(irc_mask_match(IRC_CASEMAP_RFC1459, mask + 998, subject));
}

static void test_mask_normalize(void **state)
{
    static const struct {
        const char *in, *out;
    } norm[] = {
        {"nick", "nick!*@*"},
        {"*", "*!*@*"},
        {"user@host", "*!user@host"},
        {"*@host", "*!*@host"},
        {"nick!user", "nick!user@*"},
        {"nick!user@host", "nick!user@host"},
        {"host.example", "*!*@host.example"},
        {"::1", "*!*@::1"},
        {"!@", "*!*@*"},
        {"n!@h", "n!*@h"},
        {"!u@", "*!u@*"},
        {"u@h!x", "*!u@h!x"},
        {"n!u@h@x", "n!u@h@x"},
        {"", NULL},
        {"a b", NULL},
        {"a,b", NULL},
        {"a\x01", NULL},
    };
    char out[64], small[8];

    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(norm); i++) {
        size_t n = irc_mask_normalize(norm[i].in, out, sizeof(out));

        if (norm[i].out == NULL) {
            assert_int_equal(n, (size_t)-1);
        } else {
            assert_int_equal(n, strlen(norm[i].out));
            assert_string_equal(out, norm[i].out);
        }
    }
    assert_int_equal(irc_mask_normalize("nick", small, sizeof(small)),
                     (size_t)-1); /* "nick!*@*" needs 9 */
    assert_int_equal(irc_mask_normalize("nic", small, sizeof(small)), 7);
}

/* ---- ISUPPORT ------------------------------------------------------------ */

static size_t count_tokens(const char *line)
{
    size_t n = 0;

    for (const char *p = line; *p;) {
        p += strspn(p, " ");
        if (*p == '\0')
            break;
        n++;
        p += strcspn(p, " ");
    }
    return n;
}

static int has_token(const irc_isupport_lines_t *l, const char *tok)
{
    for (size_t i = 0; i < l->n; i++) {
        const char *p = l->line[i];
        size_t tl = strlen(tok);

        while ((p = strstr(p, tok)) != NULL) {
            if ((p == l->line[i] || p[-1] == ' ') &&
                (p[tl] == ' ' || p[tl] == '\0'))
                return 1;
            p++;
        }
    }
    return 0;
}

static void test_isupport(void **state)
{
    irc_isupport_t is = {
        .network = "loom",
        .casemap = IRC_CASEMAP_RFC1459,
        .chantypes = "#&",
        .chanmodes = IRC_CHANMODES_DEFAULT,
        .prefix = IRC_PREFIX_DEFAULT,
        .statusmsg = "@+",
        .nicklen = 30,
        .channellen = 50,
        .topiclen = 390,
        .kicklen = 255,
        .awaylen = 200,
        .userlen = 10,
        .hostlen = 64,
        .modes = 4,
        .maxtargets = 4,
        .chanlimit = 20,
        .maxlist = 100,
        .linelen = 512,
        .excepts = 1,
        .invex = 1,
        .whox = 1,
        .elist = "U",
    };
    static const char *const want[] = {
        "AWAYLEN=200",
        "CASEMAPPING=rfc1459",
        "CHANLIMIT=#&:20",
        "CHANMODES=beI,k,l,imnpst",
        "CHANNELLEN=50",
        "CHANTYPES=#&",
        "ELIST=U",
        "EXCEPTS=e",
        "HOSTLEN=64",
        "INVEX=I",
        "KICKLEN=255",
        "LINELEN=512",
        "MAXLIST=beI:100",
        "MAXTARGETS=4",
        "MODES=4",
        "NETWORK=loom",
        "NICKLEN=30",
        "PREFIX=(ov)@+",
        "STATUSMSG=@+",
        ("TARGMAX=JOIN:,KICK:1,LIST:1,NAMES:1,NOTICE:4,PART:,PRIVMSG:4,"
         "TAGMSG:4,WHOIS:1"),
        "TOPICLEN=390",
        "USERLEN=10",
        "WHOX",
    };
    irc_isupport_lines_t l;
    size_t total = 0;

    (void)state;
    assert_int_equal(irc_isupport_build(&is, &l), LOOM_OK);
    assert_int_equal(l.n, 2);
    for (size_t i = 0; i < l.n; i++) {
        size_t n = count_tokens(l.line[i]);

        assert_true(n >= 1 && n <= IRC_ISUPPORT_TOKENS_PER_LINE);
        total += n;
    }
    assert_int_equal(total, ARRAY_LEN(want));
    for (size_t i = 0; i < ARRAY_LEN(want); i++) {
        if (!has_token(&l, want[i]))
            print_message("# missing %s\n", want[i]);
        assert_true(has_token(&l, want[i]));
    }
    /* the first line is the first 13 in order */
    assert_true(strncmp(l.line[0], "AWAYLEN=200 CASEMAPPING=rfc1459 ", 32) ==
                0);
    assert_int_equal(count_tokens(l.line[0]), 13);

    /* what is zero or NULL is left out; EXTRA tokens are appended */
    memset(&is, 0, sizeof(is));
    is.casemap = IRC_CASEMAP_ASCII;
    is.network = "net";
    is.extra = "  BOT=B  UTF8ONLY ";
    is.maxlist = 5;
    assert_int_equal(irc_isupport_build(&is, &l), LOOM_OK);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.line[0], "CASEMAPPING=ascii MAXLIST=b:5 NETWORK=net "
                                   "BOT=B UTF8ONLY");
}

static void test_isupport_overflow(void **state)
{
    static char extra[8000], big[400];
    irc_isupport_t is = {.casemap = IRC_CASEMAP_RFC1459};
    irc_isupport_lines_t l;
    size_t o = 0;

    (void)state;
    /* many short tokens: lines of at most 13, then no more room */
    for (int i = 0; i < 200; i++)
        o += (size_t)snprintf(extra + o, sizeof(extra) - o, "T%d ", i);
    is.extra = extra;
    assert_int_equal(irc_isupport_build(&is, &l), LOOM_ERROR);
    assert_int_equal(l.n, IRC_ISUPPORT_LINES_MAX);
    for (size_t i = 0; i < l.n; i++)
        assert_true(count_tokens(l.line[i]) <= IRC_ISUPPORT_TOKENS_PER_LINE);
    /* one token over the line budget */
    memset(big, 'N', sizeof(big) - 1);
    is.extra = NULL;
    is.network = big;
    assert_int_equal(irc_isupport_build(&is, &l), LOOM_ERROR);
    /* long values push tokens to a new line before 13 */
    memset(big, 'V', 200);
    big[200] = '\0';
    is.network = big;
    is.chanmodes = big;
    assert_int_equal(irc_isupport_build(&is, &l), LOOM_OK);
    assert_int_equal(l.n, 2);
    for (size_t i = 0; i < l.n; i++)
        assert_true(strlen(l.line[i]) <= 340);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_casemap_bytes),
        cmocka_unit_test(test_casemap_names),
        cmocka_unit_test(test_casecmp),
        cmocka_unit_test(test_casefold_bounds),
        cmocka_unit_test(test_nick_valid),
        cmocka_unit_test(test_chan_valid),
        cmocka_unit_test(test_mask_match),
        cmocka_unit_test(test_mask_long),
        cmocka_unit_test(test_mask_normalize),
        cmocka_unit_test(test_isupport),
        cmocka_unit_test(test_isupport_overflow),
    };

    return cmocka_run_group_tests_name("irc_util", tests, NULL, NULL);
}
