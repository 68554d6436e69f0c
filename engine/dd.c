/*
 * dd.c - "dd": copy part of an image into a new one, dd(1) style, as
 * qemu-img dd does.
 *
 * Operands bs=, count=, skip=, if=, of= (the last of each wins). The input
 * size is first cut to count*bs bytes (counted from the start of the
 * input, as qemu-img does), then skip*bs bytes are skipped; the output is
 * created with what remains as its size, and every byte of it is written
 * (the output is fully allocated, as qemu-img leaves it). A skip past the
 * end only warns and makes an empty output.
 *
 * The copy itself does not depend on bs: the result is the same bytes, so
 * it moves large chunks and does not read ranges the input reports as zero.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "block.h"
#include "cmd.h"
#include "size.h"
#include "util.h"

#define DD_CHUNK (2u << 20)

struct dd_args {
    const char *in, *out;
    int64_t bs, count, skip;
    bool has_count, has_skip;
};

/* qemu-img's cvtnum with bounds: prints its messages, -1 when invalid. */
static int parse_num(const char *name, const char *arg, int64_t min, int64_t max, int64_t *out)
{
    uint64_t v;
    int ret = size_parse(arg, &v);

    if (ret == -ERANGE || (ret == 0 && (v > (uint64_t)max || (int64_t)v < min))) {
        error_printf("Invalid %s specified. Must be between %" PRId64 " and %" PRId64 ".", name,
                     min, max);
        return -1;
    }
    if (ret < 0) {
        error_printf("Invalid %s specified. You may use k, M, G, T, P or E suffixes for", name);
        error_printf("kilobytes, megabytes, gigabytes, terabytes, petabytes and exabytes.");
        return -1;
    }
    *out = (int64_t)v;
    return 0;
}

static int parse_operand(struct dd_args *a, const char *arg)
{
    const char *eq = strchr(arg, '=');
    size_t klen = eq ? (size_t)(eq - arg) : strlen(arg);
    const char *val = eq ? eq + 1 : NULL;

#define KEY(k) (klen == strlen(k) && !strncmp(arg, k, klen) && val)
    if (KEY("bs")) {
        return parse_num("bs", val, 1, INT_MAX, &a->bs);
    } else if (KEY("count")) {
        a->has_count = true;
        return parse_num("count", val, 0, INT64_MAX, &a->count);
    } else if (KEY("skip")) {
        a->has_skip = true;
        return parse_num("skip", val, 0, INT64_MAX, &a->skip);
    } else if (KEY("if")) {
        a->in = val;
        return 0;
    } else if (KEY("of")) {
        a->out = val;
        return 0;
    }
#undef KEY
    error_printf("unrecognized operand %.*s", (int)klen, arg);
    return -1;
}

/* A read failed somewhere in [at, at + len) of a chunk that starts at in_pos
 * (block-aligned) and whose bytes before at are in buf. qemu-img dd copies
 * block by block, so the whole blocks before the failing one reach the
 * output: find that block and write everything before it. */
static void dd_salvage(struct image *in, struct image *out, uint64_t in_pos, uint64_t out_pos,
                       uint64_t at, size_t len, uint64_t bs, uint8_t *buf)
{
    uint64_t b = in_pos + (at - in_pos) / bs * bs;
    struct err err = { 0 };

    for (; b < at + len; b += bs) {
        size_t blen = (size_t)MIN(bs, at + len - b);

        if (image_read(in, b, buf + (b - in_pos), blen, &err) < 0) {
            break;
        }
    }
    if (b > in_pos) {
        image_write(out, out_pos, buf, (size_t)(b - in_pos), &err);
    }
}

/* Copy [in_pos, end) of in to offset 0 of out, in chunks of whole bs blocks. */
static int dd_copy(struct image *in, struct image *out, uint64_t in_pos, uint64_t end,
                   uint64_t blk)
{
    size_t chunk = blk <= DD_CHUNK ? DD_CHUNK / blk * blk : (size_t)blk;
    uint8_t *buf = xmalloc_io(chunk);
    uint64_t out_pos = 0, run_end = 0;
    bool run_zero = false;
    struct err err = { 0 };
    int ret = 0;

    while (in_pos < end) {
        size_t n = (size_t)MIN(end - in_pos, (uint64_t)chunk);
        struct block_status bs;

        /* read what holds data; what reads as zeros is zero-filled */
        for (size_t done = 0; done < n;) {
            uint64_t at = in_pos + done;
            size_t len;

            if (at >= run_end) {
                /* one block status walk per run, not per chunk */
                if (image_block_status(in, at, end - at, &bs, &err) < 0) {
                    bs.pnum = end - at;
                    bs.flags = BS_DATA;
                    err_clear(&err);
                }
                run_end = at + bs.pnum;
                run_zero = bs.flags & BS_ZERO;
            }
            len = (size_t)MIN(run_end - at, (uint64_t)(n - done));
            if (run_zero) {
                memset(buf + done, 0, len);
            } else if (image_read(in, at, buf + done, len, &err) < 0) {
                dd_salvage(in, out, in_pos, out_pos, at, len, blk, buf);
                error_printf("error while reading from input image file: %s",
                             strerror(err.code < 0 ? -err.code : EIO));
                ret = -1;
                goto out;
            }
            done += len;
        }
        if (image_write(out, out_pos, buf, n, &err) < 0) {
            error_printf("error while writing to output image file: %s",
                         strerror(err.code < 0 ? -err.code : EIO));
            ret = -1;
            goto out;
        }
        in_pos += n;
        out_pos += n;
    }
out:
    free(buf);
    return ret;
}

int cmd_dd(struct cmd_ctx *ctx, int argc, char **argv)
{
    static const struct option longopts[] = {
        { "help", no_argument, NULL, 'h' },
        { "force-share", no_argument, NULL, 'U' },
        { NULL, 0, NULL, 0 },
    };
    const char *fmt = NULL, *out_fmt = "raw";
    struct dd_args a = { .bs = 512 };
    const struct fmt_driver *drv;
    struct image *in = NULL, *out = NULL;
    struct opts opts = { 0 };
    struct err err = { 0 };
    unsigned flags = 0;
    uint64_t size, in_pos;
    char num[32];
    int c, ret = 1;

    while ((c = getopt_long(argc, argv, ":hf:O:U", longopts, NULL)) != -1) {
        switch (c) {
        case 'h':
            return cmd_help(ctx);
        case 'f':
            fmt = optarg;
            break;
        case 'O':
            out_fmt = optarg;
            break;
        case 'U':
            flags |= IMG_FORCE_SHARE;
            break;
        default:
            return cmd_getopt_error(ctx, c, argv);
        }
    }
    for (int i = optind; i < argc; i++) {
        if (parse_operand(&a, argv[i]) < 0) {
            return 1;
        }
    }
    if (!a.in || !a.out) {
        error_printf("Must specify both input and output files");
        return 1;
    }
    if (image_open(&in, a.in, fmt, flags, CACHE_WRITEBACK, &err) < 0) {
        err_report(&err);
        return 1;
    }
    drv = fmt_find(out_fmt);
    if (!drv) {
        error_printf("Unknown file format");
        goto out;
    }
    if (!drv->create) {
        error_printf("Format driver '%s' does not support image creation", drv->name);
        goto out;
    }
    if (!drv->write) {
        error_printf("imgsh cannot write the '%s' format yet", drv->name);
        goto out;
    }

    size = in->size;
    if (a.has_count && a.count <= INT64_MAX / a.bs && size > (uint64_t)(a.count * a.bs)) {
        size = (uint64_t)(a.count * a.bs);
    }
    if (a.has_skip && (a.skip > INT64_MAX / a.bs || size < (uint64_t)(a.skip * a.bs))) {
        /* like dd(1): a warning and an empty output */
        error_printf("%s: cannot skip to specified offset", a.in);
        in_pos = size;
    } else {
        in_pos = a.has_skip ? (uint64_t)(a.skip * a.bs) : 0;
    }

    snprintf(num, sizeof(num), "%" PRIu64, size - in_pos);
    opts_set(&opts, "size", num);
    if (image_create(drv, a.out, &opts, &err) < 0) {
        err_prepend(&err, "%s: error while creating output image: ", a.out);
        err_report(&err);
        goto out;
    }
    if (image_open(&out, a.out, drv->name, IMG_RDWR, CACHE_WRITEBACK, &err) < 0) {
        err_report(&err);
        goto out;
    }
    if (dd_copy(in, out, in_pos, size, a.bs) < 0) {
        goto out;
    }
    if (image_flush(out, &err) < 0) {
        err_report(&err);
        goto out;
    }
    ret = 0;
out:
    opts_free(&opts);
    image_close(out);
    image_close(in);
    return ret;
}
