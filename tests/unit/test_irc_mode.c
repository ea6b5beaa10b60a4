/*
 * test_irc_mode.c - MODE parsing by CHANMODES classes (irc_mode.h): a
 * table of mode strings with params and the changes they give, the
 * missing-param and unknown-letter rules, the MODES limit, the change
 * array bound, user modes, CHANMODES/PREFIX parsing, and formatting
 * changes back (with a parse round trip).
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

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

typedef struct {
    const char *modes;
    const char *params; /* space-separated, "" for none */
    size_t max_param;
    const char *want; /* changes as "+o:alice -v:bob +i +b" */
    const char *unknown;
    size_t missing, dropped, used;
} mode_case_t;

static const mode_case_t cases[] = {
    {"+o", "alice", 4, "+o:alice", "", 0, 0, 1},
    {"o", "alice", 4, "+o:alice", "", 0, 0, 1},
    {"+ov-v", "a b c", 4, "+o:a +v:b -v:c", "", 0, 0, 3},
    {"+imnt", "", 4, "+i +m +n +t", "", 0, 0, 0},
    {"-s+p", "", 4, "-s +p", "", 0, 0, 0},
    {"+k", "secret", 4, "+k:secret", "", 0, 0, 1},
    {"-k", "", 4, "-k", "", 0, 0, 0},
    {"-k", "secret", 4, "-k:secret", "", 0, 0, 1},
    {"+l", "10", 4, "+l:10", "", 0, 0, 1},
    {"-l", "10", 4, "-l", "", 0, 0, 0}, /* -l takes no param */
    {"-l+k", "key", 4, "-l +k:key", "", 0, 0, 1},
    {"+b", "", 4, "+b", "", 0, 0, 0}, /* a list request */
    {"b", "", 4, "+b", "", 0, 0, 0},
    {"+b", "*!*@bad", 4, "+b:*!*@bad", "", 0, 0, 1},
    {"-b", "*!*@bad", 4, "-b:*!*@bad", "", 0, 0, 1},
    {"+eI", "m1 m2", 4, "+e:m1 +I:m2", "", 0, 0, 2},
    {"+bb", "m1", 4, "+b:m1 +b", "", 0, 0, 1},
    /* missing params: skipped and counted */
    {"+o", "", 4, "", "", 1, 0, 0},
    {"+k", "", 4, "", "", 1, 0, 0},
    {"+l", "", 4, "", "", 1, 0, 0},
    {"+ov", "a", 4, "+o:a", "", 1, 0, 1},
    {"+ko", "", 4, "", "", 2, 0, 0},
    {"+o", ":", 4, "", "", 1, 0, 1}, /* an empty param is none */
    /* unknown letters: no param consumed, each reported once */
    {"+xo", "a", 4, "+o:a", "x", 0, 0, 1},
    {"+zZz-y", "", 4, "", "zZy", 0, 0, 0},
    {"+O1", "", 4, "", "O1", 0, 0, 0},
    /* the MODES limit counts param-carrying changes */
    {"+oooo", "a b c d", 3, "+o:a +o:b +o:c", "", 0, 1, 4},
    {"+ooo+i", "a b c", 2, "+o:a +o:b +i", "", 0, 1, 3},
    {"+ooo", "a b c", 0, "+o:a +o:b +o:c", "", 0, 0, 3},
    {"+bbb", "", 1, "+b +b +b", "", 0, 0, 0}, /* requests are free */
    {"+bv", "m n", 1, "+b:m", "", 0, 1, 2},
    /* surplus params are left unused */
    {"+i", "extra", 4, "+i", "", 0, 0, 0},
    {"", "", 4, "", "", 0, 0, 0},
    {"+-+", "", 4, "", "", 0, 0, 0},
};

static void render(const irc_modes_t *m, char *out, size_t cap)
{
    size_t o = 0;

    out[0] = '\0';
    for (size_t i = 0; i < m->n; i++)
        o += (size_t)snprintf(out + o, cap - o, "%s%c%c%s%s", i ? " " : "",
                              m->ch[i].dir, m->ch[i].letter,
                              m->ch[i].param ? ":" : "",
                              m->ch[i].param ? m->ch[i].param : "");
}

static size_t split(char *s, const char **v, size_t max)
{
    size_t n = 0;

    for (char *tok = strtok(s, " "); tok && n < max; tok = strtok(NULL, " "))
        v[n++] = strcmp(tok, ":") == 0 ? "" : tok;
    return n;
}

static void test_chan_table(void **state)
{
    irc_modeset_t ms;

    (void)state;
    assert_int_equal(
        irc_modeset_init(&ms, IRC_CHANMODES_DEFAULT, IRC_PREFIX_DEFAULT),
        LOOM_OK);
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        const mode_case_t *c = &cases[i];
        char pbuf[128], got[256];
        const char *params[16];
        size_t np;
        irc_modes_t m;

        snprintf(pbuf, sizeof(pbuf), "%s", c->params);
        np = split(pbuf, params, 16);
        irc_mode_parse_chan(&ms, c->modes, params, np, c->max_param, &m);
        render(&m, got, sizeof(got));
        if (strcmp(got, c->want) != 0)
            print_message("# \"%s\" \"%s\": got \"%s\"\n", c->modes, c->params,
                          got);
        assert_string_equal(got, c->want);
        assert_string_equal(m.unknown, c->unknown);
        assert_int_equal(m.missing, c->missing);
        assert_int_equal(m.dropped, c->dropped);
        assert_int_equal(m.used_params, c->used);
        for (size_t k = 0; k < m.n; k++)
            assert_int_equal(m.ch[k].cls,
                             irc_modeset_class(&ms, m.ch[k].letter));
    }
}

static void test_classes(void **state)
{
    irc_modeset_t ms;

    (void)state;
    assert_int_equal(
        irc_modeset_init(&ms, IRC_CHANMODES_DEFAULT, IRC_PREFIX_DEFAULT),
        LOOM_OK);
    assert_int_equal(irc_modeset_class(&ms, 'b'), IRC_MODE_A);
    assert_int_equal(irc_modeset_class(&ms, 'e'), IRC_MODE_A);
    assert_int_equal(irc_modeset_class(&ms, 'I'), IRC_MODE_A);
    assert_int_equal(irc_modeset_class(&ms, 'k'), IRC_MODE_B);
    assert_int_equal(irc_modeset_class(&ms, 'l'), IRC_MODE_C);
    for (const char *p = "imnpst"; *p; p++)
        assert_int_equal(irc_modeset_class(&ms, *p), IRC_MODE_D);
    assert_int_equal(irc_modeset_class(&ms, 'o'), IRC_MODE_PREFIX);
    assert_int_equal(irc_modeset_class(&ms, 'v'), IRC_MODE_PREFIX);
    assert_int_equal(irc_modeset_class(&ms, 'x'), IRC_MODE_NONE);
    assert_int_equal(irc_modeset_class(&ms, (char)0xe9), IRC_MODE_NONE);
    assert_int_equal(irc_modeset_prefix_char(&ms, 'o'), '@');
    assert_int_equal(irc_modeset_prefix_char(&ms, 'v'), '+');
    assert_int_equal(irc_modeset_prefix_char(&ms, 'b'), 0);
    assert_int_equal(irc_modeset_prefix_char(&ms, 0), 0);
    assert_string_equal(ms.prefix_modes, "ov");
    assert_string_equal(ms.prefix_chars, "@+");

    /* other shapes */
    assert_int_equal(irc_modeset_init(&ms, "b,,,", "(qaohv)~&@%+"), LOOM_OK);
    assert_int_equal(irc_modeset_prefix_char(&ms, 'h'), '%');
    assert_int_equal(irc_modeset_init(&ms, "b,k,l,imnpst", NULL), LOOM_OK);
    assert_int_equal(irc_modeset_class(&ms, 'o'), IRC_MODE_NONE);
    /* malformed */
    static const char *const bad_chanmodes[] = {"b,k,l,i,x", "bb,k,l,i",
                                                "b,k,l,1", "b,k,l,i m"};
    for (size_t i = 0; i < ARRAY_LEN(bad_chanmodes); i++)
        assert_int_equal(irc_modeset_init(&ms, bad_chanmodes[i], "(ov)@+"),
                         LOOM_ERROR);
    static const char *const bad_prefix[] = {"ov)@+",  "(ov@+",  "(ov)@",
                                             "(o)@+",  "()",     "(ob)@+",
                                             "(ov)@@", "(ov)@a", "(ov)@ "};
    for (size_t i = 0; i < ARRAY_LEN(bad_prefix); i++)
        assert_int_equal(
            irc_modeset_init(&ms, IRC_CHANMODES_DEFAULT, bad_prefix[i]),
            LOOM_ERROR);
}

/* More changes than the array holds: the rest are dropped, counted. */
static void test_many_changes(void **state)
{
    char modes[200];
    irc_modeset_t ms;
    irc_modes_t m;

    (void)state;
    irc_modeset_init(&ms, IRC_CHANMODES_DEFAULT, IRC_PREFIX_DEFAULT);
    modes[0] = '+';
    for (int i = 1; i <= 150; i++)
        modes[i] = "imnst"[i % 5];
    modes[151] = '\0';
    irc_mode_parse_chan(&ms, modes, NULL, 0, 4, &m);
    assert_int_equal(m.n, IRC_MODE_CHANGES_MAX);
    assert_int_equal(m.dropped, 150 - IRC_MODE_CHANGES_MAX);
    /* more unknown letters than the unknown buffer: bounded, each once */
    for (int i = 1; i <= 150; i++)
        modes[i] = (char)(0x80 + i % 100);
    irc_mode_parse_chan(&ms, modes, NULL, 0, 4, &m);
    assert_int_equal(m.n, 0);
    assert_int_equal(strlen(m.unknown), sizeof(m.unknown) - 1);
}

static void test_user_modes(void **state)
{
    static const struct {
        const char *modes, *want, *unknown;
    } ucases[] = {
        {"+i", "+i", ""}, {"i", "+i", ""},      {"+iw-o", "+i +w -o", ""},
        {"+x", "", "x"},  {"+ixa", "+i", "xa"}, {"-", "", ""},
        {"+b", "", "b"},
    };

    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(ucases); i++) {
        irc_modes_t m;
        char got[128];

        irc_mode_parse_user(IRC_USERMODES_DEFAULT, ucases[i].modes, &m);
        render(&m, got, sizeof(got));
        assert_string_equal(got, ucases[i].want);
        assert_string_equal(m.unknown, ucases[i].unknown);
        for (size_t k = 0; k < m.n; k++)
            assert_int_equal(m.ch[k].cls, IRC_MODE_D);
    }
}

static void test_format(void **state)
{
    irc_mode_change_t ch[] = {
        {'+', 'o', IRC_MODE_PREFIX, "alice"},
        {'+', 'v', IRC_MODE_PREFIX, "bob"},
        {'-', 'k', IRC_MODE_B, NULL},
        {'-', 'o', IRC_MODE_PREFIX, "carol"},
        {'+', 'i', IRC_MODE_D, NULL},
        {'+', 'l', IRC_MODE_C, "10"},
    };
    char out[128];
    size_t k;

    (void)state;
    k = irc_mode_format(ch, ARRAY_LEN(ch), 0, out, sizeof(out));
    assert_int_equal(k, ARRAY_LEN(ch));
    assert_string_equal(out, "+ov-ko+il alice bob carol 10");
    /* MODES limit 2: the third param-carrying change starts the next */
    k = irc_mode_format(ch, ARRAY_LEN(ch), 2, out, sizeof(out));
    assert_int_equal(k, 3);
    assert_string_equal(out, "+ov-k alice bob");
    k = irc_mode_format(ch + 3, ARRAY_LEN(ch) - 3, 2, out, sizeof(out));
    assert_int_equal(k, 3);
    assert_string_equal(out, "-o+il carol 10");
    /* CAP bounds: "+ov alice bob" is 13 bytes + NUL */
    k = irc_mode_format(ch, 2, 0, out, 14);
    assert_int_equal(k, 2);
    assert_string_equal(out, "+ov alice bob");
    k = irc_mode_format(ch, 2, 0, out, 13);
    assert_int_equal(k, 1);
    assert_string_equal(out, "+o alice");
    k = irc_mode_format(ch, 2, 0, out, 5);
    assert_int_equal(k, 0);
    assert_string_equal(out, "");
    assert_int_equal(irc_mode_format(ch, 0, 0, out, sizeof(out)), 0);
}

/* Format what was parsed, parse it again: the same changes. */
static void test_round_trip(void **state)
{
    const char *params[] = {"a", "key", "*!*@h", "5", "b"};
    irc_modeset_t ms;
    irc_modes_t m1, m2;
    char out[256], r1[256], r2[256];
    const char *p2[16];
    char *sp;
    size_t np = 0;

    (void)state;
    irc_modeset_init(&ms, IRC_CHANMODES_DEFAULT, IRC_PREFIX_DEFAULT);
    irc_mode_parse_chan(&ms, "+ok-b+lm-v", params, 5, 0, &m1);
    assert_int_equal(irc_mode_format(m1.ch, m1.n, 0, out, sizeof(out)), m1.n);
    sp = strchr(out, ' ');
    assert_non_null(sp);
    *sp = '\0';
    np = split(sp + 1, p2, 16);
    irc_mode_parse_chan(&ms, out, p2, np, 0, &m2);
    render(&m1, r1, sizeof(r1));
    render(&m2, r2, sizeof(r2));
    assert_string_equal(r1, "+o:a +k:key -b:*!*@h +l:5 +m -v:b");
    assert_string_equal(r1, r2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chan_table),   cmocka_unit_test(test_classes),
        cmocka_unit_test(test_many_changes), cmocka_unit_test(test_user_modes),
        cmocka_unit_test(test_format),       cmocka_unit_test(test_round_trip),
    };

    return cmocka_run_group_tests_name("irc_mode", tests, NULL, NULL);
}
