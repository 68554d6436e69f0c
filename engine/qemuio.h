/*
 * qemuio.h - qemu-io's command language ("read -P 0x11 0 64k", "map", ...)
 * on one open image, with qemu-io 7.2's syntax, output and messages.
 *
 * struct qemuio holds the image the commands work on, opened by
 * qemuio_open() (qemu-io's way: a file name and/or an option string such as
 * "driver=raw,file.filename=x") or handed over by qemuio_attach(), so that
 * the interactive shell can run the same commands on an image it opened.
 * qemuio_run_command() runs one line. The qemu-io program itself (options,
 * -c commands, the prompt) is qemuio_main(), in engine/qemuio_cli.c.
 *
 * Commands print as qemu-io does: results and most failures ("read failed:
 * Input/output error") on stdout, usage and lookup errors on stderr.
 */
#ifndef IMGSH_QEMUIO_H
#define IMGSH_QEMUIO_H

#include <stdbool.h>

#include "block.h"
#include "opts.h"

struct qemuio;

enum qemuio_cmd_flags {
    QIO_GLOBAL = 1 << 0,        /* runs whether an image is open or not (help, quit) */
    QIO_NOFILE_OK = 1 << 1,     /* runs without an open image */
    QIO_WRITES = 1 << 2,        /* needs a writable image ("Block node is read-only") */
    QIO_RESIZE = 1 << 3,        /* takes the resize permission first (truncate) */
};

struct qemuio_cmd {
    const char *name;
    const char *altname;        /* one-letter alias ("r" for read), or NULL */
    int (*fn)(struct qemuio *q, int argc, char **argv);
    int argmin, argmax;         /* argument counts; argmax -1: no limit */
    unsigned flags;             /* enum qemuio_cmd_flags */
    const char *args;           /* synopsis after the name, or NULL */
    const char *oneline;        /* one-line description */
    const char *help;           /* long help printed by "help NAME", or NULL */
};

/* Every command, sorted by name as "help" lists them; ends with a NULL name. */
extern const struct qemuio_cmd qemuio_commands[];

/* How qemuio_open() opens an image (qemu-io's command line and "open" options). */
struct qemuio_open_args {
    bool read_only;             /* -r */
    bool force_share;           /* -U */
    bool copy_on_read;          /* -C */
    bool snapshot;              /* -s */
    bool native_aio;            /* -k, -i native */
    bool discard_ignore;        /* -d ignore|off */
    /* the cache mode as qemu's three flags (-t, -n); qemu-io starts with writethrough */
    bool cache_direct;          /* O_DIRECT */
    bool cache_no_flush;        /* flushes ignored */
    bool writethrough;          /* data synced after every write */
};

/* -t MODE, -d MODE, -i MODE into a; -EINVAL for a name qemu does not know. */
int qemuio_parse_cache(const char *mode, struct qemuio_open_args *a);
int qemuio_parse_discard(const char *mode, struct qemuio_open_args *a);
int qemuio_parse_aio(const char *mode, struct qemuio_open_args *a);

struct qemuio *qemuio_new(void);
/* Close the image if qemuio_open() opened it, and free q. */
void qemuio_free(struct qemuio *q);

/* Option strings are for --image-opts: "open PATH" takes PATH as one. */
void qemuio_set_image_opts(struct qemuio *q, bool on);

/*
 * Open an image as qemu-io does: filename (NULL with --image-opts) and the
 * block options in opts ("driver", "file.filename", "read-only", ...).
 * Prints qemu-io's message ("can't open device FILE: ...") and returns -1
 * on failure, 0 on success.
 */
int qemuio_open(struct qemuio *q, const char *filename, struct opts *opts,
                const struct qemuio_open_args *a);
/* Work on img, which the caller opened and still owns. */
void qemuio_attach(struct qemuio *q, struct image *img);
/* The open image, or NULL. */
struct image *qemuio_image(const struct qemuio *q);

/*
 * Parse a qemu option string ("driver=raw,file.filename=x", ",," for a
 * comma) into opts, printing qemu's warning for a bare "key" (key=on) or
 * "nokey" (key=off). Returns 0, or -1 after printing qemu's message.
 */
int qemuio_parse_opts(struct opts *opts, const char *s);

/*
 * Run one command line (words split at spaces, as qemu-io does). Returns
 * 0, or a negative errno when the command failed (qemu-io then exits 1).
 */
int qemuio_run_command(struct qemuio *q, const char *line);
/* true once "quit" ran. */
bool qemuio_quit_requested(const struct qemuio *q);

/* Command names starting with prefix, for completion: call fn for each. */
void qemuio_complete(const char *prefix, void (*fn)(const char *name, void *opaque),
                     void *opaque);

/* The qemu-io program: argv as main() got it. Returns the exit code. */
int qemuio_main(int argc, char **argv);

#endif
