/*
 * commit.c - "commit": write the data an image holds (and the images
 * between it and the base) into its base, as qemu-img commit does, then
 * empty the image unless -d (or -b) says to keep it.
 *
 * The base (the backing file, or -b's image in the chain) is reopened
 * read-write and grown to the image's size when smaller. Ranges that a
 * layer above the base allocates are copied through the top image: data
 * is read and written, zeros become zero writes (unmapping allowed);
 * ranges the base (or below) answers for are left alone.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "block.h"
#include "cmd.h"
#include "info.h"
#include "progress.h"
#include "util.h"

#define COMMIT_CHUNK (2U << 20)

/*
 * The layer of top's chain that base names, as qemu finds it: base is read
 * relative to the directory of each image in turn and compared, as a real
 * path, with that image's backing file.
 */
static struct image *find_base(struct image *top, const char *base, unsigned *depth)
{
    struct image *found = NULL;

    *depth = 1;
    for (struct image *l = top; l->backing && !found; l = l->backing, (*depth)++) {
        char *want = backing_full_path(l->filename, base);
        char *have = backing_full_path(l->filename, l->backing_file);
        char *rw = realpath(want, NULL), *rh = realpath(have, NULL);

        if (rw && rh && !strcmp(rw, rh)) {
            found = l->backing;
        }
        free(want);
        free(have);
        free(rw);
        free(rh);
        if (found) {
            break;
        }
    }
    return found;
}

static int copy_down(struct image *top, struct image *base, unsigned base_depth,
                     struct progress *prog, struct err *err)
{
    uint8_t *buf = xmalloc_io(COMMIT_CHUNK);
    uint64_t off = 0;
    int ret = 0;

    while (ret == 0 && off < top->size) {
        struct block_status bs;
        uint64_t n = MIN((uint64_t)COMMIT_CHUNK, top->size - off);

        ret = image_block_status(top, off, n, &bs, err);
        if (ret < 0) {
            break;
        }
        n = bs.pnum;
        if ((bs.flags & BS_ALLOCATED) && bs.depth < base_depth) {
            if (bs.flags & BS_ZERO) {
                ret = image_write_zeroes(base, off, n, true, err);
            } else {
                ret = image_read(top, off, buf, (size_t)n, err);
                if (ret == 0) {
                    ret = image_write(base, off, buf, (size_t)n, err);
                }
            }
        }
        off += n;
        progress_print(prog, (float)(100.0 * (double)off / (double)top->size), 0);
    }
    free(buf);
    return ret;
}

int cmd_commit(struct cmd_ctx *ctx, int argc, char **argv)
{
    static const struct option longopts[] = {
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *fmt = NULL, *cache = "writeback", *base_name = NULL;
    bool quiet = false, drop = false, show_progress = false;
    enum cache_mode mode;
    struct progress prog;
    struct image *top = NULL, *base;
    unsigned depth = 1;
    struct err err = { 0 };
    int c, ret = 1;

    while ((c = getopt_long(argc, argv, ":f:ht:b:dpqr:", longopts, NULL)) != -1) {
        switch (c) {
        case 'h':
            return cmd_help(ctx);
        case 'f':
            fmt = optarg;
            break;
        case 't':
            cache = optarg;
            break;
        case 'b':
            base_name = optarg;
            drop = true;        /* -b implies -d: the top image stays valid */
            break;
        case 'd':
            drop = true;
            break;
        case 'p':
            show_progress = true;
            break;
        case 'q':
            quiet = true;
            break;
        case 'r': {
            int64_t rate;
            if (cmd_parse_size("rate limit", optarg, &rate) < 0) {
                return 1;
            }
            break;              /* accepted; not enforced */
        }
        default:
            return cmd_getopt_error(ctx, c, argv);
        }
    }
    if (quiet) {
        show_progress = false;
    }
    if (!cmd_one_image(ctx, &argc, &argv)) {
        return 1;
    }
    if (cache_mode_parse(cache, &mode) < 0) {
        error_printf("Invalid cache option: %s", cache);
        return 1;
    }
    if (image_open(&top, argv[optind], fmt, IMG_RDWR | IMG_UNMAP, mode, &err) < 0) {
        err_report(&err);
        return 1;
    }
    if (!top->backing) {
        error_printf("Image does not have a backing file");
        goto out;
    }
    if (base_name) {
        base = find_base(top, base_name, &depth);
        if (!base) {
            error_printf("Did not find '%s' in the backing chain of '%s'", base_name,
                         argv[optind]);
            goto out;
        }
    } else {
        base = top->backing;
    }
    if (image_reopen_rw(base, &err) < 0) {
        err_report(&err);
        goto out;
    }
    base->flags |= IMG_UNMAP;
    progress_init(&prog, show_progress, 1.f);
    progress_print(&prog, 0, 100);
    if (base->size < top->size &&
        image_truncate(base, top->size, false, PREALLOC_OFF, &err) < 0) {
        progress_end(&prog);
        err_report(&err);
        goto out;
    }
    if (copy_down(top, base, depth, &prog, &err) < 0 || image_flush(base, &err) < 0) {
        progress_end(&prog);
        err_report(&err);
        goto out;
    }
    progress_print(&prog, 100, 0);
    progress_end(&prog);
    if (!drop && (image_make_empty(top, &err) < 0 || image_flush(top, &err) < 0)) {
        err_report(&err);
        goto out;
    }
    ret = 0;
    if (!quiet) {
        printf("Image committed.\n");
    }
out:
    image_close(top);
    return ret;
}
