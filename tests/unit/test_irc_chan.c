/*
 * test_irc_chan.c - channels and WHO over the in-memory transport:
 * several clients of one irc instance in a dialogue, each command's
 * replies and what the other members see (JOIN and its refusals, PART,
 * TOPIC, NAMES with multi-prefix / userhost-in-names, LIST with ELIST
 * filters, channel and user MODE with lists and limits, KICK, INVITE,
 * WHO / WHOX, WHOIS, WHOWAS), paced WHO output under back-pressure, and
 * one dialogue fed whole and byte by byte with the same replies.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "irc_int.h"
#include "session.h"

#define SRV "irc.example.test"

static const ses_spec_t spec = {
    .conf = "irc \"chat\" {\n"
            "    listen = {\"tcp:6667:interface=127.0.0.1\"}\n"
            "    server_name = \"" SRV "\"\n"
            "    maxchannels = 5\n"
            "    maxlist = 3\n"
            "    modes = 3\n"
            "    topiclen = 20\n"
            "    kicklen = 10\n"
            "    whowas = 4\n"
            "    flood_burst = 10000\n"
            "    flood_rate = 100000\n"
            "    clients_per_ip = 100000\n"
            "    service_nick = \"loom\"\n"
            "}\n",
    .module = "irc",
    .name = "chat",
};

static int env_setup(void **state)
{
    return ses_setup(state, &spec);
}

/* One client: its connection and how much of its output was read. */
typedef struct {
    ses_env_t *e;
    loom_conn_t *conn;
    size_t seen;
    char nick[32];
    char out[65536]; /* the output of the last take() */
} cl_t;

static void say(cl_t *c, const char *fmt, ...) LOOM_PRINTF(2, 3);

static void say(cl_t *c, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(line, sizeof(line) - 2, fmt, ap);
    va_end(ap);
    assert_true(n > 0 && (size_t)n < sizeof(line) - 2);
    memcpy(line + n, "\r\n", 2);
    ses_feed(c->e, c->conn, line, (size_t)n + 2);
}

/* The output since the last take, in c->out; returns it. */
static const char *take(cl_t *c)
{
    size_t len;
    const char *all = ses_output(c->conn, &len);
    size_t n = len - c->seen;

    if (n >= sizeof(c->out))
        n = sizeof(c->out) - 1;
    memcpy(c->out, all + c->seen, n);
    c->out[n] = '\0';
    c->seen = len;
    return c->out;
}

static cl_t *client_real(ses_env_t *e, const char *nick, const char *real)
{
    cl_t *c = calloc(1, sizeof(*c));

    assert_non_null(c);
    c->e = e;
    c->conn = ses_conn(e, NULL);
    snprintf(c->nick, sizeof(c->nick), "%s", nick);
    say(c, "NICK %s", nick);
    if (real)
        say(c, "USER %s 0 * :%s", nick, real);
    else
        say(c, "USER %s 0 * :Real %s", nick, nick);
    take(c);
    if (strstr(c->out, " 001 ") == NULL)
        fail_msg("%s not welcomed: %s", nick, c->out);
    return c;
}

static cl_t *client(ses_env_t *e, const char *nick)
{
    return client_real(e, nick, NULL);
}

static void bye(cl_t *c)
{
    loom_mem_conn_free(c->conn);
    ses_settle(c->e);
    free(c);
}

static irc_client_t *server_side(cl_t *c)
{
    irc_inst_t *irc = irc_inst(c->e->inst);
    irc_client_t *sc = irc_client_by_nick(irc, c->nick);

    assert_non_null(sc);
    return sc;
}

/* "nick!user@host" of C as the server shows it. */
static const char *pfx(cl_t *c)
{
    static char buf[4][200];
    static int k;

    k = (k + 1) % 4;
    return irc_client_prefix(server_side(c), buf[k], sizeof(buf[k]));
}

/* Fail unless OUT has the whole line printf(FMT). */
static void has(const char *out, const char *fmt, ...) LOOM_PRINTF(2, 3);

static void has(const char *out, const char *fmt, ...)
{
    char want[1024];
    va_list ap;
    const char *p;
    size_t n;

    va_start(ap, fmt);
    vsnprintf(want, sizeof(want), fmt, ap);
    va_end(ap);
    n = strlen(want);
    for (p = out; (p = strstr(p, want)) != NULL; p++)
        if ((p == out || p[-1] == '\n') && strncmp(p + n, "\r\n", 2) == 0)
            return;
    fail_msg("missing line \"%s\" in:\n%s", want, out);
}

/* Fail when OUT has the text printf(FMT) anywhere. */
static void hasnt(const char *out, const char *fmt, ...) LOOM_PRINTF(2, 3);

static void hasnt(const char *out, const char *fmt, ...)
{
    char want[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(want, sizeof(want), fmt, ap);
    va_end(ap);
    if (strstr(out, want))
        fail_msg("unexpected \"%s\" in:\n%s", want, out);
}

static size_t count(const char *out, const char *what)
{
    size_t n = 0;

    for (const char *p = out; (p = strstr(p, what)) != NULL; p++)
        n++;
    return n;
}

/* The longest line of OUT, CR LF included. */
static size_t longest(const char *out)
{
    size_t most = 0;

    for (const char *p = out, *eol; (eol = strstr(p, "\r\n")) != NULL;
         p = eol + 2)
        if ((size_t)(eol + 2 - p) > most)
            most = (size_t)(eol + 2 - p);
    return most;
}

/* ---- JOIN -----------------------------------------------------------------
 */

static void test_join(void **state)
{
    ses_env_t *e = *state;
    cl_t *a = client(e, "alice"), *b = client(e, "bob");

    say(a, "JOIN #j1");
    take(a);
    has(a->out, ":%s JOIN #j1", pfx(a));
    has(a->out, ":" SRV " 353 alice = #j1 :@alice");
    has(a->out, ":" SRV " 366 alice #j1 :End of /NAMES list");
    hasnt(a->out, " 332 ");

    say(b, "JOIN #J1"); /* the case-folded name finds the channel */
    take(b);
    has(b->out, ":%s JOIN #j1", pfx(b));
    assert_true(strstr(b->out, "353 bob = #j1 :bob @alice") ||
                strstr(b->out, "353 bob = #j1 :@alice bob"));
    take(a);
    has(a->out, ":%s JOIN #j1", pfx(b));

    say(b, "JOIN #j1"); /* already there: nothing */
    assert_string_equal(take(b), "");

    /* extended-join and away-notify, each to those who asked for it */
    cl_t *c = client(e, "carl");

    server_side(b)->caps |= IRC_CAP_EXTENDED_JOIN | IRC_CAP_AWAY_NOTIFY;
    server_side(c)->away = strdup("brb");
    say(c, "JOIN #j1");
    take(c);
    assert_int_equal(count(c->out, " JOIN #j1"), 1);
    has(c->out, ":%s JOIN #j1", pfx(c));
    take(b);
    has(b->out, ":%s JOIN #j1 * :Real carl", pfx(c));
    has(b->out, ":%s AWAY :brb", pfx(c));
    take(a);
    has(a->out, ":%s JOIN #j1", pfx(c));
    hasnt(a->out, "AWAY");
    free(server_side(c)->away);
    server_side(c)->away = NULL;
    bye(c);
    take(a);
    take(b);

    say(b, "JOIN nochan,#a\abad");
    take(b);
    has(b->out, ":" SRV " 403 bob nochan :No such channel");
    has(b->out, ":" SRV " 476 bob #a\abad :Bad Channel Mask");
    say(b, "JOIN #j2,#j3,#j4,#j5"); /* maxtargets 4 */
    say(b, "JOIN #j6");             /* maxchannels 5 */
    take(b);
    has(b->out, ":" SRV " 405 bob #j6 :You have joined too many channels");
    say(b, "JOIN 0");
    take(b);
    for (int i = 1; i <= 5; i++)
        has(b->out, ":%s PART #j%d", pfx(b), i);
    take(a);
    has(a->out, ":%s PART #j1", pfx(b));
    assert_int_equal(server_side(b)->nchannels, 0);
    assert_null(irc_chan_find(irc_inst(e->inst), "#j2"));
    bye(a);
    bye(b);
    assert_null(irc_chan_find(irc_inst(e->inst), "#j1"));
}

static void test_join_refusals(void **state)
{
    ses_env_t *e = *state;
    cl_t *a = client(e, "op"), *b = client(e, "guest");

    say(a, "JOIN #r");
    say(a, "MODE #r +k sesame");
    take(a);
    has(a->out, ":%s MODE #r +k sesame", pfx(a));
    say(b, "JOIN #r");
    say(b, "JOIN #r wrong");
    take(b);
    assert_int_equal(count(b->out, " 475 guest #r :Cannot join channel (+k)"),
                     2);
    say(b, "JOIN #r sesame");
    has(take(b), ":%s JOIN #r", pfx(b));
    say(b, "PART #r :later");
    has(take(a), ":%s PART #r :later", pfx(b));

    say(a, "MODE #r -k sesame");
    has(take(a), ":%s MODE #r -k *", pfx(a));
    say(a, "MODE #r +l 1");
    has(take(a), ":%s MODE #r +l 1", pfx(a));
    say(b, "JOIN #r");
    has(take(b), ":" SRV " 471 guest #r :Cannot join channel (+l)");

    say(a, "MODE #r -l+i");
    take(a);
    say(b, "JOIN #r");
    has(take(b), ":" SRV " 473 guest #r :Cannot join channel (+i)");
    say(a, "MODE #r +I guest!*@*");
    say(b, "JOIN #r"); /* matches the invite exception */
    has(take(b), ":%s JOIN #r", pfx(b));
    say(b, "PART #r");
    say(a, "MODE #r -iI guest!*@*");
    say(a, "MODE #r +b guest");
    take(a);
    has(a->out, ":%s MODE #r +b guest!*@*", pfx(a));
    say(b, "JOIN #r");
    has(take(b), ":" SRV " 474 guest #r :Cannot join channel (+b)");
    say(a, "MODE #r +e *!*@*");
    say(b, "JOIN #r"); /* the exception wins */
    has(take(b), ":%s JOIN #r", pfx(b));
    say(b, "PART #r");
    say(a, "MODE #r -e *!*@*");

    /* an invitation opens every door once */
    say(a, "MODE #r +ikl key 1");
    say(a, "INVITE guest #r");
    take(a);
    has(a->out, ":" SRV " 341 op guest #r");
    has(take(b), ":%s INVITE guest #r", pfx(a));
    say(b, "JOIN #r");
    has(take(b), ":%s JOIN #r", pfx(b));
    say(b, "PART #r");
    say(b, "JOIN #r");
    has(take(b), ":" SRV " 474 guest #r :Cannot join channel (+b)");
    bye(a);
    bye(b);
}

/* ---- PART, TOPIC, NAMES, LIST ---------------------------------------------
 */

static void test_part_topic(void **state)
{
    ses_env_t *e = *state;
    cl_t *a = client(e, "tina"), *b = client(e, "tom");

    say(b, "PART #t");
    has(take(b), ":" SRV " 403 tom #t :No such channel");
    say(a, "JOIN #t");
    say(b, "PART #t");
    has(take(b), ":" SRV " 442 tom #t :You're not on that channel");
    say(b, "TOPIC #t");
    has(take(b), ":" SRV " 331 tom #t :No topic is set");
    say(b, "TOPIC #t :hello");
    has(take(b), ":" SRV " 442 tom #t :You're not on that channel");
    say(b, "JOIN #t");
    say(b, "TOPIC #t :hello");
    has(take(b), ":" SRV " 482 tom #t :You're not channel operator");
    take(a);
    say(a, "TOPIC #t :a topic longer than twenty bytes");
    has(take(a), ":%s TOPIC #t :a topic longer than ", pfx(a));
    has(take(b), ":%s TOPIC #t :a topic longer than ", pfx(a));
    say(a, "MODE #t -t");
    say(b, "TOPIC #t :by tom");
    has(take(a), ":%s TOPIC #t :by tom", pfx(b));
    say(a, "TOPIC #t");
    take(a);
    has(a->out, ":" SRV " 332 tina #t :by tom");
    assert_non_null(strstr(a->out, " 333 tina #t "));
    assert_non_null(strstr(a->out, pfx(b)));

    /* a reason as long as the input line allows: cut to fit 512 bytes */
    {
        char reason[480];

        memset(reason, 'x', sizeof(reason) - 1);
        reason[sizeof(reason) - 1] = '\0';
        say(b, "PART #t :%s", reason);
        take(a);
        assert_non_null(strstr(a->out, " PART #t :xxxxxxxx"));
        assert_true(longest(a->out) <= 512);
        assert_true(longest(a->out) >= 500);
        say(b, "JOIN #t");
        take(a);
    }
    say(a, "PART #t :bye now");
    has(take(b), ":%s PART #t :bye now", pfx(a));
    bye(b); /* the last member: the channel goes */
    assert_null(irc_chan_find(irc_inst(e->inst), "#t"));
    say(a, "TOPIC #t");
    has(take(a), ":" SRV " 403 tina #t :No such channel");
    bye(a);
}

static void test_names_list(void **state)
{
    ses_env_t *e = *state;
    cl_t *a = client(e, "nora"), *b = client(e, "ned"), *c = client(e, "nick");

    say(a, "JOIN #n1,#n2,#n3");
    say(b, "JOIN #n1,#n2");
    say(a, "MODE #n1 +v nora");
    say(a, "MODE #n2 +s");
    say(a, "TOPIC #n1 :one");
    say(c, "MODE nick +i");
    say(c, "JOIN #n1");
    take(a);
    take(b);

    /* b: no multi-prefix, no userhost-in-names; c is +i but b shares #n1 */
    say(b, "NAMES #n1");
    take(b);
    assert_non_null(strstr(b->out, "353 ned = #n1 :"));
    assert_non_null(strstr(b->out, "@nora"));
    hasnt(b->out, "@+nora");
    assert_true(strstr(b->out, " nick") || strstr(b->out, ":nick"));
    has(b->out, ":" SRV " 366 ned #n1 :End of /NAMES list");
    server_side(b)->caps |= IRC_CAP_MULTI_PREFIX | IRC_CAP_USERHOST_IN_NAMES;
    say(b, "NAMES #n1");
    take(b);
    assert_non_null(strstr(b->out, "@+"));
    assert_non_null(strstr(b->out, pfx(a)));

    /* a non-member sees neither +i users nor a secret channel */
    cl_t *d = client(e, "nat");

    say(d, "NAMES #n1,#n2");
    take(d);
    hasnt(d->out, "nick");
    has(d->out, ":" SRV " 366 nat #n2 :End of /NAMES list");
    hasnt(d->out, "353 nat @ #n2");
    say(a, "NAMES #n2");
    assert_non_null(strstr(take(a), "353 nora @ #n2 :"));
    say(d, "NAMES");
    has(take(d), ":" SRV " 366 nat * :End of /NAMES list");

    /* LIST: the secret one hidden, the member counts, ELIST filters */
    say(d, "LIST");
    take(d);
    has(d->out, ":" SRV " 321 nat Channel :Users  Name");
    has(d->out, ":" SRV " 322 nat #n1 3 :one");
    has(d->out, ":" SRV " 322 nat #n3 1 :");
    hasnt(d->out, "#n2");
    has(d->out, ":" SRV " 323 nat :End of /LIST");
    say(a, "LIST >1");
    take(a);
    has(a->out, ":" SRV " 322 nora #n1 3 :one");
    has(a->out, ":" SRV " 322 nora #n2 2 :");
    hasnt(a->out, "#n3");
    say(a, "LIST <3,>1");
    take(a);
    has(a->out, ":" SRV " 322 nora #n2 2 :");
    hasnt(a->out, "#n1");
    say(d, "LIST #n3,#n2,#none");
    take(d);
    has(d->out, ":" SRV " 322 nat #n3 1 :");
    hasnt(d->out, "#n2");
    bye(a);
    bye(b);
    bye(c);
    bye(d);
}

/* ---- MODE -----------------------------------------------------------------
 */

static void test_mode_channel(void **state)
{
    ses_env_t *e = *state;
    cl_t *a = client(e, "mo"), *b = client(e, "mi"), *c = client(e, "mu");

    say(a, "MODE #m");
    has(take(a), ":" SRV " 403 mo #m :No such channel");
    say(a, "JOIN #m");
    say(b, "JOIN #m");
    take(a);
    take(b);
    say(b, "MODE #m");
    take(b);
    has(b->out, ":" SRV " 324 mi #m +nt");
    assert_non_null(strstr(b->out, " 329 mi #m "));
    say(b, "MODE #m +m");
    has(take(b), ":" SRV " 482 mi #m :You're not channel operator");

    say(a, "MODE #m +o-o+v mi mi mi");
    take(a);
    has(a->out, ":%s MODE #m +o-o+v mi mi mi", pfx(a));
    has(take(b), ":%s MODE #m +o-o+v mi mi mi", pfx(a));
    say(a, "MODE #m +v mi"); /* already: nothing */
    assert_string_equal(take(a), "");
    say(a, "MODE #m +o mu");
    has(take(a), ":" SRV " 441 mo mu #m :They aren't on that channel");
    say(a, "MODE #m +o nobody");
    has(take(a), ":" SRV " 401 mo nobody :No such nick/channel");
    say(a, "MODE #m +xy");
    take(a);
    has(a->out, ":" SRV " 472 mo x :is unknown mode char to me for #m");
    has(a->out, ":" SRV " 472 mo y :is unknown mode char to me for #m");
    say(a, "MODE #m +o");
    has(take(a), ":" SRV " 461 mo MODE :Not enough parameters");

    /* the MODES limit (3): the fourth change with a parameter is dropped */
    say(c, "JOIN #m");
    say(a, "MODE #m +vvvv mo mu mi mu");
    take(a);
    has(a->out, ":%s MODE #m +vv mo mu", pfx(a));
    hasnt(a->out, "+vvv");

    /* lists: normalized, no duplicates, one bound for b e I together */
    say(a, "MODE #m +b bad");
    say(a, "MODE #m +b BAD!*@*");
    say(a, "MODE #m +e *@good.example");
    say(a, "MODE #m +I friend");
    say(a, "MODE #m +b one-too-many");
    take(a);
    assert_int_equal(count(a->out, " MODE #m +b "), 1);
    has(a->out, ":%s MODE #m +e *!*@good.example", pfx(a));
    has(a->out, ":%s MODE #m +I friend!*@*", pfx(a));
    has(a->out, ":" SRV " 478 mo #m one-too-many!*@* :Channel list is full");
    say(b, "MODE #m b");
    take(b);
    assert_non_null(strstr(b->out, ":" SRV " 367 mi #m bad!*@* mo!"));
    has(b->out, ":" SRV " 368 mi #m :End of channel ban list");
    say(b, "MODE #m e");
    assert_non_null(strstr(take(b), " 348 mi #m *!*@good.example "));
    say(b, "MODE #m I");
    assert_non_null(strstr(take(b), " 346 mi #m friend!*@* "));
    say(a, "MODE #m -b bad!*@*");
    has(take(a), ":%s MODE #m -b bad!*@*", pfx(a));
    say(a, "MODE #m -b bad!*@*");
    assert_string_equal(take(a), "");

    /* key and limit in 324: the key's value only for members */
    say(a, "MODE #m +kl secret 7");
    has(take(a), ":%s MODE #m +kl secret 7", pfx(a));
    cl_t *d = client(e, "mx");

    say(d, "MODE #m");
    has(take(d), ":" SRV " 324 mx #m +ntkl * 7");
    say(b, "MODE #m");
    has(take(b), ":" SRV " 324 mi #m +ntkl secret 7");
    say(a, "MODE #m +l zero");
    say(a, "MODE #m +k bad,key");
    say(a, "MODE #m -n+p");
    take(a);
    has(a->out, ":%s MODE #m -n+p", pfx(a));
    assert_int_equal(count(a->out, " MODE "), 1);

    /* a secret channel's lists are not shown to outsiders */
    say(a, "MODE #m +s");
    say(d, "MODE #m b");
    has(take(d), ":" SRV " 442 mx #m :You're not on that channel");
    bye(a);
    bye(b);
    bye(c);
    bye(d);
}

/* Changes that do not fit one 512-byte line go out in two. */
static void test_mode_long(void **state)
{
    ses_env_t *e = *state;
    cl_t *a = client(e, "longop");
    char chan[51], mask[3][140];

    chan[0] = '#';
    memset(chan + 1, 'c', sizeof(chan) - 2);
    chan[sizeof(chan) - 1] = '\0';
    /* nick-only masks grow by "!*@*" when normalized: the input line
     * fits, the announcement does not */
    for (int i = 0; i < 3; i++) {
        memset(mask[i], 'n', sizeof(mask[i]) - 1);
        mask[i][0] = (char)('a' + i);
        mask[i][sizeof(mask[i]) - 1] = '\0';
    }
    say(a, "JOIN %s", chan);
    take(a);
    say(a, "MODE %s +bbb %s %s %s", chan, mask[0], mask[1], mask[2]);
    take(a);
    assert_int_equal(count(a->out, " MODE "), 2);
    assert_true(longest(a->out) <= 512);
    for (int i = 0; i < 3; i++)
        assert_non_null(strstr(a->out, mask[i]));
    bye(a);
}

static void test_mode_user(void **state)
{
    ses_env_t *e = *state;
    cl_t *a = client(e, "uma"), *b = client(e, "umb");

    say(a, "MODE uma");
    has(take(a), ":" SRV " 221 uma +");
    say(a, "MODE uma +iw");
    has(take(a), ":uma MODE uma :+iw");
    say(a, "MODE uma +i");
    assert_string_equal(take(a), "");
    say(a, "MODE uma +o");
    assert_string_equal(take(a), "");
    say(a, "MODE uma -w+z");
    take(a);
    has(a->out, ":" SRV " 501 uma :Unknown MODE flag");
    has(a->out, ":uma MODE uma :-w");
    say(a, "MODE uma");
    has(take(a), ":" SRV " 221 uma +i");
    say(a, "MODE umb +i");
    has(take(a), ":" SRV " 502 uma :Can't change mode for other users");
    say(a, "MODE ghost +i");
    has(take(a), ":" SRV " 401 uma ghost :No such nick/channel");
    bye(a);
    bye(b);
}

/* ---- KICK and INVITE ------------------------------------------------------
 */

static void test_kick_invite(void **state)
{
    ses_env_t *e = *state;
    cl_t *a = client(e, "kay"), *b = client(e, "kim"), *c = client(e, "kit");

    say(a, "KICK #k kim");
    has(take(a), ":" SRV " 403 kay #k :No such channel");
    say(a, "JOIN #k");
    say(b, "JOIN #k");
    say(c, "KICK #k kim");
    has(take(c), ":" SRV " 442 kit #k :You're not on that channel");
    say(b, "KICK #k kay");
    has(take(b), ":" SRV " 482 kim #k :You're not channel operator");
    say(a, "KICK #k kit");
    has(take(a), ":" SRV " 441 kay kit #k :They aren't on that channel");
    say(a, "KICK #k ghost");
    has(take(a), ":" SRV " 401 kay ghost :No such nick/channel");
    take(b);
    say(a, "KICK #k kim :a reason longer than ten");
    has(take(b), ":%s KICK #k kim :a reason l", pfx(a));
    has(take(a), ":%s KICK #k kim :a reason l", pfx(a));
    assert_null(irc_member_find(irc_chan_find(irc_inst(e->inst), "#k"),
                                server_side(b)));

    /* INVITE */
    say(c, "INVITE kim #k");
    has(take(c), ":" SRV " 442 kit #k :You're not on that channel");
    say(a, "INVITE ghost #k");
    has(take(a), ":" SRV " 401 kay ghost :No such nick/channel");
    say(a, "INVITE kim #nope");
    has(take(a), ":" SRV " 403 kay #nope :No such channel");
    say(a, "INVITE kay #k");
    has(take(a), ":" SRV " 443 kay kay #k :is already on channel");
    say(c, "JOIN #k");
    say(a, "MODE #k +i");
    take(c);
    say(c, "INVITE kim #k");
    has(take(c), ":" SRV " 482 kit #k :You're not channel operator");
    /* invite-notify: the ops with the capability hear of it */
    say(a, "MODE #k +o kit");
    server_side(a)->caps |= IRC_CAP_INVITE_NOTIFY;
    take(a);
    say(c, "INVITE kim #k");
    has(take(c), ":" SRV " 341 kit kim #k");
    has(take(b), ":%s INVITE kim #k", pfx(c));
    has(take(a), ":%s INVITE kim #k", pfx(c));
    say(b, "JOIN #k");
    has(take(b), ":%s JOIN #k", pfx(b));
    bye(a);
    bye(b);
    bye(c);
}

/* ---- who may speak (the hub's PRIVMSG asks irc_chan_can_send) ----------- */

static void test_can_send(void **state)
{
    ses_env_t *e = *state;
    cl_t *a = client(e, "sam"), *b = client(e, "sue"), *c = client(e, "sid");

    say(a, "JOIN #c");
    say(b, "JOIN #c");
    take(a);
    say(c, "PRIVMSG #c :from outside");
    has(take(c), ":" SRV " 404 sid #c :Cannot send to channel");
    hasnt(take(a), "from outside");
    say(a, "MODE #c -n");
    say(c, "PRIVMSG #c :now allowed");
    has(take(a), ":%s PRIVMSG #c :now allowed", pfx(c));
    say(a, "MODE #c +m");
    say(b, "PRIVMSG #c :moderated");
    has(take(b), ":" SRV " 404 sue #c :Cannot send to channel");
    say(a, "MODE #c +v sue");
    say(b, "PRIVMSG #c :voiced");
    has(take(a), ":%s PRIVMSG #c :voiced", pfx(b));
    say(a, "MODE #c -m+b sid");
    take(a);
    say(c, "PRIVMSG #c :banned");
    has(take(c), ":" SRV " 404 sid #c :Cannot send to channel");
    hasnt(take(a), "banned");
    bye(a);
    bye(b);
    bye(c);
}

/* ---- WHO, WHOIS, WHOWAS ---------------------------------------------------
 */

static void test_who(void **state)
{
    ses_env_t *e = *state;
    cl_t *a = client(e, "wanda"), *b = client(e, "walt"), *c = client(e, "wes");
    irc_client_t *sb;

    say(a, "JOIN #w");
    say(b, "JOIN #w");
    say(b, "MODE walt +i");
    sb = server_side(b);
    take(a);
    say(a, "WHO #w");
    take(a);
    has(a->out, ":" SRV " 352 wanda #w %s %s " SRV " walt H :0 Real walt",
        sb->user, sb->host);
    assert_non_null(strstr(a->out, " wanda H@ :0 Real wanda"));
    has(a->out, ":" SRV " 315 wanda #w :End of /WHO list");

    /* +i: hidden from a stranger's mask and channel WHO, not by nick */
    say(c, "WHO #w");
    take(c);
    hasnt(c->out, "walt");
    assert_non_null(strstr(c->out, " wanda H@ "));
    say(c, "WHO w*");
    take(c);
    hasnt(c->out, "walt");
    assert_non_null(strstr(c->out, " wanda H "));
    assert_non_null(strstr(c->out, " wes H "));
    has(c->out, ":" SRV " 315 wes w* :End of /WHO list");
    say(c, "WHO 0");
    take(c);
    assert_non_null(strstr(c->out, " wanda H "));
    has(c->out, ":" SRV " 315 wes 0 :End of /WHO list");
    say(c, "WHO walt");
    assert_non_null(strstr(take(c), " walt H :0 Real walt"));

    /* WHOX: the fields asked, in the fixed order, with the token */
    say(a, "WHO #w %%nfat,42");
    take(a);
    has(a->out, ":" SRV " 354 wanda 42 walt H 0");
    has(a->out, ":" SRV " 354 wanda 42 wanda H@ 0");
    say(a, "WHO walt %%cuhnr");
    has(take(a), ":" SRV " 354 wanda * %s %s walt :Real walt", sb->user,
        sb->host);
    say(a, "WHO walt %%i");
    has(take(a), ":" SRV " 354 wanda 255.255.255.255");

    /* away shows as G */
    server_side(b)->away = strdup("out");
    say(a, "WHO walt");
    assert_non_null(strstr(take(a), " walt G :0 "));
    free(server_side(b)->away);
    server_side(b)->away = NULL;
    bye(a);
    bye(b);
    bye(c);
}

static void test_whois_whowas(void **state)
{
    ses_env_t *e = *state;
    cl_t *a = client(e, "ivy"), *b = client(e, "ian");
    char user[IRC_USER_BUF], host[IRC_HOST_BUF];

    say(b, "JOIN #i1,#i2");
    say(b, "MODE #i2 +s");
    say(a, "WHOIS ian");
    take(a);
    snprintf(user, sizeof(user), "%s", server_side(b)->user);
    snprintf(host, sizeof(host), "%s", server_side(b)->host);
    has(a->out, ":" SRV " 311 ivy ian %s %s * :Real ian", user, host);
    has(a->out, ":" SRV " 319 ivy ian :@#i1");
    assert_non_null(strstr(a->out, " 312 ivy ian " SRV " :"));
    assert_non_null(strstr(a->out, " 317 ivy ian "));
    has(a->out, ":" SRV " 318 ivy ian :End of /WHOIS list");
    hasnt(a->out, " 301 ");
    say(b, "WHOIS ian");
    take(b);
    assert_true(strstr(b->out, "319 ian ian :@#i2 @#i1") ||
                strstr(b->out, "319 ian ian :@#i1 @#i2"));
    say(a, "WHOIS srv ghost");
    take(a);
    has(a->out, ":" SRV " 401 ivy ghost :No such nick/channel");
    has(a->out, ":" SRV " 318 ivy ghost :End of /WHOIS list");

    say(a, "WHOWAS ian");
    take(a);
    has(a->out, ":" SRV " 406 ivy ian :There was no such nickname");
    has(a->out, ":" SRV " 369 ivy ian :End of WHOWAS");
    bye(b);
    say(a, "WHOWAS IAN");
    take(a);
    has(a->out, ":" SRV " 314 ivy ian %s %s * :Real ian", user, host);
    assert_non_null(strstr(a->out, " 312 ivy ian " SRV " :"));
    has(a->out, ":" SRV " 369 ivy IAN :End of WHOWAS");

    /* bounded: whowas = 4, the oldest goes first */
    for (int i = 0; i < 5; i++) {
        char nick[16];

        snprintf(nick, sizeof(nick), "gone%d", i);
        bye(client(e, nick));
    }
    say(a, "WHOWAS ian");
    has(take(a), ":" SRV " 406 ivy ian :There was no such nickname");
    say(a, "WHOWAS gone1");
    assert_non_null(strstr(take(a), " 314 ivy gone1 "));
    bye(a);
}

/* ---- paced WHO ------------------------------------------------------------
 */

/* A reader that stops reading: WHO of more than the transport's
 * high-water mark waits for it (the pacer is set) and goes on when it
 * reads again, every user listed once, then 315 once. */
static void test_who_paced(void **state)
{
    ses_env_t *e = *state;
    enum { N = 1000 };
    cl_t **many = calloc(N, sizeof(*many)), *a = client(e, "reader");
    char real[201];
    const char *all;
    size_t len;

    assert_non_null(many);
    memset(real, 'r', sizeof(real) - 1);
    real[sizeof(real) - 1] = '\0';
    for (int i = 0; i < N; i++) {
        char nick[32];

        snprintf(nick, sizeof(nick), "member%d", i);
        many[i] = client_real(e, nick, real);
    }
    ses_window(e, a->conn, 0);
    say(a, "WHO *");
    assert_non_null(server_side(a)->pacer);
    for (int round = 0; round < 1000; round++) {
        ses_consume(e, a->conn, 64 * 1024);
        all = ses_output(a->conn, &len);
        if (memmem(all, len, " 315 reader * ", 14))
            break;
    }
    ses_window(e, a->conn, LOOM_MEM_UNLIMITED);
    assert_null(server_side(a)->pacer);
    all = ses_output(a->conn, &len);
    {
        char *copy = strndup(all, len);
        char want[64];

        assert_int_equal(count(copy, " 315 reader * :End of /WHO list"), 1);
        /* the N, the reader and the service user */
        assert_int_equal(count(copy, " 352 reader * "), N + 2);
        for (int i = 0; i < N; i += 37) {
            snprintf(want, sizeof(want), " member%d H :0 ", i);
            assert_int_equal(count(copy, want), 1);
        }
        free(copy);
    }
    for (int i = 0; i < N; i++)
        bye(many[i]);
    free(many);
    bye(a);
}

/* ---- one dialogue, whole and byte by byte ---------------------------------
 */

static void test_splits(void **state)
{
    ses_env_t *e = *state;
    static const char in[] = "NICK split\r\nUSER s 0 * :S\r\n"
                             "JOIN #s1,#s2 k1\r\nMODE #s1 +kl key 5\r\n"
                             "MODE #s1 +b-l x!y@z\r\nNAMES #s1\r\n"
                             "PART #s2 :done\r\nMODE #s1 b\r\nKICK #s1 x\r\n";
    char *whole = NULL;
    size_t whole_len = 0;

    for (size_t piece = 0; piece <= 1; piece++) {
        loom_conn_t *c = ses_conn(e, NULL);
        const char *out;
        size_t len, at;
        char *got;

        ses_feed_pieces(e, c, in, sizeof(in) - 1, piece, 0);
        out = ses_output(c, &len);
        /* from the JOIN on; the welcome has times in it */
        got = strndup(out, len);
        at = (size_t)(strstr(got, ":split!") - got);
        /* 367's time may differ: cut the line at the setter's time */
        for (char *p = strstr(got, " 367 "); p; p = strstr(p + 1, " 367 ")) {
            char *eol = strstr(p, "\r\n"), *sp = eol;

            while (sp > p && sp[-1] != ' ')
                sp--;
            memset(sp, '0', (size_t)(eol - sp));
        }
        if (whole == NULL) {
            whole = strdup(got + at);
            whole_len = strlen(whole);
            has(whole, ":" SRV " 401 split x :No such nick/channel");
        } else {
            assert_int_equal(strlen(got + at), whole_len);
            assert_string_equal(got + at, whole);
        }
        free(got);
        loom_mem_conn_free(c);
        ses_settle(e);
    }
    free(whole);
}

/* ---- the service user -----------------------------------------------------
 */

/* A real member (JOIN, NAMES, WHO) that users can neither kick nor deop. */
static void test_service_user(void **state)
{
    ses_env_t *e = *state;
    irc_inst_t *irc = irc_inst(e->inst);
    cl_t *a = client(e, "svop");
    char svc[200];

    assert_non_null(irc->service);
    irc_client_prefix(irc->service, svc, sizeof(svc));
    say(a, "JOIN #svc");
    take(a);
    assert_int_equal(irc_chan_join(irc->service, "#svc", NULL, 1), 0);
    ses_settle(e);
    has(take(a), ":%s JOIN #svc", svc);
    say(a, "KICK #svc loom");
    has(take(a), ":" SRV " 484 svop loom #svc :Cannot kick a network service");
    say(a, "MODE #svc +o loom");
    has(take(a), ":%s MODE #svc +o loom", pfx(a));
    say(a, "MODE #svc -o loom");
    has(take(a), ":" SRV " 484 svop loom #svc :Cannot deop a network service");
    say(a, "NAMES #svc");
    assert_true(strstr(take(a), "@loom") != NULL);
    say(a, "WHO #svc");
    assert_non_null(strstr(take(a), " loom H@ :0 "));
    bye(a);
    /* the service user keeps the channel alive on its own */
    assert_non_null(irc_chan_find(irc, "#svc"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_join),
        cmocka_unit_test(test_join_refusals),
        cmocka_unit_test(test_part_topic),
        cmocka_unit_test(test_names_list),
        cmocka_unit_test(test_mode_channel),
        cmocka_unit_test(test_mode_long),
        cmocka_unit_test(test_mode_user),
        cmocka_unit_test(test_kick_invite),
        cmocka_unit_test(test_can_send),
        cmocka_unit_test(test_who),
        cmocka_unit_test(test_whois_whowas),
        cmocka_unit_test(test_who_paced),
        cmocka_unit_test(test_splits),
        cmocka_unit_test(test_service_user),
    };

    return cmocka_run_group_tests(tests, env_setup, ses_teardown);
}
