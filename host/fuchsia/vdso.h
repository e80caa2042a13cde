/* Reading a Zircon vDSO (libzircon.so) and recognising Fuchsia executables, for running Fuchsia ELF programs on
 * Linux (docs/fuchsia-elf.md).
 *
 * A Zircon syscall's number is private to the vDSO build that issues it: the kernel and its vDSO are built
 * together and nothing else may issue `syscall`.  A runner that serves a Fuchsia program's syscalls therefore
 * derives the numbers from the very vDSO it maps into that program, never from a table of its own.  On x86-64
 * every syscall instruction of libzircon.so is `mov $N,%eax; syscall`, followed by a local label
 * CODE_SYSRET_zx_<name>_VIA_zx_<caller> in the unstripped .symtab; that label names the syscall, the bytes
 * before it give N.  The local object DATA_CONSTANTS is the block of constants the kernel fills when it maps the
 * vDSO (CPU count, tick rate, version string, ...).
 *
 * Self-contained: libc and <elf.h> only; in the x86-64 Linux host module (entry.h).  Every offset, size and string of
 * the file is bounds-checked: a malformed file gives an error status, never a crash.
 */
#ifndef ZXPY_HOST_FUCHSIA_VDSO_H_
#define ZXPY_HOST_FUCHSIA_VDSO_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Status of the functions below: 0, or one of these (negative). */
typedef enum hk_vdso_status {
    HK_VDSO_OK = 0,
    HK_VDSO_ERR_IO = -1,           /* cannot open / read / not a regular file / too large */
    HK_VDSO_ERR_NOT_ELF = -2,      /* not an ELF64 little-endian file, or malformed headers */
    HK_VDSO_ERR_MACHINE = -3,      /* an ELF machine this reader cannot decode syscalls for (only x86-64) */
    HK_VDSO_ERR_NO_SYMTAB = -4,    /* stripped: no .symtab (the labels live only there) */
    HK_VDSO_ERR_MALFORMED = -5,    /* a section, symbol, string or address outside the file */
    HK_VDSO_ERR_PATTERN = -6,      /* a CODE_SYSRET label not preceded by `mov $N,%eax; syscall` */
    HK_VDSO_ERR_NO_SYSCALLS = -7,  /* no CODE_SYSRET labels at all */
    HK_VDSO_ERR_INCONSISTENT = -8, /* hk_vdso_check: one name with two numbers, or one number for two names */
    HK_VDSO_ERR_CONSTANTS = -9,    /* hk_vdso_check: DATA_CONSTANTS missing, of another size, or writable */
    HK_VDSO_ERR_NO_MEMORY = -10,
} hk_vdso_status_t;

/* A name buffer: the longest Zircon syscall or caller name is well under this; longer ones are malformed. */
#define HK_VDSO_NAME_MAX 96

/* The layout of DATA_CONSTANTS (zircon/kernel/lib/userabi/include/lib/userabi/vdso-constants.h, 2021). */
#define HK_VDSO_CONSTANTS_SIZE 120u
#define HK_VDSO_CONST_MAX_NUM_CPUS 0x00u        /* uint32_t */
#define HK_VDSO_CONST_FEATURES_CPU 0x04u        /* uint32_t */
#define HK_VDSO_CONST_FEATURES_HW_BREAKPOINTS 0x08u
#define HK_VDSO_CONST_FEATURES_HW_WATCHPOINTS 0x0cu
#define HK_VDSO_CONST_DCACHE_LINE_SIZE 0x10u    /* uint32_t */
#define HK_VDSO_CONST_ICACHE_LINE_SIZE 0x14u    /* uint32_t */
#define HK_VDSO_CONST_TICKS_PER_SECOND 0x18u    /* uint64_t */
#define HK_VDSO_CONST_TICKS_TO_MONO_NUMERATOR 0x20u   /* uint32_t */
#define HK_VDSO_CONST_TICKS_TO_MONO_DENOMINATOR 0x24u /* uint32_t */
#define HK_VDSO_CONST_PHYSMEM 0x28u             /* uint64_t */
#define HK_VDSO_CONST_VERSION_STRING_LEN 0x30u  /* uint64_t */
#define HK_VDSO_CONST_VERSION_STRING 0x38u      /* char[64] */
#define HK_VDSO_CONST_VERSION_STRING_MAX 64u

/* One syscall instruction of the vDSO. */
typedef struct hk_vdso_site {
    char name[HK_VDSO_NAME_MAX];     /* the syscall, without "zx_": "channel_call_noretry" */
    char via[HK_VDSO_NAME_MAX];      /* the caller named by the label, without "zx_" */
    char function[HK_VDSO_NAME_MAX]; /* the function symbol containing the instruction ("_zx_channel_create"), or "" */
    bool exported;                   /* `function` is a defined global/weak symbol of .dynsym */
    uint32_t number;                 /* N of `mov $N,%eax` */
    uint64_t vaddr;                  /* address (link-time, vDSO base 0) of the syscall instruction */
    uint64_t offset;                 /* its file offset */
} hk_vdso_site_t;

/* One syscall: a distinct name with its number. */
typedef struct hk_vdso_syscall {
    char name[HK_VDSO_NAME_MAX];
    uint32_t number;
} hk_vdso_syscall_t;

typedef struct hk_vdso {
    uint16_t machine;                /* e_machine: EM_X86_64 */
    hk_vdso_site_t *sites;           /* every syscall instruction, ordered by address */
    size_t num_sites;
    hk_vdso_syscall_t *syscalls;     /* distinct names, ordered by number then name (first site's number) */
    size_t num_syscalls;
    bool has_constants;              /* DATA_CONSTANTS found (an object symbol of .symtab) */
    uint64_t constants_vaddr;
    uint64_t constants_offset;
    uint64_t constants_size;
    uint32_t constants_segment_flags; /* p_flags (PF_R/PF_W/PF_X) of the PT_LOAD holding it */
} hk_vdso_t;

/* Read the vDSO at `path` into `*out` (zeroed first; release with hk_vdso_free even on failure).  On failure
 * `err` (if not NULL) receives a one-line reason. */
int hk_vdso_read(const char *path, hk_vdso_t *out, char *err, size_t errlen);
/* The same, from an image in memory (the caller keeps it alive only for the call). */
int hk_vdso_read_image(const void *image, size_t size, hk_vdso_t *out, char *err, size_t errlen);
void hk_vdso_free(hk_vdso_t *vdso);

/* Consistency: every site of one name has one number, no number serves two names, and DATA_CONSTANTS is there,
 * HK_VDSO_CONSTANTS_SIZE bytes, in a read-only non-executable segment. */
int hk_vdso_check(const hk_vdso_t *vdso, char *err, size_t errlen);

/* The number of syscall `name` (without "zx_"), or -1. */
int64_t hk_vdso_syscall_number(const hk_vdso_t *vdso, const char *name);
/* The name of syscall `number`, or NULL. */
const char *hk_vdso_syscall_name(const hk_vdso_t *vdso, uint32_t number);

/* ------------------------------------------------------------------------------------------- executables */

/* What an ELF file says about itself, as far as telling a Fuchsia program goes. */
typedef struct hk_fuchsia_elf {
    uint16_t machine;      /* e_machine */
    uint16_t type;         /* e_type: ET_DYN for a PIE (and for ld.so.1 and libraries) */
    bool has_interp;       /* a PT_INTERP segment */
    char interp[256];      /* its string ("" without) */
    bool is_fuchsia;       /* ELF64 LE, ET_DYN, PT_INTERP "ld.so.1", EM_X86_64 or EM_AARCH64 */
} hk_fuchsia_elf_t;

#define HK_FUCHSIA_INTERP "ld.so.1"

/* Probe `path`.  HK_VDSO_OK with the fields filled for any ELF64 LE file; an error status otherwise. */
int hk_fuchsia_elf_probe(const char *path, hk_fuchsia_elf_t *out, char *err, size_t errlen);
/* Whether `path` is a Fuchsia executable this runner could start (x86-64 or arm64; see `machine`). */
bool hk_fuchsia_elf_is_fuchsia(const char *path);

/* A name for a status. */
const char *hk_vdso_status_string(int status);

#endif /* ZXPY_HOST_FUCHSIA_VDSO_H_ */
