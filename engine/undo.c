/*
 * undo.c - the undo journal (see undo.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <nettle/sha2.h>

#include "undo.h"
#include "util.h"

#define JOURNAL_MAGIC "IMGSH-UNDO-1\n"
#define JOURNAL_MAGIC_LEN 13
#define RECORD_MAGIC 0x49555231u        /* "IUR1" */
#define REC_BEGIN 1
#define REC_DATA 2
#define REC_END 3
#define CHUNK (1u << 20)

struct range {
    uint64_t start, end;
};

/* A watched file, and its journal in the current transaction. */
struct watched {
    char *real;                 /* realpath of the image */
    struct range *recs;         /* the DATA records written, in order */
    size_t nrecs;
    int jfd;                    /* journal, -1 until the first write of the transaction */
    int rfd;                    /* the image, read-only, for the old bytes */
    uint64_t orig_len;
    struct range *done;         /* ranges recorded in this transaction */
    size_t ndone;
};

static struct {
    pthread_mutex_t lock;
    struct watched *w;
    size_t n;
    char *description;          /* the transaction's command, NULL outside one */
    bool all;                   /* journal any existing file a command writes */
    char **skip;                /* created or scratch files of this transaction */
    size_t nskip;
} undo = { .lock = PTHREAD_MUTEX_INITIALIZER };

char *undo_journal_path(const char *image)
{
    return xasprintf("%s.imgsh-undo", image);
}

static char *real_of(const char *filename)
{
    char *r = realpath(filename, NULL);
    return r ? r : xstrdup(filename);
}

void undo_watch(const char *filename)
{
    char *real = real_of(filename);

    pthread_mutex_lock(&undo.lock);
    for (size_t i = 0; i < undo.n; i++) {
        if (!strcmp(undo.w[i].real, real)) {
            pthread_mutex_unlock(&undo.lock);
            free(real);
            return;
        }
    }
    undo.w = xrealloc(undo.w, (undo.n + 1) * sizeof(*undo.w));
    undo.w[undo.n++] = (struct watched){ .real = real, .jfd = -1, .rfd = -1 };
    pthread_mutex_unlock(&undo.lock);
}

void undo_unwatch(const char *filename)
{
    char *real = real_of(filename);

    pthread_mutex_lock(&undo.lock);
    for (size_t i = 0; i < undo.n; i++) {
        if (!strcmp(undo.w[i].real, real) && undo.w[i].jfd < 0) {
            free(undo.w[i].real);
            free(undo.w[i].done);
            undo.w[i] = undo.w[--undo.n];
            break;
        }
    }
    pthread_mutex_unlock(&undo.lock);
    free(real);
}

void undo_watch_all(bool on)
{
    undo.all = on;
}

static void skip_add(const char *filename)
{
    char *real = real_of(filename);

    pthread_mutex_lock(&undo.lock);
    undo.skip = xrealloc(undo.skip, (undo.nskip + 1) * sizeof(*undo.skip));
    undo.skip[undo.nskip++] = real;
    pthread_mutex_unlock(&undo.lock);
}

void undo_created(const char *filename)
{
    if (undo.description) {
        skip_add(filename);
    }
}

void undo_ignore(const char *filename)
{
    skip_add(filename);
}

/* Called with the lock held: is real skipped in this transaction? */
static bool skipped(const char *real)
{
    for (size_t i = 0; i < undo.nskip; i++) {
        if (!strcmp(undo.skip[i], real)) {
            return true;
        }
    }
    return false;
}

void undo_begin(const char *description)
{
    pthread_mutex_lock(&undo.lock);
    free(undo.description);
    undo.description = xstrdup(description ? description : "");
    pthread_mutex_unlock(&undo.lock);
}

static int write_all(int fd, const void *buf, size_t len)
{
    const uint8_t *p = buf;

    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return n < 0 ? -errno : -EIO;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int put_record(int fd, uint32_t type, const void *a, size_t alen, const void *b,
                      size_t blen)
{
    uint8_t h[16];
    int ret;

    put_be32(h, RECORD_MAGIC);
    put_be32(h + 4, type);
    put_be64(h + 8, (uint64_t)(alen + blen));
    ret = write_all(fd, h, sizeof(h));
    if (!ret && alen) {
        ret = write_all(fd, a, alen);
    }
    if (!ret && blen) {
        ret = write_all(fd, b, blen);
    }
    return ret;
}

#define HEAD_BYTES 65536u      /* the header's cluster, at most: changed by most qemu-img commands */

/*
 * What the file holds after the transaction, in 32 bytes: its length, its
 * first 64 KiB and the ranges the transaction wrote. undo compares it with
 * the file before it restores anything.
 */
static void fingerprint(int fd, const struct range *r, size_t n, uint8_t out[32])
{
    struct sha256_ctx h;
    uint8_t *buf = xmalloc(CHUNK);
    struct stat st;
    uint8_t len[8];

    sha256_init(&h);
    put_be64(len, fstat(fd, &st) == 0 ? (uint64_t)st.st_size : 0);
    sha256_update(&h, 8, len);
    for (size_t i = 0; i <= n; i++) {
        uint64_t start = i < n ? r[i].start : 0, end = i < n ? r[i].end : HEAD_BYTES;
        while (start < end) {
            size_t want = (size_t)MIN((uint64_t)CHUNK, end - start);
            ssize_t got = pread(fd, buf, want, (off_t)start);
            if (got <= 0) {
                break;
            }
            sha256_update(&h, (size_t)got, buf);
            start += (uint64_t)got;
        }
    }
    sha256_digest(&h, SHA256_DIGEST_SIZE, out);
    free(buf);
}

void undo_end(void)
{
    pthread_mutex_lock(&undo.lock);
    for (size_t i = 0; i < undo.n; i++) {
        struct watched *w = &undo.w[i];
        if (w->jfd >= 0) {
            struct stat st;
            uint8_t end[8 + 32];
            put_be64(end, fstat(w->rfd, &st) == 0 ? (uint64_t)st.st_size : w->orig_len);
            fingerprint(w->rfd, w->recs, w->nrecs, end + 8);
            if (put_record(w->jfd, REC_END, end, sizeof(end), NULL, 0) == 0) {
                fdatasync(w->jfd);
            }
            close(w->jfd);
            close(w->rfd);
            w->jfd = w->rfd = -1;
        }
        free(w->done);
        w->done = NULL;
        w->ndone = 0;
        free(w->recs);
        w->recs = NULL;
        w->nrecs = 0;
    }
    free(undo.description);
    undo.description = NULL;
    for (size_t i = 0; i < undo.nskip; i++) {
        free(undo.skip[i]);
    }
    free(undo.skip);
    undo.skip = NULL;
    undo.nskip = 0;
    pthread_mutex_unlock(&undo.lock);
}

/* Open the journal (creating it with its magic) and write the BEGIN record. */
static int journal_open(struct watched *w, struct err *err)
{
    char *path = undo_journal_path(w->real);
    uint8_t b[16];
    struct stat st;
    int ret = 0;

    w->rfd = open(w->real, O_RDONLY | O_CLOEXEC);
    if (w->rfd < 0 || fstat(w->rfd, &st) < 0) {
        ret = err_set_errno(err, errno, "Could not read '%s' for its undo journal", w->real);
        goto out;
    }
    w->orig_len = (uint64_t)st.st_size;
    w->jfd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (w->jfd < 0 || fstat(w->jfd, &st) < 0) {
        ret = err_set_errno(err, errno, "Could not open the undo journal '%s'", path);
        goto out;
    }
    if (st.st_size == 0 && write_all(w->jfd, JOURNAL_MAGIC, JOURNAL_MAGIC_LEN) < 0) {
        ret = err_set_errno(err, errno, "Could not write the undo journal '%s'", path);
        goto out;
    }
    put_be64(b, (uint64_t)time(NULL));
    put_be64(b + 8, w->orig_len);
    if (put_record(w->jfd, REC_BEGIN, b, 16, undo.description, strlen(undo.description)) < 0) {
        ret = err_set_errno(err, errno, "Could not write the undo journal '%s'", path);
    }
out:
    if (ret < 0) {
        if (w->rfd >= 0) {
            close(w->rfd);
        }
        if (w->jfd >= 0) {
            close(w->jfd);
        }
        w->rfd = w->jfd = -1;
    }
    free(path);
    return ret;
}

/* Record the old bytes of [start, end) (below the original length). */
static int record_range(struct watched *w, uint64_t start, uint64_t end, struct err *err)
{
    uint8_t *buf = xmalloc(CHUNK + 8);

    end = MIN(end, w->orig_len);
    while (start < end) {
        size_t n = (size_t)MIN((uint64_t)CHUNK, end - start);
        ssize_t r = pread(w->rfd, buf + 8, n, (off_t)start);
        if (r < 0) {
            free(buf);
            return err_set_errno(err, errno, "Could not read '%s' for its undo journal", w->real);
        }
        memset(buf + 8 + r, 0, n - (size_t)r);
        put_be64(buf, start);
        w->recs = xrealloc(w->recs, (w->nrecs + 1) * sizeof(*w->recs));
        w->recs[w->nrecs++] = (struct range){ start, start + n };
        if (put_record(w->jfd, REC_DATA, buf, 8 + n, NULL, 0) < 0) {
            free(buf);
            return err_set_errno(err, errno, "Could not write the undo journal of '%s'", w->real);
        }
        start += n;
    }
    free(buf);
    return 0;
}

/* The parts of [start, end) not recorded yet are recorded, then marked done. */
static int record_new(struct watched *w, uint64_t start, uint64_t end, struct err *err)
{
    uint64_t pos = start;
    int ret = 0;

    while (pos < end && ret == 0) {
        uint64_t next = end;
        bool covered = false;
        for (size_t i = 0; i < w->ndone; i++) {
            if (w->done[i].start <= pos && pos < w->done[i].end) {
                covered = true;
                next = w->done[i].end;
                break;
            }
            if (w->done[i].start > pos && w->done[i].start < next) {
                next = w->done[i].start;
            }
        }
        next = MIN(next, end);
        if (!covered) {
            ret = record_range(w, pos, next, err);
        }
        pos = next;
    }
    if (ret == 0) {
        w->done = xrealloc(w->done, (w->ndone + 1) * sizeof(*w->done));
        w->done[w->ndone++] = (struct range){ start, end };
    }
    return ret;
}

int undo_before_write(struct file *f, uint64_t off, uint64_t len, struct err *err)
{
    struct watched *w = NULL;
    int ret = 0;

    if ((!undo.n && !undo.all) || !f->real) {
        return 0;
    }
    pthread_mutex_lock(&undo.lock);
    for (size_t i = 0; undo.description && i < undo.n; i++) {
        if (!strcmp(undo.w[i].real, f->real)) {
            w = &undo.w[i];
        }
    }
    if (!w && undo.all && undo.description && !skipped(f->real)) {
        /* a file the session does not hold: journaled all the same */
        undo.w = xrealloc(undo.w, (undo.n + 1) * sizeof(*undo.w));
        undo.w[undo.n] = (struct watched){ .real = xstrdup(f->real), .jfd = -1, .rfd = -1 };
        w = &undo.w[undo.n++];
    }
    if (w && skipped(w->real)) {
        w = NULL;
    }
    if (w && w->jfd < 0) {
        ret = journal_open(w, err);
    }
    if (w && ret == 0 && off < w->orig_len) {
        ret = record_new(w, off, len > UINT64_MAX - off ? UINT64_MAX : off + len, err);
        if (ret == 0 && fdatasync(w->jfd) < 0) {
            ret = err_set_errno(err, errno, "Could not sync the undo journal of '%s'", w->real);
        }
    }
    pthread_mutex_unlock(&undo.lock);
    return ret;
}

/* ------------------------------------------------------------------------ */
/* reading the journal                                                       */

struct jrec {
    uint32_t type;
    uint64_t pos;               /* of the record in the journal */
    uint64_t payload;           /* where its payload starts */
    uint64_t len;
};

/* Every record of the journal at fd (a torn last record is left out). */
static int read_records(int fd, const char *path, struct jrec **out, size_t *n, struct err *err)
{
    struct stat st;
    uint8_t h[16];
    uint64_t pos = JOURNAL_MAGIC_LEN;
    struct jrec *r = NULL;
    char magic[JOURNAL_MAGIC_LEN];

    *n = 0;
    if (fstat(fd, &st) < 0) {
        return err_set_errno(err, errno, "Could not read '%s'", path);
    }
    if (pread(fd, magic, sizeof(magic), 0) != (ssize_t)sizeof(magic) ||
        memcmp(magic, JOURNAL_MAGIC, JOURNAL_MAGIC_LEN)) {
        return err_set(err, -EINVAL, "'%s' is not an imgsh undo journal", path);
    }
    while (pos + 16 <= (uint64_t)st.st_size) {
        uint64_t len;
        if (pread(fd, h, 16, (off_t)pos) != 16 || be32(h) != RECORD_MAGIC) {
            free(r);
            return err_set(err, -EINVAL, "'%s': damaged record at offset %" PRIu64, path, pos);
        }
        len = be64(h + 8);
        if (len > (uint64_t)st.st_size - pos - 16) {
            break;              /* torn by a crash while it was written: never acted upon */
        }
        r = xrealloc(r, (*n + 1) * sizeof(*r));
        r[(*n)++] = (struct jrec){ be32(h + 4), pos, pos + 16, len };
        pos += 16 + len;
    }
    *out = r;
    return 0;
}

static void txn_from(int fd, const struct jrec *r, size_t n, size_t begin, struct undo_txn *t)
{
    uint8_t b[16];
    size_t dlen;

    memset(t, 0, sizeof(*t));
    if (r[begin].len >= 16 && pread(fd, b, 16, (off_t)r[begin].payload) == 16) {
        t->time = be64(b);
        t->orig_len = be64(b + 8);
    }
    dlen = r[begin].len >= 16 ? (size_t)MIN(r[begin].len - 16, 4096u) : 0;
    t->description = xcalloc(1, dlen + 1);
    if (dlen && pread(fd, t->description, dlen, (off_t)r[begin].payload + 16) < 0) {
        t->description[0] = '\0';
    }
    t->new_len = t->orig_len;
    for (size_t i = begin + 1; i < n && r[i].type != REC_BEGIN; i++) {
        if (r[i].type == REC_DATA && r[i].len >= 8) {
            t->records++;
            t->bytes += r[i].len - 8;
        } else if (r[i].type == REC_END && r[i].len >= 8 &&
                   pread(fd, b, 8, (off_t)r[i].payload) == 8) {
            t->complete = true;
            t->new_len = be64(b);
        }
    }
}

void undo_txns_free(struct undo_txn *t, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(t[i].description);
    }
    free(t);
}

int undo_list(const char *image, struct undo_txn **out, size_t *n, struct err *err)
{
    char *path = undo_journal_path(image);
    struct jrec *r = NULL;
    size_t nr = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC), ret = 0;

    *out = NULL;
    *n = 0;
    if (fd < 0) {
        ret = errno == ENOENT ? 0 : err_set_errno(err, errno, "Could not open '%s'", path);
        free(path);
        return ret;
    }
    ret = read_records(fd, path, &r, &nr, err);
    for (size_t i = 0; ret == 0 && i < nr; i++) {
        if (r[i].type == REC_BEGIN) {
            *out = xrealloc(*out, (*n + 1) * sizeof(**out));
            txn_from(fd, r, nr, i, &(*out)[(*n)++]);
        }
    }
    free(r);
    close(fd);
    free(path);
    return ret;
}

/* Does the file still hold what the transaction at begin left (its END fingerprint)? */
static bool same_fingerprint(int jfd, int fd, const struct jrec *r, size_t nr, size_t begin)
{
    struct range *rs = NULL;
    size_t n = 0;
    uint8_t want[32], got[32];
    bool have = false;

    for (size_t i = begin + 1; i < nr && r[i].type != REC_BEGIN; i++) {
        uint8_t o[8];
        if (r[i].type == REC_DATA && r[i].len >= 8 && pread(jfd, o, 8, (off_t)r[i].payload) == 8) {
            rs = xrealloc(rs, (n + 1) * sizeof(*rs));
            rs[n++] = (struct range){ be64(o), be64(o) + r[i].len - 8 };
        } else if (r[i].type == REC_END && r[i].len >= 40 &&
                   pread(jfd, want, 32, (off_t)r[i].payload + 8) == 32) {
            have = true;
        }
    }
    if (have) {
        fingerprint(fd, rs, n, got);
    }
    free(rs);
    return !have || !memcmp(want, got, 32);
}

int undo_last(const char *image, bool force, struct undo_txn *done, struct err *err)
{
    char *path = undo_journal_path(image);
    struct jrec *r = NULL;
    size_t nr = 0, begin = SIZE_MAX;
    int jfd = open(path, O_RDWR | O_CLOEXEC), ret;
    struct file *f = NULL;
    int64_t cur;

    memset(done, 0, sizeof(*done));
    if (jfd < 0) {
        ret = errno == ENOENT ? err_set(err, -ENOENT, "'%s' has no undo journal: nothing to undo",
                                         image)
                              : err_set_errno(err, errno, "Could not open '%s'", path);
        free(path);
        return ret;
    }
    ret = read_records(jfd, path, &r, &nr, err);
    for (size_t i = 0; ret == 0 && i < nr; i++) {
        begin = r[i].type == REC_BEGIN ? i : begin;
    }
    if (ret == 0 && begin == SIZE_MAX) {
        ret = err_set(err, -ENOENT, "'%s' has no undo journal entries: nothing to undo", image);
    }
    if (ret < 0) {
        goto out;
    }
    txn_from(jfd, r, nr, begin, done);
    ret = file_open(&f, image, FILE_RDWR, CACHE_WRITEBACK, err);
    if (ret == 0) {
        ret = file_lock(f, PERM_CONSISTENT_READ | PERM_WRITE | PERM_RESIZE,
                        PERM_WRITE | PERM_RESIZE, err);
    }
    if (ret < 0) {
        goto out;
    }
    cur = file_length(f, err);
    if (cur < 0) {
        ret = (int)cur;
        goto out;
    }
    if (!force && done->complete && !same_fingerprint(jfd, f->fd, r, nr, begin)) {
        ret = err_set(err, -ESTALE, "'%s' changed after '%s' (length %" PRId64 ", was %" PRIu64
                      "): undo would not restore it (--force does it anyway)", image,
                      done->description, cur, done->new_len);
        goto out;
    }
    /* the old bytes, newest record first: each range ends as it was first */
    for (size_t i = nr; ret == 0 && i-- > begin + 1;) {
        uint8_t *buf;
        uint8_t o[8];
        if (r[i].type != REC_DATA || r[i].len < 8) {
            continue;
        }
        buf = xmalloc(r[i].len - 8 + 1);
        if (pread(jfd, o, 8, (off_t)r[i].payload) != 8 ||
            pread(jfd, buf, r[i].len - 8, (off_t)r[i].payload + 8) != (ssize_t)(r[i].len - 8)) {
            ret = err_set(err, -EIO, "Could not read '%s'", path);
        } else if (pwrite(f->fd, buf, r[i].len - 8, (off_t)be64(o)) != (ssize_t)(r[i].len - 8)) {
            ret = err_set_errno(err, errno, "Could not write '%s'", image);
        }
        free(buf);
    }
    if (ret == 0 && (ftruncate(f->fd, (off_t)done->orig_len) < 0 || fsync(f->fd) < 0)) {
        ret = err_set_errno(err, errno, "Could not restore the length of '%s'", image);
    }
    if (ret == 0) {
        /* the transaction is undone: it leaves the journal (and an empty journal goes) */
        if (r[begin].pos <= JOURNAL_MAGIC_LEN) {
            unlink(path);
        } else if (ftruncate(jfd, (off_t)r[begin].pos) < 0 || fsync(jfd) < 0) {
            ret = err_set_errno(err, errno, "Could not update '%s'", path);
        }
    }
out:
    if (f) {
        file_close(f);
    }
    free(r);
    close(jfd);
    free(path);
    return ret;
}
