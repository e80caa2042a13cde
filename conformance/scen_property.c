/* Object names: zx_object_get_property / zx_object_set_property with ZX_PROP_NAME, as sys_object_get_property
 * and sys_object_set_property check them (zircon/kernel/lib/syscalls/object.cc): a NULL value is INVALID_ARGS
 * before the handle lookup; the lookup needs GET_PROPERTY / SET_PROPERTY (BAD_HANDLE, then ACCESS_DENIED, before
 * the buffer size); an unknown property is NOT_SUPPORTED; a name buffer under ZX_MAX_NAME_LEN is BUFFER_TOO_SMALL;
 * a name is cut to ZX_MAX_NAME_LEN - 1 bytes and read back as ZX_MAX_NAME_LEN NUL-padded bytes. */
#include <string.h>

#include "harness.h"
#include "scenarios.h"

#define T_BAD_VALUE ((zx_handle_t)0xBADC0FFEu)

static void name_is(zx_handle_t h, const char *expected) {
    char name[ZX_MAX_NAME_LEN + 4];
    memset(name, 0x7f, sizeof name);
    T_OK(zx_object_get_property(h, ZX_PROP_NAME, name, sizeof name));
    size_t n = strlen(expected);
    if (memcmp(name, expected, n) != 0) T_FAIL("name: expected \"%s\", got \"%.*s\"", expected, (int)n, name);
    for (size_t i = n; i < ZX_MAX_NAME_LEN; i++) T_EQ(0, name[i]);      /* NUL-padded to the full length */
    for (size_t i = ZX_MAX_NAME_LEN; i < sizeof name; i++) T_EQ(0x7f, name[i]); /* and nothing past it */
}

void r_property_name(void) {
    zx_handle_t job = t_job();
    zx_handle_t proc = t_created_process(job, NULL);
    zx_handle_t thread = t_thread_create("named-thread");

    /* Names given at creation; zx_job_create gives none. */
    name_is(proc, "created");
    name_is(thread, "named-thread");
    name_is(job, "");

    /* Set, read back, cut to ZX_MAX_NAME_LEN - 1, empty with size 0. */
    const zx_handle_t named[] = {job, proc, thread};
    char longname[64];
    memset(longname, 'n', sizeof longname);
    char cut[ZX_MAX_NAME_LEN];
    memset(cut, 'n', ZX_MAX_NAME_LEN - 1);
    cut[ZX_MAX_NAME_LEN - 1] = '\0';
    for (size_t i = 0; i < sizeof named / sizeof named[0]; i++) {
        T_OK(zx_object_set_property(named[i], ZX_PROP_NAME, "renamed", 7));
        name_is(named[i], "renamed");
        T_OK(zx_object_set_property(named[i], ZX_PROP_NAME, longname, sizeof longname));
        name_is(named[i], cut);
        T_OK(zx_object_set_property(named[i], ZX_PROP_NAME, "ignored", 0));
        name_is(named[i], "");
    }
    /* A name is the object's: another handle sees it. */
    zx_handle_t dup = t_dup(proc, ZX_RIGHT_SAME_RIGHTS);
    T_OK(zx_object_set_property(proc, ZX_PROP_NAME, "shared", 6));
    name_is(dup, "shared");

    /* NULL value first, even for a bad handle. */
    char buf[ZX_MAX_NAME_LEN];
    T_STATUS(ZX_ERR_INVALID_ARGS, zx_object_get_property(T_BAD_VALUE, ZX_PROP_NAME, NULL, sizeof buf));
    T_STATUS(ZX_ERR_INVALID_ARGS, zx_object_set_property(T_BAD_VALUE, ZX_PROP_NAME, NULL, 0));
    T_STATUS(ZX_ERR_BAD_HANDLE, zx_object_get_property(T_BAD_VALUE, ZX_PROP_NAME, buf, sizeof buf));
    T_STATUS(ZX_ERR_BAD_HANDLE, zx_object_set_property(T_BAD_VALUE, ZX_PROP_NAME, "x", 1));
    T_STATUS(ZX_ERR_BAD_HANDLE, zx_object_get_property(ZX_HANDLE_INVALID, ZX_PROP_NAME, buf, sizeof buf));

    /* Rights, before the buffer size and the type. */
    zx_handle_t no_get = t_dup(proc, ZX_RIGHTS_BASIC | ZX_RIGHT_SET_PROPERTY);
    zx_handle_t no_set = t_dup(proc, ZX_RIGHTS_BASIC | ZX_RIGHT_GET_PROPERTY);
    T_STATUS(ZX_ERR_ACCESS_DENIED, zx_object_get_property(no_get, ZX_PROP_NAME, buf, 1));
    T_STATUS(ZX_ERR_ACCESS_DENIED, zx_object_get_property(no_get, ZX_PROP_NAME, buf, sizeof buf));
    T_OK(zx_object_set_property(no_get, ZX_PROP_NAME, "via-set", 7));
    T_STATUS(ZX_ERR_ACCESS_DENIED, zx_object_set_property(no_set, ZX_PROP_NAME, "no", 2));
    name_is(no_set, "via-set");
    zx_handle_t ev = t_event(); /* events have no property rights */
    T_STATUS(ZX_ERR_ACCESS_DENIED, zx_object_get_property(ev, ZX_PROP_NAME, buf, sizeof buf));
    T_STATUS(ZX_ERR_ACCESS_DENIED, zx_object_set_property(ev, ZX_PROP_NAME, "e", 1));

    /* The buffer must hold ZX_MAX_NAME_LEN bytes; an unknown property is NOT_SUPPORTED. */
    T_STATUS(ZX_ERR_BUFFER_TOO_SMALL, zx_object_get_property(proc, ZX_PROP_NAME, buf, sizeof buf - 1));
    T_STATUS(ZX_ERR_NOT_SUPPORTED, zx_object_get_property(proc, 0xFFFFu, buf, sizeof buf));
    T_STATUS(ZX_ERR_NOT_SUPPORTED, zx_object_set_property(proc, 0xFFFFu, "x", 1));

    /* A dead process keeps its name. */
    T_OK(zx_task_kill(proc));
    t_wait(proc, ZX_TASK_TERMINATED);
    name_is(proc, "via-set");
}
