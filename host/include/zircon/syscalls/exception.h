/* zxpy rendition of <zircon/syscalls/exception.h>, reduced to the values a
 * task-control binding meets: the exception channel kinds reported in
 * zx_info_thread_t.wait_exception_channel_type, and the exception
 * state/strategy property values.  Values: tests/data/zircon_abi.json.
 */
#ifndef ZXPY_ZIRCON_SYSCALLS_EXCEPTION_H_
#define ZXPY_ZIRCON_SYSCALLS_EXCEPTION_H_

#include <stdint.h>

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
