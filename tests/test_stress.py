"""Concurrency stress: several Python threads suspending, resuming, killing and closing the same things.

Every test runs its body under :func:`bounded`: the work happens in threads
that must all finish within a generous limit, or the test fails as a
deadlock (it never hangs the run).  Each operation may only end in the
outcomes Zircon allows for it when other threads race it - a use of a handle
another thread just closed is ``ValueError("handle is closed (...)")`` (zxpy saw
the close) or ``BadHandleError`` (the kernel did) - and never anything else.
Suspended subjects are threads that hold no GIL: C progress workers of this
process and spawned programs.  Counts are CI-sized; ``ZXPY_SLOW=1`` or
``--slow`` multiplies them.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from conftest import LONG, advances, as_kind
from conftest_robustness import reporter, scaled

import zxpy
from zxpy import (
    BadHandleError,
    BadStateError,
    CanceledError,
    Event,
    Handle,
    Job,
    Process,
    Signals,
    SuspendToken,
    Task,
    Thread,
    ZxError,
)
from zxpy.testing import ProgressWorker

LIMIT = 180.0  # a deadlock bound, not a speed goal
SLEEP = "/bin/sleep"

#: threads x operations run by each test (for README's reliability section).
FIGURES: Counter[str] = Counter()


@reporter
def _figures() -> list[str]:
    """The session's figures: operations each stress test that ran actually did."""
    return [f"stress: {what}: {count} operations" for what, count in sorted(FIGURES.items())]


def bounded(workers: list[Callable[[], None]], name: str, limit: float = LIMIT) -> None:
    """Run each callable in its own thread; fail if any raises or if they are not all done within ``limit``."""
    errors: list[BaseException] = []

    def run(fn: Callable[[], None]) -> None:
        try:
            fn()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(fn,), name=f"{name}-{i}", daemon=True)
               for i, fn in enumerate(workers)]
    for t in threads:
        t.start()
    end = time.monotonic() + limit
    for t in threads:
        t.join(max(0.0, end - time.monotonic()))
    stuck = [t.name for t in threads if t.is_alive()]
    assert not stuck, f"deadlock: {stuck} still running after {limit}s"
    if errors:
        raise errors[0]


def closed_or_bad(exc: BaseException) -> bool:
    """The two faces of "another thread closed this handle"."""
    closed = isinstance(exc, ValueError) and str(exc).startswith("handle is closed (")
    return isinstance(exc, BadHandleError) or closed


@pytest.fixture
def workers() -> Iterator[list[ProgressWorker]]:
    made = [ProgressWorker(name=f"stress{i}") for i in range(2)]
    try:
        for w in made:
            assert advances(lambda w=w: w.count)
        yield made
    finally:
        for w in made:
            w.close()


# ---------------------------------------------------------------------------------------------- suspend/resume


def test_many_threads_suspend_and_resume_the_same_worker(workers: list[ProgressWorker]) -> None:
    """While any thread holds a token the worker is stopped: every holder sees its counter stand still."""
    subject = workers[0]
    rounds = scaled(100, 1000)
    nthreads = 4

    def holder(seed: int) -> None:
        rng = random.Random(seed)
        handle = subject.thread.duplicate()
        try:
            for _ in range(rounds):
                if rng.random() < 0.5:
                    token = handle.suspend(timeout=LONG)  # returns once THREAD_SUSPENDED is asserted
                    before = subject.count
                    time.sleep(rng.random() * 0.002)
                    assert subject.count == before, "worker counted while a token was held"
                    token.close()
                else:
                    with as_kind(Task, handle).suspend():  # not waiting for the stop: just churn the count
                        pass
        finally:
            handle.close()

    bounded([lambda i=i: holder(i) for i in range(nthreads)], "suspend")
    FIGURES["suspend/resume same worker"] += nthreads * rounds
    # Every token is closed: the worker runs again and the other worker was never stopped.
    subject.thread.wait_one(Signals.THREAD_RUNNING, timeout=LONG)
    assert advances(lambda: subject.count)
    assert advances(lambda: workers[1].count)


def test_suspend_resume_across_threads_tokens_closed_elsewhere(workers: list[ProgressWorker]) -> None:
    """Tokens made in one thread and closed in another (a queue between them); the count stays exact."""
    import queue

    q: queue.Queue[SuspendToken | None] = queue.Queue(maxsize=8)
    rounds = scaled(200, 2000)

    def producer() -> None:
        for i in range(rounds):
            q.put(workers[i % 2].thread.suspend(wait=False))
        q.put(None)

    def consumer() -> None:
        while (token := q.get()) is not None:
            token.close()

    bounded([producer, consumer], "tokens")
    FIGURES["tokens made and closed in different threads"] += 2 * rounds
    for w in workers:
        w.thread.wait_one(Signals.THREAD_RUNNING, timeout=LONG)
        assert advances(lambda w=w: w.count), "a worker stayed suspended after every token was closed"


def test_spawned_process_suspend_kill_race(job: Job) -> None:
    """Threads suspend and resume a running program while another kills it: only OK or BAD_STATE, then it is gone."""
    for _ in range(scaled(3, 10)):
        with job.spawn([SLEEP, "1000"]) as proc:
            outcomes = _suspend_kill_round(proc)
            proc.wait_terminated(timeout=LONG)
            assert proc.info().return_code == zxpy.TASK_RETCODE_SYSCALL_KILL
            assert set(outcomes) <= {"ok", "bad state"}
            FIGURES["suspend vs kill of a program"] += sum(outcomes.values()) + 1


def _suspend_kill_round(proc: Process) -> Counter[str]:
    handles = [proc.duplicate() for _ in range(3)]
    outcomes: Counter[str] = Counter()
    stop = threading.Event()

    def suspender(h: Handle) -> None:
        while not stop.is_set():
            try:
                with as_kind(Task, h).suspend():
                    pass
                outcomes["ok"] += 1
            except BadStateError:
                outcomes["bad state"] += 1  # dying or dead (task.cc sys_task_suspend)
                return

    def killer() -> None:
        time.sleep(0.01)
        proc.kill()
        stop.set()

    try:
        bounded([*(lambda h=h: suspender(h) for h in handles), killer], "suspend-kill")
    finally:
        for h in handles:
            h.close()
    return outcomes


# ---------------------------------------------------------------------------------------------- close races


def test_use_after_close_from_another_thread() -> None:
    """One thread closes shared wrappers while others use them: a result, ValueError or BadHandleError only."""
    job = Job.default().create_job()
    try:
        for _ in range(scaled(6, 60)):
            shared: list[Handle] = [job.create_process("victim") for _ in range(10)] + [Event.create()]
            results = _use_after_close_round(shared)
            FIGURES["use-after-close races"] += sum(results.values())
            assert all(h.closed for h in shared)
    finally:
        job.kill()
        job.close()


def _use_after_close_round(shared: list[Handle]) -> Counter[str]:
    go = threading.Barrier(4)
    results: Counter[str] = Counter()

    def user(seed: int) -> None:
        rng = random.Random(seed)
        go.wait()
        for _ in range(50):
            h = rng.choice(shared)
            op = rng.choice(["kill", "info", "dup", "wait", "suspend", "signal"])
            try:
                if op == "kill":
                    as_kind(Task, h).kill()
                elif op == "info":
                    h.basic_info()
                elif op == "dup":
                    h.duplicate().close()
                elif op == "wait":
                    h.wait_one(Signals.TASK_TERMINATED, timeout=0)
                elif op == "suspend":
                    as_kind(Task, h).suspend().close()
                else:
                    h.signal(0, Signals.USER_SIGNAL_0)
                results["ok"] += 1
            except ZxError as exc:
                # Closed under us, or what the object itself answers (an event cannot be killed...).
                assert closed_or_bad(exc) or exc.name in (
                    "ZX_ERR_ACCESS_DENIED", "ZX_ERR_TIMED_OUT", "ZX_ERR_BAD_STATE", "ZX_ERR_WRONG_TYPE",
                ), repr(exc)
                results[exc.name] += 1
            except ValueError as exc:
                assert closed_or_bad(exc), repr(exc)
                results["closed"] += 1

    def closer() -> None:
        go.wait()
        for h in shared:
            h.close()
            time.sleep(0)

    bounded([lambda i=i: user(i) for i in range(3)] + [closer], "use-after-close")
    return results


def test_close_cancels_waits_in_other_threads() -> None:
    """Several threads wait forever on one handle; closing it from here cancels every one of them (object_wait.cc)."""
    nthreads = scaled(4, 16)
    for _ in range(scaled(5, 50)):
        job = Job.default().create_job()
        try:
            seen = _cancel_round(job.duplicate(), nthreads)
            assert len(seen) == nthreads
            for result in seen:
                assert isinstance(result, BaseException), "a wait on an unkilled job returned"
                if isinstance(result, CanceledError):
                    assert result.observed is not None and result.observed & Signals.HANDLE_CLOSED
                else:
                    assert closed_or_bad(result), repr(result)
            assert any(isinstance(r, CanceledError) for r in seen), "no waiter was blocked when the handle closed"
            assert not job.info().exited, "closing a handle must not kill the job"
            FIGURES["waits cancelled by a close"] += nthreads
        finally:
            job.kill()
            job.close()


def _cancel_round(shared: Job, nthreads: int) -> list[BaseException | Signals]:
    waiting = threading.Barrier(nthreads + 1)
    seen: list[BaseException | Signals] = []

    def waiter() -> None:
        waiting.wait()
        try:
            seen.append(shared.wait_one(Signals.TASK_TERMINATED))
        except (CanceledError, BadHandleError, ValueError) as exc:
            seen.append(exc)

    def closer() -> None:
        waiting.wait()
        # Let the waiters block (a wait that starts after the close sees BAD_HANDLE or ValueError).
        time.sleep(0.02)
        shared.close()

    bounded([*([waiter] * nthreads), closer], "cancel")
    return seen


def test_kill_job_while_threads_wait_and_create() -> None:
    """process.cc CreateAndKillJobRaceStress: creators see only OK/BAD_STATE; every waiter wakes with TERMINATED."""
    for _ in range(scaled(10, 100)):
        with Job.default().create_job() as job:
            statuses = _create_kill_round(job)
            assert set(statuses) <= {"ok", "bad state"}
            assert job.info().exited and job.children() == [] and job.processes() == []
            FIGURES["create vs kill"] += sum(statuses.values()) + 3


def _create_kill_round(job: Job) -> Counter[str]:
    statuses: Counter[str] = Counter()
    stop = threading.Event()

    def creator() -> None:
        while not stop.is_set():
            try:
                child = job.create_job() if random.random() < 0.3 else job.create_process("p")
                child.close()
                statuses["ok"] += 1
            except BadStateError:
                statuses["bad state"] += 1
                return

    def waiter() -> None:
        with job.duplicate() as mine:
            observed = mine.wait_one(Signals.TASK_TERMINATED, timeout=LONG)
            assert observed & Signals.TASK_TERMINATED

    def killer() -> None:
        time.sleep(0.002)
        job.kill()  # always OK, however the tree changes meanwhile
        stop.set()

    bounded([creator, creator, waiter, waiter, killer], "create-kill")
    return statuses


# ---------------------------------------------------------------------------------------------- random storm


def test_random_storm_on_shared_handles(workers: list[ProgressWorker]) -> None:
    """Many threads, random calls on one shared pool (tasks, workers' threads, tokens, events).

    Each outcome must be one Zircon defines for that call when others race it; at the end every token is
    closed, every worker runs again, and (conftest) the handle count is back where it was.
    """
    nthreads = scaled(4, 8)
    nops = scaled(1000, 10000)
    job = Job.default().create_job()
    lock = threading.Lock()
    pool: list[Handle] = [job.duplicate(), Event.create()] + [w.thread.duplicate() for w in workers]
    outcomes: Counter[str] = Counter()

    allowed = {
        "ZX_ERR_BAD_HANDLE", "ZX_ERR_ACCESS_DENIED", "ZX_ERR_WRONG_TYPE", "ZX_ERR_BAD_STATE", "ZX_ERR_INVALID_ARGS",
        "ZX_ERR_TIMED_OUT", "ZX_ERR_NOT_FOUND", "ZX_ERR_CANCELED",
    }

    def add(h: Any) -> None:
        if isinstance(h, Handle):
            with lock:
                pool.append(h)

    def take(rng: random.Random) -> Handle | None:
        with lock:
            if not pool:
                return None
            return pool.pop(rng.randrange(len(pool)))

    def peek(rng: random.Random) -> Handle:
        with lock:
            return rng.choice(pool) if pool else Handle(0, owned=False)

    def storm(seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(nops):
            op = rng.randrange(10)
            try:
                if op == 0:
                    add(Job.create_job(peek(rng)))  # type: ignore[arg-type]
                elif op == 1:
                    add(Job.create_process(peek(rng), "s"))  # type: ignore[arg-type]
                elif op in (2, 3):
                    add(as_kind(Task, peek(rng)).suspend())
                elif op == 4:
                    h = take(rng)
                    if h is not None:
                        h.close()
                elif op == 5:
                    add(peek(rng).duplicate(rng.choice([zxpy.Rights.SAME_RIGHTS, zxpy.Rights.WAIT, 0])))
                elif op == 6:
                    h = take(rng)
                    if h is not None:
                        add(h.replace(rng.choice([zxpy.Rights.SAME_RIGHTS, zxpy.Rights.INSPECT])))
                elif op == 7:
                    h = peek(rng)
                    # The shared top job is killed rarely, so that the tree keeps changing for a while.
                    if not (isinstance(h, Job) and h.koid == job.koid and rng.random() < 0.95):
                        as_kind(Task, h).kill()
                elif op == 8:
                    peek(rng).wait_one(Signals.TASK_TERMINATED | Signals.THREAD_SUSPENDED, timeout=0)
                else:
                    h = peek(rng)
                    h.basic_info()
                    if isinstance(h, Thread):
                        h.info()
                outcomes["ok"] += 1
            except ZxError as exc:
                assert exc.name in allowed, f"op {op}: {exc!r}"
                outcomes[exc.name] += 1
            except ValueError as exc:
                assert closed_or_bad(exc), f"op {op}: {exc!r}"
                outcomes["closed"] += 1

    try:
        bounded([lambda i=i: storm(i) for i in range(nthreads)], "storm")
    finally:
        for h in pool:
            h.close()
        job.kill()
        job.close()
    FIGURES["random storm"] += nthreads * nops
    assert outcomes["ok"] > 0
    for w in workers:
        w.thread.wait_one(Signals.THREAD_RUNNING, timeout=LONG)
        assert advances(lambda w=w: w.count), "a worker stayed suspended after the storm"

