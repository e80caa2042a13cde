/* The object-model syscalls of a Fuchsia program, served from the host kernel (host/fuchsia/serve_object.c; see
 * docs/fuchsia-elf.md, "Served syscalls").
 *
 * A Fuchsia program run by runner.c owns a handle table of its own in the host kernel (hk_process_t.handle_table).
 * Each call it makes is served by the very zx_* function the host program calls, with the program's table and its
 * thread made current on the serving OS thread (hk_cpu.table, hk_cpu.thread), so rights, types and the order of
 * the checks are the host kernel's; the arguments and results are copied between the tracee and the host with
 * process_vm_readv / process_vm_writev (a bad user pointer: ZX_ERR_INVALID_ARGS, as Zircon's user_copy).
 *
 * A call that would block (zx_object_wait_one with a deadline still ahead) never blocks the monitor thread: it runs
 * on a worker thread while the task stays in its syscall-stop (LT_RESUME_HOLD); the monitor completes it (out
 * parameters, rax, resume) at its next pass (hk_fx_serve_poll).  A suspension of the task ends the wait with
 * ZX_ERR_INTERNAL_INTR_RETRY, and the call is issued again from its `syscall` instruction once the task resumes,
 * as Zircon retries a blocked call its thread was suspended in.
 *
 * The bootstrap: the program's first thread starts with a handle, in its own table, to one end of a host-kernel
 * channel; the other end carries one processargs message (<zircon/processargs.h>) with argv, environ and the handles
 * PA_PROC_SELF, PA_THREAD_SELF, PA_VMAR_ROOT, PA_JOB_DEFAULT and any the spawner adds.  When the start image is the
 * dynamic linker of an executable (hk_fx_serve_dynamic), the dynamic linker's message comes first (PA_VMAR_LOADED,
 * PA_VMO_EXECUTABLE, PA_LDSVC_LOADER if given), as Fuchsia's launcher sends it.  They are written before the
 * program's first syscall is served, so the program always finds them there.
 *
 * The VM calls (vmo_*, vmar_map/unmap: vm.h) go through the same dispatch table, so the VMO and VMAR handles a
 * program makes or receives are in its own table too.
 *
 * Private to host/fuchsia/ (x86-64 Linux only); part of no module yet.
 */
#ifndef ZXPY_HOST_FUCHSIA_SERVE_H_
#define ZXPY_HOST_FUCHSIA_SERVE_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/user.h>
#include <zircon/types.h>

#include "../kernel.h"
#include "../linux_task.h"
#include "vm.h"

#pragma GCC visibility push(hidden)

typedef struct hk_fx_serve hk_fx_serve_t;

/* Requesting thread, without the lock.  The serving state of one program to be spawned into job: its handle table,
 * the bootstrap channel and message.  job is duplicated with ZX_RIGHT_SAME_RIGHTS for PA_JOB_DEFAULT, as fdio_spawn
 * does with FDIO_SPAWN_CLONE_JOB.  handles[i] (of the calling program, tagged infos[i]) are consumed whatever the
 * result.  argv may be NULL (no arguments), environ too.  names[0..num_names): the namespace's paths (absolute), the
 * message's names table, for the handles tagged PA_HND(PA_NS_DIR, i) (an index past it: INVALID_ARGS).  now: the program's monotonic clock (deadlines it passes are
 * on it).  On failure NULL with *status and err_msg (FDIO_SPAWN_ERR_MSG_MAX_LENGTH bytes, may be NULL). */
hk_fx_serve_t *hk_fx_serve_new(zx_handle_t job, const char *const *argv, const char *const *environ,
                               const uint32_t *infos, const zx_handle_t *handles, size_t num_handles,
                               const char *const *names, size_t num_names, int64_t (*now)(void), zx_status_t *status,
                               char *err_msg);

/* Lock held.  p is the new process (INITIAL): it gets the table, and the program's end of the bootstrap channel is
 * put in it (its value in *bootstrap, for the first thread's rdi). */
zx_status_t hk_fx_serve_attach(hk_fx_serve_t *s, hk_process_t *p, zx_handle_t *bootstrap);

/* Monitor thread, without the lock.  Serve call `name` (the vDSO's name, without "zx_") of task k stopped at its
 * syscall entry with registers *r.
 *   HK_FX_UNSERVED  not a call served here (the runner counts it)
 *   HK_FX_DONE      *ret is the result for rax
 *   HK_FX_HELD      the task stays in its syscall-stop (k->resume = LT_RESUME_HOLD): the call goes on on a worker,
 *                   or the program killed itself; nothing may be written to it now */
typedef enum { HK_FX_UNSERVED, HK_FX_DONE, HK_FX_HELD } hk_fx_result_t;
hk_fx_result_t hk_fx_serve(hk_fx_serve_t *s, lt_task_t *k, const char *name, const struct user_regs_struct *r,
                           int64_t *ret);

/* A TSC value on a Fuchsia program's monotonic clock, as its vDSO computes it from DATA_CONSTANTS (runner.c). */
int64_t hk_fx_program_time_of_ticks(uint64_t ticks);

/* Monitor thread, lock held, never blocks long.  Complete a call a worker finished (lt_fuchsia_ops.poll). */
void hk_fx_serve_poll(hk_fx_serve_t *s);

/* Monitor thread, without the lock.  zx_futex_wait's new_futex_owner rule for task k
 * (zircon/kernel/object/futex_context.cc, ValidateNewFutexOwner): ZX_HANDLE_INVALID is fine; else a thread handle
 * of the program's own table (any rights: BAD_HANDLE, WRONG_TYPE as the lookup says), neither k's own thread nor a
 * thread of another process (both INVALID_ARGS). */
zx_status_t hk_fx_serve_futex_owner(hk_fx_serve_t *s, lt_task_t *k, zx_handle_t owner);

/* Monitor thread, without the lock; a[] are the call's arguments.  zx_thread_create for task k: the new thread
 * (NEW; HK_THREAD_LINUX, no Linux task yet, in the program's own process, else unbacked) and its handle, written
 * to the program. */
zx_status_t hk_fx_serve_thread_create(hk_fx_serve_t *s, lt_task_t *k, const uint64_t a[8]);
/* Monitor thread, without the lock.  zx_thread_start's checks of handle h and entry point entry; *out: the NEW
 * thread, a reference. */
zx_status_t hk_fx_serve_thread_start_check(hk_fx_serve_t *s, lt_task_t *k, zx_handle_t h, uint64_t entry,
                                           hk_thread_t **out);
/* Monitor thread, without the lock.  zx_object_set_property(ZX_PROP_REGISTER_FS) of task k: *fs_base to set. */
zx_status_t hk_fx_serve_register_fs(hk_fx_serve_t *s, lt_task_t *k, const uint64_t a[8], uint64_t *fs_base);

/* Requesting thread, before hk_fx_serve_attach.  The start image is the dynamic linker: a first processargs message
 * for it goes out before the program's (PA_PROC_SELF, PA_THREAD_SELF, PA_VMAR_ROOT, PA_VMAR_LOADED, exec_vmo as
 * PA_VMO_EXECUTABLE, and a PA_LDSVC_LOADER handle the spawner gave, which leaves the program's message for it, else a
 * connection to the program's loader service, hk_fx_serve_set_loader's, if it has one).
 * exec_vmo (of the calling program's table) is taken whatever happens. */
void hk_fx_serve_dynamic(hk_fx_serve_t *s, zx_handle_t exec_vmo);

/* Monitor thread, before the program runs.  Where the start image lies (its whole reservation) and its segments,
 * for the PA_VMAR_LOADED VMAR of hk_fx_serve_dynamic's message. */
#define HK_FX_MAX_LOADED 16
void hk_fx_serve_loaded(hk_fx_serve_t *s, uint64_t base, uint64_t size, const hk_fuchsia_vm_range_t *maps,
                        size_t num_maps);

/* The program's loader service (loader.h), owned by s from now on (freed by hk_fx_serve_free, after its table is
 * closed); NULL is fine.  hk_fx_serve_loader_connect: without the lock, a new connection to it, the client end in
 * *client (a handle of the calling thread's table: the host's, for a processargs message as PA_LDSVC_LOADER);
 * ZX_ERR_NOT_SUPPORTED without a loader. */
struct hk_fx_loader;
void hk_fx_serve_set_loader(hk_fx_serve_t *s, struct hk_fx_loader *loader);
zx_status_t hk_fx_serve_loader_connect(hk_fx_serve_t *s, zx_handle_t *client);

/* The program's VM state (vm.c): its root VMAR; released by hk_fx_serve_free. */
hk_fuchsia_vm_t *hk_fx_serve_vm(hk_fx_serve_t *s);

/* Monitor thread (or the requesting thread when the spawn never reached the monitor), without the lock: the program
 * is over (or never started).  Its table is closed if it was not already, which ends a worker's wait; the worker is
 * joined; every handle still held for the bootstrap is closed. */
void hk_fx_serve_free(hk_fx_serve_t *s);

/* Monitor thread, without the lock, once every task of the program is reaped and before it is reported dead: the
 * handles held for it in the host program's table go.  Those of a bootstrap it never read (they sit there until
 * the first served call writes the message; on Zircon they are in the bootstrap channel, whose end the dead
 * process's table closes before TASK_TERMINATED: ProcessDispatcher::FinishDeadTransition), and the server ends of
 * its loader service's connections (each thread would close its own at PEER_CLOSED, a moment after the signal).
 * hk_fx_serve_free does it for a program that never started. */
void hk_fx_serve_program_ended(hk_fx_serve_t *s);

#pragma GCC visibility pop

#endif /* ZXPY_HOST_FUCHSIA_SERVE_H_ */
