/*
 * file.h - the 'file' protocol layer under every format driver: a file
 * descriptor with pread/pwrite, flush, truncate and hole detection.
 *
 * Thread safety: every call takes its offset explicitly (pread/pwrite, no
 * shared seek pointer) and allocates its own bounce buffer for O_DIRECT, so
 * many requests may be in flight on one struct file at once.
 */
#ifndef IMGSH_FILE_H
#define IMGSH_FILE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"
#include "opts.h"

/*
 * Cache modes as qemu-img names them:
 *   writeback    page cache, flush only when asked (default)
 *   writethrough page cache, data synced after every write
 *   none         O_DIRECT, flush when asked
 *   directsync   O_DIRECT, data synced after every write
 *   unsafe       page cache, flushes ignored
 */
enum cache_mode {
    CACHE_WRITEBACK,
    CACHE_WRITETHROUGH,
    CACHE_NONE,
    CACHE_DIRECTSYNC,
    CACHE_UNSAFE,
};

/* Parse a -t/-T argument; -EINVAL on an unknown name. */
int cache_mode_parse(const char *s, enum cache_mode *out);
const char *cache_mode_name(enum cache_mode m);

enum prealloc {
    PREALLOC_OFF,
    PREALLOC_METADATA,
    PREALLOC_FALLOC,
    PREALLOC_FULL,
};
/* "off", "metadata", "falloc", "full"; -EINVAL otherwise. */
int prealloc_parse(const char *s, enum prealloc *out);

enum file_flags {
    FILE_RDWR = 1 << 0,
    FILE_CREATE = 1 << 1,   /* create or truncate */
};

struct file {
    int fd;
    char *filename;
    bool writable;
    bool direct;            /* opened with O_DIRECT */
    bool sync_writes;       /* fdatasync after each write */
    bool ignore_flush;
    bool is_blockdev;
    size_t align;           /* request alignment needed by O_DIRECT, else 1 */
    char *real;             /* read-write: the resolved name, for the undo journal (undo.h) */
};

/*
 * Open a regular file or block device. Errors use qemu's text
 * ("Could not open 'x': No such file or directory",
 *  "'file' driver requires 'x' to be a regular file").
 */
int file_open(struct file **out, const char *filename, unsigned flags, enum cache_mode cache,
              struct err *err);
void file_close(struct file *f);

/* Read len bytes; bytes past the end of file read as zeros. */
int file_pread(struct file *f, uint64_t off, void *buf, size_t len, struct err *err);
int file_pwrite(struct file *f, uint64_t off, const void *buf, size_t len, struct err *err);
int file_flush(struct file *f, struct err *err);
/*
 * Make [off, off+len) read as zeros: punch a hole when may_unmap (the file
 * keeps its size), else zero the range in place; falls back to writing
 * zeros where the file system can do neither.
 */
int file_write_zeroes(struct file *f, uint64_t off, uint64_t len, bool may_unmap,
                      struct err *err);
/* Current length in bytes, or negative errno. */
int64_t file_length(struct file *f, struct err *err);
/* Bytes allocated on the host (st_blocks * 512), or negative errno. */
int64_t file_allocated(struct file *f);
/*
 * Grow or shrink to size. Growing honours prealloc (falloc: fallocate,
 * full: write zeros); metadata is not a file-level mode and is refused.
 */
int file_truncate(struct file *f, uint64_t size, enum prealloc prealloc, struct err *err);
/*
 * Is [off, off+len) data or hole? Sets *pnum to the length of the run
 * starting at off with the same answer (at most len). Returns 1 for data,
 * 0 for a hole, negative errno on failure. Without SEEK_DATA support
 * everything is data.
 */
int file_block_status(struct file *f, uint64_t off, uint64_t len, uint64_t *pnum);

/*
 * Image locking, compatible with qemu's: while an image is open, each
 * permission we use is held as a shared OFD lock on byte 100+bit, and each
 * permission we refuse to share with other users on byte 200+bit. Opening
 * fails when another process refuses what we use, or uses what we refuse.
 */
enum perm {
    PERM_CONSISTENT_READ = 1 << 0,
    PERM_WRITE = 1 << 1,
    PERM_WRITE_UNCHANGED = 1 << 2,
    PERM_RESIZE = 1 << 3,
};
/*
 * Take the locks for perms (used) and unshared (refused to others).
 * Errors read "Failed to get "write" lock\nIs another process using the
 * image [FILE]?" (or "shared" for a refused permission someone else uses).
 * File systems without OFD locks are used without locking.
 */
int file_lock(struct file *f, unsigned perms, unsigned unshared, struct err *err);

/* Options accepted when creating a file ("size", "preallocation", ...). */
extern const struct opt_desc file_create_opts[];
/*
 * Create (or truncate) filename with opts ("size" required), like qemu's
 * file protocol: size rounded up to 512, the first block written so that
 * alignment probing works, preallocation=off|falloc|full.
 */
int file_create(const char *filename, const struct opts *opts, struct err *err);

#endif
