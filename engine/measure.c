/*
 * measure.c - "measure": how much space a new image of some format needs,
 * for a given size or for the data of an existing image, as qemu-img
 * measure reports it ("required size", "fully allocated size" and, for
 * qcow2 with a qcow2 v3 source, "bitmaps size").
 *
 * The arithmetic belongs to each format's measure hook; this file parses
 * the command line and checks things in qemu-img's order: the options as
 * they are read, then the argument combination, then the source (opened,
 * snapshot loaded), then the target format and its -o options.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "block.h"
#include "cmd.h"
#include "json.h"
#include "size.h"
#include "util.h"

enum {
    OPT_OUTPUT = 0x100,
    OPT_SIZE_ARG,
};

/*
 * Formats qemu-img knows but imgsh has no driver for, and how qemu-img
 * measure answers for them.
 */
enum foreign_kind {
    FOREIGN_NO_CREATE,      /* "Format driver 'x' does not support image creation" */
    FOREIGN_NO_MEASURE,     /* "Block driver 'x' does not support size measurement" */
    FOREIGN_LUKS,           /* measurable, but only with a secret (--object) */
};

static const struct {
    const char *name;
    enum foreign_kind kind;
} foreign_formats[] = {
    { "blkdebug", FOREIGN_NO_CREATE }, { "blklogwrites", FOREIGN_NO_CREATE },
    { "blkverify", FOREIGN_NO_CREATE }, { "bochs", FOREIGN_NO_CREATE },
    { "cloop", FOREIGN_NO_CREATE }, { "compress", FOREIGN_NO_CREATE },
    { "copy-before-write", FOREIGN_NO_CREATE }, { "copy-on-read", FOREIGN_NO_CREATE },
    { "dmg", FOREIGN_NO_CREATE }, { "ftp", FOREIGN_NO_CREATE }, { "ftps", FOREIGN_NO_CREATE },
    { "http", FOREIGN_NO_CREATE }, { "https", FOREIGN_NO_CREATE },
    { "null-aio", FOREIGN_NO_CREATE }, { "null-co", FOREIGN_NO_CREATE },
    { "preallocate", FOREIGN_NO_CREATE }, { "quorum", FOREIGN_NO_CREATE },
    { "replication", FOREIGN_NO_CREATE }, { "snapshot-access", FOREIGN_NO_CREATE },
    { "throttle", FOREIGN_NO_CREATE }, { "vvfat", FOREIGN_NO_CREATE },
    { "gluster", FOREIGN_NO_MEASURE }, { "host_cdrom", FOREIGN_NO_MEASURE },
    { "host_device", FOREIGN_NO_MEASURE }, { "iscsi", FOREIGN_NO_MEASURE },
    { "iser", FOREIGN_NO_MEASURE }, { "nbd", FOREIGN_NO_MEASURE }, { "nfs", FOREIGN_NO_MEASURE },
    { "nvme", FOREIGN_NO_MEASURE }, { "parallels", FOREIGN_NO_MEASURE },
    { "qcow", FOREIGN_NO_MEASURE }, { "qed", FOREIGN_NO_MEASURE }, { "rbd", FOREIGN_NO_MEASURE },
    { "ssh", FOREIGN_NO_MEASURE }, { "vdi", FOREIGN_NO_MEASURE }, { "vhdx", FOREIGN_NO_MEASURE },
    { "vmdk", FOREIGN_NO_MEASURE }, { "vpc", FOREIGN_NO_MEASURE },
    { "luks", FOREIGN_LUKS },
};

/* The creation options of qemu's luks format (types only: measure never shows help). */
static const struct opt_desc luks_opts[] = {
    { "key-secret", OPT_STRING, NULL, NULL },
    { "cipher-alg", OPT_STRING, NULL, NULL },
    { "cipher-mode", OPT_STRING, NULL, NULL },
    { "ivgen-alg", OPT_STRING, NULL, NULL },
    { "ivgen-hash-alg", OPT_STRING, NULL, NULL },
    { "hash-alg", OPT_STRING, NULL, NULL },
    { "iter-time", OPT_NUMBER, NULL, NULL },
    { "size", OPT_SIZE, NULL, NULL },
    { "preallocation", OPT_STRING, NULL, NULL },
    { NULL, 0, NULL, NULL },
};

/* End of the -o item starting at p: its name stops at ',' or '=', its value at a single ','. */
static const char *option_item_end(const char *p)
{
    while (*p && *p != ',' && *p != '=') {
        p++;
    }
    if (*p == '=') {
        for (p++; *p; p++) {
            if (*p == ',') {
                if (p[1] != ',') {
                    break;
                }
                p++;
            }
        }
    }
    return p;
}

/*
 * Parse and check the -o string item by item, as qemu does: the first bad
 * item is reported, and a "help" item is just an unknown parameter here.
 * With lenient, names missing from desc pass (formats imgsh cannot list).
 * Prints qemu-img's messages and returns -1 on error.
 */
static int parse_target_options(const char *options, const struct opt_desc *desc,
                                bool lenient, const char *fmt, struct opts *out)
{
    const char *p = options;

    while (p && *p) {
        const char *end = option_item_end(p);
        char *item = xasprintf("%.*s", (int)(end - p), p);
        struct opts one = { 0 };
        struct err err = { 0 };
        int ret = 0;

        opts_parse(&one, item, NULL);
        if (one.help) {
            ret = err_set(&err, -EINVAL, "Invalid parameter '%s'", item);
        } else if (one.n && (!lenient || opt_desc_find(desc, one.v[0].name))) {
            ret = opts_validate(&one, desc, &err);
        }
        if (ret == 0 && one.n) {
            opts_set(out, one.v[0].name, one.v[0].value);
        }
        opts_free(&one);
        free(item);
        if (ret < 0) {
            err_report(&err);
            error_printf("Invalid options for file format '%s'", fmt);
            return -1;
        }
        p = *end ? end + 1 : end;
    }
    return 0;
}

static void print_result(const struct measure_result *r, enum output_format output)
{
    if (output == OUTPUT_JSON) {
        json_t *o = json_object();

        /* qemu's integers are signed: sizes of 2^63 and up come out negative */
        json_obj_set_int(o, "required", (long long)r->required);
        json_obj_set_int(o, "fully-allocated", (long long)r->fully_allocated);
        if (r->has_bitmaps) {
            json_obj_set_int(o, "bitmaps", (long long)r->bitmaps);
        }
        json_print_pretty(stdout, o);
        json_decref(o);
        return;
    }
    printf("required size: %" PRIu64 "\n", r->required);
    printf("fully allocated size: %" PRIu64 "\n", r->fully_allocated);
    if (r->has_bitmaps) {
        printf("bitmaps size: %" PRIu64 "\n", r->bitmaps);
    }
}

/*
 * The target side for a format imgsh has no driver for but qemu-img knows:
 * qemu-img's answer for it. Returns the exit code, or -1 when fmt is not
 * such a format.
 */
static int measure_foreign(const char *fmt, const char *options)
{
    for (size_t i = 0; i < ARRAY_SIZE(foreign_formats); i++) {
        struct opts opts = { 0 };
        struct opt_desc *desc;
        const char *secret;
        int ret;

        if (strcmp(foreign_formats[i].name, fmt)) {
            continue;
        }
        if (foreign_formats[i].kind == FOREIGN_NO_CREATE) {
            error_printf("Format driver '%s' does not support image creation", fmt);
            return 1;
        }
        if (foreign_formats[i].kind == FOREIGN_NO_MEASURE) {
            ret = parse_target_options(options, file_create_opts, true, fmt, &opts);
            opts_free(&opts);
            if (ret == 0) {
                error_printf("Block driver '%s' does not support size measurement", fmt);
            }
            return 1;
        }
        /* luks: the header size depends on the key, which needs a secret object */
        desc = opt_desc_merge(luks_opts, file_create_opts);
        ret = parse_target_options(options, desc, false, fmt, &opts);
        free(desc);
        if (ret == 0) {
            secret = opts_get(&opts, "key-secret");
            if (secret) {
                error_printf("No secret with id '%s'", secret);
            } else {
                error_printf("Parameter 'key-secret' is required for cipher");
            }
        }
        opts_free(&opts);
        return 1;
    }
    return -1;
}

/* Everything after the source is open: the target format, its options and the sizes. */
static int measure_target(const char *out_fmt, const char *options, bool has_size,
                          uint64_t size, struct image *src, enum output_format output)
{
    const struct fmt_driver *drv = fmt_find(out_fmt);
    struct opts opts = { 0 };
    struct opt_desc *desc;
    struct measure_result res;
    struct err err = { 0 };
    int ret;

    if (!drv) {
        ret = measure_foreign(out_fmt, options);
        if (ret < 0) {
            error_printf("Unknown file format '%s'", out_fmt);
            ret = 1;
        }
        return ret;
    }
    if (!drv->create_opts) {
        error_printf("Format driver '%s' does not support image creation", out_fmt);
        return 1;
    }
    /* qemu-img measure always adds the file protocol's options */
    desc = opt_desc_merge(drv->create_opts, file_create_opts);
    ret = parse_target_options(options, desc, false, out_fmt, &opts);
    free(desc);
    if (ret < 0) {
        opts_free(&opts);
        return 1;
    }
    if (has_size) {
        char num[32];

        snprintf(num, sizeof(num), "%" PRIu64, size);
        opts_set(&opts, "size", num);
    }
    if (!drv->measure) {
        error_printf("Block driver '%s' does not support size measurement", out_fmt);
        opts_free(&opts);
        return 1;
    }
    ret = drv->measure(&opts, src, &res, &err);
    opts_free(&opts);
    if (ret < 0) {
        err_report(&err);
        return 1;
    }
    print_result(&res, output);
    return 0;
}

int cmd_measure(struct cmd_ctx *ctx, int argc, char **argv)
{
    static const struct option longopts[] = {
        { "help", no_argument, NULL, 'h' },
        { "output", required_argument, NULL, OPT_OUTPUT },
        { "size", required_argument, NULL, OPT_SIZE_ARG },
        { "force-share", no_argument, NULL, 'U' },
        { NULL, 0, NULL, 0 },
    };
    enum output_format output = OUTPUT_HUMAN;
    const char *fmt = NULL, *out_fmt = "raw", *filename = NULL;
    char *options = NULL;
    struct snapshot_arg snap = { 0 };
    bool has_size = false;
    uint64_t size = 0;
    unsigned flags = 0;
    struct image *src = NULL;
    struct err err = { 0 };
    int c, ret = 1;

    /* like qemu-img measure, getopt reports bad options itself and help follows */
    while ((c = getopt_long(argc, argv, "hf:O:o:l:U", longopts, NULL)) != -1) {
        switch (c) {
        case '?':
        case 'h':
            ret = cmd_help(ctx);
            goto out;
        case 'f':
            fmt = optarg;
            break;
        case 'O':
            out_fmt = optarg;
            break;
        case 'o':
            if (cmd_accumulate_options(&options, optarg) < 0) {
                goto out;
            }
            break;
        case 'l':
            if (cmd_parse_snapshot_arg(optarg, &snap) < 0) {
                goto out;
            }
            break;
        case 'U':
            flags |= IMG_FORCE_SHARE;
            break;
        case OPT_OUTPUT:
            if (cmd_parse_output(optarg, &output) < 0) {
                goto out;
            }
            break;
        case OPT_SIZE_ARG: {
            int64_t v;

            if (cmd_parse_size("image size", optarg, &v) < 0) {
                goto out;
            }
            size = (uint64_t)v;
            has_size = true;
            break;
        }
        default:
            ret = cmd_help(ctx);
            goto out;
        }
    }

    if (argc - optind > 1) {
        error_printf("At most one filename argument is allowed.");
        goto out;
    }
    if (argc - optind == 1) {
        filename = argv[optind];
    }
    if (!filename && (fmt || cmd_snapshot_arg_given(&snap))) {
        error_printf("--image-opts, -f, and -l require a filename argument.");
        goto out;
    }
    if (filename && has_size) {
        error_printf("--size N cannot be used together with a filename.");
        goto out;
    }
    if (!filename && !has_size) {
        error_printf("Either --size N or one filename must be specified.");
        goto out;
    }

    if (filename) {
        if (image_open(&src, filename, fmt, flags, CACHE_WRITEBACK, &err) < 0) {
            err_report(&err);
            goto out;
        }
        if (cmd_snapshot_arg_given(&snap) && cmd_load_snapshot(src, &snap) < 0) {
            goto out;
        }
    }
    ret = measure_target(out_fmt, options, has_size, size, src, output);

out:
    image_close(src);
    cmd_snapshot_arg_free(&snap);
    free(options);
    return ret;
}
