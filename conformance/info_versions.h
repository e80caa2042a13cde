/* Both versions of the versioned info topics the scenarios read, in the suite's own names.
 *
 * Zircon versions an info topic by its top four bits (__ZX_INFO_TOPIC(t, v) = t | v << 28, zircon/syscalls/object.h)
 * and the headers of an SDK name only some versions: the 2021 headers have ZX_INFO_PROCESS = 3,
 * ZX_INFO_TASK_STATS = 12 and ZX_INFO_TASK_RUNTIME = 30 with the short records; today's headers make the v1 topics
 * below the defaults and call the v0 topics of task stats and runtime ZX_INFO_*_V1.  The scenarios define both
 * records and both topic numbers here, so the same sources build against every vintage of the headers and check
 * each version explicitly.  "vN" is the topic's version field (Zircon's ZX_INFO_TASK_RUNTIME_V1 is v0 here).
 */
#ifndef ZXPY_CONFORMANCE_INFO_VERSIONS_H_
#define ZXPY_CONFORMANCE_INFO_VERSIONS_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <zircon/syscalls/object.h>
#include <zircon/types.h>

#define T_INFO_TOPIC(topic, version) ((uint32_t)(topic) | ((uint32_t)(version) << 28))

/* ZX_INFO_PROCESS: v0 (topic 3) bools, 16 bytes; v1 (0x10000003, RFC-0074) flags and start_time, 24 bytes. */
#define T_INFO_PROCESS_V0 T_INFO_TOPIC(3u, 0u)
#define T_INFO_PROCESS_V1 T_INFO_TOPIC(3u, 1u)
#define T_INFO_PROCESS_FLAG_STARTED (1u << 0)
#define T_INFO_PROCESS_FLAG_EXITED (1u << 1)
#define T_INFO_PROCESS_FLAG_DEBUGGER_ATTACHED (1u << 2)

typedef struct t_info_process_v0 {
    int64_t return_code;
    bool started;
    bool exited;
    bool debugger_attached;
    uint8_t padding1[5];
} t_info_process_v0_t;

typedef struct t_info_process_v1 {
    int64_t return_code;
    zx_time_t start_time;
    uint32_t flags;
    uint8_t padding1[4];
} t_info_process_v1_t;

/* ZX_INFO_TASK_STATS: v0 (topic 12) 32 bytes; v1 (0x1000000C) 40 bytes. */
#define T_INFO_TASK_STATS_V0 T_INFO_TOPIC(12u, 0u)
#define T_INFO_TASK_STATS_V1 T_INFO_TOPIC(12u, 1u)

typedef struct t_info_task_stats_v0 {
    size_t mem_mapped_bytes;
    size_t mem_private_bytes;
    size_t mem_shared_bytes;
    size_t mem_scaled_shared_bytes;
} t_info_task_stats_v0_t;

typedef struct t_info_task_stats_v1 {
    size_t mem_mapped_bytes;
    size_t mem_private_bytes;
    size_t mem_shared_bytes;
    size_t mem_scaled_shared_bytes;
    uint64_t mem_fractional_scaled_shared_bytes;
} t_info_task_stats_v1_t;

/* ZX_INFO_TASK_RUNTIME: v0 (topic 30) 16 bytes; v1 (0x1000001E) 32 bytes. */
#define T_INFO_TASK_RUNTIME_V0 T_INFO_TOPIC(30u, 0u)
#define T_INFO_TASK_RUNTIME_V1 T_INFO_TOPIC(30u, 1u)

typedef struct t_info_task_runtime_v0 {
    zx_duration_t cpu_time;
    zx_duration_t queue_time;
} t_info_task_runtime_v0_t;

typedef struct t_info_task_runtime_v1 {
    zx_duration_t cpu_time;
    zx_duration_t queue_time;
    zx_duration_t page_fault_time;
    zx_duration_t lock_contention_time;
} t_info_task_runtime_v1_t;

_Static_assert(sizeof(t_info_process_v0_t) == 16 && sizeof(t_info_process_v1_t) == 24, "process records");
_Static_assert(sizeof(t_info_task_stats_v0_t) == 32 && sizeof(t_info_task_stats_v1_t) == 40, "task stats");
_Static_assert(sizeof(t_info_task_runtime_v0_t) == 16 && sizeof(t_info_task_runtime_v1_t) == 32, "runtime");

/* The default topics of the headers in use are among these versions, with the same record sizes. */
_Static_assert((ZX_INFO_PROCESS == T_INFO_PROCESS_V0 && sizeof(zx_info_process_t) == 16) ||
                   (ZX_INFO_PROCESS == T_INFO_PROCESS_V1 && sizeof(zx_info_process_t) == 24),
               "ZX_INFO_PROCESS");
_Static_assert((ZX_INFO_TASK_STATS == T_INFO_TASK_STATS_V0 && sizeof(zx_info_task_stats_t) == 32) ||
                   (ZX_INFO_TASK_STATS == T_INFO_TASK_STATS_V1 && sizeof(zx_info_task_stats_t) == 40),
               "ZX_INFO_TASK_STATS");
_Static_assert((ZX_INFO_TASK_RUNTIME == T_INFO_TASK_RUNTIME_V0 && sizeof(zx_info_task_runtime_t) == 16) ||
                   (ZX_INFO_TASK_RUNTIME == T_INFO_TASK_RUNTIME_V1 && sizeof(zx_info_task_runtime_t) == 32),
               "ZX_INFO_TASK_RUNTIME");

/* Whether the kernel under test answers this version of an info topic (checked with a probe: the topic is
 * decided before the handle is looked up, so ZX_HANDLE_INVALID gives BAD_HANDLE for a known topic and
 * NOT_SUPPORTED for an unknown one).  The host kernel must answer every version above.  On Fuchsia the kernel
 * must answer the versions the SDK's headers name; another version may be unknown to it (a kernel older than
 * the version, or newer than RFC-0074's removal of topic 3), and is then checked to be NOT_SUPPORTED only. */
bool t_info_answered(uint32_t topic);

#endif /* ZXPY_CONFORMANCE_INFO_VERSIONS_H_ */
