"""zxpy call-cost and memory benchmarks (plain timeit; run on the host kernel).

    python benchmarks/bench.py            # full run (about a minute)
    python benchmarks/bench.py --quick    # 10x fewer iterations
    python benchmarks/bench.py --json out.json

Each timing is the minimum over ``--repeat`` runs of ``number`` calls,
reported per call (or per round trip).  ``lib`` rows call the CFFI
functions directly, with the function bound to a local name and a
pre-allocated out-parameter - the floor for any Python binding; ``zxpy``
rows are the public API.  The memory rows run 100,000 suspend/resume cycles
and report the growth of resident memory, of Python-level allocations
(tracemalloc) and of the handle table.

Timings are machine-dependent figures for benchmarks/README.md, never
assertions.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import sys
import time
import timeit
import tracemalloc
from collections.abc import Callable
from typing import Any

import zxpy
from zxpy import Job, Process, Signals, ffi, lib
from zxpy.testing import ProgressWorker

RESULTS: list[dict[str, Any]] = []


def bench(name: str, fn: Callable[[], object], number: int, repeat: int, per: int = 1) -> float:
    """Minimum time per call (ns) of ``fn`` over ``repeat`` runs of ``number`` calls."""
    fn()  # warm up
    times = timeit.repeat(fn, number=number, repeat=repeat)
    ns = min(times) / number / per * 1e9
    RESULTS.append({"name": name, "ns": round(ns, 1), "calls": number, "repeat": repeat})
    print(f"  {name:<62} {ns:10.1f} ns")
    return ns


def section(title: str) -> None:
    print(f"\n{title}")


def call_costs(n: int, repeat: int) -> None:
    job = Job.default().create_job()
    proc = job.create_process("bench")  # never started: suspend is a pure kernel-object path
    dead = job.create_process("dead")
    dead.kill()  # killing a dead process is ZX_OK and does nothing: the bare cost of the call
    out = ffi.new("zx_handle_t *")
    observed = ffi.new("zx_signals_t *")
    kill, suspend, close = lib.zx_task_kill, lib.zx_task_suspend, lib.zx_handle_close
    dup, wait = lib.zx_handle_duplicate, lib.zx_object_wait_one
    praw, draw, jraw = proc.raw, dead.raw, job.raw
    same, past = zxpy.Rights.SAME_RIGHTS, lib.ZX_TIME_INFINITE_PAST
    no_proc = int(Signals.JOB_NO_JOBS)

    section("kill (a dead process: ZX_OK, nothing else happens)")
    bench("lib.zx_task_kill(h)", lambda: kill(draw), n, repeat)
    bench("zxpy: process.kill()", dead.kill, n, repeat)

    section("suspend + resume (an unstarted process: token made and closed)")

    def lib_suspend() -> None:
        suspend(praw, out)
        close(out[0])

    def zx_suspend() -> None:
        proc.suspend().close()

    def zx_with() -> None:
        with proc.suspend():
            pass

    bench("lib: zx_task_suspend + zx_handle_close", lib_suspend, n, repeat)
    bench("zxpy: process.suspend().close()", zx_suspend, n, repeat)
    bench("zxpy: with process.suspend(): pass", zx_with, n, repeat)

    section("wait_one poll (signal already active)")
    bench("lib.zx_object_wait_one(h, s, INFINITE_PAST, &obs)", lambda: wait(jraw, no_proc, past, observed), n, repeat)
    bench("zxpy: job.wait_one(s, timeout=0)", lambda: job.wait_one(no_proc, timeout=0), n, repeat)
    bench("zxpy: process.terminated", lambda: dead.terminated, n, repeat)

    section("handle duplicate + close")

    def lib_dup() -> None:
        dup(jraw, same, out)
        close(out[0])

    def zx_dup() -> None:
        job.duplicate().close()

    bench("lib: zx_handle_duplicate + zx_handle_close", lib_dup, n, repeat)
    bench("zxpy: job.duplicate().close()", zx_dup, n, repeat)

    section("get_info")
    info = ffi.new("zx_info_handle_basic_t *")
    get_info, basic = lib.zx_object_get_info, lib.ZX_INFO_HANDLE_BASIC
    bench("lib: zx_object_get_info(HANDLE_BASIC)", lambda: get_info(jraw, basic, info, 32, ffi.NULL, ffi.NULL),
          n, repeat)
    bench("zxpy: job.basic_info()", job.basic_info, n, repeat)
    bench("zxpy: process.info()", dead.info, n, repeat)

    section("errors (the raise and catch of a ZxError)")

    def zx_error() -> None:
        try:
            job.suspend()  # a job cannot be suspended: WRONG_TYPE
        except zxpy.WrongTypeError:
            pass

    bench("lib: zx_task_suspend(job) -> status", lambda: suspend(jraw, out), n, repeat)
    bench("zxpy: job.suspend() raising WrongTypeError, caught", zx_error, n // 4, repeat)

    for h in (proc, dead):
        h.close()
    job.kill()
    job.close()


def round_trips(n: int, repeat: int) -> None:
    section("real suspension round trips (suspend, wait SUSPENDED, resume, wait RUNNING)")
    with ProgressWorker() as worker:
        thread = worker.thread

        def own_thread() -> None:
            token = thread.suspend()  # waits for THREAD_SUSPENDED
            token.close()
            thread.wait_one(Signals.THREAD_RUNNING)

        bench("own C thread (signal park): Thread.suspend() ... RUNNING", own_thread, max(n // 50, 100), repeat)

    job = Job.default().create_job()
    try:
        program = job.spawn(["/bin/sleep", "1000"])
        (tkoid,) = program.threads()
        pthread = program.child(tkoid)

        def spawned_thread() -> None:
            token = pthread.suspend()
            token.close()
            pthread.wait_one(Signals.THREAD_RUNNING)

        def spawned_process() -> None:
            token = program.suspend()
            pthread.wait_one(Signals.THREAD_SUSPENDED)
            token.close()
            pthread.wait_one(Signals.THREAD_RUNNING)

        bench("spawned program thread (ptrace): Thread.suspend() ... RUNNING", spawned_thread,
              max(n // 50, 100), repeat)
        bench("spawned program, process token ... thread RUNNING", spawned_process, max(n // 50, 100), repeat)

        def spawn_kill() -> None:
            p = job.spawn(["/bin/true"])
            p.wait_terminated()
            p.close()

        bench("spawn /bin/true and wait for TERMINATED", spawn_kill, max(n // 2000, 10), min(repeat, 3))
        pthread.close()
        program.close()
    finally:
        job.kill()
        job.close()


def rss_kib() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGESIZE") // 1024


def memory(cycles: int) -> None:
    section(f"memory over {cycles:,} suspend/resume cycles")
    job = Job.default().create_job()
    proc = job.create_process("mem")
    handles_before = sum(Process.self().handle_stats().values())
    for _ in range(cycles // 10):  # warm-up
        with proc.suspend():
            pass
    gc.collect()
    tracemalloc.start()
    rss0 = rss_kib()
    snap0 = tracemalloc.take_snapshot()
    t0 = time.perf_counter()
    for _ in range(cycles):
        with proc.suspend():
            pass
    elapsed = time.perf_counter() - t0
    gc.collect()
    snap1 = tracemalloc.take_snapshot()
    rss1 = rss_kib()
    tracemalloc.stop()
    py_growth = sum(s.size_diff for s in snap1.compare_to(snap0, "filename"))
    handles_after = sum(Process.self().handle_stats().values())
    print(f"  resident memory: {rss0} KiB -> {rss1} KiB ({rss1 - rss0:+d} KiB)")
    print(f"  Python allocations (tracemalloc): {py_growth:+d} bytes")
    print(f"  handles: {handles_before} -> {handles_after}")
    print(f"  {cycles / elapsed:,.0f} cycles/s while traced")
    RESULTS.append({"name": "memory", "cycles": cycles, "rss_kib": rss1 - rss0, "python_bytes": py_growth,
                    "handles": handles_after - handles_before})
    proc.close()
    job.kill()
    job.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10x fewer iterations")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()
    n = 20_000 if args.quick else 200_000
    cycles = 10_000 if args.quick else 100_000
    print(f"zxpy {zxpy.__version__}, Python {platform.python_version()}, {platform.machine()}, "
          f"{os.cpu_count()} CPUs; min of {args.repeat} x {n:,} calls")
    call_costs(n, args.repeat)
    round_trips(n, args.repeat)
    memory(cycles)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"python": sys.version, "results": RESULTS}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
