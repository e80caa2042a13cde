"""pytest plugin: a fresh Zircon job per test, checked for survivors and leaked handles.

Loaded by pytest through the ``pytest11`` entry point ``zxpy`` (or ``-p zxpy.pytest_plugin``); importing
:mod:`zxpy` never imports it, nor pytest.  It provides:

* ``zx_job``: a new child of the default job for each test.  When the test function returns, the plugin kills
  the job, waits (bounded) for ``TASK_TERMINATED``, and fails the test if a Linux process it started is still
  alive or if the test body leaked handles (the process's handle count, ``ZX_INFO_PROCESS_HANDLE_STATS``,
  compared before and after the call, the fixtures' own handles excluded).  The fixture's teardown kills the
  job again (a no-op then) and closes it.
* ``zx_spawn``: ``zx_spawn(argv, **kwargs) -> Process`` spawns into ``zx_job`` (``Job.spawn``'s arguments);
  the returned handles are closed at teardown.  ``zx_spawn.pid(proc)`` is the program's Linux pid.
* ``--zx-tree-on-failure`` or ``@pytest.mark.zx_tree``: a failed test's report gets a ``zx job tree`` section
  listing ``zx_job``'s tree (the default job's when the test has no ``zx_job``): koids, names, states and
  return codes.

See docs/pytest-plugin.md.
"""

from __future__ import annotations

import collections
import gc
import os
import signal
import time
from collections.abc import Generator, Iterator, Sequence
from typing import Any

import pluggy
import pytest

from .enums import ObjType
from .errors import TimedOutError, ZxError
from .handle import Handle
from .job import Job, StrOrBytesPath
from .process import Process
from .thread import Thread

__all__ = ["ZxJobCheck", "ZxSpawn", "job_tree"]

#: How long the plugin waits for ``TASK_TERMINATED`` after killing ``zx_job``, in seconds.
TERMINATE_TIMEOUT = 30.0
#: How long a process of the test may take to vanish once the job asserted ``TASK_TERMINATED``: a
#: descendant reparented to PID 1 may stay a zombie for a moment, which already counts as dead.
SURVIVOR_GRACE = 2.0

_STATE = pytest.StashKey["ZxJobCheck"]()
_TREE_OPTION = "--zx-tree-on-failure"
_TREE_SECTION = "zx job tree"
#: The hooks are new-style wrappers (pluggy 1.1, every pytest 8).  pytest loads this plugin in every run where zxpy
#: is installed, so with an older pluggy it registers no hook and its fixtures refuse, rather than breaking the run.
_PLUGGY_OK = tuple(int(part) for part in pluggy.__version__.split(".")[:2] if part.isdigit()) >= (1, 1)

# A Linux process, identified across pid reuse: (pid, start time in clock ticks since boot).
_Pid = tuple[int, int]


# ------------------------------------------------------------------------------------------------ /proc readers


def _stat(pid: int) -> tuple[str, str, int, int] | None:
    """(comm, state, ppid, starttime) of a Linux process, from /proc; None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            stat = f.read()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    return stat[stat.index("(") + 1 : stat.rindex(")")], fields[0], int(fields[1]), int(fields[19])


def _all_pids() -> list[int]:
    """Every pid in /proc (none where there is no /proc: then only the kernel's TASK_TERMINATED is checked)."""
    try:
        return [int(entry) for entry in os.listdir("/proc") if entry.isdigit()]
    except OSError:
        return []


def _alive(proc: _Pid) -> bool:
    """True while the very process (same pid, same start time) exists and is not a zombie."""
    stat = _stat(proc[0])
    return stat is not None and stat[3] == proc[1] and stat[1] not in ("Z", "X")


def _traced_by_us() -> set[_Pid]:
    """Live Linux processes traced by a thread of this process: the programs zxpy spawned and their descendants."""
    try:
        tids = set(os.listdir("/proc/self/task"))
    except OSError:
        return set()
    found: set[_Pid] = set()
    for pid in _all_pids():
        try:
            with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as f:
                tracer = next((line.split()[1] for line in f if line.startswith("TracerPid:")), "0")
        except OSError:
            continue
        if tracer in tids:
            stat = _stat(pid)
            if stat is not None and stat[1] not in ("Z", "X"):
                found.add((pid, stat[3]))
    return found


def _children() -> set[_Pid]:
    """Live children of this process."""
    me = os.getpid()
    found: set[_Pid] = set()
    for pid in _all_pids():
        stat = _stat(pid)
        if stat is not None and stat[2] == me and stat[1] not in ("Z", "X"):
            found.add((pid, stat[3]))
    return found


def _with_descendants(roots: set[_Pid]) -> set[_Pid]:
    """``roots`` and every live process whose parent chain leads to one of them."""
    parent: dict[int, int] = {}
    start: dict[int, int] = {}
    for pid in _all_pids():
        stat = _stat(pid)
        if stat is not None and stat[1] not in ("Z", "X"):
            parent[pid], start[pid] = stat[2], stat[3]
    root_pids = {pid for pid, _ in roots}
    found = set(roots)
    for pid in parent:
        seen: set[int] = set()
        up = parent[pid]
        while up in parent and up not in seen and up not in root_pids:
            seen.add(up)
            up = parent[up]
        if up in root_pids:
            found.add((pid, start[pid]))
    return found


def _describe(proc: _Pid) -> str:
    stat = _stat(proc[0])
    return f"pid {proc[0]} ({stat[0] if stat else '?'})"


def handle_count() -> int:
    """Handles this process holds (``ZX_INFO_PROCESS_HANDLE_STATS`` of ``Process.self()``)."""
    return sum(Process.self().handle_stats().values())


# ------------------------------------------------------------------------------------------------ the job tree


def _process_line(proc: Process, indent: str) -> str:
    info = proc.info()
    if proc.terminated:
        state = "terminated"
    elif info.exited:
        state = "dying"
    elif info.started:
        state = "running"
    else:
        state = "new"
    line = f"{indent}process {proc.koid} {proc.name!r} {state}"
    if info.exited:
        line += f" return_code={info.return_code}"
    if state == "running":
        line += f" threads={len(proc.threads())}"
    return line


def job_tree(job: Job, indent: str = "") -> list[str]:
    """Lines describing ``job`` and everything under it: koids, names, states, return codes.

    Reads the kernel's answer now (``ZX_INFO_JOB_PROCESSES`` / ``ZX_INFO_JOB_CHILDREN`` and each child's
    info); a child that dies while it is read is listed as gone.  Every handle it opens is closed again.
    """
    info = job.info()
    state = "terminated" if job.terminated else ("killed" if info.exited else "alive")
    line = f"{indent}job {job.koid} {job.name!r} {state}"
    if info.exited:
        line += f" return_code={info.return_code}"
    lines = [line]
    inner = indent + "  "
    for koid in job.processes():
        try:
            with job.child(koid) as proc:
                assert isinstance(proc, Process)
                lines.append(_process_line(proc, inner))
        except ZxError:
            lines.append(f"{inner}process {koid} (gone)")
    for koid in job.children():
        try:
            with job.child(koid) as sub:
                assert isinstance(sub, Job)
                lines.extend(job_tree(sub, inner))
        except ZxError:
            lines.append(f"{inner}job {koid} (gone)")
    return lines


def _tree_text(job: Job) -> str:
    try:
        return "\n".join(job_tree(job))
    except (ZxError, ValueError) as err:  # ValueError: the test closed the handle
        return f"(job tree unreadable: {err})"


# ------------------------------------------------------------------------------------------------ the fixtures


class ZxJobCheck:
    """The state behind ``zx_job``: the job, the fixtures' own handles, and the checks run after the call."""

    def __init__(self, job: Job) -> None:
        self.job = job
        # A private duplicate: the plugin can still kill the job if the test closes ``zx_job``.
        self._killer = job.duplicate()
        #: The fixtures' handles, as (handle, opened during the call) pairs.
        self.owned: list[tuple[Handle, bool]] = [(job, False), (self._killer, False)]
        self.pids: dict[int, _Pid] = {}  # koid of a program spawned by zx_spawn -> its Linux process
        self.in_call = False
        self.checked = False
        self.tree_before_kill: str | None = None
        self._count_before = 0
        self._stats_before: dict[ObjType | int, int] = {}
        # Set again as the call begins; from here if it never does (a later fixture's setup failed), so that
        # programs started before this test are never taken for its own.
        self._traced_before: set[_Pid] = _traced_by_us()

    def own(self, handle: Handle) -> None:
        self.owned.append((handle, self.in_call))

    def begin_call(self) -> None:
        # The runtime's own handles (zx_thread_self's for this thread, made on first use) exist before the count.
        Thread.self()
        gc.collect()
        self._stats_before = Process.self().handle_stats()
        self._count_before = sum(self._stats_before.values())
        self._traced_before = _traced_by_us()
        self.in_call = True

    def _leak_message(self) -> str | None:
        gc.collect()
        stats = Process.self().handle_stats()
        diff: collections.Counter[ObjType | int] = collections.Counter(stats)
        diff.subtract(self._stats_before)
        for handle, during_call in self.owned:
            kind = ObjType.JOB if isinstance(handle, Job) else ObjType.PROCESS
            if during_call and not handle.closed:
                diff[kind] -= 1  # the fixtures' own, closed at teardown
            elif not during_call and handle.closed:
                diff[kind] += 1  # the test closed a fixture's handle: not a leak of its own
        leaked = sum(diff.values())
        if leaked <= 0:
            return None
        kinds = ", ".join(
            f"{getattr(k, 'name', k)} {n:+d}" for k, n in sorted(diff.items(), key=lambda kv: int(kv[0])) if n
        )
        return (
            f"zx_job: the test leaked {leaked} handle(s) (handle count {self._count_before} -> "
            f"{sum(stats.values())}, the fixtures' own not counted; by type: {kinds})"
        )

    def _candidates(self) -> set[_Pid]:
        """The Linux processes this test started: new traced ones, zx_spawn's, and their descendants."""
        return _with_descendants((_traced_by_us() - self._traced_before) | set(self.pids.values()))

    def kill_and_wait(self) -> str | None:
        """Kill the job and wait for TASK_TERMINATED; a message if it does not come in time."""
        self._killer.kill()
        try:
            self._killer.wait_terminated(timeout=TERMINATE_TIMEOUT)
        except TimedOutError:
            return f"zx_job: TASK_TERMINATED not asserted {TERMINATE_TIMEOUT:g} s after the kill"
        return None

    def survivors(self, candidates: set[_Pid]) -> str | None:
        end = time.monotonic() + SURVIVOR_GRACE
        alive = {p for p in candidates if _alive(p)}
        while alive and time.monotonic() < end:
            time.sleep(0.01)
            alive = {p for p in alive if _alive(p)}
        if not alive:
            return None
        names = ", ".join(_describe(p) for p in sorted(alive))
        for pid, _ in alive:  # never leave them behind, whatever the outcome
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        return f"zx_job: {len(alive)} Linux process(es) still alive after the job was killed: {names}"

    def end_call(self) -> list[str]:
        """After a call that passed: the leak check, then kill, wait and look for survivors."""
        self.in_call = False
        self.checked = True
        problems = [m for m in [self._leak_message()] if m]
        candidates = self._candidates()
        self.tree_before_kill = _tree_text(self._killer)
        problems += [m for m in (self.kill_and_wait(), self.survivors(candidates)) if m]
        return problems

    def teardown(self) -> list[str]:
        """Kill (again), close the fixtures' handles; after a failed call, still look for survivors."""
        problems: list[str] = []
        try:
            if not self.checked:
                candidates = self._candidates()
                self.tree_before_kill = _tree_text(self._killer)
                problems += [m for m in (self.kill_and_wait(), self.survivors(candidates)) if m]
            else:
                self._killer.kill()
        finally:
            for handle, _ in self.owned:
                handle.close()
        return problems


class ZxSpawn:
    """``zx_spawn``: spawn a program into ``zx_job``; the returned handles are closed at teardown."""

    def __init__(self, check: ZxJobCheck) -> None:
        self._check = check

    def __call__(self, argv: Sequence[StrOrBytesPath], **kwargs: Any) -> Process:
        """``zx_job.spawn(argv, **kwargs)``; the Process stays open until the test's teardown."""
        before = _children()
        proc = self._check.job.spawn(argv, **kwargs)
        self._check.own(proc)
        new = _children() - before
        traced = _traced_by_us()
        mine = (new & traced) or new
        if len(mine) == 1:
            self._check.pids[proc.koid] = next(iter(mine))
        return proc

    def __repr__(self) -> str:
        return f"<zx_spawn into {self._check.job!r}>"

    def pid(self, proc: Process) -> int:
        """The Linux pid of a program this fixture spawned (KeyError if it cannot tell)."""
        return self._check.pids[proc.koid][0]


@pytest.fixture
def zx_job(request: pytest.FixtureRequest) -> Iterator[Job]:
    """A fresh child job of the default job; killed and checked when the test function returns."""
    if not _PLUGGY_OK:
        pytest.fail(f"zxpy's pytest fixtures need pluggy >= 1.1 (pytest >= 8); this is pluggy {pluggy.__version__}",
                    pytrace=False)
    job = Job.default().create_job()
    try:
        job.set_name(f"zx_job {request.node.name}")  # the kernel cuts it to 31 bytes
        check = ZxJobCheck(job)
    except BaseException:
        job.kill()
        job.close()
        raise
    request.node.stash[_STATE] = check
    try:
        yield check.job
    finally:
        problems = check.teardown()
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


@pytest.fixture
def zx_spawn(zx_job: Job, request: pytest.FixtureRequest) -> ZxSpawn:
    """``zx_spawn(argv, **kwargs) -> Process``: spawn into ``zx_job``; handles closed at teardown."""
    return ZxSpawn(request.node.stash[_STATE])


# ------------------------------------------------------------------------------------------------ hooks


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("zxpy", "zxpy job fixtures")
    group.addoption(
        _TREE_OPTION,
        action="store_true",
        default=False,
        help="on a failed test, add a report section listing zx_job's tree (koids, names, states, return codes)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "zx_tree: on failure, add a report section listing the test's zx_job tree")


def _runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    check = item.stash.get(_STATE, None)
    if check is not None:
        check.begin_call()
    result = yield  # raises what the test raised: then the checks wait for teardown
    if check is not None:
        problems = check.end_call()
        if problems:
            pytest.fail("\n".join(problems), pytrace=False)
    return result


def _runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    report = yield
    wanted = item.config.getoption(_TREE_OPTION) or item.get_closest_marker("zx_tree") is not None
    if report.failed and report.when in ("call", "teardown") and wanted:
        check = item.stash.get(_STATE, None)
        if check is None:
            text = "(no zx_job in this test: the default job's tree)\n" + _tree_text(Job.default())
        elif check.tree_before_kill is None:
            text = _tree_text(check.job)
        else:
            text = "before the plugin killed zx_job:\n" + check.tree_before_kill
            if not check.job.closed:
                text += "\nnow:\n" + _tree_text(check.job)
        report.sections.append((_TREE_SECTION, text))
    return report


if _PLUGGY_OK:  # found by name: with an older pluggy the plugin has no hooks (and its fixtures say why)
    pytest_runtest_call = pytest.hookimpl(wrapper=True)(_runtest_call)
    pytest_runtest_makereport = pytest.hookimpl(wrapper=True)(_runtest_makereport)
