"""fuchsia.io served from host directories (host/fuchsia/fileserver.c; docs/fuchsia-elf.md, "The namespace and
fuchsia.io"), spoken to from this host program: hand-encoded FIDL v1 messages over the client end
``zxpy_fuchsia_fs_connect`` returns, checked against what the host directory then holds.

The ordinals are recomputed here from the names in the 2021 SDK's io.fidl (SHA-256 of "fuchsia.io1/Protocol.Method",
as fidlc hashed the library fuchsia.io then: tools/fidl/fidlc/lib/ordinals.cc); with ``ZXPY_SDK_2021`` each one is
also found in the SDK's libfdio.so.
"""

from __future__ import annotations

import hashlib
import os
import platform
import re
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import handle_count, wait_until
from vintage import fuchsia_clang, host_cc, real_sdk_2021

import zxpy
from fuchsia_tools import standin_vdso
from zxpy import _raw

pytestmark = pytest.mark.skipif(sys.platform != "linux" or platform.machine() not in ("x86_64", "AMD64"),
                                reason="the Fuchsia runner's file server is built on x86-64 Linux hosts only")

lib = _raw.lib
ffi = _raw.ffi
HEADER = Path(__file__).parents[1] / "host" / "fuchsia" / "fileserver.h"

# io.fidl's methods by declaring protocol, and the macro fileserver.h gives each.
METHODS = {
    "Node.Clone": "NODE_CLONE", "Node.Close": "NODE_CLOSE", "Node.Describe": "NODE_DESCRIBE",
    "Node.OnOpen": "NODE_ON_OPEN", "Node.Sync": "NODE_SYNC", "Node.GetAttr": "NODE_GET_ATTR",
    "Node.SetAttr": "NODE_SET_ATTR", "File.Read": "FILE_READ", "File.ReadAt": "FILE_READ_AT",
    "File.Write": "FILE_WRITE", "File.WriteAt": "FILE_WRITE_AT", "File.Seek": "FILE_SEEK",
    "File.Truncate": "FILE_TRUNCATE", "File.GetFlags": "FILE_GET_FLAGS", "File.SetFlags": "FILE_SET_FLAGS",
    "File.GetBuffer": "FILE_GET_BUFFER", "Directory.Open": "DIR_OPEN", "Directory.Unlink": "DIR_UNLINK",
    "Directory.ReadDirents": "DIR_READ_DIRENTS", "Directory.Rewind": "DIR_REWIND",
    "Directory.GetToken": "DIR_GET_TOKEN", "Directory.Rename": "DIR_RENAME", "Directory.Link": "DIR_LINK",
    "Directory.Watch": "DIR_WATCH", "DirectoryAdmin.QueryFilesystem": "DIR_ADMIN_QUERY_FILESYSTEM",
}


def ordinal(method: str) -> int:
    digest = hashlib.sha256(f"fuchsia.io1/{method}".encode()).digest()
    return int(struct.unpack("<Q", digest[:8])[0]) & ~(1 << 63)


ORD = {name: ordinal(name) for name in METHODS}

R, W, X = 0x1, 0x2, 0x8
CREATE, CREATE_IF_ABSENT, TRUNCATE, DIRECTORY = 0x10000, 0x20000, 0x40000, 0x80000
APPEND, NODE_REFERENCE, DESCRIBE, POSIX, NOT_DIRECTORY = 0x100000, 0x400000, 0x800000, 0x1000000, 0x2000000
SAME_RIGHTS = 0x4000000
MODE_TYPE_DIRECTORY, MODE_TYPE_FILE = 0x4000, 0x8000
SERVICE, FILE, DIRECTORY_INFO = 1, 2, 3
ZX_OK = 0
NOT_FOUND, INVALID_ARGS, BAD_HANDLE, NOT_SUPPORTED = -25, -10, -11, -2
ALREADY_EXISTS, ACCESS_DENIED, NOT_DIR, NOT_FILE, UNAVAILABLE, NOT_EMPTY = -26, -30, -51, -52, -28, -55
BAD_PATH, BUFFER_TOO_SMALL = -50, -15
PEER_CLOSED_STATUS = -24
CHANNEL_READABLE, CHANNEL_PEER_CLOSED = 1 << 0, 1 << 2
VMO_FLAG_READ, VMO_FLAG_WRITE, VMO_FLAG_EXEC, VMO_FLAG_PRIVATE = 0x1, 0x2, 0x4, 0x10000
ZX_RIGHT_WRITE, ZX_RIGHT_EXECUTE = 1 << 3, 1 << 4
ZX_OBJ_TYPE_VMO = 3


def test_ordinals_are_sha256_of_the_fidl_names() -> None:
    """Every ordinal fileserver.h gives is the hash of its io.fidl method's name (with the library named
    fuchsia.io1, as fidlc of 2021 named it), and none is the plain "fuchsia.io/..." hash."""
    text = HEADER.read_text()
    defined = {m.group(1): int(m.group(2), 16) for m in re.finditer(r"#define HK_FIO_(\w+) 0x([0-9a-f]+)ull", text)}
    assert set(defined) == set(METHODS.values())
    for method, macro in METHODS.items():
        assert defined[macro] == ORD[method], method
        plain = hashlib.sha256(f"fuchsia.io/{method}".encode()).digest()
        assert defined[macro] != int(struct.unpack("<Q", plain[:8])[0]) & ~(1 << 63)


def test_ordinals_are_the_ones_the_2021_libfdio_sends() -> None:
    sdk = os.environ.get("ZXPY_SDK_2021")
    if not sdk:
        pytest.skip("ZXPY_SDK_2021 names no January 2021 SDK")
    data = (Path(sdk) / "pkg" / "fdio" / "arch" / "x64" / "lib" / "libfdio.so").read_bytes()
    fidl = (Path(sdk) / "fidl" / "fuchsia_io" / "io.fidl").read_text()
    for method in METHODS:
        protocol, name = method.split(".")
        assert re.search(rf"protocol {protocol} {{", fidl), protocol
        assert re.search(rf"\b{name}\(", fidl), method
        assert struct.pack("<Q", ORD[method]) in data, f"{method} ({ORD[method]:#x}) is not in libfdio.so"


# ---------------------------------------------------------------------------------------------- a FIDL client


def header(txid: int, ordinal_: int) -> bytes:
    return struct.pack("<I3BBQ", txid, 0, 0, 0, 1, ordinal_)


def string(data: bytes) -> tuple[bytes, bytes]:
    """A FIDL string's inline part and its padded out-of-line bytes."""
    return struct.pack("<QQ", len(data), 2**64 - 1), data + b"\0" * (-len(data) % 8)


def channel() -> tuple[int, int]:
    a, b = ffi.new("zx_handle_t*"), ffi.new("zx_handle_t*")
    assert lib.zx_channel_create(0, a, b) == ZX_OK
    return a[0], b[0]


def write(ch: int, msg: bytes, handles: tuple[int, ...] = ()) -> int:
    hs = ffi.new("zx_handle_t[]", list(handles) or [0])
    return int(lib.zx_channel_write(ch, 0, msg, len(msg), hs, len(handles)))


def read(ch: int, timeout: float = 10.0) -> tuple[bytes, list[int]] | None:
    """The next message on ch, or None once the peer closed with nothing left."""
    observed = ffi.new("zx_signals_t*")
    deadline = lib.zx_deadline_after(int(timeout * 1e9))
    status = lib.zx_object_wait_one(ch, CHANNEL_READABLE | CHANNEL_PEER_CLOSED, deadline, observed)
    assert status == ZX_OK, f"no answer within {timeout}s ({status})"
    buf = ffi.new("uint8_t[]", 65536)
    hs = ffi.new("zx_handle_t[]", 64)
    n, nh = ffi.new("uint32_t*"), ffi.new("uint32_t*")
    status = lib.zx_channel_read(ch, 0, buf, hs, 65536, 64, n, nh)
    if status == PEER_CLOSED_STATUS:
        return None
    assert status == ZX_OK
    return bytes(ffi.buffer(buf, n[0])), [hs[i] for i in range(nh[0])]


def closed(ch: int) -> bool:
    """The peer closed ch (and nothing more is to be read)."""
    return read(ch) is None


class Node:
    """A client end of a fuchsia.io connection, closed by close()."""

    def __init__(self, handle: int) -> None:
        self.h = handle
        self.txid = 0

    def close(self) -> None:
        if self.h:
            lib.zx_handle_close(self.h)
            self.h = 0

    def call(self, method: str, body: bytes = b"", handles: tuple[int, ...] = ()) -> tuple[bytes, list[int]]:
        self.txid += 1
        assert write(self.h, header(self.txid, ORD[method]) + body, handles) == ZX_OK
        got = read(self.h)
        assert got is not None, f"{method}: the server closed the connection"
        msg, hs = got
        txid, _, _, _, magic, ordinal_ = struct.unpack_from("<I3BBQ", msg)
        assert (txid, magic, ordinal_) == (self.txid, 1, ORD[method])
        return msg[16:], hs

    def status(self, method: str, body: bytes = b"") -> int:
        return int(struct.unpack_from("<i", self.call(method, body)[0])[0])

    def status_with(self, method: str, body: bytes, handles: tuple[int, ...]) -> int:
        return int(struct.unpack_from("<i", self.call(method, body, handles)[0])[0])

    def open(self, path: bytes, flags: int, mode: int = 0) -> tuple[int, int | None, Node | None]:
        """Directory.Open: (status, NodeInfo tag, node), the status from OnOpen (DESCRIBE is added)."""
        client, server = channel()
        inline, ool = string(path)
        body = struct.pack("<II", flags | DESCRIBE, mode) + inline + struct.pack("<II", 0xFFFFFFFF, 0) + ool
        self.txid += 1
        assert write(self.h, header(self.txid, ORD["Directory.Open"]) + body, (server,)) == ZX_OK
        got = read(client)
        assert got is not None, "no OnOpen event"
        msg, hs = got
        assert hs == []
        txid, _, _, _, _, ordinal_ = struct.unpack_from("<I3BBQ", msg)
        assert (txid, ordinal_) == (0, ORD["Node.OnOpen"])
        status = struct.unpack_from("<i", msg, 16)[0]
        tag, num_bytes, num_handles, presence = struct.unpack_from("<QIIQ", msg, 24)
        if status != ZX_OK:
            assert (tag, presence, len(msg)) == (0, 0, 48)
            assert closed(client)
            lib.zx_handle_close(client)
            return status, None, None
        assert (num_bytes, num_handles, presence, len(msg)) == (8, 0, 2**64 - 1, 56)
        return status, tag, Node(client)

    def read(self, count: int) -> tuple[int, bytes]:
        body, _ = self.call("File.Read", struct.pack("<Q", count))
        status, n, presence = struct.unpack_from("<i4xQQ", body)
        assert presence == 2**64 - 1
        return status, body[24:24 + n]

    def write(self, data: bytes) -> tuple[int, int]:
        inline, ool = struct.pack("<QQ", len(data), 2**64 - 1), data + b"\0" * (-len(data) % 8)
        body, _ = self.call("File.Write", inline + ool)
        return struct.unpack_from("<i4xQ", body)  # type: ignore[return-value]

    def attr(self) -> tuple[int, ...]:
        body, _ = self.call("Node.GetAttr")
        return struct.unpack_from("<i4xI4xQQQQQQ", body)

    def dirents(self, max_bytes: int = 8192) -> tuple[int, list[tuple[int, int, bytes]]]:
        body, _ = self.call("Directory.ReadDirents", struct.pack("<Q", max_bytes))
        status, n, _ = struct.unpack_from("<i4xQQ", body)
        data, out, at = body[24:24 + n], [], 0
        while at < len(data):
            ino, size, kind = struct.unpack_from("<QBB", data, at)
            out.append((ino, kind, data[at + 10:at + 10 + size]))
            at += 10 + size
        return status, out

    def unlink(self, path: bytes) -> int:
        inline, ool = string(path)
        return self.status("Directory.Unlink", inline + ool)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "hello.txt").write_bytes(b"hello, fuchsia.io\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "deep.txt").write_bytes(b"deep")
    (tmp_path / "tool").write_bytes(b"#!tool\n")
    (tmp_path / "tool").chmod(0o755)
    return tmp_path


def connect(path: Path, read_only: bool = False) -> Node:
    client = ffi.new("zx_handle_t*")
    assert lib.zxpy_fuchsia_fs_connect(os.fsencode(path), 1 if read_only else 0, client) == ZX_OK
    return Node(client[0])


@pytest.fixture
def root(tree: Path) -> Iterator[Node]:
    before = lib.zxpy_fuchsia_fs_live()
    node = connect(tree)
    yield node
    node.close()
    wait_until(lambda: lib.zxpy_fuchsia_fs_live() <= before, what="the connections to end")


# ---------------------------------------------------------------------------------------------- tests


def test_open_describes_files_and_directories(root: Node) -> None:
    status, tag, node = root.open(b"hello.txt", R)
    assert (status, tag) == (ZX_OK, FILE) and node is not None
    assert node.read(100) == (ZX_OK, b"hello, fuchsia.io\n")
    node.close()
    status, tag, node = root.open(b"sub", R)
    assert (status, tag) == (ZX_OK, DIRECTORY_INFO) and node is not None
    # Describe on the connection gives the same NodeInfo.
    body, _ = node.call("Node.Describe")
    assert struct.unpack_from("<QIIQ", body) == (DIRECTORY_INFO, 8, 0, 2**64 - 1)
    status, tag, deep = node.open(b"deep.txt", R)
    assert (status, tag) == (ZX_OK, FILE) and deep is not None
    assert deep.read(100) == (ZX_OK, b"deep")
    deep.close()
    node.close()
    status, tag, ref = root.open(b"sub/deep.txt", NODE_REFERENCE)
    assert (status, tag) == (ZX_OK, SERVICE) and ref is not None
    assert ref.attr()[3] == 4  # GetAttr works on a reference: content_size
    assert ref.read(4) == (BAD_HANDLE, b"")  # reading does not
    ref.close()


def test_open_errors(root: Node, tree: Path) -> None:
    assert root.open(b"missing", R)[0] == NOT_FOUND
    assert root.open(b"..", R)[0] == INVALID_ARGS
    assert root.open(b"sub/../hello.txt", R)[0] == INVALID_ARGS
    assert root.open(b"", R)[0] == INVALID_ARGS
    assert root.open(b"x" * 256, R)[0] == BAD_PATH
    assert root.open(b"hello.txt", R | DIRECTORY)[0] == NOT_DIR
    assert root.open(b"hello.txt/", R)[0] == NOT_DIR
    assert root.open(b"sub", R | NOT_DIRECTORY)[0] == NOT_FILE
    assert root.open(b"sub", R | DIRECTORY | NOT_DIRECTORY)[0] == INVALID_ARGS
    assert root.open(b"hello.txt", NODE_REFERENCE | TRUNCATE)[0] == INVALID_ARGS
    assert root.open(b"hello.txt", R | TRUNCATE)[0] == INVALID_ARGS  # TRUNCATE without WRITABLE
    assert root.open(b"hello.txt", R | X)[0] == ACCESS_DENIED  # no execute bit on the host file
    status, _, tool = root.open(b"tool", R | X)
    assert status == ZX_OK and tool is not None
    tool.close()
    # Symlinks: inside the root they resolve, out of it they are refused.
    (tree / "inside").symlink_to("sub/deep.txt")
    (tree / "outside").symlink_to("/etc/hostname" if os.path.exists("/etc/hostname") else "/etc/passwd")
    (tree / "up").symlink_to("..")
    status, _, node = root.open(b"inside", R)
    assert status == ZX_OK and node is not None and node.read(10) == (ZX_OK, b"deep")
    node.close()
    assert root.open(b"outside", R)[0] == ACCESS_DENIED
    assert root.open(b"up/" + tree.name.encode(), R)[0] == ACCESS_DENIED
    # Rights beyond the connection's.
    status, _, ro = root.open(b"sub", R)
    assert status == ZX_OK and ro is not None
    assert ro.open(b"deep.txt", R | W)[0] == ACCESS_DENIED
    status, _, posix = root.open(b"sub", R | POSIX)  # POSIX: a directory gets the parent's write right
    assert status == ZX_OK and posix is not None
    status, _, rw = posix.open(b"deep.txt", R | W)
    assert status == ZX_OK and rw is not None
    for n in (ro, posix, rw):
        n.close()


def test_write_read_seek_truncate_and_attributes(root: Node, tree: Path) -> None:
    status, tag, f = root.open(b"new.txt", R | W | CREATE | CREATE_IF_ABSENT, MODE_TYPE_FILE | 0o600)
    assert (status, tag) == (ZX_OK, FILE) and f is not None
    assert root.open(b"new.txt", R | W | CREATE | CREATE_IF_ABSENT)[0] == ALREADY_EXISTS
    assert f.write(b"0123456789") == (ZX_OK, 10)
    assert (tree / "new.txt").read_bytes() == b"0123456789"
    assert f.read(5) == (ZX_OK, b"")  # the offset is at the end
    body, _ = f.call("File.Seek", struct.pack("<qI4x", 2, 0))
    assert struct.unpack_from("<i4xQ", body) == (ZX_OK, 2)
    assert f.read(3) == (ZX_OK, b"234")
    body, _ = f.call("File.ReadAt", struct.pack("<QQ", 4, 6))
    assert body[24:28] == b"6789"
    body, _ = f.call("File.WriteAt", struct.pack("<QQQ", 2, 2**64 - 1, 0) + b"AB" + b"\0" * 6)
    assert struct.unpack_from("<i4xQ", body) == (ZX_OK, 2)
    assert (tree / "new.txt").read_bytes() == b"AB23456789"
    body, _ = f.call("File.Seek", struct.pack("<qI4x", -1, 2))
    assert struct.unpack_from("<i4xQ", body) == (ZX_OK, 9)
    body, _ = f.call("File.Seek", struct.pack("<qI4x", -100, 1))
    assert struct.unpack_from("<i", body)[0] == INVALID_ARGS
    assert f.status("File.Truncate", struct.pack("<Q", 4)) == ZX_OK
    assert (tree / "new.txt").read_bytes() == b"AB23"
    status, mode, ino, size, storage, links, _, mtime = f.attr()
    st = os.stat(tree / "new.txt")
    assert (status, mode, ino, size, links) == (ZX_OK, MODE_TYPE_FILE | 0o600, st.st_ino, 4, 1)
    assert mtime == st.st_mtime_ns and storage == st.st_blocks * 512
    assert root.attr()[1] & 0xFF000 == MODE_TYPE_DIRECTORY
    body, _ = f.call("File.GetFlags")
    assert struct.unpack_from("<iI", body) == (ZX_OK, R | W)
    assert f.status("File.SetFlags", struct.pack("<I4x", APPEND)) == ZX_OK
    assert f.write(b"!") == (ZX_OK, 1)
    assert (tree / "new.txt").read_bytes() == b"AB23!"
    assert f.status("Node.Sync") == ZX_OK
    # A clone has the same rights (SAME_RIGHTS) and its own offset; fewer rights on asking.
    client, server = channel()
    f.txid += 1
    assert write(f.h, header(f.txid, ORD["Node.Clone"]) + struct.pack("<II", SAME_RIGHTS | DESCRIBE, 0xFFFFFFFF),
                 (server,)) == ZX_OK
    got = read(client)
    assert got is not None and struct.unpack_from("<iI", got[0], 16)[0] == ZX_OK
    clone = Node(client)
    assert clone.read(2) == (ZX_OK, b"AB")
    client, server = channel()
    assert write(f.h, header(99, ORD["Node.Clone"]) + struct.pack("<II", R, 0xFFFFFFFF), (server,)) == ZX_OK
    ro = Node(client)
    assert ro.write(b"x") == (BAD_HANDLE, 0)
    for n in (f, clone, ro):
        n.close()
    # TRUNCATE at open.
    status, _, t = root.open(b"new.txt", R | W | TRUNCATE)
    assert status == ZX_OK and t is not None and (tree / "new.txt").read_bytes() == b""
    t.close()


def test_directories_list_create_and_unlink(root: Node, tree: Path) -> None:
    status, entries = root.dirents()
    assert status == ZX_OK
    names = {name: kind for _, kind, name in entries}
    assert names == {b".": 4, b"hello.txt": 8, b"sub": 4, b"tool": 8}
    assert entries[0][2] == b"."
    assert {ino for ino, _, name in entries if name == b"hello.txt"} == {os.stat(tree / "hello.txt").st_ino}
    assert root.dirents() == (ZX_OK, [])  # the listing's end
    assert root.status("Directory.Rewind") == ZX_OK
    # A small buffer: one entry at a time, all of them in the end.
    seen = []
    while True:
        status, some = root.dirents(24)
        assert status == ZX_OK and len(some) <= 1
        if not some:
            break
        seen += [name for _, _, name in some]
    assert sorted(seen) == sorted(names)
    assert root.status("Directory.Rewind") == ZX_OK
    assert root.dirents(5) == (BUFFER_TOO_SMALL, [])  # not even "." fits
    # mkdir through Open(CREATE, mode directory), unlink of files and directories.
    status, tag, d = root.open(b"made", R | W | CREATE | CREATE_IF_ABSENT, MODE_TYPE_DIRECTORY | 0o755)
    assert (status, tag) == (ZX_OK, DIRECTORY_INFO) and d is not None and (tree / "made").is_dir()
    status, _, f = d.open(b"inner", W | CREATE)
    assert status == ZX_OK and f is not None and (tree / "made" / "inner").is_file()
    f.close()
    assert root.unlink(b"made") == NOT_EMPTY
    assert d.unlink(b"inner") == ZX_OK and not (tree / "made" / "inner").exists()
    assert d.unlink(b".") == UNAVAILABLE
    d.close()
    assert root.unlink(b"made") == ZX_OK and not (tree / "made").exists()
    assert root.unlink(b"missing") == NOT_FOUND
    assert root.unlink(b"../x") == INVALID_ARGS
    assert root.unlink(b"hello.txt/") == NOT_DIR
    assert root.unlink(b"sub/deep.txt") == ZX_OK and not (tree / "sub" / "deep.txt").exists()
    status, _, ro = root.open(b"sub", R)
    assert status == ZX_OK and ro is not None
    assert ro.unlink(b"x") == ACCESS_DENIED
    ro.close()
    # Link and Watch: not supported, with a status.
    inline, ool = string(b"hello.txt")
    ev = ffi.new("zx_handle_t*")
    assert lib.zx_event_create(0, ev) == ZX_OK
    body, _ = root.call("Directory.Link", inline + struct.pack("<II", 0xFFFFFFFF, 0) + inline + ool + ool, (ev[0],))
    assert struct.unpack_from("<i", body)[0] == NOT_SUPPORTED


def rename(node: Node, src: bytes, token: int, dst: bytes) -> int:
    """Directory.Rename with a duplicate of token (the request's handle is transferred)."""
    si, so = string(src)
    di, do = string(dst)
    dup = ffi.new("zx_handle_t*")
    assert lib.zx_handle_duplicate(token, 1 << 31, dup) == ZX_OK  # ZX_RIGHT_SAME_RIGHTS
    return node.status_with("Directory.Rename", si + struct.pack("<II", 0xFFFFFFFF, 0) + di + so + do, (dup[0],))


def get_token(node: Node) -> tuple[int, list[int]]:
    body, hs = node.call("Directory.GetToken")
    status, present = struct.unpack_from("<iI", body)
    assert present == (0xFFFFFFFF if status == ZX_OK else 0) and len(hs) == (status == ZX_OK)
    return status, hs


def test_rename_through_a_token(root: Node, tree: Path) -> None:
    status, _, sub = root.open(b"sub", R | W)
    assert status == ZX_OK and sub is not None
    status, hs = get_token(sub)
    assert status == ZX_OK
    token = hs[0]
    assert rename(root, b"hello.txt", token, b"moved.txt") == ZX_OK
    assert (tree / "sub" / "moved.txt").read_bytes() == b"hello, fuchsia.io\n" and not (tree / "hello.txt").exists()
    status, hs = get_token(root)
    assert status == ZX_OK
    assert rename(sub, b"moved.txt", hs[0], b"back.txt") == ZX_OK and (tree / "back.txt").is_file()
    assert rename(root, b"back.txt/", hs[0], b"x") == NOT_DIR
    assert rename(root, b"missing", hs[0], b"x") == NOT_FOUND
    assert rename(root, b"a/b", hs[0], b"x") == INVALID_ARGS
    assert rename(root, b"back.txt", hs[0], b"..") == INVALID_ARGS
    lib.zx_handle_close(hs[0])
    ev = ffi.new("zx_handle_t*")
    assert lib.zx_event_create(0, ev) == ZX_OK
    assert rename(root, b"back.txt", ev[0], b"y") == INVALID_ARGS  # no token of ours
    lib.zx_handle_close(ev[0])
    status, _, ro = root.open(b"sub", R)
    assert status == ZX_OK and ro is not None
    assert get_token(ro)[0] == BAD_HANDLE  # GetToken needs WRITABLE
    ro.close()
    # A token of another served directory is unknown here.
    other = connect(tree / "sub")
    status, hs = get_token(other)
    assert status == ZX_OK
    assert rename(root, b"back.txt", hs[0], b"z") == INVALID_ARGS
    lib.zx_handle_close(hs[0])
    other.close()
    lib.zx_handle_close(token)
    sub.close()


def test_read_only_root_refuses_writes(tree: Path) -> None:
    root = connect(tree, read_only=True)
    try:
        assert root.open(b"hello.txt", R | W)[0] == ACCESS_DENIED
        assert root.open(b"newfile", R | CREATE)[0] == ACCESS_DENIED
        assert root.unlink(b"hello.txt") == ACCESS_DENIED
        status, _, f = root.open(b"hello.txt", R)
        assert status == ZX_OK and f is not None
        assert f.write(b"x") == (BAD_HANDLE, 0)
        assert f.status("File.Truncate", struct.pack("<Q", 0)) == BAD_HANDLE
        f.close()
        status, _, posix = root.open(b"sub", R | POSIX)
        assert status == ZX_OK and posix is not None
        assert posix.open(b"deep.txt", R | W)[0] == ACCESS_DENIED
        posix.close()
        assert (tree / "hello.txt").read_bytes() == b"hello, fuchsia.io\n" and not (tree / "newfile").exists()
    finally:
        root.close()


def test_get_buffer_gives_a_vmo_of_the_file(root: Node) -> None:
    status, _, tool = root.open(b"tool", R | X)
    assert status == ZX_OK and tool is not None
    body, hs = tool.call("File.GetBuffer", struct.pack("<I4x", VMO_FLAG_READ | VMO_FLAG_EXEC))
    status, presence, handle, size = struct.unpack_from("<i4xQI4xQ", body)
    assert (status, presence, handle, size, len(hs)) == (ZX_OK, 2**64 - 1, 0xFFFFFFFF, 7, 1)
    info = ffi.new("zx_info_handle_basic_t*")
    assert lib.zx_object_get_info(hs[0], lib.ZX_INFO_HANDLE_BASIC, info, ffi.sizeof(info[0]), ffi.NULL,
                                  ffi.NULL) == ZX_OK
    assert info.type == ZX_OBJ_TYPE_VMO
    assert info.rights & ZX_RIGHT_EXECUTE and not info.rights & ZX_RIGHT_WRITE
    lib.zx_handle_close(hs[0])
    body, hs = tool.call("File.GetBuffer", struct.pack("<I4x", VMO_FLAG_READ | VMO_FLAG_WRITE))
    assert struct.unpack_from("<i", body)[0] == ACCESS_DENIED and hs == []  # no write right on the connection
    tool.close()
    status, _, f = root.open(b"hello.txt", R | W)
    assert status == ZX_OK and f is not None
    body, hs = f.call("File.GetBuffer", struct.pack("<I4x", VMO_FLAG_READ | VMO_FLAG_EXEC))
    assert struct.unpack_from("<i", body)[0] == ACCESS_DENIED and hs == []  # no execute right
    body, hs = f.call("File.GetBuffer", struct.pack("<I4x", VMO_FLAG_READ | VMO_FLAG_WRITE))
    assert struct.unpack_from("<i", body)[0] == NOT_SUPPORTED and hs == []  # shared writes: not a copy's
    body, hs = f.call("File.GetBuffer", struct.pack("<I4x", VMO_FLAG_READ | VMO_FLAG_WRITE | VMO_FLAG_PRIVATE))
    assert struct.unpack_from("<i", body)[0] == ZX_OK and len(hs) == 1
    lib.zx_handle_close(hs[0])
    f.close()


def test_malformed_and_unknown_requests_close_the_connection(tree: Path) -> None:
    for msg in (header(1, 0x1234), header(1, ORD["Node.GetAttr"]) + b"\0" * 8, header(1, ORD["File.Read"]),
                b"\0" * 8, header(1, ORD["Directory.Open"]) + b"\0" * 32):
        node = connect(tree)
        assert write(node.h, msg) == ZX_OK
        assert closed(node.h)
        node.close()
    # Open with a handle that is no channel: closed, and the handle with it.
    node = connect(tree)
    ev = ffi.new("zx_handle_t*")
    assert lib.zx_event_create(0, ev) == ZX_OK
    inline, ool = string(b"hello.txt")
    msg = header(1, ORD["Directory.Open"]) + struct.pack("<II", R, 0) + inline + struct.pack("<II", 0xFFFFFFFF, 0) + ool
    assert write(node.h, msg, (ev[0],)) == ZX_OK
    assert closed(node.h)
    node.close()
    # Close answers, then closes.
    node = connect(tree)
    assert node.status("Node.Close") == ZX_OK
    assert closed(node.h)
    node.close()


def _settled_tasks() -> int:
    """This process's thread count once it stops changing (a connection's thread may still be leaving)."""
    counts = [len(os.listdir("/proc/self/task"))]
    for _ in range(200):
        time.sleep(0.01)
        counts.append(len(os.listdir("/proc/self/task")))
        if len(counts) >= 5 and len(set(counts[-5:])) == 1:
            break
    return counts[-1]


def test_connections_end_with_their_clients_and_leak_nothing(tree: Path) -> None:
    live, handles, threads = lib.zxpy_fuchsia_fs_live(), handle_count(), threading.active_count()
    fds, tasks = len(os.listdir("/proc/self/fd")), _settled_tasks()
    nodes = [connect(tree) for _ in range(3)]
    opened = [n.open(b"hello.txt", R)[2] for n in nodes]
    assert lib.zxpy_fuchsia_fs_live() == live + 6
    # A host thread per connection (made just after the OnOpen the client saw).
    wait_until(lambda: len(os.listdir("/proc/self/task")) == tasks + 6, what="a thread per connection")
    for n in nodes + opened:
        assert n is not None
        n.close()
    wait_until(lambda: lib.zxpy_fuchsia_fs_live() == live, what="every connection to end")
    wait_until(lambda: len(os.listdir("/proc/self/fd")) == fds, what="the served fds to close")
    assert handle_count() == handles and threading.active_count() == threads
    wait_until(lambda: len(os.listdir("/proc/self/task")) <= tasks, what="the serving threads to end")


def test_connect_errors(tmp_path: Path) -> None:
    client = ffi.new("zx_handle_t*")
    assert lib.zxpy_fuchsia_fs_connect(os.fsencode(tmp_path / "nope"), 0, client) == NOT_FOUND
    (tmp_path / "file").write_bytes(b"")
    assert lib.zxpy_fuchsia_fs_connect(os.fsencode(tmp_path / "file"), 0, client) == NOT_DIR
    assert lib.zxpy_fuchsia_fs_connect(ffi.NULL, 0, client) == INVALID_ARGS


# ---------------------------------------------------------------------------------------------- a program of ours

NS_PROGRAM = Path(__file__).parent / "helpers" / "fuchsia_ns.c"
FLAGS = ("-fuse-ld=lld", "-nostdlib", "-ffreestanding", "-fno-builtin", "-fPIE", "-Wl,-pie", "-fno-stack-protector",
         "-fno-sanitize=safe-stack", "-O2", "-Wall", "-Wextra", "-Werror", "-e", "_start", "-Wl,--no-dynamic-linker")


@pytest.fixture(scope="module")
def ns_program(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """tests/helpers/fuchsia_ns.c as a static image, and the stand-in vDSO (no SDK needed)."""
    clang = fuchsia_clang()
    out = tmp_path_factory.mktemp("fuchsia_ns")
    subprocess.run([clang, "--target=x86_64-unknown-fuchsia", *FLAGS, "-o", str(out / "ns"), str(NS_PROGRAM)],
                   check=True, capture_output=True, text=True)
    standin_vdso.build(out / "standin", clang=clang)
    return out / "ns", out / "standin" / "libzircon.so"


def test_program_gets_names_and_directories(ns_program: tuple[Path, Path], tmp_path: Path) -> None:
    """The processargs message carries the names table and PA_HND(PA_NS_DIR, i) handles; over them the program
    opens, reads and creates files with zx_channel_write_etc / read_etc / call_etc, and the read-only entry refuses
    to create; nothing is left behind."""
    image, vdso = ns_program
    data, ro = tmp_path / "data", tmp_path / "ro"
    data.mkdir()
    ro.mkdir()
    (data / "hello.txt").write_bytes(b"hello from the host\n")
    before, live = handle_count(), lib.zxpy_fuchsia_fs_live()
    with zxpy.Job.default().create_job() as job:
        proc = job.spawn_fuchsia(image, vdso=vdso, stderr=zxpy.PIPE, namespace={"/data": data, "/ro": (ro, "r")})
        assert proc.stderr is not None
        with proc, proc.stderr:
            code = proc.wait(timeout=30)
            out = proc.stderr.read().decode()
        job.kill()
    assert code == 0, out
    assert out.splitlines() == ["name 0", "/data", "name 1", "/ro", "read: hello from the host",
                                f"ro create {ACCESS_DENIED}", "done"], out
    assert (data / "out.txt").read_bytes() == b"written by the stand-in\n"
    assert list(ro.iterdir()) == []
    wait_until(lambda: lib.zxpy_fuchsia_fs_live() == live, what="the program's connections to end")
    wait_until(lambda: handle_count() == before, what="the host's handles to be closed")


def test_namespace_bad_input(ns_program: tuple[Path, Path], tmp_path: Path) -> None:
    """Bad namespaces: TypeError or ValueError before anything is made; nothing leaks."""
    image, vdso = ns_program
    before, live = handle_count(), lib.zxpy_fuchsia_fs_live()
    (tmp_path / "file").write_bytes(b"")
    bad: list[tuple[object, type[Exception]]] = [
        (["/tmp"], TypeError), ({1: tmp_path}, TypeError), ({"/tmp": 5}, TypeError),
        ({"/tmp": (tmp_path, "x")}, ValueError), ({"/tmp": (tmp_path,)}, TypeError),
        ({"tmp": tmp_path}, ValueError), ({"/": tmp_path}, ValueError), ({"/tmp/": tmp_path}, ValueError),
        ({"/a/../b": tmp_path}, ValueError), ({"//x": tmp_path}, ValueError), ({"/a\0": tmp_path}, ValueError),
        ({"/tmp": tmp_path / "missing"}, ValueError), ({"/tmp": tmp_path / "file"}, ValueError),
        ({"/a": tmp_path, "/a/b": tmp_path}, ValueError),
    ]
    with zxpy.Job.default().create_job() as job:
        for namespace, error in bad:
            with pytest.raises(error):
                job.spawn_fuchsia(image, vdso=vdso, namespace=namespace)  # type: ignore[arg-type]
        # A Linux program's namespace is the host's.
        with pytest.raises(zxpy.NotSupportedError, match="namespace"):
            job.spawn(["/bin/true"], namespace={"/tmp": tmp_path})
        # A handle tagged PA_NS_DIR with no name for it: INVALID_ARGS, the handle consumed.
        client = ffi.new("zx_handle_t*")
        assert lib.zxpy_fuchsia_fs_connect(os.fsencode(tmp_path), 0, client) == ZX_OK
        with pytest.raises(zxpy.InvalidArgsError):
            job.spawn_fuchsia(image, vdso=vdso, handles={0x20: zxpy.Handle(client[0])})
        # Too many handles with the namespace: INVALID_ARGS, every directory connection closed again.
        many = {f"/d{i}": tmp_path for i in range(16)}
        with pytest.raises(zxpy.InvalidArgsError):
            job.spawn_fuchsia(image, vdso=vdso, namespace=many)
        job.kill()
    wait_until(lambda: lib.zxpy_fuchsia_fs_live() == live, what="the connections to end")
    assert handle_count() == before


# ---------------------------------------------------------------------------------------------- a real SDK program

SDK_FILES = r"""
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <lib/fdio/directory.h>
#include <lib/fdio/io.h>
#include <zircon/syscalls.h>

/* fuchsia.io's OPEN_RIGHT_READABLE and OPEN_RIGHT_EXECUTABLE (io.fidl) */
#define RIGHT_READABLE 0x1u
#define RIGHT_EXECUTABLE 0x8u

#define CHECK(cond) do { if (!(cond)) { printf("FAILED line %d errno %d\n", __LINE__, errno); return 100; } } while (0)

int main(void) {
    char buf[128];
    /* A file of /pkg, read-only. */
    int fd = open("/pkg/data.txt", O_RDONLY);
    CHECK(fd >= 0);
    ssize_t n = read(fd, buf, sizeof buf - 1);
    CHECK(n > 0);
    buf[n] = '\0';
    printf("pkg: %s", buf);
    close(fd);
    errno = 0;
    CHECK(open("/pkg/new.txt", O_CREAT | O_WRONLY, 0644) < 0);
    printf("pkg create errno %d\n", errno);
    CHECK(open("/pkg/data.txt", O_WRONLY) < 0);
    printf("pkg write errno %d\n", errno);
    /* /tmp: create, write, stat, read back. */
    fd = open("/tmp/made.txt", O_CREAT | O_EXCL | O_WRONLY, 0644);
    CHECK(fd >= 0);
    CHECK(write(fd, "written by fuchsia\n", 19) == 19);
    CHECK(close(fd) == 0);
    CHECK(open("/tmp/made.txt", O_CREAT | O_EXCL | O_WRONLY, 0644) < 0 && errno == EEXIST);
    struct stat st;
    CHECK(stat("/tmp/made.txt", &st) == 0);
    printf("stat size %lld reg %d\n", (long long)st.st_size, S_ISREG(st.st_mode) ? 1 : 0);
    fd = open("/tmp/made.txt", O_RDONLY);
    CHECK(fd >= 0);
    n = read(fd, buf, sizeof buf - 1);
    CHECK(n == 19 && memcmp(buf, "written by fuchsia\n", 19) == 0);
    CHECK(lseek(fd, 8, SEEK_SET) == 8);
    n = read(fd, buf, 10);
    CHECK(n == 10 && memcmp(buf, "by fuchsia", 10) == 0);
    close(fd);
    /* mkstemp, as the conformance harness makes its progress files; fstat of the open file; unlink. */
    char tmpl[] = "/tmp/progressXXXXXX";
    int t = mkstemp(tmpl);
    CHECK(t >= 0);
    CHECK(write(t, "abc", 3) == 3);
    CHECK(fstat(t, &st) == 0 && st.st_size == 3);
    CHECK(stat(tmpl, &st) == 0 && st.st_size == 3);
    CHECK(unlink(tmpl) == 0);
    CHECK(stat(tmpl, &st) != 0 && errno == ENOENT);
    close(t);
    /* The host's file, removed. */
    CHECK(unlink("/tmp/remove.me") == 0);
    CHECK(stat("/tmp/remove.me", &st) != 0 && errno == ENOENT);
    /* mkdir and a file in it. */
    CHECK(mkdir("/tmp/newdir", 0755) == 0);
    CHECK(stat("/tmp/newdir", &st) == 0 && S_ISDIR(st.st_mode));
    fd = open("/tmp/newdir/inner", O_CREAT | O_RDWR, 0600);
    CHECK(fd >= 0);
    close(fd);
    /* rename(2): GetToken of the new parent, Rename in the old one. */
    fd = open("/tmp/moveme", O_CREAT | O_WRONLY, 0644);
    CHECK(fd >= 0);
    close(fd);
    CHECK(rename("/tmp/moveme", "/tmp/newdir/moved") == 0);
    CHECK(stat("/tmp/newdir/moved", &st) == 0 && stat("/tmp/moveme", &st) != 0);
    /* The listing of /tmp. */
    DIR *d = opendir("/tmp");
    CHECK(d != NULL);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) printf("entry %s %d\n", e->d_name, e->d_type);
    closedir(d);
    /* An executable's VMO, as fdio_spawn loads one: opened READABLE | EXECUTABLE, GetBuffer(READ | EXEC). */
    fd = -1;
    CHECK(fdio_open_fd("/pkg/tool", RIGHT_READABLE | RIGHT_EXECUTABLE, &fd) == ZX_OK);
    zx_handle_t vmo = ZX_HANDLE_INVALID;
    CHECK(fdio_get_vmo_exec(fd, &vmo) == ZX_OK);
    uint64_t vmo_size = 0;
    CHECK(zx_vmo_get_size(vmo, &vmo_size) == ZX_OK);
    zx_info_handle_basic_t info;
    CHECK(zx_object_get_info(vmo, ZX_INFO_HANDLE_BASIC, &info, sizeof info, NULL, NULL) == ZX_OK);
    printf("exec vmo size %llu executable %d\n", (unsigned long long)vmo_size,
           (info.rights & ZX_RIGHT_EXECUTE) ? 1 : 0);
    zx_handle_close(vmo);
    close(fd);
    fd = -1;
    CHECK(fdio_open_fd("/pkg/data.txt", RIGHT_READABLE | RIGHT_EXECUTABLE, &fd) == ZX_ERR_ACCESS_DENIED);
    printf("done\n");
    return 0;
}
"""


def _sdk_build(tmp_path: Path, name: str, source: str) -> tuple[Path, Path]:
    sysroot = real_sdk_2021() / "arch/x64/sysroot"
    fdio = real_sdk_2021() / "pkg/fdio"
    clang = fuchsia_clang()
    src = tmp_path / f"{name}.c"
    src.write_text(source)
    exe = tmp_path / name
    common = [clang, "--target=x86_64-unknown-fuchsia", f"--sysroot={sysroot}"]
    subprocess.run([*common, "-I", str(fdio / "include"), "-c", str(src), "-o", f"{exe}.o"], check=True,
                   capture_output=True)
    subprocess.run([*common, "-fuse-ld=lld", "-nostdlib", "-Wl,-pie", "-Wl,--dynamic-linker=ld.so.1",
                    str(sysroot / "lib/Scrt1.o"), f"{exe}.o", "-L", str(sysroot / "lib"), "-L",
                    str(fdio / "arch/x64/lib"), "-lfdio", "-lc", "-lzircon", "-o", str(exe)],
                   check=True, capture_output=True)
    return exe, sysroot


def test_sdk_program_uses_tmp_and_pkg_through_libfdio(tmp_path: Path) -> None:
    """A program linked with the SDK's libfdio opens, creates, writes, stats, reads, lists and unlinks files in its
    /tmp, and reads its read-only /pkg: what it did is what the host directories hold afterwards."""
    exe, sysroot = _sdk_build(tmp_path, "files", SDK_FILES)
    pkg, tmp = tmp_path / "pkg", tmp_path / "tmp"
    pkg.mkdir()
    tmp.mkdir()
    (pkg / "data.txt").write_bytes(b"packaged data\n")
    (pkg / "tool").write_bytes(b"#!tool\n")
    (pkg / "tool").chmod(0o755)
    (tmp / "remove.me").write_bytes(b"x")
    (tmp / "kept.txt").write_bytes(b"kept")
    before, live = handle_count(), lib.zxpy_fuchsia_fs_live()
    with zxpy.Job.default().create_job() as job:
        proc = job.spawn_fuchsia(exe, sysroot=sysroot, stdout=zxpy.PIPE, name="sdk-files",
                                 namespace={"/pkg": (pkg, "r"), "/tmp": tmp})
        assert proc.stdout is not None
        with proc, proc.stdout:
            code = proc.wait(timeout=60)
            out = proc.stdout.read().decode()
        job.kill()
    assert code == 0, out
    lines = out.splitlines()
    assert lines[0] == "pkg: packaged data"
    assert lines[1] == "pkg create errno 13" and lines[2] == "pkg write errno 13"  # EACCES: ACCESS_DENIED
    assert lines[3] == "stat size 19 reg 1"
    entries = {tuple(line.split()[1:]) for line in lines if line.startswith("entry ")}
    assert entries == {(".", "4"), ("made.txt", "8"), ("kept.txt", "8"), ("newdir", "4")}
    assert lines[-2] == "exec vmo size 4096 executable 1"  # the file's 7 bytes, in a page
    assert lines[-1] == "done"
    assert (tmp / "made.txt").read_bytes() == b"written by fuchsia\n"
    assert (tmp / "newdir" / "inner").is_file() and not (tmp / "remove.me").exists()
    assert (tmp / "newdir" / "moved").is_file()
    assert sorted(p.name for p in tmp.iterdir()) == ["kept.txt", "made.txt", "newdir"]
    assert sorted(p.name for p in pkg.iterdir()) == ["data.txt", "tool"]
    wait_until(lambda: lib.zxpy_fuchsia_fs_live() == live, what="the program's connections to end")
    wait_until(lambda: handle_count() == before, what="the host's handles to be closed")


def test_service_directory_hands_names_to_their_connectors(tmp_path: Path) -> None:
    """hk_fx_svc_dir_connect (tests/helpers/fileserver_svc.c, linked with the host kernel): Open of a name calls its
    connector with the request channel (after OnOpen(ZX_OK, service) with DESCRIBE), an unknown name is closed
    (OnOpen NOT_FOUND), "." / Clone / ReadDirents / GetAttr / Close serve the directory, bad entries are
    INVALID_ARGS, and every connection ends with its client."""
    root = Path(__file__).parents[1]
    host = root / "host"
    # The host kernel and the runner as the module has them (vdso_dump.c is a tool with a main of its own).
    sources = [Path(__file__).parent / "helpers" / "fileserver_svc.c", *sorted(host.glob("*.c")),
               *sorted((host / "ipc").glob("*.c")),
               *(p for p in sorted((host / "fuchsia").glob("*.c")) if p.name != "vdso_dump.c")]
    exe = tmp_path / "fileserver_svc"
    subprocess.run([*host_cc(), "-std=gnu11", "-O1", "-g", "-Wall", "-Wextra", "-Werror", "-pthread",
                    f"-I{host / 'include'}", f"-I{host}", *map(str, sources), "-o", str(exe)],
                   check=True, capture_output=True, text=True)
    done = subprocess.run([str(exe)], capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout) == (0, "ok\n"), done.stdout + done.stderr
