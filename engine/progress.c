/* progress.c - qemu-img's progress line; see progress.h. */
#include "progress.h"

#include <stdio.h>

void progress_init(struct progress *p, bool enabled, float min_skip)
{
    p->enabled = enabled;
    p->current = 0;
    p->last_print = 0;
    p->min_skip = min_skip;
}

void progress_print(struct progress *p, float delta, int max)
{
    float now = max == 0 ? delta : p->current + delta / 100 * (float)max;

    if (now > 100) {
        now = 100;
    }
    p->current = now;
    if (now > p->last_print + p->min_skip || now < p->last_print - p->min_skip || now == 100 ||
        now == 0) {
        p->last_print = now;
        if (p->enabled) {
            printf("    (%3.2f/100%%)\r", (double)now);
            fflush(stdout);
        }
    }
}

void progress_end(struct progress *p)
{
    if (p->enabled) {
        printf("\n");
        fflush(stdout);
    }
}
