/*
 * lines.c - the line helper (see lines.h).
 */
#include "lines.h"

#include <string.h>

void loom_lines_init(loom_lines_t *lr, size_t max_line)
{
    lr->max_line = max_line;
    lr->scanned = 0;
    lr->raw_left = 0;
}

void loom_lines_raw(loom_lines_t *lr, size_t n)
{
    lr->raw_left = n;
    lr->scanned = 0;
}

void loom_lines_line_mode(loom_lines_t *lr)
{
    lr->raw_left = 0;
    lr->scanned = 0;
}

loom_lines_result_t loom_lines_next(loom_lines_t *lr, const char *buf,
                                    size_t len, loom_slice_t *out, size_t *used)
{
    const char *lf;
    size_t from, limit, n;

    *used = 0;
    if (lr->raw_left > 0) {
        if (len == 0)
            return LOOM_LINES_MORE;
        n = len < lr->raw_left ? len : lr->raw_left;
        lr->raw_left -= n;
        out->p = buf;
        out->len = n;
        *used = n;
        return LOOM_LINES_RAW;
    }

    /* Search only bytes not searched before, and never further than the
     * limit allows: a line of max_line bytes needs its delimiter within
     * max_line + 2 bytes (CR LF). */
    from = lr->scanned < len ? lr->scanned : len;
    limit = len;
    if (lr->max_line && limit > lr->max_line + 2)
        limit = lr->max_line + 2;
    lf = from < limit ? memchr(buf + from, '\n', limit - from) : NULL;
    if (lf == NULL) {
        lr->scanned = limit;
        if (lr->max_line && len > lr->max_line + 1)
            return LOOM_LINES_TOO_LONG;
        return LOOM_LINES_MORE;
    }
    n = (size_t)(lf - buf);
    *used = n + 1;
    if (n > 0 && buf[n - 1] == '\r')
        n--;
    lr->scanned = 0;
    if (lr->max_line && n > lr->max_line) {
        *used = 0;
        return LOOM_LINES_TOO_LONG;
    }
    out->p = buf;
    out->len = n;
    return LOOM_LINES_LINE;
}
