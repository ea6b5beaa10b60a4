/*
 * fuzz_dns_zfile.c - libFuzzer target: the master-file reader.
 * Invariants: every record has a well-formed owner (labels of at most 63,
 * at most 255 bytes, the root label last and only there), class IN, a TTL
 * below 2^31, a line, and rdata whose length fits its type (fixed sizes,
 * names filling the rdata exactly, TXT strings ending exactly at RDLEN);
 * an error is one non-empty line naming a file and line.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns_zfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t fuzz_origin[] = "\7example\4test";

/* Length of the uncompressed name at P (at most LEN bytes), or 0. */
static size_t name_len(const uint8_t *p, size_t len)
{
    size_t i = 0;

    while (i < len) {
        uint8_t l = p[i];

        if (l > 63 || i + 1 + l > 255)
            return 0;
        i += 1 + (size_t)l;
        if (l == 0)
            return i <= len ? i : 0;
    }
    return 0;
}

/* RDATA made of N names then FIXED bytes, exactly. */
static void names_then(const dns_zrr_t *rr, size_t lead, int n, size_t fixed)
{
    size_t off = lead;

    assert(rr->rdlen >= lead);
    while (n-- > 0) {
        size_t l = name_len(rr->rdata + off, rr->rdlen - off);

        assert(l > 0);
        off += l;
    }
    assert(rr->rdlen == off + fixed);
}

static int check_cb(void *arg, const dns_zrr_t *rr, char *err, size_t errlen)
{
    size_t off;

    (void)arg;
    (void)err;
    (void)errlen;
    assert(rr->owner_len > 0 &&
           name_len(rr->owner, rr->owner_len) == rr->owner_len);
    assert(rr->rclass == 1);
    assert(rr->ttl <= 2147483647u);
    assert(rr->file != NULL && rr->line > 0);
    assert(rr->rdlen == 0 || rr->rdata != NULL);
    assert(rr->type != 0 && rr->type != 41 &&
           (rr->type < 128 || rr->type > 255));
    switch (rr->type) {
    case 1:
        assert(rr->rdlen == 4);
        break;
    case 28:
        assert(rr->rdlen == 16);
        break;
    case 2:
    case 5:
    case 12:
    case 39:
        names_then(rr, 0, 1, 0);
        break;
    case 15:
        names_then(rr, 2, 1, 0);
        break;
    case 6:
        names_then(rr, 0, 2, 20);
        break;
    case 33:
        names_then(rr, 6, 1, 0);
        break;
    case 16:
        assert(rr->rdlen > 0);
        for (off = 0; off < rr->rdlen; off += 1 + (size_t)rr->rdata[off])
            ;
        assert(off == rr->rdlen);
        break;
    default:
        break;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    int rc;

    memset(err, 'Z', sizeof err);
    rc = dns_zfile_read_mem("fuzz", (const char *)data, size, fuzz_origin,
                            check_cb, NULL, err, sizeof err);
    assert(rc == 0 || rc == -1);
    if (rc < 0) {
        assert(memchr(err, '\0', sizeof err) != NULL);
        assert(err[0] != '\0' && strchr(err, '\n') == NULL);
        assert(strstr(err, ":") != NULL);
    }
    return 0;
}
