/* The debugger's calls on a spawned program: thread state (zx_thread_read_state / zx_thread_write_state) and process
 * memory (zx_process_read_memory / zx_process_write_memory), with the checks of sys_thread_read_state,
 * sys_thread_write_state, sys_process_read_memory and sys_process_write_memory
 * (zircon/kernel/lib/syscalls/task.cc) and ThreadDispatcher::ReadState / WriteState
 * (zircon/kernel/object/thread_dispatcher.cc).  The helper's "spinreg" mode spins on one register while another
 * holds the address of a variable, and exits with the sum of the two values (helper_task.c). */
#include <string.h>

#include <zircon/syscalls/debug.h>

#include "harness.h"
#include "scenarios.h"

#if defined(__x86_64__)
#define SPIN_REG(g) ((g).r12)
#define POKE_REG(g) ((g).r13)
#define PC(g) ((g).rip)
/* cmp $0x0, %r12 ; je back */
static const uint8_t k_cmp[] = {0x49, 0x83, 0xfc, 0x00};
static const uint8_t k_branch[] = {0x74, 0xfa};
#elif defined(__aarch64__)
#define SPIN_REG(g) ((g).r[19])
#define POKE_REG(g) ((g).r[20])
#define PC(g) ((g).pc)
/* cmp x19, #0 ; b.eq back */
static const uint8_t k_cmp[] = {0x7f, 0x02, 0x00, 0xf1};
static const uint8_t k_branch[] = {0xe0, 0xff, 0xff, 0x54};
#endif

#if defined(__x86_64__) || defined(__aarch64__)

static zx_status_t read_regs(zx_handle_t thread, zx_thread_state_general_regs_t *regs) {
    return zx_thread_read_state(thread, ZX_THREAD_STATE_GENERAL_REGS, regs, sizeof *regs);
}

/* The spinreg helper's only thread, suspended inside its loop: returns the token, the registers in *regs. */
static zx_handle_t suspend_in_loop(zx_handle_t proc, zx_handle_t thread, zx_thread_state_general_regs_t *regs) {
    for (int attempt = 0; attempt < 5000; attempt++) {
        zx_handle_t token;
        T_OK(zx_task_suspend_token(thread, &token));
        t_wait(thread, ZX_THREAD_SUSPENDED);
        T_OK(read_regs(thread, regs));
        uint8_t code[4];
        size_t actual = 0;
        if (zx_process_read_memory(proc, PC(*regs), code, sizeof code, &actual) == ZX_OK && actual == sizeof code &&
            (memcmp(code, k_cmp, sizeof k_cmp) == 0 || memcmp(code, k_branch, sizeof k_branch) == 0))
            return token;
        T_OK(zx_handle_close(token)); /* still starting up: let it reach the loop */
        t_sleep_ms(1);
    }
    T_FAIL("the helper never reached its loop");
    return ZX_HANDLE_INVALID;
}

static zx_handle_t spawn_spinreg(zx_handle_t job, zx_handle_t *thread) {
    const char *args[] = {"spinreg", NULL};
    zx_handle_t proc = t_spawn(job, args);
    T_EQ(1u, (unsigned)t_process_threads(proc, thread, 1));
    return proc;
}

/* Threads.SyscallSuspendedRegisterState / SyscallDebuggerModifyResult, on a spawned program: the registers of a
 * suspended thread stay what they are; written ones (and written memory) are what the thread runs on with. */
void s23_suspended_register_state(void) {
    zx_handle_t job = t_job();
    zx_handle_t thread;
    zx_handle_t proc = spawn_spinreg(job, &thread);
    zx_thread_state_general_regs_t regs, again;

    /* Running: no registers (SuspendedOrInExceptionLocked). */
    T_STATUS(ZX_ERR_BAD_STATE, read_regs(thread, &regs));

    zx_handle_t token = suspend_in_loop(proc, thread, &regs);
    for (int i = 0; i < 3; i++) {
        t_sleep_ms(2);
        T_OK(read_regs(thread, &again));
        T_TRUE(memcmp(&regs, &again, sizeof regs) == 0); /* suspended: nothing moves */
    }
    T_EQ(0u, SPIN_REG(regs));

    /* The variable whose address the helper keeps in a register. */
    uint64_t value = 99;
    size_t actual = 0;
    T_OK(zx_process_read_memory(proc, POKE_REG(regs), &value, sizeof value, &actual));
    T_EQ(sizeof value, actual);
    T_EQ(0u, value);
    value = 100;
    zx_status_t wrote = zx_process_write_memory(proc, POKE_REG(regs), &value, sizeof value, &actual);
#ifdef __Fuchsia__
    /* A kernel booted without debugging syscalls refuses every write (sys_process_write_memory). */
    if (wrote == ZX_ERR_NOT_SUPPORTED) value = 0;
    else T_OK(wrote);
#else
    T_OK(wrote);
#endif
    if (wrote == ZX_OK) T_EQ(sizeof value, actual);

    SPIN_REG(regs) = 5;
    T_OK(zx_thread_write_state(thread, ZX_THREAD_STATE_GENERAL_REGS, &regs, sizeof regs));
    T_OK(read_regs(thread, &again));
    T_TRUE(memcmp(&regs, &again, sizeof regs) == 0);

    T_OK(zx_handle_close(token));
    t_wait(proc, ZX_TASK_TERMINATED);
    T_EQ((int64_t)(5 + value), t_process_info(proc).return_code);
}

/* The check order of zx_thread_read_state / zx_thread_write_state: handle (type, then READ / WRITE), kind, size,
 * then the thread's state; a single-step value other than 0 or 1 after the state. */
void r_thread_state_rules(void) {
    zx_handle_t job = t_job();
    zx_handle_t thread;
    zx_handle_t proc = spawn_spinreg(job, &thread);
    zx_thread_state_general_regs_t regs;
    memset(&regs, 0, sizeof regs);
    const size_t size = sizeof regs;

    T_STATUS(ZX_ERR_BAD_HANDLE, zx_thread_read_state(ZX_HANDLE_INVALID, ZX_THREAD_STATE_GENERAL_REGS, &regs, size));
    T_STATUS(ZX_ERR_WRONG_TYPE, zx_thread_read_state(proc, ZX_THREAD_STATE_GENERAL_REGS, &regs, size));
    T_STATUS(ZX_ERR_WRONG_TYPE, zx_thread_write_state(job, ZX_THREAD_STATE_GENERAL_REGS, &regs, size));
    zx_handle_t no_read = t_dup(thread, ZX_DEFAULT_THREAD_RIGHTS & ~ZX_RIGHT_READ);
    zx_handle_t no_write = t_dup(thread, ZX_DEFAULT_THREAD_RIGHTS & ~ZX_RIGHT_WRITE);
    T_STATUS(ZX_ERR_ACCESS_DENIED, zx_thread_read_state(no_read, 77, &regs, 0));
    T_STATUS(ZX_ERR_ACCESS_DENIED, zx_thread_write_state(no_write, 77, &regs, 0));

    /* Running: kind and size are judged first, then the state. */
    T_STATUS(ZX_ERR_INVALID_ARGS, zx_thread_read_state(thread, 3, &regs, size));
    T_STATUS(ZX_ERR_INVALID_ARGS, zx_thread_write_state(thread, 77, &regs, size));
    T_STATUS(ZX_ERR_BUFFER_TOO_SMALL, zx_thread_read_state(thread, ZX_THREAD_STATE_GENERAL_REGS, &regs, size - 1));
    T_STATUS(ZX_ERR_BUFFER_TOO_SMALL, zx_thread_write_state(thread, ZX_THREAD_STATE_GENERAL_REGS, &regs, 0));
    T_STATUS(ZX_ERR_BAD_STATE, zx_thread_read_state(thread, ZX_THREAD_STATE_GENERAL_REGS, &regs, size));
    zx_thread_state_single_step_t step = 1;
    T_STATUS(ZX_ERR_BAD_STATE, zx_thread_read_state(thread, ZX_THREAD_STATE_SINGLE_STEP, &step, sizeof step));

    zx_handle_t token = suspend_in_loop(proc, thread, &regs);
    /* A larger buffer is fine; the kind's record is what is read. */
    uint64_t big[64];
    T_OK(zx_thread_read_state(thread, ZX_THREAD_STATE_GENERAL_REGS, big, sizeof big));
    T_TRUE(memcmp(big, &regs, sizeof regs) == 0);
    T_OK(zx_thread_read_state(thread, ZX_THREAD_STATE_SINGLE_STEP, &step, sizeof step));
    T_EQ(0u, step);
    step = 2;
    T_STATUS(ZX_ERR_INVALID_ARGS, zx_thread_write_state(thread, ZX_THREAD_STATE_SINGLE_STEP, &step, sizeof step));
    step = 0;
    zx_status_t st = zx_thread_write_state(thread, ZX_THREAD_STATE_SINGLE_STEP, &step, sizeof step);
    /* Zircon refuses writes of DEBUG_REGS and SINGLE_STEP without debugging syscalls (NOT_SUPPORTED). */
    T_TRUE(st == ZX_OK || st == ZX_ERR_NOT_SUPPORTED);
    zx_thread_state_vector_regs_t vec;
    T_OK(zx_thread_read_state(thread, ZX_THREAD_STATE_VECTOR_REGS, &vec, sizeof vec));
    T_OK(zx_thread_write_state(thread, ZX_THREAD_STATE_VECTOR_REGS, &vec, sizeof vec));
    zx_thread_state_fp_regs_t fp;
    T_OK(zx_thread_read_state(thread, ZX_THREAD_STATE_FP_REGS, &fp, sizeof fp));
    /* NULL buffers: the copy out of a read, the copy in of a write. */
    T_STATUS(ZX_ERR_INVALID_ARGS, zx_thread_read_state(thread, ZX_THREAD_STATE_GENERAL_REGS, NULL, size));
    T_STATUS(ZX_ERR_INVALID_ARGS, zx_thread_write_state(thread, ZX_THREAD_STATE_GENERAL_REGS, NULL, size));
#if defined(__x86_64__)
    /* arch_set_general_regs: rip must be a canonical user address, fs_base / gs_base canonical. */
    zx_thread_state_general_regs_t bad = regs;
    bad.rip = (uint64_t)1 << 47;
    T_STATUS(ZX_ERR_INVALID_ARGS, zx_thread_write_state(thread, ZX_THREAD_STATE_GENERAL_REGS, &bad, size));
    bad = regs;
    bad.fs_base = (uint64_t)1 << 50;
    T_STATUS(ZX_ERR_INVALID_ARGS, zx_thread_write_state(thread, ZX_THREAD_STATE_GENERAL_REGS, &bad, size));
#endif
    T_OK(zx_handle_close(token));
    T_OK(zx_task_kill(proc));
    t_wait(proc, ZX_TASK_TERMINATED);
    /* A dead thread has no registers. */
    T_STATUS(ZX_ERR_BAD_STATE, zx_thread_read_state(thread, ZX_THREAD_STATE_GENERAL_REGS, &regs, size));
    t_close(no_read);
    t_close(no_write);
}

/* zx_process_read_memory / zx_process_write_memory: buffer and size first (0 and over 64 MiB INVALID_ARGS), then the
 * handle (read needs READ|WRITE, write WRITE), then the address space (dead: BAD_STATE; nothing mapped: NO_MEMORY). */
void r_process_memory_rules(void) {
    zx_handle_t job = t_job();
    zx_handle_t thread;
    zx_handle_t proc = spawn_spinreg(job, &thread);
    uint8_t buf[16];
    size_t actual = 0;
    const size_t too_big = (size_t)64 * 1024 * 1024 + 1;

    T_STATUS(ZX_ERR_INVALID_ARGS, zx_process_read_memory(ZX_HANDLE_INVALID, 0x1000, NULL, 8, &actual));
    T_STATUS(ZX_ERR_INVALID_ARGS, zx_process_read_memory(ZX_HANDLE_INVALID, 0x1000, buf, 0, &actual));
    T_STATUS(ZX_ERR_INVALID_ARGS, zx_process_read_memory(ZX_HANDLE_INVALID, 0x1000, buf, too_big, &actual));
    T_STATUS(ZX_ERR_BAD_HANDLE, zx_process_read_memory(ZX_HANDLE_INVALID, 0x1000, buf, 8, &actual));
    T_STATUS(ZX_ERR_WRONG_TYPE, zx_process_read_memory(thread, 0x1000, buf, 8, &actual));
    zx_handle_t read_only = t_dup(proc, ZX_DEFAULT_PROCESS_RIGHTS & ~ZX_RIGHT_WRITE);
    T_STATUS(ZX_ERR_ACCESS_DENIED, zx_process_read_memory(read_only, 0x1000, buf, 8, &actual));
    T_STATUS(ZX_ERR_ACCESS_DENIED, zx_process_write_memory(read_only, 0x1000, buf, 8, &actual));

    /* Nothing is mapped at the lowest pages. */
    T_STATUS(ZX_ERR_NO_MEMORY, zx_process_read_memory(proc, 0x1000, buf, 8, &actual));

    /* The stack of a suspended thread: read it, write the same bytes back. */
    zx_thread_state_general_regs_t regs;
    zx_handle_t token = suspend_in_loop(proc, thread, &regs);
#if defined(__x86_64__)
    zx_vaddr_t sp = regs.rsp;
#else
    zx_vaddr_t sp = regs.sp;
#endif
    T_OK(zx_process_read_memory(proc, sp, buf, sizeof buf, &actual));
    T_EQ(sizeof buf, actual);
    zx_status_t wrote = zx_process_write_memory(proc, sp, buf, sizeof buf, &actual);
    T_TRUE(wrote == ZX_OK || wrote == ZX_ERR_NOT_SUPPORTED); /* Fuchsia without debugging syscalls */
    /* NULL actual: the transfer happens, its copy out faults. */
    T_STATUS(ZX_ERR_INVALID_ARGS, zx_process_read_memory(proc, sp, buf, sizeof buf, NULL));
    T_OK(zx_handle_close(token));

    T_OK(zx_task_kill(proc));
    t_wait(proc, ZX_TASK_TERMINATED);
    T_STATUS(ZX_ERR_BAD_STATE, zx_process_read_memory(proc, sp, buf, sizeof buf, &actual));
    t_close(read_only);
}

/* r33: single-step (ZX_THREAD_STATE_SINGLE_STEP).  Each step's trap is ZX_EXCP_HW_BREAKPOINT down the handler chain,
 * the process's debugger channel first (x86_debug_handler, zircon/kernel/arch/x86/faults.cc; arm64_step_handler,
 * zircon/kernel/arch/arm64/exceptions_c.cc); HANDLED resumes the thread for one more instruction while the flag is
 * set; cleared, it runs freely (here: to its exit, with the spin register written in the last exception). */
void r_single_step_exception(void) {
    zx_handle_t job = t_job();
    zx_handle_t thread;
    zx_handle_t proc = spawn_spinreg(job, &thread);
    zx_handle_t ch = ZX_HANDLE_INVALID;
    T_OK(zx_task_create_exception_channel(proc, ZX_EXCEPTION_CHANNEL_DEBUGGER, &ch));
    t_own(ch);
    zx_thread_state_general_regs_t regs;
    zx_handle_t token = suspend_in_loop(proc, thread, &regs);
    uint8_t code[sizeof k_cmp];
    size_t actual = 0;
    T_OK(zx_process_read_memory(proc, PC(regs), code, sizeof code, &actual));
    uint64_t cmp = memcmp(code, k_cmp, sizeof k_cmp) == 0 ? PC(regs) : PC(regs) - sizeof k_cmp; /* the branch follows */
    zx_thread_state_single_step_t step = 1;
    zx_status_t status = zx_thread_write_state(thread, ZX_THREAD_STATE_SINGLE_STEP, &step, sizeof step);
#ifdef __Fuchsia__
    if (status == ZX_ERR_NOT_SUPPORTED) { /* a kernel booted without debugging syscalls */
        T_OK(zx_handle_close(token));
        T_OK(zx_task_kill(proc));
        return;
    }
#endif
    T_OK(status);
    T_OK(zx_handle_close(token));
    uint64_t pc = PC(regs);
    for (int i = 0; i < 5; i++) {
        t_wait(ch, ZX_CHANNEL_READABLE);
        zx_exception_info_t info;
        zx_handle_t exc = ZX_HANDLE_INVALID;
        uint32_t nbytes = 0, nhandles = 0;
        T_OK(zx_channel_read(ch, 0, &info, &exc, sizeof info, 1, &nbytes, &nhandles));
        T_EQ(ZX_EXCP_HW_BREAKPOINT, info.type);
        T_OK(read_regs(thread, &regs));
        T_EQ(pc == cmp ? cmp + sizeof k_cmp : cmp, PC(regs)); /* one instruction: the cmp, or the taken branch */
        pc = PC(regs);
        if (i == 4) {
            step = 0;
            T_OK(zx_thread_write_state(thread, ZX_THREAD_STATE_SINGLE_STEP, &step, sizeof step));
            SPIN_REG(regs) = 3;
            T_OK(zx_thread_write_state(thread, ZX_THREAD_STATE_GENERAL_REGS, &regs, sizeof regs));
        }
        uint32_t handled = ZX_EXCEPTION_STATE_HANDLED;
        T_OK(zx_object_set_property(exc, ZX_PROP_EXCEPTION_STATE, &handled, sizeof handled));
        T_OK(zx_handle_close(exc));
    }
    t_wait(proc, ZX_TASK_TERMINATED);
    T_EQ((int64_t)3, t_process_info(proc).return_code);
}

#else /* another architecture: no register records */

void s23_suspended_register_state(void) {}
void r_single_step_exception(void) {}
void r_thread_state_rules(void) {}
void r_process_memory_rules(void) {}

#endif
