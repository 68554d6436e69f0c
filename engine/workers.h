/*
 * workers.h - a fixed pool of threads running jobs, for commands that keep
 * many requests in flight (convert reads its sources from the pool while
 * the main thread writes the target in guest order).
 *
 * A job is a struct work the caller owns (usually embedded in its own
 * request structure): set fn, submit it, and later wait for it. Jobs are
 * started in submission order; they may finish in any order. A job must
 * not be freed or resubmitted before workers_wait() has returned for it.
 *
 * Thread safety: submit and wait are meant to be called from one thread
 * (the owner of the pool); job functions run on the pool's threads and must
 * only touch what their job owns, plus thread-safe calls such as image_read.
 */
#ifndef IMGSH_WORKERS_H
#define IMGSH_WORKERS_H

#include <stdbool.h>

struct work {
    void (*fn)(struct work *w);     /* runs on a pool thread */
    /* --- private to workers.c --- */
    struct work *next;
    bool queued;
    bool done;
};

struct workers;

/* Start nthreads threads (at least 1). Never fails: out of memory or thread
 * creation failure aborts with a message. */
struct workers *workers_new(unsigned nthreads);
/* Queue w; one of the threads will call w->fn(w). */
void workers_submit(struct workers *p, struct work *w);
/* Block until w has run. w must have been submitted. */
void workers_wait(struct workers *p, struct work *w);
/* true when w has run (never blocks). */
bool workers_done(struct workers *p, struct work *w);
/* Block until every submitted job has run. */
void workers_drain(struct workers *p);
/* Number of threads in the pool. */
unsigned workers_count(const struct workers *p);
/* Run what is still queued, stop the threads and free the pool. NULL is fine. */
void workers_free(struct workers *p);

#endif
