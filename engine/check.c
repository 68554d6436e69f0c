/*
 * check.c - "check": consistency check and repair of an image, as qemu-img
 * check does it: the driver's check hook counts (and with -r repairs); a
 * repair is followed by a second, read-only pass whose figures are shown
 * with the numbers fixed. Exit codes: 0 clean, 1 check failed, 2
 * corruptions, 3 leaks only, 63 format without checks.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "block.h"
#include "cmd.h"
#include "json.h"
#include "util.h"

static void print_human(const struct check_result *r)
{
    if (!(r->corruptions || r->leaks || r->check_errors)) {
        printf("No errors were found on the image.\n");
    } else {
        if (r->corruptions) {
            printf("\n%" PRIu64 " errors were found on the image.\n"
                   "Data may be corrupted, or further writes to the image may corrupt it.\n",
                   r->corruptions);
        }
        if (r->leaks) {
            printf("\n%" PRIu64 " leaked clusters were found on the image.\n"
                   "This means waste of disk space, but no harm to data.\n", r->leaks);
        }
        if (r->check_errors) {
            printf("\n%" PRIu64 " internal errors have occurred during the check.\n",
                   r->check_errors);
        }
    }
    if (r->total_clusters && r->allocated_clusters) {
        printf("%" PRIu64 "/%" PRIu64 " = %0.2f%% allocated, %0.2f%% fragmented, %0.2f%% "
               "compressed clusters\n", r->allocated_clusters, r->total_clusters,
               r->allocated_clusters * 100.0 / r->total_clusters,
               r->fragmented_clusters * 100.0 / r->allocated_clusters,
               r->compressed_clusters * 100.0 / r->allocated_clusters);
    }
    if (r->image_end_offset) {
        printf("Image end offset: %" PRIu64 "\n", r->image_end_offset);
    }
}

/* qemu's ImageCheck object: optional members only when non-zero. */
static void print_json(const struct check_result *r, const char *filename, const char *fmt)
{
    json_t *o = json_object();
    const struct { const char *key; uint64_t v; bool always; } f[] = {
        { "check-errors", r->check_errors, true },
        { "image-end-offset", r->image_end_offset, false },
        { "corruptions", r->corruptions, false },
        { "leaks", r->leaks, false },
        { "corruptions-fixed", r->corruptions_fixed, false },
        { "leaks-fixed", r->leaks_fixed, false },
        { "total-clusters", r->total_clusters, false },
        { "allocated-clusters", r->allocated_clusters, false },
        { "fragmented-clusters", r->fragmented_clusters, false },
        { "compressed-clusters", r->compressed_clusters, false },
    };

    json_obj_set_str(o, "filename", filename);
    json_obj_set_str(o, "format", fmt);
    for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
        if (f[i].always || f[i].v) {
            json_obj_set_int(o, f[i].key, (long long)f[i].v);
        }
    }
    json_print_pretty(stdout, o);
    json_decref(o);
}

/* One pass of the driver's check; -ENOTSUP when the format has none. */
static int run_check(struct image *img, struct check_result *r, unsigned fix)
{
    struct err err = { 0 };

    memset(r, 0, sizeof(*r));
    if (img->broken) {
        return -ENOMEDIUM;
    }
    if (!img->drv->check) {
        return -ENOTSUP;
    }
    return img->drv->check(img, r, fix, &err);
}

int cmd_check(struct cmd_ctx *ctx, int argc, char **argv)
{
    static const struct option longopts[] = {
        { "help", no_argument, NULL, 'h' },
        { "format", required_argument, NULL, 'f' },
        { "repair", required_argument, NULL, 'r' },
        { "output", required_argument, NULL, 'O' },
        { "force-share", no_argument, NULL, 'U' },
        { NULL, 0, NULL, 0 },
    };
    const char *fmt = NULL, *output = NULL, *cache = "writeback", *filename;
    enum output_format out = OUTPUT_HUMAN;
    enum cache_mode mode;
    unsigned flags = IMG_CHECK, fix = 0;
    bool quiet = false;
    struct check_result r;
    struct image *img;
    struct err err = { 0 };
    int c, ret;

    while ((c = getopt_long(argc, argv, ":hf:r:T:qU", longopts, NULL)) != -1) {
        switch (c) {
        case 'h':
            return cmd_help(ctx);
        case 'f':
            fmt = optarg;
            break;
        case 'r':
            flags |= IMG_RDWR;
            if (!strcmp(optarg, "leaks")) {
                fix = CHECK_FIX_LEAKS;
            } else if (!strcmp(optarg, "all")) {
                fix = CHECK_FIX_LEAKS | CHECK_FIX_ERRORS;
            } else {
                return cmd_usage_error(ctx, "Unknown option value for -r (expecting 'leaks' or "
                                       "'all'): %s", optarg);
            }
            break;
        case 'O':
            output = optarg;
            break;
        case 'T':
            cache = optarg;
            break;
        case 'q':
            quiet = true;
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
    filename = argv[optind];
    if (output && cmd_parse_output(output, &out) < 0) {
        return 1;
    }
    if (cache_mode_parse(cache, &mode) < 0) {
        error_printf("Invalid source cache option: %s", cache);
        return 1;
    }
    if ((flags & IMG_RDWR) && (flags & IMG_FORCE_SHARE)) {
        error_printf("Could not open '%s': force-share=on can only be used with read-only images",
                     filename);
        return 1;
    }
    if (image_open(&img, filename, fmt, flags, mode, &err) < 0) {
        err_report(&err);
        return 1;
    }
    ret = run_check(img, &r, fix);
    if (ret == -ENOTSUP) {
        error_printf("This image format does not support checks");
        image_close(img);
        return 63;
    }
    if (ret == 0 && (r.corruptions_fixed || r.leaks_fixed)) {
        uint64_t leaks_fixed = r.leaks_fixed, corruptions_fixed = r.corruptions_fixed;

        if (out == OUTPUT_HUMAN && !quiet) {
            printf("The following inconsistencies were found and repaired:\n\n"
                   "    %" PRIu64 " leaked clusters\n"
                   "    %" PRIu64 " corruptions\n\n"
                   "Double checking the fixed image now...\n", leaks_fixed, corruptions_fixed);
        }
        ret = run_check(img, &r, 0);
        r.leaks_fixed = leaks_fixed;
        r.corruptions_fixed = corruptions_fixed;
    }
    if (ret == 0 && !quiet) {
        if (out == OUTPUT_JSON) {
            print_json(&r, filename, img->drv->name);
        } else {
            print_human(&r);
        }
    }
    fflush(stdout);
    if (ret < 0 || r.check_errors) {
        if (ret < 0) {
            error_printf("Check failed: %s", strerror(-ret));
        } else {
            error_printf("Check failed");
        }
        ret = 1;
    } else if (r.corruptions) {
        ret = 2;
    } else if (r.leaks) {
        ret = 3;
    } else {
        ret = 0;
    }
    image_close(img);
    return ret;
}
