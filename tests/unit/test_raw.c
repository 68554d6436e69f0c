/*
 * test_raw.c - unit tests for the raw driver (formats/raw.c) through the
 * block layer (engine/block.h), plus the cache-mode helpers of
 * engine/file.h.
 *
 * Test plan:
 *  - image_create(raw) with size=... then image_open read-write; the file
 *    length is the size rounded up to 512 (513 -> 1024), like qemu-img.
 *  - image_write / image_read round trips at odd offsets and lengths,
 *    across sector boundaries, data surviving close and reopen.
 *  - a file shorter than its virtual size (700 bytes -> 1024) reads zeros
 *    past its real end.
 *  - image_block_status on a sparse 4 MiB image with a write at 1 MiB gives
 *    the same runs as `qemu-img map`: [0,4k) data (create allocates it),
 *    hole up to 1 MiB, 4k data, hole to the end; flags carry
 *    BS_ALLOCATED/BS_OFFSET_VALID and depth 0.
 *  - range checks: reads/writes past the end fail with -EIO and a message;
 *    zero-length requests at the end succeed; a write to a read-only image
 *    fails and leaves the file alone.
 *  - image_truncate grows, refuses to shrink without allow_shrink (qemu's
 *    message), shrinks with it; falloc/full growth allocate; metadata is
 *    refused.
 *  - create options: preallocation=full and falloc allocate the whole file,
 *    metadata and bogus are refused with qemu's messages (bogus creates no
 *    file), unknown options are refused, image_create_opts lists.
 *  - probed raw opened read-write (IMG_QUIET): an ordinary write at offset
 *    0 succeeds; writing a qcow2 header to block 0 is refused with -EPERM
 *    (qemu-io says "Operation not permitted") but allowed at offset 512 and
 *    with an explicit "raw" format.
 *  - cache_mode_parse / cache_mode_name; a file opened with CACHE_NONE
 *    (O_DIRECT) reads and writes correctly at unaligned offsets (skipped
 *    when the filesystem refuses O_DIRECT).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../engine/block.h"
#include "../../formats/format.h"

#define MiB (1024 * 1024)

static char tmpdir[256];

static int group_setup(void **state)
{
    const char *base = getenv("TMPDIR");

    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "%s/test_raw.XXXXXX", base && *base ? base : "/tmp");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int group_teardown(void **state)
{
    char cmd[512];

    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static void tmp_path(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "%s/%s", tmpdir, name);
    unlink(buf);
}

/* image_create(raw) with "size=SIZE" plus extra options (may be NULL). */
static int create_raw(const char *path, const char *size, const char *extra, struct err *err)
{
    struct opts o = { 0 };
    int ret;

    opts_set(&o, "size", size);
    if (extra) {
        assert_int_equal(opts_parse(&o, extra, err), 0);
    }
    ret = image_create(fmt_find("raw"), path, &o, err);
    opts_free(&o);
    return ret;
}

static struct image *open_img(const char *path, const char *fmt, unsigned flags,
                              enum cache_mode cache)
{
    struct image *img = NULL;
    struct err err = { 0 };

    if (image_open(&img, path, fmt, flags, cache, &err) < 0) {
        print_error("image_open(%s): %s\n", path, err.msg);
        fail();
    }
    return img;
}

static off_t file_size(const char *path)
{
    struct stat st;

    assert_int_equal(stat(path, &st), 0);
    return st.st_size;
}

static void fill_pattern(uint8_t *buf, size_t len, unsigned seed)
{
    for (size_t i = 0; i < len; i++) {
        buf[i] = (uint8_t)(i * 7 + seed * 13 + (i >> 8));
    }
}

static void test_create_and_open(void **state)
{
    char path[512];
    struct err err = { 0 };
    struct image *img;
    uint8_t buf[1024];

    (void)state;
    tmp_path(path, sizeof(path), "create.raw");
    assert_int_equal(create_raw(path, "1M", NULL, &err), 0);
    assert_false(err.set);
    assert_int_equal(file_size(path), MiB);

    img = open_img(path, "raw", IMG_RDWR, CACHE_WRITEBACK);
    assert_true(img->size == MiB);
    assert_string_equal(img->drv->name, "raw");
    assert_false(img->flags & IMG_PROBED);
    assert_null(img->backing_file);
    assert_int_equal(image_read(img, 0, buf, sizeof(buf), &err), 0);
    for (size_t i = 0; i < sizeof(buf); i++) {
        assert_int_equal(buf[i], 0);
    }
    image_close(img);

    /* 513 bytes: the size is rounded up to whole sectors */
    tmp_path(path, sizeof(path), "odd.raw");
    assert_int_equal(create_raw(path, "513", NULL, &err), 0);
    assert_int_equal(file_size(path), 1024);
    img = open_img(path, "raw", 0, CACHE_WRITEBACK);
    assert_true(img->size == 1024);
    image_close(img);

    /* size 0 makes an empty file */
    tmp_path(path, sizeof(path), "zero.raw");
    assert_int_equal(create_raw(path, "0", NULL, &err), 0);
    assert_int_equal(file_size(path), 0);
    img = open_img(path, "raw", 0, CACHE_WRITEBACK);
    assert_true(img->size == 0);
    image_close(img);
    assert_false(err.set);
}

static void test_create_overwrites(void **state)
{
    char path[512];
    struct err err = { 0 };
    int fd;

    (void)state;
    tmp_path(path, sizeof(path), "over.raw");
    fd = open(path, O_WRONLY | O_CREAT, 0644);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, 8 * MiB), 0);
    assert_true(pwrite(fd, "junk", 4, 4 * MiB) == 4);
    close(fd);
    assert_int_equal(create_raw(path, "2M", NULL, &err), 0);
    assert_int_equal(file_size(path), 2 * MiB);
}

static void test_read_write_roundtrip(void **state)
{
    static const struct { uint64_t off; size_t len; } cases[] = {
        { 0, 1 }, { 1, 1 }, { 3, 7 }, { 511, 2 }, { 510, 515 }, { 4095, 4099 },
        { 12345, 6789 }, { 65537, 131071 }, { MiB - 1, 1 }, { MiB - 777, 777 },
    };
    char path[512];
    struct err err = { 0 };
    struct image *img;
    uint8_t *wbuf = malloc(256 * 1024), *rbuf = malloc(256 * 1024);

    (void)state;
    assert_non_null(wbuf);
    assert_non_null(rbuf);
    tmp_path(path, sizeof(path), "rw.raw");
    assert_int_equal(create_raw(path, "1M", NULL, &err), 0);
    img = open_img(path, "raw", IMG_RDWR, CACHE_WRITEBACK);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        fill_pattern(wbuf, cases[i].len, (unsigned)i + 1);
        assert_int_equal(image_write(img, cases[i].off, wbuf, cases[i].len, &err), 0);
        memset(rbuf, 0xee, cases[i].len);
        assert_int_equal(image_read(img, cases[i].off, rbuf, cases[i].len, &err), 0);
        assert_memory_equal(rbuf, wbuf, cases[i].len);
    }
    assert_false(err.set);

    /* neighbours of a write are untouched */
    memset(wbuf, 0, 64);
    assert_int_equal(image_write(img, 200000, wbuf, 64, &err), 0);
    wbuf[0] = 0x5a;
    assert_int_equal(image_write(img, 200010, wbuf, 1, &err), 0);
    assert_int_equal(image_read(img, 200000, rbuf, 64, &err), 0);
    for (size_t i = 0; i < 64; i++) {
        assert_int_equal(rbuf[i], i == 10 ? 0x5a : 0);
    }
    assert_int_equal(image_flush(img, &err), 0);
    image_close(img);

    /* the last case survives a reopen, read-only this time */
    img = open_img(path, "raw", 0, CACHE_WRITEBACK);
    fill_pattern(wbuf, 777, 10);
    assert_int_equal(image_read(img, MiB - 777, rbuf, 777, &err), 0);
    assert_memory_equal(rbuf, wbuf, 777);
    image_close(img);
    assert_int_equal(file_size(path), MiB);
    free(wbuf);
    free(rbuf);
}

static void test_read_past_file_end(void **state)
{
    char path[512];
    struct err err = { 0 };
    struct image *img;
    uint8_t data[700], buf[1024];
    int fd;

    (void)state;
    tmp_path(path, sizeof(path), "short.raw");
    fill_pattern(data, sizeof(data), 3);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_true(write(fd, data, sizeof(data)) == (ssize_t)sizeof(data));
    close(fd);

    img = open_img(path, "raw", 0, CACHE_WRITEBACK);
    assert_true(img->size == 1024);     /* whole sectors, as qemu-img info says */
    memset(buf, 0xee, sizeof(buf));
    assert_int_equal(image_read(img, 0, buf, sizeof(buf), &err), 0);
    assert_memory_equal(buf, data, sizeof(data));
    for (size_t i = sizeof(data); i < sizeof(buf); i++) {
        assert_int_equal(buf[i], 0);
    }
    memset(buf, 0xee, sizeof(buf));
    assert_int_equal(image_read(img, 1000, buf, 24, &err), 0);
    for (size_t i = 0; i < 24; i++) {
        assert_int_equal(buf[i], 0);
    }
    image_close(img);
    assert_false(err.set);
}

static void test_block_status(void **state)
{
    char path[512];
    struct err err = { 0 };
    struct image *img;
    struct block_status bs;
    uint8_t buf[4096];

    (void)state;
    tmp_path(path, sizeof(path), "sparse.raw");
    assert_int_equal(create_raw(path, "4M", NULL, &err), 0);
    img = open_img(path, "raw", IMG_RDWR, CACHE_WRITEBACK);
    memset(buf, 0xab, sizeof(buf));
    assert_int_equal(image_write(img, MiB, buf, sizeof(buf), &err), 0);
    assert_int_equal(image_flush(img, &err), 0);

    /* [0, 4k): allocated by create */
    memset(&bs, 0xff, sizeof(bs));
    assert_int_equal(image_block_status(img, 0, 4 * MiB, &bs, &err), 0);
    assert_true(bs.pnum == 4096);
    assert_true(bs.flags & BS_DATA);
    assert_false(bs.flags & BS_ZERO);
    assert_true(bs.flags & BS_ALLOCATED);
    assert_true(bs.flags & BS_OFFSET_VALID);
    assert_true(bs.offset == 0);
    assert_ptr_equal(bs.host, img->file);
    assert_int_equal(bs.depth, 0);

    /* [4k, 1M): hole */
    assert_int_equal(image_block_status(img, 4096, 4 * MiB - 4096, &bs, &err), 0);
    assert_true(bs.pnum == MiB - 4096);
    assert_true(bs.flags & BS_ZERO);
    assert_false(bs.flags & BS_DATA);
    assert_true(bs.flags & BS_ALLOCATED);
    assert_true(bs.offset == 4096);

    /* [1M, 1M+4k): the write */
    assert_int_equal(image_block_status(img, MiB, 3 * MiB, &bs, &err), 0);
    assert_true(bs.pnum == 4096);
    assert_true(bs.flags & BS_DATA);
    assert_true(bs.offset == MiB);

    /* the rest is a hole to the end */
    assert_int_equal(image_block_status(img, MiB + 4096, 3 * MiB - 4096, &bs, &err), 0);
    assert_true(bs.pnum == 3 * MiB - 4096);
    assert_true(bs.flags & BS_ZERO);

    /* a query inside a run stops at len */
    assert_int_equal(image_block_status(img, 8192, 512, &bs, &err), 0);
    assert_true(bs.pnum == 512);
    assert_true(bs.flags & BS_ZERO);
    assert_int_equal(image_block_status(img, MiB + 512, 100, &bs, &err), 0);
    assert_true(bs.pnum == 100);
    assert_true(bs.flags & BS_DATA);

    /* walking the whole image covers it exactly with 4 runs */
    {
        uint64_t off = 0;
        unsigned runs = 0;
        while (off < img->size) {
            assert_int_equal(image_block_status(img, off, img->size - off, &bs, &err), 0);
            assert_true(bs.pnum > 0 && bs.pnum <= img->size - off);
            off += bs.pnum;
            runs++;
        }
        assert_true(off == 4 * MiB);
        assert_int_equal(runs, 4);
    }

    /* out of range */
    assert_int_equal(image_block_status(img, 4 * MiB, 1, &bs, &err), -EIO);
    assert_true(err.set);
    image_close(img);
}

static void test_out_of_range(void **state)
{
    char path[512];
    struct err err = { 0 };
    struct image *img;
    uint8_t buf[1024] = { 0 };

    (void)state;
    tmp_path(path, sizeof(path), "range.raw");
    assert_int_equal(create_raw(path, "1M", NULL, &err), 0);
    img = open_img(path, "raw", IMG_RDWR, CACHE_WRITEBACK);

    assert_int_equal(image_read(img, MiB - 512, buf, 1024, &err), -EIO);
    assert_true(err.set);
    assert_int_equal(err.code, -EIO);
    assert_true(err.msg[0] != '\0');
    err_clear(&err);
    assert_int_equal(image_read(img, MiB, buf, 1, &err), -EIO);
    err_clear(&err);
    assert_int_equal(image_read(img, UINT64_MAX, buf, 2, &err), -EIO);   /* wraps */
    err_clear(&err);
    assert_int_equal(image_write(img, MiB - 1, buf, 2, &err), -EIO);
    err_clear(&err);
    assert_int_equal(image_write(img, UINT64_MAX - 1, buf, 4, &err), -EIO);
    err_clear(&err);

    /* empty requests at the very end are fine */
    assert_int_equal(image_read(img, MiB, buf, 0, &err), 0);
    assert_int_equal(image_write(img, MiB, buf, 0, &err), 0);
    assert_false(err.set);
    image_close(img);
    assert_int_equal(file_size(path), MiB);
}

static void test_write_read_only(void **state)
{
    char path[512];
    struct err err = { 0 };
    struct image *img;
    uint8_t buf[512], back[512];

    (void)state;
    tmp_path(path, sizeof(path), "ro.raw");
    assert_int_equal(create_raw(path, "64k", NULL, &err), 0);
    img = open_img(path, "raw", 0, CACHE_WRITEBACK);
    memset(buf, 0x77, sizeof(buf));
    assert_true(image_write(img, 0, buf, sizeof(buf), &err) < 0);
    assert_true(err.set);
    err_clear(&err);
    assert_true(image_truncate(img, 128 * 1024, false, PREALLOC_OFF, &err) < 0);
    assert_true(err.set);
    err_clear(&err);
    /* flush of a read-only image is a no-op */
    assert_int_equal(image_flush(img, &err), 0);
    assert_int_equal(image_read(img, 0, back, sizeof(back), &err), 0);
    for (size_t i = 0; i < sizeof(back); i++) {
        assert_int_equal(back[i], 0);
    }
    image_close(img);
    assert_int_equal(file_size(path), 64 * 1024);
}

static void test_truncate(void **state)
{
    char path[512];
    struct err err = { 0 };
    struct image *img;
    uint8_t buf[512];

    (void)state;
    tmp_path(path, sizeof(path), "resize.raw");
    assert_int_equal(create_raw(path, "1M", NULL, &err), 0);
    img = open_img(path, "raw", IMG_RDWR, CACHE_WRITEBACK);
    memset(buf, 0x42, sizeof(buf));
    assert_int_equal(image_write(img, MiB - 512, buf, sizeof(buf), &err), 0);

    /* grow: size and file follow, the new area reads as zeros */
    assert_int_equal(image_truncate(img, 4 * MiB, false, PREALLOC_OFF, &err), 0);
    assert_true(img->size == 4 * MiB);
    assert_int_equal(file_size(path), 4 * MiB);
    assert_int_equal(image_read(img, 3 * MiB, buf, sizeof(buf), &err), 0);
    for (size_t i = 0; i < sizeof(buf); i++) {
        assert_int_equal(buf[i], 0);
    }
    assert_int_equal(image_read(img, MiB - 512, buf, sizeof(buf), &err), 0);
    assert_int_equal(buf[0], 0x42);
    assert_int_equal(buf[511], 0x42);
    assert_false(err.set);

    /* shrink refused without allow_shrink, with qemu-img resize's message */
    assert_int_equal(image_truncate(img, 2 * MiB, false, PREALLOC_OFF, &err), -EINVAL);
    assert_string_equal(err.msg, "Use the --shrink option to perform a shrink operation.");
    assert_true(img->size == 4 * MiB);
    assert_int_equal(file_size(path), 4 * MiB);
    err_clear(&err);

    /* shrink with it */
    assert_int_equal(image_truncate(img, 2 * MiB, true, PREALLOC_OFF, &err), 0);
    assert_true(img->size == 2 * MiB);
    assert_int_equal(file_size(path), 2 * MiB);
    assert_int_equal(image_read(img, 2 * MiB - 512, buf, sizeof(buf), &err), 0);
    assert_int_equal(image_read(img, 2 * MiB, buf, 1, &err), -EIO);
    err_clear(&err);

    /* same size is fine either way */
    assert_int_equal(image_truncate(img, 2 * MiB, false, PREALLOC_OFF, &err), 0);
    assert_true(img->size == 2 * MiB);

    /* metadata preallocation is not a raw mode */
    assert_true(image_truncate(img, 3 * MiB, false, PREALLOC_METADATA, &err) < 0);
    assert_string_equal(err.msg, "Unsupported preallocation mode: metadata");
    err_clear(&err);

    /* growing with falloc / full allocates the new area */
    assert_int_equal(image_truncate(img, 4 * MiB, false, PREALLOC_FALLOC, &err), 0);
    assert_true(img->size == 4 * MiB);
    assert_int_equal(file_size(path), 4 * MiB);
    assert_true(image_allocated_size(img) >= 2 * MiB);
    assert_int_equal(image_truncate(img, 8 * MiB, false, PREALLOC_FULL, &err), 0);
    assert_true(img->size == 8 * MiB);
    assert_int_equal(file_size(path), 8 * MiB);
    assert_true(image_allocated_size(img) >= 6 * MiB);
    assert_false(err.set);
    image_close(img);

    /* the new size is what a reopen sees */
    img = open_img(path, "raw", 0, CACHE_WRITEBACK);
    assert_true(img->size == 8 * MiB);
    image_close(img);
}

static void test_prealloc_create(void **state)
{
    char path[512];
    struct err err = { 0 };
    struct image *img;
    int64_t alloc;

    (void)state;
    tmp_path(path, sizeof(path), "full.raw");
    assert_int_equal(create_raw(path, "4M", "preallocation=full", &err), 0);
    assert_false(err.set);
    img = open_img(path, "raw", 0, CACHE_WRITEBACK);
    assert_true(img->size == 4 * MiB);
    alloc = image_allocated_size(img);
    assert_true(alloc >= 4 * MiB);
    assert_true(file_allocated(img->file) >= 4 * MiB);
    image_close(img);

    tmp_path(path, sizeof(path), "falloc.raw");
    assert_int_equal(create_raw(path, "4M", "preallocation=falloc", &err), 0);
    img = open_img(path, "raw", 0, CACHE_WRITEBACK);
    assert_true(img->size == 4 * MiB);
    assert_true(file_allocated(img->file) >= 4 * MiB);
    image_close(img);

    /* off: only the first block is allocated, as qemu-img create does */
    tmp_path(path, sizeof(path), "off.raw");
    assert_int_equal(create_raw(path, "4M", "preallocation=off", &err), 0);
    img = open_img(path, "raw", 0, CACHE_WRITEBACK);
    alloc = image_allocated_size(img);
    assert_true(alloc >= 512);
    assert_true(alloc < 4 * MiB);
    image_close(img);
    assert_false(err.set);
}

static void test_prealloc_refused(void **state)
{
    char path[512];
    struct err err = { 0 };
    struct stat st;

    (void)state;
    tmp_path(path, sizeof(path), "meta.raw");
    assert_true(create_raw(path, "1M", "preallocation=metadata", &err) < 0);
    assert_int_equal(err.code, -ENOTSUP);
    assert_string_equal(err.msg, "Unsupported preallocation mode: metadata");
    err_clear(&err);

    tmp_path(path, sizeof(path), "bogus.raw");
    assert_int_equal(create_raw(path, "1M", "preallocation=bogus", &err), -EINVAL);
    assert_string_equal(err.msg, "invalid parameter value: bogus");
    assert_int_equal(stat(path, &st), -1);       /* qemu-img creates nothing either */
    assert_int_equal(errno, ENOENT);
    err_clear(&err);

    /* options are validated against raw + file options */
    tmp_path(path, sizeof(path), "unknown.raw");
    assert_int_equal(create_raw(path, "1M", "foo=bar", &err), -EINVAL);
    assert_string_equal(err.msg, "Invalid parameter 'foo'");
    assert_int_equal(stat(path, &st), -1);
    err_clear(&err);

    assert_int_equal(create_raw(path, "1M", "nocow=maybe", &err), -EINVAL);
    assert_string_equal(err.msg, "Parameter 'nocow' expects 'on' or 'off'");
}

static void test_create_opts_list(void **state)
{
    struct opt_desc *d;

    (void)state;
    d = image_create_opts(fmt_find("raw"), false);
    assert_string_equal(d[0].name, "size");
    assert_null(d[1].name);
    free(d);

    d = image_create_opts(fmt_find("raw"), true);
    assert_string_equal(d[0].name, "size");
    assert_string_equal(d[1].name, "nocow");
    assert_string_equal(d[2].name, "preallocation");
    assert_string_equal(d[3].name, "extent_size_hint");
    assert_null(d[4].name);
    free(d);
}

static void test_probed_raw_writes(void **state)
{
    char path[512];
    struct err err = { 0 };
    struct image *img;
    uint8_t buf[512], back[512];

    (void)state;
    tmp_path(path, sizeof(path), "probed.raw");
    assert_int_equal(create_raw(path, "1M", NULL, &err), 0);
    img = open_img(path, NULL, IMG_RDWR | IMG_QUIET, CACHE_WRITEBACK);
    assert_true(img->flags & IMG_PROBED);
    assert_string_equal(img->drv->name, "raw");

    /* ordinary data at offset 0 is fine */
    memset(buf, 0x51, sizeof(buf));
    assert_int_equal(image_write(img, 0, buf, sizeof(buf), &err), 0);
    assert_int_equal(image_write(img, 3, "hello", 5, &err), 0);
    assert_int_equal(image_read(img, 0, back, sizeof(back), &err), 0);
    assert_int_equal(back[0], 0x51);
    assert_memory_equal(back + 3, "hello", 5);
    assert_false(err.set);

    /* a qcow2 header in block 0 would change the format: refused */
    memset(buf, 0, sizeof(buf));
    memcpy(buf, "QFI\xfb\0\0\0\3", 8);
    assert_int_equal(image_write(img, 0, buf, sizeof(buf), &err), -EPERM);
    assert_true(err.set);
    err_clear(&err);
    assert_int_equal(image_read(img, 0, back, sizeof(back), &err), 0);
    assert_int_equal(back[0], 0x51);

    /* past block 0 it is just data */
    assert_int_equal(image_write(img, 512, buf, sizeof(buf), &err), 0);
    image_close(img);

    /* with the format given explicitly there is no restriction */
    img = open_img(path, "raw", IMG_RDWR, CACHE_WRITEBACK);
    assert_int_equal(image_write(img, 0, buf, sizeof(buf), &err), 0);
    assert_int_equal(image_read(img, 0, back, 8, &err), 0);
    assert_memory_equal(back, "QFI\xfb\0\0\0\3", 8);
    image_close(img);
    assert_false(err.set);
}

static void test_cache_mode_parse(void **state)
{
    enum cache_mode m = CACHE_UNSAFE;

    (void)state;
    assert_int_equal(cache_mode_parse("none", &m), 0);
    assert_int_equal(m, CACHE_NONE);
    assert_int_equal(cache_mode_parse("writeback", &m), 0);
    assert_int_equal(m, CACHE_WRITEBACK);
    assert_int_equal(cache_mode_parse("writethrough", &m), 0);
    assert_int_equal(m, CACHE_WRITETHROUGH);
    assert_int_equal(cache_mode_parse("directsync", &m), 0);
    assert_int_equal(m, CACHE_DIRECTSYNC);
    assert_int_equal(cache_mode_parse("unsafe", &m), 0);
    assert_int_equal(m, CACHE_UNSAFE);
    assert_int_equal(cache_mode_parse("off", &m), 0);       /* qemu's alias of none */
    assert_int_equal(m, CACHE_NONE);

    m = CACHE_UNSAFE;
    assert_int_equal(cache_mode_parse("bogus", &m), -EINVAL);
    assert_int_equal(cache_mode_parse("None", &m), -EINVAL);
    assert_int_equal(cache_mode_parse("", &m), -EINVAL);
    assert_int_equal(m, CACHE_UNSAFE);

    assert_string_equal(cache_mode_name(CACHE_NONE), "none");
    assert_string_equal(cache_mode_name(CACHE_WRITEBACK), "writeback");
    assert_string_equal(cache_mode_name(CACHE_WRITETHROUGH), "writethrough");
    assert_string_equal(cache_mode_name(CACHE_DIRECTSYNC), "directsync");
    assert_string_equal(cache_mode_name(CACHE_UNSAFE), "unsafe");
}

/* true when this filesystem accepts O_DIRECT opens (tmpfs says EINVAL) */
static bool direct_supported(const char *path)
{
    int fd = open(path, O_RDWR | O_DIRECT);

    if (fd < 0) {
        assert_int_equal(errno, EINVAL);
        return false;
    }
    close(fd);
    return true;
}

static void run_direct_io(enum cache_mode cache, const char *name, const char *size,
                          uint64_t expect_size)
{
    static const struct { uint64_t off; size_t len; } cases[] = {
        { 0, 1 }, { 1, 10 }, { 100, 300 }, { 511, 2 }, { 4000, 200 }, { 4095, 8193 },
        { 4096, 4096 }, { 8192, 512 }, { 12345, 678 },
    };
    char path[512];
    struct err err = { 0 };
    struct image *img;
    uint8_t wbuf[9000], rbuf[9000];
    off_t before;

    tmp_path(path, sizeof(path), name);
    assert_int_equal(create_raw(path, size, NULL, &err), 0);
    if (!direct_supported(path)) {
        print_message("O_DIRECT not supported on %s: skipping\n", tmpdir);
        skip();
    }
    before = file_size(path);
    img = open_img(path, "raw", IMG_RDWR, cache);
    assert_true(img->file->direct);
    assert_true(img->size == expect_size);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (cases[i].off + cases[i].len > img->size) {
            continue;
        }
        fill_pattern(wbuf, cases[i].len, (unsigned)i + 5);
        assert_int_equal(image_write(img, cases[i].off, wbuf, cases[i].len, &err), 0);
        memset(rbuf, 0xee, cases[i].len);
        /* read through a deliberately misaligned buffer */
        assert_int_equal(image_read(img, cases[i].off, rbuf + 1, cases[i].len, &err), 0);
        assert_memory_equal(rbuf + 1, wbuf, cases[i].len);
    }
    assert_int_equal(image_flush(img, &err), 0);
    assert_false(err.set);
    image_close(img);
    /* read-modify-write of whole blocks must not change the file length */
    assert_int_equal(file_size(path), before);

    /* and everything is visible through the page cache too */
    img = open_img(path, "raw", 0, CACHE_WRITEBACK);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint64_t end = cases[i].off + cases[i].len;
        bool overwritten = false;

        if (end > img->size) {
            continue;
        }
        /* later cases overlap earlier ones; check only untouched ones */
        for (size_t j = i + 1; j < sizeof(cases) / sizeof(cases[0]); j++) {
            if (cases[j].off + cases[j].len <= img->size && cases[j].off < end &&
                cases[i].off < cases[j].off + cases[j].len) {
                overwritten = true;
            }
        }
        if (overwritten) {
            continue;
        }
        fill_pattern(wbuf, cases[i].len, (unsigned)i + 5);
        assert_int_equal(image_read(img, cases[i].off, rbuf, cases[i].len, &err), 0);
        assert_memory_equal(rbuf, wbuf, cases[i].len);
    }
    image_close(img);
}

static void test_direct_io(void **state)
{
    (void)state;
    run_direct_io(CACHE_NONE, "direct.raw", "64k", 64 * 1024);
}

static void test_direct_io_short_file(void **state)
{
    (void)state;
    /* 1024-byte file: RMW blocks reach past the end of the file */
    run_direct_io(CACHE_DIRECTSYNC, "direct-short.raw", "513", 1024);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_and_open),
        cmocka_unit_test(test_create_overwrites),
        cmocka_unit_test(test_read_write_roundtrip),
        cmocka_unit_test(test_read_past_file_end),
        cmocka_unit_test(test_block_status),
        cmocka_unit_test(test_out_of_range),
        cmocka_unit_test(test_write_read_only),
        cmocka_unit_test(test_truncate),
        cmocka_unit_test(test_prealloc_create),
        cmocka_unit_test(test_prealloc_refused),
        cmocka_unit_test(test_create_opts_list),
        cmocka_unit_test(test_probed_raw_writes),
        cmocka_unit_test(test_cache_mode_parse),
        cmocka_unit_test(test_direct_io),
        cmocka_unit_test(test_direct_io_short_file),
    };

    return cmocka_run_group_tests_name("raw", tests, group_setup, group_teardown);
}
