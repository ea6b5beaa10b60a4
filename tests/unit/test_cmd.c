/*
 * test_cmd.c - command tables (src/loom_cmd.h): splitting lines into
 * tokens, lookup (exact and case-insensitive), arity, handlers and their
 * pointers; then a byte stream of commands cut into lines by the lines
 * helper and dispatched through a table, fed whole, split in two at every
 * byte boundary and one byte at a time, which must all dispatch the same
 * calls (an SMTP-like table: case-insensitive verbs, arity errors with
 * their own reply; an IRC-like one: trailing parameters).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lines.h"
#include "loom_cmd.h"

/* ---- split ------------------------------------------------------------- */

typedef struct {
    const char *line;
    unsigned opts;
    size_t max;
    const char *want; /* tokens joined with '|' ("" for none) */
} split_case_t;

static const split_case_t split_cases[] = {
    {"", 0, 8, ""},
    {"    ", 0, 8, ""},
    {"get", 0, 8, "get"},
    {"get a b", 0, 8, "get|a|b"},
    {"  get   a  b  ", 0, 8, "get|a|b"},
    {"a\tb c", 0, 8, "a\tb|c"}, /* only spaces separate */
    {"a b c d e", 0, 3, "a|b|c d e"},
    {"a b c d e   ", 0, 3, "a|b|c d e"},
    {"a b   c  d ", 0, 3, "a|b|c  d"},
    {"a b", 0, 3, "a|b"},
    {"a b c", 0, 3, "a|b|c"},
    {"a b c", 0, 1, "a b c"},
    {"  a b c  ", 0, 1, "a b c"},
    /* IRC */
    {"PRIVMSG #c :hello  world ", LOOM_CMD_TRAILING, 15,
     "PRIVMSG|#c|hello  world "},
    {"PRIVMSG #c :", LOOM_CMD_TRAILING, 15, "PRIVMSG|#c|"},
    {"PRIVMSG #c ::x", LOOM_CMD_TRAILING, 15, "PRIVMSG|#c|:x"},
    {":pfx CMD", LOOM_CMD_TRAILING, 15, ":pfx|CMD"}, /* not the first */
    {"NICK a:b", LOOM_CMD_TRAILING, 15, "NICK|a:b"},
    {"CMD a :b c", LOOM_CMD_TRAILING, 2, "CMD|a :b c"},
    {"CMD a :b c", 0, 15, "CMD|a|:b|c"},
};

static void join(const loom_slice_t *tok, size_t n, char *out, size_t cap)
{
    size_t i, off = 0;

    out[0] = '\0';
    for (i = 0; i < n; i++)
        off += (size_t)snprintf(out + off, cap - off, "%s%.*s", i ? "|" : "",
                                (int)tok[i].len, tok[i].p);
}

static void test_split(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < LOOM_ARRAY_LEN(split_cases); i++) {
        const split_case_t *t = &split_cases[i];
        size_t len = strlen(t->line), n, k;
        char *line = malloc(len ? len : 1); /* exact size for ASan */
        loom_slice_t tok[16];
        char got[256];

        assert_non_null(line);
        memcpy(line, t->line, len);
        n = loom_cmd_split(line, len, t->opts, tok, t->max);
        assert_true(n <= t->max);
        for (k = 0; k < n; k++)
            assert_true(tok[k].p >= line &&
                        tok[k].p + tok[k].len <= line + len);
        join(tok, n, got, sizeof(got));
        if (strcmp(got, t->want) != 0)
            fail_msg("split '%s' (max %zu): got '%s', want '%s'", t->line,
                     t->max, got, t->want);
        free(line);
    }
}

/* ---- lookup and arity -------------------------------------------------- */

static int h_count(const loom_cmd_t *cmd, void *ctx, void *arg)
{
    int *calls = ctx;

    (void)arg;
    (*calls)++;
    return (int)cmd->flags;
}

static const int data_mail = 25;

static const loom_cmd_t smtp_cmds[] = {
    {"HELO", 1, 1, 1, h_count, NULL},
    {"EHLO", 1, 1, 2, h_count, NULL},
    {"MAIL", 1, LOOM_CMD_ANY, 3, h_count, &data_mail},
    {"RCPT", 1, LOOM_CMD_ANY, 4, h_count, NULL},
    {"DATA", 0, 0, 5, h_count, NULL},
    {"RSET", 0, 0, 6, NULL, NULL},
    {"QUIT", 0, 0, 7, h_count, NULL},
};
static const loom_cmd_table_t smtp = LOOM_CMD_TABLE(smtp_cmds, LOOM_CMD_ICASE);

static const loom_cmd_t mc_cmds[] = {
    {"get", 1, LOOM_CMD_ANY, 0, NULL, NULL},
    {"gets", 1, LOOM_CMD_ANY, 0, NULL, NULL},
    {"set", 4, 5, 0, NULL, NULL},
    {"version", 0, LOOM_CMD_ANY, 0, NULL, NULL},
};
static const loom_cmd_table_t mc = LOOM_CMD_TABLE(mc_cmds, 0);

static void test_find(void **state)
{
    (void)state;
    assert_ptr_equal(loom_cmd_find(&mc, "get", 3), &mc_cmds[0]);
    assert_ptr_equal(loom_cmd_find(&mc, "gets", 4), &mc_cmds[1]);
    assert_ptr_equal(loom_cmd_find(&mc, "getsx", 4), &mc_cmds[1]);
    assert_null(loom_cmd_find(&mc, "GET", 3)); /* exact table */
    assert_null(loom_cmd_find(&mc, "ge", 2));
    assert_null(loom_cmd_find(&mc, "getx", 4));
    assert_null(loom_cmd_find(&mc, "get\0", 4));
    assert_null(loom_cmd_find(&mc, "", 0));
    assert_ptr_equal(loom_cmd_find(&smtp, "helo", 4), &smtp_cmds[0]);
    assert_ptr_equal(loom_cmd_find(&smtp, "HeLo", 4), &smtp_cmds[0]);
    assert_ptr_equal(loom_cmd_find(&smtp, "QUIT", 4), &smtp_cmds[6]);
    assert_null(loom_cmd_find(&smtp, "HEL", 3));
    assert_null(loom_cmd_find(&smtp, "HELO ", 5));
    /* only ASCII letters fold: '@' (0x40) is not '`' (0x60) */
    assert_null(loom_cmd_find(&smtp, "H@LO", 4));
    assert_null(loom_cmd_find(&smtp, "\xc8LO", 3));
    /* an empty table */
    {
        const loom_cmd_table_t none = {NULL, 0, 0};

        assert_null(loom_cmd_find(&none, "get", 3));
    }
}

static void test_arity(void **state)
{
    loom_slice_t tok[8];
    const loom_cmd_t *c;
    size_t n;

    (void)state;
    assert_int_equal(loom_cmd_arity(&mc_cmds[2], 3), LOOM_DECLINED);
    assert_int_equal(loom_cmd_arity(&mc_cmds[2], 4), LOOM_OK);
    assert_int_equal(loom_cmd_arity(&mc_cmds[2], 5), LOOM_OK);
    assert_int_equal(loom_cmd_arity(&mc_cmds[2], 6), LOOM_DECLINED);
    assert_int_equal(loom_cmd_arity(&mc_cmds[0], 0), LOOM_DECLINED);
    assert_int_equal(loom_cmd_arity(&mc_cmds[0], 100000), LOOM_OK);
    assert_int_equal(loom_cmd_arity(&mc_cmds[3], 0), LOOM_OK);

    n = loom_cmd_split("set k 0 0 1", 11, 0, tok, 8);
    assert_int_equal(loom_cmd_match(&mc, tok, n, &c), LOOM_OK);
    assert_ptr_equal(c, &mc_cmds[2]);
    n = loom_cmd_split("set k 0 0", 9, 0, tok, 8);
    assert_int_equal(loom_cmd_match(&mc, tok, n, &c), LOOM_DECLINED);
    assert_ptr_equal(c, &mc_cmds[2]);
    n = loom_cmd_split("frob k", 6, 0, tok, 8);
    assert_int_equal(loom_cmd_match(&mc, tok, n, &c), LOOM_ERROR);
    assert_null(c);
    assert_int_equal(loom_cmd_match(&mc, tok, 0, &c), LOOM_ERROR);
    assert_null(c);
}

static void test_call(void **state)
{
    int calls = 0;
    const loom_cmd_t *c = loom_cmd_find(&smtp, "mail", 4);

    (void)state;
    assert_non_null(c);
    assert_int_equal(loom_cmd_call(c, &calls, NULL), 3);
    assert_int_equal(calls, 1);
    assert_int_equal(*(const int *)c->data, 25);
    c = loom_cmd_find(&smtp, "rset", 4);
    assert_int_equal(loom_cmd_call(c, &calls, NULL), LOOM_DECLINED);
    assert_int_equal(calls, 1);
}

/* ---- a stream of commands, cut anywhere -------------------------------- */

typedef struct {
    char *s;
    size_t len, cap;
} out_t;

static void out_add(out_t *o, const char *p, size_t n)
{
    if (o->len + n + 1 > o->cap) {
        o->cap = (o->len + n + 1) * 2;
        o->s = realloc(o->s, o->cap);
        assert_non_null(o->s);
    }
    memcpy(o->s + o->len, p, n);
    o->len += n;
    o->s[o->len] = '\0';
}

/* Handlers of the stream tests record "name(arg|arg)" into ARG. */
static int h_record(const loom_cmd_t *cmd, void *ctx, void *arg)
{
    const loom_slice_t *tok = ctx;
    size_t n = *(const size_t *)arg, i;
    out_t *o = (out_t *)cmd->data;

    out_add(o, cmd->name, strlen(cmd->name));
    out_add(o, "(", 1);
    for (i = 1; i < n; i++) {
        if (i > 1)
            out_add(o, "|", 1);
        out_add(o, tok[i].p, tok[i].len);
    }
    out_add(o, ")", 1);
    return LOOM_OK;
}

static out_t rec; /* what the handlers of the tables below recorded */

static const loom_cmd_t smtp_rec_cmds[] = {
    {"HELO", 1, 1, 0, h_record, &rec},
    {"MAIL", 1, LOOM_CMD_ANY, 0, h_record, &rec},
    {"DATA", 0, 0, 0, h_record, &rec},
    {"QUIT", 0, 0, 0, h_record, &rec},
};
static const loom_cmd_t irc_rec_cmds[] = {
    {"NICK", 1, 1, 0, h_record, &rec},
    {"PRIVMSG", 2, 2, 0, h_record, &rec},
    {"JOIN", 1, 2, 0, h_record, &rec},
};

typedef struct {
    const loom_cmd_table_t *t;
    unsigned split_opts;
    const char *unknown, *arity; /* the protocol's replies */
} proto_t;

static const proto_t smtp_proto = {
    &(const loom_cmd_table_t)LOOM_CMD_TABLE(smtp_rec_cmds, LOOM_CMD_ICASE), 0,
    "500", "501"};
static const proto_t irc_proto = {
    &(const loom_cmd_table_t)LOOM_CMD_TABLE(irc_rec_cmds, LOOM_CMD_ICASE),
    LOOM_CMD_TRAILING, "421", "461"};

static void dispatch_line(const proto_t *pr, loom_slice_t line)
{
    loom_slice_t tok[15];
    size_t n = loom_cmd_split(line.p, line.len, pr->split_opts, tok, 15);
    const loom_cmd_t *c;

    switch (loom_cmd_match(pr->t, tok, n, &c)) {
    case LOOM_OK:
        assert_int_equal(loom_cmd_call(c, tok, &n), LOOM_OK);
        break;
    case LOOM_DECLINED:
        out_add(&rec, pr->arity, strlen(pr->arity));
        out_add(&rec, " ", 1);
        out_add(&rec, c->name, strlen(c->name));
        break;
    default:
        out_add(&rec, pr->unknown, strlen(pr->unknown));
        break;
    }
    out_add(&rec, ";", 1);
}

/* Play the core: keep unconsumed bytes, append each piece, take lines. */
static void run_stream(const proto_t *pr, const char *in, size_t len,
                       size_t split, size_t piece)
{
    loom_lines_t lr;
    char *buf = malloc(len + 1);
    size_t have = 0, off = 0;

    assert_non_null(buf);
    loom_lines_init(&lr, 512);
    rec.len = 0;
    while (off < len) {
        size_t n = len - off, used;
        loom_slice_t line;

        if (split)
            n = off < split ? split - off : len - off;
        else if (piece && n > piece)
            n = piece;
        memcpy(buf + have, in + off, n);
        have += n;
        off += n;
        while (loom_lines_next(&lr, buf, have, &line, &used) ==
               LOOM_LINES_LINE) {
            dispatch_line(pr, line);
            memmove(buf, buf + used, have - used);
            have -= used;
        }
    }
    free(buf);
}

static void expect_stream(const proto_t *pr, const char *in, const char *want)
{
    size_t len = strlen(in), k;

    run_stream(pr, in, len, 0, 0);
    if (rec.len != strlen(want) || memcmp(rec.s, want, rec.len) != 0)
        fail_msg("whole: got '%s', want '%s'", rec.s, want);
    for (k = 1; k < len; k++) {
        run_stream(pr, in, len, k, 0);
        if (strcmp(rec.s, want) != 0)
            fail_msg("split at %zu: got '%s', want '%s'", k, rec.s, want);
    }
    run_stream(pr, in, len, 0, 1);
    if (strcmp(rec.s, want) != 0)
        fail_msg("byte by byte: got '%s', want '%s'", rec.s, want);
}

static void test_stream_smtp(void **state)
{
    (void)state;
    expect_stream(&smtp_proto,
                  "HELO client.example\r\n"
                  "helo\r\n"
                  "mail FROM:<a@b> SIZE=10\r\n"
                  "MaIl   FROM:<c@d>  \r\n"
                  "VRFY x\r\n"
                  "\r\n"
                  "DATA now\r\n"
                  "data\n"
                  "QUIT\r\n",
                  "HELO(client.example);"
                  "501 HELO;"
                  "MAIL(FROM:<a@b>|SIZE=10);"
                  "MAIL(FROM:<c@d>);"
                  "500;"
                  "500;"
                  "501 DATA;"
                  "DATA();"
                  "QUIT();");
    free(rec.s);
    memset(&rec, 0, sizeof(rec));
}

static void test_stream_irc(void **state)
{
    (void)state;
    expect_stream(&irc_proto,
                  "NICK alice\r\n"
                  "privmsg #loom :hello there, loom \r\n"
                  "PRIVMSG #loom hi\r\n"
                  "PRIVMSG #loom\r\n"
                  "JOIN #a key\r\n"
                  "JOIN #a key extra\r\n"
                  "PING x\r\n"
                  "PRIVMSG bob :\r\n",
                  "NICK(alice);"
                  "PRIVMSG(#loom|hello there, loom );"
                  "PRIVMSG(#loom|hi);"
                  "461 PRIVMSG;"
                  "JOIN(#a|key);"
                  "461 JOIN;"
                  "421;"
                  "PRIVMSG(bob|);");
    free(rec.s);
    memset(&rec, 0, sizeof(rec));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split),       cmocka_unit_test(test_find),
        cmocka_unit_test(test_arity),       cmocka_unit_test(test_call),
        cmocka_unit_test(test_stream_smtp), cmocka_unit_test(test_stream_irc),
    };

    return cmocka_run_group_tests_name("cmd", tests, NULL, NULL);
}
