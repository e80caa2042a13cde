#define _GNU_SOURCE /* ptrace requests, siginfo codes */
/* Spawned programs: Linux fault signals as Zircon exceptions.
 *
 * The monitor sees every signal a traced task is about to receive (a signal-delivery-stop).  A fault the CPU raised
 * in a thread of the main program (si_code > 0: the kernel's, not a kill(2)) is raised as the Zircon exception of its
 * kind through the core (hk_thread_raise_exception, ipc/exception.c), while the task stays in its stop:
 *
 *   SIGSEGV (SEGV_MAPERR, SEGV_ACCERR...)   ZX_EXCP_FATAL_PAGE_FAULT   x86-64 vector 14, cr2 = the address
 *   SIGSEGV (SI_KERNEL: a general protection fault, e.g. a non-canonical address)   ZX_EXCP_GENERAL, vector 13
 *   SIGBUS (BUS_ADRALN)                     ZX_EXCP_UNALIGNED_ACCESS   vector 17
 *   SIGBUS (other: past the end of a mapped file...)   ZX_EXCP_FATAL_PAGE_FAULT, vector 14
 *   SIGILL                                  ZX_EXCP_UNDEFINED_INSTRUCTION   vector 6
 *   SIGTRAP (SI_KERNEL from int3, TRAP_BRKPT from brk)   ZX_EXCP_SW_BREAKPOINT   vector 3
 *   SIGTRAP (TRAP_TRACE, TRAP_HWBKPT)       ZX_EXCP_HW_BREAKPOINT      vector 1
 *   SIGFPE                                  ZX_EXCP_GENERAL            vector 0 (divide error)
 *
 * (the vectors are x86-64's, zircon/kernel/arch/x86/include/arch/x86/interrupts.h; on arm64 `far` is the address and
 * `esr` is 0: Linux gives a tracer no syndrome, nor on x86-64 the page fault's error code, which reads 0).
 *
 * When the exception is over (exception_resolved, the core's call with the lock held) the monitor lets the task go:
 * handled, the signal is dropped, so the thread resumes where its registers say (after an int3; at a faulting
 * instruction again unless a handler moved it on); unhandled, the signal is delivered -- the process is being killed
 * with ZX_TASK_RETCODE_EXCEPTION_KILL by then (ipc/exception.c), or nobody had a channel bound and the program's own
 * disposition decides, as before exceptions existed.  Until then the task is held: a suspension neither resumes it
 * nor shows it SUSPENDED (linux_stop.c; Zircon suspends a thread in an exception only once the exception is over).
 *
 * A new thread of the main program raises ZX_EXCP_THREAD_STARTING in its first stop, before its first instruction,
 * and each thread ZX_EXCP_THREAD_EXITING at its exit stop (to the process's debugger channel only: ipc/exception.c;
 * the exiting thread does not wait for it).
 */
#include <elf.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <unistd.h>

#include "kernel.h"
#include "linux_task.h"

#ifndef TRAP_HWBKPT
#define TRAP_HWBKPT 4
#endif

enum { VEC_DE = 0, VEC_DB = 1, VEC_BP = 3, VEC_UD = 6, VEC_GP = 13, VEC_PF = 14, VEC_AC = 17 };

/* The exception type of a fault signal (0: not an exception), with its x86-64 vector. */
static uint32_t fault_type(const siginfo_t *si, uint64_t *vector) {
    if (si->si_code <= 0) return 0; /* sent by a process (kill, tgkill, sigqueue), not raised by the CPU */
    switch (si->si_signo) {
    case SIGSEGV:
        if (si->si_code == SI_KERNEL) {
            *vector = VEC_GP;
            return ZX_EXCP_GENERAL;
        }
        *vector = VEC_PF;
        return ZX_EXCP_FATAL_PAGE_FAULT;
    case SIGBUS:
        if (si->si_code == BUS_ADRALN) {
            *vector = VEC_AC;
            return ZX_EXCP_UNALIGNED_ACCESS;
        }
        *vector = VEC_PF;
        return ZX_EXCP_FATAL_PAGE_FAULT;
    case SIGILL: *vector = VEC_UD; return ZX_EXCP_UNDEFINED_INSTRUCTION;
    case SIGFPE: *vector = VEC_DE; return ZX_EXCP_GENERAL;
    case SIGTRAP:
        if (si->si_code == SI_KERNEL || si->si_code == TRAP_BRKPT) {
            *vector = VEC_BP;
            return ZX_EXCP_SW_BREAKPOINT;
        }
        if (si->si_code == TRAP_TRACE || si->si_code == TRAP_HWBKPT) {
            *vector = VEC_DB;
            return ZX_EXCP_HW_BREAKPOINT;
        }
        return 0;
    default: return 0;
    }
}

bool lt_task_fault(lt_task_t *k, int sig) {
    if (k->thread == NULL || k->in_exception) return false;
    if (sig != SIGSEGV && sig != SIGBUS && sig != SIGILL && sig != SIGFPE && sig != SIGTRAP) return false;
    siginfo_t si;
    memset(&si, 0, sizeof(si));
    if (ptrace(PTRACE_GETSIGINFO, k->tid, 0, &si) != 0) return false;
    uint64_t vector = 0;
    uint32_t type = fault_type(&si, &vector);
    if (type == 0) return false;
    zx_exception_report_t report;
    memset(&report, 0, sizeof(report));
    report.header.size = sizeof(report);
    report.header.type = type;
    uint64_t addr = (uint64_t)(uintptr_t)si.si_addr;
#if defined(__aarch64__)
    (void)vector;
    report.context.arch.u.arm_64.far = addr;
#else
    report.context.arch.u.x86_64.vector = vector;
    if (vector == VEC_PF) report.context.arch.u.x86_64.cr2 = addr;
#endif
    hk_lock();
    bool held = k->thread != NULL && hk_thread_raise_exception(k->thread, &report);
    if (held) {
        k->in_exception = true;
        k->exc_resolution = LT_EXC_PENDING;
    }
    hk_unlock();
    return held;
}

void lt_task_thread_starting_locked(lt_task_t *k) {
    if (k->thread == NULL || k->in_exception) return;
    zx_exception_report_t report;
    memset(&report, 0, sizeof(report));
    report.header.size = sizeof(report);
    report.header.type = ZX_EXCP_THREAD_STARTING;
    if (hk_thread_raise_exception(k->thread, &report)) {
        k->in_exception = true;
        k->exc_resolution = LT_EXC_PENDING;
    }
}

void lt_task_thread_exiting(lt_task_t *k) {
    if (k->thread == NULL) return;
    zx_exception_report_t report;
    memset(&report, 0, sizeof(report));
    report.header.size = sizeof(report);
    report.header.type = ZX_EXCP_THREAD_EXITING;
    hk_lock();
    if (k->thread != NULL && !k->in_exception) hk_thread_raise_exception(k->thread, &report); /* never held */
    hk_unlock();
}

void lt_exception_resolved(hk_thread_t *t, int how) {
    lt_thread_link_t *link = t->backend;
    if (link == NULL || link->task == NULL || !link->task->in_exception) return;
    link->task->exc_resolution = how == HK_EXC_HANDLED       ? LT_EXC_HANDLED
                                 : how == HK_EXC_THREAD_EXIT ? LT_EXC_THREAD_EXIT
                                                             : LT_EXC_UNHANDLED;
    lt_wake_monitor();
}

static bool vdso_range(void *ctx, uint64_t lo, uint64_t hi, const char *name) {
    if (strcmp(name, "[vdso]") != 0) return true;
    uint64_t *range = ctx;
    range[0] = lo;
    range[1] = hi;
    return false;
}

/* The address of a system-call instruction in the task's Linux vDSO (0: none found).  ZX_EXCEPTION_STATE_THREAD_EXIT
 * ends one thread: the only way to end one thread of a Linux program is for it to call exit(2) itself, so the monitor
 * points the stopped thread at an instruction that makes the call.  The vDSO's time functions fall back to a real
 * system call, so it has one (x86-64 `syscall`, arm64 `svc #0`); it is mapped in every Linux program. */
static uint64_t vdso_syscall_insn(pid_t tid) {
    uint64_t range[2] = {0, 0};
    if (!hk_proc_maps(tid, vdso_range, range)) return 0;
    uint64_t lo = range[0], hi = range[1];
    if (hi <= lo || hi - lo > (1u << 20)) return 0;
    size_t len = hi - lo;
    uint8_t *code = malloc(len);
    if (code == NULL) return 0;
    struct iovec local = {code, len}, remote = {(void *)lo, len};
    uint64_t at = 0;
    if (process_vm_readv(tid, &local, 1, &remote, 1, 0) == (ssize_t)len) {
#if defined(__aarch64__)
        for (size_t i = 0; at == 0 && i + 4 <= len; i += 4) {
            uint32_t insn;
            memcpy(&insn, code + i, sizeof insn);
            if (insn == 0xd4000001u) at = lo + i; /* svc #0 */
        }
#else
        for (size_t i = 0; at == 0 && i + 2 <= len; i++)
            if (code[i] == 0x0f && code[i + 1] == 0x05) at = lo + i; /* syscall */
#endif
    }
    free(code);
    return at;
}

/* Monitor, task stopped: make the thread call exit(0) when it is let go.  False: it cannot be done (a Fuchsia
 * program's task, whose calls the runner serves; no vDSO; the registers out of reach). */
static bool exit_thread_on_resume(lt_task_t *k) {
    if (k->resume != LT_RESUME_CONT) return false;
    uint64_t insn = vdso_syscall_insn(k->tid);
    if (insn == 0) return false;
#if defined(__aarch64__)
    struct user_pt_regs regs;
    struct iovec io = {&regs, sizeof regs};
    if (ptrace(PTRACE_GETREGSET, k->tid, (void *)NT_PRSTATUS, &io) != 0) return false;
    regs.pc = insn;
    regs.regs[8] = SYS_exit;
    regs.regs[0] = 0;
    if (ptrace(PTRACE_SETREGSET, k->tid, (void *)NT_PRSTATUS, &io) != 0) return false;
#else
    struct user_regs_struct regs;
    if (ptrace(PTRACE_GETREGS, k->tid, 0, &regs) != 0) return false;
    regs.rip = insn;
    regs.rax = SYS_exit;
    regs.orig_rax = (unsigned long long)-1; /* not in a system call: nothing to restart */
    regs.rdi = 0;
    if (ptrace(PTRACE_SETREGS, k->tid, 0, &regs) != 0) return false;
#endif
    k->single_step = false; /* the exit is one instruction away: no trap on the way */
    return true;
}

bool lt_task_exception_settle_locked(lt_task_t *k) {
    if (!k->in_exception) return false;
    if (k->exc_resolution == LT_EXC_PENDING) return true; /* held until the exception is over */
    if (k->exc_resolution == LT_EXC_HANDLED) k->stop_sig = 0; /* the fault is dropped */
    /* THREAD_EXIT: the fault is dropped and the thread exits; where that cannot be done the fault takes its course
     * (the program's own disposition: by default the process dies of it, EXCEPTION_KILL). */
    if (k->exc_resolution == LT_EXC_THREAD_EXIT && exit_thread_on_resume(k)) k->stop_sig = 0;
    k->in_exception = false;
    k->exc_resolution = LT_EXC_NONE;
    return false;
}
