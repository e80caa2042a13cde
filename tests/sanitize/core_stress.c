/* Concurrent stress of the host kernel's C core, for the sanitizer builds (tox -e sanitize).
 *
 *   core_stress [-t THREADS] [-n OPS_PER_THREAD] [-w] [-s SEED]
 *
 * THREADS pthreads share 64 handle slots and run OPS_PER_THREAD random calls each: create jobs, processes,
 * threads and events; suspend (tokens go into the slots too); duplicate and replace with random rights; close,
 * close_many with a repeated value; kill; wait_one with short deadlines; infinite waits cancelled by another
 * thread closing the handle; every get_info topic; get_child; object_signal; channels (create, write moving a
 * handle, read, calls with short deadlines) and ports (create, queue, wait with short deadlines).  With -w, real
 * threads of this process (zx_thread_start, a counting entry) are created too, and get suspended, resumed and
 * stopped under the same storm.
 *
 * A handle taken out of a slot (atomic exchange) belongs to the taker, so closing or replacing it must succeed;
 * a handle only peeked at may be closed, and its value reused, by another thread meanwhile, so any status Zircon
 * defines for that call is allowed - but nothing else (the statuses zircon/kernel/lib/syscalls/{task,handle_ops}.cc
 * return; process/process.cc CreateAndKillJobRaceStress: a kill is always OK on a valid job).  At the end every
 * top-level job is killed, every handle closed, and this process's handle count (ZX_INFO_PROCESS_HANDLE_STATS)
 * must be back to its starting value.  Exit 0 on success.
 *
 * The sanitizers add the rest: ASan/UBSan (use-after-free, overflow, undefined behaviour, and LeakSanitizer at exit
 * for kernel objects whose references were lost), TSan (data races on kernel state).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zircon/process.h>
#include <zircon/syscalls.h>
#include <zircon/syscalls/object.h>
#include <zircon/syscalls/port.h>
#include <zircon/types.h>

#define SLOTS 64
#define MAX_TOPS 64
#define MAX_WORKERS 6

static _Atomic zx_handle_t g_slots[SLOTS];
static _Atomic zx_handle_t g_wait_slot; /* an event handle someone is waiting on forever */
static _Atomic int g_failed;
static _Atomic uint64_t g_calls;

static pthread_mutex_t g_tops_lock = PTHREAD_MUTEX_INITIALIZER;
static zx_handle_t g_tops[MAX_TOPS]; /* private handles to the jobs made under the default job */
static int g_ntops;

typedef struct {
    _Atomic uint64_t count;
    _Atomic uint32_t stop;
    zx_handle_t thread; /* private handle */
    bool started;
} worker_t;
static worker_t g_workers[MAX_WORKERS];
static int g_nworkers;
static bool g_with_workers;

#define ALLOW(...) ((const zx_status_t[]){__VA_ARGS__, 1})

static void check(const char *what, zx_status_t st, const zx_status_t *allowed) {
    atomic_fetch_add(&g_calls, 1);
    for (; *allowed != 1; allowed++)
        if (*allowed == st) return;
    fprintf(stderr, "core_stress: %s returned %d, which Zircon does not allow here\n", what, st);
    atomic_store(&g_failed, 1);
}

static uint32_t rnd(uint64_t *state) {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    return (uint32_t)(*state >> 11);
}

static zx_handle_t peek(uint64_t *r) { return atomic_load(&g_slots[rnd(r) % SLOTS]); }
static zx_handle_t take(uint64_t *r) { return atomic_exchange(&g_slots[rnd(r) % SLOTS], ZX_HANDLE_INVALID); }

static void put(uint64_t *r, zx_handle_t h) {
    if (h == ZX_HANDLE_INVALID) return;
    for (int tries = 0; tries < 4; tries++) {
        zx_handle_t expected = ZX_HANDLE_INVALID;
        if (atomic_compare_exchange_strong(&g_slots[rnd(r) % SLOTS], &expected, h)) return;
    }
    check("zx_handle_close(put overflow)", zx_handle_close(h), ALLOW(ZX_OK));
}

static zx_rights_t some_rights(uint64_t *r) {
    static const zx_rights_t picks[] = {
        ZX_RIGHT_SAME_RIGHTS, ZX_RIGHT_SAME_RIGHTS, ZX_RIGHT_NONE, ZX_RIGHT_WAIT | ZX_RIGHT_INSPECT,
        ZX_RIGHT_DUPLICATE | ZX_RIGHT_WRITE | ZX_RIGHT_DESTROY, ZX_RIGHTS_BASIC | ZX_RIGHT_ENUMERATE,
        ZX_DEFAULT_JOB_RIGHTS, ZX_DEFAULT_PROCESS_RIGHTS, ZX_DEFAULT_THREAD_RIGHTS, ZX_RIGHT_SAME_RIGHTS | 1,
    };
    return picks[rnd(r) % (sizeof picks / sizeof picks[0])];
}

static void worker_entry(uintptr_t arg, uintptr_t unused) {
    (void)unused;
    worker_t *w = (worker_t *)arg;
    while (!atomic_load(&w->stop)) {
        atomic_fetch_add(&w->count, 1);
        zx_nanosleep(zx_deadline_after(20 * 1000));
    }
    zx_thread_exit();
}

static void new_worker(uint64_t *r) {
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&lock);
    if (g_nworkers < MAX_WORKERS) {
        worker_t *w = &g_workers[g_nworkers];
        zx_handle_t t;
        zx_status_t st = zx_thread_create(zx_process_self(), "stress", 6, 0, &t);
        check("zx_thread_create(self)", st, ALLOW(ZX_OK));
        if (st == ZX_OK) {
            w->thread = t;
            g_nworkers++;
            zx_handle_t dup;
            if (zx_handle_duplicate(t, ZX_RIGHT_SAME_RIGHTS, &dup) == ZX_OK) put(r, dup);
            /* Sometimes suspend it before it starts: it must park before running its entry. */
            zx_handle_t token = ZX_HANDLE_INVALID;
            if (rnd(r) % 2) check("zx_task_suspend(new)", zx_task_suspend(t, &token), ALLOW(ZX_OK));
            check("zx_thread_start", zx_thread_start(t, (zx_vaddr_t)worker_entry, 0, (uintptr_t)w, 0), ALLOW(ZX_OK));
            w->started = true;
            put(r, token);
        }
    }
    pthread_mutex_unlock(&lock);
}

static void new_top_job(uint64_t *r) {
    pthread_mutex_lock(&g_tops_lock);
    if (g_ntops < MAX_TOPS) {
        zx_handle_t job;
        zx_status_t st = zx_job_create(zx_job_default(), 0, &job);
        check("zx_job_create(default)", st, ALLOW(ZX_OK));
        if (st == ZX_OK) {
            g_tops[g_ntops++] = job;
            zx_handle_t dup;
            check("zx_handle_duplicate(top)", zx_handle_duplicate(job, ZX_RIGHT_SAME_RIGHTS, &dup), ALLOW(ZX_OK));
            put(r, dup);
        }
    }
    pthread_mutex_unlock(&g_tops_lock);
}

static void one_op(uint64_t *r) {
    zx_handle_t h, out = ZX_HANDLE_INVALID;
    switch (rnd(r) % 26) {
    case 0:
        new_top_job(r);
        break;
    case 1:
        check("zx_job_create", zx_job_create(peek(r), 0, &out),
              ALLOW(ZX_OK, ZX_ERR_BAD_HANDLE, ZX_ERR_WRONG_TYPE, ZX_ERR_ACCESS_DENIED, ZX_ERR_BAD_STATE,
                    ZX_ERR_OUT_OF_RANGE));
        put(r, out);
        break;
    case 2: {
        zx_handle_t vmar = ZX_HANDLE_INVALID;
        check("zx_process_create", zx_process_create(peek(r), "p", 1, 0, &out, &vmar),
              ALLOW(ZX_OK, ZX_ERR_BAD_HANDLE, ZX_ERR_WRONG_TYPE, ZX_ERR_ACCESS_DENIED, ZX_ERR_BAD_STATE));
        zx_handle_close(vmar);
        put(r, out);
        break;
    }
    case 3:
        check("zx_thread_create", zx_thread_create(peek(r), "t", 1, 0, &out),
              ALLOW(ZX_OK, ZX_ERR_BAD_HANDLE, ZX_ERR_WRONG_TYPE, ZX_ERR_ACCESS_DENIED, ZX_ERR_BAD_STATE));
        put(r, out);
        break;
    case 4:
    case 5:
        check("zx_task_suspend", zx_task_suspend(peek(r), &out),
              ALLOW(ZX_OK, ZX_ERR_BAD_HANDLE, ZX_ERR_WRONG_TYPE, ZX_ERR_ACCESS_DENIED, ZX_ERR_BAD_STATE));
        put(r, out);
        break;
    case 6:
    case 7:
        if ((h = take(r)) != ZX_HANDLE_INVALID) check("zx_handle_close(owned)", zx_handle_close(h), ALLOW(ZX_OK));
        break;
    case 8: {
        zx_handle_t many[3] = {take(r), take(r), ZX_HANDLE_INVALID};
        many[2] = many[0];
        zx_status_t want = many[0] != ZX_HANDLE_INVALID ? ZX_ERR_BAD_HANDLE : ZX_OK;
        check("zx_handle_close_many(repeated)", zx_handle_close_many(many, 3), ALLOW(want));
        break;
    }
    case 9:
        check("zx_handle_duplicate", zx_handle_duplicate(peek(r), some_rights(r), &out),
              ALLOW(ZX_OK, ZX_ERR_BAD_HANDLE, ZX_ERR_ACCESS_DENIED, ZX_ERR_INVALID_ARGS));
        put(r, out);
        break;
    case 10:
        if ((h = take(r)) != ZX_HANDLE_INVALID) {
            check("zx_handle_replace(owned)", zx_handle_replace(h, some_rights(r), &out),
                  ALLOW(ZX_OK, ZX_ERR_INVALID_ARGS));
            put(r, out);
        }
        break;
    case 11:
        check("zx_task_kill", zx_task_kill(peek(r)),
              ALLOW(ZX_OK, ZX_ERR_BAD_HANDLE, ZX_ERR_ACCESS_DENIED, ZX_ERR_WRONG_TYPE));
        break;
    case 12: {
        zx_signals_t observed;
        check("zx_object_wait_one", zx_object_wait_one(peek(r), rnd(r), zx_deadline_after(rnd(r) % 200000), &observed),
              ALLOW(ZX_OK, ZX_ERR_TIMED_OUT, ZX_ERR_BAD_HANDLE, ZX_ERR_ACCESS_DENIED, ZX_ERR_CANCELED));
        break;
    }
    case 13: {
        static const uint32_t topics[] = {ZX_INFO_HANDLE_VALID, ZX_INFO_HANDLE_BASIC, ZX_INFO_PROCESS,
                                          ZX_INFO_PROCESS_THREADS, ZX_INFO_JOB_CHILDREN, ZX_INFO_JOB_PROCESSES,
                                          ZX_INFO_THREAD, ZX_INFO_JOB, ZX_INFO_PROCESS_HANDLE_STATS};
        uint64_t buf[64];
        size_t actual, avail;
        size_t size = rnd(r) % 2 ? sizeof buf : rnd(r) % 16;
        check("zx_object_get_info",
              zx_object_get_info(peek(r), topics[rnd(r) % 9], buf, size, &actual, &avail),
              ALLOW(ZX_OK, ZX_ERR_BAD_HANDLE, ZX_ERR_WRONG_TYPE, ZX_ERR_ACCESS_DENIED, ZX_ERR_BUFFER_TOO_SMALL));
        break;
    }
    case 14: {
        zx_info_handle_basic_t info;
        zx_koid_t koid = rnd(r);
        if (zx_object_get_info(peek(r), ZX_INFO_HANDLE_BASIC, &info, sizeof info, NULL, NULL) == ZX_OK)
            koid = info.koid;
        check("zx_object_get_child", zx_object_get_child(peek(r), koid, some_rights(r), &out),
              ALLOW(ZX_OK, ZX_ERR_BAD_HANDLE, ZX_ERR_ACCESS_DENIED, ZX_ERR_WRONG_TYPE, ZX_ERR_NOT_FOUND));
        put(r, out);
        break;
    }
    case 15:
        check("zx_object_signal", zx_object_signal(peek(r), rnd(r) % 2 ? ZX_USER_SIGNAL_ALL : 0, ZX_USER_SIGNAL_1),
              ALLOW(ZX_OK, ZX_ERR_BAD_HANDLE, ZX_ERR_ACCESS_DENIED, ZX_ERR_INVALID_ARGS));
        break;
    case 16:
        check("zx_event_create", zx_event_create(0, &out), ALLOW(ZX_OK));
        put(r, out);
        break;
    case 17: {
        /* Wait forever on an event whose only other handle another thread will close or signal. */
        zx_handle_t ev, dup;
        check("zx_event_create", zx_event_create(0, &ev), ALLOW(ZX_OK));
        check("zx_handle_duplicate(event)", zx_handle_duplicate(ev, ZX_RIGHT_SAME_RIGHTS, &dup), ALLOW(ZX_OK));
        zx_handle_t expected = ZX_HANDLE_INVALID;
        if (atomic_compare_exchange_strong(&g_wait_slot, &expected, dup)) {
            zx_signals_t observed = 0;
            /* The waiter's own handle is `dup`, which the other thread closes: CANCELED (handle-wait.c), or
             * BAD_HANDLE if it was closed before the wait began. */
            zx_status_t st = zx_object_wait_one(dup, ZX_EVENT_SIGNALED, ZX_TIME_INFINITE, &observed);
            check("zx_object_wait_one(forever)", st, ALLOW(ZX_OK, ZX_ERR_CANCELED, ZX_ERR_BAD_HANDLE));
            if (st == ZX_ERR_CANCELED && !(observed & ZX_SIGNAL_HANDLE_CLOSED)) {
                fprintf(stderr, "core_stress: CANCELED without HANDLE_CLOSED (observed %#x)\n", observed);
                atomic_store(&g_failed, 1);
            }
        } else {
            zx_handle_close(dup);
        }
        check("zx_handle_close(event)", zx_handle_close(ev), ALLOW(ZX_OK));
        break;
    }
    case 18:
        if ((h = atomic_exchange(&g_wait_slot, ZX_HANDLE_INVALID)) != ZX_HANDLE_INVALID) {
            if (rnd(r) % 2) {
                check("zx_object_signal(waited)", zx_object_signal(h, 0, ZX_EVENT_SIGNALED), ALLOW(ZX_OK));
            }
            check("zx_handle_close(waited)", zx_handle_close(h), ALLOW(ZX_OK));
        }
        break;
    case 19:
        if (g_with_workers && rnd(r) % 8 == 0) new_worker(r);
        break;
    case 20: {
        zx_handle_t a = ZX_HANDLE_INVALID, b = ZX_HANDLE_INVALID;
        check("zx_channel_create", zx_channel_create(0, &a, &b), ALLOW(ZX_OK));
        put(r, a);
        put(r, b);
        break;
    }
    case 21: {
        /* Sometimes moving an owned handle along -- never a channel end: one queued at itself (or in a ring of
         * channels) keeps itself alive, in Zircon too.  The moved handle is consumed whatever the result. */
        zx_handle_t moved = rnd(r) % 2 ? take(r) : ZX_HANDLE_INVALID;
        zx_info_handle_basic_t info;
        if (moved != ZX_HANDLE_INVALID &&
            (zx_object_get_info(moved, ZX_INFO_HANDLE_BASIC, &info, sizeof info, NULL, NULL) != ZX_OK ||
             info.type == ZX_OBJ_TYPE_CHANNEL)) {
            put(r, moved);
            moved = ZX_HANDLE_INVALID;
        }
        uint8_t bytes[16] = {0};
        check("zx_channel_write",
              zx_channel_write(peek(r), 0, bytes, rnd(r) % 17, &moved, moved != ZX_HANDLE_INVALID ? 1 : 0),
              ALLOW(ZX_OK, ZX_ERR_BAD_HANDLE, ZX_ERR_WRONG_TYPE, ZX_ERR_ACCESS_DENIED, ZX_ERR_PEER_CLOSED));
        break;
    }
    case 22: {
        uint8_t bytes[16];
        zx_handle_t got[1] = {ZX_HANDLE_INVALID};
        uint32_t nb = 0, nh = 0;
        zx_status_t st = zx_channel_read(peek(r), rnd(r) % 4 ? 0 : ZX_CHANNEL_READ_MAY_DISCARD, bytes, got,
                                         rnd(r) % 17, rnd(r) % 2, &nb, &nh);
        check("zx_channel_read", st,
              ALLOW(ZX_OK, ZX_ERR_SHOULD_WAIT, ZX_ERR_PEER_CLOSED, ZX_ERR_BUFFER_TOO_SMALL, ZX_ERR_BAD_HANDLE,
                    ZX_ERR_WRONG_TYPE, ZX_ERR_ACCESS_DENIED));
        if (st == ZX_OK && nh == 1) put(r, got[0]);
        break;
    }
    case 23: {
        zx_port_packet_t packet;
        memset(&packet, 0, sizeof packet);
        packet.key = rnd(r);
        if (rnd(r) % 4 == 0) {
            check("zx_port_create", zx_port_create(0, &out), ALLOW(ZX_OK));
            put(r, out);
        } else if (rnd(r) % 2) {
            check("zx_port_queue", zx_port_queue(peek(r), &packet),
                  ALLOW(ZX_OK, ZX_ERR_BAD_HANDLE, ZX_ERR_WRONG_TYPE, ZX_ERR_ACCESS_DENIED, ZX_ERR_SHOULD_WAIT));
        } else {
            check("zx_port_wait", zx_port_wait(peek(r), zx_deadline_after(rnd(r) % 200000), &packet),
                  ALLOW(ZX_OK, ZX_ERR_TIMED_OUT, ZX_ERR_BAD_HANDLE, ZX_ERR_WRONG_TYPE, ZX_ERR_ACCESS_DENIED));
        }
        break;
    }
    case 25: {
        /* Asynchronous waits: observers armed on random objects for random ports, fired, cancelled, or removed
         * when a handle or the port goes (zx_object_wait_async, zx_port_cancel). */
        uint64_t key = rnd(r) % 4;
        zx_signals_t signals = rnd(r) % 2 ? ZX_USER_SIGNAL_0 : (zx_signals_t)rnd(r);
        if (rnd(r) % 3) {
            check("zx_object_wait_async",
                  zx_object_wait_async(peek(r), peek(r), key, signals, rnd(r) % 4 ? 0 : (uint32_t)(rnd(r) % 4)),
                  ALLOW(ZX_OK, ZX_ERR_BAD_HANDLE, ZX_ERR_WRONG_TYPE, ZX_ERR_ACCESS_DENIED, ZX_ERR_NOT_SUPPORTED,
                        ZX_ERR_INVALID_ARGS));
        } else {
            check("zx_port_cancel", zx_port_cancel(peek(r), peek(r), key),
                  ALLOW(ZX_OK, ZX_ERR_NOT_FOUND, ZX_ERR_BAD_HANDLE, ZX_ERR_WRONG_TYPE, ZX_ERR_ACCESS_DENIED,
                        ZX_ERR_NOT_SUPPORTED));
        }
        break;
    }
    case 24: {
        uint8_t request[8] = {0}, reply[8];
        uint32_t nb = 0, nh = 0;
        zx_channel_call_args_t args = {
            .wr_bytes = request, .rd_bytes = reply, .wr_num_bytes = sizeof request, .rd_num_bytes = sizeof reply};
        check("zx_channel_call",
              zx_channel_call(peek(r), 0, zx_deadline_after(rnd(r) % 200000), &args, &nb, &nh),
              ALLOW(ZX_OK, ZX_ERR_TIMED_OUT, ZX_ERR_PEER_CLOSED, ZX_ERR_CANCELED, ZX_ERR_BAD_HANDLE,
                    ZX_ERR_WRONG_TYPE, ZX_ERR_ACCESS_DENIED, ZX_ERR_BUFFER_TOO_SMALL));
        break;
    }
    }
}

typedef struct {
    uint64_t seed;
    long ops;
    _Atomic int done;
} stress_arg_t;

static void *stress_thread(void *p) {
    stress_arg_t *a = p;
    uint64_t r = a->seed | 1;
    for (long i = 0; i < a->ops && !atomic_load(&g_failed); i++) one_op(&r);
    atomic_store(&a->done, 1);
    return NULL;
}

static uint32_t handle_total(void) {
    zx_info_process_handle_stats_t stats;
    if (zx_object_get_info(zx_process_self(), ZX_INFO_PROCESS_HANDLE_STATS, &stats, sizeof stats, NULL, NULL) != ZX_OK)
        return UINT32_MAX;
    uint32_t total = 0;
    for (unsigned i = 0; i < ZX_OBJ_TYPE_UPPER_BOUND; i++) total += stats.handle_count[i];
    return total;
}

int main(int argc, char **argv) {
    int nthreads = 4;
    long ops = 20000;
    uint64_t seed = 0x5eed;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-t") && i + 1 < argc) nthreads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "-n") && i + 1 < argc) ops = atol(argv[++i]);
        else if (!strcmp(argv[i], "-s") && i + 1 < argc) seed = strtoull(argv[++i], NULL, 0);
        else if (!strcmp(argv[i], "-w")) g_with_workers = true;
        else {
            fprintf(stderr, "usage: %s [-t THREADS] [-n OPS_PER_THREAD] [-w] [-s SEED]\n", argv[0]);
            return 2;
        }
    }
    if (nthreads < 1 || nthreads > 64) nthreads = 4;
    zx_job_default();
    zx_process_self();
    uint32_t baseline = handle_total();
    uint64_t r = seed;
    new_top_job(&r);

    pthread_t threads[64];
    stress_arg_t args[64];
    for (int i = 0; i < nthreads; i++) {
        args[i].seed = seed * 0x9E3779B97F4A7C15ull + (uint64_t)i * 7919;
        args[i].ops = ops;
        atomic_init(&args[i].done, 0);
        pthread_create(&threads[i], NULL, stress_thread, &args[i]);
    }
    /* While they finish, keep releasing whoever waits forever on the wait slot. */
    for (;;) {
        int done = 0;
        for (int i = 0; i < nthreads; i++) done += atomic_load(&args[i].done);
        if (done == nthreads) break;
        zx_handle_t h = atomic_exchange(&g_wait_slot, ZX_HANDLE_INVALID);
        if (h != ZX_HANDLE_INVALID) zx_handle_close(h);
        zx_nanosleep(zx_deadline_after(1000 * 1000));
    }
    for (int i = 0; i < nthreads; i++) pthread_join(threads[i], NULL);
    zx_handle_close(atomic_exchange(&g_wait_slot, ZX_HANDLE_INVALID));

    /* Tear down: stop the workers, close every slot (tokens included, so they run and exit), kill the tops. */
    for (int i = 0; i < g_nworkers; i++) atomic_store(&g_workers[i].stop, 1);
    for (int i = 0; i < SLOTS; i++) {
        zx_handle_t h = atomic_exchange(&g_slots[i], ZX_HANDLE_INVALID);
        if (h != ZX_HANDLE_INVALID) check("zx_handle_close(teardown)", zx_handle_close(h), ALLOW(ZX_OK));
    }
    for (int i = 0; i < g_nworkers; i++) {
        zx_signals_t observed;
        check("zx_object_wait_one(worker exit)",
              zx_object_wait_one(g_workers[i].thread, ZX_THREAD_TERMINATED, zx_deadline_after(30ll * 1000000000),
                                 &observed),
              ALLOW(ZX_OK));
        zx_handle_close(g_workers[i].thread);
    }
    for (int i = 0; i < g_ntops; i++) {
        zx_signals_t observed;
        check("zx_task_kill(top)", zx_task_kill(g_tops[i]), ALLOW(ZX_OK));
        check("zx_object_wait_one(top dead)",
              zx_object_wait_one(g_tops[i], ZX_JOB_TERMINATED, zx_deadline_after(30ll * 1000000000), &observed),
              ALLOW(ZX_OK));
        zx_handle_close(g_tops[i]);
    }
    uint32_t after = handle_total();
    if (after != baseline) {
        fprintf(stderr, "core_stress: %u handles at the start, %u at the end\n", baseline, after);
        atomic_store(&g_failed, 1);
    }
    printf("core_stress: %d threads x %ld ops, %llu calls checked, %d worker threads, %d top jobs: %s\n", nthreads,
           ops, (unsigned long long)atomic_load(&g_calls), g_nworkers, g_ntops,
           atomic_load(&g_failed) ? "FAILED" : "ok");
    return atomic_load(&g_failed) ? 1 : 0;
}
