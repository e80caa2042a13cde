"""A fast constructor for zxpy's frozen info records, for values zxpy itself read from the kernel.

A ``@dataclass(frozen=True)`` ``__init__`` stores each field through ``object.__setattr__`` (the frozen
``__setattr__`` refuses plain stores): about 0.6-1 us for a 4-6 field record on Python 3.11, more than the syscall
that filled it. :func:`record_maker` returns a function taking the fields positionally that makes the same object
another way - ``object.__new__(cls)`` and one store per field into its ``__dict__`` - about a third of the cost.
The result is an instance of the same class with the same ``__dict__`` as ``cls(*fields)`` would give, so equality,
``repr``, ``hash``, pickling, ``dataclasses.replace``/``asdict`` and immutability (the class's own frozen
``__setattr__``) are those of the dataclass. Only for classes with no ``__post_init__``, no ``__slots__`` and no
``InitVar``/``init=False`` fields (checked when the maker is built).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["record_fields", "record_maker"]

_T = TypeVar("_T")


def record_fields(cls: type) -> tuple[str, ...]:
    """The field names of the dataclass ``cls``, after checking that it can be built without its ``__init__``.

    Also what csrc/fastcalls.c's records (``HandleBasicInfo``, ``ProcessInfo``) are checked against.
    """
    fields = dataclasses.fields(cls)
    if (
        not fields
        or hasattr(cls, "__post_init__")
        or "__slots__" in vars(cls)
        or not all(f.init for f in fields)
        or not all(f.name.isidentifier() and not f.name.startswith("_") for f in fields)
    ):
        raise TypeError(f"record_maker cannot build {cls.__name__} without its __init__")
    return tuple(f.name for f in fields)


def record_maker(cls: type[_T]) -> Callable[..., _T]:
    """``make(*fields)``: an instance of the dataclass ``cls`` equal to ``cls(*fields)``, built without ``__init__``."""
    names = record_fields(cls)
    params = ", ".join(names)
    # One store per field into the fresh instance's __dict__, in field order (so the same dict as __init__
    # makes): ~100 ns less than one ``__dict__.update(**fields)`` for 6 fields, which builds a kwargs dict first.
    stores = "".join(f"    d[{name!r}] = {name}\n" for name in names)
    source = f"def make({params}):\n    obj = _new(_cls)\n    d = obj.__dict__\n{stores}    return obj\n"
    namespace: dict[str, Any] = {"_new": object.__new__, "_cls": cls}
    exec(source, namespace)  # the source is built from the dataclass's own field names
    make: Callable[..., _T] = namespace["make"]
    make.__qualname__ = f"record_maker({cls.__name__})"
    return make
