/*
 * refcount.c - reading qcow2 reference counts, and the metadata
 * preallocation heuristic that block status depends on.
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

/* Load the refcount table (once). Call with img->lock held. */
static int load_reftable(struct image *img, struct err *err)
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

static uint64_t refcount_entry(const struct qcow2 *s, const uint8_t *block, uint64_t i)
{
    unsigned bits = 1u << s->refcount_order;

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

int qcow2_get_refcount(struct image *img, uint64_t cluster, uint64_t *refcount,
                       struct err *err)
{
    struct qcow2 *s = qcow2_state(img);
    uint64_t per_block = (s->cluster_size * 8) >> s->refcount_order;
    uint64_t ti = cluster / per_block, block_off;
    int ret = 0;

    pthread_mutex_lock(&img->lock);
    ret = load_reftable(img, err);
    if (ret < 0) {
        goto out;
    }
    if (ti >= s->reftable_entries || !(block_off = s->reftable[ti] & L1E_OFFSET_MASK)) {
        *refcount = 0;
        goto out;
    }
    if (block_off % s->cluster_size) {
        ret = err_set(err, -EIO, "Refblock offset %#" PRIx64 " unaligned (reftable index: %#"
                      PRIx64 ")", block_off, ti);
        goto out;
    }
    if (s->refblock_cached_offset != block_off) {
        if (!s->refblock) {
            s->refblock = xmalloc(s->cluster_size);
        }
        s->refblock_cached_offset = 0;
        ret = file_pread(img->file, block_off, s->refblock, s->cluster_size, err);
        if (ret < 0) {
            goto out;
        }
        s->refblock_cached_offset = block_off;
    }
    *refcount = refcount_entry(s, s->refblock, cluster % per_block);
out:
    pthread_mutex_unlock(&img->lock);
    return ret;
}

void qcow2_free_refcounts(struct qcow2 *s)
{
    free(s->reftable);
    free(s->refblock);
    s->reftable = NULL;
    s->refblock = NULL;
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
