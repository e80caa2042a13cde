/* The kernel lock, per-thread kernel state, koids, object references and the list helpers. */
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "kernel.h"

__thread hk_cpu_t hk_cpu __attribute__((tls_model("initial-exec")));

static pthread_mutex_t g_kernel_lock = PTHREAD_MUTEX_INITIALIZER;
static zx_koid_t g_next_koid = 1024; /* ZX_KOID_FIRST: koids below it are reserved; koids are never reused */

void hk_lock(void) {
    /* Mark first: a park request landing while we take (or hold) the lock must wait for hk_unlock. */
    hk_cpu.in_kernel++;
    atomic_signal_fence(memory_order_seq_cst);
    pthread_mutex_lock(&g_kernel_lock);
}

void hk_futex_wake_all(_Atomic uint32_t *word) {
    syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

void hk_wake_after_unlock(_Atomic uint32_t *word) {
    if (hk_cpu.in_kernel > 0 && hk_cpu.wake_count < (int)(sizeof(hk_cpu.wake_words) / sizeof(hk_cpu.wake_words[0])))
        hk_cpu.wake_words[hk_cpu.wake_count++] = word;
    else
        hk_futex_wake_all(word);
}

void hk_unlock(void) {
    pthread_mutex_unlock(&g_kernel_lock);
    atomic_signal_fence(memory_order_seq_cst);
    /* The deferred wake-ups, still counted as in the kernel: a park request arriving now waits until they are out. */
    for (int i = 0; i < hk_cpu.wake_count; i++) hk_futex_wake_all(hk_cpu.wake_words[i]);
    hk_cpu.wake_count = 0;
    if (hk_cpu.after_unlock != NULL) {
        void (*fn)(void) = hk_cpu.after_unlock;
        hk_cpu.after_unlock = NULL;
        fn();
    }
    if (--hk_cpu.in_kernel == 0 && hk_cpu.park_pending) {
        /* Like Zircon, a suspended thread stops on its way back to "user mode". */
        hk_park_self();
    }
}

int hk_thread_spawn_quiet(pthread_t *out, const pthread_attr_t *attr, void *(*fn)(void *), void *arg) {
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int err = pthread_create(out, attr, fn, arg);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return err;
}

void hk_park_self(void) {
    hk_thread_t *t = hk_cpu.thread;
    if (t != NULL && t->ops->park_self != NULL) t->ops->park_self();
    else hk_cpu.park_pending = 0; /* no backend parks this thread (any more): nothing to do */
}

/* A child forked by any thread (Python's os.fork, or the spawn monitor) must not inherit a held lock. */
static void atfork_prepare(void) { pthread_mutex_lock(&g_kernel_lock); }
static void atfork_parent(void) { pthread_mutex_unlock(&g_kernel_lock); }
static void atfork_child(void) { pthread_mutex_unlock(&g_kernel_lock); }

__attribute__((constructor)) static void object_init(void) {
    pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

void hk_object_init(hk_object_t *obj, zx_obj_type_t type, const hk_object_ops_t *ops) {
    obj->type = type;
    obj->koid = g_next_koid++;
    obj->refs = 1;
    obj->handles = 0;
    obj->signals = 0;
    obj->waiters = NULL;
    obj->ops = ops;
}

void hk_object_ref(hk_object_t *obj) { obj->refs++; }

void hk_object_unref(hk_object_t *obj) {
    if (--obj->refs == 0) {
        obj->ops->destroy(obj);
    }
}

void hk_list_init(hk_link_t *head) { head->prev = head->next = head; }

void hk_list_add_tail(hk_link_t *head, hk_link_t *node) {
    node->prev = head->prev;
    node->next = head;
    head->prev->next = node;
    head->prev = node;
}

void hk_list_remove(hk_link_t *node) {
    node->prev->next = node->next;
    node->next->prev = node->prev;
    node->prev = node->next = node;
}

bool hk_list_empty(const hk_link_t *head) { return head->next == head; }

zx_status_t hk_copy_name(char out[ZX_MAX_NAME_LEN], const char *name, size_t name_size) {
    /* copy_user_string (zircon/kernel/lib/syscalls/task.cc): a NULL name is INVALID_ARGS even with size 0. */
    if (name == NULL) return ZX_ERR_INVALID_ARGS;
    size_t n = name_size < ZX_MAX_NAME_LEN - 1 ? name_size : ZX_MAX_NAME_LEN - 1;
    if (n) memcpy(out, name, n);
    out[n] = '\0';
    return ZX_OK;
}

/* ------------------------------------------------------------------------------------------------ exceptionates */

void hk_exceptionate_shutdown(hk_exceptionate_t *e) {
    e->shutdown = true;
    hk_object_t *ch = e->channel;
    if (ch == NULL) return;
    e->channel = NULL;
    hk_handle_drop(ch); /* the kernel's end loses its share: the user's end sees PEER_CLOSED */
}
