/*
 * qemuio.c - qemu-io's command language: the command table, dispatch,
 * help, opening images (open, close, reopen) and the commands that act on
 * the program rather than the image (quit, sleep, sigraise, ...); see
 * qemuio.h. The data commands are in qemuio_io.c, the program in
 * qemuio_cli.c.
 *
 * Everything here reproduces qemu-io 7.2 as observed: a line is split at
 * spaces only (no quoting), each command parses its options with getopt
 * (so getopt's own "read: invalid option -- 'x'" lines appear), and a
 * failed command returns a negative errno.
 */
#include "qemuio_int.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../formats/format.h"
#include "err.h"
#include "size.h"
#include "util.h"

static int qio_help(struct qemuio *q, int argc, char **argv);
static int qio_quit(struct qemuio *q, int argc, char **argv);
static int qio_open_cmd(struct qemuio *q, int argc, char **argv);
static int qio_close(struct qemuio *q, int argc, char **argv);
static int qio_reopen(struct qemuio *q, int argc, char **argv);
static int qio_sleep(struct qemuio *q, int argc, char **argv);
static int qio_abort(struct qemuio *q, int argc, char **argv);
static int qio_sigraise(struct qemuio *q, int argc, char **argv);
static int qio_break(struct qemuio *q, int argc, char **argv);
static int qio_remove_break(struct qemuio *q, int argc, char **argv);
static int qio_resume(struct qemuio *q, int argc, char **argv);
static int qio_wait_break(struct qemuio *q, int argc, char **argv);

/* --- long help texts, as "help CMD" prints them after the synopsis --- */

static const char read_help[] =
    "\n"
    " reads a range of bytes from the given offset\n"
    "\n"
    " Example:\n"
    " 'read -v 512 1k' - dumps 1 kilobyte read from 512 bytes into the file\n"
    "\n"
    " Reads a segment of the currently open file, optionally dumping it to the\n"
    " standard output stream (with -v option) for subsequent inspection.\n"
    " -b, -- read from the VM state rather than the virtual disk\n"
    " -C, -- report statistics in a machine parsable format\n"
    " -l, -- length for pattern verification (only with -P)\n"
    " -p, -- ignored for backwards compatibility\n"
    " -P, -- use a pattern to verify read data\n"
    " -q, -- quiet mode, do not show I/O statistics\n"
    " -s, -- start offset for pattern verification (only with -P)\n"
    " -v, -- dump buffer to standard output\n"
    "\n";

static const char readv_help[] =
    "\n"
    " reads a range of bytes from the given offset into multiple buffers\n"
    "\n"
    " Example:\n"
    " 'readv -v 512 1k 1k ' - dumps 2 kilobytes read from 512 bytes into the file\n"
    "\n"
    " Reads a segment of the currently open file, optionally dumping it to the\n"
    " standard output stream (with -v option) for subsequent inspection.\n"
    " Uses multiple iovec buffers if more than one byte range is specified.\n"
    " -C, -- report statistics in a machine parsable format\n"
    " -P, -- use a pattern to verify read data\n"
    " -v, -- dump buffer to standard output\n"
    " -q, -- quiet mode, do not show I/O statistics\n"
    "\n";

static const char write_help[] =
    "\n"
    " writes a range of bytes from the given offset\n"
    "\n"
    " Example:\n"
    " 'write 512 1k' - writes 1 kilobyte at 512 bytes into the open file\n"
    "\n"
    " Writes into a segment of the currently open file, using a buffer\n"
    " filled with a set pattern (0xcdcdcdcd).\n"
    " -b, -- write to the VM state rather than the virtual disk\n"
    " -c, -- write compressed data with blk_write_compressed\n"
    " -f, -- use Force Unit Access semantics\n"
    " -n, -- with -z, don't allow slow fallback\n"
    " -p, -- ignored for backwards compatibility\n"
    " -P, -- use different pattern to fill file\n"
    " -s, -- use a pattern file to fill the write buffer\n"
    " -C, -- report statistics in a machine parsable format\n"
    " -q, -- quiet mode, do not show I/O statistics\n"
    " -u, -- with -z, allow unmapping\n"
    " -z, -- write zeroes using blk_co_pwrite_zeroes\n"
    "\n";

static const char writev_help[] =
    "\n"
    " writes a range of bytes from the given offset source from multiple buffers\n"
    "\n"
    " Example:\n"
    " 'writev 512 1k 1k' - writes 2 kilobytes at 512 bytes into the open file\n"
    "\n"
    " Writes into a segment of the currently open file, using a buffer\n"
    " filled with a set pattern (0xcdcdcdcd).\n"
    " -P, -- use different pattern to fill file\n"
    " -C, -- report statistics in a machine parsable format\n"
    " -f, -- use Force Unit Access semantics\n"
    " -q, -- quiet mode, do not show I/O statistics\n"
    "\n";

static const char aio_read_help[] =
    "\n"
    " asynchronously reads a range of bytes from the given offset\n"
    "\n"
    " Example:\n"
    " 'aio_read -v 512 1k 1k ' - dumps 2 kilobytes read from 512 bytes into the file\n"
    "\n"
    " Reads a segment of the currently open file, optionally dumping it to the\n"
    " standard output stream (with -v option) for subsequent inspection.\n"
    " The read is performed asynchronously and the aio_flush command must be\n"
    " used to ensure all outstanding aio requests have been completed.\n"
    " Note that due to its asynchronous nature, this command will be\n"
    " considered successful once the request is submitted, independently\n"
    " of potential I/O errors or pattern mismatches.\n"
    " -C, -- report statistics in a machine parsable format\n"
    " -P, -- use a pattern to verify read data\n"
    " -i, -- treat request as invalid, for exercising stats\n"
    " -v, -- dump buffer to standard output\n"
    " -q, -- quiet mode, do not show I/O statistics\n"
    "\n";

static const char aio_write_help[] =
    "\n"
    " asynchronously writes a range of bytes from the given offset source\n"
    " from multiple buffers\n"
    "\n"
    " Example:\n"
    " 'aio_write 512 1k 1k' - writes 2 kilobytes at 512 bytes into the open file\n"
    "\n"
    " Writes into a segment of the currently open file, using a buffer\n"
    " filled with a set pattern (0xcdcdcdcd).\n"
    " The write is performed asynchronously and the aio_flush command must be\n"
    " used to ensure all outstanding aio requests have been completed.\n"
    " Note that due to its asynchronous nature, this command will be\n"
    " considered successful once the request is submitted, independently\n"
    " of potential I/O errors or pattern mismatches.\n"
    " -P, -- use different pattern to fill file\n"
    " -C, -- report statistics in a machine parsable format\n"
    " -f, -- use Force Unit Access semantics\n"
    " -i, -- treat request as invalid, for exercising stats\n"
    " -q, -- quiet mode, do not show I/O statistics\n"
    " -u, -- with -z, allow unmapping\n"
    " -z, -- write zeroes using blk_aio_pwrite_zeroes\n"
    "\n";

static const char discard_help[] =
    "\n"
    " discards a range of bytes from the given offset\n"
    "\n"
    " Example:\n"
    " 'discard 512 1k' - discards 1 kilobyte from 512 bytes into the file\n"
    "\n"
    " Discards a segment of the currently open file.\n"
    " -C, -- report statistics in a machine parsable format\n"
    " -q, -- quiet mode, do not show I/O statistics\n"
    "\n";

static const char open_help[] =
    "\n"
    " opens a new file in the requested mode\n"
    "\n"
    " Example:\n"
    " 'open -n -o driver=raw /tmp/data' - opens raw data file read-write, uncached\n"
    "\n"
    " Opens a file for subsequent use by all of the other qemu-io commands.\n"
    " -r, -- open file read-only\n"
    " -s, -- use snapshot file\n"
    " -C, -- use copy-on-read\n"
    " -n, -- disable host cache, short for -t none\n"
    " -U, -- force shared permissions\n"
    " -k, -- use kernel AIO implementation (Linux only, prefer use of -i)\n"
    " -i, -- use AIO mode (threads, native or io_uring)\n"
    " -t, -- use the given cache mode for the image\n"
    " -d, -- use the given discard mode for the image\n"
    " -o, -- options to be given to the block driver\n";

static const char reopen_help[] =
    "\n"
    " Changes the open options of an already opened image\n"
    "\n"
    " Example:\n"
    " 'reopen -o lazy-refcounts=on' - activates lazy refcount writeback on a qcow2 image\n"
    "\n"
    " -r, -- Reopen the image read-only\n"
    " -w, -- Reopen the image read-write\n"
    " -c, -- Change the cache mode to the given value\n"
    " -o, -- Changes block driver options (cf. 'open' command)\n"
    "\n";

static const char sigraise_help[] =
    "\n"
    " raises the given signal\n"
    "\n"
    " Example:\n"
    " 'sigraise 15' - raises SIGTERM\n"
    "\n"
    " Invokes raise(signal), where \"signal\" is the mandatory integer argument\n"
    " given to sigraise.\n"
    "\n";

/* --- the table, sorted by name as qemu-io sorts it --- */

const struct qemuio_cmd qemuio_commands[] = {
    { "abort", NULL, qio_abort, 0, 0, QIO_NOFILE_OK, NULL,
      "simulate a program crash using abort(3)", NULL },
    { "aio_flush", NULL, qio_aio_flush, 0, 0, 0, NULL,
      "completes all outstanding aio requests", NULL },
    { "aio_read", NULL, qio_aio_read, 2, -1, 0, "[-Ciqv] [-P pattern] off len [len..]",
      "asynchronously reads a number of bytes", aio_read_help },
    { "aio_write", NULL, qio_aio_write, 2, -1, QIO_WRITES,
      "[-Cfiquz] [-P pattern] off len [len..]", "asynchronously writes a number of bytes",
      aio_write_help },
    { "alloc", "a", qio_alloc, 1, 2, 0, "offset [count]",
      "checks if offset is allocated in the file", NULL },
    { "break", NULL, qio_break, 2, 2, 0, "event tag",
      "sets a breakpoint on event and tags the stopped request as tag", NULL },
    { "close", "c", qio_close, 0, 0, 0, NULL, "close the current open file", NULL },
    { "discard", "d", qio_discard, 2, -1, QIO_WRITES, "[-Cq] off len",
      "discards a number of bytes at a specified offset", discard_help },
    { "flush", "f", qio_flush, 0, 0, 0, NULL, "flush all in-core file state to disk", NULL },
    { "help", "?", qio_help, 0, 1, QIO_GLOBAL, "[command]", "help for one or all commands",
      NULL },
    { "info", "i", qio_info, 0, 0, 0, NULL, "prints information about the current file", NULL },
    { "length", "l", qio_length, 0, 0, 0, NULL, "gets the length of the current file", NULL },
    { "map", NULL, qio_map, 0, 0, 0, "", "prints the allocated areas of a file", NULL },
    { "open", "o", qio_open_cmd, 1, -1, QIO_NOFILE_OK,
      "[-rsCnkU] [-t cache] [-d discard] [-o options] [path]", "open the file specified by path",
      open_help },
    { "quit", "q", qio_quit, -1, -1, QIO_GLOBAL, NULL, "exit the program", NULL },
    { "read", "r", qio_read, 2, -1, 0, "[-abCqv] [-P pattern [-s off] [-l len]] off len",
      "reads a number of bytes at a specified offset", read_help },
    { "readv", NULL, qio_readv, 2, -1, 0, "[-Cqv] [-P pattern] off len [len..]",
      "reads a number of bytes at a specified offset", readv_help },
    { "remove_break", NULL, qio_remove_break, 1, 1, 0, "tag", "remove a breakpoint by tag",
      NULL },
    { "reopen", NULL, qio_reopen, 0, -1, 0, "[(-r|-w)] [-c cache] [-o options]",
      "reopens an image with new options", reopen_help },
    { "resume", NULL, qio_resume, 1, 1, 0, "tag", "resumes the request tagged as tag", NULL },
    { "sigraise", NULL, qio_sigraise, 1, 1, QIO_NOFILE_OK, "signal", "raises a signal",
      sigraise_help },
    { "sleep", NULL, qio_sleep, 1, 1, QIO_NOFILE_OK, NULL,
      "waits for the given value in milliseconds", NULL },
    { "truncate", "t", qio_truncate, 1, 3, QIO_WRITES | QIO_RESIZE, "[-m prealloc_mode] off",
      "truncates the current file at the given offset", NULL },
    { "wait_break", NULL, qio_wait_break, 1, 1, 0, "tag",
      "waits for the suspension of a request", NULL },
    { "write", "w", qio_write, 2, -1, QIO_WRITES,
      "[-bcCfnquz] [-P pattern | -s source_file] off len",
      "writes a number of bytes at a specified offset", write_help },
    { "writev", NULL, qio_writev, 2, -1, QIO_WRITES, "[-Cfq] [-P pattern] off len [len..]",
      "writes a number of bytes at a specified offset", writev_help },
    { NULL, NULL, NULL, 0, 0, 0, NULL, NULL, NULL },
};

/* --- state --- */

struct qemuio *qemuio_new(void)
{
    return xcalloc(1, sizeof(struct qemuio));
}

static void forget_image(struct qemuio *q)
{
    if (q->owns_img) {
        image_close(q->img);
    }
    q->img = NULL;
    q->owns_img = false;
    free(q->filename);
    free(q->fmt);
    q->filename = NULL;
    q->fmt = NULL;
}

void qemuio_free(struct qemuio *q)
{
    if (q) {
        forget_image(q);
        free(q);
    }
}

void qemuio_set_image_opts(struct qemuio *q, bool on)
{
    q->image_opts = on;
}

void qemuio_attach(struct qemuio *q, struct image *img)
{
    forget_image(q);
    q->img = img;
}

struct image *qemuio_image(const struct qemuio *q)
{
    return q->img;
}

bool qemuio_quit_requested(const struct qemuio *q)
{
    return q->quit;
}

/* --- number parsing and printing, as qemu-io's --- */

int64_t qio_cvtnum(const char *s)
{
    uint64_t v;
    int ret = size_parse(s, &v);

    if (ret < 0) {
        return ret;
    }
    if (v > INT64_MAX) {
        return -ERANGE;
    }
    return (int64_t)v;
}

void qio_print_cvtnum_err(int64_t rc, const char *arg)
{
    switch (rc) {
    case -EINVAL:
        printf("Parsing error: non-numeric argument, or extraneous/unrecognized suffix -- %s\n",
               arg);
        break;
    case -ERANGE:
        printf("Parsing error: argument too large -- %s\n", arg);
        break;
    default:
        printf("Parsing error: %s\n", arg);
    }
}

void qio_cvtstr(double value, char *str, size_t size)
{
    static const char *const units[] = { " KiB", " MiB", " GiB", " TiB", " PiB", " EiB" };
    const char *suffix = " bytes";
    char *trim;
    int i;

    for (i = 5; i >= 0; i--) {
        double unit = ldexp(1.0, 10 * (i + 1));
        if (value >= unit) {
            suffix = units[i];
            snprintf(str, size - 4, "%.3f", value / unit);
            break;
        }
    }
    if (i < 0) {
        snprintf(str, size - 6, "%f", value);
    }
    trim = strstr(str, ".000");
    if (trim) {
        strcpy(trim, suffix);
    } else {
        strcat(str, suffix);
    }
}

int qio_parse_pattern(const char *arg)
{
    char *end = NULL;
    long pattern = strtol(arg, &end, 0);

    if (pattern < 0 || pattern > UCHAR_MAX || *end != '\0') {
        printf("%s is not a valid pattern byte\n", arg);
        return -1;
    }
    return (int)pattern;
}

struct timespec qio_tsub(struct timespec t2, struct timespec t1)
{
    t2.tv_nsec -= t1.tv_nsec;
    if (t2.tv_nsec < 0) {
        t2.tv_nsec += 1000000000L;
        t2.tv_sec--;
    }
    t2.tv_sec -= t1.tv_sec;
    return t2;
}

static double tdiv(double value, const struct timespec *t)
{
    return value / ((double)t->tv_sec + (double)t->tv_nsec / 1e9);
}

/* "00.00 sec", or "H:MM:SS.ss" from one second on, and always with -C. */
static void timestr(const struct timespec *t, char *ts, size_t size, bool fixed)
{
    double frac = (double)t->tv_nsec / 1e9;
    unsigned secs = (unsigned)t->tv_sec;

    if (fixed || t->tv_sec) {
        snprintf(ts, size, "%u:%02u:%05.2f", secs / 3600, (secs % 3600) / 60,
                 (double)(secs % 60) + frac);
    } else {
        snprintf(ts, size, "%05.2f sec", frac);
    }
}

void qio_print_report(const char *op, const struct timespec *t, int64_t offset, int64_t count,
                      int64_t total, int cnt, bool cflag)
{
    char s1[64], s2[64], ts[64];

    timestr(t, ts, sizeof(ts), cflag);
    if (!cflag) {
        qio_cvtstr((double)total, s1, sizeof(s1));
        qio_cvtstr(tdiv((double)total, t), s2, sizeof(s2));
        printf("%s %" PRId64 "/%" PRId64 " bytes at offset %" PRId64 "\n", op, total, count,
               offset);
        printf("%s, %d ops; %s (%s/sec and %.4f ops/sec)\n", s1, cnt, ts, s2,
               tdiv((double)cnt, t));
    } else {
        printf("%" PRId64 ",%d,%s,%.3f,%.3f\n", total, cnt, ts, tdiv((double)total, t),
               tdiv((double)cnt, t));
    }
}

/* --- dispatch --- */

const struct qemuio_cmd *qio_find(const char *name)
{
    for (const struct qemuio_cmd *c = qemuio_commands; c->name; c++) {
        if (!strcmp(c->name, name)) {
            return c;
        }
    }
    return NULL;
}

/* By name or alias, as a command line names it. */
static const struct qemuio_cmd *find_command(const char *name)
{
    for (const struct qemuio_cmd *c = qemuio_commands; c->name; c++) {
        if (!strcmp(c->name, name) || (c->altname && !strcmp(c->altname, name))) {
            return c;
        }
    }
    return NULL;
}

void qio_usage(const struct qemuio_cmd *cmd)
{
    printf("%s %s -- %s\n", cmd->name, cmd->args ? cmd->args : "(null)", cmd->oneline);
}

void qemuio_complete(const char *prefix, void (*fn)(const char *name, void *opaque),
                     void *opaque)
{
    size_t n = strlen(prefix);

    for (const struct qemuio_cmd *c = qemuio_commands; c->name; c++) {
        if (!strncmp(prefix, c->name, n)) {
            fn(c->name, opaque);
        }
    }
}

static int command(struct qemuio *q, const struct qemuio_cmd *ct, int argc, char **argv)
{
    int n = argc - 1;

    if (!(ct->flags & (QIO_GLOBAL | QIO_NOFILE_OK)) && !q->img) {
        fprintf(stderr, "no file open, try 'help open'\n");
        return -EINVAL;
    }
    if (n < ct->argmin || (ct->argmax != -1 && n > ct->argmax)) {
        if (ct->argmax == -1) {
            fprintf(stderr, "bad argument count %d to %s, expected at least %d arguments\n", n,
                    argv[0], ct->argmin);
        } else if (ct->argmin == ct->argmax) {
            fprintf(stderr, "bad argument count %d to %s, expected %d arguments\n", n, argv[0],
                    ct->argmin);
        } else {
            fprintf(stderr,
                    "bad argument count %d to %s, expected between %d and %d arguments\n", n,
                    argv[0], ct->argmin, ct->argmax);
        }
        return -EINVAL;
    }
    /* qemu takes the write permission when a writing command first needs it */
    if ((ct->flags & QIO_WRITES) && q->img && !(q->img->flags & IMG_RDWR)) {
        error_printf("Block node is read-only");
        return -EPERM;
    }
    if ((ct->flags & QIO_RESIZE) && q->img) {
        struct err err = { 0 };
        int ret = image_want_resize(q->img, &err);
        if (ret < 0) {
            err_report(&err);
            return ret;
        }
    }
    optind = 0;             /* full getopt reset, as qemu-io does before each command */
    return ct->fn(q, argc, argv);
}

int qemuio_run_command(struct qemuio *q, const char *line)
{
    char *input = xstrdup(line);
    char **v = xcalloc(strlen(line) / 2 + 2, sizeof(*v));
    int c = 0, ret = 0;

    for (char *p = input, *word; (word = strsep(&p, " "));) {
        if (*word) {
            v[c++] = word;
        }
    }
    if (c) {
        const struct qemuio_cmd *ct = find_command(v[0]);
        if (ct) {
            ret = command(q, ct, c, v);
        } else {
            fprintf(stderr, "command \"%s\" not found\n", v[0]);
            ret = -EINVAL;
        }
    }
    free(v);
    free(input);
    return ret;
}

/* --- help and quit --- */

static void help_oneline(const char *cmd, const struct qemuio_cmd *ct)
{
    printf("%s ", cmd);
    if (ct->args) {
        printf("%s ", ct->args);
    }
    printf("-- %s\n", ct->oneline);
}

static int qio_help(struct qemuio *q, int argc, char **argv)
{
    const struct qemuio_cmd *ct;

    (void)q;
    if (argc == 1) {
        for (ct = qemuio_commands; ct->name; ct++) {
            help_oneline(ct->name, ct);
        }
        printf("\nUse 'help commandname' for extended help.\n");
        return 0;
    }
    ct = find_command(argv[1]);
    if (!ct) {
        printf("command %s not found\n", argv[1]);
        return -EINVAL;
    }
    help_oneline(argv[1], ct);
    if (ct->help) {
        fputs(ct->help, stdout);
    }
    return 0;
}

static int qio_quit(struct qemuio *q, int argc, char **argv)
{
    (void)argc;
    (void)argv;
    q->quit = true;
    return 0;
}

/* --- option strings --- */

int qemuio_parse_opts(struct opts *opts, const char *s)
{
    const char *p = s;

    while (*p) {
        size_t len = strcspn(p, "=,");
        char *name, *value;

        if (p[len] != '=') {
            /* a flag: "key" is key=on, "nokey" is key=off */
            char *word = xasprintf("%.*s", (int)len, p);
            bool off = !strncmp(word, "no", 2);
            const char *key = off ? word + 2 : word;

            if (strcmp(word, "help") && strcmp(word, "?")) {
                warn_printf("short-form boolean option '%s' deprecated", word);
                fprintf(stderr, "Please use %s=%s instead\n", key, off ? "off" : "on");
            }
            opts_set(opts, key, off ? "off" : "on");
            free(word);
            p += len;
        } else {
            size_t n = 0;

            name = xasprintf("%.*s", (int)len, p);
            value = xmalloc(strlen(p) + 1);
            for (p += len + 1; *p; p++) {
                if (*p == ',') {
                    if (p[1] != ',') {
                        break;
                    }
                    p++;            /* ",," stands for ',' */
                }
                value[n++] = *p;
            }
            value[n] = '\0';
            opts_set(opts, name, value);
            free(name);
            free(value);
        }
        if (*p == ',') {
            p++;
        }
    }
    return 0;
}

/* --- opening images --- */

/* Block options every node takes (and imgsh honours). */
static const char *const node_keys[] = {
    "driver", "read-only", "force-share", "cache.direct", "cache.no-flush", NULL,
};
/* What the file protocol takes beyond them. */
static const char *const file_keys[] = {
    "driver", "filename", "read-only", "force-share", "cache.direct", "cache.no-flush", NULL,
};

static bool key_in(const char *key, const char *const *list)
{
    for (; *list; list++) {
        if (!strcmp(key, *list)) {
            return true;
        }
    }
    return false;
}

/*
 * First key of opts (with prefix stripped, among keys with that prefix, or
 * among keys without a "file." prefix when prefix is NULL) not in list.
 */
static const char *unknown_key(const struct opts *o, const char *prefix,
                               const char *const *list)
{
    for (size_t i = 0; i < o->n; i++) {
        const char *k = o->v[i].name;
        if (prefix) {
            if (strncmp(k, prefix, strlen(prefix))) {
                continue;
            }
            k += strlen(prefix);
        } else if (!strncmp(k, "file.", 5)) {
            continue;
        }
        if (!key_in(k, list)) {
            return k;
        }
    }
    return NULL;
}

static bool has_prefix_key(const struct opts *o, const char *prefix)
{
    for (size_t i = 0; i < o->n; i++) {
        if (!strncmp(o->v[i].name, prefix, strlen(prefix))) {
            return true;
        }
    }
    return false;
}

/*
 * A boolean block option: *out untouched when absent; qemu's message when
 * malformed (naming the option as its node knows it: "read-only" for
 * "file.read-only").
 */
static int bool_opt(const struct opts *o, const char *name, bool *out, struct err *err)
{
    const char *v = opts_get(o, name);

    if (!v) {
        return 0;
    }
    return opt_parse_bool(strncmp(name, "file.", 5) ? name : name + 5, v, out, err);
}

/* The cache mode qemu's three cache flags amount to. */
static enum cache_mode cache_of(bool direct, bool no_flush, bool writethrough)
{
    if (direct) {
        return writethrough ? CACHE_DIRECTSYNC : CACHE_NONE;
    }
    if (no_flush) {
        return CACHE_UNSAFE;
    }
    return writethrough ? CACHE_WRITETHROUGH : CACHE_WRITEBACK;
}

int qemuio_parse_cache(const char *mode, struct qemuio_open_args *a)
{
    if (!strcmp(mode, "none") || !strcmp(mode, "off")) {
        a->cache_direct = true, a->cache_no_flush = false, a->writethrough = false;
    } else if (!strcmp(mode, "directsync")) {
        a->cache_direct = true, a->cache_no_flush = false, a->writethrough = true;
    } else if (!strcmp(mode, "writeback")) {
        a->cache_direct = false, a->cache_no_flush = false, a->writethrough = false;
    } else if (!strcmp(mode, "unsafe")) {
        a->cache_direct = false, a->cache_no_flush = true, a->writethrough = false;
    } else if (!strcmp(mode, "writethrough")) {
        a->cache_direct = false, a->cache_no_flush = false, a->writethrough = true;
    } else {
        return -EINVAL;
    }
    return 0;
}

int qemuio_parse_discard(const char *mode, struct qemuio_open_args *a)
{
    if (!strcmp(mode, "off") || !strcmp(mode, "ignore")) {
        a->discard_ignore = true;
    } else if (!strcmp(mode, "on") || !strcmp(mode, "unmap")) {
        a->discard_ignore = false;
    } else {
        return -EINVAL;
    }
    return 0;
}

int qemuio_parse_aio(const char *mode, struct qemuio_open_args *a)
{
    if (!strcmp(mode, "native")) {
        a->native_aio = true;
    } else if (!strcmp(mode, "threads") || !strcmp(mode, "io_uring")) {
        a->native_aio = false;
    } else {
        return -EINVAL;
    }
    return 0;
}

/* image_open()'s message without the "Could not open 'FILE': " it puts in front. */
static void strip_open_prefix(struct err *err, const char *path)
{
    char *prefix = xasprintf("Could not open '%s': ", path);
    size_t n = strlen(prefix);

    if (!strncmp(err->msg, prefix, n)) {
        memmove(err->msg, err->msg + n, strlen(err->msg + n) + 1);
    }
    free(prefix);
}

/*
 * Open as qemu's blk_new_open() would with these options, checking them
 * in qemu's order: the driver, the read-only/force-share options, where
 * the data lives, the protocol's options, then the format's.
 */
static int open_image(struct qemuio *q, const char *filename, const struct opts *o,
                      const struct qemuio_open_args *a, struct err *err)
{
    const char *driver = opts_get(o, "driver"), *path, *bad;
    const struct fmt_driver *drv = NULL;
    bool ro = a->read_only, ro_opt = false, file_ro = false, share = false, file_share = false;
    bool direct = a->cache_direct, no_flush = a->cache_no_flush, is_file;
    struct image *img;
    unsigned flags;
    int ret;

    if (driver && !(drv = fmt_find(driver))) {
        return err_set(err, -EINVAL, "Unknown driver '%s'", driver);
    }
    is_file = drv && !strcmp(drv->name, "file");
    if (opts_get(o, "read-only")) {
        if (bool_opt(o, "read-only", &ro_opt, err) < 0) {
            return -EINVAL;
        }
        ro = ro_opt;
    }
    if (bool_opt(o, "force-share", &share, err) < 0 ||
        bool_opt(o, "file.read-only", &file_ro, err) < 0 ||
        bool_opt(o, "file.force-share", &file_share, err) < 0 ||
        bool_opt(o, "cache.direct", &direct, err) < 0 ||
        bool_opt(o, "cache.no-flush", &no_flush, err) < 0) {
        return -EINVAL;
    }
    if ((share || file_share) && !ro) {
        return err_set(err, -EINVAL, "force-share=on can only be used with read-only images");
    }
    if (a->copy_on_read && ro) {
        return err_set(err, -EINVAL, "Can't use copy-on-read on read-only device");
    }

    /* where the guest data lives: the file name, or the options of the "file" child */
    if (filename) {
        path = filename;
    } else if (is_file) {
        path = opts_get(o, "filename");
        if (!path || !*path) {
            return err_set(err, -EINVAL, "The 'file' block driver requires a file name");
        }
    } else {
        const char *fdrv = opts_get(o, "file.driver");

        if (!has_prefix_key(o, "file.")) {
            if ((path = opts_get(o, "file"))) {
                return err_set(err, -ENODEV, "Cannot find device='%s' nor node-name='%s'", path,
                               path);
            }
            if (drv) {
                return err_set(err, -EINVAL, "A block device must be specified for \"file\"");
            }
            return err_set(err, -EINVAL, "Must specify either driver or file");
        }
        path = opts_get(o, "file.filename");
        if (fdrv) {
            const struct fmt_driver *fd = fmt_find(fdrv);
            if (!fd) {
                return err_set(err, -EINVAL, "Unknown driver '%s'", fdrv);
            }
            if (strcmp(fd->name, "file")) {
                return err_set(err, -EINVAL, "A block device must be specified for \"file\"");
            }
        } else if (!path) {
            return err_set(err, -EINVAL, "Must specify either driver or file");
        }
        if (!path || !*path) {
            return err_set(err, -EINVAL, "The 'file' block driver requires a file name");
        }
    }

    /* the protocol's own checks come once its file is open */
    bad = is_file ? unknown_key(o, NULL, file_keys) : unknown_key(o, "file.", file_keys);
    if (bad || (a->native_aio && !direct)) {
        struct file *f;

        ret = file_open(&f, path, 0, CACHE_WRITEBACK, err);
        if (ret < 0) {
            return ret;
        }
        file_close(f);
        if (bad) {
            return err_set(err, -EINVAL, "Block protocol 'file' doesn't support the option '%s'",
                           bad);
        }
        return err_set(err, -EINVAL, "aio=native was specified, but it requires "
                       "cache.direct=on, which was not specified.");
    }

    /* as qemu-io, the resize permission is taken by truncate, not at open */
    flags = (ro ? 0 : IMG_RDWR | IMG_NO_RESIZE) | (share ? IMG_FORCE_SHARE : 0) |
            (a->discard_ignore ? 0 : IMG_UNMAP);   /* qemu-io's default is discard=unmap */
    ret = image_open(&img, path, drv ? drv->name : NULL, flags,
                     cache_of(direct, no_flush, a->writethrough), err);
    if (ret < 0) {
        strip_open_prefix(err, path);
        return ret;
    }
    if (!is_file && (bad = unknown_key(o, NULL, node_keys))) {
        ret = err_set(err, -EINVAL, "Block format '%s' does not support the option '%s'",
                      img->drv->name, bad);
    } else if ((ro_opt && !a->read_only) || (file_ro && !ro)) {
        ret = err_set(err, -EACCES, "Block node is read-only");
    } else if (a->copy_on_read && img->backing) {
        ret = err_set(err, -ENOTSUP, "copy-on-read (-C) is not supported by imgsh");
    }
    if (ret < 0) {
        image_close(img);
        return ret;
    }
    q->img = img;
    q->owns_img = true;
    q->filename = xstrdup(path);
    q->fmt = drv ? xstrdup(drv->name) : NULL;
    q->img_flags = flags;
    q->discard_ignore = a->discard_ignore;
    return 0;
}

int qemuio_open(struct qemuio *q, const char *filename, struct opts *opts,
                const struct qemuio_open_args *a)
{
    struct err err = { 0 };
    struct opts none = { 0 };

    if (q->img) {
        error_printf("file open already, try 'help close'");
        return -1;
    }
    if (!opts) {
        opts = &none;
    }
    if (a->force_share) {
        const char *v = opts_get(opts, "force-share");
        if (v && strcmp(v, "on")) {
            error_printf("-U conflicts with image options");
            return -1;
        }
        opts_set(opts, "force-share", "on");
    }
    if (a->snapshot) {
        error_printf("snapshot mode (-s) is not supported by imgsh");
        return -1;
    }
    if (open_image(q, filename, opts, a, &err) < 0) {
        if (filename) {
            error_printf("can't open device %s: %s", filename, err.msg);
        } else {
            error_printf("can't open: %s", err.msg);
        }
        return -1;
    }
    return 0;
}

/* --- open, close, reopen --- */

static int qio_open_cmd(struct qemuio *q, int argc, char **argv)
{
    struct qemuio_open_args a = { .writethrough = true };
    struct opts opts = { 0 };
    const struct qemuio_cmd *me = qio_find("open");
    int c, ret = 0;

    while ((c = getopt(argc, argv, "snCro:ki:t:d:U")) != -1) {
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
        case 'r':
            a.read_only = true;
            break;
        case 'k':
            a.native_aio = true;
            break;
        case 't':
            if (qemuio_parse_cache(optarg, &a) < 0) {
                error_printf("Invalid cache option: %s", optarg);
                ret = -EINVAL;
            }
            break;
        case 'd':
            if (qemuio_parse_discard(optarg, &a) < 0) {
                error_printf("Invalid discard option: %s", optarg);
                ret = -EINVAL;
            }
            break;
        case 'i':
            if (qemuio_parse_aio(optarg, &a) < 0) {
                error_printf("Invalid aio option: %s", optarg);
                ret = -EINVAL;
            }
            break;
        case 'o':
            if (q->image_opts) {
                printf("--image-opts and 'open -o' are mutually exclusive\n");
                ret = -EINVAL;
            } else {
                qemuio_parse_opts(&opts, optarg);
            }
            break;
        case 'U':
            a.force_share = true;
            break;
        default:
            qio_usage(me);
            ret = -EINVAL;
        }
        if (ret < 0) {
            opts_free(&opts);
            return ret;
        }
    }
    if (q->image_opts && optind == argc - 1) {
        qemuio_parse_opts(&opts, argv[optind]);
        optind++;
    }
    if (optind == argc - 1) {
        ret = qemuio_open(q, argv[optind], &opts, &a);
    } else if (optind == argc) {
        ret = qemuio_open(q, NULL, &opts, &a);
    } else {
        qio_usage(me);
        ret = -1;
    }
    opts_free(&opts);
    return ret < 0 ? -EINVAL : 0;
}

static int qio_close(struct qemuio *q, int argc, char **argv)
{
    (void)argc;
    (void)argv;
    forget_image(q);
    return 0;
}

/* The cache flags of an open cache mode. */
static void cache_flags(enum cache_mode m, struct qemuio_open_args *a)
{
    a->cache_direct = m == CACHE_NONE || m == CACHE_DIRECTSYNC;
    a->cache_no_flush = m == CACHE_UNSAFE;
    a->writethrough = m == CACHE_WRITETHROUGH || m == CACHE_DIRECTSYNC;
}

/*
 * reopen: imgsh cannot change an open image in place, so the image is
 * closed and opened again with the new mode (and the old one back if that
 * fails).
 */
static int qio_reopen(struct qemuio *q, int argc, char **argv)
{
    struct qemuio_open_args a = { 0 };
    struct opts opts = { 0 };
    struct err err = { 0 };
    struct image *img;
    bool has_rw = false, has_cache = false, rw = q->img->flags & IMG_RDWR, b;
    const char *bad = NULL;
    unsigned flags;
    int c, ret = 0;

    cache_flags(q->img->cache, &a);
    while ((c = getopt(argc, argv, "c:o:rw")) != -1 && ret == 0) {
        switch (c) {
        case 'c':
            if (qemuio_parse_cache(optarg, &a) < 0) {
                error_printf("Invalid cache option: %s", optarg);
                ret = -EINVAL;
            }
            has_cache = true;
            break;
        case 'o':
            qemuio_parse_opts(&opts, optarg);
            break;
        case 'r':
        case 'w':
            if (has_rw) {
                error_printf("Only one -r/-w option may be given");
                ret = -EINVAL;
            }
            rw = c == 'w';
            has_rw = true;
            break;
        default:
            qio_usage(qio_find("reopen"));
            ret = -EINVAL;
        }
    }
    if (ret == 0 && optind != argc) {
        qio_usage(qio_find("reopen"));
        ret = -EINVAL;
    }
    if (ret == 0 && opts_get(&opts, "read-only")) {
        if (has_rw) {
            error_printf("Cannot set both -r/-w and 'read-only'");
            ret = -EINVAL;
        } else if (bool_opt(&opts, "read-only", &b, &err) < 0) {
            ret = -EINVAL;
        } else {
            rw = !b;
        }
    }
    if (ret == 0 && (opts_get(&opts, "cache.direct") || opts_get(&opts, "cache.no-flush"))) {
        if (has_cache) {
            error_printf("Cannot set both -c and the cache options");
            ret = -EINVAL;
        } else if (bool_opt(&opts, "cache.direct", &a.cache_direct, &err) < 0 ||
                   bool_opt(&opts, "cache.no-flush", &a.cache_no_flush, &err) < 0) {
            ret = -EINVAL;
        }
    }
    for (size_t i = 0; ret == 0 && i < opts.n && !bad; i++) {
        if (strcmp(opts.v[i].name, "read-only") && strcmp(opts.v[i].name, "cache.direct") &&
            strcmp(opts.v[i].name, "cache.no-flush")) {
            bad = opts.v[i].name;
            err_set(&err, -EINVAL, "Cannot change the option '%s'", bad);
            ret = -EINVAL;
        }
    }
    if (ret == 0 && !q->owns_img) {
        err_set(&err, -ENOTSUP, "reopen of an image imgsh did not open is not supported");
        ret = -ENOTSUP;
    }
    if (ret == 0) {
        flags = (q->img_flags & ~IMG_RDWR) | (rw ? IMG_RDWR : 0) | IMG_QUIET;
        image_close(q->img);
        q->img = NULL;
        ret = image_open(&img, q->filename, q->fmt, flags,
                         cache_of(a.cache_direct, a.cache_no_flush, a.writethrough), &err);
        if (ret < 0) {
            /* keep the image open as it was, as a failed reopen does */
            struct err again = { 0 };
            if (image_open(&q->img, q->filename, q->fmt, q->img_flags | IMG_QUIET,
                           cache_of(a.cache_direct, a.cache_no_flush, a.writethrough),
                           &again) < 0) {
                q->img = NULL;
            }
            strip_open_prefix(&err, q->filename);
        } else {
            q->img = img;
            q->img_flags = flags & ~IMG_QUIET;
        }
        if (!q->img) {
            forget_image(q);
        }
    }
    if (err_isset(&err)) {
        err_report(&err);
    }
    opts_free(&opts);
    return ret < 0 ? ret : 0;
}

/* --- the program --- */

static int qio_sleep(struct qemuio *q, int argc, char **argv)
{
    char *end;
    long ms = strtol(argv[1], &end, 0);
    struct timespec ts;

    (void)q;
    (void)argc;
    if (ms < 0 || *end != '\0') {
        printf("%s is not a valid number\n", argv[1]);
        return -EINVAL;
    }
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000L;
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
    return 0;
}

static int qio_abort(struct qemuio *q, int argc, char **argv)
{
    (void)q;
    (void)argc;
    (void)argv;
    abort();
}

static int qio_sigraise(struct qemuio *q, int argc, char **argv)
{
    int64_t sig = qio_cvtnum(argv[1]);

    (void)q;
    (void)argc;
    if (sig < 0) {
        qio_print_cvtnum_err(sig, argv[1]);
        return (int)sig;
    }
    if (sig > NSIG) {
        printf("signal argument '%s' is too large to be a valid signal\n", argv[1]);
        return -EINVAL;
    }
    fflush(stdout);
    fflush(stderr);
    raise((int)sig);
    return 0;
}

/* imgsh has no blkdebug driver: every image answers as qemu's other drivers do. */
static int qio_break(struct qemuio *q, int argc, char **argv)
{
    (void)q;
    (void)argc;
    (void)argv;
    printf("Could not set breakpoint: %s\n", strerror(ENOTSUP));
    return -ENOTSUP;
}

static int qio_remove_break(struct qemuio *q, int argc, char **argv)
{
    (void)q;
    (void)argc;
    printf("Could not remove breakpoint %s: %s\n", argv[1], strerror(ENOTSUP));
    return -ENOTSUP;
}

static int qio_resume(struct qemuio *q, int argc, char **argv)
{
    (void)q;
    (void)argc;
    (void)argv;
    printf("Could not resume request: %s\n", strerror(ENOTSUP));
    return -ENOTSUP;
}

/* qemu-io would wait forever here, as no request is ever suspended without blkdebug. */
static int qio_wait_break(struct qemuio *q, int argc, char **argv)
{
    (void)q;
    (void)argc;
    error_printf("wait_break: imgsh has no blkdebug driver, so request '%s' never stops",
                 argv[1]);
    return -ENOTSUP;
}
