"""Read and check ``fuchsia_sdk.cfg``: where a Fuchsia SDK is and what to target.

Standard library only, and importable without the compiled ``zxpy._zx``:
``build_ffi.py`` loads this file by path while building, and the FEMU runner
imports it as ``zxpy.sdkconfig``.

API::

    cfg = load(path)          # path=None: $ZXPY_SDK_CFG, else the repo's file
    cfg.configured            # False: no SDK named -- a normal state, not an error
    cfg.sdk_path, cfg.cpu, cfg.api_level, cfg.clang_dir, cfg.python_include
    cfg.triple, cfg.sysroot, cfg.fdio_include, cfg.lib_dirs
    cfg.resolve_api_level()   # int; "auto" is read from the SDK's version_history.json
    cfg.check_layout()        # list of problems with the SDK tree, one per missing piece
    cfg.get(section, key)     # raw access to sections other tools own ([emulator], ...)

Every malformed value raises :class:`SdkConfigError` (a ``ValueError``) whose
message names the file and the ``[section] key``.  The file format and keys
follow the SDK notes (femu.md section 8): ``[sdk] path`` is the IDK root
holding ``meta/manifest.json``; ``[target] cpu`` is ``x64`` or ``arm64``;
``api_level`` is a positive integer (clang's ``-ffuchsia-api-level``) or
``auto``.
"""

from __future__ import annotations

import configparser
import json
import os
import platform
import shlex
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

__all__ = [
    "CONFIG_ENV",
    "CPU_TRIPLES",
    "DEFAULT_CONFIG_NAME",
    "SdkConfig",
    "SdkConfigError",
    "default_config_path",
    "load",
    "parse_version_history",
]

DEFAULT_CONFIG_NAME = "fuchsia_sdk.cfg"
CONFIG_ENV = "ZXPY_SDK_CFG"

#: Fuchsia SDK cpu name -> clang target triple.
CPU_TRIPLES: Mapping[str, str] = {
    "x64": "x86_64-unknown-fuchsia",
    "arm64": "aarch64-unknown-fuchsia",
}

#: Keys this module understands.  Other sections ([emulator], [ffx], [repo],
#: [test], ...) belong to other tools and are passed through unchecked.
KNOWN_KEYS: Mapping[str, frozenset[str]] = {
    "sdk": frozenset({"path", "expected_id", "clang_dir", "host_cpu", "ffx", "cmc"}),
    "target": frozenset(
        {"cpu", "api_level", "python_include", "extra_cflags", "extra_ldflags", "cxx_runtime"}
    ),
}

_HOST_CPUS = {"x86_64": "x64", "amd64": "x64", "aarch64": "arm64", "arm64": "arm64"}


class SdkConfigError(ValueError):
    """A bad ``fuchsia_sdk.cfg`` value, or an SDK that does not match it.

    ``str(err)`` names the file and, when one is at fault, the ``[section] key``.
    """

    def __init__(
        self, problem: str, *, path: Path | None = None, section: str = "", key: str = ""
    ) -> None:
        self.problem = problem
        self.path = path
        self.section = section
        self.key = key
        where = str(path) if path is not None else "<no config file>"
        if key:
            where += f": [{section}] {key}"
        super().__init__(f"{where}: {problem}")


def default_config_path() -> Path:
    """The ``fuchsia_sdk.cfg`` next to the ``zxpy`` package (the source tree's copy)."""
    return Path(__file__).resolve().parent.parent / DEFAULT_CONFIG_NAME


def parse_version_history(path: Path) -> int:
    """Highest supported numeric API level listed in an SDK's ``version_history.json``.

    Levels whose ``status`` is anything but ``supported`` (in-development,
    unsupported) are skipped; entries without a status count as supported
    (older files have none).  Special levels (NEXT, HEAD, PLATFORM) are not
    numbers and are never chosen.
    """
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SdkConfigError(f"cannot read API levels: {exc}", path=path) from exc
    data = doc.get("data", doc) if isinstance(doc, dict) else None
    levels = data.get("api_levels") if isinstance(data, dict) else None
    if not isinstance(levels, dict):
        raise SdkConfigError("no 'data.api_levels' object", path=path)
    best: int | None = None
    for name, info in levels.items():
        if not str(name).isdigit():
            continue
        status = info.get("status", "supported") if isinstance(info, dict) else "supported"
        if status != "supported":
            continue
        level = int(name)
        if best is None or level > best:
            best = level
    if best is None:
        raise SdkConfigError("no supported numeric API level listed", path=path)
    return best


@dataclass(frozen=True)
class SdkConfig:
    """A parsed ``fuchsia_sdk.cfg``.  Paths are absolute; unset ones are None."""

    path: Path | None
    sdk_path: Path | None = None
    cpu: str = "x64"
    api_level: int | Literal["auto"] = "auto"
    clang_dir: Path | None = None
    python_include: Path | None = None
    expected_id: str | None = None
    host_cpu: str = "x64"
    extra_cflags: tuple[str, ...] = ()
    extra_ldflags: tuple[str, ...] = ()
    sections: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    # ---- derived paths ------------------------------------------------
    @property
    def configured(self) -> bool:
        """True when the file names an SDK (``[sdk] path`` is set)."""
        return self.sdk_path is not None

    @property
    def triple(self) -> str:
        """The clang target triple for ``cpu``."""
        return CPU_TRIPLES[self.cpu]

    def _sdk(self) -> Path:
        if self.sdk_path is None:
            raise SdkConfigError(
                "no SDK configured (set [sdk] path)", path=self.path, section="sdk", key="path"
            )
        return self.sdk_path

    @property
    def sysroot(self) -> Path:
        """``<sdk>/arch/<cpu>/sysroot``: libc + zircon headers and link stubs."""
        return self._sdk() / "arch" / self.cpu / "sysroot"

    @property
    def lib_dirs(self) -> tuple[Path, Path]:
        """Where link stubs live: ``arch/<cpu>/lib`` (fdio) and ``sysroot/lib`` (libc, zircon)."""
        return (self._sdk() / "arch" / self.cpu / "lib", self.sysroot / "lib")

    @property
    def fdio_include(self) -> Path:
        """``<sdk>/pkg/fdio/include`` (holds ``lib/fdio/spawn.h``)."""
        return self._sdk() / "pkg" / "fdio" / "include"

    @property
    def manifest_path(self) -> Path:
        return self._sdk() / "meta" / "manifest.json"

    @property
    def version_history_path(self) -> Path:
        return self._sdk() / "version_history.json"

    def get(self, section: str, key: str, default: str | None = None) -> str | None:
        """Raw value of any key, e.g. ``get("emulator", "product")``."""
        value = self.sections.get(section, {}).get(key)
        return default if value in (None, "") else value

    # ---- SDK contents -------------------------------------------------
    def read_manifest(self) -> dict[str, object]:
        """The SDK's ``meta/manifest.json`` as a dict (SdkConfigError if unusable)."""
        path = self.manifest_path
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise SdkConfigError("SDK manifest missing (is [sdk] path an IDK root?)", path=path) from exc
        except (OSError, ValueError) as exc:
            raise SdkConfigError(f"SDK manifest unreadable: {exc}", path=path) from exc
        if not isinstance(doc, dict):
            raise SdkConfigError("SDK manifest is not a JSON object", path=path)
        return doc

    @property
    def is_stand_in(self) -> bool:
        """True for the tree made by ``tools/make_standin_sysroot.py`` (not a real SDK)."""
        try:
            return bool(self.read_manifest().get("zxpy_stand_in", False))
        except SdkConfigError:
            return False

    def resolve_api_level(self) -> int:
        """The numeric API level: the configured integer, or for ``auto`` the SDK's
        highest supported level from ``version_history.json``."""
        if isinstance(self.api_level, int):
            return self.api_level
        history = self.version_history_path
        if not history.is_file():
            raise SdkConfigError(
                f"is 'auto' but {history} does not exist; set an integer level",
                path=self.path, section="target", key="api_level",
            )
        return parse_version_history(history)

    def find_clang(self) -> Path | None:
        """``clang`` from ``clang_dir`` (``<dir>/bin/clang`` or ``<dir>/clang``), else PATH."""
        if self.clang_dir is not None:
            for cand in (self.clang_dir / "bin" / "clang", self.clang_dir / "clang"):
                if cand.is_file() and os.access(cand, os.X_OK):
                    return cand
            return None
        found = shutil.which("clang")
        return Path(found) if found else None

    def check_layout(self, *, need_python: bool = True) -> list[str]:
        """Everything missing for a cross-build, one message per missing piece.

        An empty list means the SDK tree has the manifest, sysroot headers,
        link stubs, fdio headers, a usable API level, a clang, and (with
        ``need_python``) target Python headers.
        """
        if self.sdk_path is None:
            where = self.path if self.path is not None else default_config_path()
            return [f"{where}: no SDK configured: set [sdk] path to a Fuchsia IDK root"]
        problems: list[str] = []
        try:
            manifest = self.read_manifest()
        except SdkConfigError as exc:
            problems.append(str(exc))
        else:
            sdk_id = manifest.get("id")
            if not isinstance(sdk_id, str) or not sdk_id:
                problems.append(f"{self.manifest_path}: no 'id' (SDK version)")
            elif self.expected_id and sdk_id != self.expected_id:
                problems.append(
                    f"{self.manifest_path}: id {sdk_id!r} differs from [sdk] expected_id "
                    f"{self.expected_id!r} in {self.path}"
                )
            arch = manifest.get("arch")
            targets = arch.get("target") if isinstance(arch, dict) else None
            if not isinstance(targets, list) or self.cpu not in targets:
                problems.append(
                    f"{self.manifest_path}: arch.target {targets!r} does not list cpu {self.cpu!r}"
                )
        for header in ("zircon/types.h", "zircon/syscalls.h", "zircon/process.h",
                       "zircon/syscalls/object.h", "stdlib.h"):
            if not (self.sysroot / "include" / header).is_file():
                problems.append(f"{self.sysroot / 'include' / header}: missing sysroot header")
        for lib in ("libc.so", "libzircon.so", "libfdio.so"):
            if not any((d / lib).is_file() for d in self.lib_dirs):
                dirs = " or ".join(str(d) for d in self.lib_dirs)
                problems.append(f"{lib}: link stub missing (looked in {dirs})")
        spawn_h = self.fdio_include / "lib" / "fdio" / "spawn.h"
        if not spawn_h.is_file():
            problems.append(f"{spawn_h}: missing fdio header")
        try:
            self.resolve_api_level()
        except SdkConfigError as exc:
            problems.append(str(exc))
        if self.find_clang() is None:
            if self.clang_dir is not None:
                problems.append(f"{self.path}: [sdk] clang_dir: no clang in {self.clang_dir}")
            else:
                problems.append(f"{self.path}: [sdk] clang_dir unset and no clang on PATH")
        if need_python:
            if self.python_include is None:
                problems.append(
                    f"{self.path}: [target] python_include unset: the Python headers "
                    f"to compile the extension against"
                )
            elif not (self.python_include / "Python.h").is_file():
                problems.append(f"{self.python_include / 'Python.h'}: missing ([target] python_include)")
        return problems


def _path_value(raw: str, base: Path) -> Path:
    path = Path(os.path.expanduser(raw))
    return (path if path.is_absolute() else base / path).resolve()


def load(path: str | os.PathLike[str] | None = None) -> SdkConfig:
    """Parse a ``fuchsia_sdk.cfg``.

    ``path=None`` means ``$ZXPY_SDK_CFG`` if set, else :func:`default_config_path`;
    if that default file does not exist the result is simply "not configured".
    An explicitly named file that does not exist is an error.  Relative paths
    inside the file are taken relative to the file's directory.
    """
    explicit = path is not None or bool(os.environ.get(CONFIG_ENV))
    if path is None:
        env = os.environ.get(CONFIG_ENV)
        cfg_path = Path(env) if env else default_config_path()
    else:
        cfg_path = Path(path)
    cfg_path = cfg_path.resolve()
    host_cpu = _HOST_CPUS.get(platform.machine().lower(), platform.machine().lower())
    if not cfg_path.is_file():
        if explicit:
            raise SdkConfigError("config file does not exist", path=cfg_path)
        return SdkConfig(path=None, host_cpu=host_cpu)

    parser = configparser.ConfigParser(
        interpolation=None, inline_comment_prefixes=("#", ";"), empty_lines_in_values=False
    )
    try:
        with cfg_path.open(encoding="utf-8") as fh:
            parser.read_file(fh)
    except (OSError, configparser.Error, UnicodeDecodeError) as exc:
        raise SdkConfigError(f"cannot parse: {exc}", path=cfg_path) from exc

    sections: dict[str, dict[str, str]] = {
        name: {k: v.strip() for k, v in parser.items(name)} for name in parser.sections()
    }
    for name, known in KNOWN_KEYS.items():
        for key in sections.get(name, {}):
            if key not in known:
                raise SdkConfigError(
                    f"unknown key (known: {', '.join(sorted(known))})",
                    path=cfg_path, section=name, key=key,
                )
    base = cfg_path.parent
    sdk = sections.get("sdk", {})
    target = sections.get("target", {})

    def opt_dir(section: str, key: str, values: Mapping[str, str]) -> Path | None:
        raw = values.get(key, "")
        if not raw:
            return None
        value = _path_value(raw, base)
        if not value.is_dir():
            raise SdkConfigError(f"{value} is not a directory", path=cfg_path, section=section, key=key)
        return value

    sdk_path = opt_dir("sdk", "path", sdk)
    clang_dir = opt_dir("sdk", "clang_dir", sdk)
    python_include = opt_dir("target", "python_include", target)

    cpu = target.get("cpu", "") or "x64"
    if cpu not in CPU_TRIPLES:
        raise SdkConfigError(
            f"{cpu!r} is not one of {', '.join(CPU_TRIPLES)}", path=cfg_path, section="target", key="cpu"
        )
    host = sdk.get("host_cpu", "") or host_cpu

    raw_level = (target.get("api_level", "") or "auto").lower()
    api_level: int | Literal["auto"]
    if raw_level == "auto":
        api_level = "auto"
    else:
        try:
            api_level = int(raw_level, 10)
        except ValueError:
            api_level = -1
        if api_level < 1:
            raise SdkConfigError(
                f"{raw_level!r} is neither a positive integer nor 'auto'",
                path=cfg_path, section="target", key="api_level",
            )

    def flags(key: str) -> tuple[str, ...]:
        try:
            return tuple(shlex.split(target.get(key, "")))
        except ValueError as exc:
            raise SdkConfigError(str(exc), path=cfg_path, section="target", key=key) from exc

    return SdkConfig(
        path=cfg_path,
        sdk_path=sdk_path,
        cpu=cpu,
        api_level=api_level,
        clang_dir=clang_dir,
        python_include=python_include,
        expected_id=sdk.get("expected_id") or None,
        host_cpu=host,
        extra_cflags=flags("extra_cflags"),
        extra_ldflags=flags("extra_ldflags"),
        sections=sections,
    )
