/*
 * repair.c - "repair plan [leaks|all]" and "repair apply [leaks|all]":
 * a qcow2 repair shown before it is made.
 *
 * The repair runs on a scratch copy of the image (sparse, in $TMPDIR):
 * with "all", imgsh's own fixes first, for the damage qemu-img check
 * reports but cannot repair (entries with reserved bits, unaligned or
 * pointing past the end of the file, COPIED on compressed clusters,
 * subclusters both allocated and zero, refcount table entries it cannot
 * use, snapshots whose L1 table is not aligned); then the driver's check
 * with -r leaks or -r all, as qemu-img check repairs. The plan is the
 * difference between the image and the repaired copy: each changed range
 * with the structure it belongs to, old and new bytes, why, and the guest
 * ranges whose data or L2 table lives there. "apply" computes the same plan
 * and writes exactly those bytes (and the new length) into the image,
 * through the file layer, so the shell's undo journal records them.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "block.h"
#include "err.h"
#include "inspect.h"
#include "json.h"
#include "undo.h"
#include "util.h"

#define OFF_MASK QI_OFFSET_MASK
#define L1E_RESERVED 0x7f000000000001feULL
#define L2E_RESERVED 0x3f000000000001feULL
#define COPY_CHUNK (1u << 20)
#define SHOW_BYTES 32

struct fix {                    /* one of imgsh's own fixes on the copy */
    uint64_t offset, length;
    char *why;
};

struct change {
    uint64_t offset, length;
    uint8_t *old, *new;
    char *structure, *why;
    json_t *guest;
};

struct plan {
    uint64_t old_len, new_len;
    struct change *c;
    size_t n;
    struct fix *fixes;
    size_t nfixes;
    char **msgs;                /* the driver's repair messages */
    size_t nmsgs;
};

static void plan_free(struct plan *p)
{
    for (size_t i = 0; i < p->n; i++) {
        free(p->c[i].old);
        free(p->c[i].new);
        free(p->c[i].structure);
        free(p->c[i].why);
        json_decref(p->c[i].guest);
    }
    for (size_t i = 0; i < p->nfixes; i++) {
        free(p->fixes[i].why);
    }
    for (size_t i = 0; i < p->nmsgs; i++) {
        free(p->msgs[i]);
    }
    free(p->c);
    free(p->fixes);
    free(p->msgs);
}

/* ------------------------------------------------------------------------ */
/* the scratch copy                                                          */

static int copy_sparse(int in, int out, uint64_t len, struct err *err, const char *name)
{
    uint8_t *buf = xmalloc(COPY_CHUNK);
    off_t pos = 0;
    int ret = 0;

    while ((uint64_t)pos < len && ret == 0) {
        off_t data = lseek(in, pos, SEEK_DATA), hole;
        if (data < 0) {
            break;              /* only a hole is left */
        }
        hole = lseek(in, data, SEEK_HOLE);
        if (hole < 0) {
            hole = (off_t)len;
        }
        for (pos = data; pos < hole && ret == 0;) {
            size_t n = (size_t)MIN((uint64_t)COPY_CHUNK, (uint64_t)(hole - pos));
            ssize_t r = pread(in, buf, n, pos);
            if (r <= 0 || pwrite(out, buf, (size_t)r, pos) != r) {
                ret = err_set_errno(err, r < 0 ? errno : EIO, "Could not copy '%s'", name);
                break;
            }
            pos += r;
        }
    }
    if (ret == 0 && ftruncate(out, (off_t)len) < 0) {
        ret = err_set_errno(err, errno, "Could not copy '%s'", name);
    }
    free(buf);
    return ret;
}

/* ------------------------------------------------------------------------ */
/* imgsh's own fixes (mode all), on the copy                                 */

struct fixer {
    struct qi *qi;
    int fd;                     /* the copy, read-write */
    struct plan *p;
    struct census c;            /* of the copy before the fixes */
};

/* Is the cluster at host offset off also used as metadata? */
static bool in_metadata(const struct fixer *fx, uint64_t off)
{
    uint64_t cl = off >> fx->qi->cluster_bits;

    return cl < fx->c.n && fx->c.kind[cl] == CENSUS_MIXED;
}

static int put64_at(struct fixer *fx, uint64_t off, uint64_t v, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int put64_at(struct fixer *fx, uint64_t off, uint64_t v, const char *fmt, ...)
{
    uint8_t b[8];
    struct fix f = { off, 8, NULL };
    va_list ap;

    put_be64(b, v);
    if (pwrite(fx->fd, b, 8, (off_t)off) != 8) {
        return -EIO;
    }
    va_start(ap, fmt);
    if (vasprintf(&f.why, fmt, ap) < 0) {
        f.why = NULL;
    }
    va_end(ap);
    fx->p->fixes = xrealloc(fx->p->fixes, (fx->p->nfixes + 1) * sizeof(*fx->p->fixes));
    fx->p->fixes[fx->p->nfixes++] = f;
    return 0;
}

/* A zero cluster in place of an entry whose data cannot be read. */
static void zero_entry(const struct qi *qi, uint64_t *e, uint64_t *bm)
{
    if (qi->extended_l2) {
        *e = 0;
        *bm = 0xffffffffULL << 32;
    } else {
        *e = qi->version >= 3 ? 1 : 0;
    }
}

static int fix_l2(struct fixer *fx, uint64_t l2_off, uint64_t l1i, const char *sn)
{
    struct qi *qi = fx->qi;
    uint64_t *e = xcalloc(qi->l2_entries, 8), *bm = xcalloc(qi->l2_entries, 8);
    struct err err = { 0 };
    int ret = qi_read_l2(qi, l2_off, e, bm, &err);

    for (uint64_t j = 0; ret == 0 && j < qi->l2_entries; j++) {
        uint64_t ne = e[j], nbm = bm[j], off = e[j] & OFF_MASK;
        uint64_t at = l2_off + j * qi->l2_entry_size, g = (l1i * qi->l2_entries + j) *
                      qi->cluster_size;
        const char *why = NULL;
        struct qi_l2e d = qi_l2_decode(qi, e[j], bm[j]);

        if (d.type != QI_UNALLOCATED && d.type != QI_ZERO && in_metadata(fx, d.host)) {
            zero_entry(qi, &ne, &nbm);
            why = "guest data in a cluster that holds metadata: the cluster reads as zeros "
                  "(a guest write there would overwrite the metadata)";
        } else if (d.type == QI_COMPRESSED) {
            if (d.host >= qi->file_size) {
                zero_entry(qi, &ne, &nbm);
                why = "compressed data past the end of the file: the cluster reads as zeros";
            } else {
                ne &= ~(1ULL << 63);
                nbm = 0;
                why = "COPIED or a subcluster bitmap on a compressed cluster: cleared";
            }
        } else {
            ne &= ~L2E_RESERVED;
            if (qi->version < 3 || qi->extended_l2) {
                ne &= ~1ULL;
            }
            why = ne != e[j] ? "reserved bits of an L2 entry: cleared" : NULL;
            if (off && (off % qi->cluster_size || off >= qi->file_size) &&
                d.type != QI_UNALLOCATED) {
                zero_entry(qi, &ne, &nbm);
                why = off % qi->cluster_size ? "an unaligned cluster offset: the cluster reads "
                      "as zeros" : "a cluster past the end of the file: the cluster reads as zeros";
            } else if (qi->extended_l2) {
                uint32_t alloc = (uint32_t)nbm, zero = (uint32_t)(nbm >> 32);
                if (alloc & zero) {
                    nbm = alloc | ((uint64_t)(zero & ~alloc) << 32);
                    why = "subclusters both allocated and zero: the data is kept";
                }
                if (alloc && !off) {
                    nbm &= ~0xffffffffULL;
                    why = "allocated subclusters without a host cluster: unallocated";
                }
            }
        }
        if (ne != e[j]) {
            ret = put64_at(fx, at, ne, "%s (L2 entry %" PRIu64 " of L1 entry %" PRIu64 ", "
                           "guest %#" PRIx64 ", %s)", why, j, l1i, g, sn ? sn : "active image");
        }
        if (ret == 0 && qi->extended_l2 && nbm != bm[j]) {
            ret = put64_at(fx, at + 8, nbm, "%s (subcluster bitmap of L2 entry %" PRIu64
                           " of L1 entry %" PRIu64 ", guest %#" PRIx64 ")", why, j, l1i, g);
        }
    }
    free(e);
    free(bm);
    return ret;
}

static int fix_l1(struct fixer *fx, uint64_t l1_off, uint64_t l1_size, const char *sn)
{
    struct qi *qi = fx->qi;
    uint64_t *l1 = NULL;
    struct err err = { 0 };
    int ret = 0;

    if (l1_size && qi_read_table(qi, l1_off, l1_size, &l1, &err) < 0) {
        return -EIO;
    }
    l1_size = MIN(l1_size, (32ULL << 20) / 8);
    for (uint64_t i = 0; ret == 0 && i < l1_size; i++) {
        uint64_t e = l1[i], off = e & OFF_MASK, ne = e & ~L1E_RESERVED;
        const char *why = ne != e ? "reserved bits of an L1 entry: cleared" : NULL;

        if (!off && e) {
            ne = 0;
            why = "flags on an L1 entry without an L2 table: cleared";
        } else if (off && (off % qi->cluster_size || off >= qi->file_size)) {
            ne = 0;
            why = off % qi->cluster_size ? "an unaligned L2 table: its guest range becomes "
                  "unallocated" : "an L2 table past the end of the file: its guest range "
                  "becomes unallocated";
        }
        if (ne != e) {
            ret = put64_at(fx, l1_off + i * 8, ne, "%s (L1 entry %" PRIu64 ", %s)", why, i,
                           sn ? sn : "active image");
        }
        if (ret == 0 && ne & OFF_MASK) {
            ret = fix_l2(fx, ne & OFF_MASK, i, sn);
        }
    }
    free(l1);
    return ret;
}

static int fix_reftable(struct fixer *fx)
{
    struct qi *qi = fx->qi;
    const uint64_t *t;
    uint64_t n;
    struct err err = { 0 };
    int ret;

    ret = qi_reftable(qi, &t, &n, &err);
    for (uint64_t i = 0; ret == 0 && i < n; i++) {
        uint64_t off = t[i] & ~0x1ffULL;
        if ((t[i] & 0x1ff) || (off && (off % qi->cluster_size || off >= qi->file_size))) {
            ret = put64_at(fx, qi->reftable_offset + i * 8, 0, "a refcount table entry qemu "
                           "cannot use (entry %" PRIu64 "): dropped, the refcounts are rebuilt",
                           i);
        }
    }
    return ret;
}

/* Snapshots whose L1 table is not cluster aligned leave the table. */
static int fix_snapshots(struct fixer *fx)
{
    struct qi *qi = fx->qi;
    struct qi_snapshot *sn;
    struct err err = { 0 };
    size_t n, kept = 0;
    uint8_t *table, *p;
    uint64_t size = 0;
    int ret = 0;
    bool drop = false;

    if (!qi->nb_snapshots || qi_snapshots(qi, &sn, &n, &err) < 0) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        drop |= sn[i].l1_offset % qi->cluster_size != 0;
        size += sn[i].entry_size;
    }
    if (!drop) {
        qi_snapshots_free(sn, n);
        return 0;
    }
    table = xcalloc(1, size + 1);
    p = table;
    for (size_t i = 0; i < n; i++) {
        if (sn[i].l1_offset % qi->cluster_size) {
            struct fix f = { sn[i].table_offset, sn[i].entry_size, NULL };
            if (asprintf(&f.why, "snapshot %s ('%s'): its L1 table at %#" PRIx64 " is not "
                         "cluster aligned; the snapshot is deleted", sn[i].id, sn[i].name,
                         sn[i].l1_offset) < 0) {
                f.why = NULL;
            }
            fx->p->fixes = xrealloc(fx->p->fixes, (fx->p->nfixes + 1) * sizeof(*fx->p->fixes));
            fx->p->fixes[fx->p->nfixes++] = f;
            continue;
        }
        if (pread(fx->fd, p, sn[i].entry_size, (off_t)sn[i].table_offset) !=
            (ssize_t)sn[i].entry_size) {
            ret = -EIO;
        }
        p += sn[i].entry_size;
        kept++;
    }
    if (ret == 0) {
        uint8_t nb[4];
        memset(p, 0, (size_t)(table + size - p));
        put_be32(nb, (uint32_t)kept);
        if (pwrite(fx->fd, table, size, (off_t)qi->snapshots_offset) != (ssize_t)size ||
            pwrite(fx->fd, nb, 4, 60) != 4) {
            ret = -EIO;
        }
    }
    free(table);
    qi_snapshots_free(sn, n);
    return ret;
}

static int own_fixes(const char *copy, struct plan *p, struct err *err)
{
    struct fixer fx = { NULL, -1, p, { 0 } };
    struct qi_snapshot *sn = NULL;
    size_t n = 0;
    int ret;

    ret = qi_open(&fx.qi, copy, true, err);
    if (ret < 0) {
        return ret;
    }
    fx.fd = open(copy, O_RDWR | O_CLOEXEC);
    if (fx.fd < 0) {
        qi_close(fx.qi);
        return err_set_errno(err, errno, "Could not open '%s'", copy);
    }
    if (census_build(fx.qi, &fx.c, err) < 0) {
        close(fx.fd);
        qi_close(fx.qi);
        return -EIO;
    }
    ret = fix_reftable(&fx);
    if (ret == 0) {
        ret = fix_l1(&fx, fx.qi->l1_offset, fx.qi->l1_size, NULL);
    }
    if (ret == 0 && fx.qi->nb_snapshots && qi_snapshots(fx.qi, &sn, &n, err) == 0) {
        for (size_t i = 0; ret == 0 && i < n; i++) {
            if (!(sn[i].l1_offset % fx.qi->cluster_size)) {
                ret = fix_l1(&fx, sn[i].l1_offset, sn[i].l1_size, sn[i].id);
            }
        }
        qi_snapshots_free(sn, n);
    }
    if (ret == 0) {
        ret = fix_snapshots(&fx);
    }
    census_free(&fx.c);
    close(fx.fd);
    qi_close(fx.qi);
    return ret < 0 ? err_set(err, ret, "Could not fix the scratch copy '%s'", copy) : 0;
}

/* ------------------------------------------------------------------------ */
/* the driver's repair, on the copy                                          */

/* (the copy lies elsewhere: a backing file named relative to the image is not opened) */
static int driver_repair(const char *copy, unsigned fix, struct plan *p, struct err *err)
{
    struct image *img;
    struct check_result res = { 0 };
    FILE *cap = tmpfile();
    int saved = -1, ret;
    char *line = NULL;
    size_t cap_len = 0;
    ssize_t len;

    ret = image_open(&img, copy, "qcow2", IMG_RDWR | IMG_CHECK | IMG_FORCE_SHARE | IMG_QUIET |
                     IMG_NO_BACKING, CACHE_WRITEBACK, err);
    if (ret < 0) {
        if (cap) {
            fclose(cap);
        }
        return ret;
    }
    fflush(stderr);
    if (cap && (saved = dup(STDERR_FILENO)) >= 0) {
        dup2(fileno(cap), STDERR_FILENO);
    }
    ret = img->drv->check ? img->drv->check(img, &res, fix, err) : -ENOTSUP;
    image_close(img);
    fflush(stderr);
    if (saved >= 0) {
        dup2(saved, STDERR_FILENO);
        close(saved);
    }
    if (cap) {
        rewind(cap);
        while ((len = getline(&line, &cap_len, cap)) > 0) {
            if (line[len - 1] == '\n') {
                line[len - 1] = '\0';
            }
            if (!strncmp(line, "Repairing", 9) || !strncmp(line, "Rebuilding", 10)) {
                p->msgs = xrealloc(p->msgs, (p->nmsgs + 1) * sizeof(*p->msgs));
                p->msgs[p->nmsgs++] = xstrdup(line);
            }
        }
        free(line);
        fclose(cap);
    }
    return ret;
}

/* ------------------------------------------------------------------------ */
/* the difference                                                            */

static const char *fix_for(const struct plan *p, uint64_t off, uint64_t len)
{
    for (size_t i = 0; i < p->nfixes; i++) {
        if (p->fixes[i].offset < off + len && off < p->fixes[i].offset + p->fixes[i].length) {
            return p->fixes[i].why;
        }
    }
    return NULL;
}

/* Why the driver changed a cluster: its "Repairing cluster N ..." line, or the general reason. */
static char *driver_why(const struct plan *p, uint64_t cluster, const char *structure)
{
    char want[48];

    snprintf(want, sizeof(want), "cluster %" PRIu64 " ", cluster);
    for (size_t i = 0; i < p->nmsgs; i++) {
        if (strstr(p->msgs[i], want)) {
            return xasprintf("qemu-img check's repair: %s", p->msgs[i]);
        }
    }
    return xasprintf("qemu-img check's repair (%s%s)", structure,
                     p->nmsgs ? "; see its messages above" : "");
}

static void add_change(struct plan *p, uint64_t off, const uint8_t *a, const uint8_t *b,
                       uint64_t len)
{
    struct change c = { off, len, xmalloc(len), xmalloc(len), NULL, NULL, NULL };

    memcpy(c.old, a, len);
    memcpy(c.new, b, len);
    p->c = xrealloc(p->c, (p->n + 1) * sizeof(*p->c));
    p->c[p->n++] = c;
}

/* Changed ranges, split at cluster boundaries (one structure each). */
static int diff(const char *image, const char *copy, uint64_t cs, struct plan *p,
                struct err *err)
{
    int a = open(image, O_RDONLY | O_CLOEXEC), b = open(copy, O_RDONLY | O_CLOEXEC);
    uint8_t *ba = xmalloc(cs), *bb = xmalloc(cs);
    uint64_t end = MAX(p->old_len, p->new_len);
    int ret = 0;

    if (a < 0 || b < 0) {
        ret = err_set_errno(err, errno, "Could not read '%s'", a < 0 ? image : copy);
    }
    for (uint64_t off = 0; ret == 0 && off < end; off += cs) {
        ssize_t ra = off < p->old_len ? pread(a, ba, cs, (off_t)off) : 0;
        ssize_t rb = off < p->new_len ? pread(b, bb, cs, (off_t)off) : 0;
        uint64_t i = 0;
        if (ra < 0 || rb < 0) {
            ret = err_set_errno(err, errno, "Could not read '%s'", ra < 0 ? image : copy);
            break;
        }
        memset(ba + ra, 0, cs - (size_t)ra);
        memset(bb + rb, 0, cs - (size_t)rb);
        if (off >= p->new_len) {
            continue;           /* cut off by the new length */
        }
        {
            uint64_t lim = MIN(cs, p->new_len - off);
#define SAME(x) (ba[x] == bb[x] && off + (x) < p->old_len)
            while (i < lim) {
                uint64_t j, last;
                if (SAME(i)) {
                    i++;
                    continue;
                }
                /* a run of changes, with unchanged gaps shorter than 16 bytes inside */
                for (j = last = i; j < lim && j - last < 16; j++) {
                    last = SAME(j) ? last : j;
                }
                add_change(p, off + i, ba + i, bb + i, last + 1 - i);
                i = last + 1;
            }
#undef SAME
        }
    }
    if (a >= 0) {
        close(a);
    }
    if (b >= 0) {
        close(b);
    }
    free(ba);
    free(bb);
    return ret;
}


/* Name each change's structure (from the image's census, else the copy's) and its guest ranges. */
static int describe(const char *image, const char *copy, struct plan *p, bool share,
                    struct err *err)
{
    struct qi *qa = NULL, *qb = NULL;
    struct census ca, cb;
    uint64_t *want;
    json_t **kinds, **guest;
    size_t nwant = 0;
    int ret;

    ret = qi_open(&qa, image, share, err);
    if (ret == 0 && (ret = census_build(qa, &ca, err)) == 0) {
        ret = qi_open(&qb, copy, true, err);
        if (ret == 0 && (ret = census_build(qb, &cb, err)) < 0) {
            census_free(&ca);
        }
    }
    if (ret < 0) {
        qi_close(qa);
        qi_close(qb);
        return ret;
    }
    /* the image's clusters the changes fall in (ascending, as the changes are): one walk */
    want = xcalloc(p->n + 1, sizeof(*want));
    for (size_t i = 0; i < p->n; i++) {
        uint64_t cl = p->c[i].offset >> qa->cluster_bits;
        if (cl < ca.n && (!nwant || want[nwant - 1] != cl)) {
            want[nwant++] = cl;
        }
    }
    kinds = xcalloc(nwant + 1, sizeof(*kinds));
    guest = xcalloc(nwant + 1, sizeof(*guest));
    if (census_refs(qa, want, nwant, kinds, guest, err) < 0) {
        err_report(err);        /* the plan goes without guest ranges */
    }
    for (size_t i = 0, j = 0; i < p->n; i++) {
        struct change *c = &p->c[i];
        uint64_t cl = c->offset >> qa->cluster_bits;
        unsigned ka = cl < ca.n ? ca.kind[cl] : CENSUS_FREE;
        unsigned kb = cl < cb.n ? cb.kind[cl] : CENSUS_FREE;
        const char *own = fix_for(p, c->offset, c->length);

        if (ka >= CENSUS_KIND0 || ka == CENSUS_MIXED) {
            c->structure = xstrdup(census_kind_name(ka));
        } else if (kb >= CENSUS_KIND0) {
            c->structure = xasprintf("new %s", census_kind_name(kb));
        } else {
            c->structure = xasprintf("%s cluster", ka == CENSUS_LEAKED ? "leaked" : "unused");
        }
        c->why = own ? xstrdup(own) : driver_why(p, cl, c->structure);
        while (j < nwant && want[j] < cl) {
            j++;
        }
        c->guest = j < nwant && want[j] == cl && guest[j] ? json_incref(guest[j]) : json_array();
    }
    for (size_t i = 0; i < nwant; i++) {
        json_decref(kinds[i]);
        json_decref(guest[i]);
    }
    free(kinds);
    free(guest);
    free(want);
    census_free(&ca);
    census_free(&cb);
    qi_close(qa);
    qi_close(qb);
    return 0;
}

/* The plan for image: the repaired scratch copy compared with it. */
static int compute(const char *image, unsigned fix, bool share, struct plan *p, struct err *err)
{
    const char *dir = getenv("TMPDIR");
    char *copy = xasprintf("%s/imgsh-repair-XXXXXX", dir && *dir ? dir : "/tmp");
    struct qi *qi = NULL;
    struct stat st;
    int in = -1, out = -1, ret;
    uint64_t cs;

    memset(p, 0, sizeof(*p));
    ret = qi_open(&qi, image, share, err);     /* a qcow2 image, and its locks */
    if (ret < 0) {
        free(copy);
        return ret;
    }
    cs = qi->cluster_size;
    qi_close(qi);
    in = open(image, O_RDONLY | O_CLOEXEC);
    out = mkstemp(copy);
    if (out >= 0) {
        undo_ignore(copy);      /* the scratch copy is no one's to undo */
    }
    if (in < 0 || out < 0 || fstat(in, &st) < 0) {
        ret = err_set_errno(err, errno, "Could not make a scratch copy of '%s' in '%s'", image,
                            dir && *dir ? dir : "/tmp");
        goto out;
    }
    p->old_len = (uint64_t)st.st_size;
    ret = copy_sparse(in, out, p->old_len, err, image);
    close(out);
    out = -1;
    if (ret == 0 && (fix & CHECK_FIX_ERRORS)) {
        ret = own_fixes(copy, p, err);
    }
    if (ret == 0) {
        ret = driver_repair(copy, fix, p, err);
    }
    if (ret == 0 && stat(copy, &st) == 0) {
        p->new_len = (uint64_t)st.st_size;
        ret = diff(image, copy, cs, p, err);
    }
    if (ret == 0) {
        ret = describe(image, copy, p, share, err);
    }
out:
    if (in >= 0) {
        close(in);
    }
    if (out >= 0) {
        close(out);
    }
    unlink(copy);
    free(copy);
    if (ret < 0) {
        plan_free(p);
    }
    return ret;
}

static void hexs(char *out, const uint8_t *b, uint64_t len)
{
    for (uint64_t i = 0; i < len; i++) {
        sprintf(out + 2 * i, "%02x", b[i]);
    }
}

static void print_plan(const char *image, const char *mode, const struct plan *p, bool json,
                       bool applied)
{
    if (json) {
        json_t *o = json_object(), *list = json_array();
        for (size_t i = 0; i < p->n; i++) {
            const struct change *c = &p->c[i];
            uint64_t n = MIN(c->length, 4096u);
            char *h = xmalloc(2 * n + 1);
            json_t *x = json_object();
            json_object_set_new(x, "offset", inspect_u64(c->offset));
            json_object_set_new(x, "length", inspect_u64(c->length));
            json_obj_set_str(x, "structure", c->structure);
            hexs(h, c->old, n);
            json_obj_set_str(x, "old", h);
            hexs(h, c->new, n);
            json_obj_set_str(x, "new", h);
            json_obj_set_str(x, "why", c->why);
            json_object_set_new(x, "guest", json_incref(c->guest));
            json_array_append_new(list, x);
            free(h);
        }
        json_obj_set_str(o, "file", image);
        json_obj_set_str(o, "mode", mode);
        json_obj_set_bool(o, "applied", applied);
        json_object_set_new(o, "old-length", inspect_u64(p->old_len));
        json_object_set_new(o, "new-length", inspect_u64(p->new_len));
        json_object_set_new(o, "changes", list);
        list = json_array();
        for (size_t i = 0; i < p->nmsgs; i++) {
            json_array_append_new(list, json_string_nocheck(p->msgs[i]));
        }
        json_object_set_new(o, "messages", list);
        json_print_pretty(stdout, o);
        json_decref(o);
        return;
    }
    printf("%s: repair %s %s %zu change%s", image, mode, applied ? "made" : "would make", p->n,
           p->n == 1 ? "" : "s");
    if (p->new_len != p->old_len) {
        printf("; the file %s from %" PRIu64 " to %" PRIu64 " bytes",
               p->new_len > p->old_len ? "grows" : "shrinks", p->old_len, p->new_len);
    }
    printf("\n");
    if (p->nmsgs) {
        printf("qemu-img check's repair says:\n");
        for (size_t i = 0; i < p->nmsgs; i++) {
            printf("  %s\n", p->msgs[i]);
        }
    }
    for (size_t i = 0; i < p->n; i++) {
        const struct change *c = &p->c[i];
        uint64_t n = MIN(c->length, (uint64_t)SHOW_BYTES);
        char o[2 * SHOW_BYTES + 1], w[2 * SHOW_BYTES + 1];
        hexs(o, c->old, n);
        hexs(w, c->new, n);
        printf("%3zu. %#" PRIx64 "+%#" PRIx64 " in %s\n       %s%s -> %s%s\n       why: %s\n",
               i + 1, c->offset, c->length, c->structure, o, c->length > n ? "..." : "", w,
               c->length > n ? "..." : "", c->why);
        for (size_t g = 0; g < json_array_size(c->guest); g++) {
            const json_t *x = json_array_get(c->guest, g);
            const json_t *sn = json_object_get(x, "snapshot");
            printf("       guest %#" PRIx64 "+%#" PRIx64 " (%s%s)\n",
                   (uint64_t)json_integer_value(json_object_get(x, "offset")),
                   (uint64_t)json_integer_value(json_object_get(x, "length")),
                   json_is_string(sn) ? "snapshot " : "active image",
                   json_is_string(sn) ? json_string_value(sn) : "");
        }
    }
}

/* Write the plan into the image (journaled by the shell's undo, through the file layer). */
static int apply(const char *image, const struct plan *p, struct err *err)
{
    struct file *f = NULL;
    int ret;

    if (image_open_guard && (ret = image_open_guard(image, err)) < 0) {
        return ret;
    }
    ret = file_open(&f, image, FILE_RDWR, CACHE_WRITEBACK, err);
    if (ret == 0) {
        ret = file_lock(f, PERM_CONSISTENT_READ | PERM_WRITE | PERM_RESIZE,
                        PERM_WRITE | PERM_RESIZE, err);
    }
    if (ret == 0 && p->new_len != p->old_len) {
        ret = file_truncate(f, p->new_len, PREALLOC_OFF, err);
    }
    for (size_t i = 0; ret == 0 && i < p->n; i++) {
        ret = file_pwrite(f, p->c[i].offset, p->c[i].new, p->c[i].length, err);
    }
    if (ret == 0) {
        ret = file_flush(f, err);
    }
    if (f) {
        file_close(f);
    }
    return ret;
}

int cmd_repair(struct cmd_ctx *ctx, int argc, char **argv, bool do_apply)
{
    struct inspect_args a;
    struct err err = { 0 };
    struct plan p;
    const char *mode = "all";
    int ret, n = argc;

    /* a last word "leaks" or "all" is the mode, not a file */
    if (argc > 1 && (!strcmp(argv[argc - 1], "leaks") || !strcmp(argv[argc - 1], "all"))) {
        mode = argv[argc - 1];
        n--;
    }
    if (inspect_parse(ctx, n, argv, 0, 0, &a, &ret) < 0) {
        return ret;
    }
    if (do_apply && image_open_guard && image_open_guard(a.file, &err) < 0) {
        err_report(&err);
        return 1;
    }
    ret = compute(a.file, !strcmp(mode, "all") ? CHECK_FIX_LEAKS | CHECK_FIX_ERRORS
                                                : CHECK_FIX_LEAKS, a.force_share, &p, &err);
    if (ret < 0) {
        err_report(&err);
        return 1;
    }
    if (do_apply && p.n + (p.new_len != p.old_len) > 0 && apply(a.file, &p, &err) < 0) {
        err_report(&err);
        plan_free(&p);
        return 1;
    }
    print_plan(a.file, mode, &p, a.json, do_apply);
    if (do_apply && !a.json) {
        printf("Done; 'qemu-img check' should now pass%s.\n",
               ctx->default_image ? ", and 'undo' restores the old bytes" : "");
    }
    plan_free(&p);
    return 0;
}

int cmd_repair_plan(struct cmd_ctx *ctx, int argc, char **argv)
{
    return cmd_repair(ctx, argc, argv, false);
}

int cmd_repair_apply(struct cmd_ctx *ctx, int argc, char **argv)
{
    return cmd_repair(ctx, argc, argv, true);
}
