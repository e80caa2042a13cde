"""``Job``: a node of the task tree that owns processes and child jobs.

Killing a job kills its whole subtree (child jobs depth-first, then their
processes) with ``TASK_RETCODE_SYSCALL_KILL``; afterwards the job refuses new
children with BAD_STATE.  ``ZX_INFO_JOB`` reports ``exited`` as soon as the kill
starts.  ``Job.spawn`` launches a real program into the job with
``fdio_spawn_etc``.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Union

from . import _raw, fuchsia
from ._info import info_query
from ._record import record_maker
from .enums import SPAWN_ERR_MSG_MAX_LENGTH, ObjType, Rights, SpawnAction, SpawnFlags
from .errors import NotSupportedError, from_status
from .exception import ExceptionChannel, create_exception_channel
from .handle import Handle, check_u32, encode_name, wrap_handle
from .process import Process
from .task import Task

__all__ = ["PIPE", "FuchsiaProcess", "Job", "JobInfo"]

#: ``stderr=PIPE`` for :meth:`Job.spawn_fuchsia`: capture the program's debug_write output in
#: ``FuchsiaProcess.stderr`` (the value of ``subprocess.PIPE``).
PIPE = -1

StrOrBytesPath = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"]

_new = _raw.new
_HANDLE_PTR = _raw.HANDLE_PTR
_job_create = _raw.job_create
_process_create = _raw.process_create
_handle_close = _raw.handle_close
_lib = _raw.lib
_FD_MAX = 2**31 - 1
_INFO_JOB = info_query("ZX_INFO_JOB")
_INFO_JOB_CHILDREN: int = _lib.ZX_INFO_JOB_CHILDREN
_INFO_JOB_PROCESSES: int = _lib.ZX_INFO_JOB_PROCESSES


@dataclass(frozen=True)
class JobInfo:
    """``ZX_INFO_JOB`` (``zx_info_job_t``), read fresh on each call.

    ``return_code`` is meaningful only when ``exited`` (true from the moment
    the job is killed, before its children are gone).
    """

    return_code: int
    exited: bool
    kill_on_oom: bool
    debugger_attached: bool


_make_job_info = record_maker(JobInfo)

def _fs(value: object, what: str) -> bytes:
    if isinstance(value, (str, bytes, os.PathLike)):
        data = os.fsencode(value)
    else:
        raise TypeError(f"{what} must be str, bytes or os.PathLike, not {type(value).__name__}")
    if b"\0" in data:
        raise ValueError(f"{what} must not contain NUL bytes")
    return data


def _check_fd(value: object, what: str) -> int:
    """A file descriptor for ``fdio_spawn_action_t`` (a C ``int``): 0..2**31-1."""
    fd = check_u32(value, what)
    if fd > _FD_MAX:
        raise ValueError(f"{what} must be in 0..{_FD_MAX}, got {fd}")
    return fd


class FuchsiaProcess(Process):
    """The Process of a Fuchsia program started by :meth:`Job.spawn_fuchsia`: a Process like any other (wait,
    info, suspend, kill), plus the caller's ends of the pipes asked for with ``PIPE``: ``stdin`` (written into its
    fd 0), ``stdout`` (its fd 1) and ``stderr`` (its fd 2 and its debug_write output); None otherwise.  The caller
    closes them."""

    __slots__ = ("stdin", "stdout", "stderr")

    stdin: Any
    stdout: Any
    stderr: Any


def _stdio_fd(value: object, name: str) -> int:
    """The host fd the runner connects the program's ``name`` (stdin, stdout, stderr) to: -1 (the caller's own)
    for None; an fd or a file's fileno().  PIPE is handled by the caller."""
    if value is None:
        return -1
    if hasattr(value, "fileno"):
        value = value.fileno()
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be None, PIPE, a file descriptor or a file, not {type(value).__name__}")
    if not 0 <= value <= _FD_MAX:
        raise ValueError(f"{name} must be PIPE or a file descriptor in 0..{_FD_MAX}, got {value}")
    return value


def _environ_entries(environ: object, name: str) -> list[bytes]:
    """``KEY=VALUE`` entries of the mapping ``environ`` (the argument called ``name``), checked as execve needs them."""
    if not isinstance(environ, Mapping):
        raise TypeError(f"{name} must be a mapping, not {type(environ).__name__}")
    items = []
    for key, value in environ.items():
        kb, vb = _fs(key, f"{name} key"), _fs(value, f"{name} value")
        if not kb or b"=" in kb:
            raise ValueError(f"invalid environment variable name {key!r}")
        items.append(kb + b"=" + vb)
    return items


#: PA_NS_DIR (<zircon/processargs.h>): a namespace directory, PA_HND(PA_NS_DIR, index into the names table).
PA_NS_DIR = 0x20


def _namespace_entries(namespace: object) -> list[tuple[bytes, bytes | None, bool]]:
    """``spawn_fuchsia``'s ``namespace``, checked: (path, host directory, read_only) per entry, in order.

    A key is the path the program sees: absolute, normalized, not ``/`` itself, none inside another (fdio binds
    each at its path).  A value is a host directory (str, bytes or os.PathLike; served read-write) or a pair
    ``(directory, "r")`` / ``(directory, "rw")``, or :data:`zxpy.fuchsia.SERVICES` (host directory None: the
    service directory with fuchsia.process.Launcher).  TypeError for wrong types, ValueError for wrong values."""
    if not isinstance(namespace, Mapping):
        raise TypeError(f"namespace must be a mapping of path to host directory, not {type(namespace).__name__}")
    out: list[tuple[bytes, bytes | None, bool]] = []
    for key, value in namespace.items():
        if not isinstance(key, str):
            raise TypeError(f"namespace paths must be str, not {type(key).__name__}")
        if "\0" in key or not key.startswith("/") or key == "/" or os.path.normpath(key) != key or key.startswith("//"):
            raise ValueError(f"namespace path {key!r} must be absolute and normalized, and not /")
        if value is fuchsia.SERVICES:
            out.append((os.fsencode(key), None, True))
            continue
        mode = "rw"
        if isinstance(value, tuple):
            if len(value) != 2 or not isinstance(value[1], str):
                raise TypeError(f"namespace[{key!r}] must be a directory or (directory, 'r' | 'rw')")
            value, mode = value
            if mode not in ("r", "rw"):
                raise ValueError(f"namespace[{key!r}]: mode must be 'r' or 'rw', not {mode!r}")
        if not isinstance(value, (str, bytes, os.PathLike)):
            raise TypeError(f"namespace[{key!r}] must be a host directory path, not {type(value).__name__}")
        host = _fs(value, f"namespace[{key!r}]")
        if not os.path.isdir(host):
            raise ValueError(f"namespace[{key!r}]: {os.fsdecode(host)!r} is no existing directory")
        out.append((os.fsencode(key), host, mode == "r"))
    names = [k for k, _, _ in out]
    for a in names:
        for b in names:
            if a != b and b.startswith(a + b"/"):
                raise ValueError(f"namespace path {os.fsdecode(b)!r} lies inside {os.fsdecode(a)!r}")
    return out


def _fuchsia_elf(path: bytes, sysroot: str | os.PathLike[str] | None) -> tuple[bool, str | None]:
    """For Job.spawn: whether ``path`` is a dynamically linked Fuchsia executable (PT_INTERP ld.so.1) the runner
    starts (x86-64, with the dynamic linker and vDSO of ``sysroot`` or of the SDK fuchsia_sdk.cfg names), and else,
    for such an executable it cannot start, why not."""
    if not fuchsia.AVAILABLE:
        return False, None
    probe = fuchsia.elf_probe(path)
    if probe is None or not probe.is_fuchsia:
        return False, None
    why = f"{os.fsdecode(path)!r} is a Fuchsia {probe.machine_name} executable (PT_INTERP {probe.interp!r})"
    if probe.machine != 62:  # EM_X86_64
        return False, f"{why}: the host runner runs x86-64 Fuchsia programs only"
    try:
        found = [fuchsia.find_ldso(None, sysroot), fuchsia.find_vdso(None, sysroot)]
    except ValueError:
        return False, (f"{why}: it needs Fuchsia's dynamic linker (ld.so.1) and vDSO, and no SDK is known: pass "
                       "sysroot=, or name the SDK in fuchsia_sdk.cfg (or the file ZXPY_SDK_CFG names), [sdk] path "
                       "(or use Job.spawn_fuchsia with ldso= and vdso=)")
    missing = [str(f) for f in found if not f.is_file()]
    if missing:
        where = f"sysroot {os.fspath(sysroot)!r}" if sysroot is not None else "the configured SDK"
        return False, f"{why}: {where} has no {' and no '.join(missing)}"
    return True, None


class Job(Task):
    """A job handle."""

    __slots__ = ()
    OBJ_TYPE: ClassVar[int | None] = ObjType.JOB

    @classmethod
    def default(cls) -> Job:
        """``zx_job_default()``: the default job, borrowed (never closed)."""
        return cls._adopt(_raw.job_default(), owned=False)

    def create_job(self, options: int = 0) -> Job:
        """``zx_job_create``: a new child job (needs ``MANAGE_JOB``).

        BAD_STATE if this job was killed; OUT_OF_RANGE past the height limit.
        """
        options = check_u32(options, "options")
        raw = self.raw
        out = _new(_HANDLE_PTR)
        status = _job_create(raw, options, out)
        if status:
            raise self._error(status, "zx_job_create")
        return Job._adopt(out[0])

    def create_process(self, name: str | bytes = b"", options: int = 0) -> Process:
        """``zx_process_create``: a new, unstarted process in this job.

        Needs ``MANAGE_PROCESS``; BAD_STATE if this job was killed.  On the
        host such a process can never run code (it exists as an object);
        use :meth:`spawn` to run a program.  The root VMAR handle Zircon also
        returns is closed.
        """
        data = encode_name(name)
        options = check_u32(options, "options")
        raw = self.raw
        proc = _new(_HANDLE_PTR)
        vmar = _new(_HANDLE_PTR)
        status = _process_create(raw, data, len(data), options, proc, vmar)
        if status:
            raise self._error(status, "zx_process_create")
        if vmar[0]:
            _handle_close(vmar[0])
        return Process._adopt(proc[0])

    def info(self) -> JobInfo:
        """``ZX_INFO_JOB`` (needs ``INSPECT``)."""
        buf = self._read_info(_INFO_JOB)
        return _make_job_info(
            buf.return_code, bool(buf.exited), bool(buf.kill_on_oom), bool(buf.debugger_attached)
        )

    def children(self) -> list[int]:
        """``ZX_INFO_JOB_CHILDREN``: koids of the direct child jobs (``ENUMERATE``)."""
        return self._get_info_koids(_INFO_JOB_CHILDREN)

    def processes(self) -> list[int]:
        """``ZX_INFO_JOB_PROCESSES``: koids of the direct child processes."""
        return self._get_info_koids(_INFO_JOB_PROCESSES)

    def child(self, koid: int, rights: int = Rights.SAME_RIGHTS) -> Job | Process:
        """``zx_object_get_child``: a handle to a child job or process by koid.

        Needs ``ENUMERATE``; ``rights`` must be a subset of this handle's
        (ACCESS_DENIED otherwise); SAME_RIGHTS copies this handle's rights.
        Unknown koid: :class:`~zxpy.errors.NotFoundError`.
        """
        handle = wrap_handle(self._get_child_raw(koid, rights))
        assert isinstance(handle, (Job, Process)), handle
        return handle

    def spawn(
        self,
        argv: Sequence[StrOrBytesPath],
        *,
        path: StrOrBytesPath | None = None,
        flags: int = SpawnFlags.CLONE_ALL,
        environ: Mapping[str | bytes, str | bytes] | None = None,
        name: str | bytes | None = None,
        fds: Mapping[int, int] | None = None,
        sysroot: str | os.PathLike[str] | None = None,
        namespace: Mapping[str, Any] | None = None,
    ) -> Process:
        """``fdio_spawn_etc``: run a program in this job; returns its Process.

        ``path`` defaults to ``argv[0]`` and is used as given (no PATH search,
        as on Fuchsia).  ``environ`` (a mapping) replaces the environment;
        without it ``SpawnFlags.CLONE_ENVIRON`` passes the caller's.  ``name``
        sets the process name (``SET_NAME`` action); ``fds`` maps a target fd
        in the child to a local fd cloned into it (``CLONE_FD`` actions).
        A missing program raises :class:`~zxpy.errors.NotFoundError` (also a
        ``FileNotFoundError``) whose message holds the path and fdio's
        message; a killed job raises BAD_STATE.  A dynamically linked Fuchsia
        x86-64 executable (PT_INTERP ``ld.so.1``) runs on the host kernel
        through :meth:`spawn_fuchsia` with the dynamic linker and vDSO of
        ``sysroot``, else of the SDK fuchsia_sdk.cfg names (``name``, else
        ``argv[0]``, as its argv[0] and name); without either it raises
        NotSupportedError saying so.  Its fds 0-2 are the caller's, or those
        ``fds`` names; without ``CLONE_STDIO`` in ``flags`` the others are
        /dev/null.  ``sysroot`` is used for nothing else, and
        ``namespace`` (as :meth:`spawn_fuchsia`'s) is for such a program only
        (NotSupportedError for a Linux program, whose namespace is the host's).
        """
        if isinstance(argv, (str, bytes)) or not isinstance(argv, Sequence):
            raise TypeError("argv must be a sequence of arguments, not a single string")
        args = [_fs(a, "argv item") for a in argv]
        if path is None:
            if not args:
                raise ValueError("argv must not be empty when path is not given")
            path_b = args[0]
        else:
            path_b = _fs(path, "path")
        flags = check_u32(flags, "flags")
        keep: list[Any] = []

        def cstr(data: bytes) -> Any:
            buf = _new("char[]", data)
            keep.append(buf)
            return buf

        c_argv = _new("char *[]", len(args) + 1)
        for i, arg in enumerate(args):
            c_argv[i] = cstr(arg)
        c_env: Any = _raw.NULL
        if environ is not None:
            items = _environ_entries(environ, "environ")
            c_env = _new("char *[]", len(items) + 1)
            for i, item in enumerate(items):
                c_env[i] = cstr(item)

        actions_py: list[tuple[int, Any, Any]] = []
        cloned_fds: dict[int, int] = {}  # target fd -> local fd
        if fds is not None:
            if not isinstance(fds, Mapping):
                raise TypeError(f"fds must be a mapping of target fd to local fd, not {type(fds).__name__}")
            for target, local in fds.items():
                local_fd = _check_fd(local, "local fd")
                cloned_fds[_check_fd(target, "target fd")] = local_fd
        for target_fd, local_fd in cloned_fds.items():
            actions_py.append((SpawnAction.CLONE_FD, local_fd, target_fd))
        if name is not None:
            actions_py.append((SpawnAction.SET_NAME, cstr(encode_name(name)), None))
        c_actions: Any = _raw.NULL
        if actions_py:
            c_actions = _new("fdio_spawn_action_t[]", len(actions_py))
            for i, (kind, a, b) in enumerate(actions_py):
                act = c_actions[i]
                act.action = kind
                if kind == SpawnAction.CLONE_FD:
                    act.fd.local_fd = a
                    act.fd.target_fd = b
                else:
                    act.name.data = a

        runnable, refusal = _fuchsia_elf(path_b, sysroot)
        if refusal is not None:
            raise NotSupportedError(syscall="fdio_spawn_etc", koid=self._koid_or_none(), detail=refusal)
        if runnable:
            # A dynamically linked Fuchsia executable: the runner starts it through the configured SDK's ld.so.1
            # (spawn_fuchsia), with argv[0] as its name and the environment fdio_spawn would pass.
            # fds 0-2 become its stdio sockets' host fds (FDIO_SPAWN_ACTION_CLONE_FD of a stdio fd); others have no
            # PA_FD transfer yet.
            if set(cloned_fds) - {0, 1, 2}:
                raise NotSupportedError(syscall="fdio_spawn_etc", koid=self._koid_or_none(),
                                        detail="only fds 0-2 are passed to Fuchsia programs yet")
            if environ is None and flags & SpawnFlags.CLONE_ENVIRON:
                cloned: dict[str | bytes, str | bytes] = {k: v for k, v in os.environb.items()}
                environ = cloned
            # Without CLONE_STDIO fdio_spawn hands over no fd 0-2 but those CLONE_FD names; here such an fd is
            # connected to /dev/null (the program's stdio sockets always exist), so nothing of the caller's is shared.
            stdio: dict[int, int] = {fd: cloned_fds.get(fd, fd) for fd in (0, 1, 2)}
            with contextlib.ExitStack() as stack:
                if not flags & SpawnFlags.CLONE_STDIO:
                    for fd in (0, 1, 2):
                        if fd not in cloned_fds:
                            null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
                            stack.callback(os.close, null)
                            stdio[fd] = null
                return self.spawn_fuchsia(path_b, args[1:], env=environ, sysroot=sysroot,
                                          name=name if name is not None else (args[0] if args else None),
                                          stdin=stdio[0], stdout=stdio[1], stderr=stdio[2], namespace=namespace)
        if namespace is not None:
            raise NotSupportedError(syscall="fdio_spawn_etc", koid=self._koid_or_none(),
                                    detail="namespace= is for Fuchsia programs; a Linux program sees the host's files")

        raw = self.raw
        out = _new(_HANDLE_PTR)
        err_msg = _new("char[]", SPAWN_ERR_MSG_MAX_LENGTH)
        c_path = cstr(path_b)
        status = _raw.fdio_spawn_etc(
            raw, flags, c_path, c_argv, c_env, len(actions_py), c_actions, out, err_msg
        )
        if status:
            message = _raw.ffi.string(err_msg).decode(errors="replace")
            shown = os.fsdecode(path_b)
            # Name the path once: fdio's own message usually names it already.
            detail = message if shown in message else repr(shown) + (f": {message}" if message else "")
            err = self._error(status, "fdio_spawn_etc", detail)
            if isinstance(err, OSError):
                err.filename = os.fsdecode(path_b)
            raise err
        return Process._adopt(out[0])

    def spawn_fuchsia(
        self,
        image: StrOrBytesPath,
        args: Sequence[StrOrBytesPath] = (),
        *,
        vdso: str | os.PathLike[str] | None = None,
        sysroot: str | os.PathLike[str] | None = None,
        env: Mapping[str | bytes, str | bytes] | None = None,
        name: str | bytes | None = None,
        handles: Mapping[int, Handle] | None = None,
        stderr: Any = None,
        ldso: str | os.PathLike[str] | None = None,
        stdin: Any = None,
        stdout: Any = None,
        namespace: Mapping[str, Any] | None = None,
    ) -> FuchsiaProcess:
        """Run the Fuchsia x86-64 program ``image`` in this job (x86-64 Linux hosts; docs/fuchsia-elf.md).

        A static image (no PT_INTERP) is the start image itself.  A dynamically linked executable (PT_INTERP
        ``ld.so.1``) is started as Fuchsia's launcher starts one: the dynamic linker ``ldso`` (else
        ``<sysroot>/dist/lib/ld.so.1``, else the SDK of fuchsia_sdk.cfg) is the start image, and gets the
        executable as a VMO in a first bootstrap message (PA_VMO_EXECUTABLE, PA_VMAR_LOADED; a PA_LDSVC_LOADER
        handle in ``handles`` goes there too).  The runner (host/fuchsia/runner.c) maps the start image, the vDSO
        and a stack as Zircon's launcher does, sends the processargs bootstrap message (argv = ``[name, *args]``,
        ``name`` defaulting to ``image``'s file name, which also names the process; ``env`` as its environ;
        PA_PROC_SELF, PA_THREAD_SELF, PA_VMAR_ROOT, PA_JOB_DEFAULT: this job duplicated, so it needs
        ``DUPLICATE`` as for fdio_spawn; and ``handles``, PA_* tag -> Handle, transferred as
        FDIO_SPAWN_ACTION_ADD_HANDLE does: once the arguments are valid the wrappers are closed, whatever the
        result) and serves the program's syscalls.  The vDSO is ``vdso``, else ``<sysroot>/lib/libzircon.so``,
        else the SDK of fuchsia_sdk.cfg.  The program's fds 0-2 are host-kernel sockets (PA_FD handles, as
        fdio_spawn's FDIO_SPAWN_CLONE_STDIO) pumped from ``stdin`` and to ``stdout`` and ``stderr``: each None (the
        caller's own fd), a file descriptor or file, or :data:`PIPE` (``FuchsiaProcess.stdin``/``stdout``/
        ``stderr``, the caller's ends; read a pipe while the program runs, as a full one stalls its output);
        ``zx_debug_write`` output also goes to ``stderr``.  ``namespace`` maps paths the program sees (``"/tmp"``,
        ``"/pkg"``: absolute, normalized, none inside another) to host directories served to it as fuchsia.io
        directories (host/fuchsia/fileserver.c), read-write, or read-only as ``(directory, "r")``; they reach it
        as the processargs names table with PA_NS_DIR handles, where libfdio's open/stat/unlink/opendir find them;
        :data:`zxpy.fuchsia.SERVICES` as a value (``{"/svc": SERVICES}``) is a service directory holding
        ``fuchsia.process.Launcher``, through which the program's ``fdio_spawn`` starts programs (with its vDSO and
        dynamic linker; docs/fuchsia-elf.md, "fuchsia.process.Launcher").
        Without it the program's namespace is empty, as before (docs/fuchsia-elf.md, "The namespace and
        fuchsia.io").  The Process waits, suspends, is killed and reports info
        as for a Linux program.  Errors: a missing file NotFoundError; a file the runner
        does not map (not ELF, not x86-64, a PT_INTERP other than ld.so.1, a vDSO it cannot read the syscalls of)
        NotSupportedError or IoError naming why; no vDSO or dynamic linker given or configured ValueError; the
        job's errors as :meth:`spawn`.
        """
        fuchsia._require()
        image_b = _fs(image, "image")
        if isinstance(args, (str, bytes)) or not isinstance(args, Sequence):
            raise TypeError("args must be a sequence of arguments, not a single string")
        name_b = encode_name(name if name is not None else os.path.basename(image_b))
        argv_b = [name_b, *(_fs(a, "args item") for a in args)]
        vdso_b = _fs(fuchsia.find_vdso(vdso, sysroot), "vdso")
        probe = fuchsia.elf_probe(image_b) if os.path.exists(image_b) else None
        dynamic = probe is not None and probe.is_fuchsia and probe.machine == 62  # EM_X86_64
        ldso_b = _fs(fuchsia.find_ldso(ldso, sysroot), "ldso") if dynamic else None
        given: list[tuple[int, Handle]] = []
        if handles is not None:
            if not isinstance(handles, Mapping):
                raise TypeError(f"handles must be a mapping of PA_* tag to Handle, not {type(handles).__name__}")
            for tag, handle in handles.items():
                if not isinstance(handle, Handle):
                    raise TypeError(f"handles values must be Handles, not {type(handle).__name__}")
                if handle.raw < 0:
                    raise ValueError(f"handle for tag {tag:#x} is closed")
                given.append((check_u32(tag, "handle tag"), handle))
        ns = _namespace_entries(namespace) if namespace is not None else []
        keep: list[Any] = []

        def cstr(data: bytes) -> Any:
            buf = _new("char[]", data)
            keep.append(buf)
            return buf

        def cvec(items: list[bytes]) -> Any:
            vec = _new("char *[]", len(items) + 1)
            for i, item in enumerate(items):
                vec[i] = cstr(item)
            return vec

        c_env: Any = _raw.NULL
        if env is not None:
            c_env = cvec(_environ_entries(env, "env"))
        streams = {"stdin": stdin, "stdout": stdout, "stderr": stderr}
        piped = {k for k, v in streams.items() if isinstance(v, int) and not isinstance(v, bool) and v == PIPE}
        given_fds = {k: -1 if k in piped else _stdio_fd(v, k) for k, v in streams.items()}
        raw = self.raw
        c_infos = _new("uint32_t[]", [tag for tag, _ in given] or [0])
        c_handles = _new("zx_handle_t[]", len(given) or 1)
        # From here the handles are the runner's, whatever the result (as FDIO_SPAWN_ACTION_ADD_HANDLE's).
        for i, (_, handle) in enumerate(given):
            c_handles[i] = handle._consume("spawn_fuchsia")
        # The namespace: a fuchsia.io connection per directory, tagged PA_HND(PA_NS_DIR, i) for names[i].  None is
        # made when the runner is bound to refuse the files (its NotFoundError follows): a connection's server thread
        # would outlive the failed call by a moment.
        if not all(os.path.isfile(f) for f in (image_b, vdso_b, ldso_b) if f is not None):
            ns = []
        c_names = cvec([n for n, _, _ in ns]) if ns else _raw.NULL
        if ns:
            infos = [tag for tag, _ in given] + [PA_NS_DIR | (i << 16) for i in range(len(ns))]
            c_infos = _new("uint32_t[]", infos)
            all_handles = _new("zx_handle_t[]", len(infos))
            for i in range(len(given)):
                all_handles[i] = c_handles[i]
            c_handles = all_handles
            client = _new(_HANDLE_PTR)
            for i, (path, host, read_only) in enumerate(ns):
                if host is None:
                    # The service directory: its launcher starts programs as this one is started.
                    try:
                        svc_ldso = ldso_b or _fs(fuchsia.find_ldso(ldso, sysroot), "ldso")
                    except ValueError:
                        svc_ldso = None  # no dynamic linker configured: PT_INTERP programs are NOT_SUPPORTED
                    status = _lib.zxpy_fuchsia_svc_connect(cstr(vdso_b), cstr(svc_ldso) if svc_ldso else _raw.NULL,
                                                           client)
                    call, what = "zxpy_fuchsia_svc_connect", f"service directory {os.fsdecode(path)!r}"
                else:
                    status = _lib.zxpy_fuchsia_fs_connect(cstr(host), 1 if read_only else 0, client)
                    call, what = "zxpy_fuchsia_fs_connect", f"namespace directory {os.fsdecode(host)!r}"
                if status:
                    for j in range(len(given) + i):
                        _handle_close(c_handles[j])
                    raise self._error(status, call, what)
                c_handles[len(given) + i] = client[0]
        num_handles = len(given) + len(ns)
        files = [(image_b, "image"), (vdso_b, "vdso")] + ([(ldso_b, "ldso")] if ldso_b is not None else [])
        for path_b, what in files:
            if not os.path.exists(path_b):
                for i in range(num_handles):
                    _handle_close(c_handles[i])
                shown = os.fsdecode(path_b)
                err = from_status(_lib.ZX_ERR_NOT_FOUND, "zxpy_fuchsia_spawn", None, f"{what} {shown!r}: no such file")
                if isinstance(err, OSError):
                    err.filename = shown
                raise err
        # PIPE: the program's end goes to the runner (which duplicates it), the caller keeps the other.
        ours: dict[str, int] = {}
        theirs: list[int] = []
        for key in piped:
            r, w = os.pipe2(os.O_CLOEXEC)
            ours[key], child = (w, r) if key == "stdin" else (r, w)
            given_fds[key] = child
            theirs.append(child)
        fd = given_fds["stderr"]
        c_stdio = _new("int[3]", [0 if given_fds["stdin"] < 0 else given_fds["stdin"],
                                  1 if given_fds["stdout"] < 0 else given_fds["stdout"], 2 if fd < 0 else fd])
        out = _new(_HANDLE_PTR)
        err_msg = _new("char[]", SPAWN_ERR_MSG_MAX_LENGTH)
        try:
            if ldso_b is not None:
                status = _lib.zxpy_fuchsia_spawn_interp(raw, cstr(image_b), cstr(ldso_b), cstr(vdso_b), cstr(name_b),
                                                        cvec(argv_b), c_env, c_infos, c_handles, num_handles, c_names,
                                                        len(ns), c_stdio, fd, out, err_msg)
            else:
                status = _lib.zxpy_fuchsia_spawn(raw, cstr(image_b), cstr(vdso_b), cstr(name_b), cvec(argv_b), c_env,
                                                 c_infos, c_handles, num_handles, c_names, len(ns), c_stdio, fd, out,
                                                 err_msg)
        finally:
            for child in theirs:
                os.close(child)  # the runner holds its own duplicates
        if status:
            for mine in ours.values():
                os.close(mine)
            message = _raw.ffi.string(err_msg).decode(errors="replace")
            shown = os.fsdecode(image_b)
            # The runner's message names the file it is about (the image, the vDSO or ld.so); else name the image.
            named = any(os.fsdecode(f) in message for f, _ in files)
            detail = message if named else repr(shown) + (f": {message}" if message else "")
            err = self._error(status, "zxpy_fuchsia_spawn", detail)
            if isinstance(err, OSError):
                err.filename = shown
            raise err
        proc = FuchsiaProcess._adopt(out[0])
        proc.stdin = os.fdopen(ours["stdin"], "wb", buffering=0) if "stdin" in ours else None
        proc.stdout = os.fdopen(ours["stdout"], "rb", buffering=0) if "stdout" in ours else None
        proc.stderr = os.fdopen(ours["stderr"], "rb", buffering=0) if "stderr" in ours else None
        return proc

    # ---------------------------------------------------------------- exceptions (zxpy.exception)

    def exception_channel(self, debugger: bool = False) -> ExceptionChannel:
        """``zx_task_create_exception_channel``: bind this job's standard (or, ``debugger=True``,
        debugger) exception channel; returns its reading end (:class:`~zxpy.exception.ExceptionChannel`:
        ``receive()`` the exceptions, close it to unbind).  It gets the exceptions of every process below it
        that no closer handler resolved.
        """
        return create_exception_channel(self, debugger)
