/*
 * test_opts.c - unit tests for engine/opts.h (qemu-style "-o" strings).
 *
 * Test plan:
 *  - opts_string_valid: qemu-img's check on each -o argument (empty, leading
 *    comma, odd run of trailing commas are bad; an even run is an escaped
 *    comma).
 *  - opts_parse: splitting on ',', ",," as a literal comma inside a value,
 *    "foo" -> foo=on, "noX" -> X=off ("nocow" -> cow=off, "nonocow" ->
 *    nocow=off, "no" -> ""=off), "help" / "?" detected by opts_has_help,
 *    appending to an existing list.
 *  - opts_set / opts_get (last value wins) / opts_del / opts_free.
 *  - opts_validate with qemu's exact messages for unknown names, empty
 *    names, bad bools, bad sizes and out-of-range sizes; the first bad item
 *    in order is reported; valid lists pass and leave err untouched.
 *  - opt_parse_bool/number/size and the typed getters (defaults, errors).
 *  - opt_desc_find / opt_desc_merge (order kept, duplicates dropped).
 *  - opt_desc_print_help output for file_create_opts, byte for byte as
 *    `qemu-img create -f raw x.raw -o help` prints it.
 *  - opts_print_values: the "Formatting" line part, in description order
 *    whatever the insertion order, sizes normalised to bytes, bools as
 *    given, string commas doubled, defaults shown.
 * Expected messages and outputs were checked against qemu-img 7.2.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../engine/file.h"
#include "../../engine/opts.h"

static const char SIZE_MSG[] =
    "Parameter 'size' expects a non-negative number below 2^64\n"
    "Optional suffix k, M, G, T, P or E means kilo-, mega-, giga-, tera-, peta-\n"
    "and exabytes, respectively.";

/* Parse s into a fresh list; the parse itself must succeed. */
static void parse(struct opts *o, const char *s)
{
    struct err err = { 0 };

    memset(o, 0, sizeof(*o));
    assert_int_equal(opts_parse(o, s, &err), 0);
    assert_false(err.set);
}

/* Validate s against file_create_opts; the message (if any) lands in *err. */
static int validate_str(const char *s, struct err *err)
{
    struct opts o;
    int ret;

    parse(&o, s);
    memset(err, 0, sizeof(*err));
    ret = opts_validate(&o, file_create_opts, err);
    opts_free(&o);
    return ret;
}

/* Capture what fn printed into a malloc'd string. */
struct capture {
    char *buf;
    size_t len;
    FILE *f;
};

static void capture_start(struct capture *c)
{
    c->buf = NULL;
    c->len = 0;
    c->f = open_memstream(&c->buf, &c->len);
    assert_non_null(c->f);
}

static char *capture_end(struct capture *c)
{
    assert_int_equal(fclose(c->f), 0);
    return c->buf;
}

static void test_string_valid(void **state)
{
    (void)state;
    assert_true(opts_string_valid("a=b"));
    assert_true(opts_string_valid("a=b,c=d"));
    assert_true(opts_string_valid("a=b,,"));        /* escaped comma */
    assert_true(opts_string_valid("a=b,,,,"));
    assert_true(opts_string_valid("help"));
    assert_false(opts_string_valid(""));
    assert_false(opts_string_valid(",a"));
    assert_false(opts_string_valid("a=b,"));
    assert_false(opts_string_valid("a=b,,,"));
    assert_false(opts_string_valid(","));
}

static void test_parse_split(void **state)
{
    struct opts o;

    (void)state;
    parse(&o, "size=1M,preallocation=full,nocow=on");
    assert_int_equal(o.n, 3);
    assert_string_equal(o.v[0].name, "size");
    assert_string_equal(o.v[0].value, "1M");
    assert_string_equal(o.v[1].name, "preallocation");
    assert_string_equal(o.v[1].value, "full");
    assert_string_equal(o.v[2].name, "nocow");
    assert_string_equal(o.v[2].value, "on");
    opts_free(&o);
    assert_int_equal(o.n, 0);
    assert_null(o.v);
}

static void test_parse_empty_value_and_name(void **state)
{
    struct opts o;

    (void)state;
    parse(&o, "preallocation=,=x");
    assert_int_equal(o.n, 2);
    assert_string_equal(o.v[0].name, "preallocation");
    assert_string_equal(o.v[0].value, "");
    assert_string_equal(o.v[1].name, "");
    assert_string_equal(o.v[1].value, "x");
    opts_free(&o);
}

static void test_parse_escaped_comma(void **state)
{
    struct opts o;

    (void)state;
    parse(&o, "preallocation=off,,");
    assert_int_equal(o.n, 1);
    assert_string_equal(o.v[0].name, "preallocation");
    assert_string_equal(o.v[0].value, "off,");
    opts_free(&o);

    parse(&o, "preallocation=a,,b,size=1k");
    assert_int_equal(o.n, 2);
    assert_string_equal(o.v[0].value, "a,b");
    assert_string_equal(o.v[1].name, "size");
    assert_string_equal(o.v[1].value, "1k");
    opts_free(&o);

    parse(&o, "x=,,,,y");
    assert_int_equal(o.n, 1);
    assert_string_equal(o.v[0].value, ",,y");
    opts_free(&o);
}

static void test_parse_flags(void **state)
{
    struct opts o;

    (void)state;
    /* qemu treats "noX" as X=off, so "nocow" alone is cow=off */
    parse(&o, "nocow");
    assert_int_equal(o.n, 1);
    assert_string_equal(o.v[0].name, "cow");
    assert_string_equal(o.v[0].value, "off");
    opts_free(&o);

    parse(&o, "nonocow");
    assert_int_equal(o.n, 1);
    assert_string_equal(o.v[0].name, "nocow");
    assert_string_equal(o.v[0].value, "off");
    opts_free(&o);

    parse(&o, "foo");
    assert_int_equal(o.n, 1);
    assert_string_equal(o.v[0].name, "foo");
    assert_string_equal(o.v[0].value, "on");
    opts_free(&o);

    parse(&o, "no");
    assert_int_equal(o.n, 1);
    assert_string_equal(o.v[0].name, "");
    assert_string_equal(o.v[0].value, "off");
    opts_free(&o);

    parse(&o, "nosize,bar");
    assert_int_equal(o.n, 2);
    assert_string_equal(o.v[0].name, "size");
    assert_string_equal(o.v[0].value, "off");
    assert_string_equal(o.v[1].name, "bar");
    assert_string_equal(o.v[1].value, "on");
    opts_free(&o);
}

static void test_parse_appends(void **state)
{
    struct opts o;
    struct err err = { 0 };

    (void)state;
    parse(&o, "size=1M");
    assert_int_equal(opts_parse(&o, "nocow=on", &err), 0);
    assert_int_equal(o.n, 2);
    assert_string_equal(o.v[0].name, "size");
    assert_string_equal(o.v[1].name, "nocow");
    opts_free(&o);
}

static void test_has_help(void **state)
{
    struct opts o;

    (void)state;
    parse(&o, "help");
    assert_true(opts_has_help(&o));
    opts_free(&o);

    parse(&o, "?");
    assert_true(opts_has_help(&o));
    opts_free(&o);

    parse(&o, "size=1M,preallocation=off,help");
    assert_true(opts_has_help(&o));
    opts_free(&o);

    parse(&o, "size=1M,?");
    assert_true(opts_has_help(&o));
    opts_free(&o);

    parse(&o, "size=1M,nocow");
    assert_false(opts_has_help(&o));
    opts_free(&o);

    memset(&o, 0, sizeof(o));
    assert_false(opts_has_help(&o));
}

static void test_get_set_del(void **state)
{
    struct opts o;

    (void)state;
    parse(&o, "size=1M,nocow=on,size=2M");
    assert_string_equal(opts_get(&o, "size"), "2M");     /* last value wins */
    assert_string_equal(opts_get(&o, "nocow"), "on");
    assert_null(opts_get(&o, "preallocation"));

    opts_set(&o, "nocow", "off");
    assert_string_equal(opts_get(&o, "nocow"), "off");
    assert_int_equal(o.n, 4);

    opts_del(&o, "size");
    assert_null(opts_get(&o, "size"));
    assert_int_equal(o.n, 2);
    assert_string_equal(o.v[0].name, "nocow");
    assert_string_equal(o.v[0].value, "on");
    assert_string_equal(o.v[1].name, "nocow");
    assert_string_equal(o.v[1].value, "off");

    opts_del(&o, "absent");
    assert_int_equal(o.n, 2);
    opts_del(&o, "nocow");
    assert_int_equal(o.n, 0);
    assert_null(opts_get(&o, "nocow"));

    /* opts_set copies its arguments */
    {
        char name[] = "size", value[] = "4k";
        opts_set(&o, name, value);
        name[0] = 'X';
        value[0] = '8';
        assert_string_equal(opts_get(&o, "size"), "4k");
    }
    opts_free(&o);
}

static void test_validate_ok(void **state)
{
    struct err err;

    (void)state;
    assert_int_equal(validate_str("size=1M,nocow=on,preallocation=full,extent_size_hint=0",
                                  &err), 0);
    assert_false(err.set);
    assert_int_equal(validate_str("nonocow", &err), 0);
    assert_int_equal(validate_str("nocow=yes,nocow=y,nocow=true,nocow=no,nocow=n,nocow=false",
                                  &err), 0);
    /* strings are not checked here: the driver decides */
    assert_int_equal(validate_str("preallocation=bogus", &err), 0);
    assert_int_equal(validate_str("extent_size_hint=1.5k", &err), 0);
    assert_false(err.set);
}

static void test_validate_messages(void **state)
{
    struct err err;

    (void)state;
    assert_int_equal(validate_str("foo", &err), -EINVAL);
    assert_string_equal(err.msg, "Invalid parameter 'foo'");

    assert_int_equal(validate_str("=x", &err), -EINVAL);
    assert_string_equal(err.msg, "Invalid parameter ''");

    assert_int_equal(validate_str("nocow", &err), -EINVAL);
    assert_string_equal(err.msg, "Invalid parameter 'cow'");

    assert_int_equal(validate_str("no", &err), -EINVAL);
    assert_string_equal(err.msg, "Invalid parameter ''");

    assert_int_equal(validate_str("nocow=bad", &err), -EINVAL);
    assert_string_equal(err.msg, "Parameter 'nocow' expects 'on' or 'off'");

    assert_int_equal(validate_str("nocow=ON", &err), -EINVAL);
    assert_string_equal(err.msg, "Parameter 'nocow' expects 'on' or 'off'");

    assert_int_equal(validate_str("nocow=", &err), -EINVAL);
    assert_string_equal(err.msg, "Parameter 'nocow' expects 'on' or 'off'");

    assert_int_equal(validate_str("size=abc", &err), -EINVAL);
    assert_string_equal(err.msg, SIZE_MSG);

    /* "nosize" is size=off, which is no size */
    assert_int_equal(validate_str("nosize", &err), -EINVAL);
    assert_string_equal(err.msg, SIZE_MSG);

    assert_int_equal(validate_str("size=16E", &err), -ERANGE);
    assert_string_equal(err.msg, "Value '16E' is out of range for parameter 'size'");

    assert_int_equal(validate_str("size=0x10000000000000000", &err), -ERANGE);
    assert_string_equal(err.msg,
                        "Value '0x10000000000000000' is out of range for parameter 'size'");

    assert_int_equal(validate_str("extent_size_hint=-1k", &err), -EINVAL);
    assert_string_equal(err.msg,
                        "Parameter 'extent_size_hint' expects a non-negative number below 2^64\n"
                        "Optional suffix k, M, G, T, P or E means kilo-, mega-, giga-, tera-, "
                        "peta-\nand exabytes, respectively.");
}

static void test_validate_first_error_wins(void **state)
{
    struct err err;

    (void)state;
    assert_int_equal(validate_str("foo,nocow=bad", &err), -EINVAL);
    assert_string_equal(err.msg, "Invalid parameter 'foo'");
    assert_int_equal(validate_str("nocow=bad,foo", &err), -EINVAL);
    assert_string_equal(err.msg, "Parameter 'nocow' expects 'on' or 'off'");
    /* every item is checked, not only the last one given for a name */
    assert_int_equal(validate_str("nocow=bad,nocow=on", &err), -EINVAL);
    assert_string_equal(err.msg, "Parameter 'nocow' expects 'on' or 'off'");
}

static void test_validate_null_err(void **state)
{
    struct opts o;

    (void)state;
    parse(&o, "foo");
    assert_int_equal(opts_validate(&o, file_create_opts, NULL), -EINVAL);
    opts_free(&o);
}

static void test_parse_values(void **state)
{
    struct err err = { 0 };
    bool b = false;
    uint64_t u = 0;

    (void)state;
    assert_int_equal(opt_parse_bool("x", "on", &b, &err), 0);
    assert_true(b);
    assert_int_equal(opt_parse_bool("x", "off", &b, &err), 0);
    assert_false(b);
    assert_int_equal(opt_parse_bool("x", "yes", &b, &err), 0);
    assert_true(b);
    assert_int_equal(opt_parse_bool("x", "n", &b, &err), 0);
    assert_false(b);
    assert_false(err.set);
    assert_int_equal(opt_parse_bool("lazy", "maybe", &b, &err), -EINVAL);
    assert_string_equal(err.msg, "Parameter 'lazy' expects 'on' or 'off'");

    err_clear(&err);
    assert_int_equal(opt_parse_size("size", "1.5G", &u, &err), 0);
    assert_true(u == 1610612736ULL);
    assert_int_equal(opt_parse_size("size", "0x100000", &u, &err), 0);
    assert_true(u == 1048576);
    assert_false(err.set);

    assert_int_equal(opt_parse_number("refcount_bits", "16", &u, &err), 0);
    assert_true(u == 16);
    assert_int_equal(opt_parse_number("refcount_bits", "0x10", &u, &err), 0);
    assert_true(u == 16);
    assert_false(err.set);
    assert_int_equal(opt_parse_number("refcount_bits", "abc", &u, &err), -EINVAL);
    assert_string_equal(err.msg, "Parameter 'refcount_bits' expects a number");
    err_clear(&err);
    assert_int_equal(opt_parse_number("refcount_bits", "1k", &u, &err), -EINVAL);
    assert_string_equal(err.msg, "Parameter 'refcount_bits' expects a number");
    err_clear(&err);
    assert_int_equal(opt_parse_number("refcount_bits", "", &u, &err), -EINVAL);
    assert_string_equal(err.msg, "Parameter 'refcount_bits' expects a number");
}

static void test_typed_getters(void **state)
{
    struct opts o;
    struct err err = { 0 };
    bool b = false;
    uint64_t u = 0;

    (void)state;
    parse(&o, "size=2M,nocow=on,count=7,bad=xyz");

    assert_int_equal(opts_get_size(&o, "size", 5, &u, &err), 0);
    assert_true(u == 2 * 1048576);
    assert_int_equal(opts_get_size(&o, "absent", 5, &u, &err), 0);
    assert_true(u == 5);
    assert_int_equal(opts_get_bool(&o, "nocow", false, &b, &err), 0);
    assert_true(b);
    assert_int_equal(opts_get_bool(&o, "absent", true, &b, &err), 0);
    assert_true(b);
    assert_int_equal(opts_get_number(&o, "count", 0, &u, &err), 0);
    assert_true(u == 7);
    assert_int_equal(opts_get_number(&o, "absent", 42, &u, &err), 0);
    assert_true(u == 42);
    assert_false(err.set);

    assert_int_equal(opts_get_bool(&o, "bad", false, &b, &err), -EINVAL);
    assert_string_equal(err.msg, "Parameter 'bad' expects 'on' or 'off'");
    err_clear(&err);
    assert_int_equal(opts_get_size(&o, "bad", 0, &u, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "Parameter 'bad' expects a non-negative number"));
    opts_free(&o);
}

static const struct opt_desc desc_a[] = {
    { "size", OPT_SIZE, "Virtual disk size", NULL },
    { "cluster_size", OPT_SIZE, "qcow2 cluster size", "65536" },
    { NULL, 0, NULL, NULL },
};

static void test_desc_find_merge(void **state)
{
    struct opt_desc *m;
    size_t n = 0;

    (void)state;
    assert_ptr_equal(opt_desc_find(file_create_opts, "nocow"), &file_create_opts[1]);
    assert_null(opt_desc_find(file_create_opts, "bogus"));
    assert_null(opt_desc_find(NULL, "size"));

    m = opt_desc_merge(desc_a, file_create_opts);
    while (m[n].name) {
        n++;
    }
    assert_int_equal(n, 5);
    assert_string_equal(m[0].name, "size");
    assert_string_equal(m[0].help, "Virtual disk size");
    assert_string_equal(m[1].name, "cluster_size");
    assert_string_equal(m[1].def, "65536");
    assert_string_equal(m[2].name, "nocow");
    assert_string_equal(m[3].name, "preallocation");
    assert_string_equal(m[4].name, "extent_size_hint");
    free(m);

    /* the first list wins for a duplicate name */
    m = opt_desc_merge(file_create_opts, desc_a);
    n = 0;
    while (m[n].name) {
        n++;
    }
    assert_int_equal(n, 5);
    assert_string_equal(m[0].name, "size");
    assert_string_equal(m[3].name, "extent_size_hint");
    assert_string_equal(m[4].name, "cluster_size");
    free(m);

    m = opt_desc_merge(NULL, NULL);
    assert_null(m[0].name);
    free(m);
}

static void test_print_help(void **state)
{
    struct capture c;
    char *out;

    (void)state;
    capture_start(&c);
    opt_desc_print_help(c.f, file_create_opts);
    out = capture_end(&c);
    assert_string_equal(out,
        "  extent_size_hint=<size> - Extent size hint for the image file, 0 to disable\n"
        "  nocow=<bool (on/off)>  - Turn off copy-on-write (valid only on btrfs)\n"
        "  preallocation=<str>    - Preallocation mode (allowed values: off, falloc, full)\n"
        "  size=<size>            - Virtual disk size\n");
    free(out);

    capture_start(&c);
    opt_desc_print_help(c.f, desc_a);
    out = capture_end(&c);
    assert_string_equal(out,
        "  cluster_size=<size>    - qcow2 cluster size\n"
        "  size=<size>            - Virtual disk size\n");
    free(out);
}

static char *print_values(const char *s, const struct opt_desc *desc)
{
    struct opts o;
    struct capture c;

    parse(&o, s);
    capture_start(&c);
    opts_print_values(c.f, &o, desc);
    opts_free(&o);
    return capture_end(&c);
}

static void test_print_values(void **state)
{
    static const char want[] =
        "size=1048576 nocow=on preallocation=off extent_size_hint=1048576";
    char *out;

    (void)state;
    out = print_values("size=1M,nocow=on,preallocation=off,extent_size_hint=1M",
                       file_create_opts);
    assert_string_equal(out, want);
    free(out);

    /* description order, whatever the insertion order */
    out = print_values("extent_size_hint=1M,preallocation=off,nocow=on,size=1M",
                       file_create_opts);
    assert_string_equal(out, want);
    free(out);

    /* string commas are doubled again */
    out = print_values("size=1M,preallocation=a,,b", file_create_opts);
    assert_string_equal(out, "size=1048576 preallocation=a,,b");
    free(out);

    /* sizes in bytes, bools as given, the last value of a name */
    out = print_values("size=0x100000,extent_size_hint=1.5k,nocow=yes,nocow=y",
                       file_create_opts);
    assert_string_equal(out, "size=1048576 nocow=y extent_size_hint=1536");
    free(out);

    /* unset options without a default are left out; defaults are shown */
    out = print_values("size=1M", desc_a);
    assert_string_equal(out, "size=1048576 cluster_size=65536");
    free(out);

    out = print_values("x=1", file_create_opts);
    assert_string_equal(out, "");
    free(out);
}

/* names are not unescaped; only a bare help/? asks for help; numbers as qemu reads them */
static void test_qemu_corner_cases(void **state)
{
    struct opts o;
    struct err err = { 0 };
    uint64_t u = 0;

    (void)state;
    parse(&o, "a,,b=c");
    assert_int_equal(opts_validate(&o, file_create_opts, &err), -EINVAL);
    assert_string_equal(err.msg, "Invalid parameter 'a'");
    opts_free(&o);

    err_clear(&err);
    parse(&o, "nocow,,x");
    assert_int_equal(opts_validate(&o, file_create_opts, &err), -EINVAL);
    assert_string_equal(err.msg, "Invalid parameter 'cow'");
    opts_free(&o);

    err_clear(&err);
    parse(&o, "size,,=1M");
    assert_int_equal(opts_validate(&o, file_create_opts, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "Parameter 'size' expects a non-negative number"));
    opts_free(&o);

    parse(&o, "help=x");
    assert_false(opts_has_help(&o));
    opts_free(&o);
    parse(&o, "nohelp");
    assert_false(opts_has_help(&o));
    opts_free(&o);
    parse(&o, "help,,x");
    assert_true(opts_has_help(&o));
    opts_free(&o);

    err_clear(&err);
    assert_int_equal(opt_parse_number("refcount_bits", "99999999999999999999", &u, &err), -ERANGE);
    assert_string_equal(err.msg,
                        "Value '99999999999999999999' is too large for parameter 'refcount_bits'");
    assert_int_equal(opt_parse_number("refcount_bits", "-1", &u, NULL), 0);
    assert_true(u == UINT64_MAX);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_string_valid),
        cmocka_unit_test(test_parse_split),
        cmocka_unit_test(test_parse_empty_value_and_name),
        cmocka_unit_test(test_parse_escaped_comma),
        cmocka_unit_test(test_parse_flags),
        cmocka_unit_test(test_parse_appends),
        cmocka_unit_test(test_has_help),
        cmocka_unit_test(test_get_set_del),
        cmocka_unit_test(test_validate_ok),
        cmocka_unit_test(test_validate_messages),
        cmocka_unit_test(test_validate_first_error_wins),
        cmocka_unit_test(test_validate_null_err),
        cmocka_unit_test(test_parse_values),
        cmocka_unit_test(test_typed_getters),
        cmocka_unit_test(test_desc_find_merge),
        cmocka_unit_test(test_print_help),
        cmocka_unit_test(test_print_values),
        cmocka_unit_test(test_qemu_corner_cases),
    };

    return cmocka_run_group_tests_name("opts", tests, NULL, NULL);
}
