/*
 * hpack.h - HPACK header compression for HTTP/2 (RFC 7541), sans I/O.
 *
 * A decoder turns one complete header block (the HEADERS fragment plus
 * every CONTINUATION fragment, concatenated by the caller) into header
 * fields handed to a callback; an encoder turns response fields into a
 * header block written into a caller's buffer.  Neither reads or writes a
 * socket, logs, or keeps a pointer into the caller's memory after a call.
 *
 * Each HTTP/2 connection owns one decoder (the peer's requests) and one
 * encoder (our responses).  The structs are public so that they can be
 * embedded in the connection; their members are private to hpack.c.  The
 * dynamic tables are allocated lazily, on the first insertion, so an idle
 * connection costs only the structs.
 *
 * Error model: a negative return from hpack_decode() other than
 * HPACK_ERR_LIST_SIZE is a COMPRESSION_ERROR (RFC 9113 section 4.3): the
 * decoder's table is no longer in step with the peer, the connection must
 * end with GOAWAY(COMPRESSION_ERROR), and the only further call allowed on
 * that decoder is hpack_decoder_free().  HPACK_ERR_LIST_SIZE leaves the
 * decoder usable: the whole block was decoded and the table updated, only
 * the fields past the limit were not handed out (answer the stream 431 or
 * reset it).
 */
#ifndef HPACK_H
#define HPACK_H

#include <stddef.h>
#include <stdint.h>

/* hpack_decode() results. */
#define HPACK_OK 0
#define HPACK_ERR_TRUNCATED (-1) /* block ends inside a representation */
#define HPACK_ERR_INTEGER (-2)   /* integer above 2^32-1 / over-long */
#define HPACK_ERR_INDEX (-3)     /* index 0, or past static + dynamic */
#define HPACK_ERR_HUFFMAN                                                      \
    (-4) /* EOS in a string, padding > 7 bits or                               \
          * not all ones */
#define HPACK_ERR_SIZE_UPDATE                                                  \
    (-5) /* size update above the bound, or                                    \
          * after the first field of a block */
#define HPACK_ERR_LIST_SIZE                                                    \
    (-6)                        /* header list above max_list (not a           \
                                 * compression error, see above) */
#define HPACK_ERR_CALLBACK (-7) /* the field callback returned non-zero */
#define HPACK_ERR_NOMEM (-8)    /* allocation of the table failed */

/* Non-zero when RC from hpack_decode() must end the connection with
 * COMPRESSION_ERROR (HPACK_ERR_CALLBACK and HPACK_ERR_NOMEM included: the
 * table is out of step with the peer in both cases). */
#define HPACK_CONNECTION_ERROR(rc) ((rc) < 0 && (rc) != HPACK_ERR_LIST_SIZE)

/* Indexes of the static table (RFC 7541 Appendix A) whose names a server
 * looks at; hpack_field_t.name_index carries the smallest static index
 * whose name equals the field's name, so callers compare numbers, not
 * strings.  Names that are not in the static table get 0. */
#define HPACK_IDX_AUTHORITY 1
#define HPACK_IDX_METHOD 2
#define HPACK_IDX_PATH 4
#define HPACK_IDX_SCHEME 6
#define HPACK_IDX_STATUS 8
#define HPACK_IDX_CONTENT_LENGTH 28
#define HPACK_IDX_CONTENT_TYPE 31
#define HPACK_IDX_COOKIE 32
#define HPACK_IDX_DATE 33
#define HPACK_IDX_HOST 38
#define HPACK_IDX_SERVER 54
#define HPACK_IDX_SET_COOKIE 55
#define HPACK_IDX_TRANSFER_ENCODING 57
#define HPACK_STATIC_COUNT 61

/* hpack_field_t.flags */
#define HPACK_FIELD_NEVER_INDEXED                                              \
    0x01                           /* sent as "never indexed" (a proxy         \
                                    * must forward it that way) */
#define HPACK_FIELD_BAD_NAME 0x02  /* name fails hpack_name_ok() */
#define HPACK_FIELD_BAD_VALUE 0x04 /* value fails hpack_value_ok() */
#define HPACK_FIELD_BAD (HPACK_FIELD_BAD_NAME | HPACK_FIELD_BAD_VALUE)

/* One decoded header field.  NAME and VALUE are not NUL-terminated and are
 * valid only during the callback: they point into the static table, the
 * caller's block, the decoder's dynamic table or its scratch buffer
 * (Huffman-decoded strings).  Copy what must outlive the callback.  Names
 * and values are as sent; the decoder does not refuse bad HTTP/2 field
 * syntax but reports it in FLAGS (HPACK_FIELD_BAD_NAME: a name outside the
 * static table that fails hpack_name_ok(); HPACK_FIELD_BAD_VALUE: a value
 * that fails hpack_value_ok()).  It checks each literal once and keeps the
 * verdict with its table entry, so indexed fields cost no second check. */
typedef struct {
    const char *name;
    const char *value;
    uint32_t name_len;
    uint32_t value_len;
    uint8_t name_index; /* HPACK_IDX_*: static index of NAME, 0 if none */
    uint8_t flags;      /* HPACK_FIELD_* */
} hpack_field_t;

/* Called once per field, in block order.  Returns 0 to go on; non-zero
 * stops decoding with HPACK_ERR_CALLBACK (a connection error: the rest of
 * the block never reached the table).  To drop a stream's fields, return 0
 * and ignore them instead. */
typedef int (*hpack_field_cb)(void *ud, const hpack_field_t *f);

/* One entry of a dynamic table (private). */
typedef struct {
    uint32_t off; /* name bytes at arena + off, value right after */
    uint32_t name_len;
    uint32_t value_len;
    uint32_t hnext;     /* encoder: sequence number of the next older
                         * entry with the same field hash */
    uint32_t nnext;     /* encoder: the same for the name hash */
    uint8_t name_index; /* static index of the name, 0 if none */
    uint8_t bad;        /* decoder: HPACK_FIELD_BAD_* of name and value */
} hpack_entry_t;

/* A dynamic table (private): a ring of entry descriptors over a byte arena
 * (growing up to twice the table's bound) that is compacted when its end
 * is reached, so every entry's name and value are contiguous. */
typedef struct {
    hpack_entry_t *ent; /* ring of ent_mask + 1 descriptors */
    char *arena;
    uint32_t ent_mask;
    uint32_t first;      /* sequence number of the oldest live entry
                          * (numbers start at 1; 0 means none) */
    uint32_t next;       /* sequence number the next insertion gets */
    uint32_t arena_cap;  /* bytes at arena; at most 2 * cap */
    uint32_t arena_used; /* end of the last entry's bytes in the arena */
    uint32_t size;       /* RFC 7541 size: sum of name + value + 32 */
    uint32_t max;        /* current maximum size (last size update) */
    uint32_t cap;        /* the bound max may never exceed */
} hpack_table_t;

/* A decoder: the peer's requests.  Members are private. */
typedef struct {
    hpack_table_t t;
    char *scratch; /* Huffman-decoded strings of the current field */
    size_t scratch_cap;
    uint32_t max_list;
} hpack_decoder_t;

#define HPACK_HASH_BUCKETS 64

/* An encoder: our responses.  Members are private. */
typedef struct {
    hpack_table_t t;
    uint32_t hbucket[HPACK_HASH_BUCKETS];    /* field hash -> newest seq */
    uint32_t nbucket[HPACK_HASH_BUCKETS];    /* name hash -> newest seq */
    uint16_t recent[HPACK_STATIC_COUNT + 1]; /* static name index -> low 16
                                              * bits of its newest entry's
                                              * seq (0: none) */
    uint32_t pending_min;   /* smallest size the peer allowed since the
                             * last block, or UINT32_MAX if none pending */
    uint32_t pending_final; /* the size to announce at the next block */
    int huffman;            /* Huffman-code strings when shorter */
} hpack_encoder_t;

/* Set D up to decode a peer's blocks.  TABLE_MAX is the
 * SETTINGS_HEADER_TABLE_SIZE we advertise (size updates above it are
 * errors; at most 65535); MAX_LIST the SETTINGS_MAX_HEADER_LIST_SIZE we
 * enforce (sum of name + value + 32 per field; UINT32_MAX for none).
 * Allocates nothing; free with hpack_decoder_free(). */
void hpack_decoder_init(hpack_decoder_t *d, uint32_t table_max,
                        uint32_t max_list);

/* Release D's table and scratch memory.  D may be initialised again. */
void hpack_decoder_free(hpack_decoder_t *d);

/* Decode the complete header block BLOCK[LEN], calling CB(UD, field) for
 * each field while the list stays within max_list.  Returns HPACK_OK, or
 * one of the HPACK_ERR_* codes (see the error model above).  BLOCK is read
 * only during the call. */
int hpack_decode(hpack_decoder_t *d, const uint8_t *block, size_t len,
                 hpack_field_cb cb, void *ud);

/* Upper bound of the bytes one field adds to a block: NL and VL are the
 * lengths of its name and value. */
#define HPACK_FIELD_BOUND(nl, vl) ((size_t)(nl) + (size_t)(vl) + 18)
/* Upper bound of what hpack_encode_begin() writes (two size updates). */
#define HPACK_BEGIN_BOUND 12

/* Set E up to encode our blocks.  TABLE_MAX is the most dynamic-table
 * memory E may use (at most 65535; 4096 is the peer's initial limit);
 * HUFFMAN non-zero Huffman-codes strings when that is shorter.  Allocates
 * nothing; free with hpack_encoder_free(). */
void hpack_encoder_init(hpack_encoder_t *e, uint32_t table_max, int huffman);

/* Release E's table memory.  E may be initialised again. */
void hpack_encoder_free(hpack_encoder_t *e);

/* The peer's SETTINGS_HEADER_TABLE_SIZE is now VALUE: E will use
 * min(VALUE, table_max) and announce the change (the smallest size seen
 * since the last block first, when it went down and up again) at the start
 * of the next block.  Call once per SETTINGS frame carrying the setting. */
void hpack_encoder_set_peer_max(hpack_encoder_t *e, uint32_t value);

/* Non-zero when the static name index SIDX (HPACK_IDX_*) names a field
 * whose values seldom repeat on a connection (age, content-length,
 * content-range, location, set-cookie): hpack_encode_field() does not
 * index those by default, and a caller may send them as literals. */
int hpack_name_volatile(unsigned sidx);

/* Start a header block at OUT (room for HPACK_BEGIN_BOUND bytes): writes
 * the pending size updates, if any.  Returns the end of what it wrote.
 * Every block must start with it. */
uint8_t *hpack_encode_begin(hpack_encoder_t *e, uint8_t *out);

/* hpack_encode_field() flags; the default (0) indexes the field in the
 * dynamic table when it is small enough and its name is not one whose
 * values seldom repeat (hpack_name_volatile()). */
#define HPACK_ENC_NO_INDEX 0x01    /* literal without indexing */
#define HPACK_ENC_NEVER_INDEX 0x02 /* literal never indexed (secrets) */
#define HPACK_ENC_INDEX 0x04       /* index it whatever the name */

/* Append the field NAME[NL]: VALUE[VL] at OUT, which has room for
 * HPACK_FIELD_BOUND(NL, VL) bytes.  NAME must be lowercase (HTTP/2).  Uses
 * the static table and E's dynamic table (a full match is one index; a name
 * match a name-indexed literal) and may insert the field (FLAGS: HPACK_ENC_*
 * above).  Returns the end of what it wrote.  Nothing is kept of NAME or
 * VALUE but a copy in E's table. */
uint8_t *hpack_encode_field(hpack_encoder_t *e, uint8_t *out, const char *name,
                            size_t nl, const char *value, size_t vl,
                            unsigned flags);

/* The same with SIDX, the static index of NAME (hpack_static_name_index(),
 * 0 when the static table does not have it), given by a caller that knows
 * it already. */
uint8_t *hpack_encode_field_idx(hpack_encoder_t *e, uint8_t *out,
                                const char *name, size_t nl, unsigned sidx,
                                const char *value, size_t vl, unsigned flags);

/* Append ":status: STATUS" (100..999) at OUT (room for
 * HPACK_FIELD_BOUND(7, 3) bytes): one byte for the seven statuses of the
 * static table, else an indexed-name literal indexed in E's table.
 * Returns the end of what it wrote. */
uint8_t *hpack_encode_status(hpack_encoder_t *e, uint8_t *out, unsigned status);

/* Non-zero when NAME[LEN] is a valid HTTP/2 field name: non-empty, no
 * uppercase, no CTL/SP/DEL/non-ASCII or separators (RFC 9113 8.2.1), a
 * leading ':' allowed (pseudo-header; the caller checks which). */
int hpack_name_ok(const char *name, size_t len);

/* Non-zero when VALUE[LEN] is a valid HTTP/2 field value: no NUL, CR or
 * LF, and no leading or trailing SP/HTAB (RFC 9113 8.2.1). */
int hpack_value_ok(const char *value, size_t len);

/* The smallest static-table index whose name is NAME[LEN] (HPACK_IDX_*),
 * or 0 when no static entry has that name. */
unsigned hpack_static_name_index(const char *name, size_t len);

/* Low-level pieces, exported for tests and the fuzzer. */

/* Decode an integer with an N-bit prefix (1..8) at *P (< END), masking the
 * first byte's other bits.  On success stores it in *V, advances *P and
 * returns 0; returns HPACK_ERR_TRUNCATED or HPACK_ERR_INTEGER. */
int hpack_int_decode(const uint8_t **p, const uint8_t *end, unsigned n,
                     uint32_t *v);

/* Encode V with an N-bit prefix at OUT, or-ing FIRST (the representation
 * bits) into the first byte.  Writes at most 6 bytes; returns the end. */
uint8_t *hpack_int_encode(uint8_t *out, unsigned n, uint8_t first, uint32_t v);

/* Length in bytes of SRC[LEN] Huffman-coded (with padding). */
size_t hpack_huff_len(const char *src, size_t len);

/* Huffman-code SRC[LEN] into OUT (room for hpack_huff_len(SRC, LEN));
 * returns the end. */
uint8_t *hpack_huff_encode(uint8_t *out, const char *src, size_t len);

/* Decode the Huffman string SRC[LEN] into OUT (room for LEN * 8 / 5 + 1
 * bytes).  Returns the decoded length, or HPACK_ERR_HUFFMAN. */
long hpack_huff_decode(char *out, const uint8_t *src, size_t len);

#endif
