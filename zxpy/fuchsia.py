"""Running Fuchsia ELF programs on the host kernel from Python (docs/fuchsia-elf.md, "From Python").

On an x86-64 Linux host the module carries the Fuchsia runner (host/fuchsia/): :meth:`zxpy.Job.spawn_fuchsia`
starts a static Fuchsia image (no ``PT_INTERP``, as Zircon's launcher starts ``ld.so.1`` or a static PIE), or a
dynamically linked executable (``PT_INTERP ld.so.1``) through the SDK's own dynamic linker, in a process of a job,
with a Zircon vDSO (``libzircon.so``) whose syscalls the runner serves.  Elsewhere
:data:`AVAILABLE` is false and those calls raise :class:`~zxpy.errors.NotSupportedError`.
"""

from __future__ import annotations

import enum
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from . import _raw, buildinfo
from .errors import NotSupportedError, from_status

__all__ = ["AVAILABLE", "SERVICES", "ElfProbe", "elf_probe", "find_ldso", "find_vdso", "launcher_channel", "unserved"]

if TYPE_CHECKING:
    from .exception import Channel

_lib = _raw.lib
_new = _raw.new

#: Whether this build has the Fuchsia runner (x86-64 Linux hosts; build_ffi.py ``fuchsia_runner_host``).
AVAILABLE: bool = hasattr(_lib, "zxpy_fuchsia_spawn")

#: PT_INTERP of a dynamically linked Fuchsia executable (Zircon's dynamic linker, ld.so.1).
FUCHSIA_INTERP = "ld.so.1"

_EM_NAMES = {62: "x86-64", 183: "arm64"}


class _Services(enum.Enum):
    SERVICES = "services"


#: A ``namespace`` value for :meth:`zxpy.Job.spawn_fuchsia` (``{"/svc": SERVICES}``): a service directory holding
#: ``fuchsia.process.Launcher`` served by the host (host/fuchsia/launcher.c), which starts programs with the
#: spawned program's own vDSO and dynamic linker, as ``fdio_spawn`` asks it to.
SERVICES = _Services.SERVICES


def _require() -> None:
    if not AVAILABLE:
        raise NotSupportedError(
            syscall="zxpy_fuchsia_spawn",
            detail="this zxpy has no Fuchsia runner: it is built only into the module for an x86-64 Linux host",
        )


@dataclass(frozen=True)
class ElfProbe:
    """What an ELF64 little-endian file says about itself (host/fuchsia/vdso.h, ``hk_fuchsia_elf_probe``):
    ``e_machine``, ``e_type``, the ``PT_INTERP`` string (None without one), and ``is_fuchsia``: ``ET_DYN`` with
    ``PT_INTERP`` ``ld.so.1`` for x86-64 or arm64, a dynamically linked Fuchsia executable."""

    machine: int
    type: int
    interp: str | None
    is_fuchsia: bool

    @property
    def machine_name(self) -> str:
        return _EM_NAMES.get(self.machine, f"EM {self.machine}")


def elf_probe(path: str | bytes | os.PathLike[str] | os.PathLike[bytes]) -> ElfProbe | None:
    """Probe ``path`` with the runner's ELF reader: an :class:`ElfProbe` for an ELF64 LE file, None for any
    other file or one that cannot be read (the caller's own open reports that)."""
    _require()
    c_path = _new("char[]", os.fsencode(path))
    machine = _new("uint16_t *")
    etype = _new("uint16_t *")
    has_interp = _new("int *")
    is_fuchsia = _new("int *")
    interp = _new("char[]", 256)
    err = _new("char[]", 200)
    if _lib.zxpy_fuchsia_elf_probe(c_path, machine, etype, has_interp, is_fuchsia, interp, 256, err, 200) != 0:
        return None
    text = _raw.ffi.string(interp).decode(errors="replace") if has_interp[0] else None
    return ElfProbe(machine[0], etype[0], text, bool(is_fuchsia[0]))


def _configured_sysroot(what: str, arg: str) -> Path:
    """The x64 sysroot of the SDK fuchsia_sdk.cfg names; ValueError saying there is no ``what`` (and that ``arg``,
    an ``name=(file)`` hint, or ``sysroot=`` would give one) when there is none."""
    try:
        from fuchsia_tools import sdkconfig
    except ImportError:
        # An installed wheel has no fuchsia_tools: the real SDK this module was built against, if any, stands in.
        built = buildinfo.sdk
        if built.get("path") and not built.get("stand_in") and built.get("target") == "host":
            sysroot = Path(built["path"]) / "arch" / "x64" / "sysroot"
            if sysroot.is_dir():
                return sysroot
        raise ValueError(
            f"no {what}: pass {arg} or sysroot= (a Fuchsia sysroot); fuchsia_tools, which reads fuchsia_sdk.cfg, "
            "is not importable here, and this zxpy was built against no Fuchsia SDK"
        ) from None
    try:
        cfg = sdkconfig.load(None)
    except sdkconfig.SdkConfigError as exc:
        raise ValueError(f"no {what}: {exc}") from None
    if not cfg.configured:
        raise ValueError(f"no {what}: pass {arg} or sysroot= (a Fuchsia sysroot), or name an SDK in "
                         "fuchsia_sdk.cfg ([sdk] path)")
    if cfg.cpu != "x64":
        raise ValueError(f"no {what}: fuchsia_sdk.cfg targets {cfg.cpu}, and the runner runs x64 images only")
    return Path(cfg.sysroot)


def find_vdso(
    vdso: str | os.PathLike[str] | None = None, sysroot: str | os.PathLike[str] | None = None
) -> Path:
    """The vDSO to map: ``vdso``, else ``<sysroot>/lib/libzircon.so``, else the SDK named by fuchsia_sdk.cfg
    (``arch/<cpu>/sysroot/lib/libzircon.so``).  ValueError when none is given or configured."""
    if vdso is not None:
        return Path(os.fspath(vdso))
    if sysroot is not None:
        return Path(os.fspath(sysroot)) / "lib" / "libzircon.so"
    return _configured_sysroot("vDSO", "vdso= (a libzircon.so)") / "lib" / "libzircon.so"


def find_ldso(
    ldso: str | os.PathLike[str] | None = None, sysroot: str | os.PathLike[str] | None = None
) -> Path:
    """The dynamic linker that starts a ``PT_INTERP ld.so.1`` executable: ``ldso``, else
    ``<sysroot>/dist/lib/ld.so.1`` (the SDK's runtime libc, which is the dynamic linker), else the one of the SDK
    named by fuchsia_sdk.cfg.  ValueError when none is given or configured."""
    if ldso is not None:
        return Path(os.fspath(ldso))
    if sysroot is not None:
        return Path(os.fspath(sysroot)) / "dist" / "lib" / FUCHSIA_INTERP
    return _configured_sysroot("dynamic linker", "ldso= (an ld.so.1)") / "dist" / "lib" / FUCHSIA_INTERP


def launcher_channel(
    vdso: str | os.PathLike[str], ldso: str | os.PathLike[str] | None = None
) -> Channel:
    """A client end of ``fuchsia.process.Launcher`` served by the host (host/fuchsia/launcher.c), for a Fuchsia
    program to be handed as a ``PA_*`` handle through :meth:`zxpy.Job.spawn_fuchsia`: a way to the launcher without
    a namespace.  Its ``Launch`` starts the executable VMO in the given job with the vDSO ``vdso`` and, for a
    ``PT_INTERP ld.so.1`` executable, the dynamic linker ``ldso`` (None: such an executable is NOT_SUPPORTED).  The
    connection is served until its client end is closed or a malformed message arrives."""
    from .exception import Channel

    _require()
    out = _new("zx_handle_t *")
    vdso_b = os.fsencode(vdso)
    ldso_b = os.fsencode(ldso) if ldso is not None else None
    status = _lib.zxpy_fuchsia_launcher_connect(vdso_b, ldso_b if ldso_b is not None else _raw.NULL, out)
    if status:
        raise from_status(status, "zxpy_fuchsia_launcher_connect")
    return Channel._adopt(out[0])


def unserved() -> dict[str, int]:
    """How many times each syscall was answered ZX_ERR_NOT_SUPPORTED because the runner does not serve it, over
    every Fuchsia program this Python process ran (``hk_fuchsia_unserved_list``); {} without the runner."""
    if not AVAILABLE:
        return {}
    size = 4096
    while True:
        buf = _new("char[]", size)
        _lib.zxpy_fuchsia_unserved_list(buf, size)
        text = _raw.ffi.string(buf).decode()
        if len(text) < size - 128:
            break
        size *= 4
    out = {}
    for item in text.split(","):
        if item:
            name, _, count = item.partition("=")
            out[name] = int(count)
    return out
