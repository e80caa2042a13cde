"""Timeouts and deadlines.

zxpy waits take either a ``timeout`` in seconds, with psutil's meaning, or an
absolute ``deadline`` in nanoseconds of the kernel's monotonic clock
(``zx_clock_get_monotonic``), as Zircon's syscalls do:

* ``timeout=None`` waits forever (``ZX_TIME_INFINITE``);
* ``timeout=0`` polls (``ZX_TIME_INFINITE_PAST``: Zircon returns at once);
* a positive real number of seconds waits that long: ``int``, ``float``,
  ``fractions.Fraction``, ``decimal.Decimal``, any ``numbers.Real`` (numpy
  floats) or ``__index__`` integer (numpy integers), or a
  ``datetime.timedelta``; ``float('inf')`` is forever.  Fractions and
  decimals are converted exactly, rounded up to the next nanosecond;
* a negative or NaN timeout is a ``ValueError``; anything else, ``bool``
  included, is a ``TypeError``.

A ``deadline`` must be an integer (any ``__index__`` type but ``bool``) in
``int64`` range; past deadlines poll.  Passing both is a ``ValueError``.
"""

from __future__ import annotations

import datetime
import math
import numbers
from decimal import Decimal
from fractions import Fraction

from . import _raw
from ._ints import as_int

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


def _not_a_timeout(timeout: object) -> TypeError:
    return TypeError(f"timeout must be a real number of seconds or None, not {type(timeout).__name__}")


def _timeout_ns(timeout: object) -> int | None:
    """Validate ``timeout`` (seconds) and return it in ns; None = infinite."""
    if isinstance(timeout, bool):
        raise _not_a_timeout(timeout)
    if not isinstance(timeout, (int, float, datetime.timedelta)):
        timeout = _real(timeout)
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
    if isinstance(timeout, (Fraction, Decimal)):
        if isinstance(timeout, Decimal) and timeout.is_nan():
            raise ValueError("timeout must not be NaN")
        if timeout < 0:
            raise ValueError(f"timeout must not be negative, got {timeout}")
        exact = timeout * 1_000_000_000
        return None if exact >= _SATURATE_NS else math.ceil(exact)
    raise _not_a_timeout(timeout)


def _real(timeout: object) -> int | float | Fraction | Decimal:
    """An integer (``__index__``), Fraction or Decimal as itself; any other real number as a float."""
    if isinstance(timeout, (Fraction, Decimal)):
        return timeout
    if hasattr(type(timeout), "__index__"):
        try:
            return as_int(timeout, "timeout")
        except TypeError:  # an __index__ that refuses (numpy.bool_): the timeout message, not as_int's
            raise _not_a_timeout(timeout) from None
    if isinstance(timeout, numbers.Real):
        return float(timeout)
    raise _not_a_timeout(timeout)


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
        deadline = as_int(deadline, "deadline (ns)")
        if not _INT64_MIN <= deadline <= _INT64_MAX:
            raise ValueError(f"deadline {deadline} is outside the int64 range")
        return deadline
    if timeout is None:
        return INFINITE
    ns = _timeout_ns(timeout)
    if ns is None:
        return INFINITE
    if ns == 0:
        return INFINITE_PAST
    return _after(ns)
