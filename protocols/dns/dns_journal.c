/*
 * dns_journal.c - applying batches of changes to a zone, the journal
 * record format (dns_journal.h), and writing a zone back to its file.
 */
#include "dns_journal.h"

#include <errno.h>
#include <fcntl.h>
#include <ldns/ldns.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loom.h"

/* ---- CRC-32 --------------------------------------------------------------
 */

uint32_t dns_crc32(uint32_t crc, const uint8_t *p, size_t len)
{
    static uint32_t table[256];
    static int ready;

    if (!ready) { /* idempotent: a race writes the same values */
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;

            for (int k = 0; k < 8; k++)
                c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
            table[i] = c;
        }
        ready = 1;
    }
    crc = ~crc;
    while (len--)
        crc = table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}

int dns_serial_newer(uint32_t a, uint32_t b)
{
    return a != b && (uint32_t)(a - b) < 0x80000000u;
}

/* ---- batches -------------------------------------------------------------
 */

void dns_batch_add(dns_batch_t *b, const dns_change_t *c)
{
    dns_change_t *d;
    size_t nl = dns_name_len(c->name, DNS_NAME_MAX);
    uint8_t *mem;

    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 8;
        b->v = loom_realloc(b->v, b->cap * sizeof(*b->v));
    }
    d = &b->v[b->n++];
    *d = *c;
    mem = loom_malloc(nl + c->rdlen + 1);
    memcpy(mem, c->name, nl);
    if (c->rdlen)
        memcpy(mem + nl, c->rdata, c->rdlen);
    d->name = mem;
    d->rdata = mem + nl;
}

void dns_batch_clear(dns_batch_t *b)
{
    for (size_t i = 0; i < b->n; i++)
        free((void *)b->v[i].name);
    free(b->v);
    memset(b, 0, sizeof(*b));
}

/* ---- applying ------------------------------------------------------------
 */

typedef struct {
    dns_rec_t *v;
    size_t n, cap;
    uint8_t *dead; /* per record: deleted */
} recs_t;

static int rd_equal(const dns_rec_t *r, const uint8_t *rd, uint16_t len)
{
    return r->rdlen == len && memcmp(r->rdata, rd, len) == 0;
}

static void recs_push(recs_t *rs, const dns_change_t *c)
{
    if (rs->n == rs->cap) {
        rs->cap = rs->cap ? rs->cap * 2 : 64;
        rs->v = loom_realloc(rs->v, rs->cap * sizeof(*rs->v));
        rs->dead = loom_realloc(rs->dead, rs->cap);
    }
    rs->v[rs->n].owner = c->name;
    rs->v[rs->n].type = c->type;
    rs->v[rs->n].ttl = c->ttl;
    rs->v[rs->n].rdata = c->rdata;
    rs->v[rs->n].rdlen = c->rdlen;
    rs->dead[rs->n++] = 0;
}

/* Whether the apex's SOA or NS: kept by deletions. */
static int apex_kept(const dns_zone_t *z, const dns_rec_t *r)
{
    return (r->type == DNS_T_SOA || r->type == DNS_T_NS) &&
           dns_name_equal(r->owner, z->apex);
}

static size_t live_count(const recs_t *rs, const uint8_t *name, uint16_t type)
{
    size_t n = 0;

    for (size_t i = 0; i < rs->n; i++)
        if (!rs->dead[i] && rs->v[i].type == type &&
            dns_name_equal(rs->v[i].owner, name))
            n++;
    return n;
}

static size_t soa_serial_off(const uint8_t *rd, size_t len);

/* Whether data other than CNAME (and the DNSSEC records allowed beside
 * it) lives at NAME. */
static int live_other(const recs_t *rs, const uint8_t *name)
{
    for (size_t i = 0; i < rs->n; i++)
        if (!rs->dead[i] && rs->v[i].type != DNS_T_CNAME &&
            rs->v[i].type != DNS_T_RRSIG && rs->v[i].type != DNS_T_NSEC &&
            dns_name_equal(rs->v[i].owner, name))
            return 1;
    return 0;
}

/* RFC 2136 3.4.2.2: an ADD that is skipped -- an apex SOA whose serial
 * is not newer than the live one's, a CNAME where other data lives,
 * other data where a CNAME lives.  An added CNAME replaces the name's
 * CNAME. */
static int add_skipped(recs_t *rs, const dns_change_t *c, int apex)
{
    if (apex && c->type == DNS_T_SOA) {
        size_t off = soa_serial_off(c->rdata, c->rdlen);

        for (size_t i = 0; i < rs->n; i++) {
            size_t o;

            if (rs->dead[i] || rs->v[i].type != DNS_T_SOA)
                continue;
            o = soa_serial_off(rs->v[i].rdata, rs->v[i].rdlen);
            if (off == 0 || o == 0 ||
                !dns_serial_newer(dns_get32(c->rdata + off),
                                  dns_get32(rs->v[i].rdata + o)))
                return 1;
        }
        return 0;
    }
    if (c->type == DNS_T_CNAME) {
        if (live_other(rs, c->name))
            return 1;
        for (size_t i = 0; i < rs->n; i++)
            if (!rs->dead[i] && rs->v[i].type == DNS_T_CNAME &&
                dns_name_equal(rs->v[i].owner, c->name) &&
                !rd_equal(&rs->v[i], c->rdata, c->rdlen))
                rs->dead[i] = 1;
        return 0;
    }
    return c->type != DNS_T_RRSIG && c->type != DNS_T_NSEC &&
           live_count(rs, c->name, DNS_T_CNAME) > 0;
}

static void apply_one(const dns_zone_t *z, recs_t *rs, const dns_batch_t *b,
                      size_t ci)
{
    const dns_change_t *c = &b->v[ci];
    int apex = dns_name_equal(c->name, z->apex);

    switch (c->op) {
    case DNS_CH_SET:
        /* the first SET of NAME TYPE in the batch replaces the set */
        for (size_t k = 0; k < ci; k++)
            if (b->v[k].op == DNS_CH_SET && b->v[k].type == c->type &&
                dns_name_equal(b->v[k].name, c->name))
                goto add;
        for (size_t i = 0; i < rs->n; i++)
            if (!rs->dead[i] && rs->v[i].type == c->type &&
                dns_name_equal(rs->v[i].owner, c->name))
                rs->dead[i] = 1;
        goto add;
    case DNS_CH_ADD:
        if (add_skipped(rs, c, apex))
            return;
        if (apex && c->type == DNS_T_SOA)
            for (size_t i = 0; i < rs->n; i++)
                if (!rs->dead[i] && rs->v[i].type == DNS_T_SOA)
                    rs->dead[i] = 1;
    add : {
        int dup = 0;

        for (size_t i = 0; i < rs->n; i++)
            if (!rs->dead[i] && rs->v[i].type == c->type &&
                dns_name_equal(rs->v[i].owner, c->name)) {
                rs->v[i].ttl = c->ttl; /* one TTL per set */
                dup |= rd_equal(&rs->v[i], c->rdata, c->rdlen);
            }
        if (!dup)
            recs_push(rs, c);
        return;
    }
    case DNS_CH_DEL_RRSET:
    case DNS_CH_DEL_NAME:
        for (size_t i = 0; i < rs->n; i++)
            if (!rs->dead[i] && dns_name_equal(rs->v[i].owner, c->name) &&
                (c->op == DNS_CH_DEL_NAME || c->type == DNS_T_ANY ||
                 rs->v[i].type == c->type) &&
                !apex_kept(z, &rs->v[i]))
                rs->dead[i] = 1;
        return;
    case DNS_CH_DEL_RR:
        if (apex && c->type == DNS_T_SOA)
            return;
        if (apex && c->type == DNS_T_NS &&
            live_count(rs, c->name, DNS_T_NS) <= 1)
            return; /* RFC 2136 3.4.2.4: the last apex NS stays */
        for (size_t i = 0; i < rs->n; i++)
            if (!rs->dead[i] && rs->v[i].type == c->type &&
                dns_name_equal(rs->v[i].owner, c->name) &&
                rd_equal(&rs->v[i], c->rdata, c->rdlen))
                rs->dead[i] = 1;
        return;
    }
}

static int name_cmp(const uint8_t *a, const uint8_t *b)
{
    for (;; a++, b++) {
        int x = (*a >= 'A' && *a <= 'Z') ? *a + 32 : *a;
        int y = (*b >= 'A' && *b <= 'Z') ? *b + 32 : *b;

        if (x != y)
            return x - y;
        if (*a == 0) /* both ended at the same root-length byte */
            return 0;
    }
}

static int rec_cmp(const void *pa, const void *pb)
{
    const dns_rec_t *a = pa, *b = pb;
    int c = name_cmp(a->owner, b->owner);

    if (c)
        return c;
    if (a->type != b->type)
        return a->type < b->type ? -1 : 1;
    if (a->rdlen != b->rdlen)
        return a->rdlen < b->rdlen ? -1 : 1;
    if ((c = memcmp(a->rdata, b->rdata, a->rdlen)) != 0)
        return c;
    return a->ttl < b->ttl ? -1 : a->ttl > b->ttl;
}

/* Whether the live records of RS differ from the N records OLD. */
static int recs_differ(const recs_t *rs, const dns_rec_t *old, size_t n)
{
    dns_rec_t *a = loom_calloc(rs->n + 1, sizeof(*a));
    dns_rec_t *b = loom_calloc(n + 1, sizeof(*b));
    size_t na = 0;
    int differ;

    for (size_t i = 0; i < rs->n; i++)
        if (!rs->dead[i])
            a[na++] = rs->v[i];
    memcpy(b, old, n * sizeof(*b));
    differ = na != n;
    if (!differ) {
        qsort(a, na, sizeof(*a), rec_cmp);
        qsort(b, n, sizeof(*b), rec_cmp);
        for (size_t i = 0; i < n && !differ; i++)
            differ = rec_cmp(&a[i], &b[i]) != 0;
    }
    free(a);
    free(b);
    return differ;
}

/* The offset of the serial in SOA rdata RD (LEN bytes), or 0. */
static size_t soa_serial_off(const uint8_t *rd, size_t len)
{
    size_t a = dns_name_len(rd, len), b;

    if (a == 0 || (b = dns_name_len(rd + a, len - a)) == 0 || a + b + 20 > len)
        return 0;
    return a + b;
}

/* CNAME beside other data, or two CNAMEs, at a name B touches. */
static unsigned cname_check(const recs_t *rs, const dns_batch_t *b, char *why,
                            size_t whylen)
{
    for (size_t k = 0; k < b->n; k++) {
        size_t cname = 0, other = 0;
        char txt[4 * DNS_NAME_MAX + 1];

        for (size_t i = 0; i < rs->n; i++) {
            if (rs->dead[i] || !dns_name_equal(rs->v[i].owner, b->v[k].name))
                continue;
            if (rs->v[i].type == DNS_T_CNAME)
                cname++;
            else if (rs->v[i].type != DNS_T_RRSIG &&
                     rs->v[i].type != DNS_T_NSEC)
                other++;
        }
        if (cname > 1 || (cname && other)) {
            snprintf(why, whylen, "%s: %s",
                     dns_name_text(b->v[k].name, txt, sizeof(txt)),
                     cname > 1 ? "a second CNAME record"
                               : "CNAME and other data for the same name");
            return DNS_R_REFUSED;
        }
    }
    return 0;
}

unsigned dns_zone_apply(dns_zone_t *z, const dns_batch_t *b, uint32_t serial,
                        dns_zone_t **out, int *changed, char *why,
                        size_t whylen)
{
    dns_rec_t *old = NULL;
    size_t nold = dns_zone_records(z, &old);
    recs_t rs;
    unsigned rc;
    uint8_t soa[1024];
    size_t soa_i = (size_t)-1, off;
    uint32_t next;
    char err[512];

    *out = NULL;
    *changed = 0;
    memset(&rs, 0, sizeof(rs));
    for (size_t i = 0; i < b->n; i++)
        if (!dns_name_under(b->v[i].name, z->apex)) {
            char txt[4 * DNS_NAME_MAX + 1];

            snprintf(why, whylen, "%s is outside zone %s",
                     dns_name_text(b->v[i].name, txt, sizeof(txt)), z->name);
            free(old);
            return DNS_R_NOTZONE;
        }
    for (size_t i = 0; i < nold; i++) {
        dns_change_t c = {DNS_CH_ADD, old[i].owner, old[i].type,
                          old[i].ttl, old[i].rdata, old[i].rdlen};

        recs_push(&rs, &c);
    }
    for (size_t i = 0; i < b->n; i++)
        apply_one(z, &rs, b, i);
    if ((rc = cname_check(&rs, b, why, whylen)) != 0)
        goto out;
    if (!recs_differ(&rs, old, nold)) {
        dns_zone_ref(z);
        *out = z;
        goto out;
    }
    /* the serial: one up, or the new SOA's when newer, or the journal's */
    for (size_t i = 0; i < rs.n; i++)
        if (!rs.dead[i] && rs.v[i].type == DNS_T_SOA)
            soa_i = i;
    if (soa_i == (size_t)-1 || rs.v[soa_i].rdlen > sizeof(soa) ||
        (off = soa_serial_off(rs.v[soa_i].rdata, rs.v[soa_i].rdlen)) == 0) {
        snprintf(why, whylen, "the zone's SOA record is malformed");
        rc = DNS_R_REFUSED;
        goto out;
    }
    memcpy(soa, rs.v[soa_i].rdata, rs.v[soa_i].rdlen);
    next = z->serial + 1;
    if (dns_serial_newer(dns_get32(soa + off), next))
        next = dns_get32(soa + off);
    if (serial != 0)
        next = serial;
    dns_put32(soa + off, next);
    rs.v[soa_i].rdata = soa;
    {
        dns_rec_t *live = loom_calloc(rs.n + 1, sizeof(*live));
        size_t n = 0;

        for (size_t i = 0; i < rs.n; i++)
            if (!rs.dead[i])
                live[n++] = rs.v[i];
        *out = dns_zone_from_records(z->name, z->file, live, n, "dns", err,
                                     sizeof(err));
        free(live);
    }
    if (*out == NULL) {
        snprintf(why, whylen, "%s", err);
        rc = DNS_R_REFUSED;
        goto out;
    }
    *changed = 1;
out:
    free(rs.v);
    free(rs.dead);
    free(old);
    return rc;
}

/* ---- the record format ---------------------------------------------------
 */

void dns_journal_encode(const dns_batch_t *b, uint32_t serial, uint8_t **buf,
                        size_t *len)
{
    size_t need = 8 + 6, start = *len;
    uint8_t *p;

    for (size_t i = 0; i < b->n; i++)
        need += 1 + 2 + 4 + 1 + dns_name_len(b->v[i].name, DNS_NAME_MAX) + 2 +
                b->v[i].rdlen;
    *buf = loom_realloc(*buf, start + need);
    p = *buf + start + 8;
    dns_put32(p, serial);
    dns_put16(p + 4, (uint16_t)b->n);
    p += 6;
    for (size_t i = 0; i < b->n; i++) {
        const dns_change_t *c = &b->v[i];
        size_t nl = dns_name_len(c->name, DNS_NAME_MAX);

        *p++ = (uint8_t)c->op;
        dns_put16(p, c->type);
        dns_put32(p + 2, c->ttl);
        p[6] = (uint8_t)nl;
        memcpy(p + 7, c->name, nl);
        p += 7 + nl;
        dns_put16(p, c->rdlen);
        if (c->rdlen)
            memcpy(p + 2, c->rdata, c->rdlen);
        p += 2 + c->rdlen;
    }
    dns_put32(*buf + start, (uint32_t)(need - 8));
    dns_put32(*buf + start + 4, dns_crc32(0, *buf + start + 8, need - 8));
    *len = start + need;
}

/* Parse payload P (LEN bytes) into B (pointing into P).  0 or -1. */
static int payload_parse(const uint8_t *p, size_t len, dns_batch_t *b,
                         uint32_t *serial)
{
    size_t count, off = 6;

    if (len < 6)
        return -1;
    *serial = dns_get32(p);
    count = dns_get16(p + 4);
    b->v = loom_calloc(count + 1, sizeof(*b->v));
    b->n = 0;
    for (size_t i = 0; i < count; i++) {
        dns_change_t *c = &b->v[b->n];
        size_t nl;

        if (len - off < 8 || p[off] > DNS_CH_SET)
            return -1;
        c->op = (dns_change_op_t)p[off];
        c->type = dns_get16(p + off + 1);
        c->ttl = dns_get32(p + off + 3);
        nl = p[off + 7];
        off += 8;
        if (len - off < nl + 2 || nl == 0 || dns_name_len(p + off, nl) != nl)
            return -1;
        c->name = p + off;
        off += nl;
        c->rdlen = dns_get16(p + off);
        off += 2;
        if (len - off < c->rdlen)
            return -1;
        c->rdata = p + off;
        off += c->rdlen;
        b->n++;
    }
    return off == len ? 0 : -1;
}

long dns_journal_read(const uint8_t *buf, size_t len, dns_journal_cb cb,
                      void *arg)
{
    size_t off = DNS_JOURNAL_MAGIC_LEN;

    if (len == 0)
        return 0;
    if (len < DNS_JOURNAL_MAGIC_LEN ||
        memcmp(buf, DNS_JOURNAL_MAGIC, DNS_JOURNAL_MAGIC_LEN) != 0)
        return -1;
    while (len - off >= 8) {
        uint32_t rlen = dns_get32(buf + off), serial;
        dns_batch_t b = {NULL, 0, 0};
        int bad, stop = 0;

        if (rlen > DNS_JOURNAL_REC_MAX || rlen > len - off - 8 ||
            dns_crc32(0, buf + off + 8, rlen) != dns_get32(buf + off + 4))
            break;
        bad = payload_parse(buf + off + 8, rlen, &b, &serial);
        if (!bad && cb)
            stop = cb(arg, &b, serial);
        free(b.v);
        if (bad)
            break;
        off += 8 + rlen;
        if (stop)
            break;
    }
    return (long)off;
}

typedef struct {
    dns_zone_t *z;
    unsigned applied;
    char *err;
    size_t errlen;
    int failed;
} replay_t;

static int replay_one(void *arg, const dns_batch_t *b, uint32_t serial)
{
    replay_t *r = arg;
    dns_zone_t *nz;
    int changed;
    char why[512];

    if (!dns_serial_newer(serial, r->z->serial))
        return 0; /* in the zone file already */
    if (dns_zone_apply(r->z, b, serial, &nz, &changed, why, sizeof(why)) != 0) {
        snprintf(r->err, r->errlen, "record with serial %u: %s",
                 (unsigned)serial, why);
        r->failed = 1;
        return 1;
    }
    dns_zone_unref(r->z);
    r->z = nz;
    r->applied++;
    return 0;
}

int dns_journal_replay(dns_zone_t **z, const uint8_t *buf, size_t len,
                       size_t *good, unsigned *applied, char *err,
                       size_t errlen)
{
    replay_t r = {*z, 0, err, errlen, 0};
    long n;

    dns_zone_ref(r.z);
    n = dns_journal_read(buf, len, replay_one, &r);
    *applied = r.applied;
    if (n < 0) {
        snprintf(err, errlen, "not a loom journal (no %s header)",
                 DNS_JOURNAL_MAGIC);
        dns_zone_unref(r.z);
        return -1;
    }
    if (r.failed) {
        dns_zone_unref(r.z);
        return -1;
    }
    *good = (size_t)n;
    dns_zone_unref(*z);
    *z = r.z;
    return 0;
}

/* ---- writing a zone back -------------------------------------------------
 */

static void text_add(char **t, size_t *len, size_t *cap, const char *s)
{
    size_t n = strlen(s);

    if (*len + n + 1 > *cap) {
        *cap = (*len + n + 1) * 2;
        *t = loom_realloc(*t, *cap);
    }
    memcpy(*t + *len, s, n + 1);
    *len += n;
}

/* One record as a master-file line (ldns's presentation form, or RFC
 * 3597's generic form when ldns cannot show it). */
static void rec_line(const dns_rec_t *r, char **t, size_t *len, size_t *cap)
{
    uint8_t wire[DNS_NAME_MAX + 10 + 65535];
    size_t nl = dns_name_len(r->owner, DNS_NAME_MAX), pos = 0;
    ldns_rr *rr = NULL;
    char *s = NULL, owner[4 * DNS_NAME_MAX + 1], head[4 * DNS_NAME_MAX + 64];

    memcpy(wire, r->owner, nl);
    dns_put16(wire + nl, r->type);
    dns_put16(wire + nl + 2, DNS_C_IN);
    dns_put32(wire + nl + 4, r->ttl);
    dns_put16(wire + nl + 8, r->rdlen);
    memcpy(wire + nl + 10, r->rdata, r->rdlen);
    if (ldns_wire2rr(&rr, wire, nl + 10 + r->rdlen, &pos,
                     LDNS_SECTION_ANSWER) == LDNS_STATUS_OK &&
        pos == nl + 10 + r->rdlen)
        s = ldns_rr2str(rr);
    if (rr)
        ldns_rr_free(rr);
    if (s && strchr(s, '\n')) {
        text_add(t, len, cap, s);
        free(s);
        return;
    }
    free(s);
    dns_name_text(r->owner, owner, sizeof(owner));
    snprintf(head, sizeof(head), "%s %u IN TYPE%u \\# %u ", owner,
             (unsigned)r->ttl, (unsigned)r->type, (unsigned)r->rdlen);
    text_add(t, len, cap, head);
    for (uint16_t i = 0; i < r->rdlen; i++) {
        char hx[3];

        snprintf(hx, sizeof(hx), "%02x", r->rdata[i]);
        text_add(t, len, cap, hx);
    }
    text_add(t, len, cap, r->rdlen ? "\n" : "0\n");
}

char *dns_zone_text(const dns_zone_t *z, size_t *len)
{
    dns_rec_t *v = NULL;
    size_t n = dns_zone_records(z, &v), cap = 256;
    char *t = loom_malloc(cap), head[4 * DNS_NAME_MAX + 128], apex[1024];

    *len = 0;
    t[0] = '\0';
    snprintf(head, sizeof(head),
             "; zone %s, serial %u, written by loomd (dynamic zone)\n"
             "$ORIGIN %s\n",
             z->name, (unsigned)z->serial,
             dns_name_text(z->apex, apex, sizeof(apex)));
    text_add(&t, len, &cap, head);
    for (size_t i = 0; i < n; i++)
        rec_line(&v[i], &t, len, &cap);
    free(v);
    return t;
}

int dns_zone_write_file(const dns_zone_t *z, const char *path, char *err,
                        size_t errlen)
{
    size_t len, off = 0;
    char *text = dns_zone_text(z, &len), *tmp, *dir, *slash;
    int fd, rc = -1;

    tmp = loom_malloc(strlen(path) + 16);
    sprintf(tmp, "%s.tmp", path);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
        goto out;
    }
    while (off < len) {
        ssize_t w = write(fd, text + off, len - off);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
            close(fd);
            unlink(tmp);
            goto out;
        }
        off += (size_t)w;
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
        unlink(tmp);
        goto out;
    }
    if (rename(tmp, path) != 0) {
        snprintf(err, errlen, "rename %s: %s", tmp, strerror(errno));
        unlink(tmp);
        goto out;
    }
    dir = loom_strdup(path);
    slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    fd = open(slash ? (dir[0] ? dir : "/") : ".", O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(dir);
    rc = 0;
out:
    free(tmp);
    free(text);
    return rc;
}
