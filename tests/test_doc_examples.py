"""Every ```python block of README.md and docs/*.md runs, in the order written, and leaves nothing behind.

Each Markdown file's blocks run in sequence in one fresh interpreter (one namespace, as a reader would type
them), with ``-W error::ResourceWarning``.  The file fails if a block raises, if anything reaches
``sys.unraisablehook`` (a handle closed by the garbage collector warns from ``__del__``), if the process's
handle count by type is not back to its starting value at the end, or if a program the examples spawned is
still alive: as a child of the interpreter at its end, or (the interpreter runs in a session of its own) as a
member of that session afterwards.

A block that cannot run on the host (Fuchsia-only, a doctest transcript of another build, a test file run
elsewhere, an illustrative fragment) is preceded by ``<!-- not-run: REASON -->``; those are counted and
reported with the session's figures, and a marker without a reason, or before no python block, fails.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest_robustness import reporter

ROOT = Path(__file__).resolve().parent.parent
FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

_FENCE = re.compile(r"^```(\S*)[^\n]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
_MARKER = re.compile(r"<!--\s*not-run:(.*?)-->\s*$", re.DOTALL)


@dataclass(frozen=True)
class Block:
    line: int  # 1-based line of the block's first code line
    source: str
    skip_reason: str | None


def blocks(path: Path) -> list[Block]:
    """The ```python blocks of PATH, each with the reason of its not-run marker (None: it runs)."""
    text = path.read_text(encoding="utf-8")
    found = []
    for match in _FENCE.finditer(text):
        if match.group(1) != "python":
            continue
        before = text[: match.start()].rstrip()
        marker = _MARKER.search(before)
        reason = None
        if marker and marker.end() == len(before):
            reason = marker.group(1).strip()
            if not reason:
                line = text.count("\n", 0, match.start()) + 1
                raise AssertionError(f"{path.name}:{line}: not-run marker without a reason")
        found.append(Block(text.count("\n", 0, match.start(2)) + 1, match.group(2), reason))
    return found


_RUNNER = r"""
import gc, json, os, sys, warnings
unraisable = []
sys.unraisablehook = lambda u: unraisable.append(f"{u.exc_type.__name__}: {u.exc_value} ({u.object!r})")
# A zxpy handle's finaliser swallows what its warning raises (it never raises from __del__): record those
# instead.  Every other ResourceWarning stays an error (-W error::ResourceWarning).
unclosed = []
warnings.filterwarnings("always", message="unclosed .* handle", category=ResourceWarning)
warnings.showwarning = lambda message, *rest: unclosed.append(str(message))
import zxpy
# The runtime's own handles (default job, this process, this thread) exist once first asked for: not leaks.
zxpy.Job.default(), zxpy.Process.self(), zxpy.Thread.self()
def stats():
    gc.collect()
    return zxpy.Process.self().handle_stats()
baseline = stats()
blocks = json.loads(sys.argv[1])
namespace = {"__name__": "__main__"}
for name, source in blocks:
    exec(compile(source, name, "exec"), namespace)
open_at_end = stats()
namespace.clear()
after = stats()
children = []
for tid in os.listdir("/proc/self/task"):
    try:
        with open(f"/proc/self/task/{tid}/children") as f:
            children += f.read().split()
    except FileNotFoundError:
        pass
problems = []
if unraisable:
    problems.append("unraisable: " + "; ".join(unraisable))
if unclosed:
    problems.append("handles closed by the garbage collector: " + "; ".join(unclosed))
if open_at_end != baseline:
    problems.append(f"handles left open at the end: {baseline} -> {open_at_end}")
if after != baseline:
    problems.append(f"handles still open after the examples' names were dropped: {baseline} -> {after}")
if children:
    problems.append(f"spawned programs still alive at the end: pids {children}")
if problems:
    sys.exit("\n".join(problems))
"""


def _session_members(sid: int) -> list[int]:
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[3]) == sid and fields[0] != "Z":
            members.append(int(entry))
    return members


_ran: dict[str, int] = {}
_skipped: dict[str, list[str]] = {}


@reporter
def _figures() -> list[str]:
    if not _ran and not _skipped:
        return []
    lines = [
        f"doc examples: {sum(_ran.values())} python blocks run in {len(_ran)} files; "
        f"{sum(len(v) for v in _skipped.values())} marked not-run"
    ]
    for name, reasons in sorted(_skipped.items()):
        lines += [f"  not run, {name}: {reason}" for reason in reasons]
    return lines


def test_markers_precede_python_blocks() -> None:
    """A not-run marker is followed by a python block (else it marks nothing and hides a mistake)."""
    for path in FILES:
        text = path.read_text(encoding="utf-8")
        for marker in _MARKER.finditer(text):
            rest = text[marker.end() :].lstrip()
            assert rest.startswith("```python"), f"{path.name}: {marker.group(0)!r} is not before a python block"


@pytest.mark.parametrize("path", [p for p in FILES if blocks(p)], ids=lambda p: p.relative_to(ROOT).as_posix())
def test_examples_run(path: Path, tmp_path: Path) -> None:
    name = path.relative_to(ROOT).as_posix()
    found = blocks(path)
    _skipped[name] = [f"line {b.line}: {b.skip_reason}" for b in found if b.skip_reason is not None]
    if not _skipped[name]:
        del _skipped[name]
    runnable = [(f"{name}:{b.line}", "\n" * (b.line - 1) + b.source) for b in found if b.skip_reason is None]
    if not runnable:
        pytest.skip(f"{name}: every python block is marked not-run")
    proc = subprocess.Popen(
        [sys.executable, "-W", "error::ResourceWarning", "-c", _RUNNER, json.dumps(runnable)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        out, err = proc.communicate()
        pytest.fail(f"{name}: examples still running after 120 s\n{out}\n{err}")
    assert proc.returncode == 0, f"{name}: examples failed (exit {proc.returncode})\n{out}\n{err}"
    _ran[name] = len(runnable)
    deadline = time.monotonic() + 5
    while (left := _session_members(proc.pid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not left, f"{name}: processes of the examples outlived them: {left}"
