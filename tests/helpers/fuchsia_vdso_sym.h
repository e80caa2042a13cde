/* vdso_sym: a vDSO function by name, for the freestanding Fuchsia-ABI test programs (no libc, no dynamic linker):
 * fuchsia_first_light.c, fuchsia_launcher_client.c, fuchsia_ns.c.  Included once by each; x86-64 ELF64 only.
 *
 * The vDSO's ELF header is at its base (its first PT_LOAD starts at offset 0); it has no relocations, so its
 * dynamic entries are link-time addresses.  Symbols: DT_HASH's chain count, else every entry between DT_SYMTAB and
 * DT_STRTAB (lld puts .dynsym before .dynstr).
 */
#ifndef ZXPY_TESTS_FUCHSIA_VDSO_SYM_H_
#define ZXPY_TESTS_FUCHSIA_VDSO_SYM_H_

#include <stddef.h>
#include <stdint.h>

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

#endif /* ZXPY_TESTS_FUCHSIA_VDSO_SYM_H_ */
