/* fuchsia.io served from host directories, for the namespace of Fuchsia programs (host/fuchsia/fileserver.c; see
 * docs/fuchsia-elf.md, "The namespace and fuchsia.io").
 *
 * A Fuchsia program finds its namespace in its processargs message: a names table ("/pkg", "/tmp", "/svc") and, for
 * names[i], a directory channel tagged PA_HND(PA_NS_DIR, i) (<zircon/processargs.h>).  libfdio speaks fuchsia.io
 * (the January 2021 SDK's fidl/fuchsia_io/io.fidl, FIDL wire format v1) over those channels for open, stat, unlink,
 * readdir, and fdio_spawn's executable.  Here a host directory is served that way: each connection (the root
 * directory, and every node opened or cloned from it) is a host-kernel channel whose server end, in the host
 * program's table, one host thread serves until the client end closes (the program's table closes when it dies) or
 * the connection is closed; a connection holds a reference to its served directory, which is freed with the last.
 *
 * A service directory (/svc) is served the same way: Directory.Open of a name hands the request channel to the
 * connector registered for it.
 *
 * Private to host/fuchsia/ (x86-64 Linux only).
 */
#ifndef ZXPY_HOST_FUCHSIA_FILESERVER_H_
#define ZXPY_HOST_FUCHSIA_FILESERVER_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zircon/types.h>

#pragma GCC visibility push(hidden)

/* <zircon/processargs.h>: a namespace directory, PA_HND(PA_NS_DIR, index into the names table). */
#define HK_PA_NS_DIR 0x20u

/* fuchsia.io's ordinals as the 2021 SDK's libfdio.so sends them: the first 8 bytes (little-endian) of SHA-256 of
 * "fuchsia.io1/<declaring protocol>.<method>" with the top bit cleared; fidlc of that time hashed the library
 * fuchsia.io under the name fuchsia.io1 (tools/fidl/fidlc/lib/ordinals.cc, GetGeneratedOrdinal64).
 * tests/test_fuchsia_fileserver.py recomputes them from the names. */
#define HK_FIO_NODE_CLONE 0x5a61678f293ce16full
#define HK_FIO_NODE_CLOSE 0x5309c5bd1c33dc44ull
#define HK_FIO_NODE_DESCRIBE 0x0ffcec215078dea0ull
#define HK_FIO_NODE_ON_OPEN 0x7fc7bbb1dbfd1972ull
#define HK_FIO_NODE_SYNC 0x189d88326c18b519ull
#define HK_FIO_NODE_GET_ATTR 0x78985e216314dafdull
#define HK_FIO_NODE_SET_ATTR 0x4186c0f40d938f46ull
#define HK_FIO_FILE_READ 0x29b2b7074c95208cull
#define HK_FIO_FILE_READ_AT 0x6527ee3fbc9c5749ull
#define HK_FIO_FILE_WRITE 0x3b6432f57914225bull
#define HK_FIO_FILE_WRITE_AT 0x4b29e1582ab379e4ull
#define HK_FIO_FILE_SEEK 0x324968e9b8a0e394ull
#define HK_FIO_FILE_TRUNCATE 0x5ec8f337359a2ddbull
#define HK_FIO_FILE_GET_FLAGS 0x200be82ca523ab96ull
#define HK_FIO_FILE_SET_FLAGS 0x713f375258671141ull
#define HK_FIO_FILE_GET_BUFFER 0x4b93b8486666d951ull
#define HK_FIO_DIR_OPEN 0x2c5044561d685ec0ull
#define HK_FIO_DIR_UNLINK 0x5a0ff90760a8bc23ull
#define HK_FIO_DIR_READ_DIRENTS 0x3582806bf27faa0aull
#define HK_FIO_DIR_REWIND 0x16b1202af0f34c71ull
#define HK_FIO_DIR_GET_TOKEN 0x26ae9d18763c8655ull
#define HK_FIO_DIR_RENAME 0x0a8e00a247f3c905ull
#define HK_FIO_DIR_LINK 0x740604c0c7c930e7ull
#define HK_FIO_DIR_WATCH 0x5717193a59d66d91ull
#define HK_FIO_DIR_ADMIN_QUERY_FILESYSTEM 0x4a879480f1d7875dull

/* Without the lock.  A new connection to the host directory `root` served as a fuchsia.io Directory: its client end
 * in *client (a handle of the calling thread's table with the default channel rights, for a processargs message as
 * PA_HND(PA_NS_DIR, i)).  The connection has OPEN_RIGHT_READABLE and OPEN_RIGHT_EXECUTABLE, and OPEN_RIGHT_WRITABLE
 * unless read_only.  root must be an existing directory (NOT_FOUND / NOT_DIR / ACCESS_DENIED otherwise: as
 * errno says); NO_MEMORY / NO_RESOURCES when no thread can serve it. */
zx_status_t hk_fx_fs_connect(const char *root, bool read_only, zx_handle_t *client);

/* A service connector: gets the server end of a channel a program asked, through the service directory, to be
 * connected to the protocol `name` (the request channel is the connector's: it serves or closes it).  It runs on the
 * service directory's serving thread; ctx as registered (it must outlive every connection to the directory). */
typedef void (*hk_fx_svc_connect_t)(void *ctx, const char *name, zx_handle_t server_end);
typedef struct hk_fx_svc_entry {
    const char *name; /* a protocol name, e.g. "fuchsia.process.Launcher": no '/', not "." or ".." */
    hk_fx_svc_connect_t connect;
    void *ctx;
} hk_fx_svc_entry_t;

/* Without the lock.  A new connection to a service directory listing entries[0..n) (copied; n may be 0): its client
 * end in *client (as hk_fx_fs_connect's, for PA_HND(PA_NS_DIR, i) with the name "/svc").  Directory.Open(path = a
 * name) calls that entry's connector with the request channel (after an OnOpen(ZX_OK, service) when
 * OPEN_FLAG_DESCRIBE asked for one); an unknown name closes the request channel (after OnOpen(ZX_ERR_NOT_FOUND)
 * when asked for); "." opens the directory again.  The directory also answers Clone, Close, Describe, GetAttr,
 * ReadDirents (the names, DIRENT_TYPE_SERVICE) and Rewind.  INVALID_ARGS for a bad entry. */
zx_status_t hk_fx_svc_dir_connect(const hk_fx_svc_entry_t *entries, size_t n, zx_handle_t *client);

/* Connections served now (fuchsia.io and service directories together), for tests: every one ends when its client
 * end is closed. */
size_t hk_fx_fs_live_connections(void);

#pragma GCC visibility pop

#endif /* ZXPY_HOST_FUCHSIA_FILESERVER_H_ */
