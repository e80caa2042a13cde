/* zxpy rendition of <zircon/process.h>: the calling program's own handles.
 *
 * The handles these return are borrowed: they belong to the runtime (libc
 * on Fuchsia, the host kernel on Linux) and must never be closed.
 */
#ifndef ZXPY_ZIRCON_PROCESS_H_
#define ZXPY_ZIRCON_PROCESS_H_

#include <stdint.h>

#include <zircon/types.h>

#ifdef __cplusplus
extern "C" {
#endif

zx_handle_t zx_process_self(void);
zx_handle_t zx_vmar_root_self(void);
zx_handle_t zx_thread_self(void);
zx_handle_t zx_job_default(void);

/* Take ownership of a startup handle by its PA_HND() id, or get
 * ZX_HANDLE_INVALID when there is none. */
zx_handle_t zx_take_startup_handle(uint32_t hnd_info);

#ifdef __cplusplus
}
#endif

#endif /* ZXPY_ZIRCON_PROCESS_H_ */
