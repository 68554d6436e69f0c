/*
 * secret.c - --object secret,...: parsing, loading and the store by id;
 * see secret.h.
 *
 * The argument is parsed as qemu's keyval syntax: "key=value" items
 * separated by ',', ",," for a comma inside a value, and a first item
 * without '=' standing for the type (qom-type). Checks run in qemu's
 * order, so that a malformed argument gets the message qemu-io prints.
 */
#include "secret.h"

#include <ctype.h>
#include <errno.h>
#include <nettle/aes.h>
#include <nettle/cbc.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opts.h"
#include "util.h"

struct secret {
    char *id;
    uint8_t *data;
    size_t len;
};

static struct secret *secrets;
static size_t n_secrets;

/* Every type qemu-io 7.2 can create, as "--object help" lists them. */
static const char *const object_types[] = {
    "authz-list", "authz-list-file", "authz-simple", "main-loop", "pr-manager-helper",
    "secret", "secret_keyring", "thread-context", "throttle-group", "tls-cipher-suites",
    "tls-creds-anon", "tls-creds-psk", "tls-creds-x509",
};

/* Properties of a secret object. */
static const char *const secret_props[] = { "data", "file", "format", "iv", "keyid" };

const uint8_t *secret_lookup(const char *id, size_t *len)
{
    for (size_t i = 0; i < n_secrets; i++) {
        if (!strcmp(secrets[i].id, id)) {
            *len = secrets[i].len;
            return secrets[i].data;
        }
    }
    return NULL;
}

static void secret_wipe_free(uint8_t *p, size_t len)
{
    if (p) {
        volatile uint8_t *v = p;
        while (len--) {
            *v++ = 0;
        }
        free(p);
    }
}

void secret_clear_all(void)
{
    for (size_t i = 0; i < n_secrets; i++) {
        free(secrets[i].id);
        secret_wipe_free(secrets[i].data, secrets[i].len);
    }
    free(secrets);
    secrets = NULL;
    n_secrets = 0;
}

/* A QAPI name: a letter, then letters, digits, '-' and '_'. Returns its length, or 0. */
static size_t qapi_name_len(const char *s, const char *end)
{
    const char *p = s;

    if (p == end || !isalpha((unsigned char)*p)) {
        return 0;
    }
    for (p++; p < end && (isalnum((unsigned char)*p) || *p == '-' || *p == '_'); p++) {
    }
    return (size_t)(p - s);
}

/* A key made of QAPI names joined by '.'. */
static bool key_valid(const char *key, size_t len)
{
    const char *p = key, *end = key + len;

    for (;;) {
        size_t n = qapi_name_len(p, end);
        if (!n) {
            return false;
        }
        p += n;
        if (p == end) {
            return true;
        }
        if (*p != '.') {
            return false;
        }
        p++;
    }
}

/*
 * Split arg into o as qemu's keyval_parse does with the implied key
 * "qom-type". *help is set by a bare "help" or "?".
 */
static int keyval_parse(const char *arg, struct opts *o, bool *help, struct err *err)
{
    const char *p = arg;
    bool first = true;

    *help = false;
    while (*p) {
        size_t len = strcspn(p, "=,");
        const char *key = p;
        char *name, *val;
        size_t n = 0;

        if (len && p[len] != '=') {
            if ((len == 4 && !strncmp(p, "help", 4)) || (len == 1 && *p == '?')) {
                *help = true;
                p += len;
                p += *p == ',';
                first = false;
                continue;
            }
            if (first) {
                /* the implied key: the item up to the first ',' is the type */
                val = xasprintf("%.*s", (int)len, p);
                opts_set(o, "qom-type", val);
                free(val);
                p += len;
                p += *p == ',';
                first = false;
                continue;
            }
        }
        first = false;
        if (!key_valid(key, len)) {
            return err_set(err, -EINVAL, "Invalid parameter '%.*s'", (int)len, key);
        }
        if (p[len] != '=') {
            return err_set(err, -EINVAL, "Expected '=' after parameter '%.*s'", (int)len, key);
        }
        p += len + 1;
        val = xmalloc(strlen(p) + 1);
        for (; *p; p++) {
            if (*p == ',') {
                if (p[1] != ',') {
                    break;
                }
                p++;
            }
            val[n++] = *p;
        }
        val[n] = '\0';
        p += *p == ',';
        name = xasprintf("%.*s", (int)len, key);
        opts_del(o, name);
        opts_set(o, name, val);
        free(name);
        free(val);
    }
    return 0;
}

static bool id_wellformed(const char *id)
{
    if (!isalpha((unsigned char)*id)) {
        return false;
    }
    for (const char *p = id; *p; p++) {
        if (!isalnum((unsigned char)*p) && !strchr("-._", *p)) {
            return false;
        }
    }
    return true;
}

/*
 * Decode base64 as qemu does (GLib's decoder behind a check of the
 * alphabet): whole groups of four characters, '=' as padding; characters
 * of an incomplete last group are dropped.
 */
static int base64_decode(const char *in, size_t in_len, uint8_t **out, size_t *out_len,
                         struct err *err)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    uint8_t *buf;
    uint32_t acc = 0;
    unsigned nchars = 0, npad = 0;
    size_t n = 0;

    if (memchr(in, '\0', in_len)) {
        return err_set(err, -EINVAL, "Base64 data contains embedded NUL characters");
    }
    for (size_t i = 0; i < in_len; i++) {
        if (in[i] != '=' && !strchr(alphabet, in[i])) {
            return err_set(err, -EINVAL, "Base64 data contains invalid characters");
        }
    }
    buf = xmalloc(in_len / 4 * 3 + 3);
    for (size_t i = 0; i < in_len; i++) {
        unsigned v = 0;
        if (in[i] == '=') {
            npad++;
        } else {
            v = (unsigned)(strchr(alphabet, in[i]) - alphabet);
        }
        acc = acc << 6 | v;
        if (++nchars == 4) {
            uint8_t b[3] = { (uint8_t)(acc >> 16), (uint8_t)(acc >> 8), (uint8_t)acc };
            unsigned keep = npad >= 3 ? 0 : 3 - npad;
            memcpy(buf + n, b, keep);
            n += keep;
            acc = 0;
            nchars = 0;
            npad = 0;
        }
    }
    *out = buf;
    *out_len = n;
    return 0;
}

/* The whole of path, with GLib's messages behind qemu's "Unable to read". */
static int read_file(const char *path, uint8_t **out, size_t *out_len, struct err *err)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    size_t n = 0, cap = 0;

    if (!f) {
        return err_set(err, -errno, "Unable to read %s: Failed to open file \u201c%s\u201d: %s",
                       path, path, strerror(errno));
    }
    for (;;) {
        size_t got;
        if (cap - n < 4096) {
            cap = cap ? cap * 2 : 4096;
            buf = xrealloc(buf, cap);
        }
        got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            break;
        }
    }
    if (ferror(f)) {
        int e = errno;
        fclose(f);
        secret_wipe_free(buf, cap);
        return err_set(err, -e, "Unable to read %s: Error reading file \u201c%s\u201d: %s",
                       path, path, strerror(e));
    }
    fclose(f);
    *out = buf;
    *out_len = n;
    return 0;
}

/*
 * Decrypt AES-256-CBC ciphertext in (base64 text when b64) with secret
 * keyid and the base64 iv; the plaintext loses its PKCS#7 padding.
 */
static int secret_decrypt(const char *keyid, const char *iv_b64, bool b64, const uint8_t *in,
                          size_t in_len, uint8_t **out, size_t *out_len, struct err *err)
{
    struct CBC_CTX(struct aes256_ctx, AES_BLOCK_SIZE) ctx;
    const uint8_t *key;
    uint8_t *iv = NULL, *ct = NULL;
    size_t keylen, ivlen, ctlen;
    unsigned pad;

    key = secret_lookup(keyid, &keylen);
    if (!key) {
        return err_set(err, -EINVAL, "No secret with id '%s'", keyid);
    }
    if (keylen != 32) {
        return err_set(err, -EINVAL, "Key should be 32 bytes in length");
    }
    if (!iv_b64) {
        return err_set(err, -EINVAL, "IV is required to decrypt secret");
    }
    if (base64_decode(iv_b64, strlen(iv_b64), &iv, &ivlen, err) < 0) {
        return -EINVAL;
    }
    if (ivlen != AES_BLOCK_SIZE) {
        free(iv);
        return err_set(err, -EINVAL, "IV should be 16 bytes in length not %zu", ivlen);
    }
    if (!b64) {
        ct = xmalloc(in_len ? in_len : 1);
        memcpy(ct, in, in_len);
        ctlen = in_len;
    } else if (base64_decode((const char *)in, in_len, &ct, &ctlen, err) < 0) {
        free(iv);
        return -EINVAL;
    }
    if (ctlen % AES_BLOCK_SIZE) {
        free(iv);
        free(ct);
        return err_set(err, -EINVAL, "Length %zu must be a multiple of block size %d", ctlen,
                       AES_BLOCK_SIZE);
    }
    aes256_set_decrypt_key(&ctx.ctx, key);
    CBC_SET_IV(&ctx, iv);
    CBC_DECRYPT(&ctx, aes256_decrypt, ctlen, ct, ct);
    free(iv);
    pad = ctlen ? ct[ctlen - 1] : 0;
    if (pad > AES_BLOCK_SIZE || pad > ctlen) {
        secret_wipe_free(ct, ctlen);
        return err_set(err, -EINVAL,
                       "Incorrect number of padding bytes (%u) found on decrypted data", pad);
    }
    *out = ct;
    *out_len = ctlen - pad;
    return 0;
}

/* Make the value of a secret from its properties. */
static int secret_load(const struct opts *o, uint8_t **out, size_t *out_len, struct err *err)
{
    const char *data = opts_get(o, "data"), *file = opts_get(o, "file");
    const char *format = opts_get(o, "format"), *keyid = opts_get(o, "keyid");
    uint8_t *raw = NULL, *plain = NULL;
    size_t raw_len = 0, plain_len = 0;
    int ret;

    if (data && file) {
        return err_set(err, -EINVAL, "'file' and 'data' are mutually exclusive");
    }
    if (!data && !file) {
        return err_set(err, -EINVAL, "Either 'file' or 'data' must be provided");
    }
    if (file) {
        ret = read_file(file, &raw, &raw_len, err);
        if (ret < 0) {
            return ret;
        }
    } else {
        raw_len = strlen(data);
        raw = (uint8_t *)xstrdup(data);
    }
    if (keyid) {
        ret = secret_decrypt(keyid, opts_get(o, "iv"), format && !strcmp(format, "base64"), raw,
                             raw_len, &plain, &plain_len, err);
        secret_wipe_free(raw, raw_len);
        if (ret < 0) {
            return ret;
        }
        raw = plain;
        raw_len = plain_len;
    } else if (format && !strcmp(format, "base64")) {
        ret = base64_decode((const char *)raw, raw_len, &plain, &plain_len, err);
        secret_wipe_free(raw, raw_len);
        if (ret < 0) {
            return ret;
        }
        raw = plain;
        raw_len = plain_len;
    }
    *out = raw;
    *out_len = raw_len;
    return 0;
}

static void print_types(void)
{
    printf("List of user creatable objects:\n");
    for (size_t i = 0; i < ARRAY_SIZE(object_types); i++) {
        printf("  %s\n", object_types[i]);
    }
}

static bool known_type(const char *t)
{
    for (size_t i = 0; i < ARRAY_SIZE(object_types); i++) {
        if (!strcmp(object_types[i], t)) {
            return true;
        }
    }
    return false;
}

static int object_add(const struct opts *o, bool help, struct err *err)
{
    const char *type = opts_get(o, "qom-type"), *id = opts_get(o, "id");
    const char *format = opts_get(o, "format");
    uint8_t *value = NULL;
    size_t len = 0;
    int ret;

    if (help) {
        if (!type || !known_type(type)) {
            print_types();
            return 1;
        }
        if (!strcmp(type, "secret")) {
            printf("secret options:\n"
                   "  data=<string>\n"
                   "  file=<string>\n"
                   "  format=<QCryptoSecretFormat>\n"
                   "  iv=<string>\n"
                   "  keyid=<string>\n");
            return 1;
        }
    }
    if (!type) {
        return err_set(err, -EINVAL, "Parameter 'qom-type' is missing");
    }
    if (!known_type(type)) {
        return err_set(err, -EINVAL, "Parameter 'qom-type' does not accept value '%s'", type);
    }
    if (strcmp(type, "secret")) {
        return err_set(err, -ENOTSUP, "object type '%s' is not supported by imgsh", type);
    }
    if (!id) {
        return err_set(err, -EINVAL, "Parameter 'id' is missing");
    }
    if (format && strcmp(format, "raw") && strcmp(format, "base64")) {
        return err_set(err, -EINVAL, "Parameter 'format' does not accept value '%s'", format);
    }
    for (size_t i = 0; i < o->n; i++) {
        const char *k = o->v[i].name;
        size_t klen = strcspn(k, ".");
        bool known = !strcmp(k, "qom-type") || !strcmp(k, "id");

        for (size_t j = 0; j < ARRAY_SIZE(secret_props) && !known; j++) {
            known = !strcmp(k, secret_props[j]);
        }
        if (!known) {
            return err_set(err, -EINVAL, "Parameter '%.*s' is unexpected", (int)klen, k);
        }
    }
    if (!id_wellformed(id)) {
        return err_set(err, -EINVAL, "Parameter 'id' expects an identifier\n"
                       "Identifiers consist of letters, digits, '-', '.', '_', "
                       "starting with a letter.");
    }
    ret = secret_load(o, &value, &len, err);
    if (ret < 0) {
        return ret;
    }
    if (secret_lookup(id, &(size_t){ 0 })) {
        secret_wipe_free(value, len);
        return err_set(err, -EEXIST,
                       "attempt to add duplicate property '%s' to object (type 'container')", id);
    }
    secrets = xrealloc(secrets, (n_secrets + 1) * sizeof(*secrets));
    secrets[n_secrets].id = xstrdup(id);
    secrets[n_secrets].data = value;
    secrets[n_secrets].len = len;
    n_secrets++;
    return 0;
}

int object_add_cmdline(const char *arg, struct err *err)
{
    struct opts o = { 0 };
    bool help;
    int ret = keyval_parse(arg, &o, &help, err);

    if (ret == 0) {
        ret = object_add(&o, help, err);
    }
    opts_free(&o);
    return ret;
}
