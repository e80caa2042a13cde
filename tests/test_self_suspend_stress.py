"""Suspending any thread of this interpreter never deadlocks it (issue 10, finding 1).

A suspender loops ``token = thread.suspend(); token.close()`` against one
subject thread of the *same* interpreter, which meanwhile

* waits in ``Handle.wait_one`` (on the main thread one wait, which zxpy runs in
  slices with Python between them - the slice is narrowed here to widen that
  window; on another thread a loop of 1 us waits, the same by hand),
* sleeps in ``time.sleep`` (each park interrupts the sleep; CPython takes the
  GIL again before it sleeps on), or
* runs pure Python (it holds the GIL),

once with the main thread as the subject and once with another thread.  Each
``suspend()`` returns only once the subject really is parked
(``THREAD_SUSPENDED``); a busy subject is also checked to make no progress
while suspended.

The scenario runs in a child interpreter under a progress watchdog: a hang
(the subject parked while holding the GIL) kills the child and fails the test
with the cycle it stopped at, instead of hanging the run.  CI size is a few
thousand cycles per variant; ``--slow`` (or ``ZXPY_SLOW=1``) runs a million
each.  The rates go to the robustness figures.
"""

from __future__ import annotations

import os
import selectors
import subprocess
import sys
from pathlib import Path

import pytest
from conftest_robustness import reporter, scaled

import zxpy

CYCLES = scaled(3000, 1_000_000)
#: No progress line for this long means the child is deadlocked (a generous bound, not a speed goal).
STALL = 60.0

#: variant -> (cycles, seconds) that ran.
RESULTS: dict[str, tuple[int, float]] = {}


@reporter
def _figures() -> list[str]:
    return [
        f"self-suspend: {name}: {n:,} suspend/resume cycles in {secs:.1f} s ({n / secs:,.0f} cycles/s)"
        for name, (n, secs) in RESULTS.items()
    ]


CHILD = r"""
import random, sys, threading, time
import zxpy
from zxpy import Event, Signals, Thread
from zxpy import handle as _handle

mode, where, cycles, switch = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
if switch:
    sys.setswitchinterval(switch)
_handle._WAIT_SLICE_NS = 1_000  # 1 us slices: the main thread runs Python between them most of the time
event = Event.create()
stop = []
ready = threading.Event()
subject = []
counter = [0]

def be_the_subject():
    subject.append(Thread.self().duplicate())
    ready.set()
    if mode == "wait_one" and where == "main":
        event.wait_one(Signals.EVENT_SIGNALED)  # one wait, which zxpy runs in slices on the main thread
    elif mode == "wait_one":
        while not stop:  # the same by hand elsewhere: short waits, Python between them
            try:
                event.wait_one(Signals.EVENT_SIGNALED, timeout=1e-6)
            except zxpy.TimedOutError:
                pass
    elif mode == "sleep":
        while not stop:
            time.sleep(0.00002)
    else:
        c = counter
        while not stop:
            c[0] += 1

def suspend_it():
    ready.wait()
    thread = subject[0]
    start = time.monotonic()
    last = start
    for n in range(1, cycles + 1):
        token = thread.suspend(timeout=120)
        if mode == "busy" and n % 997 == 0:
            before = counter[0]
            time.sleep(0.001)
            if counter[0] != before:
                print("FAIL the suspended subject kept running", flush=True)
                break
        token.close()
        time.sleep(random.random() * 20e-6)  # let the subject run on: the next park lands anywhere in its loop
        now = time.monotonic()
        if now - last > 0.5:
            print(f"progress {n}", flush=True)
            last = now
    else:
        print(f"done {cycles} {time.monotonic() - start:.3f}", flush=True)
    stop.append(1)
    event.signal(0, Signals.EVENT_SIGNALED)

if where == "main":
    t = threading.Thread(target=suspend_it, daemon=True)
    t.start()
    be_the_subject()
    t.join()
else:
    t = threading.Thread(target=be_the_subject, daemon=True)
    t.start()
    suspend_it()
    t.join()
"""


def run_child(mode: str, where: str, cycles: int, switch: float = 0.0) -> tuple[int, float]:
    """Run the scenario in a child interpreter; fail on a stall, a failure line or a bad exit."""
    # The zxpy this suite tests: the installed package in CI, the checkout in development (never the bare
    # source tree of an installed run, which has no compiled module).
    under_test = str(Path(zxpy.__file__).resolve().parent.parent)
    env = dict(os.environ, PYTHONPATH=under_test + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, mode, where, str(cycles), str(switch)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True, cwd=under_test,
    )
    assert proc.stdout is not None
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    lines: list[str] = []
    cycles_seen = 0
    try:
        while True:
            if not sel.select(STALL):
                pytest.fail(f"deadlock: no progress for {STALL:.0f}s after {cycles_seen} cycles "
                            f"({mode}, subject on the {where} thread)")
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line.rstrip())
            word, _, rest = line.partition(" ")
            if word == "progress":
                cycles_seen = int(rest)
            elif word == "done":
                n, secs = rest.split()
                cycles_seen = int(n)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        sel.close()
        proc.stdout.close()
    tail = "\n".join(lines[-20:])
    assert proc.returncode == 0, f"child exited {proc.returncode}:\n{tail}"
    done = [line for line in lines if line.startswith("done ")]
    assert done, f"child did not finish:\n{tail}"
    _, n, secs = done[0].split()
    return int(n), float(secs)


#: A thread busy in Python parks once it gives up the GIL, which CPython makes it do once another thread has
#: waited a switch interval for it (5 ms by default: about 100 cycles/s).  The busy variants shorten it.
BUSY_SWITCH_INTERVAL = 1e-4


@pytest.mark.parametrize("where", ["main", "thread"])
@pytest.mark.parametrize("mode", ["wait_one", "sleep", "busy"])
def test_suspend_resume_never_deadlocks(mode: str, where: str) -> None:
    if mode == "busy" and where == "thread" and sys.version_info < (3, 12):
        pytest.skip("before 3.12 (no sys.monitoring) zxpy cannot stop a thread other than the main one while it is "
                    "busy in Python (docs/self-suspend.md)")
    n, secs = run_child(mode, where, CYCLES, BUSY_SWITCH_INTERVAL if mode == "busy" else 0.0)
    assert n == CYCLES
    subject = "main thread" if where == "main" else "other thread"
    RESULTS[f"{subject} in {'pure Python' if mode == 'busy' else mode}"] = (n, max(secs, 1e-9))


EXIT_CHILD = r"""
import sys, threading, time
import zxpy
from zxpy import Thread

koids = []
lock = threading.Lock()
lock.acquire()

def blocked():
    koids.append(Thread.self().koid)
    lock.acquire()  # a futex wait: never a safe point, so the stop stays deferred and the park helper keeps at it

threading.Thread(target=blocked, daemon=True).start()
while not koids:
    time.sleep(0.001)
thread = zxpy.Process.self().child(koids[0])
token = thread.suspend(wait=False)
time.sleep(float(sys.argv[1]))  # let the helper take the GIL a few times
print("exiting", flush=True)
"""


@pytest.mark.parametrize("pause", [0.0, 0.005, 0.05])
def test_the_interpreter_exits_while_a_stop_is_deferred(pause: float) -> None:
    """The interpreter ends cleanly while the park helper is still trying to complete a stop (it takes the GIL
    again and again): zxpy's atexit callback closes the helper's gate before finalization and waits out a helper
    inside PyGILState_Ensure (csrc/host_gil.c).  Repeated, so that the exit lands at different points of the
    helper's loop."""
    for _ in range(scaled(10, 200)):
        proc = subprocess.run([sys.executable, "-c", EXIT_CHILD, str(pause)], capture_output=True, text=True,
                              timeout=60)
        assert (proc.returncode, proc.stdout, proc.stderr) == (0, "exiting\n", "")


FORK_CHILD = r"""
import os, sys, threading, time
import zxpy
from zxpy import Thread

def adopted_thread(target):
    koids = []
    def run():
        koids.append(Thread.self().koid)
        target()
    threading.Thread(target=run, daemon=True).start()
    while not koids:
        time.sleep(0.001)
    return zxpy.Process.self().child(koids[0])

lock = threading.Lock()
lock.acquire()
token = adopted_thread(lock.acquire).suspend(wait=False)  # never parks: the park helper keeps taking the GIL
failures = []
for i in range(int(sys.argv[1])):
    end = time.monotonic() + 0.02
    while time.monotonic() < end:  # hold the GIL, so the helper is waiting for it when the fork comes
        pass
    pid = os.fork()
    if pid == 0:
        # The child: its own helper completes the stop of a sleeping thread; then a normal exit runs atexit.
        sleeper = adopted_thread(lambda: time.sleep(3600))
        with sleeper.suspend(timeout=10):
            pass
        sys.exit(0)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            if status != 0:
                failures.append(f"fork {i}: status {status}")
            break
        time.sleep(0.01)
    else:
        failures.append(f"fork {i}: the child did not exit")
        os.kill(pid, 9)
        os.waitpid(pid, 0)
print("failures:", failures, flush=True)
"""


def test_a_forked_child_has_its_own_park_helper() -> None:
    """A child forked while the park helper was busy (waiting for the GIL, which the forking thread holds) gets
    its own helper at its first deferred stop, and its exit does not wait for the parent's helper, which it does
    not have (host/self_thread.c hk_self_thread_after_fork, csrc/host_gil.c child_after_fork)."""
    proc = subprocess.run([sys.executable, "-W", "ignore::DeprecationWarning", "-c", FORK_CHILD,
                           str(scaled(10, 200))], capture_output=True, text=True, timeout=600)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "failures: []\n", "")
