"""``python -m fuchsia_tools.femu host``: the conformance suite as a Fuchsia program on the host kernel, compared with
the same scenarios run as a Linux program (fuchsia_tools/femu_host.py).

The comparison rules are tested here with result tables of our own (no SDK).  The end-to-end run needs the real
January 2021 SDK (``ZXPY_SDK_2021``; skipped without it, with the fetch instruction) and a clang for the Fuchsia
target.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from vintage import fuchsia_clang, real_sdk_2021

from fuchsia_tools import femu_host
from fuchsia_tools.femu_host import Result, compare, completed, parse_results

ROOT = Path(__file__).resolve().parent.parent

OUTPUT = """\
PASS s01 Threads.Basics
FAIL s02 Threads.InvalidRights: scen_threads.c:40: expected ZX_OK, got ZX_ERR_BAD_HANDLE
SKIP s04 test_bad_state_nonstarted_thread: 2018 kernel only
something else the program printed
PASS r01 kill: a thread is WRONG_TYPE (task.cc)
2 passed, 1 failed, 1 skipped
"""


def test_parse_results_reads_the_scenario_lines_only() -> None:
    results = parse_results(OUTPUT)
    assert list(results) == ["s01", "s02", "s04", "r01"]
    assert results["s01"] == Result("PASS", "Threads.Basics")
    assert results["s02"].verdict == "FAIL" and "BAD_HANDLE" in results["s02"].detail
    assert results["s04"].verdict == "SKIP"
    assert parse_results("") == {}


def table(**verdicts: str) -> dict[str, Result]:
    return {sid: Result(v, sid) for sid, v in verdicts.items()}


def test_compare_passes_only_when_every_linux_pass_passes_as_fuchsia() -> None:
    linux = table(s01="PASS", s02="PASS", s03="SKIP", s04="PASS")
    same = compare(linux, table(s01="PASS", s02="PASS", s03="SKIP", s04="PASS"), gaps={})
    assert same.ok and same.passed_both == ["s01", "s02", "s04"]
    worse = compare(linux, table(s01="PASS", s02="FAIL", s03="SKIP"), gaps={})
    assert not worse.ok
    assert worse.regressions == ["s02"] and worse.missing == ["s04"]


def test_compare_known_gaps_must_not_pass_and_linux_failures_fail() -> None:
    linux = table(s01="PASS", s02="PASS", s05="FAIL")
    gaps = {"s02": "not served yet"}
    cmp = compare(linux, table(s01="PASS", s02="FAIL", s05="FAIL"), gaps=gaps)
    assert cmp.gaps == ["s02"] and cmp.regressions == [] and cmp.linux_failures == ["s05"]
    assert not cmp.ok  # the host kernel failing its own suite is a failure whatever the Fuchsia run says
    closed = compare(table(s01="PASS", s02="PASS"), table(s01="PASS", s02="PASS"), gaps=gaps)
    assert closed.closed_gaps == ["s02"] and not closed.ok
    out = io.StringIO()
    femu_host.report(closed, table(s01="PASS", s02="PASS"), table(s01="PASS", s02="PASS"), gaps=gaps, out=out)
    assert "remove it from KNOWN_GAPS: s02" in out.getvalue()


def test_a_fuchsia_failure_the_linux_run_has_no_line_for_fails_and_a_run_must_reach_its_tally() -> None:
    cmp = compare(table(s01="PASS"), table(s01="PASS", s02="FAIL"), gaps={})
    assert cmp.fuchsia_only == ["s02"] and not cmp.ok
    assert completed(OUTPUT)
    assert not completed(OUTPUT.replace("2 passed, 1 failed, 1 skipped\n", ""))


def test_every_known_gap_names_a_scenario_and_a_reason() -> None:
    table_src = (ROOT / "conformance" / "scenarios.c").read_text()
    for sid, why in femu_host.KNOWN_GAPS.items():
        assert f'"{sid}"' in table_src, f"KNOWN_GAPS names {sid}, which conformance/scenarios.c does not have"
        assert len(why) > 20, f"KNOWN_GAPS[{sid!r}] needs a reason"


@pytest.mark.skipif(sys.platform != "linux" or os.uname().machine != "x86_64",
                    reason="the Fuchsia runner is x86-64 Linux only")
def test_conformance_suite_as_a_fuchsia_program(tmp_path: Path) -> None:
    """The suite built against the real 2021 SDK runs on the host kernel under Job.spawn, and every scenario that
    passes as a Linux program passes as a Fuchsia program, or is a documented gap."""
    sdk = real_sdk_2021()
    clang = fuchsia_clang()
    cfg = tmp_path / "sdk.cfg"
    cfg.write_text(f"[sdk]\npath = {sdk}\nclang_dir = {Path(clang).resolve().parent}\n[target]\ncpu = x64\n")
    proc = subprocess.run([sys.executable, "-m", "fuchsia_tools.femu", "host", "--config", str(cfg), "--out",
                           str(tmp_path / "out")], cwd=ROOT, capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    assert "host kernel, Fuchsia program:" in proc.stdout
    assert "passed, 0 failed" in proc.stdout.split("host kernel, Linux program:")[1].splitlines()[0]
