"""Read and check ``fuchsia_sdk.cfg``: where a Fuchsia SDK is and what to target.

Standard library only, and never imports ``zxpy``: ``build_ffi.py`` loads
this file by path while building (from a checkout or an unpacked sdist), and
the cross build and the FEMU runner import it as ``fuchsia_tools.sdkconfig``.

API::

    cfg = load(path)          # path=None: $ZXPY_SDK_CFG, else the repo's file
    cfg.configured            # False: no SDK named -- a normal state, not an error
    cfg.sdk_path, cfg.cpu, cfg.api_level, cfg.clang_dir, cfg.python_include
    cfg.triple, cfg.sysroot, cfg.fdio_include, cfg.lib_dirs, cfg.lib_search_dirs
    cfg.resolve_api_level()   # int, or None for an SDK without API levels (no version_history.json)
    cfg.sdk_identity()        # {"id", "layout", "stand_in", "vintage", "description"}
    cfg.check_layout()        # list of problems with the SDK tree, one per missing piece
    cfg.get(section, key)     # a validated runner value ([emulator], [ffx], [repo], [test])
    cfg.get_int(...), cfg.get_bool(...), cfg.get_path(...)   # the same, typed

Every malformed value raises :class:`SdkConfigError` (a ``ValueError``) whose
message names the file and the ``[section] key``.  The file format and keys
are the project's own (README.md, "fuchsia_sdk.cfg"): ``[sdk] path`` is the SDK root;
``[target] cpu`` is ``x64`` or ``arm64``; ``api_level`` is a positive integer
(clang's ``-ffuchsia-api-level``) or ``auto``.  The FEMU runner's sections are
checked here too (:data:`SCHEMA`): an unknown section or key, or a value outside
its allowed set, is an error at load time, so nothing is created before a typo
is reported.

Two SDK layouts are read as they are shipped, never edited:

* ``idk`` -- a current IDK/core SDK: ``meta/manifest.json`` (its ``id`` names
  the SDK), ``version_history.json`` (API levels, Fuchsia RFC-0002) and fdio's
  link stub in ``arch/<cpu>/lib``;
* ``legacy`` -- an SDK without ``meta/manifest.json``, such as the Bazel-flavour
  core SDK of January 2021: fdio's stub in ``pkg/fdio/arch/<cpu>/lib`` and no API
  levels, so nothing passes ``-ffuchsia-api-level`` (``resolve_api_level()`` is
  None) unless ``[target] api_level`` names one.

A tree made by ``python -m fuchsia_tools.standin_sysroot`` is a stand-in, marked by
``"zxpy_stand_in": true`` in its manifest or a ``zxpy_stand_in.json`` file at
its root (which may name its ``vintage``).
"""

from __future__ import annotations

import configparser
import json
import os
import platform
import re
import shlex
import shutil
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

__all__ = [
    "CONFIG_ENV",
    "CPU_TRIPLES",
    "DEFAULT_CONFIG_NAME",
    "KNOWN_KEYS",
    "SCHEMA",
    "STAND_IN_MARKER",
    "SdkConfig",
    "SdkConfigError",
    "default_config_path",
    "load",
    "parse_version_history",
]

DEFAULT_CONFIG_NAME = "fuchsia_sdk.cfg"
CONFIG_ENV = "ZXPY_SDK_CFG"
#: The file at an SDK root that marks a generated stand-in tree (``{"stand_in": true, "vintage": ...}``).
STAND_IN_MARKER = "zxpy_stand_in.json"

#: Fuchsia SDK cpu name -> clang target triple.
CPU_TRIPLES: Mapping[str, str] = {
    "x64": "x86_64-unknown-fuchsia",
    "arm64": "aarch64-unknown-fuchsia",
}

#: A value check: takes the stripped, non-empty raw value, returns the normalised
#: value or raises ValueError with the problem (the caller adds file and key).
_Check = Callable[[str], str]


def _any(raw: str) -> str:
    return raw


def _choice(*allowed: str) -> _Check:
    def check(raw: str) -> str:
        value = raw.lower()
        if value not in allowed:
            raise ValueError(f"{raw!r} is not one of {', '.join(allowed)}")
        return value
    return check


def _severity(raw: str) -> str:
    # ffx test run --min-severity-logs takes FATAL|ERROR|WARN|INFO|DEBUG|TRACE.
    value = raw.upper()
    if value not in ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"):
        raise ValueError(f"{raw!r} is not one of TRACE, DEBUG, INFO, WARN, ERROR, FATAL")
    return value


def _positive_int(raw: str) -> str:
    if not re.fullmatch(r"[0-9]+", raw) or int(raw) < 1:
        raise ValueError(f"{raw!r} is not a positive integer (seconds)")
    return str(int(raw))


_BOOLEANS = {"1": "true", "yes": "true", "true": "true", "on": "true",
             "0": "false", "no": "false", "false": "false", "off": "false"}


def _boolean(raw: str) -> str:
    try:
        return _BOOLEANS[raw.lower()]
    except KeyError:
        raise ValueError(f"{raw!r} is not a boolean (true/false, yes/no, on/off, 1/0)") from None


def _pattern(regex: str, what: str) -> _Check:
    compiled = re.compile(regex)

    def check(raw: str) -> str:
        if not compiled.fullmatch(raw):
            raise ValueError(f"{raw!r} is not {what}")
        return raw
    return check


def _address(raw: str) -> str:
    match = re.fullmatch(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):([0-9]{1,5})", raw)
    if not match or int(match.group(2)) > 65535:
        raise ValueError(f"{raw!r} is not HOST:PORT (e.g. [::]:0 or 127.0.0.1:8083)")
    return raw


def _base_url(raw: str) -> str:
    if "://" not in raw:
        raise ValueError(f"{raw!r} is not a URL (e.g. gs://fuchsia/development/{{sdk_id}})")
    try:
        raw.format(sdk_id="0")
    except (KeyError, IndexError, ValueError) as exc:
        raise ValueError(f"{raw!r}: the only placeholder allowed is {{sdk_id}} ({exc!r})") from None
    return raw


#: Every section and key of ``fuchsia_sdk.cfg`` and the check its value must pass
#: (empty means "unset": the default applies).  [sdk] and [target] are read by
#: this module; [emulator], [ffx], [repo] and [test] by the FEMU runner
#: (fuchsia_tools/femu.py), whose defaults are listed there and in the shipped file.
SCHEMA: Mapping[str, Mapping[str, _Check]] = {
    "sdk": {"path": _any, "expected_id": _any, "clang_dir": _any, "host_cpu": _choice("x64", "arm64"),
            "ffx": _any, "cmc": _any},
    "target": {"cpu": _any, "api_level": _any, "python_include": _any, "extra_cflags": _any,
               "extra_ldflags": _any},
    "emulator": {
        "product": _pattern(r"[A-Za-z0-9][A-Za-z0-9_.-]*", "a product name (e.g. minimal.x64)"),
        "product_bundle_dir": _any,
        "pb_base_url": _base_url,
        # ffx emu start --engine / --net / --accel.
        "engine": _choice("femu", "qemu"),
        "net": _choice("user", "tap", "auto", "none"),
        "accel": _choice("auto", "hyper", "none"),
        "headless": _boolean,
        "name": _pattern(r"[A-Za-z0-9][A-Za-z0-9_.-]*", "an emulator name (letters, digits, . _ -)"),
        "startup_timeout": _positive_int,
        "target_wait_timeout": _positive_int,
    },
    "ffx": {"isolate_dir": _any},
    "repo": {
        # It becomes the host part of fuchsia-pkg://<name>/...: a lower-case host name.
        "name": _pattern(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*",
                         "a lower-case host name (a-z, 0-9, -, .)"),
        "address": _address,
    },
    "test": {"min_severity_logs": _severity, "timeout": _positive_int, "keep_tmp": _boolean},
}

#: The keys of each section (derived from :data:`SCHEMA`).
KNOWN_KEYS: Mapping[str, frozenset[str]] = {name: frozenset(keys) for name, keys in SCHEMA.items()}

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
    """The ``fuchsia_sdk.cfg`` at the top of the source tree this package is in (the checkout's copy)."""
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
    def lib_search_dirs(self) -> tuple[Path, Path, Path]:
        """Every place an SDK keeps link stubs, in search order: ``arch/<cpu>/lib`` (fdio in an IDK),
        ``pkg/fdio/arch/<cpu>/lib`` (fdio in a legacy SDK) and ``sysroot/lib`` (libc, libzircon)."""
        sdk = self._sdk()
        return (sdk / "arch" / self.cpu / "lib", sdk / "pkg" / "fdio" / "arch" / self.cpu / "lib",
                self.sysroot / "lib")

    @property
    def lib_dirs(self) -> tuple[Path, ...]:
        """The existing directories of :attr:`lib_search_dirs`, in that order (``-L`` flags for a link).
        Never empty: with none of them present it is all of them (check_layout names what is missing)."""
        found = tuple(d for d in self.lib_search_dirs if d.is_dir())
        return found or self.lib_search_dirs

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
        """The (validated, normalised) value of any key, e.g. ``get("emulator", "product")``;
        ``default`` when unset or empty."""
        value = self.sections.get(section, {}).get(key)
        return default if value in (None, "") else value

    def _error(self, problem: str, section: str, key: str) -> SdkConfigError:
        return SdkConfigError(problem, path=self.path, section=section, key=key)

    def get_int(self, section: str, key: str, default: int) -> int:
        """A positive integer key (a timeout in seconds)."""
        raw = self.get(section, key)
        if raw is None:
            return default
        try:
            return int(_positive_int(raw))
        except ValueError as exc:
            raise self._error(str(exc), section, key) from None

    def get_bool(self, section: str, key: str, default: bool) -> bool:
        """A boolean key (true/false, yes/no, on/off, 1/0)."""
        raw = self.get(section, key)
        if raw is None:
            return default
        try:
            return _boolean(raw) == "true"
        except ValueError as exc:
            raise self._error(str(exc), section, key) from None

    def get_path(self, section: str, key: str) -> Path | None:
        """A path key, ``~`` expanded and relative paths taken from the config file's directory
        (like ``[sdk] path``); None when unset.  Existence is the caller's business."""
        raw = self.get(section, key)
        if raw is None:
            return None
        base = self.path.parent if self.path is not None else Path.cwd()
        return _path_value(raw, base)

    # ---- SDK contents -------------------------------------------------
    def read_manifest(self) -> dict[str, object]:
        """The SDK's ``meta/manifest.json`` as a dict.  SdkConfigError naming the config
        file and ``[sdk] path`` if it is missing or not a JSON object."""
        path = self.manifest_path
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise self._error(f"{path} is missing: not a Fuchsia IDK root", "sdk", "path") from exc
        except (OSError, ValueError) as exc:
            raise self._error(f"{path} is unreadable: {exc}", "sdk", "path") from exc
        if not isinstance(doc, dict):
            raise self._error(f"{path} is not a JSON object", "sdk", "path")
        return doc

    def manifest_problems(self, manifest: Mapping[str, object]) -> list[str]:
        """What ``meta/manifest.json`` lacks: the keys every IDK manifest has (``arch``,
        ``id``, ``parts``, ``root``, ``schema_version``), an ``arch.target`` listing
        ``cpu``, and ``id`` equal to ``[sdk] expected_id`` when that is set."""
        where = self.manifest_path
        problems: list[str] = []

        def missing(key: str, meaning: str) -> None:
            problems.append(str(self._error(f"{where}: no {key!r} ({meaning})", "sdk", "path")))

        sdk_id = manifest.get("id")
        if not isinstance(sdk_id, str) or not sdk_id:
            missing("id", "the SDK version")
        elif self.expected_id and sdk_id != self.expected_id:
            problems.append(str(self._error(
                f"{where}: id {sdk_id!r} differs from [sdk] expected_id {self.expected_id!r}",
                "sdk", "expected_id")))
        arch = manifest.get("arch")
        targets = arch.get("target") if isinstance(arch, dict) else None
        if not isinstance(targets, list) or self.cpu not in targets:
            problems.append(str(self._error(
                f"{where}: arch.target {targets!r} does not list cpu {self.cpu!r}", "sdk", "path")))
        if not isinstance(manifest.get("parts"), list):
            missing("parts", "a list of the SDK's parts")
        if not isinstance(manifest.get("root"), str):
            missing("root", "the SDK root, relative to meta/")
        version = manifest.get("schema_version")
        if isinstance(version, bool) or not isinstance(version, (str, int)) or version == "":
            missing("schema_version", "the manifest format version")
        return problems

    @property
    def stand_in_marker_path(self) -> Path:
        return self._sdk() / STAND_IN_MARKER

    def sdk_identity(self) -> dict[str, object]:
        """What SDK this is, read from the tree: ``id`` (the manifest's, else None), ``layout``
        (``"idk"`` with a ``meta/manifest.json``, ``"legacy"`` without), ``stand_in`` (the manifest's
        ``zxpy_stand_in``, or a :data:`STAND_IN_MARKER` file), ``vintage`` (the marker's, else None)
        and ``description``, one line naming it for messages and build records."""
        sdk = self._sdk()
        layout = "idk" if self.manifest_path.is_file() else "legacy"
        sdk_id: str | None = None
        stand_in = False
        if layout == "idk":
            try:
                manifest = self.read_manifest()
            except SdkConfigError:
                manifest = {}  # check_layout reports it
            raw_id = manifest.get("id")
            sdk_id = raw_id if isinstance(raw_id, str) and raw_id else None
            stand_in = bool(manifest.get("zxpy_stand_in", False))
        vintage: str | None = None
        marker = self.stand_in_marker_path
        if marker.is_file():
            try:
                doc = json.loads(marker.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                doc = {}
            doc = doc if isinstance(doc, dict) else {}
            stand_in = stand_in or doc.get("stand_in", True) is not False
            raw_vintage = doc.get("vintage")
            vintage = str(raw_vintage) if raw_vintage else None
        notes = []
        if layout == "legacy":
            notes.append("no meta/manifest.json: a pre-API-level layout")
        if stand_in:
            notes.append("a zxpy stand-in" + (f", vintage {vintage}" if vintage else ""))
        description = f"Fuchsia SDK {sdk_id} at {sdk}" if sdk_id else f"Fuchsia SDK at {sdk}"
        if notes:
            description += f" ({'; '.join(notes)})"
        return {"id": sdk_id, "layout": layout, "stand_in": stand_in, "vintage": vintage,
                "description": description}

    @property
    def is_stand_in(self) -> bool:
        """True for a tree made by ``python -m fuchsia_tools.standin_sysroot`` (not a real SDK)."""
        return self.configured and bool(self.sdk_identity()["stand_in"])

    def resolve_api_level(self) -> int | None:
        """The numeric API level: the configured integer (used as is, whatever the SDK), or for
        ``auto`` the SDK's highest supported level from ``version_history.json``; None for ``auto``
        when the SDK has no such file: it predates API levels, so no ``-ffuchsia-api-level``."""
        if isinstance(self.api_level, int):
            return self.api_level
        history = self.version_history_path
        if not history.is_file():
            return None
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

    def target_cflags(self, api_level: int | None) -> list[str]:
        """The compile flags every Fuchsia build of zxpy uses (the module and the conformance programs).

        ``--target``/``--sysroot`` of :attr:`cpu`, ``-ffuchsia-api-level`` only
        for an SDK that has API levels (``api_level`` from
        :meth:`resolve_api_level`), fdio's headers; arm64 gets inline atomics,
        since the outline helpers live in compiler-rt's builtins, which a
        distribution clang lacks for Fuchsia.
        """
        flags = [f"--target={self.triple}", f"--sysroot={self.sysroot}"]
        if api_level is not None:
            flags.append(f"-ffuchsia-api-level={api_level}")
        flags.append(f"-I{self.fdio_include}")
        if self.cpu == "arm64":
            flags.append("-mno-outline-atomics")
        return flags

    def compiler_rt_builtins(self, clang: Path) -> Path | None:
        """compiler-rt's builtins archive for :attr:`triple` when ``clang`` ships one (a Fuchsia toolchain
        does; Debian's clang prints a path that does not exist), else None."""
        try:
            proc = subprocess.run([str(clang), f"--target={self.triple}", "-print-libgcc-file-name"],
                                  capture_output=True, text=True, timeout=60, check=False)
        except (OSError, subprocess.TimeoutExpired):
            return None
        path = Path(proc.stdout.strip()) if proc.returncode == 0 and proc.stdout.strip() else None
        return path if path is not None and path.is_file() else None

    def check_layout(self, *, need_python: bool = True) -> list[str]:
        """Everything missing for a cross-build, one message per missing piece.

        An empty list means the SDK tree has sysroot headers, the libc, zircon
        and fdio link stubs (in any of :attr:`lib_search_dirs`), fdio headers,
        a readable API level list if it has one, a clang, and (with
        ``need_python``) target Python headers.  An ``idk`` layout's manifest
        must be complete; a ``legacy`` layout has none, so only an
        ``[sdk] expected_id`` (which cannot be checked) is a problem there.
        """
        if self.sdk_path is None:
            where = self.path if self.path is not None else default_config_path()
            return [f"{where}: no SDK configured: set [sdk] path to a Fuchsia IDK root"]
        problems: list[str] = []

        def layout(problem: str) -> None:
            problems.append(str(self._error(problem, "sdk", "path")))

        arch_dir = self.sdk_path / "arch"
        if arch_dir.is_dir() and not (arch_dir / self.cpu).is_dir():
            # One line instead of a missing header and stub for every piece: the SDK lacks the cpu.
            have = sorted(p.name for p in arch_dir.iterdir() if p.is_dir())
            return [str(self._error(
                f"{self.sdk_path} has no arch/{self.cpu} (it has: {', '.join(have) or 'none'})",
                "target", "cpu"))]
        if self.manifest_path.is_file():
            try:
                manifest = self.read_manifest()
            except SdkConfigError as exc:
                problems.append(str(exc))
            else:
                problems += self.manifest_problems(manifest)
        elif self.expected_id:
            problems.append(str(self._error(
                f"{self.expected_id!r} cannot be checked: {self.manifest_path} does not exist "
                "(an SDK without a manifest has no id); unset it", "sdk", "expected_id")))
        for header in ("zircon/types.h", "zircon/syscalls.h", "zircon/process.h",
                       "zircon/syscalls/object.h", "stdlib.h"):
            if not (self.sysroot / "include" / header).is_file():
                layout(f"{self.sysroot / 'include' / header}: missing sysroot header")
        for lib in ("libc.so", "libzircon.so", "libfdio.so"):
            if not any((d / lib).is_file() for d in self.lib_search_dirs):
                dirs = " or ".join(str(d) for d in self.lib_search_dirs)
                layout(f"{lib}: link stub missing (looked in {dirs})")
        spawn_h = self.fdio_include / "lib" / "fdio" / "spawn.h"
        if not spawn_h.is_file():
            layout(f"{spawn_h}: missing fdio header")
        try:
            self.resolve_api_level()
        except SdkConfigError as exc:
            problems.append(str(exc))
        if self.find_clang() is None:
            if self.clang_dir is not None:
                problems.append(str(self._error(f"no clang in {self.clang_dir}", "sdk", "clang_dir")))
            else:
                problems.append(str(self._error("unset and no clang on PATH", "sdk", "clang_dir")))
        if need_python:
            if self.python_include is None:
                problems.append(str(self._error(
                    "python_include unset: the Python headers to compile the extension against",
                    "target", "python_include")))
            elif not (self.python_include / "Python.h").is_file():
                problems.append(str(self._error(
                    f"{self.python_include / 'Python.h'} is missing", "target", "python_include")))
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
    if parser.defaults():
        raise SdkConfigError(
            f"a [{parser.default_section}] section is not supported (known sections: {', '.join(SCHEMA)})",
            path=cfg_path)
    for name, values in sections.items():
        checks = SCHEMA.get(name)
        if checks is None:
            raise SdkConfigError(
                f"unknown section [{name}] (known: {', '.join(SCHEMA)})", path=cfg_path)
        for key, raw in values.items():
            check = checks.get(key)
            if check is None:
                raise SdkConfigError(
                    f"unknown key (known: {', '.join(sorted(checks))})",
                    path=cfg_path, section=name, key=key,
                )
            if raw:
                try:
                    values[key] = check(raw)
                except ValueError as exc:
                    raise SdkConfigError(str(exc), path=cfg_path, section=name, key=key) from None
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
