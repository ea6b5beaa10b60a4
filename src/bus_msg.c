/*
 * bus_msg.c - bus messages (loom_bus.h): built field by field into one
 * growing arena, frozen when published (the field table then points into
 * the arena, which never moves again), shared by reference count.
 */
#include "bus_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A field while the message is built: offsets, since the arena moves. */
typedef struct {
    size_t name, nlen, value, vlen;
} msg_off_t;

loom_msg_t *loom_msg_new(const char *topic)
{
    loom_msg_t *m = loom_calloc(1, sizeof(*m));

    m->refs = 1;
    m->topic = loom_strdup(topic ? topic : "");
    m->module = m->instance = "";
    return m;
}

/* Copy P (LEN bytes) and a NUL into the arena; returns its offset. */
static size_t arena_put(loom_msg_t *m, const char *p, size_t len)
{
    size_t at = m->alen;

    loom_append(&m->arena, &m->alen, &m->acap, p, len, 0);
    m->alen++; /* the NUL is the value's */
    return at;
}

void loom_msg_add(loom_msg_t *m, const char *name, size_t nlen,
                  const char *value, size_t vlen)
{
    msg_off_t *o;

    if (m->published)
        return;
    if (m->nf == m->fcap) {
        m->fcap = m->fcap ? m->fcap * 2 : 8;
        m->offs = loom_realloc(m->offs, m->fcap * sizeof(msg_off_t));
    }
    o = (msg_off_t *)m->offs + m->nf++;
    o->name = arena_put(m, name, nlen);
    o->nlen = nlen;
    o->value = arena_put(m, value ? value : "", value ? vlen : 0);
    o->vlen = value ? vlen : 0;
}

void loom_msg_addf(loom_msg_t *m, const char *name, const char *fmt, ...)
{
    char small[256], *p = small;
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof(small)) {
        p = loom_malloc((size_t)n + 1);
        va_start(ap, fmt);
        vsnprintf(p, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    loom_msg_add(m, name, strlen(name), p, (size_t)n);
    if (p != small)
        free(p);
}

void loom_msg_set_body(loom_msg_t *m, const void *p, size_t len)
{
    if (m->published)
        return;
    free(m->body);
    m->body = loom_malloc(len + 1);
    if (len)
        memcpy(m->body, p, len);
    m->body[len] = '\0';
    m->blen = len;
}

void loom_msg_inherit(loom_msg_t *m, const loom_msg_t *cause, uint32_t route)
{
    unsigned i;

    if (m->published)
        return;
    m->hops = 0;
    for (i = 0; i < cause->hops && m->hops < LOOM_BUS_MAX_HOPS; i++)
        m->trail[m->hops++] = cause->trail[i];
    if (m->hops < LOOM_BUS_MAX_HOPS)
        m->trail[m->hops++] = route;
    else
        m->over = 1;
    if (cause->over)
        m->over = 1;
}

int loom_msg_passed(const loom_msg_t *m, uint32_t route)
{
    unsigned i;

    for (i = 0; i < m->hops; i++) {
        if (m->trail[i] == route)
            return 1;
    }
    return 0;
}

loom_msg_t *loom_msg_ref(loom_msg_t *m)
{
    m->refs++;
    return m;
}

void loom_msg_unref(loom_msg_t *m)
{
    if (m == NULL || --m->refs > 0)
        return;
    free(m->topic);
    free(m->arena);
    free(m->offs);
    free(m->fields);
    free(m->body);
    free(m);
}

void loom_msg_freeze(loom_msg_t *m, const char *module, const char *instance,
                     uint64_t id, uint64_t time_ms)
{
    size_t i;
    loom_field_t *f;

    m->published = 1;
    m->module = module;
    m->instance = instance;
    m->id = id;
    m->time_ms = time_ms;
    m->fields = loom_calloc(m->nf ? m->nf : 1, sizeof(loom_field_t));
    for (i = 0; i < m->nf; i++) {
        const msg_off_t *o = (const msg_off_t *)m->offs + i;

        m->fields[i].name.p = m->arena + o->name;
        m->fields[i].name.len = o->nlen;
        m->fields[i].value.p = m->arena + o->value;
        m->fields[i].value.len = o->vlen;
    }
    if (m->body == NULL) {
        m->body = loom_malloc(1);
        m->body[0] = '\0';
    }
    snprintf(m->idbuf, sizeof(m->idbuf), "%llu", (unsigned long long)id);
    snprintf(m->timebuf, sizeof(m->timebuf), "%llu",
             (unsigned long long)time_ms);
    /* the module and instance strings belong to the instance, which may
     * go while the message lives: keep copies in the arena's stead */
    snprintf(m->origin, sizeof(m->origin), "%s", module);
    m->module = m->origin;
    m->instance = m->origin + strlen(m->origin) + 1;
    if ((size_t)(m->instance - m->origin) < sizeof(m->origin))
        snprintf((char *)m->instance,
                 sizeof(m->origin) - (size_t)(m->instance - m->origin), "%s",
                 instance);
    else
        m->instance = "";
    f = m->pseudo;
#define PSEUDO(n, s, l)                                                        \
    do {                                                                       \
        f->name.p = n;                                                         \
        f->name.len = sizeof(n) - 1;                                           \
        f->value.p = (s);                                                      \
        f->value.len = (l);                                                    \
        f++;                                                                   \
    } while (0)
    PSEUDO("@topic", m->topic, strlen(m->topic));
    PSEUDO("@module", m->module, strlen(m->module));
    PSEUDO("@instance", m->instance, strlen(m->instance));
    PSEUDO("@id", m->idbuf, strlen(m->idbuf));
    PSEUDO("@time", m->timebuf, strlen(m->timebuf));
    PSEUDO("@body", m->body, m->blen);
#undef PSEUDO
}

const char *loom_msg_topic(const loom_msg_t *m)
{
    return m->topic;
}

const char *loom_msg_module(const loom_msg_t *m)
{
    return m->module;
}

const char *loom_msg_instance(const loom_msg_t *m)
{
    return m->instance;
}

uint64_t loom_msg_id(const loom_msg_t *m)
{
    return m->id;
}

uint64_t loom_msg_time_ms(const loom_msg_t *m)
{
    return m->time_ms;
}

loom_slice_t loom_msg_body(const loom_msg_t *m)
{
    loom_slice_t s = {m->body ? m->body : "", m->blen};

    return s;
}

size_t loom_msg_nfields(const loom_msg_t *m)
{
    return m->nf;
}

const loom_field_t *loom_msg_field(const loom_msg_t *m, size_t i)
{
    return m->published && i < m->nf ? &m->fields[i] : NULL;
}

const loom_field_t *loom_msg_get(const loom_msg_t *m, const char *name,
                                 size_t nlen)
{
    size_t i;

    if (!m->published)
        return NULL;
    if (nlen && name[0] == '@') {
        for (i = 0; i < LOOM_ARRAY_LEN(m->pseudo); i++) {
            if (m->pseudo[i].name.len == nlen &&
                memcmp(m->pseudo[i].name.p, name, nlen) == 0)
                return &m->pseudo[i];
        }
    }
    for (i = 0; i < m->nf; i++) {
        if (m->fields[i].name.len == nlen &&
            memcmp(m->fields[i].name.p, name, nlen) == 0)
            return &m->fields[i];
    }
    return NULL;
}

size_t loom_msg_hops(const loom_msg_t *m)
{
    return m->hops;
}

/* ---- JSON ------------------------------------------------------------------
 */

typedef struct {
    char *p;
    size_t len, cap;
} jbuf_t;

static void jb_add(jbuf_t *b, const char *p, size_t len)
{
    loom_append(&b->p, &b->len, &b->cap, p, len, 0);
}

/* Length of the valid UTF-8 sequence at P (LEFT bytes), or 0. */
static size_t utf8_seq(const unsigned char *p, size_t left)
{
    size_t n, i;
    uint32_t cp;

    if (p[0] < 0x80)
        return 1;
    if (p[0] >= 0xc2 && p[0] <= 0xdf)
        n = 2, cp = p[0] & 0x1f;
    else if (p[0] >= 0xe0 && p[0] <= 0xef)
        n = 3, cp = p[0] & 0x0f;
    else if (p[0] >= 0xf0 && p[0] <= 0xf4)
        n = 4, cp = p[0] & 0x07;
    else
        return 0;
    if (left < n)
        return 0;
    for (i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
        return 0;
    return n;
}

int loom_utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, n;

    while (i < len) {
        n = utf8_seq(p + i, len - i);
        if (n == 0)
            return 0;
        i += n;
    }
    return 1;
}

void loom_json_string(char **buf, size_t *len, size_t *cap, const char *s,
                      size_t n)
{
    jbuf_t b = {*buf, *len, *cap};
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, k;
    char esc[8];

    jb_add(&b, "\"", 1);
    while (i < n) {
        unsigned char c = p[i];

        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            jb_add(&b, esc, 2);
            i++;
        } else if (c < 0x20 || c == 0x7f) {
            static const char hex[] = "0123456789abcdef";
            const char *shortesc = c == '\n'   ? "\\n"
                                   : c == '\r' ? "\\r"
                                   : c == '\t' ? "\\t"
                                               : NULL;

            if (shortesc) {
                jb_add(&b, shortesc, 2);
            } else {
                memcpy(esc, "\\u00", 4);
                esc[4] = hex[c >> 4];
                esc[5] = hex[c & 15];
                jb_add(&b, esc, 6);
            }
            i++;
        } else if (c < 0x80) {
            jb_add(&b, s + i, 1);
            i++;
        } else if ((k = utf8_seq(p + i, n - i)) != 0) {
            jb_add(&b, s + i, k);
            i += k;
        } else {
            jb_add(&b, "\\ufffd", 6); /* not UTF-8: the replacement */
            i++;
        }
    }
    jb_add(&b, "\"", 1);
    *buf = b.p;
    *len = b.len;
    *cap = b.cap;
}

static void jb_base64(jbuf_t *b, const unsigned char *p, size_t n)
{
    static const char tab[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t i;
    char q[4];

    for (i = 0; i + 2 < n; i += 3) {
        q[0] = tab[p[i] >> 2];
        q[1] = tab[((p[i] & 3) << 4) | (p[i + 1] >> 4)];
        q[2] = tab[((p[i + 1] & 15) << 2) | (p[i + 2] >> 6)];
        q[3] = tab[p[i + 2] & 63];
        jb_add(b, q, 4);
    }
    if (n - i == 1) {
        q[0] = tab[p[i] >> 2];
        q[1] = tab[(p[i] & 3) << 4];
        q[2] = q[3] = '=';
        jb_add(b, q, 4);
    } else if (n - i == 2) {
        q[0] = tab[p[i] >> 2];
        q[1] = tab[((p[i] & 3) << 4) | (p[i + 1] >> 4)];
        q[2] = tab[(p[i + 1] & 15) << 2];
        q[3] = '=';
        jb_add(b, q, 4);
    }
}

static void jb_str(jbuf_t *b, const char *s, size_t n)
{
    loom_json_string(&b->p, &b->len, &b->cap, s, n);
}

char *loom_msg_json(const loom_msg_t *m, size_t *len)
{
    jbuf_t b = {NULL, 0, 0};
    char num[64];
    size_t i;
    int n;

    n = snprintf(num, sizeof(num), "{\"id\":%llu,\"time\":%llu,\"topic\":",
                 (unsigned long long)m->id, (unsigned long long)m->time_ms);
    jb_add(&b, num, (size_t)n);
    jb_str(&b, m->topic, strlen(m->topic));
    jb_add(&b, ",\"module\":", 10);
    jb_str(&b, m->module, strlen(m->module));
    jb_add(&b, ",\"instance\":", 12);
    jb_str(&b, m->instance, strlen(m->instance));
    jb_add(&b, ",\"fields\":{", 11);
    for (i = 0; i < m->nf; i++) {
        const msg_off_t *o = (const msg_off_t *)m->offs + i;

        if (i)
            jb_add(&b, ",", 1);
        jb_str(&b, m->arena + o->name, o->nlen);
        jb_add(&b, ":", 1);
        jb_str(&b, m->arena + o->value, o->vlen);
    }
    jb_add(&b, "}", 1);
    if (m->blen && loom_utf8_valid(m->body, m->blen)) {
        jb_add(&b, ",\"body\":", 8);
        jb_str(&b, m->body, m->blen);
    } else if (m->blen) {
        jb_add(&b, ",\"body_base64\":\"", 16);
        jb_base64(&b, (const unsigned char *)m->body, m->blen);
        jb_add(&b, "\"", 1);
    }
    jb_add(&b, "}", 1);
    *len = b.len;
    return b.p;
}
