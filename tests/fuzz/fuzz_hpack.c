/*
 * fuzz_hpack.c - libFuzzer target: the HPACK decoder and encoder (hpack.h).
 *
 * Byte 0 picks the decoder's table bound (bits 0-5 times 64, 0 meaning
 * 4096) and whether the re-encoder Huffman-codes (bit 6); byte 1 the
 * header-list limit (x 16, 0 meaning none).  The rest is a sequence of
 * header blocks, each preceded by its length byte, decoded by one decoder
 * until the first connection error.  Invariants: a field's name_index is
 * the static index of its name exactly when the name is a static one; the
 * table never exceeds its maximum or bound; a block's result is
 * HPACK_OK or an HPACK_ERR_* code; and every list decoded without error is
 * re-encoded by our encoder and decoded by a second decoder into the same
 * list (so the encoder's output is checked as well).  Each block is also
 * fed to the Huffman decoder as one string: a success re-encodes to the
 * same length and decodes back to the same bytes.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hpack.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_MAX_FIELDS 64

typedef struct {
    size_t n;
    uint32_t nl[FZ_MAX_FIELDS], vl[FZ_MAX_FIELDS];
    unsigned flags[FZ_MAX_FIELDS];
    char *name[FZ_MAX_FIELDS], *value[FZ_MAX_FIELDS];
} fz_list_t;

static int fz_collect(void *ud, const hpack_field_t *f)
{
    fz_list_t *l = ud;

    assert(f->name != NULL && f->value != NULL);
    assert(f->name_index == hpack_static_name_index(f->name, f->name_len));
    if (l->n == FZ_MAX_FIELDS)
        return 0;
    l->nl[l->n] = f->name_len;
    l->vl[l->n] = f->value_len;
    l->flags[l->n] = f->flags;
    l->name[l->n] = malloc(f->name_len + 1);
    l->value[l->n] = malloc(f->value_len + 1);
    memcpy(l->name[l->n], f->name, f->name_len);
    memcpy(l->value[l->n], f->value, f->value_len);
    l->n++;
    return 0;
}

static void fz_clear(fz_list_t *l)
{
    size_t i;

    for (i = 0; i < l->n; i++) {
        free(l->name[i]);
        free(l->value[i]);
    }
    l->n = 0;
}

/* Encode L with E, decode it with D2 and compare. */
static void fz_roundtrip(hpack_encoder_t *e, hpack_decoder_t *d2,
                         const fz_list_t *l)
{
    size_t i, cap = HPACK_BEGIN_BOUND;
    uint8_t *buf, *p;
    fz_list_t back = {0};
    int rc;

    for (i = 0; i < l->n; i++)
        cap += HPACK_FIELD_BOUND(l->nl[i], l->vl[i]);
    buf = malloc(cap);
    p = hpack_encode_begin(e, buf);
    for (i = 0; i < l->n; i++) {
        static const unsigned pick[3] = {0, HPACK_ENC_NO_INDEX,
                                         HPACK_ENC_INDEX};
        unsigned fl = (l->flags[i] & HPACK_FIELD_NEVER_INDEXED)
                          ? HPACK_ENC_NEVER_INDEX
                          : pick[(l->nl[i] + l->vl[i]) % 3];

        p = hpack_encode_field(e, p, l->name[i], l->nl[i], l->value[i],
                               l->vl[i], fl);
        assert((size_t)(p - buf) <= cap);
    }
    rc = hpack_decode(d2, buf, (size_t)(p - buf), fz_collect, &back);
    assert(rc == HPACK_OK);
    assert(back.n == l->n);
    for (i = 0; i < l->n; i++) {
        assert(back.nl[i] == l->nl[i] && back.vl[i] == l->vl[i]);
        assert(memcmp(back.name[i], l->name[i], l->nl[i]) == 0);
        assert(memcmp(back.value[i], l->value[i], l->vl[i]) == 0);
        assert(back.flags[i] == l->flags[i]);
    }
    fz_clear(&back);
    free(buf);
}

static void fz_huffman(const uint8_t *s, size_t n)
{
    char *out = malloc(n * 8 / 5 + 1), *again;
    long got = hpack_huff_decode(out, s, n);
    uint8_t *enc;

    if (got >= 0) {
        size_t hl = hpack_huff_len(out, (size_t)got);

        assert(hl == n); /* valid padding is under a byte */
        enc = malloc(hl + 1);
        assert(hpack_huff_encode(enc, out, (size_t)got) == enc + hl);
        again = malloc(hl * 8 / 5 + 1);
        assert(hpack_huff_decode(again, enc, hl) == got);
        assert(memcmp(again, out, (size_t)got) == 0);
        free(again);
        free(enc);
    } else {
        assert(got == HPACK_ERR_HUFFMAN);
    }
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hpack_decoder_t d, d2;
    hpack_encoder_t e;
    fz_list_t l = {0};
    uint32_t bound, list;
    size_t off = 2;

    if (size < 2)
        return 0;
    bound = (data[0] & 0x3f) ? (uint32_t)(data[0] & 0x3f) * 64 : 4096;
    list = data[1] ? (uint32_t)data[1] * 16 : UINT32_MAX;
    hpack_decoder_init(&d, bound, list);
    hpack_decoder_init(&d2, 4096, UINT32_MAX);
    hpack_encoder_init(&e, 4096, data[0] & 0x40);
    while (off < size) {
        size_t n = data[off++];
        int rc;

        if (n > size - off)
            n = size - off;
        fz_huffman(data + off, n);
        rc = hpack_decode(&d, data + off, n, fz_collect, &l);
        off += n;
        assert(rc <= 0 && rc >= HPACK_ERR_NOMEM && rc != HPACK_ERR_CALLBACK);
        assert(d.t.size <= d.t.max && d.t.max <= d.t.cap);
        if (rc == HPACK_OK)
            fz_roundtrip(&e, &d2, &l);
        fz_clear(&l);
        if (HPACK_CONNECTION_ERROR(rc))
            break;
    }
    hpack_decoder_free(&d);
    hpack_decoder_free(&d2);
    hpack_encoder_free(&e);
    return 0;
}
