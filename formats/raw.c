/*
 * raw.c - the raw format (guest bytes stored as they are) and the bare
 * 'file' protocol exposed as a format (-f file), which differs only in
 * never being chosen by probing and in its create options.
 */
#include <errno.h>
#include <string.h>

#include "../engine/block.h"
#include "../engine/size.h"
#include "../engine/util.h"
#include "format.h"

#define SECTOR 512

static int raw_probe(const uint8_t *buf, size_t len, const char *filename)
{
    (void)buf;
    (void)len;
    (void)filename;
    return PROBE_RAW;
}

/* Virtual size for a file length: whole 512-byte sectors, as qemu counts them. */
static uint64_t raw_size_of(uint64_t len)
{
    return round_up(len, SECTOR);
}

static int raw_open(struct image *img, struct err *err)
{
    int64_t len = file_length(img->file, err);

    if (len < 0) {
        return (int)len;
    }
    img->size = raw_size_of((uint64_t)len);
    return 0;
}

static int raw_read(struct image *img, uint64_t off, void *buf, size_t len, struct err *err)
{
    return file_pread(img->file, off, buf, len, err);
}

static int raw_write(struct image *img, uint64_t off, const void *buf, size_t len,
                     struct err *err)
{
    return file_pwrite(img->file, off, buf, len, err);
}

static int raw_write_zeroes(struct image *img, uint64_t off, uint64_t len, bool may_unmap,
                            struct err *err)
{
    return file_write_zeroes(img->file, off, len, may_unmap, err);
}

/* discard punches a hole: the range then reads as zeros, as qemu's file driver does */
static int raw_discard(struct image *img, uint64_t off, uint64_t len, struct err *err)
{
    return file_write_zeroes(img->file, off, len, true, err);
}

static int raw_block_status(struct image *img, uint64_t off, uint64_t len,
                            struct block_status *bs, struct err *err)
{
    int data = file_block_status(img->file, off, len, &bs->pnum);

    (void)err;
    bs->flags = (data ? BS_DATA : BS_ZERO) | BS_OFFSET_VALID;
    bs->offset = off;
    bs->host = img->file;
    return 0;
}

static int raw_truncate(struct image *img, uint64_t size, bool allow_shrink,
                        enum prealloc prealloc, struct err *err)
{
    int ret;

    if (size < img->size && !allow_shrink) {
        return err_set(err, -EINVAL, "Use the --shrink option to perform a shrink operation.");
    }
    ret = file_truncate(img->file, size, prealloc, err);
    if (ret < 0) {
        return ret;
    }
    img->size = raw_size_of(size);
    return 0;
}

static int raw_create(const char *filename, struct opts *opts, struct err *err)
{
    return file_create(filename, opts, err);
}

/*
 * A raw image is as big as its guest: the source's virtual size, or the
 * size option rounded up to whole sectors. Holes do not make it smaller.
 */
static int raw_measure(struct opts *opts, struct image *src, struct measure_result *out,
                       struct err *err)
{
    uint64_t size;

    memset(out, 0, sizeof(*out));
    if (src) {
        size = src->size;
    } else {
        int ret = opts_get_size(opts, "size", 0, &size, err);
        if (ret < 0) {
            return ret;
        }
        size = round_up(size, SECTOR);
    }
    out->required = size;
    out->fully_allocated = size;
    return 0;
}

static const struct opt_desc raw_create_opts[] = {
    { "size", OPT_SIZE, "Virtual disk size", NULL },
    { NULL, 0, NULL, NULL },
};

const struct fmt_driver fmt_raw = {
    .name = "raw",
    .description = "raw disk image: guest bytes stored as they are",
    .instance_size = 0,
    .probe = raw_probe,
    .open = raw_open,
    .read = raw_read,
    .write = raw_write,
    .write_zeroes = raw_write_zeroes,
    .discard = raw_discard,
    .block_status = raw_block_status,
    .truncate = raw_truncate,
    .create = raw_create,
    .create_opts = raw_create_opts,
    .create_passes_file_opts = true,
    .measure = raw_measure,
};

const struct fmt_driver fmt_file = {
    .name = "file",
    .description = "the host file itself, byte for byte",
    .instance_size = 0,
    .open = raw_open,
    .read = raw_read,
    .write = raw_write,
    .write_zeroes = raw_write_zeroes,
    .discard = raw_discard,
    .block_status = raw_block_status,
    .truncate = raw_truncate,
    .create = raw_create,
    .create_opts = file_create_opts,
};
