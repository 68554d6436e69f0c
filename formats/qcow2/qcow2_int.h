/*
 * qcow2_int.h - private state and on-disk constants of the qcow2 driver.
 *
 * On-disk layout (docs/interop/qcow2.txt): all numbers big-endian; a
 * header in the first cluster, header extensions after it, a two-level
 * guest-to-host map (L1 table -> L2 tables of one cluster each) and a
 * two-level refcount structure. Layouts are decoded with the be*() helpers
 * from byte offsets; nothing is read through packed structs.
 *
 * Files: qcow2.c (probe, open, header and extensions, info, driver table),
 * cluster.c (L2 cache, guest-to-host lookup, read, block status),
 * compress.c (zlib/zstd cluster (de)compression), snapshot.c (snapshot
 * table), bitmap.c (bitmap directory), create.c (new images), cache.c
 * (L2 and refcount block caches), refcount.c (reference counts and the
 * cluster allocator), write.c (guest writes, zero writes, discard).
 */
#ifndef IMGSH_QCOW2_INT_H
#define IMGSH_QCOW2_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "../../engine/block.h"
#include "../format.h"
#include "../luks_header.h"

/* --- header, byte offsets (version 2 ends at 72, version 3 at >= 104) --- */
#define QCOW2_MAGIC 0x514649fbu                 /* "QFI\xfb" */
#define QH_MAGIC 0                               /* 4 bytes */
#define QH_VERSION 4                             /* 4 */
#define QH_BACKING_OFFSET 8                      /* 8 */
#define QH_BACKING_SIZE 16                       /* 4 */
#define QH_CLUSTER_BITS 20                       /* 4 */
#define QH_SIZE 24                               /* 8 */
#define QH_CRYPT_METHOD 32                       /* 4 */
#define QH_L1_SIZE 36                            /* 4 */
#define QH_L1_OFFSET 40                          /* 8 */
#define QH_REFTABLE_OFFSET 48                    /* 8 */
#define QH_REFTABLE_CLUSTERS 56                  /* 4 */
#define QH_NB_SNAPSHOTS 60                       /* 4 */
#define QH_SNAPSHOTS_OFFSET 64                   /* 8 */
#define QH_V2_LENGTH 72
#define QH_INCOMPAT 72                           /* 8 */
#define QH_COMPAT 80                             /* 8 */
#define QH_AUTOCLEAR 88                          /* 8 */
#define QH_REFCOUNT_ORDER 96                     /* 4 */
#define QH_HEADER_LENGTH 100                     /* 4 */
#define QH_V3_MIN_LENGTH 104
#define QH_COMPRESSION_TYPE 104                  /* 1 */
#define QH_V3_FULL_LENGTH 112                    /* qemu's header with its padding */

/* feature bits */
#define QCOW2_INCOMPAT_DIRTY (1ULL << 0)
#define QCOW2_INCOMPAT_CORRUPT (1ULL << 1)
#define QCOW2_INCOMPAT_DATA_FILE (1ULL << 2)
#define QCOW2_INCOMPAT_COMPRESSION (1ULL << 3)
#define QCOW2_INCOMPAT_EXTL2 (1ULL << 4)
#define QCOW2_INCOMPAT_KNOWN 0x1fULL
#define QCOW2_COMPAT_LAZY_REFCOUNTS (1ULL << 0)
/* Largest file offset qemu's block layer accepts (INT64_MAX rounded down to
 * 1 GiB): metadata said to lie beyond it fails with EIO, as in qemu */
#define QEMU_MAX_FILE_OFFSET 0x7fffffffc0000000ULL
#define QCOW2_CRYPT_AES 1
#define QCOW2_CRYPT_LUKS 2
#define QCOW2_AUTOCLEAR_BITMAPS (1ULL << 0)
#define QCOW2_AUTOCLEAR_DATA_FILE_RAW (1ULL << 1)

/* header extension types */
#define QEXT_END 0x00000000u
#define QEXT_BACKING_FORMAT 0xe2792acau
#define QEXT_FEATURE_TABLE 0x6803f857u
#define QEXT_BITMAPS 0x23852875u
#define QEXT_CRYPTO 0x0537be77u
#define QEXT_DATA_FILE 0x44415441u

/* L1/L2 entries */
#define L1E_OFFSET_MASK 0x00fffffffffffe00ULL
#define L2E_OFFSET_MASK 0x00fffffffffffe00ULL
#define QCOW_OFLAG_COPIED (1ULL << 63)
#define QCOW_OFLAG_COMPRESSED (1ULL << 62)
#define QCOW_OFLAG_ZERO (1ULL << 0)

#define QCOW2_MIN_CLUSTER_BITS 9
#define QCOW2_MAX_CLUSTER_BITS 21
#define QCOW2_SUBCLUSTERS 32
#define QCOW2_MAX_L1_BYTES (32u << 20)           /* qemu's limit on the L1 table */
#define QCOW2_MAX_REFTABLE_BYTES (8u << 20)
#define QCOW2_MAX_BACKING_NAME 1023

/*
 * A compressed cluster descriptor e (bit 62 set) of an image with
 * cluster_bits: its data starts at host byte *off and spans *sectors
 * 512-byte sectors (the one holding *off and the additional ones); its
 * bytes are *sectors * 512 - (*off % 512). x = 62 - (cluster_bits - 8)
 * low bits hold the offset, the bits above the additional sector count.
 */
static inline void qcow2_compressed_desc(unsigned cluster_bits, uint64_t e, uint64_t *off,
                                         uint64_t *sectors)
{
    unsigned x = 62 - (cluster_bits - 8);

    *off = e & ((1ULL << x) - 1);
    *sectors = ((e >> x) & ((1ULL << (cluster_bits - 8)) - 1)) + 1;
}

/* What a guest (sub)cluster reads as. */
enum qcow2_kind {
    QK_UNALLOCATED,         /* from the backing file, or zeros */
    QK_UNALLOCATED_ALLOC,   /* same, but a host cluster is reserved (extended L2) */
    QK_ZERO,                /* zeros */
    QK_ZERO_ALLOC,          /* zeros, host cluster preallocated */
    QK_NORMAL,              /* data at host offset */
    QK_COMPRESSED,          /* compressed data */
};

/* The feature name table qemu writes (header extension 0x6803f857). */
#define QCOW2_NB_FEATURE_NAMES 8
struct qcow2_feature_name {
    uint8_t type, bit;
    const char *name;
};
extern const struct qcow2_feature_name qcow2_feature_names[QCOW2_NB_FEATURE_NAMES];

struct qcow2_feature {
    uint8_t type, bit;
    char name[47];
};

struct qcow2_snapshot {
    uint64_t l1_offset;
    uint32_t l1_size;
    char *id, *name;
    uint32_t date_sec, date_nsec;
    uint64_t vm_clock_nsec;
    uint64_t vm_state_size;
    uint64_t disk_size;     /* UINT64_MAX when not recorded */
    uint64_t icount;        /* UINT64_MAX when not recorded */
    uint32_t extra_size;
    uint8_t *extra;         /* the extra data as read (extra_size bytes), or NULL */
};

/* A dirty bitmap in memory (image open read-write). */
struct qcow2_dbm {
    char *name;
    unsigned gbits;             /* log2 of the granularity */
    bool enabled;               /* guest writes set its bits */
    bool inconsistent;          /* in use on disk when opened: kept as it is */
    uint64_t nbits;             /* chunks */
    uint8_t *bits;              /* least significant bit first, whole 64-bit words */
};

struct qcow2_unknown_ext {
    uint32_t type, len;
    uint8_t *data;
};

struct qcow2_bitmap {
    char *name;
    uint32_t flags;
    uint8_t type, granularity_bits;
    uint64_t table_offset;
    uint32_t table_size;
};

/* One cached metadata cluster (cache.c). */
struct qcache_slot {
    uint64_t offset;        /* host offset of the cached table, 0 = empty */
    uint64_t last_use;
    uint8_t *table;         /* on-disk (big-endian) bytes */
    bool dirty;             /* changed since read: written back before eviction */
};

struct qcache {
    const char *name;
    struct qcache_slot *slots;
    size_t nslots;
    uint64_t table_size;
    uint64_t clock;
    struct qcache *depends; /* flushed (with the file) before our dirty entries go out */
};

struct qcow2 {
    /* header */
    uint32_t version;
    uint32_t cluster_bits;
    uint64_t cluster_size;
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
    uint8_t compression_type;   /* 0 zlib, 1 zstd */

    /* derived geometry */
    bool extended_l2;
    unsigned l2_entry_size;     /* 8, or 16 with extended L2 */
    unsigned l2_bits;           /* log2 of entries per L2 table */
    uint64_t subcluster_size;
    unsigned subcluster_bits;

    uint64_t *l1;               /* active L1 table, host byte order */
    uint32_t l1_entries;        /* entries in *l1 (the snapshot's when loaded) */

    /* header extensions */
    char *backing_fmt;
    char *data_file_name;
    struct file *data_file;     /* where guest clusters live; NULL = img->file */
    struct qcow2_feature *features;
    size_t nb_features;
    uint32_t nb_bitmaps;
    uint64_t bitmap_dir_size, bitmap_dir_offset;
    bool has_bitmaps_ext;
    uint64_t crypto_offset, crypto_length;
    bool has_crypto_ext;
    struct luks_header luks;    /* valid when crypt_method is LUKS and the open is NO_IO */

    struct qcow2_snapshot *snapshots;
    uint64_t snapshots_size;    /* bytes of the snapshot table */
    /* kept as they are when the header is rewritten */
    struct qcow2_unknown_ext *unknown_ext;
    size_t nb_unknown_ext;
    uint8_t *unknown_header;    /* header bytes from 112 to header_length */
    uint32_t unknown_header_len;
    struct qcow2_bitmap *bitmaps;   /* the directory as it is on disk */
    struct qcow2_dbm *dbm;          /* read-write: the bitmaps in memory, newest first */
    size_t nb_dbm;
    uint64_t file_length;       /* of img->file at open */

    /* refcounts, loaded on demand; guarded by img->lock */
    uint64_t *reftable;
    size_t reftable_entries;
    struct qcache rc_cache;     /* refcount blocks */
    int metadata_prealloc;      /* -1 unknown, 0 no, 1 yes (see refcount.c) */
    bool corruption_reported;   /* the first corruption event was printed */

    /* L2 cache; guarded by img->lock */
    struct qcache l2_cache;

    /* writing (write.c, refcount.c); guarded by img->lock */
    uint64_t free_cluster_index;    /* the search for free clusters starts here */
    uint64_t free_byte_offset;      /* where the next compressed cluster may go, 0 = none */
    bool marked_dirty;              /* lazy refcounts: the dirty bit is set on disk */
    bool punch_freed;               /* a discard request: freed clusters become holes */
};

static inline struct qcow2 *qcow2_state(struct image *img)
{
    return img->opaque;
}

/* where guest data lives */
static inline struct file *qcow2_data_file(struct image *img)
{
    struct qcow2 *s = qcow2_state(img);
    return s->data_file ? s->data_file : img->file;
}

/*
 * Report metadata found inconsistent while using the image, as qemu does:
 * the first event per image is printed on stderr ("qcow2: Image is corrupt:
 * MSG; further non-fatal corruption events will be suppressed"), the
 * caller's operation fails with -EIO and err carries MSG.
 */
int qcow2_signal_corruption(struct image *img, struct err *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* cache.c (all with img->lock held) */
void qcache_init(struct qcache *c, const char *name, size_t entries, uint64_t table_size);
void qcache_free(struct qcache *c);
/* The table at host offset; read from the file, or zero-filled when !read. */
uint8_t *qcache_get(struct image *img, struct qcache *c, uint64_t offset, bool read,
                    struct err *err);
void qcache_mark_dirty(struct qcache *c, const uint8_t *table);
/* Write every dirty entry (after the cache c depends on). */
int qcache_flush(struct image *img, struct qcache *c, struct err *err);
/* c's dirty entries may reach the file only after dep's. */
int qcache_set_dependency(struct image *img, struct qcache *c, struct qcache *dep,
                          struct err *err);
/* Drop the entry for offset without writing it (its cluster was freed). */
void qcache_forget(struct qcache *c, uint64_t offset);
/* Forget every entry without writing it (flush first to keep changes). */
void qcache_drop_all(struct qcache *c);
bool qcache_dirty(const struct qcache *c);

/* cluster.c */
int qcow2_cache_init(struct image *img, struct err *err);
void qcow2_cache_free(struct qcow2 *s);
/* qcow2_lookup with img->lock already held. */
int qcow2_lookup_locked(struct image *img, uint64_t off, uint64_t len, enum qcow2_kind *kind,
                        uint64_t *host, uint64_t *pnum, struct err *err);
/* qcow2_read with img->lock already held (copy-on-write reads the old data). */
int qcow2_read_locked(struct image *img, uint64_t off, void *buf, size_t len, struct err *err);
int qcow2_read(struct image *img, uint64_t off, void *buf, size_t len, struct err *err);
int qcow2_block_status(struct image *img, uint64_t off, uint64_t len, struct block_status *bs,
                       struct err *err);
/*
 * Describe the guest range starting at off (at most len bytes) that shares
 * one kind and, for NORMAL/ZERO_ALLOC, contiguous host offsets. Sets *kind,
 * *host (host offset of off, or the compressed descriptor's L2 entry) and
 * *pnum. Returns 0 or negative errno.
 */
int qcow2_lookup(struct image *img, uint64_t off, uint64_t len, enum qcow2_kind *kind,
                 uint64_t *host, uint64_t *pnum, struct err *err);

/* compress.c */
/*
 * Decompress the compressed cluster described by L2 entry l2e into out
 * (cluster_size bytes). Errors name the guest offset.
 */
int qcow2_decompress_cluster(struct image *img, uint64_t l2e, uint8_t *out, struct err *err);
/*
 * Compress one cluster (cluster_size bytes of in) into at most max bytes of
 * out; returns the compressed length, or -1 when it does not fit.
 * Thread-safe: for the worker pool.
 */
long qcow2_compress_cluster(const struct qcow2 *s, const uint8_t *in, uint8_t *out, size_t max);

/* snapshot.c */
int qcow2_read_snapshots(struct image *img, struct err *err);
/*
 * Read the table at s->snapshots_offset (s->nb_snapshots entries). With
 * repair (check -r all), what qemu cannot load is dropped instead of
 * failing: extra data over 1 KiB is cut (*dropped counts the entries) and
 * entries past 64 MiB of table are discarded (*reduced counts them), each
 * with qemu's message on stderr.
 */
int qcow2_read_snapshot_table(struct image *img, bool repair, uint32_t *reduced,
                              uint32_t *dropped, struct err *err);
void qcow2_free_snapshots(struct qcow2 *s);
int qcow2_snapshot_list(struct image *img, struct snapshot_info **list, size_t *n,
                        struct err *err);
int qcow2_snapshot_load(struct image *img, const char *id, const char *name, struct err *err);

/* snapshot_write.c */
/* Write the snapshot list (v3 form) to new clusters and switch the header to it. */
int qcow2_write_snapshots(struct image *img, struct err *err);
int qcow2_snapshot_create(struct image *img, const char *name, struct err *err);
int qcow2_snapshot_apply(struct image *img, const char *name, struct err *err);
int qcow2_snapshot_delete(struct image *img, const char *name, struct err *err);

/* refcount.c */
/* Refcount entry i of a refcount block, and setting it, for 2^order-bit refcounts. */
uint64_t qcow2_rc_get(unsigned order, const uint8_t *block, uint64_t i);
/* Refcounts one refcount block holds, and the largest refcount the width allows. */
uint64_t qcow2_rc_per_block(const struct qcow2 *s);
uint64_t qcow2_rc_max(const struct qcow2 *s);
void qcow2_rc_set(unsigned order, uint8_t *block, uint64_t i, uint64_t v);
int qcow2_get_refcount(struct image *img, uint64_t cluster, uint64_t *refcount,
                       struct err *err);
/* Read the refcount table into s->reftable, once (img->lock held). */
int qcow2_load_reftable(struct image *img, struct err *err);
/* The same with img->lock held. */
int qcow2_get_refcount_locked(struct image *img, uint64_t cluster, uint64_t *refcount,
                              struct err *err);
/*
 * Add addend to the refcount of every cluster touching [offset,
 * offset+length); new refcount blocks come from the allocator. A count
 * leaving 0..max is a corruption event. img->lock held.
 */
int qcow2_update_refcount(struct image *img, uint64_t offset, uint64_t length, int addend,
                          struct err *err);
/*
 * Refcount blocks needed to count clusters plus the blocks and the table
 * themselves (generous: with room for half as many table clusters again).
 */
uint64_t qcow2_refblocks_needed(uint64_t cluster_size, unsigned rb_bits, uint64_t clusters,
                                bool generous);
/* Allocate n contiguous clusters (refcount 1); returns the host offset or negative errno. */
int64_t qcow2_alloc_clusters(struct image *img, uint64_t n, struct err *err);
/*
 * Allocate the free clusters among n from cluster index first, up to the
 * first used one; returns how many, or negative errno.
 */
int64_t qcow2_alloc_clusters_at(struct image *img, uint64_t first, uint64_t n, struct err *err);
/*
 * A new refcount table at byte offset start with the blocks counting
 * everything up to it and additional clusters after it (qemu's
 * qcow2_refcount_area); returns the end of the new structures.
 */
int64_t qcow2_refcount_area(struct image *img, uint64_t start, uint64_t additional, bool exact,
                            uint64_t new_index, uint64_t new_offset, struct err *err);
/* The last cluster with a reference among those of a file of file_size bytes, or -1. */
int64_t qcow2_last_used_cluster(struct image *img, uint64_t file_size, struct err *err);
/* Drop refcount blocks that count nothing but themselves (after a shrink). */
int qcow2_shrink_reftable(struct image *img, struct err *err);
/* Allocate size bytes (< one cluster) for compressed data; host offset or negative errno. */
int64_t qcow2_alloc_bytes(struct image *img, uint64_t size, struct err *err);
/* Add addend to the refcount of the host cluster(s) of an L2 entry (standard or compressed). */
int qcow2_l2_entry_refcount(struct image *img, uint64_t l2e, int addend, struct err *err);
/* Drop the reference an L2 entry held on its host cluster(s). */
int qcow2_free_l2_entry(struct image *img, uint64_t l2e, struct err *err);
void qcow2_free_refcounts(struct qcow2 *s);
/* 1 when the image looks preallocated with metadata, 0 if not, negative errno. */
int qcow2_detect_metadata_prealloc(struct image *img, struct err *err);

/* write.c */
enum zero_mode {
    ZM_ZERO,            /* write zeroes, keeping allocated clusters allocated */
    ZM_ZERO_UNMAP,      /* write zeroes, clusters may be freed */
    ZM_DISCARD,         /* discard: reads as zeros (v3) or the backing file */
    ZM_FULL_DISCARD,    /* entries removed, clusters freed and punched (shrinking) */
};
/*
 * Zero subcluster-aligned [off, off+len) (the end may be the image's) in
 * the L2 entries, as qemu's zeroize; -ENOTSUP when the format cannot
 * (compat=0.10 with a backing file, a compressed cluster). img->lock held.
 */
int qcow2_zeroize(struct image *img, uint64_t off, uint64_t len, bool may_unmap,
                  struct err *err);
/* Apply mode to the whole clusters of [off, off+len) (img->lock held). */
int qcow2_zero_range(struct image *img, uint64_t off, uint64_t len, enum zero_mode mode,
                     struct err *err);
/*
 * Preallocation with metadata of guest [off, end): host clusters mapped,
 * no data written but the copy-on-write parts; *host_end: the end of the
 * last host run. img->lock held.
 */
int qcow2_prealloc_metadata(struct image *img, uint64_t off, uint64_t end, uint64_t *host_end,
                            struct err *err);
/*
 * Map n clusters from guest offset guest (its cluster holds the old data
 * up to guest, which is copied along) to the host clusters from host.
 */
int qcow2_map_prealloc(struct image *img, uint64_t guest, uint64_t host, uint64_t n,
                       struct err *err);
int qcow2_write(struct image *img, uint64_t off, const void *buf, size_t len, struct err *err);
int qcow2_write_zeroes(struct image *img, uint64_t off, uint64_t len, bool may_unmap,
                       struct err *err);
int qcow2_discard(struct image *img, uint64_t off, uint64_t len, struct err *err);
size_t qcow2_compress(struct image *img, const void *raw, size_t len, void *out);
int qcow2_write_compressed(struct image *img, uint64_t off, const void *raw, size_t len,
                           const void *cdata, size_t clen, struct err *err);
int qcow2_flush(struct image *img, struct err *err);
/* Flush caches and clear the dirty bit (lazy refcounts) before close. */
void qcow2_close_writes(struct image *img);
/* Flush with img->lock held. */
int qcow2_flush_locked(struct image *img, struct err *err);
/*
 * Before writing guest data or metadata to [offset, offset+len) of the
 * image file: refuse (a corruption event) when it overlaps metadata.
 */
int qcow2_check_overlap(struct image *img, uint64_t offset, uint64_t len, struct err *err);
/* Kinds of metadata, in the order qemu's overlap check names them. */
enum qcow2_overlap {
    QOL_HEADER = 1 << 0,
    QOL_ACTIVE_L1 = 1 << 1,
    QOL_ACTIVE_L2 = 1 << 2,
    QOL_REFTABLE = 1 << 3,
    QOL_REFBLOCK = 1 << 4,
    QOL_SNAPSHOTS = 1 << 5,
    QOL_INACTIVE_L1 = 1 << 6,
    QOL_INACTIVE_L2 = 1 << 7,   /* not checked (qemu's default "cached" mode) */
    QOL_BITMAP_DIR = 1 << 8,
};
/* The same, leaving out the kinds in ignore (a write to an L2 table, say). */
int qcow2_check_overlap_ign(struct image *img, uint64_t offset, uint64_t len, unsigned ignore,
                            struct err *err);
/*
 * Rewrite the first cluster as qemu's qcow2_update_header does: the header
 * from the current state, then the extensions in qemu's order (backing
 * format, data file, feature names for clusters over 4 KiB on v3, bitmaps,
 * unknown ones as read), the end marker and the backing file name.
 * backing/backing_fmt: the names to record (NULL: none).
 */
int qcow2_update_header(struct image *img, const char *backing, const char *backing_fmt,
                        struct err *err);
/* Write one header field (v3 feature bits, reftable or L1 location) in place. */
int qcow2_write_header_field(struct image *img, unsigned at, const void *bytes, size_t len,
                             struct err *err);

/* check.c */
/*
 * qemu-img check on this image (img->lock held): counts in *res, messages
 * on stderr as qemu prints them; fix is enum check_fix. A negative return
 * is a check that could not finish ("Check failed: ...").
 */
int qcow2_check_locked(struct image *img, struct check_result *res, unsigned fix,
                       struct err *err);
int qcow2_check(struct image *img, struct check_result *res, unsigned fix, struct err *err);

/* amend.c */
extern const struct opt_desc qcow2_amend_opts[];
int qcow2_amend(struct image *img, struct opts *o, bool force, struct err *err);

/* resize.c */
int qcow2_make_empty(struct image *img, struct err *err);
/* Grow the active L1 table to exactly entries entries (img->lock held). */
int qcow2_grow_l1(struct image *img, uint64_t entries, struct err *err);
int qcow2_truncate(struct image *img, uint64_t size, bool allow_shrink, enum prealloc prealloc,
                   struct err *err);

/* bitmap_write.c (img->lock held unless said) */
/* Read-write open: load the bitmaps and mark them in use on disk. */
int qcow2_bitmaps_load_rw(struct image *img, struct err *err);
/* A guest write to [off, off+len): set the bits of the enabled bitmaps. */
void qcow2_bitmaps_mark(struct image *img, uint64_t off, uint64_t len);
/* After a resize: every bitmap covers the new size (new chunks clear). */
void qcow2_bitmaps_resize(struct image *img);
/* Close: store the bitmaps (data, tables, directory) and free the old ones. */
int qcow2_bitmaps_store(struct image *img, struct err *err);
void qcow2_free_dbm(struct qcow2 *s);
/* The bitmap hook (takes img->lock). */
int qcow2_bitmap_op(struct image *img, enum bitmap_op op, const char *name, uint64_t gran,
                    struct image *src, const char *src_name, struct err *err);

bool qcow2_supports_bitmaps(struct image *img);
/* The directory's bitmaps, newest first; names point into the image's state. */
int qcow2_bitmap_list(struct image *img, struct bitmap_info **list, size_t *n, struct err *err);

/* bitmap.c */
int qcow2_check_bitmaps_ext(struct qcow2 *s, uint32_t reserved, struct err *err);
int qcow2_read_bitmaps(struct image *img, struct err *err);
void qcow2_free_bitmaps(struct qcow2 *s);
json_t *qcow2_bitmaps_json(struct image *img);

/* --- creation options (options.c) --- */

/* Encryption requested for a new image. */
enum qcow2_encrypt_format {
    QCOW2_ENCRYPT_NONE,
    QCOW2_ENCRYPT_AES,          /* "aes" (or its QAPI name "qcow"; "encryption=on") */
    QCOW2_ENCRYPT_LUKS,
};

/*
 * What a set of qcow2 creation options asks for, defaults filled in.
 * The strings point into the struct opts that was parsed and live as long
 * as it does.
 */
struct qcow2_create_params {
    uint64_t size;              /* "size" rounded up to 512 bytes (has_size) */
    bool has_size;
    unsigned version;           /* 2 (compat=0.10) or 3 (compat=1.1, default) */
    uint64_t cluster_size;      /* default 65536 */
    unsigned cluster_bits;
    bool extended_l2;
    enum prealloc prealloc;     /* default off */
    bool lazy_refcounts;
    unsigned refcount_bits;     /* default 16 */
    unsigned refcount_order;    /* log2(refcount_bits) */
    uint8_t compression_type;   /* 0 zlib (default), 1 zstd */
    const char *backing_file;   /* NULL when not given ("" counts as given) */
    const char *backing_fmt;
    const char *data_file;
    bool data_file_raw;
    enum qcow2_encrypt_format encrypt;
};

/*
 * Options of `create -f qcow2`, in qemu's order (the order of the
 * "Formatting ..." line), with qemu's help texts and defaults.
 */
extern const struct opt_desc qcow2_create_opts[];

/*
 * Check creation options as `qemu-img create -f qcow2` does and fill *p.
 * Values must already have passed opts_validate() against a list holding
 * qcow2_create_opts (options of other lists are ignored). The first
 * problem in qemu's order is reported with qemu's message: the
 * 'encryption' alias, then the QAPI-level checks (version, encrypt.*,
 * preallocation, compression type), then the qcow2 rules (extended L2,
 * cluster size, backing file, lazy refcounts, refcount width, data file,
 * compression type, encryption secret). imgsh cannot encrypt: any
 * encryption request fails the way qemu-img fails without a --object
 * secret ("... is required for cipher" / "No secret with id '...'").
 * Returns 0 or -EINVAL.
 */
int qcow2_parse_create_opts(struct opts *o, struct qcow2_create_params *p, struct err *err);
/*
 * The same options as `qemu-img measure -O qcow2` reads them: fewer rules
 * and different messages ("Invalid compatibility level: 'v3'", "invalid
 * parameter value: foo", "(use compat=1.1 or greater)"); only LUKS
 * encryption is looked at. Does not check the size.
 */
int qcow2_parse_measure_opts(const struct opts *o, struct qcow2_create_params *p,
                             struct err *err);
/*
 * Check the LUKS encryption options named prefix + "cipher-alg" etc. the
 * way qemu's crypto layer does: enum values in QAPI order ("Parameter
 * 'cipher-alg' does not accept value 'x'"). Returns 0 or -EINVAL.
 */
int qcow2_check_luks_opts(const struct opts *o, const char *prefix, struct err *err);
/*
 * The error qemu-img gives for encryption without a usable secret (imgsh
 * has no --object): "Parameter 'PREFIXkey-secret' is required for cipher"
 * or "No secret with id 'ID'". Always returns -EINVAL.
 */
int qcow2_no_secret(const struct opts *o, const char *prefix, struct err *err);

/* measure.c */
int qcow2_measure(struct opts *opts, struct image *src, struct measure_result *out,
                  struct err *err);

/* create.c */
/*
 * The create hook: make filename (and the external data file, when asked)
 * a new image laid out exactly as qemu-img 7.2 lays it out, with qemu's
 * checks and messages. As in qemu, the files are created first and deleted
 * again when a later check or step fails.
 */
int qcow2_create(const char *filename, struct opts *opts, struct err *err);

#endif
