/*
 * hash.c - "hash": a digest of the guest-visible data (what convert -O raw
 * would write: the virtual size, through the backing chain, zeros where
 * nothing is allocated) or of the image file's bytes as stored. Both are
 * streamed in bounded memory; ranges that read as zeros (block status, or
 * holes in the file) are fed from a zero buffer without being read. Never
 * writes anything.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <nettle/md5.h>
#include <nettle/nettle-meta.h>
#include <nettle/sha1.h>
#include <nettle/sha2.h>
#include <nettle/version.h>

#include "block.h"
#include "cmd.h"
#include "err.h"
#include "file.h"
#include "inspect.h"
#include "json.h"
#include "progress.h"
#include "util.h"

/* Largest piece read (and hashed) at once. */
#define HASH_CHUNK ((size_t)4 << 20)
/* Largest range asked of block status at once. */
#define HASH_STATUS_MAX (1ULL << 30)
/* Zeros are fed from a buffer of this size, as many times as needed. */
#define HASH_ZEROS ((size_t)1 << 20)
/* The longest digest of hash_algos[]. */
#define HASH_MAX_DIGEST SHA256_DIGEST_SIZE

struct hash_algo {
    const char *name;
    const struct nettle_hash *h;
};

static const struct hash_algo hash_algos[] = {
    { "sha256", &nettle_sha256 },
    { "sha1", &nettle_sha1 },
    { "md5", &nettle_md5 },
    { NULL, NULL },
};

struct hash_opts {
    bool json;
    bool host;
    bool force_share;
    bool progress;
    const struct hash_algo *algo;
    const char *fmt;
    const char *file;
};

/* The running digest, with the buffers and the progress line of one run. */
struct hasher {
    const struct nettle_hash *h;
    void *ctx;
    uint8_t *buf;               /* HASH_CHUNK bytes for reads */
    uint8_t *zeros;             /* HASH_ZEROS zero bytes */
    uint64_t total;             /* bytes to hash, for the progress line */
    struct progress prog;
};

static const struct hash_algo *algo_find(const char *name)
{
    for (const struct hash_algo *a = hash_algos; a->name; a++) {
        if (!strcasecmp(a->name, name)) {
            return a;
        }
    }
    return NULL;
}

static void hasher_init(struct hasher *hs, const struct hash_algo *algo, uint64_t total,
                        bool progress)
{
    memset(hs, 0, sizeof(*hs));
    hs->h = algo->h;
    hs->ctx = xmalloc(hs->h->context_size);
    hs->h->init(hs->ctx);
    hs->buf = xmalloc_io(HASH_CHUNK);
    hs->zeros = xcalloc(1, HASH_ZEROS);
    hs->total = total;
    progress_init(&hs->prog, progress, 1.0f);
    progress_print(&hs->prog, 0, 100);
}

static void hasher_free(struct hasher *hs)
{
    free(hs->ctx);
    free(hs->buf);
    free(hs->zeros);
}

/* Count len more bytes as hashed, for the progress line. */
static void hasher_advance(struct hasher *hs, uint64_t len)
{
    if (hs->total) {
        progress_print(&hs->prog, (float)len / (float)hs->total * 100, 100);
    }
}

static void hasher_zeros(struct hasher *hs, uint64_t len)
{
    for (uint64_t left = len; left;) {
        size_t n = (size_t)MIN(left, (uint64_t)HASH_ZEROS);
        hs->h->update(hs->ctx, n, hs->zeros);
        hasher_advance(hs, n);
        left -= n;
    }
}

static void hasher_data(struct hasher *hs, size_t len)
{
    hs->h->update(hs->ctx, len, hs->buf);
    hasher_advance(hs, len);
}

/* The digest in lowercase hex; hex has room for 2 * digest_size + 1 bytes. */
static void hasher_hex(struct hasher *hs, char *hex)
{
    uint8_t d[HASH_MAX_DIGEST];

#if NETTLE_VERSION_MAJOR >= 4
    hs->h->digest(hs->ctx, d);
#else
    hs->h->digest(hs->ctx, hs->h->digest_size, d);
#endif
    for (unsigned i = 0; i < hs->h->digest_size; i++) {
        sprintf(hex + 2 * i, "%02x", d[i]);
    }
    hex[2 * hs->h->digest_size] = '\0';
    progress_print(&hs->prog, 100, 0);
    progress_end(&hs->prog);
}

/* ------------------------------------------------------------------------ */
/* guest data                                                                */

/* Block status of [off, off+len), the error naming the file and the offset. */
static int guest_status(struct image *img, uint64_t off, uint64_t len, struct block_status *bs,
                        struct err *err)
{
    int ret = image_block_status(img, off, len, bs, err);

    if (ret < 0) {
        err_prepend(err, "could not read the block status of '%s' at guest offset %" PRIu64
                    ": ", img->filename, off);
    }
    return ret;
}

/*
 * The run at off: zeros (*zero, any length), or data of at most HASH_CHUNK
 * bytes, joining neighbouring data extents so that reads stay large.
 */
static int guest_run(struct image *img, uint64_t off, uint64_t *len, bool *zero, struct err *err)
{
    struct block_status bs;
    uint64_t n;
    int ret = guest_status(img, off, MIN(img->size - off, HASH_STATUS_MAX), &bs, err);

    if (ret < 0) {
        return ret;
    }
    *zero = bs.flags & BS_ZERO;
    if (*zero) {
        *len = bs.pnum;
        return 0;
    }
    n = MIN(bs.pnum, (uint64_t)HASH_CHUNK);
    while (n < HASH_CHUNK && off + n < img->size) {
        ret = guest_status(img, off + n, MIN(img->size - off - n, HASH_CHUNK - n), &bs, err);
        if (ret < 0) {
            return ret;
        }
        if (bs.flags & BS_ZERO) {
            break;
        }
        n += bs.pnum;
    }
    *len = n;
    return 0;
}

static int hash_guest(struct image *img, struct hasher *hs, struct err *err)
{
    for (uint64_t off = 0; off < img->size;) {
        uint64_t len;
        bool zero;
        int ret = guest_run(img, off, &len, &zero, err);

        if (ret < 0) {
            return ret;
        }
        if (zero) {
            hasher_zeros(hs, len);
        } else {
            ret = image_read(img, off, hs->buf, (size_t)len, err);
            if (ret < 0) {
                err_prepend(err, "could not read '%s' at guest offset %" PRIu64 ": ",
                            img->filename, off);
                return ret;
            }
            hasher_data(hs, (size_t)len);
        }
        off += len;
    }
    return 0;
}

/* Hash the guest data of o->file into hex; *bytes is the virtual size. */
static int run_guest(const struct hash_opts *o, char *hex, uint64_t *bytes)
{
    struct err err = { 0 };
    struct image *img;
    struct hasher hs;
    unsigned flags = IMG_QUIET | (o->force_share ? IMG_FORCE_SHARE : 0);
    int ret;

    if (image_open(&img, o->file, o->fmt, flags, CACHE_WRITEBACK, &err) < 0) {
        err_report(&err);
        return 1;
    }
    hasher_init(&hs, o->algo, img->size, o->progress);
    ret = hash_guest(img, &hs, &err);
    if (ret == 0) {
        hasher_hex(&hs, hex);
        *bytes = img->size;
    } else {
        progress_end(&hs.prog);
        err_report(&err);
    }
    hasher_free(&hs);
    image_close(img);
    return ret < 0;
}

/* ------------------------------------------------------------------------ */
/* host file                                                                 */

static int hash_host(struct file *f, uint64_t size, struct hasher *hs, struct err *err)
{
    for (uint64_t off = 0; off < size;) {
        uint64_t pnum;
        int ret = file_block_status(f, off, MIN(size - off, HASH_STATUS_MAX), &pnum);

        if (ret < 0) {
            return err_set_errno(err, -ret, "could not find the holes of '%s' at offset %" PRIu64,
                                 f->filename, off);
        }
        if (ret == 0) {
            hasher_zeros(hs, pnum);
        } else {
            pnum = MIN(pnum, (uint64_t)HASH_CHUNK);
            ret = file_pread(f, off, hs->buf, (size_t)pnum, err);
            if (ret < 0) {
                err_prepend(err, "could not read '%s' at offset %" PRIu64 ": ", f->filename, off);
                return ret;
            }
            hasher_data(hs, (size_t)pnum);
        }
        off += pnum;
    }
    return 0;
}

/*
 * Open the file read-only with the locks the inspection commands take: a
 * consistent read, refusing writers and resizers to others unless -U.
 */
static int open_host(const struct hash_opts *o, struct file **f, int64_t *size, struct err *err)
{
    int ret;

    if (o->fmt && !fmt_find(o->fmt)) {
        return err_set(err, -EINVAL, "Could not open '%s': Unknown driver '%s'", o->file, o->fmt);
    }
    ret = file_open(f, o->file, 0, CACHE_WRITEBACK, err);
    if (ret < 0) {
        return ret;
    }
    ret = file_lock(*f, PERM_CONSISTENT_READ, o->force_share ? 0 : PERM_WRITE | PERM_RESIZE,
                    err);
    if (ret == 0) {
        *size = file_length(*f, err);
        ret = *size < 0 ? (int)*size : 0;
    }
    if (ret < 0) {
        file_close(*f);
    }
    return ret;
}

/* Hash the bytes of o->file into hex; *bytes is its length. */
static int run_host(const struct hash_opts *o, char *hex, uint64_t *bytes)
{
    struct err err = { 0 };
    struct file *f;
    struct hasher hs;
    int64_t size = 0;
    int ret;

    if (open_host(o, &f, &size, &err) < 0) {
        err_report(&err);
        return 1;
    }
    hasher_init(&hs, o->algo, (uint64_t)size, o->progress);
    ret = hash_host(f, (uint64_t)size, &hs, &err);
    if (ret == 0) {
        hasher_hex(&hs, hex);
        *bytes = (uint64_t)size;
    } else {
        progress_end(&hs.prog);
        err_report(&err);
    }
    hasher_free(&hs);
    file_close(f);
    return ret < 0;
}

/* ------------------------------------------------------------------------ */
/* the command                                                               */

/* Parse the options; returns 0, or -1 with *exit_code set. */
static int hash_parse(struct cmd_ctx *ctx, int argc, char **argv, struct hash_opts *o,
                      int *exit_code)
{
    static const struct option longopts[] = {
        { "help", no_argument, NULL, 'h' },
        { "json", no_argument, NULL, 'j' },
        { "output", required_argument, NULL, 'O' },
        { "force-share", no_argument, NULL, 'U' },
        { "guest", no_argument, NULL, 'g' },
        { "host", no_argument, NULL, 'H' },
        { "algo", required_argument, NULL, 'a' },
        { "format", required_argument, NULL, 'f' },
        { NULL, 0, NULL, 0 },
    };
    enum output_format out = ctx->json ? OUTPUT_JSON : OUTPUT_HUMAN;
    bool guest = false;
    int c;

    memset(o, 0, sizeof(*o));
    o->algo = &hash_algos[0];
    *exit_code = 1;
    while ((c = getopt_long(argc, argv, ":hUpf:", longopts, NULL)) != -1) {
        int common = inspect_common_opt(ctx, c, &out, &o->force_share, exit_code);
        if (common) {
            if (common < 0) {
                return -1;
            }
            continue;
        }
        switch (c) {
        case 'p':
            o->progress = true;
            break;
        case 'g':
            guest = true;
            break;
        case 'H':
            o->host = true;
            break;
        case 'a':
            o->algo = algo_find(optarg);
            if (!o->algo) {
                error_printf("unknown hash algorithm '%s': use sha256, sha1 or md5", optarg);
                return -1;
            }
            break;
        case 'f':
            o->fmt = optarg;
            break;
        default:
            *exit_code = cmd_getopt_error(ctx, c, argv);
            return -1;
        }
    }
    if (guest && o->host) {
        *exit_code = cmd_usage_error(ctx, "--guest and --host cannot be used together");
        return -1;
    }
    if (!(o->file = cmd_one_image(ctx, &argc, &argv))) {
        return -1;
    }
    o->json = out == OUTPUT_JSON;
    /* the progress line would break the JSON document on stdout */
    o->progress = o->progress && !o->json;
    return 0;
}

static void hash_print(const struct hash_opts *o, const char *hex, uint64_t bytes)
{
    const char *scope = o->host ? "host" : "guest";

    if (o->json) {
        json_t *v = json_object();
        json_obj_set_str(v, "file", o->file);
        json_obj_set_str(v, "scope", scope);
        json_obj_set_str(v, "algorithm", o->algo->name);
        json_obj_set_str(v, "hash", hex);
        json_obj_set_int(v, "bytes", (long long)bytes);
        inspect_print_json(v);
    } else {
        printf("%s  %s  %s (%s, %" PRIu64 " bytes)\n", o->algo->name, hex, o->file,
               o->host ? "host file" : "guest data", bytes);
    }
}

int cmd_hash(struct cmd_ctx *ctx, int argc, char **argv)
{
    struct hash_opts o;
    char hex[2 * HASH_MAX_DIGEST + 1];
    uint64_t bytes = 0;
    int ret;

    if (hash_parse(ctx, argc, argv, &o, &ret) < 0) {
        return ret;
    }
    ret = o.host ? run_host(&o, hex, &bytes) : run_guest(&o, hex, &bytes);
    if (ret == 0) {
        hash_print(&o, hex, bytes);
    }
    return ret;
}
