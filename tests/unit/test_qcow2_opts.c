/*
 * test_qcow2_opts.c - unit tests for the qcow2 creation options
 * (formats/qcow2/options.c).
 *
 * Test plan:
 *  - qcow2_create_opts: "-o help" lines byte for byte as
 *    `qemu-img create -f qcow2 -o help` prints them, alone and merged with
 *    the file protocol's options (as with a target filename); the
 *    "Formatting" part of the line with defaults only and with every option
 *    set, in qemu's order.
 *  - qcow2_parse_create_opts: defaults; every accepted spelling (compat
 *    0.10/v2/1.1/v3, preallocation modes, zlib/zstd, bools as yes/no);
 *    every message `qemu-img create -f qcow2 -o ...` gives; the order of
 *    the checks when several fail (pairs checked against qemu-img 7.2);
 *    the encryption rules: the 'encryption' alias, missing format, bad
 *    format, LUKS enum values in QAPI order, LUKS-only options with the AES
 *    format (qemu names them in its hash table order), missing secret.
 *  - qcow2_parse_measure_opts: measure's own messages and its fewer rules
 *    (lazy refcounts, compression type, data file not checked; v2/v3 not
 *    accepted as compat; LUKS needs a secret, AES is ignored).
 * Every expected message was produced by qemu-img 7.2.
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

#include "../../formats/qcow2/qcow2_int.h"

static char msg[ERR_MSG_MAX];

/*
 * Parse s, validate it against the qcow2 + file option list, then run the
 * qcow2 parser (create or measure). Returns "OK" or the error message.
 */
static const char *run(const char *s, bool measure, struct qcow2_create_params *p)
{
    struct qcow2_create_params local;
    struct opt_desc *desc = opt_desc_merge(qcow2_create_opts, file_create_opts);
    struct opts o = { 0 };
    struct err err = { 0 };
    int ret;

    if (!p) {
        p = &local;
    }
    assert_int_equal(opts_parse(&o, s, &err), 0);
    ret = opts_validate(&o, desc, &err);
    if (ret == 0) {
        ret = measure ? qcow2_parse_measure_opts(&o, p, &err) : qcow2_parse_create_opts(&o, p, &err);
    }
    if (ret < 0) {
        assert_true(err.set);
        snprintf(msg, sizeof(msg), "%s", err.msg);
    } else {
        assert_false(err.set);
        snprintf(msg, sizeof(msg), "OK");
    }
    /* the strings in p point into o: tests look at them before this returns only */
    p->backing_file = p->backing_fmt = p->data_file = NULL;
    opts_free(&o);
    free(desc);
    return msg;
}

static const char *create(const char *s)
{
    return run(s, false, NULL);
}

static const char *measure(const char *s)
{
    return run(s, true, NULL);
}

static char *capture_help(const struct opt_desc *desc)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    assert_non_null(f);
    opt_desc_print_help(f, desc);
    assert_int_equal(fclose(f), 0);
    return buf;
}

static const char QCOW2_HELP[] =
    "  backing_file=<str>     - File name of a base image\n"
    "  backing_fmt=<str>      - Image format of the base image\n"
    "  cluster_size=<size>    - qcow2 cluster size\n"
    "  compat=<str>           - Compatibility level (v2 [0.10] or v3 [1.1])\n"
    "  compression_type=<str> - Compression method used for image cluster compression\n"
    "  data_file=<str>        - File name of an external data file\n"
    "  data_file_raw=<bool (on/off)> - The external data file must stay valid as a raw image\n"
    "  encrypt.cipher-alg=<str> - Name of encryption cipher algorithm\n"
    "  encrypt.cipher-mode=<str> - Name of encryption cipher mode\n"
    "  encrypt.format=<str>   - Encrypt the image, format choices: 'aes', 'luks'\n"
    "  encrypt.hash-alg=<str> - Name of encryption hash algorithm\n"
    "  encrypt.iter-time=<num> - Time to spend in PBKDF in milliseconds\n"
    "  encrypt.ivgen-alg=<str> - Name of IV generator algorithm\n"
    "  encrypt.ivgen-hash-alg=<str> - Name of IV generator hash algorithm\n"
    "  encrypt.key-secret=<str> - ID of secret providing qcow AES key or LUKS passphrase\n"
    "  encryption=<bool (on/off)> - Encrypt the image with format 'aes'. (Deprecated in favor "
    "of encrypt.format=aes)\n"
    "  extended_l2=<bool (on/off)> - Extended L2 tables\n";
static const char QCOW2_HELP_TAIL[] =
    "  lazy_refcounts=<bool (on/off)> - Postpone refcount updates\n"
    "  preallocation=<str>    - Preallocation mode (allowed values: off, metadata, falloc, "
    "full)\n"
    "  refcount_bits=<num>    - Width of a reference count entry in bits\n"
    "  size=<size>            - Virtual disk size\n";

static void test_help_text(void **state)
{
    char *got, *want;

    (void)state;
    got = capture_help(qcow2_create_opts);
    want = malloc(sizeof(QCOW2_HELP) + sizeof(QCOW2_HELP_TAIL));
    strcpy(want, QCOW2_HELP);
    strcat(want, QCOW2_HELP_TAIL);
    assert_string_equal(got, want);
    free(got);
    free(want);
}

static void test_help_text_with_protocol(void **state)
{
    struct opt_desc *desc = opt_desc_merge(qcow2_create_opts, file_create_opts);
    char *got = capture_help(desc);
    char *want = malloc(4096);

    (void)state;
    snprintf(want, 4096, "%s%s%s%s%s", QCOW2_HELP,
             "  extent_size_hint=<size> - Extent size hint for the image file, 0 to disable\n",
             "  lazy_refcounts=<bool (on/off)> - Postpone refcount updates\n",
             "  nocow=<bool (on/off)>  - Turn off copy-on-write (valid only on btrfs)\n",
             QCOW2_HELP_TAIL + strlen("  lazy_refcounts=<bool (on/off)> - Postpone refcount "
                                      "updates\n"));
    assert_string_equal(got, want);
    free(got);
    free(want);
    free(desc);
}

static char *formatting(const char *s)
{
    struct opt_desc *desc = opt_desc_merge(qcow2_create_opts, file_create_opts);
    struct opts o = { 0 };
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    assert_int_equal(opts_parse(&o, s, NULL), 0);
    opts_print_values(f, &o, desc);
    assert_int_equal(fclose(f), 0);
    opts_free(&o);
    free(desc);
    return buf;
}

static void test_formatting_line(void **state)
{
    char *line;

    (void)state;
    /* qemu-img create -f qcow2 x 1M */
    line = formatting("size=1048576");
    assert_string_equal(line, "cluster_size=65536 extended_l2=off compression_type=zlib "
                        "size=1048576 lazy_refcounts=off refcount_bits=16");
    free(line);
    /* every option set, in the reverse order: qemu prints its own order */
    line = formatting("extent_size_hint=1M,nocow=off,refcount_bits=16,lazy_refcounts=on,"
                      "data_file_raw=on,data_file=d.raw,backing_fmt=raw,backing_file=b.raw,"
                      "compat=1.1,size=1M,compression_type=zlib,preallocation=off,"
                      "extended_l2=off,cluster_size=64k");
    assert_string_equal(line, "cluster_size=65536 extended_l2=off preallocation=off "
                        "compression_type=zlib size=1048576 compat=1.1 backing_file=b.raw "
                        "backing_fmt=raw data_file=d.raw data_file_raw=on lazy_refcounts=on "
                        "refcount_bits=16 nocow=off extent_size_hint=1048576");
    free(line);
    line = formatting("encrypt.iter-time=10,encrypt.hash-alg=sha256,encrypt.ivgen-hash-alg=sha256,"
                      "encrypt.ivgen-alg=plain64,encrypt.cipher-mode=xts,"
                      "encrypt.cipher-alg=aes-256,encrypt.key-secret=s,encrypt.format=luks,"
                      "encryption=off,size=1M");
    assert_string_equal(line, "encryption=off encrypt.format=luks encrypt.key-secret=s "
                        "encrypt.cipher-alg=aes-256 encrypt.cipher-mode=xts "
                        "encrypt.ivgen-alg=plain64 encrypt.ivgen-hash-alg=sha256 "
                        "encrypt.hash-alg=sha256 encrypt.iter-time=10 cluster_size=65536 "
                        "extended_l2=off compression_type=zlib size=1048576 lazy_refcounts=off "
                        "refcount_bits=16");
    free(line);
}

static void test_create_defaults(void **state)
{
    struct qcow2_create_params p;

    (void)state;
    assert_string_equal(run("", false, &p), "OK");
    assert_false(p.has_size);
    assert_int_equal(p.version, 3);
    assert_int_equal(p.cluster_size, 65536);
    assert_int_equal(p.cluster_bits, 16);
    assert_false(p.extended_l2);
    assert_int_equal(p.prealloc, PREALLOC_OFF);
    assert_false(p.lazy_refcounts);
    assert_int_equal(p.refcount_bits, 16);
    assert_int_equal(p.refcount_order, 4);
    assert_int_equal(p.compression_type, 0);
    assert_false(p.data_file_raw);
    assert_int_equal(p.encrypt, QCOW2_ENCRYPT_NONE);
}

static void test_create_values(void **state)
{
    struct qcow2_create_params p;

    (void)state;
    assert_string_equal(run("compat=0.10", false, &p), "OK");
    assert_int_equal(p.version, 2);
    assert_string_equal(run("compat=v2", false, &p), "OK");
    assert_int_equal(p.version, 2);
    assert_string_equal(run("compat=1.1", false, &p), "OK");
    assert_int_equal(p.version, 3);
    assert_string_equal(run("compat=v3", false, &p), "OK");
    assert_int_equal(p.version, 3);
    assert_string_equal(run("size=1000", false, &p), "OK");
    assert_true(p.has_size);
    assert_int_equal(p.size, 1024);             /* rounded up to sectors */
    assert_string_equal(run("size=0", false, &p), "OK");
    assert_true(p.has_size);
    assert_int_equal(p.size, 0);
    assert_string_equal(run("cluster_size=512,refcount_bits=1", false, &p), "OK");
    assert_int_equal(p.cluster_bits, 9);
    assert_int_equal(p.refcount_order, 0);
    assert_string_equal(run("cluster_size=2M,refcount_bits=64", false, &p), "OK");
    assert_int_equal(p.cluster_bits, 21);
    assert_int_equal(p.refcount_order, 6);
    assert_string_equal(run("extended_l2=on,cluster_size=16k", false, &p), "OK");
    assert_true(p.extended_l2);
    assert_string_equal(run("extended_l2=yes", false, &p), "OK");
    assert_true(p.extended_l2);
    assert_string_equal(run("lazy_refcounts=y", false, &p), "OK");
    assert_true(p.lazy_refcounts);
    assert_string_equal(run("compression_type=zstd", false, &p), "OK");
    assert_int_equal(p.compression_type, 1);
    assert_string_equal(run("compression_type=zlib,compat=0.10", false, &p), "OK");
    assert_string_equal(run("preallocation=metadata", false, &p), "OK");
    assert_int_equal(p.prealloc, PREALLOC_METADATA);
    assert_string_equal(run("preallocation=falloc", false, &p), "OK");
    assert_int_equal(p.prealloc, PREALLOC_FALLOC);
    assert_string_equal(run("preallocation=full", false, &p), "OK");
    assert_int_equal(p.prealloc, PREALLOC_FULL);
    assert_string_equal(run("data_file=d.raw,data_file_raw=on", false, &p), "OK");
    assert_true(p.data_file_raw);
    assert_string_equal(run("backing_file=b.raw,backing_fmt=raw", false, &p), "OK");
    assert_string_equal(run("backing_file=b.raw,preallocation=full,extended_l2=on", false, &p),
                        "OK");
    assert_string_equal(run("encryption=off", false, &p), "OK");
    assert_int_equal(p.encrypt, QCOW2_ENCRYPT_NONE);
    assert_string_equal(run("compat=0.10,refcount_bits=16", false, &p), "OK");
    /* options of the file protocol pass through */
    assert_string_equal(run("nocow=on,extent_size_hint=1M", false, &p), "OK");
}

static void test_create_strings_point_into_opts(void **state)
{
    struct opts o = { 0 };
    struct qcow2_create_params p;
    struct err err = { 0 };

    (void)state;
    opts_parse(&o, "backing_file=b.raw,backing_fmt=raw,data_file=,compat=1.1", NULL);
    assert_int_equal(qcow2_parse_create_opts(&o, &p, &err), 0);
    assert_string_equal(p.backing_file, "b.raw");
    assert_string_equal(p.backing_fmt, "raw");
    assert_string_equal(p.data_file, "");       /* given, empty */
    opts_free(&o);
}

#define V3 " only supported with compatibility level 1.1 and above (use version=v3 or greater)"

static void test_create_messages(void **state)
{
    (void)state;
    assert_string_equal(create("compat=foo"), "Parameter 'version' does not accept value 'foo'");
    assert_string_equal(create("compat=1.0"), "Parameter 'version' does not accept value '1.0'");
    assert_string_equal(create("compat="), "Parameter 'version' does not accept value ''");
    assert_string_equal(create("preallocation=foo"),
                        "Parameter 'preallocation' does not accept value 'foo'");
    assert_string_equal(create("compression_type=foo"),
                        "Parameter 'compression-type' does not accept value 'foo'");
    for (size_t i = 0; i < 5; i++) {
        static const char *const bad[] = {
            "cluster_size=256", "cluster_size=1000", "cluster_size=4M", "cluster_size=0",
            "cluster_size=1T",
        };
        assert_string_equal(create(bad[i]),
                            "Cluster size must be a power of two between 512 and 2048k");
    }
    assert_string_equal(create("cluster_size=abc"),
                        "Parameter 'cluster_size' expects a non-negative number below 2^64\n"
                        "Optional suffix k, M, G, T, P or E means kilo-, mega-, giga-, tera-, "
                        "peta-\nand exabytes, respectively.");
    assert_string_equal(create("refcount_bits=3"),
                        "Refcount width must be a power of two and may not exceed 64 bits");
    assert_string_equal(create("refcount_bits=128"),
                        "Refcount width must be a power of two and may not exceed 64 bits");
    assert_string_equal(create("refcount_bits=0"),
                        "Refcount width must be a power of two and may not exceed 64 bits");
    assert_string_equal(create("refcount_bits=-1"),
                        "Refcount width must be a power of two and may not exceed 64 bits");
    assert_string_equal(create("refcount_bits=abc"), "Parameter 'refcount_bits' expects a number");
    assert_string_equal(create("compat=0.10,refcount_bits=8"),
                        "Different refcount widths than 16 bits require compatibility level 1.1 "
                        "or above (use version=v3 or greater)");
    assert_string_equal(create("lazy_refcounts=on,compat=0.10"), "Lazy refcounts" V3);
    assert_string_equal(create("lazy_refcounts=yes,compat=v2"), "Lazy refcounts" V3);
    assert_string_equal(create("lazy_refcounts=foo"),
                        "Parameter 'lazy_refcounts' expects 'on' or 'off'");
    assert_string_equal(create("extended_l2=on,cluster_size=8k"),
                        "Extended L2 entries are only supported with cluster sizes of at least "
                        "16384 bytes");
    assert_string_equal(create("extended_l2=on,compat=0.10"), "Extended L2 entries are" V3);
    assert_string_equal(create("compression_type=zstd,compat=0.10"),
                        "Non-zlib compression type is" V3);
    assert_string_equal(create("data_file_raw=on"), "data-file-raw requires data-file");
    assert_string_equal(create("data_file=d.raw,compat=0.10"), "External data files are" V3);
    assert_string_equal(create("data_file=d,data_file_raw=on,backing_file=b,backing_fmt=raw"),
                        "Backing file and data-file-raw cannot be used at the same time");
    assert_string_equal(create("backing_fmt=raw"),
                        "Backing format cannot be used without backing file");
    assert_string_equal(create("preallocation=metadata,backing_file=b"),
                        "Backing file and preallocation can only be used at the same time if "
                        "extended_l2 is on");
    assert_string_equal(create("size=abc"),
                        "Parameter 'size' expects a non-negative number below 2^64\n"
                        "Optional suffix k, M, G, T, P or E means kilo-, mega-, giga-, tera-, "
                        "peta-\nand exabytes, respectively.");
}

/* When several checks fail, qemu reports the first in its own order. */
static void test_create_order(void **state)
{
    (void)state;
    /* the typed conversion comes first: version, encrypt, preallocation, compression type */
    assert_string_equal(create("compression_type=foo,preallocation=foo,compat=foo"),
                        "Parameter 'version' does not accept value 'foo'");
    assert_string_equal(create("compression_type=foo,preallocation=foo,encrypt.format=foo"),
                        "Parameter 'format' does not accept value 'foo'");
    assert_string_equal(create("compression_type=foo,preallocation=foo"),
                        "Parameter 'preallocation' does not accept value 'foo'");
    assert_string_equal(create("cluster_size=1000,compression_type=foo"),
                        "Parameter 'compression-type' does not accept value 'foo'");
    /* then the qcow2 rules */
    assert_string_equal(create("cluster_size=1000,extended_l2=on,compat=0.10"),
                        "Extended L2 entries are" V3);
    assert_string_equal(create("extended_l2=on,cluster_size=1000"),
                        "Cluster size must be a power of two between 512 and 2048k");
    assert_string_equal(create("lazy_refcounts=on,compat=0.10,cluster_size=1000"),
                        "Cluster size must be a power of two between 512 and 2048k");
    assert_string_equal(create("backing_fmt=raw,preallocation=full,cluster_size=1000"),
                        "Cluster size must be a power of two between 512 and 2048k");
    assert_string_equal(create("lazy_refcounts=on,compat=0.10,backing_fmt=raw"),
                        "Backing format cannot be used without backing file");
    assert_string_equal(create("backing_fmt=raw,backing_file=b,preallocation=full"),
                        "Backing file and preallocation can only be used at the same time if "
                        "extended_l2 is on");
    assert_string_equal(create("refcount_bits=3,lazy_refcounts=on,compat=0.10"),
                        "Lazy refcounts" V3);
    assert_string_equal(create("data_file_raw=on,refcount_bits=3"),
                        "Refcount width must be a power of two and may not exceed 64 bits");
    assert_string_equal(create("compat=0.10,data_file=d,data_file_raw=on,backing_file=b,"
                               "backing_fmt=raw"),
                        "Backing file and data-file-raw cannot be used at the same time");
    assert_string_equal(create("compat=0.10,data_file=d,compression_type=zstd"),
                        "External data files are" V3);
    assert_string_equal(create("data_file_raw=on,compat=0.10,compression_type=zstd"),
                        "data-file-raw requires data-file");
    assert_string_equal(create("encrypt.format=luks,compression_type=zstd,compat=0.10"),
                        "Non-zlib compression type is" V3);
    assert_string_equal(create("encrypt.format=luks,encrypt.key-secret=s,cluster_size=4M"),
                        "Cluster size must be a power of two between 512 and 2048k");
}

static void test_create_encryption(void **state)
{
    (void)state;
    assert_string_equal(create("encryption=on"),
                        "Parameter 'encrypt.key-secret' is required for cipher");
    assert_string_equal(create("encryption"),
                        "Parameter 'encrypt.key-secret' is required for cipher");
    assert_string_equal(create("encryption=on,encrypt.key-secret=sec0"),
                        "No secret with id 'sec0'");
    assert_string_equal(create("encrypt.format=aes"),
                        "Parameter 'encrypt.key-secret' is required for cipher");
    assert_string_equal(create("encrypt.format=qcow"),
                        "Parameter 'encrypt.key-secret' is required for cipher");
    assert_string_equal(create("encrypt.format=luks"),
                        "Parameter 'encrypt.key-secret' is required for cipher");
    assert_string_equal(create("encrypt.format=luks,encrypt.key-secret="), "No secret with id ''");
    assert_string_equal(create("encrypt.format=luks,encrypt.cipher-alg=aes-128,"
                               "encrypt.cipher-mode=cbc,encrypt.ivgen-alg=essiv,"
                               "encrypt.ivgen-hash-alg=sha1,encrypt.hash-alg=sha512,"
                               "encrypt.iter-time=5"),
                        "Parameter 'encrypt.key-secret' is required for cipher");
    /* the alias */
    assert_string_equal(create("encryption=on,encrypt.format=luks,compat=foo"),
                        "'encrypt.format' and its alias 'encryption' can't be used at the same "
                        "time");
    assert_string_equal(create("encryption=off,encrypt.format=luks"),
                        "Parameter 'encrypt.key-secret' is required for cipher");
    assert_string_equal(create("encryption=yes"), "Parameter 'format' does not accept value 'yes'");
    assert_string_equal(create("encryption=n"), "Parameter 'format' does not accept value 'n'");
    assert_string_equal(create("encryption=foo"), "Parameter 'encryption' expects 'on' or 'off'");
    /* the group */
    assert_string_equal(create("encrypt.key-secret=s"), "Parameter 'encrypt.format' is missing");
    assert_string_equal(create("encryption=off,encrypt.iter-time=1"),
                        "Parameter 'encrypt.format' is missing");
    assert_string_equal(create("encrypt.format=LUKS"),
                        "Parameter 'format' does not accept value 'LUKS'");
    assert_string_equal(create("encrypt.format="), "Parameter 'format' does not accept value ''");
    assert_string_equal(create("encrypt.format=luks,encrypt.hash-alg=bar,encrypt.cipher-alg=foo"),
                        "Parameter 'cipher-alg' does not accept value 'foo'");
    assert_string_equal(create("encrypt.format=luks,encrypt.ivgen-alg=foo,encrypt.cipher-mode=bar"),
                        "Parameter 'cipher-mode' does not accept value 'bar'");
    assert_string_equal(create("encrypt.format=luks,encrypt.hash-alg=z,encrypt.ivgen-hash-alg=y,"
                               "encrypt.ivgen-alg=x"),
                        "Parameter 'ivgen-alg' does not accept value 'x'");
    assert_string_equal(create("encrypt.format=luks,encrypt.hash-alg=z,encrypt.ivgen-hash-alg=y"),
                        "Parameter 'ivgen-hash-alg' does not accept value 'y'");
    assert_string_equal(create("encrypt.format=luks,encrypt.hash-alg=sm3"),
                        "Parameter 'hash-alg' does not accept value 'sm3'");
    assert_string_equal(create("encrypt.format=luks,encrypt.cipher-alg=sm4"),
                        "Parameter 'cipher-alg' does not accept value 'sm4'");
    assert_string_equal(create("encrypt.format=luks,encrypt.iter-time=abc"),
                        "Parameter 'encrypt.iter-time' expects a number");
    assert_string_equal(create("encrypt.format=luks,encrypt.foo=1"),
                        "Invalid parameter 'encrypt.foo'");
    /* the group is checked before preallocation, after the version */
    assert_string_equal(create("preallocation=foo,encrypt.format=foo"),
                        "Parameter 'format' does not accept value 'foo'");
    assert_string_equal(create("encrypt.format=foo,compat=foo"),
                        "Parameter 'version' does not accept value 'foo'");
}

/* LUKS-only options with the AES format: qemu names the first in its hash table order. */
static void test_create_unexpected(void **state)
{
    (void)state;
    assert_string_equal(create("encrypt.format=aes,encrypt.iter-time=10"),
                        "Parameter 'encrypt.iter-time' is unexpected");
    assert_string_equal(create("encrypt.format=aes,encrypt.iter-time=10,encrypt.cipher-alg=x"),
                        "Parameter 'encrypt.cipher-alg' is unexpected");
    assert_string_equal(create("encrypt.format=aes,encrypt.cipher-alg=x,encrypt.iter-time=10"),
                        "Parameter 'encrypt.cipher-alg' is unexpected");
    assert_string_equal(create("encrypt.format=aes,encrypt.hash-alg=sha1,encrypt.cipher-mode=xts,"
                               "encrypt.ivgen-alg=plain"),
                        "Parameter 'encrypt.cipher-mode' is unexpected");
    assert_string_equal(create("encrypt.format=aes,encrypt.ivgen-alg=c,encrypt.hash-alg=e"),
                        "Parameter 'encrypt.ivgen-alg' is unexpected");
    assert_string_equal(create("encrypt.format=aes,encrypt.ivgen-hash-alg=d,encrypt.hash-alg=e"),
                        "Parameter 'encrypt.hash-alg' is unexpected");
    assert_string_equal(create("encrypt.format=aes,encrypt.ivgen-hash-alg=d,encrypt.iter-time=1"),
                        "Parameter 'encrypt.iter-time' is unexpected");
    assert_string_equal(create("encrypt.format=aes,encrypt.key-secret=s,encrypt.ivgen-hash-alg=d,"
                               "encrypt.ivgen-alg=1"),
                        "Parameter 'encrypt.ivgen-alg' is unexpected");
    assert_string_equal(create("encrypt.format=aes,encrypt.cipher-alg=a,encrypt.cipher-mode=b,"
                               "encrypt.ivgen-alg=c,encrypt.ivgen-hash-alg=d,encrypt.hash-alg=e,"
                               "encrypt.iter-time=1"),
                        "Parameter 'encrypt.cipher-alg' is unexpected");
    assert_string_equal(create("encrypt.format=aes,encrypt.key-secret=s,encrypt.cipher-alg=a,"
                               "encrypt.cipher-mode=b,encrypt.ivgen-alg=c,encrypt.ivgen-hash-alg=d,"
                               "encrypt.hash-alg=e,encrypt.iter-time=1"),
                        "Parameter 'encrypt.hash-alg' is unexpected");
    assert_string_equal(create("encryption=on,encrypt.cipher-alg=aes-256"),
                        "Parameter 'encrypt.cipher-alg' is unexpected");
    assert_string_equal(create("encrypt.format=aes,encrypt.cipher-mode=b,encrypt.iter-time=1"),
                        "Parameter 'encrypt.iter-time' is unexpected");
}

static void test_measure_opts(void **state)
{
    struct qcow2_create_params p;

    (void)state;
    assert_string_equal(run("", true, &p), "OK");
    assert_int_equal(p.version, 3);
    assert_int_equal(p.cluster_size, 65536);
    assert_int_equal(p.size, 0);
    assert_false(p.has_size);
    assert_string_equal(run("size=1000,cluster_size=512,refcount_bits=64", true, &p), "OK");
    assert_true(p.has_size);
    assert_int_equal(p.size, 1000);             /* measure rounds to clusters itself */
    assert_int_equal(p.refcount_order, 6);
    assert_string_equal(run("preallocation=full,backing_file=", true, &p), "OK");
    assert_int_equal(p.prealloc, PREALLOC_FULL);
    /* not measure's business */
    assert_string_equal(measure("lazy_refcounts=on,compat=0.10"), "OK");
    assert_string_equal(measure("extended_l2=on,compat=0.10"), "OK");
    assert_string_equal(measure("compression_type=foo"), "OK");
    assert_string_equal(measure("data_file_raw=on"), "OK");
    assert_string_equal(measure("backing_fmt=raw"), "OK");
    assert_string_equal(measure("encryption=on"), "OK");
    assert_string_equal(measure("encrypt.format=aes"), "OK");
    assert_string_equal(measure("encrypt.format=LUKS"), "OK");
    /* measure's messages */
    assert_string_equal(measure("compat=v2"), "Invalid compatibility level: 'v2'");
    assert_string_equal(measure("compat=v3"), "Invalid compatibility level: 'v3'");
    assert_string_equal(measure("compat="), "Invalid compatibility level: ''");
    assert_string_equal(measure("preallocation=foo"), "invalid parameter value: foo");
    assert_string_equal(measure("compat=0.10,refcount_bits=8"),
                        "Different refcount widths than 16 bits require compatibility level 1.1 "
                        "or above (use compat=1.1 or greater)");
    assert_string_equal(measure("cluster_size=1000"),
                        "Cluster size must be a power of two between 512 and 2048k");
    assert_string_equal(measure("extended_l2=on,cluster_size=8k"),
                        "Extended L2 entries are only supported with cluster sizes of at least "
                        "16384 bytes");
    assert_string_equal(measure("encrypt.format=luks"),
                        "Parameter 'encrypt.key-secret' is required for cipher");
    assert_string_equal(measure("encrypt.format=luks,encrypt.key-secret=s"),
                        "No secret with id 's'");
    assert_string_equal(measure("encrypt.format=luks,encrypt.cipher-alg=foo"),
                        "Parameter 'cipher-alg' does not accept value 'foo'");
    /* measure's order: cluster size, compat, refcount width, preallocation, LUKS */
    assert_string_equal(measure("extended_l2=on,cluster_size=8k,compat=foo"),
                        "Extended L2 entries are only supported with cluster sizes of at least "
                        "16384 bytes");
    assert_string_equal(measure("compat=foo,refcount_bits=3"),
                        "Invalid compatibility level: 'foo'");
    assert_string_equal(measure("compat=0.10,refcount_bits=3"),
                        "Refcount width must be a power of two and may not exceed 64 bits");
    assert_string_equal(measure("refcount_bits=3,preallocation=foo"),
                        "Refcount width must be a power of two and may not exceed 64 bits");
    assert_string_equal(measure("preallocation=foo,encrypt.format=luks"),
                        "invalid parameter value: foo");
    assert_string_equal(measure("encrypt.format=luks,encrypt.key-secret=s,cluster_size=1000"),
                        "Cluster size must be a power of two between 512 and 2048k");
}

static void test_luks_helpers(void **state)
{
    struct opts o = { 0 };
    struct err err = { 0 };

    (void)state;
    opts_parse(&o, "cipher-alg=twofish-256,cipher-mode=ctr,ivgen-alg=plain,"
                   "ivgen-hash-alg=ripemd160,hash-alg=md5", NULL);
    assert_int_equal(qcow2_check_luks_opts(&o, "", &err), 0);
    assert_false(err.set);
    assert_int_equal(qcow2_no_secret(&o, "", &err), -EINVAL);
    assert_string_equal(err.msg, "Parameter 'key-secret' is required for cipher");
    opts_set(&o, "key-secret", "k");
    err_clear(&err);
    assert_int_equal(qcow2_no_secret(&o, "", &err), -EINVAL);
    assert_string_equal(err.msg, "No secret with id 'k'");
    opts_set(&o, "cipher-mode", "gcm");
    err_clear(&err);
    assert_int_equal(qcow2_check_luks_opts(&o, "", &err), -EINVAL);
    assert_string_equal(err.msg, "Parameter 'cipher-mode' does not accept value 'gcm'");
    opts_free(&o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_help_text),
        cmocka_unit_test(test_help_text_with_protocol),
        cmocka_unit_test(test_formatting_line),
        cmocka_unit_test(test_create_defaults),
        cmocka_unit_test(test_create_values),
        cmocka_unit_test(test_create_strings_point_into_opts),
        cmocka_unit_test(test_create_messages),
        cmocka_unit_test(test_create_order),
        cmocka_unit_test(test_create_encryption),
        cmocka_unit_test(test_create_unexpected),
        cmocka_unit_test(test_measure_opts),
        cmocka_unit_test(test_luks_helpers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
