/* zxpy rendition of <zircon/syscalls/exception.h>: the exception types, the
 * records an exception channel and ZX_INFO_THREAD_EXCEPTION_REPORT carry, the
 * exception channel kinds reported in zx_info_thread_t.wait_exception_channel_type,
 * and the exception state/strategy property values.  Values and layouts:
 * tests/data/zircon_abi.json and the 2021 SDK (tests/data/sdk_2021_abi.json).
 */
#ifndef ZXPY_ZIRCON_SYSCALLS_EXCEPTION_H_
#define ZXPY_ZIRCON_SYSCALLS_EXCEPTION_H_

#include <stdint.h>

#include <zircon/types.h>

/* Architectural exceptions (report.context.arch has more). */
#define ZX_EXCP_GENERAL ((uint32_t)0x008u)
#define ZX_EXCP_FATAL_PAGE_FAULT ((uint32_t)0x108u)
#define ZX_EXCP_UNDEFINED_INSTRUCTION ((uint32_t)0x208u)
#define ZX_EXCP_SW_BREAKPOINT ((uint32_t)0x308u)
#define ZX_EXCP_HW_BREAKPOINT ((uint32_t)0x408u)
#define ZX_EXCP_UNALIGNED_ACCESS ((uint32_t)0x508u)

/* Synthetic exceptions carry this bit. */
#define ZX_EXCP_SYNTH ((uint32_t)0x8000u)
#define ZX_EXCP_THREAD_STARTING ((uint32_t)0x008u | ZX_EXCP_SYNTH) /* debugger channels only */
#define ZX_EXCP_THREAD_EXITING ((uint32_t)0x108u | ZX_EXCP_SYNTH)  /* debugger channels only */
#define ZX_EXCP_POLICY_ERROR ((uint32_t)0x208u | ZX_EXCP_SYNTH)
#define ZX_EXCP_PROCESS_STARTING ((uint32_t)0x308u | ZX_EXCP_SYNTH) /* job debugger channels only */

typedef uint32_t zx_excp_type_t;

#define ZX_EXCP_IS_ARCH(excp) (((excp) & ZX_EXCP_SYNTH) == 0)

typedef struct zx_x86_64_exc_data {
    uint64_t vector;
    uint64_t err_code;
    uint64_t cr2;
} zx_x86_64_exc_data_t;

typedef struct zx_arm64_exc_data {
    uint32_t esr;
    uint8_t padding1[4];
    uint64_t far;
    uint8_t padding2[8];
} zx_arm64_exc_data_t;

typedef struct zx_riscv64_exc_data {
    uint64_t cause;
    uint64_t tval;
    uint8_t padding1[8];
} zx_riscv64_exc_data_t;

typedef struct zx_exception_context {
    struct {
        union {
            zx_x86_64_exc_data_t x86_64;
            zx_arm64_exc_data_t arm_64;
            zx_riscv64_exc_data_t riscv_64;
        } u;
    } arch;
    uint32_t synth_code;
    uint32_t synth_data;
} zx_exception_context_t;

typedef struct zx_exception_header {
    uint32_t size; /* of the whole report, this field included */
    zx_excp_type_t type;
} zx_exception_header_t;

/* ZX_INFO_THREAD_EXCEPTION_REPORT. */
typedef struct zx_exception_report {
    zx_exception_header_t header;
    zx_exception_context_t context;
} zx_exception_report_t;

/* The message an exception channel carries, with the exception handle. */
typedef struct zx_exception_info {
    zx_koid_t pid;
    zx_koid_t tid;
    zx_excp_type_t type;
    uint8_t padding1[4];
} zx_exception_info_t;

/* Which exception channel a thread is blocked on, if any. */
#define ZX_EXCEPTION_CHANNEL_TYPE_NONE ((uint32_t)0u)
#define ZX_EXCEPTION_CHANNEL_TYPE_DEBUGGER ((uint32_t)1u)
#define ZX_EXCEPTION_CHANNEL_TYPE_THREAD ((uint32_t)2u)
#define ZX_EXCEPTION_CHANNEL_TYPE_PROCESS ((uint32_t)3u)
#define ZX_EXCEPTION_CHANNEL_TYPE_JOB ((uint32_t)4u)
#define ZX_EXCEPTION_CHANNEL_TYPE_JOB_DEBUGGER ((uint32_t)5u)

/* zx_task_create_exception_channel() option. */
#define ZX_EXCEPTION_CHANNEL_DEBUGGER ((uint32_t)1u)

/* ZX_PROP_EXCEPTION_STATE values. */
#define ZX_EXCEPTION_STATE_TRY_NEXT ((uint32_t)0u)
#define ZX_EXCEPTION_STATE_HANDLED ((uint32_t)1u)
#define ZX_EXCEPTION_STATE_THREAD_EXIT ((uint32_t)2u)

/* ZX_PROP_EXCEPTION_STRATEGY values. */
#define ZX_EXCEPTION_STRATEGY_FIRST_CHANCE ((uint32_t)0u)
#define ZX_EXCEPTION_STRATEGY_SECOND_CHANCE ((uint32_t)1u)

#endif /* ZXPY_ZIRCON_SYSCALLS_EXCEPTION_H_ */
