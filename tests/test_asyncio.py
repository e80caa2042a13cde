"""zxpy.aio: await on handles through one port and one waiter thread per event loop."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

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
            with pytest.raises(asyncio.TimeoutError):
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
            with pytest.raises(TimeoutError):
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
