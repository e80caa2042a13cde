/* Rule scenarios for the versioned info topics: every version of ZX_INFO_PROCESS, ZX_INFO_TASK_STATS and
 * ZX_INFO_TASK_RUNTIME by its own topic number and record (info_versions.h), whatever headers the suite was built
 * with.  Rules (zircon/kernel/lib/syscalls/object.cc): each version is looked up like the topic (same type and
 * rights checks, same order), filled from the same figures and converted to the version asked for
 * (ConvertInfoVersion), then copied by single_record_result: the buffer must hold that version's record, else
 * BUFFER_TOO_SMALL with actual 0 and avail 1; exactly that many bytes are written.  A version the kernel does not
 * know is NOT_SUPPORTED before the handle is looked up.  The host kernel answers every version; on Fuchsia the
 * versions the SDK's headers name must be answered (t_info_answered). */
#include <string.h>

#include "harness.h"
#include "scenarios.h"

#define GUARD 0xa5u
#define SLACK 16u

/* One version of a single-record topic for h, checked for the size rule, into rec (size bytes):
 *   - a buffer one byte short: BUFFER_TOO_SMALL, actual 0, avail 1, nothing written;
 *   - a larger buffer: OK, actual 1, avail 1, and nothing written past the version's record;
 *   - an exact buffer: OK (that answer is returned in rec). */
static void single_record(zx_handle_t h, uint32_t topic, void *rec, size_t size) {
    uint8_t buf[64 + SLACK];
    T_TRUE(size <= 64);
    size_t actual = 7, avail = 7;
    memset(buf, GUARD, sizeof buf);
    T_STATUS(ZX_ERR_BUFFER_TOO_SMALL, zx_object_get_info(h, topic, buf, size - 1, &actual, &avail));
    T_EQ(0, actual);
    T_EQ(1, avail);
    for (size_t i = 0; i < sizeof buf; i++)
        T_EQ(GUARD, buf[i]);

    actual = avail = 7;
    T_OK(zx_object_get_info(h, topic, buf, size + SLACK, &actual, &avail));
    T_EQ(1, actual);
    T_EQ(1, avail);
    for (size_t i = size; i < size + SLACK; i++)
        T_EQ(GUARD, buf[i]);

    memset(rec, GUARD, size);
    T_OK(zx_object_get_info(h, topic, rec, size, NULL, NULL));
}

/* The type and rights checks of a typed topic that needs INSPECT on `type`: a handle of another type is
 * WRONG_TYPE even without INSPECT (type before rights); one of the type without INSPECT is ACCESS_DENIED. */
static void typed_errors(uint32_t topic, zx_handle_t wrong_type, zx_handle_t right_type_blind) {
    uint8_t buf[64];
    zx_handle_t blind = t_dup(wrong_type, ZX_RIGHT_WAIT);
    T_STATUS(ZX_ERR_WRONG_TYPE, zx_object_get_info(wrong_type, topic, buf, sizeof buf, NULL, NULL));
    T_STATUS(ZX_ERR_WRONG_TYPE, zx_object_get_info(blind, topic, buf, sizeof buf, NULL, NULL));
    T_STATUS(ZX_ERR_ACCESS_DENIED, zx_object_get_info(right_type_blind, topic, buf, sizeof buf, NULL, NULL));
}

/* A version the kernel does not answer (Fuchsia only): NOT_SUPPORTED with a valid handle too. */
static void unanswered(zx_handle_t h, uint32_t topic) {
    uint8_t buf[64];
    T_STATUS(ZX_ERR_NOT_SUPPORTED, zx_object_get_info(h, topic, buf, sizeof buf, NULL, NULL));
}

static void process_v0(zx_handle_t h, t_info_process_v0_t *out) { single_record(h, T_INFO_PROCESS_V0, out, sizeof *out); }
static void process_v1(zx_handle_t h, t_info_process_v1_t *out) { single_record(h, T_INFO_PROCESS_V1, out, sizeof *out); }

static void check_v0(const t_info_process_v0_t *info, bool started, bool exited, int64_t return_code) {
    T_EQ(return_code, info->return_code);
    T_EQ(started, info->started);
    T_EQ(exited, info->exited);
    T_EQ(false, info->debugger_attached);
    for (size_t i = 0; i < sizeof info->padding1; i++)
        T_EQ(0, info->padding1[i]);
}

static void check_v1(const t_info_process_v1_t *info, uint32_t flags, int64_t return_code) {
    T_EQ(return_code, info->return_code);
    T_EQ(flags, info->flags);
    for (size_t i = 0; i < sizeof info->padding1; i++)
        T_EQ(0, info->padding1[i]);
}

/* ZX_INFO_PROCESS v0 (topic 3, 16 bytes: return_code, started, exited, debugger_attached) and v1 (0x10000003,
 * 24 bytes: return_code, start_time, flags) through a process's life: created, running, killed; and an unstarted
 * process that is killed (DEAD reports started, as GetInfo falls through from DEAD to RUNNING). */
void r_info_process_versions(void) {
    bool v0 = t_info_answered(T_INFO_PROCESS_V0), v1 = t_info_answered(T_INFO_PROCESS_V1);
    T_TRUE(v0 || v1);
    T_STATUS(ZX_ERR_NOT_SUPPORTED,
             zx_object_get_info(ZX_HANDLE_INVALID, T_INFO_TOPIC(3u, 2u), NULL, 0, NULL, NULL));
    t_info_process_v0_t i0;
    t_info_process_v1_t i1;
    const uint32_t started_exited = T_INFO_PROCESS_FLAG_STARTED | T_INFO_PROCESS_FLAG_EXITED;

    zx_handle_t job = t_job();
    zx_handle_t created = t_created_process(job, NULL);
    if (!v0) unanswered(created, T_INFO_PROCESS_V0);
    if (!v1) unanswered(created, T_INFO_PROCESS_V1);
    if (v0) {
        process_v0(created, &i0);
        check_v0(&i0, false, false, 0);
    }
    if (v1) {
        process_v1(created, &i1);
        check_v1(&i1, 0, 0);
        T_EQ(0, i1.start_time);
    }

    const char *args[] = {"block", NULL};
    zx_time_t before = zx_clock_get_monotonic();
    zx_handle_t proc = t_spawn(job, args);
    zx_time_t after = zx_clock_get_monotonic();
    zx_time_t start_time = 0;
    if (v0) {
        process_v0(proc, &i0);
        check_v0(&i0, true, false, 0);
    }
    if (v1) {
        process_v1(proc, &i1);
        check_v1(&i1, T_INFO_PROCESS_FLAG_STARTED, 0);
        T_TRUE(i1.start_time >= before && i1.start_time <= after);
        start_time = i1.start_time;
    }

    T_OK(zx_task_kill(proc));
    t_wait(proc, ZX_PROCESS_TERMINATED);
    if (v0) {
        process_v0(proc, &i0);
        check_v0(&i0, true, true, ZX_TASK_RETCODE_SYSCALL_KILL);
    }
    if (v1) {
        process_v1(proc, &i1);
        check_v1(&i1, started_exited, ZX_TASK_RETCODE_SYSCALL_KILL);
        T_EQ(start_time, i1.start_time);
    }

    T_OK(zx_task_kill(created));
    t_wait(created, ZX_PROCESS_TERMINATED);
    if (v0) {
        process_v0(created, &i0);
        check_v0(&i0, true, true, ZX_TASK_RETCODE_SYSCALL_KILL);
    }
    if (v1) {
        process_v1(created, &i1);
        check_v1(&i1, started_exited, ZX_TASK_RETCODE_SYSCALL_KILL);
        T_EQ(0, i1.start_time);
    }

    zx_handle_t pblind = t_dup(proc, ZX_RIGHT_WAIT);
    if (v0) typed_errors(T_INFO_PROCESS_V0, job, pblind);
    if (v1) typed_errors(T_INFO_PROCESS_V1, job, pblind);
}

static void check_stats(size_t mapped, size_t private_bytes, size_t shared, size_t scaled) {
    T_TRUE(private_bytes > 0);
    T_TRUE(mapped >= private_bytes + shared);
    T_TRUE(shared >= scaled);
}

/* ZX_INFO_TASK_STATS v0 (topic 12, 32 bytes) and v1 (0x1000000C, 40 bytes: + mem_fractional_scaled_shared_bytes):
 * the own process's memory by either version (a v0-sized buffer is too small for v1); processes only (a thread
 * or job is WRONG_TYPE); a dead process is BAD_STATE, even with a buffer too small for the record (GetStats comes
 * before the copy). */
void r_info_task_stats_versions(void) {
    bool v0 = t_info_answered(T_INFO_TASK_STATS_V0), v1 = t_info_answered(T_INFO_TASK_STATS_V1);
    T_TRUE(v0 || v1);
    T_STATUS(ZX_ERR_NOT_SUPPORTED,
             zx_object_get_info(ZX_HANDLE_INVALID, T_INFO_TOPIC(12u, 2u), NULL, 0, NULL, NULL));
    zx_handle_t self = zx_process_self();
    if (!v0) unanswered(self, T_INFO_TASK_STATS_V0);
    if (!v1) unanswered(self, T_INFO_TASK_STATS_V1);
    if (v0) {
        t_info_task_stats_v0_t s0;
        single_record(self, T_INFO_TASK_STATS_V0, &s0, sizeof s0);
        check_stats(s0.mem_mapped_bytes, s0.mem_private_bytes, s0.mem_shared_bytes, s0.mem_scaled_shared_bytes);
    }
    if (v1) {
        t_info_task_stats_v1_t s1;
        single_record(self, T_INFO_TASK_STATS_V1, &s1, sizeof s1);
        check_stats(s1.mem_mapped_bytes, s1.mem_private_bytes, s1.mem_shared_bytes, s1.mem_scaled_shared_bytes);
        size_t actual = 7, avail = 7;
        T_STATUS(ZX_ERR_BUFFER_TOO_SMALL, zx_object_get_info(self, T_INFO_TASK_STATS_V1, &s1,
                                                             sizeof(t_info_task_stats_v0_t), &actual, &avail));
        T_EQ(0, actual);
        T_EQ(1, avail);
    }

    zx_handle_t job = t_job();
    zx_handle_t created = t_created_process(job, NULL);
    zx_handle_t pblind = t_dup(created, ZX_RIGHT_WAIT);
    zx_handle_t th = t_thread_create("stats");
    t_info_task_stats_v1_t s;
    for (int version = 0; version < 2; version++) {
        uint32_t topic = version == 0 ? T_INFO_TASK_STATS_V0 : T_INFO_TASK_STATS_V1;
        if (!(version == 0 ? v0 : v1)) continue;
        T_OK(zx_object_get_info(created, topic, &s, sizeof s, NULL, NULL));
        T_STATUS(ZX_ERR_WRONG_TYPE, zx_object_get_info(th, topic, &s, sizeof s, NULL, NULL));
        typed_errors(topic, job, pblind);
    }
    T_OK(zx_task_kill(created));
    t_wait(created, ZX_PROCESS_TERMINATED);
    for (int version = 0; version < 2; version++) {
        uint32_t topic = version == 0 ? T_INFO_TASK_STATS_V0 : T_INFO_TASK_STATS_V1;
        if (!(version == 0 ? v0 : v1)) continue;
        T_STATUS(ZX_ERR_BAD_STATE, zx_object_get_info(created, topic, &s, sizeof s, NULL, NULL));
        T_STATUS(ZX_ERR_BAD_STATE, zx_object_get_info(created, topic, &s, 1, NULL, NULL));
    }
}

/* ZX_INFO_TASK_RUNTIME v0 (topic 30, 16 bytes: cpu_time, queue_time) and v1 (0x1000001E, 32 bytes: +
 * page_fault_time, lock_contention_time) for a thread, a process and a job: a new thread reads all zeros in both;
 * a v0-sized buffer is too small for v1; once a thread is dead its figures stop, and v0 gives v1's first two
 * fields; rights before type (an event is WRONG_TYPE with INSPECT, ACCESS_DENIED without). */
void r_info_task_runtime_versions(void) {
    bool v0 = t_info_answered(T_INFO_TASK_RUNTIME_V0), v1 = t_info_answered(T_INFO_TASK_RUNTIME_V1);
    T_TRUE(v0 || v1);
    T_STATUS(ZX_ERR_NOT_SUPPORTED,
             zx_object_get_info(ZX_HANDLE_INVALID, T_INFO_TOPIC(30u, 2u), NULL, 0, NULL, NULL));
    t_info_task_runtime_v0_t r0;
    t_info_task_runtime_v1_t r1;
    zx_handle_t th = t_thread_create("runtime");
    if (!v0) unanswered(th, T_INFO_TASK_RUNTIME_V0);
    if (!v1) unanswered(th, T_INFO_TASK_RUNTIME_V1);
    if (v0) {
        single_record(th, T_INFO_TASK_RUNTIME_V0, &r0, sizeof r0);
        T_EQ(0, r0.cpu_time);
        T_EQ(0, r0.queue_time);
    }
    if (v1) {
        single_record(th, T_INFO_TASK_RUNTIME_V1, &r1, sizeof r1);
        T_EQ(0, r1.cpu_time);
        T_EQ(0, r1.queue_time);
        T_EQ(0, r1.page_fault_time);
        T_EQ(0, r1.lock_contention_time);
        size_t actual = 7, avail = 7;
        T_STATUS(ZX_ERR_BUFFER_TOO_SMALL, zx_object_get_info(th, T_INFO_TASK_RUNTIME_V1, &r1,
                                                             sizeof(t_info_task_runtime_v0_t), &actual, &avail));
        T_EQ(0, actual);
        T_EQ(1, avail);
    }

    /* A thread that ran and died: its figures no longer change, so the two versions can be compared. */
    tf_ctl_t *ctl = t_ctl();
    t_thread_start(th, tf_exit, ctl);
    t_wait(th, ZX_THREAD_TERMINATED);
    if (v0 && v1) {
        single_record(th, T_INFO_TASK_RUNTIME_V0, &r0, sizeof r0);
        single_record(th, T_INFO_TASK_RUNTIME_V1, &r1, sizeof r1);
        T_EQ(r1.cpu_time, r0.cpu_time);
        T_EQ(r1.queue_time, r0.queue_time);
    }

    zx_handle_t job = t_job();
    zx_handle_t tasks[] = {zx_thread_self(), zx_process_self(), job};
    zx_handle_t ev = t_event();
    zx_handle_t ev_blind = t_dup(ev, ZX_RIGHT_WAIT);
    zx_handle_t job_blind = t_dup(job, ZX_RIGHT_WAIT);
    for (int version = 0; version < 2; version++) {
        uint32_t topic = version == 0 ? T_INFO_TASK_RUNTIME_V0 : T_INFO_TASK_RUNTIME_V1;
        if (!(version == 0 ? v0 : v1)) continue;
        size_t size = version == 0 ? sizeof r0 : sizeof r1;
        for (size_t i = 0; i < sizeof tasks / sizeof tasks[0]; i++) {
            single_record(tasks[i], topic, &r1, size);
            T_TRUE(r1.cpu_time >= 0 && r1.queue_time >= 0);
        }
        T_STATUS(ZX_ERR_WRONG_TYPE, zx_object_get_info(ev, topic, &r1, sizeof r1, NULL, NULL));
        T_STATUS(ZX_ERR_ACCESS_DENIED, zx_object_get_info(ev_blind, topic, &r1, sizeof r1, NULL, NULL));
        T_STATUS(ZX_ERR_ACCESS_DENIED, zx_object_get_info(job_blind, topic, &r1, sizeof r1, NULL, NULL));
    }
}
