/*
 * fuzz_metrics_req.c - libFuzzer target: the metrics listener's request
 * parser (src/metrics_req.h).  Invariants: an OK head lies inside the
 * input and its path inside the head's first line, starting with '/';
 * and the verdict is monotonic: once a prefix of the input gets an answer
 * other than AGAIN, every longer prefix gets the same one (so it does not
 * matter how the bytes were cut into reads).
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "metrics_req.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static loom_mreq_status_t check(const char *buf, size_t len)
{
    loom_mreq_t req;
    loom_mreq_status_t st = loom_mreq_parse(buf, len, &req);

    if (st == LOOM_MREQ_OK) {
        assert(req.head_len > 0 && req.head_len <= len);
        assert(req.head_len <= LOOM_MREQ_MAX);
        assert(req.path >= buf && req.path + req.path_len <= buf + len);
        assert(req.path_len > 0 && req.path[0] == '/');
        assert(memchr(req.path, '?', req.path_len) == NULL);
        assert(req.minor >= 0 && req.minor <= 9);
    }
    return st;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* a copy of exactly SIZE bytes, so ASan sees any read past the end */
    char *buf = malloc(size ? size : 1);
    loom_mreq_status_t whole, st, seen = LOOM_MREQ_AGAIN;
    size_t cut, step;

    if (buf == NULL)
        return 0;
    memcpy(buf, data, size);
    whole = check(buf, size);
    /* every prefix of short inputs, a few dozen cuts of long ones */
    step = size <= 512 ? 1 : size / 37 + 1;
    for (cut = 0; cut <= size; cut += step) {
        st = check(buf, cut);
        if (seen != LOOM_MREQ_AGAIN)
            assert(st == seen);
        seen = st;
    }
    if (seen != LOOM_MREQ_AGAIN)
        assert(whole == seen);
    free(buf);
    return 0;
}
