/* lex.c - splitting a command line into words, as a POSIX shell quotes them; see shell.h. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/util.h"
#include "shell.h"

struct buf {
    char *p;
    size_t len, cap;
};

static void put(struct buf *b, char c)
{
    if (b->len + 1 >= b->cap) {
        b->cap = b->cap ? b->cap * 2 : 64;
        b->p = xrealloc(b->p, b->cap);
    }
    b->p[b->len++] = c;
    b->p[b->len] = '\0';
}

static void put_str(struct buf *b, const char *s)
{
    while (*s) {
        put(b, *s++);
    }
}

static bool name_char(char c, bool first)
{
    return c == '_' || isalpha((unsigned char)c) || (!first && isdigit((unsigned char)c));
}

/* The value of variable name (len bytes) in s; "" when unset. */
static void expand(struct buf *b, const char *name, size_t len, const struct session *s)
{
    char num[16];

    if (len == 6 && !strncmp(name, "status", 6)) {
        snprintf(num, sizeof(num), "%d", s ? s->status : 0);
        put_str(b, num);
    } else if (len == 5 && !strncmp(name, "image", 5)) {
        if (s && s->current >= 0) {
            put_str(b, s->images[s->current].name);
        }
    }
}

/*
 * The $ at *pp: expand $NAME or ${NAME} into b and advance past it. A $
 * not followed by a name is kept as it is. Returns -1 with *errmsg set on
 * "${" without a name and its "}".
 */
static int dollar(struct buf *b, const char **pp, const struct session *s, const char **errmsg)
{
    const char *p = *pp + 1, *start;

    if (*p == '{') {
        start = ++p;
        while (name_char(*p, p == start)) {
            p++;
        }
        if (*p != '}' || p == start) {
            *errmsg = "bad variable substitution";
            return -1;
        }
        expand(b, start, (size_t)(p - start), s);
        *pp = p + 1;
        return 0;
    }
    if (!name_char(*p, true)) {
        put(b, '$');
        *pp = p;
        return 0;
    }
    start = p;
    while (name_char(*p, false)) {
        p++;
    }
    expand(b, start, (size_t)(p - start), s);
    *pp = p;
    return 0;
}

void words_free(char **argv)
{
    for (size_t i = 0; argv && argv[i]; i++) {
        free(argv[i]);
    }
    free(argv);
}

int words_split(const char *line, const struct session *s, char ***out, const char **errmsg)
{
    char **argv = xcalloc(1, sizeof(*argv));
    int argc = 0;
    const char *p = line;

    for (;;) {
        struct buf w = { 0 };
        bool have = false;

        while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') {
            p++;
        }
        if (!*p || *p == '#') {
            break;
        }
        while (*p && *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
            have = true;
            if (*p == '\\') {
                p++;
                if (*p == '\n') {
                    p++;            /* continuation */
                } else if (*p) {
                    put(&w, *p++);
                }
            } else if (*p == '\'') {
                const char *end = strchr(p + 1, '\'');
                if (!end) {
                    *errmsg = "unterminated single quote";
                    goto fail_word;
                }
                for (p++; p < end; p++) {
                    put(&w, *p);
                }
                p++;
            } else if (*p == '"') {
                for (p++; *p && *p != '"';) {
                    if (*p == '\\' && p[1] && strchr("\\\"$`\n", p[1])) {
                        if (p[1] != '\n') {
                            put(&w, p[1]);
                        }
                        p += 2;
                    } else if (*p == '$') {
                        if (dollar(&w, &p, s, errmsg) < 0) {
                            goto fail_word;
                        }
                    } else {
                        put(&w, *p++);
                    }
                }
                if (*p != '"') {
                    *errmsg = "unterminated double quote";
                    goto fail_word;
                }
                p++;
            } else if (*p != '$') {
                put(&w, *p++);
            } else if (dollar(&w, &p, s, errmsg) < 0) {
                goto fail_word;
            }
        }
        if (have) {
            argv = xrealloc(argv, (size_t)(argc + 2) * sizeof(*argv));
            argv[argc++] = w.p ? w.p : xstrdup("");
            argv[argc] = NULL;
        }
        continue;
fail_word:
        free(w.p);
        words_free(argv);
        *out = NULL;
        return -1;
    }
    *out = argv;
    return argc;
}

bool line_continues(const char *line)
{
    size_t n = strlen(line), k = 0;

    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) {
        n--;
    }
    while (k < n && line[n - 1 - k] == '\\') {
        k++;
    }
    return k % 2 == 1;
}
