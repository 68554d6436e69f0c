/*
 * progress.h - qemu-img's "-p" progress line: "    (12.34/100%)\r",
 * reprinted whenever the percentage moved by more than min_skip since the
 * last print, and always at 0 and 100; a newline when the command ends.
 * The arithmetic is single-precision float, as qemu-img's, so the same
 * percentages come out.
 */
#ifndef IMGSH_PROGRESS_H
#define IMGSH_PROGRESS_H

#include <stdbool.h>

struct progress {
    bool enabled;
    float current;
    float last_print;
    float min_skip;
};

void progress_init(struct progress *p, bool enabled, float min_skip);
/*
 * max == 0: the progress is now delta percent; otherwise it advances by
 * delta percent of max percent (qemu-img's convention).
 */
void progress_print(struct progress *p, float delta, int max);
/* The final newline, when enabled. */
void progress_end(struct progress *p);

#endif
