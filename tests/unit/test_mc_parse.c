/*
 * test_mc_parse.c - memcache command lines (protocols/memcache/mc_parse.h):
 * a table of lines and what each must parse to, for every text and meta
 * command, bad numbers, token counts, keys and meta flags; then the number
 * and base64 helpers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mc_parse.h"

#define E_ERROR "ERROR"
#define E_FORMAT "CLIENT_ERROR bad command line format"
#define E_EXPTIME "CLIENT_ERROR invalid exptime argument"
#define E_DELTA "CLIENT_ERROR invalid numeric delta argument"
#define E_TOKEN "CLIENT_ERROR bad token in command line format"
#define E_DELETE                                                               \
    "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]"
#define E_MFLAG "CLIENT_ERROR invalid or duplicate flag"
#define E_B64 "CLIENT_ERROR error decoding key"

/* A line and what it must parse to.  Fields left out are expected to be
 * zero; key/keys/opaque NULL are not checked; for a line with an error only
 * cmd, err, swallow and noreply are checked (and key when given). */
typedef struct {
    const char *line;
    const char *cmd; /* the command's name; NULL: unknown verb */
    const char *err;
    const char *key;
    size_t keylen; /* 0: strlen(key) */
    const char *keys;
    uint32_t flags;
    int64_t exptime;
    uint64_t bytes, cas, delta, number, swallow;
    int noreply, has_exptime, nargs, hangup;
    const char *order;  /* meta flags in request order (NULL: none) */
    const char *mflags; /* flags set, if not the letters of order */
    const char *opaque;
    char mode;
    int64_t ttl_N, ttl_R;
    uint64_t new_cas, initial;
} pc_t;

#define U64MAX 18446744073709551615ULL
#define K50 "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk"
#define K250 K50 K50 K50 K50 K50
#define K251 K250 "k"

/* The name of a parsed command (NULL for an unknown verb). */
static const char *name_of(const loom_cmd_t *cmd)
{
    return cmd ? cmd->name : NULL;
}

static int same_name(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

/* mc_parse*(...) returned the command named WANT (NULL: unknown). */
#define assert_cmd(cmd, want)                                                  \
    do {                                                                       \
        const char *got_ = name_of(cmd), *want_ = (want);                      \
        if (!same_name(got_, want_))                                           \
            fail_msg("command %s, want %s", got_ ? got_ : "(unknown)",         \
                     want_ ? want_ : "(unknown)");                             \
    } while (0)

/* One case a line reads better than one field a line. */
/* clang-format off */
static const pc_t cases[] = {
    /* ---- empty and unknown */
    {.line = "", .cmd = NULL, .err = E_ERROR},
    {.line = "   ", .cmd = NULL, .err = E_ERROR},
    {.line = "\r", .cmd = NULL, .err = E_ERROR},
    {.line = "bogus", .cmd = NULL, .err = E_ERROR},
    {.line = "bogus k 0 0 5", .cmd = NULL, .err = E_ERROR},
    {.line = "GET k", .cmd = NULL, .err = E_ERROR},
    {.line = "gett k", .cmd = NULL, .err = E_ERROR},
    {.line = "ge", .cmd = NULL, .err = E_ERROR},
    {.line = "m", .cmd = NULL, .err = E_ERROR},
    {.line = "mx k", .cmd = NULL, .err = E_ERROR},
    {.line = "shutdown", .cmd = "shutdown"}, /* its handler says no */
    {.line = "x", .cmd = NULL, .err = E_ERROR},

    /* ---- an unknown verb ending in HTTP/: closed without a reply, unless
     * memcached would pick the verb by its first letter (g s a c i d t,
     * or m and two letters) or it has fewer than two */
    {.line = "GET / HTTP/1.1", .cmd = NULL, .hangup = 1},
    {.line = "POST /x HTTP/1.0\r", .cmd = NULL, .hangup = 1},
    {.line = "HTTP/1.1", .cmd = NULL, .hangup = 1},
    {.line = "zz HTTP/", .cmd = NULL, .hangup = 1},
    {.line = "rx / HTTP/1.1", .cmd = NULL, .hangup = 1},
    {.line = "mxx HTTP/1.1", .cmd = NULL, .hangup = 1},
    {.line = "lru HTTP/1.1", .cmd = NULL, .hangup = 1},
    {.line = "zz HTTP/1.1\rversion", .cmd = NULL, .hangup = 1},
    {.line = "x HTTP/1.1", .cmd = NULL, .err = E_ERROR},
    {.line = "gxx / HTTP/1.1", .cmd = NULL, .err = E_ERROR},
    {.line = "sxx / HTTP/1.1", .cmd = NULL, .err = E_ERROR},
    {.line = "ax HTTP/1.1", .cmd = NULL, .err = E_ERROR},
    {.line = "cx HTTP/1.1", .cmd = NULL, .err = E_ERROR},
    {.line = "ix HTTP/1.1", .cmd = NULL, .err = E_ERROR},
    {.line = "dx HTTP/1.1", .cmd = NULL, .err = E_ERROR},
    {.line = "tx HTTP/1.1", .cmd = NULL, .err = E_ERROR},
    {.line = "mx HTTP/1.1", .cmd = NULL, .err = E_ERROR},
    {.line = "zz http/1.1", .cmd = NULL, .err = E_ERROR},
    {.line = "zz HTTP", .cmd = NULL, .err = E_ERROR},
    {.line = "zz HTTP/1.1 x", .cmd = NULL, .err = E_ERROR},
    {.line = "flush_all HTTP/1.1", .cmd = "flush_all", .err = E_EXPTIME},
    {.line = "slabs HTTP/1.1", .cmd = "slabs", .nargs = 1},
    /* a line cut at 24 tokens: memcached looks at the 23rd */
    {.line = "zz a a a a a a a a a a a a a a a a a a a a a HTTP/1.1 b",
     .cmd = NULL, .hangup = 1},
    {.line = "zz a a a a a a a a a a a a a a a a a a a a HTTP/1.1 b",
     .cmd = NULL, .err = E_ERROR},
    {.line = "zz a a a a a a a a a a a a a a a a a a a a HTTP/1.1",
     .cmd = NULL, .hangup = 1},
    {.line = "zz a a a a a a a a a a a a a a a a a a a a a a a a a HTTP/1.1",
     .cmd = NULL, .err = E_ERROR},

    /* ---- get family */
    {.line = "get k", .cmd = "get", .keys = "k"},
    {.line = "get k\r", .cmd = "get", .keys = "k"},
    {.line = "get a b  c", .cmd = "get", .keys = "a b  c"},
    {.line = "  get   a ", .cmd = "get", .keys = "a "},
    {.line = "get", .cmd = "get", .err = E_ERROR},
    {.line = "get   ", .cmd = "get", .err = E_ERROR},
    {.line = "gets a b", .cmd = "gets", .keys = "a b"},
    {.line = "gets", .cmd = "gets", .err = E_ERROR},
    {.line = "gat 100 a b", .cmd = "gat", .exptime = 100, .keys = "a b"},
    {.line = "gats -1 a", .cmd = "gats", .exptime = -1, .keys = "a"},
    {.line = "gat 0 a", .cmd = "gat", .keys = "a"},
    {.line = "gat 10", .cmd = "gat", .exptime = 10, .keys = ""},
    {.line = "gat abc a", .cmd = "gat", .err = E_EXPTIME},
    {.line = "gat 2147483648 a", .cmd = "gat", .err = E_EXPTIME},
    {.line = "gat -2147483648 a", .cmd = "gat", .exptime = INT32_MIN,
     .keys = "a"},
    {.line = "gat", .cmd = "gat", .err = E_ERROR},
    {.line = "bget a b", .cmd = "bget", .keys = "a b"},
    /* one bad key makes the whole line an error */
    {.line = "get a b\001 c", .cmd = "get", .err = E_FORMAT},
    {.line = "gets a b\177", .cmd = "gets", .err = E_FORMAT},
    {.line = "gat 1 a\tb", .cmd = "gat", .err = E_FORMAT},
    {.line = "gats 1 a " K251, .cmd = "gats", .err = E_FORMAT},
    {.line = "get " K250 " a", .cmd = "get", .keys = K250 " a"},

    /* ---- storage */
    {.line = "set k 5 10 3", .cmd = "set", .key = "k", .flags = 5,
     .exptime = 10, .bytes = 3},
    {.line = "set k 5 10 3\r", .cmd = "set", .key = "k", .flags = 5,
     .exptime = 10, .bytes = 3},
    {.line = "set  k  5  10  3 ", .cmd = "set", .key = "k", .flags = 5,
     .exptime = 10, .bytes = 3},
    {.line = "set k 5 10 3 noreply", .cmd = "set", .key = "k",
     .flags = 5, .exptime = 10, .bytes = 3, .noreply = 1},
    {.line = "set k 4294967295 -1 0", .cmd = "set", .key = "k",
     .flags = 4294967295u, .exptime = -1},
    {.line = "set k 0 2147483647 2147483645", .cmd = "set", .key = "k",
     .exptime = 2147483647, .bytes = 2147483645},
    {.line = "set k +1 +2 +3", .cmd = "set", .key = "k", .flags = 1,
     .exptime = 2, .bytes = 3},
    {.line = "set k -0 -0 -0", .cmd = "set", .key = "k"},
    {.line = "set k 0 -2147483648 1", .cmd = "set", .key = "k",
     .exptime = INT32_MIN, .bytes = 1},
    {.line = "set k\200\377 0 0 1", .cmd = "set", .key = "k\200\377",
     .bytes = 1}, /* bytes >= 0x80 are fine in keys */
    /* bad length: nothing to swallow */
    {.line = "set k 0 0 -1", .cmd = "set", .err = E_FORMAT},
    {.line = "set k 0 0 abc", .cmd = "set", .err = E_FORMAT},
    {.line = "set k 0 0 1x", .cmd = "set", .err = E_FORMAT},
    {.line = "set k 0 0 2147483646", .cmd = "set", .err = E_FORMAT},
    {.line = "set k 0 0 99999999999999999999", .cmd = "set",
     .err = E_FORMAT},
    {.line = "set k 0 0 -1 noreply", .cmd = "set", .err = E_FORMAT,
     .noreply = 1},
    /* bad flags/exptime/key next to a good length: the block is skipped */
    {.line = "set k 4294967296 0 5", .cmd = "set", .err = E_FORMAT,
     .swallow = 7},
    {.line = "set k -1 0 5", .cmd = "set", .err = E_FORMAT,
     .swallow = 7},
    {.line = "set k x 0 5", .cmd = "set", .err = E_FORMAT, .swallow = 7},
    {.line = "set k 0 x 5", .cmd = "set", .err = E_FORMAT, .swallow = 7},
    {.line = "set k 0 2147483648 0", .cmd = "set", .err = E_FORMAT,
     .swallow = 2},
    {.line = "set k 0 1.5 0", .cmd = "set", .err = E_FORMAT,
     .swallow = 2},
    {.line = "set k\001x 0 0 3", .cmd = "set", .err = E_FORMAT,
     .swallow = 5},
    {.line = "set k\177 0 0 3 noreply", .cmd = "set", .err = E_FORMAT,
     .swallow = 5, .noreply = 1},
    {.line = "set k\tx 0 0 3", .cmd = "set", .err = E_FORMAT,
     .swallow = 5},
    /* token counts */
    {.line = "set", .cmd = "set", .err = E_ERROR},
    {.line = "set k", .cmd = "set", .err = E_ERROR},
    {.line = "set k 0 0", .cmd = "set", .err = E_ERROR},
    /* a sixth token other than noreply is ignored, as memcached does */
    {.line = "set k 0 0 1 2", .cmd = "set", .key = "k", .bytes = 1},
    {.line = "add k 0 0 1 norepl", .cmd = "add", .key = "k", .bytes = 1},
    {.line = "cas k 0 0 1 5 x", .cmd = "cas", .key = "k", .bytes = 1,
     .cas = 5},
    {.line = "set k 0 0 1 noreply x", .cmd = "set", .err = E_ERROR},
    {.line = "set k 0 0 1 x noreply", .cmd = "set", .err = E_ERROR},
    {.line = "add k 1 2 3", .cmd = "add", .key = "k", .flags = 1,
     .exptime = 2, .bytes = 3},
    {.line = "add k 1 2 3 noreply", .cmd = "add", .key = "k",
     .flags = 1, .exptime = 2, .bytes = 3, .noreply = 1},
    {.line = "add k 1 2", .cmd = "add", .err = E_ERROR},
    {.line = "replace k 1 2 3", .cmd = "replace", .key = "k", .flags = 1,
     .exptime = 2, .bytes = 3},
    {.line = "replace k 1 2 -3", .cmd = "replace", .err = E_FORMAT},
    {.line = "append k 0 0 4", .cmd = "append", .key = "k", .bytes = 4},
    {.line = "append k 0 0 4 noreply", .cmd = "append", .key = "k",
     .bytes = 4, .noreply = 1},
    {.line = "prepend k 0 0 4", .cmd = "prepend", .key = "k",
     .bytes = 4},
    {.line = "prepend k 0 0", .cmd = "prepend", .err = E_ERROR},
    {.line = "cas k 1 2 3 99", .cmd = "cas", .key = "k", .flags = 1,
     .exptime = 2, .bytes = 3, .cas = 99},
    {.line = "cas k 1 2 3 99 noreply", .cmd = "cas", .key = "k",
     .flags = 1, .exptime = 2, .bytes = 3, .cas = 99, .noreply = 1},
    {.line = "cas k 0 0 1 18446744073709551615", .cmd = "cas",
     .key = "k", .bytes = 1, .cas = U64MAX},
    {.line = "cas k 0 0 1 18446744073709551616", .cmd = "cas",
     .err = E_FORMAT, .swallow = 3},
    {.line = "cas k 0 0 1 -1", .cmd = "cas", .err = E_FORMAT,
     .swallow = 3},
    {.line = "cas k 0 0 1 x", .cmd = "cas", .err = E_FORMAT,
     .swallow = 3},
    {.line = "cas k 0 0 1", .cmd = "cas", .err = E_ERROR},
    /* six tokens, the last "noreply": the CAS is missing */
    {.line = "cas k 0 0 1 noreply", .cmd = "cas", .err = E_FORMAT,
     .swallow = 3, .noreply = 1},
    {.line = "cas k 0 0 1 2 3 4", .cmd = "cas", .err = E_ERROR},

    /* ---- delete */
    {.line = "delete k", .cmd = "delete", .key = "k"},
    {.line = "delete k noreply", .cmd = "delete", .key = "k",
     .noreply = 1},
    {.line = "delete k 0", .cmd = "delete", .key = "k"},
    {.line = "delete k 0 noreply", .cmd = "delete", .key = "k",
     .noreply = 1},
    {.line = "delete k 1", .cmd = "delete", .err = E_DELETE},
    {.line = "delete k 0 0", .cmd = "delete", .err = E_DELETE},
    {.line = "delete k noreply 0", .cmd = "delete", .err = E_DELETE},
    {.line = "delete k 1 noreply", .cmd = "delete", .err = E_DELETE,
     .noreply = 1},
    {.line = "delete", .cmd = "delete", .err = E_ERROR},
    {.line = "delete a b c d", .cmd = "delete", .err = E_ERROR},
    {.line = "delete k\001", .cmd = "delete", .err = E_FORMAT},

    /* ---- incr / decr / touch */
    {.line = "incr k 1", .cmd = "incr", .key = "k", .delta = 1},
    {.line = "incr k 0", .cmd = "incr", .key = "k"},
    {.line = "incr k -0", .cmd = "incr", .key = "k"},
    {.line = "incr k 18446744073709551615", .cmd = "incr", .key = "k",
     .delta = U64MAX},
    {.line = "incr k 18446744073709551616", .cmd = "incr",
     .err = E_DELTA},
    {.line = "incr k 99999999999999999999", .cmd = "incr",
     .err = E_DELTA},
    {.line = "incr k -1", .cmd = "incr", .err = E_DELTA},
    {.line = "incr k abc", .cmd = "incr", .err = E_DELTA},
    {.line = "incr k 1a", .cmd = "incr", .err = E_DELTA},
    {.line = "incr k 1 noreply", .cmd = "incr", .key = "k", .delta = 1,
     .noreply = 1},
    {.line = "incr k x noreply", .cmd = "incr", .err = E_DELTA,
     .noreply = 1},
    {.line = "incr k", .cmd = "incr", .err = E_ERROR},
    {.line = "incr k 1 noreply x", .cmd = "incr", .err = E_ERROR},
    {.line = "incr k\001 1", .cmd = "incr", .err = E_FORMAT},
    {.line = "decr k 5", .cmd = "decr", .key = "k", .delta = 5},
    {.line = "decr k 5 noreply", .cmd = "decr", .key = "k", .delta = 5,
     .noreply = 1},
    {.line = "decr k -5", .cmd = "decr", .err = E_DELTA},
    {.line = "decr", .cmd = "decr", .err = E_ERROR},
    {.line = "touch k 10", .cmd = "touch", .key = "k", .exptime = 10},
    {.line = "touch k -1", .cmd = "touch", .key = "k", .exptime = -1},
    {.line = "touch k 10 noreply", .cmd = "touch", .key = "k",
     .exptime = 10, .noreply = 1},
    {.line = "touch k x", .cmd = "touch", .err = E_EXPTIME},
    {.line = "touch k 2147483648", .cmd = "touch", .err = E_EXPTIME},
    {.line = "touch k", .cmd = "touch", .err = E_ERROR},
    {.line = "touch k\001 1", .cmd = "touch", .err = E_FORMAT},

    /* ---- flush_all */
    {.line = "flush_all", .cmd = "flush_all"},
    {.line = "flush_all 10", .cmd = "flush_all", .exptime = 10,
     .has_exptime = 1},
    {.line = "flush_all 0", .cmd = "flush_all", .has_exptime = 1},
    {.line = "flush_all -1", .cmd = "flush_all", .exptime = -1,
     .has_exptime = 1},
    {.line = "flush_all noreply", .cmd = "flush_all", .noreply = 1},
    {.line = "flush_all 10 noreply", .cmd = "flush_all", .exptime = 10,
     .has_exptime = 1, .noreply = 1},
    {.line = "flush_all x", .cmd = "flush_all", .err = E_EXPTIME},
    {.line = "flush_all x noreply", .cmd = "flush_all",
     .err = E_EXPTIME, .noreply = 1},
    {.line = "flush_all 1 2 3", .cmd = "flush_all", .err = E_ERROR},
    /* a token after the delay is ignored, as memcached does */
    {.line = "flush_all 10 20", .cmd = "flush_all", .exptime = 10,
     .has_exptime = 1},

    /* ---- the rest of the text protocol */
    {.line = "stats", .cmd = "stats"},
    {.line = "stats items", .cmd = "stats", .nargs = 1},
    {.line = "stats cachedump 1 2", .cmd = "stats", .nargs = 3},
    {.line = "slabs automove 1", .cmd = "slabs", .nargs = 2},
    {.line = "slabs", .cmd = "slabs"},
    {.line = "lru_crawler metadump all", .cmd = "lru_crawler", .nargs = 2},
    {.line = "version", .cmd = "version"},
    {.line = "version extra", .cmd = "version"},
    {.line = "quit", .cmd = "quit"},
    {.line = "quit\r", .cmd = "quit"},
    {.line = "verbosity 1", .cmd = "verbosity", .number = 1},
    {.line = "verbosity 1 noreply", .cmd = "verbosity", .number = 1,
     .noreply = 1},
    {.line = "verbosity", .cmd = "verbosity", .err = E_ERROR},
    {.line = "verbosity x", .cmd = "verbosity", .err = E_FORMAT},
    {.line = "verbosity -1", .cmd = "verbosity", .err = E_FORMAT},
    {.line = "verbosity 1 2 3", .cmd = "verbosity", .err = E_ERROR},
    {.line = "cache_memlimit 100", .cmd = "cache_memlimit",
     .number = 100},
    {.line = "cache_memlimit 100 noreply", .cmd = "cache_memlimit",
     .number = 100, .noreply = 1},
    {.line = "cache_memlimit x", .cmd = "cache_memlimit", .err = E_ERROR},
    {.line = "cache_memlimit -1", .cmd = "cache_memlimit", .err = E_ERROR},
    {.line = "cache_memlimit", .cmd = "cache_memlimit", .err = E_ERROR},

    /* ---- meta: mn, mg */
    {.line = "mn", .cmd = "mn"},
    {.line = "mn extra", .cmd = "mn"},
    {.line = "mg k", .cmd = "mg", .key = "k", .delta = 1},
    {.line = "mg k\r", .cmd = "mg", .key = "k", .delta = 1},
    {.line = "mg k v", .cmd = "mg", .key = "k", .delta = 1,
     .order = "v"},
    {.line = "mg k s v t c f k O123 q h l", .cmd = "mg", .key = "k",
     .delta = 1, .order = "svtcfkOqhl", .opaque = "123", .noreply = 1},
    {.line = "mg k T30 N60 R10 u", .cmd = "mg", .key = "k", .delta = 1,
     .order = "TNRu", .exptime = 30, .ttl_N = 60, .ttl_R = 10},
    {.line = "mg k T-1", .cmd = "mg", .key = "k", .delta = 1,
     .order = "T", .exptime = -1},
    {.line = "mg k O", .cmd = "mg", .key = "k", .delta = 1,
     .order = "O", .opaque = ""},
    {.line = "mg k O12345678901234567890123456789012", .cmd = "mg",
     .key = "k", .delta = 1, .order = "O",
     .opaque = "12345678901234567890123456789012"},
    {.line = "mg k O123456789012345678901234567890123", .cmd = "mg",
     .err = "CLIENT_ERROR opaque token too long"},
    {.line = "mg k v v", .cmd = "mg",
     .err = "CLIENT_ERROR duplicate flag"},
    {.line = "mg k T1 T2", .cmd = "mg",
     .err = "CLIENT_ERROR duplicate flag"},
    {.line = "mg k 1", .cmd = "mg", .err = "CLIENT_ERROR invalid flag"},
    {.line = "mg k :", .cmd = "mg", .err = "CLIENT_ERROR invalid flag"},
    {.line = "mg k x", .cmd = "mg", .err = "CLIENT_ERROR invalid flag"},
    {.line = "mg k Tabc", .cmd = "mg", .err = E_TOKEN},
    {.line = "mg k T", .cmd = "mg", .err = E_TOKEN},
    {.line = "mg k N2147483648", .cmd = "mg", .err = E_TOKEN},
    {.line = "mg k Rx", .cmd = "mg", .err = E_TOKEN},
    {.line = "mg k q v v", .cmd = "mg",
     .err = "CLIENT_ERROR duplicate flag", .noreply = 0},
    {.line = "mg", .cmd = "mg", .err = E_ERROR},
    {.line = "mg k\001", .cmd = "mg", .err = E_FORMAT},
    {.line = "mg k\177 v", .cmd = "mg", .err = E_FORMAT},
    /* base64 keys */
    {.line = "mg Zm9v b", .cmd = "mg", .key = "foo", .delta = 1,
     .order = "b"},
    {.line = "mg Zm9vYg== b v", .cmd = "mg", .key = "foob", .delta = 1,
     .order = "bv"},
    {.line = "mg Zm9vYmE= b", .cmd = "mg", .key = "fooba", .delta = 1,
     .order = "b"},
    {.line = "mg AAEC b", .cmd = "mg", .key = "\000\001\002",
     .keylen = 3, .delta = 1, .order = "b"},
    {.line = "mg IGsg b", .cmd = "mg", .key = " k ", .delta = 1,
     .order = "b"}, /* spaces are fine in a binary key */
    {.line = "mg v b", .cmd = "mg", .err = E_B64}, /* "v" */
    {.line = "mg v Zm9v b", .cmd = "mg",
     .err = "CLIENT_ERROR invalid flag"}, /* 'Z' is no flag */
    {.line = "mg Zm9v= b", .cmd = "mg", .err = E_B64},
    {.line = "mg Zm9 b", .cmd = "mg", .err = E_B64},
    {.line = "mg !!!! b", .cmd = "mg", .err = E_B64},
    {.line = "mg Z=== b", .cmd = "mg", .err = E_B64},
    {.line = "mg ==== b", .cmd = "mg", .err = E_B64},
    {.line = "mg Zm=v b", .cmd = "mg", .err = E_B64},
    {.line = "mg Zg==Zg== b", .cmd = "mg", .err = E_B64},
    {.line = "mg Zm9v\001 b", .cmd = "mg", .err = E_B64},

    /* ---- ms */
    {.line = "ms k 5", .cmd = "ms", .key = "k", .bytes = 5, .delta = 1},
    {.line = "ms k 0", .cmd = "ms", .key = "k", .delta = 1},
    {.line = "ms k 5 T10 F3 c k MS I q O1", .cmd = "ms", .key = "k",
     .bytes = 5, .delta = 1, .exptime = 10, .flags = 3, .order = "TFckMIqO",
     .mode = 'S', .opaque = "1", .noreply = 1},
    {.line = "ms k 5 C12 E99", .cmd = "ms", .key = "k", .bytes = 5,
     .delta = 1, .cas = 12, .new_cas = 99, .order = "CE"},
    {.line = "ms k 5 ME", .cmd = "ms", .key = "k", .bytes = 5,
     .delta = 1, .order = "M", .mode = 'E'},
    {.line = "ms k 5 MA", .cmd = "ms", .key = "k", .bytes = 5,
     .delta = 1, .order = "M", .mode = 'A'},
    {.line = "ms k 5 MP", .cmd = "ms", .key = "k", .bytes = 5,
     .delta = 1, .order = "M", .mode = 'P'},
    {.line = "ms k 5 MR", .cmd = "ms", .key = "k", .bytes = 5,
     .delta = 1, .order = "M", .mode = 'R'},
    {.line = "ms Zm9v 2 b", .cmd = "ms", .key = "foo", .bytes = 2,
     .delta = 1, .order = "b"},
    {.line = "ms k", .cmd = "ms", .err = E_FORMAT},
    {.line = "ms k -1", .cmd = "ms", .err = E_FORMAT},
    {.line = "ms k abc", .cmd = "ms", .err = E_FORMAT},
    {.line = "ms k 2147483646", .cmd = "ms", .err = E_FORMAT},
    {.line = "ms", .cmd = "ms", .err = E_ERROR},
    /* a bad flag after a good length: the block is skipped */
    {.line = "ms k 5 MX", .cmd = "ms",
     .err = "CLIENT_ERROR invalid mode for ms M token", .swallow = 7},
    {.line = "ms k 5 MEE", .cmd = "ms",
     .err = "CLIENT_ERROR incorrect length for M token", .swallow = 7},
    {.line = "ms k 5 M", .cmd = "ms",
     .err = "CLIENT_ERROR incorrect length for M token", .swallow = 7},
    {.line = "ms k 5 v v", .cmd = "ms",
     .err = "CLIENT_ERROR duplicate flag", .swallow = 7},
    /* memcached has no message of its own for a bad F */
    {.line = "ms k 5 Fx", .cmd = "ms", .err = E_FORMAT, .swallow = 7},
    {.line = "ms k 5 F4294967296", .cmd = "ms", .err = E_FORMAT,
     .swallow = 7},
    {.line = "ms k 5 C-1", .cmd = "ms", .err = E_TOKEN, .swallow = 7},
    {.line = "ms k 5 Ex", .cmd = "ms", .err = E_TOKEN, .swallow = 7},
    {.line = "ms k\001 5", .cmd = "ms", .err = E_FORMAT, .swallow = 7},
    {.line = "ms !!!! 5 b", .cmd = "ms", .err = E_B64, .swallow = 7},
    {.line = "ms k 5 q Tx", .cmd = "ms", .err = E_TOKEN, .swallow = 7},

    /* ---- md */
    {.line = "md k", .cmd = "md", .key = "k", .delta = 1},
    {.line = "md k q C5 I T30 k O9", .cmd = "md", .key = "k",
     .delta = 1, .order = "qCITkO", .cas = 5, .exptime = 30, .opaque = "9",
     .noreply = 1},
    {.line = "md Zm9v b k", .cmd = "md", .key = "foo", .delta = 1,
     .order = "bk"},
    {.line = "md k v v", .cmd = "md", .err = E_MFLAG},
    {.line = "md k Cx", .cmd = "md", .err = E_MFLAG},
    {.line = "md k 1", .cmd = "md", .err = E_MFLAG},
    {.line = "md", .cmd = "md", .err = E_ERROR},
    {.line = "md k\001", .cmd = "md", .err = E_FORMAT},

    /* ---- ma */
    {.line = "ma k", .cmd = "ma", .key = "k", .delta = 1},
    {.line = "ma k D10 N0 J5 MD v", .cmd = "ma", .key = "k",
     .delta = 10, .initial = 5, .order = "DNJMv", .mode = 'D'},
    {.line = "ma k D18446744073709551615 J18446744073709551615",
     .cmd = "ma", .key = "k", .delta = U64MAX, .initial = U64MAX,
     .order = "DJ"},
    {.line = "ma k MI", .cmd = "ma", .key = "k", .delta = 1,
     .order = "M", .mode = 'I'},
    {.line = "ma k Mi", .cmd = "ma",
     .err = "CLIENT_ERROR invalid mode for ma M token"}, /* as memcached */
    {.line = "ma k M+", .cmd = "ma", .key = "k", .delta = 1,
     .order = "M", .mode = '+'},
    {.line = "ma k M-", .cmd = "ma", .key = "k", .delta = 1,
     .order = "M", .mode = '-'},
    {.line = "ma k Md", .cmd = "ma",
     .err = "CLIENT_ERROR invalid mode for ma M token"},
    {.line = "ma k q O5 k t c", .cmd = "ma", .key = "k", .delta = 1,
     .order = "qOktc", .opaque = "5", .noreply = 1},
    {.line = "ma k MX", .cmd = "ma",
     .err = "CLIENT_ERROR invalid mode for ma M token"},
    {.line = "ma k MS", .cmd = "ma",
     .err = "CLIENT_ERROR invalid mode for ma M token"},
    {.line = "ma k Dabc", .cmd = "ma", .err = E_MFLAG},
    {.line = "ma k D-1", .cmd = "ma", .err = E_MFLAG},
    {.line = "ma k J-1", .cmd = "ma", .err = E_MFLAG},
    {.line = "ma k D1 D2", .cmd = "ma", .err = E_MFLAG},
    {.line = "ma", .cmd = "ma", .err = E_ERROR},

    /* ---- me */
    {.line = "me k", .cmd = "me", .key = "k", .delta = 1},
    {.line = "me k v", .cmd = "me", .key = "k", .delta = 1,
     .order = "v", .mflags = ""},
    {.line = "me Zm9v b", .cmd = "me", .key = "foo", .delta = 1,
     .order = "b"},
    {.line = "me", .cmd = "me", .err = E_FORMAT},
    {.line = "me k\001", .cmd = "me", .err = E_FORMAT},

    /* ---- meta flag count: 19 tokens are fine, 20 are too many */
    {.line = "mg k v t c f s k h l u q O1 T1 N1 R1 E1 I b", .cmd = "mg",
     .err = E_B64, .noreply = 1}, /* "k" is no base64: all 17 flags read */
    {.line = "mg k v t c f s k h l u q O1 T1 N1 R1 E1 I P", .cmd = "mg",
     .key = "k", .delta = 1, .order = "vtcfskhluqOTNREIP", .opaque = "1",
     .exptime = 1, .ttl_N = 1, .ttl_R = 1, .new_cas = 1, .noreply = 1},
    {.line = "mg k v t c f s k h l u q O1 T1 N1 R1 E1 I P L",
     .cmd = "mg", .err = "CLIENT_ERROR options flags are too long"},
    {.line = "ms k 1 v t c f s k h l u q O1 T1 N1 R1 E1 I P L",
     .cmd = "ms", .err = "CLIENT_ERROR options flags are too long",
     .swallow = 3},
};
/* clang-format on */

static uint64_t letters_mask(const char *s)
{
    uint64_t m = 0;

    for (; *s; s++)
        m |= MC_F(*s);
    return m;
}

static int slice_eq(loom_slice_t s, const char *want, size_t wlen)
{
    return s.len == wlen && (wlen == 0 || memcmp(s.p, want, wlen) == 0);
}

/* Slices of REQ that must point into the line (the key may point into
 * REQ->keybuf when it was base64). */
static int slice_inside(loom_slice_t s, const char *line, size_t len,
                        const mc_req_t *req)
{
    if (s.len == 0)
        return 1;
    if (s.p >= req->keybuf && s.p + s.len <= req->keybuf + sizeof(req->keybuf))
        return 1;
    return s.p >= line && s.p + s.len <= line + len;
}

static int check_case(const pc_t *t)
{
    size_t len = strlen(t->line);
    char *line = malloc(len ? len : 1); /* exact size: ASan sees overreads */
    mc_req_t *req = malloc(sizeof(*req));
    const loom_cmd_t *cmd;
    int rc = 1;

    assert_non_null(line);
    assert_non_null(req);
    memcpy(line, t->line, len);
    memset(req, 0xa5, sizeof(*req)); /* mc_parse must reset everything */
    cmd = mc_parse(line, len, req);
    rc = 0;
    do {
        if (cmd != req->cmd || !same_name(name_of(cmd), t->cmd)) {
            print_message("# FAIL '%s': cmd %s, want %s (err %s)\n", t->line,
                          cmd ? cmd->name : "(unknown)",
                          t->cmd ? t->cmd : "(unknown)",
                          req->err ? req->err : "none");
            rc = 1;
            break;
        }
        if ((t->err == NULL) != (req->err == NULL) ||
            (t->err && strcmp(t->err, req->err) != 0)) {
            print_message("# FAIL '%s': err '%s', want '%s'\n", t->line,
                          req->err ? req->err : "(none)",
                          t->err ? t->err : "(none)");
            rc = 1;
            break;
        }
        if (req->hangup != t->hangup) {
            print_message("# FAIL '%s': hangup %d\n", t->line, req->hangup);
            rc = 1;
            break;
        }
        if (req->swallow != t->swallow || req->noreply != t->noreply) {
            print_message("# FAIL '%s': swallow %llu noreply %d, want %llu "
                          "%d\n",
                          t->line, (unsigned long long)req->swallow,
                          req->noreply, (unsigned long long)t->swallow,
                          t->noreply);
            rc = 1;
            break;
        }
        if (t->key && !slice_eq(req->key, t->key,
                                t->keylen ? t->keylen : strlen(t->key))) {
            print_message("# FAIL '%s': key '%.*s' (%zu bytes)\n", t->line,
                          (int)req->key.len, req->key.p, req->key.len);
            rc = 1;
            break;
        }
        if (t->err)
            break;
        if (!slice_inside(req->key, line, len, req) ||
            !slice_inside(req->keys, line, len, req) ||
            !slice_inside(req->opaque, line, len, req)) {
            print_message("# FAIL '%s': a slice points outside the line\n",
                          t->line);
            rc = 1;
            break;
        }
        if (t->keys && !slice_eq(req->keys, t->keys, strlen(t->keys))) {
            print_message("# FAIL '%s': keys '%.*s'\n", t->line,
                          (int)req->keys.len, req->keys.p);
            rc = 1;
            break;
        }
        if (req->flags != t->flags || req->exptime != t->exptime ||
            req->bytes != t->bytes || req->cas != t->cas ||
            req->delta != t->delta || req->number != t->number ||
            req->has_exptime != t->has_exptime || req->nargs != t->nargs) {
            print_message(
                "# FAIL '%s': flags %u exptime %lld bytes %llu "
                "cas %llu delta %llu number %llu has_exptime %d "
                "nargs %d\n",
                t->line, (unsigned)req->flags, (long long)req->exptime,
                (unsigned long long)req->bytes, (unsigned long long)req->cas,
                (unsigned long long)req->delta, (unsigned long long)req->number,
                req->has_exptime, req->nargs);
            rc = 1;
            break;
        }
        if (cmd == NULL || !(cmd->flags & MC_CF_META))
            break;
        {
            const char *order = t->order ? t->order : "";
            uint64_t mflags = letters_mask(t->mflags ? t->mflags : order);

            if ((size_t)req->norder != strlen(order) ||
                memcmp(req->order, order, strlen(order)) != 0 ||
                req->mflags != mflags) {
                print_message("# FAIL '%s': order '%.*s' mflags %llx, want "
                              "'%s' %llx\n",
                              t->line, req->norder, req->order,
                              (unsigned long long)req->mflags, order,
                              (unsigned long long)mflags);
                rc = 1;
                break;
            }
        }
        if ((t->opaque &&
             !slice_eq(req->opaque, t->opaque, strlen(t->opaque))) ||
            (!t->opaque && req->opaque.len != 0) || req->mode != t->mode ||
            req->ttl_N != t->ttl_N || req->ttl_R != t->ttl_R ||
            req->new_cas != t->new_cas || req->initial != t->initial) {
            print_message("# FAIL '%s': opaque '%.*s' mode '%c' N %lld "
                          "R %lld E %llu J %llu\n",
                          t->line, (int)req->opaque.len, req->opaque.p,
                          req->mode ? req->mode : '-', (long long)req->ttl_N,
                          (long long)req->ttl_R,
                          (unsigned long long)req->new_cas,
                          (unsigned long long)req->initial);
            rc = 1;
            break;
        }
    } while (0);
    free(line);
    free(req);
    return rc;
}

static void test_lines(void **state)
{
    size_t i;
    int failed = 0;

    (void)state;
    for (i = 0; i < LOOM_ARRAY_LEN(cases); i++)
        failed += check_case(&cases[i]);
    print_message("# %zu lines, %d failed\n", LOOM_ARRAY_LEN(cases), failed);
    assert_int_equal(failed, 0);
}

/* Keys of 250 bytes are valid, 251 are not, for every command with a key. */
static void test_key_length(void **state)
{
    static const struct {
        const char *fmt;
        const char *cmd;
        uint64_t swallow_if_bad;
    } forms[] = {
        {"set %s 0 0 1", "set", 3},   {"add %s 0 0 1", "add", 3},
        {"cas %s 0 0 1 1", "cas", 3}, {"delete %s", "delete", 0},
        {"incr %s 1", "incr", 0},     {"decr %s 1", "decr", 0},
        {"touch %s 1", "touch", 0},   {"mg %s v", "mg", 0},
        {"ms %s 1", "ms", 0},         {"md %s", "md", 0},
        {"ma %s", "ma", 0},           {"me %s", "me", 0},
    };
    char key[MC_KEY_MAX + 8], line[400];
    mc_req_t req;
    size_t i;
    int n;

    (void)state;
    for (i = 0; i < LOOM_ARRAY_LEN(forms); i++) {
        for (n = MC_KEY_MAX - 1; n <= MC_KEY_MAX + 1; n++) {
            memset(key, 'k', (size_t)n);
            key[n] = '\0';
            snprintf(line, sizeof(line), forms[i].fmt, key);
            assert_cmd(mc_parse(line, strlen(line), &req), forms[i].cmd);
            if (n <= MC_KEY_MAX) {
                if (req.err)
                    fail_msg("'%s' (%d-byte key): %s", forms[i].fmt, n,
                             req.err);
                assert_int_equal(req.key.len, (size_t)n);
            } else {
                if (req.err == NULL || strcmp(req.err, E_FORMAT) != 0)
                    fail_msg("'%s' (%d-byte key): err %s", forms[i].fmt, n,
                             req.err ? req.err : "none");
                assert_int_equal(req.swallow, forms[i].swallow_if_bad);
            }
        }
    }
    /* a base64 key: at most 250 characters encoded */
    memset(key, 'A', 248);
    key[248] = '\0';
    snprintf(line, sizeof(line), "mg %s b", key);
    assert_cmd(mc_parse(line, strlen(line), &req), "mg");
    assert_null(req.err);
    assert_int_equal(req.key.len, 186);
    memset(key, 'A', 252);
    key[252] = '\0';
    snprintf(line, sizeof(line), "mg %s b", key);
    assert_cmd(mc_parse(line, strlen(line), &req), "mg");
    assert_string_equal(req.err, E_FORMAT);
}

/* get key lists longer than the token limit are walked in full. */
static void test_many_keys(void **state)
{
    char line[4096];
    size_t off = 0;
    loom_slice_t cur, key;
    mc_req_t req;
    int i, n = 0;

    (void)state;
    off += (size_t)snprintf(line, sizeof(line), "gets");
    for (i = 0; i < 100; i++)
        off += (size_t)snprintf(line + off, sizeof(line) - off, "  key%d", i);
    assert_cmd(mc_parse(line, off, &req), "gets");
    assert_null(req.err);
    cur = req.keys;
    while (mc_next_key(&cur, &key)) {
        char want[16];

        snprintf(want, sizeof(want), "key%d", n);
        assert_int_equal(key.len, strlen(want));
        assert_memory_equal(key.p, want, key.len);
        n++;
    }
    assert_int_equal(n, 100);
    assert_int_equal(cur.len, 0);
    assert_false(mc_next_key(&cur, &key));

    /* stats with more than the token limit of arguments: capped */
    off = (size_t)snprintf(line, sizeof(line), "stats");
    for (i = 0; i < 40; i++)
        off += (size_t)snprintf(line + off, sizeof(line) - off, " a%d", i);
    assert_cmd(mc_parse(line, off, &req), "stats");
    assert_true(req.nargs > 0 && req.nargs < MC_MAX_TOKENS);
}

/* strict_keys = no: any byte but a space (and LF, which ends the line)
 * may be in a key, as memcached takes them; lengths are still checked. */
static void test_lax_keys(void **state)
{
    static const struct {
        const char *line;
        size_t len;
        const char *cmd;
        const char *key; /* NULL: an error is expected */
        size_t keylen;
    } lax[] = {
        {"set k\001x 0 0 3", 0, "set", "k\001x", 3},
        {"add k\tx 0 0 3", 0, "add", "k\tx", 3},
        {"delete k\177", 0, "delete", "k\177", 2},
        {"incr \033[1m 1", 0, "incr", "\033[1m", 4},
        {"touch a\rb 1", 0, "touch", "a\rb", 3},
        {"mg k\001 v", 0, "mg", "k\001", 2},
        {"ms k\002 1 T0", 0, "ms", "k\002", 2},
        {"md k\0 q", 8, "md", "k\0", 2},
        {"set k 0 0 1", 0, "set", "k", 1},
        {"set k\001x 0 0 -1", 0, "set", NULL, 0},
        {"incr k\001 x", 0, "incr", NULL, 0},
    };
    char key[MC_KEY_MAX + 2], line[300];
    mc_req_t req;
    size_t i;
    int c;

    (void)state;
    for (i = 0; i < LOOM_ARRAY_LEN(lax); i++) {
        size_t len = lax[i].len ? lax[i].len : strlen(lax[i].line);

        assert_cmd(mc_parse_flags(lax[i].line, len, MC_PARSE_LAX_KEYS, &req),
                   lax[i].cmd);
        assert_int_equal(req.pflags, MC_PARSE_LAX_KEYS);
        if (lax[i].key == NULL) {
            assert_non_null(req.err);
            continue;
        }
        if (req.err)
            fail_msg("lax '%s': %s", lax[i].line, req.err);
        assert_int_equal(req.key.len, lax[i].keylen);
        assert_memory_equal(req.key.p, lax[i].key, lax[i].keylen);
        /* the same line is refused with strict keys (unless plain) */
        mc_parse(lax[i].line, len, &req);
        assert_int_equal(req.pflags, 0);
        if (strcmp(lax[i].key, "k") != 0)
            assert_string_equal(req.err, E_FORMAT);
    }
    /* lengths still count */
    memset(key, '\001', sizeof(key));
    key[MC_KEY_MAX + 1] = '\0';
    snprintf(line, sizeof(line), "get %s", key);
    assert_cmd(mc_parse_flags(line, strlen(line), MC_PARSE_LAX_KEYS, &req),
               "get");
    assert_string_equal(req.err, E_FORMAT); /* every get key is checked */
    snprintf(line, sizeof(line), "get a %s", key + 1);
    assert_cmd(mc_parse_flags(line, strlen(line), MC_PARSE_LAX_KEYS, &req),
               "get");
    assert_null(req.err);
    snprintf(line, sizeof(line), "delete %s", key);
    mc_parse_flags(line, strlen(line), MC_PARSE_LAX_KEYS, &req);
    assert_string_equal(req.err, E_FORMAT);
    key[MC_KEY_MAX] = '\0';
    snprintf(line, sizeof(line), "delete %s", key);
    mc_parse_flags(line, strlen(line), MC_PARSE_LAX_KEYS, &req);
    assert_null(req.err);
    /* mc_key_ok */
    assert_false(mc_key_ok("", 0, MC_PARSE_LAX_KEYS));
    assert_true(mc_key_ok(key, MC_KEY_MAX, MC_PARSE_LAX_KEYS));
    assert_false(mc_key_ok(key, MC_KEY_MAX + 1, MC_PARSE_LAX_KEYS));
    for (c = 0; c < 256; c++) {
        char k[3] = {'a', (char)c, 'b'};

        assert_int_equal(mc_key_ok(k, 3, MC_PARSE_LAX_KEYS), c != ' ');
        assert_int_equal(mc_key_ok(k, 3, 0), mc_key_valid(k, 3));
    }
}

/* A NUL byte is part of the line, not its end. */
static void test_nul_bytes(void **state)
{
    mc_req_t req;

    (void)state;
    assert_cmd(mc_parse("set k\0x 0 0 1", 13, &req), "set");
    assert_string_equal(req.err, E_FORMAT);
    assert_int_equal(req.swallow, 3);
    assert_cmd(mc_parse("mg k\0", 5, &req), "mg");
    assert_string_equal(req.err, E_FORMAT);
    assert_cmd(mc_parse("get\0k", 5, &req), NULL);
    assert_string_equal(req.err, E_ERROR);
    assert_cmd(mc_parse("incr k 1\0", 9, &req), "incr");
    assert_string_equal(req.err, E_DELTA);
}

static void test_next_key(void **state)
{
    loom_slice_t cur = {"  a bb   ccc  ", 14}, key;

    (void)state;
    assert_true(mc_next_key(&cur, &key));
    assert_int_equal(key.len, 1);
    assert_memory_equal(key.p, "a", 1);
    assert_true(mc_next_key(&cur, &key));
    assert_int_equal(key.len, 2);
    assert_memory_equal(key.p, "bb", 2);
    assert_true(mc_next_key(&cur, &key));
    assert_int_equal(key.len, 3);
    assert_memory_equal(key.p, "ccc", 3);
    assert_false(mc_next_key(&cur, &key));
    assert_false(mc_next_key(&cur, &key));
    cur.p = "";
    cur.len = 0;
    assert_false(mc_next_key(&cur, &key));
}

static void test_key_valid(void **state)
{
    char key[MC_KEY_MAX + 1];
    int c;

    (void)state;
    memset(key, 'x', sizeof(key));
    assert_false(mc_key_valid(key, 0));
    assert_true(mc_key_valid(key, 1));
    assert_true(mc_key_valid(key, MC_KEY_MAX));
    assert_false(mc_key_valid(key, MC_KEY_MAX + 1));
    for (c = 0; c < 256; c++) {
        char k[3] = {'a', (char)c, 'b'};

        assert_int_equal(mc_key_valid(k, 3), c > ' ' && c != 0x7f);
    }
}

/* ---- a get key list answered as it arrives --------------------------------
 */

typedef struct {
    const char *in; /* the key list after "get ", line end and more */
    size_t len;     /* 0: strlen(in) */
    unsigned flags;
    int check;
    const char *want; /* keys, then END (and what follows it) or BAD */
    size_t wantlen;   /* bytes of want to compare, its NUL included (0: all) */
} keys_case_t;

static const keys_case_t keys_cases[] = {
    {"a b c\r\n", 0, 0, 1, "[a][b][c]END|", 0},
    {"  a   b \r\n", 0, 0, 1, "[a][b]END|", 0},
    {"\r\n", 0, 0, 1, "END|", 0},
    {"\n", 0, 0, 1, "END|", 0},
    {"a\n", 0, 0, 1, "[a]END|", 0},
    {"a\r\nget b\r\n", 0, 0, 1, "[a]END|get b\r\n", 0},
    {"a\rb c\r\n", 0, MC_PARSE_LAX_KEYS, 1, "[a\rb][c]END|", 0},
    {"a\rb c\r\n", 0, 0, 1, "BAD", 0},
    {"a\rb c\r\n", 0, 0, 0, "[a\rb][c]END|", 0},
    {"a\r\r\n", 0, MC_PARSE_LAX_KEYS, 1, "[a\r]END|", 0},
    {"a\r \r\n", 0, MC_PARSE_LAX_KEYS, 1, "[a\r]END|", 0},
    {"\rx\n", 0, MC_PARSE_LAX_KEYS, 1, "[\rx]END|", 0},
    {"k\0y z\r\n", 7, MC_PARSE_LAX_KEYS, 1, "[k\0y][z]END|", 13},
    {"a " K250 " b\r\n", 0, 0, 1, "[a][" K250 "][b]END|", 0},
    {"a " K251 " b\r\n", 0, 0, 1, "[a]BAD", 0},
    {"a " K251 " b\r\n", 0, 0, 0, "[a][" K251 "][b]END|", 0},
    {"a " K251 K50, 0, 0, 1, "[a]BAD", 0}, /* too long before its end */
    {"a " K250 "\r", 0, 0, 1, "[a]", 0},   /* CR: maybe the line end */
    {"a\001 b\r\n", 0, 0, 1, "BAD", 0},
};

/* Feed IN to mc_keys_next the way the session does: unconsumed bytes are
 * kept, pieces appended (cut at SPLIT, or PIECE bytes at a time, or all at
 * once), items taken until more input is needed.  After END the rest is
 * recorded as it is. */
static void keys_run(const keys_case_t *t, size_t len, size_t split,
                     size_t piece, char *out, size_t cap)
{
    char *buf = malloc(len + 1);
    size_t have = 0, off = 0, o = 0;
    int done = 0;

    assert_non_null(buf);
    out[0] = '\0';
    while (off < len) {
        size_t n = len - off, used;
        loom_slice_t key;

        if (split)
            n = off < split ? split - off : len - off;
        else if (piece && n > piece)
            n = piece;
        memcpy(buf + have, t->in + off, n);
        have += n;
        off += n;
        while (!done) {
            mc_keys_result_t r =
                mc_keys_next(buf, have, t->flags, t->check, &key, &used);

            assert_true(used <= have);
            if (r == MC_KEYS_KEY) {
                assert_true(key.p >= buf && key.p + key.len <= buf + have);
                assert_true(o + key.len + 3 < cap);
                out[o++] = '[';
                memcpy(out + o, key.p, key.len);
                o += key.len;
                out[o++] = ']';
            } else if (r == MC_KEYS_END) {
                memcpy(out + o, "END|", 4);
                o += 4;
                done = 1;
            } else if (r == MC_KEYS_BAD) {
                assert_int_equal(used, 0);
                memcpy(out + o, "BAD", 3);
                o += 3;
                done = 2;
            }
            memmove(buf, buf + used, have - used);
            have -= used;
            if (r == MC_KEYS_MORE)
                break;
        }
    }
    if (done == 1) {
        memcpy(out + o, buf, have);
        o += have;
    }
    out[o] = '\0';
    free(buf);
}

static void test_keys_stream(void **state)
{
    static char got[2048];
    size_t i, k;

    (void)state;
    for (i = 0; i < LOOM_ARRAY_LEN(keys_cases); i++) {
        const keys_case_t *t = &keys_cases[i];
        size_t len = t->len ? t->len : strlen(t->in);
        size_t wlen = t->wantlen ? t->wantlen : strlen(t->want) + 1;

        keys_run(t, len, 0, 0, got, sizeof(got));
        if (memcmp(got, t->want, wlen) != 0)
            fail_msg("keys case %zu whole: got '%s', want '%s'", i, got,
                     t->want);
        for (k = 1; k < len; k++) {
            keys_run(t, len, k, 0, got, sizeof(got));
            if (memcmp(got, t->want, wlen) != 0)
                fail_msg("keys case %zu split at %zu: got '%s'", i, k, got);
        }
        keys_run(t, len, 0, 1, got, sizeof(got));
        if (memcmp(got, t->want, wlen) != 0)
            fail_msg("keys case %zu byte by byte: got '%s'", i, got);
    }
}

/* The streamed keys of a whole line are the keys mc_parse finds in it. */
static void test_keys_stream_matches_parse(void **state)
{
    static const char *const lines[] = {
        "get a b c",       "get   a  b  ", "gets x\ry z",
        "gat 10 k1 k2 k3", "get a\r\r",
    };
    size_t i;

    (void)state;
    for (i = 0; i < LOOM_ARRAY_LEN(lines); i++) {
        char line[128];
        size_t len = strlen(lines[i]), used, off;
        loom_slice_t cur, key, skey;
        mc_req_t req;

        memcpy(line, lines[i], len);
        line[len] = '\n';
        mc_parse_flags(line, len, MC_PARSE_LAX_KEYS, &req);
        assert_null(req.err);
        cur = req.keys;
        off = (size_t)(req.keys.p - line);
        while (mc_next_key(&cur, &key)) {
            assert_int_equal(mc_keys_next(line + off, len + 1 - off,
                                          MC_PARSE_LAX_KEYS, 1, &skey, &used),
                             MC_KEYS_KEY);
            assert_int_equal(skey.len, key.len);
            assert_memory_equal(skey.p, key.p, key.len);
            off += used;
        }
        assert_int_equal(mc_keys_next(line + off, len + 1 - off,
                                      MC_PARSE_LAX_KEYS, 1, &skey, &used),
                         MC_KEYS_END);
        assert_int_equal(off + used, len + 1);
    }
}

static void test_peek_cmd(void **state)
{
    (void)state;
    assert_cmd(mc_peek_cmd("get k", 5), "get");
    assert_cmd(mc_peek_cmd("  gets k", 8), "gets");
    assert_cmd(mc_peek_cmd("gat ", 4), "gat");
    assert_cmd(mc_peek_cmd("get", 3), NULL); /* the verb may go on */
    assert_cmd(mc_peek_cmd("frob k", 6), NULL);
    assert_cmd(mc_peek_cmd("", 0), NULL);
    assert_cmd(mc_peek_cmd("    ", 4), NULL);
}

/* ---- numbers --------------------------------------------------------------
 */

typedef struct {
    const char *s; /* the item value; "\r\n" is appended */
    int rc;
    uint64_t v;
} num_case_t;

static const num_case_t num_cases[] = {
    {"0", 0, 0},
    {"12", 0, 12},
    {" 12", 0, 12},
    {"   12", 0, 12},
    {"12 ", 0, 12},
    {"12   ", 0, 12},
    {"+7", 0, 7},
    {"-0", 0, 0},
    {"007", 0, 7},
    {"0000000000000000000000000001", 0, 1},
    {"18446744073709551615", 0, U64MAX},
    {"18446744073709551616", -1, 0},
    {"99999999999999999999", -1, 0},
    {"184467440737095516150", -1, 0},
    {"-5", -1, 0},
    {"-", -1, 0},
    {"+", -1, 0},
    {"", -1, 0},
    {" ", -1, 0},
    {"abc", -1, 0},
    {"12a", -1, 0},
    {"1.5", -1, 0},
    {"0x1", -1, 0},
    {"1e3", -1, 0},
    {"--1", -1, 0},
};

static void test_strtoull_item(void **state)
{
    size_t i;
    int failed = 0;

    (void)state;
    for (i = 0; i < LOOM_ARRAY_LEN(num_cases); i++) {
        const num_case_t *t = &num_cases[i];
        size_t n = strlen(t->s);
        char *buf = malloc(n + 2);
        uint64_t v = 424242;
        int rc;

        assert_non_null(buf);
        memcpy(buf, t->s, n);
        memcpy(buf + n, "\r\n", 2);
        rc = mc_strtoull_item(buf, n + 2, &v);
        if (rc != t->rc || (rc == 0 && v != t->v)) {
            print_message("# FAIL '%s': rc %d v %llu\n", t->s, rc,
                          (unsigned long long)v);
            failed++;
        }
        /* no terminator in range: never a number, never an overread */
        if (n > 0 && mc_strtoull_item(buf, n, &v) == 0 &&
            memchr(t->s, ' ', n) == NULL) {
            print_message("# FAIL '%s' without CRLF parsed\n", t->s);
            failed++;
        }
        free(buf);
    }
    assert_int_equal(failed, 0);
}

static void test_u64toa(void **state)
{
    static const uint64_t vals[] = {0,
                                    1,
                                    9,
                                    10,
                                    99,
                                    100,
                                    4294967295ULL,
                                    4294967296ULL,
                                    10000000000000000000ULL,
                                    U64MAX - 1,
                                    U64MAX};
    char buf[32], want[32];
    size_t i, n;

    (void)state;
    for (i = 0; i < LOOM_ARRAY_LEN(vals); i++) {
        memset(buf, '#', sizeof(buf));
        n = mc_u64toa(buf, vals[i]);
        snprintf(want, sizeof(want), "%llu", (unsigned long long)vals[i]);
        assert_int_equal(n, strlen(want));
        assert_memory_equal(buf, want, n);
        assert_int_equal(buf[n], '#'); /* nothing written after it */
    }
    assert_int_equal(mc_u64toa(buf, U64MAX), 20);
    /* round trip through the item parser */
    for (i = 0; i < 1000; i++) {
        uint64_t v = (uint64_t)i * 18446744073709551ULL + i, back = 0;

        n = mc_u64toa(buf, v);
        memcpy(buf + n, "\r\n", 2);
        assert_int_equal(mc_strtoull_item(buf, n + 2, &back), 0);
        assert_int_equal(back, v);
    }
}

/* ---- base64 ---------------------------------------------------------------
 */

static void test_base64_vectors(void **state)
{
    static const struct {
        const char *plain, *enc;
    } v[] = {
        {"", ""},
        {"f", "Zg=="},
        {"fo", "Zm8="},
        {"foo", "Zm9v"},
        {"foob", "Zm9vYg=="},
        {"fooba", "Zm9vYmE="},
        {"foobar", "Zm9vYmFy"},
    };
    char enc[64], dec[64];
    size_t i;

    (void)state;
    for (i = 0; i < LOOM_ARRAY_LEN(v); i++) {
        size_t n = mc_base64_encode(v[i].plain, strlen(v[i].plain), enc);

        assert_int_equal(n, strlen(v[i].enc));
        assert_memory_equal(enc, v[i].enc, n);
        if (n == 0)
            continue;
        assert_int_equal(mc_base64_decode(v[i].enc, n, dec, sizeof(dec)),
                         (int)strlen(v[i].plain));
        assert_memory_equal(dec, v[i].plain, strlen(v[i].plain));
        /* exactly enough room, and one byte short */
        assert_int_equal(mc_base64_decode(v[i].enc, n, dec, strlen(v[i].plain)),
                         (int)strlen(v[i].plain));
        assert_int_equal(
            mc_base64_decode(v[i].enc, n, dec, strlen(v[i].plain) - 1), -1);
    }
    /* all 64 symbols */
    assert_int_equal(mc_base64_decode("+/+/", 4, dec, sizeof(dec)), 3);
    assert_memory_equal(dec, "\xfb\xff\xbf", 3);
}

static void test_base64_invalid(void **state)
{
    static const char *const bad[] = {
        "",          "Z",    "Zg",       "Zg=",   "Zg===",    "Zm9vY",
        "====",      "Z===", "=Zg=",     "Zm=v",  "Zg==Zg==", "Zm9v!AAA",
        "Zm9v\nAAA", "Zm 9", "Zm9v-_AA", "Zm\0v",
    };
    char dec[64];
    size_t i;

    (void)state;
    for (i = 0; i < LOOM_ARRAY_LEN(bad); i++) {
        size_t n = strlen(bad[i]);

        if (i == LOOM_ARRAY_LEN(bad) - 1)
            n = 4; /* with the NUL */
        if (mc_base64_decode(bad[i], n, dec, sizeof(dec)) != -1)
            fail_msg("'%s' decoded", bad[i]);
    }
}

static void test_base64_round_trip(void **state)
{
    unsigned char src[300];
    char enc[4 * ((sizeof(src) + 2) / 3)], dec[sizeof(src)];
    uint32_t x = 12345;
    size_t len, i;

    (void)state;
    for (len = 1; len < sizeof(src); len++) {
        size_t n;

        for (i = 0; i < len; i++) {
            x = x * 1103515245u + 12345u;
            src[i] = (unsigned char)(x >> 16);
        }
        n = mc_base64_encode((const char *)src, len, enc);
        assert_int_equal(n, 4 * ((len + 2) / 3));
        for (i = 0; i < n; i++)
            assert_non_null(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijkl"
                                   "mnopqrstuvwxyz0123456789+/=",
                                   enc[i]));
        assert_int_equal(mc_base64_decode(enc, n, dec, sizeof(dec)), (int)len);
        assert_memory_equal(dec, src, len);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lines),
        cmocka_unit_test(test_key_length),
        cmocka_unit_test(test_many_keys),
        cmocka_unit_test(test_lax_keys),
        cmocka_unit_test(test_nul_bytes),
        cmocka_unit_test(test_next_key),
        cmocka_unit_test(test_key_valid),
        cmocka_unit_test(test_keys_stream),
        cmocka_unit_test(test_keys_stream_matches_parse),
        cmocka_unit_test(test_peek_cmd),
        cmocka_unit_test(test_strtoull_item),
        cmocka_unit_test(test_u64toa),
        cmocka_unit_test(test_base64_vectors),
        cmocka_unit_test(test_base64_invalid),
        cmocka_unit_test(test_base64_round_trip),
    };

    return cmocka_run_group_tests_name("mc_parse", tests, NULL, NULL);
}
