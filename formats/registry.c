/*
 * registry.c - the list of format drivers. An explicit list rather than
 * constructors, so that drivers linked from a static archive are never
 * dropped and the order of --help and probing is fixed.
 */
#include <string.h>

#include "format.h"

extern const struct fmt_driver fmt_raw;
extern const struct fmt_driver fmt_file;
extern const struct fmt_driver fmt_qcow2;
extern const struct fmt_driver fmt_recognized_qcow, fmt_recognized_qed,
    fmt_recognized_vdi, fmt_recognized_vpc, fmt_recognized_vhdx, fmt_recognized_vmdk,
    fmt_recognized_luks, fmt_recognized_parallels, fmt_recognized_bochs, fmt_recognized_cloop,
    fmt_recognized_dmg;

/* Alphabetical: this is the order "Supported formats:" lists them in. */
const struct fmt_driver *const fmt_drivers[] = {
    &fmt_file,
    &fmt_qcow2,
    &fmt_raw,
    NULL,
};

/*
 * Formats probing can identify but no driver reads yet (formats/recognize.c):
 * they take part in probing only, so such an image is never taken for raw.
 */
const struct fmt_driver *const fmt_recognized[] = {
    &fmt_recognized_bochs,
    &fmt_recognized_cloop,
    &fmt_recognized_dmg,
    &fmt_recognized_luks,
    &fmt_recognized_parallels,
    &fmt_recognized_qcow,
    &fmt_recognized_qed,
    &fmt_recognized_vdi,
    &fmt_recognized_vhdx,
    &fmt_recognized_vmdk,
    &fmt_recognized_vpc,
    NULL,
};

const struct fmt_driver *fmt_find(const char *name)
{
    for (size_t i = 0; fmt_drivers[i]; i++) {
        if (!strcmp(fmt_drivers[i]->name, name)) {
            return fmt_drivers[i];
        }
    }
    return NULL;
}

const struct fmt_driver *fmt_probe(const uint8_t *buf, size_t len, const char *filename)
{
    const struct fmt_driver *best = &fmt_raw;
    int best_score = 0;

    const struct fmt_driver *const *lists[] = { fmt_drivers, fmt_recognized };

    for (size_t l = 0; l < 2; l++) {
        for (size_t i = 0; lists[l][i]; i++) {
            int score;

            if (!lists[l][i]->probe) {
                continue;
            }
            score = lists[l][i]->probe(buf, len, filename);
            if (score > best_score) {
                best_score = score;
                best = lists[l][i];
            }
        }
    }
    return best;
}
