/*
 * undo.h - the undo journal: before the shell writes to an image it
 * watches, the bytes about to be overwritten are appended to
 * IMAGE.imgsh-undo (and fsynced) so that "undo" can put them back, in this
 * session or a later one.
 *
 * A transaction is one shell command (undo_begin/undo_end). Within it the
 * file layer calls undo_before_write() before every write, zeroing or
 * truncation of a file opened read-write; for a watched file the first
 * call opens the journal and records the file's length, and every call
 * records the old bytes of the range (those below the original length, and
 * each byte once). undo_last() restores the newest transaction: the old
 * bytes in reverse order, then the original length.
 *
 * Journal layout (big-endian): "IMGSH-UNDO-1\n", then records
 * {u32 magic "IUR1", u32 type, u64 payload length, payload}:
 *   1 BEGIN  u64 time (s), u64 original length, the command line
 *   2 DATA   u64 offset, the old bytes
 *   3 END    u64 length after the command
 */
#ifndef IMGSH_UNDO_H
#define IMGSH_UNDO_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"
#include "file.h"

/* Journal writes to filename (a session's image) from now on. */
void undo_watch(const char *filename);
void undo_unwatch(const char *filename);
/*
 * From now on journal every existing file a command writes, not only the
 * watched ones (a session: "every write made from the shell"); files the
 * command creates (undo_created) and scratch files (undo_ignore) excepted.
 */
void undo_watch_all(bool on);
/* filename was created by the running command (nothing of it to restore). */
void undo_created(const char *filename);
/* Never journal filename in the running command (a scratch copy). */
void undo_ignore(const char *filename);
/* A command starts (description: its line) or ends; journals are closed at the end. */
void undo_begin(const char *description);
void undo_end(void);
/* Called by the file layer before it changes [off, off + len) of f. */
int undo_before_write(struct file *f, uint64_t off, uint64_t len, struct err *err);

/* The journal's name for an image (free it). */
char *undo_journal_path(const char *image);

struct undo_txn {
    uint64_t time;
    uint64_t orig_len, new_len;
    bool complete;              /* its END record was written */
    uint64_t records, bytes;    /* DATA records and old bytes */
    char *description;
};
/* The transactions in the image's journal, oldest first (none: *n = 0). */
int undo_list(const char *image, struct undo_txn **out, size_t *n, struct err *err);
void undo_txns_free(struct undo_txn *t, size_t n);
/*
 * Restore the newest transaction and drop it from the journal (removed
 * when empty). Refused when the file's length is not what the transaction
 * left, unless force. *done describes it (free its description).
 */
int undo_last(const char *image, bool force, struct undo_txn *done, struct err *err);

#endif
