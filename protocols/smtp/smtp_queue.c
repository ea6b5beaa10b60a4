/*
 * smtp_queue.c - the relay queue file: encoder, reader, status records,
 * the start-up scan and the retry schedule (smtp_queue.h has the format).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "loom.h"
#include "smtp_fs.h"
#include "smtp_queue.h"

/* Envelope record types.  Below 128 a reader must know the type; from 128
 * up it may skip it (room for later additions). */
enum {
    QR_SENDER = 1,
    QR_ENVID = 2,
    QR_RET = 3,
    QR_BODY = 4,
    QR_SMTPUTF8 = 5,
    QR_ARRIVAL = 6,
    QR_AUTH = 7,
    QR_CLIENT = 8,
    QR_RCPT = 16,
    QR_ORCPT = 17,
    QR_NOTIFY = 18,
    QR_OPTIONAL = 128
};

#define HEAD_LEN (SMTP_QUEUE_MAGIC_LEN + 4 + 8)
#define STATUS_FIXED (1 + 4 + 1 + 4 + 8 + 2)
#define NOTIFY_ALL                                                             \
    (SMTP_NOTIFY_NEVER | SMTP_NOTIFY_SUCCESS | SMTP_NOTIFY_FAILURE |           \
     SMTP_NOTIFY_DELAY)

/* ---- CRC-32C ------------------------------------------------------------
 */

static uint32_t crc_table[8][256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;

        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        crc_table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++)
            crc_table[t][i] = (crc_table[t - 1][i] >> 8) ^
                              crc_table[0][crc_table[t - 1][i] & 0xFF];
}

uint32_t smtp_crc32c(uint32_t crc, const void *p, size_t n)
{
    const uint8_t *b = p;

    pthread_once(&crc_once, crc_init);
    crc = ~crc;
    while (n >= 8) { /* slicing by 8 */
        uint32_t lo = crc ^ ((uint32_t)b[0] | (uint32_t)b[1] << 8 |
                             (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24);
        crc = crc_table[7][lo & 0xFF] ^ crc_table[6][(lo >> 8) & 0xFF] ^
              crc_table[5][(lo >> 16) & 0xFF] ^ crc_table[4][lo >> 24] ^
              crc_table[3][b[4]] ^ crc_table[2][b[5]] ^ crc_table[1][b[6]] ^
              crc_table[0][b[7]];
        b += 8;
        n -= 8;
    }
    while (n--)
        crc = (crc >> 8) ^ crc_table[0][(crc ^ *b++) & 0xFF];
    return ~crc;
}

/* ---- little-endian bytes -------------------------------------------------
 */

static void put_le(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, int n)
{
    uint64_t v = 0;

    for (int i = n - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

/* ---- ids ------------------------------------------------------------------
 */

static unsigned long id_seq;

void smtp_queue_new_id(char *out)
{
    struct timeval tv;
    unsigned long seq = __atomic_add_fetch(&id_seq, 1, __ATOMIC_RELAXED);

    gettimeofday(&tv, NULL);
    /* fixed-width time first: ids sort in arrival order */
    snprintf(out, SMTP_QUEUE_ID_MAX, "%010llX%05lXP%luQ%lu",
             (unsigned long long)tv.tv_sec, (unsigned long)tv.tv_usec,
             (unsigned long)getpid(), seq);
}

static int id_valid(const char *id)
{
    size_t n = strlen(id);

    if (n == 0 || n >= SMTP_QUEUE_ID_MAX || id[0] == '.')
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = id[i];

        if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
              (c >= 'a' && c <= 'z') || c == '.'))
            return 0;
    }
    return 1;
}

/* ---- encoding -------------------------------------------------------------
 */

typedef struct {
    uint8_t *p;
    size_t len, cap;
} obuf_t;

static void ob_put(obuf_t *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        while (b->len + n > b->cap)
            b->cap = b->cap ? b->cap * 2 : 256;
        b->p = loom_realloc(b->p, b->cap);
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
}

static void ob_rec(obuf_t *b, uint8_t type, const void *p, size_t n)
{
    uint8_t h[5];

    h[0] = type;
    put_le(h + 1, n, 4);
    ob_put(b, h, 5);
    ob_put(b, p, n);
}

static void ob_str(obuf_t *b, uint8_t type, const char *s)
{
    if (s)
        ob_rec(b, type, s, strlen(s));
}

static void ob_int(obuf_t *b, uint8_t type, uint64_t v, int n)
{
    uint8_t x[8];

    put_le(x, v, n);
    ob_rec(b, type, x, (size_t)n);
}

uint8_t *smtp_queue_encode_head(const smtp_qmsg_t *m, uint64_t body_len,
                                size_t *len)
{
    obuf_t b = {0};
    uint8_t h[HEAD_LEN];

    memset(h, 0, sizeof(h));
    ob_put(&b, h, sizeof(h)); /* filled below */
    ob_str(&b, QR_SENDER, m->sender ? m->sender : "");
    ob_str(&b, QR_ENVID, m->envid);
    /* only what the reader accepts: a file written is a file readable */
    if (m->ret == SMTP_RET_FULL || m->ret == SMTP_RET_HDRS)
        ob_int(&b, QR_RET, (uint64_t)m->ret, 1);
    if (m->body_type >= SMTP_BODY_7BIT && m->body_type <= SMTP_BODY_BINARYMIME)
        ob_int(&b, QR_BODY, (uint64_t)m->body_type, 1);
    if (m->smtputf8)
        ob_int(&b, QR_SMTPUTF8, 1, 1);
    ob_int(&b, QR_ARRIVAL, (uint64_t)m->arrival, 8);
    ob_str(&b, QR_AUTH, m->auth_user);
    ob_str(&b, QR_CLIENT, m->client);
    for (size_t i = 0; i < m->nrcpt; i++) {
        unsigned nf = m->rcpt[i].notify & NOTIFY_ALL;

        if (nf & SMTP_NOTIFY_NEVER) /* NEVER excludes the others */
            nf = SMTP_NOTIFY_NEVER;
        ob_str(&b, QR_RCPT, m->rcpt[i].addr ? m->rcpt[i].addr : "");
        ob_str(&b, QR_ORCPT, m->rcpt[i].orcpt);
        if (nf)
            ob_int(&b, QR_NOTIFY, nf, 1);
    }
    memcpy(b.p, SMTP_QUEUE_MAGIC, SMTP_QUEUE_MAGIC_LEN);
    put_le(b.p + SMTP_QUEUE_MAGIC_LEN, b.len - HEAD_LEN, 4);
    put_le(b.p + SMTP_QUEUE_MAGIC_LEN + 4, body_len, 8);
    *len = b.len;
    return b.p;
}

/* One status record for U into B. */
static void encode_status(obuf_t *b, const smtp_qupdate_t *u)
{
    uint8_t f[STATUS_FIXED], c[4];
    size_t elen = u->error ? strnlen(u->error, SMTP_QUEUE_MAX_ERROR) : 0;
    size_t start = b->len;

    f[0] = 'S';
    put_le(f + 1, u->rcpt, 4);
    f[5] = (uint8_t)u->status;
    put_le(f + 6, u->attempts, 4);
    put_le(f + 10, (uint64_t)u->when, 8);
    put_le(f + 18, elen, 2);
    ob_put(b, f, sizeof(f));
    if (elen)
        ob_put(b, u->error, elen);
    put_le(c, smtp_crc32c(0, b->p + start, b->len - start), 4);
    ob_put(b, c, 4);
}

/* ---- parsing --------------------------------------------------------------
 */

void smtp_qmsg_free(smtp_qmsg_t *m)
{
    free(m->sender);
    free(m->envid);
    free(m->auth_user);
    free(m->client);
    for (size_t i = 0; i < m->nrcpt; i++) {
        free(m->rcpt[i].addr);
        free(m->rcpt[i].orcpt);
        free(m->rcpt[i].last_error);
    }
    free(m->rcpt);
    free(m->body);
    memset(m, 0, sizeof(*m));
}

/* A string value: no NUL inside. */
static int take_str(char **dst, const uint8_t *v, size_t n)
{
    if (*dst || memchr(v, '\0', n))
        return -1;
    *dst = loom_strndup((const char *)v, n);
    return 0;
}

static int parse_envelope(const uint8_t *p, size_t n, smtp_qmsg_t *m, char *err,
                          size_t errlen)
{
    size_t off = 0, cap = 0;
    int have_arrival = 0;
    smtp_qrcpt_t *r = NULL;

    while (off < n) {
        uint8_t type;
        uint32_t len;
        const uint8_t *v;
        int bad = 0;

        if (n - off < 5) {
            snprintf(err, errlen, "envelope: truncated record");
            return -1;
        }
        type = p[off];
        len = (uint32_t)get_le(p + off + 1, 4);
        if (len > n - off - 5) {
            snprintf(err, errlen, "envelope: record %u too long", type);
            return -1;
        }
        v = p + off + 5;
        off += 5 + (size_t)len;
        switch (type) {
        case QR_SENDER:
            bad = take_str(&m->sender, v, len);
            break;
        case QR_ENVID:
            bad = take_str(&m->envid, v, len);
            break;
        case QR_AUTH:
            bad = take_str(&m->auth_user, v, len);
            break;
        case QR_CLIENT:
            bad = take_str(&m->client, v, len);
            break;
        case QR_RET:
            bad = len != 1 || v[0] < SMTP_RET_FULL || v[0] > SMTP_RET_HDRS;
            if (!bad)
                m->ret = (smtp_ret_t)v[0];
            break;
        case QR_BODY:
            bad = len != 1 || v[0] < SMTP_BODY_7BIT ||
                  v[0] > SMTP_BODY_BINARYMIME;
            if (!bad)
                m->body_type = (smtp_body_t)v[0];
            break;
        case QR_SMTPUTF8:
            bad = len != 1 || v[0] != 1;
            m->smtputf8 = 1;
            break;
        case QR_ARRIVAL:
            bad = len != 8 || have_arrival;
            if (!bad)
                m->arrival = (int64_t)get_le(v, 8);
            have_arrival = 1;
            break;
        case QR_RCPT:
            if (m->nrcpt == cap) {
                cap = cap ? cap * 2 : 4;
                m->rcpt = loom_realloc(m->rcpt, cap * sizeof(*m->rcpt));
            }
            r = &m->rcpt[m->nrcpt++];
            memset(r, 0, sizeof(*r));
            bad = len == 0 || take_str(&r->addr, v, len);
            break;
        case QR_ORCPT:
            bad = r == NULL || take_str(&r->orcpt, v, len);
            break;
        case QR_NOTIFY:
            bad = r == NULL || r->notify || len != 1 || v[0] == 0 ||
                  (v[0] & ~NOTIFY_ALL) ||
                  ((v[0] & SMTP_NOTIFY_NEVER) && v[0] != SMTP_NOTIFY_NEVER);
            if (!bad)
                r->notify = v[0];
            break;
        default:
            bad = type < QR_OPTIONAL;
            break;
        }
        if (bad) {
            snprintf(err, errlen, "envelope: bad record type %u", type);
            return -1;
        }
    }
    if (m->sender == NULL || !have_arrival || m->nrcpt == 0) {
        snprintf(err, errlen, "envelope: %s missing",
                 m->sender == NULL ? "sender"
                 : !have_arrival   ? "arrival time"
                                   : "recipient");
        return -1;
    }
    return 0;
}

/* Apply the status records from OFF on; returns the end of the last good
 * one. */
static size_t parse_status(const uint8_t *buf, size_t len, size_t off,
                           smtp_qmsg_t *m)
{
    while (len - off >= STATUS_FIXED + 4) {
        const uint8_t *p = buf + off;
        size_t elen = (size_t)get_le(p + 18, 2);
        uint32_t idx = (uint32_t)get_le(p + 1, 4);
        smtp_qrcpt_t *r;

        if (p[0] != 'S' || elen > SMTP_QUEUE_MAX_ERROR ||
            len - off < STATUS_FIXED + elen + 4)
            break;
        if (smtp_crc32c(0, p, STATUS_FIXED + elen) !=
            (uint32_t)get_le(p + STATUS_FIXED + elen, 4))
            break;
        if (idx >= m->nrcpt || p[5] > SMTP_RCPT_DEFERRED ||
            memchr(p + STATUS_FIXED, '\0', elen))
            break;
        r = &m->rcpt[idx];
        r->status = (smtp_rcpt_status_t)p[5];
        r->attempts = (uint32_t)get_le(p + 6, 4);
        r->last_attempt = (int64_t)get_le(p + 10, 8);
        free(r->last_error);
        r->last_error =
            elen ? loom_strndup((const char *)p + STATUS_FIXED, elen) : NULL;
        off += STATUS_FIXED + elen + 4;
    }
    return off;
}

int smtp_queue_parse(const uint8_t *buf, size_t len, smtp_qmsg_t *out,
                     char *err, size_t errlen)
{
    uint64_t elen, blen, main_len;

    memset(out, 0, sizeof(*out));
    if (len < HEAD_LEN + 4 ||
        memcmp(buf, SMTP_QUEUE_MAGIC, SMTP_QUEUE_MAGIC_LEN) != 0) {
        snprintf(err, errlen, "%s",
                 len < HEAD_LEN + 4 ? "truncated header"
                                    : "bad magic or version");
        return SMTP_QUEUE_TORN;
    }
    elen = get_le(buf + SMTP_QUEUE_MAGIC_LEN, 4);
    blen = get_le(buf + SMTP_QUEUE_MAGIC_LEN + 4, 8);
    if (blen > len || elen + blen > len - HEAD_LEN - 4) {
        snprintf(err, errlen, "truncated: %zu bytes of %llu", len,
                 (unsigned long long)(HEAD_LEN + elen + blen + 4));
        return SMTP_QUEUE_TORN;
    }
    main_len = HEAD_LEN + elen + blen;
    if (smtp_crc32c(0, buf, (size_t)main_len) !=
        (uint32_t)get_le(buf + main_len, 4)) {
        snprintf(err, errlen, "checksum mismatch");
        return SMTP_QUEUE_TORN;
    }
    if (parse_envelope(buf + HEAD_LEN, (size_t)elen, out, err, errlen) != 0) {
        smtp_qmsg_free(out);
        return SMTP_QUEUE_BAD;
    }
    out->body_len = (size_t)blen;
    out->body = loom_malloc(out->body_len + 1);
    memcpy(out->body, buf + HEAD_LEN + elen, out->body_len);
    out->body[out->body_len] = '\0';
    out->good_len = parse_status(buf, len, (size_t)main_len + 4, out);
    return SMTP_QUEUE_OK;
}

/* ---- files ----------------------------------------------------------------
 */

int smtp_queue_check(const smtp_qmsg_t *m, char *err, size_t errlen)
{
    if (m->nrcpt == 0) {
        snprintf(err, errlen, "queue file: no recipient");
        return SMTP_QUEUE_BAD;
    }
    for (size_t i = 0; i < m->nrcpt; i++) {
        if (m->rcpt[i].addr == NULL || m->rcpt[i].addr[0] == '\0') {
            snprintf(err, errlen, "queue file: an empty recipient");
            return SMTP_QUEUE_BAD;
        }
    }
    return SMTP_QUEUE_OK;
}

int smtp_queue_write(const char *qdir, smtp_qmsg_t *m, const struct iovec *iov,
                     int iovcnt, char *err, size_t errlen)
{
    char *tmpdir = smtp_fs_join(qdir, "tmp");
    char *tmp = NULL, *dst = NULL;
    struct iovec *v = loom_calloc((size_t)iovcnt + 2, sizeof(*v));
    uint64_t blen = 0;
    size_t hlen;
    uint8_t *head, crc[4];
    uint32_t c;
    int rc = SMTP_QUEUE_ERROR;

    if (smtp_queue_check(m, err, errlen) != SMTP_QUEUE_OK) {
        free(tmpdir);
        free(v);
        return SMTP_QUEUE_ERROR;
    }
    for (int i = 0; i < iovcnt; i++)
        blen += iov[i].iov_len;
    head = smtp_queue_encode_head(m, blen, &hlen);
    c = smtp_crc32c(0, head, hlen);
    for (int i = 0; i < iovcnt; i++)
        c = smtp_crc32c(c, iov[i].iov_base, iov[i].iov_len);
    put_le(crc, c, 4);
    v[0].iov_base = head;
    v[0].iov_len = hlen;
    memcpy(v + 1, iov, (size_t)iovcnt * sizeof(*v));
    v[iovcnt + 1].iov_base = crc;
    v[iovcnt + 1].iov_len = 4;
    if (m->id[0] == '\0' || !id_valid(m->id))
        smtp_queue_new_id(m->id);
    tmp = smtp_fs_join(tmpdir, m->id);
    dst = smtp_fs_join(qdir, m->id);
    if (smtp_fs_mkdirs(tmpdir, 0700, err, errlen) != 0 ||
        smtp_fs_write_new(tmp, v, iovcnt + 2, SMTP_FS_FSYNC, NULL, err,
                          errlen) != 0)
        goto out;
    if (rename(tmp, dst) != 0) {
        snprintf(err, errlen, "rename %s: %s", dst, strerror(errno));
        unlink(tmp);
        goto out;
    }
    if (smtp_fs_sync_dir(qdir, err, errlen) != 0) {
        unlink(dst);
        goto out;
    }
    rc = SMTP_QUEUE_OK;
out:
    free(head);
    free(v);
    free(tmp);
    free(dst);
    free(tmpdir);
    return rc;
}

int smtp_queue_load(const char *qdir, const char *id, smtp_qmsg_t *out,
                    char *err, size_t errlen)
{
    char *path;
    uint8_t *buf;
    size_t len = 0;
    int rc;

    memset(out, 0, sizeof(*out));
    if (!id_valid(id)) {
        snprintf(err, errlen, "bad queue id");
        return SMTP_QUEUE_ERROR;
    }
    path = smtp_fs_join(qdir, id);
    buf = smtp_fs_read(path, &len, err, errlen);
    free(path);
    if (buf == NULL)
        return SMTP_QUEUE_ERROR;
    rc = smtp_queue_parse(buf, len, out, err, errlen);
    free(buf);
    if (rc == SMTP_QUEUE_OK)
        snprintf(out->id, sizeof(out->id), "%s", id);
    return rc;
}

int smtp_queue_update(const char *qdir, smtp_qmsg_t *m, const smtp_qupdate_t *u,
                      size_t n, char *err, size_t errlen)
{
    obuf_t b = {0};
    char *path;
    int fd, rc = SMTP_QUEUE_ERROR;

    for (size_t i = 0; i < n; i++) {
        if (u[i].rcpt >= m->nrcpt || (unsigned)u[i].status > 3) {
            snprintf(err, errlen, "bad status update");
            free(b.p);
            return SMTP_QUEUE_ERROR;
        }
        encode_status(&b, &u[i]);
    }
    if (!id_valid(m->id) || m->good_len == 0) {
        snprintf(err, errlen, "not a loaded queue file");
        free(b.p);
        return SMTP_QUEUE_ERROR;
    }
    path = smtp_fs_join(qdir, m->id);
    fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "open %s: %s", path, strerror(errno));
        goto out;
    }
    /* a torn record from a crash mid-append goes first */
    if (ftruncate(fd, (off_t)m->good_len) != 0) {
        snprintf(err, errlen, "truncate %s: %s", path, strerror(errno));
        goto out;
    }
    for (size_t done = 0; done < b.len;) {
        ssize_t w =
            pwrite(fd, b.p + done, b.len - done, (off_t)(m->good_len + done));

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            snprintf(err, errlen, "write %s: %s", path,
                     w < 0 ? strerror(errno) : "short write");
            goto out;
        }
        done += (size_t)w;
    }
    if (fdatasync(fd) != 0) {
        snprintf(err, errlen, "fsync %s: %s", path, strerror(errno));
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        smtp_qrcpt_t *r = &m->rcpt[u[i].rcpt];

        r->status = u[i].status;
        r->attempts = u[i].attempts;
        r->last_attempt = u[i].when;
        free(r->last_error);
        r->last_error =
            u[i].error && u[i].error[0]
                ? loom_strndup(u[i].error,
                               strnlen(u[i].error, SMTP_QUEUE_MAX_ERROR))
                : NULL;
    }
    m->good_len += b.len;
    rc = SMTP_QUEUE_OK;
out:
    if (fd >= 0)
        close(fd);
    free(path);
    free(b.p);
    return rc;
}

int smtp_queue_remove(const char *qdir, const char *id, char *err,
                      size_t errlen)
{
    char *path;
    int rc = SMTP_QUEUE_OK;

    if (!id_valid(id)) {
        snprintf(err, errlen, "bad queue id");
        return SMTP_QUEUE_ERROR;
    }
    path = smtp_fs_join(qdir, id);
    if (unlink(path) != 0 && errno != ENOENT) {
        snprintf(err, errlen, "unlink %s: %s", path, strerror(errno));
        rc = SMTP_QUEUE_ERROR;
    }
    free(path);
    return rc;
}

/* ---- the start-up scan ----------------------------------------------------
 */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Remove every entry of DIR (temporary files that never got a 250). */
static void clear_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;

    if (d == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        (void)unlinkat(dirfd(d), e->d_name, 0);
    }
    closedir(d);
}

/* Move QDIR/ID to QDIR/corrupt/ID. */
static void move_aside(const char *qdir, const char *id, char *err,
                       size_t errlen)
{
    char *cdir = smtp_fs_join(qdir, "corrupt");
    char *src = smtp_fs_join(qdir, id), *dst = smtp_fs_join(cdir, id);
    char e2[256];
    size_t n = strlen(err);

    if (smtp_fs_mkdirs(cdir, 0700, e2, sizeof(e2)) != 0 ||
        rename(src, dst) != 0)
        snprintf(err + n, errlen - n, " (not moved aside: %s)",
                 strerror(errno));
    else
        snprintf(err + n, errlen - n, " (moved to %s)", dst);
    free(cdir);
    free(src);
    free(dst);
}

long smtp_queue_scan(const char *qdir, smtp_queue_scan_cb cb, void *arg,
                     char *err, size_t errlen)
{
    char *tmpdir = smtp_fs_join(qdir, "tmp");
    DIR *d;
    struct dirent *e;
    char **ids = NULL;
    size_t n = 0, cap = 0;

    if (smtp_fs_mkdirs(tmpdir, 0700, err, errlen) != 0) {
        free(tmpdir);
        return -1;
    }
    clear_dir(tmpdir);
    free(tmpdir);
    d = opendir(qdir);
    if (d == NULL) {
        snprintf(err, errlen, "opendir %s: %s", qdir, strerror(errno));
        return -1;
    }
    while ((e = readdir(d)) != NULL) {
        struct stat st;

        if (!id_valid(e->d_name) ||
            fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
            !S_ISREG(st.st_mode))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            ids = loom_realloc(ids, cap * sizeof(*ids));
        }
        ids[n++] = loom_strdup(e->d_name);
    }
    closedir(d);
    if (n > 1)
        qsort(ids, n, sizeof(*ids), cmp_str);
    for (size_t i = 0; i < n; i++) {
        smtp_qmsg_t *m = loom_calloc(1, sizeof(*m));
        char why[512];
        int rc = smtp_queue_load(qdir, ids[i], m, why, sizeof(why));

        if (rc == SMTP_QUEUE_OK) {
            cb(arg, ids[i], m, NULL);
        } else {
            free(m);
            if (rc != SMTP_QUEUE_ERROR)
                move_aside(qdir, ids[i], why, sizeof(why));
            cb(arg, ids[i], NULL, why);
        }
        free(ids[i]);
    }
    free(ids);
    return (long)n;
}

/* ---- the retry schedule ---------------------------------------------------
 */

void smtp_retry_defaults(smtp_retry_conf_t *c)
{
    c->initial = SMTP_RETRY_DEFAULT_INITIAL;
    c->max = SMTP_RETRY_DEFAULT_MAX;
    c->give_up = SMTP_RETRY_DEFAULT_GIVE_UP;
}

int64_t smtp_retry_next(const smtp_retry_conf_t *c, int64_t arrival,
                        uint32_t attempts, int64_t last)
{
    int64_t deadline = arrival + (int64_t)c->give_up;
    uint64_t delay = c->initial;

    if (attempts == 0)
        return arrival;
    if (last >= deadline)
        return -1;
    for (uint32_t i = 1; i < attempts && delay && delay < c->max; i++)
        delay *= 2;
    if (delay > c->max)
        delay = c->max;
    if (last + (int64_t)delay > deadline)
        return deadline;
    return last + (int64_t)delay;
}
