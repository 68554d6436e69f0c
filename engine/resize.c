/* resize.c - "resize": change an image's virtual size, as qemu-img resize does. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <string.h>

#include "block.h"
#include "cmd.h"

/* qemu's limit on image lengths: INT64_MAX rounded down to whole GiB. */
#define MAX_IMAGE_LENGTH ((uint64_t)INT64_MAX - ((uint64_t)1 << 30) + 1)

int cmd_resize(struct cmd_ctx *ctx, int argc, char **argv)
{
    static const struct option longopts[] = {
        { "help", no_argument, NULL, 'h' },
        { "preallocation", required_argument, NULL, 'P' },
        { "shrink", no_argument, NULL, 'S' },
        { NULL, 0, NULL, 0 },
    };
    const char *fmt = NULL, *size_arg;
    enum prealloc prealloc = PREALLOC_OFF;
    bool quiet = false, shrink = false;
    int relative = 0;
    uint64_t n;
    int64_t total;
    struct err err = { 0 };
    struct image *img;
    int c, ret;

    /* the size is taken off the end first, so "-1G" is not read as an option */
    if (argc < 3) {
        return cmd_usage_error(ctx, "Not enough arguments");
    }
    size_arg = argv[--argc];
    while ((c = getopt_long(argc, argv, ":f:hq", longopts, NULL)) != -1) {
        switch (c) {
        case 'h':
            return cmd_help(ctx);
        case 'f':
            fmt = optarg;
            break;
        case 'q':
            quiet = true;
            break;
        case 'P':
            if (prealloc_parse(optarg, &prealloc) < 0) {
                error_printf("Invalid preallocation mode '%s'", optarg);
                return 1;
            }
            break;
        case 'S':
            shrink = true;
            break;
        default:
            return cmd_getopt_error(ctx, c, argv);
        }
    }
    cmd_default_image(ctx, &argc, &argv, 1);
    if (optind != argc - 1) {
        return cmd_usage_error(ctx, "Expecting image file name and size");
    }
    if (size_arg[0] == '+' || size_arg[0] == '-') {
        relative = size_arg[0] == '+' ? 1 : -1;
        size_arg++;
    }
    if (opt_parse_size("size", size_arg, &n, &err) < 0) {
        err_report(&err);
        return 1;
    }

    if (image_open(&img, argv[optind], fmt, IMG_RDWR, CACHE_WRITEBACK, &err) < 0) {
        err_report(&err);
        return 1;
    }
    /* two's complement arithmetic on purpose: 8E and beyond come out negative, as in qemu */
    total = relative ? (int64_t)(img->size + (uint64_t)relative * n) : (int64_t)n;
    ret = 1;
    if (total <= 0) {
        error_printf("New image size must be positive");
    } else if ((uint64_t)total <= img->size && prealloc != PREALLOC_OFF) {
        error_printf("Preallocation can only be used for growing images");
    } else if ((uint64_t)total < img->size && !shrink) {
        error_printf("Use the --shrink option to perform a shrink operation.");
        warn_printf("Shrinking an image will delete all data beyond the shrunken image's end. "
                    "Before performing such an operation, make sure there is no important "
                    "data there.");
    } else if ((uint64_t)total > MAX_IMAGE_LENGTH) {
        error_printf("offset(%" PRIu64 ") exceeds maximum(%" PRIu64 ")", (uint64_t)total,
                     MAX_IMAGE_LENGTH);
    } else if (image_truncate(img, (uint64_t)total, shrink, prealloc, &err) < 0 ||
               image_flush(img, &err) < 0) {
        err_report(&err);
    } else {
        ret = 0;
        if (!quiet) {
            printf("Image resized.\n");
        }
    }
    image_close(img);
    return ret;
}
