/*
 * cluster.c - guest-to-host translation for qcow2: the L2 table cache,
 * qcow2_lookup() over standard and extended L2 entries, reading and block
 * status.
 *
 * The cache (cache.c) is shared by all requests on an image and guarded
 * by img->lock; data is read outside the lock into the caller's buffer,
 * so reads proceed in parallel.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "../../engine/size.h"
#include "../../engine/util.h"
#include "qcow2_int.h"

#define L2_CACHE_MAX_BYTES (32ULL << 20)     /* qemu's default ceiling */
#define RC_CACHE_MIN_ENTRIES 16

int qcow2_cache_init(struct image *img, struct err *err)
{
    struct qcow2 *s = qcow2_state(img);
    uint64_t span = 1ULL << (s->cluster_bits + s->l2_bits);
    uint64_t needed = img->size / span + 1;
    uint64_t cap = L2_CACHE_MAX_BYTES / s->cluster_size;
    uint64_t slots = MIN(needed, cap);

    (void)err;
    qcache_init(&s->l2_cache, "L2", (size_t)slots, s->cluster_size);
    qcache_init(&s->rc_cache, "refcount", (size_t)MAX(slots / 4, RC_CACHE_MIN_ENTRIES),
                s->cluster_size);
    return 0;
}

void qcow2_cache_free(struct qcow2 *s)
{
    qcache_free(&s->l2_cache);
    qcache_free(&s->rc_cache);
}

/* Kind and host offset of one subcluster; *host is the entry for compressed clusters. */
static int classify(struct image *img, const uint8_t *l2, uint64_t idx, unsigned sc,
                    uint64_t l2_off, enum qcow2_kind *kind, uint64_t *host, struct err *err)
{
    struct qcow2 *s = qcow2_state(img);
    uint64_t e = be64(l2 + idx * s->l2_entry_size);
    uint64_t off = e & L2E_OFFSET_MASK;

    if (e & QCOW_OFLAG_COMPRESSED) {
        if (s->data_file) {
            return qcow2_signal_corruption(img, err, "Compressed cluster found in an image with an external "
                           "data file (L2 offset: %#" PRIx64 ", L2 index: %#" PRIx64 ")",
                           l2_off, idx);
        }
        *kind = QK_COMPRESSED;
        *host = e;
        return 0;
    }
    if (off % s->cluster_size) {
        return qcow2_signal_corruption(img, err, "Cluster allocation offset %#" PRIx64 " unaligned "
                       "(L2 offset: %#" PRIx64 ", L2 index: %#" PRIx64 ")", off, l2_off, idx);
    }
    if (s->extended_l2) {
        uint64_t bitmap = be64(l2 + idx * s->l2_entry_size + 8);
        bool alloc = bitmap & (1ULL << sc);
        bool zero = bitmap & (1ULL << (sc + 32));

        if (alloc && zero) {
            return qcow2_signal_corruption(img, err, "Invalid cluster entry found (L2 offset: %#" PRIx64
                           ", L2 index: %#" PRIx64 ")", l2_off, idx);
        }
        if (alloc && !off && !s->data_file) {
            return qcow2_signal_corruption(img, err, "Allocated subcluster without a host offset (L2 offset: %#"
                           PRIx64 ", L2 index: %#" PRIx64 ")", l2_off, idx);
        }
        if (alloc) {
            *kind = QK_NORMAL;
        } else if (zero) {
            *kind = off ? QK_ZERO_ALLOC : QK_ZERO;
        } else {
            *kind = off ? QK_UNALLOCATED_ALLOC : QK_UNALLOCATED;
        }
        *host = off + ((uint64_t)sc << s->subcluster_bits);
        return 0;
    }
    if (e & QCOW_OFLAG_ZERO) {
        *kind = off ? QK_ZERO_ALLOC : QK_ZERO;
    } else if (off || (s->data_file && (e & QCOW_OFLAG_COPIED))) {
        *kind = QK_NORMAL;
    } else {
        *kind = QK_UNALLOCATED;
    }
    *host = off;
    return 0;
}

static bool has_host(enum qcow2_kind k)
{
    return k == QK_NORMAL || k == QK_ZERO_ALLOC || k == QK_UNALLOCATED_ALLOC;
}

int qcow2_lookup(struct image *img, uint64_t off, uint64_t len, enum qcow2_kind *kind,
                 uint64_t *host, uint64_t *pnum, struct err *err)
{
    int ret;

    pthread_mutex_lock(&img->lock);
    ret = qcow2_lookup_locked(img, off, len, kind, host, pnum, err);
    pthread_mutex_unlock(&img->lock);
    return ret;
}

int qcow2_lookup_locked(struct image *img, uint64_t off, uint64_t len, enum qcow2_kind *kind,
                        uint64_t *host, uint64_t *pnum, struct err *err)
{
    struct qcow2 *s = qcow2_state(img);
    uint64_t span_bits = s->cluster_bits + s->l2_bits;
    uint64_t l1_index = off >> span_bits;
    uint64_t span_end = (l1_index + 1) << span_bits;
    uint64_t limit = MIN(off + len, span_end);     /* one L2 table at most */
    uint64_t l2_off, sub = s->subcluster_size;
    const uint8_t *l2;
    uint64_t pos, first_host = 0;
    int ret = 0;

    if (l1_index >= s->l1_entries || !(s->l1[l1_index] & L1E_OFFSET_MASK)) {
        *kind = QK_UNALLOCATED;
        *host = 0;
        *pnum = limit - off;
        return 0;
    }
    l2_off = s->l1[l1_index] & L1E_OFFSET_MASK;
    if (l2_off % s->cluster_size) {
        return qcow2_signal_corruption(img, err, "L2 table offset %#" PRIx64 " unaligned (L1 index: %#" PRIx64
                       ")", l2_off, l1_index);
    }

    l2 = qcache_get(img, &s->l2_cache, l2_off, true, err);
    if (!l2) {
        ret = -EIO;
        goto out;
    }
    /* walk subclusters (clusters without extended L2) while the description continues */
    for (pos = off; pos < limit;) {
        uint64_t idx = (pos >> s->cluster_bits) & ((1ULL << s->l2_bits) - 1);
        unsigned sc = (unsigned)((pos >> s->subcluster_bits) & (QCOW2_SUBCLUSTERS - 1));
        uint64_t unit_end = round_down(pos, sub) + sub;
        enum qcow2_kind k = QK_UNALLOCATED;
        uint64_t h = 0;

        if (!s->extended_l2) {
            sc = 0;
        }
        ret = classify(img, l2, idx, sc, l2_off, &k, &h, err);
        if (ret < 0) {
            goto out;
        }
        if (pos == off) {
            *kind = k;
            *host = h + (has_host(k) ? pos - round_down(pos, sub) : 0);
            first_host = h - round_down(pos, sub);  /* host of guest offset 0 of this run */
        } else if (k != *kind || k == QK_COMPRESSED ||
                   (has_host(k) && h != first_host + round_down(pos, sub))) {
            break;
        }
        if (k == QK_COMPRESSED) {
            /* one compressed cluster per lookup */
            pos = MIN(round_down(pos, s->cluster_size) + s->cluster_size, limit);
            break;
        }
        pos = MIN(unit_end, limit);
    }
    *pnum = pos - off;
out:
    if (ret < 0 && !err_isset(err)) {
        ret = err_set(err, ret, "Could not read L2 table at %#" PRIx64, l2_off);
    }
    return ret;
}

/* Unallocated guest data: the backing file's, zeros past its end or without one. */
static int read_backing(struct image *img, uint64_t off, uint8_t *buf, uint64_t n,
                        struct err *err)
{
    struct image *b = img->backing;
    uint64_t have = 0;

    if (b && off < b->size) {
        have = MIN(n, b->size - off);
        int ret = image_read(b, off, buf, (size_t)have, err);
        if (ret < 0) {
            return ret;
        }
    }
    memset(buf + have, 0, (size_t)(n - have));
    return 0;
}

/* The read loop; lookup is qcow2_lookup or qcow2_lookup_locked. */
static int read_with(struct image *img, uint64_t off, void *buf, size_t len,
                     int (*lookup)(struct image *, uint64_t, uint64_t, enum qcow2_kind *,
                                   uint64_t *, uint64_t *, struct err *),
                     struct err *err)
{
    struct qcow2 *s = qcow2_state(img);
    uint8_t *out = buf;
    uint8_t *cbuf = NULL;           /* per-request buffer for decompressed clusters */
    int ret = 0;

    while (len && ret == 0) {
        enum qcow2_kind kind;
        uint64_t host, n;

        ret = lookup(img, off, len, &kind, &host, &n, err);
        if (ret < 0) {
            break;
        }
        switch (kind) {
        case QK_UNALLOCATED:
        case QK_UNALLOCATED_ALLOC:
            ret = read_backing(img, off, out, n, err);
            break;
        case QK_ZERO:
        case QK_ZERO_ALLOC:
            memset(out, 0, (size_t)n);
            break;
        case QK_NORMAL:
            ret = file_pread(qcow2_data_file(img), host, out, (size_t)n, err);
            break;
        case QK_COMPRESSED:
            if (!cbuf) {
                cbuf = xmalloc(s->cluster_size);
            }
            ret = qcow2_decompress_cluster(img, host, cbuf, err);
            if (ret == 0) {
                memcpy(out, cbuf + (off & (s->cluster_size - 1)), (size_t)n);
            }
            break;
        }
        off += n;
        out += n;
        len -= (size_t)n;
    }
    free(cbuf);
    return ret;
}

int qcow2_read(struct image *img, uint64_t off, void *buf, size_t len, struct err *err)
{
    return read_with(img, off, buf, len, qcow2_lookup, err);
}

int qcow2_read_locked(struct image *img, uint64_t off, void *buf, size_t len, struct err *err)
{
    return read_with(img, off, buf, len, qcow2_lookup_locked, err);
}

int qcow2_block_status(struct image *img, uint64_t off, uint64_t len, struct block_status *bs,
                       struct err *err)
{
    struct qcow2 *s = qcow2_state(img);
    enum qcow2_kind kind;
    uint64_t host, n;
    int ret;

    if (s->metadata_prealloc < 0) {
        ret = qcow2_detect_metadata_prealloc(img, err);
        if (ret < 0) {
            return ret;
        }
        s->metadata_prealloc = ret;
    }
    ret = qcow2_lookup(img, off, len, &kind, &host, &n, err);
    if (ret < 0) {
        return ret;
    }
    bs->pnum = n;
    bs->flags = 0;
    if (has_host(kind)) {
        bs->flags |= BS_OFFSET_VALID;
        bs->offset = host;
        bs->host = qcow2_data_file(img);
    }
    if (kind == QK_ZERO || kind == QK_ZERO_ALLOC) {
        bs->flags |= BS_ZERO;
    } else if (kind == QK_NORMAL || kind == QK_COMPRESSED) {
        bs->flags |= BS_DATA;
    }
    if (s->metadata_prealloc && kind == QK_NORMAL) {
        bs->flags |= BS_RECURSE;    /* holes in the host file read as zeros */
    }
    return 0;
}
