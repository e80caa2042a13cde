"""``python -m zxpy demo`` and ``info`` run and report what they observed."""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from vintage import IN_CI, real_sdk_2021

import zxpy

TIMEOUT = 300


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "zxpy", *args], capture_output=True, text=True,
                          timeout=TIMEOUT, check=False)


def test_demo_exits_zero_and_shows_the_effects() -> None:
    result = run("demo")
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    # The worker stopped while suspended and ran again afterwards.
    counters = re.findall(r"^ +counter: (\d+) -> (\d+) in [\d.]+s: (\w+)", out, re.MULTILINE)
    states = [state for _, _, state in counters]
    assert states == ["running", "stopped", "running"], out
    for before, after, state in counters:
        assert (int(after) > int(before)) == (state == "running"), out
    assert "ZX_THREAD_SUSPENDED" in out and "ZX_THREAD_RUNNING" in out
    # The kill was observed with Zircon's signals and return code.
    assert re.search(r"job \d+: signals ZX_JOB_TERMINATED\|ZX_JOB_NO_JOBS\|ZX_JOB_NO_PROCESSES,"
                     r" exited=True, return code -1024 \(TASK_RETCODE_SYSCALL_KILL\)", out), out
    assert re.search(r"unstarted process \d+: signals ZX_PROCESS_TERMINATED, exited=True, return code -1024",
                     out), out
    assert "ZX_ERR_BAD_STATE" in out
    assert out.rstrip().endswith("ok")


def test_demo_spawns_a_real_program() -> None:
    out = run("demo").stdout
    assert re.search(r"spawned \S+ into job \d+: process koid \d+", out), out
    program = re.findall(r"program counter: (\d+) -> (\d+) in [\d.]+s: (\w+)", out)
    assert [state for _, _, state in program] == ["running", "stopped", "running"], out
    assert re.search(r"spawned process \d+: signals ZX_PROCESS_TERMINATED, exited=True, return code -1024",
                     out), out


def test_info_runs() -> None:
    result = run("info")
    assert result.returncode == 0, result.stderr
    assert re.search(r"default job\s+koid \d+", result.stdout)
    assert re.search(r"this thread\s+koid \d+\s+state <ThreadState.RUNNING", result.stdout)


def test_usage_error_without_command() -> None:
    result = run()
    assert result.returncode == 2
    assert "demo" in result.stderr


def test_demo_debugger_catches_a_crash_and_a_breakpoint() -> None:
    result = run("demo", "debugger")
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert re.search(r"exception FATAL_PAGE_FAULT in process \d+, thread \d+\n  fault address 0x0", out), out
    assert "held by the DEBUGGER channel" in out
    if platform.machine() in ("x86_64", "AMD64", "aarch64", "arm64"):
        # The debugger read the registers in the exception: the instruction pointer is the planted load, inside
        # the code the crasher advertised; it wrote the pointer past the load and the program ran on to exit 42.
        start, end = (int(x, 16) for x in re.findall(r"program: code at (0x[0-9a-f]+)\.\.(0x[0-9a-f]+)", out)[0])
        pc = int(re.findall(r"instruction pointer (0x[0-9a-f]+)", out)[0], 16)
        assert start <= pc < end, out
        written = int(re.findall(r"wrote (?:rip|pc) = (0x[0-9a-f]+) \(past the (\d+)-byte load\)", out)[0][0], 16)
        assert pc < written < end, out
        assert "HANDLED: the thread resumes after the load\n  return code 42\n" in out, out
    else:
        assert "return code -1024" in out  # killed by the debugger
    if platform.machine() in ("x86_64", "AMD64"):
        assert "exception SW_BREAKPOINT" in out
        assert "program: resumed after the breakpoint\n  return code 0" in out
    assert re.search(r"suspended thread \d+ of a spinning program: state <ThreadState.SUSPENDED", out), out
    # The suspended spinner's registers and the top of its stack, read with zx_process_read_memory.
    spinner = out[out.index("of a spinning program"):]
    sp = int(re.findall(r"stack pointer (0x[0-9a-f]+)", spinner)[0], 16)
    assert sp % 8 == 0 and sp > 0x10000, spinner
    assert re.search(r"16 bytes at the stack pointer: (?:[0-9a-f]{2} ){15}[0-9a-f]{2}\n", spinner), spinner
    assert "token closed: state <ThreadState.RUNNING" in spinner, spinner
    assert out.rstrip().endswith("ok")


def test_demo_debugger_falls_back_without_registers(monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """A build that cannot read registers (no record for its architecture, no call): the demo says so and kills
    the crasher instead of skipping its fault, and still ends ok."""
    from zxpy import NotSupportedError, Thread
    from zxpy.__main__ import demo_debugger

    def no_registers(self: Thread) -> None:
        raise NotSupportedError(-2, "zx_thread_read_state")

    monkeypatch.setattr(Thread, "read_state", no_registers)
    assert demo_debugger() == 0
    out = capsys.readouterr().out
    assert "(registers: this build has no zx_thread_read_state)\n  killing the program\n  return code -1024\n" in out
    assert "(registers and stack: this build has no" in out
    assert "wrote rip" not in out and "wrote pc" not in out
    assert out.rstrip().endswith("ok")


def test_demo_runs_a_fuchsia_program() -> None:
    """The "fuchsia" section (zxpy/_demo_fuchsia.py): a static Fuchsia image run with Job.spawn_fuchsia prints
    and exits with 42; a ticking one stops while suspended and reports the job's kill.  Off x86-64 Linux, or
    without clang and ld.lld (outside CI), it says why it is skipped."""
    out = run("demo").stdout
    x64_linux = sys.platform == "linux" and platform.machine() in ("x86_64", "AMD64")
    # The demo builds the test program of a checkout: an installed package (CI's run) has no tests/ beside it.
    checkout = (Path(zxpy.__file__).resolve().parent.parent / "tests" / "helpers" / "fuchsia_first_light.c").is_file()
    tools = shutil.which("clang") and shutil.which("ld.lld")
    if not (x64_linux and checkout and (tools or IN_CI)):
        assert re.search(r"^fuchsia: skipped: \S.*$", out, re.MULTILINE), out
        if x64_linux and not checkout:
            assert "is not here (run the demo from a zxpy checkout)" in out, out
        return
    assert "fuchsia: static Fuchsia images run by the host kernel's runner; vDSO: " in out, out
    assert "  | hello from a Fuchsia program\n  | slept, exiting with 42\n" in out
    assert re.search(r"fuchsia process \d+ exited with return code 42$", out, re.MULTILINE), out
    [(before, held, after)] = re.findall(r"ticking fuchsia process \d+: (\d+) ticks.*\n  suspended: (\d+) ticks.*\n"
                                         r"  resumed \(token closed\): (\d+) ticks", out)
    assert int(before) > 0 and int(held) == 0 and int(after) > 0, out
    assert re.search(r"fuchsia process \d+ return code -1024 \(TASK_RETCODE_SYSCALL_KILL\)", out), out
    assert out.rstrip().endswith("ok")


def test_demo_runs_an_sdk_program_where_an_sdk_is_configured(tmp_path: Path) -> None:
    """With a real SDK named in the config, the fuchsia section also builds a printf + pthreads program as the SDK
    links executables and starts it with plain Job.spawn: ld.so.1, libfdio.so from the loader service, its
    output on our stdout, return code 3."""
    cfg = tmp_path / "fuchsia_sdk.cfg"
    cfg.write_text(f"[sdk]\npath = {real_sdk_2021()}\n")
    result = subprocess.run([sys.executable, "-m", "zxpy", "demo"], capture_output=True, text=True, timeout=TIMEOUT,
                            check=False, env={**os.environ, "ZXPY_SDK_CFG": str(cfg)})
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert "vDSO: the SDK's, from fuchsia_sdk.cfg" in out, out
    assert "  | hello from a program built against the Fuchsia SDK\n" in out, out
    assert sorted(re.findall(r"printf from pthread (\d)", out)) == ["1", "2"], out
    assert re.search(r"SDK program \d+ exited with return code 3$", out, re.MULTILINE), out
