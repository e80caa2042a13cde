"""A small pure-Python reference model of Zircon's task and handle rules.

Written from the real kernel's rules (``zircon/kernel/lib/syscalls/task.cc``,
``handle_ops.cc``, ``object.cc``, ``object_wait.cc``,
``zircon/kernel/object/{job,process,thread,suspend_token}_dispatcher.cc``,
``handle_table.h``), not from the host kernel's C, so that
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
