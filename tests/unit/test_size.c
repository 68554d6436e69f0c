/*
 * test_size.c - unit tests for engine/size.h (size_parse, size_to_str,
 * round_up/round_down).
 *
 * Test plan:
 *  - size_parse accepts what qemu-img 7.2 accepts as a size
 *    (`qemu-img create -f raw x.raw SIZE`) and gives the same byte count:
 *    every suffix in both cases, fractions with a scaling suffix, 0x hex,
 *    "1." and "1.k", leading white space and '+', exact 64-bit limits.
 *  - size_parse rejects garbage with -EINVAL (fraction without a suffix,
 *    two-letter suffixes, exponents, signs, blanks inside or after, hex
 *    with a fraction or suffix, empty string) and values that do not fit
 *    64 bits with -ERANGE; *out is left alone on failure.
 *  - size_to_str prints qemu's "%0.3g <binary unit>" format, moving up a
 *    unit once the number reaches 1000 in the current unit (all values
 *    checked against `qemu-img info` output on this machine).
 *  - round_up / round_down helpers.
 * Every expected value was observed from the real qemu-img 7.2.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "../../engine/size.h"

struct size_case {
    const char *in;
    uint64_t want;
};

static void check_ok(const char *in, uint64_t want)
{
    uint64_t v = 0xdeadbeefULL;
    int ret = size_parse(in, &v);

    if (ret != 0 || v != want) {
        print_error("size_parse(\"%s\"): ret %d value %llu, want 0 and %llu\n", in, ret,
                    (unsigned long long)v, (unsigned long long)want);
    }
    assert_int_equal(ret, 0);
    assert_true(v == want);
}

static void check_fail(const char *in, int want_ret)
{
    uint64_t v = 0xdeadbeefULL;
    int ret = size_parse(in, &v);

    if (ret != want_ret) {
        print_error("size_parse(\"%s\"): ret %d, want %d\n", in, ret, want_ret);
    }
    assert_int_equal(ret, want_ret);
    /* failure leaves the output untouched */
    assert_true(v == 0xdeadbeefULL);
}

static void test_parse_suffixes(void **state)
{
    static const struct size_case cases[] = {
        { "1k", 1024ULL },
        { "1K", 1024ULL },
        { "1m", 1ULL << 20 },
        { "1M", 1ULL << 20 },
        { "1g", 1ULL << 30 },
        { "1G", 1ULL << 30 },
        { "1T", 1ULL << 40 },
        { "1t", 1ULL << 40 },
        { "1P", 1ULL << 50 },
        { "1p", 1ULL << 50 },
        { "1E", 1ULL << 60 },
        { "1e", 1ULL << 60 },
        { "1b", 1 },
        { "1B", 1 },
        { "0k", 0 },
        { "1000T", 1099511627776000ULL },
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        check_ok(cases[i].in, cases[i].want);
    }
}

static void test_parse_plain_numbers(void **state)
{
    (void)state;
    check_ok("0", 0);
    check_ok("512", 512);
    check_ok("513", 513);
    check_ok("9223372036854775807", 9223372036854775807ULL);
    /* fits 64 bits: size_parse accepts it (qemu-img create then says too big) */
    check_ok("18446744073709551615", UINT64_MAX);
}

static void test_parse_fractions(void **state)
{
    (void)state;
    check_ok("1.5G", 1610612736ULL);
    check_ok("0.5k", 512);
    check_ok("1.0001k", 1024);      /* 1024.1024 rounds to 1024 */
    check_ok("1.", 1);              /* no fraction digits */
    check_ok("1.k", 1024);
    check_ok("1.0", 1);             /* a zero fraction needs no suffix */
    check_ok("1.0b", 1);
    check_ok("1.b", 1);
    check_ok("1.5e", 1729382256910270464ULL);
    check_ok("7.99E", 9211842821808707328ULL);
    check_ok("0.0000001k", 0);      /* rounds down to nothing */
}

static void test_parse_hex_and_blanks(void **state)
{
    (void)state;
    check_ok("0x100", 256);
    check_ok("0x10", 16);
    /* qemu 7.2 takes a suffix after hex (with a deprecation warning); b is a hex digit */
    check_ok("0x10k", 16384);
    check_ok("0x10b", 267);
    check_ok("0x1E", 30);
    check_ok("0X10", 16);
    check_ok(" 1k", 1024);          /* leading blank is fine */
    check_ok("\t1k", 1024);
    check_ok("+1k", 1024);
}

static void test_parse_invalid(void **state)
{
    static const char *const bad[] = {
        "1.5", "0.5", "1kb", "1Kb", "1x", "abc", "1e3", "", "1.5b", "0.1b", ".5k",
        "1 k", "1kk", "10MiB", "-1", "-1k", "0x1.5", "0x", "00x10", "1k ", "1.5 ",
    };
    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        check_fail(bad[i], -EINVAL);
    }
}

static void test_parse_range(void **state)
{
    (void)state;
    check_fail("16E", -ERANGE);
    check_fail("17E", -ERANGE);
    check_fail("18446744073709551616", -ERANGE);
    check_fail("0x10000000000000000", -ERANGE);
}

struct str_case {
    uint64_t in;
    const char *want;
};

static void test_size_to_str(void **state)
{
    static const struct str_case cases[] = {
        { 0, "0 B" },
        { 512, "512 B" },
        { 999, "999 B" },
        { 1000, "0.977 KiB" },
        { 1024, "1 KiB" },
        { 1536, "1.5 KiB" },
        { 69632, "68 KiB" },
        { 1022976, "999 KiB" },
        { 1023488, "1e+03 KiB" },   /* 999.5 KiB: %0.3g rounds, as qemu does */
        { 1048064, "1 MiB" },
        { 10485760, "10 MiB" },
        { 20000256, "19.1 MiB" },
        { 20524544, "19.6 MiB" },
        { 1073741824, "1 GiB" },
        { 1610612736, "1.5 GiB" },
        { 1099511627776ULL, "1 TiB" },
        { 16492674416640ULL, "15 TiB" },
        { 1099511627776000ULL, "0.977 PiB" },
        { 1125899906842624ULL, "1 PiB" },
        { 1152921504606846976ULL, "1 EiB" },
        { 1729382256910270464ULL, "1.5 EiB" },
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char buf[SIZE_STR_MAX];
        char *r = size_to_str(cases[i].in, buf);

        assert_ptr_equal(r, buf);
        if (strcmp(buf, cases[i].want)) {
            print_error("size_to_str(%llu) = \"%s\", want \"%s\"\n",
                        (unsigned long long)cases[i].in, buf, cases[i].want);
        }
        assert_string_equal(buf, cases[i].want);
    }
}

static void test_size_to_str_max(void **state)
{
    char buf[SIZE_STR_MAX];

    (void)state;
    /* the largest value still fits the buffer and uses the largest unit */
    memset(buf, 'x', sizeof(buf));
    size_to_str(UINT64_MAX, buf);
    assert_non_null(memchr(buf, '\0', sizeof(buf)));
    assert_true(strlen(buf) > 4);
    assert_string_equal(buf + strlen(buf) - 4, " EiB");
}

static void test_round_helpers(void **state)
{
    (void)state;
    assert_true(round_up(0, 512) == 0);
    assert_true(round_up(1, 512) == 512);
    assert_true(round_up(512, 512) == 512);
    assert_true(round_up(513, 512) == 1024);
    assert_true(round_down(0, 512) == 0);
    assert_true(round_down(511, 512) == 0);
    assert_true(round_down(513, 512) == 512);
    assert_true(round_down(4096, 4096) == 4096);
}

/* overflow followed by more text is garbage first; a fraction rounding to 1.0 is none (qemu) */
static void test_parse_overflow_then_text(void **state)
{
    (void)state;
    check_fail("99999999999999999999k", -EINVAL);
    check_fail("18446744073709551616b", -EINVAL);
    check_fail("0x10000000000000000k", -EINVAL);
    check_fail("99999999999999999999x", -EINVAL);
    check_fail("99999999999999999999", -ERANGE);
    check_fail("0x10000000000000000", -ERANGE);
    check_ok("1.9999999999999999999999k", 1024);
    check_ok("0.99999999999999999999b", 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_suffixes),
        cmocka_unit_test(test_parse_plain_numbers),
        cmocka_unit_test(test_parse_fractions),
        cmocka_unit_test(test_parse_hex_and_blanks),
        cmocka_unit_test(test_parse_invalid),
        cmocka_unit_test(test_parse_range),
        cmocka_unit_test(test_size_to_str),
        cmocka_unit_test(test_size_to_str_max),
        cmocka_unit_test(test_round_helpers),
        cmocka_unit_test(test_parse_overflow_then_text),
    };

    return cmocka_run_group_tests_name("size", tests, NULL, NULL);
}
