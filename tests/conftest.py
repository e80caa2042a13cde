"""Shared fixtures: leak checks, a fresh job per test, C helper programs.

Every test runs under ``no_leaks`` (autouse): the process's handle count
(``ZX_INFO_PROCESS_HANDLE_STATS`` on ``Process.self()``) must come back to
its value before the test, and the test runner must have no child process
left (``/proc``: nothing whose parent is us, zombies included).
"""

from __future__ import annotations

import gc
import mmap
import os
import struct
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

# The robustness tests' --slow option (long runs), registered for every run of the suite.
from conftest_robustness import pytest_addoption, pytest_configure  # noqa: F401
from vintage import host_cc

import zxpy
from zxpy import Job, Process, Thread
from zxpy.testing import ProgressWorker

# fuchsia_tools/ (never installed with zxpy) is imported from the checkout.  Appended, not prepended: where the
# suite runs against an installed zxpy (tox, .ci/run), the source tree's zxpy/ must not shadow it.  pytest loads
# this file before any test module, so no test depends on its import order for this.
_CHECKOUT = str(Path(__file__).resolve().parent.parent)
if _CHECKOUT not in sys.path:
    sys.path.append(_CHECKOUT)

HELPERS = Path(__file__).parent / "helpers"

# Generous limits: these bound waits for asynchronous effects, they are not
# speed goals.
LONG = 30.0
#: How long a stopped counter must stay still to count as stopped.
STILL = 0.3


_H = TypeVar("_H", bound=zxpy.Handle)


def as_kind(cls: type[_H], handle: zxpy.Handle) -> _H:
    """A borrowed wrapper of ``handle``'s value as ``cls``: how a test makes ``cls``'s calls on any kind of handle.

    ``kill``, ``suspend``, ``terminated`` and ``Process.info`` are methods of the C bases ``TaskCore`` and
    ``ProcessCore``, which apply only to their own instances (``Task.kill(event)`` is a TypeError); the tests
    exercise the kernel's own type and rights checks, which this reaches with the same value (a closed wrapper
    stays closed: its value is negative).
    """
    return cls._adopt(handle._raw, False, handle._koid)


def handle_count() -> int:
    """Handles this process holds, by ZX_INFO_PROCESS_HANDLE_STATS."""
    return sum(Process.self().handle_stats().values())


def child_pids(comm: str | None = None) -> set[int]:
    """Pids of this process's children (zombies included), from /proc; only those named ``comm`` if given."""
    me = os.getpid()
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[1]) == me and (comm is None or stat[stat.index("(") + 1 : stat.rindex(")")] == comm):
            found.add(int(entry))
    return found


def pid_alive(pid: int) -> bool:
    """True while /proc shows the pid and it is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            stat = f.read()
    except OSError:
        return False
    state = stat[stat.rindex(")") + 2 :].split()[0]
    return state not in ("Z", "X")


def task_states(pid: int) -> dict[int, str]:
    """State letter of every thread (task) of a Linux process, from /proc."""
    states = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat", encoding="ascii", errors="replace") as f:
                stat = f.read()
        except OSError:
            continue
        states[int(tid)] = stat[stat.rindex(")") + 2 :].split()[0]
    return states


def wait_until(predicate: Callable[[], object], timeout: float = LONG, what: str = "condition") -> None:
    """Poll ``predicate`` until it is true; fail after ``timeout`` seconds."""
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.002)


def advances(read: Callable[[], int], timeout: float = LONG) -> bool:
    """True once ``read()`` changes within ``timeout`` seconds."""
    start = read()
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if read() != start:
            return True
        time.sleep(0.002)
    return False


def stays_still(read: Callable[[], int], period: float = STILL) -> bool:
    """True if ``read()`` does not change for ``period`` seconds."""
    start = read()
    end = time.monotonic() + period
    while time.monotonic() < end:
        if read() != start:
            return False
        time.sleep(0.005)
    return read() == start


@pytest.fixture(scope="session", autouse=True)
def _runtime_handles() -> None:
    """Create the runtime's borrowed handles once, before any baseline."""
    Job.default()
    Process.self()
    Thread.self()


@pytest.fixture(autouse=True)
def no_leaks() -> Iterator[None]:
    """Fail a test that leaks a handle or leaves a child process behind."""
    gc.collect()
    handles_before = handle_count()
    children_before = child_pids()
    yield
    gc.collect()
    # Children of killed jobs are reaped asynchronously: allow for that.
    end = time.monotonic() + LONG
    while child_pids() - children_before and time.monotonic() < end:
        time.sleep(0.01)
    leftover = child_pids() - children_before
    handles_after = handle_count()
    assert not leftover, f"child processes left behind: {sorted(leftover)}"
    assert handles_after == handles_before, (
        f"handle count {handles_before} -> {handles_after}: "
        f"{Process.self().handle_stats()}"
    )


@pytest.fixture
def job() -> Iterator[Job]:
    """A fresh child of the default job, killed and closed afterwards."""
    job = Job.default().create_job()
    try:
        yield job
    finally:
        if not job.closed:
            job.kill()
            job.wait_terminated(timeout=LONG)
            job.close()


@pytest.fixture
def worker() -> Iterator[ProgressWorker]:
    """A running C progress worker thread in this process."""
    with ProgressWorker() as w:
        assert advances(lambda: w.count), "progress worker never started counting"
        yield w


@pytest.fixture(scope="session")
def helper_bin(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], str]:
    """Compile tests/helpers/<name>.c once; return the executable's path."""
    out_dir = tmp_path_factory.mktemp("helpers")
    built: dict[str, str] = {}
    cc = host_cc()

    def build(name: str) -> str:
        if name not in built:
            exe = out_dir / name
            cmd = [*cc, "-O2", "-Wall", "-Wextra", "-Werror", "-pthread",
                   str(HELPERS / f"{name}.c"), "-o", str(exe)]
            subprocess.run(cmd, check=True)
            built[name] = str(exe)
        return built[name]

    return build


class Counters:
    """Reads the counter slots a ``counter`` helper writes into a file."""

    def __init__(self, path: Path, slots: int) -> None:
        self.path = path
        self.slots = slots
        self._map: mmap.mmap | None = None

    def _mapped(self) -> mmap.mmap | None:
        if self._map is None:
            try:
                size = self.path.stat().st_size
            except FileNotFoundError:
                return None
            if size < 8 * self.slots:
                return None
            with open(self.path, "rb") as f:
                self._map = mmap.mmap(f.fileno(), 8 * self.slots, prot=mmap.PROT_READ)
        return self._map

    def __getitem__(self, index: int) -> int:
        mapped = self._mapped()
        if mapped is None:
            return 0
        value: int = struct.unpack_from("=Q", mapped, 8 * index)[0]
        return value

    def close(self) -> None:
        if self._map is not None:
            self._map.close()
            self._map = None


@pytest.fixture
def counters(tmp_path: Path) -> Iterator[Callable[[int], Counters]]:
    """Factory of Counters over a fresh file in tmp_path."""
    made: list[Counters] = []

    def make(threads: int) -> Counters:
        # counter.c: one slot per worker, one for a late worker, one for its pid.
        c = Counters(tmp_path / f"counters{len(made)}", threads + 2)
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """The whole suite must leave no child process behind either."""
    end = time.monotonic() + LONG
    while child_pids() and time.monotonic() < end:
        time.sleep(0.05)
    left = child_pids()
    if left:
        print(f"\nzxpy tests: child processes left after the suite: {sorted(left)}", file=sys.stderr)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


assert zxpy.lib is not None
