/*
 * registry.c - the list of format drivers. An explicit list rather than
 * constructors, so that drivers linked from a static archive are never
 * dropped and the order of --help and probing is fixed.
 */
#include <string.h>

#include "format.h"

extern const struct fmt_driver fmt_raw;
extern const struct fmt_driver fmt_file;

/* Alphabetical: this is the order "Supported formats:" lists them in. */
const struct fmt_driver *const fmt_drivers[] = {
    &fmt_file,
    &fmt_raw,
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

    for (size_t i = 0; fmt_drivers[i]; i++) {
        int score;

        if (!fmt_drivers[i]->probe) {
            continue;
        }
        score = fmt_drivers[i]->probe(buf, len, filename);
        if (score > best_score) {
            best_score = score;
            best = fmt_drivers[i];
        }
    }
    return best;
}
