/*
 * secret.h - user-created objects as qemu's tools take them with
 * --object: "secret,id=ID,data=TEXT" or "secret,id=ID,file=PATH", with
 * format=raw|base64 and optionally keyid=ID2,iv=BASE64 for data encrypted
 * with another secret (AES-256-CBC, as qemu's secret objects).
 *
 * Secrets are kept by id for the life of the process, for the drivers that
 * will need keys (LUKS, encrypted qcow2). Only the "secret" type is
 * supported; the other types qemu knows are refused with our own message.
 */
#ifndef IMGSH_SECRET_H
#define IMGSH_SECRET_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

/*
 * Define the object described by arg (qemu's keyval syntax, the type
 * first: "secret,id=s0,data=x"). Returns 0 when defined, 1 when arg asked
 * for help and the help was printed on stdout (the caller exits 0), or a
 * negative errno with qemu's message in err.
 */
int object_add_cmdline(const char *arg, struct err *err);

/* The value of secret id (not NUL-terminated) and its length, or NULL. */
const uint8_t *secret_lookup(const char *id, size_t *len);

/* Forget every secret (the values are wiped). */
void secret_clear_all(void);

#endif
