/* Handle and info scenarios: handle-info, handle-dup, handle-close, object-child, object-info core tests
 * (zircon/system/utest/core/; scenarios 55-60 of the suite's numbering) and the handle rules that kill and suspend
 * rely on (zircon/kernel/lib/syscalls/{handle_ops,object,object_wait}.cc). */
#include <string.h>

#include "harness.h"
#include "scenarios.h"

static zx_status_t handle_valid(zx_handle_t h) {
    return zx_object_get_info(h, ZX_INFO_HANDLE_VALID, NULL, 0, NULL, NULL);
}

/* 55. DupAndInfoRights: HANDLE_VALID is OK, then BAD_HANDLE after close; HANDLE_BASIC with a 4-byte buffer is
 * BUFFER_TOO_SMALL (actual 0, avail 1); an event has BASIC|SIGNAL and no related koid. */
void s55_dup_and_info_rights(void) {
    zx_handle_t ev = t_event();
    T_OK(handle_valid(ev));
    zx_handle_t dup = ZX_HANDLE_INVALID;
    T_OK(zx_handle_duplicate(ev, ZX_RIGHT_SAME_RIGHTS, &dup));
    T_OK(handle_valid(dup));
    T_OK(zx_handle_close(dup));
    T_STATUS(ZX_ERR_BAD_HANDLE, handle_valid(dup));

    uint32_t small = 0;
    size_t actual = 99, avail = 99;
    T_STATUS(ZX_ERR_BUFFER_TOO_SMALL, zx_object_get_info(ev, ZX_INFO_HANDLE_BASIC, &small, 4, &actual, &avail));
    T_EQ(0, actual);
    T_EQ(1, avail);

    zx_info_handle_basic_t basic = t_basic(ev);
    T_EQ(ZX_OBJ_TYPE_EVENT, basic.type);
    T_EQ(ZX_RIGHTS_BASIC | ZX_RIGHT_SIGNAL, basic.rights);
    T_EQ(ZX_DEFAULT_EVENT_RIGHTS, basic.rights);
    T_EQ(0, basic.related_koid);
    T_NE(ZX_KOID_INVALID, basic.koid);
    T_TRUE((ev & ZX_HANDLE_FIXED_BITS_MASK) == ZX_HANDLE_FIXED_BITS_MASK);
}

/* 55. RelatedKoid: a process's related koid is its job's, a thread's its process's, a job's its parent's. */
void s55_related_koid(void) {
    zx_handle_t job = t_job();
    T_EQ(t_koid(zx_job_default()), t_basic(job).related_koid);
    zx_handle_t proc = t_created_process(job, NULL);
    T_EQ(t_koid(job), t_basic(proc).related_koid);
    zx_handle_t th = ZX_HANDLE_INVALID;
    T_OK(zx_thread_create(proc, "t", 1, 0, &th));
    t_own(th);
    T_EQ(t_koid(proc), t_basic(th).related_koid);
    T_EQ(t_koid(zx_job_default()), t_basic(zx_process_self()).related_koid);
    T_EQ(t_koid(zx_process_self()), t_basic(zx_thread_self()).related_koid);
    zx_info_handle_basic_t pb = t_basic(proc);
    T_EQ(ZX_OBJ_TYPE_PROCESS, pb.type);
    T_EQ(ZX_DEFAULT_PROCESS_RIGHTS, pb.rights);
}

/* 55. DuplicateRights: fewer rights are fine; a handle without DUPLICATE cannot be duplicated (ACCESS_DENIED);
 * asking for rights the source lacks is INVALID_ARGS. */
void s55_duplicate_rights(void) {
    zx_handle_t ev = t_event();
    zx_handle_t wait_only = t_dup(ev, ZX_RIGHT_WAIT);
    T_EQ(ZX_RIGHT_WAIT, t_basic(wait_only).rights);
    zx_handle_t out = ZX_HANDLE_INVALID;
    T_STATUS(ZX_ERR_ACCESS_DENIED, zx_handle_duplicate(wait_only, ZX_RIGHT_WAIT, &out));
    T_EQ(ZX_HANDLE_INVALID, out);
    T_STATUS(ZX_ERR_INVALID_ARGS, zx_handle_duplicate(ev, ZX_RIGHT_EXECUTE | ZX_RIGHT_WAIT, &out));
    T_STATUS(ZX_ERR_INVALID_ARGS, zx_handle_duplicate(ev, ZX_RIGHT_SAME_RIGHTS | ZX_RIGHT_WAIT, &out));
    T_EQ(ZX_HANDLE_INVALID, out);
    T_STATUS(ZX_ERR_BAD_HANDLE, zx_handle_duplicate(ZX_HANDLE_INVALID, ZX_RIGHT_SAME_RIGHTS, &out));
    zx_handle_t none = t_dup(ev, ZX_RIGHT_NONE);
    T_EQ(ZX_RIGHT_NONE, t_basic(none).rights);
    zx_handle_t same = t_dup(ev, ZX_RIGHT_SAME_RIGHTS);
    T_EQ(ZX_DEFAULT_EVENT_RIGHTS, t_basic(same).rights);
    T_EQ(t_koid(ev), t_koid(same));
}

/* 55/56. ReplaceRights, ReplaceFailureBothInvalid: replacing with more rights is INVALID_ARGS, and both the
 * source and the output are invalid afterwards; a good replace moves the object to a new handle. */
void s56_replace_failure_both_invalid(void) {
    zx_handle_t ev = t_event();
    zx_handle_t src = t_dup(ev, ZX_RIGHT_WAIT | ZX_RIGHT_TRANSFER);
    zx_handle_t out = ZX_HANDLE_INVALID;
    t_disown(src);
    T_STATUS(ZX_ERR_INVALID_ARGS, zx_handle_replace(src, ZX_RIGHT_WAIT | ZX_RIGHT_SIGNAL, &out));
    T_EQ(ZX_HANDLE_INVALID, out);
    T_STATUS(ZX_ERR_BAD_HANDLE, handle_valid(src));
    T_STATUS(ZX_ERR_BAD_HANDLE, zx_handle_close(src));

    zx_handle_t src2 = t_dup(ev, ZX_RIGHT_SAME_RIGHTS);
    t_disown(src2);
    T_OK(zx_handle_replace(src2, ZX_RIGHT_WAIT | ZX_RIGHT_TRANSFER, &out));
    t_own(out);
    zx_info_handle_basic_t basic = t_basic(out);
    T_EQ(ZX_RIGHT_WAIT | ZX_RIGHT_TRANSFER, basic.rights);
    T_EQ(t_koid(ev), basic.koid);
}

/* 57. handle-close: 0 closes OK; a garbage value is BAD_HANDLE; close_many with no entries is OK, skips 0
 * entries, and with a repeated value is BAD_HANDLE but still closes everything. */
void s57_handle_close(void) {
    T_OK(zx_handle_close(ZX_HANDLE_INVALID));
    T_STATUS(ZX_ERR_BAD_HANDLE, zx_handle_close((zx_handle_t)0xbadc0ffe));
    T_OK(zx_handle_close_many(NULL, 0));

    zx_handle_t a = t_event();
    zx_handle_t b = t_event();
    zx_handle_t set1[3] = {ZX_HANDLE_INVALID, a, ZX_HANDLE_INVALID};
    t_disown(a);
    T_OK(zx_handle_close_many(set1, 3));
    T_STATUS(ZX_ERR_BAD_HANDLE, handle_valid(a));

    zx_handle_t c = t_event();
    zx_handle_t set2[3] = {b, b, c};
    t_disown(b);
    t_disown(c);
    T_STATUS(ZX_ERR_BAD_HANDLE, zx_handle_close_many(set2, 3));
    T_STATUS(ZX_ERR_BAD_HANDLE, handle_valid(b));
    T_STATUS(ZX_ERR_BAD_HANDLE, handle_valid(c));
}

/* 59. object-child: get_child on an invalid handle is BAD_HANDLE; plus object.cc: the parent needs ENUMERATE, the
 * requested rights must be within the parent handle's (ACCESS_DENIED), SAME_RIGHTS copies the parent handle's
 * rights, and an unknown koid is NOT_FOUND. */
void s59_object_get_child(void) {
    zx_handle_t out = ZX_HANDLE_INVALID;
    T_STATUS(ZX_ERR_BAD_HANDLE, zx_object_get_child(ZX_HANDLE_INVALID, 1, ZX_RIGHT_SAME_RIGHTS, &out));
    zx_handle_t job = t_job();
    zx_handle_t child = t_child_job(job);
    zx_handle_t proc = t_created_process(job, NULL);
    zx_koid_t pk = t_koid(proc), ck = t_koid(child);

    zx_handle_t got = ZX_HANDLE_INVALID;
    T_OK(zx_object_get_child(job, pk, ZX_RIGHT_SAME_RIGHTS, &got));
    t_own(got);
    zx_info_handle_basic_t basic = t_basic(got);
    T_EQ(pk, basic.koid);
    T_EQ(ZX_OBJ_TYPE_PROCESS, basic.type);
    T_EQ(t_basic(job).rights, basic.rights);
    T_OK(zx_object_get_child(job, ck, ZX_RIGHT_WAIT | ZX_RIGHT_INSPECT, &got));
    t_own(got);
    T_EQ(ck, t_koid(got));
    T_EQ(ZX_RIGHT_WAIT | ZX_RIGHT_INSPECT, t_basic(got).rights);

    T_STATUS(ZX_ERR_NOT_FOUND, zx_object_get_child(job, t_koid(job), ZX_RIGHT_SAME_RIGHTS, &out));
    zx_handle_t no_enum = t_dup(job, ZX_DEFAULT_JOB_RIGHTS & ~ZX_RIGHT_ENUMERATE);
    T_STATUS(ZX_ERR_ACCESS_DENIED, zx_object_get_child(no_enum, pk, ZX_RIGHT_SAME_RIGHTS, &out));
    zx_handle_t narrow = t_dup(job, ZX_RIGHT_ENUMERATE | ZX_RIGHT_INSPECT);
    T_STATUS(ZX_ERR_ACCESS_DENIED, zx_object_get_child(narrow, pk, ZX_RIGHT_DESTROY, &out));
    zx_handle_t ev = t_event();
    T_STATUS(ZX_ERR_ACCESS_DENIED, zx_object_get_child(ev, pk, ZX_RIGHT_SAME_RIGHTS, &out));
    T_EQ(ZX_HANDLE_INVALID, out);
}

/* 60. object-info: JOB_CHILDREN/JOB_PROCESSES list direct children only and every koid works with get_child;
 * ENUMERATE is needed; wrong object types are WRONG_TYPE; size-0 buffers are fine for arrays, BUFFER_TOO_SMALL
 * for single records. */
void s60_object_info(void) {
    zx_handle_t job = t_job();
    zx_handle_t c1 = t_child_job(job);
    t_child_job(job);
    t_child_job(c1); /* a grandchild: not listed */
    zx_handle_t p1 = t_created_process(job, NULL);
    t_created_process(job, NULL);
    t_created_process(c1, NULL); /* a grandchild process: not listed */

    zx_koid_t koids[8];
    T_EQ(2, t_koids(job, ZX_INFO_JOB_CHILDREN, koids, 8));
    for (int i = 0; i < 2; i++) {
        zx_handle_t h = ZX_HANDLE_INVALID;
        T_OK(zx_object_get_child(job, koids[i], ZX_RIGHT_SAME_RIGHTS, &h));
        t_own(h);
        T_EQ(ZX_OBJ_TYPE_JOB, t_basic(h).type);
    }
    T_EQ(2, t_koids(job, ZX_INFO_JOB_PROCESSES, koids, 8));
    for (int i = 0; i < 2; i++) {
        zx_handle_t h = ZX_HANDLE_INVALID;
        T_OK(zx_object_get_child(job, koids[i], ZX_RIGHT_SAME_RIGHTS, &h));
        t_own(h);
        T_EQ(ZX_OBJ_TYPE_PROCESS, t_basic(h).type);
    }

    size_t actual = 99, avail = 99;
    T_OK(zx_object_get_info(job, ZX_INFO_JOB_CHILDREN, NULL, 0, &actual, &avail));
    T_EQ(0, actual);
    T_EQ(2, avail);
    T_OK(zx_object_get_info(job, ZX_INFO_JOB_PROCESSES, koids, sizeof koids[0], &actual, &avail));
    T_EQ(1, actual);
    T_EQ(2, avail);

    zx_handle_t no_enum = t_dup(job, ZX_DEFAULT_JOB_RIGHTS & ~ZX_RIGHT_ENUMERATE);
    T_STATUS(ZX_ERR_ACCESS_DENIED, zx_object_get_info(no_enum, ZX_INFO_JOB_CHILDREN, koids, sizeof koids, NULL, NULL));
    T_STATUS(ZX_ERR_ACCESS_DENIED, zx_object_get_info(no_enum, ZX_INFO_JOB_PROCESSES, koids, sizeof koids, NULL, NULL));
    T_STATUS(ZX_ERR_WRONG_TYPE, zx_object_get_info(p1, ZX_INFO_JOB_CHILDREN, koids, sizeof koids, NULL, NULL));
    T_STATUS(ZX_ERR_WRONG_TYPE, zx_object_get_info(zx_thread_self(), ZX_INFO_JOB_PROCESSES, koids, sizeof koids,
                                                   NULL, NULL));

    zx_info_thread_t tinfo;
    T_STATUS(ZX_ERR_WRONG_TYPE, zx_object_get_info(job, ZX_INFO_THREAD, &tinfo, sizeof tinfo, NULL, NULL));
    T_STATUS(ZX_ERR_WRONG_TYPE, zx_object_get_info(p1, ZX_INFO_THREAD, &tinfo, sizeof tinfo, NULL, NULL));
    actual = avail = 99;
    T_STATUS(ZX_ERR_BUFFER_TOO_SMALL, zx_object_get_info(zx_thread_self(), ZX_INFO_THREAD, NULL, 0, &actual, &avail));
    T_EQ(0, actual);
    T_TRUE(avail >= 1);
    actual = avail = 99;
    T_STATUS(ZX_ERR_BUFFER_TOO_SMALL, zx_object_get_info(job, ZX_INFO_HANDLE_BASIC, NULL, 0, &actual, &avail));
    T_EQ(0, actual);
    T_TRUE(avail >= 1);
    T_OK(zx_object_get_info(p1, ZX_INFO_PROCESS_THREADS, NULL, 0, &actual, &avail));
    T_EQ(0, avail);
}

/* object.cc: an unknown topic is NOT_SUPPORTED before the handle is looked up; typed topics check the type
 * before the rights; the right each topic needs. */
void r_get_info_errors(void) {
    uint8_t buf[128];
    T_STATUS(ZX_ERR_NOT_SUPPORTED, zx_object_get_info(ZX_HANDLE_INVALID, 0x7ffffff0u, buf, sizeof buf, NULL, NULL));
    T_STATUS(ZX_ERR_BAD_HANDLE, zx_object_get_info(ZX_HANDLE_INVALID, ZX_INFO_HANDLE_BASIC, buf, sizeof buf, NULL,
                                                   NULL));
    zx_handle_t job = t_job();
    zx_handle_t blind = t_dup(job, ZX_RIGHT_WAIT); /* no INSPECT, no ENUMERATE */
    T_STATUS(ZX_ERR_WRONG_TYPE, zx_object_get_info(blind, ZX_INFO_THREAD, buf, sizeof buf, NULL, NULL));
    T_STATUS(ZX_ERR_WRONG_TYPE, zx_object_get_info(blind, ZX_INFO_PROCESS, buf, sizeof buf, NULL, NULL));
    T_STATUS(ZX_ERR_ACCESS_DENIED, zx_object_get_info(blind, ZX_INFO_JOB, buf, sizeof buf, NULL, NULL));
    /* HANDLE_BASIC and HANDLE_VALID need no right. */
    zx_info_handle_basic_t basic;
    T_OK(zx_object_get_info(blind, ZX_INFO_HANDLE_BASIC, &basic, sizeof basic, NULL, NULL));
    T_EQ(ZX_RIGHT_WAIT, basic.rights);
    T_OK(zx_object_get_info(blind, ZX_INFO_HANDLE_VALID, NULL, 0, NULL, NULL));

    zx_handle_t proc = t_created_process(job, NULL);
    zx_handle_t pblind = t_dup(proc, ZX_RIGHT_WAIT);
    T_STATUS(ZX_ERR_ACCESS_DENIED, zx_object_get_info(pblind, ZX_INFO_PROCESS, buf, sizeof buf, NULL, NULL));
    T_STATUS(ZX_ERR_ACCESS_DENIED, zx_object_get_info(pblind, ZX_INFO_PROCESS_THREADS, buf, sizeof buf, NULL,
                                                      NULL));
    T_STATUS(ZX_ERR_WRONG_TYPE, zx_object_get_info(pblind, ZX_INFO_JOB, buf, sizeof buf, NULL, NULL));
    zx_handle_t tblind = t_dup(zx_thread_self(), ZX_RIGHT_WAIT);
    T_STATUS(ZX_ERR_ACCESS_DENIED, zx_object_get_info(tblind, ZX_INFO_THREAD, buf, sizeof buf, NULL, NULL));
}

/* object_wait.cc: wait_one returns at once for an active signal whatever the deadline; an inactive one
 * with a past deadline is TIMED_OUT with observed filled in; WAIT is required. */
void r_wait_one_rules(void) {
    zx_handle_t ev = t_event();
    zx_signals_t observed = 0xdead;
    T_STATUS(ZX_ERR_TIMED_OUT, zx_object_wait_one(ev, ZX_USER_SIGNAL_0, 0, &observed));
    T_EQ(0, observed);
    T_OK(zx_object_signal(ev, 0, ZX_USER_SIGNAL_0 | ZX_USER_SIGNAL_2));
    observed = 0;
    T_OK(zx_object_wait_one(ev, ZX_USER_SIGNAL_0, ZX_TIME_INFINITE_PAST, &observed));
    T_EQ(ZX_USER_SIGNAL_0 | ZX_USER_SIGNAL_2, observed);
    observed = 0;
    T_OK(zx_object_wait_one(ev, ZX_USER_SIGNAL_2 | ZX_USER_SIGNAL_5, ZX_TIME_INFINITE, &observed));
    T_EQ(ZX_USER_SIGNAL_0 | ZX_USER_SIGNAL_2, observed);
    observed = 0;
    T_STATUS(ZX_ERR_TIMED_OUT, zx_object_wait_one(ev, ZX_USER_SIGNAL_1, zx_deadline_after(1000 * 1000), &observed));
    T_EQ(ZX_USER_SIGNAL_0 | ZX_USER_SIGNAL_2, observed);
    T_OK(zx_object_signal(ev, ZX_USER_SIGNAL_0, 0));
    T_EQ(ZX_USER_SIGNAL_2, t_signals(ev));

    T_STATUS(ZX_ERR_BAD_HANDLE, zx_object_wait_one(ZX_HANDLE_INVALID, ZX_USER_SIGNAL_0, 0, &observed));
    zx_handle_t no_wait = t_dup(ev, ZX_DEFAULT_EVENT_RIGHTS & ~ZX_RIGHT_WAIT);
    T_STATUS(ZX_ERR_ACCESS_DENIED, zx_object_wait_one(no_wait, ZX_USER_SIGNAL_2, 0, &observed));
}
