#define _GNU_SOURCE
/* The loader service of Fuchsia programs: see loader.h.
 *
 * Each connection is a host-kernel channel whose server end one host thread serves: it waits for READABLE or
 * PEER_CLOSED (zx_object_wait_one), reads one request and answers it, as the 2021 SDK's loader service
 * (zircon/system/ulib/ldmsg ldmsg_req_decode, and fdio's loader service) does:
 *   - the request must fit an ldmsg_req_t (1024 bytes) and decode: DONE is the 16-byte header alone; CLONE is 24 bytes
 *     with the handle marked present (FIDL_HANDLE_PRESENT) and one channel handle; LOAD_OBJECT and CONFIG carry a
 *     fidl_string_t marked present (FIDL_ALLOC_PRESENT) of at most LDMSG_MAX_PAYLOAD - 17 bytes, and the message is
 *     exactly the header, the string header and the string, padded to 8 bytes.  Anything else (an unknown ordinal,
 *     a wrong size, a stray handle) is malformed: the server end is closed.
 *   - LoadObject: the name (no '/', not "." or "..") is looked up in each directory in turn, with the configured
 *     prefix first; the file's bytes in a new VMO (READ, EXECUTE, MAP, ...) and ZX_OK, or ZX_ERR_NOT_FOUND and no
 *     handle.
 *   - Config: a name of at least 2 bytes and no '/' (INVALID_ARGS otherwise) becomes the prefix "name/"; a trailing
 *     '!' makes it exclusive (no fallback without it), as the loader service's config_prefix.
 *   - Clone: the channel in the request becomes another connection to the same loader; ZX_OK.
 *   - Done: the connection ends.
 * The response is an ldmsg_rsp_t (24 bytes): the request's txid and ordinal, magic 1, rv, and FIDL_HANDLE_PRESENT
 * when a VMO goes with it.
 */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../kernel.h"
#include "fidl.h"
#include "loader.h"
#include "vm.h"

#define LDMSG_REQ_SIZE 1024u
#define FIDL_STRING 16u
#define LDMSG_MAX_PAYLOAD (LDMSG_REQ_SIZE - FIDL_HEADER)
#define PREFIX_MAX 64u
#define MAX_LIBRARY_SIZE (256u << 20)

typedef struct conn {
    struct conn *next;
    hk_fx_loader_t *l;
    zx_handle_t server; /* l->mu; ZX_HANDLE_INVALID once the thread closed it */
    pthread_t thread;
    char prefix[PREFIX_MAX + 2];
    bool exclusive;
} conn_t;

struct hk_fx_loader {
    pthread_mutex_t mu;
    char **dirs;
    size_t ndirs;
    conn_t *conns; /* mu */
    bool closing;  /* mu */
};

typedef struct {
    fidl_header_t header;
    int32_t rv;
    uint32_t object;
} ldmsg_rsp_t;
_Static_assert(sizeof(ldmsg_rsp_t) == 24, "ldmsg_rsp_t");

/* ------------------------------------------------------------------------------------------------ look-up */

static bool name_ok(const char *name, size_t len) {
    return len > 0 && memchr(name, '/', len) == NULL && strcmp(name, ".") != 0 && strcmp(name, "..") != 0;
}

/* The file dir/prefix name as a VMO; ZX_ERR_NOT_FOUND if it is no readable regular file. */
static zx_status_t load_file(const char *dir, const char *prefix, const char *name, zx_handle_t *vmo) {
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/%s%s", dir, prefix, name) >= (int)sizeof path) return ZX_ERR_NOT_FOUND;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0) return ZX_ERR_NOT_FOUND;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > (off_t)MAX_LIBRARY_SIZE) {
        close(fd);
        return ZX_ERR_NOT_FOUND;
    }
    size_t size = (size_t)st.st_size, got = 0;
    uint8_t *data = malloc(size ? size : 1);
    while (data != NULL && got < size) {
        ssize_t n = read(fd, data + got, size - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        got += (size_t)n;
    }
    close(fd);
    zx_status_t status = data == NULL ? ZX_ERR_NO_MEMORY : got != size ? ZX_ERR_IO : ZX_OK;
    /* fdio_get_vmo_exec's rights: the VMO may be mapped executable, not written. */
    zx_rights_t rights = (ZX_DEFAULT_VMO_RIGHTS & ~ZX_RIGHT_WRITE) | ZX_RIGHT_EXECUTE;
    if (status == ZX_OK) status = hk_fuchsia_vm_vmo_from_bytes(data, size, name, rights, vmo);
    free(data);
    return status;
}

static zx_status_t load_object(conn_t *c, const char *name, size_t len, zx_handle_t *vmo) {
    if (!name_ok(name, len)) return ZX_ERR_NOT_FOUND;
    const hk_fx_loader_t *l = c->l;
    for (int pass = c->prefix[0] != '\0' ? 0 : 1; pass < 2; pass++) {
        if (pass == 1 && c->prefix[0] != '\0' && c->exclusive) break;
        for (size_t i = 0; i < l->ndirs; i++) {
            zx_status_t status = load_file(l->dirs[i], pass == 0 ? c->prefix : "", name, vmo);
            if (status != ZX_ERR_NOT_FOUND) return status;
        }
    }
    return ZX_ERR_NOT_FOUND;
}

/* ------------------------------------------------------------------------------------------------ connections */

static void *serve(void *arg);

/* Start serving channel h (taken whatever the result). */
static zx_status_t conn_start(hk_fx_loader_t *l, zx_handle_t h) {
    conn_t *c = calloc(1, sizeof *c);
    if (c == NULL) {
        zx_handle_close(h);
        return ZX_ERR_NO_MEMORY;
    }
    c->l = l;
    c->server = h;
    pthread_mutex_lock(&l->mu);
    if (l->closing) {
        pthread_mutex_unlock(&l->mu);
        zx_handle_close(h);
        free(c);
        return ZX_ERR_BAD_STATE;
    }
    int err = hk_thread_spawn_quiet(&c->thread, NULL, serve, c);
    if (err != 0) {
        pthread_mutex_unlock(&l->mu);
        zx_handle_close(h);
        free(c);
        return ZX_ERR_NO_RESOURCES;
    }
    c->next = l->conns;
    l->conns = c;
    pthread_mutex_unlock(&l->mu);
    return ZX_OK;
}

static bool reply(zx_handle_t server, const fidl_header_t *req, zx_status_t rv, zx_handle_t vmo) {
    ldmsg_rsp_t rsp;
    memset(&rsp, 0, sizeof rsp);
    rsp.header.txid = req->txid;
    rsp.header.magic = FIDL_MAGIC_INITIAL;
    rsp.header.ordinal = req->ordinal;
    rsp.rv = rv;
    rsp.object = vmo != ZX_HANDLE_INVALID ? FIDL_HANDLE_PRESENT : FIDL_HANDLE_ABSENT;
    return zx_channel_write(server, 0, &rsp, sizeof rsp, vmo != ZX_HANDLE_INVALID ? &vmo : NULL,
                            vmo != ZX_HANDLE_INVALID ? 1u : 0u) == ZX_OK;
}

/* One request: true to go on serving, false to close the connection (Done, malformed, the client gone). */
static bool handle_request(void *conn, uint8_t *msg, uint32_t len, zx_handle_t *handles, uint32_t nh) {
    conn_t *c = conn;
    if (len < FIDL_HEADER) return false;
    fidl_header_t hdr;
    memcpy(&hdr, msg, sizeof hdr);
    switch (hdr.ordinal) {
    case HK_LDMSG_OP_DONE:
        return false;
    case HK_LDMSG_OP_CLONE: {
        uint32_t object;
        memcpy(&object, msg + FIDL_HEADER, sizeof object);
        if (len != FIDL_HEADER + 8 || object != FIDL_HANDLE_PRESENT || nh != 1) return false;
        zx_info_handle_basic_t info;
        if (zx_object_get_info(handles[0], ZX_INFO_HANDLE_BASIC, &info, sizeof info, NULL, NULL) != ZX_OK ||
            info.type != ZX_OBJ_TYPE_CHANNEL)
            return false;
        zx_handle_t h = handles[0];
        handles[0] = ZX_HANDLE_INVALID;
        return reply(c->server, &hdr, conn_start(c->l, h), ZX_HANDLE_INVALID);
    }
    case HK_LDMSG_OP_LOAD_OBJECT:
    case HK_LDMSG_OP_CONFIG: {
        if (nh != 0 || len < FIDL_HEADER + FIDL_STRING) return false;
        uint64_t size, data;
        memcpy(&size, msg + FIDL_HEADER, sizeof size);
        memcpy(&data, msg + FIDL_HEADER + 8, sizeof data);
        if (data != FIDL_ALLOC_PRESENT || size > LDMSG_MAX_PAYLOAD - FIDL_STRING - 1 ||
            len != ((FIDL_HEADER + FIDL_STRING + size + 7) & ~(uint64_t)7))
            return false;
        char *name = (char *)msg + FIDL_HEADER + FIDL_STRING;
        name[size] = '\0'; /* the buffer has room: ldmsg_req_decode terminates it too */
        if (strlen(name) != size) return false; /* an embedded NUL: no file name */
        if (hdr.ordinal == HK_LDMSG_OP_CONFIG) {
            zx_status_t rv = ZX_ERR_INVALID_ARGS;
            if (size >= 2 && size < PREFIX_MAX && strchr(name, '/') == NULL) {
                c->exclusive = name[size - 1] == '!';
                size_t n = c->exclusive ? size - 1 : size;
                memcpy(c->prefix, name, n);
                c->prefix[n] = '/';
                c->prefix[n + 1] = '\0';
                rv = ZX_OK;
            }
            return reply(c->server, &hdr, rv, ZX_HANDLE_INVALID);
        }
        zx_handle_t vmo = ZX_HANDLE_INVALID;
        zx_status_t rv = load_object(c, name, size, &vmo);
        return reply(c->server, &hdr, rv, rv == ZX_OK ? vmo : ZX_HANDLE_INVALID);
    }
    default:
        return false;
    }
}

static void *serve(void *arg) {
    conn_t *c = arg;
    /* Ends at PEER_CLOSED, at USER_SIGNAL_0 (hk_fx_loader_free), or at a message larger than any request. */
    hk_fx_fidl_serve(c->server, LDMSG_REQ_SIZE, ZX_USER_SIGNAL_0, handle_request, c);
    pthread_mutex_lock(&c->l->mu);
    zx_handle_close(c->server); /* the client sees PEER_CLOSED */
    c->server = ZX_HANDLE_INVALID;
    pthread_mutex_unlock(&c->l->mu);
    return NULL;
}

/* ------------------------------------------------------------------------------------------------ life */

hk_fx_loader_t *hk_fx_loader_new(const char *const *dirs, size_t n) {
    hk_fx_loader_t *l = calloc(1, sizeof *l);
    if (l == NULL) return NULL;
    pthread_mutex_init(&l->mu, NULL);
    l->dirs = calloc(n ? n : 1, sizeof *l->dirs);
    bool ok = l->dirs != NULL;
    for (size_t i = 0; ok && i < n; i++) ok = (l->dirs[l->ndirs++] = strdup(dirs[i])) != NULL;
    if (!ok) {
        hk_fx_loader_free(l);
        return NULL;
    }
    return l;
}

/* dirname(path) into out, "." for a bare name. */
static void dir_of(const char *path, char out[PATH_MAX]) {
    const char *slash = strrchr(path, '/');
    if (slash == NULL) {
        snprintf(out, PATH_MAX, ".");
    } else {
        size_t n = (size_t)(slash - path);
        if (n >= PATH_MAX) n = PATH_MAX - 1;
        memcpy(out, path, n ? n : 1); /* "/x": "/" */
        out[n ? n : 1] = '\0';
    }
}

hk_fx_loader_t *hk_fx_loader_new_for(const char *vdso_path, const char *image_path) {
    char sysroot_lib[PATH_MAX], image_dir[PATH_MAX], pattern[PATH_MAX + 32];
    dir_of(vdso_path, sysroot_lib);
    dir_of(image_path, image_dir);
    /* <sdk>/arch/x64/sysroot/lib: the SDK's packages are <sdk>/pkg/<name>/arch/x64/lib. */
    snprintf(pattern, sizeof pattern, "%s/../../../../pkg/*/arch/x64/lib", sysroot_lib);
    glob_t g;
    memset(&g, 0, sizeof g);
    bool globbed = glob(pattern, GLOB_NOSORT | GLOB_ONLYDIR, NULL, &g) == 0;
    size_t n = 0, cap = 2 + (globbed ? g.gl_pathc : 0);
    const char **dirs = calloc(cap, sizeof *dirs);
    hk_fx_loader_t *l = NULL;
    if (dirs != NULL) {
        dirs[n++] = sysroot_lib;
        for (size_t i = 0; globbed && i < g.gl_pathc; i++) dirs[n++] = g.gl_pathv[i];
        dirs[n++] = image_dir;
        l = hk_fx_loader_new(dirs, n);
    }
    free(dirs);
    if (globbed) globfree(&g);
    return l;
}

zx_status_t hk_fx_loader_connect(hk_fx_loader_t *l, zx_handle_t *client) {
    zx_handle_t server;
    zx_status_t status = zx_channel_create(0, client, &server);
    if (status != ZX_OK) return status;
    status = conn_start(l, server);
    if (status != ZX_OK) zx_handle_close(*client);
    return status;
}

void hk_fx_loader_free(hk_fx_loader_t *l) {
    if (l == NULL) return;
    pthread_mutex_lock(&l->mu);
    l->closing = true;
    for (conn_t *c = l->conns; c != NULL; c = c->next) {
        if (c->server != ZX_HANDLE_INVALID) zx_object_signal(c->server, 0, ZX_USER_SIGNAL_0);
    }
    conn_t *conns = l->conns;
    l->conns = NULL;
    pthread_mutex_unlock(&l->mu);
    while (conns != NULL) { /* a Clone served meanwhile is refused (closing) */
        conn_t *c = conns;
        conns = c->next;
        pthread_join(c->thread, NULL);
        free(c);
    }
    for (size_t i = 0; i < l->ndirs; i++) free(l->dirs[i]);
    free(l->dirs);
    pthread_mutex_destroy(&l->mu);
    free(l);
}
