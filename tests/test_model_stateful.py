"""Model-based test: random call sequences against the reference model and the host kernel.

A hypothesis ``RuleBasedStateMachine`` drives zxpy and the pure-Python model
(tests/zxmodel, written from Zircon's kernel source) with the same random
sequence of calls - create job / process / thread, start a thread of this
process (which may already be suspended), ask it to exit,
spawn a program, create an event, duplicate (often with fewer rights),
replace, suspend, close (tokens included), kill, kill then wait for
TERMINATED, signal, poll, a short blocking wait, every get_info topic,
get_child, start a thread - and asserts after every step:

* the same outcome: ``ZX_OK`` or the same ``ZxError`` subclass, naming the
  syscall that failed;
* for every live handle, ZX_INFO_HANDLE_BASIC (koid, rights, type, related
  koid) as the model says;
* for every object still reachable, the exact signals and every info topic
  its handles allow (process, thread, job, children, processes, threads);
* the calling process's handle count by type (ZX_INFO_PROCESS_HANDLE_STATS)
  equal to the model's: no handle leaks, none disappears.

Every sequence starts from a nested tree (top job -> sub-job -> sub-sub-job
-> process -> thread, a program spawned into the sub-job) and a suspended
thread of this process; kills pick jobs with jobs under them, and suspends
tasks that run code, one time in three, so kills of whole subtrees and
real suspensions are common.  A sequence that passes ends by closing every
suspend token and then killing every top job, comparing everything after
each.

Asynchronous effects (a real thread parking or resuming, a spawned program
dying) are awaited before comparing, through observer handles the test keeps
on every object that runs code; everything else is compared strictly.

CI size: 50 sequences of up to 50 steps - 1,745 to 2,043 compared steps and
1,741 to 2,288 zxpy calls in ten runs here, 2.3-3.1 s.  ``ZXPY_SLOW=1`` or
``--slow``: 300 sequences of up to 100 steps (25,545 steps, 28 s here).  The
figures of a run are printed at the end of the session.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import hypothesis.strategies as st
from conftest import as_kind
from conftest_robustness import reporter, scaled
from hypothesis import HealthCheck, settings
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from zxmodel import INFO, OBJ, RIGHTS, SIG, Kernel
from zxmodel import model as M

import zxpy
from zxpy import Handle, Job, Process, Task, Thread, ThreadState, ZxError

SLEEP = "/bin/sleep"
SETTLE = 30.0  # generous bound for asynchronous effects; never a speed goal
BOGUS_KOID = 1 << 62
WAIT_NS = 3_000_000  # the blocking wait rule's deadline, ahead of now

#: Rights the rules like to drop or keep.
INTERESTING = [
    RIGHTS.DUPLICATE, RIGHTS.TRANSFER, RIGHTS.WRITE, RIGHTS.ENUMERATE, RIGHTS.DESTROY, RIGHTS.SIGNAL,
    RIGHTS.WAIT, RIGHTS.INSPECT, RIGHTS.MANAGE_JOB, RIGHTS.MANAGE_PROCESS, RIGHTS.MANAGE_THREAD,
]
USER_BITS = [SIG.USER_SIGNAL_0, SIG.USER_SIGNAL_1, SIG.USER_SIGNAL_7]

#: Figures for README's reliability section (read by the summary test).
STATS = {"examples": 0, "steps": 0, "calls": 0, "checks": 0, "final kills": 0,
         "sequences killing a nested job": 0, "sequences resuming a thread by a close": 0}


#: Outcomes seen, by call and status (printed by the summary test).
OUTCOMES: Counter[str] = Counter()


def outcome(call: Callable[[], Any], syscall: str | tuple[str, ...]) -> tuple[str, Any]:
    """Run a zxpy call: ``("ZX_OK", value)`` or ``(error name, exc)``; check the syscall named."""
    STATS["calls"] += 1
    first = syscall if isinstance(syscall, str) else syscall[0]
    try:
        value = call()
        OUTCOMES[f"{first} ZX_OK"] += 1
        return "ZX_OK", value
    except ZxError as exc:
        OUTCOMES[f"{first} {exc.name}"] += 1
        names = (syscall,) if isinstance(syscall, str) else syscall
        assert exc.syscall in names, f"{exc!r} names {exc.syscall}, expected {names}"
        assert exc.name in str(exc) and exc.syscall in str(exc), str(exc)
        return exc.name, exc


def same(model: tuple[str, Any], real: tuple[str, Any], what: str) -> None:
    assert model[0] == real[0], f"{what}: model says {model[0]}, zxpy/host says {real[0]} ({real[1]!r})"


_ENTRY = zxpy.ffi.addressof(zxpy.lib, "zxpy_progress_entry")


@dataclass
class Worker:
    """A thread of this process that runs ``zxpy_progress_entry`` on ``mem`` once started (no GIL held)."""

    oid: int
    mem: Any  # zxpy_progress_t *
    started: bool = False


@dataclass
class Entry:
    """One handle of the pool: the model's handle number and zxpy's wrapper."""

    mh: int
    real: Handle

    @property
    def label(self) -> str:
        return f"{type(self.real).__name__}#{self.mh}"


class ZirconMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        STATS["examples"] += 1
        self.k = Kernel()
        self.koids: dict[int, int] = {}  # model oid -> real koid
        self.pool: list[Entry] = []
        self.closed: list[Handle] = []
        self.workers: list[Worker] = []  # threads of this process that run the C progress worker
        self.observers: dict[int, Handle] = {}  # model oid -> private full-rights handle (objects running code)
        self.top_jobs: list[Job] = []  # private handles to the jobs made under the default job
        self.top_mh: list[int] = []  # the model's handles for them
        self.spawned = 0
        self.nested_killed = False  # a kill of a job with jobs under it happened (figures)
        self.resumed_by_close = False  # a close let a suspended thread that runs code run again (figures)
        self._bind(self.k.default_job.oid, Job.default().koid)
        self._bind(self.k.self_process.oid, Process.self().koid)
        self._bind(self.k.self_thread.oid, Thread.self().koid)
        self.real_base = Process.self().handle_stats()
        self.model_base = self.k.handle_counts()
        self._new_top_job()

    # ------------------------------------------------------------------ bookkeeping

    def _bind(self, oid: int, koid: int) -> None:
        """A model object meets its real koid: new objects get fresh koids, old ones keep theirs."""
        if oid in self.koids:
            assert self.koids[oid] == koid, f"object {oid}: koid {koid}, was {self.koids[oid]}"
        else:
            assert koid not in self.koids.values(), f"koid {koid} given to a second object"
            self.koids[oid] = koid

    def _add(self, mh: int, real: Handle) -> Entry:
        self._bind(self.k.obj(mh).oid, real.koid)
        entry = Entry(mh, real)
        self.pool.append(entry)
        return entry

    def _forget(self, entry: Entry) -> None:
        self.pool.remove(entry)
        self.closed.append(entry.real)
        del self.closed[:-20]

    def _new_top_job(self) -> None:
        status, mh = self.k.job_create(self.k.h_default_job)
        assert status == "ZX_OK"
        real = Job.default().create_job()
        self._bind(self.k.obj(mh).oid, real.koid)
        # The test keeps this handle to kill the tree afterwards; the pool gets a duplicate.
        self.k.mark_external(mh)
        self.top_jobs.append(real)
        self.top_mh.append(mh)
        status, dup = self.k.handle_duplicate(mh, RIGHTS.SAME_RIGHTS)
        self._add(dup, real.duplicate())

    def _observe(self, oid: int, real: Handle) -> None:
        """Keep a private handle on an object that runs code (its state changes asynchronously)."""
        status, mh = self.k.handle_duplicate(self._model_handle_of(real), RIGHTS.SAME_RIGHTS)
        assert status == "ZX_OK"
        self.k.mark_external(mh)
        self.observers[oid] = real.duplicate()

    def _model_handle_of(self, real: Handle) -> int:
        for entry in self.pool:
            if entry.real is real:
                return entry.mh
        raise AssertionError("not in the pool")

    def _pick(self, data: st.DataObject, where: Callable[[Entry], bool] = lambda e: True,
              prefer: tuple[int, ...] = ()) -> Entry | None:
        """A live pool handle; four times in five one of the ``prefer`` object types when there is one."""
        live = [e for e in self.pool if where(e)]
        fitting = [e for e in live if self.k.obj(e.mh).type in prefer]
        if fitting and data.draw(st.integers(0, 4), label="fitting"):
            live = fitting
        if not live:
            return None
        return data.draw(st.sampled_from(live), label="handle")

    def _rights(self, data: st.DataObject, current: int) -> int:
        how = data.draw(st.sampled_from(["same", "drop", "keep", "extra", "none", "same+"]), label="rights")
        held = [r for r in INTERESTING if current & r]
        if how == "drop" and held:
            return current & ~data.draw(st.sampled_from(held))
        if how == "keep" and held:
            return sum(data.draw(st.sets(st.sampled_from(held), min_size=1)))
        if how == "extra":
            missing = [r for r in [*INTERESTING, RIGHTS.EXECUTE, RIGHTS.READ] if not current & r]
            return current | data.draw(st.sampled_from(missing)) if missing else current
        if how == "none":
            return 0
        if how == "same+":
            return RIGHTS.SAME_RIGHTS | RIGHTS.WAIT  # not exactly SAME_RIGHTS: INVALID_ARGS
        return RIGHTS.SAME_RIGHTS

    # ------------------------------------------------------------------ settling and checks

    def _real_signals(self, handle: Handle) -> int:
        try:
            return int(handle.wait_one(0, timeout=0))
        except zxpy.TimedOutError as exc:
            assert exc.observed is not None
            return int(exc.observed)

    def _settle(self) -> None:
        """Wait until every object that runs code shows the signals the model says."""
        for oid, handle in self.observers.items():
            obj = next(o for o in self.k.objects if o.oid == oid)
            want = obj.signals()
            end = time.monotonic() + SETTLE
            got = self._real_signals(handle)
            while got != want and time.monotonic() < end:
                time.sleep(0.001)
                got = self._real_signals(handle)
            assert got == want, f"{obj!r} (koid {self.koids[oid]}): signals {got:#x}, model {want:#x}"

    def _koid_list(self, oids: list[int]) -> set[int]:
        return {self.koids[o] for o in oids}

    def _check_handle(self, entry: Entry) -> None:
        status, info = self.k.get_info(entry.mh, INFO.HANDLE_BASIC)
        real = entry.real.basic_info()
        assert status == "ZX_OK"
        assert real.koid == self.koids[info.oid], entry.label
        assert int(real.rights) == info.rights, f"{entry.label}: rights {int(real.rights):#x}, model {info.rights:#x}"
        assert int(real.type) == info.type, entry.label
        assert real.related_koid == (self.koids[info.related] if info.related else 0), entry.label

    def _check_object(self, entries: list[Entry]) -> None:
        """Compare one object through the pool handles that name it (each topic via a handle allowed to)."""
        def with_right(right: int) -> Entry | None:
            return next((e for e in entries if self.k.handles[e.mh].rights & right == right), None)

        obj = self.k.obj(entries[0].mh)
        waiter = with_right(RIGHTS.WAIT)
        if waiter is not None:
            assert self._real_signals(waiter.real) == obj.signals(), f"{obj!r} signals"
        inspector = with_right(RIGHTS.INSPECT)
        enumerator = with_right(RIGHTS.ENUMERATE)
        if inspector is not None:
            h, real = inspector.mh, inspector.real
            model = self.k.get_info(h, {OBJ.JOB: INFO.JOB, OBJ.PROCESS: INFO.PROCESS,
                                        OBJ.THREAD: INFO.THREAD}.get(obj.type, INFO.HANDLE_BASIC))[1]
            if obj.type == OBJ.JOB:
                info = Job.info(real)  # type: ignore[arg-type]
                assert (info.return_code, info.exited) == (model.return_code, model.exited), f"{obj!r}: {info}"
            elif obj.type == OBJ.PROCESS:
                pinfo = as_kind(Process, real).info()
                got = (pinfo.return_code, pinfo.started, pinfo.exited)
                assert got == (model.return_code, model.started, model.exited), f"{obj!r}: {pinfo}"
                # start_time exists from RFC-0074's record on; the 2021 record has none.
                if pinfo.start_time is not None:
                    assert (pinfo.start_time != 0) == model.ran, f"{obj!r}: {pinfo}"
            elif obj.type == OBJ.THREAD:
                state = Thread.info(real).state  # type: ignore[arg-type]
                basic = int(state) & 0xFF
                expect = {"NEW": {ThreadState.NEW}, "RUNNING": {ThreadState.RUNNING, 3},
                          "SUSPENDED": {ThreadState.SUSPENDED}, "DEAD": {ThreadState.DEAD}}[model.state]
                assert basic in expect, f"{obj!r}: state {state!r}"
        if enumerator is not None:
            h, real = enumerator.mh, enumerator.real
            if obj.type == OBJ.JOB:
                kids = self.k.get_info(h, INFO.JOB_CHILDREN)[1]
                procs = self.k.get_info(h, INFO.JOB_PROCESSES)[1]
                assert set(Job.children(real)) == self._koid_list(kids), f"{obj!r} children"  # type: ignore[arg-type]
                assert set(Job.processes(real)) == self._koid_list(procs), f"{obj!r} processes"  # type: ignore[arg-type]
            elif obj.type == OBJ.PROCESS:
                threads = self.k.get_info(h, INFO.PROCESS_THREADS)[1]
                assert set(Process.threads(real)) == self._koid_list(threads), f"{obj!r} threads"  # type: ignore[arg-type]

    @invariant()
    def everything_matches(self) -> None:
        STATS["steps"] += 1
        self._compare_all()

    def _compare_all(self) -> None:
        self._settle()
        by_object: dict[int, list[Entry]] = {}
        for entry in self.pool:
            self._check_handle(entry)
            by_object.setdefault(self.k.obj(entry.mh).oid, []).append(entry)
        for entries in by_object.values():
            self._check_object(entries)
            STATS["checks"] += 1
        real = Process.self().handle_stats()
        model = self.k.handle_counts()
        for t in set(real) | set(model) | set(self.real_base) | set(self.model_base):
            got = real.get(t, 0) - self.real_base.get(t, 0)
            want = model.get(t, 0) - self.model_base.get(t, 0)
            assert got == want, f"handles of type {t}: {got} more than at the start, model says {want}"

    # ------------------------------------------------------------------ rules: creation

    @precondition(lambda self: len(self.top_jobs) < 3)
    @rule()
    def new_top_job(self) -> None:
        self._new_top_job()

    @initialize()
    def nested_tree(self) -> None:
        """Every sequence starts from a small tree under the first top job, built through compared calls.

        top job -> sub-job -> sub-sub-job -> process -> thread (never started), and a program spawned into
        the sub-job.  Killing a job with jobs below it (job_dispatcher.cc: the whole subtree takes the kill's
        return code, each process dies, each job goes TERMINATED bottom-up) is then common rather than rare.
        The sub-job also gets a look-only handle (a debugger's: INSPECT, ENUMERATE, DUPLICATE, TRANSFER), so kills,
        waits and creations through a handle without the right are common too (ACCESS_DENIED, handle_table.h).
        """
        top = self.pool[0]
        sub = self._create_job_on(top)
        assert sub is not None, "the tree's sub-job"
        look = RIGHTS.INSPECT | RIGHTS.ENUMERATE | RIGHTS.DUPLICATE | RIGHTS.TRANSFER
        assert self._duplicate_on(sub, look) is not None, "the tree's look-only handle"
        subsub = self._create_job_on(sub)
        assert subsub is not None, "the tree's sub-sub-job"
        proc = self._create_process_on(subsub, "p")
        assert proc is not None, "the tree's process"
        assert self._create_thread_on(proc) is not None, "the tree's thread"
        assert self._spawn_on(sub) is not None, "the tree's program"

    @rule(data=st.data())
    def create_job(self, data: st.DataObject) -> None:
        e = self._pick(data, prefer=(OBJ.JOB,))
        if e is not None:
            self._create_job_on(e)

    def _create_job_on(self, e: Entry) -> Entry | None:
        model = self.k.job_create(e.mh)
        real = outcome(lambda: Job.create_job(e.real), "zx_job_create")  # type: ignore[arg-type]
        same(model, real, f"create_job({e.label})")
        return self._add(model[1], real[1]) if model[0] == "ZX_OK" else None

    @rule(data=st.data())
    def create_process(self, data: st.DataObject) -> None:
        e = self._pick(data, prefer=(OBJ.JOB,))
        if e is not None:
            self._create_process_on(e, data.draw(st.sampled_from(["", "p", "x" * 40]), label="name"))

    def _create_process_on(self, e: Entry, name: str) -> Entry | None:
        model = self.k.process_create(e.mh)
        real = outcome(lambda: Job.create_process(e.real, name), "zx_process_create")  # type: ignore[arg-type]
        same(model, real, f"create_process({e.label})")
        return self._add(model[1], real[1]) if model[0] == "ZX_OK" else None

    @rule(data=st.data())
    def create_thread(self, data: st.DataObject) -> None:
        e = self._pick(data, prefer=(OBJ.PROCESS,))
        if e is not None:
            self._create_thread_on(e)

    def _create_thread_on(self, e: Entry) -> Entry | None:
        model = self.k.thread_create(e.mh)
        real = outcome(lambda: Process.create_thread(e.real, "t"), "zx_thread_create")  # type: ignore[arg-type]
        same(model, real, f"create_thread({e.label})")
        return self._add(model[1], real[1]) if model[0] == "ZX_OK" else None

    @rule(data=st.data())
    def start_thread(self, data: st.DataObject) -> None:
        """zx_thread_start on a pool handle (never a thread of this process: see start_self_thread)."""
        e = self._pick(data, lambda e: not (isinstance(self.k.obj(e.mh), M.Thread)
                                            and self.k.obj(e.mh).process.kind == M.SELF), prefer=(OBJ.THREAD,))
        if e is None:
            return
        model = self.k.thread_start(e.mh)
        real = outcome(lambda: Thread.start(e.real, _ENTRY), "zx_thread_start")  # type: ignore[arg-type]
        same(model, real, f"start_thread({e.label})")
        assert model[0] != "ZX_OK", "the model never starts such a thread"

    @precondition(lambda self: len(self.workers) < 3)
    @rule()
    def create_self_thread(self) -> None:
        """A thread of this process (not started yet): once started it runs the C progress worker."""
        self._create_worker()

    def _create_worker(self) -> Entry:
        status, mh = self.k.thread_create(self.k.h_self_process)
        assert status == "ZX_OK"
        entry = self._add(mh, Process.self().create_thread("worker"))
        oid = self.k.obj(mh).oid
        mem = zxpy.ffi.new("zxpy_progress_t *")
        self.workers.append(Worker(oid, mem))
        self._observe(oid, entry.real)
        return entry

    @initialize()
    def suspended_worker(self) -> None:
        """Every sequence also starts with a thread of this process that ran and is now suspended, its token
        in the pool: the close of that token (a rule, or the end of the sequence) must let it run again
        (process_dispatcher.cc), checked through its counter."""
        entry = self._create_worker()
        self._start_worker(entry)
        assert self.workers[-1].started, "the first worker did not start"
        assert _advances(lambda: self.workers[-1].mem.count), "the first worker does not run"
        assert self._suspend(entry) == "ZX_OK", "the first worker's suspension"

    @rule(data=st.data())
    def start_self_thread(self, data: st.DataObject) -> None:
        """zx_thread_start of a thread of this process (maybe suspended already: it parks before running)."""
        e = self._pick(data, lambda e: self._worker_of(self.k.obj(e.mh)) is not None)
        if e is not None:
            self._start_worker(e)

    def _start_worker(self, e: Entry) -> None:
        worker = self._worker_of(self.k.obj(e.mh))
        assert worker is not None
        model = self.k.thread_start(e.mh)
        arg = int(zxpy.ffi.cast("uintptr_t", worker.mem))
        real = outcome(lambda: Thread.start(e.real, _ENTRY, arg), "zx_thread_start")  # type: ignore[arg-type]
        same(model, real, f"start_self_thread({e.label})")
        if model[0] == "ZX_OK":
            worker.started = True
            if self.k_obj(worker.oid).state == M.SUSPENDED:
                # StartSuspendedThread (thread_dispatcher.cc): it parks before running an instruction of its entry.
                self._settle()
                time.sleep(0.005)
                assert worker.mem.count == 0, "a thread started while suspended ran its entry"

    def _worker_of(self, obj: M.Obj) -> Worker | None:
        return next((w for w in self.workers if w.oid == obj.oid), None)

    def k_obj(self, oid: int) -> M.Obj:
        return next(o for o in self.k.objects if o.oid == oid)

    @rule(data=st.data())
    def stop_self_thread(self, data: st.DataObject) -> None:
        """Ask a worker to exit: it does once it runs (at once, or when resumed, or right after its start)."""
        live = [w for w in self.workers if not w.mem.stop]
        if not live:
            return
        worker = data.draw(st.sampled_from(live), label="worker")
        worker.mem.stop = 1
        thread = self.k_obj(worker.oid)
        assert isinstance(thread, M.Thread)
        self.k.request_stop(thread)

    @precondition(lambda self: self.spawned < scaled(4, 8))
    @rule(data=st.data())
    def spawn(self, data: st.DataObject) -> None:
        e = self._pick(data, prefer=(OBJ.JOB,))
        if e is not None:
            self._spawn_on(e)

    def _spawn_on(self, e: Entry) -> Entry | None:
        model = self.k.spawn(e.mh)
        real = outcome(lambda: Job.spawn(e.real, [SLEEP, "1000"]), "fdio_spawn_etc")  # type: ignore[arg-type]
        same(model, real, f"spawn({e.label})")
        if model[0] != "ZX_OK":
            return None
        self.spawned += 1
        proc_entry = self._add(model[1], real[1])
        proc_obj = self.k.obj(model[1])
        assert isinstance(proc_obj, M.Process)
        (thread_koid,) = real[1].threads()
        self._bind(proc_obj.threads[0].oid, thread_koid)
        self._observe(proc_obj.oid, proc_entry.real)
        # The program's thread gets an observer too (a get_child handle, kept private).
        status, th = self.k.get_child(proc_entry.mh, proc_obj.threads[0].oid, RIGHTS.SAME_RIGHTS)
        assert status == "ZX_OK"
        self.k.mark_external(th)
        self.observers[proc_obj.threads[0].oid] = real[1].child(thread_koid)
        return proc_entry

    @rule()
    def create_event(self) -> None:
        model = self.k.event_create()
        self._add(model[1], zxpy.Event.create())

    # ------------------------------------------------------------------ rules: handles

    @rule(data=st.data())
    def duplicate(self, data: st.DataObject) -> None:
        e = self._pick(data)
        if e is not None:
            self._duplicate_on(e, self._rights(data, self.k.handles[e.mh].rights))

    def _duplicate_on(self, e: Entry, rights: int) -> Entry | None:
        model = self.k.handle_duplicate(e.mh, rights)
        real = outcome(lambda: e.real.duplicate(rights), "zx_handle_duplicate")
        same(model, real, f"duplicate({e.label}, {rights:#x})")
        return self._add(model[1], real[1]) if model[0] == "ZX_OK" else None

    @rule(data=st.data())
    def replace(self, data: st.DataObject) -> None:
        e = self._pick(data)
        if e is None:
            return
        rights = self._rights(data, self.k.handles[e.mh].rights)
        old_raw = e.real.raw
        model = self.k.handle_replace(e.mh, rights)
        real = outcome(lambda: e.real.replace(rights), "zx_handle_replace")
        same(model, real, f"replace({e.label}, {rights:#x})")
        assert e.real.closed, "replace must consume the source handle, even on failure"
        self._forget(e)
        self._check_stale(old_raw)
        if model[0] == "ZX_OK":
            self._add(model[1], real[1])

    @rule(data=st.data())
    def close(self, data: st.DataObject) -> None:
        e = self._pick(data, prefer=(OBJ.SUSPEND_TOKEN,))
        if e is None:
            return
        old_raw = e.real.raw
        was_worker = self._worker_resumes_on_close(e)
        parked = self._parked_runners()
        model = self.k.handle_close(e.mh)
        real = outcome(e.real.close, "zx_handle_close")
        same(model, real, f"close({e.label})")
        self._note_resumed(parked)
        self._forget(e)
        self._check_stale(old_raw)
        if was_worker is not None:
            self._settle()
            assert _advances(lambda: was_worker.mem.count), "a resumed worker thread makes no progress"

    def _note_resumed(self, parked: set[int]) -> None:
        """Figures: whether a close let one of the ``parked`` threads run again in this sequence."""
        if parked - self._parked_runners() and not self.resumed_by_close:
            self.resumed_by_close = True
            STATS["sequences resuming a thread by a close"] += 1

    def _parked_runners(self) -> set[int]:
        """Model ids of the threads that run code (workers, programs' threads) the model has SUSPENDED."""
        return {o.oid for o in self.k.objects
                if isinstance(o, M.Thread) and o.oid in self.observers and o.state == M.SUSPENDED}

    def _check_stale(self, raw: int) -> None:
        """The raw value of a closed handle is dead in the kernel at once (BAD_HANDLE)."""
        status = zxpy.lib.zx_object_get_info(raw, zxpy.lib.ZX_INFO_HANDLE_VALID, zxpy.ffi.NULL, 0,
                                             zxpy.ffi.NULL, zxpy.ffi.NULL)
        assert status == zxpy.lib.ZX_ERR_BAD_HANDLE

    def _worker_resumes_on_close(self, e: Entry) -> Worker | None:
        """The worker whose thread runs again if this (token) handle closes, per the model."""
        obj = self.k.obj(e.mh)
        if not isinstance(obj, M.Token) or obj.handles != 1 or not isinstance(obj.task, M.Thread):
            return None
        t = obj.task
        if t.state != M.SUSPENDED or t.effective_suspend() != 1 or t.stop_requested:
            return None
        return self._worker_of(t)

    @rule(data=st.data())
    def use_after_close(self, data: st.DataObject) -> None:
        """Any call on a closed wrapper is ValueError("handle is closed (<what>)"); the kernel is not called."""
        if not self.closed:
            return
        handle = data.draw(st.sampled_from(self.closed), label="closed")
        op = data.draw(st.sampled_from(["kill", "suspend", "duplicate", "replace", "wait", "info", "koid",
                                        "signal", "raw"]), label="op")
        calls: dict[str, Callable[[], object]] = {
            "kill": lambda: as_kind(Task, handle).kill(),
            "suspend": lambda: as_kind(Task, handle).suspend(),
            "duplicate": handle.duplicate,
            "replace": handle.replace,
            "wait": lambda: handle.wait_one(zxpy.Signals.TASK_TERMINATED, timeout=0),
            "info": handle.basic_info,
            "koid": lambda: handle.koid,
            "signal": lambda: handle.signal(0, USER_BITS[0]),
            "raw": lambda: handle.raw,
        }
        try:
            calls[op]()
        except ValueError as exc:
            assert str(exc).startswith("handle is closed (")
        else:
            raise AssertionError(f"{op} on a closed handle did not raise")
        assert handle.closed and not handle.is_valid()
        handle.close()  # a second close does nothing

    # ------------------------------------------------------------------ rules: tasks

    def _pick_to_kill(self, data: st.DataObject) -> Entry | None:
        """A kill target: one time in three a live job with jobs under it (when there is one), else any
        handle, four times in five a job or a process."""
        nested = [e for e in self.pool
                  if isinstance(o := self.k.obj(e.mh), M.Job) and o.state == M.READY and o.jobs]
        if nested and not data.draw(st.integers(0, 2), label="nested"):
            return data.draw(st.sampled_from(nested), label="handle")
        return self._pick(data, prefer=(OBJ.JOB, OBJ.PROCESS))

    def _kill(self, e: Entry) -> str:
        target = self.k.obj(e.mh)
        nested = isinstance(target, M.Job) and target.state == M.READY and bool(target.jobs)
        model = self.k.task_kill(e.mh)
        real = outcome(lambda: as_kind(Task, e.real).kill(), "zx_task_kill")
        same(model, real, f"kill({e.label})")
        if model[0] == "ZX_OK":
            self._check_exited_at_once()
            if nested and not self.nested_killed:
                self.nested_killed = True
                STATS["sequences killing a nested job"] += 1
        return model[0]

    @rule(data=st.data())
    def kill(self, data: st.DataObject) -> None:
        e = self._pick_to_kill(data)
        if e is not None:
            self._kill(e)

    @rule(data=st.data())
    def kill_then_wait(self, data: st.DataObject) -> None:
        """Kill, then wait for TASK_TERMINATED on every pool handle of the killed task that may wait.

        Each wait must end ZX_OK, observing exactly the signals the model gives the dead task.  With no
        started thread in the killed subtree the task is DEAD when the kill returns (process_dispatcher.cc:
        TERMINATED is already asserted), so the wait is a poll; otherwise TERMINATED comes once the last thread is gone
        (process_dispatcher.cc), and the deadline is generous: it bounds a hang, it is not a speed goal.
        """
        e = self._pick_to_kill(data)
        if e is None:
            return
        obj = self.k.obj(e.mh)
        subtree = self.k.tasks_under(obj) if isinstance(obj, M.Job) else [obj]
        had_threads = any(isinstance(p, M.Process) and p.threads for p in subtree)
        if self._kill(e) != "ZX_OK":
            return
        timeout = SETTLE if had_threads else 0
        for w in self.pool:
            if self.k.obj(w.mh) is not obj or not self.k.handles[w.mh].rights & RIGHTS.WAIT:
                continue
            model = self.k.wait_poll(w.mh, SIG.TASK_TERMINATED)
            assert model[0] == "ZX_OK", f"the model left {obj!r} alive after its kill"
            waiter = w.real
            real = outcome(lambda: waiter.wait_one(SIG.TASK_TERMINATED, timeout=timeout),  # noqa: B023 - run at once
                           "zx_object_wait_one")
            same(model, real, f"wait for TERMINATED on {w.label} ({timeout} s) after kill({e.label})")
            assert int(real[1]) == model[1], f"{obj!r}: signals {int(real[1]):#x}, model {model[1]:#x}"

    def _check_exited_at_once(self) -> None:
        """{process,job}_dispatcher.cc: once kill returns, ZX_INFO_PROCESS / ZX_INFO_JOB already say exited, with
        the kill's code."""
        for entry in self.pool:
            obj = self.k.obj(entry.mh)
            if not self.k.handles[entry.mh].rights & RIGHTS.INSPECT:
                continue
            if isinstance(obj, M.Process) and obj.state == M.DEAD:
                info = as_kind(Process, entry.real).info()
                assert info.exited and info.return_code == obj.return_code, f"{obj!r} right after kill: {info}"
            elif isinstance(obj, M.Job) and obj.state != M.READY:
                jinfo = Job.info(entry.real)  # type: ignore[arg-type]
                assert jinfo.exited and jinfo.return_code == obj.return_code, f"{obj!r} right after kill: {jinfo}"

    @rule(data=st.data())
    def suspend(self, data: st.DataObject) -> None:
        """One time in three a task that runs code (a started worker, a program), when there is one: its
        tokens' last close must let it run again (process_dispatcher.cc Resume), which only such a task can show."""
        runners = [e for e in self.pool
                   if self.k.obj(e.mh).oid in self.observers and self.k.obj(e.mh).state in (M.RUNNING, M.SUSPENDED)]
        if runners and not data.draw(st.integers(0, 2), label="runner"):
            e: Entry | None = data.draw(st.sampled_from(runners), label="handle")
        else:
            e = self._pick(data, prefer=(OBJ.THREAD, OBJ.PROCESS))
        if e is not None:
            self._suspend(e)

    def _suspend(self, e: Entry) -> str:
        rights = self.k.handles[e.mh].rights
        model = self.k.task_suspend(e.mh)
        waits = isinstance(e.real, Thread) and rights & (RIGHTS.WAIT | RIGHTS.INSPECT) == RIGHTS.WAIT | RIGHTS.INSPECT
        if waits:
            # Thread.suspend() returns once the thread really is suspended (it waits on THREAD_SUSPENDED).
            real = outcome(lambda: e.real.suspend(timeout=SETTLE), "zx_task_suspend")  # type: ignore[attr-defined]
        else:
            real = outcome(lambda: as_kind(Task, e.real).suspend(), "zx_task_suspend")
        same(model, real, f"suspend({e.label})")
        if model[0] != "ZX_OK":
            return model[0]
        self._add(model[1], real[1])
        obj = self.k.obj(e.mh)
        if waits and isinstance(obj, M.Thread) and obj.state == M.SUSPENDED:
            # Already parked when suspend() returned, so a worker's counter stands still from now on.
            assert self._real_signals(e.real) & zxpy.Signals.THREAD_SUSPENDED
            worker = self._worker_of(obj)
            if worker is not None and worker.started:
                before = worker.mem.count
                time.sleep(0.005)
                assert worker.mem.count == before, "a suspended worker thread kept counting"
        return model[0]

    @precondition(lambda self: self.spawned % 2 == 0)  # thins this rule out: it never changes state
    @rule(data=st.data())
    def suspend_or_kill_self(self, data: st.DataObject) -> None:
        """The calling thread and process cannot be suspended (NOT_SUPPORTED); a thread cannot be killed."""
        which = data.draw(st.sampled_from(["suspend thread", "suspend process", "kill thread", "suspend job"]))
        if which == "suspend thread":
            model = self.k.task_suspend(self.k.h_self_thread)
            real = outcome(lambda: Task.suspend(Thread.self()), "zx_task_suspend")
        elif which == "suspend process":
            model = self.k.task_suspend(self.k.h_self_process)
            real = outcome(lambda: Process.self().suspend(), "zx_task_suspend")
        elif which == "kill thread":
            model = self.k.task_kill(self.k.h_self_thread)
            real = outcome(lambda: Thread.self().kill(), "zx_task_kill")
        else:
            model = self.k.task_suspend(self.k.h_default_job)
            real = outcome(lambda: Job.default().suspend(), "zx_task_suspend")
        same(model, real, which)
        assert model[0] != "ZX_OK"

    # ------------------------------------------------------------------ rules: signals and infos

    @rule(data=st.data())
    def signal(self, data: st.DataObject) -> None:
        e = self._pick(data)
        if e is None:
            return
        bits = st.sampled_from([*USER_BITS, *USER_BITS, SIG.EVENT_SIGNALED, SIG.THREAD_SUSPENDED])
        clear = sum(data.draw(st.sets(bits, max_size=2), label="clear"))
        set_ = sum(data.draw(st.sets(bits, max_size=2), label="set"))
        model = self.k.object_signal(e.mh, int(clear), int(set_))
        real = outcome(lambda: e.real.signal(int(clear), int(set_)), "zx_object_signal")
        same(model, real, f"signal({e.label}, {int(clear):#x}, {int(set_):#x})")

    @rule(data=st.data())
    def poll(self, data: st.DataObject) -> None:
        e = self._pick(data)
        if e is None:
            return
        wanted = data.draw(st.sampled_from([0, SIG.TASK_TERMINATED, SIG.THREAD_SUSPENDED, SIG.THREAD_RUNNING,
                                            SIG.JOB_NO_PROCESSES, USER_BITS[0], 0xFFFFFFFF]), label="signals")
        model = self.k.wait_poll(e.mh, int(wanted))
        real = outcome(lambda: e.real.wait_one(int(wanted), timeout=0), "zx_object_wait_one")
        same(model, real, f"poll({e.label}, {int(wanted):#x})")
        if model[0] == "ZX_OK":
            assert int(real[1]) == model[1]
        elif model[0] == "ZX_ERR_TIMED_OUT":
            assert int(real[1].observed) == model[1]

    @rule(data=st.data())
    def wait(self, data: st.DataObject) -> None:
        """zx_object_wait_one with a deadline a few ms ahead: a real blocking wait.

        Between steps the state is settled, so nothing changes during the wait: the model's answer is its
        poll's.  A wanted signal already active ends it ZX_OK; otherwise it blocks and ends TIMED_OUT, never
        before its deadline.  Either way the observed signals are the model's.
        """
        e = self._pick(data)
        if e is None:
            return
        wanted = data.draw(st.sampled_from([0, SIG.TASK_TERMINATED, SIG.THREAD_SUSPENDED, SIG.THREAD_RUNNING,
                                            SIG.JOB_NO_PROCESSES, USER_BITS[0]]), label="signals")
        model = self.k.wait_poll(e.mh, int(wanted))
        deadline = zxpy.monotonic() + WAIT_NS
        real = outcome(lambda: e.real.wait_one(int(wanted), deadline=deadline), "zx_object_wait_one")
        same(model, real, f"wait({e.label}, {int(wanted):#x}, {WAIT_NS} ns)")
        if model[0] == "ZX_OK":
            assert int(real[1]) == model[1]
        elif model[0] == "ZX_ERR_TIMED_OUT":
            assert zxpy.monotonic() >= deadline, "the wait timed out before its deadline"
            assert int(real[1].observed) == model[1]

    @rule(data=st.data())
    def get_info(self, data: st.DataObject) -> None:
        """Every topic on every kind of handle: statuses must agree (values are compared by the invariant)."""
        e = self._pick(data)
        if e is None:
            return
        topic, call = data.draw(st.sampled_from([
            (INFO.PROCESS, lambda h: as_kind(Process, h).info()),
            (INFO.THREAD, lambda h: Thread.info(h)),
            (INFO.JOB, lambda h: Job.info(h)),
            (INFO.PROCESS_THREADS, lambda h: Process.threads(h)),
            (INFO.JOB_CHILDREN, lambda h: Job.children(h)),
            (INFO.JOB_PROCESSES, lambda h: Job.processes(h)),
            (INFO.HANDLE_BASIC, lambda h: h.basic_info()),
        ]), label="topic")
        model = self.k.get_info(e.mh, topic)
        real = outcome(lambda: call(e.real), "zx_object_get_info")
        same(model, real, f"get_info({e.label}, {topic:#x})")

    @rule(data=st.data())
    def read_state(self, data: st.DataObject) -> None:
        """zx_thread_read_state (registers only while suspended) and zx_process_read_memory at an unmapped address:
        statuses must agree once every task has settled (a suspension is asynchronous)."""
        e = self._pick(data, prefer=(OBJ.THREAD, OBJ.PROCESS))
        if e is None:
            return
        self._settle()
        if isinstance(e.real, Process) or data.draw(st.booleans(), label="memory"):
            model = self.k.process_read_memory_unmapped(e.mh)
            real = outcome(lambda: Process.read_memory(e.real, 0x1000, 8), "zx_process_read_memory")  # type: ignore[arg-type]
            same(model, real, f"read_memory({e.label})")
            return
        model = self.k.thread_read_state(e.mh)
        real = outcome(lambda: Thread.read_state(e.real), "zx_thread_read_state")  # type: ignore[arg-type]
        if model == ("ZX_OK", M.SELF_CONTEXT) and real[0] == "ZX_ERR_NOT_SUPPORTED":
            return  # a thread of this process that parked outside its park signal's handler
        same(model, real, f"read_state({e.label})")

    @rule(data=st.data())
    def get_child(self, data: st.DataObject) -> None:
        e = self._pick(data, prefer=(OBJ.JOB, OBJ.PROCESS))
        if e is None:
            return
        targets = [o.oid for o in self.k.objects if isinstance(o, (M.Job, M.Process, M.Thread))
                   and o.oid in self.koids]
        oid = data.draw(st.sampled_from([*targets, -1]), label="child")
        koid = self.koids[oid] if oid != -1 else BOGUS_KOID
        rights = self._rights(data, self.k.handles[e.mh].rights)
        model = self.k.get_child(e.mh, oid, rights)
        getter = Process.child if isinstance(e.real, Process) else Job.child
        real = outcome(lambda: getter(e.real, koid, rights), ("zx_object_get_child",))  # type: ignore[arg-type]
        same(model, real, f"get_child({e.label}, {oid}, {rights:#x})")
        if model[0] == "ZX_OK":
            self._add(model[1], real[1])

    # ------------------------------------------------------------------ teardown

    def teardown(self) -> None:
        try:
            if sys.exc_info()[0] is None:
                # The sequence passed (a failed one keeps its own error): it ends with the final steps.
                self._final_steps()
        finally:
            self._clean_up()

    def _final_steps(self) -> None:
        """Close every suspend token, then kill every top job, each compared like any step: every sequence
        checks the resumption (process_dispatcher.cc) and the kill (job_dispatcher.cc) of whatever it grew."""
        parked = self._parked_runners()
        for entry in [e for e in self.pool if isinstance(self.k.obj(e.mh), M.Token)]:
            model = self.k.handle_close(entry.mh)
            same(model, outcome(entry.real.close, "zx_handle_close"), f"final close of {entry.label}")
            self._forget(entry)
        self._note_resumed(parked)
        self._compare_all()
        for mh, job in zip(self.top_mh, self.top_jobs, strict=True):
            model = self.k.task_kill(mh)
            same(model, outcome(job.kill, "zx_task_kill"), "final kill of a top job")
        self._check_exited_at_once()
        self._compare_all()
        STATS["final kills"] += 1

    def _clean_up(self) -> None:
        """Release everything, also after a failure (no handle, thread or program outlives the sequence)."""
        for worker in self.workers:
            worker.mem.stop = 1
        for entry in list(self.pool):
            entry.real.close()  # tokens included: every worker runs again and sees its stop flag
        self.pool.clear()
        for job in self.top_jobs:
            job.kill()
            job.wait_terminated(timeout=SETTLE)
            job.close()
        for worker in self.workers:
            if worker.started:
                self.observers[worker.oid].wait_one(zxpy.Signals.THREAD_TERMINATED, timeout=SETTLE)
        for handle in self.observers.values():
            handle.close()
        real = Process.self().handle_stats()
        if sys.exc_info()[0] is None:  # else the failure in flight is the one to report
            assert real == self.real_base, f"handles left after the sequence: {real} vs {self.real_base}"


def _advances(read: Callable[[], int], timeout: float = SETTLE) -> bool:
    start = read()
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if read() != start:
            return True
        time.sleep(0.001)
    return False


ZirconMachine.TestCase.settings = settings(
    max_examples=scaled(50, 300),
    stateful_step_count=scaled(50, 100),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)


class TestZirconModel(ZirconMachine.TestCase):  # type: ignore[misc,valid-type]
    """The state machine as a pytest test (sized for CI unless ZXPY_SLOW=1 / --slow)."""


def _summary() -> str:
    return (f"model-based run: {STATS['examples']} sequences, {STATS['steps']} steps, "
            f"{STATS['calls']} zxpy calls compared, {STATS['checks']} object comparisons; "
            f"{STATS['sequences killing a nested job']} sequences killed a job with jobs under it, "
            f"{STATS['sequences resuming a thread by a close']} resumed a running thread by closing a token, "
            f"{STATS['final kills']} ended with their top jobs killed and compared")


@reporter
def _figures() -> list[str]:
    """The session's figures: what the state machine really explored (nothing if it did not run)."""
    return [_summary()] if STATS["examples"] else []


def test_stateful_run_explored_something() -> None:
    """Runs after the machine (file order), or runs it: real steps, real calls, and kills of nested jobs."""
    if not STATS["steps"]:
        TestZirconModel("runTest").runTest()
    assert STATS["steps"] >= STATS["examples"] > 0 and STATS["calls"] > 0
    assert STATS["final kills"] > 0, "no sequence ended with its final kill"
    assert STATS["sequences killing a nested job"] > 0, "no sequence killed a job with jobs under it"
    print(_summary())
    for key, count in sorted(OUTCOMES.items()):
        print(f"  {count:6d}  {key}")
