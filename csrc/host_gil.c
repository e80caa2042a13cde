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

static void *thread_state(void) { return PyGILState_GetThisThreadState(); }

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

/* A one-shot trace function: the first trace event of an armed thread (its next line, call or return) puts the
 * thread's previous trace function back, hands it the event, and parks there without the GIL.  The previous
 * function and object are kept in a capsule, the trace object. */
typedef struct {
    Py_tracefunc func;
    PyObject *obj; /* a strong reference, or NULL */
} saved_trace_t;

static const char k_capsule_name[] = "zxpy.park_trace";

static void saved_trace_free(PyObject *capsule) {
    saved_trace_t *saved = PyCapsule_GetPointer(capsule, k_capsule_name);
    if (saved == NULL) {
        PyErr_Clear();
        return;
    }
    Py_XDECREF(saved->obj);
    PyMem_RawFree(saved);
}

static int park_trace(PyObject *capsule, PyFrameObject *frame, int what, PyObject *arg) {
    saved_trace_t *saved = PyCapsule_GetPointer(capsule, k_capsule_name);
    if (saved == NULL) return -1;
    Py_tracefunc func = saved->func;
    PyObject *obj = saved->obj;
    Py_XINCREF(obj);
    Py_INCREF(capsule);
    PyEval_SetTrace(func, obj); /* releases the capsule (this thread's trace object) */
    int result = func != NULL ? func(obj, frame, what, arg) : 0;
    Py_XDECREF(obj);
    Py_DECREF(capsule);
    if (hk_self_thread_park_wanted()) {
        Py_BEGIN_ALLOW_THREADS
        hk_self_thread_park();
        Py_END_ALLOW_THREADS
    }
    return result;
}

/* Is `state` still a thread of this interpreter?  (A thread may have ended since the handler noted it.) */
static int is_live_thread(PyThreadState *state) {
    PyInterpreterState *interp = PyThreadState_GetInterpreter(PyThreadState_Get());
    for (PyThreadState *t = PyInterpreterState_ThreadHead(interp); t != NULL; t = PyThreadState_Next(t)) {
        if (t == state) return 1;
    }
    return 0;
}

static void arm_one(PyThreadState *state) {
    if (!is_live_thread(state) || state->c_tracefunc == park_trace) return;
    saved_trace_t *saved = PyMem_RawMalloc(sizeof(*saved));
    if (saved == NULL) return;
    saved->func = state->c_tracefunc;
    saved->obj = state->c_traceobj;
    Py_XINCREF(saved->obj);
    PyObject *capsule = PyCapsule_New(saved, k_capsule_name, saved_trace_free);
    if (capsule == NULL) {
        Py_XDECREF(saved->obj);
        PyMem_RawFree(saved);
        PyErr_Clear();
        return;
    }
#if PY_VERSION_HEX < 0x030D0000
    if (_PyEval_SetTrace(state, park_trace, capsule) < 0) PyErr_Clear();
#else
    (void)state; /* 3.13 keeps per-thread tracing internal: only kernel entries and blocking calls park it */
#endif
    Py_DECREF(capsule);
}

static void arm_bytecode_park(void *const *states, int n) {
    PyObject *exc_type, *exc_value, *exc_tb;
    PyErr_Fetch(&exc_type, &exc_value, &exc_tb);
    for (int i = 0; i < n; i++) arm_one(states[i]);
    PyErr_Restore(exc_type, exc_value, exc_tb);
}

static const hk_self_runtime_hooks_t g_python_hooks = {
    .is_runtime_thread = is_python_thread,
    .holds_runtime_lock = holds_gil,
    .thread_state = thread_state,
    .acquire_runtime_lock = acquire_gil,
    .release_runtime_lock = release_gil,
    .arm_bytecode_park = arm_bytecode_park,
    .schedule_main_park = schedule_main_park,
};

/* The module is loaded by a running interpreter: register at load time. */
__attribute__((constructor)) static void register_python_hooks(void) { hk_self_thread_set_runtime_hooks(&g_python_hooks); }
#endif
