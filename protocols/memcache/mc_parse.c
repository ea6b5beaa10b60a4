/*
 * mc_parse.c - memcache command-line parser (text and meta), sans I/O.
 *
 * Tokens are separated by runs of spaces, as in memcached; the dispatch
 * rules (which token counts a command accepts, which error line a bad
 * token earns) follow memcached 1.6.18 so that clients see the same
 * replies.  Where loom is stricter (control characters in keys) the reply
 * is still memcached's own CLIENT_ERROR line.
 */
#include "mc_parse.h"

#include <string.h>

#define E_FORMAT "CLIENT_ERROR bad command line format"
#define E_EXPTIME "CLIENT_ERROR invalid exptime argument"
#define E_DELTA "CLIENT_ERROR invalid numeric delta argument"
#define E_TOKEN "CLIENT_ERROR bad token in command line format"

/* ---- numbers ------------------------------------------------------------ */

/* Unsigned decimal as memcached's safe_strtoull on a whole token: an
 * optional '+', digits, nothing else; "-0" is 0 and any other minus sign
 * is refused.  Returns 0 on success. */
static int tok_u64(loom_slice_t t, uint64_t *out)
{
    const char *p = t.p, *end = t.p + t.len;
    uint64_t v = 0;
    int neg = 0;

    if (p < end && (*p == '+' || *p == '-')) {
        neg = *p == '-';
        p++;
    }
    if (p == end)
        return -1;
    for (; p < end; p++) {
        unsigned d = (unsigned char)*p - '0';

        if (d > 9 || v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    if (neg && v != 0)
        return -1;
    *out = v;
    return 0;
}

/* Signed 32-bit decimal (memcached's safe_strtol). */
static int tok_i32(loom_slice_t t, int64_t *out)
{
    uint64_t v;
    int neg = t.len > 0 && t.p[0] == '-';

    if (neg) {
        t.p++;
        t.len--;
        if (t.len && (t.p[0] == '+' || t.p[0] == '-'))
            return -1;
    }
    if (tok_u64(t, &v) != 0 || v > (neg ? 2147483648ULL : 2147483647ULL))
        return -1;
    *out = neg ? -(int64_t)v : (int64_t)v;
    return 0;
}

static int tok_u32(loom_slice_t t, uint32_t *out)
{
    uint64_t v;

    if (tok_u64(t, &v) != 0 || v > UINT32_MAX)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

int mc_strtoull_item(const char *s, size_t len, uint64_t *out)
{
    const char *p = s, *end = s + len;
    uint64_t v = 0;
    int neg = 0, digits = 0;

    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    if (p < end && (*p == '+' || *p == '-'))
        neg = *p++ == '-';
    for (; p < end; p++) {
        unsigned d = (unsigned char)*p - '0';

        if (d > 9)
            break;
        if (v > (UINT64_MAX - d) / 10)
            return -1; /* ERANGE */
        v = v * 10 + d;
        digits = 1;
    }
    if (!digits || p == end ||
        !(*p == ' ' || *p == '\r' || *p == '\n' || *p == '\t'))
        return -1;
    if (neg) {
        if (v != 0)
            return -1; /* memcached refuses a negative number */
    }
    *out = v;
    return 0;
}

size_t mc_u64toa(char *buf, uint64_t v)
{
    char tmp[24];
    size_t n = 0, i;

    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (i = 0; i < n; i++)
        buf[i] = tmp[n - 1 - i];
    return n;
}

/* ---- base64 ------------------------------------------------------------- */

static const char b64chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int b64val(unsigned char ch)
{
    if (ch >= 'A' && ch <= 'Z')
        return ch - 'A';
    if (ch >= 'a' && ch <= 'z')
        return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9')
        return ch - '0' + 52;
    if (ch == '+')
        return 62;
    if (ch == '/')
        return 63;
    return -1;
}

int mc_base64_decode(const char *src, size_t len, char *dst, size_t dstlen)
{
    size_t i, n = 0;

    if (len == 0 || len % 4 != 0)
        return -1;
    for (i = 0; i < len; i += 4) {
        int v[4], k, pad = 0;
        uint32_t w;

        for (k = 0; k < 4; k++) {
            unsigned char ch = (unsigned char)src[i + k];

            if (ch == '=' && i + 4 == len && k >= 2) {
                v[k] = 0;
                pad++;
            } else if (pad || (v[k] = b64val(ch)) < 0) {
                return -1;
            }
        }
        w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 |
            (uint32_t)v[3];
        if (n + 3 - (size_t)pad > dstlen)
            return -1;
        dst[n++] = (char)(w >> 16);
        if (pad < 2)
            dst[n++] = (char)(w >> 8 & 0xff);
        if (pad < 1)
            dst[n++] = (char)(w & 0xff);
    }
    return (int)n;
}

size_t mc_base64_encode(const char *src, size_t len, char *dst)
{
    const unsigned char *s = (const unsigned char *)src;
    size_t i, n = 0;

    for (i = 0; i + 2 < len; i += 3) {
        uint32_t w = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];

        dst[n++] = b64chars[w >> 18];
        dst[n++] = b64chars[w >> 12 & 63];
        dst[n++] = b64chars[w >> 6 & 63];
        dst[n++] = b64chars[w & 63];
    }
    if (i < len) {
        uint32_t w = (uint32_t)s[i] << 16;

        if (i + 1 < len)
            w |= (uint32_t)s[i + 1] << 8;
        dst[n++] = b64chars[w >> 18];
        dst[n++] = b64chars[w >> 12 & 63];
        dst[n++] = i + 1 < len ? b64chars[w >> 6 & 63] : '=';
        dst[n++] = '=';
    }
    return n;
}

/* ---- tokens and keys ---------------------------------------------------- */

int mc_key_valid(const char *key, size_t len)
{
    size_t i;

    if (len == 0 || len > MC_KEY_MAX)
        return 0;
    for (i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)key[i];

        if (ch <= ' ' || ch == 0x7f)
            return 0;
    }
    return 1;
}

int mc_key_ok(const char *key, size_t len, unsigned flags)
{
    if (!(flags & MC_PARSE_LAX_KEYS))
        return mc_key_valid(key, len);
    return len > 0 && len <= MC_KEY_MAX && memchr(key, ' ', len) == NULL;
}

int mc_next_key(loom_slice_t *cur, loom_slice_t *key)
{
    const char *p = cur->p, *end = cur->p + cur->len, *s;

    while (p < end && *p == ' ')
        p++;
    if (p == end) {
        cur->p = end;
        cur->len = 0;
        return 0;
    }
    s = p;
    while (p < end && *p != ' ')
        p++;
    key->p = s;
    key->len = (size_t)(p - s);
    cur->p = p;
    cur->len = (size_t)(end - p);
    return 1;
}

/* Split LINE into at most MAX tokens; the last one takes the rest of the
 * line (spaces included) when there are more. */
static int tokenize(const char *line, size_t len, loom_slice_t *tok, int max)
{
    loom_slice_t cur = {line, len};
    int n = 0;

    while (n < max - 1 && mc_next_key(&cur, &tok[n]))
        n++;
    if (n == max - 1) {
        while (cur.len && cur.p[0] == ' ') {
            cur.p++;
            cur.len--;
        }
        if (cur.len) {
            while (cur.len && cur.p[cur.len - 1] == ' ')
                cur.len--;
            tok[n++] = cur;
        }
    }
    return n;
}

static int tok_is(loom_slice_t t, const char *s)
{
    size_t n = strlen(s);

    return t.len == n && memcmp(t.p, s, n) == 0;
}

static mc_cmd_t fail(mc_req_t *req, mc_cmd_t cmd, const char *err)
{
    req->cmd = cmd;
    req->err = err;
    return cmd;
}

/* ---- text commands ------------------------------------------------------ */

static const struct {
    const char *name;
    mc_cmd_t cmd;
} commands[] = {
    {"get", MC_CMD_GET},
    {"gets", MC_CMD_GETS},
    {"gat", MC_CMD_GAT},
    {"gats", MC_CMD_GATS},
    {"set", MC_CMD_SET},
    {"add", MC_CMD_ADD},
    {"replace", MC_CMD_REPLACE},
    {"append", MC_CMD_APPEND},
    {"prepend", MC_CMD_PREPEND},
    {"cas", MC_CMD_CAS},
    {"delete", MC_CMD_DELETE},
    {"incr", MC_CMD_INCR},
    {"decr", MC_CMD_DECR},
    {"touch", MC_CMD_TOUCH},
    {"flush_all", MC_CMD_FLUSH_ALL},
    {"stats", MC_CMD_STATS},
    {"version", MC_CMD_VERSION},
    {"verbosity", MC_CMD_VERBOSITY},
    {"quit", MC_CMD_QUIT},
    {"cache_memlimit", MC_CMD_CACHE_MEMLIMIT},
    {"mg", MC_CMD_MG},
    {"ms", MC_CMD_MS},
    {"md", MC_CMD_MD},
    {"ma", MC_CMD_MA},
    {"mn", MC_CMD_MN},
    {"me", MC_CMD_ME},
};

/* The last token is "noreply": note it and drop it from the count. */
static int take_noreply(mc_req_t *req, const loom_slice_t *tok, int n)
{
    if (n > 0 && tok_is(tok[n - 1], "noreply")) {
        req->noreply = 1;
        return n - 1;
    }
    return n;
}

static mc_cmd_t parse_key(mc_req_t *req, mc_cmd_t cmd, loom_slice_t key)
{
    req->key = key;
    if (!mc_key_ok(key.p, key.len, req->pflags))
        return fail(req, cmd, E_FORMAT);
    return cmd;
}

static mc_cmd_t parse_storage(mc_req_t *req, mc_cmd_t cmd,
                              const loom_slice_t *tok, int n)
{
    int64_t bytes;
    int want = cmd == MC_CMD_CAS ? 6 : 5;

    if (n != want && n != want + 1) /* a last token other than noreply is
                                     * ignored, as memcached does */
        return fail(req, MC_CMD_UNKNOWN, "ERROR");
    take_noreply(req, tok, n);
    req->cmd = cmd;
    req->key = tok[1];
    if (tok_i32(tok[4], &bytes) != 0 || bytes < 0 || bytes > 2147483647 - 2)
        return fail(req, cmd, E_FORMAT);
    req->bytes = (uint64_t)bytes;
    /* Unlike memcached, a bad key, flags or exptime next to a valid length
     * skips the data block: one reply per command, not two. */
    req->swallow = req->bytes + 2;
    if (tok_u32(tok[2], &req->flags) != 0 ||
        tok_i32(tok[3], &req->exptime) != 0 ||
        (cmd == MC_CMD_CAS && tok_u64(tok[5], &req->cas) != 0) ||
        !mc_key_ok(tok[1].p, tok[1].len, req->pflags))
        return fail(req, cmd, E_FORMAT);
    req->swallow = 0;
    return cmd;
}

static mc_cmd_t parse_text(mc_req_t *req, mc_cmd_t cmd, const char *line,
                           size_t len, const loom_slice_t *tok, int n)
{
    int i;

    switch (cmd) {
    case MC_CMD_GET:
    case MC_CMD_GETS:
        if (n < 2)
            return fail(req, MC_CMD_UNKNOWN, "ERROR");
        req->keys.p = tok[1].p;
        req->keys.len = (size_t)(line + len - tok[1].p);
        return cmd;
    case MC_CMD_GAT:
    case MC_CMD_GATS:
        if (n < 2)
            return fail(req, MC_CMD_UNKNOWN, "ERROR");
        if (tok_i32(tok[1], &req->exptime) != 0)
            return fail(req, cmd, E_EXPTIME);
        if (n == 2) {
            req->keys.p = line + len;
            req->keys.len = 0;
        } else {
            req->keys.p = tok[2].p;
            req->keys.len = (size_t)(line + len - tok[2].p);
        }
        return cmd;
    case MC_CMD_SET:
    case MC_CMD_ADD:
    case MC_CMD_REPLACE:
    case MC_CMD_APPEND:
    case MC_CMD_PREPEND:
    case MC_CMD_CAS:
        return parse_storage(req, cmd, tok, n);
    case MC_CMD_DELETE:
        if (n < 2 || n > 4)
            return fail(req, MC_CMD_UNKNOWN, "ERROR");
        if (n > 2) {
            int zero = tok_is(tok[2], "0");
            int nr = tok_is(tok[n - 1], "noreply");

            req->noreply = nr;
            if (!((n == 3 && (zero || nr)) || (n == 4 && zero && nr)))
                return fail(req, cmd,
                            E_FORMAT ".  Usage: delete <key> [noreply]");
        }
        return parse_key(req, cmd, tok[1]);
    case MC_CMD_INCR:
    case MC_CMD_DECR:
    case MC_CMD_TOUCH:
        if (n != 3 && n != 4)
            return fail(req, MC_CMD_UNKNOWN, "ERROR");
        take_noreply(req, tok, n);
        req->cmd = cmd;
        if (!mc_key_ok(tok[1].p, tok[1].len, req->pflags))
            return parse_key(req, cmd, tok[1]);
        if (cmd == MC_CMD_TOUCH) {
            if (tok_i32(tok[2], &req->exptime) != 0)
                return fail(req, cmd, E_EXPTIME);
        } else if (tok_u64(tok[2], &req->delta) != 0) {
            return fail(req, cmd, E_DELTA);
        }
        return parse_key(req, cmd, tok[1]);
    case MC_CMD_FLUSH_ALL:
        if (n > 3)
            return fail(req, MC_CMD_UNKNOWN, "ERROR");
        /* the delay is the first argument unless that is noreply; a
         * further token is ignored, as memcached does */
        if (n > 1 && take_noreply(req, tok, n) != 1) {
            req->has_exptime = 1;
            if (tok_i32(tok[1], &req->exptime) != 0)
                return fail(req, cmd, E_EXPTIME);
        }
        return cmd;
    case MC_CMD_VERBOSITY:
        if (n != 2 && n != 3)
            return fail(req, MC_CMD_UNKNOWN, "ERROR");
        take_noreply(req, tok, n);
        if (req->noreply && n == 2) {
            req->noreply = 0;
            return fail(req, MC_CMD_UNKNOWN, "ERROR");
        }
        if (tok_u64(tok[1], &req->number) != 0)
            return fail(req, cmd, E_FORMAT);
        return cmd;
    case MC_CMD_CACHE_MEMLIMIT:
        if (n != 2 && n != 3)
            return fail(req, MC_CMD_UNKNOWN, "ERROR");
        take_noreply(req, tok, n);
        if (tok_u64(tok[1], &req->number) != 0)
            return fail(req, MC_CMD_UNKNOWN, "ERROR");
        return cmd;
    case MC_CMD_STATS:
        for (i = 1; i < n; i++)
            req->args[req->nargs++] = tok[i];
        return cmd;
    default:
        return cmd; /* version, quit: extra tokens are ignored */
    }
}

/* ---- meta commands ------------------------------------------------------ */

#define MC_MFLAG_MAX_OPT 20 /* memcached's MFLAG_MAX_OPT_LENGTH */

/* The flags every meta command knows (memcached's _meta_flag_preparse);
 * each command then uses the ones that mean something to it. */
static const char *meta_flag(mc_req_t *req, loom_slice_t t)
{
    loom_slice_t v = {t.p + 1, t.len - 1};
    char ch = t.p[0];
    int64_t ttl;

    if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z')))
        return "CLIENT_ERROR invalid flag";
    if (req->mflags & MC_F(ch))
        return "CLIENT_ERROR duplicate flag";
    req->mflags |= MC_F(ch);
    if (req->norder < MC_MAX_TOKENS)
        req->order[req->norder++] = ch;
    switch (ch) {
    case 'b':
    case 'O':
    case 'P':
    case 'L':
    case 'k':
    case 's':
    case 't':
    case 'c':
    case 'f':
    case 'v':
    case 'h':
    case 'u':
    case 'q':
    case 'l':
    case 'I':
        break;
    case 'N':
    case 'T':
    case 'R':
        if (tok_i32(v, &ttl) != 0)
            return E_TOKEN;
        if (ch == 'N')
            req->ttl_N = ttl;
        else if (ch == 'R')
            req->ttl_R = ttl;
        else
            req->exptime = ttl;
        break;
    case 'F':
        if (tok_u32(v, &req->flags) != 0)
            return E_FORMAT; /* memcached sets no message of its own */
        break;
    case 'C':
        if (tok_u64(v, &req->cas) != 0)
            return E_TOKEN;
        break;
    case 'E':
        if (tok_u64(v, &req->new_cas) != 0)
            return E_TOKEN;
        break;
    case 'M':
        if (v.len != 1)
            return "CLIENT_ERROR incorrect length for M token";
        req->mode = v.p[0];
        break;
    case 'J':
        if (tok_u64(v, &req->initial) != 0)
            return "CLIENT_ERROR invalid numeric initial value";
        break;
    case 'D':
        if (tok_u64(v, &req->delta) != 0)
            return E_DELTA;
        break;
    default:
        return "CLIENT_ERROR invalid flag";
    }
    if (ch == 'O') {
        if (v.len > MC_OPAQUE_MAX)
            return "CLIENT_ERROR opaque token too long";
        req->opaque = v;
    }
    return NULL;
}

static mc_cmd_t parse_meta(mc_req_t *req, mc_cmd_t cmd, const loom_slice_t *tok,
                           int n)
{
    const char *err = NULL;
    int i, first = 2;

    if (cmd == MC_CMD_MN)
        return cmd;
    if (n < 2)
        return cmd == MC_CMD_ME ? fail(req, cmd, E_FORMAT)
                                : fail(req, MC_CMD_UNKNOWN, "ERROR");
    req->key = tok[1];
    if (tok[1].len > MC_KEY_MAX)
        return fail(req, cmd, E_FORMAT);
    if (cmd == MC_CMD_MS) {
        int64_t bytes;

        if (n < 3 || tok_i32(tok[2], &bytes) != 0 || bytes < 0 ||
            bytes > 2147483647 - 2)
            return fail(req, cmd, E_FORMAT);
        req->bytes = (uint64_t)bytes;
        req->swallow = req->bytes + 2; /* if anything below fails */
        first = 3;
    }
    if (n + 1 > MC_MFLAG_MAX_OPT)
        return fail(req, cmd, "CLIENT_ERROR options flags are too long");
    req->delta = 1;
    for (i = first; i < n && err == NULL; i++)
        err = meta_flag(req, tok[i]);
    if (err) {
        if (cmd == MC_CMD_MD || cmd == MC_CMD_MA)
            err = "CLIENT_ERROR invalid or duplicate flag";
        return fail(req, cmd, err);
    }
    if (cmd == MC_CMD_ME && (req->mflags & ~MC_F('b')))
        req->mflags &= MC_F('b');
    if (req->mflags & MC_F('q'))
        req->noreply = 1;
    if (req->mflags & MC_F('b')) {
        int k = mc_base64_decode(tok[1].p, tok[1].len, req->keybuf,
                                 sizeof(req->keybuf) - 1);

        if (k <= 0)
            return fail(req, cmd, "CLIENT_ERROR error decoding key");
        req->key.p = req->keybuf;
        req->key.len = (size_t)k;
    } else if (!mc_key_ok(tok[1].p, tok[1].len, req->pflags)) {
        return fail(req, cmd, E_FORMAT);
    }
    if (cmd == MC_CMD_MS && req->mode && !strchr("EAPRS", req->mode))
        return fail(req, cmd, "CLIENT_ERROR invalid mode for ms M token");
    if (cmd == MC_CMD_MA && req->mode && !strchr("ID+-", req->mode))
        return fail(req, cmd, "CLIENT_ERROR invalid mode for ma M token");
    req->swallow = 0;
    return cmd;
}

/* ---- entry ----------------------------------------------------------------
 */

mc_cmd_t mc_parse(const char *line, size_t len, mc_req_t *req)
{
    return mc_parse_flags(line, len, 0, req);
}

mc_cmd_t mc_parse_flags(const char *line, size_t len, unsigned flags,
                        mc_req_t *req)
{
    loom_slice_t tok[MC_MAX_TOKENS];
    mc_cmd_t cmd = MC_CMD_UNKNOWN;
    size_t i;
    int n;

    memset(req, 0, offsetof(mc_req_t, keybuf));
    req->pflags = flags;
    if (len && line[len - 1] == '\r')
        len--;
    n = tokenize(line, len, tok, MC_MAX_TOKENS);
    if (n == 0)
        return fail(req, MC_CMD_UNKNOWN, "ERROR");
    for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (tok_is(tok[0], commands[i].name)) {
            cmd = commands[i].cmd;
            break;
        }
    req->cmd = cmd;
    if (cmd == MC_CMD_UNKNOWN)
        return fail(req, cmd,
                    tok_is(tok[0], "shutdown") ? "ERROR: shutdown not enabled"
                                               : "ERROR");
    if (cmd >= MC_CMD_MG)
        return parse_meta(req, cmd, tok, n);
    return parse_text(req, cmd, line, len, tok, n);
}
