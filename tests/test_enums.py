"""Every constant zxpy exposes equals Zircon's value (zircon_abi.json)."""

from __future__ import annotations

import enum
import json
from pathlib import Path
from typing import Any

import pytest
from vintage import SDK_2021, VINTAGE_2021, struct_size

import zxpy
from zxpy import (
    ExceptionChannelType,
    ExceptionState,
    ExceptionStrategy,
    ExceptionType,
    ObjType,
    ProcessInfoFlags,
    RetCode,
    Rights,
    Signals,
    SpawnAction,
    SpawnFlags,
    Status,
    ThreadState,
    ThreadStateKind,
    _abi,
)

_HERE = Path(__file__).parent
_CANDIDATES = [
    _HERE / "data" / "zircon_abi.json",
    _HERE.parent.parent / "shared" / "notes" / "zircon_abi.json",
]


def _load_abi() -> dict[str, Any]:
    for path in _CANDIDATES:
        if path.exists():
            data: dict[str, Any] = json.loads(path.read_text())
            return data
    raise FileNotFoundError(f"zircon_abi.json not found in {[str(p) for p in _CANDIDATES]}")


ABI = _load_abi()


def _value(entry: Any) -> int:
    return int(entry["value"]) if isinstance(entry, dict) else int(entry)


def _section(name: str) -> dict[str, int]:
    """A group of the reference, with the values of this build's vintage (see tests/vintage.py)."""
    names = [k for k, v in ABI[name].items()
             if not k.startswith("_") and (isinstance(v, int) or (isinstance(v, dict) and "value" in v))]
    if VINTAGE_2021:
        # Plus the names only the 2021 headers have (the table's optional ones, e.g. ZX_OBJ_TYPE_LOG).
        names += [c.name for c in _abi.CONSTANTS if c.group == name and c.name not in names]
        return {k: SDK_2021["constants"][k] for k in names if k in SDK_2021["constants"]}
    return {k: _value(ABI[name][k]) for k in names}


# (enum, section of zircon_abi.json, C prefix)
CASES: list[tuple[type[enum.Enum], str, str]] = [
    (Status, "status", "ZX_"),
    (ObjType, "obj_types", "ZX_OBJ_TYPE_"),
    (ThreadState, "thread_states", "ZX_THREAD_STATE_"),
    (ExceptionChannelType, "exception_channel_types", "ZX_EXCEPTION_CHANNEL_TYPE_"),
    (ProcessInfoFlags, "process_info_flags", "ZX_INFO_PROCESS_FLAG_"),
    (RetCode, "retcodes", "ZX_TASK_RETCODE_"),
]


@pytest.mark.parametrize(("enum_cls", "section", "prefix"), CASES, ids=lambda c: getattr(c, "__name__", c))
def test_enum_values_match_zircon(enum_cls: type[enum.Enum], section: str, prefix: str) -> None:
    expected = _section(section)
    for name, member in enum_cls.__members__.items():
        c_name = prefix + name
        assert c_name in expected, f"{enum_cls.__name__}.{name}: {c_name} is not a Zircon name"
        assert member.value == expected[c_name], c_name
        assert member.value == getattr(zxpy.lib, c_name)


def test_every_zircon_status_is_named() -> None:
    expected = {k for k in _section("status")}
    assert {s.c_name for s in Status} == expected


def test_rights_match_zircon() -> None:
    expected = _section("rights")
    for name, member in Rights.__members__.items():
        c_name = ("ZX_RIGHTS_" if name in ("BASIC", "IO", "PROPERTY", "POLICY") else "ZX_RIGHT_") + name
        assert member.value == expected[c_name], c_name
    for kind in ("JOB", "PROCESS", "THREAD", "EVENT", "VMAR", "SUSPEND_TOKEN"):
        ours = getattr(zxpy, f"DEFAULT_{kind}_RIGHTS")
        assert ours == expected[f"ZX_DEFAULT_{kind}_RIGHTS"], kind  # VMAR's differs in 2021
    assert zxpy.DEFAULT_SUSPEND_TOKEN_RIGHTS == Rights.TRANSFER | Rights.INSPECT
    assert Rights.SAME_RIGHTS == 1 << 31
    assert Rights.BASIC == Rights.TRANSFER | Rights.DUPLICATE | Rights.WAIT | Rights.INSPECT


def test_signals_match_zircon() -> None:
    expected = _section("signals")
    for name, member in Signals.__members__.items():
        c_name = ("ZX_SIGNAL_" if name in ("NONE", "HANDLE_CLOSED") else "ZX_") + name
        assert member.value == expected[c_name], c_name
    # Aliases share bits, as in Zircon.
    assert Signals.TASK_TERMINATED == Signals.THREAD_TERMINATED == Signals.PROCESS_TERMINATED
    assert Signals.THREAD_RUNNING == Signals.JOB_NO_JOBS
    assert Signals.THREAD_SUSPENDED == Signals.JOB_NO_PROCESSES


def test_spawn_constants_match_fdio() -> None:
    consts = ABI["syscalls"]["_fdio_spawn_constants"]
    for name, member in SpawnFlags.__members__.items():
        assert member.value == consts["flags"]["FDIO_SPAWN_" + name]
    for name, member in SpawnAction.__members__.items():
        assert member.value == consts["actions"]["FDIO_SPAWN_ACTION_" + name]
    assert zxpy.enums.SPAWN_ERR_MSG_MAX_LENGTH == consts["FDIO_SPAWN_ERR_MSG_MAX_LENGTH"]


def test_misc_constants_match_zircon() -> None:
    misc = {k: _value(v) for k, v in ABI["misc"].items() if isinstance(v, int) or "value" in v}
    assert zxpy.HANDLE_INVALID == misc["ZX_HANDLE_INVALID"]
    assert zxpy.enums.HANDLE_FIXED_BITS_MASK == misc["ZX_HANDLE_FIXED_BITS_MASK"]
    assert zxpy.KOID_INVALID == misc["ZX_KOID_INVALID"]
    assert zxpy.enums.KOID_KERNEL == misc["ZX_KOID_KERNEL"]
    assert zxpy.TIME_INFINITE == misc["ZX_TIME_INFINITE"] == 2**63 - 1
    assert zxpy.TIME_INFINITE_PAST == misc["ZX_TIME_INFINITE_PAST"] == -(2**63)
    assert zxpy.MAX_NAME_LEN == misc["ZX_MAX_NAME_LEN"]
    assert zxpy.enums.OBJ_TYPE_UPPER_BOUND == _value(ABI["obj_types"]["ZX_OBJ_TYPE_UPPER_BOUND"])


def test_info_topics_used_match_zircon() -> None:
    topics = _section("info_topics")
    for name in ("HANDLE_VALID", "HANDLE_BASIC", "PROCESS", "PROCESS_THREADS", "JOB_CHILDREN",
                 "JOB_PROCESSES", "THREAD", "JOB", "PROCESS_HANDLE_STATS"):
        assert getattr(zxpy.lib, "ZX_INFO_" + name) == topics["ZX_INFO_" + name], name
    assert zxpy.lib.ZX_INFO_PROCESS == (3 if VINTAGE_2021 else 0x10000003)


def test_struct_sizes_match_zircon() -> None:
    for name in ("zx_info_handle_basic_t", "zx_info_process_t", "zx_info_thread_t", "zx_info_job_t",
                 "fdio_spawn_action_t"):
        assert zxpy.ffi.sizeof(name) == struct_size(name), name
    assert zxpy.ffi.sizeof("zx_info_process_handle_stats_t") == 4 * zxpy.enums.OBJ_TYPE_UPPER_BOUND


def test_retcode_constants() -> None:
    assert zxpy.TASK_RETCODE_SYSCALL_KILL == RetCode.SYSCALL_KILL == -1024
    assert zxpy.TASK_RETCODE_CRITICAL_PROCESS_KILL == -1029
    assert [int(r) for r in RetCode] == list(range(-1024, -1030, -1))


def test_thread_state_basic() -> None:
    assert ThreadState.BLOCKED_WAIT_ONE.basic is ThreadState.BLOCKED
    assert ThreadState.BLOCKED_PAGER.basic is ThreadState.BLOCKED
    assert ThreadState.SUSPENDED.basic is ThreadState.SUSPENDED


def test_status_names_are_c_names_without_prefix() -> None:
    assert Status.OK == 0
    assert Status.ERR_BAD_HANDLE.c_name == "ZX_ERR_BAD_HANDLE"
    assert Status(-11) is Status.ERR_BAD_HANDLE


def test_raw_module_is_reachable() -> None:
    assert zxpy.lib.ZX_OK == 0
    assert zxpy.ffi.sizeof("zx_handle_t") == 4
    assert zxpy.ffi.sizeof("zx_koid_t") == 8
    assert zxpy.ffi.sizeof("zx_status_t") == 4


# ---------------------------------------------------------------------------
# The enums against the binding's one table (zxpy/_abi.py).
# ---------------------------------------------------------------------------
ENUM_GROUPS: dict[str, tuple[type[enum.Enum], tuple[str, ...]]] = {
    "rights": (Rights, ("ZX_RIGHTS_", "ZX_RIGHT_")),
    "obj_types": (ObjType, ("ZX_OBJ_TYPE_",)),
    "process_info_flags": (ProcessInfoFlags, ("ZX_INFO_PROCESS_FLAG_",)),
    "thread_states": (ThreadState, ("ZX_THREAD_STATE_",)),
    "retcodes": (RetCode, ("ZX_TASK_RETCODE_",)),
    "exception_channel_types": (ExceptionChannelType, ("ZX_EXCEPTION_CHANNEL_TYPE_",)),
    "exception_types": (ExceptionType, ("ZX_EXCP_",)),
    "exception_states": (ExceptionState, ("ZX_EXCEPTION_STATE_",)),
    "exception_strategies": (ExceptionStrategy, ("ZX_EXCEPTION_STRATEGY_",)),
    "spawn_flags": (SpawnFlags, ("FDIO_SPAWN_",)),
    "spawn_actions": (SpawnAction, ("FDIO_SPAWN_ACTION_",)),
    "status": (Status, ("ZX_",)),
    "thread_state_kinds": (ThreadStateKind, ("ZX_THREAD_STATE_",)),
}


def _member_name(c_name: str, prefixes: tuple[str, ...]) -> str:
    return next(c_name[len(p):] for p in prefixes if c_name.startswith(p))


@pytest.mark.parametrize("group", sorted(ENUM_GROUPS))
def test_enum_has_a_member_for_each_constant_the_build_has(group: str) -> None:
    enum_cls, prefixes = ENUM_GROUPS[group]
    table = [c for c in _abi.CONSTANTS if c.group == group]
    assert table, group
    members = set(enum_cls.__members__)
    for const in table:
        name = _member_name(const.name, prefixes)
        assert (name in members) == hasattr(zxpy.lib, const.name), const.name
    assert members <= {_member_name(c.name, prefixes) for c in table}


def test_a_member_this_build_lacks_raises_feature_missing() -> None:
    absent = [c for c in _abi.CONSTANTS if c.gate is not None and not hasattr(zxpy.lib, c.name)]
    for const in absent:
        cls, prefixes = ENUM_GROUPS.get(const.group, (None, ()))
        if cls is None:
            continue
        member = _member_name(const.name, prefixes)
        with pytest.raises(zxpy.FeatureMissingError) as info:
            getattr(cls, member)
        assert isinstance(info.value, zxpy.NotSupportedError)
        assert info.value.feature in (const.name, const.gate)
        assert "built against" in str(info.value)
        assert not hasattr(cls, member)  # also an AttributeError: hasattr/getattr(default) work
    with pytest.raises(AttributeError) as plain:
        Rights.NO_SUCH_RIGHT  # noqa: B018 - a name no table knows: a plain AttributeError
    assert not isinstance(plain.value, zxpy.FeatureMissingError)


def test_require_feature() -> None:
    for name in zxpy.features:
        zxpy.require_feature(name)
    for name in {f.name for f in _abi.FEATURES} - zxpy.features:
        with pytest.raises(zxpy.FeatureMissingError, match=name):
            zxpy.require_feature(name)
    with pytest.raises(ValueError, match="unknown feature"):
        zxpy.require_feature("no_such_feature")


def test_info_topics_of_the_table_have_their_reader() -> None:
    import zxpy.handle

    for topic in _abi.INFO_TOPICS:
        assert hasattr(zxpy.lib, topic.constant), topic.constant
        cls_name, method = topic.reader.split(".")
        cls = getattr(zxpy, cls_name, None) or getattr(zxpy.handle, cls_name)
        assert callable(getattr(cls, method, None)) or isinstance(getattr(cls, method), property), topic


def test_a_module_built_from_another_version_is_refused(tmp_path: Path) -> None:
    """A stale compiled module (built from other sources) must not be imported under a newer Python layer."""
    import shutil
    import subprocess
    import sys

    package = Path(zxpy.__file__).parent
    copy = tmp_path / "zxpy"
    shutil.copytree(package, copy, ignore=shutil.ignore_patterns("__pycache__"))
    (copy / "_version.py").write_text('__version__ = "99.0.0"\n')
    proc = subprocess.run([sys.executable, "-c", "import zxpy"], cwd=tmp_path, capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(tmp_path)}, timeout=60)
    assert proc.returncode != 0
    assert "ImportError" in proc.stderr and "built from zxpy 0.1.0" in proc.stderr and "rebuild" in proc.stderr
    # The same copy with the matching version imports.
    (copy / "_version.py").write_text(f'__version__ = "{zxpy.__version__}"\n')
    proc = subprocess.run([sys.executable, "-c", "import zxpy; print(zxpy.__version__)"], cwd=tmp_path,
                          capture_output=True, text=True, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(tmp_path)},
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
