/*
 * qemuio_int.h - what the qemu-io command files share: the state behind
 * struct qemuio, qemu-io's number parsing and printing, and the handlers
 * listed in the command table (engine/qemuio.c).
 */
#ifndef IMGSH_QEMUIO_INT_H
#define IMGSH_QEMUIO_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "qemuio.h"

struct qemuio {
    struct image *img;          /* open image, or NULL */
    bool owns_img;              /* opened by qemuio_open(): closed by close/free */
    bool quit;                  /* "quit" ran */
    bool image_opts;            /* --image-opts: "open PATH" takes an option string */
    bool discard_ignore;        /* -d ignore: discards do nothing, write -zu keeps data */
    /* what reopen needs to open the same image again */
    char *filename;
    char *fmt;                  /* NULL: probed */
    unsigned img_flags;         /* enum image_flags */
};

/* Largest request qemu accepts (BDRV_REQUEST_MAX_BYTES). */
#define QIO_MAX_REQUEST 2147483136LL

/*
 * qemu-io's cvtnum: a size with qemu's suffixes, 0..INT64_MAX; negative
 * errno (-EINVAL, -ERANGE) when not.
 */
int64_t qio_cvtnum(const char *s);
/* "Parsing error: ..." for a cvtnum failure, on stdout. */
void qio_print_cvtnum_err(int64_t rc, const char *arg);
/* qemu-io's cvtstr: "512 bytes", "1.500 KiB", "64 MiB". buf must hold 64 bytes. */
void qio_cvtstr(double value, char *buf, size_t size);
/* "byte" of -P: 0..255 in C syntax; prints qemu-io's message, -1 when invalid. */
int qio_parse_pattern(const char *arg);
/* Print the usage line of cmd, as after a bad option. */
void qio_usage(const struct qemuio_cmd *cmd);
/* The command table entry called name (not the alias), for usage lines. */
const struct qemuio_cmd *qio_find(const char *name);

/* Elapsed time between two CLOCK_MONOTONIC readings. */
struct timespec qio_tsub(struct timespec t2, struct timespec t1);
/* The two-line I/O report, or the -C line: "bytes,ops,time,bytes/s,ops/s". */
void qio_print_report(const char *op, const struct timespec *t, int64_t offset, int64_t count,
                      int64_t total, int cnt, bool cflag);

/* Handlers in engine/qemuio_io.c (data and image commands). */
int qio_read(struct qemuio *q, int argc, char **argv);
int qio_readv(struct qemuio *q, int argc, char **argv);
int qio_write(struct qemuio *q, int argc, char **argv);
int qio_writev(struct qemuio *q, int argc, char **argv);
int qio_aio_read(struct qemuio *q, int argc, char **argv);
int qio_aio_write(struct qemuio *q, int argc, char **argv);
int qio_aio_flush(struct qemuio *q, int argc, char **argv);
int qio_flush(struct qemuio *q, int argc, char **argv);
int qio_truncate(struct qemuio *q, int argc, char **argv);
int qio_length(struct qemuio *q, int argc, char **argv);
int qio_info(struct qemuio *q, int argc, char **argv);
int qio_discard(struct qemuio *q, int argc, char **argv);
int qio_alloc(struct qemuio *q, int argc, char **argv);
int qio_map(struct qemuio *q, int argc, char **argv);

#endif
