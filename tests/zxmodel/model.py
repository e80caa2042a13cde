"""Reference model of the Zircon task rules zxpy binds.

The model is a plain-Python kernel: objects (jobs, processes, threads,
events, suspend tokens), a handle table with rights, and the syscalls
``zx_task_kill``, ``zx_task_suspend``, ``zx_handle_close / duplicate /
replace``, ``zx_object_wait_one`` (polling), ``zx_object_signal``,
``zx_object_get_info``, ``zx_object_get_child``, ``zx_job_create``,
``zx_process_create``, ``zx_thread_create``, ``zx_thread_start``,
``zx_event_create`` and ``fdio_spawn``.  Every rule is taken from the real
kernel's source (``zircon/kernel/lib/syscalls/*.cc``,
``zircon/kernel/object/*_dispatcher.cc``; the file is named at each rule) and
Zircon's core tests, never from the host kernel's code, so a disagreement
between the two is a finding.

**Settled states.**  Zircon's suspend, resume and the death of running tasks
are asynchronous (docs/reference/syscalls/task_suspend.md; thread.cc).  The
model keeps only the *settled* state: the one
the kernel reaches once every asynchronous effect of the calls so far has
completed and nothing else happened.  A test compares after letting the real
kernel settle; what *is* synchronous (killing a task with no running thread,
``exited`` right after a kill, every status) is compared strictly.

**Running code.**  The model knows two kinds of running threads: *backed*
threads of the calling process (started with ``zx_thread_start``; they run
until asked to stop) and the one thread of a program started by
``fdio_spawn`` (it runs until killed).  Threads of processes made by
``zx_process_create`` can be created but never run on the host: starting one
is ``ZX_ERR_NOT_SUPPORTED`` there (a deliberate host limitation - on Zircon
it would start executing at the given address in that process).

Calls return ``(status, value)`` with ``status`` the C name (``"ZX_OK"``,
``"ZX_ERR_BAD_HANDLE"``...) and ``value`` the out-parameter (``None`` on
failure).  Handle values are small model-local ints; objects carry a model
id (``oid``), which tests map to real koids.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

__all__ = [
    "ABI",
    "STATUS",
    "RIGHTS",
    "SIG",
    "OBJ",
    "INFO",
    "RETCODE_SYSCALL_KILL",
    "Kernel",
    "Obj",
    "Job",
    "Process",
    "Thread",
    "Event",
    "Token",
    "Handle",
    "BasicInfo",
    "ProcessInfo",
    "ThreadInfo",
    "JobInfo",
]

#: The Zircon ABI values (tests/data/zircon_abi.json, taken from Fuchsia's headers).
ABI: dict[str, Any] = json.loads((Path(__file__).resolve().parent.parent / "data" / "zircon_abi.json").read_text())


def _values(section: str, prefix: str) -> dict[str, int]:
    out = {}
    for name, value in ABI[section].items():
        if name.startswith(prefix):
            out[name[len(prefix):]] = value["value"] if isinstance(value, dict) else value
    return out


STATUS: dict[str, int] = _values("status", "")
_R = _values("rights", "ZX_RIGHT_")
_D = _values("rights", "ZX_DEFAULT_")
_S = _values("signals", "ZX_")
_O = _values("obj_types", "ZX_OBJ_TYPE_")
_I = _values("info_topics", "ZX_INFO_")


class _Names:
    """Attribute access to a name -> value table (``RIGHTS.DESTROY``)."""

    def __init__(self, table: dict[str, int]) -> None:
        self.__dict__.update(table)


#: ZX_RIGHT_* (and ZX_DEFAULT_*_RIGHTS as DEFAULT_*).
RIGHTS: Any = _Names({**_R, **{"DEFAULT_" + k: v for k, v in _D.items()}})
#: Signals (ZX_ prefix removed: TASK_TERMINATED, THREAD_RUNNING, USER_SIGNAL_0...).
SIG: Any = _Names(_S)
#: ZX_OBJ_TYPE_*.
OBJ: Any = _Names(_O)
#: ZX_INFO_* topics.
INFO: Any = _Names(_I)
RETCODE_SYSCALL_KILL: int = ABI["retcodes"]["ZX_TASK_RETCODE_SYSCALL_KILL"]

#: ZX_JOB_NO_CHILDREN is not in the public headers, but the kernel asserts bit 6 on jobs (job_dispatcher.h).
JOB_NO_CHILDREN = 1 << 6
#: Root job height (job_dispatcher.cc: the root job has max_height 32; each child one less).
ROOT_JOB_HEIGHT = 32

OK = "ZX_OK"
BAD_HANDLE = "ZX_ERR_BAD_HANDLE"
WRONG_TYPE = "ZX_ERR_WRONG_TYPE"
ACCESS_DENIED = "ZX_ERR_ACCESS_DENIED"
INVALID_ARGS = "ZX_ERR_INVALID_ARGS"
BAD_STATE = "ZX_ERR_BAD_STATE"
NOT_SUPPORTED = "ZX_ERR_NOT_SUPPORTED"
NOT_FOUND = "ZX_ERR_NOT_FOUND"
OUT_OF_RANGE = "ZX_ERR_OUT_OF_RANGE"
TIMED_OUT = "ZX_ERR_TIMED_OUT"
NO_MEMORY = "ZX_ERR_NO_MEMORY"
#: thread_read_state's answer for a suspended thread of this process: OK if it parked in its park signal's handler
#: (the interrupted context is its registers), NOT_SUPPORTED if it parked elsewhere.
SELF_CONTEXT = "self context"

# Lifecycle states ({job,process,thread}_dispatcher.cc).  The model keeps settled states, so DYING never
# remains after a call returns; it exists for readability of the rules.
READY, KILLING, DEAD = "READY", "KILLING", "DEAD"
INITIAL, RUNNING, DYING = "INITIAL", "RUNNING", "DYING"
NEW, SUSPENDED = "NEW", "SUSPENDED"

# Process kinds.
PLAIN, SELF, PROGRAM = "plain", "self", "program"


class _Fail(Exception):
    def __init__(self, status: str) -> None:
        super().__init__(status)
        self.status = status


def _fail(status: str) -> _Fail:
    return _Fail(status)


_F = TypeVar("_F", bound=Callable[..., Any])


def _syscall(fn: _F) -> _F:
    """Turn a rule body into ``(status, value)``."""

    def wrapper(self: Kernel, *args: Any, **kwargs: Any) -> tuple[str, Any]:
        try:
            return OK, fn(self, *args, **kwargs)
        except _Fail as failure:
            return failure.status, None

    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    return wrapper  # type: ignore[return-value]


# ---------------------------------------------------------------------------------------------- objects


class Obj:
    """A kernel object: a type, a model id, a handle count and user signals."""

    type: int = 0

    def __init__(self, oid: int) -> None:
        self.oid = oid
        self.handles = 0
        self.user_signals = 0  # ZX_USER_SIGNAL_* (and EVENT_SIGNALED on events)

    def related(self) -> int:
        """ZX_INFO_HANDLE_BASIC.related_koid as a model id (0: none)."""
        return 0

    def state_signals(self) -> int:
        return 0

    def signals(self) -> int:
        return self.state_signals() | self.user_signals

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.oid} {getattr(self, 'state', '')}>"


class Job(Obj):
    type = _O["JOB"]

    def __init__(self, oid: int, parent: Job | None, height: int) -> None:
        super().__init__(oid)
        self.parent = parent
        self.jobs: list[Job] = []
        self.processes: list[Process] = []
        self.state = READY
        self.return_code = 0
        self.max_height = height
        self.in_parent = parent is not None

    def related(self) -> int:
        return self.parent.oid if self.parent else 0

    def state_signals(self) -> int:
        # job_dispatcher.cc UpdateSignalsLocked: TERMINATED bit 3, NO_JOBS bit 4, NO_PROCESSES bit 5,
        # unexported NO_CHILDREN bit 6.
        s = 0
        if not self.jobs:
            s |= _S["JOB_NO_JOBS"]
        if not self.processes:
            s |= _S["JOB_NO_PROCESSES"]
        if not self.jobs and not self.processes:
            s |= JOB_NO_CHILDREN
        if self.state == DEAD:
            s |= _S["JOB_TERMINATED"]
        return s


class Process(Obj):
    type = _O["PROCESS"]

    def __init__(self, oid: int, job: Job, kind: str) -> None:
        super().__init__(oid)
        self.job = job
        self.kind = kind
        self.threads: list[Thread] = []  # started and not dead (object.cc, PROCESS_THREADS)
        self.state = INITIAL
        self.return_code = 0
        self.suspend_count = 0
        self.ran = False  # a thread of it was started at some point (start_time != 0)

    def related(self) -> int:
        return self.job.oid

    def state_signals(self) -> int:
        return _S["TASK_TERMINATED"] if self.state == DEAD else 0


class Thread(Obj):
    type = _O["THREAD"]

    def __init__(self, oid: int, process: Process) -> None:
        super().__init__(oid)
        self.process = process
        self.state = NEW
        self.suspend_count = 0
        self.stop_requested = False  # a backed thread asked to exit (it does once it runs)

    def related(self) -> int:
        return self.process.oid

    def effective_suspend(self) -> int:
        # process_dispatcher.cc Suspend/Resume: a thread runs only when its own token count is 0 and its
        # process's is 0.
        return self.suspend_count + (1 if self.process.suspend_count > 0 else 0)

    def state_signals(self) -> int:
        # thread_dispatcher.cc SetStateLocked: nothing before start; exactly one of RUNNING/SUSPENDED from start
        # to death; DEAD -> TERMINATED.
        return {
            NEW: 0,
            RUNNING: _S["THREAD_RUNNING"],
            SUSPENDED: _S["THREAD_SUSPENDED"],
            DEAD: _S["THREAD_TERMINATED"],
        }[self.state]


class Event(Obj):
    type = _O["EVENT"]


class Token(Obj):
    type = _O["SUSPEND_TOKEN"]

    def __init__(self, oid: int, task: Thread | Process) -> None:
        super().__init__(oid)
        self.task = task


@dataclass
class Handle:
    obj: Obj
    rights: int
    external: bool = False  # held outside the tested pool (runtime handles, a worker's own handle...)


# ---------------------------------------------------------------------------------------------- infos


@dataclass(frozen=True)
class BasicInfo:
    oid: int
    rights: int
    type: int
    related: int


@dataclass(frozen=True)
class ProcessInfo:
    return_code: int
    started: bool
    exited: bool
    #: start_time is 0 exactly when the process never ran (process_dispatcher.cc: a killed never-started process has 0).
    ran: bool


@dataclass(frozen=True)
class ThreadInfo:
    state: str  # NEW, RUNNING, SUSPENDED, DYING or DEAD (RUNNING covers the BLOCKED_* states)


@dataclass(frozen=True)
class JobInfo:
    return_code: int
    exited: bool


# ---------------------------------------------------------------------------------------------- kernel

_T = TypeVar("_T", bound=Obj)


class Kernel:
    """The model kernel.

    It starts with the runtime's objects: the default (root) job, the calling
    process in it, and the calling thread, each with one runtime-owned
    handle (``h_default_job``, ``h_self_process``, ``h_self_thread``).
    """

    def __init__(self, default_job_height: int = ROOT_JOB_HEIGHT) -> None:
        self._next_oid = 1
        self._next_handle = 1
        self.objects: list[Obj] = []
        self.handles: dict[int, Handle] = {}
        self.default_job = self._add(Job(self._oid(), None, default_job_height))
        self.self_process = self._add(Process(self._oid(), self.default_job, SELF))
        self.self_process.state = RUNNING
        self.self_process.ran = True
        self.default_job.processes.append(self.self_process)
        self.self_thread = self._add(Thread(self._oid(), self.self_process))
        self.self_thread.state = RUNNING
        self.self_process.threads.append(self.self_thread)
        self.h_default_job = self._new_handle(self.default_job, RIGHTS.DEFAULT_JOB_RIGHTS, external=True)
        self.h_self_process = self._new_handle(self.self_process, RIGHTS.DEFAULT_PROCESS_RIGHTS, external=True)
        self.h_self_thread = self._new_handle(self.self_thread, RIGHTS.DEFAULT_THREAD_RIGHTS, external=True)

    # ------------------------------------------------------------------ bookkeeping

    def _oid(self) -> int:
        oid = self._next_oid
        self._next_oid += 1
        return oid

    def _add(self, obj: _T) -> _T:
        self.objects.append(obj)
        return obj

    def _new_handle(self, obj: Obj, rights: int, external: bool = False) -> int:
        h = self._next_handle
        self._next_handle += 1
        self.handles[h] = Handle(obj, rights, external)
        obj.handles += 1
        return h

    def _get(self, h: int, type_: int | None = None, rights: int = 0) -> Handle:
        """Handle lookup.  Typed lookups check the type before the rights (handle_table.h)."""
        entry = self.handles.get(h)
        if entry is None:
            raise _fail(BAD_HANDLE)
        if type_ is not None and entry.obj.type != type_:
            raise _fail(WRONG_TYPE)
        if entry.rights & rights != rights:
            raise _fail(ACCESS_DENIED)
        return entry

    def obj(self, h: int) -> Obj:
        """The object a live handle names (test helper)."""
        return self.handles[h].obj

    def handle_counts(self) -> dict[int, int]:
        """Open handles by object type (ZX_INFO_PROCESS_HANDLE_STATS of the calling process)."""
        counts: dict[int, int] = {}
        for entry in self.handles.values():
            counts[entry.obj.type] = counts.get(entry.obj.type, 0) + 1
        return counts

    def tasks_under(self, job: Job) -> Iterator[Obj]:
        """Every job and process in the subtree of ``job`` (job included), as listed now."""
        yield job
        yield from job.processes
        for child in job.jobs:
            yield from self.tasks_under(child)

    # ------------------------------------------------------------------ lifecycle rules

    def _update_thread(self, t: Thread) -> None:
        """Settle a started thread: SUSPENDED while any suspension applies, else RUNNING (or gone if asked to)."""
        if t.state not in (RUNNING, SUSPENDED):
            return
        if t.effective_suspend() > 0:
            t.state = SUSPENDED
        elif t.stop_requested:
            self._thread_exit(t)
        else:
            t.state = RUNNING

    def _thread_exit(self, t: Thread) -> None:
        t.state = DEAD
        if t in t.process.threads:
            t.process.threads.remove(t)

    def _process_kill(self, p: Process, code: int) -> None:
        """process_dispatcher.cc Kill: DEAD does nothing; the first code wins; threads in the list die; then DEAD."""
        if p.state == DEAD:
            return
        if p.kind == SELF:
            raise AssertionError("the model never kills the calling process (the call would not return)")
        if p.state != DYING:
            p.return_code = code
        p.state = DYING
        # Started threads are killed (a suspended one is woken only to die, thread.cc); unstarted threads are
        # not in the list and stay NEW (process_dispatcher.cc).
        for t in list(p.threads):
            self._thread_exit(t)
        self._process_dead(p)

    def _process_dead(self, p: Process) -> None:
        p.state = DEAD
        job = p.job
        if p in job.processes:
            job.processes.remove(p)
            self._job_settle(job)

    def _job_settle(self, job: Job) -> None:
        """A child left or the last handle went (job_dispatcher.cc)."""
        if job.jobs or job.processes:
            return
        if job.state == KILLING:
            job.state = DEAD  # death goes bottom-up; a dead job leaves its parent's list
            self._job_detach(job)
        self._sweep()

    def _exists(self, obj: Obj, seen: frozenset[int] = frozenset()) -> bool:
        """Whether anything still references obj (job_dispatcher.cc): handles; a token its task; a started,
        undead thread itself; a thread its process; a process in its job's list; a process its job; a child job
        its parent.  A job's parent lists it by raw pointer, so that list keeps nothing alive."""
        if obj.handles > 0:
            return True
        if id(obj) in seen:
            return False
        seen = seen | {id(obj)}
        referrers: list[Obj] = [o for o in self.objects if isinstance(o, Token) and o.task is obj]
        if isinstance(obj, Thread):
            if obj.state in (RUNNING, SUSPENDED, DYING):
                return True
        elif isinstance(obj, Process):
            if obj in obj.job.processes:
                return True
            referrers += [o for o in self.objects if isinstance(o, Thread) and o.process is obj]
        elif isinstance(obj, Job):
            if obj.parent is None:
                return True
            referrers += [o for o in self.objects if isinstance(o, Process) and o.job is obj]
            referrers += [o for o in self.objects if isinstance(o, Job) and o.parent is obj]
        return any(self._exists(o, seen) for o in referrers)

    def _sweep(self) -> None:
        """~JobDispatcher: a job nothing references any more leaves its parent's list (CloseJobRemovesFromTree)."""
        for job in [o for o in self.objects if isinstance(o, Job) and o.in_parent]:
            if job.in_parent and not self._exists(job):
                self._job_detach(job)

    def _job_detach(self, job: Job) -> None:
        parent = job.parent
        if parent is None or not job.in_parent:
            return
        job.in_parent = False
        parent.jobs.remove(job)
        self._job_settle(parent)

    def _job_kill(self, job: Job, code: int) -> None:
        """job_dispatcher.cc Kill: the subtree becomes KILLING (depth-first), then every collected process is killed."""
        if job.state != READY:
            return
        jobs: list[Job] = []
        processes: list[Process] = []
        stack = [job]
        while stack:
            j = stack.pop()
            jobs.append(j)
            if j.state == READY:
                j.state = KILLING
                j.return_code = code
            processes.extend(j.processes)
            stack.extend(j.jobs)
        for p in processes:
            self._process_kill(p, code)
        for j in reversed(jobs):
            self._job_settle(j)

    def _on_zero_handles(self, obj: Obj) -> None:
        if isinstance(obj, Token):
            task = obj.task
            task.suspend_count -= 1
            self._apply_suspension(task)  # a dead task ignores it (suspend_token_dispatcher.cc)
        elif isinstance(obj, Process):
            # process_dispatcher.cc on_zero_handles: an unstarted process dies with its last handle
            if obj.state == INITIAL:
                self._process_kill(obj, RETCODE_SYSCALL_KILL)
        # Jobs, threads and events live on while referenced (_sweep drops what nothing references).
        self._sweep()

    def _apply_suspension(self, task: Thread | Process) -> None:
        if isinstance(task, Thread):
            self._update_thread(task)
        else:
            for t in list(task.threads):
                self._update_thread(t)

    def _drop_handle(self, h: int) -> None:
        entry = self.handles.pop(h)
        entry.obj.handles -= 1
        if entry.obj.handles == 0:
            self._on_zero_handles(entry.obj)

    @staticmethod
    def _derive(source: int, requested: int) -> int:
        """handle_ops.cc duplicate: exactly SAME_RIGHTS copies; anything else must be a subset (INVALID_ARGS)."""
        if requested == _R["SAME_RIGHTS"]:
            return source
        if requested & ~source:
            raise _fail(INVALID_ARGS)
        return requested

    # ------------------------------------------------------------------ syscalls

    @_syscall
    def task_kill(self, h: int) -> None:
        """task.cc: untyped lookup needing DESTROY; JOB and PROCESS are killed; anything else WRONG_TYPE."""
        obj = self._get(h, None, _R["DESTROY"]).obj
        if isinstance(obj, Job):
            self._job_kill(obj, RETCODE_SYSCALL_KILL)
        elif isinstance(obj, Process):
            self._process_kill(obj, RETCODE_SYSCALL_KILL)
        else:
            raise _fail(WRONG_TYPE)

    @_syscall
    def task_suspend(self, h: int) -> int:
        """task.cc sys_task_suspend: untyped lookup needing WRITE; threads and processes only; self NOT_SUPPORTED."""
        obj = self._get(h, None, _R["WRITE"]).obj
        if isinstance(obj, Thread):
            if obj is self.self_thread:
                raise _fail(NOT_SUPPORTED)
            if obj.state in (DYING, DEAD):
                raise _fail(BAD_STATE)
        elif isinstance(obj, Process):
            if obj.kind == SELF:
                raise _fail(NOT_SUPPORTED)
            if obj.state in (DYING, DEAD):
                raise _fail(BAD_STATE)
        else:
            raise _fail(WRONG_TYPE)
        obj.suspend_count += 1
        self._apply_suspension(obj)
        token = self._add(Token(self._oid(), obj))
        return self._new_handle(token, RIGHTS.DEFAULT_SUSPEND_TOKEN_RIGHTS)

    @_syscall
    def handle_close(self, h: int) -> None:
        """handle_ops.cc: ZX_HANDLE_INVALID (0) is OK; a bad value BAD_HANDLE; the last handle triggers the object's
        rule."""
        if h == 0:
            return
        self._get(h)
        self._drop_handle(h)

    @_syscall
    def handle_duplicate(self, h: int, rights: int) -> int:
        """handle_ops.cc: BAD_HANDLE, then ACCESS_DENIED without DUPLICATE, then INVALID_ARGS for rights not held."""
        entry = self._get(h, None, _R["DUPLICATE"])
        new_rights = self._derive(entry.rights, rights)
        return self._new_handle(entry.obj, new_rights)

    def handle_replace(self, h: int, rights: int) -> tuple[str, int | None]:
        """handle_ops.cc: no DUPLICATE needed; the source is consumed even when the call fails."""
        entry = self.handles.get(h)
        if entry is None:
            return BAD_HANDLE, None
        try:
            new_rights = self._derive(entry.rights, rights)
        except _Fail as failure:
            self._drop_handle(h)
            return failure.status, None
        # The new handle exists before the old goes: a replaced token keeps its task suspended.
        new = self._new_handle(entry.obj, new_rights)
        self._drop_handle(h)
        return OK, new

    def wait_poll(self, h: int, signals: int) -> tuple[str, int | None]:
        """object_wait.cc, a past deadline: ACCESS_DENIED without WAIT; OK if a wanted signal is active, else
        TIMED_OUT.  Returns ``(status, observed)``: observed (every active signal) on OK and TIMED_OUT."""
        try:
            obj = self._get(h, None, _R["WAIT"]).obj
        except _Fail as failure:
            return failure.status, None
        observed = obj.signals()
        return (OK if observed & signals else TIMED_OUT), observed

    @_syscall
    def object_signal(self, h: int, clear_mask: int, set_mask: int) -> None:
        """zx_object_signal: needs SIGNAL; only user signals (and an event's SIGNALED) may change."""
        obj = self._get(h, None, _R["SIGNAL"]).obj
        allowed = _S["USER_SIGNAL_ALL"] | (_S["EVENT_SIGNALED"] if isinstance(obj, Event) else 0)
        if (clear_mask | set_mask) & ~allowed:
            raise _fail(INVALID_ARGS)
        obj.user_signals = (obj.user_signals & ~clear_mask) | set_mask

    @_syscall
    def get_info(self, h: int, topic: int) -> Any:
        """object.cc get_info: unknown topic NOT_SUPPORTED before the lookup; typed topics check type, then rights."""
        if topic == _I["HANDLE_VALID"]:
            self._get(h)
            return None
        if topic == _I["HANDLE_BASIC"]:
            entry = self._get(h)
            return BasicInfo(entry.obj.oid, entry.rights, entry.obj.type, entry.obj.related())
        if topic == _I["PROCESS"]:
            p = self._get(h, _O["PROCESS"], _R["INSPECT"]).obj
            assert isinstance(p, Process)
            # process_dispatcher.cc GetInfo: a dead process reports STARTED even if it never ran; EXITED from DYING on.
            return ProcessInfo(p.return_code, p.state != INITIAL, p.state in (DYING, DEAD), p.ran)
        if topic == _I["THREAD"]:
            t = self._get(h, _O["THREAD"], _R["INSPECT"]).obj
            assert isinstance(t, Thread)
            return ThreadInfo(t.state)
        if topic == _I["JOB"]:
            j = self._get(h, _O["JOB"], _R["INSPECT"]).obj
            assert isinstance(j, Job)
            return JobInfo(j.return_code, j.state != READY)
        if topic == _I["PROCESS_THREADS"]:
            p = self._get(h, _O["PROCESS"], _R["ENUMERATE"]).obj
            assert isinstance(p, Process)
            return [t.oid for t in p.threads]
        if topic in (_I["JOB_CHILDREN"], _I["JOB_PROCESSES"]):
            j = self._get(h, _O["JOB"], _R["ENUMERATE"]).obj
            assert isinstance(j, Job)
            return [c.oid for c in (j.jobs if topic == _I["JOB_CHILDREN"] else j.processes)]
        raise _fail(NOT_SUPPORTED)

    @_syscall
    def get_child(self, h: int, oid: int, rights: int) -> int:
        """object.cc get_child: untyped lookup needing ENUMERATE; rights beyond the parent handle's ACCESS_DENIED;
        a process finds its live threads, a job its child jobs then processes; else NOT_FOUND / WRONG_TYPE."""
        entry = self._get(h, None, _R["ENUMERATE"])
        child_rights = entry.rights if rights == _R["SAME_RIGHTS"] else rights
        if child_rights & ~entry.rights:
            raise _fail(ACCESS_DENIED)
        parent = entry.obj
        candidates: list[Obj]
        if isinstance(parent, Process):
            candidates = list(parent.threads)
        elif isinstance(parent, Job):
            candidates = [*parent.jobs, *parent.processes]
        else:
            raise _fail(WRONG_TYPE)
        for child in candidates:
            if child.oid == oid:
                return self._new_handle(child, child_rights)
        raise _fail(NOT_FOUND)

    @_syscall
    def event_create(self) -> int:
        return self._new_handle(self._add(Event(self._oid())), RIGHTS.DEFAULT_EVENT_RIGHTS)

    @_syscall
    def job_create(self, h: int) -> int:
        """task.cc, job_dispatcher.cc: typed JOB needing MANAGE_JOB; height 0 OUT_OF_RANGE; a killed job BAD_STATE."""
        parent = self._get(h, _O["JOB"], _R["MANAGE_JOB"]).obj
        assert isinstance(parent, Job)
        if parent.max_height == 0:
            raise _fail(OUT_OF_RANGE)
        if parent.state != READY:
            raise _fail(BAD_STATE)
        job = self._add(Job(self._oid(), parent, parent.max_height - 1))
        parent.jobs.append(job)
        return self._new_handle(job, RIGHTS.DEFAULT_JOB_RIGHTS)

    @_syscall
    def process_create(self, h: int) -> int:
        """task.cc: typed JOB needing MANAGE_PROCESS; a killed job BAD_STATE; the process starts INITIAL."""
        job = self._get(h, _O["JOB"], _R["MANAGE_PROCESS"]).obj
        assert isinstance(job, Job)
        if job.state != READY:
            raise _fail(BAD_STATE)
        p = self._add(Process(self._oid(), job, PLAIN))
        job.processes.append(p)
        return self._new_handle(p, RIGHTS.DEFAULT_PROCESS_RIGHTS)

    @_syscall
    def thread_create(self, h: int) -> int:
        """sys_thread_create: typed PROCESS needing MANAGE_THREAD; the thread is NEW, whatever the process's state
        (a dead process gets a thread that can never start)."""
        p = self._get(h, _O["PROCESS"], _R["MANAGE_THREAD"]).obj
        assert isinstance(p, Process)
        t = self._add(Thread(self._oid(), p))
        return self._new_handle(t, RIGHTS.DEFAULT_THREAD_RIGHTS)

    @_syscall
    def thread_start(self, h: int) -> None:
        """typed THREAD needing MANAGE_THREAD; started, or in a dying/dead process: BAD_STATE.

        Host limitation: only threads of the calling process can run (NOT_SUPPORTED otherwise).
        A thread started while suspended asserts RUNNING, then settles SUSPENDED
        (thread_dispatcher.cc MakeRunnable; threads.cc StartSuspendedThread).
        """
        t = self._get(h, _O["THREAD"], _R["MANAGE_THREAD"]).obj
        assert isinstance(t, Thread)
        if t.state != NEW or t.process.state in (DYING, DEAD):
            raise _fail(BAD_STATE)
        if t.process.kind != SELF:
            raise _fail(NOT_SUPPORTED)
        t.state = RUNNING
        t.process.threads.append(t)
        t.process.ran = True
        self._update_thread(t)

    @_syscall
    def spawn(self, h: int) -> int:
        """fdio_spawn(job, CLONE_ALL, program): fdio duplicates the job (needs DUPLICATE), then the launcher's
        process_create needs a JOB with MANAGE_PROCESS that is not killed.  The program runs one thread."""
        self._get(h, None, _R["DUPLICATE"])
        job = self._get(h, _O["JOB"], _R["MANAGE_PROCESS"]).obj
        assert isinstance(job, Job)
        if job.state != READY:
            raise _fail(BAD_STATE)
        p = self._add(Process(self._oid(), job, PROGRAM))
        job.processes.append(p)
        p.state = RUNNING
        p.ran = True
        t = self._add(Thread(self._oid(), p))
        t.state = RUNNING
        p.threads.append(t)
        return self._new_handle(p, RIGHTS.DEFAULT_PROCESS_RIGHTS)

    @_syscall
    def thread_read_state(self, h: int) -> str | None:
        """task.cc sys_thread_read_state: typed THREAD needing READ; thread_dispatcher.cc ReadState: the registers
        only of a suspended thread (BAD_STATE otherwise: new, running, dead).  Host: a spawned program's threads
        have them; a thread of this process has them where it parked in its park signal's handler, which the
        model does not know (SELF_CONTEXT: OK or NOT_SUPPORTED)."""
        t = self._get(h, _O["THREAD"], _R["READ"]).obj
        assert isinstance(t, Thread)
        if t.state != SUSPENDED:
            raise _fail(BAD_STATE)
        if t.process.kind == SELF:
            return SELF_CONTEXT
        if t.process.kind != PROGRAM:
            raise _fail(NOT_SUPPORTED)
        return None

    @_syscall
    def process_read_memory_unmapped(self, h: int) -> None:
        """task.cc sys_process_read_memory at an address nothing maps: typed PROCESS needing READ and WRITE, a dead
        process BAD_STATE (no address space), else NO_MEMORY."""
        p = self._get(h, _O["PROCESS"], _R["READ"] | _R["WRITE"]).obj
        assert isinstance(p, Process)
        if p.state == DEAD:
            raise _fail(BAD_STATE)
        raise _fail(NO_MEMORY)

    # ------------------------------------------------------------------ events outside syscalls

    def request_stop(self, t: Thread) -> None:
        """A backed thread of the calling process is asked to exit: it does once nothing suspends it."""
        t.stop_requested = True
        self._update_thread(t)

    def mark_external(self, h: int) -> None:
        """The handle is held outside the tested pool (it still counts as a handle)."""
        self.handles[h].external = True
