"""One integer check for every parameter: any ``__index__`` type (numpy integers too), never ``bool``.

Standard library only, so the lowest layers (``errors``, ``_time``) and
``handle`` share it without an import cycle.
"""

from __future__ import annotations

from operator import index as _index
from typing import SupportsIndex, cast

__all__ = ["as_int"]


def _is_a_bool(value: object) -> bool:
    """Python's bool, or numpy's (whose ``__index__`` numpy before 2.3 still honoured, with a warning)."""
    kind = type(value)
    return isinstance(value, bool) or (kind.__name__ in ("bool", "bool_") and kind.__module__ == "numpy")


def as_int(value: object, what: str) -> int:
    """``value`` as a Python int: any integer type (``__index__``), but not a bool; TypeError naming ``what``."""
    if type(value) is int:
        return value
    if _is_a_bool(value) or not hasattr(type(value), "__index__"):
        raise TypeError(f"{what} must be an int, not {type(value).__name__}")
    try:
        return _index(cast(SupportsIndex, value))
    except TypeError:  # an __index__ that refuses
        raise TypeError(f"{what} must be an int, not {type(value).__name__}") from None
