/*
 * shell.h - the imgsh session: images opened into it, the current image,
 * and the command language shared by the interactive shell, scripts
 * (imgsh -f FILE, or commands on standard input) and one-shot commands
 * (imgsh -c CMD).
 *
 * A line is split into words as a POSIX shell splits them (lex.c): blanks
 * separate words, '...' quotes literally, "..." quotes with \ escapes for
 * \ " $ ` and newline, a backslash outside quotes escapes the next
 * character, # starts a comment at the start of a word, $NAME and ${NAME}
 * expand variables ($status: the last command's exit status, $image: the
 * current image's name). A line ending in a backslash continues on the
 * next one.
 *
 * The first word names a session command (open, close, images, use,
 * reopen, set, echo, source, help, exit), a qemu-img command from the
 * command table (engine/cmdtable.c; the current image is used when the
 * command's image argument is left out), or a qemu-io data command (read,
 * write, discard, alloc, map, length, truncate, flush) run on the current
 * image.
 */
#ifndef IMGSH_SHELL_H
#define IMGSH_SHELL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "../engine/block.h"
#include "../engine/cmd.h"

struct session_image {
    char *name;                 /* what commands call it (the file name, or "as NAME") */
    char *filename;
    char *fmt;                  /* the format asked for, or NULL: probed */
    bool rw;                    /* open read-write */
    bool force_share;           /* -U: no locks */
    struct image *img;          /* NULL while a command has it closed */
};

struct session {
    struct cmd_ctx ctx;
    struct session_image *images;
    size_t nimages;
    long current;               /* index into images, -1: none */
    bool errexit;               /* stop at the first failing command */
    bool json;                  /* --json: every command prints one JSON value */
    bool interactive;
    bool exit_requested;
    int exit_status;            /* of "exit N" */
    int status;                 /* $status: the last command's */
    int first_failure;          /* the first non-zero status, 0 while none */
    const char *where;          /* script name for messages ("-c", "<stdin>", FILE) */
    unsigned line;              /* line number there */
    int depth;                  /* source nesting */
    FILE *log;                  /* "log FILE": commands and output recorded there */
    struct edit *edits;         /* staged by "set header|l1|l2|refcount" and "feature" */
    size_t nedits;
};

/* A staged change of up to 8 bytes of one image file. */
struct edit {
    char *filename;
    uint64_t offset;
    unsigned len;
    uint8_t old[8], new[8];
    char *why;
};

/* lex.c */
/*
 * Split line into words (variables expanded from s), the way described
 * above. Returns the number of words (0 for a blank or comment line) with
 * *argv a NULL-terminated array (free with words_free), or -1 with *errmsg
 * set (static text) on a syntax error.
 */
int words_split(const char *line, const struct session *s, char ***argv, const char **errmsg);
void words_free(char **argv);
/* Does the line end in an unescaped backslash (it continues on the next)? */
bool line_continues(const char *line);

/* session.c */
void session_init(struct session *s, bool interactive);
void session_free(struct session *s);
/*
 * Open filename into the session (as name when not NULL). Prints the
 * error and returns 1 on failure.
 */
int session_open(struct session *s, const char *filename, const char *fmt, bool rw,
                 bool force_share, const char *name);
/*
 * The same from a qemu option string (--image-opts): "driver" (the
 * format), "file.filename" or "filename", "read-only" and "force-share"
 * (on/off) are understood; anything else is refused.
 */
int session_open_opts(struct session *s, const char *optstr, bool rw, bool force_share);
/* Run one logical line; returns its status (also in s->status). */
int session_run_line(struct session *s, const char *line);
/*
 * Replay the commands in f (name for messages) until its end, an "exit",
 * or with errexit the first failing command. Returns the status as the
 * session's exit status: 0, or the first failing command's status.
 */
int session_run_file(struct session *s, FILE *f, const char *name);
/* The synopsis of session command name ("[-f fmt] [-w|-r] ..."), or NULL. */
const char *session_cmd_synopsis(const char *name);
/* The exit status of the whole session so far. */
int session_exit_status(const struct session *s);
/* "FILE:LINE: message" (or "imgsh: message") on stderr. */
void say_error(const struct session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Close the images' handles before a command opens them itself; open them again after. */
void close_handles(struct session *s);
void reopen_handles(struct session *s);
/* The index of the open image called name, or -1. */
long find_image_name(const struct session *s, const char *name);
/* The image argv[at] names (the current one when argc == at), or -1 after an error. */
long image_arg(struct session *s, int argc, char **argv, int at);

/* edit.c: staged edits, commit, rollback, undo */
int sc_undo(struct session *s, int argc, char **argv);
int sc_pending(struct session *s, int argc, char **argv);
int sc_rollback(struct session *s, int argc, char **argv);
/* "commit": the staged edits when there are some and no arguments, else qemu-img's commit. */
int sc_commit(struct session *s, int argc, char **argv, int (*qemu_commit)(struct session *, int,
                                                                            char **));
int sc_feature(struct session *s, int argc, char **argv);
/* "set header|l1|l2|refcount ...": stage an edit. */
int edit_set(struct session *s, int argc, char **argv);
void edits_free(struct session *s);

#endif
