/*
 * metrics.c - the metrics collection behind loom_metrics.h: samples added
 * in any order, grouped by family (families in first-seen order, each
 * family's samples in the order they came), rendered as the Prometheus
 * text format 0.0.4 or as a JSON array.
 *
 * A collection lives for one scrape: it is made, filled, rendered and
 * freed in one reactor callback, and copies every string it is given, so
 * nothing in it points into an instance or a module.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

typedef struct {
    char *instance; /* NULL: a core sample */
    char *module;   /* of the instance, for loom_metrics_json_instance */
    char **kv;      /* 2 * nlabels strings: key, value, ... */
    size_t nlabels;
    double value;
} metric_sample_t;

typedef struct {
    char *name, *help;
    loom_metric_type_t type;
    metric_sample_t *s;
    size_t n, cap;
} metric_family_t;

struct loom_metrics_s {
    metric_family_t *f;
    size_t n, cap;
    size_t last;    /* family of the last sample: the usual next one */
    char *instance; /* label of the samples added now */
    char *module;   /* and the module of that instance */
};

loom_metrics_t *loom_metrics_new(void)
{
    return loom_calloc(1, sizeof(loom_metrics_t));
}

void loom_metrics_set_instance(loom_metrics_t *m, const char *module,
                               const char *name)
{
    free(m->instance);
    free(m->module);
    m->instance = name ? loom_strdup(name) : NULL;
    m->module = name && module ? loom_strdup(module) : NULL;
}

size_t loom_metrics_count(const loom_metrics_t *m, size_t *families)
{
    size_t i, n = 0;

    for (i = 0; i < m->n; i++)
        n += m->f[i].n;
    if (families)
        *families = m->n;
    return n;
}

/* Prometheus metric names: [a-zA-Z_:][a-zA-Z0-9_:]*. */
static int metric_name_ok(const char *s)
{
    if (s == NULL || !*s || (*s >= '0' && *s <= '9'))
        return 0;
    for (; *s; s++) {
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
              (*s >= '0' && *s <= '9') || *s == '_' || *s == ':'))
            return 0;
    }
    return 1;
}

/* Label keys as loom_metric's contract has them: [a-z_][a-z0-9_]*, and
 * not "instance", which the core sets. */
static int label_key_ok(const char *s)
{
    if (s == NULL || !*s || (*s >= '0' && *s <= '9') ||
        strcmp(s, "instance") == 0)
        return 0;
    for (; *s; s++) {
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
              *s == '_'))
            return 0;
    }
    return 1;
}

static metric_family_t *family_get(loom_metrics_t *m, loom_metric_type_t type,
                                   const char *name, const char *help)
{
    metric_family_t *f;
    size_t i;

    if (m->last < m->n && strcmp(m->f[m->last].name, name) == 0)
        return &m->f[m->last];
    for (i = 0; i < m->n; i++) {
        if (strcmp(m->f[i].name, name) == 0) {
            m->last = i;
            return &m->f[i];
        }
    }
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 32;
        m->f = loom_realloc(m->f, m->cap * sizeof(*m->f));
    }
    f = &m->f[m->n];
    memset(f, 0, sizeof(*f));
    f->name = loom_strdup(name);
    f->help = loom_strdup(help ? help : "");
    f->type = type;
    m->last = m->n++;
    return f;
}

void loom_metric(loom_metrics_t *m, loom_metric_type_t type, const char *name,
                 const char *help, double value, ...)
{
    const char *kv[2 * 16];
    size_t n = 0, i;
    metric_family_t *f;
    metric_sample_t *s;
    const char *k;
    va_list ap;

    if (m == NULL || !metric_name_ok(name))
        return;
    va_start(ap, value);
    while ((k = va_arg(ap, const char *)) != NULL) {
        const char *v = va_arg(ap, const char *);

        if (n == LOOM_ARRAY_LEN(kv) || !label_key_ok(k)) {
            va_end(ap);
            return; /* a programming error: the sample is left out */
        }
        kv[n++] = k;
        kv[n++] = v ? v : "";
    }
    va_end(ap);
    f = family_get(m, type, name, help);
    if (f->n == f->cap) {
        f->cap = f->cap ? f->cap * 2 : 8;
        f->s = loom_realloc(f->s, f->cap * sizeof(*f->s));
    }
    s = &f->s[f->n++];
    s->instance = m->instance ? loom_strdup(m->instance) : NULL;
    s->module = m->module ? loom_strdup(m->module) : NULL;
    s->nlabels = n / 2;
    s->kv = n ? loom_malloc(n * sizeof(char *)) : NULL;
    for (i = 0; i < n; i++)
        s->kv[i] = loom_strdup(kv[i]);
    s->value = value;
}

void loom_metrics_free(loom_metrics_t *m)
{
    size_t i, j, k;

    if (m == NULL)
        return;
    for (i = 0; i < m->n; i++) {
        metric_family_t *f = &m->f[i];

        for (j = 0; j < f->n; j++) {
            for (k = 0; k < 2 * f->s[j].nlabels; k++)
                free(f->s[j].kv[k]);
            free(f->s[j].kv);
            free(f->s[j].instance);
            free(f->s[j].module);
        }
        free(f->s);
        free(f->name);
        free(f->help);
    }
    free(m->f);
    free(m->instance);
    free(m->module);
    free(m);
}

/* ---- rendering ---------------------------------------------------------- */

typedef struct {
    char *p;
    size_t len, cap;
} out_t;

static void out_add(out_t *o, const char *p, size_t n)
{
    loom_append(&o->p, &o->len, &o->cap, p, n, 0);
}

static void out_str(out_t *o, const char *s)
{
    out_add(o, s, strlen(s));
}

/* Append S with the characters in SPECIAL backslash-escaped and a
 * newline as \n: label values escape backslash, quote and newline, HELP
 * text backslash and newline. */
static void out_escaped(out_t *o, const char *s, const char *special)
{
    const char *run = s;

    for (; *s; s++) {
        if (*s != '\n' && strchr(special, *s) == NULL)
            continue;
        out_add(o, run, (size_t)(s - run));
        if (*s == '\n') {
            out_add(o, "\\n", 2);
        } else {
            out_add(o, "\\", 1);
            out_add(o, s, 1);
        }
        run = s + 1;
    }
    out_add(o, run, (size_t)(s - run));
}

/* A JSON string: quote, backslash and control characters escaped; other
 * bytes as they are. */
static void out_json_str(out_t *o, const char *s)
{
    const char *run = s;
    char esc[8];

    out_add(o, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;

        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        out_add(o, run, (size_t)(s - run));
        if (c == '"' || c == '\\')
            snprintf(esc, sizeof(esc), "\\%c", c);
        else
            snprintf(esc, sizeof(esc), "\\u%04x", c);
        out_str(o, esc);
        run = s + 1;
    }
    out_add(o, run, (size_t)(s - run));
    out_add(o, "\"", 1);
}

/* VALUE as the formats want it: an integer when it is one (exactly, in
 * the range a double holds every integer of), else shortest-ish %g;
 * NaN and infinities as Prometheus spells them, or null in JSON. */
static void out_value(out_t *o, double v, int json)
{
    char buf[64];

    if (v != v)
        out_str(o, json ? "null" : "NaN");
    else if (v > 1.7976931348623157e308 || v < -1.7976931348623157e308)
        out_str(o, json ? "null" : v > 0 ? "+Inf" : "-Inf");
    else if (v >= -9007199254740992.0 && v <= 9007199254740992.0 &&
             (double)(int64_t)v == v) {
        snprintf(buf, sizeof(buf), "%lld", (long long)(int64_t)v);
        out_str(o, buf);
    } else {
        snprintf(buf, sizeof(buf), "%.15g", v);
        out_str(o, buf);
    }
}

static const char *const metric_type_names[] = {
    [LOOM_METRIC_COUNTER] = "counter",
    [LOOM_METRIC_GAUGE] = "gauge",
};

static const char *type_name(loom_metric_type_t t)
{
    return (unsigned)t < LOOM_ARRAY_LEN(metric_type_names)
               ? metric_type_names[t]
               : "untyped";
}

char *loom_metrics_prometheus(const loom_metrics_t *m, size_t *len)
{
    out_t o = {NULL, 0, 0};
    size_t i, j, k;

    out_add(&o, "", 0);
    for (i = 0; i < m->n; i++) {
        const metric_family_t *f = &m->f[i];

        out_str(&o, "# HELP ");
        out_str(&o, f->name);
        out_add(&o, " ", 1);
        out_escaped(&o, f->help, "\\");
        out_str(&o, "\n# TYPE ");
        out_str(&o, f->name);
        out_add(&o, " ", 1);
        out_str(&o, type_name(f->type));
        out_add(&o, "\n", 1);
        for (j = 0; j < f->n; j++) {
            const metric_sample_t *s = &f->s[j];
            const char *sep = "{";

            out_str(&o, f->name);
            if (s->instance) {
                out_str(&o, "{instance=\"");
                out_escaped(&o, s->instance, "\\\"");
                out_add(&o, "\"", 1);
                sep = ",";
            }
            for (k = 0; k < s->nlabels; k++) {
                out_str(&o, sep);
                out_str(&o, s->kv[2 * k]);
                out_str(&o, "=\"");
                out_escaped(&o, s->kv[2 * k + 1], "\\\"");
                out_add(&o, "\"", 1);
                sep = ",";
            }
            if (sep[0] == ',')
                out_add(&o, "}", 1);
            out_add(&o, " ", 1);
            out_value(&o, s->value, 0);
            out_add(&o, "\n", 1);
        }
    }
    if (len)
        *len = o.len;
    return o.p;
}

/* Is S one of the samples metrics_json is asked for: all (ONE 0), those
 * collected for instance INSTANCE of MODULE, or the core's (INSTANCE
 * NULL)? */
static int json_wanted(const metric_sample_t *s, int one, const char *module,
                       const char *instance)
{
    if (!one)
        return 1;
    if (instance == NULL)
        return s->instance == NULL;
    return s->instance && strcmp(s->instance, instance) == 0 &&
           (module == NULL || (s->module && strcmp(s->module, module) == 0));
}

/* The JSON array of M's samples that json_wanted picks. */
static char *metrics_json(const loom_metrics_t *m, int one, const char *module,
                          const char *instance, size_t *len)
{
    out_t o = {NULL, 0, 0};
    size_t i, j, k;
    int first = 1;

    out_add(&o, "[", 1);
    for (i = 0; i < m->n; i++) {
        const metric_family_t *f = &m->f[i];

        for (j = 0; j < f->n; j++) {
            const metric_sample_t *s = &f->s[j];

            if (!json_wanted(s, one, module, instance))
                continue;
            out_str(&o, first ? "{\"name\":" : ",{\"name\":");
            first = 0;
            out_json_str(&o, f->name);
            out_str(&o, ",\"type\":\"");
            out_str(&o, type_name(f->type));
            out_str(&o, "\",\"instance\":");
            if (s->instance)
                out_json_str(&o, s->instance);
            else
                out_str(&o, "null");
            out_str(&o, ",\"labels\":{");
            for (k = 0; k < s->nlabels; k++) {
                if (k)
                    out_add(&o, ",", 1);
                out_json_str(&o, s->kv[2 * k]);
                out_add(&o, ":", 1);
                out_json_str(&o, s->kv[2 * k + 1]);
            }
            out_str(&o, "},\"value\":");
            out_value(&o, s->value, 1);
            out_add(&o, "}", 1);
        }
    }
    out_add(&o, "]", 1);
    if (len)
        *len = o.len;
    return o.p;
}

char *loom_metrics_json(const loom_metrics_t *m, size_t *len)
{
    return metrics_json(m, 0, NULL, NULL, len);
}

char *loom_metrics_json_instance(const loom_metrics_t *m, const char *module,
                                 const char *instance, size_t *len)
{
    return metrics_json(m, 1, module, instance, len);
}
