/* err.c - the error object; see err.h for the conventions. */
#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *prog_name = "imgsh";

static void err_vset(struct err *e, int code, const char *fmt, va_list ap)
{
    e->code = code;
    e->set = true;
    vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
}

int err_set(struct err *e, int code, const char *fmt, ...)
{
    if (e) {
        va_list ap;
        va_start(ap, fmt);
        err_vset(e, code, fmt, ap);
        va_end(ap);
    }
    return code;
}

int err_set_errno(struct err *e, int errnum, const char *fmt, ...)
{
    if (errnum < 0) {
        errnum = -errnum;
    }
    if (e) {
        va_list ap;
        size_t n;
        va_start(ap, fmt);
        err_vset(e, -errnum, fmt, ap);
        va_end(ap);
        n = strlen(e->msg);
        snprintf(e->msg + n, sizeof(e->msg) - n, ": %s", strerror(errnum));
    }
    return -errnum;
}

void err_prepend(struct err *e, const char *fmt, ...)
{
    char prefix[ERR_MSG_MAX];
    char old[ERR_MSG_MAX];
    va_list ap;

    if (!e || !e->set) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    memcpy(old, e->msg, sizeof(old));
    {
        size_t n = strlen(prefix);
        if (n >= sizeof(e->msg)) {
            n = sizeof(e->msg) - 1;
        }
        memcpy(e->msg, prefix, n);
        e->msg[n] = '\0';
        strncat(e->msg, old, sizeof(e->msg) - n - 1);
    }
}

void err_clear(struct err *e)
{
    if (e) {
        e->code = 0;
        e->set = false;
        e->msg[0] = '\0';
    }
}

void err_report(const struct err *e)
{
    if (e && e->set) {
        fflush(stdout);
        fprintf(stderr, "%s: %s\n", prog_name, e->msg);
    }
}

void error_printf(const char *fmt, ...)
{
    va_list ap;
    fflush(stdout);
    fprintf(stderr, "%s: ", prog_name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

void warn_printf(const char *fmt, ...)
{
    va_list ap;
    fflush(stdout);
    fprintf(stderr, "%s: warning: ", prog_name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}
