/* cmd.c - command lookup, dispatch and the help texts; see cmd.h. */
#include "cmd.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "../formats/format.h"
#include "block.h"
#include "err.h"
#include "size.h"
#include "util.h"
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

/*
 * "snapshot show ID", "bitmap show NAME": imgsh's two-word commands, found
 * before the one-word command of the same first word (not as qemu-img).
 */
const struct cmd *cmd_lookup_words(int argc, char **argv)
{
    char name[64];
    size_t n0, n1;

    if (argc < 2) {
        return NULL;
    }
    n0 = strlen(argv[0]);
    n1 = strlen(argv[1]);
    if (n0 + n1 + 2 > sizeof(name)) {
        return NULL;
    }
    memcpy(name, argv[0], n0);
    name[n0] = ' ';
    memcpy(name + n0 + 1, argv[1], n1 + 1);
    return cmd_lookup(name);
}

static const struct cmd *lookup_two_words(struct cmd_ctx *ctx, int argc, char **argv)
{
    return ctx->qemu_img ? NULL : cmd_lookup_words(argc, argv);
}

int cmd_run(struct cmd_ctx *ctx, int argc, char **argv)
{
    const struct cmd *c = lookup_two_words(ctx, argc, argv);
    int ret;

    if (c) {
        argc--;
        argv++;
    } else {
        c = cmd_lookup(argv[0]);
    }

    if (!c || (ctx->qemu_img && !(c->flags & CMD_COMPAT))) {
        return cmd_usage_error(ctx, "Command not found: %s", argv[0]);
    }
    ctx->cmd = c;
    if (!ctx->qemu_img && argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        return cmd_help(ctx);   /* qemu-img resize --help would want a size first */
    }
    optind = 0;             /* full getopt reset: commands may run many times */
    ret = c->handler(ctx, argc, argv);
    free(ctx->argv_alloc);
    ctx->argv_alloc = NULL;
    return ret;
}

const char *cmd_one_image(struct cmd_ctx *ctx, int *argc, char ***argv)
{
    cmd_default_image(ctx, argc, argv, 1);
    if (optind != *argc - 1) {
        cmd_usage_error(ctx, "Expecting one image file name");
        return NULL;
    }
    return (*argv)[optind];
}

void cmd_default_image(struct cmd_ctx *ctx, int *argc, char ***argv, int want)
{
    char **v;

    if (!ctx->default_image || *argc - optind != want - 1) {
        return;
    }
    v = xcalloc((size_t)*argc + 2, sizeof(*v));
    memcpy(v, *argv, (size_t)optind * sizeof(*v));
    v[optind] = (char *)ctx->default_image;
    memcpy(v + optind + 1, *argv + optind, (size_t)(*argc - optind) * sizeof(*v));
    free(ctx->argv_alloc);
    ctx->argv_alloc = v;
    *argv = v;
    (*argc)++;
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

/* A snapshot.* form with qemu's option syntax. */
static int parse_snapshot_opts(const char *arg, struct snapshot_arg *sa)
{
    char *id = NULL, *name = NULL;
    const char *p = arg;

    while (*p) {
        size_t klen = strcspn(p, "=,");
        char *key = xasprintf("%.*s", (int)klen, p);
        char *val;

        p += klen;
        if (*p == '=') {
            size_t n = 0;

            val = xmalloc(strlen(p) + 1);
            for (p++; *p; p++) {
                if (*p == ',') {
                    if (p[1] != ',') {
                        break;
                    }
                    p++;            /* ",," stands for ',' */
                }
                val[n++] = *p;
            }
            val[n] = '\0';
        } else {
            bool no = !strncmp(key, "no", 2);

            warn_printf("short-form boolean option '%s' deprecated\nPlease use %s=%s instead",
                        key, no ? key + 2 : key, no ? "off" : "on");
            if (no) {
                memmove(key, key + 2, strlen(key + 2) + 1);
            }
            val = xstrdup(no ? "off" : "on");
        }
        if (!strcmp(key, "snapshot.id")) {
            free(id);
            id = val;
        } else if (!strcmp(key, "snapshot.name")) {
            free(name);
            name = val;
        } else {
            error_printf("Invalid parameter '%s'", key);
            error_printf("Failed in parsing snapshot param '%s'", arg);
            free(key);
            free(val);
            free(id);
            free(name);
            return -1;
        }
        free(key);
        if (*p == ',') {
            p++;
        }
    }
    cmd_snapshot_arg_free(sa);
    sa->has_opts = true;
    sa->id = id;
    sa->name = name;
    return 0;
}

int cmd_parse_snapshot_arg(const char *arg, struct snapshot_arg *sa)
{
    if (!strncmp(arg, "snapshot.", 9)) {
        return parse_snapshot_opts(arg, sa);
    }
    sa->id_or_name = arg;
    return 0;
}

bool cmd_snapshot_arg_given(const struct snapshot_arg *sa)
{
    return sa->has_opts || sa->id_or_name;
}

int cmd_load_snapshot(struct image *img, const struct snapshot_arg *sa)
{
    struct err err = { 0 };
    int ret;

    if (!img->drv->snapshot_load) {
        error_printf("Failed to load snapshot: Block format '%s' used by device '' does not "
                     "support temporarily loading internal snapshots", img->drv->name);
        return -1;
    }
    if (sa->has_opts) {
        ret = image_snapshot_load(img, sa->id, sa->name, &err);
    } else {
        /* an ID first, then a name */
        ret = image_snapshot_load(img, sa->id_or_name, NULL, &err);
        if (ret < 0) {
            err_clear(&err);
            ret = image_snapshot_load(img, NULL, sa->id_or_name, &err);
        }
    }
    if (ret < 0) {
        if (strncmp(err.msg, "Failed to load snapshot: ", 25)) {
            err_prepend(&err, "Failed to load snapshot: ");
        }
        err_report(&err);
        return -1;
    }
    return 0;
}

void cmd_snapshot_arg_free(struct snapshot_arg *sa)
{
    free(sa->id);
    free(sa->name);
    sa->id = sa->name = NULL;
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
    fputs("usage: imgsh [options] [IMAGE...]        a session on the images: the\n"
          "                                         interactive shell on a terminal,\n"
          "                                         else commands from standard input\n"
          "       imgsh COMMAND [command options]   run one command, as qemu-img does\n"
          "Inspect, convert and repair disk images; a drop-in qemu-img 7.2.\n\n"
          "    '-h', '--help'       display this help and exit\n"
          "    '-V', '--version'    output version information and exit\n"
          "    '-c CMD'             run CMD in the session (repeatable), then exit\n"
          "    '-f SCRIPT'          run the commands in SCRIPT ('-': standard input)\n"
          "    '-r' | '-w'          open the images read-only (default) or read-write\n"
          "    '-U'                 force share: open the images even if in use\n"
          "    '--format FMT'       the format of the images after it (else probed)\n"
          "    '--image-opts'       the images are option strings: driver=FMT,\n"
          "                         file.filename=FILE[,read-only=on|off][,force-share=on]\n"
          "    '-e', '--errexit'    stop at the first failing command (the default\n"
          "                         but in the interactive shell)\n"
          "    '--json'             every command prints JSON\n\n"
          "Commands, as qemu-img's (in a session 'help' also lists the session's own):\n", f);
    cmd_print_list(f, 0);
    fputs("\nqcow2 inspection (read-only; --json for JSON):\n", f);
    cmd_print_list(f, CMD_INSPECT);
    fprintf(f, "\nRun 'imgsh COMMAND --help' for a command's options.\n"
               "Invoked as 'qemu-img' (a link of that name) imgsh behaves as qemu-img.\n\n");
    print_formats(f);
    return 0;
}

void cmd_print_list(FILE *f, unsigned inspect)
{
    for (const struct cmd *c = commands; c->name; c++) {
        if ((c->flags & CMD_INSPECT) == inspect) {
            fprintf(f, "  %-14s %s\n", c->name, c->summary);
        }
    }
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
