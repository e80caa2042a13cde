/* zxpy._fastcalls: HandleCore, the C base of zxpy.Handle, and the handle calls that run on every hot path.
 *
 * A zxpy.Handle is a HandleCore: the handle value, whether it is owned, and the cached koid live in C, and the
 * calls below make their syscall, build their wrapper or record and raise their error without running Python
 * code.  TaskCore (kill, suspend, terminated) and ProcessCore (info) are the C bases of zxpy.Task and
 * zxpy.Process.  What stays in Python (zxpy/handle.py and friends) is everything off those paths; the two halves
 * share the same fields, and every rule implemented here is the one the Python layer documents:
 *   - a handle value is consumed exactly once: close, _take (replace, detach) and the finaliser read and clear it
 *     while holding the GIL, with no Python code in between, so of several threads one gets it;
 *   - every syscall runs without the GIL, as CFFI's calls do (a zx call may block, and the host kernel's park
 *     helper takes the GIL: zxpy/_raw.py, csrc/host_gil.c);
 *   - an error is the zxpy.errors subclass for its status, made as zxpy.errors.from_status makes it (no __init__;
 *     args = (status, syscall, koid, None), plus errno and strerror for the OSError ones); a status it does not
 *     know goes to from_status itself.
 *
 * The module is built into the CFFI module _zx (csrc/ is compiled into it for every target) and created by
 * zxpy_fastcalls_install, which zxpy/_raw.py calls once; zxpy/__init__.py then hands it the Python objects it
 * returns (SuspendToken, the error table, the IntFlag caches, the record classes) through configure().  CPython's limited API of 3.10,
 * like the rest of the module. */
#include <Python.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <structmember.h>
#include <zircon/syscalls.h>
#include <zircon/syscalls/object.h>
#include <zircon/types.h>

#include "fastcalls.h"

typedef struct {
    PyObject_HEAD
    long long raw;            /* the handle value; negative once closed, replaced or detached */
    char owned;               /* closed by close(); a borrowed value is only forgotten */
    char have_koid;           /* koid below is known */
    unsigned long long koid;  /* the object's koid, once known (for errors and Handle.koid) */
} HandleCore;

/* What configure() was given (strong references, for the life of the process). */
static PyObject *g_token_type;   /* zxpy.SuspendToken */
static PyObject *g_fast_errors;  /* zxpy.errors._FAST: status -> (new, cls, errno or None, strerror or None) */
static PyObject *g_from_status;  /* zxpy.errors.from_status, for statuses _FAST lacks */
static PyObject *g_signals;      /* zxpy.enums.SIGNALS: int -> Signals */
static PyObject *g_rights;       /* RIGHTS: int -> Rights */
static PyObject *g_obj_types;    /* OBJ_TYPES: int -> ObjType (or the int) */
static PyObject *g_process_flags; /* PROCESS_INFO_FLAGS: int -> ProcessInfoFlags */
static PyObject *g_basic_info;   /* zxpy.HandleBasicInfo */
static PyObject *g_process_info; /* zxpy.ProcessInfo */
static PyObject *g_wait_one;     /* zxpy.handle._wait_one(handle, signals, timeout, deadline): every wait but a poll */
static PyObject *g_check_u32;    /* zxpy.handle.check_u32(value, what) */
static PyObject *g_same_rights;  /* Rights.SAME_RIGHTS */

static PyObject *g_core_type;    /* HandleCore */
static PyObject *g_empty_tuple;
static newfunc g_object_new;     /* object.__new__ (tp_new of object), for the info records */
static newfunc g_exception_new;  /* BaseException.__new__, for the errors that are not OSErrors */

/* Interned names. */
static PyObject *s_close, *s_args, *s_errno, *s_strerror, *s_plain_adopt, *s_adopt, *s_wait_error, *s_rights, *s_signals,
    *s_timeout, *s_deadline, *s_raw, *s_owned, *s_koid;
/* The syscalls named in errors. */
static PyObject *s_handle_close, *s_handle_duplicate, *s_task_kill, *s_task_suspend, *s_object_wait_one,
    *s_object_get_info;

/* zxpy/__init__.py configures the module as its last step: wrappers are made only after that. */
static PyObject *not_configured(void) {
    PyErr_SetString(PyExc_RuntimeError, "zxpy._fastcalls is used before zxpy finished importing");
    return NULL;
}

static PyObject *closed_error(const char *what) {
    PyErr_Format(PyExc_ValueError, "handle is closed (%s)", what);
    return NULL;
}

/* _koid: the cached koid, or None. */
static PyObject *hc_get_koid(PyObject *op, void *closure) {
    (void)closure;
    HandleCore *self = (HandleCore *)op;
    if (!self->have_koid) Py_RETURN_NONE;
    return PyLong_FromUnsignedLongLong(self->koid);
}

/* ---------------------------------------------------------------- errors */

/* The koid an error names (a new reference): none for BAD_HANDLE (the value names no object, a cached koid may be
 * stale); else the cached one, read once with ZX_INFO_HANDLE_BASIC if unknown (as Handle._koid_or_none). */
static PyObject *error_koid(HandleCore *self, zx_status_t status) {
    if (status == ZX_ERR_BAD_HANDLE) Py_RETURN_NONE;
    if (!self->have_koid && self->raw >= 0) {
        zx_info_handle_basic_t info;
        zx_handle_t handle = (zx_handle_t)self->raw;
        zx_status_t st;
        Py_BEGIN_ALLOW_THREADS
        st = zx_object_get_info(handle, ZX_INFO_HANDLE_BASIC, &info, sizeof info, NULL, NULL);
        Py_END_ALLOW_THREADS
        if (st == ZX_OK) {
            self->koid = info.koid;
            self->have_koid = 1;
        }
    }
    return hc_get_koid((PyObject *)self, NULL);
}

/* Set the ZxError for `status` of `syscall` (koid: int or None, borrowed) and return NULL. */
static PyObject *raise_status(zx_status_t status, PyObject *syscall, PyObject *koid) {
    PyObject *code = PyLong_FromLong(status);
    if (code == NULL) return NULL;
    PyObject *fast = PyDict_GetItemWithError(g_fast_errors, code); /* borrowed */
    PyObject *err = NULL;
    if (fast == NULL) {
        if (!PyErr_Occurred()) err = PyObject_CallFunctionObjArgs(g_from_status, code, syscall, koid, NULL);
    } else {
        PyObject *cls = PyTuple_GetItem(fast, 1);
        PyObject *errno_value = PyTuple_GetItem(fast, 2);
        PyObject *args = PyTuple_Pack(4, code, syscall, koid, Py_None);
        if (args != NULL && errno_value == Py_None) {
            /* BaseException.__new__ keeps the tuple it is given as args (and runs no __init__): one call. */
            err = g_exception_new((PyTypeObject *)cls, args, NULL);
        } else if (args != NULL) {
            /* OSError's __new__ would read (errno, strerror, filename...) from its arguments: make it bare, then
             * set the fields, as from_status does. */
            err = PyObject_CallFunctionObjArgs(PyTuple_GetItem(fast, 0), cls, NULL);
            if (err != NULL && (PyObject_SetAttr(err, s_args, args) < 0 || PyObject_SetAttr(err, s_errno, errno_value) < 0 ||
                                PyObject_SetAttr(err, s_strerror, PyTuple_GetItem(fast, 3)) < 0)) {
                Py_CLEAR(err);
            }
        }
        Py_XDECREF(args);
    }
    Py_DECREF(code);
    if (err != NULL) {
        PyErr_SetObject((PyObject *)Py_TYPE(err), err);
        Py_DECREF(err);
    }
    return NULL;
}

/* raise_status for a failed call on `self` (Handle._error). */
static PyObject *raise_on(HandleCore *self, zx_status_t status, PyObject *syscall) {
    PyObject *koid = error_koid(self, status);
    if (koid == NULL) return NULL;
    raise_status(status, syscall, koid);
    Py_DECREF(koid);
    return NULL;
}

/* ---------------------------------------------------------------- arguments */

/* Bind METH_FASTCALL arguments to the parameters `names` (positional or keyword); unbound ones stay NULL.  Raises
 * TypeError as Python does for too many, unknown or repeated arguments, or a missing one of the first `required`. */
static int bind_args(const char *func, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames,
                     PyObject *const *names, Py_ssize_t count, Py_ssize_t required, PyObject **out) {
    for (Py_ssize_t i = 0; i < count; i++) out[i] = NULL;
    if (nargs > count) {
        PyErr_Format(PyExc_TypeError, "%s() takes at most %zd arguments (%zd given)", func, count, nargs);
        return -1;
    }
    for (Py_ssize_t i = 0; i < nargs; i++) out[i] = args[i];
    Py_ssize_t nkw = kwnames ? PyTuple_Size(kwnames) : 0;
    for (Py_ssize_t k = 0; k < nkw; k++) {
        PyObject *key = PyTuple_GetItem(kwnames, k);
        Py_ssize_t i = 0;
        while (i < count && PyUnicode_Compare(key, names[i]) != 0) i++;
        if (i == count) {
            PyErr_Format(PyExc_TypeError, "%s() got an unexpected keyword argument '%U'", func, key);
            return -1;
        }
        if (out[i] != NULL) {
            PyErr_Format(PyExc_TypeError, "%s() got multiple values for argument '%U'", func, key);
            return -1;
        }
        out[i] = args[nargs + k];
    }
    for (Py_ssize_t i = 0; i < required; i++) {
        if (out[i] == NULL) {
            PyErr_Format(PyExc_TypeError, "%s() missing required argument '%U'", func, names[i]);
            return -1;
        }
    }
    return 0;
}

/* A uint32_t argument: an int in range directly, anything else through zxpy's check_u32 (which accepts any
 * __index__ integer but bool and raises TypeError/ValueError naming `what`). */
/* An int or int subclass (IntFlag members) but bool: what zxpy.as_int accepts without calling __index__. */
static bool is_plain_int(PyObject *value) { return PyLong_Check(value) && !PyBool_Check(value); }

static int as_u32(PyObject *value, const char *what, uint32_t *out) {
    if (is_plain_int(value)) {
        int overflow;
        long long v = PyLong_AsLongLongAndOverflow(value, &overflow);
        if (!overflow && v >= 0 && v <= UINT32_MAX) {
            *out = (uint32_t)v;
            return 0;
        }
    }
    PyObject *checked = PyObject_CallFunction(g_check_u32, "Os", value, what);
    if (checked == NULL) return -1;
    unsigned long v = PyLong_AsUnsignedLong(checked);
    Py_DECREF(checked);
    if (v == (unsigned long)-1 && PyErr_Occurred()) return -1;
    *out = (uint32_t)v;
    return 0;
}

/* ---------------------------------------------------------------- wrappers */

/* A new wrapper of class `cls` (a HandleCore subclass whose _adopt is HandleCore's) owning `value`. */
static PyObject *new_wrapper(PyTypeObject *cls, zx_handle_t value, char have_koid, unsigned long long koid) {
    HandleCore *obj = (HandleCore *)PyType_GenericAlloc(cls, 0);
    if (obj == NULL) {
        zx_handle_close(value); /* nobody else has it */
        return NULL;
    }
    obj->raw = value;
    obj->owned = 1;
    obj->have_koid = have_koid;
    obj->koid = koid;
    return (PyObject *)obj;
}

static PyObject *hc_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
    (void)args;
    (void)kwds;
    if ((PyObject *)type == g_core_type) {
        PyErr_SetString(PyExc_TypeError, "HandleCore is zxpy.Handle's base: make a Handle");
        return NULL;
    }
    if (g_token_type == NULL) return not_configured();
    HandleCore *self = (HandleCore *)PyType_GenericAlloc(type, 0);
    if (self != NULL) self->raw = -1; /* closed until Handle.__init__ settles ownership */
    return (PyObject *)self;
}

static void hc_dealloc(PyObject *op) {
    /* Reached only through a Python subclass's dealloc, which has run the finaliser. */
    PyTypeObject *type = Py_TYPE(op);
    freefunc free_func = (freefunc)PyType_GetSlot(type, Py_tp_free);
    free_func(op);
    Py_DECREF(type);
}

/* An owned value still open when its wrapper is collected: a ResourceWarning (as an unclosed file gives), then
 * the close.  Never raises. */
static void hc_finalize(PyObject *op) {
    HandleCore *self = (HandleCore *)op;
    long long raw = self->raw;
    if (raw < 0 || !self->owned) return;
    self->raw = -1;
    PyObject *type, *value, *traceback;
    PyErr_Fetch(&type, &value, &traceback);
    PyObject *name = PyObject_GetAttrString((PyObject *)Py_TYPE(op), "__name__");
    if (name == NULL || PyErr_ResourceWarning(op, 1, "unclosed %U handle 0x%x", name, (unsigned int)raw) < 0) {
        PyErr_Clear();
    }
    Py_XDECREF(name);
    Py_BEGIN_ALLOW_THREADS
    zx_handle_close((zx_handle_t)raw);
    Py_END_ALLOW_THREADS
    PyErr_Restore(type, value, traceback);
}

static int hc_set_koid(PyObject *op, PyObject *value, void *closure) {
    (void)closure;
    HandleCore *self = (HandleCore *)op;
    if (value == NULL || value == Py_None) {
        self->have_koid = 0;
        return 0;
    }
    unsigned long long koid = PyLong_AsUnsignedLongLong(value);
    if (koid == (unsigned long long)-1 && PyErr_Occurred()) return -1;
    self->koid = koid;
    self->have_koid = 1;
    return 0;
}

static PyObject *hc_close(PyObject *op, PyObject *unused) {
    (void)unused;
    HandleCore *self = (HandleCore *)op;
    long long raw = self->raw;
    if (raw < 0) Py_RETURN_NONE;
    self->raw = -1;
    if (self->owned) {
        zx_status_t st;
        Py_BEGIN_ALLOW_THREADS
        st = zx_handle_close((zx_handle_t)raw);
        Py_END_ALLOW_THREADS
        if (st != ZX_OK) {
            PyObject *koid = hc_get_koid(op, NULL);
            if (koid != NULL) {
                raise_status(st, s_handle_close, koid);
                Py_DECREF(koid);
            }
            return NULL;
        }
    }
    Py_RETURN_NONE;
}

static PyObject *hc_take(PyObject *op, PyObject *unused) {
    (void)unused;
    HandleCore *self = (HandleCore *)op;
    long long raw = self->raw;
    self->raw = -1;
    return PyLong_FromLongLong(raw < 0 ? -1 : raw);
}

static PyObject *hc_enter(PyObject *op, PyObject *unused) {
    (void)unused;
    if (((HandleCore *)op)->raw < 0) return closed_error("with");
    return Py_NewRef(op);
}

static PyObject *g_close_method; /* HandleCore.close (its method descriptor) */

/* The end of a `with` block: close(), the class's own if it overrides HandleCore's (ExceptionHandle does). */
static PyObject *hc_exit(PyObject *op, PyObject *args) {
    (void)args;
    PyObject *close = PyObject_GetAttr((PyObject *)Py_TYPE(op), s_close);
    if (close == NULL) return NULL;
    PyObject *result = close == g_close_method ? hc_close(op, NULL) : PyObject_CallFunctionObjArgs(close, op, NULL);
    Py_DECREF(close);
    return result;
}

static PyObject *hc_adopt(PyObject *cls, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
    if (g_token_type == NULL) return not_configured();
    PyObject *names[3] = {s_raw, s_owned, s_koid};
    PyObject *arg[3];
    if (bind_args("_adopt", args, nargs, kwnames, names, 3, 1, arg) < 0) return NULL;
    long long raw = PyLong_AsLongLong(arg[0]);
    if (raw == -1 && PyErr_Occurred()) return NULL;
    int owned = arg[1] ? PyObject_IsTrue(arg[1]) : 1;
    if (owned < 0) return NULL;
    unsigned long long koid = 0;
    if (arg[2] != NULL && arg[2] != Py_None) {
        koid = PyLong_AsUnsignedLongLong(arg[2]);
        if (koid == (unsigned long long)-1 && PyErr_Occurred()) return NULL;
    }
    HandleCore *obj = (HandleCore *)PyType_GenericAlloc((PyTypeObject *)cls, 0);
    if (obj == NULL) return NULL;
    obj->raw = raw;
    obj->owned = (char)owned;
    obj->have_koid = arg[2] != NULL && arg[2] != Py_None;
    obj->koid = koid;
    return (PyObject *)obj;
}

/* ---------------------------------------------------------------- syscalls */

static PyObject *hc_kill(PyObject *op, PyObject *unused) {
    (void)unused;
    HandleCore *self = (HandleCore *)op;
    if (self->raw < 0) return closed_error("zx_task_kill");
    zx_handle_t handle = (zx_handle_t)self->raw;
    zx_status_t st;
    Py_BEGIN_ALLOW_THREADS
    st = zx_task_kill(handle);
    Py_END_ALLOW_THREADS
    if (st != ZX_OK) return raise_on(self, st, s_task_kill);
    Py_RETURN_NONE;
}

static PyObject *hc_suspend(PyObject *op, PyObject *unused) {
    (void)unused;
    HandleCore *self = (HandleCore *)op;
    if (self->raw < 0) return closed_error("zx_task_suspend");
    zx_handle_t handle = (zx_handle_t)self->raw, token = ZX_HANDLE_INVALID;
    zx_status_t st;
    Py_BEGIN_ALLOW_THREADS
    st = zx_task_suspend(handle, &token);
    Py_END_ALLOW_THREADS
    if (st != ZX_OK) return raise_on(self, st, s_task_suspend);
    return new_wrapper((PyTypeObject *)g_token_type, token, 0, 0);
}

static PyObject *hc_duplicate(PyObject *op, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
    HandleCore *self = (HandleCore *)op;
    PyObject *rights_arg;
    if (bind_args("duplicate", args, nargs, kwnames, &s_rights, 1, 0, &rights_arg) < 0) return NULL;
    uint32_t rights = ZX_RIGHT_SAME_RIGHTS;
    if (rights_arg != NULL && rights_arg != g_same_rights && as_u32(rights_arg, "rights", &rights) < 0) return NULL;
    if (self->raw < 0) return closed_error("zx_handle_duplicate");
    zx_handle_t handle = (zx_handle_t)self->raw, dup = ZX_HANDLE_INVALID;
    zx_status_t st;
    Py_BEGIN_ALLOW_THREADS
    st = zx_handle_duplicate(handle, rights, &dup);
    Py_END_ALLOW_THREADS
    if (st != ZX_OK) return raise_on(self, st, s_handle_duplicate);
    PyTypeObject *cls = Py_TYPE(op);
    PyObject *plain = PyObject_GetAttr((PyObject *)cls, s_plain_adopt);
    int is_plain = plain ? PyObject_IsTrue(plain) : -1;
    Py_XDECREF(plain);
    if (is_plain > 0) return new_wrapper(cls, dup, self->have_koid, self->koid);
    if (is_plain < 0) {
        zx_handle_close(dup);
        return NULL;
    }
    /* A class with slots of its own makes its wrappers itself (Thread, ExceptionHandle). */
    PyObject *koid = hc_get_koid(op, NULL);
    PyObject *value = PyLong_FromUnsignedLong(dup);
    PyObject *wrapper = koid && value ? PyObject_CallMethodObjArgs((PyObject *)cls, s_adopt, value, Py_True, koid, NULL)
                                      : NULL;
    Py_XDECREF(koid);
    Py_XDECREF(value);
    if (wrapper == NULL) zx_handle_close(dup);
    return wrapper;
}

/* mapping[value]: an enum member from one of zxpy.enums' caches (SIGNALS, RIGHTS...). */
static PyObject *lookup(PyObject *mapping, unsigned long long value) {
    PyObject *key = PyLong_FromUnsignedLongLong(value);
    if (key == NULL) return NULL;
    PyObject *item = PyObject_GetItem(mapping, key);
    Py_DECREF(key);
    return item;
}

/* A poll's result: SIGNALS[observed], or the wait's error (Handle._wait_error). */
static PyObject *poll_result(PyObject *op, zx_status_t st, zx_signals_t observed) {
    if (st == ZX_OK) return lookup(g_signals, observed);
    PyObject *status = PyLong_FromLong(st), *value = PyLong_FromUnsignedLong(observed);
    PyObject *err = status && value ? PyObject_CallMethodObjArgs(op, s_wait_error, status, value, NULL) : NULL;
    Py_XDECREF(status);
    Py_XDECREF(value);
    if (err != NULL) {
        PyErr_SetObject((PyObject *)Py_TYPE(err), err);
        Py_DECREF(err);
    }
    return NULL;
}

static bool is_zero_timeout(PyObject *timeout) {
    if (PyLong_CheckExact(timeout)) {
        int overflow;
        return PyLong_AsLongLongAndOverflow(timeout, &overflow) == 0 && !overflow;
    }
    return PyFloat_CheckExact(timeout) && PyFloat_AsDouble(timeout) == 0.0;
}

static PyObject *hc_wait_one(PyObject *op, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
    HandleCore *self = (HandleCore *)op;
    PyObject *names[3] = {s_signals, s_timeout, s_deadline};
    PyObject *arg[3];
    if (bind_args("wait_one", args, nargs, kwnames, names, 3, 1, arg) < 0) return NULL;
    int overflow = 1;
    long long signals = is_plain_int(arg[0]) ? PyLong_AsLongLongAndOverflow(arg[0], &overflow) : -1;
    if (overflow || signals < 0 || signals > UINT32_MAX || (arg[2] != NULL && arg[2] != Py_None) ||
        arg[1] == NULL || !is_zero_timeout(arg[1])) {
        /* Anything but a poll with a plain signal mask: the Python wait (argument checks, deadlines, the main
         * thread's interruptible slices). */
        return PyObject_CallFunctionObjArgs(g_wait_one, op, arg[0], arg[1] ? arg[1] : Py_None,
                                            arg[2] ? arg[2] : Py_None, NULL);
    }
    if (self->raw < 0) return closed_error("zx_object_wait_one");
    zx_handle_t handle = (zx_handle_t)self->raw;
    zx_signals_t observed = 0; /* a wait refused before it ran writes nothing, and reports 0 */
    zx_status_t st;
    Py_BEGIN_ALLOW_THREADS
    st = zx_object_wait_one(handle, (zx_signals_t)signals, ZX_TIME_INFINITE_PAST, &observed);
    Py_END_ALLOW_THREADS
    return poll_result(op, st, observed);
}

static PyObject *hc_terminated(PyObject *op, void *closure) {
    (void)closure;
    HandleCore *self = (HandleCore *)op;
    if (self->raw < 0) return closed_error("zx_object_wait_one");
    zx_handle_t handle = (zx_handle_t)self->raw;
    zx_signals_t observed = 0;
    zx_status_t st;
    Py_BEGIN_ALLOW_THREADS
    st = zx_object_wait_one(handle, 0, ZX_TIME_INFINITE_PAST, &observed);
    Py_END_ALLOW_THREADS
    if (st != ZX_OK && st != ZX_ERR_TIMED_OUT) return raise_on(self, st, s_object_wait_one);
    return PyBool_FromLong((observed & ZX_TASK_TERMINATED) != 0);
}

/* A new instance of the dataclass `cls` with `values` (stolen) stored in its __dict__ under `names`, without its
 * __init__: zxpy/_record.py's record_maker, in C (the same class and __dict__ as cls(*values)). */
static PyObject *make_record(PyObject *cls, PyObject *names, PyObject **values, Py_ssize_t count) {
    PyObject *obj = NULL, *dict = NULL;
    for (Py_ssize_t i = 0; i < count; i++) {
        if (values[i] == NULL) goto done;
    }
    obj = g_object_new((PyTypeObject *)cls, g_empty_tuple, NULL);
    dict = obj ? PyObject_GenericGetDict(obj, NULL) : NULL;
    if (dict == NULL) {
        Py_CLEAR(obj);
        goto done;
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        if (PyDict_SetItem(dict, PyTuple_GetItem(names, i), values[i]) < 0) {
            Py_CLEAR(obj);
            break;
        }
    }
done:
    Py_XDECREF(dict);
    for (Py_ssize_t i = 0; i < count; i++) Py_XDECREF(values[i]);
    return obj;
}

static PyObject *g_basic_fields, *g_process_fields;

static PyObject *hc_basic_info(PyObject *op, PyObject *unused) {
    (void)unused;
    HandleCore *self = (HandleCore *)op;
    if (self->raw < 0) return closed_error("zx_object_get_info");
    zx_handle_t handle = (zx_handle_t)self->raw;
    zx_info_handle_basic_t info;
    zx_status_t st;
    Py_BEGIN_ALLOW_THREADS
    st = zx_object_get_info(handle, ZX_INFO_HANDLE_BASIC, &info, sizeof info, NULL, NULL);
    Py_END_ALLOW_THREADS
    if (st != ZX_OK) return raise_status(st, s_object_get_info, Py_None);
    self->koid = info.koid;
    self->have_koid = 1;
    PyObject *values[4] = {
        PyLong_FromUnsignedLongLong(info.koid),
        lookup(g_rights, info.rights),
        lookup(g_obj_types, info.type),
        PyLong_FromUnsignedLongLong(info.related_koid),
    };
    return make_record(g_basic_info, g_basic_fields, values, 4);
}

/* Which zx_info_process_t these headers have: version 1 (flags, start_time; RFC-0074) or version 0 (three bools).
 * build_ffi.py's detection decides, as it does for the cdef (headers of the transition define the flag names while
 * the record still has the bools). */
#ifdef ZXPY_HAVE_INFO_PROCESS_V2
#define PROCESS_INFO_V2 1
#else
#define PROCESS_INFO_V2 0
#endif

static PyObject *hc_process_info(PyObject *op, PyObject *unused) {
    (void)unused;
    HandleCore *self = (HandleCore *)op;
    if (self->raw < 0) return closed_error("zx_object_get_info");
    zx_handle_t handle = (zx_handle_t)self->raw;
    zx_info_process_t info;
    zx_status_t st;
    Py_BEGIN_ALLOW_THREADS
    st = zx_object_get_info(handle, ZX_INFO_PROCESS, &info, sizeof info, NULL, NULL);
    Py_END_ALLOW_THREADS
    if (st != ZX_OK) return raise_on(self, st, s_object_get_info);
#if PROCESS_INFO_V2
    PyObject *values[6] = {
        PyLong_FromLongLong(info.return_code),
        PyLong_FromLongLong(info.start_time),
        lookup(g_process_flags, info.flags),
        PyBool_FromLong((info.flags & ZX_INFO_PROCESS_FLAG_STARTED) != 0),
        PyBool_FromLong((info.flags & ZX_INFO_PROCESS_FLAG_EXITED) != 0),
        PyBool_FromLong((info.flags & ZX_INFO_PROCESS_FLAG_DEBUGGER_ATTACHED) != 0),
    };
#else
    PyObject *values[6] = {
        PyLong_FromLongLong(info.return_code), Py_NewRef(Py_None), Py_NewRef(Py_None),
        PyBool_FromLong(info.started),         PyBool_FromLong(info.exited), PyBool_FromLong(info.debugger_attached),
    };
#endif
    return make_record(g_process_info, g_process_fields, values, 6);
}

/* ---------------------------------------------------------------- the type and the module */

static PyMethodDef hc_methods[] = {
    {"close", hc_close, METH_NOARGS,
     "close($self, /)\n--\n\nClose the handle (``zx_handle_close``); a second close does nothing.\n\n"
     "Safe from several threads at once: exactly one of them closes the value, the others return.  A borrowed\n"
     "handle is only forgotten.  Closing the last handle of a suspend token resumes its task; closing a handle\n"
     "another thread waits on cancels that wait (ZX_ERR_CANCELED)."},
    {"_take", hc_take, METH_NOARGS,
     "_take($self, /)\n--\n\nTake the raw value and mark this wrapper closed, atomically: exactly one caller gets "
     "it (else -1)."},
    {"__enter__", hc_enter, METH_NOARGS, NULL},
    {"__exit__", hc_exit, METH_VARARGS, NULL},
    {"_adopt", (PyCFunction)(void (*)(void))hc_adopt, METH_FASTCALL | METH_KEYWORDS | METH_CLASS,
     "_adopt($cls, raw, owned=True, koid=None, /)\n--\n\nWrap a value the kernel just returned (no argument "
     "checks).\n\nSubclasses with slots of their own override this."},
    {"duplicate", (PyCFunction)(void (*)(void))hc_duplicate, METH_FASTCALL | METH_KEYWORDS,
     "duplicate($self, /, rights=0x80000000)\n--\n\n``zx_handle_duplicate``: a new handle to the same "
     "object.\n\n``rights`` must be a subset of this handle's rights, or exactly ``Rights.SAME_RIGHTS`` "
     "(INVALID_ARGS\notherwise; its value is the default, 0x80000000); the handle needs ``DUPLICATE`` (ACCESS_DENIED otherwise; suspend tokens never have "
     "it)."},
    {"wait_one", (PyCFunction)(void (*)(void))hc_wait_one, METH_FASTCALL | METH_KEYWORDS,
     "wait_one($self, /, signals, timeout=None, deadline=None)\n--\n\n``zx_object_wait_one``: wait until any of "
     "``signals`` is active.\n\nReturns every signal observed active (not only the requested ones).  ``timeout`` "
     "is in seconds\n(None: forever, 0: poll); ``deadline`` is an absolute time in ns of :func:`zxpy.monotonic`.  "
     "Raises\n:class:`~zxpy.errors.TimedOutError` when the deadline passes and :class:`~zxpy.errors.CanceledError` "
     "when the\nhandle is closed during the wait; both carry ``observed``.  Needs ``Rights.WAIT``.  On the main "
     "thread a long\nwait runs in slices, so Ctrl-C (KeyboardInterrupt) is not held off."},
    {"basic_info", hc_basic_info, METH_NOARGS,
     "basic_info($self, /)\n--\n\n``ZX_INFO_HANDLE_BASIC``: koid, rights, type and related koid."},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef hc_members[] = {
    {"_raw", T_LONGLONG, offsetof(HandleCore, raw), 0, "The handle value; negative once closed."},
    {"_owned", T_BOOL, offsetof(HandleCore, owned), 0, "Whether close() closes the value (else it is borrowed)."},
    {NULL, 0, 0, 0, NULL},
};

static PyGetSetDef hc_getset[] = {
    {"_koid", hc_get_koid, hc_set_koid, "The object's koid once known, else None.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot hc_slots[] = {
    {Py_tp_doc, (void *)"The C half of zxpy.Handle: the value, ownership and koid, and the hot calls."},
    {Py_tp_new, (void *)hc_new},
    {Py_tp_dealloc, (void *)hc_dealloc},
    {Py_tp_finalize, (void *)hc_finalize},
    {Py_tp_methods, hc_methods},
    {Py_tp_members, hc_members},
    {Py_tp_getset, hc_getset},
    {0, NULL},
};

static PyType_Spec hc_spec = {
    .name = "zxpy._fastcalls.HandleCore",
    .basicsize = sizeof(HandleCore),
    .itemsize = 0,
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .slots = hc_slots,
};

/* TaskCore: the C half of zxpy.Task (jobs, processes, threads). */
static PyMethodDef task_methods[] = {
    {"kill", hc_kill, METH_NOARGS,
     "kill($self, /)\n--\n\n``zx_task_kill``: kill the task and everything under it.\n\n"
     "Asynchronous: wait for ``Signals.TASK_TERMINATED`` (:meth:`wait_terminated`).  Needs ``Rights.DESTROY``\n"
     "(checked before the type).  A killed job accepts no new children (BAD_STATE).  Killing a dead task succeeds."},
    {"suspend", hc_suspend, METH_NOARGS,
     "suspend($self, /)\n--\n\n``zx_task_suspend``: suspend the task; returns the :class:`SuspendToken`.\n\n"
     "The task stays suspended while any token is open.  Does not wait for the task to stop; see\n"
     "``Thread.suspend``.  Needs ``Rights.WRITE`` (checked before the type)."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef task_getset[] = {
    {"terminated", hc_terminated, NULL, "Whether ``TASK_TERMINATED`` is asserted now (one poll).", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot task_slots[] = {
    {Py_tp_doc, (void *)"The C half of zxpy.Task: kill, suspend, terminated."},
    {Py_tp_methods, task_methods},
    {Py_tp_getset, task_getset},
    {0, NULL},
};

static PyType_Spec task_spec = {
    .name = "zxpy._fastcalls.TaskCore",
    .basicsize = sizeof(HandleCore),
    .itemsize = 0,
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .slots = task_slots,
};

/* ProcessCore: the C half of zxpy.Process. */
static PyMethodDef process_methods[] = {
    {"info", hc_process_info, METH_NOARGS,
     "info($self, /)\n--\n\n``ZX_INFO_PROCESS`` (needs ``INSPECT``): return code, start time, flags."},
    {NULL, NULL, 0, NULL},
};

static PyType_Slot process_slots[] = {
    {Py_tp_doc, (void *)"The C half of zxpy.Process: info."},
    {Py_tp_methods, process_methods},
    {0, NULL},
};

static PyType_Spec process_spec = {
    .name = "zxpy._fastcalls.ProcessCore",
    .basicsize = sizeof(HandleCore),
    .itemsize = 0,
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .slots = process_slots,
};

static PyObject *fc_configure(PyObject *module, PyObject *args, PyObject *kwargs) {
    (void)module;
    static char *keywords[] = {"suspend_token", "fast_errors", "from_status", "signals",  "rights",
                               "obj_types",     "process_info_flags", "basic_info", "process_info",
                               "wait_one",      "check_u32",   "same_rights",   NULL};
    PyObject *v[12];
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "$OO!" "OOOOOOOOOO" ":configure", keywords, &v[0], &PyDict_Type, &v[1],
                                     &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9], &v[10], &v[11])) {
        return NULL;
    }
    PyObject **slots[12] = {&g_token_type, &g_fast_errors, &g_from_status, &g_signals,  &g_rights,     &g_obj_types,
                            &g_process_flags, &g_basic_info, &g_process_info, &g_wait_one, &g_check_u32, &g_same_rights};
    for (int i = 0; i < 12; i++) {
        PyObject *old = *slots[i];
        *slots[i] = Py_NewRef(v[i]);
        Py_XDECREF(old);
    }
    Py_RETURN_NONE;
}

static PyMethodDef fc_functions[] = {
    {"configure", (PyCFunction)(void (*)(void))fc_configure, METH_VARARGS | METH_KEYWORDS,
     "configure(*, suspend_token, fast_errors, from_status, signals, rights, obj_types, process_info_flags, "
     "basic_info, process_info, wait_one, check_u32, same_rights)\n--\n\n"
     "Hand the module the Python objects its calls return or raise (zxpy/__init__.py, once)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef fc_module = {
    PyModuleDef_HEAD_INIT, "zxpy._fastcalls", "zxpy's handle calls in C (csrc/fastcalls.c).", -1, fc_functions,
    NULL, NULL, NULL, NULL,
};

static int intern_all(void) {
    struct {
        PyObject **slot;
        const char *text;
    } names[] = {
        {&s_close, "close"},
        {&s_args, "args"},
        {&s_errno, "errno"},
        {&s_strerror, "strerror"},
        {&s_plain_adopt, "_PLAIN_ADOPT"},
        {&s_adopt, "_adopt"},
        {&s_wait_error, "_wait_error"},
        {&s_rights, "rights"},
        {&s_signals, "signals"},
        {&s_timeout, "timeout"},
        {&s_deadline, "deadline"},
        {&s_raw, "raw"},
        {&s_owned, "owned"},
        {&s_koid, "koid"},
        {&s_handle_close, "zx_handle_close"},
        {&s_handle_duplicate, "zx_handle_duplicate"},
        {&s_task_kill, "zx_task_kill"},
        {&s_task_suspend, "zx_task_suspend"},
        {&s_object_wait_one, "zx_object_wait_one"},
        {&s_object_get_info, "zx_object_get_info"},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        *names[i].slot = PyUnicode_InternFromString(names[i].text);
        if (*names[i].slot == NULL) return -1;
    }
    g_empty_tuple = PyTuple_New(0);
    g_object_new = (newfunc)PyType_GetSlot(&PyBaseObject_Type, Py_tp_new);
    g_exception_new = (newfunc)PyType_GetSlot((PyTypeObject *)PyExc_BaseException, Py_tp_new);
    g_basic_fields = Py_BuildValue("(ssss)", "koid", "rights", "type", "related_koid");
    g_process_fields =
        Py_BuildValue("(ssssss)", "return_code", "start_time", "flags", "started", "exited", "debugger_attached");
    return g_empty_tuple && g_object_new && g_exception_new && g_basic_fields && g_process_fields ? 0 : -1;
}

static int create_module(void) {
    PyObject *modules = PyImport_GetModuleDict(); /* borrowed */
    PyObject *module = PyDict_GetItemString(modules, "zxpy._fastcalls");
    if (module != NULL) return 0; /* a second import of zxpy._raw */
    if (intern_all() < 0) return -1;
    module = PyModule_Create(&fc_module);
    if (module == NULL) return -1;
    PyObject *type = PyType_FromSpec(&hc_spec);
    g_core_type = type;
    g_close_method = type ? PyObject_GetAttr(type, s_close) : NULL;
    PyObject *task = g_close_method ? PyType_FromSpecWithBases(&task_spec, type) : NULL;
    PyObject *process = task ? PyType_FromSpecWithBases(&process_spec, task) : NULL;
    int failed = process == NULL || PyModule_AddObject(module, "HandleCore", Py_NewRef(type)) < 0 ||
                 PyModule_AddObject(module, "TaskCore", task) < 0 ||
                 PyModule_AddObject(module, "ProcessCore", process) < 0 ||
                 PyModule_AddIntConstant(module, "PROCESS_INFO_V2", PROCESS_INFO_V2) < 0 ||
                 PyModule_AddObject(module, "BASIC_INFO_FIELDS", Py_NewRef(g_basic_fields)) < 0 ||
                 PyModule_AddObject(module, "PROCESS_INFO_FIELDS", Py_NewRef(g_process_fields)) < 0 ||
                 PyDict_SetItemString(modules, "zxpy._fastcalls", module) < 0;
    Py_DECREF(module);  /* the type stays referenced by g_core_type */
    return failed ? -1 : 0;
}

int zxpy_fastcalls_install(void) {
    PyGILState_STATE gil = PyGILState_Ensure();
    int result = create_module();
    if (result < 0) PyErr_Print();
    PyGILState_Release(gil);
    return result;
}
