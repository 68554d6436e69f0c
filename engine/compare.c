/*
 * compare.c - "compare": do two images show the same guest data?
 *
 * Walks both images by block status: ranges both report as zero are
 * skipped unread; elsewhere both sides are read (concurrently, one on a
 * worker thread) in chunks of at most COMPARE_CHUNK and compared 512 bytes
 * at a time, so a difference is reported at the start of the first
 * differing 512-byte block of its chunk, as qemu-img does. When the sizes
 * differ, the longer image's tail must read as zeros. Strict mode (-s) also
 * wants equal sizes and equal block status everywhere.
 *
 * Exit codes as qemu-img's: 0 identical, 1 different (or a usage error),
 * 2 an image could not be opened, 3 block status failed, 4 a read failed.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "block.h"
#include "cmd.h"
#include "progress.h"
#include "util.h"
#include "workers.h"

#define COMPARE_CHUNK (2u << 20)
#define SECTOR 512
/* A status bit of our own, next to enum bs_flags: the run reaches the end of the image. */
#define BS_EOF_BIT (1u << 16)

struct side {
    struct image *img;
    const char *filename;
    uint8_t *buf;
    /* the last block status run: [run_start, run_end) has run_flags */
    uint64_t run_start, run_end;
    unsigned run_flags;
};

/* A read of one side, run on a worker while the other side reads in place. */
struct read_job {
    struct work work;
    struct side *side;
    uint64_t off;
    size_t len;
    int ret;
    struct err err;
};

static void read_job_run(struct work *w)
{
    struct read_job *j = (struct read_job *)w;

    j->ret = image_read(j->side->img, j->off, j->side->buf, j->len, &j->err);
}

/*
 * Block status at off up to the image end; flags as strict mode compares
 * them. The run found last is remembered: asking again inside it (the next
 * chunk of a long run) must not cost another walk of the host file.
 */
static int side_status(struct side *s, uint64_t off, uint64_t *pnum, unsigned *flags)
{
    if (off < s->run_start || off >= s->run_end) {
        struct block_status bs;
        struct err err = { 0 };

        if (image_block_status(s->img, off, s->img->size - off, &bs, &err) < 0) {
            error_printf("Sector allocation test failed for %s", s->filename);
            return -1;
        }
        s->run_start = off;
        s->run_end = off + bs.pnum;
        s->run_flags = bs.flags & (BS_DATA | BS_ZERO | BS_OFFSET_VALID | BS_ALLOCATED);
    }
    *pnum = s->run_end - off;
    *flags = s->run_flags;
    if (s->run_end == s->img->size) {
        *flags |= BS_EOF_BIT;
    }
    return 0;
}

static int read_error(struct side *s, uint64_t off, int ret)
{
    error_printf("Error while reading offset %" PRIu64 " of %s: %s", off, s->filename,
                 strerror(ret < 0 ? -ret : EIO));
    return 4;
}

/* Offset (relative to the buffers) of the first differing 512-byte block, or -1. */
static int64_t first_difference(const uint8_t *a, const uint8_t *b, size_t len)
{
    for (size_t i = 0; i < len; i += SECTOR) {
        size_t n = MIN((size_t)SECTOR, len - i);
        if (memcmp(a + i, b + i, n)) {
            return (int64_t)i;
        }
    }
    return -1;
}

/* Offset of the first 512-byte block holding a non-zero byte, or -1. */
static int64_t first_nonzero(const uint8_t *buf, size_t len)
{
    for (size_t i = 0; i < len; i += SECTOR) {
        if (!buf_is_zero(buf + i, MIN((size_t)SECTOR, len - i))) {
            return (int64_t)i;
        }
    }
    return -1;
}

/* Must [off, off+len) of s read as zeros? 0 yes, 1 mismatch (printed), 4 read error. */
static int check_zero(struct side *s, uint64_t off, size_t len, bool quiet)
{
    struct err err = { 0 };
    int64_t at;
    int ret = image_read(s->img, off, s->buf, len, &err);

    if (ret < 0) {
        return read_error(s, off, ret);
    }
    at = first_nonzero(s->buf, len);
    if (at >= 0) {
        if (!quiet) {
            printf("Content mismatch at offset %" PRIu64 "!\n", off + (uint64_t)at);
        }
        return 1;
    }
    return 0;
}

/* Read the same range of both sides, the first on a worker. 0 or 4. */
static int read_both(struct workers *pool, struct side *a, struct side *b, uint64_t off,
                     size_t len)
{
    struct read_job job = { .work.fn = read_job_run, .side = a, .off = off, .len = len };
    struct err err = { 0 };
    int ret;

    workers_submit(pool, &job.work);
    ret = image_read(b->img, off, b->buf, len, &err);
    workers_wait(pool, &job.work);
    if (job.ret < 0) {
        return read_error(a, off, job.ret);
    }
    if (ret < 0) {
        return read_error(b, off, ret);
    }
    return 0;
}

static int compare_images(struct side *s1, struct side *s2, bool strict, bool quiet,
                          struct progress *prog)
{
    uint64_t size1 = s1->img->size, size2 = s2->img->size;
    uint64_t total = MIN(size1, size2), base = MAX(size1, size2);
    struct workers *pool;
    uint64_t off;
    int ret = 0;

    progress_print(prog, 0, 100);
    if (strict && size1 != size2) {
        if (!quiet) {
            printf("Strict mode: Image size mismatch!\n");
        }
        return 1;
    }
    pool = workers_new(1);
    for (off = 0; off < total;) {
        uint64_t pnum1, pnum2, chunk;
        unsigned st1, st2;
        bool alloc1, alloc2;

        if (side_status(s1, off, &pnum1, &st1) < 0 || side_status(s2, off, &pnum2, &st2) < 0) {
            ret = 3;
            goto out;
        }
        alloc1 = st1 & BS_ALLOCATED;
        alloc2 = st2 & BS_ALLOCATED;
        chunk = MIN(pnum1, pnum2);
        if (strict && st1 != st2) {
            if (!quiet) {
                printf("Strict mode: Offset %" PRIu64 " block status mismatch!\n", off);
            }
            ret = 1;
            goto out;
        }
        if ((st1 & BS_ZERO) && (st2 & BS_ZERO)) {
            /* both read as zeros: nothing to read */
        } else if (alloc1 == alloc2) {
            int64_t at;

            chunk = MIN(chunk, (uint64_t)COMPARE_CHUNK);
            ret = read_both(pool, s1, s2, off, (size_t)chunk);
            if (ret) {
                goto out;
            }
            at = first_difference(s1->buf, s2->buf, (size_t)chunk);
            if (at >= 0) {
                if (!quiet) {
                    printf("Content mismatch at offset %" PRIu64 "!\n", off + (uint64_t)at);
                }
                ret = 1;
                goto out;
            }
        } else {
            /* only one side has data here: it must be zeros */
            chunk = MIN(chunk, (uint64_t)COMPARE_CHUNK);
            ret = check_zero(alloc1 ? s1 : s2, off, (size_t)chunk, quiet);
            if (ret) {
                goto out;
            }
        }
        off += chunk;
        progress_print(prog, (float)chunk / (float)base * 100, 100);
    }

    if (size1 != size2) {
        struct side *over = size1 > size2 ? s1 : s2;

        if (!quiet) {
            printf("Warning: Image size mismatch!\n");
        }
        for (off = total; off < base;) {
            uint64_t chunk;
            unsigned st;

            if (side_status(over, off, &chunk, &st) < 0) {
                ret = 3;
                goto out;
            }
            if ((st & BS_ALLOCATED) && !(st & BS_ZERO)) {
                chunk = MIN(chunk, (uint64_t)COMPARE_CHUNK);
                ret = check_zero(over, off, (size_t)chunk, quiet);
                if (ret) {
                    goto out;
                }
            }
            off += chunk;
            progress_print(prog, (float)chunk / (float)base * 100, 100);
        }
    }
    if (!quiet) {
        printf("Images are identical.\n");
    }
    ret = 0;
out:
    workers_free(pool);
    return ret;
}

int cmd_compare(struct cmd_ctx *ctx, int argc, char **argv)
{
    static const struct option longopts[] = {
        { "help", no_argument, NULL, 'h' },
        { "force-share", no_argument, NULL, 'U' },
        { NULL, 0, NULL, 0 },
    };
    const char *fmt1 = NULL, *fmt2 = NULL, *cache = "writeback";
    bool progress = false, quiet = false, strict = false;
    unsigned flags = 0;
    enum cache_mode src_cache;
    struct side s1 = { 0 }, s2 = { 0 };
    struct progress prog;
    struct err err = { 0 };
    int c, ret;

    while ((c = getopt_long(argc, argv, ":hf:F:T:pqsU", longopts, NULL)) != -1) {
        switch (c) {
        case 'h':
            return cmd_help(ctx);
        case 'f':
            fmt1 = optarg;
            break;
        case 'F':
            fmt2 = optarg;
            break;
        case 'T':
            cache = optarg;
            break;
        case 'p':
            progress = true;
            break;
        case 'q':
            quiet = true;
            break;
        case 's':
            strict = true;
            break;
        case 'U':
            flags |= IMG_FORCE_SHARE;
            break;
        default:
            return cmd_getopt_error(ctx, c, argv);
        }
    }
    if (quiet) {
        progress = false;
    }
    cmd_default_image(ctx, &argc, &argv, 2);
    if (optind != argc - 2) {
        return cmd_usage_error(ctx, "Expecting two image file names");
    }
    s1.filename = argv[optind];
    s2.filename = argv[optind + 1];

    progress_init(&prog, progress, 2.0f);
    ret = 2;
    if (cache_mode_parse(cache, &src_cache) < 0) {
        error_printf("Invalid source cache option: %s", cache);
        goto out;
    }
    if (image_open(&s1.img, s1.filename, fmt1, flags, src_cache, &err) < 0 ||
        image_open(&s2.img, s2.filename, fmt2, flags, src_cache, &err) < 0) {
        err_report(&err);
        goto out;
    }
    s1.buf = xmalloc_io(COMPARE_CHUNK);
    s2.buf = xmalloc_io(COMPARE_CHUNK);
    ret = compare_images(&s1, &s2, strict, quiet, &prog);
out:
    progress_end(&prog);
    free(s1.buf);
    free(s2.buf);
    image_close(s1.img);
    image_close(s2.img);
    return ret;
}
