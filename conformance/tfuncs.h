/* Entry points for threads started with zx_thread_start.
 *
 * On Fuchsia a thread started with zx_thread_start is a bare kernel thread: libc never set up its thread pointer,
 * so these functions touch no libc state and no TLS; they call only vDSO syscalls and use compiler atomics on the
 * tf_ctl_t they are handed, and end with zx_thread_exit().  tfuncs.c is compiled for Fuchsia without the stack
 * protector, SafeStack and ShadowCallStack (both read per-thread state libc did not set up), and without
 * out-of-line atomics.  On the Linux host kernel the same entries run on real pthreads.
 */
#ifndef ZXPY_CONFORMANCE_TFUNCS_H_
#define ZXPY_CONFORMANCE_TFUNCS_H_

#include <stdint.h>

#include <zircon/types.h>

typedef void (*tf_entry_t)(uintptr_t arg1, uintptr_t arg2);

/* Shared between a scenario and its thread.  Read and written with __atomic builtins on both sides. */
typedef struct tf_ctl {
    uint64_t count;              /* progress made (tf_spin, tf_race_*) */
    uint32_t stop;               /* set by the scenario: leave the loop and exit */
    uint32_t started;            /* set by the thread as its first action */
    uint32_t done;               /* set by the thread just before zx_thread_exit */
    int32_t status;              /* result of the thread's blocking call */
    uint32_t observed;           /* observed signals of tf_wait */
    uint32_t handle;             /* tf_wait: event to wait on; tf_race_*: the parent job */
    int64_t deadline;            /* tf_sleep: absolute monotonic deadline */
    int64_t woke_at;             /* tf_sleep: monotonic time after the sleep returned */
    uint32_t iterations;         /* tf_race_jobs: jobs to create and kill */
    int32_t unexpected;          /* tf_race_*: first status outside the allowed set, or 0 */
    uint64_t unexpected_count;
    uint32_t *shared_job;        /* tf_race_*: the job handle value currently being created and killed */
    uint32_t handle2;            /* tf_port_relay: port the packet is passed on to (0: none) */
    uint64_t key;                /* tf_port_relay: key of the packet taken */
} tf_ctl_t;

void tf_exit(uintptr_t ctl, uintptr_t unused);       /* started = done = 1, exit */
void tf_spin(uintptr_t ctl, uintptr_t unused);       /* count++ with a ~50 us sleep per step until stop */
void tf_sleep(uintptr_t ctl, uintptr_t unused);      /* zx_nanosleep(deadline), woke_at = now */
void tf_wait(uintptr_t ctl, uintptr_t unused);       /* wait_one(handle, ZX_USER_SIGNAL_0, deadline or INFINITE) */
/* Scenario 11: zx_channel_call(handle, deadline) with the 9 bytes "abcdefghi" (the kernel replaces the first 4
 * with the txid); status = the call's, or BAD_STATE when OK but the reply is not 9 bytes ending in "efghj". */
void tf_channel_call(uintptr_t ctl, uintptr_t unused);
/* Scenario 12: zx_port_wait(handle, deadline) -> status, key, woke_at; on OK, key + 5 is queued on handle2. */
void tf_port_relay(uintptr_t ctl, uintptr_t unused);
/* Scenario 40: create a job under `handle`, publish it in *shared_job, kill it (must be OK), close it. */
void tf_race_jobs(uintptr_t ctl, uintptr_t unused);
/* Scenario 40: until stop, zx_process_create in *shared_job; only OK, BAD_HANDLE and BAD_STATE are allowed. */
void tf_race_processes(uintptr_t ctl, uintptr_t unused);

#endif /* ZXPY_CONFORMANCE_TFUNCS_H_ */
