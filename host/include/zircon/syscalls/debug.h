/* zxpy rendition of <zircon/syscalls/debug.h>: the register sets of zx_thread_read_state /
 * zx_thread_write_state, for the architecture being compiled for (x86-64 or arm64), laid out exactly as
 * Zircon's (the 2021 core SDK and today's IDK agree on every struct here).  Checked field by field by the
 * cdef (zxpy/_abi.py) and tests/test_abi.py.
 */
#ifndef ZXPY_ZIRCON_SYSCALLS_DEBUG_H_
#define ZXPY_ZIRCON_SYSCALLS_DEBUG_H_

#include <stdint.h>

#if defined(__x86_64__)

/* ZX_THREAD_STATE_GENERAL_REGS on x86-64. */
typedef struct zx_thread_state_general_regs {
    uint64_t rax;
    uint64_t rbx;
    uint64_t rcx;
    uint64_t rdx;
    uint64_t rsi;
    uint64_t rdi;
    uint64_t rbp;
    uint64_t rsp;
    uint64_t r8;
    uint64_t r9;
    uint64_t r10;
    uint64_t r11;
    uint64_t r12;
    uint64_t r13;
    uint64_t r14;
    uint64_t r15;
    uint64_t rip;
    uint64_t rflags;
    uint64_t fs_base;
    uint64_t gs_base;
} zx_thread_state_general_regs_t;

/* ZX_THREAD_STATE_FP_REGS on x86-64: x87 and MMX state. */
typedef struct zx_thread_state_fp_regs {
    uint16_t fcw;
    uint16_t fsw;
    uint8_t ftw;
    uint8_t reserved;
    uint16_t fop;
    uint64_t fip;
    uint64_t fdp;
    uint8_t padding1[8];
    __attribute__((aligned(16))) struct {
        uint64_t low;
        uint64_t high;
    } st[8];
} zx_thread_state_fp_regs_t;

/* ZX_THREAD_STATE_VECTOR_REGS on x86-64: SSE, AVX and AVX-512 (zmm[16..31] and opmask 0 without AVX-512). */
typedef struct zx_thread_state_vector_regs {
    struct {
        uint64_t v[8];
    } zmm[32];
    uint64_t opmask[8];
    uint32_t mxcsr;
    uint8_t padding1[4];
} zx_thread_state_vector_regs_t;

/* ZX_THREAD_STATE_DEBUG_REGS on x86-64. */
typedef struct zx_thread_state_debug_regs {
    uint64_t dr[4];
    uint64_t dr6;
    uint64_t dr7;
} zx_thread_state_debug_regs_t;

#elif defined(__aarch64__)

/* ZX_THREAD_STATE_GENERAL_REGS on arm64. */
typedef struct zx_thread_state_general_regs {
    uint64_t r[30];
    uint64_t lr;
    uint64_t sp;
    uint64_t pc;
    uint64_t cpsr;
    uint64_t tpidr;
} zx_thread_state_general_regs_t;

/* ZX_THREAD_STATE_FP_REGS on arm64: unused (the vector state holds all floating point). */
typedef struct zx_thread_state_fp_regs {
    uint32_t unused;
} zx_thread_state_fp_regs_t;

/* ZX_THREAD_STATE_VECTOR_REGS on arm64. */
typedef struct zx_thread_state_vector_regs {
    uint32_t fpcr;
    uint32_t fpsr;
    struct {
        uint64_t low;
        uint64_t high;
    } v[32];
} zx_thread_state_vector_regs_t;

#define AARCH64_MAX_HW_BREAKPOINTS 16
#define AARCH64_MAX_HW_WATCHPOINTS 16

/* ZX_THREAD_STATE_DEBUG_REGS on arm64. */
typedef struct zx_thread_state_debug_regs {
    struct {
        uint32_t dbgbcr;
        uint8_t padding1[4];
        uint64_t dbgbvr;
    } hw_bps[AARCH64_MAX_HW_BREAKPOINTS];
    struct {
        uint32_t dbgwcr;
        uint8_t padding1[4];
        uint64_t dbgwvr;
    } hw_wps[AARCH64_MAX_HW_WATCHPOINTS];
    uint64_t far;
    uint32_t esr;
    uint8_t hw_bps_count;
    uint8_t hw_wps_count;
    uint8_t padding1[2];
} zx_thread_state_debug_regs_t;

#endif

/* ZX_THREAD_STATE_SINGLE_STEP: 0 (not single-stepping) or 1; any other value is INVALID_ARGS. */
typedef uint32_t zx_thread_state_single_step_t;

/* The "kind" of zx_thread_read_state / zx_thread_write_state. */
typedef uint32_t zx_thread_state_topic_t;
#define ZX_THREAD_STATE_GENERAL_REGS ((uint32_t)0)
#define ZX_THREAD_STATE_FP_REGS ((uint32_t)1)
#define ZX_THREAD_STATE_VECTOR_REGS ((uint32_t)2)
#define ZX_THREAD_STATE_DEBUG_REGS ((uint32_t)4)
#define ZX_THREAD_STATE_SINGLE_STEP ((uint32_t)5)

#endif /* ZXPY_ZIRCON_SYSCALLS_DEBUG_H_ */
