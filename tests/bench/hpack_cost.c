/*
 * hpack_cost.c - what one typical request head costs to decode and one
 * typical response head costs to encode, with loom's HPACK (hpack.h) and
 * with nghttp2's (nghttp2_hd_inflate_hd2 / nghttp2_hd_deflate_hd), on one
 * connection's worth of heads (N of each, the dynamic tables warm).
 *
 * The request blocks are written once by nghttp2's deflater (as a client
 * using nghttp2 would send them: h2load's fields, the path varying) and
 * then decoded by both; the consumer of a field only sums its lengths.
 * The responses (:status 200, server, date, content-type, content-length
 * varying) are encoded by both with Huffman coding on.  Count instructions
 * with callgrind, each run_* function being one measurement:
 *
 *   make tests/bench/hpack_cost
 *   valgrind --tool=callgrind --callgrind-out-file=/tmp/hp.out \
 *       tests/bench/hpack_cost 10000
 *   callgrind_annotate --inclusive=yes /tmp/hp.out | grep run_
 *
 * and divide by N.  Without valgrind it prints the block sizes and the
 * wall time of each run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nghttp2/nghttp2.h>

#include "hpack.h"

#define NV(n, v)                                                               \
    {                                                                          \
        (uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, sizeof(v) - 1,          \
            NGHTTP2_NV_FLAG_NONE                                               \
    }

typedef struct {
    uint8_t *buf;
    size_t *off, *len, n;
} blocks_t;

static size_t sink;

static int count_field(void *ud, const hpack_field_t *f)
{
    (void)ud;
    sink += f->name_len + f->value_len;
    return 0;
}

/* N request blocks from nghttp2's deflater. */
static void make_requests(blocks_t *b, size_t n)
{
    nghttp2_hd_deflater *def;
    static char paths[8][8];
    nghttp2_nv nv[] = {NV(":method", "GET"),
                       NV(":path", "/hello.txt"),
                       NV(":scheme", "https"),
                       NV(":authority", "127.0.0.1:8443"),
                       NV("user-agent", "h2load nghttp2/1.52.0"),
                       NV("accept", "*/*"),
                       NV("accept-encoding", "gzip, deflate, br")};
    size_t i, used = 0;

    nghttp2_hd_deflate_new(&def, 4096);
    b->buf = malloc(n * 256);
    b->off = malloc(n * sizeof(size_t));
    b->len = malloc(n * sizeof(size_t));
    b->n = n;
    for (i = 0; i < n; i++) {
        ssize_t r;

        nv[1].valuelen =
            (size_t)snprintf(paths[i % 8], sizeof(paths[0]), "/f%zu", i % 8);
        nv[1].value = (uint8_t *)paths[i % 8];
        r = nghttp2_hd_deflate_hd(def, b->buf + used, 256, nv,
                                  sizeof(nv) / sizeof(nv[0]));
        if (r < 0)
            abort();
        b->off[i] = used;
        b->len[i] = (size_t)r;
        used += (size_t)r;
    }
    nghttp2_hd_deflate_del(def);
}

__attribute__((noinline)) static void run_loom_decode(const blocks_t *b)
{
    hpack_decoder_t d;
    size_t i;

    hpack_decoder_init(&d, 4096, 65536);
    for (i = 0; i < b->n; i++)
        if (hpack_decode(&d, b->buf + b->off[i], b->len[i], count_field,
                         NULL) != HPACK_OK)
            abort();
    hpack_decoder_free(&d);
}

__attribute__((noinline)) static void run_nghttp2_decode(const blocks_t *b)
{
    nghttp2_hd_inflater *inf;
    size_t i;

    nghttp2_hd_inflate_new(&inf);
    for (i = 0; i < b->n; i++) {
        const uint8_t *in = b->buf + b->off[i];
        size_t len = b->len[i];

        for (;;) {
            nghttp2_nv nv;
            int fl = 0;
            ssize_t r = nghttp2_hd_inflate_hd2(inf, &nv, &fl, in, len, 1);

            if (r < 0)
                abort();
            in += r;
            len -= (size_t)r;
            if (fl & NGHTTP2_HD_INFLATE_EMIT)
                sink += nv.namelen + nv.valuelen;
            if (fl & NGHTTP2_HD_INFLATE_FINAL) {
                nghttp2_hd_inflate_end_headers(inf);
                break;
            }
        }
    }
    nghttp2_hd_inflate_del(inf);
}

static const char date[] = "Mon, 07 Dec 2026 20:41:43 GMT";

/* content-length values, made before the runs (snprintf costs more than
 * encoding a head) */
static char clens[64][8];
static size_t clen_len[64];

__attribute__((noinline)) static void run_loom_encode(size_t n)
{
    hpack_encoder_t e;
    uint8_t buf[512], *p;
    size_t i;

    hpack_encoder_init(&e, 4096, 1);
    for (i = 0; i < n; i++) {
        p = hpack_encode_begin(&e, buf);
        p = hpack_encode_status(&e, p, 200);
        p = hpack_encode_field(&e, p, "server", 6, "loom", 4, 0);
        p = hpack_encode_field(&e, p, "date", 4, date, sizeof(date) - 1, 0);
        p = hpack_encode_field(&e, p, "content-type", 12,
                               "text/plain; charset=utf-8", 25, 0);
        p = hpack_encode_field(&e, p, "content-length", 14, clens[i % 64],
                               clen_len[i % 64], 0);
        sink += (size_t)(p - buf);
    }
    hpack_encoder_free(&e);
}

__attribute__((noinline)) static void run_nghttp2_encode(size_t n)
{
    nghttp2_hd_deflater *def;
    uint8_t buf[512];
    nghttp2_nv nv[] = {NV(":status", "200"), NV("server", "loom"),
                       NV("date", date),
                       NV("content-type", "text/plain; charset=utf-8"),
                       NV("content-length", "0")};
    size_t i;

    nghttp2_hd_deflate_new(&def, 4096);
    for (i = 0; i < n; i++) {
        ssize_t r;

        nv[4].value = (uint8_t *)clens[i % 64];
        nv[4].valuelen = clen_len[i % 64];
        r = nghttp2_hd_deflate_hd(def, buf, sizeof(buf), nv, 5);
        if (r < 0)
            abort();
        sink += (size_t)r;
    }
    nghttp2_hd_deflate_del(def);
}

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? (size_t)strtoul(argv[1], NULL, 10) : 10000;
    blocks_t b;
    double t;
    int k;

    if (n == 0)
        n = 1;
    for (k = 0; k < 64; k++)
        clen_len[k] =
            (size_t)snprintf(clens[k], sizeof(clens[0]), "%d", 100 + k);
    make_requests(&b, n);
    printf("request blocks: first %zu bytes, last %zu bytes\n", b.len[0],
           b.len[n - 1]);
    t = now();
    run_loom_decode(&b);
    printf("loom decode     %8.1f ns/head\n", (now() - t) * 1e9 / (double)n);
    t = now();
    run_nghttp2_decode(&b);
    printf("nghttp2 inflate %8.1f ns/head\n", (now() - t) * 1e9 / (double)n);
    t = now();
    run_loom_encode(n);
    printf("loom encode     %8.1f ns/head\n", (now() - t) * 1e9 / (double)n);
    t = now();
    run_nghttp2_encode(n);
    printf("nghttp2 deflate %8.1f ns/head\n", (now() - t) * 1e9 / (double)n);
    free(b.buf);
    free(b.off);
    free(b.len);
    return sink == 0;
}
