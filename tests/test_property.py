"""Names through ``ZX_PROP_NAME``: ``zx_object_get_property`` / ``zx_object_set_property``.

Zircon's rules (sys_object_get_property / sys_object_set_property, zircon/kernel/lib/syscalls/object.cc): a NULL
value is INVALID_ARGS before the handle is looked up; the lookup needs GET_PROPERTY / SET_PROPERTY (BAD_HANDLE,
then ACCESS_DENIED); an unknown property is NOT_SUPPORTED; a name buffer smaller than ZX_MAX_NAME_LEN is
BUFFER_TOO_SMALL; a name is cut to ZX_MAX_NAME_LEN - 1 bytes.  Jobs, processes and threads have names.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from conftest import LONG

import zxpy
from zxpy import AccessDeniedError, BadHandleError, Event, Handle, Job, Process, Rights, Thread, ffi, lib

MAX = zxpy.MAX_NAME_LEN


def test_names_given_at_creation_read_back(job: Job) -> None:
    assert job.name == ""  # zx_job_create takes no name
    with job.create_process("a-process") as proc:
        assert proc.name == "a-process"
        with proc.create_thread(b"a-thread") as thread:
            assert thread.name == "a-thread"
    with job.create_process("p" * 100) as long:
        assert long.name == "p" * (MAX - 1)


def test_set_name_on_jobs_processes_threads(job: Job) -> None:
    with job.create_process("before") as proc, proc.create_thread("t") as thread:
        for h in (job, proc, thread):
            h.set_name("renamed")
            assert h.name == "renamed"
            h.set_name(b"x" * 64)
            assert h.name == "x" * (MAX - 1)
            h.set_name("")
            assert h.name == ""
        # Every handle to the object sees the name.
        with proc.duplicate() as dup:
            proc.set_name("shared")
            assert dup.name == "shared"
        proc.kill()
        proc.wait_terminated(timeout=LONG)
        assert proc.name == "shared"  # a dead process keeps its name


def test_utf8_names_and_truncation_inside_a_character(job: Job) -> None:
    job.set_name("zürich")
    assert job.name == "zürich"
    job.set_name("é" * 20)  # 40 bytes: cut to 31, inside the 16th character
    assert job.name == "é" * 15 + "\ufffd"


def test_runtime_handles_have_names() -> None:
    assert isinstance(Process.self().name, str) and Process.self().name
    assert isinstance(Thread.self().name, str)
    assert isinstance(Job.default().name, str)


@pytest.mark.parametrize("bad", [None, 1, ["x"], object()])
def test_set_name_type_errors(job: Job, bad: object) -> None:
    with pytest.raises(TypeError):
        job.set_name(bad)  # type: ignore[arg-type]


def test_set_name_refuses_nul(job: Job) -> None:
    with pytest.raises(ValueError):
        job.set_name("a\0b")


def test_rights(job: Job) -> None:
    with job.duplicate(Rights.BASIC | Rights.SET_PROPERTY) as no_get:
        with pytest.raises(AccessDeniedError) as info:
            no_get.name  # noqa: B018
        assert info.value.syscall == "zx_object_get_property"
        no_get.set_name("ok")
    with job.duplicate(Rights.BASIC | Rights.GET_PROPERTY) as no_set:
        with pytest.raises(AccessDeniedError) as info:
            no_set.set_name("no")
        assert info.value.syscall == "zx_object_set_property"
        assert no_set.name == "ok"
    # Events have no property rights: ACCESS_DENIED (rights are checked before the type).
    with Event.create() as event:
        with pytest.raises(AccessDeniedError):
            event.name  # noqa: B018
        with pytest.raises(AccessDeniedError):
            event.set_name("e")


def test_closed_and_garbage_handles() -> None:
    event = Event.create()
    event.close()
    with pytest.raises(ValueError, match="closed"):
        event.name  # noqa: B018
    with pytest.raises(ValueError, match="closed"):
        event.set_name("x")
    garbage = Handle(0xBADC0FFE, owned=False)
    with pytest.raises(BadHandleError):
        garbage.name  # noqa: B018
    with pytest.raises(BadHandleError):
        garbage.set_name("x")


def test_raw_call_rules(job: Job) -> None:
    buf = ffi.new("char[]", MAX)
    get: Callable[..., int] = lib.zx_object_get_property
    put: Callable[..., int] = lib.zx_object_set_property
    # NULL value first, even for a bad handle.
    assert get(0xBADC0FFE, lib.ZX_PROP_NAME, ffi.NULL, MAX) == lib.ZX_ERR_INVALID_ARGS
    assert put(0xBADC0FFE, lib.ZX_PROP_NAME, ffi.NULL, 0) == lib.ZX_ERR_INVALID_ARGS
    assert get(0xBADC0FFE, lib.ZX_PROP_NAME, buf, MAX) == lib.ZX_ERR_BAD_HANDLE
    # Unknown properties.
    assert get(job.raw, 0xFFFF, buf, MAX) == lib.ZX_ERR_NOT_SUPPORTED
    assert put(job.raw, 0xFFFF, b"x", 1) == lib.ZX_ERR_NOT_SUPPORTED
    # A short buffer; rights come before it.
    assert get(job.raw, lib.ZX_PROP_NAME, buf, MAX - 1) == lib.ZX_ERR_BUFFER_TOO_SMALL
    with job.duplicate(Rights.BASIC) as weak:
        assert get(weak.raw, lib.ZX_PROP_NAME, buf, 1) == lib.ZX_ERR_ACCESS_DENIED
    # The whole ZX_MAX_NAME_LEN buffer is written, NUL-padded.
    assert put(job.raw, lib.ZX_PROP_NAME, b"abc", 3) == lib.ZX_OK
    big = ffi.new("char[]", b"\xff" * (MAX + 8))
    assert get(job.raw, lib.ZX_PROP_NAME, big, MAX + 8) == lib.ZX_OK
    assert bytes(ffi.buffer(big, MAX + 8)) == b"abc" + b"\0" * (MAX - 3) + b"\xff" * 8
    # A size past the limit is cut, not refused; size 0 is the empty name.
    assert put(job.raw, lib.ZX_PROP_NAME, b"y" * 100, 100) == lib.ZX_OK
    assert job.name == "y" * (MAX - 1)
    assert put(job.raw, lib.ZX_PROP_NAME, b"z", 0) == lib.ZX_OK
    assert job.name == ""


def test_spawned_program_names(job: Job) -> None:
    with job.spawn(["/bin/sleep", "60"]) as proc:
        assert proc.name == "/bin/sleep"  # fdio names the process after argv[0]
        proc.set_name("sleeper")
        assert proc.name == "sleeper"
    with job.spawn(["/bin/sleep", "60"], name="given-name") as proc:
        assert proc.name == "given-name"
    with job.spawn(["/bin/sleep", "60"], name="n" * 50) as proc:
        assert proc.name == "n" * (MAX - 1)
    job.kill()
