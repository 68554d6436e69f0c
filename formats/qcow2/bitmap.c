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
#define BM_MAX_DIR_BYTES (64ULL << 20)
#define BM_MAX_COUNT 65535

void qcow2_free_bitmaps(struct qcow2 *s)
{
    for (uint32_t i = 0; s->bitmaps && i < s->nb_bitmaps; i++) {
        free(s->bitmaps[i].name);
    }
    free(s->bitmaps);
    s->bitmaps = NULL;
}

int qcow2_read_bitmaps(struct image *img, struct err *err)
{
    struct qcow2 *s = qcow2_state(img);
    uint8_t *dir;
    uint64_t pos = 0;
    int ret;

    if (!s->has_bitmaps_ext || !s->nb_bitmaps) {
        s->nb_bitmaps = 0;
        return 0;
    }
    if (s->nb_bitmaps > BM_MAX_COUNT) {
        return err_set(err, -EINVAL, "bitmaps_ext: Image has %" PRIu32 " bitmaps, exceeding the "
                       "QEMU supported maximum of %d", s->nb_bitmaps, BM_MAX_COUNT);
    }
    if (s->bitmap_dir_size > BM_MAX_DIR_BYTES || s->bitmap_dir_size < BM_FIXED) {
        return err_set(err, -EINVAL, "bitmaps_ext: Bitmap directory is too large");
    }
    if (s->bitmap_dir_offset % s->cluster_size) {
        return err_set(err, -EINVAL, "bitmaps_ext: invalid bitmap directory offset");
    }
    dir = xmalloc((size_t)s->bitmap_dir_size);
    ret = file_pread(img->file, s->bitmap_dir_offset, dir, (size_t)s->bitmap_dir_size, err);
    if (ret < 0) {
        free(dir);
        return ret;
    }
    s->bitmaps = xcalloc(s->nb_bitmaps, sizeof(*s->bitmaps));
    for (uint32_t i = 0; i < s->nb_bitmaps; i++) {
        struct qcow2_bitmap *b = &s->bitmaps[i];
        uint16_t name_len;
        uint32_t extra;
        uint64_t len;

        if (s->bitmap_dir_size - pos < BM_FIXED) {
            ret = err_set(err, -EINVAL, "Failed to read bitmap directory: entry %" PRIu32
                          " is truncated", i);
            break;
        }
        b->table_offset = be64(dir + pos);
        b->table_size = be32(dir + pos + 8);
        b->flags = be32(dir + pos + 12);
        b->type = dir[pos + 16];
        b->granularity_bits = dir[pos + 17];
        name_len = be16(dir + pos + 18);
        extra = be32(dir + pos + 20);
        len = round_up(BM_FIXED + (uint64_t)extra + name_len, 8);
        if (len > s->bitmap_dir_size - pos) {
            ret = err_set(err, -EINVAL, "Failed to read bitmap directory: entry %" PRIu32
                          " is truncated", i);
            break;
        }
        b->name = xmalloc((size_t)name_len + 1);
        memcpy(b->name, dir + pos + BM_FIXED + extra, name_len);
        b->name[name_len] = '\0';
        pos += len;
    }
    free(dir);
    if (ret < 0) {
        qcow2_free_bitmaps(s);
        s->nb_bitmaps = 0;
    }
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
