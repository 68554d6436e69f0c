/*
 * qemuio_cli.c - the qemu-io program: its options, opening the image named
 * on the command line, then the -c commands in order or, without -c, the
 * commands read from standard input; see qemuio.h.
 *
 * As qemu-io 7.2: the prompt "qemu-io> " is printed before every line also
 * when the input is not a terminal (lines are then read 1023 bytes at most
 * at a time, with no editing); on a terminal the line is edited with
 * libedit. The exit code is 1 when opening failed or any command failed.
 */
#include <editline/readline.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "opts.h"
#include "qemuio.h"
#include "secret.h"
#include "util.h"
#include "version.h"

enum {
    OPTION_OBJECT = 256,
    OPTION_IMAGE_OPTS = 257,
};

static const char *progname = "qemu-io";

static void usage(void)
{
    printf("Usage: %s [OPTIONS]... [-c STRING]... [file]\n"
           "QEMU Disk exerciser\n"
           "\n"
           "  --object OBJECTDEF   define an object such as 'secret' for\n"
           "                       passwords and/or encryption keys\n"
           "  --image-opts         treat file as option string\n"
           "  -c, --cmd STRING     execute command with its arguments\n"
           "                       from the given string\n"
           "  -f, --format FMT     specifies the block driver to use\n"
           "  -r, --read-only      export read-only\n"
           "  -s, --snapshot       use snapshot file\n"
           "  -n, --nocache        disable host cache, short for -t none\n"
           "  -C, --copy-on-read   enable copy-on-read\n"
           "  -m, --misalign       misalign allocations for O_DIRECT\n"
           "  -k, --native-aio     use kernel AIO implementation\n"
           "                       (Linux only, prefer use of -i)\n"
           "  -i, --aio=MODE       use AIO mode (threads, native or io_uring)\n"
           "  -t, --cache=MODE     use the given cache mode for the image\n"
           "  -d, --discard=MODE   use the given discard mode for the image\n"
           "  -T, --trace [[enable=]<pattern>][,events=<file>][,file=<file>]\n"
           "                       specify tracing options\n"
           "                       see qemu-img(1) man page for full description\n"
           "  -U, --force-share    force shared permissions\n"
           "  -h, --help           display this help and exit\n"
           "  -V, --version        output version information and exit\n"
           "\n"
           "See '%s -c help' for information on available commands.\n"
           "\n"
           "See <https://qemu.org/contribute/report-a-bug> for how to report bugs.\n"
           "More information on the QEMU project at <https://qemu.org>.\n",
           progname, progname);
}

/* --- reading commands --- */

static void add_match(const char *name, void *opaque)
{
    char ***list = opaque;
    size_t n = 0;

    while ((*list)[n]) {
        n++;
    }
    *list = xrealloc(*list, (n + 2) * sizeof(**list));
    (*list)[n] = strdup(name);      /* libedit frees the matches with free() */
    (*list)[n + 1] = NULL;
}

/* libedit completion: command names for the first word only. */
static char **complete(const char *text, int start, int end)
{
    char **list;

    (void)end;
    rl_attempted_completion_over = 1;
    if (start != 0) {
        return NULL;
    }
    list = xcalloc(2, sizeof(*list));
    list[0] = strdup(text);         /* [0] is the common prefix libedit substitutes */
    qemuio_complete(text, add_match, &list);
    if (!list[1]) {
        free(list[0]);
        free(list);
        return NULL;
    }
    if (!list[2]) {                 /* one match: it replaces the word */
        free(list[0]);
        list[0] = strdup(list[1]);
        free(list[1]);
        list[1] = NULL;
    }
    return list;
}

/* The next line without its newline, or NULL at the end of input. Free with free(). */
static char *fetch_line(bool tty, const char *prompt)
{
    char *line;

    if (tty) {
        line = readline(prompt);
        if (line && *line) {
            add_history(line);
        }
        return line;
    }
    printf("%s", prompt);
    fflush(stdout);
    line = xmalloc(1024);
    if (!fgets(line, 1024, stdin)) {
        free(line);
        return NULL;
    }
    line[strcspn(line, "\n")] = '\0';
    return line;
}

/* Run every -c command, or the lines of standard input. Returns the last error. */
static int command_loop(struct qemuio *q, char **cmds, int ncmds)
{
    int last_error = 0;

    if (ncmds) {
        for (int i = 0; i < ncmds && !qemuio_quit_requested(q); i++) {
            int ret = qemuio_run_command(q, cmds[i]);
            if (ret < 0) {
                last_error = ret;
            }
        }
        return last_error;
    }

    bool tty = isatty(STDIN_FILENO);
    char *prompt = xasprintf("%s> ", progname);

    if (tty) {
        rl_readline_name = "qemu-io";
        rl_attempted_completion_function = complete;
    }
    while (!qemuio_quit_requested(q)) {
        char *line = fetch_line(tty, prompt);
        int ret;

        if (!line) {
            break;
        }
        ret = qemuio_run_command(q, line);
        if (ret < 0) {
            last_error = ret;
        }
        free(line);
    }
    free(prompt);
    return last_error;
}

/* --- the program --- */

/* Options imgsh takes but cannot honour: a clear error instead of a silent difference. */
static int unsupported(const char *opt)
{
    error_printf("option %s is not supported by imgsh", opt);
    return 1;
}

int qemuio_main(int argc, char **argv)
{
    static const char sopt[] = "hVc:d:f:rsnCmki:t:T:U";
    static const struct option lopt[] = {
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { "cmd", required_argument, NULL, 'c' },
        { "format", required_argument, NULL, 'f' },
        { "read-only", no_argument, NULL, 'r' },
        { "snapshot", no_argument, NULL, 's' },
        { "nocache", no_argument, NULL, 'n' },
        { "copy-on-read", no_argument, NULL, 'C' },
        { "misalign", no_argument, NULL, 'm' },
        { "native-aio", no_argument, NULL, 'k' },
        { "aio", required_argument, NULL, 'i' },
        { "discard", required_argument, NULL, 'd' },
        { "cache", required_argument, NULL, 't' },
        { "trace", required_argument, NULL, 'T' },
        { "object", required_argument, NULL, OPTION_OBJECT },
        { "image-opts", no_argument, NULL, OPTION_IMAGE_OPTS },
        { "force-share", no_argument, NULL, 'U' },
        { NULL, 0, NULL, 0 },
    };
    struct qemuio_open_args a = { .writethrough = true };
    struct qemuio *q = NULL;
    struct opts opts = { 0 };
    const char *format = NULL, *slash = strrchr(argv[0], '/');
    char **cmds = xcalloc((size_t)argc, sizeof(*cmds));
    bool image_opts = false;
    int ncmds = 0, c, ret, status = -1;     /* the exit code, once known */
    struct err err = { 0 };

    progname = slash ? slash + 1 : argv[0];
    signal(SIGPIPE, SIG_IGN);
    optind = 0;
    while (status < 0 && (c = getopt_long(argc, argv, sopt, lopt, NULL)) != -1) {
        switch (c) {
        case 's':
            a.snapshot = true;
            break;
        case 'n':
            a.cache_direct = true;
            a.writethrough = false;
            break;
        case 'C':
            a.copy_on_read = true;
            break;
        case 'd':
            if (qemuio_parse_discard(optarg, &a) < 0) {
                error_printf("Invalid discard option: %s", optarg);
                status = 1;
            }
            break;
        case 'f':
            format = optarg;
            break;
        case 'c':
            cmds[ncmds++] = optarg;
            break;
        case 'r':
            a.read_only = true;
            break;
        case 'm':
            break;              /* misaligned buffers change nothing for imgsh */
        case 'k':
            a.native_aio = true;
            break;
        case 'i':
            if (qemuio_parse_aio(optarg, &a) < 0) {
                error_printf("Invalid aio option: %s", optarg);
                status = 1;
            }
            break;
        case 't':
            if (qemuio_parse_cache(optarg, &a) < 0) {
                error_printf("Invalid cache option: %s", optarg);
                status = 1;
            }
            break;
        case 'T':
            status = unsupported("-T/--trace");
            break;
        case 'V':
            printf("%s version %s (imgsh %s)\n", progname, QEMU_COMPAT_VERSION, IMGSH_VERSION);
            status = 0;
            break;
        case 'h':
            usage();
            status = 0;
            break;
        case 'U':
            a.force_share = true;
            break;
        case OPTION_OBJECT:
            ret = object_add_cmdline(optarg, &err);
            if (ret < 0) {
                err_report(&err);
                status = 1;
            } else if (ret > 0) {
                status = 0;     /* help was asked for and printed */
            }
            break;
        case OPTION_IMAGE_OPTS:
            image_opts = true;
            break;
        default:
            usage();
            status = 1;
        }
    }
    if (status >= 0) {
        goto out;
    }
    if (argc - optind > 1) {
        usage();
        status = 1;
        goto out;
    }
    if (format && image_opts) {
        error_printf("--image-opts and -f are mutually exclusive");
        status = 1;
        goto out;
    }

    q = qemuio_new();
    qemuio_set_image_opts(q, image_opts);
    if (argc - optind == 1) {
        if (image_opts) {
            qemuio_parse_opts(&opts, argv[optind]);
            ret = qemuio_open(q, NULL, &opts, &a);
        } else {
            if (format) {
                opts_set(&opts, "driver", format);
            }
            ret = qemuio_open(q, argv[optind], &opts, &a);
        }
        if (ret < 0) {
            status = 1;
            goto out;
        }
    }
    status = command_loop(q, cmds, ncmds) < 0 ? 1 : 0;
out:
    qemuio_free(q);
    opts_free(&opts);
    secret_clear_all();
    free(cmds);
    return status;
}
