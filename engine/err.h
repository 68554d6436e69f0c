/*
 * err.h - the one error object carried up the call chain.
 *
 * Conventions (after QEMU's Error **errp):
 *  - a struct err * is the last parameter; callers may pass NULL;
 *  - on success a callee leaves it untouched;
 *  - functions also return a value telling success from failure
 *    (0 / negative errno, pointer / NULL, true / false);
 *  - a message is printed once, at the top, by err_report().
 *
 * Messages of commands that mimic qemu-img copy its wording exactly.
 * Our own messages follow git's rules: no full stop, lowercase first word,
 * the subject in quotes.
 */
#ifndef IMGSH_ERR_H
#define IMGSH_ERR_H

#include <stdbool.h>

#define ERR_MSG_MAX 1024

struct err {
    int code;               /* negative errno, or 0 when unset */
    bool set;
    char msg[ERR_MSG_MAX];
};

#define ERR_PRINTF(a, b) __attribute__((format(printf, a, b)))

/* Set the error (if e is non-NULL) and return code, which should be < 0. */
int err_set(struct err *e, int code, const char *fmt, ...) ERR_PRINTF(3, 4);
/* Like err_set with code -errnum, appending ": strerror(errnum)". */
int err_set_errno(struct err *e, int errnum, const char *fmt, ...) ERR_PRINTF(3, 4);
/* Put "prefix" in front of an error that is already set. */
void err_prepend(struct err *e, const char *fmt, ...) ERR_PRINTF(2, 3);
void err_clear(struct err *e);
static inline bool err_isset(const struct err *e) { return e && e->set; }

/* The program name errors and warnings are prefixed with ("imgsh", "qemu-img"). */
extern const char *prog_name;

/* Print "<prog>: <msg>\n" on stderr. */
void err_report(const struct err *e);
/* Print "<prog>: <formatted>\n" on stderr. */
void error_printf(const char *fmt, ...) ERR_PRINTF(1, 2);
/* Print "<prog>: warning: <formatted>\n" on stderr. */
void warn_printf(const char *fmt, ...) ERR_PRINTF(1, 2);

#endif
