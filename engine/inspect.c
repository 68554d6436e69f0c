/*
 * inspect.c - the qcow2 inspection commands that show one structure as it
 * lies on disk: header, features, extensions, l1, l2, reftable, refblock,
 * refcount, snapshots, snapshot show, bitmaps, bitmap show. Each prints a
 * table, or JSON (docs/inspection.md) with --json. They read the file
 * through formats/qcow2/inspect.c and never write it.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "err.h"
#include "inspect.h"
#include "json.h"
#include "size.h"
#include "util.h"

#define MAX_REFCOUNT_RANGE (1ULL << 20)

/* ------------------------------------------------------------------------ */
/* shared                                                                    */

int inspect_common_opt(struct cmd_ctx *ctx, int c, enum output_format *out, bool *force_share,
                       int *exit_code)
{
    switch (c) {
    case 'h':
        *exit_code = cmd_help(ctx);
        return -1;
    case 'j':
        *out = OUTPUT_JSON;
        return 1;
    case 'O':
        if (cmd_parse_output(optarg, out) < 0) {
            *exit_code = 1;
            return -1;
        }
        return 1;
    case 'U':
        *force_share = true;
        return 1;
    default:
        return 0;
    }
}

int inspect_parse(struct cmd_ctx *ctx, int argc, char **argv, unsigned allowed, int nargs,
                  struct inspect_args *a, int *exit_code)
{
    static const struct option longopts[] = {
        { "help", no_argument, NULL, 'h' },
        { "json", no_argument, NULL, 'j' },
        { "output", required_argument, NULL, 'O' },
        { "force-share", no_argument, NULL, 'U' },
        { "all", no_argument, NULL, 'a' },
        { "snapshot", required_argument, NULL, 's' },
        { "guest", required_argument, NULL, 'g' },
        { NULL, 0, NULL, 0 },
    };
    enum output_format out = ctx->json ? OUTPUT_JSON : OUTPUT_HUMAN;
    int c;

    memset(a, 0, sizeof(*a));
    while ((c = getopt_long(argc, argv, ":hUf:", longopts, NULL)) != -1) {
        int common = inspect_common_opt(ctx, c, &out, &a->force_share, exit_code);
        if (common) {
            if (common < 0) {
                return -1;
            }
            continue;
        }
        switch (c) {
        case 'f':
            if (strcmp(optarg, "qcow2")) {
                error_printf("'%s' shows qcow2 metadata: the format '%s' has none to show",
                             argv[0], optarg);
                *exit_code = 1;
                return -1;
            }
            break;
        case 'a':
        case 's':
        case 'g': {
            unsigned bit = c == 'a' ? IO_ALL : c == 's' ? IO_SNAPSHOT : IO_GUEST;
            if (!(allowed & bit)) {
                *exit_code = cmd_usage_error(ctx, "unrecognized option '%s'", argv[optind - 1]);
                return -1;
            }
            a->all |= c == 'a';
            a->snapshot = c == 's' ? optarg : a->snapshot;
            a->guest = c == 'g' ? optarg : a->guest;
            break;
        }
        default:
            *exit_code = cmd_getopt_error(ctx, c, argv);
            return -1;
        }
    }
    if (a->guest) {
        nargs = 0;
    }
    cmd_default_image(ctx, &argc, &argv, nargs + 1);
    if (argc - optind != nargs + 1) {
        *exit_code = cmd_usage_error(ctx, "usage: %s %s", argv[0], ctx->cmd->synopsis);
        return -1;
    }
    a->json = out == OUTPUT_JSON;
    a->file = argv[optind];
    a->args = argv + optind + 1;
    a->nargs = nargs;
    return 0;
}

struct qi *inspect_open(const struct inspect_args *a)
{
    struct err err = { 0 };
    struct qi *qi;

    if (qi_open(&qi, a->file, a->force_share, &err) < 0) {
        err_report(&err);
        return NULL;
    }
    return qi;
}

int inspect_number(const char *what, const char *arg, uint64_t *out)
{
    char *end;

    errno = 0;
    if (arg[0] >= '0' && arg[0] <= '9') {
        *out = strtoull(arg, &end, 0);
        if (!errno && !*end) {
            return 0;
        }
        if (size_parse(arg, out) == 0) {
            return 0;
        }
    }
    error_printf("invalid %s '%s': a number (decimal, 0x hex, or with a K/M/G/T suffix) is "
                 "expected", what, arg);
    return -1;
}

json_t *inspect_hex64(uint64_t v)
{
    char buf[24];

    snprintf(buf, sizeof(buf), "0x%016" PRIx64, v);
    return json_string(buf);
}

json_t *inspect_u64(uint64_t v)
{
    return v > INT64_MAX ? inspect_hex64(v) : json_integer((json_int_t)v);
}

json_t *inspect_guest_range(uint64_t off, uint64_t len, unsigned depth, const char *snapshot)
{
    json_t *a = json_array(), *o = json_object();

    json_object_set_new(o, "offset", inspect_u64(off));
    json_object_set_new(o, "length", inspect_u64(len));
    json_obj_set_int(o, "depth", depth);
    json_object_set_new(o, "snapshot", snapshot ? json_string_nocheck(snapshot) : json_null());
    json_array_append_new(a, o);
    return a;
}

int inspect_print_json(json_t *v)
{
    json_print_pretty(stdout, v);
    json_decref(v);
    return 0;
}

int inspect_find_snapshot(const struct qi_snapshot *sn, size_t n, const char *id_or_name,
                          const char *file)
{
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(sn[i].id, id_or_name)) {
            return (int)i;
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(sn[i].name, id_or_name)) {
            return (int)i;
        }
    }
    error_printf("'%s' has no snapshot with the ID or name '%s'", file, id_or_name);
    return -1;
}

static void hexstr(char *out, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        sprintf(out + 2 * i, "%02x", p[i]);
    }
    out[2 * n] = '\0';
}

json_t *inspect_snapshot_json(const struct qi_snapshot *s, bool extra)
{
    json_t *o = json_object();

    json_obj_set_str(o, "id", s->id);
    json_obj_set_str(o, "name", s->name);
    json_object_set_new(o, "table-offset", inspect_u64(s->table_offset));
    json_object_set_new(o, "l1-offset", inspect_u64(s->l1_offset));
    json_obj_set_int(o, "l1-size", s->l1_size);
    json_obj_set_int(o, "date-sec", s->date_sec);
    json_obj_set_int(o, "date-nsec", s->date_nsec);
    json_object_set_new(o, "vm-clock-nsec", inspect_u64(s->vm_clock_nsec));
    json_object_set_new(o, "vm-state-size", inspect_u64(s->vm_state_size));
    json_object_set_new(o, "disk-size", s->has_disk_size ? inspect_u64(s->disk_size) : json_null());
    json_object_set_new(o, "icount", s->has_icount ? inspect_u64(s->icount) : json_null());
    json_obj_set_int(o, "extra-data-size", s->extra_size);
    if (extra) {
        char *h = xmalloc(2 * (size_t)s->extra_size + 1);
        hexstr(h, s->extra, s->extra_size);
        json_obj_set_str(o, "extra-data", h);
        free(h);
    }
    return o;
}

/* "yes"/"no" for tables. */
static const char *yn(bool b)
{
    return b ? "yes" : "no";
}

/* ------------------------------------------------------------------------ */
/* header, features, extensions                                              */

static const char *crypt_name(uint32_t m)
{
    return m == 0 ? "none" : m == 1 ? "aes" : m == 2 ? "luks" : "unknown";
}

/* Names of the bits set in v of feature type t, comma-separated, in buf. */
static void feature_list(const struct qi *qi, unsigned t, uint64_t v, char *buf, size_t len)
{
    size_t n = 0;

    buf[0] = '\0';
    for (unsigned bit = 0; bit < 64; bit++) {
        if (v & (1ULL << bit)) {
            const char *name = qi_feature_name(qi, t, bit);
            char unknown[24];
            if (!name) {
                snprintf(unknown, sizeof(unknown), "unknown bit %u", bit);
                name = unknown;
            }
            n += (size_t)snprintf(buf + MIN(n, len), len - MIN(n, len), "%s%s", n ? ", " : "",
                                  name);
        }
    }
    if (!n) {
        snprintf(buf, len, "none");
    }
}

/* What a header field's value means, in buf. */
static void field_meaning(const struct qi *qi, const char *name, uint64_t v, char *buf,
                          size_t len)
{
    char sz[SIZE_STR_MAX];

    buf[0] = '\0';
    if (!strcmp(name, "magic")) {
        snprintf(buf, len, "%s", v == 0x514649fbu ? "QFI\\xfb" : "not QFI\\xfb");
    } else if (!strcmp(name, "backing_file_offset")) {
        snprintf(buf, len, "%s", qi->backing_file ? qi->backing_file : "no backing file");
    } else if (!strcmp(name, "cluster_bits")) {
        snprintf(buf, len, "%" PRIu64 "-byte clusters", qi->cluster_size);
    } else if (!strcmp(name, "size")) {
        snprintf(buf, len, "%s", size_to_str(v, sz));
    } else if (!strcmp(name, "crypt_method")) {
        snprintf(buf, len, "%s", crypt_name((uint32_t)v));
    } else if (!strcmp(name, "l1_size")) {
        snprintf(buf, len, "entries, covering %s",
                 size_to_str(v * qi_l1_span(qi), sz));
    } else if (!strcmp(name, "l1_table_offset") || !strcmp(name, "refcount_table_offset") ||
               !strcmp(name, "snapshots_offset")) {
        if (v % qi->cluster_size) {
            snprintf(buf, len, "not cluster-aligned");
        } else {
            snprintf(buf, len, "cluster %" PRIu64, v / qi->cluster_size);
        }
    } else if (!strcmp(name, "refcount_table_clusters")) {
        snprintf(buf, len, "%" PRIu64 " refcount blocks at most",
                 v * qi->cluster_size / 8);
    } else if (!strcmp(name, "incompatible_features")) {
        feature_list(qi, 0, v, buf, len);
    } else if (!strcmp(name, "compatible_features")) {
        feature_list(qi, 1, v, buf, len);
    } else if (!strcmp(name, "autoclear_features")) {
        feature_list(qi, 2, v, buf, len);
    } else if (!strcmp(name, "refcount_order")) {
        snprintf(buf, len, "%u-bit refcounts", v < 7 ? 1u << v : 0);
    } else if (!strcmp(name, "compression_type")) {
        snprintf(buf, len, "%s", v == 0 ? "zlib" : v == 1 ? "zstd" : "unknown");
    }
}

static uint64_t field_value(const struct qi *qi, const struct qi_field *f)
{
    const uint8_t *p = qi->hdr + f->offset;

    return f->size == 8 ? be64(p) : f->size == 4 ? be32(p) : p[0];
}

int cmd_header(struct cmd_ctx *ctx, int argc, char **argv)
{
    struct inspect_args a;
    json_t *list = NULL;
    struct qi *qi;
    int ret;

    if (inspect_parse(ctx, argc, argv, 0, 0, &a, &ret) < 0) {
        return ret;
    }
    if (!(qi = inspect_open(&a))) {
        return 1;
    }
    list = json_array();
    if (!a.json) {
        printf("%-6s %-4s %-24s %-20s %s\n", "Offset", "Size", "Field", "Value", "Meaning");
    }
    for (const struct qi_field *f = qi_fields; f->name; f++) {
        uint64_t v = field_value(qi, f);
        char meaning[512], hex[24];

        if (f->min_version > qi->version || (f->offset >= 104 && qi->header_length <= 104)) {
            continue;
        }
        field_meaning(qi, f->name, v, meaning, sizeof(meaning));
        snprintf(hex, sizeof(hex), "%#" PRIx64, v);
        if (a.json) {
            json_t *o = json_object();
            json_obj_set_str(o, "field", f->name);
            json_obj_set_int(o, "offset", f->offset);
            json_obj_set_int(o, "size", f->size);
            json_object_set_new(o, "value", inspect_u64(v));
            json_obj_set_str(o, "meaning", meaning);
            json_array_append_new(list, o);
        } else {
            char val[32];
            snprintf(val, sizeof(val), f->offset == 0 || strstr(f->name, "offset") ||
                     strstr(f->name, "features") ? "%s" : "%.0s%" PRIu64, hex, v);
            printf("%6u %4u %-24s %-20s %s\n", f->offset, f->size, f->name, val, meaning);
        }
    }
    qi_close(qi);
    if (a.json) {
        return inspect_print_json(list);
    }
    json_decref(list);
    return 0;
}

int cmd_features(struct cmd_ctx *ctx, int argc, char **argv)
{
    static const char *const types[] = { "incompatible", "compatible", "autoclear" };
    struct inspect_args a;
    json_t *list = NULL;
    struct qi *qi;
    int ret;

    if (inspect_parse(ctx, argc, argv, 0, 0, &a, &ret) < 0) {
        return ret;
    }
    if (!(qi = inspect_open(&a))) {
        return 1;
    }
    list = json_array();
    if (!a.json) {
        printf("%-13s %3s  %-4s %s\n", "Type", "Bit", "Set", "Name");
    }
    for (unsigned t = 0; t < 3; t++) {
        uint64_t v = t == 0 ? qi->incompat : t == 1 ? qi->compat : qi->autoclear;
        for (unsigned bit = 0; bit < 64; bit++) {
            const char *name = qi_feature_name(qi, t, bit);
            bool set = (v >> bit) & 1;

            if (!name && !set) {
                continue;
            }
            if (a.json) {
                json_t *o = json_object();
                json_obj_set_str(o, "type", types[t]);
                json_obj_set_int(o, "bit", bit);
                json_object_set_new(o, "name", name ? json_string_nocheck(name) : json_null());
                json_obj_set_bool(o, "set", set);
                json_array_append_new(list, o);
            } else {
                printf("%-13s %3u  %-4s %s\n", types[t], bit, yn(set), name ? name : "(unknown)");
            }
        }
    }
    if (qi->version < 3 && !a.json) {
        printf("(a version 2 image has no feature bits)\n");
    }
    qi_close(qi);
    if (a.json) {
        return inspect_print_json(list);
    }
    json_decref(list);
    return 0;
}

static const char *ext_name(uint32_t type)
{
    switch (type) {
    case 0xe2792acau:
        return "backing format";
    case 0x6803f857u:
        return "feature name table";
    case 0x23852875u:
        return "bitmaps";
    case 0x0537be77u:
        return "full disk encryption";
    case 0x44415441u:
        return "external data file";
    default:
        return "unknown";
    }
}

/* An extension's content: a string, an object, or hex bytes. */
static json_t *ext_content(const struct qi *qi, const struct qi_ext *x, char *text, size_t len)
{
    json_t *o;

    switch (x->type) {
    case 0xe2792acau:
    case 0x44415441u:
        snprintf(text, len, "%s", (const char *)x->data);
        return json_string_nocheck((const char *)x->data);
    case 0x6803f857u: {
        json_t *a = json_array();
        snprintf(text, len, "%u entries", x->length / 48);
        for (uint32_t i = 0; i + 48 <= x->length; i += 48) {
            char name[47];
            memcpy(name, x->data + i + 2, 46);
            name[46] = '\0';
            o = json_object();
            json_obj_set_int(o, "type", x->data[i]);
            json_obj_set_int(o, "bit", x->data[i + 1]);
            json_obj_set_str(o, "name", name);
            json_array_append_new(a, o);
        }
        return a;
    }
    case 0x23852875u:
        if (x->length >= 24) {
            o = json_object();
            json_obj_set_int(o, "nb-bitmaps", be32(x->data));
            json_object_set_new(o, "directory-size", inspect_u64(be64(x->data + 8)));
            json_object_set_new(o, "directory-offset", inspect_u64(be64(x->data + 16)));
            snprintf(text, len, "%" PRIu32 " bitmaps, directory of %" PRIu64 " bytes at %#" PRIx64,
                     be32(x->data), be64(x->data + 8), be64(x->data + 16));
            return o;
        }
        break;
    case 0x0537be77u:
        if (x->length >= 16) {
            o = json_object();
            json_object_set_new(o, "offset", inspect_u64(be64(x->data)));
            json_object_set_new(o, "length", inspect_u64(be64(x->data + 8)));
            snprintf(text, len, "encryption header of %" PRIu64 " bytes at %#" PRIx64,
                     be64(x->data + 8), be64(x->data));
            return o;
        }
        break;
    default:
        break;
    }
    {
        size_t n = MIN(x->length, 256u);
        char *h = xmalloc(2 * n + 1);
        hexstr(h, x->data, n);
        snprintf(text, len, "%s%s", h, x->length > n ? "..." : "");
        o = json_string(h);
        free(h);
        (void)qi;
        return o;
    }
}

int cmd_extensions(struct cmd_ctx *ctx, int argc, char **argv)
{
    struct inspect_args a;
    json_t *list = NULL;
    struct qi *qi;
    int ret;

    if (inspect_parse(ctx, argc, argv, 0, 0, &a, &ret) < 0) {
        return ret;
    }
    if (!(qi = inspect_open(&a))) {
        return 1;
    }
    list = json_array();
    if (!a.json) {
        printf("%-8s %-10s %6s  %-21s %s\n", "Offset", "Type", "Length", "Extension", "Content");
    }
    for (size_t i = 0; i < qi->nexts; i++) {
        const struct qi_ext *x = &qi->exts[i];
        char text[600];
        json_t *content = ext_content(qi, x, text, sizeof(text));

        if (a.json) {
            json_t *o = json_object();
            json_obj_set_int(o, "offset", (long long)x->offset - 8);
            json_obj_set_int(o, "type", x->type);
            json_obj_set_str(o, "name", ext_name(x->type));
            json_obj_set_int(o, "length", x->length);
            json_object_set_new(o, "content", content);
            json_array_append_new(list, o);
        } else {
            printf("%-8" PRIu64 " 0x%08" PRIx32 " %6" PRIu32 "  %-21s %s\n", x->offset - 8,
                   x->type, x->length, ext_name(x->type), text);
            json_decref(content);
        }
    }
    if (!qi->nexts && !a.json) {
        printf("(no header extensions)\n");
    }
    qi_close(qi);
    if (a.json) {
        return inspect_print_json(list);
    }
    json_decref(list);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* L1 and L2 tables                                                          */

/* The L1 table to show: the active one, or --snapshot's. Returns -1 after printing. */
static int pick_l1(struct qi *qi, const struct inspect_args *a, uint64_t *off, uint64_t *size)
{
    struct qi_snapshot *sn;
    struct err err = { 0 };
    size_t n;
    int i;

    *off = qi->l1_offset;
    *size = qi->l1_size;
    if (!a->snapshot) {
        return 0;
    }
    if (qi_snapshots(qi, &sn, &n, &err) < 0) {
        err_report(&err);
        return -1;
    }
    i = inspect_find_snapshot(sn, n, a->snapshot, a->file);
    if (i >= 0) {
        *off = sn[i].l1_offset;
        *size = sn[i].l1_size;
    }
    qi_snapshots_free(sn, n);
    return i < 0 ? -1 : 0;
}

int cmd_l1(struct cmd_ctx *ctx, int argc, char **argv)
{
    struct inspect_args a;
    struct err err = { 0 };
    uint64_t off, size, *l1 = NULL, span;
    json_t *list = NULL;
    struct qi *qi;
    int ret;

    if (inspect_parse(ctx, argc, argv, IO_ALL | IO_SNAPSHOT, 0, &a, &ret) < 0) {
        return ret;
    }
    if (!(qi = inspect_open(&a))) {
        return 1;
    }
    list = json_array();
    ret = 1;
    if (pick_l1(qi, &a, &off, &size) < 0) {
        goto out;
    }
    if (qi_read_table(qi, off, size, &l1, &err) < 0) {
        err_report(&err);
        goto out;
    }
    span = qi_l1_span(qi);
    if (!a.json) {
        printf("L1 table at %#" PRIx64 ", %" PRIu64 " entries, each covering %" PRIu64
               " guest bytes\n", off, size, span);
        printf("%-7s %-18s %-14s %-6s %s\n", "Index", "Raw", "L2 offset", "Copied", "Guest range");
    }
    size = MIN(size, (32ULL << 20) / 8);
    for (uint64_t i = 0; i < size; i++) {
        uint64_t e = l1[i];

        if (!e && !a.all) {
            continue;
        }
        if (a.json) {
            json_t *o = json_object();
            json_obj_set_int(o, "index", (long long)i);
            json_object_set_new(o, "raw", inspect_hex64(e));
            json_object_set_new(o, "l2-offset", inspect_u64(e & QI_OFFSET_MASK));
            json_obj_set_bool(o, "copied", (int)(e >> 63));
            json_object_set_new(o, "guest-offset", inspect_u64(i * span));
            json_object_set_new(o, "guest-length", inspect_u64(span));
            json_array_append_new(list, o);
        } else {
            printf("%-7" PRIu64 " 0x%016" PRIx64 " %#-14" PRIx64 " %-6s %#" PRIx64 "-%#" PRIx64
                   "\n", i, e, (uint64_t)(e & QI_OFFSET_MASK), yn(e >> 63), i * span,
                   (i + 1) * span - 1);
        }
    }
    if (a.json) {
        inspect_print_json(list);
        list = NULL;
    }
    ret = 0;
out:
    json_decref(list);
    free(l1);
    qi_close(qi);
    return ret;
}

int cmd_l2(struct cmd_ctx *ctx, int argc, char **argv)
{
    struct inspect_args a;
    struct err err = { 0 };
    uint64_t off, size, *l1 = NULL, l1i, *l2 = NULL, *bm = NULL, l2_off;
    json_t *list = NULL;
    struct qi *qi;
    int ret;

    if (inspect_parse(ctx, argc, argv, IO_ALL | IO_SNAPSHOT | IO_GUEST, 1, &a, &ret) < 0) {
        return ret;
    }
    if (a.guest ? inspect_number("guest offset", a.guest, &l1i) < 0
                : inspect_number("L1 index", a.args[0], &l1i) < 0) {
        return 1;
    }
    if (!(qi = inspect_open(&a))) {
        return 1;
    }
    list = json_array();
    ret = 1;
    if (a.guest) {
        l1i /= qi_l1_span(qi);
    }
    if (pick_l1(qi, &a, &off, &size) < 0) {
        goto out;
    }
    if (l1i >= size) {
        error_printf("'%s': L1 index %" PRIu64 " is past the end of the L1 table (%" PRIu64
                     " entries)", a.file, l1i, size);
        goto out;
    }
    if (qi_read_table(qi, off + l1i * 8, 1, &l1, &err) < 0) {
        err_report(&err);
        goto out;
    }
    l2_off = l1[0] & QI_OFFSET_MASK;
    if (!a.json) {
        if (!l2_off) {
            printf("L1 entry %" PRIu64 " has no L2 table\n", l1i);
        } else {
            printf("L2 table at %#" PRIx64 " (L1 entry %" PRIu64 "), %" PRIu64 " entries\n",
                   l2_off, l1i, qi->l2_entries);
            printf("%-6s %-14s %-18s %-14s %-14s %-6s %s\n", "Index", "Guest offset", "Raw",
                   "Type", "Host offset", "Copied", qi->extended_l2 ? "Alloc/zero bitmaps" : "");
        }
    }
    l2 = xcalloc(qi->l2_entries, sizeof(*l2));
    bm = xcalloc(qi->l2_entries, sizeof(*bm));
    if (l2_off && qi_read_l2(qi, l2_off, l2, bm, &err) < 0) {
        err_report(&err);
        goto out;
    }
    for (uint64_t i = 0; l2_off && i < qi->l2_entries; i++) {
        struct qi_l2e d = qi_l2_decode(qi, l2[i], bm[i]);
        uint64_t guest = (l1i * qi->l2_entries + i) * qi->cluster_size;
        bool has_host = d.type == QI_NORMAL || d.type == QI_ZERO_ALLOC ||
                        d.type == QI_COMPRESSED;

        if (!l2[i] && !bm[i] && !a.all) {
            continue;
        }
        if (a.json) {
            json_t *o = json_object();
            json_obj_set_int(o, "index", (long long)i);
            json_object_set_new(o, "guest-offset", inspect_u64(guest));
            json_object_set_new(o, "raw", inspect_hex64(l2[i]));
            json_obj_set_str(o, "type", qi_l2_type_name(d.type));
            json_object_set_new(o, "host-offset", has_host ? inspect_u64(d.host) : json_null());
            json_obj_set_bool(o, "copied", (int)(l2[i] >> 63));
            if (d.type == QI_COMPRESSED) {
                json_object_set_new(o, "compressed-size", inspect_u64(d.csize));
            }
            if (qi->extended_l2) {
                json_obj_set_int(o, "alloc-bitmap", (long long)(bm[i] & 0xffffffffu));
                json_obj_set_int(o, "zero-bitmap", (long long)(bm[i] >> 32));
            }
            json_array_append_new(list, o);
        } else {
            char host[40] = "-", extra[64] = "";
            if (has_host) {
                snprintf(host, sizeof(host), "%#" PRIx64, d.host);
            }
            if (d.type == QI_COMPRESSED) {
                snprintf(extra, sizeof(extra), "%" PRIu64 " bytes compressed", d.csize);
            } else if (qi->extended_l2) {
                snprintf(extra, sizeof(extra), "%08" PRIx64 "/%08" PRIx64, bm[i] & 0xffffffffu,
                         bm[i] >> 32);
            }
            printf("%-6" PRIu64 " %#-14" PRIx64 " 0x%016" PRIx64 " %-14s %-14s %-6s %s\n", i,
                   guest, l2[i], qi_l2_type_name(d.type), host, yn(l2[i] >> 63), extra);
        }
    }
    if (a.json) {
        inspect_print_json(list);
        list = NULL;
    }
    ret = 0;
out:
    json_decref(list);
    free(l1);
    free(l2);
    free(bm);
    qi_close(qi);
    return ret;
}

/* ------------------------------------------------------------------------ */
/* refcounts                                                                 */

int cmd_reftable(struct cmd_ctx *ctx, int argc, char **argv)
{
    struct inspect_args a;
    struct err err = { 0 };
    const uint64_t *t;
    uint64_t n, per;
    json_t *list = NULL;
    struct qi *qi;
    int ret;

    if (inspect_parse(ctx, argc, argv, IO_ALL, 0, &a, &ret) < 0) {
        return ret;
    }
    if (!(qi = inspect_open(&a))) {
        return 1;
    }
    list = json_array();
    if (qi_reftable(qi, &t, &n, &err) < 0) {
        err_report(&err);
        qi_close(qi);
        json_decref(list);
        return 1;
    }
    per = qi_refblock_entries(qi);
    if (!a.json) {
        printf("Refcount table at %#" PRIx64 ", %" PRIu64 " entries; each refcount block holds "
               "%" PRIu64 " %u-bit refcounts\n", qi->reftable_offset, n, per,
               1u << qi->refcount_order);
        printf("%-7s %-18s %-16s %s\n", "Index", "Raw", "Block offset", "Clusters");
    }
    for (uint64_t i = 0; i < n; i++) {
        if (!t[i] && !a.all) {
            continue;
        }
        if (a.json) {
            json_t *o = json_object();
            json_obj_set_int(o, "index", (long long)i);
            json_object_set_new(o, "raw", inspect_hex64(t[i]));
            json_object_set_new(o, "refblock-offset", inspect_u64(t[i] & ~0x1ffULL));
            json_object_set_new(o, "first-cluster", inspect_u64(i * per));
            json_object_set_new(o, "clusters", inspect_u64(per));
            json_array_append_new(list, o);
        } else {
            printf("%-7" PRIu64 " 0x%016" PRIx64 " %#-16" PRIx64 " %" PRIu64 "-%" PRIu64 "\n", i,
                   t[i], (uint64_t)(t[i] & ~0x1ffULL), i * per, (i + 1) * per - 1);
        }
    }
    qi_close(qi);
    if (a.json) {
        return inspect_print_json(list);
    }
    json_decref(list);
    return 0;
}

/* Print or collect the refcounts of clusters first..last. */
static int show_refcounts(struct qi *qi, const struct inspect_args *a, uint64_t first,
                          uint64_t last, bool block_index)
{
    struct err err = { 0 };
    json_t *list = json_array();
    uint64_t per = qi_refblock_entries(qi);

    if (!a->json) {
        printf("%s%-12s %-16s %s\n", block_index ? "Index   " : "", "Cluster", "Host offset",
               "Refcount");
    }
    for (uint64_t c = first; c <= last; c++) {
        uint64_t rc;

        if (qi_refcount(qi, c, &rc, &err) < 0) {
            err_report(&err);
            json_decref(list);
            return 1;
        }
        if (block_index && !rc && !a->all) {
            continue;
        }
        if (a->json) {
            json_t *o = json_object();
            if (block_index) {
                json_obj_set_int(o, "index", (long long)(c % per));
            }
            json_object_set_new(o, "cluster", inspect_u64(c));
            json_object_set_new(o, "host-offset", inspect_u64(c << qi->cluster_bits));
            json_object_set_new(o, "refcount", inspect_u64(rc));
            json_array_append_new(list, o);
        } else if (block_index) {
            printf("%-7" PRIu64 " %-12" PRIu64 " %#-16" PRIx64 " %" PRIu64 "\n", c % per, c,
                   c << qi->cluster_bits, rc);
        } else {
            printf("%-12" PRIu64 " %#-16" PRIx64 " %" PRIu64 "\n", c, c << qi->cluster_bits, rc);
        }
        if (c == UINT64_MAX) {
            break;
        }
    }
    if (a->json) {
        return inspect_print_json(list);
    }
    json_decref(list);
    return 0;
}

int cmd_refblock(struct cmd_ctx *ctx, int argc, char **argv)
{
    struct inspect_args a;
    struct err err = { 0 };
    const uint64_t *t;
    uint64_t n, idx, per;
    struct qi *qi;
    int ret;

    if (inspect_parse(ctx, argc, argv, IO_ALL, 1, &a, &ret) < 0) {
        return ret;
    }
    if (inspect_number("refcount table index", a.args[0], &idx) < 0) {
        return 1;
    }
    if (!(qi = inspect_open(&a))) {
        return 1;
    }
    ret = 1;
    if (qi_reftable(qi, &t, &n, &err) < 0) {
        err_report(&err);
    } else if (idx >= n) {
        error_printf("'%s': refcount table index %" PRIu64 " is past its end (%" PRIu64
                     " entries)", a.file, idx, n);
    } else if (!(t[idx] & ~0x1ffULL)) {
        error_printf("'%s': refcount table entry %" PRIu64 " has no refcount block", a.file, idx);
    } else {
        per = qi_refblock_entries(qi);
        if (!a.json) {
            printf("Refcount block %" PRIu64 " at %#" PRIx64 ": clusters %" PRIu64 "-%" PRIu64
                   "\n", idx, (uint64_t)(t[idx] & ~0x1ffULL), idx * per, (idx + 1) * per - 1);
        }
        ret = show_refcounts(qi, &a, idx * per, (idx + 1) * per - 1, true);
    }
    qi_close(qi);
    return ret;
}

int cmd_refcount(struct cmd_ctx *ctx, int argc, char **argv)
{
    struct inspect_args a;
    uint64_t first, last;
    char *dash, *arg;
    struct qi *qi;
    int ret;

    if (inspect_parse(ctx, argc, argv, 0, 1, &a, &ret) < 0) {
        return ret;
    }
    arg = xstrdup(a.args[0]);
    dash = strchr(arg, '-');
    if (dash) {
        *dash = '\0';
    }
    ret = inspect_number("cluster", arg, &first) < 0 ||
          inspect_number("cluster", dash ? dash + 1 : arg, &last) < 0;
    free(arg);
    if (ret) {
        return 1;
    }
    if (last < first || last - first >= MAX_REFCOUNT_RANGE) {
        error_printf("invalid cluster range '%s': the last cluster must follow the first, "
                     "%llu clusters at most", a.args[0], MAX_REFCOUNT_RANGE);
        return 1;
    }
    if (!(qi = inspect_open(&a))) {
        return 1;
    }
    ret = show_refcounts(qi, &a, first, last, false);
    qi_close(qi);
    return ret;
}

/* ------------------------------------------------------------------------ */
/* snapshots and bitmaps                                                     */

int cmd_snapshots(struct cmd_ctx *ctx, int argc, char **argv)
{
    struct inspect_args a;
    struct err err = { 0 };
    struct qi_snapshot *sn;
    size_t n;
    struct qi *qi;
    int ret;

    if (inspect_parse(ctx, argc, argv, 0, 0, &a, &ret) < 0) {
        return ret;
    }
    if (!(qi = inspect_open(&a))) {
        return 1;
    }
    if (qi_snapshots(qi, &sn, &n, &err) < 0) {
        err_report(&err);
        qi_close(qi);
        return 1;
    }
    if (a.json) {
        json_t *list = json_array();
        for (size_t i = 0; i < n; i++) {
            json_array_append_new(list, inspect_snapshot_json(&sn[i], false));
        }
        inspect_print_json(list);
    } else {
        printf("Snapshot table at %#" PRIx64 ", %" PRIu32 " entries\n", qi->snapshots_offset,
               qi->nb_snapshots);
        printf("%-8s %-16s %-14s %-9s %-19s %-12s %s\n", "ID", "Name", "L1 offset", "L1 size",
               "Date", "VM state", "Extra");
        for (size_t i = 0; i < n; i++) {
            char date[32], sz[SIZE_STR_MAX];
            time_t t = sn[i].date_sec;
            struct tm tm;
            strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S", localtime_r(&t, &tm));
            printf("%-8s %-16s %#-14" PRIx64 " %-9" PRIu32 " %-19s %-12s %" PRIu32 "\n",
                   sn[i].id, sn[i].name, sn[i].l1_offset, sn[i].l1_size, date,
                   size_to_str(sn[i].vm_state_size, sz), sn[i].extra_size);
        }
    }
    qi_snapshots_free(sn, n);
    qi_close(qi);
    return 0;
}

int cmd_snapshot_show(struct cmd_ctx *ctx, int argc, char **argv)
{
    struct inspect_args a;
    struct err err = { 0 };
    struct qi_snapshot *sn;
    size_t n;
    struct qi *qi;
    int ret, i;

    if (inspect_parse(ctx, argc, argv, 0, 1, &a, &ret) < 0) {
        return ret;
    }
    if (!(qi = inspect_open(&a))) {
        return 1;
    }
    if (qi_snapshots(qi, &sn, &n, &err) < 0) {
        err_report(&err);
        qi_close(qi);
        return 1;
    }
    i = inspect_find_snapshot(sn, n, a.args[0], a.file);
    if (i >= 0 && a.json) {
        inspect_print_json(inspect_snapshot_json(&sn[i], true));
    } else if (i >= 0) {
        const struct qi_snapshot *s = &sn[i];
        char *h = xmalloc(2 * (size_t)s->extra_size + 1);
        time_t t = s->date_sec;
        struct tm tm;
        char date[32];

        strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S", localtime_r(&t, &tm));
        hexstr(h, s->extra, s->extra_size);
        printf("id:              %s\n", s->id);
        printf("name:            %s\n", s->name);
        printf("table entry at:  %#" PRIx64 "\n", s->table_offset);
        printf("date:            %s (%" PRIu32 ".%09" PRIu32 ")\n", date, s->date_sec,
               s->date_nsec);
        printf("vm clock:        %" PRIu64 " ns\n", s->vm_clock_nsec);
        printf("vm state size:   %" PRIu64 "\n", s->vm_state_size);
        printf("L1 table:        %#" PRIx64 ", %" PRIu32 " entries\n", s->l1_offset, s->l1_size);
        if (s->has_disk_size) {
            printf("disk size:       %" PRIu64 "\n", s->disk_size);
        }
        if (s->has_icount) {
            printf("icount:          %" PRIu64 "\n", s->icount);
        }
        printf("extra data:      %" PRIu32 " bytes%s%s\n", s->extra_size, s->extra_size ? ": " : "",
               h);
        free(h);
    }
    qi_snapshots_free(sn, n);
    qi_close(qi);
    return i < 0;
}

static json_t *bitmap_json(const struct qi_bitmap *b)
{
    json_t *o = json_object();

    json_obj_set_str(o, "name", b->name);
    json_object_set_new(o, "entry-offset", inspect_u64(b->entry_offset));
    json_object_set_new(o, "table-offset", inspect_u64(b->table_offset));
    json_obj_set_int(o, "table-size", b->table_size);
    json_obj_set_int(o, "flags", b->flags);
    json_obj_set_bool(o, "in-use", b->flags & 1);
    json_obj_set_bool(o, "auto", (b->flags >> 1) & 1);
    json_obj_set_int(o, "type", b->type);
    json_obj_set_int(o, "granularity-bits", b->granularity_bits);
    json_obj_set_int(o, "extra-data-size", b->extra_size);
    return o;
}

static int load_bitmaps(const struct inspect_args *a, struct qi **qi, struct qi_bitmap **bm,
                        size_t *n)
{
    struct err err = { 0 };

    if (!(*qi = inspect_open(a))) {
        return -1;
    }
    if (qi_bitmaps(*qi, bm, n, &err) < 0) {
        err_report(&err);
        qi_close(*qi);
        return -1;
    }
    return 0;
}

int cmd_bitmaps(struct cmd_ctx *ctx, int argc, char **argv)
{
    struct inspect_args a;
    struct qi_bitmap *bm;
    struct qi *qi;
    size_t n;
    int ret;

    if (inspect_parse(ctx, argc, argv, 0, 0, &a, &ret) < 0) {
        return ret;
    }
    if (load_bitmaps(&a, &qi, &bm, &n) < 0) {
        return 1;
    }
    if (a.json) {
        json_t *list = json_array();
        for (size_t i = 0; i < n; i++) {
            json_array_append_new(list, bitmap_json(&bm[i]));
        }
        inspect_print_json(list);
    } else if (!qi->has_bitmaps_ext) {
        printf("(no bitmaps extension)\n");
    } else {
        printf("Bitmap directory at %#" PRIx64 ", %" PRIu64 " bytes, %" PRIu32 " bitmaps\n",
               qi->bitmap_dir_offset, qi->bitmap_dir_size, qi->nb_bitmaps);
        printf("%-16s %-12s %-7s %-6s %-14s %s\n", "Name", "Granularity", "In use", "Auto",
               "Table offset", "Table size");
        for (size_t i = 0; i < n; i++) {
            char sz[SIZE_STR_MAX];
            printf("%-16s %-12s %-7s %-6s %#-14" PRIx64 " %" PRIu32 "\n", bm[i].name,
                   bm[i].granularity_bits < 64 ? size_to_str(1ULL << bm[i].granularity_bits, sz)
                                               : "?",
                   yn(bm[i].flags & 1), yn((bm[i].flags >> 1) & 1), bm[i].table_offset,
                   bm[i].table_size);
        }
    }
    qi_bitmaps_free(bm, n);
    qi_close(qi);
    return 0;
}

int cmd_bitmap_show(struct cmd_ctx *ctx, int argc, char **argv)
{
    struct inspect_args a;
    struct err err = { 0 };
    struct qi_bitmap *bm;
    struct qi *qi;
    uint64_t *t = NULL;
    size_t n, i;
    int ret;

    if (inspect_parse(ctx, argc, argv, IO_ALL, 1, &a, &ret) < 0) {
        return ret;
    }
    if (load_bitmaps(&a, &qi, &bm, &n) < 0) {
        return 1;
    }
    ret = 1;
    for (i = 0; i < n && strcmp(bm[i].name, a.args[0]); i++) {
    }
    if (i == n) {
        error_printf("'%s' has no bitmap named '%s'", a.file, a.args[0]);
    } else if (qi_read_table(qi, bm[i].table_offset, bm[i].table_size, &t, &err) < 0) {
        err_report(&err);
    } else {
        json_t *o = bitmap_json(&bm[i]), *list = json_array();
        uint64_t covers = qi->cluster_size * 8;   /* bits per table entry */

        if (bm[i].granularity_bits < 64 - 24) {
            covers <<= bm[i].granularity_bits;
        }
        if (!a.json) {
            printf("Bitmap '%s': granularity 2^%u, flags %#" PRIx32 " (in use: %s, auto: %s), "
                   "table at %#" PRIx64 " with %" PRIu32 " entries\n", bm[i].name,
                   bm[i].granularity_bits, bm[i].flags, yn(bm[i].flags & 1),
                   yn((bm[i].flags >> 1) & 1), bm[i].table_offset, bm[i].table_size);
            printf("%-7s %-18s %-12s %-14s %s\n", "Index", "Raw", "Content", "Data offset",
                   "Guest range");
        }
        for (uint64_t j = 0; j < MIN(bm[i].table_size, (32u << 20) / 8); j++) {
            uint64_t off = t[j] & QI_OFFSET_MASK;
            const char *what = off ? "data" : (t[j] & 1) ? "all-ones" : "all-zeros";

            if (!t[j] && !a.all) {
                continue;
            }
            if (a.json) {
                json_t *e = json_object();
                json_obj_set_int(e, "index", (long long)j);
                json_object_set_new(e, "raw", inspect_hex64(t[j]));
                json_obj_set_str(e, "content", what);
                json_object_set_new(e, "data-offset", off ? inspect_u64(off) : json_null());
                json_object_set_new(e, "guest-offset", inspect_u64(j * covers));
                json_array_append_new(list, e);
            } else {
                printf("%-7" PRIu64 " 0x%016" PRIx64 " %-12s %#-14" PRIx64 " %#" PRIx64 "-%#"
                       PRIx64 "\n", j, t[j], what, off, j * covers, (j + 1) * covers - 1);
            }
        }
        if (a.json) {
            json_object_set_new(o, "table", list);
            inspect_print_json(o);
        } else {
            json_decref(o);
            json_decref(list);
        }
        ret = 0;
    }
    free(t);
    qi_bitmaps_free(bm, n);
    qi_close(qi);
    return ret;
}
