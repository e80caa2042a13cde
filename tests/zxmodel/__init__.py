"""A small pure-Python reference model of Zircon's task and handle rules.

Written from the project's notes on the real kernel (``zircon-semantics.md``:
the Decisions block, §0-§3), not from the host kernel's C, so that
model-based tests can compare the two.  See :mod:`zxmodel.model`.
"""

from .model import (
    ABI,
    INFO,
    OBJ,
    RETCODE_SYSCALL_KILL,
    RIGHTS,
    SIG,
    STATUS,
    BasicInfo,
    Handle,
    Job,
    JobInfo,
    Kernel,
    Obj,
    Process,
    ProcessInfo,
    Thread,
    ThreadInfo,
    Token,
)

__all__ = [
    "ABI",
    "INFO",
    "OBJ",
    "RIGHTS",
    "RETCODE_SYSCALL_KILL",
    "SIG",
    "STATUS",
    "BasicInfo",
    "Handle",
    "Job",
    "JobInfo",
    "Kernel",
    "Obj",
    "Process",
    "ProcessInfo",
    "Thread",
    "ThreadInfo",
    "Token",
]
