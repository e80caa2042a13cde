/* fuchsia_first_light: a Fuchsia-ABI static PIE for the host kernel's Fuchsia runner (host/fuchsia/runner.c).
 *
 * No libc, no dynamic linker, no relocations: _start(bootstrap, vdso) is entered the way Zircon's
 * zx_process_start enters a program (rdi = bootstrap channel handle, rsi = vDSO base), looks the functions it needs
 * up in the vDSO's dynamic symbol table at run time, and calls them.  One behaviour per build (-DFL_MODE=...):
 *
 *   FL_EXIT      debug_write a greeting, check cprng_draw and the clock, exit with 42
 *   FL_TICK      "tick N\n" through debug_write every 10 ms, for ever (for suspend and kill tests)
 *   FL_INT3      once the PA_USER0 event has USER_SIGNAL_0: debug_write "breakpoint", an int3 (ZX_EXCP_SW_BREAKPOINT on the exception channels), then, if a handler
 *                resumed it, "resumed after the breakpoint" and exit 7
 *   FL_UNSERVED  zx_system_get_event(0, 0, NULL), which the runner does not serve: exit with the status it returned
 *   FL_BADSYSCALL  issue `syscall` (process_exit's number) from the image's own code, not from the vDSO: Zircon
 *                kills the process with a policy exception, so the exit must never happen
 *   FL_VMO       VMOs: create, write, read back, sizes, resize, and each call's errors in Zircon's order; exit 0, or
 *                the number of the first check that failed
 *   FL_VMAR      take the root VMAR handle (PA_VMAR_ROOT) from its bootstrap message; then map a VMO, use it
 *                through the mapping, the errors of vmar_map in Zircon's order, unmap and map again at a specific
 *                place; exit 0, or the number of the first check that failed
 *   FL_HANDLES   the object-model calls (host/fuchsia/serve_object.c): read the processargs message from the
 *                bootstrap channel (argv[1] chooses the scenario), then
 *                  "full": HANDLE_BASIC of its process and job; duplicate/replace/close with Zircon's errors; a
 *                    channel round trip carrying a handle; bad user pointers; its process name; suspend the
 *                    process handed in as PA_USER1 (wait for its thread's THREAD_SUSPENDED, hold it 300 ms,
 *                    resume it), then suspend it again and keep the token; block in zx_object_wait_one on the
 *                    event handed in as PA_USER0 until the host signals it; then zx_task_kill its own process
 *                    (the call never returns)
 *                  "block": block on the PA_USER0 event for ever (the host kills it meanwhile)
 *                  "exit": make an event and duplicate the PA_USER0 one, then exit with 5 holding them
 *                  "vm": with the PA_VMAR_ROOT handle, create a VMO, map it, write through the mapping, read it
 *                    back with vmo_read, close the VMO handle (the mapping stays, as in Zircon), unmap; then exit
 *                    with 6 holding another VMO
 *                Each step says what it does through debug_write; a failed check exits with 100 + its line number.
 *   FL_THREADS   zx_thread_create/start with their errors, futex hand-overs between two threads, fs bases
 *                through ZX_PROP_REGISTER_FS, a zx_thread_exit; then both threads print lines until killed
 *   FL_SUBVMAR   zx_vmar_allocate (sub-VMARs of the root VMAR and of each other), maps into them, zx_vmar_protect,
 *                zx_vmar_unmap and zx_vmar_destroy, zx_vmo_create_child (snapshots), VMO names and
 *                zx_vmo_replace_as_executable, each with its errors in Zircon's order; exit 0, or the number of the
 *                first check that failed
 *   FL_LDSO      a stand-in dynamic linker started by hk_fuchsia_spawn_interp: it checks the dynamic linker's
 *                processargs message (process, thread, root VMAR, PA_VMAR_LOADED, PA_VMO_EXECUTABLE, argv, and a
 *                PA_LDSVC_LOADER channel: the spawner's, else the program's loader service; never in the program's), reads
 *                the executable's ELF headers from its VMO, loads a page of it as ld.so does, protects a page of its
 *                own through PA_VMAR_LOADED, then reads the program's message; exit 0, or the failed check's number
 *   FL_STDIO     sockets, stdio and channel_call (argv[1] chooses): "write": what fdio asks of its PA_FD handles,
 *                lines to fds 1 and 2, the socket calls' rules and errors in Zircon's order, fd 0 read to its end and
 *                echoed, a write larger than a socket holds; "loader": LoadObject of a library that exists (a VMO
 *                starting \x7fELF) and of names that do not, Config, Clone, channel_call's errors, a malformed
 *                request closing the connection; "call": a channel_call on the PA_USER0 channel that the host answers
 *                with "pong" (while it suspends this program, or never: it kills it)
 *   FL_FUTEX     futex_wait / futex_wake / futex_requeue with Zircon's errors in order, deadlines; then "waiting\n" and a 400 ms
 *                futex wait the host suspends past its deadline; "timed out\n" and exit 0, or the failed check's
 *                number
 *   FL_COST      what a served syscall costs (benchmarks/fuchsia_syscall_cost.py): for each of a few calls, the
 *                best of 5 rounds of 2,000 calls timed with zx_ticks_get, printed as "cost <name> <ns per call>\n";
 *                exit 0, or 1 if a call failed
 *   FL_PORTS     zx_job_create, zx_process_create (an unstarted process, its root VMAR's rights), zx_thread_create in
 *                it, ports (FIFO user packets, TIMED_OUT, zx_object_wait_async's signal packet), each with errors in
 *                Zircon's order; a thread in zx_port_wait suspended while a packet waits (not taken until the resume),
 *                two threads in zx_object_wait_one at once; timers (errors, SIGNALED at the deadline, set and cancel
 *                clearing it, a timer's port packet); then exit 0 with a thread still blocked in zx_port_wait
 *
 * Built with clang --target=x86_64-unknown-fuchsia -fuse-ld=lld -nostdlib -ffreestanding -fPIE -Wl,-pie
 * -Wl,--no-dynamic-linker (tests/test_fuchsia_first_light.py).  x86-64 only.
 */
#include <stddef.h>
#include <stdint.h>

typedef int32_t zx_status_t;
typedef uint32_t zx_handle_t;
typedef int64_t zx_time_t;
typedef int64_t zx_duration_t;

#include "fuchsia_vdso_sym.h"

typedef void exit_fn(int64_t) __attribute__((noreturn));
static exit_fn *zx_process_exit;
static zx_status_t (*zx_debug_write)(const char *, size_t);

static size_t len(const char *s) {
    size_t n = 0;
    while (s[n]) n++;
    return n;
}

__attribute__((unused)) static void say(const char *s) { zx_debug_write(s, len(s)); }

/* No vDSO functions: nothing to report with, so fault (the runner reports an exception kill). */
static _Noreturn void die(void) { __builtin_trap(); }

#if defined(FL_HANDLES) || defined(FL_STDIO) || defined(FL_PORTS)
typedef uint32_t zx_rights_t;
typedef uint32_t zx_signals_t;
typedef uint64_t zx_koid_t;

#define ZX_OK 0
#define ZX_ERR_NOT_SUPPORTED (-2)
#define ZX_ERR_INVALID_ARGS (-10)
#define ZX_ERR_BAD_HANDLE (-11)
#define ZX_ERR_WRONG_TYPE (-12)
#define ZX_ERR_BUFFER_TOO_SMALL (-15)
#define ZX_ERR_TIMED_OUT (-21)
#define ZX_ERR_SHOULD_WAIT (-22)
#define ZX_ERR_PEER_CLOSED (-24)
#define ZX_ERR_ACCESS_DENIED (-30)
#define ZX_RIGHT_DUPLICATE ((zx_rights_t)1u << 0)
#define ZX_RIGHT_DESTROY ((zx_rights_t)1u << 9)
#define ZX_RIGHT_WAIT ((zx_rights_t)1u << 14)
#define ZX_RIGHT_SAME_RIGHTS ((zx_rights_t)1u << 31)
#define ZX_TASK_TERMINATED ((zx_signals_t)1u << 3)
#define ZX_THREAD_RUNNING ((zx_signals_t)1u << 4)
#define ZX_THREAD_SUSPENDED ((zx_signals_t)1u << 5)
#define ZX_USER_SIGNAL_0 ((zx_signals_t)1u << 24)
#define ZX_USER_SIGNAL_1 ((zx_signals_t)1u << 25)
#define ZX_TIME_INFINITE INT64_MAX
#define ZX_INFO_HANDLE_BASIC 2u
#define ZX_INFO_PROCESS_THREADS 4u
#define ZX_INFO_PROCESS_HANDLE_STATS 21u
#define ZX_OBJ_TYPE_VMO 3u
#define ZX_OBJ_TYPE_VMAR 18u
#define ZX_VM_PERM_READ ((uint32_t)1u << 0)
#define ZX_VM_PERM_WRITE ((uint32_t)1u << 1)
/* zx_process_create's root VMAR handle: ZX_DEFAULT_VMAR_RIGHTS and READ, WRITE, EXECUTE (<zircon/rights.h>) */
#define ZX_DEFAULT_VMAR_RIGHTS_AND_RWX 0x20801fu
#define ZX_PROP_NAME 3u
/* <zircon/processargs.h> */
#define PA_PROTOCOL 0x4150585du
#define PA_VERSION 0x0001000u
#define PA_PROC_SELF 0x01u
#define PA_THREAD_SELF 0x02u
#define PA_JOB_DEFAULT 0x03u
#define PA_VMAR_ROOT 0x04u
#define PA_USER0 0xF0u
#define PA_USER1 0xF1u
#define PA_FD 0x30u
#define PA_LDSVC_LOADER 0x10u

typedef struct {
    zx_koid_t koid;
    zx_rights_t rights;
    uint32_t type;
    zx_koid_t related_koid;
    uint32_t props;
    uint8_t padding[4];
} basic_t; /* zx_info_handle_basic_t */
typedef struct {
    uint32_t protocol, version, handle_info_off, args_off, args_num, environ_off, environ_num, names_off, names_num;
} proc_args_t; /* zx_proc_args_t */

#define FN(ret, name, args) __attribute__((unused)) static ret(*name) args
FN(zx_status_t, channel_read,
   (zx_handle_t, uint32_t, void *, zx_handle_t *, uint32_t, uint32_t, uint32_t *, uint32_t *));
FN(zx_status_t, channel_write, (zx_handle_t, uint32_t, const void *, uint32_t, const zx_handle_t *, uint32_t));
FN(zx_status_t, channel_create, (uint32_t, zx_handle_t *, zx_handle_t *));
FN(zx_status_t, handle_close, (zx_handle_t));
FN(zx_status_t, handle_close_many, (const zx_handle_t *, size_t));
FN(zx_status_t, handle_duplicate, (zx_handle_t, zx_rights_t, zx_handle_t *));
FN(zx_status_t, handle_replace, (zx_handle_t, zx_rights_t, zx_handle_t *));
FN(zx_status_t, object_get_info, (zx_handle_t, uint32_t, void *, size_t, size_t *, size_t *));
FN(zx_status_t, object_get_property, (zx_handle_t, uint32_t, void *, size_t));
FN(zx_status_t, object_set_property, (zx_handle_t, uint32_t, const void *, size_t));
FN(zx_status_t, object_signal, (zx_handle_t, uint32_t, uint32_t));
FN(zx_status_t, object_get_child, (zx_handle_t, uint64_t, zx_rights_t, zx_handle_t *));
FN(zx_status_t, object_wait_one, (zx_handle_t, zx_signals_t, zx_time_t, zx_signals_t *));
FN(zx_status_t, task_kill, (zx_handle_t));
FN(zx_status_t, task_suspend, (zx_handle_t, zx_handle_t *));
FN(zx_status_t, event_create, (uint32_t, zx_handle_t *));
FN(zx_status_t, nanosleep_fn, (zx_time_t));
FN(zx_time_t, deadline_after, (zx_duration_t));
FN(zx_status_t, vmo_create, (uint64_t, uint32_t, zx_handle_t *));
FN(zx_status_t, vmo_read, (zx_handle_t, void *, uint64_t, size_t));
FN(zx_status_t, vmar_map, (zx_handle_t, uint32_t, uint64_t, zx_handle_t, uint64_t, uint64_t, uint64_t *));
FN(zx_status_t, vmar_unmap, (zx_handle_t, uint64_t, uint64_t));

static void *need(const uint8_t *base, const char *name) {
    void *f = vdso_sym(base, name);
    if (f == NULL) zx_process_exit(2);
    return f;
}

static void say_num(const char *label, uint64_t v) {
    char line[64];
    size_t at = 0;
    while (label[at]) line[at] = label[at], at++;
    char digits[21];
    int d = 0;
    do digits[d++] = (char)('0' + v % 10), v /= 10;
    while (v != 0);
    while (d > 0) line[at++] = digits[--d];
    line[at++] = '\n';
    zx_debug_write(line, at);
}

/* A failed check: say which line and what came back, exit with 100 + the line's last two digits. */
static void check_failed(int line, int64_t got) {
    say_num("FAILED at line ", (uint64_t)line);
    say_num("  got (negated if < 0) ", (uint64_t)(got < 0 ? -got : got));
    zx_process_exit(100 + line % 100);
}
#define EXPECT(expr, want)                                   \
    do {                                                     \
        int64_t got_ = (int64_t)(expr);                      \
        if (got_ != (int64_t)(want)) check_failed(__LINE__, got_); \
    } while (0)

__attribute__((unused)) static zx_koid_t koid_of(zx_handle_t h, zx_rights_t *rights) {
    basic_t b;
    EXPECT(object_get_info(h, ZX_INFO_HANDLE_BASIC, &b, sizeof b, NULL, NULL), ZX_OK);
    if (rights != NULL) *rights = b.rights;
    return b.koid;
}

__attribute__((unused)) static uint32_t handle_total(zx_handle_t proc) {
    uint32_t counts[64];
    EXPECT(object_get_info(proc, ZX_INFO_PROCESS_HANDLE_STATS, counts, sizeof counts, NULL, NULL), ZX_OK);
    uint32_t n = 0;
    for (int i = 0; i < 64; i++) n += counts[i];
    return n;
}

#if defined(FL_HANDLES)
static _Noreturn void handles_main(zx_handle_t bootstrap, const uint8_t *base) {
    channel_read = need(base, "_zx_channel_read");
    channel_write = need(base, "_zx_channel_write");
    channel_create = need(base, "_zx_channel_create");
    handle_close = need(base, "_zx_handle_close");
    handle_close_many = need(base, "_zx_handle_close_many");
    handle_duplicate = need(base, "_zx_handle_duplicate");
    handle_replace = need(base, "_zx_handle_replace");
    object_get_info = need(base, "_zx_object_get_info");
    object_get_property = need(base, "_zx_object_get_property");
    object_set_property = need(base, "_zx_object_set_property");
    object_signal = need(base, "_zx_object_signal");
    object_get_child = need(base, "_zx_object_get_child");
    object_wait_one = need(base, "_zx_object_wait_one");
    task_kill = need(base, "_zx_task_kill");
    task_suspend = need(base, "_zx_task_suspend");
    event_create = need(base, "_zx_event_create");
    nanosleep_fn = need(base, "_zx_nanosleep");
    deadline_after = need(base, "_zx_deadline_after");
    vmo_create = need(base, "_zx_vmo_create");
    vmo_read = need(base, "_zx_vmo_read");
    vmar_map = need(base, "_zx_vmar_map");
    vmar_unmap = need(base, "_zx_vmar_unmap");

    /* The processargs message: header, handle infos, argv, environ. */
    static uint8_t msg[4096];
    zx_handle_t hs[16];
    uint32_t nb = 0, nh = 0;
    EXPECT(channel_read(bootstrap, 0, msg, hs, sizeof msg, 16, &nb, &nh), ZX_OK);
    const proc_args_t *pa = (const proc_args_t *)msg;
    EXPECT(nb >= sizeof *pa, 1);
    EXPECT(pa->protocol, PA_PROTOCOL);
    EXPECT(pa->version, PA_VERSION);
    const uint32_t *infos = (const uint32_t *)(msg + pa->handle_info_off);
    zx_handle_t proc = 0, thread = 0, job = 0, event = 0, other = 0, vmar = 0;
    for (uint32_t i = 0; i < nh; i++) {
        switch (infos[i] & 0xff) {
        case PA_PROC_SELF: proc = hs[i]; break;
        case PA_THREAD_SELF: thread = hs[i]; break;
        case PA_JOB_DEFAULT: job = hs[i]; break;
        case PA_VMAR_ROOT: vmar = hs[i]; break;
        case PA_USER0: event = hs[i]; break;
        case PA_USER1: other = hs[i]; break;
        case PA_FD: EXPECT(handle_close(hs[i]), ZX_OK); break; /* stdio sockets: this scenario counts its table */
        default: check_failed(__LINE__, infos[i]);
        }
    }
    EXPECT(proc != 0 && thread != 0 && job != 0 && event != 0 && vmar != 0, 1);
    EXPECT(pa->args_num, 2);
    const char *arg0 = (const char *)(msg + pa->args_off);
    const char *arg1 = arg0 + len(arg0) + 1;
    EXPECT(streq(arg0, "handles"), 1);
    EXPECT(pa->environ_num, 1);
    EXPECT(streq((const char *)(msg + pa->environ_off), "ZXPY_TEST=1"), 1);
    /* The spawner wrote one message and closed its end. */
    EXPECT(channel_read(bootstrap, 0, msg, hs, sizeof msg, 16, &nb, &nh), ZX_ERR_PEER_CLOSED);
    EXPECT(handle_close(bootstrap), ZX_OK);

    if (streq(arg1, "exit")) { /* exit holding handles: the host checks they are released */
        zx_handle_t mine = 0, dup = 0;
        EXPECT(event_create(0, &mine), ZX_OK);
        EXPECT(handle_duplicate(event, ZX_RIGHT_SAME_RIGHTS, &dup), ZX_OK);
        say("exiting\n");
        zx_process_exit(5);
    }
    if (streq(arg1, "vm")) { /* its own root VMAR, from the bootstrap message */
        zx_rights_t vmar_rights;
        koid_of(vmar, &vmar_rights);
        EXPECT(vmar_rights, ZX_DEFAULT_VMAR_RIGHTS_AND_RWX);
        uint32_t counts[64];
        zx_handle_t v = 0, kept = 0;
        uint64_t addr = 0;
        EXPECT(vmo_create(8192, 0, &v), ZX_OK);
        EXPECT(object_get_info(proc, ZX_INFO_PROCESS_HANDLE_STATS, counts, sizeof counts, NULL, NULL), ZX_OK);
        EXPECT(counts[ZX_OBJ_TYPE_VMO], 1); /* in its own table */
        EXPECT(counts[ZX_OBJ_TYPE_VMAR], 1);
        EXPECT(vmar_map(vmar, ZX_VM_PERM_READ | ZX_VM_PERM_WRITE, 0, v, 0, 8192, &addr), ZX_OK);
        volatile char *p = (volatile char *)(uintptr_t)addr;
        p[10] = 'v';
        p[4200] = 'm';
        char got[2] = {0, 0};
        EXPECT(vmo_read(v, &got[0], 10, 1), ZX_OK);
        EXPECT(vmo_read(v, &got[1], 4200, 1), ZX_OK);
        EXPECT(got[0] == 'v' && got[1] == 'm', 1);
        /* A mapping holds the VMO, not the handle (VmMapping keeps its VmObject): closing the handle leaves it. */
        EXPECT(handle_close(v), ZX_OK);
        EXPECT(vmo_read(v, &got[0], 10, 1), ZX_ERR_BAD_HANDLE);
        p[11] = '!';
        EXPECT(p[10] == 'v' && p[11] == '!' && p[4200] == 'm', 1);
        EXPECT(vmar_unmap(vmar, addr, 8192), ZX_OK);
        EXPECT(vmo_create(4096, 0, &kept), ZX_OK);
        say("mapped through the root VMAR\n");
        zx_process_exit(6);
    }
    if (streq(arg1, "block")) {
        say("blocking\n");
        zx_status_t st = object_wait_one(event, ZX_USER_SIGNAL_0, ZX_TIME_INFINITE, NULL);
        say_num("unblocked ", (uint64_t)(int64_t)st);
        zx_process_exit(7);
    }
    EXPECT(streq(arg1, "full") && other != 0, 1);

    /* Its own process and job, as the host sees them. */
    zx_rights_t rights;
    say_num("koid=", koid_of(proc, &rights));
    say_num("proc-rights=", rights);
    say_num("job=", koid_of(job, &rights));
    say_num("job-rights=", rights);
    say_num("thread=", koid_of(thread, NULL));
    uint32_t handles_at_start = handle_total(proc);
    say_num("handles=", handles_at_start);

    /* Duplicate, replace, close (handle_ops.cc): a closed value is BAD_HANDLE; rights beyond the source's are
     * INVALID_ARGS; without DUPLICATE, ACCESS_DENIED; kill checks DESTROY before the type. */
    zx_handle_t d = 0, w = 0, e2 = 0;
    EXPECT(handle_duplicate(proc, ZX_RIGHT_SAME_RIGHTS, &d), ZX_OK);
    EXPECT(koid_of(d, NULL), koid_of(proc, NULL));
    EXPECT(handle_close(d), ZX_OK);
    EXPECT(handle_close(d), ZX_ERR_BAD_HANDLE);
    EXPECT(handle_duplicate(event, ZX_RIGHT_DESTROY, &d), ZX_ERR_INVALID_ARGS);
    EXPECT(handle_duplicate(event, ZX_RIGHT_SAME_RIGHTS, &e2), ZX_OK);
    EXPECT(handle_replace(e2, ZX_RIGHT_WAIT, &w), ZX_OK);
    EXPECT(handle_close(e2), ZX_ERR_BAD_HANDLE);
    EXPECT(handle_duplicate(w, ZX_RIGHT_SAME_RIGHTS, &d), ZX_ERR_ACCESS_DENIED);
    EXPECT(task_kill(w), ZX_ERR_ACCESS_DENIED);
    EXPECT(task_kill(thread), ZX_ERR_WRONG_TYPE);
    EXPECT(task_kill(0x12345673u), ZX_ERR_BAD_HANDLE);
    zx_handle_t tok = 0;
    EXPECT(task_suspend(thread, &tok), ZX_ERR_NOT_SUPPORTED); /* its own thread */
    EXPECT(task_suspend(proc, &tok), ZX_ERR_NOT_SUPPORTED);   /* its own process */
    EXPECT(task_suspend(job, &tok), ZX_ERR_WRONG_TYPE);
    zx_handle_t many[2] = {w, 0x12345673u};
    EXPECT(handle_close_many(many, 2), ZX_ERR_BAD_HANDLE);
    EXPECT(handle_close(w), ZX_ERR_BAD_HANDLE); /* closed all the same */
    EXPECT(handle_total(proc), handles_at_start);

    /* A channel round trip carrying a handle (channel.cc). */
    zx_handle_t c0 = 0, c1 = 0, e = 0, got[4];
    EXPECT(channel_create(0, &c0, &c1), ZX_OK);
    EXPECT(event_create(0, &e), ZX_OK);
    EXPECT(handle_duplicate(e, ZX_RIGHT_SAME_RIGHTS, &e2), ZX_OK);
    EXPECT(channel_write(c0, 0, "ping", 4, &e2, 1), ZX_OK);
    EXPECT(handle_close(e2), ZX_ERR_BAD_HANDLE); /* it moved */
    char buf[16];
    EXPECT(channel_read(c1, 0, buf, got, 2, 4, &nb, &nh), ZX_ERR_BUFFER_TOO_SMALL); /* stays queued */
    EXPECT(nb, 4);
    EXPECT(nh, 1);
    EXPECT(channel_read(c1, 0, buf, got, sizeof buf, 4, &nb, &nh), ZX_OK);
    EXPECT(nb == 4 && nh == 1 && buf[0] == 'p' && buf[3] == 'g', 1);
    EXPECT(koid_of(got[0], NULL), koid_of(e, NULL));
    EXPECT(object_signal(got[0], 0, ZX_USER_SIGNAL_1), ZX_OK);
    zx_signals_t observed = 0;
    EXPECT(object_wait_one(e, ZX_USER_SIGNAL_1, 0, &observed), ZX_OK);
    EXPECT((observed & ZX_USER_SIGNAL_1) != 0, 1);
    EXPECT(object_wait_one(e, ZX_USER_SIGNAL_0, deadline_after(1000 * 1000), &observed), ZX_ERR_TIMED_OUT);
    EXPECT(channel_read(c1, 0, buf, got + 1, sizeof buf, 3, &nb, &nh), ZX_ERR_SHOULD_WAIT);
    EXPECT(handle_close(c0), ZX_OK);
    EXPECT(channel_read(c1, 0, buf, got + 1, sizeof buf, 3, &nb, &nh), ZX_ERR_PEER_CLOSED);
    EXPECT(channel_write(c1, 0, "x", 1, NULL, 0), ZX_ERR_PEER_CLOSED);
    zx_handle_t pair[3] = {c1, got[0], e};
    EXPECT(handle_close_many(pair, 3), ZX_OK);
    EXPECT(handle_total(proc), handles_at_start);
    say("channel round trip\n");

    /* Bad user pointers are INVALID_ARGS (user_copy), and a handle that could not be copied out is not left. */
    basic_t b;
    EXPECT(object_get_info(proc, ZX_INFO_HANDLE_BASIC, (void *)8, sizeof b, NULL, NULL), ZX_ERR_INVALID_ARGS);
    /* A size beyond the memory behind the buffer is fine while the answer fits (only the record is copied out). */
    EXPECT(object_get_info(proc, ZX_INFO_HANDLE_BASIC, &b, 1u << 30, NULL, NULL), ZX_OK);
    EXPECT(b.koid, koid_of(proc, NULL));
    size_t *bad_actual = (size_t *)(uintptr_t)handles_main; /* read-only code */
    EXPECT(object_get_info(proc, ZX_INFO_HANDLE_BASIC, &b, sizeof b, bad_actual, NULL), ZX_ERR_INVALID_ARGS);
    EXPECT(handle_duplicate(proc, ZX_RIGHT_SAME_RIGHTS, (zx_handle_t *)8), ZX_ERR_INVALID_ARGS);
    EXPECT(channel_create(0, &c0, (zx_handle_t *)(uintptr_t)handles_main), ZX_ERR_INVALID_ARGS); /* read-only code */
    EXPECT(event_create(0, (zx_handle_t *)16), ZX_ERR_INVALID_ARGS);
    EXPECT(handle_total(proc), handles_at_start);
    say("bad pointers\n");

    /* Its name (ZX_PROP_NAME), as the host reads it. */
    char name[32];
    EXPECT(object_set_property(proc, ZX_PROP_NAME, "renamed-by-itself", 17), ZX_OK);
    EXPECT(object_get_property(proc, ZX_PROP_NAME, name, sizeof name), ZX_OK);
    EXPECT(streq(name, "renamed-by-itself"), 1);
    EXPECT(object_set_property(proc, ZX_PROP_NAME, (void *)8, 5), ZX_ERR_INVALID_ARGS);

    /* Suspend another program's process (task.cc sys_task_suspend): its thread asserts THREAD_SUSPENDED, which
     * this program waits for (a blocking wait, served on a worker). */
    zx_koid_t koids[8];
    size_t actual = 0, avail = 0;
    EXPECT(task_suspend(other, &tok), ZX_OK);
    EXPECT(object_get_info(other, ZX_INFO_PROCESS_THREADS, koids, sizeof koids, &actual, &avail), ZX_OK);
    EXPECT(actual >= 1 && avail == actual, 1);
    zx_handle_t other_thread = 0;
    EXPECT(object_get_child(other, koids[0], ZX_RIGHT_SAME_RIGHTS, &other_thread), ZX_OK);
    EXPECT(object_wait_one(other_thread, ZX_THREAD_SUSPENDED, deadline_after(5000ll * 1000 * 1000), &observed),
           ZX_OK);
    say("tick-suspended\n");
    nanosleep_fn(deadline_after(300ll * 1000 * 1000));
    say("tick-held\n");
    nanosleep_fn(deadline_after(500ll * 1000 * 1000)); /* the host reads the tick count meanwhile */
    EXPECT(handle_close(tok), ZX_OK);
    EXPECT(object_wait_one(other_thread, ZX_THREAD_RUNNING, deadline_after(5000ll * 1000 * 1000), &observed),
           ZX_OK);
    say("tick-resumed\n");
    zx_handle_t kept = 0;
    EXPECT(task_suspend(other, &kept), ZX_OK); /* kept: released when this program dies */
    EXPECT(object_wait_one(other_thread, ZX_THREAD_SUSPENDED, deadline_after(5000ll * 1000 * 1000), &observed),
           ZX_OK);
    say("holding-token\n");

    /* Block until the host signals the event; the host suspends this program meanwhile. */
    say("waiting\n");
    EXPECT(object_wait_one(event, ZX_USER_SIGNAL_0, ZX_TIME_INFINITE, &observed), ZX_OK);
    EXPECT((observed & ZX_USER_SIGNAL_0) != 0, 1);
    say("woke\n");

    /* zx_task_kill of its own process never returns (task_kill.md). */
    say("killing-self\n");
    zx_status_t st = task_kill(proc);
    say_num("after-kill ", (uint64_t)(int64_t)st);
    zx_process_exit(99);
}
#endif /* FL_HANDLES */

#if defined(FL_STDIO)
#define ZX_ERR_NOT_FOUND (-25)
#define ZX_ERR_OUT_OF_RANGE (-14)
#define ZX_ERR_BAD_STATE (-20)
#define ZX_OBJ_TYPE_SOCKET 14u
#define ZX_OBJ_TYPE_CHANNEL 4u
#define ZX_INFO_SOCKET 22u
#define ZX_SOCKET_READABLE ((zx_signals_t)1u << 0)
#define ZX_SOCKET_PEER_CLOSED ((zx_signals_t)1u << 2)
#define ZX_SOCKET_PEER_WRITE_DISABLED ((zx_signals_t)1u << 4)
#define ZX_CHANNEL_READABLE ((zx_signals_t)1u << 0)
#define ZX_CHANNEL_PEER_CLOSED ((zx_signals_t)1u << 2)
#define ZX_SOCKET_DATAGRAM 1u
#define ZX_SOCKET_PEEK (1u << 3)
#define ZX_SOCKET_SHUTDOWN_WRITE 1u
#define ZX_SOCKET_SHUTDOWN_READ 2u
#define SOCKET_MAX 257024u /* MBufChain::kSizeMax */
/* fuchsia.ldsvc.Loader (zircon/system/ulib/ldmsg, 2021) */
#define LDMSG_OP_DONE 0x63BA6B76D3671001ull
#define LDMSG_OP_LOAD_OBJECT 0x48C5A151D6DF2853ull
#define LDMSG_OP_CONFIG 0x6A8A1A1464632841ull
#define LDMSG_OP_CLONE 0x57E643A9AB6E4C29ull

typedef struct {
    uint32_t options;
    uint8_t padding1[4];
    uint64_t rx_buf_max, rx_buf_size, rx_buf_available, tx_buf_max, tx_buf_size;
} socket_info_t; /* zx_info_socket_t */
typedef struct {
    const void *wr_bytes;
    const zx_handle_t *wr_handles;
    void *rd_bytes;
    zx_handle_t *rd_handles;
    uint32_t wr_num_bytes, wr_num_handles, rd_num_bytes, rd_num_handles;
} call_args_t; /* zx_channel_call_args_t */

FN(zx_status_t, socket_create, (uint32_t, zx_handle_t *, zx_handle_t *));
FN(zx_status_t, socket_write, (zx_handle_t, uint32_t, const void *, size_t, size_t *));
FN(zx_status_t, socket_read, (zx_handle_t, uint32_t, void *, size_t, size_t *));
FN(zx_status_t, socket_shutdown, (zx_handle_t, uint32_t));
FN(zx_status_t, channel_call, (zx_handle_t, uint32_t, zx_time_t, const call_args_t *, uint32_t *, uint32_t *));

static void put(zx_handle_t sock, const char *s) {
    size_t n = 0;
    EXPECT(socket_write(sock, 0, s, len(s), &n), ZX_OK);
    EXPECT(n, len(s));
}

static uint8_t g_big[300000];

/* The sockets' rules, in Zircon's order (zircon/kernel/lib/syscalls/socket.cc, object/socket_dispatcher.cc). */
static void socket_rules(void) {
    zx_handle_t a, b;
    size_t n = 99;
    char buf[16];
    EXPECT(socket_create(2, &a, &b), ZX_ERR_INVALID_ARGS);
    EXPECT(socket_create(0, &a, (zx_handle_t *)8), ZX_ERR_INVALID_ARGS);
    EXPECT(socket_create(0, &a, &b), ZX_OK);
    EXPECT(socket_write(a, 0, NULL, 5, &n), ZX_ERR_INVALID_ARGS);
    EXPECT(socket_write(a, 1, "x", 1, &n), ZX_ERR_INVALID_ARGS);
    EXPECT(socket_write(a ^ 0x100000, 0, "x", 1, &n), ZX_ERR_BAD_HANDLE);
    EXPECT(socket_write(a, 0, "x", 0, &n), ZX_OK);
    EXPECT(n, 0);
    EXPECT(socket_read(b, 0, buf, sizeof buf, &n), ZX_ERR_SHOULD_WAIT);
    EXPECT(socket_read(b, 2, buf, sizeof buf, &n), ZX_ERR_INVALID_ARGS);
    EXPECT(socket_read(b, 0, NULL, 4, &n), ZX_ERR_INVALID_ARGS);
    EXPECT(socket_write(a, 0, (const void *)16, 4, &n), ZX_ERR_INVALID_ARGS); /* an unreadable buffer */
    put(a, "abc");
    EXPECT(socket_read(b, ZX_SOCKET_PEEK, buf, 2, &n), ZX_OK);
    EXPECT(n == 2 && buf[0] == 'a' && buf[1] == 'b', 1);
    socket_info_t info;
    EXPECT(object_get_info(b, ZX_INFO_SOCKET, &info, sizeof info, NULL, NULL), ZX_OK);
    EXPECT(info.options == 0 && info.rx_buf_max == SOCKET_MAX && info.rx_buf_size == 3 && info.rx_buf_available == 3 &&
               info.tx_buf_max == SOCKET_MAX && info.tx_buf_size == 0, 1);
    EXPECT(object_get_info(b, ZX_INFO_SOCKET, &info, 8, NULL, NULL), ZX_ERR_BUFFER_TOO_SMALL);
    EXPECT(socket_read(b, 0, buf, sizeof buf, &n), ZX_OK);
    EXPECT(n == 3 && buf[2] == 'c', 1);
    /* Full: a stream write takes what fits, then SHOULD_WAIT; reading makes room. */
    EXPECT(socket_write(a, 0, g_big, sizeof g_big, &n), ZX_OK);
    EXPECT(n, SOCKET_MAX);
    EXPECT(socket_write(a, 0, "x", 1, &n), ZX_ERR_SHOULD_WAIT);
    EXPECT(socket_write(a, 0, (const void *)16, 4, &n), ZX_ERR_SHOULD_WAIT); /* full comes before the copy */
    EXPECT(socket_read(b, 0, buf, sizeof buf, &n), ZX_OK);
    EXPECT(socket_write(a, 0, g_big, sizeof g_big, &n), ZX_OK);
    EXPECT(n, sizeof buf);
    /* Shutdown: options, then the write side's BAD_STATE; the reader drains, then BAD_STATE. */
    EXPECT(socket_shutdown(a, 4), ZX_ERR_INVALID_ARGS);
    EXPECT(socket_shutdown(a, ZX_SOCKET_SHUTDOWN_WRITE), ZX_OK);
    EXPECT(socket_write(a, 0, "x", 1, &n), ZX_ERR_BAD_STATE);
    zx_signals_t seen = 0;
    EXPECT(object_wait_one(b, ZX_SOCKET_PEER_WRITE_DISABLED, 0, &seen), ZX_OK);
    for (size_t total = 0; total < SOCKET_MAX; total += n) EXPECT(socket_read(b, 0, g_big, sizeof g_big, &n), ZX_OK);
    EXPECT(socket_read(b, 0, buf, sizeof buf, &n), ZX_ERR_BAD_STATE);
    /* The peer gone: PEER_CLOSED before the state. */
    EXPECT(handle_close(b), ZX_OK);
    EXPECT(socket_write(a, 0, "x", 1, &n), ZX_ERR_PEER_CLOSED);
    EXPECT(socket_read(a, 0, buf, sizeof buf, &n), ZX_ERR_PEER_CLOSED);
    EXPECT(handle_close(a), ZX_OK);
    /* Datagrams: whole or nothing, one per read, cut to the buffer. */
    EXPECT(socket_create(ZX_SOCKET_DATAGRAM, &a, &b), ZX_OK);
    put(a, "xyz");
    put(a, "12");
    EXPECT(socket_write(a, 0, g_big, SOCKET_MAX + 1, &n), ZX_ERR_OUT_OF_RANGE);
    EXPECT(object_get_info(b, ZX_INFO_SOCKET, &info, sizeof info, NULL, NULL), ZX_OK);
    EXPECT(info.options == ZX_SOCKET_DATAGRAM && info.rx_buf_size == 5 && info.rx_buf_available == 3, 1);
    EXPECT(socket_read(b, 0, buf, 1, &n), ZX_OK);
    EXPECT(n == 1 && buf[0] == 'x', 1);
    EXPECT(socket_read(b, 0, buf, sizeof buf, &n), ZX_OK);
    EXPECT(n == 2 && buf[0] == '1', 1);
    zx_handle_t pair[2] = {a, b};
    EXPECT(handle_close_many(pair, 2), ZX_OK);
}

/* One LoadObject/Config call on the loader channel: rv, and the VMO handle if one came. */
static zx_status_t ldsvc_call(zx_handle_t ldsvc, uint64_t ordinal, const char *name, zx_handle_t *vmo) {
    static uint8_t req[1024];
    for (size_t i = 0; i < sizeof req; i++) req[i] = 0;
    size_t n = len(name);
    *(uint64_t *)(req + 8) = ordinal;
    req[7] = 1; /* magic: kFidlWireFormatMagicNumberInitial */
    *(uint64_t *)(req + 16) = n;
    *(uint64_t *)(req + 24) = UINT64_MAX; /* FIDL_ALLOC_PRESENT */
    for (size_t i = 0; i < n; i++) req[32 + i] = (uint8_t)name[i];
    uint8_t rsp[24];
    zx_handle_t h = 0;
    call_args_t args = {req, NULL, rsp, &h, (uint32_t)((32 + n + 7) & ~(size_t)7), 0, sizeof rsp, 1};
    uint32_t ab = 0, ah = 0;
    EXPECT(channel_call(ldsvc, 0, ZX_TIME_INFINITE, &args, &ab, &ah), ZX_OK);
    EXPECT(ab, 24);
    EXPECT(*(const uint64_t *)(rsp + 8), ordinal);
    uint32_t present = *(const uint32_t *)(rsp + 20);
    EXPECT(present == UINT32_MAX ? ah == 1 : ah == 0 && present == 0, 1);
    if (vmo != NULL) *vmo = ah ? h : 0;
    else if (ah) handle_close(h);
    return *(const int32_t *)(rsp + 16);
}

static void check_elf_vmo(zx_handle_t vmo) {
    char head[4] = {0};
    EXPECT(vmo_read(vmo, head, 0, 4), ZX_OK);
    EXPECT(head[0] == 0x7f && head[1] == 'E' && head[2] == 'L' && head[3] == 'F', 1);
}

static void loader_scenario(zx_handle_t ldsvc) {
    zx_handle_t vmo = 0;
    EXPECT(ldsvc_call(ldsvc, LDMSG_OP_LOAD_OBJECT, "libzircon.so", &vmo), ZX_OK);
    check_elf_vmo(vmo);
    basic_t b;
    EXPECT(object_get_info(vmo, ZX_INFO_HANDLE_BASIC, &b, sizeof b, NULL, NULL), ZX_OK);
    EXPECT(b.type, ZX_OBJ_TYPE_VMO);
    EXPECT(handle_close(vmo), ZX_OK);
    say("loaded libzircon.so\n");
    EXPECT(ldsvc_call(ldsvc, LDMSG_OP_LOAD_OBJECT, "libnothere.so", &vmo), ZX_ERR_NOT_FOUND);
    EXPECT(vmo, 0);
    EXPECT(ldsvc_call(ldsvc, LDMSG_OP_LOAD_OBJECT, "../lib/libzircon.so", &vmo), ZX_ERR_NOT_FOUND);
    EXPECT(ldsvc_call(ldsvc, LDMSG_OP_CONFIG, "a/b", NULL), ZX_ERR_INVALID_ARGS);
    say("not found as expected\n");
    /* Clone: another connection to the same loader. */
    zx_handle_t c0, c1;
    EXPECT(channel_create(0, &c0, &c1), ZX_OK);
    static uint8_t req[24];
    *(uint64_t *)(req + 8) = LDMSG_OP_CLONE;
    req[7] = 1;
    *(uint32_t *)(req + 16) = UINT32_MAX; /* FIDL_HANDLE_PRESENT */
    uint8_t rsp[24];
    call_args_t args = {req, &c1, rsp, NULL, sizeof req, 1, sizeof rsp, 0};
    uint32_t ab = 0, ah = 0;
    EXPECT(channel_call(ldsvc, 0, ZX_TIME_INFINITE, &args, &ab, &ah), ZX_OK);
    EXPECT(*(const int32_t *)(rsp + 16), ZX_OK);
    EXPECT(ldsvc_call(c0, LDMSG_OP_LOAD_OBJECT, "libzircon.so", &vmo), ZX_OK);
    check_elf_vmo(vmo);
    handle_close(vmo);
    say("clone served\n");
    /* channel_call's own errors: a request shorter than a txid, a bad handle, a reply larger than the buffers. */
    args = (call_args_t){req, NULL, rsp, NULL, 3, 0, sizeof rsp, 0};
    EXPECT(channel_call(c0, 0, ZX_TIME_INFINITE, &args, &ab, &ah), ZX_ERR_INVALID_ARGS);
    EXPECT(channel_call(c0 ^ 0x100000, 0, ZX_TIME_INFINITE, &args, &ab, &ah), ZX_ERR_BAD_HANDLE);
    EXPECT(channel_call(c0, 0, ZX_TIME_INFINITE, (const call_args_t *)16, &ab, &ah), ZX_ERR_INVALID_ARGS);
    /* Handle values that cannot be read: the handle's checks first, then INVALID_ARGS, nothing sent. */
    args = (call_args_t){req, (const zx_handle_t *)16, rsp, NULL, sizeof req, 1, sizeof rsp, 0};
    EXPECT(channel_call(c0 ^ 0x100000, 0, ZX_TIME_INFINITE, &args, &ab, &ah), ZX_ERR_BAD_HANDLE);
    EXPECT(channel_call(c0, 0, ZX_TIME_INFINITE, &args, &ab, &ah), ZX_ERR_INVALID_ARGS);
    /* A malformed request (an unknown ordinal) closes the connection: the call ends PEER_CLOSED. */
    *(uint64_t *)(req + 8) = 0x1234;
    args = (call_args_t){req, NULL, rsp, NULL, 16, 0, sizeof rsp, 0};
    EXPECT(channel_call(c0, 0, ZX_TIME_INFINITE, &args, &ab, &ah), ZX_ERR_PEER_CLOSED);
    EXPECT(handle_close(c0), ZX_OK);
    /* The first connection still serves. */
    EXPECT(ldsvc_call(ldsvc, LDMSG_OP_LOAD_OBJECT, "libzircon.so", NULL), ZX_OK);
    say("malformed closes\n");
}

static _Noreturn void stdio_main(zx_handle_t bootstrap, const uint8_t *base) {
    channel_read = need(base, "_zx_channel_read");
    channel_write = need(base, "_zx_channel_write");
    channel_create = need(base, "_zx_channel_create");
    channel_call = need(base, "_zx_channel_call");
    handle_close = need(base, "_zx_handle_close");
    handle_close_many = need(base, "_zx_handle_close_many");
    object_get_info = need(base, "_zx_object_get_info");
    object_wait_one = need(base, "_zx_object_wait_one");
    vmo_read = need(base, "_zx_vmo_read");
    socket_create = need(base, "_zx_socket_create");
    socket_write = need(base, "_zx_socket_write");
    socket_read = need(base, "_zx_socket_read");
    socket_shutdown = need(base, "_zx_socket_shutdown");

    static uint8_t msg[4096];
    zx_handle_t hs[16];
    uint32_t nb = 0, nh = 0;
    EXPECT(channel_read(bootstrap, 0, msg, hs, sizeof msg, 16, &nb, &nh), ZX_OK);
    const proc_args_t *pa = (const proc_args_t *)msg;
    const uint32_t *infos = (const uint32_t *)(msg + pa->handle_info_off);
    zx_handle_t fds[3] = {0, 0, 0}, ldsvc = 0, user0 = 0;
    for (uint32_t i = 0; i < nh; i++) {
        if ((infos[i] & 0xff) == PA_FD && (infos[i] >> 16) < 3) fds[infos[i] >> 16] = hs[i];
        if ((infos[i] & 0xff) == PA_LDSVC_LOADER) ldsvc = hs[i];
        if ((infos[i] & 0xff) == PA_USER0) user0 = hs[i];
    }
    EXPECT(pa->args_num, 2);
    const char *arg0 = (const char *)(msg + pa->args_off);
    const char *scenario = arg0 + len(arg0) + 1;
    if (streq(scenario, "write")) {
        /* What fdio asks of a PA_FD handle (fdio_create): its type, then the socket's options. */
        for (int fd = 0; fd < 3; fd++) {
            basic_t b;
            EXPECT(fds[fd] != 0, 1);
            EXPECT(object_get_info(fds[fd], ZX_INFO_HANDLE_BASIC, &b, sizeof b, NULL, NULL), ZX_OK);
            EXPECT(b.type, ZX_OBJ_TYPE_SOCKET);
            socket_info_t info;
            EXPECT(object_get_info(fds[fd], ZX_INFO_SOCKET, &info, sizeof info, NULL, NULL), ZX_OK);
            EXPECT(info.options, 0);
        }
        put(fds[1], "hello from fd 1\n");
        put(fds[2], "hello from fd 2\n");
        socket_rules();
        put(fds[1], "socket rules hold\n");
        /* stdin: everything the host writes, then PEER_CLOSED (its end of file). */
        static char in[4096];
        size_t got = 0;
        for (;;) {
            size_t n = 0;
            zx_status_t st = socket_read(fds[0], 0, in + got, sizeof in - got, &n);
            if (st == ZX_OK) {
                got += n;
                continue;
            }
            if (st == ZX_ERR_PEER_CLOSED || st == ZX_ERR_BAD_STATE) break;
            EXPECT(st, ZX_ERR_SHOULD_WAIT);
            zx_signals_t seen = 0;
            EXPECT(object_wait_one(fds[0], ZX_SOCKET_READABLE | ZX_SOCKET_PEER_CLOSED | ZX_SOCKET_PEER_WRITE_DISABLED,
                                   ZX_TIME_INFINITE, &seen), ZX_OK);
        }
        put(fds[1], "stdin said: ");
        size_t n = 0;
        EXPECT(socket_write(fds[1], 0, in, got, &n), ZX_OK);
        EXPECT(n, got);
        /* A large write: a pump drains the socket while this waits for room. */
        for (size_t i = 0; i < sizeof g_big; i++) g_big[i] = (uint8_t)('a' + i % 26);
        g_big[sizeof g_big - 1] = '\n';
        for (size_t done = 0; done < sizeof g_big; done += n) {
            zx_status_t st = socket_write(fds[1], 0, g_big + done, sizeof g_big - done, &n);
            if (st == ZX_ERR_SHOULD_WAIT) {
                zx_signals_t seen = 0;
                n = 0;
                EXPECT(object_wait_one(fds[1], 2u /* WRITABLE */, ZX_TIME_INFINITE, &seen), ZX_OK);
                continue;
            }
            EXPECT(st, ZX_OK);
        }
        say("stdio done\n");
        zx_process_exit(0);
    }
    if (streq(scenario, "loader")) {
        EXPECT(ldsvc != 0, 1);
        loader_scenario(ldsvc);
        zx_process_exit(0);
    }
    if (streq(scenario, "loaderfdio")) { /* the real SDK's: fdio comes from pkg/fdio/arch/x64/lib */
        EXPECT(ldsvc != 0, 1);
        zx_handle_t vmo = 0;
        EXPECT(ldsvc_call(ldsvc, LDMSG_OP_LOAD_OBJECT, "libfdio.so", &vmo), ZX_OK);
        check_elf_vmo(vmo);
        say("loaded libfdio.so\n");
        zx_process_exit(0);
    }
    /* "call": one channel_call on PA_USER0 that the host answers (or never does: "callkill"). */
    EXPECT(user0 != 0, 1);
    static uint8_t req[32] = {0, 0, 0, 0, 0, 0, 0, 1, 'p', 'i', 'n', 'g'};
    static uint8_t rsp[64];
    zx_handle_t rh[1];
    call_args_t args = {req, NULL, rsp, rh, 12, 0, sizeof rsp, 1};
    uint32_t ab = 0, ah = 0;
    say("calling\n");
    EXPECT(channel_call(user0, 0, ZX_TIME_INFINITE, &args, &ab, &ah), ZX_OK);
    EXPECT(ab == 8 && ah == 0 && rsp[4] == 'p' && rsp[5] == 'o' && rsp[6] == 'n' && rsp[7] == 'g', 1);
    say("replied pong\n");
    zx_process_exit(0);
}
#endif /* FL_STDIO */

#if defined(FL_PORTS)
/* Jobs, processes, ports and blocking waits (serve_object.c): each call's errors in Zircon's order, then threads of
 * this program blocked in zx_port_wait and zx_object_wait_one at once, one of them suspended while a packet waits
 * for it; a thread is left blocked in zx_port_wait for ever when the program exits with 0.  A failed check exits
 * with 100 + its line number's last two digits. */
#define ZX_ERR_BAD_STATE (-20)
#define ZX_OBJ_TYPE_PROCESS 1u
#define ZX_OBJ_TYPE_THREAD 2u
#define ZX_OBJ_TYPE_PORT 6u
#define ZX_OBJ_TYPE_JOB 17u
#define ZX_EVENT_SIGNALED ((zx_signals_t)1u << 3)
#define ZX_PKT_TYPE_USER 0u
#define ZX_PKT_TYPE_SIGNAL_ONE 1u
#define ZX_INFO_THREAD 10u
#define ZX_THREAD_STATE_BLOCKED_PORT 0x0403u
#define ZX_THREAD_STATE_BLOCKED_WAIT_ONE 0x0603u
#define ZX_THREAD_STATE_SUSPENDED 0x0002u
#define ZX_RIGHT_OP_CHILDREN ((zx_rights_t)1u << 21)
#define ZX_OBJ_TYPE_TIMER 22u
#define ZX_ERR_OUT_OF_RANGE (-14)
#define ZX_TIMER_SIGNALED ((zx_signals_t)1u << 3)
/* <zircon/rights.h>: ZX_RIGHTS_BASIC (DUPLICATE, TRANSFER, WAIT, INSPECT), WRITE, SIGNAL */
#define ZX_DEFAULT_TIMER_RIGHTS 0xd00bu

typedef struct {
    uint64_t key;
    uint32_t type;
    zx_status_t status;
    uint64_t payload[4]; /* user: 32 bytes; signal: trigger, observed (u32 each), count, timestamp, reserved */
} packet_t; /* zx_port_packet_t: 48 bytes */
typedef struct {
    uint32_t state, wait_exception_channel_type;
    uint8_t rest[64];
} thread_info_t;

FN(zx_status_t, job_create, (zx_handle_t, uint32_t, zx_handle_t *));
FN(zx_status_t, process_create, (zx_handle_t, const char *, size_t, uint32_t, zx_handle_t *, zx_handle_t *));
FN(zx_status_t, thread_create, (zx_handle_t, const char *, size_t, uint32_t, zx_handle_t *));
FN(zx_status_t, thread_start, (zx_handle_t, uintptr_t, uintptr_t, uintptr_t, uintptr_t));
FN(zx_status_t, port_create, (uint32_t, zx_handle_t *));
FN(zx_status_t, port_queue, (zx_handle_t, const packet_t *));
FN(zx_status_t, port_wait, (zx_handle_t, zx_time_t, packet_t *));
FN(zx_status_t, object_wait_async, (zx_handle_t, zx_handle_t, uint64_t, zx_signals_t, uint32_t));
FN(void, thread_exit, (void));
FN(zx_status_t, timer_create, (uint32_t, uint32_t, zx_handle_t *));
FN(zx_status_t, timer_set, (zx_handle_t, zx_time_t, zx_duration_t));
FN(zx_status_t, timer_cancel, (zx_handle_t));

static uint8_t g_pstacks[4][64 * 1024] __attribute__((aligned(16)));
static volatile uint64_t g_got[4];           /* what each thread's wait gave: key, or 1000 + status */

/* A thread: arg1 = its slot, arg2 = the handle it waits on (slots 0 and 3: a port, 1 and 2: an event). */
__attribute__((used)) static _Noreturn void waiter(uint64_t slot, zx_handle_t h) {
    if (slot == 0 || slot == 3) {
        packet_t pkt;
        zx_status_t st = port_wait(h, ZX_TIME_INFINITE, &pkt);
        g_got[slot] = st == ZX_OK ? pkt.key : 1000u + (uint64_t)(-st);
    } else {
        zx_signals_t seen = 0;
        zx_status_t st = object_wait_one(h, ZX_USER_SIGNAL_0, ZX_TIME_INFINITE, &seen);
        g_got[slot] = st == ZX_OK ? 7u : 1000u + (uint64_t)(-st);
    }
    thread_exit();
    __builtin_unreachable();
}

static zx_handle_t start_waiter(zx_handle_t proc, uint64_t slot, zx_handle_t h) {
    zx_handle_t t = 0;
    EXPECT(thread_create(proc, "waiter", 6, 0, &t), ZX_OK);
    uintptr_t top = (uintptr_t)(g_pstacks[slot] + sizeof g_pstacks[slot]) - 8;
    EXPECT(thread_start(t, (uintptr_t)waiter, top, slot, h), ZX_OK);
    return t;
}

static void await_state(zx_handle_t t, uint32_t state) {
    thread_info_t info;
    for (int i = 0; i < 500; i++) {
        EXPECT(object_get_info(t, ZX_INFO_THREAD, &info, sizeof info, NULL, NULL), ZX_OK);
        if (info.state == state) return;
        nanosleep_fn(deadline_after(10 * 1000 * 1000));
    }
    check_failed(__LINE__, info.state);
}

static void await_signal(zx_handle_t h, zx_signals_t signal) {
    EXPECT(object_wait_one(h, signal, deadline_after(10ll * 1000 * 1000 * 1000), NULL), ZX_OK);
}

static _Noreturn void ports_main(zx_handle_t bootstrap, const uint8_t *base) {
    channel_read = need(base, "_zx_channel_read");
    handle_close = need(base, "_zx_handle_close");
    object_get_info = need(base, "_zx_object_get_info");
    object_signal = need(base, "_zx_object_signal");
    object_wait_one = need(base, "_zx_object_wait_one");
    task_kill = need(base, "_zx_task_kill");
    task_suspend = need(base, "_zx_task_suspend");
    event_create = need(base, "_zx_event_create");
    nanosleep_fn = need(base, "_zx_nanosleep");
    deadline_after = need(base, "_zx_deadline_after");
    job_create = need(base, "_zx_job_create");
    process_create = need(base, "_zx_process_create");
    thread_create = need(base, "_zx_thread_create");
    thread_start = need(base, "_zx_thread_start");
    port_create = need(base, "_zx_port_create");
    port_queue = need(base, "_zx_port_queue");
    port_wait = need(base, "_zx_port_wait");
    object_wait_async = need(base, "_zx_object_wait_async");
    thread_exit = need(base, "_zx_thread_exit");
    timer_create = need(base, "_zx_timer_create");
    timer_set = need(base, "_zx_timer_set");
    timer_cancel = need(base, "_zx_timer_cancel");

    static uint8_t msg[4096];
    zx_handle_t hs[16];
    uint32_t nb = 0, nh = 0;
    EXPECT(channel_read(bootstrap, 0, msg, hs, sizeof msg, 16, &nb, &nh), ZX_OK);
    const uint32_t *infos = (const uint32_t *)(msg + ((const proc_args_t *)msg)->handle_info_off);
    zx_handle_t proc = 0, job = 0;
    for (uint32_t i = 0; i < nh; i++) {
        if ((infos[i] & 0xff) == PA_PROC_SELF) proc = hs[i];
        if ((infos[i] & 0xff) == PA_JOB_DEFAULT) job = hs[i];
    }
    EXPECT(proc != 0 && job != 0, 1);

    /* sys_job_create: options, then the parent. */
    zx_handle_t child = 0, p = 0, vmar = 0, t = 0;
    zx_rights_t rights = 0;
    basic_t b;
    EXPECT(job_create(job, 1, &child), ZX_ERR_INVALID_ARGS);
    EXPECT(job_create(proc, 0, &child), ZX_ERR_WRONG_TYPE);
    EXPECT(job_create(job, 0, &child), ZX_OK);
    EXPECT(object_get_info(child, ZX_INFO_HANDLE_BASIC, &b, sizeof b, NULL, NULL), ZX_OK);
    EXPECT(b.type, ZX_OBJ_TYPE_JOB);
    EXPECT(b.related_koid, koid_of(job, NULL));
    /* sys_process_create: options, the name (NULL is INVALID_ARGS), the job; the root VMAR's rights. */
    EXPECT(process_create(child, "p", 1, 2, &p, &vmar), ZX_ERR_INVALID_ARGS);
    EXPECT(process_create(child, NULL, 0, 0, &p, &vmar), ZX_ERR_INVALID_ARGS);
    EXPECT(process_create(proc, "p", 1, 0, &p, &vmar), ZX_ERR_WRONG_TYPE);
    EXPECT(process_create(child, "unstarted", 9, 0, &p, &vmar), ZX_OK);
    EXPECT(object_get_info(p, ZX_INFO_HANDLE_BASIC, &b, sizeof b, NULL, NULL), ZX_OK);
    EXPECT(b.type, ZX_OBJ_TYPE_PROCESS);
    koid_of(vmar, &rights);
    EXPECT(rights, ZX_DEFAULT_VMAR_RIGHTS_AND_RWX);
    EXPECT((rights & ZX_RIGHT_OP_CHILDREN) != 0, 1);
    /* sys_thread_create in another process: made (NEW); starting it is BAD_STATE (the process never started). */
    EXPECT(thread_create(p, NULL, 0, 0, &t), ZX_ERR_INVALID_ARGS);
    EXPECT(thread_create(p, "t", 1, 0, &t), ZX_OK);
    EXPECT(object_get_info(t, ZX_INFO_HANDLE_BASIC, &b, sizeof b, NULL, NULL), ZX_OK);
    EXPECT(b.type, ZX_OBJ_TYPE_THREAD);
    EXPECT(thread_start(t, 0x1000, 0x2000, 0, 0), ZX_ERR_BAD_STATE);
    /* Killing the job ends the unstarted process (TERMINATED at once). */
    EXPECT(task_kill(child), ZX_OK);
    await_signal(p, ZX_TASK_TERMINATED);
    EXPECT(handle_close(t), ZX_OK);
    EXPECT(handle_close(vmar), ZX_OK);
    EXPECT(handle_close(p), ZX_OK);
    EXPECT(handle_close(child), ZX_OK);
    say("jobs and processes ok\n");

    /* Ports: options; FIFO user packets; TIMED_OUT with none; a signal packet from object_wait_async. */
    zx_handle_t port = 0, ev = 0;
    packet_t pkt, got;
    EXPECT(port_create(2, &port), ZX_ERR_INVALID_ARGS);
    EXPECT(port_create(0, &port), ZX_OK);
    EXPECT(object_get_info(port, ZX_INFO_HANDLE_BASIC, &b, sizeof b, NULL, NULL), ZX_OK);
    EXPECT(b.type, ZX_OBJ_TYPE_PORT);
    EXPECT(port_wait(port, 0, &got), ZX_ERR_TIMED_OUT);
    for (uint64_t key = 1; key <= 2; key++) {
        pkt = (packet_t){.key = key, .type = 5, .status = -3, .payload = {key * 10, 0, 0, 0}};
        EXPECT(port_queue(port, &pkt), ZX_OK);
    }
    EXPECT(port_queue(ev, &pkt), ZX_ERR_BAD_HANDLE);
    for (uint64_t key = 1; key <= 2; key++) {
        EXPECT(port_wait(port, 0, &got), ZX_OK);
        EXPECT(got.key, key);
        EXPECT(got.type, ZX_PKT_TYPE_USER); /* the type is forced */
        EXPECT(got.status, -3);
        EXPECT(got.payload[0], key * 10);
    }
    EXPECT(event_create(0, &ev), ZX_OK);
    EXPECT(object_wait_async(ev, port, 77, ZX_EVENT_SIGNALED, 1u << 31), ZX_ERR_INVALID_ARGS);
    EXPECT(object_wait_async(ev, port, 77, ZX_EVENT_SIGNALED, 0), ZX_OK);
    EXPECT(port_wait(port, 0, &got), ZX_ERR_TIMED_OUT);
    EXPECT(object_signal(ev, 0, ZX_EVENT_SIGNALED), ZX_OK);
    EXPECT(port_wait(port, deadline_after(1000ll * 1000 * 1000), &got), ZX_OK);
    EXPECT(got.key, 77);
    EXPECT(got.type, ZX_PKT_TYPE_SIGNAL_ONE);
    EXPECT((uint32_t)got.payload[0], ZX_EVENT_SIGNALED); /* trigger */
    EXPECT((uint32_t)(got.payload[0] >> 32) & ZX_EVENT_SIGNALED, ZX_EVENT_SIGNALED); /* observed */
    EXPECT(handle_close(ev), ZX_OK);
    say("ports ok\n");

    /* Timers: the clock, then the options; a negative slack before the handle; SIGNALED at the deadline, not
     * before; a set clears it, a cancel clears it; a timer's packet through the port. */
    zx_handle_t tm = 0;
    EXPECT(timer_create(0, 1, &tm), ZX_ERR_INVALID_ARGS);
    EXPECT(timer_create(3, 0, &tm), ZX_ERR_INVALID_ARGS);
    EXPECT(timer_create(2, 0, &tm), ZX_OK);
    EXPECT(object_get_info(tm, ZX_INFO_HANDLE_BASIC, &b, sizeof b, NULL, NULL), ZX_OK);
    EXPECT(b.type, ZX_OBJ_TYPE_TIMER);
    EXPECT(b.rights, ZX_DEFAULT_TIMER_RIGHTS);
    EXPECT(timer_set(0, 0, -1), ZX_ERR_OUT_OF_RANGE);
    EXPECT(timer_set(0, 0, 0), ZX_ERR_BAD_HANDLE);
    EXPECT(timer_set(port, 0, 0), ZX_ERR_WRONG_TYPE);
    zx_time_t deadline = deadline_after(50 * 1000 * 1000);
    EXPECT(timer_set(tm, deadline, 0), ZX_OK);
    EXPECT(object_wait_one(tm, ZX_TIMER_SIGNALED, 0, NULL), ZX_ERR_TIMED_OUT);
    await_signal(tm, ZX_TIMER_SIGNALED);
    EXPECT(deadline_after(0) >= deadline, 1);
    EXPECT(timer_set(tm, deadline_after(10ll * 1000 * 1000 * 1000), 0), ZX_OK); /* clears SIGNALED */
    EXPECT(object_wait_one(tm, ZX_TIMER_SIGNALED, 0, NULL), ZX_ERR_TIMED_OUT);
    EXPECT(timer_set(tm, 0, 0), ZX_OK); /* a past deadline fires at once */
    await_signal(tm, ZX_TIMER_SIGNALED);
    EXPECT(timer_cancel(tm), ZX_OK); /* clears SIGNALED */
    EXPECT(object_wait_one(tm, ZX_TIMER_SIGNALED, 0, NULL), ZX_ERR_TIMED_OUT);
    EXPECT(timer_set(tm, deadline_after(100 * 1000 * 1000), 0), ZX_OK);
    EXPECT(timer_cancel(tm), ZX_OK); /* canceled before its deadline: never fires */
    EXPECT(object_wait_one(tm, ZX_TIMER_SIGNALED, deadline_after(250 * 1000 * 1000), NULL), ZX_ERR_TIMED_OUT);
    EXPECT(object_wait_async(tm, port, 55, ZX_TIMER_SIGNALED, 0), ZX_OK);
    EXPECT(timer_set(tm, deadline_after(30 * 1000 * 1000), 0), ZX_OK);
    EXPECT(port_wait(port, deadline_after(10ll * 1000 * 1000 * 1000), &got), ZX_OK);
    EXPECT(got.key, 55);
    EXPECT(got.type, ZX_PKT_TYPE_SIGNAL_ONE);
    EXPECT(handle_close(tm), ZX_OK);
    say("timers ok\n");

    /* A thread blocked in port_wait, suspended: a packet queued meanwhile stays queued until the resume. */
    zx_handle_t t0 = start_waiter(proc, 0, port);
    await_state(t0, ZX_THREAD_STATE_BLOCKED_PORT);
    zx_handle_t token = 0;
    EXPECT(task_suspend(t0, &token), ZX_OK);
    await_signal(t0, ZX_THREAD_SUSPENDED);
    await_state(t0, ZX_THREAD_STATE_SUSPENDED);
    pkt = (packet_t){.key = 9};
    EXPECT(port_queue(port, &pkt), ZX_OK);
    nanosleep_fn(deadline_after(150 * 1000 * 1000));
    EXPECT(g_got[0], 0); /* nothing taken while suspended */
    EXPECT(handle_close(token), ZX_OK);
    await_signal(t0, ZX_TASK_TERMINATED);
    EXPECT(g_got[0], 9);
    say("suspended port_wait ok\n");

    /* Two threads in zx_object_wait_one at once, each on its own event, ended in the other order. */
    zx_handle_t e1 = 0, e2 = 0;
    EXPECT(event_create(0, &e1), ZX_OK);
    EXPECT(event_create(0, &e2), ZX_OK);
    zx_handle_t t1 = start_waiter(proc, 1, e1), t2 = start_waiter(proc, 2, e2);
    await_state(t1, ZX_THREAD_STATE_BLOCKED_WAIT_ONE);
    await_state(t2, ZX_THREAD_STATE_BLOCKED_WAIT_ONE);
    EXPECT(object_signal(e2, 0, ZX_USER_SIGNAL_0), ZX_OK);
    await_signal(t2, ZX_TASK_TERMINATED);
    EXPECT(g_got[2], 7);
    EXPECT(g_got[1], 0);
    await_state(t1, ZX_THREAD_STATE_BLOCKED_WAIT_ONE);
    EXPECT(object_signal(e1, 0, ZX_USER_SIGNAL_0), ZX_OK);
    await_signal(t1, ZX_TASK_TERMINATED);
    EXPECT(g_got[1], 7);
    say("concurrent waits ok\n");

    /* A thread left in zx_port_wait for ever: the program's end must end it. */
    zx_handle_t t3 = start_waiter(proc, 3, port);
    await_state(t3, ZX_THREAD_STATE_BLOCKED_PORT);
    say("exiting with a waiter blocked\n");
    zx_process_exit(0);
}
#endif /* FL_PORTS */
#endif /* FL_HANDLES || FL_STDIO */

#if defined(FL_FUTEX)
/* Futexes (runner.c serve_futex_wait / serve_futex_wake), with Zircon's errors in the order of
 * zircon/kernel/object/futex_context.cc; then a wait the host suspends past its deadline.  Exit 0, or the number of
 * the first check that failed. */
static volatile int32_t g_word = 7, g_other = 0;

static _Noreturn void futex_main(zx_handle_t bootstrap, const uint8_t *base) {
    enum { OK = 0, INVALID_ARGS = -10, BAD_HANDLE = -11, BAD_STATE = -20, TIMED_OUT = -21 };
    const zx_time_t INFINITE = INT64_MAX;
    zx_status_t (*channel_read)(zx_handle_t, uint32_t, void *, zx_handle_t *, uint32_t, uint32_t, uint32_t *,
                                uint32_t *) = vdso_sym(base, "_zx_channel_read");
    zx_status_t (*futex_wait)(const volatile int32_t *, int32_t, zx_handle_t, zx_time_t) =
        vdso_sym(base, "_zx_futex_wait");
    zx_status_t (*futex_wake)(const volatile int32_t *, uint32_t) = vdso_sym(base, "_zx_futex_wake");
    zx_status_t (*futex_requeue)(const volatile int32_t *, uint32_t, int32_t, const volatile int32_t *, uint32_t,
                                 zx_handle_t) = vdso_sym(base, "_zx_futex_requeue");
    zx_time_t (*deadline_after)(zx_duration_t) = vdso_sym(base, "_zx_deadline_after");
    if (channel_read == NULL || futex_wait == NULL || futex_wake == NULL || futex_requeue == NULL ||
        deadline_after == NULL)
        zx_process_exit(2);
    /* PA_THREAD_SELF (0x02) from the processargs message: the handle infos follow the 36-byte header. */
    static uint8_t msg[4096];
    zx_handle_t hs[16];
    uint32_t nb = 0, nh = 0;
    if (channel_read(bootstrap, 0, msg, hs, sizeof msg, 16, &nb, &nh) != OK || nb < 36) zx_process_exit(3);
    const uint32_t *infos = (const uint32_t *)(msg + *(const uint32_t *)(msg + 8));
    zx_handle_t self = 0;
    for (uint32_t i = 0; i < nh; i++)
        if ((infos[i] & 0xff) == 0x02) self = hs[i];
    if (self == 0) zx_process_exit(4);
    const volatile int32_t *odd = (const volatile int32_t *)((uintptr_t)&g_word + 1);
    /* The pointer first (null, misaligned), then the owner, then the value. */
    if (futex_wait(NULL, 0, 0, INFINITE) != INVALID_ARGS) zx_process_exit(10);
    if (futex_wait(odd, 7, self, INFINITE) != INVALID_ARGS) zx_process_exit(11);
    if (futex_wait(&g_word, 8, self, INFINITE) != INVALID_ARGS) zx_process_exit(12); /* owner == self */
    if (futex_wait(&g_word, 8, self ^ 0x100000, INFINITE) != BAD_HANDLE) zx_process_exit(13);
    if (futex_wait(&g_word, 8, 0, INFINITE) != BAD_STATE) zx_process_exit(14);
    if (futex_wait((const volatile int32_t *)16, 0, 0, INFINITE) != INVALID_ARGS) zx_process_exit(15);
    /* Deadlines on the vDSO's clock: one 30 ms ahead, one already past. */
    zx_time_t t0 = deadline_after(0);
    if (futex_wait(&g_word, 7, 0, deadline_after(30 * 1000 * 1000)) != TIMED_OUT) zx_process_exit(20);
    if (deadline_after(0) - t0 < 30 * 1000 * 1000) zx_process_exit(21);
    if (futex_wait(&g_word, 7, 0, 0) != TIMED_OUT) zx_process_exit(22);
    if (futex_wait(&g_word, 8, 0, 0) != BAD_STATE) zx_process_exit(23); /* the value before the deadline */
    /* Wake: the pointer only; nobody waits. */
    if (futex_wake(&g_word, 1) != OK) zx_process_exit(30);
    if (futex_wake(&g_word, UINT32_MAX) != OK) zx_process_exit(31);
    if (futex_wake(odd, 1) != INVALID_ARGS) zx_process_exit(32);
    if (futex_wake(NULL, 1) != INVALID_ARGS) zx_process_exit(33);
    /* zx_futex_wake_single_owner (libc's mutex unlock): the pointer only; nobody waits. */
    zx_status_t (*wake_single_owner)(const volatile int32_t *) = vdso_sym(base, "_zx_futex_wake_single_owner");
    if (wake_single_owner == NULL) zx_process_exit(2);
    if (wake_single_owner(&g_word) != OK) zx_process_exit(25);
    if (wake_single_owner(odd) != INVALID_ARGS) zx_process_exit(26);
    if (wake_single_owner(NULL) != INVALID_ARGS) zx_process_exit(27);
    /* Requeue: both pointers, not the same futex, the owner, the value; nobody waits. */
    if (futex_requeue(odd, 1, 7, &g_other, 1, 0) != INVALID_ARGS) zx_process_exit(35);
    if (futex_requeue(&g_word, 1, 7, odd, 1, 0) != INVALID_ARGS) zx_process_exit(36);
    if (futex_requeue(&g_word, 1, 7, &g_word, 1, 0) != INVALID_ARGS) zx_process_exit(37);
    if (futex_requeue(&g_word, 1, 8, &g_other, 1, self) != INVALID_ARGS) zx_process_exit(38);
    if (futex_requeue(&g_word, 1, 8, &g_other, 1, 0) != BAD_STATE) zx_process_exit(39);
    if (futex_requeue(&g_word, 1, 7, &g_other, UINT32_MAX, 0) != OK) zx_process_exit(34);
    /* The host suspends this wait and holds it past its deadline: no line until it is resumed. */
    say("waiting\n");
    t0 = deadline_after(0);
    zx_status_t st = futex_wait(&g_word, 7, 0, deadline_after(400 * 1000 * 1000));
    if (st != TIMED_OUT) zx_process_exit(40);
    if (deadline_after(0) - t0 < 400 * 1000 * 1000) zx_process_exit(41);
    say("timed out\n");
    zx_process_exit(0);
}
#endif

#if defined(FL_THREADS)
/* Threads (runner.c serve_thread_start, serve_object.c): zx_thread_create / zx_thread_start with Zircon's errors, a
 * worker on a static stack, 100 hand-overs through futex wait/wake, each thread's own fs base (ZX_PROP_REGISTER_FS,
 * read back as %fs:0), a third thread that ends with zx_thread_exit; then "handoff done" and both threads say a
 * line every 10 ms ("m" the first, "w" the worker) until the host kills the process.  A failed check exits with
 * its number. */
#define ROUNDS 100
#define PROP_REGISTER_FS 4u
#define INFINITE INT64_MAX
static volatile int32_t g_turn;
static uint8_t g_stacks[2][64 * 1024] __attribute__((aligned(16)));
static uint64_t g_tls[3][2]; /* each thread's fs:0 holds the address of its own block (the x86-64 TLS ABI) */
static zx_status_t (*t_set_property)(zx_handle_t, uint32_t, const void *, size_t);
static zx_status_t (*t_futex_wait)(const volatile int32_t *, int32_t, zx_handle_t, zx_time_t);
static zx_status_t (*t_futex_wake)(const volatile int32_t *, uint32_t);
static zx_status_t (*t_nanosleep)(zx_time_t);
static zx_time_t (*t_deadline_after)(zx_duration_t);
static void (*t_thread_exit)(void) __attribute__((noreturn));

static uint64_t fs0(void) {
    uint64_t v;
    __asm__ volatile("mov %%fs:0, %0" : "=r"(v));
    return v;
}

static int set_fs(zx_handle_t self, int which) {
    g_tls[which][0] = (uint64_t)(uintptr_t)&g_tls[which];
    uint64_t v = g_tls[which][0];
    return t_set_property(self, PROP_REGISTER_FS, &v, sizeof v) == 0 && fs0() == v;
}

static void await_turn(int32_t want) {
    int32_t seen;
    while ((seen = g_turn) != want) t_futex_wait(&g_turn, seen, 0, INFINITE); /* BAD_STATE: it changed, look again */
}

static _Noreturn void ticks(const char *line) {
    for (;;) {
        say(line);
        t_nanosleep(t_deadline_after(10 * 1000 * 1000));
    }
}

/* The worker (arg1: its own thread handle, arg2: 1) and the thread that only exits (arg2: 2). */
__attribute__((used)) static _Noreturn void worker(zx_handle_t self, uint64_t which) {
    if (which == 2) t_thread_exit();
    if (!set_fs(self, 1)) zx_process_exit(50);
    for (int32_t i = 0; i < ROUNDS; i++) {
        await_turn(2 * i + 1);
        g_turn = 2 * i + 2;
        t_futex_wake(&g_turn, 1);
    }
    if (fs0() != (uint64_t)(uintptr_t)&g_tls[1]) zx_process_exit(51);
    ticks("w\n");
}

static _Noreturn void threads_main(zx_handle_t bootstrap, const uint8_t *base) {
    enum { OK = 0, INVALID_ARGS = -10, WRONG_TYPE = -12, BUFFER_TOO_SMALL = -15, BAD_STATE = -20,
           ACCESS_DENIED = -30 };
    zx_status_t (*channel_read)(zx_handle_t, uint32_t, void *, zx_handle_t *, uint32_t, uint32_t, uint32_t *,
                                uint32_t *) = vdso_sym(base, "_zx_channel_read");
    zx_status_t (*thread_create)(zx_handle_t, const char *, size_t, uint32_t, zx_handle_t *) =
        vdso_sym(base, "_zx_thread_create");
    zx_status_t (*thread_start)(zx_handle_t, uintptr_t, uintptr_t, uintptr_t, uintptr_t) =
        vdso_sym(base, "_zx_thread_start");
    zx_status_t (*wait_one)(zx_handle_t, uint32_t, zx_time_t, uint32_t *) = vdso_sym(base, "_zx_object_wait_one");
    t_set_property = vdso_sym(base, "_zx_object_set_property");
    t_futex_wait = vdso_sym(base, "_zx_futex_wait");
    t_futex_wake = vdso_sym(base, "_zx_futex_wake");
    t_nanosleep = vdso_sym(base, "_zx_nanosleep");
    t_deadline_after = vdso_sym(base, "_zx_deadline_after");
    t_thread_exit = vdso_sym(base, "_zx_thread_exit");
    if (channel_read == NULL || thread_create == NULL || thread_start == NULL || wait_one == NULL ||
        t_set_property == NULL || t_futex_wait == NULL || t_futex_wake == NULL || t_nanosleep == NULL ||
        t_deadline_after == NULL || t_thread_exit == NULL)
        zx_process_exit(2);
    static uint8_t msg[4096];
    zx_handle_t hs[16];
    uint32_t nb = 0, nh = 0;
    if (channel_read(bootstrap, 0, msg, hs, sizeof msg, 16, &nb, &nh) != OK || nb < 36) zx_process_exit(3);
    const uint32_t *infos = (const uint32_t *)(msg + *(const uint32_t *)(msg + 8));
    zx_handle_t self = 0, proc = 0;
    for (uint32_t i = 0; i < nh; i++) {
        if ((infos[i] & 0xff) == 0x01) proc = hs[i];
        if ((infos[i] & 0xff) == 0x02) self = hs[i];
    }
    if (self == 0 || proc == 0) zx_process_exit(4);
    /* ZX_PROP_REGISTER_FS: the size, then the value, then the thread; the value must be canonical. */
    uint64_t v = 0x800000000000ull;
    if (t_set_property(self, PROP_REGISTER_FS, &v, 4) != BUFFER_TOO_SMALL) zx_process_exit(10);
    if (t_set_property(self, PROP_REGISTER_FS, &v, sizeof v) != INVALID_ARGS) zx_process_exit(11);
    if (t_set_property(proc, PROP_REGISTER_FS, &v, sizeof v) != WRONG_TYPE) zx_process_exit(12);
    if (!set_fs(self, 0)) zx_process_exit(13);
    /* zx_thread_create: options, then the process handle. */
    zx_handle_t t = 0, t3 = 0;
    if (thread_create(proc, "worker", 6, 1, &t) != INVALID_ARGS) zx_process_exit(20);
    if (thread_create(self, "worker", 6, 0, &t) != WRONG_TYPE) zx_process_exit(21);
    if (thread_create(proc, "worker", 6, 0, &t) != OK || t == 0) zx_process_exit(22);
    /* Another thread's fs base cannot be set. */
    v = (uint64_t)(uintptr_t)&g_tls[2];
    if (t_set_property(t, PROP_REGISTER_FS, &v, sizeof v) != ACCESS_DENIED) zx_process_exit(23);
    uintptr_t top = (uintptr_t)(g_stacks[0] + sizeof g_stacks[0]) - 8; /* as if called: rsp % 16 == 8 */
    if (thread_start(t, (uintptr_t)worker, top, t, 1) != OK) zx_process_exit(24);
    if (thread_start(t, (uintptr_t)worker, top, t, 1) != BAD_STATE) zx_process_exit(25);
    for (int32_t i = 0; i < ROUNDS; i++) {
        g_turn = 2 * i + 1;
        t_futex_wake(&g_turn, 1);
        await_turn(2 * i + 2);
    }
    if (fs0() != (uint64_t)(uintptr_t)&g_tls[0]) zx_process_exit(30); /* the worker's own did not touch it */
    /* A thread that ends itself with zx_thread_exit: THREAD_TERMINATED (ZX_TASK_TERMINATED) on its handle. */
    if (thread_create(proc, "exiter", 6, 0, &t3) != OK) zx_process_exit(40);
    top = (uintptr_t)(g_stacks[1] + sizeof g_stacks[1]) - 8;
    if (thread_start(t3, (uintptr_t)worker, top, t3, 2) != OK) zx_process_exit(41);
    uint32_t seen = 0;
    if (wait_one(t3, 1u << 3, t_deadline_after(5ll * 1000 * 1000 * 1000), &seen) != OK) zx_process_exit(42);
    say("handoff done\n");
    ticks("m\n");
}
#endif

#if defined(FL_COST)
/* The best of 5 rounds of 2,000 calls of one served syscall, in ns per call; -1 if a call failed. */
typedef zx_status_t cost_fn(zx_handle_t);
static int64_t cost_ns(cost_fn *fn, zx_handle_t h, uint64_t (*ticks_get)(void), uint64_t ticks_per_second) {
    uint64_t best = UINT64_MAX;
    for (int round = 0; round < 5; round++) {
        uint64_t t0 = ticks_get();
        for (int i = 0; i < 2000; i++)
            if (fn(h) != 0) return -1;
        uint64_t t = ticks_get() - t0;
        if (t < best) best = t;
    }
    return (int64_t)(best * 1000000000u / ticks_per_second / 2000);
}

static zx_status_t (*c_get_info)(zx_handle_t, uint32_t, void *, size_t, size_t *, size_t *);
static zx_status_t (*c_duplicate)(zx_handle_t, uint32_t, zx_handle_t *);
static zx_status_t (*c_close)(zx_handle_t);
static zx_status_t (*c_signal)(zx_handle_t, uint32_t, uint32_t);

static zx_status_t one_close_invalid(zx_handle_t h) { (void)h; return c_close(0); }
static zx_status_t one_signal(zx_handle_t h) { return c_signal(h, 0, 0); }
static zx_status_t one_basic_info(zx_handle_t h) {
    uint8_t info[32];
    return c_get_info(h, 2 /* ZX_INFO_HANDLE_BASIC */, info, sizeof info, NULL, NULL);
}
static zx_status_t one_duplicate_close(zx_handle_t h) {
    zx_handle_t dup;
    zx_status_t status = c_duplicate(h, 0x80000000u /* ZX_RIGHT_SAME_RIGHTS */, &dup);
    return status != 0 ? status : c_close(dup);
}

static void cost_line(const char *name, int64_t ns) {
    char line[80];
    size_t at = 0;
    for (const char *p = "cost "; *p; p++) line[at++] = *p;
    for (const char *p = name; *p; p++) line[at++] = *p;
    line[at++] = ' ';
    char digits[21];
    int d = 0;
    uint64_t v = (uint64_t)ns;
    do digits[d++] = (char)('0' + v % 10), v /= 10;
    while (v != 0);
    while (d > 0) line[at++] = digits[--d];
    line[at++] = '\n';
    zx_debug_write(line, at);
}

static _Noreturn void cost_main(const uint8_t *base) {
    uint64_t (*ticks_get)(void) = (uint64_t (*)(void))vdso_sym(base, "_zx_ticks_get");
    uint64_t (*ticks_per_second)(void) = (uint64_t (*)(void))vdso_sym(base, "_zx_ticks_per_second");
    zx_status_t (*event_create)(uint32_t, zx_handle_t *) =
        (zx_status_t (*)(uint32_t, zx_handle_t *))vdso_sym(base, "_zx_event_create");
    c_get_info = (zx_status_t (*)(zx_handle_t, uint32_t, void *, size_t, size_t *, size_t *))vdso_sym(
        base, "_zx_object_get_info");
    c_duplicate = (zx_status_t (*)(zx_handle_t, uint32_t, zx_handle_t *))vdso_sym(base, "_zx_handle_duplicate");
    c_close = (zx_status_t (*)(zx_handle_t))vdso_sym(base, "_zx_handle_close");
    c_signal = (zx_status_t (*)(zx_handle_t, uint32_t, uint32_t))vdso_sym(base, "_zx_object_signal");
    if (!ticks_get || !ticks_per_second || !event_create || !c_get_info || !c_duplicate || !c_close || !c_signal)
        zx_process_exit(2);
    zx_handle_t event;
    if (event_create(0, &event) != 0) zx_process_exit(1);
    uint64_t tps = ticks_per_second();
    /* One call after another: a table of function pointers would need relocations, and this image has none. */
    int64_t ns;
#define COST(name, fn)                                                                                         \
    if ((ns = cost_ns(fn, event, ticks_get, tps)) < 0) zx_process_exit(1);                                     \
    cost_line(name, ns)
    COST("handle_close(ZX_HANDLE_INVALID)", one_close_invalid);
    COST("object_signal(event,0,0)", one_signal);
    COST("object_get_info(HANDLE_BASIC)", one_basic_info);
    COST("handle_duplicate+handle_close", one_duplicate_close);
#undef COST
    zx_process_exit(0);
}
#endif

#if defined(FL_SUBVMAR) || defined(FL_LDSO)
/* The calls both scenarios use, looked up in the vDSO; a missing one exits with 2. */
typedef zx_status_t (*vmar_map_fn)(zx_handle_t, uint32_t, uint64_t, zx_handle_t, uint64_t, uint64_t, uint64_t *);
static zx_status_t (*x_channel_read)(zx_handle_t, uint32_t, void *, zx_handle_t *, uint32_t, uint32_t, uint32_t *,
                                     uint32_t *);
static zx_status_t (*x_vmo_create)(uint64_t, uint32_t, zx_handle_t *);
static zx_status_t (*x_vmo_read)(zx_handle_t, void *, uint64_t, size_t);
static zx_status_t (*x_vmo_write)(zx_handle_t, const void *, uint64_t, size_t);
static zx_status_t (*x_vmo_get_size)(zx_handle_t, uint64_t *);
static zx_status_t (*x_vmo_create_child)(zx_handle_t, uint32_t, uint64_t, uint64_t, zx_handle_t *);
static zx_status_t (*x_vmo_replace_as_executable)(zx_handle_t, zx_handle_t, zx_handle_t *);
static vmar_map_fn x_vmar_map;
static zx_status_t (*x_vmar_unmap)(zx_handle_t, uint64_t, uint64_t);
static zx_status_t (*x_vmar_allocate)(zx_handle_t, uint32_t, uint64_t, uint64_t, zx_handle_t *, uint64_t *);
static zx_status_t (*x_vmar_protect)(zx_handle_t, uint32_t, uint64_t, uint64_t);
static zx_status_t (*x_vmar_destroy)(zx_handle_t);
static zx_status_t (*x_get_info)(zx_handle_t, uint32_t, void *, size_t, size_t *, size_t *);
static zx_status_t (*x_get_property)(zx_handle_t, uint32_t, void *, size_t);
static zx_status_t (*x_set_property)(zx_handle_t, uint32_t, const void *, size_t);

#define CHECK(n, cond)                                                                                             \
    do {                                                                                                           \
        if (!(cond)) zx_process_exit(n);                                                                           \
    } while (0)

static void *want(const uint8_t *base, const char *name) {
    void *f = vdso_sym(base, name);
    if (f == NULL) zx_process_exit(2);
    return f;
}

static void vm_calls(const uint8_t *base) {
    x_channel_read = want(base, "_zx_channel_read");
    x_vmo_create = want(base, "_zx_vmo_create");
    x_vmo_read = want(base, "_zx_vmo_read");
    x_vmo_write = want(base, "_zx_vmo_write");
    x_vmo_get_size = want(base, "_zx_vmo_get_size");
    x_vmo_create_child = want(base, "_zx_vmo_create_child");
    x_vmo_replace_as_executable = want(base, "_zx_vmo_replace_as_executable");
    x_vmar_map = want(base, "_zx_vmar_map");
    x_vmar_unmap = want(base, "_zx_vmar_unmap");
    x_vmar_allocate = want(base, "_zx_vmar_allocate");
    x_vmar_protect = want(base, "_zx_vmar_protect");
    x_vmar_destroy = want(base, "_zx_vmar_destroy");
    x_get_info = want(base, "_zx_object_get_info");
    x_get_property = want(base, "_zx_object_get_property");
    x_set_property = want(base, "_zx_object_set_property");
}

enum { OK = 0, NOT_SUPPORTED = -2, INVALID_ARGS = -10, BAD_HANDLE = -11, WRONG_TYPE = -12, BAD_STATE = -20,
       BUFFER_TOO_SMALL = -15, NOT_FOUND = -25, ALREADY_EXISTS = -26, ACCESS_DENIED = -30 };
enum { READ = 1, WRITE = 2, EXECUTE = 4, SPECIFIC = 16, CAN_MAP_SPECIFIC = 64, CAN_MAP_READ = 128,
       CAN_MAP_WRITE = 256, CAN_MAP_EXECUTE = 512 };
enum { SNAPSHOT = 1, CHILD_RESIZABLE = 4, SLICE = 8, AT_LEAST_ON_WRITE = 16, NO_WRITE = 32 };
#define R_READ (1u << 2)
#define R_WRITE (1u << 3)
#define R_EXECUTE (1u << 4)
#define DEFAULT_VMAR_RIGHTS 0x208003u /* (ZX_RIGHTS_BASIC & ~WAIT) | OP_CHILDREN: <zircon/rights.h> */
#define INFO_HANDLE_BASIC 2u
#define PROP_NAME 3u

typedef struct {
    uint64_t koid;
    uint32_t rights, type;
    uint64_t related;
    uint32_t props;
    uint8_t pad[4];
} x_basic_t;

static uint32_t rights_of(zx_handle_t h, uint32_t *type) {
    x_basic_t b;
    if (x_get_info(h, INFO_HANDLE_BASIC, &b, sizeof b, NULL, NULL) != OK) return 0;
    if (type != NULL) *type = b.type;
    return b.rights;
}

/* Read one processargs message; *infos and the handles (at most 16) into the caller's arrays.  The first read
 * with no room gets BUFFER_TOO_SMALL and the sizes, as libc's processargs_message_size does. */
static uint32_t read_message(zx_handle_t ch, uint8_t *msg, uint32_t cap, zx_handle_t *hs, uint32_t *nh_out,
                             int fail) {
    uint32_t nb = 0, nh = 0;
    if (x_channel_read(ch, 0, NULL, NULL, 0, 0, &nb, &nh) != BUFFER_TOO_SMALL || nb < 36 || nb > cap || nh > 16)
        zx_process_exit(fail);
    if (x_channel_read(ch, 0, msg, hs, cap, 16, &nb, &nh) != OK) zx_process_exit(fail + 1);
    if (*(const uint32_t *)msg != 0x4150585du) zx_process_exit(fail + 2); /* ZX_PROCARGS_PROTOCOL */
    *nh_out = nh;
    return nb;
}

static zx_handle_t tagged(const uint8_t *msg, const zx_handle_t *hs, uint32_t nh, uint32_t tag) {
    uint32_t info_off = *(const uint32_t *)(msg + 8);
    for (uint32_t i = 0; i < nh; i++)
        if ((*(const uint32_t *)(msg + info_off + 4 * i) & 0xff) == tag) return hs[i];
    return 0;
}
#endif

#if defined(FL_SUBVMAR)

static _Noreturn void subvmar_main(zx_handle_t bootstrap, const uint8_t *base) {
    vm_calls(base);
    static uint8_t msg[4096];
    zx_handle_t hs[16];
    uint32_t nh = 0;
    read_message(bootstrap, msg, sizeof msg, hs, &nh, 3);
    zx_handle_t root = tagged(msg, hs, nh, 0x04u); /* PA_VMAR_ROOT */
    CHECK(6, root != 0);
    zx_handle_t sub = 0, sub2 = 0, v = 0, x = 0;
    uint64_t sub_at = 0, a = 0, b = 0, c = 0, sub2_at = 0;
    /* zx_vmar_allocate: a 64 KiB sub-VMAR that can map read-write at specific places; its handle's rights follow
     * its CAN_MAP_* (VMAR defaults plus READ, WRITE). */
    CHECK(10, x_vmar_allocate(root, CAN_MAP_READ | CAN_MAP_WRITE | CAN_MAP_SPECIFIC, 0, 65536, &sub, &sub_at) == OK);
    CHECK(11, sub != 0 && sub_at % 4096 == 0 && sub_at >= 0x1000000);
    uint32_t type = 0;
    CHECK(12, rights_of(sub, &type) == (DEFAULT_VMAR_RIGHTS | R_READ | R_WRITE) && type == 18u);
    /* Its errors, in sys_vmar_allocate's order: a right the parent handle lacks, a PERM_* option, an offset
     * without SPECIFIC, a zero size, more than fits. */
    CHECK(13, x_vmar_allocate(sub, CAN_MAP_EXECUTE, 0, 4096, &x, &a) == ACCESS_DENIED);
    CHECK(14, x_vmar_allocate(sub, READ, 0, 4096, &x, &a) == INVALID_ARGS);
    CHECK(15, x_vmar_allocate(sub, CAN_MAP_READ, 4096, 4096, &x, &a) == INVALID_ARGS);
    CHECK(16, x_vmar_allocate(sub, CAN_MAP_READ, 0, 0, &x, &a) == INVALID_ARGS);
    CHECK(17, x_vmar_allocate(sub, CAN_MAP_READ | SPECIFIC, 61440, 8192, &x, &a) == INVALID_ARGS);
    CHECK(18, x_vmar_allocate(sub ^ 0x100000, CAN_MAP_READ, 0, 4096, &x, &a) == BAD_HANDLE);
    /* Mappings in it: SPECIFIC at an offset from the sub-VMAR's base, and anywhere (inside it, elsewhere). */
    CHECK(20, x_vmo_create(16384, 0, &v) == OK && x_vmo_write(v, "sub-vmar", 0, 9) == OK);
    CHECK(21, x_vmar_map(sub, READ | WRITE | SPECIFIC, 8192, v, 0, 8192, &a) == OK && a == sub_at + 8192);
    CHECK(22, streq((const char *)(uintptr_t)a, "sub-vmar"));
    ((volatile char *)(uintptr_t)a)[4096] = 'Q';
    char ch = 0;
    CHECK(23, x_vmo_read(v, &ch, 4096, 1) == OK && ch == 'Q');
    CHECK(24, x_vmar_map(sub, READ, 0, v, 0, 4096, &b) == OK && b >= sub_at && b + 4096 <= sub_at + 65536 &&
                  (b + 4096 <= a || b >= a + 8192));
    CHECK(25, x_vmar_map(sub, READ | SPECIFIC, 12288, v, 0, 4096, &c) == ALREADY_EXISTS);
    CHECK(26, x_vmar_map(sub, READ | SPECIFIC, 61440, v, 0, 8192, &c) == INVALID_ARGS);
    CHECK(27, x_vmar_map(sub, READ | EXECUTE, 0, v, 0, 4096, &c) == ACCESS_DENIED);
    /* A sub-VMAR of the sub-VMAR, read-only: its handle has no WRITE, so a writable map is ACCESS_DENIED. */
    CHECK(30, x_vmar_allocate(sub, CAN_MAP_READ | CAN_MAP_SPECIFIC | SPECIFIC, 32768, 16384, &sub2, &sub2_at) == OK);
    CHECK(31, sub2_at == sub_at + 32768 && rights_of(sub2, NULL) == (DEFAULT_VMAR_RIGHTS | R_READ));
    CHECK(32, x_vmar_map(sub2, READ | WRITE, 0, v, 0, 4096, &c) == ACCESS_DENIED);
    CHECK(33, x_vmar_map(sub2, READ | SPECIFIC, 4096, v, 0, 4096, &c) == OK && c == sub2_at + 4096);
    CHECK(34, streq((const char *)(uintptr_t)c, "sub-vmar"));
    CHECK(35, x_vmar_map(sub, READ | SPECIFIC, 32768 + 8192, v, 0, 4096, &c) == ALREADY_EXISTS);
    /* zx_vmar_protect: a permission the handle lacks, a hole, write without read; then read-only and back. */
    CHECK(40, x_vmar_protect(sub, READ | EXECUTE, a, 4096) == ACCESS_DENIED);
    CHECK(41, x_vmar_protect(sub, READ, sub_at + 20480, 4096) == NOT_FOUND);
    CHECK(42, x_vmar_protect(sub, WRITE, a, 4096) == INVALID_ARGS);
    CHECK(43, x_vmar_protect(sub, READ, a + 1, 4096) == INVALID_ARGS);
    CHECK(44, x_vmar_protect(sub, READ, a, 8192) == OK);
    CHECK(45, x_vmar_protect(sub, READ | WRITE, a, 4096) == OK);
    ((volatile char *)(uintptr_t)a)[100] = 'P'; /* writable again: no fault */
    CHECK(46, x_vmar_protect(sub, READ | WRITE, b, 4096) == OK); /* b was mapped read-only but its VMO allows it */
    /* zx_vmar_unmap in a sub-VMAR gives the place back; a sub-VMAR partly in the range is INVALID_ARGS. */
    CHECK(50, x_vmar_unmap(sub, a, 4096) == OK);
    CHECK(51, x_vmar_map(sub, READ | SPECIFIC, 8192, v, 0, 4096, &c) == OK && c == a);
    CHECK(52, x_vmar_unmap(sub, sub2_at + 4096, 32768) == INVALID_ARGS);
    /* zx_vmar_destroy: the sub-VMAR is dead (BAD_STATE) and its range free in its parent again. */
    CHECK(60, x_vmar_destroy(sub2) == OK);
    CHECK(61, x_vmar_map(sub2, READ, 0, v, 0, 4096, &c) == BAD_STATE);
    CHECK(62, x_vmar_map(sub, READ | SPECIFIC, 32768, v, 0, 16384, &c) == OK && c == sub2_at);
    CHECK(63, x_vmar_destroy(sub) == OK);
    CHECK(64, x_vmar_allocate(sub, CAN_MAP_READ, 0, 4096, &x, &b) == BAD_STATE);
    CHECK(65, x_vmar_map(root, READ | SPECIFIC, sub_at - 0x1000000, v, 0, 65536 > 16384 ? 16384 : 0, &c) == OK &&
                  c == sub_at);
    CHECK(66, x_vmar_unmap(root, c, 16384) == OK);
    /* zx_vmo_create_child: a snapshot, written on both sides independently; zeros past the parent's end. */
    zx_handle_t child = 0, tail = 0, vx = 0;
    CHECK(70, x_vmo_create_child(v, 0, 0, 4096, &child) == INVALID_ARGS);
    CHECK(71, x_vmo_create_child(v, SNAPSHOT | SLICE, 0, 4096, &child) == INVALID_ARGS);
    CHECK(72, x_vmo_create_child(v, SLICE, 0, 4096, &child) == NOT_SUPPORTED);
    CHECK(73, x_set_property(v, PROP_NAME, "data:prog", 9) == OK);
    CHECK(74, x_vmo_create_child(v, AT_LEAST_ON_WRITE | CHILD_RESIZABLE, 0, 5000, &child) == OK);
    uint64_t size = 0;
    char buf[32];
    CHECK(75, x_vmo_get_size(child, &size) == OK && size == 8192);
    CHECK(76, x_vmo_read(child, buf, 0, 9) == OK && streq(buf, "sub-vmar"));
    CHECK(77, x_vmo_write(child, "child!!!", 0, 9) == OK && x_vmo_read(v, buf, 0, 9) == OK && streq(buf, "sub-vmar"));
    CHECK(78, x_vmo_write(v, "parent!!", 0, 9) == OK && x_vmo_read(child, buf, 0, 9) == OK && streq(buf, "child!!!"));
    CHECK(79, (rights_of(child, NULL) & (R_WRITE | R_EXECUTE)) == R_WRITE);
    CHECK(80, x_get_property(child, PROP_NAME, buf, sizeof buf) == OK && streq(buf, "data:prog"));
    CHECK(81, x_get_property(child, PROP_NAME, buf, 8) == BUFFER_TOO_SMALL);
    CHECK(82, x_vmo_create_child(v, SNAPSHOT | NO_WRITE, 12288, 8192, &tail) == OK);
    CHECK(83, x_vmo_read(tail, buf, 4096, 4) == OK && buf[0] == 0 && buf[3] == 0);
    CHECK(84, (rights_of(tail, NULL) & R_WRITE) == 0 && x_vmo_write(tail, "x", 0, 1) == ACCESS_DENIED);
    /* zx_vmo_replace_as_executable: the old handle goes, the new one may be mapped executable. */
    CHECK(90, x_vmo_replace_as_executable(v, 0, &vx) == OK && (rights_of(vx, NULL) & R_EXECUTE));
    CHECK(91, x_vmo_read(v, buf, 0, 1) == BAD_HANDLE);
    CHECK(92, x_vmar_map(root, READ | EXECUTE, 0, vx, 0, 4096, &c) == OK);
    CHECK(93, x_vmo_replace_as_executable(vx ^ 0x100000, 0, &x) == BAD_HANDLE);
    say("sub-VMARs and VMO children as Zircon has them\n");
    zx_process_exit(0);
}
#endif

#if defined(FL_LDSO)
/* A stand-in dynamic linker: what ld.so.1 takes from its bootstrap (dynlink.c __dls3) and does with it, checked. */
static const char g_rodata[4096] __attribute__((aligned(4096))) = "read-only data of the loaded image";

static _Noreturn void ldso_main(zx_handle_t bootstrap, const uint8_t *base) {
    vm_calls(base);
    static uint8_t msg[4096];
    zx_handle_t hs[16];
    uint32_t nh = 0;
    /* Message 1, the dynamic linker's: its handles, and argv as the program's. */
    uint32_t nb = read_message(bootstrap, msg, sizeof msg, hs, &nh, 3);
    zx_handle_t proc = tagged(msg, hs, nh, 0x01u), thread = tagged(msg, hs, nh, 0x02u);
    zx_handle_t root = tagged(msg, hs, nh, 0x04u), loaded = tagged(msg, hs, nh, 0x05u);
    zx_handle_t exe = tagged(msg, hs, nh, 0x14u), ldsvc = tagged(msg, hs, nh, 0x10u);
    uint32_t args_off = *(const uint32_t *)(msg + 12), args_num = *(const uint32_t *)(msg + 16);
    CHECK(11, args_num == 3 && args_off < nb && streq((const char *)msg + args_off, "ldprog"));
    /* A PA_LDSVC_LOADER channel always comes here, not to the program: the spawner's (argv[1] "loader") or else a
     * connection to the program's own loader service. */
    CHECK(10, proc != 0 && thread != 0 && root != 0 && loaded != 0 && exe != 0 && nh == 6u);
    uint32_t type = 0;
    CHECK(13, ldsvc != 0 && rights_of(ldsvc, &type) != 0 && type == 4u);
    CHECK(12, rights_of(proc, &type) != 0 && type == 1u && rights_of(thread, &type) != 0 && type == 2u);
    /* The executable's VMO: readable and executable, not writable, named after the file; an ELF with PT_INTERP
     * "ld.so.1". */
    uint32_t r = rights_of(exe, &type);
    CHECK(20, type == 3u && (r & R_READ) && (r & R_EXECUTE) && !(r & R_WRITE));
    char name[32];
    CHECK(21, x_get_property(exe, PROP_NAME, name, sizeof name) == OK && name[0] != 0);
    for (size_t i = 0; name[i]; i++) CHECK(21, name[i] != '/'); /* the file's name, without its directory */
    uint64_t size = 0;
    CHECK(22, x_vmo_get_size(exe, &size) == OK && size >= 4096 && size % 4096 == 0);
    uint8_t eh[64];
    CHECK(23, x_vmo_read(exe, eh, 0, sizeof eh) == OK && eh[0] == 0x7f && eh[1] == 'E' && eh[4] == 2);
    uint64_t phoff = *(const uint64_t *)(eh + 0x20);
    uint16_t phnum = *(const uint16_t *)(eh + 0x38);
    phdr_t ph[16];
    CHECK(24, phnum <= 16 && x_vmo_read(exe, ph, phoff, phnum * sizeof(phdr_t)) == OK);
    int interp = 0;
    for (uint16_t i = 0; i < phnum; i++)
        if (ph[i].type == 3) { /* PT_INTERP */
            char s[16] = {0};
            interp = ph[i].filesz == 8 && x_vmo_read(exe, s, ph[i].offset, 8) == OK && streq(s, "ld.so.1");
        }
    CHECK(25, interp);
    /* Load it as ld.so does: reserve with zx_vmar_allocate, map its first page SPECIFIC from the VMO; a writable
     * copy on write of it (zx_vmo_create_child) leaves the VMO as it was. */
    zx_handle_t img = 0, data = 0;
    uint64_t img_at = 0, at = 0;
    CHECK(30, x_vmar_allocate(root, CAN_MAP_READ | CAN_MAP_WRITE | CAN_MAP_EXECUTE | CAN_MAP_SPECIFIC, 0, 16384,
                              &img, &img_at) == OK);
    CHECK(31, x_vmar_map(img, READ | SPECIFIC, 0, exe, 0, 4096, &at) == OK && at == img_at);
    CHECK(32, ((const uint8_t *)(uintptr_t)at)[1] == 'E');
    CHECK(33, x_vmar_map(img, READ | WRITE | SPECIFIC, 4096, exe, 0, 4096, &at) == ACCESS_DENIED);
    CHECK(34, x_vmo_create_child(exe, AT_LEAST_ON_WRITE | CHILD_RESIZABLE, 0, 4096, &data) == OK);
    CHECK(35, x_set_property(data, PROP_NAME, "data0:first_light_interp", 24) == OK);
    CHECK(36, x_vmar_map(img, READ | WRITE | SPECIFIC, 4096, data, 0, 4096, &at) == OK && at == img_at + 4096);
    ((volatile uint8_t *)(uintptr_t)at)[1] = 'X';
    CHECK(37, x_vmo_read(exe, eh, 0, 4) == OK && eh[1] == 'E');
    /* PA_VMAR_LOADED: the VMAR this image lies in, which it can protect (its RELRO) but not make writable where
     * its segment is read-only. */
    uint64_t page = (uint64_t)(uintptr_t)g_rodata;
    /* A VMAR that can map read, write and execute: the root VMAR's rights (ZX_DEFAULT_VMAR_RIGHTS and READ, WRITE,
     * EXECUTE as the headers the kernel was built with define them: the 2021 SDK's default differs from today's). */
    CHECK(40, rights_of(loaded, &type) == rights_of(root, NULL) && type == 18u &&
                  (rights_of(loaded, NULL) & (R_READ | R_WRITE | R_EXECUTE)) == (R_READ | R_WRITE | R_EXECUTE));
    CHECK(41, x_vmar_protect(loaded, READ, page, 4096) == OK);
    CHECK(42, x_vmar_protect(loaded, READ | WRITE, page, 4096) == ACCESS_DENIED);
    CHECK(43, x_vmar_protect(loaded, READ, 0x1000000, 4096) == INVALID_ARGS);
    CHECK(44, g_rodata[0] == 'r');
    /* Message 2, the program's (libc's): the job and its own handles again. */
    nb = read_message(bootstrap, msg, sizeof msg, hs, &nh, 50);
    CHECK(53, tagged(msg, hs, nh, 0x03u) != 0 && tagged(msg, hs, nh, 0x01u) != 0 && tagged(msg, hs, nh, 0x14u) == 0 &&
                  tagged(msg, hs, nh, 0x10u) == 0);
    say("a dynamic linker's start\n");
    zx_process_exit(0);
}
#endif

void _start(zx_handle_t bootstrap, void *vdso) {
    const uint8_t *base = vdso;
    (void)bootstrap;
    zx_process_exit = (exit_fn *)vdso_sym(base, "_zx_process_exit");
    zx_debug_write = (zx_status_t (*)(const char *, size_t))vdso_sym(base, "_zx_debug_write");
    if (zx_process_exit == NULL || zx_debug_write == NULL) die();
#if defined(FL_EXIT)
    void (*cprng_draw)(void *, size_t) = (void (*)(void *, size_t))vdso_sym(base, "_zx_cprng_draw");
    zx_time_t (*deadline_after)(zx_duration_t) = (zx_time_t (*)(zx_duration_t))vdso_sym(base, "_zx_deadline_after");
    zx_status_t (*nanosleep)(zx_time_t) = (zx_status_t (*)(zx_time_t))vdso_sym(base, "_zx_nanosleep");
    if (cprng_draw == NULL || deadline_after == NULL || nanosleep == NULL) zx_process_exit(2);
    say("hello from a Fuchsia program\n");
    volatile uint8_t buf[64];
    for (size_t i = 0; i < sizeof buf; i++) buf[i] = 0;
    cprng_draw((void *)buf, sizeof buf);
    int nonzero = 0;
    for (size_t i = 0; i < sizeof buf; i++) nonzero += buf[i] != 0;
    if (nonzero < 32) zx_process_exit(3);
    zx_time_t t0 = deadline_after(0);
    if (t0 <= 0 || nanosleep(deadline_after(20 * 1000 * 1000)) != 0) zx_process_exit(4);
    if (deadline_after(0) - t0 < 20 * 1000 * 1000) zx_process_exit(5);
    say("slept, exiting with 42\n");
    zx_process_exit(42);
#elif defined(FL_TICK)
    zx_time_t (*deadline_after)(zx_duration_t) = (zx_time_t (*)(zx_duration_t))vdso_sym(base, "_zx_deadline_after");
    zx_status_t (*nanosleep)(zx_time_t) = (zx_status_t (*)(zx_time_t))vdso_sym(base, "_zx_nanosleep");
    if (deadline_after == NULL || nanosleep == NULL) zx_process_exit(2);
    char line[32] = "tick ";
    for (uint64_t n = 0;; n++) {
        char digits[21];
        int d = 0;
        uint64_t v = n;
        do digits[d++] = (char)('0' + v % 10), v /= 10;
        while (v != 0);
        size_t at = 5;
        while (d > 0) line[at++] = digits[--d];
        line[at++] = '\n';
        zx_debug_write(line, at);
        nanosleep(deadline_after(10 * 1000 * 1000));
    }
#elif defined(FL_INT3)
    /* The breakpoint waits for the host's go: USER_SIGNAL_0 on the PA_USER0 event of the processargs message. */
    zx_status_t (*read)(zx_handle_t, uint32_t, void *, zx_handle_t *, uint32_t, uint32_t, uint32_t *, uint32_t *) =
        vdso_sym(base, "_zx_channel_read");
    zx_status_t (*wait)(zx_handle_t, uint32_t, zx_time_t, uint32_t *) = vdso_sym(base, "_zx_object_wait_one");
    static uint8_t msg[4096];
    zx_handle_t hs[16];
    uint32_t nb = 0, nh = 0, go = 0;
    if (read == NULL || wait == NULL || read(bootstrap, 0, msg, hs, sizeof msg, 16, &nb, &nh) != 0) zx_process_exit(2);
    const uint32_t *infos = (const uint32_t *)(msg + *(const uint32_t *)(msg + 8));
    for (uint32_t i = 0; i < nh; i++)
        if ((infos[i] & 0xff) == 0xF0) go = hs[i];
    if (go == 0 || wait(go, 1u << 24, INT64_MAX, NULL) != 0) zx_process_exit(3);
    say("breakpoint\n");
    __asm__ volatile("int3");
    say("resumed after the breakpoint\n");
    zx_process_exit(7);
#elif defined(FL_UNSERVED)
    zx_status_t (*get_event)(zx_handle_t, uint32_t, zx_handle_t *) =
        (zx_status_t (*)(zx_handle_t, uint32_t, zx_handle_t *))vdso_sym(base, "_zx_system_get_event");
    if (get_event == NULL) zx_process_exit(2);
    zx_process_exit(get_event(0, 0, NULL));
#elif defined(FL_BADSYSCALL)
    /* The number is taken from the vDSO's own process_exit stub (mov $N,%eax; syscall): the right number, from the
     * wrong place. */
    const uint8_t *stub = (const uint8_t *)zx_process_exit;
    uint32_t nr = 0;
    for (int i = 0; i < 64; i++) {
        if (stub[i] == 0xb8 && stub[i + 5] == 0x0f && stub[i + 6] == 0x05) {
            nr = (uint32_t)stub[i + 1] | (uint32_t)stub[i + 2] << 8 | (uint32_t)stub[i + 3] << 16 |
                 (uint32_t)stub[i + 4] << 24;
            break;
        }
    }
    /* Long enough for the driver to read the Linux pid it checks is gone afterwards. */
    zx_time_t (*deadline_after)(zx_duration_t) = (zx_time_t (*)(zx_duration_t))vdso_sym(base, "_zx_deadline_after");
    zx_status_t (*nanosleep)(zx_time_t) = (zx_status_t (*)(zx_time_t))vdso_sym(base, "_zx_nanosleep");
    if (deadline_after == NULL || nanosleep == NULL) zx_process_exit(2);
    nanosleep(deadline_after(50 * 1000 * 1000));
    say("issuing a syscall from outside the vDSO\n");
    register uint64_t rdi __asm__("rdi") = 7;
    uint64_t rax = nr;
    __asm__ volatile("syscall" : "+a"(rax) : "r"(rdi) : "rcx", "r11", "memory");
    say("still alive after a bad syscall\n");
    zx_process_exit(8);
#elif defined(FL_VMO)
    zx_status_t (*vmo_create)(uint64_t, uint32_t, zx_handle_t *) =
        (zx_status_t (*)(uint64_t, uint32_t, zx_handle_t *))vdso_sym(base, "_zx_vmo_create");
    zx_status_t (*vmo_read)(zx_handle_t, void *, uint64_t, size_t) =
        (zx_status_t (*)(zx_handle_t, void *, uint64_t, size_t))vdso_sym(base, "_zx_vmo_read");
    zx_status_t (*vmo_write)(zx_handle_t, const void *, uint64_t, size_t) =
        (zx_status_t (*)(zx_handle_t, const void *, uint64_t, size_t))vdso_sym(base, "_zx_vmo_write");
    zx_status_t (*vmo_get_size)(zx_handle_t, uint64_t *) =
        (zx_status_t (*)(zx_handle_t, uint64_t *))vdso_sym(base, "_zx_vmo_get_size");
    zx_status_t (*vmo_set_size)(zx_handle_t, uint64_t) =
        (zx_status_t (*)(zx_handle_t, uint64_t))vdso_sym(base, "_zx_vmo_set_size");
    if (!vmo_create || !vmo_read || !vmo_write || !vmo_get_size || !vmo_set_size) zx_process_exit(2);
    enum { OK = 0, BAD_HANDLE = -11, INVALID_ARGS = -10, OUT_OF_RANGE = -14, UNAVAILABLE = -28,
           RESIZABLE = 2 };
    zx_handle_t h = 0, r = 0;
    uint64_t size = 0;
    char out[16];
    static const char msg[] = "hello, VMO";
    /* A size is rounded up to a page; only ZX_VMO_RESIZABLE is an option. */
    if (vmo_create(10000, 0, &h) != OK || h == 0) zx_process_exit(10);
    if (vmo_get_size(h, &size) != OK || size != 12288) zx_process_exit(11);
    if (vmo_create(4096, 1, &r) != INVALID_ARGS) zx_process_exit(12);
    if (vmo_create(UINT64_MAX - 100, 0, &r) != OUT_OF_RANGE) zx_process_exit(13);
    /* Bytes across a page boundary come back; fresh pages read as zeros. */
    if (vmo_write(h, msg, 4090, sizeof msg) != OK) zx_process_exit(20);
    for (size_t i = 0; i < sizeof out; i++) out[i] = 'x';
    if (vmo_read(h, out, 4090, sizeof msg) != OK || !streq(out, msg)) zx_process_exit(21);
    if (vmo_read(h, out, 8192, 4) != OK || out[0] || out[1] || out[2] || out[3]) zx_process_exit(22);
    /* The range: past the end, or overflowing, is OUT_OF_RANGE; a bad buffer INVALID_ARGS; the handle first. */
    if (vmo_write(h, msg, 12288 - 2, 4) != OUT_OF_RANGE) zx_process_exit(30);
    if (vmo_read(h, out, UINT64_MAX, 2) != OUT_OF_RANGE) zx_process_exit(31);
    if (vmo_read(h, (void *)16, 0, 4) != INVALID_ARGS) zx_process_exit(32);
    if (vmo_get_size(h, (uint64_t *)16) != INVALID_ARGS) zx_process_exit(33);
    if (vmo_read(h ^ 0x100000, out, UINT64_MAX, 2) != BAD_HANDLE) zx_process_exit(34);
    /* Not resizable: UNAVAILABLE.  A resizable one grows (zero-filled) and shrinks (its tail is dropped). */
    if (vmo_set_size(h, 5000) != UNAVAILABLE) zx_process_exit(40);
    if (vmo_create(4096, RESIZABLE, &r) != OK) zx_process_exit(41);
    if (vmo_set_size(r, 5000) != OK || vmo_get_size(r, &size) != OK || size != 8192) zx_process_exit(42);
    if (vmo_write(r, msg, 8000, sizeof msg) != OK) zx_process_exit(43);
    if (vmo_set_size(r, 4096) != OK || vmo_read(r, out, 8000, 1) != OUT_OF_RANGE) zx_process_exit(44);
    if (vmo_set_size(r, 8192) != OK || vmo_read(r, out, 8000, 4) != OK || out[0] || out[3]) zx_process_exit(45);
    if (vmo_set_size(r, UINT64_MAX) != OUT_OF_RANGE) zx_process_exit(46);
    say("VMOs as Zircon has them\n");
    zx_process_exit(0);
#elif defined(FL_VMAR)
    zx_status_t (*vmo_create)(uint64_t, uint32_t, zx_handle_t *) =
        (zx_status_t (*)(uint64_t, uint32_t, zx_handle_t *))vdso_sym(base, "_zx_vmo_create");
    zx_status_t (*vmo_read)(zx_handle_t, void *, uint64_t, size_t) =
        (zx_status_t (*)(zx_handle_t, void *, uint64_t, size_t))vdso_sym(base, "_zx_vmo_read");
    zx_status_t (*vmo_write)(zx_handle_t, const void *, uint64_t, size_t) =
        (zx_status_t (*)(zx_handle_t, const void *, uint64_t, size_t))vdso_sym(base, "_zx_vmo_write");
    zx_status_t (*vmar_map)(zx_handle_t, uint32_t, uint64_t, zx_handle_t, uint64_t, uint64_t, uint64_t *) =
        (zx_status_t (*)(zx_handle_t, uint32_t, uint64_t, zx_handle_t, uint64_t, uint64_t, uint64_t *))vdso_sym(
            base, "_zx_vmar_map");
    zx_status_t (*vmar_unmap)(zx_handle_t, uint64_t, uint64_t) =
        (zx_status_t (*)(zx_handle_t, uint64_t, uint64_t))vdso_sym(base, "_zx_vmar_unmap");
    if (!vmo_create || !vmo_read || !vmo_write || !vmar_map || !vmar_unmap) zx_process_exit(2);
    /* Alive long enough for the driver to read its pid and take its host handle to the root VMAR (a dead
     * process has none: BAD_STATE), even on a loaded machine. */
    zx_time_t (*deadline_after)(zx_duration_t) = (zx_time_t (*)(zx_duration_t))vdso_sym(base, "_zx_deadline_after");
    zx_status_t (*nanosleep)(zx_time_t) = (zx_status_t (*)(zx_time_t))vdso_sym(base, "_zx_nanosleep");
    if (deadline_after == NULL || nanosleep == NULL) zx_process_exit(2);
    nanosleep(deadline_after(300 * 1000 * 1000));
    enum { OK = 0, BAD_HANDLE = -11, INVALID_ARGS = -10, ALREADY_EXISTS = -26, ACCESS_DENIED = -30,
           WRONG_TYPE = -12 };
    enum { READ = 1, WRITE = 2, EXECUTE = 4, SPECIFIC = 16, CAN_MAP_READ = 128 };
    /* The processargs message: its handle infos name the root VMAR (PA_VMAR_ROOT, <zircon/processargs.h>). */
    zx_status_t (*channel_read)(zx_handle_t, uint32_t, void *, zx_handle_t *, uint32_t, uint32_t, uint32_t *,
                                uint32_t *) =
        (zx_status_t (*)(zx_handle_t, uint32_t, void *, zx_handle_t *, uint32_t, uint32_t, uint32_t *,
                         uint32_t *))vdso_sym(base, "_zx_channel_read");
    if (!channel_read) zx_process_exit(2);
    static uint8_t msg[4096];
    zx_handle_t hs[16];
    uint32_t nb = 0, nh = 0;
    if (channel_read(bootstrap, 0, msg, hs, sizeof msg, 16, &nb, &nh) != OK || nb < 36) zx_process_exit(3);
    uint32_t info_off = *(const uint32_t *)(msg + 8); /* zx_proc_args_t.handle_info_off */
    zx_handle_t root_vmar = 0;
    for (uint32_t i = 0; i < nh; i++)
        if ((*(const uint32_t *)(msg + info_off + 4 * i) & 0xff) == 0x04u) root_vmar = hs[i];
    if (root_vmar == 0) zx_process_exit(4);
    zx_handle_t vmar = root_vmar, v = 0;
    uint64_t addr = 0, a2 = 0;
    if (vmo_create(8192, 0, &v) != OK || vmo_write(v, "mapped!", 100, 8) != OK) zx_process_exit(10);
    /* Mapped and shared: the bytes written through the VMO are there, and a store through the mapping is in it. */
    if (vmar_map(vmar, READ | WRITE, 0, v, 0, 8192, &addr) != OK || addr == 0 || addr % 4096) zx_process_exit(20);
    volatile char *p = (volatile char *)(uintptr_t)addr;
    if (!streq((const char *)(uintptr_t)(addr + 100), "mapped!")) zx_process_exit(21);
    p[5000] = 'Z';
    char c = 0;
    if (vmo_read(v, &c, 5000, 1) != OK || c != 'Z') zx_process_exit(22);
    /* The errors, in sys_vmar_map's order. */
    if (vmar_map(v, READ, 0, v, 0, 4096, &a2) != WRONG_TYPE) zx_process_exit(30);
    if (vmar_map(vmar, READ, 0, vmar, 0, 4096, &a2) != WRONG_TYPE) zx_process_exit(31);
    if (vmar_map(vmar ^ 0x100000, READ, 0, v, 0, 0, &a2) != BAD_HANDLE) zx_process_exit(32);
    if (vmar_map(vmar, WRITE, 0, v, 0, 4096, &a2) != INVALID_ARGS) zx_process_exit(33);
    if (vmar_map(vmar, READ | CAN_MAP_READ, 0, v, 0, 4096, &a2) != INVALID_ARGS) zx_process_exit(34);
    if (vmar_map(vmar, READ | EXECUTE, 0, v, 0, 0, &a2) != ACCESS_DENIED) zx_process_exit(35);
    if (vmar_map(vmar, READ, 4096, v, 0, 4096, &a2) != INVALID_ARGS) zx_process_exit(36);
    if (vmar_map(vmar, READ, 0, v, 0, 0, &a2) != INVALID_ARGS) zx_process_exit(37);
    if (vmar_map(vmar, READ, 0, v, 100, 4096, &a2) != INVALID_ARGS) zx_process_exit(38);
    if (vmar_map(vmar, READ, 0, v, 0, 4096, (uint64_t *)16) != INVALID_ARGS) zx_process_exit(39);
    /* ZX_VM_SPECIFIC over a mapping: ALREADY_EXISTS; once unmapped, the place is free again. */
    uint64_t offset = addr - 0x1000000; /* the x86-64 root VMAR's base */
    if (vmar_map(vmar, READ | SPECIFIC, offset, v, 0, 4096, &a2) != ALREADY_EXISTS) zx_process_exit(40);
    if (vmar_unmap(vmar, addr + 1, 4096) != INVALID_ARGS) zx_process_exit(41);
    if (vmar_unmap(vmar, addr, 8192) != OK) zx_process_exit(42);
    if (vmar_map(vmar, READ | SPECIFIC, offset, v, 4096, 4096, &a2) != OK || a2 != addr) zx_process_exit(43);
    if (p[5000 - 4096] != 'Z') zx_process_exit(44);
    say("mapped VMOs as Zircon does\n");
    zx_process_exit(0);
#elif defined(FL_HANDLES)
    handles_main(bootstrap, base);
#elif defined(FL_FUTEX)
    futex_main(bootstrap, base);
#elif defined(FL_THREADS)
    threads_main(bootstrap, base);
#elif defined(FL_STDIO)
    stdio_main(bootstrap, base);
#elif defined(FL_COST)
    cost_main(base);
#elif defined(FL_SUBVMAR)
    subvmar_main(bootstrap, base);
#elif defined(FL_LDSO)
    ldso_main(bootstrap, base);
#elif defined(FL_PORTS)
    ports_main(bootstrap, base);
#else
#error "define FL_EXIT, FL_TICK, FL_INT3, FL_UNSERVED, FL_BADSYSCALL, FL_VMO, FL_VMAR, FL_HANDLES, FL_FUTEX, FL_THREADS, FL_STDIO, FL_COST, FL_SUBVMAR, FL_LDSO or FL_PORTS"
#endif
}
