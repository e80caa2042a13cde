/* The loader service of Fuchsia programs: fuchsia.ldsvc.Loader served from the host (host/fuchsia/loader.c; see
 * docs/fuchsia-elf.md, "The loader service").
 *
 * ld.so.1 asks for every DT_NEEDED library it does not carry itself (libfdio.so, ...) over a channel it gets as
 * PA_LDSVC_LOADER in its processargs message: a LoadObject call answered with a status and a VMO of the file.  The
 * wire format is the one of the January 2021 SDK's libc (zircon/system/ulib/ldmsg): FIDL v1 headers (txid, flags,
 * magic 1, 64-bit ordinal), hand-encoded requests (ldmsg_req_t, at most 1024 bytes) and 24-byte responses
 * (ldmsg_rsp_t: header, rv, object presence).
 *
 * Private to host/fuchsia/ (x86-64 Linux only).
 */
#ifndef ZXPY_HOST_FUCHSIA_LOADER_H_
#define ZXPY_HOST_FUCHSIA_LOADER_H_

#include <stddef.h>
#include <stdint.h>
#include <zircon/types.h>

#pragma GCC visibility push(hidden)

/* The ordinals (zircon/system/ulib/ldmsg/include/ldmsg/ldmsg.h, 2021). */
#define HK_LDMSG_OP_DONE ((uint64_t)0x63BA6B76D3671001ull)
#define HK_LDMSG_OP_LOAD_OBJECT ((uint64_t)0x48C5A151D6DF2853ull)
#define HK_LDMSG_OP_CONFIG ((uint64_t)0x6A8A1A1464632841ull)
#define HK_LDMSG_OP_CLONE ((uint64_t)0x57E643A9AB6E4C29ull)
/* <zircon/processargs.h> */
#define HK_PA_LDSVC_LOADER 0x10u

typedef struct hk_fx_loader hk_fx_loader_t;

/* A loader that looks library names up in dirs[0..n) (copied), in that order.  NULL: out of memory. */
hk_fx_loader_t *hk_fx_loader_new(const char *const *dirs, size_t n);

/* The loader for a program: the directory of its vDSO (an SDK's arch/x64/sysroot/lib, where libc.so and
 * libzircon.so are), the SDK's pkg/<name>/arch/x64/lib directories found four levels above it (libfdio.so, ...),
 * then the program's own directory.  NULL: out of memory. */
hk_fx_loader_t *hk_fx_loader_new_for(const char *vdso_path, const char *image_path);

/* Without the lock.  A new connection: a channel whose server end a host thread serves, its client end in *client
 * (a handle of the calling thread's table, with the default channel rights), for the program's processargs message
 * as PA_LDSVC_LOADER.  The connection ends when the client end is closed (the program's table closes when it dies),
 * at Done, at a malformed message (the server end is closed: the program sees PEER_CLOSED), or at
 * hk_fx_loader_free. */
zx_status_t hk_fx_loader_connect(hk_fx_loader_t *l, zx_handle_t *client);

/* Without the lock.  Every connection still served is closed and its thread joined; then l is freed. */
void hk_fx_loader_free(hk_fx_loader_t *l);

#pragma GCC visibility pop

#endif /* ZXPY_HOST_FUCHSIA_LOADER_H_ */
