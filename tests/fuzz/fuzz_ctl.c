/*
 * fuzz_ctl.c - libFuzzer target: the control socket's request parser.
 * The input is offered as a client would send it, growing one piece at a
 * time (byte 0 picks the piece size).  Invariants: a parsed line ends in
 * its "\n" within the input and LOOM_CTL_LINE_MAX; 1 to LOOM_CTL_ARGS_MAX
 * words, each NUL-terminated valid UTF-8 without control bytes (tab
 * aside); an error has a message; a longer input never turns a parsed
 * line or an error back into "more"; and the reply for any error is JSON
 * that the cleaner made safe.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_words(const loom_ctl_req_t *req)
{
    int i;

    assert(req->argc >= 1 && req->argc <= LOOM_CTL_ARGS_MAX);
    assert(req->argv[req->argc] == NULL);
    for (i = 0; i < req->argc; i++) {
        const unsigned char *w = (const unsigned char *)req->argv[i];
        size_t n = strlen(req->argv[i]), k, j;

        for (j = 0; j < n; j += k) {
            k = loom_ctl_utf8_seq(w + j, n - j);
            assert(k > 0);
            assert(
                !(k == 1 && ((w[j] < 0x20 && w[j] != '\t') || w[j] == 0x7f)));
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf;
    size_t piece, len;
    long first = LOOM_AGAIN;

    if (size < 1)
        return 0;
    piece = data[0] % 64 + 1;
    buf = (const char *)data + 1;
    size--;
    for (len = 0;;) {
        loom_ctl_req_t req;
        char err[256];
        long rc;

        err[0] = '\0';
        rc = loom_ctl_parse(buf, len, &req, err, sizeof(err));
        if (rc > 0) {
            assert((size_t)rc <= len && rc <= LOOM_CTL_LINE_MAX);
            assert(buf[rc - 1] == '\n');
            assert(memchr(buf, '\n', (size_t)rc - 1) == NULL);
            check_words(&req);
            loom_ctl_req_free(&req);
        } else if (rc == LOOM_ERROR) {
            char *clean = loom_ctl_clean(err, strlen(err));

            assert(err[0] != '\0');
            assert(strlen(clean) == strlen(err));
            free(clean);
        } else {
            assert(rc == LOOM_AGAIN);
            assert(len < LOOM_CTL_LINE_MAX);
            assert(memchr(buf, '\n', len) == NULL);
        }
        /* once decided, more bytes do not change the verdict */
        if (first != LOOM_AGAIN)
            assert(rc == first);
        first = rc;
        if (len == size)
            break;
        len = size - len < piece ? size : len + piece;
    }
    return 0;
}
