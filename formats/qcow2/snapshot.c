/*
 * snapshot.c - the qcow2 internal snapshot table: reading it, listing it
 * for info and snapshot -l, and showing a snapshot's guest data on a
 * read-only image (convert -l).
 *
 * Entry layout (8-byte aligned, variable length):
 *   0  l1_table_offset (8)   8 l1_size (4)        12 id_str_size (2)
 *  14  name_size (2)        16 date_sec (4)       20 date_nsec (4)
 *  24  vm_clock_nsec (8)    32 vm_state_size (4)  36 extra_data_size (4)
 *  40  extra data: vm_state_size_large (8), disk_size (8), icount (8)
 *      then id, then name, then padding to a multiple of 8
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "../../engine/size.h"
#include "../../engine/util.h"
#include "qcow2_int.h"

#define SN_FIXED 40
#define SN_MAX_EXTRA 1024
#define SN_MAX_TABLE_BYTES (64ULL << 20)

void qcow2_free_snapshots(struct qcow2 *s)
{
    for (uint32_t i = 0; s->snapshots && i < s->nb_snapshots; i++) {
        free(s->snapshots[i].id);
        free(s->snapshots[i].name);
        free(s->snapshots[i].extra);
    }
    free(s->snapshots);
    s->snapshots = NULL;
}

int qcow2_read_snapshot_table(struct image *img, bool repair, uint32_t *reduced,
                              uint32_t *dropped, struct err *err)
{
    struct qcow2 *s = qcow2_state(img);
    uint64_t off = s->snapshots_offset, table_len = 0;

    s->snapshots_size = 0;
    if (!s->nb_snapshots) {
        return 0;
    }
    s->snapshots = xcalloc(s->nb_snapshots, sizeof(*s->snapshots));
    for (uint32_t i = 0; i < s->nb_snapshots; i++) {
        struct qcow2_snapshot *sn = &s->snapshots[i];
        uint64_t entry_start = off;
        uint8_t h[SN_FIXED];
        uint8_t *var;
        uint16_t id_len, name_len;
        uint32_t extra_len;
        int ret;

        /* entries start 8-byte aligned; the table ends where the last one does */
        table_len = round_up(table_len, 8);
        off = round_up(off, 8);
        ret = file_pread(img->file, off, h, sizeof(h), err);
        if (ret < 0) {
            return ret;
        }
        sn->l1_offset = be64(h);
        sn->l1_size = be32(h + 8);
        id_len = be16(h + 12);
        name_len = be16(h + 14);
        sn->date_sec = be32(h + 16);
        sn->date_nsec = be32(h + 20);
        sn->vm_clock_nsec = be64(h + 24);
        sn->vm_state_size = be32(h + 32);
        extra_len = be32(h + 36);
        sn->disk_size = UINT64_MAX;
        sn->icount = UINT64_MAX;
        sn->extra_size = extra_len;
        if (extra_len > SN_MAX_EXTRA) {
            if (!repair) {
                return err_set(err, -EFBIG, "Too much extra metadata in snapshot table entry "
                               "%" PRIu32 "\nYou can force-remove this extra metadata with %s "
                               "check -r all", i, prog_name);
            }
            fflush(stdout);
            fprintf(stderr, "Discarding too much extra metadata in snapshot table entry %" PRIu32
                    " (%" PRIu32 " > %u)\n", i, extra_len, SN_MAX_EXTRA);
            (*dropped)++;
            sn->extra_size = SN_MAX_EXTRA;  /* the rest is dropped when the table is rewritten */
        }
        var = xmalloc((size_t)sn->extra_size + id_len + name_len + 1);
        ret = file_pread(img->file, off + SN_FIXED, var, sn->extra_size, err);
        if (ret == 0) {
            ret = file_pread(img->file, off + SN_FIXED + extra_len, var + sn->extra_size,
                             (size_t)id_len + name_len, err);
        }
        if (ret < 0) {
            free(var);
            return ret;
        }
        if (sn->extra_size) {
            sn->extra = xmalloc(sn->extra_size);
            memcpy(sn->extra, var, sn->extra_size);
        }
        if (sn->extra_size >= 8) {
            sn->vm_state_size = be64(var);
        }
        if (sn->extra_size >= 16) {
            sn->disk_size = be64(var + 8);
        }
        if (sn->extra_size >= 24) {
            sn->icount = be64(var + 16);
        }
        sn->id = xmalloc((size_t)id_len + 1);
        memcpy(sn->id, var + sn->extra_size, id_len);
        sn->id[id_len] = '\0';
        sn->name = xmalloc((size_t)name_len + 1);
        memcpy(sn->name, var + sn->extra_size + id_len, name_len);
        sn->name[name_len] = '\0';
        free(var);
        off += SN_FIXED + (uint64_t)extra_len + id_len + name_len;
        table_len += SN_FIXED + (uint64_t)sn->extra_size + id_len + name_len;
        if (table_len > SN_MAX_TABLE_BYTES || off - s->snapshots_offset > INT32_MAX) {
            if (!repair) {
                return err_set(err, -EFBIG, "Snapshot table is too big\nYou can force-remove "
                               "all %" PRIu32 " overhanging snapshots with %s check -r all",
                               s->nb_snapshots - i, prog_name);
            }
            fflush(stdout);
            fprintf(stderr, "Discarding %" PRIu32 " overhanging snapshots (snapshot table is "
                    "too big)\n", s->nb_snapshots - i);
            *reduced += s->nb_snapshots - i;
            free(sn->id);
            free(sn->name);
            free(sn->extra);
            memset(sn, 0, sizeof(*sn));
            s->nb_snapshots = i;
            off = entry_start;
            break;
        }
    }
    s->snapshots_size = off - s->snapshots_offset;
    return 0;
}

int qcow2_read_snapshots(struct image *img, struct err *err)
{
    return qcow2_read_snapshot_table(img, false, NULL, NULL, err);
}

int qcow2_snapshot_list(struct image *img, struct snapshot_info **list, size_t *n,
                        struct err *err)
{
    struct qcow2 *s = qcow2_state(img);

    (void)err;
    *n = s->nb_snapshots;
    *list = xcalloc(s->nb_snapshots ? s->nb_snapshots : 1, sizeof(**list));
    for (uint32_t i = 0; i < s->nb_snapshots; i++) {
        const struct qcow2_snapshot *sn = &s->snapshots[i];
        struct snapshot_info *o = &(*list)[i];

        o->id = xstrdup(sn->id);
        o->name = xstrdup(sn->name);
        o->vm_state_size = sn->vm_state_size;
        o->date_sec = sn->date_sec;
        o->date_nsec = sn->date_nsec;
        o->vm_clock_nsec = sn->vm_clock_nsec;
        o->icount = sn->icount;
    }
    return 0;
}

/* Index of the snapshot matching id and name (either may be NULL), or -1. */
static int snapshot_find(struct qcow2 *s, const char *id, const char *name)
{
    for (uint32_t i = 0; i < s->nb_snapshots; i++) {
        if ((!id || !strcmp(s->snapshots[i].id, id)) &&
            (!name || !strcmp(s->snapshots[i].name, name))) {
            return (int)i;
        }
    }
    return -1;
}

int qcow2_snapshot_load(struct image *img, const char *id, const char *name, struct err *err)
{
    struct qcow2 *s = qcow2_state(img);
    const struct qcow2_snapshot *sn;
    uint64_t *l1;
    uint8_t *raw;
    int i = snapshot_find(s, id, name);
    int ret;

    if (i < 0) {
        return err_set(err, -ENOENT, "Can't find snapshot");
    }
    sn = &s->snapshots[i];
    if ((uint64_t)sn->l1_size * 8 > QCOW2_MAX_L1_BYTES) {
        return err_set(err, -EFBIG, "Snapshot L1 table too large");
    }
    if (sn->l1_offset % s->cluster_size) {
        return err_set(err, -EINVAL, "Snapshot L1 table offset invalid");
    }
    raw = xmalloc((size_t)sn->l1_size * 8 + 1);
    ret = file_pread(img->file, sn->l1_offset, raw, (size_t)sn->l1_size * 8, err);
    if (ret < 0) {
        free(raw);
        return ret;
    }
    l1 = xcalloc(sn->l1_size ? sn->l1_size : 1, sizeof(*l1));
    for (uint32_t j = 0; j < sn->l1_size; j++) {
        l1[j] = be64(raw + (size_t)j * 8);
    }
    free(raw);
    pthread_mutex_lock(&img->lock);
    free(s->l1);
    s->l1 = l1;
    s->l1_entries = sn->l1_size;
    pthread_mutex_unlock(&img->lock);
    return 0;
}
