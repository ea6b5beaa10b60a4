/*
 * loomctl_fmt.c - render the control socket's JSON reply for a person (or,
 * with --json, as JSON for a program).  See loomctl.h.
 *
 * The reply is {"ok":true,"result":R} or {"ok":false,"error":"..."}.  R is
 * a table ({"columns":[...],"rows":[[...]]}), a message ({"message":"..."}),
 * a list of messages ({"messages":[...]}), any mix of those, or another
 * object (status) shown as "key: value" lines with its arrays of objects as
 * tables.  Text that came from the network (peer names, IRC reasons) may
 * hold control characters: they are printed as escapes, never raw.
 */
#include "loomctl.h"

#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* A growing string (cells are rendered into these). */
typedef struct {
    char *s;
    size_t len, cap;
} sbuf_t;

static void sb_putn(sbuf_t *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 32;
        char *p;

        while (cap < b->len + n + 1)
            cap *= 2;
        p = realloc(b->s, cap);
        if (!p)
            abort(); /* a command-line client: nothing to save */
        b->s = p;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

static void sb_puts(sbuf_t *b, const char *s)
{
    sb_putn(b, s, strlen(s));
}

static void sb_printf(sbuf_t *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void sb_printf(sbuf_t *b, const char *fmt, ...)
{
    char tmp[128], *big;
    va_list ap, again;
    int n;

    va_start(ap, fmt);
    va_copy(again, ap);
    n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < sizeof(tmp)) {
        sb_putn(b, tmp, (size_t)n);
    } else if (n > 0) {
        big = malloc((size_t)n + 1);
        if (!big)
            abort();
        vsnprintf(big, (size_t)n + 1, fmt, again);
        sb_putn(b, big, (size_t)n);
        free(big);
    }
    va_end(again);
}

/* The string (never NULL) held by B; the caller owns it. */
static char *sb_take(sbuf_t *b)
{
    if (!b->s)
        sb_putn(b, "", 0);
    return b->s;
}

/* Append S to B with C0 and C1 control characters (and DEL) escaped:
 * \n, \t, \r as such, others as \xHH (C0, DEL) or \u00HH (C1). */
static void sb_put_safe(sbuf_t *b, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;

    for (; *p; p++) {
        if (*p == '\n')
            sb_puts(b, "\\n");
        else if (*p == '\t')
            sb_puts(b, "\\t");
        else if (*p == '\r')
            sb_puts(b, "\\r");
        else if (*p < 0x20 || *p == 0x7f)
            sb_printf(b, "\\x%02x", *p);
        else if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
            sb_printf(b, "\\u%04x", p[1]);
            p++;
        } else
            sb_putn(b, (const char *)p, 1);
    }
}

/* Display width of the UTF-8 string S: its code points (jansson hands out
 * valid UTF-8 only; wide characters are rare enough in these tables to be
 * counted as one). */
static size_t text_width(const char *s)
{
    size_t w = 0;

    for (; *s; s++)
        if (((unsigned char)*s & 0xc0) != 0x80)
            w++;
    return w;
}

/* Keys and columns whose numbers are durations in seconds. */
static const char *const duration_names[] = {"uptime", "age", NULL};

static int is_duration(const char *name)
{
    size_t i;

    for (i = 0; name && duration_names[i]; i++)
        if (strcmp(name, duration_names[i]) == 0)
            return 1;
    return 0;
}

/* SECS as "45s", "3m07s", "2h05m", "4d03h". */
static void sb_duration(sbuf_t *b, double secs)
{
    long long s;

    if (!isfinite(secs) || secs < 0) {
        sb_printf(b, "%g", secs);
        return;
    }
    s = (long long)secs;
    if (s < 60)
        sb_printf(b, "%llds", s);
    else if (s < 3600)
        sb_printf(b, "%lldm%02llds", s / 60, s % 60);
    else if (s < 86400)
        sb_printf(b, "%lldh%02lldm", s / 3600, s % 3600 / 60);
    else
        sb_printf(b, "%lldd%02lldh", s / 86400, s % 86400 / 3600);
}

/* Is S a decimal number ("12", "-3", "0.25")?  The control socket's
 * module API hands every cell over as a string, so counters arrive as
 * digits in quotes. */
static int is_number_text(const char *s)
{
    int digits = 0;

    if (*s == '-')
        s++;
    for (; *s >= '0' && *s <= '9'; s++)
        digits++;
    if (*s == '.' && digits)
        for (s++, digits = 0; *s >= '0' && *s <= '9'; s++)
            digits++;
    return digits > 0 && *s == '\0';
}

static void sb_value(sbuf_t *b, const json_t *v, const char *name);

/* An array of scalars as "a,b,c"; an object as "k=v k=v". */
static void sb_compound(sbuf_t *b, const json_t *v)
{
    const char *key;
    json_t *item;
    size_t i;

    if (json_is_array(v)) {
        json_array_foreach(v, i, item)
        {
            if (i)
                sb_puts(b, ",");
            sb_value(b, item, NULL);
        }
        return;
    }
    i = 0;
    json_object_foreach((json_t *)v, key, item)
    {
        if (i++)
            sb_puts(b, " ");
        sb_put_safe(b, key);
        sb_puts(b, "=");
        sb_value(b, item, key);
    }
}

/* One value as text: strings as they are (escaped), integers in full,
 * reals with %g, booleans as yes/no, null as "-", durations (by NAME) in
 * d/h/m/s, arrays and objects of scalars flattened, deeper nesting as
 * compact JSON. */
static void sb_value(sbuf_t *b, const json_t *v, const char *name)
{
    const char *key;
    json_t *item;
    size_t i;
    int nested = 0;
    char *dump;

    switch (json_typeof(v)) {
    case JSON_STRING:
        if (is_duration(name) && is_number_text(json_string_value(v)))
            sb_duration(b, strtod(json_string_value(v), NULL));
        else
            sb_put_safe(b, json_string_value(v));
        return;
    case JSON_INTEGER:
        if (is_duration(name))
            sb_duration(b, (double)json_integer_value(v));
        else
            sb_printf(b, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return;
    case JSON_REAL:
        if (is_duration(name))
            sb_duration(b, json_real_value(v));
        else
            sb_printf(b, "%g", json_real_value(v));
        return;
    case JSON_TRUE:
        sb_puts(b, "yes");
        return;
    case JSON_FALSE:
        sb_puts(b, "no");
        return;
    case JSON_NULL:
        sb_puts(b, "-");
        return;
    case JSON_ARRAY:
        json_array_foreach(v, i, item)
        {
            nested |= json_is_array(item) || json_is_object(item);
        }
        break;
    case JSON_OBJECT:
        json_object_foreach((json_t *)v, key, item)
        {
            nested |= json_is_array(item) || json_is_object(item);
        }
        break;
    }
    if (!nested) {
        sb_compound(b, v);
        return;
    }
    dump = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (dump)
        sb_put_safe(b, dump);
    free(dump);
}

/* A table: NCOLS column names (upper-cased in the header) and rendered
 * cells, rows * ncols of them.  Numeric columns are right-aligned, their
 * header too. */
typedef struct {
    size_t ncols, nrows;
    char **head;
    char **cells;
    int *numeric; /* per column: every non-null cell is a number */
} table_t;

static void table_free(table_t *t)
{
    size_t i;

    for (i = 0; i < t->ncols; i++)
        free(t->head[i]);
    for (i = 0; i < t->ncols * t->nrows; i++)
        free(t->cells[i]);
    free(t->head);
    free(t->cells);
    free(t->numeric);
}

/* Print LINE (the string in B) without its trailing spaces, then "\n". */
static void print_trimmed(sbuf_t *b, FILE *out)
{
    char *line = sb_take(b);
    size_t n = b->len;

    while (n > 0 && line[n - 1] == ' ')
        n--;
    fprintf(out, "%.*s\n", (int)n, line);
    b->len = 0;
}

static void table_print(const table_t *t, FILE *out)
{
    size_t *width = calloc(t->ncols + 1, sizeof(*width));
    size_t r, c, w, pad;
    sbuf_t line = {0};

    if (!width)
        abort();
    for (c = 0; c < t->ncols; c++) {
        width[c] = text_width(t->head[c]);
        for (r = 0; r < t->nrows; r++) {
            w = text_width(t->cells[r * t->ncols + c]);
            if (w > width[c])
                width[c] = w;
        }
    }
    for (r = 0; r <= t->nrows; r++) {
        char **row = r == 0 ? t->head : t->cells + (r - 1) * t->ncols;

        for (c = 0; c < t->ncols; c++) {
            pad = width[c] - text_width(row[c]);
            if (c)
                sb_puts(&line, "  ");
            if (t->numeric[c]) {
                sb_printf(&line, "%*s", (int)pad, "");
                sb_puts(&line, row[c]);
            } else {
                sb_puts(&line, row[c]);
                sb_printf(&line, "%*s", (int)pad, "");
            }
        }
        print_trimmed(&line, out);
    }
    free(line.s);
    free(width);
}

/* Allocate T for NCOLS columns and NROWS rows. */
static void table_alloc(table_t *t, size_t ncols, size_t nrows)
{
    t->ncols = ncols;
    t->nrows = nrows;
    t->head = calloc(ncols + 1, sizeof(char *));
    t->cells = calloc(ncols * nrows + 1, sizeof(char *));
    t->numeric = calloc(ncols + 1, sizeof(int));
    if (!t->head || !t->cells || !t->numeric)
        abort();
}

static char *upper_name(const char *name)
{
    sbuf_t b = {0};
    char *p;

    sb_put_safe(&b, name);
    for (p = sb_take(&b); *p; p++)
        if (*p >= 'a' && *p <= 'z')
            *p = (char)(*p - 'a' + 'A');
    return b.s;
}

/* Render one cell of column NAME into a new string. */
static char *cell_text(const json_t *v, const char *name)
{
    sbuf_t b = {0};

    if (v)
        sb_value(&b, v, name);
    return sb_take(&b);
}

/* Mark the columns of T whose cells (VALS[r][c], NULL when missing) are
 * all numbers (or decimal strings) or empty, with at least one number;
 * durations are not (their text has letters). */
static void table_numeric(table_t *t, const json_t *const *vals,
                          char *const *names)
{
    size_t r, c;

    for (c = 0; c < t->ncols; c++) {
        int nums = 0, other = 0;

        for (r = 0; r < t->nrows; r++) {
            const json_t *v = vals[r * t->ncols + c];

            if (!v || json_is_null(v) ||
                (json_is_string(v) && !*json_string_value(v)))
                continue;
            if (json_is_number(v) ||
                (json_is_string(v) && is_number_text(json_string_value(v))))
                nums++;
            else
                other++;
        }
        t->numeric[c] = nums > 0 && !other && !is_duration(names[c]);
    }
}

/* Where a table's cells come from: cell (ROW, column COL named NAME) of
 * SRC, or NULL when missing. */
typedef const json_t *(*cell_fn)(const json_t *src, size_t row, size_t col,
                                 const char *name);

static const json_t *row_cell(const json_t *rows, size_t row, size_t col,
                              const char *name)
{
    (void)name;
    return json_array_get(json_array_get(rows, row), col);
}

static const json_t *object_cell(const json_t *objs, size_t row, size_t col,
                                 const char *name)
{
    (void)col;
    return json_object_get(json_array_get(objs, row), name);
}

/* Print a table of the columns named in COLS (a non-empty array of
 * strings) and NROWS rows whose cells CELL finds in SRC. */
static void table_show(const json_t *cols, size_t nrows, cell_fn cell,
                       const json_t *src, FILE *out)
{
    const json_t **vals;
    char **names;
    table_t t;
    size_t i, j;

    table_alloc(&t, json_array_size(cols), nrows);
    vals = calloc(t.ncols * t.nrows + 1, sizeof(*vals));
    names = calloc(t.ncols + 1, sizeof(*names));
    if (!vals || !names)
        abort();
    for (j = 0; j < t.ncols; j++) {
        names[j] = (char *)json_string_value(json_array_get(cols, j));
        t.head[j] = upper_name(names[j]);
    }
    for (i = 0; i < t.nrows; i++)
        for (j = 0; j < t.ncols; j++) {
            const json_t *v = cell(src, i, j, names[j]);

            vals[i * t.ncols + j] = v;
            t.cells[i * t.ncols + j] = cell_text(v, names[j]);
        }
    table_numeric(&t, vals, names);
    table_print(&t, out);
    table_free(&t);
    free(vals);
    free(names);
}

/* Print the protocol table {"columns":[...],"rows":[[...]]} of R.  Returns
 * 0, or -1 with a message in ERR when its shape is not the protocol's. */
static int render_table(const json_t *r, FILE *out, char *err, size_t errlen)
{
    const json_t *cols = json_object_get(r, "columns");
    const json_t *rows = json_object_get(r, "rows");
    size_t i;

    if (!json_is_array(cols) || !json_is_array(rows) ||
        json_array_size(cols) == 0) {
        snprintf(err, errlen, "a table needs arrays \"columns\" and \"rows\"");
        return -1;
    }
    for (i = 0; i < json_array_size(cols); i++)
        if (!json_is_string(json_array_get(cols, i))) {
            snprintf(err, errlen, "column %zu has no name", i + 1);
            return -1;
        }
    for (i = 0; i < json_array_size(rows); i++) {
        const json_t *row = json_array_get(rows, i);

        if (!json_is_array(row) ||
            json_array_size(row) > json_array_size(cols)) {
            snprintf(err, errlen,
                     "row %zu is not an array of at most %zu cells", i + 1,
                     json_array_size(cols));
            return -1;
        }
    }
    table_show(cols, json_array_size(rows), row_cell, rows, out);
    return 0;
}

/* Is V a metrics sample ({"name":"loom_...","value":N,...}, the format of
 * loom_metrics_json that status carries)? */
static int is_sample(const json_t *v)
{
    return json_is_object(v) && json_is_string(json_object_get(v, "name")) &&
           json_is_number(json_object_get(v, "value"));
}

/* A non-empty array of samples: shown in one metrics table. */
static int is_sample_array(const json_t *v)
{
    size_t i;
    json_t *item;

    if (!json_is_array(v) || json_array_size(v) == 0)
        return 0;
    json_array_foreach(v, i, item)
    {
        if (!is_sample(item))
            return 0;
    }
    return 1;
}

/* An array of objects that are not samples: shown as a table whose
 * columns are their keys in first-seen order. */
static int is_object_array(const json_t *v)
{
    size_t i;
    json_t *item;

    if (!json_is_array(v) || json_array_size(v) == 0 || is_sample_array(v))
        return 0;
    json_array_foreach(v, i, item)
    {
        if (!json_is_object(item))
            return 0;
    }
    return 1;
}

/* Is every value of KEY in the objects of ARR (where present) an array of
 * samples, empty or not, and one at least not empty? */
static int is_sample_column(json_t *arr, const char *key)
{
    size_t i;
    json_t *item, *v;
    int some = 0;

    json_array_foreach(arr, i, item)
    {
        v = json_object_get(item, key);
        if (v && is_sample_array(v))
            some = 1;
        else if (v && !(json_is_array(v) && json_array_size(v) == 0))
            return 0;
    }
    return some;
}

/* Is KEY one of the strings of the array NAMES? */
static int in_names(const json_t *names, const char *key)
{
    size_t k;

    for (k = 0; k < json_array_size(names); k++)
        if (strcmp(json_string_value(json_array_get(names, k)), key) == 0)
            return 1;
    return 0;
}

/* Show ARR's objects as a table.  Columns of samples are left out and
 * their samples appended to SAMPLES instead. */
static void render_object_array(json_t *arr, json_t *samples, FILE *out)
{
    json_t *keys = json_array(), *hidden = json_array(), *item, *v, *o;
    const char *key;
    size_t i, j;

    json_array_foreach(arr, i, item)
    {
        json_object_foreach(item, key, v)
        {
            if (in_names(keys, key) || in_names(hidden, key))
                continue;
            if (!is_sample_column(arr, key)) {
                json_array_append_new(keys, json_string(key));
                continue;
            }
            json_array_append_new(hidden, json_string(key));
            json_array_foreach(arr, j, o)
            {
                v = json_object_get(o, key);
                if (v)
                    json_array_extend(samples, v);
            }
        }
    }
    if (json_array_size(keys))
        table_show(keys, json_array_size(arr), object_cell, arr, out);
    json_decref(keys);
    json_decref(hidden);
}

/* The columns of the metrics table (a sample's type is left out). */
static const char *const sample_cols[] = {"instance", "name", "labels",
                                          "value"};

/* Any other object (status): its plain members as aligned "key: value"
 * lines, then each array of objects as a titled table, then every metrics
 * sample (its own and its tables') in one table titled "metrics". */
static void render_object(json_t *obj, FILE *out)
{
    const char *key;
    json_t *v, *samples = json_array(), *cols;
    size_t width = 0, w, i;
    int blank = 0;

    json_object_foreach(obj, key, v)
    {
        if (!is_object_array(v) && !is_sample_array(v) &&
            (w = text_width(key)) > width)
            width = w;
    }
    json_object_foreach(obj, key, v)
    {
        sbuf_t k = {0};

        if (is_sample_array(v))
            json_array_extend(samples, v);
        if (is_object_array(v) || is_sample_array(v))
            continue;
        sb_put_safe(&k, key);
        sb_puts(&k, ":");
        sb_printf(&k, "%*s ", (int)(width - text_width(key)), "");
        sb_value(&k, v, key);
        print_trimmed(&k, out);
        free(k.s);
        blank = 1;
    }
    json_object_foreach(obj, key, v)
    {
        sbuf_t title = {0};

        if (!is_object_array(v))
            continue;
        sb_put_safe(&title, key);
        fprintf(out, "%s%s:\n", blank ? "\n" : "", sb_take(&title));
        free(title.s);
        render_object_array(v, samples, out);
        blank = 1;
    }
    if (json_array_size(samples)) {
        cols = json_array();
        for (i = 0; i < sizeof(sample_cols) / sizeof(sample_cols[0]); i++)
            json_array_append_new(cols, json_string(sample_cols[i]));
        fprintf(out, "%smetrics:\n", blank ? "\n" : "");
        table_show(cols, json_array_size(samples), object_cell, samples, out);
        json_decref(cols);
    }
    json_decref(samples);
}

/* The members of a result the protocol gives a meaning to. */
static const char *const result_keys[] = {"columns", "rows", "message",
                                          "messages", NULL};

static int is_result_key(const char *key)
{
    size_t i;

    for (i = 0; result_keys[i]; i++)
        if (strcmp(key, result_keys[i]) == 0)
            return 1;
    return 0;
}

/* Print a string that is one or more lines of text, escaped but for its
 * line breaks. */
static void print_lines(const char *text, FILE *out)
{
    const char *nl;

    while (*text) {
        sbuf_t b = {0};

        nl = strchr(text, '\n');
        sb_putn(&b, text, nl ? (size_t)(nl - text) : strlen(text));
        {
            sbuf_t safe = {0};

            sb_put_safe(&safe, sb_take(&b));
            fprintf(out, "%s\n", sb_take(&safe));
            free(safe.s);
        }
        free(b.s);
        if (!nl)
            break;
        text = nl + 1;
    }
}

/* Print the result R of an ok reply.  Returns 0, or -1 with a message in
 * ERR when it is not the protocol's. */
static int render_result(json_t *r, FILE *out, char *err, size_t errlen)
{
    const char *key;
    json_t *v, *m;
    size_t i;
    int known = 0;

    if (!r || json_is_null(r))
        return 0;
    if (!json_is_object(r)) {
        sbuf_t b = {0};

        sb_value(&b, r, NULL);
        fprintf(out, "%s\n", sb_take(&b));
        free(b.s);
        return 0;
    }
    json_object_foreach(r, key, v)
    {
        known |= is_result_key(key);
    }
    if (!known) {
        render_object(r, out);
        return 0;
    }
    if (json_object_get(r, "columns") || json_object_get(r, "rows"))
        if (render_table(r, out, err, errlen) < 0)
            return -1;
    v = json_object_get(r, "message");
    if (v && !json_is_string(v)) {
        snprintf(err, errlen, "\"message\" is not a string");
        return -1;
    }
    if (v)
        print_lines(json_string_value(v), out);
    v = json_object_get(r, "messages");
    if (v && !json_is_array(v)) {
        snprintf(err, errlen, "\"messages\" is not an array");
        return -1;
    }
    json_array_foreach(v, i, m)
    {
        if (!json_is_string(m)) {
            snprintf(err, errlen, "message %zu is not a string", i + 1);
            return -1;
        }
        print_lines(json_string_value(m), out);
    }
    return 0;
}

int loomctl_render_reply(const char *reply, size_t len, int json, FILE *out,
                         FILE *err)
{
    json_error_t jerr;
    json_t *root, *ok, *msg;
    char why[256] = "";
    int rc = LOOMCTL_EXIT_CONNECT;

    root = json_loadb(reply, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        sbuf_t b = {0};

        /* jansson quotes the offending bytes: escape them too */
        sb_put_safe(&b, jerr.text);
        fprintf(err, "loomctl: the reply is not JSON (%s at byte %d)\n",
                sb_take(&b), jerr.position);
        free(b.s);
        return LOOMCTL_EXIT_CONNECT;
    }
    ok = json_object_get(root, "ok");
    msg = json_object_get(root, "error");
    if (!json_is_object(root) || !json_is_boolean(ok)) {
        snprintf(why, sizeof(why), "it has no \"ok\": true or false");
    } else if (json_is_false(ok) && !json_is_string(msg)) {
        snprintf(why, sizeof(why), "an error without an \"error\" message");
    } else if (json) {
        /* ASCII only: no C1 control reaches the terminal either */
        char *dump = json_dumps(root, JSON_INDENT(2) | JSON_ENSURE_ASCII);

        if (!dump)
            abort();
        fprintf(out, "%s\n", dump);
        free(dump);
        rc = json_is_true(ok) ? LOOMCTL_EXIT_OK : LOOMCTL_EXIT_ERROR;
    } else if (json_is_false(ok)) {
        print_lines(json_string_value(msg), err);
        rc = LOOMCTL_EXIT_ERROR;
    } else if (render_result(json_object_get(root, "result"), out, why,
                             sizeof(why)) == 0) {
        rc = LOOMCTL_EXIT_OK;
    }
    if (rc == LOOMCTL_EXIT_CONNECT)
        fprintf(err, "loomctl: not a control protocol reply: %s\n", why);
    json_decref(root);
    return rc;
}
