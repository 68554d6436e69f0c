/* luks_header.c - LUKS1 header parsing and validation (see luks_header.h).
 *
 * Layout (big-endian), from the LUKS1 on-disk format specification:
 *   0 magic "LUKS\xba\xbe"   6 version (u16)     8 cipher name [32]
 *  40 cipher mode [32]      72 hash spec [32]  104 payload offset (u32, sectors)
 * 108 key bytes (u32)      112 master key digest [20], salt [32]
 * 164 master key digest iterations (u32)      168 uuid [40]
 * 208 8 key slots of 48 bytes: active (u32), iterations (u32), salt [32],
 *     key material offset (u32, sectors), stripes (u32)
 *
 * The checks and their order are qemu 7.2's, as observed on damaged
 * headers: magic, version, NUL termination, the key slot layout, then the
 * algorithm names. qemu computes slot extents in 32-bit unsigned arithmetic,
 * so absurd values wrap; we do the same to accept and refuse what it does.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "../engine/json.h"
#include "../engine/util.h"
#include "luks_header.h"

#define SECTOR 512u
#define SLOT_ACTIVE 0x00AC71F3u
#define SLOT_DISABLED 0x0000DEADu
#define STRIPES 4000u
#define KEY_SLOT_OFFSET 4096u       /* the payload may not start before this */
#define FIELD 32

static const uint8_t luks_magic[6] = { 'L', 'U', 'K', 'S', 0xba, 0xbe };

static const struct { const char *name; unsigned digest; } hashes[] = {
    { "md5", 16 }, { "sha1", 20 }, { "sha224", 28 }, { "sha256", 32 },
    { "sha384", 48 }, { "sha512", 64 }, { "ripemd160", 20 },
};

/* Ciphers by LUKS name; sizes lists the key sizes (bytes) qemu accepts. */
static const struct {
    const char *name;       /* in the LUKS header */
    const char *family;     /* in essiv's message: "No AES cipher with ..." */
    unsigned sizes[3];
} ciphers[] = {
    { "aes", "AES", { 16, 24, 32 } },
    { "cast5", NULL, { 16 } },
    { "serpent", "Serpent", { 16, 24, 32 } },
    { "twofish", "Twofish", { 16, 24, 32 } },
};

static const char *const modes[] = { "ecb", "cbc", "xts", "ctr" };
static const char *const ivgens[] = { "plain", "plain64", "essiv" };

static int find_hash(const char *name, struct err *err)
{
    for (size_t i = 0; i < ARRAY_SIZE(hashes); i++) {
        if (!strcmp(hashes[i].name, name)) {
            return (int)i;
        }
    }
    return err_set(err, -EINVAL, "Hash algorithm '%s' not supported", name);
}

static int find_word(const char *const *list, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(list[i], name)) {
            return (int)i;
        }
    }
    return -1;
}

/* The cipher "NAME-BITS" (or "cast5-128") for a LUKS name and key size. */
static int find_cipher(const char *name, unsigned key, char *out, size_t outlen, int *idx,
                       struct err *err)
{
    for (size_t i = 0; i < ARRAY_SIZE(ciphers); i++) {
        if (strcmp(ciphers[i].name, name)) {
            continue;
        }
        for (size_t k = 0; k < ARRAY_SIZE(ciphers[i].sizes) && ciphers[i].sizes[k]; k++) {
            if (ciphers[i].sizes[k] == key) {
                snprintf(out, outlen, "%s-%u", name, key * 8);
                *idx = (int)i;
                return 0;
            }
        }
    }
    return err_set(err, -EINVAL, "Algorithm '%s' with key size %u bytes not supported", name, key);
}

/* A fixed-size header field as a C string; qemu refuses unterminated ones. */
static int field(const uint8_t *p, char *out, const char *what, struct err *err)
{
    if (!memchr(p, '\0', FIELD)) {
        return err_set(err, -EINVAL, "LUKS header %s is not NUL terminated", what);
    }
    memcpy(out, p, FIELD);
    return 0;
}

static uint32_t split_sectors(uint32_t key_bytes, uint32_t stripes)
{
    uint32_t bytes = key_bytes * stripes;               /* wraps, as qemu's */
    return (uint32_t)(((uint64_t)bytes + SECTOR - 1) / SECTOR);
}

static int check_slots(const uint8_t *buf, uint32_t key_bytes, uint32_t payload,
                       struct err *err)
{
    const uint32_t header_sectors = (LUKS_HEADER_SIZE + SECTOR - 1) / SECTOR;

    if (payload < KEY_SLOT_OFFSET / SECTOR) {
        return err_set(err, -EINVAL, "LUKS payload is overlapping with the header");
    }
    for (unsigned i = 0; i < LUKS_NUM_SLOTS; i++) {
        const uint8_t *s = buf + 208 + i * 48;
        uint32_t active = be32(s), iters = be32(s + 4);
        uint32_t start = be32(s + 40), stripes = be32(s + 44);
        uint32_t len = split_sectors(key_bytes, stripes);

        if (stripes != STRIPES) {
            return err_set(err, -EINVAL, "Keyslot %u is corrupted (stripes %" PRIu32 " != %u)",
                           i, stripes, STRIPES);
        }
        if (active != SLOT_ACTIVE && active != SLOT_DISABLED) {
            return err_set(err, -EINVAL, "Keyslot %u state (active/disable) is corrupted", i);
        }
        if (active == SLOT_ACTIVE && iters == 0) {
            return err_set(err, -EINVAL, "Keyslot %u iteration count is zero", i);
        }
        if (start < header_sectors) {
            return err_set(err, -EINVAL, "Keyslot %u is overlapping with the LUKS header", i);
        }
        if ((uint32_t)(start + len) > payload) {
            return err_set(err, -EINVAL,
                           "Keyslot %u is overlapping with the encrypted payload", i);
        }
        for (unsigned j = i + 1; j < LUKS_NUM_SLOTS; j++) {
            const uint8_t *t = buf + 208 + j * 48;
            uint32_t start2 = be32(t + 40);
            uint32_t len2 = split_sectors(key_bytes, be32(t + 44));

            if (!((uint32_t)(start + len) <= start2 || (uint32_t)(start2 + len2) <= start)) {
                return err_set(err, -EINVAL,
                               "Keyslots %u and %u are overlapping in the header", i, j);
            }
        }
    }
    return 0;
}

/* "MODE-IVGEN[:HASH]" and the cipher name into h's algorithm fields. */
static int parse_algorithms(const char *name, const char *mode_spec, const char *hash_spec,
                            uint32_t key_bytes, struct luks_header *h, struct err *err)
{
    char mode[FIELD + 1], *ivgen, *ivhash;
    int m, c = 0, hh, ivh = -1;
    unsigned key;

    snprintf(mode, sizeof(mode), "%s", mode_spec);
    ivgen = strchr(mode, '-');
    if (!ivgen) {
        return err_set(err, -EINVAL, "Unexpected cipher mode string format '%s'", mode_spec);
    }
    *ivgen++ = '\0';
    ivhash = strchr(ivgen, ':');
    if (ivhash) {
        *ivhash++ = '\0';
        ivh = find_hash(ivhash, err);
        if (ivh < 0) {
            return -EINVAL;
        }
    }
    m = find_word(modes, ARRAY_SIZE(modes), mode);
    if (m < 0) {
        return err_set(err, -EINVAL, "Cipher mode '%s' not supported", mode);
    }
    key = !strcmp(mode, "xts") ? key_bytes / 2 : key_bytes;    /* xts: two keys */
    if (find_cipher(name, key, h->cipher_alg, sizeof(h->cipher_alg), &c, err) < 0) {
        return -EINVAL;
    }
    hh = find_hash(hash_spec, err);
    if (hh < 0) {
        return -EINVAL;
    }
    if (find_word(ivgens, ARRAY_SIZE(ivgens), ivgen) < 0) {
        return err_set(err, -EINVAL, "IV generator '%s' not supported", ivgen);
    }
    if (!strcmp(ivgen, "essiv")) {
        unsigned digest;

        if (ivh < 0) {
            return err_set(err, -EINVAL, "Missing IV generator hash specification");
        }
        /* essiv encrypts the sector number with the cipher keyed by the hash */
        digest = hashes[ivh].digest;
        if (ciphers[c].family) {
            if (digest != 16 && digest != 24 && digest != 32) {
                return err_set(err, -EINVAL, "No %s cipher with key size %u available",
                               ciphers[c].family, digest);
            }
        } else if (digest != ciphers[c].sizes[0]) {
            return err_set(err, -EINVAL, "Cipher %s not supported with essiv", h->cipher_alg);
        }
        snprintf(h->ivgen_hash, sizeof(h->ivgen_hash), "%s", hashes[ivh].name);
    }
    snprintf(h->cipher_mode, sizeof(h->cipher_mode), "%s", modes[m]);
    snprintf(h->ivgen_alg, sizeof(h->ivgen_alg), "%s", ivgen);
    snprintf(h->hash_alg, sizeof(h->hash_alg), "%s", hashes[hh].name);
    return 0;
}

int luks_header_parse(const uint8_t *buf, struct luks_header *h, struct err *err)
{
    char name[FIELD], mode[FIELD], hash[FIELD];
    uint16_t version;
    int ret;

    memset(h, 0, sizeof(*h));
    if (memcmp(buf, luks_magic, sizeof(luks_magic))) {
        return err_set(err, -EINVAL, "Volume is not in LUKS format");
    }
    version = be16(buf + 6);
    if (version != 1) {
        return err_set(err, -EINVAL, "LUKS version %u is not supported", version);
    }
    if (field(buf + 8, name, "cipher name", err) < 0 ||
        field(buf + 40, mode, "cipher mode", err) < 0 ||
        field(buf + 72, hash, "hash spec", err) < 0) {
        return -EINVAL;
    }
    h->key_bytes = be32(buf + 108);
    h->payload_offset = (uint64_t)be32(buf + 104) * SECTOR;
    ret = check_slots(buf, h->key_bytes, be32(buf + 104), err);
    if (ret < 0) {
        return ret;
    }
    ret = parse_algorithms(name, mode, hash, h->key_bytes, h, err);
    if (ret < 0) {
        return ret;
    }
    h->master_key_iterations = be32(buf + 164);
    memcpy(h->uuid, buf + 168, 40);
    h->uuid[40] = '\0';
    for (unsigned i = 0; i < LUKS_NUM_SLOTS; i++) {
        const uint8_t *s = buf + 208 + i * 48;

        h->slots[i].active = be32(s) == SLOT_ACTIVE;
        h->slots[i].iterations = be32(s + 4);
        h->slots[i].key_offset = (uint64_t)be32(s + 40) * SECTOR;
        h->slots[i].stripes = be32(s + 44);
    }
    return 0;
}

json_t *luks_header_json(const struct luks_header *h)
{
    json_t *o = json_object(), *slots = json_array();

    json_obj_set_str(o, "cipher-alg", h->cipher_alg);
    json_obj_set_str(o, "cipher-mode", h->cipher_mode);
    json_obj_set_str(o, "ivgen-alg", h->ivgen_alg);
    if (h->ivgen_hash[0]) {
        json_obj_set_str(o, "ivgen-hash-alg", h->ivgen_hash);
    }
    json_obj_set_str(o, "hash-alg", h->hash_alg);
    json_obj_set_int(o, "payload-offset", (long long)h->payload_offset);
    json_obj_set_int(o, "master-key-iters", h->master_key_iterations);
    json_obj_set_str(o, "uuid", h->uuid);
    for (unsigned i = 0; i < LUKS_NUM_SLOTS; i++) {
        json_t *s = json_object();

        json_obj_set_bool(s, "active", h->slots[i].active);
        if (h->slots[i].active) {
            json_obj_set_int(s, "iters", h->slots[i].iterations);
            json_obj_set_int(s, "stripes", h->slots[i].stripes);
        }
        json_obj_set_int(s, "key-offset", (long long)h->slots[i].key_offset);
        json_array_append_new(slots, s);
    }
    json_object_set_new(o, "slots", slots);
    json_obj_set_str(o, "format", "luks");
    return o;
}
