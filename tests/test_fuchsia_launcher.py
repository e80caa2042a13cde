"""fuchsia.process.Launcher served from the host (host/fuchsia/launcher.c; docs/fuchsia-elf.md,
"fuchsia.process.Launcher").

A Fuchsia program of our own (tests/helpers/fuchsia_launcher_client.c, LC_CLIENT) is handed a launcher connection
(``zxpy.fuchsia.launcher_channel``) as PA_USER0 and sends what fdio_spawn sends, hand-encoded: AddArgs,
AddEnvirons, AddHandles, Launch of an executable VMO it made of bytes the test gave it.  The launched program
(LC_CHILD, or with ``ZXPY_SDK_2021`` a program built against the real 2021 SDK, started through its ld.so.1) runs in
the job, writes to the stdout socket it was given, and its process handle comes back to the test.  Malformed
messages are written by the test itself: the connection closes, and every handle it held goes with it.
"""

from __future__ import annotations

import hashlib
import os
import platform
import re
import select
import struct
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import child_pids, handle_count, wait_until
from vintage import fuchsia_clang, real_sdk_2021

import zxpy
from fuchsia_tools import standin_vdso
from zxpy import Channel, Event, Job, Process, fuchsia

ROOT = Path(__file__).resolve().parent.parent
HELPER = Path(__file__).parent / "helpers" / "fuchsia_launcher_client.c"
LAUNCHER_H = ROOT / "host" / "fuchsia" / "launcher.h"

PA_USER0, PA_USER1 = 0xF0, 0xF1
READABLE, PEER_CLOSED = 1 << 0, 1 << 2
ZX_ERR_NOT_SUPPORTED, ZX_ERR_INVALID_ARGS, ZX_ERR_WRONG_TYPE, ZX_ERR_NOT_FOUND = -2, -10, -12, -25
PRESENT64, PRESENT32 = 0xFFFF_FFFF_FFFF_FFFF, 0xFFFF_FFFF

METHODS = ("Launch", "CreateWithoutStarting", "AddArgs", "AddEnvirons", "AddNames", "AddHandles")

on_x86_64_linux = pytest.mark.skipif(sys.platform != "linux" or platform.machine() not in ("x86_64", "AMD64"),
                                     reason="the runner runs x86-64 Fuchsia images on x86-64 Linux")


def ordinal(method: str) -> int:
    """FIDL's method ordinal: SHA-256 of "library/Protocol.Method", first 8 bytes little-endian, top bit cleared."""
    digest = hashlib.sha256(f"fuchsia.process/Launcher.{method}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & 0x7FFF_FFFF_FFFF_FFFF


ORD = {m: ordinal(m) for m in METHODS}


# ------------------------------------------------------------------------------------------ ordinals

def test_ordinals_are_the_hashes_of_the_method_names() -> None:
    """launcher.h's ordinals are FIDL's hashes of the names (no SDK needed)."""
    text = LAUNCHER_H.read_text()
    macro = {"Launch": "LAUNCH", "CreateWithoutStarting": "CREATE_WITHOUT_STARTING", "AddArgs": "ADD_ARGS",
             "AddEnvirons": "ADD_ENVIRONS", "AddNames": "ADD_NAMES", "AddHandles": "ADD_HANDLES"}
    for method, name in macro.items():
        m = re.search(rf"#define HK_FX_LAUNCHER_{name} \(\(uint64_t\)0x([0-9a-fA-F]+)ull\)", text)
        assert m is not None, name
        assert int(m.group(1), 16) == ORD[method], method
    assert ORD["Launch"] == 0x11335A9928AFBFA4  # a known value: the hash itself is not being re-derived wrongly


def test_ordinals_occur_in_the_2021_libfdio() -> None:
    """Every ordinal fdio_spawn sends is in the 2021 SDK's libfdio.so (CreateWithoutStarting is not sent)."""
    data = (real_sdk_2021() / "pkg/fdio/arch/x64/lib/libfdio.so").read_bytes()
    for method in METHODS:
        found = struct.pack("<Q", ORD[method]) in data
        assert found == (method != "CreateWithoutStarting"), method


# ------------------------------------------------------------------------------------------ builds

def _build(clang: str, out: Path, mode: str) -> Path:
    exe = out / f"launcher_{mode.lower()}"
    subprocess.run([clang, "--target=x86_64-unknown-fuchsia", "-fuse-ld=lld", "-nostdlib", "-ffreestanding",
                    "-fno-builtin", "-fPIE", "-Wl,-pie", "-Wl,--no-dynamic-linker", "-fno-stack-protector",
                    "-fno-sanitize=safe-stack", "-O2", "-Wall", "-Wextra", "-Werror", f"-DLC_{mode}", "-e", "_start",
                    "-o", str(exe), str(HELPER)], check=True, capture_output=True, text=True)
    return exe


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    clang = fuchsia_clang()
    out = tmp_path_factory.mktemp("fuchsia_launcher")
    standin_vdso.build(out / "standin", clang=clang)
    return {"CLIENT": _build(clang, out, "CLIENT"), "CHILD": _build(clang, out, "CHILD"),
            "standin": out / "standin" / "libzircon.so"}


SDK_CHILD = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
int main(int argc, char **argv) {
    printf("sdk child argc=%d", argc);
    for (int i = 0; i < argc; i++) printf(" [%s]", argv[i]);
    const char *g = getenv("LC_GREETING");
    printf(" env=%s\n", g != NULL ? g : "(none)");
    fflush(stdout);
    return argc > 1 ? atoi(argv[1]) : 3;
}
"""


@pytest.fixture(scope="module")
def sdk_child(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A program built as the SDK builds executables (PT_INTERP ld.so.1, libc's printf to fd 1 through libfdio,
    which the loader service gives it), and the sysroot."""
    sysroot = real_sdk_2021() / "arch/x64/sysroot"
    clang = fuchsia_clang()
    out = tmp_path_factory.mktemp("launcher_sdk")
    src = out / "child.c"
    src.write_text(SDK_CHILD)
    common = [clang, "--target=x86_64-unknown-fuchsia", f"--sysroot={sysroot}"]
    subprocess.run([*common, "-O1", "-c", str(src), "-o", str(out / "child.o")], check=True, capture_output=True)
    fdio = real_sdk_2021() / "pkg/fdio/arch/x64/lib"
    subprocess.run([*common, "-fuse-ld=lld", "-nostdlib", "-Wl,-pie", "-Wl,--dynamic-linker=ld.so.1",
                    str(sysroot / "lib/Scrt1.o"), str(out / "child.o"), "-L", str(sysroot / "lib"), "-L", str(fdio),
                    "-lfdio", "-lc", "-lzircon", "-o", str(out / "child")], check=True, capture_output=True)
    return out / "child", sysroot


@pytest.fixture
def job() -> Iterator[Job]:
    job = Job.default().create_job()
    yield job
    job.kill()
    job.close()


def _read_until(stream: object, want: bytes, seconds: float = 30) -> bytes:
    """What arrives on the pipe ``stream`` until ``want`` is in it (or EOF, or ``seconds``)."""
    fd = stream.fileno()  # type: ignore[attr-defined]
    data = b""
    while want not in data:
        ready, _, _ = select.select([fd], [], [], seconds)
        if not ready:
            break
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        data += chunk
    return data


def _launch_through_client(job: Job, built: dict[str, Path], vdso: Path, child: Path, child_args: list[str],
                           ldso: Path | None = None) -> tuple[Process, list[tuple[int, Process | None]]]:
    """Run LC_CLIENT with a launcher connection and ``child``'s bytes: the client (still running, stdout and stderr
    piped) and the two launches' (status, process) as it sent them back."""
    ours, theirs = Channel.create()
    ours.write(child.read_bytes())
    launcher = fuchsia.launcher_channel(vdso, ldso)
    client = job.spawn_fuchsia(built["CLIENT"], ["launch", *child_args], vdso=vdso,
                               handles={PA_USER0: launcher, PA_USER1: theirs}, stdout=zxpy.PIPE, stderr=zxpy.PIPE,
                               name="lc-client")
    results: list[tuple[int, Process | None]] = []
    with ours:
        for _ in range(2):
            assert ours.wait_readable(timeout=60), "the client sent no launch result"
            data, hs = ours.read()
            status, = struct.unpack("<i", data)
            assert len(hs) == (1 if status == 0 else 0)
            proc = hs[0] if hs else None
            assert proc is None or isinstance(proc, Process)
            results.append((status, proc))
    return client, results


def _client_report(client: Process) -> bytes:
    """Once the client is done (it waits for its first child): what it reported."""
    assert client.wait(timeout=60) == 0
    assert client.stderr is not None
    with client.stderr:
        return _read_until(client.stderr, b"client done\n")


def _check_launches(job: Job, built: dict[str, Path], vdso: Path, child: Path, *, ldso: Path | None = None,
                    expect_line: bytes, junk_status: int = ZX_ERR_NOT_FOUND) -> None:
    before = handle_count()
    client, results = _launch_through_client(job, built, vdso, child, ["7"], ldso)
    report = _client_report(client)
    assert report.splitlines() == [
        f"executable bytes={child.stat().st_size}".encode(), f"junk launch status={junk_status}".encode(),
        b"reset closed the held handle", b"create without starting: not supported", b"launch status=0",
        b"second launch status=0", b"client done"], report
    (st1, p1), (st2, p2) = results
    assert st1 == 0 and st2 == 0 and p1 is not None and p2 is not None
    with p1, p2:
        # zx_process_create's handle, as the launcher returns it.
        assert p1.basic_info().rights == zxpy.DEFAULT_PROCESS_RIGHTS
        assert p1.name == "lc-child" and p2.name == "lc-child2"
        assert p1.wait(timeout=60) == 7
        # Launched after a Launch: nothing carried over (no arguments, no stdio).
        assert p2.wait(timeout=60) == 3
    assert client.stdout is not None
    with client.stdout:
        out = _read_until(client.stdout, b"\n")
        assert out == expect_line, out
    client.close()
    wait_until(lambda: handle_count() == before, what="every handle of the launches to be closed")
    wait_until(lambda: not child_pids("lc-child") and not child_pids("lc-child2") and not child_pids("lc-client"),
               what="the programs' Linux processes to go")


# ------------------------------------------------------------------------------------------ Launch

@on_x86_64_linux
def test_a_fuchsia_program_launches_a_program_through_the_launcher(job: Job, built: dict[str, Path]) -> None:
    """AddArgs, AddEnvirons, AddHandles (a stdout socket as PA_FD 1, the job) and Launch from a Fuchsia program:
    the child runs with them, its process handle comes back, exits with argv[1]; a failed Launch and
    CreateWithoutStarting answer statuses and reset the state."""
    _check_launches(job, built, built["standin"], built["CHILD"],
                    expect_line=b"child argc=2 argv=lc-child,7 env=LC_GREETING=hello from the launcher jobs=1\n")


@on_x86_64_linux
def test_a_launched_program_is_killed_and_gone(job: Job, built: dict[str, Path]) -> None:
    before = handle_count()
    client, results = _launch_through_client(job, built, built["standin"], built["CHILD"], ["forever"])
    (st1, p1), (st2, p2) = results
    assert st1 == 0 and st2 == 0 and p1 is not None and p2 is not None
    assert client.stdout is not None
    with p1, p2, client.stdout:
        assert _read_until(client.stdout, b"alive\n").endswith(b"alive\n")
        assert child_pids("lc-child")
        assert p2.wait(timeout=60) == 3
        p1.kill()
        assert p1.wait(timeout=60) == -1024  # ZX_TASK_RETCODE_SYSCALL_KILL
        assert p1.info().exited
        assert _client_report(client).endswith(b"client done\n")
    client.close()
    wait_until(lambda: not child_pids("lc-child"), what="the killed program's Linux process to go")
    wait_until(lambda: handle_count() == before, what="every handle of the launches to be closed")


@on_x86_64_linux
def test_launch_with_the_real_2021_vdso(job: Job, built: dict[str, Path]) -> None:
    vdso = real_sdk_2021() / "arch/x64/sysroot/lib/libzircon.so"
    _check_launches(job, built, vdso, built["CHILD"],
                    expect_line=b"child argc=2 argv=lc-child,7 env=LC_GREETING=hello from the launcher jobs=1\n")


@on_x86_64_linux
def test_launch_of_an_sdk_program_through_its_dynamic_linker(job: Job, built: dict[str, Path],
                                                             sdk_child: tuple[Path, Path]) -> None:
    """The launched executable is an SDK-built PT_INTERP ld.so.1 program: started with the context's ld.so.1 and
    vDSO, its libc prints to the PA_FD 1 socket it was given."""
    child, sysroot = sdk_child
    _check_launches(job, built, sysroot / "lib/libzircon.so", child, ldso=sysroot / "dist/lib/ld.so.1",
                    expect_line=b"sdk child argc=2 [lc-child] [7] env=hello from the launcher\n")


@on_x86_64_linux
def test_a_pt_interp_executable_without_a_dynamic_linker_is_not_supported(job: Job, built: dict[str, Path],
                                                                          sdk_child: tuple[Path, Path]) -> None:
    child, sysroot = sdk_child
    client, results = _launch_through_client(job, built, sysroot / "lib/libzircon.so", child, ["7"])
    assert [status for status, _ in results] == [ZX_ERR_NOT_SUPPORTED, ZX_ERR_NOT_SUPPORTED]
    assert [proc for _, proc in results] == [None, None]
    assert b"launch status=-2\n" in _client_report(client)
    client.close()


SDK_SPAWNER = r"""
#include <lib/fdio/spawn.h>
#include <stdio.h>
#include <zircon/syscalls.h>
#include <zircon/syscalls/object.h>
int main(int argc, char **argv) {
    zx_handle_t proc = ZX_HANDLE_INVALID;
    char err[FDIO_SPAWN_ERR_MSG_MAX_LENGTH] = "";
    const char *args[] = {"lc-child", argc > 1 ? argv[1] : "9", NULL};
    zx_status_t st = fdio_spawn_etc(ZX_HANDLE_INVALID, FDIO_SPAWN_CLONE_ALL, argc > 2 ? argv[2] : "/pkg/bin/child",
                                    args, NULL, 0, NULL, &proc, err);
    printf("spawn status=%d%s%s\n", st, st ? " " : "", st ? err : "");
    fflush(stdout);
    if (st != ZX_OK) return 1;
    zx_object_wait_one(proc, ZX_PROCESS_TERMINATED, ZX_TIME_INFINITE, NULL);
    zx_info_process_t info;
    zx_object_get_info(proc, ZX_INFO_PROCESS, &info, sizeof info, NULL, NULL);
    printf("child return_code=%ld\n", (long)info.return_code);
    return 0;
}
"""


@on_x86_64_linux
def test_fdio_spawn_from_an_sdk_program_through_svc(job: Job, sdk_child: tuple[Path, Path], tmp_path: Path) -> None:
    """The 2021 libfdio's own fdio_spawn_etc(FDIO_SPAWN_CLONE_ALL) in a program whose namespace has
    ``/svc`` = :data:`zxpy.fuchsia.SERVICES`: it opens /pkg/bin/child (fuchsia.io), clones its loader service and
    namespace and stdio, and the host's launcher starts the child with them; the child prints through the stdio it
    inherited and its return code reaches the spawner.  A path that does not exist: fdio's error, no process."""
    child, sysroot = sdk_child
    fdio = real_sdk_2021() / "pkg/fdio"
    src = tmp_path / "spawner.c"
    src.write_text(SDK_SPAWNER)
    common = [fuchsia_clang(), "--target=x86_64-unknown-fuchsia", f"--sysroot={sysroot}"]
    subprocess.run([*common, f"-I{fdio / 'include'}", "-c", str(src), "-o", str(tmp_path / "spawner.o")], check=True,
                   capture_output=True)
    subprocess.run([*common, "-fuse-ld=lld", "-nostdlib", "-Wl,-pie", "-Wl,--dynamic-linker=ld.so.1",
                    str(sysroot / "lib/Scrt1.o"), str(tmp_path / "spawner.o"), "-L", str(sysroot / "lib"), "-L",
                    str(fdio / "arch/x64/lib"), "-lfdio", "-lc", "-lzircon", "-o", str(tmp_path / "spawner")],
                   check=True, capture_output=True)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "child").write_bytes(child.read_bytes())
    (bin_dir / "child").chmod(0o755)  # the file server opens only an executable file for execution
    before, live = handle_count(), _lib_fs_live()
    namespace = {"/svc": fuchsia.SERVICES, "/pkg/bin": (bin_dir, "r")}
    for args, lines in ((["5"], [b"spawn status=0", b"sdk child argc=2 [lc-child] [5] env=via fdio_spawn",
                                 b"child return_code=5"]),
                        (["6", "/pkg/bin/missing"], None)):
        proc = job.spawn_fuchsia(tmp_path / "spawner", args, sysroot=sysroot, name="lc-spawner",
                                 env={"LC_GREETING": "via fdio_spawn"}, namespace=namespace, stdout=zxpy.PIPE)
        assert proc.stdout is not None
        with proc, proc.stdout:
            out = _read_until(proc.stdout, b"child return_code=" if lines else b"\n")
            if lines is not None:
                out += _read_until(proc.stdout, b"\n") if not out.endswith(b"\n") else b""
                assert out.splitlines() == lines, out
                assert proc.wait(timeout=60) == 0
            else:
                assert proc.wait(timeout=60) == 1
                assert out.startswith(b"spawn status=-25 "), out  # NOT_FOUND, with fdio's message
    wait_until(lambda: handle_count() == before and _lib_fs_live() <= live,
               what="the launcher's, loader's and namespace's connections to end")
    wait_until(lambda: not child_pids("lc-child") and not child_pids("lc-spawner"), what="the programs to go")


def _lib_fs_live() -> int:
    from zxpy import _raw
    return int(_raw.lib.zxpy_fuchsia_fs_live())


# ------------------------------------------------------------------------------------------ the protocol from Python

def header(ordinal: int, txid: int = 0, magic: int = 1) -> bytes:
    return struct.pack("<I3BBQ", txid, 0, 0, 0, magic, ordinal)


def pad8(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % 8)


def add_strings(method: str, items: list[bytes]) -> bytes:
    msg = header(ORD[method]) + struct.pack("<QQ", len(items), PRESENT64)
    msg += b"".join(struct.pack("<QQ", len(i), PRESENT64) for i in items)
    return msg + b"".join(pad8(i) for i in items)


def add_handles(ids: list[int]) -> bytes:
    return header(ORD["AddHandles"]) + struct.pack("<QQ", len(ids), PRESENT64) + \
        b"".join(struct.pack("<II", PRESENT32, i) for i in ids)


def add_names(paths: list[bytes]) -> bytes:
    msg = header(ORD["AddNames"]) + struct.pack("<QQ", len(paths), PRESENT64)
    msg += b"".join(struct.pack("<QQII", len(p), PRESENT64, PRESENT32, 0) for p in paths)
    return msg + b"".join(pad8(p) for p in paths)


def launch(name: bytes, method: str = "Launch", txid: int = 1) -> bytes:
    return header(ORD[method], txid) + struct.pack("<IIQQ", PRESENT32, PRESENT32, len(name), PRESENT64) + pad8(name)


def _vdso_for_protocol() -> str:
    return "/nonexistent/libzircon.so"  # never reached: no message here launches anything


def _held_channel(launcher: Channel) -> Channel:
    """Hand the launcher one end of a new channel in a valid AddHandles (state it must close): the other end."""
    mine, theirs = Channel.create()
    launcher.write(add_handles([PA_USER0]), [theirs])
    return mine


BAD = {
    "unknown ordinal": lambda: (header(0x1234), 0),
    "shorter than a header": lambda: (b"\0" * 8, 0),
    "bad magic": lambda: (header(ORD["AddArgs"], magic=0) + add_strings("AddArgs", [b"a"])[16:], 0),
    "AddArgs without its out-of-line data": lambda: (header(ORD["AddArgs"]) + struct.pack("<QQ", 1, PRESENT64), 0),
    "AddArgs absent": lambda: (header(ORD["AddArgs"]) + struct.pack("<QQ", 0, 0), 0),
    "AddArgs with padding not zero": lambda: (add_strings("AddArgs", [b"abc"])[:-5] + b"xxxxx", 0),
    "AddArgs with a stray handle": lambda: (add_strings("AddArgs", [b"a"]), 1),
    "AddEnvirons with trailing bytes": lambda: (add_strings("AddEnvirons", [b"A=1"]) + b"\0" * 8, 0),
    "AddHandles without its handle": lambda: (add_handles([PA_USER1]), 0),
    "AddHandles with a handle absent": lambda: (header(ORD["AddHandles"]) + struct.pack("<QQII", 1, PRESENT64, 0,
                                                                                          PA_USER1), 1),
    "AddNames with a path not UTF-8": lambda: (add_names([b"/\xff"]), 1),
    "AddNames with a path too long": lambda: (add_names([b"/" * 4097]), 1),
    "Launch with txid 0": lambda: (launch(b"x", txid=0), 2),
    "Launch with one handle": lambda: (launch(b"x"), 1),
    "Launch with a name too long": lambda: (launch(b"n" * 33), 2),
    "CreateWithoutStarting with a vector for a string": lambda: (launch(b"x", "CreateWithoutStarting")[:-8], 2),
}


@on_x86_64_linux
@pytest.mark.parametrize("case", sorted(BAD))
def test_a_malformed_message_closes_the_connection_and_every_handle(case: str) -> None:
    before = handle_count()
    launcher = fuchsia.launcher_channel(_vdso_for_protocol())
    held = _held_channel(launcher)
    data, nhandles = BAD[case]()
    ends = [Channel.create() for _ in range(nhandles)]
    launcher.write(data, [theirs for _, theirs in ends])
    # The server end is closed: PEER_CLOSED, no reply.
    assert launcher.wait_one(PEER_CLOSED, timeout=30) & PEER_CLOSED
    assert not launcher.wait_one(READABLE | PEER_CLOSED, timeout=0) & READABLE
    # Every handle the connection held (its state's, the message's) was closed.
    for end in [held, *(mine for mine, _ in ends)]:
        assert end.wait_one(PEER_CLOSED, timeout=30) & PEER_CLOSED
        end.close()
    launcher.close()
    wait_until(lambda: handle_count() == before, what="the connection's handles to be closed")


def _call(launcher: Channel, data: bytes, handles: list[Event | Channel]) -> tuple[int, int, int]:
    launcher.write(data, handles)
    assert launcher.wait_readable(timeout=30)
    reply, hs = launcher.read()
    assert not hs
    txid, magic, ordinal_ = struct.unpack_from("<I3xBQ", reply)
    assert magic == 1
    status, = struct.unpack_from("<i", reply, 16)
    return txid, ordinal_, status


@on_x86_64_linux
def test_launch_answers_statuses_and_the_connection_goes_on() -> None:
    """Well-formed calls that cannot launch: a status and no process, the request's txid, the state reset, the
    connection still served."""
    before = handle_count()
    launcher = fuchsia.launcher_channel(_vdso_for_protocol())
    held = _held_channel(launcher)
    # An event for the executable: not a VMO.
    txid, ordinal_, status = _call(launcher, launch(b"x", txid=7), [Event.create(), Event.create()])
    assert (txid, ordinal_, status) == (7, ORD["Launch"], ZX_ERR_WRONG_TYPE)
    assert held.wait_one(PEER_CLOSED, timeout=30) & PEER_CLOSED  # the reset closed what AddHandles gave
    held.close()
    # A name with a NUL byte (the launcher's CString): INVALID_ARGS, before the executable is looked at.
    assert _call(launcher, launch(b"a\0b", txid=8), [Event.create(), Event.create()])[2] == ZX_ERR_INVALID_ARGS
    # An argument with a NUL byte: INVALID_ARGS too (checked at Launch, after the executable: an event here).
    launcher.write(add_strings("AddArgs", [b"ok", b"n\0ul"]))
    assert _call(launcher, launch(b"x", txid=9), [Event.create(), Event.create()])[2] == ZX_ERR_WRONG_TYPE
    # CreateWithoutStarting: NOT_SUPPORTED, its data absent (a 32-byte reply).
    launcher.write(launch(b"x", "CreateWithoutStarting", txid=10), [Event.create(), Event.create()])
    assert launcher.wait_readable(timeout=30)
    reply, hs = launcher.read()
    assert len(reply) == 32 and not hs
    assert struct.unpack_from("<iIQ", reply, 16) == (ZX_ERR_NOT_SUPPORTED, 0, 0)
    # Names are held by the state: a Launch that fails closes their directories with the rest.
    mine, theirs = Channel.create()
    launcher.write(add_names([b"/svc"]), [theirs])
    assert _call(launcher, launch(b"x", txid=11), [Event.create(), Event.create()])[2] == ZX_ERR_WRONG_TYPE
    assert mine.wait_one(PEER_CLOSED, timeout=30) & PEER_CLOSED
    mine.close()
    with pytest.raises(zxpy.TimedOutError):  # neither a reply nor a close: still served
        launcher.wait_one(READABLE | PEER_CLOSED, timeout=0)
    launcher.close()
    wait_until(lambda: handle_count() == before, what="the connection's handles to be closed")
