/* Small portable worker threads of the zxpy binding itself.
 *
 * They use only Zircon syscalls, so the same code runs on the host kernel and on Fuchsia.  Python starts them with
 * zx_thread_create + zx_thread_start(entry = address of the function); they never touch the interpreter, so they
 * hold no GIL and can be suspended safely from Python.
 */
#ifndef ZXPY_CSRC_WORKERS_H_
#define ZXPY_CSRC_WORKERS_H_

#include <stdint.h>

/* Shared between the worker and its owner.  The worker is the only writer of `count`; the owner sets `stop`. */
typedef struct zxpy_progress {
    uint64_t count;
    uint32_t stop;
    uint32_t reserved;
} zxpy_progress_t;

/* Thread entry: increment progress->count, pausing `pause_ns` nanoseconds between steps (0 = 50 µs) so it does not
 * hog a core, until progress->stop is non-zero; then zx_thread_exit().  `progress` is a zxpy_progress_t*. */
void zxpy_progress_entry(uintptr_t progress, uintptr_t pause_ns);

#endif /* ZXPY_CSRC_WORKERS_H_ */
