/* VMOs for Fuchsia programs on the host kernel (docs/fuchsia-elf.md, "VMOs"): kernel objects of the host kernel
 * backed by memfds, served to a running Fuchsia program by the runner (runner.c syscall_stop).
 *
 * Served now: vmo_create, vmo_read, vmo_write, vmo_get_size, vmo_set_size, with Zircon's checks in Zircon's order
 * (zircon/kernel/lib/syscalls/vmo.cc, zircon/kernel/object/vm_object_dispatcher.cc).  Mapping a VMO into the
 * program (vmar_map through the injection primitive, inject.h) is the next step.
 *
 * Monitor thread; x86-64; not in the Python module. */
#ifndef ZXPY_HOST_FUCHSIA_VM_H_
#define ZXPY_HOST_FUCHSIA_VM_H_

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* A program's VM state: the handles its vmo_create calls made.  Until Fuchsia programs have handle tables of their
 * own they live in the host kernel's one table, and hk_fuchsia_vm_release closes them when the program is over. */
typedef struct hk_fuchsia_vm {
    uint32_t *handles;
    size_t count, cap;
} hk_fuchsia_vm_t;

/* Serve syscall `name` (without "zx_") with arguments a[0..7] for the task tid of the program whose state is vm, if
 * it is one of the calls above: true and its status in *ret; false if it is none of them. */
bool hk_fuchsia_vm_serve(hk_fuchsia_vm_t *vm, const char *name, pid_t tid, const uint64_t a[8], int64_t *ret);

/* The program is over: close the handles it made (a value closed meanwhile is stale, and skipped). */
void hk_fuchsia_vm_release(hk_fuchsia_vm_t *vm);

#endif /* ZXPY_HOST_FUCHSIA_VM_H_ */
