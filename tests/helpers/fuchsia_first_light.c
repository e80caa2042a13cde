/* fuchsia_first_light: a Fuchsia-ABI static PIE for the host kernel's Fuchsia runner (host/fuchsia/runner.c).
 *
 * No libc, no dynamic linker, no relocations: _start(bootstrap, vdso) is entered the way Zircon's
 * zx_process_start enters a program (rdi = bootstrap channel handle, rsi = vDSO base), looks the functions it needs
 * up in the vDSO's dynamic symbol table at run time, and calls them.  One behaviour per build (-DFL_MODE=...):
 *
 *   FL_EXIT      debug_write a greeting, check cprng_draw and the clock, exit with 42
 *   FL_TICK      "tick N\n" through debug_write every 10 ms, for ever (for suspend and kill tests)
 *   FL_UNSERVED  zx_system_get_event(0, 0, NULL), which the runner does not serve: exit with the status it returned
 *   FL_BADSYSCALL  issue `syscall` (process_exit's number) from the image's own code, not from the vDSO: Zircon
 *                kills the process with a policy exception, so the exit must never happen
 *
 * Built with clang --target=x86_64-unknown-fuchsia -fuse-ld=lld -nostdlib -ffreestanding -fPIE -Wl,-pie
 * -Wl,--no-dynamic-linker (tests/test_fuchsia_first_light.py).  x86-64 only.
 */
#include <stddef.h>
#include <stdint.h>

typedef int32_t zx_status_t;
typedef uint32_t zx_handle_t;
typedef int64_t zx_time_t;
typedef int64_t zx_duration_t;

#define DT_NULL 0
#define DT_HASH 4
#define DT_STRTAB 5
#define DT_SYMTAB 6
#define PT_DYNAMIC 2

typedef struct { int64_t tag; uint64_t val; } dyn_t;
typedef struct { uint32_t name; uint8_t info, other; uint16_t shndx; uint64_t value, size; } sym_t;
typedef struct { uint32_t type, flags; uint64_t offset, vaddr, paddr, filesz, memsz, align; } phdr_t;

static int streq(const char *a, const char *b) {
    while (*a && *a == *b) a++, b++;
    return *a == *b;
}

/* The vDSO's ELF header is at its base (its first PT_LOAD starts at offset 0); it has no relocations, so its
 * dynamic entries are link-time addresses.  Symbols: DT_HASH's chain count, else every entry between DT_SYMTAB and
 * DT_STRTAB (lld puts .dynsym before .dynstr). */
static void *vdso_sym(const uint8_t *base, const char *name) {
    uint64_t phoff = *(const uint64_t *)(base + 0x20);
    uint16_t phnum = *(const uint16_t *)(base + 0x38);
    const phdr_t *ph = (const phdr_t *)(base + phoff);
    const dyn_t *dyn = NULL;
    for (uint16_t i = 0; i < phnum; i++)
        if (ph[i].type == PT_DYNAMIC) dyn = (const dyn_t *)(base + ph[i].vaddr);
    if (dyn == NULL) return NULL;
    uint64_t symtab = 0, strtab = 0, hash = 0;
    for (; dyn->tag != DT_NULL; dyn++) {
        if (dyn->tag == DT_SYMTAB) symtab = dyn->val;
        else if (dyn->tag == DT_STRTAB) strtab = dyn->val;
        else if (dyn->tag == DT_HASH) hash = dyn->val;
    }
    if (symtab == 0 || strtab == 0) return NULL;
    uint64_t count = hash ? ((const uint32_t *)(base + hash))[1]
                          : (strtab > symtab ? (strtab - symtab) / sizeof(sym_t) : 0);
    const sym_t *syms = (const sym_t *)(base + symtab);
    for (uint64_t i = 1; i < count; i++)
        if (syms[i].shndx != 0 && streq((const char *)(base + strtab + syms[i].name), name))
            return (void *)(base + syms[i].value);
    return NULL;
}

typedef void exit_fn(int64_t) __attribute__((noreturn));
static exit_fn *zx_process_exit;
static zx_status_t (*zx_debug_write)(const char *, size_t);

static size_t len(const char *s) {
    size_t n = 0;
    while (s[n]) n++;
    return n;
}

__attribute__((unused)) static void say(const char *s) { zx_debug_write(s, len(s)); }

/* No vDSO functions: nothing to report with, so fault (the runner reports an exception kill). */
static _Noreturn void die(void) { __builtin_trap(); }

void _start(zx_handle_t bootstrap, void *vdso) {
    const uint8_t *base = vdso;
    (void)bootstrap;
    zx_process_exit = (exit_fn *)vdso_sym(base, "_zx_process_exit");
    zx_debug_write = (zx_status_t (*)(const char *, size_t))vdso_sym(base, "_zx_debug_write");
    if (zx_process_exit == NULL || zx_debug_write == NULL) die();
#if defined(FL_EXIT)
    void (*cprng_draw)(void *, size_t) = (void (*)(void *, size_t))vdso_sym(base, "_zx_cprng_draw");
    zx_time_t (*deadline_after)(zx_duration_t) = (zx_time_t (*)(zx_duration_t))vdso_sym(base, "_zx_deadline_after");
    zx_status_t (*nanosleep)(zx_time_t) = (zx_status_t (*)(zx_time_t))vdso_sym(base, "_zx_nanosleep");
    if (cprng_draw == NULL || deadline_after == NULL || nanosleep == NULL) zx_process_exit(2);
    say("hello from a Fuchsia program\n");
    volatile uint8_t buf[64];
    for (size_t i = 0; i < sizeof buf; i++) buf[i] = 0;
    cprng_draw((void *)buf, sizeof buf);
    int nonzero = 0;
    for (size_t i = 0; i < sizeof buf; i++) nonzero += buf[i] != 0;
    if (nonzero < 32) zx_process_exit(3);
    zx_time_t t0 = deadline_after(0);
    if (t0 <= 0 || nanosleep(deadline_after(20 * 1000 * 1000)) != 0) zx_process_exit(4);
    if (deadline_after(0) - t0 < 20 * 1000 * 1000) zx_process_exit(5);
    say("slept, exiting with 42\n");
    zx_process_exit(42);
#elif defined(FL_TICK)
    zx_time_t (*deadline_after)(zx_duration_t) = (zx_time_t (*)(zx_duration_t))vdso_sym(base, "_zx_deadline_after");
    zx_status_t (*nanosleep)(zx_time_t) = (zx_status_t (*)(zx_time_t))vdso_sym(base, "_zx_nanosleep");
    if (deadline_after == NULL || nanosleep == NULL) zx_process_exit(2);
    char line[32] = "tick ";
    for (uint64_t n = 0;; n++) {
        char digits[21];
        int d = 0;
        uint64_t v = n;
        do digits[d++] = (char)('0' + v % 10), v /= 10;
        while (v != 0);
        size_t at = 5;
        while (d > 0) line[at++] = digits[--d];
        line[at++] = '\n';
        zx_debug_write(line, at);
        nanosleep(deadline_after(10 * 1000 * 1000));
    }
#elif defined(FL_UNSERVED)
    zx_status_t (*get_event)(zx_handle_t, uint32_t, zx_handle_t *) =
        (zx_status_t (*)(zx_handle_t, uint32_t, zx_handle_t *))vdso_sym(base, "_zx_system_get_event");
    if (get_event == NULL) zx_process_exit(2);
    zx_process_exit(get_event(0, 0, NULL));
#elif defined(FL_BADSYSCALL)
    /* The number is taken from the vDSO's own process_exit stub (mov $N,%eax; syscall): the right number, from the
     * wrong place. */
    const uint8_t *stub = (const uint8_t *)zx_process_exit;
    uint32_t nr = 0;
    for (int i = 0; i < 64; i++) {
        if (stub[i] == 0xb8 && stub[i + 5] == 0x0f && stub[i + 6] == 0x05) {
            nr = (uint32_t)stub[i + 1] | (uint32_t)stub[i + 2] << 8 | (uint32_t)stub[i + 3] << 16 |
                 (uint32_t)stub[i + 4] << 24;
            break;
        }
    }
    say("issuing a syscall from outside the vDSO\n");
    register uint64_t rdi __asm__("rdi") = 7;
    uint64_t rax = nr;
    __asm__ volatile("syscall" : "+a"(rax) : "r"(rdi) : "rcx", "r11", "memory");
    say("still alive after a bad syscall\n");
    zx_process_exit(8);
#else
#error "define FL_EXIT, FL_TICK, FL_UNSERVED or FL_BADSYSCALL"
#endif
}
