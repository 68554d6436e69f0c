/*
 * owner.c - "owner HOST_OFFSET": everything in a qcow2 image's metadata
 * that references the host cluster holding that byte, found by walking
 * every structure (formats/qcow2/inspect.c's qi_walk).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "err.h"
#include "inspect.h"
#include "json.h"

struct owner_walk {
    uint64_t start, end;        /* the cluster's bytes */
    json_t *list;
};

static json_t *ref_json(const struct qi_ref *r)
{
    json_t *o = json_object();

    json_obj_set_str(o, "kind", qi_kind_name(r->kind));
    switch (r->kind) {
    case QI_KIND_L1:
    case QI_KIND_L2:
    case QI_KIND_DATA:
        json_object_set_new(o, "snapshot", r->snapshot ? json_string_nocheck(r->snapshot)
                                                       : json_null());
        if (r->kind != QI_KIND_L1) {
            json_obj_set_int(o, "l1-index", r->l1_index);
        }
        if (r->kind == QI_KIND_DATA) {
            json_obj_set_int(o, "l2-index", r->l2_index);
            json_object_set_new(o, "guest-offset", inspect_u64(r->guest_offset));
            json_obj_set_int(o, "depth", 0);
            json_obj_set_str(o, "type", qi_l2_type_name(r->type));
        }
        break;
    case QI_KIND_REFBLOCK:
        json_obj_set_int(o, "index", r->index);
        break;
    case QI_KIND_BITMAP_TABLE:
    case QI_KIND_BITMAP_DATA:
        json_obj_set_str(o, "bitmap", r->bitmap);
        if (r->kind == QI_KIND_BITMAP_DATA) {
            json_obj_set_int(o, "index", r->index);
        }
        break;
    default:
        break;
    }
    return o;
}

static int owner_cb(const struct qi_ref *r, void *opaque)
{
    struct owner_walk *w = opaque;

    if (r->length && r->offset < w->end && r->offset + r->length > w->start) {
        json_array_append_new(w->list, ref_json(r));
    }
    return 0;
}

/* One line for people: "L2 table of L1 entry 3 (snapshot 1)". */
static void print_ref(const json_t *o)
{
    const char *kind = json_string_value(json_object_get(o, "kind"));
    const json_t *sn = json_object_get(o, "snapshot");
    char where[64] = "";

    if (sn && json_is_string(sn)) {
        snprintf(where, sizeof(where), " of snapshot %s", json_string_value(sn));
    } else if (sn) {
        snprintf(where, sizeof(where), " of the active image");
    }
    if (!strcmp(kind, "data")) {
        printf("  guest data at %#" PRIx64 " (%s; L1 %" PRId64 ", L2 %" PRId64 ")%s\n",
               (uint64_t)json_integer_value(json_object_get(o, "guest-offset")),
               json_string_value(json_object_get(o, "type")),
               (int64_t)json_integer_value(json_object_get(o, "l1-index")),
               (int64_t)json_integer_value(json_object_get(o, "l2-index")), where);
    } else if (!strcmp(kind, "l2")) {
        printf("  L2 table of L1 entry %" PRId64 "%s\n",
               (int64_t)json_integer_value(json_object_get(o, "l1-index")), where);
    } else if (!strcmp(kind, "l1")) {
        printf("  L1 table%s\n", where);
    } else if (!strcmp(kind, "refcount-block")) {
        printf("  refcount block %" PRId64 "\n",
               (int64_t)json_integer_value(json_object_get(o, "index")));
    } else if (!strcmp(kind, "bitmap-table")) {
        printf("  table of bitmap '%s'\n", json_string_value(json_object_get(o, "bitmap")));
    } else if (!strcmp(kind, "bitmap-data")) {
        printf("  data of bitmap '%s' (table entry %" PRId64 ")\n",
               json_string_value(json_object_get(o, "bitmap")),
               (int64_t)json_integer_value(json_object_get(o, "index")));
    } else {
        printf("  %s\n", kind);
    }
}

int cmd_owner(struct cmd_ctx *ctx, int argc, char **argv)
{
    struct inspect_args a;
    struct err err = { 0 };
    struct owner_walk w;
    uint64_t off;
    struct qi *qi;
    int ret;

    if (inspect_parse(ctx, argc, argv, 0, 1, &a, &ret) < 0) {
        return ret;
    }
    if (inspect_number("host offset", a.args[0], &off) < 0) {
        return 1;
    }
    if (!(qi = inspect_open(&a))) {
        return 1;
    }
    w.start = off & ~(qi->cluster_size - 1);
    w.end = w.start + qi->cluster_size;
    w.list = json_array();
    if (qi_walk(qi, owner_cb, &w, &err) < 0) {
        err_report(&err);
        json_decref(w.list);
        qi_close(qi);
        return 1;
    }
    if (a.json) {
        inspect_print_json(w.list);
    } else {
        size_t n = json_array_size(w.list);
        printf("Host cluster %" PRIu64 " (%#" PRIx64 "-%#" PRIx64 ")%s%s\n",
               w.start >> qi->cluster_bits, w.start, w.end - 1,
               n ? " is referenced by:" : ": nothing references it",
               !n && w.start >= qi->file_size ? " (it lies past the end of the file)" : "");
        for (size_t i = 0; i < n; i++) {
            print_ref(json_array_get(w.list, i));
        }
        json_decref(w.list);
    }
    qi_close(qi);
    return 0;
}
