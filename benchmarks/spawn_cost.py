"""Spawn cost against the caller's memory: ``job.spawn(["/bin/true"])`` until ``TASK_TERMINATED``, next to
``os.posix_spawn`` + ``os.waitpid`` of the same program, with this process holding nothing extra, then a touched
heap of each ``--sizes`` MiB (every page written, so the page tables are really there).

    python benchmarks/spawn_cost.py                    # 0, 512 and 1024 MiB
    python benchmarks/spawn_cost.py --sizes 0 2048     # any sizes, in MiB
    python benchmarks/spawn_cost.py --json out.json

Both columns are measured in the same run at the same heap size, as the minimum and median over ``--runs`` spawns
(after a warm-up), and printed with their ratio.  Figures for benchmarks/README.md, never assertions.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from typing import Any

import zxpy

PROGRAM = "/bin/true"


def _zxpy_once(job: zxpy.Job) -> float:
    t0 = time.perf_counter()
    with job.spawn([PROGRAM]) as p:
        p.wait_terminated()
    return time.perf_counter() - t0


def _posix_spawn_once() -> float:
    t0 = time.perf_counter()
    pid = os.posix_spawn(PROGRAM, [PROGRAM], os.environ)  # the environment job.spawn passes by default
    os.waitpid(pid, 0)
    return time.perf_counter() - t0


def measure(heap_mib: int, runs: int) -> dict[str, Any]:
    heap = bytearray(b"\x01") * (heap_mib << 20)  # written through: every page is resident
    try:
        with zxpy.Job.default().create_job() as job:
            for _ in range(3):  # warm-up: the monitor thread, page cache, branch predictors
                _zxpy_once(job)
                _posix_spawn_once()
            zx, ps = [], []
            for _ in range(runs):  # interleaved, so load on the machine hits both columns alike
                zx.append(_zxpy_once(job))
                ps.append(_posix_spawn_once())
    finally:
        del heap
    row = {"heap_mib": heap_mib, "runs": runs,
           "zxpy_min_ms": min(zx) * 1e3, "zxpy_median_ms": statistics.median(zx) * 1e3,
           "posix_spawn_min_ms": min(ps) * 1e3, "posix_spawn_median_ms": statistics.median(ps) * 1e3}
    row["ratio_median"] = row["zxpy_median_ms"] / row["posix_spawn_median_ms"]
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[0, 512, 1024], help="heap sizes in MiB")
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()
    print(f"zxpy {zxpy.__version__}, Python {platform.python_version()}, {platform.machine()}, "
          f"{os.cpu_count()} CPUs; {PROGRAM} spawned and waited for, {args.runs} runs per size (ms)")
    print(f"{'caller heap':>12} {'zxpy min':>9} {'median':>8} {'posix_spawn min':>16} {'median':>8} {'ratio':>6}")
    rows = []
    for mib in args.sizes:
        r = measure(mib, args.runs)
        rows.append(r)
        print(f"{mib:>8} MiB {r['zxpy_min_ms']:9.2f} {r['zxpy_median_ms']:8.2f} {r['posix_spawn_min_ms']:16.2f} "
              f"{r['posix_spawn_median_ms']:8.2f} {r['ratio_median']:5.2f}x")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"python": sys.version, "results": rows}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
