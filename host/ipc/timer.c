/* Timers: zx_timer_create, zx_timer_set, zx_timer_cancel (zircon/kernel/lib/syscalls/timer.cc,
 * zircon/kernel/object/timer_dispatcher.cc).
 *
 * Zircon rules kept here:
 * - create: the clock must be ZX_CLOCK_MONOTONIC, then the options one of ZX_TIMER_SLACK_CENTER / EARLY / LATE
 *   (INVALID_ARGS for either); the handle has ZX_DEFAULT_TIMER_RIGHTS (BASIC, WRITE, SIGNAL).
 * - set: a negative slack is OUT_OF_RANGE before the handle, then the handle with WRITE.  A set clears
 *   ZX_TIMER_SIGNALED and replaces a pending deadline; a deadline already past (or <= 0) fires at once.
 * - cancel: the handle with WRITE; the pending deadline goes and ZX_TIMER_SIGNALED is cleared.
 * - A timer that loses its last handle is canceled (TimerDispatcher::on_zero_handles).
 * The slack is accepted and not used: this timer fires at its deadline (as late as Linux wakes the timer thread),
 * which every slack mode allows.
 *
 * One host thread of the kernel's own (started with the first armed timer) sleeps until the earliest deadline and
 * asserts ZX_TIMER_SIGNALED.  Armed timers sit in a list under their own mutex (taken inside the kernel lock, never
 * the other way round); the list holds a reference to each, and a generation number tells the thread that a timer it
 * took off the list was set again or canceled meanwhile.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "../kernel.h"

#define TIMER_SIGNALED ((zx_signals_t)1u << 3) /* ZX_TIMER_SIGNALED = __ZX_OBJECT_SIGNALED */
#define TIMER_SLACK_LATE 2u                    /* ZX_TIMER_SLACK_LATE, the largest option */
#define CLOCK_ZX_MONOTONIC 0u                  /* ZX_CLOCK_MONOTONIC */
#define DEFAULT_TIMER_RIGHTS \
    (ZX_RIGHT_DUPLICATE | ZX_RIGHT_TRANSFER | ZX_RIGHT_WAIT | ZX_RIGHT_INSPECT | ZX_RIGHT_WRITE | ZX_RIGHT_SIGNAL)

typedef struct hk_timer {
    hk_object_t base;
    uint32_t options;
    /* Under g_mu: */
    bool armed; /* in g_armed, holding a reference */
    zx_time_t deadline;
    uint64_t gen; /* bumped by every set and cancel */
    hk_link_t link;
} hk_timer_t;

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cv;
static hk_link_t g_armed = {&g_armed, &g_armed};
static bool g_thread_started;
static pthread_once_t g_cv_once = PTHREAD_ONCE_INIT;

static void cv_init(void) {
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC); /* hk_now()'s clock */
    pthread_cond_init(&g_cv, &attr);
    pthread_condattr_destroy(&attr);
}

/* fork(2) (fork.c): the child's host kernel starts empty and has no timer thread; the parent's armed timers are
 * left behind unreachable, as its other objects are.  Only the child's one thread runs here: the mutex is made anew
 * (the parent's may have been held across the fork). */
static void timer_fork_child(void) {
    pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
    g_mu = fresh;
    hk_list_init(&g_armed);
    g_thread_started = false;
}

__attribute__((constructor)) static void timer_fork_init(void) { pthread_atfork(NULL, NULL, timer_fork_child); }

static hk_timer_t *as_timer(hk_object_t *obj) { return HK_CONTAINER_OF(obj, hk_timer_t, base); }

/* g_mu held.  Take t off the list; true if it was armed (the list's reference is now the caller's to drop). */
static bool disarm(hk_timer_t *t) {
    t->gen++;
    if (!t->armed) return false;
    t->armed = false;
    hk_list_remove(&t->link);
    return true;
}

static void *timer_thread(void *arg) {
    (void)arg;
    pthread_mutex_lock(&g_mu);
    for (;;) {
        hk_timer_t *due = NULL;
        zx_time_t earliest = ZX_TIME_INFINITE;
        zx_time_t now = hk_now();
        HK_LIST_FOR_EACH(it, &g_armed) {
            hk_timer_t *t = HK_CONTAINER_OF(it, hk_timer_t, link);
            if (t->deadline <= now) {
                due = t;
                break;
            }
            if (t->deadline < earliest) earliest = t->deadline;
        }
        if (due == NULL) {
            if (earliest == ZX_TIME_INFINITE) {
                pthread_cond_wait(&g_cv, &g_mu);
            } else {
                struct timespec ts = {.tv_sec = earliest / 1000000000, .tv_nsec = earliest % 1000000000};
                pthread_cond_timedwait(&g_cv, &g_mu, &ts);
            }
            continue;
        }
        uint64_t gen = due->gen;
        due->armed = false;
        hk_list_remove(&due->link);
        pthread_mutex_unlock(&g_mu);
        hk_lock();
        pthread_mutex_lock(&g_mu);
        bool current = due->gen == gen; /* not set again or canceled since it was taken off */
        pthread_mutex_unlock(&g_mu);
        if (current) hk_signal_update(&due->base, 0, TIMER_SIGNALED);
        hk_object_unref(&due->base); /* the list's reference */
        hk_unlock();
        pthread_mutex_lock(&g_mu);
    }
    return NULL;
}

static void timer_zero_handles(hk_object_t *obj) {
    pthread_mutex_lock(&g_mu);
    bool was_armed = disarm(as_timer(obj));
    pthread_mutex_unlock(&g_mu);
    if (was_armed) hk_object_unref(obj);
}

static void timer_destroy(hk_object_t *obj) { free(as_timer(obj)); }

static zx_koid_t no_related_koid(const hk_object_t *obj) {
    (void)obj;
    return 0;
}

static const hk_object_ops_t timer_ops = {
    .on_zero_handles = timer_zero_handles,
    .destroy = timer_destroy,
    .related_koid = no_related_koid,
};

zx_status_t zx_timer_create(uint32_t options, uint32_t clock_id, zx_handle_t *out) {
    if (clock_id != CLOCK_ZX_MONOTONIC || options > TIMER_SLACK_LATE || out == NULL) return ZX_ERR_INVALID_ARGS;
    hk_timer_t *t = calloc(1, sizeof *t);
    if (t == NULL) return ZX_ERR_NO_MEMORY;
    t->options = options;
    hk_list_init(&t->link);
    hk_lock();
    hk_object_init(&t->base, ZX_OBJ_TYPE_TIMER, &timer_ops);
    zx_status_t status = hk_handle_alloc(&t->base, DEFAULT_TIMER_RIGHTS, out);
    hk_object_unref(&t->base);
    hk_unlock();
    return status;
}

/* Lock held.  The timer of handle h with WRITE. */
static zx_status_t timer_get(zx_handle_t h, hk_timer_t **out) {
    hk_object_t *obj;
    zx_status_t status = hk_handle_get(h, ZX_OBJ_TYPE_TIMER, ZX_RIGHT_WRITE, &obj, NULL);
    if (status == ZX_OK) *out = as_timer(obj);
    return status;
}

zx_status_t zx_timer_set(zx_handle_t handle, zx_time_t deadline, zx_duration_t slack) {
    if (slack < 0) return ZX_ERR_OUT_OF_RANGE;
    pthread_once(&g_cv_once, cv_init);
    hk_lock();
    hk_timer_t *t;
    zx_status_t status = timer_get(handle, &t);
    if (status == ZX_OK) {
        hk_signal_update(&t->base, TIMER_SIGNALED, 0);
        pthread_mutex_lock(&g_mu);
        bool was_armed = disarm(t);
        t->deadline = deadline;
        t->armed = true;
        hk_list_add_tail(&g_armed, &t->link);
        if (!was_armed) hk_object_ref(&t->base); /* the list's reference (kept when it was armed already) */
        if (!g_thread_started) {
            pthread_t thread;
            pthread_attr_t attr;
            pthread_attr_init(&attr);
            pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
            if (hk_thread_spawn_quiet(&thread, &attr, timer_thread, NULL) == 0) g_thread_started = true;
            else status = ZX_ERR_NO_RESOURCES;
            pthread_attr_destroy(&attr);
        }
        if (status != ZX_OK && disarm(t)) hk_object_unref(&t->base);
        pthread_cond_signal(&g_cv);
        pthread_mutex_unlock(&g_mu);
    }
    hk_unlock();
    return status;
}

zx_status_t zx_timer_cancel(zx_handle_t handle) {
    hk_lock();
    hk_timer_t *t;
    zx_status_t status = timer_get(handle, &t);
    if (status == ZX_OK) {
        pthread_mutex_lock(&g_mu);
        bool was_armed = disarm(t);
        pthread_mutex_unlock(&g_mu);
        hk_signal_update(&t->base, TIMER_SIGNALED, 0);
        if (was_armed) hk_object_unref(&t->base);
    }
    hk_unlock();
    return status;
}
