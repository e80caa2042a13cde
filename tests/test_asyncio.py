"""zxpy.aio: await on handles through one port and one waiter thread per event loop."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable

import pytest
from conftest import LONG

import zxpy
from zxpy import Event, Job, Rights, Signals
from zxpy.aio import loop_waiter_stats
from zxpy.errors import AccessDeniedError, TimedOutError

U0, U1 = Signals.USER_SIGNAL_0, Signals.USER_SIGNAL_1


def run(coro):  # noqa: ANN001, ANN201
    return asyncio.run(coro)


def test_wait_one_async_returns_the_observed_signals() -> None:
    async def main() -> Signals:
        with Event.create() as ev:
            asyncio.get_running_loop().call_later(0.02, ev.signal, 0, U0 | U1)
            return await ev.wait_one_async(U0, timeout=10)

    assert run(main()) == U0 | U1


def test_already_active_and_poll() -> None:
    async def main() -> tuple[Signals, Signals]:
        with Event.create() as ev:
            ev.set()
            return (await ev.wait_one_async(Signals.EVENT_SIGNALED),
                    await ev.wait_one_async(Signals.EVENT_SIGNALED, timeout=0))

    assert run(main()) == (Signals.EVENT_SIGNALED, Signals.EVENT_SIGNALED)


def test_timeout_raises_timed_out_error_which_is_asyncio_timeout() -> None:
    async def main() -> None:
        with Event.create() as ev:
            ev.signal(0, U1)
            start = time.monotonic()
            with pytest.raises(TimedOutError) as info:
                await ev.wait_one_async(U0, timeout=0.05)
            assert time.monotonic() - start >= 0.04
            assert info.value.observed == U1
            assert isinstance(info.value, TimeoutError)
            # asyncio.TimeoutError is the builtin TimeoutError from 3.11 on (docs/asyncio.md); 3.10's is its own.
            with pytest.raises(asyncio.TimeoutError if sys.version_info >= (3, 11) else TimeoutError):
                await ev.wait_one_async(U0, timeout=0)
            with pytest.raises(TimedOutError):
                await ev.wait_one_async(U0, deadline=zxpy.monotonic() + 20_000_000)
            assert loop_waiter_stats()["pending"] == 0

    run(main())


def test_cancelling_the_task_cancels_the_kernel_wait() -> None:
    async def main() -> None:
        from zxpy import aio

        with Event.create() as ev, Event.create() as keeper_ev, ev.duplicate(Rights.WAIT | Rights.SIGNAL) as h:
            keeper = asyncio.create_task(keeper_ev.wait_one_async(U0))  # keeps the loop's port open
            # h has no DUPLICATE right, so the kernel wait is made through h itself and can be probed by key.
            task = asyncio.create_task(h.wait_one_async(U0))
            await asyncio.sleep(0.01)
            assert loop_waiter_stats() == {"pending": 2, "threads": 1}
            w = aio._WAITERS[asyncio.get_running_loop()]
            key = max(w.pending)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert loop_waiter_stats()["pending"] == 1
            # The kernel observer is gone: zx_port_cancel finds neither an observer nor a packet for that key.
            assert zxpy.lib.zx_port_cancel(w.port_raw, h.raw, key) == zxpy.lib.ZX_ERR_NOT_FOUND
            # A live wait is found (the probe is meaningful), then cancelled.
            zxpy.lib.zx_object_wait_async(h.raw, w.port_raw, 1 << 60, U0, 0)
            assert zxpy.lib.zx_port_cancel(w.port_raw, h.raw, 1 << 60) == zxpy.lib.ZX_OK
            # asyncio.wait_for cancels the same way.
            with pytest.raises(asyncio.TimeoutError):  # what wait_for raises on every version
                await asyncio.wait_for(h.wait_one_async(U0), 0.02)
            assert loop_waiter_stats()["pending"] == 1
            keeper_ev.signal(0, U0)
            assert await keeper == U0

    run(main())


def test_closing_the_handle_does_not_strand_the_wait() -> None:
    async def main() -> Signals:
        ev = Event.create()
        other = ev.duplicate()
        task = asyncio.create_task(ev.wait_one_async(U0, timeout=10))
        await asyncio.sleep(0.01)
        ev.close()  # the wait holds its own duplicate
        other.signal(0, U0)
        try:
            return await task
        finally:
            other.close()

    assert run(main()) == U0


def test_errors_of_the_wait_itself() -> None:
    async def main() -> None:
        with Event.create() as ev, ev.duplicate(Rights.SIGNAL) as no_wait:
            with pytest.raises(AccessDeniedError):
                await no_wait.wait_one_async(U0, timeout=5)
        closed = Event.create()
        closed.close()
        with pytest.raises(ValueError, match="closed"):
            await closed.wait_one_async(U0)
        with Event.create() as ev:
            with pytest.raises(ValueError):
                await ev.wait_one_async(1 << 32)
            with pytest.raises(TypeError):
                await ev.wait_one_async(U0, timeout="1")  # type: ignore[arg-type]

    run(main())


def test_port_and_thread_are_released_after_the_last_wait() -> None:
    before = threading.active_count()

    async def main() -> None:
        with Event.create() as ev:
            ev.set()
            await ev.wait_one_async(Signals.EVENT_SIGNALED, timeout=5)
            await ev.wait_one_async(Signals.EVENT_SIGNALED, timeout=5)

    run(main())
    assert threading.active_count() == before
    from zxpy import aio

    assert aio._WAITERS == {}


def test_process_wait_async(job: Job) -> None:
    async def main() -> tuple[int, int]:
        with job.spawn(["/bin/true"]) as ok, job.spawn(["/bin/sleep", "30"]) as sleeper:
            code = await ok.wait_async(timeout=30)
            with pytest.raises(TimedOutError):
                await sleeper.wait_async(timeout=0.05)
            sleeper.kill()
            await sleeper.wait_terminated_async(timeout=30)
            return code, await sleeper.wait_async()

    assert run(main()) == (0, zxpy.RetCode.SYSCALL_KILL)


def test_thousand_sleepers(job: Job, capsys: pytest.CaptureFixture[str]) -> None:
    """1,000 concurrent waits on 1,000 spawned /bin/sleep in one job: kill the job, all complete."""
    n = 1000
    threads_before = threading.active_count()
    seen: dict[str, float] = {}

    async def main() -> list[int]:
        procs = []
        try:
            t0 = time.monotonic()
            for _ in range(n):
                procs.append(job.spawn(["/bin/sleep", "60"]))
            seen["spawn_s"] = time.monotonic() - t0
            waits = [asyncio.create_task(p.wait_async(timeout=120)) for p in procs]
            await asyncio.sleep(0.05)
            seen["threads_during"] = threading.active_count()
            seen["pending"] = loop_waiter_stats()["pending"]
            t1 = time.monotonic()
            job.kill()
            codes = await asyncio.gather(*waits)
            seen["complete_s"] = time.monotonic() - t1
            return codes
        finally:
            for p in procs:
                p.close()

    codes = run(main())
    assert codes == [zxpy.RetCode.SYSCALL_KILL] * n
    assert seen["pending"] == n
    # One waiter thread for all of them (the host kernel's own monitor threads are not Python threads).
    assert seen["threads_during"] == threads_before + 1
    assert threading.active_count() == threads_before
    with capsys.disabled():
        print(f"\n[asyncio] {n} sleepers: spawned in {seen['spawn_s']:.2f} s; after job.kill() all {n} awaits "
              f"completed in {seen['complete_s']:.3f} s; Python threads {threads_before} before, "
              f"{int(seen['threads_during'])} during, {threading.active_count()} after")


# ------------------------------------------------------------------------------------------------ os.fork()


def _report_and_exit(w: int, body: Callable[[], dict[str, object]]) -> None:  # pragma: no cover - the child
    """In a fork child: run ``body``, send what it returned (or the traceback) to the parent, never return."""
    code = 0
    try:
        out = body()
    except BaseException:  # noqa: BLE001 - everything goes back to the parent
        out = {"exception": traceback.format_exc()}
        code = 1
    try:
        os.write(w, json.dumps(out).encode())
    finally:
        os._exit(code)


def _child_result(pid: int, r: int) -> dict[str, object]:
    """Wait (at most LONG) for the fork child ``pid`` and return what it reported on pipe ``r``."""
    end = time.monotonic() + LONG
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > end:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            pytest.fail("the fork child did not finish (a wait that never ends?)")
        time.sleep(0.02)
    data = b""
    while chunk := os.read(r, 65536):
        data += chunk
    os.close(r)
    result: dict[str, object] = json.loads(data) if data else {"exception": f"no report, status {status}"}
    assert "exception" not in result, result["exception"]
    return result


# Python 3.12+ warns about fork() in a process with threads: these tests fork one on purpose.
_FORK_WITH_THREADS = pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")


@_FORK_WITH_THREADS
def test_fork_inside_a_waiting_loop() -> None:
    """A fork while an await is in progress: in the child that await fails at once with BadHandleError (it was
    made in the parent's kernel, and its loop's port and thread are not in the child); where the child may go on
    using the loop (before Python 3.12, which forgets the running loop in a fork child), a new await there
    makes a new port and thread and works.  The parent's await is untouched."""

    async def main() -> dict[str, object]:
        loop = asyncio.get_running_loop()
        with Event.create() as ev:
            task = loop.create_task(ev.wait_one_async(Signals.EVENT_SIGNALED, timeout=30))
            for _ in range(5):
                await asyncio.sleep(0)
            assert loop_waiter_stats() == {"pending": 1, "threads": 1}
            r, w = os.pipe()
            pid = os.fork()
            if pid == 0:  # pragma: no cover - the child
                os.close(r)
                out: dict[str, object] = {}
                for _ in range(5):
                    await asyncio.sleep(0)
                out["done"] = task.done()
                exc = task.exception() if task.done() else None
                out["error"] = f"{type(exc).__name__}: {exc}"
                try:
                    asyncio.get_running_loop()
                except RuntimeError:
                    out["new_wait"] = "no running loop in a fork child (Python >= 3.12)"
                else:
                    with Event.create() as ev2:
                        loop.call_later(0.05, ev2.signal, 0, U0)
                        got = await ev2.wait_one_async(U0, timeout=10)
                        out["new_wait"] = int(got)
                        out["threads"] = [t.name for t in threading.enumerate()]
                _report_and_exit(w, lambda: out)
            os.close(w)
            ev.set()
            observed = await task
            return {"parent": int(observed), "child": _child_result(pid, r)}

    result = run(main())
    assert result["parent"] & Signals.EVENT_SIGNALED
    child = result["child"]
    assert isinstance(child, dict)
    assert child["done"] is True
    assert str(child["error"]).startswith("BadHandleError: zx_object_wait_async: ZX_ERR_BAD_HANDLE")
    assert "before os.fork()" in str(child["error"])
    if isinstance(child["new_wait"], int):
        assert child["new_wait"] & U0
        assert child["threads"] == ["MainThread", "zxpy-aio-port"]  # one new waiter thread, none inherited


@_FORK_WITH_THREADS
def test_fork_then_asyncio_run_in_the_child() -> None:
    """The usual case: the parent has a loop with a wait in progress in another thread (its waiter thread and
    port exist) and another thread is inside aio's bookkeeping lock at the fork; the child's own
    ``asyncio.run`` still gets a port and thread of its own, and leaves none behind."""
    from zxpy import aio

    started = threading.Event()
    parent_result: list[object] = []

    with Event.create() as ev:

        async def parent_loop() -> None:
            task = asyncio.get_running_loop().create_task(ev.wait_one_async(Signals.EVENT_SIGNALED, timeout=30))
            await asyncio.sleep(0.01)
            started.set()
            parent_result.append(await task)

        t = threading.Thread(target=run, args=(parent_loop(),))
        t.start()
        assert started.wait(LONG)
        # Another thread holds aio's lock at the fork, as if it were making a loop's waiter just then: the
        # child has the lock but not the thread that would release it.
        holding, release = threading.Event(), threading.Event()

        def hold_lock() -> None:
            with aio._WAITERS_LOCK:
                holding.set()
                release.wait(LONG)

        holder = threading.Thread(target=hold_lock)
        holder.start()
        assert holding.wait(LONG)
        r, w = os.pipe()
        pid = os.fork()
        release.set()
        if pid == 0:  # pragma: no cover - the child

            def child() -> dict[str, object]:
                async def main() -> dict[str, object]:
                    with Event.create() as ev2:
                        asyncio.get_running_loop().call_later(0.05, ev2.signal, 0, U1)
                        got = await ev2.wait_one_async(U1, timeout=10)
                        return {"got": int(got), "during": loop_waiter_stats()}

                out = asyncio.run(main())
                out["after"] = len(aio._WAITERS)
                out["threads"] = [th.name for th in threading.enumerate()]
                return out

            _report_and_exit(w, child)
        os.close(w)
        holder.join(LONG)
        result = _child_result(pid, r)
        ev.set()
        t.join(LONG)
    assert parent_result and parent_result[0] & Signals.EVENT_SIGNALED
    assert result["got"] & U1
    assert result["during"] == {"pending": 0, "threads": 1}
    assert result["after"] == 0
    assert result["threads"] == ["MainThread"]
