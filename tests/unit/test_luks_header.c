/*
 * test_luks_header.c - unit tests for formats/luks_header.h.
 *
 * Test plan:
 *  - a well-formed LUKS1 header (aes xts-plain64 sha256, 64-byte key, slot 0
 *    active, slots 1-7 disabled, laid out as cryptsetup and qemu do) parses
 *    into qemu's names: aes-256, xts, plain64, sha256, offsets in bytes, the
 *    uuid; the JSON tree has iters/stripes only for active slots, no
 *    ivgen-hash-alg without essiv, and "format": "luks".
 *  - essiv: cbc-essiv:sha256 with a 32-byte key gives ivgen-hash-alg sha256;
 *    key sizes the hash cannot key (sha1 with aes, sha256 with cast5) fail.
 *  - each damage gives qemu's message: bad magic, version 2, unterminated
 *    cipher name, payload inside the header, bad slot state, zero iterations
 *    of an active slot, wrong stripes, overlapping slots, unknown cipher,
 *    mode, IV generator and hash, a mode string without '-'.
 *  - checks run in qemu's order: slot layout before algorithm names; the
 *    IV generator's hash before the cipher mode.
 *  - extents use 32-bit arithmetic as qemu's: a key size whose split key
 *    wraps is accepted by the layout check and refused by the algorithm one.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "../../formats/luks_header.h"

static uint8_t hdr[LUKS_HEADER_SIZE];

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = v;
}

static void put_str(size_t off, const char *s)
{
    memset(hdr + off, 0, 32);
    memcpy(hdr + off, s, strlen(s));
}

/* A header as qemu-img writes it for aes-256-xts-plain64 / sha256. */
static void build(void)
{
    static const uint8_t magic[6] = { 'L', 'U', 'K', 'S', 0xba, 0xbe };

    memset(hdr, 0, sizeof(hdr));
    memcpy(hdr, magic, 6);
    hdr[7] = 1;
    put_str(8, "aes");
    put_str(40, "xts-plain64");
    put_str(72, "sha256");
    put32(hdr + 104, 4040);
    put32(hdr + 108, 64);
    put32(hdr + 164, 10783);
    memcpy(hdr + 168, "fdbca009-ca8a-4937-99e5-791c8a1e0133", 36);
    for (int i = 0; i < 8; i++) {
        uint8_t *s = hdr + 208 + i * 48;
        put32(s, i == 0 ? 0x00AC71F3 : 0x0000DEAD);
        put32(s + 4, i == 0 ? 43401 : 0);
        put32(s + 40, 8 + i * 504);
        put32(s + 44, 4000);
    }
}

static const char *parse_msg(void)
{
    static struct err e;
    struct luks_header h;

    memset(&e, 0, sizeof(e));
    if (luks_header_parse(hdr, &h, &e) == 0) {
        return "";
    }
    return e.msg;
}

static void test_good_header(void **state)
{
    struct luks_header h;
    struct err e = { 0 };
    json_t *j, *slots;

    (void)state;
    build();
    assert_int_equal(luks_header_parse(hdr, &h, &e), 0);
    assert_string_equal(h.cipher_alg, "aes-256");
    assert_string_equal(h.cipher_mode, "xts");
    assert_string_equal(h.ivgen_alg, "plain64");
    assert_string_equal(h.ivgen_hash, "");
    assert_string_equal(h.hash_alg, "sha256");
    assert_string_equal(h.uuid, "fdbca009-ca8a-4937-99e5-791c8a1e0133");
    assert_int_equal(h.payload_offset, 4040 * 512);
    assert_int_equal(h.master_key_iterations, 10783);
    assert_true(h.slots[0].active);
    assert_false(h.slots[1].active);
    assert_int_equal(h.slots[7].key_offset, (8 + 7 * 504) * 512);

    j = luks_header_json(&h);
    assert_string_equal(json_string_value(json_object_get(j, "format")), "luks");
    assert_null(json_object_get(j, "ivgen-hash-alg"));
    slots = json_object_get(j, "slots");
    assert_int_equal(json_array_size(slots), 8);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(slots, 0), "iters")), 43401);
    assert_non_null(json_object_get(json_array_get(slots, 0), "stripes"));
    assert_null(json_object_get(json_array_get(slots, 1), "iters"));
    assert_null(json_object_get(json_array_get(slots, 1), "stripes"));
    assert_int_equal(json_integer_value(json_object_get(json_array_get(slots, 1), "key-offset")),
                     512 * 512);
    json_decref(j);
}

static void test_essiv(void **state)
{
    struct luks_header h;
    struct err e = { 0 };

    (void)state;
    build();
    put_str(40, "cbc-essiv:sha256");
    put32(hdr + 108, 32);
    assert_int_equal(luks_header_parse(hdr, &h, &e), 0);
    assert_string_equal(h.ivgen_alg, "essiv");
    assert_string_equal(h.ivgen_hash, "sha256");
    assert_string_equal(h.cipher_alg, "aes-256");
    put_str(40, "cbc-essiv:sha1");
    assert_string_equal(parse_msg(), "No AES cipher with key size 20 available");
    put_str(8, "cast5");
    put32(hdr + 108, 16);
    put_str(40, "cbc-essiv:sha256");
    assert_string_equal(parse_msg(), "Cipher cast5-128 not supported with essiv");
    put_str(40, "cbc-essiv:md5");
    assert_string_equal(parse_msg(), "");
    put_str(40, "cbc-essiv");
    assert_string_equal(parse_msg(), "Missing IV generator hash specification");
}

static void test_damage(void **state)
{
    (void)state;
    build(); hdr[0] = 0;
    assert_string_equal(parse_msg(), "Volume is not in LUKS format");
    build(); hdr[7] = 2;
    assert_string_equal(parse_msg(), "LUKS version 2 is not supported");
    build(); memset(hdr + 8, 'a', 32);
    assert_string_equal(parse_msg(), "LUKS header cipher name is not NUL terminated");
    build(); put32(hdr + 104, 7);
    assert_string_equal(parse_msg(), "LUKS payload is overlapping with the header");
    build(); put32(hdr + 104, 8);
    assert_string_equal(parse_msg(), "Keyslot 0 is overlapping with the encrypted payload");
    build(); put32(hdr + 208, 0);
    assert_string_equal(parse_msg(), "Keyslot 0 state (active/disable) is corrupted");
    build(); put32(hdr + 212, 0);
    assert_string_equal(parse_msg(), "Keyslot 0 iteration count is zero");
    build(); put32(hdr + 208 + 48 + 4, 0);      /* a disabled slot may have 0 */
    assert_string_equal(parse_msg(), "");
    build(); put32(hdr + 208 + 48 + 44, 0);
    assert_string_equal(parse_msg(), "Keyslot 1 is corrupted (stripes 0 != 4000)");
    build(); put32(hdr + 208 + 40, 1);
    assert_string_equal(parse_msg(), "Keyslot 0 is overlapping with the LUKS header");
    build(); put32(hdr + 208 + 48 + 40, 8);
    assert_string_equal(parse_msg(), "Keyslots 0 and 1 are overlapping in the header");
    build(); put_str(8, "foo");
    assert_string_equal(parse_msg(), "Algorithm 'foo' with key size 32 bytes not supported");
    build(); put_str(40, "foo-plain64");
    assert_string_equal(parse_msg(), "Cipher mode 'foo' not supported");
    build(); put_str(40, "xts-foo");
    assert_string_equal(parse_msg(), "IV generator 'foo' not supported");
    build(); put_str(72, "md9");
    assert_string_equal(parse_msg(), "Hash algorithm 'md9' not supported");
    build(); put_str(40, "xts");
    assert_string_equal(parse_msg(), "Unexpected cipher mode string format 'xts'");
}

static void test_order(void **state)
{
    (void)state;
    build(); put_str(72, "md9"); put32(hdr + 208, 0);
    assert_string_equal(parse_msg(), "Keyslot 0 state (active/disable) is corrupted");
    build(); put_str(40, "foo-essiv:md9");
    assert_string_equal(parse_msg(), "Hash algorithm 'md9' not supported");
    build(); put_str(8, "foo"); put_str(40, "xts-foo");
    assert_string_equal(parse_msg(), "Algorithm 'foo' with key size 32 bytes not supported");
    build(); put_str(40, "xts-foo"); put_str(72, "md9");
    assert_string_equal(parse_msg(), "Hash algorithm 'md9' not supported");
    build(); put32(hdr + 208, 0); put32(hdr + 252, 0);
    assert_string_equal(parse_msg(), "Keyslot 0 is corrupted (stripes 0 != 4000)");
}

static void test_wrapping(void **state)
{
    (void)state;
    build(); put32(hdr + 108, 0x00418938);      /* 4294968 * 4000 wraps to 2816 bytes */
    assert_string_equal(parse_msg(), "Algorithm 'aes' with key size 2147484 bytes not supported");
    build(); put32(hdr + 208 + 40, 0xffffffff); /* start + length wraps below the payload */
    assert_string_equal(parse_msg(), "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_header),
        cmocka_unit_test(test_essiv),
        cmocka_unit_test(test_damage),
        cmocka_unit_test(test_order),
        cmocka_unit_test(test_wrapping),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
