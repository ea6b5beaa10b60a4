/*
 * fuzz_lines.c - libFuzzer target: drive the line helper as the core does.
 * Byte 0 picks max_line (0 = none), byte 1 the piece size; the rest is
 * input.  A line starting with 'R' switches to raw mode for (its second
 * byte) bytes.  Invariants: slices lie inside the buffer, lines hold no LF
 * and respect max_line, consumed counts never exceed what was passed.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lines.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    loom_lines_t lr;
    size_t max_line, piece, pos, len = 0;
    char *buf;

    if (size < 2)
        return 0;
    max_line = data[0] % 64;
    piece = data[1] % 16 + 1;
    data += 2;
    size -= 2;
    buf = malloc(size + 1);
    if (buf == NULL)
        return 0;
    loom_lines_init(&lr, max_line);
    for (pos = 0; pos < size;) {
        size_t n = size - pos < piece ? size - pos : piece, off = 0;
        loom_lines_result_t r = LOOM_LINES_MORE;

        memcpy(buf + len, data + pos, n);
        len += n;
        pos += n;
        for (;;) {
            loom_slice_t out;
            size_t used;

            r = loom_lines_next(&lr, buf + off, len - off, &out, &used);
            if (r == LOOM_LINES_MORE || r == LOOM_LINES_TOO_LONG) {
                assert(used == 0);
                break;
            }
            assert(used > 0 && used <= len - off);
            assert(out.p == buf + off && out.len <= used);
            if (r == LOOM_LINES_LINE) {
                assert(memchr(out.p, '\n', out.len) == NULL);
                assert(max_line == 0 || out.len <= max_line);
                if (out.len >= 2 && out.p[0] == 'R')
                    loom_lines_raw(&lr, (unsigned char)out.p[1]);
            }
            off += used;
        }
        memmove(buf, buf + off, len - off);
        len -= off;
        if (r == LOOM_LINES_TOO_LONG) {
            /* what a lenient protocol might do: drop it all, start over */
            assert(max_line > 0 && len > max_line);
            len = 0;
            loom_lines_line_mode(&lr);
        }
    }
    free(buf);
    return 0;
}
