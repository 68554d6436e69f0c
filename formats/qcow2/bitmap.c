/*
 * bitmap.c - the qcow2 bitmap directory (persistent dirty bitmaps), read
 * for info.
 *
 * Directory entry (8-byte aligned, variable length):
 *   0 bitmap_table_offset (8)  8 bitmap_table_size (4)  12 flags (4)
 *  16 type (1)  17 granularity_bits (1)  18 name_size (2)
 *  20 extra_data_size (4)  24 extra data, then the name, then padding
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "../../engine/json.h"
#include "../../engine/size.h"
#include "../../engine/util.h"
#include "qcow2_int.h"

#define BM_FIXED 24
#define BM_FLAG_IN_USE (1u << 0)
#define BM_FLAG_AUTO (1u << 1)
#define BM_FLAGS_KNOWN (BM_FLAG_IN_USE | BM_FLAG_AUTO)
#define BM_TYPE_DIRTY_TRACKING 1
#define BM_MAX_COUNT 65535
#define BM_MAX_NAME 1023
#define BM_MAX_DIR_BYTES ((uint64_t)BM_MAX_COUNT * 1024)
#define BM_MIN_GRANULARITY_BITS 9
#define BM_MAX_GRANULARITY_BITS 31
#define BM_MAX_TABLE_ENTRIES 0x8000000u
#define BM_MAX_PHYS_BYTES (512ULL << 20)    /* of bitmap data clusters */
#define BM_ENTRY_RESERVED 0xff000000000001feULL
#define BM_ENTRY_OFFSET 0x00fffffffffffe00ULL
#define BM_ENTRY_ALL_ONES 1ULL

void qcow2_free_bitmaps(struct qcow2 *s)
{
    for (uint32_t i = 0; s->bitmaps && i < s->nb_bitmaps; i++) {
        free(s->bitmaps[i].name);
    }
    free(s->bitmaps);
    s->bitmaps = NULL;
}

/* The bitmaps extension's own fields, checked (in qemu's order) when the
 * extensions are read in full. */
int qcow2_check_bitmaps_ext(struct qcow2 *s, uint32_t reserved, struct err *err)
{
    if (reserved) {
        return err_set(err, -EINVAL, "bitmaps_ext: Reserved field is not zero");
    }
    if (s->nb_bitmaps == 0) {
        return err_set(err, -EINVAL, "found bitmaps extension with zero bitmaps");
    }
    if (s->nb_bitmaps > BM_MAX_COUNT) {
        return err_set(err, -EINVAL, "bitmaps_ext: Image has %" PRIu32 " bitmaps, exceeding the "
                       "QEMU supported maximum of %d", s->nb_bitmaps, BM_MAX_COUNT);
    }
    if (s->bitmap_dir_offset % s->cluster_size) {
        return err_set(err, -EINVAL, "bitmaps_ext: invalid bitmap directory offset");
    }
    if (s->bitmap_dir_size > BM_MAX_DIR_BYTES) {
        return err_set(err, -EINVAL, "bitmaps_ext: bitmap directory size (%" PRIu64 ") exceeds "
                       "the maximum supported size (%" PRIu64 ")",
                       s->bitmap_dir_size, BM_MAX_DIR_BYTES);
    }
    return 0;
}

/* qemu's limits on one directory entry ("doesn't satisfy the constraints") */
static bool entry_ok(const struct qcow2 *s, const struct qcow2_bitmap *b, uint16_t name_size)
{
    return b->table_offset != 0 && b->table_offset % s->cluster_size == 0 &&
           b->table_size != 0 && b->table_size <= BM_MAX_TABLE_ENTRIES &&
           (uint64_t)b->table_size * s->cluster_size <= BM_MAX_PHYS_BYTES &&
           b->granularity_bits >= BM_MIN_GRANULARITY_BITS &&
           b->granularity_bits <= BM_MAX_GRANULARITY_BITS &&
           !(b->flags & ~BM_FLAGS_KNOWN) && name_size <= BM_MAX_NAME &&
           b->type == BM_TYPE_DIRTY_TRACKING;
}

/* Parse the directory in dir[0, size): every entry must fit, the count must
 * match the extension, and the entries must end exactly at the end. */
static int parse_directory(struct qcow2 *s, const uint8_t *dir, uint64_t size, struct err *err)
{
    uint64_t pos = 0;
    uint32_t n = 0;

    s->bitmaps = xcalloc(s->nb_bitmaps, sizeof(*s->bitmaps));
    while (pos < size) {
        struct qcow2_bitmap b;
        uint16_t name_size;
        uint32_t extra;
        uint64_t len;

        if (size - pos < BM_FIXED) {
            return err_set(err, -EINVAL, "Broken bitmap directory");
        }
        if (n == s->nb_bitmaps) {
            return err_set(err, -EINVAL, "More bitmaps found than specified in header extension");
        }
        b.table_offset = be64(dir + pos);
        b.table_size = be32(dir + pos + 8);
        b.flags = be32(dir + pos + 12);
        b.type = dir[pos + 16];
        b.granularity_bits = dir[pos + 17];
        name_size = be16(dir + pos + 18);
        extra = be32(dir + pos + 20);
        len = round_up(BM_FIXED + (uint64_t)extra + name_size, 8);
        if (len > size - pos) {
            return err_set(err, -EINVAL, "Broken bitmap directory");
        }
        if (extra) {
            return err_set(err, -EINVAL, "Bitmap extra data is not supported");
        }
        /* names print up to a NUL, as qemu's "%.*s" does */
        b.name = xmalloc((size_t)name_size + 1);
        memcpy(b.name, dir + pos + BM_FIXED, name_size);
        b.name[name_size] = '\0';
        s->bitmaps[n++] = b;
        if (!entry_ok(s, &b, name_size)) {
            return err_set(err, -EINVAL, "Bitmap '%s' doesn't satisfy the constraints", b.name);
        }
        pos += len;
    }
    if (n != s->nb_bitmaps) {
        return err_set(err, -EINVAL, "Less bitmaps found than specified in header extension");
    }
    return 0;
}

/* qemu loads every bitmap that is not in use when it opens the image: the
 * table must have the size the disk and granularity call for, and its
 * entries must be well-formed. The data clusters themselves are not needed. */
static int check_bitmap_table(struct image *img, const struct qcow2_bitmap *b, struct err *err)
{
    struct qcow2 *s = qcow2_state(img);
    uint64_t bits = DIV_ROUND_UP((uint64_t)img->size, 1ULL << b->granularity_bits);
    uint64_t clusters = DIV_ROUND_UP(DIV_ROUND_UP(bits, 8), s->cluster_size);
    uint8_t buf[4096];

    if (clusters != b->table_size) {
        return err_set(err, -EINVAL, "Could not read bitmap '%s' from image: Invalid argument",
                       b->name);
    }
    for (uint64_t i = 0; i < b->table_size; i += sizeof(buf) / 8) {
        size_t n = (size_t)MIN((uint64_t)sizeof(buf) / 8, b->table_size - i);
        int ret = file_pread(img->file, b->table_offset + i * 8, buf, n * 8, err);

        if (ret < 0) {
            err_prepend(err, "Could not read bitmap_table table from image for bitmap '%s': ",
                        b->name);
            return ret;
        }
        for (size_t k = 0; k < n; k++) {
            uint64_t e = be64(buf + k * 8), off = e & BM_ENTRY_OFFSET;

            if ((e & BM_ENTRY_RESERVED) || off % s->cluster_size ||
                (off && (e & BM_ENTRY_ALL_ONES))) {
                return err_set(err, -EINVAL, "Could not read bitmap_table table from image "
                               "for bitmap '%s': Invalid argument", b->name);
            }
        }
    }
    return 0;
}

int qcow2_read_bitmaps(struct image *img, struct err *err)
{
    struct qcow2 *s = qcow2_state(img);
    uint8_t *dir;
    int ret;

    if (!s->has_bitmaps_ext) {
        s->nb_bitmaps = 0;
        return 0;
    }
    if (s->bitmap_dir_size == 0) {
        ret = err_set(err, -EINVAL, "Requested bitmap directory size is zero");
        goto fail;
    }
    if (s->bitmap_dir_offset > QEMU_MAX_FILE_OFFSET - s->bitmap_dir_size) {
        ret = err_set(err, -EIO, "Failed to read bitmap directory: Input/output error");
        goto fail;
    }
    dir = xmalloc((size_t)s->bitmap_dir_size);
    ret = file_pread(img->file, s->bitmap_dir_offset, dir, (size_t)s->bitmap_dir_size, err);
    if (ret < 0) {
        err_prepend(err, "Failed to read bitmap directory: ");
    } else {
        ret = parse_directory(s, dir, s->bitmap_dir_size, err);
    }
    free(dir);
    for (uint32_t i = 0; ret == 0 && i < s->nb_bitmaps; i++) {
        if (!(s->bitmaps[i].flags & BM_FLAG_IN_USE)) {
            ret = check_bitmap_table(img, &s->bitmaps[i], err);
        }
    }
    if (ret == 0) {
        return 0;
    }
fail:
    qcow2_free_bitmaps(s);
    s->nb_bitmaps = 0;
    return ret;
}

json_t *qcow2_bitmaps_json(struct image *img)
{
    struct qcow2 *s = qcow2_state(img);
    json_t *list;

    if (!s->nb_bitmaps) {
        return NULL;
    }
    list = json_array();
    for (uint32_t i = 0; i < s->nb_bitmaps; i++) {
        const struct qcow2_bitmap *b = &s->bitmaps[i];
        json_t *o = json_object();
        json_t *flags = json_array();

        if (b->flags & BM_FLAG_IN_USE) {
            json_array_append_new(flags, json_string("in-use"));
        }
        if (b->flags & BM_FLAG_AUTO) {
            json_array_append_new(flags, json_string("auto"));
        }
        json_obj_set_str(o, "name", b->name);
        json_obj_set_int(o, "granularity", 1LL << MIN(b->granularity_bits, 62));
        json_object_set_new(o, "flags", flags);
        json_array_append_new(list, o);
    }
    return list;
}
