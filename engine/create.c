/* create.c - "create": make a new image, as qemu-img create does. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "block.h"
#include "cmd.h"
#include "info.h"
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

/* What the command line says about the image besides its options. */
struct create_args {
    const char *filename;
    const char *fmt;
    const char *options;
    const char *backing;        /* -b */
    const char *backing_fmt;    /* -F */
    bool no_backing;            /* -u: do not open the backing file */
    int64_t size;               /* -1: none given */
    bool quiet;
};

/*
 * The size from -o size= or the command line into opts; *have tells
 * whether there is one (qemu reads 2^64-1 as "none").
 */
static int set_size(struct opts *opts, int64_t size, bool *have, struct err *err)
{
    uint64_t sz;

    *have = false;
    if (opts_get(opts, "size")) {
        if (size >= 0) {
            return err_set(err, -EINVAL, "The image size must be specified only once");
        }
        size_parse_quiet(opts_get(opts, "size"), &sz, false);      /* validated above */
        *have = sz != UINT64_MAX;
    } else if (size >= 0) {
        char num[32];
        snprintf(num, sizeof(num), "%" PRId64, size);
        opts_set(opts, "size", num);
        *have = true;
    }
    return 0;
}

/* -b and -F into opts, where the format has such options. */
static int set_backing(const struct create_args *a, struct opts *opts,
                       const struct opt_desc *desc, struct err *err)
{
    const char *name;

    if (a->backing) {
        if (!opt_desc_find(desc, "backing_file")) {
            return err_set(err, -ENOTSUP, "Backing file not supported for file format '%s'",
                           a->fmt);
        }
        opts_set(opts, "backing_file", a->backing);
    }
    if (a->backing_fmt) {
        if (!opt_desc_find(desc, "backing_fmt")) {
            return err_set(err, -ENOTSUP,
                           "Backing file format not supported for file format '%s'", a->fmt);
        }
        opts_set(opts, "backing_fmt", a->backing_fmt);
    }
    name = opts_get(opts, "backing_file");
    if (name && !strcmp(name, a->filename)) {
        return err_set(err, -EINVAL, "Error: Trying to create an image with the same filename "
                       "as the backing file");
    }
    if (name && !name[0]) {
        return err_set(err, -EINVAL, "Expected backing file name, got empty string");
    }
    return 0;
}

/*
 * As qemu-img does unless -u: open the backing file (metadata only, as a
 * backing file is opened), insist on a backing format, and take the size
 * from it when none was given. *hint gets text qemu prints after the
 * message (with no newline of its own after "Detected format of X.").
 */
static int check_backing(const struct create_args *a, struct opts *opts, bool *have_size,
                         const char **hint, struct err *err)
{
    const char *name = opts_get(opts, "backing_file"), *fmt = opts_get(opts, "backing_fmt");
    static char detected[64];
    struct image *img;
    char *path, *prefix;
    int ret;

    if (!name || a->no_backing) {
        return name && !fmt ? err_set(err, -EINVAL,
                                      "Backing file specified without backing format") : 0;
    }
    path = backing_full_path(a->filename, name);
    ret = image_open(&img, path, fmt, IMG_NO_IO | IMG_FORCE_SHARE | IMG_QUIET, CACHE_WRITEBACK,
                     err);
    if (ret < 0) {
        /* qemu reports the open error itself, without image_open()'s "Could not open" prefix */
        prefix = xasprintf("Could not open '%s': ", path);
        if (err && !strncmp(err->msg, prefix, strlen(prefix))) {
            memmove(err->msg, err->msg + strlen(prefix), strlen(err->msg + strlen(prefix)) + 1);
        }
        free(prefix);
        free(path);
        *hint = "Could not open backing image.\n";
        return ret;
    }
    free(path);
    if (!fmt) {
        snprintf(detected, sizeof(detected), "Detected format of %s.", img->drv->name);
        *hint = detected;
        image_close(img);
        return err_set(err, -EINVAL, "Backing file specified without backing format");
    }
    if (!*have_size) {
        char num[32];
        snprintf(num, sizeof(num), "%" PRIu64, round_up(img->size, 512));
        opts_set(opts, "size", num);
        *have_size = true;
    }
    image_close(img);
    return 0;
}

/* qemu-img's message for a size the format cannot hold. */
static int too_large(const struct create_args *a, struct opts *opts,
                     const struct opt_desc *desc, struct err *err)
{
    const struct opt_desc *cs = opt_desc_find(desc, "cluster_size");
    const char *v = opts_get(opts, "cluster_size");
    uint64_t n = 0;

    if (cs) {
        opt_parse_size("cluster_size", v ? v : cs->def ? cs->def : "0", &n, NULL);
    }
    err_clear(err);
    return err_set(err, -EFBIG, "The image size is too large for file format '%s'%s", a->fmt,
                   n ? " (try using a larger cluster size)" : "");
}

/* Everything after argument parsing; errors are reported as "FILE: msg" (then *hint). */
static int do_create(const struct create_args *a, const char **hint, struct err *err)
{
    const struct fmt_driver *drv = fmt_find(a->fmt);
    struct opts opts = { 0 };
    struct opt_desc *desc = NULL;
    bool have_size;
    int ret;

    if (!drv) {
        return err_set(err, -EINVAL, "Unknown file format '%s'", a->fmt);
    }
    if (!drv->create) {
        return err_set(err, -ENOTSUP, "Format driver '%s' does not support image creation",
                       a->fmt);
    }
    desc = image_create_opts(drv, true);
    if (a->options) {
        opts_parse(&opts, a->options, err);
        ret = opts_validate(&opts, desc, err);
        if (ret < 0) {
            goto out;
        }
    }
    if ((ret = set_size(&opts, a->size, &have_size, err)) < 0 ||
        (ret = set_backing(a, &opts, desc, err)) < 0 ||
        (ret = check_backing(a, &opts, &have_size, hint, err)) < 0) {
        goto out;
    }
    if (!have_size) {
        ret = err_set(err, -EINVAL, "Image creation needs a size parameter");
        goto out;
    }
    if (!a->quiet) {
        printf("Formatting '%s', fmt=%s ", a->filename, a->fmt);
        opts_print_values(stdout, &opts, desc);
        printf("\n");
        fflush(stdout);
    }
    ret = drv->create(a->filename, &opts, err);
    if (ret == -EFBIG) {
        ret = too_large(a, &opts, desc, err);
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
    struct create_args a = { .fmt = "raw", .size = -1 };
    const char *hint = NULL;
    char *options = NULL;
    struct err err = { 0 };
    int c, ret;

    while ((c = getopt_long(argc, argv, ":F:b:f:ho:qu", longopts, NULL)) != -1) {
        switch (c) {
        case 'h':
            free(options);
            return cmd_help(ctx);
        case 'f':
            a.fmt = optarg;
            break;
        case 'b':
            a.backing = optarg;
            break;
        case 'F':
            a.backing_fmt = optarg;
            break;
        case 'u':
            a.no_backing = true;
            break;
        case 'o':
            if (cmd_accumulate_options(&options, optarg) < 0) {
                free(options);
                return 1;
            }
            break;
        case 'q':
            a.quiet = true;
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
            return cmd_print_create_help(a.fmt, optind < argc ? argv[optind] : NULL);
        }
    }
    if (optind >= argc) {
        free(options);
        return cmd_usage_error(ctx, "Expecting image file name");
    }
    a.filename = argv[optind++];
    if (optind < argc) {
        if (cmd_parse_size("image size", argv[optind++], &a.size) < 0) {
            free(options);
            return 1;
        }
    }
    if (optind != argc) {
        free(options);
        return cmd_usage_error(ctx, "Unexpected argument: %s", argv[optind]);
    }

    a.options = options;
    ret = do_create(&a, &hint, &err);
    free(options);
    if (ret < 0) {
        err_prepend(&err, "%s: ", a.filename);
        err_report(&err);
        if (hint) {
            fputs(hint, stderr);
        }
        return 1;
    }
    return 0;
}
