"""pytest plugin of the robustness tests: the switch between CI-sized and long runs.

Long runs are asked for with the environment variable ``ZXPY_SLOW=1`` or the
``--slow`` option (``pytest --slow tests``; tests/conftest.py registers its hooks).  ``ZXPY_SCALE``
multiplies the sizes further.  Test modules read :func:`scaled` at import time,
after ``pytest_configure``.
"""

from __future__ import annotations

import os

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


def is_slow() -> bool:
    """True for a long run (``--slow`` or ``ZXPY_SLOW=1``)."""
    return _slow


def scaled(ci: int, slow: int) -> int:
    """``ci`` in normal runs, ``slow`` in long runs; ``ZXPY_SCALE=<float>`` multiplies either."""
    factor = float(os.environ.get("ZXPY_SCALE", "1") or 1)
    return max(1, int((slow if _slow else ci) * factor))
