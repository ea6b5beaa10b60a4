/*
 * ctl_out.c - the answer of a control command (loom_ctl.h, ctl.h): a
 * table, lines of text or an error, rendered as the JSON reply.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

struct loom_ctl_s {
    char **cols;
    size_t ncols;
    char **cells; /* nrows * ncols */
    size_t nrows, cap;
    char **msgs;
    size_t nmsgs;
    char *error;
    json_t *result;
};

loom_ctl_t *loom_ctl_new(void)
{
    return loom_calloc(1, sizeof(loom_ctl_t));
}

static void ctl_table_free(loom_ctl_t *out)
{
    size_t i;

    for (i = 0; i < out->ncols; i++)
        free(out->cols[i]);
    for (i = 0; i < out->nrows * out->ncols; i++)
        free(out->cells[i]);
    free(out->cols);
    free(out->cells);
    out->cols = out->cells = NULL;
    out->ncols = out->nrows = out->cap = 0;
}

void loom_ctl_free(loom_ctl_t *out)
{
    size_t i;

    if (out == NULL)
        return;
    ctl_table_free(out);
    for (i = 0; i < out->nmsgs; i++)
        free(out->msgs[i]);
    free(out->msgs);
    free(out->error);
    if (out->result)
        json_decref(out->result);
    free(out);
}

static char *ctl_str(const char *s)
{
    return loom_ctl_clean(s, strlen(s));
}

void loom_ctl_columns(loom_ctl_t *out, const char *col, ...)
{
    va_list ap;
    const char *c;
    size_t n = 0;

    ctl_table_free(out);
    va_start(ap, col);
    for (c = col; c; c = va_arg(ap, const char *))
        n++;
    va_end(ap);
    out->cols = loom_calloc(n ? n : 1, sizeof(char *));
    va_start(ap, col);
    for (c = col; c; c = va_arg(ap, const char *))
        out->cols[out->ncols++] = ctl_str(c);
    va_end(ap);
}

void loom_ctl_row(loom_ctl_t *out, const char *cell, ...)
{
    va_list ap;
    const char *c = cell;
    size_t i;

    if (out->ncols == 0)
        return; /* a row without columns has nowhere to go */
    if (out->nrows == out->cap) {
        out->cap = out->cap ? 2 * out->cap : 16;
        out->cells =
            loom_realloc(out->cells, out->cap * out->ncols * sizeof(char *));
    }
    va_start(ap, cell);
    for (i = 0; i < out->ncols; i++) {
        out->cells[out->nrows * out->ncols + i] = ctl_str(c ? c : "");
        if (c)
            c = va_arg(ap, const char *);
    }
    va_end(ap);
    out->nrows++;
}

void loom_ctl_message(loom_ctl_t *out, const char *fmt, ...)
{
    va_list ap;
    char *s = NULL;
    int n;

    va_start(ap, fmt);
    n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    out->msgs = loom_realloc(out->msgs, (out->nmsgs + 1) * sizeof(char *));
    out->msgs[out->nmsgs++] = loom_ctl_clean(s, (size_t)n);
    free(s);
}

int loom_ctl_error(loom_ctl_t *out, const char *fmt, ...)
{
    va_list ap;
    char *s = NULL;
    int n;

    va_start(ap, fmt);
    n = vasprintf(&s, fmt, ap);
    va_end(ap);
    free(out->error);
    out->error = n < 0 ? loom_strdup("error") : loom_ctl_clean(s, (size_t)n);
    free(s);
    return LOOM_ERROR;
}

const char *loom_ctl_error_text(const loom_ctl_t *out)
{
    return out->error;
}

void loom_ctl_set_result(loom_ctl_t *out, json_t *obj)
{
    if (out->result)
        json_decref(out->result);
    out->result = obj;
}

static char *ctl_dump(json_t *reply, size_t *len)
{
    char *s = json_dumps(reply, JSON_COMPACT);
    size_t n;

    json_decref(reply);
    if (s == NULL) /* only strings that are not UTF-8; cleaned above */
        s = strdup("{\"ok\":false,\"error\":\"internal error\"}");
    n = strlen(s);
    s = loom_realloc(s, n + 2);
    s[n] = '\n';
    s[n + 1] = '\0';
    if (len)
        *len = n + 1;
    return s;
}

char *loom_ctl_render_error(const char *message, size_t *len)
{
    char *m = ctl_str(message);
    json_t *reply = json_pack("{sbss}", "ok", 0, "error", m);

    free(m);
    return ctl_dump(reply, len);
}

/* The messages joined with "\n". */
static json_t *ctl_joined(const loom_ctl_t *out)
{
    size_t i, n = 0;
    char *s, *p;
    json_t *j;

    for (i = 0; i < out->nmsgs; i++)
        n += strlen(out->msgs[i]) + 1;
    s = p = loom_malloc(n + 1);
    for (i = 0; i < out->nmsgs; i++) {
        if (i)
            *p++ = '\n';
        n = strlen(out->msgs[i]);
        memcpy(p, out->msgs[i], n);
        p += n;
    }
    *p = '\0';
    j = json_string(s);
    free(s);
    return j;
}

static json_t *ctl_result(const loom_ctl_t *out)
{
    json_t *r, *a, *row;
    size_t i, j;

    if (out->result)
        return json_incref(out->result);
    r = json_object();
    if (out->ncols == 0) {
        json_object_set_new(r, "message", ctl_joined(out));
        return r;
    }
    a = json_array();
    for (i = 0; i < out->ncols; i++)
        json_array_append_new(a, json_string(out->cols[i]));
    json_object_set_new(r, "columns", a);
    a = json_array();
    for (i = 0; i < out->nrows; i++) {
        row = json_array();
        for (j = 0; j < out->ncols; j++)
            json_array_append_new(row,
                                  json_string(out->cells[i * out->ncols + j]));
        json_array_append_new(a, row);
    }
    json_object_set_new(r, "rows", a);
    if (out->nmsgs) {
        a = json_array();
        for (i = 0; i < out->nmsgs; i++)
            json_array_append_new(a, json_string(out->msgs[i]));
        json_object_set_new(r, "messages", a);
    }
    return r;
}

char *loom_ctl_render(const loom_ctl_t *out, size_t *len)
{
    if (out->error)
        return loom_ctl_render_error(out->error, len);
    return ctl_dump(json_pack("{sbso}", "ok", 1, "result", ctl_result(out)),
                    len);
}
