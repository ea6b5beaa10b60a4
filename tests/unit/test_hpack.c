/*
 * test_hpack.c - loom's HPACK coder (protocols/http/hpack.h): the examples
 * of RFC 7541 Appendix C (integers, single representations, request and
 * response sequences with and without Huffman coding), decoded and, where
 * our encoder makes the same choices, encoded byte for byte; every
 * decoding error; the header-list limit; and random round trips against
 * nghttp2's own HPACK coder (nghttp2_hd_deflate / nghttp2_hd_inflate) as
 * an independent peer, in both directions, under table pressure and
 * table-size changes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <nghttp2/nghttp2.h>

#include "hpack.h"

/* ---- helpers ------------------------------------------------------------ */

#define MAX_LIST 256

typedef struct {
    size_t n;
    int stop_at; /* callback fails on this field (1-based), 0 never */
    struct {
        char *name, *value;
        size_t nl, vl;
        unsigned name_index, flags;
    } f[MAX_LIST];
} list_t;

static int collect(void *ud, const hpack_field_t *f)
{
    list_t *l = ud;

    assert_true(l->n < MAX_LIST);
    if (l->stop_at && (int)l->n + 1 == l->stop_at)
        return -1;
    l->f[l->n].name = malloc(f->name_len + 1);
    l->f[l->n].value = malloc(f->value_len + 1);
    memcpy(l->f[l->n].name, f->name, f->name_len);
    memcpy(l->f[l->n].value, f->value, f->value_len);
    l->f[l->n].name[f->name_len] = l->f[l->n].value[f->value_len] = 0;
    l->f[l->n].nl = f->name_len;
    l->f[l->n].vl = f->value_len;
    l->f[l->n].name_index = f->name_index;
    l->f[l->n].flags = f->flags;
    l->n++;
    return 0;
}

static void list_clear(list_t *l)
{
    size_t i;

    for (i = 0; i < l->n; i++) {
        free(l->f[i].name);
        free(l->f[i].value);
    }
    l->n = 0;
    l->stop_at = 0;
}

/* Hex digits (spaces ignored) into BUF; returns the byte count. */
static size_t unhex(const char *hex, uint8_t *buf)
{
    size_t n = 0;
    int hi = -1;

    for (; *hex; hex++) {
        int v;

        if (*hex == ' ' || *hex == '\n')
            continue;
        v = (*hex >= 'a') ? *hex - 'a' + 10 : *hex - '0';
        if (hi < 0) {
            hi = v;
        } else {
            buf[n++] = (uint8_t)(hi << 4 | v);
            hi = -1;
        }
    }
    assert_int_equal(hi, -1);
    return n;
}

/* "name: value" lines expected in L, in order. */
static void expect_list(const list_t *l, const char *const *want, size_t n)
{
    size_t i;
    char line[512];

    assert_int_equal(l->n, n);
    for (i = 0; i < n; i++) {
        snprintf(line, sizeof(line), "%s: %s", l->f[i].name, l->f[i].value);
        assert_string_equal(line, want[i]);
    }
}

static int decode_hex(hpack_decoder_t *d, const char *hex, list_t *l)
{
    uint8_t buf[1024];
    size_t n = unhex(hex, buf);

    return hpack_decode(d, buf, n, collect, l);
}

/* The dynamic table's entries, newest first, as "name: value". */
static void expect_table(const hpack_table_t *t, const char *const *want,
                         size_t n, uint32_t size)
{
    size_t i;
    char line[512];

    assert_int_equal(t->next - t->first, n);
    for (i = 0; i < n; i++) {
        const hpack_entry_t *e = &t->ent[(t->next - 1 - i) & t->ent_mask];

        snprintf(line, sizeof(line), "%.*s: %.*s", (int)e->name_len,
                 t->arena + e->off, (int)e->value_len,
                 t->arena + e->off + e->name_len);
        assert_string_equal(line, want[i]);
    }
    assert_int_equal(t->size, size);
}

/* ---- C.1 integers ------------------------------------------------------- */

static void test_c1_integers(void **state)
{
    uint8_t buf[8], *end;
    const uint8_t *p;
    uint32_t v;

    (void)state;
    end = hpack_int_encode(buf, 5, 0xe0, 10); /* C.1.1 */
    assert_int_equal(end - buf, 1);
    assert_int_equal(buf[0], 0xea);
    p = buf;
    assert_int_equal(hpack_int_decode(&p, end, 5, &v), 0);
    assert_int_equal(v, 10);
    end = hpack_int_encode(buf, 5, 0, 1337); /* C.1.2 */
    assert_int_equal(end - buf, 3);
    assert_memory_equal(buf, "\x1f\x9a\x0a", 3);
    p = buf;
    assert_int_equal(hpack_int_decode(&p, end, 5, &v), 0);
    assert_int_equal(v, 1337);
    assert_ptr_equal(p, end);
    end = hpack_int_encode(buf, 8, 0, 42); /* C.1.3 */
    assert_int_equal(end - buf, 1);
    assert_int_equal(buf[0], 42);
    /* the largest value, and one past it */
    end = hpack_int_encode(buf, 5, 0, UINT32_MAX);
    assert_int_equal(end - buf, 6);
    p = buf;
    assert_int_equal(hpack_int_decode(&p, end, 5, &v), 0);
    assert_int_equal(v, UINT32_MAX);
    memcpy(buf, "\x1f\xe0\xff\xff\xff\x0f", 6); /* 31 + 2^32 - 32 */
    p = buf;
    assert_int_equal(hpack_int_decode(&p, buf + 6, 5, &v), 0);
    assert_int_equal(v, UINT32_MAX);
    memcpy(buf, "\x1f\xe1\xff\xff\xff\x0f", 6); /* 2^32 */
    p = buf;
    assert_int_equal(hpack_int_decode(&p, buf + 6, 5, &v), HPACK_ERR_INTEGER);
    /* zero continuation bytes padding a small value: over-long */
    memcpy(buf, "\x1f\x80\x80\x80\x80\x80\x00", 7);
    p = buf;
    assert_int_equal(hpack_int_decode(&p, buf + 7, 5, &v), HPACK_ERR_INTEGER);
    memcpy(buf, "\x1f\x9a", 2); /* cut */
    p = buf;
    assert_int_equal(hpack_int_decode(&p, buf + 2, 5, &v), HPACK_ERR_TRUNCATED);
    p = buf;
    assert_int_equal(hpack_int_decode(&p, buf, 5, &v), HPACK_ERR_TRUNCATED);
}

/* ---- C.2 single representations ---------------------------------------- */

static void test_c2_representations(void **state)
{
    static const char *const c21[] = {"custom-key: custom-header"};
    static const char *const c22[] = {":path: /sample/path"};
    static const char *const c23[] = {"password: secret"};
    static const char *const c24[] = {":method: GET"};
    hpack_decoder_t d;
    list_t l = {0};

    (void)state;
    hpack_decoder_init(&d, 4096, UINT32_MAX);
    assert_int_equal(decode_hex(&d,
                                "400a 6375 7374 6f6d 2d6b 6579 0d63 7573"
                                "746f 6d2d 6865 6164 6572",
                                &l),
                     HPACK_OK);
    expect_list(&l, c21, 1);
    assert_int_equal(l.f[0].name_index, 0);
    expect_table(&d.t, c21, 1, 55);
    list_clear(&l);
    hpack_decoder_free(&d);

    hpack_decoder_init(&d, 4096, UINT32_MAX);
    assert_int_equal(decode_hex(&d, "040c 2f73 616d 706c 652f 7061 7468", &l),
                     HPACK_OK);
    expect_list(&l, c22, 1);
    assert_int_equal(l.f[0].name_index, HPACK_IDX_PATH);
    assert_int_equal(l.f[0].flags, 0);
    expect_table(&d.t, NULL, 0, 0);
    list_clear(&l);
    hpack_decoder_free(&d);

    hpack_decoder_init(&d, 4096, UINT32_MAX);
    assert_int_equal(decode_hex(&d,
                                "1008 7061 7373 776f 7264 0673 6563 7265"
                                "74",
                                &l),
                     HPACK_OK);
    expect_list(&l, c23, 1);
    assert_int_equal(l.f[0].flags, HPACK_FIELD_NEVER_INDEXED);
    expect_table(&d.t, NULL, 0, 0);
    list_clear(&l);
    hpack_decoder_free(&d);

    hpack_decoder_init(&d, 4096, UINT32_MAX);
    assert_int_equal(decode_hex(&d, "82", &l), HPACK_OK);
    expect_list(&l, c24, 1);
    assert_int_equal(l.f[0].name_index, HPACK_IDX_METHOD);
    expect_table(&d.t, NULL, 0, 0);
    list_clear(&l);
    hpack_decoder_free(&d);
}

/* ---- C.3 - C.6 sequences ------------------------------------------------ */

static const char *const req1[] = {":method: GET", ":scheme: http", ":path: /",
                                   ":authority: www.example.com"};
static const char *const req2[] = {":method: GET", ":scheme: http", ":path: /",
                                   ":authority: www.example.com",
                                   "cache-control: no-cache"};
static const char *const req3[] = {
    ":method: GET", ":scheme: https", ":path: /index.html",
    ":authority: www.example.com", "custom-key: custom-value"};
static const char *const req_t1[] = {":authority: www.example.com"};
static const char *const req_t2[] = {"cache-control: no-cache",
                                     ":authority: www.example.com"};
static const char *const req_t3[] = {"custom-key: custom-value",
                                     "cache-control: no-cache",
                                     ":authority: www.example.com"};

static const char *const resp1[] = {":status: 302", "cache-control: private",
                                    "date: Mon, 21 Oct 2013 20:13:21 GMT",
                                    "location: https://www.example.com"};
static const char *const resp2[] = {":status: 307", "cache-control: private",
                                    "date: Mon, 21 Oct 2013 20:13:21 GMT",
                                    "location: https://www.example.com"};
static const char *const resp3[] = {
    ":status: 200",
    "cache-control: private",
    "date: Mon, 21 Oct 2013 20:13:22 GMT",
    "location: https://www.example.com",
    "content-encoding: gzip",
    "set-cookie: foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1"};
static const char *const resp_t1[] = {"location: https://www.example.com",
                                      "date: Mon, 21 Oct 2013 20:13:21 GMT",
                                      "cache-control: private", ":status: 302"};
static const char *const resp_t2[] = {
    ":status: 307", "location: https://www.example.com",
    "date: Mon, 21 Oct 2013 20:13:21 GMT", "cache-control: private"};
static const char *const resp_t3[] = {
    "set-cookie: foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1",
    "content-encoding: gzip", "date: Mon, 21 Oct 2013 20:13:22 GMT"};

/* C.3 (plain) and C.4 (Huffman) request blocks */
static const char *const c3_hex[] = {
    "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
    "8286 84be 5808 6e6f 2d63 6163 6865",
    ("8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 "
     "65")};
static const char *const c4_hex[] = {
    "8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff",
    "8286 84be 5886 a8eb 1064 9cbf",
    "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf"};
/* C.5 (plain) and C.6 (Huffman) response blocks, table size 256 */
static const char *const c5_hex[] = {
    ("4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 "
     "3230 3133 2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 "
     "7777 2e65 7861 6d70 6c65 2e63 6f6d"),
    "4803 3330 37c1 c0bf",
    ("88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 "
     "3220 474d 54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a "
     "584f 5157 454f 5049 5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 "
     "3630 303b 2076 6572 7369 6f6e 3d31")};
static const char *const c6_hex[] = {
    ("4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 "
     "66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3"),
    "4883 640e ffc1 c0bf",
    ("88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a "
     "839b d9ab 77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 "
     "72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07")};

typedef struct {
    const char *const *list;
    size_t n;
    const char *const *table;
    size_t tn;
    uint32_t size;
} step_t;

static const step_t req_steps[] = {{req1, 4, req_t1, 1, 57},
                                   {req2, 5, req_t2, 2, 110},
                                   {req3, 5, req_t3, 3, 164}};
static const step_t resp_steps[] = {{resp1, 4, resp_t1, 4, 222},
                                    {resp2, 4, resp_t2, 4, 222},
                                    {resp3, 6, resp_t3, 3, 215}};

static void decode_sequence(const char *const *hex, const step_t *steps,
                            uint32_t table)
{
    hpack_decoder_t d;
    list_t l = {0};
    size_t i;

    hpack_decoder_init(&d, table, UINT32_MAX);
    for (i = 0; i < 3; i++) {
        assert_int_equal(decode_hex(&d, hex[i], &l), HPACK_OK);
        expect_list(&l, steps[i].list, steps[i].n);
        expect_table(&d.t, steps[i].table, steps[i].tn, steps[i].size);
        list_clear(&l);
    }
    hpack_decoder_free(&d);
}

static void test_c3_c4_requests_decode(void **state)
{
    (void)state;
    decode_sequence(c3_hex, req_steps, 4096);
    decode_sequence(c4_hex, req_steps, 4096);
}

static void test_c5_c6_responses_decode(void **state)
{
    (void)state;
    decode_sequence(c5_hex, resp_steps, 256);
    decode_sequence(c6_hex, resp_steps, 256);
}

/* Encode STEP's list with E (every field indexed, as the RFC's encoder
 * did) and return the length; PREFIX bytes of size update come first. */
static size_t encode_step(hpack_encoder_t *e, const step_t *step, uint8_t *buf)
{
    uint8_t *p = hpack_encode_begin(e, buf);
    size_t i;

    for (i = 0; i < step->n; i++) {
        const char *line = step->list[i];
        const char *colon = strchr(line + 1, ':');

        p = hpack_encode_field(e, p, line, (size_t)(colon - line), colon + 2,
                               strlen(colon + 2), HPACK_ENC_INDEX);
    }
    return (size_t)(p - buf);
}

static void encode_sequence(const char *const *hex, const step_t *steps,
                            uint32_t peer_max, int huffman, int skip)
{
    hpack_encoder_t e;
    uint8_t buf[1024], want[1024];
    size_t i, n, wn, off = 0;

    hpack_encoder_init(&e, 4096, huffman);
    if (peer_max != 4096) {
        hpack_encoder_set_peer_max(&e, peer_max);
        off = 3; /* the size update: 001 11111 + 225 */
    }
    for (i = 0; i < 3; i++) {
        n = encode_step(&e, &steps[i], buf);
        if (i == 0 && off) {
            assert_memory_equal(buf, "\x3f\xe1\x01", 3);
        } else {
            off = 0;
        }
        expect_table(&e.t, steps[i].table, steps[i].tn, steps[i].size);
        if ((int)i == skip)
            continue;
        wn = unhex(hex[i], want);
        assert_int_equal(n - off, wn);
        assert_memory_equal(buf + off, want, wn);
    }
    hpack_encoder_free(&e);
}

static void test_c3_to_c6_encode(void **state)
{
    (void)state;
    encode_sequence(c3_hex, req_steps, 4096, 0, -1);
    encode_sequence(c4_hex, req_steps, 4096, 1, -1);
    encode_sequence(c5_hex, resp_steps, 256, 0, -1);
    /* C.6.2 Huffman-codes "307" into as many bytes as it has; we send
     * such strings plain */
    encode_sequence(c6_hex, resp_steps, 256, 1, 1);
}

/* ---- errors ------------------------------------------------------------- */

typedef struct {
    const char *what;
    const char *hex;
    int rc;
} bad_t;

static const bad_t bad[] = {
    {"index 0", "80", HPACK_ERR_INDEX},
    {"index past an empty dynamic table", "be", HPACK_ERR_INDEX},
    {"index far past the tables", "ff 80 01", HPACK_ERR_INDEX},
    {"literal name index 0 is a literal name; 62 is past", "7e 01 61",
     HPACK_ERR_INDEX},
    {"never-indexed name index past", "1f 2f 01 61", HPACK_ERR_INDEX},
    {"size update above the bound", "3f e2 1f", HPACK_ERR_SIZE_UPDATE},
    {"size update after a field", "82 20", HPACK_ERR_SIZE_UPDATE},
    {"size update between fields", "20 82 3f e1 01", HPACK_ERR_SIZE_UPDATE},
    {"integer cut", "ff", HPACK_ERR_TRUNCATED},
    {"integer cut in continuation", "ff 80", HPACK_ERR_TRUNCATED},
    {"integer above 2^32-1", "ff ff ff ff ff 7f", HPACK_ERR_INTEGER},
    {"integer over-long", "ff 80 80 80 80 80 00", HPACK_ERR_INTEGER},
    {"string length above 2^32-1", "40 7f ff ff ff ff 7f", HPACK_ERR_INTEGER},
    {"name string cut", "40 05 61 62", HPACK_ERR_TRUNCATED},
    {"value missing", "40 01 61", HPACK_ERR_TRUNCATED},
    {"value string cut", "40 01 61 03 61", HPACK_ERR_TRUNCATED},
    {"indexed name, value cut", "04 0c 2f", HPACK_ERR_TRUNCATED},
    {"size update cut", "3f", HPACK_ERR_TRUNCATED},
    {"Huffman EOS in a string", "04 84 ff ff ff ff", HPACK_ERR_HUFFMAN},
    {"Huffman EOS then a symbol", "04 85 ff ff ff fc 00", HPACK_ERR_HUFFMAN},
    {"Huffman padding of 11 bits", "04 82 1f ff", HPACK_ERR_HUFFMAN},
    {"Huffman padding of a whole byte", "04 81 ff", HPACK_ERR_HUFFMAN},
    {"Huffman padding not ones", "04 81 18", HPACK_ERR_HUFFMAN},
    {"Huffman name padding not ones", "40 81 18 01 61", HPACK_ERR_HUFFMAN},
};

static void test_decode_errors(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        hpack_decoder_t d;
        list_t l = {0};
        int rc;

        hpack_decoder_init(&d, 4096, UINT32_MAX);
        rc = decode_hex(&d, bad[i].hex, &l);
        if (rc != bad[i].rc)
            fail_msg("%s: got %d, want %d", bad[i].what, rc, bad[i].rc);
        assert_true(HPACK_CONNECTION_ERROR(rc));
        list_clear(&l);
        hpack_decoder_free(&d);
    }
}

static void test_decode_size_updates(void **state)
{
    hpack_decoder_t d;
    list_t l = {0};

    (void)state;
    hpack_decoder_init(&d, 4096, UINT32_MAX);
    /* two updates at the start are fine; 4096 exactly is allowed */
    assert_int_equal(decode_hex(&d, "20 3f e1 1f 82", &l), HPACK_OK);
    assert_int_equal(d.t.max, 4096);
    list_clear(&l);
    assert_int_equal(decode_hex(&d, "40 01 61 01 62", &l), HPACK_OK);
    assert_int_equal(d.t.size, 34);
    list_clear(&l);
    /* shrinking below the entry evicts it */
    assert_int_equal(decode_hex(&d, "3f 02", &l), HPACK_OK); /* 33 */
    assert_int_equal(d.t.size, 0);
    assert_int_equal(d.t.max, 33);
    assert_int_equal(decode_hex(&d, "be", &l), HPACK_ERR_INDEX);
    hpack_decoder_free(&d);

    /* an entry larger than the table empties it and is not added */
    hpack_decoder_init(&d, 40, UINT32_MAX);
    assert_int_equal(decode_hex(&d,
                                "40 01 61 01 62 40 01 63 08 3132 3334 "
                                "3536 3738 be",
                                &l),
                     HPACK_ERR_INDEX);
    assert_int_equal(l.n, 2);
    assert_int_equal(d.t.size, 0);
    list_clear(&l);
    hpack_decoder_free(&d);

    /* a table of size 0: nothing is ever stored */
    hpack_decoder_init(&d, 0, UINT32_MAX);
    assert_int_equal(decode_hex(&d, "40 01 61 01 62", &l), HPACK_OK);
    assert_int_equal(d.t.size, 0);
    assert_int_equal(decode_hex(&d, "be", &l), HPACK_ERR_INDEX);
    list_clear(&l);
    hpack_decoder_free(&d);
}

static void test_decode_list_limit(void **state)
{
    hpack_decoder_t d;
    list_t l = {0};

    (void)state;
    /* 82 86 84: 42 + 43 + 38 = 123 > 100, so :path is not handed out;
     * the literal after it still enters the table */
    hpack_decoder_init(&d, 4096, 100);
    assert_int_equal(decode_hex(&d, "82 86 84 40 01 61 01 62", &l),
                     HPACK_ERR_LIST_SIZE);
    assert_int_equal(l.n, 2);
    assert_false(HPACK_CONNECTION_ERROR(HPACK_ERR_LIST_SIZE));
    assert_int_equal(d.t.size, 34);
    list_clear(&l);
    /* the decoder is still in step: the entry is usable */
    assert_int_equal(decode_hex(&d, "be", &l), HPACK_OK);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.f[0].name, "a");
    assert_string_equal(l.f[0].value, "b");
    list_clear(&l);
    /* exactly at the limit is fine: 42 + 43 + 34 = 119 */
    hpack_decoder_free(&d);
    hpack_decoder_init(&d, 4096, 119);
    assert_int_equal(decode_hex(&d, "82 86 40 01 61 01 62", &l), HPACK_OK);
    assert_int_equal(l.n, 3);
    list_clear(&l);
    hpack_decoder_free(&d);
}

static void test_decode_callback_stop(void **state)
{
    hpack_decoder_t d;
    list_t l = {0};

    (void)state;
    hpack_decoder_init(&d, 4096, UINT32_MAX);
    /* an empty block is an empty list */
    assert_int_equal(hpack_decode(&d, NULL, 0, collect, &l), HPACK_OK);
    assert_int_equal(l.n, 0);
    l.stop_at = 2;
    assert_int_equal(decode_hex(&d, "82 86 84", &l), HPACK_ERR_CALLBACK);
    assert_int_equal(l.n, 1);
    assert_true(HPACK_CONNECTION_ERROR(HPACK_ERR_CALLBACK));
    list_clear(&l);
    hpack_decoder_free(&d);
}

/* A literal with incremental indexing whose name is a dynamic entry that
 * the insertion evicts (RFC 7541 4.4) and entries that wrap the arena. */
static void test_decode_evicted_name(void **state)
{
    hpack_decoder_t d;
    list_t l = {0};
    int i;

    (void)state;
    hpack_decoder_init(&d, 70, UINT32_MAX);
    /* "abc: x" (36); then "abc" (index 62) with a 32-byte value (67):
     * the insertion evicts the entry its name came from */
    assert_int_equal(decode_hex(&d, "40 03 616263 01 78", &l), HPACK_OK);
    assert_int_equal(decode_hex(&d,
                                "7e 20 3031323334353637383930313233343536373839"
                                "303132333435363738393031",
                                &l),
                     HPACK_OK);
    assert_string_equal(l.f[1].name, "abc");
    assert_int_equal(d.t.next - d.t.first, 1);
    list_clear(&l);
    /* many insertions: the arena is compacted again and again */
    for (i = 0; i < 200; i++) {
        char hex[64];

        snprintf(hex, sizeof(hex), "40 02 6162 02 %02x%02x be", 0x30 + i % 10,
                 0x30 + i % 7);
        assert_int_equal(decode_hex(&d, hex, &l), HPACK_OK);
        assert_int_equal(l.n, 2);
        assert_string_equal(l.f[0].value, l.f[1].value);
        list_clear(&l);
    }
    hpack_decoder_free(&d);
}

/* The ring and arena grow from their small start to the table's bound:
 * 128 entries of 32 bytes (empty name and value) fill 4096 exactly, all
 * reachable; then entries with bytes move through the grown arena. */
static void test_decode_table_growth(void **state)
{
    hpack_decoder_t d;
    list_t l = {0};
    uint8_t blk[600];
    size_t i, n;

    (void)state;
    hpack_decoder_init(&d, 4096, UINT32_MAX);
    for (i = 0; i < 128; i++)
        memcpy(blk + 3 * i, "\x40\x00\x00", 3);
    assert_int_equal(hpack_decode(&d, blk, 384, collect, &l), HPACK_OK);
    assert_int_equal(l.n, 128);
    assert_int_equal(d.t.size, 4096);
    assert_int_equal(d.t.next - d.t.first, 128);
    list_clear(&l);
    /* index 61 + 128 = 189 is the oldest; 190 is past */
    assert_int_equal(decode_hex(&d, "ff 3e", &l), HPACK_OK);
    assert_int_equal(decode_hex(&d, "ff 3f", &l), HPACK_ERR_INDEX);
    list_clear(&l);
    hpack_decoder_free(&d);

    hpack_decoder_init(&d, 4096, UINT32_MAX);
    for (i = 0; i < 300; i++) {
        /* "k": a value of 1..200 bytes, then the entry read back */
        size_t vl = 1 + (i * 37) % 200;

        n = 0;
        blk[n++] = 0x40;
        blk[n++] = 1;
        blk[n++] = 'k';
        blk[n++] = 0x7f; /* 127 + (vl - 127), or vl below 127 */
        if (vl >= 127) {
            blk[n++] = (uint8_t)(vl - 127);
        } else {
            blk[n - 1] = (uint8_t)vl;
        }
        memset(blk + n, 'a' + (int)(i % 26), vl);
        n += vl;
        blk[n++] = 0xbe;
        assert_int_equal(hpack_decode(&d, blk, n, collect, &l), HPACK_OK);
        assert_int_equal(l.n, 2);
        assert_int_equal(l.f[1].vl, vl);
        assert_memory_equal(l.f[0].value, l.f[1].value, vl);
        assert_true(d.t.size <= 4096);
        assert_true(d.t.arena_cap <= 8192);
        list_clear(&l);
    }
    hpack_decoder_free(&d);
}

static void test_field_syntax(void **state)
{
    (void)state;
    assert_true(hpack_name_ok(":path", 5));
    assert_true(hpack_name_ok("x-foo_bar.1~", 12));
    assert_false(hpack_name_ok("", 0));
    assert_false(hpack_name_ok(":", 1));
    assert_false(hpack_name_ok("X-Foo", 5));
    assert_false(hpack_name_ok("a b", 3));
    assert_false(hpack_name_ok("a:b", 3));
    assert_false(hpack_name_ok("a\x80", 2));
    assert_true(hpack_value_ok("", 0));
    assert_true(hpack_value_ok("a b\tc", 5));
    assert_false(hpack_value_ok(" a", 2));
    assert_false(hpack_value_ok("a\t", 2));
    assert_false(hpack_value_ok("a\rb", 3));
    assert_false(hpack_value_ok("a\nb", 3));
    assert_false(hpack_value_ok("a\0b", 3));
    { /* every length to 24 and position, through the word-wise scan */
        static const char nope[] = {'\0', '\r', '\n'};
        char v[24];
        size_t len, at, k;

        memset(v, 'a', sizeof(v));
        v[3] = '\x8a'; /* high bytes next to the ones sought are fine */
        v[17] = '\x0b';
        for (len = 0; len <= sizeof(v); len++) {
            assert_true(hpack_value_ok(v, len));
            for (at = 1; at + 1 < len; at++) {
                for (k = 0; k < sizeof(nope); k++) {
                    char keep = v[at];

                    v[at] = nope[k];
                    assert_false(hpack_value_ok(v, len));
                    v[at] = keep;
                }
            }
        }
    }
    assert_int_equal(hpack_static_name_index(":status", 7), HPACK_IDX_STATUS);
    assert_int_equal(hpack_static_name_index("www-authenticate", 16), 61);
    assert_int_equal(hpack_static_name_index("content-length", 14),
                     HPACK_IDX_CONTENT_LENGTH);
    assert_int_equal(hpack_static_name_index("x-content-length", 16), 0);
    assert_int_equal(hpack_static_name_index("", 0), 0);
}

/* The decoder reports bad field syntax in the flags, for a literal and
 * again, from the table entry's verdict, for each reference to it. */
static void test_decode_syntax_flags(void **state)
{
    hpack_decoder_t d;
    list_t l = {0};
    const unsigned bn = HPACK_FIELD_BAD_NAME, bv = HPACK_FIELD_BAD_VALUE;

    (void)state;
    hpack_decoder_init(&d, 4096, UINT32_MAX);
    assert_int_equal(decode_hex(&d,
                                "4005 582d 466f 6f01 61" /* X-Foo: a, indexed */
                                "be"                     /* X-Foo: a */
                                "7e02 2078" /* X-Foo: " x" (name from 62) */
                                "bf"        /* X-Foo: a (now 63) */
                                "be"        /* X-Foo: " x" */
                                "4003 6162 6301 62" /* abc: b, indexed */
                                "be"                /* abc: b */
                                "4103 0061 0d"      /* :authority: "\0a\r" */
                                "be"                /* the same, indexed */
                                "1003 6b65 7901 2e" /* key: ., never indexed */
                                "1004 4b65 7921 01 2e" /* Key!: ., never */
                                "82",                  /* :method: GET */
                                &l),
                     HPACK_OK);
    assert_int_equal(l.n, 12);
    assert_int_equal(l.f[0].flags, bn);
    assert_int_equal(l.f[1].flags, bn);
    assert_int_equal(l.f[2].flags, bn | bv);
    assert_int_equal(l.f[3].flags, bn);
    assert_int_equal(l.f[4].flags, bn | bv);
    assert_int_equal(l.f[5].flags, 0);
    assert_int_equal(l.f[6].flags, 0);
    assert_int_equal(l.f[7].flags, bv);
    assert_int_equal(l.f[8].flags, bv);
    assert_int_equal(l.f[9].flags, HPACK_FIELD_NEVER_INDEXED);
    assert_int_equal(l.f[10].flags, HPACK_FIELD_NEVER_INDEXED | bn);
    assert_int_equal(l.f[11].flags, 0);
    list_clear(&l);
    hpack_decoder_free(&d);
}

static void test_encode_status_and_policy(void **state)
{
    hpack_encoder_t e;
    uint8_t buf[256], *p;

    (void)state;
    hpack_encoder_init(&e, 4096, 0);
    p = hpack_encode_begin(&e, buf);
    assert_ptr_equal(p, buf); /* nothing pending at 4096 */
    p = hpack_encode_status(&e, buf, 200);
    assert_int_equal(p - buf, 1);
    assert_int_equal(buf[0], 0x88);
    p = hpack_encode_status(&e, buf, 500);
    assert_int_equal(buf[0], 0x8e);
    /* 302 is not static: indexed-name literal, indexed; then one byte */
    p = hpack_encode_status(&e, buf, 302);
    assert_int_equal(p - buf, 5);
    assert_memory_equal(buf,
                        "\x48\x03"
                        "302",
                        5);
    p = hpack_encode_status(&e, buf, 302);
    assert_int_equal(p - buf, 1);
    assert_int_equal(buf[0], 0xbe);
    /* content-length is not indexed by default, server is */
    p = hpack_encode_field(&e, buf, "content-length", 14, "12", 2, 0);
    assert_memory_equal(buf,
                        "\x0f\x0d\x02"
                        "12",
                        5);
    p = hpack_encode_field(&e, buf, "server", 6, "loom", 4, 0);
    assert_memory_equal(buf,
                        "\x76\x04"
                        "loom",
                        6);
    p = hpack_encode_field(&e, buf, "server", 6, "loom", 4, 0);
    assert_int_equal(p - buf, 1);
    assert_int_equal(buf[0], 0xbe);
    /* never indexed: 0001 + name index, never a table match */
    p = hpack_encode_field(&e, buf, "server", 6, "loom", 4,
                           HPACK_ENC_NEVER_INDEX);
    assert_memory_equal(buf,
                        "\x1f\x27\x04"
                        "loom",
                        7);
    /* a custom name found in the dynamic table is referenced */
    p = hpack_encode_field(&e, buf, "x-a", 3, "1", 1, HPACK_ENC_INDEX);
    assert_memory_equal(buf,
                        "\x40\x03x-a\x01"
                        "1",
                        7);
    p = hpack_encode_field(&e, buf, "x-a", 3, "2", 1, HPACK_ENC_NO_INDEX);
    assert_int_equal(p - buf, 4);
    assert_memory_equal(buf,
                        "\x0f\x2f\x01"
                        "2",
                        4); /* 62 = 15 + 47 */
    hpack_encoder_free(&e);

    /* the newest entry of a static name is tried first, older ones are
     * still found, and a caller may give the static index itself; a date
     * and an etag are indexed (they repeat), content-length is not */
    hpack_encoder_init(&e, 4096, 0);
    p = hpack_encode_field(&e, buf, "server", 6, "a", 1, 0);
    assert_int_equal(buf[0], 0x76); /* inserted: 62 */
    p = hpack_encode_field_idx(&e, buf, "server", 6, HPACK_IDX_SERVER, "b", 1,
                               0);
    assert_int_equal(buf[0], 0x76); /* inserted: 62, "a" now 63 */
    p = hpack_encode_field_idx(&e, buf, "server", 6, HPACK_IDX_SERVER, "b", 1,
                               0);
    assert_int_equal(p - buf, 1);
    assert_int_equal(buf[0], 0xbe); /* the newest */
    p = hpack_encode_field(&e, buf, "server", 6, "a", 1, 0);
    assert_int_equal(p - buf, 1);
    assert_int_equal(buf[0], 0xbf); /* found by its hash */
    p = hpack_encode_field_idx(&e, buf, "date", 4, HPACK_IDX_DATE, "d", 1, 0);
    assert_int_equal(buf[0], 0x61); /* 0x40 | 33: indexed */
    p = hpack_encode_field(&e, buf, "etag", 4, "e", 1, 0);
    assert_int_equal(buf[0], 0x62); /* 0x40 | 34: indexed */
    p = hpack_encode_field(&e, buf, "etag", 4, "e", 1, 0);
    assert_int_equal(p - buf, 1);
    assert_int_equal(buf[0], 0xbe);
    assert_true(hpack_name_volatile(HPACK_IDX_CONTENT_LENGTH));
    assert_false(hpack_name_volatile(HPACK_IDX_DATE));
    hpack_encoder_free(&e);

    /* an evicted newest entry is not used: a table of one entry */
    hpack_encoder_init(&e, 40, 0);
    p = hpack_encode_begin(&e, buf);
    p = hpack_encode_field(&e, buf, "server", 6, "a", 1, 0); /* 39 bytes */
    p = hpack_encode_field(&e, buf, "x", 1, "y", 1, HPACK_ENC_INDEX);
    p = hpack_encode_field(&e, buf, "server", 6, "a", 1, 0);
    assert_int_equal(buf[0], 0x76); /* evicted: a literal again */
    hpack_encoder_free(&e);

    /* an encoder allowed less than 4096 says so in its first block */
    hpack_encoder_init(&e, 100, 0);
    p = hpack_encode_begin(&e, buf);
    assert_int_equal(p - buf, 2);
    assert_memory_equal(buf, "\x3f\x45", 2); /* 31 + 69 = 100 */
    p = hpack_encode_begin(&e, buf);
    assert_ptr_equal(p, buf);
    /* down to 0 and up to 50 before the next block: both are sent */
    hpack_encoder_set_peer_max(&e, 0);
    hpack_encoder_set_peer_max(&e, 50);
    p = hpack_encode_begin(&e, buf);
    assert_int_equal(p - buf, 3);
    assert_memory_equal(buf, "\x20\x3f\x13", 3);
    hpack_encoder_free(&e);
}

/* ---- round trips against nghttp2 ---------------------------------------- */

static uint64_t rng = 0x2545f4914f6cdd1dull;

static uint32_t rnd(uint32_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 11) % n;
}

static const char *const pool_names[] = {
    ":status",
    "content-type",
    "server",
    "date",
    "cache-control",
    "content-length",
    "etag",
    "set-cookie",
    "vary",
    "x-request-id",
    "x-custom",
    "accept-ranges",
    "last-modified",
    "location",
    "a",
    "very-long-header-name-that-takes-room-in-the-table"};
static const char *const pool_values[] = {"200",
                                          "text/html; charset=utf-8",
                                          "loom",
                                          "Mon, 07 Dec 2026 20:41:43 GMT",
                                          "no-cache",
                                          "0",
                                          "\"abc\"",
                                          "id=1; HttpOnly",
                                          "accept-encoding",
                                          "",
                                          "gzip, deflate"};

typedef struct {
    size_t n;
    char name[64][80], value[64][600];
    size_t nl[64], vl[64];
    unsigned flags[64];
} rlist_t;

static void random_list(rlist_t *r)
{
    size_t i, j;

    r->n = 1 + rnd(20);
    for (i = 0; i < r->n; i++) {
        const char *nm = pool_names[rnd(sizeof(pool_names) / sizeof(char *))];

        if (rnd(4) == 0) { /* a fresh name */
            r->nl[i] = 1 + rnd(30);
            for (j = 0; j < r->nl[i]; j++)
                r->name[i][j] = (char)('a' + rnd(26));
        } else {
            r->nl[i] = strlen(nm);
            memcpy(r->name[i], nm, r->nl[i]);
        }
        if (rnd(3) == 0) { /* any bytes, up to large */
            r->vl[i] = rnd(rnd(8) == 0 ? 600 : 40);
            for (j = 0; j < r->vl[i]; j++)
                r->value[i][j] = (char)rnd(256);
        } else {
            const char *v =
                pool_values[rnd(sizeof(pool_values) / sizeof(char *))];

            r->vl[i] = strlen(v);
            memcpy(r->value[i], v, r->vl[i]);
        }
        r->flags[i] = rnd(8) == 0   ? HPACK_ENC_NEVER_INDEX
                      : rnd(4) == 0 ? HPACK_ENC_NO_INDEX
                      : rnd(3) == 0 ? HPACK_ENC_INDEX
                                    : 0;
    }
}

static void expect_rlist(const rlist_t *r, const list_t *l)
{
    size_t i;

    assert_int_equal(l->n, r->n);
    for (i = 0; i < r->n; i++) {
        assert_int_equal(l->f[i].nl, r->nl[i]);
        assert_int_equal(l->f[i].vl, r->vl[i]);
        assert_memory_equal(l->f[i].name, r->name[i], r->nl[i]);
        assert_memory_equal(l->f[i].value, r->value[i], r->vl[i]);
    }
}

/* Our encoder -> nghttp2's inflater (and our own decoder alongside). */
static void test_nghttp2_inflates_ours(void **state)
{
    static const uint32_t sizes[] = {4096, 0, 256, 100, 4096, 1000, 65536};
    hpack_encoder_t e;
    hpack_decoder_t d;
    nghttp2_hd_inflater *inf;
    static rlist_t r;
    static uint8_t buf[65536];
    int round;

    (void)state;
    assert_int_equal(nghttp2_hd_inflate_new(&inf), 0);
    hpack_encoder_init(&e, 4096, 1);
    hpack_decoder_init(&d, 65535, UINT32_MAX);
    for (round = 0; round < 3000; round++) {
        uint8_t *p, *in;
        size_t i, len, got = 0;
        list_t l = {0};

        if (round % 97 == 0) {
            uint32_t s = sizes[(round / 97) % 7];

            assert_int_equal(nghttp2_hd_inflate_change_table_size(inf, s), 0);
            hpack_encoder_set_peer_max(&e, s);
        }
        e.huffman = round % 5 != 0;
        random_list(&r);
        p = hpack_encode_begin(&e, buf);
        for (i = 0; i < r.n; i++)
            p = hpack_encode_field(&e, p, r.name[i], r.nl[i], r.value[i],
                                   r.vl[i], r.flags[i]);
        len = (size_t)(p - buf);
        assert_int_equal(hpack_decode(&d, buf, len, collect, &l), HPACK_OK);
        expect_rlist(&r, &l);
        list_clear(&l);
        in = buf;
        for (;;) {
            nghttp2_nv nv;
            int fl = 0;
            ssize_t rv = nghttp2_hd_inflate_hd2(inf, &nv, &fl, in, len, 1);

            assert_true(rv >= 0);
            in += rv;
            len -= (size_t)rv;
            if (fl & NGHTTP2_HD_INFLATE_EMIT) {
                assert_true(got < r.n);
                assert_int_equal(nv.namelen, r.nl[got]);
                assert_int_equal(nv.valuelen, r.vl[got]);
                assert_memory_equal(nv.name, r.name[got], r.nl[got]);
                assert_memory_equal(nv.value, r.value[got], r.vl[got]);
                assert_int_equal((nv.flags & NGHTTP2_NV_FLAG_NO_INDEX) != 0,
                                 (r.flags[got] & HPACK_ENC_NEVER_INDEX) != 0);
                got++;
            }
            if (fl & NGHTTP2_HD_INFLATE_FINAL) {
                nghttp2_hd_inflate_end_headers(inf);
                break;
            }
            if (rv == 0 && len == 0 && !(fl & NGHTTP2_HD_INFLATE_EMIT))
                fail_msg("inflater stalled");
        }
        assert_int_equal(got, r.n);
        assert_true(e.t.size <= e.t.max);
        assert_int_equal(nghttp2_hd_inflate_get_dynamic_table_size(inf),
                         e.t.size);
    }
    nghttp2_hd_inflate_del(inf);
    hpack_encoder_free(&e);
    hpack_decoder_free(&d);
}

/* nghttp2's deflater -> our decoder. */
static void test_ours_inflates_nghttp2(void **state)
{
    static const uint32_t sizes[] = {4096, 0, 256, 100, 4096, 1000, 3000};
    nghttp2_hd_deflater *def;
    hpack_decoder_t d;
    static rlist_t r;
    static uint8_t buf[65536];
    int round;

    (void)state;
    assert_int_equal(nghttp2_hd_deflate_new(&def, 4096), 0);
    hpack_decoder_init(&d, 4096, UINT32_MAX);
    for (round = 0; round < 3000; round++) {
        nghttp2_nv nv[64];
        size_t i;
        ssize_t len;
        list_t l = {0};

        if (round % 89 == 0)
            assert_int_equal(nghttp2_hd_deflate_change_table_size(
                                 def, sizes[(round / 89) % 7]),
                             0);
        random_list(&r);
        for (i = 0; i < r.n; i++) {
            nv[i].name = (uint8_t *)r.name[i];
            nv[i].namelen = r.nl[i];
            nv[i].value = (uint8_t *)r.value[i];
            nv[i].valuelen = r.vl[i];
            nv[i].flags = (r.flags[i] & HPACK_ENC_NEVER_INDEX)
                              ? NGHTTP2_NV_FLAG_NO_INDEX
                              : NGHTTP2_NV_FLAG_NONE;
        }
        len = nghttp2_hd_deflate_hd(def, buf, sizeof(buf), nv, r.n);
        assert_true(len > 0);
        assert_int_equal(hpack_decode(&d, buf, (size_t)len, collect, &l),
                         HPACK_OK);
        expect_rlist(&r, &l);
        for (i = 0; i < r.n; i++)
            assert_int_equal((l.f[i].flags & HPACK_FIELD_NEVER_INDEXED) != 0,
                             (r.flags[i] & HPACK_ENC_NEVER_INDEX) != 0);
        list_clear(&l);
        assert_int_equal(nghttp2_hd_deflate_get_dynamic_table_size(def),
                         d.t.size);
    }
    nghttp2_hd_deflate_del(def);
    hpack_decoder_free(&d);
}

/* Huffman: every byte value round-trips, and nghttp2's inflater reads a
 * string of all 256 bytes we coded. */
static void test_huffman_all_bytes(void **state)
{
    char src[256], back[512];
    uint8_t enc[1024];
    size_t i, hl;
    long n;

    (void)state;
    for (i = 0; i < 256; i++)
        src[i] = (char)i;
    hl = hpack_huff_len(src, 256);
    assert_ptr_equal(hpack_huff_encode(enc, src, 256), enc + hl);
    n = hpack_huff_decode(back, enc, hl);
    assert_int_equal(n, 256);
    assert_memory_equal(back, src, 256);
    for (i = 0; i < 256; i++) { /* one symbol at a time */
        hl = hpack_huff_len(src + i, 1);
        hpack_huff_encode(enc, src + i, 1);
        assert_int_equal(hpack_huff_decode(back, enc, hl), 1);
        assert_int_equal((unsigned char)back[0], i);
    }
    assert_int_equal(hpack_huff_decode(back, enc, 0), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_c1_integers),
        cmocka_unit_test(test_c2_representations),
        cmocka_unit_test(test_c3_c4_requests_decode),
        cmocka_unit_test(test_c5_c6_responses_decode),
        cmocka_unit_test(test_c3_to_c6_encode),
        cmocka_unit_test(test_decode_errors),
        cmocka_unit_test(test_decode_size_updates),
        cmocka_unit_test(test_decode_list_limit),
        cmocka_unit_test(test_decode_callback_stop),
        cmocka_unit_test(test_decode_evicted_name),
        cmocka_unit_test(test_decode_table_growth),
        cmocka_unit_test(test_field_syntax),
        cmocka_unit_test(test_decode_syntax_flags),
        cmocka_unit_test(test_encode_status_and_policy),
        cmocka_unit_test(test_huffman_all_bytes),
        cmocka_unit_test(test_nghttp2_inflates_ours),
        cmocka_unit_test(test_ours_inflates_nghttp2),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
