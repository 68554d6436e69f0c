/*
 * translate.c - "translate GUEST_OFFSET": where a guest byte comes from,
 * layer by layer through the backing chain, read from the files as they
 * lie on disk (docs/inspection.md gives the JSON).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "info.h"
#include "inspect.h"
#include "json.h"
#include "util.h"

#define MAX_CHAIN 64

/* One layer's answer. */
struct step {
    char *file;
    const char *format;
    enum qi_l2_type type;
    bool beyond_end;
    bool has_host;
    uint64_t host;
    bool qcow2;
    uint64_t l1_index, l2_index, l2_offset, raw, csize;
    bool has_table, has_subcluster;
    unsigned subcluster;
};

static const char *step_type(const struct step *s)
{
    return s->beyond_end ? "beyond-end" : qi_l2_type_name(s->type);
}

/* The answer of a qcow2 layer for guest offset g. */
static int qcow2_step(struct qi *qi, uint64_t g, struct step *st, struct err *err)
{
    uint64_t *l1 = NULL, e[1], bm[1], in_cluster = g & (qi->cluster_size - 1);
    uint8_t raw[16];
    struct qi_l2e d;

    st->qcow2 = true;
    st->l1_index = g / qi_l1_span(qi);
    st->l2_index = (g / qi->cluster_size) % qi->l2_entries;
    st->has_subcluster = qi->extended_l2;
    st->subcluster = (unsigned)(in_cluster / (qi->cluster_size / 32));
    if (g >= qi->size) {
        st->beyond_end = true;
        return 0;
    }
    if (st->l1_index < qi->l1_size) {
        if (qi_read_table(qi, qi->l1_offset + st->l1_index * 8, 1, &l1, err) < 0) {
            return -EIO;
        }
        st->l2_offset = l1[0] & QI_OFFSET_MASK;
        free(l1);
    }
    if (!st->l2_offset) {
        st->type = QI_UNALLOCATED;
        return 0;
    }
    st->has_table = true;
    if (qi_pread(qi, st->l2_offset + st->l2_index * qi->l2_entry_size, raw, qi->l2_entry_size,
                 err) < 0) {
        return -EIO;
    }
    e[0] = be64(raw);
    bm[0] = qi->extended_l2 ? be64(raw + 8) : 0;
    st->raw = e[0];
    d = qi_l2_decode(qi, e[0], bm[0]);
    st->type = d.type;
    if (qi->extended_l2 && d.type != QI_COMPRESSED) {
        unsigned sc = st->subcluster;
        uint64_t off = e[0] & QI_OFFSET_MASK;
        if ((bm[0] >> sc) & 1) {
            st->type = QI_NORMAL;
        } else if ((bm[0] >> (32 + sc)) & 1) {
            st->type = off ? QI_ZERO_ALLOC : QI_ZERO;
        } else {
            st->type = QI_UNALLOCATED;
        }
        d.host = off;
    }
    if (st->type == QI_NORMAL) {
        st->has_host = true;
        st->host = d.host + in_cluster;
    } else if (st->type == QI_COMPRESSED) {
        st->has_host = true;
        st->host = d.host;
        st->csize = d.csize;
    }
    return 0;
}

static json_t *step_json(const struct step *s, unsigned depth)
{
    json_t *o = json_object();

    json_obj_set_int(o, "depth", depth);
    json_obj_set_str(o, "file", s->file);
    json_obj_set_str(o, "format", s->format);
    json_obj_set_str(o, "type", step_type(s));
    json_object_set_new(o, "host-offset", s->has_host ? inspect_u64(s->host) : json_null());
    if (s->qcow2) {
        json_object_set_new(o, "l1-index", inspect_u64(s->l1_index));
        json_object_set_new(o, "l2-index", inspect_u64(s->l2_index));
        json_object_set_new(o, "l2-offset", s->has_table ? inspect_u64(s->l2_offset) : json_null());
        json_object_set_new(o, "raw", s->has_table ? inspect_hex64(s->raw) : json_null());
        if (s->type == QI_COMPRESSED && !s->beyond_end) {
            json_object_set_new(o, "compressed-size", inspect_u64(s->csize));
        }
        if (s->has_subcluster) {
            json_obj_set_int(o, "subcluster", s->subcluster);
        }
    }
    return o;
}

/* Open the layer file as fmt (NULL: probe) and answer for g. */
static int layer_step(const char *file, const char *fmt, bool share, uint64_t g, struct step *st,
                      char **backing, char **backing_fmt, struct err *err)
{
    struct qi *qi;
    struct file *f;
    uint8_t magic[4] = { 0 };
    int64_t len;
    int ret;

    st->file = xstrdup(file);
    if (!fmt) {
        ret = file_open(&f, file, 0, CACHE_WRITEBACK, err);
        if (ret < 0) {
            return ret;
        }
        len = file_length(f, err);
        ret = len < 0 ? (int)len : len >= 4 ? file_pread(f, 0, magic, 4, err) : 0;
        file_close(f);
        if (ret < 0) {
            return ret;
        }
        fmt = be32(magic) == 0x514649fbu ? "qcow2" : "raw";
    }
    if (!strcmp(fmt, "qcow2")) {
        st->format = "qcow2";
        ret = qi_open(&qi, file, share, err);
        if (ret < 0) {
            return ret;
        }
        ret = qcow2_step(qi, g, st, err);
        if (qi->backing_file) {
            *backing = backing_full_path(file, qi->backing_file);
            *backing_fmt = qi->backing_fmt ? xstrdup(qi->backing_fmt) : NULL;
        }
        qi_close(qi);
        return ret;
    }
    if (strcmp(fmt, "raw")) {
        return err_set(err, -ENOTSUP, "'%s': translate reads qcow2 and raw layers, not '%s'",
                       file, fmt);
    }
    st->format = "raw";
    ret = file_open(&f, file, 0, CACHE_WRITEBACK, err);
    if (ret < 0) {
        return ret;
    }
    len = file_length(f, err);
    file_close(f);
    if (len < 0) {
        return (int)len;
    }
    if (g >= (uint64_t)len) {
        st->beyond_end = true;
    } else {
        st->type = QI_NORMAL;
        st->has_host = true;
        st->host = g;
    }
    return 0;
}

int cmd_translate(struct cmd_ctx *ctx, int argc, char **argv)
{
    struct inspect_args a;
    struct step steps[MAX_CHAIN] = { 0 };
    struct err err = { 0 };
    char *file, *fmt = NULL;
    uint64_t g;
    unsigned n = 0, last;
    int ret;
    struct qi *top;

    if (inspect_parse(ctx, argc, argv, 0, 1, &a, &ret) < 0) {
        return ret;
    }
    if (inspect_number("guest offset", a.args[0], &g) < 0) {
        return 1;
    }
    if (!(top = inspect_open(&a))) {    /* the image itself must be qcow2 */
        return 1;
    }
    qi_close(top);
    file = xstrdup(a.file);
    fmt = xstrdup("qcow2");
    ret = 0;
    while (file) {
        char *backing = NULL, *backing_fmt = NULL;

        if (n == MAX_CHAIN) {
            ret = err_set(&err, -ELOOP, "'%s': the backing chain is longer than %d files "
                          "(a loop?)", a.file, MAX_CHAIN);
            break;
        }
        ret = layer_step(file, fmt, a.force_share, g, &steps[n], &backing, &backing_fmt, &err);
        free(file);
        free(fmt);
        file = NULL;
        fmt = NULL;
        if (ret < 0) {
            free(backing);
            free(backing_fmt);
            n++;
            break;
        }
        n++;
        if (steps[n - 1].beyond_end || steps[n - 1].type != QI_UNALLOCATED) {
            free(backing);
            free(backing_fmt);
            break;
        }
        file = backing;
        fmt = backing_fmt;
    }
    free(file);
    free(fmt);
    if (ret < 0) {
        err_report(&err);
        ret = 1;
        goto out;
    }
    last = n - 1;
    if (a.json) {
        json_t *o = json_object(), *path = json_array();
        const struct step *s = &steps[last];
        json_object_set_new(o, "guest-offset", inspect_u64(g));
        json_obj_set_int(o, "depth", last);
        json_obj_set_str(o, "file", s->file);
        json_obj_set_str(o, "type", s->beyond_end ? "zero" : qi_l2_type_name(s->type));
        json_object_set_new(o, "host-offset", s->has_host ? inspect_u64(s->host) : json_null());
        for (unsigned i = 0; i < n; i++) {
            json_array_append_new(path, step_json(&steps[i], i));
        }
        json_object_set_new(o, "path", path);
        inspect_print_json(o);
    } else {
        printf("Guest offset %#" PRIx64 ":\n", g);
        for (unsigned i = 0; i < n; i++) {
            const struct step *s = &steps[i];
            printf("  depth %u  %s (%s)", i, s->file, s->format);
            if (s->qcow2 && !s->beyond_end) {
                printf("  L1[%" PRIu64 "]", s->l1_index);
                if (s->has_table) {
                    printf(" -> L2 at %#" PRIx64 " [%" PRIu64 "] = 0x%016" PRIx64, s->l2_offset,
                           s->l2_index, s->raw);
                } else {
                    printf(" = no L2 table");
                }
                if (s->has_subcluster && s->type != QI_COMPRESSED) {
                    printf(" subcluster %u", s->subcluster);
                }
            }
            printf("\n           %s", step_type(s));
            if (s->has_host) {
                printf(" at host offset %#" PRIx64, s->host);
            }
            if (s->type == QI_COMPRESSED && !s->beyond_end) {
                printf(" (%" PRIu64 " bytes of compressed data)", s->csize);
            }
            printf("\n");
        }
        {
            const struct step *s = &steps[last];
            if (s->beyond_end) {
                printf("Reads as zeros: past the end of %s\n", s->file);
            } else if (s->type == QI_UNALLOCATED) {
                printf("Reads as zeros: no layer has data there\n");
            } else if (s->type == QI_ZERO || s->type == QI_ZERO_ALLOC) {
                printf("Reads as zeros: a zero cluster in %s (depth %u)\n", s->file, last);
            } else {
                printf("Data in %s (depth %u)\n", s->file, last);
            }
        }
    }
out:
    for (unsigned i = 0; i < n; i++) {
        free(steps[i].file);
    }
    return ret;
}
