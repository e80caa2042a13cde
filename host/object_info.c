/* zx_object_get_info and zx_object_get_child.
 *
 * Zircon rules kept here (zircon/kernel/lib/syscalls/object.cc, sys_object_get_info): an unknown topic is
 * NOT_SUPPORTED before the handle is looked up; typed topics check the type before the rights; a single-record
 * topic with too small a buffer gives BUFFER_TOO_SMALL with actual 0 and avail 1 (single_record_result), the size
 * being that of the record of the version asked for; an array topic never fails for size (actual <= avail).
 *
 * Every version of a versioned topic is answered, whichever headers this file was compiled with: the topic
 * numbers and records are the kernel's own (info_topics.h), as Zircon serves ZX_INFO_TASK_STATS_V1 and
 * ZX_INFO_TASK_RUNTIME_V1 next to the current topics (ConvertInfoVersion) and, per RFC-0074, topic 3 next to
 * 0x10000003 for ZX_INFO_PROCESS.
 */
#include <string.h>
#include <unistd.h>

#include "kernel.h"

/* ipc/socket.c, where it is linked (the helper programs that link the top-level host files only have no sockets). */
extern __typeof__(hk_socket_info_locked) hk_socket_info_locked __attribute__((weak));

typedef struct {
    void *buffer;
    size_t buffer_size;
    size_t actual, avail;
} info_out_t;

/* single_record_result: too small a buffer is BUFFER_TOO_SMALL (actual 0, avail 1); a buffer big enough that
 * cannot be written (NULL here) is INVALID_ARGS -- both only after the handle was looked up. */
static zx_status_t put_record(info_out_t *out, const void *record, size_t size) {
    if (out->buffer_size < size) {
        out->actual = 0;
        out->avail = 1;
        return ZX_ERR_BUFFER_TOO_SMALL;
    }
    if (out->buffer == NULL) return ZX_ERR_INVALID_ARGS;
    memcpy(out->buffer, record, size);
    out->actual = out->avail = 1;
    return ZX_OK;
}

static void put_koid(info_out_t *out, zx_koid_t koid) {
    if ((out->actual + 1) * sizeof(zx_koid_t) <= out->buffer_size) {
        if (out->buffer != NULL) ((zx_koid_t *)out->buffer)[out->actual] = koid;
        out->actual++;
    }
    out->avail++;
}

/* An array topic copies min(count, room) koids: with none to copy a NULL buffer is fine, else INVALID_ARGS
 * (sys_object_get_info's ZX_INFO_PROCESS_THREADS and SimpleJobEnumerator). */
static zx_status_t koids_done(const info_out_t *out) {
    return out->actual > 0 && out->buffer == NULL ? ZX_ERR_INVALID_ARGS : ZX_OK;
}

static zx_status_t info_handle_basic(zx_handle_t h, info_out_t *out) {
    hk_object_t *obj;
    zx_rights_t rights;
    zx_status_t status = hk_handle_get(h, ZX_OBJ_TYPE_NONE, ZX_RIGHT_NONE, &obj, &rights);
    if (status != ZX_OK) return status;
    zx_info_handle_basic_t info;
    memset(&info, 0, sizeof(info));
    info.koid = obj->koid;
    info.rights = rights;
    info.type = obj->type;
    info.related_koid = obj->ops->related_koid(obj);
    return put_record(out, &info, sizeof(info));
}

/* ZX_INFO_PROCESS, either version (info_topics.h).  A dead process reports STARTED too, even if it never ran
 * (ProcessDispatcher::GetInfo falls through from DEAD/DYING to RUNNING); no debugger ever attaches on the host. */
static zx_status_t info_process(hk_process_t *p, uint32_t topic, info_out_t *out) {
    bool started = p->state != HK_PROCESS_INITIAL;
    bool exited = p->state == HK_PROCESS_DYING || p->state == HK_PROCESS_DEAD;
    int64_t return_code = exited ? p->return_code : 0;
    if (topic == HK_INFO_PROCESS_V0) {
        hk_info_process_v0_t v0;
        memset(&v0, 0, sizeof(v0));
        v0.return_code = return_code;
        v0.started = started;
        v0.exited = exited;
        return put_record(out, &v0, sizeof(v0));
    }
    hk_info_process_v1_t v1;
    memset(&v1, 0, sizeof(v1));
    v1.return_code = return_code;
    v1.start_time = p->start_time;
    if (started) v1.flags |= HK_INFO_PROCESS_FLAG_STARTED;
    if (exited) v1.flags |= HK_INFO_PROCESS_FLAG_EXITED;
    return put_record(out, &v1, sizeof(v1));
}

static zx_status_t info_thread(hk_thread_t *t, info_out_t *out) {
    zx_info_thread_t info;
    memset(&info, 0, sizeof(info));
    info.state = hk_thread_info_state(t);
    /* NONE unless the thread is in an exception and a handler's channel holds it (ipc/exception.c). */
    info.wait_exception_channel_type = t->exception != NULL ? t->exception_channel_type : ZX_EXCEPTION_CHANNEL_TYPE_NONE;
    if (t->state != HK_THREAD_DEAD) { /* the mask reads 0 once the thread is gone */
        long cpus = sysconf(_SC_NPROCESSORS_CONF);
        for (long cpu = 0; cpu < cpus && cpu < ZX_CPU_SET_MAX_CPUS; cpu++)
            info.cpu_affinity_mask.mask[cpu / ZX_CPU_SET_BITS_PER_WORD] |= 1ull << (cpu % ZX_CPU_SET_BITS_PER_WORD);
    }
    return put_record(out, &info, sizeof(info));
}

/* ZX_INFO_THREAD_EXCEPTION_REPORT (ThreadDispatcher::GetExceptionReport): BAD_STATE unless the thread is in an
 * exception.  Topic 11 (_V1) is the report before the context gained synth_code/synth_data: its first 32 bytes,
 * header.size saying so. */
#define HK_EXCEPTION_REPORT_V0_SIZE 32u
static zx_status_t info_exception_report(hk_thread_t *t, uint32_t topic, info_out_t *out) {
    if (t->exception == NULL) return ZX_ERR_BAD_STATE;
    zx_exception_report_t report = t->exception_report;
    if (topic == ZX_INFO_THREAD_EXCEPTION_REPORT_V1) {
        report.header.size = HK_EXCEPTION_REPORT_V0_SIZE;
        return put_record(out, &report, HK_EXCEPTION_REPORT_V0_SIZE);
    }
    report.header.size = sizeof(report);
    return put_record(out, &report, sizeof(report));
}

static zx_status_t info_job(hk_job_t *job, info_out_t *out) {
    zx_info_job_t info;
    memset(&info, 0, sizeof(info));
    info.exited = job->state != HK_JOB_READY;
    info.return_code = job->return_code;
    return put_record(out, &info, sizeof(info));
}

static zx_status_t info_handle_stats(hk_process_t *p, info_out_t *out) {
    zx_info_process_handle_stats_t info;
    memset(&info, 0, sizeof(info));
    /* The calling process's handles are the host table; a Fuchsia program has its own table; other processes hold
     * no handles. */
    if (p->kind == HK_PROCESS_SELF) hk_handle_count_by_type(NULL, info.handle_count);
    else if (p->handle_table != NULL) hk_handle_count_by_type(p->handle_table, info.handle_count);
    return put_record(out, &info, sizeof(info));
}

static zx_status_t info_thread_stats(hk_thread_t *t, info_out_t *out) {
    /* Once the thread is gone there is no scheduler state left to report (GetStatsForUserspace). */
    if (t->state == HK_THREAD_DEAD) return ZX_ERR_BAD_STATE;
    hk_info_task_runtime_v1_t runtime;
    hk_thread_runtime(t, &runtime);
    zx_info_thread_stats_t info;
    memset(&info, 0, sizeof(info));
    info.total_runtime = runtime.cpu_time;
    info.last_scheduled_cpu = hk_thread_last_cpu(t);
    return put_record(out, &info, sizeof(info));
}

/* ZX_INFO_TASK_STATS, either version: GetStats first (BAD_STATE once the process is DEAD), then the record of the
 * asked version, whose own size decides BUFFER_TOO_SMALL (ConvertInfoVersion + single_record_result). */
static zx_status_t info_task_stats(hk_process_t *p, uint32_t topic, info_out_t *out) {
    if (p->state == HK_PROCESS_DEAD) return ZX_ERR_BAD_STATE; /* its address space is gone (GetStats) */
    hk_info_task_stats_v1_t info;
    hk_process_task_stats(p, &info);
    if (topic == HK_INFO_TASK_STATS_V0) {
        hk_info_task_stats_v0_t v0;
        memset(&v0, 0, sizeof(v0));
        v0.mem_mapped_bytes = info.mem_mapped_bytes;
        v0.mem_private_bytes = info.mem_private_bytes;
        v0.mem_shared_bytes = info.mem_shared_bytes;
        v0.mem_scaled_shared_bytes = info.mem_scaled_shared_bytes;
        return put_record(out, &v0, sizeof(v0));
    }
    return put_record(out, &info, sizeof(info));
}

/* ZX_INFO_TASK_RUNTIME, either version: an untyped lookup needing INSPECT (rights before type), then thread,
 * process or job, else WRONG_TYPE; then the record of the asked version (its own size for BUFFER_TOO_SMALL). */
static zx_status_t info_task_runtime(zx_handle_t h, uint32_t topic, info_out_t *out) {
    hk_object_t *obj;
    zx_status_t status = hk_handle_get(h, ZX_OBJ_TYPE_NONE, ZX_RIGHT_INSPECT, &obj, NULL);
    if (status != ZX_OK) return status;
    hk_info_task_runtime_v1_t info;
    memset(&info, 0, sizeof(info));
    switch (obj->type) {
    case ZX_OBJ_TYPE_THREAD: hk_thread_runtime(HK_CONTAINER_OF(obj, hk_thread_t, base), &info); break;
    case ZX_OBJ_TYPE_PROCESS: hk_process_runtime(HK_CONTAINER_OF(obj, hk_process_t, base), &info); break;
    case ZX_OBJ_TYPE_JOB: hk_job_runtime(HK_CONTAINER_OF(obj, hk_job_t, base), &info); break;
    default: return ZX_ERR_WRONG_TYPE;
    }
    if (topic == HK_INFO_TASK_RUNTIME_V0) {
        hk_info_task_runtime_v0_t v0;
        memset(&v0, 0, sizeof(v0));
        v0.cpu_time = info.cpu_time;
        v0.queue_time = info.queue_time;
        return put_record(out, &v0, sizeof(v0));
    }
    return put_record(out, &info, sizeof(info));
}

/* Look h up for a typed topic: type first, then rights. */
static zx_status_t typed(zx_handle_t h, zx_obj_type_t type, zx_rights_t rights, hk_object_t **obj) {
    return hk_handle_get(h, type, rights, obj, NULL);
}

static zx_status_t get_info_locked(zx_handle_t h, uint32_t topic, info_out_t *out) {
    hk_object_t *obj;
    zx_status_t status;
    switch (topic) {
    case ZX_INFO_HANDLE_VALID:
        return hk_handle_get(h, ZX_OBJ_TYPE_NONE, ZX_RIGHT_NONE, &obj, NULL);
    case ZX_INFO_HANDLE_BASIC:
        return info_handle_basic(h, out);
    case HK_INFO_PROCESS_V0:
    case HK_INFO_PROCESS_V1:
        if ((status = typed(h, ZX_OBJ_TYPE_PROCESS, ZX_RIGHT_INSPECT, &obj)) != ZX_OK) return status;
        return info_process(HK_CONTAINER_OF(obj, hk_process_t, base), topic, out);
    case ZX_INFO_PROCESS_HANDLE_STATS:
        if ((status = typed(h, ZX_OBJ_TYPE_PROCESS, ZX_RIGHT_INSPECT, &obj)) != ZX_OK) return status;
        return info_handle_stats(HK_CONTAINER_OF(obj, hk_process_t, base), out);
    case ZX_INFO_THREAD:
        if ((status = typed(h, ZX_OBJ_TYPE_THREAD, ZX_RIGHT_INSPECT, &obj)) != ZX_OK) return status;
        return info_thread(HK_CONTAINER_OF(obj, hk_thread_t, base), out);
    case ZX_INFO_JOB:
        if ((status = typed(h, ZX_OBJ_TYPE_JOB, ZX_RIGHT_INSPECT, &obj)) != ZX_OK) return status;
        return info_job(HK_CONTAINER_OF(obj, hk_job_t, base), out);
    case ZX_INFO_THREAD_STATS:
        if ((status = typed(h, ZX_OBJ_TYPE_THREAD, ZX_RIGHT_INSPECT, &obj)) != ZX_OK) return status;
        return info_thread_stats(HK_CONTAINER_OF(obj, hk_thread_t, base), out);
    case ZX_INFO_THREAD_EXCEPTION_REPORT_V1:
    case ZX_INFO_THREAD_EXCEPTION_REPORT:
        if ((status = typed(h, ZX_OBJ_TYPE_THREAD, ZX_RIGHT_INSPECT, &obj)) != ZX_OK) return status;
        return info_exception_report(HK_CONTAINER_OF(obj, hk_thread_t, base), topic, out);
    case HK_INFO_TASK_STATS_V0:
    case HK_INFO_TASK_STATS_V1:
        if ((status = typed(h, ZX_OBJ_TYPE_PROCESS, ZX_RIGHT_INSPECT, &obj)) != ZX_OK) return status;
        return info_task_stats(HK_CONTAINER_OF(obj, hk_process_t, base), topic, out);
    case HK_INFO_TASK_RUNTIME_V0:
    case HK_INFO_TASK_RUNTIME_V1:
        return info_task_runtime(h, topic, out);
    case ZX_INFO_PROCESS_THREADS: {
        if ((status = typed(h, ZX_OBJ_TYPE_PROCESS, ZX_RIGHT_ENUMERATE, &obj)) != ZX_OK) return status;
        hk_process_t *p = HK_CONTAINER_OF(obj, hk_process_t, base);
        HK_LIST_FOR_EACH(it, &p->threads) put_koid(out, HK_CONTAINER_OF(it, hk_thread_t, sibling)->base.koid);
        return koids_done(out);
    }
    case HK_INFO_SOCKET: {
        /* sys_object_get_info's ZX_INFO_SOCKET: a SOCKET handle with INSPECT, one record (GetInfo).  Sockets live
         * in ipc/socket.c; a program built without it has none, so the lookup fails before the call. */
        if ((status = typed(h, ZX_OBJ_TYPE_SOCKET, ZX_RIGHT_INSPECT, &obj)) != ZX_OK) return status;
        if (hk_socket_info_locked == NULL) return ZX_ERR_WRONG_TYPE;
        hk_info_socket_t info;
        hk_socket_info_locked(obj, &info);
        return put_record(out, &info, sizeof(info));
    }
    case ZX_INFO_JOB_CHILDREN:
    case ZX_INFO_JOB_PROCESSES: {
        if ((status = typed(h, ZX_OBJ_TYPE_JOB, ZX_RIGHT_ENUMERATE, &obj)) != ZX_OK) return status;
        hk_job_t *job = HK_CONTAINER_OF(obj, hk_job_t, base);
        if (topic == ZX_INFO_JOB_CHILDREN) {
            HK_LIST_FOR_EACH(it, &job->jobs) put_koid(out, HK_CONTAINER_OF(it, hk_job_t, sibling)->base.koid);
        } else {
            HK_LIST_FOR_EACH(it, &job->processes) put_koid(out, HK_CONTAINER_OF(it, hk_process_t, sibling)->base.koid);
        }
        return koids_done(out);
    }
    default:
        return ZX_ERR_NOT_SUPPORTED;
    }
}

static bool topic_known(uint32_t topic) {
    switch (topic) {
    case ZX_INFO_HANDLE_VALID:
    case ZX_INFO_HANDLE_BASIC:
    case HK_INFO_PROCESS_V0:
    case HK_INFO_PROCESS_V1:
    case ZX_INFO_PROCESS_HANDLE_STATS:
    case ZX_INFO_THREAD:
    case ZX_INFO_JOB:
    case ZX_INFO_PROCESS_THREADS:
    case ZX_INFO_JOB_CHILDREN:
    case ZX_INFO_JOB_PROCESSES:
    case ZX_INFO_THREAD_STATS:
    case ZX_INFO_THREAD_EXCEPTION_REPORT_V1:
    case ZX_INFO_THREAD_EXCEPTION_REPORT:
    case HK_INFO_TASK_STATS_V0:
    case HK_INFO_TASK_STATS_V1:
    case HK_INFO_TASK_RUNTIME_V0:
    case HK_INFO_TASK_RUNTIME_V1:
    case HK_INFO_SOCKET:
        return true;
    default:
        return false;
    }
}

zx_status_t zx_object_get_info(zx_handle_t handle, uint32_t topic, void *buffer, size_t buffer_size,
                               size_t *actual, size_t *avail) {
    if (!topic_known(topic)) return ZX_ERR_NOT_SUPPORTED; /* decided before the handle is looked up */
    /* An unwritable buffer is found only when a record is copied, after the lookup (put_record, koids_done). */
    info_out_t out = {.buffer = buffer, .buffer_size = buffer_size};
    hk_lock();
    zx_status_t status = get_info_locked(handle, topic, &out);
    hk_unlock();
    if (status == ZX_OK || status == ZX_ERR_BUFFER_TOO_SMALL) {
        if (actual) *actual = out.actual;
        if (avail) *avail = out.avail;
    }
    return status;
}

static hk_object_t *find_child(hk_object_t *parent, zx_koid_t koid) {
    if (parent->type == ZX_OBJ_TYPE_PROCESS) {
        hk_process_t *p = HK_CONTAINER_OF(parent, hk_process_t, base);
        HK_LIST_FOR_EACH(it, &p->threads) {
            hk_thread_t *t = HK_CONTAINER_OF(it, hk_thread_t, sibling);
            if (t->base.koid == koid) return &t->base;
        }
        return NULL;
    }
    hk_job_t *job = HK_CONTAINER_OF(parent, hk_job_t, base);
    HK_LIST_FOR_EACH(it, &job->jobs) {
        hk_job_t *child = HK_CONTAINER_OF(it, hk_job_t, sibling);
        if (child->base.koid == koid) return &child->base;
    }
    HK_LIST_FOR_EACH(it, &job->processes) {
        hk_process_t *child = HK_CONTAINER_OF(it, hk_process_t, sibling);
        if (child->base.koid == koid) return &child->base;
    }
    return NULL;
}

zx_status_t zx_object_get_child(zx_handle_t handle, uint64_t koid, zx_rights_t rights, zx_handle_t *out) {
    hk_lock();
    hk_object_t *parent;
    zx_rights_t parent_rights;
    /* Untyped lookup needing ENUMERATE; the child's rights come from the parent handle's (not its type's). */
    zx_status_t status = hk_handle_get(handle, ZX_OBJ_TYPE_NONE, ZX_RIGHT_ENUMERATE, &parent, &parent_rights);
    zx_rights_t child_rights = rights == ZX_RIGHT_SAME_RIGHTS ? parent_rights : rights;
    if (status == ZX_OK && (child_rights & ~parent_rights) != 0) status = ZX_ERR_ACCESS_DENIED;
    if (status == ZX_OK && parent->type != ZX_OBJ_TYPE_PROCESS && parent->type != ZX_OBJ_TYPE_JOB)
        status = ZX_ERR_WRONG_TYPE;
    hk_object_t *child = NULL;
    if (status == ZX_OK && (child = find_child(parent, koid)) == NULL) status = ZX_ERR_NOT_FOUND;
    if (status == ZX_OK && out == NULL) status = ZX_ERR_INVALID_ARGS;
    if (status == ZX_OK) status = hk_handle_alloc(child, child_rights, out);
    hk_unlock();
    return status;
}
