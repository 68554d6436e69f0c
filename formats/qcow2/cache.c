/*
 * cache.c - the qcow2 metadata caches: L2 tables and refcount blocks,
 * one cluster per entry, set-associative with least-recently-used
 * replacement, write-back.
 *
 * Crash safety comes from the order in which dirty entries reach the
 * file, expressed as a dependency between caches (as qemu does it): a
 * cache that depends on another flushes that one, and the file, before it
 * writes any of its own dirty entries. New clusters are counted before
 * the L2 entry that uses them is written (L2 cache depends on the refcount
 * cache); clusters an L2 entry no longer uses are uncounted only after
 * that L2 entry is written (refcount cache depends on the L2 cache).
 * Setting a dependency that would close a cycle first flushes the cache
 * that would be waited on, so there never is one.
 *
 * Every function is called with img->lock held. A table pointer returned
 * by qcache_get() stays valid until the next qcache_get() on the same
 * cache, or until the lock is dropped.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "../../engine/util.h"
#include "qcow2_int.h"

#define QCACHE_WAYS 4

void qcache_init(struct qcache *c, const char *name, size_t entries, uint64_t table_size)
{
    entries = (entries + QCACHE_WAYS - 1) / QCACHE_WAYS * QCACHE_WAYS;
    if (entries < QCACHE_WAYS) {
        entries = QCACHE_WAYS;
    }
    memset(c, 0, sizeof(*c));
    c->name = name;
    c->nslots = entries;
    c->table_size = table_size;
    c->slots = xcalloc(entries, sizeof(*c->slots));
}

void qcache_free(struct qcache *c)
{
    for (size_t i = 0; i < c->nslots; i++) {
        free(c->slots[i].table);
    }
    free(c->slots);
    c->slots = NULL;
    c->nslots = 0;
}

static int write_slot(struct image *img, struct qcache *c, struct qcache_slot *slot,
                      struct err *err)
{
    int ret;

    if (!slot->dirty) {
        return 0;
    }
    if (c->depends) {
        ret = qcache_flush(img, c->depends, err);
        if (ret == 0) {
            ret = file_flush(img->file, err);
        }
        if (ret < 0) {
            return ret;
        }
        c->depends = NULL;
    }
    ret = file_pwrite(img->file, slot->offset, slot->table, (size_t)c->table_size, err);
    if (ret < 0) {
        return ret;
    }
    slot->dirty = false;
    return 0;
}

int qcache_flush(struct image *img, struct qcache *c, struct err *err)
{
    for (size_t i = 0; i < c->nslots; i++) {
        int ret = write_slot(img, c, &c->slots[i], err);
        if (ret < 0) {
            return ret;
        }
    }
    c->depends = NULL;
    return 0;
}

int qcache_set_dependency(struct image *img, struct qcache *c, struct qcache *dep,
                          struct err *err)
{
    int ret;

    if (c->depends == dep) {
        return 0;
    }
    if (dep->depends) {
        /* dep waits for some cache (maybe c): settle that first */
        ret = qcache_flush(img, dep->depends, err);
        if (ret < 0) {
            return ret;
        }
        dep->depends = NULL;
    }
    if (c->depends) {
        ret = qcache_flush(img, c->depends, err);
        if (ret < 0) {
            return ret;
        }
    }
    c->depends = dep;
    return 0;
}

uint8_t *qcache_get(struct image *img, struct qcache *c, uint64_t offset, bool read,
                    struct err *err)
{
    size_t sets = c->nslots / QCACHE_WAYS;
    size_t set = (size_t)((offset / c->table_size) % sets) * QCACHE_WAYS;
    struct qcache_slot *victim = &c->slots[set];

    for (size_t w = 0; w < QCACHE_WAYS; w++) {
        struct qcache_slot *slot = &c->slots[set + w];
        if (slot->table && slot->offset == offset) {
            slot->last_use = ++c->clock;
            if (!read) {
                memset(slot->table, 0, (size_t)c->table_size);
            }
            return slot->table;
        }
        if (!slot->table || slot->last_use < victim->last_use) {
            victim = slot;
        }
    }
    if (victim->table && write_slot(img, c, victim, err) < 0) {
        return NULL;
    }
    if (!victim->table) {
        victim->table = xmalloc((size_t)c->table_size);
    }
    victim->offset = 0;
    if (read) {
        if (file_pread(img->file, offset, victim->table, (size_t)c->table_size, err) < 0) {
            return NULL;
        }
    } else {
        memset(victim->table, 0, (size_t)c->table_size);
    }
    victim->offset = offset;
    victim->last_use = ++c->clock;
    return victim->table;
}

void qcache_mark_dirty(struct qcache *c, const uint8_t *table)
{
    for (size_t i = 0; i < c->nslots; i++) {
        if (c->slots[i].table == table) {
            c->slots[i].dirty = true;
            return;
        }
    }
}

void qcache_forget(struct qcache *c, uint64_t offset)
{
    for (size_t i = 0; i < c->nslots; i++) {
        if (c->slots[i].table && c->slots[i].offset == offset) {
            c->slots[i].offset = 0;
            c->slots[i].dirty = false;
            c->slots[i].last_use = 0;
        }
    }
}

void qcache_drop_all(struct qcache *c)
{
    for (size_t i = 0; i < c->nslots; i++) {
        c->slots[i].offset = 0;
        c->slots[i].dirty = false;
        c->slots[i].last_use = 0;
    }
}

bool qcache_dirty(const struct qcache *c)
{
    for (size_t i = 0; i < c->nslots; i++) {
        if (c->slots[i].dirty) {
            return true;
        }
    }
    return false;
}
