/* zxpy rendition of <zircon/syscalls.h>: the Zircon system calls used by
 * zxpy (task control, handles, waiting, object info, task creation, time),
 * plus the channel and port calls the conformance scenarios use.
 *
 * Signatures follow the current Zircon declarations exactly (parameter
 * types, order and constness); see tests/data/zircon_abi.json "syscalls".
 * On Fuchsia these are provided by the vDSO (link stub libzircon.so); on
 * the host they are implemented by zxpy's host kernel (the C sources in host/).
 */
#ifndef ZXPY_ZIRCON_SYSCALLS_H_
#define ZXPY_ZIRCON_SYSCALLS_H_

#include <stddef.h>
#include <stdint.h>

#include <zircon/types.h>
#include <zircon/syscalls/exception.h>
#include <zircon/syscalls/object.h>
#include <zircon/syscalls/port.h>

#if defined(__GNUC__) || defined(__clang__)
#define ZXPY_SYSCALL_NORETURN_ __attribute__((__noreturn__))
#else
#define ZXPY_SYSCALL_NORETURN_
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---- tasks ----------------------------------------------------------- */
zx_status_t zx_task_kill(zx_handle_t handle);
zx_status_t zx_task_suspend(zx_handle_t handle, zx_handle_t* token);
zx_status_t zx_task_suspend_token(zx_handle_t handle, zx_handle_t* token);

zx_status_t zx_job_create(zx_handle_t parent_job, uint32_t options, zx_handle_t* out);
zx_status_t zx_job_set_critical(zx_handle_t job, uint32_t options, zx_handle_t process);

zx_status_t zx_process_create(zx_handle_t job, const char* name, size_t name_size,
                              uint32_t options, zx_handle_t* proc_handle,
                              zx_handle_t* vmar_handle);
zx_status_t zx_process_start(zx_handle_t handle, zx_handle_t thread, zx_vaddr_t entry,
                             zx_vaddr_t stack, zx_handle_t arg1, uintptr_t arg2);
ZXPY_SYSCALL_NORETURN_ void zx_process_exit(int64_t retcode);

zx_status_t zx_thread_create(zx_handle_t process, const char* name, size_t name_size,
                             uint32_t options, zx_handle_t* out);
zx_status_t zx_thread_start(zx_handle_t handle, zx_vaddr_t thread_entry,
                            zx_vaddr_t stack, uintptr_t arg1, uintptr_t arg2);
ZXPY_SYSCALL_NORETURN_ void zx_thread_exit(void);

/* ---- debugging: thread state and process memory (<zircon/syscalls/debug.h>) ---- */
zx_status_t zx_thread_read_state(zx_handle_t handle, uint32_t kind, void* buffer,
                                 size_t buffer_size);
zx_status_t zx_thread_write_state(zx_handle_t handle, uint32_t kind, const void* buffer,
                                  size_t buffer_size);
zx_status_t zx_process_read_memory(zx_handle_t handle, zx_vaddr_t vaddr, void* buffer,
                                   size_t buffer_size, size_t* actual);
zx_status_t zx_process_write_memory(zx_handle_t handle, zx_vaddr_t vaddr, const void* buffer,
                                    size_t buffer_size, size_t* actual);

/* ---- handles --------------------------------------------------------- */
zx_status_t zx_handle_close(zx_handle_t handle);
zx_status_t zx_handle_close_many(const zx_handle_t* handles, size_t num_handles);
zx_status_t zx_handle_duplicate(zx_handle_t handle, zx_rights_t rights, zx_handle_t* out);
zx_status_t zx_handle_replace(zx_handle_t handle, zx_rights_t rights, zx_handle_t* out);
zx_status_t zx_handle_check_valid(zx_handle_t handle);

/* ---- objects --------------------------------------------------------- */
zx_status_t zx_object_wait_one(zx_handle_t handle, zx_signals_t signals,
                               zx_instant_mono_t deadline, zx_signals_t* observed);
zx_status_t zx_object_wait_many(zx_wait_item_t* items, size_t num_items,
                                zx_instant_mono_t deadline);
zx_status_t zx_object_signal(zx_handle_t handle, uint32_t clear_mask, uint32_t set_mask);
zx_status_t zx_object_get_info(zx_handle_t handle, uint32_t topic, void* buffer,
                               size_t buffer_size, size_t* actual, size_t* avail);
zx_status_t zx_object_get_property(zx_handle_t handle, uint32_t property, void* value,
                                   size_t value_size);
zx_status_t zx_object_set_property(zx_handle_t handle, uint32_t property, const void* value,
                                   size_t value_size);
zx_status_t zx_object_get_child(zx_handle_t handle, uint64_t koid, zx_rights_t rights,
                                zx_handle_t* out);

zx_status_t zx_event_create(uint32_t options, zx_handle_t* out);

/* ---- channels and ports ---------------------------------------------- */
zx_status_t zx_channel_create(uint32_t options, zx_handle_t* out0, zx_handle_t* out1);
zx_status_t zx_channel_read(zx_handle_t handle, uint32_t options, void* bytes,
                            zx_handle_t* handles, uint32_t num_bytes, uint32_t num_handles,
                            uint32_t* actual_bytes, uint32_t* actual_handles);
zx_status_t zx_channel_write(zx_handle_t handle, uint32_t options, const void* bytes,
                             uint32_t num_bytes, const zx_handle_t* handles,
                             uint32_t num_handles);
zx_status_t zx_channel_call(zx_handle_t handle, uint32_t options, zx_instant_mono_t deadline,
                            const zx_channel_call_args_t* args, uint32_t* actual_bytes,
                            uint32_t* actual_handles);

/* ---- exceptions ------------------------------------------------------ */
zx_status_t zx_task_create_exception_channel(zx_handle_t handle, uint32_t options, zx_handle_t* out);
zx_status_t zx_exception_get_thread(zx_handle_t handle, zx_handle_t* out);
zx_status_t zx_exception_get_process(zx_handle_t handle, zx_handle_t* out);

zx_status_t zx_port_create(uint32_t options, zx_handle_t* out);
zx_status_t zx_port_queue(zx_handle_t handle, const zx_port_packet_t* packet);
zx_status_t zx_port_wait(zx_handle_t handle, zx_instant_mono_t deadline, zx_port_packet_t* packet);
zx_status_t zx_port_cancel(zx_handle_t handle, zx_handle_t source, uint64_t key);
zx_status_t zx_object_wait_async(zx_handle_t handle, zx_handle_t port, uint64_t key, zx_signals_t signals,
                                 uint32_t options);

/* ---- time ------------------------------------------------------------ */
zx_instant_mono_t zx_clock_get_monotonic(void);
zx_instant_boot_t zx_clock_get_boot(void);
zx_instant_mono_t zx_deadline_after(zx_duration_mono_t nanoseconds);
zx_status_t zx_nanosleep(zx_instant_mono_t deadline);
zx_instant_mono_ticks_t zx_ticks_get(void);
zx_ticks_t zx_ticks_per_second(void);

#ifdef __cplusplus
}
#endif

#undef ZXPY_SYSCALL_NORETURN_

#endif /* ZXPY_ZIRCON_SYSCALLS_H_ */
