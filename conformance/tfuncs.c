/* Thread entries for zx_thread_start; see tfuncs.h for the constraints (no libc, no TLS). */
#include "tfuncs.h"

#include <stdbool.h>

#include <zircon/syscalls.h>
#include <zircon/syscalls/port.h>

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
    zx_time_t deadline = LOAD(&c->deadline);
    zx_status_t st =
        zx_object_wait_one(LOAD(&c->handle), ZX_USER_SIGNAL_0, deadline ? deadline : ZX_TIME_INFINITE, &observed);
    STORE(&c->observed, observed);
    STORE(&c->status, st);
    finish(c);
}

void tf_channel_call(uintptr_t ctl, uintptr_t unused) {
    (void)unused;
    tf_ctl_t *c = (tf_ctl_t *)ctl;
    STORE(&c->started, 1u);
    /* Filled and compared byte by byte: no libc here (memcpy, memcmp). */
    uint8_t request[9], reply[9];
    for (int i = 0; i < 9; i++) {
        request[i] = (uint8_t)('a' + i);
        reply[i] = 0;
    }
    zx_channel_call_args_t args = {
        .wr_bytes = request,
        .wr_handles = 0,
        .rd_bytes = reply,
        .rd_handles = 0,
        .wr_num_bytes = sizeof request,
        .wr_num_handles = 0,
        .rd_num_bytes = sizeof reply,
        .rd_num_handles = 0,
    };
    uint32_t actual_bytes = 0, actual_handles = 0;
    zx_status_t st = zx_channel_call(LOAD(&c->handle), 0, LOAD(&c->deadline), &args, &actual_bytes, &actual_handles);
    if (st == ZX_OK) {
        bool same = actual_bytes == sizeof reply && actual_handles == 0;
        for (int i = (int)sizeof(zx_txid_t); i < 9; i++)
            same = same && reply[i] == (uint8_t)(i == 8 ? 'j' : 'a' + i);
        if (!same)
            st = ZX_ERR_BAD_STATE;
    }
    STORE(&c->status, st);
    finish(c);
}

void tf_port_relay(uintptr_t ctl, uintptr_t unused) {
    (void)unused;
    tf_ctl_t *c = (tf_ctl_t *)ctl;
    STORE(&c->started, 1u);
    zx_port_packet_t packet;
    packet.key = 0;
    zx_status_t st = zx_port_wait(LOAD(&c->handle), LOAD(&c->deadline), &packet);
    STORE(&c->woke_at, zx_clock_get_monotonic());
    STORE(&c->key, packet.key);
    if (st == ZX_OK && LOAD(&c->handle2) != ZX_HANDLE_INVALID) {
        packet.key += 5u;
        st = zx_port_queue(LOAD(&c->handle2), &packet);
    }
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
