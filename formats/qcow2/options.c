/*
 * options.c - the creation options of qcow2 and their checks, as
 * `qemu-img create -f qcow2 -o ...` and `qemu-img measure -O qcow2 -o ...`
 * report them.
 *
 * qemu checks creation options in three rounds, and the first problem wins:
 *  1. the 'encryption' alias is folded into 'encrypt.format';
 *  2. the options are converted to qemu's typed creation structure, which
 *     rejects unknown enum values in field order: version (compat), the
 *     encrypt group, preallocation, compression type. Messages name the
 *     QAPI field ("Parameter 'version' does not accept value 'x'");
 *  3. the qcow2 rules on the combination (see qcow2_parse_create_opts()).
 * measure reads the same options with its own, shorter list of rules and
 * messages (qcow2_parse_measure_opts()).
 *
 * Every message and its place in the order were taken from qemu-img 7.2.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "../../engine/size.h"
#include "../../engine/util.h"
#include "qcow2_int.h"

#define DEFAULT_CLUSTER_SIZE 65536
#define MIN_EXTL2_CLUSTER_SIZE 16384

const struct opt_desc qcow2_create_opts[] = {
    { "encryption", OPT_BOOL,
      "Encrypt the image with format 'aes'. (Deprecated in favor of encrypt.format=aes)", NULL },
    { "encrypt.format", OPT_STRING, "Encrypt the image, format choices: 'aes', 'luks'", NULL },
    { "encrypt.key-secret", OPT_STRING, "ID of secret providing qcow AES key or LUKS passphrase",
      NULL },
    { "encrypt.cipher-alg", OPT_STRING, "Name of encryption cipher algorithm", NULL },
    { "encrypt.cipher-mode", OPT_STRING, "Name of encryption cipher mode", NULL },
    { "encrypt.ivgen-alg", OPT_STRING, "Name of IV generator algorithm", NULL },
    { "encrypt.ivgen-hash-alg", OPT_STRING, "Name of IV generator hash algorithm", NULL },
    { "encrypt.hash-alg", OPT_STRING, "Name of encryption hash algorithm", NULL },
    { "encrypt.iter-time", OPT_NUMBER, "Time to spend in PBKDF in milliseconds", NULL },
    { "cluster_size", OPT_SIZE, "qcow2 cluster size", "65536" },
    { "extended_l2", OPT_BOOL, "Extended L2 tables", "off" },
    { "preallocation", OPT_STRING,
      "Preallocation mode (allowed values: off, metadata, falloc, full)", NULL },
    { "compression_type", OPT_STRING, "Compression method used for image cluster compression",
      "zlib" },
    { "size", OPT_SIZE, "Virtual disk size", NULL },
    { "compat", OPT_STRING, "Compatibility level (v2 [0.10] or v3 [1.1])", NULL },
    { "backing_file", OPT_STRING, "File name of a base image", NULL },
    { "backing_fmt", OPT_STRING, "Image format of the base image", NULL },
    { "data_file", OPT_STRING, "File name of an external data file", NULL },
    { "data_file_raw", OPT_BOOL, "The external data file must stay valid as a raw image", NULL },
    { "lazy_refcounts", OPT_BOOL, "Postpone refcount updates", "off" },
    { "refcount_bits", OPT_NUMBER, "Width of a reference count entry in bits", "16" },
    { NULL, 0, NULL, NULL },
};

/* ------------------------------------------------------------------------ */
/* encryption options                                                         */

/* The LUKS options after "encrypt.", in the order qemu's crypto layer reads them. */
static const char *const luks_cipher_algs[] = {
    "aes-128", "aes-192", "aes-256", "des", "3des", "cast5-128", "serpent-128", "serpent-192",
    "serpent-256", "twofish-128", "twofish-192", "twofish-256", NULL,
};
static const char *const luks_cipher_modes[] = { "ecb", "cbc", "xts", "ctr", NULL };
static const char *const luks_ivgen_algs[] = { "plain", "plain64", "essiv", NULL };
static const char *const luks_hash_algs[] = {
    "md5", "sha1", "sha224", "sha256", "sha384", "sha512", "ripemd160", NULL,
};

static const struct {
    const char *name;
    const char *const *values;
} luks_enums[] = {
    { "cipher-alg", luks_cipher_algs },
    { "cipher-mode", luks_cipher_modes },
    { "ivgen-alg", luks_ivgen_algs },
    { "ivgen-hash-alg", luks_hash_algs },
    { "hash-alg", luks_hash_algs },
};

/* Members of the encrypt group beyond "format" and "key-secret": LUKS only. */
static const char *const luks_only[] = {
    "cipher-alg", "cipher-mode", "ivgen-alg", "ivgen-hash-alg", "hash-alg", "iter-time",
};

static bool in_list(const char *const *list, const char *v)
{
    for (; *list; list++) {
        if (!strcmp(*list, v)) {
            return true;
        }
    }
    return false;
}

static const char *get_prefixed(const struct opts *o, const char *prefix, const char *name)
{
    char key[64];

    snprintf(key, sizeof(key), "%s%s", prefix, name);
    return opts_get(o, key);
}

int qcow2_check_luks_opts(const struct opts *o, const char *prefix, struct err *err)
{
    for (size_t i = 0; i < ARRAY_SIZE(luks_enums); i++) {
        const char *v = get_prefixed(o, prefix, luks_enums[i].name);

        if (v && !in_list(luks_enums[i].values, v)) {
            /* qemu names the field without its "encrypt." group here */
            return err_set(err, -EINVAL, "Parameter '%s' does not accept value '%s'",
                           luks_enums[i].name, v);
        }
    }
    return 0;
}

int qcow2_no_secret(const struct opts *o, const char *prefix, struct err *err)
{
    const char *id = get_prefixed(o, prefix, "key-secret");

    if (!id) {
        return err_set(err, -EINVAL, "Parameter '%skey-secret' is required for cipher", prefix);
    }
    return err_set(err, -EINVAL, "No secret with id '%s'", id);
}

/*
 * Which LUKS-only member qemu names first when an AES group has some: its
 * checker walks a GLib hash table of the group's members, filled in the
 * order qemu's dictionary lists them. Rebuilt here: GLib's string hash,
 * index (hash * 11) % 7 in an 8-slot table, quadratic probing.
 */
static const char *first_unexpected(const struct opts *o)
{
    /* the group's member names in qemu's dictionary order */
    static const char *const dict_order[] = {
        "ivgen-alg", "hash-alg", "cipher-alg", "iter-time", "ivgen-hash-alg", "format",
        "cipher-mode", "key-secret",
    };
    const char *slot[8] = { NULL };
    size_t present = 0;

    for (size_t i = 0; i < ARRAY_SIZE(dict_order); i++) {
        present += get_prefixed(o, "encrypt.", dict_order[i]) != NULL ||
                   !strcmp(dict_order[i], "format");
    }
    if (present == ARRAY_SIZE(dict_order)) {
        return "hash-alg";      /* all eight: GLib grows the table; observed result */
    }
    for (size_t i = 0; i < ARRAY_SIZE(dict_order); i++) {
        const char *name = dict_order[i];
        uint32_t h = 5381;
        unsigned idx, step = 0;

        if (strcmp(name, "format") && !get_prefixed(o, "encrypt.", name)) {
            continue;
        }
        for (const char *c = name; *c; c++) {
            h = h * 33 + (uint32_t)(unsigned char)*c;
        }
        idx = (uint32_t)(h * 11u) % 7u;
        while (slot[idx]) {
            step++;
            idx = (idx + step) & 7u;
        }
        slot[idx] = name;
    }
    for (size_t i = 0; i < 8; i++) {
        if (slot[i] && strcmp(slot[i], "format") && strcmp(slot[i], "key-secret")) {
            return slot[i];
        }
    }
    return NULL;
}

/* Does any encrypt.* option appear? */
static bool has_encrypt_group(const struct opts *o)
{
    for (size_t i = 0; i < o->n; i++) {
        if (!strncmp(o->v[i].name, "encrypt.", 8)) {
            return true;
        }
    }
    return false;
}

/*
 * Rounds 1 and 2 for the encrypt group. *format is the group's format
 * after folding in 'encryption' (NULL: no encryption).
 */
static int check_encrypt_alias(const struct opts *o, const char **format, struct err *err)
{
    const char *alias = opts_get(o, "encryption");

    *format = opts_get(o, "encrypt.format");
    if (alias && !strcmp(alias, "off")) {
        alias = NULL;           /* dropped */
    }
    if (alias) {
        if (*format) {
            return err_set(err, -EINVAL,
                           "'encrypt.format' and its alias 'encryption' can't be used at the "
                           "same time");
        }
        /* "on" means the AES format; other spellings of a bool are taken literally */
        *format = !strcmp(alias, "on") ? "aes" : alias;
    }
    return 0;
}

static int check_encrypt_group(const struct opts *o, const char *format,
                               enum qcow2_encrypt_format *out, struct err *err)
{
    const char *extra;

    *out = QCOW2_ENCRYPT_NONE;
    if (!format) {
        if (has_encrypt_group(o)) {
            return err_set(err, -EINVAL, "Parameter 'encrypt.format' is missing");
        }
        return 0;
    }
    if (!strcmp(format, "luks")) {
        *out = QCOW2_ENCRYPT_LUKS;
        return qcow2_check_luks_opts(o, "encrypt.", err);
    }
    if (strcmp(format, "aes") && strcmp(format, "qcow")) {
        return err_set(err, -EINVAL, "Parameter 'format' does not accept value '%s'", format);
    }
    *out = QCOW2_ENCRYPT_AES;
    extra = NULL;
    for (size_t i = 0; i < ARRAY_SIZE(luks_only); i++) {
        if (get_prefixed(o, "encrypt.", luks_only[i])) {
            extra = first_unexpected(o);
            break;
        }
    }
    if (extra) {
        return err_set(err, -EINVAL, "Parameter 'encrypt.%s' is unexpected", extra);
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* shared checks                                                              */

static bool is_pow2(uint64_t v)
{
    return v && !(v & (v - 1));
}

static unsigned log2_of(uint64_t v)
{
    unsigned n = 0;

    while (v > 1) {
        v >>= 1;
        n++;
    }
    return n;
}

static int get_cluster_size(const struct opts *o, struct qcow2_create_params *p, struct err *err)
{
    int ret = opts_get_size(o, "cluster_size", DEFAULT_CLUSTER_SIZE, &p->cluster_size, err);

    if (ret < 0) {
        return ret;
    }
    if (!is_pow2(p->cluster_size) || p->cluster_size < (1u << QCOW2_MIN_CLUSTER_BITS) ||
        p->cluster_size > (1u << QCOW2_MAX_CLUSTER_BITS)) {
        return err_set(err, -EINVAL, "Cluster size must be a power of two between %d and %dk",
                       1 << QCOW2_MIN_CLUSTER_BITS, 1 << (QCOW2_MAX_CLUSTER_BITS - 10));
    }
    p->cluster_bits = log2_of(p->cluster_size);
    if (p->extended_l2 && p->cluster_size < MIN_EXTL2_CLUSTER_SIZE) {
        return err_set(err, -EINVAL, "Extended L2 entries are only supported with cluster sizes "
                       "of at least %d bytes", MIN_EXTL2_CLUSTER_SIZE);
    }
    return 0;
}

static int get_refcount_bits(const struct opts *o, struct qcow2_create_params *p,
                             const char *upgrade_hint, struct err *err)
{
    uint64_t bits;
    int ret = opts_get_number(o, "refcount_bits", 16, &bits, err);

    if (ret < 0) {
        return ret;
    }
    if (bits > 64 || !is_pow2(bits)) {
        return err_set(err, -EINVAL,
                       "Refcount width must be a power of two and may not exceed 64 bits");
    }
    if (p->version < 3 && bits != 16) {
        return err_set(err, -EINVAL, "Different refcount widths than 16 bits require "
                       "compatibility level 1.1 or above (use %s or greater)", upgrade_hint);
    }
    p->refcount_bits = (unsigned)bits;
    p->refcount_order = log2_of(bits);
    return 0;
}

static void defaults(struct qcow2_create_params *p)
{
    memset(p, 0, sizeof(*p));
    p->version = 3;
    p->cluster_size = DEFAULT_CLUSTER_SIZE;
    p->cluster_bits = 16;
    p->prealloc = PREALLOC_OFF;
    p->refcount_bits = 16;
    p->refcount_order = 4;
}

/* ------------------------------------------------------------------------ */
/* create                                                                     */

#define NEEDS_V3 " only supported with compatibility level 1.1 and above (use version=v3 or greater)"

int qcow2_parse_create_opts(struct opts *o, struct qcow2_create_params *p, struct err *err)
{
    const char *v, *enc_format;
    uint64_t size;
    int ret;

    defaults(p);

    /* round 1: the alias */
    ret = check_encrypt_alias(o, &enc_format, err);
    if (ret < 0) {
        return ret;
    }

    /* round 2: typed conversion, in field order */
    v = opts_get(o, "compat");
    if (v) {
        if (!strcmp(v, "0.10") || !strcmp(v, "v2")) {
            p->version = 2;
        } else if (!strcmp(v, "1.1") || !strcmp(v, "v3")) {
            p->version = 3;
        } else {
            return err_set(err, -EINVAL, "Parameter 'version' does not accept value '%s'", v);
        }
    }
    ret = check_encrypt_group(o, enc_format, &p->encrypt, err);
    if (ret < 0) {
        return ret;
    }
    v = opts_get(o, "preallocation");
    if (v && prealloc_parse(v, &p->prealloc) < 0) {
        return err_set(err, -EINVAL, "Parameter 'preallocation' does not accept value '%s'", v);
    }
    v = opts_get(o, "compression_type");
    if (v) {
        if (!strcmp(v, "zlib")) {
            p->compression_type = 0;
        } else if (!strcmp(v, "zstd")) {
            p->compression_type = 1;
        } else {
            return err_set(err, -EINVAL,
                           "Parameter 'compression-type' does not accept value '%s'", v);
        }
    }
    if ((ret = opts_get_bool(o, "extended_l2", false, &p->extended_l2, err)) < 0 ||
        (ret = opts_get_bool(o, "lazy_refcounts", false, &p->lazy_refcounts, err)) < 0 ||
        (ret = opts_get_bool(o, "data_file_raw", false, &p->data_file_raw, err)) < 0) {
        return ret;
    }
    p->backing_file = opts_get(o, "backing_file");
    p->backing_fmt = opts_get(o, "backing_fmt");
    p->data_file = opts_get(o, "data_file");
    if (opts_get(o, "size")) {
        ret = opts_get_size(o, "size", 0, &size, err);
        if (ret < 0) {
            return ret;
        }
        p->size = round_up(size, 512);      /* silently, as qemu does */
        p->has_size = true;
    }

    /* round 3: the qcow2 rules */
    if (p->extended_l2 && p->version < 3) {
        return err_set(err, -EINVAL, "Extended L2 entries are" NEEDS_V3);
    }
    ret = get_cluster_size(o, p, err);
    if (ret < 0) {
        return ret;
    }
    if (p->backing_file && p->prealloc != PREALLOC_OFF && !p->extended_l2) {
        return err_set(err, -EINVAL, "Backing file and preallocation can only be used at the "
                       "same time if extended_l2 is on");
    }
    if (p->backing_fmt && !p->backing_file) {
        return err_set(err, -EINVAL, "Backing format cannot be used without backing file");
    }
    if (p->lazy_refcounts && p->version < 3) {
        return err_set(err, -EINVAL, "Lazy refcounts" NEEDS_V3);
    }
    ret = get_refcount_bits(o, p, "version=v3", err);
    if (ret < 0) {
        return ret;
    }
    if (p->data_file_raw && p->backing_file) {
        return err_set(err, -EINVAL, "Backing file and data-file-raw cannot be used at the same "
                       "time");
    }
    if (p->data_file && p->version < 3) {
        return err_set(err, -EINVAL, "External data files are" NEEDS_V3);
    }
    if (p->data_file_raw && !p->data_file) {
        return err_set(err, -EINVAL, "data-file-raw requires data-file");
    }
    if (p->compression_type && p->version < 3) {
        return err_set(err, -EINVAL, "Non-zlib compression type is" NEEDS_V3);
    }
    if (p->encrypt != QCOW2_ENCRYPT_NONE) {
        return qcow2_no_secret(o, "encrypt.", err);
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* measure                                                                    */

int qcow2_parse_measure_opts(const struct opts *o, struct qcow2_create_params *p,
                             struct err *err)
{
    const char *v;
    uint64_t size;
    int ret;

    defaults(p);
    ret = opts_get_bool(o, "extended_l2", false, &p->extended_l2, err);
    if (ret < 0) {
        return ret;
    }
    ret = get_cluster_size(o, p, err);
    if (ret < 0) {
        return ret;
    }
    v = opts_get(o, "compat");
    if (v) {
        if (!strcmp(v, "0.10")) {
            p->version = 2;
        } else if (!strcmp(v, "1.1")) {
            p->version = 3;
        } else {
            return err_set(err, -EINVAL, "Invalid compatibility level: '%s'", v);
        }
    }
    ret = get_refcount_bits(o, p, "compat=1.1", err);
    if (ret < 0) {
        return ret;
    }
    v = opts_get(o, "preallocation");
    if (v && prealloc_parse(v, &p->prealloc) < 0) {
        return err_set(err, -EINVAL, "invalid parameter value: %s", v);
    }
    p->backing_file = opts_get(o, "backing_file");
    v = opts_get(o, "encrypt.format");
    if (v && !strcmp(v, "luks")) {
        p->encrypt = QCOW2_ENCRYPT_LUKS;
        ret = qcow2_check_luks_opts(o, "encrypt.", err);
        if (ret < 0) {
            return ret;
        }
        /* the LUKS header size needs the secret, which imgsh never has */
        return qcow2_no_secret(o, "encrypt.", err);
    }
    ret = opts_get_size(o, "size", 0, &size, err);
    if (ret < 0) {
        return ret;
    }
    p->size = size;
    p->has_size = opts_get(o, "size") != NULL;
    return 0;
}
