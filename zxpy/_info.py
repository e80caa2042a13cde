"""One reader for every ``zx_object_get_info`` record topic of the binding's table.

Each topic is declared once, in ``zxpy/_abi.py`` (:data:`zxpy._abi.INFO_TOPICS`):
its constant, its C record type and the method that reads it.  An
:class:`InfoQuery` resolves that entry against the compiled module: the
topic's number and the record's layout are those of the headers zxpy was
built against (``ZX_INFO_PROCESS`` is topic 3 with bools on a 2021 SDK and
topic 0x10000003 with ``flags``/``start_time`` today; Zircon answers both, so
both kernels serve the build as it was compiled).  The decoders in the object
modules ask :meth:`InfoQuery.has` for fields a vintage may lack.
"""

from __future__ import annotations

from typing import Any

from . import _abi, _raw

__all__ = ["InfoQuery", "info_query"]

_TOPICS = {topic.constant: topic for topic in _abi.INFO_TOPICS}


class InfoQuery:
    """A record topic resolved against the compiled module: number, pointer type, size, fields."""

    __slots__ = ("constant", "topic", "ctype", "ptr_type", "size", "fields")

    def __init__(self, constant: str) -> None:
        entry = _TOPICS[constant]
        if entry.ctype is None or entry.array:
            raise ValueError(f"{constant} is not a single-record topic")
        self.constant = constant
        self.topic: int = getattr(_raw.lib, constant)
        self.ctype: str = entry.ctype
        self.ptr_type: Any = _raw.ffi.typeof(entry.ctype + " *")
        self.size: int = _raw.ffi.sizeof(entry.ctype)
        struct = _raw.ffi.typeof(entry.ctype)
        self.fields: frozenset[str] = frozenset(name for name, _ in struct.fields or ())

    def has(self, field: str) -> bool:
        """Whether this build's record has ``field``."""
        return field in self.fields

    def __repr__(self) -> str:
        return f"InfoQuery({self.constant}={self.topic:#x}, {self.ctype}, {self.size} bytes)"


def info_query(constant: str) -> InfoQuery:
    """The :class:`InfoQuery` of a record topic of the table."""
    return InfoQuery(constant)
