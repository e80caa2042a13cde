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

/* Without the lock.  A new VMO holding a copy of data[0..len) (its size rounded up to a page), named `name`, and a
 * handle to it with `rights` in the current table: what the loader service answers LoadObject with. */
zx_status_t hk_fuchsia_vm_vmo_from_bytes(const void *data, size_t len, const char *name, zx_rights_t rights,
                                         zx_handle_t *out);

/* Lock held.  A new handle to the program's root VMAR in the current table (hk_cpu.table), with the rights
 * zx_process_create gives the root VMAR handle it returns and the launcher passes on as PA_VMAR_ROOT: the VMAR
 * defaults and READ, WRITE, EXECUTE (zircon/kernel/object/vm_address_region_dispatcher.cc Create). */
zx_status_t hk_fuchsia_vm_root_vmar_locked(hk_fuchsia_vm_t *vm, uint32_t *out);

/* The program is over (its table already closed): its root VMAR is now a VMAR of no program (BAD_STATE through any
 * handle still held elsewhere). */
void hk_fuchsia_vm_release(hk_fuchsia_vm_t *vm);

#endif /* ZXPY_HOST_FUCHSIA_VM_H_ */
