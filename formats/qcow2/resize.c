/*
 * resize.c - changing the virtual size of a qcow2 image (the truncate
 * hook), with qemu's steps:
 *
 *  grow:   a bigger active L1 table (exactly as big as the size needs) is
 *          written to new clusters and the header switched to it; then
 *          preallocation: metadata maps the new range to host clusters
 *          without writing data; falloc/full first make refcount
 *          structures able to count the new data and its L2 tables,
 *          place every new data cluster in one run after them (the file
 *          grown in that mode), then map them;
 *  shrink: the clusters past the new end are discarded (entries removed,
 *          clusters punched out), the L1 entries past it cleared and their
 *          L2 tables freed (the L1 table keeps its size), refcount blocks
 *          that count nothing but themselves dropped, and the file cut
 *          after the last used cluster.
 *
 * The new size goes into the header last.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "../../engine/size.h"
#include "../../engine/util.h"
#include "qcow2_int.h"

static uint64_t l1_entries_for(const struct qcow2 *s, uint64_t size)
{
    return DIV_ROUND_UP(size, 1ULL << (s->cluster_bits + s->l2_bits));
}

/* The active L1 table grows to exactly entries entries, in new clusters. */
int qcow2_grow_l1(struct image *img, uint64_t entries, struct err *err)
{
    struct qcow2 *s = qcow2_state(img);
    uint64_t old_off = s->l1_offset, old_size = s->l1_size, bytes = entries * 8;
    uint64_t *l1;
    uint8_t *raw, hdr[12];
    int64_t at;
    int ret;

    if (entries <= s->l1_size) {
        return 0;
    }
    if (bytes > QCOW2_MAX_L1_BYTES) {
        return err_set(err, -EFBIG, "Failed to grow the L1 table: File too large");
    }
    at = qcow2_alloc_clusters(img, DIV_ROUND_UP(bytes, s->cluster_size), err);
    if (at < 0) {
        return (int)at;
    }
    ret = qcache_flush(img, &s->rc_cache, err);
    if (ret == 0) {
        ret = qcow2_check_overlap(img, (uint64_t)at, bytes, err);
    }
    if (ret < 0) {
        return ret;
    }
    raw = xcalloc(1, (size_t)round_up(bytes, 512));
    for (uint32_t i = 0; i < s->l1_size; i++) {
        put_be64(raw + (size_t)i * 8, s->l1[i]);
    }
    ret = file_pwrite(img->file, (uint64_t)at, raw, (size_t)bytes, err);
    free(raw);
    if (ret == 0) {
        ret = file_flush(img->file, err);
    }
    if (ret < 0) {
        return ret;
    }
    put_be32(hdr, (uint32_t)entries);
    put_be64(hdr + 4, (uint64_t)at);
    ret = qcow2_write_header_field(img, QH_L1_SIZE, hdr, sizeof(hdr), err);
    if (ret < 0) {
        return ret;
    }
    l1 = xcalloc(entries, sizeof(*l1));
    memcpy(l1, s->l1, (size_t)s->l1_size * 8);
    free(s->l1);
    s->l1 = l1;
    s->l1_size = (uint32_t)entries;
    s->l1_entries = (uint32_t)entries;
    s->l1_offset = (uint64_t)at;
    return qcow2_update_refcount(img, old_off, old_size * 8, -1, err);
}

/* L1 entries from entries on are cleared and their L2 tables freed; the table keeps its size. */
static int shrink_l1(struct image *img, uint64_t entries, struct err *err)
{
    struct qcow2 *s = qcow2_state(img);
    int ret;

    if (entries >= s->l1_size) {
        return 0;
    }
    ret = qcache_flush(img, &s->l2_cache, err);
    if (ret == 0) {
        ret = file_write_zeroes(img->file, s->l1_offset + entries * 8,
                                (s->l1_size - entries) * 8, false, err);
    }
    if (ret == 0) {
        ret = file_flush(img->file, err);
    }
    s->punch_freed = true;
    for (uint64_t i = s->l1_size; ret == 0 && i-- > entries;) {
        if (s->l1[i] & L1E_OFFSET_MASK) {
            ret = qcow2_update_refcount(img, s->l1[i] & L1E_OFFSET_MASK, 1, -1, err);
            s->l1[i] = 0;
        }
    }
    s->punch_freed = false;
    return ret;
}

static int shrink(struct image *img, uint64_t size, struct err *err)
{
    struct qcow2 *s = qcow2_state(img);
    uint64_t from = round_up(size, s->cluster_size);
    int64_t flen, last;
    int ret = 0;

    if (from < img->size) {
        ret = qcow2_zero_range(img, from, img->size - from, ZM_FULL_DISCARD, err);
        if (ret < 0) {
            err_prepend(err, "Failed to discard cropped clusters: ");
            return ret;
        }
    }
    ret = shrink_l1(img, l1_entries_for(s, size), err);
    if (ret < 0) {
        err_prepend(err, "Failed to reduce the number of L2 tables: ");
        return ret;
    }
    ret = qcow2_flush_locked(img, err);
    if (ret == 0) {
        ret = qcow2_shrink_reftable(img, err);
    }
    if (ret < 0) {
        err_prepend(err, "Failed to discard unused refblocks: ");
        return ret;
    }
    ret = qcow2_flush_locked(img, err);
    flen = ret < 0 ? ret : file_length(img->file, err);
    if (flen < 0) {
        return (int)flen;
    }
    last = qcow2_last_used_cluster(img, (uint64_t)flen, err);
    if (last < -1) {
        return (int)last;
    }
    if ((uint64_t)(last + 1) * s->cluster_size < (uint64_t)flen) {
        struct err e = { 0 };
        if (file_truncate(img->file, (uint64_t)(last + 1) * s->cluster_size, PREALLOC_OFF,
                          &e) < 0) {
            warn_printf("Failed to truncate the tail of the image: %s", e.msg);
        }
    }
    return 0;
}

/* falloc/full: refcount room first, the new data in one run after it, then the L2 entries. */
static int prealloc_data(struct image *img, uint64_t old, uint64_t size, enum prealloc mode,
                         struct err *err)
{
    struct qcow2 *s = qcow2_state(img);
    uint64_t cs = s->cluster_size;
    uint64_t nb_data = (round_up(size, cs) - round_down(old, cs)) / cs;
    uint64_t nb_l2 = DIV_ROUND_UP(nb_data, cs / s->l2_entry_size) + 1;
    int64_t flen = file_length(img->file, err), last, start, got;
    uint64_t base;
    int ret;

    if (flen < 0) {
        return (int)flen;
    }
    last = qcow2_last_used_cluster(img, (uint64_t)flen, err);
    if (last < -1) {
        return (int)last;
    }
    base = last >= 0 ? (uint64_t)(last + 1) * cs : round_up((uint64_t)flen, cs);
    start = qcow2_refcount_area(img, base, nb_data + nb_l2, true, 0, 0, err);
    if (start < 0) {
        err_prepend(err, "Failed to resize refcount structures: ");
        return (int)start;
    }
    got = qcow2_alloc_clusters_at(img, (uint64_t)start / cs, nb_data, err);
    if (got < 0) {
        err_prepend(err, "Failed to allocate data clusters: ");
        return (int)got;
    }
    if ((uint64_t)got != nb_data) {
        return err_set(err, -EIO, "Failed to allocate data clusters");
    }
    ret = file_truncate(img->file, (uint64_t)start + nb_data * cs, mode, err);
    if (ret < 0) {
        err_prepend(err, "Failed to resize underlying file: ");
        return ret;
    }
    return qcow2_map_prealloc(img, old, (uint64_t)start, nb_data, err);
}

static int grow(struct image *img, uint64_t size, enum prealloc prealloc, struct err *err)
{
    struct qcow2 *s = qcow2_state(img);
    uint64_t old = img->size, host_end = 0;
    int64_t flen;
    int ret = qcow2_grow_l1(img, l1_entries_for(s, size), err);

    if (ret < 0) {
        err_prepend(err, "Failed to grow the L1 table: ");
        return ret;
    }
    switch (prealloc) {
    case PREALLOC_OFF:
        break;
    case PREALLOC_METADATA:
        ret = qcow2_prealloc_metadata(img, old, size, &host_end, err);
        if (ret == 0) {
            struct file *f = s->data_file ? s->data_file : img->file;
            flen = file_length(f, err);
            ret = flen < 0 ? (int)flen : 0;
            if (ret == 0 && host_end > (uint64_t)flen) {
                ret = file_truncate(f, host_end, PREALLOC_OFF, err);
            }
        }
        break;
    case PREALLOC_FALLOC:
    case PREALLOC_FULL:
        if (s->data_file) {
            ret = qcow2_prealloc_metadata(img, old, size, &host_end, err);
            if (ret == 0) {
                ret = file_truncate(s->data_file, size, prealloc, err);
            }
        } else {
            ret = prealloc_data(img, old, size, prealloc, err);
        }
        break;
    }
    return ret;
}

/* [old, size) reads as zeros: zero subclusters, and zeros written for an unaligned head. */
static int zero_new_area(struct image *img, uint64_t old, uint64_t size, struct err *err)
{
    struct qcow2 *s = qcow2_state(img);
    uint64_t start = round_up(old, s->subcluster_size);
    int ret = 0;

    img->size = size;           /* the zeroing may end at the new end of the image */
    if (size > start) {
        ret = qcow2_zeroize(img, start, size - start, false, err);
        if (ret < 0) {
            err_clear(err);
            ret = err_set(err, ret, "Failed to zero out new clusters: %s", strerror(-ret));
        }
    }
    if (ret == 0 && start > old) {
        uint64_t len = MIN(start, size) - old;
        uint8_t *zero = xcalloc(1, (size_t)len);
        pthread_mutex_unlock(&img->lock);
        ret = qcow2_write(img, old, zero, (size_t)len, err);
        pthread_mutex_lock(&img->lock);
        free(zero);
        if (ret < 0) {
            err_prepend(err, "Failed to zero out the new area: ");
        }
    }
    if (ret < 0) {
        img->size = old;
    }
    return ret;
}

int qcow2_truncate(struct image *img, uint64_t size, bool allow_shrink, enum prealloc prealloc,
                   struct err *err)
{
    struct qcow2 *s = qcow2_state(img);
    uint64_t old;
    uint8_t be[8];
    int ret;

    (void)allow_shrink;         /* the engine asked for --shrink already */
    if (size % 512) {
        return err_set(err, -EINVAL, "The new size must be a multiple of 512");
    }
    if (s->version < 3 && s->nb_snapshots) {
        return err_set(err, -ENOTSUP, "Can't resize a v2 image which has snapshots");
    }
    if (s->crypt_method) {
        return err_set(err, -ENOTSUP, "imgsh cannot write encrypted qcow2 images");
    }
    if (size < img->size && prealloc != PREALLOC_OFF) {
        return err_set(err, -EINVAL, "Preallocation can't be used for shrinking an image");
    }
    pthread_mutex_lock(&img->lock);
    old = img->size;
    ret = size < old ? shrink(img, size, err) : grow(img, size, prealloc, err);
    if (ret == 0 && prealloc == PREALLOC_OFF && s->data_file) {
        ret = file_truncate(s->data_file, size, PREALLOC_OFF, err);
    }
    if (ret == 0 && size > old && prealloc != PREALLOC_FALLOC && prealloc != PREALLOC_FULL &&
        img->backing && img->backing->size > old) {
        /* the backing file must not show through the new area: it reads as zeros */
        ret = zero_new_area(img, old, size, err);
    }
    if (ret == 0) {
        ret = qcow2_flush_locked(img, err);
    }
    if (ret == 0) {
        put_be64(be, size);
        ret = qcow2_write_header_field(img, QH_SIZE, be, sizeof(be), err);
    }
    if (ret == 0) {
        img->size = size;
        qcow2_bitmaps_resize(img);  /* their tables take the new size when stored */
    }
    pthread_mutex_unlock(&img->lock);
    return ret;
}

/*
 * make_empty (commit): a v3 image without snapshots, bitmaps, encryption
 * or data file, whose metadata fits one refcount block, is rebuilt as
 * qemu rebuilds it: header, refcount table, one refcount block, an empty
 * L1 table, and nothing after. Any other image has every cluster
 * discarded (entries removed, space punched out).
 */
int qcow2_make_empty(struct image *img, struct err *err)
{
    struct qcow2 *s = qcow2_state(img);
    uint64_t cs = s->cluster_size, per_block = (cs * 8) >> s->refcount_order;
    uint64_t l1_clusters = DIV_ROUND_UP((uint64_t)s->l1_size * 8, cs);
    uint8_t hdr[20], be[8];
    int64_t got;
    int ret;

    pthread_mutex_lock(&img->lock);
    if (s->version < 3 || s->nb_snapshots || s->nb_bitmaps || 3 + l1_clusters > per_block ||
        s->crypt_method || s->data_file) {
        ret = qcow2_zero_range(img, 0, img->size, ZM_FULL_DISCARD, err);
        if (ret == 0) {
            ret = qcow2_flush_locked(img, err);
        }
        pthread_mutex_unlock(&img->lock);
        return ret;
    }
    ret = file_write_zeroes(img->file, s->l1_offset, l1_clusters * cs, false, err);
    if (ret == 0) {
        ret = file_write_zeroes(img->file, cs, (2 + l1_clusters) * cs, false, err);
    }
    if (ret == 0) {
        ret = file_flush(img->file, err);
    }
    /* the refcounts are wrong until the end: the image is dirty meanwhile */
    if (ret == 0) {
        put_be64(be, s->incompat | QCOW2_INCOMPAT_DIRTY);
        ret = qcow2_write_header_field(img, QH_INCOMPAT, be, sizeof(be), err);
    }
    if (ret < 0) {
        pthread_mutex_unlock(&img->lock);
        return ret;
    }
    memset(s->l1, 0, (size_t)s->l1_size * 8);
    qcow2_cache_free(s);
    ret = qcow2_cache_init(img, err);
    free(s->reftable);
    s->reftable_entries = cs / 8;
    s->reftable = xcalloc(s->reftable_entries, sizeof(uint64_t));
    s->reftable_clusters = 1;
    put_be64(hdr, 3 * cs);
    put_be64(hdr + 8, cs);
    put_be32(hdr + 16, 1);
    ret = qcow2_write_header_field(img, QH_L1_OFFSET, hdr, sizeof(hdr), err);
    if (ret == 0) {
        s->l1_offset = 3 * cs;
        s->reftable_offset = cs;
        put_be64(be, 2 * cs);
        ret = file_pwrite(img->file, cs, be, sizeof(be), err);
    }
    if (ret == 0) {
        ret = file_flush(img->file, err);
    }
    if (ret == 0) {
        s->reftable[0] = 2 * cs;
        s->free_cluster_index = 0;
        s->free_byte_offset = 0;
        got = qcow2_alloc_clusters(img, DIV_ROUND_UP(3 * cs + (uint64_t)s->l1_size * 8, cs), err);
        ret = got < 0 ? (int)got : qcow2_flush_locked(img, err);
    }
    if (ret == 0) {
        put_be64(be, s->incompat & ~QCOW2_INCOMPAT_DIRTY);
        ret = qcow2_write_header_field(img, QH_INCOMPAT, be, sizeof(be), err);
    }
    if (ret == 0) {
        struct err e = { 0 };
        if (file_truncate(img->file, (3 + l1_clusters) * cs, PREALLOC_OFF, &e) < 0) {
            warn_printf("%s", e.msg);
        }
        s->file_length = (3 + l1_clusters) * cs;
    }
    pthread_mutex_unlock(&img->lock);
    return ret;
}
