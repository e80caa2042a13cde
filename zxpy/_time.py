"""Timeouts and deadlines.

zxpy waits take either a ``timeout`` in seconds, with psutil's meaning, or an
absolute ``deadline`` in nanoseconds of the kernel's monotonic clock
(``zx_clock_get_monotonic``), as Zircon's syscalls do:

* ``timeout=None`` waits forever (``ZX_TIME_INFINITE``);
* ``timeout=0`` polls (``ZX_TIME_INFINITE_PAST``: Zircon returns at once);
* a positive ``int``/``float`` (or ``datetime.timedelta``) waits that long;
  ``float('inf')`` is forever;
* a negative or NaN timeout is a ``ValueError``; anything else, ``bool``
  included, is a ``TypeError``.

A ``deadline`` must be an ``int`` in ``int64`` range; past deadlines poll.
Passing both is a ``ValueError``.
"""

from __future__ import annotations

import datetime
import math

from . import _raw

__all__ = ["monotonic", "deadline_after", "to_deadline", "INFINITE", "INFINITE_PAST"]

INFINITE: int = _raw.TIME_INFINITE
INFINITE_PAST: int = _raw.TIME_INFINITE_PAST

_INT64_MIN = -(1 << 63)
_INT64_MAX = (1 << 63) - 1
# Timeouts above this (about 146 years) are treated as infinite, so adding
# them to the clock can never overflow int64.
_SATURATE_NS = 1 << 62

_clock = _raw.clock_get_monotonic
_after = _raw.deadline_after


def monotonic() -> int:
    """``zx_clock_get_monotonic()``: the kernel's monotonic clock, in ns."""
    return _clock()


def _timeout_ns(timeout: object) -> int | None:
    """Validate ``timeout`` (seconds) and return it in ns; None = infinite."""
    if isinstance(timeout, bool):
        raise TypeError("timeout must be a number of seconds or None, not bool")
    if isinstance(timeout, int):
        if timeout < 0:
            raise ValueError(f"timeout must not be negative, got {timeout}")
        return timeout * 1_000_000_000 if timeout < _SATURATE_NS // 1_000_000_000 else None
    if isinstance(timeout, float):
        if math.isnan(timeout):
            raise ValueError("timeout must not be NaN")
        if timeout < 0:
            raise ValueError(f"timeout must not be negative, got {timeout}")
        ns = timeout * 1e9
        if ns >= _SATURATE_NS:
            return None
        return math.ceil(ns)
    if isinstance(timeout, datetime.timedelta):
        if timeout < datetime.timedelta(0):
            raise ValueError(f"timeout must not be negative, got {timeout}")
        return _timeout_ns(timeout.total_seconds())
    raise TypeError(f"timeout must be a number of seconds or None, not {type(timeout).__name__}")


def deadline_after(seconds: float) -> int:
    """``zx_deadline_after``: the deadline ``seconds`` from now (ns).

    Validates like ``timeout``; ``0`` gives "now", huge values
    ``ZX_TIME_INFINITE``.
    """
    ns = _timeout_ns(seconds)
    if ns is None:
        return INFINITE
    return _after(ns)


def to_deadline(timeout: object = None, deadline: object = None) -> int:
    """Turn a ``timeout`` (s) or an absolute ``deadline`` (ns) into a zx deadline."""
    if deadline is not None:
        if timeout is not None:
            raise ValueError("pass either timeout or deadline, not both")
        if isinstance(deadline, bool) or not isinstance(deadline, int):
            raise TypeError(f"deadline must be an int (ns), not {type(deadline).__name__}")
        if not _INT64_MIN <= deadline <= _INT64_MAX:
            raise ValueError(f"deadline {deadline} is outside the int64 range")
        return deadline
    if timeout is None:
        return INFINITE
    if timeout == 0 and not isinstance(timeout, bool):
        # Validate the type first (0 == 0.0 == False would pass otherwise).
        _timeout_ns(timeout)
        return INFINITE_PAST
    ns = _timeout_ns(timeout)
    if ns is None:
        return INFINITE
    return _after(ns)
