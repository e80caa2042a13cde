/* fuchsia.process.Launcher for Fuchsia programs, served from the host (host/fuchsia/launcher.c; see
 * docs/fuchsia-elf.md, "fuchsia.process.Launcher").
 *
 * fdio_spawn (2021 libfdio) connects to /svc/fuchsia.process.Launcher, sends AddArgs, AddEnvirons, AddNames and
 * AddHandles, then Launch(LaunchInfo{executable VMO, job, name}) -> (status, process?).  Each connection is a
 * host-kernel channel whose server end one host thread serves, as loader.h's connections are; Launch starts the
 * executable with the runner (runner.h) in the given job, with the vDSO (and, for a PT_INTERP ld.so.1 executable,
 * the dynamic linker) of the launcher's context: the files the launching program itself was started with.
 *
 * The protocol is the January 2021 SDK's (sdk/fidl/fuchsia.process/launcher.fidl) in FIDL wire format v1.
 *
 * Private to host/fuchsia/ (x86-64 Linux only).
 */
#ifndef ZXPY_HOST_FUCHSIA_LAUNCHER_H_
#define ZXPY_HOST_FUCHSIA_LAUNCHER_H_

#include <stdint.h>
#include <zircon/types.h>

#pragma GCC visibility push(hidden)

/* The protocol's name in a namespace's /svc directory ([Discoverable]). */
#define HK_FX_LAUNCHER_NAME "fuchsia.process.Launcher"

/* The ordinals: the first 8 bytes (little-endian) of SHA-256("fuchsia.process/Launcher.<Method>") with the top bit
 * cleared (FIDL's method hashing; tests/test_fuchsia_launcher.py computes them, and all but CreateWithoutStarting,
 * which fdio does not send, occur in the 2021 SDK's libfdio.so). */
#define HK_FX_LAUNCHER_LAUNCH ((uint64_t)0x11335a9928afbfa4ull)
#define HK_FX_LAUNCHER_CREATE_WITHOUT_STARTING ((uint64_t)0x755f8263fe51cb61ull)
#define HK_FX_LAUNCHER_ADD_ARGS ((uint64_t)0x3be445d3e4fd6512ull)
#define HK_FX_LAUNCHER_ADD_ENVIRONS ((uint64_t)0x73a3c97fa7fe1779ull)
#define HK_FX_LAUNCHER_ADD_NAMES ((uint64_t)0x2579ee2c7be28662ull)
#define HK_FX_LAUNCHER_ADD_HANDLES ((uint64_t)0x51025267a537a615ull)

typedef struct hk_fx_launcher hk_fx_launcher_t;

/* A launcher context: what a Launch starts programs with.  vdso_path is the vDSO every launched program gets;
 * ldso_path (may be NULL: then a PT_INTERP executable is ZX_ERR_NOT_SUPPORTED) the dynamic linker that starts a
 * PT_INTERP ld.so.1 executable.  Make one per spawned program, with the files it was started with, and pass it as
 * the ctx of hk_fx_launcher_connect.  Both strings are copied.  NULL: out of memory.  Referenced once: the
 * caller's reference, dropped by hk_fx_launcher_release. */
hk_fx_launcher_t *hk_fx_launcher_new(const char *vdso_path, const char *ldso_path);

/* Without the lock; the connector of a /svc directory: void (*)(void *ctx, const char *name, zx_handle_t).
 * server_end (a channel handle of the calling thread's table, taken whatever happens) becomes a connection to the
 * launcher ctx (an hk_fx_launcher_t) when name is HK_FX_LAUNCHER_NAME; any other name, a NULL ctx, no memory or
 * no thread: it is closed (the client sees PEER_CLOSED).  A connection holds a reference to its context and is
 * served until its client end is closed or a malformed message arrives (the server end is closed); a Launch in
 * progress then still completes. */
void hk_fx_launcher_connect(void *ctx, const char *name, zx_handle_t server_end);

/* Drop the creator's reference; the context goes when its last connection ends.  NULL is fine.  Never blocks:
 * callable from the monitor thread (a connection may be in a Launch, which waits for the monitor). */
void hk_fx_launcher_release(hk_fx_launcher_t *l);

/* The context for (vdso_path, ldso_path) that lives as long as the host program: one per distinct pair, made on
 * first use (a service directory's connector context must outlive every connection to the directory, and the
 * directory has no hook to release it: fileserver.h hk_fx_svc_dir_connect).  NULL: out of memory. */
hk_fx_launcher_t *hk_fx_launcher_shared(const char *vdso_path, const char *ldso_path);

/* Without the lock.  A service directory (fileserver.h) holding fuchsia.process.Launcher, served by
 * hk_fx_launcher_shared(vdso_path, ldso_path): its client end in *client (the calling thread's table), for a program's
 * namespace as "/svc" (PA_HND(PA_NS_DIR, i)); fdio_spawn finds the launcher there.  As hk_fx_svc_dir_connect, and
 * NO_MEMORY. */
zx_status_t hk_fx_launcher_svc_connect(const char *vdso_path, const char *ldso_path, zx_handle_t *client);

#pragma GCC visibility pop

#endif /* ZXPY_HOST_FUCHSIA_LAUNCHER_H_ */
