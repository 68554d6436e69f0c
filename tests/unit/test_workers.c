/*
 * test_workers.c - unit tests for the worker pool (engine/workers.c).
 *
 * Test plan:
 *  - every submitted job runs exactly once, on a pool thread (not the
 *    submitter's), and workers_wait returns only after it ran;
 *  - jobs start in submission order: with one thread they also finish in
 *    that order;
 *  - with several threads, jobs really run at the same time (N jobs that
 *    each wait for all N to have started complete instead of deadlocking);
 *  - a job can be resubmitted after its wait (slots reused as convert does);
 *  - workers_done never blocks and tells a finished job from a pending one;
 *  - workers_drain waits for everything; workers_free runs what is still
 *    queued before stopping, and accepts NULL; 0 threads means 1.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../engine/workers.h"

struct job {
    struct work work;
    int id;
    atomic_int runs;
    pthread_t thread;
    int *order;                 /* shared log of finishing ids */
    atomic_int *order_len;
};

static void job_run(struct work *w)
{
    struct job *j = (struct job *)w;

    j->thread = pthread_self();
    atomic_fetch_add(&j->runs, 1);
    if (j->order) {
        int at = atomic_fetch_add(j->order_len, 1);
        j->order[at] = j->id;
    }
}

static void test_every_job_runs_once(void **state)
{
    enum { N = 1000 };
    struct workers *p = workers_new(4);
    struct job *jobs = calloc(N, sizeof(*jobs));

    (void)state;
    assert_int_equal(workers_count(p), 4);
    for (int i = 0; i < N; i++) {
        jobs[i].work.fn = job_run;
        jobs[i].id = i;
        workers_submit(p, &jobs[i].work);
    }
    for (int i = N - 1; i >= 0; i--) {
        workers_wait(p, &jobs[i].work);
        assert_int_equal(atomic_load(&jobs[i].runs), 1);
        assert_true(workers_done(p, &jobs[i].work));
        assert_false(pthread_equal(jobs[i].thread, pthread_self()));
    }
    workers_free(p);
    free(jobs);
}

static void test_one_thread_keeps_order(void **state)
{
    enum { N = 200 };
    struct workers *p = workers_new(1);
    struct job *jobs = calloc(N, sizeof(*jobs));
    int order[N];
    atomic_int len = 0;

    (void)state;
    for (int i = 0; i < N; i++) {
        jobs[i].work.fn = job_run;
        jobs[i].id = i;
        jobs[i].order = order;
        jobs[i].order_len = &len;
        workers_submit(p, &jobs[i].work);
    }
    workers_drain(p);
    assert_int_equal(atomic_load(&len), N);
    for (int i = 0; i < N; i++) {
        assert_int_equal(order[i], i);
    }
    workers_free(p);
    free(jobs);
}

/* Jobs that only finish once all of them have started: needs real parallelism. */
struct barrier_job {
    struct work work;
    pthread_mutex_t *lock;
    pthread_cond_t *cond;
    int *started;
    int need;
};

static void barrier_run(struct work *w)
{
    struct barrier_job *j = (struct barrier_job *)w;

    pthread_mutex_lock(j->lock);
    (*j->started)++;
    pthread_cond_broadcast(j->cond);
    while (*j->started < j->need) {
        pthread_cond_wait(j->cond, j->lock);
    }
    pthread_mutex_unlock(j->lock);
}

static void test_jobs_run_concurrently(void **state)
{
    enum { N = 6 };
    pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
    struct barrier_job jobs[N];
    int started = 0;
    struct workers *p = workers_new(N);

    (void)state;
    for (int i = 0; i < N; i++) {
        jobs[i] = (struct barrier_job){ .work.fn = barrier_run, .lock = &lock, .cond = &cond,
                                        .started = &started, .need = N };
        workers_submit(p, &jobs[i].work);
    }
    for (int i = 0; i < N; i++) {
        workers_wait(p, &jobs[i].work);
    }
    assert_int_equal(started, N);
    workers_free(p);
}

static void test_resubmit_after_wait(void **state)
{
    struct workers *p = workers_new(3);
    struct job j = { .work.fn = job_run };

    (void)state;
    for (int round = 1; round <= 50; round++) {
        workers_submit(p, &j.work);
        workers_wait(p, &j.work);
        assert_int_equal(atomic_load(&j.runs), round);
    }
    workers_free(p);
}

/* A job that blocks until released, to see workers_done while it is pending. */
struct gate_job {
    struct work work;
    atomic_int open;
};

static void gate_run(struct work *w)
{
    struct gate_job *g = (struct gate_job *)w;
    struct timespec ts = { 0, 1000000 };

    while (!atomic_load(&g->open)) {
        nanosleep(&ts, NULL);
    }
}

static void test_done_does_not_block(void **state)
{
    struct workers *p = workers_new(1);
    struct gate_job g = { .work.fn = gate_run };
    struct job after = { .work.fn = job_run };

    (void)state;
    workers_submit(p, &g.work);
    workers_submit(p, &after.work);
    assert_false(workers_done(p, &g.work));
    assert_false(workers_done(p, &after.work));
    atomic_store(&g.open, 1);
    workers_wait(p, &after.work);
    assert_true(workers_done(p, &g.work));
    assert_int_equal(atomic_load(&after.runs), 1);
    workers_free(p);
}

static void test_free_runs_queued_jobs(void **state)
{
    enum { N = 100 };
    struct workers *p = workers_new(0);      /* 0 means one thread */
    struct job *jobs = calloc(N, sizeof(*jobs));

    (void)state;
    assert_int_equal(workers_count(p), 1);
    for (int i = 0; i < N; i++) {
        jobs[i].work.fn = job_run;
        workers_submit(p, &jobs[i].work);
    }
    workers_free(p);
    for (int i = 0; i < N; i++) {
        assert_int_equal(atomic_load(&jobs[i].runs), 1);
    }
    workers_free(NULL);
    free(jobs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_job_runs_once),
        cmocka_unit_test(test_one_thread_keeps_order),
        cmocka_unit_test(test_jobs_run_concurrently),
        cmocka_unit_test(test_resubmit_after_wait),
        cmocka_unit_test(test_done_does_not_block),
        cmocka_unit_test(test_free_runs_queued_jobs),
    };

    return cmocka_run_group_tests_name("workers", tests, NULL, NULL);
}
