/* CPU time and memory figures of tasks: ZX_INFO_TASK_RUNTIME, ZX_INFO_THREAD_STATS and ZX_INFO_TASK_STATS.
 *
 * Zircon rules kept here (object.cc, thread/process/job_dispatcher.cc):
 *   - a thread's runtime is its own CPU time and run-queue time: 0 before it starts, and still readable, no longer
 *     changing, once it is dead;
 *   - a process's runtime is that of its dead threads (added when each one dies) plus that of its live threads;
 *   - a job's runtime is that of its dead child processes (added when each one leaves the job) plus that of its
 *     live child processes.  Child jobs are not counted, neither live nor dead;
 *   - ZX_INFO_THREAD_STATS gives the thread's CPU time and the CPU it last ran on (ZX_INFO_INVALID_CPU before it
 *     ever ran);
 *   - ZX_INFO_TASK_STATS gives the memory of a process's address space.
 *
 * Where the figures come from on Linux:
 *   - cpu_time: the backend's exact figure where it has one (hk_thread_ops_t.cpu_time: the thread's CPU clock for
 *     threads of this process, self_thread.c); otherwise -- threads of a spawned program -- the first field of
 *     /proc/<tid>/schedstat (the scheduler's sum_exec_runtime of that one task, which can lag a running thread by
 *     up to one scheduler tick);
 *   - queue_time: the second schedstat field (run_delay: time spent runnable, waiting for a CPU).  Linux counts it
 *     from the moment the thread is queued, so a thread that found a CPU free at once may show 0;
 *   - page_fault_time and lock_contention_time: Linux keeps no such per-thread figure, so they are 0;
 *   - the last CPU: field 39 ("processor") of /proc/<tid>/task/<tid>/stat;
 *   - memory: /proc/<pid>/statm (the mapped size) and /proc/<pid>/smaps_rollup (private, shared, proportional).
 *     A process made by zx_process_create has no address space on the host: its figures are 0.
 * Once a thread is dead its last sample is kept: the backends take that sample while the OS thread still exists
 * (self_thread.c as the thread leaves, linux_monitor.c before it reaps the task), and hk_thread_report_exited takes
 * one if they did not.
 *
 * Everything here runs with the kernel lock held.  Reading /proc does not block on anything the kernel holds.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kernel.h"

void hk_runtime_add(hk_info_task_runtime_v1_t *sum, const hk_info_task_runtime_v1_t *add) {
    sum->cpu_time += add->cpu_time;
    sum->queue_time += add->queue_time;
    sum->page_fault_time += add->page_fault_time;
    sum->lock_contention_time += add->lock_contention_time;
}

/* The /proc directory of one Linux thread, whichever process it belongs to. */
static void task_path(char *out, size_t size, pid_t tid, const char *file) {
    snprintf(out, size, "/proc/%d/task/%d/%s", (int)tid, (int)tid, file);
}

/* Sample t's OS thread into *out; false if nothing could be read. */
static bool sample_thread(const hk_thread_t *t, hk_info_task_runtime_v1_t *out) {
    if (t->tid == 0 || t->kind == HK_THREAD_UNBACKED) return false;
    memset(out, 0, sizeof(*out));
    char path[64], buf[128];
    /* /proc/<tid>/schedstat, not .../task/<tid>/schedstat: the same per-task figures (proc_pid_schedstat reads the
     * task the directory names, leader or not), through two /proc inodes instead of four.  Linux instantiates and
     * caches an inode per path component, and reaping the task invalidates them all (proc_flush_pid): the monitor
     * samples every thread of a killed program once, and that cost is paid per thread. */
    snprintf(path, sizeof(path), "/proc/%d/schedstat", (int)t->tid);
    bool have = false;
    unsigned long long run_ns = 0, wait_ns = 0;
    if (hk_read_proc(path, buf, sizeof(buf)) && sscanf(buf, "%llu %llu", &run_ns, &wait_ns) == 2) {
        out->cpu_time = (zx_duration_t)run_ns;
        out->queue_time = (zx_duration_t)wait_ns;
        have = true;
    }
    zx_duration_t cpu;
    if (t->ops->cpu_time != NULL && t->ops->cpu_time(t, &cpu)) { /* the backend's exact figure, where it has one */
        out->cpu_time = cpu;
        have = true;
    }
    return have;
}

/* Fold a new sample in; the figures never go backwards (the two sources of cpu_time may differ slightly). */
static void keep_sample(hk_thread_t *t, const hk_info_task_runtime_v1_t *s) {
    if (s->cpu_time > t->runtime.cpu_time) t->runtime.cpu_time = s->cpu_time;
    if (s->queue_time > t->runtime.queue_time) t->runtime.queue_time = s->queue_time;
}

void hk_thread_runtime(hk_thread_t *t, hk_info_task_runtime_v1_t *out) {
    hk_info_task_runtime_v1_t s;
    if (!t->runtime_final && t->state != HK_THREAD_NEW && sample_thread(t, &s)) keep_sample(t, &s);
    *out = t->runtime;
}

void hk_thread_freeze_runtime(hk_thread_t *t) {
    hk_info_task_runtime_v1_t ignored;
    hk_thread_runtime(t, &ignored);
    t->runtime_final = true;
}

uint32_t hk_thread_last_cpu(hk_thread_t *t) {
    if (t->state == HK_THREAD_NEW || t->tid == 0 || t->kind == HK_THREAD_UNBACKED) return ZX_INFO_INVALID_CPU;
    char path[64], buf[1024];
    task_path(path, sizeof(path), t->tid, "stat");
    if (!hk_read_proc(path, buf, sizeof(buf))) return ZX_INFO_INVALID_CPU;
    /* Fields after the command name, which is in parentheses and may itself hold spaces or parentheses. */
    char *p = strrchr(buf, ')');
    if (p == NULL) return ZX_INFO_INVALID_CPU;
    p++;
    /* The state is field 3 and "processor" field 39: skip 36 fields. */
    for (int field = 3; field < 39; field++) {
        p = strchr(p + 1, ' ');
        if (p == NULL) return ZX_INFO_INVALID_CPU;
    }
    char *end;
    errno = 0;
    unsigned long cpu = strtoul(p + 1, &end, 10);
    if (end == p + 1 || errno != 0 || cpu >= ZX_CPU_SET_MAX_CPUS) return ZX_INFO_INVALID_CPU;
    return (uint32_t)cpu;
}

void hk_process_runtime(hk_process_t *p, hk_info_task_runtime_v1_t *out) {
    *out = p->exited_runtime;
    HK_LIST_FOR_EACH(it, &p->threads) {
        hk_info_task_runtime_v1_t r;
        hk_thread_runtime(HK_CONTAINER_OF(it, hk_thread_t, sibling), &r);
        hk_runtime_add(out, &r);
    }
}

void hk_job_runtime(hk_job_t *job, hk_info_task_runtime_v1_t *out) {
    *out = job->exited_runtime;
    HK_LIST_FOR_EACH(it, &job->processes) {
        hk_info_task_runtime_v1_t r;
        hk_process_runtime(HK_CONTAINER_OF(it, hk_process_t, sibling), &r);
        hk_runtime_add(out, &r);
    }
}

/* The value in kB of a "Name:   1234 kB" line of smaps_rollup, 0 if absent. */
static uint64_t rollup_kb(const char *text, const char *name) {
    size_t len = strlen(name);
    for (const char *line = text; line != NULL && *line; line = strchr(line, '\n')) {
        if (*line == '\n') line++;
        if (strncmp(line, name, len) == 0 && line[len] == ':') return strtoull(line + len + 1, NULL, 10);
    }
    return 0;
}

void hk_process_task_stats(hk_process_t *p, hk_info_task_stats_v1_t *out) {
    memset(out, 0, sizeof(*out));
    pid_t pid = p->ops->pid(p);
    if (pid <= 0) return;
    char path[64], buf[2048];
    long page = sysconf(_SC_PAGESIZE);
    unsigned long long size_pages = 0;
    snprintf(path, sizeof(path), "/proc/%d/statm", (int)pid);
    if (hk_read_proc(path, buf, sizeof(buf)) && sscanf(buf, "%llu", &size_pages) == 1 && page > 0)
        out->mem_mapped_bytes = (size_t)(size_pages * (unsigned long long)page);
    snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int)pid);
    if (!hk_read_proc(path, buf, sizeof(buf))) return; /* a zombie has no address space left */
    uint64_t private_kb = rollup_kb(buf, "Private_Clean") + rollup_kb(buf, "Private_Dirty") +
                          rollup_kb(buf, "Private_Hugetlb");
    uint64_t shared_kb = rollup_kb(buf, "Shared_Clean") + rollup_kb(buf, "Shared_Dirty") +
                         rollup_kb(buf, "Shared_Hugetlb");
    uint64_t pss_kb = rollup_kb(buf, "Pss");
    out->mem_private_bytes = (size_t)(private_kb * 1024);
    out->mem_shared_bytes = (size_t)(shared_kb * 1024);
    /* Pss counts private pages whole and each shared page divided by the number of processes mapping it. */
    out->mem_scaled_shared_bytes = (size_t)((pss_kb > private_kb ? pss_kb - private_kb : 0) * 1024);
    if (out->mem_scaled_shared_bytes > out->mem_shared_bytes) out->mem_scaled_shared_bytes = out->mem_shared_bytes;
    /* Linux reports whole kB: there is no fraction of a byte to give. */
    out->mem_fractional_scaled_shared_bytes = 0;
}
