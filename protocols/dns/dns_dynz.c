/*
 * dns_dynz.c - dynamic zones: the update service (dns_update.h), the
 * journal with group commit on the worker pool, compaction, and the bus
 * actions dns:INSTANCE:set and dns:INSTANCE:delete.
 *
 * Per dynamic zone one dynz_t, kept by the instance across reloads: the
 * zone as committed (CUR), the journal's descriptor and length, a queue of
 * submitted batches and at most one worker job (a group write or a
 * compaction).  A group: every queued batch is checked and applied in
 * order against the zone the earlier ones left, the changing ones are
 * encoded into one buffer, and one job writes and fsyncs it; batches
 * submitted meanwhile wait for the next group.  When the job is done the
 * last zone of the group replaces the served one and the callbacks run.
 * The job owns its buffer and the descriptor's use; the dynz_t outlives
 * the job (a reload that drops the zone leaves it as an orphan that the
 * job's done frees; stop waits for running jobs, whose dones run first).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ldns/ldns.h>

#include "dns.h"
#include "dns_journal.h"
#include "dns_update.h"
#include "dns_zfile.h"
#include "loom_bus.h"
#include "loom_reactor.h"
#include "loom_work.h"

typedef struct dynz_s dynz_t;

struct dns_update_s {
    struct dns_update_s *next;
    loom_instance_t *inst;
    dns_zone_t *zone; /* the zone at begin (for names), one reference */
    dns_batch_t b;
    dns_update_check_cb check;
    void *check_arg;
    dns_update_cb cb;
    void *cb_arg;
    int cancelled, changed;
    uint32_t serial;
};

struct dynz_s {
    dynz_t *next;
    dns_dyn_t *owner; /* NULL: an orphan, freed when its job is done */
    loom_instance_t *inst;
    char *name, *file, *journal;
    int fd;
    size_t jlen, jmax;
    dns_zone_t *cur;
    struct dns_update_s *queue, **qtail;
    struct dns_update_s *inflight; /* the group being written */
    dns_zone_t *next_zone;         /* what the group leaves */
    int busy, compact_wanted;
    loom_timer_t kick;
};

struct dns_dyn_s {
    loom_instance_t *inst;
    dynz_t *zones;
    struct dns_update_s *late; /* submitted for a zone gone since begin */
    loom_timer_t late_timer;   /* tells them on a later turn */
};

typedef struct {
    dynz_t *dz;
    int fd;
    uint8_t *buf;
    size_t len, off;
    dns_zone_t *zone; /* compaction: the zone to write (reactor's ref) */
    char *path;
    int failed;
    char err[256];
} job_t;

static dynz_t *dyn_find(dns_dyn_t *d, const char *name)
{
    for (dynz_t *z = d ? d->zones : NULL; z; z = z->next)
        if (strcasecmp(z->name, name) == 0)
            return z;
    return NULL;
}

/* ---- prepare: open the journal and replay it -----------------------------
 */

static int read_all(int fd, uint8_t **out, size_t *len)
{
    struct stat st;
    size_t off = 0;

    if (fstat(fd, &st) != 0)
        return -1;
    *out = loom_malloc((size_t)st.st_size + 1);
    while (off < (size_t)st.st_size) {
        ssize_t r = pread(fd, *out + off, (size_t)st.st_size - off, (off_t)off);

        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        off += (size_t)r;
    }
    *len = off;
    return 0;
}

int dns_dyn_prepare(loom_instance_t *inst, dns_dyn_t *running, dns_conf_t *c,
                    char *err, size_t errlen)
{
    for (size_t i = 0; i < c->nzones; i++) {
        dns_zconf_t *zc = &c->zones[i];
        dynz_t *dz = dyn_find(running, zc->zone->name);
        uint8_t *buf = NULL;
        size_t len = 0, good = 0;
        unsigned applied = 0;
        char why[512];

        if (!zc->dynamic)
            continue;
        if (dz && strcmp(dz->journal, zc->journal) == 0 &&
            strcmp(dz->file, zc->path) == 0)
            continue; /* reload: the running zone is kept */
        zc->jfd = open(zc->journal, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (zc->jfd < 0 || read_all(zc->jfd, &buf, &len) != 0) {
            snprintf(err, errlen, "zone %s: journal %s: %s", zc->zone->name,
                     zc->journal, strerror(errno));
            free(buf);
            return LOOM_ERROR;
        }
        if (dns_journal_replay(&zc->zone, buf, len, &good, &applied, why,
                               sizeof(why)) != 0) {
            snprintf(err, errlen, "zone %s: journal %s: %s", zc->zone->name,
                     zc->journal, why);
            free(buf);
            return LOOM_ERROR;
        }
        free(buf);
        if (len > good && good > 0)
            loom_log(LOOM_LOG_WARN, loom_instance_who(inst),
                     "zone %s: journal %s: %zu bytes after the last whole "
                     "record (a torn write) are dropped",
                     zc->zone->name, zc->journal, len - good);
        zc->jgood = good;
        zc->jsize = len;
        if (applied)
            loom_log(LOOM_LOG_INFO, loom_instance_who(inst),
                     "zone %s: %u journal records replayed, serial %u",
                     zc->zone->name, applied, (unsigned)zc->zone->serial);
    }
    return LOOM_OK;
}

/* ---- committing ----------------------------------------------------------
 */

static void kick_cb(loom_timer_t *t, void *arg);

static void finish(struct dns_update_s *u, dns_update_status_t st,
                   unsigned rcode, const char *why, uint32_t serial)
{
    if (!u->cancelled && u->cb)
        u->cb(u->cb_arg, st, rcode, why ? why : "", serial);
    dns_batch_clear(&u->b);
    dns_zone_unref(u->zone);
    free(u);
}

static void fail_all(struct dns_update_s **list, dns_update_status_t st,
                     const char *why)
{
    while (*list) {
        struct dns_update_s *u = *list;

        *list = u->next;
        finish(u, st, st == DNS_UPDATE_FAILED ? DNS_R_SERVFAIL : 0, why, 0);
    }
}

static void dynz_free(dynz_t *dz)
{
    fail_all(&dz->queue, DNS_UPDATE_UNAVAILABLE, "the zone went away");
    fail_all(&dz->inflight, DNS_UPDATE_UNAVAILABLE, "the zone went away");
    loom_timer_disarm(&dz->kick);
    if (dz->fd >= 0)
        close(dz->fd);
    dns_zone_unref(dz->cur);
    dns_zone_unref(dz->next_zone);
    free(dz->name);
    free(dz->file);
    free(dz->journal);
    free(dz);
}

static void write_work(void *arg)
{
    job_t *j = arg;

    if (j->zone) { /* compaction */
        if (dns_zone_write_file(j->zone, j->path, j->err, sizeof(j->err)) !=
                0 ||
            ftruncate(j->fd, DNS_JOURNAL_MAGIC_LEN) != 0 || fsync(j->fd) != 0) {
            if (j->err[0] == '\0')
                snprintf(j->err, sizeof(j->err), "journal: %s",
                         strerror(errno));
            j->failed = 1;
        }
        return;
    }
    for (size_t done = 0; done < j->len;) {
        ssize_t w =
            pwrite(j->fd, j->buf + done, j->len - done, (off_t)(j->off + done));

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            snprintf(j->err, sizeof(j->err), "journal write: %s",
                     w < 0 ? strerror(errno) : "short write");
            j->failed = 1;
            break;
        }
        done += (size_t)w;
    }
    if (!j->failed && fdatasync(j->fd) != 0) {
        snprintf(j->err, sizeof(j->err), "journal fsync: %s", strerror(errno));
        j->failed = 1;
    }
    if (j->failed && ftruncate(j->fd, (off_t)j->off) == 0)
        (void)fsync(j->fd); /* nothing half-written stays */
}

static void write_done(void *arg, int status)
{
    job_t *j = arg;
    dynz_t *dz = j->dz;
    int ok = status == LOOM_WORK_COMPLETED && !j->failed;

    dz->busy = 0;
    if (j->zone) { /* compaction */
        if (ok)
            dz->jlen = DNS_JOURNAL_MAGIC_LEN;
        else if (dz->owner)
            loom_log(LOOM_LOG_WARN, loom_instance_who(dz->inst),
                     "zone %s: compaction: %s", dz->name,
                     j->err[0] ? j->err : "cancelled");
        dns_zone_unref(j->zone);
    } else if (ok) {
        dz->jlen = j->off + j->len;
        if (dz->owner) {
            dns_zone_unref(dz->cur);
            dz->cur = dz->next_zone;
            dz->next_zone = NULL;
            dns_zone_installed(dz->inst, dz->cur);
        }
        while (dz->inflight) {
            struct dns_update_s *u = dz->inflight;

            dz->inflight = u->next;
            if (dz->owner)
                finish(u, DNS_UPDATE_DONE, 0, "", u->serial);
            else
                finish(u, DNS_UPDATE_UNAVAILABLE, 0, "the zone went away", 0);
        }
        if (dz->jlen > dz->jmax)
            dz->compact_wanted = 1;
    } else {
        if (dz->owner)
            loom_log(LOOM_LOG_ERROR, loom_instance_who(dz->inst), "zone %s: %s",
                     dz->name, j->err[0] ? j->err : "journal write cancelled");
        dns_zone_unref(dz->next_zone);
        dz->next_zone = NULL;
        fail_all(&dz->inflight,
                 status == LOOM_WORK_COMPLETED ? DNS_UPDATE_FAILED
                                               : DNS_UPDATE_UNAVAILABLE,
                 j->err[0] ? j->err : "the journal write was cancelled");
    }
    free(j->buf);
    free(j->path);
    free(j);
    if (dz->owner == NULL) {
        dynz_free(dz);
        return;
    }
    if (dz->queue || dz->compact_wanted)
        loom_timer_arm(&dz->kick, 0);
}

static void start_compaction(dynz_t *dz)
{
    job_t *j = loom_calloc(1, sizeof(*j));

    dz->compact_wanted = 0;
    dz->busy = 1;
    j->dz = dz;
    j->fd = dz->fd;
    j->zone = dz->cur;
    dns_zone_ref(j->zone);
    j->path = loom_strdup(dz->file);
    loom_work_submit(dz->inst, write_work, write_done, j);
}

/* Take the queue as one group: check, apply, write. */
static void kick_cb(loom_timer_t *t, void *arg)
{
    dynz_t *dz = arg;
    dns_zone_t *z;
    uint8_t *buf = NULL;
    size_t len = 0;
    struct dns_update_s **tail = &dz->inflight;

    (void)t;
    if (dz->busy)
        return;
    if (dz->queue == NULL) {
        if (dz->compact_wanted)
            start_compaction(dz);
        return;
    }
    z = dz->cur;
    dns_zone_ref(z);
    while (dz->queue) {
        struct dns_update_s *u = dz->queue;
        dns_zone_t *nz;
        char why[512] = "";
        unsigned rc = 0;

        dz->queue = u->next;
        u->next = NULL;
        if (u->cancelled) {
            finish(u, DNS_UPDATE_UNAVAILABLE, 0, "", 0);
            continue;
        }
        if (u->check)
            rc = u->check(u->check_arg, z, why, sizeof(why));
        if (rc == 0)
            rc =
                dns_zone_apply(z, &u->b, 0, &nz, &u->changed, why, sizeof(why));
        if (rc != 0) {
            finish(u, DNS_UPDATE_REFUSED, rc, why, z->serial);
            continue;
        }
        if (u->changed)
            dns_journal_encode(&u->b, nz->serial, &buf, &len);
        dns_zone_unref(z);
        z = nz;
        u->serial = z->serial;
        *tail = u;
        tail = &u->next;
    }
    dz->qtail = &dz->queue;
    if (len == 0) { /* nothing changed: done at once */
        dns_zone_unref(z);
        while (dz->inflight) {
            struct dns_update_s *u = dz->inflight;

            dz->inflight = u->next;
            finish(u, DNS_UPDATE_DONE, 0, "", u->serial);
        }
        if (dz->compact_wanted)
            start_compaction(dz);
        return;
    }
    {
        job_t *j = loom_calloc(1, sizeof(*j));

        j->dz = dz;
        j->fd = dz->fd;
        j->buf = buf;
        j->len = len;
        j->off = dz->jlen;
        dz->next_zone = z;
        dz->busy = 1;
        loom_work_submit(dz->inst, write_work, write_done, j);
    }
}

/* ---- start, reload, stop -------------------------------------------------
 */

static dynz_t *dynz_new(dns_dyn_t *d, dns_zconf_t *zc)
{
    dynz_t *dz = loom_calloc(1, sizeof(*dz));

    dz->owner = d;
    dz->inst = d->inst;
    dz->name = loom_strdup(zc->zone->name);
    dz->file = loom_strdup(zc->path);
    dz->journal = loom_strdup(zc->journal);
    dz->jmax = zc->journal_max;
    dz->fd = zc->jfd;
    zc->jfd = -1;
    dz->qtail = &dz->queue;
    loom_timer_init(&dz->kick, d->inst, kick_cb, dz);
    /* a torn tail goes; a new journal gets its magic */
    if (zc->jgood < zc->jsize && ftruncate(dz->fd, (off_t)zc->jgood) != 0)
        loom_log(LOOM_LOG_WARN, loom_instance_who(d->inst),
                 "zone %s: journal %s: truncate: %s", dz->name, dz->journal,
                 strerror(errno));
    dz->jlen = zc->jgood;
    if (dz->jlen < DNS_JOURNAL_MAGIC_LEN) {
        if (pwrite(dz->fd, DNS_JOURNAL_MAGIC, DNS_JOURNAL_MAGIC_LEN, 0) !=
                DNS_JOURNAL_MAGIC_LEN ||
            fsync(dz->fd) != 0)
            loom_log(LOOM_LOG_WARN, loom_instance_who(d->inst),
                     "zone %s: journal %s: %s", dz->name, dz->journal,
                     strerror(errno));
        dz->jlen = DNS_JOURNAL_MAGIC_LEN;
    }
    dz->cur = zc->zone;
    dns_zone_ref(dz->cur);
    return dz;
}

static void late_cb(loom_timer_t *t, void *arg)
{
    dns_dyn_t *d = arg;

    (void)t;
    fail_all(&d->late, DNS_UPDATE_UNAVAILABLE, "the zone went away");
}

dns_dyn_t *dns_dyn_apply(loom_instance_t *inst, dns_dyn_t *d, dns_conf_t *c,
                         int reload)
{
    dynz_t *keep = NULL, **tail = &keep;

    if (d == NULL) {
        d = loom_calloc(1, sizeof(*d));
        d->inst = inst;
        loom_timer_init(&d->late_timer, inst, late_cb, d);
    }
    for (size_t i = 0; i < c->nzones; i++) {
        dns_zconf_t *zc = &c->zones[i];
        dynz_t **pp = &d->zones, *dz = NULL;

        if (!zc->dynamic)
            continue;
        for (; *pp; pp = &(*pp)->next)
            if (strcasecmp((*pp)->name, zc->zone->name) == 0 && zc->jfd < 0) {
                dz = *pp;
                *pp = dz->next;
                break;
            }
        if (dz) { /* kept: serve what it holds; compact on SIGHUP */
            dns_zone_unref(zc->zone);
            zc->zone = dz->cur;
            dns_zone_ref(zc->zone);
            dz->jmax = zc->journal_max;
            if (reload) {
                dz->compact_wanted = 1;
                loom_timer_arm(&dz->kick, 0);
            }
        } else {
            dz = dynz_new(d, zc);
        }
        dz->next = NULL;
        *tail = dz;
        tail = &dz->next;
    }
    /* the zones this configuration dropped */
    while (d->zones) {
        dynz_t *dz = d->zones;

        d->zones = dz->next;
        fail_all(&dz->queue, DNS_UPDATE_UNAVAILABLE, "the zone went away");
        loom_timer_disarm(&dz->kick);
        dz->owner = NULL;
        if (!dz->busy)
            dynz_free(dz);
    }
    d->zones = keep;
    return d;
}

void dns_dyn_stop(dns_dyn_t *d)
{
    if (d == NULL)
        return;
    while (d->zones) {
        dynz_t *dz = d->zones;

        d->zones = dz->next;
        dz->owner = NULL;
        dynz_free(dz); /* the pool ran every done before stop */
    }
    loom_timer_disarm(&d->late_timer);
    fail_all(&d->late, DNS_UPDATE_UNAVAILABLE, "the instance stopped");
    free(d);
}

/* ---- the service ---------------------------------------------------------
 */

static dns_update_t *svc_begin(void *self, const char *zone, char *why,
                               size_t whylen)
{
    loom_instance_t *inst = self;
    dns_dyn_t *d = dns_instance_dyn(inst);
    dynz_t *dz = dyn_find(d, zone);
    size_t n = strlen(zone);
    struct dns_update_s *u;

    if (dz == NULL && n > 1 && zone[n - 1] == '.') {
        char *z = loom_strndup(zone, n - 1);

        dz = dyn_find(d, z);
        free(z);
    }
    if (dz == NULL) {
        snprintf(why, whylen, "no dynamic zone %s here", zone);
        return NULL;
    }
    u = loom_calloc(1, sizeof(*u));
    u->inst = inst;
    u->zone = dz->cur;
    dns_zone_ref(u->zone);
    return (dns_update_t *)u;
}

static int type_changeable(uint16_t t, dns_change_op_t op)
{
    if (t == DNS_T_ANY)
        return op == DNS_CH_DEL_RRSET || op == DNS_CH_DEL_NAME;
    return t != 0 && t != DNS_T_OPT && t != DNS_T_TSIG &&
           !(t >= 128 && t <= 255);
}

static int svc_add(dns_update_t *up, const dns_change_t *c, char *why,
                   size_t whylen)
{
    struct dns_update_s *u = (struct dns_update_s *)up;
    char txt[4 * DNS_NAME_MAX + 1];

    if (c->name == NULL || dns_name_len(c->name, DNS_NAME_MAX) == 0) {
        snprintf(why, whylen, "malformed name");
        return -1;
    }
    if (!dns_name_under(c->name, u->zone->apex)) {
        snprintf(why, whylen, "%s is outside zone %s",
                 dns_name_text(c->name, txt, sizeof(txt)), u->zone->name);
        return -1;
    }
    if (c->op > DNS_CH_SET || !type_changeable(c->type, c->op)) {
        snprintf(why, whylen, "type %u cannot be changed", c->type);
        return -1;
    }
    if (c->type == DNS_T_SOA && c->op != DNS_CH_DEL_RRSET &&
        c->op != DNS_CH_DEL_NAME && !dns_name_equal(c->name, u->zone->apex)) {
        snprintf(why, whylen, "SOA only at the zone apex %s", u->zone->name);
        return -1;
    }
    if (c->ttl > 0x7fffffffu) {
        snprintf(why, whylen, "TTL over 2147483647");
        return -1;
    }
    if (u->b.n >= DNS_JOURNAL_CHANGES_MAX) {
        snprintf(why, whylen, "too many changes in one batch");
        return -1;
    }
    dns_batch_add(&u->b, c);
    return 0;
}

typedef struct {
    dns_zrr_t rr;
    uint8_t owner[DNS_NAME_MAX];
    uint8_t rdata[65535];
    int n;
} one_rr_t;

static int take_rr(void *arg, const dns_zrr_t *rr, char *err, size_t errlen)
{
    one_rr_t *o = arg;

    (void)err;
    (void)errlen;
    if (o->n++ == 0) {
        o->rr = *rr;
        memcpy(o->owner, rr->owner, rr->owner_len);
        memcpy(o->rdata, rr->rdata, rr->rdlen);
    }
    return 0;
}

static int svc_add_text(dns_update_t *up, dns_change_op_t op, const char *name,
                        const char *type, uint32_t ttl, const char *rdata,
                        char *why, size_t whylen)
{
    struct dns_update_s *u = (struct dns_update_s *)up;
    uint8_t wname[DNS_NAME_MAX];
    const uint8_t *origin = u->zone->apex;
    dns_change_t c;
    size_t nl = name ? strlen(name) : 0, zl = strlen(u->zone->name);
    const char *err;

    memset(&c, 0, sizeof(c));
    c.op = op;
    c.ttl = ttl;
    /* "h1.dyn.example.test" (ending in the zone's name) is absolute */
    if (nl >= zl && strcasecmp(name + nl - zl, u->zone->name) == 0 &&
        (nl == zl || name[nl - zl - 1] == '.'))
        origin = (const uint8_t *)"";
    if (nl == 0 || strpbrk(name, " \t\r\n;()\"") ||
        dns_name_parse(wname, name, nl, origin, &err) == 0) {
        snprintf(why, whylen, "malformed name \"%s\"", name ? name : "");
        return -1;
    }
    c.name = wname;
    if (type == NULL || type[0] == '\0') {
        if (op != DNS_CH_DEL_RRSET && op != DNS_CH_DEL_NAME) {
            snprintf(why, whylen, "a type is needed");
            return -1;
        }
        c.type = DNS_T_ANY;
        return svc_add(up, &c, why, whylen);
    }
    if (op == DNS_CH_DEL_RRSET || op == DNS_CH_DEL_NAME) {
        c.type = (uint16_t)ldns_get_rr_type_by_name(type);
        if (c.type == 0) {
            snprintf(why, whylen, "unknown type \"%s\"", type);
            return -1;
        }
        return svc_add(up, &c, why, whylen);
    }
    {
        /* NAME TTL IN TYPE RDATA through the zone-file reader */
        size_t rl = rdata ? strlen(rdata) : 0, cap = rl + 128;
        char *line, err2[512];
        one_rr_t *o;
        int rc;

        if (rl == 0 || strpbrk(rdata, "\r\n") || rdata[0] == '$' ||
            strpbrk(type, " \t\r\n;()\"$\\") || strlen(type) > 20) {
            snprintf(why, whylen, "%s",
                     rl ? "malformed rdata or type" : "no rdata");
            return -1;
        }
        line = loom_malloc(cap);
        snprintf(line, cap, "@ %u IN %s %s\n", (unsigned)ttl, type, rdata);
        o = loom_calloc(1, sizeof(*o));
        rc = dns_zfile_read_mem("rdata", line, strlen(line), wname, take_rr, o,
                                err2, sizeof(err2));
        free(line);
        if (rc != 0 || o->n != 1) {
            const char *msg = strstr(err2, ": ");

            snprintf(why, whylen, "rdata \"%s\": %s", rdata,
                     rc != 0 ? (msg ? msg + 2 : err2) : "not one record");
            free(o);
            return -1;
        }
        c.type = o->rr.type;
        c.ttl = o->rr.ttl;
        c.rdata = o->rdata;
        c.rdlen = o->rr.rdlen;
        rc = svc_add(up, &c, why, whylen);
        free(o);
        return rc;
    }
}

static void svc_set_check(dns_update_t *up, dns_update_check_cb check,
                          void *arg)
{
    struct dns_update_s *u = (struct dns_update_s *)up;

    u->check = check;
    u->check_arg = arg;
}

static void svc_abort(dns_update_t *up)
{
    struct dns_update_s *u = (struct dns_update_s *)up;

    if (u == NULL)
        return;
    dns_batch_clear(&u->b);
    dns_zone_unref(u->zone);
    free(u);
}

static dns_update_handle_t *svc_submit(dns_update_t *up, dns_update_cb cb,
                                       void *arg)
{
    struct dns_update_s *u = (struct dns_update_s *)up;
    dns_dyn_t *d = dns_instance_dyn(u->inst);
    dynz_t *dz = dyn_find(d, u->zone->name);

    u->cb = cb;
    u->cb_arg = arg;
    u->next = NULL;
    if (dz == NULL && d) { /* a reload dropped the zone since begin */
        u->next = d->late;
        d->late = u;
        loom_timer_arm(&d->late_timer, 0);
        return (dns_update_handle_t *)u;
    }
    if (dz == NULL) { /* the instance is stopping: no later turn to use */
        finish(u, DNS_UPDATE_UNAVAILABLE, 0, "the instance stopped", 0);
        return NULL;
    }
    *dz->qtail = u;
    dz->qtail = &u->next;
    if (!dz->busy)
        loom_timer_arm(&dz->kick, 0);
    return (dns_update_handle_t *)u;
}

static void svc_cancel(dns_update_handle_t *h)
{
    struct dns_update_s *u = (struct dns_update_s *)h;

    if (u)
        u->cancelled = 1;
}

const dns_update_service_t dns_update_service = {
    svc_begin,  svc_add,   svc_add_text, svc_set_check,
    svc_submit, svc_abort, svc_cancel};

/* ---- bus actions ---------------------------------------------------------
 */

/* The dynamic zone NAME lies in (the longest), or NULL. */
static dynz_t *zone_of(dns_dyn_t *d, const char *name)
{
    uint8_t w[DNS_NAME_MAX];
    dynz_t *best = NULL;

    if (dns_name_from_text(w, name, (const uint8_t *)"") == 0)
        return NULL;
    for (dynz_t *z = d ? d->zones : NULL; z; z = z->next)
        if (dns_name_under(w, z->cur->apex) &&
            (best == NULL || z->cur->apex_labels > best->cur->apex_labels))
            best = z;
    return best;
}

static void act_done(void *arg, dns_update_status_t st, unsigned rcode,
                     const char *why, uint32_t serial)
{
    loom_action_call_t *call = arg;
    char msg[600];

    (void)rcode;
    (void)serial;
    snprintf(msg, sizeof(msg), "%s", why);
    loom_action_done(call,
                     st == DNS_UPDATE_DONE     ? LOOM_ACT_DONE
                     : st == DNS_UPDATE_FAILED ? LOOM_ACT_RETRY
                                               : LOOM_ACT_FAILED,
                     msg[0] ? msg : NULL);
}

static void act_change(loom_instance_t *inst, loom_action_call_t *call, int set)
{
    const char *name = loom_action_param(call, "name", NULL);
    const char *type = loom_action_param(call, "type", NULL);
    const char *ttls = loom_action_param(call, "ttl", NULL);
    const char *rdata = loom_action_param(call, "rdata", NULL);
    dns_dyn_t *d = dns_instance_dyn(inst);
    dynz_t *dz;
    dns_update_t *u;
    char why[600], *end, *copy, *save = NULL, *one;
    unsigned long ttl = 300;
    int rc = 0;

    if (name == NULL || (dz = zone_of(d, name)) == NULL) {
        loom_action_done(call, LOOM_ACT_FAILED,
                         "the name is in no dynamic zone here");
        return;
    }
    if (ttls && ttls[0]) {
        errno = 0;
        ttl = strtoul(ttls, &end, 10);
        if (*end || ttls[0] < '0' || ttls[0] > '9' || ttl > 0x7fffffffUL) {
            loom_action_done(call, LOOM_ACT_FAILED, "bad ttl");
            return;
        }
    }
    if ((u = dns_update_service.begin(inst, dz->name, why, sizeof(why))) ==
        NULL) {
        loom_action_done(call, LOOM_ACT_FAILED, why);
        return;
    }
    if (!set) {
        rc = dns_update_service.add_text(
            u, type && type[0] ? DNS_CH_DEL_RRSET : DNS_CH_DEL_NAME, name, type,
            0, NULL, why, sizeof(why));
    } else if (type == NULL || type[0] == '\0' || rdata == NULL) {
        snprintf(why, sizeof(why), "set needs type and rdata");
        rc = -1;
    } else { /* one record a line */
        copy = loom_strdup(rdata);
        for (one = strtok_r(copy, "\n", &save); one && rc == 0;
             one = strtok_r(NULL, "\n", &save))
            rc = dns_update_service.add_text(u, DNS_CH_SET, name, type,
                                             (uint32_t)ttl, one, why,
                                             sizeof(why));
        free(copy);
    }
    if (rc != 0) {
        dns_update_service.abort(u);
        loom_action_done(call, LOOM_ACT_FAILED, why);
        return;
    }
    dns_update_service.submit(u, act_done, call);
}

static void act_set(loom_instance_t *inst, loom_action_call_t *call)
{
    act_change(inst, call, 1);
}

static void act_delete(loom_instance_t *inst, loom_action_call_t *call)
{
    act_change(inst, call, 0);
}

static const loom_action_param_t set_params[] = {
    {"name", 1}, {"type", 1}, {"ttl", 0}, {"rdata", 1}, {NULL, 0}};
static const loom_action_param_t delete_params[] = {
    {"name", 1}, {"type", 0}, {NULL, 0}};
const loom_action_t dns_actions[] = {{"set", set_params, act_set},
                                     {"delete", delete_params, act_delete},
                                     {NULL, NULL, NULL}};
