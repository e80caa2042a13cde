/* fuchsia_ns: a Fuchsia-ABI static PIE that uses its namespace the way libfdio does, without libfdio
 * (tests/test_fuchsia_fileserver.py; host/fuchsia/fileserver.c serves the other end).
 *
 * Built like tests/helpers/fuchsia_first_light.c (no libc, no relocations, the vDSO's functions looked up at run
 * time; runs with the stand-in vDSO or the real 2021 one).  It reads its processargs message, prints the names table
 * ("name <i> <path>"), takes the PA_HND(PA_NS_DIR, i) handles for "/data" and "/ro", and speaks hand-encoded
 * fuchsia.io (FIDL wire format v1) over them with the calls libfdio uses, zx_channel_write_etc (Directory.Open's
 * request channel as a handle disposition), zx_channel_read_etc (the OnOpen event) and zx_channel_call_etc:
 *   - Open("hello.txt", READABLE | DESCRIBE): OnOpen ZX_OK with NodeInfo file; File.Read: "read: <bytes>"
 *   - Open("out.txt", CREATE | WRITABLE | DESCRIBE) and File.Write("written by the stand-in\n")
 *   - on /ro, Open("x", CREATE | WRITABLE | DESCRIBE): "ro create <status>" (ACCESS_DENIED)
 *   - a disposition of the wrong type: WRONG_TYPE, written back in its result, and the handle consumed
 * Exit 0, or 100 + the line of the first check that failed (its line printed).
 */
#include <stddef.h>
#include <stdint.h>

typedef int32_t zx_status_t;
typedef uint32_t zx_handle_t;
typedef int64_t zx_time_t;

#include "fuchsia_vdso_sym.h"

typedef struct { zx_handle_t handle; uint32_t type, rights, unused; } handle_info_t;      /* zx_handle_info_t */
typedef struct { uint32_t operation; zx_handle_t handle; uint32_t type, rights; zx_status_t result; } disp_t;
typedef struct {
    const void *wr_bytes;
    disp_t *wr_handles;
    void *rd_bytes;
    handle_info_t *rd_handles;
    uint32_t wr_num_bytes, wr_num_handles, rd_num_bytes, rd_num_handles;
} call_etc_args_t; /* zx_channel_call_etc_args_t */
typedef struct {
    uint32_t protocol, version, handle_info_off, args_off, args_num, environ_off, environ_num, names_off, names_num;
} proc_args_t;

typedef void exit_fn(int64_t) __attribute__((noreturn));
static exit_fn *process_exit;
static zx_status_t (*debug_write)(const char *, size_t);
static zx_status_t (*channel_read)(zx_handle_t, uint32_t, void *, zx_handle_t *, uint32_t, uint32_t, uint32_t *,
                                   uint32_t *);
static zx_status_t (*channel_read_etc)(zx_handle_t, uint32_t, void *, handle_info_t *, uint32_t, uint32_t,
                                       uint32_t *, uint32_t *);
static zx_status_t (*channel_write_etc)(zx_handle_t, uint32_t, const void *, uint32_t, disp_t *, uint32_t);
static zx_status_t (*channel_call_etc)(zx_handle_t, uint32_t, zx_time_t, call_etc_args_t *, uint32_t *, uint32_t *);
static zx_status_t (*channel_create)(uint32_t, zx_handle_t *, zx_handle_t *);
static zx_status_t (*object_wait_one)(zx_handle_t, uint32_t, zx_time_t, uint32_t *);
static zx_status_t (*handle_close)(zx_handle_t);

static size_t len(const char *s) {
    size_t n = 0;
    while (s[n]) n++;
    return n;
}
static void say(const char *s) { debug_write(s, len(s)); }
static void say_num(const char *label, int64_t v) {
    char line[64], digits[24];
    size_t at = 0;
    while (label[at]) line[at] = label[at], at++;
    if (v < 0) line[at++] = '-', v = -v;
    int d = 0;
    do digits[d++] = (char)('0' + v % 10), v /= 10;
    while (v != 0);
    while (d > 0) line[at++] = digits[--d];
    line[at++] = '\n';
    debug_write(line, at);
}
static void check_failed(int line, int64_t got) {
    say_num("FAILED at line ", line);
    say_num("  got ", got);
    process_exit(100 + line % 100);
}
#define EXPECT(expr, want)                                          \
    do {                                                            \
        int64_t got_ = (int64_t)(expr);                             \
        if (got_ != (int64_t)(want)) check_failed(__LINE__, got_); \
    } while (0)

static void copy(void *d, const void *s, size_t n) {
    for (size_t i = 0; i < n; i++) ((uint8_t *)d)[i] = ((const uint8_t *)s)[i];
}

/* fuchsia.io ordinals (fileserver.h) and flags (io.fidl) */
#define ORD_ON_OPEN 0x7fc7bbb1dbfd1972ull
#define ORD_READ 0x29b2b7074c95208cull
#define ORD_WRITE 0x3b6432f57914225bull
#define ORD_OPEN 0x2c5044561d685ec0ull
#define RIGHT_READABLE 0x1u
#define RIGHT_WRITABLE 0x2u
#define FLAG_CREATE 0x10000u
#define FLAG_DESCRIBE 0x800000u
#define PA_NS_DIR 0x20u
#define ZX_OBJ_TYPE_VMO 3u
#define ZX_OBJ_TYPE_CHANNEL 4u
#define ZX_RIGHT_SAME_RIGHTS 0x80000000u
#define ZX_CHANNEL_READABLE 1u
#define ZX_ERR_BAD_HANDLE (-11)
#define ZX_ERR_WRONG_TYPE (-12)

static void header(uint8_t *m, uint32_t txid, uint64_t ordinal) {
    for (int i = 0; i < 16; i++) m[i] = 0;
    copy(m, &txid, 4);
    m[7] = 1; /* magic */
    copy(m + 8, &ordinal, 8);
}

/* Directory.Open(flags, 0, path, request) on dir, the request sent as a MOVE disposition of a channel; then the
 * OnOpen event: its status (and the NodeInfo tag in *tag); the client end in *node. */
static zx_status_t open_at(zx_handle_t dir, const char *path, uint32_t flags, zx_handle_t *node, uint64_t *tag) {
    zx_handle_t server;
    EXPECT(channel_create(0, node, &server), 0);
    uint8_t m[128];
    uint64_t n = len(path), present = ~0ull;
    header(m, 1, ORD_OPEN);
    uint32_t mode = 0, handle = 0xFFFFFFFFu, pad = 0;
    copy(m + 16, &flags, 4);
    copy(m + 20, &mode, 4);
    copy(m + 24, &n, 8);
    copy(m + 32, &present, 8);
    copy(m + 40, &handle, 4);
    copy(m + 44, &pad, 4);
    for (int i = 0; i < 8 * (int)((n + 7) / 8); i++) m[48 + i] = 0;
    copy(m + 48, path, n);
    disp_t d = {.operation = 0, .handle = server, .type = ZX_OBJ_TYPE_CHANNEL, .rights = ZX_RIGHT_SAME_RIGHTS};
    EXPECT(channel_write_etc(dir, 0, m, (uint32_t)(48 + 8 * ((n + 7) / 8)), &d, 1), 0);
    EXPECT(d.result, 0);
    uint32_t observed = 0, got = 0, nh = 0;
    EXPECT(object_wait_one(*node, ZX_CHANNEL_READABLE, INT64_MAX, &observed), 0);
    uint8_t ev[128];
    handle_info_t hi[2];
    EXPECT(channel_read_etc(*node, 0, ev, hi, sizeof ev, 2, &got, &nh), 0);
    uint64_t ord;
    copy(&ord, ev + 8, 8);
    EXPECT(ord, ORD_ON_OPEN);
    EXPECT(nh, 0);
    zx_status_t s;
    copy(&s, ev + 16, 4);
    copy(tag, ev + 24, 8);
    return s;
}

static void run(zx_handle_t bootstrap) {
    static uint8_t msg[65536];
    zx_handle_t hs[64];
    uint32_t nb = 0, nh = 0, observed = 0;
    EXPECT(object_wait_one(bootstrap, ZX_CHANNEL_READABLE, INT64_MAX, &observed), 0);
    EXPECT(channel_read(bootstrap, 0, msg, hs, sizeof msg, 64, &nb, &nh), 0);
    proc_args_t pa;
    copy(&pa, msg, sizeof pa);
    EXPECT(pa.names_num, 2);
    const char *names[2];
    const char *at = (const char *)msg + pa.names_off;
    for (uint32_t i = 0; i < pa.names_num; i++) {
        names[i] = at;
        say_num("name ", i);
        say(at);
        say("\n");
        at += len(at) + 1;
    }
    EXPECT((uint8_t *)at - msg, nb); /* the table ends the message */
    const uint32_t *infos = (const uint32_t *)(msg + pa.handle_info_off);
    zx_handle_t data = 0, ro = 0;
    for (uint32_t i = 0; i < nh; i++) {
        if ((infos[i] & 0xFF) != PA_NS_DIR) continue;
        const char *name = names[infos[i] >> 16];
        if (streq(name, "/data")) data = hs[i];
        if (streq(name, "/ro")) ro = hs[i];
    }
    EXPECT(data != 0 && ro != 0, 1);

    zx_handle_t file;
    uint64_t tag = 0;
    EXPECT(open_at(data, "hello.txt", RIGHT_READABLE | FLAG_DESCRIBE, &file, &tag), 0);
    EXPECT(tag, 2); /* NodeInfo.file */
    uint8_t req[32], rsp[256];
    header(req, 2, ORD_READ);
    uint64_t count = 64;
    copy(req + 16, &count, 8);
    call_etc_args_t args = {.wr_bytes = req, .wr_num_bytes = 24, .rd_bytes = rsp, .rd_num_bytes = sizeof rsp,
                            .rd_handles = 0, .rd_num_handles = 0};
    uint32_t ab = 0, ah = 0;
    EXPECT(channel_call_etc(file, 0, INT64_MAX, &args, &ab, &ah), 0);
    zx_status_t s;
    uint64_t n;
    copy(&s, rsp + 16, 4);
    copy(&n, rsp + 24, 8);
    EXPECT(s, 0);
    say("read: ");
    debug_write((const char *)rsp + 40, n);
    handle_close(file);

    EXPECT(open_at(data, "out.txt", RIGHT_WRITABLE | FLAG_CREATE | FLAG_DESCRIBE, &file, &tag), 0);
    static const char text[] = "written by the stand-in\n";
    uint8_t w[64];
    header(w, 3, ORD_WRITE);
    uint64_t wn = sizeof text - 1, present = ~0ull;
    copy(w + 16, &wn, 8);
    copy(w + 24, &present, 8);
    for (int i = 32; i < 64; i++) w[i] = 0;
    copy(w + 32, text, wn);
    args = (call_etc_args_t){.wr_bytes = w, .wr_num_bytes = (uint32_t)(32 + 8 * ((wn + 7) / 8)), .rd_bytes = rsp,
                             .rd_num_bytes = sizeof rsp};
    EXPECT(channel_call_etc(file, 0, INT64_MAX, &args, &ab, &ah), 0);
    copy(&s, rsp + 16, 4);
    copy(&n, rsp + 24, 8);
    EXPECT(s, 0);
    EXPECT(n, wn);
    handle_close(file);

    s = open_at(ro, "x", RIGHT_WRITABLE | FLAG_CREATE | FLAG_DESCRIBE, &file, &tag);
    say_num("ro create ", s);
    EXPECT(tag, 0); /* no NodeInfo with a failure */
    handle_close(file);

    /* A disposition whose type is wrong: WRONG_TYPE in its result and from the call; the handle is consumed. */
    zx_handle_t a, b;
    EXPECT(channel_create(0, &a, &b), 0);
    disp_t d = {.operation = 0, .handle = b, .type = ZX_OBJ_TYPE_VMO, .rights = ZX_RIGHT_SAME_RIGHTS};
    header(req, 4, ORD_READ);
    EXPECT(channel_write_etc(a, 0, req, 24, &d, 1), ZX_ERR_WRONG_TYPE);
    EXPECT(d.result, ZX_ERR_WRONG_TYPE);
    EXPECT(handle_close(b), ZX_ERR_BAD_HANDLE);
    handle_close(a);
    say("done\n");
}

static void *need(const uint8_t *base, const char *name) {
    void *f = vdso_sym(base, name);
    if (f == 0) __builtin_trap();
    return f;
}

__attribute__((noreturn)) void _start(zx_handle_t bootstrap, const uint8_t *vdso) {
    process_exit = need(vdso, "_zx_process_exit");
    debug_write = need(vdso, "_zx_debug_write");
    channel_read = need(vdso, "_zx_channel_read");
    channel_read_etc = need(vdso, "_zx_channel_read_etc");
    channel_write_etc = need(vdso, "_zx_channel_write_etc");
    channel_call_etc = need(vdso, "_zx_channel_call_etc");
    channel_create = need(vdso, "_zx_channel_create");
    object_wait_one = need(vdso, "_zx_object_wait_one");
    handle_close = need(vdso, "_zx_handle_close");
    run(bootstrap);
    process_exit(0);
}
