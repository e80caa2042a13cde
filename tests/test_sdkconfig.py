"""zxpy.sdkconfig: parsing and validating fuchsia_sdk.cfg (femu.md section 8)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from zxpy import sdkconfig
from zxpy.sdkconfig import SdkConfigError

ROOT = Path(__file__).resolve().parent.parent


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


def test_other_sections_pass_through(tmp_path: Path) -> None:
    cfg = sdkconfig.load(write(tmp_path, "[emulator]\nproduct = minimal.x64\nheadless = true\n"))
    assert cfg.get("emulator", "product") == "minimal.x64"
    assert cfg.get("emulator", "name", "zxpy-emu") == "zxpy-emu"


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


def test_auto_without_history_says_what_to_do(tmp_path: Path) -> None:
    (tmp_path / "sdk").mkdir()
    cfg = sdkconfig.load(write(tmp_path, "[sdk]\npath = sdk\n"))
    with pytest.raises(SdkConfigError, match="set an integer level") as info:
        cfg.resolve_api_level()
    assert "[target] api_level" in str(info.value)


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
