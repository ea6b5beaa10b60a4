/*
 * http_util.c - pure helpers of the HTTP module (contracts in http_util.h):
 * request-path normalisation, Range evaluation, HTTP dates, entity tags,
 * conditional requests, the MIME table and two small text helpers.
 *
 * Nothing here depends on the locale: character classes, case folding,
 * day and month names and the calendar are all done by hand.  The path
 * and MIME lookups run once per request of a static file server, so they
 * never allocate.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_util.h"

static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

int http_hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = lower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

static int is_ows(int c)
{
    return c == ' ' || c == '\t';
}

static int is_digit(int c)
{
    return c >= '0' && c <= '9';
}

/* ---- paths -------------------------------------------------------------- */

/*
 * One pass over the input, one segment at a time.  OUT always holds the
 * normalised prefix ending in '/' when a segment starts; the segment is
 * decoded straight after it, then kept, dropped (".") or used to pop the
 * previous one ("..").  A segment that does not fit is not written but
 * counted in VIRT, as is every segment after it, so that a later ".." can
 * still remove it: the result is -1 for lack of room only when the final
 * path does not fit.
 */
long http_path_normalize(const char *path, size_t len, char *out, size_t cap)
{
    size_t i = 1, o = 1, virt = 0;

    if (len == 0 || path[0] != '/' || cap < 2)
        return -1;
    out[0] = '/';
    while (i < len) {
        size_t seg = o, n = 0, ndot = 0;
        size_t lim = virt ? o : cap - 1; /* no byte is written at LIM */
        int fits = 1;

        for (; i < len; i++) {
            unsigned c = (unsigned char)path[i];

            /* bytes above '/' but DEL are copied as they are; '%', '.',
             * '/' and the control bytes are all below */
            if (c <= '/' || c == 0x7f) {
                if (c == '/')
                    break;
                if (c == '%') {
                    int h, l;

                    if (len - i < 3 || (h = http_hexval(path[i + 1])) < 0 ||
                        (l = http_hexval(path[i + 2])) < 0)
                        return -1;
                    c = (unsigned)(h << 4 | l);
                    if (c == '/')
                        return -1;
                    i += 2;
                }
                if (c < 0x20 || c == 0x7f)
                    return -1; /* NUL included, raw or decoded */
                if (c == '.')
                    ndot++;
            }
            n++;
            if (o < lim)
                out[o++] = (char)c;
            else
                fits = 0;
        }
        if (n == 0) {
            /* empty segment: "//" or the trailing '/' */
        } else if (ndot == n && n == 1) {
            o = seg;
        } else if (ndot == n && n == 2) {
            o = seg;
            if (virt > 0) {
                virt--;
            } else {
                if (seg == 1)
                    return -1; /* above the root */
                o = seg - 1;
                while (out[o - 1] != '/')
                    o--;
            }
        } else if (!fits) {
            o = seg;
            virt++;
        } else if (i < len) {
            /* a kept segment followed by '/' */
            if (o < cap - 1) {
                out[o++] = '/';
            } else {
                o = seg;
                virt++;
            }
        }
        if (i < len)
            i++; /* the '/' */
    }
    if (virt > 0)
        return -1;
    out[o] = '\0';
    return (long)o;
}

/* ---- ranges ------------------------------------------------------------- */

#define HTTP_RANGE_MAX_SPECS 16

/* Parse a run of digits at *P (before END) into *V; 0 when there is none
 * or it overflows. */
static int parse_u64(const char **p, const char *end, uint64_t *v)
{
    const char *s = *p;
    uint64_t x = 0;

    if (s == end || !is_digit(*s))
        return 0;
    for (; s < end && is_digit(*s); s++) {
        unsigned d = (unsigned)(*s - '0');

        if (x > (UINT64_MAX - d) / 10)
            return 0;
        x = x * 10 + d;
    }
    *p = s;
    *v = x;
    return 1;
}

int http_range_parse(const char *v, size_t len, uint64_t size,
                     http_range_t *out)
{
    http_range_t r[HTTP_RANGE_MAX_SPECS];
    const char *p = v, *end = v + len;
    size_t nspec = 0, n = 0, i, j;

    if (len < 6 || !http_slice_ieq((loom_slice_t){v, 5}, "bytes") ||
        v[5] != '=')
        return HTTP_RANGE_NONE;
    p += 6;
    for (;;) {
        uint64_t first, last;
        int has_first = 0, has_last = 0;

        while (p < end && is_ows(*p))
            p++;
        if (p == end)
            break;
        if (*p == ',') { /* an empty member, tolerated (RFC 9110 5.6.1) */
            p++;
            continue;
        }
        if (parse_u64(&p, end, &first))
            has_first = 1;
        else if (p < end && is_digit(*p))
            return HTTP_RANGE_NONE; /* overflow */
        if (p == end || *p != '-')
            return HTTP_RANGE_NONE;
        p++;
        if (parse_u64(&p, end, &last))
            has_last = 1;
        else if (p < end && is_digit(*p))
            return HTTP_RANGE_NONE;
        if (!has_first && !has_last)
            return HTTP_RANGE_NONE;
        if (has_first && has_last && last < first)
            return HTTP_RANGE_NONE;
        while (p < end && is_ows(*p))
            p++;
        if (p < end) {
            if (*p != ',')
                return HTTP_RANGE_NONE;
            p++;
        }
        if (++nspec > HTTP_RANGE_MAX_SPECS)
            return HTTP_RANGE_NONE;

        if (!has_first) { /* "-suffix" */
            if (last == 0 || size == 0)
                continue;
            r[n].first = last >= size ? 0 : size - last;
            r[n].last = size - 1;
        } else {
            if (first >= size)
                continue;
            r[n].first = first;
            r[n].last = has_last && last < size - 1 ? last : size - 1;
        }
        n++;
    }
    if (nspec == 0)
        return HTTP_RANGE_NONE;
    if (n == 0)
        return HTTP_RANGE_UNSATISFIABLE;

    /* insertion sort by first, then merge overlapping or adjacent runs */
    for (i = 1; i < n; i++) {
        http_range_t t = r[i];

        for (j = i; j > 0 && r[j - 1].first > t.first; j--)
            r[j] = r[j - 1];
        r[j] = t;
    }
    for (i = 1, j = 0; i < n; i++) {
        /* last <= size - 1 < UINT64_MAX: last + 1 cannot wrap */
        if (r[i].first <= r[j].last + 1) {
            if (r[i].last > r[j].last)
                r[j].last = r[i].last;
        } else {
            r[++j] = r[i];
        }
    }
    if (j != 0)
        return HTTP_RANGE_NONE;
    *out = r[0];
    return HTTP_RANGE_OK;
}

/* ---- dates -------------------------------------------------------------- */

/* The calendar is proleptic Gregorian; dates from 1970-01-01 00:00:00 to
 * 9999-12-31 23:59:59 (what a four-digit year can say) are supported. */
#define DATE_MIN_YEAR 1970
#define DATE_MAX_YEAR 9999
#define DATE_MAX_T 253402300799LL /* 9999-12-31 23:59:59 */

static const char wday_names[7][4] = {"Sun", "Mon", "Tue", "Wed",
                                      "Thu", "Fri", "Sat"};
static const char *const wday_long[7] = {"Sunday",    "Monday",   "Tuesday",
                                         "Wednesday", "Thursday", "Friday",
                                         "Saturday"};
static const char month_names[12][4] = {"Jan", "Feb", "Mar", "Apr",
                                        "May", "Jun", "Jul", "Aug",
                                        "Sep", "Oct", "Nov", "Dec"};
/* days before the first of each month in a common year */
static const unsigned short month_start[12] = {0,   31,  59,  90,  120, 151,
                                               181, 212, 243, 273, 304, 334};

static int is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int month_days(int64_t y, int m) /* m: 0..11 */
{
    static const unsigned char d[12] = {31, 28, 31, 30, 31, 30,
                                        31, 31, 30, 31, 30, 31};

    return d[m] + (m == 1 && is_leap(y));
}

/* Leap years in [1, Y]. */
static int64_t leaps_through(int64_t y)
{
    return y / 4 - y / 100 + y / 400;
}

/* Days from 1970-01-01 to the first of January of Y (Y >= 1970). */
static int64_t days_before_year(int64_t y)
{
    return 365 * (y - 1970) + leaps_through(y - 1) - leaps_through(1969);
}

static int64_t days_from_date(int64_t y, int m, int d)
{
    return days_before_year(y) + month_start[m] + (m > 1 && is_leap(y)) + d - 1;
}

static void put2(char *p, unsigned v)
{
    p[0] = (char)('0' + v / 10 % 10);
    p[1] = (char)('0' + v % 10);
}

void http_date_format(time_t t, char *out)
{
    int64_t s = (int64_t)t, days, y;
    unsigned sec;
    int m, doy;

    if (s < 0)
        s = 0;
    if (s > DATE_MAX_T)
        s = DATE_MAX_T;
    days = s / 86400;
    sec = (unsigned)(s % 86400);
    /* 146097 days per 400 years: a guess within one year, then fixed */
    y = 1970 + days * 400 / 146097;
    while (y > 1970 && days_before_year(y) > days)
        y--;
    while (days_before_year(y + 1) <= days)
        y++;
    doy = (int)(days - days_before_year(y));
    for (m = 11; m > 0; m--)
        if (month_start[m] + (m > 1 && is_leap(y)) <= doy)
            break;
    doy -= month_start[m] + (m > 1 && is_leap(y));

    memcpy(out, wday_names[(days + 4) % 7], 3); /* 1970-01-01: Thursday */
    out[3] = ',';
    out[4] = ' ';
    put2(out + 5, (unsigned)doy + 1);
    out[7] = ' ';
    memcpy(out + 8, month_names[m], 3);
    out[11] = ' ';
    put2(out + 12, (unsigned)(y / 100));
    put2(out + 14, (unsigned)(y % 100));
    out[16] = ' ';
    put2(out + 17, sec / 3600);
    out[19] = ':';
    put2(out + 20, sec / 60 % 60);
    out[22] = ':';
    put2(out + 23, sec % 60);
    memcpy(out + 25, " GMT", 5); /* NUL included */
}

/* A cursor over the date being parsed. */
typedef struct {
    const char *p, *end;
} dcur_t;

static int d_lit(dcur_t *c, const char *s)
{
    size_t n = strlen(s);

    if ((size_t)(c->end - c->p) < n || memcmp(c->p, s, n) != 0)
        return 0;
    c->p += n;
    return 1;
}

/* Exactly N digits. */
static int d_num(dcur_t *c, int n, int *v)
{
    int x = 0, k;

    if (c->end - c->p < n)
        return 0;
    for (k = 0; k < n; k++) {
        if (!is_digit(c->p[k]))
            return 0;
        x = x * 10 + (c->p[k] - '0');
    }
    c->p += n;
    *v = x;
    return 1;
}

/* A three-letter month name (case-sensitive, RFC 9110); 0..11 or -1. */
static int d_month(dcur_t *c)
{
    int m;

    if (c->end - c->p < 3)
        return -1;
    for (m = 0; m < 12; m++)
        if (memcmp(c->p, month_names[m], 3) == 0) {
            c->p += 3;
            return m;
        }
    return -1;
}

/* "HH:MM:SS" into *SEC (seconds of the day; second 60, a leap second, is
 * accepted and counts into the next minute). */
static int d_time(dcur_t *c, int64_t *sec)
{
    int h, m, s;

    if (!d_num(c, 2, &h) || !d_lit(c, ":") || !d_num(c, 2, &m) ||
        !d_lit(c, ":") || !d_num(c, 2, &s))
        return 0;
    if (h > 23 || m > 59 || s > 60)
        return 0;
    *sec = (int64_t)h * 3600 + m * 60 + s;
    return 1;
}

/* The year two-digit YY stands for: the one within 50 years of now, past
 * preferred (RFC 9110 5.6.7: "more than 50 years in the future" means the
 * past). */
static int64_t year_from_2digit(int yy)
{
    time_t now = time(NULL);
    int64_t days = (int64_t)now / 86400, cur, y;

    if (days < 0)
        days = 0;
    cur = 1970 + days * 400 / 146097;
    while (days_before_year(cur + 1) <= days)
        cur++;
    y = cur - cur % 100 + yy;
    if (y > cur + 50)
        y -= 100;
    else if (y <= cur - 50)
        y += 100;
    return y;
}

time_t http_date_parse(const char *v, size_t len)
{
    dcur_t c = {v, v + len};
    int64_t y, sec = 0, t;
    int d = 0, m = -1, k, yy = 0;
    size_t n;

    if (len < 3)
        return -1;
    /* the day name: "Sun," (IMF), "Sunday," (RFC 850) or "Sun " (asctime);
     * a weekday that does not match the date is tolerated */
    for (k = 0; k < 7; k++)
        if (memcmp(v, wday_names[k], 3) == 0)
            break;
    if (k == 7)
        return -1;
    c.p += 3;
    if (d_lit(&c, ", ")) {
        /* IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT" */
        if (!d_num(&c, 2, &d) || !d_lit(&c, " ") || (m = d_month(&c)) < 0 ||
            !d_lit(&c, " ") || !d_num(&c, 4, &yy) || !d_lit(&c, " ") ||
            !d_time(&c, &sec) || !d_lit(&c, " GMT"))
            return -1;
        y = yy;
    } else if (d_lit(&c, " ")) {
        /* asctime: "Sun Nov  6 08:49:37 1994" */
        if ((m = d_month(&c)) < 0 || !d_lit(&c, " "))
            return -1;
        if (!d_lit(&c, " ") ? !d_num(&c, 2, &d) : !d_num(&c, 1, &d))
            return -1;
        if (!d_lit(&c, " ") || !d_time(&c, &sec) || !d_lit(&c, " ") ||
            !d_num(&c, 4, &yy))
            return -1;
        y = yy;
    } else {
        /* RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT" */
        n = strlen(wday_long[k]);
        if (len < n || memcmp(v, wday_long[k], n) != 0)
            return -1;
        c.p = v + n;
        if (!d_lit(&c, ", ") || !d_num(&c, 2, &d) || !d_lit(&c, "-") ||
            (m = d_month(&c)) < 0 || !d_lit(&c, "-") || !d_num(&c, 2, &yy) ||
            !d_lit(&c, " ") || !d_time(&c, &sec) || !d_lit(&c, " GMT"))
            return -1;
        y = year_from_2digit(yy);
    }
    if (c.p != c.end)
        return -1; /* trailing bytes */
    if (y < DATE_MIN_YEAR || y > DATE_MAX_YEAR || d < 1 || d > month_days(y, m))
        return -1;
    t = days_from_date(y, m, d) * 86400 + sec;
    if (t > DATE_MAX_T)
        t = DATE_MAX_T; /* 9999-12-31 23:59:60 */
    if ((int64_t)(time_t)t != t)
        return -1; /* a 32-bit time_t */
    return (time_t)t;
}

/* ---- entity tags -------------------------------------------------------- */

static size_t put_hex(char *p, uint64_t v)
{
    char tmp[16];
    size_t n = 0, k;

    do {
        tmp[n++] = "0123456789abcdef"[v & 15];
        v >>= 4;
    } while (v);
    for (k = 0; k < n; k++)
        p[k] = tmp[n - 1 - k];
    return n;
}

size_t http_etag_make(time_t mtime, uint64_t size, char *out)
{
    size_t n = 0;

    out[n++] = '"';
    n += put_hex(out + n, (uint64_t)(int64_t)mtime);
    out[n++] = '-';
    n += put_hex(out + n, size);
    out[n++] = '"';
    out[n] = '\0';
    return n; /* at most 1 + 16 + 1 + 16 + 1 < HTTP_ETAG_MAX */
}

/* ---- conditional requests ----------------------------------------------- */

/*
 * Does the If-Match / If-None-Match list V hold a tag matching ETAG?  STRONG
 * selects the comparison: strong (both tags strong and identical) or weak
 * ("W/" ignored on both sides).  A "*" member matches (the representation
 * exists).  A malformed member never matches; the scan resumes after the
 * next comma outside quotes.
 */
static int etag_list_match(loom_slice_t v, const char *etag, int strong)
{
    const char *p = v.p, *end = v.p + v.len;
    const char *tag = NULL;
    size_t taglen = 0;
    int tag_weak = 0;

    if (etag != NULL) {
        tag = etag;
        if (tag[0] == 'W' && tag[1] == '/') {
            tag_weak = 1;
            tag += 2;
        }
        taglen = strlen(tag);
    }
    while (p < end) {
        const char *q;
        int weak = 0, ok = 0;

        while (p < end && (is_ows(*p) || *p == ','))
            p++;
        if (p == end)
            break;
        if (*p == '*') {
            q = p + 1;
            while (q < end && is_ows(*q))
                q++;
            if (q == end || *q == ',')
                return 1;
        }
        if (end - p >= 2 && p[0] == 'W' && p[1] == '/') {
            weak = 1;
            p += 2;
        }
        q = p;
        if (p < end && *p == '"') {
            for (q = p + 1; q < end && *q != '"'; q++)
                ;
            if (q < end) {
                const char *e = ++q; /* past the closing quote */

                while (e < end && is_ows(*e))
                    e++;
                if (e == end || *e == ',')
                    ok = 1;
            }
        }
        if (ok && tag != NULL && (size_t)(q - p) == taglen &&
            memcmp(p, tag, taglen) == 0 && (!strong || (!weak && !tag_weak)))
            return 1;
        /* on to the next member: past a quoted part, then to a comma */
        p = q;
        while (p < end && *p != ',') {
            if (*p == '"') {
                for (p++; p < end && *p != '"'; p++)
                    ;
                if (p == end)
                    break;
            }
            p++;
        }
    }
    return 0;
}

static loom_slice_t trim(loom_slice_t s)
{
    while (s.len && is_ows(s.p[0])) {
        s.p++;
        s.len--;
    }
    while (s.len && is_ows(s.p[s.len - 1]))
        s.len--;
    return s;
}

int http_cond_eval(const http_cond_t *c, int method_safe)
{
    time_t d;

    if (c->if_match.len) {
        if (!etag_list_match(c->if_match, c->etag, 1))
            return 412;
    } else if (c->if_unmodified_since.len) {
        loom_slice_t s = trim(c->if_unmodified_since);

        d = http_date_parse(s.p, s.len);
        if (d != -1 && d < c->mtime)
            return 412;
    }
    if (c->if_none_match.len) {
        if (etag_list_match(c->if_none_match, c->etag, 0))
            return method_safe ? 304 : 412;
    } else if (method_safe && c->if_modified_since.len) {
        loom_slice_t s = trim(c->if_modified_since);

        d = http_date_parse(s.p, s.len);
        if (d != -1 && d >= c->mtime)
            return 304;
    }
    return 0;
}

int http_cond_if_range(const http_cond_t *c)
{
    loom_slice_t s = trim(c->if_range);
    time_t d;

    if (c->if_range.len == 0)
        return 1;
    if (s.len >= 1 &&
        (s.p[0] == '"' || (s.len >= 2 && s.p[0] == 'W' && s.p[1] == '/'))) {
        /* one entity tag, strongly compared: a weak one never matches */
        return c->etag != NULL && c->etag[0] == '"' &&
               strlen(c->etag) == s.len && memcmp(c->etag, s.p, s.len) == 0;
    }
    d = http_date_parse(s.p, s.len);
    return d != -1 && d == c->mtime;
}

/* ---- MIME types ---------------------------------------------------------- */

#define MIME_EXT_MAX 32 /* longer extensions are never in the table */
#define MIME_FILE_MAX (4u << 20)

typedef struct {
    const char *ext; /* lowercase; NULL: free slot */
    const char *type;
} mime_slot_t;

struct http_mime_s {
    mime_slot_t *slots; /* open addressing, linear probing */
    size_t mask, used;
    char **strs; /* strings this table owns */
    size_t nstrs, capstrs;
};

static const char *const mime_builtin[][2] = {
    {"html", "text/html"},
    {"htm", "text/html"},
    {"css", "text/css"},
    {"js", "text/javascript"},
    {"mjs", "text/javascript"},
    {"json", "application/json"},
    {"txt", "text/plain"},
    {"xml", "application/xml"},
    {"svg", "image/svg+xml"},
    {"png", "image/png"},
    {"jpg", "image/jpeg"},
    {"jpeg", "image/jpeg"},
    {"gif", "image/gif"},
    {"webp", "image/webp"},
    {"ico", "image/vnd.microsoft.icon"},
    {"pdf", "application/pdf"},
    {"wasm", "application/wasm"},
    {"woff", "font/woff"},
    {"woff2", "font/woff2"},
    {"gz", "application/gzip"},
    {"zip", "application/zip"},
    {"tar", "application/x-tar"},
    {"mp4", "video/mp4"},
    {"webm", "video/webm"},
    {"mp3", "audio/mpeg"},
    {"ogg", "audio/ogg"},
    {"csv", "text/csv"},
    {"md", "text/markdown"},
};

/* FNV-1a over a lowercase extension. */
static size_t mime_hash(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    size_t i;

    for (i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 16777619u;
    }
    return h;
}

static mime_slot_t *mime_find(mime_slot_t *slots, size_t mask, const char *ext,
                              size_t n)
{
    size_t i = mime_hash(ext, n) & mask;

    while (slots[i].ext != NULL &&
           (strncmp(slots[i].ext, ext, n) != 0 || slots[i].ext[n] != '\0'))
        i = (i + 1) & mask;
    return &slots[i];
}

static void mime_grow(http_mime_t *m)
{
    size_t cap = (m->mask + 1) * 2, i;
    mime_slot_t *s = loom_calloc(cap, sizeof(*s));

    for (i = 0; i <= m->mask; i++)
        if (m->slots[i].ext != NULL)
            *mime_find(s, cap - 1, m->slots[i].ext, strlen(m->slots[i].ext)) =
                m->slots[i];
    free(m->slots);
    m->slots = s;
    m->mask = cap - 1;
}

/* Map lowercase EXT to TYPE (both outlive the table), replacing any
 * earlier mapping. */
static void mime_put(http_mime_t *m, const char *ext, const char *type)
{
    mime_slot_t *s;

    if ((m->used + 1) * 2 > m->mask + 1)
        mime_grow(m);
    s = mime_find(m->slots, m->mask, ext, strlen(ext));
    if (s->ext == NULL) {
        s->ext = ext;
        m->used++;
    }
    s->type = type;
}

static char *mime_own(http_mime_t *m, const char *p, size_t n)
{
    char *s = loom_strndup(p, n);

    if (m->nstrs == m->capstrs) {
        m->capstrs = m->capstrs ? 2 * m->capstrs : 64;
        m->strs = loom_realloc(m->strs, m->capstrs * sizeof(*m->strs));
    }
    m->strs[m->nstrs++] = s;
    return s;
}

static int mime_space(int c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

/* A media type as mime.types writes it: printable, one '/' inside. */
static int mime_type_ok(const char *p, size_t n)
{
    size_t i, slash = 0;

    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];

        if (c <= 0x20 || c >= 0x7f || c == ';' || c == ',' || c == '"')
            return 0;
        if (c == '/')
            slash++;
    }
    return slash == 1 && p[0] != '/' && p[n - 1] != '/';
}

static int mime_ext_ok(const char *p, size_t n)
{
    size_t i;

    if (n == 0 || n > MIME_EXT_MAX)
        return 0;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];

        if (c <= 0x20 || c >= 0x7f || c == '/' || c == '.')
            return 0;
    }
    return 1;
}

/* One "type ext ext ..." line (comment already cut off). */
static void mime_line(http_mime_t *m, const char *p, const char *end)
{
    const char *type = NULL, *owned = NULL, *tok;
    size_t typelen = 0;

    for (;;) {
        while (p < end && mime_space(*p))
            p++;
        if (p == end)
            return;
        tok = p;
        while (p < end && !mime_space(*p))
            p++;
        if (type == NULL) {
            if (!mime_type_ok(tok, (size_t)(p - tok)))
                return;
            type = tok;
            typelen = (size_t)(p - tok);
        } else if (mime_ext_ok(tok, (size_t)(p - tok))) {
            char *e = mime_own(m, tok, (size_t)(p - tok)), *k;

            if (owned == NULL)
                owned = mime_own(m, type, typelen);
            for (k = e; *k; k++)
                *k = (char)lower(*k);
            mime_put(m, e, owned);
        }
    }
}

http_mime_t *http_mime_load(const char *path)
{
    http_mime_t *m = loom_calloc(1, sizeof(*m));
    char *buf = NULL;
    size_t len = 0, i;

    m->mask = 63;
    m->slots = loom_calloc(m->mask + 1, sizeof(*m->slots));
    for (i = 0; i < LOOM_ARRAY_LEN(mime_builtin); i++)
        mime_put(m, mime_builtin[i][0], mime_builtin[i][1]);
    if (path != NULL)
        buf = loom_read_file(path, MIME_FILE_MAX, &len);
    if (buf != NULL) {
        const char *p = buf, *end = buf + len;

        while (p < end) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            const char *eol = nl ? nl : end, *hash;

            hash = memchr(p, '#', (size_t)(eol - p));
            mime_line(m, p, hash ? hash : eol);
            p = nl ? nl + 1 : end;
        }
        free(buf);
    }
    return m;
}

const char *http_mime_type(const http_mime_t *m, const char *name,
                           const char *deflt)
{
    char ext[MIME_EXT_MAX];
    const char *dot = NULL, *s;
    size_t n, i;
    mime_slot_t *slot;

    if (m == NULL || name == NULL)
        return deflt;
    for (s = name; *s; s++) {
        if (*s == '.')
            dot = s;
        else if (*s == '/')
            dot = NULL; /* a dot in a directory name is no extension */
    }
    if (dot == NULL)
        return deflt;
    n = (size_t)(s - dot - 1);
    if (n == 0 || n > sizeof(ext))
        return deflt;
    for (i = 0; i < n; i++)
        ext[i] = (char)lower(dot[1 + i]);
    slot = mime_find(m->slots, m->mask, ext, n);
    return slot->ext != NULL ? slot->type : deflt;
}

void http_mime_free(http_mime_t *m)
{
    size_t i;

    if (m == NULL)
        return;
    for (i = 0; i < m->nstrs; i++)
        free(m->strs[i]);
    free(m->strs);
    free(m->slots);
    free(m);
}

/* ---- small text helpers -------------------------------------------------- */

int http_slice_ieq(loom_slice_t s, const char *lowr)
{
    size_t i;

    for (i = 0; i < s.len; i++)
        if (lowr[i] == '\0' ||
            lower((unsigned char)s.p[i]) != (unsigned char)lowr[i])
            return 0;
    return lowr[i] == '\0';
}

/* Is the parameter list at [P, END) (";a=b;q=0") carrying a zero
 * qvalue? */
static int params_q_zero(const char *p, const char *end)
{
    while (p < end) {
        const char *name, *val;
        size_t nlen, vlen;

        /* at ';' */
        p++;
        while (p < end && is_ows(*p))
            p++;
        name = p;
        while (p < end && *p != '=' && *p != ';' && !is_ows(*p))
            p++;
        nlen = (size_t)(p - name);
        while (p < end && is_ows(*p))
            p++;
        if (p == end || *p != '=') {
            while (p < end && *p != ';')
                p++;
            continue;
        }
        p++;
        while (p < end && is_ows(*p))
            p++;
        val = p;
        if (p < end && *p == '"') {
            for (p++; p < end && *p != '"'; p++)
                if (*p == '\\' && p + 1 < end)
                    p++;
            if (p < end)
                p++;
        } else {
            while (p < end && *p != ';' && !is_ows(*p))
                p++;
        }
        vlen = (size_t)(p - val);
        while (p < end && *p != ';')
            p++;
        if (nlen == 1 && lower((unsigned char)name[0]) == 'q' && vlen >= 1 &&
            val[0] == '0') {
            /* qvalue = ( "0" [ "." 0*3DIGIT ] ) / ...: zero when every
             * digit after the point is 0 */
            size_t k = 1;

            if (vlen == 1)
                return 1;
            if (val[1] != '.' || vlen > 5)
                continue;
            for (k = 2; k < vlen && val[k] == '0'; k++)
                ;
            if (k == vlen)
                return 1;
        }
    }
    return 0;
}

int http_list_has(const char *v, size_t len, const char *token)
{
    const char *p = v, *end = v + len;
    size_t tlen = strlen(token);

    while (p < end) {
        const char *name, *pstart, *q;
        size_t nlen;

        while (p < end && (is_ows(*p) || *p == ','))
            p++;
        if (p == end)
            break;
        name = p;
        while (p < end && *p != ',' && *p != ';' && !is_ows(*p))
            p++;
        nlen = (size_t)(p - name);
        /* the rest of the member: OWS, parameters, up to a comma outside
         * quotes */
        q = p;
        while (q < end && is_ows(*q))
            q++;
        pstart = q;
        while (q < end && *q != ',') {
            if (*q == '"') {
                for (q++; q < end && *q != '"'; q++)
                    if (*q == '\\' && q + 1 < end)
                        q++;
                if (q == end)
                    break;
            }
            q++;
        }
        if (nlen == tlen && (pstart == q || *pstart == ';')) {
            size_t i;

            for (i = 0; i < tlen; i++)
                if (lower((unsigned char)name[i]) !=
                    lower((unsigned char)token[i]))
                    break;
            if (i == tlen && !params_q_zero(pstart, q))
                return 1;
        }
        p = q;
    }
    return 0;
}

size_t http_host_len(loom_slice_t a)
{
    const char *end;

    if (a.len == 0)
        return 0;
    if (a.p[0] == '[') {
        end = memchr(a.p, ']', a.len);
        return end ? (size_t)(end - a.p) + 1 : a.len;
    }
    end = memchr(a.p, ':', a.len);
    return end ? (size_t)(end - a.p) : a.len;
}
