"""The ``zxpy`` command line: ``run`` (exit statuses, timeout, signals, --json), --version, help, closed pipes.

Every wait is bounded; nothing here asserts how fast anything is.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import zxpy

#: Bound for every asynchronous effect (not a speed goal).
LONG = 60.0

#: A daemon the way a service makes one: fork, setsid, fork again (the middle process exits, so the grandchild
#: is an orphan in a session of its own), the grandchild writes its pid and sleeps; PROG itself writes its own
#: pid and sleeps too.  Neither process group nor session keeps it out of the job.
DAEMONIZER = """\
import os, sys, time
def publish(path):
    with open(path + ".tmp", "w") as f:
        f.write(str(os.getpid()))
    os.replace(path + ".tmp", path)
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        publish(sys.argv[1])
        time.sleep(600)
    os._exit(0)
publish(sys.argv[2])
time.sleep(600)
"""


def zxpy_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "zxpy", *args]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(zxpy_cmd(*args), capture_output=True, text=True, timeout=LONG * 2, check=False)


def wait_for_pid(path: Path) -> int:
    end = time.monotonic() + LONG
    while not path.exists():
        assert time.monotonic() < end, f"{path} never appeared"
        time.sleep(0.01)
    return int(path.read_text())


def dead(pid: int) -> bool:
    """``pid`` no longer runs: /proc/<pid> is gone, or it is a zombie (dead; reaping an orphan is its new
    parent's business, init's, and this machine's init may take its time)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def assert_gone(*pids: int) -> None:
    end = time.monotonic() + LONG
    while not all(dead(pid) for pid in pids):
        assert time.monotonic() < end, f"still running: {[pid for pid in pids if not dead(pid)]}"
        time.sleep(0.01)


@pytest.fixture
def daemon_argv(tmp_path: Path) -> tuple[list[str], Path, Path]:
    grandchild, child = tmp_path / "grandchild.pid", tmp_path / "child.pid"
    return [sys.executable, "-c", DAEMONIZER, str(grandchild), str(child)], grandchild, child


# ------------------------------------------------------------------------------------------------ run


def test_timeout_kills_the_daemonized_grandchild(daemon_argv: tuple[list[str], Path, Path]) -> None:
    argv, grandchild, child = daemon_argv
    result = run("run", "--timeout", "1", "--", *argv)
    assert result.returncode == 124, result.stderr
    # The timeout is short: if the machine was too slow for the daemon to appear, the test proves nothing.
    assert grandchild.exists() and child.exists(), "the daemon was not up before the timeout"
    assert_gone(int(grandchild.read_text()), int(child.read_text()))


@pytest.mark.parametrize(("signo", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_to_zxpy_kills_the_tree(daemon_argv: tuple[list[str], Path, Path], signo: int, status: int) -> None:
    argv, grandchild, child = daemon_argv
    with subprocess.Popen(zxpy_cmd("run", "--", *argv), stderr=subprocess.PIPE, text=True) as zx:
        try:
            pids = wait_for_pid(grandchild), wait_for_pid(child)
            zx.send_signal(signo)
            _, err = zx.communicate(timeout=LONG)
        finally:
            zx.kill()
    assert zx.returncode == status, err
    assert "Traceback" not in err, err
    assert_gone(*pids)


@pytest.mark.parametrize(("code", "status"), [(0, 0), (3, 3), (255, 255)])
def test_the_exit_code_is_forwarded(code: int, status: int) -> None:
    assert run("run", "--", "/bin/sh", "-c", f"exit {code}").returncode == status


def test_killed_from_outside_is_137(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    script = f"echo $$ > {pidfile}.tmp && mv {pidfile}.tmp {pidfile} && exec sleep 600"
    with subprocess.Popen(zxpy_cmd("run", "--", "sh", "-c", script)) as zx:
        try:
            os.kill(wait_for_pid(pidfile), signal.SIGKILL)
            assert zx.wait(timeout=LONG) == 137
        finally:
            zx.kill()


def test_a_crash_is_139() -> None:
    assert run("run", "--", sys.executable, "-c", "import os; os.abort()").returncode == 139


def test_a_missing_program_is_127_and_a_non_executable_126(tmp_path: Path) -> None:
    missing = run("run", "--", "zxpy-no-such-program")
    assert missing.returncode == 127
    assert missing.stderr.strip() == "zxpy run: zxpy-no-such-program: command not found"
    data = tmp_path / "data"
    data.write_text("not a program")
    data.chmod(0o644)
    refused = run("run", "--", str(data))
    assert refused.returncode == 126, refused.stderr
    assert refused.stderr.startswith(f"zxpy run: {data}: cannot run:"), refused.stderr


def test_stdio_and_cwd_are_the_callers(tmp_path: Path) -> None:
    result = subprocess.run(zxpy_cmd("run", "--", "sh", "-c", "cat; pwd; echo err >&2"), input="in\n",
                            capture_output=True, text=True, cwd=tmp_path, timeout=LONG, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"in\n{tmp_path}\n"
    assert result.stderr == "err\n"


def test_json_report() -> None:
    before = time.time()
    result = run("run", "--json", "--name", "cli-json", "--", "/bin/sh", "-c", "echo out; exit 5")
    assert result.returncode == 5, result.stderr
    out, last = result.stdout.rstrip("\n").rsplit("\n", 1)
    assert out == "out"
    report = json.loads(last)
    assert report["argv"] == ["/bin/sh", "-c", "echo out; exit 5"]
    assert report["return_code"] == 5 and report["exit_status"] == 5
    assert report["timed_out"] is False and report["signal"] is None
    assert isinstance(report["job_koid"], int) and isinstance(report["process_koid"], int)
    assert report["job_koid"] != report["process_koid"]
    assert before <= report["start_time"] <= report["end_time"] <= time.time()
    assert report["duration"] >= 0


def test_json_report_of_a_timeout() -> None:
    result = run("run", "--json", "--timeout", "0.2s", "--", "sleep", "600")
    assert result.returncode == 124, result.stderr
    report = json.loads(result.stdout)
    assert report["timed_out"] is True and report["exit_status"] == 124
    assert report["return_code"] == zxpy.TASK_RETCODE_SYSCALL_KILL


def test_kill_after_is_refused_with_a_reason() -> None:
    result = run("run", "--kill-after", "5", "--timeout", "10", "--", "true")
    assert result.returncode == 2
    assert "--kill-after is not supported" in result.stderr


def test_run_without_a_program_is_a_usage_error() -> None:
    result = run("run")
    assert result.returncode == 2 and "no program given" in result.stderr


# ------------------------------------------------------------------------------------------------ the rest


def test_version() -> None:
    result = run("--version")
    assert result.returncode == 0
    assert result.stdout == f"zxpy {zxpy.__version__}\n"


def test_no_arguments_prints_help_and_exits_2() -> None:
    result = run()
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith("usage: zxpy") and " run " in result.stderr


@pytest.mark.parametrize("args", [("info",), ("--help",)])
def test_a_closed_pipe_is_no_traceback(args: tuple[str, ...]) -> None:
    command = " ".join(zxpy_cmd(*args)) + " | head -1"
    result = subprocess.run(["sh", "-c", command], capture_output=True, text=True, timeout=LONG, check=False)
    assert result.returncode == 0
    assert result.stdout.count("\n") == 1
    assert result.stderr == ""


# argparse prints --help and --version itself and ignores an OSError from that write: it exits 0, quietly.
@pytest.mark.parametrize(("args", "status"), [(("info",), 141), (("--help",), 0), (("--version",), 0)])
def test_a_pipe_closed_before_any_output(args: tuple[str, ...], status: int) -> None:
    # `| head -1` may read everything before zxpy writes its second line; a pipe whose reading end is
    # already closed makes the very first write fail, every time.
    read, write = os.pipe()
    os.close(read)
    try:
        result = subprocess.run(zxpy_cmd(*args), stdout=write, stderr=subprocess.PIPE, text=True, timeout=LONG,
                                check=False)
    finally:
        os.close(write)
    assert result.returncode == status, result.stderr
    assert result.stderr == ""
