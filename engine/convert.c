/*
 * convert.c - "convert": copy one or more images (concatenated) into a new
 * or existing target of any format with create/write support, as
 * qemu-img convert does.
 *
 * How the copy is cut (this decides which target ranges end up allocated,
 * so it follows qemu-img's observable behaviour exactly), in 512-byte
 * sectors of the target:
 *  - the sources are walked by block status; a run is cut back to the
 *    source's cluster alignment and never crosses into the next source;
 *  - a zero run is not read: on a fresh target it is skipped (the target
 *    reads as zeros), on an existing one (-n) it is written as zeros with
 *    unmapping allowed (a hole on raw files); with -S 0 it is data;
 *  - a data run is read in chunks of at most CONVERT_BUF bytes; in each
 *    chunk, zero sectors at the chunk start, and zero runs of at least
 *    -S bytes after data, become zero writes (or nothing on a fresh
 *    target); shorter zero runs are written as data; the ends of data
 *    pieces move to the -S alignment grid (see split_chunk()).
 *
 * Speed: the main thread plans chunks; a pool of worker threads (engine/
 * workers.c, one per -m request) reads the data chunks and splits them into
 * data and zero pieces; the main thread writes the target in guest order
 * (with -W the workers write it themselves, out of order). Each request
 * slot owns its buffer, reused for every chunk it carries.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "block.h"
#include "cmd.h"
#include "progress.h"
#include "size.h"
#include "util.h"
#include "workers.h"

#define SECTOR 512ULL
#define CONVERT_BUF (2ULL << 20)                    /* largest data chunk */
#define BUF_SECTORS (CONVERT_BUF / SECTOR)
#define MAX_SPARSE_SECTORS (32768ULL)               /* -S up to 16 MiB */
#define MAX_STATUS_SECTORS ((uint64_t)(0x7fffffff / SECTOR))  /* per block status query */
#define MAX_JOBS 16
#define DEFAULT_JOBS 8

enum chunk_status {
    CHUNK_DATA,         /* read the source, write what is not zero */
    CHUNK_ZERO,         /* reads as zeros: nothing to read */
    CHUNK_BACKING,      /* left to the target's backing file */
};

/* A run of a data chunk: n sectors that are data or zeros. */
struct piece {
    uint32_t n;
    bool data;
};

struct convert;

/* One request slot: a chunk, its buffer and its read/split job. */
struct slot {
    struct work work;
    struct convert *s;
    uint64_t sector, n;         /* target sectors */
    enum chunk_status status;
    bool known_zero;            /* a zero run copied as data (-S 0): not read */
    size_t src;                 /* source index */
    uint64_t src_off;           /* byte offset in that source */
    uint8_t *buf;               /* CONVERT_BUF bytes, allocated on first use */
    struct piece *pieces;       /* BUF_SECTORS entries, allocated on first use */
    size_t npieces;
    bool submitted;
    int ret;                    /* 0, or negative errno of a failed read/write */
    bool write_failed;          /* ret is from writing (else reading) */
    uint8_t *cbuf;              /* -c: the compressed cluster */
    size_t clen;                /* its length; 0 = store the data as it is */
    bool zero_skip;             /* -c: all zeros on a target that reads as zeros */
};

struct convert {
    struct image **src;
    size_t nsrc;
    uint64_t *src_start;        /* first target sector of each source */
    uint64_t *src_sectors;
    uint64_t *src_align;        /* cluster alignment of each source, in sectors */
    uint64_t total;             /* target sectors to write */
    struct image *target;

    uint64_t min_sparse;        /* sectors; 0 = fully allocate */
    uint64_t alignment;         /* sectors, a power of two */
    bool has_zero_init;         /* the target reads as zeros already */
    bool target_has_backing;
    bool compress;              /* -c: one cluster per data chunk, compressed */
    uint64_t cluster_sectors;   /* the target's cluster size, with -c */
    uint64_t target_backing_sectors;   /* size of the target's backing file */
    bool copy_range;            /* -C */
    bool out_of_order;          /* -W */
    bool salvage;
    bool quiet;

    /* planner state: the current block status run */
    uint64_t next_status;
    enum chunk_status status;
    bool status_zero;           /* the run reads as zeros (even when copied as data) */

    struct progress *prog;
    uint64_t allocated, allocated_done;
};

/* ------------------------------------------------------------------------
 * Planning: which target sectors come next, and what they are.
 */

static size_t source_of(const struct convert *s, uint64_t sector)
{
    size_t i = 0;

    while (i + 1 < s->nsrc && sector >= s->src_start[i + 1]) {
        i++;
    }
    return i;
}

/*
 * The next chunk at sector: sets *n and *status. Returns 0, or -1 after
 * printing qemu-img's message.
 */
static int plan_chunk(struct convert *s, uint64_t sector, uint64_t *n_out,
                      enum chunk_status *status_out)
{
    size_t i = source_of(s, sector);
    uint64_t src_sector = sector - s->src_start[i];
    uint64_t n = MIN(s->total - sector, MAX_STATUS_SECTORS);

    if (s->next_status <= sector) {
        struct image *img = s->src[i];
        uint64_t off = src_sector * SECTOR;
        uint64_t want = MIN(n, s->src_sectors[i] - src_sector);
        struct block_status bs;
        struct err err = { 0 };
        uint64_t cnt, tail;

        for (;;) {
            uint64_t len = MIN(want * SECTOR, img->size - off);

            if (image_block_status(img, off, len, &bs, &err) == 0) {
                break;
            }
            if (!s->salvage) {
                error_printf("error while reading block status at offset %" PRIu64 ": %s", off,
                             strerror(err.code < 0 ? -err.code : EIO));
                return -1;
            }
            if (want == 1) {
                if (!s->quiet) {
                    warn_printf("error while reading block status at offset %" PRIu64 ": %s",
                                off, strerror(err.code < 0 ? -err.code : EIO));
                }
                bs.flags = BS_DATA;
                bs.pnum = SECTOR;
                bs.depth = 0;
                break;
            }
            want = (want + 3) / 4;      /* retry on a shorter range */
            err_clear(&err);
        }
        cnt = (bs.pnum + SECTOR - 1) / SECTOR;
        /* keep the next query on the source's cluster grid */
        tail = (src_sector + cnt) % s->src_align[i];
        if (cnt > tail) {
            cnt -= tail;
        }
        if (s->target_has_backing && bs.depth > 0) {
            s->status = CHUNK_BACKING;      /* not in the top layer: the backing file has it */
        } else if (bs.flags & BS_ZERO) {
            /* past the end of the target's backing file, zeros need no writing either */
            s->status = s->target_has_backing && sector >= s->target_backing_sectors
                            ? CHUNK_BACKING : CHUNK_ZERO;
        } else {
            s->status = CHUNK_DATA;
        }
        s->status_zero = s->status == CHUNK_ZERO;
        if (s->status == CHUNK_ZERO && s->min_sparse == 0) {
            s->status = CHUNK_DATA;         /* -S 0: zeros are written like data */
        }
        s->next_status = sector + cnt;
        n = cnt;
    }
    n = MIN(n, s->next_status - sector);
    if (s->status == CHUNK_DATA) {
        n = MIN(n, s->compress ? s->cluster_sectors : BUF_SECTORS);
    }
    if (s->compress) {
        /* whole clusters only: a shorter run makes its cluster data */
        if (n < s->cluster_sectors) {
            n = MIN(s->cluster_sectors, s->total - sector);
            s->status = CHUNK_DATA;
        } else {
            n = round_down(n, s->cluster_sectors);
        }
    }
    *n_out = n;
    *status_out = s->status;
    return 0;
}

/* First pass for -p: how many sectors will be copied as data. */
static int count_allocated(struct convert *s)
{
    uint64_t sector = 0;

    s->allocated = 0;
    s->next_status = 0;
    while (sector < s->total) {
        uint64_t n;
        enum chunk_status st;

        if (plan_chunk(s, sector, &n, &st) < 0) {
            return -1;
        }
        if (st == CHUNK_DATA) {
            s->allocated += n;
        }
        sector += n;
    }
    s->next_status = 0;
    return 0;
}

/* ------------------------------------------------------------------------
 * Splitting a data chunk into data and zero pieces.
 */

/* 16 bytes at a time; GCC's vector extension gives SSE2 code on x86-64. */
typedef uint64_t zvec __attribute__((vector_size(16)));

static bool sector_is_zero(const uint8_t *buf, uint64_t i)
{
    const uint8_t *p = buf + i * SECTOR;
    zvec acc = { 0, 0 }, a, b, c, d;
    uint64_t first;

    memcpy(&first, p, sizeof(first));
    if (first) {
        return false;           /* data usually shows in its first bytes */
    }
    for (size_t k = 0; k < SECTOR; k += 4 * sizeof(zvec)) {
        memcpy(&a, p + k, sizeof(a));
        memcpy(&b, p + k + 16, sizeof(b));
        memcpy(&c, p + k + 32, sizeof(c));
        memcpy(&d, p + k + 48, sizeof(d));
        acc |= (a | b) | (c | d);
    }
    return (acc[0] | acc[1]) == 0;
}

/*
 * The run of sectors at buf (n >= 1 of them, the first at target sector
 * sector) that share the first one's zero-ness; *len gets its length and
 * the result is true for data. A run that does not reach the end of the
 * buffer is made to end on the alignment grid: data grows up to the next
 * grid line, zeros shrink back to the previous one, and a zero run too
 * short for that counts as data (its block is rewritten anyway).
 */
static bool sector_run(const uint8_t *buf, uint64_t n, uint64_t sector, uint64_t align,
                       uint64_t *len)
{
    bool zero = sector_is_zero(buf, 0);
    uint64_t i = 1, tail;

    while (i < n && sector_is_zero(buf, i) == zero) {
        i++;
    }
    if (i < n && (tail = (sector + i) % align) != 0) {
        if (zero && i <= tail) {
            zero = false;
        }
        if (zero) {
            i -= tail;
        } else {
            i = MIN(i + align - tail, n);
        }
    }
    *len = i;
    return !zero;
}

/*
 * The next piece to write: zeros at the start are a zero piece of any
 * length; after data, zero runs shorter than min_sparse are swallowed into
 * the data piece, which ends with the last data run before a long enough
 * zero run (or the end).
 */
static bool next_piece(const uint8_t *buf, uint64_t n, uint64_t sector, uint64_t min,
                       uint64_t align, uint64_t *len)
{
    uint64_t used, checked, run;

    if (min > n) {
        min = n;
    }
    if (!sector_run(buf, n, sector, align, &run)) {
        *len = run;
        return false;
    }
    used = checked = run;
    while (checked < n) {
        bool data = sector_run(buf + checked * SECTOR, n - checked, sector + checked, align,
                               &run);
        checked += run;
        if (data) {
            used = checked;
        } else if (run >= min) {
            break;
        }
    }
    *len = used;
    return true;
}

static void split_chunk(struct slot *sl)
{
    const struct convert *s = sl->s;
    uint64_t done = 0;

    sl->npieces = 0;
    if (s->min_sparse == 0 || s->copy_range) {
        sl->pieces[sl->npieces++] = (struct piece){ (uint32_t)sl->n, true };
        return;
    }
    while (done < sl->n) {
        uint64_t len;
        bool data = next_piece(sl->buf + done * SECTOR, sl->n - done, sl->sector + done,
                               s->min_sparse, s->alignment, &len);

        if (sl->npieces && sl->pieces[sl->npieces - 1].data == data) {
            sl->pieces[sl->npieces - 1].n += (uint32_t)len;
        } else {
            sl->pieces[sl->npieces++] = (struct piece){ (uint32_t)len, data };
        }
        done += len;
    }
}

/* ------------------------------------------------------------------------
 * Reading (on workers) and writing.
 */

static int read_chunk(struct slot *sl)
{
    struct convert *s = sl->s;
    struct image *img = s->src[sl->src];
    size_t len = (size_t)(sl->n * SECTOR);
    size_t avail = (size_t)MIN((uint64_t)len, img->size - sl->src_off);
    struct err err = { 0 };
    int ret;

    if (sl->known_zero) {
        memset(sl->buf, 0, len);
        return 0;
    }
    ret = image_read(img, sl->src_off, sl->buf, avail, &err);
    if (ret < 0 && s->salvage) {
        /* sector by sector: what cannot be read becomes zeros */
        ret = 0;
        for (size_t off = 0; off < avail; off += SECTOR) {
            size_t n = MIN((size_t)SECTOR, avail - off);
            err_clear(&err);
            if (image_read(img, sl->src_off + off, sl->buf + off, n, &err) < 0) {
                if (!s->quiet) {
                    warn_printf("error while reading offset %" PRIu64 ": %s",
                                (uint64_t)(sl->src_off + off),
                                strerror(err.code < 0 ? -err.code : EIO));
                }
                memset(sl->buf + off, 0, n);
            }
        }
    }
    if (ret < 0) {
        return ret;
    }
    memset(sl->buf + avail, 0, len - avail);
    return 0;
}

static int write_zeroes(struct convert *s, uint64_t sector, uint64_t n, struct err *err)
{
    if (s->has_zero_init) {
        return 0;               /* the target reads as zeros already */
    }
    return image_write_zeroes(s->target, sector * SECTOR, n * SECTOR, s->min_sparse != 0, err);
}

/* Write one chunk to the target. Returns 0 or negative errno. */
static int write_chunk(struct slot *sl)
{
    struct convert *s = sl->s;
    struct err err = { 0 };
    uint64_t sector = sl->sector;
    int ret = 0;

    switch (sl->status) {
    case CHUNK_BACKING:
        break;
    case CHUNK_ZERO:
        ret = write_zeroes(s, sector, sl->n, &err);
        break;
    case CHUNK_DATA:
        if (s->compress) {
            if (!sl->zero_skip) {
                ret = image_write_compressed_cluster(s->target, sector * SECTOR, sl->buf,
                                                     (size_t)(sl->n * SECTOR), sl->cbuf,
                                                     sl->clen, &err);
            }
            break;
        }
        for (size_t i = 0; i < sl->npieces && ret == 0; i++) {
            const struct piece *p = &sl->pieces[i];
            if (p->data) {
                ret = image_write(s->target, sector * SECTOR,
                                  sl->buf + (sector - sl->sector) * SECTOR,
                                  (size_t)(p->n * SECTOR), &err);
            } else {
                ret = write_zeroes(s, sector, p->n, &err);
            }
            sector += p->n;
        }
        break;
    }
    return ret;
}

/* The worker's part of a slot: read and split, and with -W also write. */
static void slot_run(struct work *w)
{
    struct slot *sl = (struct slot *)w;

    sl->ret = 0;
    sl->write_failed = false;
    if (sl->status == CHUNK_DATA) {
        sl->ret = read_chunk(sl);
        if (sl->ret == 0 && sl->s->compress) {
            /* compressing here puts every core to work; the writes stay in order */
            const struct convert *s = sl->s;
            size_t len = (size_t)(sl->n * SECTOR);
            sl->zero_skip = s->has_zero_init && s->min_sparse && buf_is_zero(sl->buf, len);
            sl->clen = sl->zero_skip ? 0 : image_compress(s->target, sl->buf, len, sl->cbuf);
        } else if (sl->ret == 0) {
            split_chunk(sl);
        }
    }
    if (sl->ret == 0 && sl->s->out_of_order) {
        sl->ret = write_chunk(sl);
        sl->write_failed = sl->ret < 0;
    }
}

/* Finish the oldest slot: wait for its job, write it (in order), count progress. */
static int complete_slot(struct convert *s, struct workers *pool, struct slot *sl)
{
    int ret;

    if (sl->submitted) {
        workers_wait(pool, &sl->work);
        sl->submitted = false;
    }
    ret = sl->ret;
    if (ret == 0 && !s->out_of_order) {
        ret = write_chunk(sl);
        sl->write_failed = ret < 0;
    }
    if (ret < 0) {
        error_printf("error while %s at byte %lld: %s", sl->write_failed ? "writing" : "reading",
                     (long long)(sl->sector * SECTOR), strerror(-ret));
        return -1;
    }
    if (sl->status == CHUNK_DATA) {
        s->allocated_done += sl->n;
        progress_print(s->prog, (float)(100.0 * (double)s->allocated_done /
                                        (double)s->allocated), 0);
    }
    return 0;
}

static int convert_copy(struct convert *s, unsigned njobs)
{
    struct slot *slots = xcalloc(njobs, sizeof(*slots));
    struct workers *pool = workers_new(njobs);
    size_t head = 0, inflight = 0;
    uint64_t sector = 0;
    int ret = 0;

    s->next_status = 0;
    for (;;) {
        if (ret == 0 && sector < s->total && inflight < njobs) {
            struct slot *sl = &slots[(head + inflight) % njobs];
            uint64_t n;
            enum chunk_status st;

            if (plan_chunk(s, sector, &n, &st) < 0) {
                ret = -1;
                continue;
            }
            sl->s = s;
            sl->sector = sector;
            sl->n = n;
            sl->status = st;
            sl->known_zero = s->status_zero;
            sl->src = source_of(s, sector);
            sl->src_off = (sector - s->src_start[sl->src]) * SECTOR;
            sl->ret = 0;
            if (st == CHUNK_DATA) {
                if (!sl->buf) {
                    sl->buf = xmalloc_io(CONVERT_BUF);
                    sl->pieces = xmalloc(BUF_SECTORS * sizeof(*sl->pieces));
                    if (s->compress) {
                        sl->cbuf = xmalloc((size_t)(s->cluster_sectors * SECTOR));
                    }
                }
            }
            if (st == CHUNK_DATA || s->out_of_order) {
                sl->work.fn = slot_run;
                sl->submitted = true;
                workers_submit(pool, &sl->work);
            }
            inflight++;
            sector += n;
            continue;
        }
        if (!inflight) {
            break;
        }
        if (ret == 0) {
            ret = complete_slot(s, pool, &slots[head]);
        } else if (slots[head].submitted) {
            workers_wait(pool, &slots[head].work);     /* after an error: just drain */
            slots[head].submitted = false;
        }
        head = (head + 1) % njobs;
        inflight--;
    }
    workers_free(pool);
    for (unsigned i = 0; i < njobs; i++) {
        free(slots[i].buf);
        free(slots[i].pieces);
        free(slots[i].cbuf);
    }
    free(slots);
    return ret;
}

/* ------------------------------------------------------------------------
 * Options.
 */

/* -m: a C integer (decimal, 0x hex, 0 octal), 1..MAX_JOBS. */
static int parse_jobs(const char *arg, unsigned *out)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(arg, &end, 0);
    if (errno || end == arg || *end || v < 1 || v > MAX_JOBS) {
        error_printf("Invalid number of coroutines. Allowed number of coroutines is between 1 "
                     "and %d", MAX_JOBS);
        return -1;
    }
    *out = (unsigned)v;
    return 0;
}

/* Cluster size of a source in sectors (1 when it has none), to keep runs aligned. */
static uint64_t source_alignment(struct image *img)
{
    struct image_info info = { 0 };
    struct err err = { 0 };
    uint64_t align = 1;

    if (img->drv->get_info && img->drv->get_info(img, &info, &err) == 0) {
        if (info.cluster_size >= SECTOR) {
            align = info.cluster_size / SECTOR;
        }
        json_decref(info.format_specific);
    }
    return align;
}

/* The source must not change under us: refuse others write and resize, as qemu-img does. */
static int lock_source(struct image *img, struct err *err)
{
    for (struct image *layer = img; layer; layer = layer->backing) {
        int ret = file_lock(layer->file, PERM_CONSISTENT_READ, PERM_WRITE | PERM_RESIZE, err);
        if (ret < 0) {
            err_prepend(err, "Could not open '%s': ", img->filename);
            return ret;
        }
    }
    return 0;
}

static uint64_t pow2floor(uint64_t v)
{
    uint64_t p = 1;

    while (p * 2 <= v) {
        p *= 2;
    }
    return p;
}

struct convert_opts {
    const char *fmt, *out_fmt, *cache, *src_cache, *backing, *backing_fmt;
    char *options;
    struct snapshot_arg snap;
    int64_t sparse;             /* bytes; -1 = default */
    unsigned jobs;
    bool skip_create, target_is_zero, compress, copy_range, progress, quiet, out_of_order;
    bool salvage, bitmaps, skip_broken_bitmaps;
    struct image *bitmap_src;   /* the (single) source, for --bitmaps */
    unsigned src_flags;
};

/* Create the target; prints qemu-img's messages. */
static int check_bitmaps(struct image *src, bool skip_broken);

static int create_target(const struct convert_opts *o, const char *out_filename,
                         uint64_t size, int nsrc, bool *has_backing)
{
    const struct fmt_driver *drv = fmt_find(o->out_fmt);
    struct opt_desc *desc;
    struct opts opts = { 0 };
    struct err err = { 0 };
    char num[32];
    int ret = -1;

    if (!drv) {
        error_printf("Unknown file format '%s'", o->out_fmt);
        return -1;
    }
    if (!drv->create) {
        error_printf("Format driver '%s' does not support image creation", o->out_fmt);
        return -1;
    }
    if (!drv->write) {
        error_printf("imgsh cannot write the '%s' format yet", o->out_fmt);
        return -1;
    }
    desc = image_create_opts(drv, true);
    if (o->options) {
        if (opts_parse(&opts, o->options, &err) < 0 || opts_validate(&opts, desc, &err) < 0) {
            err_report(&err);
            goto out;
        }
    }
    opts_del(&opts, "size");
    snprintf(num, sizeof(num), "%" PRIu64, size);
    opts_set(&opts, "size", num);
    if (o->backing) {
        if (!opt_desc_find(desc, "backing_file")) {
            error_printf("Backing file not supported for file format '%s'", o->out_fmt);
            goto out;
        }
        opts_set(&opts, "backing_file", o->backing);
    }
    if (o->backing_fmt) {
        if (!opt_desc_find(desc, "backing_fmt")) {
            error_printf("Backing file format not supported for file format '%s'", o->out_fmt);
            goto out;
        }
        opts_set(&opts, "backing_fmt", o->backing_fmt);
    }
    *has_backing = opts_get(&opts, "backing_file") != NULL;
    if (*has_backing && nsrc > 1) {
        error_printf("Having a backing file for the target makes no sense when concatenating "
                     "multiple input images");
        goto out;
    }
    if (o->compress && !drv->write_compressed) {
        error_printf("Compression not supported for this file format");
        goto out;
    }
    if (o->bitmaps && check_bitmaps(o->bitmap_src, o->skip_broken_bitmaps) < 0) {
        goto out;
    }
    if (image_create(drv, out_filename, &opts, &err) < 0) {
        err_prepend(&err, "%s: error while converting %s: ", out_filename, o->out_fmt);
        err_report(&err);
        goto out;
    }
    ret = 0;
out:
    opts_free(&opts);
    free(desc);
    return ret;
}

/* --bitmaps: the source must keep bitmaps, and (unless skipped) none may be inconsistent. */
static int check_bitmaps(struct image *src, bool skip_broken)
{
    struct bitmap_info *list = NULL;
    size_t n = 0;
    int ret = 0;

    if (!src->drv->supports_bitmaps || !src->drv->supports_bitmaps(src)) {
        error_printf("Source lacks bitmap support");
        return -1;
    }
    if (src->drv->bitmap_list(src, &list, &n, NULL) < 0) {
        return -1;
    }
    for (size_t i = 0; i < n && !skip_broken; i++) {
        if (list[i].inconsistent) {
            error_printf("Cannot copy inconsistent bitmap '%s'", list[i].name);
            fprintf(stderr, "Try --skip-broken-bitmaps, or use 'qemu-img bitmap --remove' to "
                    "delete it from disk\n");
            ret = -1;
            break;
        }
    }
    free(list);
    return ret;
}

/* After the copy: each bitmap made in the target with its granularity and state, then filled. */
static int copy_bitmaps(struct image *src, struct image *dst, bool skip_broken)
{
    struct bitmap_info *list = NULL;
    struct err err = { 0 };
    size_t n = 0;
    int ret = src->drv->bitmap_list(src, &list, &n, &err);

    for (size_t i = 0; ret == 0 && i < n; i++) {
        const struct bitmap_info *b = &list[i];
        if (skip_broken && b->inconsistent) {
            warn_printf("Skipping inconsistent bitmap '%s'", b->name);
            continue;
        }
        ret = dst->drv->bitmap(dst, BITMAP_ADD, b->name, b->granularity, NULL, NULL, &err);
        if (ret == 0 && !b->enabled) {
            ret = dst->drv->bitmap(dst, BITMAP_DISABLE, b->name, 0, NULL, NULL, &err);
        }
        if (ret < 0) {
            error_printf("Failed to create bitmap %s: %s", b->name, err.msg);
            break;
        }
        ret = dst->drv->bitmap(dst, BITMAP_MERGE, b->name, 0, src, b->name, &err);
        if (ret < 0) {
            error_printf("Failed to populate bitmap %s: %s", b->name, err.msg);
            dst->drv->bitmap(dst, BITMAP_REMOVE, b->name, 0, NULL, NULL, NULL);
        }
    }
    free(list);
    return ret;
}

static int run_convert(struct convert_opts *o, int nsrc, char **srcs, const char *out_filename,
                       enum cache_mode src_cache, struct progress *prog)
{
    struct convert s = { 0 };
    enum cache_mode cache;
    struct err err = { 0 };
    uint64_t total_bytes = 0;
    int ret = 1;

    s.nsrc = (size_t)nsrc;
    s.src = xcalloc(s.nsrc, sizeof(*s.src));
    s.src_start = xcalloc(s.nsrc, sizeof(*s.src_start));
    s.src_sectors = xcalloc(s.nsrc, sizeof(*s.src_sectors));
    s.src_align = xcalloc(s.nsrc, sizeof(*s.src_align));
    s.prog = prog;
    s.quiet = o->quiet;
    s.salvage = o->salvage;
    s.copy_range = o->copy_range;
    s.out_of_order = o->out_of_order;
    s.min_sparse = o->sparse < 0 ? 8 : (uint64_t)o->sparse / SECTOR;

    progress_print(prog, 0, 100);
    if (cmd_snapshot_arg_given(&o->snap) && nsrc > 1) {
        error_printf("No support for concatenating multiple snapshot");
        goto out;
    }
    if (o->bitmaps && nsrc > 1) {
        error_printf("Copying bitmaps only possible with single source");
        goto out;
    }
    for (size_t i = 0; i < s.nsrc; i++) {
        if (image_open(&s.src[i], srcs[i], o->fmt, o->src_flags, src_cache, &err) < 0 ||
            (!(o->src_flags & IMG_FORCE_SHARE) && lock_source(s.src[i], &err) < 0)) {
            err_report(&err);
            goto out;
        }
        s.src_start[i] = s.total;
        s.src_sectors[i] = (s.src[i]->size + SECTOR - 1) / SECTOR;
        s.src_align[i] = source_alignment(s.src[i]);
        s.total += s.src_sectors[i];
    }
    total_bytes = s.total * SECTOR;
    if (cmd_snapshot_arg_given(&o->snap) && cmd_load_snapshot(s.src[0], &o->snap) < 0) {
        goto out;
    }
    o->bitmap_src = s.src[0];
    if (o->skip_create && o->bitmaps && check_bitmaps(s.src[0], o->skip_broken_bitmaps) < 0) {
        goto out;
    }

    if (!o->skip_create &&
        create_target(o, out_filename, total_bytes, nsrc, &s.target_has_backing) < 0) {
        goto out;
    }
    if (cache_mode_parse(o->cache, &cache) < 0) {
        error_printf("Invalid cache option: %s", o->cache);
        goto out;
    }
    if (image_open(&s.target, out_filename, o->out_fmt, IMG_RDWR | IMG_QUIET | IMG_UNMAP, cache,
                   &err) < 0) {
        err_report(&err);
        goto out;
    }
    if (o->bitmaps && (!s.target->drv->supports_bitmaps ||
                       !s.target->drv->supports_bitmaps(s.target))) {
        error_printf("Format driver '%s' does not support bitmaps", s.target->drv->name);
        goto out;
    }
    if (o->skip_create) {
        if (o->compress && !s.target->drv->write_compressed) {
            error_printf("Compression not supported for this file format");
            goto out;
        }
        if (s.target->size < total_bytes) {
            error_printf("output file is smaller than input file");
            goto out;
        }
        s.target_has_backing = s.target->backing_file != NULL;
        if (o->target_is_zero && s.target_has_backing) {
            error_printf("Cannot use --target-is-zero when the destination image has a backing "
                         "file");
            goto out;
        }
        s.has_zero_init = o->target_is_zero;
    } else {
        /* a new image reads as zeros, unless -S 0 asks for every byte to be written */
        s.has_zero_init = s.min_sparse && !s.target_has_backing;
    }
    if (o->compress) {
        s.compress = true;
        s.cluster_sectors = s.target->cluster_size / SECTOR;
        if (s.cluster_sectors == 0 || s.cluster_sectors > BUF_SECTORS) {
            error_printf("invalid cluster size");
            goto out;
        }
    }
    if (s.target_has_backing) {
        s.target_backing_sectors = s.target->backing ? s.target->backing->size / SECTOR
                                                     : UINT64_MAX;
    }
    s.alignment = s.min_sparse ? pow2floor(s.min_sparse) : 1;
    if (s.out_of_order && s.target->file && s.target->file->direct) {
        /*
         * O_DIRECT writes that are not block aligned are read-modify-write
         * cycles in the file layer: two of them sharing a block must not
         * race, so the target is written from one thread after all.
         */
        s.out_of_order = false;
    }

    if (o->progress && count_allocated(&s) < 0) {
        goto out;
    }
    if (convert_copy(&s, o->jobs) < 0) {
        goto out;
    }
    if (o->bitmaps && copy_bitmaps(s.src[0], s.target, o->skip_broken_bitmaps) < 0) {
        goto out;
    }
    if (s.compress && image_write_compressed_cluster(s.target, 0, NULL, 0, NULL, 0, &err) < 0) {
        err_report(&err);
        goto out;
    }
    if (image_flush(s.target, &err) < 0) {
        err_report(&err);
        goto out;
    }
    progress_print(prog, 100, 0);
    ret = 0;
out:
    image_close(s.target);
    for (size_t i = 0; i < s.nsrc; i++) {
        image_close(s.src[i]);
    }
    free(s.src);
    free(s.src_start);
    free(s.src_sectors);
    free(s.src_align);
    return ret;
}

int cmd_convert(struct cmd_ctx *ctx, int argc, char **argv)
{
    enum { OPT_TARGET_IS_ZERO = 256, OPT_SALVAGE, OPT_BITMAPS, OPT_SKIP_BROKEN };
    static const struct option longopts[] = {
        { "help", no_argument, NULL, 'h' },
        { "force-share", no_argument, NULL, 'U' },
        { "target-is-zero", no_argument, NULL, OPT_TARGET_IS_ZERO },
        { "salvage", no_argument, NULL, OPT_SALVAGE },
        { "bitmaps", no_argument, NULL, OPT_BITMAPS },
        { "skip-broken-bitmaps", no_argument, NULL, OPT_SKIP_BROKEN },
        { NULL, 0, NULL, 0 },
    };
    struct convert_opts o = {
        .out_fmt = NULL, .cache = "unsafe", .src_cache = "writeback", .sparse = -1,
        .jobs = DEFAULT_JOBS,
    };
    struct progress prog;
    enum cache_mode src_cache;
    const char *out_filename;
    int64_t rate;
    int c, nsrc, ret = 1;

    while ((c = getopt_long(argc, argv, ":hf:O:B:CcF:o:l:S:pt:T:qnm:WUr:", longopts, NULL)) !=
           -1) {
        switch (c) {
        case 'h':
            ret = cmd_help(ctx);
            goto done;
        case 'f':
            o.fmt = optarg;
            break;
        case 'O':
            o.out_fmt = optarg;
            break;
        case 'B':
            o.backing = optarg;
            break;
        case 'F':
            o.backing_fmt = optarg;
            break;
        case 'C':
            o.copy_range = true;
            break;
        case 'c':
            o.compress = true;
            break;
        case 'o':
            if (cmd_accumulate_options(&o.options, optarg) < 0) {
                goto done;
            }
            break;
        case 'l':
            if (cmd_parse_snapshot_arg(optarg, &o.snap) < 0) {
                goto done;
            }
            break;
        case 'S': {
            int64_t v;
            if (cmd_parse_size("buffer size for sparse output", optarg, &v) < 0) {
                goto done;
            }
            if (v % (int64_t)SECTOR || (uint64_t)v / SECTOR > MAX_SPARSE_SECTORS) {
                error_printf("Invalid buffer size for sparse output specified. Valid sizes are "
                             "multiples of %llu up to %llu. Select 0 to disable sparse "
                             "detection (fully allocates output).",
                             SECTOR, MAX_SPARSE_SECTORS * SECTOR);
                goto done;
            }
            o.sparse = v;
            break;
        }
        case 'p':
            o.progress = true;
            break;
        case 't':
            o.cache = optarg;
            break;
        case 'T':
            o.src_cache = optarg;
            break;
        case 'q':
            o.quiet = true;
            break;
        case 'n':
            o.skip_create = true;
            break;
        case 'm':
            if (parse_jobs(optarg, &o.jobs) < 0) {
                goto done;
            }
            break;
        case 'W':
            o.out_of_order = true;
            break;
        case 'U':
            o.src_flags |= IMG_FORCE_SHARE;
            break;
        case 'r':
            /* the rate limit is validated but not enforced */
            if (cmd_parse_size("rate limit", optarg, &rate) < 0) {
                goto done;
            }
            break;
        case OPT_TARGET_IS_ZERO:
            o.target_is_zero = true;
            break;
        case OPT_SALVAGE:
            o.salvage = true;
            break;
        case OPT_BITMAPS:
            o.bitmaps = true;
            break;
        case OPT_SKIP_BROKEN:
            o.skip_broken_bitmaps = true;
            break;
        default:
            ret = cmd_getopt_error(ctx, c, argv);
            goto done;
        }
    }
    if (!o.out_fmt) {
        o.out_fmt = "raw";
    }
    if (o.quiet) {
        o.progress = false;
    }
    if (o.compress && o.copy_range) {
        error_printf("Cannot enable copy offloading when -c is used");
        goto done;
    }
    if (o.sparse >= 0 && o.copy_range) {
        error_printf("Cannot enable copy offloading when -S is used");
        goto done;
    }
    if (o.copy_range && o.salvage) {
        error_printf("Cannot use copy offloading in salvaging mode");
        goto done;
    }
    if (o.target_is_zero && !o.skip_create) {
        error_printf("--target-is-zero requires use of -n flag");
        goto done;
    }
    if (o.skip_create && o.options) {
        error_printf("-o has no effect when skipping image creation");
        goto done;
    }
    if (o.skip_broken_bitmaps && !o.bitmaps) {
        error_printf("Use of --skip-broken-bitmaps requires --bitmaps");
        goto done;
    }
    nsrc = argc - optind - 1;
    out_filename = nsrc >= 1 ? argv[argc - 1] : NULL;
    if (o.options) {
        struct opts opts = { 0 };
        bool help;

        opts_parse(&opts, o.options, NULL);
        help = opts_has_help(&opts);
        opts_free(&opts);
        if (help) {
            ret = cmd_print_create_help(o.out_fmt, out_filename);
            goto done;
        }
    }
    if (nsrc < 1) {
        error_printf("Must specify image file name");
        goto done;
    }

    if (cache_mode_parse(o.src_cache, &src_cache) < 0) {
        error_printf("Invalid source cache option: %s", o.src_cache);
        goto done;
    }

    progress_init(&prog, o.progress, 1.0f);
    ret = run_convert(&o, nsrc, argv + optind, out_filename, src_cache, &prog);
    progress_end(&prog);
done:
    free(o.options);
    cmd_snapshot_arg_free(&o.snap);
    return ret;
}
