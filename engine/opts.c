/* opts.c - qemu-style option strings; see opts.h. */
#include "opts.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "size.h"
#include "util.h"

bool opts_string_valid(const char *s)
{
    size_t len = strlen(s);
    size_t i = len;

    if (len == 0 || s[0] == ',') {
        return false;
    }
    while (i > 0 && s[i - 1] == ',') {
        i--;
    }
    /* an even run of trailing commas is an escaped comma inside a value */
    return (len - i) % 2 == 0;
}

/*
 * Copy a name (up to the first ',' or '=', no escapes) or a value (up to
 * an unescaped ',', with ",," standing for a comma).
 */
static const char *take_item(const char *p, bool is_name, char **out)
{
    size_t cap = strlen(p) + 1, n = 0;
    char *buf = xmalloc(cap);

    while (*p) {
        if (*p == ',') {
            if (is_name || p[1] != ',') {
                break;
            }
            p++;            /* ",," is one literal comma */
        } else if (is_name && *p == '=') {
            break;
        }
        buf[n++] = *p++;
    }
    buf[n] = '\0';
    *out = buf;
    return p;
}

int opts_parse(struct opts *o, const char *s, struct err *err)
{
    const char *p = s;

    (void)err;
    while (*p) {
        char *name, *value;

        p = take_item(p, true, &name);
        if (*p == '=') {
            p = take_item(p + 1, false, &value);
        } else if (!strcmp(name, "help") || !strcmp(name, "?")) {
            o->help = true;
            free(name);
            if (*p == ',') {
                p++;
            }
            continue;
        } else if (!strncmp(name, "no", 2)) {
            char *rest = xstrdup(name + 2);
            free(name);
            name = rest;
            value = xstrdup("off");
        } else {
            value = xstrdup("on");
        }
        if (o->n == o->cap) {
            o->cap = o->cap ? o->cap * 2 : 8;
            o->v = xrealloc(o->v, o->cap * sizeof(*o->v));
        }
        o->v[o->n].name = name;
        o->v[o->n].value = value;
        o->n++;
        if (*p == ',') {
            p++;
        }
    }
    return 0;
}

bool opts_has_help(const struct opts *o)
{
    return o->help;
}

void opts_set(struct opts *o, const char *name, const char *value)
{
    if (o->n == o->cap) {
        o->cap = o->cap ? o->cap * 2 : 8;
        o->v = xrealloc(o->v, o->cap * sizeof(*o->v));
    }
    o->v[o->n].name = xstrdup(name);
    o->v[o->n].value = xstrdup(value);
    o->n++;
}

const char *opts_get(const struct opts *o, const char *name)
{
    for (size_t i = o->n; i > 0; i--) {
        if (!strcmp(o->v[i - 1].name, name)) {
            return o->v[i - 1].value;
        }
    }
    return NULL;
}

void opts_del(struct opts *o, const char *name)
{
    size_t j = 0;

    for (size_t i = 0; i < o->n; i++) {
        if (!strcmp(o->v[i].name, name)) {
            free(o->v[i].name);
            free(o->v[i].value);
        } else {
            o->v[j++] = o->v[i];
        }
    }
    o->n = j;
}

void opts_free(struct opts *o)
{
    for (size_t i = 0; i < o->n; i++) {
        free(o->v[i].name);
        free(o->v[i].value);
    }
    free(o->v);
    o->v = NULL;
    o->n = o->cap = 0;
    o->help = false;
}

const struct opt_desc *opt_desc_find(const struct opt_desc *list, const char *name)
{
    for (; list && list->name; list++) {
        if (!strcmp(list->name, name)) {
            return list;
        }
    }
    return NULL;
}

static size_t opt_desc_count(const struct opt_desc *d)
{
    size_t n = 0;
    while (d && d[n].name) {
        n++;
    }
    return n;
}

struct opt_desc *opt_desc_merge(const struct opt_desc *a, const struct opt_desc *b)
{
    size_t na = opt_desc_count(a), nb = opt_desc_count(b), n = 0;
    struct opt_desc *m = xcalloc(na + nb + 1, sizeof(*m));

    for (size_t i = 0; i < na; i++) {
        m[n++] = a[i];
    }
    for (size_t i = 0; i < nb; i++) {
        if (!opt_desc_find(a, b[i].name)) {
            m[n++] = b[i];
        }
    }
    return m;
}

int opt_parse_bool(const char *name, const char *value, bool *out, struct err *err)
{
    static const char *const yes[] = { "on", "yes", "true", "y" };
    static const char *const no[] = { "off", "no", "false", "n" };

    for (size_t i = 0; i < 4; i++) {
        if (!strcmp(value, yes[i])) {
            *out = true;
            return 0;
        }
        if (!strcmp(value, no[i])) {
            *out = false;
            return 0;
        }
    }
    return err_set(err, -EINVAL, "Parameter '%s' expects 'on' or 'off'", name);
}

int opt_parse_number(const char *name, const char *value, uint64_t *out, struct err *err)
{
    char *end;
    unsigned long long v;

    /* like qemu, a leading '-' is accepted and wraps around */
    errno = 0;
    v = strtoull(value, &end, 0);
    if (end == value || *end) {
        return err_set(err, -EINVAL, "Parameter '%s' expects a number", name);
    }
    if (errno == ERANGE) {
        return err_set(err, -ERANGE, "Value '%s' is too large for parameter '%s'", value, name);
    }
    *out = v;
    return 0;
}

int opt_parse_size(const char *name, const char *value, uint64_t *out, struct err *err)
{
    int ret = size_parse(value, out);

    if (ret == -ERANGE) {
        return err_set(err, ret, "Value '%s' is out of range for parameter '%s'", value, name);
    }
    if (ret < 0) {
        return err_set(err, ret,
                       "Parameter '%s' expects a non-negative number below 2^64\n"
                       "Optional suffix k, M, G, T, P or E means kilo-, mega-, giga-, tera-, peta-\n"
                       "and exabytes, respectively.", name);
    }
    return 0;
}

/* Check one value against its type. */
static int opt_check(const struct opt_desc *d, const char *value, struct err *err)
{
    bool b;
    uint64_t u;

    switch (d->type) {
    case OPT_BOOL:
        return opt_parse_bool(d->name, value, &b, err);
    case OPT_NUMBER:
        return opt_parse_number(d->name, value, &u, err);
    case OPT_SIZE:
        return opt_parse_size(d->name, value, &u, err);
    case OPT_STRING:
        break;
    }
    return 0;
}

int opts_validate(const struct opts *o, const struct opt_desc *desc, struct err *err)
{
    for (size_t i = 0; i < o->n; i++) {
        const struct opt_desc *d = opt_desc_find(desc, o->v[i].name);
        int ret;

        if (!d) {
            return err_set(err, -EINVAL, "Invalid parameter '%s'", o->v[i].name);
        }
        ret = opt_check(d, o->v[i].value, err);
        if (ret < 0) {
            return ret;
        }
    }
    return 0;
}

int opts_get_bool(const struct opts *o, const char *name, bool def, bool *out, struct err *err)
{
    const char *v = opts_get(o, name);

    if (!v) {
        *out = def;
        return 0;
    }
    return opt_parse_bool(name, v, out, err);
}

int opts_get_size(const struct opts *o, const char *name, uint64_t def, uint64_t *out,
                  struct err *err)
{
    const char *v = opts_get(o, name);

    if (!v) {
        *out = def;
        return 0;
    }
    return opt_parse_size(name, v, out, err);
}

int opts_get_number(const struct opts *o, const char *name, uint64_t def, uint64_t *out,
                    struct err *err)
{
    const char *v = opts_get(o, name);

    if (!v) {
        *out = def;
        return 0;
    }
    return opt_parse_number(name, v, out, err);
}

static const char *opt_type_name(enum opt_type t)
{
    switch (t) {
    case OPT_BOOL: return "bool (on/off)";
    case OPT_NUMBER: return "num";
    case OPT_SIZE: return "size";
    case OPT_STRING: break;
    }
    return "str";
}

static int desc_cmp(const void *a, const void *b)
{
    const struct opt_desc *const *x = a, *const *y = b;
    return strcmp((*x)->name, (*y)->name);
}

void opt_desc_print_help(FILE *f, const struct opt_desc *desc)
{
    size_t n = opt_desc_count(desc);
    const struct opt_desc **sorted = xcalloc(n ? n : 1, sizeof(*sorted));

    for (size_t i = 0; i < n; i++) {
        sorted[i] = &desc[i];
    }
    qsort(sorted, n, sizeof(*sorted), desc_cmp);
    for (size_t i = 0; i < n; i++) {
        char left[128];
        snprintf(left, sizeof(left), "%s=<%s>", sorted[i]->name, opt_type_name(sorted[i]->type));
        if (sorted[i]->help) {
            fprintf(f, "  %-22s - %s\n", left, sorted[i]->help);
        } else {
            fprintf(f, "  %s\n", left);
        }
    }
    free(sorted);
}

void opts_print_values(FILE *f, const struct opts *o, const struct opt_desc *desc)
{
    bool first = true;

    for (; desc && desc->name; desc++) {
        const char *v = opts_get(o, desc->name);
        const char *shown = v ? v : desc->def;

        if (!shown) {
            continue;
        }
        fputs(first ? "" : " ", f);
        first = false;
        if (desc->type == OPT_STRING) {
            fprintf(f, "%s=", desc->name);
            for (const char *c = shown; *c; c++) {
                fputs(*c == ',' ? ",," : (char[2]){ *c, 0 }, f);
            }
        } else if (v && (desc->type == OPT_SIZE || desc->type == OPT_NUMBER)) {
            uint64_t u = 0;
            if (desc->type == OPT_SIZE) {
                size_parse_quiet(v, &u, false);
            } else {
                opt_parse_number(desc->name, v, &u, NULL);
            }
            fprintf(f, "%s=%" PRId64, desc->name, (int64_t)u);
        } else {
            fprintf(f, "%s=%s", desc->name, shown);
        }
    }
}
