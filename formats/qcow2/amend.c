/*
 * amend.c - changing qcow2 options of an existing image (amend), with
 * qemu's checks, messages and order: every option is checked first (in
 * the order of the option list), then compat is raised, the data file
 * name changed, lazy refcounts switched, the size changed, and compat
 * lowered last.
 *
 * Raising compat to 1.1 rewrites the snapshot table in the v3 form when
 * some entry lacks the extra data v3 requires, then the header. Lowering
 * it to 0.10 needs 16-bit refcounts, no data file, no incompatible
 * features and snapshots of the current size; the dirty bit is cleared,
 * compatible and autoclear features dropped, zero clusters turned into
 * data clusters of zeros (or unallocated clusters without a backing
 * file), in the active tables and in every snapshot's, and the header
 * rewritten in the v2 form.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "../../engine/size.h"
#include "../../engine/util.h"
#include "qcow2_int.h"

const struct opt_desc qcow2_amend_opts[] = {
    { "size", OPT_SIZE, "Virtual disk size", NULL },
    { "compat", OPT_STRING, "Compatibility level (v2 [0.10] or v3 [1.1])", NULL },
    { "backing_file", OPT_STRING, "File name of a base image", NULL },
    { "backing_fmt", OPT_STRING, "Image format of the base image", NULL },
    { "data_file", OPT_STRING, "File name of an external data file", NULL },
    { "data_file_raw", OPT_BOOL, "The external data file must stay valid as a raw image", NULL },
    { "lazy_refcounts", OPT_BOOL, "Postpone refcount updates", NULL },
    { "refcount_bits", OPT_NUMBER, "Width of a reference count entry in bits", NULL },
    { "encrypt.keyslot", OPT_NUMBER, "Select a single keyslot to modify explicitly", NULL },
    { "encrypt.state", OPT_STRING, "Select new state of affected keyslots (active/inactive)",
      NULL },
    { "encrypt.old-secret", OPT_STRING, "Select all keyslots that match this password", NULL },
    { "encrypt.new-secret", OPT_STRING,
      "New secret to set in the matching keyslots. Empty string to erase", NULL },
    { "encrypt.iter-time", OPT_NUMBER, "Time to spend in PBKDF in milliseconds", NULL },
    { NULL, 0, NULL, NULL },
};

/* Zero clusters of the L2 tables of one L1 table become data clusters of zeros. */
static int expand_zero_clusters_in_l1(struct image *img, uint64_t *l1, uint32_t l1_size,
                                      bool active, struct err *err)
{
    struct qcow2 *s = qcow2_state(img);
    uint64_t entries = 1ULL << s->l2_bits, cs = s->cluster_size;
    uint8_t *copy = xmalloc((size_t)cs);
    int ret = 0;

    for (uint32_t i = 0; ret == 0 && i < l1_size; i++) {
        uint64_t l2_off = l1[i] & L1E_OFFSET_MASK, l2_rc = 1;
        bool dirty = false;
        uint8_t *t;

        if (!l2_off) {
            continue;
        }
        if (l2_off % cs) {
            ret = qcow2_signal_corruption(img, err, "L2 table offset %#" PRIx64 " unaligned "
                                          "(L1 index: %#" PRIx32 ")", l2_off, i);
            break;
        }
        ret = qcow2_get_refcount_locked(img, l2_off >> s->cluster_bits, &l2_rc, err);
        /* an inactive table is read and written directly, an active one through the cache */
        if (ret == 0) {
            ret = file_pread(img->file, l2_off, copy, (size_t)cs, err);
        }
        if (ret == 0 && active) {
            t = qcache_get(img, &s->l2_cache, l2_off, true, err);
            if (!t) {
                ret = -EIO;
            } else {
                memcpy(copy, t, (size_t)cs);
            }
        }
        for (uint64_t j = 0; ret == 0 && j < entries; j++) {
            uint64_t e = be64(copy + j * 8), off = e & L2E_OFFSET_MASK;

            if ((e & QCOW_OFLAG_COMPRESSED) || !(e & QCOW_OFLAG_ZERO)) {
                continue;
            }
            if (!off) {
                if (!img->backing) {
                    /* without a backing file, unallocated reads as zeros */
                    put_be64(copy + j * 8, 0);
                    dirty = true;
                    continue;
                }
                int64_t got = qcow2_alloc_clusters(img, 1, err);
                if (got < 0) {
                    ret = (int)got;
                    break;
                }
                off = (uint64_t)got;
                if (l2_rc != 1) {
                    ret = qcow2_update_refcount(img, off, 1, (int)l2_rc - 1, err);
                }
            }
            if (ret == 0) {
                ret = qcow2_check_overlap(img, off, cs, err);
            }
            if (ret == 0) {
                ret = file_write_zeroes(img->file, off, cs, false, err);
            }
            put_be64(copy + j * 8, off | (l2_rc == 1 ? QCOW_OFLAG_COPIED : 0));
            dirty = true;
        }
        if (ret == 0 && dirty) {
            if (active) {
                t = qcache_get(img, &s->l2_cache, l2_off, true, err);
                if (!t) {
                    ret = -EIO;
                } else {
                    memcpy(t, copy, (size_t)cs);
                    qcache_mark_dirty(&s->l2_cache, t);
                }
            } else {
                qcache_forget(&s->l2_cache, l2_off);
                ret = qcow2_check_overlap(img, l2_off, 0, err);
                if (ret == 0) {
                    ret = file_pwrite(img->file, l2_off, copy, (size_t)cs, err);
                }
            }
        }
    }
    free(copy);
    return ret;
}

static int expand_zero_clusters(struct image *img, struct err *err)
{
    struct qcow2 *s = qcow2_state(img);
    int ret = expand_zero_clusters_in_l1(img, s->l1, s->l1_size, true, err);

    for (uint32_t i = 0; ret == 0 && i < s->nb_snapshots; i++) {
        const struct qcow2_snapshot *sn = &s->snapshots[i];
        uint8_t *raw = xmalloc((size_t)sn->l1_size * 8 + 1);
        uint64_t *l1 = xcalloc(sn->l1_size ? sn->l1_size : 1, sizeof(*l1));

        ret = file_pread(img->file, sn->l1_offset, raw, (size_t)sn->l1_size * 8, err);
        for (uint32_t j = 0; ret == 0 && j < sn->l1_size; j++) {
            l1[j] = be64(raw + (size_t)j * 8);
        }
        if (ret == 0) {
            ret = expand_zero_clusters_in_l1(img, l1, sn->l1_size, false, err);
        }
        free(raw);
        free(l1);
    }
    if (ret == 0) {
        ret = qcow2_flush_locked(img, err);
    }
    return ret;
}

/* ------------------------------------------------------------------------ */
/* changing the refcount width (qemu's walk over the refcount table)        */

struct rc_walk {
    uint64_t *table;            /* the new refcount table */
    uint64_t index, size;       /* next entry to fill; entries in the table */
    uint8_t *block;             /* the new refcount block being filled */
    uint64_t per_block;         /* entries per new block */
    unsigned order;             /* the new refcount order */
    bool fill;                  /* second pass: fill and write the blocks */
    bool allocated;             /* first pass: something was allocated */
};

/* A new block is complete: first pass, make room for it; second, write it. */
static int finish_block(struct image *img, struct rc_walk *w, bool empty, struct err *err)
{
    struct qcow2 *s = qcow2_state(img);
    int ret = 0;

    if (!w->fill) {
        if (!empty && w->index >= w->size) {
            uint64_t n = round_up(w->index + 1, s->cluster_size / 8);
            if (n * 8 > QCOW2_MAX_REFTABLE_BYTES) {
                return err_set(err, -EFBIG, "The new reftable is too big");
            }
            w->table = xrealloc(w->table, (size_t)n * 8);
            memset(w->table + w->size, 0, (size_t)(n - w->size) * 8);
            w->size = n;
        }
        if (!empty && !w->table[w->index]) {
            int64_t got = qcow2_alloc_clusters(img, 1, err);
            if (got < 0) {
                err_prepend(err, "Failed to allocate refblock: ");
                return (int)got;
            }
            w->table[w->index] = (uint64_t)got;
            w->allocated = true;
        }
    } else if (w->index < w->size && w->table[w->index]) {
        ret = qcow2_check_overlap(img, w->table[w->index], s->cluster_size, err);
        if (ret == 0) {
            ret = file_pwrite(img->file, w->table[w->index], w->block, (size_t)s->cluster_size,
                              err);
        }
    }
    w->index++;
    return ret;
}

/* One pass over every refcount of the image, regrouped into blocks of the new width. */
static int walk_refcounts(struct image *img, struct rc_walk *w, struct err *err)
{
    struct qcow2 *s = qcow2_state(img);
    uint64_t per_old = (s->cluster_size * 8) >> s->refcount_order, fill = 0;
    uint64_t new_bits = 1ULL << w->order;
    bool empty = true;
    int ret;

    w->index = 0;
    if (w->fill) {
        memset(w->block, 0, (size_t)s->cluster_size);   /* only non-zero counts are set */
    }
    for (uint64_t ti = 0; ti < s->reftable_entries; ti++) {
        uint64_t off = s->reftable[ti] & L1E_OFFSET_MASK;
        const uint8_t *blk = NULL;

        if (off % s->cluster_size) {
            return qcow2_signal_corruption(img, err, "Refblock offset %#" PRIx64 " unaligned "
                                           "(reftable index: %#" PRIx64 ")", off, ti);
        }
        for (uint64_t i = 0; i < per_old;) {
            uint64_t rc;

            if (fill >= w->per_block) {
                ret = finish_block(img, w, empty, err);
                if (ret < 0) {
                    return ret;
                }
                if (w->fill) {
                    memset(w->block, 0, (size_t)s->cluster_size);
                }
                fill = 0;
                empty = true;
                blk = NULL;     /* allocating may have evicted it */
            }
            if (!off) {
                /* no block: a run of zeros up to the end of this block or of the new one */
                uint64_t n = MIN(per_old - i, w->per_block - fill);
                fill += n;
                i += n;
                continue;
            }
            if (!blk && !(blk = qcache_get(img, &s->rc_cache, off, true, err))) {
                return -EIO;
            }
            rc = qcow2_rc_get(s->refcount_order, blk, i);
            if (new_bits < 64 && (rc >> new_bits)) {
                return err_set(err, -EINVAL, "Cannot decrease refcount entry width to %u bits: "
                               "Cluster at offset %#" PRIx64 " has a refcount of %" PRIu64,
                               (unsigned)new_bits, (ti * per_old + i) << s->cluster_bits, rc);
            }
            if (w->fill && rc) {
                qcow2_rc_set(w->order, w->block, fill, rc);
            }
            fill++;
            i++;
            empty = empty && rc == 0;
        }
    }
    if (fill > 0) {
        ret = finish_block(img, w, empty, err);
        if (ret < 0) {
            return ret;
        }
    }
    return 0;
}

static int change_refcount_order(struct image *img, unsigned order, struct err *err)
{
    struct qcow2 *s = qcow2_state(img);
    struct rc_walk w = { 0 };
    uint64_t table_off = 0, table_alloc = 0, *old_table;
    uint64_t old_entries, old_off;
    uint32_t old_clusters, old_order;
    uint8_t *raw;
    int ret;

    uint64_t unused;

    /* the refcount table is loaded on first use */
    ret = qcow2_get_refcount_locked(img, 0, &unused, err);
    if (ret < 0) {
        return ret;
    }
    w.order = order;
    w.per_block = (s->cluster_size * 8) >> order;
    /* allocate until a pass allocates nothing more */
    do {
        w.allocated = false;
        ret = walk_refcounts(img, &w, err);
        if (ret < 0) {
            goto done;
        }
        if (w.allocated) {
            int64_t got;
            if (table_off) {
                ret = qcow2_update_refcount(img, table_off, table_alloc * 8, -1, err);
                if (ret < 0) {
                    goto done;
                }
            }
            got = qcow2_alloc_clusters(img, DIV_ROUND_UP(w.size * 8, s->cluster_size), err);
            if (got < 0) {
                ret = (int)got;
                goto done;
            }
            table_off = (uint64_t)got;
            table_alloc = w.size;
        }
    } while (w.allocated);
    /* then fill and write the blocks, and the table */
    w.fill = true;
    w.block = xcalloc(1, (size_t)s->cluster_size);
    ret = walk_refcounts(img, &w, err);
    if (ret < 0) {
        goto done;
    }
    ret = qcow2_check_overlap(img, table_off, w.size * 8, err);
    if (ret < 0) {
        goto done;
    }
    raw = xmalloc((size_t)w.size * 8);
    for (uint64_t i = 0; i < w.size; i++) {
        put_be64(raw + i * 8, w.table[i]);
    }
    ret = file_pwrite(img->file, table_off, raw, (size_t)w.size * 8, err);
    free(raw);
    if (ret == 0) {
        ret = qcache_flush(img, &s->rc_cache, err);
    }
    if (ret < 0) {
        goto done;
    }
    old_order = s->refcount_order;
    old_entries = s->reftable_entries;
    old_off = s->reftable_offset;
    old_clusters = s->reftable_clusters;
    s->refcount_order = order;
    s->reftable_offset = table_off;
    s->reftable_clusters = (uint32_t)(w.size * 8 / s->cluster_size);
    ret = qcow2_update_header(img, img->backing_file, s->backing_fmt, err);
    if (ret < 0) {
        s->refcount_order = old_order;
        s->reftable_offset = old_off;
        s->reftable_clusters = old_clusters;
        goto done;
    }
    /* the new structures count from now on; the old blocks and table are freed */
    old_table = s->reftable;
    s->reftable = w.table;
    s->reftable_entries = w.size;
    for (size_t i = 0; i < s->rc_cache.nslots; i++) {
        s->rc_cache.slots[i].offset = 0;    /* old-width blocks must not be read again */
    }
    w.table = old_table;
    w.size = old_entries;
    table_off = old_off;
    table_alloc = old_entries;
done:
    if (w.table) {
        /* after success: the old blocks and table; after failure: the new ones */
        for (uint64_t i = 0; i < w.size; i++) {
            if (w.table[i] & L1E_OFFSET_MASK) {
                qcow2_update_refcount(img, w.table[i] & L1E_OFFSET_MASK, 1, -1, NULL);
            }
        }
        if (table_off) {
            qcow2_update_refcount(img, table_off, table_alloc * 8, -1, NULL);
        }
    }
    free(w.table);
    free(w.block);
    return ret;
}

static int downgrade(struct image *img, struct err *err)
{
    struct qcow2 *s = qcow2_state(img);
    int ret;

    if (s->refcount_order != 4) {
        return err_set(err, -ENOTSUP, "compat=0.10 requires refcount_bits=16");
    }
    if (s->data_file) {
        return err_set(err, -ENOTSUP, "Cannot downgrade an image with a data file");
    }
    for (uint32_t i = 0; i < s->nb_snapshots; i++) {
        const struct qcow2_snapshot *sn = &s->snapshots[i];
        if (sn->vm_state_size > UINT32_MAX ||
            (sn->disk_size != UINT64_MAX && sn->disk_size != img->size)) {
            return err_set(err, -ENOTSUP, "Internal snapshots prevent downgrade of image");
        }
    }
    if (s->nb_bitmaps) {
        return err_set(err, -ENOTSUP, "imgsh cannot downgrade images with persistent bitmaps "
                       "yet");
    }
    if (s->incompat & QCOW2_INCOMPAT_DIRTY) {
        s->incompat &= ~QCOW2_INCOMPAT_DIRTY;
        s->marked_dirty = false;
    }
    if (s->incompat & ~QCOW2_INCOMPAT_COMPRESSION) {
        return err_set(err, -ENOTSUP, "Cannot downgrade an image with incompatible features "
                       "%#" PRIx64 " set", (uint64_t)(s->incompat & ~QCOW2_INCOMPAT_COMPRESSION));
    }
    s->compat = 0;
    s->autoclear = 0;
    ret = expand_zero_clusters(img, err);
    if (ret < 0) {
        err_prepend(err, "Failed to turn zero into data clusters: ");
        return ret;
    }
    if (s->compression_type) {
        /* zstd: fine as long as nothing is compressed; zlib is the default again */
        for (uint32_t i = 0; i < s->l1_size; i++) {
            uint64_t l2_off = s->l1[i] & L1E_OFFSET_MASK;
            const uint8_t *t;
            if (!l2_off) {
                continue;
            }
            t = qcache_get(img, &s->l2_cache, l2_off, true, err);
            if (!t) {
                return -EIO;
            }
            for (uint64_t j = 0; j < (1ULL << s->l2_bits); j++) {
                if (be64(t + j * s->l2_entry_size) & QCOW_OFLAG_COMPRESSED) {
                    return err_set(err, -ENOTSUP, "Cannot downgrade an image with zstd "
                                   "compression type and existing compressed clusters");
                }
            }
        }
        s->incompat &= ~QCOW2_INCOMPAT_COMPRESSION;
        s->compression_type = 0;
    }
    s->version = 2;
    ret = qcow2_update_header(img, img->backing_file, s->backing_fmt, err);
    if (ret < 0) {
        s->version = 3;
        err_prepend(err, "Failed to update the image header: ");
    }
    return ret;
}

static int upgrade(struct image *img, struct err *err)
{
    struct qcow2 *s = qcow2_state(img);
    int ret = 0;

    for (uint32_t i = 0; i < s->nb_snapshots; i++) {
        if (s->snapshots[i].extra_size < 16) {
            ret = qcow2_write_snapshots(img, err);
            if (ret < 0) {
                err_prepend(err, "Failed to update the snapshot table: ");
                return ret;
            }
            break;
        }
    }
    s->version = 3;
    s->refcount_order = 4;
    ret = qcow2_update_header(img, img->backing_file, s->backing_fmt, err);
    if (ret < 0) {
        s->version = 2;
        err_prepend(err, "Failed to update the image header: ");
    }
    return ret;
}

int qcow2_amend(struct image *img, struct opts *o, bool force, struct err *err)
{
    struct qcow2 *s = qcow2_state(img);
    unsigned version = s->version;
    const char *compat = opts_get(o, "compat"), *v;
    const char *backing = opts_get(o, "backing_file"), *backing_fmt = opts_get(o, "backing_fmt");
    const char *data_file = opts_get(o, "data_file");
    bool lazy = (s->compat & QCOW2_COMPAT_LAZY_REFCOUNTS) != 0, raw = false;
    uint64_t size = 0, bits = 1ULL << s->refcount_order;
    int ret;

    (void)force;
    /* every option first, in the list's order */
    for (const struct opt_desc *d = qcow2_amend_opts; d->name; d++) {
        if (!(v = opts_get(o, d->name))) {
            continue;
        }
        if (!strcmp(d->name, "size")) {
            ret = opts_get_size(o, "size", 0, &size, err);
        } else if (!strcmp(d->name, "compat")) {
            if (!strcmp(compat, "0.10") || !strcmp(compat, "v2")) {
                version = 2;
            } else if (!strcmp(compat, "1.1") || !strcmp(compat, "v3")) {
                version = 3;
            } else {
                return err_set(err, -EINVAL, "Unknown compatibility level %s", compat);
            }
            ret = 0;
        } else if (!strncmp(d->name, "encrypt.", 8)) {
            if (!s->crypt_method) {
                return err_set(err, -EINVAL, "Can't amend encryption options - encryption not "
                               "present");
            }
            if (s->crypt_method != QCOW2_CRYPT_LUKS) {
                return err_set(err, -ENOTSUP, "Only LUKS encryption options can be amended");
            }
            return err_set(err, -ENOTSUP, "imgsh cannot change LUKS key slots yet");
        } else if (!strcmp(d->name, "lazy_refcounts")) {
            ret = opts_get_bool(o, "lazy_refcounts", lazy, &lazy, err);
        } else if (!strcmp(d->name, "refcount_bits")) {
            ret = opts_get_number(o, "refcount_bits", bits, &bits, err);
            if (ret == 0 && (bits == 0 || bits > 64 || (bits & (bits - 1)))) {
                return err_set(err, -EINVAL, "Refcount width must be a power of two and may "
                               "not exceed 64 bits");
            }
        } else if (!strcmp(d->name, "data_file")) {
            if (!(s->incompat & QCOW2_INCOMPAT_DATA_FILE)) {
                return err_set(err, -EINVAL, "data-file can only be set for images that use an "
                               "external data file");
            }
            ret = 0;
        } else if (!strcmp(d->name, "data_file_raw")) {
            raw = (s->autoclear & QCOW2_AUTOCLEAR_DATA_FILE_RAW) != 0;
            ret = opts_get_bool(o, "data_file_raw", raw, &raw, err);
            if (ret == 0 && raw && !(s->autoclear & QCOW2_AUTOCLEAR_DATA_FILE_RAW)) {
                return err_set(err, -EINVAL, "data-file-raw cannot be set on existing images");
            }
        } else {
            ret = 0;            /* backing_file, backing_fmt: below */
        }
        if (ret < 0) {
            return ret;
        }
    }
    if (s->crypt_method) {
        return err_set(err, -ENOTSUP, "imgsh cannot write encrypted qcow2 images");
    }
    pthread_mutex_lock(&img->lock);
    ret = version > s->version ? upgrade(img, err) : 0;
    if (ret == 0 && data_file) {
        free(s->data_file_name);
        s->data_file_name = *data_file ? xstrdup(data_file) : NULL;
        ret = qcow2_update_header(img, img->backing_file, s->backing_fmt, err);
    }
    if (ret == 0 && opts_get(o, "data_file_raw") && !raw &&
        (s->autoclear & QCOW2_AUTOCLEAR_DATA_FILE_RAW)) {
        s->autoclear &= ~QCOW2_AUTOCLEAR_DATA_FILE_RAW;
        ret = qcow2_update_header(img, img->backing_file, s->backing_fmt, err);
    }
    if (ret == 0 && ((backing && strcmp(backing, img->backing_file ? img->backing_file : "")) ||
                     (backing_fmt && strcmp(backing_fmt, s->backing_fmt ? s->backing_fmt : "")))) {
        ret = err_set(err, -EINVAL, "Cannot amend the backing file\n"
                      "You can use '%s rebase' instead.", prog_name);
    }
    if (ret == 0 && lazy != ((s->compat & QCOW2_COMPAT_LAZY_REFCOUNTS) != 0)) {
        if (lazy && version < 3) {
            ret = err_set(err, -EINVAL, "Lazy refcounts only supported with compatibility "
                          "level 1.1 and above (use compat=1.1 or greater)");
        } else {
            if (!lazy && (s->incompat & QCOW2_INCOMPAT_DIRTY)) {
                ret = qcow2_flush_locked(img, err);
                s->incompat &= ~QCOW2_INCOMPAT_DIRTY;
                s->marked_dirty = false;
            }
            s->compat ^= QCOW2_COMPAT_LAZY_REFCOUNTS;
            if (ret == 0) {
                ret = qcow2_update_header(img, img->backing_file, s->backing_fmt, err);
            }
            if (ret < 0) {
                s->compat ^= QCOW2_COMPAT_LAZY_REFCOUNTS;
                err_prepend(err, "Failed to update the image header: ");
            }
        }
    }
    if (ret == 0 && bits != (1ULL << s->refcount_order)) {
        if (version < 3 && bits != 16) {
            ret = err_set(err, -EINVAL, "Refcount widths other than 16 bits require "
                          "compatibility level 1.1 or above (use compat=1.1 or greater)");
        } else {
            unsigned order = 0;
            while ((1ULL << order) < bits) {
                order++;
            }
            ret = change_refcount_order(img, order, err);
        }
    }
    pthread_mutex_unlock(&img->lock);
    if (ret == 0 && size && size != img->size) {
        ret = qcow2_truncate(img, size, true, PREALLOC_OFF, err);
    }
    pthread_mutex_lock(&img->lock);
    if (ret == 0 && version < s->version) {
        ret = downgrade(img, err);
    }
    if (ret == 0) {
        ret = qcow2_flush_locked(img, err);
    }
    pthread_mutex_unlock(&img->lock);
    return ret;
}
