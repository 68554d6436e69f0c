/*
 * test_probe.c - unit tests for format probing and lookup (formats/format.h)
 * and for how engine/block.h image_open picks a driver.
 *
 * Test plan:
 *  - fmt_probe falls back to raw for an all-zero block, a 0-length buffer
 *    and random bytes (only raw and file are registered).
 *  - fmt_find knows "raw" and "file", returns NULL for "bogus" and "".
 *  - every driver in fmt_drivers has a name, a description, open and read,
 *    names are unique, and every probe score is within 0..100; the
 *    probe-only fmt_recognized entries have a name, a probe and scores in
 *    0..100 too; a qcow2 header probes as qcow2 (as qemu-img info says).
 *  - image_open with fmt NULL on a temporary raw file sets IMG_PROBED and
 *    picks raw; an explicit format does not set IMG_PROBED (even when the
 *    caller passes it); a 0-byte file probes as raw with size 0.
 *  - a read-write open of a probed raw image prints qemu's warning on
 *    stderr, unless IMG_QUIET; a read-only open prints nothing.
 *  - error messages, as qemu-img 7.2 prints them: unknown driver, missing
 *    file, directory.
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

static char tmpdir[256];

static int group_setup(void **state)
{
    const char *base = getenv("TMPDIR");

    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "%s/test_probe.XXXXXX", base && *base ? base : "/tmp");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int group_teardown(void **state)
{
    char cmd[512];

    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Write a file of len bytes, all equal to fill. Returns its path (static). */
static const char *make_file(const char *name, size_t len, int fill)
{
    static char path[512];
    uint8_t *buf = malloc(len ? len : 1);
    int fd;

    assert_non_null(buf);
    memset(buf, fill, len);
    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_true(write(fd, buf, len) == (ssize_t)len);
    close(fd);
    free(buf);
    return path;
}

static void fill_random(uint8_t *buf, size_t len, unsigned seed)
{
    for (size_t i = 0; i < len; i++) {
        seed = seed * 1103515245u + 12345u;
        buf[i] = (uint8_t)(seed >> 16);
    }
}

static void test_probe_fallback(void **state)
{
    uint8_t buf[PROBE_BUF_SIZE];
    const struct fmt_driver *raw = fmt_find("raw");

    (void)state;
    assert_non_null(raw);
    memset(buf, 0, sizeof(buf));
    assert_ptr_equal(fmt_probe(buf, sizeof(buf), "zeros.img"), raw);
    assert_ptr_equal(fmt_probe(buf, 0, "empty.img"), raw);
    for (unsigned seed = 1; seed <= 16; seed++) {
        fill_random(buf, sizeof(buf), seed);
        assert_ptr_equal(fmt_probe(buf, sizeof(buf), "random.img"), raw);
        assert_ptr_equal(fmt_probe(buf, 7, "random.img"), raw);
    }
}

static void test_find(void **state)
{
    const struct fmt_driver *raw, *file;

    (void)state;
    raw = fmt_find("raw");
    file = fmt_find("file");
    assert_non_null(raw);
    assert_non_null(file);
    assert_ptr_not_equal(raw, file);
    assert_string_equal(raw->name, "raw");
    assert_string_equal(file->name, "file");
    assert_null(fmt_find("bogus"));
    assert_null(fmt_find(""));
    assert_null(fmt_find("RAW"));
}

static void test_driver_table(void **state)
{
    uint8_t zeros[PROBE_BUF_SIZE] = { 0 };
    uint8_t rnd[PROBE_BUF_SIZE];
    size_t n = 0;

    (void)state;
    fill_random(rnd, sizeof(rnd), 42);
    for (size_t i = 0; fmt_drivers[i]; i++, n++) {
        const struct fmt_driver *d = fmt_drivers[i];

        assert_non_null(d->name);
        assert_true(d->name[0] != '\0');
        assert_non_null(d->description);
        assert_non_null(d->open);
        assert_non_null(d->read);
        assert_ptr_equal(fmt_find(d->name), d);
        for (size_t j = 0; j < i; j++) {
            assert_string_not_equal(fmt_drivers[j]->name, d->name);
        }
        if (d->probe) {
            assert_in_range(d->probe(zeros, sizeof(zeros), "x.img"), 0, 100);
            assert_in_range(d->probe(zeros, 0, "x.img"), 0, 100);
            assert_in_range(d->probe(rnd, sizeof(rnd), "x.img"), 0, 100);
            assert_in_range(d->probe(rnd, 1, "x.img"), 0, 100);
        }
    }
    assert_true(n >= 2);

    /* probe-only entries: named, with a probe, never the raw fallback's score */
    for (size_t i = 0; fmt_recognized[i]; i++) {
        const struct fmt_driver *d = fmt_recognized[i];

        assert_non_null(d->name);
        assert_true(d->name[0] != '\0');
        assert_non_null(d->probe);
        assert_non_null(d->open);
        assert_in_range(d->probe(zeros, sizeof(zeros), "x.img"), 0, 100);
        assert_in_range(d->probe(zeros, 0, "x.img"), 0, 100);
        assert_in_range(d->probe(rnd, sizeof(rnd), "x.img"), 0, 100);
    }
}

static void test_probe_qcow2_magic(void **state)
{
    /* the start of a qcow2 v3 header as qemu-img create -f qcow2 writes it */
    uint8_t buf[PROBE_BUF_SIZE] = { 'Q', 'F', 'I', 0xfb, 0, 0, 0, 3 };
    const struct fmt_driver *d;

    (void)state;
    d = fmt_probe(buf, sizeof(buf), "x.qcow2");
    assert_non_null(d);
    assert_string_equal(d->name, "qcow2");
    /* the magic alone, without a version, is not enough */
    assert_string_equal(fmt_probe(buf, 4, "x.qcow2")->name, "raw");
}

static void test_open_probed_raw(void **state)
{
    const char *path = make_file("probe.raw", 4096, 0);
    struct image *img = NULL;
    struct err err = { 0 };

    (void)state;
    assert_int_equal(image_open(&img, path, NULL, 0, CACHE_WRITEBACK, &err), 0);
    assert_false(err.set);
    assert_non_null(img);
    assert_true(img->flags & IMG_PROBED);
    assert_string_equal(img->drv->name, "raw");
    assert_ptr_equal(img->drv, fmt_find("raw"));
    assert_true(img->size == 4096);
    assert_string_equal(img->filename, path);
    image_close(img);
}

static void test_open_probed_random_and_empty(void **state)
{
    uint8_t buf[1536];
    const char *path;
    struct image *img = NULL;
    struct err err = { 0 };
    int fd;

    (void)state;
    path = make_file("random.img", 0, 0);
    fill_random(buf, sizeof(buf), 7);
    fd = open(path, O_WRONLY);
    assert_true(fd >= 0);
    assert_true(write(fd, buf, sizeof(buf)) == (ssize_t)sizeof(buf));
    close(fd);
    assert_int_equal(image_open(&img, path, NULL, 0, CACHE_WRITEBACK, &err), 0);
    assert_true(img->flags & IMG_PROBED);
    assert_string_equal(img->drv->name, "raw");
    image_close(img);

    path = make_file("empty.img", 0, 0);
    assert_int_equal(image_open(&img, path, NULL, 0, CACHE_WRITEBACK, &err), 0);
    assert_true(img->flags & IMG_PROBED);
    assert_string_equal(img->drv->name, "raw");
    assert_true(img->size == 0);
    image_close(img);
    assert_false(err.set);
}

static void test_open_explicit_format(void **state)
{
    const char *path = make_file("explicit.raw", 1024, 0);
    struct image *img = NULL;
    struct err err = { 0 };

    (void)state;
    /* IMG_PROBED is an output: passing it in does not stick */
    assert_int_equal(image_open(&img, path, "raw", IMG_PROBED, CACHE_WRITEBACK, &err), 0);
    assert_false(img->flags & IMG_PROBED);
    assert_string_equal(img->drv->name, "raw");
    image_close(img);

    assert_int_equal(image_open(&img, path, "file", 0, CACHE_WRITEBACK, &err), 0);
    assert_false(img->flags & IMG_PROBED);
    assert_string_equal(img->drv->name, "file");
    assert_true(img->size == 1024);
    image_close(img);
    assert_false(err.set);
}

/* Run an open with stderr redirected; returns what was printed (malloc'd). */
static char *open_capture_stderr(const char *path, const char *fmt, unsigned flags)
{
    char tmpl[300];
    struct image *img = NULL;
    struct err err = { 0 };
    int fd, saved;
    char *out;
    off_t len;

    snprintf(tmpl, sizeof(tmpl), "%s/stderr.XXXXXX", tmpdir);
    fd = mkstemp(tmpl);
    assert_true(fd >= 0);
    fflush(stderr);
    saved = dup(STDERR_FILENO);
    assert_true(saved >= 0);
    assert_true(dup2(fd, STDERR_FILENO) >= 0);
    assert_int_equal(image_open(&img, path, fmt, flags, CACHE_WRITEBACK, &err), 0);
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    image_close(img);

    len = lseek(fd, 0, SEEK_END);
    out = calloc(1, (size_t)len + 1);
    assert_non_null(out);
    assert_true(pread(fd, out, (size_t)len, 0) == len);
    close(fd);
    unlink(tmpl);
    return out;
}

static void test_probed_raw_warning(void **state)
{
    const char *path = make_file("warn.raw", 512, 0);
    char want[1024];
    char *out;

    (void)state;
    snprintf(want, sizeof(want),
             "WARNING: Image format was not specified for '%s' and probing guessed raw.\n"
             "         Automatically detecting the format is dangerous for raw images, "
             "write operations on block 0 will be restricted.\n"
             "         Specify the 'raw' format explicitly to remove the restrictions.\n",
             path);
    out = open_capture_stderr(path, NULL, IMG_RDWR);
    assert_string_equal(out, want);
    free(out);

    out = open_capture_stderr(path, NULL, IMG_RDWR | IMG_QUIET);
    assert_string_equal(out, "");
    free(out);

    out = open_capture_stderr(path, NULL, 0);
    assert_string_equal(out, "");
    free(out);

    out = open_capture_stderr(path, "raw", IMG_RDWR);
    assert_string_equal(out, "");
    free(out);
}

static void test_open_unknown_driver(void **state)
{
    const char *path = make_file("bogus.raw", 512, 0);
    char want[1024];
    struct image *img = NULL;
    struct err err = { 0 };

    (void)state;
    snprintf(want, sizeof(want), "Could not open '%s': Unknown driver 'bogus'", path);
    assert_true(image_open(&img, path, "bogus", 0, CACHE_WRITEBACK, &err) < 0);
    assert_true(err.set);
    assert_true(err.code < 0);
    assert_string_equal(err.msg, want);
    assert_null(img);
}

static void test_open_missing(void **state)
{
    char path[512], want[1280];
    struct image *img = NULL;
    struct err err = { 0 };

    (void)state;
    snprintf(path, sizeof(path), "%s/does-not-exist.raw", tmpdir);
    snprintf(want, sizeof(want),
             "Could not open '%s': Could not open '%s': No such file or directory", path, path);
    assert_int_equal(image_open(&img, path, NULL, 0, CACHE_WRITEBACK, &err), -ENOENT);
    assert_string_equal(err.msg, want);
    assert_int_equal(err.code, -ENOENT);
    assert_null(img);

    err_clear(&err);
    assert_int_equal(image_open(&img, path, "raw", IMG_RDWR, CACHE_WRITEBACK, &err), -ENOENT);
    assert_string_equal(err.msg, want);
}

static void test_open_directory(void **state)
{
    char want[1024];
    struct image *img = NULL;
    struct err err = { 0 };

    (void)state;
    snprintf(want, sizeof(want),
             "Could not open '%s': 'file' driver requires '%s' to be a regular file", tmpdir,
             tmpdir);
    assert_true(image_open(&img, tmpdir, NULL, 0, CACHE_WRITEBACK, &err) < 0);
    assert_string_equal(err.msg, want);
    assert_null(img);

    err_clear(&err);
    assert_true(image_open(&img, tmpdir, "raw", 0, CACHE_WRITEBACK, &err) < 0);
    assert_string_equal(err.msg, want);
}

/* probing without a file name (dmg decides by name) must not crash; ".dmg" alone is raw */
static void test_probe_without_name(void **state)
{
    uint8_t buf[512] = { 0 };

    (void)state;
    assert_string_equal(fmt_probe(buf, sizeof(buf), NULL)->name, "raw");
    assert_string_equal(fmt_probe(buf, sizeof(buf), ".dmg")->name, "raw");
    assert_string_equal(fmt_probe(buf, sizeof(buf), "x.dmg")->name, "dmg");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_probe_fallback),
        cmocka_unit_test(test_find),
        cmocka_unit_test(test_driver_table),
        cmocka_unit_test(test_probe_qcow2_magic),
        cmocka_unit_test(test_open_probed_raw),
        cmocka_unit_test(test_open_probed_random_and_empty),
        cmocka_unit_test(test_open_explicit_format),
        cmocka_unit_test(test_probed_raw_warning),
        cmocka_unit_test(test_open_unknown_driver),
        cmocka_unit_test(test_open_missing),
        cmocka_unit_test(test_open_directory),
        cmocka_unit_test(test_probe_without_name),
    };

    return cmocka_run_group_tests_name("probe", tests, group_setup, group_teardown);
}
