/*
 * hpack.c - HPACK (RFC 7541): integers, Huffman strings, the static and
 * dynamic tables, a block decoder and a response encoder.  See hpack.h
 * for the contracts; the tables come from tools/gen_hpack_tables.py.
 */
#include "hpack.h"

#include <stdlib.h>
#include <string.h>

#include "hpack_tables.h"

#define HPACK_OVERHEAD 32 /* RFC 7541 4.1: bytes counted per entry */
#define HPACK_MAX_CAP 65535
#define HPACK_INITIAL_MAX 4096 /* SETTINGS_HEADER_TABLE_SIZE's default */
#define HPACK_NONE UINT32_MAX
#define HPACK_MIN_SLOTS 8   /* a table's first ring of entries */
#define HPACK_MIN_ARENA 256 /* and its first arena */

static inline uint64_t hpack_load64(const char *p)
{
    uint64_t w;

    memcpy(&w, p, 8);
    return w;
}

static inline uint32_t hpack_load32(const char *p)
{
    uint32_t w;

    memcpy(&w, p, 4);
    return w;
}

/* Word-wise comparison of short strings, without a call. */
static inline int hpack_eq(const char *a, const char *b, size_t n)
{
    size_t i;

    if (n >= 8) {
        for (i = 0; i + 8 <= n; i += 8)
            if (hpack_load64(a + i) != hpack_load64(b + i))
                return 0;
        return hpack_load64(a + n - 8) == hpack_load64(b + n - 8);
    }
    if (n >= 4)
        return hpack_load32(a) == hpack_load32(b) &&
               hpack_load32(a + n - 4) == hpack_load32(b + n - 4);
    for (i = 0; i < n; i++)
        if (a[i] != b[i])
            return 0;
    return 1;
}

/* ---- integers (RFC 7541 5.1) ---- */

/* The continuation bytes of an integer whose prefix was full (X = the
 * prefix's maximum), at *PP. */
static int hpack_int_more(const uint8_t **pp, const uint8_t *end, uint64_t x,
                          uint32_t *v)
{
    const uint8_t *p = *pp;
    unsigned shift = 0;

    for (;;) {
        uint8_t b;

        if (p >= end)
            return HPACK_ERR_TRUNCATED;
        b = *p++;
        x += (uint64_t)(b & 0x7f) << shift;
        if (x > UINT32_MAX)
            return HPACK_ERR_INTEGER;
        if (!(b & 0x80))
            break;
        shift += 7;
        if (shift > 28) /* a sixth continuation byte: over-long */
            return HPACK_ERR_INTEGER;
    }
    *v = (uint32_t)x;
    *pp = p;
    return 0;
}

/* hpack_int_decode() with the common one-byte case inline. */
static inline int hpack_int(const uint8_t **pp, const uint8_t *end, unsigned n,
                            uint32_t *v)
{
    uint32_t mask = (1u << n) - 1, x;

    if (*pp >= end)
        return HPACK_ERR_TRUNCATED;
    x = **pp & mask;
    (*pp)++;
    if (x < mask) {
        *v = x;
        return 0;
    }
    return hpack_int_more(pp, end, x, v);
}

int hpack_int_decode(const uint8_t **pp, const uint8_t *end, unsigned n,
                     uint32_t *v)
{
    const uint8_t *p = *pp;
    int rc = hpack_int(&p, end, n, v);

    if (rc == 0)
        *pp = p;
    return rc;
}

/* hpack_int_encode() for values that fit the prefix, inline. */
static inline uint8_t *hpack_int_put(uint8_t *out, unsigned n, uint8_t first,
                                     uint32_t v)
{
    if (v < (1u << n) - 1) {
        *out = (uint8_t)(first | v);
        return out + 1;
    }
    return hpack_int_encode(out, n, first, v);
}

uint8_t *hpack_int_encode(uint8_t *out, unsigned n, uint8_t first, uint32_t v)
{
    uint32_t mask = (1u << n) - 1;

    if (v < mask) {
        *out++ = (uint8_t)(first | v);
        return out;
    }
    *out++ = (uint8_t)(first | mask);
    v -= mask;
    while (v >= 128) {
        *out++ = (uint8_t)(0x80 | (v & 0x7f));
        v >>= 7;
    }
    *out++ = (uint8_t)v;
    return out;
}

/* ---- Huffman strings (RFC 7541 5.2, Appendix B) ---- */

size_t hpack_huff_len(const char *src, size_t len)
{
    uint64_t bits = 0;
    size_t i;

    for (i = 0; i < len; i++)
        bits += hpack_huf_enc[(unsigned char)src[i]].len;
    return (size_t)((bits + 7) / 8);
}

uint8_t *hpack_huff_encode(uint8_t *out, const char *src, size_t len)
{
    uint64_t acc = 0;
    unsigned nbits = 0;
    size_t i;

    for (i = 0; i < len; i++) {
        const hpack_huf_code_t *c = &hpack_huf_enc[(unsigned char)src[i]];

        acc = (acc << c->len) | c->code;
        nbits += c->len;
        while (nbits >= 8) {
            nbits -= 8;
            *out++ = (uint8_t)(acc >> nbits);
        }
    }
    if (nbits) /* pad with the most significant bits of EOS: ones */
        *out++ = (uint8_t)((acc << (8 - nbits)) | (0xffu >> nbits));
    return out;
}

_Static_assert(HPACK_HUF_SYM == 1, "a step advances by its SYM bit");

long hpack_huff_decode(char *out, const uint8_t *src, size_t len)
{
    const hpack_huf_step_t *s;
    char *o = out;
    unsigned st = 0, flags = HPACK_HUF_ACCEPT, seen = 0;
    size_t i;

    /* branch-free: each step stores its symbol and advances past it only
     * when it completed one (the contract's extra byte of room); a FAIL is
     * remembered and the string refused at the end */
    for (i = 0; i < len; i++) {
        s = &hpack_huf_dec[st][src[i] >> 4];
        *o = (char)s->sym;
        o += s->flags & HPACK_HUF_SYM;
        seen |= s->flags;
        s = &hpack_huf_dec[s->state][src[i] & 15];
        *o = (char)s->sym;
        o += s->flags & HPACK_HUF_SYM;
        seen |= s->flags;
        st = s->state;
        flags = s->flags;
    }
    if ((seen & HPACK_HUF_FAIL) || !(flags & HPACK_HUF_ACCEPT))
        return HPACK_ERR_HUFFMAN; /* EOS, padding too long or not all ones */
    return (long)(o - out);
}

/* ---- field syntax (RFC 9113 8.2.1) ---- */

/* 1: a lowercase token character (RFC 9110 5.6.2) */
static const uint8_t hpack_name_char[256] = {
    ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1,
    ['*'] = 1, ['+'] = 1, ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1,
    ['`'] = 1, ['|'] = 1, ['~'] = 1, ['0'] = 1, ['1'] = 1, ['2'] = 1,
    ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1, ['8'] = 1,
    ['9'] = 1, ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1,
    ['f'] = 1, ['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1,
    ['l'] = 1, ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1,
    ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1,
    ['x'] = 1, ['y'] = 1, ['z'] = 1,
};

int hpack_name_ok(const char *name, size_t len)
{
    size_t i = 0;

    if (len == 0)
        return 0;
    if (name[0] == ':') {
        if (len == 1)
            return 0;
        i = 1;
    }
    for (; i < len; i++)
        if (!hpack_name_char[(unsigned char)name[i]])
            return 0;
    return 1;
}

/* Does word W hold a NUL, CR or LF byte?  A byte of X is zero iff
 * (X - 0x01..) & ~X has its high bit set there: exact as a yes/no. */
static inline int hpack_word_bad(uint64_t w)
{
    const uint64_t ones = 0x0101010101010101ull;
    uint64_t cr = w ^ (ones * '\r'), lf = w ^ (ones * '\n');

    return ((((w - ones) & ~w) | ((cr - ones) & ~cr) | ((lf - ones) & ~lf)) &
            (ones << 7)) != 0;
}

int hpack_value_ok(const char *value, size_t len)
{
    size_t i;

    if (len && (value[0] == ' ' || value[0] == '\t' || value[len - 1] == ' ' ||
                value[len - 1] == '\t'))
        return 0;
    if (len >= 8) { /* eight bytes at a time, the last word overlapping */
        for (i = 0; i + 8 < len; i += 8)
            if (hpack_word_bad(hpack_load64(value + i)))
                return 0;
        return !hpack_word_bad(hpack_load64(value + len - 8));
    }
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)value[i];

        if (c == 0 || c == '\r' || c == '\n')
            return 0;
    }
    return 1;
}

/* ---- the static table ---- */

/* A cheap hash of NAME[LEN] (LEN > 0) from its length and three of its
 * bytes; the generator picked HPACK_NAME_MUL so that the static names do
 * not collide in hpack_name_slot. */
static uint32_t hpack_name_hash(const char *name, size_t len)
{
    uint32_t h = (uint32_t)len;

    h = h * 31 + (unsigned char)name[0];
    h = h * 31 + (unsigned char)name[len - 1];
    h = h * 31 + (unsigned char)name[len / 2];
    return h * HPACK_NAME_MUL;
}

/* Smallest static index whose name is NAME[LEN] (LEN > 0), whose
 * hpack_name_hash() is H, or 0. */
static inline unsigned hpack_static_name_h(const char *name, size_t len,
                                           uint32_t h)
{
    unsigned idx;
    const hpack_static_t *s;

    if (len > 27)
        return 0;
    idx = hpack_name_slot[h >> 24];
    if (idx == 0)
        return 0;
    s = &hpack_static[idx - 1];
    if (s->name_len != len || !hpack_eq(s->name, name, len))
        return 0;
    return idx;
}

/* Smallest static index whose name is NAME[LEN], or 0. */
static unsigned hpack_static_name(const char *name, size_t len)
{
    if (len == 0)
        return 0;
    return hpack_static_name_h(name, len, hpack_name_hash(name, len));
}

unsigned hpack_static_name_index(const char *name, size_t len)
{
    return hpack_static_name(name, len);
}

/* ---- dynamic tables ---- */

static void hpack_table_init(hpack_table_t *t, uint32_t cap, uint32_t max)
{
    memset(t, 0, sizeof(*t));
    t->cap = cap > HPACK_MAX_CAP ? HPACK_MAX_CAP : cap;
    t->max = max > t->cap ? t->cap : max;
    t->first = t->next = 1;
}

static void hpack_table_free(hpack_table_t *t)
{
    free(t->ent);
    free(t->arena);
    t->ent = NULL;
    t->arena = NULL;
}

static uint32_t hpack_table_count(const hpack_table_t *t)
{
    return t->next - t->first;
}

/* The entry with sequence number SEQ (live). */
static hpack_entry_t *hpack_table_seq(const hpack_table_t *t, uint32_t seq)
{
    return &t->ent[seq & t->ent_mask];
}

/* Non-zero when SEQ names a live entry. */
static int hpack_table_live(const hpack_table_t *t, uint32_t seq)
{
    return seq - t->first < t->next - t->first;
}

/* Drop the oldest entries until the size is at most LIMIT. */
static void hpack_table_evict(hpack_table_t *t, uint32_t limit)
{
    while (t->size > limit) {
        hpack_entry_t *e = hpack_table_seq(t, t->first);

        t->size -= e->name_len + e->value_len + HPACK_OVERHEAD;
        t->first++;
    }
    if (t->first == t->next)
        t->arena_used = 0;
}

/* Move the live entries' bytes to the start of the arena. */
static void hpack_table_compact(hpack_table_t *t)
{
    uint32_t seq, dst = 0;

    for (seq = t->first; seq != t->next; seq++) {
        hpack_entry_t *e = hpack_table_seq(t, seq);
        uint32_t n = e->name_len + e->value_len;

        if (e->off != dst)
            memmove(t->arena + dst, t->arena + e->off, n);
        e->off = dst;
        dst += n;
    }
    t->arena_used = dst;
}

/* Make room in T for one more entry of N name + value bytes: a ring slot
 * and N contiguous arena bytes, compacting the arena and growing the ring
 * and the arena as needed.  Both start small (a connection that indexes a
 * few response fields stays small) and stop at bounds that always
 * suffice: live entries take at most max / 32 slots and max - 32 * count
 * bytes, so an arena of 2 * cap has room after compaction.  Returns 0 or
 * -1 (no memory). */
static int hpack_table_room(hpack_table_t *t, uint32_t n)
{
    uint32_t count = t->next - t->first;

    if (t->ent == NULL || count + 1 > t->ent_mask + 1) {
        uint32_t slots = t->ent ? (t->ent_mask + 1) * 2 : HPACK_MIN_SLOTS;
        hpack_entry_t *ne;
        uint32_t seq;

        while (slots < count + 1)
            slots *= 2;
        ne = malloc(slots * sizeof(*ne));
        if (ne == NULL)
            return -1;
        for (seq = t->first; seq != t->next; seq++)
            ne[seq & (slots - 1)] = t->ent[seq & t->ent_mask];
        free(t->ent);
        t->ent = ne;
        t->ent_mask = slots - 1;
    }
    if (t->arena == NULL || t->arena_used + n > t->arena_cap) {
        uint32_t limit = t->cap * 2, c = t->arena_cap;
        char *na;

        hpack_table_compact(t);
        if (t->arena != NULL &&
            (t->arena_used + n <= t->arena_cap / 2 || c >= limit))
            return 0;
        if (c == 0)
            c = HPACK_MIN_ARENA;
        while (c < limit && c < 2 * (t->arena_used + n))
            c *= 2;
        if (c > limit)
            c = limit;
        na = realloc(t->arena, c);
        if (na == NULL)
            return -1;
        t->arena = na;
        t->arena_cap = c;
    }
    return 0;
}

/* Insert NAME: VALUE (neither inside T's arena) as the newest entry,
 * evicting as RFC 7541 4.4 says.  Returns the new entry, NULL when it is
 * larger than the table (which is then empty), or sets *NOMEM. */
static hpack_entry_t *hpack_table_insert(hpack_table_t *t, const char *name,
                                         uint32_t nl, const char *value,
                                         uint32_t vl, unsigned name_index,
                                         int *nomem)
{
    uint64_t esize = (uint64_t)nl + vl + HPACK_OVERHEAD;
    hpack_entry_t *e;

    if (esize > t->max) {
        hpack_table_evict(t, 0);
        return NULL;
    }
    hpack_table_evict(t, t->max - (uint32_t)esize);
    if (hpack_table_room(t, nl + vl) < 0) {
        *nomem = 1;
        return NULL;
    }
    e = hpack_table_seq(t, t->next);
    e->off = t->arena_used;
    e->name_len = nl;
    e->value_len = vl;
    e->name_index = (uint8_t)name_index;
    e->bad = 0;
    e->hnext = e->nnext = 0;
    if (nl)
        memcpy(t->arena + t->arena_used, name, nl);
    if (vl)
        memcpy(t->arena + t->arena_used + nl, value, vl);
    t->arena_used += nl + vl;
    t->size += (uint32_t)esize;
    t->next++;
    return e;
}

/* ---- decoder ---- */

void hpack_decoder_init(hpack_decoder_t *d, uint32_t table_max,
                        uint32_t max_list)
{
    memset(d, 0, sizeof(*d));
    /* the table starts at the bound: with the default 4096 that is the
     * protocol's initial size, and a peer that starts smaller says so */
    hpack_table_init(&d->t, table_max, table_max);
    d->max_list = max_list;
}

void hpack_decoder_free(hpack_decoder_t *d)
{
    hpack_table_free(&d->t);
    free(d->scratch);
    d->scratch = NULL;
    d->scratch_cap = 0;
}

/* Grow D's scratch buffer to at least NEED bytes; 0 or -1. */
static int hpack_scratch(hpack_decoder_t *d, size_t need)
{
    char *s = realloc(d->scratch, need);

    if (s == NULL)
        return -1;
    d->scratch = s;
    d->scratch_cap = need;
    return 0;
}

/* Read a string literal at *P into S/SL: a slice of the block, or the
 * Huffman decoding of one at *SCRATCH (advanced past it). */
static int hpack_read_string(const uint8_t **p, const uint8_t *end,
                             char **scratch, const char **s, uint32_t *sl)
{
    uint32_t n;
    int huff, rc;

    if (*p >= end)
        return HPACK_ERR_TRUNCATED;
    huff = **p & 0x80;
    if ((rc = hpack_int(p, end, 7, &n)) < 0)
        return rc;
    if (n > (size_t)(end - *p))
        return HPACK_ERR_TRUNCATED;
    if (huff) {
        long got = hpack_huff_decode(*scratch, *p, n);

        if (got < 0)
            return (int)got;
        *s = *scratch;
        *sl = (uint32_t)got;
        *scratch += got;
    } else {
        *s = (const char *)*p;
        *sl = n;
    }
    *p += n;
    return 0;
}

/* Resolve index IDX (> 0) into F's name (and value when VALUE). */
static inline int hpack_lookup(const hpack_table_t *t, uint32_t idx, int value,
                               hpack_field_t *f)
{
    if (idx == 0)
        return HPACK_ERR_INDEX;
    if (idx <= HPACK_STATIC_COUNT) {
        const hpack_static_t *s = &hpack_static[idx - 1];

        f->name = s->name;
        f->name_len = s->name_len;
        f->name_index = hpack_static_first[idx - 1];
        f->flags = 0; /* the static table is valid HTTP/2 */
        if (value) {
            f->value = s->value;
            f->value_len = s->value_len;
        }
        return 0;
    }
    idx -= HPACK_STATIC_COUNT;
    if (idx > hpack_table_count(t))
        return HPACK_ERR_INDEX;
    {
        const hpack_entry_t *e = hpack_table_seq(t, t->next - idx);

        f->name = t->arena + e->off;
        f->name_len = e->name_len;
        f->name_index = e->name_index;
        f->flags = e->bad & (value ? HPACK_FIELD_BAD : HPACK_FIELD_BAD_NAME);
        if (value) {
            f->value = f->name + e->name_len;
            f->value_len = e->value_len;
        }
    }
    return 0;
}

int hpack_decode(hpack_decoder_t *d, const uint8_t *block, size_t len,
                 hpack_field_cb cb, void *ud)
{
    const uint8_t *p = block, *end;
    uint64_t list = 0;
    int at_start = 1, over = 0, rc;
    /* Huffman strings decode to at most 8/5 of their length; a field's
     * two strings come from the block */
    size_t need = len + len / 2 + len / 8 + 8;

    if (len == 0) /* an empty list (BLOCK may be NULL) */
        return HPACK_OK;
    end = block + len;
    if (need > d->scratch_cap && hpack_scratch(d, need) < 0)
        return HPACK_ERR_NOMEM;
    while (p < end) {
        hpack_field_t f;
        uint8_t b = *p;
        uint32_t idx;
        char *scratch = d->scratch;

        if (b & 0x80) { /* indexed field */
            if ((rc = hpack_int(&p, end, 7, &idx)) < 0)
                return rc;
            if ((rc = hpack_lookup(&d->t, idx, 1, &f)) < 0)
                return rc;
        } else if ((b & 0xe0) == 0x20) { /* dynamic table size update */
            if (!at_start)
                return HPACK_ERR_SIZE_UPDATE;
            if ((rc = hpack_int(&p, end, 5, &idx)) < 0)
                return rc;
            if (idx > d->t.cap)
                return HPACK_ERR_SIZE_UPDATE;
            d->t.max = idx;
            hpack_table_evict(&d->t, idx);
            continue;
        } else { /* literal: with incremental indexing, without, never */
            int incr = (b & 0x40) != 0;
            uint8_t never =
                (!incr && (b & 0x10)) ? HPACK_FIELD_NEVER_INDEXED : 0;

            if ((rc = hpack_int(&p, end, incr ? 6 : 4, &idx)) < 0)
                return rc;
            if (idx) {
                if ((rc = hpack_lookup(&d->t, idx, 0, &f)) < 0)
                    return rc;
                if (incr && idx > HPACK_STATIC_COUNT) {
                    /* the insertion may evict or move it: copy it to
                     * the scratch buffer, the value after it */
                    if (need + f.name_len > d->scratch_cap &&
                        hpack_scratch(d, need + f.name_len) < 0)
                        return HPACK_ERR_NOMEM;
                    scratch = d->scratch;
                    memcpy(scratch, f.name, f.name_len);
                    f.name = scratch;
                    scratch += f.name_len;
                }
            } else {
                if ((rc = hpack_read_string(&p, end, &scratch, &f.name,
                                            &f.name_len)) < 0)
                    return rc;
                f.name_index = (uint8_t)hpack_static_name(f.name, f.name_len);
                f.flags =
                    (f.name_index == 0 && !hpack_name_ok(f.name, f.name_len))
                        ? HPACK_FIELD_BAD_NAME
                        : 0;
            }
            if ((rc = hpack_read_string(&p, end, &scratch, &f.value,
                                        &f.value_len)) < 0)
                return rc;
            if (!hpack_value_ok(f.value, f.value_len))
                f.flags |= HPACK_FIELD_BAD_VALUE;
            if (incr) {
                int nomem = 0;
                hpack_entry_t *e =
                    hpack_table_insert(&d->t, f.name, f.name_len, f.value,
                                       f.value_len, f.name_index, &nomem);

                if (nomem)
                    return HPACK_ERR_NOMEM;
                if (e != NULL)
                    e->bad = f.flags;
            }
            f.flags |= never;
        }
        at_start = 0;
        list += (uint64_t)f.name_len + f.value_len + HPACK_OVERHEAD;
        if (list > d->max_list)
            over = 1;
        if (!over && cb(ud, &f) != 0)
            return HPACK_ERR_CALLBACK;
    }
    return over ? HPACK_ERR_LIST_SIZE : HPACK_OK;
}

/* ---- encoder ---- */

void hpack_encoder_init(hpack_encoder_t *e, uint32_t table_max, int huffman)
{
    memset(e, 0, sizeof(*e));
    hpack_table_init(&e->t, table_max, HPACK_INITIAL_MAX);
    e->huffman = huffman;
    e->pending_min = HPACK_NONE;
    if (e->t.max < HPACK_INITIAL_MAX) /* tell the peer we use less */
        e->pending_min = e->pending_final = e->t.max;
}

void hpack_encoder_free(hpack_encoder_t *e)
{
    hpack_table_free(&e->t);
}

void hpack_encoder_set_peer_max(hpack_encoder_t *e, uint32_t value)
{
    uint32_t m = value < e->t.cap ? value : e->t.cap;

    if (e->pending_min == HPACK_NONE) {
        if (m == e->t.max)
            return;
        e->pending_min = m;
    } else if (m < e->pending_min) {
        e->pending_min = m;
    }
    e->pending_final = m;
}

uint8_t *hpack_encode_begin(hpack_encoder_t *e, uint8_t *out)
{
    if (e->pending_min == HPACK_NONE)
        return out;
    if (e->pending_min < e->pending_final) {
        out = hpack_int_put(out, 5, 0x20, e->pending_min);
        hpack_table_evict(&e->t, e->pending_min);
    }
    out = hpack_int_put(out, 5, 0x20, e->pending_final);
    e->t.max = e->pending_final;
    hpack_table_evict(&e->t, e->t.max);
    e->pending_min = HPACK_NONE;
    return out;
}

/* Write string S[N] with the encoder's Huffman choice. */
static uint8_t *hpack_put_string(const hpack_encoder_t *e, uint8_t *out,
                                 const char *s, size_t n)
{
    if (e->huffman && n > 1) {
        size_t hl = hpack_huff_len(s, n);

        if (hl < n) {
            out = hpack_int_put(out, 7, 0x80, (uint32_t)hl);
            return hpack_huff_encode(out, s, n);
        }
    }
    out = hpack_int_put(out, 7, 0, (uint32_t)n);
    memcpy(out, s, n);
    return out + n;
}

/* A hash of VALUE[VL] mixed into H, eight bytes at a time (the tail as
 * overlapping loads). */
static uint32_t hpack_value_hash(uint32_t h, const char *value, size_t vl)
{
    uint64_t x = h ^ ((uint64_t)vl << 32);
    size_t i = 0;

    if (vl >= 8) {
        for (; i + 8 <= vl; i += 8)
            x = (x ^ hpack_load64(value + i)) * 0x9e3779b97f4a7c15ull;
        x = (x ^ hpack_load64(value + vl - 8)) * 0x9e3779b97f4a7c15ull;
    } else if (vl >= 4) {
        x = (x ^ hpack_load32(value)) * 0x9e3779b97f4a7c15ull;
        x = (x ^ hpack_load32(value + vl - 4)) * 0x9e3779b97f4a7c15ull;
    } else {
        for (; i < vl; i++)
            x = (x ^ (unsigned char)value[i]) * 0x100000001b3ull;
        x *= 0x9e3779b97f4a7c15ull;
    }
    return (uint32_t)(x >> 32);
}

/* Static names whose values are seldom repeated on a connection: not
 * worth a table entry by default (a date, an etag or a last-modified
 * repeats for every response of the same second or resource, and is). */
static const uint64_t hpack_volatile =
    1ull << 21 | 1ull << 28 | 1ull << 30 | 1ull << 46 |
    1ull << 55; /* age, content-length, content-range, location, set-cookie */

int hpack_name_volatile(unsigned sidx)
{
    return sidx < 64 && ((hpack_volatile >> sidx) & 1);
}

uint8_t *hpack_encode_field(hpack_encoder_t *e, uint8_t *out, const char *name,
                            size_t nl, const char *value, size_t vl,
                            unsigned flags)
{
    return hpack_encode_field_idx(e, out, name, nl, hpack_static_name(name, nl),
                                  value, vl, flags);
}

uint8_t *hpack_encode_field_idx(hpack_encoder_t *e, uint8_t *out,
                                const char *name, size_t nl, unsigned sidx,
                                const char *value, size_t vl, unsigned flags)
{
    hpack_table_t *t = &e->t;
    uint32_t h, nh, fh = 0, seq, name_ref = sidx;
    int index, have_fh = 0;

    if (!(flags & HPACK_ENC_NEVER_INDEX)) {
        if (sidx && sidx <= 16) { /* full static match (:path /...) */
            unsigned i;

            for (i = sidx;
                 i <= HPACK_STATIC_COUNT && hpack_static_first[i - 1] == sidx;
                 i++) {
                const hpack_static_t *s = &hpack_static[i - 1];

                if (s->value_len == vl && vl &&
                    memcmp(s->value, value, vl) == 0)
                    return hpack_int_put(out, 7, 0x80, i);
            }
        }
        if (sidx && e->recent[sidx]) {
            /* a response's server, date, content-type... most often repeat
             * the newest entry with their name: try it before hashing */
            seq = t->next - (uint16_t)(t->next - e->recent[sidx]);
            if (hpack_table_live(t, seq)) {
                const hpack_entry_t *en = hpack_table_seq(t, seq);

                if (en->name_index == sidx && en->value_len == vl &&
                    hpack_eq(t->arena + en->off + en->name_len, value, vl))
                    return hpack_int_put(out, 7, 0x80,
                                         HPACK_STATIC_COUNT + (t->next - seq));
            }
        }
    }
    h = nl ? hpack_name_hash(name, nl) : 0;
    nh = h >> 26; /* 6 bits */
    if (!(flags & HPACK_ENC_NEVER_INDEX)) {
        if (t->first != t->next) {
            fh = hpack_value_hash(nh, value, vl) & (HPACK_HASH_BUCKETS - 1);
            have_fh = 1;
            for (seq = e->hbucket[fh]; hpack_table_live(t, seq);
                 seq = hpack_table_seq(t, seq)->hnext) {
                const hpack_entry_t *en = hpack_table_seq(t, seq);
                const char *p = t->arena + en->off;

                if (en->name_len == nl && en->value_len == vl &&
                    hpack_eq(p, name, nl) && hpack_eq(p + nl, value, vl))
                    return hpack_int_put(out, 7, 0x80,
                                         HPACK_STATIC_COUNT + (t->next - seq));
            }
        }
    }
    if (!sidx && t->first != t->next) {
        for (seq = e->nbucket[nh]; hpack_table_live(t, seq);
             seq = hpack_table_seq(t, seq)->nnext) {
            const hpack_entry_t *en = hpack_table_seq(t, seq);

            if (en->name_len == nl && hpack_eq(t->arena + en->off, name, nl)) {
                name_ref = HPACK_STATIC_COUNT + (t->next - seq);
                break;
            }
        }
    }
    if (flags & (HPACK_ENC_NEVER_INDEX | HPACK_ENC_NO_INDEX))
        index = 0;
    else if (flags & HPACK_ENC_INDEX)
        index = 1;
    else
        index = !hpack_name_volatile(sidx);
    if (index && nl + vl + HPACK_OVERHEAD > t->max)
        index = 0;
    if (index)
        out = hpack_int_put(out, 6, 0x40, name_ref);
    else
        out = hpack_int_put(out, 4, (flags & HPACK_ENC_NEVER_INDEX) ? 0x10 : 0,
                            name_ref);
    if (name_ref == 0)
        out = hpack_put_string(e, out, name, nl);
    out = hpack_put_string(e, out, value, vl);
    if (index) {
        int nomem = 0;
        uint32_t s = t->next;
        hpack_entry_t *en = hpack_table_insert(t, name, (uint32_t)nl, value,
                                               (uint32_t)vl, sidx, &nomem);

        if (en != NULL) {
            if (!have_fh)
                fh = hpack_value_hash(nh, value, vl) & (HPACK_HASH_BUCKETS - 1);
            en->hnext = e->hbucket[fh];
            e->hbucket[fh] = s;
            en->nnext = e->nbucket[nh];
            e->nbucket[nh] = s;
            if (sidx)
                e->recent[sidx] = (uint16_t)s;
        }
    }
    return out;
}

/* :status values of the static table, by index 8..14 */
static const unsigned hpack_static_status[] = {200, 204, 206, 304,
                                               400, 404, 500};

uint8_t *hpack_encode_status(hpack_encoder_t *e, uint8_t *out, unsigned status)
{
    char digits[3];
    unsigned i;

    for (i = 0; i < sizeof(hpack_static_status) / sizeof(*hpack_static_status);
         i++)
        if (hpack_static_status[i] == status)
            return hpack_int_put(out, 7, 0x80, HPACK_IDX_STATUS + i);
    digits[0] = (char)('0' + status / 100 % 10);
    digits[1] = (char)('0' + status / 10 % 10);
    digits[2] = (char)('0' + status % 10);
    return hpack_encode_field(e, out, ":status", 7, digits, 3, HPACK_ENC_INDEX);
}
