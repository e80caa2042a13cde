"""Helpers for tests and demos: ``ProgressWorker``, a C thread of this process that counts.

A suspended thread makes no progress; a counter that stops moving shows it.  The worker's thread runs C
code that never takes the GIL, so suspending it cannot stall the interpreter: it is the reference subject
for suspending a thread of one's own process (``python -m zxpy demo``, the test suite).  Not needed to use
zxpy; ``zxpy.ProgressWorker`` still finds it, with a DeprecationWarning.
"""

from __future__ import annotations

from typing import Any

from . import _raw
from ._time import to_deadline
from .enums import Signals
from .errors import BadStateError, TimedOutError
from .handle import check_u64
from .process import Process
from .thread import Thread

__all__ = ["ProgressWorker"]

_new = _raw.new
_ffi = _raw.ffi
_lib = _raw.lib
_after = _raw.deadline_after
_TERMINATED = Signals.THREAD_TERMINATED
_SUSPENDED = Signals.THREAD_SUSPENDED
_RUNNING = Signals.THREAD_RUNNING
#: How long a suspended worker's thread may take to show THREAD_RUNNING after its last token closed
#: before stop() concludes that a token is still open (resuming is asynchronous, as suspending is).
_RESUME_GRACE_NS = 2_000_000_000
#: The counters of running workers: the C thread writes to its counter until it exits, so the memory
#: outlives a worker object dropped without close().
_LIVE_WORKERS: set[Any] = set()


class ProgressWorker:
    """A C thread that counts without holding the GIL (``csrc/workers.c``).

    The thread runs ``zxpy_progress_entry``: it increments ``count`` about
    every ``pause_ns`` (default 50 µs) until :meth:`stop`.  Because it never
    touches the interpreter it is safe to suspend, which makes it the
    reference subject for own-process suspension: while suspended its
    counter stops.  Use as a context manager, or call :meth:`close`.
    """

    def __init__(
        self,
        process: Process | None = None,
        name: str = "zxpy-progress",
        pause_ns: int = 0,
    ) -> None:
        pause_ns = check_u64(pause_ns, "pause_ns")
        if process is not None and not isinstance(process, Process):
            raise TypeError(f"process must be a Process, not {type(process).__name__}")
        self._mem: Any = _new("zxpy_progress_t *")
        self._count_ptr: Any = _ffi.addressof(self._mem, "count")
        self._stop_ptr: Any = _ffi.addressof(self._mem, "stop")
        proc = process if process is not None else Process.self()
        self.thread: Thread = proc.create_thread(name)
        self._started = False
        try:
            entry = _ffi.addressof(_lib, "zxpy_progress_entry")
            self.thread.start(entry, int(_ffi.cast("uintptr_t", self._mem)), pause_ns)
        except BaseException:
            self.thread.close()
            raise
        self._started = True
        _LIVE_WORKERS.add(self._mem)

    @property
    def count(self) -> int:
        """The counter's current value."""
        count: int = self._count_ptr[0]
        return count

    def stop(self, timeout: float | None = 10.0) -> None:
        """Ask the thread to exit and wait until it has (TimedOutError if not).

        A suspended worker cannot exit: if a suspend token of its thread is
        still open (``THREAD_SUSPENDED`` is asserted and ``THREAD_RUNNING``
        does not follow within 2 s), this raises
        :class:`~zxpy.errors.BadStateError` saying so, instead of waiting out
        ``timeout``.  The thread is then still asked to stop: close the token
        and call :meth:`stop` (or :meth:`close`) again.
        """
        if not self._started:
            return
        self._stop_ptr[0] = 1
        end = to_deadline(timeout)
        thread = self.thread
        while not thread.wait_one(_TERMINATED | _SUSPENDED, deadline=end) & _TERMINATED:
            # Suspended: a token is open - or was just closed, and the thread is about to run
            # again (resuming is asynchronous too).  Give it a moment to show THREAD_RUNNING.
            grace = min(end, _after(_RESUME_GRACE_NS))
            try:
                thread.wait_one(_TERMINATED | _RUNNING, deadline=grace)
            except TimedOutError:
                raise BadStateError(
                    None,
                    None,
                    thread._koid_or_none(),
                    "the progress worker's thread is suspended: a suspend token of it is still open;"
                    " close the token before stopping the worker",
                ) from None
        self._started = False
        _LIVE_WORKERS.discard(self._mem)

    def close(self) -> None:
        """Stop the thread (if running) and close its handle.

        If a suspend token of the thread is still open this raises
        :class:`~zxpy.errors.BadStateError` (see :meth:`stop`) and keeps the
        thread's handle, so that ``close()`` can be retried once the token is
        closed.
        """
        if self._started and not self.thread.closed:
            try:
                self.stop()
            except BadStateError:
                raise
            except BaseException:
                self.thread.close()
                raise
        self.thread.close()

    def __enter__(self) -> ProgressWorker:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

