/* Exceptions: exception channels, the handler chain, the exception object (r25-r30).
 *
 * Rules from zircon/kernel/lib/syscalls/exceptions.cc (sys_task_create_exception_channel, sys_exception_get_*),
 * zircon/kernel/object/exception.cc (ExceptionHandlerIterator: process debugger, thread, process, then each job from
 * the process's up), exceptionate.cc (ALREADY_BOUND while the reader is open, PEER_CLOSED means unbound),
 * exception_dispatcher.cc (the handle's last close decides: HANDLED resumes, TRY_NEXT passes on; none left: the
 * process dies with EXCEPTION_KILL) and syscalls/object.cc (ZX_PROP_EXCEPTION_STATE / _STRATEGY, the report topic).
 *
 * The helper (`conformance_helper fault PATH null|trap`) waits until PATH is not empty, so each scenario binds its
 * channels before the exception is taken. */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "scenarios.h"

static void go(const char *path) {
    int fd = open(path, O_WRONLY | O_APPEND);
    if (fd < 0 || write(fd, "g", 1) != 1)
        T_FAIL("cannot write %s", path);
    close(fd);
}

static zx_handle_t spawn_fault(zx_handle_t job, const char *path, const char *kind) {
    const char *args[] = {"fault", path, kind, NULL};
    return t_spawn(job, args);
}

static zx_handle_t exception_channel(zx_handle_t task, uint32_t options) {
    zx_handle_t ch = ZX_HANDLE_INVALID;
    T_OK(zx_task_create_exception_channel(task, options, &ch));
    return t_own(ch);
}

typedef struct {
    zx_exception_info_t info;
    zx_handle_t exc;
} t_exception_t;

/* The next exception of ch (waiting for it); the exception handle is the caller's to close. */
static t_exception_t read_exception(zx_handle_t ch) {
    t_wait(ch, ZX_CHANNEL_READABLE);
    t_exception_t e;
    memset(&e, 0, sizeof(e));
    uint32_t nbytes = 0, nhandles = 0;
    T_OK(zx_channel_read(ch, 0, &e.info, &e.exc, sizeof(e.info), 1, &nbytes, &nhandles));
    T_EQ((uint32_t)sizeof(e.info), nbytes);
    T_EQ(1u, nhandles);
    return e;
}

static void no_exception(zx_handle_t ch) {
    T_EQ(ZX_ERR_TIMED_OUT, zx_object_wait_one(ch, ZX_CHANNEL_READABLE, zx_deadline_after(T_QUIET_NS), NULL));
}

static zx_handle_t first_thread(zx_handle_t proc) {
    zx_handle_t thread = ZX_HANDLE_INVALID;
    T_EQ((size_t)1, t_process_threads(proc, &thread, 1));
    return thread;
}

static void set_state(zx_handle_t exc, uint32_t state) {
    T_OK(zx_object_set_property(exc, ZX_PROP_EXCEPTION_STATE, &state, sizeof(state)));
}

/* r25: the chain is the process's debugger channel, the thread's, the process's, the job's, the parent job's; each
 * passes it on (TRY_NEXT, the default) by closing the handle; with none left the process dies of it. */
void r_exception_chain(void) {
    zx_handle_t job = t_job();
    zx_handle_t sub = t_child_job(job);
    const char *path = t_progress_file();
    zx_handle_t proc = spawn_fault(sub, path, "null");
    zx_handle_t thread = first_thread(proc);
    zx_handle_t chain[5] = {
        exception_channel(proc, ZX_EXCEPTION_CHANNEL_DEBUGGER), exception_channel(thread, 0),
        exception_channel(proc, 0), exception_channel(sub, 0), exception_channel(job, 0),
    };
    const uint32_t kinds[5] = {ZX_EXCEPTION_CHANNEL_TYPE_DEBUGGER, ZX_EXCEPTION_CHANNEL_TYPE_THREAD,
                               ZX_EXCEPTION_CHANNEL_TYPE_PROCESS, ZX_EXCEPTION_CHANNEL_TYPE_JOB,
                               ZX_EXCEPTION_CHANNEL_TYPE_JOB};
    T_EQ(ZX_EXCEPTION_CHANNEL_TYPE_NONE, t_thread_info(thread).wait_exception_channel_type);
    go(path);
    for (int i = 0; i < 5; i++) {
        t_exception_t e = read_exception(chain[i]);
        T_EQ(t_koid(proc), e.info.pid);
        T_EQ(t_koid(thread), e.info.tid);
        T_EQ(ZX_EXCP_FATAL_PAGE_FAULT, e.info.type);
        zx_info_thread_t info = t_thread_info(thread);
        T_EQ(ZX_THREAD_STATE_BLOCKED_EXCEPTION, info.state);
        T_EQ(kinds[i], info.wait_exception_channel_type);
        if (i + 1 < 5) no_exception(chain[i + 1]); /* nobody else has it meanwhile */
        T_EQ(0u, t_signals(proc) & ZX_PROCESS_TERMINATED);
        T_OK(zx_handle_close(e.exc));
    }
    t_wait(proc, ZX_PROCESS_TERMINATED);
    T_EQ(ZX_TASK_RETCODE_EXCEPTION_KILL, t_process_info(proc).return_code);
}

/* r26: the binding rules: options, rights (before the type), a thread has no debugger channel, one channel per
 * kind (ALREADY_BOUND while its reader is open, free again once closed), the reader's rights, BAD_STATE once the
 * task is dead, whose channels are shut down (PEER_CLOSED). */
void r_exception_channel_rules(void) {
    zx_handle_t job = t_job();
    const char *path = t_progress_file();
    zx_handle_t proc = spawn_fault(job, path, "null");
    zx_handle_t thread = first_thread(proc);
    zx_handle_t out = ZX_HANDLE_INVALID;
    T_STATUS(ZX_ERR_INVALID_ARGS, zx_task_create_exception_channel(proc, 2u, &out));
    T_STATUS(ZX_ERR_BAD_HANDLE, zx_task_create_exception_channel(ZX_HANDLE_INVALID, 0, &out));
    T_STATUS(ZX_ERR_INVALID_ARGS, zx_task_create_exception_channel(thread, ZX_EXCEPTION_CHANNEL_DEBUGGER, &out));
    zx_rights_t all = t_basic(proc).rights;
    T_STATUS(ZX_ERR_ACCESS_DENIED, zx_task_create_exception_channel(t_dup(proc, all & ~ZX_RIGHT_ENUMERATE), 0, &out));
    T_STATUS(ZX_ERR_ACCESS_DENIED, zx_task_create_exception_channel(t_dup(proc, all & ~ZX_RIGHT_INSPECT), 0, &out));
    T_STATUS(ZX_ERR_ACCESS_DENIED,
             zx_task_create_exception_channel(t_dup(proc, all & ~ZX_RIGHT_MANAGE_THREAD), 0, &out));
    T_STATUS(ZX_ERR_ACCESS_DENIED, zx_task_create_exception_channel(t_event(), 0, &out)); /* rights first */
    zx_handle_t dbg = exception_channel(proc, ZX_EXCEPTION_CHANNEL_DEBUGGER);
    T_EQ(ZX_RIGHT_TRANSFER | ZX_RIGHT_WAIT | ZX_RIGHT_READ, t_basic(dbg).rights);
    T_EQ(ZX_OBJ_TYPE_CHANNEL, t_basic(dbg).type);
    T_STATUS(ZX_ERR_ALREADY_BOUND, zx_task_create_exception_channel(proc, ZX_EXCEPTION_CHANNEL_DEBUGGER, &out));
    zx_handle_t standard = exception_channel(proc, 0); /* the other slot */
    T_STATUS(ZX_ERR_ALREADY_BOUND, zx_task_create_exception_channel(proc, 0, &out));
    T_OK(zx_handle_close(dbg));
    t_disown(dbg);
    dbg = exception_channel(proc, ZX_EXCEPTION_CHANNEL_DEBUGGER);
    T_OK(zx_task_kill(proc));
    t_wait(proc, ZX_PROCESS_TERMINATED);
    t_wait(dbg, ZX_CHANNEL_PEER_CLOSED);
    t_wait(standard, ZX_CHANNEL_PEER_CLOSED);
    T_STATUS(ZX_ERR_BAD_STATE, zx_task_create_exception_channel(proc, 0, &out));
}

/* r27: HANDLED resumes the thread where its registers say: after an x86-64 int3 the program runs on and exits 0.
 * (arm64's brk leaves the pc on the instruction: without writing the registers only TRY_NEXT can end it.) */
void r_exception_handled_resumes(void) {
    zx_handle_t job = t_job();
    const char *path = t_progress_file();
    zx_handle_t proc = spawn_fault(job, path, "trap");
    zx_handle_t ch = exception_channel(proc, ZX_EXCEPTION_CHANNEL_DEBUGGER);
    go(path);
    t_exception_t e = read_exception(ch);
    T_EQ(ZX_EXCP_SW_BREAKPOINT, e.info.type);
#if defined(__x86_64__)
    set_state(e.exc, ZX_EXCEPTION_STATE_HANDLED);
    T_OK(zx_handle_close(e.exc));
    t_wait(proc, ZX_PROCESS_TERMINATED);
    T_EQ(0, t_process_info(proc).return_code);
#else
    T_OK(zx_handle_close(e.exc));
    t_wait(proc, ZX_PROCESS_TERMINATED);
    T_EQ(ZX_TASK_RETCODE_EXCEPTION_KILL, t_process_info(proc).return_code);
#endif
}

/* r28: the exception handle: its rights, its properties (size, type and value checks), its thread and process
 * handles (the rights of the task handle the channel was made with; none from a thread's channel), the report. */
void r_exception_object(void) {
    zx_handle_t job = t_job();
    const char *path = t_progress_file();
    zx_handle_t proc = spawn_fault(job, path, "null");
    zx_handle_t thread = first_thread(proc);
    zx_rights_t bind_rights = ZX_RIGHT_INSPECT | ZX_RIGHT_DUPLICATE | ZX_RIGHT_TRANSFER | ZX_RIGHT_MANAGE_THREAD |
                              ZX_RIGHT_ENUMERATE | ZX_RIGHT_WAIT;
    zx_handle_t ch = exception_channel(t_dup(proc, bind_rights), 0);
    zx_handle_t thread_ch = exception_channel(t_dup(thread, bind_rights & ~ZX_RIGHT_ENUMERATE), 0);
    zx_exception_report_t report;
    T_STATUS(ZX_ERR_BAD_STATE,
             zx_object_get_info(thread, ZX_INFO_THREAD_EXCEPTION_REPORT, &report, sizeof(report), NULL, NULL));
    go(path);
    t_exception_t e = read_exception(thread_ch); /* the thread's channel comes first */
    T_EQ(ZX_OBJ_TYPE_EXCEPTION, t_basic(e.exc).type);
    T_EQ(ZX_DEFAULT_EXCEPTION_RIGHTS, t_basic(e.exc).rights);
    zx_handle_t out = ZX_HANDLE_INVALID;
    T_STATUS(ZX_ERR_ACCESS_DENIED, zx_exception_get_process(e.exc, &out));
    T_OK(zx_exception_get_thread(e.exc, &out));
    t_own(out);
    T_EQ(t_koid(thread), t_koid(out));
    T_EQ(bind_rights & ~ZX_RIGHT_ENUMERATE, t_basic(out).rights);
    T_STATUS(ZX_ERR_WRONG_TYPE, zx_exception_get_thread(proc, &out));
    T_STATUS(ZX_ERR_BAD_HANDLE, zx_exception_get_thread(ZX_HANDLE_INVALID, &out));
    /* Properties. */
    uint32_t value = 99;
    T_OK(zx_object_get_property(e.exc, ZX_PROP_EXCEPTION_STATE, &value, sizeof(value)));
    T_EQ(ZX_EXCEPTION_STATE_TRY_NEXT, value);
    T_STATUS(ZX_ERR_BUFFER_TOO_SMALL, zx_object_get_property(e.exc, ZX_PROP_EXCEPTION_STATE, &value, 3));
    T_STATUS(ZX_ERR_WRONG_TYPE, zx_object_get_property(proc, ZX_PROP_EXCEPTION_STATE, &value, sizeof(value)));
    value = 7;
    T_STATUS(ZX_ERR_INVALID_ARGS, zx_object_set_property(e.exc, ZX_PROP_EXCEPTION_STATE, &value, sizeof(value)));
    T_OK(zx_object_get_property(e.exc, ZX_PROP_EXCEPTION_STRATEGY, &value, sizeof(value)));
    T_EQ(ZX_EXCEPTION_STRATEGY_FIRST_CHANCE, value);
    value = ZX_EXCEPTION_STRATEGY_SECOND_CHANCE; /* only the process's debugger channel may ask */
    T_STATUS(ZX_ERR_BAD_STATE, zx_object_set_property(e.exc, ZX_PROP_EXCEPTION_STRATEGY, &value, sizeof(value)));
    /* The report, both versions. */
    size_t actual = 0, avail = 0;
    T_OK(zx_object_get_info(thread, ZX_INFO_THREAD_EXCEPTION_REPORT, &report, sizeof(report), &actual, &avail));
    T_EQ((size_t)1, actual);
    T_EQ((uint32_t)sizeof(report), report.header.size);
    T_EQ(ZX_EXCP_FATAL_PAGE_FAULT, report.header.type);
#if defined(__x86_64__)
    T_EQ((uint64_t)14, report.context.arch.u.x86_64.vector);
    T_EQ((uint64_t)0, report.context.arch.u.x86_64.cr2);
#elif defined(__aarch64__)
    T_EQ((uint64_t)0, report.context.arch.u.arm_64.far);
#endif
    T_STATUS(ZX_ERR_BUFFER_TOO_SMALL,
             zx_object_get_info(thread, ZX_INFO_THREAD_EXCEPTION_REPORT, &report, 39, &actual, &avail));
    T_OK(zx_object_get_info(thread, ZX_INFO_THREAD_EXCEPTION_REPORT_V1, &report, 32, &actual, &avail));
    T_EQ(32u, report.header.size);
    T_OK(zx_handle_close(e.exc)); /* TRY_NEXT: the process's channel, whose handle gives the process too */
    e = read_exception(ch);
    T_OK(zx_exception_get_process(e.exc, &out));
    t_own(out);
    T_EQ(t_koid(proc), t_koid(out));
    T_EQ(bind_rights, t_basic(out).rights);
    set_state(e.exc, ZX_EXCEPTION_STATE_TRY_NEXT);
    T_OK(zx_handle_close(e.exc));
    t_wait(proc, ZX_PROCESS_TERMINATED);
    T_EQ(ZX_TASK_RETCODE_EXCEPTION_KILL, t_process_info(proc).return_code);
}

/* r29: a channel closed with the exception unread passes it on, as TRY_NEXT does. */
void r_exception_unread_passes_on(void) {
    zx_handle_t job = t_job();
    const char *path = t_progress_file();
    zx_handle_t proc = spawn_fault(job, path, "null");
    zx_handle_t dbg = ZX_HANDLE_INVALID;
    T_OK(zx_task_create_exception_channel(proc, ZX_EXCEPTION_CHANNEL_DEBUGGER, &dbg));
    zx_handle_t job_ch = exception_channel(job, 0);
    go(path);
    t_wait(dbg, ZX_CHANNEL_READABLE);
    T_OK(zx_handle_close(dbg));
    t_exception_t e = read_exception(job_ch);
    T_EQ(t_koid(proc), e.info.pid);
    T_OK(zx_handle_close(e.exc));
    t_wait(proc, ZX_PROCESS_TERMINATED);
    T_EQ(ZX_TASK_RETCODE_EXCEPTION_KILL, t_process_info(proc).return_code);
}

/* r30: a process killed while its exception is out dies (SYSCALL_KILL); closing the exception afterwards, even
 * HANDLED, does nothing more, and the thread is no longer in an exception. */
void r_exception_kill_while_out(void) {
    zx_handle_t job = t_job();
    const char *path = t_progress_file();
    zx_handle_t proc = spawn_fault(job, path, "null");
    zx_handle_t thread = first_thread(proc);
    zx_handle_t ch = exception_channel(proc, ZX_EXCEPTION_CHANNEL_DEBUGGER);
    go(path);
    t_exception_t e = read_exception(ch);
    T_OK(zx_task_kill(proc));
    t_wait(proc, ZX_PROCESS_TERMINATED);
    t_wait(thread, ZX_THREAD_TERMINATED);
    T_EQ(ZX_TASK_RETCODE_SYSCALL_KILL, t_process_info(proc).return_code);
    zx_exception_report_t report;
    T_STATUS(ZX_ERR_BAD_STATE,
             zx_object_get_info(thread, ZX_INFO_THREAD_EXCEPTION_REPORT, &report, sizeof(report), NULL, NULL));
    set_state(e.exc, ZX_EXCEPTION_STATE_HANDLED);
    T_OK(zx_handle_close(e.exc));
    T_EQ(ZX_TASK_RETCODE_SYSCALL_KILL, t_process_info(proc).return_code);
}

/* 14 (Threads.SuspendMultiple with its debugger exception): two tokens on a thread in a debugger exception leave it
 * BLOCKED_EXCEPTION (not SUSPENDED); closing one changes nothing; handling the exception makes it SUSPENDED; closing
 * the second lets it run (and exit, after an x86-64 int3). */
void s14_suspend_multiple_in_exception(void) {
    zx_handle_t job = t_job();
    const char *path = t_progress_file();
    zx_handle_t proc = spawn_fault(job, path, "trap");
    zx_handle_t thread = first_thread(proc);
    zx_handle_t ch = exception_channel(proc, ZX_EXCEPTION_CHANNEL_DEBUGGER);
    go(path);
    t_exception_t e = read_exception(ch);
    zx_handle_t token1 = ZX_HANDLE_INVALID, token2 = ZX_HANDLE_INVALID;
    T_OK(zx_task_suspend(thread, &token1));
    T_OK(zx_task_suspend(thread, &token2));
    T_EQ(ZX_ERR_TIMED_OUT, zx_object_wait_one(thread, ZX_THREAD_SUSPENDED, zx_deadline_after(T_QUIET_NS), NULL));
    T_EQ(ZX_THREAD_STATE_BLOCKED_EXCEPTION, t_thread_info(thread).state);
    T_OK(zx_handle_close(token1));
    T_EQ(ZX_THREAD_STATE_BLOCKED_EXCEPTION, t_thread_info(thread).state);
    set_state(e.exc, ZX_EXCEPTION_STATE_HANDLED);
    T_OK(zx_handle_close(e.exc));
    t_wait(thread, ZX_THREAD_SUSPENDED);
    T_EQ(ZX_THREAD_STATE_SUSPENDED, t_thread_info(thread).state);
    T_EQ(ZX_EXCEPTION_CHANNEL_TYPE_NONE, t_thread_info(thread).wait_exception_channel_type);
    T_OK(zx_handle_close(token2));
#if defined(__x86_64__)
    t_wait(proc, ZX_PROCESS_TERMINATED);
    T_EQ(0, t_process_info(proc).return_code);
#else
    T_OK(zx_task_kill(proc)); /* arm64's brk traps again: a debugger would move the pc */
    t_wait(proc, ZX_PROCESS_TERMINATED);
#endif
}
