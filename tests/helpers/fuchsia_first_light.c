/* fuchsia_first_light: a Fuchsia-ABI static PIE for the host kernel's Fuchsia runner (host/fuchsia/runner.c).
 *
 * No libc, no dynamic linker, no relocations: _start(bootstrap, vdso) is entered the way Zircon's
 * zx_process_start enters a program (rdi = bootstrap channel handle, rsi = vDSO base), looks the functions it needs
 * up in the vDSO's dynamic symbol table at run time, and calls them.  One behaviour per build (-DFL_MODE=...):
 *
 *   FL_EXIT      debug_write a greeting, check cprng_draw and the clock, exit with 42
 *   FL_TICK      "tick N\n" through debug_write every 10 ms, for ever (for suspend and kill tests)
 *   FL_UNSERVED  zx_handle_close(12345), which the runner does not serve: exit with the status it returned
 *   FL_BADSYSCALL  issue `syscall` (process_exit's number) from the image's own code, not from the vDSO: Zircon
 *                kills the process with a policy exception, so the exit must never happen
 *   FL_VMO       VMOs: create, write, read back, sizes, resize, and each call's errors in Zircon's order; exit 0, or
 *                the number of the first check that failed
 *   FL_VMAR      print "vmar@0x<address>" of a variable and wait until the driver has put a root VMAR handle there;
 *                then map a VMO, use it through the mapping, the errors of vmar_map in Zircon's order, unmap and
 *                map again at a specific place; exit 0, or the number of the first check that failed
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
    zx_status_t (*handle_close)(zx_handle_t) = (zx_status_t (*)(zx_handle_t))vdso_sym(base, "_zx_handle_close");
    if (handle_close == NULL) zx_process_exit(2);
    zx_process_exit(handle_close(12345));
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
#elif defined(FL_VMO)
    zx_status_t (*vmo_create)(uint64_t, uint32_t, zx_handle_t *) =
        (zx_status_t (*)(uint64_t, uint32_t, zx_handle_t *))vdso_sym(base, "_zx_vmo_create");
    zx_status_t (*vmo_read)(zx_handle_t, void *, uint64_t, size_t) =
        (zx_status_t (*)(zx_handle_t, void *, uint64_t, size_t))vdso_sym(base, "_zx_vmo_read");
    zx_status_t (*vmo_write)(zx_handle_t, const void *, uint64_t, size_t) =
        (zx_status_t (*)(zx_handle_t, const void *, uint64_t, size_t))vdso_sym(base, "_zx_vmo_write");
    zx_status_t (*vmo_get_size)(zx_handle_t, uint64_t *) =
        (zx_status_t (*)(zx_handle_t, uint64_t *))vdso_sym(base, "_zx_vmo_get_size");
    zx_status_t (*vmo_set_size)(zx_handle_t, uint64_t) =
        (zx_status_t (*)(zx_handle_t, uint64_t))vdso_sym(base, "_zx_vmo_set_size");
    if (!vmo_create || !vmo_read || !vmo_write || !vmo_get_size || !vmo_set_size) zx_process_exit(2);
    enum { OK = 0, BAD_HANDLE = -11, INVALID_ARGS = -10, OUT_OF_RANGE = -14, UNAVAILABLE = -28,
           RESIZABLE = 2 };
    zx_handle_t h = 0, r = 0;
    uint64_t size = 0;
    char out[16];
    static const char msg[] = "hello, VMO";
    /* A size is rounded up to a page; only ZX_VMO_RESIZABLE is an option. */
    if (vmo_create(10000, 0, &h) != OK || h == 0) zx_process_exit(10);
    if (vmo_get_size(h, &size) != OK || size != 12288) zx_process_exit(11);
    if (vmo_create(4096, 1, &r) != INVALID_ARGS) zx_process_exit(12);
    if (vmo_create(UINT64_MAX - 100, 0, &r) != OUT_OF_RANGE) zx_process_exit(13);
    /* Bytes across a page boundary come back; fresh pages read as zeros. */
    if (vmo_write(h, msg, 4090, sizeof msg) != OK) zx_process_exit(20);
    for (size_t i = 0; i < sizeof out; i++) out[i] = 'x';
    if (vmo_read(h, out, 4090, sizeof msg) != OK || !streq(out, msg)) zx_process_exit(21);
    if (vmo_read(h, out, 8192, 4) != OK || out[0] || out[1] || out[2] || out[3]) zx_process_exit(22);
    /* The range: past the end, or overflowing, is OUT_OF_RANGE; a bad buffer INVALID_ARGS; the handle first. */
    if (vmo_write(h, msg, 12288 - 2, 4) != OUT_OF_RANGE) zx_process_exit(30);
    if (vmo_read(h, out, UINT64_MAX, 2) != OUT_OF_RANGE) zx_process_exit(31);
    if (vmo_read(h, (void *)16, 0, 4) != INVALID_ARGS) zx_process_exit(32);
    if (vmo_get_size(h, (uint64_t *)16) != INVALID_ARGS) zx_process_exit(33);
    if (vmo_read(h ^ 0x100000, out, UINT64_MAX, 2) != BAD_HANDLE) zx_process_exit(34);
    /* Not resizable: UNAVAILABLE.  A resizable one grows (zero-filled) and shrinks (its tail is dropped). */
    if (vmo_set_size(h, 5000) != UNAVAILABLE) zx_process_exit(40);
    if (vmo_create(4096, RESIZABLE, &r) != OK) zx_process_exit(41);
    if (vmo_set_size(r, 5000) != OK || vmo_get_size(r, &size) != OK || size != 8192) zx_process_exit(42);
    if (vmo_write(r, msg, 8000, sizeof msg) != OK) zx_process_exit(43);
    if (vmo_set_size(r, 4096) != OK || vmo_read(r, out, 8000, 1) != OUT_OF_RANGE) zx_process_exit(44);
    if (vmo_set_size(r, 8192) != OK || vmo_read(r, out, 8000, 4) != OK || out[0] || out[3]) zx_process_exit(45);
    if (vmo_set_size(r, UINT64_MAX) != OUT_OF_RANGE) zx_process_exit(46);
    say("VMOs as Zircon has them\n");
    zx_process_exit(0);
#elif defined(FL_VMAR)
    zx_status_t (*vmo_create)(uint64_t, uint32_t, zx_handle_t *) =
        (zx_status_t (*)(uint64_t, uint32_t, zx_handle_t *))vdso_sym(base, "_zx_vmo_create");
    zx_status_t (*vmo_read)(zx_handle_t, void *, uint64_t, size_t) =
        (zx_status_t (*)(zx_handle_t, void *, uint64_t, size_t))vdso_sym(base, "_zx_vmo_read");
    zx_status_t (*vmo_write)(zx_handle_t, const void *, uint64_t, size_t) =
        (zx_status_t (*)(zx_handle_t, const void *, uint64_t, size_t))vdso_sym(base, "_zx_vmo_write");
    zx_status_t (*vmar_map)(zx_handle_t, uint32_t, uint64_t, zx_handle_t, uint64_t, uint64_t, uint64_t *) =
        (zx_status_t (*)(zx_handle_t, uint32_t, uint64_t, zx_handle_t, uint64_t, uint64_t, uint64_t *))vdso_sym(
            base, "_zx_vmar_map");
    zx_status_t (*vmar_unmap)(zx_handle_t, uint64_t, uint64_t) =
        (zx_status_t (*)(zx_handle_t, uint64_t, uint64_t))vdso_sym(base, "_zx_vmar_unmap");
    zx_time_t (*deadline_after)(zx_duration_t) = (zx_time_t (*)(zx_duration_t))vdso_sym(base, "_zx_deadline_after");
    zx_status_t (*nanosleep)(zx_time_t) = (zx_status_t (*)(zx_time_t))vdso_sym(base, "_zx_nanosleep");
    if (!vmo_create || !vmo_read || !vmo_write || !vmar_map || !vmar_unmap || !deadline_after || !nanosleep)
        zx_process_exit(2);
    enum { OK = 0, BAD_HANDLE = -11, INVALID_ARGS = -10, ALREADY_EXISTS = -26, ACCESS_DENIED = -30,
           WRONG_TYPE = -12 };
    enum { READ = 1, WRITE = 2, EXECUTE = 4, SPECIFIC = 16, CAN_MAP_READ = 128 };
    static volatile zx_handle_t root_vmar;
    char line[40] = "vmar@0x";
    uint64_t where = (uint64_t)(uintptr_t)&root_vmar;
    size_t at = 7;
    for (int shift = 60; shift >= 0; shift -= 4) line[at++] = "0123456789abcdef"[(where >> shift) & 15];
    line[at++] = '\n';
    zx_debug_write(line, at);
    for (int i = 0; root_vmar == 0; i++) {
        if (i > 10000) zx_process_exit(90);
        nanosleep(deadline_after(1000 * 1000));
    }
    zx_handle_t vmar = root_vmar, v = 0;
    uint64_t addr = 0, a2 = 0;
    if (vmo_create(8192, 0, &v) != OK || vmo_write(v, "mapped!", 100, 8) != OK) zx_process_exit(10);
    /* Mapped and shared: the bytes written through the VMO are there, and a store through the mapping is in it. */
    if (vmar_map(vmar, READ | WRITE, 0, v, 0, 8192, &addr) != OK || addr == 0 || addr % 4096) zx_process_exit(20);
    volatile char *p = (volatile char *)(uintptr_t)addr;
    if (!streq((const char *)(uintptr_t)(addr + 100), "mapped!")) zx_process_exit(21);
    p[5000] = 'Z';
    char c = 0;
    if (vmo_read(v, &c, 5000, 1) != OK || c != 'Z') zx_process_exit(22);
    /* The errors, in sys_vmar_map's order. */
    if (vmar_map(v, READ, 0, v, 0, 4096, &a2) != WRONG_TYPE) zx_process_exit(30);
    if (vmar_map(vmar, READ, 0, vmar, 0, 4096, &a2) != WRONG_TYPE) zx_process_exit(31);
    if (vmar_map(vmar ^ 0x100000, READ, 0, v, 0, 0, &a2) != BAD_HANDLE) zx_process_exit(32);
    if (vmar_map(vmar, WRITE, 0, v, 0, 4096, &a2) != INVALID_ARGS) zx_process_exit(33);
    if (vmar_map(vmar, READ | CAN_MAP_READ, 0, v, 0, 4096, &a2) != INVALID_ARGS) zx_process_exit(34);
    if (vmar_map(vmar, READ | EXECUTE, 0, v, 0, 0, &a2) != ACCESS_DENIED) zx_process_exit(35);
    if (vmar_map(vmar, READ, 4096, v, 0, 4096, &a2) != INVALID_ARGS) zx_process_exit(36);
    if (vmar_map(vmar, READ, 0, v, 0, 0, &a2) != INVALID_ARGS) zx_process_exit(37);
    if (vmar_map(vmar, READ, 0, v, 100, 4096, &a2) != INVALID_ARGS) zx_process_exit(38);
    if (vmar_map(vmar, READ, 0, v, 0, 4096, (uint64_t *)16) != INVALID_ARGS) zx_process_exit(39);
    /* ZX_VM_SPECIFIC over a mapping: ALREADY_EXISTS; once unmapped, the place is free again. */
    uint64_t offset = addr - 0x1000000; /* the x86-64 root VMAR's base */
    if (vmar_map(vmar, READ | SPECIFIC, offset, v, 0, 4096, &a2) != ALREADY_EXISTS) zx_process_exit(40);
    if (vmar_unmap(vmar, addr + 1, 4096) != INVALID_ARGS) zx_process_exit(41);
    if (vmar_unmap(vmar, addr, 8192) != OK) zx_process_exit(42);
    if (vmar_map(vmar, READ | SPECIFIC, offset, v, 4096, 4096, &a2) != OK || a2 != addr) zx_process_exit(43);
    if (p[5000 - 4096] != 'Z') zx_process_exit(44);
    say("mapped VMOs as Zircon does\n");
    zx_process_exit(0);
#else
#error "define FL_EXIT, FL_TICK, FL_UNSERVED, FL_BADSYSCALL, FL_VMO or FL_VMAR"
#endif
}
