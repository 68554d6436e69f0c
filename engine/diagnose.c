/*
 * diagnose.c - "diagnose": everything qemu-img check finds (its own
 * messages, from the driver's check run read-only) and what it does not
 * look for: structures overlapping each other or guest data, entries with
 * reserved bits or unaligned offsets, COPIED flags, refcounts against the
 * references actually made (formats/qcow2/inspect.c's census), the
 * snapshot table, bitmaps, and the backing chain. Each finding has a
 * severity, the host bytes, the guest ranges it affects (layer and
 * snapshot) and the sentence of the qcow2 specification it breaks.
 *
 * Exit status: 0 nothing wrong (notes only), 2 errors, 3 warnings only, 1
 * when the image could not be read at all.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "block.h"
#include "err.h"
#include "info.h"
#include "inspect.h"
#include "json.h"
#include "util.h"

#define MAX_PER_KIND 64         /* findings of one kind listed; the rest are counted */
#define MAX_CHAIN 64
#define L1E_RESERVED 0x7f000000000001feULL
#define L2E_RESERVED 0x3f000000000001feULL
#define OFF_MASK QI_OFFSET_MASK

/* The specification's sentences the findings cite (docs/interop/qcow2.txt). */
#define SPEC_ALIGNED "Must be aligned to a cluster boundary."
#define SPEC_RESERVED "Reserved (set to 0)"
#define SPEC_ALLOC "A cluster is the unit in which all allocations are done, both for actual " \
    "guest data and for image metadata."
#define SPEC_REFCOUNT "A refcount of 0 means that the cluster is free, 1 means that it is used, " \
    "and >= 2 means that it is used and any write access must perform a COW (copy on write) " \
    "operation."
#define SPEC_L1_COPIED "0 for an L2 table that is unused or requires COW, 1 if its refcount is " \
    "exactly one."
#define SPEC_L2_COPIED "1 for standard clusters whose refcount is exactly one."
#define SPEC_COMPRESSED_COPIED "0 for clusters that are unused, compressed or require COW."
#define SPEC_OFFSET0 "The offset may only be 0 with bit 63 set (indicating a host cluster " \
    "offset of 0) when an external data file is used."
#define SPEC_SUBCLUSTER "1: the subcluster reads as zeros. In this case the allocation status " \
    "bit must be unset."
#define SPEC_SUB_ALLOC "1: the subcluster is allocated. In this case the host cluster offset " \
    "field must contain a valid offset."
#define SPEC_DIRTY "If this bit is set then refcounts may be inconsistent, make sure to scan " \
    "L1/L2 tables to repair refcounts before accessing the image."
#define SPEC_CORRUPT "If this bit is set then any data structure may be corrupt and the image " \
    "must not be written to (unless for regaining consistency)."
#define SPEC_UNKNOWN_INCOMPAT "An implementation must fail to open an image if an unknown bit " \
    "is set."
#define SPEC_V3_EXTRA "Version 3 images must include extra data at least up to byte 55."
#define SPEC_BITMAPS_BIT "It is an error if this bit is set without the bitmaps extension present."
#define SPEC_BITMAPS_STALE "If the bitmaps extension is present but this bit is unset, the " \
    "bitmaps extension data must be considered inconsistent."
#define SPEC_IN_USE "The bitmap was not saved correctly and may be inconsistent."
#define SPEC_BACKING "If a cluster is unallocated, read requests shall read the data from the " \
    "backing file"
#define SPEC_BACKING_SIZE "If there is no backing file or the backing file is smaller than the " \
    "image, they shall read zeros for all parts that are not covered by the backing file."
#define SPEC_PAST_EOF "Offset into the image file at which the L2 table starts."

enum severity { SEV_NOTE, SEV_WARNING, SEV_ERROR };
static const char *const sev_names[] = { "note", "warning", "error" };

struct finding {
    enum severity sev;
    const char *kind;
    char *message;
    bool has_host;
    uint64_t host, host_len;
    json_t *guest;              /* [{"offset", "length", "depth", "snapshot"}] */
    const char *spec;
};

struct diag {
    struct qi *qi;
    const char *file;
    struct finding *f;
    size_t n;
    struct { const char *kind; uint64_t count; } *kinds;
    size_t nkinds;
    uint64_t suppressed;
};

/* How many findings of this kind so far (counting this one). */
static uint64_t kind_count(struct diag *d, const char *kind)
{
    for (size_t i = 0; i < d->nkinds; i++) {
        if (!strcmp(d->kinds[i].kind, kind)) {
            return ++d->kinds[i].count;
        }
    }
    d->kinds = xrealloc(d->kinds, (d->nkinds + 1) * sizeof(*d->kinds));
    d->kinds[d->nkinds].kind = kind;
    d->kinds[d->nkinds].count = 1;
    return d->kinds[d->nkinds++].count;
}

/* Record a finding (guest: a reference taken, or NULL). */
__attribute__((format(printf, 8, 9)))
static void add(struct diag *d, enum severity sev, const char *kind, const char *spec,
                bool has_host, uint64_t host, uint64_t host_len, const char *fmt, ...)
{
    struct finding *f;
    va_list ap;

    if (kind_count(d, kind) > MAX_PER_KIND) {
        d->suppressed++;
        return;
    }
    d->f = xrealloc(d->f, (d->n + 1) * sizeof(*d->f));
    f = &d->f[d->n++];
    memset(f, 0, sizeof(*f));
    f->sev = sev;
    f->kind = kind;
    f->spec = spec;
    f->has_host = has_host;
    f->host = host;
    f->host_len = host_len;
    va_start(ap, fmt);
    if (vasprintf(&f->message, fmt, ap) < 0) {
        f->message = NULL;
    }
    va_end(ap);
}

/* Attach guest ranges to the last finding (if it was recorded). */
static void with_guest(struct diag *d, size_t before, json_t *guest)
{
    if (d->n > before) {
        d->f[d->n - 1].guest = guest;
    } else {
        json_decref(guest);
    }
}

static const char *who(const char *snapshot, char *buf, size_t len)
{
    if (snapshot) {
        snprintf(buf, len, "snapshot %s", snapshot);
    } else {
        snprintf(buf, len, "the active image");
    }
    return buf;
}

/* ------------------------------------------------------------------------ */
/* header and extensions                                                     */

static void check_table_offset(struct diag *d, const char *what, uint64_t off, uint64_t len)
{
    struct qi *qi = d->qi;

    if (off % qi->cluster_size) {
        add(d, SEV_ERROR, "unaligned-table", SPEC_ALIGNED, true, off, len,
            "the %s starts at %#" PRIx64 ", not on a cluster boundary", what, off);
    }
    if (len && off + len > qi->file_size) {
        add(d, SEV_ERROR, "table-past-eof", SPEC_ALLOC, true, off, len,
            "the %s (%#" PRIx64 "+%#" PRIx64 ") runs past the end of the file (%#" PRIx64 ")",
            what, off, len, qi->file_size);
    }
}

static void check_header(struct diag *d)
{
    struct qi *qi = d->qi;
    uint64_t known = 0x1f;

    check_table_offset(d, "active L1 table", qi->l1_offset, (uint64_t)qi->l1_size * 8);
    check_table_offset(d, "refcount table", qi->reftable_offset,
                       (uint64_t)qi->reftable_clusters * qi->cluster_size);
    if (qi->nb_snapshots) {
        check_table_offset(d, "snapshot table", qi->snapshots_offset, 0);
    }
    if (qi->incompat & ~known) {
        add(d, SEV_ERROR, "unknown-feature", SPEC_UNKNOWN_INCOMPAT, true, 72, 8,
            "unknown incompatible feature bits are set: %#" PRIx64, qi->incompat & ~known);
    }
    if (qi->incompat & 1) {
        add(d, SEV_WARNING, "dirty", SPEC_DIRTY, true, 72, 8,
            "the dirty bit is set: the image was not closed cleanly, its refcounts may be "
            "stale (qemu repairs them when it opens the image read-write)");
    }
    if (qi->incompat & 2) {
        add(d, SEV_ERROR, "corrupt", SPEC_CORRUPT, true, 72, 8,
            "the corrupt bit is set: qemu found its metadata inconsistent and will not write "
            "it until it is repaired");
    }
    if (qi->version >= 3 && (qi->header_length < 104 || qi->header_length % 8)) {
        add(d, SEV_ERROR, "header-length", "For version 3 it's at least 104 bytes and must be "
            "a multiple of 8.", true, 100, 4, "header_length is %" PRIu32, qi->header_length);
    }
    if ((qi->autoclear & 1) && !qi->has_bitmaps_ext) {
        add(d, SEV_ERROR, "bitmaps-bit", SPEC_BITMAPS_BIT, true, 88, 8,
            "the bitmaps autoclear bit is set but there is no bitmaps extension");
    }
    if (!(qi->autoclear & 1) && qi->has_bitmaps_ext) {
        add(d, SEV_WARNING, "bitmaps-stale", SPEC_BITMAPS_STALE, true, 88, 8,
            "a bitmaps extension is present but its autoclear bit is clear: every bitmap in it "
            "is stale");
    }
    if (qi->backing_file && qi->backing_file_size > 1023) {
        add(d, SEV_ERROR, "backing-name", "Must not be longer than 1023 bytes.", true, 16, 4,
            "the backing file name is %" PRIu32 " bytes long", qi->backing_file_size);
    }
    if (qi->crypt_method == 2 && !qi->has_crypto_ext) {
        add(d, SEV_ERROR, "crypto-header", "The full disk encryption header must be present if, "
            "and only if, the 'crypt_method' header requires metadata.", true, 32, 4,
            "the image is LUKS-encrypted but has no encryption header extension");
    }
    if (qi->has_crypto_ext) {
        check_table_offset(d, "encryption header", qi->crypto_offset, qi->crypto_length);
    }
}

/* ------------------------------------------------------------------------ */
/* L1 and L2 tables                                                          */

struct l2_seen {
    uint64_t *offs;
    size_t n;
};

static bool seen(struct l2_seen *s, uint64_t off)
{
    for (size_t i = 0; i < s->n; i++) {
        if (s->offs[i] == off) {
            return true;
        }
    }
    s->offs = xrealloc(s->offs, (s->n + 1) * sizeof(*s->offs));
    s->offs[s->n++] = off;
    return false;
}

static void check_l2_entry(struct diag *d, uint64_t l1i, uint64_t j, uint64_t e, uint64_t bm,
                           const char *sn, bool active, const struct census *c)
{
    struct qi *qi = d->qi;
    uint64_t g = (l1i * qi->l2_entries + j) * qi->cluster_size, off = e & OFF_MASK;
    struct qi_l2e x = qi_l2_decode(qi, e, bm);
    char w[64];
    size_t before = d->n;

    who(sn, w, sizeof(w));
    if (x.type == QI_COMPRESSED) {
        unsigned xbits = 62 - (qi->cluster_bits - 8);
        if (e >> 63) {
            add(d, SEV_ERROR, "compressed-copied", SPEC_COMPRESSED_COPIED, true, x.host, x.csize,
                "compressed cluster at guest %#" PRIx64 " (%s) has COPIED set", g, w);
            with_guest(d, before, inspect_guest_range(g, qi->cluster_size, 0, sn));
        }
        before = d->n;
        if (xbits > 56 && (x.host >> 56)) {
            add(d, SEV_ERROR, "compressed-offset", "If cluster_bits is small enough that this "
                "field includes bits beyond 55, those upper bits must be set to 0.", true, x.host,
                x.csize, "compressed cluster at guest %#" PRIx64 " (%s) has offset bits above "
                "55 set", g, w);
            with_guest(d, before, inspect_guest_range(g, qi->cluster_size, 0, sn));
        }
        before = d->n;
        /* the final sector may be cut short by the end of the file; the rest may not */
        if (x.host >= qi->file_size || x.host + x.csize - 512 > qi->file_size) {
            add(d, SEV_ERROR, "data-past-eof", SPEC_ALLOC, true, x.host, x.csize,
                "compressed data of guest %#" PRIx64 " (%s) lies past the end of the file", g, w);
            with_guest(d, before, inspect_guest_range(g, qi->cluster_size, 0, sn));
        }
        before = d->n;
        if (qi->extended_l2 && bm) {
            add(d, SEV_ERROR, "compressed-bitmap", SPEC_RESERVED, true, x.host, x.csize,
                "compressed cluster at guest %#" PRIx64 " (%s) has a non-zero subcluster "
                "bitmap", g, w);
            with_guest(d, before, inspect_guest_range(g, qi->cluster_size, 0, sn));
        }
        return;
    }
    if ((e & L2E_RESERVED) || ((qi->version < 3 || qi->extended_l2) && (e & 1))) {
        add(d, SEV_ERROR, "l2-reserved", SPEC_RESERVED, off != 0, off, qi->cluster_size,
            "L2 entry %" PRIu64 " of L1 entry %" PRIu64 " (%s) has reserved bits set: %#018"
            PRIx64, j, l1i, w, e);
        with_guest(d, before, inspect_guest_range(g, qi->cluster_size, 0, sn));
        before = d->n;
    }
    if (!off && (e >> 63) && !qi->data_file) {
        add(d, SEV_ERROR, "l2-copied-unallocated", SPEC_OFFSET0, false, 0, 0,
            "L2 entry %" PRIu64 " of L1 entry %" PRIu64 " (%s) has COPIED set but no cluster",
            j, l1i, w);
        with_guest(d, before, inspect_guest_range(g, qi->cluster_size, 0, sn));
        before = d->n;
    }
    if (off && off % qi->cluster_size) {
        add(d, SEV_ERROR, "unaligned-cluster", SPEC_ALIGNED, true, off, qi->cluster_size,
            "guest cluster %#" PRIx64 " (%s) maps to %#" PRIx64 ", not on a cluster boundary",
            g, w, off);
        with_guest(d, before, inspect_guest_range(g, qi->cluster_size, 0, sn));
        before = d->n;
    }
    if (off && off >= qi->file_size && x.type == QI_NORMAL) {
        add(d, SEV_ERROR, "data-past-eof", SPEC_ALLOC, true, off, qi->cluster_size,
            "guest cluster %#" PRIx64 " (%s) maps to %#" PRIx64 ", past the end of the file",
            g, w, off);
        with_guest(d, before, inspect_guest_range(g, qi->cluster_size, 0, sn));
        before = d->n;
    }
    if (qi->extended_l2) {
        uint32_t alloc = (uint32_t)bm, zero = (uint32_t)(bm >> 32);
        if (alloc & zero) {
            add(d, SEV_ERROR, "subcluster-both", SPEC_SUBCLUSTER, off != 0, off,
                qi->cluster_size, "guest cluster %#" PRIx64 " (%s): subclusters %#x are both "
                "allocated and zero", g, w, alloc & zero);
            with_guest(d, before, inspect_guest_range(g, qi->cluster_size, 0, sn));
            before = d->n;
        }
        if (alloc && !off) {
            add(d, SEV_ERROR, "subcluster-no-offset", SPEC_SUB_ALLOC, false, 0, 0,
                "guest cluster %#" PRIx64 " (%s) has allocated subclusters but no host offset",
                g, w);
            with_guest(d, before, inspect_guest_range(g, qi->cluster_size, 0, sn));
            before = d->n;
        }
    }
    if (active && off && !(off % qi->cluster_size) && x.type == QI_NORMAL &&
        (off >> qi->cluster_bits) < c->n) {
        uint64_t rc = c->refcount[off >> qi->cluster_bits];
        if ((rc == 1) != (bool)(e >> 63) && rc) {
            add(d, SEV_WARNING, "l2-copied", SPEC_L2_COPIED, true, off, qi->cluster_size,
                "guest cluster %#" PRIx64 " maps to %#" PRIx64 " with refcount %" PRIu64
                " but COPIED is %s", g, off, rc, (e >> 63) ? "set" : "clear");
            with_guest(d, before, inspect_guest_range(g, qi->cluster_size, 0, sn));
        }
    }
}

static int check_l1(struct diag *d, uint64_t l1_off, uint64_t l1_size, const char *sn,
                    const struct census *c, struct l2_seen *done, struct err *err)
{
    struct qi *qi = d->qi;
    uint64_t *l1 = NULL, *l2 = xcalloc(qi->l2_entries, 8), *bm = xcalloc(qi->l2_entries, 8);
    uint64_t span = qi_l1_span(qi);
    int ret = 0;
    char w[64];

    who(sn, w, sizeof(w));
    if (l1_size && qi_read_table(qi, l1_off, l1_size, &l1, err) < 0) {
        ret = -EIO;
    }
    l1_size = MIN(l1_size, (32ULL << 20) / 8);
    for (uint64_t i = 0; !ret && i < l1_size; i++) {
        uint64_t e = l1[i], off = e & OFF_MASK;
        size_t before = d->n;

        if (e & L1E_RESERVED) {
            add(d, SEV_ERROR, "l1-reserved", SPEC_RESERVED, off != 0, off, qi->cluster_size,
                "L1 entry %" PRIu64 " (%s) has reserved bits set: %#018" PRIx64, i, w, e);
            with_guest(d, before, inspect_guest_range(i * span, span, 0, sn));
            before = d->n;
        }
        if (!off) {
            if ((e >> 63) && !sn) {
                add(d, SEV_ERROR, "l1-copied-unallocated", SPEC_L1_COPIED, false, 0, 0,
                    "L1 entry %" PRIu64 " has COPIED set but no L2 table", i);
                with_guest(d, before, inspect_guest_range(i * span, span, 0, sn));
            }
            continue;
        }
        if (off % qi->cluster_size) {
            add(d, SEV_ERROR, "unaligned-l2", SPEC_ALIGNED, true, off, qi->cluster_size,
                "L1 entry %" PRIu64 " (%s) points to an L2 table at %#" PRIx64 ", not on a "
                "cluster boundary", i, w, off);
            with_guest(d, before, inspect_guest_range(i * span, span, 0, sn));
            before = d->n;
        }
        if (off >= qi->file_size) {
            add(d, SEV_ERROR, "l2-past-eof", SPEC_PAST_EOF, true, off, qi->cluster_size,
                "L1 entry %" PRIu64 " (%s) points to an L2 table at %#" PRIx64 ", past the end "
                "of the file", i, w, off);
            with_guest(d, before, inspect_guest_range(i * span, span, 0, sn));
            continue;
        }
        if (!sn && !(off % qi->cluster_size) && (off >> qi->cluster_bits) < c->n) {
            uint64_t rc = c->refcount[off >> qi->cluster_bits];
            if ((rc == 1) != (bool)(e >> 63) && rc) {
                add(d, SEV_WARNING, "l1-copied", SPEC_L1_COPIED, true, off, qi->cluster_size,
                    "the L2 table of L1 entry %" PRIu64 " has refcount %" PRIu64 " but COPIED "
                    "is %s", i, rc, (e >> 63) ? "set" : "clear");
                with_guest(d, before, inspect_guest_range(i * span, span, 0, sn));
            }
        }
        if (seen(done, off) && sn) {
            continue;           /* a table the active image shares: its entries were seen */
        }
        if (qi_read_l2(qi, off, l2, bm, err) < 0) {
            ret = -EIO;
            break;
        }
        for (uint64_t j = 0; j < qi->l2_entries; j++) {
            if (l2[j] || bm[j]) {
                check_l2_entry(d, i, j, l2[j], bm[j], sn, !sn, c);
            }
        }
    }
    free(l1);
    free(l2);
    free(bm);
    return ret;
}

/* ------------------------------------------------------------------------ */
/* overlaps and refcounts, from the census                                   */

/* Kinds of references that may not share a cluster with another of the same kind. */
static bool exclusive(unsigned k)
{
    return k != CENSUS_KIND0 + QI_KIND_DATA && k != CENSUS_KIND0 + QI_KIND_L2 &&
           k != CENSUS_KIND0 + QI_KIND_HEADER;
}

/* An overlap finding for cluster i, from the kinds and guest ranges of its references. */
static void explain_overlap(struct diag *d, const struct census *c, uint64_t i,
                           const json_t *kinds, json_t *guest)
{
    char list[256] = "";
    size_t before = d->n, len = 0;

    for (size_t k = 0; k < json_array_size(kinds) && len < sizeof(list) - 40; k++) {
        len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s", k ? ", " : "",
                                json_string_value(json_array_get(kinds, k)));
    }
    add(d, SEV_ERROR, "overlap", SPEC_ALLOC, true, i << c->cluster_bits,
        1ULL << c->cluster_bits, "host cluster %" PRIu64 " (%#" PRIx64 ") is used %zu times, as %s",
        i, i << c->cluster_bits, json_array_size(kinds), list);
    with_guest(d, before, json_incref(guest));
}

static bool is_overlap(const struct census *c, uint64_t i)
{
    unsigned k = c->kind[i];

    return k == CENSUS_MIXED || (exclusive(k) && k >= CENSUS_KIND0 && c->nref[i] > 1);
}

static bool is_refcount_low(const struct census *c, uint64_t i)
{
    unsigned k = c->kind[i];

    return (k >= CENSUS_KIND0 || k == CENSUS_MIXED) && c->refcount[i] < c->nref[i] &&
           c->nref[i] < UINT8_MAX;
}

static void check_census(struct diag *d, const struct census *c, struct err *err)
{
    uint64_t *want = NULL;
    json_t **kinds, **guest;
    size_t n = 0, j = 0;
    bool refs;

    /* the clusters whose references a finding names: all of them in one walk */
    for (uint64_t i = 0; i < c->n; i++) {
        if (is_overlap(c, i) || is_refcount_low(c, i)) {
            want = xrealloc(want, (n + 1) * sizeof(*want));
            want[n++] = i;
        }
    }
    kinds = xcalloc(n + 1, sizeof(*kinds));
    guest = xcalloc(n + 1, sizeof(*guest));
    refs = census_refs(d->qi, want, n, kinds, guest, err) == 0;
    if (!refs) {
        err_report(err);
    }
    for (uint64_t i = 0; i < c->n; i++) {
        unsigned k = c->kind[i];
        uint64_t rc = c->refcount[i], nref = c->nref[i];
        bool wanted = j < n && want[j] == i;

        if (is_overlap(c, i) && refs) {
            explain_overlap(d, c, i, kinds[j], guest[j]);
        }
        if (k == CENSUS_LEAKED) {
            add(d, SEV_WARNING, "leak", SPEC_REFCOUNT, true, i << c->cluster_bits,
                1ULL << c->cluster_bits, "host cluster %" PRIu64 " (%#" PRIx64 ") has refcount "
                "%" PRIu64 " but nothing references it (leaked)", i, i << c->cluster_bits, rc);
        } else if (is_refcount_low(c, i)) {
            size_t before = d->n;
            add(d, SEV_ERROR, "refcount-low", SPEC_REFCOUNT, true, i << c->cluster_bits,
                1ULL << c->cluster_bits, "host cluster %" PRIu64 " (%#" PRIx64 ", %s) has "
                "refcount %" PRIu64 " for %" PRIu64 " references%s", i, i << c->cluster_bits,
                census_kind_name(k), rc, nref, rc ? "" : ": the next allocation may overwrite it");
            with_guest(d, before, refs ? json_incref(guest[j]) : json_array());
        } else if ((k >= CENSUS_KIND0 || k == CENSUS_MIXED) && rc > nref && nref < UINT8_MAX) {
            add(d, SEV_WARNING, "refcount-high", SPEC_REFCOUNT, true, i << c->cluster_bits,
                1ULL << c->cluster_bits, "host cluster %" PRIu64 " (%#" PRIx64 ", %s) has "
                "refcount %" PRIu64 " for %" PRIu64 " references", i, i << c->cluster_bits,
                census_kind_name(k), rc, nref);
        }
        j += wanted;
    }
    for (size_t i = 0; i < n; i++) {
        json_decref(kinds[i]);
        json_decref(guest[i]);
    }
    free(kinds);
    free(guest);
    free(want);
    for (uint64_t i = 0; i < c->npast_end; i++) {
        add(d, SEV_WARNING, "leak", SPEC_REFCOUNT, true, c->past_end[i].cluster << c->cluster_bits,
            1ULL << c->cluster_bits, "host cluster %" PRIu64 " past the end of the file has "
            "refcount %" PRIu64, c->past_end[i].cluster, c->past_end[i].refcount);
    }
}

/* ------------------------------------------------------------------------ */
/* snapshots, bitmaps, backing chain                                         */

static int check_snapshots(struct diag *d, const struct census *c, struct l2_seen *done,
                           struct err *err)
{
    struct qi_snapshot *sn;
    size_t n;
    int ret = 0;

    if (!d->qi->nb_snapshots) {
        return 0;
    }
    if (qi_snapshots(d->qi, &sn, &n, err) < 0) {
        return -EIO;
    }
    for (size_t i = 0; i < n && !ret; i++) {
        char what[96];
        snprintf(what, sizeof(what), "L1 table of snapshot %s", sn[i].id);
        check_table_offset(d, what, sn[i].l1_offset, (uint64_t)sn[i].l1_size * 8);
        if (d->qi->version >= 3 && sn[i].extra_size < 16) {
            add(d, SEV_WARNING, "snapshot-extra", SPEC_V3_EXTRA, true, sn[i].table_offset,
                sn[i].entry_size, "snapshot %s has only %" PRIu32 " bytes of extra data",
                sn[i].id, sn[i].extra_size);
        }
        for (size_t j = 0; j < i; j++) {
            if (!strcmp(sn[i].id, sn[j].id)) {
                add(d, SEV_ERROR, "snapshot-id", "Unique ID string for the snapshot", true,
                    sn[i].table_offset, sn[i].entry_size, "two snapshots have the ID '%s'",
                    sn[i].id);
            }
        }
        if (sn[i].table_offset + sn[i].entry_size > d->qi->file_size) {
            add(d, SEV_ERROR, "table-past-eof", SPEC_ALLOC, true, sn[i].table_offset,
                sn[i].entry_size, "the snapshot table entry of snapshot %zu runs past the end of "
                "the file", i + 1);
        }
        if (!(sn[i].l1_offset % d->qi->cluster_size)) {
            ret = check_l1(d, sn[i].l1_offset, sn[i].l1_size, sn[i].id, c, done, err);
        }
    }
    qi_snapshots_free(sn, n);
    return ret;
}

static int check_bitmaps(struct diag *d, struct err *err)
{
    struct qi_bitmap *bm;
    size_t n;

    if (!d->qi->has_bitmaps_ext) {
        return 0;
    }
    check_table_offset(d, "bitmap directory", d->qi->bitmap_dir_offset, d->qi->bitmap_dir_size);
    if (qi_bitmaps(d->qi, &bm, &n, err) < 0) {
        return -EIO;
    }
    for (size_t i = 0; i < n; i++) {
        char what[1100];
        snprintf(what, sizeof(what), "table of bitmap '%s'", bm[i].name);
        check_table_offset(d, what, bm[i].table_offset, (uint64_t)bm[i].table_size * 8);
        if (bm[i].flags & 1) {
            add(d, SEV_WARNING, "bitmap-in-use", SPEC_IN_USE, true, bm[i].entry_offset, 24,
                "bitmap '%s' is marked in use: its data is not trustworthy", bm[i].name);
        }
        if (bm[i].flags & ~7u) {
            add(d, SEV_ERROR, "bitmap-flags", "Bits 3 - 31 are reserved and must be 0.", true,
                bm[i].entry_offset, 24, "bitmap '%s' has reserved flags %#x", bm[i].name,
                bm[i].flags & ~7u);
        }
        if (bm[i].type != 1) {
            add(d, SEV_ERROR, "bitmap-type", "Values 0, 2 - 255 are reserved.", true,
                bm[i].entry_offset, 24, "bitmap '%s' has type %u", bm[i].name, bm[i].type);
        }
    }
    qi_bitmaps_free(bm, n);
    return 0;
}

static void check_chain(struct diag *d)
{
    char *names[MAX_CHAIN] = { 0 };
    char *file = xstrdup(d->file);
    unsigned depth = 0;
    uint64_t top_size = d->qi->size;

    while (file && depth < MAX_CHAIN) {
        struct qi *qi = NULL;
        struct err err = { 0 };
        char *real = realpath(file, NULL), *backing;
        uint8_t magic[4] = { 0 };
        FILE *f;

        names[depth] = real ? real : xstrdup(file);
        for (unsigned i = 0; i < depth; i++) {
            if (!strcmp(names[i], names[depth])) {
                add(d, SEV_ERROR, "backing-loop", SPEC_BACKING, false, 0, 0,
                    "the backing chain loops: '%s' (depth %u) is also at depth %u", file, depth, i);
                goto out;
            }
        }
        f = fopen(file, "rb");
        if (!f) {
            add(d, SEV_ERROR, "backing-missing", SPEC_BACKING, false, 0, 0,
                "the backing file '%s' (depth %u) cannot be opened: %s", file, depth,
                strerror(errno));
            goto out;
        }
        if (fread(magic, 1, 4, f) != 4 || be32(magic) != 0x514649fbu) {
            long size = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
            fclose(f);
            if (depth && size >= 0 && (uint64_t)size < top_size) {
                add(d, SEV_NOTE, "backing-smaller", SPEC_BACKING_SIZE, false, 0, 0,
                    "the backing file '%s' (depth %u) is %ld bytes, smaller than the image "
                    "(%" PRIu64 "): the guest reads zeros past its end", file, depth, size,
                    top_size);
            }
            break;              /* raw (or another format): the chain ends */
        }
        fclose(f);
        if (qi_open(&qi, file, true, &err) < 0) {
            add(d, SEV_ERROR, "backing-unreadable", SPEC_BACKING, false, 0, 0, "%s", err.msg);
            goto out;
        }
        if (depth && qi->size < top_size) {
            add(d, SEV_NOTE, "backing-smaller", SPEC_BACKING_SIZE, false, 0, 0,
                "the backing file '%s' (depth %u) is %" PRIu64 " bytes, smaller than the image "
                "(%" PRIu64 "): the guest reads zeros past its end", file, depth, qi->size,
                top_size);
        }
        backing = qi->backing_file ? backing_full_path(file, qi->backing_file) : NULL;
        if (backing && !qi->backing_fmt) {
            add(d, SEV_WARNING, "backing-format", "Backing file format name string", false, 0, 0,
                "'%s' names its backing file '%s' without its format: the format is probed, "
                "which is unsafe for raw backing files", file, qi->backing_file);
        }
        qi_close(qi);
        free(file);
        file = backing;
        depth++;
    }
out:
    free(file);
    for (unsigned i = 0; i < MAX_CHAIN; i++) {
        free(names[i]);
    }
}

/* ------------------------------------------------------------------------ */
/* qemu-img check's own findings                                             */

/* Run the driver's check read-only with its messages captured; each becomes a finding. */
static void run_check(struct diag *d, bool share)
{
    struct image *img;
    struct check_result res = { 0 };
    struct err err = { 0 };
    FILE *cap = tmpfile();
    int saved = -1;
    char *line = NULL;
    size_t cap_len = 0;
    ssize_t len;

    if (image_open(&img, d->file, "qcow2", IMG_CHECK | IMG_QUIET | (share ? IMG_FORCE_SHARE : 0),
                   CACHE_WRITEBACK, &err) < 0) {
        add(d, SEV_ERROR, "open", SPEC_ALLOC, false, 0, 0, "qemu would not open it: %s",
            err.msg);
        if (cap) {
            fclose(cap);
        }
        return;
    }
    fflush(stderr);
    if (cap && (saved = dup(STDERR_FILENO)) >= 0) {
        dup2(fileno(cap), STDERR_FILENO);
    }
    if (img->drv->check && img->drv->check(img, &res, 0, &err) < 0) {
        fprintf(stderr, "check failed: %s\n", err.msg);
    }
    image_close(img);
    fflush(stderr);
    if (saved >= 0) {
        dup2(saved, STDERR_FILENO);
        close(saved);
    }
    if (!cap) {
        return;
    }
    rewind(cap);
    while ((len = getline(&line, &cap_len, cap)) > 0) {
        if (line[len - 1] == '\n') {
            line[len - 1] = '\0';
        }
        if (!*line) {
            continue;
        }
        add(d, !strncmp(line, "Leaked", 6) ? SEV_WARNING : SEV_ERROR, "qemu-check",
            SPEC_REFCOUNT, false, 0, 0, "qemu-img check: %s", line);
    }
    free(line);
    fclose(cap);
}

/* ------------------------------------------------------------------------ */

static void print_human(const struct diag *d, unsigned counts[3])
{
    printf("%s: %u error%s, %u warning%s, %u note%s\n", d->file, counts[SEV_ERROR],
           counts[SEV_ERROR] == 1 ? "" : "s", counts[SEV_WARNING],
           counts[SEV_WARNING] == 1 ? "" : "s", counts[SEV_NOTE], counts[SEV_NOTE] == 1 ? "" : "s");
    for (size_t i = 0; i < d->n; i++) {
        const struct finding *f = &d->f[i];
        printf("%-7s [%s] %s\n", sev_names[f->sev], f->kind, f->message ? f->message : "");
        if (f->has_host) {
            printf("        host %#" PRIx64 "+%#" PRIx64 "\n", f->host, f->host_len);
        }
        for (size_t g = 0; f->guest && g < json_array_size(f->guest); g++) {
            const json_t *o = json_array_get(f->guest, g);
            const json_t *sn = json_object_get(o, "snapshot");
            printf("        guest %#" PRIx64 "+%#" PRIx64 " (depth %lld, %s%s)\n",
                   (uint64_t)json_integer_value(json_object_get(o, "offset")),
                   (uint64_t)json_integer_value(json_object_get(o, "length")),
                   json_integer_value(json_object_get(o, "depth")),
                   json_is_string(sn) ? "snapshot " : "active image",
                   json_is_string(sn) ? json_string_value(sn) : "");
        }
        printf("        spec: \"%s\"\n", f->spec);
    }
    if (d->suppressed) {
        printf("(%" PRIu64 " more findings of kinds listed %d times already are not shown)\n",
               d->suppressed, MAX_PER_KIND);
    }
}

int cmd_diagnose(struct cmd_ctx *ctx, int argc, char **argv)
{
    struct inspect_args a;
    struct err err = { 0 };
    struct diag d = { 0 };
    struct census c;
    struct l2_seen done = { 0 };
    unsigned counts[3] = { 0 };
    int ret;

    if (inspect_parse(ctx, argc, argv, 0, 0, &a, &ret) < 0) {
        return ret;
    }
    if (!(d.qi = inspect_open(&a))) {
        return 1;
    }
    d.file = a.file;
    if (census_build(d.qi, &c, &err) < 0) {
        err_report(&err);
        qi_close(d.qi);
        return 1;
    }
    run_check(&d, a.force_share);
    check_header(&d);
    if (check_l1(&d, d.qi->l1_offset, d.qi->l1_size, NULL, &c, &done, &err) < 0 ||
        check_snapshots(&d, &c, &done, &err) < 0 || check_bitmaps(&d, &err) < 0) {
        err_report(&err);
    }
    check_census(&d, &c, &err);
    check_chain(&d);
    for (size_t i = 0; i < d.n; i++) {
        counts[d.f[i].sev]++;
    }
    if (a.json) {
        json_t *o = json_object(), *list = json_array();
        for (size_t i = 0; i < d.n; i++) {
            const struct finding *f = &d.f[i];
            json_t *x = json_object();
            json_obj_set_str(x, "severity", sev_names[f->sev]);
            json_obj_set_str(x, "kind", f->kind);
            json_obj_set_str(x, "message", f->message ? f->message : "");
            json_object_set_new(x, "host-offset", f->has_host ? inspect_u64(f->host) : json_null());
            json_object_set_new(x, "host-length", f->has_host ? inspect_u64(f->host_len)
                                                              : json_null());
            json_object_set_new(x, "guest", f->guest ? json_incref(f->guest) : json_array());
            json_obj_set_str(x, "spec", f->spec);
            json_array_append_new(list, x);
        }
        json_obj_set_str(o, "file", a.file);
        json_obj_set_int(o, "errors", counts[SEV_ERROR]);
        json_obj_set_int(o, "warnings", counts[SEV_WARNING]);
        json_obj_set_int(o, "notes", counts[SEV_NOTE]);
        json_object_set_new(o, "not-shown", inspect_u64(d.suppressed));
        json_object_set_new(o, "findings", list);
        inspect_print_json(o);
    } else {
        print_human(&d, counts);
    }
    for (size_t i = 0; i < d.n; i++) {
        free(d.f[i].message);
        json_decref(d.f[i].guest);
    }
    free(d.f);
    free(d.kinds);
    free(done.offs);
    census_free(&c);
    qi_close(d.qi);
    return counts[SEV_ERROR] ? 2 : counts[SEV_WARNING] ? 3 : 0;
}
