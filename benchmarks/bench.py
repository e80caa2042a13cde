"""zxpy call-cost and memory benchmarks (plain timeit; run on the host kernel).

    python benchmarks/bench.py            # full run (about a minute)
    python benchmarks/bench.py --quick    # 10x fewer iterations
    python benchmarks/bench.py --json out.json

Each timing is the minimum over ``--repeat`` runs of ``number`` calls,
reported per call (or per round trip).  ``lib`` rows call the CFFI
functions directly, with the function bound to a local name and a
pre-allocated out-parameter - the floor for any Python binding; ``ctypes``
rows make the same calls into the same compiled module through ``ctypes``
(``argtypes``/``restype`` set, out-parameters pre-allocated): what a
hand-written ctypes binding pays at least; ``zxpy`` rows are the public API.
A summary table at the end gives zxpy/lib and zxpy/ctypes ratios.  The memory rows run 100,000 suspend/resume cycles
and report the growth of resident memory, of Python-level allocations
(tracemalloc) and of the handle table.

Timings are machine-dependent figures for benchmarks/README.md, never
assertions.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
import tracemalloc
from collections.abc import Callable
from typing import Any

import zxpy
from zxpy import Job, Process, Signals, ffi, lib
from zxpy.testing import ProgressWorker

RESULTS: list[dict[str, Any]] = []
SLEEP = "/bin/sleep"
# Every side of the kill benchmark waits this long after spawning, so that no program is still starting (loading
# its libraries and locale, taking CPU) while the kill is timed, and each has its whole address space to tear down.
SETTLE_S = 0.25


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


def ctypes_lib() -> Any:
    """The compiled module zxpy uses (``zxpy._zx``), loaded again through ctypes with prototypes set."""
    from zxpy import _zx  # type: ignore[attr-defined,unused-ignore]

    so = ctypes.CDLL(_zx.__file__)
    u32, i32, i64, size_t, vp = ctypes.c_uint32, ctypes.c_int32, ctypes.c_int64, ctypes.c_size_t, ctypes.c_void_p
    u32p, sizep = ctypes.POINTER(u32), ctypes.POINTER(size_t)
    for name, args in {
        "zx_task_kill": [u32],
        "zx_task_suspend": [u32, u32p],
        "zx_handle_close": [u32],
        "zx_handle_duplicate": [u32, u32, u32p],
        "zx_object_wait_one": [u32, u32, i64, u32p],
        "zx_object_get_info": [u32, u32, vp, size_t, sizep, sizep],
    }.items():
        fn = getattr(so, name)
        fn.argtypes = args
        fn.restype = i32
    return so


def summary() -> None:
    """zxpy/lib and zxpy/ctypes per call, from the rows of ``call_costs`` (a ``with`` block and ``terminated`` next
    to the bare calls they make: suspend + close, a wait_one poll)."""
    by = {r["name"]: r["ns"] for r in RESULTS if "ns" in r}
    section("summary (ns per call; ratios of zxpy to the bare calls)")
    print(f"  {'call':<34} {'lib':>8} {'ctypes':>8} {'zxpy':>8} {'zxpy/lib':>9} {'zxpy/ct':>8}")
    for label, key, reference in SUMMARY:
        ref = reference or key
        lib_ns, ct_ns, zx_ns = by.get(f"lib: {ref}"), by.get(f"ctypes: {ref}"), by.get(f"zxpy: {key}")
        if zx_ns is None:
            continue
        cells = [f"{v:8.1f}" if v else f"{'':>8}" for v in (lib_ns, ct_ns, zx_ns)]
        ratios = [f"{zx_ns / v:8.2f}x" if v else f"{'':>9}" for v in (lib_ns, ct_ns)]
        print(f"  {label:<34} {' '.join(cells)} {' '.join(ratios)}")
        RESULTS.append({"name": f"summary: {label}", "lib": lib_ns, "ctypes": ct_ns, "zxpy": zx_ns})


#: (label, key, reference): the row ``zxpy: key`` next to ``lib: <reference>`` and ``ctypes: <reference>``
#: (the same bare calls; reference None: key).
SUMMARY: list[tuple[str, str, str | None]] = [
    ("kill a dead process", "kill", None),
    ("suspend + close the token", "suspend + close", None),
    ("with task.suspend(): pass", "with suspend", "suspend + close"),
    ("with thread.suspend(): pass", "thread suspend", None),
    ("wait_one poll", "wait_one poll", None),
    ("one poll of TASK_TERMINATED", "terminated", "wait_one poll"),
    ("duplicate + close", "duplicate + close", None),
    ("ZX_INFO_HANDLE_BASIC", "basic_info", None),
    ("ZX_INFO_PROCESS", "process info", None),
    ("a failing call (WRONG_TYPE)", "failing call", None),
]


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

    so = ctypes_lib()
    c_kill, c_suspend, c_close = so.zx_task_kill, so.zx_task_suspend, so.zx_handle_close
    c_dup, c_wait, c_info = so.zx_handle_duplicate, so.zx_object_wait_one, so.zx_object_get_info
    c_out, c_obs = ctypes.c_uint32(), ctypes.c_uint32()
    c_out_p, c_obs_p = ctypes.byref(c_out), ctypes.byref(c_obs)
    c_same, c_past = int(same), int(past)

    section("kill (a dead process: ZX_OK, nothing else happens)")
    bench("lib: kill", lambda: kill(draw), n, repeat)
    bench("ctypes: kill", lambda: c_kill(draw), n, repeat)
    bench("zxpy: kill", dead.kill, n, repeat)

    section("suspend + resume (an unstarted process: token made and closed)")

    def lib_suspend() -> None:
        suspend(praw, out)
        close(out[0])

    def ct_suspend() -> None:
        c_suspend(praw, c_out_p)
        c_close(c_out.value)

    def zx_suspend() -> None:
        proc.suspend().close()

    def zx_with() -> None:
        with proc.suspend():
            pass

    bench("lib: suspend + close", lib_suspend, n, repeat)
    bench("ctypes: suspend + close", ct_suspend, n, repeat)
    bench("zxpy: suspend + close", zx_suspend, n, repeat)
    bench("zxpy: with suspend", zx_with, n, repeat)

    section("thread suspend until THREAD_SUSPENDED, then resume (a C thread of this process, asleep)")
    suspended = int(Signals.THREAD_SUSPENDED | Signals.TASK_TERMINATED)
    infinite = lib.ZX_TIME_INFINITE
    with ProgressWorker(pause_ns=1_000_000) as worker:
        thread = worker.thread
        traw = thread.raw

        def lib_thread() -> None:
            suspend(traw, out)
            wait(traw, suspended, infinite, observed)
            close(out[0])

        def ct_thread() -> None:
            c_suspend(traw, c_out_p)
            c_wait(traw, suspended, infinite, c_obs_p)
            c_close(c_out.value)

        def zx_thread() -> None:
            with thread.suspend():  # waits for THREAD_SUSPENDED
                pass

        trips = max(n // 100, 100)
        bench("lib: thread suspend", lib_thread, trips, repeat)
        bench("ctypes: thread suspend", ct_thread, trips, repeat)
        bench("zxpy: thread suspend", zx_thread, trips, repeat)

    section("wait_one poll (signal already active)")
    bench("lib: wait_one poll", lambda: wait(jraw, no_proc, past, observed), n, repeat)
    bench("ctypes: wait_one poll", lambda: c_wait(jraw, no_proc, c_past, c_obs_p), n, repeat)
    bench("zxpy: wait_one poll", lambda: job.wait_one(no_proc, timeout=0), n, repeat)
    bench("zxpy: terminated", lambda: dead.terminated, n, repeat)

    section("handle duplicate + close")

    def lib_dup() -> None:
        dup(jraw, same, out)
        close(out[0])

    def ct_dup() -> None:
        c_dup(jraw, c_same, c_out_p)
        c_close(c_out.value)

    def zx_dup() -> None:
        job.duplicate().close()

    bench("lib: duplicate + close", lib_dup, n, repeat)
    bench("ctypes: duplicate + close", ct_dup, n, repeat)
    bench("zxpy: duplicate + close", zx_dup, n, repeat)

    section("get_info")
    info = ffi.new("zx_info_handle_basic_t *")
    get_info, basic = lib.zx_object_get_info, lib.ZX_INFO_HANDLE_BASIC
    pinfo_size = ffi.sizeof("zx_info_process_t")
    pinfo = ffi.new("char[]", pinfo_size)
    ptopic = lib.ZX_INFO_PROCESS
    c_basic = ctypes.create_string_buffer(ffi.sizeof("zx_info_handle_basic_t"))
    c_pinfo = ctypes.create_string_buffer(pinfo_size)
    bsize = ctypes.sizeof(c_basic)
    bench("lib: basic_info", lambda: get_info(jraw, basic, info, bsize, ffi.NULL, ffi.NULL), n, repeat)
    bench("ctypes: basic_info", lambda: c_info(jraw, basic, c_basic, bsize, None, None), n, repeat)
    bench("zxpy: basic_info", job.basic_info, n, repeat)
    bench("lib: process info", lambda: get_info(draw, ptopic, pinfo, pinfo_size, ffi.NULL, ffi.NULL), n, repeat)
    bench("ctypes: process info", lambda: c_info(draw, ptopic, c_pinfo, pinfo_size, None, None), n, repeat)
    bench("zxpy: process info", dead.info, n, repeat)

    section("errors (the raise and catch of a ZxError)")

    def zx_error() -> None:
        try:
            job.suspend()  # a job cannot be suspended: WRONG_TYPE
        except zxpy.WrongTypeError:
            pass

    bench("lib: failing call", lambda: suspend(jraw, out), n, repeat)
    bench("ctypes: failing call", lambda: c_suspend(jraw, c_out_p), n, repeat)
    bench("zxpy: failing call", zx_error, n // 4, repeat)

    for h in (proc, dead):
        h.close()
    job.kill()
    job.close()


# ------------------------------------------------------------------------------------------------ round trips

# A program of eight threads that all sleep (the main thread and seven it starts).
EIGHT_THREADS = (
    "import threading, time\n"
    "for _ in range(7):\n"
    "    threading.Thread(target=time.sleep, args=(100000,), daemon=True).start()\n"
    "time.sleep(100000)\n"
)


def _tids(pid: int | str) -> list[int]:
    return [int(t) for t in os.listdir(f"/proc/{pid}/task")]


def _children() -> set[int]:
    """Pids of this process's children (those of every thread: the monitor thread is the parent of zxpy's)."""
    kids: set[int] = set()
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/children", encoding="ascii") as f:
                kids.update(int(pid) for pid in f.read().split())
        except FileNotFoundError:
            pass
    return kids


class _Pinned:
    """Every thread of this process and of the given programs on one CPU (sched_setaffinity is per thread), put
    back as they were on exit; a no-op when ``cpu`` is None."""

    def __init__(self, cpu: int | None, pids: list[int]) -> None:
        self.cpu, self.pids = cpu, pids
        self.saved: dict[int, set[int]] = {}

    def __enter__(self) -> _Pinned:
        if self.cpu is not None:
            targets: list[int | str] = ["self", *self.pids]
            for pid in targets:
                for tid in _tids(pid):
                    self.saved[tid] = os.sched_getaffinity(tid)
                    os.sched_setaffinity(tid, {self.cpu})
        return self

    def __exit__(self, *exc: object) -> None:
        for tid, cpus in self.saved.items():
            try:
                os.sched_setaffinity(tid, cpus)
            except ProcessLookupError:
                pass


def _spawn_ready(job: Job, argv: list[str], nthreads: int) -> tuple[Process, int, list[Any]]:
    """``job.spawn(argv)``, its Linux pid, and its ``nthreads`` Zircon threads once all are there."""
    before = _children()
    proc = job.spawn(argv)
    (pid,) = _children() - before
    deadline = time.monotonic() + 30
    while len(proc.threads()) < nthreads:
        if time.monotonic() > deadline:
            raise SystemExit(f"{argv[0]} never started its {nthreads} threads")
        time.sleep(0.01)
    return proc, pid, [proc.child(k) for k in proc.threads()]


def _posix_spawn_ready(argv: list[str], nthreads: int) -> int:
    pid = os.posix_spawn(argv[0], argv, os.environ)  # the environment job.spawn passes by default
    deadline = time.monotonic() + 30
    while len(_tids(pid)) < nthreads:
        if time.monotonic() > deadline:
            raise SystemExit(f"{argv[0]} never started its {nthreads} threads")
        time.sleep(0.01)
    return pid


def round_trips(n: int, repeat: int) -> None:
    """Issue 11 goal 3: suspend round trips, unpinned and with this process and the subject pinned to one CPU,
    next to SIGSTOP + waitid(WSTOPPED) + SIGCONT + waitid(WCONTINUED) of the same program (not traced)."""
    section("real suspension round trips (suspend, wait SUSPENDED, resume, wait RUNNING), unpinned and pinned")
    count = max(n // 100, 100)
    suspended, running = Signals.THREAD_SUSPENDED, Signals.THREAD_RUNNING
    cpu = max(os.sched_getaffinity(0))
    table: list[tuple[str, float, float | None, float, float | None]] = []

    def both(label: str, fn: Callable[[], object], pids: list[int], ref: Callable[[], object] | None = None,
             ref_pids: list[int] | None = None) -> None:
        figures: list[float | None] = []
        for where in (None, cpu):
            tag = "pinned" if where is not None else "unpinned"
            with _Pinned(where, pids):
                figures.append(bench(f"round trip {tag}: {label}", fn, count, repeat) / 1e3)
            if ref is not None:
                with _Pinned(where, ref_pids or []):
                    figures.append(bench(f"round trip {tag}: SIGSTOP + waitid, {label}", ref, count, repeat) / 1e3)
            else:
                figures.append(None)
        table.append((label, figures[0] or 0.0, figures[1], figures[2] or 0.0, figures[3]))

    with ProgressWorker(pause_ns=1_000_000) as worker:  # asleep most of the time, as the programs below
        thread = worker.thread

        def own_thread() -> None:
            token = thread.suspend()  # waits for THREAD_SUSPENDED
            token.close()
            thread.wait_one(running)

        both("a C thread of this process (thread token)", own_thread, [])

    def sigstop(pid: int) -> Callable[[], None]:
        def trip() -> None:
            os.kill(pid, signal.SIGSTOP)
            os.waitid(os.P_PID, pid, os.WSTOPPED)
            os.kill(pid, signal.SIGCONT)
            os.waitid(os.P_PID, pid, os.WCONTINUED)
        return trip

    job = Job.default().create_job()
    ref_pids: list[int] = []
    try:
        for label, argv, nthreads in (("one-thread program (/bin/sleep)", [SLEEP, "100000"], 1),
                                      ("eight-thread program (python3)", [sys.executable, "-c", EIGHT_THREADS], 8)):
            proc, pid, threads = _spawn_ready(job, argv, nthreads)
            ref = _posix_spawn_ready(argv, nthreads)
            ref_pids.append(ref)

            def process_token(proc: Process = proc, threads: list[Any] = threads) -> None:
                token = proc.suspend()
                for t in threads:
                    t.wait_one(suspended)
                token.close()
                for t in threads:
                    t.wait_one(running)

            if nthreads == 1:
                (only,) = threads

                def thread_token(only: Any = only) -> None:
                    token = only.suspend()  # waits for THREAD_SUSPENDED
                    token.close()
                    only.wait_one(running)

                both(f"{label}, thread token", thread_token, [pid])
            both(f"{label}, process token", process_token, [pid], sigstop(ref), [ref])
            for t in threads:
                t.close()
            proc.close()

        def spawn_true() -> None:
            p = job.spawn(["/bin/true"])
            p.wait_terminated()
            p.close()

        bench("spawn /bin/true and wait for TERMINATED", spawn_true, max(n // 2000, 10), min(repeat, 3))
    finally:
        job.kill()
        job.close()
        for pid in ref_pids:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)

    floor = _tracer_floor(count, cpu)
    if floor is not None:
        (floor_un, floor_un_ref), (floor_pin, floor_pin_ref) = floor
        table.append(("C floor: a tracer thread serving another", floor_un, floor_un_ref, floor_pin, floor_pin_ref))

    section(f"round trips side by side (us; min of {repeat} x {count}; pinned: this process and the subject on "
            f"CPU {cpu})")
    print(f"  {'subject':<52} {'unpinned':>9} {'SIGSTOP':>8} {'ratio':>6} {'pinned':>8} {'SIGSTOP':>8} {'ratio':>6}")
    for label, un, un_ref, pin, pin_ref in table:
        cells = [f"{un:9.1f}", f"{un_ref:8.1f}" if un_ref else f"{'':>8}",
                 f"{un / un_ref:5.2f}x" if un_ref else f"{'':>6}", f"{pin:8.1f}",
                 f"{pin_ref:8.1f}" if pin_ref else f"{'':>8}", f"{pin / pin_ref:5.2f}x" if pin_ref else f"{'':>6}"]
        print(f"  {label:<52} {' '.join(cells)}")
        RESULTS.append({"name": f"round trips: {label}", "unpinned_us": un, "unpinned_sigstop_us": un_ref,
                        "pinned_us": pin, "pinned_sigstop_us": pin_ref})


def _tracer_floor(count: int, cpu: int) -> tuple[tuple[float, float], tuple[float, float]] | None:
    """benchmarks/tracer_floor.c, unpinned and pinned to ``cpu``: ((mediated, SIGSTOP), (mediated, SIGSTOP)) in us.

    The floor of any design in which one tracer thread makes the ptrace calls for other threads, as zxpy's monitor
    does (Linux lets no other thread make them).  None, saying why, without a C compiler."""
    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    source = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tracer_floor.c")
    if cc is None or not os.path.exists(source):
        print("  (no C compiler or no tracer_floor.c: the C floor row is left out)")
        return None
    with tempfile.TemporaryDirectory() as tmp:
        exe = os.path.join(tmp, "tracer_floor")
        subprocess.run([cc, "-O2", "-pthread", source, "-o", exe], check=True)
        rows = []
        for where in (-1, cpu):
            out = subprocess.run([exe, str(count), str(where)], check=True, capture_output=True, text=True).stdout
            figures = {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1]) for line in out.splitlines()}
            tag = "pinned" if where >= 0 else "unpinned"
            for name, us in figures.items():
                print(f"  {f'round trip {tag}: C, {name}':<62} {us * 1e3:10.1f} ns")
            rows.append((figures["tracer thread serving another"], figures["SIGSTOP + waitid"]))
    return rows[0], rows[1]


# ------------------------------------------------------------------------------------------------ kill of N programs


def _kill_zxpy(n: int) -> tuple[float, list[int]]:
    """Seconds from ``job.kill()`` until the job is TERMINATED (every process TERMINATED first), and the codes."""
    job = Job.default().create_job()
    procs = [job.spawn([SLEEP, "1000"]) for _ in range(n)]
    time.sleep(SETTLE_S)
    t0 = time.perf_counter()
    job.kill()
    job.wait_one(Signals.JOB_TERMINATED)
    elapsed = time.perf_counter() - t0
    codes = [p.info().return_code for p in procs]
    for p in procs:
        p.close()
    job.close()
    return elapsed, codes


def _spawn_sleepers(n: int) -> list[int]:
    """``n`` children of this process in one new process group (that of the first), once settled.

    They get this process's environment, as ``job.spawn`` passes it by default (``CLONE_ENVIRON``): with a locale
    set, ``sleep`` maps the locale's files at start-up, and a larger address space costs more to tear down."""
    pids = [os.posix_spawn(SLEEP, [SLEEP, "1000"], os.environ, setpgroup=0)]
    pids += [os.posix_spawn(SLEEP, [SLEEP, "1000"], os.environ, setpgroup=pids[0]) for _ in range(n - 1)]
    time.sleep(SETTLE_S)
    return pids


def _kill_killpg(n: int) -> tuple[float, list[int]]:
    """Seconds for ``os.killpg`` of the group + ``os.waitpid`` of every child."""
    pids = _spawn_sleepers(n)
    t0 = time.perf_counter()
    os.killpg(pids[0], signal.SIGKILL)
    statuses = [os.waitpid(pid, 0)[1] for pid in pids]
    elapsed = time.perf_counter() - t0
    return elapsed, [-os.WTERMSIG(s) for s in statuses]


def _kill_psutil(n: int) -> tuple[float, list[int]]:
    """Seconds for ``psutil.Process.kill`` of each + ``psutil.wait_procs`` (the Process objects made beforehand)."""
    import psutil  # type: ignore[import-untyped,unused-ignore]

    procs = [psutil.Process(pid) for pid in _spawn_sleepers(n)]
    t0 = time.perf_counter()
    for p in procs:
        p.kill()
    gone, alive = psutil.wait_procs(procs)
    elapsed = time.perf_counter() - t0
    assert not alive
    return elapsed, [p.returncode for p in gone]


def kill_many(sizes: list[int], rounds: int) -> None:
    """Issue 11 goal 4: kill N real processes until every one is reaped, zxpy next to killpg and psutil."""
    try:
        import psutil  # type: ignore[import-untyped,unused-ignore]  # noqa: F401
        have_psutil = True
    except ImportError:
        have_psutil = False
    section(f"kill of N spawned /bin/sleep until reaped (min and median of {rounds} interleaved rounds, ms)")
    print(f"  {'N':>5} {'zxpy min':>9} {'median':>8} {'killpg min':>11} {'median':>8} {'psutil min':>11} "
          f"{'median':>8} {'zx/killpg':>10} {'psutil/zx':>10} {'us/proc':>8}")
    for n in sizes:
        zx: list[float] = []
        kp: list[float] = []
        ps: list[float] = []
        for _ in range(rounds):  # interleaved, so load on the machine hits the three columns alike
            t, codes = _kill_zxpy(n)
            if set(codes) != {-1024}:
                raise SystemExit(f"zxpy: unexpected return codes {sorted(set(codes))}")
            zx.append(t)
            t, codes = _kill_killpg(n)
            kp.append(t)
            if have_psutil:
                t, codes = _kill_psutil(n)
                ps.append(t)
        zmed, kmed = statistics.median(zx), statistics.median(kp)
        pmed = statistics.median(ps) if ps else float("nan")
        pmin = min(ps) if ps else float("nan")
        print(f"  {n:>5} {min(zx) * 1e3:9.2f} {zmed * 1e3:8.2f} {min(kp) * 1e3:11.2f} {kmed * 1e3:8.2f} "
              f"{pmin * 1e3:11.2f} {pmed * 1e3:8.2f} {zmed / kmed:9.2f}x {pmed / zmed:9.2f}x {zmed / n * 1e6:8.1f}")
        RESULTS.append({"name": f"kill {n}", "zxpy_ms": [t * 1e3 for t in zx], "killpg_ms": [t * 1e3 for t in kp],
                        "psutil_ms": [t * 1e3 for t in ps], "zxpy_over_killpg": zmed / kmed,
                        "psutil_over_zxpy": pmed / zmed})


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


SECTIONS = ["calls", "round-trips", "kill", "memory"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10x fewer iterations")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--only", nargs="+", choices=SECTIONS, help="run only these sections")
    parser.add_argument("--kill-sizes", type=int, nargs="+", default=[10, 100, 500], metavar="N")
    parser.add_argument("--kill-rounds", type=int, default=7, metavar="R", help="rounds of each kill size (default 7)")
    args = parser.parse_args()
    only = set(args.only or SECTIONS)
    n = 20_000 if args.quick else 200_000
    cycles = 10_000 if args.quick else 100_000
    print(f"zxpy {zxpy.__version__}, Python {platform.python_version()}, {platform.machine()}, "
          f"{os.cpu_count()} CPUs; min of {args.repeat} x {n:,} calls")
    if "calls" in only:
        call_costs(n, args.repeat)
    if "round-trips" in only:
        round_trips(n, args.repeat)
    if "kill" in only:
        kill_many(args.kill_sizes, 3 if args.quick else args.kill_rounds)
    if "memory" in only:
        memory(cycles)
    if "calls" in only:
        summary()
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"python": sys.version, "results": RESULTS}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
