/* json.c - qemu-style JSON writers; see json.h. */
#include "json.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/*
 * Decode one UTF-8 sequence at s. Returns the number of bytes used and
 * stores the code point, or U+FFFD for a malformed sequence. Like qemu,
 * the overlong two-byte form C0 80 decodes to U+0000.
 */
static size_t utf8_decode(const unsigned char *s, uint32_t *cp)
{
    unsigned char c = s[0];
    size_t len, i;
    uint32_t v, min;

    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xc0 && c < 0xe0) {
        len = 2; v = c & 0x1f; min = 0x80;
    } else if (c >= 0xe0 && c < 0xf0) {
        len = 3; v = c & 0x0f; min = 0x800;
    } else if (c >= 0xf0 && c < 0xf8) {
        len = 4; v = c & 0x07; min = 0x10000;
    } else if (c >= 0xf8 && c < 0xfc) {
        len = 5; v = c & 0x03; min = 0x200000;      /* never valid: one U+FFFD for all */
    } else if (c >= 0xfc && c < 0xfe) {
        len = 6; v = c & 0x01; min = 0x4000000;
    } else {
        *cp = 0xfffd;
        return 1;
    }
    for (i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            *cp = 0xfffd;
            return i;
        }
        v = v << 6 | (s[i] & 0x3f);
    }
    if (len == 2 && c == 0xc0 && s[1] == 0x80) {
        *cp = 0;
    } else if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff) ||
               (v >= 0xfdd0 && v <= 0xfdef) || (v & 0xfffe) == 0xfffe) {
        /* malformed, overlong, surrogate or noncharacter */
        *cp = 0xfffd;
    } else {
        *cp = v;
    }
    return len;
}

void json_print_string(FILE *f, const char *str)
{
    const unsigned char *s = (const unsigned char *)str;

    fputc('"', f);
    while (*s) {
        uint32_t cp;
        s += utf8_decode(s, &cp);
        switch (cp) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\b': fputs("\\b", f); break;
        case '\f': fputs("\\f", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        default:
            if (cp >= 0x20 && cp < 0x7f) {
                fputc((int)cp, f);
            } else if (cp >= 0x10000) {
                cp -= 0x10000;
                fprintf(f, "\\u%04X\\u%04X", 0xd800 | (cp >> 10), 0xdc00 | (cp & 0x3ff));
            } else {
                fprintf(f, "\\u%04X", cp);
            }
        }
    }
    fputc('"', f);
}

static void print_value(FILE *f, const json_t *v, int level, int pretty);

static void newline_indent(FILE *f, int level, int pretty)
{
    if (pretty) {
        fprintf(f, "\n%*s", level * 4, "");
    }
}

/*
 * qemu keeps objects in a hash table (QDict, 512 buckets) and prints them
 * in bucket order, newest entry first within a bucket. To print members in
 * the same order we compute the same bucket number for each key.
 */
#define QDICT_BUCKETS 512

unsigned json_qdict_bucket(const char *key)
{
    const unsigned char *k = (const unsigned char *)key;
    uint32_t h = 0x238F13AFu * (uint32_t)strlen(key);

    for (unsigned i = 0; k[i]; i++) {
        h += (uint32_t)k[i] << (i * 5 % 24);
    }
    return (1103515243u * h + 12345u) % QDICT_BUCKETS;
}

struct member {
    const char *key;
    json_t *val;
    unsigned bucket;
    size_t seq;
};

static int member_cmp(const void *a, const void *b)
{
    const struct member *x = a, *y = b;

    if (x->bucket != y->bucket) {
        return x->bucket < y->bucket ? -1 : 1;
    }
    return x->seq > y->seq ? -1 : x->seq < y->seq;   /* newest first */
}

static void print_object(FILE *f, const json_t *v, int level, int pretty)
{
    size_t n = json_object_size(v), i = 0;
    struct member *m = calloc(n ? n : 1, sizeof(*m));
    const char *key;
    json_t *val;

    if (!m) {
        abort();
    }
    json_object_foreach((json_t *)v, key, val) {
        m[i].key = key;
        m[i].val = val;
        m[i].bucket = json_qdict_bucket(key);
        m[i].seq = i;
        i++;
    }
    qsort(m, n, sizeof(*m), member_cmp);
    fputc('{', f);
    for (i = 0; i < n; i++) {
        if (i) {
            fputs(pretty ? "," : ", ", f);
        }
        newline_indent(f, level + 1, pretty);
        json_print_string(f, m[i].key);
        fputs(": ", f);
        print_value(f, m[i].val, level + 1, pretty);
    }
    newline_indent(f, level, pretty);
    fputc('}', f);
    free(m);
}

static void print_value(FILE *f, const json_t *v, int level, int pretty)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        print_object(f, v, level, pretty);
        break;
    case JSON_ARRAY: {
        size_t i;
        json_t *val;
        fputc('[', f);
        json_array_foreach(v, i, val) {
            if (i) {
                fputs(pretty ? "," : ", ", f);
            }
            newline_indent(f, level + 1, pretty);
            print_value(f, val, level + 1, pretty);
        }
        newline_indent(f, level, pretty);
        fputc(']', f);
        break;
    }
    case JSON_STRING:
        json_print_string(f, json_string_value(v));
        break;
    case JSON_INTEGER:
        fprintf(f, "%lld", (long long)json_integer_value(v));
        break;
    case JSON_REAL:
        fprintf(f, "%.17g", json_real_value(v));
        break;
    case JSON_TRUE:
        fputs("true", f);
        break;
    case JSON_FALSE:
        fputs("false", f);
        break;
    case JSON_NULL:
        fputs("null", f);
        break;
    }
}

void json_print_pretty(FILE *f, const json_t *v)
{
    print_value(f, v, 0, 1);
    fputc('\n', f);
}

void json_print_compact(FILE *f, const json_t *v)
{
    print_value(f, v, 0, 0);
}

json_t *json_obj_set_str(json_t *obj, const char *key, const char *val)
{
    json_object_set_new(obj, key, json_string_nocheck(val));
    return obj;
}

json_t *json_obj_set_int(json_t *obj, const char *key, long long val)
{
    json_object_set_new(obj, key, json_integer(val));
    return obj;
}

json_t *json_obj_set_bool(json_t *obj, const char *key, int val)
{
    json_object_set_new(obj, key, json_boolean(val));
    return obj;
}
