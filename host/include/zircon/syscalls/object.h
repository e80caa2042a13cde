/* zxpy rendition of <zircon/syscalls/object.h>: zx_object_get_info topics
 * and the records they return, plus task-related values (thread states,
 * process flags, kill return codes, property ids).
 *
 * Layouts and values: tests/data/zircon_abi.json ("info_topics", "structs",
 * "thread_states", "process_info_flags", "retcodes").  Checked by
 * tests/test_abi.py against the compiled module.
 */
#ifndef ZXPY_ZIRCON_SYSCALLS_OBJECT_H_
#define ZXPY_ZIRCON_SYSCALLS_OBJECT_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <zircon/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- info topics ----------------------------------------------------- */
typedef uint32_t zx_object_info_topic_t;

/* A topic is a 28-bit number plus a 4-bit layout version in the top bits.
 * Version 0 is the bare number, so older topics keep their old values. */
#define __ZX_INFO_TOPIC(t, v) ((zx_object_info_topic_t)((t) | ((v) << 28)))

#define ZX_INFO_NONE ((zx_object_info_topic_t)0u)
#define ZX_INFO_HANDLE_VALID ((zx_object_info_topic_t)1u)
#define ZX_INFO_HANDLE_BASIC ((zx_object_info_topic_t)2u)         /* zx_info_handle_basic_t[1] */
#define ZX_INFO_PROCESS __ZX_INFO_TOPIC(3u, 1u)                   /* zx_info_process_t[1] */
#define ZX_INFO_PROCESS_THREADS ((zx_object_info_topic_t)4u)      /* zx_koid_t[n] */
#define ZX_INFO_VMAR ((zx_object_info_topic_t)7u)
#define ZX_INFO_JOB_CHILDREN ((zx_object_info_topic_t)8u)         /* zx_koid_t[n] */
#define ZX_INFO_JOB_PROCESSES ((zx_object_info_topic_t)9u)        /* zx_koid_t[n] */
#define ZX_INFO_THREAD ((zx_object_info_topic_t)10u)              /* zx_info_thread_t[1] */
#define ZX_INFO_THREAD_EXCEPTION_REPORT_V1 __ZX_INFO_TOPIC(11u, 0u)
#define ZX_INFO_THREAD_EXCEPTION_REPORT __ZX_INFO_TOPIC(11u, 1u)
#define ZX_INFO_TASK_STATS_V1 __ZX_INFO_TOPIC(12u, 0u)            /* zx_info_task_stats_v1_t[1] */
#define ZX_INFO_TASK_STATS __ZX_INFO_TOPIC(12u, 1u)               /* zx_info_task_stats_t[1] */
#define ZX_INFO_PROCESS_MAPS_V1 __ZX_INFO_TOPIC(13u, 0u)
#define ZX_INFO_PROCESS_MAPS_V2 __ZX_INFO_TOPIC(13u, 1u)
#define ZX_INFO_PROCESS_MAPS __ZX_INFO_TOPIC(13u, 2u)
#define ZX_INFO_PROCESS_VMOS_V1 __ZX_INFO_TOPIC(14u, 0u)
#define ZX_INFO_PROCESS_VMOS_V2 __ZX_INFO_TOPIC(14u, 1u)
#define ZX_INFO_PROCESS_VMOS_V3 __ZX_INFO_TOPIC(14u, 2u)
#define ZX_INFO_PROCESS_VMOS __ZX_INFO_TOPIC(14u, 3u)
#define ZX_INFO_THREAD_STATS ((zx_object_info_topic_t)15u)        /* zx_info_thread_stats_t[1] */
#define ZX_INFO_CPU_STATS ((zx_object_info_topic_t)16u)
#define ZX_INFO_KMEM_STATS_V1 __ZX_INFO_TOPIC(17u, 0u)
#define ZX_INFO_KMEM_STATS __ZX_INFO_TOPIC(17u, 1u)
#define ZX_INFO_RESOURCE ((zx_object_info_topic_t)18u)
#define ZX_INFO_HANDLE_COUNT ((zx_object_info_topic_t)19u)        /* zx_info_handle_count_t[1] */
#define ZX_INFO_BTI ((zx_object_info_topic_t)20u)
#define ZX_INFO_PROCESS_HANDLE_STATS ((zx_object_info_topic_t)21u) /* zx_info_process_handle_stats_t[1] */
#define ZX_INFO_SOCKET ((zx_object_info_topic_t)22u)
#define ZX_INFO_VMO_V1 __ZX_INFO_TOPIC(23u, 0u)
#define ZX_INFO_VMO_V2 __ZX_INFO_TOPIC(23u, 1u)
#define ZX_INFO_VMO_V3 __ZX_INFO_TOPIC(23u, 2u)
#define ZX_INFO_VMO __ZX_INFO_TOPIC(23u, 3u)
#define ZX_INFO_JOB ((zx_object_info_topic_t)24u)                 /* zx_info_job_t[1] */
#define ZX_INFO_TIMER ((zx_object_info_topic_t)25u)
#define ZX_INFO_STREAM ((zx_object_info_topic_t)26u)
#define ZX_INFO_HANDLE_TABLE ((zx_object_info_topic_t)27u)        /* zx_info_handle_extended_t[n] */
#define ZX_INFO_MSI ((zx_object_info_topic_t)28u)
#define ZX_INFO_GUEST_STATS ((zx_object_info_topic_t)29u)
#define ZX_INFO_TASK_RUNTIME_V1 __ZX_INFO_TOPIC(30u, 0u)          /* zx_info_task_runtime_v1_t[1] */
#define ZX_INFO_TASK_RUNTIME __ZX_INFO_TOPIC(30u, 1u)             /* zx_info_task_runtime_t[1] */
#define ZX_INFO_KMEM_STATS_EXTENDED ((zx_object_info_topic_t)31u)
#define ZX_INFO_VCPU ((zx_object_info_topic_t)32u)
#define ZX_INFO_KMEM_STATS_COMPRESSION ((zx_object_info_topic_t)33u)
#define ZX_INFO_IOB ((zx_object_info_topic_t)34u)
#define ZX_INFO_IOB_REGIONS ((zx_object_info_topic_t)35u)
#define ZX_INFO_VMAR_MAPS ((zx_object_info_topic_t)36u)
#define ZX_INFO_POWER_DOMAINS ((zx_object_info_topic_t)37u)
#define ZX_INFO_MEMORY_STALL ((zx_object_info_topic_t)38u)
#define ZX_INFO_INTERRUPT ((zx_object_info_topic_t)39u)
#define ZX_INFO_CLOCK_MAPPED_SIZE ((zx_object_info_topic_t)40u)

/* Kind of a ZX_INFO_PROCESS_MAPS entry. */
typedef uint32_t zx_info_maps_type_t;

/* "No CPU" marker, e.g. zx_info_thread_stats_t.last_scheduled_cpu. */
#define ZX_INFO_INVALID_CPU ((uint32_t)0xFFFFFFFFu)

/* ---- ZX_INFO_HANDLE_BASIC -------------------------------------------- */
typedef struct zx_info_handle_basic {
  zx_koid_t koid;          /* the object's id */
  zx_rights_t rights;      /* rights of this handle */
  zx_obj_type_t type;      /* ZX_OBJ_TYPE_* */
  zx_koid_t related_koid;  /* e.g. a thread's process, a process's job */
  uint32_t reserved;       /* formerly "props" */
  uint8_t padding1[4];
} zx_info_handle_basic_t;

/* ---- ZX_INFO_HANDLE_COUNT -------------------------------------------- */
typedef struct zx_info_handle_count {
  uint32_t handle_count;
} zx_info_handle_count_t;

/* ---- ZX_INFO_PROCESS_HANDLE_STATS ------------------------------------ */
typedef struct zx_info_process_handle_stats {
  uint32_t handle_count[ZX_OBJ_TYPE_UPPER_BOUND]; /* indexed by ZX_OBJ_TYPE_* */
} zx_info_process_handle_stats_t;

/* ---- ZX_INFO_PROCESS ------------------------------------------------- */
typedef uint32_t zx_info_process_flags_t;

#define ZX_INFO_PROCESS_FLAG_STARTED ((zx_info_process_flags_t)1u << 0)
#define ZX_INFO_PROCESS_FLAG_EXITED ((zx_info_process_flags_t)1u << 1)
#define ZX_INFO_PROCESS_FLAG_DEBUGGER_ATTACHED ((zx_info_process_flags_t)1u << 2)

typedef struct zx_info_process {
  int64_t return_code;           /* meaningful once FLAG_EXITED is set */
  zx_instant_mono_t start_time;  /* meaningful once FLAG_STARTED is set */
  zx_info_process_flags_t flags;
  uint8_t padding1[4];
} zx_info_process_t;

/* ---- ZX_INFO_JOB ----------------------------------------------------- */
typedef struct zx_info_job {
  int64_t return_code; /* meaningful once exited */
  bool exited;
  bool kill_on_oom;
  bool debugger_attached;
  uint8_t padding1[5];
} zx_info_job_t;

/* ---- ZX_INFO_THREAD -------------------------------------------------- */
typedef uint32_t zx_thread_state_t;

/* Basic states (low byte). */
#define ZX_THREAD_STATE_NEW ((zx_thread_state_t)0x0000u)
#define ZX_THREAD_STATE_RUNNING ((zx_thread_state_t)0x0001u)
#define ZX_THREAD_STATE_SUSPENDED ((zx_thread_state_t)0x0002u)
/* BLOCKED is only ever reported with a reason in bits 8..15 (below). */
#define ZX_THREAD_STATE_BLOCKED ((zx_thread_state_t)0x0003u)
#define ZX_THREAD_STATE_DYING ((zx_thread_state_t)0x0004u)
#define ZX_THREAD_STATE_DEAD ((zx_thread_state_t)0x0005u)

/* Blocked, and why. */
#define ZX_THREAD_STATE_BLOCKED_EXCEPTION ((zx_thread_state_t)0x0103u)
#define ZX_THREAD_STATE_BLOCKED_SLEEPING ((zx_thread_state_t)0x0203u)
#define ZX_THREAD_STATE_BLOCKED_FUTEX ((zx_thread_state_t)0x0303u)
#define ZX_THREAD_STATE_BLOCKED_PORT ((zx_thread_state_t)0x0403u)
#define ZX_THREAD_STATE_BLOCKED_CHANNEL ((zx_thread_state_t)0x0503u)
#define ZX_THREAD_STATE_BLOCKED_WAIT_ONE ((zx_thread_state_t)0x0603u)
#define ZX_THREAD_STATE_BLOCKED_WAIT_MANY ((zx_thread_state_t)0x0703u)
#define ZX_THREAD_STATE_BLOCKED_INTERRUPT ((zx_thread_state_t)0x0803u)
#define ZX_THREAD_STATE_BLOCKED_PAGER ((zx_thread_state_t)0x0903u)

/* Reduce a detailed state to its basic state (every BLOCKED_* -> BLOCKED). */
#define ZX_THREAD_STATE_BASIC(n) ((n) & 0xff)

typedef struct zx_info_thread {
  zx_thread_state_t state;               /* ZX_THREAD_STATE_* */
  uint32_t wait_exception_channel_type;  /* ZX_EXCEPTION_CHANNEL_TYPE_* */
  zx_cpu_set_t cpu_affinity_mask;
} zx_info_thread_t;

/* ---- ZX_INFO_THREAD_STATS -------------------------------------------- */
typedef struct zx_info_thread_stats {
  zx_duration_mono_t total_runtime;
  uint32_t last_scheduled_cpu; /* or ZX_INFO_INVALID_CPU */
  uint8_t padding1[4];
} zx_info_thread_stats_t;

/* ---- ZX_INFO_TASK_STATS ---------------------------------------------- */
typedef struct zx_info_task_stats_v1 {
  size_t mem_mapped_bytes;
  size_t mem_private_bytes;
  size_t mem_shared_bytes;
  size_t mem_scaled_shared_bytes;
} zx_info_task_stats_v1_t;

typedef struct zx_info_task_stats {
  size_t mem_mapped_bytes;
  size_t mem_private_bytes;
  size_t mem_shared_bytes;
  size_t mem_scaled_shared_bytes;
  uint64_t mem_fractional_scaled_shared_bytes;
} zx_info_task_stats_t;

/* ---- ZX_INFO_TASK_RUNTIME -------------------------------------------- */
typedef struct zx_info_task_runtime_v1 {
  zx_duration_mono_t cpu_time;
  zx_duration_mono_t queue_time;
} zx_info_task_runtime_v1_t;

typedef struct zx_info_task_runtime {
  zx_duration_mono_t cpu_time;
  zx_duration_mono_t queue_time;
  zx_duration_mono_t page_fault_time;
  zx_duration_mono_t lock_contention_time;
} zx_info_task_runtime_t;

/* ---- ZX_INFO_HANDLE_TABLE -------------------------------------------- */
typedef struct zx_info_handle_extended {
  zx_obj_type_t type;
  zx_handle_t handle_value;
  zx_rights_t rights;
  uint32_t reserved;
  zx_koid_t koid;
  zx_koid_t related_koid;
  zx_koid_t peer_owner_koid;
} zx_info_handle_extended_t;

/* ---- task return codes ----------------------------------------------- */
/* zx_info_process_t.return_code / zx_info_job_t.return_code of a task that
 * was ended by the system rather than by exiting. */
#define ZX_TASK_RETCODE_SYSCALL_KILL ((int64_t)-1024)          /* zx_task_kill() */
#define ZX_TASK_RETCODE_OOM_KILL ((int64_t)-1025)              /* out of memory */
#define ZX_TASK_RETCODE_POLICY_KILL ((int64_t)-1026)           /* job policy */
#define ZX_TASK_RETCODE_VDSO_KILL ((int64_t)-1027)             /* the vDSO */
#define ZX_TASK_RETCODE_EXCEPTION_KILL ((int64_t)-1028)        /* unhandled exception */
#define ZX_TASK_RETCODE_CRITICAL_PROCESS_KILL ((int64_t)-1029) /* critical process died */

/* ---- object properties (zx_object_get_property) ---------------------- */
#define ZX_PROP_NAME ((uint32_t)3u) /* char[ZX_MAX_NAME_LEN] */
#if defined(__x86_64__)
#define ZX_PROP_REGISTER_GS ((uint32_t)2u)
#define ZX_PROP_REGISTER_FS ((uint32_t)4u)
#endif
#define ZX_PROP_PROCESS_DEBUG_ADDR ((uint32_t)5u)
/* The value of ZX_PROP_PROCESS_DEBUG_ADDR that asks the dynamic linker to trap once it has set the real one. */
#define ZX_PROCESS_DEBUG_ADDR_BREAK_ON_SET ((uintptr_t)1u)
#define ZX_PROP_PROCESS_VDSO_BASE_ADDRESS ((uint32_t)6u)
#define ZX_PROP_PROCESS_BREAK_ON_LOAD ((uint32_t)7u)
#define ZX_PROP_PROCESS_HW_TRACE_CONTEXT_ID ((uint32_t)8u)
#define ZX_PROP_SOCKET_RX_THRESHOLD ((uint32_t)12u)
#define ZX_PROP_SOCKET_TX_THRESHOLD ((uint32_t)13u)
#define ZX_PROP_JOB_KILL_ON_OOM ((uint32_t)15u)
#define ZX_PROP_EXCEPTION_STATE ((uint32_t)16u)
#define ZX_PROP_VMO_CONTENT_SIZE ((uint32_t)17u)
#define ZX_PROP_EXCEPTION_STRATEGY ((uint32_t)18u)
#define ZX_PROP_STREAM_MODE_APPEND ((uint32_t)19u)

#ifdef __cplusplus
}
#endif

#endif /* ZXPY_ZIRCON_SYSCALLS_OBJECT_H_ */
