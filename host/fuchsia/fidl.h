/* What the host's FIDL servers for Fuchsia programs share (loader.c: fuchsia.ldsvc, fileserver.c: fuchsia.io,
 * launcher.c: fuchsia.process.Launcher): the January 2021 SDK's wire format v1 (the transactional header, the
 * presence markers), the read of a connection's next message, and a connection's message loop.
 *
 * Private to host/fuchsia/ (x86-64 Linux only).
 */
#ifndef ZXPY_HOST_FUCHSIA_FIDL_H_
#define ZXPY_HOST_FUCHSIA_FIDL_H_

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <zircon/syscalls.h>
#include <zircon/types.h>

#define FIDL_HEADER 16u               /* the transactional header's size */
#define FIDL_ALLOC_PRESENT UINT64_MAX /* an out-of-line object follows */
#define FIDL_HANDLE_PRESENT UINT32_MAX
#define FIDL_HANDLE_ABSENT 0u
#define FIDL_MAGIC_INITIAL 1u

typedef struct {
    uint32_t txid;
    uint8_t flags[3];
    uint8_t magic;
    uint64_t ordinal;
} fidl_header_t;
_Static_assert(sizeof(fidl_header_t) == FIDL_HEADER, "FIDL v1 transactional header");

/* Without the lock.  The next message of server end ch (at most num_bytes bytes and ZX_CHANNEL_MAX_MSG_HANDLES
 * handles), waiting for one: ZX_OK with *len and *nh set; otherwise the connection is over: ZX_ERR_PEER_CLOSED when
 * the client end is gone (or `stop`, a signal of ch, was raised), else the read's error (a message larger than
 * num_bytes is BUFFER_TOO_SMALL: malformed for every server here). */
static inline zx_status_t hk_fx_fidl_read(zx_handle_t ch, void *bytes, uint32_t num_bytes, zx_handle_t *handles,
                                          uint32_t *len, uint32_t *nh, zx_signals_t stop) {
    for (;;) {
        zx_status_t st = zx_channel_read(ch, 0, bytes, handles, num_bytes, ZX_CHANNEL_MAX_MSG_HANDLES, len, nh);
        if (st != ZX_ERR_SHOULD_WAIT) return st;
        zx_signals_t observed = 0;
        st = zx_object_wait_one(ch, ZX_CHANNEL_READABLE | ZX_CHANNEL_PEER_CLOSED | stop, ZX_TIME_INFINITE, &observed);
        if (st != ZX_OK) return st;
        if ((observed & stop) != 0 || (observed & ZX_CHANNEL_READABLE) == 0) return ZX_ERR_PEER_CLOSED;
    }
}

/* A server's handler of one message of a connection: false when the message is malformed (the connection ends).  It
 * takes the handles it keeps out of handles[] (leaving ZX_HANDLE_INVALID); hk_fx_fidl_serve closes the rest. */
typedef bool (*hk_fx_fidl_handler_t)(void *conn, uint8_t *msg, uint32_t len, zx_handle_t *handles, uint32_t nh);

/* Without the lock.  A connection's message loop: each message of ch, read with hk_fx_fidl_read (num_bytes, stop)
 * into a buffer of num_bytes plus one byte (room for a terminator the handler may write), goes to handle(conn, ...),
 * until the connection is over or handle returns false. */
static inline void hk_fx_fidl_serve(zx_handle_t ch, uint32_t num_bytes, zx_signals_t stop, hk_fx_fidl_handler_t handle,
                                    void *conn) {
    uint8_t *msg = malloc(num_bytes + 1);
    bool go_on = msg != NULL;
    zx_handle_t handles[ZX_CHANNEL_MAX_MSG_HANDLES];
    uint32_t len = 0, nh = 0;
    while (go_on && hk_fx_fidl_read(ch, msg, num_bytes, handles, &len, &nh, stop) == ZX_OK) {
        go_on = handle(conn, msg, len, handles, nh);
        zx_handle_close_many(handles, nh); /* what the message left (ZX_HANDLE_INVALID is skipped) */
    }
    free(msg);
}

#endif /* ZXPY_HOST_FUCHSIA_FIDL_H_ */
