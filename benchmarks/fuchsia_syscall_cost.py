"""What one Zircon syscall of a Fuchsia program costs on the host kernel, next to the same call made directly.

A Fuchsia program (tests/helpers/fuchsia_first_light.c built with ``-DFL_COST``, run by ``Job.spawn_fuchsia``)
times a few served calls itself with ``zx_ticks_get``: each is a `syscall` instruction that stops the program
under ``PTRACE_SYSEMU``, the monitor thread serving it from the program's handle table, and the resume
(docs/fuchsia-elf.md).  The same calls are timed here through the CFFI module (``zxpy.lib``: the raw host-kernel
call plus CFFI's own cost).  Needs an x86-64 Linux host, a zxpy checkout, clang and ld.lld::

    python benchmarks/fuchsia_syscall_cost.py                      # the configured SDK's vDSO, else the stand-in
    python benchmarks/fuchsia_syscall_cost.py --vdso SDK/arch/x64/sysroot/lib/libzircon.so
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import timeit
from pathlib import Path

import zxpy
from zxpy import _demo_fuchsia

N = 20_000


def raw_costs() -> dict[str, float]:
    """ns per call of the same calls through ``zxpy.lib``, the best of 5 runs of N."""
    ffi, lib = zxpy.ffi, zxpy.lib
    event_out = ffi.new("zx_handle_t *")
    assert lib.zx_event_create(0, event_out) == 0
    event = event_out[0]
    info = ffi.new("zx_info_handle_basic_t *")
    size = ffi.sizeof("zx_info_handle_basic_t")
    dup = ffi.new("zx_handle_t *")
    close, signal, get_info, duplicate = lib.zx_handle_close, lib.zx_object_signal, lib.zx_object_get_info, \
        lib.zx_handle_duplicate
    basic, null = lib.ZX_INFO_HANDLE_BASIC, ffi.NULL

    def dup_close() -> None:
        duplicate(event, lib.ZX_RIGHT_SAME_RIGHTS, dup)
        close(dup[0])

    calls = {
        "handle_close(ZX_HANDLE_INVALID)": lambda: close(0),
        "object_signal(event,0,0)": lambda: signal(event, 0, 0),
        "object_get_info(HANDLE_BASIC)": lambda: get_info(event, basic, info, size, null, null),
        "handle_duplicate+handle_close": dup_close,
    }
    try:
        return {name: min(timeit.repeat(fn, number=N, repeat=5)) / N * 1e9 for name, fn in calls.items()}
    finally:
        close(event)


def served_costs(image: Path, vdso: Path) -> dict[str, float]:
    """ns per call as the Fuchsia program measured them."""
    with zxpy.Job.default().create_job() as job:
        try:
            proc = job.spawn_fuchsia(image, vdso=vdso, stderr=zxpy.PIPE, name="fuchsia-cost")
            with proc, proc.stderr:
                code = proc.wait(timeout=120)
                out = proc.stderr.read().decode(errors="replace")
        finally:
            job.kill()
    if code != 0:
        sys.exit(f"the cost program exited with {code}:\n{out}")
    costs = {}
    for line in out.splitlines():
        if line.startswith("cost "):
            name, ns = line[5:].rsplit(" ", 1)
            costs[name] = float(ns)
    return costs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vdso", type=Path, help="the vDSO to map (default: the configured SDK's, else the stand-in)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ready = _demo_fuchsia._prepare(Path(tmp), ("COST",))
        if isinstance(ready, str):
            sys.exit(f"cannot run: {ready}")
        images, vdso, origin = ready
        if args.vdso is not None:
            vdso, origin = args.vdso, "given with --vdso"
        print(f"vDSO: {origin} ({vdso})", flush=True)
        served = served_costs(images["COST"], vdso)
    raw = raw_costs()
    print(f"{'call':34} {'served (ns)':>12} {'zxpy.lib (ns)':>14} {'ratio':>8}")
    for name, ns in served.items():
        print(f"{name:34} {ns:12.0f} {raw[name]:14.0f} {ns / raw[name]:7.0f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
