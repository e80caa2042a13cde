"""README's "What zxpy binds" and its feature table say what the binding's one table (zxpy/_abi.py) says."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from zxpy import _abi

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def _section(title: str) -> str:
    start = README.index(f"### {title}\n")
    end = README.index("\n### ", start + 1)
    return README[start:end]


def _rows(title: str) -> dict[str, str]:
    """The first column -> the second, for the table of a README section."""
    rows = {}
    for line in _section(title).splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) >= 2 and not set(cells[0]) <= {"-"}:
            rows[cells[0]] = cells[1]
    return rows


def _names(text: str) -> set[str]:
    return set(re.findall(r"`((?:zx|fdio|zxpy)_\w+)`", text))


#: docs/asyncio.md lists the port calls (issue 14) until README's table carries them: README is being rewritten
#: elsewhere, and this test reads both so that neither change waits for the other.
ASYNCIO_DOC = (Path(__file__).resolve().parent.parent / "docs" / "asyncio.md").read_text(encoding="utf-8")


def test_readme_functions_are_the_table_functions() -> None:
    rows = _rows("What zxpy binds")
    listed = set().union(*(_names(k + v) for k, v in rows.items() if k != "the binding's own"))
    start = ASYNCIO_DOC.index("## What zxpy binds for ports\n")
    listed |= {n for n in _names(ASYNCIO_DOC[start:ASYNCIO_DOC.index("\n## ", start + 1)]) if not n.endswith("_t")}
    own = _names(rows["the binding's own"])
    table = {f.name for f in _abi.FUNCTIONS}
    assert listed | (own & table) == table
    assert own - table == {"zxpy_progress_t", "zxpy_build_info"}


def test_readme_info_topics_are_the_table_topics() -> None:
    cell = _rows("What zxpy binds")["`zx_object_get_info` topics"]
    listed = {"ZX_INFO_" + t for t in re.findall(r"`([A-Z_]+)`", cell)}
    listed |= {f"ZX_INFO_{base}_V1" for base in re.findall(r"`([A-Z_]+)` \(\+`_V1`", cell)}
    table = {c.name for c in _abi.CONSTANTS if c.group == "info_topics"}
    assert listed == table


def test_readme_marks_exactly_the_gated_topics() -> None:
    cell = _rows("What zxpy binds")["`zx_object_get_info` topics"]
    marked = {f"ZX_INFO_{base}_V1" for base in re.findall(r"`([A-Z_]+)` \(\+`_V1`†\)", cell)}
    gated = {c.name for c in _abi.CONSTANTS if c.group == "info_topics" and c.gate is not None}
    assert marked == gated


@pytest.mark.parametrize("feature", [f.name for f in _abi.FEATURES])
def test_readme_lists_every_feature(feature: str) -> None:
    rows = _rows("SDK vintages and build features")
    assert f"`{feature}`" in rows


def test_readme_lists_no_unknown_feature() -> None:
    rows = _rows("SDK vintages and build features")
    assert {k.strip("`") for k in rows if k != "feature"} == {f.name for f in _abi.FEATURES}
