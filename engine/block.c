/* block.c - the block layer; see block.h. */
#include "block.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "info.h"

#include "util.h"

void snapshot_info_free(struct snapshot_info *list, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(list[i].id);
        free(list[i].name);
    }
    free(list);
}

static void image_free(struct image *img)
{
    if (img->drv && img->drv->close && img->opaque) {
        img->drv->close(img);
    }
    file_close(img->file);
    pthread_mutex_destroy(&img->lock);
    free(img->opaque);
    free(img->filename);
    free(img->backing_file);
    free(img->backing_fmt);
    free(img);
}

static int open_one(struct image **out, const char *filename, const char *fmt, unsigned flags,
                    enum cache_mode cache, const struct image *overlay, struct err *err);

/*
 * Open img's backing file (if it has one and the caller wants the chain),
 * read-only, resolving a relative name against img's directory. A file
 * already in the chain is refused with qemu-img's loop message.
 */
static int open_backing(struct image *img, unsigned flags, struct err *err)
{
    char *path;
    int ret;

    if (!img->backing_file || (flags & IMG_NO_BACKING)) {
        return 0;
    }
    path = backing_full_path(img->filename, img->backing_file);
    ret = open_one(&img->backing, path, img->backing_fmt,
                   (flags & ~(IMG_RDWR | IMG_PROBED | IMG_CHECK)) | IMG_QUIET, img->cache, img, err);
    if (ret < 0 && !(err && err->code == -ELOOP)) {
        err_prepend(err, "Could not open backing file: ");
    }
    free(path);
    return ret;
}

/* Is the file open as f already somewhere in the chain above (overlay and its overlays)? */
static bool in_chain(const struct image *overlay, const struct file *f)
{
    struct stat a, b;

    if (fstat(f->fd, &b) < 0) {
        return false;
    }
    for (; overlay; overlay = overlay->overlay) {
        if (fstat(overlay->file->fd, &a) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
            return true;
        }
    }
    return false;
}

int (*image_open_guard)(const char *filename, struct err *err);

int image_open(struct image **out, const char *filename, const char *fmt, unsigned flags,
               enum cache_mode cache, struct err *err)
{
    int ret;

    if ((flags & IMG_RDWR) && image_open_guard) {
        ret = image_open_guard(filename, err);
        if (ret < 0) {
            *out = NULL;
            return ret;
        }
    }
    ret = open_one(out, filename, fmt, flags, cache, NULL, err);

    if (ret < 0 && err && err->code != -ELOOP) {
        err_prepend(err, "Could not open '%s': ", filename);
    }
    return ret;
}

static int open_one(struct image **out, const char *filename, const char *fmt, unsigned flags,
                    enum cache_mode cache, const struct image *overlay, struct err *err)
{
    const struct fmt_driver *drv = NULL;
    struct image *img;
    int ret;

    if (fmt) {
        drv = fmt_find(fmt);
        if (!drv) {
            return err_set(err, -EINVAL, "Unknown driver '%s'", fmt);
        }
    }
    img = xcalloc(1, sizeof(*img));
    pthread_mutex_init(&img->lock, NULL);
    img->filename = xstrdup(filename);
    img->flags = flags & ~IMG_PROBED;
    img->cache = cache;
    img->overlay = overlay;

    ret = file_open(&img->file, filename, (flags & IMG_RDWR) ? FILE_RDWR : 0, cache, err);
    if (ret < 0) {
        goto fail;
    }
    /*
     * writethrough is kept per request at this level, as qemu's block
     * backend does: a format's own metadata writes are not synced one by one
     */
    img->sync_writes = img->file->sync_writes;
    img->file->sync_writes = false;
    if (overlay && in_chain(overlay, img->file)) {
        /* the name as the topmost image's backing chain spells it */
        ret = err_set(err, -ELOOP, "Backing file '%s' creates an infinite loop.", filename);
        goto fail;
    }
    if (!drv) {
        uint8_t buf[PROBE_BUF_SIZE];
        int64_t len = file_length(img->file, err);

        if (len < 0) {
            ret = (int)len;
            goto fail;
        }
        ret = file_pread(img->file, 0, buf, sizeof(buf), err);
        if (ret < 0) {
            goto fail;
        }
        drv = fmt_probe(buf, (size_t)MIN((uint64_t)len, sizeof(buf)), filename);
        img->flags |= IMG_PROBED;
        if (!strcmp(drv->name, "raw") && (flags & IMG_RDWR) && !(flags & IMG_QUIET)) {
            image_warn_probed_raw(filename);
        }
    }
    {
        /*
         * As qemu: a reader of guest data needs a consistent view of it, a
         * writer also writes and may resize, and a metadata-only open
         * (info) needs nothing. The format decides what it refuses to share
         * with others; -U (force share) refuses nothing.
         */
        unsigned perms = (flags & IMG_NO_IO) ? 0 : PERM_CONSISTENT_READ;
        unsigned unshared = (flags & IMG_FORCE_SHARE) ? 0 : drv->unshared_perms;
        if (flags & IMG_RDWR) {
            perms |= PERM_CONSISTENT_READ | PERM_WRITE;
            if (!(flags & IMG_NO_RESIZE)) {
                perms |= PERM_RESIZE;
            }
        }
        ret = file_lock(img->file, perms, unshared, err);
        if (ret < 0) {
            goto fail;
        }
    }
    img->drv = drv;
    img->opaque = xcalloc(1, drv->instance_size ? drv->instance_size : 1);
    ret = drv->open(img, err);
    if (ret < 0) {
        img->drv = NULL;        /* open() cleans up after itself on failure */
        goto fail;
    }
    ret = open_backing(img, flags, err);
    if (ret < 0) {
        image_close(img);
        return ret;
    }
    *out = img;
    return 0;

fail:
    image_free(img);
    return ret;
}

int image_reopen_rw(struct image *img, struct err *err)
{
    unsigned flags = (img->flags | IMG_RDWR) & ~IMG_NO_IO;
    bool sync;
    int ret;

    if (img->flags & IMG_RDWR) {
        return 0;
    }
    if (image_open_guard) {
        ret = image_open_guard(img->filename, err);
        if (ret < 0) {
            return ret;
        }
    }
    /* our own read-only locks would conflict with the new ones: drop them first */
    if (img->drv->close) {
        img->drv->close(img);
    }
    file_close(img->file);
    img->file = NULL;
    free(img->backing_file);
    free(img->backing_fmt);
    img->backing_file = img->backing_fmt = NULL;
    memset(img->opaque, 0, img->drv->instance_size ? img->drv->instance_size : 1);
    img->flags = flags;
    ret = file_open(&img->file, img->filename, FILE_RDWR, img->cache, err);
    if (ret == 0) {
        sync = img->file->sync_writes;
        img->file->sync_writes = false;
        img->sync_writes = sync;
        ret = file_lock(img->file, PERM_CONSISTENT_READ | PERM_WRITE | PERM_RESIZE,
                        (flags & IMG_FORCE_SHARE) ? 0 : img->drv->unshared_perms, err);
    }
    if (ret == 0) {
        ret = img->drv->open(img, err);
    }
    if (ret < 0) {
        img->broken = true;     /* closed and not opened again: unusable */
    }
    return ret;
}

int image_change_backing_file(struct image *img, const char *backing, const char *backing_fmt,
                              struct err *err)
{
    if (backing && !*backing) {
        backing = NULL;
    }
    if (backing && !backing_fmt) {
        return err_set(err, -EINVAL, "backing format must be specified");
    }
    if (!img->drv->change_backing_file) {
        return err_set(err, -ENOTSUP, "Operation not supported");
    }
    if (!(img->flags & IMG_RDWR)) {
        return err_set(err, -EPERM, "image '%s' is read-only", img->filename);
    }
    return img->drv->change_backing_file(img, backing, backing ? backing_fmt : NULL, err);
}

int image_make_empty(struct image *img, struct err *err)
{
    if (!(img->flags & IMG_RDWR)) {
        return err_set(err, -EPERM, "image '%s' is read-only", img->filename);
    }
    if (!img->drv->make_empty) {
        return err_set(err, -ENOTSUP, "Operation not supported");
    }
    return img->drv->make_empty(img, err);
}

void image_warn_probed_raw(const char *filename)
{
    fflush(stdout);
    fprintf(stderr,
            "WARNING: Image format was not specified for '%s' and probing guessed raw.\n"
            "         Automatically detecting the format is dangerous for raw images, "
            "write operations on block 0 will be restricted.\n"
            "         Specify the 'raw' format explicitly to remove the restrictions.\n",
            filename);
}

void image_close(struct image *img)
{
    if (img) {
        image_close(img->backing);
        image_free(img);
    }
}

static int check_range(struct image *img, uint64_t off, size_t len, struct err *err)
{
    uint64_t end;

    if (img->broken) {
        return err_set(err, -ENOMEDIUM, "No medium found");
    }
    if (ADD_OVERFLOW(off, (uint64_t)len, &end) || end > img->size) {
        return err_set(err, -EIO, "request out of range: offset %llu, length %zu, image size %llu",
                       (unsigned long long)off, len, (unsigned long long)img->size);
    }
    return 0;
}

int image_read(struct image *img, uint64_t off, void *buf, size_t len, struct err *err)
{
    int ret = check_range(img, off, len, err);

    if (ret < 0 || len == 0) {
        return ret;
    }
    return img->drv->read(img, off, buf, len, err);
}

/*
 * A probed raw image must not be turned into something that probes as
 * another format: refuse writes that would change what block 0 probes as.
 */
static int check_probed_raw_write(struct image *img, uint64_t off, const void *buf, size_t len,
                                  struct err *err)
{
    uint8_t block0[PROBE_BUF_SIZE];
    int ret;

    if (!(img->flags & IMG_PROBED) || strcmp(img->drv->name, "raw") || off >= PROBE_BUF_SIZE) {
        return 0;
    }
    ret = img->drv->read(img, 0, block0, MIN(sizeof(block0), (size_t)img->size), err);
    if (ret < 0) {
        return ret;
    }
    memcpy(block0 + off, buf, MIN(len, (size_t)(PROBE_BUF_SIZE - off)));
    if (strcmp(fmt_probe(block0, MIN(sizeof(block0), (size_t)img->size), img->filename)->name,
               "raw")) {
        return err_set(err, -EPERM,
                       "refusing to write block 0 of '%s': the image was probed as raw and "
                       "the write would change its format (use -f raw)", img->filename);
    }
    return 0;
}

/* After a write that succeeded (ret 0): writethrough and directsync flush at once. */
static int synced(struct image *img, int ret, struct err *err)
{
    if (ret == 0 && img->sync_writes) {
        ret = image_flush(img, err);
    }
    return ret;
}

int image_write(struct image *img, uint64_t off, const void *buf, size_t len, struct err *err)
{
    int ret;

    if (!(img->flags & IMG_RDWR)) {
        return err_set(err, -EPERM, "image '%s' is read-only", img->filename);
    }
    if (!img->drv->write) {
        return err_set(err, -ENOTSUP, "format '%s' is read-only in imgsh", img->drv->name);
    }
    ret = check_range(img, off, len, err);
    if (ret < 0 || len == 0) {
        return ret;
    }
    ret = check_probed_raw_write(img, off, buf, len, err);
    if (ret < 0) {
        return ret;
    }
    return synced(img, img->drv->write(img, off, buf, len, err), err);
}

int image_write_zeroes(struct image *img, uint64_t off, uint64_t len, bool may_unmap,
                       struct err *err)
{
    static const uint8_t zero[64 * 1024];
    int ret;

    if (!(img->flags & IMG_RDWR)) {
        return err_set(err, -EPERM, "image '%s' is read-only", img->filename);
    }
    if (len > SIZE_MAX) {
        return err_set(err, -EINVAL, "Request too large");
    }
    ret = check_range(img, off, (size_t)len, err);
    if (ret < 0 || len == 0) {
        return ret;
    }
    if (img->drv->write_zeroes) {
        return synced(img, img->drv->write_zeroes(img, off, len, may_unmap, err), err);
    }
    while (len) {
        size_t n = (size_t)MIN(len, (uint64_t)sizeof(zero));
        ret = image_write(img, off, zero, n, err);
        if (ret < 0) {
            return ret;
        }
        off += n;
        len -= n;
    }
    return 0;
}

int image_discard(struct image *img, uint64_t off, uint64_t len, struct err *err)
{
    int ret;

    if (!(img->flags & IMG_RDWR)) {
        return err_set(err, -EPERM, "image '%s' is read-only", img->filename);
    }
    if (len > SIZE_MAX) {
        return err_set(err, -EINVAL, "Request too large");
    }
    ret = check_range(img, off, (size_t)len, err);
    if (ret < 0 || len == 0 || !img->drv->discard) {
        return ret;
    }
    return synced(img, img->drv->discard(img, off, len, err), err);
}

static int check_compressed(struct image *img, uint64_t off, size_t len, struct err *err)
{
    if (!(img->flags & IMG_RDWR)) {
        return err_set(err, -EPERM, "image '%s' is read-only", img->filename);
    }
    if (!img->drv->write_compressed || !img->cluster_size) {
        return err_set(err, -ENOTSUP, "Operation not supported");
    }
    return check_range(img, off, len, err);
}

size_t image_compress(struct image *img, const void *raw, size_t len, void *out)
{
    return img->drv->compress(img, raw, len, out);
}

int image_write_compressed_cluster(struct image *img, uint64_t off, const void *raw, size_t len,
                                   const void *cdata, size_t clen, struct err *err)
{
    int ret = check_compressed(img, off, len, err);

    if (ret < 0) {
        return ret;
    }
    /* len 0 ends a stream of compressed writes (qcow2 aligns its file end) */
    return synced(img, img->drv->write_compressed(img, off, raw, len, cdata, clen, err), err);
}

int image_write_compressed(struct image *img, uint64_t off, const void *buf, size_t len,
                           struct err *err)
{
    const uint8_t *p = buf;
    uint8_t *out;
    int ret = check_compressed(img, off, len, err);

    if (ret < 0 || len == 0) {
        return ret;
    }
    out = xmalloc((size_t)img->cluster_size);
    while (ret == 0 && len) {
        size_t n = (size_t)MIN((uint64_t)len, img->cluster_size - off % img->cluster_size);
        size_t clen = image_compress(img, p, n, out);
        ret = synced(img, img->drv->write_compressed(img, off, p, n, out, clen, err), err);
        off += n;
        p += n;
        len -= n;
    }
    free(out);
    return ret;
}

int image_snapshot_load(struct image *img, const char *id, const char *name, struct err *err)
{
    if (!img->drv->snapshot_load) {
        return err_set(err, -ENOTSUP, "Failed to load snapshot: snapshots are not supported "
                       "by format '%s'", img->drv->name);
    }
    if (img->flags & IMG_RDWR) {
        return err_set(err, -EINVAL, "Snapshots can only be loaded on read-only images");
    }
    return img->drv->snapshot_load(img, id, name, err);
}

int image_flush(struct image *img, struct err *err)
{
    if (img->broken) {
        return err_set(err, -ENOMEDIUM, "No medium found");
    }
    if (!(img->flags & IMG_RDWR)) {
        return 0;
    }
    if (img->drv->flush) {
        return img->drv->flush(img, err);
    }
    return file_flush(img->file, err);
}

int image_block_status(struct image *img, uint64_t off, uint64_t len, struct block_status *bs,
                       struct err *err)
{
    unsigned depth = 0;
    uint64_t want = len;
    int rc = check_range(img, off, (size_t)len, err);

    if (rc < 0) {
        return rc;
    }
    /*
     * Walk down the chain as qemu-img does: stop at the first layer that
     * says data or zero. A layer that does not allocate the range still
     * says zero when it has no backing file, or when the range lies past
     * the end of its backing file; BS_ALLOCATED tells the two apart.
     */
    for (struct image *layer = img;; layer = layer->backing, depth++) {
        uint64_t limit = MIN(want, layer->size > off ? layer->size - off : 0);
        int ret;

        if (limit == 0) {
            /* only reachable for a layer shorter than its overlay said: zeros */
            bs->pnum = want;
            bs->flags = BS_ZERO;
            bs->depth = depth;
            return 0;
        }
        memset(bs, 0, sizeof(*bs));
        if (layer->drv->block_status) {
            ret = layer->drv->block_status(layer, off, limit, bs, err);
            if (ret < 0) {
                return ret;
            }
        } else {
            bs->pnum = limit;
            bs->flags = BS_DATA | BS_OFFSET_VALID;
            bs->offset = off;
            bs->host = layer->file;
        }
        if (bs->pnum == 0 || bs->pnum > limit) {
            return err_set(err, -EIO, "'%s': block status of offset %llu came back empty",
                           layer->filename, (unsigned long long)off);
        }
        if ((bs->flags & BS_RECURSE) && (bs->flags & BS_DATA) && !(bs->flags & BS_ZERO) &&
            (bs->flags & BS_OFFSET_VALID) && bs->host) {
            /* data in a preallocated cluster: where the host file has a hole, it reads zeros */
            uint64_t n;
            if (file_block_status(bs->host, bs->offset, bs->pnum, &n) == 0) {
                bs->flags |= BS_ZERO;
            }
            bs->pnum = n;
        }
        bs->flags &= ~BS_RECURSE;
        bs->depth = depth;
        if (bs->flags & (BS_DATA | BS_ZERO)) {
            bs->flags |= BS_ALLOCATED;
            return 0;
        }
        if (!layer->backing || off >= layer->backing->size) {
            bs->flags |= BS_ZERO;
            return 0;
        }
        want = bs->pnum;    /* the next layer decides, but only for this run */
    }
}

int image_is_allocated_above(struct image *top, const struct image *base, uint64_t off,
                             uint64_t len, uint64_t *pnum, struct err *err)
{
    uint64_t want = len;

    if (top->broken) {
        return err_set(err, -ENOMEDIUM, "No medium found");
    }
    for (struct image *l = top; l && l != base; l = l->backing) {
        struct block_status bs = { 0 };

        if (off >= l->size) {
            continue;
        }
        if (l->drv->block_status) {
            int ret = l->drv->block_status(l, off, MIN(want, l->size - off), &bs, err);
            if (ret < 0) {
                return ret;
            }
        } else {
            bs.pnum = MIN(want, l->size - off);
            bs.flags = BS_DATA;
        }
        if (bs.flags & (BS_DATA | BS_ZERO)) {
            *pnum = MIN(want, bs.pnum);
            return 1;
        }
        want = MIN(want, bs.pnum);
    }
    *pnum = want;
    return 0;
}

int64_t image_length(const struct image *img)
{
    return img->broken ? -ENOMEDIUM : (int64_t)img->size;
}

int64_t image_allocated_size(struct image *img)
{
    if (img->drv->allocated_size) {
        return img->drv->allocated_size(img);
    }
    return file_allocated(img->file);
}

int image_want_resize(struct image *img, struct err *err)
{
    if (!(img->flags & IMG_NO_RESIZE)) {
        return 0;
    }
    return file_lock(img->file, PERM_RESIZE, 0, err);
}

int image_truncate(struct image *img, uint64_t size, bool allow_shrink, enum prealloc prealloc,
                   struct err *err)
{
    if (img->broken) {
        return err_set(err, -ENOMEDIUM, "No medium found");
    }
    if (!img->drv->truncate) {
        return err_set(err, -ENOTSUP, "Image format driver does not support resize");
    }
    if (!(img->flags & IMG_RDWR)) {
        return err_set(err, -EPERM, "image '%s' is read-only", img->filename);
    }
    return img->drv->truncate(img, size, allow_shrink, prealloc, err);
}

struct opt_desc *image_create_opts(const struct fmt_driver *drv, bool with_protocol)
{
    static const struct opt_desc none[] = { { NULL, 0, NULL, NULL } };

    return opt_desc_merge(drv->create_opts ? drv->create_opts : none,
                          with_protocol && drv->create_passes_file_opts ? file_create_opts
                                                                        : none);
}

int image_create(const struct fmt_driver *drv, const char *filename, struct opts *opts,
                 struct err *err)
{
    struct opt_desc *desc;
    int ret;

    if (!drv->create) {
        return err_set(err, -ENOTSUP, "Format driver '%s' does not support image creation",
                       drv->name);
    }
    desc = image_create_opts(drv, true);
    ret = opts_validate(opts, desc, err);
    free(desc);
    if (ret < 0) {
        return ret;
    }
    return drv->create(filename, opts, err);
}
