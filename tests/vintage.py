"""Which ABI vintage the zxpy under test was built against, and the facts to check it by.

zxpy builds against today's headers (its own, or a current SDK's) and against
the January 2021 core SDK's (``tests/data/sdk_2021_abi.json``).  A build
without ``info_process_v2`` is of the 2021 vintage, the only older one zxpy
supports.  Tests of a newer feature are marked :func:`needs_feature`, so a
2021 build skips them by name, never by accident.

(``fuchsia_tools``, the SDK and emulator tooling, is importable from the
checkout: tests/conftest.py puts it on the path.)
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any, TypeVar

import pytest

from zxpy.buildinfo import features, sdk

#: The checkout these tests belong to.
REPO = Path(__file__).resolve().parent.parent

DATA = Path(__file__).parent / "data"
CURRENT: dict[str, Any] = json.loads((DATA / "zircon_abi.json").read_text())
SDK_2021: dict[str, Any] = json.loads((DATA / "sdk_2021_abi.json").read_text())
VINTAGE_2021 = "info_process_v2" not in features

T = TypeVar("T")


def needs_feature(name: str) -> pytest.MarkDecorator:
    """Skip, naming the feature and the headers, when this build lacks ``name``."""
    return pytest.mark.skipif(
        name not in features,
        reason=f"needs build feature {name!r}, absent from {sdk.get('description')}",
    )


def if_feature(name: str, value: T) -> T | None:
    """``value`` where this build has ``name``, else None (a field the record lacks)."""
    return value if name in features else None


def struct_size(name: str) -> int:
    """The size of a Zircon struct in this build's vintage."""
    structs = SDK_2021["structs"] if VINTAGE_2021 else CURRENT["structs"]
    return int(structs[name]["size"])


def constant(name: str) -> int:
    """A constant's value in this build's vintage."""
    if VINTAGE_2021:
        return int(SDK_2021["constants"][name])
    for group in CURRENT.values():
        if isinstance(group, dict) and name in group:
            entry = group[name]
            return int(entry["value"] if isinstance(entry, dict) else entry)
    fdio = CURRENT["syscalls"]["_fdio_spawn_constants"]
    for sub in (fdio["flags"], fdio["actions"], fdio):
        if name in sub:
            return int(sub[name])
    raise KeyError(name)


#: CI (CI=true) installs every toolchain: there a missing one fails a test instead of skipping it.
IN_CI = os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}
SDK_2021_ENV = "ZXPY_SDK_2021"
FETCH_2021 = (f"{SDK_2021_ENV} is unset: it names the January 2021 Fuchsia core SDK. To get it: fetch "
              "github:aidanwolter3/fuchsia-sdk-downloader, then `git -C <git dir> archive 7b3d7d5 arch pkg/fdio "
              "pkg/zx | tar -x -C <dir>` and set ZXPY_SDK_2021=<dir>")


def require(ok: object, reason: str) -> None:
    """Skip with ``reason`` unless ``ok``; in CI, fail instead (.ci/run installs what the tests need)."""
    if not ok:
        if IN_CI:
            pytest.fail(f"CI=true and {reason} (.ci/run must install it)")
        pytest.skip(reason)


def host_cc() -> list[str]:
    """The host C compiler command: ``$CC`` (split), else cc, else gcc."""
    return (os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc") or "cc").split()


def fuchsia_clang() -> str:
    """clang that links for x86_64-unknown-fuchsia with lld; skips (fails under CI=true) without it."""
    clang = shutil.which(os.environ.get("ZXPY_CLANG", "clang"))
    require(clang and shutil.which("ld.lld"), "clang and ld.lld are needed to link for x86_64-unknown-fuchsia")
    assert clang is not None
    return clang


def real_sdk_2021() -> Path:
    """The real 2021 SDK named by ``ZXPY_SDK_2021``; the test skips with the fetch instruction without it."""
    root = os.environ.get(SDK_2021_ENV)
    if not root:
        pytest.skip(FETCH_2021)
    return Path(root).resolve()
