/*
 * write.c - writing qcow2 images: guest writes with copy-on-write, zero
 * writes, discard, compressed writes, flush, and the header fields that
 * change while an image is in use (dirty and corrupt bits).
 *
 * Order of updates (crash safety, as in qemu): guest data is written to
 * its new cluster first; the cluster's refcount is raised in the refcount
 * cache, and the L2 entry that points at it is changed in the L2 cache,
 * which may reach the file only after the refcount cache (cache.c); a new
 * L2 table is on disk before the L1 entry that points at it; a cluster an
 * L2 entry stops using is freed only after that entry reaches the file.
 * With lazy refcounts (compat=1.1) the image is marked dirty before the
 * first change and refcounts are written lazily; the dirty bit is cleared
 * when the image is closed cleanly.
 *
 * Copy-on-write: a cluster that cannot be written in place (unallocated,
 * zero, compressed, or shared with a snapshot) gets a new cluster, and the
 * parts of it the request does not cover are filled with what the guest
 * read there before (backing file, zeros, old data). With extended L2
 * entries only the subclusters the request touches are written.
 *
 * Every guest write, zero write and discard runs with img->lock held, so
 * requests on one image are serialised against each other's metadata
 * changes; reads only wait while a write holds the lock.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../engine/size.h"
#include "../../engine/util.h"
#include "qcow2_int.h"

#define L2_BITMAP_ALL_ZERO 0xffffffff00000000ULL
#define L2_BITMAP_ALL_ALLOC 0x00000000ffffffffULL

/* ------------------------------------------------------------------------ */
/* header fields and overlap checks                                          */

int qcow2_write_header_field(struct image *img, unsigned at, const void *bytes, size_t len,
                             struct err *err)
{
    int ret = file_pwrite(img->file, at, bytes, len, err);

    if (ret == 0) {
        ret = file_flush(img->file, err);
    }
    return ret;
}

static int write_incompat(struct image *img, uint64_t incompat, struct err *err)
{
    uint8_t be[8];

    put_be64(be, incompat);
    return qcow2_write_header_field(img, QH_INCOMPAT, be, sizeof(be), err);
}

/* Lazy refcounts: mark the image dirty before its first change. */
static int begin_change(struct image *img, struct err *err)
{
    struct qcow2 *s = qcow2_state(img);
    int ret;

    if (s->version < 3 || !(s->compat & QCOW2_COMPAT_LAZY_REFCOUNTS) || s->marked_dirty) {
        return 0;
    }
    ret = write_incompat(img, s->incompat | QCOW2_INCOMPAT_DIRTY, err);
    if (ret == 0) {
        s->incompat |= QCOW2_INCOMPAT_DIRTY;
        s->marked_dirty = true;
    }
    return ret;
}

static bool lazy(const struct qcow2 *s)
{
    return s->marked_dirty;
}

static bool overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
    return alen && blen && a < b + blen && b < a + alen;
}

int qcow2_check_overlap_ign(struct image *img, uint64_t offset, uint64_t len, unsigned ignore,
                            struct err *err)
{
    struct qcow2 *s = qcow2_state(img);
    const char *what = NULL;
    uint64_t cs = s->cluster_size;

    /* the first kind found, in qemu's order, names the overlap */
    if (!len) {
        return 0;
    }
    if (!(ignore & QOL_HEADER) && overlaps(offset, len, 0, cs)) {
        what = "qcow2_header";
    } else if (!(ignore & QOL_ACTIVE_L1) && s->l1_size &&
               overlaps(offset, len, s->l1_offset, (uint64_t)s->l1_size * 8)) {
        what = "active L1 table";
    }
    for (uint32_t i = 0; !what && !(ignore & QOL_ACTIVE_L2) && i < s->l1_size; i++) {
        uint64_t l2 = s->l1[i] & L1E_OFFSET_MASK;
        if (l2 && overlaps(offset, len, l2, cs)) {
            what = "active L2 table";
        }
    }
    if (!what && !(ignore & QOL_REFTABLE) &&
        overlaps(offset, len, s->reftable_offset, (uint64_t)s->reftable_clusters * cs)) {
        what = "refcount table";
    }
    for (size_t i = 0; !what && !(ignore & QOL_REFBLOCK) && s->reftable &&
         i < s->reftable_entries; i++) {
        uint64_t rb = s->reftable[i] & ~511ULL;
        if (rb && overlaps(offset, len, rb, cs)) {
            what = "refcount block";
        }
    }
    if (!what && !(ignore & QOL_SNAPSHOTS) && s->snapshots_size &&
        overlaps(offset, len, s->snapshots_offset, s->snapshots_size)) {
        what = "snapshot table";
    }
    for (uint32_t i = 0; !what && !(ignore & QOL_INACTIVE_L1) && s->snapshots &&
         i < s->nb_snapshots; i++) {
        if (s->snapshots[i].l1_size && overlaps(offset, len, s->snapshots[i].l1_offset,
                                                (uint64_t)s->snapshots[i].l1_size * 8)) {
            what = "inactive L1 table";
        }
    }
    if (!what && !(ignore & QOL_BITMAP_DIR) && s->has_bitmaps_ext &&
        overlaps(offset, len, s->bitmap_dir_offset, s->bitmap_dir_size)) {
        what = "bitmap directory";
    }
    if (what) {
        return qcow2_signal_corruption(img, err, "Preventing invalid write on metadata "
                                       "(overlaps with %s)", what);
    }
    return 0;
}

int qcow2_check_overlap(struct image *img, uint64_t offset, uint64_t len, struct err *err)
{
    return qcow2_check_overlap_ign(img, offset, len, 0, err);
}

/* Write guest data at a host offset of the data file, after the overlap check. */
static int data_pwrite(struct image *img, uint64_t host, const void *buf, uint64_t len,
                       struct err *err)
{
    struct qcow2 *s = qcow2_state(img);
    int ret;

    if (!len) {
        return 0;
    }
    if (!s->data_file) {
        ret = qcow2_check_overlap(img, host, len, err);
        if (ret < 0) {
            return ret;
        }
    }
    ret = file_pwrite(qcow2_data_file(img), host, buf, (size_t)len, err);
    if (ret == 0 && !s->data_file && host + len > s->file_length) {
        s->file_length = host + len;
    }
    return ret;
}

/* ------------------------------------------------------------------------ */
/* L2 tables                                                                  */

static uint64_t l2_entry(const struct qcow2 *s, const uint8_t *t, uint64_t i)
{
    return be64(t + i * s->l2_entry_size);
}

static uint64_t l2_bitmap(const struct qcow2 *s, const uint8_t *t, uint64_t i)
{
    return s->extended_l2 ? be64(t + i * s->l2_entry_size + 8) : 0;
}

static void set_l2(const struct qcow2 *s, uint8_t *t, uint64_t i, uint64_t e, uint64_t bm)
{
    put_be64(t + i * s->l2_entry_size, e);
    if (s->extended_l2) {
        put_be64(t + i * s->l2_entry_size + 8, bm);
    }
}

/* The L2 table at l2_off, from the cache (valid until the next cache call). */
static uint8_t *l2_table(struct image *img, uint64_t l2_off, struct err *err)
{
    struct qcow2 *s = qcow2_state(img);
    uint8_t *t = qcache_get(img, &s->l2_cache, l2_off, true, err);

    if (!t && !err_isset(err)) {
        err_set(err, -EIO, "Could not read L2 table at %#" PRIx64, l2_off);
    }
    return t;
}

static int write_l1_entry(struct image *img, uint64_t i, struct err *err)
{
    struct qcow2 *s = qcow2_state(img);
    uint8_t be[8];

    put_be64(be, s->l1[i]);
    return file_pwrite(img->file, s->l1_offset + i * 8, be, 8, err);
}

/*
 * The L2 table of L1 index i, ready to be changed: allocated when missing,
 * copied when shared with a snapshot. Sets *l2_off.
 */
static int writable_l2(struct image *img, uint64_t i, uint64_t *l2_off, struct err *err)
{
    struct qcow2 *s = qcow2_state(img);
    uint64_t e = s->l1[i], old = e & L1E_OFFSET_MASK;
    uint8_t *copy = NULL, *t;
    int64_t got;
    int ret;

    if (i >= s->l1_size) {
        return qcow2_signal_corruption(img, err, "L1 index %#" PRIx64 " beyond the L1 table", i);
    }
    if (old % s->cluster_size) {
        return qcow2_signal_corruption(img, err, "L2 table offset %#" PRIx64 " unaligned (L1 "
                                       "index: %#" PRIx64 ")", old, i);
    }
    if (old && (e & QCOW_OFLAG_COPIED)) {
        *l2_off = old;
        return 0;
    }
    if (old) {
        t = l2_table(img, old, err);
        if (!t) {
            return -EIO;
        }
        copy = xmalloc(s->cluster_size);
        memcpy(copy, t, s->cluster_size);
    }
    got = qcow2_alloc_clusters(img, 1, err);
    if (got < 0) {
        free(copy);
        return (int)got;
    }
    t = qcache_get(img, &s->l2_cache, (uint64_t)got, false, err);
    if (!t) {
        free(copy);
        return -EIO;
    }
    if (copy) {
        memcpy(t, copy, s->cluster_size);
        free(copy);
    }
    qcache_mark_dirty(&s->l2_cache, t);
    ret = lazy(s) ? 0 : qcache_set_dependency(img, &s->l2_cache, &s->rc_cache, err);
    /* the table is on disk before the L1 entry points at it */
    if (ret == 0) {
        ret = qcache_flush(img, &s->l2_cache, err);
    }
    if (ret < 0) {
        return ret;
    }
    s->l1[i] = (uint64_t)got | QCOW_OFLAG_COPIED;
    ret = write_l1_entry(img, i, err);
    if (ret == 0 && old) {
        ret = qcow2_update_refcount(img, old, 1, -1, err);
    }
    *l2_off = (uint64_t)got;
    return ret;
}

/* After changing L2 entries: refcount increments must reach the file first. */
static int l2_changed(struct image *img, const uint8_t *t, struct err *err)
{
    struct qcow2 *s = qcow2_state(img);

    qcache_mark_dirty(&s->l2_cache, t);
    if (lazy(s) || s->data_file) {
        return 0;
    }
    return qcache_set_dependency(img, &s->l2_cache, &s->rc_cache, err);
}

/* Free what old L2 entries referenced, once the new entries are written first. */
static int free_old_entries(struct image *img, const uint64_t *old, uint64_t n,
                            struct err *err)
{
    struct qcow2 *s = qcow2_state(img);
    int ret = 0;

    for (uint64_t i = 0; i < n && ret == 0; i++) {
        if (!old[i]) {
            continue;
        }
        if (!lazy(s)) {
            ret = qcache_set_dependency(img, &s->rc_cache, &s->l2_cache, err);
        }
        if (ret == 0) {
            ret = qcow2_free_l2_entry(img, old[i], err);
        }
    }
    return ret;
}

/* Can the cluster of entry e be written where it is? */
static bool in_place(const struct qcow2 *s, uint64_t e)
{
    if (e & QCOW_OFLAG_COMPRESSED) {
        return false;
    }
    return (e & QCOW_OFLAG_COPIED) && ((e & L2E_OFFSET_MASK) || s->data_file);
}

/* Subcluster mask of [a, b) within one cluster (offsets relative to the cluster). */
static uint64_t sc_mask(const struct qcow2 *s, uint64_t a, uint64_t b)
{
    unsigned first = (unsigned)(a >> s->subcluster_bits);
    unsigned last = (unsigned)((b - 1) >> s->subcluster_bits);
    return ((last == 31 ? 0xffffffffULL : (1ULL << (last + 1)) - 1) >> first) << first;
}

/*
 * Fill buf with the guest data of [off, off+len) as it reads now (for
 * copy-on-write); past the end of the image, zeros.
 */
static int cow_read(struct image *img, uint64_t off, uint8_t *buf, uint64_t len,
                    struct err *err)
{
    uint64_t have = off < img->size ? MIN(len, img->size - off) : 0;

    memset(buf + have, 0, (size_t)(len - have));
    return have ? qcow2_read_locked(img, off, buf, (size_t)have, err) : 0;
}

/*
 * Write [off, off+len) into the clusters of one run starting at guest
 * offset ws and ending at we (ws <= off, off+len <= we), at host offset
 * host (of guest offset ws): the parts outside the request are filled with
 * the current guest data first.
 */
static int write_run(struct image *img, uint64_t ws, uint64_t we, uint64_t host,
                     uint64_t off, const uint8_t *buf, uint64_t len, struct err *err)
{
    uint64_t head = off - ws, tail = we - (off + len);
    uint8_t *cow = NULL;
    int ret = 0;

    if (head || tail) {
        cow = xmalloc_io((size_t)MAX(head, tail));
    }
    if (head) {
        ret = cow_read(img, ws, cow, head, err);
        if (ret == 0) {
            ret = data_pwrite(img, host, cow, head, err);
        }
    }
    if (ret == 0) {
        ret = data_pwrite(img, host + head, buf, len, err);
    }
    if (ret == 0 && tail) {
        ret = cow_read(img, off + len, cow, tail, err);
        if (ret == 0) {
            ret = data_pwrite(img, host + head + len, cow, tail, err);
        }
    }
    free(cow);
    return ret;
}

/* Write [off, off+len), within one cluster that is written in place. */
static int write_in_place(struct image *img, uint8_t **t, uint64_t l2_off, uint64_t idx,
                          uint64_t off, const uint8_t *buf, uint64_t len, struct err *err)
{
    struct qcow2 *s = qcow2_state(img);
    uint64_t cs = s->cluster_size, cstart = round_down(off, cs);
    uint64_t e = l2_entry(s, *t, idx), bm = l2_bitmap(s, *t, idx);
    uint64_t host = s->data_file && !(e & L2E_OFFSET_MASK) ? cstart : e & L2E_OFFSET_MASK;
    uint64_t ws = off, we = off + len;
    int ret;

    if (host % cs) {
        return qcow2_signal_corruption(img, err, "Cluster allocation offset %#" PRIx64
                                       " unaligned (L2 offset: %#" PRIx64 ", L2 index: %#"
                                       PRIx64 ")", host, l2_off, idx);
    }
    if (s->extended_l2) {
        uint64_t m = sc_mask(s, off - cstart, off + len - cstart);
        uint64_t first = (off - cstart) >> s->subcluster_bits;
        uint64_t last = (off + len - 1 - cstart) >> s->subcluster_bits;
        if (!(bm & (1ULL << first))) {
            ws = round_down(off, s->subcluster_size);
        }
        if (!(bm & (1ULL << last))) {
            we = MIN(round_down(off + len - 1, s->subcluster_size) + s->subcluster_size,
                     cstart + cs);
        }
        ret = write_run(img, ws, we, host + (ws - cstart), off, buf, len, err);
        if (ret < 0 || (bm & m) == m) {
            return ret;
        }
        bm = (bm | m) & ~(m << 32);
    } else if (e & QCOW_OFLAG_ZERO) {
        /* a preallocated zero cluster: becomes data, the rest of it zeros */
        ret = write_run(img, cstart, cstart + cs, host, off, buf, len, err);
        if (ret < 0) {
            return ret;
        }
        e &= ~QCOW_OFLAG_ZERO;
    } else {
        return data_pwrite(img, host + (off - cstart), buf, len, err);
    }
    *t = l2_table(img, l2_off, err);
    if (!*t) {
        return -EIO;
    }
    set_l2(s, *t, idx, e, bm);
    return l2_changed(img, *t, err);
}

/*
 * Write [off, off+len) (within one L2 table) into n >= 1 consecutive
 * clusters that all need new host clusters, starting at L2 index idx.
 */
static int write_allocating(struct image *img, uint64_t l2_off, uint64_t idx, uint64_t n,
                            uint64_t off, const uint8_t *buf, uint64_t len, struct err *err)
{
    struct qcow2 *s = qcow2_state(img);
    uint64_t cs = s->cluster_size;
    uint64_t cstart = round_down(off, cs), cend = cstart + n * cs;
    uint64_t ws = cstart, we = cend, host;
    uint64_t *old_e = xcalloc(n, sizeof(uint64_t)), *old_bm = xcalloc(n, sizeof(uint64_t));
    uint64_t *freed = xcalloc(n, sizeof(uint64_t));
    uint8_t *t = l2_table(img, l2_off, err);
    int ret = 0;

    if (!t) {
        ret = -EIO;
        goto out;
    }
    for (uint64_t i = 0; i < n; i++) {
        old_e[i] = l2_entry(s, t, idx + i);
        old_bm[i] = l2_bitmap(s, t, idx + i);
    }
    if (s->extended_l2) {
        /* only touched subclusters, unless the old cluster's data must be copied whole */
        if (!(old_e[0] & (QCOW_OFLAG_COMPRESSED | L2E_OFFSET_MASK))) {
            ws = round_down(off, s->subcluster_size);
        }
        if (!(old_e[n - 1] & (QCOW_OFLAG_COMPRESSED | L2E_OFFSET_MASK))) {
            we = MIN(round_down(off + len - 1, s->subcluster_size) + s->subcluster_size, cend);
        }
    }
    if (s->data_file) {
        host = cstart;          /* external data: guest offset = host offset */
    } else {
        int64_t got = qcow2_alloc_clusters(img, n, err);
        if (got < 0) {
            ret = (int)got;
            goto out;
        }
        host = (uint64_t)got;
    }
    ret = write_run(img, ws, we, host + (ws - cstart), off, buf, len, err);
    if (ret < 0) {
        goto out;
    }
    t = l2_table(img, l2_off, err);
    if (!t) {
        ret = -EIO;
        goto out;
    }
    for (uint64_t i = 0; i < n; i++) {
        uint64_t c0 = cstart + i * cs;
        uint64_t e = (host + i * cs) | QCOW_OFLAG_COPIED, bm = 0;

        if (s->extended_l2) {
            uint64_t a = MAX(ws, c0) - c0, b = MIN(we, c0 + cs) - c0;
            uint64_t alloc = sc_mask(s, a, b);
            if (old_e[i] & QCOW_OFLAG_COMPRESSED) {
                alloc = L2_BITMAP_ALL_ALLOC;
            } else if (old_e[i] & L2E_OFFSET_MASK) {
                alloc |= old_bm[i] & L2_BITMAP_ALL_ALLOC;
            }
            bm = alloc | ((old_bm[i] >> 32) & ~alloc) << 32;
            if (old_e[i] & QCOW_OFLAG_COMPRESSED) {
                bm = alloc;
            }
        }
        set_l2(s, t, idx + i, e, bm);
        if (!s->data_file && (old_e[i] & (QCOW_OFLAG_COMPRESSED | L2E_OFFSET_MASK))) {
            freed[i] = old_e[i];
        }
    }
    ret = l2_changed(img, t, err);
    if (ret == 0) {
        ret = free_old_entries(img, freed, n, err);
    }
out:
    free(old_e);
    free(old_bm);
    free(freed);
    return ret;
}

/* One L2 table's worth of a guest write. */
static int write_l2_span(struct image *img, uint64_t off, const uint8_t *buf, uint64_t len,
                         struct err *err)
{
    struct qcow2 *s = qcow2_state(img);
    uint64_t cs = s->cluster_size, l2_off;
    uint64_t mask = (1ULL << s->l2_bits) - 1;
    int ret = writable_l2(img, off >> (s->cluster_bits + s->l2_bits), &l2_off, err);

    while (ret == 0 && len) {
        uint64_t idx = (off >> s->cluster_bits) & mask, n = 1, chunk;
        uint8_t *t = l2_table(img, l2_off, err);

        if (!t) {
            return -EIO;
        }
        chunk = MIN(len, round_down(off, cs) + cs - off);
        if (in_place(s, l2_entry(s, t, idx))) {
            ret = write_in_place(img, &t, l2_off, idx, off, buf, chunk, err);
        } else {
            /* extend over following clusters that need allocating too */
            while (chunk < len && !in_place(s, l2_entry(s, t, idx + n))) {
                chunk = MIN(len, chunk + cs);
                n++;
            }
            ret = write_allocating(img, l2_off, idx, n, off, buf, chunk, err);
        }
        off += chunk;
        buf += chunk;
        len -= chunk;
    }
    return ret;
}

static int usable(struct image *img, struct err *err)
{
    struct qcow2 *s = qcow2_state(img);

    if (s->crypt_method) {
        return err_set(err, -ENOTSUP, "imgsh cannot write encrypted qcow2 images");
    }
    return begin_change(img, err);
}

int qcow2_write(struct image *img, uint64_t off, const void *buf, size_t len, struct err *err)
{
    struct qcow2 *s = qcow2_state(img);
    uint64_t span = 1ULL << (s->cluster_bits + s->l2_bits);
    const uint8_t *p = buf;
    int ret;

    pthread_mutex_lock(&img->lock);
    ret = usable(img, err);
    if (ret == 0) {
        qcow2_bitmaps_mark(img, off, len);
    }
    while (ret == 0 && len) {
        uint64_t n = MIN((uint64_t)len, round_down(off, span) + span - off);
        ret = write_l2_span(img, off, p, n, err);
        off += n;
        p += n;
        len -= (size_t)n;
    }
    pthread_mutex_unlock(&img->lock);
    return ret;
}

/* ------------------------------------------------------------------------ */
/* zero writes and discard                                                    */

/* Zeros through the data path (unaligned parts, compat=0.10 images). */
static int write_zero_buffers(struct image *img, uint64_t off, uint64_t len, struct err *err)
{
    static const uint8_t zero[64 * 1024];
    struct qcow2 *s = qcow2_state(img);
    uint64_t span = 1ULL << (s->cluster_bits + s->l2_bits);
    int ret = 0;

    while (ret == 0 && len) {
        uint64_t n = MIN(MIN(len, (uint64_t)sizeof(zero)), round_down(off, span) + span - off);
        ret = write_l2_span(img, off, zero, n, err);
        off += n;
        len -= n;
    }
    return ret;
}


/*
 * Apply mode to the whole clusters of [off, off+len) (cluster aligned, or
 * ending at the end of the image), within one L2 table, entry by entry
 * as qemu does: the L2 entry first, then the reference it held is dropped.
 */
static int zero_l2_span(struct image *img, uint64_t off, uint64_t len, enum zero_mode mode,
                        struct err *err)
{
    struct qcow2 *s = qcow2_state(img);
    uint64_t cs = s->cluster_size, mask = (1ULL << s->l2_bits) - 1;
    uint64_t first = (off >> s->cluster_bits) & mask;
    uint64_t n = DIV_ROUND_UP(off + len, cs) - (off >> s->cluster_bits);
    uint64_t l2_off;
    int ret = writable_l2(img, off >> (s->cluster_bits + s->l2_bits), &l2_off, err);

    for (uint64_t i = 0; ret == 0 && i < n; i++) {
        uint8_t *t = l2_table(img, l2_off, err);
        uint64_t e, bm, ne, nbm;
        bool compressed, allocated, unmap;

        if (!t) {
            return -EIO;
        }
        e = l2_entry(s, t, first + i);
        bm = l2_bitmap(s, t, first + i);
        compressed = e & QCOW_OFLAG_COMPRESSED;
        allocated = compressed || (e & L2E_OFFSET_MASK) ||
                    (s->data_file && (e & QCOW_OFLAG_COPIED));
        ne = e;
        nbm = bm;
        if (mode == ZM_FULL_DISCARD) {
            unmap = true;
            ne = nbm = 0;
        } else if (mode == ZM_DISCARD) {
            unmap = true;
            if (img->backing || allocated) {
                if (s->extended_l2) {
                    ne = 0;
                    nbm = L2_BITMAP_ALL_ZERO;
                } else {
                    ne = s->version >= 3 ? QCOW_OFLAG_ZERO : 0;
                }
            }
        } else {
            unmap = compressed || (mode == ZM_ZERO_UNMAP && allocated);
            ne = unmap ? 0 : e;
            if (s->extended_l2) {
                nbm = L2_BITMAP_ALL_ZERO;
            } else {
                ne |= QCOW_OFLAG_ZERO;
            }
        }
        if (ne == e && nbm == bm) {
            continue;
        }
        set_l2(s, t, first + i, ne, nbm);
        qcache_mark_dirty(&s->l2_cache, t);
        if (unmap && allocated && !s->data_file) {
            uint64_t old[1] = { e };
            ret = free_old_entries(img, old, 1, err);
        }
    }
    return ret;
}

int qcow2_zero_range(struct image *img, uint64_t off, uint64_t len, enum zero_mode mode,
                     struct err *err)
{
    struct qcow2 *s = qcow2_state(img);
    uint64_t span = 1ULL << (s->cluster_bits + s->l2_bits);
    int ret = 0;

    s->punch_freed = mode == ZM_FULL_DISCARD || (mode != ZM_ZERO && (img->flags & IMG_UNMAP));
    while (ret == 0 && len) {
        uint64_t n = MIN(len, round_down(off, span) + span - off);
        ret = zero_l2_span(img, off, n, mode, err);
        off += n;
        len -= n;
    }
    s->punch_freed = false;
    return ret;
}

/*
 * Does [off, off+len) read as zeros, as far as block status tells without
 * reading (qemu's is_zero)? A raw backing file does not say.
 */
static int reads_zero(struct image *img, uint64_t off, uint64_t len, bool *zero,
                      struct err *err)
{
    *zero = true;
    while (len && *zero) {
        enum qcow2_kind kind;
        uint64_t host, n;
        int ret = qcow2_lookup_locked(img, off, len, &kind, &host, &n, err);

        if (ret < 0) {
            return ret;
        }
        if (kind == QK_UNALLOCATED || kind == QK_UNALLOCATED_ALLOC) {
            struct image *b = img->backing;
            if (b && off < b->size) {
                struct block_status bs;
                if (!b->drv->block_status || !strcmp(b->drv->name, "raw") ||
                    image_block_status(b, off, MIN(n, b->size - off), &bs, err) < 0) {
                    *zero = false;
                    break;
                }
                *zero = (bs.flags & BS_ZERO) != 0;
                n = MIN(n, bs.pnum);
            }
        } else {
            *zero = kind == QK_ZERO || kind == QK_ZERO_ALLOC;
        }
        off += n;
        len -= n;
    }
    return 0;
}

/* Extended L2: zero subclusters of one cluster in its bitmap (not in compressed clusters). */
static int zero_subclusters(struct image *img, uint64_t off, uint64_t len, struct err *err)
{
    struct qcow2 *s = qcow2_state(img);
    uint64_t cstart = round_down(off, s->cluster_size), l2_off, idx, bm, nbm;
    uint64_t m = sc_mask(s, off - cstart, off + len - cstart);
    uint8_t *t;
    int ret = writable_l2(img, off >> (s->cluster_bits + s->l2_bits), &l2_off, err);

    if (ret < 0 || !(t = l2_table(img, l2_off, err))) {
        return ret < 0 ? ret : -EIO;
    }
    idx = (off >> s->cluster_bits) & ((1ULL << s->l2_bits) - 1);
    if (l2_entry(s, t, idx) & QCOW_OFLAG_COMPRESSED) {
        return -ENOTSUP;
    }
    bm = l2_bitmap(s, t, idx);
    nbm = (bm | (m << 32)) & ~m;
    if (nbm != bm) {
        set_l2(s, t, idx, l2_entry(s, t, idx), nbm);
        qcache_mark_dirty(&s->l2_cache, t);
    }
    return 0;
}

/* qemu's zeroize: aligned to subclusters (or ending at the image end). -ENOTSUP: write zeros. */
int qcow2_zeroize(struct image *img, uint64_t off, uint64_t len, bool may_unmap,
                  struct err *err)
{
    struct qcow2 *s = qcow2_state(img);
    uint64_t end = off + len, head, tail;
    int ret;

    if (s->data_file && (s->autoclear & QCOW2_AUTOCLEAR_DATA_FILE_RAW)) {
        /* the raw data file must read as the guest does */
        ret = file_write_zeroes(s->data_file, off, len, may_unmap, err);
        if (ret < 0) {
            return ret;
        }
    }
    if (s->version < 3) {
        /* no zero flag: without a backing file, unallocated clusters read as zeros */
        return img->backing ? -ENOTSUP : qcow2_zero_range(img, off, len, ZM_DISCARD, err);
    }
    /* subclusters of a first partial cluster, whole clusters, subclusters of a last one */
    head = MIN(end, round_up(off, s->cluster_size)) - off;
    off += head;
    tail = end >= img->size ? 0 : end - MAX(off, round_down(end, s->cluster_size));
    end -= tail;
    if (head) {
        ret = zero_subclusters(img, off - head, head, err);
        if (ret < 0) {
            return ret;
        }
    }
    if (end > off) {
        ret = qcow2_zero_range(img, off, end - off, may_unmap ? ZM_ZERO_UNMAP : ZM_ZERO, err);
        if (ret < 0) {
            return ret;
        }
    }
    return tail ? zero_subclusters(img, end, tail, err) : 0;
}

/*
 * One piece of a zero write, as the block layer hands it to qcow2: either
 * whole subclusters, or part of one subcluster. A partial subcluster is
 * zeroed whole when the rest of it reads as zeros already and it holds no
 * data; otherwise -ENOTSUP (the caller writes zeros).
 */
static int zero_piece(struct image *img, uint64_t off, uint64_t len, bool may_unmap,
                      struct err *err)
{
    struct qcow2 *s = qcow2_state(img);
    uint64_t sc = s->subcluster_size;
    uint64_t head = off % sc, tail = round_up(off + len, sc) - (off + len);
    int ret;

    if (off + len == img->size) {
        tail = 0;
    }
    if (head || tail) {
        enum qcow2_kind kind;
        uint64_t host, n;
        bool z1, z2;

        ret = reads_zero(img, off - head, head, &z1, err);
        if (ret == 0) {
            ret = reads_zero(img, off + len, tail, &z2, err);
        }
        if (ret < 0) {
            return ret;
        }
        if (!z1 || !z2) {
            return -ENOTSUP;
        }
        off -= head;
        len = MIN(sc, img->size - off);
        ret = qcow2_lookup_locked(img, off, len, &kind, &host, &n, err);
        if (ret < 0) {
            return ret;
        }
        if (kind != QK_UNALLOCATED && kind != QK_UNALLOCATED_ALLOC && kind != QK_ZERO &&
            kind != QK_ZERO_ALLOC) {
            return -ENOTSUP;
        }
    }
    return qcow2_zeroize(img, off, len, may_unmap, err);
}

int qcow2_write_zeroes(struct image *img, uint64_t off, uint64_t len, bool may_unmap,
                       struct err *err)
{
    struct qcow2 *s = qcow2_state(img);
    uint64_t sc = s->subcluster_size, end = off + len;
    int ret;

    pthread_mutex_lock(&img->lock);
    ret = usable(img, err);
    if (ret == 0) {
        qcow2_bitmaps_mark(img, off, len);
    }
    /* the block layer's split: an unaligned head, aligned subclusters, an unaligned tail */
    while (ret == 0 && off < end) {
        uint64_t n;

        if (off % sc) {
            n = MIN(end, round_up(off, sc)) - off;
        } else if (end - off >= sc) {
            n = round_down(end - off, sc);
        } else {
            n = end - off;
        }
        ret = zero_piece(img, off, n, may_unmap, err);
        if (ret == -ENOTSUP) {
            err_clear(err);
            ret = write_zero_buffers(img, off, n, err);
        }
        off += n;
    }
    pthread_mutex_unlock(&img->lock);
    return ret;
}

int qcow2_discard(struct image *img, uint64_t off, uint64_t len, struct err *err)
{
    struct qcow2 *s = qcow2_state(img);
    uint64_t a = round_up(off, s->cluster_size), b = round_down(off + len, s->cluster_size);
    int ret;

    if (off + len == img->size) {
        b = round_up(off + len, s->cluster_size);
    }
    pthread_mutex_lock(&img->lock);
    ret = usable(img, err);
    if (ret == 0) {
        qcow2_bitmaps_mark(img, off, len);
    }
    if (ret == 0 && a < b) {
        /* partial clusters are not discarded */
        ret = qcow2_zero_range(img, a, b - a, ZM_DISCARD, err);
    }
    pthread_mutex_unlock(&img->lock);
    return ret;
}

/* ------------------------------------------------------------------------ */
/* compressed writes                                                          */

size_t qcow2_compress(struct image *img, const void *raw, size_t len, void *out)
{
    struct qcow2 *s = qcow2_state(img);
    uint8_t *padded = NULL;
    long clen;

    if (len < s->cluster_size) {
        /* the last cluster of the image: compressed as a whole cluster */
        padded = xcalloc(1, (size_t)s->cluster_size);
        memcpy(padded, raw, len);
        raw = padded;
    }
    clen = qcow2_compress_cluster(s, raw, out, (size_t)s->cluster_size - 1);
    free(padded);
    return clen < 0 ? 0 : (size_t)clen;
}

int qcow2_write_compressed(struct image *img, uint64_t off, const void *raw, size_t len,
                           const void *cdata, size_t clen, struct err *err)
{
    struct qcow2 *s = qcow2_state(img);
    uint64_t l2_off, idx, e, x, sectors;
    int64_t host;
    uint8_t *t;
    int ret;

    if (s->data_file) {
        return err_set(err, -ENOTSUP, "Operation not supported");
    }
    if (len == 0) {
        /* the end of a compressed stream: the file ends on a 512-byte boundary, as qemu's */
        int64_t flen;
        pthread_mutex_lock(&img->lock);
        flen = file_length(img->file, err);
        ret = flen < 0 ? (int)flen
                       : file_truncate(img->file, round_up((uint64_t)flen, 512), PREALLOC_OFF, err);
        pthread_mutex_unlock(&img->lock);
        return ret;
    }
    if (off % s->cluster_size || (len != s->cluster_size && off + len != img->size) ||
        len > s->cluster_size) {
        return err_set(err, -EINVAL, "Invalid argument");
    }
    pthread_mutex_lock(&img->lock);
    ret = usable(img, err);
    if (ret < 0) {
        goto out;
    }
    qcow2_bitmaps_mark(img, off, len);
    if (!clen) {
        /* does not compress: stored as a normal cluster */
        ret = write_l2_span(img, off, raw, len, err);
        goto out;
    }
    ret = writable_l2(img, off >> (s->cluster_bits + s->l2_bits), &l2_off, err);
    if (ret < 0) {
        goto out;
    }
    idx = (off >> s->cluster_bits) & ((1ULL << s->l2_bits) - 1);
    t = l2_table(img, l2_off, err);
    if (!t) {
        ret = -EIO;
        goto out;
    }
    e = l2_entry(s, t, idx);
    if ((e & (L2E_OFFSET_MASK | QCOW_OFLAG_COMPRESSED)) ||
        (s->extended_l2 && (l2_bitmap(s, t, idx) & L2_BITMAP_ALL_ALLOC))) {
        /* compression cannot overwrite anything */
        ret = err_set(err, -EIO, "Input/output error");
        goto out;
    }
    host = qcow2_alloc_bytes(img, clen, err);
    if (host < 0) {
        ret = (int)host;
        goto out;
    }
    ret = data_pwrite(img, (uint64_t)host, cdata, clen, err);
    if (ret < 0) {
        goto out;
    }
    x = 62 - (s->cluster_bits - 8);
    sectors = (((uint64_t)host + clen - 1) >> 9) - ((uint64_t)host >> 9);
    t = l2_table(img, l2_off, err);
    if (!t) {
        ret = -EIO;
        goto out;
    }
    set_l2(s, t, idx, QCOW_OFLAG_COMPRESSED | (sectors << x) | (uint64_t)host, 0);
    ret = l2_changed(img, t, err);
out:
    pthread_mutex_unlock(&img->lock);
    return ret;
}

/* ------------------------------------------------------------------------ */
/* preallocation (resize)                                                     */

/*
 * Map guest [off, end) (within one L2 table) to host clusters without
 * writing guest data: clusters written in place keep theirs, the others
 * get new ones, whose parts outside the range are filled with the guest
 * data they read as (zeros past the old end). Subcluster bitmaps are left
 * alone, as qemu leaves them. *host_end: where the range ends in the file.
 */
static int prealloc_l2_span(struct image *img, uint64_t off, uint64_t end, uint64_t *host_end,
                            struct err *err)
{
    struct qcow2 *s = qcow2_state(img);
    uint64_t cs = s->cluster_size, gran = s->extended_l2 ? s->subcluster_size : cs;
    uint64_t mask = (1ULL << s->l2_bits) - 1, l2_off;
    int ret = writable_l2(img, off >> (s->cluster_bits + s->l2_bits), &l2_off, err);

    while (ret == 0 && off < end) {
        uint64_t idx = (off >> s->cluster_bits) & mask, n = 1, cstart = round_down(off, cs);
        uint64_t chunk_end, host, ws, we;
        uint8_t *t = l2_table(img, l2_off, err);
        int64_t got;

        if (!t) {
            return -EIO;
        }
        if (in_place(s, l2_entry(s, t, idx))) {
            uint64_t e = l2_entry(s, t, idx);
            host = s->data_file && !(e & L2E_OFFSET_MASK) ? cstart : e & L2E_OFFSET_MASK;
            chunk_end = MIN(end, cstart + cs);
            *host_end = host + (chunk_end - cstart);
            off = chunk_end;
            continue;
        }
        while (cstart + n * cs < end && !in_place(s, l2_entry(s, t, idx + n))) {
            n++;
        }
        chunk_end = MIN(end, cstart + n * cs);
        if (s->data_file) {
            got = (int64_t)cstart;
        } else {
            got = qcow2_alloc_clusters(img, n, err);
            if (got < 0) {
                return (int)got;
            }
        }
        host = (uint64_t)got;
        /* copy-on-write of the partial (sub)clusters at both ends */
        ws = round_down(off, gran);
        we = MIN(round_up(chunk_end, gran), cstart + n * cs);
        if (off > ws || we > chunk_end) {
            uint8_t *cow = xmalloc_io((size_t)MAX(off - ws, we - chunk_end) + 1);
            ret = cow_read(img, ws, cow, off - ws, err);
            if (ret == 0) {
                ret = data_pwrite(img, host + (ws - cstart), cow, off - ws, err);
            }
            if (ret == 0 && we > chunk_end) {
                ret = cow_read(img, chunk_end, cow, we - chunk_end, err);
                if (ret == 0) {
                    ret = data_pwrite(img, host + (chunk_end - cstart), cow, we - chunk_end, err);
                }
            }
            free(cow);
            if (ret < 0) {
                return ret;
            }
        }
        t = l2_table(img, l2_off, err);
        if (!t) {
            return -EIO;
        }
        for (uint64_t i = 0; i < n; i++) {
            uint64_t old = l2_entry(s, t, idx + i);
            set_l2(s, t, idx + i, (host + i * cs) | QCOW_OFLAG_COPIED, l2_bitmap(s, t, idx + i));
            if (!s->data_file && (old & (QCOW_OFLAG_COMPRESSED | L2E_OFFSET_MASK))) {
                ret = l2_changed(img, t, err);
                if (ret == 0) {
                    ret = free_old_entries(img, &old, 1, err);
                }
                t = l2_table(img, l2_off, err);
                if (ret < 0 || !t) {
                    return ret < 0 ? ret : -EIO;
                }
            }
        }
        ret = l2_changed(img, t, err);
        *host_end = host + (chunk_end - cstart);
        off = chunk_end;
    }
    return ret;
}

int qcow2_prealloc_metadata(struct image *img, uint64_t off, uint64_t end, uint64_t *host_end,
                            struct err *err)
{
    struct qcow2 *s = qcow2_state(img);
    uint64_t span = 1ULL << (s->cluster_bits + s->l2_bits);
    int ret = 0;

    while (ret == 0 && off < end) {
        uint64_t n = MIN(end, round_down(off, span) + span);
        ret = prealloc_l2_span(img, off, n, host_end, err);
        off = n;
    }
    return ret;
}

int qcow2_map_prealloc(struct image *img, uint64_t guest, uint64_t host, uint64_t n,
                       struct err *err)
{
    struct qcow2 *s = qcow2_state(img);
    uint64_t cs = s->cluster_size, mask = (1ULL << s->l2_bits) - 1;
    int ret = 0;

    while (ret == 0 && n) {
        uint64_t idx = (guest >> s->cluster_bits) & mask, k = MIN(n, mask + 1 - idx), l2_off;
        uint64_t head = guest % cs;
        uint8_t *t;

        guest -= head;
        ret = writable_l2(img, guest >> (s->cluster_bits + s->l2_bits), &l2_off, err);
        if (ret == 0 && head) {
            /* the old last cluster's data moves along into the new one */
            uint8_t *cow = xmalloc_io((size_t)head);
            ret = cow_read(img, guest, cow, head, err);
            if (ret == 0) {
                ret = data_pwrite(img, host, cow, head, err);
            }
            free(cow);
        }
        for (uint64_t i = 0; ret == 0 && i < k; i++) {
            uint64_t old;
            t = l2_table(img, l2_off, err);
            if (!t) {
                return -EIO;
            }
            old = l2_entry(s, t, idx + i);
            set_l2(s, t, idx + i, (host + i * cs) | QCOW_OFLAG_COPIED, l2_bitmap(s, t, idx + i));
            ret = l2_changed(img, t, err);
            if (ret == 0 && !s->data_file && (old & (QCOW_OFLAG_COMPRESSED | L2E_OFFSET_MASK))) {
                ret = free_old_entries(img, &old, 1, err);
            }
        }
        guest += k * cs;
        host += k * cs;
        n -= k;
    }
    return ret;
}

/* ------------------------------------------------------------------------ */
/* flush and close                                                            */

int qcow2_flush_locked(struct image *img, struct err *err)
{
    struct qcow2 *s = qcow2_state(img);
    int ret = qcache_flush(img, &s->l2_cache, err);

    if (ret == 0) {
        ret = qcache_flush(img, &s->rc_cache, err);
    }
    if (ret == 0) {
        ret = qcache_flush(img, &s->l2_cache, err);
    }
    if (ret == 0 && s->data_file) {
        ret = file_flush(s->data_file, err);
    }
    if (ret == 0) {
        ret = file_flush(img->file, err);
    }
    return ret;
}

int qcow2_flush(struct image *img, struct err *err)
{
    int ret;

    pthread_mutex_lock(&img->lock);
    ret = qcow2_flush_locked(img, err);
    pthread_mutex_unlock(&img->lock);
    return ret;
}

void qcow2_close_writes(struct image *img)
{
    struct qcow2 *s = qcow2_state(img);
    struct err err = { 0 };

    if (!(img->flags & IMG_RDWR) || img->broken) {
        return;
    }
    pthread_mutex_lock(&img->lock);
    if (qcow2_bitmaps_store(img, &err) < 0) {
        error_printf("Failed to store bitmaps: %s", err.msg);
        err_clear(&err);
    }
    pthread_mutex_unlock(&img->lock);
    if (qcow2_flush(img, &err) < 0) {
        error_printf("Failed to flush the refcount block cache: %s", err.msg);
        return;
    }
    /* a clean close clears the dirty bit, even one check found and could not repair,
     * as qemu does */
    if (s->marked_dirty || (s->incompat & QCOW2_INCOMPAT_DIRTY)) {
        s->incompat &= ~QCOW2_INCOMPAT_DIRTY;
        if (write_incompat(img, s->incompat, &err) == 0) {
            s->marked_dirty = false;
        }
    }
}
