/*
 * snapshot_write.c - creating, applying and deleting internal qcow2
 * snapshots, with qemu's steps in qemu's order (so that the clusters land
 * where qemu puts them):
 *
 *  create: a copy of the active L1 table in new clusters; +1 on every
 *          cluster the active tables reference (COPIED flags cleared where
 *          a count passes 1); the snapshot table rewritten with the new
 *          entry (id = highest numeric id + 1, the date, the disk size).
 *  apply:  +1 on what the snapshot references; its L1 table copied over
 *          the active one; -1 on what the old active tables referenced;
 *          COPIED flags recomputed.
 *  delete: the snapshot table rewritten without the entry; -1 on what the
 *          snapshot referenced; its L1 table freed; COPIED flags of the
 *          active tables recomputed.
 *
 * The snapshot table is always written to new clusters and the header
 * switched over before the old table is freed. Clusters freed by snapshot
 * operations are punched out of the file (qemu's discard-snapshot default).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../engine/size.h"
#include "../../engine/util.h"
#include "qcow2_int.h"

#define SN_FIXED 40
#define SN_EXTRA 24                     /* vm_state_size_large, disk_size, icount */
#define SN_MAX_TABLE_BYTES (64ULL << 20)
#define SN_MAX_COUNT 65536

static uint64_t sn_entry_bytes(const struct qcow2_snapshot *sn)
{
    return SN_FIXED + MAX(SN_EXTRA, sn->extra_size) + strlen(sn->id) + strlen(sn->name);
}

/* Write the snapshot list to new clusters, switch the header, free the old table. */
int qcow2_write_snapshots(struct image *img, struct err *err)
{
    struct qcow2 *s = qcow2_state(img);
    uint64_t size = 0, pos = 0, old_off = s->snapshots_offset, old_size = s->snapshots_size;
    uint8_t *buf, hdr[12];
    int64_t at;
    int ret;

    for (uint32_t i = 0; i < s->nb_snapshots; i++) {
        size = round_up(size, 8) + sn_entry_bytes(&s->snapshots[i]);
        if (size > SN_MAX_TABLE_BYTES) {
            return err_set(err, -EFBIG, "Snapshot table too big");
        }
    }
    at = qcow2_alloc_clusters(img, DIV_ROUND_UP(size, s->cluster_size), err);
    if (at < 0) {
        return (int)at;
    }
    ret = qcow2_flush_locked(img, err);
    if (ret < 0) {
        return ret;
    }
    buf = xcalloc(1, (size_t)round_up(size, 8) + 8);
    for (uint32_t i = 0; i < s->nb_snapshots; i++) {
        const struct qcow2_snapshot *sn = &s->snapshots[i];
        uint32_t extra = MAX(SN_EXTRA, sn->extra_size);
        size_t idl = strlen(sn->id), nl = strlen(sn->name);
        uint8_t *h;

        pos = round_up(pos, 8);
        h = buf + pos;
        put_be64(h, sn->l1_offset);
        put_be32(h + 8, sn->l1_size);
        put_be16(h + 12, (uint16_t)idl);
        put_be16(h + 14, (uint16_t)nl);
        put_be32(h + 16, sn->date_sec);
        put_be32(h + 20, sn->date_nsec);
        put_be64(h + 24, sn->vm_clock_nsec);
        put_be32(h + 32, (uint32_t)sn->vm_state_size);
        put_be32(h + 36, extra);
        if (sn->extra) {
            memcpy(h + SN_FIXED, sn->extra, sn->extra_size);    /* unknown extra data kept */
        }
        put_be64(h + SN_FIXED, sn->vm_state_size);
        /* an entry without the disk size (v2) was made at the current size */
        put_be64(h + SN_FIXED + 8, sn->disk_size == UINT64_MAX ? img->size : sn->disk_size);
        put_be64(h + SN_FIXED + 16, sn->icount);
        memcpy(h + SN_FIXED + extra, sn->id, idl);
        memcpy(h + SN_FIXED + extra + idl, sn->name, nl);
        pos += SN_FIXED + extra + idl + nl;
    }
    ret = size ? qcow2_check_overlap(img, (uint64_t)at, size, err) : 0;
    if (ret == 0 && size) {
        ret = file_pwrite(img->file, (uint64_t)at, buf, (size_t)size, err);
    }
    free(buf);
    if (ret == 0) {
        ret = file_flush(img->file, err);
    }
    if (ret < 0) {
        return ret;
    }
    put_be32(hdr, s->nb_snapshots);
    put_be64(hdr + 4, (uint64_t)at);
    ret = qcow2_write_header_field(img, QH_NB_SNAPSHOTS, hdr, sizeof(hdr), err);
    if (ret < 0) {
        return ret;
    }
    s->snapshots_offset = (uint64_t)at;
    s->snapshots_size = size;
    s->punch_freed = true;
    ret = qcow2_update_refcount(img, old_off, old_size, -1, err);
    s->punch_freed = false;
    return ret;
}

static int read_l1(struct image *img, uint64_t offset, uint32_t entries, uint64_t **out,
                   struct err *err)
{
    uint8_t *raw = xmalloc((size_t)entries * 8 + 1);
    uint64_t *l1 = xcalloc(entries ? entries : 1, sizeof(*l1));
    int ret = file_pread(img->file, offset, raw, (size_t)entries * 8, err);

    for (uint32_t i = 0; ret == 0 && i < entries; i++) {
        l1[i] = be64(raw + (size_t)i * 8);
    }
    free(raw);
    if (ret < 0) {
        free(l1);
        return ret;
    }
    *out = l1;
    return 0;
}

static int write_l1(struct image *img, uint64_t offset, const uint64_t *l1, uint32_t entries,
                    uint32_t padded, struct err *err)
{
    uint8_t *raw = xcalloc(1, (size_t)MAX(entries, padded) * 8 + 1);
    int ret;

    for (uint32_t i = 0; i < entries; i++) {
        put_be64(raw + (size_t)i * 8, l1[i]);
    }
    ret = file_pwrite(img->file, offset, raw, (size_t)MAX(entries, padded) * 8, err);
    if (ret == 0) {
        ret = file_flush(img->file, err);
    }
    free(raw);
    return ret;
}

/*
 * Add addend (-1, 0, +1) to the refcount of every cluster the L1 table at
 * l1_offset references (its L2 tables and their clusters), and set each
 * entry's COPIED flag to "refcount is 1". The active L1 table is taken
 * from memory. The L1 table is written back when its flags changed
 * (unless it is being dropped, addend -1).
 */
static int update_snapshot_refcount(struct image *img, uint64_t l1_offset, uint32_t l1_size,
                                    int addend, struct err *err)
{
    struct qcow2 *s = qcow2_state(img);
    bool active = l1_offset == s->l1_offset;
    uint64_t *l1 = s->l1, entries = 1ULL << s->l2_bits;
    bool l1_changed = false;
    int ret = 0;

    if (!active) {
        ret = read_l1(img, l1_offset, l1_size, &l1, err);
        if (ret < 0) {
            return ret;
        }
    }
    s->punch_freed = addend < 0;
    for (uint32_t i = 0; ret == 0 && i < l1_size; i++) {
        uint64_t l2_off = l1[i] & L1E_OFFSET_MASK, rc, ne;

        if (!l1[i]) {
            continue;
        }
        if (l2_off % s->cluster_size) {
            ret = qcow2_signal_corruption(img, err, "L2 table offset %#" PRIx64 " unaligned "
                                          "(L1 index: %#" PRIx32 ")", l2_off, i);
            break;
        }
        for (uint64_t j = 0; ret == 0 && j < entries; j++) {
            uint8_t *t = qcache_get(img, &s->l2_cache, l2_off, true, err);
            uint64_t e, old, off;

            if (!t) {
                ret = -EIO;
                break;
            }
            old = be64(t + j * s->l2_entry_size);
            e = old & ~QCOW_OFLAG_COPIED;
            off = e & L2E_OFFSET_MASK;
            rc = 0;
            if (e & QCOW_OFLAG_COMPRESSED) {
                if (addend) {
                    ret = qcow2_l2_entry_refcount(img, e, addend, err);
                }
                rc = 2;         /* compressed clusters are never written in place */
            } else if (off) {
                if (off % s->cluster_size) {
                    ret = qcow2_signal_corruption(img, err, "Cluster allocation offset %#"
                                                  PRIx64 " unaligned (L2 offset: %#" PRIx64
                                                  ", L2 index: %#" PRIx64 ")", off, l2_off, j);
                    break;
                }
                if (addend) {
                    ret = qcow2_update_refcount(img, off, 1, addend, err);
                }
                if (ret == 0) {
                    ret = qcow2_get_refcount_locked(img, off >> s->cluster_bits, &rc, err);
                }
            }
            if (ret < 0) {
                break;
            }
            if (rc == 1) {
                e |= QCOW_OFLAG_COPIED;
            }
            if (e != old) {
                t = qcache_get(img, &s->l2_cache, l2_off, true, err);
                if (!t) {
                    ret = -EIO;
                    break;
                }
                if (addend > 0) {
                    ret = qcache_set_dependency(img, &s->l2_cache, &s->rc_cache, err);
                }
                put_be64(t + j * s->l2_entry_size, e);
                qcache_mark_dirty(&s->l2_cache, t);
            }
        }
        if (ret < 0) {
            break;
        }
        if (addend) {
            ret = qcow2_update_refcount(img, l2_off, 1, addend, err);
        }
        if (ret == 0) {
            ret = qcow2_get_refcount_locked(img, l2_off >> s->cluster_bits, &rc, err);
        }
        ne = l2_off | (rc == 1 ? QCOW_OFLAG_COPIED : 0);
        if (ret == 0 && ne != l1[i]) {
            l1[i] = ne;
            l1_changed = true;
        }
    }
    s->punch_freed = false;
    if (ret == 0) {
        ret = qcow2_flush_locked(img, err);
    }
    if (ret == 0 && addend >= 0 && l1_changed) {
        ret = write_l1(img, l1_offset, l1, l1_size, 0, err);
    }
    if (!active) {
        free(l1);
    }
    return ret;
}

/* By id first, then by name (qemu's lookup for apply and delete); -1 when absent. */
static int find_id_or_name(const struct qcow2 *s, const char *key)
{
    for (uint32_t i = 0; i < s->nb_snapshots; i++) {
        if (!strcmp(s->snapshots[i].id, key)) {
            return (int)i;
        }
    }
    for (uint32_t i = 0; i < s->nb_snapshots; i++) {
        if (!strcmp(s->snapshots[i].name, key)) {
            return (int)i;
        }
    }
    return -1;
}

static int writable(struct image *img, struct err *err)
{
    struct qcow2 *s = qcow2_state(img);

    if (s->data_file) {
        return err_set(err, -ENOTSUP, "Internal snapshots are not supported with an external "
                       "data file");
    }
    if (s->crypt_method) {
        return err_set(err, -ENOTSUP, "imgsh cannot write encrypted qcow2 images");
    }
    return 0;
}

static int validate_sn_l1(struct image *img, const struct qcow2_snapshot *sn, struct err *err)
{
    struct qcow2 *s = qcow2_state(img);

    if ((uint64_t)sn->l1_size * 8 > QCOW2_MAX_L1_BYTES) {
        return err_set(err, -EFBIG, "Snapshot L1 table too large");
    }
    if (sn->l1_offset % s->cluster_size ||
        sn->l1_offset + (uint64_t)sn->l1_size * 8 > QEMU_MAX_FILE_OFFSET) {
        return err_set(err, -EINVAL, "Snapshot L1 table offset invalid");
    }
    return 0;
}

int qcow2_snapshot_create(struct image *img, const char *name, struct err *err)
{
    struct qcow2 *s = qcow2_state(img);
    struct qcow2_snapshot sn = { 0 };
    unsigned long max_id = 0;
    struct timespec now;
    int64_t at;
    int ret = writable(img, err);

    if (ret < 0) {
        return ret;
    }
    if (s->nb_snapshots >= SN_MAX_COUNT) {
        return err_set(err, -EFBIG, "Too many snapshots");
    }
    for (uint32_t i = 0; i < s->nb_snapshots; i++) {
        unsigned long id = strtoul(s->snapshots[i].id, NULL, 10);
        max_id = MAX(max_id, id);
    }
    clock_gettime(CLOCK_REALTIME, &now);
    sn.id = xasprintf("%lu", max_id + 1);
    sn.name = xstrdup(name);
    sn.disk_size = img->size;
    sn.date_sec = (uint32_t)now.tv_sec;
    sn.date_nsec = (uint32_t)(now.tv_nsec / 1000 * 1000);
    sn.icount = 0;
    sn.extra_size = SN_EXTRA;
    sn.l1_size = s->l1_size;

    pthread_mutex_lock(&img->lock);
    at = qcow2_alloc_clusters(img, DIV_ROUND_UP((uint64_t)s->l1_size * 8, s->cluster_size), err);
    ret = at < 0 ? (int)at : 0;
    if (ret == 0) {
        sn.l1_offset = (uint64_t)at;
        ret = s->l1_size ? qcow2_check_overlap(img, sn.l1_offset, (uint64_t)s->l1_size * 8, err)
                         : 0;
    }
    if (ret == 0) {
        ret = write_l1(img, sn.l1_offset, s->l1, s->l1_size, 0, err);
    }
    if (ret == 0) {
        ret = update_snapshot_refcount(img, s->l1_offset, s->l1_size, 1, err);
    }
    if (ret == 0) {
        s->snapshots = xrealloc(s->snapshots, (s->nb_snapshots + 1) * sizeof(*s->snapshots));
        s->snapshots[s->nb_snapshots++] = sn;
        ret = qcow2_write_snapshots(img, err);
    } else {
        free(sn.id);
        free(sn.name);
    }
    pthread_mutex_unlock(&img->lock);
    return ret;
}

int qcow2_snapshot_delete(struct image *img, const char *id, struct err *err)
{
    struct qcow2 *s = qcow2_state(img);
    struct qcow2_snapshot sn;
    int i = find_id_or_name(s, id), ret = writable(img, err);

    if (ret < 0) {
        return ret;
    }
    if (i < 0) {
        return err_set(err, -ENOENT, "Can't find the snapshot");
    }
    ret = validate_sn_l1(img, &s->snapshots[i], err);
    if (ret < 0) {
        return ret;
    }
    pthread_mutex_lock(&img->lock);
    sn = s->snapshots[i];
    memmove(&s->snapshots[i], &s->snapshots[i + 1],
            (s->nb_snapshots - (uint32_t)i - 1) * sizeof(*s->snapshots));
    s->nb_snapshots--;
    ret = qcow2_write_snapshots(img, err);
    if (ret < 0) {
        err_prepend(err, "Failed to remove snapshot from snapshot list: ");
    }
    if (ret == 0) {
        ret = update_snapshot_refcount(img, sn.l1_offset, sn.l1_size, -1, err);
        if (ret < 0) {
            err_prepend(err, "Failed to free the cluster and L1 table: ");
        }
    }
    if (ret == 0) {
        s->punch_freed = true;
        ret = qcow2_update_refcount(img, sn.l1_offset, (uint64_t)sn.l1_size * 8, -1, err);
        s->punch_freed = false;
    }
    if (ret == 0) {
        ret = update_snapshot_refcount(img, s->l1_offset, s->l1_size, 0, err);
        if (ret < 0) {
            err_prepend(err, "Failed to update snapshot status in disk: ");
        }
    }
    pthread_mutex_unlock(&img->lock);
    free(sn.id);
    free(sn.name);
    free(sn.extra);
    return ret;
}

int qcow2_snapshot_apply(struct image *img, const char *name, struct err *err)
{
    struct qcow2 *s = qcow2_state(img);
    const struct qcow2_snapshot *sn;
    uint64_t *sn_l1 = NULL;
    int i = find_id_or_name(s, name), ret = writable(img, err);

    if (ret < 0) {
        return ret;
    }
    if (i < 0) {
        return err_set(err, -ENOENT, "Failed to load snapshot: No such file or directory");
    }
    sn = &s->snapshots[i];
    ret = validate_sn_l1(img, sn, err);
    if (ret < 0) {
        return ret;
    }
    if (sn->disk_size != UINT64_MAX && sn->disk_size != img->size) {
        /* the image takes the snapshot's size first */
        ret = qcow2_truncate(img, sn->disk_size, true, PREALLOC_OFF, err);
        if (ret < 0) {
            return ret;
        }
        sn = &s->snapshots[i];
    }
    pthread_mutex_lock(&img->lock);
    ret = qcow2_grow_l1(img, sn->l1_size, err);
    if (ret == 0) {
        ret = read_l1(img, sn->l1_offset, sn->l1_size, &sn_l1, err);
    }
    if (ret == 0) {
        ret = update_snapshot_refcount(img, sn->l1_offset, sn->l1_size, 1, err);
    }
    if (ret == 0) {
        ret = write_l1(img, s->l1_offset, sn_l1, sn->l1_size, s->l1_size, err);
    }
    if (ret == 0) {
        ret = update_snapshot_refcount(img, s->l1_offset, s->l1_size, -1, err);
        /* the in-memory table follows the one on disk, even after a failure */
        memset(s->l1, 0, (size_t)s->l1_size * 8);
        memcpy(s->l1, sn_l1, (size_t)sn->l1_size * 8);
    }
    if (ret == 0) {
        ret = update_snapshot_refcount(img, s->l1_offset, s->l1_size, 0, err);
    }
    pthread_mutex_unlock(&img->lock);
    free(sn_l1);
    return ret;
}
