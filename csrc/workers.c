/* Portable progress worker: see workers.h. */
#include "workers.h"

#include <zircon/syscalls.h>
#include <zircon/types.h>

#define ZXPY_PROGRESS_DEFAULT_PAUSE_NS 50000

void zxpy_progress_entry(uintptr_t progress, uintptr_t pause_ns) {
    zxpy_progress_t *p = (zxpy_progress_t *)progress;
    zx_duration_t pause = pause_ns ? (zx_duration_t)pause_ns : ZXPY_PROGRESS_DEFAULT_PAUSE_NS;

    /* Plain atomic loads and stores only (no read-modify-write): the worker is the only writer of count, and
     * aarch64 Fuchsia builds would otherwise need the compiler-rt outline-atomics helpers. */
    while (!__atomic_load_n(&p->stop, __ATOMIC_ACQUIRE)) {
        uint64_t next = __atomic_load_n(&p->count, __ATOMIC_RELAXED) + 1;
        __atomic_store_n(&p->count, next, __ATOMIC_RELEASE);
        zx_nanosleep(zx_deadline_after(pause));
    }
    zx_thread_exit();
}
