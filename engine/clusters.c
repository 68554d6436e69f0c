/*
 * clusters.c - a census of a qcow2 file's host clusters (what references
 * each one, and its stored refcount) and the commands built on it:
 * "clusters" (a map by kind with a summary), "leaks" (clusters with a
 * refcount that nothing references, with a preview) and "carve" (leaked
 * clusters holding data saved as files).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "inspect.h"
#include "json.h"
#include "size.h"
#include "util.h"

#define MAX_CENSUS_CLUSTERS (256ULL << 20)
#define REFT_MASK 0xfffffffffffffe00ULL
#define PREVIEW_BYTES 32

const char *census_kind_name(unsigned k)
{
    switch (k) {
    case CENSUS_FREE:
        return "free";
    case CENSUS_LEAKED:
        return "leaked";
    case CENSUS_MIXED:
        return "overlap";
    default:
        return qi_kind_name((enum qi_kind)(k - CENSUS_KIND0));
    }
}

static int census_ref(const struct qi_ref *r, void *opaque)
{
    struct census *c = opaque;
    uint64_t first, last;

    if (!r->length) {
        return 0;
    }
    first = r->offset >> c->cluster_bits;
    last = (r->offset + r->length - 1) >> c->cluster_bits;
    if (r->offset + r->length < r->offset) {
        last = UINT64_MAX >> c->cluster_bits;   /* a length that wraps: to the end */
    }
    for (uint64_t i = first; i <= last; i++) {
        unsigned k = CENSUS_KIND0 + r->kind;
        if (i >= c->n) {
            c->refs_past_end++;
            break;
        }
        if (c->nref[i] < UINT8_MAX) {
            c->nref[i]++;
        }
        c->kind[i] = c->kind[i] == CENSUS_FREE || c->kind[i] == k ? k : CENSUS_MIXED;
    }
    return 0;
}

/* Stored refcounts: every allocated refcount block, clusters past the file included. */
static int census_refcounts(struct qi *qi, struct census *c, struct err *err)
{
    const uint64_t *t;
    uint64_t nt, per = qi_refblock_entries(qi);

    if (qi_reftable(qi, &t, &nt, err) < 0) {
        return -EIO;
    }
    for (uint64_t i = 0; i < nt; i++) {
        if (!(t[i] & REFT_MASK)) {
            continue;
        }
        for (uint64_t j = 0; j < per; j++) {
            uint64_t cl = i * per + j, rc;
            if (qi_refcount(qi, cl, &rc, err) < 0) {
                return -EIO;
            }
            if (cl < c->n) {
                c->refcount[cl] = rc;
            } else if (rc) {
                c->past_end = xrealloc(c->past_end, (c->npast_end + 1) * sizeof(*c->past_end));
                c->past_end[c->npast_end].cluster = cl;
                c->past_end[c->npast_end++].refcount = rc;
            }
        }
    }
    return 0;
}

int census_build(struct qi *qi, struct census *c, struct err *err)
{
    memset(c, 0, sizeof(*c));
    c->cluster_bits = qi->cluster_bits;
    c->n = (qi->file_size + qi->cluster_size - 1) >> qi->cluster_bits;
    if (c->n > MAX_CENSUS_CLUSTERS) {
        return err_set(err, -EFBIG, "'%s' has %" PRIu64 " clusters: more than the %llu a map "
                       "can hold", qi->filename, c->n, MAX_CENSUS_CLUSTERS);
    }
    c->kind = xcalloc(c->n + 1, 1);
    c->nref = xcalloc(c->n + 1, 1);
    c->refcount = xcalloc(c->n + 1, sizeof(*c->refcount));
    if (qi_walk(qi, census_ref, c, err) < 0 || census_refcounts(qi, c, err) < 0) {
        census_free(c);
        return -EIO;
    }
    for (uint64_t i = 0; i < c->n; i++) {
        if (c->kind[i] == CENSUS_FREE && c->refcount[i]) {
            c->kind[i] = CENSUS_LEAKED;
        }
    }
    return 0;
}

void census_free(struct census *c)
{
    free(c->kind);
    free(c->nref);
    free(c->refcount);
    free(c->past_end);
    memset(c, 0, sizeof(*c));
}

struct refs_walk {
    const uint64_t *clusters;   /* ascending */
    size_t n;
    unsigned bits;
    uint64_t span;
    json_t **kinds, **guest;
};

/* The first index of w->clusters at or after cluster. */
static size_t lower_bound(const struct refs_walk *w, uint64_t cluster)
{
    size_t lo = 0, hi = w->n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (w->clusters[mid] < cluster) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

static int refs_cb(const struct qi_ref *r, void *opaque)
{
    struct refs_walk *w = opaque;
    uint64_t first, last;

    if (!r->length) {
        return 0;
    }
    first = r->offset >> w->bits;
    last = r->offset + r->length < r->offset ? UINT64_MAX >> w->bits
                                             : (r->offset + r->length - 1) >> w->bits;
    for (size_t i = lower_bound(w, first); i < w->n && w->clusters[i] <= last; i++) {
        json_t *g = NULL;

        json_array_append_new(w->kinds[i], json_string(qi_kind_name(r->kind)));
        if (r->kind == QI_KIND_DATA) {
            g = inspect_guest_range(r->guest_offset, 1ULL << w->bits, 0, r->snapshot);
        } else if (r->kind == QI_KIND_L2) {
            g = inspect_guest_range((uint64_t)r->l1_index * w->span, w->span, 0, r->snapshot);
        }
        if (g) {
            json_array_extend(w->guest[i], g);
            json_decref(g);
        }
    }
    return 0;
}

int census_refs(struct qi *qi, const uint64_t *clusters, size_t n, json_t **kinds,
                json_t **guest, struct err *err)
{
    struct refs_walk w = { clusters, n, qi->cluster_bits, qi_l1_span(qi), kinds, guest };

    for (size_t i = 0; i < n; i++) {
        kinds[i] = json_array();
        guest[i] = json_array();
    }
    if (n && qi_walk(qi, refs_cb, &w, err) < 0) {
        for (size_t i = 0; i < n; i++) {
            json_decref(kinds[i]);
            json_decref(guest[i]);
            kinds[i] = guest[i] = NULL;
        }
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* clusters                                                                  */

int cmd_clusters(struct cmd_ctx *ctx, int argc, char **argv)
{
    struct inspect_args a;
    struct err err = { 0 };
    struct census c;
    uint64_t count[CENSUS_NKINDS] = { 0 };
    json_t *runs = json_array();
    struct qi *qi;
    int ret;

    if (inspect_parse(ctx, argc, argv, IO_ALL, 0, &a, &ret) < 0) {
        json_decref(runs);
        return ret;
    }
    if (!(qi = inspect_open(&a))) {
        json_decref(runs);
        return 1;
    }
    if (census_build(qi, &c, &err) < 0) {
        err_report(&err);
        json_decref(runs);
        qi_close(qi);
        return 1;
    }
    if (!a.json) {
        printf("%s: %" PRIu64 " clusters of %" PRIu64 " bytes\n", a.file, c.n, qi->cluster_size);
        printf("%-21s %-29s %-16s %s\n", "Clusters", "Host offsets", "Kind", "Refcount");
    }
    for (uint64_t i = 0, j; i < c.n; i = j) {
        for (j = i + 1; !a.all && j < c.n && c.kind[j] == c.kind[i] &&
                        c.refcount[j] == c.refcount[i]; j++) {
        }
        count[c.kind[i]] += j - i;
        if (a.json) {
            json_t *o = json_object();
            json_object_set_new(o, "first", inspect_u64(i));
            json_object_set_new(o, "last", inspect_u64(j - 1));
            json_object_set_new(o, "host-offset", inspect_u64(i << c.cluster_bits));
            json_obj_set_str(o, "kind", census_kind_name(c.kind[i]));
            json_object_set_new(o, "refcount", inspect_u64(c.refcount[i]));
            json_array_append_new(runs, o);
        } else {
            char range[24], offs[40];
            snprintf(range, sizeof(range), j - i > 1 ? "%" PRIu64 "-%" PRIu64 : "%" PRIu64, i,
                     j - 1);
            snprintf(offs, sizeof(offs), "%#" PRIx64 "-%#" PRIx64, i << c.cluster_bits,
                     (j << c.cluster_bits) - 1);
            printf("%-21s %-29s %-16s %" PRIu64 "\n", range, offs, census_kind_name(c.kind[i]),
                   c.refcount[i]);
        }
    }
    if (a.json) {
        json_t *o = json_object(), *sum = json_object();
        for (unsigned k = 0; k < CENSUS_NKINDS; k++) {
            if (count[k]) {
                json_object_set_new(sum, census_kind_name(k), inspect_u64(count[k]));
            }
        }
        json_object_set_new(o, "cluster-size", inspect_u64(qi->cluster_size));
        json_object_set_new(o, "file-clusters", inspect_u64(c.n));
        json_object_set_new(o, "clusters", runs);
        json_object_set_new(o, "summary", sum);
        json_object_set_new(o, "references-past-end", inspect_u64(c.refs_past_end));
        json_object_set_new(o, "refcounts-past-end", inspect_u64(c.npast_end));
        inspect_print_json(o);
    } else {
        json_decref(runs);
        printf("Summary:\n");
        for (unsigned k = 0; k < CENSUS_NKINDS; k++) {
            if (count[k]) {
                printf("  %-16s %" PRIu64 "\n", census_kind_name(k), count[k]);
            }
        }
        if (c.refs_past_end) {
            printf("  %" PRIu64 " references point past the end of the file\n", c.refs_past_end);
        }
        if (c.npast_end) {
            printf("  %" PRIu64 " clusters past the end of the file have a refcount\n",
                   c.npast_end);
        }
    }
    census_free(&c);
    qi_close(qi);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* leaks and carve                                                           */

/* Read a leaked cluster (zeros past the end of the file); is it all zeros? */
static int read_cluster(struct qi *qi, uint64_t cl, uint8_t *buf, bool *zero, struct err *err)
{
    if (qi_pread(qi, cl << qi->cluster_bits, buf, qi->cluster_size, err) < 0) {
        return -EIO;
    }
    *zero = buf_is_zero(buf, qi->cluster_size);
    return 0;
}

/* The leaked clusters: in the file with no reference, then those past its end. */
static uint64_t *leaked_list(const struct census *c, uint64_t *n)
{
    uint64_t *l = xcalloc(1, sizeof(*l));

    *n = 0;
    for (uint64_t i = 0; i < c->n; i++) {
        if (c->kind[i] == CENSUS_LEAKED) {
            l = xrealloc(l, (*n + 1) * sizeof(*l));
            l[(*n)++] = i;
        }
    }
    for (uint64_t i = 0; i < c->npast_end; i++) {
        l = xrealloc(l, (*n + 1) * sizeof(*l));
        l[(*n)++] = c->past_end[i].cluster;
    }
    return l;
}

static uint64_t census_refcount(const struct census *c, uint64_t cl)
{
    if (cl < c->n) {
        return c->refcount[cl];
    }
    for (uint64_t i = 0; i < c->npast_end; i++) {
        if (c->past_end[i].cluster == cl) {
            return c->past_end[i].refcount;
        }
    }
    return 0;
}

/* Open the image and take its census; prints the error. */
static struct qi *open_census(const struct inspect_args *a, struct census *c)
{
    struct err err = { 0 };
    struct qi *qi = inspect_open(a);

    if (qi && census_build(qi, c, &err) < 0) {
        err_report(&err);
        qi_close(qi);
        return NULL;
    }
    return qi;
}

int cmd_leaks(struct cmd_ctx *ctx, int argc, char **argv)
{
    struct inspect_args a;
    struct err err = { 0 };
    struct census c;
    uint64_t *l, n;
    uint8_t *buf;
    json_t *list = json_array();
    struct qi *qi;
    int ret;

    if (inspect_parse(ctx, argc, argv, 0, 0, &a, &ret) < 0) {
        json_decref(list);
        return ret;
    }
    if (!(qi = open_census(&a, &c))) {
        json_decref(list);
        return 1;
    }
    l = leaked_list(&c, &n);
    buf = xmalloc(qi->cluster_size);
    ret = 0;
    if (!a.json) {
        printf("%s: %" PRIu64 " leaked cluster%s (a refcount, but nothing references it)\n",
               a.file, n, n == 1 ? "" : "s");
        if (n) {
            printf("%-12s %-16s %-9s %s\n", "Cluster", "Host offset", "Refcount", "Content");
        }
    }
    for (uint64_t i = 0; i < n && !ret; i++) {
        uint64_t cl = l[i], rc = census_refcount(&c, cl);
        char hex[2 * PREVIEW_BYTES + 1], ascii[PREVIEW_BYTES + 1];
        bool zero;

        if (read_cluster(qi, cl, buf, &zero, &err) < 0) {
            err_report(&err);
            ret = 1;
            break;
        }
        for (unsigned k = 0; k < PREVIEW_BYTES; k++) {
            sprintf(hex + 2 * k, "%02x", buf[k]);
            ascii[k] = buf[k] >= 0x20 && buf[k] < 0x7f ? (char)buf[k] : '.';
        }
        ascii[PREVIEW_BYTES] = '\0';
        if (a.json) {
            json_t *o = json_object();
            json_object_set_new(o, "cluster", inspect_u64(cl));
            json_object_set_new(o, "host-offset", inspect_u64(cl << qi->cluster_bits));
            json_object_set_new(o, "refcount", inspect_u64(rc));
            json_obj_set_bool(o, "zero", zero);
            json_obj_set_bool(o, "past-end", cl >= c.n);
            json_obj_set_str(o, "preview", hex);
            json_array_append_new(list, o);
        } else {
            printf("%-12" PRIu64 " %#-16" PRIx64 " %-9" PRIu64 " %s\n", cl,
                   cl << qi->cluster_bits, rc,
                   cl >= c.n ? "(past the end of the file)" : zero ? "(all zeros)" : ascii);
        }
    }
    if (a.json && !ret) {
        inspect_print_json(list);
        list = NULL;
    }
    json_decref(list);
    free(buf);
    free(l);
    census_free(&c);
    qi_close(qi);
    return ret;
}

/* Save one cluster as DIR/leak-0x<offset>.bin (never over an existing file). */
static int save_cluster(const char *dir, uint64_t off, const uint8_t *buf, uint64_t len,
                        char **path, struct err *err)
{
    int fd;
    ssize_t w;

    *path = xasprintf("%s/leak-0x%016" PRIx64 ".bin", dir, off);
    fd = open(*path, O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd < 0) {
        return err_set_errno(err, errno, "Could not create '%s'", *path);
    }
    w = write(fd, buf, len);
    if (w != (ssize_t)len || close(fd) < 0) {
        int e = w < 0 ? errno : EIO;
        if (w != (ssize_t)len) {
            close(fd);
        }
        return err_set_errno(err, e, "Could not write '%s'", *path);
    }
    return 0;
}

int cmd_carve(struct cmd_ctx *ctx, int argc, char **argv)
{
    struct inspect_args a;
    struct err err = { 0 };
    struct census c;
    uint64_t *l, n, saved = 0;
    uint8_t *buf;
    json_t *list = json_array();
    struct qi *qi;
    struct stat st;
    int ret;

    if (inspect_parse(ctx, argc, argv, 0, 1, &a, &ret) < 0) {
        json_decref(list);
        return ret;
    }
    if (!(qi = open_census(&a, &c))) {
        json_decref(list);
        return 1;
    }
    if (mkdir(a.args[0], 0755) < 0 && (errno != EEXIST || stat(a.args[0], &st) < 0 ||
                                        !S_ISDIR(st.st_mode))) {
        error_printf("Could not create the directory '%s': %s", a.args[0],
                     strerror(errno == EEXIST ? ENOTDIR : errno));
        json_decref(list);
        census_free(&c);
        qi_close(qi);
        return 1;
    }
    l = leaked_list(&c, &n);
    buf = xmalloc(qi->cluster_size);
    ret = 0;
    for (uint64_t i = 0; i < n && !ret; i++) {
        uint64_t cl = l[i];
        char *path = NULL;
        bool zero;

        if (cl >= c.n) {
            continue;           /* past the end of the file: nothing to save */
        }
        if (read_cluster(qi, cl, buf, &zero, &err) < 0 ||
            (!zero && save_cluster(a.args[0], cl << qi->cluster_bits, buf, qi->cluster_size,
                                   &path, &err) < 0)) {
            err_report(&err);
            ret = 1;
        } else if (!zero) {
            saved++;
            if (a.json) {
                json_t *o = json_object();
                json_object_set_new(o, "cluster", inspect_u64(cl));
                json_object_set_new(o, "host-offset", inspect_u64(cl << qi->cluster_bits));
                json_obj_set_str(o, "file", path);
                json_array_append_new(list, o);
            } else {
                printf("cluster %" PRIu64 " (host offset %#" PRIx64 ") -> %s\n", cl,
                       cl << qi->cluster_bits, path);
            }
        }
        free(path);
    }
    if (!ret && a.json) {
        inspect_print_json(list);
        list = NULL;
    } else if (!ret) {
        printf("Saved %" PRIu64 " of %" PRIu64 " leaked clusters (the others hold only zeros "
               "or lie past the end of the file)\n", saved, n);
    }
    json_decref(list);
    free(buf);
    free(l);
    census_free(&c);
    qi_close(qi);
    return ret;
}
