/* fileserver_svc: the service directory of host/fuchsia/fileserver.c (hk_fx_svc_dir_connect) driven from C, linked
 * with the host kernel (tests/test_fuchsia_fileserver.py).  Its connectors answer each connection with one message,
 * "hello <name>", and close it.  Prints "ok" and exits 0, or names the first failed check and exits 1.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <zircon/syscalls.h>

#include "fuchsia/fileserver.h"

#define CHECK(cond)                                                    \
    do {                                                               \
        if (!(cond)) {                                                 \
            printf("FAILED line %d: %s\n", __LINE__, #cond);           \
            return 1;                                                  \
        }                                                              \
    } while (0)

static atomic_int g_connected;

static void connector(void *ctx, const char *name, zx_handle_t server_end) {
    char line[128];
    int n = snprintf(line, sizeof line, "%s %s", (const char *)ctx, name);
    zx_channel_write(server_end, 0, line, (uint32_t)n, NULL, 0);
    zx_handle_close(server_end);
    atomic_fetch_add(&g_connected, 1);
}

static void header(uint8_t *m, uint32_t txid, uint64_t ordinal) {
    memset(m, 0, 16);
    memcpy(m, &txid, 4);
    m[7] = 1;
    memcpy(m + 8, &ordinal, 8);
}

/* Directory.Open(flags, 0, path, request): the client end of the request. */
static zx_handle_t open_at(zx_handle_t dir, const char *path, uint32_t flags) {
    zx_handle_t client, server;
    if (zx_channel_create(0, &client, &server) != ZX_OK) return ZX_HANDLE_INVALID;
    uint8_t m[256];
    uint64_t n = strlen(path), present = UINT64_MAX;
    uint32_t mode = 0, handle = UINT32_MAX, pad = 0;
    header(m, 1, HK_FIO_DIR_OPEN);
    memcpy(m + 16, &flags, 4);
    memcpy(m + 20, &mode, 4);
    memcpy(m + 24, &n, 8);
    memcpy(m + 32, &present, 8);
    memcpy(m + 40, &handle, 4);
    memcpy(m + 44, &pad, 4);
    memset(m + 48, 0, (n + 7) & ~7ull);
    memcpy(m + 48, path, n);
    if (zx_channel_write(dir, 0, m, (uint32_t)(48 + ((n + 7) & ~7ull)), &server, 1) != ZX_OK) {
        zx_handle_close(client);
        return ZX_HANDLE_INVALID;
    }
    return client;
}

/* The next message on h (its length; -1: the peer closed with nothing left). */
static int next(zx_handle_t h, uint8_t *buf, uint32_t size) {
    zx_signals_t seen;
    if (zx_object_wait_one(h, ZX_CHANNEL_READABLE | ZX_CHANNEL_PEER_CLOSED, zx_deadline_after(10000000000LL), &seen) !=
        ZX_OK)
        return -2;
    uint32_t n = 0, nh = 0;
    zx_status_t st = zx_channel_read(h, 0, buf, NULL, size, 0, &n, &nh);
    return st == ZX_OK ? (int)n : -1;
}

static int32_t on_open_status(const uint8_t *ev, uint64_t *tag) {
    int32_t s;
    uint64_t ord;
    memcpy(&ord, ev + 8, 8);
    if (ord != HK_FIO_NODE_ON_OPEN) return 12345;
    memcpy(&s, ev + 16, 4);
    memcpy(tag, ev + 24, 8);
    return s;
}

int main(void) {
    char hello[] = "hello";
    hk_fx_svc_entry_t entries[] = {
        {.name = "fuchsia.process.Launcher", .connect = connector, .ctx = hello},
        {.name = "fuchsia.test.Echo", .connect = connector, .ctx = hello},
    };
    zx_handle_t dir;
    CHECK(hk_fx_svc_dir_connect(entries, 2, &dir) == ZX_OK);
    CHECK(hk_fx_fs_live_connections() == 1);
    uint8_t buf[1024];
    uint64_t tag = 0;

    /* A name: the connector gets the request channel (fdio_service_connect opens without DESCRIBE). */
    zx_handle_t c = open_at(dir, "fuchsia.process.Launcher", 0x3);
    int n = next(c, buf, sizeof buf);
    CHECK(n == (int)strlen("hello fuchsia.process.Launcher") && memcmp(buf, "hello fuchsia.process.Launcher", n) == 0);
    CHECK(next(c, buf, sizeof buf) == -1);
    zx_handle_close(c);
    /* With DESCRIBE: OnOpen(ZX_OK, service) first. */
    c = open_at(dir, "fuchsia.test.Echo", 0x800000);
    CHECK(next(c, buf, sizeof buf) == 56 && on_open_status(buf, &tag) == ZX_OK && tag == 1);
    n = next(c, buf, sizeof buf);
    CHECK(n == (int)strlen("hello fuchsia.test.Echo"));
    zx_handle_close(c);
    /* An unknown name: closed (OnOpen NOT_FOUND with DESCRIBE). */
    c = open_at(dir, "fuchsia.unknown.Thing", 0);
    CHECK(next(c, buf, sizeof buf) == -1);
    zx_handle_close(c);
    c = open_at(dir, "fuchsia.unknown.Thing", 0x800000);
    CHECK(next(c, buf, sizeof buf) == 48 && on_open_status(buf, &tag) == ZX_ERR_NOT_FOUND && tag == 0);
    CHECK(next(c, buf, sizeof buf) == -1);
    zx_handle_close(c);
    CHECK(atomic_load(&g_connected) == 2);

    /* "." is the directory again: OnOpen directory, its listing, its attributes. */
    zx_handle_t d2 = open_at(dir, ".", 0x800001);
    CHECK(next(d2, buf, sizeof buf) == 56 && on_open_status(buf, &tag) == ZX_OK && tag == 3);
    uint8_t req[24];
    header(req, 7, HK_FIO_DIR_READ_DIRENTS);
    uint64_t max = 8192;
    memcpy(req + 16, &max, 8);
    CHECK(zx_channel_write(d2, 0, req, 24, NULL, 0) == ZX_OK);
    n = next(d2, buf, sizeof buf);
    CHECK(n > 40);
    uint64_t count;
    memcpy(&count, buf + 24, 8);
    const uint8_t *e = buf + 40;
    char listing[256] = "";
    for (uint64_t at = 0; at < count;) {
        char one[80];
        snprintf(one, sizeof one, "%.*s:%u ", e[at + 8], (const char *)e + at + 10, e[at + 9]);
        strcat(listing, one);
        at += 10 + e[at + 8];
    }
    CHECK(strcmp(listing, ".:4 fuchsia.process.Launcher:16 fuchsia.test.Echo:16 ") == 0);
    header(req, 8, HK_FIO_NODE_GET_ATTR);
    CHECK(zx_channel_write(d2, 0, req, 16, NULL, 0) == ZX_OK);
    CHECK(next(d2, buf, sizeof buf) == 80);
    uint32_t mode;
    memcpy(&mode, buf + 24, 4);
    CHECK((mode & 0xFF000) == 0x4000);
    /* Clone: another connection to the directory, which connects names as well. */
    zx_handle_t cc, cs;
    CHECK(zx_channel_create(0, &cc, &cs) == ZX_OK);
    uint8_t clone[24];
    header(clone, 0, HK_FIO_NODE_CLONE);
    uint32_t flags = 0x4000000u | 0x800000u, present = UINT32_MAX;
    memcpy(clone + 16, &flags, 4);
    memcpy(clone + 20, &present, 4);
    CHECK(zx_channel_write(d2, 0, clone, 24, &cs, 1) == ZX_OK);
    CHECK(next(cc, buf, sizeof buf) == 56 && on_open_status(buf, &tag) == ZX_OK && tag == 3);
    c = open_at(cc, "fuchsia.test.Echo", 0);
    CHECK(next(c, buf, sizeof buf) > 0);
    zx_handle_close(c);
    /* Close answers ZX_OK and ends the connection. */
    header(req, 9, HK_FIO_NODE_CLOSE);
    CHECK(zx_channel_write(cc, 0, req, 16, NULL, 0) == ZX_OK);
    CHECK(next(cc, buf, sizeof buf) == 24 && memcmp(buf + 16, "\0\0\0\0", 4) == 0);
    CHECK(next(cc, buf, sizeof buf) == -1);
    zx_handle_close(cc);
    zx_handle_close(d2);

    /* Bad entries. */
    hk_fx_svc_entry_t bad[] = {{.name = "a/b", .connect = connector}, {.name = "..", .connect = connector},
                               {.name = "", .connect = connector},    {.name = "x", .connect = NULL},
                               {.name = NULL, .connect = connector}};
    zx_handle_t none = 1;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK(hk_fx_svc_dir_connect(&bad[i], 1, &none) == ZX_ERR_INVALID_ARGS);
        CHECK(none == ZX_HANDLE_INVALID);
    }
    CHECK(hk_fx_svc_dir_connect(NULL, 1, &none) == ZX_ERR_INVALID_ARGS);
    CHECK(hk_fx_svc_dir_connect(NULL, 0, &none) == ZX_OK); /* an empty directory */
    zx_handle_close(none);

    /* Every connection ends with its client. */
    zx_handle_close(dir);
    for (int i = 0; i < 1000 && hk_fx_fs_live_connections() != 0; i++) zx_nanosleep(zx_deadline_after(5000000LL));
    CHECK(hk_fx_fs_live_connections() == 0);
    printf("ok\n");
    return 0;
}
