/*
 * dns_zone.c - building a zone from its master file, and finding names in
 * it.
 */
#include "dns_zone.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns_zfile.h"
#include "loom.h"

/* ---- arena: every byte of a zone, freed at once ------------------------- */

#define ARENA_CHUNK (64 * 1024)

typedef struct dns_arena_s {
    struct dns_arena_s *next;
    size_t used, cap;
    uint8_t data[];
} dns_arena_t;

static void *arena_alloc(dns_arena_t **head, size_t n)
{
    dns_arena_t *a = *head;
    void *p;

    n = (n + 7) & ~(size_t)7;
    if (a == NULL || a->cap - a->used < n) {
        size_t cap = n > ARENA_CHUNK ? n : ARENA_CHUNK;

        a = loom_malloc(sizeof(*a) + cap);
        a->cap = cap;
        a->used = 0;
        a->next = *head;
        *head = a;
    }
    p = a->data + a->used;
    a->used += n;
    return p;
}

static void arena_free(dns_arena_t *a)
{
    while (a) {
        dns_arena_t *next = a->next;

        free(a);
        a = next;
    }
}

/* ---- names -------------------------------------------------------------- */

static uint32_t name_hash(const uint8_t *name)
{
    uint32_t h = 2166136261u;

    for (;;) {
        uint8_t l = *name++;

        h = (h ^ l) * 16777619u;
        if (l == 0)
            return h ^ (h >> 15);
        for (uint8_t i = 0; i < l; i++) {
            uint8_t c = name[i];

            if (c >= 'A' && c <= 'Z')
                c += 32;
            h = (h ^ c) * 16777619u;
        }
        name += l;
    }
}

const dns_node_t *dns_zone_find(const dns_zone_t *z, const uint8_t *name)
{
    const dns_node_t *n = z->table[name_hash(name) & z->mask];

    for (; n; n = n->hnext)
        if (dns_name_equal(n->name, name))
            return n;
    return NULL;
}

const dns_rrset_t *dns_node_rrset(const dns_node_t *n, uint16_t type)
{
    for (unsigned i = 0; i < n->nrrsets; i++) {
        if (n->rrsets[i].type == type)
            return &n->rrsets[i];
        if (n->rrsets[i].type > type)
            break;
    }
    return NULL;
}

/* ---- building ----------------------------------------------------------- */

typedef struct {
    dns_node_t *node;
    uint16_t type, covered;
    uint32_t ttl;
    const uint8_t *rdata;
    uint16_t rdlen;
    unsigned line;
    const char *file;
    size_t seq;
} build_rr_t;

typedef struct {
    dns_zone_t *z;
    const char *who;
    build_rr_t *rrs;
    size_t nrrs, cap;
    size_t nodecap;  /* slots in z->nodes */
    size_t tablecap; /* slots in the build-time table */
    char **files;    /* file names records came from (kept for errors) */
    size_t nfiles;
    unsigned skipped;
    const char *skipped_file; /* the first record outside the zone */
    unsigned skipped_line;
} build_t;

static void table_insert(dns_zone_t *z, dns_node_t *n)
{
    size_t slot = name_hash(n->name) & z->mask;

    n->hnext = z->table[slot];
    z->table[slot] = n;
}

static void table_grow(build_t *b)
{
    dns_zone_t *z = b->z;
    size_t cap = (z->mask + 1) * 2;

    free(z->table);
    z->table = loom_calloc(cap, sizeof(*z->table));
    z->mask = cap - 1;
    for (size_t i = 0; i < z->nnodes; i++)
        table_insert(z, z->nodes[i]);
}

static dns_node_t *node_get(build_t *b, const uint8_t *name)
{
    dns_zone_t *z = b->z;
    dns_node_t *n = (dns_node_t *)dns_zone_find(z, name);
    size_t len;

    if (n)
        return n;
    if (z->nnodes + 1 > (z->mask + 1) / 2)
        table_grow(b);
    if (z->nnodes == b->nodecap) {
        b->nodecap = b->nodecap ? b->nodecap * 2 : 64;
        z->nodes = loom_realloc(z->nodes, b->nodecap * sizeof(*z->nodes));
    }
    len = dns_name_len(name, DNS_NAME_MAX);
    n = arena_alloc(&z->arena, sizeof(*n) + len);
    memset(n, 0, sizeof(*n));
    memcpy((uint8_t *)(n + 1), name, len);
    n->name = (const uint8_t *)(n + 1);
    n->labels = (uint8_t)dns_name_labels(name);
    table_insert(z, n);
    z->nodes[z->nnodes++] = n;
    return n;
}

static const char *keep_file(build_t *b, const char *file)
{
    if (b->nfiles && strcmp(b->files[b->nfiles - 1], file) == 0)
        return b->files[b->nfiles - 1];
    for (size_t i = 0; i < b->nfiles; i++)
        if (strcmp(b->files[i], file) == 0)
            return b->files[i];
    b->files = loom_realloc(b->files, (b->nfiles + 1) * sizeof(*b->files));
    b->files[b->nfiles] = loom_strdup(file);
    return b->files[b->nfiles++];
}

static int on_record(void *arg, const dns_zrr_t *rr, char *err, size_t errlen)
{
    build_t *b = arg;
    dns_zone_t *z = b->z;
    build_rr_t *r;
    uint8_t *rd;

    if (!dns_name_under(rr->owner, z->apex)) {
        char txt[4 * DNS_NAME_MAX + 1];

        if (b->skipped == 0) {
            b->skipped_file = keep_file(b, rr->file);
            b->skipped_line = rr->line;
        }
        if (b->skipped++ < 10)
            loom_log(LOOM_LOG_WARN, b->who,
                     "%s:%u: %s is outside zone %s; ignored", rr->file,
                     rr->line, dns_name_text(rr->owner, txt, sizeof(txt)),
                     z->name);
        return 0;
    }
    if (rr->type == DNS_T_RRSIG && rr->rdlen < 18) {
        snprintf(err, errlen, "%s:%u: RRSIG record too short", rr->file,
                 rr->line);
        return -1;
    }
    if (rr->type == DNS_T_SOA && !dns_name_equal(rr->owner, z->apex)) {
        snprintf(err, errlen, "%s:%u: SOA record not at the zone apex %s",
                 rr->file, rr->line, z->name);
        return -1;
    }
    if (b->nrrs == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 256;
        b->rrs = loom_realloc(b->rrs, b->cap * sizeof(*b->rrs));
    }
    r = &b->rrs[b->nrrs];
    r->node = node_get(b, rr->owner);
    r->type = rr->type;
    r->covered = rr->type == DNS_T_RRSIG ? dns_get16(rr->rdata) : 0;
    r->ttl = rr->ttl;
    rd = arena_alloc(&z->arena, rr->rdlen ? rr->rdlen : 1);
    memcpy(rd, rr->rdata, rr->rdlen);
    r->rdata = rd;
    r->rdlen = rr->rdlen;
    r->line = rr->line;
    r->file = keep_file(b, rr->file);
    r->seq = b->nrrs++;
    return 0;
}

static int rr_cmp(const void *a, const void *b)
{
    const build_rr_t *x = a, *y = b;

    if (x->node != y->node)
        return x->node < y->node ? -1 : 1;
    if (x->type != y->type)
        return x->type < y->type ? -1 : 1;
    if (x->covered != y->covered)
        return x->covered < y->covered ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Create the empty non-terminals between every node and the apex. */
static void add_ents(build_t *b)
{
    dns_zone_t *z = b->z;
    size_t n = z->nnodes;

    for (size_t i = 0; i < n; i++) {
        const uint8_t *name = z->nodes[i]->name;
        unsigned labels = z->nodes[i]->labels;

        for (unsigned k = 1; labels - k > z->apex_labels; k++) {
            const uint8_t *up = dns_name_skip(name, k);

            if (dns_zone_find(z, up))
                break;
            node_get(b, up);
            /* node_get may have moved z->nodes; NAME lives in the arena */
        }
    }
}

static int build_sets(build_t *b, char *err, size_t errlen)
{
    dns_zone_t *z = b->z;
    size_t i = 0;

    qsort(b->rrs, b->nrrs, sizeof(*b->rrs), rr_cmp);
    while (i < b->nrrs) {
        dns_node_t *node = b->rrs[i].node;
        size_t j = i, nsets = 0, k;
        dns_rrset_t *sets;
        const build_rr_t *cname = NULL, *other = NULL;

        while (j < b->nrrs && b->rrs[j].node == node) {
            const build_rr_t *r = &b->rrs[j];

            if (j == i || r->type != b->rrs[j - 1].type ||
                r->covered != b->rrs[j - 1].covered)
                nsets++;
            if (r->type == DNS_T_CNAME) {
                if (cname) {
                    snprintf(err, errlen,
                             "%s:%u: a second CNAME record "
                             "for the same name",
                             r->file, r->line);
                    return -1;
                }
                cname = r;
            } else if (r->type != DNS_T_RRSIG && r->type != DNS_T_NSEC &&
                       (other == NULL || r->seq < other->seq)) {
                other = r; /* the first in file order */
            }
            j++;
        }
        if (cname && other) {
            const build_rr_t *late = cname->seq > other->seq ? cname : other;

            snprintf(err, errlen,
                     "%s:%u: CNAME and other data for the same "
                     "name",
                     late->file, late->line);
            return -1;
        }
        sets = arena_alloc(&z->arena, nsets * sizeof(*sets));
        memset(sets, 0, nsets * sizeof(*sets));
        node->rrsets = sets;
        node->nrrsets = (uint16_t)nsets;
        for (k = 0; i < j; k++) {
            size_t e = i, size = 0, count = 0;
            uint8_t *data, *w;

            while (e < j && b->rrs[e].type == b->rrs[i].type &&
                   b->rrs[e].covered == b->rrs[i].covered)
                e++;
            for (size_t m = i; m < e; m++)
                size += 2 + (size_t)b->rrs[m].rdlen;
            w = data = arena_alloc(&z->arena, size ? size : 1);
            for (size_t m = i; m < e; m++) {
                const build_rr_t *r = &b->rrs[m];
                int dup = 0;

                /* RFC 2181 5: an RRset has no duplicate records. */
                for (const uint8_t *d = data; d < w; d += 2 + dns_get16(d))
                    if (dns_get16(d) == r->rdlen &&
                        memcmp(d + 2, r->rdata, r->rdlen) == 0)
                        dup = 1;
                if (dup)
                    continue;
                dns_put16(w, r->rdlen);
                memcpy(w + 2, r->rdata, r->rdlen);
                w += 2 + r->rdlen;
                count++;
            }
            sets[k].type = b->rrs[i].type;
            sets[k].covered = b->rrs[i].covered;
            /* RFC 2181 5.2: one TTL per RRset; the lowest wins. */
            sets[k].ttl = b->rrs[i].ttl;
            for (size_t m = i; m < e; m++)
                if (b->rrs[m].ttl < sets[k].ttl)
                    sets[k].ttl = b->rrs[m].ttl;
            sets[k].count = (uint32_t)count;
            sets[k].size = (uint32_t)(w - data);
            sets[k].data = data;
            z->nrecords += count;
            i = e;
        }
        /* Link each set to the RRSIGs that cover it. */
        for (k = 0; k < nsets; k++) {
            if (sets[k].type != DNS_T_RRSIG)
                continue;
            for (size_t m = 0; m < nsets; m++)
                if (sets[m].type == sets[k].covered &&
                    sets[m].type != DNS_T_RRSIG)
                    sets[m].sigs = &sets[k];
        }
        if (node != z->apex_node && dns_node_rrset(node, DNS_T_NS))
            node->flags |= DNS_NODE_CUT;
    }
    return 0;
}

static dns_zone_t *zone_new(const char *name, const char *file, char *err,
                            size_t errlen)
{
    dns_zone_t *z = loom_calloc(1, sizeof(*z));
    uint8_t apex[DNS_NAME_MAX];
    size_t len = dns_name_from_text(apex, name, NULL);

    if (len == 0) {
        snprintf(err, errlen, "zone \"%s\": not a domain name", name);
        free(z);
        return NULL;
    }
    z->refs = 1;
    z->apex_len = dns_name_lower(z->apex, apex);
    z->apex_labels = dns_name_labels(z->apex);
    z->name = loom_strdup(name);
    z->file = loom_strdup(file);
    z->table = loom_calloc(64, sizeof(*z->table));
    z->mask = 63;
    return z;
}

/* The record that comes first in the zone's files, or NULL. */
static const build_rr_t *first_rr(const build_t *b)
{
    const build_rr_t *first = NULL;

    for (size_t i = 0; i < b->nrrs; i++)
        if (first == NULL || b->rrs[i].seq < first->seq)
            first = &b->rrs[i];
    return first;
}

/* A zone that lacks an SOA or NS records is reported at a line of its
 * file: the first record (where the SOA belongs), the apex SOA (beside
 * which NS records belong), or, when no record is inside the zone, the
 * first one outside it.  A file with no record at all is reported by the
 * caller at the line of the `file` option: "zone \"NAME\": ...". */
static void zone_missing(const build_t *b, const char *what, char *err,
                         size_t errlen)
{
    const dns_zone_t *z = b->z;
    const build_rr_t *at = first_rr(b);

    if (z->soa && strcmp(what, "NS records") == 0) {
        for (size_t i = 0; i < b->nrrs; i++)
            if (b->rrs[i].type == DNS_T_SOA)
                at = &b->rrs[i];
    }
    if (at)
        snprintf(err, errlen, "%s:%u: zone %s has no %s at its apex (%s)",
                 at->file, at->line, z->name, what,
                 strcmp(what, "SOA record") == 0
                     ? "the zone's first record should be its SOA"
                     : "they belong beside the SOA record");
    else if (b->skipped)
        snprintf(err, errlen,
                 "%s:%u: zone %s has no records: this one and every other "
                 "is outside the zone (check $ORIGIN and the names)",
                 b->skipped_file, b->skipped_line, z->name);
    else
        snprintf(err, errlen,
                 "zone \"%s\": %s holds no records (a zone needs at least "
                 "an SOA and an NS record)",
                 z->name, z->file);
}

static dns_zone_t *zone_finish(build_t *b, int rc, char *err, size_t errlen)
{
    dns_zone_t *z = b->z;

    if (rc == 0) {
        z->apex_node = (dns_node_t *)dns_zone_find(z, z->apex);
        if (z->apex_node) {
            z->apex_node->flags |= DNS_NODE_APEX;
            add_ents(b);
            rc = build_sets(b, err, errlen);
        }
    }
    if (rc == 0) {
        if (z->apex_node)
            z->soa = dns_node_rrset(z->apex_node, DNS_T_SOA);
        if (z->soa == NULL) {
            zone_missing(b, "SOA record", err, errlen);
            rc = -1;
        } else if (z->soa->count != 1) {
            const build_rr_t *second = NULL;

            for (size_t i = 0; i < b->nrrs; i++)
                if (b->rrs[i].type == DNS_T_SOA &&
                    (second == NULL || b->rrs[i].seq > second->seq))
                    second = &b->rrs[i];
            snprintf(err, errlen, "%s:%u: a second SOA record for zone %s",
                     second->file, second->line, z->name);
            rc = -1;
        } else if (dns_node_rrset(z->apex_node, DNS_T_NS) == NULL) {
            zone_missing(b, "NS records", err, errlen);
            rc = -1;
        }
    }
    if (rc == 0) {
        /* SOA rdata: mname, rname, serial, ... */
        const uint8_t *rd = z->soa->data + 2;
        size_t off = dns_name_len(rd, DNS_NAME_MAX);

        off += dns_name_len(rd + off, DNS_NAME_MAX);
        z->serial = dns_get32(rd + off);
    }
    for (size_t i = 0; i < b->nfiles; i++)
        free(b->files[i]);
    free(b->files);
    free(b->rrs);
    if (rc != 0) {
        dns_zone_unref(z);
        return NULL;
    }
    return z;
}

dns_zone_t *dns_zone_load(const char *name, const char *file, const char *who,
                          char *err, size_t errlen)
{
    build_t b;
    int rc;

    memset(&b, 0, sizeof(b));
    b.who = who;
    if ((b.z = zone_new(name, file, err, errlen)) == NULL)
        return NULL;
    rc = dns_zfile_read(file, b.z->apex, on_record, &b, err, errlen);
    return zone_finish(&b, rc, err, errlen);
}

dns_zone_t *dns_zone_load_mem(const char *name, const char *text, size_t len,
                              const char *who, char *err, size_t errlen)
{
    build_t b;
    int rc;

    memset(&b, 0, sizeof(b));
    b.who = who;
    if ((b.z = zone_new(name, "(memory)", err, errlen)) == NULL)
        return NULL;
    rc = dns_zfile_read_mem("(memory)", text, len, b.z->apex, on_record, &b,
                            err, errlen);
    return zone_finish(&b, rc, err, errlen);
}

dns_zone_t *dns_zone_from_records(const char *name, const char *file,
                                  const dns_rec_t *v, size_t n, const char *who,
                                  char *err, size_t errlen)
{
    build_t b;
    int rc = 0;

    memset(&b, 0, sizeof(b));
    b.who = who;
    if ((b.z = zone_new(name, file, err, errlen)) == NULL)
        return NULL;
    for (size_t i = 0; i < n && rc == 0; i++) {
        dns_zrr_t rr;

        memset(&rr, 0, sizeof(rr));
        rr.owner = v[i].owner;
        rr.owner_len = dns_name_len(v[i].owner, DNS_NAME_MAX);
        rr.type = v[i].type;
        rr.rclass = DNS_C_IN;
        rr.ttl = v[i].ttl;
        rr.rdata = v[i].rdata;
        rr.rdlen = v[i].rdlen;
        rr.file = "record";
        rr.line = (unsigned)(i + 1);
        rc = on_record(&b, &rr, err, errlen);
    }
    return zone_finish(&b, rc, err, errlen);
}

size_t dns_zone_records(const dns_zone_t *z, dns_rec_t **out)
{
    dns_rec_t *v = loom_calloc(z->nrecords ? z->nrecords : 1, sizeof(*v));
    size_t n = 0;

    for (size_t i = 0; i < z->nnodes; i++) {
        const dns_node_t *node = z->nodes[i];

        for (unsigned s = 0; s < node->nrrsets; s++) {
            const dns_rrset_t *set = &node->rrsets[s];
            const uint8_t *d = set->data;

            for (uint32_t k = 0; k < set->count && n < z->nrecords; k++) {
                v[n].owner = node->name;
                v[n].type = set->type;
                v[n].ttl = set->ttl;
                v[n].rdlen = dns_get16(d);
                v[n].rdata = d + 2;
                d += 2 + v[n].rdlen;
                n++;
            }
        }
    }
    *out = v;
    return n;
}

void dns_zone_ref(dns_zone_t *z)
{
    z->refs++;
}

void dns_zone_unref(dns_zone_t *z)
{
    if (z == NULL || --z->refs > 0)
        return;
    arena_free(z->arena);
    free(z->table);
    free(z->nodes);
    free(z->name);
    free(z->file);
    free(z);
}
