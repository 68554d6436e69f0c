/*
 * format.h - the interface every image format driver implements.
 *
 * A driver is a const struct fmt_driver with designated initialisers,
 * listed in formats/registry.c. The engine (engine/block.c) owns the
 * struct image, opens the protocol layer (img->file) before calling
 * open(), allocates instance_size zeroed bytes at img->opaque, and checks
 * the arguments of every I/O call (range, read-only) before the driver
 * sees them. Optional operations are left NULL; the engine then answers
 * -ENOTSUP with qemu-img's message for the operation.
 *
 * Threads: read, write and block_status may be called from several
 * worker threads at once on one image. Drivers keep per-request state on
 * the stack or in per-request buffers and guard shared metadata caches with
 * img->lock.
 *
 * Errors: every operation returns 0 (or a positive value where stated) on
 * success and a negative errno on failure, with a message in *err.
 */
#ifndef IMGSH_FORMAT_H
#define IMGSH_FORMAT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../engine/err.h"
#include "../engine/file.h"
#include "../engine/opts.h"

struct image;

/* Smallest possible positive score: raw wins only when nothing else does. */
#define PROBE_RAW 1
/* Score for a matching magic number and a supported version. */
#define PROBE_MATCH 100
/* Bytes of the image start handed to probe(). */
#define PROBE_BUF_SIZE 512

/* Block status of a range, as the driver sees its own layer. */
enum bs_flags {
    BS_DATA = 1 << 0,           /* reads return data stored in this layer */
    BS_ZERO = 1 << 1,           /* reads return zeros */
    BS_OFFSET_VALID = 1 << 2,   /* offset/host say where the data lives */
    BS_ALLOCATED = 1 << 3,      /* set by the engine: answered by this layer */
    BS_RECURSE = 1 << 4,        /* ask the host file too: its holes read as zeros */
};

struct block_status {
    uint64_t pnum;              /* bytes from the query offset with this status (> 0) */
    unsigned flags;             /* enum bs_flags; neither DATA nor ZERO = unallocated here */
    uint64_t offset;            /* host offset, with BS_OFFSET_VALID */
    struct file *host;          /* file offset refers to, with BS_OFFSET_VALID */
    unsigned depth;             /* set by the engine: chain level that answered (0 = top) */
};

/* Internal snapshot, as info and snapshot -l list them. */
struct snapshot_info {
    char *id;
    char *name;
    uint64_t vm_state_size;
    uint32_t date_sec, date_nsec;
    uint64_t vm_clock_nsec;
    uint64_t icount;            /* UINT64_MAX when not recorded */
};

/* What info reports beyond the engine's own fields. */
struct image_info {
    uint64_t cluster_size;      /* 0 when the format has no clusters */
    bool dirty;                 /* the "dirty-flag" */
    bool encrypted;
    /*
     * Where the VM state would be stored (qemu-io's "vm state offset"):
     * for qcow2 the range of the first L1 entry past the disk; 0 when the
     * format has no VM state area.
     */
    uint64_t vm_state_offset;
    json_t *format_specific;    /* {"type": fmt, "data": {...}} or NULL; engine frees it */
};

/* Result of check(), counted the way qemu-img check reports them. */
struct check_result {
    uint64_t corruptions, leaks, check_errors;
    uint64_t corruptions_fixed, leaks_fixed;
    uint64_t image_end_offset;
    uint64_t total_clusters, allocated_clusters, fragmented_clusters, compressed_clusters;
};

/* What "measure" reports for a target format. */
struct measure_result {
    uint64_t required;          /* bytes the new image needs for the given data */
    uint64_t fully_allocated;   /* bytes with every cluster allocated */
    uint64_t bitmaps;           /* bytes for persistent bitmaps (has_bitmaps) */
    bool has_bitmaps;
};

enum check_fix {
    CHECK_FIX_LEAKS = 1 << 0,
    CHECK_FIX_ERRORS = 1 << 1,
};

/* A persistent dirty bitmap as convert --bitmaps sees it. */
struct bitmap_info {
    char *name;
    uint64_t granularity;
    bool enabled;
    bool inconsistent;          /* in use on disk: its data cannot be trusted */
};

/* Operations of the bitmap command on persistent dirty bitmaps. */
enum bitmap_op {
    BITMAP_ADD,
    BITMAP_REMOVE,
    BITMAP_CLEAR,
    BITMAP_ENABLE,
    BITMAP_DISABLE,
    BITMAP_MERGE,
};

struct fmt_driver {
    /* --- identity --- */
    const char *name;           /* as given to -f, e.g. "qcow2" */
    const char *description;    /* one line for help and docs */
    size_t instance_size;       /* bytes of per-image state at img->opaque */
    /*
     * Permissions (enum perm, engine/file.h) this format refuses to share
     * with other processes while it has the image open: 0 for raw, which
     * passes its users' wishes through; metadata formats refuse
     * PERM_WRITE | PERM_RESIZE, since a second writer would corrupt them.
     */
    unsigned unshared_perms;

    /* --- probe, open, close --- */
    /*
     * Score 0..100 for the first len (<= PROBE_BUF_SIZE) bytes of a file;
     * 0 = not this format. NULL: never chosen by probing.
     */
    int (*probe)(const uint8_t *buf, size_t len, const char *filename);
    /*
     * Parse metadata from img->file and set img->size (and backing_file,
     * backing_fmt when the image has a backing file). Must not write unless
     * img->flags has IMG_RDWR. Error messages follow qemu's (the engine adds
     * "Could not open 'FILE': " in front).
     */
    int (*open)(struct image *img, struct err *err);
    /* Release what open() allocated. May be NULL. */
    void (*close)(struct image *img);

    /* --- I/O (ranges are checked by the engine) --- */
    int (*read)(struct image *img, uint64_t off, void *buf, size_t len, struct err *err);
    /* NULL: the format is read-only. */
    int (*write)(struct image *img, uint64_t off, const void *buf, size_t len,
                 struct err *err);
    /*
     * Status of [off, off+len) in this layer; sets *bs with pnum in 1..len.
     * NULL: everything is data at the same offset.
     */
    int (*block_status)(struct image *img, uint64_t off, uint64_t len,
                        struct block_status *bs, struct err *err);
    /*
     * Make [off, off+len) read as zeros; may_unmap allows deallocating the
     * range. NULL: the engine writes zero buffers through write().
     */
    int (*write_zeroes)(struct image *img, uint64_t off, uint64_t len, bool may_unmap,
                        struct err *err);
    /*
     * Let [off, off+len) be deallocated; it then reads as the backing file
     * or zeros (qcow2: zeros on v3, backing data on v2). Purely advisory:
     * parts that cannot be discarded are left alone. NULL: discard does
     * nothing.
     */
    int (*discard)(struct image *img, uint64_t off, uint64_t len, struct err *err);
    /*
     * Compressed writes go one cluster (img->cluster_size bytes; less for
     * the last cluster of the image) at a time, in two steps so that the
     * compression runs on many threads while the writes go in order:
     * compress() is thread-safe and returns the compressed length in out
     * (cluster_size bytes of room), or 0 when the data does not compress;
     * write_compressed() stores the cluster at off (cluster aligned): the
     * compressed bytes, or with clen 0 the raw data as a normal cluster;
     * len 0 ends a stream of compressed writes.
     * NULL: the format cannot compress ("Operation not supported").
     */
    size_t (*compress)(struct image *img, const void *raw, size_t len, void *out);
    int (*write_compressed)(struct image *img, uint64_t off, const void *raw, size_t len,
                            const void *cdata, size_t clen, struct err *err);
    /* Make written data and metadata stable. NULL: flush img->file only. */
    int (*flush)(struct image *img, struct err *err);

    /* --- metadata --- */
    /* Change the virtual size; shrinking only with allow_shrink. NULL: cannot resize. */
    int (*truncate)(struct image *img, uint64_t size, bool allow_shrink, enum prealloc prealloc,
                    struct err *err);
    /* Create filename with validated opts ("size" included). */
    int (*create)(const char *filename, struct opts *opts, struct err *err);
    /*
     * Options create() accepts. With create_passes_file_opts the
     * options of the file protocol (file_create_opts) are accepted too.
     */
    const struct opt_desc *create_opts;
    bool create_passes_file_opts;
    /* Fill what info shows beyond size and allocation. NULL: nothing more. */
    int (*get_info)(struct image *img, struct image_info *info, struct err *err);
    /* Host bytes used by the image, when not simply its file's allocation. */
    int64_t (*allocated_size)(struct image *img);

    /* --- optional hooks; NULL = not supported by this format --- */
    int (*check)(struct image *img, struct check_result *res, unsigned fix, struct err *err);
    int (*snapshot_list)(struct image *img, struct snapshot_info **list, size_t *n,
                         struct err *err);
    int (*snapshot_create)(struct image *img, const char *name, struct err *err);
    int (*snapshot_apply)(struct image *img, const char *name, struct err *err);
    /* id: the snapshot's id (the engine looks names up). */
    int (*snapshot_delete)(struct image *img, const char *id, struct err *err);
    /*
     * Make a read-only image show the guest data of an internal snapshot
     * (convert -l): id and/or name select it (either may be NULL). Errors as
     * qemu's ("Can't find snapshot").
     */
    int (*snapshot_load)(struct image *img, const char *id, const char *name, struct err *err);
    int (*amend)(struct image *img, struct opts *opts, bool force, struct err *err);
    /*
     * Record another backing file (NULL: none) and its format (NULL: none)
     * in the image's metadata. NULL hook: the format has no backing files.
     */
    int (*change_backing_file)(struct image *img, const char *backing, const char *backing_fmt,
                               struct err *err);
    /*
     * One operation on the persistent bitmap name of an image open
     * read-write (granularity: for BITMAP_ADD, 0 = the format's default;
     * src/src_name: for BITMAP_MERGE). NULL: the format has no bitmaps.
     */
    int (*bitmap)(struct image *img, enum bitmap_op op, const char *name, uint64_t granularity,
                  struct image *src, const char *src_name, struct err *err);
    /* Can this image keep persistent bitmaps? NULL: never. */
    bool (*supports_bitmaps)(struct image *img);
    /*
     * The image's bitmaps, newest first (as qemu iterates them). Free the
     * array with free(); the names belong to the image.
     */
    int (*bitmap_list)(struct image *img, struct bitmap_info **list, size_t *n, struct err *err);
    /* Make the image read as its backing file again (commit without -d). NULL: not possible. */
    int (*make_empty)(struct image *img, struct err *err);
    /*
     * Size a new image of this format with create options opts, holding
     * the data of src (NULL: an empty image of opts' "size"). NULL: the
     * format cannot be measured.
     */
    int (*measure)(struct opts *opts, struct image *src, struct measure_result *out,
                   struct err *err);
    const struct opt_desc *amend_opts;
};

/* formats/registry.c */
extern const struct fmt_driver *const fmt_drivers[];
/* Probe-only entries for formats not readable yet (open() always fails). */
extern const struct fmt_driver *const fmt_recognized[];
/* Driver called name, or NULL. */
const struct fmt_driver *fmt_find(const char *name);
/*
 * Best-scoring driver for the first bytes of a file (raw as the fallback);
 * may be an fmt_recognized entry.
 */
const struct fmt_driver *fmt_probe(const uint8_t *buf, size_t len, const char *filename);

void snapshot_info_free(struct snapshot_info *list, size_t n);

#endif
