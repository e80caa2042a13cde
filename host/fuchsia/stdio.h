/* stdio of a Fuchsia program: a socket per fd, pumped to and from the host's fds (host/fuchsia/stdio.c; see
 * docs/fuchsia-elf.md, "stdio").
 *
 * fdio_spawn's FDIO_SPAWN_CLONE_STDIO hands the new process one handle per fd 0-2, tagged PA_HND(PA_FD, fd), in its
 * processargs message; the 2021 fdio turns a socket handle there into a pipe fd (fdio_create: ZX_INFO_HANDLE_BASIC,
 * then ZX_INFO_SOCKET), which printf then writes with zx_socket_write.  The runner does the same with host-kernel
 * stream sockets: the program gets one end, and a host thread per fd copies between the other end and a host fd.
 *
 * Private to host/fuchsia/ (x86-64 Linux only).
 */
#ifndef ZXPY_HOST_FUCHSIA_STDIO_H_
#define ZXPY_HOST_FUCHSIA_STDIO_H_

#include <stddef.h>
#include <stdint.h>
#include <zircon/types.h>

#pragma GCC visibility push(hidden)

/* <zircon/processargs.h>: PA_HND(PA_FD, fd). */
#define HK_PA_FD 0x30u
#define HK_PA_HND(type, arg) (((uint32_t)(type) & 0xFFu) | (((uint32_t)(arg) & 0xFFFFu) << 16))

typedef struct hk_fx_stdio hk_fx_stdio_t;

/* Requesting thread, without the lock.  For each i in 0..2 with fds[i] >= 0: a stream socket pair whose program end
 * goes to ends[*n] (a handle of the calling thread's table, for the processargs message) with infos[*n] =
 * PA_HND(PA_FD, i), and a pump between the other end and a duplicate of fds[i] (read from it for fd 0, written to it
 * for 1 and 2), started at once; an fd that is not open gets no handle.  The pumps end when their socket's peer is closed (the program's table closes when
 * it dies) or at hk_fx_stdio_end.  NULL with *status on failure (nothing left behind). */
hk_fx_stdio_t *hk_fx_stdio_new(const int fds[3], zx_handle_t ends[3], uint32_t infos[3], size_t *n,
                               zx_status_t *status);

/* Without the lock (the monitor thread, once every task of the program is reaped; or the requesting thread for a
 * spawn that failed).  The output pumps copy what is still buffered and stop; the input pump stops.  Each pump is
 * joined, or left to finish on its own (detached) if a write to its fd has not completed within a few seconds (a full
 * pipe nobody reads).  Then st is freed.  NULL is fine. */
void hk_fx_stdio_end(hk_fx_stdio_t *st);

#pragma GCC visibility pop

#endif /* ZXPY_HOST_FUCHSIA_STDIO_H_ */
