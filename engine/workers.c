/* workers.c - a fixed pool of job threads; see workers.h. */
#include "workers.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

struct workers {
    pthread_mutex_t lock;
    pthread_cond_t work_cond;   /* a job was queued, or the pool is stopping */
    pthread_cond_t done_cond;   /* a job finished */
    struct work *head, *tail;   /* FIFO of queued jobs */
    unsigned pending;           /* queued or running */
    bool stopping;
    unsigned nthreads;
    pthread_t *threads;
};

static void *worker_main(void *arg)
{
    struct workers *p = arg;

    pthread_mutex_lock(&p->lock);
    for (;;) {
        struct work *w;

        while (!p->head && !p->stopping) {
            pthread_cond_wait(&p->work_cond, &p->lock);
        }
        if (!p->head) {
            break;              /* stopping, and nothing left to run */
        }
        w = p->head;
        p->head = w->next;
        if (!p->head) {
            p->tail = NULL;
        }
        pthread_mutex_unlock(&p->lock);

        w->fn(w);

        pthread_mutex_lock(&p->lock);
        w->done = true;
        w->queued = false;
        p->pending--;
        pthread_cond_broadcast(&p->done_cond);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

struct workers *workers_new(unsigned nthreads)
{
    struct workers *p = xcalloc(1, sizeof(*p));

    if (nthreads == 0) {
        nthreads = 1;
    }
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->work_cond, NULL);
    pthread_cond_init(&p->done_cond, NULL);
    p->threads = xcalloc(nthreads, sizeof(*p->threads));
    for (unsigned i = 0; i < nthreads; i++) {
        int ret = pthread_create(&p->threads[i], NULL, worker_main, p);
        if (ret) {
            fprintf(stderr, "imgsh: cannot start a worker thread: %s\n", strerror(ret));
            abort();
        }
        p->nthreads++;
    }
    return p;
}

void workers_submit(struct workers *p, struct work *w)
{
    pthread_mutex_lock(&p->lock);
    w->next = NULL;
    w->done = false;
    w->queued = true;
    if (p->tail) {
        p->tail->next = w;
    } else {
        p->head = w;
    }
    p->tail = w;
    p->pending++;
    pthread_cond_signal(&p->work_cond);
    pthread_mutex_unlock(&p->lock);
}

void workers_wait(struct workers *p, struct work *w)
{
    pthread_mutex_lock(&p->lock);
    while (!w->done) {
        pthread_cond_wait(&p->done_cond, &p->lock);
    }
    pthread_mutex_unlock(&p->lock);
}

bool workers_done(struct workers *p, struct work *w)
{
    bool done;

    pthread_mutex_lock(&p->lock);
    done = w->done;
    pthread_mutex_unlock(&p->lock);
    return done;
}

void workers_drain(struct workers *p)
{
    pthread_mutex_lock(&p->lock);
    while (p->pending) {
        pthread_cond_wait(&p->done_cond, &p->lock);
    }
    pthread_mutex_unlock(&p->lock);
}

unsigned workers_count(const struct workers *p)
{
    return p->nthreads;
}

void workers_free(struct workers *p)
{
    if (!p) {
        return;
    }
    pthread_mutex_lock(&p->lock);
    p->stopping = true;
    pthread_cond_broadcast(&p->work_cond);
    pthread_mutex_unlock(&p->lock);
    for (unsigned i = 0; i < p->nthreads; i++) {
        pthread_join(p->threads[i], NULL);
    }
    pthread_cond_destroy(&p->work_cond);
    pthread_cond_destroy(&p->done_cond);
    pthread_mutex_destroy(&p->lock);
    free(p->threads);
    free(p);
}
