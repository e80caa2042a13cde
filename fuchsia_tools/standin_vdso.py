#!/usr/bin/env python3
"""Generate and link a STAND-IN Zircon vDSO (``libzircon.so``) for x86-64 that issues real ``syscall`` instructions.

Fuchsia programs reach the kernel only through the vDSO, and the kernel accepts syscalls only from it.  The
real vDSO's syscall numbers belong to its build; a runner of Fuchsia programs on Linux (docs/fuchsia-elf.md)
reads them from the vDSO it maps, with ``host/fuchsia/vdso.c``.  This stand-in is a vDSO built from a table
(syscall names and numbers, the exported function list and the prototypes, as ``tests/data/sdk_2021_abi.json``
carries them for the January 2021 core SDK) whose code has the real one's shape, so the same reader derives
its numbers the same way:

* each exported ``_zx_<name>`` (and its weak alias ``zx_<name>``) of a syscall is the real stub: argument 4
  moves from ``%rcx`` to ``%r10``; arguments 7 and 8 are loaded from the stack into ``%r12``/``%r13`` (saved
  first); then ``mov $N,%eax; syscall`` and the local label ``CODE_SYSRET_zx_<name>_VIA_zx_<name>``;
* the syscalls that no function exports (``channel_call_noretry``, ``ticks_get_via_kernel``, ...) are local
  functions ``CODE_SYSCALL_zx_<name>``, called by the exported functions built on them (``zx_channel_call``
  retries ``channel_call_finish`` while the kernel says ``ZX_ERR_INTERNAL_INTR_RETRY``, ``zx_cprng_draw``
  loops over ``cprng_draw_once``);
* ``zx_futex_wake_handle_close_thread_exit`` and ``zx_vmar_unmap_handle_close_thread_exit`` issue their three
  syscalls inline, each label naming the exported caller (``..._VIA_zx_futex_wake_handle_close_thread_exit``);
* ``DATA_CONSTANTS`` is a local 120-byte object in a read-only segment, filled with ``0xdeadbeef`` as the real
  file is: whoever maps the vDSO writes the real values (vdso.h lists the layout);
* the pure user-space functions read it: ``zx_ticks_get`` is ``rdtsc``, ``zx_clock_get_monotonic`` scales ticks
  by the numerator/denominator (or, denominator 0 or overflow, asks the kernel with
  ``clock_get_monotonic_via_kernel``), ``zx_system_get_*`` return fields, ``zx_status_get_string`` and
  ``zx_exception_get_string`` look names up in small tables.

An exported function the generator does not know becomes a ``ud2`` trap and is listed in the result.

Usage: ``python fuchsia_tools/standin_vdso.py --out DIR [--abi tests/data/sdk_2021_abi.json] [--clang clang]``
writes ``DIR/libzircon.S``, ``DIR/libzircon.so`` and ``DIR/standin_vdso.json`` (the table it was built from).
Standard library only; importable (``render_assembly``, ``build``).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_ABI = ROOT / "tests" / "data" / "sdk_2021_abi.json"

#: Syscalls no header declares (the vDSO's internal entry points, and the test-only ones) and their argument
#: counts, from Zircon's syscall definitions (zircon/vdso/*.fidl, ``[internal]`` and ``[testonly]``); the real
#: 2021 vDSO's stubs agree (which of them move rcx to r10, save r12 / r13).
INTERNAL_ARGS = {
    "channel_call_noretry": 6,      # handle, options, deadline, args, actual_bytes, actual_handles
    "channel_call_etc_noretry": 6,
    "channel_call_finish": 4,       # deadline, args, actual_bytes, actual_handles
    "channel_call_etc_finish": 4,
    "clock_get_monotonic_via_kernel": 0,
    "ticks_get_via_kernel": 0,
    "cprng_draw_once": 2,           # buffer, buffer_size
    # [testonly]: exported, but the SDK's headers leave them out.  syscall_test_N takes N arguments.
    **{f"syscall_test_{n}": n for n in range(9)},
    "syscall_test_wrapper": 3,      # a, b, c
    "syscall_test_handle_create": 2,  # return_value, out
}

#: Zircon status and exception values this generator needs (zircon/errors.h, zircon/syscalls/exception.h,
#: zircon/features.h); the data file's constants take precedence where it has them.
ZX_ERR_NOT_SUPPORTED = -2
ZX_ERR_INTERNAL_INTR_RETRY = -6
ZX_ERR_BUFFER_TOO_SMALL = -15
ZX_CPRNG_DRAW_MAX_LEN = 256
FEATURE_KINDS = {0: 0x04, 1: 0x08, 2: 0x0C}  # CPU, HW_BREAKPOINT_COUNT, HW_WATCHPOINT_COUNT -> DATA_CONSTANTS offset
EXCEPTIONS = {
    "ZX_EXCP_GENERAL": 0x008, "ZX_EXCP_FATAL_PAGE_FAULT": 0x108, "ZX_EXCP_UNDEFINED_INSTRUCTION": 0x208,
    "ZX_EXCP_SW_BREAKPOINT": 0x308, "ZX_EXCP_HW_BREAKPOINT": 0x408, "ZX_EXCP_UNALIGNED_ACCESS": 0x508,
    "ZX_EXCP_THREAD_STARTING": 0x8008, "ZX_EXCP_THREAD_EXITING": 0x8108, "ZX_EXCP_POLICY_ERROR": 0x8208,
    "ZX_EXCP_PROCESS_STARTING": 0x8308,
}

#: DATA_CONSTANTS (zircon/kernel/lib/userabi/include/lib/userabi/vdso-constants.h, 2021 layout).
CONSTANTS_SIZE = 120
C_MAX_NUM_CPUS, C_DCACHE_LINE, C_TICKS_PER_SECOND = 0x00, 0x10, 0x18
C_TICKS_NUM, C_TICKS_DEN, C_PHYSMEM, C_VERSION_LEN, C_VERSION = 0x20, 0x24, 0x28, 0x30, 0x38

#: Exported functions that issue several syscalls inline, in order, when the table does not say.
COMPOUND = {
    "futex_wake_handle_close_thread_exit": ["futex_wake", "handle_close", "thread_exit"],
    "vmar_unmap_handle_close_thread_exit": ["vmar_unmap", "handle_close", "thread_exit"],
}


@dataclass
class VdsoSpec:
    """What the stand-in is built from."""

    numbers: dict[str, int]                      # syscall name (no zx_) -> number
    exports: list[str]                           # exported function names without _zx_ / zx_
    nargs: dict[str, int]                        # argument count of each syscall
    compound: dict[str, list[str]] = field(default_factory=lambda: dict(COMPOUND))
    constants: dict[str, int] = field(default_factory=dict)  # ZX_* values (status names)


def count_params(params: str) -> int:
    params = params.strip()
    if params in ("", "void"):
        return 0
    depth, count = 0, 1
    for ch in params:
        depth += ch == "("
        depth -= ch == ")"
        count += ch == "," and depth == 0
    return count


def spec_from_abi(data: dict[str, Any]) -> VdsoSpec:
    """The table of an ABI data file: ``vdso_syscall_numbers``, ``exports['libzircon.so']``, ``prototypes``."""
    numbers = {str(k): int(v) for k, v in data["vdso_syscall_numbers"].items()}
    exported = data["exports"]["libzircon.so"]
    exports = sorted(e[len("_zx_"):] for e in exported if e.startswith("_zx_"))
    nargs: dict[str, int] = {}
    for decl in data.get("prototypes", []):
        m = re.search(r"\b_zx_(\w+)\((.*)\);\s*$", decl)
        if m:
            nargs[m.group(1)] = count_params(m.group(2))
    for name, n in INTERNAL_ARGS.items():
        nargs.setdefault(name, n)
    missing = sorted(n for n in numbers if n not in nargs)
    if missing:
        raise ValueError(f"no prototype (argument count) for syscalls {missing}")
    compound = {str(k): [str(x) for x in v] for k, v in data.get("vdso_compound_syscalls", COMPOUND).items()}
    constants = {k: int(v) for k, v in data.get("constants", {}).items() if isinstance(v, int)}
    return VdsoSpec(numbers=numbers, exports=exports, nargs=nargs, compound=compound, constants=constants)


class _Asm:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.strings: list[tuple[str, str]] = []

    def __call__(self, *lines: str) -> None:
        self.lines.extend(lines)

    def string(self, text: str) -> str:
        label = f"STR_{len(self.strings)}"
        self.strings.append((label, text))
        return label

    def begin(self, name: str, exported: bool = True) -> None:
        sym = f"_zx_{name}" if exported else f"CODE_SYSCALL_zx_{name}"
        self("", "    .p2align 4")
        if exported:
            self(f"    .globl {sym}", f"    .weak zx_{name}")
        else:
            self(f"    .local {sym}")
        self(f"    .type {sym},@function", f"{sym}:")
        if exported:  # the local name calls use: a vDSO has no PLT, GOT or relocations
            self(f"VDSO_zx_{name}:")

    def end(self, name: str, exported: bool = True) -> None:
        sym = f"_zx_{name}" if exported else f"CODE_SYSCALL_zx_{name}"
        self(f"    .size {sym}, .-{sym}")
        if exported:
            self(f"    .type zx_{name},@function", f"    .set zx_{name}, _zx_{name}", f"    .size zx_{name}, .-{sym}")

    def syscall(self, name: str, number: int, via: str) -> None:
        self(f"    mov ${number}, %eax", "    syscall", f"CODE_SYSRET_zx_{name}_VIA_zx_{via}:")


def _stub(a: _Asm, name: str, number: int, nargs: int, exported: bool) -> None:
    """The real vDSO's syscall stub (zircon/system/ulib/zircon/syscall-entry-x86-64.S, zircon-syscall-x86.S)."""
    a.begin(name, exported)
    if nargs >= 8:
        a("    push %r12", "    push %r13", "    mov 0x18(%rsp), %r12", "    mov 0x20(%rsp), %r13")
    elif nargs == 7:
        a("    push %r12", "    mov 0x10(%rsp), %r12")
    if nargs >= 4:
        a("    mov %rcx, %r10")
    a.syscall(name, number, name)
    if nargs >= 8:
        a("    pop %r13")
    if nargs >= 7:
        a("    pop %r12")
    a("    ret")
    a.end(name, exported)


def _const(off: int) -> str:
    return f"DATA_CONSTANTS+{off:#x}(%rip)"


def _user_space(a: _Asm, name: str, spec: VdsoSpec) -> bool:
    """Emit a function the real vDSO implements without (or around) syscalls; False if unknown."""
    num = spec.numbers
    retry = spec.constants.get("ZX_ERR_INTERNAL_INTR_RETRY", ZX_ERR_INTERNAL_INTR_RETRY)
    if name in ("channel_call", "channel_call_etc") and f"{name}_noretry" in num and f"{name}_finish" in num:
        # (handle, options, deadline, args, actual_bytes, actual_handles): noretry, then finish while it says retry.
        a.begin(name)
        a("    push %rbx", "    push %r12", "    push %r14", "    push %r15", "    sub $8, %rsp",
          "    mov %rdx, %rbx", "    mov %rcx, %r12", "    mov %r8, %r15", "    mov %r9, %r14",
          f"    call CODE_SYSCALL_zx_{name}_noretry",
          f"1:  cmp ${retry}, %eax", "    jne 2f",
          "    mov %rbx, %rdi", "    mov %r12, %rsi", "    mov %r15, %rdx", "    mov %r14, %rcx",
          f"    call CODE_SYSCALL_zx_{name}_finish", "    jmp 1b",
          "2:  add $8, %rsp", "    pop %r15", "    pop %r14", "    pop %r12", "    pop %rbx", "    ret")
        a.end(name)
        return True
    if name in spec.compound:
        first, close, exit_ = spec.compound[name]
        # (ptr_or_vmar, a1, a2, close_handle): first syscall, then handle_close(close_handle), then thread_exit.
        a.begin(name)
        if first == "futex_wake":
            a("    mov %edx, (%rdi)")   # store new_value, then wake (value_ptr, wake_count)
        else:
            a("    push %rbx")          # vmar_unmap (handle, addr, len) may fail and return
        a("    mov %ecx, %ebx")
        a.syscall(first, num[first], name)
        a("    test %eax, %eax", "    jnz 9f", "    mov %ebx, %edi")
        a.syscall(close, num[close], name)
        a("    test %eax, %eax", "    jnz 8f")
        a.syscall(exit_, num[exit_], name)
        a("    ud2", "8:  ud2")
        if first == "futex_wake":
            a("9:  ud2")
        else:
            a("9:  pop %rbx", "    ret")
        a.end(name)
        return True
    if name == "cprng_draw" and "cprng_draw_once" in num:
        a.begin(name)
        a("    push %rbx", "    push %r12", "    push %r13", "    mov %rdi, %rbx", "    mov %rsi, %r12",
          "1:  test %r12, %r12", "    jz 3f", f"    mov ${ZX_CPRNG_DRAW_MAX_LEN}, %r13d", "    cmp %r13, %r12",
          "    cmovb %r12, %r13", "    mov %rbx, %rdi", "    mov %r13, %rsi",
          "    call CODE_SYSCALL_zx_cprng_draw_once",
          "    test %eax, %eax", "    jnz 2f", "    add %r13, %rbx", "    sub %r13, %r12", "    jmp 1b",
          "2:  ud2", "3:  pop %r13", "    pop %r12", "    pop %rbx", "    ret")
        a.end(name)
        return True
    if name == "ticks_get":
        a.begin(name)
        a("    rdtsc", "    shl $32, %rdx", "    or %rdx, %rax", "    ret")
        a.end(name)
        return True
    if name == "ticks_per_second":
        a.begin(name)
        a(f"    mov {_const(C_TICKS_PER_SECOND)}, %rax", "    ret")
        a.end(name)
        return True
    if name == "clock_get_monotonic":
        a.begin(name)
        a(f"    mov {_const(C_TICKS_DEN)}, %ecx", "    test %ecx, %ecx", "    jz 1f",
          "    rdtsc", "    shl $32, %rdx", "    or %rdx, %rax",
          f"    mov {_const(C_TICKS_NUM)}, %esi", "    mul %rsi", "    cmp %rcx, %rdx", "    jae 1f",
          "    div %rcx", "    ret")
        if "clock_get_monotonic_via_kernel" in num:
            a("1:  jmp CODE_SYSCALL_zx_clock_get_monotonic_via_kernel")
        else:
            a("1:  ud2")
        a.end(name)
        return True
    if name == "deadline_after":
        a.begin(name)
        a("    push %rdi", "    call VDSO_zx_clock_get_monotonic", "    pop %rdi", "    add %rdi, %rax", "    jno 1f",
          "    movabs $0x7fffffffffffffff, %rax", "1:  ret")
        a.end(name)
        return True
    simple = {"system_get_num_cpus": f"    mov {_const(C_MAX_NUM_CPUS)}, %eax",
              "system_get_dcache_line_size": f"    mov {_const(C_DCACHE_LINE)}, %eax",
              "system_get_physmem": f"    mov {_const(C_PHYSMEM)}, %rax"}
    if name in simple:
        a.begin(name)
        a(simple[name], "    ret")
        a.end(name)
        return True
    if name == "system_get_version_string":   # zx_string_view_t {c_str, length} in rax:rdx
        a.begin(name)
        a(f"    lea {_const(C_VERSION)}, %rax", f"    mov {_const(C_VERSION_LEN)}, %rdx", "    ret")
        a.end(name)
        return True
    if name == "system_get_version":  # (char* version, size_t version_size): copy with the NUL
        too_small = spec.constants.get("ZX_ERR_BUFFER_TOO_SMALL", ZX_ERR_BUFFER_TOO_SMALL)
        a.begin(name)
        a(f"    mov {_const(C_VERSION_LEN)}, %rcx", "    cmp $63, %rcx", "    jbe 1f", "    mov $63, %ecx",
          "1:  lea 1(%rcx), %rdx", "    cmp %rdx, %rsi", "    jb 2f", f"    lea {_const(C_VERSION)}, %rsi",
          "    rep movsb", "    movb $0, (%rdi)", "    xor %eax, %eax", "    ret", f"2:  mov ${too_small}, %eax",
          "    ret")
        a.end(name)
        return True
    if name == "system_get_features":  # (uint32_t kind, uint32_t* features)
        a.begin(name)
        for kind, off in FEATURE_KINDS.items():
            a(f"    cmp ${kind}, %edi", f"    jne 1{kind}f", f"    mov {_const(off)}, %eax", "    mov %eax, (%rsi)",
              "    xor %eax, %eax", "    ret", f"1{kind}:")
        a(f"    mov ${ZX_ERR_NOT_SUPPORTED}, %eax", "    ret")
        a.end(name)
        return True
    if name == "cache_flush":  # x86 caches are coherent: nothing to do for the stand-in
        a.begin(name)
        a("    xor %eax, %eax", "    ret")
        a.end(name)
        return True
    if name in ("status_get_string", "exception_get_string"):
        if name == "status_get_string":
            table = {k: v for k, v in spec.constants.items() if k == "ZX_OK" or k.startswith("ZX_ERR_")}
            table.setdefault("ZX_OK", 0)
        else:
            table = dict(EXCEPTIONS)
        a.begin(name)
        # Entries {int32 value, int32 offset of the name from the table}: a vDSO has no relocations.
        a(f"    lea TABLE_{name}(%rip), %rcx",
          "1:  movslq 4(%rcx), %rax", "    test %rax, %rax", "    jz 2f", "    cmp (%rcx), %edi", "    je 3f",
          "    add $8, %rcx", "    jmp 1b",
          f"2:  lea {a.string('(UNKNOWN)')}(%rip), %rax", "    ret",
          f"3:  lea TABLE_{name}(%rip), %rcx", "    add %rcx, %rax", "    ret")
        a.end(name)
        a("    .section .rodata", "    .p2align 3", f"TABLE_{name}:")
        for key, value in sorted(table.items(), key=lambda kv: kv[1]):
            a(f"    .long {value & 0xFFFFFFFF}, {a.string(key)} - TABLE_{name}")
        a("    .long 0, 0", "    .text")
        return True
    return False


def render_assembly(spec: VdsoSpec) -> tuple[str, list[str]]:
    """The stand-in's assembly, and the exported functions that became traps (unknown to the generator)."""
    a = _Asm()
    a("# Stand-in Zircon vDSO generated by fuchsia_tools/standin_vdso.py: do not edit.", "    .text")
    traps: list[str] = []
    exported = set(spec.exports)
    for name, number in sorted(spec.numbers.items(), key=lambda kv: kv[1]):
        if name in exported:
            _stub(a, name, number, spec.nargs[name], exported=True)
        elif not any(name in calls for calls in spec.compound.values()):
            _stub(a, name, number, spec.nargs[name], exported=False)
    for name in spec.exports:
        if name in spec.numbers:
            continue
        if not _user_space(a, name, spec):
            traps.append(name)
            a.begin(name)
            a("    ud2")
            a.end(name)
    a("", "    .section .rodata", "    .p2align 3", "    .local DATA_CONSTANTS", "    .type DATA_CONSTANTS,@object",
      f"    .size DATA_CONSTANTS, {CONSTANTS_SIZE}", "DATA_CONSTANTS:",
      f"    .fill {CONSTANTS_SIZE // 4}, 4, 0xdeadbeef")
    a("", "    .section .rodata")
    for label, text in a.strings:
        a(f"{label}:", f"    .asciz \"{text}\"")
    a("", "    .section .note.GNU-stack,\"\",@progbits", "")
    return "\n".join(a.lines), traps


def build(out: Path, abi: Path = DEFAULT_ABI, clang: str = "clang") -> dict[str, Any]:
    """Write ``out/libzircon.S``, link ``out/libzircon.so``, write ``out/standin_vdso.json``; return that record."""
    spec = spec_from_abi(json.loads(Path(abi).read_text(encoding="utf-8")))
    source, traps = render_assembly(spec)
    out.mkdir(parents=True, exist_ok=True)
    asm, lib = out / "libzircon.S", out / "libzircon.so"
    asm.write_text(source, encoding="utf-8")
    subprocess.run([clang, "--target=x86_64-unknown-fuchsia", "-fuse-ld=lld", "-shared", "-nostdlib",
                    "-Wl,-soname,libzircon.so", "-Wl,--build-id", "-o", str(lib), str(asm)],
                   check=True, capture_output=True, text=True)
    record = {"zxpy_stand_in": True, "from": str(abi), "library": lib.name, "syscall_numbers": spec.numbers,
              "exports": spec.exports, "compound": spec.compound, "traps": traps,
              "constants": {"symbol": "DATA_CONSTANTS", "size": CONSTANTS_SIZE}}
    (out / "standin_vdso.json").write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    return record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="directory for libzircon.S/.so and standin_vdso.json")
    parser.add_argument("--abi", type=Path, default=DEFAULT_ABI, help=f"ABI data file (default: {DEFAULT_ABI})")
    parser.add_argument("--clang", default="clang", help="clang with the Fuchsia target and lld (default: clang)")
    args = parser.parse_args(argv)
    if shutil.which(args.clang) is None and not Path(args.clang).is_file():
        parser.error(f"{args.clang}: not found")
    try:
        record = build(args.out, args.abi, args.clang)
    except subprocess.CalledProcessError as exc:
        print(f"link failed: {exc.stderr}", file=sys.stderr)
        return 1
    print(f"{args.out / record['library']}: {len(record['syscall_numbers'])} syscalls, "
          f"{len(record['exports'])} exported functions, traps: {record['traps'] or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
