"""The "fuchsia" section of ``python -m zxpy demo``: a Fuchsia program run from Python (docs/fuchsia-elf.md).

Builds the freestanding test programs of a zxpy checkout (tests/helpers/fuchsia_first_light.c) with clang for
x86_64-unknown-fuchsia, takes the vDSO of the SDK named by fuchsia_sdk.cfg or else builds the stand-in one
(fuchsia_tools/standin_vdso.py), and runs them with :meth:`zxpy.Job.spawn_fuchsia`: one prints and exits with 42,
one prints ticks, which stop while it is suspended and end with its job's kill.  Says why when it cannot run.
"""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import fuchsia
from .enums import TASK_RETCODE_SYSCALL_KILL, ThreadState
from .job import PIPE, Job

__all__ = ["demo_fuchsia"]

_SOURCE = Path(__file__).resolve().parent.parent / "tests" / "helpers" / "fuchsia_first_light.c"
_FLAGS = ("--target=x86_64-unknown-fuchsia", "-fuse-ld=lld", "-nostdlib", "-ffreestanding", "-fno-builtin", "-fPIE",
          "-Wl,-pie", "-Wl,--no-dynamic-linker", "-fno-stack-protector", "-fno-sanitize=safe-stack", "-O2",
          "-e", "_start")


def _read(stream: Any, seconds: float) -> bytes:
    """What arrives on the pipe ``stream`` within ``seconds`` (or until EOF)."""
    data = b""
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        if not select.select([stream], [], [], left)[0]:
            break
        chunk = os.read(stream.fileno(), 65536)
        if not chunk:
            break
        data += chunk
    return data


def _ticks(data: bytes) -> int:
    return sum(1 for line in data.decode(errors="replace").splitlines() if line.startswith("tick "))


def _prepare(workdir: Path, modes: tuple[str, ...] = ("EXIT", "TICK")) -> tuple[dict[str, Path], Path, str] | str:
    """The images of the test program's ``FL_<mode>`` builds, the vDSO and where it came from; or why they cannot
    be had (also used by benchmarks/fuchsia_syscall_cost.py)."""
    if not fuchsia.AVAILABLE:
        return "this zxpy has no Fuchsia runner (it is built into the module on x86-64 Linux hosts only)"
    if not _SOURCE.is_file():
        return f"the test program's source {_SOURCE} is not here (run the demo from a zxpy checkout)"
    clang = shutil.which(os.environ.get("ZXPY_CLANG", "clang"))
    if clang is None or shutil.which("ld.lld") is None:
        return "clang and ld.lld are needed to build a Fuchsia image (apt install clang lld)"
    images = {}
    for mode in modes:
        out = workdir / f"fl_{mode.lower()}"
        proc = subprocess.run([clang, *_FLAGS, f"-DFL_{mode}", "-o", str(out), str(_SOURCE)], capture_output=True,
                              text=True, check=False)
        if proc.returncode != 0:
            return f"clang could not build a Fuchsia image: {proc.stderr.strip()[:200]}"
        images[mode] = out
    try:
        from fuchsia_tools import sdkconfig, standin_vdso
    except ImportError:
        return "fuchsia_tools (fuchsia_sdk.cfg's reader, the stand-in vDSO's builder) is not importable"
    try:
        cfg = sdkconfig.load(None)
        # A stand-in SDK's libzircon.so is a link stub, not a vDSO with syscalls to serve.
        if cfg.configured and not cfg.sdk_identity().get("stand_in"):
            vdso = fuchsia.find_vdso()
            if vdso.is_file():
                return images, vdso, "the SDK's, from fuchsia_sdk.cfg"
    except (ValueError, OSError):
        pass
    try:
        standin_vdso.build(workdir / "standin", clang=clang)
    except (OSError, subprocess.CalledProcessError) as err:
        return f"no SDK is configured and the stand-in vDSO could not be built: {err}"
    return images, workdir / "standin" / "libzircon.so", "the stand-in, fuchsia_tools/standin_vdso.py"


def demo_fuchsia(say: Callable[[str], None], error: type[Exception], watch: float, timeout: float) -> None:
    """Run the section, printing with ``say``; raise ``error`` when an effect is not observed."""
    with tempfile.TemporaryDirectory() as tmp:
        ready = _prepare(Path(tmp))
        if isinstance(ready, str):
            say(f"fuchsia: skipped: {ready}")
            return
        images, vdso, origin = ready
        say(f"fuchsia: static Fuchsia images run by the host kernel's runner; vDSO: {origin} ({vdso})")
        with Job.default().create_job() as job:
            try:
                proc = job.spawn_fuchsia(images["EXIT"], vdso=vdso, stderr=PIPE, name="demo-fuchsia")
                with proc, proc.stderr:
                    code = proc.wait(timeout=timeout)
                    out = _read(proc.stderr, timeout).decode(errors="replace")
                    for line in out.splitlines():
                        say(f"  | {line}")
                    say(f"  fuchsia process {proc.koid} exited with return code {code}")
                    if code != 42:
                        raise error(f"the Fuchsia program exited with {code}, not 42")
                proc = job.spawn_fuchsia(images["TICK"], vdso=vdso, stderr=PIPE, name="demo-fuchsia-tick")
                with proc, proc.stderr:
                    before = _ticks(_read(proc.stderr, watch * 2))
                    say(f"  ticking fuchsia process {proc.koid}: {before} ticks in {watch * 2:.2f}s")
                    if not before:
                        raise error("the Fuchsia program printed no tick")
                    with proc.suspend():
                        [koid] = proc.threads()
                        with proc.child(koid) as thread:
                            deadline = time.monotonic() + timeout
                            while thread.info().state != ThreadState.SUSPENDED and time.monotonic() < deadline:
                                time.sleep(0.005)
                        _read(proc.stderr, 0.05)
                        held = _ticks(_read(proc.stderr, watch * 2))
                        say(f"  suspended: {held} ticks in {watch * 2:.2f}s")
                        if held:
                            raise error("the Fuchsia program ticked while suspended")
                    after = _ticks(_read(proc.stderr, watch * 2))
                    say(f"  resumed (token closed): {after} ticks in {watch * 2:.2f}s")
                    if not after:
                        raise error("the Fuchsia program did not tick again after the resume")
                    job.kill()
                    code = proc.wait(timeout=timeout)
                    say(f"  job {job.koid} killed: fuchsia process {proc.koid} return code {code}"
                        + (" (TASK_RETCODE_SYSCALL_KILL)" if code == TASK_RETCODE_SYSCALL_KILL else ""))
                    if code != TASK_RETCODE_SYSCALL_KILL:
                        raise error("the Fuchsia program did not report the kill")
                if origin.startswith("the SDK's"):
                    with Job.default().create_job() as sdk_job:  # the first job was killed above
                        try:
                            _demo_sdk_program(Path(tmp), vdso.parent.parent, sdk_job, say, error, timeout)
                        finally:
                            sdk_job.kill()
                say(f"  unserved syscalls so far: {fuchsia.unserved() or 'none'}")
            finally:
                job.kill()


_SDK_HELLO = r"""
#include <pthread.h>
#include <stdio.h>
static void *work(void *arg) { printf("  | printf from pthread %d\n", (int)(long)arg); return arg; }
int main(void) {
    printf("  | hello from a program built against the Fuchsia SDK\n");
    fflush(stdout);
    pthread_t t[2];
    for (long i = 0; i < 2; i++) pthread_create(&t[i], NULL, work, (void *)(i + 1));
    for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
    return 3;
}
"""


def _demo_sdk_program(workdir: Path, sysroot: Path, job: Job, say: Callable[[str], None], error: type[Exception],
                      timeout: float) -> None:
    """Where a real SDK is configured: a printf + pthreads program linked as the SDK links executables (PT_INTERP
    ld.so.1, libfdio.so from the loader service), started by plain ``Job.spawn``; its stdout is ours."""
    clang = shutil.which(os.environ.get("ZXPY_CLANG", "clang"))
    fdio = sysroot.parent.parent.parent / "pkg" / "fdio" / "arch" / "x64" / "lib"
    src, exe = workdir / "sdk_hello.c", workdir / "sdk_hello"
    src.write_text(_SDK_HELLO)
    common = [str(clang), "--target=x86_64-unknown-fuchsia", f"--sysroot={sysroot}"]
    for argv in ([*common, "-c", str(src), "-o", f"{exe}.o"],
                 [*common, "-fuse-ld=lld", "-nostdlib", "-Wl,-pie", "-Wl,--dynamic-linker=ld.so.1",
                  str(sysroot / "lib" / "Scrt1.o"), f"{exe}.o", "-L", str(sysroot / "lib"), "-L", str(fdio), "-lfdio",
                  "-lc", "-lzircon", "-o", str(exe)]):
        proc = subprocess.run(argv, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            say(f"  SDK program: skipped: clang could not build it: {proc.stderr.strip()[:200]}")
            return
    say("  a program built against the SDK (printf, pthreads, libfdio.so), started by job.spawn:")
    with job.spawn([str(exe)]) as sdk_proc:
        code = sdk_proc.wait(timeout=timeout)
        say(f"  SDK program {sdk_proc.koid} exited with return code {code}")
    if code != 3:
        raise error(f"the SDK program exited with {code}, not 3")
