/*
 * inspect.c - read a qcow2 file's metadata as it lies on disk (see
 * inspect.h), without the driver's validation, for the inspection
 * commands. Layouts follow docs/interop/qcow2.txt.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "../../engine/util.h"
#include "inspect.h"
#include "qcow2_int.h"

#define QI_MAX_TABLE_BYTES (32u << 20)
#define QI_MAX_SNAPSHOTS 65536u
#define QI_MAX_EXTRA 65536u
#define QI_MAX_BITMAPS 65535u
#define REFT_OFFSET_MASK 0xfffffffffffffe00ULL
#define BME_OFFSET_MASK 0x00fffffffffffe00ULL

const struct qi_field qi_fields[] = {
    { "magic", 0, 4, 2 },
    { "version", 4, 4, 2 },
    { "backing_file_offset", 8, 8, 2 },
    { "backing_file_size", 16, 4, 2 },
    { "cluster_bits", 20, 4, 2 },
    { "size", 24, 8, 2 },
    { "crypt_method", 32, 4, 2 },
    { "l1_size", 36, 4, 2 },
    { "l1_table_offset", 40, 8, 2 },
    { "refcount_table_offset", 48, 8, 2 },
    { "refcount_table_clusters", 56, 4, 2 },
    { "nb_snapshots", 60, 4, 2 },
    { "snapshots_offset", 64, 8, 2 },
    { "incompatible_features", 72, 8, 3 },
    { "compatible_features", 80, 8, 3 },
    { "autoclear_features", 88, 8, 3 },
    { "refcount_order", 96, 4, 3 },
    { "header_length", 100, 4, 3 },
    { "compression_type", 104, 1, 3 },
    { NULL, 0, 0, 0 },
};

const char *qi_l2_type_name(enum qi_l2_type t)
{
    static const char *const names[] = {
        [QI_UNALLOCATED] = "unallocated", [QI_NORMAL] = "normal", [QI_ZERO] = "zero",
        [QI_ZERO_ALLOC] = "zero-allocated", [QI_COMPRESSED] = "compressed",
    };
    return names[t];
}

const char *qi_kind_name(enum qi_kind k)
{
    static const char *const names[] = {
        [QI_KIND_HEADER] = "header", [QI_KIND_L1] = "l1", [QI_KIND_L2] = "l2",
        [QI_KIND_DATA] = "data", [QI_KIND_REFTABLE] = "refcount-table",
        [QI_KIND_REFBLOCK] = "refcount-block", [QI_KIND_SNAPSHOT_TABLE] = "snapshot-table",
        [QI_KIND_BITMAP_DIR] = "bitmap-directory", [QI_KIND_BITMAP_TABLE] = "bitmap-table",
        [QI_KIND_BITMAP_DATA] = "bitmap-data", [QI_KIND_CRYPTO] = "crypto-header",
    };
    return names[k];
}

int qi_pread(struct qi *qi, uint64_t off, void *buf, size_t len, struct err *err)
{
    uint64_t have;

    if (off >= qi->file_size) {
        memset(buf, 0, len);
        return 0;
    }
    have = MIN((uint64_t)len, qi->file_size - off);
    memset((uint8_t *)buf + have, 0, len - (size_t)have);
    return file_pread(qi->f, off, buf, (size_t)have, err);
}

static char *read_string(struct qi *qi, uint64_t off, size_t len, struct err *err)
{
    char *s = xcalloc(1, len + 1);

    if (qi_pread(qi, off, s, len, err) < 0) {
        free(s);
        return NULL;
    }
    return s;
}

/* The header extensions: from the end of the header to the end marker or the first cluster's end. */
static int read_extensions(struct qi *qi, struct err *err)
{
    uint64_t off = qi->version >= 3 ? qi->header_length : 72;
    uint64_t end = qi->cluster_size;

    if (qi->backing_file_offset && qi->backing_file_offset < end) {
        end = qi->backing_file_offset;
    }
    while (off + 8 <= end) {
        uint8_t h[8];
        struct qi_ext x = { 0 };

        if (qi_pread(qi, off, h, 8, err) < 0) {
            return -EIO;
        }
        x.type = be32(h);
        x.length = be32(h + 4);
        if (x.type == QEXT_END) {
            break;
        }
        if (x.length > end - off - 8) {
            break;              /* runs past the header cluster: not an extension */
        }
        x.offset = off + 8;
        x.data = xcalloc(1, x.length + 1);
        if (qi_pread(qi, x.offset, x.data, x.length, err) < 0) {
            free(x.data);
            return -EIO;
        }
        qi->exts = xrealloc(qi->exts, (qi->nexts + 1) * sizeof(*qi->exts));
        qi->exts[qi->nexts++] = x;
        switch (x.type) {
        case QEXT_BACKING_FORMAT:
            free(qi->backing_fmt);
            qi->backing_fmt = xstrdup((char *)x.data);
            break;
        case QEXT_FEATURE_TABLE:
            for (uint32_t i = 0; i + 48 <= x.length; i += 48) {
                struct qi_feature_name *fn;
                qi->features = xrealloc(qi->features, (qi->nfeatures + 1) * sizeof(*fn));
                fn = &qi->features[qi->nfeatures++];
                fn->type = x.data[i];
                fn->bit = x.data[i + 1];
                memcpy(fn->name, x.data + i + 2, 46);
                fn->name[46] = '\0';
            }
            break;
        case QEXT_BITMAPS:
            if (x.length >= 24) {
                qi->has_bitmaps_ext = true;
                qi->nb_bitmaps = be32(x.data);
                qi->bitmap_dir_size = be64(x.data + 8);
                qi->bitmap_dir_offset = be64(x.data + 16);
            }
            break;
        case QEXT_CRYPTO:
            if (x.length >= 16) {
                qi->has_crypto_ext = true;
                qi->crypto_offset = be64(x.data);
                qi->crypto_length = be64(x.data + 8);
            }
            break;
        case QEXT_DATA_FILE:
            free(qi->data_file);
            qi->data_file = xstrdup((char *)x.data);
            break;
        default:
            break;
        }
        off = x.offset + ((x.length + 7ULL) & ~7ULL);
    }
    return 0;
}

int qi_open(struct qi **out, const char *filename, bool force_share, struct err *err)
{
    struct qi *qi = xcalloc(1, sizeof(*qi));
    const uint8_t *h = qi->hdr;
    int64_t len;
    int ret;

    *out = NULL;
    qi->filename = xstrdup(filename);
    ret = file_open(&qi->f, filename, 0, CACHE_WRITEBACK, err);
    if (ret < 0) {
        goto fail;
    }
    ret = file_lock(qi->f, PERM_CONSISTENT_READ, force_share ? 0 : PERM_WRITE | PERM_RESIZE, err);
    if (ret < 0) {
        goto fail;
    }
    len = file_length(qi->f, err);
    if (len < 0) {
        ret = (int)len;
        goto fail;
    }
    qi->file_size = (uint64_t)len;
    ret = qi_pread(qi, 0, qi->hdr, sizeof(qi->hdr), err);
    if (ret < 0) {
        goto fail;
    }
    if (be32(h) != 0x514649fbu) {
        ret = err_set(err, -EINVAL, "'%s' is not a qcow2 image", filename);
        goto fail;
    }
    qi->version = be32(h + 4);
    if (qi->version != 2 && qi->version != 3) {
        ret = err_set(err, -ENOTSUP, "'%s': unsupported qcow2 version %" PRIu32, filename,
                      qi->version);
        goto fail;
    }
    qi->cluster_bits = be32(h + 20);
    if (qi->cluster_bits < QCOW2_MIN_CLUSTER_BITS || qi->cluster_bits > QCOW2_MAX_CLUSTER_BITS) {
        ret = err_set(err, -EINVAL, "'%s': cluster_bits %" PRIu32 " is outside 9..21, so "
                      "its tables cannot be read", filename, qi->cluster_bits);
        goto fail;
    }
    qi->cluster_size = 1ULL << qi->cluster_bits;
    qi->backing_file_offset = be64(h + 8);
    qi->backing_file_size = be32(h + 16);
    qi->size = be64(h + 24);
    qi->crypt_method = be32(h + 32);
    qi->l1_size = be32(h + 36);
    qi->l1_offset = be64(h + 40);
    qi->reftable_offset = be64(h + 48);
    qi->reftable_clusters = be32(h + 56);
    qi->nb_snapshots = be32(h + 60);
    qi->snapshots_offset = be64(h + 64);
    if (qi->version == 2) {
        memset(qi->hdr + 72, 0, sizeof(qi->hdr) - 72);
        qi->refcount_order = 4;
        qi->header_length = 72;
    } else {
        qi->incompat = be64(h + 72);
        qi->compat = be64(h + 80);
        qi->autoclear = be64(h + 88);
        qi->refcount_order = be32(h + 96);
        qi->header_length = be32(h + 100);
        if (qi->header_length < sizeof(qi->hdr)) {
            memset(qi->hdr + MAX(qi->header_length, 104u), 0,
                   sizeof(qi->hdr) - MAX(qi->header_length, 104u));
        }
        qi->compression_type = qi->header_length > 104 ? h[104] : 0;
        if (qi->refcount_order > 6) {
            ret = err_set(err, -EINVAL, "'%s': refcount_order %" PRIu32 " is above 6, so its "
                          "refcounts cannot be read", filename, qi->refcount_order);
            goto fail;
        }
    }
    qi->extended_l2 = (qi->incompat & (1ULL << 4)) != 0;
    qi->l2_entry_size = qi->extended_l2 ? 16 : 8;
    qi->l2_entries = qi->cluster_size / qi->l2_entry_size;
    if (qi->backing_file_offset && qi->backing_file_size) {
        qi->backing_file = read_string(qi, qi->backing_file_offset,
                                       MIN(qi->backing_file_size, 65536u), err);
        if (!qi->backing_file) {
            ret = -EIO;
            goto fail;
        }
    }
    ret = read_extensions(qi, err);
    if (ret < 0) {
        goto fail;
    }
    *out = qi;
    return 0;
fail:
    qi_close(qi);
    return ret;
}

void qi_close(struct qi *qi)
{
    if (!qi) {
        return;
    }
    if (qi->f) {
        file_close(qi->f);
    }
    for (size_t i = 0; i < qi->nexts; i++) {
        free(qi->exts[i].data);
    }
    free(qi->exts);
    free(qi->features);
    free(qi->backing_file);
    free(qi->backing_fmt);
    free(qi->data_file);
    free(qi->reftable);
    free(qi->rb);
    free(qi->filename);
    free(qi);
}

uint64_t qi_l1_span(const struct qi *qi)
{
    return qi->cluster_size * qi->l2_entries;
}

int qi_read_table(struct qi *qi, uint64_t off, uint64_t n, uint64_t **out, struct err *err)
{
    uint8_t *raw;
    uint64_t *t;

    n = MIN(n, (uint64_t)QI_MAX_TABLE_BYTES / 8);
    raw = xmalloc(n * 8 + 1);
    t = xcalloc(n + 1, sizeof(*t));
    if (qi_pread(qi, off, raw, n * 8, err) < 0) {
        free(raw);
        free(t);
        return -EIO;
    }
    for (uint64_t i = 0; i < n; i++) {
        t[i] = be64(raw + i * 8);
    }
    free(raw);
    *out = t;
    return 0;
}

int qi_read_l2(struct qi *qi, uint64_t off, uint64_t *entries, uint64_t *bitmaps,
               struct err *err)
{
    uint8_t *raw = xmalloc(qi->cluster_size);

    if (qi_pread(qi, off, raw, qi->cluster_size, err) < 0) {
        free(raw);
        return -EIO;
    }
    for (uint64_t i = 0; i < qi->l2_entries; i++) {
        entries[i] = be64(raw + i * qi->l2_entry_size);
        if (bitmaps) {
            bitmaps[i] = qi->extended_l2 ? be64(raw + i * qi->l2_entry_size + 8) : 0;
        }
    }
    free(raw);
    return 0;
}

struct qi_l2e qi_l2_decode(const struct qi *qi, uint64_t raw, uint64_t bitmap)
{
    struct qi_l2e d = { .raw = raw, .bitmap = bitmap };
    uint64_t off = raw & L2E_OFFSET_MASK;

    if (raw & QCOW_OFLAG_COMPRESSED) {
        uint64_t sectors;

        qcow2_compressed_desc(qi->cluster_bits, raw, &d.host, &sectors);
        d.csize = sectors * 512 - (d.host & 511);
        d.type = QI_COMPRESSED;
    } else if (qi->extended_l2) {
        uint32_t zero = (uint32_t)(bitmap >> 32);

        if (off) {
            d.type = zero == 0xffffffffu ? QI_ZERO_ALLOC : QI_NORMAL;
        } else {
            d.type = zero ? QI_ZERO : QI_UNALLOCATED;
        }
    } else if (raw & QCOW_OFLAG_ZERO) {
        d.type = off ? QI_ZERO_ALLOC : QI_ZERO;
    } else {
        d.type = off ? QI_NORMAL : QI_UNALLOCATED;
    }
    if (d.type == QI_NORMAL || d.type == QI_ZERO_ALLOC) {
        d.host = off;
    }
    return d;
}

/* ------------------------------------------------------------------------ */
/* refcounts                                                                 */

int qi_reftable(struct qi *qi, const uint64_t **table, uint64_t *n, struct err *err)
{
    if (!qi->reftable) {
        uint64_t entries = (uint64_t)qi->reftable_clusters * qi->cluster_size / 8;
        /* a hostile size: no more entries than the file could hold */
        entries = MIN(entries, qi->file_size / 8 + qi->cluster_size / 8);
        if (qi_read_table(qi, qi->reftable_offset, entries, &qi->reftable, err) < 0) {
            return -EIO;
        }
        qi->reftable_entries = MIN(entries, (uint64_t)QI_MAX_TABLE_BYTES / 8);
    }
    *table = qi->reftable;
    *n = qi->reftable_entries;
    return 0;
}

uint64_t qi_refblock_entries(const struct qi *qi)
{
    return qi->cluster_size * 8 >> qi->refcount_order;
}

int qi_refcount(struct qi *qi, uint64_t cluster, uint64_t *rc, struct err *err)
{
    const uint64_t *t;
    uint64_t n, per = qi_refblock_entries(qi), idx = cluster / per, off;

    *rc = 0;
    if (qi_reftable(qi, &t, &n, err) < 0) {
        return -EIO;
    }
    if (idx >= n || !(off = t[idx] & REFT_OFFSET_MASK)) {
        return 0;
    }
    if (!qi->rb) {
        qi->rb = xmalloc(qi->cluster_size);
    }
    if (qi->rb_offset != off) {
        qi->rb_offset = 0;
        if (qi_pread(qi, off, qi->rb, qi->cluster_size, err) < 0) {
            return -EIO;
        }
        qi->rb_offset = off;
    }
    *rc = qcow2_rc_get(qi->refcount_order, qi->rb, cluster % per);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* snapshots and bitmaps                                                     */

void qi_snapshots_free(struct qi_snapshot *sn, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(sn[i].id);
        free(sn[i].name);
        free(sn[i].extra);
    }
    free(sn);
}

int qi_snapshots(struct qi *qi, struct qi_snapshot **out, size_t *n, struct err *err)
{
    uint32_t count = MIN(qi->nb_snapshots, QI_MAX_SNAPSHOTS);
    struct qi_snapshot *sn = xcalloc(count + 1, sizeof(*sn));
    uint64_t off = qi->snapshots_offset;
    size_t i;

    for (i = 0; i < count; i++) {
        struct qi_snapshot *s = &sn[i];
        uint8_t h[40];
        uint16_t id_len, name_len;

        if (qi_pread(qi, off, h, sizeof(h), err) < 0) {
            goto fail;
        }
        s->table_offset = off;
        s->l1_offset = be64(h);
        s->l1_size = be32(h + 8);
        id_len = be16(h + 12);
        name_len = be16(h + 14);
        s->date_sec = be32(h + 16);
        s->date_nsec = be32(h + 20);
        s->vm_clock_nsec = be64(h + 24);
        s->vm_state_size = be32(h + 32);
        s->extra_size = be32(h + 36);
        if (s->extra_size > QI_MAX_EXTRA) {
            err_set(err, -EFBIG, "'%s': snapshot %zu has %" PRIu32 " bytes of extra data "
                    "(more than %u)", qi->filename, i, s->extra_size, QI_MAX_EXTRA);
            goto fail;
        }
        s->extra = xcalloc(1, s->extra_size + 1);
        if (qi_pread(qi, off + 40, s->extra, s->extra_size, err) < 0) {
            goto fail;
        }
        if (s->extra_size >= 8) {
            s->vm_state_size = be64(s->extra);
        }
        if (s->extra_size >= 16) {
            s->has_disk_size = true;
            s->disk_size = be64(s->extra + 8);
        }
        if (s->extra_size >= 24 && be64(s->extra + 16) != UINT64_MAX) {
            s->has_icount = true;
            s->icount = be64(s->extra + 16);
        }
        off += 40 + s->extra_size;
        s->id = read_string(qi, off, id_len, err);
        s->name = s->id ? read_string(qi, off + id_len, name_len, err) : NULL;
        if (!s->name) {
            goto fail;
        }
        off += id_len + name_len;
        off = (off + 7) & ~7ULL;
        s->entry_size = off - s->table_offset;
    }
    *out = sn;
    *n = i;
    return 0;
fail:
    qi_snapshots_free(sn, i + 1);
    return -EIO;
}

void qi_bitmaps_free(struct qi_bitmap *bm, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(bm[i].name);
    }
    free(bm);
}

int qi_bitmaps(struct qi *qi, struct qi_bitmap **out, size_t *n, struct err *err)
{
    uint64_t off = qi->bitmap_dir_offset, end = off + MIN(qi->bitmap_dir_size, 64ULL << 20);
    uint32_t count = qi->has_bitmaps_ext ? MIN(qi->nb_bitmaps, QI_MAX_BITMAPS) : 0;
    struct qi_bitmap *bm = xcalloc(count + 1, sizeof(*bm));
    size_t i;

    for (i = 0; i < count && off + 24 <= end; i++) {
        struct qi_bitmap *b = &bm[i];
        uint8_t h[24];
        uint16_t name_len;

        if (qi_pread(qi, off, h, sizeof(h), err) < 0) {
            goto fail;
        }
        b->entry_offset = off;
        b->table_offset = be64(h);
        b->table_size = be32(h + 8);
        b->flags = be32(h + 12);
        b->type = h[16];
        b->granularity_bits = h[17];
        name_len = be16(h + 18);
        b->extra_size = be32(h + 20);
        if (b->extra_size > QI_MAX_EXTRA) {
            err_set(err, -EFBIG, "'%s': bitmap %zu has %" PRIu32 " bytes of extra data "
                    "(more than %u)", qi->filename, i, b->extra_size, QI_MAX_EXTRA);
            goto fail;
        }
        b->name = read_string(qi, off + 24 + b->extra_size, name_len, err);
        if (!b->name) {
            goto fail;
        }
        off = (off + 24 + b->extra_size + name_len + 7) & ~7ULL;
    }
    *out = bm;
    *n = i;
    return 0;
fail:
    qi_bitmaps_free(bm, i + 1);
    return -EIO;
}

const char *qi_known_feature(size_t i, unsigned *type, unsigned *bit)
{
    if (i >= QCOW2_NB_FEATURE_NAMES) {
        return NULL;
    }
    *type = qcow2_feature_names[i].type;
    *bit = qcow2_feature_names[i].bit;
    return qcow2_feature_names[i].name;
}

const char *qi_feature_name(const struct qi *qi, unsigned type, unsigned bit)
{
    for (size_t i = 0; i < qi->nfeatures; i++) {
        if (qi->features[i].type == type && qi->features[i].bit == bit) {
            return qi->features[i].name;
        }
    }
    for (size_t i = 0; i < QCOW2_NB_FEATURE_NAMES; i++) {
        if (qcow2_feature_names[i].type == type && qcow2_feature_names[i].bit == bit) {
            return qcow2_feature_names[i].name;
        }
    }
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* the reference walk                                                        */

struct walk {
    struct qi *qi;
    qi_walk_fn fn;
    void *opaque;
    struct err *err;
};

static int emit(struct walk *w, struct qi_ref r)
{
    return w->fn(&r, w->opaque);
}

/* An L1 table, its L2 tables and their data. */
static int walk_l1(struct walk *w, uint64_t l1_off, uint64_t l1_size, const char *snapshot)
{
    struct qi *qi = w->qi;
    uint64_t *l1 = NULL, *l2 = xcalloc(qi->l2_entries, sizeof(*l2));
    uint64_t *bm = xcalloc(qi->l2_entries, sizeof(*bm));
    int ret = emit(w, (struct qi_ref){ .kind = QI_KIND_L1, .offset = l1_off,
                                       .length = l1_size * 8, .snapshot = snapshot,
                                       .l1_index = -1, .l2_index = -1, .index = -1 });

    if (!ret && l1_size && qi_read_table(qi, l1_off, l1_size, &l1, w->err) < 0) {
        ret = -EIO;
    }
    l1_size = MIN(l1_size, (uint64_t)QI_MAX_TABLE_BYTES / 8);
    for (uint64_t i = 0; !ret && l1 && i < l1_size; i++) {
        uint64_t l2_off = l1[i] & L1E_OFFSET_MASK;

        if (!l2_off) {
            continue;
        }
        ret = emit(w, (struct qi_ref){ .kind = QI_KIND_L2, .offset = l2_off,
                                       .length = qi->cluster_size, .snapshot = snapshot,
                                       .l1_index = (int64_t)i, .l2_index = -1, .index = -1 });
        if (ret || (ret = qi_read_l2(qi, l2_off, l2, bm, w->err)) < 0) {
            break;
        }
        for (uint64_t j = 0; !ret && j < qi->l2_entries; j++) {
            struct qi_l2e d = qi_l2_decode(qi, l2[j], bm[j]);

            if (d.type != QI_NORMAL && d.type != QI_ZERO_ALLOC && d.type != QI_COMPRESSED) {
                continue;
            }
            ret = emit(w, (struct qi_ref){
                .kind = QI_KIND_DATA, .offset = d.host,
                .length = d.type == QI_COMPRESSED ? d.csize : qi->cluster_size,
                .snapshot = snapshot, .l1_index = (int64_t)i, .l2_index = (int64_t)j,
                .guest_offset = (i * qi->l2_entries + j) * qi->cluster_size, .type = d.type,
                .index = -1 });
        }
    }
    free(l1);
    free(l2);
    free(bm);
    return ret;
}

int qi_walk(struct qi *qi, qi_walk_fn fn, void *opaque, struct err *err)
{
    struct walk w = { qi, fn, opaque, err };
    struct qi_snapshot *sn = NULL;
    struct qi_bitmap *bm = NULL;
    size_t nsn = 0, nbm = 0;
    const uint64_t *rt;
    uint64_t nrt;
    int ret;

    ret = emit(&w, (struct qi_ref){ .kind = QI_KIND_HEADER, .offset = 0,
                                    .length = qi->cluster_size, .l1_index = -1,
                                    .l2_index = -1, .index = -1 });
    if (!ret) {
        ret = walk_l1(&w, qi->l1_offset, qi->l1_size, NULL);
    }
    if (!ret) {
        ret = qi_reftable(qi, &rt, &nrt, err) < 0 ? -EIO : 0;
    }
    if (!ret) {
        ret = emit(&w, (struct qi_ref){ .kind = QI_KIND_REFTABLE, .offset = qi->reftable_offset,
                                        .length = (uint64_t)qi->reftable_clusters *
                                                  qi->cluster_size,
                                        .l1_index = -1, .l2_index = -1, .index = -1 });
    }
    for (uint64_t i = 0; !ret && i < nrt; i++) {
        if (rt[i] & REFT_OFFSET_MASK) {
            ret = emit(&w, (struct qi_ref){ .kind = QI_KIND_REFBLOCK,
                                            .offset = rt[i] & REFT_OFFSET_MASK,
                                            .length = qi->cluster_size, .l1_index = -1,
                                            .l2_index = -1, .index = (int64_t)i });
        }
    }
    if (!ret && qi->nb_snapshots) {
        ret = qi_snapshots(qi, &sn, &nsn, err) < 0 ? -EIO : 0;
        if (!ret && nsn) {
            uint64_t end = sn[nsn - 1].table_offset + sn[nsn - 1].entry_size;
            ret = emit(&w, (struct qi_ref){ .kind = QI_KIND_SNAPSHOT_TABLE,
                                            .offset = qi->snapshots_offset,
                                            .length = end - qi->snapshots_offset,
                                            .l1_index = -1, .l2_index = -1, .index = -1 });
        }
        for (size_t i = 0; !ret && i < nsn; i++) {
            ret = walk_l1(&w, sn[i].l1_offset, sn[i].l1_size, sn[i].id);
        }
    }
    if (!ret && qi->has_bitmaps_ext) {
        ret = emit(&w, (struct qi_ref){ .kind = QI_KIND_BITMAP_DIR, .offset = qi->bitmap_dir_offset,
                                        .length = qi->bitmap_dir_size, .l1_index = -1,
                                        .l2_index = -1, .index = -1 });
        if (!ret) {
            ret = qi_bitmaps(qi, &bm, &nbm, err) < 0 ? -EIO : 0;
        }
        for (size_t i = 0; !ret && i < nbm; i++) {
            uint64_t *t = NULL;

            ret = emit(&w, (struct qi_ref){ .kind = QI_KIND_BITMAP_TABLE,
                                            .offset = bm[i].table_offset,
                                            .length = (uint64_t)bm[i].table_size * 8,
                                            .bitmap = bm[i].name, .l1_index = -1,
                                            .l2_index = -1, .index = -1 });
            if (!ret && qi_read_table(qi, bm[i].table_offset, bm[i].table_size, &t, err) < 0) {
                ret = -EIO;
            }
            for (uint64_t j = 0; !ret && j < MIN(bm[i].table_size, QI_MAX_TABLE_BYTES / 8); j++) {
                if (t[j] & BME_OFFSET_MASK) {
                    ret = emit(&w, (struct qi_ref){ .kind = QI_KIND_BITMAP_DATA,
                                                    .offset = t[j] & BME_OFFSET_MASK,
                                                    .length = qi->cluster_size,
                                                    .bitmap = bm[i].name, .l1_index = -1,
                                                    .l2_index = -1, .index = (int64_t)j });
                }
            }
            free(t);
        }
    }
    if (!ret && qi->has_crypto_ext) {
        ret = emit(&w, (struct qi_ref){ .kind = QI_KIND_CRYPTO, .offset = qi->crypto_offset,
                                        .length = qi->crypto_length, .l1_index = -1,
                                        .l2_index = -1, .index = -1 });
    }
    qi_snapshots_free(sn, nsn);
    qi_bitmaps_free(bm, nbm);
    return ret;
}
