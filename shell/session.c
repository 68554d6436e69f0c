/*
 * session.c - the imgsh session: images, the current image, session
 * commands, and running lines and scripts; see shell.h.
 *
 * The session keeps its images open between commands. A qemu-img command
 * opens its images itself, so the session closes its own handles around
 * it (its locks would otherwise stand in the command's way) and opens them
 * again afterwards; meanwhile a guard in the block layer refuses to open
 * read-write any image the session holds read-only, so that a read-only
 * session never writes, whatever the command.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../engine/err.h"
#include "../engine/json.h"
#include "../engine/qemuio.h"
#include "../engine/size.h"
#include "../engine/undo.h"
#include "../engine/util.h"
#include "shell.h"

static struct session *guard_session;

void session_init(struct session *s, bool interactive)
{
    undo_watch_all(true);       /* every write a command makes is journaled */
    memset(s, 0, sizeof(*s));
    s->ctx.prog = "imgsh";
    s->current = -1;
    s->interactive = interactive;
    s->errexit = !interactive;
    s->where = interactive ? NULL : "<stdin>";
}

static void image_free(struct session_image *si)
{
    if (si->img) {
        image_close(si->img);
    }
    free(si->name);
    free(si->filename);
    free(si->fmt);
}

void session_free(struct session *s)
{
    for (size_t i = 0; i < s->nimages; i++) {
        image_free(&s->images[i]);
    }
    free(s->images);
    s->images = NULL;
    s->nimages = 0;
    edits_free(s);
    if (s->log) {
        fclose(s->log);
        s->log = NULL;
    }
    if (guard_session == s) {
        image_open_guard = NULL;
        guard_session = NULL;
    }
}

/* "FILE:LINE: " in front of a message from a script, nothing interactively. */
void say_error(const struct session *s, const char *fmt, ...)
{
    va_list ap;

    fflush(stdout);
    if (s->where) {
        fprintf(stderr, "%s:%u: ", s->where, s->line);
    } else {
        fprintf(stderr, "imgsh: ");
    }
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static bool same_file(const char *a, const char *b)
{
    struct stat sa, sb;

    if (stat(a, &sa) < 0 || stat(b, &sb) < 0) {
        return !strcmp(a, b);
    }
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* The block layer's guard: no read-write open of an image the session holds read-only. */
static int rw_guard(const char *filename, struct err *err)
{
    struct session *s = guard_session;

    for (size_t i = 0; s && i < s->nimages; i++) {
        if (!s->images[i].rw && same_file(filename, s->images[i].filename)) {
            return err_set(err, -EACCES, "'%s' is open read-only in this session; run 'reopen -w "
                           "%s' to allow writes", s->images[i].name, s->images[i].name);
        }
    }
    return 0;
}

static long find_image(const struct session *s, const char *name);

long find_image_name(const struct session *s, const char *name)
{
    return find_image(s, name);
}

static long find_image(const struct session *s, const char *name)
{
    for (size_t i = 0; i < s->nimages; i++) {
        if (!strcmp(s->images[i].name, name)) {
            return (long)i;
        }
    }
    for (size_t i = 0; i < s->nimages; i++) {
        if (same_file(s->images[i].filename, name)) {
            return (long)i;
        }
    }
    return -1;
}

/*
 * The session's handle on an image: read-only even for an image open
 * read-write, so that nothing is written outside a command (whose writes
 * the undo journal records): commands open the image themselves, and a
 * read-write open repairs a dirty image, marks bitmaps in use, ...
 */
static int open_handle(struct session_image *si)
{
    unsigned flags = si->force_share ? IMG_FORCE_SHARE : 0;
    struct err err = { 0 };

    if (image_open(&si->img, si->filename, si->fmt, flags, CACHE_WRITEBACK, &err) < 0) {
        err_report(&err);
        si->img = NULL;
        return 1;
    }
    return 0;
}

int session_open(struct session *s, const char *filename, const char *fmt, bool rw,
                 bool force_share, const char *name)
{
    struct session_image si = { 0 };

    if (!name) {
        name = filename;
    }
    if (find_image(s, name) >= 0 && !strcmp(s->images[find_image(s, name)].name, name)) {
        say_error(s, "an image named '%s' is already open", name);
        return 1;
    }
    si.name = xstrdup(name);
    si.filename = xstrdup(filename);
    si.fmt = fmt ? xstrdup(fmt) : NULL;
    si.rw = rw;
    si.force_share = force_share;
    if (open_handle(&si)) {
        image_free(&si);
        return 1;
    }
    undo_watch(si.filename);    /* writes from the shell are journaled first */
    s->images = xrealloc(s->images, (s->nimages + 1) * sizeof(*s->images));
    s->images[s->nimages] = si;
    s->current = (long)s->nimages++;
    if (!guard_session) {
        guard_session = s;
        image_open_guard = rw_guard;
    }
    return 0;
}

int session_open_opts(struct session *s, const char *optstr, bool rw, bool force_share)
{
    struct opts o = { 0 };
    const char *file, *fmt;
    bool ro = !rw, share = force_share;
    struct err err = { 0 };
    int ret = 1;

    if (qemuio_parse_opts(&o, optstr) < 0) {
        goto out;
    }
    for (size_t i = 0; i < o.n; i++) {
        static const char *const known[] = {
            "driver", "file.filename", "filename", "read-only", "force-share", "file.driver",
            NULL,
        };
        bool ok = false;
        for (size_t k = 0; known[k]; k++) {
            ok |= !strcmp(o.v[i].name, known[k]);
        }
        if (!ok) {
            say_error(s, "--image-opts: option '%s' is not supported (driver, file.filename, "
                      "read-only, force-share)", o.v[i].name);
            goto out;
        }
    }
    file = opts_get(&o, "file.filename") ? opts_get(&o, "file.filename") : opts_get(&o, "filename");
    fmt = opts_get(&o, "driver");
    if (!file) {
        say_error(s, "--image-opts: '%s' names no file (file.filename=...)", optstr);
        goto out;
    }
    if (opts_get_bool(&o, "read-only", ro, &ro, &err) < 0 ||
        opts_get_bool(&o, "force-share", share, &share, &err) < 0) {
        err_report(&err);
        goto out;
    }
    ret = session_open(s, file, fmt, !ro, share, NULL);
out:
    opts_free(&o);
    return ret;
}

void close_handles(struct session *s)
{
    for (size_t i = 0; i < s->nimages; i++) {
        if (s->images[i].img) {
            image_close(s->images[i].img);
            s->images[i].img = NULL;
        }
    }
}

/* Open the handles again after a command; an image that no longer opens leaves the session. */
void reopen_handles(struct session *s)
{
    for (size_t i = 0; i < s->nimages;) {
        if (!s->images[i].img && open_handle(&s->images[i])) {
            say_error(s, "'%s' could not be opened again and was closed", s->images[i].name);
            image_free(&s->images[i]);
            memmove(&s->images[i], &s->images[i + 1],
                    (s->nimages - i - 1) * sizeof(*s->images));
            s->nimages--;
            if (s->current == (long)i) {
                s->current = s->nimages ? 0 : -1;
            } else if (s->current > (long)i) {
                s->current--;
            }
            continue;
        }
        i++;
    }
}

/* ------------------------------------------------------------------------ */
/* session commands                                                          */

static int sc_open(struct session *s, int argc, char **argv)
{
    const char *fmt = NULL, *file = NULL, *name = NULL;
    bool rw = false, share = false;

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-f") && i + 1 < argc) {
            fmt = argv[++i];
        } else if (!strcmp(argv[i], "-w")) {
            rw = true;
        } else if (!strcmp(argv[i], "-r")) {
            rw = false;
        } else if (!strcmp(argv[i], "-U")) {
            share = true;
        } else if (!strcmp(argv[i], "as") && file && i + 1 < argc && !name) {
            name = argv[++i];
        } else if (argv[i][0] == '-' || file) {
            say_error(s, "usage: open [-f fmt] [-w|-r] [-U] FILE [as NAME]");
            return 1;
        } else {
            file = argv[i];
        }
    }
    if (!file) {
        say_error(s, "usage: open [-f fmt] [-w|-r] [-U] FILE [as NAME]");
        return 1;
    }
    return session_open(s, file, fmt, rw, share, name);
}

/* The image argv[1] names, or the current one; -1 after a message. */
long image_arg(struct session *s, int argc, char **argv, int at)
{
    long i;

    if (argc > at) {
        i = find_image(s, argv[at]);
        if (i < 0) {
            say_error(s, "no image named '%s' is open", argv[at]);
        }
        return i;
    }
    if (s->current < 0) {
        say_error(s, "no image is open (open FILE opens one)");
    }
    return s->current;
}

static int sc_close(struct session *s, int argc, char **argv)
{
    long i;

    if (argc > 2) {
        say_error(s, "usage: close [NAME]");
        return 1;
    }
    i = image_arg(s, argc, argv, 1);
    if (i < 0) {
        return 1;
    }
    image_free(&s->images[i]);
    memmove(&s->images[i], &s->images[i + 1], (s->nimages - (size_t)i - 1) * sizeof(*s->images));
    s->nimages--;
    if (s->current == i) {
        s->current = s->nimages ? (long)s->nimages - 1 : -1;
    } else if (s->current > i) {
        s->current--;
    }
    return 0;
}

static int sc_use(struct session *s, int argc, char **argv)
{
    long i;

    if (argc != 2) {
        say_error(s, "usage: use NAME");
        return 1;
    }
    i = image_arg(s, argc, argv, 1);
    if (i < 0) {
        return 1;
    }
    s->current = i;
    return 0;
}

static int sc_reopen(struct session *s, int argc, char **argv)
{
    bool rw;
    long i;
    struct session_image *si;

    if (argc < 2 || argc > 3 || (strcmp(argv[1], "-w") && strcmp(argv[1], "-r"))) {
        say_error(s, "usage: reopen -w|-r [NAME]");
        return 1;
    }
    rw = !strcmp(argv[1], "-w");
    i = image_arg(s, argc, argv, 2);
    if (i < 0) {
        return 1;
    }
    si = &s->images[i];
    if (si->img) {
        image_close(si->img);
        si->img = NULL;
    }
    si->rw = rw;
    if (open_handle(si)) {
        si->rw = !rw;   /* back as it was */
        if (open_handle(si)) {
            say_error(s, "'%s' could not be opened again and was closed", si->name);
            char *name = xstrdup(si->name);
            char *args[] = { "close", name, NULL };
            sc_close(s, 2, args);
            free(name);
        }
        return 1;
    }
    return 0;
}

static int sc_images(struct session *s, int argc, char **argv)
{
    (void)argv;
    if (argc != 1) {
        say_error(s, "usage: images");
        return 1;
    }
    if (s->json) {
        json_t *list = json_array();
        for (size_t i = 0; i < s->nimages; i++) {
            const struct session_image *si = &s->images[i];
            json_t *o = json_object();
            json_obj_set_str(o, "name", si->name);
            json_obj_set_str(o, "filename", si->filename);
            if (si->img) {
                json_obj_set_str(o, "format", si->img->drv->name);
                json_obj_set_int(o, "virtual-size", (long long)si->img->size);
                if (si->img->backing_file) {
                    json_obj_set_str(o, "backing-filename", si->img->backing_file);
                }
            }
            json_obj_set_bool(o, "read-write", si->rw);
            json_obj_set_bool(o, "current", (long)i == s->current);
            json_array_append_new(list, o);
        }
        json_print_pretty(stdout, list);
        json_decref(list);
        return 0;
    }
    for (size_t i = 0; i < s->nimages; i++) {
        const struct session_image *si = &s->images[i];
        char size[SIZE_STR_MAX] = "?";
        const char *fmt = si->img ? si->img->drv->name : "?";

        if (si->img) {
            size_to_str(si->img->size, size);
        }
        printf("%c %-16s %-6s %10s %s", (long)i == s->current ? '*' : ' ', si->name, fmt, size,
               si->rw ? "rw" : "ro");
        for (const struct image *b = si->img ? si->img->backing : NULL; b; b = b->backing) {
            printf(" <- %s", b->filename);
        }
        printf("\n");
    }
    return 0;
}

static int sc_echo(struct session *s, int argc, char **argv)
{
    (void)s;
    for (int i = 1; i < argc; i++) {
        printf("%s%s", i > 1 ? " " : "", argv[i]);
    }
    printf("\n");
    return 0;
}

static int sc_set(struct session *s, int argc, char **argv)
{
    bool on;

    if (argc >= 2 && (!strcmp(argv[1], "header") || !strcmp(argv[1], "l1") ||
                      !strcmp(argv[1], "l2") || !strcmp(argv[1], "refcount"))) {
        return edit_set(s, argc, argv);
    }
    if (argc != 3 || (strcmp(argv[2], "on") && strcmp(argv[2], "off"))) {
        say_error(s, "usage: set errexit|json on|off, or set header|l1|l2|refcount ...");
        return 1;
    }
    on = !strcmp(argv[2], "on");
    if (!strcmp(argv[1], "errexit")) {
        s->errexit = on;
    } else if (!strcmp(argv[1], "json")) {
        s->json = on;
    } else {
        say_error(s, "unknown setting '%s' (errexit, json)", argv[1]);
        return 1;
    }
    return 0;
}

static int sc_source(struct session *s, int argc, char **argv)
{
    const char *where = s->where;
    unsigned line = s->line;
    bool errexit = s->errexit;
    FILE *f;
    int ret;

    if (argc != 2) {
        say_error(s, "usage: source FILE");
        return 1;
    }
    if (s->depth >= 16) {
        say_error(s, "source: too deeply nested");
        return 1;
    }
    f = fopen(argv[1], "r");
    if (!f) {
        say_error(s, "could not open '%s': %s", argv[1], strerror(errno));
        return 1;
    }
    s->depth++;
    ret = session_run_file(s, f, argv[1]);
    s->depth--;
    fclose(f);
    s->where = where;
    s->line = line;
    s->errexit = errexit;
    return ret;
}

static int sc_exit(struct session *s, int argc, char **argv)
{
    s->exit_status = argc > 1 ? atoi(argv[1]) : session_exit_status(s);
    s->exit_requested = true;
    return s->exit_status;
}

static int sc_help(struct session *s, int argc, char **argv);
static int sc_io(struct session *s, int argc, char **argv);
static int run_image_cmd(struct session *s, int argc, char **argv);
static int sc_log(struct session *s, int argc, char **argv);

static int sc_commit_cmd(struct session *s, int argc, char **argv)
{
    return sc_commit(s, argc, argv, run_image_cmd);
}

struct session_cmd {
    const char *name;
    int (*fn)(struct session *s, int argc, char **argv);
    const char *synopsis;
    const char *summary;
};

static const struct session_cmd session_cmds[] = {
    { "open", sc_open, "[-f fmt] [-w|-r] [-U] FILE [as NAME]",
      "open an image into the session (read-only unless -w) and make it current" },
    { "close", sc_close, "[NAME]", "close an image (default: the current one)" },
    { "images", sc_images, "", "list the open images: format, size, mode, backing chain" },
    { "use", sc_use, "NAME", "make an open image the current one" },
    { "reopen", sc_reopen, "-w|-r [NAME]", "open an image again, read-write or read-only" },
    { "set", sc_set, "errexit|json on|off | header FIELD V | l1 I V | l2 L1I I V | refcount C V",
      "session settings; or stage an edit of the current image (see pending, commit)" },
    { "feature", sc_feature, "set|clear NAME [--force]",
      "stage setting or clearing a feature bit (dirty, corrupt: after a clean check)" },
    { "pending", sc_pending, "", "list the staged edits: where, old and new bytes, why" },
    { "rollback", sc_rollback, "", "drop the staged edits" },
    { "commit", sc_commit_cmd, "",
      "write the staged edits (journaled for undo); with arguments, qemu-img's commit" },
    { "log", sc_log, "FILE|off",
      "record the commands, their output and times in FILE (it replays as a script)" },
    { "undo", sc_undo, "[--list] [--force] [NAME|FILE]",
      "restore the bytes the last writing command changed (from FILE.imgsh-undo)" },
    { "echo", sc_echo, "[WORD...]", "print the words" },
    { "source", sc_source, "FILE", "run the commands in FILE" },
    { "io", sc_io, "COMMAND [ARG...]",
      "run any qemu-io command on the current image (io map: qemu-io's map)" },
    { "help", sc_help, "[COMMAND]", "list the commands, or describe one" },
    { "exit", sc_exit, "[STATUS]", "leave the session" },
    { "quit", sc_exit, "[STATUS]", "leave the session" },
    { NULL, NULL, NULL, NULL },
};

const char *session_cmd_synopsis(const char *name)
{
    for (const struct session_cmd *c = session_cmds; c->name; c++) {
        if (!strcmp(c->name, name)) {
            return c->synopsis;
        }
    }
    return NULL;
}

/* qemu-io commands that work on the current image's data */
static const char *const data_cmds[] = {
    "read", "write", "discard", "alloc", "map", "length", "truncate", "flush", NULL,
};

static bool is_data_cmd(const char *name)
{
    for (size_t i = 0; data_cmds[i]; i++) {
        if (!strcmp(data_cmds[i], name)) {
            return true;
        }
    }
    return false;
}

static int sc_help(struct session *s, int argc, char **argv)
{
    if (argc > 2) {
        say_error(s, "usage: help [COMMAND]");
        return 1;
    }
    if (argc == 2) {
        for (const struct session_cmd *c = session_cmds; c->name; c++) {
            if (!strcmp(c->name, argv[1])) {
                printf("%s %s\n  %s\n", c->name, c->synopsis, c->summary);
                return 0;
            }
        }
        if (cmd_lookup(argv[1]) && strcmp(argv[1], "map")) {
            s->ctx.cmd = cmd_lookup(argv[1]);
            return cmd_help(&s->ctx);
        }
        if (is_data_cmd(argv[1])) {
            char line[64];
            struct qemuio *q = qemuio_new();
            snprintf(line, sizeof(line), "help %s", argv[1]);
            qemuio_run_command(q, line);
            qemuio_free(q);
            return 0;
        }
        say_error(s, "no command '%s' (help lists them)", argv[1]);
        return 1;
    }
    printf("Session commands:\n");
    for (const struct session_cmd *c = session_cmds; c->name; c++) {
        printf("  %-8s %s\n", c->name, c->summary);
    }
    printf("Image commands (as qemu-img; the current image when none is named):\n");
    cmd_print_list(stdout, 0);
    printf("qcow2 inspection (read-only; the current image when none is named):\n");
    cmd_print_list(stdout, CMD_INSPECT);
    printf("Data commands on the current image (as qemu-io):\n ");
    for (size_t i = 0; data_cmds[i]; i++) {
        printf(" %s", data_cmds[i]);
    }
    printf("\n'help COMMAND' describes one.\n");
    return 0;
}

/* ------------------------------------------------------------------------ */
/* running lines                                                             */

/*
 * Run fn in a child process in the interactive shell, so that Ctrl-C stops
 * the command (as it would stop qemu-img, leaving what qemu-img leaves) and
 * not the shell; elsewhere fn runs in this process. The session's handles
 * are closed meanwhile (the caller reopens them). Returns fn's status, or
 * 128 + the signal that ended the child.
 */
static int run_command(struct session *s, int (*fn)(struct session *, int, char **), int argc,
                       char **argv)
{
    struct sigaction ignore = { .sa_handler = SIG_IGN }, old;
    pid_t pid;
    int st;

    if (!s->interactive) {
        return fn(s, argc, argv);
    }
    fflush(stdout);
    fflush(stderr);
    pid = fork();
    if (pid < 0) {
        return fn(s, argc, argv);
    }
    if (pid == 0) {
        signal(SIGINT, SIG_DFL);
        st = fn(s, argc, argv);
        undo_end();             /* the journals this child wrote get their END records */
        fflush(stdout);
        fflush(stderr);
        _exit(st & 0xff);
    }
    sigaction(SIGINT, &ignore, &old);
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    sigaction(SIGINT, &old, NULL);
    if (WIFSIGNALED(st)) {
        printf("\n");
        say_error(s, "'%s' interrupted", argv[0]);
        return 128 + WTERMSIG(st);
    }
    return WEXITSTATUS(st);
}

/* In the child (or in this process): run a qemu-io command on the current image's own handle. */
static int data_cmd(struct session *s, int argc, char **argv)
{
    struct session_image *si = &s->images[s->current];
    unsigned flags = (si->rw ? IMG_RDWR : 0) | (si->force_share ? IMG_FORCE_SHARE : 0);
    struct err err = { 0 };
    struct image *img;
    struct qemuio *q;
    size_t len = 1;
    char *line;
    int ret;

    /* its own handle, read-write if the session may write: its writes are this command's */
    if (image_open(&img, si->filename, si->fmt, flags, CACHE_WRITEBACK, &err) < 0) {
        err_report(&err);
        return 1;
    }
    for (int i = 0; i < argc; i++) {
        len += strlen(argv[i]) + 1;
    }
    line = xcalloc(1, len);
    for (int i = 0; i < argc; i++) {
        strcat(line, argv[i]);
        strcat(line, i + 1 < argc ? " " : "");
    }
    q = qemuio_new();
    qemuio_attach(q, img);
    ret = qemuio_run_command(q, line);
    qemuio_free(q);
    image_close(img);
    free(line);
    return ret < 0 ? 1 : 0;
}

/* A qemu-io command on the current image (its words joined again: qemu-io splits at blanks). */
static int run_data_cmd(struct session *s, int argc, char **argv)
{
    const char *name = argv[0];
    struct session_image *si;
    const struct qemuio_cmd *c = NULL;
    int ret;

    for (const struct qemuio_cmd *k = qemuio_commands; k->name; k++) {
        if (!strcmp(k->name, name) || (k->altname && !strcmp(k->altname, name))) {
            c = k;
        }
    }
    if (s->current < 0) {
        if (c && (c->flags & QIO_GLOBAL)) {
            struct qemuio *q = qemuio_new();    /* help: no image needed */
            ret = qemuio_run_command(q, name);
            qemuio_free(q);
            return ret < 0 ? 1 : 0;
        }
        say_error(s, "no image is open (open FILE opens one)");
        return 1;
    }
    si = &s->images[s->current];
    if (c && (c->flags & QIO_WRITES) && !si->rw) {
        say_error(s, "'%s' is open read-only in this session; run 'reopen -w %s' to allow writes",
                  si->name, si->name);
        return 1;
    }
    close_handles(s);           /* data_cmd opens its own handle */
    ret = run_command(s, data_cmd, argc, argv);
    reopen_handles(s);
    return ret;
}

/* Commands with an --output option take --json as --output=json. */
static bool takes_output(const char *name)
{
    return !strcmp(name, "info") || !strcmp(name, "check") || !strcmp(name, "map") ||
           !strcmp(name, "measure");
}

static int table_cmd(struct session *s, int argc, char **argv)
{
    return cmd_run(&s->ctx, argc, argv);
}

static int run_image_cmd(struct session *s, int argc, char **argv)
{
    char **args = xcalloc((size_t)argc + 2, sizeof(*args));
    int n = 0, ret;
    bool has_output = false;

    args[n++] = argv[0];
    for (int i = 1; i < argc; i++) {
        has_output |= !strncmp(argv[i], "--output", 8);
    }
    if (s->json && takes_output(argv[0]) && !has_output) {
        args[n++] = "--output=json";
    }
    for (int i = 1; i < argc; i++) {
        args[n++] = argv[i];
    }
    s->ctx.default_image = s->current >= 0 ? s->images[s->current].filename : NULL;
    s->ctx.json = s->json;
    close_handles(s);
    fflush(stdout);
    ret = run_command(s, table_cmd, n, args);
    fflush(stdout);
    reopen_handles(s);
    s->ctx.default_image = NULL;
    free(args);
    return ret;
}

/* "io CMD ...": any qemu-io command on the current image (qemu-io's map, aio_*, ...). */
static int sc_io(struct session *s, int argc, char **argv)
{
    if (argc < 2) {
        say_error(s, "usage: io COMMAND [ARG...] (io help lists qemu-io's commands)");
        return 1;
    }
    return run_data_cmd(s, argc - 1, argv + 1);
}

/*
 * Does argv print JSON of its own under --json? The commands with --output
 * (unless --output=human is given), the inspection commands, snapshot -l,
 * and images.
 */
static bool prints_json(char **argv)
{
    bool human = false, list = false;

    for (int i = 1; argv[i]; i++) {
        human |= !strcmp(argv[i], "--output=human") ||
                 (!strcmp(argv[i], "--output") && argv[i + 1] && !strcmp(argv[i + 1], "human"));
        if (argv[i][0] == '-' && argv[i][1] != '-') {
            /* -l, or l among grouped flags before one taking an argument */
            list |= strcspn(argv[i] + 1, "acd") > strcspn(argv[i] + 1, "l");
        }
    }
    if (takes_output(argv[0])) {
        return !human;
    }
    if ((cmd_lookup(argv[0]) && (cmd_lookup(argv[0])->flags & CMD_INSPECT)) ||
        (argv[1] && cmd_lookup_words(2, argv) && (cmd_lookup_words(2, argv)->flags & CMD_INSPECT))) {
        return !human;          /* the inspection commands print JSON under ctx.json */
    }
    return !strcmp(argv[0], "images") || (!strcmp(argv[0], "snapshot") && list);
}

/*
 * Under --json, a command without JSON of its own prints one object:
 * {"command", "arguments", "status", "output": its lines}. Its messages on
 * standard error stay there.
 */
static void print_wrapped(FILE *cap, char **argv, int status)
{
    json_t *o = json_object(), *args = json_array(), *lines = json_array();
    char *buf = NULL;
    size_t cap_len = 0;
    ssize_t len;

    for (int i = 1; argv[i]; i++) {
        json_array_append_new(args, json_string_nocheck(argv[i]));
    }
    rewind(cap);
    while ((len = getline(&buf, &cap_len, cap)) > 0) {
        if (buf[len - 1] == '\n') {
            buf[len - 1] = '\0';
        }
        json_array_append_new(lines, json_string_nocheck(buf));
    }
    free(buf);
    json_obj_set_str(o, "command", argv[0]);
    json_object_set_new(o, "arguments", args);
    json_obj_set_int(o, "status", status);
    json_object_set_new(o, "output", lines);
    json_print_pretty(stdout, o);
    json_decref(o);
}

static int dispatch(struct session *s, int argc, char **argv)
{
    int ret = -1;

    for (const struct session_cmd *c = session_cmds; c->name; c++) {
        if (!strcmp(c->name, argv[0])) {
            ret = c->fn(s, argc, argv);
        }
    }
    if (ret != -1) {
        return ret;
    }
    /* "map" is qemu-img's map (qemu-io's is "io map") */
    if (cmd_lookup(argv[0]) || cmd_lookup_words(argc, argv)) {
        return run_image_cmd(s, argc, argv);
    }
    if (is_data_cmd(argv[0])) {
        return run_data_cmd(s, argc, argv);
    }
    say_error(s, "unknown command '%s' (help lists them)", argv[0]);
    return 127;
}

/* Run a split line: under --json, wrapped unless the command prints JSON itself. */
static int run_words(struct session *s, int argc, char **argv)
{
    int ret;

    if (s->json && !prints_json(argv)) {
        FILE *cap = tmpfile();
        int saved = -1;

        fflush(stdout);
        if (cap && (saved = dup(STDOUT_FILENO)) >= 0 && dup2(fileno(cap), STDOUT_FILENO) >= 0) {
            ret = dispatch(s, argc, argv);
            fflush(stdout);
            dup2(saved, STDOUT_FILENO);
            print_wrapped(cap, argv, ret);
        } else {
            ret = dispatch(s, argc, argv);
        }
        if (saved >= 0) {
            close(saved);
        }
        if (cap) {
            fclose(cap);
        }
    } else {
        ret = dispatch(s, argc, argv);
    }
    return ret;
}

/* Copy what cap holds to fd, and into the log as comment lines starting with prefix. */
static void replay_capture(FILE *cap, int fd, FILE *log, const char *prefix)
{
    char *line = NULL;
    size_t cap_len = 0;
    ssize_t len;

    rewind(cap);
    while ((len = getline(&line, &cap_len, cap)) > 0) {
        if (write(fd, line, (size_t)len) < 0) {
            break;
        }
        fprintf(log, "%s%.*s\n", prefix, (int)(line[len - 1] == '\n' ? len - 1 : len), line);
    }
    free(line);
}

static void timestamp(char *buf, size_t len)
{
    time_t t = time(NULL);
    struct tm tm;

    strftime(buf, len, "%Y-%m-%d %H:%M:%S", localtime_r(&t, &tm));
}

/*
 * "log FILE": the line, then its output as comments ("#| " standard output,
 * "#! " standard error), its status and the times, so the log replays as a
 * script. The output is shown once the command ends.
 */
static int run_logged(struct session *s, const char *line, int argc, char **argv)
{
    FILE *out = tmpfile(), *err = tmpfile();
    int saved_out = -1, saved_err = -1, ret;
    char when[32];

    timestamp(when, sizeof(when));
    fprintf(s->log, "# %s\n%s\n", when, line);
    fflush(stdout);
    fflush(stderr);
    if (out && err) {
        saved_out = dup(STDOUT_FILENO);
        saved_err = dup(STDERR_FILENO);
        dup2(fileno(out), STDOUT_FILENO);
        dup2(fileno(err), STDERR_FILENO);
    }
    ret = run_words(s, argc, argv);
    fflush(stdout);
    fflush(stderr);
    if (saved_out >= 0) {
        dup2(saved_out, STDOUT_FILENO);
        close(saved_out);
    }
    if (saved_err >= 0) {
        dup2(saved_err, STDERR_FILENO);
        close(saved_err);
    }
    if (out && err) {
        replay_capture(out, STDOUT_FILENO, s->log, "#| ");
        replay_capture(err, STDERR_FILENO, s->log, "#! ");
    }
    timestamp(when, sizeof(when));
    fprintf(s->log, "# status %d at %s\n", ret, when);
    fflush(s->log);
    if (out) {
        fclose(out);
    }
    if (err) {
        fclose(err);
    }
    return ret;
}

static int sc_log(struct session *s, int argc, char **argv)
{
    char when[32];

    if (argc != 2) {
        say_error(s, "usage: log FILE | log off");
        return 1;
    }
    if (s->log) {
        timestamp(when, sizeof(when));
        fprintf(s->log, "# log ends at %s\n", when);
        fclose(s->log);
        s->log = NULL;
    }
    if (!strcmp(argv[1], "off")) {
        return 0;
    }
    s->log = fopen(argv[1], "a");
    if (!s->log) {
        say_error(s, "Could not open the log '%s': %s", argv[1], strerror(errno));
        return 1;
    }
    timestamp(when, sizeof(when));
    fprintf(s->log, "# imgsh session log, started %s; it replays as a script: imgsh -f %s\n",
            when, argv[1]);
    fflush(s->log);
    return 0;
}

int session_run_line(struct session *s, const char *line)
{
    char **argv;
    const char *msg = NULL;
    const char *p = line;
    int argc, ret = 0;

    while (*p == ' ' || *p == '\t') {
        p++;
    }
    if (*p == '!') {
        if (!s->interactive) {
            say_error(s, "'!' runs shell commands in interactive sessions only");
            ret = 1;
        } else {
            fflush(stdout);
            ret = system(p + 1);
            ret = ret < 0 ? 1 : WEXITSTATUS(ret);
        }
        goto out;
    }
    argc = words_split(line, s, &argv, &msg);
    if (argc < 0) {
        say_error(s, "%s", msg);
        ret = 1;
        goto out;
    }
    if (argc == 0) {
        words_free(argv);
        return s->status;       /* blank lines and comments leave $status alone */
    }
    undo_begin(line);
    if (s->log && strcmp(argv[0], "log")) {
        ret = run_logged(s, line, argc, argv);
    } else {
        ret = run_words(s, argc, argv);
    }
    undo_end();
    words_free(argv);
out:
    s->status = ret;
    if (ret && !s->first_failure) {
        s->first_failure = ret;
    }
    return ret;
}

int session_exit_status(const struct session *s)
{
    return s->exit_requested ? s->exit_status : s->first_failure;
}

int session_run_file(struct session *s, FILE *f, const char *name)
{
    char *buf = NULL, *logical = NULL;
    size_t cap = 0, len = 0;
    unsigned start = 0, lineno = 0;
    ssize_t n;

    s->where = name;
    while ((n = getline(&buf, &cap, f)) >= 0) {
        lineno++;
        if (!logical) {
            start = lineno;
        }
        logical = xrealloc(logical, len + (size_t)n + 1);
        memcpy(logical + len, buf, (size_t)n + 1);
        len += (size_t)n;
        if (line_continues(logical)) {
            /* drop the backslash and newline, go on with the next line */
            while (len && (logical[len - 1] == '\n' || logical[len - 1] == '\r')) {
                len--;
            }
            logical[--len] = '\0';
            continue;
        }
        s->line = start;
        session_run_line(s, logical);
        free(logical);
        logical = NULL;
        len = 0;
        if (s->exit_requested || (s->errexit && s->status)) {
            break;
        }
    }
    if (logical && !s->exit_requested && !(s->errexit && s->status)) {
        /* the file ended inside a continued line */
        s->line = start;
        say_error(s, "the script ends in the middle of a continued line");
        s->status = 1;
        if (!s->first_failure) {
            s->first_failure = 1;
        }
    }
    free(logical);
    free(buf);
    return s->errexit && s->status ? s->status : session_exit_status(s);
}
