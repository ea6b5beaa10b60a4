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
#define E_MFLAG "CLIENT_ERROR invalid or duplicate flag"

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

int mc_tok_u64(loom_slice_t t, uint64_t *out)
{
    return tok_u64(t, out);
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

int mc_keys_ok(loom_slice_t keys, unsigned flags)
{
    loom_slice_t key;

    while (mc_next_key(&keys, &key))
        if (!mc_key_ok(key.p, key.len, flags))
            return 0;
    return 1;
}

mc_keys_result_t mc_keys_next(const char *buf, size_t len, unsigned flags,
                              int check, loom_slice_t *key, size_t *used)
{
    size_t i = 0, start, end;

    while (i < len && buf[i] == ' ')
        i++;
    *used = i; /* spaces are consumed whatever follows */
    if (i == len)
        return MC_KEYS_MORE;
    if (buf[i] == '\n' ||
        (buf[i] == '\r' && i + 1 < len && buf[i + 1] == '\n')) {
        *used = i + (buf[i] == '\r' ? 2 : 1);
        return MC_KEYS_END;
    }
    if (buf[i] == '\r' && i + 1 == len)
        return MC_KEYS_MORE; /* a CR LF, or a key that starts with CR */
    start = i;
    while (i < len && buf[i] != ' ' && buf[i] != '\n')
        i++;
    if (i == len) {
        /* incomplete: a final CR may yet turn out to end the line */
        if (check && i - start > MC_KEY_MAX + 1) {
            *used = 0;
            return MC_KEYS_BAD;
        }
        return MC_KEYS_MORE;
    }
    end = i;
    if (buf[i] == '\n' && buf[end - 1] == '\r')
        end--; /* the CR of CR LF ends the line, not the key */
    key->p = buf + start;
    key->len = end - start;
    if (check && !mc_key_ok(key->p, key->len, flags)) {
        *used = 0;
        return MC_KEYS_BAD;
    }
    *used = end; /* the line end is left for the next call */
    return MC_KEYS_KEY;
}

static int tok_is(loom_slice_t t, const char *s)
{
    size_t n = strlen(s);

    return t.len == n && memcmp(t.p, s, n) == 0;
}

/* ---- text commands ------------------------------------------------------ */

/* The last token is "noreply": note it and drop it from the count. */
static int take_noreply(mc_req_t *req, const loom_slice_t *tok, int n)
{
    if (n > 0 && tok_is(tok[n - 1], "noreply")) {
        req->noreply = 1;
        return n - 1;
    }
    return n;
}

static const char *take_key(mc_req_t *req, loom_slice_t key)
{
    req->key = key;
    return mc_key_ok(key.p, key.len, req->pflags) ? NULL : E_FORMAT;
}

/* get, gets, bget; gat and gats take an exptime first.  Every key of the
 * list is checked: one bad key makes the whole line an error. */
static const char *syn_get(mc_req_t *req, const loom_slice_t *tok, int n,
                           const char *line, size_t len)
{
    int first = 1;

    if (req->cmd->flags & MC_CF_TOUCH) {
        if (tok_i32(tok[1], &req->exptime) != 0)
            return E_EXPTIME;
        first = 2;
    }
    if (n > first) {
        req->keys.p = tok[first].p;
        req->keys.len = (size_t)(line + len - tok[first].p);
    } else {
        req->keys.p = line + len;
        req->keys.len = 0;
    }
    return mc_keys_ok(req->keys, req->pflags) ? NULL : E_FORMAT;
}

/* set, add, replace, append, prepend: KEY FLAGS EXPTIME BYTES [noreply];
 * cas: ... BYTES CAS [noreply].  A last token other than noreply is
 * ignored, as memcached does. */
static const char *syn_storage(mc_req_t *req, const loom_slice_t *tok, int n,
                               const char *line, size_t len)
{
    int64_t bytes;

    (void)line;
    (void)len;
    take_noreply(req, tok, n);
    req->key = tok[1];
    if (tok_i32(tok[4], &bytes) != 0 || bytes < 0 || bytes > 2147483647 - 2)
        return E_FORMAT;
    req->bytes = (uint64_t)bytes;
    /* Unlike memcached, a bad key, flags or exptime next to a valid length
     * skips the data block: one reply per command, not two. */
    req->swallow = req->bytes + 2;
    if (tok_u32(tok[2], &req->flags) != 0 ||
        tok_i32(tok[3], &req->exptime) != 0 ||
        ((req->cmd->flags & MC_CF_CAS) && tok_u64(tok[5], &req->cas) != 0) ||
        !mc_key_ok(tok[1].p, tok[1].len, req->pflags))
        return E_FORMAT;
    req->swallow = 0;
    return NULL;
}

/* delete KEY [0] [noreply] */
static const char *syn_delete(mc_req_t *req, const loom_slice_t *tok, int n,
                              const char *line, size_t len)
{
    (void)line;
    (void)len;
    if (n > 2) {
        int zero = tok_is(tok[2], "0");
        int nr = tok_is(tok[n - 1], "noreply");

        req->noreply = nr;
        if (!((n == 3 && (zero || nr)) || (n == 4 && zero && nr)))
            return E_FORMAT ".  Usage: delete <key> [noreply]";
    }
    return take_key(req, tok[1]);
}

/* incr/decr KEY DELTA [noreply], touch KEY EXPTIME [noreply] */
static const char *syn_keynum(mc_req_t *req, const loom_slice_t *tok, int n,
                              const char *line, size_t len)
{
    (void)line;
    (void)len;
    take_noreply(req, tok, n);
    if (!mc_key_ok(tok[1].p, tok[1].len, req->pflags))
        return take_key(req, tok[1]);
    if (req->cmd->flags & MC_CF_TOUCH) {
        if (tok_i32(tok[2], &req->exptime) != 0)
            return E_EXPTIME;
    } else if (tok_u64(tok[2], &req->delta) != 0) {
        return E_DELTA;
    }
    return take_key(req, tok[1]);
}

/* flush_all [DELAY] [noreply]: the delay is the first argument unless that
 * is noreply; a further token is ignored, as memcached does. */
static const char *syn_flush(mc_req_t *req, const loom_slice_t *tok, int n,
                             const char *line, size_t len)
{
    (void)line;
    (void)len;
    if (n > 1 && take_noreply(req, tok, n) != 1) {
        req->has_exptime = 1;
        if (tok_i32(tok[1], &req->exptime) != 0)
            return E_EXPTIME;
    }
    return NULL;
}

/* verbosity LEVEL [noreply]; "verbosity noreply" is no command at all */
static const char *syn_verbosity(mc_req_t *req, const loom_slice_t *tok, int n,
                                 const char *line, size_t len)
{
    (void)line;
    (void)len;
    take_noreply(req, tok, n);
    if (req->noreply && n == 2) {
        req->noreply = 0;
        return "ERROR";
    }
    return tok_u64(tok[1], &req->number) != 0 ? E_FORMAT : NULL;
}

/* cache_memlimit MEGABYTES [noreply]; memcached answers a bad number
 * with ERROR */
static const char *syn_memlimit(mc_req_t *req, const loom_slice_t *tok, int n,
                                const char *line, size_t len)
{
    (void)line;
    (void)len;
    take_noreply(req, tok, n);
    return tok_u64(tok[1], &req->number) != 0 ? "ERROR" : NULL;
}

/* stats, slabs, lru_crawler: the handler reads the arguments */
static const char *syn_args(mc_req_t *req, const loom_slice_t *tok, int n,
                            const char *line, size_t len)
{
    int i;

    (void)line;
    (void)len;
    for (i = 1; i < n; i++)
        req->args[req->nargs++] = tok[i];
    return NULL;
}

/* version, quit, mn, shutdown: extra tokens are ignored */
static const char *syn_none(mc_req_t *req, const loom_slice_t *tok, int n,
                            const char *line, size_t len)
{
    (void)req;
    (void)tok;
    (void)n;
    (void)line;
    (void)len;
    return NULL;
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

/* mg, ms, md, ma, me: KEY [LENGTH (ms)] FLAGS...  What differs between
 * them is in their syntax entry. */
static const char *syn_meta(mc_req_t *req, const loom_slice_t *tok, int n,
                            const char *line, size_t len)
{
    const mc_syntax_t *syn = req->cmd->data;
    const char *err = NULL;
    int i, first = 2;

    (void)line;
    (void)len;
    req->key = tok[1];
    if (tok[1].len > MC_KEY_MAX)
        return E_FORMAT;
    if (req->cmd->flags & MC_CF_STORAGE) {
        int64_t bytes;

        if (n < 3 || tok_i32(tok[2], &bytes) != 0 || bytes < 0 ||
            bytes > 2147483647 - 2)
            return E_FORMAT;
        req->bytes = (uint64_t)bytes;
        req->swallow = req->bytes + 2; /* if anything below fails */
        first = 3;
    }
    if (n + 1 > MC_MFLAG_MAX_OPT)
        return "CLIENT_ERROR options flags are too long";
    req->delta = 1;
    for (i = first; i < n && err == NULL; i++)
        err = meta_flag(req, tok[i]);
    if (err)
        return syn->flag_err ? syn->flag_err : err;
    req->mflags &= syn->known;
    if (req->mflags & MC_F('q'))
        req->noreply = 1;
    if (req->mflags & MC_F('b')) {
        int k = mc_base64_decode(tok[1].p, tok[1].len, req->keybuf,
                                 sizeof(req->keybuf) - 1);

        if (k <= 0)
            return "CLIENT_ERROR error decoding key";
        req->key.p = req->keybuf;
        req->key.len = (size_t)k;
    } else if (!mc_key_ok(tok[1].p, tok[1].len, req->pflags)) {
        return E_FORMAT;
    }
    if (syn->modes && req->mode && !strchr(syn->modes, req->mode))
        return syn->mode_err;
    req->swallow = 0;
    return NULL;
}

#define ALL_FLAGS (~(uint64_t)0)

const mc_syntax_t mc_syn_get = {syn_get, ALL_FLAGS, NULL, NULL, NULL};
const mc_syntax_t mc_syn_storage = {syn_storage, ALL_FLAGS, NULL, NULL, NULL};
const mc_syntax_t mc_syn_delete = {syn_delete, ALL_FLAGS, NULL, NULL, NULL};
const mc_syntax_t mc_syn_keynum = {syn_keynum, ALL_FLAGS, NULL, NULL, NULL};
const mc_syntax_t mc_syn_flush = {syn_flush, ALL_FLAGS, NULL, NULL, NULL};
const mc_syntax_t mc_syn_verbosity = {syn_verbosity, ALL_FLAGS, NULL, NULL,
                                      NULL};
const mc_syntax_t mc_syn_memlimit = {syn_memlimit, ALL_FLAGS, NULL, NULL, NULL};
const mc_syntax_t mc_syn_args = {syn_args, ALL_FLAGS, NULL, NULL, NULL};
const mc_syntax_t mc_syn_none = {syn_none, ALL_FLAGS, NULL, NULL, NULL};
const mc_syntax_t mc_syn_mg = {syn_meta, ALL_FLAGS, NULL, NULL, NULL};
const mc_syntax_t mc_syn_ms = {syn_meta, ALL_FLAGS, "EAPRS",
                               "CLIENT_ERROR invalid mode for ms M token",
                               NULL};
const mc_syntax_t mc_syn_md = {syn_meta, ALL_FLAGS, NULL, NULL, E_MFLAG};
const mc_syntax_t mc_syn_ma = {syn_meta, ALL_FLAGS, "ID+-",
                               "CLIENT_ERROR invalid mode for ma M token",
                               E_MFLAG};
/* me reads only b (its other flags are accepted and ignored) */
const mc_syntax_t mc_syn_me = {syn_meta, MC_F('b'), NULL, NULL, NULL};

/* ---- entry ----------------------------------------------------------------
 */

/* An unknown verb.  memcached dispatches on the first letter of the verb
 * (a two-letter 'm' verb is meta): a verb in one of those groups is
 * answered ERROR; any other whose last token starts with "HTTP/" (the
 * 23rd when the line is cut) closes the connection silently, so that a
 * browser made to post to memcached cannot drive it. */
static const loom_cmd_t *unknown(mc_req_t *req, const loom_slice_t *tok, int n)
{
    loom_slice_t last;
    size_t i;

    req->err = "ERROR";
    if (n == 0 || tok[0].len < 2)
        return NULL;
    for (i = 0; i < mc_commands.n; i++) {
        const loom_cmd_t *c = &mc_commands.cmds[i];

        if ((c->flags & MC_CF_LETTER) && c->name[0] == tok[0].p[0] &&
            (!(c->flags & MC_CF_META) || strlen(c->name) == tok[0].len))
            return NULL;
    }
    last = tok[n < MC_MAX_TOKENS ? n - 1 : MC_MAX_TOKENS - 2];
    if (last.len >= 5 && memcmp(last.p, "HTTP/", 5) == 0) {
        req->err = NULL;
        req->hangup = 1;
    }
    return NULL;
}

const loom_cmd_t *mc_parse(const char *line, size_t len, mc_req_t *req)
{
    return mc_parse_flags(line, len, 0, req);
}

const loom_cmd_t *mc_parse_flags(const char *line, size_t len, unsigned flags,
                                 mc_req_t *req)
{
    loom_slice_t tok[MC_MAX_TOKENS];
    const mc_syntax_t *syn;
    int n;

    memset(req, 0, offsetof(mc_req_t, keybuf));
    req->pflags = flags;
    if (len && line[len - 1] == '\r')
        len--;
    n = (int)loom_cmd_split(line, len, 0, tok, MC_MAX_TOKENS);
    switch (loom_cmd_match(&mc_commands, tok, (size_t)n, &req->cmd)) {
    case LOOM_ERROR:
        return unknown(req, tok, n);
    case LOOM_DECLINED:
        req->err = (req->cmd->flags & MC_CF_ARITY_FMT) ? E_FORMAT : "ERROR";
        return req->cmd;
    default:
        break;
    }
    syn = req->cmd->data;
    req->err = syn->parse(req, tok, n, line, len);
    return req->cmd;
}

const loom_cmd_t *mc_peek_cmd(const char *line, size_t len)
{
    size_t i = 0, start;

    while (i < len && line[i] == ' ')
        i++;
    start = i;
    while (i < len && line[i] != ' ')
        i++;
    if (i == len)
        return NULL;
    return loom_cmd_find(&mc_commands, line + start, i - start);
}
