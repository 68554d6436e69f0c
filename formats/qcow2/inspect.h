/*
 * inspect.h - a qcow2 file read as it lies on disk, for the shell's
 * inspection commands (engine/inspect.c, translate.c, owner.c) and its
 * diagnosis and repair.
 *
 * Unlike the driver's open, nothing here validates the image beyond what
 * is needed to read it at all (the magic, the version, the cluster size):
 * a damaged image is shown as it is. Every read goes through qi_pread,
 * where bytes past the end of the file read as zeros, and the file is
 * opened read-only: reading never changes it.
 */
#ifndef IMGSH_QCOW2_INSPECT_H
#define IMGSH_QCOW2_INSPECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../engine/err.h"
#include "../../engine/file.h"

/* A header field: name, byte offset and width (4 or 8, 1 for compression_type). */
struct qi_field {
    const char *name;
    unsigned offset, size;
    unsigned min_version;       /* 3: only in version 3 headers */
};
extern const struct qi_field qi_fields[];

struct qi_ext {
    uint32_t type, length;
    uint64_t offset;            /* of its data in the file */
    uint8_t *data;              /* length bytes */
};

struct qi_feature_name {
    uint8_t type, bit;          /* type 0 incompatible, 1 compatible, 2 autoclear */
    char name[47];
};

struct qi_snapshot {
    uint64_t table_offset;      /* where the entry starts */
    uint64_t entry_size;        /* its bytes, padding to 8 included */
    uint64_t l1_offset;
    uint32_t l1_size;
    char *id, *name;
    uint32_t date_sec, date_nsec;
    uint64_t vm_clock_nsec;
    uint64_t vm_state_size;     /* the 64-bit extra field when present */
    bool has_disk_size, has_icount;
    uint64_t disk_size, icount;
    uint32_t extra_size;
    uint8_t *extra;
};

struct qi_bitmap {
    uint64_t entry_offset;      /* of its directory entry */
    uint64_t table_offset;
    uint32_t table_size;
    uint32_t flags;
    uint8_t type, granularity_bits;
    uint32_t extra_size;
    char *name;
};

enum qi_l2_type {
    QI_UNALLOCATED,
    QI_NORMAL,
    QI_ZERO,
    QI_ZERO_ALLOC,
    QI_COMPRESSED,
};
const char *qi_l2_type_name(enum qi_l2_type t);

/* An L2 entry decoded as docs/inspection.md describes. */
struct qi_l2e {
    uint64_t raw, bitmap;       /* bitmap: 0 without extended L2 */
    enum qi_l2_type type;
    uint64_t host;              /* normal, zero-allocated, compressed; else 0 */
    uint64_t csize;             /* compressed: bytes of compressed data */
};

struct qi {
    struct file *f;
    char *filename;
    uint64_t file_size;
    uint8_t hdr[112];           /* the header bytes 0-111 (zero past header_length) */
    uint32_t version;
    uint64_t backing_file_offset;
    uint32_t backing_file_size;
    uint32_t cluster_bits;
    uint64_t cluster_size;
    uint64_t size;
    uint32_t crypt_method;
    uint32_t l1_size;
    uint64_t l1_offset;
    uint64_t reftable_offset;
    uint32_t reftable_clusters;
    uint32_t nb_snapshots;
    uint64_t snapshots_offset;
    uint64_t incompat, compat, autoclear;
    uint32_t refcount_order;
    uint32_t header_length;
    uint8_t compression_type;
    bool extended_l2;
    unsigned l2_entry_size;     /* 8 or 16 */
    uint64_t l2_entries;        /* entries per L2 table */
    char *backing_file;         /* NULL when none */
    char *backing_fmt;          /* from its extension, or NULL */
    struct qi_ext *exts;        /* header extensions in file order (the end marker left out) */
    size_t nexts;
    struct qi_feature_name *features;
    size_t nfeatures;
    bool has_bitmaps_ext, has_crypto_ext;
    uint32_t nb_bitmaps;
    uint64_t bitmap_dir_size, bitmap_dir_offset;
    uint64_t crypto_offset, crypto_length;
    char *data_file;            /* external data file name, or NULL */

    /* loaded on demand */
    uint64_t *reftable;
    uint64_t reftable_entries;
    uint64_t rb_offset;         /* refcount block held in rb (0: none) */
    uint8_t *rb;
};

/*
 * Open filename read-only (force_share: take no locks, as -U) and read
 * its header and extensions. Errors name the file: "'F' is not a qcow2
 * image", "'F': unsupported qcow2 version 4", ...
 */
int qi_open(struct qi **out, const char *filename, bool force_share, struct err *err);
void qi_close(struct qi *qi);

/* Read len bytes at off; bytes past the end of the file read as zeros. */
int qi_pread(struct qi *qi, uint64_t off, void *buf, size_t len, struct err *err);

/* The guest bytes one L1 entry covers. */
uint64_t qi_l1_span(const struct qi *qi);
/*
 * Read n 8-byte table entries at off (an L1 table, a snapshot's, the
 * refcount table, a bitmap table) into *out (host byte order; free it).
 * n is capped at 32 MiB worth of entries.
 */
int qi_read_table(struct qi *qi, uint64_t off, uint64_t n, uint64_t **out, struct err *err);
/* The L2 table at off: l2_entries raw entries and (extended L2) bitmaps. */
int qi_read_l2(struct qi *qi, uint64_t off, uint64_t *entries, uint64_t *bitmaps,
               struct err *err);
struct qi_l2e qi_l2_decode(const struct qi *qi, uint64_t raw, uint64_t bitmap);

/* The stored refcount of a host cluster (0 where no refcount block covers it). */
int qi_refcount(struct qi *qi, uint64_t cluster, uint64_t *rc, struct err *err);
/* Entries of the refcount table (read once), with their number. */
int qi_reftable(struct qi *qi, const uint64_t **table, uint64_t *n, struct err *err);
uint64_t qi_refblock_entries(const struct qi *qi);

/* The snapshot table as it is; free with qi_snapshots_free. */
int qi_snapshots(struct qi *qi, struct qi_snapshot **out, size_t *n, struct err *err);
void qi_snapshots_free(struct qi_snapshot *sn, size_t n);
/* The bitmap directory as it is (empty without the extension). */
int qi_bitmaps(struct qi *qi, struct qi_bitmap **out, size_t *n, struct err *err);
void qi_bitmaps_free(struct qi_bitmap *bm, size_t n);

/* Bits 9-55 of an L1 or L2 entry: the offset of an L2 table or host cluster. */
#define QI_OFFSET_MASK 0x00fffffffffffe00ULL

/* The i-th feature qemu names (type, bit), or NULL past the last. */
const char *qi_known_feature(size_t i, unsigned *type, unsigned *bit);
/* The name of a feature bit: from the image's table, else qemu's, else NULL. */
const char *qi_feature_name(const struct qi *qi, unsigned type, unsigned bit);

/* A reference from the metadata to a range of host bytes. */
enum qi_kind {
    QI_KIND_HEADER,
    QI_KIND_L1,
    QI_KIND_L2,
    QI_KIND_DATA,
    QI_KIND_REFTABLE,
    QI_KIND_REFBLOCK,
    QI_KIND_SNAPSHOT_TABLE,
    QI_KIND_BITMAP_DIR,
    QI_KIND_BITMAP_TABLE,
    QI_KIND_BITMAP_DATA,
    QI_KIND_CRYPTO,
};
const char *qi_kind_name(enum qi_kind k);

struct qi_ref {
    enum qi_kind kind;
    uint64_t offset, length;    /* the host bytes referenced */
    const char *snapshot;       /* L1, L2, data: NULL for the active image, else the ID */
    int64_t l1_index, l2_index; /* L2 and data; -1 when not applicable */
    uint64_t guest_offset;      /* data */
    enum qi_l2_type type;       /* data */
    const char *bitmap;         /* bitmap table and data: its name */
    int64_t index;              /* refcount block: reftable index; bitmap data: table index */
};

/*
 * Call fn for every reference the metadata makes, in this order: header,
 * active L1, each L2 table of it followed by its data, refcount table,
 * refcount blocks, snapshot table, then per snapshot its L1, L2 tables and
 * data, bitmap directory, per bitmap its table and data, crypto header.
 * A non-zero return from fn stops the walk and is returned.
 */
typedef int (*qi_walk_fn)(const struct qi_ref *ref, void *opaque);
int qi_walk(struct qi *qi, qi_walk_fn fn, void *opaque, struct err *err);

#endif
