/*
 * qemuio_io.c - qemu-io's data and image commands: read, write and their
 * vectored and "aio" forms, discard, alloc, map, flush, truncate, length
 * and info; see qemuio.h.
 *
 * imgsh's block layer is synchronous, so the aio_* commands complete
 * before they return and print their reports at once (qemu-io prints them
 * when the request completes, which with -c is also before the next
 * command), and aio_flush has nothing left to wait for.
 */
#include "qemuio_int.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../formats/format.h"
#include "err.h"
#include "info.h"
#include "util.h"

#define SECTOR 512

static struct timespec now(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return t;
}

/* Report a request timed from t1 to now. */
static void report(const char *op, struct timespec t1, int64_t offset, int64_t count,
                   int64_t total, bool cflag)
{
    struct timespec t = qio_tsub(now(), t1);

    qio_print_report(op, &t, offset, count, total, 1, cflag);
}

/* "-v": 16 bytes a line, hex then the alphanumeric ones as they are. */
static void dump_buffer(const uint8_t *buf, int64_t offset, int64_t len)
{
    for (int64_t i = 0; i < len; i += 16) {
        char line[96], *p = line;
        int n = (int)MIN((int64_t)16, len - i);

        p += sprintf(p, "%08" PRIx64 ":  ", (uint64_t)(offset + i));
        for (int j = 0; j < n; j++) {
            p += sprintf(p, "%02x ", buf[i + j]);
        }
        *p++ = ' ';
        for (int j = 0; j < n; j++) {
            uint8_t c = buf[i + j];
            bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
            *p++ = alnum ? (char)c : '.';
        }
        *p++ = '\n';
        fwrite(line, 1, (size_t)(p - line), stdout);
    }
}

/* Does buf hold len bytes of pattern? */
static bool matches(const uint8_t *buf, int pattern, int64_t len)
{
    for (int64_t i = 0; i < len; i++) {
        if (buf[i] != pattern) {
            return false;
        }
    }
    return true;
}

/* Parse off (cvtnum), printing qemu-io's message; negative errno on failure. */
static int64_t parse_num(const char *arg)
{
    int64_t v = qio_cvtnum(arg);

    if (v < 0) {
        qio_print_cvtnum_err(v, arg);
    }
    return v;
}

/*
 * The lengths of a vectored request (argv[0..n-1]), added up, with
 * qemu-io's checks and messages. Returns the total, or -EINVAL.
 */
static int64_t iovec_total(char **argv, int n)
{
    int64_t count = 0;

    for (int i = 0; i < n; i++) {
        int64_t len = parse_num(argv[i]);
        if (len < 0) {
            return -EINVAL;
        }
        if (len > QIO_MAX_REQUEST) {
            printf("Argument '%s' exceeds maximum size %" PRIu64 "\n", argv[i],
                   (uint64_t)QIO_MAX_REQUEST);
            return -EINVAL;
        }
        if (count > QIO_MAX_REQUEST - len) {
            printf("The total number of bytes exceed the maximum size %" PRIu64 "\n",
                   (uint64_t)QIO_MAX_REQUEST);
            return -EINVAL;
        }
        count += len;
    }
    return count;
}

static uint8_t *alloc_pattern(int64_t len, int pattern)
{
    uint8_t *buf = xmalloc_io((size_t)len);

    memset(buf, pattern, (size_t)len);
    return buf;
}

/*
 * A write buffer of len bytes filled with the contents of file_name,
 * repeated as needed; NULL after qemu-io's message when it cannot be read
 * or is empty.
 */
static uint8_t *alloc_from_file(int64_t len, const char *file_name)
{
    FILE *f = fopen(file_name, "r");
    uint8_t *buf;
    size_t pattern_len;

    if (!f) {
        perror(file_name);
        return NULL;
    }
    buf = xmalloc_io((size_t)len);
    pattern_len = fread(buf, 1, (size_t)len, f);
    if (ferror(f)) {
        perror(file_name);
        goto fail;
    }
    if (pattern_len == 0) {
        fprintf(stderr, "%s: file is empty\n", file_name);
        goto fail;
    }
    fclose(f);
    for (size_t done = pattern_len; done < (size_t)len; done += pattern_len) {
        memcpy(buf + done, buf, MIN(pattern_len, (size_t)len - done));
    }
    return buf;

fail:
    fclose(f);
    free(buf);
    return NULL;
}

/* Does [offset, offset+count) reach past the end of img? */
static bool out_of_range(const struct image *img, int64_t offset, int64_t count)
{
    return (uint64_t)offset > img->size || (uint64_t)count > img->size - (uint64_t)offset;
}

/* --- read --- */

/*
 * The "offset length" arguments after the options (read, discard), with
 * qemu-io's messages; returns 0 or the command's negative result.
 */
static int parse_range(const struct qemuio_cmd *me, int argc, char **argv, int64_t *offset,
                       int64_t *len)
{
    if (optind != argc - 2) {
        qio_usage(me);
        return -EINVAL;
    }
    *offset = parse_num(argv[optind]);
    if (*offset < 0) {
        return (int)*offset;
    }
    *len = parse_num(argv[optind + 1]);
    if (*len < 0) {
        return (int)*len;
    }
    if (*len > QIO_MAX_REQUEST) {
        printf("length cannot exceed %" PRIu64 ", given %s\n", (uint64_t)QIO_MAX_REQUEST,
               argv[optind + 1]);
        return -EINVAL;
    }
    return 0;
}

int qio_read(struct qemuio *q, int argc, char **argv)
{
    const struct qemuio_cmd *me = qio_find("read");
    bool cflag = false, qflag = false, vflag = false, pflag = false, sflag = false;
    bool lflag = false, bflag = false;
    int64_t offset, count, poff = 0, pcount = 0;
    int c, pattern = 0, ret;
    struct timespec t1;
    struct err err = { 0 };
    uint8_t *buf;

    while ((c = getopt(argc, argv, "bCl:pP:qs:v")) != -1) {
        switch (c) {
        case 'b':
            bflag = true;
            break;
        case 'C':
            cflag = true;
            break;
        case 'l':
            lflag = true;
            pcount = parse_num(optarg);
            if (pcount < 0) {
                return (int)pcount;
            }
            break;
        case 'p':
            break;              /* ignored for backwards compatibility */
        case 'P':
            pflag = true;
            pattern = qio_parse_pattern(optarg);
            if (pattern < 0) {
                return -EINVAL;
            }
            break;
        case 'q':
            qflag = true;
            break;
        case 's':
            sflag = true;
            poff = parse_num(optarg);
            if (poff < 0) {
                return (int)poff;
            }
            break;
        case 'v':
            vflag = true;
            break;
        default:
            qio_usage(me);
            return -EINVAL;
        }
    }
    ret = parse_range(me, argc, argv, &offset, &count);
    if (ret < 0) {
        return ret;
    }
    if (!pflag && (lflag || sflag)) {
        qio_usage(me);
        return -EINVAL;
    }
    if (!lflag) {
        pcount = count - poff;
    }
    if (pcount < 0 || pcount + poff > count) {
        printf("pattern verification range exceeds end of read data\n");
        return -EINVAL;
    }
    if (bflag) {
        if (offset % SECTOR) {
            printf("%" PRId64 " is not a sector-aligned value for 'offset'\n", offset);
            return -EINVAL;
        }
        if (count % SECTOR) {
            printf("%" PRId64 " is not a sector-aligned value for 'count'\n", count);
            return -EINVAL;
        }
    }

    buf = alloc_pattern(count, 0xab);
    t1 = now();
    if (bflag) {
        ret = -ENOTSUP;         /* imgsh has no VM state area */
    } else {
        ret = image_read(q->img, (uint64_t)offset, buf, (size_t)count, &err);
    }
    if (ret < 0) {
        printf("read failed: %s\n", strerror(-ret));
        goto out;
    }
    ret = 0;
    if (pflag && !matches(buf + poff, pattern, pcount)) {
        printf("Pattern verification failed at offset %" PRId64 ", %" PRId64 " bytes\n",
               offset + poff, pcount);
        ret = -EINVAL;
    }
    if (qflag) {
        goto out;
    }
    if (vflag) {
        dump_buffer(buf, offset, count);
    }
    report("read", t1, offset, count, count, cflag);
out:
    free(buf);
    return ret;
}

/*
 * readv and aio_read (aio requests complete at once here): aio_read also
 * takes -i, and its failures do not fail the command.
 */
static int vectored_read(struct qemuio *q, int argc, char **argv, bool aio)
{
    const struct qemuio_cmd *me = qio_find(aio ? "aio_read" : "readv");
    bool cflag = false, qflag = false, vflag = false, pflag = false;
    int c, pattern = 0, ret;
    int64_t offset, count;
    struct timespec t1;
    struct err err = { 0 };
    uint8_t *buf;

    while ((c = getopt(argc, argv, aio ? "CP:iqv" : "CP:qv")) != -1) {
        switch (c) {
        case 'C':
            cflag = true;
            break;
        case 'P':
            pflag = true;
            pattern = qio_parse_pattern(optarg);
            if (pattern < 0) {
                return -EINVAL;
            }
            break;
        case 'i':
            printf("injecting invalid read request\n");
            return 0;
        case 'q':
            qflag = true;
            break;
        case 'v':
            vflag = true;
            break;
        default:
            qio_usage(me);
            return -EINVAL;
        }
    }
    if (optind > argc - 2) {
        qio_usage(me);
        return -EINVAL;
    }
    offset = parse_num(argv[optind]);
    if (offset < 0) {
        return (int)offset;
    }
    optind++;
    count = iovec_total(argv + optind, argc - optind);
    if (count < 0) {
        return -EINVAL;
    }
    buf = alloc_pattern(count, 0xab);
    t1 = now();
    ret = image_read(q->img, (uint64_t)offset, buf, (size_t)count, &err);
    if (ret < 0) {
        printf("readv failed: %s\n", strerror(-ret));
        goto out;
    }
    ret = 0;
    if (pflag && !matches(buf, pattern, count)) {
        printf("Pattern verification failed at offset %" PRId64 ", %" PRId64 " bytes\n", offset,
               count);
        ret = -EINVAL;
    }
    if (qflag) {
        goto out;
    }
    if (vflag) {
        dump_buffer(buf, offset, count);
    }
    report("read", t1, offset, count, count, cflag);
out:
    free(buf);
    return aio ? 0 : ret;
}

int qio_readv(struct qemuio *q, int argc, char **argv)
{
    return vectored_read(q, argc, argv, false);
}

/* --- write --- */

int qio_write(struct qemuio *q, int argc, char **argv)
{
    const struct qemuio_cmd *me = qio_find("write");
    bool cflag = false, qflag = false, bflag = false, pflag = false, zflag = false;
    bool compressed = false, sflag = false, fua = false, no_fallback = false, unmap = false;
    const char *file_name = NULL;
    int64_t offset, count;
    int c, pattern = 0xcd, ret;
    struct timespec t1;
    struct err err = { 0 };
    uint8_t *buf = NULL;

    while ((c = getopt(argc, argv, "bcCfnpP:qs:uz")) != -1) {
        switch (c) {
        case 'b':
            bflag = true;
            break;
        case 'c':
            compressed = true;
            break;
        case 'C':
            cflag = true;
            break;
        case 'f':
            fua = true;
            break;
        case 'n':
            no_fallback = true;
            break;
        case 'p':
            break;              /* ignored for backwards compatibility */
        case 'P':
            pflag = true;
            pattern = qio_parse_pattern(optarg);
            if (pattern < 0) {
                return -EINVAL;
            }
            break;
        case 'q':
            qflag = true;
            break;
        case 's':
            sflag = true;
            file_name = optarg;
            break;
        case 'u':
            unmap = true;
            break;
        case 'z':
            zflag = true;
            break;
        default:
            qio_usage(me);
            return -EINVAL;
        }
    }
    if (optind != argc - 2) {
        qio_usage(me);
        return -EINVAL;
    }
    if (bflag && zflag) {
        printf("-b and -z cannot be specified at the same time\n");
        return -EINVAL;
    }
    if (fua && (bflag || compressed)) {
        printf("-f and -b or -c cannot be specified at the same time\n");
        return -EINVAL;
    }
    if (no_fallback && !zflag) {
        printf("-n requires -z to be specified\n");
        return -EINVAL;
    }
    if (unmap && !zflag) {
        printf("-u requires -z to be specified\n");
        return -EINVAL;
    }
    if (zflag + pflag + sflag > 1) {
        printf("Only one of -z, -P, and -s can be specified at the same time\n");
        return -EINVAL;
    }
    offset = parse_num(argv[optind]);
    if (offset < 0) {
        return (int)offset;
    }
    count = parse_num(argv[optind + 1]);
    if (count < 0) {
        return (int)count;
    }
    if (count > QIO_MAX_REQUEST && !no_fallback) {
        printf("length cannot exceed %" PRIu64 " without -n, given %s\n",
               (uint64_t)QIO_MAX_REQUEST, argv[optind + 1]);
        return -EINVAL;
    }
    if (bflag || compressed) {
        if (offset % SECTOR) {
            printf("%" PRId64 " is not a sector-aligned value for 'offset'\n", offset);
            return -EINVAL;
        }
        if (count % SECTOR) {
            printf("%" PRId64 " is not a sector-aligned value for 'count'\n", count);
            return -EINVAL;
        }
    }
    if (!zflag) {
        buf = sflag ? alloc_from_file(count, file_name) : alloc_pattern(count, pattern);
        if (!buf) {
            return -EINVAL;
        }
    }

    t1 = now();
    if (bflag) {
        ret = -ENOTSUP;         /* imgsh has no VM state area */
    } else if (zflag) {
        ret = image_write_zeroes(q->img, (uint64_t)offset, (uint64_t)count,
                                 unmap && !q->discard_ignore, &err);
    } else if (compressed) {
        /* qemu checks the range before asking the format */
        ret = out_of_range(q->img, offset, count) ? -EIO
              : image_write_compressed(q->img, (uint64_t)offset, buf, (size_t)count, &err);
    } else {
        ret = image_write(q->img, (uint64_t)offset, buf, (size_t)count, &err);
        if (ret == 0 && fua) {
            ret = image_flush(q->img, &err);
        }
    }
    if (ret < 0) {
        printf("write failed: %s\n", strerror(-ret));
        goto out;
    }
    ret = 0;
    if (!qflag) {
        report("wrote", t1, offset, count, count, cflag);
    }
out:
    free(buf);
    return ret;
}

/* --- aio_read, aio_write, aio_flush: done at once (see the top) --- */

int qio_aio_read(struct qemuio *q, int argc, char **argv)
{
    return vectored_read(q, argc, argv, true);
}

/*
 * writev and aio_write (done at once): aio_write also takes -i, -z and -u,
 * and its failures do not fail the command.
 */
static int vectored_write(struct qemuio *q, int argc, char **argv, bool aio)
{
    const struct qemuio_cmd *me = qio_find(aio ? "aio_write" : "writev");
    bool cflag = false, qflag = false, zflag = false, unmap = false, fua = false;
    int c, pattern = 0xcd, ret;
    int64_t offset, count;
    struct timespec t1;
    struct err err = { 0 };
    uint8_t *buf = NULL;

    while ((c = getopt(argc, argv, aio ? "CfiqP:uz" : "CfqP:")) != -1) {
        switch (c) {
        case 'C':
            cflag = true;
            break;
        case 'f':
            fua = true;
            break;
        case 'q':
            qflag = true;
            break;
        case 'u':
            unmap = true;
            break;
        case 'P':
            pattern = qio_parse_pattern(optarg);
            if (pattern < 0) {
                return -EINVAL;
            }
            break;
        case 'i':
            printf("injecting invalid write request\n");
            return 0;
        case 'z':
            zflag = true;
            break;
        default:
            qio_usage(me);
            return -EINVAL;
        }
    }
    if (optind > argc - 2) {
        qio_usage(me);
        return -EINVAL;
    }
    if (zflag && optind != argc - 2) {
        printf("-z supports only a single length parameter\n");
        return -EINVAL;
    }
    if (unmap && !zflag) {
        printf("-u requires -z to be specified\n");
        return -EINVAL;
    }
    offset = parse_num(argv[optind]);
    if (offset < 0) {
        return (int)offset;
    }
    optind++;
    if (zflag) {
        count = parse_num(argv[optind]);
        if (count < 0) {
            return (int)count;
        }
    } else {
        count = iovec_total(argv + optind, argc - optind);
        if (count < 0) {
            return -EINVAL;
        }
        buf = alloc_pattern(count, pattern);
    }
    t1 = now();
    if (zflag) {
        ret = image_write_zeroes(q->img, (uint64_t)offset, (uint64_t)count,
                                 unmap && !q->discard_ignore, &err);
    } else {
        ret = image_write(q->img, (uint64_t)offset, buf, (size_t)count, &err);
        if (ret == 0 && fua) {
            ret = image_flush(q->img, &err);
        }
    }
    if (ret < 0) {
        printf("%s failed: %s\n", aio ? "aio_write" : "writev", strerror(-ret));
    } else if (!qflag) {
        report("wrote", t1, offset, count, count, cflag);
    }
    free(buf);
    return aio || ret >= 0 ? 0 : ret;
}

int qio_aio_write(struct qemuio *q, int argc, char **argv)
{
    return vectored_write(q, argc, argv, true);
}

int qio_writev(struct qemuio *q, int argc, char **argv)
{
    return vectored_write(q, argc, argv, false);
}

int qio_aio_flush(struct qemuio *q, int argc, char **argv)
{
    (void)q;
    (void)argc;
    (void)argv;
    return 0;
}

/* --- the image --- */

int qio_flush(struct qemuio *q, int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return image_flush(q->img, NULL);
}

int qio_truncate(struct qemuio *q, int argc, char **argv)
{
    enum prealloc prealloc = PREALLOC_OFF;
    struct err err = { 0 };
    int64_t offset;
    int c, ret;

    while ((c = getopt(argc, argv, "m:")) != -1) {
        switch (c) {
        case 'm':
            if (prealloc_parse(optarg, &prealloc) < 0) {
                error_printf("Invalid preallocation mode '%s'", optarg);
                return -EINVAL;
            }
            break;
        default:
            qio_usage(qio_find("truncate"));
            return -EINVAL;
        }
    }
    if (optind >= argc) {
        /* "truncate -m falloc": qemu-io 7.2 crashes here */
        qio_usage(qio_find("truncate"));
        return -EINVAL;
    }
    offset = qio_cvtnum(argv[optind]);
    if (offset < 0) {
        qio_print_cvtnum_err(offset, argv[1]);     /* sic: qemu-io names argv[1] */
        return (int)offset;
    }
    ret = image_truncate(q->img, (uint64_t)offset, true, prealloc, &err);
    if (ret < 0) {
        err_report(&err);
        return ret;
    }
    return 0;
}

int qio_length(struct qemuio *q, int argc, char **argv)
{
    int64_t size = image_length(q->img);
    char s[64];

    (void)argc;
    (void)argv;
    if (size < 0) {
        printf("getlength: %s\n", strerror((int)-size));
        return (int)size;
    }
    qio_cvtstr((double)size, s, sizeof(s));
    printf("%s\n", s);
    return 0;
}

/* What the driver reports, as qemu-io's info prints it (raw: zeros, no specific data). */
int qio_info(struct qemuio *q, int argc, char **argv)
{
    struct image *img = q->img;
    struct image_info info = { 0 };
    struct err err = { 0 };
    char s1[64], s2[64];

    (void)argc;
    (void)argv;
    printf("format name: %s\n", img->drv->name);
    if (!strcmp(img->drv->name, "file")) {
        printf("format name: %s\n", img->drv->name);     /* the protocol's name too */
    }
    if (img->drv->get_info && img->drv->get_info(img, &info, &err) < 0) {
        return err.code ? err.code : -EIO;
    }
    qio_cvtstr((double)info.cluster_size, s1, sizeof(s1));
    qio_cvtstr((double)info.vm_state_offset, s2, sizeof(s2));
    printf("cluster size: %s\n", s1);
    printf("vm state offset: %s\n", s2);
    if (info.format_specific) {
        image_info_print_specific(info.format_specific);
        json_decref(info.format_specific);
    }
    return 0;
}

int qio_discard(struct qemuio *q, int argc, char **argv)
{
    const struct qemuio_cmd *me = qio_find("discard");
    bool cflag = false, qflag = false;
    int64_t offset, bytes;
    struct timespec t1;
    struct err err = { 0 };
    int c, ret;

    while ((c = getopt(argc, argv, "Cq")) != -1) {
        switch (c) {
        case 'C':
            cflag = true;
            break;
        case 'q':
            qflag = true;
            break;
        default:
            qio_usage(me);
            return -EINVAL;
        }
    }
    ret = parse_range(me, argc, argv, &offset, &bytes);
    if (ret < 0) {
        return ret;
    }
    t1 = now();
    if (q->discard_ignore) {
        /* -d ignore: the request is checked, then dropped */
        ret = out_of_range(q->img, offset, bytes) ? -EIO : 0;
    } else {
        ret = image_discard(q->img, (uint64_t)offset, (uint64_t)bytes, &err);
    }
    if (ret < 0) {
        printf("discard failed: %s\n", strerror(-ret));
        return ret;
    }
    if (!qflag) {
        report("discard", t1, offset, bytes, bytes, cflag);
    }
    return 0;
}

/*
 * Is [off, off+bytes) allocated in the image itself (not its backing
 * chain)? Sets *num to the length of the run with the same answer; 0 at
 * or past the end. Returns 1 or 0, or a negative errno.
 */
static int is_allocated(struct image *img, int64_t off, int64_t bytes, int64_t *num)
{
    struct block_status bs;
    int ret;

    if ((uint64_t)off >= img->size || bytes <= 0) {
        *num = 0;
        return 0;
    }
    ret = image_block_status(img, (uint64_t)off,
                             MIN((uint64_t)bytes, img->size - (uint64_t)off), &bs, NULL);
    if (ret < 0) {
        return ret;
    }
    *num = (int64_t)bs.pnum;
    return (bs.flags & BS_ALLOCATED) && bs.depth == 0;
}

int qio_alloc(struct qemuio *q, int argc, char **argv)
{
    int64_t offset, start, count, remaining, sum = 0, num;
    char s[64];
    int ret;

    start = offset = parse_num(argv[1]);
    if (offset < 0) {
        return (int)offset;
    }
    if (argc == 3) {
        count = parse_num(argv[2]);
        if (count < 0) {
            return (int)count;
        }
    } else {
        count = SECTOR;
    }
    remaining = count;
    while (remaining) {
        ret = is_allocated(q->img, offset, remaining, &num);
        if (ret < 0) {
            printf("is_allocated failed: %s\n", strerror(-ret));
            return ret;
        }
        offset += num;
        remaining -= num;
        if (ret) {
            sum += num;
        }
        if (num == 0) {
            count -= remaining;
            remaining = 0;
        }
    }
    qio_cvtstr((double)start, s, sizeof(s));
    printf("%" PRId64 "/%" PRId64 " bytes allocated at offset %s\n", sum, count, s);
    return 0;
}

/* The run from off with one allocation state, across requests of at most QIO_MAX_REQUEST. */
static int map_is_allocated(struct image *img, int64_t off, int64_t bytes, int64_t *pnum)
{
    int64_t num;
    int ret, first;

    ret = is_allocated(img, off, MIN(bytes, QIO_MAX_REQUEST), &num);
    if (ret < 0) {
        return ret;
    }
    first = ret;
    *pnum = num;
    while (bytes > 0 && ret == first) {
        off += num;
        bytes -= num;
        ret = is_allocated(img, off, MIN(bytes, QIO_MAX_REQUEST), &num);
        if (ret == first && num) {
            *pnum += num;
        } else {
            break;
        }
    }
    return first;
}

int qio_map(struct qemuio *q, int argc, char **argv)
{
    int64_t offset = 0, bytes = image_length(q->img), num;
    char s1[64], s2[64];
    int ret;

    (void)argc;
    (void)argv;
    if (bytes < 0) {
        error_printf("Failed to query image length: %s", strerror((int)-bytes));
        return (int)bytes;
    }
    while (bytes) {
        ret = map_is_allocated(q->img, offset, bytes, &num);
        if (ret < 0) {
            error_printf("Failed to get allocation status: %s", strerror(-ret));
            return ret;
        }
        if (!num) {
            error_printf("Unexpected end of image");
            return -EIO;
        }
        qio_cvtstr((double)num, s1, sizeof(s1));
        qio_cvtstr((double)offset, s2, sizeof(s2));
        printf("%s (0x%" PRIx64 ") bytes %s at offset %s (0x%" PRIx64 ")\n", s1, (uint64_t)num,
               ret ? "    allocated" : "not allocated", s2, (uint64_t)offset);
        offset += num;
        bytes -= num;
    }
    return 0;
}
