/*
 * recognize.c - formats imgsh can identify but not read yet.
 *
 * Probing must never call a qcow2 (or vmdk, ...) file "raw": a forensic
 * user would be told the wrong thing and a writer could damage it. Until
 * a format's driver lands, its probe lives here and opening such an image
 * fails with a clear message. Each format's own driver replaces its entry.
 */
#include <errno.h>
#include <string.h>

#include "../engine/block.h"
#include "../engine/util.h"
#include "format.h"

static int starts_with(const uint8_t *buf, size_t len, const char *magic, size_t n)
{
    return len >= n && memcmp(buf, magic, n) == 0;
}

static int probe_qcow(const uint8_t *buf, size_t len, const char *filename)
{
    (void)filename;
    return starts_with(buf, len, "QFI\xfb", 4) && len >= 8 && be32(buf + 4) == 1 ? PROBE_MATCH : 0;
}

static int probe_qed(const uint8_t *buf, size_t len, const char *filename)
{
    (void)filename;
    return starts_with(buf, len, "QED\0", 4) ? PROBE_MATCH : 0;
}

static int probe_vdi(const uint8_t *buf, size_t len, const char *filename)
{
    (void)filename;
    return len >= 0x44 && le32(buf + 0x40) == 0xbeda107f ? PROBE_MATCH : 0;
}

static int probe_vpc(const uint8_t *buf, size_t len, const char *filename)
{
    (void)filename;
    return starts_with(buf, len, "conectix", 8) ? PROBE_MATCH : 0;
}

static int probe_vhdx(const uint8_t *buf, size_t len, const char *filename)
{
    (void)filename;
    return starts_with(buf, len, "vhdxfile", 8) ? PROBE_MATCH : 0;
}

static int probe_vmdk(const uint8_t *buf, size_t len, const char *filename)
{
    (void)filename;
    if (starts_with(buf, len, "KDMV", 4) || starts_with(buf, len, "COWD", 4)) {
        return PROBE_MATCH;
    }
    /* a text descriptor file */
    if (len >= 21 && memmem(buf, MIN(len, 512u), "# Disk DescriptorFile", 21)) {
        return PROBE_MATCH;
    }
    return 0;
}

static int probe_luks(const uint8_t *buf, size_t len, const char *filename)
{
    (void)filename;
    return starts_with(buf, len, "LUKS\xba\xbe", 6) ? PROBE_MATCH : 0;
}

static int probe_parallels(const uint8_t *buf, size_t len, const char *filename)
{
    (void)filename;
    if (len < 64) {
        return 0;
    }
    if ((!memcmp(buf, "WithoutFreeSpace", 16) || !memcmp(buf, "WithouFreSpacExt", 16)) &&
        le32(buf + 16) == 2) {
        return PROBE_MATCH;
    }
    return 0;
}

static int probe_bochs(const uint8_t *buf, size_t len, const char *filename)
{
    (void)filename;
    return starts_with(buf, len, "Bochs Virtual HD Image", 22) ? PROBE_MATCH : 0;
}

static int probe_cloop(const uint8_t *buf, size_t len, const char *filename)
{
    static const char magic[] = "#!/bin/sh\n#V2.0 Format\n";
    (void)filename;
    return starts_with(buf, len, magic, sizeof(magic) - 1) ? 2 : 0;
}

static int probe_dmg(const uint8_t *buf, size_t len, const char *filename)
{
    size_t n = filename ? strlen(filename) : 0;
    (void)buf;
    (void)len;
    /* the name alone decides, as in qemu; a bare ".dmg" does not count */
    return n > 4 && !strcmp(filename + n - 4, ".dmg") ? 2 : 0;
}

static int recognized_open(struct image *img, struct err *err)
{
    return err_set(err, -ENOTSUP, "imgsh cannot read the '%s' format yet", img->drv->name);
}

#define RECOGNIZED(fmt, probe_fn)                                                      \
    const struct fmt_driver fmt_recognized_##fmt = {                                  \
        .name = #fmt,                                                                 \
        .description = "recognized only: reading " #fmt " is not implemented yet",    \
        .probe = probe_fn,                                                            \
        .open = recognized_open,                                                      \
    }

RECOGNIZED(qcow, probe_qcow);
RECOGNIZED(qed, probe_qed);
RECOGNIZED(vdi, probe_vdi);
RECOGNIZED(vpc, probe_vpc);
RECOGNIZED(vhdx, probe_vhdx);
RECOGNIZED(vmdk, probe_vmdk);
RECOGNIZED(luks, probe_luks);
RECOGNIZED(parallels, probe_parallels);
RECOGNIZED(bochs, probe_bochs);
RECOGNIZED(cloop, probe_cloop);
RECOGNIZED(dmg, probe_dmg);
