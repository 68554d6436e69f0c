/*
 * bitmap.c - "bitmap": add, remove, clear, enable, disable or merge a
 * persistent dirty bitmap, as qemu-img bitmap does: the operations run in
 * the order given, on the image opened read-write without its backing
 * chain; the bitmaps are stored when the image is closed.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "block.h"
#include "cmd.h"
#include "util.h"

enum {
    OPT_ADD = 256,
    OPT_REMOVE,
    OPT_CLEAR,
    OPT_ENABLE,
    OPT_DISABLE,
    OPT_MERGE,
};

struct action {
    enum bitmap_op op;
    const char *src;            /* --merge SOURCE */
};

static const char *op_name(enum bitmap_op op)
{
    static const char *const names[] = { "add", "remove", "clear", "enable", "disable", "merge" };
    return names[op];
}

int cmd_bitmap(struct cmd_ctx *ctx, int argc, char **argv)
{
    static const struct option longopts[] = {
        { "help", no_argument, NULL, 'h' },
        { "add", no_argument, NULL, OPT_ADD },
        { "remove", no_argument, NULL, OPT_REMOVE },
        { "clear", no_argument, NULL, OPT_CLEAR },
        { "enable", no_argument, NULL, OPT_ENABLE },
        { "disable", no_argument, NULL, OPT_DISABLE },
        { "merge", required_argument, NULL, OPT_MERGE },
        { "granularity", required_argument, NULL, 'g' },
        { "source-file", required_argument, NULL, 'b' },
        { "source-format", required_argument, NULL, 'F' },
        { NULL, 0, NULL, 0 },
    };
    struct action *acts = xcalloc((size_t)argc + 1, sizeof(*acts));
    size_t nacts = 0;
    const char *fmt = NULL, *src_file = NULL, *src_fmt = NULL;
    bool add = false, merge = false;
    int64_t granularity = 0;
    struct image *img = NULL, *src = NULL;
    struct err err = { 0 };
    int c, ret = 1;

    while ((c = getopt_long(argc, argv, ":b:f:F:g:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'h':
            free(acts);
            return cmd_help(ctx);
        case 'b':
            src_file = optarg;
            break;
        case 'f':
            fmt = optarg;
            break;
        case 'F':
            src_fmt = optarg;
            break;
        case 'g':
            if (cmd_parse_size("granularity", optarg, &granularity) < 0) {
                free(acts);
                return 1;
            }
            break;
        case OPT_ADD:
            acts[nacts++].op = BITMAP_ADD;
            add = true;
            break;
        case OPT_REMOVE:
            acts[nacts++].op = BITMAP_REMOVE;
            break;
        case OPT_CLEAR:
            acts[nacts++].op = BITMAP_CLEAR;
            break;
        case OPT_ENABLE:
            acts[nacts++].op = BITMAP_ENABLE;
            break;
        case OPT_DISABLE:
            acts[nacts++].op = BITMAP_DISABLE;
            break;
        case OPT_MERGE:
            acts[nacts].op = BITMAP_MERGE;
            acts[nacts++].src = optarg;
            merge = true;
            break;
        default:
            free(acts);
            return cmd_getopt_error(ctx, c, argv);
        }
    }
    if (!nacts) {
        error_printf("Need at least one of --add, --remove, --clear, --enable, --disable, or "
                     "--merge");
        goto out;
    }
    if (granularity && !add) {
        error_printf("granularity only supported with --add");
        goto out;
    }
    if (src_fmt && !src_file) {
        error_printf("-F only supported with -b");
        goto out;
    }
    if (src_file && !merge) {
        error_printf("Merge bitmap source file only supported with --merge");
        goto out;
    }
    cmd_default_image(ctx, &argc, &argv, 2);
    if (optind != argc - 2) {
        error_printf("Expecting filename and bitmap name");
        goto out;
    }
    /* the bitmaps are manipulated in this image only: no backing chain */
    if (image_open(&img, argv[optind], fmt, IMG_RDWR | IMG_NO_BACKING, CACHE_WRITEBACK,
                   &err) < 0) {
        err_report(&err);
        goto out;
    }
    if (src_file && image_open(&src, src_file, src_fmt, IMG_NO_BACKING, CACHE_WRITEBACK,
                               &err) < 0) {
        err_report(&err);
        goto out;
    }
    for (size_t i = 0; i < nacts; i++) {
        const char *name = argv[optind + 1];
        int r;

        if (!img->drv->bitmap) {
            r = acts[i].op == BITMAP_ADD
                    ? err_set(&err, -ENOTSUP, "Can't store persistent bitmaps to %s",
                              img->filename)
                    : err_set(&err, -ENOENT, "Dirty bitmap '%s' not found",
                              acts[i].op == BITMAP_MERGE && !src ? name : name);
        } else {
            r = img->drv->bitmap(img, acts[i].op, name, (uint64_t)granularity,
                                 src ? src : img, acts[i].src, &err);
        }
        if (r < 0) {
            error_printf("Operation %s on bitmap %s failed: %s", op_name(acts[i].op), name,
                         err.msg);
            goto out;
        }
    }
    ret = 0;
out:
    image_close(src);
    image_close(img);
    free(acts);
    return ret;
}
