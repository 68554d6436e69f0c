/*
 * info.c - "info": what an image is, in qemu-img's human and JSON layouts.
 *
 * image_info_json() builds the same tree qemu-img reports (ImageInfo);
 * the human renderer walks that tree, so both outputs always agree.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "block.h"
#include "cmd.h"
#include "info.h"
#include "json.h"
#include "size.h"
#include "util.h"

char *backing_full_path(const char *image, const char *backing)
{
    const char *slash = strrchr(image, '/');

    if (backing[0] == '/' || !slash || strstr(backing, "://") || !strncmp(backing, "json:", 5)) {
        return xstrdup(backing);
    }
    return xasprintf("%.*s%s", (int)(slash - image + 1), image, backing);
}

static json_t *snapshot_json(const struct snapshot_info *s)
{
    json_t *o = json_object();

    json_obj_set_str(o, "id", s->id);
    json_obj_set_str(o, "name", s->name);
    json_obj_set_int(o, "vm-state-size", (long long)s->vm_state_size);
    json_obj_set_int(o, "date-sec", s->date_sec);
    json_obj_set_int(o, "date-nsec", s->date_nsec);
    json_obj_set_int(o, "vm-clock-sec", (long long)(s->vm_clock_nsec / 1000000000));
    json_obj_set_int(o, "vm-clock-nsec", (long long)(s->vm_clock_nsec % 1000000000));
    if (s->icount != UINT64_MAX) {
        json_obj_set_int(o, "icount", (long long)s->icount);
    }
    return o;
}

json_t *image_info_json(struct image *img, struct err *err)
{
    struct image_info info = { 0 };
    json_t *o;
    int64_t allocated;

    if (img->drv->get_info && img->drv->get_info(img, &info, err) < 0) {
        return NULL;
    }
    o = json_object();
    json_obj_set_str(o, "filename", img->filename);
    json_obj_set_str(o, "format", img->drv->name);
    json_obj_set_bool(o, "dirty-flag", info.dirty);
    allocated = image_allocated_size(img);
    if (allocated >= 0) {
        json_obj_set_int(o, "actual-size", allocated);
    }
    json_obj_set_int(o, "virtual-size", (long long)img->size);
    if (info.cluster_size) {
        json_obj_set_int(o, "cluster-size", (long long)info.cluster_size);
    }
    if (info.encrypted) {
        json_obj_set_bool(o, "encrypted", 1);
    }
    if (img->backing_file) {
        char *full = backing_full_path(img->filename, img->backing_file);
        json_obj_set_str(o, "backing-filename", img->backing_file);
        json_obj_set_str(o, "full-backing-filename", full);
        if (img->backing_fmt) {
            json_obj_set_str(o, "backing-filename-format", img->backing_fmt);
        }
        free(full);
    }
    if (img->drv->snapshot_list) {
        struct snapshot_info *list = NULL;
        size_t n = 0;

        if (img->drv->snapshot_list(img, &list, &n, err) < 0) {
            json_decref(info.format_specific);
            json_decref(o);
            return NULL;
        }
        if (n) {
            json_t *a = json_array();
            for (size_t i = 0; i < n; i++) {
                json_array_append_new(a, snapshot_json(&list[i]));
            }
            json_object_set_new(o, "snapshots", a);
        }
        snapshot_info_free(list, n);
    }
    if (info.format_specific) {
        json_object_set_new(o, "format-specific", info.format_specific);
    }
    return o;
}

/* qemu's human dump of a QAPI tree: "key: value", '-' in keys shown as ' '. */
static void dump_human(const json_t *v, int indent);

static void dump_member(const char *label, const json_t *v, int indent)
{
    if (json_is_object(v) || json_is_array(v)) {
        printf("%*s%s:\n", indent, "", label);
        dump_human(v, indent + 4);
    } else if (json_is_string(v)) {
        printf("%*s%s: %s\n", indent, "", label, json_string_value(v));
    } else if (json_is_integer(v)) {
        printf("%*s%s: %lld\n", indent, "", label, (long long)json_integer_value(v));
    } else if (json_is_boolean(v)) {
        printf("%*s%s: %s\n", indent, "", label, json_is_true(v) ? "true" : "false");
    } else if (json_is_real(v)) {
        printf("%*s%s: %g\n", indent, "", label, json_real_value(v));
    } else {
        printf("%*s%s: null\n", indent, "", label);
    }
}

struct keyed {
    const char *key;
    const json_t *val;
    size_t seq;
};

static int keyed_cmp(const void *a, const void *b)
{
    const struct keyed *x = a, *y = b;
    unsigned bx = json_qdict_bucket(x->key), by = json_qdict_bucket(y->key);

    if (bx != by) {
        return bx < by ? -1 : 1;
    }
    return x->seq > y->seq ? -1 : x->seq < y->seq;
}

static void dump_human(const json_t *v, int indent)
{
    if (json_is_array(v)) {
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e) {
            char label[32];
            snprintf(label, sizeof(label), "[%zu]", i);
            dump_member(label, e, indent);
        }
    } else if (json_is_object(v)) {
        size_t n = json_object_size(v), i = 0;
        struct keyed *k = xcalloc(n ? n : 1, sizeof(*k));
        const char *key;
        json_t *e;

        json_object_foreach((json_t *)v, key, e) {
            k[i].key = key;
            k[i].val = e;
            k[i].seq = i;
            i++;
        }
        qsort(k, n, sizeof(*k), keyed_cmp);   /* qemu prints in its hash order too */
        for (i = 0; i < n; i++) {
            char *label = xstrdup(k[i].key);
            for (char *c = label; *c; c++) {
                if (*c == '-') {
                    *c = ' ';
                }
            }
            dump_member(label, k[i].val, indent);
            free(label);
        }
        free(k);
    }
}

static void print_snapshots(const json_t *snaps)
{
    size_t i;
    json_t *s;

    printf("Snapshot list:\n");
    printf("%-9s %-16s %8s %19s %12s %10s\n", "ID", "TAG", "VM SIZE", "DATE", "VM CLOCK",
           "ICOUNT");
    json_array_foreach(snaps, i, s) {
        char vmsize[SIZE_STR_MAX], date[64], clock[96], icount[32] = "";
        time_t t = (time_t)json_integer_value(json_object_get(s, "date-sec"));
        struct tm tm;
        long long secs = json_integer_value(json_object_get(s, "vm-clock-sec"));
        long long nsecs = json_integer_value(json_object_get(s, "vm-clock-nsec"));
        json_t *ic = json_object_get(s, "icount");

        size_to_str((uint64_t)json_integer_value(json_object_get(s, "vm-state-size")), vmsize);
        localtime_r(&t, &tm);
        strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S", &tm);
        snprintf(clock, sizeof(clock), "%02lld:%02lld:%02lld.%03lld", secs / 3600,
                 (secs / 60) % 60, secs % 60, nsecs / 1000000);
        if (ic) {
            snprintf(icount, sizeof(icount), "%lld", (long long)json_integer_value(ic));
        }
        printf("%-9s %-16s %8s %19s %12s %10s\n", json_string_value(json_object_get(s, "id")),
               json_string_value(json_object_get(s, "name")), vmsize, date, clock, icount);
    }
}

void snapshot_list_print(const struct snapshot_info *list, size_t n)
{
    json_t *a = json_array();

    for (size_t i = 0; i < n; i++) {
        json_array_append_new(a, snapshot_json(&list[i]));
    }
    print_snapshots(a);
    json_decref(a);
}

void snapshot_list_print_json(const struct snapshot_info *list, size_t n)
{
    json_t *a = json_array();

    for (size_t i = 0; i < n; i++) {
        json_array_append_new(a, snapshot_json(&list[i]));
    }
    json_print_pretty(stdout, a);
    json_decref(a);
}

void image_info_print_human(const json_t *o)
{
    char buf[SIZE_STR_MAX];
    json_t *v;
    long long vsize = json_integer_value(json_object_get(o, "virtual-size"));

    printf("image: %s\n", json_string_value(json_object_get(o, "filename")));
    printf("file format: %s\n", json_string_value(json_object_get(o, "format")));
    printf("virtual size: %s (%lld bytes)\n", size_to_str((uint64_t)vsize, buf), vsize);
    v = json_object_get(o, "actual-size");
    printf("disk size: %s\n", v ? size_to_str((uint64_t)json_integer_value(v), buf)
                                : "unavailable");
    if (json_is_true(json_object_get(o, "encrypted"))) {
        printf("encrypted: yes\n");
    }
    if ((v = json_object_get(o, "cluster-size"))) {
        printf("cluster_size: %lld\n", (long long)json_integer_value(v));
    }
    if (json_is_true(json_object_get(o, "dirty-flag"))) {
        printf("cleanly shut down: no\n");
    }
    if ((v = json_object_get(o, "backing-filename"))) {
        const char *bf = json_string_value(v);
        json_t *full = json_object_get(o, "full-backing-filename");

        printf("backing file: %s", bf);
        if (!full) {
            printf(" (cannot determine actual path)");
        } else if (strcmp(bf, json_string_value(full))) {
            printf(" (actual path: %s)", json_string_value(full));
        }
        putchar('\n');
        if ((v = json_object_get(o, "backing-filename-format"))) {
            printf("backing file format: %s\n", json_string_value(v));
        }
    }
    if ((v = json_object_get(o, "snapshots"))) {
        print_snapshots(v);
    }
    if ((v = json_object_get(o, "format-specific"))) {
        image_info_print_specific(v);
    }
}

void image_info_print_specific(const json_t *format_specific)
{
    printf("Format specific information:\n");
    dump_human(json_object_get(format_specific, "data"), 4);
}

int cmd_info(struct cmd_ctx *ctx, int argc, char **argv)
{
    static const struct option longopts[] = {
        { "help", no_argument, NULL, 'h' },
        { "format", required_argument, NULL, 'f' },
        { "output", required_argument, NULL, 'O' },
        { "backing-chain", no_argument, NULL, 'B' },
        { "force-share", no_argument, NULL, 'U' },
        { NULL, 0, NULL, 0 },
    };
    enum output_format output = OUTPUT_HUMAN;
    const char *fmt = NULL;
    bool chain = false;
    unsigned flags = IMG_NO_BACKING | IMG_NO_IO;
    json_t *list;
    char *filename;
    int c, ret = 0;

    while ((c = getopt_long(argc, argv, ":hf:U", longopts, NULL)) != -1) {
        switch (c) {
        case 'h':
            return cmd_help(ctx);
        case 'f':
            fmt = optarg;
            break;
        case 'O':
            if (cmd_parse_output(optarg, &output) < 0) {
                return 1;
            }
            break;
        case 'B':
            chain = true;
            break;
        case 'U':
            flags |= IMG_FORCE_SHARE;
            break;
        default:
            return cmd_getopt_error(ctx, c, argv);
        }
    }
    if (!cmd_one_image(ctx, &argc, &argv)) {
        return 1;
    }

    /* collect the whole chain first: on error nothing is printed */
    list = json_array();
    filename = xstrdup(argv[optind]);
    while (filename) {
        struct err err = { 0 };
        struct image *img;
        json_t *o;
        char *next = NULL;

        for (size_t i = 0; i < json_array_size(list); i++) {
            const char *seen = json_string_value(
                json_object_get(json_array_get(list, i), "filename"));
            if (!strcmp(seen, filename)) {
                error_printf("Backing file '%s' creates an infinite loop.", filename);
                ret = 1;
                break;
            }
        }
        if (ret || image_open(&img, filename, fmt, flags, CACHE_WRITEBACK, &err) < 0) {
            err_report(&err);
            ret = 1;
            free(filename);
            break;
        }
        o = image_info_json(img, &err);
        if (!o) {
            err_report(&err);
            image_close(img);
            ret = 1;
            free(filename);
            break;
        }
        json_array_append_new(list, o);
        if (chain && img->backing_file) {
            next = backing_full_path(img->filename, img->backing_file);
            /* the string lives in the tree; NULL means probe the backing file */
            fmt = json_string_value(json_object_get(o, "backing-filename-format"));
        }
        image_close(img);
        free(filename);
        filename = next;
    }

    if (ret == 0) {
        if (output == OUTPUT_JSON) {
            json_print_pretty(stdout, chain ? list : json_array_get(list, 0));
        } else {
            for (size_t i = 0; i < json_array_size(list); i++) {
                if (i) {
                    putchar('\n');
                }
                image_info_print_human(json_array_get(list, i));
            }
        }
    }
    json_decref(list);
    return ret;
}
