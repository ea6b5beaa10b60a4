/*
 * fuzz_loomctl.c - libFuzzer target: loomctl's two halves against the
 * server's.  Byte 0 picks the test.
 *
 * Even: the rest is words separated by NUL bytes.  loomctl's request line
 * for them must either be refused (a line break in a word, too long) or
 * be parsed by the server's own parser (ctl_proto.c) back into exactly
 * those words -- unless a word holds what the server refuses anyway
 * (control bytes, invalid UTF-8), which must then be an error, never
 * different words.
 *
 * Odd: the rest is a reply from the daemon, rendered as text (bit 1
 * clear) or JSON.  Invariants: the exit code is 0, 1 or 3; nothing
 * written to either stream holds a control byte other than newline (a
 * hostile or broken daemon cannot drive the terminal; JSON may hold DEL);
 * exit 3 says why on stderr.
 */
#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_proto.h"
#include "loomctl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Would the server take WORD as it is (UTF-8, no control byte but tab)? */
static int server_takes(const char *word)
{
    const unsigned char *w = (const unsigned char *)word;
    size_t n = strlen(word), j, k;

    for (j = 0; j < n; j += k) {
        k = loom_ctl_utf8_seq(w + j, n - j);
        if (k == 0 ||
            (k == 1 && ((w[j] < 0x20 && w[j] != '\t') || w[j] == 0x7f)))
            return 0;
    }
    return 1;
}

static void round_trip(const char *in, size_t size)
{
    char *copy = malloc(size + 1), *words[LOOM_CTL_ARGS_MAX], line[8192];
    char err[256];
    int n = 0, len, i, takes = 1;
    size_t pos = 0;
    loom_ctl_req_t req;
    long rc;

    assert(copy);
    memcpy(copy, in, size);
    copy[size] = '\0';
    while (pos <= size && n < LOOM_CTL_ARGS_MAX) {
        words[n] = copy + pos;
        takes &= server_takes(words[n]);
        pos += strlen(words[n]) + 1;
        n++;
    }
    len = loomctl_request_line(n, words, line, sizeof(line), err, sizeof(err));
    if (len < 0) {
        assert(err[0]);
        free(copy);
        return;
    }
    assert(len <= LOOMCTL_LINE_MAX && line[len - 1] == '\n');
    rc = loom_ctl_parse(line, (size_t)len, &req, err, sizeof(err));
    if (!takes) {
        assert(rc == LOOM_ERROR);
    } else {
        assert(rc == len);
        assert(req.argc == n);
        for (i = 0; i < n; i++)
            assert(strcmp(req.argv[i], words[i]) == 0);
        loom_ctl_req_free(&req);
    }
    free(copy);
}

/* Nothing in S (LEN bytes) but printable text, UTF-8 and newlines (and
 * DEL with DEL_OK: JSON leaves it, terminals ignore it). */
static void assert_safe(const char *s, size_t len, int del_ok)
{
    size_t i;

    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];

        assert(c == '\n' || (c >= 0x20 && (c != 0x7f || del_ok)));
        /* C1 controls (U+0080-U+009F) are escaped too */
        assert(!(c == 0xc2 && i + 1 < len && (unsigned char)s[i + 1] >= 0x80 &&
                 (unsigned char)s[i + 1] <= 0x9f));
    }
}

static void render(const char *in, size_t size, int json)
{
    char *o = NULL, *e = NULL;
    size_t olen = 0, elen = 0;
    FILE *out = open_memstream(&o, &olen), *err = open_memstream(&e, &elen);
    int rc;

    assert(out && err);
    rc = loomctl_render_reply(in, size, json, out, err);
    fclose(out);
    fclose(err);
    assert(rc == LOOMCTL_EXIT_OK || rc == LOOMCTL_EXIT_ERROR ||
           rc == LOOMCTL_EXIT_CONNECT);
    assert_safe(o, olen, json);
    assert_safe(e, elen, 0);
    if (rc == LOOMCTL_EXIT_CONNECT)
        assert(strncmp(e, "loomctl: ", 9) == 0 && olen == 0);
    free(o);
    free(e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (data[0] % 2 == 0)
        round_trip((const char *)data + 1, size - 1);
    else
        render((const char *)data + 1, size - 1, data[0] & 2);
    return 0;
}
