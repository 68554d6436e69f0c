/*
 * main.c - entry point. argv[0] selects the personality:
 *   qemu-img  behave as qemu-img 7.2 (same syntax, output, exit codes)
 *   qemu-io   behave as qemu-io 7.2
 *   anything else: imgsh, whose first argument is a command or an image
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../engine/cmd.h"
#include "../engine/err.h"
#include "../engine/qemuio.h"

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* qemu-img and imgsh share this: global options, then one command. */
static int run_command_line(struct cmd_ctx *ctx, int argc, char **argv)
{
    static const struct option longopts[] = {
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    int c;

    if (argc < 2) {
        return cmd_usage_error(ctx, "Not enough arguments");
    }
    optind = 0;
    while ((c = getopt_long(argc, argv, "+:hV", longopts, NULL)) != -1) {
        switch (c) {
        case 'h':
            return cmd_print_help(ctx, stdout);
        case 'V':
            cmd_print_version(ctx, stdout);
            return 0;
        default:
            return cmd_getopt_error(ctx, c, argv);
        }
    }
    if (optind >= argc) {
        return 0;               /* "qemu-img --": qemu-img quietly does nothing too */
    }
    argv += optind;
    argc -= optind;
    return cmd_run(ctx, argc, argv);
}

int main(int argc, char **argv)
{
    const char *name = base_name(argv[0]);

    if (!strcmp(name, "qemu-img")) {
        struct cmd_ctx ctx = { .qemu_img = true, .prog = "qemu-img" };
        prog_name = "qemu-img";
        return run_command_line(&ctx, argc, argv);
    }
    if (!strcmp(name, "qemu-io")) {
        prog_name = "qemu-io";
        return qemuio_main(argc, argv);
    }

    struct cmd_ctx ctx = { .qemu_img = false, .prog = "imgsh" };
    prog_name = "imgsh";
    if (argc < 2 || (argv[1][0] != '-' && !cmd_lookup(argv[1]) && access(argv[1], F_OK) == 0)) {
        error_printf("the interactive shell is not available yet; "
                     "run 'imgsh --help' for the commands");
        return 1;
    }
    return run_command_line(&ctx, argc, argv);
}
