/*
 * opts.h - option strings as qemu-img parses them: "-o key=value,key2=value2".
 *
 * Syntax: items separated by ','; ",," inside a value stands for one comma
 * (names end at the first ',' or '=', unescaped); "key" alone means key=on
 * and "nokey" alone means key=off; a bare "help" or "?" asks for the
 * option list (it is not kept as an item). A later item overrides an earlier one.
 * Validation against the option descriptions is a separate step, so that an
 * option string can be split first and checked against the merged
 * format + protocol list of a particular image.
 */
#ifndef IMGSH_OPTS_H
#define IMGSH_OPTS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "err.h"

enum opt_type {
    OPT_STRING,
    OPT_BOOL,
    OPT_NUMBER,
    OPT_SIZE,
};

/* One accepted option. Arrays of these end with an entry whose name is NULL. */
struct opt_desc {
    const char *name;
    enum opt_type type;
    const char *help;
    const char *def;        /* default shown in "Formatting ..." lines, or NULL */
};

struct opt {
    char *name;
    char *value;
};

struct opts {
    struct opt *v;
    size_t n, cap;
    bool help;              /* a bare "help" or "?" item was parsed */
};

/* qemu-img's check on each -o argument before accumulating it. */
bool opts_string_valid(const char *s);

/* Split s into items and append them. -EINVAL with a message on bad syntax. */
int opts_parse(struct opts *o, const char *s, struct err *err);
/* true when a parsed string asked for help (a bare "help" or "?"). */
bool opts_has_help(const struct opts *o);

/* Append name=value (copies both). */
void opts_set(struct opts *o, const char *name, const char *value);
/* Last value given for name, or NULL. */
const char *opts_get(const struct opts *o, const char *name);
/* Remove every item called name. */
void opts_del(struct opts *o, const char *name);
void opts_free(struct opts *o);

/* Find a description by name in a NULL-terminated array. */
const struct opt_desc *opt_desc_find(const struct opt_desc *list, const char *name);
/* New array: a then those of b not already in a. Free with free(). */
struct opt_desc *opt_desc_merge(const struct opt_desc *a, const struct opt_desc *b);

/*
 * Check every item's name and value against desc, with qemu's messages
 * ("Invalid parameter 'x'", "Parameter 'x' expects 'on' or 'off'", ...).
 */
int opts_validate(const struct opts *o, const struct opt_desc *desc, struct err *err);

/* Parse one value of the given type; messages name the parameter. */
int opt_parse_bool(const char *name, const char *value, bool *out, struct err *err);
int opt_parse_number(const char *name, const char *value, uint64_t *out, struct err *err);
int opt_parse_size(const char *name, const char *value, uint64_t *out, struct err *err);

/* Typed getters: def when absent; -EINVAL with a message when malformed. */
int opts_get_bool(const struct opts *o, const char *name, bool def, bool *out, struct err *err);
int opts_get_size(const struct opts *o, const char *name, uint64_t def, uint64_t *out,
                  struct err *err);
int opts_get_number(const struct opts *o, const char *name, uint64_t def, uint64_t *out,
                    struct err *err);

/* "  size=<size>            - Virtual disk size" lines, sorted by name. */
void opt_desc_print_help(FILE *f, const struct opt_desc *desc);
/*
 * The "key=value key2=value2" part of qemu-img's "Formatting" line: every
 * described option that is set or has a default, in description order.
 */
void opts_print_values(FILE *f, const struct opts *o, const struct opt_desc *desc);

#endif
