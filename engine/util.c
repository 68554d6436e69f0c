/* util.c - see util.h. */
#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void oom(size_t n)
{
    fprintf(stderr, "imgsh: out of memory allocating %zu bytes\n", n);
    abort();
}

void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        oom(n);
    }
    return p;
}

void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) {
        oom(n * size);
    }
    return p;
}

void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p) {
        oom(n);
    }
    return p;
}

char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    return memcpy(xmalloc(n), s, n);
}

char *xasprintf(const char *fmt, ...)
{
    va_list ap;
    int n;
    char *s;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    s = xmalloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

bool buf_is_zero(const void *buf, size_t len)
{
    const unsigned char *p = buf;
    size_t i = 0;

    /* check the head byte-wise, then compare the buffer with itself shifted */
    for (; i < len && i < 16; i++) {
        if (p[i]) {
            return false;
        }
    }
    return len <= 16 || memcmp(p, p + 16, len - 16) == 0;
}

void *xmalloc_io(size_t n)
{
    void *p = NULL;

    if (posix_memalign(&p, 4096, n ? n : 1)) {
        fprintf(stderr, "imgsh: out of memory allocating %zu bytes\n", n);
        abort();
    }
    return p;
}
