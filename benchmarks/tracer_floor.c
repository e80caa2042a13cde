/* The floor of a suspend round trip when one tracer thread serves the requests of others (issue 11 goal 3).
 *
 * Linux lets only the tracer thread make ptrace requests of a tracee (ptrace_check_attach in kernel/ptrace.c:
 * child->parent == current), so a suspension asked for by any other thread is a hand-off to the tracer and back.
 * This program measures that design with nothing else in it: no Python, no handles, no kernel lock.  A requesting
 * thread asks a tracer thread (a real-time signal that breaks its waitid, as zxpy's monitor is woken) to stop a
 * sleeping child with PTRACE_INTERRUPT; the tracer reports the stop through a futex word; the requester then asks
 * for PTRACE_CONT and waits for that report.  Next to it, on the same kind of child: SIGSTOP + waitid(WSTOPPED) +
 * SIGCONT + waitid(WCONTINUED) (benchmarks/bench.py's reference), and the round trip made by the tracer itself.
 *
 *   cc -O2 -pthread benchmarks/tracer_floor.c -o tracer_floor && ./tracer_floor [round trips] [cpu, or -1]
 *
 * With a cpu, every thread and child runs on that one CPU (as bench.py's pinned rows).  Prints one line per
 * design: its name and the minimum over 5 runs, in microseconds per round trip.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define WAKE_SIGNAL (SIGRTMIN + 7)
#define REPEAT 5

enum { REQ_NONE, REQ_STOP, REQ_CONT, REQ_QUIT };

static int g_cpu = -1;
static pid_t g_child;
static _Atomic pid_t g_tracer_tid;
static atomic_int g_request;
static atomic_int g_stopped; /* the tracer's report: 1 once the child is in its stop, 0 once it runs again */
static sigjmp_buf g_jump;
static volatile sig_atomic_t g_armed;

static void die(const char *what) {
    perror(what);
    if (g_child > 0) kill(g_child, SIGKILL);
    exit(1);
}

static void pin(void) {
    if (g_cpu < 0) return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(g_cpu, &set);
    if (sched_setaffinity(0, sizeof(set), &set) != 0) die("sched_setaffinity");
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void futex_wait(atomic_int *word, int value) {
    while (atomic_load(word) == value) syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, value, NULL, NULL, 0);
}

static void futex_wake(atomic_int *word) { syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0); }

static void wake_handler(int sig) {
    (void)sig;
    if (g_armed) {
        g_armed = 0;
        siglongjmp(g_jump, 1);
    }
}

/* A child that sleeps, as bench.py's /bin/sleep does. */
static pid_t start_sleeper(void) {
    pid_t pid = fork();
    if (pid < 0) die("fork");
    if (pid == 0) {
        for (;;) {
            struct timespec t = {100, 0};
            nanosleep(&t, NULL);
        }
    }
    return pid;
}

/* The tracer thread: waits in waitid for the child, and is woken for requests by WAKE_SIGNAL. */
static void *tracer_main(void *arg) {
    (void)arg;
    pin();
    g_child = start_sleeper();
    if (ptrace(PTRACE_SEIZE, g_child, 0, 0) != 0) die("PTRACE_SEIZE");
    sigset_t wake;
    sigemptyset(&wake);
    sigaddset(&wake, WAKE_SIGNAL);
    bool interrupting = false;
    atomic_store(&g_tracer_tid, (pid_t)syscall(SYS_gettid));
    for (;;) {
        sigsetjmp(g_jump, 0); /* every signal is blocked here: this thread's mask, or the handler's on a jump */
        switch (atomic_exchange(&g_request, REQ_NONE)) {
        case REQ_STOP:
            if (ptrace(PTRACE_INTERRUPT, g_child, 0, 0) != 0) die("PTRACE_INTERRUPT");
            interrupting = true;
            break;
        case REQ_CONT:
            if (ptrace(PTRACE_CONT, g_child, 0, 0) != 0) die("PTRACE_CONT");
            atomic_store(&g_stopped, 0);
            futex_wake(&g_stopped);
            break;
        case REQ_QUIT:
            kill(g_child, SIGKILL);
            waitpid(g_child, NULL, __WALL);
            return NULL;
        default: break;
        }
        int status;
        if (interrupting && waitpid(g_child, &status, __WALL | WNOHANG) == g_child) {
            interrupting = false;
            atomic_store(&g_stopped, 1);
            futex_wake(&g_stopped);
            continue;
        }
        g_armed = 1;
        pthread_sigmask(SIG_UNBLOCK, &wake, NULL); /* a request that came meanwhile jumps back now */
        siginfo_t si;
        waitid(P_PID, (id_t)g_child, &si, WSTOPPED | WEXITED | WNOWAIT | __WALL);
        pthread_sigmask(SIG_BLOCK, &wake, NULL);
        g_armed = 0;
    }
}

static void ask(int request) {
    atomic_store(&g_request, request);
    syscall(SYS_tgkill, getpid(), atomic_load(&g_tracer_tid), WAKE_SIGNAL);
}

static double best_of(void (*trip)(pid_t), pid_t pid, int n) {
    double best = 1e9;
    for (int run = 0; run < REPEAT; run++) {
        double t0 = now();
        for (int i = 0; i < n; i++) trip(pid);
        double per = (now() - t0) / n;
        if (per < best) best = per;
    }
    return best * 1e6;
}

static void mediated_trip(pid_t pid) {
    (void)pid;
    ask(REQ_STOP);
    futex_wait(&g_stopped, 0);
    ask(REQ_CONT);
    futex_wait(&g_stopped, 1);
}

static void sigstop_trip(pid_t pid) {
    siginfo_t si;
    if (kill(pid, SIGSTOP) != 0 || waitid(P_PID, (id_t)pid, &si, WSTOPPED) != 0) die("SIGSTOP");
    if (kill(pid, SIGCONT) != 0 || waitid(P_PID, (id_t)pid, &si, WCONTINUED) != 0) die("SIGCONT");
}

static void own_ptrace_trip(pid_t pid) {
    int status;
    if (ptrace(PTRACE_INTERRUPT, pid, 0, 0) != 0 || waitpid(pid, &status, __WALL) != pid) die("PTRACE_INTERRUPT");
    if (ptrace(PTRACE_CONT, pid, 0, 0) != 0) die("PTRACE_CONT");
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 2000;
    g_cpu = argc > 2 ? atoi(argv[2]) : -1;
    if (n <= 0) n = 2000;
    pin();
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = wake_handler;
    sigemptyset(&sa.sa_mask);
    if (sigaction(WAKE_SIGNAL, &sa, NULL) != 0) die("sigaction");
    /* No SIGCHLD for the child's stops, as the host kernel arranges (linux_monitor.c, quiet_stop_notifications):
     * the tracer blocks every signal, so each would wake the requesting thread for nothing. */
    sa.sa_handler = SIG_DFL;
    sa.sa_flags = SA_NOCLDSTOP;
    if (sigaction(SIGCHLD, &sa, NULL) != 0) die("sigaction");
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old); /* the tracer starts with every signal blocked */
    pthread_t tracer;
    if (pthread_create(&tracer, NULL, tracer_main, NULL) != 0) die("pthread_create");
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    while (atomic_load(&g_tracer_tid) == 0) usleep(1000);
    usleep(100 * 1000); /* the child asleep */
    printf("tracer thread serving another %.1f\n", best_of(mediated_trip, 0, n));
    ask(REQ_QUIT);
    pthread_join(tracer, NULL);
    g_child = 0;

    pid_t child = start_sleeper();
    g_child = child;
    usleep(100 * 1000);
    printf("SIGSTOP + waitid %.1f\n", best_of(sigstop_trip, child, n));
    if (ptrace(PTRACE_SEIZE, child, 0, 0) != 0) die("PTRACE_SEIZE");
    printf("the tracer itself %.1f\n", best_of(own_ptrace_trip, child, n));
    kill(child, SIGKILL);
    waitpid(child, NULL, __WALL);
    return 0;
}
