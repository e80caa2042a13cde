"""No zombies in any process role: PID 1 of a PID namespace, or a child subreaper.

When the program that owns the host kernel is PID 1 (a container without an init) or has set
``PR_SET_CHILD_SUBREAPER``, the descendants of spawned programs whose parents die are reparented to it.  The host
kernel reaps those (only those: processes it traced as descendants of its programs) by the time the program's
``TASK_TERMINATED`` is asserted, and never a child that other code owns: a ``subprocess.Popen`` child or an
``os.fork()`` child stays a zombie until its owner waits for it, and its owner gets its status.

Each role runs in a fresh Python (a subreaper or PID 1 role would change how the rest of the suite's processes are
reaped); the PID namespace needs root (``unshare --fork --pid --mount-proc``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import LONG

import zxpy

ROUNDS = 3

SCRIPT = textwrap.dedent(
    r"""
    import ctypes, json, os, subprocess, sys, time
    from zxpy import Job

    forker, work, role = sys.argv[1], sys.argv[2], sys.argv[3]
    if role == "subreaper":
        libc = ctypes.CDLL(None, use_errno=True)
        PR_SET_CHILD_SUBREAPER = 36
        if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")
    me = os.getpid()

    def stat(pid):
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            s = f.read()
        return s[s.rindex(")") + 2 :].split()

    def zombies():
        found = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    fields = stat(entry)
                except OSError:
                    continue
                if fields[0] == "Z" and int(fields[1]) == me:
                    found.append(int(entry))
        return sorted(found)

    def live_children(comm):
        found = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    fields = stat(entry)
                    with open(f"/proc/{entry}/comm", encoding="ascii", errors="replace") as f:
                        name = f.read().strip()
                except OSError:
                    continue
                if fields[0] != "Z" and int(fields[1]) == me and name == comm:
                    found.append(int(entry))
        return found

    def wait_for_zombie(pid):
        end = time.monotonic() + 30
        while time.monotonic() < end:
            if stat(pid)[0] == "Z":
                return
            time.sleep(0.01)
        raise AssertionError(f"{pid} never became a zombie")

    # Children other code owns: they exit at once and stay zombies until their owners wait for them.
    popen = subprocess.Popen(["/bin/sh", "-c", "exit 3"])
    forked = os.fork()
    if forked == 0:
        os._exit(5)
    wait_for_zombie(popen.pid)
    wait_for_zombie(forked)
    own = {popen.pid, forked}

    out = {"pid": me, "rounds": []}
    for r in range(int(sys.argv[4])):
        job = Job.default().create_job()
        pids = os.path.join(work, f"pids{r}")
        # A tree whose members die in any order (children, grandchildren), and an orphan reparented to us while
        # alive: the subshell exits, its sleep lives on.
        orphaning = "(/bin/sleep 1000 &); exec /bin/sleep 1000"
        trees = [job.spawn([forker, pids, "3"]), job.spawn(["/bin/sh", "-c", orphaning])]
        end = time.monotonic() + 30
        while not os.path.exists(pids) or len(open(pids).read().split()) < 7:
            if time.monotonic() > end:
                raise AssertionError("the forker tree never reported")
            time.sleep(0.01)
        # The spawned sleep (our child: spawned programs are) and the orphaned one (reparented to us).
        while len(live_children("sleep")) < 2:
            if time.monotonic() > end:
                raise AssertionError("the orphaned sleep was never reparented to us")
            time.sleep(0.01)
        job.kill()
        job.wait_terminated(timeout=30)
        out["rounds"].append(sorted(set(zombies()) - own))
        for t in trees:
            t.close()
        job.close()
    out["popen_zombie"] = stat(popen.pid)[0] == "Z"
    out["forked_zombie"] = stat(forked)[0] == "Z"
    out["popen"] = popen.wait(timeout=30)
    out["forked"] = os.waitstatus_to_exitcode(os.waitpid(forked, 0)[1])
    out["left"] = zombies()
    print(json.dumps(out))
    """
)


def run_role(cmd_prefix: list[str], role: str, forker: str, work: Path) -> dict[str, object]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(Path(zxpy.__file__).resolve().parent.parent)  # the zxpy this suite tests
    proc = subprocess.run(
        [*cmd_prefix, sys.executable, "-c", SCRIPT, forker, str(work), role, str(ROUNDS)],
        capture_output=True, text=True, timeout=4 * LONG, env=env,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def check(out: dict[str, object]) -> None:
    assert out["rounds"] == [[]] * ROUNDS, f"zombies left after each kill round: {out['rounds']}"
    # Children other code owns were not reaped by the host kernel: their owners got their statuses.
    assert out["popen_zombie"] and out["forked_zombie"]
    assert out["popen"] == 3
    assert out["forked"] == 5
    assert out["left"] == []


def test_subreaper_reaps_killed_descendants_only(helper_bin: Callable[[str], str], tmp_path: Path) -> None:
    """As a child subreaper, no killed descendant is left a zombie after the job's TERMINATED."""
    out = run_role([], "subreaper", helper_bin("forker"), tmp_path)
    check(out)


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("unshare") is None,
                    reason="a PID namespace needs root and unshare(1)")
def test_pid1_reaps_killed_descendants_only(helper_bin: Callable[[str], str], tmp_path: Path) -> None:
    """As PID 1 of a PID namespace (a container without an init), the same holds."""
    out = run_role(["unshare", "--fork", "--pid", "--mount-proc"], "pid1", helper_bin("forker"), tmp_path)
    assert out["pid"] == 1
    check(out)
