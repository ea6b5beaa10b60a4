/*
 * fuzz_smtp_queue.c - libFuzzer target: the relay queue file reader
 * (smtp_queue_parse).  Invariants: the result is OK, TORN or BAD; a file
 * read OK has a sender, at least one recipient with a non-empty address,
 * statuses the format knows, a body of exactly the declared length and a
 * good length within the input; re-encoding what was read (envelope, body,
 * CRC) and reading that again gives the same message (nothing invented,
 * nothing lost that the format carries).  Each input is read twice: as
 * it is, and with its main CRC recomputed (when its lengths fit), so that
 * mutations reach the envelope and status parsers behind the checksum.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp_queue.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int same_str(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

static void one(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t elen, blen;
    uint8_t *fixed;
    uint32_t c;

    one(data, size);
    if (size < 24)
        return 0;
    elen = 0;
    blen = 0;
    for (int i = 3; i >= 0; i--)
        elen = elen << 8 | data[8 + i];
    for (int i = 7; i >= 0; i--)
        blen = blen << 8 | data[12 + i];
    if (blen > size || elen + blen > size - 24)
        return 0;
    fixed = malloc(size);
    memcpy(fixed, data, size);
    c = smtp_crc32c(0, fixed, (size_t)(20 + elen + blen));
    for (int i = 0; i < 4; i++)
        fixed[20 + elen + blen + i] = (uint8_t)(c >> (8 * i));
    one(fixed, size);
    free(fixed);
    return 0;
}

static void one(const uint8_t *data, size_t size)
{
    smtp_qmsg_t m, r;
    char err[256];
    int rc = smtp_queue_parse(data, size, &m, err, sizeof(err));
    uint8_t *h, *f;
    size_t hlen, flen;
    uint32_t c;

    assert(rc == SMTP_QUEUE_OK || rc == SMTP_QUEUE_TORN ||
           rc == SMTP_QUEUE_BAD);
    if (rc != SMTP_QUEUE_OK) {
        assert(m.body == NULL && m.rcpt == NULL && m.sender == NULL);
        return;
    }
    assert(m.sender != NULL && m.nrcpt > 0);
    assert(m.good_len <= size && m.body_len < size);
    for (size_t i = 0; i < m.nrcpt; i++) {
        assert(m.rcpt[i].addr && m.rcpt[i].addr[0]);
        assert(m.rcpt[i].status <= SMTP_RCPT_DEFERRED);
        assert(m.rcpt[i].last_error == NULL ||
               strlen(m.rcpt[i].last_error) <= SMTP_QUEUE_MAX_ERROR);
    }
    h = smtp_queue_encode_head(&m, m.body_len, &hlen);
    flen = hlen + m.body_len + 4;
    f = malloc(flen);
    memcpy(f, h, hlen);
    memcpy(f + hlen, m.body, m.body_len);
    c = smtp_crc32c(0, f, hlen + m.body_len);
    for (int i = 0; i < 4; i++)
        f[hlen + m.body_len + i] = (uint8_t)(c >> (8 * i));
    rc = smtp_queue_parse(f, flen, &r, err, sizeof(err));
    assert(rc == SMTP_QUEUE_OK);
    assert(r.good_len == flen);
    assert(same_str(m.sender, r.sender) && same_str(m.envid, r.envid) &&
           same_str(m.auth_user, r.auth_user) && same_str(m.client, r.client));
    assert(m.ret == r.ret && m.body_type == r.body_type &&
           m.smtputf8 == r.smtputf8 && m.arrival == r.arrival);
    assert(m.nrcpt == r.nrcpt && m.body_len == r.body_len);
    assert(memcmp(m.body, r.body, m.body_len) == 0);
    for (size_t i = 0; i < m.nrcpt; i++) {
        assert(same_str(m.rcpt[i].addr, r.rcpt[i].addr));
        assert(same_str(m.rcpt[i].orcpt, r.rcpt[i].orcpt));
        assert(m.rcpt[i].notify == r.rcpt[i].notify);
    }
    smtp_qmsg_free(&r);
    smtp_qmsg_free(&m);
    free(h);
    free(f);
}
