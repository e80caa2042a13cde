/* Running Linux system calls inside a stopped Fuchsia program (a tracee of the monitor with PTRACE_O_TRACESYSGOOD):
 * the monitor sets the task's registers, points rip at a `syscall` instruction in the task, steps it through the
 * call's entry and exit stops (PTRACE_SYSCALL) and reads the result.  The runner builds a program's address space
 * this way (runner.c: the image, the vDSO and the stack mapped into the exec'd trampoline), and maps VMOs into it.
 *
 * Synchronous: the monitor thread waits for the task, so only calls that never block belong here (mmap, munmap,
 * mprotect, close, prctl).  A call that may block is run the other way (runner.c run_real_call): the task is let
 * go into it and its exit stop comes through the monitor's wait loop.
 *
 * Monitor thread only (ptrace requests must come from the tracer); x86-64 only.  Not in the Python module. */
#ifndef ZXPY_HOST_FUCHSIA_INJECT_H_
#define ZXPY_HOST_FUCHSIA_INJECT_H_

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/user.h>

typedef struct hk_inject {
    pid_t tid;
    uint64_t site;                  /* the address of a `syscall` instruction in the task */
    struct user_regs_struct regs;   /* the task's registers when hk_inject_begin read them */
    int pending_signal;             /* a signal whose delivery stop came meanwhile (held back), or 0 */
} hk_inject_t;

/* The task tid is in a ptrace-stop (a syscall stop, a signal-delivery stop or an event stop such as its exec):
 * read its registers; false if it is gone. */
bool hk_inject_begin(hk_inject_t *in, pid_t tid, uint64_t site);

/* Run nr(a0, ..., a5) in the task; *result is what Linux returned (-errno on failure).  The task is left in the
 * call's exit stop, its registers those of the call (hk_inject_restore, or PTRACE_SETREGS of new ones, before it
 * goes on).  false: the task died, or stopped for something else (an exit event), which is left unconsumed for the
 * monitor's wait loop. */
bool hk_inject_syscall(hk_inject_t *in, long nr, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4,
                       uint64_t a5, int64_t *result);

/* Put back the registers hk_inject_begin read. */
bool hk_inject_restore(const hk_inject_t *in);

/* Copy len bytes into the task's memory at addr (process_vm_writev; the pages must be writable); false on
 * failure. */
bool hk_inject_write(const hk_inject_t *in, uint64_t addr, const void *data, size_t len);

#endif /* ZXPY_HOST_FUCHSIA_INJECT_H_ */
