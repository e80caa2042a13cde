/* fuchsia_launcher_client: Fuchsia-ABI static PIEs of our own for fuchsia.process.Launcher served by the host
 * (host/fuchsia/launcher.c; tests/test_fuchsia_launcher.py).  No libc: the vDSO's functions are looked up at run
 * time, as tests/helpers/fuchsia_first_light.c does.  One behaviour per build:
 *
 *   LC_CLIENT  what fdio_spawn sends, hand-encoded in FIDL wire format v1.  Its processargs message brings the
 *              launcher's client end as PA_USER0, a control channel as PA_USER1 with one message queued: the bytes
 *              of an executable.  It makes an executable VMO of them (vmo_create, vmo_write,
 *              vmo_replace_as_executable), then on the launcher:
 *                1. AddArgs {"x"}, AddHandles {channel end, PA_USER0}, Launch of a VMO that is no ELF file: a status
 *                   other than ZX_OK and no process; the launcher's reset closed the channel end it held;
 *                2. CreateWithoutStarting: ZX_ERR_NOT_SUPPORTED, data absent;
 *                3. AddArgs {"lc-child", argv[2..]}, AddEnvirons {"LC_GREETING=hello from the launcher"}, AddHandles
 *                   {its own stdout socket duplicated as PA_HND(PA_FD, 1), its job duplicated as PA_JOB_DEFAULT},
 *                   Launch "lc-child": the status and the process handle go to the control channel;
 *                4. Launch "lc-child2" with nothing added (the state was reset): likewise;
 *                then it waits for lc-child to end (its stdout is this program's).
 *              Each step is reported through debug_write; a failed check exits with 100 + its line number.
 *   LC_CHILD   the launched program: it writes "child argc=N argv=a,b env=E jobs=J\n" to its PA_HND(PA_FD, 1) socket
 *              (if it has one; argv, environ and the number of PA_JOB_DEFAULT handles from its processargs message),
 *              then exits with argv[1] as a number, or
 *              3 without arguments; argv[1] "forever" writes "alive\n" and sleeps until killed.
 *
 * Built as tests/test_fuchsia_first_light.py builds its programs (clang --target=x86_64-unknown-fuchsia, a static
 * PIE without relocations).  x86-64 only.
 */
#include <stddef.h>
#include <stdint.h>

typedef int32_t zx_status_t;
typedef uint32_t zx_handle_t;
typedef uint32_t zx_rights_t;
typedef uint32_t zx_signals_t;
typedef int64_t zx_time_t;

#define ZX_OK 0
#define ZX_ERR_NOT_SUPPORTED (-2)
#define ZX_RIGHT_SAME_RIGHTS ((zx_rights_t)1u << 31)
#define ZX_CHANNEL_READABLE ((zx_signals_t)1u << 0)
#define ZX_CHANNEL_PEER_CLOSED ((zx_signals_t)1u << 2)
#define ZX_TASK_TERMINATED ((zx_signals_t)1u << 3)
#define ZX_TIME_INFINITE INT64_MAX

/* <zircon/processargs.h> */
#define PA_PROTOCOL 0x4150585du
#define PA_VERSION 0x0001000u
#define PA_JOB_DEFAULT 0x03u
#define PA_FD 0x30u
#define PA_USER0 0xF0u
#define PA_USER1 0xF1u
#define PA_HND(type, arg) (((uint32_t)(type) & 0xFFu) | (((uint32_t)(arg) & 0xFFFFu) << 16))

/* fuchsia.process.Launcher ordinals (host/fuchsia/launcher.h). */
#define ORD_LAUNCH 0x11335a9928afbfa4ull
#define ORD_CREATE_WITHOUT_STARTING 0x755f8263fe51cb61ull
#define ORD_ADD_ARGS 0x3be445d3e4fd6512ull
#define ORD_ADD_ENVIRONS 0x73a3c97fa7fe1779ull
#define ORD_ADD_HANDLES 0x51025267a537a615ull
#define PRESENT64 0xFFFFFFFFFFFFFFFFull
#define PRESENT32 0xFFFFFFFFu

#include "fuchsia_vdso_sym.h"

typedef struct {
    uint32_t protocol, version, handle_info_off, args_off, args_num, environ_off, environ_num, names_off, names_num;
} proc_args_t;
typedef struct {
    const void *wr_bytes;
    const zx_handle_t *wr_handles;
    void *rd_bytes;
    zx_handle_t *rd_handles;
    uint32_t wr_num_bytes, wr_num_handles, rd_num_bytes, rd_num_handles;
} channel_call_args_t;

/* The compiler may emit calls to these for copies and zeroing. */
void *memcpy(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
void *memcpy(void *dst, const void *src, size_t n) {
    uint8_t *d = dst;
    const uint8_t *s = src;
    while (n--) *d++ = *s++;
    return dst;
}
void *memset(void *dst, int c, size_t n) {
    uint8_t *d = dst;
    while (n--) *d++ = (uint8_t)c;
    return dst;
}

static size_t len(const char *s) {
    size_t n = 0;
    while (s[n]) n++;
    return n;
}

typedef void exit_fn(int64_t) __attribute__((noreturn));
static exit_fn *zx_process_exit;
static zx_status_t (*zx_debug_write)(const char *, size_t);
static zx_status_t (*channel_read)(zx_handle_t, uint32_t, void *, zx_handle_t *, uint32_t, uint32_t, uint32_t *,
                                   uint32_t *);
static zx_status_t (*channel_write)(zx_handle_t, uint32_t, const void *, uint32_t, const zx_handle_t *, uint32_t);
static zx_time_t (*deadline_after)(int64_t);

__attribute__((unused)) static void say(const char *s) { zx_debug_write(s, len(s)); }

static _Noreturn void die(void) { __builtin_trap(); }

static void *need(const uint8_t *base, const char *name) {
    void *f = vdso_sym(base, name);
    if (f == NULL) zx_process_exit(2);
    return f;
}

/* "text" then a decimal number and a newline, into buf; its length. */
static size_t fmt_num(char *buf, const char *text, int64_t v) {
    size_t n = 0;
    while (*text) buf[n++] = *text++;
    if (v < 0) {
        buf[n++] = '-';
        v = -v;
    }
    char digits[24];
    size_t d = 0;
    do digits[d++] = (char)('0' + v % 10), v /= 10;
    while (v);
    while (d) buf[n++] = digits[--d];
    buf[n++] = '\n';
    return n;
}

__attribute__((unused)) static void say_num(const char *text, int64_t v) {
    char buf[64];
    zx_debug_write(buf, fmt_num(buf, text, v));
}

#define EXPECT(got, want)                                                                                              \
    do {                                                                                                               \
        int64_t got_ = (int64_t)(got), want_ = (int64_t)(want);                                                       \
        if (got_ != want_) {                                                                                           \
            say_num("check failed at line ", __LINE__);                                                               \
            say_num("  got ", got_);                                                                                   \
            zx_process_exit(100 + __LINE__);                                                                           \
        }                                                                                                              \
    } while (0)

/* The processargs message of the bootstrap channel. */
static uint8_t pa_msg[8192];
static zx_handle_t pa_handles[16];
static uint32_t pa_nh;

static const proc_args_t *read_processargs(zx_handle_t bootstrap) {
    uint32_t nb = 0;
    if (channel_read(bootstrap, 0, pa_msg, pa_handles, sizeof pa_msg, 16, &nb, &pa_nh) != ZX_OK) zx_process_exit(3);
    const proc_args_t *pa = (const proc_args_t *)pa_msg;
    if (nb < sizeof *pa || pa->protocol != PA_PROTOCOL || pa->version != PA_VERSION) zx_process_exit(4);
    return pa;
}

static zx_handle_t take(uint32_t info) {
    const proc_args_t *pa = (const proc_args_t *)pa_msg;
    const uint32_t *infos = (const uint32_t *)(pa_msg + pa->handle_info_off);
    for (uint32_t i = 0; i < pa_nh; i++)
        if (infos[i] == info) return pa_handles[i];
    return 0;
}

#if defined(LC_CLIENT)
static zx_status_t (*handle_duplicate)(zx_handle_t, zx_rights_t, zx_handle_t *);
static zx_status_t (*channel_create)(uint32_t, zx_handle_t *, zx_handle_t *);
static zx_status_t (*channel_call)(zx_handle_t, uint32_t, zx_time_t, const channel_call_args_t *, uint32_t *,
                                   uint32_t *);
static zx_status_t (*object_wait_one)(zx_handle_t, zx_signals_t, zx_time_t, zx_signals_t *);
static zx_status_t (*vmo_create)(uint64_t, uint32_t, zx_handle_t *);
static zx_status_t (*vmo_write)(zx_handle_t, const void *, uint64_t, size_t);
static zx_status_t (*vmo_replace_as_executable)(zx_handle_t, zx_handle_t, zx_handle_t *);
static zx_status_t (*handle_close)(zx_handle_t);

/* The message being encoded. */
static uint8_t out[65536];
static uint32_t outn;

static void put(const void *p, size_t n) {
    memcpy(out + outn, p, n);
    outn += (uint32_t)n;
}
static void put_u32(uint32_t v) { put(&v, sizeof v); }
static void put_u64(uint64_t v) { put(&v, sizeof v); }
static void pad8(void) {
    while (outn % 8) out[outn++] = 0;
}
/* The FIDL v1 transactional header: txid, flags[3], magic 1, ordinal. */
static void header(uint32_t txid, uint64_t ordinal) {
    outn = 0;
    put_u32(txid);
    uint8_t flags_magic[4] = {0, 0, 0, 1};
    put(flags_magic, 4);
    put_u64(ordinal);
}

/* AddArgs / AddEnvirons: vector<vector<uint8>>. */
static void send_strings(zx_handle_t launcher, uint64_t ordinal, const char *const *v, uint32_t n) {
    header(0, ordinal);
    put_u64(n);
    put_u64(PRESENT64);
    for (uint32_t i = 0; i < n; i++) {
        put_u64(len(v[i]));
        put_u64(PRESENT64);
    }
    for (uint32_t i = 0; i < n; i++) {
        put(v[i], len(v[i]));
        pad8();
    }
    EXPECT(channel_write(launcher, 0, out, outn, NULL, 0), ZX_OK);
}

/* AddHandles: vector<HandleInfo>. */
static void send_handles(zx_handle_t launcher, const zx_handle_t *hs, const uint32_t *ids, uint32_t n) {
    header(0, ORD_ADD_HANDLES);
    put_u64(n);
    put_u64(PRESENT64);
    for (uint32_t i = 0; i < n; i++) {
        put_u32(PRESENT32);
        put_u32(ids[i]);
    }
    EXPECT(channel_write(launcher, 0, out, outn, hs, n), ZX_OK);
}

/* Launch / CreateWithoutStarting (LaunchInfo{executable, job, name}) with channel_call: the reply's status, its
 * handle (0 without) and its size. */
static zx_status_t call_launch(zx_handle_t launcher, uint64_t ordinal, zx_handle_t exe, zx_handle_t job,
                               const char *name, zx_handle_t *process, uint32_t *reply_size) {
    static uint32_t txid = 1;
    header(txid++, ordinal);
    put_u32(PRESENT32);
    put_u32(PRESENT32);
    put_u64(len(name));
    put_u64(PRESENT64);
    put(name, len(name));
    pad8();
    zx_handle_t hs[2] = {exe, job};
    uint8_t reply[64];
    zx_handle_t rh[2] = {0, 0};
    channel_call_args_t args = {out, hs, reply, rh, outn, 2, sizeof reply, 2};
    uint32_t nb = 0, nh = 0;
    EXPECT(channel_call(launcher, 0, ZX_TIME_INFINITE, &args, &nb, &nh), ZX_OK);
    EXPECT(nb >= 24, 1);
    EXPECT(reply[7], 1); /* magic */
    uint64_t ord;
    memcpy(&ord, reply + 8, sizeof ord);
    EXPECT(ord == ordinal, 1);
    int32_t status;
    uint32_t presence;
    memcpy(&status, reply + 16, sizeof status);
    memcpy(&presence, reply + 20, sizeof presence);
    EXPECT(nh, presence == PRESENT32 ? 1 : 0);
    *process = nh ? rh[0] : 0;
    *reply_size = nb;
    return status;
}

static zx_handle_t dup(zx_handle_t h) {
    zx_handle_t d = 0;
    EXPECT(handle_duplicate(h, ZX_RIGHT_SAME_RIGHTS, &d), ZX_OK);
    return d;
}

static _Noreturn void client_main(zx_handle_t bootstrap, const uint8_t *base) {
    handle_duplicate = need(base, "_zx_handle_duplicate");
    handle_close = need(base, "_zx_handle_close");
    channel_create = need(base, "_zx_channel_create");
    channel_call = need(base, "_zx_channel_call");
    object_wait_one = need(base, "_zx_object_wait_one");
    vmo_create = need(base, "_zx_vmo_create");
    vmo_write = need(base, "_zx_vmo_write");
    vmo_replace_as_executable = need(base, "_zx_vmo_replace_as_executable");
    const proc_args_t *pa = read_processargs(bootstrap);
    zx_handle_t launcher = take(PA_USER0), ctrl = take(PA_USER1), job = take(PA_JOB_DEFAULT);
    zx_handle_t stdout_socket = take(PA_HND(PA_FD, 1));
    EXPECT(launcher != 0 && ctrl != 0 && job != 0 && stdout_socket != 0, 1);
    const char *argv[8];
    uint32_t argc = 0;
    const char *p = (const char *)(pa_msg + pa->args_off);
    for (uint32_t i = 0; i < pa->args_num && argc < 8; i++) {
        argv[argc++] = p;
        p += len(p) + 1;
    }

    /* The executable's bytes, from the control channel. */
    static uint8_t elf[65536];
    uint32_t nb = 0, nh = 0;
    EXPECT(channel_read(ctrl, 0, elf, NULL, sizeof elf, 0, &nb, &nh), ZX_OK);
    zx_handle_t vmo = 0, exe = 0;
    EXPECT(vmo_create(nb, 0, &vmo), ZX_OK);
    EXPECT(vmo_write(vmo, elf, 0, nb), ZX_OK);
    EXPECT(vmo_replace_as_executable(vmo, 0, &exe), ZX_OK);
    say_num("executable bytes=", nb);

    /* 1. A Launch that fails resets the state: the handle it held is closed. */
    zx_handle_t mine = 0, theirs = 0, junk = 0, process = 0, jx = 0;
    uint32_t size = 0;
    EXPECT(channel_create(0, &mine, &theirs), ZX_OK);
    const char *x[] = {"x"};
    send_strings(launcher, ORD_ADD_ARGS, x, 1);
    uint32_t user0 = PA_USER0;
    send_handles(launcher, &theirs, &user0, 1);
    EXPECT(vmo_create(4096, 0, &junk), ZX_OK);
    EXPECT(vmo_write(junk, "no ELF file", 0, 11), ZX_OK);
    EXPECT(vmo_replace_as_executable(junk, 0, &jx), ZX_OK);
    zx_status_t st = call_launch(launcher, ORD_LAUNCH, jx, dup(job), "junk", &process, &size);
    EXPECT(st != ZX_OK, 1);
    EXPECT(process, 0);
    EXPECT(size, 24);
    say_num("junk launch status=", st);
    zx_signals_t seen = 0;
    EXPECT(object_wait_one(mine, ZX_CHANNEL_PEER_CLOSED, deadline_after(10000000000ll), &seen), ZX_OK);
    say("reset closed the held handle\n");
    EXPECT(handle_close(mine), ZX_OK);

    /* 2. CreateWithoutStarting: not supported, data absent. */
    st = call_launch(launcher, ORD_CREATE_WITHOUT_STARTING, dup(exe), dup(job), "cws", &process, &size);
    EXPECT(st, ZX_ERR_NOT_SUPPORTED);
    EXPECT(process, 0);
    EXPECT(size, 32);
    say("create without starting: not supported\n");

    /* 3. What fdio_spawn sends: argv, environ, stdio and the job, then Launch. */
    const char *child_argv[8] = {"lc-child"};
    uint32_t child_argc = 1;
    for (uint32_t i = 2; i < argc && child_argc < 8; i++) child_argv[child_argc++] = argv[i];
    send_strings(launcher, ORD_ADD_ARGS, child_argv, child_argc);
    const char *env[] = {"LC_GREETING=hello from the launcher"};
    send_strings(launcher, ORD_ADD_ENVIRONS, env, 1);
    zx_handle_t hs[2] = {dup(stdout_socket), dup(job)};
    uint32_t ids[2] = {PA_HND(PA_FD, 1), PA_JOB_DEFAULT};
    send_handles(launcher, hs, ids, 2);
    st = call_launch(launcher, ORD_LAUNCH, dup(exe), dup(job), "lc-child", &process, &size);
    say_num("launch status=", st);
    zx_handle_t child = process ? dup(process) : 0;
    EXPECT(channel_write(ctrl, 0, &st, sizeof st, process ? &process : NULL, process ? 1 : 0), ZX_OK);

    /* 4. Nothing added since: the child gets no arguments and no stdio. */
    st = call_launch(launcher, ORD_LAUNCH, dup(exe), dup(job), "lc-child2", &process, &size);
    say_num("second launch status=", st);
    EXPECT(channel_write(ctrl, 0, &st, sizeof st, process ? &process : NULL, process ? 1 : 0), ZX_OK);
    /* The child writes to this program's stdout socket, which is pumped to the host only while this program runs
     * (a spawner outlives what it spawned, as fdio_spawn's callers wait for it): wait for it to end. */
    if (child != 0) EXPECT(object_wait_one(child, ZX_TASK_TERMINATED, ZX_TIME_INFINITE, &seen), ZX_OK);
    say("client done\n");
    zx_process_exit(0);
}
#endif

#if defined(LC_CHILD)
static zx_status_t (*socket_write)(zx_handle_t, uint32_t, const void *, size_t, size_t *);
static zx_status_t (*nanosleep_fn)(zx_time_t);

static _Noreturn void child_main(zx_handle_t bootstrap, const uint8_t *base) {
    socket_write = need(base, "_zx_socket_write");
    nanosleep_fn = need(base, "_zx_nanosleep");
    deadline_after = need(base, "_zx_deadline_after");
    const proc_args_t *pa = read_processargs(bootstrap);
    zx_handle_t out = take(PA_HND(PA_FD, 1));
    static char line[4096];
    size_t n = 0;
    char num[32];
    size_t k = fmt_num(num, "child argc=", pa->args_num) - 1; /* without its newline */
    for (size_t i = 0; i < k; i++) line[n++] = num[i];
    const char *s = (const char *)(pa_msg + pa->args_off);
    const char *arg1 = NULL;
    const char *tag = " argv=";
    for (uint32_t i = 0; i < pa->args_num; i++) {
        if (i == 1) arg1 = s;
        for (const char *t = i ? "," : tag; *t;) line[n++] = *t++;
        while (*s && n < sizeof line - 64) line[n++] = *s++;
        s++;
    }
    s = (const char *)(pa_msg + pa->environ_off);
    for (uint32_t i = 0; i < pa->environ_num; i++) {
        for (const char *t = i ? "," : " env="; *t;) line[n++] = *t++;
        while (*s && n < sizeof line - 64) line[n++] = *s++;
        s++;
    }
    /* One default job: the one the spawner gave (AddHandles), no other added. */
    const uint32_t *infos = (const uint32_t *)(pa_msg + pa->handle_info_off);
    uint32_t jobs = 0;
    for (uint32_t i = 0; i < pa_nh; i++) jobs += infos[i] == PA_JOB_DEFAULT;
    k = fmt_num(num, " jobs=", jobs) - 1;
    for (size_t i = 0; i < k; i++) line[n++] = num[i];
    line[n++] = '\n';
    size_t actual = 0;
    if (out != 0 && socket_write(out, 0, line, n, &actual) != ZX_OK) zx_process_exit(5);
    if (arg1 == NULL) zx_process_exit(3);
    if (streq(arg1, "forever")) {
        if (out != 0) socket_write(out, 0, "alive\n", 6, &actual);
        for (;;) nanosleep_fn(deadline_after(1000000000ll));
    }
    int64_t code = 0;
    for (const char *d = arg1; *d >= '0' && *d <= '9'; d++) code = code * 10 + (*d - '0');
    zx_process_exit(code);
}
#endif

void _start(zx_handle_t bootstrap, void *vdso) {
    const uint8_t *base = vdso;
    zx_process_exit = (exit_fn *)vdso_sym(base, "_zx_process_exit");
    zx_debug_write = (zx_status_t (*)(const char *, size_t))vdso_sym(base, "_zx_debug_write");
    if (zx_process_exit == NULL || zx_debug_write == NULL) die();
    channel_read = need(base, "_zx_channel_read");
    channel_write = need(base, "_zx_channel_write");
    deadline_after = need(base, "_zx_deadline_after");
#if defined(LC_CLIENT)
    client_main(bootstrap, base);
#elif defined(LC_CHILD)
    child_main(bootstrap, base);
#else
#error "build with -DLC_CLIENT or -DLC_CHILD"
#endif
}
