"""zxpy.pytest_plugin, run the way pytest users run it: inner test files in pytester's subprocess.

The plugin is loaded by its ``pytest11`` entry point where the zxpy under test was installed with it (a wheel,
tox, CI), and with ``-p zxpy.pytest_plugin`` otherwise (a checkout on PYTHONPATH, another tree's editable
install): passing both would register it twice.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import pid_alive

import zxpy

pytest_plugins = ["pytester"]

DOC = Path(__file__).resolve().parent.parent / "docs" / "pytest-plugin.md"
PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"
TIMEOUT = 120


def _plugin_args() -> list[str]:
    autoload = not os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD")
    registered = any(ep.value == "zxpy.pytest_plugin" for ep in importlib.metadata.entry_points(group="pytest11"))
    return [] if autoload and registered else ["-p", "zxpy.pytest_plugin"]


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess(*_plugin_args(), "-p", "no:cacheprovider", *args, timeout=TIMEOUT)


def _pid_from(path: Path) -> int:
    return int(path.read_text())


def test_importing_zxpy_does_not_import_pytest() -> None:
    code = (
        "import sys, zxpy, zxpy.job, zxpy.testing; zxpy.Job.default().info(); "
        "assert 'pytest' not in sys.modules and 'zxpy.pytest_plugin' not in sys.modules, sorted(sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=TIMEOUT)


def test_the_entry_point_is_declared() -> None:
    text = PYPROJECT.read_text(encoding="utf-8")
    table = re.search(r"^\[project\.entry-points\.pytest11\]\n(.*?)(?:^\[|\Z)", text, re.M | re.S)
    assert table is not None, "pyproject.toml has no [project.entry-points.pytest11] table"
    assert re.search(r'^zxpy\s*=\s*"zxpy\.pytest_plugin"\s*$', table.group(1), re.M), table.group(1)


def test_a_passing_test_with_zx_job_and_zx_spawn(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import zxpy

        def test_it(zx_job, zx_spawn):
            proc = zx_spawn(["/bin/sh", "-c", "exit 7"], name="sevens")
            assert isinstance(zx_job, zxpy.Job) and isinstance(proc, zxpy.Process)
            assert proc.wait(timeout=30) == 7
            assert zx_job.name.startswith("zx_job test_it")
        """
    )
    result = _run(pytester)
    result.assert_outcomes(passed=1)


def test_the_kill_ends_a_sleep_60_after_a_pass_and_after_a_failure(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import os

        def test_passes(zx_spawn):
            proc = zx_spawn(["/bin/sleep", "60"])
            with open("passes.pid", "w") as f:
                f.write(str(zx_spawn.pid(proc)))
            assert os.path.exists(f"/proc/{zx_spawn.pid(proc)}")

        def test_fails(zx_spawn):
            proc = zx_spawn(["/bin/sleep", "60"])
            with open("fails.pid", "w") as f:
                f.write(str(zx_spawn.pid(proc)))
            assert False, "on purpose"
        """
    )
    result = _run(pytester)
    result.assert_outcomes(passed=1, failed=1)
    for name in ("passes", "fails"):
        pid = _pid_from(pytester.path / f"{name}.pid")
        assert not pid_alive(pid), f"sleep 60 of test_{name} (pid {pid}) outlived the run"


def test_a_daemonized_grandchild_dies_with_the_job(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import os, time

        def test_daemon(zx_spawn):
            # The subshell starts a daemon in a new session and exits: the daemon's parent is gone.
            zx_spawn(["/bin/sh", "-c", "(setsid sleep 60 & echo $! > daemon.pid); exec sleep 60"])
            end = time.monotonic() + 30
            while not os.path.exists("daemon.pid") or not open("daemon.pid").read().strip():
                assert time.monotonic() < end
                time.sleep(0.01)
            assert os.path.exists(f"/proc/{int(open('daemon.pid').read())}")
        """
    )
    result = _run(pytester)
    result.assert_outcomes(passed=1)
    pid = _pid_from(pytester.path / "daemon.pid")
    assert not pid_alive(pid), f"the daemon (pid {pid}) survived the job's kill"


def test_a_leaked_handle_fails_the_test_and_names_the_leak(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import zxpy

        KEPT = []

        def test_leaks(zx_job):
            KEPT.append(zxpy.Event.create())

        def test_closes_what_it_opens(zx_job, zx_spawn):
            with zxpy.Event.create(), zx_job.create_job():
                pass
            zx_spawn(["/bin/true"]).wait(timeout=30)   # zx_spawn's own handle: not a leak

        def test_drops_a_handle(zx_job):
            zxpy.Event.create()   # collected, closed with a ResourceWarning: not a leak

        def test_closes_zx_job_itself(zx_job, zx_spawn):
            zx_spawn(["/bin/sleep", "60"])
            zx_job.close()        # the plugin still kills the job (its own duplicate)
        """
    )
    result = _run(pytester, "-W", "ignore::ResourceWarning")
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*_ test_leaks _*",
            "zx_job: the test leaked 1 handle(s)*by type: EVENT +1)",
            "FAILED *::test_leaks*",  # the summary's reason is cut to the terminal's width, sometimes to nothing
        ]
    )
    assert "ERROR" not in result.stdout.str()


def test_a_survivor_fails_the_test_and_is_killed(pytester: pytest.Pytester) -> None:
    # A real survivor would be a host-kernel bug; stand one in: a plain child the plugin is told is the test's.
    pytester.makepyfile(
        """
        import subprocess
        import zxpy.pytest_plugin as plugin

        def test_survivor(zx_job, request):
            child = subprocess.Popen(["/bin/sleep", "60"])
            with open("survivor.pid", "w") as f:
                f.write(str(child.pid))
            check = request.node.stash[plugin._STATE]
            check.pids[0] = (child.pid, plugin._stat(child.pid)[3])
        """
    )
    result = _run(pytester)
    result.assert_outcomes(failed=1)
    pid = _pid_from(pytester.path / "survivor.pid")
    result.stdout.fnmatch_lines([
        f"*zx_job: 1 Linux process(es) still alive after the job was killed: pid {pid} (sleep)"
    ])
    assert not pid_alive(pid)


def test_programs_started_before_the_test_are_not_taken_for_its_own(pytester: pytest.Pytester) -> None:
    # Also when the call never begins: a fixture after zx_job fails its setup.
    pytester.makepyfile(
        """
        import pytest, zxpy

        @pytest.fixture(scope="module")
        def server():
            job = zxpy.Job.default().create_job()
            proc = job.spawn(["/bin/sleep", "60"], name="server")
            yield proc
            job.kill()
            proc.wait(timeout=30)
            proc.close()
            job.close()

        @pytest.fixture
        def broken():
            raise RuntimeError("setup fails on purpose")

        def test_setup_fails(server, zx_job, broken):
            pass

        def test_server_still_runs(server, zx_job, zx_spawn):
            zx_spawn(["/bin/sleep", "60"])
            assert not server.info().exited
        """
    )
    result = _run(pytester)
    result.assert_outcomes(passed=1, errors=1)


_TREE_TESTS = """
    import pytest

    def _spawn(zx_job, zx_spawn, name):
        proc = zx_spawn(["/bin/sleep", "60"], name="napper")
        with zx_job.create_job() as sub:
            sub.set_name("inner")
            sub.spawn(["/bin/sleep", "60"], name="deep").close()  # a job with a live process stays
        with open(name, "w") as f:
            f.write(f"{zx_job.koid} {proc.koid}")

    {marker}
    def test_fails(zx_job, zx_spawn):
        _spawn(zx_job, zx_spawn, "koids")
        assert False, "on purpose"

    def test_passes(zx_job, zx_spawn):
        _spawn(zx_job, zx_spawn, "koids-passing")
"""


@pytest.mark.parametrize("how", ["option", "marker", "neither"])
def test_a_failed_test_reports_its_job_tree(pytester: pytest.Pytester, how: str) -> None:
    pytester.makepyfile(_TREE_TESTS.replace("{marker}", "@pytest.mark.zx_tree" if how == "marker" else ""))
    result = _run(pytester, *(["--zx-tree-on-failure"] if how == "option" else []))
    result.assert_outcomes(passed=1, failed=1)
    job_koid, proc_koid = (int(k) for k in (pytester.path / "koids").read_text().split())
    out = result.stdout.str()
    if how == "neither":
        assert "zx job tree" not in out
        return
    result.stdout.fnmatch_lines(
        [
            "*- zx job tree -*",
            f"job {job_koid} 'zx_job test_fails' alive",
            f"  process {proc_koid} 'napper' running threads=1",
            "  job * 'inner' alive",
            "    process * 'deep' running threads=1",
        ]
    )
    assert out.count("zx job tree") == 1, out  # the passing test has none


def test_the_documented_example_passes(pytester: pytest.Pytester) -> None:
    blocks = re.findall(r"^```python\n(.*?)^```", DOC.read_text(encoding="utf-8"), re.M | re.S)
    assert len(blocks) == 1, "docs/pytest-plugin.md should hold exactly one python block: the example file"
    example = blocks[0]
    tests = re.findall(r"^def (test_\w+)", example, re.M)
    assert len(tests) >= 4
    pytester.makepyfile(test_example=example)
    result = _run(pytester, "-v")
    result.assert_outcomes(passed=len(tests))


def test_the_plugin_module_is_typed_and_importable() -> None:
    import zxpy.pytest_plugin as plugin

    assert plugin.__name__ == "zxpy.pytest_plugin"
    with zxpy.Job.default().create_job() as job:
        job.set_name("tree")
        with job.create_job():
            lines = plugin.job_tree(job)
        assert lines[0] == f"job {job.koid} 'tree' alive"
        assert lines[1].startswith("  job ") and lines[1].endswith("'' alive")
        job.kill()
        job.wait_terminated(timeout=30)
        rc = zxpy.TASK_RETCODE_SYSCALL_KILL
        assert plugin.job_tree(job) == [f"job {job.koid} 'tree' terminated return_code={rc}"]
