/* amend.c - "amend": change format options of an existing image, as qemu-img amend does. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "block.h"
#include "cmd.h"
#include "progress.h"
#include "util.h"

/* "Amend options for 'FMT':" and the option list; 1 when the format has none. */
static int print_amend_help(const char *fmt)
{
    const struct fmt_driver *drv = fmt_find(fmt);

    if (!drv) {
        error_printf("Unknown file format '%s'", fmt);
        return 1;
    }
    if (!drv->amend) {
        error_printf("Format driver '%s' does not support option amendment", fmt);
        return 1;
    }
    printf("Amend options for '%s':\n", fmt);
    opt_desc_print_help(stdout, drv->amend_opts);
    return 0;
}

int cmd_amend(struct cmd_ctx *ctx, int argc, char **argv)
{
    static const struct option longopts[] = {
        { "help", no_argument, NULL, 'h' },
        { "force", no_argument, NULL, 'F' },
        { NULL, 0, NULL, 0 },
    };
    const char *fmt = NULL, *cache = "writeback";
    char *options = NULL;
    bool quiet = false, show_progress = false, force = false;
    enum cache_mode mode;
    struct progress prog;
    struct opts opts = { 0 };
    struct image *img = NULL;
    struct err err = { 0 };
    int c, ret = 1;

    while ((c = getopt_long(argc, argv, ":ho:f:t:pq", longopts, NULL)) != -1) {
        switch (c) {
        case 'h':
            free(options);
            return cmd_help(ctx);
        case 'o':
            if (cmd_accumulate_options(&options, optarg) < 0) {
                free(options);
                return 1;
            }
            break;
        case 'f':
            fmt = optarg;
            break;
        case 't':
            cache = optarg;
            break;
        case 'p':
            show_progress = true;
            break;
        case 'q':
            quiet = true;
            break;
        case 'F':
            force = true;
            break;
        default:
            free(options);
            return cmd_getopt_error(ctx, c, argv);
        }
    }
    if (!options) {
        return cmd_usage_error(ctx, "Must specify options (-o)");
    }
    if (quiet) {
        show_progress = false;
    }
    progress_init(&prog, show_progress, 1.f);
    if (opts_parse(&opts, options, &err) < 0) {
        err_report(&err);
        goto out;
    }
    if (fmt && opts_has_help(&opts)) {
        ret = print_amend_help(fmt);
        goto out;
    }
    cmd_default_image(ctx, &argc, &argv, 1);
    if (optind != argc - 1) {
        error_printf("Expecting one image file name");
        goto out;
    }
    if (cache_mode_parse(cache, &mode) < 0) {
        error_printf("Invalid cache option: %s", cache);
        goto out;
    }
    if (image_open(&img, argv[optind], fmt, IMG_RDWR, mode, &err) < 0) {
        err_report(&err);
        goto out;
    }
    if (opts_has_help(&opts)) {
        ret = print_amend_help(img->drv->name);
        goto out;
    }
    if (!img->drv->amend) {
        error_printf("Format driver '%s' does not support option amendment", img->drv->name);
        goto out;
    }
    if (opts_validate(&opts, img->drv->amend_opts, &err) < 0) {
        struct opt_desc *all = image_create_opts(img->drv, false);
        bool creation_only = opts_validate(&opts, all, NULL) == 0;
        free(all);
        err_report(&err);
        if (creation_only) {
            fprintf(stderr, "This option is only supported for image creation\n");
        }
        goto out;
    }
    progress_print(&prog, 0, 0);
    if (img->drv->amend(img, &opts, force, &err) < 0 || image_flush(img, &err) < 0) {
        progress_print(&prog, 100, 0);
        progress_end(&prog);
        err_report(&err);
        goto out_closed;
    }
    progress_print(&prog, 100, 0);
    ret = 0;
out:
    progress_end(&prog);
out_closed:
    image_close(img);
    opts_free(&opts);
    free(options);
    return ret;
}
