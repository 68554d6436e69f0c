/*
 * bitmap_write.c - persistent dirty bitmaps of images open read-write:
 * loading them, tracking guest writes in them, the bitmap command's
 * operations, and storing them back, with qemu's steps in qemu's order.
 *
 * Open read-write: every bitmap the directory has is loaded (one bit per
 * granularity chunk, least significant bit first); one already marked
 * in-use on disk is inconsistent (kept as it is, unusable). The others
 * are marked in-use on disk right away (directory rewritten in place,
 * with the autoclear bit dropped meanwhile), so a crash leaves them
 * inconsistent rather than stale.
 *
 * Writes, zero writes and discards set the bits of every enabled bitmap.
 *
 * Close: each consistent bitmap's data goes to new clusters (one per
 * bitmap cluster holding a set bit), then its table; the directory is
 * written to new clusters and the header switched to it; then the old
 * tables and their data are freed. As in qemu, the in-memory list has the
 * newest bitmap first.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "../../engine/size.h"
#include "../../engine/util.h"
#include "qcow2_int.h"

#define BM_FIXED 24
#define BM_FLAG_IN_USE (1u << 0)
#define BM_FLAG_AUTO (1u << 1)
#define BM_ENTRY_OFFSET 0x00fffffffffffe00ULL
#define BM_ENTRY_ALL_ONES 1ULL
#define BM_MAX_COUNT 65535
#define BM_MAX_DIR_BYTES ((uint64_t)BM_MAX_COUNT * 1024)
#define BM_MAX_TABLE_ENTRIES 0x8000000u
#define BM_MAX_PHYS_BYTES (512ULL << 20)
#define BM_MAX_NAME 1023

static uint64_t chunks_of(const struct image *img, unsigned gbits)
{
    return DIV_ROUND_UP(img->size, 1ULL << gbits);
}

/* Bytes of serialised bitmap data: whole 64-bit words, as qemu serialises them. */
static uint64_t data_bytes(uint64_t chunks)
{
    return DIV_ROUND_UP(chunks, 64) * 8;
}

static struct qcow2_dbm *dbm_find(struct qcow2 *s, const char *name)
{
    for (size_t i = 0; i < s->nb_dbm; i++) {
        if (!strcmp(s->dbm[i].name, name)) {
            return &s->dbm[i];
        }
    }
    return NULL;
}

/* Newest first, as qemu keeps them. */
static struct qcow2_dbm *dbm_new(struct image *img, const char *name, unsigned gbits)
{
    struct qcow2 *s = qcow2_state(img);
    struct qcow2_dbm *d;

    s->dbm = xrealloc(s->dbm, (s->nb_dbm + 1) * sizeof(*s->dbm));
    memmove(s->dbm + 1, s->dbm, s->nb_dbm * sizeof(*s->dbm));
    s->nb_dbm++;
    d = &s->dbm[0];
    memset(d, 0, sizeof(*d));
    d->name = xstrdup(name);
    d->gbits = gbits;
    d->enabled = true;
    d->nbits = chunks_of(img, gbits);
    d->bits = xcalloc(1, (size_t)data_bytes(d->nbits) + 1);
    return d;
}

void qcow2_free_dbm(struct qcow2 *s)
{
    for (size_t i = 0; i < s->nb_dbm; i++) {
        free(s->dbm[i].name);
        free(s->dbm[i].bits);
    }
    free(s->dbm);
    s->dbm = NULL;
    s->nb_dbm = 0;
}

static void set_bits(struct qcow2_dbm *d, uint64_t first, uint64_t last)
{
    for (uint64_t b = first; b <= last && b < d->nbits; b++) {
        d->bits[b / 8] |= (uint8_t)(1u << (b % 8));
    }
}

void qcow2_bitmaps_mark(struct image *img, uint64_t off, uint64_t len)
{
    struct qcow2 *s = qcow2_state(img);

    for (size_t i = 0; len && i < s->nb_dbm; i++) {
        struct qcow2_dbm *d = &s->dbm[i];
        if (d->enabled && !d->inconsistent) {
            set_bits(d, off >> d->gbits, (off + len - 1) >> d->gbits);
        }
    }
}

void qcow2_bitmaps_resize(struct image *img)
{
    struct qcow2 *s = qcow2_state(img);

    for (size_t i = 0; i < s->nb_dbm; i++) {
        struct qcow2_dbm *d = &s->dbm[i];
        uint64_t n = chunks_of(img, d->gbits), old = data_bytes(d->nbits), new = data_bytes(n);

        d->bits = xrealloc(d->bits, (size_t)new + 1);
        if (new > old) {
            memset(d->bits + old, 0, (size_t)(new - old));
        }
        /* chunks past the new end are gone, in the last byte and after it */
        for (uint64_t b = n; b < MIN(d->nbits, round_up(n, 8)); b++) {
            d->bits[b / 8] &= (uint8_t)~(1u << (b % 8));
        }
        if (DIV_ROUND_UP(n, 8) < new) {
            memset(d->bits + DIV_ROUND_UP(n, 8), 0, (size_t)(new - DIV_ROUND_UP(n, 8)));
        }
        d->nbits = n;
    }
}

static int read_table(struct image *img, const struct qcow2_bitmap *b, uint64_t **out,
                      struct err *err)
{
    uint8_t *raw = xmalloc((size_t)b->table_size * 8 + 1);
    uint64_t *t = xcalloc(b->table_size ? b->table_size : 1, sizeof(*t));
    int ret = file_pread(img->file, b->table_offset, raw, (size_t)b->table_size * 8, err);

    for (uint32_t i = 0; ret == 0 && i < b->table_size; i++) {
        t[i] = be64(raw + (size_t)i * 8);
    }
    free(raw);
    if (ret < 0) {
        free(t);
        return ret;
    }
    *out = t;
    return 0;
}

static int load_data(struct image *img, const struct qcow2_bitmap *b, struct qcow2_dbm *d,
                     struct err *err)
{
    struct qcow2 *s = qcow2_state(img);
    uint64_t bytes = data_bytes(d->nbits), *t;
    uint8_t *cl = xmalloc((size_t)s->cluster_size);
    int ret = read_table(img, b, &t, err);

    for (uint32_t i = 0; ret == 0 && i < b->table_size; i++) {
        uint64_t at = (uint64_t)i * s->cluster_size, n;
        if (at >= bytes) {
            break;
        }
        n = MIN(s->cluster_size, bytes - at);
        if (t[i] & BM_ENTRY_OFFSET) {
            ret = file_pread(img->file, t[i] & BM_ENTRY_OFFSET, cl, (size_t)s->cluster_size, err);
            if (ret == 0) {
                memcpy(d->bits + at, cl, (size_t)n);
            }
        } else if (t[i] & BM_ENTRY_ALL_ONES) {
            memset(d->bits + at, 0xff, (size_t)n);
        }
    }
    if (ret == 0 && d->nbits % 8) {
        d->bits[d->nbits / 8] &= (uint8_t)((1u << (d->nbits % 8)) - 1);
    }
    if (ret == 0) {
        memset(d->bits + DIV_ROUND_UP(d->nbits, 8), 0, (size_t)(bytes - DIV_ROUND_UP(d->nbits, 8)));
    }
    free(cl);
    if (ret == 0) {
        free(t);
    }
    return ret;
}

/* The directory as the list stands: entries of BM_FIXED + name, 8-byte aligned. */
static uint8_t *build_dir(const struct qcow2 *s, uint64_t *size)
{
    uint64_t n = 0, pos = 0;
    uint8_t *dir;

    for (uint32_t i = 0; i < s->nb_bitmaps; i++) {
        n += round_up(BM_FIXED + strlen(s->bitmaps[i].name), 8);
    }
    dir = xcalloc(1, (size_t)n + 1);
    for (uint32_t i = 0; i < s->nb_bitmaps; i++) {
        const struct qcow2_bitmap *b = &s->bitmaps[i];
        size_t nl = strlen(b->name);
        put_be64(dir + pos, b->table_offset);
        put_be32(dir + pos + 8, b->table_size);
        put_be32(dir + pos + 12, b->flags);
        dir[pos + 16] = 1;
        dir[pos + 17] = b->granularity_bits;
        put_be16(dir + pos + 18, (uint16_t)nl);
        memcpy(dir + pos + BM_FIXED, b->name, nl);
        pos += round_up(BM_FIXED + nl, 8);
    }
    *size = n;
    return dir;
}

static int header_sync(struct image *img, struct err *err)
{
    struct qcow2 *s = qcow2_state(img);

    return qcow2_update_header(img, img->backing_file, s->backing_fmt, err);
}

/* Write the directory to new clusters, switch the header, free the old one. */
static int update_dir(struct image *img, struct err *err)
{
    struct qcow2 *s = qcow2_state(img);
    uint64_t old_off = s->bitmap_dir_offset, old_size = s->bitmap_dir_size, size = 0;
    uint64_t off = 0;
    int ret = 0;

    if (s->nb_bitmaps) {
        uint8_t *dir = build_dir(s, &size);
        int64_t got;
        if (size > BM_MAX_DIR_BYTES) {
            free(dir);
            return err_set(err, -EINVAL, "Invalid argument");
        }
        got = qcow2_alloc_clusters(img, DIV_ROUND_UP(size, s->cluster_size), err);
        ret = got < 0 ? (int)got : qcow2_check_overlap(img, (uint64_t)got, size, err);
        if (ret == 0) {
            off = (uint64_t)got;
            ret = file_pwrite(img->file, off, dir, (size_t)size, err);
        }
        free(dir);
        if (ret == 0) {
            ret = qcow2_flush_locked(img, err);
        }
        if (ret < 0) {
            return ret;
        }
        s->autoclear |= QCOW2_AUTOCLEAR_BITMAPS;
    } else {
        s->autoclear &= ~QCOW2_AUTOCLEAR_BITMAPS;
    }
    s->bitmap_dir_offset = off;
    s->bitmap_dir_size = size;
    s->has_bitmaps_ext = s->nb_bitmaps > 0;
    ret = header_sync(img, err);
    if (ret == 0 && old_size) {
        ret = qcow2_update_refcount(img, old_off, old_size, -1, err);
    }
    return ret;
}

/* A bitmap table's data clusters are freed (punched out), then the table. */
static int free_table(struct image *img, uint64_t offset, uint32_t size, struct err *err)
{
    struct qcow2 *s = qcow2_state(img);
    struct qcow2_bitmap b = { .table_offset = offset, .table_size = size };
    uint64_t *t;
    int ret;

    if (!offset) {
        return 0;
    }
    ret = read_table(img, &b, &t, err);
    for (uint32_t i = 0; ret == 0 && i < size; i++) {
        if (t[i] & BM_ENTRY_OFFSET) {
            s->punch_freed = true;
            ret = qcow2_update_refcount(img, t[i] & BM_ENTRY_OFFSET, s->cluster_size, -1, err);
            s->punch_freed = false;
        }
    }
    if (ret == 0) {
        free(t);
        ret = qcow2_update_refcount(img, offset, (uint64_t)size * 8, -1, err);
    }
    return ret;
}

int qcow2_bitmaps_load_rw(struct image *img, struct err *err)
{
    struct qcow2 *s = qcow2_state(img);
    bool update = false;
    uint64_t size;
    uint8_t *dir;
    int ret = 0;

    for (uint32_t i = 0; i < s->nb_bitmaps; i++) {
        struct qcow2_bitmap *b = &s->bitmaps[i];
        struct qcow2_dbm *d = dbm_new(img, b->name, b->granularity_bits);

        if (b->flags & BM_FLAG_IN_USE) {
            d->inconsistent = true;
        } else {
            ret = load_data(img, b, d, err);
            if (ret < 0) {
                return ret;
            }
            b->flags |= BM_FLAG_IN_USE;
            update = true;
        }
        d->enabled = (b->flags & BM_FLAG_AUTO) != 0;
    }
    if (!update) {
        return 0;
    }
    /* in place: autoclear off, the directory with in-use flags, autoclear on */
    s->autoclear &= ~QCOW2_AUTOCLEAR_BITMAPS;
    ret = header_sync(img, err);
    if (ret < 0) {
        return ret;
    }
    dir = build_dir(s, &size);
    ret = file_pwrite(img->file, s->bitmap_dir_offset, dir, (size_t)size, err);
    free(dir);
    if (ret == 0) {
        s->autoclear |= QCOW2_AUTOCLEAR_BITMAPS;
        ret = header_sync(img, err);
    }
    if (ret < 0) {
        err_prepend(err, "Can't update bitmap directory: ");
    }
    return ret;
}

/* One bitmap's data (a cluster per bitmap cluster with a set bit), then its table. */
static int store_bitmap(struct image *img, struct qcow2_bitmap *b, const struct qcow2_dbm *d,
                        struct err *err)
{
    struct qcow2 *s = qcow2_state(img);
    uint64_t bytes = data_bytes(d->nbits);
    uint64_t tsize = DIV_ROUND_UP(bytes, s->cluster_size);
    uint64_t *t;
    uint8_t *raw;
    int64_t got;
    int ret = 0;

    if (tsize > BM_MAX_TABLE_ENTRIES || tsize * s->cluster_size > BM_MAX_PHYS_BYTES) {
        return err_set(err, -EINVAL, "Bitmap '%s' is too big", d->name);
    }
    t = xcalloc(tsize ? tsize : 1, sizeof(*t));
    for (uint64_t i = 0; ret == 0 && i < tsize; i++) {
        uint64_t at = i * s->cluster_size, n = MIN(s->cluster_size, bytes - at);
        uint8_t *cl;
        if (buf_is_zero(d->bits + at, (size_t)n)) {
            continue;
        }
        got = qcow2_alloc_clusters(img, 1, err);
        if (got < 0) {
            err_prepend(err, "Failed to allocate clusters for bitmap '%s': ", d->name);
            ret = (int)got;
            break;
        }
        t[i] = (uint64_t)got;
        cl = xcalloc(1, (size_t)s->cluster_size);
        memcpy(cl, d->bits + at, (size_t)n);
        ret = qcow2_check_overlap(img, t[i], s->cluster_size, err);
        if (ret == 0) {
            ret = file_pwrite(img->file, t[i], cl, (size_t)s->cluster_size, err);
        }
        free(cl);
    }
    if (ret == 0) {
        got = qcow2_alloc_clusters(img, DIV_ROUND_UP(tsize * 8, s->cluster_size), err);
        ret = got < 0 ? (int)got : qcow2_check_overlap(img, (uint64_t)got, tsize * 8, err);
        if (ret == 0) {
            raw = xmalloc((size_t)tsize * 8 + 1);
            for (uint64_t i = 0; i < tsize; i++) {
                put_be64(raw + i * 8, t[i]);
            }
            ret = file_pwrite(img->file, (uint64_t)got, raw, (size_t)tsize * 8, err);
            free(raw);
            b->table_offset = (uint64_t)got;
            b->table_size = (uint32_t)tsize;
        }
    }
    free(t);
    return ret;
}

int qcow2_bitmaps_store(struct image *img, struct err *err)
{
    struct qcow2 *s = qcow2_state(img);
    struct drop { uint64_t off; uint32_t size; } *drops;
    const struct qcow2_dbm **owner;
    size_t ndrops = 0;
    int ret = 0;

    if (!s->nb_dbm) {
        return 0;
    }
    drops = xcalloc(s->nb_dbm, sizeof(*drops));
    owner = xcalloc(s->nb_bitmaps + s->nb_dbm, sizeof(*owner));
    for (size_t i = 0; i < s->nb_dbm; i++) {
        const struct qcow2_dbm *d = &s->dbm[i];
        struct qcow2_bitmap *b = NULL;
        uint32_t k;

        if (d->inconsistent) {
            continue;
        }
        for (k = 0; k < s->nb_bitmaps && !b; k++) {
            if (!strcmp(s->bitmaps[k].name, d->name)) {
                b = &s->bitmaps[k];
                break;
            }
        }
        if (!b) {
            s->bitmaps = xrealloc(s->bitmaps, (s->nb_bitmaps + 1) * sizeof(*s->bitmaps));
            b = &s->bitmaps[s->nb_bitmaps];
            memset(b, 0, sizeof(*b));
            b->name = xstrdup(d->name);
            b->type = 1;
            k = s->nb_bitmaps++;
        } else if (!(b->flags & BM_FLAG_IN_USE)) {
            ret = err_set(err, -EINVAL, "Bitmap '%s' already exists in the image", d->name);
            goto out;
        } else {
            drops[ndrops].off = b->table_offset;
            drops[ndrops++].size = b->table_size;
            b->table_offset = 0;
            b->table_size = 0;
        }
        b->flags = d->enabled ? BM_FLAG_AUTO : 0;
        b->granularity_bits = (uint8_t)d->gbits;
        owner[k] = d;
    }
    for (uint32_t k = 0; ret == 0 && k < s->nb_bitmaps; k++) {
        if (owner[k]) {
            ret = store_bitmap(img, &s->bitmaps[k], owner[k], err);
        }
    }
    if (ret == 0) {
        ret = update_dir(img, err);
    }
    for (size_t i = 0; ret == 0 && i < ndrops; i++) {
        ret = free_table(img, drops[i].off, drops[i].size, err);
    }
out:
    free(drops);
    free(owner);
    return ret;
}

/* --- the bitmap command's operations --- */

/*
 * qemu's checks before a bitmap is made persistent. Its message names the
 * block node ("#block123", a counter); imgsh names the image file.
 */
static int can_store(struct image *img, const char *name, uint64_t gran, struct err *err)
{
    struct qcow2 *s = qcow2_state(img);
    unsigned gbits = 0;
    int ret = 0;

    while ((1ULL << gbits) < gran) {
        gbits++;
    }
    if (s->version < 3) {
        ret = err_set(err, -EINVAL, "Cannot store dirty bitmaps in qcow2 v2 files");
    } else if (strlen(name) > BM_MAX_NAME) {
        ret = err_set(err, -EINVAL, "Name length exceeds maximum (%u characters)", BM_MAX_NAME);
    } else if (gbits > 31) {
        ret = err_set(err, -EINVAL, "Granularity exceeds maximum (%llu bytes)", 1ULL << 31);
    } else if (DIV_ROUND_UP(data_bytes(chunks_of(img, gbits)), s->cluster_size) >
               BM_MAX_TABLE_ENTRIES ||
               DIV_ROUND_UP(data_bytes(chunks_of(img, gbits)), s->cluster_size) *
                   s->cluster_size > BM_MAX_PHYS_BYTES) {
        ret = err_set(err, -EINVAL, "Too much space will be occupied by the bitmap. Use larger "
                      "granularity");
    } else if (s->nb_bitmaps >= BM_MAX_COUNT) {
        ret = err_set(err, -EINVAL, "Maximum number of persistent bitmaps is already reached");
    } else if (s->nb_bitmaps &&
               s->bitmap_dir_size + round_up(BM_FIXED + strlen(name), 8) > BM_MAX_DIR_BYTES) {
        ret = err_set(err, -EINVAL, "Not enough space in the bitmap directory");
    }
    if (ret < 0) {
        err_prepend(err, "Can't make bitmap '%s' persistent in '%s': ", name, img->filename);
    }
    return ret;
}

static struct qcow2_dbm *usable(struct image *img, const char *name, struct err *err)
{
    struct qcow2_dbm *d = dbm_find(qcow2_state(img), name);

    if (!d) {
        err_set(err, -ENOENT, "Dirty bitmap '%s' not found", name);
    } else if (d->inconsistent) {
        err_set(err, -EINVAL, "Bitmap '%s' is inconsistent and cannot be used\n"
                "Try block-dirty-bitmap-remove to delete this bitmap from disk", name);
        d = NULL;
    }
    return d;
}

int qcow2_bitmap_op(struct image *img, enum bitmap_op op, const char *name, uint64_t gran,
                    struct image *src, const char *src_name, struct err *err)
{
    struct qcow2 *s = qcow2_state(img);
    struct qcow2_dbm *d, *from, tmp = { 0 };
    int ret = 0;

    pthread_mutex_lock(&img->lock);
    switch (op) {
    case BITMAP_ADD:
        if (!*name) {
            ret = err_set(err, -EINVAL, "Bitmap name cannot be empty");
            break;
        }
        if (gran) {
            gran = (uint32_t)gran;      /* QMP takes a 32-bit granularity */
            if (gran < 512 || (gran & (gran - 1))) {
                ret = err_set(err, -EINVAL, "Granularity must be power of 2 and at least 512");
                break;
            }
        }
        if (!gran) {
            gran = MAX(s->cluster_size, 4096);
        }
        if (dbm_find(s, name)) {
            ret = err_set(err, -EEXIST, "Bitmap already exists: %s", name);
            break;
        }
        ret = can_store(img, name, gran, err);
        if (ret == 0) {
            unsigned gbits = 0;
            while ((1ULL << gbits) < gran) {
                gbits++;
            }
            dbm_new(img, name, gbits);
        }
        break;
    case BITMAP_REMOVE:
        d = dbm_find(s, name);
        if (!d) {
            ret = err_set(err, -ENOENT, "Dirty bitmap '%s' not found", name);
            break;
        }
        for (uint32_t k = 0; k < s->nb_bitmaps; k++) {
            if (!strcmp(s->bitmaps[k].name, name)) {
                struct qcow2_bitmap gone = s->bitmaps[k];
                memmove(&s->bitmaps[k], &s->bitmaps[k + 1],
                        (s->nb_bitmaps - k - 1) * sizeof(*s->bitmaps));
                s->nb_bitmaps--;
                ret = update_dir(img, err);
                if (ret == 0) {
                    ret = free_table(img, gone.table_offset, gone.table_size, err);
                } else {
                    err_prepend(err, "Failed to update bitmap extension: ");
                }
                free(gone.name);
                break;
            }
        }
        if (ret == 0) {
            size_t i = (size_t)(d - s->dbm);
            free(d->name);
            free(d->bits);
            memmove(&s->dbm[i], &s->dbm[i + 1], (s->nb_dbm - i - 1) * sizeof(*s->dbm));
            s->nb_dbm--;
        }
        break;
    case BITMAP_CLEAR:
        if ((d = usable(img, name, err))) {
            memset(d->bits, 0, (size_t)data_bytes(d->nbits));
        } else {
            ret = -EINVAL;
        }
        break;
    case BITMAP_ENABLE:
    case BITMAP_DISABLE:
        if ((d = usable(img, name, err))) {
            d->enabled = op == BITMAP_ENABLE;
        } else {
            ret = -EINVAL;
        }
        break;
    case BITMAP_MERGE:
        if (!(d = usable(img, name, err))) {
            ret = -EINVAL;
            break;
        }
        if (src && src != img) {
            /* another image, open read-only: its bitmap is read from its directory */
            struct qcow2 *o = src->drv == img->drv ? qcow2_state(src) : NULL;
            const struct qcow2_bitmap *sb = NULL;
            for (uint32_t k = 0; o && k < o->nb_bitmaps && !sb; k++) {
                if (!strcmp(o->bitmaps[k].name, src_name)) {
                    sb = &o->bitmaps[k];
                }
            }
            if (!sb) {
                ret = err_set(err, -ENOENT, "Dirty bitmap '%s' not found", src_name);
                break;
            }
            tmp.name = (char *)src_name;
            tmp.gbits = sb->granularity_bits;
            tmp.nbits = chunks_of(src, sb->granularity_bits);
            tmp.bits = xcalloc(1, (size_t)data_bytes(tmp.nbits) + 1);
            tmp.inconsistent = (sb->flags & BM_FLAG_IN_USE) != 0;
            if (!tmp.inconsistent && (ret = load_data(src, sb, &tmp, err)) < 0) {
                free(tmp.bits);
                break;
            }
            from = &tmp;
        } else {
            from = dbm_find(s, src_name);
        }
        if (!from) {
            ret = err_set(err, -ENOENT, "Dirty bitmap '%s' not found", src_name);
            break;
        }
        if (from->inconsistent) {
            ret = err_set(err, -EINVAL, "Bitmap '%s' is inconsistent and cannot be used\n"
                          "Try block-dirty-bitmap-remove to delete this bitmap from disk",
                          src_name);
            break;
        }
        /* every chunk of the target that a set chunk of the source touches */
        for (uint64_t c = 0; c < from->nbits; c++) {
            if (from->bits[c / 8] & (1u << (c % 8))) {
                uint64_t a = c << from->gbits, e = MIN(img->size, (c + 1) << from->gbits);
                set_bits(d, a >> d->gbits, (e - 1) >> d->gbits);
            }
        }
        break;
    }
    free(tmp.bits);
    pthread_mutex_unlock(&img->lock);
    return ret;
}

bool qcow2_supports_bitmaps(struct image *img)
{
    return qcow2_state(img)->version >= 3;
}

int qcow2_bitmap_list(struct image *img, struct bitmap_info **list, size_t *n, struct err *err)
{
    struct qcow2 *s = qcow2_state(img);

    (void)err;
    *n = s->nb_bitmaps;
    *list = xcalloc(s->nb_bitmaps ? s->nb_bitmaps : 1, sizeof(**list));
    for (uint32_t i = 0; i < s->nb_bitmaps; i++) {
        const struct qcow2_bitmap *b = &s->bitmaps[s->nb_bitmaps - 1 - i];
        (*list)[i].name = b->name;      /* lives as long as the image */
        (*list)[i].granularity = 1ULL << b->granularity_bits;
        (*list)[i].enabled = (b->flags & BM_FLAG_AUTO) != 0;
        (*list)[i].inconsistent = (b->flags & BM_FLAG_IN_USE) != 0;
    }
    return 0;
}
