/*
 * check.c - qcow2 consistency check and repair, with qemu-img check's
 * semantics, messages and counters.
 *
 * The check rebuilds every reference count from the metadata (header,
 * active and snapshot L1 tables, their L2 tables and data clusters,
 * compressed clusters, the snapshot table, the refcount table and blocks,
 * the encryption header, the bitmap directory, tables and data) into an
 * array laid out exactly as refcount blocks are on disk, then compares it
 * with the stored refcounts. The array's layout lets a rebuild write its
 * slices as new refcount blocks unchanged.
 *
 * Steps, in qemu's order:
 *   1. the snapshot table (its header pointer re-read: open in check mode
 *      does not validate it), entries cut or trimmed under -r all;
 *   2. count references (structural errors reported on the way; -r all
 *      turns unaligned preallocated entries into zero clusters and grows
 *      the file for refcount blocks beyond its end);
 *   3. compare: leaks and refcounts too low or too high, fixed as -r
 *      allows, or the whole refcount structure rebuilt when a cluster in
 *      use has refcount 0 or a refcount block is itself damaged;
 *   4. COPIED flags of the active L1 and L2 entries;
 *   5. the snapshot table rewritten if it had to be repaired;
 *   6. after a repair with nothing left wrong, the dirty and corrupt bits
 *      are cleared.
 * Messages go to stderr as qemu prints them; the caller prints the
 * summary from struct check_result.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../engine/size.h"
#include "../../engine/util.h"
#include "qcow2_int.h"

#define L1E_RESERVED_MASK 0x7f000000000001ffULL
#define L2E_STD_RESERVED_MASK 0x3f000000000001feULL
#define REFT_OFFSET_MASK 0xfffffffffffffe00ULL
#define REFT_RESERVED_MASK 0x1ffULL
#define L2_BITMAP_ALL_ALLOC 0xffffffffULL
#define L2_BITMAP_ALL_ZEROES (0xffffffffULL << 32)
#define SN_MAX_COUNT 65536u
#define SN_HEADER_BYTES 40u
#define SN_EXTRA_NEEDED 16u         /* vm_state_size_large and disk_size */
#define MAX_L1_ENTRIES (QCOW2_MAX_L1_BYTES / 8)

/* what a reference walk keeps */
struct chk {
    struct image *img;
    struct qcow2 *s;
    struct check_result *res;
    unsigned fix;
    uint8_t *rc;            /* counted refcounts, refcount-block layout */
    uint64_t nb;            /* clusters the array covers */
    int64_t file_len;       /* of the image file (changes only when check grows it) */
    bool rebuild;           /* the refcount structure must be rebuilt */
};

enum cluster_type { CT_UNALLOCATED, CT_ZERO_PLAIN, CT_ZERO_ALLOC, CT_NORMAL, CT_COMPRESSED };

static uint64_t size_to_clusters(const struct qcow2 *s, uint64_t size)
{
    return (size + s->cluster_size - 1) >> s->cluster_bits;
}

/* Bytes of an array counting n clusters: whole refcount blocks. */
static uint64_t array_bytes(const struct qcow2 *s, uint64_t n)
{
    uint64_t bits = n << s->refcount_order;
    return size_to_clusters(s, DIV_ROUND_UP(bits, 8)) * s->cluster_size;
}

/* Let the array count n clusters (new room reads 0). */
static int array_resize(struct chk *c, uint64_t n)
{
    uint64_t old = array_bytes(c->s, c->nb), want = array_bytes(c->s, n);

    if (want != old) {
        uint8_t *p;
        if (want > SIZE_MAX) {
            return -ENOMEM;
        }
        p = realloc(c->rc, (size_t)want);
        if (!p) {
            return -ENOMEM;
        }
        if (want > old) {
            memset(p + old, 0, (size_t)(want - old));
        }
        c->rc = p;
    }
    c->nb = n;
    return 0;
}

static uint64_t get_rc(const struct chk *c, uint64_t i)
{
    return qcow2_rc_get(c->s->refcount_order, c->rc, i);
}

static void set_rc(struct chk *c, uint64_t i, uint64_t v)
{
    qcow2_rc_set(c->s->refcount_order, c->rc, i, v);
}

static int64_t file_len(struct chk *c)
{
    if (c->file_len < 0) {
        c->file_len = file_length(c->img->file, NULL);
    }
    return c->file_len;
}

/* Count one more reference to every cluster of [offset, offset+size). */
static int inc_refs(struct chk *c, uint64_t offset, uint64_t size)
{
    struct qcow2 *s = c->s;
    uint64_t start, last;
    int64_t flen;

    if ((int64_t)size <= 0) {
        return 0;
    }
    flen = file_len(c);
    if (flen < 0) {
        return (int)flen;
    }
    /* the last cluster may be partly beyond the end of the file, not more */
    if ((int64_t)(offset + size - (uint64_t)flen) >= (int64_t)s->cluster_size) {
        fprintf(stderr, "ERROR: counting reference for region exceeding the end of the file by "
                "one cluster or more: offset 0x%" PRIx64 " size 0x%" PRIx64 "\n", offset, size);
        c->res->corruptions++;
        return 0;
    }
    start = offset & ~(s->cluster_size - 1);
    last = (offset + size - 1) & ~(s->cluster_size - 1);
    for (uint64_t co = start; co <= last; co += s->cluster_size) {
        uint64_t k = co >> s->cluster_bits, v;

        if (k >= c->nb && array_resize(c, k + 1) < 0) {
            c->res->check_errors++;
            return -ENOMEM;
        }
        v = get_rc(c, k);
        if (v == qcow2_rc_max(s)) {
            fprintf(stderr, "ERROR: overflow cluster offset=0x%" PRIx64 "\n", co);
            fprintf(stderr, "Use %s amend to increase the refcount entry width or %s convert to "
                    "create a clean copy if the image cannot be opened for writing\n", prog_name,
                    prog_name);
            c->res->corruptions++;
            continue;
        }
        set_rc(c, k, v + 1);
        if (co + s->cluster_size < co) {
            break;
        }
    }
    return 0;
}

static enum cluster_type cluster_type(const struct qcow2 *s, uint64_t e)
{
    if (e & QCOW_OFLAG_COMPRESSED) {
        return CT_COMPRESSED;
    }
    if ((e & QCOW_OFLAG_ZERO) && !s->extended_l2) {
        return (e & L2E_OFFSET_MASK) ? CT_ZERO_ALLOC : CT_ZERO_PLAIN;
    }
    if (!(e & L2E_OFFSET_MASK)) {
        /* offset 0 is valid in an external data file, told apart by COPIED */
        return (s->data_file && (e & QCOW_OFLAG_COPIED)) ? CT_NORMAL : CT_UNALLOCATED;
    }
    return CT_NORMAL;
}

/*
 * Read metadata from the image file. Bytes past its end read as zeros
 * without being read (as qemu's file layer returns them); beyond qemu's
 * largest offset the read is an I/O error, as in qemu.
 */
static int chk_pread(struct chk *c, uint64_t off, void *buf, uint64_t len)
{
    int64_t flen = file_len(c);
    uint64_t have;

    if (off > QEMU_MAX_FILE_OFFSET || len > QEMU_MAX_FILE_OFFSET - off) {
        return -EIO;
    }
    if (flen < 0) {
        return (int)flen;
    }
    have = off >= (uint64_t)flen ? 0 : MIN(len, (uint64_t)flen - off);
    memset((uint8_t *)buf + have, 0, (size_t)(len - have));
    return have ? file_pread(c->img->file, off, buf, (size_t)have, NULL) : 0;
}

static uint64_t l2e_at(const struct qcow2 *s, const uint8_t *t, uint64_t i)
{
    return be64(t + i * s->l2_entry_size);
}

static uint64_t l2bm_at(const struct qcow2 *s, const uint8_t *t, uint64_t i)
{
    return s->extended_l2 ? be64(t + i * s->l2_entry_size + 8) : 0;
}

/* The host range of a compressed cluster descriptor. */
static void compressed_range(const struct qcow2 *s, uint64_t e, uint64_t *off, uint64_t *len)
{
    uint64_t sectors;

    qcow2_compressed_desc(s->cluster_bits, e, off, &sectors);
    *len = sectors * 512 - (*off & 511);
}

/* An L2 table changed outside the cache: drop the cached copy. */
static void forget_l2(struct qcow2 *s, uint64_t l2_off)
{
    qcache_forget(&s->l2_cache, l2_off);
}

/*
 * -r all on an unaligned entry of a preallocated (zero) cluster: make it a
 * plain zero cluster. Returns 0 when fixed; *overlap set when the write was
 * refused because the entry lies on other metadata.
 */
static int fix_l2_entry_by_zero(struct chk *c, uint64_t l2_off, uint8_t *t, uint64_t i,
                                bool active, bool *overlap)
{
    struct qcow2 *s = c->s;
    uint64_t at = l2_off + i * s->l2_entry_size;
    struct err err = { 0 };
    int ret;

    if (s->extended_l2) {
        uint64_t bm = l2bm_at(s, t, i);
        bm |= bm << 32;
        bm &= L2_BITMAP_ALL_ZEROES;
        put_be64(t + i * s->l2_entry_size, 0);
        put_be64(t + i * s->l2_entry_size + 8, bm);
    } else {
        put_be64(t + i * s->l2_entry_size, QCOW_OFLAG_ZERO);
    }
    ret = qcow2_check_overlap_ign(c->img, at, s->l2_entry_size,
                                  active ? QOL_ACTIVE_L2 : QOL_INACTIVE_L2, NULL);
    *overlap = ret < 0;
    if (ret < 0) {
        fprintf(stderr, "ERROR: Overlap check failed\n");
        c->res->check_errors++;
        return ret;
    }
    ret = file_pwrite(c->img->file, at, t + i * s->l2_entry_size, s->l2_entry_size, &err);
    if (ret == 0) {
        ret = file_flush(c->img->file, &err);
    }
    if (ret < 0) {
        fprintf(stderr, "ERROR: Failed to overwrite L2 table entry: %s\n", strerror(-ret));
        c->res->check_errors++;
        return ret;
    }
    forget_l2(s, l2_off);
    c->res->corruptions--;
    c->res->corruptions_fixed++;
    return 0;
}

static int check_l2(struct chk *c, uint64_t l2_off, bool frag, bool active)
{
    struct qcow2 *s = c->s;
    uint64_t n = 1ULL << s->l2_bits, next_contiguous = 0;
    uint8_t *t = xmalloc(s->cluster_size);
    int ret = chk_pread(c, l2_off, t, s->cluster_size);

    if (ret < 0) {
        fprintf(stderr, "ERROR: I/O error in check_refcounts_l2\n");
        c->res->check_errors++;
        goto out;
    }
    for (uint64_t i = 0; i < n; i++) {
        uint64_t e = l2e_at(s, t, i), bm = l2bm_at(s, t, i);
        enum cluster_type type = cluster_type(s, e);

        if (type != CT_COMPRESSED && (e & L2E_STD_RESERVED_MASK)) {
            fprintf(stderr, "ERROR found l2 entry with reserved bits set: %" PRIx64 "\n", e);
            c->res->corruptions++;
        }
        switch (type) {
        case CT_COMPRESSED: {
            uint64_t coff, clen;

            compressed_range(s, e, &coff, &clen);
            if (e & QCOW_OFLAG_COPIED) {
                fprintf(stderr, "ERROR: coffset=0x%" PRIx64 ": copied flag must never be set "
                        "for compressed clusters\n", coff);
                e &= ~QCOW_OFLAG_COPIED;
                c->res->corruptions++;
            }
            if (s->data_file) {
                fprintf(stderr, "ERROR compressed cluster %d with data file, entry=0x%" PRIx64
                        "\n", (int)i, e);
                c->res->corruptions++;
                break;
            }
            if (bm) {
                fprintf(stderr, "ERROR compressed cluster %d with non-zero subcluster "
                        "allocation bitmap, entry=0x%" PRIx64 "\n", (int)i, e);
                c->res->corruptions++;
                break;
            }
            compressed_range(s, e, &coff, &clen);
            ret = inc_refs(c, coff, clen);
            if (ret < 0) {
                goto out;
            }
            if (frag) {
                c->res->allocated_clusters++;
                c->res->compressed_clusters++;
                /* compressed clusters count as fragmented */
                c->res->fragmented_clusters++;
            }
            break;
        }
        case CT_ZERO_ALLOC:
        case CT_NORMAL: {
            uint64_t off = e & L2E_OFFSET_MASK;

            if ((bm >> 32) & bm) {
                c->res->corruptions++;
                fprintf(stderr, "ERROR offset=%" PRIx64 ": Allocated cluster has corrupted "
                        "subcluster allocation bitmap\n", off);
            }
            if (off & (s->cluster_size - 1)) {
                bool has_data = s->extended_l2 ? (bm & L2_BITMAP_ALL_ALLOC) != 0
                                               : !(e & QCOW_OFLAG_ZERO);
                c->res->corruptions++;
                if (!has_data) {
                    fprintf(stderr, "%s offset=%" PRIx64 ": Preallocated cluster is not "
                            "properly aligned; L2 entry corrupted.\n",
                            (c->fix & CHECK_FIX_ERRORS) ? "Repairing" : "ERROR", off);
                    if (c->fix & CHECK_FIX_ERRORS) {
                        bool overlap = false;
                        ret = fix_l2_entry_by_zero(c, l2_off, t, i, active, &overlap);
                        if (overlap) {
                            goto out;   /* something is badly wrong: stop with this table */
                        }
                        if (ret == 0) {
                            continue;   /* no longer in use */
                        }
                        ret = 0;
                    }
                } else {
                    fprintf(stderr, "ERROR offset=%" PRIx64 ": Data cluster is not properly "
                            "aligned; L2 entry corrupted.\n", off);
                }
            }
            if (frag) {
                c->res->allocated_clusters++;
                if (next_contiguous && off != next_contiguous) {
                    c->res->fragmented_clusters++;
                }
                next_contiguous = off + s->cluster_size;
            }
            if (!s->data_file) {
                ret = inc_refs(c, off, s->cluster_size);
                if (ret < 0) {
                    goto out;
                }
            }
            break;
        }
        case CT_ZERO_PLAIN:
            break;
        case CT_UNALLOCATED:
            if (bm & L2_BITMAP_ALL_ALLOC) {
                c->res->corruptions++;
                fprintf(stderr, "ERROR: Unallocated cluster has non-zero subcluster allocation "
                        "map\n");
            }
            break;
        }
    }
    ret = 0;
out:
    free(t);
    return ret;
}

static int check_l1(struct chk *c, uint64_t l1_off, uint32_t l1_size, bool frag, bool active)
{
    uint8_t *raw;
    int ret;

    if (!l1_size) {
        return 0;
    }
    ret = inc_refs(c, l1_off, (uint64_t)l1_size * 8);
    if (ret < 0) {
        return ret;
    }
    raw = xmalloc((size_t)l1_size * 8);
    ret = chk_pread(c, l1_off, raw, (uint64_t)l1_size * 8);
    if (ret < 0) {
        fprintf(stderr, "ERROR: I/O error in check_refcounts_l1\n");
        c->res->check_errors++;
        free(raw);
        return ret;
    }
    for (uint32_t i = 0; i < l1_size; i++) {
        uint64_t e = be64(raw + (size_t)i * 8), l2_off;

        if (!e) {
            continue;
        }
        if (e & L1E_RESERVED_MASK) {
            fprintf(stderr, "ERROR found L1 entry with reserved bits set: %" PRIx64 "\n", e);
            c->res->corruptions++;
        }
        l2_off = e & L1E_OFFSET_MASK;
        ret = inc_refs(c, l2_off, c->s->cluster_size);
        if (ret == 0 && (l2_off & (c->s->cluster_size - 1))) {
            fprintf(stderr, "ERROR l2_offset=%" PRIx64 ": Table is not cluster aligned; L1 "
                    "entry corrupted\n", l2_off);
            c->res->corruptions++;
        }
        if (ret == 0) {
            ret = check_l2(c, l2_off, frag, active);
        }
        if (ret < 0) {
            break;
        }
    }
    free(raw);
    return ret;
}

/* Bitmap directory, bitmap tables and the clusters they point to. */
static int count_bitmaps(struct chk *c)
{
    struct qcow2 *s = c->s;
    int ret;

    if (!s->nb_bitmaps) {
        return 0;
    }
    ret = inc_refs(c, s->bitmap_dir_offset, s->bitmap_dir_size);
    if (ret < 0) {
        return ret;
    }
    if (c->img->broken) {
        /* qemu reloads the directory, which needs the image's length: a fatal corruption
         * event left it unusable, so the directory does not load */
        c->res->corruptions++;
        return -EINVAL;
    }
    for (uint32_t b = 0; b < s->nb_bitmaps; b++) {
        const struct qcow2_bitmap *bm = &s->bitmaps[b];
        uint64_t n = bm->table_size;
        uint8_t *tab;
        ret = inc_refs(c, bm->table_offset, n * 8);
        if (ret < 0) {
            return ret;
        }
        tab = xmalloc((size_t)n * 8);
        ret = chk_pread(c, bm->table_offset, tab, n * 8);
        for (uint64_t i = 0; ret == 0 && i < n; i++) {
            uint64_t e = be64(tab + i * 8), off = e & 0x00fffffffffffe00ULL;
            if ((e & 0xff000000000001feULL) ||
                (off && ((e & 1) || (off & (s->cluster_size - 1))))) {
                ret = -EINVAL;      /* a table that does not load */
            }
        }
        if (ret < 0) {
            free(tab);
            c->res->corruptions++;
            return ret;
        }
        for (uint64_t i = 0; i < n; i++) {
            uint64_t off = be64(tab + i * 8) & 0x00fffffffffffe00ULL;
            if (off) {
                ret = inc_refs(c, off, s->cluster_size);
                if (ret < 0) {
                    free(tab);
                    return ret;
                }
            }
        }
        free(tab);
    }
    return 0;
}

/* The refcount blocks themselves: well-formed, inside the file, counted once. */
static int check_refblocks(struct chk *c)
{
    struct qcow2 *s = c->s;
    int ret;

    for (size_t i = 0; i < s->reftable_entries; i++) {
        uint64_t off = s->reftable[i] & REFT_OFFSET_MASK, cl = off >> s->cluster_bits;

        if (s->reftable[i] & REFT_RESERVED_MASK) {
            fprintf(stderr, "ERROR refcount table entry %zu has reserved bits set\n", i);
            c->res->corruptions++;
            c->rebuild = true;
            continue;
        }
        if (off & (s->cluster_size - 1)) {
            fprintf(stderr, "ERROR refcount block %zu is not cluster aligned; refcount table "
                    "entry corrupted\n", i);
            c->res->corruptions++;
            c->rebuild = true;
            continue;
        }
        if (cl >= c->nb) {
            c->res->corruptions++;
            fprintf(stderr, "%s refcount block %zu is outside image\n",
                    (c->fix & CHECK_FIX_ERRORS) ? "Repairing" : "ERROR", i);
            if (c->fix & CHECK_FIX_ERRORS) {
                struct err err = { 0 };
                int64_t len;

                if (off > (uint64_t)INT64_MAX - s->cluster_size) {
                    ret = -EINVAL;
                } else {
                    ret = file_truncate(c->img->file, off + s->cluster_size, PREALLOC_OFF, &err);
                    c->file_len = -1;
                    if (ret < 0) {
                        error_printf("%s", err.msg);
                    }
                }
                if (ret == 0) {
                    len = file_length(c->img->file, NULL);
                    ret = len < 0 ? (int)len : 0;
                    if (ret == 0 && array_resize(c, size_to_clusters(s, (uint64_t)len)) < 0) {
                        c->res->check_errors++;
                        return -ENOMEM;
                    }
                    if (ret == 0 && cl >= c->nb) {
                        ret = -EINVAL;
                    }
                }
                if (ret == 0) {
                    c->res->corruptions--;
                    c->res->corruptions_fixed++;
                    ret = inc_refs(c, off, s->cluster_size);
                    if (ret < 0) {
                        return ret;
                    }
                    continue;
                }
                c->rebuild = true;
                fprintf(stderr, "ERROR could not resize image: %s\n", strerror(-ret));
            }
            continue;
        }
        if (off) {
            ret = inc_refs(c, off, s->cluster_size);
            if (ret < 0) {
                return ret;
            }
            if (get_rc(c, cl) != 1) {
                fprintf(stderr, "ERROR refcount block %zu refcount=%" PRIu64 "\n", i,
                        get_rc(c, cl));
                c->res->corruptions++;
                c->rebuild = true;
            }
        }
    }
    return 0;
}

static int calculate_refcounts(struct chk *c)
{
    struct qcow2 *s = c->s;
    int ret;

    ret = inc_refs(c, 0, s->cluster_size);                     /* header */
    if (ret == 0) {
        ret = check_l1(c, s->l1_offset, s->l1_size, true, true);
    }
    if (ret < 0) {
        return ret;
    }
    if (s->data_file && s->nb_snapshots) {
        fprintf(stderr, "ERROR %" PRIu32 " snapshots in image with data file\n", s->nb_snapshots);
        c->res->corruptions++;
    }
    for (uint32_t i = 0; i < s->nb_snapshots; i++) {
        const struct qcow2_snapshot *sn = &s->snapshots[i];

        if (sn->l1_offset & (s->cluster_size - 1)) {
            fprintf(stderr, "ERROR snapshot %s (%s) l1_offset=%#" PRIx64 ": L1 table is not "
                    "cluster aligned; snapshot table entry corrupted\n", sn->id, sn->name,
                    sn->l1_offset);
            c->res->corruptions++;
            continue;
        }
        if (sn->l1_size > MAX_L1_ENTRIES) {
            fprintf(stderr, "ERROR snapshot %s (%s) l1_size=%#" PRIx32 ": L1 table is too "
                    "large; snapshot table entry corrupted\n", sn->id, sn->name, sn->l1_size);
            c->res->corruptions++;
            continue;
        }
        ret = check_l1(c, sn->l1_offset, sn->l1_size, false, false);
        if (ret < 0) {
            return ret;
        }
    }
    ret = inc_refs(c, s->snapshots_offset, s->snapshots_size);
    if (ret == 0) {
        ret = inc_refs(c, s->reftable_offset, (uint64_t)s->reftable_clusters * s->cluster_size);
    }
    if (ret == 0 && s->has_crypto_ext && s->crypto_length) {
        ret = inc_refs(c, s->crypto_offset, s->crypto_length);
    }
    if (ret == 0) {
        ret = count_bitmaps(c);
    }
    if (ret == 0) {
        ret = check_refblocks(c);
    }
    return ret;
}

/*
 * The stored refcount of cluster i, as qemu reads it: 0 beyond the table
 * or without a block; an unaligned block is a corruption event.
 */
static int stored_refcount(struct chk *c, uint64_t i, uint64_t *out, struct err *err)
{
    struct qcow2 *s = c->s;
    uint64_t per = qcow2_rc_per_block(s), ti = i / per, off;
    const uint8_t *blk;

    *out = 0;
    if (ti >= s->reftable_entries) {
        return 0;
    }
    off = s->reftable[ti] & REFT_OFFSET_MASK;
    if (!off) {
        return 0;
    }
    if (off & (s->cluster_size - 1)) {
        return qcow2_signal_corruption(c->img, err, "Refblock offset %#" PRIx64 " unaligned "
                                       "(reftable index: %#" PRIx64 ")", off, ti);
    }
    if (off > QEMU_MAX_FILE_OFFSET - s->cluster_size) {
        return err_set(err, -EIO, "Input/output error");
    }
    blk = qcache_get(c->img, &s->rc_cache, off, true, err);
    if (!blk) {
        return err_isset(err) ? err->code : -EIO;
    }
    *out = qcow2_rc_get(s->refcount_order, blk, i % per);
    return 0;
}

static int write_stored_refcount(struct chk *c, uint64_t i, uint64_t v, struct err *err)
{
    struct qcow2 *s = c->s;
    uint64_t per = qcow2_rc_per_block(s), off = s->reftable[i / per] & REFT_OFFSET_MASK;
    uint8_t *blk = qcache_get(c->img, &s->rc_cache, off, true, err);

    if (!blk) {
        return -EIO;
    }
    qcow2_rc_set(s->refcount_order, blk, i % per, v);
    qcache_mark_dirty(&s->rc_cache, blk);
    if (v == 0) {
        if (i < s->free_cluster_index) {
            s->free_cluster_index = i;
        }
        qcache_forget(&s->l2_cache, i << s->cluster_bits);
        /* a freed cluster is discarded in the file, as qemu always does for check's frees */
        file_write_zeroes(c->img->file, i << s->cluster_bits, s->cluster_size, true, NULL);
    }
    return 0;
}

static void compare_refcounts(struct chk *c, unsigned fix, uint64_t *highest)
{
    struct check_result *res = c->res;

    *highest = 0;
    for (uint64_t i = 0; i < c->nb; i++) {
        uint64_t have, want;
        uint64_t *fixed = NULL;
        struct err err = { 0 };
        int ret = stored_refcount(c, i, &have, &err);

        if (ret < 0) {
            fprintf(stderr, "Can't get refcount for cluster %" PRIu64 ": %s\n", i,
                    strerror(-ret));
            res->check_errors++;
            continue;
        }
        want = get_rc(c, i);
        if (have || want) {
            *highest = i;
        }
        if (have == want) {
            continue;
        }
        if (have == 0) {
            c->rebuild = true;
        } else if (have > want && (fix & CHECK_FIX_LEAKS)) {
            fixed = &res->leaks_fixed;
        } else if (have < want && (fix & CHECK_FIX_ERRORS)) {
            fixed = &res->corruptions_fixed;
        }
        fprintf(stderr, "%s cluster %" PRIu64 " refcount=%" PRIu64 " reference=%" PRIu64 "\n",
                fixed ? "Repairing" : have < want ? "ERROR" : "Leaked", i, have, want);
        if (fixed && write_stored_refcount(c, i, want, &err) == 0) {
            (*fixed)++;
            continue;
        }
        if (have < want) {
            res->corruptions++;
        } else {
            res->leaks++;
        }
    }
}

/*
 * Find count free clusters in a row in the counted array from *first_free
 * on (growing it past the end when needed), give them refcount 1 and
 * return the offset of the first.
 */
static int64_t alloc_in_array(struct chk *c, uint64_t count, uint64_t *first_free)
{
    uint64_t cl = *first_free, run = 0;
    bool first_gap = true;

    for (; cl < c->nb && run < count; cl++) {
        if (!get_rc(c, cl)) {
            run++;
            if (first_gap) {
                *first_free = cl;
                first_gap = false;
            }
        } else {
            run = 0;
        }
    }
    if (run < count && array_resize(c, cl + count - run) < 0) {
        return -ENOMEM;
    }
    cl -= run;
    for (uint64_t i = 0; i < count; i++) {
        set_rc(c, cl + i, 1);
    }
    return (int64_t)(cl << c->s->cluster_bits);
}

/*
 * Write refcount blocks for the clusters in [first, end) that are in use:
 * each block is the matching slice of the array, in a cluster allocated
 * in the array (which may call for yet another block). Returns 1 when the
 * new table had to grow, 0 when not, negative errno.
 */
static int write_refblocks(struct chk *c, uint64_t first, uint64_t end, uint64_t **table,
                           uint64_t *entries, struct err *err)
{
    struct qcow2 *s = c->s;
    uint64_t per = qcow2_rc_per_block(s), first_free = 0;
    bool grown = false;

    for (uint64_t cl = first; cl < end; cl++) {
        uint64_t bi, bstart, boff;
        int ret;

        if (!get_rc(c, cl)) {
            continue;
        }
        bi = cl / per;
        bstart = bi * per;
        if (*entries > bi && (*table)[bi]) {
            boff = (*table)[bi];
        } else {
            int64_t at;

            /* never inside a block already written */
            if (first_free < bstart) {
                first_free = bstart;
            }
            at = alloc_in_array(c, 1, &first_free);
            if (at < 0) {
                return err_set(err, (int)at, "ERROR allocating refblock: %s",
                               strerror((int)-at));
            }
            boff = (uint64_t)at;
            if ((boff >> s->cluster_bits) >= end) {
                end = (boff >> s->cluster_bits) + 1;   /* its own count must be written */
            }
            if (*entries <= bi) {
                uint64_t n = round_up((bi + 1) * 8, s->cluster_size) / 8;
                *table = xrealloc(*table, (size_t)n * 8);
                memset(*table + *entries, 0, (size_t)(n - *entries) * 8);
                *entries = n;
                grown = true;
            }
            (*table)[bi] = boff;
        }
        ret = qcow2_check_overlap_ign(c->img, boff, s->cluster_size, 0, NULL);
        if (ret == 0) {
            ret = file_pwrite(c->img->file, boff, c->rc + bi * s->cluster_size,
                              (size_t)s->cluster_size, NULL);
        }
        if (ret < 0) {
            return err_set(err, ret, "ERROR writing refblock: %s", strerror(-ret));
        }
        cl = bstart + per - 1;      /* this block is done */
    }
    return grown;
}

/*
 * A new refcount structure from the counted array: blocks for every block
 * range in use, then a table big enough for them in free clusters (which
 * may need more blocks: repeated until the table stops growing), written,
 * and the header switched to it. The old structures become leaks.
 */
static int rebuild_refcounts(struct chk *c, struct err *err)
{
    struct qcow2 *s = c->s;
    uint64_t *table = NULL, entries = 0, tbl_off = 0, tbl_clusters = 0;
    uint8_t *raw, hdr[12];
    int grown, ret;

    ret = qcache_flush(c->img, &s->rc_cache, err);
    if (ret < 0) {
        c->res->check_errors++;
        return ret;
    }
    qcache_drop_all(&s->rc_cache);

    grown = write_refblocks(c, 0, c->nb, &table, &entries, err);
    while (grown > 0) {
        uint64_t first_free = 0;
        int64_t at;

        tbl_clusters = size_to_clusters(s, entries * 8);
        at = alloc_in_array(c, tbl_clusters, &first_free);
        if (at < 0) {
            free(table);
            c->res->check_errors++;
            return err_set(err, (int)at, "ERROR allocating reftable: %s", strerror((int)-at));
        }
        tbl_off = (uint64_t)at;
        grown = write_refblocks(c, tbl_off >> s->cluster_bits,
                                (tbl_off >> s->cluster_bits) + tbl_clusters, &table, &entries,
                                err);
    }
    if (grown < 0) {
        free(table);
        c->res->check_errors++;
        return grown;
    }
    raw = xmalloc((size_t)entries * 8);
    for (uint64_t i = 0; i < entries; i++) {
        put_be64(raw + i * 8, table[i]);
    }
    ret = qcow2_check_overlap_ign(c->img, tbl_off, entries * 8, 0, NULL);
    if (ret == 0) {
        ret = file_pwrite(c->img->file, tbl_off, raw, (size_t)entries * 8, NULL);
    }
    free(raw);
    if (ret < 0) {
        free(table);
        return err_set(err, ret, "ERROR writing reftable: %s", strerror(-ret));
    }
    put_be64(hdr, tbl_off);
    put_be32(hdr + 8, (uint32_t)tbl_clusters);
    ret = file_pwrite(c->img->file, QH_REFTABLE_OFFSET, hdr, sizeof(hdr), NULL);
    if (ret == 0) {
        ret = file_flush(c->img->file, NULL);
    }
    if (ret < 0) {
        free(table);
        return err_set(err, ret, "ERROR setting reftable: %s", strerror(-ret));
    }
    free(s->reftable);
    s->reftable = table;
    s->reftable_entries = entries;
    s->reftable_offset = tbl_off;
    s->reftable_clusters = (uint32_t)tbl_clusters;
    s->free_cluster_index = 0;
    return 0;
}

static int write_l1_entry(struct image *img, uint32_t i)
{
    struct qcow2 *s = qcow2_state(img);
    uint8_t be[8];
    int ret = qcow2_check_overlap_ign(img, s->l1_offset + (uint64_t)i * 8, 8, QOL_ACTIVE_L1,
                                      NULL);

    put_be64(be, s->l1[i]);
    if (ret == 0) {
        ret = file_pwrite(img->file, s->l1_offset + (uint64_t)i * 8, be, 8, NULL);
    }
    if (ret == 0) {
        ret = file_flush(img->file, NULL);
    }
    return ret;
}

/* COPIED must be set exactly when the refcount is 1 (active L1 and its L2 tables). */
static int check_copied(struct chk *c)
{
    struct qcow2 *s = c->s;
    struct check_result *res = c->res;
    uint64_t n = 1ULL << s->l2_bits;
    uint8_t *t = xmalloc(s->cluster_size);
    bool repair;
    int ret = 0;

    if (c->fix & CHECK_FIX_ERRORS) {
        repair = true;
    } else if (c->fix & CHECK_FIX_LEAKS) {
        /* only when the refcounts can be trusted after their own repair */
        repair = !res->check_errors && !res->corruptions && !res->leaks;
    } else {
        repair = false;
    }
    for (uint32_t i = 0; i < s->l1_size; i++) {
        uint64_t l1e = s->l1[i], l2_off = l1e & L1E_OFFSET_MASK, rc;
        uint64_t dirty = 0;
        struct err err = { 0 };

        if (!l2_off) {
            continue;
        }
        if (stored_refcount(c, l2_off >> s->cluster_bits, &rc, &err) < 0) {
            continue;
        }
        if ((rc == 1) != ((l1e & QCOW_OFLAG_COPIED) != 0)) {
            res->corruptions++;
            fprintf(stderr, "%s OFLAG_COPIED L2 cluster: l1_index=%" PRIu32 " l1_entry=%" PRIx64
                    " refcount=%" PRIu64 "\n", repair ? "Repairing" : "ERROR", i, l1e, rc);
            if (repair) {
                s->l1[i] = rc == 1 ? l1e | QCOW_OFLAG_COPIED : l1e & ~QCOW_OFLAG_COPIED;
                ret = write_l1_entry(c->img, i);
                if (ret < 0) {
                    res->check_errors++;
                    goto out;
                }
                res->corruptions--;
                res->corruptions_fixed++;
            }
        }
        ret = chk_pread(c, l2_off, t, s->cluster_size);
        if (ret < 0) {
            fprintf(stderr, "ERROR: Could not read L2 table: %s\n", strerror(-ret));
            res->check_errors++;
            goto out;
        }
        for (uint64_t j = 0; j < n; j++) {
            uint64_t e = l2e_at(s, t, j);
            enum cluster_type type = cluster_type(s, e);

            if (type != CT_NORMAL && type != CT_ZERO_ALLOC) {
                continue;
            }
            if (s->data_file) {
                rc = 1;
            } else if (stored_refcount(c, (e & L2E_OFFSET_MASK) >> s->cluster_bits, &rc,
                                       &err) < 0) {
                err_clear(&err);
                continue;
            }
            if ((rc == 1) != ((e & QCOW_OFLAG_COPIED) != 0)) {
                res->corruptions++;
                fprintf(stderr, "%s OFLAG_COPIED data cluster: l2_entry=%" PRIx64 " refcount=%"
                        PRIu64 "\n", repair ? "Repairing" : "ERROR", e, rc);
                if (repair) {
                    put_be64(t + j * s->l2_entry_size,
                             rc == 1 ? e | QCOW_OFLAG_COPIED : e & ~QCOW_OFLAG_COPIED);
                    dirty++;
                }
            }
        }
        if (dirty) {
            ret = qcow2_check_overlap_ign(c->img, l2_off, s->cluster_size, QOL_ACTIVE_L2, NULL);
            if (ret < 0) {
                fprintf(stderr, "ERROR: Could not write L2 table; metadata overlap check "
                        "failed: %s\n", strerror(-ret));
                res->check_errors++;
                goto out;
            }
            ret = file_pwrite(c->img->file, l2_off, t, (size_t)s->cluster_size, NULL);
            if (ret < 0) {
                fprintf(stderr, "ERROR: Could not write L2 table: %s\n", strerror(-ret));
                res->check_errors++;
                goto out;
            }
            forget_l2(s, l2_off);
            res->corruptions -= dirty;
            res->corruptions_fixed += dirty;
        }
    }
    ret = 0;
out:
    free(t);
    return ret;
}

static int check_refcounts(struct image *img, struct check_result *res, unsigned fix)
{
    struct qcow2 *s = qcow2_state(img);
    struct chk c = { .img = img, .s = s, .res = res, .fix = fix, .file_len = -1 };
    struct check_result pre;
    struct err err = { 0 };
    uint64_t highest = 0;
    int64_t size = file_len(&c);
    int ret;

    if (size < 0) {
        res->check_errors++;
        return (int)size;
    }
    if (size_to_clusters(s, (uint64_t)size) > INT32_MAX) {
        res->check_errors++;
        return -EFBIG;
    }
    ret = qcow2_load_reftable(img, &err);
    if (ret < 0) {
        res->check_errors++;
        return ret;
    }
    res->total_clusters = size_to_clusters(s, img->size);
    if (array_resize(&c, size_to_clusters(s, (uint64_t)size)) < 0) {
        res->check_errors++;
        return -ENOMEM;
    }
    ret = calculate_refcounts(&c);
    if (ret < 0) {
        goto out;
    }
    /* kept: when only fixing, compare runs again from here */
    pre = *res;
    compare_refcounts(&c, 0, &highest);

    if (c.rebuild && (fix & CHECK_FIX_ERRORS)) {
        struct check_result old = *res;
        uint64_t fresh_leaks = 0;

        fprintf(stderr, "Rebuilding refcount structure\n");
        ret = rebuild_refcounts(&c, &err);
        if (ret < 0) {
            error_printf("%s", err.msg);
            goto out;
        }
        res->corruptions = 0;
        res->leaks = 0;
        /* the references are counted again for the new structure */
        c.rebuild = false;
        c.file_len = -1;        /* the new structures may lie past the old end */
        memset(c.rc, 0, (size_t)array_bytes(s, c.nb));
        c.fix = 0;
        ret = calculate_refcounts(&c);
        c.fix = fix;
        if (ret < 0) {
            goto out;
        }
        if (fix & CHECK_FIX_LEAKS) {
            /* the old structures are leaks now: free them, keeping the first count */
            struct check_result saved = *res;
            memset(res, 0, sizeof(*res));
            compare_refcounts(&c, CHECK_FIX_LEAKS, &highest);
            if (c.rebuild) {
                fprintf(stderr, "ERROR rebuilt refcount structure is still broken\n");
            }
            fresh_leaks = res->leaks;
            *res = saved;
        }
        if (res->corruptions < old.corruptions) {
            res->corruptions_fixed += old.corruptions - res->corruptions;
        }
        if (res->leaks < old.leaks) {
            res->leaks_fixed += old.leaks - res->leaks;
        }
        res->leaks += fresh_leaks;
    } else if (fix) {
        if (c.rebuild) {
            fprintf(stderr, "ERROR need to rebuild refcount structures\n");
            res->check_errors++;
            ret = -EIO;
            goto out;
        }
        if (res->leaks || res->corruptions) {
            *res = pre;
            compare_refcounts(&c, fix, &highest);
        }
    }
    ret = check_copied(&c);
    if (ret < 0) {
        goto out;
    }
    res->image_end_offset = (highest + 1) * s->cluster_size;
out:
    free(c.rc);
    return ret;
}

/*
 * The snapshot table as check sees it: the header's pointer re-read,
 * validated, and the entries read (under -r all, entries past qemu's
 * limits dropped or trimmed, and the header's count lowered).
 */
static int check_read_snapshots(struct image *img, struct check_result *res, unsigned fix)
{
    struct qcow2 *s = qcow2_state(img);
    bool repair = fix & CHECK_FIX_ERRORS;
    uint32_t reduced = 0, dropped = 0;
    uint8_t ptr[12];
    struct err err = { 0 };
    int ret = file_pread(img->file, QH_NB_SNAPSHOTS, ptr, sizeof(ptr), &err);

    if (ret < 0) {
        res->check_errors++;
        fprintf(stderr, "ERROR failed to read the snapshot table pointer from the image "
                "header: %s\n", strerror(-ret));
        return ret;
    }
    qcow2_free_snapshots(s);
    s->nb_snapshots = be32(ptr);
    s->snapshots_offset = be64(ptr + 4);
    s->snapshots_size = 0;
    if (s->nb_snapshots > SN_MAX_COUNT && repair) {
        fprintf(stderr, "Discarding %" PRIu32 " overhanging snapshots\n",
                s->nb_snapshots - SN_MAX_COUNT);
        reduced += s->nb_snapshots - SN_MAX_COUNT;
        s->nb_snapshots = SN_MAX_COUNT;
    }
    if (s->nb_snapshots > SN_MAX_COUNT ||
        (uint64_t)INT64_MAX - (uint64_t)s->nb_snapshots * SN_HEADER_BYTES < s->snapshots_offset ||
        (s->snapshots_offset & (s->cluster_size - 1))) {
        res->check_errors++;
        if (s->nb_snapshots > SN_MAX_COUNT) {
            error_printf("ERROR snapshot table too large");
            fprintf(stderr, "You can force-remove all %" PRIu32 " overhanging snapshots with %s "
                    "check -r all\n", s->nb_snapshots - SN_MAX_COUNT, prog_name);
            ret = -EFBIG;
        } else {
            error_printf("ERROR snapshot table offset invalid");
            ret = -EINVAL;
        }
        s->snapshots_offset = 0;
        s->nb_snapshots = 0;
        return ret;
    }
    ret = qcow2_read_snapshot_table(img, repair, &reduced, &dropped, &err);
    if (ret < 0) {
        res->check_errors++;
        error_printf("ERROR failed to read the snapshot table: %s", err.msg);
        qcow2_free_snapshots(s);
        s->snapshots_offset = 0;
        s->nb_snapshots = 0;
        return ret;
    }
    res->corruptions += reduced + dropped;
    if (reduced) {
        /* the header's count now, so that the reference walk sees the same table */
        uint8_t be[4];
        put_be32(be, s->nb_snapshots);
        ret = file_pwrite(img->file, QH_NB_SNAPSHOTS, be, sizeof(be), &err);
        if (ret == 0) {
            ret = file_flush(img->file, &err);
        }
        if (ret < 0) {
            res->check_errors++;
            fprintf(stderr, "ERROR failed to update the snapshot count in the image header: "
                    "%s\n", strerror(-ret));
            return ret;
        }
        res->corruptions_fixed += reduced;
        res->corruptions -= reduced;
    }
    if (s->version >= 3) {
        for (uint32_t i = 0; i < s->nb_snapshots; i++) {
            if (s->snapshots[i].extra_size < SN_EXTRA_NEEDED) {
                res->corruptions++;
                fprintf(stderr, "%s snapshot table entry %" PRIu32 " is incomplete\n",
                        repair ? "Repairing" : "ERROR", i);
            }
        }
    }
    return 0;
}

static void add_result(struct check_result *to, const struct check_result *from, bool all)
{
    to->corruptions += from->corruptions;
    to->leaks += from->leaks;
    to->check_errors += from->check_errors;
    to->corruptions_fixed += from->corruptions_fixed;
    to->leaks_fixed += from->leaks_fixed;
    if (all) {
        to->image_end_offset = from->image_end_offset;
        to->total_clusters = from->total_clusters;
        to->allocated_clusters = from->allocated_clusters;
        to->fragmented_clusters = from->fragmented_clusters;
        to->compressed_clusters = from->compressed_clusters;
    }
}

/* Clear an incompatible bit (dirty, corrupt) by rewriting the header, as qemu does. */
static int clear_incompat(struct image *img, uint64_t bit, struct err *err)
{
    struct qcow2 *s = qcow2_state(img);
    int ret;

    if (!(s->incompat & bit)) {
        return 0;
    }
    s->incompat &= ~bit;
    ret = qcow2_flush_locked(img, err);
    if (ret == 0) {
        ret = qcow2_update_header(img, img->backing_file, s->backing_fmt, err);
    }
    if (bit == QCOW2_INCOMPAT_DIRTY) {
        s->marked_dirty = false;
    }
    return ret;
}

int qcow2_check_locked(struct image *img, struct check_result *res, unsigned fix,
                       struct err *err)
{
    struct qcow2 *s = qcow2_state(img);
    struct check_result sn = { 0 }, rc = { 0 };
    int ret;

    memset(res, 0, sizeof(*res));
    if (img->broken) {
        return err_set(err, -ENOMEDIUM, "No medium found");
    }
    ret = check_read_snapshots(img, &sn, fix);
    if (ret < 0) {
        add_result(res, &sn, false);
        return err_set(err, ret, "%s", strerror(-ret));
    }
    ret = check_refcounts(img, &rc, fix);
    add_result(res, &rc, true);
    if (ret < 0) {
        add_result(res, &sn, false);
        return err_set(err, ret, "%s", strerror(-ret));
    }
    if (sn.corruptions && (fix & CHECK_FIX_ERRORS)) {
        struct err werr = { 0 };
        ret = qcow2_write_snapshots(img, &werr);
        if (ret < 0) {
            sn.check_errors++;
            fprintf(stderr, "ERROR failed to update snapshot table: %s\n", strerror(-ret));
            add_result(res, &sn, false);
            return err_set(err, ret, "%s", strerror(-ret));
        }
        sn.corruptions_fixed += sn.corruptions;
        sn.corruptions = 0;
    }
    add_result(res, &sn, false);
    if (img->broken) {
        /* a fatal corruption event: as qemu, nothing cached reaches the file any more */
        return 0;
    }
    ret = qcow2_flush_locked(img, err);
    if (ret < 0) {
        return ret;
    }
    if (fix && res->check_errors == 0 && res->corruptions == 0) {
        ret = clear_incompat(img, QCOW2_INCOMPAT_DIRTY, err);
        if (ret == 0) {
            ret = clear_incompat(img, QCOW2_INCOMPAT_CORRUPT, err);
        }
    }
    (void)s;
    return ret;
}

int qcow2_check(struct image *img, struct check_result *res, unsigned fix, struct err *err)
{
    int ret;

    pthread_mutex_lock(&img->lock);
    ret = qcow2_check_locked(img, res, fix, err);
    pthread_mutex_unlock(&img->lock);
    return ret;
}
