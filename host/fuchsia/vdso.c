/* Reading a Zircon vDSO and recognising Fuchsia executables: see vdso.h.
 *
 * The whole file is read into memory and every access goes through img_range(), which checks offset and length
 * against the image without overflowing.  Nothing here trusts a count, an offset or a string of the file.
 */
#define _POSIX_C_SOURCE 200809L

#include "vdso.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Larger files are refused: the real vDSO is ~170 KiB, executables a few MiB. */
#define MAX_IMAGE (256u * 1024u * 1024u)

static const char SYSRET_PREFIX[] = "CODE_SYSRET_zx_";
static const char VIA_SEPARATOR[] = "_VIA_zx_";

typedef struct img {
    const uint8_t *data;
    size_t size;
} img_t;

static int fail(char *err, size_t errlen, int status, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t errlen, int status, const char *fmt, ...) {
    if (err != NULL && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return status;
}

/* [off, off + len) lies inside the image. */
static bool img_range(const img_t *im, uint64_t off, uint64_t len) {
    return off <= im->size && len <= im->size - off;
}

static const void *img_at(const img_t *im, uint64_t off, uint64_t len) {
    return img_range(im, off, len) ? im->data + off : NULL;
}

/* ------------------------------------------------------------------------------------------------ file */

/* Reads the whole file, or its first `limit` bytes when limit > 0. */
static int read_file(const char *path, uint8_t **data, size_t *size, size_t limit, char *err, size_t errlen) {
    *data = NULL;
    *size = 0;
    if (path == NULL) return fail(err, errlen, HK_VDSO_ERR_IO, "no path");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return fail(err, errlen, HK_VDSO_ERR_IO, "%s: open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return fail(err, errlen, HK_VDSO_ERR_IO, "%s: stat: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return fail(err, errlen, HK_VDSO_ERR_IO, "%s: not a regular file", path);
    }
    if (st.st_size < 0 || (uint64_t)st.st_size > MAX_IMAGE) {
        close(fd);
        return fail(err, errlen, HK_VDSO_ERR_IO, "%s: size %lld out of range", path, (long long)st.st_size);
    }
    size_t want = (size_t)st.st_size;
    if (limit > 0 && want > limit) want = limit;
    uint8_t *buf = malloc(want > 0 ? want : 1);
    if (buf == NULL) {
        close(fd);
        return fail(err, errlen, HK_VDSO_ERR_NO_MEMORY, "%s: out of memory", path);
    }
    size_t got = 0;
    while (got < want) {
        ssize_t n = read(fd, buf + got, want - got);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            int e = errno;
            free(buf);
            close(fd);
            return fail(err, errlen, HK_VDSO_ERR_IO, "%s: read: %s", path, strerror(e));
        }
        if (n == 0) break; /* shrank meanwhile: parse what is there */
        got += (size_t)n;
    }
    close(fd);
    *data = buf;
    *size = got;
    return HK_VDSO_OK;
}

/* ------------------------------------------------------------------------------------------------ ELF */

typedef struct elf {
    img_t im;
    const Elf64_Ehdr *eh;
    const Elf64_Phdr *ph; /* e_phnum entries, in the image */
    size_t phnum;
    const Elf64_Shdr *sh; /* e_shnum entries, in the image (NULL if none) */
    size_t shnum;
} elf_t;

/* The headers and the program / section header tables (their bounds; not their contents). */
static int elf_open_headers(const img_t *im, elf_t *e, char *err, size_t errlen);

static int elf_open(const img_t *im, elf_t *e, char *err, size_t errlen) {
    int st = elf_open_headers(im, e, err, errlen);
    if (st != HK_VDSO_OK) return st;
    const Elf64_Ehdr *eh = e->eh;
    /* e_shnum 0 with e_shoff set is extended numbering (>= 0xff00 sections): not a vDSO, so "no sections". */
    if (eh->e_shnum > 0 && eh->e_shoff != 0) {
        if (eh->e_shentsize != sizeof(Elf64_Shdr) || (eh->e_shoff & 7u) != 0 ||
            !img_range(im, eh->e_shoff, (uint64_t)eh->e_shnum * sizeof(Elf64_Shdr)))
            return fail(err, errlen, HK_VDSO_ERR_NOT_ELF, "section header table outside the file");
        e->sh = (const Elf64_Shdr *)(im->data + eh->e_shoff);
        e->shnum = eh->e_shnum;
    }
    return HK_VDSO_OK;
}

/* The ELF header and the program header table (no sections). */
static int elf_open_headers(const img_t *im, elf_t *e, char *err, size_t errlen) {
    memset(e, 0, sizeof *e);
    e->im = *im;
    /* The image comes from malloc (or the caller): the ELF structures are read in place only when aligned. */
    if (((uintptr_t)im->data & 7u) != 0) return fail(err, errlen, HK_VDSO_ERR_NOT_ELF, "image not 8-byte aligned");
    const Elf64_Ehdr *eh = img_at(im, 0, sizeof *eh);
    if (eh == NULL || memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0)
        return fail(err, errlen, HK_VDSO_ERR_NOT_ELF, "not an ELF file");
    if (eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_ident[EI_DATA] != ELFDATA2LSB)
        return fail(err, errlen, HK_VDSO_ERR_NOT_ELF, "not ELF64 little-endian");
    e->eh = eh;
    if (eh->e_phnum > 0) {
        if (eh->e_phentsize != sizeof(Elf64_Phdr) || (eh->e_phoff & 7u) != 0 ||
            !img_range(im, eh->e_phoff, (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr)))
            return fail(err, errlen, HK_VDSO_ERR_NOT_ELF, "program header table outside the file");
        e->ph = (const Elf64_Phdr *)(im->data + eh->e_phoff);
        e->phnum = eh->e_phnum;
    }
    return HK_VDSO_OK;
}

/* The PT_LOAD segment whose file image holds [vaddr, vaddr + len), with the file offset of vaddr. */
static const Elf64_Phdr *elf_vaddr(const elf_t *e, uint64_t vaddr, uint64_t len, uint64_t *offset) {
    for (size_t i = 0; i < e->phnum; i++) {
        const Elf64_Phdr *p = &e->ph[i];
        if (p->p_type != PT_LOAD || vaddr < p->p_vaddr) continue;
        uint64_t rel = vaddr - p->p_vaddr;
        if (rel > p->p_filesz || len > p->p_filesz - rel) continue;
        if (p->p_offset > UINT64_MAX - rel) continue;
        if (!img_range(&e->im, p->p_offset + rel, len)) continue;
        *offset = p->p_offset + rel;
        return p;
    }
    return NULL;
}

/* A symbol table section and its string table. */
typedef struct symtab {
    const Elf64_Sym *syms;
    size_t count;
    const char *strs;
    size_t strsize;
} symtab_t;

/* The first section of `type` (SHT_SYMTAB / SHT_DYNSYM) as a checked symbol table; count 0 if none. */
static int elf_symtab(const elf_t *e, uint32_t type, symtab_t *out, char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < e->shnum; i++) {
        const Elf64_Shdr *s = &e->sh[i];
        if (s->sh_type != type) continue;
        if (s->sh_entsize != sizeof(Elf64_Sym) || (s->sh_offset & 7u) != 0 ||
            !img_range(&e->im, s->sh_offset, s->sh_size))
            return fail(err, errlen, HK_VDSO_ERR_MALFORMED, "symbol table %zu outside the file", i);
        if (s->sh_link >= e->shnum) return fail(err, errlen, HK_VDSO_ERR_MALFORMED, "symbol table %zu: bad link", i);
        const Elf64_Shdr *str = &e->sh[s->sh_link];
        if (str->sh_type != SHT_STRTAB || !img_range(&e->im, str->sh_offset, str->sh_size))
            return fail(err, errlen, HK_VDSO_ERR_MALFORMED, "string table of symbol table %zu outside the file", i);
        out->syms = (const Elf64_Sym *)(e->im.data + s->sh_offset);
        out->count = (size_t)(s->sh_size / sizeof(Elf64_Sym));
        out->strs = (const char *)(e->im.data + str->sh_offset);
        out->strsize = (size_t)str->sh_size;
        return HK_VDSO_OK;
    }
    return HK_VDSO_OK;
}

/* A symbol's name, NUL-terminated inside its string table, or NULL. */
static const char *sym_name(const symtab_t *t, const Elf64_Sym *s) {
    if (s->st_name >= t->strsize) return NULL;
    const char *p = t->strs + s->st_name;
    return memchr(p, '\0', t->strsize - s->st_name) != NULL ? p : NULL;
}

static bool starts_with(const char *s, const char *prefix) { return strncmp(s, prefix, strlen(prefix)) == 0; }

/* Copy `len` bytes of an identifier into a name buffer: only [A-Za-z0-9_], 1..HK_VDSO_NAME_MAX-1 long. */
static bool copy_ident(char dst[HK_VDSO_NAME_MAX], const char *src, size_t len) {
    if (len == 0 || len >= HK_VDSO_NAME_MAX) return false;
    for (size_t i = 0; i < len; i++) {
        char c = src[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) return false;
    }
    memcpy(dst, src, len);
    dst[len] = '\0';
    return true;
}

/* The function symbol of `t` containing `addr`: defined, STT_FUNC, st_value <= addr < st_value + st_size;
 * with `global`, only GLOBAL/WEAK ones.  Among several (aliases), a "_zx_" name first. */
static const char *containing_function(const symtab_t *t, uint64_t addr, bool global) {
    const char *best = NULL;
    for (size_t i = 0; i < t->count; i++) {
        const Elf64_Sym *s = &t->syms[i];
        if (ELF64_ST_TYPE(s->st_info) != STT_FUNC || s->st_shndx == SHN_UNDEF) continue;
        int bind = ELF64_ST_BIND(s->st_info);
        if (global && bind != STB_GLOBAL && bind != STB_WEAK) continue;
        if (addr < s->st_value || addr - s->st_value >= s->st_size) continue;
        const char *name = sym_name(t, s);
        if (name == NULL || name[0] == '\0' || strlen(name) >= HK_VDSO_NAME_MAX) continue;
        if (best == NULL || (starts_with(name, "_zx_") && !starts_with(best, "_zx_"))) best = name;
    }
    return best;
}

/* ------------------------------------------------------------------------------------------------ vDSO */

static int cmp_site(const void *a, const void *b) {
    const hk_vdso_site_t *x = a, *y = b;
    return (x->vaddr > y->vaddr) - (x->vaddr < y->vaddr);
}

static int cmp_syscall(const void *a, const void *b) {
    const hk_vdso_syscall_t *x = a, *y = b;
    if (x->number != y->number) return (x->number > y->number) - (x->number < y->number);
    return strcmp(x->name, y->name);
}

/* One CODE_SYSRET label: decode the instruction pair before it. */
static int read_site(const elf_t *e, const symtab_t *symtab, const symtab_t *dynsym, const Elf64_Sym *s,
                     const char *label, hk_vdso_site_t *site, char *err, size_t errlen) {
    memset(site, 0, sizeof *site);
    const char *rest = label + strlen(SYSRET_PREFIX);
    const char *via = strstr(rest, VIA_SEPARATOR);
    if (via == NULL || !copy_ident(site->name, rest, (size_t)(via - rest)) ||
        !copy_ident(site->via, via + strlen(VIA_SEPARATOR), strlen(via + strlen(VIA_SEPARATOR))))
        return fail(err, errlen, HK_VDSO_ERR_MALFORMED, "bad label %.120s", label);
    /* mov $N,%eax (b8 imm32) then syscall (0f 05), ending where the label starts. */
    if (s->st_value < 7) return fail(err, errlen, HK_VDSO_ERR_PATTERN, "%.120s: at %#llx, too low", label,
                                     (unsigned long long)s->st_value);
    uint64_t off;
    const Elf64_Phdr *seg = elf_vaddr(e, s->st_value - 7, 7, &off);
    if (seg == NULL) return fail(err, errlen, HK_VDSO_ERR_MALFORMED, "%.120s: address %#llx not in the file",
                                 label, (unsigned long long)s->st_value);
    if ((seg->p_flags & PF_X) == 0)
        return fail(err, errlen, HK_VDSO_ERR_PATTERN, "%.120s: not in an executable segment", label);
    const uint8_t *code = e->im.data + off;
    if (code[0] != 0xb8 || code[5] != 0x0f || code[6] != 0x05)
        return fail(err, errlen, HK_VDSO_ERR_PATTERN, "%.120s: not preceded by mov $N,%%eax; syscall", label);
    site->number = (uint32_t)code[1] | (uint32_t)code[2] << 8 | (uint32_t)code[3] << 16 | (uint32_t)code[4] << 24;
    site->vaddr = s->st_value - 2;
    site->offset = off + 5;
    const char *fn = containing_function(dynsym, site->vaddr, true);
    site->exported = fn != NULL;
    if (fn == NULL) fn = containing_function(symtab, site->vaddr, false);
    if (fn != NULL && !copy_ident(site->function, fn, strlen(fn))) site->function[0] = '\0';
    return HK_VDSO_OK;
}

static int vdso_parse(const img_t *im, hk_vdso_t *out, char *err, size_t errlen) {
    elf_t e;
    int st = elf_open(im, &e, err, errlen);
    if (st != HK_VDSO_OK) return st;
    out->machine = e.eh->e_machine;
    if (e.eh->e_machine != EM_X86_64)
        return fail(err, errlen, HK_VDSO_ERR_MACHINE, "e_machine %u: only x86-64 syscall stubs are decoded",
                    (unsigned)e.eh->e_machine);
    symtab_t symtab, dynsym;
    if ((st = elf_symtab(&e, SHT_SYMTAB, &symtab, err, errlen)) != HK_VDSO_OK) return st;
    if ((st = elf_symtab(&e, SHT_DYNSYM, &dynsym, err, errlen)) != HK_VDSO_OK) return st;
    if (symtab.count == 0) return fail(err, errlen, HK_VDSO_ERR_NO_SYMTAB, "no .symtab: a stripped vDSO");

    size_t cap = 0;
    for (size_t i = 0; i < symtab.count; i++) {
        const Elf64_Sym *s = &symtab.syms[i];
        const char *name = sym_name(&symtab, s);
        if (name == NULL) return fail(err, errlen, HK_VDSO_ERR_MALFORMED, "symbol %zu: name outside its table", i);
        if (strcmp(name, "DATA_CONSTANTS") == 0 && ELF64_ST_TYPE(s->st_info) == STT_OBJECT) {
            uint64_t off;
            const Elf64_Phdr *seg = elf_vaddr(&e, s->st_value, s->st_size, &off);
            if (seg == NULL) return fail(err, errlen, HK_VDSO_ERR_MALFORMED, "DATA_CONSTANTS outside the file");
            out->has_constants = true;
            out->constants_vaddr = s->st_value;
            out->constants_offset = off;
            out->constants_size = s->st_size;
            out->constants_segment_flags = seg->p_flags;
            continue;
        }
        if (!starts_with(name, SYSRET_PREFIX)) continue;
        if (out->num_sites == cap) {
            size_t ncap = cap ? cap * 2 : 256;
            hk_vdso_site_t *n = realloc(out->sites, ncap * sizeof *n);
            if (n == NULL) return fail(err, errlen, HK_VDSO_ERR_NO_MEMORY, "out of memory");
            out->sites = n;
            cap = ncap;
        }
        st = read_site(&e, &symtab, &dynsym, s, name, &out->sites[out->num_sites], err, errlen);
        if (st != HK_VDSO_OK) return st;
        out->num_sites++;
    }
    if (out->num_sites == 0) return fail(err, errlen, HK_VDSO_ERR_NO_SYSCALLS, "no CODE_SYSRET_zx_* labels");
    qsort(out->sites, out->num_sites, sizeof *out->sites, cmp_site);

    /* Distinct names, each with its first site's number (hk_vdso_check compares the others). */
    out->syscalls = calloc(out->num_sites, sizeof *out->syscalls);
    if (out->syscalls == NULL) return fail(err, errlen, HK_VDSO_ERR_NO_MEMORY, "out of memory");
    for (size_t i = 0; i < out->num_sites; i++) {
        bool seen = false;
        for (size_t j = 0; j < out->num_syscalls && !seen; j++)
            seen = strcmp(out->syscalls[j].name, out->sites[i].name) == 0;
        if (seen) continue;
        hk_vdso_syscall_t *sc = &out->syscalls[out->num_syscalls++];
        memcpy(sc->name, out->sites[i].name, sizeof sc->name);
        sc->number = out->sites[i].number;
    }
    qsort(out->syscalls, out->num_syscalls, sizeof *out->syscalls, cmp_syscall);
    return HK_VDSO_OK;
}

int hk_vdso_read_image(const void *image, size_t size, hk_vdso_t *out, char *err, size_t errlen) {
    if (out == NULL) return fail(err, errlen, HK_VDSO_ERR_IO, "no output");
    memset(out, 0, sizeof *out);
    if (err != NULL && errlen > 0) err[0] = '\0';
    if (image == NULL && size > 0) return fail(err, errlen, HK_VDSO_ERR_IO, "no image");
    /* Copy into malloc'd (aligned) memory: the caller's buffer may be unaligned. */
    uint8_t *copy = malloc(size > 0 ? size : 1);
    if (copy == NULL) return fail(err, errlen, HK_VDSO_ERR_NO_MEMORY, "out of memory");
    if (size > 0) memcpy(copy, image, size);
    img_t im = {copy, size};
    int st = vdso_parse(&im, out, err, errlen);
    free(copy);
    return st;
}

int hk_vdso_read(const char *path, hk_vdso_t *out, char *err, size_t errlen) {
    if (out == NULL) return fail(err, errlen, HK_VDSO_ERR_IO, "no output");
    memset(out, 0, sizeof *out);
    if (err != NULL && errlen > 0) err[0] = '\0';
    uint8_t *data;
    size_t size;
    int st = read_file(path, &data, &size, 0, err, errlen);
    if (st != HK_VDSO_OK) return st;
    img_t im = {data, size};
    st = vdso_parse(&im, out, err, errlen);
    free(data);
    return st;
}

void hk_vdso_free(hk_vdso_t *vdso) {
    if (vdso == NULL) return;
    free(vdso->sites);
    free(vdso->syscalls);
    memset(vdso, 0, sizeof *vdso);
}

int hk_vdso_check(const hk_vdso_t *v, char *err, size_t errlen) {
    if (v == NULL || v->num_sites == 0) return fail(err, errlen, HK_VDSO_ERR_NO_SYSCALLS, "no syscalls");
    for (size_t i = 0; i < v->num_sites; i++) {
        int64_t n = hk_vdso_syscall_number(v, v->sites[i].name);
        if (n != (int64_t)v->sites[i].number)
            return fail(err, errlen, HK_VDSO_ERR_INCONSISTENT, "%s is %u at %#llx but %lld elsewhere",
                        v->sites[i].name, v->sites[i].number, (unsigned long long)v->sites[i].vaddr, (long long)n);
    }
    for (size_t i = 1; i < v->num_syscalls; i++)  /* sorted by number */
        if (v->syscalls[i].number == v->syscalls[i - 1].number)
            return fail(err, errlen, HK_VDSO_ERR_INCONSISTENT, "%s and %s are both %u", v->syscalls[i - 1].name,
                        v->syscalls[i].name, v->syscalls[i].number);
    if (!v->has_constants) return fail(err, errlen, HK_VDSO_ERR_CONSTANTS, "no DATA_CONSTANTS symbol");
    if (v->constants_size != HK_VDSO_CONSTANTS_SIZE)
        return fail(err, errlen, HK_VDSO_ERR_CONSTANTS, "DATA_CONSTANTS is %llu bytes, this reader knows %u",
                    (unsigned long long)v->constants_size, HK_VDSO_CONSTANTS_SIZE);
    if ((v->constants_segment_flags & (PF_W | PF_X)) != 0)
        return fail(err, errlen, HK_VDSO_ERR_CONSTANTS, "DATA_CONSTANTS in a writable or executable segment");
    return HK_VDSO_OK;
}

int64_t hk_vdso_syscall_number(const hk_vdso_t *v, const char *name) {
    if (v == NULL || name == NULL) return -1;
    for (size_t i = 0; i < v->num_syscalls; i++)
        if (strcmp(v->syscalls[i].name, name) == 0) return v->syscalls[i].number;
    return -1;
}

const char *hk_vdso_syscall_name(const hk_vdso_t *v, uint32_t number) {
    if (v == NULL) return NULL;
    for (size_t i = 0; i < v->num_syscalls; i++)
        if (v->syscalls[i].number == number) return v->syscalls[i].name;
    return NULL;
}

/* ------------------------------------------------------------------------------------------ executables */

#define PROBE_PREFIX 4096u

/* Whether the first PROBE_PREFIX bytes hold the program header table and every PT_INTERP string. */
static bool probe_prefix_suffices(const uint8_t *data, size_t size) {
    if (size < sizeof(Elf64_Ehdr)) return true; /* too short to be ELF: the full read adds nothing */
    Elf64_Ehdr eh;
    memcpy(&eh, data, sizeof eh);
    uint64_t table = (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr);
    if (eh.e_phoff > size || table > size - eh.e_phoff) return false;
    for (size_t i = 0; i < eh.e_phnum; i++) {
        Elf64_Phdr ph;
        memcpy(&ph, data + eh.e_phoff + i * sizeof ph, sizeof ph);
        if (ph.p_type == PT_INTERP && (ph.p_offset > size || ph.p_filesz > size - ph.p_offset)) return false;
    }
    return true;
}

int hk_fuchsia_elf_probe(const char *path, hk_fuchsia_elf_t *out, char *err, size_t errlen) {
    if (out == NULL) return fail(err, errlen, HK_VDSO_ERR_IO, "no output");
    memset(out, 0, sizeof *out);
    if (err != NULL && errlen > 0) err[0] = '\0';
    /* Job.spawn probes every program it starts: read the headers, not the file.  Linkers put the ELF header, the
     * program headers and the PT_INTERP string at the start (in the first page); a file that has them further
     * out is read whole. */
    uint8_t *data;
    size_t size;
    int st = read_file(path, &data, &size, PROBE_PREFIX, err, errlen);
    if (st != HK_VDSO_OK) return st;
    if (size == PROBE_PREFIX && !probe_prefix_suffices(data, size)) {
        free(data);
        st = read_file(path, &data, &size, 0, err, errlen);
        if (st != HK_VDSO_OK) return st;
    }
    img_t im = {data, size};
    elf_t e;
    st = elf_open_headers(&im, &e, err, errlen);
    if (st == HK_VDSO_OK) {
        out->machine = e.eh->e_machine;
        out->type = e.eh->e_type;
        for (size_t i = 0; i < e.phnum; i++) {
            const Elf64_Phdr *p = &e.ph[i];
            if (p->p_type != PT_INTERP) continue;
            const char *s = img_at(&im, p->p_offset, p->p_filesz);
            /* The string with its NUL, inside the segment's file image and the buffer. */
            const char *nul = s != NULL && p->p_filesz > 0 ? memchr(s, '\0', p->p_filesz) : NULL;
            if (nul == NULL || (size_t)(nul - s) >= sizeof out->interp) {
                st = fail(err, errlen, HK_VDSO_ERR_MALFORMED, "PT_INTERP outside the file or unterminated");
                break;
            }
            out->has_interp = true;
            memcpy(out->interp, s, (size_t)(nul - s) + 1);
            break;
        }
    }
    if (st == HK_VDSO_OK)
        out->is_fuchsia = out->has_interp && strcmp(out->interp, HK_FUCHSIA_INTERP) == 0 && out->type == ET_DYN &&
                          (out->machine == EM_X86_64 || out->machine == EM_AARCH64);
    free(data);
    return st;
}

bool hk_fuchsia_elf_is_fuchsia(const char *path) {
    hk_fuchsia_elf_t info;
    return hk_fuchsia_elf_probe(path, &info, NULL, 0) == HK_VDSO_OK && info.is_fuchsia;
}

const char *hk_vdso_status_string(int status) {
    switch (status) {
    case HK_VDSO_OK: return "OK";
    case HK_VDSO_ERR_IO: return "ERR_IO";
    case HK_VDSO_ERR_NOT_ELF: return "ERR_NOT_ELF";
    case HK_VDSO_ERR_MACHINE: return "ERR_MACHINE";
    case HK_VDSO_ERR_NO_SYMTAB: return "ERR_NO_SYMTAB";
    case HK_VDSO_ERR_MALFORMED: return "ERR_MALFORMED";
    case HK_VDSO_ERR_PATTERN: return "ERR_PATTERN";
    case HK_VDSO_ERR_NO_SYSCALLS: return "ERR_NO_SYSCALLS";
    case HK_VDSO_ERR_INCONSISTENT: return "ERR_INCONSISTENT";
    case HK_VDSO_ERR_CONSTANTS: return "ERR_CONSTANTS";
    case HK_VDSO_ERR_NO_MEMORY: return "ERR_NO_MEMORY";
    default: return "ERR_UNKNOWN";
    }
}
