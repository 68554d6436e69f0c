/*
 * rebase.c - "rebase": give an image another backing file, as qemu-img
 * rebase does.
 *
 * Safe mode (the default) keeps the guest data: wherever the image does
 * not allocate a range itself, the old backing chain and the new backing
 * file are read and every 512-byte run where they differ is written into
 * the image (with the old data). When the new backing file is part of the
 * old chain, only ranges some layer above it allocates are compared.
 * "-b ''" rebases onto nothing: the image takes all of its old backing
 * chain's data. Unsafe mode (-u) only changes the names in the header.
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

#define REBASE_CHUNK (2U << 20)
#define SECTOR 512

/* Read [off, off+n) of img (NULL: nothing) into buf; zeros past its end. */
static int read_or_zero(struct image *img, uint64_t off, uint8_t *buf, uint64_t n,
                        struct err *err)
{
    uint64_t have = img && off < img->size ? MIN(n, img->size - off) : 0;

    memset(buf + have, 0, (size_t)(n - have));
    return have ? image_read(img, off, buf, (size_t)have, err) : 0;
}

/* A format name qemu knows: one imgsh reads, or one it recognises. */
static bool known_format(const char *name)
{
    if (fmt_find(name)) {
        return true;
    }
    for (size_t i = 0; fmt_recognized[i]; i++) {
        if (!strcmp(fmt_recognized[i]->name, name)) {
            return true;
        }
    }
    return false;
}

/* The layer of img's old backing chain whose file is new's, or NULL. */
static struct image *prefix_layer(struct image *img, struct image *new)
{
    char *want = new ? realpath(new->filename, NULL) : NULL;
    struct image *found = NULL;

    for (struct image *l = img->backing; want && l && !found; l = l->backing) {
        char *have = realpath(l->filename, NULL);
        if (have && !strcmp(have, want)) {
            found = l;
        }
        free(have);
    }
    free(want);
    return found;
}

/* qemu-img's loop: chunks of up to 2 MiB, cut where allocation changes. */
static int copy_differences(struct image *img, struct image *new, struct progress *prog,
                            struct err *err)
{
    uint8_t *a = xmalloc_io(REBASE_CHUNK), *b = xmalloc_io(REBASE_CHUNK);
    struct image *prefix = prefix_layer(img, new);
    uint64_t off, n;
    float step = 100.0f / (float)(img->size / MIN(img->size, (uint64_t)REBASE_CHUNK));
    int ret = 0;

    for (off = 0; ret == 0 && off < img->size; off += n) {
        n = MIN((uint64_t)REBASE_CHUNK, img->size - off);
        /* allocated in the image itself: nothing to do */
        ret = image_is_allocated_above(img, img->backing, off, n, &n, err);
        if (ret != 0) {
            ret = ret < 0 ? ret : 0;
            continue;
        }
        if (prefix) {
            /* not changed above the new backing file: nothing to do either */
            ret = image_is_allocated_above(img->backing, prefix, off, n, &n, err);
            if (ret <= 0) {
                continue;
            }
            ret = 0;
        }
        ret = read_or_zero(img->backing, off, a, n, err);
        if (ret == 0) {
            ret = read_or_zero(new, off, b, n, err);
        }
        for (uint64_t done = 0; ret == 0 && done < n;) {
            uint64_t len = MIN((uint64_t)SECTOR, n - done), run;
            bool differ = memcmp(a + done, b + done, (size_t)len) != 0;

            for (run = len; done + run < n; run += len) {
                len = MIN((uint64_t)SECTOR, n - done - run);
                if ((memcmp(a + done + run, b + done + run, (size_t)len) != 0) != differ) {
                    break;
                }
            }
            if (differ && buf_is_zero(a + done, (size_t)run)) {
                ret = image_write_zeroes(img, off + done, run, false, err);
            } else if (differ) {
                ret = image_write(img, off + done, a + done, (size_t)run, err);
            }
            done += run;
        }
        progress_print(prog, step, 100);
    }
    free(a);
    free(b);
    return ret;
}

int cmd_rebase(struct cmd_ctx *ctx, int argc, char **argv)
{
    static const struct option longopts[] = {
        { "help", no_argument, NULL, 'h' },
        { "force-share", no_argument, NULL, 'U' },
        { NULL, 0, NULL, 0 },
    };
    const char *fmt = NULL, *base = NULL, *base_fmt = NULL;
    const char *cache = "writeback", *src_cache = "writeback";
    bool unsafe = false, quiet = false, show_progress = false, share = false;
    enum cache_mode mode, src_mode;
    struct progress prog;
    struct image *img = NULL, *new = NULL;
    struct err err = { 0 };
    int c, ret = 1;

    while ((c = getopt_long(argc, argv, ":hf:F:b:upt:T:qU", longopts, NULL)) != -1) {
        switch (c) {
        case 'h':
            return cmd_help(ctx);
        case 'f':
            fmt = optarg;
            break;
        case 'F':
            base_fmt = optarg;
            break;
        case 'b':
            base = optarg;
            break;
        case 'u':
            unsafe = true;
            break;
        case 'p':
            show_progress = true;
            break;
        case 't':
            cache = optarg;
            break;
        case 'T':
            src_cache = optarg;
            break;
        case 'q':
            quiet = true;
            break;
        case 'U':
            share = true;
            break;
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
    if (!unsafe && !base) {
        return cmd_usage_error(ctx, "Must specify backing file (-b) or use unsafe mode (-u)");
    }
    if (cache_mode_parse(cache, &mode) < 0) {
        error_printf("Invalid cache option: %s", cache);
        return 1;
    }
    if (cache_mode_parse(src_cache, &src_mode) < 0) {
        error_printf("Invalid source cache option: %s", src_cache);
        return 1;
    }
    progress_init(&prog, show_progress, 2.0f);
    progress_print(&prog, 0, 100);
    if (image_open(&img, argv[optind], fmt,
                   IMG_RDWR | (unsafe ? IMG_NO_BACKING : 0) | (share ? IMG_FORCE_SHARE : 0), mode,
                   &err) < 0) {
        err_report(&err);
        goto out;
    }
    if (base_fmt && !known_format(base_fmt)) {
        error_printf("Invalid format name: '%s'", base_fmt);
        goto out;
    }
    if (!unsafe && base && *base) {
        char *path = backing_full_path(img->filename, base);
        char *prefix = xasprintf("Could not open '%s': ", path);
        int r = image_open(&new, path, base_fmt, IMG_QUIET | (share ? IMG_FORCE_SHARE : 0),
                           src_mode, &err);
        if (r < 0) {
            /* qemu names the file once here, not twice as on the command line */
            const char *msg = err.msg;
            if (!strncmp(msg, prefix, strlen(prefix))) {
                msg += strlen(prefix);
            }
            error_printf("Could not open new backing file '%s': %s", base, msg);
        }
        free(prefix);
        free(path);
        if (r < 0) {
            goto out;
        }
    }
    if (!unsafe && copy_differences(img, new, &prog, &err) < 0) {
        error_printf("error while rebasing: %s", err.msg);
        goto out;
    }
    if (image_change_backing_file(img, base, base_fmt, &err) < 0) {
        error_printf("Could not change the backing file to '%s': %s", base ? base : "",
                     err.msg);
        goto out;
    }
    progress_print(&prog, 100, 0);
    ret = 0;
out:
    progress_end(&prog);
    image_close(new);
    image_close(img);
    return ret;
}
