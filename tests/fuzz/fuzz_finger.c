/*
 * fuzz_finger.c - libFuzzer target: finger query parser and output filter.
 * Invariants: slices lie inside the input; an OK query has no space in the
 * user and a non-empty host when it has one; the filter writes at most
 * 2 * LEN bytes of printable ASCII, TAB and CRLF pairs only.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "finger_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void in_input(loom_slice_t s, const char *in, size_t len)
{
    if (s.len > 0)
        assert(s.p >= in && s.p + s.len <= in + len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data;
    finger_query_t q;
    finger_q_status_t st = finger_parse_query(in, size, &q);
    char *out;
    size_t n, i;

    assert(st <= FINGER_Q_SYNTAX);
    assert(finger_q_strerror(st) != NULL);
    if (size > FINGER_QUERY_MAX)
        assert(st == FINGER_Q_TOO_LONG);
    if (st == FINGER_Q_OK) {
        in_input(q.user, in, size);
        in_input(q.host, in, size);
        in_input(q.forward, in, size);
        assert(memchr(q.user.p, ' ', q.user.len) == NULL);
        assert(memchr(q.user.p, '@', q.user.len) == NULL);
        if (q.host.p != NULL) {
            assert(q.host.len > 0);
            assert(memchr(q.host.p, '@', q.host.len) == NULL);
        }
    }

    out = malloc(2 * size + 1);
    if (out == NULL)
        return 0;
    n = finger_filter(in, size, out);
    assert(n <= 2 * size);
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)out[i];

        if (c == '\r')
            assert(i + 1 < n && out[i + 1] == '\n');
        else if (c == '\n')
            assert(i > 0 && out[i - 1] == '\r');
        else
            assert(c == '\t' || (c >= 0x20 && c < 0x7f));
    }
    free(out);
    return 0;
}
