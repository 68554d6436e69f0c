/*
 * create.c - `create -f qcow2`: a new image laid out byte for byte as
 * qemu-img 7.2 lays it out (docs/interop/qcow2.txt for the format; the
 * layout below was read off images qemu-img made).
 *
 * qemu builds an image in steps, and where each structure lands follows
 * from the order of the steps and from its cluster allocator:
 *  1. the files: the image (and the external data file) are created empty;
 *     when a later step fails, both are deleted again;
 *  2. cluster 0 holds the header, cluster 1 a one-cluster refcount table,
 *     cluster 2 its first refcount block; these three clusters are then
 *     allocated like any other clusters;
 *  3. the L1 table is allocated for the virtual size (not padded to a
 *     cluster in the file);
 *  4. preallocation:
 *     - metadata: L2 tables and data clusters are allocated in guest order,
 *       each L2 table just before the data clusters it maps; a partial last
 *       cluster (subcluster with extended L2) is completed with zeros, and
 *       the file is extended to the end of the last data byte;
 *     - falloc/full: a new refcount table (and blocks) able to count every
 *       cluster is placed after the last used cluster, the data clusters
 *       follow it in one run (fallocated, or written with zeros), and the
 *       L2 tables go where the allocator finds room (the old refcount table
 *       first);
 *     - with an external data file, data clusters sit at their guest
 *       offsets in that file and are not reference counted; falloc/full
 *       work like metadata and then grow the data file in that mode;
 *  5. the header: fields, then the header extensions in qemu's order
 *     (backing format, external data file name, feature name table when
 *     clusters are larger than 4 KiB, end marker), then the backing file
 *     name.
 *
 * The allocator is qemu's documented behaviour: the search for free
 * clusters starts at a moving index (reset to a cluster when it is freed);
 * a refcount block is allocated on demand where the search finds room, and
 * when that happens during an allocation the allocation is undone and
 * searched again; a refcount table too small for a new block is replaced
 * by a bigger one placed with its blocks after everything counted so far.
 * Refcount blocks, the refcount table, L1 and L2 tables are kept in memory
 * and written out at the end; clusters qemu writes when it allocates them
 * are written (as zeros) at the same moment here, so that the file grows
 * in the same order and preallocation sees the same file length.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../engine/size.h"
#include "../../engine/util.h"
#include "qcow2_int.h"

#define L1E_SIZE 8
#define REFTABLE_ENTRY_SIZE 8
#define MAX_L1_ENTRIES (QCOW2_MAX_L1_BYTES / L1E_SIZE)
/* qemu compares a count of refcount blocks and table entries with this byte limit */
#define MAX_REFTABLE_COUNT QCOW2_MAX_REFTABLE_BYTES
/* preallocation allocates at most INT_MAX bytes (whole clusters) at a time */
#define PREALLOC_CHUNK 0x7fffffffULL
#define V3_HEADER_LENGTH 112
#define FEATURE_NAME_LEN 46
#define FEATURE_TABLE_MIN_CLUSTER 8192
#define FIRST_BLOCK 4096

/* An image under construction. */
struct builder {
    const struct qcow2_create_params *p;
    struct file *f;             /* the image */
    struct file *data;          /* the external data file, or NULL */
    struct err *err;
    uint64_t cs;                /* cluster size */
    unsigned rb_bits;           /* log2 of refcounts per refcount block */
    uint64_t free_cluster;      /* the search for free clusters starts here */
    uint8_t *zero;              /* one cluster of zeros */

    uint64_t *rt;               /* refcount table */
    uint64_t rt_entries;
    uint64_t rt_offset;
    uint8_t **rb;               /* refcount blocks, by table index */
    uint64_t rb_cap;

    uint64_t *l1;
    uint64_t l1_entries;
    uint64_t l1_offset;
    uint64_t l2_entries;        /* entries per L2 table */
    unsigned l2e_size;          /* 8, or 16 with extended L2 */
    uint8_t *l2;                /* the L2 table being filled */
    uint64_t l2_offset;         /* its host offset, 0 = none */
};

static uint64_t div_round_up(uint64_t a, uint64_t b)
{
    return a / b + (a % b != 0);
}

/* ------------------------------------------------------------------------ */
/* refcounts                                                                  */

static uint64_t rc_get(const struct builder *b, const uint8_t *blk, uint64_t i)
{
    return qcow2_rc_get(b->p->refcount_order, blk, i);
}

static void rc_set(const struct builder *b, uint8_t *blk, uint64_t i, uint64_t v)
{
    qcow2_rc_set(b->p->refcount_order, blk, i, v);
}

static uint64_t refcount(const struct builder *b, uint64_t cluster)
{
    uint64_t ti = cluster >> b->rb_bits;

    if (ti >= b->rt_entries || !b->rt[ti]) {
        return 0;
    }
    return rc_get(b, b->rb[ti], cluster & ((1ULL << b->rb_bits) - 1));
}

/* Keep buf as the refcount block of table index ti. */
static void rb_store(struct builder *b, uint64_t ti, uint8_t *buf)
{
    if (ti >= b->rb_cap) {
        uint64_t cap = MAX(ti + 1, b->rb_cap * 2);
        b->rb = xrealloc(b->rb, cap * sizeof(*b->rb));
        memset(b->rb + b->rb_cap, 0, (cap - b->rb_cap) * sizeof(*b->rb));
        b->rb_cap = cap;
    }
    free(b->rb[ti]);
    b->rb[ti] = buf;
}

/* The first run of n clusters with no references, from the search index on. */
static uint64_t find_free(struct builder *b, uint64_t n)
{
    uint64_t i;

again:
    for (i = 0; i < n; i++) {
        if (refcount(b, b->free_cluster++)) {
            goto again;
        }
    }
    return b->free_cluster - n;
}

/* Refcount blocks that count clusters plus themselves and their table. */
static uint64_t refblocks_needed(const struct builder *b, uint64_t clusters, bool generous)
{
    return qcow2_refblocks_needed(b->cs, b->rb_bits, clusters, generous);
}

static int update_refcount(struct builder *b, uint64_t first, uint64_t n, int addend);
static int64_t refcount_area(struct builder *b, uint64_t start, uint64_t additional, bool exact,
                             uint64_t new_index, uint64_t new_offset);

/* Write the refcount table as it stands to its place in the file. */
static int write_reftable(struct builder *b)
{
    uint8_t *buf = xmalloc(b->rt_entries * REFTABLE_ENTRY_SIZE);
    int ret;

    for (uint64_t i = 0; i < b->rt_entries; i++) {
        put_be64(buf + i * REFTABLE_ENTRY_SIZE, b->rt[i]);
    }
    ret = file_pwrite(b->f, b->rt_offset, buf, b->rt_entries * REFTABLE_ENTRY_SIZE, b->err);
    free(buf);
    return ret;
}

/*
 * Make sure the refcount block counting cluster exists. A new block goes
 * where the search for free clusters finds room; if it lies in its own
 * range it counts itself, else its reference is added first (which may
 * need yet another block). Returns 0 when the block existed, -EAGAIN when
 * one was made (the caller's allocation may overlap it: search again).
 */
static int alloc_refcount_block(struct builder *b, uint64_t cluster)
{
    uint64_t ti = cluster >> b->rb_bits, per_block = 1ULL << b->rb_bits;
    uint64_t blk, used;
    uint8_t *buf;
    int64_t end;
    int ret;

    if (ti < b->rt_entries && b->rt[ti]) {
        return 0;
    }
    blk = find_free(b, 1);
    if ((blk >> b->rb_bits) != ti) {
        ret = update_refcount(b, blk, 1, 1);
        if (ret < 0) {
            return ret;
        }
    }
    buf = xcalloc(1, b->cs);
    if ((blk >> b->rb_bits) == ti) {
        rc_set(b, buf, blk & (per_block - 1), 1);
    }
    ret = file_pwrite(b->f, blk * b->cs, buf, b->cs, b->err);
    rb_store(b, ti, buf);
    if (ret < 0) {
        return ret;
    }
    if (ti < b->rt_entries) {
        b->rt[ti] = blk * b->cs;
        return -EAGAIN;
    }
    /* the table is full: a bigger one, with blocks counting it, after all that is counted */
    used = div_round_up(MAX(cluster + 1, blk + 1), per_block);
    end = refcount_area(b, used * per_block * b->cs, 0, false, ti, blk * b->cs);
    return end < 0 ? (int)end : -EAGAIN;
}

/*
 * Add addend (+1 or -1) to the refcounts of n clusters from first. On
 * failure the clusters done so far are restored; -EAGAIN means a refcount
 * block was allocated on the way and the caller should search again.
 */
static int update_refcount(struct builder *b, uint64_t first, uint64_t n, int addend)
{
    uint64_t c, last_ti = UINT64_MAX;
    int ret = 0;

    for (c = first; c < first + n; c++) {
        uint64_t ti = c >> b->rb_bits, v;

        if (ti != last_ti) {
            ret = alloc_refcount_block(b, c);
            if (ret == -EAGAIN && b->free_cluster > first) {
                b->free_cluster = first;
            }
            if (ret < 0) {
                break;
            }
            last_ti = ti;
        }
        v = refcount(b, c) + (uint64_t)(int64_t)addend;
        rc_set(b, b->rb[ti], c & ((1ULL << b->rb_bits) - 1), v);
        if (v == 0 && c < b->free_cluster) {
            b->free_cluster = c;
        }
    }
    if (ret < 0 && c > first) {
        update_refcount(b, first, c - first, -addend);
    }
    return ret;
}

/*
 * The refcount blocks of table entries from..total-1 for refcount_area():
 * missing ones are made from start on; every cluster in [start, end) gets
 * a reference.
 */
static void fill_area_blocks(struct builder *b, uint64_t *table, uint64_t from, uint64_t total,
                             uint64_t start, uint64_t end)
{
    uint64_t per_block = 1ULL << b->rb_bits, next = start;

    for (uint64_t i = from; i < total; i++) {
        uint64_t first_covered = i * per_block * b->cs, j, stop;

        if (!table[i]) {
            rb_store(b, i, xcalloc(1, b->cs));
            table[i] = next;
            next += b->cs;
        }
        if (first_covered >= end) {
            continue;
        }
        j = first_covered < start ? (start - first_covered) / b->cs : 0;
        stop = MIN((end - first_covered) / b->cs, per_block);
        for (; j < stop; j++) {
            rc_set(b, b->rb[i], j, 1);
        }
    }
}

/*
 * Place a new refcount table at start, preceded by the new refcount blocks
 * needed to count everything up to start, additional clusters after it,
 * and the new structures themselves (which all get a reference). exact:
 * no room to spare in the table. new_offset, when not 0, is a block just
 * allocated for table index new_index. The old table is freed. Returns the
 * end of the new structures.
 */
static int64_t refcount_area(struct builder *b, uint64_t start, uint64_t additional, bool exact,
                             uint64_t new_index, uint64_t new_offset)
{
    uint64_t per_block = 1ULL << b->rb_bits;
    uint64_t total = refblocks_needed(b, start / b->cs + additional, !exact);
    uint64_t from = start / b->cs / per_block, fresh = 0;
    uint64_t entries, clusters, table_offset, end, old_offset, old_entries;
    uint64_t *table;
    int ret;

    if (total > MAX_REFTABLE_COUNT) {
        return err_set(b->err, -EFBIG, "Refcount table too large");
    }
    entries = exact ? total : total + div_round_up(total, 2);
    entries = round_up(entries, b->cs / REFTABLE_ENTRY_SIZE);
    if (entries > MAX_REFTABLE_COUNT) {
        return err_set(b->err, -EFBIG, "Refcount table too large");
    }
    clusters = entries * REFTABLE_ENTRY_SIZE / b->cs;
    table = xcalloc(entries, sizeof(*table));
    memcpy(table, b->rt, MIN(entries, b->rt_entries) * sizeof(*table));
    if (new_offset) {
        table[new_index] = new_offset;
    }
    for (uint64_t i = from; i < total; i++) {
        fresh += !table[i];
    }
    table_offset = start + fresh * b->cs;
    end = table_offset + clusters * b->cs;
    fill_area_blocks(b, table, from, total, start, end);
    for (uint64_t i = from; i < total && fresh; i++) {
        if (table[i] >= start && table[i] < table_offset) {
            ret = file_pwrite(b->f, table[i], b->rb[i], b->cs, b->err);
            if (ret < 0) {
                free(table);
                return ret;
            }
        }
    }
    /* the old table stays in the file as it was last written */
    ret = write_reftable(b);
    old_offset = b->rt_offset;
    old_entries = b->rt_entries;
    free(b->rt);
    b->rt = table;
    b->rt_entries = entries;
    b->rt_offset = table_offset;
    if (ret == 0) {
        ret = write_reftable(b);
    }
    if (ret == 0) {
        ret = update_refcount(b, old_offset / b->cs,
                              old_entries * REFTABLE_ENTRY_SIZE / b->cs, -1);
    }
    return ret < 0 ? ret : (int64_t)end;
}

/* Allocate n clusters where the search finds them; returns the first one's index. */
static int64_t alloc_clusters(struct builder *b, uint64_t n)
{
    uint64_t first;
    int ret;

    do {
        first = find_free(b, n);
        ret = update_refcount(b, first, n, 1);
    } while (ret == -EAGAIN);
    return ret < 0 ? ret : (int64_t)first;
}

/* Allocate the free clusters among n from first, up to the first used one; returns how many. */
static int64_t alloc_clusters_at(struct builder *b, uint64_t first, uint64_t n)
{
    uint64_t i;
    int ret;

    do {
        for (i = 0; i < n && !refcount(b, first + i); i++) {
        }
        ret = update_refcount(b, first, i, 1);
    } while (ret == -EAGAIN);
    return ret < 0 ? ret : (int64_t)i;
}

/* ------------------------------------------------------------------------ */
/* L1 and L2 tables                                                           */

static int alloc_l1(struct builder *b, uint64_t entries)
{
    int64_t c;
    uint8_t *zeros;
    int ret;

    if (entries == 0) {
        return 0;
    }
    c = alloc_clusters(b, div_round_up(entries * L1E_SIZE, b->cs));
    if (c < 0) {
        return (int)c;
    }
    b->l1 = xcalloc(entries, sizeof(*b->l1));
    b->l1_entries = entries;
    b->l1_offset = (uint64_t)c * b->cs;
    zeros = xcalloc(entries, L1E_SIZE);
    ret = file_pwrite(b->f, b->l1_offset, zeros, entries * L1E_SIZE, b->err);
    free(zeros);
    return ret;
}

static int flush_l2(struct builder *b)
{
    int ret = 0;

    if (b->l2_offset) {
        ret = file_pwrite(b->f, b->l2_offset, b->l2, b->cs, b->err);
        b->l2_offset = 0;
    }
    return ret;
}

/* Make the L2 table mapping guest offset off the current one, allocating it if needed. */
static int get_l2(struct builder *b, uint64_t off)
{
    uint64_t i = off / b->cs / b->l2_entries;
    int64_t c;
    int ret;

    /* tables are filled in guest order: a table that exists is the current one */
    if (b->l1[i]) {
        return 0;
    }
    ret = flush_l2(b);
    if (ret < 0) {
        return ret;
    }
    c = alloc_clusters(b, 1);
    if (c < 0) {
        return (int)c;
    }
    b->l2_offset = (uint64_t)c * b->cs;
    memset(b->l2, 0, b->cs);
    b->l1[i] = b->l2_offset | QCOW_OFLAG_COPIED;
    return file_pwrite(b->f, b->l2_offset, b->zero, b->cs, b->err);
}

/* Map n clusters from guest offset off (within one L2 table) to host offset host. */
static void map_clusters(struct builder *b, uint64_t off, uint64_t n, uint64_t host)
{
    uint64_t idx = off / b->cs % b->l2_entries;

    for (uint64_t k = 0; k < n; k++) {
        /* extended L2: the subcluster bitmap stays 0, as qemu leaves it */
        put_be64(b->l2 + (idx + k) * b->l2e_size, (host + k * b->cs) | QCOW_OFLAG_COPIED);
    }
}

/* ------------------------------------------------------------------------ */
/* preallocation                                                              */

/* Grow f to len in mode prealloc; from an empty file the first block is written, as qemu does. */
static int grow_file(struct file *f, uint64_t len, enum prealloc prealloc, struct err *err)
{
    int64_t cur = file_length(f, err);
    int ret;

    if (cur < 0) {
        return (int)cur;
    }
    ret = file_truncate(f, len, prealloc, err);
    if (ret == 0 && cur == 0 && len > 0 && prealloc != PREALLOC_FULL) {
        static const uint8_t zeros[FIRST_BLOCK];
        ret = file_pwrite(f, 0, zeros, len < FIRST_BLOCK ? 512 : FIRST_BLOCK, err);
    }
    return ret;
}

/*
 * Host clusters for n guest clusters from guest offset at: anywhere for the
 * first piece of a run (*next set to it), else only from *next on, as many
 * as are free there (*got may be 0). In a data file, guest offsets.
 */
static int alloc_data(struct builder *b, uint64_t at, uint64_t n, bool first, uint64_t *next,
                      int64_t *got)
{
    int64_t c;

    if (b->data) {
        *next = at;
        *got = (int64_t)n;
        return 0;
    }
    if (first) {
        c = alloc_clusters(b, n);
        if (c < 0) {
            return (int)c;
        }
        *next = (uint64_t)c * b->cs;
        *got = (int64_t)n;
        return 0;
    }
    *got = alloc_clusters_at(b, *next / b->cs, n);
    return *got < 0 ? (int)*got : 0;
}

/*
 * Allocate guest [off, off+*len) as far as one contiguous host run goes,
 * mapping it; *len is cut to what was mapped, *host is where it starts.
 */
static int alloc_run(struct builder *b, uint64_t off, uint64_t *len, uint64_t *host)
{
    uint64_t done = 0, next = 0;
    int ret;

    while (done < *len) {
        uint64_t at = off + done;
        uint64_t n = MIN(div_round_up(*len - done, b->cs),
                         b->l2_entries - at / b->cs % b->l2_entries);
        int64_t got = 0;

        ret = get_l2(b, at);
        if (ret < 0) {
            return ret;
        }
        ret = alloc_data(b, at, n, done == 0, &next, &got);
        if (ret < 0) {
            return ret;
        }
        if (got == 0) {
            break;
        }
        if (done == 0) {
            *host = next;
        }
        map_clusters(b, at, (uint64_t)got, next);
        next += (uint64_t)got * b->cs;
        done = MIN(*len, done + (uint64_t)got * b->cs);
    }
    *len = done;
    return 0;
}

/* Zeros after the end of the guest data, up to the end of its (sub)cluster. */
static int complete_last_cluster(struct builder *b, uint64_t host_end)
{
    uint64_t gran = b->p->extended_l2 ? b->cs / QCOW2_SUBCLUSTERS : b->cs;
    uint64_t tail = round_up(host_end, gran) - host_end;

    if (tail == 0) {
        return 0;
    }
    return file_pwrite(b->data ? b->data : b->f, host_end, b->zero, tail, b->err);
}

/*
 * Preallocation with metadata (and every mode with a data file): map the
 * whole guest range, then extend the file holding the data to its end.
 */
static int prealloc_metadata(struct builder *b, enum prealloc mode)
{
    uint64_t off = 0, host = 0, len = 0, size = b->p->size;
    struct file *f = b->data ? b->data : b->f;
    int64_t flen;
    int ret;

    while (off < size) {
        len = MIN(size - off, PREALLOC_CHUNK / b->cs * b->cs);
        ret = alloc_run(b, off, &len, &host);
        if (ret < 0) {
            return ret;
        }
        off += len;
        if (off == size) {
            ret = complete_last_cluster(b, host + len);
            if (ret < 0) {
                return ret;
            }
        }
    }
    flen = file_length(f, b->err);
    if (flen < 0) {
        return (int)flen;
    }
    if (host + len > (uint64_t)flen) {
        return grow_file(f, host + len, mode == PREALLOC_METADATA ? PREALLOC_OFF : mode, b->err);
    }
    return 0;
}

/* The last cluster that has a reference, among those the file holds. */
static uint64_t last_used_cluster(const struct builder *b, uint64_t file_len)
{
    for (uint64_t c = div_round_up(file_len, b->cs); c-- > 0;) {
        if (refcount(b, c)) {
            return c;
        }
    }
    return 0;
}

/* falloc/full: refcount structures, then every data cluster in one run, then the L2 tables. */
static int prealloc_data(struct builder *b, enum prealloc mode)
{
    uint64_t nb_data = div_round_up(b->p->size, b->cs);
    uint64_t nb_l2 = div_round_up(nb_data, b->l2_entries) + 1;
    uint64_t off = 0, host;
    int64_t flen = file_length(b->f, b->err), start, got;
    int ret;

    if (flen < 0) {
        return (int)flen;
    }
    start = refcount_area(b, (last_used_cluster(b, (uint64_t)flen) + 1) * b->cs,
                          nb_data + nb_l2, true, 0, 0);
    if (start < 0) {
        return (int)start;
    }
    got = alloc_clusters_at(b, (uint64_t)start / b->cs, nb_data);
    if (got < 0) {
        return (int)got;
    }
    if ((uint64_t)got != nb_data) {
        return err_set(b->err, -EIO, "Failed to resize refcount structures");
    }
    ret = file_truncate(b->f, (uint64_t)start + nb_data * b->cs, mode, b->err);
    for (host = (uint64_t)start; ret == 0 && nb_data;) {
        uint64_t n = MIN(nb_data, b->l2_entries - off / b->cs % b->l2_entries);

        ret = get_l2(b, off);
        if (ret == 0) {
            map_clusters(b, off, n, host);
        }
        off += n * b->cs;
        host += n * b->cs;
        nb_data -= n;
    }
    return ret;
}

static int preallocate(struct builder *b)
{
    enum prealloc mode = b->p->prealloc;

    if (b->p->data_file_raw && mode == PREALLOC_OFF) {
        mode = PREALLOC_METADATA;      /* the data file must be usable as raw */
    }
    switch (mode) {
    case PREALLOC_OFF:
        return b->data ? grow_file(b->data, b->p->size, PREALLOC_OFF, b->err) : 0;
    case PREALLOC_METADATA:
        return prealloc_metadata(b, mode);
    case PREALLOC_FALLOC:
    case PREALLOC_FULL:
        return b->data ? prealloc_metadata(b, mode) : prealloc_data(b, mode);
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* header                                                                     */

static bool has_feature_table(const struct qcow2_create_params *p)
{
    return p->version >= 3 && p->cluster_size >= FEATURE_TABLE_MIN_CLUSTER;
}

static size_t ext_size(size_t len)
{
    return 8 + round_up(len, 8);
}

/* Bytes the header, its extensions and the backing file name take. */
static uint64_t header_bytes(const struct qcow2_create_params *p, bool with_backing)
{
    uint64_t n = p->version >= 3 ? V3_HEADER_LENGTH : QH_V2_LENGTH;

    if (with_backing && p->backing_fmt) {
        n += ext_size(strlen(p->backing_fmt));
    }
    if (p->data_file) {
        n += ext_size(strlen(p->data_file));
    }
    if (has_feature_table(p)) {
        n += ext_size(QCOW2_NB_FEATURE_NAMES * (2 + FEATURE_NAME_LEN));
    }
    n += 8;
    if (with_backing) {
        n += strlen(p->backing_file);
    }
    return n;
}

static size_t put_ext(uint8_t *buf, size_t off, uint32_t type, const void *data, size_t len)
{
    put_be32(buf + off, type);
    put_be32(buf + off + 4, (uint32_t)len);
    memcpy(buf + off + 8, data, len);
    return off + ext_size(len);
}

static size_t put_feature_table(uint8_t *buf, size_t off)
{
    uint8_t table[QCOW2_NB_FEATURE_NAMES * (2 + FEATURE_NAME_LEN)] = { 0 };

    for (size_t i = 0; i < QCOW2_NB_FEATURE_NAMES; i++) {
        uint8_t *e = table + i * (2 + FEATURE_NAME_LEN);
        e[0] = qcow2_feature_names[i].type;
        e[1] = qcow2_feature_names[i].bit;
        memcpy(e + 2, qcow2_feature_names[i].name, strlen(qcow2_feature_names[i].name));
    }
    return put_ext(buf, off, QEXT_FEATURE_TABLE, table, sizeof(table));
}

static void put_v3_fields(const struct qcow2_create_params *p, uint8_t *h)
{
    uint64_t incompat = 0, autoclear = 0;

    incompat |= p->data_file ? QCOW2_INCOMPAT_DATA_FILE : 0;
    incompat |= p->compression_type ? QCOW2_INCOMPAT_COMPRESSION : 0;
    incompat |= p->extended_l2 ? QCOW2_INCOMPAT_EXTL2 : 0;
    autoclear |= p->data_file_raw ? QCOW2_AUTOCLEAR_DATA_FILE_RAW : 0;
    put_be64(h + QH_INCOMPAT, incompat);
    put_be64(h + QH_COMPAT, p->lazy_refcounts ? QCOW2_COMPAT_LAZY_REFCOUNTS : 0);
    put_be64(h + QH_AUTOCLEAR, autoclear);
    put_be32(h + QH_REFCOUNT_ORDER, p->refcount_order);
    put_be32(h + QH_HEADER_LENGTH, V3_HEADER_LENGTH);
    h[QH_COMPRESSION_TYPE] = p->compression_type;
}

/* The first cluster: header, extensions, end marker, backing file name. */
static void build_header(const struct builder *b, uint8_t *h)
{
    const struct qcow2_create_params *p = b->p;
    size_t off;

    memset(h, 0, b->cs);
    put_be32(h + QH_MAGIC, QCOW2_MAGIC);
    put_be32(h + QH_VERSION, p->version);
    put_be32(h + QH_CLUSTER_BITS, p->cluster_bits);
    put_be64(h + QH_SIZE, p->size);
    put_be32(h + QH_L1_SIZE, (uint32_t)b->l1_entries);
    put_be64(h + QH_L1_OFFSET, b->l1_offset);
    put_be64(h + QH_REFTABLE_OFFSET, b->rt_offset);
    put_be32(h + QH_REFTABLE_CLUSTERS, (uint32_t)(b->rt_entries * REFTABLE_ENTRY_SIZE / b->cs));
    off = QH_V2_LENGTH;
    if (p->version >= 3) {
        put_v3_fields(p, h);
        off = V3_HEADER_LENGTH;
    }
    if (p->backing_file && p->backing_fmt) {
        off = put_ext(h, off, QEXT_BACKING_FORMAT, p->backing_fmt, strlen(p->backing_fmt));
    }
    if (p->data_file) {
        off = put_ext(h, off, QEXT_DATA_FILE, p->data_file, strlen(p->data_file));
    }
    if (has_feature_table(p)) {
        off = put_feature_table(h, off);
    }
    off += 8;       /* end of extensions */
    if (p->backing_file) {
        put_be64(h + QH_BACKING_OFFSET, off);
        put_be32(h + QH_BACKING_SIZE, (uint32_t)strlen(p->backing_file));
        memcpy(h + off, p->backing_file, strlen(p->backing_file));
    }
}

/* ------------------------------------------------------------------------ */
/* building                                                                   */

static void builder_free(struct builder *b)
{
    for (uint64_t i = 0; i < b->rb_cap; i++) {
        free(b->rb[i]);
    }
    free(b->rb);
    free(b->rt);
    free(b->l1);
    free(b->l2);
    free(b->zero);
}

/* Clusters 0-2: header, refcount table, first refcount block; all three counted. */
static int start_image(struct builder *b)
{
    int64_t c;
    int ret;

    b->rt_entries = b->cs / REFTABLE_ENTRY_SIZE;
    b->rt = xcalloc(b->rt_entries, sizeof(*b->rt));
    b->rt_offset = b->cs;
    b->rt[0] = 2 * b->cs;
    rb_store(b, 0, xcalloc(1, b->cs));
    ret = file_pwrite(b->f, 0, b->zero, b->cs, b->err);
    if (ret == 0) {
        ret = write_reftable(b);
    }
    if (ret == 0) {
        ret = file_pwrite(b->f, 2 * b->cs, b->zero, b->cs, b->err);
    }
    if (ret < 0) {
        return ret;
    }
    c = alloc_clusters(b, 3);
    return c < 0 ? (int)c : 0;
}

/* Write what is kept in memory: L2 table, refcount blocks and table, L1 table, header. */
static int finish_image(struct builder *b)
{
    uint8_t *buf;
    int ret = flush_l2(b);

    for (uint64_t i = 0; ret == 0 && i < b->rt_entries; i++) {
        if (b->rt[i]) {
            ret = file_pwrite(b->f, b->rt[i], b->rb[i], b->cs, b->err);
        }
    }
    if (ret == 0) {
        ret = write_reftable(b);
    }
    if (ret == 0 && b->l1_entries) {
        buf = xmalloc(b->l1_entries * L1E_SIZE);
        for (uint64_t i = 0; i < b->l1_entries; i++) {
            put_be64(buf + i * L1E_SIZE, b->l1[i]);
        }
        ret = file_pwrite(b->f, b->l1_offset, buf, b->l1_entries * L1E_SIZE, b->err);
        free(buf);
    }
    if (ret == 0) {
        buf = xmalloc(b->cs);
        build_header(b, buf);
        ret = file_pwrite(b->f, 0, buf, b->cs, b->err);
        free(buf);
    }
    if (ret == 0 && b->data) {
        ret = file_flush(b->data, b->err);
    }
    return ret < 0 ? ret : file_flush(b->f, b->err);
}

static int build_image(struct builder *b)
{
    uint64_t l1 = div_round_up(b->p->size, b->cs * b->l2_entries);
    int ret = start_image(b);

    if (ret == 0) {
        ret = alloc_l1(b, l1);
    }
    if (ret == 0) {
        ret = preallocate(b);
    }
    return ret < 0 ? ret : finish_image(b);
}

/* ------------------------------------------------------------------------ */
/* the create hook                                                            */

/* Values of qemu's BlockdevDriver enumeration, as Debian's qemu 7.2 has them. */
static const char *const block_drivers[] = {
    "blkdebug", "blklogwrites", "blkreplay", "blkverify", "bochs", "cloop", "compress",
    "copy-before-write", "copy-on-read", "dmg", "file", "snapshot-access", "ftp", "ftps",
    "gluster", "host_cdrom", "host_device", "http", "https", "iscsi", "luks", "nbd", "nfs",
    "null-aio", "null-co", "nvme", "parallels", "preallocate", "qcow", "qcow2", "qed",
    "quorum", "raw", "rbd", "replication", "ssh", "throttle", "vdi", "vhdx", "vmdk", "vpc",
    "vvfat",
};

static bool known_driver(const char *name)
{
    for (size_t i = 0; i < ARRAY_SIZE(block_drivers); i++) {
        if (!strcmp(block_drivers[i], name)) {
            return true;
        }
    }
    return false;
}

static bool version_valid(const char *v)
{
    return !v || !strcmp(v, "0.10") || !strcmp(v, "v2") || !strcmp(v, "1.1") ||
           !strcmp(v, "v3");
}

/*
 * The checks qemu makes after creating the files: the typed options (the
 * backing format's enumeration sits between the version and the encryption
 * group), the qcow2 rules, then what only building finds out (header room,
 * L1 table size, backing file name).
 */
static int check_params(struct opts *opts, struct qcow2_create_params *p, struct err *err)
{
    const char *fmt = opts_get(opts, "backing_fmt");
    uint64_t l2_entries;
    int ret;

    if (fmt && !known_driver(fmt) && version_valid(opts_get(opts, "compat"))) {
        return err_set(err, -EINVAL, "Parameter 'backing-fmt' does not accept value '%s'", fmt);
    }
    ret = qcow2_parse_create_opts(opts, p, err);
    if (ret < 0) {
        return ret;
    }
    if (p->data_file && header_bytes(p, false) > p->cluster_size) {
        return err_set(err, -ENOSPC, "Could not update qcow2 header: No space left on device");
    }
    l2_entries = p->cluster_size / (p->extended_l2 ? 16 : 8);
    if (div_round_up(p->size, p->cluster_size * l2_entries) > MAX_L1_ENTRIES) {
        return err_set(err, -EFBIG, "File too large");
    }
    if (p->backing_file) {
        int code = strlen(p->backing_file) > QCOW2_MAX_BACKING_NAME ? EINVAL
                   : header_bytes(p, true) > p->cluster_size ? ENOSPC : 0;
        if (code) {
            return err_set_errno(err, code, "Could not assign backing file '%s' with format '%s'",
                                 p->backing_file, p->backing_fmt ? p->backing_fmt : "(null)");
        }
    }
    return 0;
}

/* Create filename empty, with the file protocol's own options (nocow, ...). */
static int create_empty(const char *filename, const struct opts *opts, struct err *err)
{
    static const char *const keep[] = { "nocow", "extent_size_hint" };
    struct opts o = { 0 };
    int ret;

    opts_set(&o, "size", "0");
    for (size_t i = 0; i < ARRAY_SIZE(keep); i++) {
        if (opts_get(opts, keep[i])) {
            opts_set(&o, keep[i], opts_get(opts, keep[i]));
        }
    }
    ret = file_create(filename, &o, err);
    opts_free(&o);
    return ret;
}

static int open_rw(struct file **f, const char *filename, struct err *err)
{
    int ret = file_open(f, filename, FILE_RDWR, CACHE_WRITEBACK, err);

    if (ret == 0) {
        ret = file_lock(*f, PERM_WRITE | PERM_RESIZE, PERM_RESIZE, err);
        if (ret < 0) {
            file_close(*f);
            *f = NULL;
        }
    }
    return ret;
}

static int write_image(const char *filename, const struct qcow2_create_params *p,
                       struct err *err)
{
    struct builder b = { .p = p, .err = err, .cs = p->cluster_size };
    int ret;

    b.rb_bits = p->cluster_bits + 3 - p->refcount_order;
    b.l2e_size = p->extended_l2 ? 16 : 8;
    b.l2_entries = b.cs / b.l2e_size;
    b.zero = xcalloc(1, b.cs);
    b.l2 = xcalloc(1, b.cs);
    ret = open_rw(&b.f, filename, err);
    if (ret == 0 && p->data_file) {
        ret = open_rw(&b.data, p->data_file, err);
    }
    if (ret == 0) {
        ret = build_image(&b);
    }
    file_close(b.data);
    file_close(b.f);
    builder_free(&b);
    return ret;
}

/* qemu deletes what it created when creation fails (regular files only). */
static void delete_file(const char *filename)
{
    struct stat st;

    if (filename && stat(filename, &st) == 0 && S_ISREG(st.st_mode)) {
        unlink(filename);
    }
}

int qcow2_create(const char *filename, struct opts *opts, struct err *err)
{
    struct qcow2_create_params p;
    const char *enc = opts_get(opts, "encryption");
    const char *data_file = opts_get(opts, "data_file");
    int ret;

    if (enc && strcmp(enc, "off") && opts_get(opts, "encrypt.format")) {
        /* the alias is resolved before any file is made */
        return qcow2_parse_create_opts(opts, &p, err);
    }
    ret = create_empty(filename, opts, err);
    if (ret < 0) {
        return ret;
    }
    if (data_file) {
        ret = create_empty(data_file, opts, err);
        if (ret < 0) {
            delete_file(filename);
            return ret;
        }
    }
    ret = check_params(opts, &p, err);
    if (ret == 0) {
        ret = write_image(filename, &p, err);
    }
    if (ret < 0) {
        delete_file(filename);
        delete_file(data_file);
    }
    return ret;
}
