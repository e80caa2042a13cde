/* vdso_trap: run code of a stand-in vDSO (fuchsia_tools/standin_vdso.py) on Linux and catch its syscalls.
 *
 *   vdso_trap LIBZIRCON_SO [--no-kernel-clock]
 *
 * Maps the file's PT_LOAD segments at a fixed low address (a vDSO has no relocations), fills DATA_CONSTANTS
 * through a writable alias, and installs a seccomp filter that traps (SIGSYS) every syscall whose instruction
 * pointer lies in the mapping -- a small stand-in for the runner's PTRACE_SYSEMU dispatch.  The SIGSYS handler
 * records rax (the Zircon number), rdi, rsi, rdx, r10, r8, r9, r12, r13 and returns 1000 + number.  It then
 * calls a few exported functions and prints one JSON object: the calls' results and the trapped syscalls.
 * Test helper: x86-64 Linux only, minimal checking (the file is the generator's output).
 */
#define _GNU_SOURCE
#include <elf.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <ucontext.h>
#include <unistd.h>

#define BASE 0x20000000ul
#define SPAN 0x100000ul

typedef struct trap {
    uint64_t nr, a[8];
} trap_t;
static trap_t traps[16];
static volatile int ntraps;

static void on_sigsys(int sig, siginfo_t *si, void *uc_) {
    (void)sig;
    ucontext_t *uc = uc_;
    greg_t *g = uc->uc_mcontext.gregs;
    if (ntraps < 16) {
        trap_t *t = &traps[ntraps++];
        t->nr = (uint64_t)si->si_syscall;
        uint64_t regs[8] = {g[REG_RDI], g[REG_RSI], g[REG_RDX], g[REG_R10], g[REG_R8], g[REG_R9], g[REG_R12],
                            g[REG_R13]};
        memcpy(t->a, regs, sizeof regs);
    }
    g[REG_RAX] = 1000 + (greg_t)si->si_syscall;
}

static void *sym(const uint8_t *file, size_t size, const char *name) {
    const Elf64_Ehdr *eh = (const void *)file;
    const Elf64_Shdr *sh = (const void *)(file + eh->e_shoff);
    for (int i = 0; i < eh->e_shnum; i++) {
        if (sh[i].sh_type != SHT_SYMTAB) continue;
        const Elf64_Sym *s = (const void *)(file + sh[i].sh_offset);
        const char *str = (const char *)file + sh[sh[i].sh_link].sh_offset;
        for (size_t j = 0; j < sh[i].sh_size / sizeof *s; j++)
            if (strcmp(str + s[j].st_name, name) == 0) return (void *)(BASE + s[j].st_value);
    }
    (void)size;
    fprintf(stderr, "no symbol %s\n", name);
    exit(3);
}

int main(int argc, char **argv) {
    if (argc != 2 && !(argc == 3 && strcmp(argv[2], "--no-kernel-clock") == 0)) return 2;
    int fd = open(argv[1], O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) return perror(argv[1]), 2;
    uint8_t *file = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    /* Map each PT_LOAD: code read+exec; the whole image also gets its data copied in first. */
    uint8_t *img = mmap((void *)BASE, SPAN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
                        -1, 0);
    if (file == MAP_FAILED || img != (void *)BASE) return perror("mmap"), 2;
    const Elf64_Ehdr *eh = (const void *)file;
    const Elf64_Phdr *ph = (const void *)(file + eh->e_phoff);
    for (int i = 0; i < eh->e_phnum; i++)
        if (ph[i].p_type == PT_LOAD) memcpy(img + ph[i].p_vaddr, file + ph[i].p_offset, ph[i].p_filesz);

    /* DATA_CONSTANTS, as the runner will fill it. */
    uint8_t *k = sym(file, (size_t)st.st_size, "DATA_CONSTANTS");
    memset(k, 0, 120);
    *(uint32_t *)(k + 0x00) = 4;          /* max_num_cpus */
    *(uint32_t *)(k + 0x04) = 0x1234;     /* features: cpu */
    *(uint32_t *)(k + 0x10) = 64;         /* dcache line */
    *(uint64_t *)(k + 0x18) = 1000000000; /* ticks per second */
    *(uint32_t *)(k + 0x20) = 1;          /* ticks -> mono: 1/1 */
    *(uint32_t *)(k + 0x24) = 1;
    *(uint64_t *)(k + 0x28) = 1ull << 33; /* physmem */
    static const char version[] = "stand-in 1";
    *(uint64_t *)(k + 0x30) = sizeof version - 1;
    memcpy(k + 0x38, version, sizeof version);
    for (int i = 0; i < eh->e_phnum; i++) {
        if (ph[i].p_type != PT_LOAD) continue;
        int prot = ((ph[i].p_flags & PF_R) ? PROT_READ : 0) | ((ph[i].p_flags & PF_W) ? PROT_WRITE : 0) |
                   ((ph[i].p_flags & PF_X) ? PROT_EXEC : 0);
        uintptr_t lo = (BASE + ph[i].p_vaddr) & ~0xffful, hi = (BASE + ph[i].p_vaddr + ph[i].p_memsz + 0xfff) & ~0xffful;
        if (mprotect((void *)lo, hi - lo, prot) != 0) return perror("mprotect"), 2;
    }

    struct sigaction sa = {.sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO};
    sigaction(SIGSYS, &sa, NULL);
    /* Trap syscalls issued from [BASE, BASE + SPAN); allow the rest. */
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, instruction_pointer) + 4),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, instruction_pointer)),
        BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, (uint32_t)BASE, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, (uint32_t)(BASE + SPAN), 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
    };
    struct sock_fprog prog = {.len = sizeof f / sizeof f[0], .filter = f};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0)
        return perror("seccomp"), 2;

    typedef int32_t (*fn8)(uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t);
    typedef int32_t (*fn3)(uint64_t, uint64_t, uint64_t);
    typedef int64_t (*fn0)(void);
    typedef uint32_t (*fn0u)(void);
    typedef const char *(*fnstr)(int32_t);
    typedef int32_t (*fnfeat)(uint32_t, uint32_t *);
    typedef struct { const char *p; size_t n; } sv_t;
    typedef sv_t (*fnsv)(void);

    int32_t r_pin = ((fn8)sym(file, 0, "_zx_bti_pin"))(11, 12, 13, 14, 15, 16, 17, 18);
    int32_t r_map = ((fn8)sym(file, 0, "zx_vmar_map"))(21, 22, 23, 24, 25, 26, 27, 28);
    int32_t r_create = ((fn3)sym(file, 0, "_zx_channel_create"))(31, 32, 33);
    int64_t t1 = ((fn0)sym(file, 0, "_zx_ticks_get"))();
    int64_t m1 = ((fn0)sym(file, 0, "_zx_clock_get_monotonic"))();
    int64_t tps = ((fn0)sym(file, 0, "_zx_ticks_per_second"))();
    uint32_t cpus = ((fn0u)sym(file, 0, "_zx_system_get_num_cpus"))();
    const char *s2 = ((fnstr)sym(file, 0, "_zx_status_get_string"))(-2);
    const char *s999 = ((fnstr)sym(file, 0, "_zx_status_get_string"))(-999);
    uint32_t feat = 0;
    int32_t r_feat = ((fnfeat)sym(file, 0, "_zx_system_get_features"))(0, &feat);
    int32_t r_feat9 = ((fnfeat)sym(file, 0, "_zx_system_get_features"))(9, &feat);
    sv_t ver = ((fnsv)sym(file, 0, "_zx_system_get_version_string"))();
    /* Denominator 0: the stand-in asks the kernel for the monotonic clock (the real 2021 vDSO traps: ud2,
     * hence --no-kernel-clock).  The runner would rewrite its own mapping. */
    int64_t m_kernel = -1;
    if (argc == 3) goto out;
    void *kpage = (void *)((uintptr_t)k & ~0xffful);
    if (mprotect(kpage, 0x2000, PROT_READ | PROT_WRITE) != 0) return perror("mprotect"), 2;
    *(uint32_t *)(k + 0x24) = 0;
    if (mprotect(kpage, 0x2000, PROT_READ) != 0) return perror("mprotect"), 2;
    m_kernel = ((fn0)sym(file, 0, "_zx_clock_get_monotonic"))();
out:

    printf("{\"bti_pin\": %d, \"vmar_map\": %d, \"channel_create\": %d, \"ticks_ok\": %s, \"monotonic_ok\": %s, "
           "\"ticks_per_second\": %" PRId64 ", \"num_cpus\": %u, \"status_m2\": \"%s\", \"status_m999\": \"%s\", "
           "\"features\": [%d, %u, %d], \"version\": \"%.*s\", \"monotonic_via_kernel\": %" PRId64 ", \"traps\": [",
           r_pin, r_map, r_create, t1 > 0 ? "true" : "false", m1 >= t1 ? "true" : "false", tps, cpus, s2, s999,
           r_feat, feat, r_feat9, (int)ver.n, ver.p, m_kernel);
    for (int i = 0; i < ntraps; i++) {
        printf("%s{\"nr\": %" PRIu64 ", \"args\": [", i ? ", " : "", traps[i].nr);
        for (int j = 0; j < 8; j++) printf("%s%" PRIu64, j ? ", " : "", traps[i].a[j]);
        printf("]}");
    }
    printf("]}\n");
    return 0;
}
