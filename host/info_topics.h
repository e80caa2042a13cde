/* The versioned zx_object_get_info topics the host kernel answers, in its own names.
 *
 * Zircon versions an info topic by its top four bits (__ZX_INFO_TOPIC(t, v) = t | v << 28 in
 * zircon/syscalls/object.h) and keeps answering the older versions after a record grows: the headers only pick
 * which version a caller gets by default.  So the host kernel defines every version itself and answers each one,
 * whichever headers it was compiled with (2021 headers: ZX_INFO_PROCESS = 3, ZX_INFO_TASK_STATS = 12,
 * ZX_INFO_TASK_RUNTIME = 30; today's headers: the v1 topics below as the defaults, and the v0 topics of task stats
 * and runtime under the names ZX_INFO_TASK_STATS_V1 / ZX_INFO_TASK_RUNTIME_V1).
 *
 * Here "vN" is the topic's version field.  Mind Zircon's own names: its ZX_INFO_TASK_RUNTIME_V1 and
 * zx_info_task_runtime_v1_t are this file's v0 (topic 30), and so for task stats; RFC-0074 named the two process
 * records zx_info_process_v1_t (topic 3) and zx_info_process_v2_t (topic 0x10000003).
 *
 * The checks at the end tie these definitions to whatever the included headers define -- each name only where
 * the headers have it -- so a header that disagrees with the kernel's record fails the build.
 */
#ifndef ZXPY_HOST_INFO_TOPICS_H_
#define ZXPY_HOST_INFO_TOPICS_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <zircon/syscalls/object.h>
#include <zircon/types.h>

#define HK_INFO_TOPIC(topic, version) ((uint32_t)(topic) | ((uint32_t)(version) << 28))

/* ZX_INFO_PROCESS.  v0 (topic 3): the bool layout of the 2021 headers, filled as ProcessDispatcher::GetInfo did
 * (started once the process left INITIAL, exited from DYING on).  v1 (0x10000003, RFC-0074): flags and the
 * monotonic start_time. */
#define HK_INFO_PROCESS_V0 HK_INFO_TOPIC(3u, 0u)
#define HK_INFO_PROCESS_V1 HK_INFO_TOPIC(3u, 1u)
#define HK_INFO_PROCESS_FLAG_STARTED (1u << 0)
#define HK_INFO_PROCESS_FLAG_EXITED (1u << 1)
#define HK_INFO_PROCESS_FLAG_DEBUGGER_ATTACHED (1u << 2)

typedef struct hk_info_process_v0 {
    int64_t return_code;
    bool started;
    bool exited;
    bool debugger_attached;
    uint8_t padding1[5];
} hk_info_process_v0_t;

typedef struct hk_info_process_v1 {
    int64_t return_code;
    zx_time_t start_time;
    uint32_t flags;
    uint8_t padding1[4];
} hk_info_process_v1_t;

/* ZX_INFO_TASK_STATS (processes only).  v0 (topic 12): four byte counts.  v1 (0x1000000C): plus the fraction of
 * a byte of the proportional share. */
#define HK_INFO_TASK_STATS_V0 HK_INFO_TOPIC(12u, 0u)
#define HK_INFO_TASK_STATS_V1 HK_INFO_TOPIC(12u, 1u)

typedef struct hk_info_task_stats_v0 {
    size_t mem_mapped_bytes;
    size_t mem_private_bytes;
    size_t mem_shared_bytes;
    size_t mem_scaled_shared_bytes;
} hk_info_task_stats_v0_t;

typedef struct hk_info_task_stats_v1 {
    size_t mem_mapped_bytes;
    size_t mem_private_bytes;
    size_t mem_shared_bytes;
    size_t mem_scaled_shared_bytes;
    uint64_t mem_fractional_scaled_shared_bytes;
} hk_info_task_stats_v1_t;

/* ZX_INFO_TASK_RUNTIME (threads, processes, jobs).  v0 (topic 30): CPU and queue time.  v1 (0x1000001E): plus
 * page fault and lock contention time.  The kernel keeps its figures in the v1 record. */
#define HK_INFO_TASK_RUNTIME_V0 HK_INFO_TOPIC(30u, 0u)
#define HK_INFO_TASK_RUNTIME_V1 HK_INFO_TOPIC(30u, 1u)

typedef struct hk_info_task_runtime_v0 {
    zx_duration_t cpu_time;
    zx_duration_t queue_time;
} hk_info_task_runtime_v0_t;

typedef struct hk_info_task_runtime_v1 {
    zx_duration_t cpu_time;
    zx_duration_t queue_time;
    zx_duration_t page_fault_time;
    zx_duration_t lock_contention_time;
} hk_info_task_runtime_v1_t;

/* ---- the kernel's records against the headers' (each check only where the headers define the name) ---- */

#define HK_SAME_FIELD(zx_type, hk_type, field)                                                                \
    _Static_assert(offsetof(zx_type, field) == offsetof(hk_type, field) &&                                    \
                       sizeof(((zx_type *)0)->field) == sizeof(((hk_type *)0)->field),                         \
                   #zx_type "." #field " differs from the host kernel's " #hk_type)

_Static_assert(sizeof(hk_info_process_v0_t) == 16 && sizeof(hk_info_process_v1_t) == 24, "process records");
_Static_assert(sizeof(hk_info_task_stats_v0_t) == 32 && sizeof(hk_info_task_stats_v1_t) == 40, "task stats");
_Static_assert(sizeof(hk_info_task_runtime_v0_t) == 16 && sizeof(hk_info_task_runtime_v1_t) == 32, "runtime");

/* ZX_INFO_PROCESS names whichever version the headers chose, checked by value: headers of the transition
 * (RFC-0074) already define ZX_INFO_PROCESS_FLAG_* and a zx_info_process_v2_t while ZX_INFO_PROCESS is still
 * topic 3 with the bool record, so the presence of the flags says nothing about zx_info_process_t. */
_Static_assert((ZX_INFO_PROCESS == HK_INFO_PROCESS_V1 && sizeof(zx_info_process_t) == sizeof(hk_info_process_v1_t)) ||
                   (ZX_INFO_PROCESS == HK_INFO_PROCESS_V0 &&
                    sizeof(zx_info_process_t) == sizeof(hk_info_process_v0_t)),
               "ZX_INFO_PROCESS and zx_info_process_t are one of the kernel's two versions");
_Static_assert(offsetof(zx_info_process_t, return_code) == 0, "zx_info_process_t.return_code");
#ifdef ZX_INFO_PROCESS_FLAG_STARTED
_Static_assert(ZX_INFO_PROCESS_FLAG_STARTED == HK_INFO_PROCESS_FLAG_STARTED &&
                   ZX_INFO_PROCESS_FLAG_EXITED == HK_INFO_PROCESS_FLAG_EXITED &&
                   ZX_INFO_PROCESS_FLAG_DEBUGGER_ATTACHED == HK_INFO_PROCESS_FLAG_DEBUGGER_ATTACHED,
               "ZX_INFO_PROCESS_FLAG_*");
#endif

/* Headers that name the older task stats topic (ZX_INFO_TASK_STATS_V1) make ZX_INFO_TASK_STATS the newer one. */
#ifdef ZX_INFO_TASK_STATS_V1
_Static_assert(ZX_INFO_TASK_STATS_V1 == HK_INFO_TASK_STATS_V0, "ZX_INFO_TASK_STATS_V1 is topic 12");
_Static_assert(sizeof(zx_info_task_stats_v1_t) == sizeof(hk_info_task_stats_v0_t), "zx_info_task_stats_v1_t");
_Static_assert(ZX_INFO_TASK_STATS == HK_INFO_TASK_STATS_V1, "ZX_INFO_TASK_STATS is topic 0x1000000C");
_Static_assert(sizeof(zx_info_task_stats_t) == sizeof(hk_info_task_stats_v1_t), "zx_info_task_stats_t (v1)");
HK_SAME_FIELD(zx_info_task_stats_t, hk_info_task_stats_v1_t, mem_fractional_scaled_shared_bytes);
#else
_Static_assert(ZX_INFO_TASK_STATS == HK_INFO_TASK_STATS_V0, "ZX_INFO_TASK_STATS is topic 12");
_Static_assert(sizeof(zx_info_task_stats_t) == sizeof(hk_info_task_stats_v0_t), "zx_info_task_stats_t (v0)");
#endif
HK_SAME_FIELD(zx_info_task_stats_t, hk_info_task_stats_v0_t, mem_mapped_bytes);
HK_SAME_FIELD(zx_info_task_stats_t, hk_info_task_stats_v0_t, mem_private_bytes);
HK_SAME_FIELD(zx_info_task_stats_t, hk_info_task_stats_v0_t, mem_shared_bytes);
HK_SAME_FIELD(zx_info_task_stats_t, hk_info_task_stats_v0_t, mem_scaled_shared_bytes);

#ifdef ZX_INFO_TASK_RUNTIME_V1
_Static_assert(ZX_INFO_TASK_RUNTIME_V1 == HK_INFO_TASK_RUNTIME_V0, "ZX_INFO_TASK_RUNTIME_V1 is topic 30");
_Static_assert(sizeof(zx_info_task_runtime_v1_t) == sizeof(hk_info_task_runtime_v0_t), "zx_info_task_runtime_v1_t");
_Static_assert(ZX_INFO_TASK_RUNTIME == HK_INFO_TASK_RUNTIME_V1, "ZX_INFO_TASK_RUNTIME is topic 0x1000001E");
_Static_assert(sizeof(zx_info_task_runtime_t) == sizeof(hk_info_task_runtime_v1_t), "zx_info_task_runtime_t (v1)");
HK_SAME_FIELD(zx_info_task_runtime_t, hk_info_task_runtime_v1_t, page_fault_time);
HK_SAME_FIELD(zx_info_task_runtime_t, hk_info_task_runtime_v1_t, lock_contention_time);
#else
_Static_assert(ZX_INFO_TASK_RUNTIME == HK_INFO_TASK_RUNTIME_V0, "ZX_INFO_TASK_RUNTIME is topic 30");
_Static_assert(sizeof(zx_info_task_runtime_t) == sizeof(hk_info_task_runtime_v0_t), "zx_info_task_runtime_t (v0)");
#endif
HK_SAME_FIELD(zx_info_task_runtime_t, hk_info_task_runtime_v0_t, cpu_time);
HK_SAME_FIELD(zx_info_task_runtime_t, hk_info_task_runtime_v0_t, queue_time);

/* ZX_INFO_SOCKET (topic 22, unversioned): zx_info_socket_t of <zircon/syscalls/object.h>, filled as
 * SocketDispatcher::GetInfo does (zircon/kernel/object/socket_dispatcher.cc).  zxpy's own headers do not carry the
 * record, so it is stated here; where the headers have it, the layout is checked against it. */
#define HK_INFO_SOCKET 22u
typedef struct hk_info_socket {
    uint32_t options;
    uint8_t padding1[4];
    size_t rx_buf_max;
    size_t rx_buf_size;
    size_t rx_buf_available;
    size_t tx_buf_max;
    size_t tx_buf_size;
} hk_info_socket_t;
_Static_assert(sizeof(hk_info_socket_t) == 48 && offsetof(hk_info_socket_t, rx_buf_max) == 8 &&
                   offsetof(hk_info_socket_t, tx_buf_size) == 40,
               "zx_info_socket_t is 48 bytes");
#ifdef ZX_INFO_SOCKET
_Static_assert(ZX_INFO_SOCKET == HK_INFO_SOCKET, "ZX_INFO_SOCKET is topic 22");
#endif

#undef HK_SAME_FIELD

#endif /* ZXPY_HOST_INFO_TOPICS_H_ */
