/*
 * qcow2.c - the qcow2 driver: probe, open (header, header extensions,
 * table validation), close, info and the driver table. Reading lives in
 * cluster.c, snapshots in snapshot.c, bitmaps in bitmap.c.
 *
 * Every offset and length read from the file is validated before use;
 * messages are qemu's where qemu has one.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../engine/info.h"
#include "../../engine/json.h"
#include "../../engine/size.h"
#include "../../engine/util.h"
#include "qcow2_int.h"

int qcow2_signal_corruption(struct image *img, struct err *err, const char *fmt, ...)
{
    struct qcow2 *s = qcow2_state(img);
    char msg[ERR_MSG_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if ((img->flags & IMG_RDWR) && !img->broken) {
        /*
         * Writable: mark the image corrupt (compat=1.1 keeps the bit) and
         * refuse every further request, as qemu does. Callers hold img->lock.
         */
        img->broken = true;
        fflush(stdout);
        fprintf(stderr, "qcow2: Marking image as corrupt: %s; further corruption events will "
                "be suppressed\n", msg);
        if (s->version >= 3) {
            uint8_t be[8];
            s->incompat |= QCOW2_INCOMPAT_CORRUPT;
            put_be64(be, s->incompat);
            qcow2_write_header_field(img, QH_INCOMPAT, be, sizeof(be), NULL);
        }
        s->corruption_reported = true;
        return err_set(err, -EIO, "%s", msg);
    }
    /* callers may hold img->lock (the L2 walk does): a lock-free once-only flag */
    if (!__atomic_exchange_n(&s->corruption_reported, true, __ATOMIC_SEQ_CST)) {
        fflush(stdout);
        fprintf(stderr, "qcow2: Image is corrupt: %s; further non-fatal corruption events will "
                "be suppressed\n", msg);
    }
    return err_set(err, -EIO, "%s", msg);
}

static int qcow2_probe(const uint8_t *buf, size_t len, const char *filename)
{
    (void)filename;
    if (len >= 8 && be32(buf) == QCOW2_MAGIC && be32(buf + 4) >= 2) {
        return PROBE_MATCH;
    }
    return 0;
}

/* An on-disk table must be cluster aligned and its end must fit int64. */
static bool table_offset_valid(const struct qcow2 *s, uint64_t offset, uint64_t entries,
                               uint64_t entry_len)
{
    uint64_t bytes, end;

    if (offset % s->cluster_size) {
        return false;
    }
    if (MUL_OVERFLOW(entries, entry_len, &bytes) || ADD_OVERFLOW(offset, bytes, &end) ||
        end > (uint64_t)INT64_MAX) {
        return false;
    }
    return true;
}

static char *dup_bytes(const uint8_t *p, size_t n)
{
    char *s = xmalloc(n + 1);
    memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

/* Header extensions start after the header and end at the first cluster's
 * end (or at the backing file name). As in qemu, they are read twice: early,
 * for the feature name table only (used by the unsupported-feature message)
 * and ignoring any damage; then in full once the tables have been validated,
 * which is where damaged extensions are reported. */
static int read_extensions(struct image *img, const uint8_t *cluster0, uint64_t start,
                           uint64_t end, bool features_only, struct err *err)
{
    struct qcow2 *s = qcow2_state(img);
    uint64_t off = start;
    int ret;

    while (off < end) {
        uint32_t type, len;

        if (end - off < 8) {
            return features_only ? 0 : err_set(err, -EINVAL, "Header extension too large");
        }
        type = be32(cluster0 + off);
        len = be32(cluster0 + off + 4);
        off += 8;
        if (type == QEXT_END) {
            break;
        }
        if (len > end - off) {
            return features_only ? 0 : err_set(err, -EINVAL, "Header extension too large");
        }
        if (features_only && type != QEXT_FEATURE_TABLE) {
            off += round_up(len, 8);
            continue;
        }
        switch (type) {
        case QEXT_BACKING_FORMAT:
            if (len >= 16) {
                return err_set(err, -EINVAL,
                               "ERROR: ext_backing_format: len=%" PRIu32 " too large (>=16)", len);
            }
            free(s->backing_fmt);
            s->backing_fmt = dup_bytes(cluster0 + off, len);
            break;
        case QEXT_FEATURE_TABLE:
            free(s->features);
            s->nb_features = len / 48;
            s->features = xcalloc(s->nb_features ? s->nb_features : 1, sizeof(*s->features));
            for (size_t i = 0; i < s->nb_features; i++) {
                const uint8_t *e = cluster0 + off + i * 48;
                s->features[i].type = e[0];
                s->features[i].bit = e[1];
                memcpy(s->features[i].name, e + 2, 46);
                s->features[i].name[46] = '\0';
            }
            break;
        case QEXT_BITMAPS:
            if (len != 24) {
                return err_set(err, -EINVAL, "bitmaps_ext: Invalid extension length");
            }
            if (!(s->autoclear & QCOW2_AUTOCLEAR_BITMAPS)) {
                /* a program without bitmap support wrote the image: the bitmaps are stale */
                if (s->version == 2) {
                    warn_printf("This qcow2 v2 image contains bitmaps, but they may have been "
                                "modified by a program without persistent bitmap support; so "
                                "now they must all be considered inconsistent");
                } else {
                    warn_printf("a program lacking bitmap support modified this file, so all "
                                "bitmaps are now considered inconsistent");
                }
                fflush(stdout);
                fprintf(stderr, "Some clusters may be leaked, run '%s check -r' on the "
                        "image file to fix.", prog_name);
                break;
            }
            s->nb_bitmaps = be32(cluster0 + off);
            s->bitmap_dir_size = be64(cluster0 + off + 8);
            s->bitmap_dir_offset = be64(cluster0 + off + 16);
            ret = qcow2_check_bitmaps_ext(s, be32(cluster0 + off + 4), err);
            if (ret < 0) {
                return ret;
            }
            s->has_bitmaps_ext = true;
            break;
        case QEXT_CRYPTO:
            if (s->crypt_method != QCOW2_CRYPT_LUKS) {
                return err_set(err, -EINVAL, "CRYPTO header extension only expected with "
                               "LUKS encryption method");
            }
            if (len != 16) {
                return err_set(err, -EINVAL, "CRYPTO header extension size %" PRIu32
                               ", but expected size 16", len);
            }
            s->has_crypto_ext = true;
            s->crypto_offset = be64(cluster0 + off);
            s->crypto_length = be64(cluster0 + off + 8);
            break;
        case QEXT_DATA_FILE:
            free(s->data_file_name);
            s->data_file_name = dup_bytes(cluster0 + off, len);
            break;
        default:
            /* unknown extensions are kept, to be written back with the header */
            s->unknown_ext = xrealloc(s->unknown_ext,
                                      (s->nb_unknown_ext + 1) * sizeof(*s->unknown_ext));
            s->unknown_ext[s->nb_unknown_ext].type = type;
            s->unknown_ext[s->nb_unknown_ext].len = len;
            s->unknown_ext[s->nb_unknown_ext].data = xmalloc(len ? len : 1);
            memcpy(s->unknown_ext[s->nb_unknown_ext].data, cluster0 + off, len);
            s->nb_unknown_ext++;
            break;
        }
        off += round_up(len, 8);
    }
    return 0;
}

/* "Unsupported qcow2 feature(s): ..." for unknown incompatible bits. */
static int report_unsupported(struct qcow2 *s, uint64_t mask, struct err *err)
{
    char msg[ERR_MSG_MAX] = "";
    size_t n = 0;

    for (size_t i = 0; i < s->nb_features; i++) {
        if (s->features[i].type == 0 && s->features[i].bit < 64 &&
            (mask & (1ULL << s->features[i].bit))) {
            n += (size_t)snprintf(msg + n, sizeof(msg) - MIN(n, sizeof(msg)), "%s%s",
                                  n ? ", " : "", s->features[i].name);
            mask &= ~(1ULL << s->features[i].bit);
        }
    }
    if (mask) {
        snprintf(msg + MIN(n, sizeof(msg)), sizeof(msg) - MIN(n, sizeof(msg)),
                 "%sUnknown incompatible feature: %" PRIx64, n ? ", " : "", mask);
    }
    return err_set(err, -ENOTSUP, "Unsupported qcow2 feature(s): %s", msg);
}

static void qcow2_close(struct image *img)
{
    struct qcow2 *s = qcow2_state(img);

    if (s->l2_cache.slots) {
        qcow2_close_writes(img);
    }
    qcow2_cache_free(s);
    qcow2_free_refcounts(s);
    qcow2_free_snapshots(s);
    qcow2_free_bitmaps(s);
    qcow2_free_dbm(s);
    if (s->data_file) {
        file_close(s->data_file);
    }
    free(s->l1);
    free(s->backing_fmt);
    free(s->data_file_name);
    free(s->features);
    for (size_t i = 0; i < s->nb_unknown_ext; i++) {
        free(s->unknown_ext[i].data);
    }
    free(s->unknown_ext);
    free(s->unknown_header);
}

static int open_data_file(struct image *img, struct err *err)
{
    struct qcow2 *s = qcow2_state(img);
    char *path;
    int ret;

    if (!(s->incompat & QCOW2_INCOMPAT_DATA_FILE)) {
        if (s->data_file_name) {
            return err_set(err, -EINVAL, "'data-file' can only be set for images with an "
                           "external data file");
        }
        return 0;
    }
    if (!s->data_file_name) {
        return err_set(err, -EINVAL, "Missing data_file option");
    }
    path = backing_full_path(img->filename, s->data_file_name);
    ret = file_open(&s->data_file, path, (img->flags & IMG_RDWR) ? FILE_RDWR : 0, img->cache,
                    err);
    free(path);
    if (ret == 0) {
        s->data_file->sync_writes = false;  /* the block layer flushes after each request */
    }
    return ret;
}

/* Encrypted images: without a key only metadata opens (info) succeed; for LUKS
 * they parse and validate the LUKS header as qemu does, in qemu's order. */
static int open_encryption(struct image *img, struct err *err)
{
    struct qcow2 *s = qcow2_state(img);
    uint8_t buf[LUKS_HEADER_SIZE];
    int ret;

    if (!s->crypt_method) {
        return 0;
    }
    if (s->crypt_method == QCOW2_CRYPT_LUKS) {
        if (!s->has_crypto_ext) {
            /* qemu-img crashes on such an image */
            return err_set(err, -EINVAL,
                           "qcow2 image is LUKS-encrypted but has no CRYPTO header extension");
        }
        if (s->crypto_offset % s->cluster_size) {
            return err_set(err, -EINVAL, "Encryption header offset '%" PRIu64 "' is not a "
                           "multiple of cluster size '%" PRIu64 "'",
                           s->crypto_offset, s->cluster_size);
        }
    }
    if (!(img->flags & IMG_NO_IO)) {
        /* guest data is encrypted: without the key nothing can be read (no --object yet) */
        return err_set(err, -EINVAL, "Parameter 'encrypt.key-secret' is required for cipher");
    }
    if (s->crypt_method != QCOW2_CRYPT_LUKS) {
        return 0;
    }
    if (s->crypto_length < LUKS_HEADER_SIZE) {
        return err_set(err, -EINVAL, "Request for data outside of extension header");
    }
    if (s->crypto_offset > QEMU_MAX_FILE_OFFSET - LUKS_HEADER_SIZE) {
        return err_set(err, -EIO, "Could not read encryption header: Input/output error");
    }
    ret = file_pread(img->file, s->crypto_offset, buf, sizeof(buf), err);
    if (ret < 0) {
        err_prepend(err, "Could not read encryption header: ");
        return ret;
    }
    return luks_header_parse(buf, &s->luks, err);
}

static int qcow2_open(struct image *img, struct err *err)
{
    struct qcow2 *s = qcow2_state(img);
    uint8_t *c0 = NULL;
    uint8_t head[QH_V3_MIN_LENGTH + 8] = { 0 };
    int64_t flen;
    uint64_t size, l2_span, l1_needed, backing_off;
    uint32_t backing_len;
    int ret;

    flen = file_length(img->file, err);
    if (flen < 0) {
        return (int)flen;
    }
    s->file_length = (uint64_t)flen;
    if ((uint64_t)flen < QH_V2_LENGTH) {
        return err_set(err, -EINVAL, "qcow2 header too short");
    }
    ret = file_pread(img->file, 0, head, sizeof(head), err);
    if (ret < 0) {
        return ret;
    }
    if (be32(head + QH_MAGIC) != QCOW2_MAGIC) {
        return err_set(err, -EINVAL, "Image is not in qcow2 format");
    }
    s->version = be32(head + QH_VERSION);
    if (s->version < 2 || s->version > 3) {
        return err_set(err, -ENOTSUP, "Unsupported qcow2 version %" PRIu32, s->version);
    }
    s->cluster_bits = be32(head + QH_CLUSTER_BITS);
    if (s->cluster_bits < QCOW2_MIN_CLUSTER_BITS || s->cluster_bits > QCOW2_MAX_CLUSTER_BITS) {
        return err_set(err, -EINVAL, "Unsupported cluster size: 2^%" PRIu32, s->cluster_bits);
    }
    s->cluster_size = 1ULL << s->cluster_bits;
    img->cluster_size = s->cluster_size;
    backing_off = be64(head + QH_BACKING_OFFSET);
    backing_len = be32(head + QH_BACKING_SIZE);
    size = be64(head + QH_SIZE);
    s->crypt_method = be32(head + QH_CRYPT_METHOD);
    s->l1_size = be32(head + QH_L1_SIZE);
    s->l1_offset = be64(head + QH_L1_OFFSET);
    s->reftable_offset = be64(head + QH_REFTABLE_OFFSET);
    s->reftable_clusters = be32(head + QH_REFTABLE_CLUSTERS);
    s->nb_snapshots = be32(head + QH_NB_SNAPSHOTS);
    s->snapshots_offset = be64(head + QH_SNAPSHOTS_OFFSET);
    if (s->version == 2) {
        s->refcount_order = 4;
        s->header_length = QH_V2_LENGTH;
    } else {
        s->incompat = be64(head + QH_INCOMPAT);
        s->compat = be64(head + QH_COMPAT);
        s->autoclear = be64(head + QH_AUTOCLEAR);
        s->refcount_order = be32(head + QH_REFCOUNT_ORDER);
        s->header_length = be32(head + QH_HEADER_LENGTH);
        if (s->header_length < QH_V3_MIN_LENGTH) {
            return err_set(err, -EINVAL, "qcow2 header too short");
        }
        if (s->header_length > s->cluster_size) {
            return err_set(err, -EINVAL, "qcow2 header exceeds cluster size");
        }
    }
    if (backing_off > s->cluster_size) {
        return err_set(err, -EINVAL, "Invalid backing file offset");
    }

    /* the first cluster holds the header, its extensions and the backing name */
    c0 = xcalloc(1, s->cluster_size);
    ret = file_pread(img->file, 0, c0, s->cluster_size, err);
    if (ret < 0) {
        goto fail;
    }
    if (s->header_length > QH_COMPRESSION_TYPE) {
        s->compression_type = c0[QH_COMPRESSION_TYPE];
    }
    if (s->header_length > QH_V3_FULL_LENGTH) {
        s->unknown_header_len = s->header_length - QH_V3_FULL_LENGTH;
        s->unknown_header = xmalloc(s->unknown_header_len);
        memcpy(s->unknown_header, c0 + QH_V3_FULL_LENGTH, s->unknown_header_len);
    }
    if (s->compression_type > 1) {
        ret = err_set(err, -ENOTSUP, "qcow2: unknown compression type: %u", s->compression_type);
        goto fail;
    }
    if (s->compression_type && !(s->incompat & QCOW2_INCOMPAT_COMPRESSION)) {
        ret = err_set(err, -EINVAL,
                      "qcow2: Compression type incompatible feature bit must be set");
        goto fail;
    }
    if (!s->compression_type && (s->incompat & QCOW2_INCOMPAT_COMPRESSION)) {
        ret = err_set(err, -EINVAL,
                      "qcow2: Compression type incompatible feature bit must not be set");
        goto fail;
    }
    read_extensions(img, c0, s->header_length, backing_off ? backing_off : s->cluster_size,
                    true, NULL);
    if (s->incompat & ~QCOW2_INCOMPAT_KNOWN) {
        ret = report_unsupported(s, s->incompat & ~QCOW2_INCOMPAT_KNOWN, err);
        goto fail;
    }
    if ((s->incompat & QCOW2_INCOMPAT_CORRUPT) && (img->flags & IMG_RDWR) &&
        !(img->flags & IMG_CHECK)) {
        ret = err_set(err, -EACCES, "qcow2: Image is corrupt; cannot be opened read/write");
        goto fail;
    }
    if (s->refcount_order > 6) {
        ret = err_set(err, -EINVAL,
                      "Reference count entry width too large; may not exceed 64 bits");
        goto fail;
    }
    if (s->crypt_method > 2) {
        ret = err_set(err, -EINVAL, "Unsupported encryption method %" PRIu32, s->crypt_method);
        goto fail;
    }
    s->extended_l2 = s->incompat & QCOW2_INCOMPAT_EXTL2;
    if (s->extended_l2 && s->cluster_bits < 14) {
        ret = err_set(err, -EINVAL, "Extended L2 entries are only supported with cluster "
                      "sizes of at least 16384 bytes");
        goto fail;
    }
    s->l2_entry_size = s->extended_l2 ? 16 : 8;
    s->l2_bits = s->cluster_bits - (s->extended_l2 ? 4 : 3);
    s->subcluster_bits = s->extended_l2 ? s->cluster_bits - 5 : s->cluster_bits;
    s->subcluster_size = 1ULL << s->subcluster_bits;

    /* refcount table */
    if (s->reftable_clusters == 0) {
        ret = err_set(err, -EINVAL, "Image does not contain a reference count table");
        goto fail;
    }
    if ((uint64_t)s->reftable_clusters * s->cluster_size > QCOW2_MAX_REFTABLE_BYTES) {
        ret = err_set(err, -EINVAL, "Reference count table too large");
        goto fail;
    }
    if (!table_offset_valid(s, s->reftable_offset, s->reftable_clusters, s->cluster_size)) {
        ret = err_set(err, -EINVAL, "Reference count table offset invalid");
        goto fail;
    }
    /* snapshot table: check reads (and may repair) it itself */
    if (img->flags & IMG_CHECK) {
        s->nb_snapshots = 0;
        s->snapshots_offset = 0;
    }
    if (s->nb_snapshots > 65536) {
        ret = err_set(err, -EFBIG, "Snapshot table too large");
        goto fail;
    }
    if (!table_offset_valid(s, s->snapshots_offset, s->nb_snapshots, 40)) {
        ret = err_set(err, -EINVAL, "Snapshot table offset invalid");
        goto fail;
    }
    /* active L1 table */
    if ((uint64_t)s->l1_size * 8 > QCOW2_MAX_L1_BYTES) {
        ret = err_set(err, -EFBIG, "Active L1 table too large");
        goto fail;
    }
    l2_span = 1ULL << (s->cluster_bits + s->l2_bits);
    l1_needed = size / l2_span + (size % l2_span != 0);
    if (l1_needed > INT32_MAX) {
        ret = err_set(err, -EFBIG, "Image is too big");
        goto fail;
    }
    if (s->l1_size < l1_needed) {
        ret = err_set(err, -EINVAL, "L1 table is too small");
        goto fail;
    }
    if (!table_offset_valid(s, s->l1_offset, s->l1_size, 8)) {
        ret = err_set(err, -EINVAL, "Active L1 table offset invalid");
        goto fail;
    }
    img->size = size;

    ret = read_extensions(img, c0, s->header_length,
                          backing_off ? backing_off : s->cluster_size, false, err);
    if (ret < 0) {
        goto fail;
    }
    ret = open_encryption(img, err);
    if (ret < 0) {
        goto fail;
    }

    /* backing file name */
    if (backing_off) {
        if (backing_len > QCOW2_MAX_BACKING_NAME || backing_len > s->cluster_size - backing_off) {
            ret = err_set(err, -EINVAL, "Backing file name too long");
            goto fail;
        }
        img->backing_file = dup_bytes(c0 + backing_off, backing_len);
        if (s->backing_fmt) {
            img->backing_fmt = xstrdup(s->backing_fmt);
        }
    }
    free(c0);
    c0 = NULL;

    ret = open_data_file(img, err);
    if (ret < 0) {
        goto fail;
    }
    /* the L1 table is read lazily for metadata-only opens whose tables may lie beyond EOF */
    s->l1_entries = s->l1_size;
    s->l1 = xcalloc(s->l1_size ? s->l1_size : 1, sizeof(uint64_t));
    if (s->l1_size) {
        uint8_t *raw = xmalloc((size_t)s->l1_size * 8);
        ret = file_pread(img->file, s->l1_offset, raw, (size_t)s->l1_size * 8, err);
        if (ret == 0) {
            for (uint32_t i = 0; i < s->l1_size; i++) {
                s->l1[i] = be64(raw + (size_t)i * 8);
            }
        }
        free(raw);
        if (ret < 0) {
            goto fail;
        }
    }
    ret = qcow2_read_snapshots(img, err);
    if (ret < 0) {
        goto fail;
    }
    ret = qcow2_read_bitmaps(img, err);
    if (ret < 0) {
        goto fail;
    }
    ret = qcow2_cache_init(img, err);
    if (ret < 0) {
        goto fail;
    }
    s->metadata_prealloc = -1;
    if ((img->flags & IMG_RDWR) && s->nb_bitmaps) {
        pthread_mutex_lock(&img->lock);
        ret = qcow2_bitmaps_load_rw(img, err);
        pthread_mutex_unlock(&img->lock);
        if (ret < 0) {
            goto fail;
        }
    }
    if ((s->incompat & QCOW2_INCOMPAT_DIRTY) && (img->flags & IMG_RDWR) &&
        !(img->flags & IMG_CHECK)) {
        /* lazy refcounts left dirty: repair them now (check -r all), as qemu does */
        struct check_result res;
        struct err cerr = { 0 };

        pthread_mutex_lock(&img->lock);
        ret = qcow2_check_locked(img, &res, CHECK_FIX_ERRORS | CHECK_FIX_LEAKS, &cerr);
        pthread_mutex_unlock(&img->lock);
        if (ret < 0 || res.check_errors) {
            ret = ret < 0 ? ret : -EIO;
            ret = err_set(err, ret, "Could not repair dirty image: %s", strerror(-ret));
            goto fail;
        }
    }
    return 0;

fail:
    free(c0);
    qcow2_close(img);
    memset(s, 0, sizeof(*s));
    return ret;
}

const struct qcow2_feature_name qcow2_feature_names[QCOW2_NB_FEATURE_NAMES] = {
    { 0, 0, "dirty bit" },
    { 0, 1, "corrupt bit" },
    { 0, 2, "external data file" },
    { 0, 3, "compression type" },
    { 0, 4, "extended L2 entries" },
    { 1, 0, "lazy refcounts" },
    { 2, 0, "bitmaps" },
    { 2, 1, "raw external data" },
};

static bool put_ext(uint8_t *h, size_t *off, size_t room, uint32_t type, const void *data,
                    size_t len)
{
    if (*off + 8 + round_up(len, 8) > room) {
        return false;
    }
    put_be32(h + *off, type);
    put_be32(h + *off + 4, (uint32_t)len);
    if (len) {
        memcpy(h + *off + 8, data, len);
    }
    *off += 8 + round_up(len, 8);
    return true;
}

int qcow2_update_header(struct image *img, const char *backing, const char *backing_fmt,
                        struct err *err)
{
    struct qcow2 *s = qcow2_state(img);
    uint64_t cs = s->cluster_size;
    uint8_t *h = xcalloc(1, (size_t)cs);
    size_t off;
    bool ok = true;
    int ret;

    put_be32(h + QH_MAGIC, QCOW2_MAGIC);
    put_be32(h + QH_VERSION, s->version);
    put_be32(h + QH_CLUSTER_BITS, s->cluster_bits);
    put_be64(h + QH_SIZE, img->size);
    put_be32(h + QH_CRYPT_METHOD, s->crypt_method);
    put_be32(h + QH_L1_SIZE, s->l1_size);
    put_be64(h + QH_L1_OFFSET, s->l1_offset);
    put_be64(h + QH_REFTABLE_OFFSET, s->reftable_offset);
    put_be32(h + QH_REFTABLE_CLUSTERS, s->reftable_clusters);
    put_be32(h + QH_NB_SNAPSHOTS, s->nb_snapshots);
    put_be64(h + QH_SNAPSHOTS_OFFSET, s->snapshots_offset);
    off = QH_V2_LENGTH;
    if (s->version >= 3) {
        put_be64(h + QH_INCOMPAT, s->incompat);
        put_be64(h + QH_COMPAT, s->compat);
        put_be64(h + QH_AUTOCLEAR, s->autoclear);
        put_be32(h + QH_REFCOUNT_ORDER, s->refcount_order);
        put_be32(h + QH_HEADER_LENGTH, QH_V3_FULL_LENGTH + s->unknown_header_len);
        h[QH_COMPRESSION_TYPE] = s->compression_type;
        off = QH_V3_FULL_LENGTH;
        if (s->unknown_header_len) {
            memcpy(h + off, s->unknown_header, s->unknown_header_len);
            off += s->unknown_header_len;
        }
    }
    if (backing_fmt) {
        ok = put_ext(h, &off, cs, QEXT_BACKING_FORMAT, backing_fmt, strlen(backing_fmt));
    }
    if (ok && (s->incompat & QCOW2_INCOMPAT_DATA_FILE) && s->data_file_name) {
        ok = put_ext(h, &off, cs, QEXT_DATA_FILE, s->data_file_name, strlen(s->data_file_name));
    }
    if (ok && s->has_crypto_ext) {
        uint8_t c[16];
        put_be64(c, s->crypto_offset);
        put_be64(c + 8, s->crypto_length);
        ok = put_ext(h, &off, cs, QEXT_CRYPTO, c, sizeof(c));
    }
    if (ok && s->version >= 3 && cs > 4096) {
        uint8_t table[QCOW2_NB_FEATURE_NAMES * 48] = { 0 };
        for (size_t i = 0; i < QCOW2_NB_FEATURE_NAMES; i++) {
            const struct qcow2_feature_name *f = &qcow2_feature_names[i];
            table[i * 48] = f->type;
            table[i * 48 + 1] = f->bit;
            memcpy(table + i * 48 + 2, f->name, strlen(f->name));
        }
        ok = put_ext(h, &off, cs, QEXT_FEATURE_TABLE, table, sizeof(table));
    }
    if (ok && s->nb_bitmaps > 0) {
        uint8_t b[24] = { 0 };
        put_be32(b, s->nb_bitmaps);
        put_be64(b + 8, s->bitmap_dir_size);
        put_be64(b + 16, s->bitmap_dir_offset);
        ok = put_ext(h, &off, cs, QEXT_BITMAPS, b, sizeof(b));
    }
    for (size_t i = 0; ok && i < s->nb_unknown_ext; i++) {
        ok = put_ext(h, &off, cs, s->unknown_ext[i].type, s->unknown_ext[i].data,
                     s->unknown_ext[i].len);
    }
    if (ok) {
        ok = put_ext(h, &off, cs, QEXT_END, NULL, 0);
    }
    if (ok && backing) {
        size_t n = strlen(backing);
        ok = n <= cs - off;
        if (ok) {
            memcpy(h + off, backing, n);
            put_be64(h + QH_BACKING_OFFSET, off);
            put_be32(h + QH_BACKING_SIZE, (uint32_t)n);
        }
    }
    if (!ok) {
        free(h);
        return err_set(err, -ENOSPC, "No space left on device");
    }
    ret = file_pwrite(img->file, 0, h, (size_t)cs, err);
    if (ret == 0) {
        ret = file_flush(img->file, err);
    }
    free(h);
    return ret;
}

static int qcow2_change_backing_file(struct image *img, const char *backing,
                                     const char *backing_fmt, struct err *err)
{
    struct qcow2 *s = qcow2_state(img);
    int ret;

    if (backing && strlen(backing) > QCOW2_MAX_BACKING_NAME) {
        return err_set(err, -EINVAL, "Invalid argument");
    }
    if (backing && (s->autoclear & QCOW2_AUTOCLEAR_DATA_FILE_RAW)) {
        return err_set(err, -EINVAL, "Invalid argument");
    }
    pthread_mutex_lock(&img->lock);
    ret = qcow2_update_header(img, backing, backing_fmt, err);
    pthread_mutex_unlock(&img->lock);
    if (ret == 0) {
        free(img->backing_file);
        free(img->backing_fmt);
        free(s->backing_fmt);
        img->backing_file = backing ? xstrdup(backing) : NULL;
        img->backing_fmt = backing_fmt ? xstrdup(backing_fmt) : NULL;
        s->backing_fmt = backing_fmt ? xstrdup(backing_fmt) : NULL;
    }
    return ret;
}

static int qcow2_get_info(struct image *img, struct image_info *info, struct err *err)
{
    struct qcow2 *s = qcow2_state(img);
    json_t *data = json_object();
    json_t *spec = json_object();
    json_t *bitmaps;

    (void)err;
    info->cluster_size = s->cluster_size;
    {
        /* qemu: the L1 index just past the disk, as a guest offset */
        unsigned shift = s->cluster_bits + s->l2_bits;
        info->vm_state_offset = DIV_ROUND_UP(img->size, 1ULL << shift) << shift;
    }
    info->dirty = s->incompat & QCOW2_INCOMPAT_DIRTY;
    info->encrypted = s->crypt_method != 0;

    json_obj_set_str(data, "compat", s->version == 2 ? "0.10" : "1.1");
    json_obj_set_str(data, "compression-type", s->compression_type ? "zstd" : "zlib");
    if (s->version >= 3) {
        json_obj_set_bool(data, "lazy-refcounts", (s->compat & QCOW2_COMPAT_LAZY_REFCOUNTS) != 0);
        bitmaps = qcow2_bitmaps_json(img);
        if (bitmaps) {
            json_object_set_new(data, "bitmaps", bitmaps);
        }
    }
    json_obj_set_int(data, "refcount-bits", 1LL << s->refcount_order);
    if (s->crypt_method == QCOW2_CRYPT_AES) {
        json_t *enc = json_object();
        json_obj_set_str(enc, "format", "aes");
        json_object_set_new(data, "encrypt", enc);
    } else if (s->crypt_method == QCOW2_CRYPT_LUKS) {
        json_object_set_new(data, "encrypt", luks_header_json(&s->luks));
    }
    if (s->version >= 3) {
        if (s->data_file_name) {
            json_obj_set_str(data, "data-file", s->data_file_name);
        }
        if (s->incompat & QCOW2_INCOMPAT_DATA_FILE) {
            json_obj_set_bool(data, "data-file-raw",
                              (s->autoclear & QCOW2_AUTOCLEAR_DATA_FILE_RAW) != 0);
        }
        json_obj_set_bool(data, "corrupt", (s->incompat & QCOW2_INCOMPAT_CORRUPT) != 0);
        json_obj_set_bool(data, "extended-l2", s->extended_l2);
    }
    json_obj_set_str(spec, "type", "qcow2");
    json_object_set_new(spec, "data", data);
    info->format_specific = spec;
    return 0;
}

static int qcow2_snapshot_list_hook(struct image *img, struct snapshot_info **list, size_t *n,
                                    struct err *err)
{
    return qcow2_snapshot_list(img, list, n, err);
}

const struct fmt_driver fmt_qcow2 = {
    .name = "qcow2",
    .description = "QEMU copy-on-write image, version 2 and 3",
    .instance_size = sizeof(struct qcow2),
    .unshared_perms = PERM_WRITE | PERM_RESIZE,
    .probe = qcow2_probe,
    .open = qcow2_open,
    .close = qcow2_close,
    .read = qcow2_read,
    .write = qcow2_write,
    .write_zeroes = qcow2_write_zeroes,
    .discard = qcow2_discard,
    .compress = qcow2_compress,
    .write_compressed = qcow2_write_compressed,
    .flush = qcow2_flush,
    .truncate = qcow2_truncate,
    .make_empty = qcow2_make_empty,
    .amend = qcow2_amend,
    .amend_opts = qcow2_amend_opts,
    .change_backing_file = qcow2_change_backing_file,
    .bitmap = qcow2_bitmap_op,
    .supports_bitmaps = qcow2_supports_bitmaps,
    .bitmap_list = qcow2_bitmap_list,
    .block_status = qcow2_block_status,
    .get_info = qcow2_get_info,
    .snapshot_list = qcow2_snapshot_list_hook,
    .snapshot_load = qcow2_snapshot_load,
    .snapshot_create = qcow2_snapshot_create,
    .snapshot_apply = qcow2_snapshot_apply,
    .snapshot_delete = qcow2_snapshot_delete,
    .create = qcow2_create,
    .create_opts = qcow2_create_opts,
    .create_passes_file_opts = true,
    .measure = qcow2_measure,
    .check = qcow2_check,
};
