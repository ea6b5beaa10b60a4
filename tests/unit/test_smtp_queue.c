/*
 * test_smtp_queue.c - the relay queue file (protocols/smtp/smtp_queue.c):
 * every field round-trips through the writer and the reader; a file cut
 * at any length or with any byte flipped is torn, never read; a malformed
 * envelope under a good checksum is refused; status records apply in
 * order, a torn one is dropped and the next update writes over it; the
 * start-up scan clears tmp/, reports in arrival order and moves damaged
 * files aside; the retry schedule; CRC-32C; ids unique across threads.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "smtp_queue.h"

static const char body_text[] = "Received: from client (client [192.0.2.7])\r\n"
                                "\tby mx.example.test; Mon, 7 Dec 2026\r\n"
                                "Subject: hello\r\n"
                                "\r\n"
                                "line one\r\n"
                                ".leading dot kept unstuffed\r\n";

/* A temporary queue directory, removed by rm_tree. */
static char *tmp_dir(void)
{
    char *d = strdup("/tmp/test_smtp_queue.XXXXXX");

    assert_non_null(mkdtemp(d));
    return d;
}

static void rm_tree(const char *path)
{
    DIR *d = opendir(path);
    struct dirent *e;

    if (d) {
        while ((e = readdir(d)) != NULL) {
            char p[1024];

            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            snprintf(p, sizeof(p), "%s/%s", path, e->d_name);
            rm_tree(p);
        }
        closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

static smtp_qrcpt_t rcpts[3];

static smtp_qmsg_t sample(void)
{
    smtp_qmsg_t m;

    memset(&m, 0, sizeof(m));
    memset(rcpts, 0, sizeof(rcpts));
    m.sender = "sender@example.org";
    m.envid = "QQ314159+2B";
    m.ret = SMTP_RET_HDRS;
    m.body_type = SMTP_BODY_8BITMIME;
    m.smtputf8 = 1;
    m.arrival = 1796000000;
    m.auth_user = "alice";
    m.client = "client.example.org [192.0.2.7]";
    rcpts[0].addr = "bob@remote.test";
    rcpts[0].orcpt = "rfc822;bob@remote.test";
    rcpts[0].notify = SMTP_NOTIFY_SUCCESS | SMTP_NOTIFY_FAILURE;
    rcpts[1].addr = "\"odd local\"@remote.test";
    rcpts[1].notify = SMTP_NOTIFY_NEVER;
    rcpts[2].addr = "j\xc3\xb6rg@b\xc3\xbc"
                    "cher.test";
    m.nrcpt = 3;
    m.rcpt = rcpts;
    return m;
}

/* The whole file for M with BODY, as the writer lays it out. */
static uint8_t *build_file(const smtp_qmsg_t *m, const char *body, size_t blen,
                           size_t *len)
{
    size_t hlen;
    uint8_t *h = smtp_queue_encode_head(m, blen, &hlen);
    uint8_t *f = malloc(hlen + blen + 4);
    uint32_t c;

    memcpy(f, h, hlen);
    memcpy(f + hlen, body, blen);
    c = smtp_crc32c(0, f, hlen + blen);
    for (int i = 0; i < 4; i++)
        f[hlen + blen + i] = (uint8_t)(c >> (8 * i));
    *len = hlen + blen + 4;
    free(h);
    return f;
}

static void assert_same(const smtp_qmsg_t *a, const smtp_qmsg_t *b)
{
    assert_string_equal(a->sender, b->sender);
    assert_string_equal(a->envid, b->envid);
    assert_int_equal(a->ret, b->ret);
    assert_int_equal(a->body_type, b->body_type);
    assert_int_equal(a->smtputf8, b->smtputf8);
    assert_int_equal(a->arrival, b->arrival);
    assert_string_equal(a->auth_user, b->auth_user);
    assert_string_equal(a->client, b->client);
    assert_int_equal(a->nrcpt, b->nrcpt);
    for (size_t i = 0; i < a->nrcpt; i++) {
        assert_string_equal(a->rcpt[i].addr, b->rcpt[i].addr);
        if (a->rcpt[i].orcpt)
            assert_string_equal(a->rcpt[i].orcpt, b->rcpt[i].orcpt);
        else
            assert_null(b->rcpt[i].orcpt);
        assert_int_equal(a->rcpt[i].notify, b->rcpt[i].notify);
    }
}

static void test_crc32c(void **state)
{
    const char *v = "123456789";
    uint32_t whole = smtp_crc32c(0, v, 9);

    (void)state;
    assert_int_equal(whole, 0xE3069283u); /* the standard check value */
    for (size_t k = 0; k <= 9; k++)       /* continuation at any split */
        assert_int_equal(smtp_crc32c(smtp_crc32c(0, v, k), v + k, 9 - k),
                         whole);
    assert_int_equal(smtp_crc32c(0, "", 0), 0);
}

static void test_roundtrip(void **state)
{
    smtp_qmsg_t m = sample(), r;
    size_t len;
    uint8_t *f = build_file(&m, body_text, strlen(body_text), &len);
    char err[256];

    (void)state;
    assert_int_equal(smtp_queue_parse(f, len, &r, err, sizeof(err)),
                     SMTP_QUEUE_OK);
    assert_same(&m, &r);
    assert_int_equal(r.body_len, strlen(body_text));
    assert_memory_equal(r.body, body_text, r.body_len);
    assert_int_equal(r.good_len, len);
    for (size_t i = 0; i < r.nrcpt; i++) {
        assert_int_equal(r.rcpt[i].status, SMTP_RCPT_PENDING);
        assert_int_equal(r.rcpt[i].attempts, 0);
        assert_null(r.rcpt[i].last_error);
    }
    smtp_qmsg_free(&r);
    free(f);

    /* the least: null sender, one recipient, nothing optional, no body */
    memset(&m, 0, sizeof(m));
    memset(rcpts, 0, sizeof(rcpts));
    m.sender = "";
    rcpts[0].addr = "x@y";
    m.rcpt = rcpts;
    m.nrcpt = 1;
    f = build_file(&m, "", 0, &len);
    assert_int_equal(smtp_queue_parse(f, len, &r, err, sizeof(err)),
                     SMTP_QUEUE_OK);
    assert_string_equal(r.sender, "");
    assert_null(r.envid);
    assert_null(r.auth_user);
    assert_int_equal(r.ret, SMTP_RET_UNSET);
    assert_int_equal(r.body_type, SMTP_BODY_UNSET);
    assert_int_equal(r.smtputf8, 0);
    assert_int_equal(r.rcpt[0].notify, 0);
    assert_int_equal(r.body_len, 0);
    smtp_qmsg_free(&r);
    free(f);
}

/* What the writer is given beyond the format's range is written so that
 * the reader accepts it; what cannot be is refused before any write. */
static void test_writer_checks(void **state)
{
    smtp_qmsg_t m = sample(), r;
    size_t len;
    uint8_t *f;
    char err[256], *q = tmp_dir();
    struct iovec iov = {(void *)body_text, strlen(body_text)};

    (void)state;
    m.ret = (smtp_ret_t)9;
    m.body_type = (smtp_body_t)0x77;
    rcpts[0].notify = SMTP_NOTIFY_NEVER | SMTP_NOTIFY_DELAY;
    rcpts[1].notify = 0xF0;
    assert_int_equal(smtp_queue_check(&m, err, sizeof(err)), SMTP_QUEUE_OK);
    f = build_file(&m, body_text, strlen(body_text), &len);
    assert_int_equal(smtp_queue_parse(f, len, &r, err, sizeof(err)),
                     SMTP_QUEUE_OK);
    assert_int_equal(r.ret, SMTP_RET_UNSET);
    assert_int_equal(r.body_type, SMTP_BODY_UNSET);
    assert_int_equal(r.rcpt[0].notify, SMTP_NOTIFY_NEVER);
    assert_int_equal(r.rcpt[1].notify, 0);
    smtp_qmsg_free(&r);
    free(f);

    rcpts[2].addr = "";
    assert_int_equal(smtp_queue_check(&m, err, sizeof(err)), SMTP_QUEUE_BAD);
    assert_int_equal(smtp_queue_write(q, &m, &iov, 1, err, sizeof(err)),
                     SMTP_QUEUE_ERROR);
    rcpts[2].addr = NULL;
    assert_int_equal(smtp_queue_check(&m, err, sizeof(err)), SMTP_QUEUE_BAD);
    m.nrcpt = 0;
    assert_int_equal(smtp_queue_check(&m, err, sizeof(err)), SMTP_QUEUE_BAD);
    assert_int_equal(smtp_queue_write(q, &m, &iov, 1, err, sizeof(err)),
                     SMTP_QUEUE_ERROR);
    assert_non_null(strstr(err, "no recipient"));
    rm_tree(q);
    free(q);
}

/* Cut anywhere: torn; any byte flipped: torn.  Never a body. */
static void test_torn(void **state)
{
    smtp_qmsg_t m = sample(), r;
    size_t len;
    uint8_t *f = build_file(&m, body_text, strlen(body_text), &len);
    char err[256];

    (void)state;
    for (size_t cut = 0; cut < len; cut++) {
        uint8_t *c = malloc(cut + 1); /* exact size: ASan sees overreads */

        memcpy(c, f, cut);
        assert_int_equal(smtp_queue_parse(c, cut, &r, err, sizeof(err)),
                         SMTP_QUEUE_TORN);
        assert_null(r.body);
        free(c);
    }
    for (size_t i = 0; i < len; i++) {
        for (int bit = 0; bit < 8; bit += 3) {
            f[i] ^= (uint8_t)(1u << bit);
            int rc = smtp_queue_parse(f, len, &r, err, sizeof(err));
            /* a flip in the length fields may make it look longer
             * (truncated) or shorter (a bad CRC, or the CRC then read as
             * a status record): torn either way */
            assert_int_equal(rc, SMTP_QUEUE_TORN);
            f[i] ^= (uint8_t)(1u << bit);
        }
    }
    free(f);
}

/* Rebuild a file from raw envelope records under a good CRC. */
static uint8_t *raw_file(const uint8_t *env, size_t elen, size_t *len)
{
    uint8_t *f = malloc(20 + elen + 4);
    uint32_t c;

    memcpy(f, SMTP_QUEUE_MAGIC, SMTP_QUEUE_MAGIC_LEN);
    for (int i = 0; i < 4; i++)
        f[8 + i] = (uint8_t)(elen >> (8 * i));
    memset(f + 12, 0, 8);
    memcpy(f + 20, env, elen);
    c = smtp_crc32c(0, f, 20 + elen);
    for (int i = 0; i < 4; i++)
        f[20 + elen + i] = (uint8_t)(c >> (8 * i));
    *len = 20 + elen + 4;
    return f;
}

static void test_bad_envelope(void **state)
{
    /* records: type, u32 len, value */
    static const struct {
        const char *name;
        uint8_t env[64];
        size_t len;
        int want;
    } cases[] = {
        {"good",
         {1, 1, 0, 0, 0, 'a', 6,  8, 0, 0, 0, 1,  0,
          0, 0, 0, 0, 0, 0,   16, 1, 0, 0, 0, 'b'},
         25,
         SMTP_QUEUE_OK},
        {"optional type skipped",
         {1, 1, 0, 0,  0, 'a', 6, 8, 0,   0,   0, 1, 0, 0, 0,   0,
          0, 0, 0, 16, 1, 0,   0, 0, 'b', 200, 2, 0, 0, 0, 'z', 'z'},
         32,
         SMTP_QUEUE_OK},
        {"unknown mandatory type",
         {1, 1, 0, 0, 0,  'a', 6, 8, 0, 0,   0,  1, 0, 0, 0,
          0, 0, 0, 0, 16, 1,   0, 0, 0, 'b', 99, 0, 0, 0, 0},
         30,
         SMTP_QUEUE_BAD},
        {"no sender",
         {6, 8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 16, 1, 0, 0, 0, 'b'},
         19,
         SMTP_QUEUE_BAD},
        {"no recipient",
         {1, 1, 0, 0, 0, 'a', 6, 8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0},
         19,
         SMTP_QUEUE_BAD},
        {"no arrival",
         {1, 1, 0, 0, 0, 'a', 16, 1, 0, 0, 0, 'b'},
         12,
         SMTP_QUEUE_BAD},
        {"two senders",
         {1, 1, 0, 0, 0, 'a', 1, 0, 0, 0,  0, 6, 8, 0, 0,
          0, 1, 0, 0, 0, 0,   0, 0, 0, 16, 1, 0, 0, 0, 'b'},
         30,
         SMTP_QUEUE_BAD},
        {"NUL in an address",
         {1, 1, 0, 0, 0, 'a', 6,  8, 0, 0, 0, 1,   0,
          0, 0, 0, 0, 0, 0,   16, 2, 0, 0, 0, 'b', 0},
         26,
         SMTP_QUEUE_BAD},
        {"ORCPT before any RCPT",
         {1, 1, 0, 0,  0, 'a', 6, 8, 0,   0,  0, 1, 0, 0, 0,  0,
          0, 0, 0, 17, 1, 0,   0, 0, 'o', 16, 1, 0, 0, 0, 'b'},
         31,
         SMTP_QUEUE_BAD},
        {"NOTIFY NEVER with SUCCESS",
         {1, 1, 0, 0,  0, 'a', 6, 8, 0,   0,  0, 1, 0, 0, 0, 0,
          0, 0, 0, 16, 1, 0,   0, 0, 'b', 18, 1, 0, 0, 0, 3},
         31,
         SMTP_QUEUE_BAD},
        {"RET out of range",
         {1, 1, 0, 0,  0, 'a', 6, 8, 0,   0, 0, 1, 0, 0, 0, 0,
          0, 0, 0, 16, 1, 0,   0, 0, 'b', 3, 1, 0, 0, 0, 7},
         31,
         SMTP_QUEUE_BAD},
        {"record longer than the envelope",
         {1, 1, 0, 0, 0, 'a', 6,  8, 0, 0, 0, 1,  0,
          0, 0, 0, 0, 0, 0,   16, 9, 0, 0, 0, 'b'},
         25,
         SMTP_QUEUE_BAD},
        {"truncated record header",
         {1, 1, 0, 0, 0, 'a', 6, 8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 16, 1, 0},
         22,
         SMTP_QUEUE_BAD},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t len;
        uint8_t *f = raw_file(cases[i].env, cases[i].len, &len);
        smtp_qmsg_t r;
        char err[256] = "";
        int rc = smtp_queue_parse(f, len, &r, err, sizeof(err));

        if (rc != cases[i].want)
            fail_msg("%s: got %d (%s)", cases[i].name, rc, err);
        if (rc == SMTP_QUEUE_OK) {
            assert_string_equal(r.sender, "a");
            assert_int_equal(r.arrival, 1);
            assert_string_equal(r.rcpt[0].addr, "b");
        } else {
            assert_true(err[0] != '\0');
        }
        smtp_qmsg_free(&r);
        free(f);
    }
}

static void test_write_load(void **state)
{
    char *q = tmp_dir();
    smtp_qmsg_t m = sample(), r;
    struct iovec iov[2];
    char err[256], path[512];
    size_t half = strlen(body_text) / 2;
    struct stat st;

    (void)state;
    iov[0].iov_base = (void *)body_text;
    iov[0].iov_len = half;
    iov[1].iov_base = (void *)(body_text + half);
    iov[1].iov_len = strlen(body_text) - half;
    assert_int_equal(smtp_queue_write(q, &m, iov, 2, err, sizeof(err)),
                     SMTP_QUEUE_OK);
    assert_true(m.id[0] != '\0');
    snprintf(path, sizeof(path), "%s/tmp/%s", q, m.id);
    assert_int_not_equal(stat(path, &st), 0); /* the temp name is gone */
    assert_int_equal(smtp_queue_load(q, m.id, &r, err, sizeof(err)),
                     SMTP_QUEUE_OK);
    assert_string_equal(r.id, m.id);
    assert_same(&m, &r);
    assert_int_equal(r.body_len, strlen(body_text));
    assert_memory_equal(r.body, body_text, r.body_len);
    smtp_qmsg_free(&r);

    /* ids that could leave the directory are refused */
    assert_int_equal(smtp_queue_load(q, "../x", &r, err, sizeof(err)),
                     SMTP_QUEUE_ERROR);
    assert_int_equal(smtp_queue_load(q, "nosuchid", &r, err, sizeof(err)),
                     SMTP_QUEUE_ERROR);
    assert_int_equal(smtp_queue_remove(q, m.id, err, sizeof(err)),
                     SMTP_QUEUE_OK);
    assert_int_equal(smtp_queue_remove(q, m.id, err, sizeof(err)),
                     SMTP_QUEUE_OK);
    assert_int_equal(smtp_queue_load(q, m.id, &r, err, sizeof(err)),
                     SMTP_QUEUE_ERROR);
    rm_tree(q);
    free(q);
}

static void test_status(void **state)
{
    char *q = tmp_dir();
    smtp_qmsg_t m = sample(), r, r2;
    struct iovec iov = {(void *)body_text, strlen(body_text)};
    char err[256], path[512], longerr[2000];
    smtp_qupdate_t u[2] = {
        {0, SMTP_RCPT_DEFERRED, 1, 1796000100, "451 4.3.0 try later"},
        {2, SMTP_RCPT_DELIVERED, 1, 1796000100, NULL},
    };
    struct stat st;
    uint64_t before;

    (void)state;
    assert_int_equal(smtp_queue_write(q, &m, &iov, 1, err, sizeof(err)),
                     SMTP_QUEUE_OK);
    assert_int_equal(smtp_queue_load(q, m.id, &r, err, sizeof(err)),
                     SMTP_QUEUE_OK);
    before = r.good_len;
    assert_int_equal(smtp_queue_update(q, &r, u, 2, err, sizeof(err)),
                     SMTP_QUEUE_OK);
    assert_int_equal(r.rcpt[0].status, SMTP_RCPT_DEFERRED);
    assert_int_equal(smtp_queue_load(q, m.id, &r2, err, sizeof(err)),
                     SMTP_QUEUE_OK);
    assert_int_equal(r2.good_len, r.good_len);
    assert_int_equal(r2.rcpt[0].status, SMTP_RCPT_DEFERRED);
    assert_int_equal(r2.rcpt[0].attempts, 1);
    assert_int_equal(r2.rcpt[0].last_attempt, 1796000100);
    assert_string_equal(r2.rcpt[0].last_error, "451 4.3.0 try later");
    assert_int_equal(r2.rcpt[1].status, SMTP_RCPT_PENDING);
    assert_int_equal(r2.rcpt[2].status, SMTP_RCPT_DELIVERED);
    assert_null(r2.rcpt[2].last_error);
    assert_memory_equal(r2.body, body_text, r2.body_len);
    smtp_qmsg_free(&r2);

    /* a later record wins; an over-long error is cut */
    memset(longerr, 'e', sizeof(longerr) - 1);
    longerr[sizeof(longerr) - 1] = '\0';
    u[0].status = SMTP_RCPT_FAILED;
    u[0].attempts = 2;
    u[0].error = longerr;
    assert_int_equal(smtp_queue_update(q, &r, u, 1, err, sizeof(err)),
                     SMTP_QUEUE_OK);
    assert_int_equal(strlen(r.rcpt[0].last_error), SMTP_QUEUE_MAX_ERROR);

    /* a torn append (crash mid-write): cut the last record short */
    snprintf(path, sizeof(path), "%s/%s", q, m.id);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(truncate(path, st.st_size - 3), 0);
    assert_int_equal(smtp_queue_load(q, m.id, &r2, err, sizeof(err)),
                     SMTP_QUEUE_OK);
    assert_int_equal(r2.rcpt[0].status, SMTP_RCPT_DEFERRED); /* the 1st */
    assert_true(r2.good_len > before && r2.good_len < (uint64_t)st.st_size);
    /* the next update writes where the good part ends */
    u[0].rcpt = 1;
    u[0].status = SMTP_RCPT_FAILED;
    u[0].error = "550 5.1.1 no such user";
    assert_int_equal(smtp_queue_update(q, &r2, u, 1, err, sizeof(err)),
                     SMTP_QUEUE_OK);
    smtp_qmsg_free(&r2);
    assert_int_equal(smtp_queue_load(q, m.id, &r2, err, sizeof(err)),
                     SMTP_QUEUE_OK);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(r2.good_len, (uint64_t)st.st_size); /* all good */
    assert_int_equal(r2.rcpt[0].status, SMTP_RCPT_DEFERRED);
    assert_int_equal(r2.rcpt[1].status, SMTP_RCPT_FAILED);
    assert_string_equal(r2.rcpt[1].last_error, "550 5.1.1 no such user");
    /* an update for a recipient that does not exist is refused */
    u[0].rcpt = 3;
    assert_int_equal(smtp_queue_update(q, &r2, u, 1, err, sizeof(err)),
                     SMTP_QUEUE_ERROR);
    smtp_qmsg_free(&r2);
    smtp_qmsg_free(&r);
    rm_tree(q);
    free(q);
}

typedef struct {
    char ids[8][SMTP_QUEUE_ID_MAX];
    int nok, nbad;
    char bad[SMTP_QUEUE_ID_MAX];
    char why[512];
} scan_t;

static void scan_cb(void *arg, const char *id, smtp_qmsg_t *m, const char *err)
{
    scan_t *s = arg;

    if (m) {
        assert_string_equal(m->id, id);
        snprintf(s->ids[s->nok++], SMTP_QUEUE_ID_MAX, "%s", id);
        smtp_qmsg_free(m);
        free(m);
    } else {
        s->nbad++;
        snprintf(s->bad, sizeof(s->bad), "%s", id);
        snprintf(s->why, sizeof(s->why), "%s", err);
    }
}

static void test_scan(void **state)
{
    char *q = tmp_dir();
    smtp_qmsg_t m[3];
    struct iovec iov = {(void *)body_text, strlen(body_text)};
    char err[256], path[512];
    scan_t s;
    struct stat st;
    FILE *f;

    (void)state;
    for (int i = 0; i < 3; i++) {
        m[i] = sample();
        assert_int_equal(smtp_queue_write(q, &m[i], &iov, 1, err, sizeof(err)),
                         SMTP_QUEUE_OK);
    }
    /* a leftover temp file, a stray dot file, and m[1] damaged */
    snprintf(path, sizeof(path), "%s/tmp/leftover", q);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("half a message", f);
    fclose(f);
    snprintf(path, sizeof(path), "%s/.hidden", q);
    f = fopen(path, "w");
    assert_non_null(f);
    fclose(f);
    snprintf(path, sizeof(path), "%s/%s", q, m[1].id);
    assert_int_equal(truncate(path, 30), 0);

    memset(&s, 0, sizeof(s));
    assert_int_equal(smtp_queue_scan(q, scan_cb, &s, err, sizeof(err)), 3);
    assert_int_equal(s.nok, 2);
    assert_int_equal(s.nbad, 1);
    assert_string_equal(s.ids[0], m[0].id); /* arrival order */
    assert_string_equal(s.ids[1], m[2].id);
    assert_string_equal(s.bad, m[1].id);
    assert_non_null(strstr(s.why, "corrupt"));
    snprintf(path, sizeof(path), "%s/tmp/leftover", q);
    assert_int_not_equal(stat(path, &st), 0);
    snprintf(path, sizeof(path), "%s/corrupt/%s", q, m[1].id);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 30); /* moved aside whole, not deleted */

    /* a second scan: the damaged file is not reported again */
    memset(&s, 0, sizeof(s));
    assert_int_equal(smtp_queue_scan(q, scan_cb, &s, err, sizeof(err)), 2);
    assert_int_equal(s.nbad, 0);

    /* a queue directory that cannot be made */
    snprintf(path, sizeof(path), "%s/.hidden/q", q);
    assert_int_equal(smtp_queue_scan(path, scan_cb, &s, err, sizeof(err)), -1);
    assert_true(err[0] != '\0');
    rm_tree(q);
    free(q);
}

static void test_retry(void **state)
{
    smtp_retry_conf_t c;
    const int64_t a = 1796000000;
    /* attempts so far -> delay after the last one */
    static const struct {
        uint32_t attempts;
        int64_t delay;
    } sched[] = {
        {1, 300},  {2, 600},   {3, 1200},  {4, 2400},   {5, 4800},
        {6, 9600}, {7, 14400}, {8, 14400}, {40, 14400}, {4000000000u, 14400},
    };

    (void)state;
    smtp_retry_defaults(&c);
    assert_int_equal(c.initial, 300);
    assert_int_equal(c.max, 4 * 3600);
    assert_int_equal(c.give_up, 5 * 86400);
    assert_int_equal(smtp_retry_next(&c, a, 0, 0), a); /* at once */
    for (size_t i = 0; i < sizeof(sched) / sizeof(sched[0]); i++)
        assert_int_equal(smtp_retry_next(&c, a, sched[i].attempts, a + 1000),
                         a + 1000 + sched[i].delay);
    /* one last try at the deadline, then give up */
    assert_int_equal(smtp_retry_next(&c, a, 30, a + c.give_up - 60),
                     a + c.give_up);
    assert_int_equal(smtp_retry_next(&c, a, 31, a + c.give_up), -1);
    assert_int_equal(smtp_retry_next(&c, a, 31, a + c.give_up + 5), -1);
    /* another config; a zero initial delay does not loop forever */
    c.initial = 60;
    c.max = 200;
    c.give_up = 3600;
    assert_int_equal(smtp_retry_next(&c, a, 2, a + 60), a + 180);
    assert_int_equal(smtp_retry_next(&c, a, 3, a + 180), a + 380);
    c.initial = 0;
    assert_int_equal(smtp_retry_next(&c, a, 4000000000u, a + 10), a + 10);
}

#define ID_THREADS 4
#define ID_PER 2000

static char thread_ids[ID_THREADS * ID_PER][SMTP_QUEUE_ID_MAX];

static void *id_thread(void *arg)
{
    size_t base = (size_t)(uintptr_t)arg * ID_PER;

    for (size_t i = 0; i < ID_PER; i++)
        smtp_queue_new_id(thread_ids[base + i]);
    return NULL;
}

static int cmp_id(const void *a, const void *b)
{
    return strcmp(a, b);
}

static void test_ids(void **state)
{
    pthread_t t[ID_THREADS];
    size_t n = ID_THREADS * ID_PER;

    (void)state;
    for (uintptr_t i = 0; i < ID_THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, id_thread, (void *)i), 0);
    for (int i = 0; i < ID_THREADS; i++)
        pthread_join(t[i], NULL);
    qsort(thread_ids, n, SMTP_QUEUE_ID_MAX, cmp_id);
    for (size_t i = 0; i < n; i++) {
        const char *id = thread_ids[i];

        assert_true(strlen(id) > 0 && id[0] != '.');
        assert_int_equal(strspn(id, "0123456789ABCDEFabcdefPQ"), strlen(id));
        if (i > 0)
            assert_string_not_equal(thread_ids[i - 1], id);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32c),        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_writer_checks), cmocka_unit_test(test_torn),
        cmocka_unit_test(test_bad_envelope),  cmocka_unit_test(test_write_load),
        cmocka_unit_test(test_status),        cmocka_unit_test(test_scan),
        cmocka_unit_test(test_retry),         cmocka_unit_test(test_ids),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
