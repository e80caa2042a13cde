#define _GNU_SOURCE /* process_vm_readv / writev */
/* The object-model syscalls of a Fuchsia program, served from the host kernel: see serve.h and docs/fuchsia-elf.md.
 *
 * Every call is served by the host kernel's own zx_* function with the program's handle table and calling thread
 * current (hk_cpu.table / hk_cpu.thread), so each Zircon rule and check order the host kernel keeps for the host
 * program holds for the Fuchsia program unchanged (zircon/kernel/lib/syscalls/{handle_ops,object,object_wait,
 * channel,event,task}.cc).  What this file adds is Zircon's user copy: arguments are read from the tracee and
 * results written back with process_vm_readv / process_vm_writev, after the host call, in the order the syscall
 * copies them out; a user pointer that cannot be read or written gives ZX_ERR_INVALID_ARGS (user_copy's status), and
 * a handle made by a call whose out-pointer is bad is closed again (as Zircon's user_out_handle never installs it).
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <zircon/syscalls/port.h> /* zx_port_packet_t: not in <zircon/syscalls.h> of every vintage */

#include "loader.h"
#include "serve.h"

/* <zircon/processargs.h> (2021 SDK: arch/x64/sysroot/include/zircon/processargs.h): the message header and the
 * handle tags.  Not in zxpy's own headers (host/include), so restated here. */
#define PA_PROTOCOL 0x4150585du /* ZX_PROCARGS_PROTOCOL */
#define PA_VERSION 0x0001000u   /* ZX_PROCARGS_VERSION */
#define PA_PROC_SELF 0x01u
#define PA_THREAD_SELF 0x02u
#define PA_JOB_DEFAULT 0x03u
#define PA_VMAR_ROOT 0x04u
#define PA_VMAR_LOADED 0x05u
#define PA_LDSVC_LOADER 0x10u
#define PA_VMO_EXECUTABLE 0x14u
#define PA_NS_DIR 0x20u
#define PA_TYPE(info) ((info)&0xFFu) /* PA_HND_TYPE */
typedef struct {
    uint32_t protocol, version;
    uint32_t handle_info_off;
    uint32_t args_off, args_num;
    uint32_t environ_off, environ_num;
    uint32_t names_off, names_num;
} pa_header_t; /* zx_proc_args_t: 36 bytes */
_Static_assert(sizeof(pa_header_t) == 36, "zx_proc_args_t is 36 bytes");

#define MAX_BOOT_HANDLES 19       /* the job, 15 of the spawner's, 3 for stdio (PROC/THREAD_SELF, VMAR_ROOT made at the write) */
#define MADE_AT_WRITE 3           /* PA_PROC_SELF, PA_THREAD_SELF, PA_VMAR_ROOT */
#define CLOSE_MANY_CHUNK 64u      /* kMaxMessageHandles: HandleTable::RemoveHandles copies in chunks of it */
#define MAX_INFO_BUFFER (1u << 20) /* the largest zx_object_get_info buffer copied through (answers are far smaller) */
#define MAX_PROPERTY 4096u
#define MAX_CALL_WORKERS 8u        /* zx_channel_call in progress at once per program (ours) */
#define MAX_BLOCK_WORKERS 16u      /* zx_object_wait_one / zx_port_wait blocked at once per program (ours) */

struct hk_fx_serve {
    hk_process_t *p;          /* a reference, once attached */
    hk_handle_table_t *table; /* p's table (p owns it) */
    int64_t (*now)(void);     /* the program's monotonic clock */
    hk_fuchsia_vm_t vm;       /* its VMOs and root VMAR (vm.c) */
    /* The bootstrap, until it is written (at the first call served): handles of the host table. */
    bool boot_pending;
    zx_handle_t boot_channel; /* the spawner's end */
    zx_handle_t boot_program_end;
    zx_handle_t boot_handles[MAX_BOOT_HANDLES];
    uint32_t boot_infos[MAX_BOOT_HANDLES];
    size_t boot_num;          /* in boot_handles: the job and the spawner's; PROC/THREAD_SELF are made at the write */
    uint8_t *boot_msg;
    uint32_t boot_len;
    /* The dynamic linker's message, sent before boot_msg when the start image is ld.so.1 (hk_fx_serve_dynamic):
     * handles of the host table until it is sent, and the loaded VMAR's range (hk_fx_serve_loaded). */
    bool dyn;
    zx_handle_t dyn_exec_vmo;
    zx_handle_t dyn_loader;
    uint64_t loaded_base, loaded_size;
    hk_fuchsia_vm_range_t loaded_maps[HK_FX_MAX_LOADED];
    size_t loaded_num;
    /* Blocking waits (wait_one, port_wait) in progress, each on a worker of its own. */
    struct block_worker *blocks[MAX_BLOCK_WORKERS];
    /* zx_channel_call: workers of their own, one per calling thread (a program's threads may each be in one). */
    struct call_worker *calls[MAX_CALL_WORKERS];
    hk_fx_loader_t *loader; /* its fuchsia.ldsvc.Loader (loader.h), or NULL */
};

/* ------------------------------------------------------------------------------------------------ user copy */

static bool copy_in(pid_t tid, void *dst, uint64_t src, size_t len) {
    if (len == 0) return true;
    struct iovec local = {dst, len}, remote = {(void *)(uintptr_t)src, len};
    return process_vm_readv(tid, &local, 1, &remote, 1, 0) == (ssize_t)len;
}

static bool copy_out(pid_t tid, uint64_t dst, const void *src, size_t len) {
    if (len == 0) return true;
    struct iovec local = {(void *)src, len}, remote = {(void *)(uintptr_t)dst, len};
    return process_vm_writev(tid, &local, 1, &remote, 1, 0) == (ssize_t)len;
}

/* ------------------------------------------------------------------------------------------------ current table */

typedef struct {
    hk_handle_table_t *table;
    hk_thread_t *thread;
    bool serving;
} cpu_save_t;

/* Act as the program's thread t, in its table, on this OS thread. */
static void enter(const hk_fx_serve_t *s, hk_thread_t *t, bool serving, cpu_save_t *save) {
    save->table = hk_cpu.table;
    save->thread = hk_cpu.thread;
    save->serving = hk_cpu.serving;
    hk_cpu.table = s->table;
    hk_cpu.thread = t;
    hk_cpu.serving = serving;
}

static void leave(const cpu_save_t *save) {
    hk_cpu.table = save->table;
    hk_cpu.thread = save->thread;
    hk_cpu.serving = save->serving;
}

/* ------------------------------------------------------------------------------------------------ the calls */

typedef struct {
    hk_fx_serve_t *s;
    lt_task_t *k;
    pid_t tid;
    const struct user_regs_struct *r;
    const char *name;
    uint64_t a[8];
    bool held; /* the call goes on on the worker */
} call_t;

#define H(i) ((zx_handle_t)c->a[i])
#define U32(i) ((uint32_t)c->a[i])

/* A handle made by the call goes out through a user pointer; if that fails, it is closed again. */
static zx_status_t handle_out(call_t *c, uint64_t ptr, zx_status_t status, zx_handle_t h) {
    if (status != ZX_OK) return status;
    if (copy_out(c->tid, ptr, &h, sizeof h)) return ZX_OK;
    zx_handle_close(h);
    return ZX_ERR_INVALID_ARGS;
}

static zx_status_t sv_handle_close(call_t *c) { return zx_handle_close(H(0)); }

/* sys_handle_close_many -> RemoveUserHandles (zircon/kernel/object/include/object/user_handles.h): the values are
 * read in chunks of kMaxMessageHandles and each chunk closed (HandleTable::RemoveHandles: every good value closed, a
 * bad one makes the chunk BAD_HANDLE); a chunk that cannot be read stops the call with the copy's status
 * (INVALID_ARGS), the chunks before it closed; otherwise the result is the *last* chunk's status, as there. */
static zx_status_t sv_handle_close_many(call_t *c) {
    uint64_t ptr = c->a[0], n = c->a[1];
    zx_status_t status = ZX_OK;
    for (uint64_t off = 0; off < n; off += CLOSE_MANY_CHUNK) {
        zx_handle_t chunk[CLOSE_MANY_CHUNK];
        uint64_t len = n - off < CLOSE_MANY_CHUNK ? n - off : CLOSE_MANY_CHUNK;
        if (ptr == 0 || !copy_in(c->tid, chunk, ptr + off * sizeof(zx_handle_t), len * sizeof(zx_handle_t)))
            return ZX_ERR_INVALID_ARGS;
        status = zx_handle_close_many(chunk, (size_t)len);
    }
    return status;
}

static zx_status_t sv_handle_duplicate(call_t *c) {
    zx_handle_t out = ZX_HANDLE_INVALID;
    zx_status_t st = zx_handle_duplicate(H(0), U32(1), c->a[2] ? &out : NULL);
    return handle_out(c, c->a[2], st, out);
}

static zx_status_t sv_handle_replace(call_t *c) {
    zx_handle_t out = ZX_HANDLE_INVALID;
    zx_status_t st = zx_handle_replace(H(0), U32(1), c->a[2] ? &out : NULL);
    return handle_out(c, c->a[2], st, out);
}

/* An in-out buffer.  The tracee's bytes are read first (as far as they can be), and after the host call only the
 * prefix up to the last byte the call changed is written back: Zircon copies out exactly what the call produces,
 * so a buffer larger than the memory behind it succeeds as long as the answer fits in that memory. */
typedef struct {
    uint64_t ptr;
    size_t len;
    uint8_t *buf;  /* NULL when ptr is 0 */
    uint8_t *orig; /* what was read (zeros past the readable part) */
} inout_t;

/* Read as much of [src, src + len) as is readable, from the start; the bytes read. */
static size_t copy_in_prefix(pid_t tid, uint8_t *dst, uint64_t src, size_t len) {
    size_t done = 0;
    while (done < len) {
        struct iovec local = {dst + done, len - done}, remote = {(void *)(uintptr_t)(src + done), len - done};
        ssize_t n = process_vm_readv(tid, &local, 1, &remote, 1, 0);
        if (n <= 0) break;
        done += (size_t)n;
    }
    return done;
}

static zx_status_t inout_open(call_t *c, inout_t *io, uint64_t ptr, uint64_t len, size_t cap) {
    io->ptr = ptr;
    io->len = len < cap ? (size_t)len : cap;
    io->buf = io->orig = NULL;
    if (ptr == 0) return ZX_OK;
    io->buf = calloc(1, io->len ? io->len : 1);
    io->orig = calloc(1, io->len ? io->len : 1);
    if (io->buf == NULL || io->orig == NULL) {
        free(io->buf);
        free(io->orig);
        return ZX_ERR_NO_MEMORY;
    }
    copy_in_prefix(c->tid, io->buf, ptr, io->len);
    memcpy(io->orig, io->buf, io->len);
    return ZX_OK;
}

static bool inout_close(call_t *c, inout_t *io, bool write_back) {
    bool ok = true;
    if (write_back && io->ptr != 0) {
        size_t end = io->len;
        while (end > 0 && io->buf[end - 1] == io->orig[end - 1]) end--;
        ok = copy_out(c->tid, io->ptr, io->buf, end);
    }
    free(io->buf);
    free(io->orig);
    return ok;
}

#define SENTINEL ((size_t)-1)
#define INFO_PROCESS_V1 0x10000003u /* ZX_INFO_PROCESS version 1: return_code, start_time, flags */

/* sys_object_get_info: the records, then actual, then avail are copied out, each failure INVALID_ARGS. */
static zx_status_t sv_object_get_info(call_t *c) {
    inout_t io;
    zx_status_t st = inout_open(c, &io, c->a[2], c->a[3], MAX_INFO_BUFFER);
    if (st != ZX_OK) return st;
    size_t actual = SENTINEL, avail = SENTINEL;
    st = zx_object_get_info(H(0), U32(1), io.buf, io.ptr ? io.len : (size_t)c->a[3], c->a[4] ? &actual : NULL,
                            c->a[5] ? &avail : NULL);
    /* ZX_INFO_PROCESS v1's start_time is a time on the monotonic clock: the program's, not the host kernel's.  The
     * TSC read at the start gives it exactly as the program's own clock would have read it then (ticks * num / den),
     * the same on every call. */
    int64_t start_time;
    if (st == ZX_OK && U32(1) == INFO_PROCESS_V1 && io.buf != NULL && io.len >= 16) {
        memcpy(&start_time, io.buf + 8, sizeof start_time);
        hk_object_t *obj;
        hk_lock();
        if (start_time != 0 && hk_handle_get(H(0), ZX_OBJ_TYPE_PROCESS, ZX_RIGHT_NONE, &obj, NULL) == ZX_OK)
            start_time = hk_fx_program_time_of_ticks(HK_CONTAINER_OF(obj, hk_process_t, base)->start_ticks);
        hk_unlock();
        memcpy(io.buf + 8, &start_time, sizeof start_time);
    }
    if (!inout_close(c, &io, st == ZX_OK) && st == ZX_OK) return ZX_ERR_INVALID_ARGS;
    if (c->a[4] && actual != SENTINEL && !copy_out(c->tid, c->a[4], &actual, sizeof actual)) return ZX_ERR_INVALID_ARGS;
    if (c->a[5] && avail != SENTINEL && !copy_out(c->tid, c->a[5], &avail, sizeof avail)) return ZX_ERR_INVALID_ARGS;
    return st;
}

/* ZX_PROP_NAME of a VMO (vm.c; the host kernel's property.c knows the names of tasks only), in
 * sys_object_get_property / sys_object_set_property's order: a NULL value INVALID_ARGS, the handle with
 * GET_PROPERTY / SET_PROPERTY, then for a get a buffer below ZX_MAX_NAME_LEN BUFFER_TOO_SMALL, the value copied
 * (INVALID_ARGS); a set takes at most ZX_MAX_NAME_LEN - 1 bytes (VmObject::set_name).  false: not a VMO's name. */
static bool vmo_name(call_t *c, bool set, zx_status_t *st) {
    if (U32(1) != ZX_PROP_NAME || c->a[2] == 0) return false;
    hk_object_t *obj;
    char name[ZX_MAX_NAME_LEN] = {0};
    hk_lock();
    *st = hk_handle_get(H(0), ZX_OBJ_TYPE_NONE, set ? ZX_RIGHT_SET_PROPERTY : ZX_RIGHT_GET_PROPERTY, &obj, NULL);
    bool vmo = *st == ZX_OK && hk_fuchsia_vm_is_vmo(obj);
    if (vmo && !set) {
        if (c->a[3] < ZX_MAX_NAME_LEN) *st = ZX_ERR_BUFFER_TOO_SMALL;
        else hk_fuchsia_vm_vmo_name_locked(obj, name, false);
    }
    hk_unlock();
    if (!vmo) return false;
    if (*st != ZX_OK) return true;
    if (!set) {
        if (!copy_out(c->tid, c->a[2], name, ZX_MAX_NAME_LEN)) *st = ZX_ERR_INVALID_ARGS;
        return true;
    }
    size_t n = c->a[3] < ZX_MAX_NAME_LEN ? (size_t)c->a[3] : ZX_MAX_NAME_LEN - 1;
    if (!copy_in(c->tid, name, c->a[2], n)) {
        *st = ZX_ERR_INVALID_ARGS;
        return true;
    }
    hk_lock();
    *st = hk_handle_get(H(0), ZX_OBJ_TYPE_NONE, ZX_RIGHT_SET_PROPERTY, &obj, NULL);
    if (*st == ZX_OK && hk_fuchsia_vm_is_vmo(obj)) hk_fuchsia_vm_vmo_name_locked(obj, name, true);
    hk_unlock();
    return true;
}

static zx_status_t sv_object_get_property(call_t *c) {
    zx_status_t named;
    if (vmo_name(c, false, &named)) return named;
    inout_t io;
    zx_status_t st = inout_open(c, &io, c->a[2], c->a[3], MAX_PROPERTY);
    if (st != ZX_OK) return st;
    st = zx_object_get_property(H(0), U32(1), io.buf, io.ptr ? io.len : (size_t)c->a[3]);
    if (!inout_close(c, &io, st == ZX_OK) && st == ZX_OK) return ZX_ERR_INVALID_ARGS;
    return st;
}

/* sys_object_set_property: the handle (SET_PROPERTY) is looked up before the value is copied in. */
static zx_status_t sv_object_set_property(call_t *c) {
    zx_status_t named;
    if (vmo_name(c, true, &named)) return named;
    if (c->a[2] == 0) return zx_object_set_property(H(0), U32(1), NULL, (size_t)c->a[3]);
    /* Every property's value is read from the program (a name up to 31 bytes; the others are at most 8). */
    char value[ZX_MAX_NAME_LEN] = {0};
    size_t n = c->a[3] < ZX_MAX_NAME_LEN ? (size_t)c->a[3] : ZX_MAX_NAME_LEN - 1;
    if (!copy_in(c->tid, value, c->a[2], n)) {
        hk_object_t *obj;
        hk_lock();
        zx_status_t st = hk_handle_get(H(0), ZX_OBJ_TYPE_NONE, ZX_RIGHT_SET_PROPERTY, &obj, NULL);
        hk_unlock();
        return st != ZX_OK ? st : ZX_ERR_INVALID_ARGS;
    }
    return zx_object_set_property(H(0), U32(1), value, (size_t)c->a[3]);
}

static zx_status_t sv_object_signal(call_t *c) { return zx_object_signal(H(0), U32(1), U32(2)); }

static zx_status_t sv_object_get_child(call_t *c) {
    zx_handle_t out = ZX_HANDLE_INVALID;
    zx_status_t st = zx_object_get_child(H(0), c->a[1], U32(2), c->a[3] ? &out : NULL);
    return handle_out(c, c->a[3], st, out);
}

static zx_status_t sv_task_kill(call_t *c) { return zx_task_kill(H(0)); }

static zx_status_t sv_task_suspend(call_t *c) {
    zx_handle_t out = ZX_HANDLE_INVALID;
    zx_status_t st = zx_task_suspend(H(0), c->a[1] ? &out : NULL);
    return handle_out(c, c->a[1], st, out);
}

/* A name argument as copy_user_string reads it (zircon/kernel/lib/syscalls/priv.h): NULL stays NULL (the host call
 * makes it INVALID_ARGS), at most ZX_MAX_NAME_LEN - 1 bytes are kept; false: the bytes cannot be read. */
static bool name_in(call_t *c, uint64_t ptr, uint64_t size, char out[ZX_MAX_NAME_LEN], const char **name) {
    memset(out, 0, ZX_MAX_NAME_LEN);
    *name = NULL;
    if (ptr == 0) return true;
    size_t n = size < ZX_MAX_NAME_LEN - 1 ? (size_t)size : ZX_MAX_NAME_LEN - 1;
    if (!copy_in(c->tid, out, ptr, n)) return false;
    *name = out;
    return true;
}

/* sys_job_create (zircon/kernel/lib/syscalls/task.cc): options, the parent (JOB, MANAGE_JOB), its height and state;
 * the host kernel's zx_job_create makes them in that order, in the program's table. */
static zx_status_t sv_job_create(call_t *c) {
    zx_handle_t out = ZX_HANDLE_INVALID;
    zx_status_t st = zx_job_create(H(0), U32(1), c->a[2] ? &out : NULL);
    return handle_out(c, c->a[2], st, out);
}

/* sys_process_create: options, the name (copy_user_string), the job (JOB, MANAGE_PROCESS), its state, then both
 * handles written out (a fault: both closed, the process dies with its last handle).  The process is one the
 * program cannot start code in: the host kernel's unstarted process, as zx_process_create makes for the host program
 * (its address space is not a Linux one until a launcher starts a program in it). */
static zx_status_t sv_process_create(call_t *c) {
    char buf[ZX_MAX_NAME_LEN];
    const char *name;
    if (!name_in(c, c->a[1], c->a[2], buf, &name)) return ZX_ERR_INVALID_ARGS;
    zx_handle_t h[2] = {ZX_HANDLE_INVALID, ZX_HANDLE_INVALID};
    zx_status_t st = zx_process_create(H(0), name, name ? strlen(name) : 0, U32(3), c->a[4] ? &h[0] : NULL,
                                       c->a[5] ? &h[1] : NULL);
    if (st != ZX_OK) return st;
    if (copy_out(c->tid, c->a[4], &h[0], sizeof h[0]) && copy_out(c->tid, c->a[5], &h[1], sizeof h[1])) return ZX_OK;
    zx_handle_close_many(h, 2);
    return ZX_ERR_INVALID_ARGS;
}

static zx_status_t sv_event_create(call_t *c) {
    zx_handle_t out = ZX_HANDLE_INVALID;
    zx_status_t st = zx_event_create(U32(0), c->a[1] ? &out : NULL);
    return handle_out(c, c->a[1], st, out);
}

/* sys_channel_create: both handles go out (out0, then out1); if either copy fails, both are closed. */
static zx_status_t sv_channel_create(call_t *c) {
    zx_handle_t h[2] = {ZX_HANDLE_INVALID, ZX_HANDLE_INVALID};
    zx_status_t st = zx_channel_create(U32(0), c->a[1] ? &h[0] : NULL, c->a[2] ? &h[1] : NULL);
    if (st != ZX_OK) return st;
    if (copy_out(c->tid, c->a[1], &h[0], sizeof h[0]) && copy_out(c->tid, c->a[2], &h[1], sizeof h[1])) return ZX_OK;
    zx_handle_close_many(h, 2);
    return ZX_ERR_INVALID_ARGS;
}

/* sys_channel_read: actual_bytes, actual_handles (also for BUFFER_TOO_SMALL), then the bytes, then the handles; a copy
 * that fails after the message was taken loses it, and the handles it carried are closed. */
static zx_status_t sv_channel_read(call_t *c) {
    uint64_t ubytes = c->a[2], uhandles = c->a[3];
    uint32_t nb = U32(4) < ZX_CHANNEL_MAX_MSG_BYTES ? U32(4) : ZX_CHANNEL_MAX_MSG_BYTES;
    uint32_t nh = U32(5) < ZX_CHANNEL_MAX_MSG_HANDLES ? U32(5) : ZX_CHANNEL_MAX_MSG_HANDLES;
    uint8_t *bytes = ubytes ? malloc(nb ? nb : 1) : NULL;
    zx_handle_t handles[ZX_CHANNEL_MAX_MSG_HANDLES];
    if (ubytes && bytes == NULL) return ZX_ERR_NO_MEMORY;
    uint32_t ab = 0, ah = 0;
    zx_status_t st = zx_channel_read(H(0), U32(1), bytes, uhandles ? handles : NULL, ubytes ? nb : U32(4),
                                     uhandles ? nh : U32(5), &ab, &ah);
    if (st == ZX_OK || st == ZX_ERR_BUFFER_TOO_SMALL) {
        bool ok = (!c->a[6] || copy_out(c->tid, c->a[6], &ab, sizeof ab)) &&
                  (!c->a[7] || copy_out(c->tid, c->a[7], &ah, sizeof ah));
        if (st == ZX_OK)
            ok = ok && copy_out(c->tid, ubytes, bytes, ab) && copy_out(c->tid, uhandles, handles, ah * sizeof *handles);
        if (!ok) {
            if (st == ZX_OK && uhandles) zx_handle_close_many(handles, ah);
            st = ZX_ERR_INVALID_ARGS;
        }
    }
    free(bytes);
    return st;
}

/* sys_channel_write: the bytes are copied in when the message is made (after the handle lookup), the handle values
 * when they are moved; a copy that fails is INVALID_ARGS there, with the handles consumed as on any failure. */
static zx_status_t sv_channel_write(call_t *c) {
    uint64_t ubytes = c->a[2], uhandles = c->a[4];
    uint32_t nb = U32(3), nh = U32(5);
    uint8_t *bytes = NULL;
    zx_handle_t handles[ZX_CHANNEL_MAX_MSG_HANDLES];
    const zx_handle_t *hp = NULL;
    if (nb <= ZX_CHANNEL_MAX_MSG_BYTES && nb > 0 && ubytes) {
        bytes = malloc(nb);
        if (bytes == NULL) return ZX_ERR_NO_MEMORY;
        if (!copy_in(c->tid, bytes, ubytes, nb)) {
            free(bytes);
            bytes = NULL; /* msg_create: bytes NULL with a size is INVALID_ARGS */
        }
    }
    if (nh <= ZX_CHANNEL_MAX_MSG_HANDLES && nh > 0 && uhandles &&
        copy_in(c->tid, handles, uhandles, nh * sizeof *handles))
        hp = handles;
    zx_status_t st = zx_channel_write(H(0), U32(1), bytes, nb, hp, nh);
    free(bytes);
    return st;
}

/* ------------------------------------------------------------------------------------------------ debugging */

#define MAX_DEBUG_BLOCK ((size_t)64 * 1024 * 1024) /* kMaxDebugReadBlock / kMaxDebugWriteBlock */
#define MAX_STATE_BUFFER 4096u                     /* more than any zx_thread_state_* record */

static zx_status_t sv_job_set_critical(call_t *c) { return zx_job_set_critical(H(0), U32(1), H(2)); }

static zx_status_t sv_task_create_exception_channel(call_t *c) {
    zx_handle_t out = ZX_HANDLE_INVALID;
    zx_status_t st = zx_task_create_exception_channel(H(0), U32(1), c->a[2] ? &out : NULL);
    return handle_out(c, c->a[2], st, out);
}

static zx_status_t sv_exception_get_thread(call_t *c) {
    zx_handle_t out = ZX_HANDLE_INVALID;
    zx_status_t st = zx_exception_get_thread(H(0), c->a[1] ? &out : NULL);
    return handle_out(c, c->a[1], st, out);
}

static zx_status_t sv_exception_get_process(call_t *c) {
    zx_handle_t out = ZX_HANDLE_INVALID;
    zx_status_t st = zx_exception_get_process(H(0), c->a[1] ? &out : NULL);
    return handle_out(c, c->a[1], st, out);
}

/* sys_thread_read_state (zircon/kernel/lib/syscalls/debug.cc): the host kernel's checks (handle, kind, size, the
 * thread's state) on a buffer of the program's; only the record the call writes goes back. */
static zx_status_t sv_thread_read_state(call_t *c) {
    inout_t io;
    zx_status_t st = inout_open(c, &io, c->a[2], c->a[3], MAX_STATE_BUFFER);
    if (st != ZX_OK) return st;
    st = zx_thread_read_state(H(0), U32(1), io.buf, (size_t)c->a[3]);
    if (!inout_close(c, &io, st == ZX_OK) && st == ZX_OK) return ZX_ERR_INVALID_ARGS;
    return st;
}

/* sys_thread_write_state: the record is read from the program (a fault: as a NULL buffer, INVALID_ARGS after the
 * handle, kind and size checks). */
static zx_status_t sv_thread_write_state(call_t *c) {
    uint8_t buf[MAX_STATE_BUFFER];
    size_t n = c->a[3] < sizeof buf ? (size_t)c->a[3] : sizeof buf;
    bool ok = c->a[2] != 0 && copy_in(c->tid, buf, c->a[2], n);
    return zx_thread_write_state(H(0), U32(1), ok ? buf : NULL, (size_t)c->a[3]);
}

/* sys_process_read_memory / write_memory (debug.cc): a NULL buffer, a size of 0 or above kMaxDebugReadBlock are
 * INVALID_ARGS before the handle; the bytes move through a host buffer; `actual` is written out last (a NULL one is
 * the host kernel's INVALID_ARGS, as user_out_ptr's copy fails). */
static zx_status_t sv_process_memory(call_t *c, bool write) {
    uint64_t ubuf = c->a[2], size = c->a[3];
    uint8_t *buf = ubuf != 0 && size > 0 && size <= MAX_DEBUG_BLOCK ? malloc((size_t)size) : NULL;
    if (ubuf != 0 && size > 0 && size <= MAX_DEBUG_BLOCK && buf == NULL) return ZX_ERR_NO_MEMORY;
    size_t actual = 0;
    zx_status_t st;
    if (write) {
        bool ok = buf != NULL && copy_in(c->tid, buf, ubuf, (size_t)size);
        st = zx_process_write_memory(H(0), c->a[1], ok || buf == NULL ? buf : NULL, (size_t)size,
                                     c->a[4] ? &actual : NULL);
    } else {
        st = zx_process_read_memory(H(0), c->a[1], ubuf ? buf : NULL, (size_t)size, c->a[4] ? &actual : NULL);
        if (st == ZX_OK && !copy_out(c->tid, ubuf, buf, actual)) st = ZX_ERR_INVALID_ARGS;
    }
    free(buf);
    if (st == ZX_OK && c->a[4] && !copy_out(c->tid, c->a[4], &actual, sizeof actual)) st = ZX_ERR_INVALID_ARGS;
    return st;
}

static zx_status_t sv_process_read_memory(call_t *c) { return sv_process_memory(c, false); }
static zx_status_t sv_process_write_memory(call_t *c) { return sv_process_memory(c, true); }

/* ------------------------------------------------------------------------------------------------ sockets */

/* sys_socket_create (zircon/kernel/lib/syscalls/socket.cc): the options, the pair, then both handles written out
 * (a fault: neither is installed, INVALID_ARGS). */
/* zx_handle_disposition_t (<zircon/types.h>, 2021): what zx_channel_write_etc / zx_channel_call_etc send. */
typedef struct {
    uint32_t operation; /* ZX_HANDLE_OP_MOVE 0, ZX_HANDLE_OP_DUPLICATE 1 */
    zx_handle_t handle;
    zx_obj_type_t type; /* ZX_OBJ_TYPE_NONE: any */
    zx_rights_t rights; /* ZX_RIGHT_SAME_RIGHTS: as they are */
    zx_status_t result;
} user_disposition_t;
_Static_assert(sizeof(user_disposition_t) == 20, "zx_handle_disposition_t is 20 bytes");
#define HANDLE_OP_MOVE 0u
#define HANDLE_OP_DUPLICATE 1u

/* The n dispositions at user address u as plain handles in out[] (of the program's table), each checked as the
 * kernel's msg_put_handles does (zircon/kernel/lib/syscalls/channel.cc, 2021): the operation (INVALID_ARGS), the
 * handle (BAD_HANDLE), its type against a type given (WRONG_TYPE), the rights asked for within its rights
 * (INVALID_ARGS), DUPLICATE or TRANSFER right for the operation (ACCESS_DENIED); a DUPLICATE is duplicated, a MOVE
 * with fewer rights replaced.  Each disposition's result is written back.  On failure every MOVE handle is closed
 * (consumed, as by a failed write) and the status returned.  The channel's own checks come after these here, where
 * the kernel makes them first: a write on a bad channel with a bad disposition reports the disposition's error. */
static zx_status_t dispositions_take(call_t *c, uint64_t u, uint32_t n, zx_handle_t out[ZX_CHANNEL_MAX_MSG_HANDLES]) {
    user_disposition_t d[ZX_CHANNEL_MAX_MSG_HANDLES];
    if (n > ZX_CHANNEL_MAX_MSG_HANDLES) return ZX_ERR_OUT_OF_RANGE;
    if (n > 0 && (u == 0 || !copy_in(c->tid, d, u, n * sizeof *d))) return ZX_ERR_INVALID_ARGS;
    zx_status_t st = ZX_OK;
    uint32_t made = 0;
    for (uint32_t i = 0; i < n; i++) {
        zx_info_handle_basic_t b;
        zx_status_t r = d[i].operation == HANDLE_OP_MOVE || d[i].operation == HANDLE_OP_DUPLICATE
                            ? zx_object_get_info(d[i].handle, ZX_INFO_HANDLE_BASIC, &b, sizeof b, NULL, NULL)
                            : ZX_ERR_INVALID_ARGS;
        if (r == ZX_OK && d[i].type != ZX_OBJ_TYPE_NONE && d[i].type != b.type) r = ZX_ERR_WRONG_TYPE;
        if (r == ZX_OK && d[i].rights != ZX_RIGHT_SAME_RIGHTS && (b.rights & d[i].rights) != d[i].rights)
            r = ZX_ERR_INVALID_ARGS;
        if (r == ZX_OK && !(b.rights & (d[i].operation == HANDLE_OP_DUPLICATE ? ZX_RIGHT_DUPLICATE : ZX_RIGHT_TRANSFER)))
            r = ZX_ERR_ACCESS_DENIED;
        if (r == ZX_OK && d[i].operation == HANDLE_OP_DUPLICATE) {
            r = zx_handle_duplicate(d[i].handle, d[i].rights, &out[i]);
        } else if (r == ZX_OK && d[i].rights != ZX_RIGHT_SAME_RIGHTS && d[i].rights != b.rights) {
            r = zx_handle_replace(d[i].handle, d[i].rights, &out[i]);
            if (r == ZX_OK) d[i].operation = HANDLE_OP_DUPLICATE; /* the original is gone; out[i] is the one */
        } else if (r == ZX_OK) {
            out[i] = d[i].handle;
        }
        d[i].result = r;
        if (r != ZX_OK) {
            st = r;
            break;
        }
        made = i + 1;
    }
    if (st != ZX_OK) {
        for (uint32_t i = 0; i < n; i++) {
            if (i < made) zx_handle_close(out[i]); /* duplicates and replacements made, and moved originals */
            else if (d[i].operation == HANDLE_OP_MOVE) zx_handle_close(d[i].handle);
        }
    }
    if (n > 0) (void)copy_out(c->tid, u, d, n * sizeof *d);
    return st;
}

/* sys_channel_write_etc: zx_channel_write with the handles given as dispositions (dispositions_take). */
static zx_status_t sv_channel_write_etc(call_t *c) {
    uint64_t ubytes = c->a[2];
    uint32_t nb = U32(3), nh = U32(5);
    if ((U32(1) & ~ZX_CHANNEL_WRITE_USE_IOVEC) != 0) return ZX_ERR_INVALID_ARGS;
    zx_handle_t handles[ZX_CHANNEL_MAX_MSG_HANDLES];
    zx_status_t st = dispositions_take(c, c->a[4], nh, handles);
    if (st != ZX_OK) return st;
    uint8_t *bytes = NULL;
    if (nb <= ZX_CHANNEL_MAX_MSG_BYTES && nb > 0 && ubytes) {
        bytes = malloc(nb);
        if (bytes != NULL && !copy_in(c->tid, bytes, ubytes, nb)) {
            free(bytes);
            bytes = NULL; /* msg_create: bytes NULL with a size is INVALID_ARGS */
        }
    }
    st = zx_channel_write(H(0), U32(1), bytes, nb, nh ? handles : NULL, nh);
    free(bytes);
    return st;
}

/* The received handles' zx_handle_info_t (type and rights of each, as channel_read_etc reports them). */
static void handle_infos(const zx_handle_t *handles, uint32_t n, zx_handle_info_t *infos) {
    for (uint32_t i = 0; i < n; i++) {
        zx_info_handle_basic_t b;
        memset(&b, 0, sizeof b);
        (void)zx_object_get_info(handles[i], ZX_INFO_HANDLE_BASIC, &b, sizeof b, NULL, NULL);
        infos[i] = (zx_handle_info_t){.handle = handles[i], .type = b.type, .rights = b.rights, .unused = 0};
    }
}

/* sys_channel_read_etc: zx_channel_read reporting each handle as a zx_handle_info_t. */
static zx_status_t sv_channel_read_etc(call_t *c) {
    uint64_t ubytes = c->a[2], uhandles = c->a[3];
    uint32_t nb = U32(4) < ZX_CHANNEL_MAX_MSG_BYTES ? U32(4) : ZX_CHANNEL_MAX_MSG_BYTES;
    uint32_t nh = U32(5) < ZX_CHANNEL_MAX_MSG_HANDLES ? U32(5) : ZX_CHANNEL_MAX_MSG_HANDLES;
    uint8_t *bytes = ubytes ? malloc(nb ? nb : 1) : NULL;
    zx_handle_t handles[ZX_CHANNEL_MAX_MSG_HANDLES];
    zx_handle_info_t infos[ZX_CHANNEL_MAX_MSG_HANDLES];
    if (ubytes && bytes == NULL) return ZX_ERR_NO_MEMORY;
    uint32_t ab = 0, ah = 0;
    zx_status_t st = zx_channel_read(H(0), U32(1), bytes, uhandles ? handles : NULL, ubytes ? nb : U32(4),
                                     uhandles ? nh : U32(5), &ab, &ah);
    if (st == ZX_OK || st == ZX_ERR_BUFFER_TOO_SMALL) {
        if (st == ZX_OK) handle_infos(handles, ah, infos);
        bool ok = (!c->a[6] || copy_out(c->tid, c->a[6], &ab, sizeof ab)) &&
                  (!c->a[7] || copy_out(c->tid, c->a[7], &ah, sizeof ah));
        if (st == ZX_OK)
            ok = ok && copy_out(c->tid, ubytes, bytes, ab) && copy_out(c->tid, uhandles, infos, ah * sizeof *infos);
        if (!ok) {
            if (st == ZX_OK && uhandles) zx_handle_close_many(handles, ah);
            st = ZX_ERR_INVALID_ARGS;
        }
    }
    free(bytes);
    return st;
}

static zx_status_t sv_socket_create(call_t *c) {
    zx_handle_t h0 = ZX_HANDLE_INVALID, h1 = ZX_HANDLE_INVALID;
    zx_status_t st = zx_socket_create(U32(0), &h0, &h1);
    if (st != ZX_OK) return st;
    if (!copy_out(c->tid, c->a[1], &h0, sizeof h0) || !copy_out(c->tid, c->a[2], &h1, sizeof h1)) {
        zx_handle_close(h0);
        zx_handle_close(h1);
        return ZX_ERR_INVALID_ARGS;
    }
    return ZX_OK;
}

/* sys_socket_write: a size with a NULL buffer and options are checked before the handle, the buffer is read when the
 * bytes go in (after the handle, peer and state checks: a buffer that cannot be read is INVALID_ARGS there); the
 * count is written out only on success.  At most the buffer's capacity is read (a longer stream write is short). */
static zx_status_t sv_socket_write(call_t *c) {
    uint64_t ubuf = c->a[2], size = c->a[3];
    if (size > 0 && ubuf == 0) return ZX_ERR_INVALID_ARGS;
    if (U32(1) != 0) return ZX_ERR_INVALID_ARGS;
    size_t take = size < HK_SOCKET_SIZE_MAX + 1 ? (size_t)size : HK_SOCKET_SIZE_MAX + 1; /* +1: a datagram too long */
    uint8_t *buf = take > 0 ? malloc(take) : NULL;
    if (take > 0 && buf == NULL) return ZX_ERR_NO_MEMORY;
    size_t actual = 0;
    zx_status_t st;
    if (take > 0 && !copy_in(c->tid, buf, ubuf, take)) {
        /* Zircon's checks before the copy (the handle, the peer, the state, the size, a full buffer: the peer's,
         * tx_buf_size in ZX_INFO_SOCKET), then the copy's INVALID_ARGS. */
        st = zx_socket_write(H(0), 0, "", 0, NULL);
        hk_info_socket_t info;
        if (st == ZX_OK && size == (uint64_t)(uint32_t)size &&
            zx_object_get_info(H(0), HK_INFO_SOCKET, &info, sizeof info, NULL, NULL) == ZX_OK &&
            info.tx_buf_size >= info.tx_buf_max)
            st = ZX_ERR_SHOULD_WAIT;
        else if (st == ZX_OK)
            st = ZX_ERR_INVALID_ARGS;
    } else {
        /* A size above 32 bits is INVALID_ARGS before any byte is read (SocketDispatcher::Write). */
        st = zx_socket_write(H(0), 0, buf, size != (uint64_t)(uint32_t)size ? (size_t)size : take, &actual);
    }
    free(buf);
    if (st == ZX_OK && c->a[4] && !copy_out(c->tid, c->a[4], &actual, sizeof actual)) st = ZX_ERR_INVALID_ARGS;
    return st;
}

/* sys_socket_read: the NULL buffer and options first, then the handle and the read; the bytes go out as they are
 * read (a fault loses them, INVALID_ARGS, as MBufChain::Read's copy does), then the count. */
static zx_status_t sv_socket_read(call_t *c) {
    uint64_t ubuf = c->a[2], size = c->a[3];
    if (ubuf == 0 && size > 0) return ZX_ERR_INVALID_ARGS;
    if (U32(1) & ~ZX_SOCKET_PEEK) return ZX_ERR_INVALID_ARGS;
    size_t take = size < HK_SOCKET_SIZE_MAX ? (size_t)size : HK_SOCKET_SIZE_MAX; /* a read never gives more */
    uint8_t *buf = take > 0 ? malloc(take) : NULL;
    if (take > 0 && buf == NULL) return ZX_ERR_NO_MEMORY;
    size_t actual = 0;
    /* A size above 32 bits is INVALID_ARGS before any byte is read (SocketDispatcher::Read). */
    zx_status_t st = zx_socket_read(H(0), U32(1), buf, size != (uint64_t)(uint32_t)size ? (size_t)size : take, &actual);
    if (st == ZX_OK && !copy_out(c->tid, ubuf, buf, actual)) st = ZX_ERR_INVALID_ARGS;
    free(buf);
    if (st == ZX_OK && c->a[4] && !copy_out(c->tid, c->a[4], &actual, sizeof actual)) st = ZX_ERR_INVALID_ARGS;
    return st;
}

static zx_status_t sv_socket_shutdown(call_t *c) { return zx_socket_shutdown(H(0), U32(1)); }

/* ------------------------------------------------------------------------------------------------ channel_call */

/* One zx_channel_call of one thread, served on a worker thread (sys_channel_call_noretry, zircon/kernel/lib/syscalls/
 * channel.cc; ChannelDispatcher::Call): the host kernel's zx_channel_call writes the request with a kernel txid and
 * waits for the reply with that txid, the deadline, the caller's end losing its handle (CANCELED) or the peer
 * (PEER_CLOSED).  The task stays in its syscall-stop meanwhile.  A suspension of the thread holds the task (the
 * monitor does not resume a suspended task), and a reply that comes meanwhile is kept and returned after the resume,
 * as Zircon's SuspendChannelCall / ResumeInterruptedCall keep it for channel_call_finish. */
typedef struct call_worker {
    hk_fx_serve_t *s;
    pthread_t thread;
    pid_t tid;
    hk_thread_t *zthread;         /* a reference */
    struct user_regs_struct regs;
    zx_handle_t handle;
    uint32_t options;
    zx_time_t deadline;           /* host clock */
    zx_channel_call_args_t args;  /* host buffers */
    uint64_t u_rd_bytes, u_rd_handles, u_actual_bytes, u_actual_handles;
    uint8_t *wr_bytes, *rd_bytes;
    zx_handle_t wr_handles[ZX_CHANNEL_MAX_MSG_HANDLES], rd_handles[ZX_CHANNEL_MAX_MSG_HANDLES];
    uint32_t actual_bytes, actual_handles;
    bool etc;                     /* channel_call_etc: dispositions sent, zx_handle_info_t received */
    zx_handle_info_t rd_infos[ZX_CHANNEL_MAX_MSG_HANDLES];
    bool done;                    /* under the lock */
    zx_status_t result;
} call_worker_t;

static zx_time_t host_deadline(const hk_fx_serve_t *s, zx_time_t deadline);

static void *call_worker_main(void *arg) {
    call_worker_t *w = arg;
    cpu_save_t save;
    enter(w->s, w->zthread, true, &save);
    zx_status_t st = zx_channel_call(w->handle, w->options, w->deadline, &w->args, &w->actual_bytes,
                                     &w->actual_handles);
    if (st == ZX_OK && w->etc) handle_infos(w->rd_handles, w->actual_handles, w->rd_infos);
    leave(&save);
    hk_lock();
    w->result = st;
    w->done = true;
    hk_unlock();
    lt_wake_monitor();
    return NULL;
}

static void call_worker_free(call_worker_t *w) {
    free(w->wr_bytes);
    free(w->rd_bytes);
    free(w);
}

/* The user's zx_channel_call_args_t, 2021 layout (<zircon/types.h>): four pointers, then four counts. */
typedef struct {
    uint64_t wr_bytes, wr_handles, rd_bytes, rd_handles;
    uint32_t wr_num_bytes, wr_num_handles, rd_num_bytes, rd_num_handles;
} user_call_args_t;
_Static_assert(sizeof(user_call_args_t) == 48, "zx_channel_call_args_t is 48 bytes");

/* sys_channel_call_noretry: the arguments are copied in first (INVALID_ARGS), then options, the handle (WRITE and
 * READ; the handles to send are consumed on any failure), the message (its bytes copied in: INVALID_ARGS; fewer
 * than a txid: INVALID_ARGS), the handles moved, and the call; the host kernel's zx_channel_call makes those checks
 * in that order on the worker.  The reply is copied out at completion (hk_fx_serve_poll). */
static zx_status_t channel_call(call_t *c, bool etc) {
    hk_fx_serve_t *s = c->s;
    user_call_args_t ua;
    if (!copy_in(c->tid, &ua, c->a[3], sizeof ua)) return ZX_ERR_INVALID_ARGS;
    size_t slot = MAX_CALL_WORKERS;
    for (size_t i = 0; i < MAX_CALL_WORKERS && slot == MAX_CALL_WORKERS; i++)
        if (s->calls[i] == NULL) slot = i;
    call_worker_t *w = slot < MAX_CALL_WORKERS ? calloc(1, sizeof *w) : NULL;
    if (w == NULL) return ZX_ERR_NO_RESOURCES;
    w->s = s;
    w->tid = c->tid;
    w->regs = *c->r;
    w->handle = H(0);
    w->options = U32(1);
    w->deadline = host_deadline(s, (zx_time_t)c->a[2]);
    w->u_rd_bytes = ua.rd_bytes;
    w->u_rd_handles = ua.rd_handles;
    w->u_actual_bytes = c->a[4];
    w->u_actual_handles = c->a[5];
    /* The request: bytes that cannot be read become NULL with their size (MessagePacket::Create: INVALID_ARGS);
     * handle values that cannot be read are none (consumed as the failure consumes them). */
    if (ua.wr_num_bytes > 0 && ua.wr_num_bytes <= ZX_CHANNEL_MAX_MSG_BYTES && ua.wr_bytes != 0) {
        w->wr_bytes = malloc(ua.wr_num_bytes);
        if (w->wr_bytes != NULL && !copy_in(c->tid, w->wr_bytes, ua.wr_bytes, ua.wr_num_bytes)) {
            free(w->wr_bytes);
            w->wr_bytes = NULL;
        }
    }
    const zx_handle_t *wh = NULL;
    w->etc = etc;
    if (etc && ua.wr_num_handles > 0) {
        /* channel_call_etc: the dispositions become plain handles first (their own checks and results). */
        zx_status_t st = dispositions_take(c, ua.wr_handles, ua.wr_num_handles, w->wr_handles);
        if (st != ZX_OK) {
            call_worker_free(w);
            return st;
        }
        wh = w->wr_handles;
    } else if (ua.wr_num_handles > 0 && ua.wr_num_handles <= ZX_CHANNEL_MAX_MSG_HANDLES && ua.wr_handles != 0 &&
               copy_in(c->tid, w->wr_handles, ua.wr_handles, ua.wr_num_handles * sizeof(zx_handle_t))) {
        wh = w->wr_handles;
    }
    uint32_t rd_nb = ua.rd_num_bytes < ZX_CHANNEL_MAX_MSG_BYTES ? ua.rd_num_bytes : ZX_CHANNEL_MAX_MSG_BYTES;
    uint32_t rd_nh = ua.rd_num_handles < ZX_CHANNEL_MAX_MSG_HANDLES ? ua.rd_num_handles : ZX_CHANNEL_MAX_MSG_HANDLES;
    w->rd_bytes = malloc(rd_nb ? rd_nb : 1);
    if (w->rd_bytes == NULL) {
        call_worker_free(w);
        return ZX_ERR_NO_MEMORY;
    }
    /* A reply larger than the caller's buffers is BUFFER_TOO_SMALL: the host call sees the caller's counts, capped at
     * what a message can hold. */
    w->args = (zx_channel_call_args_t){
        .wr_bytes = w->wr_bytes,
        .wr_handles = wh,
        .rd_bytes = w->rd_bytes,
        .rd_handles = w->rd_handles,
        .wr_num_bytes = ua.wr_num_bytes,
        .wr_num_handles = wh != NULL || ua.wr_num_handles > ZX_CHANNEL_MAX_MSG_HANDLES ? ua.wr_num_handles : 0,
        .rd_num_bytes = rd_nb,
        .rd_num_handles = rd_nh,
    };
    if (ua.wr_num_handles > 0 && wh == NULL && ua.wr_num_handles <= ZX_CHANNEL_MAX_MSG_HANDLES) {
        /* The handle values cannot be read: Zircon's checks before msg_put_handles copies them (the options, the
         * handle with WRITE and READ, the message's size and txid room), then that copy's INVALID_ARGS; nothing is
         * consumed, as RemoveUserHandles cannot read the values either. */
        zx_status_t st = (U32(1) & ~ZX_CHANNEL_WRITE_USE_IOVEC) != 0 ? ZX_ERR_INVALID_ARGS : ZX_OK;
        zx_info_handle_basic_t b;
        if (st == ZX_OK) st = zx_object_get_info(H(0), ZX_INFO_HANDLE_BASIC, &b, sizeof b, NULL, NULL);
        if (st == ZX_OK && b.type != ZX_OBJ_TYPE_CHANNEL) st = ZX_ERR_WRONG_TYPE;
        if (st == ZX_OK && (b.rights & (ZX_RIGHT_READ | ZX_RIGHT_WRITE)) != (ZX_RIGHT_READ | ZX_RIGHT_WRITE))
            st = ZX_ERR_ACCESS_DENIED;
        if (st == ZX_OK && (U32(1) & ZX_CHANNEL_WRITE_USE_IOVEC) != 0) st = ZX_ERR_NOT_SUPPORTED; /* the host's */
        if (st == ZX_OK && ua.wr_num_bytes > ZX_CHANNEL_MAX_MSG_BYTES) st = ZX_ERR_OUT_OF_RANGE;
        if (st == ZX_OK && (w->wr_bytes == NULL || ua.wr_num_bytes < sizeof(zx_txid_t))) st = ZX_ERR_INVALID_ARGS;
        call_worker_free(w);
        return st != ZX_OK ? st : ZX_ERR_INVALID_ARGS;
    }
    hk_lock();
    w->zthread = c->k->thread;
    hk_object_ref(&w->zthread->base);
    hk_unlock();
    int err = hk_thread_spawn_quiet(&w->thread, NULL, call_worker_main, w);
    if (err != 0) {
        hk_lock();
        hk_object_unref(&w->zthread->base);
        hk_unlock();
        call_worker_free(w);
        return ZX_ERR_NO_RESOURCES;
    }
    s->calls[slot] = w;
    c->held = true;
    return ZX_OK;
}

static zx_status_t sv_channel_call(call_t *c) { return channel_call(c, false); }

/* sys_channel_call_etc_noretry: as channel_call_noretry with the handles sent as zx_handle_disposition_t
 * (dispositions_take) and those received reported as zx_handle_info_t. */
static zx_status_t sv_channel_call_etc(call_t *c) { return channel_call(c, true); }

/* sys_channel_call_finish: the vDSO issues it only after channel_call_noretry returned ZX_ERR_INTERNAL_INTR_RETRY,
 * which this runner never returns (the call's worker keeps waiting while its thread is suspended).  Without an
 * interrupted call Zircon's ResumeInterruptedCall has nothing to resume: BAD_STATE. */
static zx_status_t sv_channel_call_finish(call_t *c) {
    user_call_args_t ua;
    if (!copy_in(c->tid, &ua, c->a[1], sizeof ua)) return ZX_ERR_INVALID_ARGS;
    return ZX_ERR_BAD_STATE;
}

/* Monitor thread, lock held: complete worker w (done) for its task: the reply copied out, rax, resume. */
static void call_complete(call_worker_t *w) {
    pthread_join(w->thread, NULL); /* it has only its return left */
    hk_thread_t *t = w->zthread;
    hk_object_unref(&t->base);
    lt_task_t *k = lt_task_find(w->tid);
    zx_status_t st = w->result;
    bool alive = k != NULL && k->thread == t && k->stopped && k->resume == LT_RESUME_HOLD;
    if (alive && st == ZX_OK) {
        /* channel_call_epilogue: the bytes, the handles, then the counts. */
        bool ok = copy_out(w->tid, w->u_rd_bytes, w->rd_bytes, w->actual_bytes) &&
                  (w->etc ? copy_out(w->tid, w->u_rd_handles, w->rd_infos, w->actual_handles * sizeof *w->rd_infos)
                          : copy_out(w->tid, w->u_rd_handles, w->rd_handles, w->actual_handles * sizeof(zx_handle_t))) &&
                  w->u_actual_bytes != 0 && copy_out(w->tid, w->u_actual_bytes, &w->actual_bytes, 4) &&
                  w->u_actual_handles != 0 && copy_out(w->tid, w->u_actual_handles, &w->actual_handles, 4);
        if (!ok) st = ZX_ERR_INVALID_ARGS;
    }
    if ((!alive || st != ZX_OK) && w->result == ZX_OK) {
        /* The received handles never reach the program: closed in its table. */
        hk_handle_table_t *saved = hk_cpu.table;
        hk_cpu.table = w->s->table;
        for (uint32_t i = 0; i < w->actual_handles; i++) hk_handle_close_locked(w->rd_handles[i]);
        hk_cpu.table = saved;
    }
    if (alive) {
        struct user_regs_struct r = w->regs;
        r.rax = (uint64_t)(int64_t)st;
        ptrace(PTRACE_SETREGS, w->tid, 0, &r);
        k->resume = LT_RESUME_SYSEMU; /* the monitor's pass syncs the task next: held while it is suspended */
    }
    call_worker_free(w);
}

/* ------------------------------------------------------------------------------------------------ blocking waits */

/* One blocking zx_object_wait_one or zx_port_wait of one thread, on a worker thread acting as that thread
 * (hk_cpu.serving) while the task stays in its syscall-stop.  The host kernel's wait ends ZX_ERR_INTERNAL_INTR_RETRY
 * when the thread is suspended (wait.c, port.c), and the runner then re-issues the call from its `syscall`
 * instruction once the task runs again, with the same arguments and so the same deadline, as Zircon's thread
 * suspends and retries (zircon/kernel/lib/syscalls/{object_wait,port}.cc). */
typedef enum { BLOCK_WAIT_ONE, BLOCK_PORT_WAIT } block_kind_t;

typedef struct block_worker {
    hk_fx_serve_t *s;
    block_kind_t kind;
    pthread_t thread;
    pid_t tid;                    /* the calling task */
    hk_thread_t *zthread;         /* its Zircon thread (a reference) */
    struct user_regs_struct regs; /* at its syscall-stop */
    zx_handle_t handle;
    zx_signals_t signals;
    zx_time_t deadline;           /* host clock */
    uint64_t out_ptr;             /* observed signals / the packet */
    bool done;                    /* under the lock */
    zx_status_t result;
    zx_signals_t observed;
    zx_port_packet_t packet;
} block_worker_t;

static void *block_worker_main(void *arg) {
    block_worker_t *w = arg;
    cpu_save_t save;
    enter(w->s, w->zthread, true, &save);
    zx_status_t st = w->kind == BLOCK_WAIT_ONE ? zx_object_wait_one(w->handle, w->signals, w->deadline, &w->observed)
                                               : zx_port_wait(w->handle, w->deadline, &w->packet);
    leave(&save);
    hk_lock();
    w->result = st;
    w->done = true;
    hk_unlock();
    lt_wake_monitor();
    return NULL;
}

/* The program's deadline (its monotonic clock) on the host kernel's clock. */
static zx_time_t host_deadline(const hk_fx_serve_t *s, zx_time_t deadline) {
    if (deadline == ZX_TIME_INFINITE || deadline <= 0) return deadline;
    int64_t left = deadline - s->now();
    zx_time_t now = hk_now();
    if (left <= 0) return now;
    return left > ZX_TIME_INFINITE - now ? ZX_TIME_INFINITE : now + left;
}

/* A signal packet's timestamp (ZX_WAIT_ASYNC_TIMESTAMP: the host kernel's clock) on the program's monotonic
 * clock, as the program compares it with its own zx_clock_get_monotonic: the offset between the clocks now (the
 * packet is a moment old; the two clocks' rates differ by the TSC calibration's error, so an offset taken long before
 * would not do). */
static void packet_to_program(const hk_fx_serve_t *s, zx_port_packet_t *packet) {
    if (packet->type != ZX_PKT_TYPE_SIGNAL_ONE || packet->signal.timestamp == 0) return;
    packet->signal.timestamp = (uint64_t)((int64_t)packet->signal.timestamp + s->now() - hk_now());
}

/* Hand the call to a worker of its own; the task stays in its syscall-stop until hk_fx_serve_poll completes it. */
static zx_status_t block_start(call_t *c, block_kind_t kind, zx_signals_t signals, zx_time_t deadline,
                               uint64_t out_ptr) {
    hk_fx_serve_t *s = c->s;
    size_t slot = MAX_BLOCK_WORKERS;
    for (size_t i = 0; i < MAX_BLOCK_WORKERS && slot == MAX_BLOCK_WORKERS; i++)
        if (s->blocks[i] == NULL) slot = i;
    block_worker_t *w = slot < MAX_BLOCK_WORKERS ? calloc(1, sizeof *w) : NULL;
    if (w == NULL) return ZX_ERR_NO_RESOURCES;
    *w = (block_worker_t){.s = s, .kind = kind, .tid = c->tid, .regs = *c->r, .handle = H(0), .signals = signals,
                          .deadline = deadline, .out_ptr = out_ptr};
    hk_lock();
    w->zthread = c->k->thread;
    hk_object_ref(&w->zthread->base);
    hk_unlock();
    int err = hk_thread_spawn_quiet(&w->thread, NULL, block_worker_main, w);
    if (err != 0) {
        hk_lock();
        hk_object_unref(&w->zthread->base);
        hk_unlock();
        free(w);
        return ZX_ERR_NO_RESOURCES;
    }
    s->blocks[slot] = w;
    c->held = true;
    return ZX_OK;
}

/* Monitor thread, lock held: complete worker w (done) for its task: the result copied out, rax, resume. */
static void block_complete(block_worker_t *w) {
    pthread_join(w->thread, NULL); /* it has only its return left */
    hk_thread_t *t = w->zthread;
    hk_object_unref(&t->base);
    lt_task_t *k = lt_task_find(w->tid);
    if (k != NULL && k->thread == t && k->stopped && k->resume == LT_RESUME_HOLD) {
        struct user_regs_struct r = w->regs;
        zx_status_t st = w->result;
        if (st == ZX_ERR_INTERNAL_INTR_RETRY) {
            r.rip -= 2; /* issued again from its `syscall` instruction once the task runs */
            r.rax = r.orig_rax;
        } else {
            if (w->kind == BLOCK_WAIT_ONE && (st == ZX_OK || st == ZX_ERR_TIMED_OUT || st == ZX_ERR_CANCELED) &&
                w->out_ptr && !copy_out(w->tid, w->out_ptr, &w->observed, sizeof w->observed))
                st = ZX_ERR_INVALID_ARGS;
            /* sys_port_wait: the packet is copied out only on success (a fault loses it: INVALID_ARGS). */
            if (w->kind == BLOCK_PORT_WAIT && st == ZX_OK) {
                packet_to_program(w->s, &w->packet);
                if (!copy_out(w->tid, w->out_ptr, &w->packet, sizeof w->packet)) st = ZX_ERR_INVALID_ARGS;
            }
            r.rax = (uint64_t)(int64_t)st;
        }
        ptrace(PTRACE_SETREGS, w->tid, 0, &r);
        /* The monitor's pass syncs the task next: it runs on unless a suspension holds it. */
        k->resume = LT_RESUME_SYSEMU;
    }
    free(w);
}

/* sys_object_wait_one (zircon/kernel/lib/syscalls/object_wait.cc): the handle (WAIT), then a wanted signal already
 * active is OK at once, a deadline already past TIMED_OUT; otherwise the thread blocks.  The observed signals are
 * copied out after the wait (OK, TIMED_OUT, CANCELED).  Here: a poll on the monitor thread with a past deadline
 * makes every check without blocking; only a wait that must block goes to a worker. */
static zx_status_t sv_object_wait_one(call_t *c) {
    zx_signals_t observed = 0;
    zx_status_t st = zx_object_wait_one(H(0), U32(1), 0, &observed);
    zx_time_t deadline = host_deadline(c->s, (zx_time_t)c->a[2]);
    if (st == ZX_ERR_TIMED_OUT && deadline > hk_now()) return block_start(c, BLOCK_WAIT_ONE, U32(1), deadline, c->a[3]);
    if ((st == ZX_OK || st == ZX_ERR_TIMED_OUT || st == ZX_ERR_CANCELED) && c->a[3] &&
        !copy_out(c->tid, c->a[3], &observed, sizeof observed))
        return ZX_ERR_INVALID_ARGS;
    return st;
}

/* ------------------------------------------------------------------------------------------------ ports */

/* sys_port_create (zircon/kernel/lib/syscalls/port.cc): options, then the handle written out. */
static zx_status_t sv_port_create(call_t *c) {
    zx_handle_t out = ZX_HANDLE_INVALID;
    zx_status_t st = zx_port_create(U32(0), c->a[1] ? &out : NULL);
    return handle_out(c, c->a[1], st, out);
}

/* sys_port_queue: the port (WRITE) is looked up before the packet is copied in (a fault: INVALID_ARGS). */
static zx_status_t sv_port_queue(call_t *c) {
    zx_port_packet_t packet;
    if (c->a[1] == 0 || !copy_in(c->tid, &packet, c->a[1], sizeof packet)) {
        hk_object_t *obj;
        hk_lock();
        zx_status_t st = hk_handle_get(H(0), ZX_OBJ_TYPE_PORT, ZX_RIGHT_WRITE, &obj, NULL);
        hk_unlock();
        return st != ZX_OK ? st : ZX_ERR_INVALID_ARGS;
    }
    return zx_port_queue(H(0), &packet);
}

/* sys_port_wait: the port (READ); a queued packet is taken at once, whatever the deadline; with none, a deadline
 * already past is TIMED_OUT, else the thread blocks (a worker).  The packet is copied out on success. */
static zx_status_t sv_port_wait(call_t *c) {
    zx_port_packet_t packet;
    zx_status_t st = zx_port_wait(H(0), 0, &packet);
    zx_time_t deadline = host_deadline(c->s, (zx_time_t)c->a[1]);
    if (st == ZX_ERR_TIMED_OUT && deadline > hk_now()) return block_start(c, BLOCK_PORT_WAIT, 0, deadline, c->a[2]);
    if (st != ZX_OK) return st;
    packet_to_program(c->s, &packet);
    return copy_out(c->tid, c->a[2], &packet, sizeof packet) ? ZX_OK : ZX_ERR_INVALID_ARGS;
}

static zx_status_t sv_port_cancel(call_t *c) { return zx_port_cancel(H(0), H(1), c->a[2]); }

static zx_status_t sv_object_wait_async(call_t *c) {
    return zx_object_wait_async(H(0), H(1), c->a[2], U32(3), U32(4));
}

/* ------------------------------------------------------------------------------------------------ timers */

/* sys_timer_create / set / cancel (zircon/kernel/lib/syscalls/timer.cc), the host kernel's (host/ipc/timer.c); a
 * deadline moves from the program's clock to the host kernel's as a wait's does. */
static zx_status_t sv_timer_create(call_t *c) {
    zx_handle_t out = ZX_HANDLE_INVALID;
    zx_status_t st = zx_timer_create(U32(0), U32(1), c->a[2] ? &out : NULL);
    return handle_out(c, c->a[2], st, out);
}

static zx_status_t sv_timer_set(call_t *c) {
    return zx_timer_set(H(0), host_deadline(c->s, (zx_time_t)c->a[1]), (zx_duration_t)c->a[2]);
}

static zx_status_t sv_timer_cancel(call_t *c) { return zx_timer_cancel(H(0)); }

void hk_fx_serve_poll(hk_fx_serve_t *s) {
    for (size_t i = 0; i < MAX_CALL_WORKERS; i++) {
        call_worker_t *w = s->calls[i];
        if (w == NULL || !w->done) continue;
        s->calls[i] = NULL;
        call_complete(w);
    }
    for (size_t i = 0; i < MAX_BLOCK_WORKERS; i++) {
        block_worker_t *w = s->blocks[i];
        if (w == NULL || !w->done) continue;
        s->blocks[i] = NULL;
        block_complete(w);
    }
}

/* ------------------------------------------------------------------------------------------------ dispatch */

typedef struct {
    const char *name;
    zx_status_t (*fn)(call_t *c);
} entry_t;

/* vmo_*, vmar_map/unmap: vm.c, in the program's table like every call here.  A signal that came while vm.c ran
 * Linux calls in the task is delivered when the task goes on. */
static zx_status_t sv_vm(call_t *c) {
    int64_t ret = ZX_ERR_NOT_SUPPORTED;
    int sig = 0;
    hk_fuchsia_vm_serve(&c->s->vm, c->name, c->tid, c->r->rip - 2, c->r->rsp, c->a, &ret, &sig);
    if (sig != 0) c->k->stop_sig = sig;
    return (zx_status_t)ret;
}

/* Sorted by name (bsearch). */
static const entry_t g_calls[] = {
    {"channel_call_etc_finish", sv_channel_call_finish},
    {"channel_call_etc_noretry", sv_channel_call_etc},
    {"channel_call_finish", sv_channel_call_finish},
    {"channel_call_noretry", sv_channel_call},
    {"channel_create", sv_channel_create},
    {"channel_read", sv_channel_read},
    {"channel_read_etc", sv_channel_read_etc},
    {"channel_write", sv_channel_write},
    {"channel_write_etc", sv_channel_write_etc},
    {"event_create", sv_event_create},
    {"exception_get_process", sv_exception_get_process},
    {"exception_get_thread", sv_exception_get_thread},
    {"handle_close", sv_handle_close},
    {"handle_close_many", sv_handle_close_many},
    {"handle_duplicate", sv_handle_duplicate},
    {"handle_replace", sv_handle_replace},
    {"job_create", sv_job_create},
    {"job_set_critical", sv_job_set_critical},
    {"object_get_child", sv_object_get_child},
    {"object_get_info", sv_object_get_info},
    {"object_get_property", sv_object_get_property},
    {"object_set_property", sv_object_set_property},
    {"object_signal", sv_object_signal},
    {"object_wait_async", sv_object_wait_async},
    {"object_wait_one", sv_object_wait_one},
    {"port_cancel", sv_port_cancel},
    {"port_create", sv_port_create},
    {"port_queue", sv_port_queue},
    {"port_wait", sv_port_wait},
    {"process_create", sv_process_create},
    {"process_read_memory", sv_process_read_memory},
    {"process_write_memory", sv_process_write_memory},
    {"socket_create", sv_socket_create},
    {"socket_read", sv_socket_read},
    {"socket_shutdown", sv_socket_shutdown},
    {"socket_write", sv_socket_write},
    {"task_create_exception_channel", sv_task_create_exception_channel},
    {"task_kill", sv_task_kill},
    {"task_suspend", sv_task_suspend},
    {"task_suspend_token", sv_task_suspend}, /* sys_task_suspend_token is sys_task_suspend */
    {"thread_read_state", sv_thread_read_state},
    {"thread_write_state", sv_thread_write_state},
    {"timer_cancel", sv_timer_cancel},
    {"timer_create", sv_timer_create},
    {"timer_set", sv_timer_set},
    {"vmar_allocate", sv_vm},
    {"vmar_destroy", sv_vm},
    {"vmar_map", sv_vm},
    {"vmar_protect", sv_vm},
    {"vmar_unmap", sv_vm},
    {"vmo_create", sv_vm},
    {"vmo_create_child", sv_vm},
    {"vmo_get_size", sv_vm},
    {"vmo_op_range", sv_vm},
    {"vmo_read", sv_vm},
    {"vmo_replace_as_executable", sv_vm},
    {"vmo_set_size", sv_vm},
    {"vmo_write", sv_vm},
};

static int entry_cmp(const void *key, const void *e) { return strcmp(key, ((const entry_t *)e)->name); }

/* The dynamic linker's processargs message, as Fuchsia's launcher sends it first when it starts a program through
 * its PT_INTERP (zircon/system/ulib/launchpad, src/lib/process_builder): the process, its first thread, the root
 * VMAR, the VMAR ld.so.1 was loaded into (PA_VMAR_LOADED), the executable's VMO (PA_VMO_EXECUTABLE) and, when the
 * spawner gave one, the loader service (PA_LDSVC_LOADER), with the same argv and environ as the program's message.
 * ld.so takes these in __dls3 (zircon/third_party/ulib/musl/ldso/dynlink.c) and closes any other handle. */
static void dynamic_send(hk_fx_serve_t *s, lt_task_t *k) {
    const pa_header_t *h2 = (const pa_header_t *)s->boot_msg;
    uint32_t strings = s->boot_len - h2->args_off;
    zx_handle_t handles[6];
    uint32_t infos[6];
    size_t n = 0;
    hk_lock();
    if (hk_handle_alloc(&s->p->base, ZX_DEFAULT_PROCESS_RIGHTS, &handles[n]) == ZX_OK) infos[n++] = PA_PROC_SELF;
    if (k->thread != NULL && hk_handle_alloc(&k->thread->base, ZX_DEFAULT_THREAD_RIGHTS, &handles[n]) == ZX_OK)
        infos[n++] = PA_THREAD_SELF;
    if (hk_fuchsia_vm_root_vmar_locked(&s->vm, &handles[n]) == ZX_OK) infos[n++] = PA_VMAR_ROOT;
    if (hk_fuchsia_vm_loaded_vmar_locked(&s->vm, s->loaded_base, s->loaded_size, s->loaded_maps, s->loaded_num,
                                         &handles[n]) == ZX_OK)
        infos[n++] = PA_VMAR_LOADED;
    hk_unlock();
    handles[n] = s->dyn_exec_vmo;
    infos[n++] = PA_VMO_EXECUTABLE;
    s->dyn_exec_vmo = ZX_HANDLE_INVALID;
    if (s->dyn_loader != ZX_HANDLE_INVALID) {
        handles[n] = s->dyn_loader;
        infos[n++] = PA_LDSVC_LOADER;
        s->dyn_loader = ZX_HANDLE_INVALID;
    }
    uint32_t info_off = sizeof(pa_header_t), args_off = info_off + (uint32_t)(n * sizeof(uint32_t));
    uint32_t len = args_off + strings;
    uint8_t *msg = calloc(1, len);
    if (msg == NULL) {
        zx_handle_close_many(handles, n);
        return; /* ld.so finds no message: it reports a bad bootstrap and traps, as it would on Fuchsia */
    }
    pa_header_t hdr = {
        .protocol = PA_PROTOCOL,
        .version = PA_VERSION,
        .handle_info_off = info_off,
        .args_off = args_off,
        .args_num = h2->args_num,
        .environ_off = args_off + (h2->environ_off - h2->args_off),
        .environ_num = h2->environ_num,
        .names_off = len,
        .names_num = 0,
    };
    memcpy(msg, &hdr, sizeof hdr);
    memcpy(msg + info_off, infos, n * sizeof *infos);
    memcpy(msg + args_off, s->boot_msg + h2->args_off, strings);
    zx_status_t st = zx_channel_write(s->boot_channel, 0, msg, len, handles, (uint32_t)n);
    (void)st; /* PEER_CLOSED: the program closed its end unread */
    free(msg);
}

/* The processargs message goes out on the bootstrap channel: PA_PROC_SELF and PA_THREAD_SELF (default rights, as
 * the launcher's process and thread handles), PA_VMAR_ROOT (the root VMAR handle zx_process_create returns, with
 * its rights, which fdio_spawn's process builder passes on unchanged), the job and the spawner's handles. */
static void bootstrap_send(hk_fx_serve_t *s, lt_task_t *k) {
    s->boot_pending = false;
    if (s->dyn) dynamic_send(s, k);
    zx_handle_t handles[MAX_BOOT_HANDLES + MADE_AT_WRITE];
    uint32_t infos[MAX_BOOT_HANDLES + MADE_AT_WRITE];
    size_t n = 0;
    hk_lock();
    if (hk_fuchsia_vm_root_vmar_locked(&s->vm, &handles[n]) == ZX_OK) infos[n++] = PA_VMAR_ROOT;
    if (hk_handle_alloc(&s->p->base, ZX_DEFAULT_PROCESS_RIGHTS, &handles[n]) == ZX_OK) infos[n++] = PA_PROC_SELF;
    if (k->thread != NULL && hk_handle_alloc(&k->thread->base, ZX_DEFAULT_THREAD_RIGHTS, &handles[n]) == ZX_OK)
        infos[n++] = PA_THREAD_SELF;
    hk_unlock();
    for (size_t i = 0; i < s->boot_num; i++) {
        handles[n] = s->boot_handles[i];
        infos[n++] = s->boot_infos[i];
    }
    s->boot_num = 0;
    pa_header_t *hdr = (pa_header_t *)s->boot_msg;
    memcpy(s->boot_msg + hdr->handle_info_off, infos, n * sizeof *infos);
    /* The info slots were counted at spawn time; a handle that could not be made leaves a 0 at the end. */
    zx_status_t st = zx_channel_write(s->boot_channel, 0, s->boot_msg, s->boot_len, handles, (uint32_t)n);
    (void)st; /* PEER_CLOSED: the program closed its end unread, its own affair */
    zx_handle_close(s->boot_channel);
    s->boot_channel = ZX_HANDLE_INVALID;
    free(s->boot_msg);
    s->boot_msg = NULL;
}

hk_fx_result_t hk_fx_serve(hk_fx_serve_t *s, lt_task_t *k, const char *name, const struct user_regs_struct *r,
                           int64_t *ret) {
    const entry_t *e = bsearch(name, g_calls, sizeof g_calls / sizeof g_calls[0], sizeof g_calls[0], entry_cmp);
    if (e == NULL) return HK_FX_UNSERVED;
    if (k->thread == NULL) { /* no Zircon thread to act as (not a thread of the program itself) */
        *ret = ZX_ERR_BAD_STATE;
        return HK_FX_DONE;
    }
    if (s->boot_pending) bootstrap_send(s, k);
    call_t c = {.s = s, .k = k, .tid = k->tid, .r = r, .name = name,
                .a = {r->rdi, r->rsi, r->rdx, r->r10, r->r8, r->r9, r->r12, r->r13}};
    cpu_save_t save;
    enter(s, k->thread, false, &save);
    zx_status_t st = e->fn(&c);
    leave(&save);
    hk_lock();
    bool dying = s->p->state == HK_PROCESS_DYING || s->p->state == HK_PROCESS_DEAD;
    hk_unlock();
    if (c.held || dying) {
        /* On the worker; or the program killed itself (or its job): on Zircon that call never returns. */
        k->resume = LT_RESUME_HOLD;
        return HK_FX_HELD;
    }
    *ret = st;
    return HK_FX_DONE;
}

zx_status_t hk_fx_serve_futex_owner(hk_fx_serve_t *s, lt_task_t *k, zx_handle_t owner) {
    if (owner == ZX_HANDLE_INVALID) return ZX_OK;
    if (k->thread == NULL) return ZX_ERR_BAD_STATE;
    cpu_save_t save;
    enter(s, k->thread, false, &save);
    hk_object_t *obj;
    hk_lock();
    zx_status_t st = hk_handle_get(owner, ZX_OBJ_TYPE_THREAD, 0, &obj, NULL);
    if (st == ZX_OK) {
        const hk_thread_t *t = HK_CONTAINER_OF(obj, hk_thread_t, base);
        if (t == k->thread || t->process != s->p) st = ZX_ERR_INVALID_ARGS;
    }
    hk_unlock();
    leave(&save);
    return st;
}

/* sys_thread_create (zircon/kernel/lib/syscalls/task.cc): options (INVALID_ARGS), the name (copy_user_string:
 * truncated to ZX_MAX_NAME_LEN - 1; a bad pointer INVALID_ARGS), the process handle (PROCESS, MANAGE_THREAD), then
 * the thread (BAD_STATE once the process is dying) and its handle with ZX_DEFAULT_THREAD_RIGHTS.  Only the
 * program's own process: its threads are clones of its own tasks (NOT_SUPPORTED for another). */
zx_status_t hk_fx_serve_thread_create(hk_fx_serve_t *s, lt_task_t *k, const uint64_t a[8]) {
    if (k->thread == NULL) return ZX_ERR_BAD_STATE;
    /* sys_thread_create (task.cc): options, the name (copy_user_string: NULL is INVALID_ARGS), the process
     * (PROCESS, MANAGE_THREAD), then the handle written out; the process's state is not checked here (a thread
     * of a dying or dead process is made, and fails at thread_start). */
    if ((uint32_t)a[3] != 0) return ZX_ERR_INVALID_ARGS;
    if (a[1] == 0) return ZX_ERR_INVALID_ARGS;
    char name[ZX_MAX_NAME_LEN];
    memset(name, 0, sizeof name);
    size_t n = a[2] < ZX_MAX_NAME_LEN - 1 ? (size_t)a[2] : ZX_MAX_NAME_LEN - 1;
    if (n > 0 && !copy_in(k->tid, name, a[1], n)) return ZX_ERR_INVALID_ARGS;
    cpu_save_t save;
    enter(s, k->thread, false, &save);
    hk_object_t *obj;
    zx_handle_t h = ZX_HANDLE_INVALID;
    hk_lock();
    zx_status_t st = hk_handle_get((zx_handle_t)a[0], ZX_OBJ_TYPE_PROCESS, ZX_RIGHT_MANAGE_THREAD, &obj, NULL);
    hk_process_t *p = st == ZX_OK ? HK_CONTAINER_OF(obj, hk_process_t, base) : NULL;
    hk_thread_t *t = NULL;
    /* A thread of the program's own process runs as a clone of the calling task (thread_start); one of another
     * process is made as the host kernel makes it for the host program (it cannot run code here). */
    if (st == ZX_OK && (t = hk_thread_new(p, p == s->p ? HK_THREAD_LINUX : HK_THREAD_UNBACKED, name)) == NULL)
        st = ZX_ERR_NO_MEMORY;
    if (st == ZX_OK) st = hk_handle_alloc(&t->base, ZX_DEFAULT_THREAD_RIGHTS, &h);
    if (t != NULL) hk_object_unref(&t->base);
    hk_unlock();
    if (st == ZX_OK && !copy_out(k->tid, a[4], &h, sizeof h)) {
        zx_handle_close(h);
        st = ZX_ERR_INVALID_ARGS;
    }
    leave(&save);
    return st;
}

/* sys_thread_start's checks in the host kernel's zx_thread_start order (task.cc; ThreadDispatcher::Start ->
 * ProcessDispatcher::AddInitializedThread): a THREAD handle with MANAGE_THREAD, its process running (a later thread
 * needs a RUNNING process: BAD_STATE in an unstarted, dying or dead one), the entry a user address
 * (arch_is_valid_user_pc: INVALID_ARGS), the thread not started yet (BAD_STATE); then this runner's limits: entry 0
 * INVALID_ARGS (as the host kernel's), a thread of another process NOT_SUPPORTED.  *out: the thread, with a
 * reference. */
zx_status_t hk_fx_serve_thread_start_check(hk_fx_serve_t *s, lt_task_t *k, zx_handle_t h, uint64_t entry,
                                           hk_thread_t **out) {
    if (k->thread == NULL) return ZX_ERR_BAD_STATE;
    cpu_save_t save;
    enter(s, k->thread, false, &save);
    hk_object_t *obj;
    hk_lock();
    zx_status_t st = hk_handle_get(h, ZX_OBJ_TYPE_THREAD, ZX_RIGHT_MANAGE_THREAD, &obj, NULL);
    hk_thread_t *t = st == ZX_OK ? HK_CONTAINER_OF(obj, hk_thread_t, base) : NULL;
    if (st == ZX_OK && t->process->state != HK_PROCESS_RUNNING) st = ZX_ERR_BAD_STATE;
    if (st == ZX_OK && entry >= (1ull << 47)) st = ZX_ERR_INVALID_ARGS;
    if (st == ZX_OK && t->state != HK_THREAD_NEW) st = ZX_ERR_BAD_STATE;
    if (st == ZX_OK && entry == 0) st = ZX_ERR_INVALID_ARGS;
    if (st == ZX_OK && (t->process != s->p || t->kind != HK_THREAD_LINUX)) st = ZX_ERR_NOT_SUPPORTED;
    if (st == ZX_OK) {
        hk_object_ref(&t->base);
        *out = t;
    }
    hk_unlock();
    leave(&save);
    return st;
}

/* ZX_PROP_REGISTER_FS (sys_object_set_property, zircon/kernel/lib/syscalls/object.cc): the size (BUFFER_TOO_SMALL
 * below 8), the value (a bad pointer INVALID_ARGS), a THREAD handle with ZX_RIGHT_SET_PROPERTY, the calling thread
 * itself (ACCESS_DENIED otherwise), a canonical address (INVALID_ARGS).  *fs_base: the value. */
zx_status_t hk_fx_serve_register_fs(hk_fx_serve_t *s, lt_task_t *k, const uint64_t a[8], uint64_t *fs_base) {
    if (k->thread == NULL) return ZX_ERR_BAD_STATE;
    if (a[3] < sizeof(uint64_t)) return ZX_ERR_BUFFER_TOO_SMALL;
    uint64_t addr;
    if (!copy_in(k->tid, &addr, a[2], sizeof addr)) return ZX_ERR_INVALID_ARGS;
    cpu_save_t save;
    enter(s, k->thread, false, &save);
    hk_object_t *obj;
    hk_lock();
    zx_status_t st = hk_handle_get((zx_handle_t)a[0], ZX_OBJ_TYPE_THREAD, ZX_RIGHT_SET_PROPERTY, &obj, NULL);
    if (st == ZX_OK && HK_CONTAINER_OF(obj, hk_thread_t, base) != k->thread) st = ZX_ERR_ACCESS_DENIED;
    hk_unlock();
    leave(&save);
    /* x86_is_vaddr_canonical: bits 63..47 all equal. */
    if (st == ZX_OK && (uint64_t)((int64_t)(addr << 16) >> 16) != addr) st = ZX_ERR_INVALID_ARGS;
    if (st == ZX_OK) *fs_base = addr;
    return st;
}

/* ------------------------------------------------------------------------------------------------ life */

static zx_status_t fail(char *err_msg, zx_status_t status, const char *what) {
    if (err_msg != NULL) snprintf(err_msg, FDIO_SPAWN_ERR_MSG_MAX_LENGTH, "%s: %d", what, status);
    return status;
}

/* Strings packed one after the other, each NUL-terminated (processargs' args and environ); their bytes. */
static size_t strings_size(const char *const *v, uint32_t *count) {
    size_t n = 0;
    *count = 0;
    for (; v != NULL && v[*count] != NULL; (*count)++) n += strlen(v[*count]) + 1;
    return n;
}

static size_t strings_put(uint8_t *at, const char *const *v) {
    size_t n = 0;
    for (size_t i = 0; v != NULL && v[i] != NULL; i++) {
        size_t len = strlen(v[i]) + 1;
        memcpy(at + n, v[i], len);
        n += len;
    }
    return n;
}

/* The namespace: names[i] an absolute path for the PA_HND(PA_NS_DIR, i) handles (zircon/processargs.h; fdio binds
 * each handle's directory at its name, fdio_ns_bind), so every PA_NS_DIR handle's index must name one. */
static zx_status_t names_check(const char *const *names, size_t num_names, const uint32_t *infos, size_t num_handles,
                               char *err_msg) {
    if (num_names > 0 && names == NULL) return fail(err_msg, ZX_ERR_INVALID_ARGS, "namespace names missing");
    for (size_t i = 0; i < num_names; i++)
        if (names[i] == NULL || names[i][0] != '/')
            return fail(err_msg, ZX_ERR_INVALID_ARGS, "a namespace name is no absolute path");
    for (size_t i = 0; i < num_handles; i++)
        if (PA_TYPE(infos[i]) == PA_NS_DIR && ((infos[i] >> 16) & 0xFFFFu) >= num_names)
            return fail(err_msg, ZX_ERR_INVALID_ARGS, "a PA_NS_DIR handle names no entry of the names table");
    return ZX_OK;
}

hk_fx_serve_t *hk_fx_serve_new(zx_handle_t job, const char *const *argv, const char *const *environ,
                               const uint32_t *infos, const zx_handle_t *handles, size_t num_handles,
                               const char *const *names, size_t num_names, int64_t (*now)(void), zx_status_t *status,
                               char *err_msg) {
    hk_fx_serve_t *s = calloc(1, sizeof *s);
    zx_status_t st = s != NULL ? ZX_OK : ZX_ERR_NO_MEMORY;
    if (st == ZX_OK && (num_handles > MAX_BOOT_HANDLES - 1 || (num_handles > 0 && (infos == NULL || handles == NULL))))
        st = fail(err_msg, ZX_ERR_INVALID_ARGS, "too many bootstrap handles, or none given");
    if (st == ZX_OK) st = names_check(names, num_names, infos, num_handles, err_msg);
    /* The spawner's handles are consumed whatever the result. */
    if (st != ZX_OK) {
        if (handles != NULL) zx_handle_close_many(handles, num_handles);
        free(s);
        *status = st;
        return NULL;
    }
    s->now = now;
    s->boot_channel = ZX_HANDLE_INVALID;
    s->boot_program_end = ZX_HANDLE_INVALID;
    s->dyn_exec_vmo = s->dyn_loader = ZX_HANDLE_INVALID;
    for (size_t i = 0; i < num_handles; i++) {
        s->boot_handles[s->boot_num] = handles[i];
        s->boot_infos[s->boot_num++] = infos[i];
    }
    /* PA_JOB_DEFAULT: fdio_spawn's FDIO_SPAWN_CLONE_JOB duplicates the job with ZX_RIGHT_SAME_RIGHTS; a spawner that
     * gives one itself (fuchsia.process.Launcher's clients: fdio_spawn sends its own in AddHandles) gets no other. */
    bool job_given = false;
    for (size_t i = 0; i < num_handles; i++) job_given = job_given || infos[i] == PA_JOB_DEFAULT;
    zx_handle_t job_dup = ZX_HANDLE_INVALID;
    st = job_given ? ZX_OK : zx_handle_duplicate(job, ZX_RIGHT_SAME_RIGHTS, &job_dup);
    if (st != ZX_OK) {
        fail(err_msg, st, "failed to duplicate job");
    } else if (!job_given) {
        memmove(s->boot_handles + 1, s->boot_handles, s->boot_num * sizeof *s->boot_handles);
        memmove(s->boot_infos + 1, s->boot_infos, s->boot_num * sizeof *s->boot_infos);
        s->boot_handles[0] = job_dup;
        s->boot_infos[0] = PA_JOB_DEFAULT;
        s->boot_num++;
    }
    uint32_t argc = 0, envc = 0;
    size_t args = strings_size(argv, &argc), envs = strings_size(environ, &envc), nms = 0;
    for (size_t i = 0; st == ZX_OK && i < num_names; i++) nms += strlen(names[i]) + 1;
    size_t nh = s->boot_num + MADE_AT_WRITE;
    size_t len = sizeof(pa_header_t) + nh * sizeof(uint32_t) + args + envs + nms;
    if (st == ZX_OK && len > ZX_CHANNEL_MAX_MSG_BYTES)
        st = fail(err_msg, ZX_ERR_OUT_OF_RANGE, "argv, environ and names do not fit in a processargs message");
    if (st == ZX_OK && (s->boot_msg = calloc(1, len)) == NULL) st = ZX_ERR_NO_MEMORY;
    if (st == ZX_OK) {
        pa_header_t hdr = {
            .protocol = PA_PROTOCOL,
            .version = PA_VERSION,
            .handle_info_off = sizeof(pa_header_t),
            .args_off = (uint32_t)(sizeof(pa_header_t) + nh * sizeof(uint32_t)),
            .args_num = argc,
            .environ_off = (uint32_t)(sizeof(pa_header_t) + nh * sizeof(uint32_t) + args),
            .environ_num = envc,
            .names_off = (uint32_t)(len - nms),
            .names_num = (uint32_t)num_names,
        };
        memcpy(s->boot_msg, &hdr, sizeof hdr);
        strings_put(s->boot_msg + hdr.args_off, argv);
        strings_put(s->boot_msg + hdr.environ_off, environ);
        for (size_t i = 0, at = hdr.names_off; i < num_names; i++) { /* the names table: NUL-terminated paths */
            size_t n = strlen(names[i]) + 1;
            memcpy(s->boot_msg + at, names[i], n);
            at += n;
        }
        s->boot_len = (uint32_t)len;
        st = zx_channel_create(0, &s->boot_channel, &s->boot_program_end);
        if (st != ZX_OK) fail(err_msg, st, "no bootstrap channel");
    }
    if (st == ZX_OK && (s->table = hk_handle_table_new()) == NULL) st = ZX_ERR_NO_MEMORY;
    if (st != ZX_OK) {
        hk_fx_serve_free(s);
        *status = st;
        return NULL;
    }
    s->boot_pending = true;
    *status = ZX_OK;
    return s;
}

zx_status_t hk_fx_serve_attach(hk_fx_serve_t *s, hk_process_t *p, zx_handle_t *bootstrap) {
    hk_object_t *obj;
    zx_rights_t rights;
    zx_status_t st = hk_handle_take(s->boot_program_end, &obj, &rights); /* from the host table */
    if (st != ZX_OK) return st;
    s->boot_program_end = ZX_HANDLE_INVALID;
    s->p = p;
    hk_object_ref(&p->base);
    p->handle_table = s->table;
    hk_handle_table_t *saved = hk_cpu.table;
    hk_cpu.table = s->table;
    st = hk_handle_give(obj, rights, bootstrap);
    hk_cpu.table = saved;
    if (st != ZX_OK) hk_handle_drop(obj);
    return st;
}

hk_fuchsia_vm_t *hk_fx_serve_vm(hk_fx_serve_t *s) { return &s->vm; }

void hk_fx_serve_dynamic(hk_fx_serve_t *s, zx_handle_t exec_vmo) {
    s->dyn = true;
    s->dyn_exec_vmo = exec_vmo;
    for (size_t i = 0; i < s->boot_num; i++)
        if (PA_TYPE(s->boot_infos[i]) == PA_LDSVC_LOADER && s->dyn_loader == ZX_HANDLE_INVALID) {
            s->dyn_loader = s->boot_handles[i];
            memmove(&s->boot_handles[i], &s->boot_handles[i + 1], (s->boot_num - i - 1) * sizeof *s->boot_handles);
            memmove(&s->boot_infos[i], &s->boot_infos[i + 1], (s->boot_num - i - 1) * sizeof *s->boot_infos);
            s->boot_num--;
            break;
        }
    /* Fuchsia's launcher always hands ld.so.1 a loader service (fuchsia.process.Launcher's AddHandles or the
     * launcher's own connection): the program's, where the spawner gave none. */
    if (s->dyn_loader == ZX_HANDLE_INVALID && hk_fx_serve_loader_connect(s, &s->dyn_loader) != ZX_OK)
        s->dyn_loader = ZX_HANDLE_INVALID;
}

void hk_fx_serve_loaded(hk_fx_serve_t *s, uint64_t base, uint64_t size, const hk_fuchsia_vm_range_t *maps,
                        size_t num_maps) {
    s->loaded_base = base;
    s->loaded_size = size;
    s->loaded_num = num_maps < HK_FX_MAX_LOADED ? num_maps : HK_FX_MAX_LOADED;
    memcpy(s->loaded_maps, maps, s->loaded_num * sizeof *maps);
}

void hk_fx_serve_set_loader(hk_fx_serve_t *s, hk_fx_loader_t *loader) {
    hk_fx_loader_free(s->loader);
    s->loader = loader;
}

zx_status_t hk_fx_serve_loader_connect(hk_fx_serve_t *s, zx_handle_t *client) {
    return s->loader != NULL ? hk_fx_loader_connect(s->loader, client) : ZX_ERR_NOT_SUPPORTED;
}

void hk_fx_serve_free(hk_fx_serve_t *s) {
    if (s == NULL) return;
    hk_lock();
    /* A worker still blocked waits through a handle of this table: closing it ends the wait (CANCELED). */
    if (s->p != NULL) hk_handle_table_close(s->table);
    hk_unlock();
    /* A port wait does not end with its handle: its thread, dead with the program, is interrupted. */
    hk_lock();
    for (size_t i = 0; i < MAX_BLOCK_WORKERS; i++)
        if (s->blocks[i] != NULL) hk_wait_interrupt_thread(s->blocks[i]->zthread);
    hk_unlock();
    for (size_t i = 0; i < MAX_BLOCK_WORKERS; i++) {
        block_worker_t *w = s->blocks[i];
        if (w == NULL) continue;
        s->blocks[i] = NULL;
        pthread_join(w->thread, NULL);
        hk_lock();
        hk_object_unref(&w->zthread->base);
        hk_unlock();
        free(w);
    }
    /* Calls still waiting end CANCELED with their channel's handle (a reply handed over after the close is closed:
     * the table takes no handle any more). */
    for (size_t i = 0; i < MAX_CALL_WORKERS; i++) {
        call_worker_t *w = s->calls[i];
        if (w == NULL) continue;
        s->calls[i] = NULL;
        pthread_join(w->thread, NULL);
        hk_lock();
        hk_object_unref(&w->zthread->base);
        hk_unlock();
        call_worker_free(w);
    }
    hk_lock();
    if (s->p != NULL) hk_object_unref(&s->p->base); /* the process frees its table */
    else hk_handle_table_free(s->table);
    hk_unlock();
    hk_fuchsia_vm_release(&s->vm);
    hk_fx_serve_program_ended(s); /* a program that never started; nothing left to do for one that ended */
    free(s);
}

void hk_fx_serve_program_ended(hk_fx_serve_t *s) {
    hk_fx_loader_free(s->loader); /* ends every connection, its thread joined: the server ends are closed */
    s->loader = NULL;
    zx_handle_t left[MAX_BOOT_HANDLES + 4];
    size_t n = 0;
    for (size_t i = 0; i < s->boot_num; i++) left[n++] = s->boot_handles[i];
    if (s->boot_channel != ZX_HANDLE_INVALID) left[n++] = s->boot_channel;
    if (s->boot_program_end != ZX_HANDLE_INVALID) left[n++] = s->boot_program_end;
    if (s->dyn_exec_vmo != ZX_HANDLE_INVALID) left[n++] = s->dyn_exec_vmo;
    if (s->dyn_loader != ZX_HANDLE_INVALID) left[n++] = s->dyn_loader;
    zx_handle_close_many(left, n);
    s->boot_num = 0;
    s->boot_channel = s->boot_program_end = s->dyn_exec_vmo = s->dyn_loader = ZX_HANDLE_INVALID;
    s->boot_pending = false;
    free(s->boot_msg);
    s->boot_msg = NULL;
}
