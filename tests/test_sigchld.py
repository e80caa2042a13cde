"""SIGCHLD in the calling program: a spawned program's suspensions wake none of its threads.

The monitor thread traces every spawned program and blocks every signal, so a SIGCHLD the kernel raises for a
tracee's ptrace-stop lands on another thread of the calling program and wakes it for nothing.  While SIGCHLD is
at its default disposition (and not blocked by the thread that starts the monitor) the host kernel sets
SA_NOCLDSTOP, which silences those notifications (do_notify_parent_cldstop, kernel/signal.c).  A handler of the
program's own, or a SIGCHLD it blocks to take itself, is left as it is.  (A program's end still raises SIGCHLD:
exec gives every process SIGCHLD as its exit signal.)

Each case runs in a fresh interpreter: the disposition is the whole process's, and the monitor starts once.  Once
the program runs, the case blocks SIGCHLD in its only Python thread, so a SIGCHLD raised from then on stays
pending, where ``signal.sigpending`` sees it.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import zxpy

CASE = r"""
import ctypes, json, signal, sys, time
from zxpy import Job, Signals

SA_NOCLDSTOP = 1  # <signal.h>, every Linux architecture


class Sigaction(ctypes.Structure):  # glibc's struct sigaction
    _fields_ = [("handler", ctypes.c_void_p), ("mask", ctypes.c_ulong * (128 // ctypes.sizeof(ctypes.c_ulong))),
                ("flags", ctypes.c_int), ("restorer", ctypes.c_void_p)]


def nocldstop() -> bool:
    sa = Sigaction()
    assert ctypes.CDLL(None).sigaction(signal.SIGCHLD, None, ctypes.byref(sa)) == 0
    return bool(sa.flags & SA_NOCLDSTOP)


mode = sys.argv[1]
heard = []
if mode == "blocked":
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})
elif mode == "handler":
    signal.signal(signal.SIGCHLD, lambda sig, frame: heard.append(sig))
before = nocldstop()
job = Job.default().create_job()
proc = job.spawn(["/bin/sleep", "1000"])
deadline = time.monotonic() + 30
while not proc.threads():
    assert time.monotonic() < deadline
    time.sleep(0.01)
(thread,) = [proc.child(koid) for koid in proc.threads()]
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})
for _ in range(3):
    with thread.suspend():  # waits for THREAD_SUSPENDED: the program is in a ptrace-stop
        pass
    thread.wait_one(Signals.THREAD_RUNNING)
after_stops = signal.SIGCHLD in signal.sigpending()
if after_stops:
    signal.sigtimedwait({signal.SIGCHLD}, 0)
proc.kill()
proc.wait_terminated()
code = proc.info().return_code
job.kill()
print(json.dumps({"before": before, "nocldstop": nocldstop(), "after_stops": after_stops,
                  "code": code, "handler_kept": mode != "handler"
                  or signal.getsignal(signal.SIGCHLD) not in (signal.SIG_DFL, signal.SIG_IGN)}))
"""


def run_case(mode: str) -> dict[str, object]:
    out = subprocess.run([sys.executable, "-c", CASE, mode], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    result: dict[str, object] = json.loads(out.stdout.splitlines()[-1])
    assert result["code"] == zxpy.TASK_RETCODE_SYSCALL_KILL  # the program ran, and the kill ended it
    assert result["before"] is False
    assert result["handler_kept"] is True
    return result


def test_at_the_default_disposition_suspensions_raise_no_sigchld() -> None:
    result = run_case("default")
    assert result["nocldstop"] is True
    assert result["after_stops"] is False, "the program's ptrace-stops raised SIGCHLD in the calling program"


@pytest.mark.parametrize("mode", ["blocked", "handler"])
def test_a_sigchld_the_program_takes_itself_is_left_alone(mode: str) -> None:
    # Blocked by the thread that spawns first (a sigwaitinfo or signalfd reaper), or caught by a handler: the
    # disposition stays as it was, so the stops still notify, as they do for a program's own children.
    result = run_case(mode)
    assert result["nocldstop"] is False
    assert result["after_stops"] is True
