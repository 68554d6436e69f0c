/*
 * refcount.c - qcow2 reference counts: reading and updating them, the
 * cluster allocator (whole clusters, and bytes for compressed data),
 * growing the refcount table, and the metadata preallocation heuristic
 * that block status depends on.
 *
 * The allocator searches for runs of clusters with refcount 0 from a
 * moving index (moved back when a cluster is freed). A cluster needs a
 * refcount block before it can be counted: a missing block is allocated
 * first (in a free cluster, counting itself when it lies in its own
 * range), and the search starts over. A table index past the end of the
 * refcount table grows the table: a new, bigger table and the blocks that
 * count it go into free clusters, the header is switched over, and the old
 * table is freed.
 *
 * refcount_block_entries = cluster_size * 8 / refcount_bits; the table
 * entry for cluster c is c / entries, the block entry c % entries.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "../../engine/size.h"
#include "../../engine/util.h"
#include "qcow2_int.h"

int qcow2_load_reftable(struct image *img, struct err *err)
{
    struct qcow2 *s = qcow2_state(img);
    size_t bytes = (size_t)s->reftable_clusters * s->cluster_size;
    uint8_t *raw;
    int ret;

    if (s->reftable) {
        return 0;
    }
    raw = xmalloc(bytes);
    ret = file_pread(img->file, s->reftable_offset, raw, bytes, err);
    if (ret == 0) {
        s->reftable_entries = bytes / 8;
        s->reftable = xmalloc(bytes);
        for (size_t i = 0; i < s->reftable_entries; i++) {
            s->reftable[i] = be64(raw + i * 8);
        }
    }
    free(raw);
    return ret;
}

uint64_t qcow2_rc_get(unsigned order, const uint8_t *block, uint64_t i)
{
    unsigned bits = 1u << order;

    switch (bits) {
    case 64: return be64(block + i * 8);
    case 32: return be32(block + i * 4);
    case 16: return be16(block + i * 2);
    case 8: return block[i];
    default: {
        /* sub-byte widths: bit 0 is the least significant bit of the byte */
        uint64_t bit = i * bits;
        return (block[bit / 8] >> (bit % 8)) & ((1u << bits) - 1);
    }
    }
}

void qcow2_rc_set(unsigned order, uint8_t *block, uint64_t i, uint64_t v)
{
    unsigned bits = 1u << order;

    switch (bits) {
    case 64: put_be64(block + i * 8, v); break;
    case 32: put_be32(block + i * 4, (uint32_t)v); break;
    case 16: put_be16(block + i * 2, (uint16_t)v); break;
    case 8: block[i] = (uint8_t)v; break;
    default: {
        uint64_t bit = i * bits;
        unsigned mask = ((1u << bits) - 1) << (bit % 8);
        block[bit / 8] = (uint8_t)((block[bit / 8] & ~mask) | (((unsigned)v << (bit % 8)) & mask));
        break;
    }
    }
}

uint64_t qcow2_rc_per_block(const struct qcow2 *s)
{
    return (s->cluster_size * 8) >> s->refcount_order;
}

uint64_t qcow2_rc_max(const struct qcow2 *s)
{
    return s->refcount_order == 6 ? UINT64_MAX : (1ULL << (1u << s->refcount_order)) - 1;
}

/* Host offset of the refcount block of table index ti; 0 when there is none. */
static int refblock_offset(struct image *img, uint64_t ti, uint64_t *out, struct err *err)
{
    struct qcow2 *s = qcow2_state(img);
    uint64_t off;

    *out = 0;
    if (ti >= s->reftable_entries) {
        return 0;
    }
    off = s->reftable[ti] & L1E_OFFSET_MASK;
    if (off % s->cluster_size) {
        return qcow2_signal_corruption(img, err, "Refblock offset %#" PRIx64 " unaligned "
                                       "(reftable index: %#" PRIx64 ")", off, ti);
    }
    if (off == 0 && s->reftable[ti]) {
        return qcow2_signal_corruption(img, err, "Refblock at offset 0 (reftable index: %#"
                                       PRIx64 ")", ti);
    }
    *out = off;
    return 0;
}

int qcow2_get_refcount_locked(struct image *img, uint64_t cluster, uint64_t *refcount,
                              struct err *err)
{
    struct qcow2 *s = qcow2_state(img);
    uint64_t per_block = qcow2_rc_per_block(s), block_off;
    const uint8_t *block;
    int ret = qcow2_load_reftable(img, err);

    if (ret == 0) {
        ret = refblock_offset(img, cluster / per_block, &block_off, err);
    }
    if (ret < 0) {
        return ret;
    }
    if (!block_off) {
        *refcount = 0;
        return 0;
    }
    block = qcache_get(img, &s->rc_cache, block_off, true, err);
    if (!block) {
        return -EIO;
    }
    *refcount = qcow2_rc_get(s->refcount_order, block, cluster % per_block);
    return 0;
}

int qcow2_get_refcount(struct image *img, uint64_t cluster, uint64_t *refcount,
                       struct err *err)
{
    int ret;

    pthread_mutex_lock(&img->lock);
    ret = qcow2_get_refcount_locked(img, cluster, refcount, err);
    pthread_mutex_unlock(&img->lock);
    return ret;
}

void qcow2_free_refcounts(struct qcow2 *s)
{
    free(s->reftable);
    s->reftable = NULL;
}

/* ------------------------------------------------------------------------ */
/* allocation                                                                 */

uint64_t qcow2_refblocks_needed(uint64_t cluster_size, unsigned rb_bits, uint64_t clusters,
                                bool generous)
{
    uint64_t per_block = 1ULL << rb_bits, per_table_cluster = cluster_size / 8;
    uint64_t blocks = 0, table = 0, n = 0, last;

    do {
        last = n;
        blocks = DIV_ROUND_UP(clusters + table + blocks, per_block);
        table = DIV_ROUND_UP(blocks, per_table_cluster);
        n = clusters + blocks + table;
        if (n == last && generous) {
            /* room for half as many table clusters again */
            clusters += DIV_ROUND_UP(table, 2);
            n = 0;
            generous = false;
        }
    } while (n != last);
    return blocks;
}

/*
 * The first run of n clusters with refcount 0 from the search index on
 * (clusters no refcount block covers count as free); the index moves past
 * it. Does not count the run.
 */
static int64_t find_free(struct image *img, uint64_t n, struct err *err)
{
    struct qcow2 *s = qcow2_state(img);
    uint64_t limit = QEMU_MAX_FILE_OFFSET >> s->cluster_bits;

again:
    for (uint64_t i = 0; i < n; i++) {
        uint64_t rc;
        int ret;

        if (s->free_cluster_index >= limit) {
            return err_set(err, -EFBIG, "Image file too large");
        }
        ret = qcow2_get_refcount_locked(img, s->free_cluster_index++, &rc, err);
        if (ret < 0) {
            return ret;
        }
        if (rc) {
            goto again;
        }
    }
    return (int64_t)(s->free_cluster_index - n);
}

static int write_reftable(struct image *img, uint64_t offset, const uint64_t *table,
                          uint64_t entries, struct err *err)
{
    uint8_t *raw = xmalloc(entries * 8);
    int ret;

    for (uint64_t i = 0; i < entries; i++) {
        put_be64(raw + i * 8, table[i]);
    }
    ret = file_pwrite(img->file, offset, raw, entries * 8, err);
    free(raw);
    return ret;
}

static int update_refcount(struct image *img, uint64_t first, uint64_t n, int addend,
                           struct err *err);

/* Set the refcount of cluster c to v in the block at block_off (through the cache). */
static int set_refcount(struct image *img, uint64_t block_off, uint64_t c, uint64_t v,
                        struct err *err)
{
    struct qcow2 *s = qcow2_state(img);
    uint8_t *blk = qcache_get(img, &s->rc_cache, block_off, true, err);

    if (!blk) {
        return -EIO;
    }
    qcow2_rc_set(s->refcount_order, blk, c % qcow2_rc_per_block(s), v);
    qcache_mark_dirty(&s->rc_cache, blk);
    return 0;
}

/*
 * A new refcount table at start, after the new refcount blocks needed to
 * count everything up to start, additional clusters after it, and the new
 * structures themselves (which all get a reference); the header is
 * switched to it and the old table freed. new_offset, when not 0, is a
 * block just made for table index new_index; exact: no room to spare in
 * the table. Returns the end of the new structures, or negative errno.
 * (qemu's layout: see create.c.)
 */
int64_t qcow2_refcount_area(struct image *img, uint64_t start, uint64_t additional, bool exact,
                            uint64_t new_index, uint64_t new_offset, struct err *err)
{
    struct qcow2 *s = qcow2_state(img);
    uint64_t cs = s->cluster_size, per_block = qcow2_rc_per_block(s);
    unsigned rb_bits = s->cluster_bits + 3 - s->refcount_order;
    uint64_t total = qcow2_refblocks_needed(cs, rb_bits, start / cs + additional, !exact);
    uint64_t from = start / cs / per_block, fresh = 0, next;
    uint64_t entries, clusters, table_offset, end, old_offset, old_clusters;
    uint64_t *table;
    uint8_t hdr[12];
    int ret = 0;

    if (total > QCOW2_MAX_REFTABLE_BYTES) {
        return err_set(err, -EFBIG, "Refcount table too large");
    }
    entries = round_up(exact ? total : total + DIV_ROUND_UP(total, 2), cs / 8);
    if (entries > QCOW2_MAX_REFTABLE_BYTES) {
        return err_set(err, -EFBIG, "Refcount table too large");
    }
    clusters = entries * 8 / cs;
    table = xcalloc(entries, sizeof(*table));
    memcpy(table, s->reftable, MIN(entries, s->reftable_entries) * sizeof(*table));
    if (new_offset) {
        table[new_index] = new_offset;
    }
    for (uint64_t i = from; i < total; i++) {
        fresh += !table[i];
    }
    table_offset = start + fresh * cs;
    end = table_offset + clusters * cs;
    /* blocks: the missing ones from start on; every cluster of [start, end) counted */
    next = start;
    for (uint64_t i = from; i < total && ret == 0; i++) {
        uint64_t first_covered = i * per_block * cs, j, stop;

        if (!table[i]) {
            table[i] = next;
            next += cs;
            uint8_t *fresh_block = qcache_get(img, &s->rc_cache, table[i], false, err);
            if (!fresh_block) {
                ret = -EIO;
                break;
            }
            qcache_mark_dirty(&s->rc_cache, fresh_block);
        }
        if (first_covered >= end) {
            continue;
        }
        j = first_covered < start ? (start - first_covered) / cs : 0;
        stop = MIN((end - first_covered) / cs, per_block);
        for (; j < stop && ret == 0; j++) {
            ret = set_refcount(img, table[i], first_covered / cs + j, 1, err);
        }
    }
    /* the old table as it stands, then the new one; blocks reach the file first */
    if (ret == 0) {
        ret = write_reftable(img, s->reftable_offset, s->reftable, s->reftable_entries, err);
    }
    if (ret == 0) {
        ret = qcache_flush(img, &s->rc_cache, err);
    }
    if (ret == 0) {
        ret = write_reftable(img, table_offset, table, entries, err);
    }
    if (ret == 0) {
        ret = file_flush(img->file, err);
    }
    if (ret == 0) {
        put_be64(hdr, table_offset);
        put_be32(hdr + 8, (uint32_t)clusters);
        ret = qcow2_write_header_field(img, QH_REFTABLE_OFFSET, hdr, sizeof(hdr), err);
    }
    if (ret < 0) {
        free(table);
        return ret;
    }
    old_offset = s->reftable_offset;
    old_clusters = s->reftable_clusters;
    free(s->reftable);
    s->reftable = table;
    s->reftable_entries = entries;
    s->reftable_offset = table_offset;
    s->reftable_clusters = (uint32_t)clusters;
    ret = update_refcount(img, old_offset / cs, old_clusters, -1, err);
    return ret < 0 ? ret : (int64_t)end;
}

/*
 * Make sure the refcount block counting cluster exists. A new block goes
 * where the search for free clusters finds room; if it lies in its own
 * range it counts itself, else its reference is added first (which may
 * need yet another block). Returns 0 when the block existed, -EAGAIN when
 * one was made (the caller's allocation may overlap it: search again).
 */
static int alloc_refcount_block(struct image *img, uint64_t cluster, struct err *err)
{
    struct qcow2 *s = qcow2_state(img);
    uint64_t per_block = qcow2_rc_per_block(s), ti = cluster / per_block, have, blk, used;
    uint8_t *buf;
    int64_t found;
    int ret = refblock_offset(img, ti, &have, err);

    if (ret < 0 || have) {
        return ret;
    }
    found = find_free(img, 1, err);
    if (found < 0) {
        return (int)found;
    }
    blk = (uint64_t)found;
    if (blk / per_block != ti) {
        ret = update_refcount(img, blk, 1, 1, err);
        if (ret < 0) {
            return ret;
        }
    }
    buf = qcache_get(img, &s->rc_cache, blk * s->cluster_size, false, err);
    if (!buf) {
        return -EIO;
    }
    if (blk / per_block == ti) {
        qcow2_rc_set(s->refcount_order, buf, blk % per_block, 1);
    }
    qcache_mark_dirty(&s->rc_cache, buf);
    /* the block is on disk before the table points at it */
    ret = qcache_flush(img, &s->rc_cache, err);
    if (ret < 0) {
        return ret;
    }
    if (ti < s->reftable_entries) {
        uint8_t be[8];
        s->reftable[ti] = blk * s->cluster_size;
        put_be64(be, s->reftable[ti]);
        ret = file_pwrite(img->file, s->reftable_offset + ti * 8, be, 8, err);
        return ret < 0 ? ret : -EAGAIN;
    }
    /* the table is full: a bigger one, with blocks counting it, after all that is counted */
    used = DIV_ROUND_UP(MAX(cluster + 1, blk + 1), per_block);
    found = qcow2_refcount_area(img, used * per_block * s->cluster_size, 0, false, ti,
                                blk * s->cluster_size, err);
    return found < 0 ? (int)found : -EAGAIN;
}

/*
 * Add addend to the refcounts of n clusters from first. On failure the
 * clusters done so far are restored; -EAGAIN means a refcount block was
 * allocated on the way and the caller should search again.
 */
static int update_refcount(struct image *img, uint64_t first, uint64_t n, int addend,
                           struct err *err)
{
    struct qcow2 *s = qcow2_state(img);
    uint64_t per_block = qcow2_rc_per_block(s), c, last_ti = UINT64_MAX, block_off = 0;
    int ret = qcow2_load_reftable(img, err);

    for (c = first; ret == 0 && c < first + n; c++) {
        uint64_t ti = c / per_block, old, new;
        uint8_t *blk;

        if (ti != last_ti) {
            ret = refblock_offset(img, ti, &block_off, err);
            if (ret == 0 && !block_off) {
                if (addend < 0) {
                    ret = qcow2_signal_corruption(img, err, "Freeing cluster %#" PRIx64
                                                  " that has no refcount block", c);
                    break;
                }
                ret = alloc_refcount_block(img, c, err);
                if (ret == -EAGAIN && s->free_cluster_index > first) {
                    s->free_cluster_index = first;
                }
            }
            if (ret < 0) {
                break;
            }
            last_ti = ti;
        }
        blk = qcache_get(img, &s->rc_cache, block_off, true, err);
        if (!blk) {
            ret = -EIO;
            break;
        }
        old = qcow2_rc_get(s->refcount_order, blk, c % per_block);
        if ((addend < 0 && old < (uint64_t)-addend) ||
            (addend > 0 && old > qcow2_rc_max(s) - (uint64_t)addend)) {
            /* as qemu: refused (and the clusters done so far restored), not a corruption event */
            ret = err_set(err, -EINVAL, "Refcount of cluster %#" PRIx64 " would %s", c,
                          addend < 0 ? "drop below 0" : "exceed the refcount width");
            break;
        }
        new = old + (uint64_t)(int64_t)addend;
        qcow2_rc_set(s->refcount_order, blk, c % per_block, new);
        qcache_mark_dirty(&s->rc_cache, blk);
        if (new == 0) {
            if (c < s->free_cluster_index) {
                s->free_cluster_index = c;
            }
            if (s->free_byte_offset >> s->cluster_bits == c) {
                s->free_byte_offset = 0;    /* compressed data goes elsewhere now */
            }
            /* a freed metadata cluster must not come back from a cache */
            qcache_forget(&s->l2_cache, c << s->cluster_bits);
            qcache_forget(&s->rc_cache, c << s->cluster_bits);
            if (s->punch_freed) {
                /* discard passed down (discard=unmap): the host gets the space back */
                file_write_zeroes(img->file, c << s->cluster_bits, s->cluster_size, true, NULL);
            }
        }
    }
    if (ret < 0 && c > first && !img->broken) {
        update_refcount(img, first, c - first, -addend, NULL);
    }
    return ret;
}

int qcow2_update_refcount(struct image *img, uint64_t offset, uint64_t length, int addend,
                          struct err *err)
{
    struct qcow2 *s = qcow2_state(img);
    uint64_t first, last;
    int ret;

    if (length == 0) {
        return 0;
    }
    first = offset >> s->cluster_bits;
    last = (offset + length - 1) >> s->cluster_bits;
    do {
        ret = update_refcount(img, first, last - first + 1, addend, err);
    } while (ret == -EAGAIN);
    return ret;
}

int64_t qcow2_alloc_clusters(struct image *img, uint64_t n, struct err *err)
{
    struct qcow2 *s = qcow2_state(img);
    int64_t first;
    int ret = qcow2_load_reftable(img, err);

    if (ret < 0) {
        return ret;
    }
    do {
        first = find_free(img, n, err);
        if (first < 0) {
            return first;
        }
        ret = update_refcount(img, (uint64_t)first, n, 1, err);
    } while (ret == -EAGAIN);
    return ret < 0 ? ret : (int64_t)((uint64_t)first << s->cluster_bits);
}

int64_t qcow2_alloc_clusters_at(struct image *img, uint64_t first, uint64_t n, struct err *err)
{
    uint64_t i;
    int ret = qcow2_load_reftable(img, err);

    if (ret < 0) {
        return ret;
    }
    do {
        for (i = 0; i < n; i++) {
            uint64_t rc;
            ret = qcow2_get_refcount_locked(img, first + i, &rc, err);
            if (ret < 0) {
                return ret;
            }
            if (rc) {
                break;
            }
        }
        ret = update_refcount(img, first, i, 1, err);
    } while (ret == -EAGAIN);
    return ret < 0 ? ret : (int64_t)i;
}

int64_t qcow2_last_used_cluster(struct image *img, uint64_t file_size, struct err *err)
{
    struct qcow2 *s = qcow2_state(img);

    for (uint64_t c = DIV_ROUND_UP(file_size, s->cluster_size); c-- > 0;) {
        uint64_t rc;
        int ret = qcow2_get_refcount_locked(img, c, &rc, err);
        if (ret < 0) {
            return ret;
        }
        if (rc) {
            return (int64_t)c;
        }
    }
    return -1;
}

int qcow2_shrink_reftable(struct image *img, struct err *err)
{
    struct qcow2 *s = qcow2_state(img);
    uint64_t per_block = qcow2_rc_per_block(s);
    uint64_t *keep;
    int ret = qcow2_load_reftable(img, err);

    if (ret < 0) {
        return ret;
    }
    /* a block that counts nothing but itself is dropped */
    keep = xcalloc(s->reftable_entries ? s->reftable_entries : 1, sizeof(*keep));
    for (size_t i = 0; i < s->reftable_entries; i++) {
        uint64_t off = s->reftable[i] & L1E_OFFSET_MASK, own = UINT64_MAX;
        uint8_t *blk;
        bool unused;

        if (!off) {
            continue;
        }
        blk = qcache_get(img, &s->rc_cache, off, true, err);
        if (!blk) {
            free(keep);
            return -EIO;
        }
        if ((off >> s->cluster_bits) / per_block == i) {
            own = qcow2_rc_get(s->refcount_order, blk, (off >> s->cluster_bits) % per_block);
            qcow2_rc_set(s->refcount_order, blk, (off >> s->cluster_bits) % per_block, 0);
        }
        unused = buf_is_zero(blk, s->cluster_size);
        if (own != UINT64_MAX) {
            qcow2_rc_set(s->refcount_order, blk, (off >> s->cluster_bits) % per_block, own);
        }
        keep[i] = unused ? 0 : s->reftable[i];
    }
    ret = write_reftable(img, s->reftable_offset, keep, s->reftable_entries, err);
    if (ret == 0) {
        ret = file_flush(img->file, err);
    }
    for (size_t i = 0; i < s->reftable_entries; i++) {
        uint64_t off = s->reftable[i] & L1E_OFFSET_MASK, cover, c = off >> s->cluster_bits;
        uint8_t *blk;

        if (!s->reftable[i] || keep[i]) {
            continue;
        }
        if (ret == 0) {
            /* the block's own count goes, in the block that counts it (not written back
             * when that is the block itself: it is dropped from the cache and punched) */
            cover = c / per_block < s->reftable_entries ? s->reftable[c / per_block] & L1E_OFFSET_MASK
                                                        : 0;
            if (!cover) {
                ret = qcow2_signal_corruption(img, err, "Refblock at %#" PRIx64 " is not covered "
                                              "by the refcount structures", off);
            } else if (!(blk = qcache_get(img, &s->rc_cache, cover, true, err))) {
                ret = -EIO;
            } else if (qcow2_rc_get(s->refcount_order, blk, c % per_block) != 1) {
                ret = qcow2_signal_corruption(img, err, "Invalid refcount: %" PRIu64,
                                              qcow2_rc_get(s->refcount_order, blk, c % per_block));
            } else {
                qcow2_rc_set(s->refcount_order, blk, c % per_block, 0);
                qcache_mark_dirty(&s->rc_cache, blk);
                if (c < s->free_cluster_index) {
                    s->free_cluster_index = c;
                }
                qcache_forget(&s->rc_cache, off);
                file_write_zeroes(img->file, off, s->cluster_size, true, NULL);
            }
        }
        s->reftable[i] = 0;
    }
    free(keep);
    return ret;
}

int64_t qcow2_alloc_bytes(struct image *img, uint64_t size, struct err *err)
{
    struct qcow2 *s = qcow2_state(img);
    uint64_t cs = s->cluster_size, off = s->free_byte_offset, room;
    int ret;

    if (off) {
        uint64_t rc;
        ret = qcow2_get_refcount_locked(img, off >> s->cluster_bits, &rc, err);
        if (ret < 0) {
            return ret;
        }
        if (rc == qcow2_rc_max(s)) {
            off = 0;
        }
    }
    room = cs - (off & (cs - 1));
    do {
        if (!off || room < size) {
            int64_t found = find_free(img, 1, err);
            uint64_t next;
            if (found < 0) {
                return found;
            }
            next = (uint64_t)found << s->cluster_bits;
            if (!off || round_up(off, cs) != next) {
                off = next;
                room = cs;
            } else {
                room += cs;     /* the data runs on into the next cluster */
            }
        }
        ret = update_refcount(img, off >> s->cluster_bits,
                              ((off + size - 1) >> s->cluster_bits) - (off >> s->cluster_bits) + 1,
                              1, err);
        if (ret < 0 && ret != -EAGAIN) {
            return ret;
        }
        if (ret == -EAGAIN) {
            off = 0;
        }
    } while (ret == -EAGAIN);
    s->free_byte_offset = (off + size) & (cs - 1) ? off + size : 0;
    return (int64_t)off;
}

int qcow2_l2_entry_refcount(struct image *img, uint64_t l2e, int addend, struct err *err)
{
    struct qcow2 *s = qcow2_state(img);

    if (l2e & QCOW_OFLAG_COMPRESSED) {
        uint64_t host, sectors;

        qcow2_compressed_desc(s->cluster_bits, l2e, &host, &sectors);
        return qcow2_update_refcount(img, host & ~511ULL, sectors * 512, addend, err);
    }
    if (s->data_file || !(l2e & L2E_OFFSET_MASK)) {
        return 0;       /* external data clusters are not reference counted */
    }
    return qcow2_update_refcount(img, l2e & L2E_OFFSET_MASK, 1, addend, err);
}

int qcow2_free_l2_entry(struct image *img, uint64_t l2e, struct err *err)
{
    return qcow2_l2_entry_refcount(img, l2e, -1, err);
}

/*
 * Does the image look preallocated with metadata (clusters referenced but
 * never written, so the file has holes inside allocated clusters)? The
 * test, as qemu makes it: at least max(real * 10 / 9, real + 2) clusters of
 * the file have a non-zero refcount, where real is the number of clusters'
 * worth of bytes the host really stores. Block status then asks the file
 * which parts of a data cluster are holes.
 */
int qcow2_detect_metadata_prealloc(struct image *img, struct err *err)
{
    struct qcow2 *s = qcow2_state(img);
    int64_t real = file_allocated(img->file);
    int64_t flen = file_length(img->file, err);
    uint64_t real_clusters, threshold, end, count = 0;

    if (real < 0 || flen < 0) {
        return real < 0 ? (int)real : (int)flen;
    }
    real_clusters = (uint64_t)real / s->cluster_size;
    threshold = MAX(real_clusters * 10 / 9, real_clusters + 2);
    end = round_up((uint64_t)flen, s->cluster_size) / s->cluster_size;
    for (uint64_t i = 0; i < end && count < threshold; i++) {
        uint64_t rc;
        int ret = qcow2_get_refcount(img, i, &rc, err);
        if (ret < 0) {
            return ret;
        }
        count += rc != 0;
    }
    return count >= threshold;
}
