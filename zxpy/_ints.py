"""One integer check for every parameter: any ``__index__`` type (numpy integers too), never ``bool``.

Standard library only, so the lowest layers (``errors``, ``_time``) and
``handle`` share it without an import cycle.
"""

from __future__ import annotations

from operator import index as _index
from typing import SupportsIndex, cast

__all__ = ["as_int"]


def as_int(value: object, what: str) -> int:
    """``value`` as a Python int: any integer type (``__index__``), but not bool; TypeError naming ``what``."""
    if type(value) is int:
        return value
    if isinstance(value, bool) or not hasattr(type(value), "__index__"):
        raise TypeError(f"{what} must be an int, not {type(value).__name__}")
    try:
        return _index(cast(SupportsIndex, value))
    except TypeError:  # an __index__ that refuses (numpy.bool_)
        raise TypeError(f"{what} must be an int, not {type(value).__name__}") from None
