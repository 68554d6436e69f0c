/*
 * json.h - JSON output in qemu-img's layouts.
 *
 * Commands build a jansson tree (members keep insertion order) and hand it
 * to one of these writers; jansson's own dumper cannot reproduce qemu's
 * spacing or its string escaping (\uXXXX in upper case, non-ASCII escaped,
 * invalid UTF-8 replaced by U+FFFD).
 */
#ifndef IMGSH_JSON_H
#define IMGSH_JSON_H

#include <jansson.h>
#include <stdio.h>

/*
 * Objects are printed in the order qemu's QDict iterates them (by hash
 * bucket, see json_qdict_bucket), whatever order they were built in, so
 * builders add members in qemu's own field order only to settle the rare
 * bucket collisions.
 */
unsigned json_qdict_bucket(const char *key);

/* qemu's pretty layout: 4-space indent, "key": value, newline at the end. */
void json_print_pretty(FILE *f, const json_t *v);
/* Compact layout of qemu's JSON writer: {"a": 1, "b": [1, 2]}. */
void json_print_compact(FILE *f, const json_t *v);
/* A string literal with qemu's escaping, quotes included. */
void json_print_string(FILE *f, const char *s);

/* Shorthands for building trees; they take ownership nowhere but return v. */
json_t *json_obj_set_str(json_t *obj, const char *key, const char *val);
json_t *json_obj_set_int(json_t *obj, const char *key, long long val);
json_t *json_obj_set_bool(json_t *obj, const char *key, int val);

#endif
