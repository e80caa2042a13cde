#define _GNU_SOURCE
/* fuchsia.io served from host directories: see fileserver.h and docs/fuchsia-elf.md, "The namespace and fuchsia.io".
 *
 * The protocol is the 2021 SDK's fidl/fuchsia_io/io.fidl in FIDL wire format v1 (16-byte header: txid, flags,
 * magic 1, 64-bit ordinal; strings and vectors {u64 count, u64 presence} with their bytes out of line, padded to 8;
 * NodeInfo an extensible union {u64 ordinal, u32 num_bytes, u32 num_handles, u64 presence} with its member out of
 * line; handles 0xFFFFFFFF present, 0 absent).  The rules are those of Fuchsia's C++ VFS of that time
 * (zircon/system/ulib/fs: vfs.cc Vfs::Open / Vfs::Unlink, connection.cc PrevalidateFlags, file_connection.cc,
 * directory_connection.cc), reduced to what a host directory needs:
 *   - Open: OPEN_FLAG_NODE_REFERENCE with any flag outside OPEN_FLAGS_ALLOWED_WITH_NODE_REFERENCE, DIRECTORY with
 *     NOT_DIRECTORY, or CLONE_FLAG_SAME_RIGHTS: INVALID_ARGS.  A path is split on '/': empty and "." segments
 *     are skipped, ".." gives INVALID_ARGS (the VFS never walks up), a segment over MAX_FILENAME (255) or a path
 *     over MAX_PATH (4096) BAD_PATH, an empty path INVALID_ARGS; a trailing '/' asks for a directory.  The host
 *     path is resolved beneath the served root (openat2 RESOLVE_BENEATH): a symlink leading out of it gives
 *     ACCESS_DENIED.  Rights beyond the connection's: ACCESS_DENIED; OPEN_FLAG_POSIX widens a directory's rights to
 *     the connection's.  CREATE needs the connection's OPEN_RIGHT_WRITABLE (ACCESS_DENIED), makes a directory when
 *     the mode's type or OPEN_FLAG_DIRECTORY says so, a file otherwise; CREATE_IF_ABSENT on an existing name:
 *     ALREADY_EXISTS; TRUNCATE needs OPEN_RIGHT_WRITABLE (INVALID_ARGS) and a file.  OPEN_RIGHT_EXECUTABLE on a file
 *     needs an execute bit on the host file; reading and writing need the host's permission (ACCESS_DENIED).
 *     With OPEN_FLAG_DESCRIBE an OnOpen event goes first (status, and NodeInfo directory / file with no event or
 *     stream, or service for a node reference, on success); a failure closes the request channel.
 *   - Clone: CLONE_FLAG_SAME_RIGHTS keeps the rights, else the rights asked for, never more (ACCESS_DENIED).
 *   - File methods without the right they need: BAD_HANDLE (io.fidl); a node reference serves only Clone, Close,
 *     Describe, GetAttr, Sync, GetFlags and SetFlags (BAD_HANDLE otherwise).  Each connection has its own seek
 *     offset; OPEN_FLAG_APPEND writes at the end.
 *   - GetBuffer: a VMO holding a copy of the file (VMO_FLAG_WRITE only with VMO_FLAG_PRIVATE, VMO_FLAG_EXACT not
 *     at all: NOT_SUPPORTED), executable with VMO_FLAG_EXEC (which needs OPEN_RIGHT_EXECUTABLE: ACCESS_DENIED).
 *   - Unlink needs OPEN_RIGHT_WRITABLE (ACCESS_DENIED); "." UNAVAILABLE; a directory that is not empty NOT_EMPTY.
 *   - ReadDirents: packed {u64 ino, u8 size, u8 type, name} records, at most MAX_BUF bytes, "." first, ".." never.
 *   - GetToken (WRITABLE, BAD_HANDLE otherwise): a duplicate of the directory connection's token event; Rename(src,
 *     token, dst) moves src of this directory to dst in the token's directory of the same root (names without '/'
 *     but a trailing one, which asks for a directory; not "." or "..": INVALID_ARGS; an unknown token
 *     INVALID_ARGS); both need WRITABLE (BAD_HANDLE).  Link and Watch: NOT_SUPPORTED; SetAttr sets the modification
 *     time only.
 *   - A request that does not decode, or an unknown ordinal: the channel is closed, as a FIDL server does.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../kernel.h"
#include "fidl.h"
#include "fileserver.h"
#include "vm.h"

/* io.fidl */
#define RIGHT_READABLE 0x00000001u
#define RIGHT_WRITABLE 0x00000002u
#define RIGHT_ADMIN 0x00000004u
#define RIGHT_EXECUTABLE 0x00000008u
#define RIGHTS (RIGHT_READABLE | RIGHT_WRITABLE | RIGHT_ADMIN | RIGHT_EXECUTABLE)
#define FLAG_CREATE 0x00010000u
#define FLAG_CREATE_IF_ABSENT 0x00020000u
#define FLAG_TRUNCATE 0x00040000u
#define FLAG_DIRECTORY 0x00080000u
#define FLAG_APPEND 0x00100000u
#define FLAG_NO_REMOTE 0x00200000u
#define FLAG_NODE_REFERENCE 0x00400000u
#define FLAGS_ALLOWED_WITH_NODE_REFERENCE 0x02c80000u
#define FLAG_DESCRIBE 0x00800000u
#define FLAG_POSIX 0x01000000u
#define FLAG_NOT_DIRECTORY 0x02000000u
#define CLONE_FLAG_SAME_RIGHTS 0x04000000u
#define MODE_TYPE_MASK 0xFF000u
#define MODE_TYPE_DIRECTORY 0x04000u
#define MODE_TYPE_FILE 0x08000u
#define MODE_TYPE_SERVICE 0x10000u
#define MAX_BUF 8192u
#define MAX_PATH_LEN 4096u
#define MAX_FILENAME 255u
#define VMO_FLAG_READ 0x1u
#define VMO_FLAG_WRITE 0x2u
#define VMO_FLAG_EXEC 0x4u
#define VMO_FLAG_PRIVATE 0x10000u
#define VMO_FLAG_EXACT 0x20000u
#define DIRENT_TYPE_UNKNOWN 0u
#define DIRENT_TYPE_DIRECTORY 4u
#define DIRENT_TYPE_FILE 8u
#define DIRENT_TYPE_SERVICE 16u
#define INO_UNKNOWN UINT64_MAX
/* NodeInfo's members */
#define NODE_INFO_SERVICE 1u
#define NODE_INFO_FILE 2u
#define NODE_INFO_DIRECTORY 3u
/* SetAttr's flags */
#define NODE_ATTRIBUTE_FLAG_MODIFICATION_TIME 0x2u

#define MAX_FILE_BUFFER (256u << 20) /* the largest file GetBuffer copies into a VMO */
#define THREAD_STACK (256u << 10)

/* ------------------------------------------------------------------------------------------------ state */

typedef struct root {
    atomic_int refs;
    int fd;         /* O_PATH of the served directory */
    bool read_only;
} root_t;

typedef struct svc {
    atomic_int refs;
    size_t n;
    hk_fx_svc_entry_t *entries; /* names strdup'ed */
} svc_t;

typedef struct conn {
    zx_handle_t ch; /* the server end (host table) */
    root_t *root;   /* a fuchsia.io node of a host directory, or */
    svc_t *svc;     /* the service directory */
    char *rel;      /* the node's path below the root, "" for the root itself */
    bool is_dir;
    uint32_t rights;     /* OPEN_RIGHT_* of this connection */
    uint32_t flags;      /* OPEN_FLAG_APPEND, OPEN_FLAG_NODE_REFERENCE */
    int fd;              /* files: the host file (O_PATH for a node reference); directories: -1 until listed */
    DIR *dir;            /* directories: the listing ReadDirents goes through */
    bool dot_sent;       /* ReadDirents gave "." */
    uint64_t offset;     /* the seek offset */
    size_t svc_next;     /* the service directory's listing */
    zx_handle_t token;   /* directories: the event GetToken hands out duplicates of (Rename's destination) */
} conn_t;

/* The tokens handed out (GetToken): the event's koid names a directory of a root for Rename.  An entry lives as long
 * as the connection that made it. */
typedef struct token {
    struct token *next;
    zx_koid_t koid;
    const conn_t *owner;
    root_t *root; /* a reference */
    char *rel;
} token_t;
static pthread_mutex_t g_tokens_mu = PTHREAD_MUTEX_INITIALIZER;
static token_t *g_tokens; /* g_tokens_mu */

static atomic_size_t g_live;

size_t hk_fx_fs_live_connections(void) { return atomic_load(&g_live); }

static void root_unref(root_t *r) {
    if (r != NULL && atomic_fetch_sub(&r->refs, 1) == 1) {
        close(r->fd);
        free(r);
    }
}

static void svc_unref(svc_t *s) {
    if (s != NULL && atomic_fetch_sub(&s->refs, 1) == 1) {
        for (size_t i = 0; i < s->n; i++) free((char *)s->entries[i].name);
        free(s->entries);
        free(s);
    }
}

static void token_forget(const conn_t *c);

static void conn_free(conn_t *c) {
    if (c->token != ZX_HANDLE_INVALID) {
        token_forget(c);
        zx_handle_close(c->token);
    }
    if (c->dir != NULL) closedir(c->dir);
    if (c->fd >= 0) close(c->fd);
    zx_handle_close(c->ch);
    root_unref(c->root);
    svc_unref(c->svc);
    free(c->rel);
    free(c);
}

static void *serve(void *arg);

/* Serve c on a thread of its own; c (and its channel) is taken whatever the result.  counted: g_live already
 * counts it (conn_go counts a connection before its OnOpen, so a client that saw the event sees it counted). */
static zx_status_t conn_start(conn_t *c, bool counted) {
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, THREAD_STACK);
    if (!counted) atomic_fetch_add(&g_live, 1);
    pthread_t t;
    int err = hk_thread_spawn_quiet(&t, &attr, serve, c);
    pthread_attr_destroy(&attr);
    if (err != 0) {
        atomic_fetch_sub(&g_live, 1);
        conn_free(c);
        return ZX_ERR_NO_RESOURCES;
    }
    return ZX_OK;
}

static conn_t *conn_new(zx_handle_t ch) {
    conn_t *c = calloc(1, sizeof *c);
    if (c == NULL) return NULL;
    c->ch = ch;
    c->fd = -1;
    return c;
}

/* ------------------------------------------------------------------------------------------------ host files */

static zx_status_t status_of(int err) {
    switch (err) {
    case ENOENT: return ZX_ERR_NOT_FOUND;
    case EEXIST: return ZX_ERR_ALREADY_EXISTS;
    case ENOTDIR: return ZX_ERR_NOT_DIR;
    case EISDIR: return ZX_ERR_NOT_FILE;
    case EACCES: case EPERM: case EROFS: case EXDEV: return ZX_ERR_ACCESS_DENIED;
    case ENOTEMPTY: return ZX_ERR_NOT_EMPTY;
    case ENAMETOOLONG: return ZX_ERR_BAD_PATH;
    case ENOSPC: case EDQUOT: return ZX_ERR_NO_SPACE;
    case ENOMEM: return ZX_ERR_NO_MEMORY;
    case EBUSY: return ZX_ERR_UNAVAILABLE;
    case EINVAL: case ELOOP: return ZX_ERR_INVALID_ARGS;
    case EFBIG: return ZX_ERR_FILE_BIG;
    default: return ZX_ERR_IO;
    }
}

/* openat2 beneath the served root: nothing it resolves leaves the root (".." never appears in our paths; a symlink
 * that leads out fails with EXDEV). */
static int open_beneath(const root_t *r, const char *rel, int flags, mode_t mode) {
    struct open_how how;
    memset(&how, 0, sizeof how);
    how.flags = (uint64_t)(flags | O_CLOEXEC);
    how.mode = (flags & O_CREAT) ? mode : 0;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    int fd;
    do fd = (int)syscall(SYS_openat2, r->fd, rel[0] ? rel : ".", &how, sizeof how);
    while (fd < 0 && errno == EINTR);
    return fd;
}

/* The path `path` (len bytes) of a request, relative to directory `base`, checked and joined: a new string, or NULL
 * with *st.  *want_dir: a trailing '/'. */
static char *path_join(const char *base, const char *path, size_t len, bool *want_dir, zx_status_t *st) {
    *want_dir = false;
    if (len == 0) {
        *st = ZX_ERR_INVALID_ARGS;
        return NULL;
    }
    if (len > MAX_PATH_LEN || memchr(path, '\0', len) != NULL) {
        *st = ZX_ERR_BAD_PATH;
        return NULL;
    }
    char *out = malloc(strlen(base) + len + 2);
    if (out == NULL) {
        *st = ZX_ERR_NO_MEMORY;
        return NULL;
    }
    size_t n = strlen(base);
    memcpy(out, base, n);
    for (size_t i = 0; i < len;) {
        size_t j = i;
        while (j < len && path[j] != '/') j++;
        size_t seg = j - i;
        if (seg == 2 && path[i] == '.' && path[i + 1] == '.') {
            free(out);
            *st = ZX_ERR_INVALID_ARGS;
            return NULL;
        }
        if (seg > MAX_FILENAME) {
            free(out);
            *st = ZX_ERR_BAD_PATH;
            return NULL;
        }
        if (seg > 0 && !(seg == 1 && path[i] == '.')) {
            if (n > 0) out[n++] = '/';
            memcpy(out + n, path + i, seg);
            n += seg;
        }
        if (j < len && j + 1 == len) *want_dir = true;
        i = j + 1;
    }
    out[n] = '\0';
    *st = ZX_OK;
    return out;
}

/* ------------------------------------------------------------------------------------------------ messages */


static void header(uint8_t *msg, uint32_t txid, uint64_t ordinal) {
    fidl_header_t h;
    memset(&h, 0, sizeof h);
    h.txid = txid;
    h.magic = FIDL_MAGIC_INITIAL;
    h.ordinal = ordinal;
    memcpy(msg, &h, sizeof h);
}

static void put32(uint8_t *at, uint32_t v) { memcpy(at, &v, sizeof v); }
static void put64(uint8_t *at, uint64_t v) { memcpy(at, &v, sizeof v); }
static uint32_t get32(const uint8_t *at) {
    uint32_t v;
    memcpy(&v, at, sizeof v);
    return v;
}
static uint64_t get64(const uint8_t *at) {
    uint64_t v;
    memcpy(&v, at, sizeof v);
    return v;
}

static bool send(zx_handle_t ch, const uint8_t *msg, uint32_t len, zx_handle_t *handles, uint32_t nh) {
    return zx_channel_write(ch, 0, msg, len, handles, nh) == ZX_OK;
}

/* A response that is the status alone: {zx.status s} (padded to 8). */
static bool reply_status(conn_t *c, uint32_t txid, uint64_t ordinal, zx_status_t s) {
    uint8_t msg[24];
    memset(msg, 0, sizeof msg);
    header(msg, txid, ordinal);
    put32(msg + 16, (uint32_t)s);
    return send(c->ch, msg, sizeof msg, NULL, 0);
}

/* {zx.status s, uint64/uint32 value}: 32 bytes for a u64, 24 for a u32 (packed after the status). */
static bool reply_status_u64(conn_t *c, uint32_t txid, uint64_t ordinal, zx_status_t s, uint64_t v) {
    uint8_t msg[32];
    memset(msg, 0, sizeof msg);
    header(msg, txid, ordinal);
    put32(msg + 16, (uint32_t)s);
    put64(msg + 24, v);
    return send(c->ch, msg, sizeof msg, NULL, 0);
}

static bool reply_status_u32(conn_t *c, uint32_t txid, uint64_t ordinal, zx_status_t s, uint32_t v) {
    uint8_t msg[24];
    memset(msg, 0, sizeof msg);
    header(msg, txid, ordinal);
    put32(msg + 16, (uint32_t)s);
    put32(msg + 20, v);
    return send(c->ch, msg, sizeof msg, NULL, 0);
}

/* {zx.status s, vector<uint8> data}: the bytes out of line, padded to 8. */
static bool reply_status_bytes(conn_t *c, uint32_t txid, uint64_t ordinal, zx_status_t s, const uint8_t *data,
                               size_t n) {
    uint8_t msg[FIDL_HEADER + 24 + MAX_BUF];
    size_t len = FIDL_HEADER + 24 + ((n + 7) & ~(size_t)7);
    memset(msg, 0, len);
    header(msg, txid, ordinal);
    put32(msg + 16, (uint32_t)s);
    put64(msg + 24, n);
    put64(msg + 32, FIDL_ALLOC_PRESENT);
    if (n) memcpy(msg + 40, data, n);
    return send(c->ch, msg, (uint32_t)len, NULL, 0);
}

/* NodeInfo (an xunion) at msg+at, its member out of line at msg+at+24: 8 bytes (DirectoryObject and Service are
 * empty structs, 1 byte padded to 8; FileObject two absent handles).  The bytes used. */
static size_t put_node_info(uint8_t *msg, size_t at, uint32_t which) {
    put64(msg + at, which);
    put32(msg + at + 8, 8);  /* num_bytes */
    put32(msg + at + 12, 0); /* num_handles: FileObject's event and stream absent */
    put64(msg + at + 16, FIDL_ALLOC_PRESENT);
    memset(msg + at + 24, 0, 8);
    return 32;
}

static uint32_t node_info_of(const conn_t *c) {
    if (c->svc != NULL) return NODE_INFO_DIRECTORY;
    if (c->flags & FLAG_NODE_REFERENCE) return NODE_INFO_SERVICE; /* a reference is no file or directory to use */
    return c->is_dir ? NODE_INFO_DIRECTORY : NODE_INFO_FILE;
}

/* OnOpen(zx.status s, NodeInfo? info): the info when which != 0. */
static void send_on_open(zx_handle_t ch, zx_status_t s, uint32_t which) {
    uint8_t msg[FIDL_HEADER + 8 + 32];
    memset(msg, 0, sizeof msg);
    header(msg, 0, HK_FIO_NODE_ON_OPEN);
    put32(msg + 16, (uint32_t)s);
    size_t len = FIDL_HEADER + 8 + 24;
    if (which != 0) len = FIDL_HEADER + 8 + put_node_info(msg, FIDL_HEADER + 8, which);
    (void)send(ch, msg, (uint32_t)len, NULL, 0);
}

/* A request channel that will not be served: OnOpen(s) first when DESCRIBE asked for it. */
static void refuse(zx_handle_t ch, uint32_t flags, zx_status_t s) {
    if (flags & FLAG_DESCRIBE) send_on_open(ch, s, 0);
    zx_handle_close(ch);
}

/* ------------------------------------------------------------------------------------------------ opening */

/* Start serving a new connection c (describing it first when asked); c is taken. */
static void conn_go(conn_t *c, uint32_t flags) {
    atomic_fetch_add(&g_live, 1);
    if (flags & FLAG_DESCRIBE) send_on_open(c->ch, ZX_OK, node_info_of(c));
    (void)conn_start(c, true);
}

/* The node at rel below root r for a connection with `rights` and `flags` (open flags), on channel ch (taken). */
static void open_node(root_t *r, const char *rel, bool want_dir, uint32_t flags, uint32_t mode, uint32_t rights,
                      uint32_t parent_rights, zx_handle_t ch) {
    if (want_dir) flags |= FLAG_DIRECTORY;
    bool node_ref = (flags & FLAG_NODE_REFERENCE) != 0;
    struct stat st;
    int fd = open_beneath(r, rel, O_PATH, 0);
    bool exists = fd >= 0;
    zx_status_t s = ZX_OK;
    if (!exists && errno != ENOENT) s = status_of(errno);
    if (exists && fstat(fd, &st) != 0) s = status_of(errno);
    if (s == ZX_OK && !exists && (!(flags & FLAG_CREATE) || node_ref)) s = ZX_ERR_NOT_FOUND;
    if (s == ZX_OK && exists && (flags & FLAG_CREATE) && (flags & FLAG_CREATE_IF_ABSENT)) s = ZX_ERR_ALREADY_EXISTS;
    bool is_dir = exists ? S_ISDIR(st.st_mode) : ((flags & FLAG_DIRECTORY) || (mode & MODE_TYPE_MASK) ==
                                                                                   MODE_TYPE_DIRECTORY);
    if (s == ZX_OK && exists && !S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode)) s = ZX_ERR_NOT_SUPPORTED;
    if (s == ZX_OK && (flags & FLAG_DIRECTORY) && !is_dir) s = ZX_ERR_NOT_DIR;
    if (s == ZX_OK && (flags & FLAG_NOT_DIRECTORY) && is_dir) s = ZX_ERR_NOT_FILE;
    if (s == ZX_OK && !exists && !(parent_rights & RIGHT_WRITABLE)) s = ZX_ERR_ACCESS_DENIED;
    if (s == ZX_OK && is_dir && (flags & FLAG_TRUNCATE)) s = ZX_ERR_INVALID_ARGS;
    if (s == ZX_OK && is_dir && (flags & FLAG_POSIX)) rights |= parent_rights & (RIGHT_WRITABLE | RIGHT_EXECUTABLE);
    if (s == ZX_OK && !is_dir && exists && (rights & RIGHT_EXECUTABLE) && (st.st_mode & 0111) == 0)
        s = ZX_ERR_ACCESS_DENIED;
    if (s == ZX_OK && !exists) { /* CREATE */
        if (is_dir) {
            char *parent = strdup(rel);
            char *slash = parent != NULL ? strrchr(parent, '/') : NULL;
            const char *leaf = slash != NULL ? slash + 1 : rel;
            if (parent == NULL) {
                s = ZX_ERR_NO_MEMORY;
            } else {
                if (slash != NULL) *slash = '\0';
                else parent[0] = '\0';
                int pfd = open_beneath(r, parent, O_PATH | O_DIRECTORY, 0);
                if (pfd < 0 || mkdirat(pfd, leaf, (mode_t)(mode & 0777 ? mode & 0777 : 0755)) != 0)
                    s = status_of(errno);
                if (pfd >= 0) close(pfd);
            }
            free(parent);
        }
    }
    int hfd = -1;
    if (s == ZX_OK && !is_dir) {
        int oflags = O_PATH;
        if (!node_ref && (rights & (RIGHT_READABLE | RIGHT_WRITABLE))) {
            oflags = (rights & RIGHT_WRITABLE) ? ((rights & RIGHT_READABLE) ? O_RDWR : O_WRONLY) : O_RDONLY;
            if (flags & FLAG_TRUNCATE) oflags |= O_TRUNC;
        } else if (!exists) {
            oflags = O_RDONLY; /* CREATE without rights to read or write: made, then held as a path */
        }
        if (!exists) oflags |= O_CREAT | ((flags & FLAG_CREATE_IF_ABSENT) ? O_EXCL : 0);
        if (oflags != O_PATH) oflags |= O_NOCTTY; /* openat2 takes O_PATH with no other flag */
        hfd = open_beneath(r, rel, oflags, (mode_t)(mode & 0777 ? mode & 0777 : 0644));
        if (hfd < 0) s = status_of(errno);
    } else if (s == ZX_OK && is_dir && !node_ref && (rights & RIGHT_READABLE)) {
        /* The host's read permission of a directory, checked at the open as for a file. */
        int dfd = open_beneath(r, rel, O_RDONLY | O_DIRECTORY, 0);
        if (dfd < 0) s = status_of(errno);
        else close(dfd);
    }
    if (fd >= 0) close(fd);
    conn_t *c = s == ZX_OK ? conn_new(ch) : NULL;
    if (s == ZX_OK && c == NULL) s = ZX_ERR_NO_MEMORY;
    if (s == ZX_OK && (c->rel = strdup(rel)) == NULL) s = ZX_ERR_NO_MEMORY;
    if (s != ZX_OK) {
        if (hfd >= 0) close(hfd);
        if (c != NULL) {
            c->ch = ZX_HANDLE_INVALID;
            conn_free(c);
        }
        refuse(ch, flags, s);
        return;
    }
    atomic_fetch_add(&r->refs, 1);
    c->root = r;
    c->is_dir = is_dir;
    c->rights = node_ref ? 0 : rights;
    c->flags = flags & (FLAG_APPEND | FLAG_NODE_REFERENCE);
    c->fd = hfd;
    conn_go(c, flags);
}

/* PrevalidateFlags (zircon/system/ulib/fs/connection.cc). */
static zx_status_t prevalidate(uint32_t flags) {
    if ((flags & FLAG_NODE_REFERENCE) && (flags & ~(FLAGS_ALLOWED_WITH_NODE_REFERENCE | RIGHTS)) != 0)
        return ZX_ERR_INVALID_ARGS;
    if ((flags & FLAG_DIRECTORY) && (flags & FLAG_NOT_DIRECTORY)) return ZX_ERR_INVALID_ARGS;
    return ZX_OK;
}

/* Directory.Open on connection c. */
static void dir_open(conn_t *c, uint32_t flags, uint32_t mode, const char *path, size_t len, zx_handle_t ch) {
    zx_status_t s = prevalidate(flags);
    if (s == ZX_OK && (flags & CLONE_FLAG_SAME_RIGHTS)) s = ZX_ERR_INVALID_ARGS;
    uint32_t rights = flags & RIGHTS;
    if (flags & FLAG_NODE_REFERENCE) rights = 0;
    if (s == ZX_OK && (rights & ~c->rights)) s = ZX_ERR_ACCESS_DENIED;
    if (s == ZX_OK && (flags & FLAG_TRUNCATE) && !(rights & RIGHT_WRITABLE)) s = ZX_ERR_INVALID_ARGS;
    if (s == ZX_OK && c->svc != NULL) {
        /* The service directory: "." is itself, a name its connector's. */
        bool dot = len == 1 && path[0] == '.';
        if (dot) {
            conn_t *n = conn_new(ch);
            if (n == NULL) {
                refuse(ch, flags, ZX_ERR_NO_MEMORY);
                return;
            }
            atomic_fetch_add(&c->svc->refs, 1);
            n->svc = c->svc;
            n->is_dir = true;
            n->rights = rights;
            conn_go(n, flags);
            return;
        }
        for (size_t i = 0; i < c->svc->n; i++) {
            const hk_fx_svc_entry_t *e = &c->svc->entries[i];
            if (strlen(e->name) == len && memcmp(e->name, path, len) == 0) {
                if (flags & FLAG_DESCRIBE) send_on_open(ch, ZX_OK, NODE_INFO_SERVICE);
                e->connect(e->ctx, e->name, ch);
                return;
            }
        }
        refuse(ch, flags, ZX_ERR_NOT_FOUND);
        return;
    }
    if (s != ZX_OK) {
        refuse(ch, flags, s);
        return;
    }
    bool want_dir;
    char *rel = path_join(c->rel, path, len, &want_dir, &s);
    if (rel == NULL) {
        refuse(ch, flags, s);
        return;
    }
    open_node(c->root, rel, want_dir, flags, mode, rights, c->rights, ch);
    free(rel);
}

/* Node.Clone on connection c. */
static void node_clone(conn_t *c, uint32_t flags, zx_handle_t ch) {
    uint32_t rights = flags & RIGHTS;
    zx_status_t s = ZX_OK;
    if ((flags & CLONE_FLAG_SAME_RIGHTS) && rights != 0) s = ZX_ERR_INVALID_ARGS;
    if (flags & CLONE_FLAG_SAME_RIGHTS) rights = c->rights;
    if (s == ZX_OK && (rights & ~c->rights)) s = ZX_ERR_ACCESS_DENIED;
    conn_t *n = s == ZX_OK ? conn_new(ch) : NULL;
    if (s == ZX_OK && n == NULL) s = ZX_ERR_NO_MEMORY;
    if (s == ZX_OK && c->rel != NULL && (n->rel = strdup(c->rel)) == NULL) s = ZX_ERR_NO_MEMORY;
    if (s == ZX_OK && c->fd >= 0 && (n->fd = fcntl(c->fd, F_DUPFD_CLOEXEC, 0)) < 0) s = status_of(errno);
    if (s != ZX_OK) {
        if (n != NULL) {
            n->ch = ZX_HANDLE_INVALID;
            conn_free(n);
        }
        refuse(ch, flags, s);
        return;
    }
    if (c->root != NULL) atomic_fetch_add(&c->root->refs, 1);
    if (c->svc != NULL) atomic_fetch_add(&c->svc->refs, 1);
    n->root = c->root;
    n->svc = c->svc;
    n->is_dir = c->is_dir;
    n->rights = rights;
    n->flags = (c->flags & FLAG_NODE_REFERENCE) | (flags & FLAG_APPEND);
    if (flags & CLONE_FLAG_SAME_RIGHTS) n->flags = c->flags;
    conn_go(n, flags);
}

/* ------------------------------------------------------------------------------------------------ nodes */

static int node_stat(conn_t *c, struct statx *sx) {
    int fd = c->fd;
    bool own = false;
    if (fd < 0) {
        if ((fd = open_beneath(c->root, c->rel, O_PATH, 0)) < 0) return -1;
        own = true;
    }
    int rc = (int)syscall(SYS_statx, fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS | STATX_BTIME, sx);
    int err = errno;
    if (own) close(fd);
    errno = err;
    return rc;
}

static bool get_attr(conn_t *c, uint32_t txid) {
    uint8_t msg[FIDL_HEADER + 8 + 56];
    memset(msg, 0, sizeof msg);
    header(msg, txid, HK_FIO_NODE_GET_ATTR);
    zx_status_t s = ZX_OK;
    uint8_t *a = msg + 24;
    if (c->svc != NULL) {
        put32(a, MODE_TYPE_DIRECTORY | 0755);
        put64(a + 8, INO_UNKNOWN);
        put64(a + 32, 1);
    } else {
        struct statx sx;
        if (node_stat(c, &sx) != 0) {
            s = status_of(errno);
        } else {
            put32(a, (uint32_t)(sx.stx_mode & (S_IFMT | 07777))); /* MODE_TYPE_DIRECTORY/FILE are S_IFDIR/S_IFREG */
            put64(a + 8, sx.stx_ino);
            put64(a + 16, sx.stx_size);
            put64(a + 24, sx.stx_blocks * 512u);
            put64(a + 32, sx.stx_nlink);
            const struct statx_timestamp *born = (sx.stx_mask & STATX_BTIME) ? &sx.stx_btime : &sx.stx_mtime;
            put64(a + 40, (uint64_t)born->tv_sec * 1000000000u + born->tv_nsec);
            put64(a + 48, (uint64_t)sx.stx_mtime.tv_sec * 1000000000u + sx.stx_mtime.tv_nsec);
        }
    }
    put32(msg + 16, (uint32_t)s);
    return send(c->ch, msg, sizeof msg, NULL, 0);
}

static zx_status_t set_attr(conn_t *c, uint32_t flags, uint64_t mtime) {
    if (c->svc != NULL || !(c->rights & RIGHT_WRITABLE)) return ZX_ERR_BAD_HANDLE;
    if (!(flags & NODE_ATTRIBUTE_FLAG_MODIFICATION_TIME)) return ZX_OK;
    int fd = open_beneath(c->root, c->rel, O_PATH, 0);
    if (fd < 0) return status_of(errno);
    struct timespec ts[2] = {{.tv_nsec = UTIME_OMIT},
                             {.tv_sec = (time_t)(mtime / 1000000000u), .tv_nsec = (long)(mtime % 1000000000u)}};
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
    int rc = utimensat(AT_FDCWD, proc, ts, 0);
    zx_status_t s = rc == 0 ? ZX_OK : status_of(errno);
    close(fd);
    return s;
}

/* ------------------------------------------------------------------------------------------------ files */

static bool file_read(conn_t *c, uint32_t txid, uint64_t ordinal, uint64_t count, uint64_t at, bool seek) {
    uint8_t buf[MAX_BUF];
    zx_status_t s = ZX_OK;
    size_t got = 0;
    if (c->is_dir || c->svc != NULL) s = ZX_ERR_NOT_FILE;
    else if (!(c->rights & RIGHT_READABLE)) s = ZX_ERR_BAD_HANDLE;
    else if (count > MAX_BUF) s = ZX_ERR_OUT_OF_RANGE;
    while (s == ZX_OK && got < count) {
        ssize_t n = pread(c->fd, buf + got, count - got, (off_t)(at + got));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) s = status_of(errno);
        if (n <= 0) break;
        got += (size_t)n;
    }
    if (s != ZX_OK) got = 0;
    if (s == ZX_OK && seek) c->offset = at + got;
    return reply_status_bytes(c, txid, ordinal, s, buf, got);
}

static bool file_write(conn_t *c, uint32_t txid, uint64_t ordinal, const uint8_t *data, size_t count, uint64_t at,
                       bool seek) {
    zx_status_t s = ZX_OK;
    size_t put = 0;
    if (c->is_dir || c->svc != NULL) s = ZX_ERR_NOT_FILE;
    else if (!(c->rights & RIGHT_WRITABLE)) s = ZX_ERR_BAD_HANDLE;
    if (s == ZX_OK && seek && (c->flags & FLAG_APPEND)) {
        struct stat st;
        if (fstat(c->fd, &st) != 0) s = status_of(errno);
        else at = (uint64_t)st.st_size;
    }
    while (s == ZX_OK && put < count) {
        ssize_t n = pwrite(c->fd, data + put, count - put, (off_t)(at + put));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && put == 0) s = status_of(errno);
        if (n <= 0) break;
        put += (size_t)n;
    }
    if (s == ZX_OK && seek) c->offset = at + put;
    return reply_status_u64(c, txid, ordinal, s, s == ZX_OK ? put : 0);
}

static bool file_seek(conn_t *c, uint32_t txid, int64_t offset, uint32_t origin) {
    zx_status_t s = ZX_OK;
    int64_t base = 0;
    if (c->is_dir || c->svc != NULL) s = ZX_ERR_NOT_FILE;
    else if (origin == 1) base = (int64_t)c->offset;
    else if (origin == 2) {
        struct stat st;
        if (fstat(c->fd, &st) != 0) s = status_of(errno);
        else base = st.st_size;
    } else if (origin != 0) s = ZX_ERR_INVALID_ARGS;
    int64_t to = 0;
    if (s == ZX_OK && (__builtin_add_overflow(base, offset, &to) || to < 0)) s = ZX_ERR_INVALID_ARGS;
    if (s == ZX_OK) c->offset = (uint64_t)to;
    return reply_status_u64(c, txid, HK_FIO_FILE_SEEK, s, s == ZX_OK ? c->offset : 0);
}

static zx_status_t file_truncate(conn_t *c, uint64_t length) {
    if (c->is_dir || c->svc != NULL) return ZX_ERR_NOT_FILE;
    if (!(c->rights & RIGHT_WRITABLE)) return ZX_ERR_BAD_HANDLE;
    if (length > (uint64_t)INT64_MAX) return ZX_ERR_INVALID_ARGS;
    return ftruncate(c->fd, (off_t)length) == 0 ? ZX_OK : status_of(errno);
}

/* GetBuffer(uint32 flags) -> (zx.status s, fuchsia.mem.Buffer? buffer): the Buffer {handle<vmo> vmo, uint64 size}
 * out of line. */
static bool file_get_buffer(conn_t *c, uint32_t txid, uint32_t vflags) {
    zx_status_t s = ZX_OK;
    zx_handle_t vmo = ZX_HANDLE_INVALID;
    uint64_t size = 0;
    if (c->is_dir || c->svc != NULL) s = ZX_ERR_NOT_FILE;
    else if ((c->flags & FLAG_NODE_REFERENCE)) s = ZX_ERR_BAD_HANDLE;
    else if ((vflags & (VMO_FLAG_READ | VMO_FLAG_EXEC)) && !(c->rights & RIGHT_READABLE)) s = ZX_ERR_ACCESS_DENIED;
    else if ((vflags & VMO_FLAG_WRITE) && !(c->rights & RIGHT_WRITABLE)) s = ZX_ERR_ACCESS_DENIED;
    else if ((vflags & VMO_FLAG_EXEC) && !(c->rights & RIGHT_EXECUTABLE)) s = ZX_ERR_ACCESS_DENIED;
    else if ((vflags & VMO_FLAG_PRIVATE) && (vflags & VMO_FLAG_EXACT)) s = ZX_ERR_INVALID_ARGS;
    else if ((vflags & VMO_FLAG_EXACT) || ((vflags & VMO_FLAG_WRITE) && !(vflags & VMO_FLAG_PRIVATE)))
        s = ZX_ERR_NOT_SUPPORTED; /* a copy of a host file shares no writes with it */
    struct stat st;
    if (s == ZX_OK && fstat(c->fd, &st) != 0) s = status_of(errno);
    if (s == ZX_OK && st.st_size > (off_t)MAX_FILE_BUFFER) s = ZX_ERR_NO_MEMORY;
    uint8_t *data = NULL;
    if (s == ZX_OK) {
        size = (uint64_t)st.st_size;
        data = malloc(size ? size : 1);
        size_t got = 0;
        while (data != NULL && got < size) {
            ssize_t n = pread(c->fd, data + got, size - got, (off_t)got);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break;
            got += (size_t)n;
        }
        if (data == NULL) s = ZX_ERR_NO_MEMORY;
        else if (got != size) s = ZX_ERR_IO;
    }
    if (s == ZX_OK) {
        zx_rights_t rights = ZX_DEFAULT_VMO_RIGHTS & ~(ZX_RIGHT_WRITE | ZX_RIGHT_EXECUTE);
        if (vflags & VMO_FLAG_WRITE) rights |= ZX_RIGHT_WRITE;
        if (vflags & VMO_FLAG_EXEC) rights |= ZX_RIGHT_EXECUTE;
        const char *slash = strrchr(c->rel, '/');
        s = hk_fuchsia_vm_vmo_from_bytes(data, size, slash != NULL ? slash + 1 : c->rel, rights, &vmo);
    }
    free(data);
    uint8_t msg[FIDL_HEADER + 16 + 16];
    memset(msg, 0, sizeof msg);
    header(msg, txid, HK_FIO_FILE_GET_BUFFER);
    put32(msg + 16, (uint32_t)s);
    uint32_t len = FIDL_HEADER + 16;
    if (s == ZX_OK) {
        put64(msg + 24, FIDL_ALLOC_PRESENT);
        put32(msg + 32, FIDL_HANDLE_PRESENT);
        put64(msg + 40, size);
        len += 16;
    }
    return send(c->ch, msg, len, s == ZX_OK ? &vmo : NULL, s == ZX_OK ? 1u : 0u);
}

/* ------------------------------------------------------------------------------------------------ directories */

static zx_status_t dir_unlink(conn_t *c, const char *path, size_t len) {
    if (c->svc != NULL || !c->is_dir) return ZX_ERR_NOT_SUPPORTED;
    if (!(c->rights & RIGHT_WRITABLE)) return ZX_ERR_ACCESS_DENIED;
    bool want_dir;
    zx_status_t s;
    char *rel = path_join(c->rel, path, len, &want_dir, &s);
    if (rel == NULL) return s;
    if (strcmp(rel, c->rel) == 0) { /* "." */
        free(rel);
        return ZX_ERR_UNAVAILABLE;
    }
    char *slash = strrchr(rel, '/');
    const char *leaf = slash != NULL ? slash + 1 : rel;
    if (slash != NULL) *slash = '\0';
    int pfd = open_beneath(c->root, slash != NULL ? rel : "", O_PATH | O_DIRECTORY, 0);
    struct stat st;
    if (pfd < 0 || fstatat(pfd, leaf, &st, AT_SYMLINK_NOFOLLOW) != 0) s = status_of(errno);
    else if (want_dir && !S_ISDIR(st.st_mode)) s = ZX_ERR_NOT_DIR;
    else if (unlinkat(pfd, leaf, S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0) != 0) s = status_of(errno);
    if (pfd >= 0) close(pfd);
    free(rel);
    return s;
}

static uint8_t dirent_type(unsigned char t) {
    switch (t) {
    case DT_DIR: return DIRENT_TYPE_DIRECTORY;
    case DT_REG: return DIRENT_TYPE_FILE;
    default: return DIRENT_TYPE_UNKNOWN;
    }
}

/* One record {u64 ino, u8 size, u8 type, name} into buf at *n if it fits in max. */
static bool dirent_put(uint8_t *buf, size_t *n, size_t max, uint64_t ino, uint8_t type, const char *name) {
    size_t len = strlen(name);
    if (len == 0 || len > MAX_FILENAME || *n + 10 + len > max) return false;
    put64(buf + *n, ino);
    buf[*n + 8] = (uint8_t)len;
    buf[*n + 9] = type;
    memcpy(buf + *n + 10, name, len);
    *n += 10 + len;
    return true;
}

static bool dir_read_dirents(conn_t *c, uint32_t txid, uint64_t max_bytes) {
    uint8_t buf[MAX_BUF];
    size_t n = 0, max = max_bytes < MAX_BUF ? (size_t)max_bytes : MAX_BUF;
    zx_status_t s = ZX_OK;
    if (!c->is_dir) s = ZX_ERR_NOT_DIR;
    else if (c->svc != NULL) {
        if (!c->dot_sent && dirent_put(buf, &n, max, INO_UNKNOWN, DIRENT_TYPE_DIRECTORY, ".")) c->dot_sent = true;
        while (c->dot_sent && c->svc_next < c->svc->n &&
               dirent_put(buf, &n, max, INO_UNKNOWN, DIRENT_TYPE_SERVICE, c->svc->entries[c->svc_next].name))
            c->svc_next++;
        if (n == 0 && (!c->dot_sent || c->svc_next < c->svc->n)) s = ZX_ERR_BUFFER_TOO_SMALL;
    } else {
        if (c->dir == NULL) {
            int fd = open_beneath(c->root, c->rel, O_RDONLY | O_DIRECTORY, 0);
            if (fd < 0 || (c->dir = fdopendir(fd)) == NULL) {
                s = status_of(errno);
                if (fd >= 0) close(fd);
            }
        }
        if (s == ZX_OK && !c->dot_sent) {
            struct stat st;
            uint64_t ino = fstat(dirfd(c->dir), &st) == 0 ? st.st_ino : INO_UNKNOWN;
            if (dirent_put(buf, &n, max, ino, DIRENT_TYPE_DIRECTORY, ".")) c->dot_sent = true;
            else s = ZX_ERR_BUFFER_TOO_SMALL; /* not even "." fits */
        }
        while (s == ZX_OK && c->dot_sent) {
            long pos = telldir(c->dir);
            errno = 0;
            struct dirent *d = readdir(c->dir);
            if (d == NULL) {
                if (errno != 0) s = status_of(errno);
                break;
            }
            if (strcmp(d->d_name, ".") == 0 || strcmp(d->d_name, "..") == 0) continue;
            unsigned char t = d->d_type;
            if (t == DT_UNKNOWN || t == DT_LNK) {
                struct stat st;
                if (fstatat(dirfd(c->dir), d->d_name, &st, 0) == 0)
                    t = S_ISDIR(st.st_mode) ? DT_DIR : S_ISREG(st.st_mode) ? DT_REG : DT_UNKNOWN;
            }
            if (strlen(d->d_name) > MAX_FILENAME) continue;
            if (!dirent_put(buf, &n, max, d->d_ino, dirent_type(t), d->d_name)) {
                seekdir(c->dir, pos); /* the next call starts with it */
                if (n == 0) s = ZX_ERR_BUFFER_TOO_SMALL;
                break;
            }
        }
    }
    return reply_status_bytes(c, txid, HK_FIO_DIR_READ_DIRENTS, s, buf, s == ZX_OK ? n : 0);
}

static zx_status_t dir_rewind(conn_t *c) {
    if (!c->is_dir) return ZX_ERR_NOT_DIR;
    c->dot_sent = false;
    c->svc_next = 0;
    if (c->dir != NULL) rewinddir(c->dir);
    return ZX_OK;
}

/* GetToken: a duplicate (ZX_RIGHTS_BASIC) of this directory connection's token event, made at the first call
 * (the VFS's Connection::DirectoryGetToken: WRITABLE needed, BAD_HANDLE otherwise). */
static zx_status_t dir_get_token(conn_t *c, zx_handle_t *out) {
    if (c->svc != NULL || !c->is_dir) return ZX_ERR_NOT_SUPPORTED;
    if (!(c->rights & RIGHT_WRITABLE)) return ZX_ERR_BAD_HANDLE;
    if (c->token == ZX_HANDLE_INVALID) {
        zx_handle_t ev = ZX_HANDLE_INVALID;
        zx_info_handle_basic_t b;
        token_t *t = calloc(1, sizeof *t);
        zx_status_t st = t != NULL ? zx_event_create(0, &ev) : ZX_ERR_NO_MEMORY;
        if (st == ZX_OK) st = zx_object_get_info(ev, ZX_INFO_HANDLE_BASIC, &b, sizeof b, NULL, NULL);
        if (st == ZX_OK && (t->rel = strdup(c->rel)) == NULL) st = ZX_ERR_NO_MEMORY;
        if (st != ZX_OK) {
            zx_handle_close(ev); /* ZX_HANDLE_INVALID: nothing */
            if (t != NULL) free(t->rel);
            free(t);
            return st;
        }
        t->koid = b.koid;
        t->owner = c;
        t->root = c->root;
        atomic_fetch_add(&c->root->refs, 1);
        c->token = ev;
        pthread_mutex_lock(&g_tokens_mu);
        t->next = g_tokens;
        g_tokens = t;
        pthread_mutex_unlock(&g_tokens_mu);
    }
    return zx_handle_duplicate(c->token, ZX_RIGHTS_BASIC, out);
}

static void token_forget(const conn_t *c) {
    pthread_mutex_lock(&g_tokens_mu);
    for (token_t **p = &g_tokens; *p != NULL; p = &(*p)->next) {
        token_t *t = *p;
        if (t->owner == c) {
            *p = t->next;
            root_unref(t->root);
            free(t->rel);
            free(t);
            break;
        }
    }
    pthread_mutex_unlock(&g_tokens_mu);
}

/* A name of Rename: no '/' but a trailing one (which asks for a directory), not "." or ".." (INVALID_ARGS). */
static char *rename_name(const char *s, size_t n, bool *want_dir, zx_status_t *st) {
    *want_dir = n > 0 && s[n - 1] == '/';
    if (*want_dir) n--;
    if (n == 0 || n > MAX_FILENAME || memchr(s, '/', n) != NULL || memchr(s, '\0', n) != NULL ||
        (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.')) {
        *st = ZX_ERR_INVALID_ARGS;
        return NULL;
    }
    char *out = strndup(s, n);
    *st = out != NULL ? ZX_OK : ZX_ERR_NO_MEMORY;
    return out;
}

/* Rename(src, token, dst): src in this directory becomes dst in the token's (the same root only: a token of another
 * served directory is unknown here, INVALID_ARGS, as a token of another filesystem is to the VFS). */
static zx_status_t dir_rename(conn_t *c, const char *src, size_t sn, zx_handle_t token, const char *dst, size_t dn) {
    if (c->svc != NULL || !c->is_dir) return ZX_ERR_NOT_SUPPORTED;
    if (!(c->rights & RIGHT_WRITABLE)) return ZX_ERR_BAD_HANDLE;
    bool src_dir, dst_dir;
    zx_status_t st;
    char *from = rename_name(src, sn, &src_dir, &st);
    char *to = from != NULL ? rename_name(dst, dn, &dst_dir, &st) : NULL;
    zx_info_handle_basic_t b;
    if (st == ZX_OK && zx_object_get_info(token, ZX_INFO_HANDLE_BASIC, &b, sizeof b, NULL, NULL) != ZX_OK)
        st = ZX_ERR_INVALID_ARGS;
    char *dst_rel = NULL;
    if (st == ZX_OK) {
        pthread_mutex_lock(&g_tokens_mu);
        for (token_t *t = g_tokens; t != NULL && dst_rel == NULL; t = t->next)
            if (t->koid == b.koid && t->root == c->root && (dst_rel = strdup(t->rel)) == NULL) st = ZX_ERR_NO_MEMORY;
        pthread_mutex_unlock(&g_tokens_mu);
        if (st == ZX_OK && dst_rel == NULL) st = ZX_ERR_INVALID_ARGS;
    }
    int sfd = -1, dfd = -1;
    if (st == ZX_OK && ((sfd = open_beneath(c->root, c->rel, O_PATH | O_DIRECTORY, 0)) < 0 ||
                        (dfd = open_beneath(c->root, dst_rel, O_PATH | O_DIRECTORY, 0)) < 0))
        st = status_of(errno);
    struct stat sst;
    if (st == ZX_OK && fstatat(sfd, from, &sst, AT_SYMLINK_NOFOLLOW) != 0) st = status_of(errno);
    if (st == ZX_OK && (src_dir || dst_dir) && !S_ISDIR(sst.st_mode)) st = ZX_ERR_NOT_DIR;
    if (st == ZX_OK && renameat(sfd, from, dfd, to) != 0) st = status_of(errno);
    if (sfd >= 0) close(sfd);
    if (dfd >= 0) close(dfd);
    free(from);
    free(to);
    free(dst_rel);
    return st;
}

/* ------------------------------------------------------------------------------------------------ dispatch */

/* A FIDL string at msg+at (its header) with its bytes out of line at msg+*ool; false if it does not decode. */
static bool get_string(const uint8_t *msg, uint32_t len, uint32_t at, uint32_t *ool, const char **s, size_t *n) {
    uint64_t count = get64(msg + at), presence = get64(msg + at + 8);
    if (presence != FIDL_ALLOC_PRESENT || count > MAX_PATH_LEN) return false;
    uint64_t end = *ool + ((count + 7) & ~7ull);
    if (end > len) return false;
    *s = (const char *)msg + *ool;
    *n = (size_t)count;
    *ool = (uint32_t)end;
    return true;
}

static bool is_channel(zx_handle_t h) {
    zx_info_handle_basic_t info;
    return zx_object_get_info(h, ZX_INFO_HANDLE_BASIC, &info, sizeof info, NULL, NULL) == ZX_OK &&
           info.type == ZX_OBJ_TYPE_CHANNEL;
}

/* One request: true to go on serving, false to close the connection (Close, malformed, an unknown ordinal, the
 * client gone).  Handles the request carries are taken from handles[] (set to INVALID) when used. */
static bool handle(void *conn, uint8_t *msg, uint32_t len, zx_handle_t *handles, uint32_t nh) {
    conn_t *c = conn;
    if (len < FIDL_HEADER) return false;
    fidl_header_t h;
    memcpy(&h, msg, sizeof h);
    const uint32_t txid = h.txid;
    const bool ref = (c->flags & FLAG_NODE_REFERENCE) != 0;
    /* A node reference answers these only (io.fidl, OPEN_FLAG_NODE_REFERENCE). */
    switch (h.ordinal) {
    case HK_FIO_NODE_CLONE: case HK_FIO_NODE_CLOSE: case HK_FIO_NODE_DESCRIBE: case HK_FIO_NODE_GET_ATTR:
    case HK_FIO_NODE_SYNC: case HK_FIO_FILE_GET_FLAGS: case HK_FIO_FILE_SET_FLAGS:
        break;
    default:
        if (ref && len >= FIDL_HEADER) {
            /* Every other call of the protocol answers BAD_HANDLE where it has a status; others close. */
            switch (h.ordinal) {
            case HK_FIO_FILE_READ: case HK_FIO_FILE_READ_AT: case HK_FIO_DIR_READ_DIRENTS:
                return reply_status_bytes(c, txid, h.ordinal, ZX_ERR_BAD_HANDLE, NULL, 0);
            case HK_FIO_FILE_WRITE: case HK_FIO_FILE_WRITE_AT: case HK_FIO_FILE_SEEK:
                return reply_status_u64(c, txid, h.ordinal, ZX_ERR_BAD_HANDLE, 0);
            case HK_FIO_FILE_TRUNCATE: case HK_FIO_DIR_UNLINK: case HK_FIO_DIR_REWIND: case HK_FIO_NODE_SET_ATTR:
            case HK_FIO_DIR_RENAME: case HK_FIO_DIR_LINK: case HK_FIO_DIR_WATCH:
                return reply_status(c, txid, h.ordinal, ZX_ERR_BAD_HANDLE);
            case HK_FIO_DIR_GET_TOKEN:
                return reply_status_u32(c, txid, h.ordinal, ZX_ERR_BAD_HANDLE, 0);
            case HK_FIO_FILE_GET_BUFFER:
                return file_get_buffer(c, txid, 0);
            case HK_FIO_DIR_OPEN:
                if (nh == 1) refuse(handles[0], get32(msg + 16), ZX_ERR_BAD_HANDLE);
                if (nh == 1) handles[0] = ZX_HANDLE_INVALID;
                return nh == 1;
            default:
                return false;
            }
        }
    }
    switch (h.ordinal) {
    case HK_FIO_NODE_CLONE: /* Clone(uint32 flags, request<Node> object) */
        if (len != 24 || nh != 1 || get32(msg + 20) != FIDL_HANDLE_PRESENT || !is_channel(handles[0])) return false;
        node_clone(c, get32(msg + 16), handles[0]);
        handles[0] = ZX_HANDLE_INVALID;
        return true;
    case HK_FIO_NODE_CLOSE:
        if (len != FIDL_HEADER || nh != 0) return false;
        (void)reply_status(c, txid, h.ordinal, ZX_OK);
        return false;
    case HK_FIO_NODE_DESCRIBE: {
        if (len != FIDL_HEADER || nh != 0) return false;
        uint8_t out[FIDL_HEADER + 32];
        memset(out, 0, sizeof out);
        header(out, txid, h.ordinal);
        put_node_info(out, FIDL_HEADER, node_info_of(c));
        return send(c->ch, out, sizeof out, NULL, 0);
    }
    case HK_FIO_NODE_SYNC:
        if (len != FIDL_HEADER || nh != 0) return false;
        if (c->fd >= 0 && !ref) (void)fsync(c->fd);
        return reply_status(c, txid, h.ordinal, ZX_OK);
    case HK_FIO_NODE_GET_ATTR:
        if (len != FIDL_HEADER || nh != 0) return false;
        return get_attr(c, txid);
    case HK_FIO_NODE_SET_ATTR: /* SetAttr(uint32 flags, NodeAttributes attributes): the struct at 24 */
        if (len != FIDL_HEADER + 8 + 56 || nh != 0) return false;
        return reply_status(c, txid, h.ordinal, set_attr(c, get32(msg + 16), get64(msg + 24 + 48)));
    case HK_FIO_FILE_READ:
        if (len != 24 || nh != 0) return false;
        return file_read(c, txid, h.ordinal, get64(msg + 16), c->offset, true);
    case HK_FIO_FILE_READ_AT:
        if (len != 32 || nh != 0) return false;
        return file_read(c, txid, h.ordinal, get64(msg + 16), get64(msg + 24), false);
    case HK_FIO_FILE_WRITE:
    case HK_FIO_FILE_WRITE_AT: {
        /* Write(vector<uint8>:MAX_BUF data) / WriteAt(vector<uint8>:MAX_BUF data, uint64 offset) */
        bool at = h.ordinal == HK_FIO_FILE_WRITE_AT;
        uint32_t inline_end = at ? 40 : 32;
        if (len < inline_end || nh != 0) return false;
        uint64_t count = get64(msg + 16), presence = get64(msg + 24);
        if (presence != FIDL_ALLOC_PRESENT || count > MAX_BUF || len != inline_end + ((count + 7) & ~7ull))
            return false;
        return file_write(c, txid, h.ordinal, msg + inline_end, (size_t)count, at ? get64(msg + 32) : c->offset, !at);
    }
    case HK_FIO_FILE_SEEK: /* Seek(int64 offset, SeekOrigin start) */
        if (len != 32 || nh != 0) return false;
        return file_seek(c, txid, (int64_t)get64(msg + 16), get32(msg + 24));
    case HK_FIO_FILE_TRUNCATE:
        if (len != 24 || nh != 0) return false;
        return reply_status(c, txid, h.ordinal, file_truncate(c, get64(msg + 16)));
    case HK_FIO_FILE_GET_FLAGS:
        if (len != FIDL_HEADER || nh != 0) return false;
        return reply_status_u32(c, txid, h.ordinal, ZX_OK, c->rights | c->flags);
    case HK_FIO_FILE_SET_FLAGS: /* only OPEN_FLAG_APPEND changes */
        if (len != 24 || nh != 0) return false;
        c->flags = (c->flags & ~FLAG_APPEND) | (get32(msg + 16) & FLAG_APPEND);
        return reply_status(c, txid, h.ordinal, ZX_OK);
    case HK_FIO_FILE_GET_BUFFER:
        if (len != 24 || nh != 0) return false;
        return file_get_buffer(c, txid, get32(msg + 16));
    case HK_FIO_DIR_OPEN: { /* Open(uint32 flags, uint32 mode, string path, request<Node> object) */
        uint32_t ool = 48;
        const char *path;
        size_t n;
        if (len < ool || nh != 1 || get32(msg + 40) != FIDL_HANDLE_PRESENT || !get_string(msg, len, 24, &ool, &path, &n) ||
            ool != len || !is_channel(handles[0]))
            return false;
        zx_handle_t ch = handles[0];
        handles[0] = ZX_HANDLE_INVALID;
        if (!c->is_dir) {
            refuse(ch, get32(msg + 16), ZX_ERR_NOT_DIR);
            return true;
        }
        dir_open(c, get32(msg + 16), get32(msg + 20), path, n, ch);
        return true;
    }
    case HK_FIO_DIR_UNLINK: {
        uint32_t ool = 32;
        const char *path;
        size_t n;
        if (len < ool || nh != 0 || !get_string(msg, len, 16, &ool, &path, &n) || ool != len) return false;
        return reply_status(c, txid, h.ordinal, dir_unlink(c, path, n));
    }
    case HK_FIO_DIR_READ_DIRENTS:
        if (len != 24 || nh != 0) return false;
        return dir_read_dirents(c, txid, get64(msg + 16));
    case HK_FIO_DIR_REWIND:
        if (len != FIDL_HEADER || nh != 0) return false;
        return reply_status(c, txid, h.ordinal, dir_rewind(c));
    case HK_FIO_DIR_GET_TOKEN: { /* -> (zx.status s, handle? token) */
        if (len != FIDL_HEADER || nh != 0) return false;
        zx_handle_t tok = ZX_HANDLE_INVALID;
        zx_status_t st = dir_get_token(c, &tok);
        uint8_t out[24];
        memset(out, 0, sizeof out);
        header(out, txid, h.ordinal);
        put32(out + 16, (uint32_t)st);
        put32(out + 20, st == ZX_OK ? FIDL_HANDLE_PRESENT : 0);
        return send(c->ch, out, sizeof out, st == ZX_OK ? &tok : NULL, st == ZX_OK ? 1u : 0u);
    }
    case HK_FIO_DIR_RENAME: { /* Rename(string src, handle dst_parent_token, string dst) */
        uint32_t ool = 56;
        const char *src, *dst;
        size_t sn, dn;
        if (len < ool || nh != 1 || get32(msg + 32) != FIDL_HANDLE_PRESENT || !get_string(msg, len, 16, &ool, &src, &sn) ||
            !get_string(msg, len, 40, &ool, &dst, &dn) || ool != len)
            return false;
        return reply_status(c, txid, h.ordinal, dir_rename(c, src, sn, handles[0], dst, dn));
    }
    case HK_FIO_DIR_LINK:
    case HK_FIO_DIR_WATCH:
        /* Rename/Link(string src, handle token, string dst), Watch(uint32 mask, uint32 options, channel watcher):
         * the handles are closed by the caller of handle(). */
        if (len < 24) return false;
        return reply_status(c, txid, h.ordinal, ZX_ERR_NOT_SUPPORTED);
    case HK_FIO_DIR_ADMIN_QUERY_FILESYSTEM: /* -> (zx.status s, FilesystemInfo? info) */
        if (len != FIDL_HEADER || nh != 0) return false;
        return reply_status_u64(c, txid, h.ordinal, ZX_ERR_NOT_SUPPORTED, 0);
    default:
        return false;
    }
}

static void *serve(void *arg) {
    conn_t *c = arg;
    hk_fx_fidl_serve(c->ch, ZX_CHANNEL_MAX_MSG_BYTES, 0, handle, c);
    conn_free(c); /* the client sees PEER_CLOSED */
    atomic_fetch_sub(&g_live, 1);
    return NULL;
}

/* ------------------------------------------------------------------------------------------------ roots */

zx_status_t hk_fx_fs_connect(const char *root, bool read_only, zx_handle_t *client) {
    if (root == NULL || client == NULL) return ZX_ERR_INVALID_ARGS;
    *client = ZX_HANDLE_INVALID;
    int fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return status_of(errno);
    root_t *r = calloc(1, sizeof *r);
    if (r == NULL) {
        close(fd);
        return ZX_ERR_NO_MEMORY;
    }
    r->fd = fd;
    r->read_only = read_only;
    atomic_init(&r->refs, 1);
    zx_handle_t server;
    zx_status_t st = zx_channel_create(0, client, &server);
    conn_t *c = st == ZX_OK ? conn_new(server) : NULL;
    if (st == ZX_OK && c == NULL) {
        zx_handle_close(server);
        st = ZX_ERR_NO_MEMORY;
    }
    if (c != NULL && (c->rel = strdup("")) == NULL) {
        conn_free(c); /* closes server */
        c = NULL;
        st = ZX_ERR_NO_MEMORY;
    }
    if (c != NULL) {
        atomic_fetch_add(&r->refs, 1);
        c->root = r;
        c->is_dir = true;
        c->rights = RIGHT_READABLE | RIGHT_EXECUTABLE | (read_only ? 0 : RIGHT_WRITABLE);
        st = conn_start(c, false);
    }
    if (st != ZX_OK && *client != ZX_HANDLE_INVALID) {
        zx_handle_close(*client);
        *client = ZX_HANDLE_INVALID;
    }
    root_unref(r);
    return st;
}

zx_status_t hk_fx_svc_dir_connect(const hk_fx_svc_entry_t *entries, size_t n, zx_handle_t *client) {
    if (client == NULL || (n > 0 && entries == NULL)) return ZX_ERR_INVALID_ARGS;
    *client = ZX_HANDLE_INVALID;
    for (size_t i = 0; i < n; i++) {
        const char *name = entries[i].name;
        if (name == NULL || entries[i].connect == NULL || name[0] == '\0' || strchr(name, '/') != NULL ||
            strcmp(name, ".") == 0 || strcmp(name, "..") == 0 || strlen(name) > MAX_FILENAME)
            return ZX_ERR_INVALID_ARGS;
    }
    svc_t *s = calloc(1, sizeof *s);
    if (s == NULL) return ZX_ERR_NO_MEMORY;
    atomic_init(&s->refs, 1);
    s->entries = calloc(n ? n : 1, sizeof *s->entries);
    bool ok = s->entries != NULL;
    for (size_t i = 0; ok && i < n; i++) {
        s->entries[i] = entries[i];
        ok = (s->entries[i].name = strdup(entries[i].name)) != NULL;
        s->n = i + 1;
        if (!ok) s->entries[i].name = NULL;
    }
    if (!ok) {
        svc_unref(s);
        return ZX_ERR_NO_MEMORY;
    }
    zx_handle_t server;
    zx_status_t st = zx_channel_create(0, client, &server);
    conn_t *c = st == ZX_OK ? conn_new(server) : NULL;
    if (st == ZX_OK && c == NULL) {
        zx_handle_close(server);
        zx_handle_close(*client);
        st = ZX_ERR_NO_MEMORY;
    }
    if (c != NULL) {
        atomic_fetch_add(&s->refs, 1);
        c->svc = s;
        c->is_dir = true;
        c->rights = RIGHT_READABLE | RIGHT_WRITABLE;
        st = conn_start(c, false);
        if (st != ZX_OK) zx_handle_close(*client);
    }
    svc_unref(s);
    return st;
}
