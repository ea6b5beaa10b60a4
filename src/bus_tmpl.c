/*
 * bus_tmpl.c - what routes compute from messages: templates (action
 * parameters rendered from fields), matches (which messages a route
 * takes) and token buckets (how fast it takes them).
 *
 * Templates are parsed once, at config load, into a list of parts (a
 * literal, or a field with a chain of filters); rendering only looks
 * fields up and runs the filters.  A template never runs code: its
 * filters are the fixed table below.
 */
#include "bus_int.h"

#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- growable output ---------------------------------------------------- */

typedef struct {
    char *p;
    size_t len, cap;
} tbuf_t;

static void tb_reserve(tbuf_t *b, size_t more)
{
    if (b->len + more + 1 > b->cap) {
        b->cap = (b->len + more + 1) * 2;
        b->p = loom_realloc(b->p, b->cap);
    }
}

static void tb_add(tbuf_t *b, const char *p, size_t len)
{
    tb_reserve(b, len);
    if (len)
        memcpy(b->p + b->len, p, len);
    b->len += len;
    b->p[b->len] = '\0';
}

static void tb_byte(tbuf_t *b, char c)
{
    tb_reserve(b, 1);
    b->p[b->len++] = c;
    b->p[b->len] = '\0';
}

/* ---- filters ------------------------------------------------------------ */

/* A filter in a chain: its kind, and its argument (default's value,
 * trunc's count). */
typedef struct {
    const struct filter_def_s *def;
    char *arg;
    size_t alen, n;
} tmpl_filter_t;

/* Apply a filter to IN (LEN bytes), appending to OUT (emptied first). */
typedef void (*filter_fn)(const tmpl_filter_t *f, const char *in, size_t len,
                          tbuf_t *out);

typedef enum { ARG_NONE, ARG_COUNT, ARG_TEXT } filter_arg_t;

typedef struct filter_def_s {
    const char *name;
    filter_arg_t arg;
    filter_fn fn;
} filter_def_t;

static void f_json(const tmpl_filter_t *f, const char *in, size_t len,
                   tbuf_t *out)
{
    (void)f;
    loom_json_string(&out->p, &out->len, &out->cap, in, len);
}

static void f_url(const tmpl_filter_t *f, const char *in, size_t len,
                  tbuf_t *out)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t i;

    (void)f;
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];

        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
            (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
            c == '~') {
            tb_byte(out, (char)c);
        } else {
            char esc[3] = {'%', hex[c >> 4], hex[c & 15]};

            tb_add(out, esc, 3);
        }
    }
}

/* Bytes of the character at P (LEFT > 0 bytes): a whole valid UTF-8
 * sequence, else 1 (an invalid byte is a character of its own). */
static size_t utf8_char_len(const char *p, size_t left)
{
    unsigned char c = (unsigned char)p[0];
    size_t n = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;

    if (n > 1 && (n > left || !loom_utf8_valid(p, n)))
        n = 1;
    return n;
}

static void f_trunc(const tmpl_filter_t *f, const char *in, size_t len,
                    tbuf_t *out)
{
    size_t i = 0, chars = 0;

    while (i < len && chars < f->n) {
        i += utf8_char_len(in + i, len - i);
        chars++;
    }
    tb_add(out, in, i);
}

static void f_lower(const tmpl_filter_t *f, const char *in, size_t len,
                    tbuf_t *out)
{
    size_t i;

    (void)f;
    tb_add(out, in, len);
    for (i = 0; i < len; i++) {
        if (out->p[i] >= 'A' && out->p[i] <= 'Z')
            out->p[i] = (char)(out->p[i] + ('a' - 'A'));
    }
}

static void f_upper(const tmpl_filter_t *f, const char *in, size_t len,
                    tbuf_t *out)
{
    size_t i;

    (void)f;
    tb_add(out, in, len);
    for (i = 0; i < len; i++) {
        if (out->p[i] >= 'a' && out->p[i] <= 'z')
            out->p[i] = (char)(out->p[i] - ('a' - 'A'));
    }
}

static void f_default(const tmpl_filter_t *f, const char *in, size_t len,
                      tbuf_t *out)
{
    if (len == 0)
        tb_add(out, f->arg, f->alen);
    else
        tb_add(out, in, len);
}

static void f_line(const tmpl_filter_t *f, const char *in, size_t len,
                   tbuf_t *out)
{
    size_t i, start = 0;

    (void)f;
    tb_add(out, "", 0);
    for (i = 0; i <= len; i++) {
        unsigned char c = i < len ? (unsigned char)in[i] : 0;

        if (i == len || c < 0x20 || c == 0x7f) {
            tb_add(out, in + start, i - start);
            start = i + 1;
        }
    }
}

static const filter_def_t filters[] = {
    {"json", ARG_NONE, f_json},    {"url", ARG_NONE, f_url},
    {"trunc", ARG_COUNT, f_trunc}, {"lower", ARG_NONE, f_lower},
    {"upper", ARG_NONE, f_upper},  {"default", ARG_TEXT, f_default},
    {"line", ARG_NONE, f_line},
};

/* ---- templates ---------------------------------------------------------- */

/* A part: literal TEXT, or (FIELD) the field named TEXT through FILTERS. */
typedef struct {
    char *text;
    size_t len;
    int field;
    tmpl_filter_t *filters;
    size_t nfilters;
} tmpl_part_t;

struct bus_tmpl_s {
    tmpl_part_t *parts;
    size_t n, cap;
    int fields; /* parts that are fields */
};

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    LOOM_PRINTF(3, 4);

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static tmpl_part_t *tmpl_part_new(bus_tmpl_t *t)
{
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 4;
        t->parts = loom_realloc(t->parts, t->cap * sizeof(*t->parts));
    }
    memset(&t->parts[t->n], 0, sizeof(t->parts[0]));
    return &t->parts[t->n++];
}

/* The literal part at the end of T, made if there is none. */
static tmpl_part_t *tmpl_literal(bus_tmpl_t *t)
{
    if (t->n && !t->parts[t->n - 1].field)
        return &t->parts[t->n - 1];
    return tmpl_part_new(t);
}

static void literal_add(bus_tmpl_t *t, const char *p, size_t len)
{
    tmpl_part_t *part = tmpl_literal(t);

    part->text = loom_realloc(part->text, part->len + len + 1);
    memcpy(part->text + part->len, p, len);
    part->len += len;
    part->text[part->len] = '\0';
}

/* Parse trunc's count: decimal digits only, 1 or more. */
static int parse_count(const char *p, size_t len, size_t *out)
{
    size_t i, v = 0;

    if (len == 0)
        return LOOM_ERROR;
    for (i = 0; i < len; i++) {
        if (p[i] < '0' || p[i] > '9' || v > (SIZE_MAX - 9) / 10)
            return LOOM_ERROR;
        v = v * 10 + (size_t)(p[i] - '0');
    }
    if (v == 0)
        return LOOM_ERROR;
    *out = v;
    return LOOM_OK;
}

/* Parse one filter, S to END (a '|' or '}'), into F. */
static int filter_parse(const char *s, const char *end, tmpl_filter_t *f,
                        char *err, size_t errlen)
{
    const char *colon = memchr(s, ':', (size_t)(end - s));
    size_t nlen = (size_t)((colon ? colon : end) - s), i;
    const char *arg = colon ? colon + 1 : end;
    size_t alen = (size_t)(end - arg);

    if (nlen == 0) {
        set_err(err, errlen, "empty filter name after \"|\"");
        return LOOM_ERROR;
    }
    for (i = 0; i < LOOM_ARRAY_LEN(filters); i++) {
        if (strlen(filters[i].name) == nlen &&
            memcmp(filters[i].name, s, nlen) == 0)
            break;
    }
    if (i == LOOM_ARRAY_LEN(filters)) {
        set_err(err, errlen,
                "unknown filter \"%.*s\" (json, url, trunc:N, lower, upper, "
                "default:X, line)",
                (int)(nlen > 64 ? 64 : nlen), s);
        return LOOM_ERROR;
    }
    f->def = &filters[i];
    switch (f->def->arg) {
    case ARG_NONE:
        if (colon) {
            set_err(err, errlen, "filter \"%s\" takes no argument",
                    f->def->name);
            return LOOM_ERROR;
        }
        break;
    case ARG_COUNT:
        if (!colon || parse_count(arg, alen, &f->n) != LOOM_OK) {
            set_err(err, errlen,
                    "filter \"%s\" needs a positive number of characters "
                    "(trunc:N), not \"%.*s\"",
                    f->def->name, (int)(alen > 32 ? 32 : alen), arg);
            return LOOM_ERROR;
        }
        break;
    case ARG_TEXT:
        if (!colon) {
            set_err(err, errlen, "filter \"%s\" needs a value (%s:X)",
                    f->def->name, f->def->name);
            return LOOM_ERROR;
        }
        f->arg = loom_strndup(arg, alen);
        f->alen = alen;
        break;
    }
    return LOOM_OK;
}

/* Parse the substitution after "${" at S into a new field part of T;
 * returns the byte after its '}', or NULL with ERR. */
static const char *subst_parse(bus_tmpl_t *t, const char *s, char *err,
                               size_t errlen)
{
    size_t nlen = strcspn(s, "}|");
    const char *p = s + nlen;
    tmpl_part_t *part;

    if (*p == '\0') {
        set_err(err, errlen, "unclosed \"${\" (\"${%.*s\" has no \"}\")",
                (int)(nlen > 64 ? 64 : nlen), s);
        return NULL;
    }
    if (nlen == 0) {
        set_err(err, errlen, "empty field name in \"${\"");
        return NULL;
    }
    part = tmpl_part_new(t);
    part->field = 1;
    part->text = loom_strndup(s, nlen);
    part->len = nlen;
    t->fields++;
    while (*p == '|') {
        const char *f = p + 1, *end = f + strcspn(f, "}|");

        if (*end == '\0') {
            set_err(err, errlen, "unclosed \"${\" (\"${%.*s\" has no \"}\")",
                    (int)(nlen > 64 ? 64 : nlen), s);
            return NULL;
        }
        part->filters = loom_realloc(part->filters, (part->nfilters + 1) *
                                                        sizeof(*part->filters));
        memset(&part->filters[part->nfilters], 0, sizeof(*part->filters));
        part->nfilters++;
        if (filter_parse(f, end, &part->filters[part->nfilters - 1], err,
                         errlen) != LOOM_OK)
            return NULL;
        p = end;
    }
    return p + 1; /* past the '}' */
}

bus_tmpl_t *bus_tmpl_compile(const char *text, char *err, size_t errlen)
{
    bus_tmpl_t *t = loom_calloc(1, sizeof(*t));
    const char *p = text;

    while (*p) {
        const char *dollar = strchr(p, '$');

        if (dollar == NULL) {
            literal_add(t, p, strlen(p));
            break;
        }
        if (dollar > p)
            literal_add(t, p, (size_t)(dollar - p));
        if (dollar[1] == '{') {
            p = subst_parse(t, dollar + 2, err, errlen);
            if (p == NULL) {
                bus_tmpl_free(t);
                return NULL;
            }
        } else {
            /* "$$" is one '$'; a '$' before anything else is itself */
            literal_add(t, "$", 1);
            p = dollar + (dollar[1] == '$' ? 2 : 1);
        }
    }
    return t;
}

char *bus_tmpl_render(const bus_tmpl_t *t, const loom_msg_t *m, size_t *len)
{
    tbuf_t out = {NULL, 0, 0}, scratch[2] = {{NULL, 0, 0}, {NULL, 0, 0}};
    size_t i, k;

    tb_add(&out, "", 0);
    for (i = 0; i < t->n; i++) {
        const tmpl_part_t *part = &t->parts[i];
        const loom_field_t *f;
        const char *v = "";
        size_t vlen = 0;

        if (!part->field) {
            tb_add(&out, part->text, part->len);
            continue;
        }
        f = m ? loom_msg_get(m, part->text, part->len) : NULL;
        if (f) {
            v = f->value.p;
            vlen = f->value.len;
        }
        /* each filter reads the last one's output and writes the other
         * scratch buffer */
        for (k = 0; k < part->nfilters; k++) {
            tbuf_t *to = &scratch[k & 1];

            to->len = 0;
            tb_add(to, "", 0);
            part->filters[k].def->fn(&part->filters[k], v, vlen, to);
            v = to->p;
            vlen = to->len;
        }
        tb_add(&out, v, vlen);
    }
    free(scratch[0].p);
    free(scratch[1].p);
    if (len)
        *len = out.len;
    return out.p;
}

int bus_tmpl_constant(const bus_tmpl_t *t)
{
    return t->fields == 0;
}

void bus_tmpl_free(bus_tmpl_t *t)
{
    size_t i, k;

    if (t == NULL)
        return;
    for (i = 0; i < t->n; i++) {
        for (k = 0; k < t->parts[i].nfilters; k++)
            free(t->parts[i].filters[k].arg);
        free(t->parts[i].filters);
        free(t->parts[i].text);
    }
    free(t->parts);
    free(t);
}

/* ---- matches ------------------------------------------------------------ */

typedef enum {
    MT_EXISTS,
    MT_MISSING,
    MT_EQ,
    MT_NE,
    MT_RE,
    MT_NRE,
    MT_LT,
    MT_LE,
    MT_GT,
    MT_GE
} match_op_t;

struct bus_match_s {
    match_op_t op;
    char *name, *value;
    size_t nlen, vlen;
    double num;
    regex_t re;
    int has_re;
};

/* The operators, two-byte ones before their one-byte prefixes. */
static const struct {
    const char *text;
    match_op_t op;
} match_ops[] = {
    {"!~", MT_NRE}, {"~", MT_RE}, {"!=", MT_NE}, {"<=", MT_LE},
    {">=", MT_GE},  {"=", MT_EQ}, {"<", MT_LT},  {">", MT_GT},
};

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' ||
           c == '\v';
}

/* Parse P (LEN bytes, no NUL inside: checked by the caller through
 * strlen) as a number with optional surrounding spaces. */
static int parse_number(const char *p, size_t len, double *out)
{
    char *end;
    double v;

    while (len && is_space(*p))
        p++, len--;
    while (len && is_space(p[len - 1]))
        len--;
    if (len == 0)
        return LOOM_ERROR;
    v = strtod(p, &end);
    if (end != p + len || isnan(v))
        return LOOM_ERROR;
    *out = v;
    return LOOM_OK;
}

/* Bounds on a regular expression (see re_check). */
#define RE_MAX_NODES 20000
#define RE_MAX_DEPTH 32

/* The end of the bracket expression opening at P ('['): the byte after
 * its ']', or the string's end (regcomp reports that one). */
static const char *re_bracket_end(const char *p)
{
    p++;
    if (*p == '^')
        p++;
    if (*p == ']')
        p++; /* a leading ']' is a member */
    while (*p && *p != ']') {
        if (*p == '[' && (p[1] == ':' || p[1] == '.' || p[1] == '=')) {
            char close = p[1];

            p += 2;
            while (*p && !(p[0] == close && p[1] == ']'))
                p++;
            if (*p)
                p += 2;
        } else {
            p++;
        }
    }
    return *p ? p + 1 : p;
}

/* How many copies of its atom an interval at P ('{') makes, with *P moved
 * past it; 0 (P kept) when it is no interval (regcomp judges it). */
static double re_interval(const char **p)
{
    const char *s = *p + 1;
    double lo = 0, hi = -1;

    if (*s < '0' || *s > '9')
        return 0;
    while (*s >= '0' && *s <= '9' && lo < 1e6)
        lo = lo * 10 + (*s++ - '0');
    if (*s == ',') {
        s++;
        if (*s >= '0' && *s <= '9') {
            hi = 0;
            while (*s >= '0' && *s <= '9' && hi < 1e6)
                hi = hi * 10 + (*s++ - '0');
        }
    } else {
        hi = lo;
    }
    if (*s != '}')
        return 0;
    *p = s + 1;
    hi = hi < 0 ? lo + 1 : hi;
    return hi < 1 ? 1 : hi;
}

/* Refuse, with a message in ERR, what regcomp would take but should not:
 * back-references (not POSIX ERE; they make matching exponential);
 * expressions that grow too big when compiled (regcomp copies a repeated
 * atom once per repetition, so "a++++..." or nested intervals take memory
 * exponential in their length; the count is an estimate by the same rule,
 * summed over the sequence at each group depth); and a repetition (*, +,
 * an interval) of something that can match the empty string ("a**",
 * "(a*)+", "(x|)*": POSIX leaves adjacent repetitions undefined, and
 * glibc's compile time grows exponentially with such loops: "$" and 16
 * "(a*)+" take a third of a second, "$a*********+*********" a minute). */
static int re_check(const char *re, char *err, size_t errlen)
{
    double seq[RE_MAX_DEPTH + 1], last = 0, k;
    /* can the current alternative / an earlier one of the group match
     * nothing; can the last atom; was the alternative before it */
    int altnull[RE_MAX_DEPTH + 1], grpnull[RE_MAX_DEPTH + 1];
    int lastnull = 0, before = 1, top, depth = 0, loops;
    const char *p = re;

    seq[0] = 0;
    altnull[0] = 1;
    grpnull[0] = 0;
    while (*p) {
        top = altnull[depth];
        switch (*p) {
        case '\\':
            if (p[1] >= '1' && p[1] <= '9') {
                set_err(err, errlen,
                        "back-reference \"\\%c\" in regular expression "
                        "\"%.64s\" (not supported)",
                        p[1], re);
                return LOOM_ERROR;
            }
            /* glibc's zero-width escapes match nothing */
            lastnull = p[1] && strchr("bB<>`'", p[1]) != NULL;
            p += p[1] ? 2 : 1;
            last = 1;
            break;
        case '[':
            p = re_bracket_end(p);
            last = 1;
            lastnull = 0;
            break;
        case '(':
            if (depth == RE_MAX_DEPTH) {
                set_err(err, errlen,
                        "regular expression \"%.64s\" nests groups deeper "
                        "than %d",
                        re, RE_MAX_DEPTH);
                return LOOM_ERROR;
            }
            depth++;
            seq[depth] = 0;
            altnull[depth] = 1;
            grpnull[depth] = 0;
            p++;
            last = 0;
            continue; /* the group's own count starts empty */
        case '|':
            grpnull[depth] |= altnull[depth];
            altnull[depth] = 1;
            p++;
            last = 1;
            lastnull = 1;
            seq[depth] += 1;
            continue;
        case ')':
            last = 1;
            lastnull = 0;
            if (depth > 0) {
                lastnull = grpnull[depth] | altnull[depth];
                last += seq[depth--];
                top = altnull[depth];
            }
            p++;
            break;
        case '*':
        case '?':
        case '+':
        case '{':
            if (*p == '*' || *p == '?') {
                k = 1; /* one node more, no copy */
                loops = *p == '*';
                p++;
            } else if (*p == '+') {
                k = 2; /* "a+" is "aa*" */
                loops = 1;
                p++;
            } else {
                const char *at = p;

                if ((k = re_interval(&p)) == 0) {
                    p++; /* a '{' that starts no interval is itself */
                    last = 1;
                    lastnull = 0;
                    break;
                }
                loops = k > 1;
                if (at[1] == '0')
                    lastnull = 1; /* {0,N} may match nothing */
            }
            if (loops && lastnull)
                goto empty;
            if (p[-1] == '*' || p[-1] == '?')
                lastnull = 1;
            seq[depth] += last * (k - 1) + 1;
            last = last * k + 1;
            if (seq[depth] > RE_MAX_NODES)
                goto big;
            /* the repeated atom's nullability changed: redo the sequence's */
            altnull[depth] = before & lastnull;
            continue;
        case '^':
        case '$':
            p++;
            last = 1;
            lastnull = 1;
            break;
        default:
            p++;
            last = 1;
            lastnull = 0;
            break;
        }
        seq[depth] += last;
        if (seq[depth] > RE_MAX_NODES)
            goto big;
        before = top; /* the alternative before this atom */
        altnull[depth] = before & lastnull;
    }
    return LOOM_OK;
empty:
    set_err(err, errlen,
            "regular expression \"%.64s\" repeats something that can match "
            "the empty string (like \"a**\" or \"(a*)+\")",
            re);
    return LOOM_ERROR;
big:
    set_err(err, errlen,
            "regular expression \"%.64s\" is too big once its repetitions "
            "are expanded (more than %d parts)",
            re, RE_MAX_NODES);
    return LOOM_ERROR;
}

bus_match_t *bus_match_compile(const char *text, char *err, size_t errlen)
{
    bus_match_t *mt = loom_calloc(1, sizeof(*mt));
    const char *p = text, *name, *v;
    size_t i, nlen, vlen;
    int neg = 0;

    while (is_space(*p))
        p++;
    if (*p == '!') {
        neg = 1;
        p++;
    }
    name = p;
    nlen = strcspn(p, " \t\r\n\f\v=!~<>");
    p += nlen;
    if (nlen == 0) {
        if (*text)
            set_err(err, errlen, "no field name in match \"%.64s\"", text);
        else
            set_err(err, errlen, "empty match");
        goto fail;
    }
    mt->name = loom_strndup(name, nlen);
    mt->nlen = nlen;
    while (is_space(*p))
        p++;
    if (*p == '\0') {
        mt->op = neg ? MT_MISSING : MT_EXISTS;
        return mt;
    }
    if (neg) {
        set_err(err, errlen,
                "\"!%s\" (field missing) takes no operator or value", mt->name);
        goto fail;
    }
    for (i = 0; i < LOOM_ARRAY_LEN(match_ops); i++) {
        size_t olen = strlen(match_ops[i].text);

        if (strncmp(p, match_ops[i].text, olen) == 0) {
            mt->op = match_ops[i].op;
            p += olen;
            break;
        }
    }
    if (i == LOOM_ARRAY_LEN(match_ops)) {
        set_err(err, errlen,
                "expected =, !=, ~, !~, <, <=, > or >= after \"%s\", "
                "not \"%.32s\"",
                mt->name, p);
        goto fail;
    }
    while (is_space(*p))
        p++;
    v = p;
    vlen = strlen(v);
    mt->value = loom_strndup(v, vlen);
    mt->vlen = vlen;
    switch (mt->op) {
    case MT_RE:
    case MT_NRE: {
        int rc;

        if (vlen == 0) {
            set_err(err, errlen, "empty regular expression after \"%s %s\"",
                    mt->name, mt->op == MT_RE ? "~" : "!~");
            goto fail;
        }
        if (re_check(mt->value, err, errlen) != LOOM_OK)
            goto fail;
        rc = regcomp(&mt->re, mt->value, REG_EXTENDED | REG_NOSUB);
        if (rc != 0) {
            char why[128];

            regerror(rc, &mt->re, why, sizeof(why));
            set_err(err, errlen, "bad regular expression \"%.64s\": %s",
                    mt->value, why);
            goto fail;
        }
        mt->has_re = 1;
        break;
    }
    case MT_LT:
    case MT_LE:
    case MT_GT:
    case MT_GE:
        if (parse_number(v, vlen, &mt->num) != LOOM_OK) {
            set_err(err, errlen, "\"%.64s\" is not a number (after \"%s\")", v,
                    mt->name);
            goto fail;
        }
        break;
    default:
        break;
    }
    return mt;
fail:
    bus_match_free(mt);
    return NULL;
}

/* Does the regular expression of MT find a match in V (LEN bytes)? */
static int match_re(const bus_match_t *mt, const char *v, size_t len)
{
#ifdef REG_STARTEND
    regmatch_t range[1];

    /* the whole value, NUL bytes in it too */
    range[0].rm_so = 0;
    range[0].rm_eo = (regoff_t)len;
    return regexec(&mt->re, v, 1, range, REG_STARTEND) == 0;
#else
    (void)len;
    return regexec(&mt->re, v, 0, NULL, 0) == 0;
#endif
}

int bus_match_test(const bus_match_t *mt, const loom_msg_t *m)
{
    const loom_field_t *f = loom_msg_get(m, mt->name, mt->nlen);
    double x;

    switch (mt->op) {
    case MT_EXISTS:
        return f != NULL;
    case MT_MISSING:
        return f == NULL;
    case MT_EQ:
        return f && f->value.len == mt->vlen &&
               memcmp(f->value.p, mt->value, mt->vlen) == 0;
    case MT_NE:
        return !(f && f->value.len == mt->vlen &&
                 memcmp(f->value.p, mt->value, mt->vlen) == 0);
    case MT_RE:
        return f && match_re(mt, f->value.p, f->value.len);
    case MT_NRE:
        return !(f && match_re(mt, f->value.p, f->value.len));
    default:
        break;
    }
    /* the numeric compares: a NUL inside the value makes it no number */
    if (f == NULL || strlen(f->value.p) != f->value.len ||
        parse_number(f->value.p, f->value.len, &x) != LOOM_OK)
        return 0;
    switch (mt->op) {
    case MT_LT:
        return x < mt->num;
    case MT_LE:
        return x <= mt->num;
    case MT_GT:
        return x > mt->num;
    default:
        return x >= mt->num;
    }
}

void bus_match_free(bus_match_t *mt)
{
    if (mt == NULL)
        return;
    if (mt->has_re)
        regfree(&mt->re);
    free(mt->name);
    free(mt->value);
    free(mt);
}

/* ---- token buckets ------------------------------------------------------ */

/* Bounds that keep the arithmetic well inside a double's exact range. */
#define RATE_MAX_COUNT 1000000000ULL
#define RATE_MAX_PERIOD 1000000ULL
/* A bucket this close to a whole token has it (the refill's rounding). */
#define BUCKET_EPS 1e-9

/* Parse decimal digits at *P (at least one, at most MAX). */
static int parse_u64(const char **p, uint64_t max, uint64_t *out)
{
    const char *s = *p;
    uint64_t v = 0;

    if (*s < '0' || *s > '9')
        return LOOM_ERROR;
    while (*s >= '0' && *s <= '9') {
        v = v * 10 + (uint64_t)(*s - '0');
        if (v > max)
            return LOOM_ERROR;
        s++;
    }
    *p = s;
    *out = v;
    return LOOM_OK;
}

int bus_rate_parse(const char *s, uint64_t *count, uint64_t *period_ms)
{
    static const struct {
        char unit;
        uint64_t ms;
    } units[] = {{'s', 1000}, {'m', 60000}, {'h', 3600000}};
    uint64_t n, t = 1;
    size_t i;

    if (parse_u64(&s, RATE_MAX_COUNT, &n) != LOOM_OK || n == 0 || *s++ != '/')
        return LOOM_ERROR;
    if (*s >= '0' && *s <= '9' &&
        (parse_u64(&s, RATE_MAX_PERIOD, &t) != LOOM_OK || t == 0))
        return LOOM_ERROR;
    for (i = 0; i < LOOM_ARRAY_LEN(units); i++) {
        if (s[0] == units[i].unit && s[1] == '\0') {
            *count = n;
            *period_ms = t * units[i].ms;
            return LOOM_OK;
        }
    }
    return LOOM_ERROR;
}

void bus_bucket_init(bus_bucket_t *b, uint64_t count, uint64_t period_ms,
                     unsigned burst, uint64_t now)
{
    if (count == 0)
        count = 1;
    if (period_ms == 0)
        period_ms = 1;
    b->per_ms = (double)count / (double)period_ms;
    b->burst = burst ? (double)burst : (double)count;
    b->tokens = b->burst;
    b->last = now;
}

/* The tokens B holds at NOW (never more than the burst). */
static double bucket_level(const bus_bucket_t *b, uint64_t now)
{
    double t = b->tokens;

    if (now > b->last)
        t += (double)(now - b->last) * b->per_ms;
    return t > b->burst ? b->burst : t;
}

int bus_bucket_take(bus_bucket_t *b, uint64_t now)
{
    b->tokens = bucket_level(b, now);
    if (now > b->last)
        b->last = now; /* a clock that went back refills nothing */
    if (b->tokens < 1.0 - BUCKET_EPS)
        return 0;
    b->tokens -= 1.0;
    if (b->tokens < 0)
        b->tokens = 0;
    return 1;
}

uint64_t bus_bucket_wait(const bus_bucket_t *b, uint64_t now)
{
    double need, ms;
    uint64_t w;

    need = 1.0 - bucket_level(b, now);
    if (need <= BUCKET_EPS)
        return 0;
    if (now < b->last) /* a clock that went back: refills start at last */
        return b->last - now + bus_bucket_wait(b, b->last);
    /* the first whole millisecond at which take() finds a token, with
     * take()'s own arithmetic (so that rounding cannot part the two) */
    ms = need / b->per_ms;
    w = (uint64_t)ms;
    while (bucket_level(b, now + w) < 1.0 - BUCKET_EPS)
        w++;
    while (w > 1 && bucket_level(b, now + w - 1) >= 1.0 - BUCKET_EPS)
        w--;
    return w ? w : 1;
}
