"""The binding's contract, written once: every type, struct, function, constant and info topic.

Everything else is derived from these tables or checked against them by a test:

* ``build_ffi.py`` builds the CFFI ``cdef`` from them, and detects the
  optional parts in the headers it compiles against (:data:`FEATURES`,
  :data:`CONSTANTS` with ``gate="optional"``);
* ``zxpy.features`` is the set of features the compiled module has;
* ``zxpy/enums.py`` has a member for each constant of its group that the
  build has (``tests/test_binding_table.py`` checks it);
* ``tests/test_abi.py`` takes its lists from here;
* the "What zxpy binds" and feature tables of docs/binding.md are checked
  against it by ``tests/test_binding_table.py``.

Fuchsia's ABI moves: info topics get new versions (RFC-0074: a topic's
number carries its version in bits 28-31, and the kernel keeps answering the
old numbers), object types and rights are added, typedefs renamed
(RFC-0260's ``zx_instant_mono_t``).  A *core* entry exists in every SDK this
binding supports (from the January 2021 core SDK on); anything newer names
the feature that gates it.  A gated name is declared only when the headers
the module is compiled against have it, so an older SDK builds and a call
that needs the newer name fails at run time with
:class:`zxpy.errors.NotSupportedError` naming the feature and the SDK.

Standard library only, and importable without the compiled module:
``build_ffi.py`` loads this file by path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "CONSTANTS",
    "FEATURES",
    "FUCHSIA_RUNNER_FUNCTIONS",
    "FUNCTIONS",
    "INFO_TOPICS",
    "STRUCTS",
    "TYPEDEFS",
    "Const",
    "Feature",
    "Function",
    "InfoTopic",
    "Struct",
    "Typedef",
    "feature",
]


@dataclass(frozen=True)
class Feature:
    """A part of the ABI that only newer SDKs have.

    ``probe`` is C at file scope that compiles only against headers that have
    the feature (the build compiles it with the module's own includes).
    """

    name: str
    probe: str
    summary: str


#: Gated parts of the ABI, in the order the build probes them.
FEATURES: tuple[Feature, ...] = (
    Feature(
        "mono_time_types",
        "zx_instant_mono_t zxpy_probe_a; zx_duration_mono_t zxpy_probe_b;",
        "the zx_instant_mono_t / zx_duration_mono_t names of RFC-0260 (same int64 ABI as zx_time_t)",
    ),
    Feature(
        "thread_state_type",
        "zx_thread_state_t zxpy_probe;",
        "the zx_thread_state_t typedef of zx_info_thread_t.state (a plain uint32_t before)",
    ),
    Feature(
        "info_process_v2",
        # The record itself, not the flag names: headers of the transition define ZX_INFO_PROCESS_FLAG_*
        # while zx_info_process_t is still the bool record of topic 3.
        "char zxpy_probe[offsetof(zx_info_process_t, start_time) + offsetof(zx_info_process_t, flags)"
        " + ZX_INFO_PROCESS_FLAG_STARTED];",
        "ZX_INFO_PROCESS as topic 0x10000003 (RFC-0074): return_code, start_time and flags;"
        " before it, topic 3 with the bools started/exited/debugger_attached",
    ),
    Feature(
        "info_task_runtime_v2",
        "char zxpy_probe[ZX_INFO_TASK_RUNTIME_V1 + offsetof(zx_info_task_runtime_t, lock_contention_time)];",
        "ZX_INFO_TASK_RUNTIME as topic 0x1000001E with page_fault_time and lock_contention_time;"
        " before it, topic 30 with cpu_time and queue_time only",
    ),
    Feature(
        "info_task_stats_v2",
        "char zxpy_probe[ZX_INFO_TASK_STATS_V1"
        " + offsetof(zx_info_task_stats_t, mem_fractional_scaled_shared_bytes)];",
        "ZX_INFO_TASK_STATS as topic 0x1000000C with mem_fractional_scaled_shared_bytes;"
        " before it, topic 12 with the four size_t counters only",
    ),
    Feature(
        "process_shared",
        "unsigned zxpy_probe = ZX_PROCESS_SHARED;",
        "ZX_PROCESS_SHARED, zx_process_create's option for a process sharing its parent's address space",
    ),
)

_FEATURE_NAMES = frozenset(f.name for f in FEATURES)

#: ``None``: in every supported SDK; a feature name: only with that feature;
#: ``"optional"``: a single constant detected on its own (``#ifdef``).
Gate = str | None


def _check_gate(gate: Gate) -> None:
    if gate is not None and gate != "optional" and gate not in _FEATURE_NAMES:
        raise ValueError(f"unknown feature {gate!r}")


def feature(name: str) -> Feature:
    """The :class:`Feature` called ``name`` (KeyError if there is none)."""
    for entry in FEATURES:
        if entry.name == name:
            return entry
    raise KeyError(name)


@dataclass(frozen=True)
class Typedef:
    name: str
    base: str
    gate: Gate = None


TYPEDEFS: tuple[Typedef, ...] = tuple(
    Typedef(name, base, gate)
    for name, base, gate in (
        ("zx_status_t", "int32_t", None),
        ("zx_handle_t", "uint32_t", None),
        ("zx_rights_t", "uint32_t", None),
        ("zx_signals_t", "uint32_t", None),
        ("zx_koid_t", "uint64_t", None),
        ("zx_obj_type_t", "uint32_t", None),
        ("zx_object_info_topic_t", "uint32_t", None),
        ("zx_thread_state_t", "uint32_t", "thread_state_type"),
        ("zx_info_process_flags_t", "uint32_t", "info_process_v2"),
        ("zx_time_t", "int64_t", None),
        ("zx_duration_t", "int64_t", None),
        ("zx_instant_mono_t", "int64_t", "mono_time_types"),
        ("zx_duration_mono_t", "int64_t", "mono_time_types"),
        ("zx_vaddr_t", "uintptr_t", None),
        # Debugger (<zircon/syscalls/debug.h>): in every supported SDK.
        ("zx_thread_state_single_step_t", "uint32_t", None),
        ("zx_thread_state_topic_t", "uint32_t", None),
    )
)


@dataclass(frozen=True)
class Struct:
    """A struct the binding declares, field by field (CFFI checks every offset).

    ``fields`` is the layout with ``gate``; ``legacy`` the layout without it
    (None: the struct is absent without the feature).  Fields use base types
    where the typedef is gated, so one spelling serves every vintage.
    ``arch`` names the one architecture whose headers define this layout
    (``"x64"`` or ``"arm64"``: the register records of
    ``<zircon/syscalls/debug.h>``); a build declares the layout of the
    architecture its headers are for (``build_ffi.detect``).
    """

    name: str
    tag: str
    fields: str
    gate: Gate = None
    legacy: str | None = None
    kind: Literal["struct", "union"] = "struct"
    arch: Literal["x64", "arm64"] | None = None

    def layout(self, have: frozenset[str], arch: str | None = None) -> str | None:
        """The field declarations for a build with features ``have`` for ``arch``, or None if absent."""
        if self.arch is not None and self.arch != arch:
            return None
        if self.gate is None or self.gate in have:
            return self.fields
        return self.legacy


STRUCTS: tuple[Struct, ...] = (
    Struct(
        "zx_info_handle_basic_t", "zx_info_handle_basic",
        "zx_koid_t koid; zx_rights_t rights; zx_obj_type_t type; zx_koid_t related_koid;"
        " uint32_t reserved; uint8_t padding1[4];",
    ),
    Struct(
        "zx_info_process_t", "zx_info_process",
        "int64_t return_code; zx_time_t start_time; uint32_t flags; uint8_t padding1[4];",
        gate="info_process_v2",
        legacy="int64_t return_code; bool started; bool exited; bool debugger_attached;"
        " uint8_t padding1[5];",
    ),
    Struct("zx_cpu_set_t", "zx_cpu_set", "uint64_t mask[8];"),
    Struct(
        "zx_info_thread_t", "zx_info_thread",
        "uint32_t state; uint32_t wait_exception_channel_type; zx_cpu_set_t cpu_affinity_mask;",
    ),
    Struct(
        "zx_info_job_t", "zx_info_job",
        "int64_t return_code; bool exited; bool kill_on_oom; bool debugger_attached;"
        " uint8_t padding1[5];",
    ),
    Struct(
        "zx_info_process_handle_stats_t", "zx_info_process_handle_stats",
        "uint32_t handle_count[64];",  # ZX_OBJ_TYPE_UPPER_BOUND, 64 in every vintage
    ),
    Struct(
        "zx_info_thread_stats_t", "zx_info_thread_stats",
        "zx_duration_t total_runtime; uint32_t last_scheduled_cpu; uint8_t padding1[4];",
    ),
    Struct(
        "zx_info_task_stats_v1_t", "zx_info_task_stats_v1",
        "size_t mem_mapped_bytes; size_t mem_private_bytes; size_t mem_shared_bytes;"
        " size_t mem_scaled_shared_bytes;",
        gate="info_task_stats_v2",
    ),
    Struct(
        "zx_info_task_stats_t", "zx_info_task_stats",
        "size_t mem_mapped_bytes; size_t mem_private_bytes; size_t mem_shared_bytes;"
        " size_t mem_scaled_shared_bytes; uint64_t mem_fractional_scaled_shared_bytes;",
        gate="info_task_stats_v2",
        legacy="size_t mem_mapped_bytes; size_t mem_private_bytes; size_t mem_shared_bytes;"
        " size_t mem_scaled_shared_bytes;",
    ),
    Struct(
        "zx_info_task_runtime_v1_t", "zx_info_task_runtime_v1",
        "zx_duration_t cpu_time; zx_duration_t queue_time;",
        gate="info_task_runtime_v2",
    ),
    Struct(
        "zx_info_task_runtime_t", "zx_info_task_runtime",
        "zx_duration_t cpu_time; zx_duration_t queue_time; zx_duration_t page_fault_time;"
        " zx_duration_t lock_contention_time;",
        gate="info_task_runtime_v2",
        legacy="zx_duration_t cpu_time; zx_duration_t queue_time;",
    ),
    Struct(
        "fdio_spawn_action_t", "fdio_spawn_action",
        "uint32_t action; union { struct { int local_fd; int target_fd; } fd;"
        " struct { const char* prefix; zx_handle_t handle; } ns;"
        " struct { uint32_t id; zx_handle_t handle; } h;"
        " struct { const char* data; } name; struct { const char* prefix; } dir; };",
    ),
    # Ports (zxpy.port, zxpy.aio).  The packet's union is declared with the two payloads the binding reads
    # (user, signal): every payload is 32 bytes, so the layout is the headers' (CFFI checks each offset).
    Struct("zx_packet_user_t", "zx_packet_user",
           "uint64_t u64[4]; uint32_t u32[8]; uint16_t u16[16]; uint8_t c8[32];", kind="union"),
    Struct(
        "zx_packet_signal_t", "zx_packet_signal",
        "zx_signals_t trigger; zx_signals_t observed; uint64_t count; uint64_t timestamp; uint64_t reserved1;",
    ),
    Struct(
        "zx_port_packet_t", "zx_port_packet",
        "uint64_t key; uint32_t type; zx_status_t status;"
        " union { zx_packet_user_t user; zx_packet_signal_t signal; };",
    ),
    # ---- Debugger: thread state (<zircon/syscalls/debug.h>; the same layouts in the 2021 SDK and today).  Each
    # architecture's records; a build declares those of the architecture its headers are for.
    Struct(
        "zx_thread_state_general_regs_t", "zx_thread_state_general_regs",
        "uint64_t rax; uint64_t rbx; uint64_t rcx; uint64_t rdx; uint64_t rsi; uint64_t rdi; uint64_t rbp;"
        " uint64_t rsp; uint64_t r8; uint64_t r9; uint64_t r10; uint64_t r11; uint64_t r12; uint64_t r13;"
        " uint64_t r14; uint64_t r15; uint64_t rip; uint64_t rflags; uint64_t fs_base; uint64_t gs_base;",
        arch="x64",
    ),
    Struct(
        "zx_thread_state_fp_regs_t", "zx_thread_state_fp_regs",
        "uint16_t fcw; uint16_t fsw; uint8_t ftw; uint8_t reserved; uint16_t fop; uint64_t fip; uint64_t fdp;"
        # st is __ALIGNED(16) in the header, which a cdef cannot say: "...;" lets the compiler give the record's
        # 16-byte alignment (every field is still declared, and its offset checked by tests/test_abi.py).
        " uint8_t padding1[8]; struct { uint64_t low; uint64_t high; } st[8]; ...;",
        arch="x64",
    ),
    Struct(
        "zx_thread_state_vector_regs_t", "zx_thread_state_vector_regs",
        "struct { uint64_t v[8]; } zmm[32]; uint64_t opmask[8]; uint32_t mxcsr; uint8_t padding1[4];",
        arch="x64",
    ),
    Struct(
        "zx_thread_state_general_regs_t", "zx_thread_state_general_regs",
        "uint64_t r[30]; uint64_t lr; uint64_t sp; uint64_t pc; uint64_t cpsr; uint64_t tpidr;",
        arch="arm64",
    ),
    Struct("zx_thread_state_fp_regs_t", "zx_thread_state_fp_regs", "uint32_t unused;", arch="arm64"),
    Struct(
        "zx_thread_state_vector_regs_t", "zx_thread_state_vector_regs",
        "uint32_t fpcr; uint32_t fpsr; struct { uint64_t low; uint64_t high; } v[32];",
        arch="arm64",
    ),
    # Exceptions (zxpy.exception): all in the 2021 SDK.  The context's arch union is declared with the two payloads
    # a host reads (x86_64, arm_64; riscv_64 is as large), so the layout is the headers' (CFFI checks each offset).
    Struct("zx_x86_64_exc_data_t", "zx_x86_64_exc_data", "uint64_t vector; uint64_t err_code; uint64_t cr2;"),
    Struct("zx_arm64_exc_data_t", "zx_arm64_exc_data",
           "uint32_t esr; uint8_t padding1[4]; uint64_t far; uint8_t padding2[8];"),
    Struct(
        "zx_exception_context_t", "zx_exception_context",
        "struct { union { zx_x86_64_exc_data_t x86_64; zx_arm64_exc_data_t arm_64; } u; } arch;"
        " uint32_t synth_code; uint32_t synth_data;",
    ),
    Struct("zx_exception_header_t", "zx_exception_header", "uint32_t size; uint32_t type;"),
    Struct("zx_exception_report_t", "zx_exception_report",
           "zx_exception_header_t header; zx_exception_context_t context;"),
    Struct("zx_exception_info_t", "zx_exception_info",
           "zx_koid_t pid; zx_koid_t tid; uint32_t type; uint8_t padding1[4];"),
    # zxpy's own (csrc/workers.h), not Zircon's.
    Struct(
        "zxpy_progress_t", "zxpy_progress",
        "uint64_t count; uint32_t stop; uint32_t reserved;",
    ),
)


@dataclass(frozen=True)
class Function:
    """A function prototype; ``library`` is where a Fuchsia module's import resolves."""

    decl: str
    library: Literal["libzircon.so", "libc.so", "libfdio.so", "zxpy"]
    gate: Gate = None

    @property
    def name(self) -> str:
        return self.decl.split("(", 1)[0].split()[-1].lstrip("*")


FUNCTIONS: tuple[Function, ...] = tuple(
    Function(decl, lib)  # type: ignore[arg-type]
    for lib, decl in (
        ("libzircon.so", "zx_status_t zx_task_kill(zx_handle_t handle);"),
        ("libzircon.so", "zx_status_t zx_task_suspend(zx_handle_t handle, zx_handle_t* token);"),
        ("libzircon.so", "zx_status_t zx_task_suspend_token(zx_handle_t handle, zx_handle_t* token);"),
        ("libzircon.so", "zx_status_t zx_handle_close(zx_handle_t handle);"),
        ("libzircon.so", "zx_status_t zx_handle_close_many(const zx_handle_t* handles, size_t num_handles);"),
        ("libzircon.so",
         "zx_status_t zx_handle_duplicate(zx_handle_t handle, zx_rights_t rights, zx_handle_t* out);"),
        ("libzircon.so",
         "zx_status_t zx_handle_replace(zx_handle_t handle, zx_rights_t rights, zx_handle_t* out);"),
        ("libzircon.so",
         "zx_status_t zx_object_wait_one(zx_handle_t handle, zx_signals_t signals, zx_time_t deadline,"
         " zx_signals_t* observed);"),
        ("libzircon.so",
         "zx_status_t zx_object_signal(zx_handle_t handle, uint32_t clear_mask, uint32_t set_mask);"),
        ("libzircon.so",
         "zx_status_t zx_object_get_info(zx_handle_t handle, uint32_t topic, void* buffer,"
         " size_t buffer_size, size_t* actual, size_t* avail);"),
        ("libzircon.so",
         "zx_status_t zx_object_get_child(zx_handle_t handle, uint64_t koid, zx_rights_t rights,"
         " zx_handle_t* out);"),
        ("libzircon.so",
         "zx_status_t zx_object_get_property(zx_handle_t handle, uint32_t property, void* value,"
         " size_t value_size);"),
        ("libzircon.so",
         "zx_status_t zx_object_set_property(zx_handle_t handle, uint32_t property, const void* value,"
         " size_t value_size);"),
        ("libzircon.so", "zx_status_t zx_event_create(uint32_t options, zx_handle_t* out);"),
        ("libzircon.so", "zx_status_t zx_channel_create(uint32_t options, zx_handle_t* out0, zx_handle_t* out1);"),
        ("libzircon.so",
         "zx_status_t zx_channel_read(zx_handle_t handle, uint32_t options, void* bytes, zx_handle_t* handles,"
         " uint32_t num_bytes, uint32_t num_handles, uint32_t* actual_bytes, uint32_t* actual_handles);"),
        ("libzircon.so",
         "zx_status_t zx_channel_write(zx_handle_t handle, uint32_t options, const void* bytes, uint32_t num_bytes,"
         " const zx_handle_t* handles, uint32_t num_handles);"),
        ("libzircon.so",
         "zx_status_t zx_task_create_exception_channel(zx_handle_t handle, uint32_t options, zx_handle_t* out);"),
        ("libzircon.so", "zx_status_t zx_exception_get_thread(zx_handle_t handle, zx_handle_t* out);"),
        ("libzircon.so", "zx_status_t zx_exception_get_process(zx_handle_t handle, zx_handle_t* out);"),
        ("libzircon.so", "zx_status_t zx_port_create(uint32_t options, zx_handle_t* out);"),
        ("libzircon.so", "zx_status_t zx_port_queue(zx_handle_t handle, const zx_port_packet_t* packet);"),
        ("libzircon.so",
         "zx_status_t zx_port_wait(zx_handle_t handle, zx_time_t deadline, zx_port_packet_t* packet);"),
        ("libzircon.so", "zx_status_t zx_port_cancel(zx_handle_t handle, zx_handle_t source, uint64_t key);"),
        ("libzircon.so",
         "zx_status_t zx_object_wait_async(zx_handle_t handle, zx_handle_t port, uint64_t key,"
         " zx_signals_t signals, uint32_t options);"),
        ("libzircon.so",
         "zx_status_t zx_job_create(zx_handle_t parent_job, uint32_t options, zx_handle_t* out);"),
        ("libzircon.so",
         "zx_status_t zx_process_create(zx_handle_t job, const char* name, size_t name_size,"
         " uint32_t options, zx_handle_t* proc_handle, zx_handle_t* vmar_handle);"),
        ("libzircon.so",
         "zx_status_t zx_thread_create(zx_handle_t process, const char* name, size_t name_size,"
         " uint32_t options, zx_handle_t* out);"),
        ("libzircon.so",
         "zx_status_t zx_thread_start(zx_handle_t handle, zx_vaddr_t thread_entry, zx_vaddr_t stack,"
         " uintptr_t arg1, uintptr_t arg2);"),
        ("libzircon.so", "void zx_thread_exit(void);"),
        ("libc.so", "zx_handle_t zx_job_default(void);"),
        ("libc.so", "zx_handle_t zx_process_self(void);"),
        ("libc.so", "zx_handle_t zx_thread_self(void);"),
        ("libzircon.so", "zx_time_t zx_clock_get_monotonic(void);"),
        ("libzircon.so", "zx_time_t zx_deadline_after(zx_duration_t nanoseconds);"),
        ("libzircon.so", "zx_status_t zx_nanosleep(zx_time_t deadline);"),
        ("libfdio.so",
         "zx_status_t fdio_spawn(zx_handle_t job, uint32_t flags, const char* path,"
         " const char* const* argv, zx_handle_t* process_out);"),
        ("libfdio.so",
         "zx_status_t fdio_spawn_etc(zx_handle_t job, uint32_t flags, const char* path,"
         " const char* const* argv, const char* const* environ, size_t action_count,"
         " const fdio_spawn_action_t* actions, zx_handle_t* process_out, char* err_msg_out);"),
        # Debugger: thread state and process memory (in every supported SDK).
        ("libzircon.so",
         "zx_status_t zx_thread_read_state(zx_handle_t handle, uint32_t kind, void* buffer, size_t buffer_size);"),
        ("libzircon.so",
         "zx_status_t zx_thread_write_state(zx_handle_t handle, uint32_t kind, const void* buffer,"
         " size_t buffer_size);"),
        ("libzircon.so",
         "zx_status_t zx_process_read_memory(zx_handle_t handle, zx_vaddr_t vaddr, void* buffer,"
         " size_t buffer_size, size_t* actual);"),
        ("libzircon.so",
         "zx_status_t zx_process_write_memory(zx_handle_t handle, zx_vaddr_t vaddr, const void* buffer,"
         " size_t buffer_size, size_t* actual);"),
        ("zxpy", "void zxpy_progress_entry(uintptr_t progress, uintptr_t arg2);"),
    )
)


#: zxpy's entry points to the Fuchsia runner (host/fuchsia/entry.h): declared and compiled in only where the
#: module is built for an x86-64 Linux host (build_ffi.py, ``fuchsia_runner_host``), never in a build for
#: Fuchsia or another host.  Not Zircon calls: the runner starts a Fuchsia ELF image in a process of a job
#: (docs/fuchsia-elf.md, "From Python").
FUCHSIA_RUNNER_FUNCTIONS: tuple[Function, ...] = tuple(
    Function(decl, "zxpy")
    for decl in (
        "zx_status_t zxpy_fuchsia_spawn(zx_handle_t job, const char* image_path, const char* vdso_path,"
        " const char* name, const char* const* argv, const char* const* environ, const uint32_t* handle_infos,"
        " const zx_handle_t* handles, size_t num_handles, const char* const* names, size_t num_names,"
        " const int* stdio_fds, int stderr_fd, zx_handle_t* process_out, char* err_msg);",
        "zx_status_t zxpy_fuchsia_spawn_interp(zx_handle_t job, const char* exe_path, const char* ldso_path,"
        " const char* vdso_path, const char* name, const char* const* argv, const char* const* environ,"
        " const uint32_t* handle_infos, const zx_handle_t* handles, size_t num_handles, const char* const* names,"
        " size_t num_names, const int* stdio_fds, int stderr_fd, zx_handle_t* process_out, char* err_msg);",
        "int zxpy_fuchsia_elf_probe(const char* path, uint16_t* machine, uint16_t* type, int* has_interp,"
        " int* is_fuchsia, char* interp, size_t interp_size, char* err, size_t errlen);",
        "size_t zxpy_fuchsia_unserved_list(char* buf, size_t size);",
        "zx_status_t zxpy_fuchsia_fs_connect(const char* root, int read_only, zx_handle_t* client);",
        "size_t zxpy_fuchsia_fs_live(void);",
        "zx_status_t zxpy_fuchsia_launcher_connect(const char* vdso_path, const char* ldso_path,"
        " zx_handle_t* client);",
        "zx_status_t zxpy_fuchsia_svc_connect(const char* vdso_path, const char* ldso_path, zx_handle_t* client);",
    )
)


@dataclass(frozen=True)
class Const:
    """An integer constant, read from the headers at build time (never typed here)."""

    name: str
    group: str
    gate: Gate = None


def _group(group: str, names: str, gate: Gate = None) -> tuple[Const, ...]:
    _check_gate(gate)
    return tuple(Const(name, group, gate) for name in names.split())


#: Every integer constant the module can export, by group (the enum it feeds).
CONSTANTS: tuple[Const, ...] = (
    _group("status", """ZX_OK ZX_ERR_INTERNAL ZX_ERR_NOT_SUPPORTED ZX_ERR_NO_RESOURCES
        ZX_ERR_NO_MEMORY ZX_ERR_INTERNAL_INTR_RETRY ZX_ERR_INVALID_ARGS ZX_ERR_BAD_HANDLE
        ZX_ERR_WRONG_TYPE ZX_ERR_BAD_SYSCALL ZX_ERR_OUT_OF_RANGE ZX_ERR_BUFFER_TOO_SMALL
        ZX_ERR_BAD_STATE ZX_ERR_TIMED_OUT ZX_ERR_SHOULD_WAIT ZX_ERR_CANCELED ZX_ERR_PEER_CLOSED
        ZX_ERR_NOT_FOUND ZX_ERR_ALREADY_EXISTS ZX_ERR_ALREADY_BOUND ZX_ERR_UNAVAILABLE
        ZX_ERR_ACCESS_DENIED ZX_ERR_IO ZX_ERR_IO_REFUSED ZX_ERR_IO_DATA_INTEGRITY
        ZX_ERR_IO_DATA_LOSS ZX_ERR_IO_NOT_PRESENT ZX_ERR_IO_OVERRUN ZX_ERR_IO_MISSED_DEADLINE
        ZX_ERR_IO_INVALID ZX_ERR_BAD_PATH ZX_ERR_NOT_DIR ZX_ERR_NOT_FILE ZX_ERR_FILE_BIG
        ZX_ERR_NO_SPACE ZX_ERR_NOT_EMPTY ZX_ERR_STOP ZX_ERR_NEXT ZX_ERR_ASYNC
        ZX_ERR_PROTOCOL_NOT_SUPPORTED ZX_ERR_ADDRESS_UNREACHABLE ZX_ERR_ADDRESS_IN_USE
        ZX_ERR_NOT_CONNECTED ZX_ERR_CONNECTION_REFUSED ZX_ERR_CONNECTION_RESET
        ZX_ERR_CONNECTION_ABORTED ZX_ERR_INTERNAL_INTR_KILLED""")
    + _group("rights", """ZX_RIGHT_NONE ZX_RIGHT_DUPLICATE ZX_RIGHT_TRANSFER ZX_RIGHT_READ
        ZX_RIGHT_WRITE ZX_RIGHT_EXECUTE ZX_RIGHT_MAP ZX_RIGHT_GET_PROPERTY ZX_RIGHT_SET_PROPERTY
        ZX_RIGHT_ENUMERATE ZX_RIGHT_DESTROY ZX_RIGHT_SET_POLICY ZX_RIGHT_GET_POLICY
        ZX_RIGHT_SIGNAL ZX_RIGHT_SIGNAL_PEER ZX_RIGHT_WAIT ZX_RIGHT_INSPECT ZX_RIGHT_MANAGE_JOB
        ZX_RIGHT_MANAGE_PROCESS ZX_RIGHT_MANAGE_THREAD ZX_RIGHT_APPLY_PROFILE""")
    + _group("rights", """ZX_RIGHT_MANAGE_SOCKET ZX_RIGHT_OP_CHILDREN ZX_RIGHT_RESIZE
        ZX_RIGHT_ATTACH_VMO ZX_RIGHT_MANAGE_VMO""", "optional")
    + _group("rights", """ZX_RIGHT_SAME_RIGHTS ZX_RIGHTS_BASIC ZX_RIGHTS_IO ZX_RIGHTS_PROPERTY
        ZX_RIGHTS_POLICY""")
    + _group("default_rights", """ZX_DEFAULT_JOB_RIGHTS ZX_DEFAULT_PROCESS_RIGHTS
        ZX_DEFAULT_THREAD_RIGHTS ZX_DEFAULT_EVENT_RIGHTS ZX_DEFAULT_VMAR_RIGHTS
        ZX_DEFAULT_SUSPEND_TOKEN_RIGHTS""")
    + _group("signals", """ZX_SIGNAL_NONE ZX_SIGNAL_HANDLE_CLOSED ZX_USER_SIGNAL_0
        ZX_USER_SIGNAL_1 ZX_USER_SIGNAL_2 ZX_USER_SIGNAL_3 ZX_USER_SIGNAL_4 ZX_USER_SIGNAL_5
        ZX_USER_SIGNAL_6 ZX_USER_SIGNAL_7 ZX_USER_SIGNAL_ALL ZX_EVENT_SIGNALED ZX_TASK_TERMINATED
        ZX_JOB_TERMINATED ZX_JOB_NO_JOBS ZX_JOB_NO_PROCESSES ZX_PROCESS_TERMINATED
        ZX_THREAD_TERMINATED ZX_THREAD_RUNNING ZX_THREAD_SUSPENDED""")
    + _group("obj_types", """ZX_OBJ_TYPE_NONE ZX_OBJ_TYPE_PROCESS ZX_OBJ_TYPE_THREAD
        ZX_OBJ_TYPE_VMO ZX_OBJ_TYPE_CHANNEL ZX_OBJ_TYPE_EVENT ZX_OBJ_TYPE_PORT
        ZX_OBJ_TYPE_INTERRUPT ZX_OBJ_TYPE_PCI_DEVICE""")
    + _group("obj_types", "ZX_OBJ_TYPE_DEBUGLOG", "optional")  # ZX_OBJ_TYPE_LOG before
    + _group("obj_types", """ZX_OBJ_TYPE_SOCKET ZX_OBJ_TYPE_RESOURCE ZX_OBJ_TYPE_EVENTPAIR
        ZX_OBJ_TYPE_JOB ZX_OBJ_TYPE_VMAR ZX_OBJ_TYPE_FIFO ZX_OBJ_TYPE_GUEST ZX_OBJ_TYPE_VCPU
        ZX_OBJ_TYPE_TIMER ZX_OBJ_TYPE_IOMMU ZX_OBJ_TYPE_BTI ZX_OBJ_TYPE_PROFILE ZX_OBJ_TYPE_PMT
        ZX_OBJ_TYPE_SUSPEND_TOKEN ZX_OBJ_TYPE_PAGER ZX_OBJ_TYPE_EXCEPTION ZX_OBJ_TYPE_CLOCK
        ZX_OBJ_TYPE_STREAM""")
    + _group("obj_types", """ZX_OBJ_TYPE_MSI ZX_OBJ_TYPE_IOB ZX_OBJ_TYPE_COUNTER
        ZX_OBJ_TYPE_IOB_SHARED_REGION ZX_OBJ_TYPE_SAMPLER""", "optional")
    # Names of 2021 headers that today's no longer have (the values are DEBUGLOG's and MSI's now).
    + _group("obj_types", "ZX_OBJ_TYPE_LOG ZX_OBJ_TYPE_MSI_ALLOCATION ZX_OBJ_TYPE_MSI_INTERRUPT", "optional")
    + _group("obj_type_bound", "ZX_OBJ_TYPE_UPPER_BOUND")
    + _group("info_topics", """ZX_INFO_HANDLE_VALID ZX_INFO_HANDLE_BASIC ZX_INFO_PROCESS
        ZX_INFO_PROCESS_THREADS ZX_INFO_JOB_CHILDREN ZX_INFO_JOB_PROCESSES ZX_INFO_THREAD
        ZX_INFO_JOB ZX_INFO_PROCESS_HANDLE_STATS ZX_INFO_THREAD_STATS ZX_INFO_TASK_STATS
        ZX_INFO_TASK_RUNTIME ZX_INFO_THREAD_EXCEPTION_REPORT ZX_INFO_THREAD_EXCEPTION_REPORT_V1""")
    + _group("info_topics", "ZX_INFO_TASK_STATS_V1", "info_task_stats_v2")
    + _group("info_topics", "ZX_INFO_TASK_RUNTIME_V1", "info_task_runtime_v2")
    + _group("info_misc", "ZX_INFO_INVALID_CPU")
    + _group("process_info_flags", """ZX_INFO_PROCESS_FLAG_STARTED ZX_INFO_PROCESS_FLAG_EXITED
        ZX_INFO_PROCESS_FLAG_DEBUGGER_ATTACHED""", "info_process_v2")
    + _group("thread_states", """ZX_THREAD_STATE_NEW ZX_THREAD_STATE_RUNNING
        ZX_THREAD_STATE_SUSPENDED ZX_THREAD_STATE_BLOCKED ZX_THREAD_STATE_DYING
        ZX_THREAD_STATE_DEAD ZX_THREAD_STATE_BLOCKED_EXCEPTION ZX_THREAD_STATE_BLOCKED_SLEEPING
        ZX_THREAD_STATE_BLOCKED_FUTEX ZX_THREAD_STATE_BLOCKED_PORT ZX_THREAD_STATE_BLOCKED_CHANNEL
        ZX_THREAD_STATE_BLOCKED_WAIT_ONE ZX_THREAD_STATE_BLOCKED_WAIT_MANY
        ZX_THREAD_STATE_BLOCKED_INTERRUPT ZX_THREAD_STATE_BLOCKED_PAGER""")
    + _group("exception_channel_types", """ZX_EXCEPTION_CHANNEL_TYPE_NONE
        ZX_EXCEPTION_CHANNEL_TYPE_DEBUGGER ZX_EXCEPTION_CHANNEL_TYPE_THREAD
        ZX_EXCEPTION_CHANNEL_TYPE_PROCESS ZX_EXCEPTION_CHANNEL_TYPE_JOB
        ZX_EXCEPTION_CHANNEL_TYPE_JOB_DEBUGGER""")
    + _group("retcodes", """ZX_TASK_RETCODE_SYSCALL_KILL ZX_TASK_RETCODE_OOM_KILL
        ZX_TASK_RETCODE_POLICY_KILL ZX_TASK_RETCODE_VDSO_KILL ZX_TASK_RETCODE_EXCEPTION_KILL
        ZX_TASK_RETCODE_CRITICAL_PROCESS_KILL""")
    + _group("misc", """ZX_HANDLE_INVALID ZX_HANDLE_FIXED_BITS_MASK ZX_KOID_INVALID
        ZX_KOID_KERNEL ZX_TIME_INFINITE ZX_TIME_INFINITE_PAST ZX_MAX_NAME_LEN""")
    + _group("properties", "ZX_PROP_NAME ZX_PROP_EXCEPTION_STATE ZX_PROP_EXCEPTION_STRATEGY")
    # Channels and exceptions (zxpy.exception): all in the 2021 SDK but ZX_EXCEPTION_STATE_THREAD_EXIT.
    + _group("channel_misc", """ZX_DEFAULT_CHANNEL_RIGHTS ZX_CHANNEL_READABLE ZX_CHANNEL_WRITABLE
        ZX_CHANNEL_PEER_CLOSED ZX_CHANNEL_READ_MAY_DISCARD ZX_CHANNEL_MAX_MSG_BYTES ZX_CHANNEL_MAX_MSG_HANDLES""")
    + _group("exception_types", """ZX_EXCP_GENERAL ZX_EXCP_FATAL_PAGE_FAULT ZX_EXCP_UNDEFINED_INSTRUCTION
        ZX_EXCP_SW_BREAKPOINT ZX_EXCP_HW_BREAKPOINT ZX_EXCP_UNALIGNED_ACCESS ZX_EXCP_THREAD_STARTING
        ZX_EXCP_THREAD_EXITING ZX_EXCP_POLICY_ERROR ZX_EXCP_PROCESS_STARTING""")
    + _group("exception_misc", "ZX_EXCP_SYNTH ZX_EXCEPTION_CHANNEL_DEBUGGER ZX_DEFAULT_EXCEPTION_RIGHTS")
    + _group("exception_states", "ZX_EXCEPTION_STATE_TRY_NEXT ZX_EXCEPTION_STATE_HANDLED")
    + _group("exception_states", "ZX_EXCEPTION_STATE_THREAD_EXIT", "optional")
    + _group("exception_strategies", "ZX_EXCEPTION_STRATEGY_FIRST_CHANCE ZX_EXCEPTION_STRATEGY_SECOND_CHANCE")
    # Ports and zx_object_wait_async: all in the 2021 SDK (ZX_WAIT_ASYNC_EDGE too).
    + _group("port_misc", "ZX_DEFAULT_PORT_RIGHTS")
    + _group("packet_types", "ZX_PKT_TYPE_USER ZX_PKT_TYPE_SIGNAL_ONE")
    + _group("wait_async_options", "ZX_WAIT_ASYNC_ONCE ZX_WAIT_ASYNC_TIMESTAMP ZX_WAIT_ASYNC_EDGE")
    + _group("process_options", "ZX_PROCESS_SHARED", "process_shared")
    + _group("spawn_flags", """FDIO_SPAWN_CLONE_JOB FDIO_SPAWN_DEFAULT_LDSVC
        FDIO_SPAWN_CLONE_NAMESPACE FDIO_SPAWN_CLONE_STDIO FDIO_SPAWN_CLONE_ENVIRON
        FDIO_SPAWN_CLONE_UTC_CLOCK FDIO_SPAWN_CLONE_ALL""")
    + _group("spawn_actions", """FDIO_SPAWN_ACTION_CLONE_FD FDIO_SPAWN_ACTION_TRANSFER_FD
        FDIO_SPAWN_ACTION_ADD_NS_ENTRY FDIO_SPAWN_ACTION_ADD_HANDLE FDIO_SPAWN_ACTION_SET_NAME
        FDIO_SPAWN_ACTION_CLONE_DIR""")
    + _group("spawn_misc", "FDIO_SPAWN_ERR_MSG_MAX_LENGTH")
    # Debugger: the kinds of zx_thread_read_state / write_state, the process properties a debugger uses.
    + _group("thread_state_kinds", """ZX_THREAD_STATE_GENERAL_REGS ZX_THREAD_STATE_FP_REGS
        ZX_THREAD_STATE_VECTOR_REGS ZX_THREAD_STATE_DEBUG_REGS ZX_THREAD_STATE_SINGLE_STEP""")
    + _group("properties", "ZX_PROP_PROCESS_DEBUG_ADDR ZX_PROP_PROCESS_BREAK_ON_LOAD")
)


@dataclass(frozen=True)
class InfoTopic:
    """A ``zx_object_get_info`` topic the Python layer reads.

    ``ctype`` is the record (``zx_koid_t`` for the koid-array topics,
    ``None`` for ``ZX_INFO_HANDLE_VALID``, which returns no data); ``reader``
    the Python method that reads it.  The topic's number and the record's
    layout are the SDK's: ``zx_info_process_t`` read with topic
    ``ZX_INFO_PROCESS`` is version 0 on a 2021 SDK and version 1 today, and
    the kernel answers both.
    """

    constant: str
    ctype: str | None
    reader: str
    array: bool = False


INFO_TOPICS: tuple[InfoTopic, ...] = (
    InfoTopic("ZX_INFO_HANDLE_VALID", None, "Handle.is_valid"),
    InfoTopic("ZX_INFO_HANDLE_BASIC", "zx_info_handle_basic_t", "Handle.basic_info"),
    InfoTopic("ZX_INFO_PROCESS", "zx_info_process_t", "Process.info"),
    InfoTopic("ZX_INFO_PROCESS_THREADS", "zx_koid_t", "Process.threads", array=True),
    InfoTopic("ZX_INFO_JOB_CHILDREN", "zx_koid_t", "Job.children", array=True),
    InfoTopic("ZX_INFO_JOB_PROCESSES", "zx_koid_t", "Job.processes", array=True),
    InfoTopic("ZX_INFO_THREAD", "zx_info_thread_t", "Thread.info"),
    InfoTopic("ZX_INFO_JOB", "zx_info_job_t", "Job.info"),
    InfoTopic("ZX_INFO_PROCESS_HANDLE_STATS", "zx_info_process_handle_stats_t", "Process.handle_stats"),
    InfoTopic("ZX_INFO_THREAD_STATS", "zx_info_thread_stats_t", "Thread.stats"),
    InfoTopic("ZX_INFO_TASK_STATS", "zx_info_task_stats_t", "Process.task_stats"),
    InfoTopic("ZX_INFO_TASK_RUNTIME", "zx_info_task_runtime_t", "Task.runtime"),
    InfoTopic("ZX_INFO_THREAD_EXCEPTION_REPORT", "zx_exception_report_t", "Thread.exception_report"),
)


def _validate() -> None:
    gated: tuple[Typedef | Struct | Function | Const, ...] = (*TYPEDEFS, *STRUCTS, *FUNCTIONS, *CONSTANTS)
    for entry in gated:
        _check_gate(entry.gate)
    names = [c.name for c in CONSTANTS]
    if len(names) != len(set(names)):
        raise ValueError("a constant is listed twice")


_validate()
