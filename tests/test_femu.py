"""The FEMU runner's orchestration, offline: a fake SDK tree, a stub ``ffx`` that records its argv and writes
``run_summary.json``, and stub ``clang``/``cmc``.  Nothing here needs an SDK, an emulator or KVM.

At the end, ``femu build`` links the suite for real with clang and lld: against the 2021-vintage stand-in
always, and against the real January 2021 core SDK when ``ZXPY_SDK_2021`` names it (skipped otherwise)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from vintage import IN_CI, real_sdk_2021, require

from fuchsia_tools import femu, sdkconfig, standin_sysroot

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "femu"
SDK_ID = "99.20990101.0.1"
API_LEVEL = 30
EMU = "zxpy-femu"
REPO_NAME = "zxpy-conformance"
URL = "fuchsia-pkg://zxpy-conformance/zx_conformance#meta/zx_conformance.cm"


def install_stub(src: Path, dest: Path) -> None:
    """Copy a stub script so it runs with this interpreter."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    body = src.read_text(encoding="utf-8").split("\n", 1)[1]
    dest.write_text(f"#!{sys.executable}\n{body}", encoding="utf-8")
    dest.chmod(0o755)


def touch(path: Path, text: str = "") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


class FakeSdk:
    def __init__(self, root: Path, short_tmp: Path) -> None:
        self.root = root
        self.sdk = root / "sdk"
        self.log = root / "calls.jsonl"
        self.kvm = root / "kvm"
        self.isolate = short_tmp
        sdk = self.sdk
        touch(sdk / "meta" / "manifest.json", json.dumps({
            "arch": {"host": "x86_64-linux-gnu", "target": ["x64", "arm64"]},
            "id": SDK_ID, "parts": [], "root": "..", "schema_version": "1"}))
        touch(sdk / "version_history.json", json.dumps({"data": {"api_levels": {
            str(API_LEVEL): {"abi_revision": "0x1", "status": "supported"},
            "31": {"abi_revision": "0x2", "status": "in-development"}}}}))
        sysroot = sdk / "arch" / "x64" / "sysroot"
        for header in ("zircon/types.h", "zircon/syscalls.h", "zircon/process.h", "zircon/syscalls/object.h",
                       "stdlib.h"):
            touch(sysroot / "include" / header)
        for lib in ("libc.so", "libzircon.so", "Scrt1.o"):
            touch(sysroot / "lib" / lib)
        touch(sdk / "arch" / "x64" / "lib" / "libfdio.so")
        touch(sysroot / "dist" / "lib" / "ld.so.1")
        touch(sdk / "arch" / "x64" / "dist" / "libfdio.so")
        touch(sdk / "pkg" / "fdio" / "include" / "lib" / "fdio" / "spawn.h")
        install_stub(FIXTURES / "ffx_stub.py", sdk / "tools" / "x64" / "ffx")
        install_stub(FIXTURES / "tool_stub.py", sdk / "tools" / "x64" / "cmc")
        install_stub(FIXTURES / "tool_stub.py", root / "clang" / "bin" / "clang")
        touch(self.kvm)

    def make_legacy(self) -> None:
        """Reshape the tree like the January 2021 core SDK: no meta/manifest.json, no version_history.json,
        fdio's link stub and runtime library under pkg/fdio/arch/<cpu>/."""
        sdk = self.sdk
        (sdk / "meta" / "manifest.json").unlink()
        (sdk / "version_history.json").unlink()
        for kind in ("lib", "dist"):
            old = sdk / "arch" / "x64" / kind / "libfdio.so"
            new = sdk / "pkg" / "fdio" / "arch" / "x64" / kind / "libfdio.so"
            new.parent.mkdir(parents=True, exist_ok=True)
            old.rename(new)
            old.parent.rmdir()

    def config(self, extra: str = "") -> Path:
        cfg = self.root / "femu.cfg"
        cfg.write_text(
            "[sdk]\n"
            f"path = {self.sdk}\n"
            f"clang_dir = {self.root / 'clang'}\n"
            "host_cpu = x64\n"
            "[target]\n"
            "cpu = x64\n"
            "api_level = auto\n"
            "[ffx]\n"
            f"isolate_dir = {self.isolate}\n" + extra,
            encoding="utf-8")
        return cfg

    def calls(self, tool: str | None = None) -> list[dict[str, object]]:
        if not self.log.exists():
            return []
        rows = [json.loads(line) for line in self.log.read_text(encoding="utf-8").splitlines()]
        return [r for r in rows if tool is None or r["tool"] == tool]

    def ffx_commands(self) -> list[list[str]]:
        """Each ffx call's argv without the global flags (after checking they are the isolation ones)."""
        out = []
        for call in self.calls("ffx"):
            argv = list(call["argv"])  # type: ignore[call-overload]
            assert argv[:2] == ["--isolate-dir", str(self.isolate / "ffx_isolate")], argv
            argv = argv[2:]
            if argv[:1] == ["--target"]:
                assert argv[1] == EMU
                argv = ["@target", *argv[2:]]
            if "--machine" in argv:
                i = argv.index("--machine")
                assert argv[i + 1] == "json"
                del argv[i:i + 2]
                argv = ["@json", *argv]
            out.append(argv)
        return out


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSdk]:
    # Short on purpose: the runner refuses temp dirs too long for the emulator's unix sockets.
    short = Path(tempfile.mkdtemp(prefix="zf-", dir="/tmp"))
    shutil.rmtree(short)
    sdk = FakeSdk(tmp_path, short)
    monkeypatch.setenv("FEMU_STUB_LOG", str(sdk.log))
    monkeypatch.delenv("FEMU_STUB_FAIL_ON", raising=False)
    monkeypatch.delenv("FEMU_STUB_HANG_ON", raising=False)
    monkeypatch.delenv("FEMU_STUB_OUTCOME", raising=False)
    monkeypatch.delenv("ZXPY_SDK_CFG", raising=False)
    yield sdk
    shutil.rmtree(short, ignore_errors=True)


def run_main(fake: FakeSdk, *extra: str, cfg_extra: str = "") -> int:
    return femu.main(["run", "--config", str(fake.config(cfg_extra)), "--source-dir", str(REPO),
                      "--out", str(fake.root / "out"), "--kvm-device", str(fake.kvm), *extra])


def expected_ffx_sequence(fake: FakeSdk) -> list[list[str]]:
    tmp = fake.isolate
    return [
        ["config", "analytics", "disable"],
        ["config", "set", "log.enabled", "true"],
        ["config", "set", "log.dir", f"{tmp}/ffx_logs"],
        ["config", "set", "test.is_isolated", "true"],
        ["config", "set", "test.experimental_structured_output", "true"],
        ["daemon", "start", "--background"],
        ["emu", "stop", "--all"],
        ["package", "build", f"{tmp}/package/build_manifest.txt", "-o", f"{tmp}/package_out",
         "--api-level", str(API_LEVEL)],
        ["@json", "product", "lookup", "minimal.x64", SDK_ID, "--base-url", f"gs://fuchsia/development/{SDK_ID}"],
        ["product", "download", "gs://stub-bucket/transfer.json", f"{tmp}/product_bundle"],
        ["emu", "start", f"{tmp}/product_bundle", "--headless", "--net", "user", "--accel", "auto",
         "--name", EMU, "--startup-timeout", "90", "--log", f"{tmp}/emulator.log"],
        ["@target", "target", "wait", "-t", "120"],
        ["repository", "create", f"{tmp}/repo"],
        ["repository", "publish", "--package", f"{tmp}/package_out/package_manifest.json", f"{tmp}/repo"],
        ["repository", "server", "start", "--background", "--address", "[::]:0", "--repo-path", f"{tmp}/repo",
         "--repository", REPO_NAME],
        ["@target", "target", "repository", "register", "--repository", REPO_NAME],
        ["@target", "test", "run", URL, "--output-directory", f"{tmp}/test_output", "--timeout", "1200"],
        ["emu", "stop", EMU],
        ["repository", "server", "stop", REPO_NAME],
        ["daemon", "stop"],
    ]


def test_passing_run_exact_command_sequence(fake: FakeSdk, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_main(fake) == 0
    assert fake.ffx_commands() == expected_ffx_sequence(fake)
    # Every ffx call ran with the isolated environment.
    for call in fake.calls("ffx"):
        env = call["env"]
        assert env == {"HOME": f"{fake.isolate}/home", "FFX_ISOLATE_DIR": f"{fake.isolate}/ffx_isolate",
                       "TMPDIR": str(fake.isolate)}
    # The test output was replayed.
    out, err = capsys.readouterr()
    assert "PASS s01 Threads.Basics\n1 passed, 0 failed\n" in out
    assert "stub stderr line" in err
    # A passing run leaves no temp dir behind.
    assert not fake.isolate.exists()


def test_build_and_package_contents(fake: FakeSdk) -> None:
    assert run_main(fake) == 0
    main_sources, helpers = femu.conformance_sources(REPO)
    compiles = [c["argv"] for c in fake.calls("clang") if "-c" in c["argv"]]  # type: ignore[operator]
    links = [c["argv"] for c in fake.calls("clang")
             if "-c" not in c["argv"] and "-o" in c["argv"]]  # type: ignore[operator]
    assert len(compiles) == len(main_sources) + len(helpers)
    sysroot = fake.sdk / "arch" / "x64" / "sysroot"
    for argv in compiles + links:
        assert isinstance(argv, list)
        assert "--target=x86_64-unknown-fuchsia" in argv
        assert f"--sysroot={sysroot}" in argv
    for argv in compiles:
        assert isinstance(argv, list)
        assert f"-ffuchsia-api-level={API_LEVEL}" in argv
        assert f"-I{fake.sdk / 'pkg' / 'fdio' / 'include'}" in argv
    for argv in links:
        # Everything named, no Fuchsia driver defaults needed: lld, the SDK's crt, loader name and libraries.
        assert isinstance(argv, list)
        assert {"-fuse-ld=lld", "-nostdlib", "-Wl,--dynamic-linker=ld.so.1"} <= set(argv)
        assert argv.index(str(sysroot / "lib" / "Scrt1.o")) < argv.index("-lfdio")
        assert argv.index("-lfdio") < argv.index("-lzircon") < argv.index("-lc")
        assert [a for a in argv if a.startswith("-L")] == [f"-L{fake.sdk / 'arch' / 'x64' / 'lib'}",
                                                           f"-L{sysroot / 'lib'}"]
    tfuncs = [a for a in compiles if any(str(x).endswith("tfuncs.c") for x in a)]  # type: ignore[union-attr]
    assert len(tfuncs) == 1
    assert "-fno-sanitize=safe-stack" in tfuncs[0] and "-fno-stack-protector" in tfuncs[0]  # type: ignore[operator]
    outputs = sorted(Path(a[a.index("-o") + 1]).name for a in links)  # type: ignore[union-attr,index]
    assert outputs == ["conformance_helper", "conformance_killself", "zx_conformance"]

    (cmc,) = fake.calls("cmc")
    cml = json.loads(str(cmc["cml"]))
    assert cml["program"] == {"runner": "elf_test_runner", "binary": "bin/zx_conformance"}
    assert {"protocol": ["fuchsia.process.Launcher"]} in cml["use"]
    assert cml["expose"] == [{"protocol": "fuchsia.test.Suite", "from": "self"}]

    staged = femu.build_manifest_lines(
        sdkconfig.load(fake.root / "femu.cfg"), Path("/m/package"), Path("/m/x.cm"),
        {"zx_conformance": Path("/b/zx_conformance")})
    assert f"lib/ld.so.1={sysroot}/dist/lib/ld.so.1" in staged
    assert f"lib/libfdio.so={fake.sdk}/arch/x64/dist/libfdio.so" in staged
    assert not any("libzircon" in line for line in staged)


def test_package_manifest_seen_by_ffx(fake: FakeSdk) -> None:
    """What `ffx package build` was given: binaries, loader and fdio from the SDK, never libzircon."""
    assert run_main(fake, cfg_extra="[test]\nkeep_tmp = true\n") == 0
    manifest = json.loads((fake.isolate / "package_out" / "package_manifest.json").read_text())
    lines = manifest["stub_build_manifest"]
    dests = sorted(line.split("=", 1)[0] for line in lines)
    assert dests == ["bin/conformance_helper", "bin/conformance_killself", "bin/zx_conformance", "lib/ld.so.1",
                     "lib/libfdio.so", "meta/package", "meta/zx_conformance.cm"]
    meta_package = Path(next(line.split("=", 1)[1] for line in lines if line.startswith("meta/package=")))
    assert json.loads(meta_package.read_text()) == {"name": "zx_conformance", "version": "0"}


def test_failing_summary_fails_and_cleans_up(fake: FakeSdk, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("FEMU_STUB_OUTCOME", "FAILED")
    assert run_main(fake) == 1
    cmds = fake.ffx_commands()
    assert cmds[-3:] == [["emu", "stop", EMU], ["repository", "server", "stop", REPO_NAME], ["daemon", "stop"]]
    out, err = capsys.readouterr()
    assert "FAIL s01 Threads.Basics: stub failure" in out
    assert "FAILED on FEMU" in err
    assert fake.isolate.is_dir()  # logs kept for a failed run
    assert (fake.isolate / "femu_steps.log").is_file()


def test_missing_summary_fails(fake: FakeSdk, monkeypatch: pytest.MonkeyPatch,
                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("FEMU_STUB_OUTCOME", "NONE")
    assert run_main(fake) == 1
    assert "no test summary" in capsys.readouterr().err
    assert fake.ffx_commands()[-1] == ["daemon", "stop"]


@pytest.mark.parametrize(
    ("fail_on", "stops"),
    [
        ("daemon start", [["daemon", "stop"]]),
        ("product lookup", [["daemon", "stop"]]),
        ("emu start", [["emu", "stop", EMU], ["daemon", "stop"]]),
        ("target wait", [["emu", "stop", EMU], ["daemon", "stop"]]),
        ("repository publish", [["emu", "stop", EMU], ["daemon", "stop"]]),
        ("repository server start",
         [["emu", "stop", EMU], ["repository", "server", "stop", REPO_NAME], ["daemon", "stop"]]),
        ("target repository register",
         [["emu", "stop", EMU], ["repository", "server", "stop", REPO_NAME], ["daemon", "stop"]]),
    ],
)
def test_cleanup_runs_when_a_step_fails(fake: FakeSdk, monkeypatch: pytest.MonkeyPatch, fail_on: str,
                                        stops: list[list[str]]) -> None:
    monkeypatch.setenv("FEMU_STUB_FAIL_ON", fail_on)
    assert run_main(fake) == 2
    cmds = [c[1:] if c[0] in ("@target", "@json") else c for c in fake.ffx_commands()]
    failed_at = next(i for i, c in enumerate(cmds) if " ".join(c).startswith(fail_on))
    # Nothing after the failed step but the cleanups, in order.
    assert cmds[failed_at + 1:] == stops
    assert not any(c[:2] == ["test", "run"] for c in cmds)


def test_build_failure_starts_nothing(fake: FakeSdk, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("FEMU_STUB_FAIL_ON", "clang")
    assert run_main(fake) == 2
    assert fake.calls("ffx") == []
    assert "compiling" in capsys.readouterr().err
    assert not fake.isolate.exists()


def test_prefetched_product_bundle_and_options(fake: FakeSdk, tmp_path: Path) -> None:
    pb = tmp_path / "pb"
    touch(pb / "product_bundle.json", "{}")
    extra = (f"[emulator]\nproduct_bundle_dir = {pb}\nengine = qemu\nname = {EMU}\nstartup_timeout = 200\n"
             "[test]\nmin_severity_logs = TRACE\n")
    assert run_main(fake, "--", "-k", "s13", cfg_extra=extra) == 0
    cmds = fake.ffx_commands()
    assert not any("product" in c for c in cmds)
    (start,) = [c for c in cmds if c[:2] == ["emu", "start"]]
    assert start[2] == str(pb)
    assert start[-2:] == ["--engine", "qemu"] and "200" in start
    (run,) = [c for c in cmds if c[1:3] == ["test", "run"]]
    assert run[-5:] == ["--min-severity-logs", "TRACE", "--", "-k", "s13"]


def test_no_kvm_is_a_visible_skip(fake: FakeSdk, capsys: pytest.CaptureFixture[str]) -> None:
    rc = femu.main(["run", "--config", str(fake.config()), "--source-dir", str(REPO),
                    "--kvm-device", str(fake.root / "no-such-kvm")])
    assert rc == 0
    assert capsys.readouterr().out.startswith("skipped: ")
    assert fake.calls() == []


def test_preflight_names_each_missing_piece(fake: FakeSdk, tmp_path: Path) -> None:
    (fake.sdk / "tools" / "x64" / "cmc").unlink()
    (fake.sdk / "arch" / "x64" / "dist" / "libfdio.so").unlink()
    (fake.sdk / "arch" / "x64" / "sysroot" / "lib" / "Scrt1.o").unlink()
    cfg = sdkconfig.load(fake.config())
    long_tmp = tmp_path / ("x" * 80)
    pre = femu.preflight(cfg, long_tmp, kvm_device=fake.kvm)
    text = "\n".join(pre.problems)
    assert "cmc" in text and "dist/libfdio.so" in text and "Scrt1.o" in text and "too long" in text
    assert len(pre.problems) == 4
    assert pre.sdk_id == SDK_ID and pre.api_level == API_LEVEL
    # Compiling objects needs none of those.
    assert femu.preflight(cfg, long_tmp, stage="objects").problems == ()
    assert run_main(fake) == 2
    assert fake.calls() == []


def test_stand_in_sdk_is_refused_for_run(fake: FakeSdk) -> None:
    manifest = fake.sdk / "meta" / "manifest.json"
    doc = json.loads(manifest.read_text())
    doc["zxpy_stand_in"] = True
    manifest.write_text(json.dumps(doc))
    pre = femu.preflight(sdkconfig.load(fake.config()), fake.isolate, kvm_device=fake.kvm)
    assert any("stand-in" in p for p in pre.problems)


def test_no_sdk_configured_skips(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`python -m fuchsia_tools.femu` with the shipped config (no SDK named) says it skipped, and exits 0."""
    monkeypatch.delenv("ZXPY_SDK_CFG", raising=False)
    # The fuchsia_tools under test (never installed: it is the checkout's).
    monkeypatch.setenv("PYTHONPATH", str(Path(femu.__file__).resolve().parent.parent))
    proc = subprocess.run([sys.executable, "-m", "fuchsia_tools.femu", "--source-dir", str(REPO)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == femu.SKIP_NO_SDK + "\n"
    empty = tmp_path / "empty.cfg"
    empty.write_text("[sdk]\npath =\n", encoding="utf-8")
    env = dict(os.environ, ZXPY_SDK_CFG=str(empty))
    proc = subprocess.run([sys.executable, "-m", "fuchsia_tools.femu", "build", "--source-dir", str(REPO)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert (proc.returncode, proc.stdout) == (0, femu.SKIP_NO_SDK + "\n")


def test_parse_run_summary(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "out.txt").write_text("hello\n")
    doc = {"data": {"outcome": "PASSED", "suites": [{"name": "s", "outcome": "PASSED", "cases": [
        {"name": "main", "outcome": "PASSED", "artifact_dir": "a", "artifacts": {"out.txt": {
            "artifact_type": "STDOUT"}}}]}]}}
    (tmp_path / "run_summary.json").write_text(json.dumps(doc))
    summary = femu.parse_run_summary(tmp_path)
    assert summary.passed
    assert [a.path for a in summary.stream("STDOUT")] == [tmp_path / "a" / "out.txt"]
    # One failing case fails everything, even when the suite claims PASSED.
    doc["data"]["suites"][0]["cases"].append({"name": "other", "outcome": "FAILED"})  # type: ignore[index]
    (tmp_path / "run_summary.json").write_text(json.dumps(doc))
    assert not femu.parse_run_summary(tmp_path).passed
    # A suite with no cases is not a pass.
    doc["data"]["suites"][0]["cases"] = []  # type: ignore[index]
    (tmp_path / "run_summary.json").write_text(json.dumps(doc))
    assert not femu.parse_run_summary(tmp_path).passed
    (tmp_path / "run_summary.json").write_text(json.dumps({"data": {"suites": []}}))
    with pytest.raises(femu.FemuError, match="no suites"):
        femu.parse_run_summary(tmp_path)
    (tmp_path / "run_summary.json").unlink()
    with pytest.raises(femu.FemuError, match="no test summary"):
        femu.parse_run_summary(tmp_path)


def test_ffx_argv_isolation_flags(tmp_path: Path) -> None:
    ffx = tmp_path / "ffx"
    iso = tmp_path / "iso"
    assert femu.ffx_argv(ffx, iso, "emu", "list") == [str(ffx), "--isolate-dir", str(iso), "emu", "list"]
    assert femu.ffx_argv(ffx, iso, "target", "wait", target="e", machine_json=True) == [
        str(ffx), "--isolate-dir", str(iso), "--target", "e", "--machine", "json", "target", "wait"]
    env = femu.ffx_env(tmp_path, {"PATH": "/bin", "HOME": "/root"})
    assert env["HOME"] == str(tmp_path / "home") and env["PATH"] == "/bin"
    assert env["FFX_ISOLATE_DIR"] == str(tmp_path / "ffx_isolate")
    assert all(env[k] == str(tmp_path) for k in ("TMP", "TEMP", "TMPDIR", "TEMPDIR"))
    assert femu.socket_path_budget(Path("/tmp/zxf-abc"), "zxpy-femu") < femu.UNIX_SOCKET_LIMIT


# ------------------------------------------------------------------------------- skipping without an SDK


def _copy_outside_the_checkout(root: Path) -> Path:
    """A copy of the fuchsia_tools package in a directory that is not a checkout, beside a ``zxpy`` that fails
    to import (the runner must need neither the binding nor its compiled module); returns the directory to put
    on PYTHONPATH."""
    site = root / "site"
    shutil.copytree(Path(femu.__file__).resolve().parent, site / "fuchsia_tools",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (site / "zxpy").mkdir()
    (site / "zxpy" / "__init__.py").write_text('raise ImportError("the FEMU runner imported zxpy")\n')
    return site


@pytest.mark.parametrize("command", [[], ["run"], ["build"], ["objects", "--cpu", "arm64"]])
def test_no_sdk_skips_outside_the_checkout(tmp_path: Path, command: list[str]) -> None:
    """Outside the checkout, no --source-dir: with no SDK configured it skips before looking for the
    conformance sources -- whether no config is found at all or $ZXPY_SDK_CFG names one without an SDK."""
    site = _copy_outside_the_checkout(tmp_path)
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "ZXPY_SDK_CFG"}
    env["PYTHONPATH"] = str(site)
    no_sdk = tmp_path / "no_sdk.cfg"
    no_sdk.write_text("[sdk]\npath =\n[emulator]\nnet = user\n", encoding="utf-8")
    for extra in ({}, {"ZXPY_SDK_CFG": str(no_sdk)}):
        proc = subprocess.run([sys.executable, "-m", "fuchsia_tools.femu", *command], cwd=work, env={**env, **extra},
                              capture_output=True, text=True, timeout=120, check=False)
        assert (proc.returncode, proc.stdout) == (0, femu.SKIP_NO_SDK + "\n"), (extra, proc.stderr)
        assert proc.stderr == ""
    # The copy really is outside any checkout: with an SDK configured it does look for the sources.
    assert not (site / "conformance").exists()


def test_configured_sdk_without_sources_is_an_error(fake: FakeSdk, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(femu, "_PACKAGE_PARENT", tmp_path / "site")
    monkeypatch.chdir(tmp_path)
    assert femu.main(["run", "--config", str(fake.config()), "--kvm-device", str(fake.kvm)]) == 2
    assert "cannot find the conformance/ sources" in capsys.readouterr().err
    assert fake.calls() == [] and not fake.isolate.exists()


def test_config_default_is_env_then_checkout(fake: FakeSdk, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """No --config: $ZXPY_SDK_CFG wins over the checkout's file (which names no SDK)."""
    monkeypatch.setenv("ZXPY_SDK_CFG", str(fake.config()))
    monkeypatch.chdir(REPO)
    assert femu.main(["run", "--out", str(fake.root / "out"), "--kvm-device", str(fake.kvm)]) == 0
    assert fake.ffx_commands() == expected_ffx_sequence(fake)
    monkeypatch.delenv("ZXPY_SDK_CFG")
    capsys.readouterr()
    assert femu.main(["run", "--kvm-device", str(fake.kvm)]) == 0
    assert capsys.readouterr().out == femu.SKIP_NO_SDK + "\n"


# ------------------------------------------------------------------------------- timeouts


def _gone(pid: int) -> bool:
    """True when ``pid`` no longer runs (absent, or a zombie nobody has reaped yet)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


@pytest.mark.parametrize(
    ("hang_on", "cfg_extra", "status", "stops"),
    [
        ("emu start", "[emulator]\nstartup_timeout = 1\n", 2, [["emu", "stop", EMU], ["daemon", "stop"]]),
        ("target wait", "[emulator]\ntarget_wait_timeout = 1\n", 2, [["emu", "stop", EMU], ["daemon", "stop"]]),
        ("test run", "[test]\ntimeout = 1\n", 1,
         [["emu", "stop", EMU], ["repository", "server", "stop", REPO_NAME], ["daemon", "stop"]]),
        ("repository create", "", 2, [["emu", "stop", EMU], ["daemon", "stop"]]),
    ],
)
def test_a_hung_step_is_killed_and_cleanup_runs(fake: FakeSdk, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str], hang_on: str, cfg_extra: str,
                                                status: int, stops: list[list[str]]) -> None:
    monkeypatch.setattr(femu, "STEP_GRACE", 2)
    if not cfg_extra:
        monkeypatch.setitem(femu.STEP_TIMEOUTS, "default", 3)
    monkeypatch.setenv("FEMU_STUB_HANG_ON", hang_on)
    assert run_main(fake, cfg_extra=cfg_extra) == status
    err = capsys.readouterr().err
    assert "timed out after 3 s and was killed" in err
    cmds = [c[1:] if c[0] in ("@target", "@json") else c for c in fake.ffx_commands()]
    hung_at = next(i for i, c in enumerate(cmds) if " ".join(c).startswith(hang_on))
    assert cmds[hung_at + 1:] == stops
    if hang_on == "test run":
        assert cmds[hung_at][-2:] == ["--timeout", "1"]
    # The hung ffx and the process it left holding its output were both killed.
    (pids,) = Path(str(fake.log) + ".hang").read_text().splitlines()
    assert all(_gone(int(pid)) for pid in pids.split())
    assert "timed out" in (fake.isolate / "femu_steps.log").read_text()


def test_a_hung_cleanup_step_does_not_stop_the_others(fake: FakeSdk, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(femu.STEP_TIMEOUTS, "default", 3)
    monkeypatch.setenv("FEMU_STUB_HANG_ON", f"emu stop {EMU}")
    assert run_main(fake) == 0  # the verdict stands; the cleanup reports its own trouble
    assert fake.ffx_commands()[-3:] == [["emu", "stop", EMU], ["repository", "server", "stop", REPO_NAME],
                                        ["daemon", "stop"]]


def test_step_timeouts_follow_the_config(fake: FakeSdk) -> None:
    cfg = sdkconfig.load(fake.config("[emulator]\nstartup_timeout = 11\ntarget_wait_timeout = 12\n"
                                     "[test]\ntimeout = 13\n"))
    plan = femu.make_plan(cfg, femu.Preflight(None, (), ffx=Path("/f")), Path("/t"))
    assert femu.step_timeout(plan, femu.emu_start_argv(plan)) == 11 + femu.STEP_GRACE
    assert femu.step_timeout(plan, femu.target_wait_argv(plan)) == 12 + femu.STEP_GRACE
    assert femu.step_timeout(plan, femu.test_run_argv(plan)) == 13 + femu.STEP_GRACE
    assert femu.test_run_argv(plan)[-2:] == ["--timeout", "13"]
    assert femu.step_timeout(plan, femu.product_download_argv(plan, "u")) == femu.STEP_TIMEOUTS["product download"]
    assert femu.step_timeout(plan, plan.cmd("repository", "create", "x")) == femu.STEP_TIMEOUTS["default"]


# ------------------------------------------------------------------------------- config checks, temp dir


@pytest.mark.parametrize(
    ("cfg_extra", "key"),
    [
        ("[emulator]\nstartup_timeout = abc\n", "[emulator] startup_timeout"),
        ("[emulator]\nnet = tapp\n", "[emulator] net"),
        ("[test]\nkeep_tmp = maybe\n", "[test] keep_tmp"),
        ("[emulator]\nheadles = false\n", "[emulator] headles"),
    ],
)
def test_bad_runner_key_is_one_error_and_leaves_nothing(fake: FakeSdk, capsys: pytest.CaptureFixture[str],
                                                        cfg_extra: str, key: str) -> None:
    assert run_main(fake, cfg_extra=cfg_extra) == 2
    err = capsys.readouterr().err
    assert err.count("femu: error: ") == 1
    assert f"{fake.root / 'femu.cfg'}: {key}: " in err
    assert fake.calls() == []
    assert not fake.isolate.exists()  # checked before the temp dir was made


@pytest.mark.parametrize("exc", [femu.FemuError("late failure"), RuntimeError("unexpected")])
def test_temp_dir_never_leaks_before_the_run(fake: FakeSdk, monkeypatch: pytest.MonkeyPatch,
                                             exc: Exception) -> None:
    made: list[Path] = []

    def failing_plan(*args: object, **kwargs: object) -> femu.Plan:
        made.append(fake.isolate)
        assert fake.isolate.is_dir()
        raise exc

    monkeypatch.setattr(femu, "make_plan", failing_plan)
    if isinstance(exc, femu.FemuError):
        assert run_main(fake) == 2
    else:
        with pytest.raises(RuntimeError, match="unexpected"):
            run_main(fake)
    assert made and not fake.isolate.exists()
    assert fake.calls("ffx") == []


def test_default_temp_dir_never_leaks(fake: FakeSdk, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without [ffx] isolate_dir the runner makes /tmp/zxf-*; a preflight failure removes it."""
    made: list[Path] = []
    real = femu._make_tmp

    def spy(cfg: sdkconfig.SdkConfig) -> Path:
        path = real(cfg)
        made.append(path)
        return path

    monkeypatch.setattr(femu, "_make_tmp", spy)
    (fake.sdk / "tools" / "x64" / "cmc").unlink()
    cfg = fake.config()
    cfg.write_text(cfg.read_text().replace(f"isolate_dir = {fake.isolate}\n", ""))
    assert femu.main(["run", "--config", str(cfg), "--source-dir", str(REPO), "--kvm-device", str(fake.kvm)]) == 2
    (tmp,) = made
    assert tmp.name.startswith("zxf-") and not tmp.exists()


def test_relative_isolate_dir_is_taken_from_the_config_file(fake: FakeSdk, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    cfg_path = fake.config()
    cfg_path.write_text(cfg_path.read_text().replace(f"isolate_dir = {fake.isolate}", "isolate_dir = iso/run"))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    tmp = femu._make_tmp(sdkconfig.load(cfg_path))
    assert tmp == (fake.root / "iso" / "run").resolve() and tmp.is_dir()
    assert not (elsewhere / "iso").exists()
    # A non-empty isolate dir is refused, naming the key and the file.
    (tmp / "stale").touch()
    with pytest.raises(femu.FemuError, match=r"\[ffx\] isolate_dir: .* is not an empty directory") as info:
        femu._make_tmp(sdkconfig.load(cfg_path))
    assert str(cfg_path) in str(info.value)


def test_product_bundle_dir_without_bundle_is_downloaded_into(fake: FakeSdk, tmp_path: Path) -> None:
    pb = tmp_path / "pb"
    pb.mkdir()  # exists, but holds no product_bundle.json: not prefetched
    assert run_main(fake, cfg_extra=f"[emulator]\nproduct_bundle_dir = {pb}\n") == 0
    cmds = fake.ffx_commands()
    assert ["product", "download", "gs://stub-bucket/transfer.json", str(pb)] in cmds
    (start,) = [c for c in cmds if c[:2] == ["emu", "start"]]
    assert start[2] == str(pb)


def test_product_bundle_dir_with_other_files_is_refused(fake: FakeSdk, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    pb = tmp_path / "pb"
    touch(pb / "something_else.txt")
    assert run_main(fake, cfg_extra=f"[emulator]\nproduct_bundle_dir = {pb}\n") == 2
    assert "no product_bundle.json" in capsys.readouterr().err
    assert fake.calls("ffx") == []


def test_shipped_runner_defaults_are_the_real_ones(tmp_path: Path) -> None:
    """Every runner key the shipped fuchsia_sdk.cfg documents (commented out) is accepted, and its documented
    value is the default the runner uses."""
    shipped = (REPO / "fuchsia_sdk.cfg").read_text(encoding="utf-8")
    runner = shipped[shipped.index("[emulator]"):].splitlines()
    setting = re.compile(r"#?([a-z_]+) =( .*)?")
    documented = [line.lstrip("#") for line in runner if setting.fullmatch(line)]
    keys = {line.split(" =")[0] for line in documented}
    assert keys == {k for s in ("emulator", "ffx", "repo", "test") for k in sdkconfig.KNOWN_KEYS[s]}
    uncommented = tmp_path / "uncommented.cfg"
    uncommented.write_text("\n".join(line.lstrip("#") if setting.fullmatch(line) else line for line in runner))
    bare = tmp_path / "bare.cfg"
    bare.write_text("[target]\ncpu = x64\n")
    pre = femu.Preflight(None, (), ffx=Path("/f"))
    assert femu.make_plan(sdkconfig.load(uncommented), pre, Path("/t")) == \
        femu.make_plan(sdkconfig.load(bare), pre, Path("/t"))


def test_headless_false_drops_the_flag(fake: FakeSdk) -> None:
    pre = femu.Preflight(None, (), ffx=Path("/f"))
    plan = femu.make_plan(sdkconfig.load(fake.config("[emulator]\nheadless = no\nnet = TAP\n")), pre, Path("/t"))
    argv = femu.emu_start_argv(plan)
    assert "--headless" not in argv and argv[argv.index("--net") + 1] == "tap"


# ------------------------------------------------------------------------------- a legacy (2021) SDK layout


def test_legacy_sdk_builds_without_an_api_level(fake: FakeSdk, capsys: pytest.CaptureFixture[str]) -> None:
    """An SDK without meta/manifest.json and version_history.json (the 2021 layout) builds as it is: no
    -ffuchsia-api-level anywhere, fdio's stub found under pkg/fdio, and the output says so."""
    fake.make_legacy()
    cfg = fake.config()
    assert femu.main(["build", "--config", str(cfg), "--source-dir", str(REPO), "--out", str(fake.root / "out")]) == 0
    out, err = capsys.readouterr()
    assert f"against Fuchsia SDK at {fake.sdk} (no meta/manifest.json: a pre-API-level layout); no API levels" in err
    assert sorted(line.split(":")[0] for line in out.splitlines()) == \
        ["conformance_helper", "conformance_killself", "zx_conformance"]
    argvs = [c["argv"] for c in fake.calls("clang")]
    assert argvs and not any(str(a).startswith("-ffuchsia-api-level") for argv in argvs for a in argv)  # type: ignore[attr-defined]
    links = [a for a in argvs if "-c" not in a and "-o" in a]  # type: ignore[operator]
    assert len(links) == 3
    sysroot = fake.sdk / "arch" / "x64" / "sysroot"
    for argv in links:
        assert [a for a in argv if a.startswith("-L")] == [  # type: ignore[union-attr]
            f"-L{fake.sdk / 'pkg' / 'fdio' / 'arch' / 'x64' / 'lib'}", f"-L{sysroot / 'lib'}"]


def test_legacy_sdk_run_needs_a_prefetched_bundle_and_packages_its_fdio(fake: FakeSdk, tmp_path: Path) -> None:
    """No SDK id to look a product bundle up by: preflight asks for a prefetched one; with it the run packages
    pkg/fdio's runtime libfdio.so and gives `ffx package build` no --api-level."""
    fake.make_legacy()
    pre = femu.preflight(sdkconfig.load(fake.config()), fake.isolate, kvm_device=fake.kvm)
    (problem,) = pre.problems
    assert "no SDK id" in problem and "[emulator] product_bundle_dir" in problem
    assert pre.sdk_id == "" and pre.api_level is None
    pb = tmp_path / "pb"
    touch(pb / "product_bundle.json", "{}")
    assert run_main(fake, cfg_extra=f"[emulator]\nproduct_bundle_dir = {pb}\n[test]\nkeep_tmp = true\n") == 0
    (build,) = [c for c in fake.ffx_commands() if c[:2] == ["package", "build"]]
    assert build == ["package", "build", f"{fake.isolate}/package/build_manifest.txt", "-o",
                     f"{fake.isolate}/package_out"]
    lines = json.loads((fake.isolate / "package_out" / "package_manifest.json").read_text())["stub_build_manifest"]
    assert f"lib/libfdio.so={fake.sdk / 'pkg' / 'fdio' / 'arch' / 'x64' / 'dist' / 'libfdio.so'}" in lines


# ------------------------------------------------------------------------------- the real January 2021 SDK

DF_1_PIE = 0x08000000
SDK_LIBS = ("libc.so", "libzircon.so", "libfdio.so")


def _need_link_tools() -> None:
    """clang and lld (and pyelftools to read the result); CI installs them, so there their absence fails."""
    import importlib.util

    for present, what in ((shutil.which("clang"), "clang"), (shutil.which("ld.lld"), "lld"),
                          (importlib.util.find_spec("elftools"), "pyelftools")):
        require(present, f"{what} is not installed")


def _femu_build(cfg: Path, work: Path) -> dict[str, Path]:
    """`python -m fuchsia_tools.femu build --cpu x64` as a user runs it; program name -> executable."""
    env = {k: v for k, v in os.environ.items() if k != "ZXPY_SDK_CFG"}
    env["PYTHONPATH"] = str(Path(femu.__file__).resolve().parent.parent)
    proc = subprocess.run([sys.executable, "-m", "fuchsia_tools.femu", "build", "--config", str(cfg), "--cpu", "x64",
                           "--source-dir", str(REPO), "--out", str(work / "out")],
                          cwd=work, env=env, capture_output=True, text=True, timeout=900, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "no API levels, so no -ffuchsia-api-level" in proc.stderr
    programs = {name: Path(path) for name, path in (line.split(": ", 1) for line in proc.stdout.splitlines())}
    assert sorted(programs) == ["conformance_helper", "conformance_killself", "zx_conformance"]
    return programs


@pytest.fixture(scope="module")
def sdk2021_build(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Path]]:
    """`femu build` against the real 2021 SDK, exactly as fetched: (SDK, programs)."""
    sdk = real_sdk_2021()
    _need_link_tools()
    work = tmp_path_factory.mktemp("femu-2021")
    cfg = work / "sdk2021.cfg"
    cfg.write_text(f"[sdk]\npath = {sdk}\n[target]\ncpu = x64\napi_level = auto\n", encoding="utf-8")
    return sdk, _femu_build(cfg, work)


@pytest.fixture(scope="module")
def standin2021_build(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Path]]:
    """`femu build` against the 2021-vintage stand-in (made from tests/data, no network): (SDK, programs)."""
    _need_link_tools()
    sdk = tmp_path_factory.mktemp("standin-2021") / "sdk"
    proc = subprocess.run([sys.executable, standin_sysroot.__file__, "--vintage", "2021",
                           "--out", str(sdk)], capture_output=True, text=True, timeout=600, check=False)
    if proc.returncode != 0 and "musl" in proc.stderr and not IN_CI:
        pytest.skip(f"no musl headers for x64: {proc.stderr.strip()}")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return sdk, _femu_build(sdk / "zxpy_standin.cfg", sdk.parent)


def _elf_dynamic(path: Path) -> tuple[str, str, str | None, list[str], int, dict[str, tuple[bool, str]]]:
    """(e_machine, e_type, PT_INTERP, DT_NEEDED, DT_FLAGS_1, name -> (defined, bind) of .dynsym)."""
    from elftools.elf.elffile import ELFFile

    with path.open("rb") as fh:
        elf = ELFFile(fh)
        interp = next((seg.get_interp_name() for seg in elf.iter_segments() if seg["p_type"] == "PT_INTERP"), None)
        dyn = elf.get_section_by_name(".dynamic")
        needed = [t.needed for t in dyn.iter_tags() if t.entry.d_tag == "DT_NEEDED"]
        flags_1 = next((t.entry.d_val for t in dyn.iter_tags() if t.entry.d_tag == "DT_FLAGS_1"), 0)
        syms = {s.name: (s["st_shndx"] != "SHN_UNDEF", s["st_info"]["bind"])
                for s in elf.get_section_by_name(".dynsym").iter_symbols() if s.name}
        return elf["e_machine"], elf["e_type"], interp, needed, flags_1, syms


def _sdk_library(sdk: Path, name: str) -> Path:
    """Where the 2021 SDK keeps each link library (fdio's is in its own package)."""
    if name == "libfdio.so":
        return sdk / "pkg" / "fdio" / "arch" / "x64" / "lib" / name
    return sdk / "arch" / "x64" / "sysroot" / "lib" / name


@pytest.fixture(params=["real", "stand-in"])
def build_2021(request: pytest.FixtureRequest) -> tuple[Path, dict[str, Path]]:
    """The real 2021 SDK (only with ZXPY_SDK_2021) and its stand-in (always: CI proves the 2021 layout)."""
    fixture = "sdk2021_build" if request.param == "real" else "standin2021_build"
    value: tuple[Path, dict[str, Path]] = request.getfixturevalue(fixture)
    return value


def test_2021_sdk_links_fuchsia_pie_executables(build_2021: tuple[Path, dict[str, Path]]) -> None:
    """Each program is a PIE for x86-64 that the SDK's dynamic linker loads (PT_INTERP ld.so.1) and that needs
    only the SDK's libc, the vDSO stub libzircon and (linked into every program, as Fuchsia does) libfdio."""
    _, programs = build_2021
    for name, exe in programs.items():
        machine, etype, interp, needed, flags_1, _ = _elf_dynamic(exe)
        assert (machine, etype, interp) == ("EM_X86_64", "ET_DYN", "ld.so.1"), name
        assert flags_1 & DF_1_PIE, name
        assert {"libc.so", "libzircon.so"} <= set(needed) <= set(SDK_LIBS), (name, needed)
    assert "libfdio.so" in _elf_dynamic(programs["zx_conformance"])[3]  # fdio_spawn of the helpers


def test_2021_sdk_resolves_every_import(build_2021: tuple[Path, dict[str, Path]]) -> None:
    """Every undefined dynamic symbol of each program is defined by one of the SDK libraries it names in
    DT_NEEDED: the real SDK's own libraries, or for the stand-in its stubs and the real export lists (data)."""
    sdk, programs = build_2021
    exports = {lib: {n for n, (defined, _) in _elf_dynamic(_sdk_library(sdk, lib))[5].items() if defined}
               for lib in SDK_LIBS}
    if (sdk / sdkconfig.STAND_IN_MARKER).is_file():
        data = json.loads((REPO / "tests" / "data" / "sdk_2021_abi.json").read_text(encoding="utf-8"))
        real = {lib: set(data["exports"][lib]) | set(data.get("export_objects", {}).get(lib, {}))
                for lib in SDK_LIBS}
        exports = {lib: exports[lib] & real[lib] for lib in SDK_LIBS}
    assert "zx_process_create" in exports["libzircon.so"] and "fdio_spawn_etc" in exports["libfdio.so"]
    for name, exe in programs.items():
        _, _, _, needed, _, syms = _elf_dynamic(exe)
        imports = {n for n, (defined, _) in syms.items() if not defined}
        assert "__libc_start_main" in imports, name  # started by the SDK's Scrt1.o
        provided = set().union(*(exports[lib] for lib in needed))
        assert sorted(imports - provided) == [], name
        # Syscalls come from the vDSO stub, or from libc for the few it wraps (zx_process_self, ...).
        syscalls = {n for n in imports if n.startswith("zx_")}
        assert syscalls <= exports["libzircon.so"] | exports["libc.so"], name
    main_imports = {n for n, (defined, _) in _elf_dynamic(programs["zx_conformance"])[5].items() if not defined}
    assert {"zx_process_create", "zx_task_kill", "fdio_spawn_etc"} <= main_imports
