/* Threads that never make a call slower than one thread would (Design T in
 * maxpool.pyx).
 *
 * An OpenMP parallel region ends in a barrier that waits for every team
 * thread to arrive.  When the cores are busy with other processes, a worker
 * the scheduler has not run yet holds the caller for whole time slices:
 * 0.1 ms calls took 28 ms.  So every parallel region of the kernels is
 * watched: each worker notes how late it started (pooling_arrive), the
 * caller when its own share was done (pooling_leave); a worker later than
 * POOLING_LATE_S, or a caller left waiting for its workers (pooling_settle),
 * means the cores are contended, and the kernels then run on the caller's
 * thread alone for a back-off period (a quarter of
 * a second, doubling while the contention lasts, to 4 s) before they try
 * threads again.  On an idle machine no worker is late and nothing changes.
 *
 * GNU OpenMP's thread pool does not survive fork(): a child that opened a
 * parallel region would wait forever for threads that exist only in the
 * parent.  After fork the child's kernels run on one thread (pthread_atfork).
 *
 * A per-thread limit (pooling_tls_limit) lets a host framework say how many
 * threads a call made from its thread may use (the torch adapter passes
 * torch.get_num_threads(), dask tasks one); the effective count is the
 * smaller of it and the process-wide setting.
 */
#ifndef POOLING_THREADS_H
#define POOLING_THREADS_H

#ifdef _OPENMP
#include <omp.h>
#endif

#if defined(_WIN32)
#include <windows.h>
#define POOLING_TLS __declspec(thread)
static double pooling_now(void) {
    LARGE_INTEGER f, c;
    QueryPerformanceFrequency(&f);
    QueryPerformanceCounter(&c);
    return (double)c.QuadPart / (double)f.QuadPart;
}
static void pooling_threads_init(void) {}
#else
#include <pthread.h>
#include <time.h>
#define POOLING_TLS __thread
static double pooling_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}
#endif

#define POOLING_LATE_S 1e-3
#define POOLING_WAIT_S 5e-5
#define POOLING_BACKOFF_MIN_S 0.25
#define POOLING_BACKOFF_MAX_S 4.0

static POOLING_TLS int pooling_tls_limit = 0;   /* 0: no per-thread limit */
/* Written by whichever call saw contention last; plain doubles: a torn or
   stale read only shifts when threads are tried again. */
static volatile double pooling_serial_until = 0.0;
static volatile double pooling_backoff_s = POOLING_BACKOFF_MIN_S;
static volatile int pooling_forked = 0;
static volatile long pooling_contended_calls = 0;   /* for the tests */
static double pooling_late_bias = 0.0;   /* the tests' stand-in for a late worker */

#if !defined(_WIN32)
static void pooling_after_fork_in_child(void) { pooling_forked = 1; }
static void pooling_threads_init(void) {
    pthread_atfork(NULL, NULL, pooling_after_fork_in_child);
}
#endif

typedef struct {
    int on;        /* the region runs on threads */
    double t0;     /* when the caller opened it */
    double late;   /* the latest a worker started, seconds after t0 */
    double done;   /* when the caller finished its own share */
} pooling_region;

/* Whether a region that may run in parallel does (and its start time). */
static inline pooling_region pooling_region_begin(int parallel) {
    pooling_region r;
    r.on = 0;
    r.t0 = 0.0;
    r.late = 0.0;
    r.done = 0.0;
    if (parallel && !pooling_forked) {
        double now = pooling_now();
        if (now >= pooling_serial_until) {
            r.on = 1;
            r.t0 = now;
        }
    }
    return r;
}

/* Every team thread, first thing in the region. */
static inline void pooling_arrive(pooling_region* r) {
#ifdef _OPENMP
    if (r->on && omp_get_thread_num() > 0) {
        double late = pooling_now() - r->t0;
        if (late > r->late)
            r->late = late;
    }
#else
    (void)r;
#endif
}

/* Every team thread, last thing in the region (the loop before it does not
   wait for the others): the caller notes when its own share was done. */
static inline void pooling_leave(pooling_region* r) {
#ifdef _OPENMP
    if (r->on && omp_get_thread_num() == 0)
        r->done = pooling_now();
#else
    (void)r;
#endif
}

/* The caller, after the region: back off from threads if a worker started
   more than POOLING_LATE_S late, or if the caller, its own share done,
   waited for the workers longer than POOLING_WAIT_S and half its share (a
   worker that started late or was preempted halfway; on idle cores an
   even split leaves the caller no such wait: a worker wakes in
   microseconds). */
static inline void pooling_settle(const pooling_region* r) {
    double waited, own;
    if (!r->on)
        return;
    own = r->done > r->t0 ? r->done - r->t0 : 0.0;
    waited = r->done > 0.0 ? pooling_now() - r->done : 0.0;
    if (r->late + pooling_late_bias > POOLING_LATE_S
            || (waited > POOLING_WAIT_S && waited > 0.5 * own)) {
        double backoff = pooling_backoff_s;
        pooling_serial_until = pooling_now() + backoff;
        pooling_backoff_s = backoff * 2 > POOLING_BACKOFF_MAX_S ? POOLING_BACKOFF_MAX_S
                                                                 : backoff * 2;
        pooling_contended_calls += 1;
    } else {
        pooling_backoff_s = POOLING_BACKOFF_MIN_S;
    }
}

#endif
