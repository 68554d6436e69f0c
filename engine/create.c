/* create.c - "create": make a new image, as qemu-img create does. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "block.h"
#include "cmd.h"
#include "size.h"
#include "util.h"

/*
 * Append one -o argument to the accumulated option string, as qemu-img
 * does ("a,b"). Prints qemu-img's message and returns -1 when malformed.
 */
int cmd_accumulate_options(char **options, const char *arg)
{
    char *joined;

    if (!opts_string_valid(arg)) {
        error_printf("Invalid option list: %s", arg);
        return -1;
    }
    joined = *options ? xasprintf("%s,%s", *options, arg) : xstrdup(arg);
    free(*options);
    *options = joined;
    return 0;
}

/*
 * "-o help": the options of fmt's create, merged with the file protocol's
 * when a target filename is known. Returns the exit code.
 */
int cmd_print_create_help(const char *fmt, const char *filename)
{
    const struct fmt_driver *drv = fmt_find(fmt);
    struct opt_desc *desc;

    if (!drv) {
        error_printf("Unknown file format '%s'", fmt);
        return 1;
    }
    if (!drv->create) {
        error_printf("Format driver '%s' does not support image creation", fmt);
        return 1;
    }
    desc = image_create_opts(drv, filename != NULL);
    if (filename) {
        printf("Supported options:\n");
    } else {
        printf("Supported %s options:\n", fmt);
    }
    opt_desc_print_help(stdout, desc);
    if (!filename) {
        printf("\nThe protocol level may support further options.\n"
               "Specify the target filename to include those options.\n");
    }
    free(desc);
    return 0;
}

/* Parse the size argument of create; prints qemu-img's messages. */
static int parse_image_size(const char *arg, int64_t *out)
{
    uint64_t v;
    int ret = size_parse(arg, &v);

    if (ret == -ERANGE || (ret == 0 && v > INT64_MAX)) {
        error_printf("Invalid image size specified. Must be between 0 and %" PRId64 ".",
                     INT64_MAX);
        return -1;
    }
    if (ret < 0) {
        error_printf("Invalid image size specified. You may use k, M, G, T, P or E suffixes for");
        error_printf("kilobytes, megabytes, gigabytes, terabytes, petabytes and exabytes.");
        return -1;
    }
    *out = (int64_t)v;
    return 0;
}

/* Everything after argument parsing; errors are reported as "FILE: msg". */
static int do_create(const char *filename, const char *fmt, const char *options,
                     const char *backing, int64_t size, bool quiet, struct err *err)
{
    const struct fmt_driver *drv = fmt_find(fmt);
    struct opts opts = { 0 };
    struct opt_desc *desc = NULL;
    uint64_t sz;
    int ret;

    if (!drv) {
        return err_set(err, -EINVAL, "Unknown file format '%s'", fmt);
    }
    if (!drv->create) {
        return err_set(err, -ENOTSUP, "Format driver '%s' does not support image creation", fmt);
    }
    desc = image_create_opts(drv, true);
    if (options) {
        opts_parse(&opts, options, err);
        ret = opts_validate(&opts, desc, err);
        if (ret < 0) {
            goto out;
        }
    }
    if (backing && !opt_desc_find(desc, "backing_file")) {
        ret = err_set(err, -ENOTSUP, "Backing file not supported for file format '%s'", fmt);
        goto out;
    }
    if (opts_get(&opts, "size")) {
        if (size >= 0) {
            ret = err_set(err, -EINVAL, "The image size must be specified only once");
            goto out;
        }
        size_parse_quiet(opts_get(&opts, "size"), &sz, false);     /* validated above */
        if (sz == UINT64_MAX) {
            /* qemu uses -1 for "no size given", so 2^64-1 means none */
            ret = err_set(err, -EINVAL, "Image creation needs a size parameter");
            goto out;
        }
    } else if (size < 0) {
        ret = err_set(err, -EINVAL, "Image creation needs a size parameter");
        goto out;
    } else {
        char num[32];
        snprintf(num, sizeof(num), "%" PRId64, size);
        opts_set(&opts, "size", num);
    }
    if (!quiet) {
        printf("Formatting '%s', fmt=%s ", filename, fmt);
        opts_print_values(stdout, &opts, desc);
        printf("\n");
        fflush(stdout);
    }
    ret = drv->create(filename, &opts, err);
    if (ret == -EFBIG) {
        err_clear(err);
        ret = err_set(err, -EFBIG, "The image size is too large for file format '%s'", fmt);
    }
out:
    free(desc);
    opts_free(&opts);
    return ret;
}

int cmd_create(struct cmd_ctx *ctx, int argc, char **argv)
{
    static const struct option longopts[] = {
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *fmt = "raw", *backing = NULL, *filename;
    char *options = NULL;
    bool quiet = false;
    int64_t size = -1;
    struct err err = { 0 };
    int c, ret;

    while ((c = getopt_long(argc, argv, ":F:b:f:ho:qu", longopts, NULL)) != -1) {
        switch (c) {
        case 'h':
            free(options);
            return cmd_help(ctx);
        case 'f':
            fmt = optarg;
            break;
        case 'b':
            backing = optarg;
            break;
        case 'F':
        case 'u':
            break;      /* only meaningful with -b, which raw refuses */
        case 'o':
            if (cmd_accumulate_options(&options, optarg) < 0) {
                free(options);
                return 1;
            }
            break;
        case 'q':
            quiet = true;
            break;
        default:
            free(options);
            return cmd_getopt_error(ctx, c, argv);
        }
    }

    if (options) {
        struct opts o = { 0 };
        bool help;
        opts_parse(&o, options, NULL);
        help = opts_has_help(&o);
        opts_free(&o);
        if (help) {
            free(options);
            return cmd_print_create_help(fmt, optind < argc ? argv[optind] : NULL);
        }
    }
    if (optind >= argc) {
        free(options);
        return cmd_usage_error(ctx, "Expecting image file name");
    }
    filename = argv[optind++];
    if (optind < argc) {
        if (parse_image_size(argv[optind++], &size) < 0) {
            free(options);
            return 1;
        }
    }
    if (optind != argc) {
        free(options);
        return cmd_usage_error(ctx, "Unexpected argument: %s", argv[optind]);
    }

    ret = do_create(filename, fmt, options, backing, size, quiet, &err);
    free(options);
    if (ret < 0) {
        err_prepend(&err, "%s: ", filename);
        err_report(&err);
        return 1;
    }
    return 0;
}
