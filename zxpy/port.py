"""``Port``: Zircon's packet queue, and asynchronous waits on any waitable handle.

A port takes *user packets* (:meth:`Port.queue`: a key, a status and 32
bytes) and *signal packets*: :meth:`Port.wait_async` asks the kernel
(``zx_object_wait_async``) to queue one ``ZX_PKT_TYPE_SIGNAL_ONE`` packet
with the given key when any of the signals is active on the handle's object
-- at once if one already is (unless ``edge=True``: only on a transition).
The wait is one shot; :meth:`Port.cancel` (``zx_port_cancel``) ends it and
removes its packet if already queued; closing the waited handle ends it too
(a packet already queued stays).  :meth:`Port.wait` (``zx_port_wait``)
takes packets in FIFO order.

A port has ``ZX_DEFAULT_PORT_RIGHTS`` (no ``WAIT``: it is not waitable
itself).  :mod:`zxpy.aio` builds ``await handle.wait_one_async(...)`` on one
port per event loop.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, ClassVar

from . import _raw
from ._time import to_deadline
from .enums import SIGNALS, ObjType, Signals
from .errors import from_status
from .handle import _MAIN_THREAD_IDENT, _WAIT_SLICE_NS, Handle, check_u32, check_u64

__all__ = ["PACKET_SIGNAL_ONE", "PACKET_USER", "Port", "PortPacket", "WAIT_ASYNC_EDGE", "WAIT_ASYNC_TIMESTAMP"]

_lib = _raw.lib
_ffi = _raw.ffi
_new = _raw.new
_HANDLE_PTR = _raw.HANDLE_PTR
_PACKET_PTR = _raw.PACKET_PTR
_port_create = _raw.port_create
_port_queue = _raw.port_queue
_port_wait = _raw.port_wait
_port_cancel = _raw.port_cancel
_object_wait_async = _raw.object_wait_async
_nanosleep = _raw.nanosleep
_now = _raw.clock_get_monotonic
_get_ident = threading.get_ident
_INFINITE_PAST: int = _raw.TIME_INFINITE_PAST
_ERR_TIMED_OUT: int = _lib.ZX_ERR_TIMED_OUT
_ERR_BAD_HANDLE: int = _lib.ZX_ERR_BAD_HANDLE

#: ``zx_port_packet_t.type`` of a packet queued by :meth:`Port.queue`.
PACKET_USER: int = _lib.ZX_PKT_TYPE_USER
#: ``zx_port_packet_t.type`` of a packet queued by :meth:`Port.wait_async`.
PACKET_SIGNAL_ONE: int = _lib.ZX_PKT_TYPE_SIGNAL_ONE
#: ``zx_object_wait_async`` options.
WAIT_ASYNC_TIMESTAMP: int = _lib.ZX_WAIT_ASYNC_TIMESTAMP
WAIT_ASYNC_EDGE: int = _lib.ZX_WAIT_ASYNC_EDGE
_USER_SIZE = 32


@dataclass(frozen=True)
class PortPacket:
    """A packet taken by :meth:`Port.wait`.

    ``type`` is :data:`PACKET_USER` or :data:`PACKET_SIGNAL_ONE`.  A user
    packet carries ``payload`` (32 bytes); a signal packet ``trigger`` (the
    signals asked for), ``observed`` (every signal active when it fired),
    ``count`` (always 1: Zircon's ``PortDispatcher::Queue`` in every kernel that knows
    ``ZX_WAIT_ASYNC_EDGE``, see docs/asyncio.md) and ``timestamp`` (ns of :func:`zxpy.monotonic`, 0 unless the
    wait asked for :data:`WAIT_ASYNC_TIMESTAMP`); the other fields are None.
    """

    key: int
    type: int
    status: int
    payload: bytes | None = None
    trigger: Signals | None = None
    observed: Signals | None = None
    count: int | None = None
    timestamp: int | None = None

    @property
    def is_signal(self) -> bool:
        return self.type == PACKET_SIGNAL_ONE

    @classmethod
    def _from_c(cls, pkt: Any) -> PortPacket:
        if pkt.type == PACKET_SIGNAL_ONE:
            sig = pkt.signal
            return cls(int(pkt.key), int(pkt.type), int(pkt.status), None, SIGNALS[sig.trigger],
                       SIGNALS[sig.observed], int(sig.count), int(sig.timestamp))
        return cls(int(pkt.key), int(pkt.type), int(pkt.status), bytes(_ffi.buffer(pkt.user.c8)))


class Port(Handle):
    """A port handle (``zx_port_create``)."""

    __slots__ = ()
    OBJ_TYPE: ClassVar[int | None] = ObjType.PORT

    @classmethod
    def create(cls, options: int = 0) -> Port:
        """``zx_port_create``: a new port (options 0; ``ZX_PORT_BIND_TO_INTERRUPT`` means nothing on the host)."""
        options = check_u32(options, "options")
        out = _new(_HANDLE_PTR)
        status = _port_create(options, out)
        if status:
            raise from_status(status, "zx_port_create")
        return cls._adopt(out[0])

    def queue(self, key: int, payload: bytes | bytearray | memoryview = b"", status: int = 0) -> None:
        """``zx_port_queue``: queue a user packet (``payload`` at most 32 bytes, zero-padded).

        Needs ``Rights.WRITE``; :class:`~zxpy.errors.ShouldWaitError` when the port holds 2048 user packets.
        """
        key = check_u64(key, "key")
        if not isinstance(payload, (bytes, bytearray, memoryview)):
            raise TypeError(f"payload must be bytes-like, not {type(payload).__name__}")
        data = bytes(payload)
        if len(data) > _USER_SIZE:
            raise ValueError(f"payload is {len(data)} bytes; a user packet carries at most {_USER_SIZE}")
        if isinstance(status, bool) or not isinstance(status, int) or not -(1 << 31) <= status < (1 << 31):
            raise ValueError(f"status must be an int32, not {status!r}")
        raw = self._raw_or_raise("zx_port_queue")
        pkt = _new(_PACKET_PTR)
        pkt.key = key
        pkt.status = status
        _ffi.memmove(pkt.user.c8, data, len(data))
        err = _port_queue(raw, pkt)
        if err:
            raise self._error(err, "zx_port_queue")

    def wait(self, timeout: float | None = None, deadline: int | None = None) -> PortPacket:
        """``zx_port_wait``: take the first packet, waiting for one until the deadline.

        ``timeout`` / ``deadline`` as every zxpy wait; :class:`~zxpy.errors.TimedOutError` when it passes
        with the port empty (a queued packet is returned even past the deadline).  Needs ``Rights.READ``.
        On the main thread a long wait runs in slices, so Ctrl-C (KeyboardInterrupt) and other Python
        signal handlers interrupt it; an interrupted wait has taken no packet.  Closing the port's handle
        does not end a wait (Zircon's rule): it runs to its deadline.
        """
        zx_deadline = to_deadline(timeout, deadline)
        raw = self._raw_or_raise("zx_port_wait")
        pkt = _new(_PACKET_PTR)
        if zx_deadline == _INFINITE_PAST or _get_ident() != _MAIN_THREAD_IDENT:
            err = _port_wait(raw, zx_deadline, pkt)  # a poll, or not the main thread: one kernel wait
        else:
            err = self._wait_sliced(raw, zx_deadline, pkt)
        if err:
            raise self._error(err, "zx_port_wait")
        return PortPacket._from_c(pkt)

    def _wait_sliced(self, raw: int, deadline: int, pkt: Any) -> int:
        """``zx_port_wait`` on the main thread, in slices of ``_WAIT_SLICE_NS``: Python runs its signal
        handlers (KeyboardInterrupt) only between calls, as for :meth:`Handle.wait_one`.  Returns the status.

        A close of this port's handle does not end a Zircon port wait (``sys_port_wait`` holds a reference to
        the ``PortDispatcher``, and the last handle's ``on_zero_handles`` drops the packets and observers but
        wakes no waiter: zircon/kernel/lib/syscalls/port.cc, zircon/kernel/object/port_dispatcher.cc).  So a
        close that lands between two slices lets the wait run to its deadline and end TIMED_OUT, as the
        kernel wait does when the handle was the port's last one.
        """
        closed = waited = False
        while True:
            slice_end = _now() + _WAIT_SLICE_NS
            end = deadline if slice_end >= deadline else slice_end
            if closed:
                _nanosleep(end)  # no handle left to wait through: the rest of the wait can take nothing
                status = _ERR_TIMED_OUT
            else:
                status = _port_wait(raw, end, pkt)
                if status == _ERR_BAD_HANDLE and waited and self._raw != raw:
                    closed = True  # closed after the check below, before this slice looked the handle up
                    continue
            if status != _ERR_TIMED_OUT or end == deadline:
                return status
            waited = True
            if self._raw != raw:
                closed = True

    def wait_async(self, handle: Handle, key: int, signals: int, *, timestamp: bool = False,
                   edge: bool = False) -> None:
        """``zx_object_wait_async``: queue one signal packet with ``key`` when any of ``signals`` is active
        on ``handle``'s object (at once if one already is, unless ``edge``).

        ``handle`` needs ``Rights.WAIT`` and this port ``Rights.WRITE``; a port is not waitable
        (:class:`~zxpy.errors.AccessDeniedError` through its rights).
        """
        if not isinstance(handle, Handle):
            raise TypeError(f"handle must be a zxpy Handle, not {type(handle).__name__}")
        key = check_u64(key, "key")
        signals = check_u32(signals, "signals")
        options = (WAIT_ASYNC_TIMESTAMP if timestamp else 0) | (WAIT_ASYNC_EDGE if edge else 0)
        raw = self._raw_or_raise("zx_object_wait_async")
        source = handle._raw_or_raise("zx_object_wait_async")
        err = _object_wait_async(source, raw, key, signals, options)
        if err:
            raise handle._error(err, "zx_object_wait_async")

    def cancel(self, source: Handle, key: int) -> None:
        """``zx_port_cancel``: end the waits made through ``source`` with ``key`` on this port and remove
        their queued packets.  :class:`~zxpy.errors.NotFoundError` when there was neither."""
        if not isinstance(source, Handle):
            raise TypeError(f"source must be a zxpy Handle, not {type(source).__name__}")
        key = check_u64(key, "key")
        raw = self._raw_or_raise("zx_port_cancel")
        src = source._raw_or_raise("zx_port_cancel")
        err = _port_cancel(raw, src, key)
        if err:
            raise self._error(err, "zx_port_cancel")
