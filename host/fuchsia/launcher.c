#define _GNU_SOURCE
/* fuchsia.process.Launcher served from the host: see launcher.h.
 *
 * Each connection is a host-kernel channel whose server end one host thread serves (detached: a Launch waits for
 * the monitor thread, which must never wait for it): it waits for READABLE or PEER_CLOSED, reads one message and
 * handles it as the 2021 launcher (src/sys/component_manager/src/builtin/process_launcher.rs over
 * src/lib/process_builder) does:
 *   - AddArgs, AddEnvirons, AddNames, AddHandles (one-way) append to the connection's state;
 *   - Launch and CreateWithoutStarting (two-way) consume the state and reset it, whatever the result, and answer
 *     with the request's txid: Launch (status, process?), the process handle as zx_process_create returns it
 *     (ZX_DEFAULT_PROCESS_RIGHTS); CreateWithoutStarting (NOT_SUPPORTED, data absent): the runner has no
 *     "created, not started" process to hand out.
 * Launch's statuses: a name, argument, environment string or namespace path with a NUL byte INVALID_ARGS (the
 * launcher's CString conversions); the executable handle not a VMO (WRONG_TYPE) or without READ/EXECUTE/MAP
 * (ACCESS_DENIED); no x86-64 ELF64 file NOT_FOUND (process_builder's ElfParseError); a PT_INTERP executable
 * without a dynamic linker in the context NOT_SUPPORTED; else the runner's (runner.h: the job's BAD_HANDLE,
 * WRONG_TYPE, ACCESS_DENIED, BAD_STATE; an image it does not start NOT_SUPPORTED or IO; more than 15 handles
 * INVALID_ARGS).
 * Decoding is FIDL wire format v1's (docs/reference/fidl/language/wire-format): a 16-byte header (txid, flags[3],
 * magic 1, ordinal); the request struct inline, then each out-of-line object in depth-first order, 8-aligned, its
 * padding zero; vectors and strings {u64 count, u64 presence}, present (UINT64_MAX) as none is nullable here;
 * strings UTF-8 and within their bound (fuchsia.io.MAX_PATH 4096, zx.MAX_NAME_LEN 32); handles present (UINT32_MAX)
 * and taken from the message's handle array in order, all of it; every byte of the message used.  Anything else
 * (an unknown ordinal, a two-way call with txid 0, a bad magic, a wrong size, a stray handle) is malformed: the
 * connection is closed, and every handle of the message and of the state with it.
 */
#include <elf.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../kernel.h"
#include "fidl.h"
#include "fileserver.h"
#include "launcher.h"
#include "runner.h"
#include "vdso.h"
#include "vm.h"

#define FIDL_VECTOR_MAX 0xFFFFFFFFull /* fuchsia.process.MAX */
#define IO_MAX_PATH 4096u             /* fuchsia.io.MAX_PATH */
#define ZX_NAME_MAX 32u               /* zx.MAX_NAME_LEN */
#define HANDLE_INFO_SIZE 8u           /* HandleInfo: handle, id */
#define NAME_INFO_SIZE 24u            /* NameInfo: string path, handle directory, padding */
#define LAUNCH_INFO_SIZE 24u          /* LaunchInfo: handle executable, handle job, string name */
/* What one connection accumulates before a Launch (a bound on the host's memory, not Zircon's: beyond it the
 * connection is closed as for a malformed message). */
#define MAX_STATE_BYTES (16u << 20)
#define MAX_STATE_HANDLES 256u
#define MAX_STATE_NAMES 256u

struct hk_fx_launcher {
    atomic_int refs;
    char *vdso_path;
    char *ldso_path; /* NULL: no dynamic linker */
};

typedef struct bytes {
    char *data; /* NUL-terminated copy */
    size_t len;
} bytes_t;

typedef struct conn {
    hk_fx_launcher_t *l;
    zx_handle_t server;
    bytes_t *args, *environ;
    size_t nargs, nenv, bytes;
    zx_handle_t handles[MAX_STATE_HANDLES];
    uint32_t ids[MAX_STATE_HANDLES];
    size_t nhandles;
    bytes_t names[MAX_STATE_NAMES];
    zx_handle_t name_dirs[MAX_STATE_NAMES];
    size_t nnames;
} conn_t;


/* ------------------------------------------------------------------------------------------------ state */

static void strings_free(bytes_t *v, size_t n) {
    for (size_t i = 0; i < n; i++) free(v[i].data);
    free(v);
}

/* The launcher's reset after Launch / CreateWithoutStarting (and the end of a connection): every handle still held
 * is closed. */
static void state_reset(conn_t *c) {
    strings_free(c->args, c->nargs);
    strings_free(c->environ, c->nenv);
    c->args = c->environ = NULL;
    c->nargs = c->nenv = c->bytes = 0;
    zx_handle_close_many(c->handles, c->nhandles);
    c->nhandles = 0;
    for (size_t i = 0; i < c->nnames; i++) free(c->names[i].data);
    zx_handle_close_many(c->name_dirs, c->nnames);
    c->nnames = 0;
}

/* ------------------------------------------------------------------------------------------------ decoding */

typedef struct {
    const uint8_t *msg;
    uint32_t len;
    uint32_t next; /* where the next out-of-line object starts */
    uint32_t nh, hnext;
} dec_t;

static uint64_t u64_at(const dec_t *d, uint32_t off) {
    uint64_t v;
    memcpy(&v, d->msg + off, sizeof v);
    return v;
}

static uint32_t u32_at(const dec_t *d, uint32_t off) {
    uint32_t v;
    memcpy(&v, d->msg + off, sizeof v);
    return v;
}

/* Claim the next out-of-line object, n bytes padded to 8 with zeros; its offset in *off. */
static bool ool(dec_t *d, uint64_t n, uint32_t *off) {
    uint64_t padded = (n + 7u) & ~(uint64_t)7u;
    if (n > d->len || padded > (uint64_t)(d->len - d->next)) return false;
    for (uint64_t i = n; i < padded; i++)
        if (d->msg[d->next + i] != 0) return false;
    *off = d->next;
    d->next += (uint32_t)padded;
    return true;
}

/* A non-nullable handle at off: its index in the message's handle array in *index. */
static bool handle_at(dec_t *d, uint32_t off, uint32_t *index) {
    if (u32_at(d, off) != FIDL_HANDLE_PRESENT || d->hnext >= d->nh) return false;
    *index = d->hnext++;
    return true;
}

static bool utf8_ok(const uint8_t *s, size_t n) {
    for (size_t i = 0; i < n;) {
        uint8_t b = s[i];
        size_t k = b < 0x80 ? 0 : (b & 0xE0) == 0xC0 ? 1 : (b & 0xF0) == 0xE0 ? 2 : (b & 0xF8) == 0xF0 ? 3 : 4;
        if (k == 4 || i + k >= n) return false;
        if (k == 0) {
            i++;
            continue;
        }
        uint32_t cp = b & (0x3Fu >> k);
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (s[i + j] & 0x3Fu);
        }
        static const uint32_t min[] = {0, 0x80, 0x800, 0x10000};
        if (cp < min[k] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
        i += k + 1;
    }
    return true;
}

/* A non-nullable string or vector<uint8> header at off (bound max, UTF-8 if utf8): its data claimed; offset and
 * length out. */
static bool bytes_at(dec_t *d, uint32_t off, uint64_t max, bool utf8, uint32_t *data, uint64_t *len) {
    uint64_t n = u64_at(d, off);
    if (u64_at(d, off + 8) != FIDL_ALLOC_PRESENT || n > max || !ool(d, n, data)) return false;
    *len = n;
    return !utf8 || utf8_ok(d->msg + *data, (size_t)n);
}

static bool copy_bytes(const uint8_t *src, uint64_t n, bytes_t *out) {
    out->data = malloc((size_t)n + 1);
    if (out->data == NULL) return false;
    memcpy(out->data, src, (size_t)n);
    out->data[n] = '\0';
    out->len = (size_t)n;
    return true;
}

/* AddArgs / AddEnvirons: vector<vector<uint8>:MAX>:MAX, appended to *v. */
static bool add_strings(conn_t *c, dec_t *d, bytes_t **v, size_t *n) {
    uint64_t count = u64_at(d, FIDL_HEADER);
    uint32_t arr;
    if (d->nh != 0 || u64_at(d, FIDL_HEADER + 8) != FIDL_ALLOC_PRESENT || count > FIDL_VECTOR_MAX ||
        count > d->len / 16u || !ool(d, count * 16u, &arr))
        return false;
    uint32_t *offs = calloc(count ? count : 1, sizeof *offs);
    uint64_t *lens = calloc(count ? count : 1, sizeof *lens);
    bool ok = offs != NULL && lens != NULL;
    uint64_t total = 0;
    for (uint64_t i = 0; ok && i < count; i++) {
        ok = bytes_at(d, arr + (uint32_t)(i * 16u), FIDL_VECTOR_MAX, false, &offs[i], &lens[i]);
        total += lens[i] + 1;
    }
    ok = ok && d->next == d->len && c->bytes + total + count * sizeof(bytes_t) <= MAX_STATE_BYTES;
    bytes_t *grown = ok ? realloc(*v, (*n + count + 1) * sizeof **v) : NULL;
    ok = grown != NULL;
    if (ok) *v = grown;
    for (uint64_t i = 0; ok && i < count; i++) {
        ok = copy_bytes(d->msg + offs[i], lens[i], &grown[*n]);
        if (ok) ++*n;
    }
    c->bytes += total + count * sizeof(bytes_t);
    free(offs);
    free(lens);
    return ok;
}

/* AddHandles: vector<HandleInfo>:MAX. */
static bool add_handles(conn_t *c, dec_t *d, zx_handle_t *handles) {
    uint64_t count = u64_at(d, FIDL_HEADER);
    uint32_t arr, index;
    if (u64_at(d, FIDL_HEADER + 8) != FIDL_ALLOC_PRESENT || count != d->nh ||
        c->nhandles + count > MAX_STATE_HANDLES || !ool(d, count * HANDLE_INFO_SIZE, &arr) || d->next != d->len)
        return false;
    for (uint64_t i = 0; i < count; i++)
        if (!handle_at(d, arr + (uint32_t)(i * HANDLE_INFO_SIZE), &index)) return false;
    for (uint64_t i = 0; i < count; i++) {
        c->handles[c->nhandles] = handles[i];
        c->ids[c->nhandles++] = u32_at(d, arr + (uint32_t)(i * HANDLE_INFO_SIZE) + 4);
        handles[i] = ZX_HANDLE_INVALID;
    }
    return true;
}

/* AddNames: vector<NameInfo>:MAX. */
static bool add_names(conn_t *c, dec_t *d, zx_handle_t *handles) {
    uint64_t count = u64_at(d, FIDL_HEADER);
    uint32_t arr, index;
    if (u64_at(d, FIDL_HEADER + 8) != FIDL_ALLOC_PRESENT || count != d->nh || c->nnames + count > MAX_STATE_NAMES ||
        !ool(d, count * NAME_INFO_SIZE, &arr))
        return false;
    uint32_t offs[MAX_STATE_NAMES];
    uint64_t lens[MAX_STATE_NAMES];
    for (uint64_t i = 0; i < count; i++) {
        uint32_t e = arr + (uint32_t)(i * NAME_INFO_SIZE);
        if (!handle_at(d, e + 16, &index) || u32_at(d, e + 20) != 0) return false;
        if (!bytes_at(d, e, IO_MAX_PATH, true, &offs[i], &lens[i])) return false;
    }
    if (d->next != d->len) return false;
    for (uint64_t i = 0; i < count; i++) {
        if (!copy_bytes(d->msg + offs[i], lens[i], &c->names[c->nnames])) return false;
        c->name_dirs[c->nnames++] = handles[i];
        handles[i] = ZX_HANDLE_INVALID;
    }
    return true;
}

/* ------------------------------------------------------------------------------------------------ Launch */

static bool has_nul(const bytes_t *v, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (strlen(v[i].data) != v[i].len) return true;
    return false;
}

/* NULL-terminated pointers to v's strings (NULL: no memory). */
static const char **vec_of(const bytes_t *v, size_t n) {
    const char **out = calloc(n + 1, sizeof *out);
    for (size_t i = 0; out != NULL && i < n; i++) out[i] = v[i].data;
    return out;
}

/* Start executable (a VMO) in job, named name, with the connection's state; the handles are taken. */
static zx_status_t launch(conn_t *c, zx_handle_t executable, zx_handle_t job, const bytes_t *name,
                          zx_handle_t *process) {
    zx_status_t status = ZX_OK;
    /* The launcher's order: the name, the executable, the arguments, the environment, the namespace. */
    if (strlen(name->data) != name->len) status = ZX_ERR_INVALID_ARGS;
    int fd = -1;
    if (status == ZX_OK)
        status = hk_fuchsia_vm_vmo_fd(executable, ZX_RIGHT_READ | ZX_RIGHT_EXECUTE | ZX_RIGHT_MAP, &fd);
    if (status == ZX_OK && (has_nul(c->args, c->nargs) || has_nul(c->environ, c->nenv)))
        status = ZX_ERR_INVALID_ARGS;
    for (size_t i = 0; status == ZX_OK && i < c->nnames; i++)
        if (strlen(c->names[i].data) != c->names[i].len) status = ZX_ERR_INVALID_ARGS;
    const char **argv = status == ZX_OK ? vec_of(c->args, c->nargs) : NULL;
    const char **envp = status == ZX_OK ? vec_of(c->environ, c->nenv) : NULL;
    if (status == ZX_OK && (argv == NULL || envp == NULL)) status = ZX_ERR_NO_MEMORY;
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    hk_fuchsia_elf_t elf;
    memset(&elf, 0, sizeof elf);
    char why[160];
    int probe = status == ZX_OK ? hk_fuchsia_elf_probe(path, &elf, why, sizeof why) : HK_VDSO_OK;
    /* process_builder's Elf64Headers::from_vmo: no ELF64 file header of this machine (ET_DYN or ET_EXEC) is
     * NOT_FOUND (ElfParseError::as_zx_status, src/lib/process_builder/src/elf_parse.rs). */
    if (status == ZX_OK && probe != HK_VDSO_OK && probe != HK_VDSO_ERR_IO && probe != HK_VDSO_ERR_NO_MEMORY)
        status = ZX_ERR_NOT_FOUND;
    else if (status == ZX_OK && probe == HK_VDSO_OK && elf.machine != EM_X86_64)
        status = ZX_ERR_NOT_FOUND;
    if (status == ZX_OK && elf.has_interp && c->l->ldso_path == NULL)
        status = ZX_ERR_NOT_SUPPORTED; /* a dynamically linked executable, and no dynamic linker to start it */
    /* No stdio of the host's: the program's fds are the PA_FD handles it was given, as the launcher passes only
     * what it was given. */
    const int no_stdio[3] = {-1, -1, -1};
    /* The handles, then each name's directory tagged PA_HND(PA_NS_DIR, i) for the names table (the processargs
     * message's namespace, as process_builder's add_namespace_entries builds it). */
    size_t n = c->nhandles + c->nnames, nn = c->nnames;
    zx_handle_t *hs = calloc(n ? n : 1, sizeof *hs);
    uint32_t *ids = calloc(n ? n : 1, sizeof *ids);
    const char **names = calloc(nn ? nn : 1, sizeof *names);
    if (status == ZX_OK && (hs == NULL || ids == NULL || names == NULL)) status = ZX_ERR_NO_MEMORY;
    if (status == ZX_OK) {
        memcpy(hs, c->handles, c->nhandles * sizeof *hs);
        memcpy(ids, c->ids, c->nhandles * sizeof *ids);
        for (size_t i = 0; i < nn; i++) {
            hs[c->nhandles + i] = c->name_dirs[i];
            ids[c->nhandles + i] = HK_PA_NS_DIR | ((uint32_t)i << 16);
            names[i] = c->names[i].data;
        }
        c->nhandles = 0; /* the runner takes them whatever the result */
        for (size_t i = 0; i < nn; i++) c->name_dirs[i] = ZX_HANDLE_INVALID;
    }
    if (status != ZX_OK) {
        /* state_reset closes what the connection still holds. */
    } else if (elf.has_interp) {
        status = hk_fuchsia_spawn_interp(job, path, c->l->ldso_path, c->l->vdso_path, name->data, argv, envp,
                                         n ? ids : NULL, n ? hs : NULL, n, nn ? names : NULL, nn, no_stdio, -1,
                                         process, NULL);
    } else {
        status = hk_fuchsia_spawn_stdio(job, path, c->l->vdso_path, name->data, argv, envp, n ? ids : NULL,
                                        n ? hs : NULL, n, nn ? names : NULL, nn, no_stdio, -1, process, NULL);
    }
    if (fd >= 0) close(fd);
    free(hs);
    free(ids);
    free(names);
    free(argv);
    free(envp);
    zx_handle_close(executable);
    zx_handle_close(job);
    return status;
}

static bool reply_launch(conn_t *c, const fidl_header_t *req, zx_status_t status, zx_handle_t process) {
    uint8_t msg[FIDL_HEADER + 16];
    memset(msg, 0, sizeof msg);
    fidl_header_t hdr = {.txid = req->txid, .magic = FIDL_MAGIC_INITIAL, .ordinal = req->ordinal};
    memcpy(msg, &hdr, sizeof hdr);
    int32_t rv = status;
    memcpy(msg + FIDL_HEADER, &rv, sizeof rv);
    uint32_t len;
    if (req->ordinal == HK_FX_LAUNCHER_LAUNCH) {
        /* (zx.status status, zx.handle:PROCESS? process) */
        uint32_t present = process != ZX_HANDLE_INVALID ? FIDL_HANDLE_PRESENT : FIDL_HANDLE_ABSENT;
        memcpy(msg + FIDL_HEADER + 4, &present, sizeof present);
        len = FIDL_HEADER + 8;
    } else {
        /* (zx.status status, ProcessStartData? data): the struct's presence, absent. */
        len = FIDL_HEADER + 16;
    }
    bool n = process != ZX_HANDLE_INVALID;
    /* The process handle goes with the reply, or is closed if the reply cannot be written (zx_channel_write consumes
     * its handles whatever the result). */
    return zx_channel_write(c->server, 0, msg, len, n ? &process : NULL, n ? 1u : 0u) == ZX_OK;
}

/* Launch / CreateWithoutStarting (LaunchInfo info). */
static bool handle_launch(conn_t *c, dec_t *d, const fidl_header_t *hdr, zx_handle_t *handles) {
    uint32_t exe_index, job_index, name_off;
    uint64_t name_len;
    d->next = FIDL_HEADER + LAUNCH_INFO_SIZE;
    if (hdr->txid == 0 || d->nh != 2 || d->len < d->next || !handle_at(d, FIDL_HEADER, &exe_index) ||
        !handle_at(d, FIDL_HEADER + 4, &job_index) ||
        !bytes_at(d, FIDL_HEADER + 8, ZX_NAME_MAX, true, &name_off, &name_len) || d->next != d->len)
        return false;
    zx_handle_t executable = handles[exe_index], job = handles[job_index];
    handles[exe_index] = handles[job_index] = ZX_HANDLE_INVALID;
    bytes_t name;
    zx_status_t status = copy_bytes(d->msg + name_off, name_len, &name) ? ZX_OK : ZX_ERR_NO_MEMORY;
    zx_handle_t process = ZX_HANDLE_INVALID;
    if (status != ZX_OK || hdr->ordinal == HK_FX_LAUNCHER_CREATE_WITHOUT_STARTING) {
        zx_handle_close(executable);
        zx_handle_close(job);
        if (status == ZX_OK) status = ZX_ERR_NOT_SUPPORTED;
    } else {
        status = launch(c, executable, job, &name, &process);
        if (status != ZX_OK) process = ZX_HANDLE_INVALID;
    }
    free(name.data);
    state_reset(c); /* whatever the result, as the launcher's state is replaced by a new one */
    return reply_launch(c, hdr, status, process);
}

/* One message: true to go on serving, false to close the connection (malformed, the client gone). */
static bool handle_message(void *conn, uint8_t *msg, uint32_t len, zx_handle_t *handles, uint32_t nh) {
    conn_t *c = conn;
    if (len < FIDL_HEADER) return false;
    fidl_header_t hdr;
    memcpy(&hdr, msg, sizeof hdr);
    if (hdr.magic != FIDL_MAGIC_INITIAL) return false;
    dec_t d = {.msg = msg, .len = len, .next = FIDL_HEADER + 16, .nh = nh, .hnext = 0};
    bool one_way_body = len >= FIDL_HEADER + 16; /* the vector header of the Add* methods */
    switch (hdr.ordinal) {
    case HK_FX_LAUNCHER_ADD_ARGS:
        return one_way_body && add_strings(c, &d, &c->args, &c->nargs);
    case HK_FX_LAUNCHER_ADD_ENVIRONS:
        return one_way_body && add_strings(c, &d, &c->environ, &c->nenv);
    case HK_FX_LAUNCHER_ADD_NAMES:
        return one_way_body && add_names(c, &d, handles);
    case HK_FX_LAUNCHER_ADD_HANDLES:
        return one_way_body && add_handles(c, &d, handles);
    case HK_FX_LAUNCHER_LAUNCH:
    case HK_FX_LAUNCHER_CREATE_WITHOUT_STARTING:
        return handle_launch(c, &d, &hdr, handles);
    default:
        return false;
    }
}

/* ------------------------------------------------------------------------------------------------ connections */

static void *serve(void *arg) {
    conn_t *c = arg;
    hk_fx_fidl_serve(c->server, ZX_CHANNEL_MAX_MSG_BYTES, 0, handle_message, c);
    state_reset(c);
    zx_handle_close(c->server); /* the client sees PEER_CLOSED */
    hk_fx_launcher_release(c->l);
    free(c);
    return NULL;
}

hk_fx_launcher_t *hk_fx_launcher_new(const char *vdso_path, const char *ldso_path) {
    if (vdso_path == NULL) return NULL;
    hk_fx_launcher_t *l = calloc(1, sizeof *l);
    if (l == NULL) return NULL;
    atomic_init(&l->refs, 1);
    l->vdso_path = strdup(vdso_path);
    l->ldso_path = ldso_path != NULL ? strdup(ldso_path) : NULL;
    if (l->vdso_path == NULL || (ldso_path != NULL && l->ldso_path == NULL)) {
        hk_fx_launcher_release(l);
        return NULL;
    }
    return l;
}

void hk_fx_launcher_release(hk_fx_launcher_t *l) {
    if (l == NULL || atomic_fetch_sub(&l->refs, 1) != 1) return;
    free(l->vdso_path);
    free(l->ldso_path);
    free(l);
}

void hk_fx_launcher_connect(void *ctx, const char *name, zx_handle_t server_end) {
    hk_fx_launcher_t *l = ctx;
    conn_t *c = l != NULL && name != NULL && strcmp(name, HK_FX_LAUNCHER_NAME) == 0 ? calloc(1, sizeof *c) : NULL;
    if (c == NULL) {
        zx_handle_close(server_end);
        return;
    }
    c->l = l;
    c->server = server_end;
    atomic_fetch_add(&l->refs, 1);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t thread;
    int err = hk_thread_spawn_quiet(&thread, &attr, serve, c);
    pthread_attr_destroy(&attr);
    if (err != 0) {
        zx_handle_close(server_end);
        hk_fx_launcher_release(l);
        free(c);
    }
}

/* Shared contexts, by (vdso, ldso); never freed (launcher.h). */
static pthread_mutex_t g_shared_mu = PTHREAD_MUTEX_INITIALIZER;
typedef struct shared {
    struct shared *next;
    hk_fx_launcher_t *l;
} shared_t;
static shared_t *g_shared; /* g_shared_mu */

static bool same_path(const char *a, const char *b) { return a == NULL ? b == NULL : b != NULL && strcmp(a, b) == 0; }

hk_fx_launcher_t *hk_fx_launcher_shared(const char *vdso_path, const char *ldso_path) {
    if (vdso_path == NULL) return NULL;
    pthread_mutex_lock(&g_shared_mu);
    shared_t *e = g_shared;
    while (e != NULL && !(same_path(e->l->vdso_path, vdso_path) && same_path(e->l->ldso_path, ldso_path))) e = e->next;
    if (e == NULL && (e = calloc(1, sizeof *e)) != NULL) {
        e->l = hk_fx_launcher_new(vdso_path, ldso_path);
        if (e->l != NULL) {
            e->next = g_shared;
            g_shared = e;
        } else {
            free(e);
            e = NULL;
        }
    }
    pthread_mutex_unlock(&g_shared_mu);
    return e != NULL ? e->l : NULL;
}

zx_status_t hk_fx_launcher_svc_connect(const char *vdso_path, const char *ldso_path, zx_handle_t *client) {
    hk_fx_launcher_t *l = hk_fx_launcher_shared(vdso_path, ldso_path);
    if (l == NULL) return ZX_ERR_NO_MEMORY;
    const hk_fx_svc_entry_t entry = {.name = HK_FX_LAUNCHER_NAME, .connect = hk_fx_launcher_connect, .ctx = l};
    return hk_fx_svc_dir_connect(&entry, 1, client);
}
