"""``Event``: the simplest waitable object, handy for signalling and tests.

An event has ``ZX_DEFAULT_EVENT_RIGHTS`` (BASIC|SIGNAL: no DESTROY, no WRITE),
so ``zx_task_kill`` on it is ACCESS_DENIED and ``zx_task_suspend`` too - the
task calls check rights before type.
"""

from __future__ import annotations

from typing import ClassVar

from . import _raw
from .enums import ObjType, Signals
from .errors import from_status
from .handle import Handle, check_u32

__all__ = ["Event"]

_new = _raw.new
_HANDLE_PTR = _raw.HANDLE_PTR
_event_create = _raw.event_create


class Event(Handle):
    """An event handle (``zx_event_create``)."""

    __slots__ = ()
    OBJ_TYPE: ClassVar[int | None] = ObjType.EVENT

    @classmethod
    def create(cls, options: int = 0) -> Event:
        """``zx_event_create``: a new event (options must be 0)."""
        options = check_u32(options, "options")
        out = _new(_HANDLE_PTR)
        status = _event_create(options, out)
        if status:
            raise from_status(status, "zx_event_create")
        return cls._adopt(out[0])

    def set(self) -> None:
        """Assert ``EVENT_SIGNALED``."""
        self.signal(0, Signals.EVENT_SIGNALED)

    def clear(self) -> None:
        """Deassert ``EVENT_SIGNALED``."""
        self.signal(Signals.EVENT_SIGNALED, 0)
