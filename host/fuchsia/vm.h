/* VMOs for Fuchsia programs on the host kernel (docs/fuchsia-elf.md, "VMOs"): kernel objects of the host kernel
 * backed by memfds, served to a running Fuchsia program by the runner (runner.c syscall_stop).
 *
 * Served now: vmo_create, vmo_read, vmo_write, vmo_get_size, vmo_set_size, with Zircon's checks in Zircon's order
 * (zircon/kernel/lib/syscalls/vmo.cc, zircon/kernel/object/vm_object_dispatcher.cc); vmar_map and vmar_unmap on the
 * program's root VMAR (zircon/kernel/lib/syscalls/vmar.cc), the memfd mapped MAP_SHARED into the program by Linux
 * calls run in it (inject.h).
 *
 * Monitor thread; x86-64; not in the Python module. */
#ifndef ZXPY_HOST_FUCHSIA_VM_H_
#define ZXPY_HOST_FUCHSIA_VM_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <zircon/types.h>

/* A program's VM state.  The handles its calls make live in its own handle table (the table current on the serving
 * thread: hk_cpu.table, serve.h), so it can close, duplicate and transfer them with the served object-model calls,
 * and they go with its table when it dies. */
typedef struct hk_fuchsia_vm {
    struct hk_vmar *root; /* lock; the root VMAR object, once a handle to it was made */
} hk_fuchsia_vm_t;

/* Serve syscall `name` (without "zx_") with arguments a[0..7] for the task tid of the program whose state is vm, if
 * it is one of the calls above: true and its status in *ret; false if it is none of them.  The task is in the
 * syscall's SYSEMU entry stop: site is the address of its `syscall` instruction and sp its stack pointer (the
 * injection primitive runs Linux calls there, with scratch memory below the red zone).  A signal whose delivery
 * stop came meanwhile is left in *pending_signal (else 0), to be delivered when the task goes on. */
bool hk_fuchsia_vm_serve(hk_fuchsia_vm_t *vm, const char *name, pid_t tid, uint64_t site, uint64_t sp,
                         const uint64_t a[8], int64_t *ret, int *pending_signal);

/* A range of a VMAR the launcher mapped, with the ZX_VM_PERM_* bits it may take (hk_fuchsia_vm_loaded_vmar_locked). */
typedef struct hk_fuchsia_vm_range {
    uint64_t lo, hi;
    uint32_t perms;
} hk_fuchsia_vm_range_t;

/* Lock held.  A sub-VMAR of the program's root VMAR over [addr, addr + size), which the runner already reserved and
 * mapped (maps[]: the start image's segments), with CAN_MAP_READ, _WRITE, _EXECUTE and _SPECIFIC, and a handle to it
 * in the current table with the rights such a VMAR's handle has: what Fuchsia's launcher passes the dynamic linker
 * as PA_VMAR_LOADED (the VMAR it loaded ld.so.1 into; ld.so applies its RELRO protection through it). */
zx_status_t hk_fuchsia_vm_loaded_vmar_locked(hk_fuchsia_vm_t *vm, uint64_t addr, uint64_t size,
                                             const hk_fuchsia_vm_range_t *maps, size_t num_maps, uint32_t *out);

/* Without the lock.  A new VMO holding a copy of data[0..len) (its size rounded up to a page), named `name`, and a
 * handle to it with `rights` in the current table: the launcher's VMO of an executable (PA_VMO_EXECUTABLE). */
zx_status_t hk_fuchsia_vm_vmo_from_bytes(const void *data, size_t len, const char *name, zx_rights_t rights,
                                         zx_handle_t *out);

/* Without the lock.  The VMO of handle h (current table), which needs `rights`: a duplicate (close-on-exec) of the
 * memfd it lives in, in *fd (the caller closes it; /proc/self/fd/N names the VMO's bytes, its size rounded to a
 * page), for the launcher, which gets an executable as a VMO (fuchsia.process.Launcher, launcher.h).  As
 * zx_object_get_info for the handle (BAD_HANDLE, WRONG_TYPE also for a VMO of no program, ACCESS_DENIED);
 * NO_RESOURCES when no fd is left. */
zx_status_t hk_fuchsia_vm_vmo_fd(zx_handle_t h, zx_rights_t rights, int *fd);

/* Is obj a VMO of this file?  Lock held: get (set false) or set (true) its ZX_PROP_NAME (VmObject::get_name /
 * set_name: ZX_MAX_NAME_LEN bytes, NUL-terminated). */
struct hk_object;
bool hk_fuchsia_vm_is_vmo(const struct hk_object *obj);
void hk_fuchsia_vm_vmo_name_locked(struct hk_object *obj, char name[ZX_MAX_NAME_LEN], bool set);

/* Lock held.  A new handle to the program's root VMAR in the current table (hk_cpu.table), with the rights
 * zx_process_create gives the root VMAR handle it returns and the launcher passes on as PA_VMAR_ROOT: the VMAR
 * defaults and READ, WRITE, EXECUTE (zircon/kernel/object/vm_address_region_dispatcher.cc Create). */
zx_status_t hk_fuchsia_vm_root_vmar_locked(hk_fuchsia_vm_t *vm, uint32_t *out);

/* The program is over (its table already closed): its root VMAR is now a VMAR of no program (BAD_STATE through any
 * handle still held elsewhere). */
void hk_fuchsia_vm_release(hk_fuchsia_vm_t *vm);

#endif /* ZXPY_HOST_FUCHSIA_VM_H_ */
