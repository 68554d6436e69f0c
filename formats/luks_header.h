/* luks_header.h - the LUKS1 header: parsing, validation and its info tree.
 *
 * Used by qcow2 (encrypt.format=luks keeps a LUKS1 header inside the image)
 * and, later, by the luks format driver. Parsing validates the header the
 * way qemu 7.2 does when it opens an image without the key (qemu-img info),
 * with the same messages in the same order, so a damaged header is reported
 * as qemu-img reports it. Nothing here decrypts.
 */
#ifndef IMGSH_LUKS_HEADER_H
#define IMGSH_LUKS_HEADER_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "../engine/err.h"

#define LUKS_HEADER_SIZE 592        /* bytes of the on-disk LUKS1 header */
#define LUKS_NUM_SLOTS 8

struct luks_slot {
    bool active;
    uint32_t iterations;
    uint64_t key_offset;            /* bytes */
    uint32_t stripes;
};

struct luks_header {
    char cipher_alg[16];            /* qemu's names: "aes-256", "twofish-128", ... */
    char cipher_mode[8];            /* "ecb", "cbc", "xts", "ctr" */
    char ivgen_alg[8];              /* "plain", "plain64", "essiv" */
    char ivgen_hash[16];            /* essiv's hash, else "" */
    char hash_alg[16];              /* "sha256", ... */
    char uuid[41];                  /* as stored, up to 40 bytes */
    uint64_t payload_offset;        /* bytes */
    uint32_t master_key_iterations;
    uint32_t key_bytes;
    struct luks_slot slots[LUKS_NUM_SLOTS];
};

/* Parse and validate LUKS_HEADER_SIZE bytes at buf. Returns 0, or -EINVAL
 * with qemu's message ("Volume is not in LUKS format", ...). */
int luks_header_parse(const uint8_t *buf, struct luks_header *h, struct err *err);

/* The QCryptoBlockInfoLUKS tree qemu-img info shows: cipher-alg, cipher-mode,
 * ivgen-alg, ivgen-hash-alg (essiv only), hash-alg, payload-offset,
 * master-key-iters, uuid, slots, and "format": "luks". */
json_t *luks_header_json(const struct luks_header *h);

#endif
