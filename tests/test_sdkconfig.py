"""fuchsia_tools.sdkconfig: parsing and validating fuchsia_sdk.cfg (README.md, "fuchsia_sdk.cfg")."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from vintage import REPO as ROOT

from fuchsia_tools import sdkconfig
from fuchsia_tools.sdkconfig import SdkConfigError


def write(tmp_path: Path, text: str, name: str = "sdk.cfg") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_shipped_config_names_no_sdk() -> None:
    cfg = sdkconfig.load(ROOT / "fuchsia_sdk.cfg")
    assert cfg.configured is False and cfg.sdk_path is None
    assert cfg.cpu == "x64" and cfg.api_level == "auto"
    assert cfg.check_layout() == [f"{cfg.path}: no SDK configured: set [sdk] path to a Fuchsia IDK root"]


def test_missing_default_file_is_unconfigured_not_an_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv(sdkconfig.CONFIG_ENV, raising=False)
    monkeypatch.setattr(sdkconfig, "default_config_path", lambda: tmp_path / "absent.cfg")
    cfg = sdkconfig.load()
    assert cfg.path is None and not cfg.configured


def test_env_var_selects_the_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = write(tmp_path, "[target]\ncpu = arm64\n")
    monkeypatch.setenv(sdkconfig.CONFIG_ENV, str(path))
    cfg = sdkconfig.load()
    assert cfg.path == path.resolve() and cfg.cpu == "arm64" and cfg.triple == "aarch64-unknown-fuchsia"


def test_explicit_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SdkConfigError, match="does not exist") as info:
        sdkconfig.load(tmp_path / "nope.cfg")
    assert str(tmp_path / "nope.cfg") in str(info.value)


def test_paths_are_relative_to_the_file(tmp_path: Path) -> None:
    (tmp_path / "sdk").mkdir()
    (tmp_path / "py").mkdir()
    cfg = sdkconfig.load(write(tmp_path, "[sdk]\npath = sdk\n[target]\npython_include = py  # comment\n"))
    assert cfg.configured and cfg.sdk_path == (tmp_path / "sdk").resolve()
    assert cfg.python_include == (tmp_path / "py").resolve()
    assert cfg.sysroot == (tmp_path / "sdk" / "arch" / "x64" / "sysroot").resolve()
    assert cfg.fdio_include == (tmp_path / "sdk" / "pkg" / "fdio" / "include").resolve()


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[target]\ncpu = riscv128\n", "[target] cpu"),
        ("[target]\napi_level = 0\n", "[target] api_level"),
        ("[target]\napi_level = latest\n", "[target] api_level"),
        ("[sdk]\npath = does/not/exist\n", "[sdk] path"),
        ("[sdk]\nclang_dri = /usr\n", "[sdk] clang_dri"),
        ("[target]\nextra_cflags = '-O2\n", "[target] extra_cflags"),
        ("[sdk]\nhost_cpu = sparc\n", "[sdk] host_cpu"),
        ("[target]\ncxx_runtime = java\n", "[target] cxx_runtime"),  # no longer a key: zxpy is plain C
        ("[target]\ncxx_runtime = none\n", "[target] cxx_runtime"),
        ("[emulator]\nnet = tapp\n", "[emulator] net"),
        ("[emulator]\naccel = kvm\n", "[emulator] accel"),
        ("[emulator]\nengine = crosvm\n", "[emulator] engine"),
        ("[emulator]\nheadless = sometimes\n", "[emulator] headless"),
        ("[emulator]\nstartup_timeout = abc\n", "[emulator] startup_timeout"),
        ("[emulator]\ntarget_wait_timeout = 0\n", "[emulator] target_wait_timeout"),
        ("[emulator]\nstartup_timeout = -5\n", "[emulator] startup_timeout"),
        ("[emulator]\nname = my emu\n", "[emulator] name"),
        ("[emulator]\nproduct = minimal x64\n", "[emulator] product"),
        ("[emulator]\npb_base_url = gs://fuchsia/development/{sdkid}\n", "[emulator] pb_base_url"),
        ("[emulator]\npb_base_url = fuchsia/development\n", "[emulator] pb_base_url"),
        ("[emulator]\nprodcut = minimal.x64\n", "[emulator] prodcut"),
        ("[emulator]\nreuse = true\n", "[emulator] reuse"),
        ("[ffx]\nisolate = /tmp/x\n", "[ffx] isolate"),
        ("[repo]\nname = My_Repo\n", "[repo] name"),
        ("[repo]\naddress = localhost\n", "[repo] address"),
        ("[repo]\naddress = [::]:70000\n", "[repo] address"),
        ("[test]\nkeep_tmp = maybe\n", "[test] keep_tmp"),
        ("[test]\ntimeout = 1.5\n", "[test] timeout"),
        ("[test]\nmin_severity_logs = LOUD\n", "[test] min_severity_logs"),
        ("[test]\nouput_dir = x\n", "[test] ouput_dir"),
    ],
)
def test_bad_values_name_the_key_and_the_file(tmp_path: Path, text: str, key: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(SdkConfigError) as info:
        sdkconfig.load(path)
    assert isinstance(info.value, ValueError)
    assert str(path.resolve()) in str(info.value) and key in str(info.value)


def test_unparsable_file_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[sdk]\npath = a\npath = b\n")
    with pytest.raises(SdkConfigError, match="cannot parse") as info:
        sdkconfig.load(path)
    assert str(path.resolve()) in str(info.value)


def test_runner_sections_are_checked_and_normalised(tmp_path: Path) -> None:
    cfg = sdkconfig.load(write(tmp_path, (
        "[emulator]\nproduct = minimal.x64\nheadless = Yes\nnet = USER\nstartup_timeout = 0090\n"
        "[repo]\naddress = 127.0.0.1:8083\n[test]\nmin_severity_logs = trace\nkeep_tmp = off\n")))
    assert cfg.get("emulator", "product") == "minimal.x64"
    assert cfg.get("emulator", "name", "zxpy-emu") == "zxpy-emu"
    assert cfg.get("emulator", "net") == "user" and cfg.get_bool("emulator", "headless", False) is True
    assert cfg.get_int("emulator", "startup_timeout", 1) == 90
    assert cfg.get_int("emulator", "target_wait_timeout", 120) == 120
    assert cfg.get("test", "min_severity_logs") == "TRACE" and cfg.get_bool("test", "keep_tmp", True) is False
    assert cfg.get("repo", "address") == "127.0.0.1:8083"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[emualtor]\nnet = user\n", "unknown section [emualtor]"),
        ("[DEFAULT]\nnet = user\n", "[DEFAULT] section is not supported"),
    ],
)
def test_unknown_sections_are_errors(tmp_path: Path, text: str, fragment: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(SdkConfigError) as info:
        sdkconfig.load(path)
    assert str(info.value).startswith(f"{path.resolve()}: ") and fragment in str(info.value)


def test_typed_getters_name_the_key_for_configs_built_by_hand(tmp_path: Path) -> None:
    cfg = sdkconfig.SdkConfig(path=tmp_path / "x.cfg", sections={"test": {"timeout": "soon", "keep_tmp": "?"}})
    with pytest.raises(SdkConfigError, match=r"x\.cfg: \[test\] timeout: 'soon' is not a positive integer"):
        cfg.get_int("test", "timeout", 1)
    with pytest.raises(SdkConfigError, match=r"\[test\] keep_tmp: '\?' is not a boolean"):
        cfg.get_bool("test", "keep_tmp", False)


def test_runner_paths_are_relative_to_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "conf").mkdir()
    path = write(tmp_path / "conf", "[ffx]\nisolate_dir = iso\n[emulator]\nproduct_bundle_dir = ~/pb\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    cfg = sdkconfig.load(path)
    assert cfg.get_path("ffx", "isolate_dir") == (tmp_path / "conf" / "iso").resolve()
    assert cfg.get_path("emulator", "product_bundle_dir") == (tmp_path / "home" / "pb").resolve()
    assert cfg.get_path("repo", "dir") is None


def _history(levels: dict[str, dict[str, str]]) -> dict[str, object]:
    return {"data": {"name": "Platform version map", "type": "version_history", "api_levels": levels}}


def test_auto_api_level_is_the_newest_supported(tmp_path: Path) -> None:
    sdk = tmp_path / "sdk"
    sdk.mkdir()
    (sdk / "version_history.json").write_text(json.dumps(_history({
        "9": {"status": "unsupported"}, "18": {"status": "supported"}, "19": {"status": "supported"},
        "20": {"status": "in-development"}, "NEXT": {"status": "supported"},
    })))
    cfg = sdkconfig.load(write(tmp_path, f"[sdk]\npath = {sdk}\n"))
    assert cfg.resolve_api_level() == 19


def test_explicit_api_level_wins(tmp_path: Path) -> None:
    cfg = sdkconfig.load(write(tmp_path, "[target]\napi_level = 23\n"))
    assert cfg.api_level == 23 and cfg.resolve_api_level() == 23


def test_auto_without_history_means_no_api_level(tmp_path: Path) -> None:
    """An SDK without version_history.json predates API levels: 'auto' resolves to None (build without
    -ffuchsia-api-level); an integer is still the user's choice."""
    (tmp_path / "sdk").mkdir()
    cfg = sdkconfig.load(write(tmp_path, "[sdk]\npath = sdk\n"))
    assert cfg.api_level == "auto" and cfg.resolve_api_level() is None
    cfg = sdkconfig.load(write(tmp_path, "[sdk]\npath = sdk\n[target]\napi_level = 7\n"))
    assert cfg.resolve_api_level() == 7


def test_history_without_supported_levels_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "version_history.json"
    path.write_text(json.dumps(_history({"30": {"status": "in-development"}})))
    with pytest.raises(SdkConfigError, match="no supported"):
        sdkconfig.parse_version_history(path)


def test_expected_id_mismatch_is_reported(tmp_path: Path) -> None:
    sdk = tmp_path / "sdk"
    (sdk / "meta").mkdir(parents=True)
    (sdk / "meta" / "manifest.json").write_text(json.dumps({"id": "27.1", "arch": {"target": ["x64"]}}))
    cfg = sdkconfig.load(write(tmp_path, f"[sdk]\npath = {sdk}\nexpected_id = 28.0\n[target]\napi_level = 5\n"))
    problems = cfg.check_layout(need_python=False)
    assert sum("differs from [sdk] expected_id" in p for p in problems) == 1
    assert not any("does not list cpu" in p for p in problems)
    assert cfg.is_stand_in is False


def _sdk_tree(tmp_path: Path, manifest: object) -> Path:
    sdk = tmp_path / "sdk"
    (sdk / "meta").mkdir(parents=True)
    (sdk / "meta" / "manifest.json").write_text(json.dumps(manifest))
    return sdk


def test_manifest_needs_every_idk_key(tmp_path: Path) -> None:
    """The IDK's meta/manifest.json keys: arch, id, parts, root and schema_version; one problem per missing key,
    each naming the config file and [sdk] path."""
    sdk = _sdk_tree(tmp_path, {"id": "27.1", "arch": {"target": ["x64"]}})
    cfg_path = write(tmp_path, f"[sdk]\npath = {sdk}\n[target]\napi_level = 5\n")
    problems = sdkconfig.load(cfg_path).check_layout(need_python=False)
    manifest_problems = [p for p in problems if "manifest.json" in p]
    for key in ("parts", "root", "schema_version"):
        (hit,) = [p for p in manifest_problems if f"no {key!r}" in p]
        assert hit.startswith(f"{cfg_path.resolve()}: [sdk] path: {sdk / 'meta' / 'manifest.json'}: ")
    assert len(manifest_problems) == 3
    assert not any("no 'id'" in p or "does not list cpu" in p for p in problems)


def test_complete_manifest_has_no_problems(tmp_path: Path) -> None:
    sdk = _sdk_tree(tmp_path, {"arch": {"host": "x86_64-linux-gnu", "target": ["x64"]}, "id": "27.1",
                               "parts": [], "root": "..", "schema_version": "1"})
    cfg = sdkconfig.load(write(tmp_path, f"[sdk]\npath = {sdk}\n"))
    assert cfg.manifest_problems(cfg.read_manifest()) == []
    for bad in ({"schema_version": ""}, {"schema_version": True}, {"parts": {}}, {"root": None}, {"id": ""}):
        doc = {**cfg.read_manifest(), **bad}
        assert len(cfg.manifest_problems(doc)) == 1, bad


def test_layout_problems_name_the_config_file(tmp_path: Path) -> None:
    """Every problem check_layout reports names the config file and the key at fault."""
    sdk = tmp_path / "sdk"
    sdk.mkdir()  # no manifest, no sysroot, nothing
    (tmp_path / "py").mkdir()  # no Python.h in it
    cfg_path = write(tmp_path, f"[sdk]\npath = {sdk}\nclang_dir = {tmp_path}\n[target]\npython_include = py\n")
    problems = sdkconfig.load(cfg_path).check_layout(need_python=True)
    prefix = f"{cfg_path.resolve()}: ["
    assert all(p.startswith(prefix) for p in problems), problems
    # No manifest is a legacy layout, not a problem; the pieces every layout needs are.
    assert not any("manifest.json" in p for p in problems)
    (python,) = [p for p in problems if "Python.h" in p]
    assert python == f"{prefix}target] python_include: {(tmp_path / 'py' / 'Python.h').resolve()} is missing"
    assert sum("[sdk] path: " in p for p in problems) == 9  # 5 headers, 3 stubs, fdio's spawn.h
    assert sum("[sdk] clang_dir: " in p for p in problems) == 1
    assert len(problems) == 11


# ------------------------------------------------------------------------ SDK layouts: IDK and legacy


def _touch(path: Path, text: str = "") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _fake_sdk(root: Path, layout: str) -> Path:
    """A tiny SDK tree of either layout.  ``legacy`` is shaped like the January 2021 core SDK: no manifest,
    no version_history.json, fdio's stub under pkg/fdio/arch/x64/lib.  ``idk`` like a current IDK."""
    sdk = root / f"sdk-{layout}"
    sysroot = sdk / "arch" / "x64" / "sysroot"
    for header in ("zircon/types.h", "zircon/syscalls.h", "zircon/process.h", "zircon/syscalls/object.h",
                   "stdlib.h"):
        _touch(sysroot / "include" / header)
    _touch(sysroot / "lib" / "libc.so")
    _touch(sysroot / "lib" / "libzircon.so")
    _touch(sdk / "pkg" / "fdio" / "include" / "lib" / "fdio" / "spawn.h")
    if layout == "legacy":
        _touch(sdk / "pkg" / "fdio" / "arch" / "x64" / "lib" / "libfdio.so")
    else:
        _touch(sdk / "arch" / "x64" / "lib" / "libfdio.so")
        _touch(sdk / "meta" / "manifest.json", json.dumps({
            "arch": {"host": "x86_64-linux-gnu", "target": ["x64"]}, "id": "27.20250319.0.1", "parts": [],
            "root": "..", "schema_version": "1"}))
        _touch(sdk / "version_history.json", json.dumps(_history({"26": {"status": "supported"},
                                                                  "27": {"status": "supported"}})))
    return sdk


def _cfg_for(tmp_path: Path, sdk: Path, extra: str = "") -> sdkconfig.SdkConfig:
    clang = tmp_path / "toolchain" / "bin" / "clang"
    if not clang.exists():
        _touch(clang, "#!/bin/sh\n")
        clang.chmod(0o755)
    return sdkconfig.load(write(tmp_path, f"[sdk]\npath = {sdk}\nclang_dir = {clang.parent.parent}\n{extra}"))


@pytest.mark.parametrize("layout", ["legacy", "idk"])
def test_both_layouts_pass_the_layout_check_as_shipped(tmp_path: Path, layout: str) -> None:
    sdk = _fake_sdk(tmp_path, layout)
    cfg = _cfg_for(tmp_path, sdk)
    assert cfg.check_layout(need_python=False) == []
    sysroot_lib = sdk / "arch" / "x64" / "sysroot" / "lib"
    if layout == "legacy":
        assert cfg.lib_dirs == (sdk / "pkg" / "fdio" / "arch" / "x64" / "lib", sysroot_lib)
        assert cfg.resolve_api_level() is None
    else:
        assert cfg.lib_dirs == (sdk / "arch" / "x64" / "lib", sysroot_lib)
        assert cfg.resolve_api_level() == 27
    assert not cfg.is_stand_in


def test_lib_dirs_keep_the_search_order_and_are_never_empty(tmp_path: Path) -> None:
    sdk = _fake_sdk(tmp_path, "legacy")
    (sdk / "arch" / "x64" / "lib").mkdir()
    cfg = _cfg_for(tmp_path, sdk)
    order = (sdk / "arch" / "x64" / "lib", sdk / "pkg" / "fdio" / "arch" / "x64" / "lib",
             sdk / "arch" / "x64" / "sysroot" / "lib")
    assert cfg.lib_search_dirs == order and cfg.lib_dirs == order
    empty = tmp_path / "empty"
    empty.mkdir()
    assert _cfg_for(tmp_path, empty).lib_dirs == (empty / "arch" / "x64" / "lib",
                                                  empty / "pkg" / "fdio" / "arch" / "x64" / "lib",
                                                  empty / "arch" / "x64" / "sysroot" / "lib")


def test_a_missing_stub_names_every_place_looked(tmp_path: Path) -> None:
    sdk = _fake_sdk(tmp_path, "legacy")
    (sdk / "pkg" / "fdio" / "arch" / "x64" / "lib" / "libfdio.so").unlink()
    cfg = _cfg_for(tmp_path, sdk)
    (problem,) = cfg.check_layout(need_python=False)
    assert "[sdk] path: libfdio.so: link stub missing" in problem
    for place in cfg.lib_search_dirs:
        assert str(place) in problem


def test_identity_of_a_legacy_sdk(tmp_path: Path) -> None:
    sdk = _fake_sdk(tmp_path, "legacy")
    cfg = _cfg_for(tmp_path, sdk)
    assert cfg.sdk_identity() == {
        "id": None, "layout": "legacy", "stand_in": False, "vintage": None,
        "description": f"Fuchsia SDK at {sdk} (no meta/manifest.json: a pre-API-level layout)",
    }
    # Callers that need a manifest still get the error naming [sdk] path.
    with pytest.raises(SdkConfigError, match=r"\[sdk\] path: .*manifest.json is missing"):
        cfg.read_manifest()


def test_identity_of_an_idk(tmp_path: Path) -> None:
    sdk = _fake_sdk(tmp_path, "idk")
    assert _cfg_for(tmp_path, sdk).sdk_identity() == {
        "id": "27.20250319.0.1", "layout": "idk", "stand_in": False, "vintage": None,
        "description": f"Fuchsia SDK 27.20250319.0.1 at {sdk}",
    }


def test_stand_in_marks(tmp_path: Path) -> None:
    """A 2021-vintage stand-in is marked by zxpy_stand_in.json at its root; a current one by its manifest."""
    legacy = _fake_sdk(tmp_path, "legacy")
    _touch(legacy / sdkconfig.STAND_IN_MARKER, json.dumps({"stand_in": True, "vintage": "2021-01-25"}))
    cfg = _cfg_for(tmp_path, legacy)
    identity = cfg.sdk_identity()
    assert identity["stand_in"] is True and identity["vintage"] == "2021-01-25" and cfg.is_stand_in
    assert identity["description"] == (f"Fuchsia SDK at {legacy} (no meta/manifest.json: a pre-API-level "
                                       "layout; a zxpy stand-in, vintage 2021-01-25)")
    assert cfg.check_layout(need_python=False) == []
    idk = _fake_sdk(tmp_path, "idk")
    manifest = json.loads((idk / "meta" / "manifest.json").read_text())
    (idk / "meta" / "manifest.json").write_text(json.dumps({**manifest, "zxpy_stand_in": True}))
    identity = _cfg_for(tmp_path, idk).sdk_identity()
    assert identity["stand_in"] is True and identity["vintage"] is None and identity["layout"] == "idk"
    assert identity["description"] == f"Fuchsia SDK 27.20250319.0.1 at {idk} (a zxpy stand-in)"


def test_expected_id_without_a_manifest_cannot_be_checked(tmp_path: Path) -> None:
    sdk = _fake_sdk(tmp_path, "legacy")
    cfg = _cfg_for(tmp_path, sdk, "expected_id = 0.20210125.1.1\n")
    (problem,) = cfg.check_layout(need_python=False)
    assert problem.startswith(f"{cfg.path}: [sdk] expected_id: '0.20210125.1.1' cannot be checked: ")
    assert str(sdk / "meta" / "manifest.json") in problem


def test_an_unreadable_version_history_is_a_problem(tmp_path: Path) -> None:
    sdk = _fake_sdk(tmp_path, "idk")
    (sdk / "version_history.json").write_text("{not json")
    cfg = _cfg_for(tmp_path, sdk)
    (problem,) = cfg.check_layout(need_python=False)
    assert "version_history.json" in problem and "cannot read API levels" in problem
    assert cfg.sdk_identity()["layout"] == "idk"

