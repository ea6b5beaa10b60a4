/*
 * test_irc_parse.c - the IRC line parser and serializer (irc_parse.h): a
 * table of lines with their parts or their error, the message-tags
 * escaping rules both ways, the 512 / 4094 limits at their edges, the
 * 15-parameter rule, client-only tags for relaying, and irc_format's
 * colon, truncation and refusal rules (with a parse round trip).
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
#include "irc_parse.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

typedef struct {
    const char *line;
    irc_perr_t err;
    const char *prefix;  /* NULL: none */
    const char *command; /* NULL: do not check */
    const char *params;  /* params joined by '|', NULL: none */
    int trailing;
} line_case_t;

static const line_case_t cases[] = {
    {"PING", IRC_PARSE_OK, NULL, "PING", NULL, 0},
    {"ping :x", IRC_PARSE_OK, NULL, "PING", "x", 1},
    {"Privmsg #c :hello world", IRC_PARSE_OK, NULL, "PRIVMSG", "#c|hello world",
     1},
    {"PRIVMSG #c hello", IRC_PARSE_OK, NULL, "PRIVMSG", "#c|hello", 0},
    {"PRIVMSG #c :", IRC_PARSE_OK, NULL, "PRIVMSG", "#c|", 1},
    {"PRIVMSG #c ::-)", IRC_PARSE_OK, NULL, "PRIVMSG", "#c|:-)", 1},
    {"PRIVMSG  #c   x  ", IRC_PARSE_OK, NULL, "PRIVMSG", "#c|x", 0},
    {"PRIVMSG #c :a  b ", IRC_PARSE_OK, NULL, "PRIVMSG", "#c|a  b ", 1},
    {":nick!u@h PRIVMSG #c :hi", IRC_PARSE_OK, "nick!u@h", "PRIVMSG", "#c|hi",
     1},
    {":srv 001 me :Welcome", IRC_PARSE_OK, "srv", "001", "me|Welcome", 1},
    {"USER u 0 * :Real Name", IRC_PARSE_OK, NULL, "USER", "u|0|*|Real Name", 1},
    {"  NICK a", IRC_PARSE_OK, NULL, "NICK", "a", 0},
    {"CAP LS 302", IRC_PARSE_OK, NULL, "CAP", "LS|302", 0},
    {"", IRC_PERR_EMPTY, NULL, NULL, NULL, 0},
    {"   ", IRC_PERR_NO_COMMAND, NULL, NULL, NULL, 0},
    {":prefix", IRC_PERR_NO_COMMAND, NULL, NULL, NULL, 0},
    {":prefix   ", IRC_PERR_NO_COMMAND, NULL, NULL, NULL, 0},
    {"@a=b", IRC_PERR_NO_COMMAND, NULL, NULL, NULL, 0},
    {"@a=b :pfx", IRC_PERR_NO_COMMAND, NULL, NULL, NULL, 0},
    {"@ PING", IRC_PERR_TAGS, NULL, NULL, NULL, 0},
    {"PR1VMSG x", IRC_PERR_COMMAND, NULL, "PR1VMSG", NULL, 0},
    {"12 x", IRC_PERR_COMMAND, NULL, "12", NULL, 0},
    {"1234", IRC_PERR_COMMAND, NULL, "1234", NULL, 0},
    {"PRIV-MSG", IRC_PERR_COMMAND, NULL, "PRIV-MSG", NULL, 0},
    {"\xc3\xa9t\xc3\xa9", IRC_PERR_COMMAND, NULL, NULL, NULL, 0},
    {"PING\rx", IRC_PERR_BYTE, NULL, NULL, NULL, 0},
    {"PING x\ny", IRC_PERR_BYTE, NULL, NULL, NULL, 0},
    /* RFC 2812: the 15th parameter takes the rest of the line */
    {"X 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 :17", IRC_PARSE_OK, NULL, "X",
     "1|2|3|4|5|6|7|8|9|10|11|12|13|14|15 16 :17", 0},
    {"X 1 2 3 4 5 6 7 8 9 10 11 12 13 14 :15 16", IRC_PARSE_OK, NULL, "X",
     "1|2|3|4|5|6|7|8|9|10|11|12|13|14|15 16", 1},
    {"X 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15", IRC_PARSE_OK, NULL, "X",
     "1|2|3|4|5|6|7|8|9|10|11|12|13|14|15", 0},
};

static void join_params(const irc_msg_t *m, char *out, size_t cap)
{
    size_t o = 0;

    out[0] = '\0';
    for (size_t i = 0; i < m->nparams; i++)
        o += (size_t)snprintf(out + o, cap - o, "%s%s", i ? "|" : "",
                              m->params[i]);
}

static void test_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        const line_case_t *c = &cases[i];
        char buf[1024], joined[1024];
        irc_msg_t m;
        irc_perr_t r;
        size_t len = strlen(c->line);

        /* "\r"/"\n" cases: the table strings hold them literally */
        memcpy(buf, c->line, len + 1);
        r = irc_parse(buf, len, &m);
        if (r != c->err)
            print_message("# line \"%s\": got %d want %d\n", c->line, r,
                          c->err);
        assert_int_equal(r, c->err);
        if (c->command)
            assert_string_equal(m.command, c->command);
        if (r != IRC_PARSE_OK)
            continue;
        if (c->prefix)
            assert_string_equal(m.prefix, c->prefix);
        else
            assert_null(m.prefix);
        join_params(&m, joined, sizeof(joined));
        assert_string_equal(joined, c->params ? c->params : "");
        assert_int_equal(m.trailing, c->trailing);
    }
}

static void test_nul_inside(void **state)
{
    char buf[] = "PING a\0b";
    irc_msg_t m;

    (void)state;
    assert_int_equal(irc_parse(buf, sizeof(buf) - 1, &m), IRC_PERR_BYTE);
}

static void test_errors_map(void **state)
{
    (void)state;
    assert_int_equal(irc_perr_numeric(IRC_PERR_TOO_LONG), 417);
    assert_int_equal(irc_perr_numeric(IRC_PERR_TAGS_LONG), 417);
    assert_int_equal(irc_perr_numeric(IRC_PERR_COMMAND), 421);
    assert_int_equal(irc_perr_numeric(IRC_PERR_EMPTY), 0);
    assert_int_equal(irc_perr_numeric(IRC_PERR_NO_COMMAND), 0);
    assert_int_equal(irc_perr_numeric(IRC_PARSE_OK), 0);
    assert_int_equal(irc_perr_numeric((irc_perr_t)99), 0);
    assert_string_equal(irc_perr_str(IRC_PERR_TOO_LONG),
                        "Input line was too long");
    assert_string_equal(irc_perr_str((irc_perr_t)99), "unknown error");
}

/* ---- tags ---------------------------------------------------------------- */

typedef struct {
    const char *escaped;
    const char *value;
} esc_case_t;

/* message-tags: \: ; \s space \\ backslash \r CR \n LF, unknown \x -> x,
 * a lone trailing backslash dropped */
static const esc_case_t unescapes[] = {
    {"", ""},
    {"plain", "plain"},
    {"a\\:b", "a;b"},
    {"a\\sb", "a b"},
    {"a\\\\b", "a\\b"},
    {"a\\rb", "a\rb"},
    {"a\\nb", "a\nb"},
    {"\\b", "b"},
    {"x\\", "x"},
    {"\\", ""},
    {"\\\\\\", "\\"},
    {"\\:\\s\\\\\\r\\n", "; \\\r\n"},
    {"caf\xc3\xa9", "caf\xc3\xa9"},
};

static void test_unescape(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(unescapes); i++) {
        char out[64];
        size_t n = irc_tag_unescape(unescapes[i].escaped,
                                    strlen(unescapes[i].escaped), out);

        assert_int_equal(n, strlen(unescapes[i].value));
        assert_string_equal(out, unescapes[i].value);
    }
}

static const esc_case_t escapes[] = {
    {"", ""},
    {"plain", "plain"},
    {"a;b", "a\\:b"},
    {"a b", "a\\sb"},
    {"a\\b", "a\\\\b"},
    {"a\rb\n", "a\\rb\\n"},
    {"; \\\r\n", "\\:\\s\\\\\\r\\n"},
};

static void test_escape(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(escapes); i++) {
        char out[64], back[64];
        size_t n = irc_tag_escape(escapes[i].escaped, out, sizeof(out));

        /* the table reads escaped -> value the other way here */
        assert_int_equal(n, strlen(escapes[i].value));
        assert_string_equal(out, escapes[i].value);
        irc_tag_unescape(out, n, back);
        assert_string_equal(back, escapes[i].escaped);
    }
    {
        char small[4];

        assert_int_equal(irc_tag_escape("abc", small, sizeof(small)), 3);
        assert_int_equal(irc_tag_escape("abcd", small, sizeof(small)),
                         (size_t)-1);
        assert_int_equal(irc_tag_escape("a;", small, sizeof(small)), 3);
        assert_int_equal(irc_tag_escape("ab;", small, sizeof(small)),
                         (size_t)-1);
    }
}

static void test_tags(void **state)
{
    char buf[512];
    irc_msg_t m;
    size_t tl;

    (void)state;
    snprintf(buf, sizeof(buf),
             "@time=2026-01-01T00:00:00.000Z;+draft/reply=abc;flag;"
             "+x=a\\sb\\:c;;empty=;=novalue;+x=second :n!u@h PRIVMSG #c :hi");
    tl = (size_t)(strchr(buf, ' ') - buf - 1);
    assert_int_equal(irc_parse(buf, strlen(buf), &m), IRC_PARSE_OK);
    assert_int_equal(m.ntags, 6);
    assert_string_equal(m.tags[0].key, "time");
    assert_string_equal(m.tags[0].value, "2026-01-01T00:00:00.000Z");
    assert_false(m.tags[0].client);
    assert_string_equal(m.tags[1].key, "+draft/reply");
    assert_true(m.tags[1].client);
    assert_string_equal(m.tags[2].key, "flag");
    assert_false(m.tags[2].has_value);
    assert_string_equal(m.tags[2].value, "");
    assert_string_equal(m.tags[3].value, "a b;c");
    assert_string_equal(m.tags[4].key, "empty");
    assert_true(m.tags[4].has_value);
    assert_string_equal(m.tags[4].value, "");
    /* duplicates: the last one counts */
    assert_string_equal(irc_msg_tag(&m, "+x"), "second");
    assert_string_equal(irc_msg_tag(&m, "flag"), "");
    assert_null(irc_msg_tag(&m, "missing"));
    assert_null(irc_msg_tag(&m, "TIME")); /* keys are case-sensitive */
    assert_string_equal(m.prefix, "n!u@h");
    assert_string_equal(m.command, "PRIVMSG");
    assert_int_equal(m.nparams, 2);
    assert_string_equal(m.params[1], "hi");
    assert_int_equal(m.tags_len, tl);
}

static void test_tag_keys(void **state)
{
    static const struct {
        const char *key;
        int ok;
    } keys[] = {
        {"a", 1},
        {"+a", 1},
        {"time", 1},
        {"draft/label", 1},
        {"+example.com/x-y", 1},
        {"+a-b.c/d", 1},
        {"", 0},
        {"+", 0},
        {"/x", 0},
        {"+/x", 0},
        {"a/", 0},
        {"a/b/c", 0},
        {"a_b", 0},
        {"a b", 0},
        {"vendor_x/y", 0},
    };

    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(keys); i++)
        assert_int_equal(irc_tag_key_valid(keys[i].key, strlen(keys[i].key)),
                         keys[i].ok);
}

static void test_client_tags(void **state)
{
    char buf[512], out[512], small[8];
    irc_msg_t m;

    (void)state;
    snprintf(buf, sizeof(buf),
             "@+a=1;label=x;+b=p\\sq;+a=2;+bad_key=z;+flag;+e= TAGMSG #c");
    assert_int_equal(irc_parse(buf, strlen(buf), &m), IRC_PARSE_OK);
    assert_int_equal(irc_msg_client_tags(&m, out, sizeof(out)),
                     strlen("+b=p\\sq;+a=2;+flag;+e"));
    assert_string_equal(out, "+b=p\\sq;+a=2;+flag;+e");
    assert_int_equal(irc_msg_client_tags(&m, small, sizeof(small)), (size_t)-1);
    snprintf(buf, sizeof(buf), "@label=1 PING");
    assert_int_equal(irc_parse(buf, strlen(buf), &m), IRC_PARSE_OK);
    assert_int_equal(irc_msg_client_tags(&m, out, sizeof(out)), 0);
    assert_string_equal(out, "");
}

static void test_many_tags(void **state)
{
    char buf[2048];
    size_t o = 0;
    irc_msg_t m;

    (void)state;
    o += (size_t)snprintf(buf, sizeof(buf), "@");
    for (int i = 0; i < IRC_TAGS_COUNT_MAX + 10; i++)
        o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%st%d=%d",
                              i ? ";" : "", i, i);
    snprintf(buf + o, sizeof(buf) - o, " PING");
    assert_int_equal(irc_parse(buf, strlen(buf), &m), IRC_PARSE_OK);
    assert_int_equal(m.ntags, IRC_TAGS_COUNT_MAX);
    assert_int_equal(m.tags_ignored, 10);
    assert_string_equal(m.command, "PING");
}

/* ---- limits -------------------------------------------------------------- */

/* "PRIVMSG #c :" + text so the non-tag part is LEN bytes. */
static size_t body_of_len(char *out, size_t len)
{
    size_t head = strlen("PRIVMSG #c :");

    memcpy(out, "PRIVMSG #c :", head);
    memset(out + head, 'x', len - head);
    out[len] = '\0';
    return len;
}

static void test_line_limit(void **state)
{
    static char buf[IRC_INPUT_MAX + 64];
    irc_msg_t m;
    size_t n;

    (void)state;
    n = body_of_len(buf, 510);
    assert_int_equal(irc_parse(buf, n, &m), IRC_PARSE_OK);
    assert_int_equal(strlen(m.params[1]), 510 - strlen("PRIVMSG #c :"));
    n = body_of_len(buf, 511);
    assert_int_equal(irc_parse(buf, n, &m), IRC_PERR_TOO_LONG);
    /* the tag section does not count against the 510 */
    memset(buf, 'a', 4000);
    buf[0] = '@';
    buf[1] = '+';
    buf[2] = 'k';
    buf[3] = '=';
    buf[4000] = ' ';
    n = 4001 + body_of_len(buf + 4001, 510);
    assert_int_equal(irc_parse(buf, n, &m), IRC_PARSE_OK);
    assert_int_equal(m.tags_len, 3999);
}

static void test_tag_limit(void **state)
{
    static char buf[IRC_INPUT_MAX + 64];
    irc_msg_t m;

    (void)state;
    /* 4094 bytes of tag data: accepted; 4095: 417 */
    buf[0] = '@';
    buf[1] = 'k';
    buf[2] = '=';
    memset(buf + 3, 'v', IRC_CLIENT_TAGS_MAX - 2);
    memcpy(buf + 1 + IRC_CLIENT_TAGS_MAX, " PING", 6);
    assert_int_equal(irc_parse(buf, strlen(buf), &m), IRC_PARSE_OK);
    assert_int_equal(m.tags_len, IRC_CLIENT_TAGS_MAX);
    assert_int_equal(strlen(m.tags[0].value), IRC_CLIENT_TAGS_MAX - 2);
    buf[0] = '@';
    buf[1] = 'k';
    buf[2] = '=';
    memset(buf + 3, 'v', IRC_CLIENT_TAGS_MAX - 1);
    memcpy(buf + 2 + IRC_CLIENT_TAGS_MAX, " PING", 6);
    assert_int_equal(irc_parse(buf, strlen(buf), &m), IRC_PERR_TAGS_LONG);
    /* also without a space after the tags */
    buf[2 + IRC_CLIENT_TAGS_MAX] = '\0';
    assert_int_equal(irc_parse(buf, strlen(buf), &m), IRC_PERR_TAGS_LONG);
    assert_int_equal(IRC_INPUT_MAX, 4094 + 2 + 510);
}

/* ---- output -------------------------------------------------------------- */

typedef struct {
    const char *tags, *prefix, *command;
    const char *params[4];
    size_t nparams;
    int flags;
    const char *want; /* NULL: refused */
} fmt_case_t;

static const fmt_case_t fmts[] = {
    {NULL, NULL, "PING", {"x"}, 1, 0, "PING x\r\n"},
    {NULL,
     "srv",
     "001",
     {"me", "Welcome to loom"},
     2,
     0,
     ":srv 001 me :Welcome to loom\r\n"},
    {NULL,
     "srv",
     "PONG",
     {"srv", "tok"},
     2,
     IRC_FMT_COLON,
     ":srv PONG srv :tok\r\n"},
    {NULL, NULL, "PRIVMSG", {"#c", ""}, 2, 0, "PRIVMSG #c :\r\n"},
    {NULL, NULL, "PRIVMSG", {"#c", ":)"}, 2, 0, "PRIVMSG #c ::)\r\n"},
    {"time=x;+a=b\\sc",
     "n!u@h",
     "PRIVMSG",
     {"#c", "hi"},
     2,
     0,
     "@time=x;+a=b\\sc :n!u@h PRIVMSG #c hi\r\n"},
    {"", NULL, "PING", {"x"}, 1, 0, "PING x\r\n"},
    {NULL, NULL, "QUIT", {NULL}, 0, 0, "QUIT\r\n"},
    {NULL, NULL, "X", {"a b", "c"}, 2, 0, NULL},
    {NULL, NULL, "X", {":a", "c"}, 2, 0, NULL},
    {NULL, NULL, "X", {"", "c"}, 2, 0, NULL},
    {NULL, NULL, "X", {"a", "c\r\nQUIT"}, 2, 0, NULL},
    {NULL, "a b", "X", {"a"}, 1, 0, NULL},
    {NULL, NULL, "X Y", {"a"}, 1, 0, NULL},
    {NULL, NULL, "", {"a"}, 1, 0, NULL},
    {"a b", NULL, "X", {"a"}, 1, 0, NULL},
};

static void test_format(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(fmts); i++) {
        const fmt_case_t *f = &fmts[i];
        char out[1024];
        size_t n = irc_format(out, sizeof(out), f->tags, f->prefix, f->command,
                              f->params, f->nparams, f->flags);

        if (f->want == NULL) {
            assert_int_equal(n, (size_t)-1);
            continue;
        }
        assert_int_equal(n, strlen(f->want));
        assert_string_equal(out, f->want);
    }
}

static void test_format_limits(void **state)
{
    static char text[1024], out[IRC_OUT_MAX + 16], tags[9000];
    const char *params[2] = {"#c", text};
    size_t head = strlen(":n!u@h PRIVMSG #c :"), n;
    irc_msg_t m;

    (void)state;
    /* exactly 512 with CR LF */
    memset(text, 'x', 510 - head);
    text[510 - head] = '\0';
    n = irc_format(out, sizeof(out), NULL, "n!u@h", "PRIVMSG", params, 2,
                   IRC_FMT_COLON);
    assert_int_equal(n, 512);
    /* one more: refused, or cut with TRUNCATE */
    strcat(text, "y");
    assert_int_equal(irc_format(out, sizeof(out), NULL, "n!u@h", "PRIVMSG",
                                params, 2, IRC_FMT_COLON),
                     (size_t)-1);
    n = irc_format(out, sizeof(out), NULL, "n!u@h", "PRIVMSG", params, 2,
                   IRC_FMT_TRUNCATE);
    assert_int_equal(n, 512);
    assert_memory_equal(out + 510, "\r\n", 2);
    /* a cut never splits a UTF-8 sequence: 2-byte chars, odd room */
    memset(text, 0, sizeof(text));
    for (size_t i = 0; i + 1 < 600; i += 2) {
        text[i] = (char)0xc3;
        text[i + 1] = (char)0xa9;
    }
    n = irc_format(out, sizeof(out), NULL, "n!u@h", "PRIVMSG", params, 2,
                   IRC_FMT_TRUNCATE);
    assert_true(n <= 512 && n >= 511);
    assert_int_equal((n - 2 - head) % 2, 0);
    /* the cut line parses back */
    out[n - 2] = '\0';
    assert_int_equal(irc_parse(out, n - 2, &m), IRC_PARSE_OK);
    assert_int_equal(strlen(m.params[1]) % 2, 0);
    /* a word-only last param cut to nothing still gets its ':' */
    {
        static char longp[600];
        const char *p2[2];

        memset(longp, 'z', 505);
        p2[0] = longp;
        p2[1] = "abc";
        assert_int_equal(
            irc_format(out, sizeof(out), NULL, NULL, "X", p2, 2, 0),
            (size_t)-1);
        n = irc_format(out, sizeof(out), NULL, NULL, "X", p2, 2,
                       IRC_FMT_TRUNCATE);
        assert_int_equal(n, 512);
        assert_memory_equal(out + n - 5, " :a\r\n", 5);
        memset(longp, 'z', 507);
        n = irc_format(out, sizeof(out), NULL, NULL, "X", p2, 2,
                       IRC_FMT_TRUNCATE);
        assert_int_equal(n, (size_t)-1); /* no room even for " :" */
    }
    /* the tag section: 8191 with '@' and ' ' */
    memset(tags, 'a', IRC_TAGS_SECTION_MAX - 2);
    tags[IRC_TAGS_SECTION_MAX - 2] = '\0';
    params[1] = "hi";
    n = irc_format(out, sizeof(out), tags, NULL, "PRIVMSG", params, 2, 0);
    assert_int_equal(n, IRC_TAGS_SECTION_MAX + strlen("PRIVMSG #c hi\r\n"));
    strcat(tags, "a");
    assert_int_equal(
        irc_format(out, sizeof(out), tags, NULL, "PRIVMSG", params, 2, 0),
        (size_t)-1);
    /* CAP too small */
    assert_int_equal(irc_format(out, 10, NULL, NULL, "PRIVMSG", params, 2, 0),
                     (size_t)-1);
    assert_int_equal(irc_format(out, 16, NULL, NULL, "PRIVMSG", params, 2, 0),
                     15);
    assert_int_equal(irc_format(out, 15, NULL, NULL, "PRIVMSG", params, 2, 0),
                     (size_t)-1);
}

static void test_utf8_cut(void **state)
{
    const char *s = "a\xc3\xa9\xe2\x82\xac"; /* a é € */

    (void)state;
    assert_int_equal(irc_utf8_cut(s, 6, 10), 6);
    assert_int_equal(irc_utf8_cut(s, 6, 6), 6);
    assert_int_equal(irc_utf8_cut(s, 6, 5), 3);
    assert_int_equal(irc_utf8_cut(s, 6, 4), 3);
    assert_int_equal(irc_utf8_cut(s, 6, 3), 3);
    assert_int_equal(irc_utf8_cut(s, 6, 2), 1);
    assert_int_equal(irc_utf8_cut(s, 6, 1), 1);
    assert_int_equal(irc_utf8_cut(s, 6, 0), 0);
}

/* Format then parse: what goes out comes back the same. */
static void test_round_trip(void **state)
{
    static const char *const texts[] = {"hi", "a b c",     ":x",
                                        "",   "tab\there", "x:y"};
    char out[1024], tagout[256];

    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(texts); i++) {
        const char *params[2] = {"#chan", texts[i]};
        irc_msg_t m;
        size_t n;

        irc_tag_escape("v; \\x", tagout + 4, sizeof(tagout) - 4);
        memcpy(tagout, "+k=", 3);
        memmove(tagout + 3, tagout + 4, strlen(tagout + 4) + 1);
        n = irc_format(out, sizeof(out), tagout, "n!u@h", "PRIVMSG", params, 2,
                       0);
        assert_true(n != (size_t)-1);
        out[n - 2] = '\0';
        assert_int_equal(irc_parse(out, n - 2, &m), IRC_PARSE_OK);
        assert_string_equal(m.params[0], "#chan");
        assert_string_equal(m.params[1], texts[i]);
        assert_string_equal(irc_msg_tag(&m, "+k"), "v; \\x");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_nul_inside),
        cmocka_unit_test(test_errors_map),
        cmocka_unit_test(test_unescape),
        cmocka_unit_test(test_escape),
        cmocka_unit_test(test_tags),
        cmocka_unit_test(test_tag_keys),
        cmocka_unit_test(test_client_tags),
        cmocka_unit_test(test_many_tags),
        cmocka_unit_test(test_line_limit),
        cmocka_unit_test(test_tag_limit),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_format_limits),
        cmocka_unit_test(test_utf8_cut),
        cmocka_unit_test(test_round_trip),
    };

    return cmocka_run_group_tests_name("irc_parse", tests, NULL, NULL);
}
