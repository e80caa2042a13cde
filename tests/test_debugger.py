"""The debugger's calls on the host kernel: thread state (registers, single-step), process memory, properties.

A spawned ``regloop`` (tests/helpers/regloop.c) spins on one register (x86-64 r12, arm64 x19) and prints it, a
variable and a read-only string when the register becomes non-zero: suspended, its instruction pointer stays
put; a register written while it is suspended is what it prints; memory written is what it prints; single-step
runs exactly one of its two loop instructions per resume.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import threading
from collections.abc import Callable, Iterator
from typing import IO

import pytest
from conftest import LONG, wait_until

import zxpy
from zxpy import (
    AccessDeniedError,
    Arm64GeneralRegs,
    BadStateError,
    BufferTooSmallError,
    InvalidArgsError,
    Job,
    NoMemoryError,
    NotSupportedError,
    Process,
    Rights,
    Signals,
    Thread,
    ThreadState,
    ThreadStateKind,
    WrongTypeError,
    X64GeneralRegs,
)
from zxpy.errors import PeerClosedError
from zxpy.testing import ProgressWorker

ARCH = zxpy.regs.ARCH
pytestmark = pytest.mark.skipif(ARCH not in ("x64", "arm64"), reason="register records exist for x64 and arm64 only")

#: The spin register of regloop, and the byte length of its "cmp $0, REG" (the branch back follows it).
CMP_LEN = 4


def spin_reg(regs: X64GeneralRegs | Arm64GeneralRegs) -> int:
    return regs.r12 if isinstance(regs, X64GeneralRegs) else regs.r[19]


def with_spin_reg(regs: X64GeneralRegs | Arm64GeneralRegs, value: int) -> X64GeneralRegs | Arm64GeneralRegs:
    if isinstance(regs, X64GeneralRegs):
        return regs.replace(r12=value)
    r = list(regs.r)
    r[19] = value
    return regs.replace(r=tuple(r))


@dataclasses.dataclass
class Loop:
    proc: Process
    thread: Thread
    out: IO[str]
    loop: int  # address of the loop's cmp
    value: int  # address of the uint64 variable (1)
    message: int  # address of the read-only "original"

    def result(self) -> str:
        line = self.out.readline().strip()
        assert self.proc.wait(timeout=LONG) == 0
        return line


@pytest.fixture
def regloop(job: Job, helper_bin: Callable[[str], str]) -> Iterator[Loop]:
    r, w = os.pipe()
    try:
        proc = job.spawn([helper_bin("regloop")], fds={1: w})
    finally:
        os.close(w)
    out = os.fdopen(r)
    try:
        loop, value, message = (int(x, 16) for x in out.readline().split())
        thread = proc.child(proc.threads()[0])
        for _ in range(10_000):  # until it spins (it may still be returning from the write of its first line)
            with thread.suspend(timeout=LONG):
                if thread.read_state().pc in (loop, loop + CMP_LEN):
                    break
        else:
            pytest.fail("regloop never reached its loop")
        yield Loop(proc, thread, out, loop, value, message)
        thread.close()
        proc.close()
    finally:
        out.close()


def wait_state(thread: Thread, state: ThreadState) -> None:
    wait_until(lambda: thread.info().state == state, what=f"thread {state.name}")


# ---------------------------------------------------------------------------------------------- registers


def test_registers_of_a_suspended_program_stay_put(regloop: Loop) -> None:
    wait_state(regloop.thread, ThreadState.RUNNING)
    with pytest.raises(BadStateError) as info:  # running: no registers (Zircon's SuspendedOrInExceptionLocked)
        regloop.thread.read_state()
    assert info.value.syscall == "zx_thread_read_state"
    with regloop.thread.suspend(timeout=LONG):
        reads = [regloop.thread.read_state() for _ in range(5)]
        assert len(set(reads)) == 1, "the registers of a suspended thread changed"
        regs = reads[0]
        assert regs.pc in (regloop.loop, regloop.loop + CMP_LEN)
        assert spin_reg(regs) == 0
        assert regs.sp == (regs.rsp if isinstance(regs, X64GeneralRegs) else regs.sp) and regs.sp != 0
        assert isinstance(regs, zxpy.GeneralRegs)  # type: ignore[arg-type]
        with pytest.raises(dataclasses.FrozenInstanceError):
            regs.sp = 0  # type: ignore[misc]
    # Resumed: it spins again, and its registers are gone again.
    wait_state(regloop.thread, ThreadState.RUNNING)
    with pytest.raises(BadStateError):
        regloop.thread.read_state()
    regloop.proc.kill()


def test_a_written_register_is_what_the_program_sees(regloop: Loop) -> None:
    with regloop.thread.suspend(timeout=LONG):
        regs = regloop.thread.read_state()
        regloop.thread.write_state(with_spin_reg(regs, 42))
        assert spin_reg(regloop.thread.read_state()) == 42
        assert regloop.thread.read_state() == with_spin_reg(regs, 42)  # nothing else changed
    assert regloop.result() == "reg=42 value=1 message=original"


def test_writing_the_instruction_pointer_moves_the_thread(regloop: Loop) -> None:
    """pc set to the instruction after the loop (the move of the register into the result) with the spin
    register still 0: the program leaves the loop and prints 0, which it never could by itself."""
    after = regloop.loop + CMP_LEN + (2 if ARCH == "x64" else 4)
    with regloop.thread.suspend(timeout=LONG):
        regs = regloop.thread.read_state()
        moved = regs.replace(rip=after) if isinstance(regs, X64GeneralRegs) else regs.replace(pc=after)
        regloop.thread.write_state(moved)
        assert regloop.thread.read_state().pc == after
    assert regloop.result() == "reg=0 value=1 message=original"


def test_write_state_checks(regloop: Loop) -> None:
    with regloop.thread.suspend(timeout=LONG):
        regs = regloop.thread.read_state()
        if isinstance(regs, X64GeneralRegs):
            # Zircon's arch_set_general_regs: canonical user rip, canonical fs/gs base.
            for bad in (regs.replace(rip=1 << 47), regs.replace(rip=0xFFFF_8000_0000_0000),
                        regs.replace(fs_base=1 << 50), regs.replace(gs_base=0x0000_8000_0000_0000)):
                with pytest.raises(InvalidArgsError):
                    regloop.thread.write_state(bad)
        assert regloop.thread.read_state() == regs  # a refused write changed nothing
        other = Arm64GeneralRegs((0,) * 30, 0, 0, 0, 0, 0) if ARCH == "x64" else X64GeneralRegs(*[0] * 20)
        with pytest.raises(TypeError):
            regloop.thread.write_state(other)
    regloop.proc.kill()


def test_rights_kind_and_size(regloop: Loop) -> None:
    lib, ffi = zxpy.lib, zxpy.ffi
    no_read = regloop.thread.duplicate(Rights.BASIC | Rights.WRITE)
    no_write = regloop.thread.duplicate(Rights.BASIC | Rights.READ)
    try:
        with regloop.thread.suspend(timeout=LONG):
            with pytest.raises(AccessDeniedError):
                no_read.read_state()
            no_write.read_state()
            with pytest.raises(AccessDeniedError):
                no_write.write_single_step(False)
            # Unknown kind, then the size: BUFFER_TOO_SMALL below the record, a larger buffer is fine.
            with pytest.raises(InvalidArgsError):
                regloop.thread.read_state_bytes(3)
            with pytest.raises(BufferTooSmallError):
                regloop.thread.write_state_bytes(ThreadStateKind.GENERAL_REGS, b"\0" * 8)
            size = ffi.sizeof("zx_thread_state_general_regs_t")
            big = ffi.new("uint64_t[]", size // 8 + 4)
            assert lib.zx_thread_read_state(regloop.thread.raw, lib.ZX_THREAD_STATE_GENERAL_REGS, big,
                                            size + 32) == lib.ZX_OK
            assert lib.zx_thread_read_state(regloop.thread.raw, lib.ZX_THREAD_STATE_GENERAL_REGS, big,
                                            size - 1) == lib.ZX_ERR_BUFFER_TOO_SMALL
            # NULL buffers: a read's copy-out and a write's copy-in fault (INVALID_ARGS).
            assert lib.zx_thread_read_state(regloop.thread.raw, lib.ZX_THREAD_STATE_GENERAL_REGS, ffi.NULL,
                                            size) == lib.ZX_ERR_INVALID_ARGS
            assert lib.zx_thread_write_state(regloop.thread.raw, lib.ZX_THREAD_STATE_GENERAL_REGS, ffi.NULL,
                                             size) == lib.ZX_ERR_INVALID_ARGS
            # The host kernel programs no hardware breakpoints.
            with pytest.raises(NotSupportedError):
                regloop.thread.read_state_bytes(ThreadStateKind.DEBUG_REGS)
            # Single-step takes 0 or 1 only.
            with pytest.raises(InvalidArgsError):
                regloop.thread.write_state_bytes(ThreadStateKind.SINGLE_STEP, (2).to_bytes(4, "little"))
        # Type before rights, as every typed lookup.
        with pytest.raises(WrongTypeError):
            Thread.read_state(regloop.proc)  # type: ignore[arg-type]
    finally:
        no_read.close()
        no_write.close()
    regloop.proc.kill()


def test_fp_and_vector_registers_round_trip(regloop: Loop) -> None:
    ffi = zxpy.ffi
    with regloop.thread.suspend(timeout=LONG):
        fp = regloop.thread.read_state_bytes(ThreadStateKind.FP_REGS)
        vec = regloop.thread.read_state_bytes(ThreadStateKind.VECTOR_REGS)
        assert len(fp) == ffi.sizeof("zx_thread_state_fp_regs_t")
        assert len(vec) == ffi.sizeof("zx_thread_state_vector_regs_t")
        changed = bytearray(vec)
        if ARCH == "x64":
            # zmm[1].v[0..1] is xmm1; mxcsr (offset 2112) reads the default 0x1f80 of a fresh thread.
            assert int.from_bytes(vec[2112:2116], "little") & 0xFFBF == 0x1F80
            changed[64:80] = bytes(range(16))
        else:
            changed[8 + 16:8 + 32] = bytes(range(16))  # v[1]
        regloop.thread.write_state_bytes(ThreadStateKind.VECTOR_REGS, bytes(changed))
        assert regloop.thread.read_state_bytes(ThreadStateKind.VECTOR_REGS) == bytes(changed)
        if ARCH == "x64":
            cw = bytearray(fp)
            cw[0:2] = (0x27F).to_bytes(2, "little")  # x87 control word: double precision instead of extended
            regloop.thread.write_state_bytes(ThreadStateKind.FP_REGS, bytes(cw))
            assert regloop.thread.read_state_bytes(ThreadStateKind.FP_REGS)[0:2] == bytes(cw[0:2])
    regloop.proc.kill()


def test_single_step_runs_one_instruction_per_resume(regloop: Loop) -> None:
    """No exception channel anywhere in the chain (where Zircon would kill the process): the host holds the thread at
    each step's trap, and a suspend and resume steps the next instruction (docs/debugging.md)."""
    thread = regloop.thread
    with thread.suspend(timeout=LONG):
        assert thread.read_single_step() is False
        first = thread.read_state().pc
        thread.write_single_step(True)
        assert thread.read_single_step() is True
    pcs = [first]
    for _ in range(6):
        # Held at the trap: Zircon's picture of a thread waiting on its single-step exception; registers readable.
        wait_state(thread, ThreadState.BLOCKED_EXCEPTION)
        pcs.append(thread.read_state().pc)
        assert thread.read_state().pc == pcs[-1]  # held: it does not move
        with thread.suspend(timeout=LONG):  # a suspend and resume steps the next instruction
            pass
    # cmp (4 bytes) then the branch back to it, taken while the register is 0.
    for before, after in zip(pcs, pcs[1:], strict=False):
        expected = before + CMP_LEN if before == regloop.loop else regloop.loop
        assert after == expected, [hex(p) for p in pcs]
    wait_state(thread, ThreadState.BLOCKED_EXCEPTION)
    with thread.suspend(timeout=LONG):
        thread.write_single_step(False)
        thread.write_state(with_spin_reg(thread.read_state(), 7))
    assert regloop.result() == "reg=7 value=1 message=original"


def test_single_step_over_a_system_call(job: Job, helper_bin: Callable[[str], str]) -> None:
    """Stepping a `syscall` / `svc` instruction: Linux reports that step from the call's exit (not as TRAP_TRACE),
    and it is still the step's trap, never a SIGTRAP delivered to the program (which would kill it)."""
    r, w = os.pipe()
    try:
        proc = job.spawn([helper_bin("regloop"), "syscall"], fds={1: w})
    finally:
        os.close(w)
    with os.fdopen(r) as out, proc, proc.child(proc.threads()[0]) as thread:
        loop = int(out.readline(), 16)
        for _ in range(10_000):  # until it is in the loop (it may still be returning from the write of its output)
            with thread.suspend(timeout=LONG):
                if loop <= thread.read_state().pc < loop + 16:
                    thread.write_single_step(True)
                    break
        else:
            pytest.fail("regloop never reached its system call loop")
        pcs = []
        for _ in range(9):
            wait_state(thread, ThreadState.BLOCKED_EXCEPTION)
            pcs.append(thread.read_state().pc)
            with thread.suspend(timeout=LONG):
                pass
        assert not proc.info().exited
        assert len(set(pcs)) == 3, [hex(p) for p in pcs]  # the three instructions, round and round
        assert pcs[:3] * 3 == pcs
        proc.kill()
        proc.wait(timeout=LONG)


def test_single_step_traps_reach_the_debugger_channel(regloop: Loop) -> None:
    """As on Zircon (x86_debug_handler / arm64_step_handler), each step's trap is ZX_EXCP_HW_BREAKPOINT on the
    exception channels, debugger first; HANDLED resumes the thread for one more step while the flag is set."""
    thread, proc = regloop.thread, regloop.proc
    with proc.exception_channel(debugger=True) as channel:
        with thread.suspend(timeout=LONG):
            pcs = [thread.read_state().pc]
            thread.write_single_step(True)
        for _ in range(6):
            with channel.receive(timeout=LONG) as exc:
                assert exc.type == zxpy.ExceptionType.HW_BREAKPOINT
                assert exc.tid == thread.koid
                info = thread.info()
                assert info.state == ThreadState.BLOCKED_EXCEPTION
                assert info.wait_exception_channel_type == zxpy.ExceptionChannelType.DEBUGGER
                if ARCH == "x64":
                    assert exc.report().vector == 1  # #DB
                pcs.append(thread.read_state().pc)
                assert thread.read_single_step() is True
                exc.handle()
        # cmp (4 bytes) then the branch back to it: every step ran exactly one instruction, and the pc moved each time.
        for before, after in zip(pcs, pcs[1:], strict=False):
            assert after != before
            expected = before + CMP_LEN if before == regloop.loop else regloop.loop
            assert after == expected, [hex(p) for p in pcs]
        with channel.receive(timeout=LONG) as exc:
            assert exc.type == zxpy.ExceptionType.HW_BREAKPOINT
            thread.write_single_step(False)  # in an exception: written as on a suspended thread
            thread.write_state(with_spin_reg(thread.read_state(), 7))
            exc.handle()
        assert regloop.result() == "reg=7 value=1 message=original"  # it ran freely to its end: no further trap
        # The process is gone, and with it the channel's peer; no step was left unreported: what may be left
        # unread is the thread's exit, told the debugger only.
        left = []
        while True:
            try:
                with channel.receive(timeout=LONG) as exc:
                    left.append(exc.type)
            except PeerClosedError:
                break
        assert set(left) <= {zxpy.ExceptionType.THREAD_EXITING}, left


def test_an_unhandled_single_step_trap_kills_the_process(regloop: Loop) -> None:
    """A channel that passes the step's HW_BREAKPOINT on (TRY_NEXT) with nobody after it: the process dies of it,
    ZX_TASK_RETCODE_EXCEPTION_KILL (dispatch_user_exception); the flag is no way around the handler chain."""
    thread, proc = regloop.thread, regloop.proc
    with proc.exception_channel() as channel:
        with thread.suspend(timeout=LONG):
            thread.write_single_step(True)
        with channel.receive(timeout=LONG) as exc:
            assert exc.type == zxpy.ExceptionType.HW_BREAKPOINT
            assert thread.info().wait_exception_channel_type == zxpy.ExceptionChannelType.PROCESS
            exc.try_next()
        assert proc.wait(timeout=LONG) == zxpy.TASK_RETCODE_EXCEPTION_KILL


def test_registers_of_a_thread_in_an_exception(job: Job, helper_bin: Callable[[str], str]) -> None:
    """A thread held in an exception has its registers available as a suspended one (SuspendedOrInExceptionLocked):
    a debugger reads them on its exception channel, and a written register is what the thread resumes with."""
    r, w = os.pipe()
    go_r, go_w = os.pipe()  # the crasher waits for a line here, so the channel is bound before its int3
    try:
        proc = job.spawn([helper_bin("crasher"), "int3", "wait"], fds={0: go_r, 1: w})
    finally:
        os.close(w)
        os.close(go_r)
    with os.fdopen(r) as out, os.fdopen(go_w, "w") as go, proc, proc.exception_channel(debugger=True) as channel:
        go.write("go\n")
        go.flush()
        with channel.receive(timeout=LONG) as exc:
            assert exc.type == zxpy.ExceptionType.SW_BREAKPOINT
            thread = exc.thread
            regs = thread.read_state()
            if ARCH == "x64":  # the breakpoint's trap leaves rip after the int3
                assert proc.read_memory(regs.pc - 1, 1) == b"\xcc"
            thread.write_state(regs)
            exc.state = zxpy.ExceptionState.HANDLED
        assert proc.wait(timeout=LONG) == 0
        out.read()


def test_a_killed_program_has_no_registers(regloop: Loop) -> None:
    with regloop.thread.suspend(timeout=LONG):
        regloop.thread.read_state()
        regloop.proc.kill()
        regloop.proc.wait(timeout=LONG)
        with pytest.raises(BadStateError):
            regloop.thread.read_state()
    assert regloop.thread.info().state == ThreadState.DEAD


def test_threads_of_this_process_parked_in_the_handler() -> None:
    """A Python thread blocked in os.read parks in its park signal's handler: its general registers are the context
    the signal interrupted (sigreturn resumes it with them, and the read goes on); other kinds, its thread pointer
    and single-step are NOT_SUPPORTED."""
    r, w = os.pipe()
    koids: list[int] = []
    got: list[bytes] = []

    def reader() -> None:
        koids.append(Thread.self().koid)
        got.append(os.read(r, 16))

    runner = threading.Thread(target=reader)
    runner.start()
    try:
        wait_until(lambda: koids, what="the reader adopted")
        with Process.self().child(koids[0]) as thread:
            # In the read: a BLOCKED_* state (that of a thread blocked in Linux, docs/thread-states.md).
            wait_until(lambda: thread.info().state.basic == ThreadState.BLOCKED, what="the reader blocked")
            with thread.suspend(timeout=LONG):
                regs = thread.read_state()
                assert thread.read_state() == regs
                assert regs.pc != 0 and regs.sp != 0
                thread.write_state(regs)  # unchanged: the read goes on as before
                if isinstance(regs, X64GeneralRegs):
                    with pytest.raises(NotSupportedError):
                        thread.write_state(regs.replace(fs_base=regs.fs_base + 8))
                with pytest.raises(NotSupportedError):
                    thread.read_state_bytes(ThreadStateKind.FP_REGS)
                with pytest.raises(NotSupportedError):
                    thread.write_single_step(True)
            thread.wait_one(Signals.THREAD_RUNNING, timeout=LONG)  # it resumes itself, right after the close
            with pytest.raises(BadStateError):  # running again: the state check comes first
                thread.read_state()
        os.write(w, b"after")
        runner.join(timeout=LONG)
        assert got == [b"after"]
    finally:
        os.close(w)
        runner.join(timeout=LONG)
        os.close(r)


def test_a_worker_of_this_process_shows_registers_only_where_it_parked_in_the_handler(
        worker: ProgressWorker) -> None:
    """A C worker sleeps in zx_nanosleep most of the time, and a thread suspended inside the host kernel parks
    there, not in the handler: each suspension shows its registers or says NOT_SUPPORTED, never anything else."""
    seen = set()
    for _ in range(20):
        with worker.thread.suspend(timeout=LONG):
            try:
                worker.thread.read_state()
                seen.add("registers")
            except NotSupportedError:
                seen.add("not supported")
    assert seen
    count = worker.count
    wait_until(lambda: worker.count > count, what="the worker counting again")


def test_a_python_thread_parked_at_a_bytecode_has_no_registers() -> None:
    """A busy Python thread parks at its next bytecode, not in the park signal's handler (docs/self-suspend.md):
    there is no interrupted context of its own to show, so NOT_SUPPORTED rather than the kernel's registers."""
    if sys.version_info < (3, 12):
        pytest.skip("before 3.12 (no sys.monitoring) a thread busy in Python, other than the main one, does not "
                    "stop (docs/self-suspend.md)")
    stop = threading.Event()
    koids: list[int] = []

    def spin() -> None:
        koids.append(Thread.self().koid)
        n = 0
        while not stop.is_set():
            n += 1

    runner = threading.Thread(target=spin)
    runner.start()
    try:
        wait_until(lambda: koids, what="the Python thread adopted")
        with Process.self().child(koids[0]) as thread, thread.suspend(timeout=LONG):
            with pytest.raises(NotSupportedError):
                thread.read_state()
    finally:
        stop.set()
        runner.join()


def test_the_calling_thread_has_no_registers() -> None:
    with pytest.raises(BadStateError):  # it is running (it cannot suspend itself: NOT_SUPPORTED there)
        Thread.self().read_state()


# ---------------------------------------------------------------------------------------------- memory


def test_read_and_write_memory_of_a_running_program(regloop: Loop) -> None:
    proc = regloop.proc
    assert proc.read_memory(regloop.value, 8) == (1).to_bytes(8, "little")
    assert proc.read_memory(regloop.message, 9) == b"original\0"
    assert proc.write_memory(regloop.value, (1234).to_bytes(8, "little")) == 8
    # Read-only data (and code) is written as Zircon writes the VMO: how a debugger plants a breakpoint.
    assert proc.write_memory(regloop.message, b"patched!") == 8
    assert proc.read_memory(regloop.message, 8) == b"patched!"
    with regloop.thread.suspend(timeout=LONG):
        regloop.thread.write_state(with_spin_reg(regloop.thread.read_state(), 5))
    assert regloop.result() == "reg=5 value=1234 message=patched!"


def test_code_reads_back_as_the_loop(regloop: Loop) -> None:
    code = regloop.proc.read_memory(regloop.loop, CMP_LEN)
    if ARCH == "x64":
        assert code == bytes.fromhex("4983fc00")  # cmp $0x0, %r12
    assert len(code) == CMP_LEN
    regloop.proc.kill()


def test_memory_limits_and_errors(regloop: Loop, job: Job) -> None:
    proc = regloop.proc
    lib, ffi = zxpy.lib, zxpy.ffi
    with pytest.raises(NoMemoryError):
        proc.read_memory(0x1000, 8)  # nothing mapped there
    with pytest.raises(InvalidArgsError):
        proc.read_memory(regloop.value, 0)
    buf = ffi.new("char[8]")
    actual = ffi.new("size_t *")
    # The limit: 64 MiB (kMaxDebugReadBlock), checked before the handle.
    assert lib.zx_process_read_memory(0xBADC0FFE, regloop.value, buf, 64 * 2**20 + 1, actual) == \
        lib.ZX_ERR_INVALID_ARGS
    assert lib.zx_process_read_memory(0xBADC0FFE, regloop.value, buf, 8, actual) == lib.ZX_ERR_BAD_HANDLE
    assert lib.zx_process_read_memory(proc.raw, regloop.value, ffi.NULL, 8, actual) == lib.ZX_ERR_INVALID_ARGS
    # A read stops at the end of its mapping and says how much it read.
    page = regloop.value & ~0xFFF
    end = page
    while True:
        try:
            proc.read_memory(end, 1)
        except NoMemoryError:
            break
        end += 0x1000
    tail = proc.read_memory(end - 4, 64)
    assert len(tail) == 4
    # Rights: read needs READ and WRITE, write needs WRITE; the type comes first.
    reader = proc.duplicate(Rights.BASIC | Rights.READ)
    writer = proc.duplicate(Rights.BASIC | Rights.WRITE)
    try:
        with pytest.raises(AccessDeniedError):
            reader.read_memory(regloop.value, 8)
        with pytest.raises(AccessDeniedError):
            reader.write_memory(regloop.value, b"x")
        assert writer.write_memory(regloop.value, (1).to_bytes(8, "little")) == 8
        with pytest.raises(WrongTypeError):
            Process.read_memory(regloop.thread, regloop.value, 8)  # type: ignore[arg-type]
    finally:
        reader.close()
        writer.close()
    # A process made by zx_process_create has nothing mapped on the host; a dead one has no address space.
    with job.create_process("empty") as empty:
        with pytest.raises(NoMemoryError):
            empty.read_memory(regloop.value, 8)
    proc.kill()
    proc.wait(timeout=LONG)
    with pytest.raises(BadStateError):
        proc.read_memory(regloop.value, 8)


def test_the_vdso_cannot_be_written(regloop: Loop) -> None:
    with open("/proc/self/maps") as f:  # the vDSO sits at one address per boot only with ASLR off: use our own
        vdso = [line for line in f if line.rstrip().endswith("[vdso]")]
    if not vdso:
        pytest.skip("no [vdso] mapping in this process (a kernel without a vDSO)")
    start = int(vdso[0].split("-")[0], 16)
    me = Process.self()
    assert len(me.read_memory(start, 4)) == 4  # readable: ELF magic
    with pytest.raises(AccessDeniedError):
        me.write_memory(start, b"\x7fELF")
    regloop.proc.kill()


def test_own_memory(regloop: Loop) -> None:
    data = zxpy.ffi.new("char[]", b"zxpy own memory")
    address = int(zxpy.ffi.cast("uintptr_t", data))
    me = Process.self()
    assert me.read_memory(address, 15) == b"zxpy own memory"
    assert me.write_memory(address, b"ZXPY") == 4
    assert zxpy.ffi.string(data) == b"ZXPY own memory"
    regloop.proc.kill()


# ---------------------------------------------------------------------------------------------- properties


def test_debug_addr_and_break_on_load(job: Job) -> None:
    with job.create_process("dbg") as proc:
        assert proc.get_debug_addr() == 0 and proc.get_break_on_load() == 0
        with pytest.raises(InvalidArgsError):
            proc.set_debug_addr(0)
        proc.set_debug_addr(1)  # ZX_PROCESS_DEBUG_ADDR_BREAK_ON_SET: the real value may still follow
        proc.set_debug_addr(0x7000_1000)
        assert proc.get_debug_addr() == 0x7000_1000
        with pytest.raises(AccessDeniedError):  # set once (ProcessDispatcher::set_debug_addr)
            proc.set_debug_addr(0x7000_2000)
        proc.set_break_on_load(1)
        proc.set_break_on_load(0)
        assert proc.get_break_on_load() == 0
        with job.duplicate() as same:
            with pytest.raises(WrongTypeError):
                Process.get_debug_addr(same)  # type: ignore[arg-type]
        small = zxpy.ffi.new("uint32_t *")
        lib = zxpy.lib
        assert lib.zx_object_get_property(proc.raw, lib.ZX_PROP_PROCESS_DEBUG_ADDR, small, 4) == \
            lib.ZX_ERR_BUFFER_TOO_SMALL
        no_get = proc.duplicate(Rights.BASIC | Rights.SET_PROPERTY)
        try:
            with pytest.raises(AccessDeniedError):
                no_get.get_break_on_load()
        finally:
            no_get.close()

