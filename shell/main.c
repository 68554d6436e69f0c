/*
 * main.c - entry point. argv[0] selects the personality:
 *   qemu-img  behave as qemu-img 7.2 (same syntax, output, exit codes)
 *   qemu-io   behave as qemu-io 7.2
 *   anything else: imgsh. When the first argument is a command ("imgsh
 *   info x.qcow2") imgsh runs it as qemu-img would; otherwise it starts a
 *   session on the images named (shell.h): commands from -c, a script
 *   from -f, the interactive shell on a terminal, or commands read from
 *   standard input.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../engine/cmd.h"
#include "../engine/err.h"
#include "../engine/qemuio.h"
#include "../engine/util.h"
#include "shell.h"

int session_repl(struct session *s);

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

/*
 * imgsh [-c CMD]... [-f SCRIPT] [-r|-w] [-U] [--format FMT] [-q] [-e]
 *       [--json] [IMAGE...]
 */
static int session_main(struct cmd_ctx *ctx, int argc, char **argv)
{
    static const struct option longopts[] = {
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { "format", required_argument, NULL, 'F' },
        { "errexit", no_argument, NULL, 'e' },
        { "json", no_argument, NULL, 'j' },
        { "force-share", no_argument, NULL, 'U' },
        { "image-opts", no_argument, NULL, 'I' },
        { NULL, 0, NULL, 0 },
    };
    const char **cmds = NULL, **files = NULL, **fmts = NULL;
    const char *script = NULL, *fmt = NULL;
    size_t ncmds = 0, nfiles = 0;
    bool rw = false, share = false, errexit = false, json = false, quiet = false;
    bool image_opts = false;
    bool interactive;
    struct session s;
    int c, ret = 0;

    optind = 0;
    /* "-": images come in order, each with the --format given before it */
    while ((c = getopt_long(argc, argv, "-:c:f:rwUqehV", longopts, NULL)) != -1) {
        switch (c) {
        case 1:
            files = xrealloc(files, (nfiles + 1) * sizeof(*files));
            fmts = xrealloc(fmts, (nfiles + 1) * sizeof(*fmts));
            files[nfiles] = optarg;
            fmts[nfiles++] = fmt;
            break;
        case 'c':
            cmds = xrealloc(cmds, (ncmds + 1) * sizeof(*cmds));
            cmds[ncmds++] = optarg;
            break;
        case 'f':
            script = optarg;
            break;
        case 'r':
            rw = false;
            break;
        case 'w':
            rw = true;
            break;
        case 'U':
            share = true;
            break;
        case 'q':
            quiet = true;
            break;
        case 'e':
            errexit = true;
            break;
        case 'j':
            json = true;
            break;
        case 'F':
            fmt = optarg;
            break;
        case 'I':
            image_opts = true;
            break;
        case 'h':
            ret = cmd_print_help(ctx, stdout);
            goto out_args;
        case 'V':
            cmd_print_version(ctx, stdout);
            goto out_args;
        default:
            ret = cmd_getopt_error(ctx, c, argv);
            goto out_args;
        }
    }
    interactive = !ncmds && !script && isatty(STDIN_FILENO);
    session_init(&s, interactive);
    s.ctx = *ctx;
    s.json = json;
    if (errexit) {
        s.errexit = true;
    }
    s.where = NULL;     /* messages about the command line's images: "imgsh: ..." */
    for (size_t i = 0; i < nfiles && ret == 0; i++) {
        ret = image_opts ? session_open_opts(&s, files[i], rw, share)
                         : session_open(&s, files[i], fmts[i], rw, share, NULL);
    }
    if (ret) {
        goto out;
    }
    if (quiet) {
        /* -q: nothing but errors, as a command's -q */
        int fd = open("/dev/null", O_WRONLY);
        fflush(stdout);
        if (fd >= 0) {
            dup2(fd, STDOUT_FILENO);
            close(fd);
        }
    }
    if (ncmds) {
        s.where = "-c";
        for (size_t i = 0; i < ncmds && !s.exit_requested; i++) {
            s.line = (unsigned)i + 1;
            if (session_run_line(&s, cmds[i]) && s.errexit) {
                break;
            }
        }
        ret = s.errexit && s.status ? s.status : session_exit_status(&s);
    } else if (script) {
        FILE *f = strcmp(script, "-") ? fopen(script, "r") : stdin;
        if (!f) {
            error_printf("could not open script '%s': %s", script, strerror(errno));
            ret = 1;
        } else {
            ret = session_run_file(&s, f, script);
            if (f != stdin) {
                fclose(f);
            }
        }
    } else if (interactive) {
        ret = session_repl(&s);
    } else {
        ret = session_run_file(&s, stdin, "<stdin>");
    }
out:
    session_free(&s);
out_args:
    free(cmds);
    free(files);
    free(fmts);
    return ret;
}

/* Options that start a session rather than name a command's global option. */
static bool is_session_option(const char *a)
{
    static const char *const opts[] = {
        "-c", "-f", "-r", "-w", "-U", "-q", "-e", "--format", "--errexit", "--json",
        "--force-share", "--image-opts", NULL,
    };

    for (size_t i = 0; opts[i]; i++) {
        size_t n = strlen(opts[i]);
        if (!strncmp(a, opts[i], n) && (a[n] == '\0' || a[n] == '=' || (a[1] != '-' && n == 2))) {
            return true;
        }
    }
    return false;
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
    if (argc < 2 || is_session_option(argv[1]) ||
        (!cmd_lookup(argv[1]) && argv[1][0] != '-' && access(argv[1], F_OK) == 0)) {
        return session_main(&ctx, argc, argv);
    }
    return run_command_line(&ctx, argc, argv);
}
