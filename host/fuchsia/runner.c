#define _GNU_SOURCE /* process_vm_readv, ptrace requests, MAP_STACK */
/* Running a Fuchsia x86-64 ELF image on the host kernel: the start (mapping the image and the vDSO in a forked
 * child of the monitor) and the syscall service under PTRACE_SYSEMU (see runner.h and docs/fuchsia-elf.md).
 *
 * The program is an ordinary program of the spawn backend (linux_*.c: the same fork-and-seize, task records, kill,
 * stop and resume); the backend reaches this file only through lt_fuchsia_ops (linux_task.h), because host/fuchsia/
 * is not compiled into the Python module.  What differs:
 *   - the child maps the image instead of exec'ing, stops itself with SIGSTOP, then jumps to the entry; at that
 *     stop the monitor switches the task to PTRACE_SYSEMU (lt_task_t.resume) before the image runs at all;
 *   - at every syscall-stop (syscall_stop) the call is served here, or by serve_object.c for the object-model calls
 *     (from the program's own handle table), and its result written to rax.  A call the
 *     runner has Linux do for the task (the sleep of zx_nanosleep, the exit of zx_process_exit) is made by moving
 *     rip back onto the `syscall` instruction with Linux's number and arguments: the task runs it for real, as a
 *     Linux task, so a suspend (PTRACE_INTERRUPT) or a kill reaches it like any other.
 *
 * The x86-64 syscall ABI of the vDSO: number in eax, arguments rdi, rsi, rdx, r10, r8, r9, r12, r13, result in rax.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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
#include "runner.h"
#include "serve.h"
#include "vdso.h"

#if !defined(__x86_64__)
#error "host/fuchsia/runner.c runs x86-64 Fuchsia images on x86-64 Linux only"
#endif

#define PAGE 4096u
#define MAX_SEGMENTS 16
#define STACK_SIZE (256u * 1024u) /* Zircon's default for a process's first thread (ZIRCON_DEFAULT_STACK_SIZE) */
#define MAX_DEBUG_WRITE 256u      /* kMaxDebugWriteSize, zircon/kernel/lib/syscalls/debug.cc */
#define CPRNG_DRAW_MAX_LEN 256u   /* ZX_CPRNG_DRAW_MAX_LEN */
#define VERSION_STRING "zxpy host kernel"

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
                          "%s has PT_INTERP: start its interpreter (ld.so.1) instead; the runner maps start images "
                          "only", path);
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

/* The program's monotonic clock now, as its vDSO computes it. */
static int64_t program_monotonic(void) {
    return (int64_t)(((unsigned __int128)rdtsc() * g_clock.num) / g_clock.den);
}

/* ------------------------------------------------------------------------------------------------ start data */

/* What the child needs, prepared by the requesting thread before the fork. */
typedef struct fuchsia_start {
    image_t image, vdso;
    uint64_t constants_vaddr;
    uint8_t constants[HK_VDSO_CONSTANTS_SIZE];
    char name[16]; /* the Linux task name (comm) */
    hk_vdso_t table;
    int stderr_fd;
    hk_fx_serve_t *serve;   /* the object-model calls (serve_object.c): taken by program_new */
    zx_handle_t bootstrap;  /* the program's end of its bootstrap channel, in its own table */
} fuchsia_start_t;

/* The monitor's record of one running Fuchsia program (lp->fuchsia). */
typedef struct fuchsia_program {
    hk_vdso_site_t *sites; /* the vDSO's syscall sites and names (copied from the start data) */
    size_t num_sites;
    hk_vdso_syscall_t *syscalls;
    size_t num_syscalls;
    uint64_t vdso_base, image_base;
    int stderr_fd;
    hk_fx_serve_t *serve;
    zx_handle_t bootstrap;
    /* A real Linux call runs for the (only) task: the registers to restore at its exit stop, with rax = result. */
    bool in_real_call;
    struct user_regs_struct saved;
} fuchsia_program_t;

/* ------------------------------------------------------------------------------------------------ the child */

static _Noreturn void child_fail(int err_fd, int stage) {
    int msg[2] = {stage, errno};
    ssize_t n = write(err_fd, msg, sizeof msg);
    (void)n;
    _exit(127);
}

/* Map im at a fresh base: reserve the span, copy the file's bytes in, let fill() write into it, then give each
 * segment its own protection. */
static uint8_t *child_map(const image_t *im, int err_fd, const fuchsia_start_t *fs) {
    uint8_t *base = mmap(NULL, im->span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED) child_fail(err_fd, STAGE_SETUP);
    for (size_t i = 0; i < im->nsegs; i++)
        memcpy(base + (im->segs[i].vaddr - im->lo), im->data + im->segs[i].offset, im->segs[i].filesz);
    if (fs != NULL) memcpy(base + fs->constants_vaddr, fs->constants, sizeof fs->constants);
    if (mprotect(base, im->span, PROT_NONE) != 0) child_fail(err_fd, STAGE_SETUP);
    for (size_t i = 0; i < im->nsegs; i++) {
        const segment_t *s = &im->segs[i];
        uint64_t from = (s->vaddr - im->lo) & ~(uint64_t)(PAGE - 1);
        uint64_t to = (s->vaddr - im->lo + s->memsz + PAGE - 1) & ~(uint64_t)(PAGE - 1);
        int prot = ((s->flags & PF_R) ? PROT_READ : 0) | ((s->flags & PF_W) ? PROT_WRITE : 0) |
                   ((s->flags & PF_X) ? PROT_EXEC : 0);
        if (mprotect(base + from, to - from, prot) != 0) child_fail(err_fd, STAGE_SETUP);
    }
    return base;
}

static void fuchsia_child(const void *start, int err_fd) __attribute__((noreturn));
static void fuchsia_child(const void *start, int err_fd) {
    const fuchsia_start_t *fs = start;
    uint8_t *image = child_map(&fs->image, err_fd, NULL);
    uint8_t *vdso = child_map(&fs->vdso, err_fd, fs);
    uint8_t *stack = mmap(NULL, STACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED) child_fail(err_fd, STAGE_SETUP);
    prctl(PR_SET_NAME, fs->name, 0, 0, 0);
    /* The x86-64 psABI's entry state: rsp % 16 == 8, as if a return address had been pushed. */
    uint64_t sp = (((uint64_t)(uintptr_t)(stack + STACK_SIZE)) & ~(uint64_t)15) - 8;
    /* Everything the monitor reads at the stop is in registers; nothing below touches memory the image could
     * see, and no Linux call follows the kill: from the stop on, any `syscall` is the image's. */
    register uint64_t r_sp __asm__("r12") = sp;
    register uint64_t r_vdso __asm__("r13") = (uint64_t)(uintptr_t)vdso;
    register uint64_t r_entry __asm__("r14") = (uint64_t)(uintptr_t)image + fs->image.entry - fs->image.lo;
    register uint64_t r_pid __asm__("r15") = (uint64_t)getpid();
    register uint64_t r_image __asm__("rbx") = (uint64_t)(uintptr_t)image;
    __asm__ volatile("mov %%r15, %%rdi\n\t"
                     "mov $19, %%esi\n\t" /* SIGSTOP */
                     "mov $62, %%eax\n\t" /* SYS_kill */
                     "syscall\n\t"
                     "mov %%r12, %%rsp\n\t"
                     "push %%r14\n\t"
                     "mov %%r13, %%rsi\n\t" /* the vDSO base */
                     "mov %%r15d, %%edi\n\t" /* the bootstrap channel: the monitor put it in r15 at the stop */
                     "xor %%eax, %%eax\n\txor %%ebx, %%ebx\n\txor %%ecx, %%ecx\n\txor %%edx, %%edx\n\t"
                     "xor %%ebp, %%ebp\n\txor %%r8d, %%r8d\n\txor %%r9d, %%r9d\n\txor %%r10d, %%r10d\n\t"
                     "xor %%r11d, %%r11d\n\txor %%r12d, %%r12d\n\txor %%r13d, %%r13d\n\txor %%r14d, %%r14d\n\t"
                     "xor %%r15d, %%r15d\n\t"
                     "ret"
                     :
                     : "r"(r_sp), "r"(r_vdso), "r"(r_entry), "r"(r_pid), "r"(r_image)
                     : "memory");
    __builtin_unreachable();
}

/* ------------------------------------------------------------------------------------------------ the monitor */

static void *program_new(const void *start) {
    const fuchsia_start_t *fs = start;
    fuchsia_program_t *fp = calloc(1, sizeof *fp);
    if (fp == NULL) return NULL;
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
    fp->bootstrap = fs->bootstrap;
    ((fuchsia_start_t *)start)->serve = NULL; /* the program owns it now */
    return fp;
}

static void program_free(void *program) {
    fuchsia_program_t *fp = program;
    hk_fx_serve_free(fp->serve);
    free(fp->sites);
    free(fp->syscalls);
    if (fp->stderr_fd >= 0) close(fp->stderr_fd);
    free(fp);
}

static bool started(void *program, lt_task_t *k) {
    fuchsia_program_t *fp = program;
    struct user_regs_struct r;
    if (ptrace(PTRACE_GETREGS, k->tid, 0, &r) != 0) return false;
    fp->vdso_base = r.r13;
    fp->image_base = r.rbx;
    r.r15 = fp->bootstrap; /* the child moves it to rdi as it enters the image */
    if (ptrace(PTRACE_SETREGS, k->tid, 0, &r) != 0) return false;
    return fp->vdso_base != 0 && (fp->vdso_base % PAGE) == 0;
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

/* Have the task run one real Linux call, nr(a0..a3), in place of the Zircon call it stopped at: rip goes back onto
 * its `syscall` instruction, which then runs without SYSEMU.  For a call that returns (with_exit), the task runs
 * under PTRACE_SYSCALL and its exit stop restores the registers with rax = result (syscall_stop). */
static void run_real_call(fuchsia_program_t *fp, lt_task_t *k, struct user_regs_struct *r, long nr, uint64_t a0,
                          uint64_t a1, uint64_t a2, uint64_t a3, bool with_exit, int64_t result) {
    if (with_exit) {
        fp->saved = *r;
        fp->saved.rax = (uint64_t)result;
        fp->in_real_call = true;
    }
    struct user_regs_struct x = *r;
    x.rip -= 2;
    x.rax = (uint64_t)nr;
    x.rdi = a0;
    x.rsi = a1;
    x.rdx = a2;
    x.r10 = a3;
    ptrace(PTRACE_SETREGS, k->tid, 0, &x);
    k->resume = with_exit ? LT_RESUME_SYSCALL : LT_RESUME_CONT;
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
    run_real_call(fp, k, r, SYS_clock_nanosleep, CLOCK_MONOTONIC, TIMER_ABSTIME, at, 0, true, ZX_OK);
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

static void syscall_stop(void *program, lt_task_t *k) {
    fuchsia_program_t *fp = program;
    struct user_regs_struct r;
    struct __ptrace_syscall_info info;
    memset(&info, 0, sizeof info);
    if (ptrace(PTRACE_GETREGS, k->tid, 0, &r) != 0) return; /* gone: its exit comes through waitpid */
    long got = ptrace(PTRACE_GET_SYSCALL_INFO, k->tid, (void *)sizeof info, &info);
    if (fp->in_real_call) {
        /* The real call's entry stop, or restart_syscall's after a stop interrupted it: let it run.  An exit stop
         * with rip still on the `syscall` instruction is the emulated call's own (resuming a SYSEMU entry stop with
         * PTRACE_SYSCALL reports the skipped call's exit): the real one has not run yet.  Its exit: done, unless
         * Linux is about to restart it. */
        if (got <= 0 || info.op != PTRACE_SYSCALL_INFO_EXIT || info.instruction_pointer != fp->saved.rip) return;
        int64_t rv = info.exit.rval;
        if (rv == -ERESTARTSYS || rv == -ERESTARTNOINTR || rv == -ERESTARTNOHAND || rv == -ERESTART_RESTARTBLOCK)
            return;
        ptrace(PTRACE_SETREGS, k->tid, 0, &fp->saved);
        fp->in_real_call = false;
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
        run_real_call(fp, k, &r, SYS_exit_group, a[0] & 0xff, 0, 0, 0, false, 0);
        return;
    } else if (strcmp(name, "debug_write") == 0) {
        ret = serve_debug_write(fp, k, a[0], a[1]);
    } else if (strcmp(name, "nanosleep") == 0) {
        ret = serve_nanosleep(fp, k, &r, (int64_t)a[0], &deferred);
        if (deferred) return;
    } else if (strcmp(name, "clock_get_monotonic_via_kernel") == 0) {
        ret = program_monotonic();
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
    .child = fuchsia_child,
    .started = started,
    .syscall_stop = syscall_stop,
    .poll = poll,
    .program_free = program_free,
};

/* ------------------------------------------------------------------------------------------------ the request */

static void fill_constants(fuchsia_start_t *fs) {
    uint8_t *c = fs->constants;
    memset(c, 0, sizeof fs->constants);
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

zx_status_t hk_fuchsia_spawn(zx_handle_t job, const char *image_path, const char *vdso_path, const char *name,
                             int stderr_fd, zx_handle_t *process_out, char *err_msg) {
    const char *argv[] = {name != NULL ? name : image_path, NULL};
    return hk_fuchsia_spawn_etc(job, image_path, vdso_path, name, argv, NULL, NULL, NULL, 0, stderr_fd, process_out,
                                err_msg);
}

zx_status_t hk_fuchsia_spawn_etc(zx_handle_t job, const char *image_path, const char *vdso_path, const char *name,
                                 const char *const *argv, const char *const *environ, const uint32_t *handle_infos,
                                 const zx_handle_t *handles, size_t num_handles, int stderr_fd,
                                 zx_handle_t *process_out, char *err_msg) {
    if (err_msg != NULL) err_msg[0] = '\0';
    if (image_path == NULL || vdso_path == NULL || process_out == NULL) {
        if (handles != NULL) zx_handle_close_many(handles, num_handles);
        return ZX_ERR_INVALID_ARGS;
    }
    if (name == NULL) name = image_path;
    pthread_once(&g_clock_once, clock_calibrate);
    fuchsia_start_t *fs = calloc(1, sizeof *fs);
    if (fs == NULL) {
        if (handles != NULL) zx_handle_close_many(handles, num_handles);
        return ZX_ERR_NO_MEMORY;
    }
    zx_status_t status = image_read(image_path, &fs->image, false, err_msg);
    if (status == ZX_OK) status = image_read(vdso_path, &fs->vdso, true, err_msg);
    char why[200];
    if (status == ZX_OK && (hk_vdso_read(vdso_path, &fs->table, why, sizeof why) != HK_VDSO_OK ||
                            hk_vdso_check(&fs->table, why, sizeof why) != HK_VDSO_OK))
        status = report(err_msg, ZX_ERR_NOT_SUPPORTED, "%s is no vDSO this runner can serve: %s", vdso_path, why);
    if (status == ZX_OK && fs->table.constants_vaddr + HK_VDSO_CONSTANTS_SIZE > fs->vdso.span)
        status = report(err_msg, ZX_ERR_NOT_SUPPORTED, "%s: DATA_CONSTANTS outside its segments", vdso_path);
    /* The files first, as fdio_spawn checks the executable before anything else; then the handle table, the
     * bootstrap channel and its message (serve_object.c), which take the handles whatever the result. */
    if (status == ZX_OK)
        fs->serve = hk_fx_serve_new(job, argv, environ, handle_infos, handles, num_handles, program_monotonic,
                                    &status, err_msg);
    else if (handles != NULL)
        zx_handle_close_many(handles, num_handles);
    if (status == ZX_OK) {
        fs->constants_vaddr = fs->table.constants_vaddr;
        fill_constants(fs);
        const char *base = strrchr(name, '/');
        snprintf(fs->name, sizeof fs->name, "%s", base != NULL ? base + 1 : name);
        fs->stderr_fd = stderr_fd >= 0 ? stderr_fd : STDERR_FILENO;
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
        hk_spawn_request_t req = {
            .flags = FDIO_SPAWN_CLONE_STDIO,
            .path = image_path,
            .argv = argv,
            .environ = envp,
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
    hk_fx_serve_free(fs->serve); /* NULL once the program took it */
    free(fs->image.data);
    free(fs->vdso.data);
    hk_vdso_free(&fs->table);
    free(fs);
    return status;
}
