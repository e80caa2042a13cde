/* fork(2) in the program that owns the host kernel (Python's os.fork, multiprocessing's fork start method).
 *
 * Design: the child gets a fresh, empty host kernel.  On Zircon a handle belongs to one process and a new process
 * starts with only the handles it is given; a forked Linux child is a new process, so none of its parent's
 * handles exist in it: every value the parent held gives ZX_ERR_BAD_HANDLE, and zx_job_default(),
 * zx_process_self() and zx_thread_self() name new objects (a new root job holding only the child's own process).
 * The parent's objects are left behind in the child unreachable (never freed: waiters and threads they refer to
 * exist only in the parent).  The parent's handle values are quarantined rather than freed, so no handle the child
 * creates can ever take a value its parent's wrappers still hold.  Koids keep counting from the parent's, so no
 * koid the parent saw names a different object in the child.
 *
 * The parent's spawned programs stay the parent's: they are traced by the parent's monitor thread, which does
 * not exist in the child, and nothing in the child can reach them (linux_monitor.c's fork handler forgets them;
 * the child starts a monitor of its own at its first spawn).  The kernel lock is held across the fork (object.c's
 * handlers), so the state copied into the child is consistent; this handler runs in the child before any other
 * thread exists and touches that state without the lock (it may still be held by the forking thread at this point,
 * depending on the order the handlers were registered in).  It makes no allocation: the new objects are created at
 * first use.
 */
#include <pthread.h>

#include "kernel.h"

static void fork_child(void) {
    hk_handle_table_after_fork();
    hk_job_after_fork();
    hk_process_after_fork();
    hk_self_thread_after_fork();
}

__attribute__((constructor)) static void fork_init(void) { pthread_atfork(NULL, NULL, fork_child); }
