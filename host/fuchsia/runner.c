#define _GNU_SOURCE /* process_vm_readv, ptrace requests, MAP_STACK, memfd_create */
/* Running a Fuchsia x86-64 ELF image on the host kernel: the start (a clean address space built in an exec'd
 * trampoline) and the syscall service under PTRACE_SYSEMU (see runner.h and docs/fuchsia-elf.md).
 *
 * The program is an ordinary program of the spawn backend (linux_*.c: the same start-and-seize, fd set-up, seccomp
 * filter, task records, kill, stop and resume); the backend reaches this file only through lt_fuchsia_ops
 * (linux_task.h), because host/fuchsia/ is not compiled into the Python module.  What differs:
 *   - the child execs the runner's trampoline (a one-page static ELF in a memfd) instead of a path; at its exec
 *     stop, before any instruction of it runs, the monitor maps the image, the vDSO and a stack by running Linux
 *     calls in the task (inject.h), unmaps everything else, sets the entry registers (entry_registers: the one
 *     hand-off point) and lets the task go under PTRACE_SYSEMU (lt_task_t.resume);
 *   - at every syscall-stop (syscall_stop) the call is served here, or by serve_object.c for the object-model and
 *     VM calls (from the program's own handle table), and its result written to rax.  A call the runner has
 *     Linux do for the task (the sleep of zx_nanosleep, the exit of zx_process_exit and zx_thread_exit, the
 *     futex calls, the clone of zx_thread_start) is made by moving rip back onto the `syscall` instruction with
 *     Linux's number and arguments: the task runs it for real, as a Linux task, so a suspend (PTRACE_INTERRUPT) or
 *     a kill reaches it like any other.
 *
 * The x86-64 syscall ABI of the vDSO: number in eax, arguments rdi, rsi, rdx, r10, r8, r9, r12, r13, result in rax.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <time.h>
#include <unistd.h>

#include "../kernel.h"
#include "../linux_task.h"
#include "inject.h"
#include "loader.h"
#include "runner.h"
#include "serve.h"
#include "stdio.h"
#include "vdso.h"
#include "vm.h"

#if !defined(__x86_64__)
#error "host/fuchsia/runner.c runs x86-64 Fuchsia images on x86-64 Linux only"
#endif

#define PAGE 4096u
#define MAX_SEGMENTS 16
#define STACK_SIZE (256u * 1024u) /* Zircon's default for a process's first thread (ZIRCON_DEFAULT_STACK_SIZE) */
#define MAX_DEBUG_WRITE 256u      /* kMaxDebugWriteSize, zircon/kernel/lib/syscalls/debug.cc */
#define CPRNG_DRAW_MAX_LEN 256u   /* ZX_CPRNG_DRAW_MAX_LEN */
#define VERSION_STRING "zxpy host kernel"
#define MAX_SPAWN_HANDLES 15u     /* the spawner's handles in the processargs message (serve_object.c's room) */

/* Linux's internal restart codes: a real call that a stop interrupted comes back with one of these at its exit
 * stop, and Linux restarts it after the stop (include/linux/errno.h). */
#define ERESTARTSYS 512
#define ERESTARTNOINTR 513
#define ERESTARTNOHAND 514
#define ERESTART_RESTARTBLOCK 516

/* ------------------------------------------------------------------------------------------------ images */

typedef struct segment {
    uint64_t vaddr, memsz, offset, filesz;
    uint32_t flags;
} segment_t;

/* An ELF image read into memory, with its PT_LOAD segments (checked against the file). */
typedef struct image {
    uint8_t *data;
    size_t size;
    segment_t segs[MAX_SEGMENTS];
    size_t nsegs;
    uint64_t lo, span; /* page-aligned first vaddr and the length of the whole mapping */
    uint64_t entry;
} image_t;

static zx_status_t report(char *err_msg, zx_status_t status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static zx_status_t report(char *err_msg, zx_status_t status, const char *fmt, ...) {
    if (err_msg != NULL) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err_msg, FDIO_SPAWN_ERR_MSG_MAX_LENGTH, fmt, ap);
        va_end(ap);
    }
    return status;
}

static zx_status_t image_read(const char *path, image_t *im, bool is_vdso, char *err_msg) {
    memset(im, 0, sizeof *im);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < (off_t)sizeof(Elf64_Ehdr) ||
        st.st_size > (off_t)(256u << 20)) {
        if (fd >= 0) close(fd);
        return report(err_msg, ZX_ERR_IO, "cannot read %s as an ELF file", path);
    }
    im->size = (size_t)st.st_size;
    im->data = malloc(im->size);
    size_t got = 0;
    while (im->data != NULL && got < im->size) {
        ssize_t n = read(fd, im->data + got, im->size - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        got += (size_t)n;
    }
    close(fd);
    if (im->data == NULL) return report(err_msg, ZX_ERR_NO_MEMORY, "out of memory reading %s", path);
    if (got != im->size) return report(err_msg, ZX_ERR_IO, "cannot read %s", path);
    const Elf64_Ehdr *eh = (const Elf64_Ehdr *)im->data;
    if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_ident[EI_CLASS] != ELFCLASS64 ||
        eh->e_ident[EI_DATA] != ELFDATA2LSB || eh->e_machine != EM_X86_64 || eh->e_type != ET_DYN ||
        eh->e_phentsize != sizeof(Elf64_Phdr) || eh->e_phoff > im->size ||
        (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr) > im->size - eh->e_phoff)
        return report(err_msg, ZX_ERR_NOT_SUPPORTED, "%s is no x86-64 ET_DYN ELF64 image", path);
    const Elf64_Phdr *ph = (const Elf64_Phdr *)(im->data + eh->e_phoff);
    uint64_t lo = UINT64_MAX, hi = 0;
    for (size_t i = 0; i < eh->e_phnum; i++) {
        if (ph[i].p_type == PT_INTERP)
            return report(err_msg, ZX_ERR_NOT_SUPPORTED,
                          "%s has PT_INTERP: it is no start image (a static image or ld.so.1); the runner starts "
                          "only x86-64 executables whose PT_INTERP is ld.so.1 through their dynamic linker", path);
        if (ph[i].p_type != PT_LOAD || ph[i].p_memsz == 0) continue;
        const Elf64_Phdr *p = &ph[i];
        if (im->nsegs == MAX_SEGMENTS || p->p_filesz > p->p_memsz || p->p_offset > im->size ||
            p->p_filesz > im->size - p->p_offset || p->p_vaddr > (1ull << 40) || p->p_memsz > (1ull << 32) ||
            (p->p_vaddr % PAGE) != (p->p_offset % PAGE))
            return report(err_msg, ZX_ERR_NOT_SUPPORTED, "%s: PT_LOAD %zu is outside the file or malformed", path, i);
        if ((p->p_flags & PF_W) && (p->p_flags & PF_X))
            return report(err_msg, ZX_ERR_NOT_SUPPORTED, "%s: a writable and executable segment", path);
        if (is_vdso && (p->p_flags & PF_W))
            return report(err_msg, ZX_ERR_NOT_SUPPORTED, "%s: a vDSO has no writable segment", path);
        im->segs[im->nsegs++] = (segment_t){p->p_vaddr, p->p_memsz, p->p_offset, p->p_filesz, p->p_flags};
        if (p->p_vaddr < lo) lo = p->p_vaddr;
        if (p->p_vaddr + p->p_memsz > hi) hi = p->p_vaddr + p->p_memsz;
    }
    if (im->nsegs == 0) return report(err_msg, ZX_ERR_NOT_SUPPORTED, "%s has no PT_LOAD segment", path);
    im->lo = lo & ~(uint64_t)(PAGE - 1);
    im->span = ((hi + PAGE - 1) & ~(uint64_t)(PAGE - 1)) - im->lo;
    im->entry = eh->e_entry;
    if (!is_vdso && (im->entry < lo || im->entry >= hi))
        return report(err_msg, ZX_ERR_NOT_SUPPORTED, "%s: the entry point is outside its segments", path);
    /* The vDSO's ELF header must be mapped (programs find its dynamic symbols through it). */
    if (is_vdso && (im->lo != 0 || im->segs[0].offset != 0))
        return report(err_msg, ZX_ERR_NOT_SUPPORTED, "%s: its first segment does not map its ELF header", path);
    return ZX_OK;
}

/* ------------------------------------------------------------------------------------------------ clock */

/* The vDSO computes zx_ticks_get with rdtsc and zx_clock_get_monotonic as ticks * num / den from DATA_CONSTANTS,
 * in user space.  The runner states the TSC's rate there (measured once against CLOCK_MONOTONIC_RAW), and serves
 * the kernel's clock calls and interprets nanosleep deadlines with that same formula, so the program sees one clock
 * whichever way it reads it.  Its epoch is the TSC's, not CLOCK_MONOTONIC's: deadlines are translated by the
 * difference at the time of the call. */
typedef struct clock_ratio {
    uint64_t ticks_per_second;
    uint32_t num, den;
} clock_ratio_t;

static clock_ratio_t g_clock;
static pthread_once_t g_clock_once = PTHREAD_ONCE_INIT;

static uint64_t rdtsc(void) { return __builtin_ia32_rdtsc(); }

static int64_t ts_ns(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static uint64_t gcd(uint64_t a, uint64_t b) {
    while (b != 0) {
        uint64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

static void clock_calibrate(void) {
    int64_t t0 = ts_ns(CLOCK_MONOTONIC_RAW);
    uint64_t c0 = rdtsc();
    struct timespec ms20 = {0, 20 * 1000 * 1000};
    while (nanosleep(&ms20, &ms20) != 0 && errno == EINTR) {
    }
    int64_t t1 = ts_ns(CLOCK_MONOTONIC_RAW);
    uint64_t c1 = rdtsc();
    uint64_t khz = t1 > t0 ? (uint64_t)(((unsigned __int128)(c1 - c0) * 1000000u) / (uint64_t)(t1 - t0)) : 0;
    if (khz == 0 || khz > UINT32_MAX) khz = 1000000; /* no usable TSC reading: claim 1 GHz */
    uint64_t g = gcd(1000000u, khz);
    g_clock.ticks_per_second = khz * 1000u;
    g_clock.num = (uint32_t)(1000000u / g);
    g_clock.den = (uint32_t)(khz / g);
}

int64_t hk_fx_program_time_of_ticks(uint64_t ticks) {
    pthread_once(&g_clock_once, clock_calibrate);
    return (int64_t)(((unsigned __int128)ticks * g_clock.num) / g_clock.den);
}

/* The program's monotonic clock now, as its vDSO computes it. */
static int64_t program_monotonic(void) { return hk_fx_program_time_of_ticks(rdtsc()); }

/* ------------------------------------------------------------------------------------------------ the trampoline */

/* The program's Linux process execs this first: a static ELF of one read-execute page, generated here and run from a
 * sealed memfd (execveat AT_EMPTY_PATH), so no file has to be built or installed.  None of its instructions runs
 * under the monitor: at the exec stop, before its first instruction, the monitor builds the Fuchsia address space
 * by running mmap, munmap and friends in the task from its `syscall` instruction (inject.h), then unmaps it with
 * everything else Linux put there.  Run untraced, it would only exit_group(127). */
#define TRAMPOLINE_VADDR 0x1000000u
#define TRAMPOLINE_CODE (sizeof(Elf64_Ehdr) + sizeof(Elf64_Phdr))
static const uint8_t g_trampoline_code[] = {
    0xb8, 0xe7, 0x00, 0x00, 0x00, /* mov $231, %eax (exit_group) */
    0xbf, 0x7f, 0x00, 0x00, 0x00, /* mov $127, %edi */
    0x0f, 0x05,                   /* syscall: the injection site */
    0x0f, 0x0b,                   /* ud2 */
};
#define TRAMPOLINE_ENTRY (TRAMPOLINE_VADDR + TRAMPOLINE_CODE)
#define TRAMPOLINE_SITE (TRAMPOLINE_ENTRY + 10u)

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010u /* Linux 6.3: an executable memfd even where vm.memfd_noexec makes them noexec */
#endif

static int g_trampoline_fd = -1;
static int g_trampoline_errno;
static pthread_once_t g_trampoline_once = PTHREAD_ONCE_INIT;

static void trampoline_create(void) {
    uint8_t elf[TRAMPOLINE_CODE + sizeof g_trampoline_code];
    memset(elf, 0, sizeof elf);
    Elf64_Ehdr eh = {
        .e_ident = {ELFMAG0, ELFMAG1, ELFMAG2, ELFMAG3, ELFCLASS64, ELFDATA2LSB, EV_CURRENT, ELFOSABI_SYSV},
        .e_type = ET_EXEC,
        .e_machine = EM_X86_64,
        .e_version = EV_CURRENT,
        .e_entry = TRAMPOLINE_ENTRY,
        .e_phoff = sizeof(Elf64_Ehdr),
        .e_ehsize = sizeof(Elf64_Ehdr),
        .e_phentsize = sizeof(Elf64_Phdr),
        .e_phnum = 1,
    };
    Elf64_Phdr ph = {
        .p_type = PT_LOAD,
        .p_flags = PF_R | PF_X,
        .p_offset = 0,
        .p_vaddr = TRAMPOLINE_VADDR,
        .p_paddr = TRAMPOLINE_VADDR,
        .p_filesz = sizeof elf,
        .p_memsz = sizeof elf,
        .p_align = PAGE,
    };
    memcpy(elf, &eh, sizeof eh);
    memcpy(elf + sizeof eh, &ph, sizeof ph);
    memcpy(elf + TRAMPOLINE_CODE, g_trampoline_code, sizeof g_trampoline_code);
    unsigned flags = MFD_CLOEXEC | MFD_ALLOW_SEALING;
    int fd = memfd_create("zxpy-fuchsia-trampoline", flags | MFD_EXEC);
    if (fd < 0 && errno == EINVAL) fd = memfd_create("zxpy-fuchsia-trampoline", flags); /* before Linux 6.3 */
    if (fd < 0 || write(fd, elf, sizeof elf) != (ssize_t)sizeof elf || fchmod(fd, 0500) != 0 ||
        fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) != 0) {
        g_trampoline_errno = errno;
        if (fd >= 0) close(fd);
        return;
    }
    g_trampoline_fd = fd; /* for the host program's life: every spawn execs it */
}

/* ------------------------------------------------------------------------------------------------ start data */

/* What the monitor needs to start the program, prepared by the requesting thread (which waits until the start is
 * over, so this outlives it). */
typedef struct fuchsia_start {
    image_t image, vdso;
    int image_fd, vdso_fd;          /* memfds of the exact bytes checked: the image, the vDSO with its constants */
    int image_target, vdso_target;  /* their fd numbers in the program until it is started */
    char name[16]; /* the Linux task name (comm) */
    hk_vdso_t table;
    int stderr_fd;
    hk_fx_serve_t *serve;   /* the object-model calls (serve_object.c): taken by program_new */
    hk_fx_stdio_t *stdio;   /* the pumps of fds 0-2 (stdio.c): taken by program_new */
    zx_handle_t bootstrap;  /* the program's end of its bootstrap channel, in its own table */
    bool dynamic;           /* the image is the dynamic linker of an executable (PA_VMAR_LOADED wanted) */
} fuchsia_start_t;

/* What the exit stop of a real call writes to rax (fuchsia_program_t.real_kind). */
typedef enum { REAL_FIXED, REAL_FUTEX_WAIT, REAL_FUTEX_WAKE, REAL_FUTEX_REQUEUE, REAL_CLONE } real_kind_t;

/* A real Linux call one task of the program runs (run_real_call): the registers to restore at its exit stop, with
 * rax = result (REAL_FIXED) or Linux's result translated (futex_status, clone_done); zx_nr, the Zircon call's
 * number, to issue it again when a signal ended the real one (-EINTR).  Per task: each thread may be in one. */
#define MAX_REAL_CALLS 256
#define MAX_FRESH_THREADS 64
typedef struct real_call {
    pid_t tid; /* 0: free */
    real_kind_t kind;
    uint64_t zx_nr;
    struct user_regs_struct saved;
} real_call_t;

/* The monitor's record of one running Fuchsia program (lp->fuchsia). */
typedef struct fuchsia_program {
    const fuchsia_start_t *start; /* until started */
    hk_vdso_site_t *sites; /* the vDSO's syscall sites and names (copied from the start data) */
    size_t num_sites;
    hk_vdso_syscall_t *syscalls;
    size_t num_syscalls;
    uint64_t vdso_base, image_base, stack_base; /* where start_address_space put them */
    uint64_t vdso_span, image_span;
    uint64_t entry;
    int stderr_fd;
    hk_fx_serve_t *serve;
    hk_fx_stdio_t *stdio;
    zx_handle_t bootstrap;
    real_call_t calls[MAX_REAL_CALLS];
    /* zx_thread_start: the thread object (a reference) and entry state of the clone under way, taken by
     * thread_for and thread_first_run as the new task is adopted and first let go. */
    hk_thread_t *start_thread;
    bool start_pending;
    uint64_t start_entry, start_stack, start_arg1, start_arg2;
    /* The entry state of each adopted thread that has not run yet, keyed by its tid (thread_for moves it here):
     * the caller of zx_thread_start may start the next thread before this one's first resume. */
    struct {
        pid_t tid; /* 0: free */
        uint64_t entry, stack, arg1, arg2;
    } fresh[MAX_FRESH_THREADS];
} fuchsia_program_t;

/* ------------------------------------------------------------------------------------------------ the monitor */

static void *program_new(const void *start) {
    const fuchsia_start_t *fs = start;
    fuchsia_program_t *fp = calloc(1, sizeof *fp);
    if (fp == NULL) return NULL;
    fp->start = fs;
    fp->stderr_fd = -1;
    fp->sites = malloc(fs->table.num_sites * sizeof *fp->sites);
    fp->syscalls = malloc(fs->table.num_syscalls * sizeof *fp->syscalls);
    fp->stderr_fd = fcntl(fs->stderr_fd, F_DUPFD_CLOEXEC, 3);
    if (fp->sites == NULL || fp->syscalls == NULL || fp->stderr_fd < 0) {
        free(fp->sites);
        free(fp->syscalls);
        if (fp->stderr_fd >= 0) close(fp->stderr_fd);
        free(fp);
        return NULL;
    }
    memcpy(fp->sites, fs->table.sites, fs->table.num_sites * sizeof *fp->sites);
    memcpy(fp->syscalls, fs->table.syscalls, fs->table.num_syscalls * sizeof *fp->syscalls);
    fp->num_sites = fs->table.num_sites;
    fp->num_syscalls = fs->table.num_syscalls;
    fp->serve = fs->serve;
    fp->stdio = fs->stdio;
    ((fuchsia_start_t *)start)->stdio = NULL;
    fp->bootstrap = fs->bootstrap;
    ((fuchsia_start_t *)start)->serve = NULL; /* the program owns it now */
    return fp;
}

/* Every task is reaped: what the program wrote to its stdio sockets reaches the host fds before it is reported dead
 * (a waiter that then reads the fd finds all of it), and the handles held for it in the host table are closed. */
static void exited(void *program) {
    fuchsia_program_t *fp = program;
    hk_fx_stdio_end(fp->stdio);
    fp->stdio = NULL;
    if (fp->serve != NULL) hk_fx_serve_program_ended(fp->serve);
}

static void program_free(void *program) {
    fuchsia_program_t *fp = program;
    hk_fx_stdio_end(fp->stdio); /* a program that never started */
    if (fp->start_thread != NULL) {
        hk_lock();
        hk_object_unref(&fp->start_thread->base);
        hk_unlock();
    }
    hk_fx_serve_free(fp->serve); /* closes its table, then releases its VM state (vm.c) */
    free(fp->sites);
    free(fp->syscalls);
    if (fp->stderr_fd >= 0) close(fp->stderr_fd);
    free(fp);
}

static int exec_fd(const void *start) {
    (void)start;
    return g_trampoline_fd;
}

/* Run one Linux call in the task while it is being started; false on failure, with *status: ZX_ERR_BAD_STATE if
 * the task is no longer ours to drive (killed meanwhile: fdio_spawn's answer for a process killed while starting),
 * ZX_ERR_NO_MEMORY for ENOMEM, ZX_ERR_INTERNAL for any other error of the call. */
static bool inject(hk_inject_t *in, zx_status_t *status, int64_t *out, long nr, uint64_t a0, uint64_t a1,
                   uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5) {
    if (!hk_inject_syscall(in, nr, a0, a1, a2, a3, a4, a5, out)) {
        *status = ZX_ERR_BAD_STATE;
        return false;
    }
    if ((uint64_t)*out >= (uint64_t)-4095) {
        *status = *out == -ENOMEM ? ZX_ERR_NO_MEMORY : ZX_ERR_INTERNAL;
        return false;
    }
    return true;
}
#define INJECT(in, status, out, nr, a0, a1, a2, a3, a4, a5)                                                        \
    inject((in), (status), (out), (nr), (uint64_t)(a0), (uint64_t)(a1), (uint64_t)(a2), (uint64_t)(a3),            \
           (uint64_t)(a4), (uint64_t)(a5))

/* Map im from fd (its exact bytes, in the task's fd table) at a base the task's kernel picks: the span reserved
 * PROT_NONE, then each segment's file pages MAP_FIXED from fd and its zero-fill pages anonymous, writable while the
 * tail of a last file page is cleared, then its own protection.  Segments are page-aligned in the file as in
 * memory (image_read checks vaddr % PAGE == offset % PAGE), so each is one mmap of the file. */
static zx_status_t map_image(hk_inject_t *in, const image_t *im, int fd, uint64_t *base_out) {
    zx_status_t status = ZX_OK;
    int64_t rv = 0;
    if (!INJECT(in, &status, &rv, SYS_mmap, 0, im->span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0))
        return status;
    uint64_t base = (uint64_t)rv;
    for (size_t i = 0; i < im->nsegs; i++) {
        const segment_t *sg = &im->segs[i];
        uint64_t start = base + ((sg->vaddr - im->lo) & ~(uint64_t)(PAGE - 1));
        uint64_t file_end = base + (sg->vaddr - im->lo) + sg->filesz;
        uint64_t file_pages_end = (file_end + PAGE - 1) & ~(uint64_t)(PAGE - 1);
        uint64_t end = (base + (sg->vaddr - im->lo) + sg->memsz + PAGE - 1) & ~(uint64_t)(PAGE - 1);
        int prot = ((sg->flags & PF_R) ? PROT_READ : 0) | ((sg->flags & PF_W) ? PROT_WRITE : 0) |
                   ((sg->flags & PF_X) ? PROT_EXEC : 0);
        if (sg->filesz > 0 &&
            !INJECT(in, &status, &rv, SYS_mmap, start, file_pages_end - start, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_FIXED, fd, sg->offset & ~(uint64_t)(PAGE - 1)))
            return status;
        if (sg->filesz == 0) file_pages_end = start;
        if (sg->memsz > sg->filesz && file_end < file_pages_end) {
            static const uint8_t zeros[PAGE];
            if (!hk_inject_write(in, file_end, zeros, file_pages_end - file_end)) return ZX_ERR_INTERNAL;
        }
        if (end > file_pages_end &&
            !INJECT(in, &status, &rv, SYS_mmap, file_pages_end, end - file_pages_end, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS, -1, 0))
            return status;
        if (!INJECT(in, &status, &rv, SYS_mprotect, start, end - start, prot, 0, 0, 0)) return status;
    }
    *base_out = base;
    return ZX_OK;
}

/* Is [lo, hi) inside [base, base + len)? */
static bool within(uint64_t lo, uint64_t hi, uint64_t base, uint64_t len) { return lo >= base && hi <= base + len; }

/* Unmap everything of the task that start_address_space did not put there: what Linux's exec made (its stack, its
 * vDSO and vvar pages, the heap's start) and, last, the trampoline, whose page holds the injection site.  The
 * [vsyscall] page is no mapping (it cannot be unmapped) and stays. */
static zx_status_t unmap_the_rest(hk_inject_t *in, const fuchsia_program_t *fp) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/maps", (int)in->tid);
    FILE *f = fopen(path, "re");
    if (f == NULL) return ZX_ERR_INTERNAL;
    uint64_t lo[64], hi[64], tramp_lo = 0, tramp_hi = 0;
    size_t n = 0;
    char line[512];
    while (fgets(line, sizeof line, f) != NULL) {
        unsigned long long a, b;
        if (sscanf(line, "%llx-%llx", &a, &b) != 2) continue;
        if (strstr(line, "[vsyscall]") != NULL || within(a, b, fp->image_base, fp->image_span) ||
            within(a, b, fp->vdso_base, fp->vdso_span) || within(a, b, fp->stack_base, STACK_SIZE))
            continue;
        if (TRAMPOLINE_SITE >= a && TRAMPOLINE_SITE < b) {
            tramp_lo = a;
            tramp_hi = b;
        } else if (n < sizeof lo / sizeof lo[0]) {
            lo[n] = a;
            hi[n++] = b;
        } else {
            fclose(f);
            return ZX_ERR_INTERNAL;
        }
    }
    fclose(f);
    if (tramp_lo == 0) return ZX_ERR_INTERNAL;
    zx_status_t status = ZX_OK;
    int64_t rv;
    for (size_t i = 0; i < n; i++)
        if (!INJECT(in, &status, &rv, SYS_munmap, lo[i], hi[i] - lo[i], 0, 0, 0, 0)) return status;
    if (!INJECT(in, &status, &rv, SYS_munmap, tramp_lo, tramp_hi - tramp_lo, 0, 0, 0, 0)) return status;
    return ZX_OK;
}

/* The hand-off to the program: the registers its first thread starts with.  Zircon's zx_process_start(process,
 * thread, entry, stack, arg1, arg2): rip = entry, rsp = stack (rsp % 16 == 8, as if a return address had been
 * pushed: the x86-64 psABI's entry state), rdi = arg1 = the bootstrap channel handle (in the program's own table:
 * serve.h), rsi = arg2 = the vDSO base; every other register zero, no fs or gs base
 * (docs/reference/syscalls/process_start.md, zircon/kernel/arch/x86/thread.cc arch_setup_uspace_iframe). */
static void entry_registers(const fuchsia_program_t *fp, struct user_regs_struct *r) {
    struct user_regs_struct z;
    memset(&z, 0, sizeof z);
    z.cs = r->cs;
    z.ss = r->ss;
    z.ds = r->ds;
    z.es = r->es;
    z.eflags = 0x202; /* IF, and the reserved bit 1 */
    z.orig_rax = (uint64_t)-1;
    z.rip = fp->entry;
    z.rsp = fp->stack_base + STACK_SIZE - 8;
    z.rdi = fp->bootstrap;
    z.rsi = fp->vdso_base;
    *r = z;
}

/* At the trampoline's exec stop: build the Fuchsia address space in the task -- the image, the vDSO (its
 * DATA_CONSTANTS already in the memfd), the stack -- name it, close the memfds' fds, unmap the rest, and leave it
 * about to enter the image under PTRACE_SYSEMU. */
static zx_status_t started(void *program, lt_task_t *k) {
    fuchsia_program_t *fp = program;
    const fuchsia_start_t *fs = fp->start;
    hk_inject_t in;
    if (fs == NULL || !hk_inject_begin(&in, k->tid, TRAMPOLINE_SITE)) return ZX_ERR_BAD_STATE;
    if (in.regs.rip != TRAMPOLINE_ENTRY) return ZX_ERR_INTERNAL; /* not our trampoline */
    zx_status_t status = map_image(&in, &fs->image, fs->image_target, &fp->image_base);
    if (status == ZX_OK && fs->dynamic) {
        /* The VMAR the launcher loaded ld.so.1 into, with its segments (PA_VMAR_LOADED): ld.so changes the
         * protection of its RELRO through it. */
        hk_fuchsia_vm_range_t maps[MAX_SEGMENTS];
        size_t n = 0;
        for (size_t i = 0; i < fs->image.nsegs; i++) {
            const segment_t *sg = &fs->image.segs[i];
            uint64_t lo = fp->image_base + ((sg->vaddr - fs->image.lo) & ~(uint64_t)(PAGE - 1));
            uint64_t hi = (fp->image_base + (sg->vaddr - fs->image.lo) + sg->memsz + PAGE - 1) & ~(uint64_t)(PAGE - 1);
            if (n > 0 && lo < maps[n - 1].hi) lo = maps[n - 1].hi; /* a page two segments share: the first's */
            if (lo >= hi) continue;
            maps[n++] = (hk_fuchsia_vm_range_t){lo, hi,
                                                ((sg->flags & PF_R) ? 1u : 0u) | ((sg->flags & PF_W) ? 2u : 0u) |
                                                    ((sg->flags & PF_X) ? 4u : 0u)};
        }
        hk_fx_serve_loaded(fp->serve, fp->image_base, fs->image.span, maps, n);
    }
    if (status == ZX_OK) status = map_image(&in, &fs->vdso, fs->vdso_target, &fp->vdso_base);
    int64_t rv = 0;
    if (status == ZX_OK && INJECT(&in, &status, &rv, SYS_mmap, 0, STACK_SIZE, PROT_READ | PROT_WRITE,
                                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0))
        fp->stack_base = (uint64_t)rv;
    fp->image_span = fs->image.span;
    fp->vdso_span = fs->vdso.span;
    fp->entry = fp->image_base + fs->image.entry - fs->image.lo;
    /* The Linux task name: written at the stack's top, set, then cleared again. */
    char name[sizeof fs->name];
    memset(name, 0, sizeof name);
    uint64_t at = fp->stack_base + STACK_SIZE - sizeof name;
    if (status == ZX_OK && !hk_inject_write(&in, at, fs->name, sizeof fs->name)) status = ZX_ERR_INTERNAL;
    if (status == ZX_OK) INJECT(&in, &status, &rv, SYS_prctl, PR_SET_NAME, at, 0, 0, 0, 0);
    if (status == ZX_OK && !hk_inject_write(&in, at, name, sizeof name)) status = ZX_ERR_INTERNAL;
    if (status == ZX_OK) INJECT(&in, &status, &rv, SYS_close, fs->image_target, 0, 0, 0, 0, 0);
    if (status == ZX_OK) INJECT(&in, &status, &rv, SYS_close, fs->vdso_target, 0, 0, 0, 0, 0);
    if (status == ZX_OK) status = unmap_the_rest(&in, fp);
    if (status != ZX_OK) return status;
    fp->start = NULL;
    struct user_regs_struct r = in.regs;
    entry_registers(fp, &r);
    return ptrace(PTRACE_SETREGS, k->tid, 0, &r) == 0 ? ZX_OK : ZX_ERR_BAD_STATE;
}

/* Is addr (an address in the task) the `syscall` instruction of a site of syscall nr in the program's vDSO?
 * Zircon accepts a syscall only from its own site in the vDSO (valid_pc in do_syscall,
 * zircon/kernel/lib/syscalls/syscalls.cc). */
static const char *site_name(const fuchsia_program_t *fp, uint64_t addr, uint64_t nr) {
    if (addr < fp->vdso_base) return NULL;
    uint64_t off = addr - fp->vdso_base;
    size_t lo = 0, hi = fp->num_sites; /* sorted by address */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (fp->sites[mid].vaddr < off) lo = mid + 1;
        else hi = mid;
    }
    if (lo < fp->num_sites && fp->sites[lo].vaddr == off && fp->sites[lo].number == nr) return fp->sites[lo].name;
    return NULL;
}

/* Unserved syscalls, by name, over the whole host program. */
#define MAX_UNSERVED 256
static struct {
    char name[HK_VDSO_NAME_MAX];
    uint64_t count;
} g_unserved[MAX_UNSERVED];
static size_t g_num_unserved;
static pthread_mutex_t g_unserved_mutex = PTHREAD_MUTEX_INITIALIZER;

static void count_unserved(const char *name) {
    pthread_mutex_lock(&g_unserved_mutex);
    size_t i = 0;
    while (i < g_num_unserved && strcmp(g_unserved[i].name, name) != 0) i++;
    if (i == g_num_unserved && g_num_unserved < MAX_UNSERVED) {
        snprintf(g_unserved[i].name, sizeof g_unserved[i].name, "%s", name);
        g_num_unserved++;
    }
    if (i < g_num_unserved) g_unserved[i].count++;
    pthread_mutex_unlock(&g_unserved_mutex);
}

uint64_t hk_fuchsia_unserved_count(const char *name) {
    uint64_t n = 0;
    pthread_mutex_lock(&g_unserved_mutex);
    for (size_t i = 0; i < g_num_unserved; i++)
        if (strcmp(g_unserved[i].name, name) == 0) n = g_unserved[i].count;
    pthread_mutex_unlock(&g_unserved_mutex);
    return n;
}

size_t hk_fuchsia_unserved_list(char *buf, size_t size) {
    size_t used = 0;
    if (size > 0) buf[0] = '\0';
    pthread_mutex_lock(&g_unserved_mutex);
    size_t n = g_num_unserved;
    for (size_t i = 0; i < n && used < size; i++) {
        int w = snprintf(buf + used, size - used, "%s%s=%llu", i ? "," : "", g_unserved[i].name,
                         (unsigned long long)g_unserved[i].count);
        if (w < 0) break;
        used += (size_t)w;
    }
    pthread_mutex_unlock(&g_unserved_mutex);
    return n;
}

/* Have the task run one real Linux call, nr(a0..a5), in place of the Zircon call it stopped at: rip goes back onto
 * its `syscall` instruction, which then runs without SYSEMU.  For a call that returns (with_exit), the task runs
 * under PTRACE_SYSCALL and its exit stop restores the registers with rax = result (syscall_stop). */
static real_call_t *real_call_of(fuchsia_program_t *fp, pid_t tid) {
    for (size_t i = 0; i < MAX_REAL_CALLS; i++)
        if (fp->calls[i].tid == tid) return &fp->calls[i];
    return NULL;
}

/* The task's record of the call (kind REAL_FIXED, for the caller to set), or NULL for a call without exit; when
 * every slot is taken, nothing is done: ZX_ERR_NO_RESOURCES for the Zircon call. */
static real_call_t *run_real_call(fuchsia_program_t *fp, lt_task_t *k, struct user_regs_struct *r, long nr,
                                  uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5,
                                  bool with_exit, int64_t result, bool *ok) {
    real_call_t *rc = NULL;
    *ok = true;
    if (with_exit) {
        rc = real_call_of(fp, 0);
        if (rc == NULL) {
            *ok = false;
            return NULL;
        }
        rc->tid = k->tid;
        rc->kind = REAL_FIXED;
        rc->zx_nr = 0;
        rc->saved = *r;
        rc->saved.rax = (uint64_t)result;
    }
    struct user_regs_struct x = *r;
    x.rip -= 2;
    x.rax = (uint64_t)nr;
    x.rdi = a0;
    x.rsi = a1;
    x.rdx = a2;
    x.r10 = a3;
    x.r8 = a4;
    x.r9 = a5;
    ptrace(PTRACE_SETREGS, k->tid, 0, &x);
    k->resume = with_exit ? LT_RESUME_SYSCALL : LT_RESUME_CONT;
    return rc;
}

/* The task went against Zircon's rules (a syscall from outside its vDSO site): on Zircon that is a policy exception
 * (ZX_EXCP_POLICY_CODE_BAD_SYSCALL) which, unhandled, kills the process: ZX_TASK_RETCODE_EXCEPTION_KILL. */
static void policy_kill(lt_task_t *k) {
    k->owner->code_fixed = true;
    k->owner->fixed_code = ZX_TASK_RETCODE_EXCEPTION_KILL;
    lt_program_kill(k->owner);
}

static int64_t serve_nanosleep(fuchsia_program_t *fp, lt_task_t *k, struct user_regs_struct *r, int64_t deadline,
                               bool *deferred) {
    if (deadline <= 0) return ZX_OK; /* sys_nanosleep: a deadline <= 0 only yields */
    int64_t left = deadline - program_monotonic();
    if (left <= 0) return ZX_OK;
    int64_t now = ts_ns(CLOCK_MONOTONIC);
    int64_t until = left > INT64_MAX - now ? INT64_MAX : now + left;
    struct timespec ts = {until / 1000000000, until % 1000000000};
    /* The timespec goes below the red zone of the task's stack. */
    uint64_t at = ((r->rsp - 128 - sizeof ts) & ~(uint64_t)15);
    struct iovec local = {&ts, sizeof ts}, remote = {(void *)(uintptr_t)at, sizeof ts};
    if (process_vm_writev(k->tid, &local, 1, &remote, 1, 0) != (ssize_t)sizeof ts) return ZX_ERR_BAD_STATE;
    bool ok;
    run_real_call(fp, k, r, SYS_clock_nanosleep, CLOCK_MONOTONIC, TIMER_ABSTIME, at, 0, 0, 0, true, ZX_OK, &ok);
    *deferred = ok;
    return ok ? ZX_OK : ZX_ERR_NO_RESOURCES;
}

/* ------------------------------------------------------------------------------------------------ futexes */

/* Zircon's futexes are keyed by address within one process (zircon/kernel/object/futex_context.cc); the program's
 * threads are Linux tasks of one mm, so a private Linux futex on the same address is the same futex.  The task
 * itself blocks in it (run_real_call): the monitor never does, a zx_futex_wake served as a real FUTEX_WAKE run by
 * another thread of the program wakes it, and a suspension (PTRACE_INTERRUPT) interrupts it and Linux restarts it
 * after the stop, as Zircon retries a futex wait its thread was suspended in. */
static zx_status_t futex_status(real_kind_t kind, int64_t rv) {
    if (kind == REAL_FUTEX_WAKE) return rv >= 0 ? ZX_OK : ZX_ERR_INTERNAL;
    if (kind == REAL_FUTEX_REQUEUE && rv > 0) return ZX_OK; /* how many woke or moved */
    if (rv == 0) return ZX_OK;
    if (rv == -EAGAIN) return ZX_ERR_BAD_STATE;  /* the value changed before the task slept */
    if (rv == -ETIMEDOUT) return ZX_ERR_TIMED_OUT;
    if (rv == -EFAULT) return ZX_ERR_INVALID_ARGS; /* user_copy's answer for a bad pointer */
    return ZX_ERR_INTERNAL;
}

/* ValidateFutexPointer (futex_context.cc): null or not aligned to zx_futex_t -> INVALID_ARGS. */
static bool futex_pointer_ok(uint64_t ptr) { return ptr != 0 && ptr % sizeof(int32_t) == 0; }

/* zx_futex_wait(value_ptr, current_value, new_futex_owner, deadline), in sys_futex_wait / FutexContext::FutexWait's
 * order: the pointer; the new owner (serve_object.c); the value, read from the task (a bad pointer: INVALID_ARGS;
 * another value: BAD_STATE); then the wait, as a real FUTEX_WAIT_BITSET with the deadline made an absolute
 * CLOCK_MONOTONIC time the way serve_nanosleep makes it (Linux compares the value again atomically: EAGAIN ->
 * BAD_STATE; ETIMEDOUT -> TIMED_OUT).  ZX_TIME_INFINITE waits without a timeout. */
static int64_t serve_futex_wait(fuchsia_program_t *fp, lt_task_t *k, struct user_regs_struct *r, uint64_t nr,
                                const uint64_t a[8], bool *deferred) {
    uint64_t ptr = a[0];
    int32_t current = (int32_t)(uint32_t)a[1];
    int64_t deadline = (int64_t)a[3];
    if (!futex_pointer_ok(ptr)) return ZX_ERR_INVALID_ARGS;
    zx_status_t st = hk_fx_serve_futex_owner(fp->serve, k, (zx_handle_t)a[2]);
    if (st != ZX_OK) return st;
    int32_t value;
    struct iovec local = {&value, sizeof value}, remote = {(void *)(uintptr_t)ptr, sizeof value};
    if (process_vm_readv(k->tid, &local, 1, &remote, 1, 0) != (ssize_t)sizeof value) return ZX_ERR_INVALID_ARGS;
    if (value != current) return ZX_ERR_BAD_STATE;
    uint64_t at = 0;
    if (deadline != ZX_TIME_INFINITE) {
        int64_t left = deadline - program_monotonic();
        if (left < 0) left = 0; /* already past: Linux still compares the value first, then times out */
        int64_t now = ts_ns(CLOCK_MONOTONIC);
        int64_t until = left > INT64_MAX - now ? INT64_MAX : now + left;
        struct timespec ts = {until / 1000000000, until % 1000000000};
        at = ((r->rsp - 128 - sizeof ts) & ~(uint64_t)15); /* below the red zone of the task's stack */
        struct iovec tl = {&ts, sizeof ts}, tr = {(void *)(uintptr_t)at, sizeof ts};
        if (process_vm_writev(k->tid, &tl, 1, &tr, 1, 0) != (ssize_t)sizeof ts) return ZX_ERR_BAD_STATE;
    }
    bool ok;
    real_call_t *rc = run_real_call(fp, k, r, SYS_futex, ptr, FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG,
                                    (uint32_t)current, at, 0, FUTEX_BITSET_MATCH_ANY, true, ZX_OK, &ok);
    if (!ok) return ZX_ERR_NO_RESOURCES;
    rc->kind = REAL_FUTEX_WAIT;
    rc->zx_nr = nr;
    *deferred = true;
    return ZX_OK;
}

/* zx_futex_wake(value_ptr, wake_count): the pointer (INVALID_ARGS), then a real FUTEX_WAKE run by the task; Zircon
 * never reads the futex for a wake, nor does a private Linux wake.  wake_count UINT32_MAX: all of them. */
static int64_t serve_futex_wake(fuchsia_program_t *fp, lt_task_t *k, struct user_regs_struct *r, uint64_t nr,
                                const uint64_t a[8], bool *deferred) {
    if (!futex_pointer_ok(a[0])) return ZX_ERR_INVALID_ARGS;
    uint32_t count = (uint32_t)a[1];
    bool ok;
    real_call_t *rc = run_real_call(fp, k, r, SYS_futex, a[0], FUTEX_WAKE | FUTEX_PRIVATE_FLAG,
                                    count > INT_MAX ? INT_MAX : count, 0, 0, 0, true, ZX_OK, &ok);
    if (!ok) return ZX_ERR_NO_RESOURCES;
    rc->kind = REAL_FUTEX_WAKE;
    rc->zx_nr = nr;
    *deferred = true;
    return ZX_OK;
}

/* ------------------------------------------------------------------------------------------------ threads */

/* zx_thread_start(thread, entry, stack, arg1, arg2): after the checks (serve_object.c), the calling task runs a
 * real clone(CLONE_VM | CLONE_THREAD | ...) for the program (run_real_call); PTRACE_O_TRACECLONE attaches the new
 * task before its first instruction, the backend adopts it into the program (linux_task.c), where thread_for hands
 * it the thread object zx_thread_create made, and before it first runs, thread_first_run sets the entry state
 * Zircon gives a new thread (arch_setup_uspace_iframe, zircon/kernel/arch/x86/thread.cc): rip = entry,
 * rsp = stack, rdi = arg1, rsi = arg2, every other register and the fs base zero. */
#define THREAD_CLONE_FLAGS                                                                                          \
    (CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM)

static int64_t serve_thread_start(fuchsia_program_t *fp, lt_task_t *k, struct user_regs_struct *r, uint64_t nr,
                                  const uint64_t a[8], bool *deferred) {
    hk_thread_t *t = NULL;
    zx_status_t st = hk_fx_serve_thread_start_check(fp->serve, k, (zx_handle_t)a[0], a[1], &t);
    if (st != ZX_OK) return st;
    bool ok;
    real_call_t *rc = run_real_call(fp, k, r, SYS_clone, THREAD_CLONE_FLAGS, 0, 0, 0, 0, 0, true, ZX_OK, &ok);
    if (!ok) {
        hk_lock();
        hk_object_unref(&t->base);
        hk_unlock();
        return ZX_ERR_NO_RESOURCES;
    }
    fp->start_thread = t;
    fp->start_pending = true;
    fp->start_entry = a[1];
    fp->start_stack = a[2];
    fp->start_arg1 = a[3];
    fp->start_arg2 = a[4];
    rc->kind = REAL_CLONE;
    rc->zx_nr = nr;
    *deferred = true;
    return ZX_OK;
}

/* The clone's result: the new task was adopted meanwhile (its clone event comes before this exit stop). */
static zx_status_t clone_done(fuchsia_program_t *fp, int64_t rv) {
    if (rv > 0 && fp->start_thread == NULL) return ZX_OK;
    hk_lock();
    if (fp->start_thread != NULL) hk_object_unref(&fp->start_thread->base); /* never bound: it stays NEW */
    hk_unlock();
    fp->start_thread = NULL;
    if (rv > 0) return ZX_ERR_NO_MEMORY; /* the task runs without a thread object: still a thread of the program */
    fp->start_pending = false;
    return rv == -ENOMEM || rv == -EAGAIN ? ZX_ERR_NO_RESOURCES : ZX_ERR_INTERNAL;
}

/* The new task k of the clone under way is adopted: it gets the thread object, and its entry state is kept under
 * its tid until its first resume (the clone's event, and so this, comes before the caller's clone returns, so the
 * caller cannot have started another thread meanwhile). */
static hk_thread_t *thread_for(void *program, lt_task_t *k) {
    fuchsia_program_t *fp = program;
    hk_thread_t *t = fp->start_thread; /* its reference goes to the caller */
    fp->start_thread = NULL;
    for (size_t i = 0; fp->start_pending && i < MAX_FRESH_THREADS; i++)
        if (fp->fresh[i].tid == 0) {
            fp->fresh[i].tid = k->tid;
            fp->fresh[i].entry = fp->start_entry;
            fp->fresh[i].stack = fp->start_stack;
            fp->fresh[i].arg1 = fp->start_arg1;
            fp->fresh[i].arg2 = fp->start_arg2;
            fp->start_pending = false;
        }
    return t;
}

static void thread_first_run(void *program, lt_task_t *k) {
    fuchsia_program_t *fp = program;
    struct user_regs_struct r;
    size_t slot = 0;
    while (slot < MAX_FRESH_THREADS && fp->fresh[slot].tid != k->tid) slot++;
    if (slot == MAX_FRESH_THREADS && fp->start_pending) { /* adopted without thread_for: the state is still here */
        fp->start_pending = false;
        for (slot = 0; slot < MAX_FRESH_THREADS && fp->fresh[slot].tid != 0; slot++) {
        }
        if (slot < MAX_FRESH_THREADS) {
            fp->fresh[slot].entry = fp->start_entry;
            fp->fresh[slot].stack = fp->start_stack;
            fp->fresh[slot].arg1 = fp->start_arg1;
            fp->fresh[slot].arg2 = fp->start_arg2;
        }
    }
    if (slot == MAX_FRESH_THREADS || ptrace(PTRACE_GETREGS, k->tid, 0, &r) != 0) {
        syscall(SYS_tgkill, k->tgid, k->tid, SIGKILL); /* no entry state: it must not run the clone's return */
        return;
    }
    fp->fresh[slot].tid = 0;
    struct user_regs_struct z;
    memset(&z, 0, sizeof z);
    z.cs = r.cs;
    z.ss = r.ss;
    z.ds = r.ds;
    z.es = r.es;
    z.eflags = 0x202;
    z.orig_rax = (uint64_t)-1;
    z.rip = fp->fresh[slot].entry;
    z.rsp = fp->fresh[slot].stack;
    z.rdi = fp->fresh[slot].arg1;
    z.rsi = fp->fresh[slot].arg2;
    if (ptrace(PTRACE_SETREGS, k->tid, 0, &z) != 0) syscall(SYS_tgkill, k->tgid, k->tid, SIGKILL);
}

/* zx_futex_requeue(value_ptr, wake_count, current_value, requeue_ptr, requeue_count, new_requeue_owner), in
 * FutexContext::FutexRequeue's order: both pointers (INVALID_ARGS), the same futex twice (INVALID_ARGS), the new
 * owner (as for futex_wait), the value (a bad pointer INVALID_ARGS; another value BAD_STATE); then a real
 * FUTEX_CMP_REQUEUE by the task, which compares the value again atomically (EAGAIN -> BAD_STATE). */
static int64_t serve_futex_requeue(fuchsia_program_t *fp, lt_task_t *k, struct user_regs_struct *r, uint64_t nr,
                                   const uint64_t a[8], bool *deferred) {
    uint64_t ptr = a[0], requeue_ptr = a[3];
    uint32_t wake_count = (uint32_t)a[1], requeue_count = (uint32_t)a[4];
    int32_t current = (int32_t)(uint32_t)a[2];
    if (!futex_pointer_ok(ptr) || !futex_pointer_ok(requeue_ptr) || ptr == requeue_ptr) return ZX_ERR_INVALID_ARGS;
    zx_status_t st = hk_fx_serve_futex_owner(fp->serve, k, (zx_handle_t)a[5]);
    if (st != ZX_OK) return st;
    int32_t value;
    struct iovec local = {&value, sizeof value}, remote = {(void *)(uintptr_t)ptr, sizeof value};
    if (process_vm_readv(k->tid, &local, 1, &remote, 1, 0) != (ssize_t)sizeof value) return ZX_ERR_INVALID_ARGS;
    if (value != current) return ZX_ERR_BAD_STATE;
    bool ok;
    real_call_t *rc = run_real_call(fp, k, r, SYS_futex, ptr, FUTEX_CMP_REQUEUE | FUTEX_PRIVATE_FLAG,
                                    wake_count > INT_MAX ? INT_MAX : wake_count,
                                    requeue_count > INT_MAX ? INT_MAX : requeue_count, requeue_ptr,
                                    (uint32_t)current, true, ZX_OK, &ok);
    if (!ok) return ZX_ERR_NO_RESOURCES;
    rc->kind = REAL_FUTEX_REQUEUE;
    rc->zx_nr = nr;
    *deferred = true;
    return ZX_OK;
}

static int64_t serve_debug_write(fuchsia_program_t *fp, lt_task_t *k, uint64_t ptr, uint64_t len) {
    if (len > MAX_DEBUG_WRITE) len = MAX_DEBUG_WRITE;
    char buf[MAX_DEBUG_WRITE];
    struct iovec local = {buf, len}, remote = {(void *)(uintptr_t)ptr, len};
    if (len > 0 && process_vm_readv(k->tid, &local, 1, &remote, 1, 0) != (ssize_t)len) return ZX_ERR_INVALID_ARGS;
    size_t done = 0;
    while (done < len) {
        ssize_t n = write(fp->stderr_fd, buf + done, len - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break; /* the output is gone: Zircon's serial write does not fail either */
        done += (size_t)n;
    }
    return ZX_OK;
}

static int64_t serve_cprng_draw_once(lt_task_t *k, uint64_t ptr, uint64_t len) {
    if (len > CPRNG_DRAW_MAX_LEN) return ZX_ERR_INVALID_ARGS;
    uint8_t buf[CPRNG_DRAW_MAX_LEN];
    size_t got = 0;
    while (got < len) {
        ssize_t n = getrandom(buf + got, len - got, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return ZX_ERR_INTERNAL;
        got += (size_t)n;
    }
    struct iovec local = {buf, len}, remote = {(void *)(uintptr_t)ptr, len};
    ssize_t n = len > 0 ? process_vm_writev(k->tid, &local, 1, &remote, 1, 0) : 0;
    memset(buf, 0, sizeof buf);
    return n == (ssize_t)len ? ZX_OK : ZX_ERR_INVALID_ARGS;
}

/* zx_clock_get(clock_id, out), the syscall of vintages before its removal (2021's libc reads CLOCK_REALTIME through
 * it): MONOTONIC is the program's clock, UTC the host's wall clock (Zircon's kernel UTC is its monotonic clock plus
 * an offset userspace sets; the host's is the one that is set), THREAD the calling thread's run time (its
 * ZX_INFO_TASK_RUNTIME cpu_time); any other id INVALID_ARGS before the copy out (sys_clock_get,
 * zircon/kernel/lib/syscalls/timer.cc of that vintage). */
static int64_t serve_clock_get(lt_task_t *k, uint64_t clock_id, uint64_t out) {
    int64_t now;
    if (clock_id == 0) {
        now = program_monotonic();
    } else if (clock_id == 1) {
        now = ts_ns(CLOCK_REALTIME);
    } else if (clock_id == 2) {
        if (k->thread == NULL) return ZX_ERR_BAD_STATE;
        hk_info_task_runtime_v1_t runtime;
        hk_lock();
        hk_thread_runtime(k->thread, &runtime); /* as ZX_INFO_TASK_RUNTIME reads it (task_stats.c) */
        hk_unlock();
        now = runtime.cpu_time;
    } else {
        return ZX_ERR_INVALID_ARGS;
    }
    struct iovec local = {&now, sizeof now}, remote = {(void *)(uintptr_t)out, sizeof now};
    return process_vm_writev(k->tid, &local, 1, &remote, 1, 0) == (ssize_t)sizeof now ? ZX_OK : ZX_ERR_INVALID_ARGS;
}

static void syscall_stop(void *program, lt_task_t *k) {
    fuchsia_program_t *fp = program;
    struct user_regs_struct r;
    struct __ptrace_syscall_info info;
    memset(&info, 0, sizeof info);
    if (ptrace(PTRACE_GETREGS, k->tid, 0, &r) != 0) return; /* gone: its exit comes through waitpid */
    long got = ptrace(PTRACE_GET_SYSCALL_INFO, k->tid, (void *)sizeof info, &info);
    real_call_t *rc = real_call_of(fp, k->tid);
    if (rc != NULL) {
        /* The real call's entry stop, or restart_syscall's after a stop interrupted it: let it run.  An exit stop
         * with rip still on the `syscall` instruction is the emulated call's own (resuming a SYSEMU entry stop with
         * PTRACE_SYSCALL reports the skipped call's exit): the real one has not run yet.  Its exit: done, unless
         * Linux is about to restart it. */
        if (got <= 0 || info.op != PTRACE_SYSCALL_INFO_EXIT || info.instruction_pointer != rc->saved.rip) return;
        int64_t rv = info.exit.rval;
        if (rv == -ERESTARTSYS || rv == -ERESTARTNOINTR || rv == -ERESTARTNOHAND || rv == -ERESTART_RESTARTBLOCK)
            return;
        if (rc->kind != REAL_FIXED && rc->kind != REAL_CLONE && rv == -EINTR) {
            /* A signal ended it (not a stop: those restart above): the Zircon call is issued again from its
             * `syscall` instruction, as Zircon retries a wait its thread was taken out of. */
            rc->saved.rip -= 2;
            rc->saved.rax = rc->zx_nr;
        } else if (rc->kind == REAL_CLONE) {
            rc->saved.rax = (uint64_t)(int64_t)clone_done(fp, rv);
        } else if (rc->kind != REAL_FIXED) {
            rc->saved.rax = (uint64_t)(int64_t)futex_status(rc->kind, rv);
        }
        ptrace(PTRACE_SETREGS, k->tid, 0, &rc->saved);
        rc->tid = 0;
        k->resume = LT_RESUME_SYSEMU;
        return;
    }
    if (got <= 0 || info.op != PTRACE_SYSCALL_INFO_ENTRY) return; /* not a SYSEMU entry stop: let it go on */
    uint64_t nr = info.entry.nr;
    const uint64_t a[8] = {r.rdi, r.rsi, r.rdx, r.r10, r.r8, r.r9, r.r12, r.r13};
    const char *name = site_name(fp, info.instruction_pointer - 2, nr);
    if (name == NULL) {
        policy_kill(k);
        return;
    }
    int64_t ret;
    bool deferred = false;
    if (strcmp(name, "process_exit") == 0) {
        /* Linux keeps 8 bits of an exit status: the full code is the return code. */
        k->owner->code_fixed = true;
        k->owner->fixed_code = (int64_t)a[0];
        bool ok;
        run_real_call(fp, k, &r, SYS_exit_group, a[0] & 0xff, 0, 0, 0, 0, 0, false, 0, &ok);
        return;
    } else if (strcmp(name, "debug_write") == 0) {
        ret = serve_debug_write(fp, k, a[0], a[1]);
    } else if (strcmp(name, "nanosleep") == 0) {
        ret = serve_nanosleep(fp, k, &r, (int64_t)a[0], &deferred);
        if (deferred) return;
    } else if (strcmp(name, "thread_exit") == 0) {
        /* This thread only: a real exit(2) (the process lives on while it has others, as on Zircon). */
        bool ok;
        run_real_call(fp, k, &r, SYS_exit, 0, 0, 0, 0, 0, 0, false, 0, &ok);
        return;
    } else if (strcmp(name, "thread_create") == 0) {
        ret = hk_fx_serve_thread_create(fp->serve, k, a);
    } else if (strcmp(name, "thread_start") == 0) {
        ret = serve_thread_start(fp, k, &r, nr, a, &deferred);
        if (deferred) return;
    } else if (strcmp(name, "object_set_property") == 0 && (uint32_t)a[1] == ZX_PROP_REGISTER_FS) {
        uint64_t fs_base = 0;
        ret = hk_fx_serve_register_fs(fp->serve, k, a, &fs_base);
        if (ret == ZX_OK) r.fs_base = fs_base;
    } else if (strcmp(name, "futex_wait") == 0) {
        ret = serve_futex_wait(fp, k, &r, nr, a, &deferred);
        if (deferred) return;
    } else if (strcmp(name, "futex_requeue") == 0) {
        ret = serve_futex_requeue(fp, k, &r, nr, a, &deferred);
        if (deferred) return;
    } else if (strcmp(name, "futex_wake") == 0) {
        ret = serve_futex_wake(fp, k, &r, nr, a, &deferred);
        if (deferred) return;
    } else if (strcmp(name, "futex_wake_single_owner") == 0) {
        /* zx_futex_wake_single_owner(value_ptr): a wake of at most one waiter (FutexContext::FutexWake with
         * OwnerAction::ASSIGN_WOKEN); the owner it would assign is not recorded here, as for futex_wait. */
        const uint64_t one[8] = {a[0], 1, 0, 0, 0, 0, 0, 0};
        ret = serve_futex_wake(fp, k, &r, nr, one, &deferred);
        if (deferred) return;
    } else if (strcmp(name, "clock_get_monotonic_via_kernel") == 0) {
        ret = program_monotonic();
    } else if (strcmp(name, "clock_get") == 0) {
        ret = serve_clock_get(k, a[0], a[1]);
    } else if (strcmp(name, "ticks_get_via_kernel") == 0) {
        ret = (int64_t)rdtsc();
    } else if (strcmp(name, "cprng_draw_once") == 0) {
        ret = serve_cprng_draw_once(k, a[0], a[1]);
    } else {
        hk_fx_result_t how = hk_fx_serve(fp->serve, k, name, &r, &ret);
        if (how == HK_FX_HELD) return; /* completed later (hk_fx_serve_poll), or never: it killed itself */
        if (how == HK_FX_UNSERVED) {
            count_unserved(name);
            ret = ZX_ERR_NOT_SUPPORTED;
        }
    }
    r.rax = (uint64_t)ret;
    ptrace(PTRACE_SETREGS, k->tid, 0, &r);
}

static void poll(void *program) { hk_fx_serve_poll(((fuchsia_program_t *)program)->serve); }

static const struct lt_fuchsia_ops g_fuchsia_ops = {
    .program_new = program_new,
    .exec_fd = exec_fd,
    .started = started,
    .syscall_stop = syscall_stop,
    .poll = poll,
    .exited = exited,
    .program_free = program_free,
    .thread_for = thread_for,
    .thread_first_run = thread_first_run,
};

zx_status_t hk_fuchsia_layout(zx_handle_t process, hk_fuchsia_layout_t *out) {
    hk_object_t *obj;
    hk_lock();
    zx_status_t status = hk_handle_get(process, ZX_OBJ_TYPE_PROCESS, ZX_RIGHT_INSPECT, &obj, NULL);
    /* p->program is cleared under the lock before the program record is freed. */
    struct hk_linux_process *lp = status == ZX_OK ? HK_CONTAINER_OF(obj, hk_process_t, base)->program : NULL;
    if (status == ZX_OK && (lp == NULL || lp->fuchsia_ops != &g_fuchsia_ops)) status = ZX_ERR_BAD_STATE;
    if (status == ZX_OK) {
        const fuchsia_program_t *fp = lp->fuchsia;
        *out = (hk_fuchsia_layout_t){fp->image_base, fp->image_span, fp->vdso_base, fp->vdso_span, fp->stack_base,
                                     STACK_SIZE};
    }
    hk_unlock();
    return status;
}

zx_status_t hk_fuchsia_root_vmar(zx_handle_t process, zx_handle_t *out) {
    hk_object_t *obj;
    hk_lock();
    zx_status_t status = hk_handle_get(process, ZX_OBJ_TYPE_PROCESS, ZX_RIGHT_INSPECT, &obj, NULL);
    struct hk_linux_process *lp = status == ZX_OK ? HK_CONTAINER_OF(obj, hk_process_t, base)->program : NULL;
    if (status == ZX_OK && (lp == NULL || lp->fuchsia_ops != &g_fuchsia_ops)) status = ZX_ERR_BAD_STATE;
    if (status == ZX_OK) status = hk_fuchsia_vm_root_vmar_locked(
                                 hk_fx_serve_vm(((fuchsia_program_t *)lp->fuchsia)->serve), out);
    hk_unlock();
    return status;
}

/* ------------------------------------------------------------------------------------------------ the request */

/* DATA_CONSTANTS for this host (the layout in vdso.h). */
static void fill_constants(uint8_t c[HK_VDSO_CONSTANTS_SIZE]) {
    memset(c, 0, HK_VDSO_CONSTANTS_SIZE);
    long cpus = sysconf(_SC_NPROCESSORS_CONF);
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    uint32_t u32;
    uint64_t u64;
    u32 = cpus > 0 ? (uint32_t)cpus : 1;
    memcpy(c + HK_VDSO_CONST_MAX_NUM_CPUS, &u32, 4);
    u32 = 64;
    memcpy(c + HK_VDSO_CONST_DCACHE_LINE_SIZE, &u32, 4);
    memcpy(c + HK_VDSO_CONST_ICACHE_LINE_SIZE, &u32, 4);
    memcpy(c + HK_VDSO_CONST_TICKS_PER_SECOND, &g_clock.ticks_per_second, 8);
    memcpy(c + HK_VDSO_CONST_TICKS_TO_MONO_NUMERATOR, &g_clock.num, 4);
    memcpy(c + HK_VDSO_CONST_TICKS_TO_MONO_DENOMINATOR, &g_clock.den, 4);
    u64 = pages > 0 && page > 0 ? (uint64_t)pages * (uint64_t)page : 0;
    memcpy(c + HK_VDSO_CONST_PHYSMEM, &u64, 8);
    u64 = sizeof VERSION_STRING - 1;
    memcpy(c + HK_VDSO_CONST_VERSION_STRING_LEN, &u64, 8);
    memcpy(c + HK_VDSO_CONST_VERSION_STRING, VERSION_STRING, sizeof VERSION_STRING);
}

/* A memfd holding data, with the constants written at constants_offset when constants != NULL; -1 on failure
 * (errno). */
static int memfd_of(const char *name, const uint8_t *data, size_t size, const uint8_t *constants,
                    uint64_t constants_offset) {
    char label[64];
    snprintf(label, sizeof label, "fuchsia:%s", name);
    int fd = memfd_create(label, MFD_CLOEXEC);
    if (fd < 0) return -1;
    size_t done = 0;
    while (done < size) {
        ssize_t n = write(fd, data + done, size - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        done += (size_t)n;
    }
    if (done != size || (constants != NULL && pwrite(fd, constants, HK_VDSO_CONSTANTS_SIZE, (off_t)constants_offset) !=
                                                  (ssize_t)HK_VDSO_CONSTANTS_SIZE)) {
        int err = done != size ? EIO : errno;
        close(fd);
        errno = err;
        return -1;
    }
    return fd;
}

zx_status_t hk_fuchsia_spawn(zx_handle_t job, const char *image_path, const char *vdso_path, const char *name,
                             int stderr_fd, zx_handle_t *process_out, char *err_msg) {
    const char *argv[] = {name != NULL ? name : image_path, NULL};
    return hk_fuchsia_spawn_etc(job, image_path, vdso_path, name, argv, NULL, NULL, NULL, 0, NULL, 0, stderr_fd,
                                process_out, err_msg);
}

/* The executable an ld.so.1 start loads: an x86-64 ET_DYN ELF64 file whose PT_INTERP is ld.so.1, read whole (the
 * dynamic linker reads it from its VMO, PA_VMO_EXECUTABLE). */
static zx_status_t executable_read(const char *path, uint8_t **data, size_t *size, char *err_msg) {
    hk_fuchsia_elf_t elf;
    memset(&elf, 0, sizeof elf);
    char why[160] = "";
    int probe = hk_fuchsia_elf_probe(path, &elf, why, sizeof why);
    if (probe == HK_VDSO_ERR_IO)
        return report(err_msg, ZX_ERR_IO, "cannot read %s as an ELF file: %s", path, why);
    if (probe != HK_VDSO_OK || !elf.is_fuchsia || elf.machine != EM_X86_64)
        return report(err_msg, ZX_ERR_NOT_SUPPORTED,
                      "%s is no x86-64 Fuchsia executable (an ET_DYN with PT_INTERP " HK_FUCHSIA_INTERP ")%s%s", path,
                      why[0] ? ": " : "", why);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > (off_t)(256u << 20)) {
        if (fd >= 0) close(fd);
        return report(err_msg, ZX_ERR_IO, "cannot read %s", path);
    }
    *size = (size_t)st.st_size;
    *data = malloc(*size ? *size : 1);
    size_t got = 0;
    while (*data != NULL && got < *size) {
        ssize_t n = read(fd, *data + got, *size - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        got += (size_t)n;
    }
    close(fd);
    if (*data == NULL) return report(err_msg, ZX_ERR_NO_MEMORY, "out of memory reading %s", path);
    if (got != *size) return report(err_msg, ZX_ERR_IO, "cannot read %s", path);
    return ZX_OK;
}

static zx_status_t spawn(zx_handle_t job, const char *image_path, const char *exe_path, const char *vdso_path,
                         const char *name, const char *const *argv, const char *const *environ,
                         const uint32_t *handle_infos, const zx_handle_t *handles, size_t num_handles,
                         const char *const *names, size_t num_names, const int stdio_fds[3], int stderr_fd,
                         zx_handle_t *process_out, char *err_msg);

zx_status_t hk_fuchsia_spawn_etc(zx_handle_t job, const char *image_path, const char *vdso_path, const char *name,
                                 const char *const *argv, const char *const *environ, const uint32_t *handle_infos,
                                 const zx_handle_t *handles, size_t num_handles, const char *const *names,
                                 size_t num_names, int stderr_fd, zx_handle_t *process_out, char *err_msg) {
    return spawn(job, image_path, NULL, vdso_path, name, argv, environ, handle_infos, handles, num_handles, names,
                 num_names, NULL, stderr_fd, process_out, err_msg);
}

zx_status_t hk_fuchsia_spawn_stdio(zx_handle_t job, const char *image_path, const char *vdso_path, const char *name,
                                   const char *const *argv, const char *const *environ, const uint32_t *handle_infos,
                                   const zx_handle_t *handles, size_t num_handles, const char *const *names,
                                   size_t num_names, const int stdio_fds[3], int stderr_fd, zx_handle_t *process_out,
                                   char *err_msg) {
    return spawn(job, image_path, NULL, vdso_path, name, argv, environ, handle_infos, handles, num_handles, names,
                 num_names, stdio_fds, stderr_fd, process_out, err_msg);
}

zx_status_t hk_fuchsia_spawn_interp(zx_handle_t job, const char *exe_path, const char *ldso_path,
                                    const char *vdso_path, const char *name, const char *const *argv,
                                    const char *const *environ, const uint32_t *handle_infos,
                                    const zx_handle_t *handles, size_t num_handles, const char *const *names,
                                    size_t num_names, const int *stdio_fds, int stderr_fd, zx_handle_t *process_out,
                                    char *err_msg) {
    if (exe_path == NULL) {
        if (handles != NULL) zx_handle_close_many(handles, num_handles);
        return ZX_ERR_INVALID_ARGS;
    }
    return spawn(job, ldso_path, exe_path, vdso_path, name != NULL ? name : exe_path, argv, environ, handle_infos,
                 handles, num_handles, names, num_names, stdio_fds, stderr_fd, process_out, err_msg);
}

/* The spawner's PA_FD handle for fd i, if it gave one (fdio_spawn's actions take precedence over CLONE_STDIO). */
static bool has_fd_handle(const uint32_t *infos, size_t n, int i) {
    for (size_t j = 0; infos != NULL && j < n; j++)
        if ((infos[j] & 0xFFu) == HK_PA_FD && ((infos[j] >> 16) & 0x7FFFu) == (uint32_t)i) return true;
    return false;
}

static zx_status_t spawn(zx_handle_t job, const char *image_path, const char *exe_path, const char *vdso_path,
                         const char *name, const char *const *argv, const char *const *environ,
                         const uint32_t *handle_infos, const zx_handle_t *handles, size_t num_handles,
                         const char *const *names, size_t num_names, const int stdio_fds[3], int stderr_fd,
                         zx_handle_t *process_out, char *err_msg) {
    if (err_msg != NULL) err_msg[0] = '\0';
    if (image_path == NULL || vdso_path == NULL || process_out == NULL) {
        if (handles != NULL) zx_handle_close_many(handles, num_handles);
        return ZX_ERR_INVALID_ARGS;
    }
    if (name == NULL) name = image_path;
    /* No choice made: the spawner's own fds, as FDIO_SPAWN_CLONE_STDIO shares them (stderr: stderr_fd's). */
    const int shared[3] = {STDIN_FILENO, STDOUT_FILENO, stderr_fd >= 0 ? stderr_fd : STDERR_FILENO};
    if (stdio_fds == NULL) stdio_fds = shared;
    pthread_once(&g_clock_once, clock_calibrate);
    fuchsia_start_t *fs = calloc(1, sizeof *fs);
    if (fs == NULL) {
        if (handles != NULL) zx_handle_close_many(handles, num_handles);
        return ZX_ERR_NO_MEMORY;
    }
    fs->image_fd = fs->vdso_fd = -1;
    uint8_t *exe = NULL;
    size_t exe_size = 0;
    zx_status_t status = exe_path != NULL ? executable_read(exe_path, &exe, &exe_size, err_msg) : ZX_OK;
    if (status == ZX_OK) status = image_read(image_path, &fs->image, false, err_msg);
    if (status == ZX_OK) status = image_read(vdso_path, &fs->vdso, true, err_msg);
    char why[200];
    if (status == ZX_OK && (hk_vdso_read(vdso_path, &fs->table, why, sizeof why) != HK_VDSO_OK ||
                            hk_vdso_check(&fs->table, why, sizeof why) != HK_VDSO_OK))
        status = report(err_msg, ZX_ERR_NOT_SUPPORTED, "%s is no vDSO this runner can serve: %s", vdso_path, why);
    if (status == ZX_OK && (fs->table.constants_vaddr + HK_VDSO_CONSTANTS_SIZE > fs->vdso.span ||
                            fs->table.constants_offset + HK_VDSO_CONSTANTS_SIZE > fs->vdso.size))
        status = report(err_msg, ZX_ERR_NOT_SUPPORTED, "%s: DATA_CONSTANTS outside its segments", vdso_path);
    /* The files first, as fdio_spawn checks the executable before anything else; then the handle table, the
     * bootstrap channel and its message (serve_object.c), which take the handles whatever the result. */
    /* stdio: a socket per fd 0-2 the spawner gave no PA_FD handle for, its end in the message as PA_HND(PA_FD, fd),
     * as fdio_spawn's FDIO_SPAWN_CLONE_STDIO (stdio.h). */
    zx_handle_t all_handles[MAX_SPAWN_HANDLES + 3];
    uint32_t all_infos[MAX_SPAWN_HANDLES + 3];
    size_t all_num = 0;
    if (status == ZX_OK && num_handles > MAX_SPAWN_HANDLES)
        status = report(err_msg, ZX_ERR_INVALID_ARGS, "too many bootstrap handles: %zu", num_handles);
    if (status == ZX_OK && num_handles > 0 && (handles == NULL || handle_infos == NULL))
        status = report(err_msg, ZX_ERR_INVALID_ARGS, "bootstrap handles without their infos");
    if (status == ZX_OK) {
        int fds[3];
        for (int i = 0; i < 3; i++)
            fds[i] = !has_fd_handle(handle_infos, num_handles, i) ? stdio_fds[i] : -1;
        fs->stdio = hk_fx_stdio_new(fds, all_handles, all_infos, &all_num, &status);
        if (status != ZX_OK) report(err_msg, status, "cannot set up the program's stdio: %d", status);
    }
    if (status == ZX_OK) {
        for (size_t i = 0; i < num_handles; i++) {
            all_handles[all_num] = handles[i];
            all_infos[all_num++] = handle_infos[i];
        }
        fs->serve = hk_fx_serve_new(job, argv, environ, all_infos, all_handles, all_num, names, num_names,
                                    program_monotonic, &status, err_msg);
        /* Its loader service: the SDK's libraries next to the vDSO and the program's directory (loader.h).  No
         * thread runs until a connection is made (hk_fx_serve_dynamic's PA_LDSVC_LOADER for ld.so.1). */
        if (status == ZX_OK)
            hk_fx_serve_set_loader(fs->serve,
                                   hk_fx_loader_new_for(vdso_path, exe_path != NULL ? exe_path : image_path));
    } else if (handles != NULL) {
        zx_handle_close_many(handles, num_handles);
    }
    if (status == ZX_OK) {
        const char *base = strrchr(name, '/');
        snprintf(fs->name, sizeof fs->name, "%s", base != NULL ? base + 1 : name);
        fs->stderr_fd = stderr_fd >= 0 ? stderr_fd : STDERR_FILENO;
    }
    if (status == ZX_OK && exe != NULL) {
        /* The executable's VMO, as the launcher hands it over: named after the file, readable and executable, not
         * writable (a VMO of a file opened for execution). */
        const char *base = strrchr(exe_path, '/');
        zx_handle_t vmo = ZX_HANDLE_INVALID;
        status = hk_fuchsia_vm_vmo_from_bytes(exe, exe_size, base != NULL ? base + 1 : exe_path,
                                              (ZX_DEFAULT_VMO_RIGHTS & ~ZX_RIGHT_WRITE) | ZX_RIGHT_EXECUTE, &vmo);
        if (status == ZX_OK) {
            hk_fx_serve_dynamic(fs->serve, vmo);
            fs->dynamic = true;
        } else {
            report(err_msg, status, "no VMO for %s: %d", exe_path, status);
        }
    }
    free(exe);
    /* The trampoline, and the bytes the program maps: the image exactly as checked, the vDSO with DATA_CONSTANTS
     * written in, as Zircon writes them into the vDSO's VMO (zircon/kernel/lib/userabi/vdso.cc). */
    if (status == ZX_OK) pthread_once(&g_trampoline_once, trampoline_create); /* not for a spawn already failed */
    if (status == ZX_OK && g_trampoline_fd < 0)
        status = report(err_msg, ZX_ERR_NOT_SUPPORTED, "cannot create the start trampoline (an executable memfd): %s",
                        strerror(g_trampoline_errno));
    if (status == ZX_OK) {
        uint8_t constants[HK_VDSO_CONSTANTS_SIZE];
        fill_constants(constants);
        fs->image_fd = memfd_of(fs->name, fs->image.data, fs->image.size, NULL, 0);
        fs->vdso_fd = fs->image_fd < 0 ? -1
                                       : memfd_of("vdso", fs->vdso.data, fs->vdso.size, constants,
                                                  fs->table.constants_offset);
        if (fs->vdso_fd < 0)
            status = report(err_msg, errno == ENOMEM ? ZX_ERR_NO_MEMORY : ZX_ERR_NO_RESOURCES,
                            "cannot create the memfds of the image and the vDSO: %s", strerror(errno));
    }

    /* The process, as fdio_spawn makes one: what zx_process_create checks on the job. */
    hk_process_t *p = NULL;
    if (status == ZX_OK) {
        hk_object_t *obj;
        hk_lock();
        status = hk_handle_get(job, ZX_OBJ_TYPE_JOB, ZX_RIGHT_MANAGE_PROCESS, &obj, NULL);
        hk_job_t *j = status == ZX_OK ? HK_CONTAINER_OF(obj, hk_job_t, base) : NULL;
        if (status == ZX_OK && j->state != HK_JOB_READY) status = ZX_ERR_BAD_STATE;
        if (status == ZX_OK && (p = hk_process_new(j, HK_PROCESS_LINUX, fs->name)) == NULL) status = ZX_ERR_NO_MEMORY;
        if (status == ZX_OK) status = hk_fx_serve_attach(fs->serve, p, &fs->bootstrap);
        if (status != ZX_OK && p != NULL) {
            hk_process_kill(p, ZX_TASK_RETCODE_SYSCALL_KILL);
            hk_object_unref(&p->base);
            p = NULL;
        }
        hk_unlock();
        if (status != ZX_OK) report(err_msg, status, "cannot create a process in the job: %d", status);
    }
    if (status == ZX_OK) {
        const char *argv[] = {fs->name, NULL};
        const char *envp[] = {NULL};
        /* The memfds go to the program as its fds 3 and 4 (above every target: it is given no other fd), where the
         * injected mmaps find them; they are closed there before the image runs. */
        fs->image_target = 3;
        fs->vdso_target = 4;
        const fdio_spawn_action_t actions[] = {
            {.action = FDIO_SPAWN_ACTION_CLONE_FD, .fd = {.local_fd = fs->image_fd, .target_fd = fs->image_target}},
            {.action = FDIO_SPAWN_ACTION_CLONE_FD, .fd = {.local_fd = fs->vdso_fd, .target_fd = fs->vdso_target}},
        };
        hk_spawn_request_t req = {
            .flags = FDIO_SPAWN_CLONE_STDIO,
            .path = image_path,
            .argv = argv,
            .environ = envp,
            .action_count = sizeof actions / sizeof actions[0],
            .actions = actions,
            .fuchsia_ops = &g_fuchsia_ops,
            .fuchsia_start = fs,
        };
        status = hk_linux_spawn(p, &req, err_msg);
        hk_lock();
        if (status == ZX_OK) {
            status = hk_handle_alloc(&p->base, ZX_DEFAULT_PROCESS_RIGHTS, process_out);
            if (status != ZX_OK) report(err_msg, status, "no handle for the new process: %d", status);
        }
        if (status != ZX_OK) hk_process_kill(p, ZX_TASK_RETCODE_SYSCALL_KILL);
        hk_object_unref(&p->base);
        hk_unlock();
    }
    if (fs->image_fd >= 0) close(fs->image_fd);
    if (fs->vdso_fd >= 0) close(fs->vdso_fd);
    hk_fx_serve_free(fs->serve); /* NULL once the program took it */
    hk_fx_stdio_end(fs->stdio);  /* likewise */
    free(fs->image.data);
    free(fs->vdso.data);
    hk_vdso_free(&fs->table);
    free(fs);
    return status;
}
