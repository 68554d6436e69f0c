/* file.c - the 'file' protocol layer; see file.h. */
#include "file.h"
#include "undo.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "size.h"
#include "util.h"

#define DIRECT_ALIGN 4096
#define ZERO_CHUNK (1u << 20)

static const char *const cache_names[] = {
    [CACHE_WRITEBACK] = "writeback",
    [CACHE_WRITETHROUGH] = "writethrough",
    [CACHE_NONE] = "none",
    [CACHE_DIRECTSYNC] = "directsync",
    [CACHE_UNSAFE] = "unsafe",
};

int cache_mode_parse(const char *s, enum cache_mode *out)
{
    for (size_t i = 0; i < ARRAY_SIZE(cache_names); i++) {
        if (!strcmp(s, cache_names[i])) {
            *out = (enum cache_mode)i;
            return 0;
        }
    }
    if (!strcmp(s, "off")) {            /* qemu's old alias of "none" */
        *out = CACHE_NONE;
        return 0;
    }
    return -EINVAL;
}

const char *cache_mode_name(enum cache_mode m)
{
    return cache_names[m];
}

int prealloc_parse(const char *s, enum prealloc *out)
{
    static const char *const names[] = { "off", "metadata", "falloc", "full" };

    for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
        if (!strcmp(s, names[i])) {
            *out = (enum prealloc)i;
            return 0;
        }
    }
    return -EINVAL;
}

int file_open(struct file **out, const char *filename, unsigned flags, enum cache_mode cache,
              struct err *err)
{
    struct file *f;
    struct stat st;
    int oflags = O_CLOEXEC;
    bool created;
    int fd;

    if (!(flags & FILE_CREATE) && (!filename || !*filename)) {
        return err_set(err, -EINVAL, "The 'file' block driver requires a file name");
    }
    oflags |= (flags & FILE_RDWR) ? O_RDWR : O_RDONLY;
    if (flags & FILE_CREATE) {
        oflags |= O_CREAT;
    }
    if (cache == CACHE_NONE || cache == CACHE_DIRECTSYNC) {
        oflags |= O_DIRECT;
    }
    created = (flags & FILE_CREATE) && access(filename, F_OK) < 0;
    do {
        fd = open(filename, oflags, 0644);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        return err_set_errno(err, errno, "Could not open '%s'", filename);
    }
    if (fstat(fd, &st) < 0) {
        int e = errno;
        close(fd);
        return err_set_errno(err, e, "Could not stat '%s'", filename);
    }
    if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode) && !S_ISCHR(st.st_mode)) {
        close(fd);
        return err_set(err, -EINVAL, "'file' driver requires '%s' to be a regular file",
                       filename);
    }
    f = xcalloc(1, sizeof(*f));
    f->fd = fd;
    f->filename = xstrdup(filename);
    f->writable = flags & FILE_RDWR;
    f->direct = oflags & O_DIRECT;
    f->sync_writes = cache == CACHE_WRITETHROUGH || cache == CACHE_DIRECTSYNC;
    f->ignore_flush = cache == CACHE_UNSAFE;
    f->is_blockdev = S_ISBLK(st.st_mode);
    f->align = f->direct ? DIRECT_ALIGN : 1;
    f->real = (flags & FILE_RDWR) ? realpath(filename, NULL) : NULL;
    if (created) {
        undo_created(filename);     /* nothing of it to restore */
    }
    *out = f;
    return 0;
}

void file_close(struct file *f)
{
    if (f) {
        close(f->fd);
        free(f->filename);
        free(f->real);
        free(f);
    }
}

/* Plain pread loop: short reads at EOF are zero-filled. */
static int do_pread(struct file *f, uint64_t off, void *buf, size_t len, struct err *err)
{
    uint8_t *p = buf;

    while (len) {
        ssize_t n = pread(f->fd, p, len, (off_t)off);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return err_set_errno(err, errno, "Could not read '%s' at offset %llu", f->filename,
                                 (unsigned long long)off);
        }
        if (n == 0) {
            memset(p, 0, len);
            break;
        }
        p += n;
        off += (uint64_t)n;
        len -= (size_t)n;
    }
    return 0;
}

static int do_pwrite(struct file *f, uint64_t off, const void *buf, size_t len, struct err *err)
{
    const uint8_t *p = buf;

    while (len) {
        ssize_t n = pwrite(f->fd, p, len, (off_t)off);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return err_set_errno(err, errno, "Could not write '%s' at offset %llu", f->filename,
                                 (unsigned long long)off);
        }
        p += n;
        off += (uint64_t)n;
        len -= (size_t)n;
    }
    return 0;
}

static bool is_aligned(const struct file *f, uint64_t off, const void *buf, size_t len)
{
    return off % f->align == 0 && len % f->align == 0 && (uintptr_t)buf % f->align == 0;
}

static void *bounce_alloc(size_t len)
{
    void *p = NULL;
    if (posix_memalign(&p, DIRECT_ALIGN, len ? len : DIRECT_ALIGN)) {
        fprintf(stderr, "imgsh: out of memory allocating %zu bytes\n", len);
        abort();
    }
    return p;
}

int file_pread(struct file *f, uint64_t off, void *buf, size_t len, struct err *err)
{
    uint64_t start, end;
    uint8_t *bounce;
    int ret;

    if (is_aligned(f, off, buf, len)) {
        return do_pread(f, off, buf, len, err);
    }
    start = round_down(off, f->align);
    end = round_up(off + len, f->align);
    bounce = bounce_alloc((size_t)(end - start));
    ret = do_pread(f, start, bounce, (size_t)(end - start), err);
    if (ret == 0) {
        memcpy(buf, bounce + (off - start), len);
    }
    free(bounce);
    return ret;
}

int file_pwrite(struct file *f, uint64_t off, const void *buf, size_t len, struct err *err)
{
    int ret;

    if (!f->writable) {
        return err_set(err, -EPERM, "'%s' is opened read-only", f->filename);
    }
    ret = undo_before_write(f, off, len, err);
    if (ret < 0) {
        return ret;
    }
    if (is_aligned(f, off, buf, len)) {
        ret = do_pwrite(f, off, buf, len, err);
    } else {
        /* read-modify-write whole aligned blocks, then restore the length */
        uint64_t start = round_down(off, f->align);
        uint64_t end = round_up(off + len, f->align);
        int64_t old_len = file_length(f, err);
        uint8_t *bounce;

        if (old_len < 0) {
            return (int)old_len;
        }
        bounce = bounce_alloc((size_t)(end - start));
        ret = do_pread(f, start, bounce, (size_t)(end - start), err);
        if (ret == 0) {
            memcpy(bounce + (off - start), buf, len);
            ret = do_pwrite(f, start, bounce, (size_t)(end - start), err);
        }
        free(bounce);
        if (ret == 0 && !f->is_blockdev && end > (uint64_t)old_len) {
            if (ftruncate(f->fd, (off_t)MAX((uint64_t)old_len, off + len)) < 0) {
                ret = err_set_errno(err, errno, "Could not resize '%s'", f->filename);
            }
        }
    }
    if (ret == 0 && f->sync_writes && fdatasync(f->fd) < 0) {
        ret = err_set_errno(err, errno, "Could not sync '%s'", f->filename);
    }
    return ret;
}

int file_flush(struct file *f, struct err *err)
{
    if (f->ignore_flush || !f->writable) {
        return 0;
    }
    if (fdatasync(f->fd) < 0) {
        return err_set_errno(err, errno, "Could not flush '%s'", f->filename);
    }
    return 0;
}

int64_t file_length(struct file *f, struct err *err)
{
    struct stat st;

    if (f->is_blockdev) {
        uint64_t sz;
        if (ioctl(f->fd, BLKGETSIZE64, &sz) == 0) {
            return (int64_t)sz;
        }
        off_t end = lseek(f->fd, 0, SEEK_END);
        if (end < 0) {
            return err_set_errno(err, errno, "Could not get the size of '%s'", f->filename);
        }
        return end;
    }
    if (fstat(f->fd, &st) < 0) {
        return err_set_errno(err, errno, "Could not stat '%s'", f->filename);
    }
    return st.st_size;
}

int64_t file_allocated(struct file *f)
{
    struct stat st;

    if (fstat(f->fd, &st) < 0) {
        return -errno;
    }
    return (int64_t)st.st_blocks * 512;
}

/* Write zeros over [from, to). */
static int write_zeros(struct file *f, uint64_t from, uint64_t to, struct err *err)
{
    uint8_t *zero = bounce_alloc(ZERO_CHUNK);
    int ret = 0;

    memset(zero, 0, ZERO_CHUNK);
    while (from < to && ret == 0) {
        size_t n = (size_t)MIN((uint64_t)ZERO_CHUNK, to - from);
        ret = do_pwrite(f, from, zero, n, err);
        from += n;
    }
    free(zero);
    return ret;
}

int file_write_zeroes(struct file *f, uint64_t off, uint64_t len, bool may_unmap,
                      struct err *err)
{
    int64_t flen;
    int ret;

    if (!f->writable) {
        return err_set(err, -EPERM, "'%s' is opened read-only", f->filename);
    }
    ret = undo_before_write(f, off, len, err);
    if (ret < 0) {
        return ret;
    }
    flen = file_length(f, err);
    if (flen < 0) {
        return (int)flen;
    }
    if (off >= (uint64_t)flen && !f->is_blockdev) {
        /* past the end: extending the file is enough */
        if (ftruncate(f->fd, (off_t)(off + len)) < 0) {
            return err_set_errno(err, errno, "Could not resize '%s'", f->filename);
        }
        return 0;
    }
    if (may_unmap &&
        fallocate(f->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) == 0) {
        ret = 0;
    } else if (fallocate(f->fd, FALLOC_FL_ZERO_RANGE, (off_t)off, (off_t)len) == 0) {
        ret = 0;
    } else {
        ret = write_zeros(f, off, off + len, err);
    }
    if (ret == 0 && f->sync_writes && fdatasync(f->fd) < 0) {
        ret = err_set_errno(err, errno, "Could not sync '%s'", f->filename);
    }
    return ret;
}

int file_truncate(struct file *f, uint64_t size, enum prealloc prealloc, struct err *err)
{
    int64_t cur = file_length(f, err);
    int ret;

    if (cur < 0) {
        return (int)cur;
    }
    /* (growing records nothing but the old length, which undo restores) */
    ret = size < (uint64_t)cur ? undo_before_write(f, size, (uint64_t)cur - size, err)
                               : undo_before_write(f, (uint64_t)cur, 0, err);
    if (ret < 0) {
        return ret;
    }
    if (f->is_blockdev) {
        if (size > (uint64_t)cur) {
            return err_set(err, -EINVAL, "Cannot grow device files");
        }
        return 0;
    }
    switch (prealloc) {
    case PREALLOC_OFF:
        break;
    case PREALLOC_FALLOC:
        if (size > (uint64_t)cur) {
            ret = posix_fallocate(f->fd, cur, (off_t)(size - (uint64_t)cur));
            if (ret) {
                return err_set_errno(err, ret, "Could not preallocate new data");
            }
            return 0;
        }
        break;
    case PREALLOC_FULL:
        if (size > (uint64_t)cur) {
            if (ftruncate(f->fd, (off_t)size) < 0) {
                return err_set_errno(err, errno, "Could not resize file");
            }
            ret = write_zeros(f, (uint64_t)cur, size, err);
            if (ret == 0 && fsync(f->fd) < 0) {
                ret = err_set_errno(err, errno, "Could not flush file");
            }
            return ret;
        }
        break;
    case PREALLOC_METADATA:
        return err_set(err, -ENOTSUP, "Unsupported preallocation mode: metadata");
    }
    if (ftruncate(f->fd, (off_t)size) < 0) {
        return err_set_errno(err, errno, "Could not resize file");
    }
    return 0;
}

int file_block_status(struct file *f, uint64_t off, uint64_t len, uint64_t *pnum)
{
    off_t data, hole;

    if (len == 0) {
        *pnum = 0;
        return 1;
    }
    data = lseek(f->fd, (off_t)off, SEEK_DATA);
    if (data < 0) {
        if (errno == ENXIO) {
            /* off is in a hole that runs to the end of the file */
            *pnum = len;
            return 0;
        }
        *pnum = len;            /* no SEEK_DATA: call it all data */
        return 1;
    }
    if ((uint64_t)data > off) {
        *pnum = MIN(len, (uint64_t)data - off);
        return 0;
    }
    hole = lseek(f->fd, (off_t)off, SEEK_HOLE);
    if (hole < 0 || (uint64_t)hole <= off) {
        *pnum = len;
        return 1;
    }
    *pnum = MIN(len, (uint64_t)hole - off);
    return 1;
}

#define LOCK_BASE_PERM 100
#define LOCK_BASE_SHARED 200
#define PERM_BITS 4

static const char *const perm_names[PERM_BITS] = {
    "consistent read", "write", "write unchanged", "resize",
};

/* Does someone else hold a lock on byte? 1 yes, 0 no, negative errno. */
static int lock_held_elsewhere(int fd, off_t byte)
{
    struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = byte, .l_len = 1 };

    if (fcntl(fd, F_OFD_GETLK, &fl) < 0) {
        return -errno;
    }
    return fl.l_type != F_UNLCK;
}

static int lock_byte(int fd, off_t byte)
{
    struct flock fl = { .l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = byte, .l_len = 1 };

    return fcntl(fd, F_OFD_SETLK, &fl) < 0 ? -errno : 0;
}

int file_lock(struct file *f, unsigned perms, unsigned unshared, struct err *err)
{
    for (unsigned i = 0; i < PERM_BITS; i++) {
        int ret = 0;
        if (perms & (1u << i)) {
            ret = lock_byte(f->fd, LOCK_BASE_PERM + i);
        }
        if (ret == 0 && (unshared & (1u << i))) {
            ret = lock_byte(f->fd, LOCK_BASE_SHARED + i);
        }
        if (ret == -EINVAL || ret == -ENOTSUP || ret == -ENOLCK) {
            return 0;           /* no OFD locks here: nothing to coordinate with */
        }
        if (ret == -EAGAIN || ret == -EACCES) {
            /* only an exclusive lock blocks ours, and qemu never takes one */
            return err_set(err, ret, "Failed to lock byte %d\nIs another process using the image [%s]?",
                           LOCK_BASE_PERM + (int)i, f->filename);
        }
        if (ret < 0) {
            return err_set_errno(err, -ret, "Failed to lock '%s'", f->filename);
        }
    }
    for (unsigned i = 0; i < PERM_BITS; i++) {
        if ((perms & (1u << i)) && lock_held_elsewhere(f->fd, LOCK_BASE_SHARED + i) > 0) {
            return err_set(err, -EAGAIN, "Failed to get \"%s\" lock\n"
                           "Is another process using the image [%s]?", perm_names[i], f->filename);
        }
    }
    for (unsigned i = 0; i < PERM_BITS; i++) {
        if ((unshared & (1u << i)) && lock_held_elsewhere(f->fd, LOCK_BASE_PERM + i) > 0) {
            return err_set(err, -EAGAIN, "Failed to get shared \"%s\" lock\n"
                           "Is another process using the image [%s]?", perm_names[i], f->filename);
        }
    }
    return 0;
}

const struct opt_desc file_create_opts[] = {
    { "size", OPT_SIZE, "Virtual disk size", NULL },
    { "nocow", OPT_BOOL, "Turn off copy-on-write (valid only on btrfs)", NULL },
    { "preallocation", OPT_STRING, "Preallocation mode (allowed values: off, falloc, full)", NULL },
    { "extent_size_hint", OPT_SIZE, "Extent size hint for the image file, 0 to disable", NULL },
    { NULL, 0, NULL, NULL },
};

/* Cut an existing file to nothing (its old bytes journaled first: undo.h). */
static int truncate_to_zero(struct file *f, struct err *err)
{
    int64_t len = file_length(f, err);

    if (len < 0) {
        return (int)len;
    }
    if (len > 0 && undo_before_write(f, 0, (uint64_t)len, err) < 0) {
        return -EIO;
    }
    if (ftruncate(f->fd, 0) < 0) {
        return err_set_errno(err, errno, "Could not resize file");
    }
    return 0;
}

int file_create(const char *filename, const struct opts *opts, struct err *err)
{
    uint64_t size;
    bool nocow;
    enum prealloc prealloc = PREALLOC_OFF;
    const char *pa = opts_get(opts, "preallocation");
    struct file *f;
    int ret;

    ret = opts_get_size(opts, "size", 0, &size, err);
    if (ret < 0) {
        return ret;
    }
    ret = opts_get_bool(opts, "nocow", false, &nocow, err);
    if (ret < 0) {
        return ret;
    }
    if (pa && prealloc_parse(pa, &prealloc) < 0) {
        return err_set(err, -EINVAL, "invalid parameter value: %s", pa);
    }
    size = round_up(size, 512);

    ret = file_open(&f, filename, FILE_RDWR | FILE_CREATE, CACHE_WRITEBACK, NULL);
    if (ret < 0) {
        return err_set_errno(err, -ret, "Could not create '%s'", filename);
    }
    ret = file_lock(f, PERM_WRITE | PERM_RESIZE, PERM_RESIZE, err);
    if (ret < 0) {
        file_close(f);
        return ret;
    }
    {
        /* best effort, as qemu: only some file systems (XFS) take a hint */
        uint64_t hint;
        struct fsxattr fx;
        if (opts_get(opts, "extent_size_hint") &&
            opts_get_size(opts, "extent_size_hint", 0, &hint, NULL) == 0 && hint <= UINT32_MAX &&
            ioctl(f->fd, FS_IOC_FSGETXATTR, &fx) == 0) {
            fx.fsx_xflags |= FS_XFLAG_EXTSIZE;
            fx.fsx_extsize = (uint32_t)hint;
            (void)ioctl(f->fd, FS_IOC_FSSETXATTR, &fx);
        }
    }
    if (nocow) {
        int attr;
        if (ioctl(f->fd, FS_IOC_GETFLAGS, &attr) == 0) {
            attr |= FS_NOCOW_FL;
            (void)ioctl(f->fd, FS_IOC_SETFLAGS, &attr);     /* best effort, as qemu */
        }
    }
    if (prealloc == PREALLOC_METADATA) {
        if (!f->is_blockdev && (ret = truncate_to_zero(f, err)) < 0) {
            /* ret and err set */
        } else {
            ret = err_set(err, -ENOTSUP, "Unsupported preallocation mode: metadata");
        }
        file_close(f);
        return ret;
    }
    if (!f->is_blockdev && (ret = truncate_to_zero(f, err)) < 0) {
        /* ret and err set */
    } else {
        ret = file_truncate(f, size, prealloc, err);
    }
    if (ret == 0 && prealloc != PREALLOC_FULL && size > 0) {
        /* allocate the first block, as qemu does, so the file is never all hole */
        size_t n = size < DIRECT_ALIGN ? 512 : DIRECT_ALIGN;
        ret = write_zeros(f, 0, n, err);
    }
    file_close(f);
    return ret;
}
