"""ABI conformance: zxpy's headers and compiled module against the recorded Zircon ABI.

The reference is ``tests/data/zircon_abi.json``, a committed copy of the
ABI facts (values, typedefs, struct layouts, syscall signatures) gathered
from Fuchsia's public headers.  Two layers are checked:

* the compiled module ``zxpy._zx``: every integer constant it exports, its
  struct sizes/offsets (``ffi.sizeof``/``ffi.offsetof``) and its function
  types, as compiled against whatever headers the build used (zxpy's own, or
  a configured SDK's);
* the C headers in ``host/include`` themselves, by compiling a generated file
  of ``_Static_assert``s -- this covers every value in the reference, also
  those the module does not export.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from zxpy import _abi
from zxpy._raw import BUILD_INFO
from zxpy._zx import ffi, lib
from zxpy.buildinfo import features, optional_constants

ROOT = Path(__file__).resolve().parent.parent
ABI: dict[str, Any] = json.loads((Path(__file__).parent / "data" / "zircon_abi.json").read_text())

#: The 2021 core SDK's facts (tests/data/sdk_2021_abi.json): the reference for a 2021-vintage build.
SDK_2021: dict[str, Any] = json.loads((Path(__file__).parent / "data" / "sdk_2021_abi.json").read_text())

#: A build against headers from before RFC-0074 (topic 3 with bools) is of the
#: 2021 vintage, the only older one zxpy supports; it is checked against the
#: 2021 facts, every other build against today's reference.
VINTAGE_2021 = "info_process_v2" not in features


def built(gate: str | None, name: str = "") -> bool:
    """Whether this build has a table entry with ``gate``."""
    if gate is None:
        return True
    if gate == "optional":
        return name in optional_constants
    return gate in features


#: The architecture the module was compiled for (picks the register records of zircon/syscalls/debug.h).
ARCH = BUILD_INFO.get("arch")

#: The binding's contract as built: derived from the one table (zxpy/_abi.py).
MODULE_STRUCTS = tuple(
    s.name
    for s in _abi.STRUCTS
    if s.layout(features, ARCH) is not None
    # zxpy's own record and the handle-stats array have tests of their own below.
    and s.name not in ("zxpy_progress_t", "zx_info_process_handle_stats_t")
)
MODULE_TYPES = tuple(t.name for t in _abi.TYPEDEFS if built(t.gate))
MODULE_FUNCTIONS = tuple(f.name for f in _abi.FUNCTIONS if f.library != "zxpy" and built(f.gate))

#: Signatures the reference does not list (zx_object_signal, zx_event_create, the port calls), spelled out here
#: (the port calls as the 2021 SDK declares them; their ABI has not changed since).
EXTRA_SIGNATURES = {
    "zx_object_signal": ("zx_status_t", ["zx_handle_t", "uint32_t", "uint32_t"]),
    "zx_event_create": ("zx_status_t", ["uint32_t", "zx_handle_t*"]),
    "zx_object_set_property": ("zx_status_t", ["zx_handle_t", "uint32_t", "const void*", "size_t"]),
    "zx_port_create": ("zx_status_t", ["uint32_t", "zx_handle_t*"]),
    "zx_port_queue": ("zx_status_t", ["zx_handle_t", "const zx_port_packet_t*"]),
    "zx_port_wait": ("zx_status_t", ["zx_handle_t", "zx_time_t", "zx_port_packet_t*"]),
    "zx_port_cancel": ("zx_status_t", ["zx_handle_t", "zx_handle_t", "uint64_t"]),
    "zx_object_wait_async": ("zx_status_t", ["zx_handle_t", "zx_handle_t", "uint64_t", "zx_signals_t", "uint32_t"]),
    # The debugger's calls (zircon/syscalls.h of the 2021 SDK and today, unchanged).
    "zx_thread_read_state": ("zx_status_t", ["zx_handle_t", "uint32_t", "void*", "size_t"]),
    "zx_thread_write_state": ("zx_status_t", ["zx_handle_t", "uint32_t", "const void*", "size_t"]),
    "zx_process_read_memory": ("zx_status_t", ["zx_handle_t", "zx_vaddr_t", "void*", "size_t", "size_t*"]),
    "zx_process_write_memory": ("zx_status_t", ["zx_handle_t", "zx_vaddr_t", "const void*", "size_t", "size_t*"]),
    "zx_channel_create": ("zx_status_t", ["uint32_t", "zx_handle_t*", "zx_handle_t*"]),
    "zx_channel_read": ("zx_status_t", ["zx_handle_t", "uint32_t", "void*", "zx_handle_t*", "uint32_t", "uint32_t",
                                        "uint32_t*", "uint32_t*"]),
    "zx_channel_write": ("zx_status_t", ["zx_handle_t", "uint32_t", "const void*", "uint32_t", "const zx_handle_t*",
                                         "uint32_t"]),
    "zx_task_create_exception_channel": ("zx_status_t", ["zx_handle_t", "uint32_t", "zx_handle_t*"]),
    "zx_exception_get_thread": ("zx_status_t", ["zx_handle_t", "zx_handle_t*"]),
    "zx_exception_get_process": ("zx_status_t", ["zx_handle_t", "zx_handle_t*"]),
}

#: Port names and records today's reference (zircon_abi.json) does not carry: their values and layouts are taken
#: from the 2021 SDK record, unchanged since (zircon/syscalls/port.h).
PORT_CONSTANTS_2021 = ("ZX_DEFAULT_PORT_RIGHTS ZX_PKT_TYPE_USER ZX_PKT_TYPE_SIGNAL_ONE ZX_WAIT_ASYNC_ONCE "
                       "ZX_WAIT_ASYNC_TIMESTAMP ZX_WAIT_ASYNC_EDGE").split()
PORT_STRUCTS_2021 = ("zx_packet_user_t", "zx_packet_signal_t", "zx_port_packet_t")
#: The x86-64 register records: the 2021 SDK record (x64), the same layouts today (zircon/syscalls/debug.h).
DEBUG_STRUCTS_2021 = ("zx_thread_state_general_regs_t", "zx_thread_state_fp_regs_t", "zx_thread_state_vector_regs_t")
#: The arm64 ones, which no record here carries: (size, [(field, offset)]) from zircon/syscalls/debug.h.
DEBUG_STRUCTS_ARM64 = {
    "zx_thread_state_general_regs_t": (280, [("r", 0), ("lr", 240), ("sp", 248), ("pc", 256), ("cpsr", 264),
                                             ("tpidr", 272)]),
    "zx_thread_state_fp_regs_t": (4, [("unused", 0)]),
    "zx_thread_state_vector_regs_t": (520, [("fpcr", 0), ("fpsr", 4), ("v", 8)]),
}

#: The debugger's names today's reference does not carry either (zircon/syscalls/debug.h): the kinds of
#: zx_thread_read_state, taken from the 2021 SDK record, unchanged since; and the process properties.
DEBUG_CONSTANTS_2021 = ("ZX_THREAD_STATE_GENERAL_REGS ZX_THREAD_STATE_FP_REGS ZX_THREAD_STATE_VECTOR_REGS "
                        "ZX_THREAD_STATE_DEBUG_REGS ZX_THREAD_STATE_SINGLE_STEP ZX_PROP_PROCESS_DEBUG_ADDR "
                        "ZX_PROP_PROCESS_BREAK_ON_LOAD").split()
#: Likewise the exception types and records and the channel limits (zircon/syscalls/exception.h, types.h), from the
#: 2021 SDK record, unchanged since but for riscv64's member of the context's union (as large as the others).
EXCEPTION_CONSTANTS_2021 = ("ZX_EXCP_GENERAL ZX_EXCP_FATAL_PAGE_FAULT ZX_EXCP_UNDEFINED_INSTRUCTION "
                            "ZX_EXCP_SW_BREAKPOINT ZX_EXCP_HW_BREAKPOINT ZX_EXCP_UNALIGNED_ACCESS ZX_EXCP_SYNTH "
                            "ZX_EXCP_THREAD_STARTING ZX_EXCP_THREAD_EXITING ZX_EXCP_POLICY_ERROR "
                            "ZX_EXCP_PROCESS_STARTING ZX_CHANNEL_READ_MAY_DISCARD ZX_CHANNEL_MAX_MSG_BYTES "
                            "ZX_CHANNEL_MAX_MSG_HANDLES").split()
PORT_STRUCTS_2021 += ("zx_x86_64_exc_data_t", "zx_arm64_exc_data_t", "zx_exception_context_t",
                      "zx_exception_header_t", "zx_exception_report_t", "zx_exception_info_t")


def _value(entry: Any) -> int | None:
    if isinstance(entry, bool):
        return None
    if isinstance(entry, int):
        return entry
    if isinstance(entry, dict) and isinstance(entry.get("value"), int):
        return int(entry["value"])
    return None


def reference_constants() -> dict[str, int]:
    """Every named integer in the reference, NAME -> value."""
    out: dict[str, int] = {}
    groups = ("status", "rights", "signals", "obj_types", "info_topics", "thread_states",
              "exception_channel_types", "process_info_flags", "retcodes", "misc")
    for group in groups:
        for name, entry in ABI[group].items():
            value = _value(entry)
            if value is not None and re.fullmatch(r"_*[A-Z][A-Z0-9_]*", name):
                out[name] = value
    fdio = ABI["syscalls"]["_fdio_spawn_constants"]
    for sub in ("flags", "actions"):
        out.update(fdio[sub])
    out["FDIO_SPAWN_ERR_MSG_MAX_LENGTH"] = fdio["FDIO_SPAWN_ERR_MSG_MAX_LENGTH"]
    for name in (*PORT_CONSTANTS_2021, *EXCEPTION_CONSTANTS_2021, *DEBUG_CONSTANTS_2021):
        out.setdefault(name, SDK_2021["constants"][name])
    return out


REFERENCE = reference_constants()


def contract_constants() -> set[str]:
    """The constants the binding's contract says the module exports, derived from the reference."""
    names = set(ABI["status"])
    names |= {n for n in ABI["rights"] if n.startswith(("ZX_RIGHT_", "ZX_RIGHTS_"))}
    names |= {f"ZX_DEFAULT_{k}_RIGHTS" for k in ("JOB", "PROCESS", "THREAD", "EVENT", "VMAR", "SUSPEND_TOKEN")}
    names |= {f"ZX_USER_SIGNAL_{i}" for i in range(8)}
    names |= set(
        "ZX_SIGNAL_NONE ZX_SIGNAL_HANDLE_CLOSED ZX_USER_SIGNAL_ALL ZX_EVENT_SIGNALED ZX_TASK_TERMINATED "
        "ZX_JOB_TERMINATED ZX_JOB_NO_JOBS ZX_JOB_NO_PROCESSES ZX_PROCESS_TERMINATED ZX_THREAD_TERMINATED "
        "ZX_THREAD_RUNNING ZX_THREAD_SUSPENDED".split()
    )
    names |= {n for n, v in ABI["obj_types"].items() if isinstance(v, int)} | {"ZX_OBJ_TYPE_UPPER_BOUND"}
    names |= {
        f"ZX_INFO_{t}"
        for t in ("HANDLE_VALID HANDLE_BASIC PROCESS PROCESS_THREADS JOB_CHILDREN JOB_PROCESSES THREAD JOB "
                  "PROCESS_HANDLE_STATS THREAD_STATS TASK_STATS TASK_STATS_V1 TASK_RUNTIME TASK_RUNTIME_V1 "
                  "INVALID_CPU").split()
    }
    names |= set(ABI["process_info_flags"])
    names |= {n for n in ABI["thread_states"] if n.startswith("ZX_") and n != "ZX_THREAD_STATE_BASIC"}
    names |= {n for n in ABI["exception_channel_types"] if n.startswith("ZX_")}
    names |= {n for n in ABI["retcodes"] if n.startswith("ZX_")}
    names |= set(
        "ZX_HANDLE_INVALID ZX_HANDLE_FIXED_BITS_MASK ZX_KOID_INVALID ZX_KOID_KERNEL ZX_TIME_INFINITE "
        "ZX_TIME_INFINITE_PAST ZX_MAX_NAME_LEN ZX_PROCESS_SHARED FDIO_SPAWN_ERR_MSG_MAX_LENGTH ZX_PROP_NAME".split()
    )
    fdio = ABI["syscalls"]["_fdio_spawn_constants"]
    names |= set(fdio["flags"]) | set(fdio["actions"])
    names |= set(PORT_CONSTANTS_2021)
    names |= set(DEBUG_CONSTANTS_2021)
    # Channels and exceptions (zxpy.exception).
    names |= set(EXCEPTION_CONSTANTS_2021)
    names |= set(
        "ZX_DEFAULT_CHANNEL_RIGHTS ZX_DEFAULT_EXCEPTION_RIGHTS ZX_CHANNEL_READABLE ZX_CHANNEL_WRITABLE "
        "ZX_CHANNEL_PEER_CLOSED ZX_INFO_THREAD_EXCEPTION_REPORT ZX_INFO_THREAD_EXCEPTION_REPORT_V1 "
        "ZX_EXCEPTION_CHANNEL_DEBUGGER ZX_PROP_EXCEPTION_STATE ZX_PROP_EXCEPTION_STRATEGY ZX_EXCEPTION_STATE_TRY_NEXT "
        "ZX_EXCEPTION_STATE_HANDLED ZX_EXCEPTION_STATE_THREAD_EXIT ZX_EXCEPTION_STRATEGY_FIRST_CHANCE "
        "ZX_EXCEPTION_STRATEGY_SECOND_CHANCE".split()
    )
    return names


def exported_constants() -> dict[str, int]:
    return {n: getattr(lib, n) for n in dir(lib) if isinstance(getattr(lib, n), int)}


# ---------------------------------------------------------------------------
# The table against the reference (independent of the build).
# ---------------------------------------------------------------------------
def test_table_lists_exactly_the_contract_constants() -> None:
    """The table against today's reference (derived from it independently), plus the names only older
    headers have (optional: a build has them only where its headers do)."""
    table = {c.name for c in _abi.CONSTANTS}
    older_only = {c.name for c in _abi.CONSTANTS if c.name not in contract_constants()}
    assert older_only <= set(SDK_2021["constants"])
    assert all(c.gate == "optional" for c in _abi.CONSTANTS if c.name in older_only)
    assert table - older_only == contract_constants()


def test_table_gates_exactly_what_the_2021_sdk_lacks() -> None:
    """A core (ungated) name is in the 2021 SDK; a gated one is absent there."""
    present_2021 = set(SDK_2021["constants"])
    core = {c.name for c in _abi.CONSTANTS if c.gate is None}
    gated = {c.name for c in _abi.CONSTANTS if c.gate not in (None, "optional")}
    optional = {c.name for c in _abi.CONSTANTS if c.gate == "optional"}
    assert core - present_2021 == set()
    assert gated & present_2021 == set()
    # An optional name is missing from one end of the range: newer than 2021, or gone since.
    assert {n for n in optional if n in present_2021 and n in contract_constants()} == set()
    for struct in _abi.STRUCTS:
        if struct.name == "zxpy_progress_t":
            continue
        if struct.arch == "arm64":
            continue  # the 2021 record is the x64 SDK's
        legacy = struct.layout(frozenset(), "x64")
        assert (legacy is not None) == (struct.name in SDK_2021["structs"]), struct.name
    assert {t.name for t in _abi.TYPEDEFS if t.gate is None} <= set(SDK_2021["types"])


# ---------------------------------------------------------------------------
# The compiled module.
# ---------------------------------------------------------------------------
def test_module_exports_exactly_the_contract_constants() -> None:
    exported = set(exported_constants())
    assert exported == {c.name for c in _abi.CONSTANTS if built(c.gate, c.name)}


def test_every_exported_constant_has_the_zircon_value() -> None:
    exported = exported_constants()
    reference = SDK_2021["constants"] if VINTAGE_2021 else REFERENCE
    wrong = {n: (v, reference.get(n)) for n, v in exported.items() if reference.get(n) != v}
    assert wrong == {}
    # Spot checks that would expose a reading of the wrong reference entry.
    if VINTAGE_2021:
        assert lib.ZX_INFO_PROCESS == 3
        assert lib.ZX_INFO_TASK_RUNTIME == 30 and lib.ZX_INFO_TASK_STATS == 12
    else:
        assert lib.ZX_INFO_PROCESS == 0x10000003
        assert lib.ZX_INFO_TASK_RUNTIME == 0x1000001E and lib.ZX_INFO_TASK_RUNTIME_V1 == 30
        assert lib.ZX_INFO_TASK_STATS == 0x1000000C and lib.ZX_INFO_TASK_STATS_V1 == 12
    assert lib.ZX_INFO_THREAD_STATS == 15 and lib.ZX_INFO_INVALID_CPU == 0xFFFFFFFF
    assert lib.ZX_OBJ_TYPE_UPPER_BOUND == 64
    assert lib.ZX_TIME_INFINITE == 2**63 - 1 and lib.ZX_TIME_INFINITE_PAST == -(2**63)
    assert lib.ZX_USER_SIGNAL_7 == 1 << 31 and lib.ZX_RIGHT_SAME_RIGHTS == 1 << 31
    assert lib.ZX_JOB_NO_PROCESSES == 32 and lib.ZX_THREAD_SUSPENDED == 32


def test_no_job_no_children_signal() -> None:
    # Not in any Zircon header: the module must not invent it.
    assert not hasattr(lib, "ZX_JOB_NO_CHILDREN")


@pytest.mark.parametrize("name", MODULE_TYPES)
def test_typedef_matches(name: str) -> None:
    types = SDK_2021["types"] if VINTAGE_2021 or name not in ABI["types"] else ABI["types"]
    expected = types[name]
    assert ffi.typeof(name) == ffi.typeof(expected), (name, expected)


def _fields(struct: dict[str, Any]) -> Iterator[tuple[list[str], int, int | None]]:
    for field in struct["fields"]:
        if field["name"] and not field["name"].startswith("("):
            yield [field["name"]], field["offset"], field.get("size")
    for members in struct.get("union_members", {}).values():
        for field in members:
            yield field["name"].split("."), field["offset"], field["size"]


@pytest.mark.parametrize("name", MODULE_STRUCTS)
def test_struct_layout_matches(name: str) -> None:
    if ARCH == "arm64" and name in DEBUG_STRUCTS_ARM64:
        size, offsets = DEBUG_STRUCTS_ARM64[name]
        assert ffi.sizeof(name) == size
        assert [(n, ffi.offsetof(name, n)) for n, _ in offsets] == offsets
        return
    struct = (SDK_2021 if VINTAGE_2021 or name in PORT_STRUCTS_2021 + DEBUG_STRUCTS_2021 else ABI)["structs"][name]
    assert ffi.sizeof(name) == struct["size"]
    if "alignment" in struct:
        assert ffi.alignof(name) == struct["alignment"]
    named = [f["name"] for f in struct.get("fields", [])]
    if named and all(re.fullmatch(r"\w+", n) for n in named):  # no union or array-count entries
        assert [n for n, _ in ffi.typeof(name).fields] == named, name
    for path, offset, size in _fields(struct):
        assert ffi.offsetof(name, *path) == offset, (name, path)
        ctype = ffi.typeof(name)
        for part in path:
            ctype = dict(ctype.fields)[part].type
        if size is not None:
            assert ffi.sizeof(ctype) == size, (name, path)


def test_handle_stats_struct_is_one_counter_per_object_type() -> None:
    stats = ffi.new("zx_info_process_handle_stats_t*")
    assert ffi.sizeof(stats[0]) == 4 * lib.ZX_OBJ_TYPE_UPPER_BOUND
    assert len(stats.handle_count) == lib.ZX_OBJ_TYPE_UPPER_BOUND
    assert ffi.typeof(stats.handle_count).item == ffi.typeof("uint32_t")


def test_progress_struct_layout() -> None:
    # The contract's progress record: { uint64_t count; uint32_t stop; uint32_t reserved; }
    assert ffi.sizeof("zxpy_progress_t") == 16
    assert [(n, f.offset) for n, f in ffi.typeof("zxpy_progress_t").fields] == [
        ("count", 0), ("stop", 8), ("reserved", 12),
    ]


def _prototypes_2021() -> dict[str, str]:
    """name -> ``ret(*)(params)`` from the 2021 SDK's declarations."""
    out = {}
    for decl in SDK_2021["prototypes"]:
        m = re.match(r"extern\s+(?:__attribute__\(\(\w+\)\)\s+)?(.+?)\s*\b(\w+)\((.*)\);$", decl)
        if m:
            out[m.group(2)] = f"{m.group(1)}(*)({m.group(3).strip() or 'void'})"
    return out


def _signature(name: str) -> tuple[str, list[str]]:
    if name in EXTRA_SIGNATURES:
        return EXTRA_SIGNATURES[name]
    spec = ABI["syscalls"][name]
    return spec["returns"], [p[0] for p in spec["params"]]


@pytest.mark.parametrize("name", MODULE_FUNCTIONS)
def test_function_signature_matches(name: str) -> None:
    if VINTAGE_2021 and name in _prototypes_2021():
        expected = ffi.typeof(_prototypes_2021()[name])
    else:
        returns, params = _signature(name)
        expected = ffi.typeof(f"{returns}(*)({', '.join(params) or 'void'})")
    assert ffi.typeof(getattr(lib, name)) == expected


def test_progress_entry_is_exported() -> None:
    assert ffi.typeof(lib.zxpy_progress_entry) == ffi.typeof("void(*)(uintptr_t, uintptr_t)")


# ---------------------------------------------------------------------------
# The headers themselves: every reference fact, as C compile-time assertions.
# ---------------------------------------------------------------------------
#: Reference entries zxpy's headers deliberately do not carry.
NOT_IN_HEADERS = {
    "ZX_OBJ_PROP_NONE_legacy", "ZX_OBJ_PROP_WAITABLE_legacy", "ZX_TIME_INFINITE_legacy",
}
LEGACY_STRUCTS = {"zx_info_process_v1_t"}  # pre-RFC-0074 layout, gone from current headers


def _c_int(value: int) -> str:
    return f"({value + 1}LL - 1)" if value == -(2**63) else f"{value}LL"


def _c_type(spec: str) -> str | None:
    """A C type from a reference typedef description, or None if it is prose."""
    return spec if re.fullmatch(r"u?int(8|16|32|64|ptr)_t|int", spec) else None


def header_check_source() -> str:
    lines = [
        "#include <stdint.h>",
        "#include <stddef.h>",
        "#include <zircon/types.h>",
        "#include <zircon/syscalls.h>",
        "#include <zircon/syscalls/object.h>",
        "#include <zircon/syscalls/exception.h>",
        "#include <zircon/syscalls/debug.h>",
        "#include <zircon/process.h>",
        "#include <lib/fdio/spawn.h>",
        "#define SAME(T, U) _Generic((T){0}, U: 1, default: 0)",
    ]
    for name, value in sorted(REFERENCE.items()):
        if name in NOT_IN_HEADERS:
            continue
        lines.append(f'_Static_assert((long long)({name}) == {_c_int(value)}, "{name}");')
    basic = "ZX_THREAD_STATE_BASIC"
    lines.append(f'_Static_assert({basic}(ZX_THREAD_STATE_BLOCKED_PAGER) == ZX_THREAD_STATE_BLOCKED, "BASIC");')
    lines.append(f'_Static_assert({basic}(ZX_THREAD_STATE_DEAD) == ZX_THREAD_STATE_DEAD, "BASIC");')
    lines.append('_Static_assert(__ZX_INFO_TOPIC(3u, 1u) == 0x10000003u, "__ZX_INFO_TOPIC");')
    for name, spec in ABI["types"].items():
        ctype = _c_type(spec) if isinstance(spec, str) else None
        if ctype:
            lines.append(f'_Static_assert(SAME({name}, {ctype}), "typedef {name}");')
    for name, struct in ABI["structs"].items():
        if name in LEGACY_STRUCTS:
            continue
        lines.append(f'_Static_assert(sizeof({name}) == {struct["size"]}, "sizeof {name}");')
        lines.append(f'_Static_assert(_Alignof({name}) == {struct["alignment"]}, "alignof {name}");')
        for path, offset, size in _fields(struct):
            member = ".".join(path)
            lines.append(f'_Static_assert(offsetof({name}, {member}) == {offset}, "{name}.{member}");')
            lines.append(f'_Static_assert(sizeof((({name}*)0)->{member}) == {size}, "size {name}.{member}");')
    lines.append('_Static_assert(sizeof(zx_info_process_handle_stats_t) == 4 * 64, "handle stats");')
    names = [n for n in ABI["syscalls"] if not n.startswith("_")] + sorted(EXTRA_SIGNATURES)
    for name in names:
        returns, params = _signature(name)
        args = ", ".join(params) or "void"
        lines.append(f"{returns} (*check_{name})({args}) = {name};")
    return "\n".join(lines) + "\n"


def test_headers_carry_every_reference_fact(tmp_path: Path) -> None:
    compiler = shutil.which("gcc") or shutil.which("cc")
    assert compiler, "no C compiler on PATH (gcc is installed by .ci/run)"
    src = tmp_path / "abi_check.c"
    src.write_text(header_check_source())
    proc = subprocess.run(
        [compiler, "-std=c11", "-Wall", "-Wextra", "-Werror", "-fsyntax-only",
         f"-I{ROOT / 'host' / 'include'}", str(src)],
        capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]


def test_header_check_is_not_vacuous(tmp_path: Path) -> None:
    """The generated assertions do fail when a header value is wrong."""
    compiler = shutil.which("gcc") or shutil.which("cc")
    assert compiler
    src = tmp_path / "abi_check_bad.c"
    src.write_text(header_check_source().replace(
        '== -11LL, "ZX_ERR_BAD_HANDLE"', '== -12LL, "ZX_ERR_BAD_HANDLE"'))
    proc = subprocess.run(
        [compiler, "-std=c11", "-fsyntax-only", f"-I{ROOT / 'host' / 'include'}", str(src)],
        capture_output=True, text=True,
    )
    assert proc.returncode != 0 and "ZX_ERR_BAD_HANDLE" in proc.stderr
