/*
 * fuzz_memcache.c - libFuzzer target: the memcache parser and executor.
 *
 * The input is a client's byte stream, cut into command lines and data
 * blocks as the session glue does.  Every line goes through mc_parse()
 * (invariants: slices inside the line or the decoded-key buffer, valid keys
 * and lengths when there is no error); the key list of a get is also read
 * the way a long one arrives, in pieces through mc_keys_next, which must
 * find the same keys; every valid command then runs through mc_exec()
 * against a small store (4 KiB, so that eviction happens all the time)
 * with an output buffer that has no connection (a metadump runs to its
 * end at once).  A line that
 * starts with '#' is not sent: it moves the store's clock forward by the
 * line's length in seconds and runs the background work, so that expiry is
 * fuzzed too; a line "#L" switches to lax keys (strict_keys = no) instead.
 * Invariants: every reply ends in CRLF, the accounted bytes
 * never exceed the memory limit, and at the end the live items agree with
 * the counters.  Everything is freed after each input.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "memcache.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_MEMORY 4096
#define FZ_MAX_ITEM 2048
#define FZ_T0 1700000000u

#ifdef MC_FUZZ_STANDALONE
/* Built without the core (make fuzz): the output buffer has no
 * connection, so nothing is ever written to one. */
int loom_conn_write(loom_conn_t *c, const void *buf, size_t len)
{
    (void)c;
    (void)buf;
    (void)len;
    abort();
}

const char *loom_reactor_version(void)
{
    return "fuzz";
}
#endif

static void in_range(loom_slice_t s, const char *line, size_t len,
                     const mc_req_t *req)
{
    if (s.len == 0)
        return;
    if (s.p >= req->keybuf && s.p + s.len <= req->keybuf + sizeof(req->keybuf))
        return;
    assert(s.p >= line && s.p + s.len <= line + len);
}

static void check_req(const char *line, size_t len, const mc_req_t *req,
                      unsigned pflags)
{
    assert(req->pflags == pflags);
    assert(req->cmd == NULL || (req->cmd >= mc_commands.cmds &&
                                req->cmd < mc_commands.cmds + mc_commands.n));
    if (req->hangup)
        assert(req->cmd == NULL && req->err == NULL);
    if (req->cmd == NULL)
        assert(req->err != NULL || req->hangup);
    if (req->err) {
        assert(req->err[0] != '\0');
        assert(req->swallow == 0 || req->swallow <= (uint64_t)INT32_MAX + 2);
        return;
    }
    assert(req->swallow == 0);
    in_range(req->key, line, len, req);
    in_range(req->keys, line, len, req);
    in_range(req->opaque, line, len, req);
    assert(req->nargs >= 0 && req->nargs <= MC_MAX_TOKENS);
    assert(req->norder >= 0 && req->norder <= MC_MAX_TOKENS);
    assert(req->opaque.len <= MC_OPAQUE_MAX);
    if (req->cmd == NULL)
        return;
    if (req->cmd->flags & MC_CF_KEY) {
        assert(req->key.len >= 1 && req->key.len <= MC_KEY_MAX);
        if (!(req->mflags & MC_F('b')))
            assert(mc_key_ok(req->key.p, req->key.len, pflags));
    }
    if (req->cmd->flags & MC_CF_STORAGE)
        assert(req->bytes <= (uint64_t)INT32_MAX - 2);
    if (req->cmd->flags & MC_CF_GET)
        assert(mc_keys_ok(req->keys, pflags));
}

/* The key list of a get line (LINE, LEN bytes, then its LF) read as the
 * session reads a long one: in pieces of PIECE bytes through mc_keys_next,
 * which must give the keys mc_next_key finds, then the end. */
static void check_keys_stream(const char *line, size_t len, const mc_req_t *req,
                              size_t piece)
{
    const char *p = req->keys.p, *end = line + len + 1; /* the LF too */
    size_t have = 0, used;
    loom_slice_t cur = req->keys, key, skey;
    int more = 1;

    while (more) {
        mc_keys_result_t r;

        if (have < (size_t)(end - p))
            have = have + piece < (size_t)(end - p) ? have + piece
                                                    : (size_t)(end - p);
        r = mc_keys_next(p, have, req->pflags, 1, &skey, &used);
        assert(r != MC_KEYS_BAD);
        assert(used <= have);
        p += used;
        have -= used;
        if (r == MC_KEYS_KEY) {
            assert(mc_next_key(&cur, &key));
            assert(skey.len == key.len && memcmp(skey.p, key.p, key.len) == 0);
        } else if (r == MC_KEYS_END) {
            assert(!mc_next_key(&cur, &key));
            assert(p == end);
            more = 0;
        } else {
            assert(have < (size_t)(end - p)); /* MORE only when short */
        }
    }
}

typedef struct {
    uint64_t n, bytes;
} fz_sum_t;

static int fz_sum(mc_item_t *it, void *arg)
{
    fz_sum_t *s = arg;

    assert(it->nkey >= 1 && it->nkey <= MC_KEY_MAX);
    assert(memcmp(mc_item_value(it) + it->nbytes, "\r\n", 2) == 0);
    s->n++;
    s->bytes += mc_store_item_size(it->nkey, it->nbytes);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    mc_store_t *st = mc_store_new(FZ_MEMORY, FZ_MAX_ITEM, 7);
    mc_counters_t ctr;
    mc_ctx_t x;
    mc_out_t o;
    mc_req_t *req = malloc(sizeof(*req));
    mc_dump_t dump = {0, 0};
    uint64_t swallow = 0;
    uint32_t now = FZ_T0;
    unsigned pflags = 0;
    size_t used = 0;
    fz_sum_t sum = {0, 0};

    if (req == NULL) {
        mc_store_free(st);
        return 0;
    }
    memset(&ctr, 0, sizeof(ctr));
    memset(&x, 0, sizeof(x));
    memset(&o, 0, sizeof(o));
    x.store = st;
    x.ctr = &ctr;
    x.started = FZ_T0 - 100;
    mc_store_set_time(st, now);

    while (used < size) {
        const char *p = buf + used, *nl;
        size_t n = size - used, linelen;
        int r;

        if (swallow) {
            size_t k = n < swallow ? n : (size_t)swallow;

            swallow -= k;
            used += k;
            continue;
        }
        if ((unsigned char)p[0] == 0x80)
            break; /* binary protocol: refused, connection closed */
        nl = memchr(p, '\n', n);
        if (nl == NULL)
            break; /* an incomplete line waits for more input */
        linelen = (size_t)(nl - p);
        if (linelen > MC_LINE_MAX) {
            const loom_cmd_t *cmd = mc_peek_cmd(p, linelen);

            if (cmd == NULL || !(cmd->flags & MC_CF_GET))
                break; /* line too long: connection closed */
        }
        if (linelen >= 2 && p[0] == '#' && p[1] == 'L') {
            pflags ^= MC_PARSE_LAX_KEYS;
            used += linelen + 1;
            continue;
        }
        if (p[0] == '#') {
            now += (uint32_t)linelen;
            mc_store_set_time(st, now);
            mc_store_tick(st, 64);
            used += linelen + 1;
            continue;
        }
        mc_parse_flags(p, linelen, pflags, req);
        check_req(p, linelen, req, pflags);
        used += linelen + 1;
        if (req->hangup)
            break; /* HTTP: connection closed */
        if (req->err) {
            swallow = req->swallow;
            continue;
        }
        if (req->cmd->flags & MC_CF_GET)
            check_keys_stream(p, linelen, req, 1 + linelen % 7);
        if (req->cmd->flags & MC_CF_STORAGE) {
            if (mc_store_item_size(req->key.len, req->bytes) >
                mc_store_max_item(st)) {
                swallow = req->bytes + 2;
                continue;
            }
            if (size - used < req->bytes + 2)
                break; /* waits for the rest of the data block */
            r = mc_exec(&x, req, buf + used, &o, &dump);
            used += req->bytes + 2;
        } else {
            r = mc_exec(&x, req, NULL, &o, &dump);
        }
        assert(r == MC_EXEC_DONE || r == MC_EXEC_CLOSE || r == MC_EXEC_DUMP);
        assert(dump.active == (r == MC_EXEC_DUMP));
        if (r == MC_EXEC_DUMP) {
            assert(mc_dump_step(&x, &dump, &o) == 1); /* never full */
            assert(!dump.active);
            assert(o.len >= 5 && memcmp(o.buf + o.len - 5, "END\r\n", 5) == 0);
        }
        if (o.len)
            assert(o.len >= 2 && memcmp(o.buf + o.len - 2, "\r\n", 2) == 0);
        o.len = 0; /* the replies were "sent" */
        assert(mc_store_stats(st)->bytes <= mc_store_memory(st));
        if (r == MC_EXEC_CLOSE)
            break;
    }

    mc_store_foreach(st, fz_sum, &sum);
    /* expired items still count until reclaimed: live <= accounted */
    assert(sum.n <= mc_store_stats(st)->curr_items);
    assert(sum.bytes <= mc_store_stats(st)->bytes);
    assert(mc_store_stats(st)->bytes <= mc_store_memory(st));
    mc_detail_free(&x);
    mc_store_free(st);
    free(o.buf);
    free(req);
    return 0;
}
