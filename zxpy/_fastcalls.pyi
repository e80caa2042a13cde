# The module zxpy._fastcalls, made in C by csrc/fastcalls.c (inside the compiled module zxpy._zx).
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from .enums import Signals
from .handle import HandleBasicInfo
from .process import ProcessInfo
from .task import SuspendToken

_H = TypeVar("_H", bound=HandleCore)

PROCESS_INFO_V2: int
BASIC_INFO_FIELDS: tuple[str, ...]
PROCESS_INFO_FIELDS: tuple[str, ...]

class HandleCore:
    _raw: int
    _owned: bool
    _koid: int | None
    def close(self) -> None: ...
    def _take(self) -> int: ...
    def __enter__(self: _H) -> _H: ...
    def __exit__(self, *exc_info: object) -> None: ...
    @classmethod
    def _adopt(cls: type[_H], raw: int, owned: bool = True, koid: int | None = None) -> _H: ...
    def duplicate(self: _H, rights: int = ...) -> _H: ...
    def wait_one(self, signals: int, timeout: float | None = None, deadline: int | None = None) -> Signals: ...
    def basic_info(self) -> HandleBasicInfo: ...

class TaskCore(HandleCore):
    def kill(self) -> None: ...
    def suspend(self) -> SuspendToken: ...
    @property
    def terminated(self) -> bool: ...

class ProcessCore(TaskCore):
    def info(self) -> ProcessInfo: ...

def configure(
    *,
    suspend_token: type[SuspendToken],
    fast_errors: dict[int, Any],
    from_status: Callable[..., BaseException],
    signals: Mapping[int, Any],
    rights: Mapping[int, Any],
    obj_types: Mapping[int, Any],
    process_info_flags: Mapping[int, Any],
    basic_info: type[HandleBasicInfo],
    process_info: type[ProcessInfo],
    wait_one: Callable[..., Signals],
    check_u32: Callable[[object, str], int],
    same_rights: object,
) -> None: ...
