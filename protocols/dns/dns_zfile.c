/*
 * dns_zfile.c - RFC 1035 master-file reader (see dns_zfile.h).
 *
 * The file structure is read here: a tokenizer cuts the text into logical
 * records (parentheses join lines, ';' starts a comment outside quotes,
 * a backslash escapes the next character) and remembers the line each
 * record starts on.  Owner names, $-directives, TTL, class and type are
 * handled here too.  The rdata of the types loom serves is handed to
 * libldns as the text ". 0 IN TYPE RDATA" (the tokens as written, joined by
 * single spaces) with the current origin; the wire rdata is the
 * concatenation of the rdfs ldns builds.  RFC 3597 generic rdata (\#) is
 * decoded here, strictly, because ldns accepts bad hex and excess data;
 * for the served types it is then checked against the type's format by
 * ldns_wire2rdf.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ldns/ldns.h>

#include "dns_wire.h"
#include "dns_zfile.h"

#define ZF_RDATA_MAX 65535
#define ZF_DEFAULT_TTL 3600
#define ZF_TTL_MAX 2147483647u /* RFC 2181 section 8 */
#define ZF_INCLUDE_DEPTH 10
#define ZF_RECORD_MAX (1u << 20) /* bytes of tokens in one record */
#define ZF_RDTEXT_MAX 65000      /* ldns cuts rdata text at 64 KiB, silently */
#define ZF_FILE_MAX (1u << 30)

typedef struct {
    const char *p; /* into the file text; quoted tokens keep their quotes */
    size_t n;
    unsigned line;
    int quoted;
} ztok_t;

/* One file being read. */
typedef struct {
    const char *name; /* for messages */
    const char *base; /* $INCLUDE paths are relative to its directory;
                         NULL: to the current directory */
    const char *text;
    size_t len, pos;
    unsigned line;
    uint8_t origin[DNS_NAME_MAX];
    size_t origin_len;
    uint8_t owner[DNS_NAME_MAX];
    size_t owner_len; /* 0: no owner yet */
} zsrc_t;

typedef struct {
    dns_zfile_cb cb;
    void *arg;
    char *err;
    size_t errlen;
    uint32_t dollar_ttl, last_ttl;
    int has_dollar_ttl, has_last_ttl;
    int depth;
    ztok_t *toks;
    size_t ntoks, captoks;
    char *txt; /* the record text given to ldns */
    size_t txtcap;
    ldns_rdf *origin_rdf; /* the origin ldns was last given */
    uint8_t rdata[ZF_RDATA_MAX];
} zreader_t;

typedef struct {
    const char *name;
    uint16_t type;
} ztype_t;

/* The types whose text form is read (by ldns); any type may be given in
 * RFC 3597 form. */
static const ztype_t served_types[] = {
    {"A", 1},       {"NS", 2},     {"CNAME", 5},       {"SOA", 6},
    {"PTR", 12},    {"HINFO", 13}, {"MX", 15},         {"TXT", 16},
    {"AAAA", 28},   {"SRV", 33},   {"NAPTR", 35},      {"DNAME", 39},
    {"DS", 43},     {"SSHFP", 44}, {"RRSIG", 46},      {"NSEC", 47},
    {"DNSKEY", 48}, {"NSEC3", 50}, {"NSEC3PARAM", 51}, {"TLSA", 52},
    {"CAA", 257},
};

#define N_SERVED (sizeof served_types / sizeof served_types[0])

static void zerr(zreader_t *r, const char *file, unsigned line, const char *fmt,
                 ...) __attribute__((format(printf, 4, 5)));

static void zerr(zreader_t *r, const char *file, unsigned line, const char *fmt,
                 ...)
{
    va_list ap;
    char *p;
    int n;

    if (r->err == NULL || r->errlen == 0)
        return;
    n = snprintf(r->err, r->errlen, "%s:%u: ", file, line);
    if (n < 0 || (size_t)n >= r->errlen)
        return;
    va_start(ap, fmt);
    vsnprintf(r->err + n, r->errlen - (size_t)n, fmt, ap);
    va_end(ap);
    /* one line, whatever a file name holds */
    for (p = r->err; *p != '\0'; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
}

/* A printable, bounded copy of token T for messages. */
static const char *tokstr(const ztok_t *t, char *buf, size_t size)
{
    size_t i, n = t->n < size - 4 ? t->n : size - 4;

    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)t->p[i];

        buf[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    if (n < t->n)
        buf[i++] = '.', buf[i++] = '.', buf[i++] = '.';
    buf[i] = '\0';
    return buf;
}

static int tok_is(const ztok_t *t, const char *s)
{
    return !t->quoted && t->n == strlen(s) && strncasecmp(t->p, s, t->n) == 0;
}

/* ---- names */

/* Parse the presentation name in T (@, relative or absolute, with \X and
 * \DDD escapes) into OUT against ORIGIN.  Returns the wire length, or 0
 * with MSG set. */
static size_t name_parse(const ztok_t *t, const uint8_t *origin, uint8_t *out,
                         const char **msg)
{
    if (t->quoted) {
        *msg = "bad name";
        return 0;
    }
    return dns_name_parse(out, t->p, t->n, origin, msg);
}

/* ---- TTL, class, type */

/* Parse a TTL: seconds, or numbers with units s m h d w (any case), e.g.
 * 3600, 1h, 1h30m, 2W.  Returns 0 or -1. */
static int ttl_parse(const ztok_t *t, uint32_t *ttl)
{
    uint64_t total = 0;
    size_t i = 0;

    if (t->quoted || t->n == 0)
        return -1;
    while (i < t->n) {
        uint64_t v = 0, mul = 1;

        if (!isdigit((unsigned char)t->p[i]))
            return -1;
        while (i < t->n && isdigit((unsigned char)t->p[i])) {
            v = v * 10 + (uint64_t)(t->p[i++] - '0');
            if (v > ZF_TTL_MAX)
                return -1;
        }
        if (i < t->n) {
            switch (tolower((unsigned char)t->p[i++])) {
            case 's':
                mul = 1;
                break;
            case 'm':
                mul = 60;
                break;
            case 'h':
                mul = 3600;
                break;
            case 'd':
                mul = 86400;
                break;
            case 'w':
                mul = 604800;
                break;
            default:
                return -1;
            }
        }
        total += v * mul;
        if (total > ZF_TTL_MAX)
            return -1;
    }
    *ttl = (uint32_t)total;
    return 0;
}

/* Parse "PREFIX<decimal 0..65535>" case-insensitively.  Returns the number
 * or -1. */
static long prefixed_number(const ztok_t *t, const char *prefix)
{
    size_t pl = strlen(prefix), i;
    long v = 0;

    if (t->quoted || t->n <= pl || t->n > pl + 5 ||
        strncasecmp(t->p, prefix, pl) != 0)
        return -1;
    for (i = pl; i < t->n; i++) {
        if (!isdigit((unsigned char)t->p[i]))
            return -1;
        v = v * 10 + (t->p[i] - '0');
    }
    return v <= 65535 ? v : -1;
}

/* 1: class IN; -1: another class; 0: not a class. */
static int class_lookup(const ztok_t *t)
{
    static const char *const others[] = {"CH", "CS", "HS", "NONE", "ANY"};
    size_t i;
    long v;

    if (tok_is(t, "IN"))
        return 1;
    for (i = 0; i < sizeof others / sizeof others[0]; i++)
        if (tok_is(t, others[i]))
            return -1;
    v = prefixed_number(t, "CLASS");
    if (v < 0)
        return 0;
    return v == 1 ? 1 : -1;
}

static const ztype_t *served_lookup(uint16_t type)
{
    size_t i;

    for (i = 0; i < N_SERVED; i++)
        if (served_types[i].type == type)
            return &served_types[i];
    return NULL;
}

/* The type named by T (a mnemonic ldns knows, or TYPEnnn), or -1. */
static long type_lookup(const ztok_t *t)
{
    char name[24];
    size_t i;
    long v;

    for (i = 0; i < N_SERVED; i++)
        if (tok_is(t, served_types[i].name))
            return served_types[i].type;
    v = prefixed_number(t, "TYPE");
    if (v >= 0)
        return v;
    /* ldns reads TYPE65536 and up as numbers past 16 bits */
    if (t->n >= 4 && strncasecmp(t->p, "TYPE", 4) == 0)
        return -1;
    if (t->quoted || t->n == 0 || t->n >= sizeof name)
        return -1;
    memcpy(name, t->p, t->n);
    name[t->n] = '\0';
    v = (long)ldns_get_rr_type_by_name(name);
    return v > 0 && v <= 65535 ? v : -1;
}

/* ---- tokenizer */

static int push_tok(zreader_t *r, const char *p, size_t n, unsigned line,
                    int quoted)
{
    if (r->ntoks == r->captoks) {
        size_t cap = r->captoks ? 2 * r->captoks : 64;
        ztok_t *t = realloc(r->toks, cap * sizeof *t);

        if (t == NULL)
            return -1;
        r->toks = t;
        r->captoks = cap;
    }
    r->toks[r->ntoks].p = p;
    r->toks[r->ntoks].n = n;
    r->toks[r->ntoks].line = line;
    r->toks[r->ntoks].quoted = quoted;
    r->ntoks++;
    return 0;
}

static int is_delim(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == ';' ||
           c == '(' || c == ')' || c == '"';
}

/* Read the tokens of the next logical record of S into R->toks.  Returns
 * 1 with *LINE (where the record starts) and *WS (its line starts with
 * blank space: the owner is inherited) set; 0 at the end of the text; -1
 * on error with R->err set. */
static int read_record(zreader_t *r, zsrc_t *s, unsigned *line, int *ws)
{
    const char *t = s->text;
    size_t n = s->len, i = s->pos, bytes = 0;
    int paren = 0, started = 0;
    unsigned paren_line = 0;
    int line_ws = i < n && (t[i] == ' ' || t[i] == '\t');

    r->ntoks = 0;
    for (;;) {
        size_t j;
        char c;

        if (i >= n) {
            s->pos = i;
            if (paren) {
                zerr(r, s->name, paren_line, "'(' is never closed");
                return -1;
            }
            return r->ntoks > 0;
        }
        c = t[i];
        if (c == '\n') {
            s->line++;
            i++;
            if (!paren && r->ntoks > 0) {
                s->pos = i;
                return 1;
            }
            if (!paren)
                started = 0; /* nothing but "( )": no record */
            line_ws = i < n && (t[i] == ' ' || t[i] == '\t');
            continue;
        }
        if (c == ' ' || c == '\t' || c == '\r') {
            i++;
            continue;
        }
        if (c == ';') {
            const char *nl = memchr(t + i, '\n', n - i);

            i = nl ? (size_t)(nl - t) : n;
            continue;
        }
        if (!started) {
            started = 1;
            *line = s->line;
            *ws = line_ws;
        }
        if (c == '(') {
            if (paren) {
                zerr(r, s->name, s->line, "nested '('");
                return -1;
            }
            paren = 1;
            paren_line = s->line;
            i++;
            continue;
        }
        if (c == ')') {
            if (!paren) {
                zerr(r, s->name, s->line, "')' without '('");
                return -1;
            }
            paren = 0;
            i++;
            continue;
        }
        j = i;
        if (c == '"') {
            for (j = i + 1; j < n && t[j] != '"'; j++) {
                if (t[j] == '\\' && j + 1 < n && t[j + 1] != '\n')
                    j++;
                else if (t[j] == '\n')
                    break;
            }
            if (j >= n || t[j] != '"') {
                zerr(r, s->name, s->line, "quoted string is never closed");
                return -1;
            }
            j++;
        } else {
            while (j < n && !is_delim(t[j])) {
                if (t[j] == '\\') {
                    if (j + 1 >= n || t[j + 1] == '\n' || t[j + 1] == '\r') {
                        zerr(r, s->name, s->line, "'\\' at end of line");
                        return -1;
                    }
                    j++;
                }
                j++;
            }
        }
        bytes += j - i + 1;
        if (bytes > ZF_RECORD_MAX) {
            zerr(r, s->name, *line, "record too long");
            return -1;
        }
        if (push_tok(r, t + i, j - i, s->line, c == '"') < 0) {
            zerr(r, s->name, s->line, "out of memory");
            return -1;
        }
        i = j;
    }
}

/* ---- rdata */

static int txt_append(zreader_t *r, size_t *len, const char *p, size_t n)
{
    if (*len + n + 1 > r->txtcap) {
        size_t cap = r->txtcap ? r->txtcap : 256;
        char *x;

        while (cap < *len + n + 1)
            cap *= 2;
        x = realloc(r->txt, cap);
        if (x == NULL)
            return -1;
        r->txt = x;
        r->txtcap = cap;
    }
    memcpy(r->txt + *len, p, n);
    *len += n;
    r->txt[*len] = '\0';
    return 0;
}

/* Copy the rdfs of RR, in order, into R->rdata.  Returns the length or
 * -1 if it is longer than 65535. */
static long rdfs_to_wire(zreader_t *r, const ldns_rr *rr)
{
    size_t k, len = 0;

    for (k = 0; k < ldns_rr_rd_count(rr); k++) {
        const ldns_rdf *f = ldns_rr_rdf(rr, k);
        size_t sz = ldns_rdf_size(f);

        if (sz > ZF_RDATA_MAX - len)
            return -1;
        if (sz > 0)
            memcpy(r->rdata + len, ldns_rdf_data(f), sz);
        len += sz;
    }
    return (long)len;
}

static int enough_rdfs(const ldns_rr *rr, uint16_t type)
{
    const ldns_rr_descriptor *d = ldns_rr_descript(type);

    return d == NULL || ldns_rr_rd_count(rr) >= ldns_rr_descriptor_minimum(d);
}

/* Point R->origin_rdf at the origin of S, rebuilding it when it changed. */
static int origin_rdf_sync(zreader_t *r, const zsrc_t *s)
{
    if (r->origin_rdf != NULL &&
        ldns_rdf_size(r->origin_rdf) == s->origin_len &&
        memcmp(ldns_rdf_data(r->origin_rdf), s->origin, s->origin_len) == 0)
        return 0;
    ldns_rdf_deep_free(r->origin_rdf);
    r->origin_rdf =
        ldns_rdf_new_frm_data(LDNS_RDF_TYPE_DNAME, s->origin_len, s->origin);
    return r->origin_rdf ? 0 : -1;
}

typedef ldns_status (*zf_str2rdf_fn)(ldns_rdf **, const char *);

/* The ldns parser of one-token rdf types found in the served types. */
static zf_str2rdf_fn field_parser(ldns_rdf_type ft)
{
    switch (ft) {
    case LDNS_RDF_TYPE_DNAME:
        return ldns_str2rdf_dname;
    case LDNS_RDF_TYPE_INT8:
        return ldns_str2rdf_int8;
    case LDNS_RDF_TYPE_INT16:
        return ldns_str2rdf_int16;
    case LDNS_RDF_TYPE_INT32:
        return ldns_str2rdf_int32;
    case LDNS_RDF_TYPE_A:
        return ldns_str2rdf_a;
    case LDNS_RDF_TYPE_AAAA:
        return ldns_str2rdf_aaaa;
    case LDNS_RDF_TYPE_TIME:
        return ldns_str2rdf_time;
    case LDNS_RDF_TYPE_PERIOD:
        return ldns_str2rdf_period;
    case LDNS_RDF_TYPE_ALG:
        return ldns_str2rdf_alg;
    case LDNS_RDF_TYPE_TYPE:
        return ldns_str2rdf_type;
    case LDNS_RDF_TYPE_TAG:
        return ldns_str2rdf_tag;
    case LDNS_RDF_TYPE_HEX:
        return ldns_str2rdf_hex;
    case LDNS_RDF_TYPE_B64:
        return ldns_str2rdf_b64;
    case LDNS_RDF_TYPE_NSEC3_SALT:
        return ldns_str2rdf_nsec3_salt;
    case LDNS_RDF_TYPE_B32_EXT:
        return ldns_str2rdf_b32_ext;
    case LDNS_RDF_TYPE_CERTIFICATE_USAGE:
        return ldns_str2rdf_certificate_usage;
    case LDNS_RDF_TYPE_SELECTOR:
        return ldns_str2rdf_selector;
    case LDNS_RDF_TYPE_MATCHING_TYPE:
        return ldns_str2rdf_matching_type;
    default:
        return NULL;
    }
}

/* ldns_rr_new_frm_str reports most rdata errors only as "could not parse
 * the RR's rdata"; find the first one-token field ldns rejects on its own
 * to say why.  Returns ldns's message for it, or NULL. */
static const char *rdata_diagnose(uint16_t type, const ztok_t *tk, size_t nt,
                                  char *buf, size_t size)
{
    const ldns_rr_descriptor *d = ldns_rr_descript(type);
    size_t nf = d ? ldns_rr_descriptor_maximum(d) : 0, i;
    char tok[256];

    for (i = 0; i < nt && i < nf; i++) {
        ldns_rdf_type ft = ldns_rr_descriptor_field_type(d, i);
        zf_str2rdf_fn parse = field_parser(ft);
        ldns_rdf *f = NULL;
        ldns_status st;

        if (i == nf - 1 && nt > nf)
            break; /* the last field takes the rest */
        if (parse == NULL || tk[i].quoted || tk[i].n >= sizeof tok ||
            (ft == LDNS_RDF_TYPE_DNAME && tk[i].n == 1 && tk[i].p[0] == '@'))
            continue;
        memcpy(tok, tk[i].p, tk[i].n);
        tok[tk[i].n] = '\0';
        st = parse(&f, tok);
        ldns_rdf_deep_free(f);
        if (st == LDNS_STATUS_ERR) { /* "General LDNS error" */
            char tb[48];

            snprintf(buf, size, "field %zu '%s' is malformed", i + 1,
                     tokstr(&tk[i], tb, sizeof tb));
            return buf;
        }
        if (st != LDNS_STATUS_OK)
            return ldns_get_errorstr_by_id(st);
    }
    return NULL;
}

/* What ldns lets pass that it should not: a \# field (ldns reads one
 * field in RFC 3597 form, whatever its type), a quoted token where no
 * string belongs (ldns keeps the quotes in a name), and a type in an NSEC or
 * NSEC3 bitmap that it does not know (ldns drops it).  Returns NULL or
 * what is wrong. */
static const char *rdata_precheck(uint16_t type, const ztok_t *tk, size_t nt,
                                  char *buf, size_t size)
{
    const ldns_rr_descriptor *d = ldns_rr_descript(type);
    size_t nf = d ? ldns_rr_descriptor_maximum(d) : 0, i;
    char tb[48];

    for (i = 0; i < nt && nf > 0; i++) {
        ldns_rdf_type ft =
            ldns_rr_descriptor_field_type(d, i < nf ? i : nf - 1);

        if (tok_is(&tk[i], "\\#")) {
            /* ldns would read a field in \# form, unchecked */
            snprintf(buf, size, "field %zu: \\# only as the whole rdata",
                     i + 1);
            return buf;
        }
        if (tk[i].quoted && ft != LDNS_RDF_TYPE_STR &&
            ft != LDNS_RDF_TYPE_LONG_STR) {
            snprintf(buf, size, "field %zu: unexpected quoted string", i + 1);
            return buf;
        }
        if (ft == LDNS_RDF_TYPE_NSEC && type_lookup(&tk[i]) < 0) {
            snprintf(buf, size, "unknown type '%s' in the bitmap",
                     tokstr(&tk[i], tb, sizeof tb));
            return buf;
        }
    }
    return NULL;
}

/* The text form of TYPE's rdata, tokens TK[0..NT), parsed by ldns into
 * R->rdata.  Returns the length or -1 with R->err set. */
static long rdata_text(zreader_t *r, const zsrc_t *s, unsigned line,
                       uint16_t type, const char *tname, const ztok_t *tk,
                       size_t nt)
{
    ldns_rr *rr = NULL;
    ldns_status st;
    size_t len = 0, k;
    const char *why;
    char buf[96];
    long wl;

    why = rdata_precheck(type, tk, nt, buf, sizeof buf);
    if (why != NULL) {
        zerr(r, s->name, line, "bad %s record: %s", tname, why);
        return -1;
    }
    if (origin_rdf_sync(r, s) < 0 || txt_append(r, &len, ". 0 IN ", 7) < 0 ||
        txt_append(r, &len, tname, strlen(tname)) < 0)
        goto nomem;
    for (k = 0; k < nt; k++) {
        if (len + 1 + tk[k].n > ZF_RDTEXT_MAX) {
            zerr(r, s->name, line,
                 "bad %s record: rdata text longer than %u characters", tname,
                 ZF_RDTEXT_MAX);
            return -1;
        }
        if (txt_append(r, &len, " ", 1) < 0 ||
            txt_append(r, &len, tk[k].p, tk[k].n) < 0)
            goto nomem;
    }
    st = ldns_rr_new_frm_str(&rr, r->txt, 0, r->origin_rdf, NULL);
    if (st != LDNS_STATUS_OK) {
        why = st == LDNS_STATUS_SYNTAX_RDATA_ERR
                  ? rdata_diagnose(type, tk, nt, buf, sizeof buf)
                  : NULL;

        zerr(r, s->name, line, "bad %s record: %s", tname,
             why ? why : ldns_get_errorstr_by_id(st));
        ldns_rr_free(rr);
        return -1;
    }
    if (ldns_rr_get_type(rr) != type || !enough_rdfs(rr, type)) {
        zerr(r, s->name, line, "bad %s record: missing fields", tname);
        ldns_rr_free(rr);
        return -1;
    }
    wl = rdfs_to_wire(r, rr);
    ldns_rr_free(rr);
    if (wl < 0)
        zerr(r, s->name, line, "bad %s record: rdata longer than 65535", tname);
    return wl;
nomem:
    zerr(r, s->name, line, "out of memory");
    return -1;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)tolower((unsigned char)c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* RFC 3597 rdata "\# LEN HEX..." in TK[0..NT) (TK[0] is the \#) into
 * R->rdata; for a served type, checked against the type's format.
 * Returns the length or -1 with R->err set. */
static long rdata_generic(zreader_t *r, const zsrc_t *s, unsigned line,
                          uint16_t type, const char *tname, const ztok_t *tk,
                          size_t nt)
{
    size_t want = 0, got = 0, i, k;
    int half = -1;
    char tb[48];

    if (nt < 2 || tk[1].quoted || tk[1].n == 0 || tk[1].n > 5) {
        zerr(r, s->name, line, "bad %s record: \\# needs a length", tname);
        return -1;
    }
    for (i = 0; i < tk[1].n; i++) {
        if (!isdigit((unsigned char)tk[1].p[i])) {
            zerr(r, s->name, line, "bad %s record: bad \\# length '%s'", tname,
                 tokstr(&tk[1], tb, sizeof tb));
            return -1;
        }
        want = want * 10 + (size_t)(tk[1].p[i] - '0');
    }
    if (want > ZF_RDATA_MAX) {
        zerr(r, s->name, line, "bad %s record: \\# length over 65535", tname);
        return -1;
    }
    for (k = 2; k < nt; k++) {
        for (i = 0; i < tk[k].n; i++) {
            int v = tk[k].quoted ? -1 : hexval(tk[k].p[i]);

            if (v < 0) {
                zerr(r, s->name, line, "bad %s record: bad hex '%s'", tname,
                     tokstr(&tk[k], tb, sizeof tb));
                return -1;
            }
            if (half < 0) {
                half = v;
                continue;
            }
            if (got == want) {
                zerr(r, s->name, line,
                     "bad %s record: more data than the \\# length %zu", tname,
                     want);
                return -1;
            }
            r->rdata[got++] = (uint8_t)(half << 4 | v);
            half = -1;
        }
    }
    if (half >= 0 || got != want) {
        zerr(r, s->name, line,
             "bad %s record: data does not match the \\# length %zu", tname,
             want);
        return -1;
    }
    if (served_lookup(type) != NULL && want > 0) {
        /* ldns_wire2rdf wants rdlength in front of the rdata */
        uint8_t *w = malloc(want + 2);
        ldns_rr *rr = ldns_rr_new();
        ldns_status st = LDNS_STATUS_MEM_ERR;
        size_t pos = 0;
        int ok = 0;

        if (w != NULL && rr != NULL) {
            w[0] = (uint8_t)(want >> 8);
            w[1] = (uint8_t)want;
            memcpy(w + 2, r->rdata, want);
            ldns_rr_set_type(rr, type);
            st = ldns_wire2rdf(rr, w, want + 2, &pos);
            /* the rdfs must give back exactly the bytes: no excess, no
             * compression pointers */
            ok = st == LDNS_STATUS_OK && pos == want + 2 &&
                 enough_rdfs(rr, type) && rdfs_to_wire(r, rr) == (long)want &&
                 memcmp(r->rdata, w + 2, want) == 0;
        }
        ldns_rr_free(rr);
        free(w);
        if (!ok) {
            zerr(r, s->name, line, "bad %s record: %s", tname,
                 st != LDNS_STATUS_OK ? ldns_get_errorstr_by_id(st)
                                      : "\\# data does not fit the type");
            return -1;
        }
    } else if (served_lookup(type) != NULL) {
        zerr(r, s->name, line, "bad %s record: empty rdata", tname);
        return -1;
    }
    return (long)want;
}

/* ---- records and directives */

static int read_src(zreader_t *r, zsrc_t *s);

static int load_file(const char *path, char **text, size_t *len)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    struct stat st;
    char *buf = NULL;
    size_t n = 0, cap = 0;

    if (fd < 0)
        return -1;
    if (fstat(fd, &st) < 0)
        goto fail;
    if (!S_ISREG(st.st_mode)) {
        /* no FIFOs, devices or directories: they may block or not end */
        errno = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
        goto fail;
    }
    for (;;) {
        ssize_t got;

        if (n == cap) {
            char *x;

            if (cap >= ZF_FILE_MAX) {
                errno = EFBIG;
                goto fail;
            }
            cap = cap ? 2 * cap : 65536;
            x = realloc(buf, cap);
            if (x == NULL)
                goto fail;
            buf = x;
        }
        got = read(fd, buf + n, cap - n);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            goto fail;
        }
        if (got == 0)
            break;
        n += (size_t)got;
    }
    close(fd);
    *text = buf;
    *len = n;
    return 0;
fail : {
    int e = errno;

    free(buf);
    close(fd);
    errno = e;
}
    return -1;
}

/* Copy the file name in T (quotes removed, \X and \DDD unescaped) to a
 * new string, joined to the directory of BASE unless absolute. */
static char *include_path(const ztok_t *t, const char *base)
{
    const char *p = t->p, *end = t->p + t->n, *slash;
    size_t dirlen = 0, k = 0;
    char *out;

    if (t->quoted)
        p++, end--;
    slash = base ? strrchr(base, '/') : NULL;
    if (slash != NULL && !(p < end && *p == '/'))
        dirlen = (size_t)(slash - base) + 1;
    out = malloc(dirlen + (size_t)(end - p) + 1);
    if (out == NULL)
        return NULL;
    if (dirlen > 0)
        memcpy(out, base, dirlen);
    k = dirlen;
    while (p < end) {
        int c = (unsigned char)*p++;

        if (c == '\\' && p < end) {
            if (end - p >= 3 && isdigit((unsigned char)p[0]) &&
                isdigit((unsigned char)p[1]) && isdigit((unsigned char)p[2])) {
                c = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
                p += 3;
            } else {
                c = (unsigned char)*p++;
            }
        }
        if (c < 0x20 || c == 0x7f || c > 255) {
            free(out);
            return NULL;
        }
        out[k++] = (char)c;
    }
    out[k] = '\0';
    return out;
}

static int do_include(zreader_t *r, zsrc_t *s, unsigned line)
{
    const ztok_t *tk = r->toks;
    zsrc_t child;
    char *path, *text = NULL;
    const char *msg;
    size_t len = 0;
    int rc;

    if (r->ntoks < 2 || r->ntoks > 3) {
        zerr(r, s->name, line,
             "$INCLUDE needs a file and optionally an "
             "origin");
        return -1;
    }
    if (r->depth >= ZF_INCLUDE_DEPTH) {
        zerr(r, s->name, line, "$INCLUDE nested deeper than %d",
             ZF_INCLUDE_DEPTH);
        return -1;
    }
    memset(&child, 0, sizeof child);
    child.origin_len = s->origin_len;
    memcpy(child.origin, s->origin, s->origin_len);
    if (r->ntoks == 3) {
        child.origin_len = name_parse(&tk[2], s->origin, child.origin, &msg);
        if (child.origin_len == 0) {
            zerr(r, s->name, line, "$INCLUDE origin: %s", msg);
            return -1;
        }
    }
    path = include_path(&tk[1], s->base);
    if (path == NULL || path[0] == '\0') {
        zerr(r, s->name, line, "$INCLUDE: bad file name");
        free(path);
        return -1;
    }
    if (load_file(path, &text, &len) < 0) {
        zerr(r, s->name, line, "$INCLUDE %s: %s", path, strerror(errno));
        free(path);
        return -1;
    }
    child.name = path;
    child.base = path;
    child.text = text;
    child.len = len;
    child.line = 1;
    child.owner_len = s->owner_len;
    memcpy(child.owner, s->owner, s->owner_len);
    r->depth++;
    rc = read_src(r, &child);
    r->depth--;
    free(text);
    free(path);
    return rc;
}

static int do_directive(zreader_t *r, zsrc_t *s, unsigned line)
{
    const ztok_t *tk = r->toks;
    const char *msg;
    char tb[48];
    size_t n;

    if (tok_is(&tk[0], "$INCLUDE"))
        return do_include(r, s, line);
    if (tok_is(&tk[0], "$ORIGIN")) {
        uint8_t o[DNS_NAME_MAX];

        if (r->ntoks != 2) {
            zerr(r, s->name, line, "$ORIGIN needs one name");
            return -1;
        }
        n = name_parse(&tk[1], s->origin, o, &msg);
        if (n == 0) {
            zerr(r, s->name, line, "$ORIGIN: %s '%s'", msg,
                 tokstr(&tk[1], tb, sizeof tb));
            return -1;
        }
        memcpy(s->origin, o, n);
        s->origin_len = n;
        return 0;
    }
    if (tok_is(&tk[0], "$TTL")) {
        if (r->ntoks != 2 || ttl_parse(&tk[1], &r->dollar_ttl) < 0) {
            zerr(r, s->name, line, "$TTL needs one TTL");
            return -1;
        }
        r->has_dollar_ttl = 1;
        return 0;
    }
    zerr(r, s->name, line, "unsupported directive '%s'",
         tokstr(&tk[0], tb, sizeof tb));
    return -1;
}

static int do_record(zreader_t *r, zsrc_t *s, unsigned line, int ws)
{
    const ztok_t *tk = r->toks;
    size_t nt = r->ntoks, k = 0;
    const ztype_t *served;
    uint32_t ttl = 0;
    int has_ttl = 0, has_class = 0;
    long type = -1, rdlen;
    char tb[48], tname[16];
    dns_zrr_t rr;

    if (!ws && !tk[0].quoted && tk[0].p[0] == '$')
        return do_directive(r, s, line);
    if (ws) {
        if (s->owner_len == 0) {
            zerr(r, s->name, line, "no owner name to inherit");
            return -1;
        }
    } else {
        const char *msg;
        size_t n = name_parse(&tk[0], s->origin, s->owner, &msg);

        if (n == 0) {
            s->owner_len = 0;
            zerr(r, s->name, line, "owner: %s '%s'", msg,
                 tokstr(&tk[0], tb, sizeof tb));
            return -1;
        }
        s->owner_len = n;
        k = 1;
    }
    for (; k < nt && type < 0; k++) {
        int c;

        if (!tk[k].quoted && isdigit((unsigned char)tk[k].p[0])) {
            if (has_ttl || ttl_parse(&tk[k], &ttl) < 0) {
                zerr(r, s->name, line, "bad TTL '%s'",
                     tokstr(&tk[k], tb, sizeof tb));
                return -1;
            }
            has_ttl = 1;
            continue;
        }
        c = class_lookup(&tk[k]);
        if (c < 0 || (c > 0 && has_class)) {
            zerr(r, s->name, line,
                 c < 0 ? "only class IN is supported" : "class given twice");
            return -1;
        }
        if (c > 0) {
            has_class = 1;
            continue;
        }
        type = type_lookup(&tk[k]);
        if (type < 0) {
            zerr(r, s->name, line, "unknown type '%s'",
                 tokstr(&tk[k], tb, sizeof tb));
            return -1;
        }
    }
    if (type < 0) {
        zerr(r, s->name, line, "missing type");
        return -1;
    }
    served = served_lookup((uint16_t)type);
    if (served != NULL)
        snprintf(tname, sizeof tname, "%s", served->name);
    else
        snprintf(tname, sizeof tname, "TYPE%u", (unsigned)(uint16_t)type);
    /* RFC 6895: 0, OPT and 128-255 (QTYPEs, meta types) hold no data */
    if (type == 0 || type == 41 || (type >= 128 && type <= 255)) {
        zerr(r, s->name, line, "type %s cannot appear in a zone", tname);
        return -1;
    }
    if (k < nt && tok_is(&tk[k], "\\#"))
        rdlen =
            rdata_generic(r, s, line, (uint16_t)type, tname, tk + k, nt - k);
    else if (served == NULL) {
        zerr(r, s->name, line,
             "type %s is read only in RFC 3597 form (\\# LEN HEX)", tname);
        return -1;
    } else
        rdlen = rdata_text(r, s, line, (uint16_t)type, tname, tk + k, nt - k);
    if (rdlen < 0)
        return -1;
    if (!has_ttl)
        ttl = r->has_dollar_ttl ? r->dollar_ttl
              : r->has_last_ttl ? r->last_ttl
                                : ZF_DEFAULT_TTL;
    r->last_ttl = ttl;
    r->has_last_ttl = 1;

    rr.owner = s->owner;
    rr.owner_len = s->owner_len;
    rr.type = (uint16_t)type;
    rr.rclass = 1;
    rr.ttl = ttl;
    rr.rdata = r->rdata;
    rr.rdlen = (uint16_t)rdlen;
    rr.file = s->name;
    rr.line = line;
    if (r->err != NULL && r->errlen > 0)
        r->err[0] = '\0';
    if (r->cb(r->arg, &rr, r->err, r->errlen) != 0) {
        if (r->err != NULL && r->errlen > 0 && r->err[0] == '\0')
            zerr(r, s->name, line, "record refused");
        return -1;
    }
    return 0;
}

static int read_src(zreader_t *r, zsrc_t *s)
{
    const char *nul = memchr(s->text, '\0', s->len);
    unsigned line = 0;
    int ws = 0, rc;

    if (nul != NULL) {
        const char *p;

        line = 1;
        for (p = s->text; p < nul; p++)
            line += *p == '\n';
        zerr(r, s->name, line, "NUL byte");
        return -1;
    }
    while ((rc = read_record(r, s, &line, &ws)) > 0)
        if (do_record(r, s, line, ws) < 0)
            return -1;
    return rc;
}

static int read_top(const char *name, const char *base, const char *text,
                    size_t len, const uint8_t *origin, dns_zfile_cb cb,
                    void *arg, char *err, size_t errlen)
{
    zreader_t *r = calloc(1, sizeof *r);
    zsrc_t s;
    int rc;

    if (err != NULL && errlen > 0)
        err[0] = '\0';
    if (r == NULL) {
        if (err != NULL && errlen > 0)
            snprintf(err, errlen, "%s: out of memory", name);
        return -1;
    }
    r->cb = cb;
    r->arg = arg;
    r->err = err;
    r->errlen = errlen;
    memset(&s, 0, sizeof s);
    s.name = name;
    s.base = base;
    s.text = text;
    s.len = len;
    s.line = 1;
    s.origin_len = origin ? dns_name_len(origin, DNS_NAME_MAX) : 0;
    if (s.origin_len == 0) {
        zerr(r, name, 1, "bad origin");
        rc = -1;
    } else {
        memcpy(s.origin, origin, s.origin_len);
        rc = read_src(r, &s);
    }
    free(r->toks);
    free(r->txt);
    ldns_rdf_deep_free(r->origin_rdf);
    free(r);
    return rc;
}

int dns_zfile_read(const char *path, const uint8_t *origin, dns_zfile_cb cb,
                   void *arg, char *err, size_t errlen)
{
    char *text = NULL;
    size_t len = 0;
    int rc;

    if (load_file(path, &text, &len) < 0) {
        if (err != NULL && errlen > 0)
            snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    rc = read_top(path, path, text, len, origin, cb, arg, err, errlen);
    free(text);
    return rc;
}

int dns_zfile_read_mem(const char *name, const char *text, size_t len,
                       const uint8_t *origin, dns_zfile_cb cb, void *arg,
                       char *err, size_t errlen)
{
    return read_top(name, NULL, text, len, origin, cb, arg, err, errlen);
}
