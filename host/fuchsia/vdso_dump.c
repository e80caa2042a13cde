/* vdso_dump: print what host/fuchsia/vdso.c reads from a file, as JSON on stdout (used by
 * tests/test_fuchsia_vdso.py).
 *
 *   vdso_dump VDSO        the syscall table, every syscall site and DATA_CONSTANTS; exit 0 only when the
 *                         file reads and passes hk_vdso_check
 *   vdso_dump --probe ELF what hk_fuchsia_elf_probe says; exit 0 when the file is an ELF64 LE file
 *
 * On failure: {"error": "...", "status": N, "status_name": "..."} and exit 1.
 * Build: cc -std=c11 -Wall -Wextra -Werror -o vdso_dump host/fuchsia/vdso_dump.c host/fuchsia/vdso.c
 */
#include <elf.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "vdso.h"

/* A JSON string: names are identifiers already, but an interpreter path is arbitrary bytes. */
static void json_string(const char *s) {
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') printf("\\%c", *p);
        else if (*p < 0x20 || *p >= 0x7f) printf("\\u%04x", *p);
        else putchar(*p);
    }
    putchar('"');
}

static int error(int status, const char *msg) {
    printf("{\"error\": ");
    json_string(msg);
    printf(", \"status\": %d, \"status_name\": \"%s\"}\n", status, hk_vdso_status_string(status));
    return 1;
}

static int probe(const char *path) {
    char err[512];
    hk_fuchsia_elf_t info;
    int st = hk_fuchsia_elf_probe(path, &info, err, sizeof err);
    if (st != HK_VDSO_OK) return error(st, err);
    printf("{\"machine\": %u, \"type\": %u, \"has_interp\": %s, \"interp\": ", (unsigned)info.machine,
           (unsigned)info.type, info.has_interp ? "true" : "false");
    json_string(info.interp);
    printf(", \"is_fuchsia\": %s, \"is_fuchsia_fn\": %s}\n", info.is_fuchsia ? "true" : "false",
           hk_fuchsia_elf_is_fuchsia(path) ? "true" : "false");
    return 0;
}

static int dump(const char *path) {
    char err[512];
    hk_vdso_t v;
    int st = hk_vdso_read(path, &v, err, sizeof err);
    if (st == HK_VDSO_OK) st = hk_vdso_check(&v, err, sizeof err);
    if (st != HK_VDSO_OK) {
        hk_vdso_free(&v);
        return error(st, err);
    }
    printf("{\n \"machine\": %u,\n \"count\": %zu,\n \"syscalls\": {", (unsigned)v.machine, v.num_syscalls);
    for (size_t i = 0; i < v.num_syscalls; i++) {
        printf("%s\n  ", i ? "," : "");
        json_string(v.syscalls[i].name);
        printf(": %" PRIu32, v.syscalls[i].number);
    }
    printf("\n },\n \"sites\": [");
    for (size_t i = 0; i < v.num_sites; i++) {
        const hk_vdso_site_t *s = &v.sites[i];
        /* The reader admits only identifiers; escape anyway, the output must stay JSON whatever the file. */
        printf("%s\n  {\"name\": ", i ? "," : "");
        json_string(s->name);
        printf(", \"number\": %" PRIu32 ", \"via\": ", s->number);
        json_string(s->via);
        printf(", \"function\": ");
        json_string(s->function);
        printf(", \"exported\": %s, \"vaddr\": %" PRIu64 ", \"offset\": %" PRIu64 "}",
               s->exported ? "true" : "false", s->vaddr, s->offset);
    }
    printf("\n ],\n \"constants\": {\"vaddr\": %" PRIu64 ", \"offset\": %" PRIu64 ", \"size\": %" PRIu64
           ", \"segment_flags\": %" PRIu32 "}\n}\n",
           v.constants_vaddr, v.constants_offset, v.constants_size, v.constants_segment_flags);
    hk_vdso_free(&v);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "--probe") == 0) return probe(argv[2]);
    if (argc == 2) return dump(argv[1]);
    fprintf(stderr, "usage: %s VDSO | --probe ELF\n", argv[0]);
    return 2;
}
