/*
 * fuzz_h2.c - libFuzzer target: the http module's HTTP/2 server session
 * (h2.c over h2_sess.c and hpack.c, with the HTTP/1.1 side's preface
 * detection), fed over the in-memory transport; fuzz_h2_sess.c takes the
 * session alone.
 *
 * One http instance for the whole run: a tiny static tree in a temporary
 * directory (removed at exit), an echo location with a 1K max_body, a
 * return location; small limits (h2_max_streams 16, max_header_size 4K,
 * max_headers 20) so that they are hit.
 *
 * Input: byte 0 picks the mode (bit 0: the fuzz bytes follow a fixed valid
 * client preface + SETTINGS; bit 1: the connection starts as ALPN h2 does,
 * HTTP/2 from its first byte, else it is cleartext and must find the h2c
 * preface itself), the number of chunks (bits 2-3: 1-3) and whether the
 * server starts a graceful GOAWAY (reload, stop: the shutdown notice and
 * its PING) after the first chunk (bit 4); bytes 1 and 2 place the cuts
 * between chunks; the rest is the client's byte stream, so its frames can
 * also be the PING ACK that sends the final GOAWAY.
 * Each chunk is fed on its own and the reactor left to settle, then the
 * connection is freed and the reactor left to settle again.
 *
 * Invariants: a connection that speaks HTTP/2 answers with a SETTINGS
 * frame first, and so does a cleartext one whose bytes begin with the
 * preface's request line "PRI * HTTP/2.0\r\n" (a broken preface gets
 * GOAWAY); any other cleartext one answers (if at all) in HTTP/1.1, and a
 * proper prefix of the preface gets no answer;
 * the instance's count of open connections is back where it was after the
 * connection is freed.  ASan / UBSan / LSan do the rest.
 */
#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#include "http.h"
#include "loom_conn.h"
#include "loom_module.h"
#include "../session/session.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static ses_env_t fz;
static int fz_ready;

#define FZ_BIG 70000 /* big.bin: more than a default stream window */
static unsigned char fz_big[FZ_BIG];

static const ses_file_t fz_files[] = {
    SES_TEXT("www/hello.txt", "Hello, world\n"),
    SES_TEXT("www/index.html", "<p>index</p>\n"),
    SES_TEXT("www/d/index.html", "<p>d</p>\n"),
    {"www/big.bin", fz_big, FZ_BIG},
};

static const char fz_conf[] =
    "log {\n"
    "    level = \"error\"\n"
    "    target = \"stderr\"\n"
    "}\n"
    "http \"web\" {\n"
    "    listen = {\"tcp:18080:interface=127.0.0.1\"}\n"
    "    max_header_size = \"4K\"\n"
    "    max_headers = 20\n"
    "    h2_max_streams = 16\n"
    "    server \"main\" {\n"
    "        names = {\"localhost\"}\n"
    "        location \"/\" {\n"
    "            handler = \"static\"\n"
    "            root = \"@DIR@/www\"\n"
    "        }\n"
    "        location \"/echo\" {\n"
    "            handler = \"echo\"\n"
    "            max_body = \"1K\"\n"
    "        }\n"
    "        location \"= /ret\" {\n"
    "            handler = \"return\"\n"
    "            status = 200\n"
    "            body = \"returned\\n\"\n"
    "        }\n"
    "    }\n"
    "}\n";

/* The client preface and an empty-ish SETTINGS (ENABLE_PUSH 0). */
static const uint8_t fz_prefix[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
                                   "\x00\x00\x06\x04\x00\x00\x00\x00\x00"
                                   "\x00\x02\x00\x00\x00\x00";
#define FZ_PREFIX_LEN (sizeof(fz_prefix) - 1)

static void fz_cleanup(void)
{
    ses_stop(&fz);
}

static void fz_init(void)
{
    static const ses_spec_t spec = {
        .conf = fz_conf,
        .module = "http",
        .name = "web",
        .tmpl = "/tmp/loom-fuzzh2.XXXXXX",
        .files = fz_files,
        .nfiles = sizeof(fz_files) / sizeof(fz_files[0]),
    };
    size_t i;

    for (i = 0; i < FZ_BIG; i++)
        fz_big[i] = (unsigned char)(i % 251);
    if (ses_start(&fz, &spec) != 0) {
        fprintf(stderr, "fuzz_h2: start failed\n");
        abort();
    }
    atexit(fz_cleanup);
    fz_ready = 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t *buf;
    static size_t cap;
    http_instance_t *hi;
    unsigned sel = size > 0 ? data[0] : 0, nchunks, mode;
    size_t len = 0, plen = size > 3 ? size - 3 : 0, cut[4], i, olen;
    const uint8_t *payload = data + (size > 3 ? 3 : size);
    uint64_t active;
    loom_conn_t *c;
    const char *out;

    if (!fz_ready)
        fz_init();
    hi = loom_instance_data(fz.inst);
    mode = sel & 3;
    nchunks = 1 + ((sel >> 2) & 3) % 3;
    if (cap < FZ_PREFIX_LEN + plen) {
        cap = FZ_PREFIX_LEN + plen;
        free(buf);
        buf = malloc(cap);
        if (buf == NULL)
            abort();
    }
    if (mode & 1) {
        memcpy(buf, fz_prefix, FZ_PREFIX_LEN);
        len = FZ_PREFIX_LEN;
    }
    if (plen)
        memcpy(buf + len, payload, plen);
    len += plen;

    /* the cuts: 0 <= a <= b <= len */
    cut[0] = 0;
    cut[3] = len;
    {
        size_t a = size > 1 ? len * data[1] / 255 : len;
        size_t b = size > 2 ? len * data[2] / 255 : len;

        if (a > b) {
            size_t t = a;

            a = b;
            b = t;
        }
        if (nchunks == 1)
            a = b = len;
        else if (nchunks == 2)
            b = len;
        cut[1] = a;
        cut[2] = b;
    }

    active = hi->ctr.conns_active;
    c = loom_mem_conn_new(fz.inst);
    assert(c != NULL);
    if (mode & 2) {
        loom_slice_t none = {NULL, 0};
        int r;

        loom_conn_hold(c);
        r = http_h2_start(loom_conn_data(c), NULL, none);
        loom_conn_release(c);
        assert(r == LOOM_OK);
        ses_settle(&fz);
    }
    for (i = 0; i < 3; i++) {
        if (cut[i + 1] == cut[i])
            continue;
        if (loom_mem_closed(c))
            break;
        assert(loom_mem_feed(c, (const char *)buf + cut[i],
                             cut[i + 1] - cut[i]) == LOOM_OK);
        ses_settle(&fz);
        if (i == 0 && (sel & 16) && !loom_mem_closed(c)) {
            http_h1_conn_t *h = loom_conn_data(c);

            loom_conn_hold(c);
            if (h->h2)
                http_h2_goaway(h);
            loom_conn_release(c);
            ses_settle(&fz);
        }
    }

    out = loom_mem_output(c, &olen);
    if (mode != 0 || (len >= 16 && memcmp(buf, HTTP_H2_PREFACE, 16) == 0 &&
                      (len >= HTTP_H2_PREFACE_LEN ||
                       memcmp(buf, HTTP_H2_PREFACE, len) != 0))) {
        /* HTTP/2: SETTINGS first */
        assert(olen >= 9);
        assert(out[3] == 4 && out[4] == 0);
        assert(memcmp(out + 5, "\0\0\0\0", 4) == 0);
    } else if (len < HTTP_H2_PREFACE_LEN &&
               memcmp(buf, HTTP_H2_PREFACE, len) == 0) {
        /* a proper prefix of the preface: still waiting */
        assert(olen == 0);
        assert(!loom_mem_closed(c));
    } else if (olen > 0) {
        assert(olen >= 9 && memcmp(out, "HTTP/1.1 ", 9) == 0);
    }

    loom_mem_conn_free(c);
    ses_settle(&fz);
    assert(hi->ctr.conns_active == active);
    return 0;
}
