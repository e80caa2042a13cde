/* Signals and waits: zx_object_wait_one, zx_object_signal, asynchronous observers (the core of
 * zx_object_wait_async, whose port side is ipc/port.c), the monotonic clock and zx_nanosleep.
 *
 * A waiter lives on the waiting thread's stack, linked into the object's list under the kernel lock.  It sleeps
 * on its own futex word with the lock released, so a waker never blocks and a waiting thread holds nothing while
 * it sleeps.  The waker marks the word under the lock and wakes the futex once the lock is dropped
 * (hk_wake_after_unlock): the woken thread's first act is to take the lock.
 *
 * Suspension, as in Zircon (zircon/kernel/lib/syscalls/object_wait.cc, kernel/thread.cc): suspending a thread
 * blocked in zx_object_wait_one ends its wait with ZX_ERR_INTERNAL_INTR_RETRY -- the observer is removed
 * (WaitSignalObserver::End) -- the thread suspends on its way out, and the syscall is issued again after the
 * resume, with the same arguments and so the same absolute deadline.  So while suspended the waiter sees nothing:
 * a signal raised and cleared again meanwhile is missed, a handle closed meanwhile gives BAD_HANDLE on the retry
 * (not CANCELED), and the wait never completes or times out while the thread is suspended; after the resume a
 * deadline already past gives TIMED_OUT, a signal active then gives OK.
 */
#include <errno.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "kernel.h"

enum { WAIT_PENDING = 0, WAIT_SATISFIED = 1, WAIT_CANCELED = 2, WAIT_INTERRUPTED = 3 };


/* Every zx_object_wait_one blocked right now (lock held), so a suspension can find its thread's wait. */
static hk_waiter_t *g_wait_ones;

zx_time_t hk_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (zx_time_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static struct timespec to_timespec(zx_time_t t) {
    struct timespec ts = {.tv_sec = t / 1000000000, .tv_nsec = t % 1000000000};
    return ts;
}

/* Sleep while *word == 0 or until the absolute monotonic deadline; returns false on timeout. */
static bool futex_wait_until(_Atomic uint32_t *word, zx_time_t deadline) {
    while (atomic_load(word) == WAIT_PENDING) {
        struct timespec ts = to_timespec(deadline);
        long r = syscall(SYS_futex, word, FUTEX_WAIT_BITSET_PRIVATE, WAIT_PENDING,
                         deadline == ZX_TIME_INFINITE ? NULL : &ts, NULL, HK_WAIT_FUTEX_BITSET);
        if (r == -1 && errno == ETIMEDOUT) return atomic_load(word) != WAIT_PENDING;
        if (HK_TSAN && r == -1 && errno == EINTR) {
            struct timespec zero = {0, 0};
            nanosleep(&zero, NULL); /* lets ThreadSanitizer run the park handler it deferred */
        }
    }
    return true;
}

static void unlink_waiter(hk_object_t *obj, hk_waiter_t *w) {
    if (w->prev) w->prev->next = w->next;
    else obj->waiters = w->next;
    if (w->next) w->next->prev = w->prev;
    w->prev = w->next = NULL;
}

static void finish_waiter(hk_object_t *obj, hk_waiter_t *w, uint32_t how, zx_signals_t observed) {
    unlink_waiter(obj, w);
    w->observed = observed;
    if (w->fire != NULL) { /* an asynchronous observer: its owner takes it from here (and may free it) */
        w->obj = NULL;
        w->fire(w, how == WAIT_CANCELED, observed);
        return;
    }
    atomic_store(&w->word, how);
    hk_wake_after_unlock(&w->word);
}

void hk_signal_update(hk_object_t *obj, zx_signals_t clear, zx_signals_t set) {
    zx_signals_t before = obj->signals;
    zx_signals_t signals = (before & ~clear) | set;
    obj->signals = signals;
    zx_signals_t rising = signals & ~before;
    hk_waiter_t *w = obj->waiters;
    while (w != NULL) {
        hk_waiter_t *next = w->next;
        if (w->wanted & (w->edge ? rising : signals)) finish_waiter(obj, w, WAIT_SATISFIED, signals);
        w = next;
    }
}

void hk_wait_cancel_handle(hk_object_t *obj, zx_handle_t h) {
    hk_waiter_t *w = obj->waiters;
    while (w != NULL) {
        hk_waiter_t *next = w->next;
        if (w->handle == h && w->table == hk_cpu.table) finish_waiter(obj, w, WAIT_CANCELED, obj->signals | ZX_SIGNAL_HANDLE_CLOSED);
        w = next;
    }
}

static void link_waiter(hk_object_t *obj, hk_waiter_t *w) {
    w->prev = NULL;
    w->next = obj->waiters;
    if (obj->waiters) obj->waiters->prev = w;
    obj->waiters = w;
}

/* Zircon's PortObserver, generalised: Dispatcher::AddObserver calls OnInitialize with the current state (a level
 * trigger already met queues at once), OnStateChange on every update, OnCancel when the handle is closed and
 * OnCancelByKey for zx_port_cancel (zircon/kernel/object/port_dispatcher.cc). */
void hk_wait_async_add(hk_object_t *obj, hk_waiter_t *w) {
    w->obj = obj;
    w->table = hk_cpu.table; /* the handle value w->handle names a handle of the current table */
    link_waiter(obj, w);
    if (!w->edge && (obj->signals & w->wanted)) finish_waiter(obj, w, WAIT_SATISFIED, obj->signals);
}

void hk_wait_async_remove(hk_waiter_t *w) {
    if (w->obj == NULL) return;
    unlink_waiter(w->obj, w);
    w->obj = NULL;
}

bool hk_wait_async_cancel(hk_object_t *obj, zx_handle_t h, const void *owner, uint64_t key) {
    bool found = false;
    hk_waiter_t *w = obj->waiters;
    while (w != NULL) {
        hk_waiter_t *next = w->next;
        if (w->fire != NULL && w->handle == h && w->table == hk_cpu.table && w->owner == owner && w->key == key) {
            finish_waiter(obj, w, WAIT_CANCELED, obj->signals);
            found = true;
        }
        w = next;
    }
    return found;
}

/* The sleeps of calls served for Fuchsia programs (hk_sleep_locked with hk_cpu.serving). */
static hk_sleeper_t *g_served_sleepers;

void hk_wait_interrupt_thread(hk_thread_t *t) {
    for (hk_waiter_t *w = g_wait_ones; w != NULL; w = w->gnext) {
        if (w->thread == t && atomic_load(&w->word) == WAIT_PENDING) finish_waiter(w->obj, w, WAIT_INTERRUPTED, 0);
    }
    for (hk_sleeper_t *s = g_served_sleepers; s != NULL; s = s->gnext) {
        if (s->thread != t) continue;
        atomic_store(&s->word, WAIT_INTERRUPTED);
        hk_wake_after_unlock(&s->word);
    }
}

bool hk_serving_interrupted(void) {
    hk_thread_t *t = hk_cpu.thread;
    return hk_cpu.serving && t != NULL &&
           (t->stop_requested || t->state == HK_THREAD_DYING || t->state == HK_THREAD_DEAD);
}

static void global_link(hk_waiter_t *w) {
    w->gprev = NULL;
    w->gnext = g_wait_ones;
    if (g_wait_ones) g_wait_ones->gprev = w;
    g_wait_ones = w;
}

static void global_unlink(hk_waiter_t *w) {
    if (w->gprev) w->gprev->gnext = w->gnext;
    else g_wait_ones = w->gnext;
    if (w->gnext) w->gnext->gprev = w->gprev;
    w->gprev = w->gnext = NULL;
}

/* A stop is requested for the calling thread, and its backend parks it (hk_park_self). */
static bool stop_requested_for_me(void) {
    hk_thread_t *t = hk_cpu.thread;
    return t != NULL && t->ops->park_self != NULL && t->stop_requested;
}

/* Mark the calling thread (when it is a thread object) as blocked for ZX_INFO_THREAD. */
static void set_blocked(uint32_t state) {
    if (hk_cpu.thread != NULL) hk_cpu.thread->blocked = state;
}

zx_status_t zx_object_wait_one(zx_handle_t handle, zx_signals_t signals, zx_time_t deadline,
                               zx_signals_t *observed) {
    hk_lock();
    for (;;) { /* one pass per issue of the syscall: a suspension makes the caller issue it again */
        hk_object_t *obj;
        zx_status_t status = hk_handle_get(handle, ZX_OBJ_TYPE_NONE, ZX_RIGHT_WAIT, &obj, NULL);
        if (status != ZX_OK) {
            hk_unlock();
            return status;
        }
        /* A wanted signal already active satisfies the wait whatever the deadline. */
        if (obj->signals & signals) {
            if (observed) *observed = obj->signals;
            hk_unlock();
            return ZX_OK;
        }
        if (deadline <= hk_now()) {
            if (observed) *observed = obj->signals;
            hk_unlock();
            return ZX_ERR_TIMED_OUT;
        }
        if (stop_requested_for_me()) { /* an interruptible wait with a suspension pending: INTR_RETRY at once */
            hk_park_if_stopped_locked();
            continue;
        }
        if (hk_cpu.serving && hk_cpu.thread != NULL && hk_cpu.thread->stop_requested) {
            hk_unlock(); /* a Fuchsia program's call: the runner re-issues it after the resume */
            return ZX_ERR_INTERNAL_INTR_RETRY;
        }
        hk_waiter_t w = {.handle = handle, .table = hk_cpu.table, .wanted = signals, .obj = obj,
                         .thread = hk_cpu.thread};
        atomic_init(&w.word, WAIT_PENDING);
        link_waiter(obj, &w);
        global_link(&w);
        hk_object_ref(obj);
        set_blocked(ZX_THREAD_STATE_BLOCKED_WAIT_ONE);
        hk_unlock();

        futex_wait_until(&w.word, deadline);

        hk_lock();
        set_blocked(0);
        global_unlink(&w);
        uint32_t how = atomic_load(&w.word);
        if (how == WAIT_INTERRUPTED) { /* ZX_ERR_INTERNAL_INTR_RETRY: suspend, then issue the wait again */
            hk_object_unref(obj);
            if (hk_cpu.serving) { /* a Fuchsia program's call: the runner re-issues it after the resume */
                hk_unlock();
                return ZX_ERR_INTERNAL_INTR_RETRY;
            }
            hk_park_if_stopped_locked();
            continue;
        }
        if (how == WAIT_PENDING) { /* timed out: still linked */
            unlink_waiter(obj, &w);
            w.observed = obj->signals;
            status = ZX_ERR_TIMED_OUT;
        } else {
            status = how == WAIT_CANCELED ? ZX_ERR_CANCELED : ZX_OK;
        }
        if (observed) *observed = w.observed;
        hk_object_unref(obj);
        hk_unlock();
        return status;
    }
}

zx_status_t zx_object_signal(zx_handle_t handle, uint32_t clear_mask, uint32_t set_mask) {
    hk_lock();
    hk_object_t *obj;
    zx_status_t status = hk_handle_get(handle, ZX_OBJ_TYPE_NONE, ZX_RIGHT_SIGNAL, &obj, NULL);
    if (status == ZX_OK) {
        /* Users may only touch the user signals, plus SIGNALED on events. */
        zx_signals_t allowed = ZX_USER_SIGNAL_ALL | (obj->type == ZX_OBJ_TYPE_EVENT ? ZX_EVENT_SIGNALED : 0);
        if (((clear_mask | set_mask) & ~allowed) != 0) status = ZX_ERR_INVALID_ARGS;
        else hk_signal_update(obj, clear_mask, set_mask);
    }
    hk_unlock();
    return status;
}

void hk_sleeper_wake(hk_sleeper_t *s) {
    atomic_store(&s->word, WAIT_SATISFIED);
    hk_wake_after_unlock(&s->word);
}

void hk_park_if_stopped_locked(void) {
    /* stop_requested is set under the lock by zx_task_suspend, before the park signal is even sent. */
    while (stop_requested_for_me()) {
        hk_unlock(); /* parks here if the park signal already arrived */
        hk_park_self(); /* else here (it returns at once once resumed) */
        hk_lock();
    }
}

void hk_sleep_locked(hk_sleeper_t *s, zx_time_t deadline, uint32_t blocked_state, bool interruptible) {
    s->thread = NULL;
    if (interruptible && hk_cpu.serving && hk_cpu.thread != NULL) {
        if (hk_serving_interrupted()) return;
        s->thread = hk_cpu.thread;
        s->gprev = NULL;
        s->gnext = g_served_sleepers;
        if (g_served_sleepers) g_served_sleepers->gprev = s;
        g_served_sleepers = s;
    }
    atomic_store(&s->word, WAIT_PENDING);
    set_blocked(blocked_state);
    hk_unlock();
    futex_wait_until(&s->word, deadline);
    hk_lock();
    set_blocked(0);
    if (s->thread != NULL) {
        if (s->gprev) s->gprev->gnext = s->gnext;
        else g_served_sleepers = s->gnext;
        if (s->gnext) s->gnext->gprev = s->gprev;
        s->thread = NULL;
    }
    hk_park_if_stopped_locked();
}

zx_time_t zx_clock_get_monotonic(void) { return hk_now(); }

zx_time_t zx_deadline_after(zx_duration_t nanoseconds) {
    zx_time_t now = hk_now();
    if (nanoseconds > 0 && now > ZX_TIME_INFINITE - nanoseconds) return ZX_TIME_INFINITE;
    return now + nanoseconds;
}

static void set_blocked_locked(uint32_t state) {
    hk_lock();
    set_blocked(state);
    hk_unlock();
}

zx_status_t zx_nanosleep(zx_time_t deadline) {
    if (deadline <= 0) return ZX_OK; /* sys_nanosleep: no sleep at all (zircon/kernel/lib/syscalls/zircon.cc) */
    set_blocked_locked(ZX_THREAD_STATE_BLOCKED_SLEEPING);
    if (deadline == ZX_TIME_INFINITE) {
        for (;;) pause(); /* Zircon sleeps forever; only a kill ends it */
    }
    /* An absolute deadline: a sleep interrupted by a park keeps its original deadline (SuspendSleeping). */
    struct timespec ts = to_timespec(deadline < 0 ? 0 : deadline);
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
    }
    set_blocked_locked(0);
    return ZX_OK;
}
