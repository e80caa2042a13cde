#define _GNU_SOURCE /* process_vm_writev, ptrace requests, __WALL */
/* Running Linux system calls inside a stopped Fuchsia program: see inject.h. */
#include "inject.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/wait.h>

#if !defined(__x86_64__)
#error "host/fuchsia/inject.c runs x86-64 tracees only"
#endif

bool hk_inject_begin(hk_inject_t *in, pid_t tid, uint64_t site) {
    memset(in, 0, sizeof *in);
    in->tid = tid;
    in->site = site;
    return ptrace(PTRACE_GETREGS, tid, 0, &in->regs) == 0;
}

bool hk_inject_restore(const hk_inject_t *in) {
    return ptrace(PTRACE_SETREGS, in->tid, 0, (void *)&in->regs) == 0;
}

bool hk_inject_write(const hk_inject_t *in, uint64_t addr, const void *data, size_t len) {
    struct iovec local = {(void *)data, len}, remote = {(void *)(uintptr_t)addr, len};
    return len == 0 || process_vm_writev(in->tid, &local, 1, &remote, 1, 0) == (ssize_t)len;
}

/* Wait for the task's next stop and consume it if it is a syscall stop (*sig = 0) or a signal-delivery stop
 * (*sig = the signal); anything else (an exit, an event stop) is left for the monitor's wait loop: false. */
static bool next_stop(pid_t tid, int *sig) {
    siginfo_t si;
    for (;;) {
        memset(&si, 0, sizeof si);
        if (waitid(P_PID, (id_t)tid, &si, WEXITED | WSTOPPED | WNOWAIT | __WALL) == 0) break;
        if (errno != EINTR) return false;
    }
    /* A ptrace-stop's si_status is the stop's whole code: SIGTRAP | 0x80 for a syscall stop, the signal for a
     * signal-delivery stop, SIGTRAP | event << 8 for an event stop. */
    if (si.si_code != CLD_TRAPPED) return false;
    int code = si.si_status;
    if (code != (SIGTRAP | 0x80) && (code & ~0x7f) != 0) return false;
    int status;
    while (waitpid(tid, &status, __WALL) < 0) {
        if (errno != EINTR) return false;
    }
    if (!WIFSTOPPED(status)) return false; /* cannot happen: the stop was seen */
    *sig = code == (SIGTRAP | 0x80) ? 0 : code;
    return true;
}

bool hk_inject_syscall(hk_inject_t *in, long nr, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4,
                       uint64_t a5, int64_t *result) {
    struct user_regs_struct r = in->regs;
    r.rip = in->site;
    r.rax = (uint64_t)nr;
    r.orig_rax = (uint64_t)-1; /* no system call to restart: the kernel leaves rip and rax alone */
    r.rdi = a0;
    r.rsi = a1;
    r.rdx = a2;
    r.r10 = a3;
    r.r8 = a4;
    r.r9 = a5;
    if (ptrace(PTRACE_SETREGS, in->tid, 0, &r) != 0) return false;
    /* The first exit stop may still be an earlier call's (the execve of an exec stop, or the call a SYSEMU entry
     * stop skipped): Linux writes that call's result into rax on the way out, so the registers are set again
     * there, and the task reaches the site only then. */
    bool entered = false;
    for (;;) {
        if (ptrace(PTRACE_SYSCALL, in->tid, 0, 0) != 0) return false;
        int sig;
        if (!next_stop(in->tid, &sig)) return false;
        if (sig != 0) {
            in->pending_signal = sig; /* held back: the caller decides whether it is delivered */
            continue;
        }
        struct __ptrace_syscall_info info;
        memset(&info, 0, sizeof info);
        if (ptrace(PTRACE_GET_SYSCALL_INFO, in->tid, (void *)sizeof info, &info) <= 0) return false;
        if (info.op == PTRACE_SYSCALL_INFO_ENTRY) {
            if (info.instruction_pointer != in->site + 2 || info.entry.nr != (uint64_t)nr) return false;
            entered = true;
        } else if (info.op == PTRACE_SYSCALL_INFO_EXIT) {
            if (entered) {
                *result = info.exit.rval;
                return true;
            }
            if (ptrace(PTRACE_SETREGS, in->tid, 0, &r) != 0) return false;
        }
    }
}
