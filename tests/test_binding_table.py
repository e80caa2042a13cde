"""docs/binding.md's "What zxpy binds" and its feature table say what the binding's one table (zxpy/_abi.py) says."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from zxpy import _abi

PAGE = (Path(__file__).resolve().parent.parent / "docs" / "binding.md").read_text(encoding="utf-8")


def _section(title: str) -> str:
    """The text under the heading TITLE (any level), up to the next heading."""
    match = re.search(rf"^#+ {re.escape(title)}\n", PAGE, re.MULTILINE)
    assert match, f"docs/binding.md has no section {title!r}"
    end = re.search(r"^#+ ", PAGE[match.end():], re.MULTILINE)
    return PAGE[match.end():match.end() + end.start()] if end else PAGE[match.end():]


def _rows(title: str) -> dict[str, str]:
    """The first column -> the second, for the table of a section of docs/binding.md."""
    rows = {}
    for line in _section(title).splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) >= 2 and not set(cells[0]) <= {"-"}:
            rows[cells[0]] = cells[1]
    return rows


def _names(text: str) -> set[str]:
    return set(re.findall(r"`((?:zx|fdio|zxpy)_\w+)`", text))


def test_page_functions_are_the_table_functions() -> None:
    rows = _rows("What zxpy binds")
    listed = set().union(*(_names(k + v) for k, v in rows.items() if k != "the binding's own"))
    own = _names(rows["the binding's own"])
    table = {f.name for f in _abi.FUNCTIONS}
    runner = {f.name for f in _abi.FUCHSIA_RUNNER_FUNCTIONS}  # x86-64 Linux host modules only
    assert listed | (own & table) == table
    assert own - table == {"zxpy_progress_t", "zxpy_build_info"} | runner


def test_page_info_topics_are_the_table_topics() -> None:
    cell = _rows("What zxpy binds")["`zx_object_get_info` topics"]
    listed = {"ZX_INFO_" + t for t in re.findall(r"`([A-Z_]+)`", cell)}
    listed |= {f"ZX_INFO_{base}_V1" for base in re.findall(r"`([A-Z_]+)` \(\+`_V1`", cell)}
    table = {c.name for c in _abi.CONSTANTS if c.group == "info_topics"}
    assert listed == table


def test_page_marks_exactly_the_gated_topics() -> None:
    cell = _rows("What zxpy binds")["`zx_object_get_info` topics"]
    marked = {f"ZX_INFO_{base}_V1" for base in re.findall(r"`([A-Z_]+)` \(\+`_V1`†\)", cell)}
    gated = {c.name for c in _abi.CONSTANTS if c.group == "info_topics" and c.gate is not None}
    assert marked == gated


@pytest.mark.parametrize("feature", [f.name for f in _abi.FEATURES])
def test_page_lists_every_feature(feature: str) -> None:
    rows = _rows("SDK vintages and build features")
    assert f"`{feature}`" in rows


def test_page_lists_no_unknown_feature() -> None:
    rows = _rows("SDK vintages and build features")
    assert {k.strip("`") for k in rows if k != "feature"} == {f.name for f in _abi.FEATURES}
