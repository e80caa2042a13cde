/* The host kernel's view of the Python interpreter: hooks that let it park threads of this interpreter only where
 * they hold no GIL (see host/self_thread.c).  Host build only: on Fuchsia the kernel stops threads itself. */
#if !defined(__Fuchsia__)
#include <Python.h>

#include "kernel.h"

/* Async-signal-safe: PyGILState_GetThisThreadState reads a thread-specific key (pthread_getspecific), and the
 * current thread state is a plain load (a global in 3.10/3.11, a thread-local from 3.12). */
static int is_python_thread(void) { return PyGILState_GetThisThreadState() != NULL; }

static PyThreadState *current_tstate(void) {
#if PY_VERSION_HEX >= 0x030D0000
    return PyThreadState_GetUnchecked();
#else
    return _PyThreadState_UncheckedGet();
#endif
}

static int holds_gil(void) {
    PyThreadState *mine = PyGILState_GetThisThreadState();
    return mine != NULL && current_tstate() == mine;
}

static int finalizing(void) {
#if PY_VERSION_HEX >= 0x030D0000
    return !Py_IsInitialized() || Py_IsFinalizing();
#else
    return !Py_IsInitialized() || _Py_IsFinalizing();
#endif
}

static int acquire_gil(void) {
    if (finalizing()) return -1;
    return (int)PyGILState_Ensure();
}

static void release_gil(int token) { PyGILState_Release((PyGILState_STATE)token); }

/* Runs on the main thread, holding the GIL, at a bytecode boundary: park there without it. */
static int main_park_call(void *arg) {
    (void)arg;
    hk_self_thread_main_park_ran();
    if (hk_self_thread_park_wanted()) {
        Py_BEGIN_ALLOW_THREADS
        hk_self_thread_park();
        Py_END_ALLOW_THREADS
    }
    return 0;
}

static int schedule_main_park(void) {
    if (finalizing()) return -1;
    return Py_AddPendingCall(main_park_call, NULL);
}

static const hk_self_runtime_hooks_t g_python_hooks = {
    .is_runtime_thread = is_python_thread,
    .holds_runtime_lock = holds_gil,
    .acquire_runtime_lock = acquire_gil,
    .release_runtime_lock = release_gil,
    .schedule_main_park = schedule_main_park,
};

/* The module is loaded by a running interpreter: register at load time. */
__attribute__((constructor)) static void register_python_hooks(void) { hk_self_thread_set_runtime_hooks(&g_python_hooks); }
#endif
