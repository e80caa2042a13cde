/* zxpy rendition of <zircon/syscalls/port.h>: port packet types and the
 * 48-byte zx_port_packet_t (key, type, status, then a 32-byte union of the
 * per-type payloads).  Names, values and layouts are Zircon's; the host
 * kernel produces ZX_PKT_TYPE_USER (zx_port_queue) and ZX_PKT_TYPE_SIGNAL_ONE (zx_object_wait_async) packets.
 */
#ifndef ZXPY_ZIRCON_SYSCALLS_PORT_H_
#define ZXPY_ZIRCON_SYSCALLS_PORT_H_

#include <stdbool.h>
#include <stdint.h>

#include <zircon/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* zx_object_wait_async() options (ONCE is 0 and superfluous). */
#define ZX_WAIT_ASYNC_ONCE ((uint32_t)0u)
#define ZX_WAIT_ASYNC_TIMESTAMP ((uint32_t)1u)
#define ZX_WAIT_ASYNC_EDGE ((uint32_t)2u)

typedef uint32_t zx_packet_type_t;

/* zx_port_packet_t.type.  0x02 (the old SIGNAL_REP) and 0x08 are unused. */
#define ZX_PKT_TYPE_USER ((zx_packet_type_t)0x00u)
#define ZX_PKT_TYPE_SIGNAL_ONE ((zx_packet_type_t)0x01u)
#define ZX_PKT_TYPE_GUEST_BELL ((zx_packet_type_t)0x03u)
#define ZX_PKT_TYPE_GUEST_MEM ((zx_packet_type_t)0x04u)
#define ZX_PKT_TYPE_GUEST_IO ((zx_packet_type_t)0x05u)
#define ZX_PKT_TYPE_GUEST_VCPU ((zx_packet_type_t)0x06u)
#define ZX_PKT_TYPE_INTERRUPT ((zx_packet_type_t)0x07u)
#define ZX_PKT_TYPE_PAGE_REQUEST ((zx_packet_type_t)0x09u)

/* zx_port_create() option. */
#define ZX_PORT_BIND_TO_INTERRUPT ((uint32_t)(0x1u << 0))

#define ZX_PKT_IS_USER(type) ((type) == ZX_PKT_TYPE_USER)
#define ZX_PKT_IS_SIGNAL_ONE(type) ((type) == ZX_PKT_TYPE_SIGNAL_ONE)
#define ZX_PKT_IS_GUEST_BELL(type) ((type) == ZX_PKT_TYPE_GUEST_BELL)
#define ZX_PKT_IS_GUEST_MEM(type) ((type) == ZX_PKT_TYPE_GUEST_MEM)
#define ZX_PKT_IS_GUEST_IO(type) ((type) == ZX_PKT_TYPE_GUEST_IO)
#define ZX_PKT_IS_GUEST_VCPU(type) ((type) == ZX_PKT_TYPE_GUEST_VCPU)
#define ZX_PKT_IS_INTERRUPT(type) ((type) == ZX_PKT_TYPE_INTERRUPT)
#define ZX_PKT_IS_PAGE_REQUEST(type) ((type) == ZX_PKT_TYPE_PAGE_REQUEST)

/* zx_packet_guest_vcpu_t.type */
#define ZX_PKT_GUEST_VCPU_INTERRUPT ((uint32_t)0)
#define ZX_PKT_GUEST_VCPU_STARTUP ((uint32_t)1)
#define ZX_PKT_GUEST_VCPU_EXIT ((uint32_t)2)

/* zx_packet_page_request_t.command */
#define ZX_PAGER_VMO_READ ((uint16_t)0)
#define ZX_PAGER_VMO_COMPLETE ((uint16_t)1)
#define ZX_PAGER_VMO_DIRTY ((uint16_t)2)

/* Every payload below is exactly 32 bytes. */

/* ZX_PKT_TYPE_USER: whatever zx_port_queue() put there. */
typedef union zx_packet_user {
  uint64_t u64[4];
  uint32_t u32[8];
  uint16_t u16[16];
  uint8_t c8[32];
} zx_packet_user_t;

/* ZX_PKT_TYPE_SIGNAL_ONE (zx_object_wait_async). */
typedef struct zx_packet_signal {
  zx_signals_t trigger;
  zx_signals_t observed;
  uint64_t count;
  uint64_t timestamp;
  uint64_t reserved1;
} zx_packet_signal_t;

typedef struct zx_packet_guest_bell {
  zx_gpaddr_t addr;
  uint64_t reserved0;
  uint64_t reserved1;
  uint64_t reserved2;
} zx_packet_guest_bell_t;

typedef struct zx_packet_guest_mem {
  zx_gpaddr_t addr;
#if defined(__aarch64__)
  uint8_t access_size;
  bool sign_extend;
  uint8_t xt;
  bool read;
  uint8_t padding1[4];
  uint64_t data;
  uint64_t reserved;
#elif defined(__x86_64__)
  zx_gpaddr_t cr3;
  zx_vaddr_t rip;
  uint8_t instruction_size;
  uint8_t default_operand_size;
  uint8_t reserved[6];
#else
  uint64_t reserved[3];
#endif
} zx_packet_guest_mem_t;

typedef struct zx_packet_guest_io {
  uint16_t port;
  uint8_t access_size;
  bool input;
  union {
    struct {
      uint8_t u8;
      uint8_t padding1[3];
    };
    struct {
      uint16_t u16;
      uint8_t padding2[2];
    };
    uint32_t u32;
    uint8_t data[4];
  };
  uint64_t reserved0;
  uint64_t reserved1;
  uint64_t reserved2;
} zx_packet_guest_io_t;

typedef struct zx_packet_guest_vcpu {
  uint32_t type;
  uint8_t padding1[4];
  union {
    struct {
      uint64_t mask;
      uint8_t vector;
      uint8_t padding1[7];
    } interrupt;
    struct {
      uint64_t id;
      zx_gpaddr_t entry;
    } startup;
    struct {
      int64_t retcode;
      uint64_t reserved;
    } exit;
  };
  uint64_t reserved;
} zx_packet_guest_vcpu_t;

typedef struct zx_packet_interrupt {
  zx_time_t timestamp;
  uint64_t reserved0;
  uint64_t reserved1;
  uint64_t reserved2;
} zx_packet_interrupt_t;

typedef struct zx_packet_page_request {
  uint16_t command;
  uint16_t flags;
  uint32_t reserved0;
  uint64_t offset;
  uint64_t length;
  uint64_t reserved1;
} zx_packet_page_request_t;

typedef struct {
  uint32_t domain_id;
  uint32_t options;
  uint64_t control_interface;
  uint64_t control_argument;
  uint64_t reserved;
} zx_packet_processor_power_level_transition_request_t;

/* What zx_port_wait() returns and zx_port_queue() takes: 48 bytes. */
typedef struct zx_port_packet {
  uint64_t key;
  zx_packet_type_t type;
  zx_status_t status;
  union {
    zx_packet_user_t user;
    zx_packet_signal_t signal;
    zx_packet_guest_bell_t guest_bell;
    zx_packet_guest_mem_t guest_mem;
    zx_packet_guest_io_t guest_io;
    zx_packet_guest_vcpu_t guest_vcpu;
    zx_packet_interrupt_t interrupt;
    zx_packet_page_request_t page_request;
    zx_packet_processor_power_level_transition_request_t processor_power_level_transition;
  };
} zx_port_packet_t;

#ifdef __cplusplus
}
#endif

#endif /* ZXPY_ZIRCON_SYSCALLS_PORT_H_ */
