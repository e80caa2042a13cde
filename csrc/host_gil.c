/* The host kernel's view of the Python interpreter: hooks that let it park threads of this interpreter only where
 * they hold no GIL (see host/self_thread.c and docs/self-suspend.md).  Host build only: on Fuchsia the kernel stops
 * threads itself.
 *
 * Written against CPython's limited API of 3.10 (Py_LIMITED_API, set by build_ffi.py for the whole module), so one
 * compiled module serves every CPython from 3.10 on (the cp310-abi3 wheel).  What the limited API cannot say is
 * done without it:
 *   - whether a thread holds the GIL, asked in a signal handler: the kernel's park helper takes the GIL itself
 *     before it signals Python threads, so while it holds it no other thread can (self_thread.c);
 *   - whether the interpreter is finalizing: zxpy_runtime_closing, registered with atexit by zxpy/_raw.py, closes
 *     the gate before finalization starts, and waits out a helper that is taking the GIL;
 *   - stopping a thread busy in Python at its next bytecode: the main thread through a pending call, every thread
 *     (3.12+) through sys.monitoring LINE and JUMP events of a tool id of zxpy's own, which leave other tools
 *     (debuggers, coverage) untouched. */
#if !defined(__Fuchsia__)
#include <Python.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "host_gil.h"
#include "kernel.h"

/* Async-signal-safe: PyGILState_GetThisThreadState reads a thread-specific key (pthread_getspecific). */
static int is_python_thread(void) { return PyGILState_GetThisThreadState() != NULL; }

/* The gate between the park helper and interpreter shutdown.  A non-main thread that takes the GIL once
 * finalization has begun is ended by CPython (PyThread_exit_thread), so the helper announces each attempt
 * (g_taking) and checks g_closing after; zxpy_runtime_closing sets g_closing and checks g_taking after.  Both are
 * sequentially consistent, so at least one of them sees the other. */
static _Atomic int g_closing;
static _Atomic int g_taking;

void zxpy_runtime_closing(void) {
    /* Called through CFFI from an atexit callback: without the GIL, so a helper inside PyGILState_Ensure can
     * finish and give it back. */
    atomic_store(&g_closing, 1);
    while (atomic_load(&g_taking)) {
        struct timespec pause = {0, 100000};
        nanosleep(&pause, NULL);
    }
}

static int acquire_gil(void) {
    atomic_store(&g_taking, 1);
    if (atomic_load(&g_closing) || !Py_IsInitialized()) {
        atomic_store(&g_taking, 0);
        return -1;
    }
    return (int)PyGILState_Ensure();
}

static void release_gil(int token) {
    PyGILState_Release((PyGILState_STATE)token);
    atomic_store(&g_taking, 0);
}

/* A fork's child has no park helper (only the forking thread is copied), whatever the parent's was doing: one
 * that was waiting for the GIL -- which the forking thread holds -- must not leave the child's exit waiting. */
static void child_after_fork(void) { atomic_store(&g_taking, 0); }

/* Park the calling thread, which holds the GIL at a bytecode boundary, without the GIL. */
static void park_without_gil(void) {
    if (hk_self_thread_park_wanted()) {
        Py_BEGIN_ALLOW_THREADS
        hk_self_thread_park();
        Py_END_ALLOW_THREADS
    }
}

/* Runs on the main thread at a bytecode boundary (Py_AddPendingCall). */
static int main_park_call(void *arg) {
    (void)arg;
    hk_self_thread_main_park_ran();
    park_without_gil();
    return 0;
}

static int schedule_main_park(void) {
    if (atomic_load(&g_closing)) return -1;
    return Py_AddPendingCall(main_park_call, NULL);
}

/* ------------------------------------------------------------------------------------------ sys.monitoring */

/* PEP 669: tool ids 0-5, of which 0 (debugger), 1 (coverage), 2 (profiler) and 5 (optimizer) are named. */
static const int k_tool_ids[] = {4, 3};
static int g_tool_id = -1;      /* GIL held: the id zxpy holds, or -1 */
static int g_monitoring_tried;  /* GIL held */
static long g_park_events;      /* GIL held: LINE | JUMP */

/* The callback of both events, on whichever thread runs Python: park it if a stop is wanted for it. */
static PyObject *park_event(PyObject *self, PyObject *args) {
    (void)self;
    (void)args;
    park_without_gil();
    Py_RETURN_NONE;
}

static PyMethodDef k_park_event_def = {"zxpy_park_event", park_event, METH_VARARGS, NULL};

static long event_bit(PyObject *events, const char *name) {
    PyObject *bit = PyObject_GetAttrString(events, name);
    long value = bit != NULL ? PyLong_AsLong(bit) : -1;
    Py_XDECREF(bit);
    return value;
}

/* GIL held.  Claim a tool id and register the callback once; 0 on success. */
static int claim_tool(PyObject *monitoring) {
    PyObject *events = PyObject_GetAttrString(monitoring, "events");
    if (events == NULL) return -1;
    long line = event_bit(events, "LINE"), jump = event_bit(events, "JUMP");
    Py_DECREF(events);
    if (line < 0 || jump < 0 || PyErr_Occurred()) return -1;
    PyObject *callback = PyCFunction_New(&k_park_event_def, NULL);
    if (callback == NULL) return -1;
    int claimed = -1;
    for (size_t i = 0; i < sizeof(k_tool_ids) / sizeof(k_tool_ids[0]) && claimed < 0; i++) {
        PyObject *r = PyObject_CallMethod(monitoring, "use_tool_id", "is", k_tool_ids[i], "zxpy");
        if (r == NULL) {
            PyErr_Clear(); /* taken by another tool: try the next */
            continue;
        }
        Py_DECREF(r);
        claimed = k_tool_ids[i];
    }
    int ok = claimed >= 0;
    for (int k = 0; ok && k < 2; k++) {
        long event = k == 0 ? line : jump;
        PyObject *r = PyObject_CallMethod(monitoring, "register_callback", "ilO", claimed, event, callback);
        ok = r != NULL;
        Py_XDECREF(r);
    }
    Py_DECREF(callback);
    if (!ok) return -1;
    g_tool_id = claimed;
    g_park_events = line | jump;
    return 0;
}

/* GIL held.  Turn the bytecode park of every thread on or off.  Before 3.12 there is no sys.monitoring: only the
 * main thread's pending call stops a thread busy in Python there. */
static void arm_bytecode_park(int on) {
    PyObject *exc_type, *exc_value, *exc_tb;
    PyErr_Fetch(&exc_type, &exc_value, &exc_tb);
    PyObject *sys = PyImport_ImportModule("sys");
    PyObject *monitoring = sys != NULL ? PyObject_GetAttrString(sys, "monitoring") : NULL;
    Py_XDECREF(sys);
    if (monitoring != NULL && g_tool_id < 0 && !g_monitoring_tried) {
        g_monitoring_tried = 1;
        (void)claim_tool(monitoring);
    }
    if (monitoring != NULL && g_tool_id >= 0) {
        PyObject *r = PyObject_CallMethod(monitoring, "set_events", "il", g_tool_id, on ? g_park_events : 0L);
        Py_XDECREF(r);
    }
    Py_XDECREF(monitoring);
    PyErr_Clear();
    PyErr_Restore(exc_type, exc_value, exc_tb);
}

static const hk_self_runtime_hooks_t g_python_hooks = {
    .is_runtime_thread = is_python_thread,
    .acquire_runtime_lock = acquire_gil,
    .release_runtime_lock = release_gil,
    .arm_bytecode_park = arm_bytecode_park,
    .schedule_main_park = schedule_main_park,
};

/* The module is loaded by a running interpreter: register at load time. */
__attribute__((constructor)) static void register_python_hooks(void) {
    hk_self_thread_set_runtime_hooks(&g_python_hooks);
    (void)pthread_atfork(NULL, NULL, child_after_fork);
}
#endif
