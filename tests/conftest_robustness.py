"""pytest plugin of the robustness tests: CI-sized or long runs, and their figures.

Long runs are asked for with the environment variable ``ZXPY_SLOW=1`` or the
``--slow`` option (``pytest --slow tests``; tests/conftest.py registers its hooks).  ``ZXPY_SCALE``
multiplies the sizes further.  Test modules read :func:`scaled` at import time,
after ``pytest_configure``.

Figures (sequences explored, operations run, rounds checked) are not tests:
each module registers a :func:`reporter` that turns what its tests really ran
into lines, and the session prints them at the end ("zxpy robustness figures"
in the terminal summary; appended to the file ``ZXPY_ROBUST_STATS`` names, if
set).  A run that selects only some tests reports only their figures.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest

_slow = os.environ.get("ZXPY_SLOW", "") not in ("", "0")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--slow",
        action="store_true",
        default=False,
        help="zxpy robustness tests: long runs (many more examples, steps, threads); same as ZXPY_SLOW=1",
    )


def pytest_configure(config: pytest.Config) -> None:
    global _slow
    if config.getoption("--slow", default=False):
        _slow = True
    if not config.pluginmanager.has_plugin(_REPORT_NAME):
        config.pluginmanager.register(_FiguresReport(), _REPORT_NAME)


def is_slow() -> bool:
    """True for a long run (``--slow`` or ``ZXPY_SLOW=1``)."""
    return _slow


def scaled(ci: int, slow: int) -> int:
    """``ci`` in normal runs, ``slow`` in long runs; ``ZXPY_SCALE=<float>`` multiplies either."""
    factor = float(os.environ.get("ZXPY_SCALE", "1") or 1)
    return max(1, int((slow if _slow else ci) * factor))


_REPORT_NAME = "zxpy-robustness-figures"
_REPORTERS: list[Callable[[], list[str]]] = []


def reporter(fn: Callable[[], list[str]]) -> Callable[[], list[str]]:
    """Register ``fn``: at the end of the session it returns its module's figure lines (none if nothing ran)."""
    _REPORTERS.append(fn)
    return fn


def figure_lines() -> list[str]:
    """Every registered reporter's lines, in registration (import) order."""
    return [line for fn in _REPORTERS for line in fn()]


class _FiguresReport:
    """Prints the figures after the test summary; never changes the outcome of the run."""

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        lines = figure_lines()
        if not lines:
            return
        terminalreporter.write_sep("-", f"zxpy robustness figures ({'long' if _slow else 'CI'} size)")
        for line in lines:
            terminalreporter.write_line(line)
        out = os.environ.get("ZXPY_ROBUST_STATS")
        if out:
            with open(out, "a", encoding="utf-8") as f:
                f.writelines(line + "\n" for line in lines)
