/* Thread entries for zx_thread_start; see tfuncs.h for the constraints (no libc, no TLS). */
#include "tfuncs.h"

#include <stdbool.h>

#include <zircon/syscalls.h>

#define LOAD(p) __atomic_load_n((p), __ATOMIC_SEQ_CST)
#define STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_SEQ_CST)
#define ADD(p, v) __atomic_add_fetch((p), (v), __ATOMIC_SEQ_CST)

static __attribute__((noreturn)) void finish(tf_ctl_t *c) {
    STORE(&c->done, 1u);
    zx_thread_exit();
}

void tf_exit(uintptr_t ctl, uintptr_t unused) {
    (void)unused;
    tf_ctl_t *c = (tf_ctl_t *)ctl;
    STORE(&c->started, 1u);
    finish(c);
}

void tf_spin(uintptr_t ctl, uintptr_t unused) {
    (void)unused;
    tf_ctl_t *c = (tf_ctl_t *)ctl;
    STORE(&c->started, 1u);
    while (!LOAD(&c->stop)) {
        ADD(&c->count, 1u);
        zx_nanosleep(zx_deadline_after(50 * 1000));
    }
    finish(c);
}

void tf_sleep(uintptr_t ctl, uintptr_t unused) {
    (void)unused;
    tf_ctl_t *c = (tf_ctl_t *)ctl;
    STORE(&c->started, 1u);
    zx_status_t st = zx_nanosleep(LOAD(&c->deadline));
    STORE(&c->woke_at, zx_clock_get_monotonic());
    STORE(&c->status, st);
    finish(c);
}

void tf_wait(uintptr_t ctl, uintptr_t unused) {
    (void)unused;
    tf_ctl_t *c = (tf_ctl_t *)ctl;
    STORE(&c->started, 1u);
    zx_signals_t observed = 0;
    zx_status_t st = zx_object_wait_one(LOAD(&c->handle), ZX_USER_SIGNAL_0, ZX_TIME_INFINITE, &observed);
    STORE(&c->observed, observed);
    STORE(&c->status, st);
    finish(c);
}

static void note_unexpected(tf_ctl_t *c, zx_status_t st) {
    int32_t none = 0;
    __atomic_compare_exchange_n(&c->unexpected, &none, st, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    ADD(&c->unexpected_count, 1u);
}

void tf_race_jobs(uintptr_t ctl, uintptr_t unused) {
    (void)unused;
    tf_ctl_t *c = (tf_ctl_t *)ctl;
    STORE(&c->started, 1u);
    uint32_t n = LOAD(&c->iterations);
    for (uint32_t i = 0; i < n; i++) {
        zx_handle_t job = ZX_HANDLE_INVALID;
        zx_status_t st = zx_job_create(LOAD(&c->handle), 0, &job);
        if (st != ZX_OK) {
            note_unexpected(c, st);
            break;
        }
        STORE(c->shared_job, job);
        st = zx_task_kill(job);
        if (st != ZX_OK)
            note_unexpected(c, st);
        st = zx_handle_close(job);
        if (st != ZX_OK)
            note_unexpected(c, st);
        ADD(&c->count, 1u);
    }
    STORE(c->shared_job, (uint32_t)ZX_HANDLE_INVALID);
    finish(c);
}

void tf_race_processes(uintptr_t ctl, uintptr_t unused) {
    (void)unused;
    tf_ctl_t *c = (tf_ctl_t *)ctl;
    STORE(&c->started, 1u);
    while (!LOAD(&c->stop)) {
        zx_handle_t proc = ZX_HANDLE_INVALID, vmar = ZX_HANDLE_INVALID;
        zx_status_t st = zx_process_create(LOAD(c->shared_job), "race", 4, 0, &proc, &vmar);
        if (st == ZX_OK) {
            zx_handle_close(proc);
            zx_handle_close(vmar);
        } else if (st != ZX_ERR_BAD_HANDLE && st != ZX_ERR_BAD_STATE) {
            note_unexpected(c, st);
        }
        ADD(&c->count, 1u);
    }
    finish(c);
}
