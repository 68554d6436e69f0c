/*
 * block.h - the block layer: open an image by name (probing its format),
 * read, write, ask block status, resize and create, whatever the format.
 *
 * The engine checks every request (range, read-only, probed-raw block 0)
 * before the driver sees it, so drivers never see out-of-range I/O.
 */
#ifndef IMGSH_BLOCK_H
#define IMGSH_BLOCK_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "../formats/format.h"
#include "err.h"
#include "file.h"
#include "opts.h"

enum image_flags {
    IMG_RDWR = 1 << 0,          /* open read-write (default: read-only) */
    IMG_FORCE_SHARE = 1 << 1,   /* -U: do not take or honour image locks */
    IMG_NO_BACKING = 1 << 2,    /* do not open the backing chain */
    IMG_PROBED = 1 << 3,        /* set by image_open: format came from probing */
    IMG_QUIET = 1 << 4,         /* do not print the probed-raw warning */
    IMG_NO_IO = 1 << 5,         /* metadata only (info): guest data is not read */
    IMG_UNMAP = 1 << 6,         /* discard=unmap: space freed by discards goes back to the host */
    IMG_NO_RESIZE = 1 << 7,     /* read-write without the resize permission (qemu-io's
                                   open: image_want_resize() takes it later) */
    IMG_CHECK = 1 << 8,         /* opened to be checked: damage that check reports or repairs
                                   (snapshot table, corrupt or dirty bit) does not stop the open */
};

struct image {
    const struct fmt_driver *drv;
    void *opaque;               /* drv->instance_size bytes of driver state */
    struct file *file;          /* the protocol layer */
    char *filename;
    unsigned flags;             /* enum image_flags */
    enum cache_mode cache;
    bool sync_writes;           /* writethrough/directsync: flush after each write request */
    uint64_t size;              /* virtual size in bytes */
    uint64_t cluster_size;      /* allocation unit, set by the driver; 0 = none */
    char *backing_file;         /* as recorded in the image, or NULL */
    char *backing_fmt;          /* as recorded, or NULL */
    struct image *backing;      /* opened backing image, or NULL */
    const struct image *overlay; /* the image this one backs, or NULL at the top */
    pthread_mutex_t lock;       /* guards driver metadata caches */
    /*
     * Set by a driver that found its metadata inconsistent while writing
     * (qcow2 marks the image corrupt): every later request fails with
     * ENOMEDIUM ("No medium found"), as qemu fails requests on such an image.
     */
    bool broken;
};

/*
 * Open filename. fmt NULL probes the format (raw as the fallback; a
 * read-write open of a probed raw image prints qemu's warning and refuses
 * writes that would make block 0 look like another format). Errors read
 * "Could not open 'FILE': ...".
 */
int image_open(struct image **out, const char *filename, const char *fmt, unsigned flags,
               enum cache_mode cache, struct err *err);
/*
 * Set by the shell: asked before any read-write open (image_open with
 * IMG_RDWR, image_reopen_rw); a negative return refuses it with err's
 * message. NULL: everything may be opened read-write.
 */
extern int (*image_open_guard)(const char *filename, struct err *err);
void image_close(struct image *img);
/*
 * Reopen img (a layer of a chain opened read-only, e.g. a backing file)
 * read-write in place: its locks are taken again for writing. On failure
 * the layer is unusable and the caller should close the chain.
 */
int image_reopen_rw(struct image *img, struct err *err);
/*
 * Record backing (NULL or "": none) and its format in img, as qemu's
 * bdrv_change_backing_file with require set: a backing file without a
 * format is refused ("backing format must be specified").
 */
int image_change_backing_file(struct image *img, const char *backing, const char *backing_fmt,
                              struct err *err);
/* Drop everything the image holds so that it reads as its backing file. */
int image_make_empty(struct image *img, struct err *err);
/* qemu's warning for a read-write open of an image probed as raw. */
void image_warn_probed_raw(const char *filename);

int image_read(struct image *img, uint64_t off, void *buf, size_t len, struct err *err);
int image_write(struct image *img, uint64_t off, const void *buf, size_t len, struct err *err);
/*
 * Make [off, off+len) read as zeros: the driver's write_zeroes when it has
 * one (may_unmap lets it deallocate), zero buffers otherwise.
 */
int image_write_zeroes(struct image *img, uint64_t off, uint64_t len, bool may_unmap,
                       struct err *err);
/* Deallocate [off, off+len) where the format can; does nothing without a discard hook. */
int image_discard(struct image *img, uint64_t off, uint64_t len, struct err *err);
/*
 * Compressed write of whole clusters (the last one may be short at the end
 * of the image); -ENOTSUP for formats that cannot compress.
 */
int image_write_compressed(struct image *img, uint64_t off, const void *buf, size_t len,
                           struct err *err);
/*
 * The same in two steps, one cluster at a time, for callers that compress
 * on many threads: image_compress() (thread-safe; out has cluster_size
 * bytes; returns the compressed length, 0 = store raw), then, in the order
 * the clusters should land, image_write_compressed_cluster(). A last call
 * with len 0 ends the stream, as qemu-img convert -c does.
 */
size_t image_compress(struct image *img, const void *raw, size_t len, void *out);
int image_write_compressed_cluster(struct image *img, uint64_t off, const void *raw, size_t len,
                                   const void *cdata, size_t clen, struct err *err);
int image_flush(struct image *img, struct err *err);
/* Show an internal snapshot's data on a read-only image (convert -l). */
int image_snapshot_load(struct image *img, const char *id, const char *name, struct err *err);
/*
 * Status of [off, off+len) through the whole chain: the first layer that
 * answers sets bs->depth; BS_ALLOCATED is set when some layer (not only the
 * end of the chain) answered. pnum is in 1..len.
 */
int image_block_status(struct image *img, uint64_t off, uint64_t len, struct block_status *bs,
                       struct err *err);
/*
 * Is [off, off+len) allocated (data or zeros) in some layer from top down
 * to base (exclusive; NULL: the whole chain)? Returns 1 or 0 for the run
 * of *pnum bytes from off with the same answer, or negative errno. Layers
 * past their own end count as unallocated.
 */
int image_is_allocated_above(struct image *top, const struct image *base, uint64_t off,
                             uint64_t len, uint64_t *pnum, struct err *err);
/* The virtual size, or -ENOMEDIUM once the driver found the image broken. */
int64_t image_length(const struct image *img);
/* Host bytes used by the image ("disk size"), or negative errno. */
int64_t image_allocated_size(struct image *img);
/*
 * Take the resize permission that an IMG_NO_RESIZE open left out, with
 * the lock message when another process refuses to share it.
 */
int image_want_resize(struct image *img, struct err *err);
/* Resize; messages as qemu-img resize prints them. */
int image_truncate(struct image *img, uint64_t size, bool allow_shrink, enum prealloc prealloc,
                   struct err *err);

/*
 * Options a format's create accepts: its own, plus the file protocol's
 * when with_protocol (as qemu does once a target filename is known).
 * Free with free().
 */
struct opt_desc *image_create_opts(const struct fmt_driver *drv, bool with_protocol);
/* Validate opts and create filename with driver drv. */
int image_create(const struct fmt_driver *drv, const char *filename, struct opts *opts,
                 struct err *err);

#endif
