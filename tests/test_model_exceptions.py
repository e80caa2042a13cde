"""Model-based test of exception channel binding: random binds, closes and kills against a small model.

The model keeps, per task and kind (standard, debugger), whether a channel is bound and whether its reader is open,
and which tasks are dead -- Zircon's rules (zircon/kernel/lib/syscalls/exceptions.cc, object/exceptionate.cc):
a bind is INVALID_ARGS for a thread's debugger channel, BAD_STATE once the task is dead (its channels are shut
down: their readers see PEER_CLOSED), ALREADY_BOUND while a bound channel's reader is open, else OK (a channel
whose reader closed is replaced).  Killing a job kills the processes below it; a killed process or job with no
running thread is dead at once.  The tasks never run code, so no exception is ever raised: the delivery rules are
tests/test_exception.py's and the conformance rows r25-r30.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import hypothesis.strategies as st
from hypothesis import HealthCheck, settings
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

import zxpy
from zxpy import Job, Signals, Task, TimedOutError
from zxpy.errors import AlreadyBoundError, BadStateError, InvalidArgsError, ZxError
from zxpy.exception import ExceptionChannel

_PEER_CLOSED: int = zxpy.lib.ZX_CHANNEL_PEER_CLOSED


def _peer_closed(ch: ExceptionChannel) -> bool:
    try:
        ch.wait_one(_PEER_CLOSED, timeout=0)
    except TimedOutError:
        return False
    return True


@dataclass
class TaskEntry:
    name: str
    task: Task
    kind: str  # "job", "process", "thread"
    parent: str | None  # the job (or, for a thread, the process) above it
    channels: dict[bool, ExceptionChannel | None] = field(default_factory=lambda: {False: None, True: None})


class ExceptionBinding(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.root = Job.default().create_job()
        job = self.root.create_job()
        sub = job.create_job()
        proc = sub.create_process("model")
        thread = proc.create_thread("model")
        self.tasks = [
            TaskEntry("job", job, "job", None),
            TaskEntry("sub", sub, "job", "job"),
            TaskEntry("proc", proc, "process", "sub"),
            TaskEntry("thread", thread, "thread", "proc"),
        ]
        self.dead: set[str] = set()
        self.closed_readers: list[ExceptionChannel] = []

    def _entry(self, name: str) -> TaskEntry:
        return next(e for e in self.tasks if e.name == name)

    @rule(index=st.integers(0, 3), debugger=st.booleans())
    def bind(self, index: int, debugger: bool) -> None:
        e = self.tasks[index]
        if e.kind == "thread" and "proc" in self.dead:
            return  # a NEW thread of a dead process: not modelled
        current = e.channels[debugger]
        if e.kind == "thread" and debugger:
            expected: type[ZxError] | None = InvalidArgsError
        elif e.name in self.dead:
            expected = BadStateError
        elif current is not None and not current.closed:
            expected = AlreadyBoundError
        else:
            expected = None
        try:
            ch = e.task.exception_channel(debugger=debugger)  # type: ignore[attr-defined]
        except ZxError as err:
            assert expected is not None and isinstance(err, expected), (e.name, debugger, err, expected)
            return
        assert expected is None, (e.name, debugger, "bound", expected)
        if current is not None:
            self.closed_readers.append(current)
        e.channels[debugger] = ch

    @rule(index=st.integers(0, 3), debugger=st.booleans())
    def close_reader(self, index: int, debugger: bool) -> None:
        ch = self.tasks[index].channels[debugger]
        if ch is not None:
            ch.close()

    @rule(index=st.integers(0, 2))
    def kill(self, index: int) -> None:
        e = self.tasks[index]
        e.task.kill()
        names = {e.name}
        changed = True
        while changed:  # everything below it dies (nothing runs, so at once)
            changed = False
            for other in self.tasks:
                if other.parent in names and other.name not in names and other.kind != "thread":
                    names.add(other.name)
                    changed = True
        self.dead |= names
        for name in names:
            self._entry(name).task.wait_one(Signals.TASK_TERMINATED, timeout=10)

    @invariant()
    def readers_see_their_task(self) -> None:
        for e in self.tasks:
            for ch in e.channels.values():
                if ch is None or ch.closed:
                    continue
                peer_closed = _peer_closed(ch)
                assert peer_closed == (e.name in self.dead), (e.name, peer_closed)

    def teardown(self) -> None:
        for e in self.tasks:
            for ch in e.channels.values():
                if ch is not None:
                    ch.close()
        for e in reversed(self.tasks):
            e.task.close()
        self.root.kill()
        self.root.close()


ExceptionBinding.TestCase.settings = settings(
    max_examples=60, stateful_step_count=25, deadline=None, database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestExceptionBinding = ExceptionBinding.TestCase
