/* cmd.c - command lookup, dispatch and the help texts; see cmd.h. */
#include "cmd.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>

#include "../formats/format.h"
#include "err.h"
#include "size.h"
#include "version.h"

const struct cmd *cmd_lookup(const char *name)
{
    for (const struct cmd *c = commands; c->name; c++) {
        if (!strcmp(c->name, name)) {
            return c;
        }
    }
    return NULL;
}

int cmd_run(struct cmd_ctx *ctx, int argc, char **argv)
{
    const struct cmd *c = cmd_lookup(argv[0]);

    if (!c || (ctx->qemu_img && !(c->flags & CMD_COMPAT))) {
        return cmd_usage_error(ctx, "Command not found: %s", argv[0]);
    }
    ctx->cmd = c;
    if (!ctx->qemu_img && argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        return cmd_help(ctx);   /* qemu-img resize --help would want a size first */
    }
    optind = 0;             /* full getopt reset: commands may run many times */
    return c->handler(ctx, argc, argv);
}

int cmd_usage_error(struct cmd_ctx *ctx, const char *fmt, ...)
{
    va_list ap;

    fflush(stdout);
    fprintf(stderr, "%s: ", ctx->prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry '%s --help' for more information\n", ctx->prog);
    return 1;
}

int cmd_getopt_error(struct cmd_ctx *ctx, int c, char **argv)
{
    if (c == ':') {
        return cmd_usage_error(ctx, "missing argument for option '%s'", argv[optind - 1]);
    }
    return cmd_usage_error(ctx, "unrecognized option '%s'", argv[optind - 1]);
}

int cmd_parse_output(const char *arg, enum output_format *out)
{
    if (!strcmp(arg, "json")) {
        *out = OUTPUT_JSON;
    } else if (!strcmp(arg, "human")) {
        *out = OUTPUT_HUMAN;
    } else {
        error_printf("--output must be used with human or json as argument.");
        return -1;
    }
    return 0;
}

int cmd_parse_size(const char *what, const char *arg, int64_t *out)
{
    uint64_t v;
    int ret = size_parse(arg, &v);

    if (ret == -ERANGE || (ret == 0 && v > INT64_MAX)) {
        error_printf("Invalid %s specified. Must be between 0 and %" PRId64 ".", what, INT64_MAX);
        return -1;
    }
    if (ret < 0) {
        error_printf("Invalid %s specified. You may use k, M, G, T, P or E suffixes for", what);
        error_printf("kilobytes, megabytes, gigabytes, terabytes, petabytes and exabytes.");
        return -1;
    }
    *out = (int64_t)v;
    return 0;
}

void cmd_print_version(struct cmd_ctx *ctx, FILE *f)
{
    if (ctx->qemu_img) {
        fprintf(f, "qemu-img version %s (imgsh %s)\n", QEMU_COMPAT_VERSION, IMGSH_VERSION);
    } else {
        fprintf(f, "imgsh version %s (qemu-img %s compatible)\n", IMGSH_VERSION,
                QEMU_COMPAT_VERSION);
    }
    fprintf(f, "Copyright (c) 2026 the imgsh developers\n");
}

static void print_formats(FILE *f)
{
    fputs("Supported formats:", f);
    for (size_t i = 0; fmt_drivers[i]; i++) {
        fprintf(f, " %s", fmt_drivers[i]->name);
    }
    fputc('\n', f);
}

static const char qemu_img_params[] =
    "Command parameters:\n"
    "  'filename' is a disk image filename\n"
    "  'fmt' is the disk image format. It is guessed automatically in most cases\n"
    "  'size' is the disk image size in bytes. Optional suffixes\n"
    "    'k' or 'K' (kilobyte, 1024), 'M' (megabyte, 1024k), 'G' (gigabyte, 1024M),\n"
    "    'T' (terabyte, 1024G), 'P' (petabyte, 1024T) and 'E' (exabyte, 1024P)  are\n"
    "    supported. 'b' is ignored.\n"
    "  'options' is a comma separated list of format specific options in a\n"
    "    name=value format. Use -o help for an overview of the options supported by\n"
    "    the used format\n"
    "  '-h' with or without a command shows this help and lists the supported formats\n"
    "  '-q' use Quiet mode - do not print any output (except errors)\n"
    "  '--output' takes the format in which the output must be done (human or json)\n";

int cmd_print_help(struct cmd_ctx *ctx, FILE *f)
{
    cmd_print_version(ctx, f);
    if (ctx->qemu_img) {
        fputs("usage: qemu-img [standard options] command [command options]\n"
              "QEMU disk image utility\n\n"
              "    '-h', '--help'       display this help and exit\n"
              "    '-V', '--version'    output version information and exit\n\n"
              "Command syntax:\n", f);
        for (const struct cmd *c = commands; c->name; c++) {
            if (c->flags & CMD_COMPAT) {
                fprintf(f, "  %s %s\n", c->name, c->synopsis);
            }
        }
        fprintf(f, "\n%s\n", qemu_img_params);
        print_formats(f);
        return 0;
    }
    fputs("usage: imgsh [options] [IMAGE...]        interactive shell on the images\n"
          "       imgsh COMMAND [command options]   run one command, as qemu-img does\n"
          "Inspect, convert and repair disk images; a drop-in qemu-img 7.2.\n\n"
          "    '-h', '--help'       display this help and exit\n"
          "    '-V', '--version'    output version information and exit\n\n"
          "Commands:\n", f);
    for (const struct cmd *c = commands; c->name; c++) {
        fprintf(f, "  %-10s %s\n", c->name, c->summary);
    }
    fprintf(f, "\nRun 'imgsh COMMAND --help' for a command's options.\n"
               "Invoked as 'qemu-img' (a link of that name) imgsh behaves as qemu-img.\n\n");
    print_formats(f);
    return 0;
}

int cmd_help(struct cmd_ctx *ctx)
{
    const struct cmd *c = ctx->cmd;

    if (ctx->qemu_img || !c) {
        return cmd_print_help(ctx, stdout);
    }
    printf("usage: %s %s %s\n%s.\n", ctx->prog, c->name, c->synopsis, c->summary);
    if (c->details) {
        printf("\n%s", c->details);
    }
    return 0;
}
