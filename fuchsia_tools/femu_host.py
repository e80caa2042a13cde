"""The conformance suite as a Fuchsia program on the host kernel: ``python -m fuchsia_tools.femu host``.

Where no emulator can run, the nearest thing to FEMU is the suite built for ``x86_64-unknown-fuchsia`` against the
configured SDK (the same binaries ``femu build`` links) and run by zxpy's Fuchsia runner on this Linux host
(docs/fuchsia-elf.md): the SDK's own ``ld.so.1``, libc, libfdio and vDSO, every Zircon syscall served by the host
kernel.  The same scenarios are also built as a Linux program linked with the host kernel (``conformance/Makefile``)
and run, and the two result tables are compared:

* every scenario that passes as a Linux program must pass as a Fuchsia program, unless :data:`KNOWN_GAPS` names
  it with the reason (a documented gap: it must then *not* pass, so a closed gap is reported and the list kept
  honest);
* a scenario that fails as a Linux program is a failure of the host kernel itself.

The Fuchsia program gets the namespace a test component would have: ``/pkg/bin`` (read-only) holding the suite's
helper programs, which it starts with ``fdio_spawn`` through ``/svc/fuchsia.process.Launcher``, and a private
``/tmp`` for its progress files.

Unlike the rest of :mod:`fuchsia_tools.femu`, this command imports ``zxpy`` (it runs the programs through it), so
it needs the module built (``python build_ffi.py`` in the checkout, or an installed zxpy) on an x86-64 Linux
host.  Exit status: 0 as expected; 1 a difference, a failure, or a run that did not reach the suite's closing
tally (or a Fuchsia return code that does not match its results); 2 a broken setup, or a Linux run that reported no
scenario (its output, e.g. for ``-- --list``, is passed on).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from . import sdkconfig

RESULT_LINE = re.compile(r"^(PASS|FAIL|SKIP) (\S+)(?: (.*))?$")
SUMMARY_LINE = re.compile(r"^\d+ passed, \d+ failed, \d+ skipped$")  # the suite's last line: it ran to its end
RUN_TIMEOUT = 1200.0  # seconds for one whole run of the suite (its own watchdog ends a hung scenario sooner)

# Scenarios that pass as a Linux program and are known not to as a Fuchsia program on the host kernel: id -> why.
KNOWN_GAPS: dict[str, str] = {}


@dataclass(frozen=True)
class Result:
    verdict: str  # PASS, FAIL or SKIP
    detail: str


def parse_results(output: str) -> dict[str, Result]:
    """The scenario lines of a run (``PASS|FAIL|SKIP id detail``), by id; later lines win."""
    results: dict[str, Result] = {}
    for line in output.splitlines():
        m = RESULT_LINE.match(line.strip())
        if m:
            results[m.group(2)] = Result(m.group(1), m.group(3) or "")
    return results


def completed(output: str) -> bool:
    """Whether a run printed the suite's closing tally (a run that died or was killed midway did not)."""
    return any(SUMMARY_LINE.match(line.strip()) for line in output.splitlines())


@dataclass(frozen=True)
class Comparison:
    linux_failures: list[str]   # the host kernel fails its own suite
    regressions: list[str]      # pass as Linux, not as Fuchsia, not a known gap
    missing: list[str]          # ran as Linux, no line as Fuchsia (the run ended early), not a known gap
    gaps: list[str]             # known gaps seen not passing
    closed_gaps: list[str]      # known gaps that pass now
    passed_both: list[str]
    fuchsia_only: list[str] = field(default_factory=list)  # a line as Fuchsia only, not a pass (or not a known gap)

    @property
    def ok(self) -> bool:
        return not (self.linux_failures or self.regressions or self.missing or self.closed_gaps or self.fuchsia_only)


def compare(linux: Mapping[str, Result], fuchsia: Mapping[str, Result],
            gaps: Mapping[str, str] = KNOWN_GAPS) -> Comparison:
    """Compare the two runs' results by scenario id (the Linux run is the reference)."""
    linux_failures = sorted(i for i, r in linux.items() if r.verdict == "FAIL")
    regressions: list[str] = []
    missing: list[str] = []
    seen_gaps: list[str] = []
    closed: list[str] = []
    both: list[str] = []
    for sid, r in linux.items():
        if r.verdict != "PASS":
            continue
        f = fuchsia.get(sid)
        if sid in gaps:
            (closed if f is not None and f.verdict == "PASS" else seen_gaps).append(sid)
        elif f is None:
            missing.append(sid)
        elif f.verdict != "PASS":
            regressions.append(sid)
        else:
            both.append(sid)
    fuchsia_only = sorted(i for i, r in fuchsia.items() if i not in linux and r.verdict == "FAIL")
    return Comparison(linux_failures, sorted(regressions), sorted(missing), sorted(seen_gaps), sorted(closed),
                      sorted(both), fuchsia_only)


def run_linux(source_dir: Path, out: Path, test_args: Sequence[str]) -> tuple[str, str, int]:
    """Build the suite as a Linux program linked with the host kernel and run it; its stdout, stderr and exit
    status."""
    build = out / "linux"
    subprocess.run(["make", "-s", "-C", str(source_dir / "conformance"), f"BUILD={build.resolve()}", "all"],
                   check=True, timeout=900)
    env = dict(os.environ, ZX_CONFORMANCE_HELPER_DIR=str(build.resolve()))
    proc = subprocess.run([str(build / "zx_conformance"), *test_args], env=env, capture_output=True, text=True,
                          timeout=RUN_TIMEOUT)
    return proc.stdout, proc.stderr, proc.returncode


def run_fuchsia(cfg: sdkconfig.SdkConfig, bins: Mapping[str, Path], test_args: Sequence[str],
                echo: bool = True) -> tuple[str, int]:
    """Run the Fuchsia build of the suite on the host kernel, started by plain ``Job.spawn`` as any program is
    (a Fuchsia executable goes to the runner); its output and return code."""
    import zxpy  # only this command needs the module

    bin_dir = bins["zx_conformance"].parent
    chunks: list[str] = []
    read_fd, write_fd = os.pipe()
    with os.fdopen(read_fd, "rb") as stdout, tempfile.TemporaryDirectory(prefix="zxconf-tmp-") as tmp, \
            zxpy.Job.default().create_job() as job:
        try:
            proc = job.spawn(
                [bins["zx_conformance"], *test_args], sysroot=cfg.sysroot,
                environ={"ZX_CONFORMANCE_HELPER_DIR": "/pkg/bin"},
                namespace={"/pkg/bin": (bin_dir, "r"), "/tmp": tmp, "/svc": zxpy.fuchsia.SERVICES},
                fds={0: 0, 1: write_fd, 2: 2})
        finally:
            os.close(write_fd)  # the program has its own end now

        def pump() -> None:
            for line in iter(stdout.readline, b""):
                text = line.decode(errors="replace")
                chunks.append(text)
                if echo:
                    print(f"  fuchsia: {text}", end="", flush=True)

        reader = threading.Thread(target=pump, daemon=True)
        reader.start()
        with proc:
            try:
                rc = proc.wait(timeout=RUN_TIMEOUT)
            except zxpy.TimedOutError:
                job.kill()
                rc = proc.wait(timeout=30)
        reader.join(timeout=30)
    unserved = zxpy.fuchsia.unserved()
    if unserved:
        print("femu host: syscalls answered NOT_SUPPORTED (not served yet): "
              + ", ".join(f"{name} x{n}" for name, n in sorted(unserved.items())))
    return "".join(chunks), rc


def report(cmp: Comparison, linux: Mapping[str, Result], fuchsia: Mapping[str, Result],
           gaps: Mapping[str, str] = KNOWN_GAPS, out: TextIO | None = None) -> None:
    """Print both tallies, then every difference by scenario, then the known gaps with their reasons."""
    stream = sys.stdout if out is None else out

    def p(line: str) -> None:
        print(line, file=stream)
    skipped = sorted(i for i, r in linux.items() if r.verdict == "SKIP")
    p(f"host kernel, Linux program:   {sum(r.verdict == 'PASS' for r in linux.values())} passed, "
      f"{len(cmp.linux_failures)} failed, {len(skipped)} skipped")
    p(f"host kernel, Fuchsia program: {sum(r.verdict == 'PASS' for r in fuchsia.values())} passed, "
      f"{sum(r.verdict == 'FAIL' for r in fuchsia.values())} failed, "
      f"{sum(r.verdict == 'SKIP' for r in fuchsia.values())} skipped")
    p(f"passed as both: {len(cmp.passed_both)}")
    for title, ids in (("FAILED as a Linux program", cmp.linux_failures),
                       ("passed as Linux, NOT as Fuchsia", cmp.regressions),
                       ("no result as Fuchsia (the run ended early)", cmp.missing),
                       ("known gap that PASSES now: remove it from KNOWN_GAPS", cmp.closed_gaps),
                       ("FAILED as a Fuchsia program, no result as Linux", cmp.fuchsia_only)):
        for sid in ids:
            detail = (fuchsia.get(sid) or linux.get(sid) or Result("", "")).detail
            p(f"  {title}: {sid} {detail}")
    for sid in cmp.gaps:
        p(f"  known gap: {sid}: {gaps[sid]}")


def main(cfg: sdkconfig.SdkConfig, source_dir: Path, bins: Mapping[str, Path], out: Path,
         test_args: Sequence[str]) -> int:
    """Both runs and the comparison; 0 when every rule holds, 1 otherwise, 2 when the Linux run reported no
    scenario at all (its own output, e.g. --list or a -k that matches nothing, is passed on)."""
    linux_out, linux_err, linux_rc = run_linux(source_dir, out, test_args)
    linux = parse_results(linux_out)
    if not linux:
        sys.stdout.write(linux_out)
        sys.stderr.write(linux_err)
        print(f"femu host: the Linux build of the suite reported no scenario (exit status {linux_rc})",
              file=sys.stderr)
        return 2
    output, rc = run_fuchsia(cfg, bins, test_args)
    fuchsia = parse_results(output)
    cmp = compare(linux, fuchsia)
    report(cmp, linux, fuchsia)
    problems = []
    if not completed(linux_out) or (linux_rc != 0 and not cmp.linux_failures):
        problems.append(f"the Linux run did not end cleanly (exit status {linux_rc}): {linux_err.strip()[-500:]}")
    if not completed(output):
        problems.append("the Fuchsia program did not run to its end (no closing tally)")
    # The Fuchsia run fails (1) exactly when a scenario failed; any other status is a problem of its own.
    fuchsia_failed = any(r.verdict == "FAIL" for r in fuchsia.values())
    if rc != (1 if fuchsia_failed else 0):
        problems.append(f"the Fuchsia program's return code is {rc}")
    for problem in problems:
        print(f"femu host: {problem}")
    print(f"femu host: the Fuchsia program's return code: {rc}")
    return 0 if cmp.ok and not problems else 1
