#define _GNU_SOURCE /* ptrace requests */
/* Spawned programs: the registers of their stopped threads (zx_thread_read_state / zx_thread_write_state), and
 * single-step.
 *
 * Only the tracer may make ptrace requests, and the tracer is the monitor thread: a register request is run there
 * (lt_monitor_call).  It checks, under the kernel lock, that the thread's registers are still available
 * (hk_thread_regs_available: a resume may have come in between) and that the task is really in a ptrace-stop, then
 * moves the registers between Zircon's layout (<zircon/syscalls/debug.h>) and Linux's:
 *   x86-64   GENERAL_REGS   PTRACE_GETREGS / SETREGS (struct user_regs_struct)
 *            FP_REGS        PTRACE_GETFPREGS / SETFPREGS (the FXSAVE image: x87/MMX)
 *            VECTOR_REGS    PTRACE_GETREGSET / SETREGSET NT_X86_XSTATE (XMM from the legacy area, the YMM, opmask
 *                           and ZMM halves from the XSAVE components at the offsets CPUID leaf 0xD gives)
 *   arm64    GENERAL_REGS   NT_PRSTATUS (x0-x30, sp, pc, pstate) + NT_ARM_TLS (tpidr_el0)
 *            FP_REGS        nothing (Zircon's arm64 record is unused), VECTOR_REGS NT_PRFPREG
 *   DEBUG_REGS              NOT_SUPPORTED (the host kernel does not program hardware breakpoints)
 * Zircon's write checks come first (zircon/kernel/arch/x86/debugger.cc arch_set_general_regs: fs_base and gs_base
 * canonical, rip canonical and a user address, else INVALID_ARGS; arm64: only the NZCV flags of cpsr are written).
 *
 * A task stopped inside a system call that will be restarted: writing a different instruction pointer cancels the
 * restart (orig_rax = -1), so the thread resumes exactly where the debugger put it, as gdb does.
 *
 * Single-step (ZX_THREAD_STATE_SINGLE_STEP, the thread's flag as on Zircon: x86's TF, arm64's MDSCR_EL1.SS): while
 * it is set, each resume of the thread is a PTRACE_SINGLESTEP (linux_stop.c).  On Zircon the trap that follows is a
 * ZX_EXCP_HW_BREAKPOINT exception, and so it is here (lt_task_step_trap): the exception channels get it, debugger
 * first, and HANDLED resumes the thread for one more step while the flag is set.  With no channel bound anywhere in
 * the chain (where Zircon would kill the process) the task is held at the trap instead: the thread shows
 * ZX_THREAD_STATE_BLOCKED_EXCEPTION, its registers are available (hk_thread_regs_available), and it stays there until
 * it is suspended and resumed again, which steps the next instruction. */
#include <elf.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/user.h>

#include "kernel.h"
#include "linux_task.h"

#if defined(__x86_64__)
#include <cpuid.h>
#endif

typedef struct {
    hk_thread_t *t;
    uint32_t kind;
    void *out;        /* read */
    const void *in;   /* write */
    zx_status_t status;
} regs_call_t;

/* errno of a failed ptrace request on a stopped task. */
static zx_status_t ptrace_status(void) {
    switch (errno) {
    case ESRCH: return ZX_ERR_BAD_STATE; /* it died meanwhile */
    case EINVAL:
    case EIO: return ZX_ERR_INVALID_ARGS; /* Linux refused a value */
    default: return ZX_ERR_INTERNAL;
    }
}

#if defined(__x86_64__)

static bool x86_canonical(uint64_t a) {
    int64_t s = (int64_t)(a << 16) >> 16; /* 48-bit virtual addresses */
    return (uint64_t)s == a;
}

static zx_status_t get_general(pid_t tid, zx_thread_state_general_regs_t *o) {
    struct user_regs_struct r;
    if (ptrace(PTRACE_GETREGS, tid, 0, &r) != 0) return ptrace_status();
    *o = (zx_thread_state_general_regs_t){
        .rax = r.rax, .rbx = r.rbx, .rcx = r.rcx, .rdx = r.rdx, .rsi = r.rsi, .rdi = r.rdi, .rbp = r.rbp,
        .rsp = r.rsp, .r8 = r.r8, .r9 = r.r9, .r10 = r.r10, .r11 = r.r11, .r12 = r.r12, .r13 = r.r13,
        .r14 = r.r14, .r15 = r.r15, .rip = r.rip, .rflags = r.eflags, .fs_base = r.fs_base, .gs_base = r.gs_base,
    };
    return ZX_OK;
}

static zx_status_t set_general(pid_t tid, const zx_thread_state_general_regs_t *i) {
    if (!x86_canonical(i->fs_base) || !x86_canonical(i->gs_base)) return ZX_ERR_INVALID_ARGS;
    if (!x86_canonical(i->rip) || i->rip >= ((uint64_t)1 << 47)) return ZX_ERR_INVALID_ARGS;
    struct user_regs_struct r;
    if (ptrace(PTRACE_GETREGS, tid, 0, &r) != 0) return ptrace_status();
    if (r.rip != i->rip) r.orig_rax = (unsigned long long)-1; /* no system call restart: go where we are told */
    r.rax = i->rax, r.rbx = i->rbx, r.rcx = i->rcx, r.rdx = i->rdx, r.rsi = i->rsi, r.rdi = i->rdi;
    r.rbp = i->rbp, r.rsp = i->rsp, r.r8 = i->r8, r.r9 = i->r9, r.r10 = i->r10, r.r11 = i->r11;
    r.r12 = i->r12, r.r13 = i->r13, r.r14 = i->r14, r.r15 = i->r15, r.rip = i->rip;
    r.eflags = i->rflags; /* Linux keeps only the flags user code may change, as Zircon does */
    r.fs_base = i->fs_base, r.gs_base = i->gs_base;
    return ptrace(PTRACE_SETREGS, tid, 0, &r) == 0 ? ZX_OK : ptrace_status();
}

static zx_status_t get_fp(pid_t tid, zx_thread_state_fp_regs_t *o) {
    struct user_fpregs_struct f;
    if (ptrace(PTRACE_GETFPREGS, tid, 0, &f) != 0) return ptrace_status();
    memset(o, 0, sizeof(*o));
    o->fcw = f.cwd, o->fsw = f.swd, o->ftw = (uint8_t)f.ftw, o->fop = f.fop, o->fip = f.rip, o->fdp = f.rdp;
    memcpy(o->st, f.st_space, sizeof(o->st)); /* eight 16-byte slots in both */
    return ZX_OK;
}

static zx_status_t set_fp(pid_t tid, const zx_thread_state_fp_regs_t *i) {
    struct user_fpregs_struct f;
    if (ptrace(PTRACE_GETFPREGS, tid, 0, &f) != 0) return ptrace_status();
    f.cwd = i->fcw, f.swd = i->fsw, f.ftw = i->ftw, f.fop = i->fop, f.rip = i->fip, f.rdp = i->fdp;
    memcpy(f.st_space, i->st, sizeof(i->st));
    return ptrace(PTRACE_SETFPREGS, tid, 0, &f) == 0 ? ZX_OK : ptrace_status();
}

/* The XSAVE image (standard format, as ptrace gives it); monitor-only, so one static buffer serves. */
static uint8_t g_xsave[16384] __attribute__((aligned(64)));
enum { XS_MXCSR = 24, XS_XMM = 160, XS_BV = 512 };
enum { XC_YMM = 2, XC_OPMASK = 5, XC_ZMM_HI256 = 6, XC_HI16_ZMM = 7 };

/* Offset of XSAVE component c in the standard format, 0 when the buffer of len bytes lacks it. */
static size_t xs_offset(unsigned c, size_t len) {
    unsigned eax, ebx, ecx, edx;
    if (!__get_cpuid_count(0xd, c, &eax, &ebx, &ecx, &edx) || eax == 0) return 0;
    return (size_t)ebx + eax <= len ? ebx : 0;
}

static zx_status_t xs_get(pid_t tid, size_t *len) {
    struct iovec iov = {g_xsave, sizeof g_xsave};
    memset(g_xsave, 0, sizeof g_xsave);
    if (ptrace(PTRACE_GETREGSET, tid, (void *)NT_X86_XSTATE, &iov) == 0) {
        *len = iov.iov_len;
        return ZX_OK;
    }
    if (errno == ESRCH) return ZX_ERR_BAD_STATE;
    /* No XSAVE: the FXSAVE image is the legacy area. */
    if (ptrace(PTRACE_GETFPREGS, tid, 0, g_xsave) != 0) return ptrace_status();
    *len = 512;
    return ZX_OK;
}

static zx_status_t get_vector(pid_t tid, zx_thread_state_vector_regs_t *o) {
    size_t len;
    zx_status_t st = xs_get(tid, &len);
    if (st != ZX_OK) return st;
    memset(o, 0, sizeof(*o));
    memcpy(&o->mxcsr, g_xsave + XS_MXCSR, 4);
    for (int i = 0; i < 16; i++) memcpy(&o->zmm[i].v[0], g_xsave + XS_XMM + 16 * i, 16);
    uint64_t bv = 0;
    if (len > 512) memcpy(&bv, g_xsave + XS_BV, 8);
    size_t off;
    if ((bv & (1u << XC_YMM)) && (off = xs_offset(XC_YMM, len)) != 0)
        for (int i = 0; i < 16; i++) memcpy(&o->zmm[i].v[2], g_xsave + off + 16 * i, 16);
    if ((bv & (1u << XC_OPMASK)) && (off = xs_offset(XC_OPMASK, len)) != 0) memcpy(o->opmask, g_xsave + off, 64);
    if ((bv & (1u << XC_ZMM_HI256)) && (off = xs_offset(XC_ZMM_HI256, len)) != 0)
        for (int i = 0; i < 16; i++) memcpy(&o->zmm[i].v[4], g_xsave + off + 32 * i, 32);
    if ((bv & (1u << XC_HI16_ZMM)) && (off = xs_offset(XC_HI16_ZMM, len)) != 0)
        for (int i = 0; i < 16; i++) memcpy(&o->zmm[16 + i].v[0], g_xsave + off + 64 * i, 64);
    return ZX_OK;
}

static zx_status_t set_vector(pid_t tid, const zx_thread_state_vector_regs_t *i) {
    size_t len;
    zx_status_t st = xs_get(tid, &len);
    if (st != ZX_OK) return st;
    memcpy(g_xsave + XS_MXCSR, &i->mxcsr, 4);
    for (int r = 0; r < 16; r++) memcpy(g_xsave + XS_XMM + 16 * r, &i->zmm[r].v[0], 16);
    if (len <= 512) return ptrace(PTRACE_SETFPREGS, tid, 0, g_xsave) == 0 ? ZX_OK : ptrace_status();
    uint64_t bv;
    memcpy(&bv, g_xsave + XS_BV, 8);
    bv |= 1u << 1; /* SSE */
    size_t off;
    if ((off = xs_offset(XC_YMM, len)) != 0) {
        for (int r = 0; r < 16; r++) memcpy(g_xsave + off + 16 * r, &i->zmm[r].v[2], 16);
        bv |= 1u << XC_YMM;
    }
    if ((off = xs_offset(XC_OPMASK, len)) != 0) {
        memcpy(g_xsave + off, i->opmask, 64);
        bv |= 1u << XC_OPMASK;
    }
    if ((off = xs_offset(XC_ZMM_HI256, len)) != 0) {
        for (int r = 0; r < 16; r++) memcpy(g_xsave + off + 32 * r, &i->zmm[r].v[4], 32);
        bv |= 1u << XC_ZMM_HI256;
    }
    if ((off = xs_offset(XC_HI16_ZMM, len)) != 0) {
        for (int r = 0; r < 16; r++) memcpy(g_xsave + off + 64 * r, &i->zmm[16 + r].v[0], 64);
        bv |= 1u << XC_HI16_ZMM;
    }
    memcpy(g_xsave + XS_BV, &bv, 8);
    struct iovec iov = {g_xsave, len};
    return ptrace(PTRACE_SETREGSET, tid, (void *)NT_X86_XSTATE, &iov) == 0 ? ZX_OK : ptrace_status();
}

#elif defined(__aarch64__)

/* glibc's <sys/user.h>: struct user_regs_struct {regs[31], sp, pc, pstate} (NT_PRSTATUS) and
 * struct user_fpsimd_struct {vregs[32], fpsr, fpcr} (NT_PRFPREG). */
#define ARM64_NZCV 0xf0000000u /* the user-visible flags of cpsr (Zircon's kUserVisibleFlags) */

static zx_status_t regset(pid_t tid, bool set, int note, void *buf, size_t size) {
    struct iovec iov = {buf, size};
    return ptrace(set ? PTRACE_SETREGSET : PTRACE_GETREGSET, tid, (void *)(long)note, &iov) == 0 ? ZX_OK
                                                                                               : ptrace_status();
}

static zx_status_t get_general(pid_t tid, zx_thread_state_general_regs_t *o) {
    struct user_regs_struct r;
    uint64_t tls = 0;
    zx_status_t st = regset(tid, false, NT_PRSTATUS, &r, sizeof r);
    if (st == ZX_OK) st = regset(tid, false, NT_ARM_TLS, &tls, sizeof tls);
    if (st != ZX_OK) return st;
    memcpy(o->r, r.regs, sizeof o->r);
    o->lr = r.regs[30], o->sp = r.sp, o->pc = r.pc, o->cpsr = r.pstate & ARM64_NZCV, o->tpidr = tls;
    return ZX_OK;
}

static zx_status_t set_general(pid_t tid, const zx_thread_state_general_regs_t *i) {
    struct user_regs_struct r;
    zx_status_t st = regset(tid, false, NT_PRSTATUS, &r, sizeof r);
    if (st != ZX_OK) return st;
    memcpy(r.regs, i->r, sizeof i->r);
    r.regs[30] = i->lr, r.sp = i->sp, r.pc = i->pc;
    r.pstate = (r.pstate & ~(uint64_t)ARM64_NZCV) | (i->cpsr & ARM64_NZCV);
    uint64_t tls = i->tpidr;
    st = regset(tid, true, NT_PRSTATUS, &r, sizeof r);
    return st == ZX_OK ? regset(tid, true, NT_ARM_TLS, &tls, sizeof tls) : st;
}

static zx_status_t get_fp(pid_t tid, zx_thread_state_fp_regs_t *o) {
    (void)tid;
    memset(o, 0, sizeof(*o));
    return ZX_OK;
}

static zx_status_t set_fp(pid_t tid, const zx_thread_state_fp_regs_t *i) {
    (void)tid, (void)i;
    return ZX_OK;
}

static zx_status_t get_vector(pid_t tid, zx_thread_state_vector_regs_t *o) {
    struct user_fpsimd_struct f;
    zx_status_t st = regset(tid, false, NT_PRFPREG, &f, sizeof f);
    if (st != ZX_OK) return st;
    o->fpcr = f.fpcr, o->fpsr = f.fpsr;
    memcpy(o->v, f.vregs, sizeof o->v);
    return ZX_OK;
}

static zx_status_t set_vector(pid_t tid, const zx_thread_state_vector_regs_t *i) {
    struct user_fpsimd_struct f;
    zx_status_t st = regset(tid, false, NT_PRFPREG, &f, sizeof f);
    if (st != ZX_OK) return st;
    f.fpcr = i->fpcr, f.fpsr = i->fpsr;
    memcpy(f.vregs, i->v, sizeof i->v);
    return regset(tid, true, NT_PRFPREG, &f, sizeof f);
}

#endif

/* Monitor, lock held: the request on the stopped task k. */
static zx_status_t regs_locked(lt_task_t *k, const regs_call_t *c) {
    if (c->kind == ZX_THREAD_STATE_SINGLE_STEP) {
        if (c->out != NULL) *(zx_thread_state_single_step_t *)c->out = k->single_step ? 1 : 0;
        else k->single_step = *(const zx_thread_state_single_step_t *)c->in != 0;
        return ZX_OK;
    }
#if defined(__x86_64__) || defined(__aarch64__)
    switch (c->kind) {
    case ZX_THREAD_STATE_GENERAL_REGS: return c->out ? get_general(k->tid, c->out) : set_general(k->tid, c->in);
    case ZX_THREAD_STATE_FP_REGS: return c->out ? get_fp(k->tid, c->out) : set_fp(k->tid, c->in);
    case ZX_THREAD_STATE_VECTOR_REGS: return c->out ? get_vector(k->tid, c->out) : set_vector(k->tid, c->in);
    default: return ZX_ERR_NOT_SUPPORTED; /* DEBUG_REGS */
    }
#else
    return ZX_ERR_NOT_SUPPORTED;
#endif
}

static void regs_call(void *arg) {
    regs_call_t *c = arg;
    hk_lock();
    const lt_thread_link_t *link = c->t->backend;
    lt_task_t *k = link != NULL ? link->task : NULL;
    /* Still available (no resume came in between), and really in a ptrace-stop. */
    if (!hk_thread_regs_available(c->t) || k == NULL || !k->stopped) c->status = ZX_ERR_BAD_STATE;
    else c->status = regs_locked(k, c);
    hk_unlock();
}

static zx_status_t run(regs_call_t *c) {
    if (!lt_monitor_call(regs_call, c)) return ZX_ERR_BAD_STATE;
    return c->status;
}

zx_status_t lt_thread_read_state(hk_thread_t *t, uint32_t kind, void *buf) {
    regs_call_t c = {.t = t, .kind = kind, .out = buf, .in = NULL, .status = ZX_ERR_INTERNAL};
    return run(&c);
}

zx_status_t lt_thread_write_state(hk_thread_t *t, uint32_t kind, const void *buf) {
    regs_call_t c = {.t = t, .kind = kind, .out = NULL, .in = buf, .status = ZX_ERR_INTERNAL};
    return run(&c);
}

bool lt_task_step_trap(lt_task_t *k) {
    k->stepping = false;
    siginfo_t si;
    if (ptrace(PTRACE_GETSIGINFO, k->tid, 0, &si) != 0) return false;
    /* The step's trap: TRAP_TRACE after an ordinary instruction; after a system call instruction Linux reports
     * the step from the call's exit instead (user_single_step_report: TRAP_BRKPT on x86-64, a kernel SI_USER
     * with no sender elsewhere).  An int3 is SI_KERNEL, another process's SIGTRAP names its sender: delivered. */
    bool step = si.si_code == TRAP_TRACE || si.si_code == TRAP_BRKPT || (si.si_code == SI_USER && si.si_pid == 0);
    if (!step) return false;
    k->stop_sig = 0; /* the trap is ours: never delivered to the program */
    hk_lock();
    if (k->thread != NULL && k->thread->state == HK_THREAD_RUNNING) {
        /* Zircon: the debug trap is ZX_EXCP_HW_BREAKPOINT down the handler chain, debugger first
         * (x86_debug_handler, zircon/kernel/arch/x86/faults.cc; arm64_step_handler,
         * zircon/kernel/arch/arm64/exceptions_c.cc).  The task is held in it as in a fault's (linux_exception.c):
         * HANDLED resumes it, stepping again while the flag is set.  No channel: held at the trap instead
         * (trap_held), until a suspend and resume. */
        zx_exception_report_t report;
        memset(&report, 0, sizeof(report));
        report.header.size = sizeof(report);
        report.header.type = ZX_EXCP_HW_BREAKPOINT;
#if !defined(__aarch64__)
        report.context.arch.u.x86_64.vector = 1; /* #DB */
#endif
        if (hk_thread_raise_exception(k->thread, &report)) {
            k->in_exception = true;
            k->exc_resolution = LT_EXC_PENDING;
        } else {
            k->thread->trap_held = true;
        }
    }
    hk_unlock();
    return true;
}
