/*
 * test_json.c - unit tests for engine/json.h, qemu's JSON layouts.
 *
 * Test plan:
 *  - json_print_string: qemu's escaping as `qemu-img info --output=json`
 *    shows odd filenames: \" \\ \b \f \n \r \t short escapes, other
 *    control characters, DEL and every non-ASCII character as upper-case
 *    \uXXXX, astral characters as surrogate pairs, '/' unescaped, invalid
 *    UTF-8 (stray continuation bytes, truncated, overlong, surrogates,
 *    beyond U+10FFFF) as \uFFFD, and the overlong C0 80 as \u0000.
 *  - json_qdict_bucket: qemu's QDict bucket numbers for known keys.
 *  - json_print_pretty: members in QDict hash order whatever the insertion
 *    order, 4-space indent per level, nested arrays/objects, trailing
 *    newline; a whole `qemu-img info --output=json` document of a
 *    qcow2 image with a snapshot rebuilt in alphabetical order prints
 *    byte for byte as qemu-img printed it.
 *  - json_print_compact: qemu's one-line layout, as in a "json:{...}"
 *    filename printed by qemu-img info.
 *  - json_obj_set_* helpers build the expected members.
 * Every expected output was produced by qemu-img 7.2 on this machine.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../engine/json.h"

/* What fn(f, arg) printed, as a malloc'd string. */
static char *capture_string(const char *s)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    assert_non_null(f);
    json_print_string(f, s);
    assert_int_equal(fclose(f), 0);
    return buf;
}

static char *capture_json(const json_t *v, int pretty)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    assert_non_null(f);
    if (pretty) {
        json_print_pretty(f, v);
    } else {
        json_print_compact(f, v);
    }
    assert_int_equal(fclose(f), 0);
    return buf;
}

static void check_string(const char *in, const char *want)
{
    char *out = capture_string(in);

    assert_string_equal(out, want);
    free(out);
}

static void test_string_plain(void **state)
{
    (void)state;
    check_string("", "\"\"");
    check_string("a.raw", "\"a.raw\"");
    check_string("/tmp/dir/x y.img", "\"/tmp/dir/x y.img\"");   /* '/' not escaped */
    check_string("a/\x1f~", "\"a/\\u001F~\"");
}

static void test_string_escapes(void **state)
{
    (void)state;
    /* the \n is a literal backslash followed by n in the filename */
    check_string("we\"ird\\nam\te\x01\xc3\xa9\x7f.raw",
                 "\"we\\\"ird\\\\nam\\te\\u0001\\u00E9\\u007F.raw\"");
    check_string("x\b\f\r\xf0\x9f\x98\x80", "\"x\\b\\f\\r\\uD83D\\uDE00\"");
    check_string("a/x\ny z", "\"a/x\\ny z\"");
    check_string("a/\xc2\x80", "\"a/\\u0080\"");
    check_string("a/\xe2\x82\xac", "\"a/\\u20AC\"");
    check_string("a/\xf0\x90\x80\x80", "\"a/\\uD800\\uDC00\"");
}

static void test_string_invalid_utf8(void **state)
{
    (void)state;
    check_string("b\x80" "c\xc3", "\"b\\uFFFDc\\uFFFD\"");
    check_string("d\xc0\x80" "e\xed\xa0\x80", "\"d\\u0000e\\uFFFD\"");
    check_string("a/\x80\x80", "\"a/\\uFFFD\\uFFFD\"");              /* stray continuations */
    check_string("a/\xe2\x82", "\"a/\\uFFFD\"");                     /* truncated at the end */
    check_string("a/\xe2\x82x", "\"a/\\uFFFDx\"");                   /* truncated */
    check_string("a/\xe2\x82\xe2\x82\xac", "\"a/\\uFFFD\\u20AC\"");   /* truncated, then valid */
    check_string("a/\xc3\xc3\xa9", "\"a/\\uFFFD\\u00E9\"");
    check_string("a/\xc1\xbf", "\"a/\\uFFFD\"");                     /* overlong 2 bytes */
    check_string("a/\xc0\x81", "\"a/\\uFFFD\"");
    check_string("a/\xe0\x80\x80", "\"a/\\uFFFD\"");                 /* overlong 3 bytes */
    check_string("a/\xf0\x80\x80\x80", "\"a/\\uFFFD\"");             /* overlong 4 bytes */
    check_string("a/\xf4\x90\x80\x80", "\"a/\\uFFFD\"");             /* above U+10FFFF */
    check_string("a/\xed\xa0\x80\xed\xb0\x80", "\"a/\\uFFFD\\uFFFD\""); /* CESU surrogates */
    check_string("a/\xf0\x9f\x98", "\"a/\\uFFFD\"");
    check_string("a/\xff\xfe", "\"a/\\uFFFD\\uFFFD\"");
    check_string("a/\xfe", "\"a/\\uFFFD\"");
    check_string("a/\xc0", "\"a/\\uFFFD\"");
}

static void test_bucket(void **state)
{
    (void)state;
    assert_int_equal(json_qdict_bucket("type"), 425);
    assert_int_equal(json_qdict_bucket("data"), 505);
    assert_int_equal(json_qdict_bucket("snapshots"), 263);
    assert_int_equal(json_qdict_bucket("dirty-flag"), 501);
    /* the order qemu-img info prints these in */
    assert_true(json_qdict_bucket("virtual-size") < json_qdict_bucket("filename"));
    assert_true(json_qdict_bucket("filename") < json_qdict_bucket("format"));
    assert_true(json_qdict_bucket("format") < json_qdict_bucket("actual-size"));
    assert_true(json_qdict_bucket("actual-size") < json_qdict_bucket("dirty-flag"));
    /* always a bucket of a 512-entry table */
    assert_true(json_qdict_bucket("") < 512);
    assert_true(json_qdict_bucket("a-rather-long-key-name-to-shift-bits-around") < 512);
}

static json_t *raw_info(void)
{
    json_t *o = json_object();

    /* inserted in an order unlike the printed one */
    json_obj_set_str(o, "filename", "a.raw");
    json_obj_set_str(o, "format", "raw");
    json_obj_set_bool(o, "dirty-flag", 0);
    json_obj_set_int(o, "actual-size", 69632);
    json_obj_set_int(o, "virtual-size", 10485760);
    return o;
}

static const char RAW_INFO[] =
    "{\n"
    "    \"virtual-size\": 10485760,\n"
    "    \"filename\": \"a.raw\",\n"
    "    \"format\": \"raw\",\n"
    "    \"actual-size\": 69632,\n"
    "    \"dirty-flag\": false\n"
    "}\n";

static void test_pretty_info(void **state)
{
    json_t *o = raw_info();
    char *out;

    (void)state;
    out = capture_json(o, 1);
    assert_string_equal(out, RAW_INFO);
    free(out);
    json_decref(o);

    /* the reverse insertion order prints the same */
    o = json_object();
    json_obj_set_int(o, "virtual-size", 10485760);
    json_obj_set_int(o, "actual-size", 69632);
    json_obj_set_bool(o, "dirty-flag", 0);
    json_obj_set_str(o, "format", "raw");
    json_obj_set_str(o, "filename", "a.raw");
    out = capture_json(o, 1);
    assert_string_equal(out, RAW_INFO);
    free(out);
    json_decref(o);
}

static void test_pretty_backing_chain(void **state)
{
    json_t *a = json_array();
    char *out;

    (void)state;
    json_array_append_new(a, raw_info());
    out = capture_json(a, 1);
    /* qemu-img info --output=json --backing-chain a.raw */
    assert_string_equal(out,
                        "[\n"
                        "    {\n"
                        "        \"virtual-size\": 10485760,\n"
                        "        \"filename\": \"a.raw\",\n"
                        "        \"format\": \"raw\",\n"
                        "        \"actual-size\": 69632,\n"
                        "        \"dirty-flag\": false\n"
                        "    }\n"
                        "]\n");
    free(out);
    json_decref(a);
}

static void test_pretty_nesting(void **state)
{
    json_t *a = json_array();
    json_t *o = json_object();
    char *out;

    (void)state;
    json_obj_set_int(o, "a", 1);
    json_array_append_new(a, o);
    out = capture_json(a, 1);
    assert_string_equal(out, "[\n    {\n        \"a\": 1\n    }\n]\n");
    free(out);
    json_decref(a);
}

/* `qemu-img info --output=json b.qcow2` for a 1 MiB qcow2 with one snapshot */
static const char QCOW2_INFO[] =
    "{\n"
    "    \"snapshots\": [\n"
    "        {\n"
    "            \"icount\": 0,\n"
    "            \"vm-clock-nsec\": 0,\n"
    "            \"name\": \"snap1\",\n"
    "            \"date-sec\": 1795555320,\n"
    "            \"date-nsec\": 298155000,\n"
    "            \"vm-clock-sec\": 0,\n"
    "            \"id\": \"1\",\n"
    "            \"vm-state-size\": 0\n"
    "        }\n"
    "    ],\n"
    "    \"virtual-size\": 1048576,\n"
    "    \"filename\": \"b.qcow2\",\n"
    "    \"cluster-size\": 65536,\n"
    "    \"format\": \"qcow2\",\n"
    "    \"actual-size\": 208896,\n"
    "    \"format-specific\": {\n"
    "        \"type\": \"qcow2\",\n"
    "        \"data\": {\n"
    "            \"compat\": \"1.1\",\n"
    "            \"compression-type\": \"zlib\",\n"
    "            \"lazy-refcounts\": false,\n"
    "            \"refcount-bits\": 16,\n"
    "            \"corrupt\": false,\n"
    "            \"extended-l2\": false\n"
    "        }\n"
    "    },\n"
    "    \"dirty-flag\": false\n"
    "}\n";

static void test_pretty_qcow2_info(void **state)
{
    json_t *root = json_object(), *snaps = json_array(), *snap = json_object();
    json_t *spec = json_object(), *data = json_object();
    char *out;

    (void)state;
    /* every object built in alphabetical order */
    json_obj_set_int(snap, "date-nsec", 298155000);
    json_obj_set_int(snap, "date-sec", 1795555320);
    json_obj_set_int(snap, "icount", 0);
    json_obj_set_str(snap, "id", "1");
    json_obj_set_str(snap, "name", "snap1");
    json_obj_set_int(snap, "vm-clock-nsec", 0);
    json_obj_set_int(snap, "vm-clock-sec", 0);
    json_obj_set_int(snap, "vm-state-size", 0);
    json_array_append_new(snaps, snap);

    json_obj_set_str(data, "compat", "1.1");
    json_obj_set_str(data, "compression-type", "zlib");
    json_obj_set_bool(data, "corrupt", 0);
    json_obj_set_bool(data, "extended-l2", 0);
    json_obj_set_bool(data, "lazy-refcounts", 0);
    json_obj_set_int(data, "refcount-bits", 16);
    json_object_set_new(spec, "data", data);
    json_obj_set_str(spec, "type", "qcow2");

    json_obj_set_int(root, "actual-size", 208896);
    json_obj_set_int(root, "cluster-size", 65536);
    json_obj_set_bool(root, "dirty-flag", 0);
    json_obj_set_str(root, "filename", "b.qcow2");
    json_obj_set_str(root, "format", "qcow2");
    json_object_set_new(root, "format-specific", spec);
    json_object_set_new(root, "snapshots", snaps);
    json_obj_set_int(root, "virtual-size", 1048576);

    out = capture_json(root, 1);
    assert_string_equal(out, QCOW2_INFO);
    free(out);
    json_decref(root);
}

static void test_compact(void **state)
{
    json_t *o = json_object(), *file = json_object();
    char *out;

    (void)state;
    /* the filename qemu-img info shows for
     * --image-opts driver=raw,file.driver=file,file.filename=a.raw,offset=512 */
    json_obj_set_str(file, "filename", "a.raw");
    json_obj_set_str(file, "driver", "file");
    json_object_set_new(o, "file", file);
    json_obj_set_str(o, "driver", "raw");
    json_obj_set_str(o, "offset", "512");
    out = capture_json(o, 0);
    assert_string_equal(out,
        "{\"offset\": \"512\", \"driver\": \"raw\", "
        "\"file\": {\"driver\": \"file\", \"filename\": \"a.raw\"}}");
    free(out);
    json_decref(o);
}

static void test_obj_helpers(void **state)
{
    json_t *o = json_object();

    (void)state;
    assert_ptr_equal(json_obj_set_str(o, "s", "v"), o);
    assert_ptr_equal(json_obj_set_int(o, "i", -42), o);
    assert_ptr_equal(json_obj_set_bool(o, "b", 1), o);
    assert_string_equal(json_string_value(json_object_get(o, "s")), "v");
    assert_true(json_integer_value(json_object_get(o, "i")) == -42);
    assert_true(json_is_true(json_object_get(o, "b")));
    json_obj_set_bool(o, "b", 0);
    assert_true(json_is_false(json_object_get(o, "b")));
    assert_int_equal(json_object_size(o), 3);
    json_decref(o);
}

/* noncharacters and 5/6-byte forms become one U+FFFD each, as qemu prints them */
static void test_string_nonchars(void **state)
{
    (void)state;
    check_string("a/\xef\xbf\xbf", "\"a/\\uFFFD\"");
    check_string("a/\xef\xbf\xbe", "\"a/\\uFFFD\"");
    check_string("a/\xef\xb7\x90", "\"a/\\uFFFD\"");
    check_string("a/\xf8\x88\x80\x80\x80", "\"a/\\uFFFD\"");
    check_string("a/\xfc\x84\x80\x80\x80\x80", "\"a/\\uFFFD\"");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_string_plain),
        cmocka_unit_test(test_string_escapes),
        cmocka_unit_test(test_string_invalid_utf8),
        cmocka_unit_test(test_bucket),
        cmocka_unit_test(test_pretty_info),
        cmocka_unit_test(test_pretty_backing_chain),
        cmocka_unit_test(test_pretty_nesting),
        cmocka_unit_test(test_pretty_qcow2_info),
        cmocka_unit_test(test_compact),
        cmocka_unit_test(test_obj_helpers),
        cmocka_unit_test(test_string_nonchars),
    };

    return cmocka_run_group_tests_name("json", tests, NULL, NULL);
}
