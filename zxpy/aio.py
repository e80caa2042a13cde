"""asyncio waits on Zircon handles: one port and one waiter thread per event loop.

``await handle.wait_one_async(signals, timeout=...)`` (and
``Task.wait_terminated_async``, ``Process.wait_async``) are built on
:func:`wait_raw_async` here -- below the object modules, on the raw layer,
so handle.py can call it -- as
Fuchsia's async loops are: each wait is a ``zx_object_wait_async`` on the
loop's :class:`~zxpy.port.Port` with a key of its own, and ONE daemon thread
per running event loop sits in ``zx_port_wait`` (the GIL released) and hands
each signal packet to its loop with ``call_soon_threadsafe``, which resolves
the awaiting future.  A thousand concurrent waits cost a thousand kernel
observers, one port and one thread.

* The wait is made through a duplicate of the handle when the handle has
  ``Rights.DUPLICATE`` (else through the handle itself), so closing your
  handle while awaiting does not strand the wait; the duplicate is closed
  when the wait ends.
* A timeout raises :class:`zxpy.errors.TimedOutError`, which is a
  ``TimeoutError`` -- and so, from Python 3.11 on, ``asyncio.TimeoutError``
  too -- carrying ``observed`` as :meth:`~zxpy.handle.Handle.wait_one` does.  ``timeout=0``
  polls without touching the port.
* Cancelling the awaiting task cancels the kernel wait (``zx_port_cancel``),
  so nothing is left observing the object.
* The port and thread are made at the loop's first wait and released one loop
  iteration after its last wait ends (``asyncio.run`` runs that iteration
  before it closes the loop), so a process that is done awaiting holds no
  extra handle.
* After ``os.fork()`` the child has a fresh host kernel (none of the parent's
  handles, the loops' ports included) and only the forking thread: an await
  the parent had in progress raises :class:`zxpy.errors.BadHandleError`
  (saying it was made before the fork) in the child, and the child's next
  wait, on any loop, makes a new port and thread.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import threading
from collections.abc import Callable

from . import _raw
from ._time import INFINITE, INFINITE_PAST
from .errors import ZxError, from_status

__all__ = ["loop_waiter_stats", "wait_raw_async"]

#: What a failed wait raises: the handle's own error constructor (``Handle._error``: status, syscall -> ZxError).
ErrorFactory = Callable[[int, str], ZxError]

_lib = _raw.lib
_new = _raw.new
_HANDLE_PTR = _raw.HANDLE_PTR
_SIGNALS_PTR = _raw.SIGNALS_PTR
_PACKET_PTR = _raw.PACKET_PTR
_port_wait = _raw.port_wait
_port_queue = _raw.port_queue
_port_cancel = _raw.port_cancel
_object_wait_async = _raw.object_wait_async
_object_wait_one = _raw.object_wait_one
_port_create = _raw.port_create
_handle_duplicate = _raw.handle_duplicate
_handle_close = _raw.handle_close
_now = _raw.clock_get_monotonic
_PKT_SIGNAL_ONE: int = _lib.ZX_PKT_TYPE_SIGNAL_ONE
_RIGHT_SAME: int = _lib.ZX_RIGHT_SAME_RIGHTS
_ERR_NOT_FOUND: int = _lib.ZX_ERR_NOT_FOUND
_ERR_TIMED_OUT: int = _lib.ZX_ERR_TIMED_OUT
_ERR_BAD_HANDLE: int = _lib.ZX_ERR_BAD_HANDLE
_STOP_KEY = 0  # a user packet with key 0 tells the thread to stop; waits use keys from 1


class _LoopWaiter:
    """The port, the thread and the outstanding waits of one event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        out = _new(_HANDLE_PTR)
        status = _port_create(0, out)
        if status:
            raise from_status(status, "zx_port_create")
        self.port_raw: int = int(out[0])
        self.closed = False
        self.pending: dict[int, asyncio.Future[int]] = {}
        self.keys = itertools.count(1)
        self.teardown_scheduled = False
        self.thread = threading.Thread(target=self._run, name="zxpy-aio-port", daemon=True)
        self.thread.start()

    # -- the waiter thread -------------------------------------------------------------------------------------
    def _run(self) -> None:
        pkt = _new(_PACKET_PTR)
        port = self.port_raw
        call = self.loop.call_soon_threadsafe
        dispatch = self._dispatch
        while True:
            status = _port_wait(port, INFINITE, pkt)  # the GIL is released while it blocks
            if status or pkt.key == _STOP_KEY:
                return
            if pkt.type != _PKT_SIGNAL_ONE:
                continue
            try:
                call(dispatch, int(pkt.key), int(pkt.signal.observed))
            except RuntimeError:  # the loop was closed under us
                return

    # -- on the loop ---------------------------------------------------------------------------------------------
    def _dispatch(self, key: int, observed: int) -> None:
        fut = self.pending.pop(key, None)
        if fut is not None and not fut.done():
            fut.set_result(observed)
        self._maybe_idle()

    def _maybe_idle(self) -> None:
        if not self.pending and not self.teardown_scheduled:
            self.teardown_scheduled = True
            self.loop.call_soon(self._teardown_if_idle)

    def _teardown_if_idle(self) -> None:
        self.teardown_scheduled = False
        if self.pending:
            return
        if _WAITERS.get(self.loop) is self:  # after a fork the loop may have a new waiter: leave it be
            del _WAITERS[self.loop]
        self.close()

    def _orphan_after_fork(self) -> None:
        """In a fork child: the port and every kernel wait belong to the parent's kernel, and the thread was not
        copied.  Touch neither; end the awaits in progress with an error that says so."""
        self.closed = True
        pending, self.pending = self.pending, {}
        for fut in pending.values():
            if fut.done():
                continue
            err = from_status(_ERR_BAD_HANDLE, "zx_object_wait_async", None,
                              "this wait was made before os.fork(): the child's host kernel is a fresh one, "
                              "without the parent's handles or the event loop's port")
            try:
                fut.set_exception(err)
            except RuntimeError:  # the loop is closed, or (debug mode) ran in a thread the child does not have
                pass

    def close(self) -> None:
        """Stop the thread (a stop packet), join it, close the port."""
        if self.closed:
            return
        self.closed = True
        stop = _new(_PACKET_PTR)
        stop.key = _STOP_KEY
        _port_queue(self.port_raw, stop)
        self.thread.join()
        _handle_close(self.port_raw)


_WAITERS: dict[asyncio.AbstractEventLoop, _LoopWaiter] = {}
_WAITERS_LOCK = threading.Lock()


def _after_fork_in_child() -> None:
    """``os.register_at_fork(after_in_child=...)``: forget the parent's waiters (their ports are not in the
    child's kernel, their threads were not copied) and the lock another thread may have held at the fork."""
    global _WAITERS_LOCK
    _WAITERS_LOCK = threading.Lock()
    waiters = list(_WAITERS.values())
    _WAITERS.clear()
    for w in waiters:
        w._orphan_after_fork()


os.register_at_fork(after_in_child=_after_fork_in_child)


def _waiter() -> _LoopWaiter:
    loop = asyncio.get_running_loop()
    w = _WAITERS.get(loop)
    if w is None:
        with _WAITERS_LOCK:
            w = _WAITERS.get(loop)
            if w is None:
                w = _WAITERS[loop] = _LoopWaiter(loop)
    return w


def loop_waiter_stats() -> dict[str, int]:
    """For tests and diagnostics: the running loop's outstanding waits and whether its waiter thread runs."""
    w = _WAITERS.get(asyncio.get_running_loop())
    return {"pending": len(w.pending) if w else 0, "threads": int(w is not None and w.thread.is_alive())}


def _poll(raw: int, signals: int) -> tuple[int, int]:
    observed = _new(_SIGNALS_PTR)
    status = _object_wait_one(raw, signals, INFINITE_PAST, observed)
    return status, int(observed[0])


async def wait_raw_async(raw: int, signals: int, zx_deadline: int, error: ErrorFactory) -> int:
    """Wait on the running loop's port until any of ``signals`` is active on handle value ``raw``; return the
    signals observed then.  The arguments are checked by the caller (:meth:`zxpy.Handle.wait_one_async`).

    Raises ``error(ZX_ERR_TIMED_OUT, ...)`` with ``observed`` when ``zx_deadline`` passes first, and
    ``error(status, "zx_object_wait_async")`` when the wait cannot be made.
    """
    # One poll first (about a microsecond): a signal already active needs no port, no thread and no trip
    # through the loop (measured: 45 us per await through the port, most of it the thread-to-loop hand-off).
    status, observed = _poll(raw, signals)
    if status != _ERR_TIMED_OUT or (zx_deadline != INFINITE and zx_deadline <= _now()):
        if status:
            err = error(status, "zx_object_wait_one")
            if status == _ERR_TIMED_OUT:
                err.observed = observed
            raise err
        return observed

    # The wait's own handle: a duplicate when allowed, so a close of the caller's handle does not strand it.
    out = _new(_HANDLE_PTR)
    own = _handle_duplicate(raw, _RIGHT_SAME, out) == 0
    source = int(out[0]) if own else raw
    w = _waiter()
    loop = w.loop
    key = next(w.keys)
    fut: asyncio.Future[int] = loop.create_future()
    w.pending[key] = fut
    status = _object_wait_async(source, w.port_raw, key, signals, 0)
    if status:
        del w.pending[key]
        if own:
            _handle_close(source)
        w._maybe_idle()
        raise error(status, "zx_object_wait_async")
    timer = None
    if zx_deadline != INFINITE:
        timer = loop.call_later(max(0.0, (zx_deadline - _now()) / 1e9), _expire, w, key, source)
    try:
        observed = await fut
    except BaseException:
        # Cancelled (or the loop is going away): end the kernel wait; a packet already taken by the thread
        # finds no future and is dropped.
        if w.pending.pop(key, None) is not None:
            _port_cancel(w.port_raw, source, key)
        w._maybe_idle()
        raise
    finally:
        if timer is not None:
            timer.cancel()
        if own:
            _handle_close(source)
    if observed < 0:  # _expire's mark: timed out, -observed - 1 is what the object had then
        err = error(_ERR_TIMED_OUT, "zx_object_wait_async")
        err.observed = -observed - 1
        raise err
    return observed


def _expire(w: _LoopWaiter, key: int, source: int) -> None:
    """The deadline passed: cancel the kernel wait, unless its packet is already on its way."""
    fut = w.pending.get(key)
    if fut is None or fut.done():
        return
    if _port_cancel(w.port_raw, source, key) == _ERR_NOT_FOUND:
        return  # fired: the thread has the packet and will dispatch it
    del w.pending[key]
    _, observed = _poll(source, 0)
    fut.set_result(-observed - 1)
    w._maybe_idle()
