"""Register records of ``zx_thread_read_state`` / ``zx_thread_write_state`` (``zircon/syscalls/debug.h``).

``ZX_THREAD_STATE_GENERAL_REGS`` is ``zx_thread_state_general_regs_t``, whose
layout is the architecture's: :class:`X64GeneralRegs` (``rax`` .. ``r15``,
``rip``, ``rflags``, ``fs_base``, ``gs_base``) or :class:`Arm64GeneralRegs`
(``r[0..29]``, ``lr``, ``sp``, ``pc``, ``cpsr``, ``tpidr``).  The module is
compiled against one architecture's headers, and :data:`GeneralRegs` is that
one's record (``zxpy.buildinfo`` ``arch``); both have ``.pc`` and ``.sp``.
Records are immutable: ``regs.replace(rip=...)`` makes the changed copy that
:meth:`zxpy.Thread.write_state` takes.  Every value is a ``uint64_t``: other
values raise ValueError, non-integers TypeError.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar

from . import _raw
from .handle import check_u64

__all__ = ["ARCH", "Arm64GeneralRegs", "GeneralRegs", "X64GeneralRegs"]

_ffi = _raw.ffi

#: The architecture the module was compiled for (``"x64"``, ``"arm64"``), or None for another one (then
#: zx_thread_read_state has no general-register record here).
ARCH: str | None = _raw.BUILD_INFO.get("arch")


class _Regs:
    """What both records share: validation, ``replace``, and the C conversions."""

    _FIELDS: ClassVar[tuple[str, ...]]

    def __post_init__(self) -> None:
        for name in self._FIELDS:
            check_u64(getattr(self, name), name)

    def replace(self, **changes: int) -> Any:
        """A copy with the named registers changed (``regs.replace(rip=regs.rip + 1)``)."""
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]

    def _to_c(self) -> Any:
        buf = _ffi.new("zx_thread_state_general_regs_t *")
        for name in self._FIELDS:
            setattr(buf, name, getattr(self, name))
        return buf


@dataclass(frozen=True)
class X64GeneralRegs(_Regs):
    """``zx_thread_state_general_regs_t`` of x86-64.

    Zircon refuses (INVALID_ARGS) a non-canonical ``fs_base``/``gs_base`` and
    an ``rip`` that is not a canonical user address; of ``rflags`` only the
    flags user code may change are written.
    """

    rax: int
    rbx: int
    rcx: int
    rdx: int
    rsi: int
    rdi: int
    rbp: int
    rsp: int
    r8: int
    r9: int
    r10: int
    r11: int
    r12: int
    r13: int
    r14: int
    r15: int
    rip: int
    rflags: int
    fs_base: int
    gs_base: int

    _FIELDS: ClassVar[tuple[str, ...]] = (
        "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp", "r8", "r9", "r10", "r11", "r12", "r13",
        "r14", "r15", "rip", "rflags", "fs_base", "gs_base",
    )

    @property
    def pc(self) -> int:
        """The instruction pointer (``rip``)."""
        return self.rip

    @property
    def sp(self) -> int:
        """The stack pointer (``rsp``)."""
        return self.rsp

    @classmethod
    def _from_c(cls, buf: Any) -> X64GeneralRegs:
        return cls(*(int(getattr(buf, name)) for name in cls._FIELDS))


@dataclass(frozen=True)
class Arm64GeneralRegs(_Regs):
    """``zx_thread_state_general_regs_t`` of arm64: ``r`` is x0..x29 (30 values), ``lr`` x30.

    Of ``cpsr`` only the NZCV flags are written, as on Zircon.
    """

    r: tuple[int, ...]
    lr: int
    sp: int
    pc: int
    cpsr: int
    tpidr: int

    _FIELDS: ClassVar[tuple[str, ...]] = ("lr", "sp", "pc", "cpsr", "tpidr")

    def __post_init__(self) -> None:
        if not isinstance(self.r, tuple):
            raise TypeError(f"r must be a tuple of 30 integers, not {type(self.r).__name__}")
        if len(self.r) != 30:
            raise ValueError(f"r must hold 30 registers (x0..x29), got {len(self.r)}")
        for i, value in enumerate(self.r):
            check_u64(value, f"r[{i}]")
        super().__post_init__()

    def _to_c(self) -> Any:
        buf = super()._to_c()
        for i, value in enumerate(self.r):
            buf.r[i] = value
        return buf

    @classmethod
    def _from_c(cls, buf: Any) -> Arm64GeneralRegs:
        return cls(tuple(int(buf.r[i]) for i in range(30)), *(int(getattr(buf, n)) for n in cls._FIELDS))


#: The general-register record of the architecture zxpy was compiled for.
GeneralRegs: type[X64GeneralRegs] | type[Arm64GeneralRegs] | None = (
    X64GeneralRegs if ARCH == "x64" else Arm64GeneralRegs if ARCH == "arm64" else None
)
