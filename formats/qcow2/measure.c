/*
 * measure.c - how big a new qcow2 image gets (`qemu-img measure -O qcow2`).
 *
 * A fully allocated image of virtual size V (rounded up to clusters) with
 * cluster size C holds, per the layout in docs/interop/qcow2.txt:
 *   - the header cluster;
 *   - one L2 entry (8 bytes, 16 with extended L2) per guest cluster, in
 *     whole L2 tables;
 *   - one L1 entry (8 bytes) per L2 table, in whole clusters;
 *   - refcount blocks counting every cluster, themselves and the refcount
 *     table included, and the table pointing at them: the smallest fixed
 *     point of blocks = ceil((clusters + blocks + table) / entries_per_block),
 *     table = ceil(blocks / (C / 8));
 *   - the V bytes of data clusters.
 * "required" is that metadata plus the data clusters the source actually
 * uses: every cluster holding data that does not read as zeros, through the
 * whole backing chain. With a backing file for the new image qemu assumes
 * nothing is shared and counts every cluster; preallocation=falloc/full
 * counts them all too. Persistent bitmaps of a qcow2 v3 source are sized
 * separately ("bitmaps").
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "../../engine/size.h"
#include "../../engine/util.h"
#include "qcow2_int.h"

#define L1E_SIZE 8
#define REFTABLE_ENTRY_SIZE 8
#define BITMAP_TABLE_ENTRY_SIZE 8
#define BITMAP_DIR_ENTRY_FIXED 24

extern const struct fmt_driver fmt_qcow2;

static uint64_t div_round_up(uint64_t a, uint64_t b)
{
    return a / b + (a % b != 0);
}

/* Refcount table and block clusters needed to count clusters other clusters and themselves. */
static uint64_t refcount_clusters(uint64_t clusters, uint64_t cluster_size, unsigned order)
{
    uint64_t per_block = (cluster_size * 8) >> order;
    uint64_t per_table = cluster_size / REFTABLE_ENTRY_SIZE;
    uint64_t blocks = 0, table = 0, total = clusters, prev;

    do {
        prev = total;
        blocks = div_round_up(clusters + blocks + table, per_block);
        table = div_round_up(blocks, per_table);
        total = clusters + blocks + table;
    } while (total != prev);
    return blocks + table;
}

/* Bytes of a fully allocated image of virtual_size (a multiple of the cluster size). */
static uint64_t fully_allocated_size(uint64_t virtual_size, const struct qcow2_create_params *p)
{
    uint64_t cs = p->cluster_size;
    uint64_t l2e_size = p->extended_l2 ? 16 : 8;
    uint64_t entries_per_l2 = cs / l2e_size;
    uint64_t meta = cs;                                    /* header */
    uint64_t l2_entries, l1_entries;

    l2_entries = round_up(virtual_size / cs, entries_per_l2);
    meta += l2_entries * l2e_size;
    l1_entries = round_up(l2_entries / entries_per_l2, cs / L1E_SIZE);
    meta += l1_entries * L1E_SIZE;
    meta += refcount_clusters((meta + virtual_size) / cs, cs, p->refcount_order) * cs;
    return meta + virtual_size;
}

/* Bytes of data clusters the source's guest data occupies. */
static int data_bytes(struct image *src, uint64_t cs, uint64_t *out, struct err *err)
{
    uint64_t off = 0, size = src->size, total = 0;

    while (off < size) {
        struct block_status bs;
        int ret = image_block_status(src, off, size - off, &bs, err);

        if (ret < 0) {
            err_clear(err);
            return err_set(err, ret, "Unable to get block status: %s", strerror(-ret));
        }
        if (!(bs.flags & BS_ZERO) && (bs.flags & BS_DATA) && (bs.flags & BS_ALLOCATED)) {
            /* the clusters this run touches; the rest of its last one is covered */
            uint64_t start = round_down(off, cs);
            uint64_t end = round_up(off + bs.pnum, cs);

            total += end - start;
            off = end;
        } else {
            off += bs.pnum;
        }
    }
    *out = total;
    return 0;
}

/* Space for the source's persistent bitmaps in a new image with clusters of cs. */
static uint64_t bitmaps_bytes(struct image *src, uint64_t cs)
{
    struct qcow2 *s = qcow2_state(src);
    uint64_t total = 0, dir = 0;

    for (uint32_t i = 0; i < s->nb_bitmaps; i++) {
        const struct qcow2_bitmap *b = &s->bitmaps[i];
        uint64_t granularity = 1ULL << MIN(b->granularity_bits, 63u);
        uint64_t bits = div_round_up(src->size, granularity);
        uint64_t clusters = div_round_up(div_round_up(bits, 8), cs);

        total += clusters * cs;                                        /* the bitmap */
        total += round_up(clusters * BITMAP_TABLE_ENTRY_SIZE, cs);     /* its table */
        dir += round_up(BITMAP_DIR_ENTRY_FIXED + strlen(b->name), 8);  /* directory entry */
    }
    return total + round_up(dir, cs);
}

int qcow2_measure(struct opts *opts, struct image *src, struct measure_result *out,
                  struct err *err)
{
    struct qcow2_create_params p;
    uint64_t virtual_size, required = 0, l2_tables, entries_per_l2;
    int ret;

    ret = qcow2_parse_measure_opts(opts, &p, err);
    if (ret < 0) {
        return ret;
    }
    /* the size option is checked even when a source gives the real size */
    virtual_size = round_up(p.size, p.cluster_size);
    entries_per_l2 = p.cluster_size / (p.extended_l2 ? 16 : 8);
    l2_tables = div_round_up(virtual_size / p.cluster_size, entries_per_l2);
    if (l2_tables > QCOW2_MAX_L1_BYTES / L1E_SIZE) {
        return err_set(err, -EFBIG,
                       "The image size is too large (try using a larger cluster size)");
    }
    if (src) {
        virtual_size = round_up(src->size, p.cluster_size);
        if (p.backing_file) {
            /* what the backing file shares with the source is unknown: count it all */
            required = virtual_size;
        } else {
            ret = data_bytes(src, p.cluster_size, &required, err);
            if (ret < 0) {
                return ret;
            }
        }
    }
    if (p.prealloc == PREALLOC_FALLOC || p.prealloc == PREALLOC_FULL) {
        required = virtual_size;
    }
    memset(out, 0, sizeof(*out));
    out->fully_allocated = fully_allocated_size(virtual_size, &p);
    /* metadata of the fully allocated image, but only the data clusters in use */
    out->required = out->fully_allocated - virtual_size + required;
    if (p.version >= 3 && src && src->drv == &fmt_qcow2 && qcow2_state(src)->version >= 3) {
        out->has_bitmaps = true;
        out->bitmaps = bitmaps_bytes(src, p.cluster_size);
    }
    return 0;
}
