"""Run the C conformance scenarios on a Fuchsia emulator (FEMU): ``python -m fuchsia_tools.femu``.

No CPython runs on Fuchsia, so what runs on the device is the C suite in ``conformance/`` (the kill and suspend
scenarios of Zircon's core tests), built for ``*-unknown-fuchsia`` against the SDK named in ``fuchsia_sdk.cfg``
and packaged as an ELF test component.  The steps are those of the SDK's ffx workflow (``ffx emu``, ``ffx package``,
``ffx repository``, ``ffx test``), in the order Rust's ``fuchsia-test-runner.py`` uses them:

1. **preflight** -- SDK configured (else: "skipped", exit 0), its id, ffx, cmc, clang, the SDK pieces the link
   and the package need, ``/dev/kvm``, and a temp path short enough for the emulator's unix sockets;
2. **build** -- every conformance source compiled with the SDK's flags (``--sysroot``, fdio headers, and
   ``-ffuchsia-api-level`` where the SDK has API levels) and linked into ``bin/zx_conformance`` plus its two helper
   programs: position-independent executables with ``ld.so.1`` as interpreter, started by the SDK's ``Scrt1.o``
   and linked against its own ``libfdio.so``, ``libzircon.so`` and ``libc.so`` (:func:`link_argv`);
3. **package** -- a component manifest for ``elf_test_runner`` (``cmc compile``), ``meta/package``, the binaries,
   ``lib/ld.so.1`` and ``lib/libfdio.so`` from the SDK (never libzircon: the kernel maps the vDSO), then
   ``ffx package build``;
4. **isolated ffx** -- own ``--isolate-dir``, ``HOME`` and temp dirs, analytics off, logs into the temp dir,
   ``ffx emu stop --all`` before anything is started;
5. **emulator** -- product bundle (prefetched, or looked up and downloaded), ``ffx emu start --headless --net
   user``, ``ffx target wait``;
6. **repository** -- create, publish, ``repository server start``, ``target repository register``;
7. **test** -- ``ffx test run --timeout``; the verdict comes from ``run_summary.json``, whose STDOUT/STDERR
   artifacts are replayed;
8. **cleanup, always** (``finally``) -- ``emu stop``, ``repository server stop``, ``daemon stop``, temp dir removed
   (kept, with every step's log, after a failure).

Every step runs under a timeout (:data:`STEP_TIMEOUTS`; the emulator, target-wait and test steps get the timeout
ffx itself is given plus :data:`STEP_GRACE`), so a hung ``ffx`` ends as a step failure and the cleanup still runs.

Both SDK layouts of :mod:`fuchsia_tools.sdkconfig` are accepted as shipped: a current IDK, and a legacy SDK such as the
January 2021 core SDK (no manifest, no API levels, fdio under ``pkg/fdio/arch/<cpu>``).  The link needs no
Fuchsia-specific compiler runtime: it passes ``-nostdlib`` and names the crt and libraries itself, adding
compiler-rt's builtins only when the clang has them for Fuchsia, so a distribution clang with lld links
(``build``) as well as a Fuchsia toolchain.

Exit status: 0 passed (or skipped: no SDK configured, or no KVM), 1 the suite failed, timed out or no summary came
back, 2 the configuration or a setup step is broken.  With no SDK configured the runner skips before it looks for
anything else (sources, tools).  The argv of every ffx call is built by a plain function of this module, so the
orchestration is tested offline with a stub ``ffx`` (``tests/test_femu.py``).

The runner needs only the standard library and this package (:mod:`fuchsia_tools.sdkconfig`): it never imports
``zxpy``, so it runs from a checkout with nothing built or installed (``python -m fuchsia_tools.femu`` from the
checkout, or with it on ``PYTHONPATH``).

Optional ``fuchsia_sdk.cfg`` keys read here, with their defaults; sdkconfig.SCHEMA checks every one at load time
(unknown keys and values outside the allowed set are errors naming ``[section] key`` and the file)::

    [emulator] product = minimal.<cpu>        product_bundle_dir =  (prefetched if it holds product_bundle.json;
                                                                     else the download goes there)
               pb_base_url = gs://fuchsia/development/{sdk_id}
               engine = (ffx's default)  | femu | qemu
               net = user | tap | auto | none           accel = auto | hyper | none
               headless = true                          name = zxpy-femu
               startup_timeout = 90                     target_wait_timeout = 120      (seconds)
    [ffx]      isolate_dir =   (the temp dir, must be empty; relative to the cfg file; default: /tmp/zxf-XXXX)
    [repo]     name = zxpy-conformance                  address = [::]:0
    [test]     timeout = 1200  (ffx test run --timeout)  min_severity_logs = TRACE|DEBUG|INFO|WARN|ERROR|FATAL
               keep_tmp = false
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from . import sdkconfig

__all__ = [
    "PACKAGE_NAME",
    "SKIP_NO_SDK",
    "STEP_GRACE",
    "STEP_TIMEOUTS",
    "Artifact",
    "FemuError",
    "Plan",
    "Summary",
    "build_manifest_lines",
    "cleanup_argvs",
    "compile_argv",
    "component_manifest",
    "conformance_sources",
    "emu_start_argv",
    "ffx_argv",
    "ffx_env",
    "isolation_argvs",
    "link_argv",
    "main",
    "make_plan",
    "parse_run_summary",
    "preflight",
    "product_download_argv",
    "product_lookup_argv",
    "repository_argvs",
    "run_femu",
    "runtime_fdio",
    "socket_path_budget",
    "step_timeout",
    "target_wait_argv",
    "test_run_argv",
]

PACKAGE_NAME = "zx_conformance"
TEST_BINARY = "zx_conformance"
HELPERS = {"conformance_helper": "helper_task.c", "conformance_killself": "helper_killself.c"}
SKIP_NO_SDK = "skipped: no Fuchsia SDK configured in fuchsia_sdk.cfg"
#: sun_path is 108 bytes on Linux; the emulator's sockets live under the isolated HOME.
UNIX_SOCKET_LIMIT = 108
#: The longest socket path suffix the emulator makes below HOME (``ffx emu``'s instance directory + socket name).
_EMU_SOCKET_SUFFIX = "/.local/share/Fuchsia/ffx/emu/instances/{name}/qemu-serial.sock"

EXIT_PASSED = 0
EXIT_FAILED = 1
EXIT_ERROR = 2

#: Seconds a step may run before it counts as hung and is killed (with its process group).  Steps that hand ffx
#: a timeout of their own (emu start, target wait, test run) get that timeout plus STEP_GRACE instead.
STEP_TIMEOUTS: dict[str, int] = {
    "default": 300,            # ffx config/daemon/repository/package steps, cmc, cleanup stops
    "compile": 600,            # one clang compile or link
    "product download": 3600,  # a product bundle is a few hundred MB
}
STEP_GRACE = 60


class FemuError(RuntimeError):
    """A step failed.  ``status`` is the exit status it leads to: 2 (setup broken) unless the suite itself
    could not deliver a verdict (no summary, ``ffx test run`` timed out): 1."""

    def __init__(self, message: str, status: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.status = status


class StepTimeout(FemuError):
    """A step ran past its timeout and was killed."""


def _run_with_timeout(argv: Sequence[str], timeout: float, what: str,
                      env: Mapping[str, str] | None = None) -> tuple[int, str]:
    """Run ``argv`` with stdout+stderr captured, killing its whole process group after ``timeout`` seconds.

    Output goes through a temporary file, not a pipe, so a background process the command leaves behind (ffx
    daemonises its daemon and repository server) can never keep us waiting for end-of-file.
    """
    with tempfile.TemporaryFile(mode="w+", encoding="utf-8", errors="replace") as out:
        try:
            proc = subprocess.Popen(list(argv), stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    env=dict(env) if env is not None else None, start_new_session=True)
        except OSError as exc:
            raise FemuError(f"{what}: cannot run {argv[0]}: {exc}") from exc
        try:
            returncode = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            out.seek(0)
            raise StepTimeout(f"{what}: timed out after {timeout:g} s and was killed: {' '.join(argv)}\n"
                            f"{out.read().strip()}") from None
        except BaseException:  # e.g. KeyboardInterrupt: leave nothing running
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise
        out.seek(0)
        return returncode, out.read()


# --------------------------------------------------------------------------------------------------- building


def conformance_sources(source_dir: Path) -> tuple[list[Path], dict[str, Path]]:
    """The test binary's sources (every ``conformance/*.c`` but the helpers) and each helper's source."""
    conf = source_dir / "conformance"
    helper_files = set(HELPERS.values())
    main_sources = sorted(p for p in conf.glob("*.c") if p.name not in helper_files)
    if not main_sources:
        raise FemuError(f"{conf}: no conformance sources")
    return main_sources, {name: conf / src for name, src in HELPERS.items()}


def thread_entry_cflags(cpu: str) -> list[str]:
    """Flags for ``tfuncs.c``: its functions run on bare zx_thread_start threads without libc's thread setup, so
    they must not read the stack guard, SafeStack's unsafe stack pointer (x64) or the shadow call stack (arm64),
    nor call out-of-line atomics helpers."""
    flags = ["-fno-stack-protector"]
    if cpu == "x64":
        flags.append("-fno-sanitize=safe-stack")
    else:
        flags += ["-fno-sanitize=shadow-call-stack", "-mno-outline-atomics"]
    return flags


def compile_argv(clang: Path, cfg: sdkconfig.SdkConfig, api_level: int | None, source: Path,
                 obj: Path) -> list[str]:
    """``clang -c`` of one conformance source for ``cfg.cpu``."""
    argv = [str(clang), *cfg.target_cflags(api_level), "-I", str(source.parent),
            "-std=gnu11", "-Wall", "-Wextra", "-Werror", "-O2", "-g"]
    if source.name == "tfuncs.c":
        argv += thread_entry_cflags(cfg.cpu)
    return [*argv, *cfg.extra_cflags, "-c", str(source), "-o", str(obj)]


def link_argv(clang: Path, cfg: sdkconfig.SdkConfig, objs: Sequence[Path], out: Path,
              builtins: Path | None = None) -> list[str]:
    """Link a Fuchsia executable with everything named, so no Fuchsia-specific runtime files are needed: a PIE
    (clang's Fuchsia driver always passes ``-pie``) whose ``PT_INTERP`` is ``ld.so.1`` (the dynamic linker's name
    in Fuchsia's sysroot, ``dist/lib/ld.so.1``), started by the SDK's ``Scrt1.o``, with ``DT_NEEDED`` on the SDK's
    fdio, zircon (the vDSO's link stub) and libc.  fdio comes before libc and is linked into every program, as
    Fuchsia does: libc's POSIX I/O entry points (``write``, ``open``...) are weak, fdio's are the real ones.
    ``builtins`` is compiler-rt's builtins archive when the clang has one for Fuchsia
    (:meth:`SdkConfig.compiler_rt_builtins`)."""
    return [str(clang), f"--target={cfg.triple}", f"--sysroot={cfg.sysroot}", "-fuse-ld=lld", "-nostdlib",
            "-Wl,--dynamic-linker=ld.so.1", *[f"-L{d}" for d in cfg.lib_dirs],
            str(cfg.sysroot / "lib" / "Scrt1.o"), *[str(o) for o in objs], "-lfdio", "-lzircon", "-lc",
            *([str(builtins)] if builtins is not None else []), *cfg.extra_ldflags, "-o", str(out)]


def runtime_fdio(cfg: sdkconfig.SdkConfig) -> Path:
    """The libfdio.so to package (``dist``, not the link stub): ``arch/<cpu>/dist`` in an IDK,
    ``pkg/fdio/arch/<cpu>/dist`` in a legacy SDK; the IDK place when neither exists (preflight names it)."""
    sdk = cfg.sdk_path
    assert sdk is not None
    places = (sdk / "arch" / cfg.cpu / "dist" / "libfdio.so", sdk / "pkg" / "fdio" / "arch" / cfg.cpu / "dist" /
              "libfdio.so")
    return next((p for p in places if p.is_file()), places[0])


def _run_tool(argv: Sequence[str], what: str, env: Mapping[str, str] | None = None) -> str:
    returncode, output = _run_with_timeout(argv, STEP_TIMEOUTS["compile"], what, env)
    if returncode != 0:
        raise FemuError(f"{what} failed (exit {returncode}): {' '.join(argv)}\n{output.strip()}")
    return output


def compile_objects(cfg: sdkconfig.SdkConfig, clang: Path, api_level: int | None, source_dir: Path,
                    out_dir: Path) -> dict[str, list[Path]]:
    """Compile every conformance source for ``cfg.cpu``; returns the objects of each program."""
    main_sources, helpers = conformance_sources(source_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    programs: dict[str, list[Path]] = {TEST_BINARY: [], **{name: [] for name in helpers}}
    jobs = [(TEST_BINARY, src) for src in main_sources] + [(name, src) for name, src in helpers.items()]
    for program, src in jobs:
        obj = out_dir / f"{src.stem}.o"
        _run_tool(compile_argv(clang, cfg, api_level, src, obj), f"compiling {src.name} for {cfg.cpu}")
        programs[program].append(obj)
    return programs


def build(cfg: sdkconfig.SdkConfig, clang: Path, api_level: int | None, source_dir: Path,
          out_dir: Path) -> dict[str, Path]:
    """Compile and link the test binary and its helpers; returns program name -> executable."""
    programs = compile_objects(cfg, clang, api_level, source_dir, out_dir / "obj")
    builtins = cfg.compiler_rt_builtins(clang)
    bins: dict[str, Path] = {}
    for name, objs in programs.items():
        exe = out_dir / "bin" / name
        exe.parent.mkdir(parents=True, exist_ok=True)
        _run_tool(link_argv(clang, cfg, objs, exe, builtins), f"linking {name} for {cfg.cpu}")
        bins[name] = exe
    return bins


# --------------------------------------------------------------------------------------------------- packaging


def component_manifest(binary: str = TEST_BINARY) -> dict[str, object]:
    """The test's CML (as JSON, which is valid CML): an ELF test whose exit code is the verdict.  The suite
    spawns its helpers with fdio_spawn (fuchsia.process.Launcher) and writes progress files in /tmp."""
    return {
        "program": {"runner": "elf_test_runner", "binary": f"bin/{binary}"},
        "capabilities": [{"protocol": "fuchsia.test.Suite"}],
        "expose": [{"protocol": "fuchsia.test.Suite", "from": "self"}],
        "use": [
            {"storage": "tmp", "path": "/tmp"},
            {"protocol": ["fuchsia.process.Launcher"]},
        ],
        "facets": {"fuchsia.test": {"type": "system"}},
    }


def build_manifest_lines(cfg: sdkconfig.SdkConfig, meta_package: Path, cm: Path,
                         bins: Mapping[str, Path]) -> list[str]:
    """``dest=src`` lines for ``ffx package build``: the binaries, the runtime loader and fdio from the SDK.
    libzircon.so is a link stub for the vDSO and is never packaged."""
    lines = [f"meta/package={meta_package}", f"meta/{PACKAGE_NAME}.cm={cm}"]
    lines += [f"bin/{name}={path}" for name, path in sorted(bins.items())]
    lines += [
        f"lib/ld.so.1={cfg.sysroot / 'dist' / 'lib' / 'ld.so.1'}",
        f"lib/libfdio.so={runtime_fdio(cfg)}",
    ]
    return lines


# --------------------------------------------------------------------------------------------------- ffx argv


def ffx_argv(ffx: Path, isolate_dir: Path, *args: str, target: str | None = None,
             machine_json: bool = False) -> list[str]:
    """One ffx call, always isolated (``--isolate-dir``), optionally aimed at a target or asking for JSON."""
    argv = [str(ffx), "--isolate-dir", str(isolate_dir)]
    if target is not None:
        argv += ["--target", target]
    if machine_json:
        argv += ["--machine", "json"]
    return argv + list(args)


def ffx_env(tmp: Path, base: Mapping[str, str]) -> dict[str, str]:
    """Environment for every ffx call: its own HOME, isolate dir and temp dirs under ``tmp`` (ffx isolation)."""
    env = dict(base)
    env.update({
        "HOME": str(tmp / "home"),
        "FFX_ISOLATE_DIR": str(tmp / "ffx_isolate"),
        "TMP": str(tmp), "TEMP": str(tmp), "TMPDIR": str(tmp), "TEMPDIR": str(tmp),
    })
    return env


@dataclass(frozen=True)
class Plan:
    """Everything the emulator steps need; built once from the config (see :func:`make_plan`)."""

    ffx: Path
    tmp: Path
    sdk_id: str
    cpu: str
    api_level: int | None
    product: str
    product_bundle_dir: Path | None
    pb_base_url: str
    emu_name: str = "zxpy-femu"
    engine: str | None = None
    net: str = "user"
    accel: str = "auto"
    headless: bool = True
    startup_timeout: int = 90
    target_wait_timeout: int = 120
    repo_name: str = "zxpy-conformance"
    repo_address: str = "[::]:0"
    test_timeout: int = 1200
    min_severity_logs: str | None = None
    keep_tmp: bool = False
    test_args: tuple[str, ...] = ()

    @property
    def isolate_dir(self) -> Path:
        return self.tmp / "ffx_isolate"

    @property
    def repo_dir(self) -> Path:
        return self.tmp / "repo"

    @property
    def output_dir(self) -> Path:
        return self.tmp / "test_output"

    @property
    def local_pb_dir(self) -> Path:
        return self.product_bundle_dir if self.product_bundle_dir is not None else self.tmp / "product_bundle"

    @property
    def prefetched(self) -> bool:
        """True when ``[emulator] product_bundle_dir`` already holds a product bundle (its
        ``product_bundle.json``); otherwise the bundle is downloaded there (or into the temp dir)."""
        return self.product_bundle_dir is not None and (self.product_bundle_dir / "product_bundle.json").is_file()

    @property
    def package_url(self) -> str:
        return f"fuchsia-pkg://{self.repo_name}/{PACKAGE_NAME}#meta/{PACKAGE_NAME}.cm"

    def cmd(self, *args: str, target: bool = False, machine_json: bool = False) -> list[str]:
        return ffx_argv(self.ffx, self.isolate_dir, *args, target=self.emu_name if target else None,
                        machine_json=machine_json)


def isolation_argvs(plan: Plan) -> list[list[str]]:
    """Configure the isolated ffx (analytics off, logs in the temp dir, isolated test runs), start its daemon."""
    return [
        plan.cmd("config", "analytics", "disable"),
        plan.cmd("config", "set", "log.enabled", "true"),
        plan.cmd("config", "set", "log.dir", str(plan.tmp / "ffx_logs")),
        plan.cmd("config", "set", "test.is_isolated", "true"),
        plan.cmd("config", "set", "test.experimental_structured_output", "true"),
        plan.cmd("daemon", "start", "--background"),
    ]


def emu_stop_all_argv(plan: Plan) -> list[str]:
    """Stop any emulator this ffx knows of before starting ours (``ffx emu stop --all``)."""
    return plan.cmd("emu", "stop", "--all")


def product_lookup_argv(plan: Plan) -> list[str]:
    return plan.cmd("product", "lookup", plan.product, plan.sdk_id,
                    "--base-url", plan.pb_base_url.format(sdk_id=plan.sdk_id), machine_json=True)


def product_download_argv(plan: Plan, transfer_manifest_url: str) -> list[str]:
    return plan.cmd("product", "download", transfer_manifest_url, str(plan.local_pb_dir))


def emu_start_argv(plan: Plan) -> list[str]:
    """Headless, user-mode networking (tap needs root), KVM when there is one (``ffx emu start`` options)."""
    argv = plan.cmd("emu", "start", str(plan.local_pb_dir), *(["--headless"] if plan.headless else []),
                    "--net", plan.net, "--accel", plan.accel, "--name", plan.emu_name,
                    "--startup-timeout", str(plan.startup_timeout), "--log", str(plan.tmp / "emulator.log"))
    if plan.engine:
        argv += ["--engine", plan.engine]
    return argv


def target_wait_argv(plan: Plan) -> list[str]:
    return plan.cmd("target", "wait", "-t", str(plan.target_wait_timeout), target=True)


def repository_argvs(plan: Plan, package_manifest: Path) -> list[list[str]]:
    """Create a repository, publish the package, serve it, and register it with the emulator."""
    return [
        plan.cmd("repository", "create", str(plan.repo_dir)),
        plan.cmd("repository", "publish", "--package", str(package_manifest), str(plan.repo_dir)),
        plan.cmd("repository", "server", "start", "--background", "--address", plan.repo_address,
                 "--repo-path", str(plan.repo_dir), "--repository", plan.repo_name),
        plan.cmd("target", "repository", "register", "--repository", plan.repo_name, target=True),
    ]


def test_run_argv(plan: Plan) -> list[str]:
    argv = plan.cmd("test", "run", plan.package_url, "--output-directory", str(plan.output_dir),
                    "--timeout", str(plan.test_timeout), target=True)
    if plan.min_severity_logs:
        argv += ["--min-severity-logs", plan.min_severity_logs]
    if plan.test_args:
        argv += ["--", *plan.test_args]
    return argv


_FFX_GLOBAL_WITH_VALUE = ("--isolate-dir", "--target", "--machine", "--config")


def _ffx_subcommand(argv: Sequence[str]) -> tuple[str, ...]:
    """An ffx argv without the program and the global options: ``("emu", "start", ...)``."""
    rest = list(argv[1:])
    while rest and rest[0] in _FFX_GLOBAL_WITH_VALUE:
        rest = rest[2:]
    return tuple(rest)


def step_timeout(plan: Plan, argv: Sequence[str]) -> int:
    """Seconds the runner lets one ffx call take: ffx's own timeout plus STEP_GRACE where it is given one, the
    product download's budget, else the default (:data:`STEP_TIMEOUTS`)."""
    command = _ffx_subcommand(argv)[:2]
    if command == ("emu", "start"):
        return plan.startup_timeout + STEP_GRACE
    if command == ("target", "wait"):
        return plan.target_wait_timeout + STEP_GRACE
    if command == ("test", "run"):
        return plan.test_timeout + STEP_GRACE
    if command == ("product", "download"):
        return STEP_TIMEOUTS["product download"]
    return STEP_TIMEOUTS["default"]


def cleanup_argvs(plan: Plan, started: set[str]) -> list[list[str]]:
    """What to stop, for each thing whose start was attempted (a half-started emulator is stopped too)."""
    argvs: list[list[str]] = []
    if "emu" in started:
        argvs.append(plan.cmd("emu", "stop", plan.emu_name))
    if "repo" in started:
        argvs.append(plan.cmd("repository", "server", "stop", plan.repo_name))
    if "daemon" in started:
        argvs.append(plan.cmd("daemon", "stop"))
    return argvs


# --------------------------------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Artifact:
    kind: str  # STDOUT, STDERR, SYSLOG, ...
    path: Path


@dataclass(frozen=True)
class Summary:
    """The verdict of ``run_summary.json``: passed only if the run, every suite and every case PASSED."""

    passed: bool
    outcomes: tuple[tuple[str, str], ...]
    artifacts: tuple[Artifact, ...] = field(default=())

    def stream(self, kind: str) -> Iterator[Artifact]:
        return (a for a in self.artifacts if a.kind == kind)


def _artifacts(node: Mapping[str, object], base: Path) -> list[Artifact]:
    found: list[Artifact] = []
    arts = node.get("artifacts")
    art_dir = node.get("artifact_dir")
    if isinstance(arts, Mapping) and isinstance(art_dir, str):
        for name, meta in arts.items():
            if isinstance(meta, Mapping) and isinstance(meta.get("artifact_type"), str):
                found.append(Artifact(str(meta["artifact_type"]), base / art_dir / str(name)))
    return found


def parse_run_summary(output_dir: Path) -> Summary:
    """Read ``<output_dir>/run_summary.json`` (ffx test's structured output).  FemuError if absent or unusable."""
    path = output_dir / "run_summary.json"
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise FemuError(f"{path}: no test summary (did `ffx test run` start?)", EXIT_FAILED) from exc
    except (OSError, ValueError) as exc:
        raise FemuError(f"{path}: unreadable test summary: {exc}") from exc
    data = doc.get("data") if isinstance(doc, dict) else None
    suites = data.get("suites") if isinstance(data, dict) else None
    if not isinstance(data, dict) or not isinstance(suites, list) or not suites:
        raise FemuError(f"{path}: no suites in the test summary")
    outcomes: list[tuple[str, str]] = []
    artifacts = _artifacts(data, output_dir)
    if "outcome" in data:
        outcomes.append(("run", str(data["outcome"])))
    for suite in suites:
        if not isinstance(suite, dict):
            raise FemuError(f"{path}: malformed suite entry")
        name = str(suite.get("name", "?"))
        outcomes.append((name, str(suite.get("outcome", "MISSING"))))
        artifacts += _artifacts(suite, output_dir)
        cases = suite.get("cases", [])
        if not isinstance(cases, list) or not cases:
            outcomes.append((f"{name}: cases", "MISSING"))
            continue
        for case in cases:
            if isinstance(case, dict):
                outcomes.append((f"{name}: {case.get('name', '?')}", str(case.get("outcome", "MISSING"))))
                artifacts += _artifacts(case, output_dir)
    passed = all(outcome == "PASSED" for _, outcome in outcomes)
    return Summary(passed, tuple(outcomes), tuple(artifacts))


def replay(summary: Summary, out: TextIO | None = None, err: TextIO | None = None) -> None:
    """Write the test's STDOUT/STDERR artifacts to our stdout/stderr."""
    streams: dict[str, TextIO] = {"STDOUT": out or sys.stdout, "STDERR": err or sys.stderr}
    for kind, stream in streams.items():
        for art in summary.stream(kind):
            try:
                text = art.path.read_text(encoding="utf-8", errors="replace")
            except OSError as exc:
                text = f"[femu: cannot read {art.path}: {exc}]\n"
            stream.write(text if text.endswith("\n") else text + "\n")


# --------------------------------------------------------------------------------------------------- preflight


def socket_path_budget(tmp: Path, emu_name: str) -> int:
    """Length of the longest unix-socket path the emulator will make below the isolated HOME."""
    return len(str(tmp / "home")) + len(_EMU_SOCKET_SUFFIX.format(name=emu_name))


def _tool(cfg: sdkconfig.SdkConfig, key: str) -> Path:
    path = cfg.get_path("sdk", key)
    if path is not None:
        return path
    assert cfg.sdk_path is not None
    return cfg.sdk_path / "tools" / cfg.host_cpu / key


@dataclass(frozen=True)
class Preflight:
    skip: str | None
    problems: tuple[str, ...]
    sdk_id: str = ""
    ffx: Path | None = None
    cmc: Path | None = None
    clang: Path | None = None
    api_level: int | None = None
    description: str = ""


STAGES = ("objects", "build", "run")


def preflight(cfg: sdkconfig.SdkConfig, tmp: Path, *, stage: str = "run",
              kvm_device: Path = Path("/dev/kvm")) -> Preflight:
    """Check everything a stage needs before touching anything; each problem is one line naming the missing
    piece.  ``objects`` needs headers, link stubs, an API level and clang (the stand-in SDK has them);
    ``build`` also the SDK's crt; ``run`` also ffx, cmc, the runtime pieces to package, a real SDK, a short
    enough temp path, and KVM (without it: a skip, not a failure)."""
    if stage not in STAGES:
        raise ValueError(f"stage must be one of {STAGES}")
    if not cfg.configured:
        return Preflight(SKIP_NO_SDK, ())
    problems = list(cfg.check_layout(need_python=False))
    identity = cfg.sdk_identity()
    sdk_id = str(identity["id"] or "")
    api_level = None
    try:
        api_level = cfg.resolve_api_level()
    except sdkconfig.SdkConfigError:
        pass  # already reported by check_layout
    sdk = cfg.sdk_path
    assert sdk is not None
    ffx = _tool(cfg, "ffx")
    cmc = _tool(cfg, "cmc")
    skip = None
    if stage in ("build", "run"):
        crt = cfg.sysroot / "lib" / "Scrt1.o"
        if not crt.is_file():
            problems.append(f"{crt}: missing (the SDK's crt start file, needed to link an executable)")
    if stage == "run":
        if cfg.is_stand_in:
            problems.append(f"{sdk}: is the stand-in SDK made by fuchsia_tools.standin_sysroot; "
                            "FEMU needs a real Fuchsia SDK")
        for piece, why in (
            (cfg.sysroot / "dist" / "lib" / "ld.so.1", "the runtime loader to package as lib/ld.so.1"),
            (runtime_fdio(cfg), "fdio to package as lib/libfdio.so"),
        ):
            if not piece.is_file():
                problems.append(f"{piece}: missing ({why})")
        for tool, key in ((ffx, "ffx"), (cmc, "cmc")):
            if not (tool.is_file() and os.access(tool, os.X_OK)):
                problems.append(f"{tool}: no executable {key} (set [sdk] {key} in {cfg.path})")
        name = cfg.get("emulator", "name", "zxpy-femu") or "zxpy-femu"
        budget = socket_path_budget(tmp, name)
        if budget >= UNIX_SOCKET_LIMIT:
            problems.append(f"{tmp}: temp path too long: emulator sockets would need {budget} bytes "
                            f"(limit {UNIX_SOCKET_LIMIT - 1}); set a shorter [ffx] isolate_dir")
        pb_dir = cfg.get_path("emulator", "product_bundle_dir")
        prefetched = pb_dir is not None and (pb_dir / "product_bundle.json").is_file()
        if not sdk_id and not prefetched:
            problems.append(f"{sdk}: no SDK id to look a product bundle up by (no meta/manifest.json); set "
                            f"[emulator] product_bundle_dir to a prefetched bundle in {cfg.path}")
        if pb_dir is not None and pb_dir.exists() and not prefetched:
            # Not prefetched: the bundle is downloaded there, which needs an empty directory.
            if not pb_dir.is_dir() or any(pb_dir.iterdir()):
                problems.append(f"{pb_dir}: neither a product bundle (no product_bundle.json) nor an empty "
                                f"directory to download one into ([emulator] product_bundle_dir in {cfg.path})")
        accel = cfg.get("emulator", "accel", "auto")
        if accel != "none" and not (kvm_device.exists() and os.access(kvm_device, os.R_OK | os.W_OK)):
            skip = (f"skipped: {kvm_device} is missing or not read/writable, and without KVM the emulator is "
                    "too slow to use (set [emulator] accel = none to try anyway)")
    return Preflight(skip, tuple(problems), sdk_id, ffx, cmc, cfg.find_clang(), api_level,
                     str(identity["description"]))


# --------------------------------------------------------------------------------------------------- running


class _Steps:
    """Runs ffx steps with the isolated environment and a timeout each, logging each command and its output."""

    def __init__(self, plan: Plan, env: Mapping[str, str], log: Path, verbose: bool) -> None:
        self.plan = plan
        self.env = dict(env)
        self.log = log
        self.verbose = verbose

    def run(self, argv: Sequence[str], what: str, *, check: bool = True) -> str:
        print(f"femu: {what}", file=sys.stderr, flush=True)
        with self.log.open("a", encoding="utf-8") as log:
            log.write("$ " + " ".join(argv) + "\n")
        try:
            returncode, output = _run_with_timeout(argv, step_timeout(self.plan, argv), what, self.env)
        except FemuError as exc:
            with self.log.open("a", encoding="utf-8") as log:
                log.write(f"[{exc}]\n")
            raise
        with self.log.open("a", encoding="utf-8") as log:
            log.write(output + f"[exit {returncode}]\n")
        if self.verbose and output:
            print(output, end="", file=sys.stderr)
        if check and returncode != 0:
            raise FemuError(f"{what} failed (exit {returncode}): {' '.join(argv)}\n{output.strip()}")
        return output


def _package(steps: _Steps, plan: Plan, cfg: sdkconfig.SdkConfig, cmc: Path, bins: Mapping[str, Path]) -> Path:
    stage = plan.tmp / "package"
    stage.mkdir(parents=True, exist_ok=True)
    cml = stage / f"{PACKAGE_NAME}.cml"
    cml.write_text(json.dumps(component_manifest(), indent=2) + "\n", encoding="utf-8")
    cm = stage / f"{PACKAGE_NAME}.cm"
    includes = (cfg.sdk_path / "pkg") if cfg.sdk_path is not None else stage
    steps.run([str(cmc), "compile", str(cml), "--includepath", str(includes), "--output", str(cm)],
              "cmc compile (component manifest)")
    meta_package = stage / "package"
    meta_package.write_text(json.dumps({"name": PACKAGE_NAME, "version": "0"}) + "\n", encoding="utf-8")
    manifest = stage / "build_manifest.txt"
    manifest.write_text("\n".join(build_manifest_lines(cfg, meta_package, cm, bins)) + "\n", encoding="utf-8")
    out = plan.tmp / "package_out"
    level = ["--api-level", str(plan.api_level)] if plan.api_level is not None else []
    steps.run(plan.cmd("package", "build", str(manifest), "-o", str(out), *level), "ffx package build")
    package_manifest = out / "package_manifest.json"
    if not package_manifest.is_file():
        raise FemuError(f"ffx package build wrote no {package_manifest}")
    return package_manifest


def _product_bundle(steps: _Steps, plan: Plan) -> None:
    if plan.prefetched:
        print(f"femu: using the product bundle in {plan.product_bundle_dir}", file=sys.stderr)
        return
    out = steps.run(product_lookup_argv(plan), f"ffx product lookup {plan.product} {plan.sdk_id}")
    try:
        url = json.loads(out.strip().splitlines()[-1])["transfer_manifest_url"]
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise FemuError(f"ffx product lookup gave no transfer_manifest_url: {out.strip()!r}") from exc
    steps.run(product_download_argv(plan, str(url)), "ffx product download")


def run_femu(plan: Plan, cfg: sdkconfig.SdkConfig, cmc: Path, bins: Mapping[str, Path], *,
             verbose: bool = False) -> int:
    """Package, start everything, run the suite, and always stop what was started.  Returns the exit status."""
    plan.tmp.mkdir(parents=True, exist_ok=True)
    for sub in ("home", "ffx_isolate", "ffx_logs"):
        (plan.tmp / sub).mkdir(exist_ok=True)
    steps = _Steps(plan, ffx_env(plan.tmp, os.environ), plan.tmp / "femu_steps.log", verbose)
    started: set[str] = set()
    status = EXIT_ERROR
    try:
        started.add("daemon")
        for argv in isolation_argvs(plan):
            steps.run(argv, "ffx " + " ".join(argv[3:]))
        # Precautionary: an emulator left over in this ffx's view would hold the name and the ports.
        steps.run(emu_stop_all_argv(plan), "ffx emu stop --all", check=False)
        package_manifest = _package(steps, plan, cfg, cmc, bins)
        _product_bundle(steps, plan)
        started.add("emu")
        steps.run(emu_start_argv(plan), f"ffx emu start ({plan.emu_name})")
        steps.run(target_wait_argv(plan), "ffx target wait")
        repo = repository_argvs(plan, package_manifest)
        steps.run(repo[0], "ffx repository create")
        steps.run(repo[1], "ffx repository publish")
        started.add("repo")
        steps.run(repo[2], "ffx repository server start")
        steps.run(repo[3], "ffx target repository register")
        # The exit status of `ffx test run` is not the verdict: the summary is.  A hung run is a failed suite.
        try:
            steps.run(test_run_argv(plan), f"ffx test run {plan.package_url}", check=False)
        except StepTimeout as exc:
            raise FemuError(str(exc), EXIT_FAILED) from exc
        summary = parse_run_summary(plan.output_dir)
        replay(summary)
        for name, outcome in summary.outcomes:
            print(f"femu: {outcome}: {name}", file=sys.stderr)
        status = EXIT_PASSED if summary.passed else EXIT_FAILED
        print(f"femu: the conformance suite {'PASSED' if summary.passed else 'FAILED'} on FEMU", file=sys.stderr)
    except FemuError as exc:
        print(f"femu: error: {exc}", file=sys.stderr)
        status = exc.status
    finally:
        for argv in cleanup_argvs(plan, started):
            try:
                steps.run(argv, "cleanup: ffx " + " ".join(argv[3:]), check=False)
            except FemuError as exc:
                print(f"femu: cleanup: {exc}", file=sys.stderr)
        if plan.keep_tmp or status != EXIT_PASSED:
            print(f"femu: logs kept in {plan.tmp} (femu_steps.log, emulator.log, ffx_logs/)", file=sys.stderr)
        if not plan.keep_tmp and status == EXIT_PASSED:
            shutil.rmtree(plan.tmp, ignore_errors=True)
    return status


def make_plan(cfg: sdkconfig.SdkConfig, pre: Preflight, tmp: Path, test_args: Sequence[str] = ()) -> Plan:
    """The emulator plan from the config's optional [emulator]/[repo]/[test] keys and the preflight results.
    The values were checked when the file was loaded (sdkconfig.SCHEMA); the typed getters check again for a
    config built by other means."""
    assert pre.ffx is not None
    return Plan(
        ffx=pre.ffx,
        tmp=tmp,
        sdk_id=pre.sdk_id,
        cpu=cfg.cpu,
        api_level=pre.api_level,
        product=cfg.get("emulator", "product") or f"minimal.{cfg.cpu}",
        product_bundle_dir=cfg.get_path("emulator", "product_bundle_dir"),
        pb_base_url=cfg.get("emulator", "pb_base_url") or "gs://fuchsia/development/{sdk_id}",
        emu_name=cfg.get("emulator", "name") or "zxpy-femu",
        engine=cfg.get("emulator", "engine"),
        net=cfg.get("emulator", "net") or "user",
        accel=cfg.get("emulator", "accel") or "auto",
        headless=cfg.get_bool("emulator", "headless", True),
        startup_timeout=cfg.get_int("emulator", "startup_timeout", 90),
        target_wait_timeout=cfg.get_int("emulator", "target_wait_timeout", 120),
        repo_name=cfg.get("repo", "name") or "zxpy-conformance",
        repo_address=cfg.get("repo", "address") or "[::]:0",
        test_timeout=cfg.get_int("test", "timeout", 1200),
        min_severity_logs=cfg.get("test", "min_severity_logs"),
        keep_tmp=cfg.get_bool("test", "keep_tmp", False),
        test_args=tuple(test_args),
    )


# --------------------------------------------------------------------------------------------------- CLI

#: The directory above this package: the checkout it came from (or wherever a copy of the package was put).
_PACKAGE_PARENT = Path(__file__).resolve().parent.parent


def _find_source_dir(explicit: Path | None) -> Path | None:
    """The checkout holding ``conformance/``: ``--source-dir``, else the working directory, else the directory
    above the package; None when none of them is one."""
    candidates = [explicit] if explicit is not None else [Path.cwd(), _PACKAGE_PARENT]
    for cand in candidates:
        if (cand / "conformance" / "harness.c").is_file():
            return cand.resolve()
    return None


def _load_config(explicit: Path | None, checkout: Path | None) -> sdkconfig.SdkConfig:
    """``--config``, else ``$ZXPY_SDK_CFG``, else the checkout's ``fuchsia_sdk.cfg``, else the one next to the
    package; when none exists the result is "not configured" (sdkconfig.load)."""
    if explicit is not None:
        return sdkconfig.load(explicit)
    if not os.environ.get(sdkconfig.CONFIG_ENV) and checkout is not None:
        local = checkout / sdkconfig.DEFAULT_CONFIG_NAME
        if local.is_file():
            return sdkconfig.load(local)
    return sdkconfig.load(None)


def _make_tmp(cfg: sdkconfig.SdkConfig) -> Path:
    path = cfg.get_path("ffx", "isolate_dir")
    if path is None:
        # Short on purpose: the emulator's unix sockets live below it.
        return Path(tempfile.mkdtemp(prefix="zxf-", dir="/tmp"))
    where = f"{cfg.path}: [ffx] isolate_dir: {path}"
    try:
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            raise FemuError(f"{where} is not an empty directory")
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FemuError(f"{where}: {exc}") from exc
    return path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m fuchsia_tools.femu",
        description="Build the C conformance scenarios for Fuchsia and run them on FEMU.")
    parser.add_argument("command", nargs="?", default="run", choices=("run", "build", "objects", "host"),
                        help="run (default): everything; build: compile and link only; "
                             "objects: compile only (works against the stand-in SDK); "
                             "host: build, then run the suite as a Fuchsia program on zxpy's host kernel and "
                             "compare it with the same scenarios run as a Linux program (no emulator)")
    parser.add_argument("--config", type=Path, help="fuchsia_sdk.cfg to use (default: $ZXPY_SDK_CFG, "
                                                    "else the checkout's)")
    parser.add_argument("--source-dir", type=Path, help="the zxpy checkout holding conformance/ (default: the "
                                                        "working directory, else the one above the package)")
    parser.add_argument("--cpu", choices=sorted(sdkconfig.CPU_TRIPLES), help="override [target] cpu")
    parser.add_argument("--out", type=Path, help="build/objects output directory")
    parser.add_argument("--kvm-device", type=Path, default=Path("/dev/kvm"), help=argparse.SUPPRESS)
    parser.add_argument("-v", "--verbose", action="store_true", help="echo every ffx step's output")
    raw = list(sys.argv[1:] if argv is None else argv)
    test_args: list[str] = []
    if "--" in raw:
        cut = raw.index("--")
        raw, test_args = raw[:cut], raw[cut + 1:]
    parser.epilog = "Arguments after -- go to the test binary on the device (e.g. -- -k s13), or to both runs of " \
                    "`host`."
    args = parser.parse_args(raw)

    try:
        # The config decides first: with no SDK configured nothing else (sources, tools) is looked for.
        source_dir = _find_source_dir(args.source_dir)
        cfg = _load_config(args.config, args.source_dir or source_dir)
        if args.cpu:
            cfg = dataclasses.replace(cfg, cpu=args.cpu)
        if not cfg.configured:
            print(SKIP_NO_SDK, flush=True)
            return EXIT_PASSED
        if source_dir is None:
            where = f"--source-dir {args.source_dir} has no conformance/harness.c" if args.source_dir else \
                "cannot find the conformance/ sources"
            raise FemuError(f"{where}: run from the zxpy checkout or pass --source-dir")
        out = (args.out or source_dir / "build" / f"femu-{cfg.cpu}").resolve()
        if args.command in ("build", "objects", "host"):
            pre = preflight(cfg, Path("/tmp"), stage="build" if args.command == "host" else args.command)
            if pre.problems:
                raise FemuError("the SDK is not usable:\n  " + "\n  ".join(pre.problems))
            assert pre.clang is not None
            level = "no API levels, so no -ffuchsia-api-level" if pre.api_level is None else \
                f"API level {pre.api_level}"
            print(f"femu: {args.command} for {cfg.cpu} against {pre.description}; {level}", file=sys.stderr)
            if args.command == "objects":
                objs = compile_objects(cfg, pre.clang, pre.api_level, source_dir, out / "obj")
                for name, files in objs.items():
                    print(f"{name}: {len(files)} objects for {cfg.cpu} in {out / 'obj'}")
            elif args.command == "host":
                if cfg.cpu != "x64":
                    raise FemuError("host: the host kernel runs x64 Fuchsia programs only (--cpu x64)")
                from . import femu_host  # imports zxpy: only this command needs it
                bins = build(cfg, pre.clang, pre.api_level, source_dir, out)
                return femu_host.main(cfg, source_dir, bins, out, test_args)
            else:
                for name, exe in build(cfg, pre.clang, pre.api_level, source_dir, out).items():
                    print(f"{name}: {exe}")
            return EXIT_PASSED
        tmp = _make_tmp(cfg)
        handed_over = False  # from run_femu on, the temp dir is kept or removed by its verdict
        try:
            pre = preflight(cfg, tmp, stage="run", kvm_device=args.kvm_device)
            if pre.problems:
                raise FemuError("preflight failed:\n  " + "\n  ".join(pre.problems))
            if pre.skip:
                print(pre.skip, flush=True)
                return EXIT_PASSED
            assert pre.clang is not None and pre.cmc is not None
            plan = make_plan(cfg, pre, tmp, test_args)
            level = "no API level" if pre.api_level is None else f"API level {pre.api_level}"
            print(f"femu: {pre.description}, {cfg.cpu}, {level}, temp {tmp}", file=sys.stderr)
            bins = build(cfg, pre.clang, pre.api_level, source_dir, out)
            handed_over = True
        finally:
            if not handed_over:
                shutil.rmtree(tmp, ignore_errors=True)
        return run_femu(plan, cfg, pre.cmc, bins, verbose=args.verbose)
    except (FemuError, sdkconfig.SdkConfigError) as exc:
        print(f"femu: error: {exc}", file=sys.stderr)
        return exc.status if isinstance(exc, FemuError) else EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
